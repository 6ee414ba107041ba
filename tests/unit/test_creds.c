/* The ingest gateway's per-store platform credentials (common/creds.c):
 * secrets given inline, as a list, one per line, from the
 * environment (_env) or a file (_file); what each platform requires; the
 * lookups; and errors that name the field but never show a secret. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "creds.h"
#include "test_util.h"

#define WHSEC  "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define WHSEC2 "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ="

static char err[512];

static ac_creds_t *parse(const char *json)
{
    err[0] = '\0';
    ac_creds_t *c = ac_creds_new(json, strlen(json), err, sizeof(err));
    if (c)
        assert_string_equal(err, "");
    return c;
}

/* Parsing must fail; err then holds why. */
static void refused(const char *json)
{
    ac_creds_t *c = parse(json);
    if (c) {
        ac_creds_destroy(c);
        fail_msg("accepted: %s", json);
    }
    assert_true(err[0] != '\0');
}

/* Writes text to a new temporary file; its path in path (to unlink). */
static void temp_file(const char *text, char *path, size_t pathsz)
{
    snprintf(path, pathsz, "%s/ac-creds-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

static void assert_secrets(const ac_secrets_t *s, const char *const *want, size_t n)
{
    assert_int_equal(s->n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(s->v[i], want[i]);
}

/* ------------------------------------------------------------- the store */

static void full_example(void **state)
{
    (void)state;
    ac_creds_t *c = parse(
        "{\"stores\": {\"st_acme\": {"
        "\"name\": \"Acme Outdoor\", \"locale\": \"en-US\", \"timezone\": \"America/New_York\","
        "\"shopify\": {\"shop_domain\": \"acme.myshopify.com\", \"webhook_secret\": \"shp1\"},"
        "\"woocommerce\": {\"webhook_secret\": \"woo1\"},"
        "\"bigcommerce\": {\"store_hash\": \"abc123\", \"api_token\": \"tok1\","
        "                  \"webhook_secret\": \"hook1\", \"client_secret\": \"" WHSEC "\"},"
        "\"events\": {\"webhook_secret\": \"" WHSEC "\"}},"
        "\"st_plain\": {}}}");
    assert_non_null(c);
    assert_int_equal(ac_creds_count(c), 2);
    const ac_store_creds_t *s = ac_creds_by_id(c, "st_acme");
    assert_non_null(s);
    assert_string_equal(s->store.id, "st_acme");
    assert_string_equal(s->store.name, "Acme Outdoor");
    assert_string_equal(s->store.locale, "en-US");
    assert_string_equal(s->store.timezone, "America/New_York");
    assert_string_equal(s->shop_domain, "acme.myshopify.com");
    assert_secrets(&s->shopify, (const char *const[]){"shp1"}, 1);
    assert_secrets(&s->woo, (const char *const[]){"woo1"}, 1);
    assert_true(s->has_bigcommerce);
    assert_string_equal(s->bigc_store_hash, "abc123");
    assert_string_equal(s->bigc_api_token, "tok1");
    assert_secrets(&s->bigc_shared, (const char *const[]){"hook1"}, 1);
    assert_secrets(&s->bigc_client, (const char *const[]){WHSEC}, 1);
    assert_secrets(&s->events, (const char *const[]){WHSEC}, 1);

    /* A store without platforms has none of their credentials. */
    const ac_store_creds_t *p = ac_creds_by_id(c, "st_plain");
    assert_non_null(p);
    assert_null(p->store.name);
    assert_null(p->shop_domain);
    assert_int_equal(p->shopify.n + p->woo.n + p->bigc_shared.n + p->bigc_client.n + p->events.n,
                     0);
    assert_false(p->has_bigcommerce);
    assert_null(p->bigc_api_token);

    assert_null(ac_creds_by_id(c, "st_other"));
    assert_null(ac_creds_by_id(c, "ST_ACME")); /* store ids are exact */
    assert_null(ac_creds_by_id(c, NULL));
    ac_creds_destroy(c);
    ac_creds_destroy(NULL);
    assert_int_equal(ac_creds_count(NULL), 0);
}

static void shop_lookup_ignores_case(void **state)
{
    (void)state;
    ac_creds_t *c =
        parse("{\"stores\": {"
              "\"st_a\": {\"shopify\": {\"shop_domain\": \"Acme-Outdoor.myshopify.com\","
              "                         \"webhook_secret\": \"a\"}},"
              "\"st_b\": {\"shopify\": {\"shop_domain\": \"bergladen.myshopify.com\","
              "                         \"webhook_secret\": \"b\"}}}}");
    assert_non_null(c);
    const ac_store_creds_t *a = ac_creds_by_id(c, "st_a"), *b = ac_creds_by_id(c, "st_b");
    assert_ptr_equal(ac_creds_by_shop(c, "acme-outdoor.myshopify.com"), a);
    assert_ptr_equal(ac_creds_by_shop(c, "ACME-OUTDOOR.MYSHOPIFY.COM"), a);
    assert_ptr_equal(ac_creds_by_shop(c, "Acme-Outdoor.myshopify.com"), a);
    assert_ptr_equal(ac_creds_by_shop(c, "BergLaden.MyShopify.com"), b);
    assert_null(ac_creds_by_shop(c, "acme-outdoor.myshopify.co"));
    assert_null(ac_creds_by_shop(c, "other.myshopify.com"));
    assert_null(ac_creds_by_shop(c, ""));
    assert_null(ac_creds_by_shop(c, NULL));
    ac_creds_destroy(c);
}

static void duplicate_shop_domain_is_refused(void **state)
{
    (void)state;
    refused("{\"stores\": {"
            "\"st_a\": {\"shopify\": {\"shop_domain\": \"Acme.myshopify.com\","
            "                         \"webhook_secret\": \"a\"}},"
            "\"st_b\": {\"shopify\": {\"shop_domain\": \"acme.MYSHOPIFY.com\","
            "                         \"webhook_secret\": \"b\"}}}}");
    assert_contains(err, "st_a");
    assert_contains(err, "st_b");
    assert_contains(err, "shop_domain");
}

static void malformed_settings_are_refused(void **state)
{
    (void)state;
    refused("");
    refused("{\"stores\":");
    refused("[]");
    refused("{\"store\": {}}");
    refused("{\"stores\": []}");
    refused("{\"stores\": {\"st_a\": []}}");
    assert_contains(err, "st_a");
    /* Store ids are event ids: at most 200 bytes. */
    char json[600];
    snprintf(json, sizeof(json), "{\"stores\": {\"%0201d\": {}}}", 0);
    refused(json);
    snprintf(json, sizeof(json), "{\"stores\": {\"%0200d\": {}}}", 0);
    ac_creds_t *c = parse(json);
    assert_non_null(c);
    ac_creds_destroy(c);
    refused("{\"stores\": {\"st_a\": {\"shopify\": {\"shop_domain\": \"acme\","
            "\"webhook_secret\": \"a\"}}}}");
    assert_contains(err, "shopify.shop_domain");
    refused("{\"stores\": {\"st_a\": {\"shopify\": {\"webhook_secret\": \"a\"}}}}");
    assert_contains(err, "shopify.shop_domain");
}

/* ------------------------------------------------------------- sources */

static void inline_string(void **state)
{
    (void)state;
    ac_creds_t *c = parse("{\"stores\": {\"st_a\": {\"woocommerce\": "
                          "{\"webhook_secret\": \"wc_s3cr3t\"}}}}");
    assert_non_null(c);
    assert_secrets(&ac_creds_by_id(c, "st_a")->woo, (const char *const[]){"wc_s3cr3t"}, 1);
    ac_creds_destroy(c);
}

static void list_of_secrets(void **state)
{
    (void)state;
    ac_creds_t *c = parse("{\"stores\": {\"st_a\": {\"woocommerce\": "
                          "{\"webhook_secret\": [\"old-secret\", \"new-secret\"]}}}}");
    assert_non_null(c);
    assert_secrets(&ac_creds_by_id(c, "st_a")->woo,
                   (const char *const[]){"old-secret", "new-secret"}, 2);
    ac_creds_destroy(c);
    refused("{\"stores\": {\"st_a\": {\"woocommerce\": {\"webhook_secret\": [\"a\", 1]}}}}");
    assert_contains(err, "woocommerce.webhook_secret");
    refused("{\"stores\": {\"st_a\": {\"woocommerce\": {\"webhook_secret\": 12345}}}}");
    assert_contains(err, "woocommerce.webhook_secret");
    /* An empty list gives no secret. */
    refused("{\"stores\": {\"st_a\": {\"woocommerce\": {\"webhook_secret\": []}}}}");
    assert_contains(err, "woocommerce needs webhook_secret");
}

/* One secret per line; blanks around a line go, blanks and commas inside
 * it stay (WooCommerce takes any secret a merchant types). */
static void one_secret_per_line(void **state)
{
    (void)state;
    ac_creds_t *c = parse("{\"stores\": {\"st_a\": {\"woocommerce\": "
                          "{\"webhook_secret\": \"  one two\\n three,four \\r\\n\\n five\\n\"}}}}");
    assert_non_null(c);
    assert_secrets(&ac_creds_by_id(c, "st_a")->woo,
                   (const char *const[]){"one two", "three,four", "five"}, 3);
    ac_creds_destroy(c);
    /* A list's entries are each one secret, whole. */
    c = parse("{\"stores\": {\"st_a\": {\"woocommerce\": "
              "{\"webhook_secret\": [\"a b, c\", \" d \"]}}}}");
    assert_non_null(c);
    assert_secrets(&ac_creds_by_id(c, "st_a")->woo, (const char *const[]){"a b, c", "d"}, 2);
    ac_creds_destroy(c);
    /* An entry that spans lines is refused, naming where, never the value;
     * a line break around it is trimmed like any blank. */
    refused("{\"stores\": {\"st_a\": {\"woocommerce\": "
            "{\"webhook_secret\": [\"ok\", \"top\\nsecret\"]}}}}");
    assert_contains(err, "woocommerce.webhook_secret[1] holds a line break");
    assert_null(strstr(err, "top"));
    refused("{\"stores\": {\"st_a\": {\"woocommerce\": {\"webhook_secret\": [\"a\\rb\"]}}}}");
    assert_contains(err, "[0] holds a line break");
    c = parse("{\"stores\": {\"st_a\": {\"woocommerce\": "
              "{\"webhook_secret\": [\"\\r\\n e \\n\"]}}}}");
    assert_non_null(c);
    assert_secrets(&ac_creds_by_id(c, "st_a")->woo, (const char *const[]){"e"}, 1);
    ac_creds_destroy(c);
    /* Only blanks: nothing. */
    refused("{\"stores\": {\"st_a\": {\"woocommerce\": {\"webhook_secret\": \" \\t \\n \"}}}}");
    assert_contains(err, "woocommerce needs webhook_secret");
}

/* A NUL byte would cut a string short where C reads it: refused, whatever
 * the setting. */
static void nul_bytes_are_refused(void **state)
{
    (void)state;
    refused("{\"stores\": {\"st_a\": {\"bigcommerce\": {\"store_hash\": \"abc\\u0000/x\","
            "\"api_token\": \"tok\", \"webhook_secret\": \"hook\"}}}}");
    assert_contains(err, "NUL");
    refused("{\"stores\": {\"st_a\": {\"name\": \"Acme\\u0000\"}}}");
    assert_contains(err, "NUL");
    refused("{\"stores\": {\"st_a\": {\"woocommerce\": {\"webhook_secret\": "
            "[\"ok\", \"cut\\u0000short\"]}}}}");
    assert_contains(err, "NUL");
    assert_not_contains(err, "cut");
}

static void from_environment(void **state)
{
    (void)state;
    setenv("AC_TEST_WOO_SECRET", "env-old\nenv-new", 1);
    setenv("AC_TEST_BC_TOKEN", "bc-token-1", 1);
    setenv("AC_TEST_WHSEC", WHSEC "\n" WHSEC2 "\n", 1);
    ac_creds_t *c = parse("{\"stores\": {\"st_a\": {"
                          "\"woocommerce\": {\"webhook_secret_env\": \"AC_TEST_WOO_SECRET\"},"
                          "\"bigcommerce\": {\"store_hash\": \"abc\","
                          "                  \"api_token_env\": \"AC_TEST_BC_TOKEN\","
                          "                  \"client_secret_env\": \"AC_TEST_WHSEC\"},"
                          "\"events\": {\"webhook_secret_env\": \"AC_TEST_WHSEC\"}}}}");
    assert_non_null(c);
    const ac_store_creds_t *s = ac_creds_by_id(c, "st_a");
    assert_secrets(&s->woo, (const char *const[]){"env-old", "env-new"}, 2);
    assert_string_equal(s->bigc_api_token, "bc-token-1");
    assert_secrets(&s->bigc_client, (const char *const[]){WHSEC, WHSEC2}, 2);
    assert_secrets(&s->events, (const char *const[]){WHSEC, WHSEC2}, 2);
    ac_creds_destroy(c);
    unsetenv("AC_TEST_WOO_SECRET");
    unsetenv("AC_TEST_BC_TOKEN");
    unsetenv("AC_TEST_WHSEC");
}

/* A file as Kubernetes mounts a Secret: the value, maybe with a newline
 * (or one secret per line while rotating). */
static void from_file(void **state)
{
    (void)state;
    char one[256], two[256], token[256], json[2048];
    temp_file("file-secret-1\n", one, sizeof(one));
    temp_file("rot-old\nrot-new\n", two, sizeof(two));
    temp_file("bc-token-from-file\n", token, sizeof(token));
    snprintf(json, sizeof(json),
             "{\"stores\": {\"st_a\": {"
             "\"shopify\": {\"shop_domain\": \"a.myshopify.com\", \"webhook_secret_file\": \"%s\"},"
             "\"woocommerce\": {\"webhook_secret_file\": \"%s\"},"
             "\"bigcommerce\": {\"store_hash\": \"abc\", \"api_token_file\": \"%s\","
             "                  \"webhook_secret_file\": \"%s\"}}}}",
             one, two, token, one);
    ac_creds_t *c = parse(json);
    assert_non_null(c);
    const ac_store_creds_t *s = ac_creds_by_id(c, "st_a");
    assert_secrets(&s->shopify, (const char *const[]){"file-secret-1"}, 1);
    assert_secrets(&s->woo, (const char *const[]){"rot-old", "rot-new"}, 2);
    assert_string_equal(s->bigc_api_token, "bc-token-from-file");
    assert_secrets(&s->bigc_shared, (const char *const[]){"file-secret-1"}, 1);
    ac_creds_destroy(c);
    unlink(one);
    unlink(two);
    unlink(token);
}

/* ------------------------------------------------------------- errors */

#define INLINE_SECRET "shpss-inline-Zq81xT"
#define ENV_SECRET    "env-secret-Hk27pW"

static void missing_env_names_field_not_secret(void **state)
{
    (void)state;
    unsetenv("AC_TEST_UNSET_SECRET");
    refused("{\"stores\": {\"st_a\": {"
            "\"shopify\": {\"shop_domain\": \"a.myshopify.com\","
            "              \"webhook_secret\": \"" INLINE_SECRET "\"},"
            "\"woocommerce\": {\"webhook_secret_env\": \"AC_TEST_UNSET_SECRET\"}}}}");
    assert_contains(err, "st_a");
    assert_contains(err, "woocommerce.webhook_secret_env");
    assert_contains(err, "AC_TEST_UNSET_SECRET");
    assert_not_contains(err, INLINE_SECRET);

    /* Set but empty is missing too. */
    setenv("AC_TEST_EMPTY_SECRET", "", 1);
    refused("{\"stores\": {\"st_a\": {\"bigcommerce\": {\"store_hash\": \"abc\","
            "\"api_token_env\": \"AC_TEST_EMPTY_SECRET\", \"webhook_secret\": \"" INLINE_SECRET
            "\"}}}}");
    assert_contains(err, "bigcommerce.api_token_env");
    assert_not_contains(err, INLINE_SECRET);
    unsetenv("AC_TEST_EMPTY_SECRET");
}

static void secret_values_never_in_errors(void **state)
{
    (void)state;
    char path[256], json[1024];
    setenv("AC_TEST_SECRET", ENV_SECRET, 1);
    /* A secret that is not whsec_, for POST /events. */
    refused("{\"stores\": {\"st_a\": {\"events\": {\"webhook_secret_env\": \"AC_TEST_SECRET\"}}}}");
    assert_contains(err, "events.webhook_secret");
    assert_not_contains(err, ENV_SECRET);
    refused("{\"stores\": {\"st_a\": {\"events\": {\"webhook_secret\": \"" INLINE_SECRET "\"}}}}");
    assert_contains(err, "events.webhook_secret");
    assert_not_contains(err, INLINE_SECRET);
    /* Two API tokens where one is needed. */
    setenv("AC_TEST_TWO_TOKENS", ENV_SECRET "\n" INLINE_SECRET, 1);
    refused("{\"stores\": {\"st_a\": {\"bigcommerce\": {\"store_hash\": \"abc\","
            "\"api_token_env\": \"AC_TEST_TWO_TOKENS\", \"webhook_secret\": \"x\"}}}}");
    assert_contains(err, "bigcommerce.api_token");
    assert_not_contains(err, ENV_SECRET);
    assert_not_contains(err, INLINE_SECRET);
    /* A file that cannot be read is named, and nothing of the others. */
    temp_file(ENV_SECRET "\n", path, sizeof(path));
    snprintf(json, sizeof(json),
             "{\"stores\": {\"st_a\": {\"woocommerce\": {\"webhook_secret_file\": \"%s\"},"
             "\"bigcommerce\": {\"store_hash\": \"abc\", \"api_token\": \"t\","
             "\"webhook_secret_file\": \"%s.missing\"}}}}",
             path, path);
    refused(json);
    assert_contains(err, "bigcommerce.webhook_secret_file");
    assert_contains(err, ".missing");
    assert_not_contains(err, ENV_SECRET);
    unlink(path);
    unsetenv("AC_TEST_SECRET");
    unsetenv("AC_TEST_TWO_TOKENS");
}

/* ------------------------------------------------------------- platforms */

static void events_secret_must_be_whsec(void **state)
{
    (void)state;
    ac_creds_t *c = parse("{\"stores\": {\"st_a\": {\"events\": {\"webhook_secret\": [\"" WHSEC
                          "\", \"" WHSEC2 "\"]}}}}");
    assert_non_null(c);
    assert_secrets(&ac_creds_by_id(c, "st_a")->events, (const char *const[]){WHSEC, WHSEC2}, 2);
    ac_creds_destroy(c);
    refused("{\"stores\": {\"st_a\": {\"events\": {\"webhook_secret\": \"plain-secret\"}}}}");
    assert_contains(err, "events.webhook_secret");
    /* One bad entry spoils the list. */
    refused("{\"stores\": {\"st_a\": {\"events\": {\"webhook_secret\": [\"" WHSEC
            "\", \"whsec_c2hvcnQ=\"]}}}}");
    assert_contains(err, "events.webhook_secret");
    refused("{\"stores\": {\"st_a\": {\"events\": {}}}}");
    assert_contains(err, "events needs webhook_secret");
}

static void platforms_need_their_secret(void **state)
{
    (void)state;
    refused("{\"stores\": {\"st_a\": {\"shopify\": {\"shop_domain\": \"a.myshopify.com\"}}}}");
    assert_contains(err, "shopify needs webhook_secret");
    refused("{\"stores\": {\"st_a\": {\"woocommerce\": {}}}}");
    assert_contains(err, "woocommerce needs webhook_secret");
}

static void bigcommerce_requirements(void **state)
{
    (void)state;
    /* The API token is required ... */
    refused("{\"stores\": {\"st_a\": {\"bigcommerce\": {\"store_hash\": \"abc\","
            "\"webhook_secret\": \"hook\"}}}}");
    assert_contains(err, "bigcommerce.api_token");
    /* ... and so is something to verify with ... */
    refused("{\"stores\": {\"st_a\": {\"bigcommerce\": {\"store_hash\": \"abc\","
            "\"api_token\": \"tok\"}}}}");
    assert_contains(err, "bigcommerce needs webhook_secret or client_secret");
    /* ... and the store hash, which goes into the API's URLs. */
    refused("{\"stores\": {\"st_a\": {\"bigcommerce\": {\"api_token\": \"tok\","
            "\"webhook_secret\": \"hook\"}}}}");
    assert_contains(err, "bigcommerce.store_hash");
    refused("{\"stores\": {\"st_a\": {\"bigcommerce\": {\"store_hash\": \"abc/../x\","
            "\"api_token\": \"tok\", \"webhook_secret\": \"hook\"}}}}");
    assert_contains(err, "bigcommerce.store_hash");

    /* client_secret is a Standard Webhooks key, checked at start. */
    refused("{\"stores\": {\"st_a\": {\"bigcommerce\": {\"store_hash\": \"abc\","
            "\"api_token\": \"tok\", \"client_secret\": \"not-a-whsec-key\"}}}}");
    assert_contains(err, "bigcommerce.client_secret");
    assert_not_contains(err, "not-a-whsec-key");

    /* Either secret alone is enough. */
    ac_creds_t *c =
        parse("{\"stores\": {"
              "\"st_shared\": {\"bigcommerce\": {\"store_hash\": \"abc\","
              "               \"api_token\": \"tok\", \"webhook_secret\": \"hook\"}},"
              "\"st_client\": {\"bigcommerce\": {\"store_hash\": \"def\","
              "               \"api_token\": \"tok\", \"client_secret\": \"" WHSEC "\"}}}}");
    assert_non_null(c);
    const ac_store_creds_t *s = ac_creds_by_id(c, "st_shared");
    assert_true(s->has_bigcommerce);
    assert_int_equal(s->bigc_shared.n, 1);
    assert_int_equal(s->bigc_client.n, 0);
    s = ac_creds_by_id(c, "st_client");
    assert_true(s->has_bigcommerce);
    assert_int_equal(s->bigc_shared.n, 0);
    assert_secrets(&s->bigc_client, (const char *const[]){WHSEC}, 1);
    ac_creds_destroy(c);
}

/* ------------------------------------------------------------- loading */

static void load_from_file(void **state)
{
    (void)state;
    char path[256];
    temp_file("{\"stores\": {\"st_a\": {\"woocommerce\": {\"webhook_secret\": \"w\"}}}}", path,
              sizeof(path));
    err[0] = '\0';
    ac_creds_t *c = ac_creds_load(path, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(ac_creds_count(c), 1);
    ac_creds_destroy(c);
    unlink(path);

    temp_file("{\"stores\": {\"st_a\": {\"woocommerce\": {}}}}", path, sizeof(path));
    assert_null(ac_creds_load(path, err, sizeof(err)));
    assert_contains(err, path);
    assert_contains(err, "woocommerce needs webhook_secret");
    unlink(path);
    assert_null(ac_creds_load(path, err, sizeof(err)));
    assert_contains(err, "cannot read");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_example),
        cmocka_unit_test(shop_lookup_ignores_case),
        cmocka_unit_test(duplicate_shop_domain_is_refused),
        cmocka_unit_test(malformed_settings_are_refused),
        cmocka_unit_test(inline_string),
        cmocka_unit_test(list_of_secrets),
        cmocka_unit_test(one_secret_per_line),
        cmocka_unit_test(nul_bytes_are_refused),
        cmocka_unit_test(from_environment),
        cmocka_unit_test(from_file),
        cmocka_unit_test(missing_env_names_field_not_secret),
        cmocka_unit_test(secret_values_never_in_errors),
        cmocka_unit_test(events_secret_must_be_whsec),
        cmocka_unit_test(platforms_need_their_secret),
        cmocka_unit_test(bigcommerce_requirements),
        cmocka_unit_test(load_from_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
