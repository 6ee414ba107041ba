/* Unit tests for common/timeutil: RFC 3339 parsing and formatting. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "timeutil.h"

/* Reference instants, computed independently of the code under test. */
#define MS_2026_11_25_T10_15Z  1795601700000LL
#define MS_2026_11_25_MIDNIGHT 1795564800000LL
#define MS_2024_02_29_MIDNIGHT 1709164800000LL
#define MS_2000_02_29_MIDNIGHT 951782400000LL
#define MS_2027_01_01_MIDNIGHT 1798761600000LL

static int64_t parse_ok(const char *s)
{
    int64_t ms = -42;
    if (ac_time_parse(s, &ms) != 0)
        fail_msg("expected \"%s\" to parse", s);
    return ms;
}

static void assert_parse_fails(const char *s)
{
    int64_t ms = 0;
    if (ac_time_parse(s, &ms) != -1)
        fail_msg("expected \"%s\" to be refused, got %lld", s ? s : "(null)", (long long)ms);
}

static void test_utc_z(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2026-11-25T10:15:00Z"), MS_2026_11_25_T10_15Z);
    assert_int_equal(parse_ok("1970-01-01T00:00:00Z"), 0);
    assert_int_equal(parse_ok("1969-12-31T23:59:59Z"), -1000);
    /* RFC 3339 allows lower-case separators. */
    assert_int_equal(parse_ok("2026-11-25t10:15:00z"), MS_2026_11_25_T10_15Z);
    assert_int_equal(parse_ok("2026-11-25 10:15:00Z"), MS_2026_11_25_T10_15Z);
}

static void test_offsets(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2026-11-25T11:15:00+01:00"), MS_2026_11_25_T10_15Z);
    assert_int_equal(parse_ok("2026-11-25T04:45:00-05:30"), MS_2026_11_25_T10_15Z);
    assert_int_equal(parse_ok("2026-11-25T15:45:00+05:30"), MS_2026_11_25_T10_15Z);
    assert_int_equal(parse_ok("2026-11-25T10:15:00+00:00"), MS_2026_11_25_T10_15Z);
    assert_int_equal(parse_ok("2026-11-25T10:15:00-00:00"), MS_2026_11_25_T10_15Z);
    /* An offset can move the instant into the previous day or year. */
    assert_int_equal(parse_ok("2026-11-25T00:30:00+01:00"), MS_2026_11_25_MIDNIGHT - 1800000);
    assert_int_equal(parse_ok("2026-12-31T19:00:00-05:00"), MS_2027_01_01_MIDNIGHT);
    assert_int_equal(parse_ok("2027-01-01T00:59:00+01:00"), MS_2027_01_01_MIDNIGHT - 60000);
}

static void test_fractional_seconds(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2026-11-25T10:15:00.1Z"), MS_2026_11_25_T10_15Z + 100);
    assert_int_equal(parse_ok("2026-11-25T10:15:00.12Z"), MS_2026_11_25_T10_15Z + 120);
    assert_int_equal(parse_ok("2026-11-25T10:15:00.123Z"), MS_2026_11_25_T10_15Z + 123);
    assert_int_equal(parse_ok("2026-11-25T10:15:00.000Z"), MS_2026_11_25_T10_15Z);
    /* Digits beyond milliseconds are dropped, not rounded. */
    assert_int_equal(parse_ok("2026-11-25T10:15:00.123999999Z"), MS_2026_11_25_T10_15Z + 123);
    assert_int_equal(parse_ok("2026-11-25T11:15:00.250+01:00"), MS_2026_11_25_T10_15Z + 250);
    assert_int_equal(parse_ok("2026-11-25T04:45:00.5-05:30"), MS_2026_11_25_T10_15Z + 500);
}

static void test_bare_date(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2026-11-25"), MS_2026_11_25_MIDNIGHT);
    assert_int_equal(parse_ok("1970-01-01"), 0);
    assert_int_equal(parse_ok("2027-01-01"), MS_2027_01_01_MIDNIGHT);
}

static void test_leap_years(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("2024-02-29"), MS_2024_02_29_MIDNIGHT);
    assert_int_equal(parse_ok("2024-02-29T00:00:00Z"), MS_2024_02_29_MIDNIGHT);
    assert_int_equal(parse_ok("2000-02-29"), MS_2000_02_29_MIDNIGHT);
    assert_int_equal(parse_ok("2024-03-01") - parse_ok("2024-02-28"), 2 * 86400000LL);
    assert_int_equal(parse_ok("2026-03-01") - parse_ok("2026-02-28"), 86400000LL);
    assert_parse_fails("2026-02-29");
    assert_parse_fails("2026-02-29T12:00:00Z");
    assert_parse_fails("1900-02-29");
    assert_parse_fails("2100-02-29");
    assert_parse_fails("2024-02-30");
}

static void test_calendar_bounds(void **state)
{
    (void)state;
    parse_ok("2026-01-31");
    parse_ok("2026-12-31");
    parse_ok("2026-04-30");
    assert_parse_fails("2026-04-31");
    assert_parse_fails("2026-06-31");
    assert_parse_fails("2026-00-10");
    assert_parse_fails("2026-13-01");
    assert_parse_fails("2026-01-00");
    assert_parse_fails("2026-01-32");
    parse_ok("2026-11-25T23:59:59Z");
    assert_parse_fails("2026-11-25T24:00:00Z");
    assert_parse_fails("2026-11-25T23:60:00Z");
    assert_parse_fails("2026-11-25T23:59:61Z");
    assert_parse_fails("2026-11-25T10:15:00+24:00");
    assert_parse_fails("2026-11-25T10:15:00+01:60");
}

static void test_leap_second(void **state)
{
    (void)state;
    /* A leap second is accepted and lands on the next second boundary. */
    assert_int_equal(parse_ok("2026-12-31T23:59:60Z"), MS_2027_01_01_MIDNIGHT);
}

static void test_garbage(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "garbage",
        "2026",
        "2026-11",
        "2026-11-2",
        "2026-1-25",
        "26-11-25",
        "2026/11/25",
        " 2026-11-25",
        "2026-11-25 ",
        "2026-11-25T",
        "2026-11-25Tjunk",
        "2026-11-25T10:15:00",       /* RFC 3339 requires an offset */
        "2026-11-25T10:15Z",         /* seconds are required */
        "2026-11-25T10:15:00.Z",     /* a fraction needs digits */
        "2026-11-25T10:15:00+0100",  /* the offset needs a colon */
        "2026-11-25T10:15:00+01",    /* and minutes */
        "2026-11-25T10:15:00ZZ",     /* nothing may follow */
        "2026-11-25T10:15:00Z junk", /* nothing may follow */
        "2026-11-25T1:15:00Z",
        "2026-11-25T10:15:0Z",
        "2026-11-25T10:15:00UTC",
        "2026-11-25X10:15:00Z",
        "2026-11-25T10:15:00.123",
        "-2026-11-25",
        "+2026-11-25",
        "2026-11-25junk",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_parse_fails(bad[i]);
    assert_parse_fails(NULL);
}

static void test_failure_leaves_output_alone(void **state)
{
    (void)state;
    int64_t ms = 12345;
    assert_int_equal(ac_time_parse("2026-02-29", &ms), -1);
    assert_int_equal(ms, 12345);
}

static void test_format(void **state)
{
    (void)state;
    char buf[AC_TIME_BUFSZ];
    ac_time_format(0, buf, sizeof(buf));
    assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
    ac_time_format(MS_2026_11_25_T10_15Z + 7, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-25T10:15:00.007Z");
    ac_time_format(MS_2024_02_29_MIDNIGHT + 86399999, buf, sizeof(buf));
    assert_string_equal(buf, "2024-02-29T23:59:59.999Z");
    /* Instants before the epoch must not produce negative milliseconds. */
    ac_time_format(-1, buf, sizeof(buf));
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
    ac_time_format(-1000, buf, sizeof(buf));
    assert_string_equal(buf, "1969-12-31T23:59:59.000Z");
    ac_time_format(-1001, buf, sizeof(buf));
    assert_string_equal(buf, "1969-12-31T23:59:58.999Z");
}

static void test_format_small_buffer(void **state)
{
    (void)state;
    char buf[11];
    memset(buf, 'x', sizeof(buf));
    ac_time_format(MS_2026_11_25_T10_15Z, buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-25");
}

/* The digits written by hand agree with printf's for instants spread over
 * years 0 to 9999 and around the epoch, and years outside those four
 * digits still come out as printf writes them. */
static void test_format_matches_printf(void **state)
{
    (void)state;
    char buf[AC_TIME_BUFSZ], want[64];
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* From year 0 (-62167219200000) to the end of 9999. */
        int64_t ms = -62167219200000LL + (int64_t)(x % 315537897600000ULL);
        if (i < 2000)
            ms = (int64_t)(x % 4000000000ULL) - 2000000000LL; /* near the epoch */
        int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
        time_t t = (time_t)secs;
        struct tm tm;
        gmtime_r(&t, &tm);
        snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (int)(ms - secs * 1000));
        ac_time_format(ms, buf, sizeof(buf));
        assert_string_equal(buf, want);
    }
    ac_time_format(253402300800000LL, buf, sizeof(buf)); /* year 10000 */
    assert_string_equal(buf, "10000-01-01T00:00:00.000Z");
}

static void test_round_trip(void **state)
{
    (void)state;
    static const int64_t values[] = {
        0,
        1,
        999,
        -1,
        -999,
        -86400000LL,
        MS_2026_11_25_T10_15Z,
        MS_2026_11_25_T10_15Z + 123,
        MS_2024_02_29_MIDNIGHT + 43200500,
        MS_2000_02_29_MIDNIGHT,
        253402300799999LL, /* 9999-12-31T23:59:59.999Z */
    };
    char buf[AC_TIME_BUFSZ];
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        ac_time_format(values[i], buf, sizeof(buf));
        assert_int_equal(strlen(buf), 24);
        assert_int_equal(parse_ok(buf), values[i]);
    }
    /* Parsing then formatting normalises any offset to UTC. */
    ac_time_format(parse_ok("2026-11-25T11:15:00.5+01:00"), buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-25T10:15:00.500Z");
    ac_time_format(parse_ok("2026-11-25"), buf, sizeof(buf));
    assert_string_equal(buf, "2026-11-25T00:00:00.000Z");
}

static void test_clocks(void **state)
{
    (void)state;
    /* The wall clock is after 2024 and the monotonic clock never goes back. */
    assert_true(ac_time_now_ms() > MS_2024_02_29_MIDNIGHT);
    int64_t a = ac_time_mono_ms();
    int64_t b = ac_time_mono_ms();
    assert_true(b >= a);
}

/* Runs ac_time_date over a buffer pre-filled with junk, so that a result
 * left unterminated or untouched shows. */
static int date_of(const char *s, char date[11])
{
    memset(date, 'x', 11);
    return ac_time_date(s, date);
}

static void test_date_valid(void **state)
{
    (void)state;
    char date[11];
    static const char *dates[] = {"2026-11-25", "2024-02-29", "2000-01-01", "2026-12-31",
                                  "1970-01-01", "9999-12-31", "2026-01-31", "2026-04-30"};
    for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        assert_int_equal(date_of(dates[i], date), 0);
        assert_string_equal(date, dates[i]);
    }
}

static void test_date_rfc3339_prefix(void **state)
{
    (void)state;
    char date[11];
    /* The calendar date as written: an estimate "on the 30th, 01:00 in
     * Berlin" is the 30th, although it is still the 29th in UTC. */
    static const struct {
        const char *s, *date;
    } cases[] = {
        {"2026-11-30T01:00:00+01:00", "2026-11-30"}, {"2026-11-29T23:30:00-05:00", "2026-11-29"},
        {"2026-11-25T10:15:00.123Z", "2026-11-25"},  {"2026-11-25t10:15:00z", "2026-11-25"},
        {"2026-11-25 10:15:00Z", "2026-11-25"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(date_of(cases[i].s, date), 0);
        assert_string_equal(date, cases[i].date);
    }
    /* Dates compare in calendar order with strcmp(). */
    char a[11], b[11];
    assert_int_equal(date_of("2026-12-31T23:00:00Z", a), 0);
    assert_int_equal(date_of("2027-01-01", b), 0);
    assert_true(strcmp(a, b) < 0);
}

static void test_date_garbage(void **state)
{
    (void)state;
    char date[11];
    static const char *bad[] = {
        "",
        "garbage",
        "2026",
        "2026-11",
        "2026-11-2",
        "2026-1-25",
        "26-11-25",
        "2026/11/25",
        " 2026-11-25",
        "2026-11-25junk",
        "2026-11-25Z",
        "2026-11-250",
        "+2026-11-25",
        "2026-11-2a",
        "２０２６-11-25",
        "2026-13-01",
        "2026-00-10",
        "2026-11-00",
        "2026-11-32",
        "2026-99-99T10:00:00Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (date_of(bad[i], date) != -1)
            fail_msg("\"%s\" accepted as %s", bad[i], date);
        /* A refused date leaves an empty string, never the junk. */
        assert_string_equal(date, "");
    }
    assert_int_equal(date_of(NULL, date), -1);
    assert_string_equal(date, "");
}

static void test_date_impossible_days(void **state)
{
    (void)state;
    /* "Returns -1 when s does not start with a valid date": the 30th of
     * February is not one, and ac_time_parse() refuses it too. */
    char date[11];
    static const char *bad[] = {"2026-02-30", "2026-02-29", "2026-04-31", "2100-02-29",
                                "2026-06-31T10:00:00Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms;
        assert_int_equal(ac_time_parse(bad[i], &ms), -1);
        if (date_of(bad[i], date) != -1)
            fail_msg("\"%s\" accepted as the date %s, which ac_time_parse() refuses", bad[i], date);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utc_z),
        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_fractional_seconds),
        cmocka_unit_test(test_bare_date),
        cmocka_unit_test(test_leap_years),
        cmocka_unit_test(test_calendar_bounds),
        cmocka_unit_test(test_leap_second),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_failure_leaves_output_alone),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_format_small_buffer),
        cmocka_unit_test(test_format_matches_printf),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_clocks),
        cmocka_unit_test(test_date_valid),
        cmocka_unit_test(test_date_rfc3339_prefix),
        cmocka_unit_test(test_date_garbage),
        cmocka_unit_test(test_date_impossible_days),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
