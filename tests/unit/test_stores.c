/* Unit tests for common/stores: the SHIPPING_UPDATES list, the per-store
 * settings file and its error messages. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stores.h"
#include "test_util.h"

#define DAY 86400000LL

/* What the worker was configured with: a review after a week, a referral
 * after two, updates on shipping only. */
static const ac_store_settings_t defaults = {7 * DAY, 14 * DAY, 1, 0, 0, 1, 1,
                                             NULL,    NULL,     0, 0, 0, 0, NULL};

static void assert_settings_equal(const ac_store_settings_t *a, const ac_store_settings_t *b)
{
    assert_int_equal(a->review_delay_ms, b->review_delay_ms);
    assert_int_equal(a->referral_delay_ms, b->referral_delay_ms);
    assert_int_equal(a->shipped_updates, b->shipped_updates);
    assert_int_equal(a->out_for_delivery_updates, b->out_for_delivery_updates);
    assert_int_equal(a->review_requests, b->review_requests);
    assert_int_equal(a->referral_invites, b->referral_invites);
}

static ac_stores_t *new_ok(const char *json)
{
    char err[256] = "";
    ac_stores_t *t = ac_stores_new(&defaults, json, json ? strlen(json) : 0, err, sizeof(err));
    if (!t)
        fail_msg("expected the settings to load, got: %s", err);
    return t;
}

/* Loads json expecting a failure; returns the (static) one-line reason. */
static const char *new_fails(const char *json)
{
    static char err[256];
    memset(err, 0, sizeof(err));
    ac_stores_t *t = ac_stores_new(&defaults, json, strlen(json), err, sizeof(err));
    if (t) {
        ac_stores_destroy(t);
        fail_msg("expected %s to be refused", json);
    }
    assert_true(strlen(err) > 0);
    assert_null(strchr(err, '\n'));
    return err;
}

static void test_parse_updates(void **state)
{
    (void)state;
    static const struct {
        const char *list;
        int shipped, ofd;
    } cases[] = {
        {"shipped", 1, 0},
        {"out_for_delivery", 0, 1},
        {"shipped,out_for_delivery", 1, 1},
        {"out_for_delivery,shipped", 1, 1},
        /* Spaces around the names, as people type lists, are fine. */
        {" out_for_delivery , shipped ", 1, 1},
        {"shipped,shipped", 1, 0},
        {"none", 0, 0},
        {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        /* Start from everything on, so that "off" is really set. */
        ac_store_settings_t s = {1, 2, 1, 1, 0, 1, 1, NULL, NULL, 0, 0, 0, 0, NULL};
        char why[128] = "";
        if (ac_stores_parse_updates(cases[i].list, &s, why, sizeof(why)) != 0)
            fail_msg("\"%s\" refused: %s", cases[i].list, why);
        if (s.shipped_updates != cases[i].shipped || s.out_for_delivery_updates != cases[i].ofd)
            fail_msg("\"%s\": shipped %d, out_for_delivery %d", cases[i].list, s.shipped_updates,
                     s.out_for_delivery_updates);
        /* The other settings are not this list's business. */
        assert_int_equal(s.review_delay_ms, 1);
        assert_int_equal(s.referral_delay_ms, 2);
        assert_int_equal(s.review_requests, 1);
        assert_int_equal(s.referral_invites, 1);
    }
}

static void test_parse_updates_errors_name_the_word(void **state)
{
    (void)state;
    static const struct {
        const char *list, *word;
    } cases[] = {
        {"delivered", "\"delivered\""}, {"shipped,delivered", "\"delivered\""},
        {"shiped", "\"shiped\""},       {"shipped, out-for-delivery ", "\"out-for-delivery\""},
        {"Shipped", "\"Shipped\""},     {"shipped,none", "\"none\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ac_store_settings_t s = defaults;
        char why[128] = "";
        if (ac_stores_parse_updates(cases[i].list, &s, why, sizeof(why)) != -1)
            fail_msg("\"%s\" accepted", cases[i].list);
        assert_contains(why, cases[i].word);
        /* And says what would have been right. */
        assert_contains(why, "shipped or out_for_delivery");
    }
}

static void test_defaults_only(void **state)
{
    (void)state;
    ac_stores_t *t = new_ok(NULL);
    assert_int_equal(ac_stores_count(t), 0);
    assert_settings_equal(ac_stores_get(t, "st_anything"), &defaults);
    assert_settings_equal(ac_stores_get(t, NULL), &defaults);
    assert_int_equal(ac_stores_longest_delay(t), 14 * DAY);
    ac_stores_destroy(t);
    /* An empty table is the same. */
    t = new_ok("{\"stores\": {}}");
    assert_int_equal(ac_stores_count(t), 0);
    assert_settings_equal(ac_stores_get(t, "st_anything"), &defaults);
    ac_stores_destroy(t);
    assert_int_equal(ac_stores_count(NULL), 0);
    ac_stores_destroy(NULL);
}

static void test_overrides_per_store(void **state)
{
    (void)state;
    ac_stores_t *t =
        new_ok("{\"stores\": {"
               " \"st_alpenglow\": {\"shipping_updates\": [\"shipped\", \"out_for_delivery\"],"
               "                   \"review_request_delay\": \"10d\", \"referral_delay\": \"21d\","
               "                   \"review_requests\": true, \"referral_invites\": false},"
               " \"st_berlin\": {\"review_requests\": false},"
               " \"st_quiet\": {\"shipping_updates\": []},"
               " \"st_fast\": {\"review_request_delay\": \"36h\"}"
               "}}");
    assert_int_equal(ac_stores_count(t), 4);
    ac_store_settings_t want = defaults;
    want.shipped_updates = want.out_for_delivery_updates = 1;
    want.review_delay_ms = 10 * DAY;
    want.referral_delay_ms = 21 * DAY;
    want.referral_invites = 0;
    assert_settings_equal(ac_stores_get(t, "st_alpenglow"), &want);
    /* A store that overrides one setting keeps the defaults for the rest. */
    want = defaults;
    want.review_requests = 0;
    assert_settings_equal(ac_stores_get(t, "st_berlin"), &want);
    want = defaults;
    want.shipped_updates = 0;
    assert_settings_equal(ac_stores_get(t, "st_quiet"), &want);
    want = defaults;
    want.review_delay_ms = 36 * 3600000LL;
    assert_settings_equal(ac_stores_get(t, "st_fast"), &want);
    /* Stores not named, and no store, get the defaults. */
    assert_settings_equal(ac_stores_get(t, "st_other"), &defaults);
    assert_settings_equal(ac_stores_get(t, "st_berli"), &defaults);
    assert_settings_equal(ac_stores_get(t, ""), &defaults);
    assert_settings_equal(ac_stores_get(t, NULL), &defaults);
    assert_int_equal(ac_stores_longest_delay(t), 21 * DAY);
    ac_stores_destroy(t);
}

static void test_many_stores(void **state)
{
    (void)state;
    /* Lookups find every store, whatever order the file lists them in. */
    char json[16384];
    size_t len = (size_t)snprintf(json, sizeof(json), "{\"stores\": {");
    for (int i = 0; i < 100; i++) {
        int k = (i * 37) % 100;
        len += (size_t)snprintf(json + len, sizeof(json) - len,
                                "%s\"st_%03d\": {\"review_request_delay\": \"%dh\"}", i ? ", " : "",
                                k, k + 1);
    }
    snprintf(json + len, sizeof(json) - len, "}}");
    ac_stores_t *t = new_ok(json);
    assert_int_equal(ac_stores_count(t), 100);
    for (int k = 0; k < 100; k++) {
        char id[16];
        snprintf(id, sizeof(id), "st_%03d", k);
        assert_int_equal(ac_stores_get(t, id)->review_delay_ms, (k + 1) * 3600000LL);
        assert_int_equal(ac_stores_get(t, id)->referral_delay_ms, 14 * DAY);
    }
    assert_settings_equal(ac_stores_get(t, "st_100"), &defaults);
    ac_stores_destroy(t);
}

static void test_longest_delay(void **state)
{
    (void)state;
    /* The journey must outlive the longest delay of any store, defaults
     * included, even when a store shortens them. */
    ac_stores_t *t = new_ok("{\"stores\": {\"a\": {\"referral_delay\": \"1d\"},"
                            " \"b\": {\"review_request_delay\": \"30d\"}}}");
    assert_int_equal(ac_stores_longest_delay(t), 30 * DAY);
    ac_stores_destroy(t);
    t = new_ok("{\"stores\": {\"a\": {\"referral_delay\": \"1d\", \"review_request_delay\": "
               "\"2d\"}}}");
    assert_int_equal(ac_stores_longest_delay(t), 14 * DAY);
    ac_stores_destroy(t);
}

static void test_errors_invalid_json(void **state)
{
    (void)state;
    const char *err = new_fails("{\"stores\": {\"st_a\": {\"referral_delay\": 1d}}}");
    assert_contains(err, "not valid JSON");
    err = new_fails("{\"stores\": {\"st_a\" {}}}");
    assert_contains(err, "not valid JSON");
}

static void test_errors_end_of_input(void **state)
{
    (void)state;
    /* A file cut short (a failed copy, an editor crash) must say so, not
     * report json-c's internal "continue" state. */
    const char *err = new_fails("{\"stores\": {\"st_a\": {\"referral_delay\": \"1d\"}}");
    assert_contains(err, "not valid JSON");
    assert_not_contains(err, "continue");
    err = new_fails("");
    assert_not_contains(err, "continue");
    /* A lone number is valid JSON, just not the expected object. */
    err = new_fails("42");
    assert_contains(err, "{\"stores\": {\"<store id>\": {...}}}");
}

static void test_errors_trailing_content(void **state)
{
    (void)state;
    /* Whatever follows the object is an error, not silently ignored: two
     * tables pasted into one file would otherwise load only the first. */
    const char *err = new_fails("{\"stores\": {}} trailing");
    assert_contains(err, "not valid JSON");
    err = new_fails("{\"stores\": {}}{\"stores\": {\"st_a\": {\"review_requests\": false}}}");
    assert_contains(err, "not valid JSON");
}

static void test_errors_not_an_object(void **state)
{
    (void)state;
    static const char *cases[] = {
        "[]", "\"stores\"", "{}", "{\"stores\": []}", "{\"stores\": null}", "{\"shops\": {}}",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *err = new_fails(cases[i]);
        /* Shows the shape that was expected. */
        assert_contains(err, "{\"stores\": {\"<store id>\": {...}}}");
    }
    const char *err = new_fails("{\"stores\": {\"st_a\": [\"shipped\"]}}");
    assert_contains(err, "store st_a");
    assert_contains(err, "must be a JSON object");
}

static void test_errors_unknown_setting(void **state)
{
    (void)state;
    /* A misspelt setting is an error, not silently the default. */
    const char *err =
        new_fails("{\"stores\": {\"st_a\": {}, \"st_b\": {\"review_delay\": \"7d\"}}}");
    assert_contains(err, "store st_b");
    assert_contains(err, "unknown setting \"review_delay\"");
}

static void test_errors_bad_duration(void **state)
{
    (void)state;
    static const char *values[] = {"\"7 days\"", "\"7\"", "\"-1d\"", "\"\"",    "\"0s\"",
                                   "7",          "null",  "true",    "[\"7d\"]"};
    static const char *fields[] = {"review_request_delay", "referral_delay"};
    for (size_t f = 0; f < 2; f++) {
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
            char json[256];
            snprintf(json, sizeof(json), "{\"stores\": {\"st_x\": {\"%s\": %s}}}", fields[f],
                     values[i]);
            const char *err = new_fails(json);
            assert_contains(err, "store st_x");
            assert_contains(err, fields[f]);
            assert_contains(err, "must be a duration");
        }
    }
}

static void test_errors_non_boolean_flag(void **state)
{
    (void)state;
    static const char *values[] = {"\"yes\"", "1", "0", "\"true\"", "null"};
    static const char *fields[] = {"review_requests", "referral_invites"};
    for (size_t f = 0; f < 2; f++) {
        for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
            char json[256];
            snprintf(json, sizeof(json), "{\"stores\": {\"st_x\": {\"%s\": %s}}}", fields[f],
                     values[i]);
            const char *err = new_fails(json);
            assert_contains(err, "store st_x");
            assert_contains(err, fields[f]);
            assert_contains(err, "must be true or false");
        }
    }
}

static void test_errors_bad_shipping_update(void **state)
{
    (void)state;
    static const char *values[] = {"[\"delivered\"]", "[\"shipped\", \"delivered\"]",
                                   "[\"shipped\", 1]", "[null]", "[\"shipped,out_for_delivery\"]"};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        char json[256];
        snprintf(json, sizeof(json), "{\"stores\": {\"st_x\": {\"shipping_updates\": %s}}}",
                 values[i]);
        const char *err = new_fails(json);
        assert_contains(err, "store st_x");
        assert_contains(err, "shipping_updates");
    }
    /* A string, however well spelt, is not the list the file format asks
     * for. */
    const char *err = new_fails("{\"stores\": {\"st_x\": {\"shipping_updates\": \"shipped\"}}}");
    assert_contains(err, "store st_x");
    assert_contains(err, "shipping_updates must be a list");
}

/* Writes text into a fresh temporary file; fills path. */
static void write_temp(const char *text, char path[64])
{
    snprintf(path, 64, "/tmp/ac_test_stores_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static void test_load_file(void **state)
{
    (void)state;
    char path[64], err[256] = "";
    write_temp("{\"stores\": {\"st_alpenglow\": {\"referral_delay\": \"21d\","
               " \"shipping_updates\": [\"out_for_delivery\"]}}}\n",
               path);
    ac_stores_t *t = ac_stores_load(&defaults, path, err, sizeof(err));
    unlink(path);
    if (!t)
        fail_msg("load failed: %s", err);
    assert_int_equal(ac_stores_count(t), 1);
    ac_store_settings_t want = defaults;
    want.referral_delay_ms = 21 * DAY;
    want.shipped_updates = 0;
    want.out_for_delivery_updates = 1;
    assert_settings_equal(ac_stores_get(t, "st_alpenglow"), &want);
    assert_settings_equal(ac_stores_get(t, "st_other"), &defaults);
    ac_stores_destroy(t);
}

static void test_load_errors_name_the_file(void **state)
{
    (void)state;
    char path[64], err[256] = "";
    assert_null(ac_stores_load(&defaults, "/nonexistent/ac_stores.json", err, sizeof(err)));
    assert_contains(err, "/nonexistent/ac_stores.json");
    assert_null(strchr(err, '\n'));
    /* A bad setting names the file, the store and the field. */
    write_temp("{\"stores\": {\"st_a\": {\"referral_invites\": \"no\"}}}", path);
    err[0] = '\0';
    ac_stores_t *t = ac_stores_load(&defaults, path, err, sizeof(err));
    assert_null(t);
    assert_contains(err, path);
    assert_contains(err, "store st_a");
    assert_contains(err, "referral_invites");
    assert_null(strchr(err, '\n'));
    unlink(path);
    /* An empty file is not a settings table. */
    write_temp("", path);
    err[0] = '\0';
    t = ac_stores_load(&defaults, path, err, sizeof(err));
    unlink(path);
    assert_null(t);
    assert_contains(err, path);
}

/* notify-worker's link templates and referral codes, per store. */
static void test_links(void **state)
{
    (void)state;
    char err[256];
    static const char ok[] =
        "{\"stores\": {\"st_a\": {\"review_url\": \"https://a.example/review/{{order_id}}\","
        "\"referral_url\": \"https://a.example/r/{{referral_code}}\", \"referral_codes\": true}}}";
    ac_stores_t *t = ac_stores_new(&defaults, ok, strlen(ok), err, sizeof(err));
    if (!t)
        fail_msg("%s", err);
    const ac_store_settings_t *a = ac_stores_get(t, "st_a");
    assert_string_equal(a->review_url, "https://a.example/review/{{order_id}}");
    assert_string_equal(a->referral_url, "https://a.example/r/{{referral_code}}");
    assert_int_equal(a->referral_codes, 1);
    const ac_store_settings_t *b = ac_stores_get(t, "st_b");
    assert_null(b->review_url);
    assert_int_equal(b->referral_codes, 0);
    ac_stores_destroy(t);
    static const char *bad[] = {
        "{\"stores\": {\"st_a\": {\"review_url\": \"ftp://a.example/\"}}}",
        "{\"stores\": {\"st_a\": {\"review_url\": \"https://a.example/{{#x}}\"}}}",
        "{\"stores\": {\"st_a\": {\"referral_url\": \"https://a example/\"}}}",
        "{\"stores\": {\"st_a\": {\"review_url\": \"https://a.example/\", \"referral_url\": 5}}}",
        "{\"stores\": {\"st_a\": {\"referral_codes\": \"yes\"}}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_null(ac_stores_new(&defaults, bad[i], strlen(bad[i]), err, sizeof(err)));
        assert_non_null(strstr(err, "store st_a"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_links),
        cmocka_unit_test(test_parse_updates),
        cmocka_unit_test(test_parse_updates_errors_name_the_word),
        cmocka_unit_test(test_defaults_only),
        cmocka_unit_test(test_overrides_per_store),
        cmocka_unit_test(test_many_stores),
        cmocka_unit_test(test_longest_delay),
        cmocka_unit_test(test_errors_invalid_json),
        cmocka_unit_test(test_errors_end_of_input),
        cmocka_unit_test(test_errors_trailing_content),
        cmocka_unit_test(test_errors_not_an_object),
        cmocka_unit_test(test_errors_unknown_setting),
        cmocka_unit_test(test_errors_bad_duration),
        cmocka_unit_test(test_errors_non_boolean_flag),
        cmocka_unit_test(test_errors_bad_shipping_update),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_load_errors_name_the_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
