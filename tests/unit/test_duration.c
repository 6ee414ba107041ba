/* Unit tests for common/duration: "500ms", "30s", "15m", "2h", "7d". */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "duration.h"

static int64_t parse_ok(const char *s)
{
    int64_t ms = -42;
    if (ac_duration_parse(s, &ms) != 0)
        fail_msg("expected \"%s\" to parse", s);
    return ms;
}

static void assert_parse_fails(const char *s)
{
    int64_t ms = -42;
    if (ac_duration_parse(s, &ms) != -1)
        fail_msg("expected \"%s\" to be refused, got %lld", s ? s : "(null)", (long long)ms);
}

static void test_units(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("500ms"), 500);
    assert_int_equal(parse_ok("30s"), 30000);
    assert_int_equal(parse_ok("15m"), 900000);
    assert_int_equal(parse_ok("2h"), 7200000);
    assert_int_equal(parse_ok("7d"), 604800000);
    assert_int_equal(parse_ok("1ms"), 1);
    assert_int_equal(parse_ok("90s"), 90000);
    assert_int_equal(parse_ok("0042s"), 42000);
}

static void test_zero(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("0"), 0);
    assert_int_equal(parse_ok("0ms"), 0);
    assert_int_equal(parse_ok("0s"), 0);
    assert_int_equal(parse_ok("0d"), 0);
}

static void test_missing_unit(void **state)
{
    (void)state;
    /* Only the plain "0" may omit its unit: "30" could mean anything. */
    assert_parse_fails("30");
    assert_parse_fails("1");
    assert_parse_fails("00");
    assert_parse_fails("500");
}

static void test_unknown_unit(void **state)
{
    (void)state;
    static const char *bad[] = {"5x", "5sec", "5S",  "5M",  "5H",  "5us", "5ns",  "5w",
                                "5y", "5mss", "5 s", "5s ", " 5s", "5s5", "1h30m"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_parse_fails(bad[i]);
}

static void test_not_a_number(void **state)
{
    (void)state;
    assert_parse_fails(NULL);
    assert_parse_fails("");
    assert_parse_fails("s");
    assert_parse_fails("ms");
    assert_parse_fails("1.5h");
    assert_parse_fails(".5s");
    assert_parse_fails("1e3ms");
    assert_parse_fails("0x10s");
}

static void test_negative(void **state)
{
    (void)state;
    assert_parse_fails("-1s");
    assert_parse_fails("-0");
    assert_parse_fails("-500ms");
    assert_parse_fails("+5s");
}

static void test_overflow(void **state)
{
    (void)state;
    /* INT64_MAX ms is about 106751991167 days. */
    assert_int_equal(parse_ok("106751991167d"), 106751991167LL * 86400000LL);
    assert_parse_fails("106751991168d");
    assert_parse_fails("2562047788016h");
    assert_parse_fails("9223372036854776s");
    assert_parse_fails("99999999999999999999ms");
    assert_parse_fails("99999999999999999999999999999999999999s");
    assert_parse_fails("18446744073709551617ms"); /* wraps to 1 in 64 bits */
}

static void test_failure_leaves_output_alone(void **state)
{
    (void)state;
    int64_t ms = 777;
    assert_int_equal(ac_duration_parse("5x", &ms), -1);
    assert_int_equal(ms, 777);
}

static const char *fmt(int64_t ms)
{
    static char buf[64];
    ac_duration_format(ms, buf, sizeof(buf));
    return buf;
}

static void test_format(void **state)
{
    (void)state;
    assert_string_equal(fmt(500), "500ms");
    assert_string_equal(fmt(30000), "30s");
    assert_string_equal(fmt(900000), "15m");
    assert_string_equal(fmt(7200000), "2h");
    assert_string_equal(fmt(604800000), "7d");
    assert_string_equal(fmt(86400000), "1d");
    /* The largest unit that divides exactly, never a rounded one. */
    assert_string_equal(fmt(90000), "90s");
    assert_string_equal(fmt(5400000), "90m");
    assert_string_equal(fmt(1500), "1500ms");
    assert_string_equal(fmt(90000000), "25h");
    assert_string_equal(fmt(1), "1ms");
}

static void test_format_zero_parses_back(void **state)
{
    (void)state;
    int64_t ms = -1;
    assert_int_equal(ac_duration_parse(fmt(0), &ms), 0);
    assert_int_equal(ms, 0);
}

static void test_format_small_buffer(void **state)
{
    (void)state;
    char buf[3];
    memset(buf, 'x', sizeof(buf));
    ac_duration_format(1500, buf, sizeof(buf));
    assert_string_equal(buf, "15");
}

static void test_round_trip(void **state)
{
    (void)state;
    static const int64_t values[] = {1,       999,      1000,     59999,        60000,
                                     3600000, 86400000, 90061001, 31536000000LL};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        assert_int_equal(parse_ok(fmt(values[i])), values[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_units),
        cmocka_unit_test(test_zero),
        cmocka_unit_test(test_missing_unit),
        cmocka_unit_test(test_unknown_unit),
        cmocka_unit_test(test_not_a_number),
        cmocka_unit_test(test_negative),
        cmocka_unit_test(test_overflow),
        cmocka_unit_test(test_failure_leaves_output_alone),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_zero_parses_back),
        cmocka_unit_test(test_format_small_buffer),
        cmocka_unit_test(test_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
