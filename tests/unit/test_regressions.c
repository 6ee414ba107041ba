/* Regression tests: inputs that once broke common/'s own contract (bare
 * JSON scalars read as invalid JSON, huge numeric ids clamped into one
 * another, "nan" accepted as money, malformed message ids accepted, UTF-8
 * cut in masked addresses, empty settings bypassing bounds, secrets echoed
 * in errors). Each stays here so that the bug cannot come back. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "event.h"
#include "log.h"
#include "message.h"
#include "test_util.h"

/* common/event.c, ac_event_parse_json(): a record that is a bare JSON
 * scalar is valid JSON that is not an object, so it must be refused as
 * not_object, like "[]" or "\"s\"" are. json-c cannot finish a number or
 * literal without seeing the byte after it, so "42", "true" and "null" end
 * in json_tokener_continue and are reported as invalid_json ("unexpected
 * end of data"); "null " parses to a NULL object with success and is
 * reported as invalid_json with the detail "not valid JSON: success".
 * docs/events.md names `null` as an example of not_object. */
static void test_event_bare_scalar_is_not_object(void **state)
{
    (void)state;
    static const char *records[] = {"42", "-1.5", "true", "null", "null ", "null\n"};
    for (size_t i = 0; i < sizeof(records) / sizeof(records[0]); i++) {
        ac_event_error_t err;
        memset(&err, 0, sizeof(err));
        ac_event_t *ev = ac_event_parse(records[i], strlen(records[i]), 0, &err);
        assert_null(ev);
        if (err.code != AC_EVENT_ERR_NOT_OBJECT)
            fail_msg("record '%s': expected not_object, got %s (%s)", records[i],
                     ac_event_err_name(err.code), err.detail);
    }
}

/* common/event.c, opt_id(): a numeric id beyond the 64-bit range is
 * silently clamped by json-c, so order ids 123456789012345678901234567890
 * and 99999999999999999999999 both read as "18446744073709551615". Two
 * different orders then share every message id, and deduplication drops
 * the second order's confirmation. Such an id must be refused
 * (invalid_field) or kept digit for digit, never replaced by another. */
static void test_event_huge_numeric_id_not_clamped(void **state)
{
    (void)state;
    static const char *ids[] = {"123456789012345678901234567890", "99999999999999999999999",
                                "-99999999999999999999999"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char json[512];
        snprintf(json, sizeof(json),
                 "{\"event_id\":\"e1\",\"type\":\"order.placed\","
                 "\"occurred_at\":\"2026-11-25T10:15:00Z\",\"order\":{\"id\":%s},"
                 "\"customer\":{\"id\":\"c1\"}}",
                 ids[i]);
        ac_event_error_t err;
        ac_event_t *ev = ac_event_parse(json, strlen(json), 0, &err);
        if (ev) {
            char got[64];
            snprintf(got, sizeof(got), "%s", ev->order.id);
            ac_event_destroy(ev);
            if (strcmp(got, ids[i]) != 0)
                fail_msg("order.id %s was read as %s", ids[i], got);
        } else {
            assert_int_equal(err.code, AC_EVENT_ERR_INVALID_FIELD);
        }
    }
}

/* common/event.c, opt_num(): money given as a decimal string goes through
 * strtod(), which also accepts "nan", "inf", hexadecimal and leading
 * blanks. "total": "nan" yields has_total = 1 and total = NaN, which the
 * renderer prints as "nan EUR". None of these is a decimal amount; they
 * must read as absent (has_total = 0), like "12 EUR" does. */
static void test_event_money_string_must_be_decimal(void **state)
{
    (void)state;
    static const char *totals[] = {"nan", "NaN", "inf", "-infinity", "1e400", "0x1A", " 12"};
    for (size_t i = 0; i < sizeof(totals) / sizeof(totals[0]); i++) {
        char json[512];
        snprintf(json, sizeof(json),
                 "{\"event_id\":\"e1\",\"type\":\"order.placed\","
                 "\"occurred_at\":\"2026-11-25T10:15:00Z\","
                 "\"order\":{\"id\":\"o1\",\"total\":\"%s\"},\"customer\":{\"id\":\"c1\"}}",
                 totals[i]);
        ac_event_error_t err;
        ac_event_t *ev = ac_event_parse(json, strlen(json), 0, &err);
        assert_non_null(ev);
        int has = ev->order.has_total;
        double total = ev->order.total;
        ac_event_destroy(ev);
        if (has)
            fail_msg("total \"%s\" was accepted as %f", totals[i], total);
        assert_true(isfinite(total));
    }
}

/* common/message.c, ac_message_decode(): a notification without an "event"
 * member returns NULL but never writes err, although the header promises
 * "NULL with err filled". ac_event_parse_json() succeeded just before, so
 * err keeps whatever the caller had in it (here AC_EVENT_OK and an empty
 * detail; garbage when the caller did not initialise it), and the record
 * is dead-lettered with reason "ok" or worse. */
static void test_message_decode_missing_event_fills_err(void **state)
{
    (void)state;
    static const char rec[] =
        "{\"v\":1,\"id\":\"msg_0123456789abcdef0123456789abcdef\",\"kind\":\"order_cancelled\","
        "\"created_at\":\"2026-11-25T10:15:00Z\"}";
    ac_event_error_t err;
    memset(&err, 0, sizeof(err));
    err.code = AC_EVENT_OK;
    ac_message_t *m = ac_message_decode(rec, strlen(rec), 0, &err);
    assert_null(m);
    assert_int_not_equal(err.code, AC_EVENT_OK);
    assert_true(strlen(err.detail) > 0);
}

/* common/message.c, ac_message_decode(): the id is checked for its length
 * and "msg_" prefix only, so "msg_" followed by any 32 bytes (spaces,
 * slashes, upper case) is accepted as a message id, although an id is
 * "msg_" and 32 lowercase hex digits and is used verbatim as a Redis key
 * and as the providers' Idempotency-Key. */
static void test_message_decode_rejects_non_hex_id(void **state)
{
    (void)state;
    static const char *ids[] = {"msg_0123456789ABCDEF0123456789ABCDEF",
                                "msg_                                ",
                                "msg_../../../../../../../../etc/pass"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char rec[512];
        snprintf(rec, sizeof(rec),
                 "{\"v\":1,\"id\":\"%s\",\"kind\":\"order_cancelled\","
                 "\"event\":{\"event_id\":\"e1\",\"type\":\"order.cancelled\","
                 "\"occurred_at\":\"2026-11-25T10:15:00Z\",\"order\":{\"id\":\"o1\"},"
                 "\"customer\":{\"id\":\"c1\"}}}",
                 ids[i]);
        assert_int_equal(strlen(ids[i]), AC_MESSAGE_ID_LEN - 1);
        ac_event_error_t err;
        ac_message_t *m = ac_message_decode(rec, strlen(rec), 0, &err);
        if (m) {
            ac_message_destroy(m);
            fail_msg("id \"%s\" was accepted", ids[i]);
        }
        assert_int_equal(err.code, AC_EVENT_ERR_INVALID_FIELD);
    }
}

/* common/log.c, ac_log_mask(): an email keeps only the first byte of its
 * local part. When that letter is not ASCII ("Ömer@example.com", "Ænne@…")
 * the mask holds the first byte of a two-byte UTF-8 sequence followed by
 * '*', i.e. invalid UTF-8, which then goes verbatim into the JSON log line
 * (put_escaped passes bytes >= 0x20 through) and breaks log collectors
 * that validate UTF-8. Expected: the whole first character is kept (or it
 * is masked too), and the result is valid UTF-8. */
static int is_valid_utf8(const unsigned char *s)
{
    while (*s) {
        size_t len = *s < 0x80         ? 1
                     : (*s >> 5) == 6  ? 2
                     : (*s >> 4) == 14 ? 3
                     : (*s >> 3) == 30 ? 4
                                       : 0;
        if (len == 0)
            return 0;
        for (size_t k = 1; k < len; k++)
            if ((s[k] & 0xC0) != 0x80)
                return 0;
        s += len;
    }
    return 1;
}

static void test_log_mask_keeps_utf8_valid(void **state)
{
    (void)state;
    static const char *addrs[] = {"Ömer@example.com", "ænne@example.dk", "日本@example.jp"};
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        char buf[64];
        ac_log_mask(addrs[i], buf, sizeof(buf));
        if (!is_valid_utf8((const unsigned char *)buf))
            fail_msg("masking %s produced invalid UTF-8", addrs[i]);
    }
}

/* common/config.c, check_value()/ac_config_str()/ac_config_int(): an empty
 * value (BATCH_SIZE= in the environment, or --batch-size=) replaces the
 * default and is then treated as "unset": ac_config_str() returns NULL and
 * ac_config_int() returns 0, although the option has a default ("100") and
 * bounds 1..1000 that 0 violates. The header says NULL only "when it is
 * unset and has no default". Expected: either the default applies, or the
 * empty value is refused with a message naming BATCH_SIZE; never a value
 * outside the declared bounds. */
static void test_config_empty_value_keeps_default_or_fails(void **state)
{
    (void)state;
    static const ac_option_t opts[] = {
        {"BATCH_SIZE", AC_OPT_INT, "100", 0, 1, 1000, NULL, "records per batch"},
    };
    const char *env[] = {"BATCH_SIZE=", NULL};
    char *argv[] = {(char *)"worker", NULL};
    char err[256] = "";
    ac_config_t *c = ac_config_new("worker", "test", opts, 1);
    int rc = ac_config_parse(c, 1, argv, (char **)env, err, sizeof(err));
    if (rc == AC_CONFIG_OK) {
        int64_t n = ac_config_int(c, "BATCH_SIZE");
        const char *s = ac_config_str(c, "BATCH_SIZE");
        ac_config_destroy(c);
        if (n < 1 || n > 1000)
            fail_msg("BATCH_SIZE (default 100, bounds 1..1000) read as %lld", (long long)n);
        assert_non_null(s);
    } else {
        ac_config_destroy(c);
        assert_contains(err, "BATCH_SIZE");
    }
}

/* common/config.c, ac_config_parse(): a malformed --rdkafka argument is
 * echoed whole in the error line. librdkafka properties include secrets
 * (sasl.password, ssl.key.password), so a typo such as
 * "--rdkafka sasl.password:hunter2" writes the password to the pod log,
 * while AC_OPT_SECRET settings are carefully shown as "(hidden)". Expected:
 * the error names the property at most, never what follows it. */
static void test_config_rdkafka_error_hides_value(void **state)
{
    (void)state;
    static const ac_option_t opts[] = {
        {"KAFKA_BROKERS", AC_OPT_STR, "k:9092", 0, 0, 0, NULL, "brokers"},
    };
    char *argv[] = {(char *)"worker", (char *)"--rdkafka", (char *)"sasl.password:hunter2", NULL};
    char err[256] = "";
    ac_config_t *c = ac_config_new("worker", "test", opts, 1);
    assert_int_equal(ac_config_parse(c, 3, argv, NULL, err, sizeof(err)), -1);
    ac_config_destroy(c);
    assert_not_contains(err, "hunter2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_bare_scalar_is_not_object),
        cmocka_unit_test(test_event_huge_numeric_id_not_clamped),
        cmocka_unit_test(test_event_money_string_must_be_decimal),
        cmocka_unit_test(test_message_decode_missing_event_fills_err),
        cmocka_unit_test(test_message_decode_rejects_non_hex_id),
        cmocka_unit_test(test_log_mask_keeps_utf8_valid),
        cmocka_unit_test(test_config_empty_value_keeps_default_or_fails),
        cmocka_unit_test(test_config_rdkafka_error_hides_value),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
