/* Unit tests for common/prefs: which kinds are marketing, quiet hours in
 * the customer's time zone, and the keys. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "prefs.h"
#include "timeutil.h"

static int64_t at(const char *rfc3339)
{
    int64_t ms;
    assert_int_equal(ac_time_parse(rfc3339, &ms), 0);
    return ms;
}

static void test_marketing_kinds(void **state)
{
    (void)state;
    for (int k = 0; k < AC_KIND__COUNT; k++)
        assert_int_equal(ac_prefs_marketing((ac_kind_t)k),
                         k == AC_KIND_REVIEW_REQUEST || k == AC_KIND_REFERRAL_INVITE);
}

static void test_parse_quiet(void **state)
{
    (void)state;
    ac_quiet_t q;
    char why[128];
    assert_int_equal(ac_prefs_parse_quiet("21:00-08:00", &q, why, sizeof(why)), 0);
    assert_int_equal(q.start_s, 21 * 3600);
    assert_int_equal(q.end_s, 8 * 3600);
    assert_int_equal(ac_prefs_parse_quiet("12:30:15-12:30:45", &q, why, sizeof(why)), 0);
    assert_int_equal(q.start_s, 12 * 3600 + 30 * 60 + 15);
    assert_int_equal(q.end_s, 12 * 3600 + 30 * 60 + 45);
    assert_int_equal(ac_prefs_parse_quiet("off", &q, why, sizeof(why)), 0);
    assert_int_equal(q.start_s, q.end_s);
    assert_int_equal(ac_prefs_parse_quiet("22:00-24:00", &q, why, sizeof(why)), 0);
    static const char *bad[] = {"",
                                "21-08",
                                "21:00",
                                "21:00-",
                                "25:00-08:00",
                                "21:60-08:00",
                                "21:00-08:00 ",
                                "night",
                                "21:00-08:00-09:00",
                                "24:01-08:00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        if (ac_prefs_parse_quiet(bad[i], &q, why, sizeof(why)) != -1)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_non_null(strstr(why, "HH:MM"));
    }
}

static void test_quiet_until_wrapping_window(void **state)
{
    (void)state;
    ac_quiet_t q = {21 * 3600, 8 * 3600};
    /* Berlin in winter is UTC+1. */
    int cet = 3600;
    /* 19:59 local: fine. */
    int64_t t = at("2026-11-25T18:59:00Z");
    assert_int_equal(ac_prefs_quiet_until(&q, t, cet), t);
    /* 21:00 local exactly: quiet until 08:00 local next day = 07:00Z. */
    t = at("2026-11-25T20:00:00Z");
    assert_int_equal(ac_prefs_quiet_until(&q, t, cet), at("2026-11-26T07:00:00Z"));
    /* 02:30 local: until 08:00 local the same day. */
    t = at("2026-11-26T01:30:00Z");
    assert_int_equal(ac_prefs_quiet_until(&q, t, cet), at("2026-11-26T07:00:00Z"));
    /* 08:00 local: the window has ended. */
    t = at("2026-11-26T07:00:00Z");
    assert_int_equal(ac_prefs_quiet_until(&q, t, cet), t);
    /* New York (UTC-5): 23:15 local is 04:15Z the next day. */
    t = at("2026-11-26T04:15:00Z");
    assert_int_equal(ac_prefs_quiet_until(&q, t, -5 * 3600), at("2026-11-26T13:00:00Z"));
    /* Milliseconds do not leak into the result: the end is a whole second. */
    t = at("2026-11-26T01:30:00.750Z");
    assert_int_equal(ac_prefs_quiet_until(&q, t, cet), at("2026-11-26T07:00:00Z"));
}

static void test_quiet_until_daytime_window(void **state)
{
    (void)state;
    ac_quiet_t q = {12 * 3600, 14 * 3600};
    int64_t t = at("2026-11-25T11:59:59Z");
    assert_int_equal(ac_prefs_quiet_until(&q, t, 0), t);
    t = at("2026-11-25T12:00:00Z");
    assert_int_equal(ac_prefs_quiet_until(&q, t, 0), at("2026-11-25T14:00:00Z"));
    t = at("2026-11-25T13:59:59Z");
    assert_int_equal(ac_prefs_quiet_until(&q, t, 0), at("2026-11-25T14:00:00Z"));
    t = at("2026-11-25T14:00:00Z");
    assert_int_equal(ac_prefs_quiet_until(&q, t, 0), t);
    /* Off: never quiet. */
    ac_quiet_t off = {0, 0};
    assert_int_equal(ac_prefs_quiet_until(&off, t, 0), t);
    /* Times before 1970 still land in the right local day. */
    t = at("1969-12-31T12:30:00Z");
    assert_int_equal(ac_prefs_quiet_until(&q, t, 0), at("1969-12-31T14:00:00Z"));
}

static void test_utc_offset(void **state)
{
    (void)state;
    int off = 12345;
    /* tools/deps.sh installs tzdata: the zones are there. */
    {
        assert_int_equal(ac_prefs_utc_offset("Europe/Berlin", at("2026-01-15T12:00:00Z"), &off), 0);
        assert_int_equal(off, 3600);
        assert_int_equal(ac_prefs_utc_offset("Europe/Berlin", at("2026-07-15T12:00:00Z"), &off), 0);
        assert_int_equal(off, 7200);
        assert_int_equal(ac_prefs_utc_offset("America/New_York", at("2026-01-15T12:00:00Z"), &off),
                         0);
        assert_int_equal(off, -5 * 3600);
        /* The cache answers again with the same figure. */
        assert_int_equal(ac_prefs_utc_offset("Europe/Berlin", at("2026-07-15T12:10:00Z"), &off), 0);
        assert_int_equal(off, 7200);
    }
    /* Unknown zones, and names that would escape the zone directory. */
    static const char *bad[] = {"Mars/Olympus_Mons", "", "../../etc/passwd", "/etc/localtime"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(ac_prefs_utc_offset(bad[i], at("2026-01-15T12:00:00Z"), &off), -1);
    assert_int_equal(ac_prefs_utc_offset(NULL, 0, &off), -1);
}

static void test_keys(void **state)
{
    (void)state;
    char a[128], b[128];
    ac_prefs_key("st_1", "cus_1", a, sizeof(a));
    ac_prefs_sends_key("st_1", "cus_1", b, sizeof(b));
    assert_string_equal(a, "ac:p:4:st_1:cus_1");
    assert_string_equal(b, "{ac:p:4:st_1:cus_1}:f");
    /* The store's length keeps "a:b" + "c" apart from "a" + "b:c". */
    ac_prefs_key("a:b", "c", a, sizeof(a));
    ac_prefs_key("a", "b:c", b, sizeof(b));
    assert_string_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_marketing_kinds),
        cmocka_unit_test(test_parse_quiet),
        cmocka_unit_test(test_quiet_until_wrapping_window),
        cmocka_unit_test(test_quiet_until_daytime_window),
        cmocka_unit_test(test_utc_offset),
        cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
