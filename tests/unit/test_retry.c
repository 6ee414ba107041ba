/* Retry by age: how long each kind of message is retried, when the next
 * attempt goes and whether it waits in memory or in the schedule, and how
 * a message the circuit holds back waits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "retry.h"

#define SEC  1000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)
#define DAY  (24 * HOUR)

#define SINCE 1795601700000LL /* 2026-11-25T10:15:00Z: the first attempt */

/* notify-worker's defaults: RETRY_BASE 1s, RETRY_MAX 5m, RETRY_FOR 24h,
 * RETRY_FOR_MARKETING 3d, RETRY_DEFER_AFTER 5s, MAX_ATTEMPTS 0. */
static ac_retry_policy_t policy(void)
{
    ac_retry_policy_t p = {
        .base_ms = 1 * SEC,
        .max_ms = 5 * MIN,
        .lifetime_ms = 24 * HOUR,
        .marketing_lifetime_ms = 3 * DAY,
        .defer_after_ms = 5 * SEC,
        .max_attempts = 0,
    };
    return p;
}

/* Fails unless d is action at at_ms, printing both on a mismatch. */
static void check(ac_retry_decision_t d, ac_retry_action_t action, int64_t at_ms, const char *file,
                  int line)
{
    if (d.action != action || (action != AC_RETRY_GIVE_UP && d.at_ms != at_ms)) {
        print_error("expected action %d at %lld, got action %d at %lld\n", (int)action,
                    (long long)at_ms, (int)d.action, (long long)d.at_ms);
        _fail(file, line);
    }
}
#define assert_decision(d, action, at) check((d), (action), (at), __FILE__, __LINE__)

/* ------------------------------------------------------------- lifetime */

/* Review requests and referral invitations are worth sending for longer
 * than a day late (RETRY_FOR_MARKETING); order and shipping news stops
 * being useful sooner (RETRY_FOR). */
static void lifetime_per_kind(void **state)
{
    (void)state;
    ac_retry_policy_t p = policy();
    assert_int_equal(ac_retry_lifetime_ms(&p, AC_KIND_REVIEW_REQUEST), 3 * DAY);
    assert_int_equal(ac_retry_lifetime_ms(&p, AC_KIND_REFERRAL_INVITE), 3 * DAY);
    assert_int_equal(ac_retry_lifetime_ms(&p, AC_KIND_ORDER_CONFIRMATION), 24 * HOUR);
    assert_int_equal(ac_retry_lifetime_ms(&p, AC_KIND_ORDER_CANCELLED), 24 * HOUR);
    assert_int_equal(ac_retry_lifetime_ms(&p, AC_KIND_SHIPPING_UPDATE), 24 * HOUR);
    assert_int_equal(ac_retry_lifetime_ms(&p, AC_KIND_DELAY_NOTICE), 24 * HOUR);
    assert_int_equal(ac_retry_lifetime_ms(&p, AC_KIND_RETURN_CONFIRMATION), 24 * HOUR);
    assert_int_equal(ac_retry_lifetime_ms(&p, AC_KIND_REFUND_NOTICE), 24 * HOUR);
    /* The two settings are independent: a shorter marketing lifetime is
     * honoured too. */
    p.marketing_lifetime_ms = 2 * HOUR;
    assert_int_equal(ac_retry_lifetime_ms(&p, AC_KIND_REVIEW_REQUEST), 2 * HOUR);
    assert_int_equal(ac_retry_lifetime_ms(&p, AC_KIND_ORDER_CONFIRMATION), 24 * HOUR);
}

/* The lifetime counts from the first attempt, not from the event, and a
 * first attempt near the end of time clamps rather than wrapping into the
 * past (which would give up at once). */
static void expiry_counts_from_since(void **state)
{
    (void)state;
    ac_retry_policy_t p = policy();
    assert_int_equal(ac_retry_expires_ms(&p, AC_KIND_ORDER_CONFIRMATION, SINCE), SINCE + DAY);
    assert_int_equal(ac_retry_expires_ms(&p, AC_KIND_REVIEW_REQUEST, SINCE), SINCE + 3 * DAY);
    assert_int_equal(ac_retry_expires_ms(&p, AC_KIND_ORDER_CONFIRMATION, 0), DAY);
    assert_true(ac_retry_expires_ms(&p, AC_KIND_ORDER_CONFIRMATION, INT64_MAX - 1) == INT64_MAX);
    assert_true(ac_retry_expires_ms(&p, AC_KIND_ORDER_CONFIRMATION, INT64_MAX - DAY) == INT64_MAX);
}

/* ----------------------------------------------------------------- next */

/* A short backoff is waited out in memory: the first retry comes after
 * between half and all of RETRY_BASE (jitter from rnd). */
static void next_waits_when_delay_is_short(void **state)
{
    (void)state;
    ac_retry_policy_t p = policy();
    int64_t now = SINCE + 2 * SEC;
    ac_retry_decision_t d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 1, now, -1, 0, 0);
    assert_decision(d, AC_RETRY_WAIT, now + 500);
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 1, now, -1, 0, 500);
    assert_decision(d, AC_RETRY_WAIT, now + 1000);
}

/* A backoff longer than RETRY_DEFER_AFTER goes to the durable schedule,
 * where it holds neither the partition's commit nor memory. */
static void next_defers_when_delay_is_long(void **state)
{
    (void)state;
    ac_retry_policy_t p = policy();
    int64_t now = SINCE + HOUR;
    /* The tenth attempt's ceiling is RETRY_MAX: at least half of it. */
    ac_retry_decision_t d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 10, now, -1, 0, 0);
    assert_decision(d, AC_RETRY_DEFER, now + 150 * SEC);
}

/* The boundary: a delay of exactly RETRY_DEFER_AFTER still waits in
 * memory, one millisecond more is deferred. Retry-After pins the delay. */
static void next_defer_boundary(void **state)
{
    (void)state;
    ac_retry_policy_t p = policy();
    int64_t now = SINCE + MIN;
    ac_retry_decision_t d =
        ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 1, now, 5 * SEC, 0, 0);
    assert_decision(d, AC_RETRY_WAIT, now + 5 * SEC);
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 1, now, 5 * SEC + 1, 0, 0);
    assert_decision(d, AC_RETRY_DEFER, now + 5 * SEC + 1);
    /* RETRY_DEFER_AFTER=0: every retry goes to the schedule. */
    p.defer_after_ms = 0;
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 1, now, -1, 0, 0);
    assert_decision(d, AC_RETRY_DEFER, now + 500);
}

/* The backoff doubles with each attempt from RETRY_BASE up to RETRY_MAX
 * (rnd 0 picks the fixed half), and an attempt count of 0 (the circuit
 * held the message; no attempt was made) backs off like the first. */
static void next_backoff_grows_with_attempts(void **state)
{
    (void)state;
    ac_retry_policy_t p = policy();
    int64_t now = SINCE + MIN;
    const int64_t half_ceiling[] = {500,   500,   1000,   2000,   4000,   8000,  16000,
                                    32000, 64000, 128000, 150000, 150000, 150000};
    for (int a = 0; a < (int)(sizeof(half_ceiling) / sizeof(half_ceiling[0])); a++) {
        ac_retry_decision_t d =
            ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, a, now, -1, 0, 0);
        if (d.action == AC_RETRY_GIVE_UP || d.at_ms != now + half_ceiling[a])
            fail_msg("attempt %d: expected a retry at now + %lld, got action %d at now + %lld", a,
                     (long long)half_ceiling[a], (int)d.action, (long long)(d.at_ms - now));
    }
}

/* Once the lifetime has passed since the first attempt, the message is
 * given up, exactly at the expiry and any time after. */
static void next_gives_up_at_expiry(void **state)
{
    (void)state;
    ac_retry_policy_t p = policy();
    int64_t expires = SINCE + DAY;
    ac_retry_decision_t d =
        ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 3, expires, -1, 0, 0);
    assert_int_equal(d.action, AC_RETRY_GIVE_UP);
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 3, expires + 1, -1, 0, 0);
    assert_int_equal(d.action, AC_RETRY_GIVE_UP);
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 3, expires + 30 * DAY, -1, 0, 0);
    assert_int_equal(d.action, AC_RETRY_GIVE_UP);
    /* A review request of the same age still has two days to go. */
    d = ac_retry_next(&p, AC_KIND_REVIEW_REQUEST, SINCE, 3, expires, -1, 0, 0);
    assert_int_not_equal(d.action, AC_RETRY_GIVE_UP);
    d = ac_retry_next(&p, AC_KIND_REVIEW_REQUEST, SINCE, 3, SINCE + 3 * DAY, -1, 0, 0);
    assert_int_equal(d.action, AC_RETRY_GIVE_UP);
}

/* The next attempt is never scheduled after the expiry: a message one
 * second from it is tried once more right at it, not given up early and
 * not tried "too late". */
static void next_never_after_expiry(void **state)
{
    (void)state;
    ac_retry_policy_t p = policy();
    int64_t expires = SINCE + DAY;
    int64_t now = expires - SEC;
    /* The backoff (at least 150 s at attempt 20) would pass the expiry. */
    ac_retry_decision_t d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 20, now, -1, 0, 0);
    assert_decision(d, AC_RETRY_WAIT, expires);
    /* Nor does a long Retry-After push it past the expiry; ten minutes
     * away, the last attempt is deferred to the schedule. */
    now = expires - 10 * MIN;
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 1, now, 2 * HOUR, 0, 0);
    assert_decision(d, AC_RETRY_DEFER, expires);
    /* One millisecond before the expiry there is still one attempt. */
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 1, expires - 1, -1, 0, 0);
    assert_decision(d, AC_RETRY_WAIT, expires);
}

/* MAX_ATTEMPTS bounds the attempts by count as well: the attempt that
 * reaches it is the last. A held message (0 attempts) is never given up by
 * count, and MAX_ATTEMPTS=0 means no bound by count at all. */
static void next_max_attempts(void **state)
{
    (void)state;
    ac_retry_policy_t p = policy();
    int64_t now = SINCE + MIN;
    p.max_attempts = 5;
    ac_retry_decision_t d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 5, now, -1, 0, 0);
    assert_int_equal(d.action, AC_RETRY_GIVE_UP);
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 6, now, -1, 0, 0);
    assert_int_equal(d.action, AC_RETRY_GIVE_UP);
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 4, now, -1, 0, 0);
    assert_decision(d, AC_RETRY_WAIT, now + 4000);
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 0, now, -1, 0, 0);
    assert_decision(d, AC_RETRY_WAIT, now + 500);
    p.max_attempts = 1;
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 1, now, -1, 0, 0);
    assert_int_equal(d.action, AC_RETRY_GIVE_UP);
    p.max_attempts = 0;
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 1000000, now, -1, 0, 0);
    assert_decision(d, AC_RETRY_DEFER, now + 150 * SEC);
}

/* A provider's Retry-After is a minimum: a longer one replaces the
 * backoff, a shorter one does not shorten it, and 0 is a valid (empty)
 * request to wait. */
static void next_honours_retry_after(void **state)
{
    (void)state;
    ac_retry_policy_t p = policy();
    int64_t now = SINCE + MIN;
    ac_retry_decision_t d =
        ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 1, now, 2 * MIN, 0, 0);
    assert_decision(d, AC_RETRY_DEFER, now + 2 * MIN);
    /* Longer than RETRY_MAX, too: the provider knows when it is back. */
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 1, now, HOUR, 0, 0);
    assert_decision(d, AC_RETRY_DEFER, now + HOUR);
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 4, now, 100, 0, 0);
    assert_decision(d, AC_RETRY_WAIT, now + 4000);
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 1, now, 0, 0, 0);
    assert_decision(d, AC_RETRY_WAIT, now + 500);
}

/* not_before (the channel's circuit or pause) is the earliest attempt:
 * a later one moves the attempt, an earlier one or 0 changes nothing,
 * and one after the expiry still leaves the attempt at the expiry. */
static void next_honours_not_before(void **state)
{
    (void)state;
    ac_retry_policy_t p = policy();
    int64_t now = SINCE + MIN;
    ac_retry_decision_t d =
        ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 1, now, -1, now + 3 * SEC, 0);
    assert_decision(d, AC_RETRY_WAIT, now + 3 * SEC);
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 1, now, -1, now + 20 * MIN, 0);
    assert_decision(d, AC_RETRY_DEFER, now + 20 * MIN);
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 1, now, -1, now + 100, 0);
    assert_decision(d, AC_RETRY_WAIT, now + 500);
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 1, now, -1, now - HOUR, 0);
    assert_decision(d, AC_RETRY_WAIT, now + 500);
    /* Both: the later of Retry-After and not_before. */
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 1, now, 2 * MIN, now + MIN, 0);
    assert_decision(d, AC_RETRY_DEFER, now + 2 * MIN);
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 1, now, MIN, now + 2 * MIN, 0);
    assert_decision(d, AC_RETRY_DEFER, now + 2 * MIN);
    d = ac_retry_next(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, 1, now, -1, SINCE + 2 * DAY, 0);
    assert_decision(d, AC_RETRY_DEFER, SINCE + DAY);
}

/* xorshift64*: a fixed seed makes a failure reproducible. */
static uint64_t next_random(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

/* A value in [lo, hi]. */
static int64_t between(uint64_t *s, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(next_random(s) % (uint64_t)(hi - lo + 1));
}

/* For many random failures, of any kind and age, with or without
 * Retry-After, not_before and MAX_ATTEMPTS, the decision keeps every rule
 * at once: give up exactly when the lifetime or the count is spent;
 * otherwise the next attempt is within [now, expiry], not before what
 * Retry-After and not_before ask (unless the expiry comes first), not
 * later than they and RETRY_MAX require, and in memory exactly when it is
 * at most RETRY_DEFER_AFTER away. */
static void next_random_inputs_keep_the_rules(void **state)
{
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 10000; i++) {
        ac_retry_policy_t p = policy();
        p.base_ms = between(&seed, 10, 10 * SEC);
        p.max_ms = between(&seed, p.base_ms, 10 * MIN);
        p.lifetime_ms = between(&seed, SEC, 2 * DAY);
        p.marketing_lifetime_ms = between(&seed, SEC, 4 * DAY);
        p.defer_after_ms = between(&seed, 0, 10 * SEC);
        p.max_attempts = (int)between(&seed, -10, 20);
        if (p.max_attempts < 0)
            p.max_attempts = 0;
        ac_kind_t kind = (ac_kind_t)between(&seed, 0, AC_KIND__COUNT - 1);
        int64_t now = SINCE + between(&seed, -MIN, 5 * DAY);
        int attempts = (int)between(&seed, 0, 40);
        int64_t retry_after = between(&seed, 0, 3) == 0 ? between(&seed, 0, 3 * HOUR) : -1;
        int64_t not_before = between(&seed, 0, 2) == 0 ? now + between(&seed, -HOUR, DAY) : 0;
        uint32_t rnd = (uint32_t)next_random(&seed);

        ac_retry_decision_t d =
            ac_retry_next(&p, kind, SINCE, attempts, now, retry_after, not_before, rnd);
        int64_t expires = ac_retry_expires_ms(&p, kind, SINCE);
        int spent = now >= expires || (p.max_attempts > 0 && attempts >= p.max_attempts);
        int64_t wait = d.at_ms - now;
        int64_t longest = p.max_ms;
        if (retry_after > longest)
            longest = retry_after;
        if (not_before - now > longest)
            longest = not_before - now;
        int ok = spent ? d.action == AC_RETRY_GIVE_UP
                       : d.action != AC_RETRY_GIVE_UP && d.at_ms >= now && d.at_ms <= expires &&
                             (d.at_ms >= not_before || d.at_ms == expires) &&
                             (retry_after < 0 || wait >= retry_after || d.at_ms == expires) &&
                             wait <= longest &&
                             d.action == (wait > p.defer_after_ms ? AC_RETRY_DEFER : AC_RETRY_WAIT);
        if (!ok)
            fail_msg("case %d: kind %d, attempts %d of %d, now since+%lld, expiry since+%lld, "
                     "retry_after %lld, not_before now%+lld, base %lld, max %lld, defer_after "
                     "%lld: got action %d at now%+lld",
                     i, (int)kind, attempts, p.max_attempts, (long long)(now - SINCE),
                     (long long)(expires - SINCE), (long long)retry_after,
                     (long long)(not_before ? not_before - now : 0), (long long)p.base_ms,
                     (long long)p.max_ms, (long long)p.defer_after_ms, (int)d.action,
                     (long long)wait);
    }
}

/* ----------------------------------------------------------------- hold */

/* A held message waits longer the longer it has been held: half its age,
 * at least RETRY_BASE and at most RETRY_MAX, of which half is fixed and
 * half random (rnd 0 gives the fixed half, rnd = half the full wait). */
static void hold_wait_grows_with_age(void **state)
{
    (void)state;
    ac_retry_policy_t p = policy();
    struct {
        int64_t age, wait;
    } cases[] = {
        {0, 1 * SEC},        /* just held: RETRY_BASE */
        {1 * SEC, 1 * SEC},  /* half of it is below RETRY_BASE */
        {4 * SEC, 2 * SEC},  /* half the age */
        {4 * MIN, 2 * MIN},  /* half the age */
        {10 * MIN, 5 * MIN}, /* half the age is RETRY_MAX */
        {6 * HOUR, 5 * MIN}, /* capped at RETRY_MAX */
        {-5 * MIN, 1 * SEC}, /* a first attempt "in the future" (clock step): RETRY_BASE */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t now = SINCE + cases[i].age, w = cases[i].wait;
        ac_retry_decision_t lo = ac_retry_hold(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, now, 0, 0);
        ac_retry_decision_t hi =
            ac_retry_hold(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, now, 0, (uint32_t)(w / 2));
        if (lo.action == AC_RETRY_GIVE_UP || lo.at_ms != now + w / 2 ||
            hi.action == AC_RETRY_GIVE_UP || hi.at_ms != now + w)
            fail_msg("age %lld: expected waits %lld and %lld, got now%+lld and now%+lld",
                     (long long)cases[i].age, (long long)(w / 2), (long long)w,
                     (long long)(lo.at_ms - now), (long long)(hi.at_ms - now));
        /* In memory for a short wait, in the schedule for a long one. */
        assert_int_equal(lo.action, w / 2 > p.defer_after_ms ? AC_RETRY_DEFER : AC_RETRY_WAIT);
        assert_int_equal(hi.action, w > p.defer_after_ms ? AC_RETRY_DEFER : AC_RETRY_WAIT);
    }
    /* Whatever rnd, the wait is within [half, all] of the full one, and
     * with a fixed rnd it never shrinks as the message ages. */
    int64_t last = 0;
    uint64_t seed = 42;
    for (int64_t age = 0; age <= 2 * HOUR; age += 7 * SEC) {
        int64_t now = SINCE + age;
        ac_retry_decision_t d = ac_retry_hold(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, now, 0, 0);
        assert_true(d.at_ms - now >= last);
        last = d.at_ms - now;
        uint32_t rnd = (uint32_t)next_random(&seed);
        d = ac_retry_hold(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, now, 0, rnd);
        int64_t full = age / 2 < p.base_ms ? p.base_ms : age / 2 > p.max_ms ? p.max_ms : age / 2;
        assert_true(d.at_ms - now >= full / 2);
        assert_true(d.at_ms - now <= full);
    }
}

/* The message never comes back before the channel takes requests again
 * (not_before: the next probe or the end of a pause), however young it
 * is; a not_before sooner than its own wait changes nothing. */
static void hold_never_before_not_before(void **state)
{
    (void)state;
    ac_retry_policy_t p = policy();
    int64_t now = SINCE + SEC;
    ac_retry_decision_t d =
        ac_retry_hold(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, now, now + 30 * SEC, 0);
    assert_decision(d, AC_RETRY_DEFER, now + 30 * SEC);
    d = ac_retry_hold(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, now, now + 3 * SEC, 0);
    assert_decision(d, AC_RETRY_WAIT, now + 3 * SEC);
    d = ac_retry_hold(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, now, now + 100, 0);
    assert_decision(d, AC_RETRY_WAIT, now + 500);
    /* Held for an hour: its own wait (2.5 min at rnd 0) beats a probe due
     * in 30 s, so that it does not come back at every probe. */
    now = SINCE + HOUR;
    d = ac_retry_hold(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, now, now + 30 * SEC, 0);
    assert_decision(d, AC_RETRY_DEFER, now + 150 * SEC);
}

/* A held message is given up once its lifetime has passed, and its last
 * wait ends at the expiry, not after it. */
static void hold_gives_up_after_expiry(void **state)
{
    (void)state;
    ac_retry_policy_t p = policy();
    int64_t expires = SINCE + DAY;
    ac_retry_decision_t d = ac_retry_hold(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, expires, 0, 0);
    assert_int_equal(d.action, AC_RETRY_GIVE_UP);
    d = ac_retry_hold(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, expires + HOUR, 0, 0);
    assert_int_equal(d.action, AC_RETRY_GIVE_UP);
    d = ac_retry_hold(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, expires - 10 * SEC, 0, 0);
    assert_decision(d, AC_RETRY_DEFER, expires);
    d = ac_retry_hold(&p, AC_KIND_ORDER_CONFIRMATION, SINCE, expires - 10 * SEC, expires + HOUR, 0);
    assert_decision(d, AC_RETRY_DEFER, expires);
    /* Marketing messages are held for their own, longer lifetime. */
    d = ac_retry_hold(&p, AC_KIND_REFERRAL_INVITE, SINCE, expires, 0, 0);
    assert_decision(d, AC_RETRY_DEFER, expires + 150 * SEC);
    d = ac_retry_hold(&p, AC_KIND_REFERRAL_INVITE, SINCE, SINCE + 3 * DAY, 0, 0);
    assert_int_equal(d.action, AC_RETRY_GIVE_UP);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lifetime_per_kind),
        cmocka_unit_test(expiry_counts_from_since),
        cmocka_unit_test(next_waits_when_delay_is_short),
        cmocka_unit_test(next_defers_when_delay_is_long),
        cmocka_unit_test(next_defer_boundary),
        cmocka_unit_test(next_backoff_grows_with_attempts),
        cmocka_unit_test(next_gives_up_at_expiry),
        cmocka_unit_test(next_never_after_expiry),
        cmocka_unit_test(next_max_attempts),
        cmocka_unit_test(next_honours_retry_after),
        cmocka_unit_test(next_honours_not_before),
        cmocka_unit_test(next_random_inputs_keep_the_rules),
        cmocka_unit_test(hold_wait_grows_with_age),
        cmocka_unit_test(hold_never_before_not_before),
        cmocka_unit_test(hold_gives_up_after_expiry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
