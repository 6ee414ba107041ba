/* Unit tests for common/journey: the facts each event establishes, how
 * they merge (earliest time wins, whatever order the events came in) and
 * which facts make a message of each kind pointless. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journey.h"
#include "test_util.h"

/* What a test event carries; NULL or 0 leaves the field out. */
typedef struct spec {
    const char *type;
    const char *at;       /* occurred_at */
    const char *promised; /* order.promised_delivery_date */
    const char *consent;  /* customer.marketing_consent as JSON: "true", "false" */
    const char *estimate; /* shipment.estimated_delivery */
    int rating;           /* feedback.rating */
} spec_t;

static ac_event_t *make_event(const spec_t *s)
{
    static int seq;
    char json[2048], order[256], customer[256], extra[256] = "";
    snprintf(order, sizeof(order), "{\"id\":\"ord_1\"%s%s%s}",
             s->promised ? ",\"promised_delivery_date\":\"" : "", s->promised ? s->promised : "",
             s->promised ? "\"" : "");
    snprintf(customer, sizeof(customer), "{\"id\":\"cus_1\"%s%s}",
             s->consent ? ",\"marketing_consent\":" : "", s->consent ? s->consent : "");
    if (s->estimate)
        snprintf(extra, sizeof(extra),
                 ",\"shipment\":{\"id\":\"sh_1\",\"estimated_delivery\":\"%s\"}", s->estimate);
    else if (s->rating)
        snprintf(extra, sizeof(extra), ",\"feedback\":{\"rating\":%d}", s->rating);
    snprintf(json, sizeof(json),
             "{\"event_id\":\"evt_%d\",\"type\":\"%s\",\"occurred_at\":\"%s\","
             "\"store\":{\"id\":\"st_1\"},\"order\":%s,\"customer\":%s%s}",
             ++seq, s->type, s->at ? s->at : "2026-11-25T10:00:00Z", order, customer, extra);
    ac_event_error_t err;
    ac_event_t *ev = ac_event_parse(json, strlen(json), 0, &err);
    if (!ev)
        fail_msg("test event does not parse: %s: %s", err.detail, json);
    return ev;
}

#define EV(...) make_event(&(spec_t){__VA_ARGS__})

/* The facts of ev as a bit set, checking that none is listed twice. */
static unsigned facts_of(const ac_event_t *ev)
{
    ac_fact_t f[AC_FACT__COUNT];
    size_t n = ac_journey_facts(ev, f);
    unsigned bits = 0;
    assert_true(n <= AC_FACT__COUNT);
    for (size_t i = 0; i < n; i++) {
        assert_true(f[i] >= 0 && f[i] < AC_FACT__COUNT);
        if (bits & (1u << f[i]))
            fail_msg("%s listed twice for %s", ac_fact_name(f[i]), ev->type_name);
        bits |= 1u << f[i];
    }
    return bits;
}

#define B(f) (1u << (f))

static void assert_journeys_equal(const ac_journey_t *a, const ac_journey_t *b)
{
    for (int f = 0; f < AC_FACT__COUNT; f++)
        if (a->at[f] != b->at[f])
            fail_msg("%s: %lld vs %lld", ac_fact_name((ac_fact_t)f), (long long)a->at[f],
                     (long long)b->at[f]);
    assert_string_equal(a->promised, b->promised);
}

static void test_fact_names(void **state)
{
    (void)state;
    static const char *names[AC_FACT__COUNT] = {
        "placed",   "cancelled", "shipped", "delivered", "returned",
        "refunded", "feedback",  "unhappy", "consent",
    };
    for (int f = 0; f < AC_FACT__COUNT; f++)
        assert_string_equal(ac_fact_name((ac_fact_t)f), names[f]);
    /* Out of range names nothing real, and never crashes a log line. */
    assert_string_equal(ac_fact_name(AC_FACT__COUNT), "unknown");
    assert_string_equal(ac_fact_name((ac_fact_t)-1), "unknown");
}

static void test_facts_per_type(void **state)
{
    (void)state;
    /* Each type establishes exactly these facts; in particular a refund
     * is not a return (it may be a goodwill gesture) and the shipment
     * news in between establishes nothing. */
    static const struct {
        const char *type;
        unsigned facts;
    } cases[] = {
        {"order.placed", B(AC_FACT_PLACED)},
        {"order.cancelled", B(AC_FACT_CANCELLED)},
        {"shipment.shipped", B(AC_FACT_SHIPPED)},
        {"shipment.in_transit", 0},
        {"shipment.out_for_delivery", 0},
        {"shipment.delayed", 0},
        {"shipment.exception", 0},
        {"shipment.delivered", B(AC_FACT_DELIVERED)},
        {"return.requested", B(AC_FACT_RETURNED)},
        {"return.received", B(AC_FACT_RETURNED)},
        {"return.refunded", B(AC_FACT_REFUNDED)},
        {"loyalty.points_earned", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ac_event_t *ev = EV(.type = cases[i].type);
        if (facts_of(ev) != cases[i].facts)
            fail_msg("%s: facts 0x%x, expected 0x%x", cases[i].type, facts_of(ev), cases[i].facts);
        ac_event_destroy(ev);
        /* Saying no to marketing, explicitly, adds nothing. */
        ev = EV(.type = cases[i].type, .consent = "false");
        assert_int_equal(facts_of(ev), cases[i].facts);
        ac_event_destroy(ev);
        /* Any known event may carry the customer's consent; an unknown one
         * is not trusted to mean anything. */
        ev = EV(.type = cases[i].type, .consent = "true");
        unsigned want = cases[i].facts;
        if (ev->type != AC_EVENT_UNKNOWN)
            want |= B(AC_FACT_CONSENT);
        if (facts_of(ev) != want)
            fail_msg("%s with consent: facts 0x%x, expected 0x%x", cases[i].type, facts_of(ev),
                     want);
        ac_event_destroy(ev);
    }
}

static void test_feedback_facts(void **state)
{
    (void)state;
    /* Three stars or fewer is an unhappy customer; four and five are not. */
    for (int rating = 1; rating <= 5; rating++) {
        ac_event_t *ev = EV(.type = "feedback.received", .rating = rating);
        unsigned want = B(AC_FACT_FEEDBACK);
        if (rating <= AC_JOURNEY_UNHAPPY_RATING)
            want |= B(AC_FACT_UNHAPPY);
        if (facts_of(ev) != want)
            fail_msg("rating %d: facts 0x%x, expected 0x%x", rating, facts_of(ev), want);
        ac_event_destroy(ev);
    }
    assert_int_equal(AC_JOURNEY_UNHAPPY_RATING, 3);
    ac_event_t *ev = EV(.type = "feedback.received", .rating = 5, .consent = "true");
    assert_int_equal(facts_of(ev), B(AC_FACT_FEEDBACK) | B(AC_FACT_CONSENT));
    ac_event_destroy(ev);
}

static void test_merge_records_time(void **state)
{
    (void)state;
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    ac_event_t *ev = EV(.type = "feedback.received", .at = "2026-12-01T09:00:00Z", .rating = 2,
                        .consent = "true");
    ac_journey_merge(&j, ev);
    /* Every fact of the event gets the event's time, and no other fact
     * is touched. */
    for (int f = 0; f < AC_FACT__COUNT; f++) {
        int set = f == AC_FACT_FEEDBACK || f == AC_FACT_UNHAPPY || f == AC_FACT_CONSENT;
        assert_int_equal(j.at[f], set ? ev->occurred_ms : 0);
    }
    assert_string_equal(j.promised, "");
    ac_event_destroy(ev);
}

static void test_merge_earliest_wins(void **state)
{
    (void)state;
    ac_event_t *early = EV(.type = "shipment.delivered", .at = "2026-11-28T12:00:00Z");
    ac_event_t *late = EV(.type = "shipment.delivered", .at = "2026-11-29T12:00:00Z");
    ac_journey_t a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    ac_journey_merge(&a, early);
    ac_journey_merge(&a, late);
    ac_journey_merge(&b, late);
    ac_journey_merge(&b, early);
    /* A later report of a fact never moves it, an earlier one always does. */
    assert_int_equal(a.at[AC_FACT_DELIVERED], early->occurred_ms);
    assert_int_equal(b.at[AC_FACT_DELIVERED], early->occurred_ms);
    /* Merging the same event again changes nothing. */
    ac_journey_merge(&b, early);
    assert_journeys_equal(&a, &b);
    ac_event_destroy(early);
    ac_event_destroy(late);
}

static void test_merge_before_epoch_is_kept(void **state)
{
    (void)state;
    /* Time 0 means "not known", so a fact at any other time, however
     * early, replaces it. */
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    ac_event_t *ev = EV(.type = "order.placed", .at = "1970-01-01T00:00:01Z");
    ac_journey_merge(&j, ev);
    assert_int_equal(j.at[AC_FACT_PLACED], 1000);
    ac_event_destroy(ev);
}

static void test_merge_unknown_type_adds_nothing(void **state)
{
    (void)state;
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    ac_event_t *ev = EV(.type = "loyalty.points_earned", .consent = "true");
    ac_journey_merge(&j, ev);
    for (int f = 0; f < AC_FACT__COUNT; f++)
        assert_int_equal(j.at[f], 0);
    ac_event_destroy(ev);
}

static void test_promised_first_valid_wins(void **state)
{
    (void)state;
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    ac_event_t *none = EV(.type = "order.placed");
    ac_event_t *bad = EV(.type = "order.placed", .promised = "next week");
    ac_event_t *first = EV(.type = "shipment.shipped", .promised = "2026-11-28T18:00:00+01:00");
    ac_event_t *second = EV(.type = "shipment.delivered", .promised = "2026-12-05");
    /* Events without a (usable) date leave it unknown. */
    ac_journey_merge(&j, none);
    assert_string_equal(j.promised, "");
    ac_journey_merge(&j, bad);
    assert_string_equal(j.promised, "");
    /* The first valid one is kept as a bare date... */
    ac_journey_merge(&j, first);
    assert_string_equal(j.promised, "2026-11-28");
    /* ... and a different promise later does not replace it. */
    ac_journey_merge(&j, second);
    assert_string_equal(j.promised, "2026-11-28");
    ac_journey_merge(&j, bad);
    assert_string_equal(j.promised, "2026-11-28");
    ac_event_destroy(none);
    ac_event_destroy(bad);
    ac_event_destroy(first);
    ac_event_destroy(second);
}

/* Merges evs in every order and checks that all give the first's journey. */
static size_t check_all_orders(ac_event_t **evs, size_t n, ac_journey_t *first)
{
    size_t idx[8], perms = 0;
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    do {
        ac_journey_t j;
        memset(&j, 0, sizeof(j));
        for (size_t i = 0; i < n; i++)
            ac_journey_merge(&j, evs[idx[i]]);
        if (perms++ == 0)
            *first = j;
        else
            assert_journeys_equal(&j, first);
    } while (ac_test_next_permutation(idx, n));
    return perms;
}

static void test_merge_any_order_same_journey(void **state)
{
    (void)state;
    /* An order's events from three topics, with a carrier that reported
     * the delivery twice and an unhappy rating: every one of the 720
     * processing orders must leave the same journey. */
    ac_event_t *evs[] = {
        EV(.type = "order.placed", .at = "2026-11-25T10:00:00Z", .promised = "2026-11-28",
           .consent = "true"),
        EV(.type = "shipment.shipped", .at = "2026-11-26T08:00:00Z", .estimate = "2026-11-30"),
        EV(.type = "shipment.delivered", .at = "2026-11-29T15:00:00Z"),
        EV(.type = "shipment.delivered", .at = "2026-11-29T16:30:00Z", .consent = "true"),
        EV(.type = "feedback.received", .at = "2026-12-01T09:00:00Z", .rating = 2),
        EV(.type = "return.requested", .at = "2026-12-02T11:00:00Z"),
    };
    size_t n = sizeof(evs) / sizeof(evs[0]);
    ac_journey_t j;
    assert_int_equal(check_all_orders(evs, n, &j), 720);
    assert_int_equal(j.at[AC_FACT_PLACED], evs[0]->occurred_ms);
    assert_int_equal(j.at[AC_FACT_SHIPPED], evs[1]->occurred_ms);
    assert_int_equal(j.at[AC_FACT_DELIVERED], evs[2]->occurred_ms);
    assert_int_equal(j.at[AC_FACT_FEEDBACK], evs[4]->occurred_ms);
    assert_int_equal(j.at[AC_FACT_UNHAPPY], evs[4]->occurred_ms);
    assert_int_equal(j.at[AC_FACT_RETURNED], evs[5]->occurred_ms);
    /* Consent is as early as the first event that gave it. */
    assert_int_equal(j.at[AC_FACT_CONSENT], evs[0]->occurred_ms);
    assert_int_equal(j.at[AC_FACT_CANCELLED], 0);
    assert_int_equal(j.at[AC_FACT_REFUNDED], 0);
    assert_string_equal(j.promised, "2026-11-28");
    for (size_t i = 0; i < n; i++)
        ac_event_destroy(evs[i]);
}

static void test_merge_any_order_returns(void **state)
{
    (void)state;
    /* A return requested, received (reported twice) and refunded: the
     * returned fact is the request's time in every order, and the refund
     * stays its own fact. */
    ac_event_t *evs[] = {
        EV(.type = "shipment.delivered", .at = "2026-11-29T15:00:00Z", .promised = "2026-11-30"),
        EV(.type = "return.received", .at = "2026-12-05T10:00:00Z"),
        EV(.type = "return.requested", .at = "2026-12-02T11:00:00Z"),
        EV(.type = "return.refunded", .at = "2026-12-06T10:00:00Z"),
        EV(.type = "return.received", .at = "2026-12-05T09:00:00Z"),
    };
    size_t n = sizeof(evs) / sizeof(evs[0]);
    ac_journey_t j;
    assert_int_equal(check_all_orders(evs, n, &j), 120);
    assert_int_equal(j.at[AC_FACT_RETURNED], evs[2]->occurred_ms);
    assert_int_equal(j.at[AC_FACT_REFUNDED], evs[3]->occurred_ms);
    assert_int_equal(j.at[AC_FACT_DELIVERED], evs[0]->occurred_ms);
    assert_string_equal(j.promised, "2026-11-30");
    for (size_t i = 0; i < n; i++)
        ac_event_destroy(evs[i]);
}

static void test_blockers_table(void **state)
{
    (void)state;
    static const struct {
        ac_kind_t kind;
        unsigned blockers;
    } cases[] = {
        {AC_KIND_ORDER_CONFIRMATION, 0},
        {AC_KIND_ORDER_CANCELLED, 0},
        {AC_KIND_SHIPPING_UPDATE,
         B(AC_FACT_CANCELLED) | B(AC_FACT_DELIVERED) | B(AC_FACT_RETURNED)},
        {AC_KIND_DELAY_NOTICE, B(AC_FACT_CANCELLED) | B(AC_FACT_DELIVERED) | B(AC_FACT_RETURNED)},
        {AC_KIND_REVIEW_REQUEST, B(AC_FACT_CANCELLED) | B(AC_FACT_RETURNED) | B(AC_FACT_FEEDBACK)},
        {AC_KIND_REFERRAL_INVITE, B(AC_FACT_CANCELLED) | B(AC_FACT_RETURNED) | B(AC_FACT_UNHAPPY)},
        {AC_KIND_RETURN_CONFIRMATION, 0},
        {AC_KIND_REFUND_NOTICE, 0},
        {AC_KIND_FEEDBACK_FOLLOWUP, 0},
        {AC_KIND_STORE_ALERT, 0},
    };
    assert_int_equal(sizeof(cases) / sizeof(cases[0]), AC_KIND__COUNT);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (ac_journey_blockers(cases[i].kind) != cases[i].blockers)
            fail_msg("%s: blockers 0x%x, expected 0x%x", ac_kind_name(cases[i].kind),
                     ac_journey_blockers(cases[i].kind), cases[i].blockers);
}

static void test_blockers_csv_matches_bits(void **state)
{
    (void)state;
    /* The Lua scripts read the csv, the C rules the bits: they must name
     * the same facts, each once, or a message is checked differently when
     * it is scheduled than when it fires. */
    for (int k = 0; k < AC_KIND__COUNT; k++) {
        const char *csv = ac_journey_blockers_csv((ac_kind_t)k);
        assert_non_null(csv);
        unsigned bits = 0;
        char buf[128];
        snprintf(buf, sizeof(buf), "%s", csv);
        for (char *save = NULL, *name = strtok_r(buf, ",", &save); name;
             name = strtok_r(NULL, ",", &save)) {
            int f = 0;
            while (f < AC_FACT__COUNT && strcmp(ac_fact_name((ac_fact_t)f), name) != 0)
                f++;
            if (f == AC_FACT__COUNT)
                fail_msg("%s: \"%s\" is not a fact", ac_kind_name((ac_kind_t)k), name);
            if (bits & B(f))
                fail_msg("%s: \"%s\" listed twice", ac_kind_name((ac_kind_t)k), name);
            bits |= B(f);
        }
        /* No stray separators either: the csv is exactly the names joined. */
        assert_not_contains(csv, ",,");
        assert_true(csv[0] != ',' && (csv[0] == '\0' || csv[strlen(csv) - 1] != ','));
        if (bits != ac_journey_blockers((ac_kind_t)k))
            fail_msg("%s: csv \"%s\" is 0x%x, bits are 0x%x", ac_kind_name((ac_kind_t)k), csv, bits,
                     ac_journey_blockers((ac_kind_t)k));
    }
    assert_string_equal(ac_journey_blockers_csv(AC_KIND__COUNT), "");
    assert_int_equal(ac_journey_blockers(AC_KIND__COUNT), 0);
}

static void test_blocked_by_each_fact(void **state)
{
    (void)state;
    /* Every (kind, fact) pair: blocked exactly when the fact is one of the
     * kind's blockers and happened at or before the time asked about. */
    const int64_t t = 1795601700000LL;
    for (int k = 0; k < AC_KIND__COUNT; k++) {
        for (int f = 0; f < AC_FACT__COUNT; f++) {
            ac_journey_t j;
            memset(&j, 0, sizeof(j));
            j.at[f] = t;
            int want = (ac_journey_blockers((ac_kind_t)k) & B(f)) != 0;
            ac_fact_t why = AC_FACT__COUNT;
            assert_int_equal(ac_journey_blocked(&j, (ac_kind_t)k, t - 1, &why), 0);
            assert_int_equal(why, AC_FACT__COUNT);
            assert_int_equal(ac_journey_blocked(&j, (ac_kind_t)k, t, &why), want);
            assert_int_equal(ac_journey_blocked(&j, (ac_kind_t)k, t + 86400000LL, NULL), want);
            if (want)
                assert_int_equal(why, f);
            else
                assert_int_equal(why, AC_FACT__COUNT);
        }
    }
}

static void test_blocked_why_is_earliest(void **state)
{
    (void)state;
    /* A review request blocked by a return on the 2nd, feedback on the
     * 3rd and a cancellation (however unlikely) on the 4th. */
    const int64_t day = 86400000LL, t0 = 1795564800000LL;
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    j.at[AC_FACT_CANCELLED] = t0 + 4 * day;
    j.at[AC_FACT_FEEDBACK] = t0 + 3 * day;
    j.at[AC_FACT_RETURNED] = t0 + 2 * day;
    j.at[AC_FACT_DELIVERED] = t0 + day; /* not a blocker of reviews */
    ac_fact_t why;
    assert_false(ac_journey_blocked(&j, AC_KIND_REVIEW_REQUEST, t0 + day, &why));
    assert_true(ac_journey_blocked(&j, AC_KIND_REVIEW_REQUEST, t0 + 10 * day, &why));
    assert_int_equal(why, AC_FACT_RETURNED);
    /* Facts after the time asked about do not count, so the earliest one
     * that does is the reason. */
    j.at[AC_FACT_RETURNED] = t0 + 5 * day;
    assert_true(ac_journey_blocked(&j, AC_KIND_REVIEW_REQUEST, t0 + 3 * day, &why));
    assert_int_equal(why, AC_FACT_FEEDBACK);
    assert_true(ac_journey_blocked(&j, AC_KIND_REVIEW_REQUEST, t0 + 10 * day, &why));
    assert_int_equal(why, AC_FACT_FEEDBACK);
    /* For a shipping update the delivery, being first, is the reason. */
    assert_true(ac_journey_blocked(&j, AC_KIND_SHIPPING_UPDATE, t0 + 10 * day, &why));
    assert_int_equal(why, AC_FACT_DELIVERED);
    /* Confirmations answer what just happened: never blocked. */
    for (int f = 0; f < AC_FACT__COUNT; f++)
        j.at[f] = t0;
    assert_false(ac_journey_blocked(&j, AC_KIND_ORDER_CONFIRMATION, t0 + day, NULL));
    assert_false(ac_journey_blocked(&j, AC_KIND_RETURN_CONFIRMATION, t0 + day, NULL));
    assert_false(ac_journey_blocked(&j, AC_KIND_REFUND_NOTICE, t0 + day, NULL));
    assert_false(ac_journey_blocked(&j, AC_KIND_ORDER_CANCELLED, t0 + day, NULL));
}

static void test_blocked_empty_journey(void **state)
{
    (void)state;
    ac_journey_t j;
    memset(&j, 0, sizeof(j));
    for (int k = 0; k < AC_KIND__COUNT; k++)
        assert_false(ac_journey_blocked(&j, (ac_kind_t)k, INT64_MAX, NULL));
}

static void test_key(void **state)
{
    (void)state;
    char a[600], b[600], c[600];
    ac_journey_key("st_berlin", "ord_5001", a, sizeof(a));
    assert_string_equal(a, "ac:j:9:st_berlin:ord_5001");
    /* The store's length is part of the key, so ids with colons cannot
     * make two orders share a journey. */
    ac_journey_key("a:b", "c", a, sizeof(a));
    ac_journey_key("a", "b:c", b, sizeof(b));
    assert_string_not_equal(a, b);
    /* No store reads as the empty store. */
    ac_journey_key(NULL, "ord_1", b, sizeof(b));
    ac_journey_key("", "ord_1", c, sizeof(c));
    assert_string_equal(b, "ac:j:0::ord_1");
    assert_string_equal(b, c);
    /* A small buffer is never overrun. */
    char small[8];
    memset(small, 'x', sizeof(small));
    ac_journey_key("st_berlin", "ord_5001", small, sizeof(small));
    assert_string_equal(small, "ac:j:9:");
}

static void test_parse(void **state)
{
    (void)state;
    /* What HGETALL returns, including the scheduler's markers. */
    const char *fields[] = {"placed",   "s:review_request", "delivered",
                            "promised", "unhappy",          "nonsense"};
    const char *values[] = {"1795564800000", "1796169600000", "1795880000000",
                            "2026-11-28",    "1796000000000", "42"};
    ac_journey_t j;
    memset(&j, 0x5a, sizeof(j));
    ac_journey_parse(fields, values, 6, &j);
    assert_int_equal(j.at[AC_FACT_PLACED], 1795564800000LL);
    assert_int_equal(j.at[AC_FACT_DELIVERED], 1795880000000LL);
    assert_int_equal(j.at[AC_FACT_UNHAPPY], 1796000000000LL);
    assert_int_equal(j.at[AC_FACT_RETURNED], 0);
    assert_int_equal(j.at[AC_FACT_FEEDBACK], 0);
    assert_string_equal(j.promised, "2026-11-28");
    /* Nothing at all is an empty journey. */
    ac_journey_parse(NULL, NULL, 0, &j);
    for (int f = 0; f < AC_FACT__COUNT; f++)
        assert_int_equal(j.at[f], 0);
    assert_string_equal(j.promised, "");
    /* Every fact name round-trips. */
    for (int f = 0; f < AC_FACT__COUNT; f++) {
        const char *name = ac_fact_name((ac_fact_t)f);
        const char *value = "123456";
        ac_journey_parse(&name, &value, 1, &j);
        assert_int_equal(j.at[f], 123456);
    }
}

/* A retry of news about one parcel, put back into the schedule, is
 * checked at fire time only against what stops it for every parcel: the
 * item does not say which parcel "delivered" is about. */
static void test_order_blockers(void **state)
{
    (void)state;
    assert_string_equal(ac_journey_order_blockers_csv(AC_KIND_SHIPPING_UPDATE),
                        "cancelled,returned");
    assert_string_equal(ac_journey_order_blockers_csv(AC_KIND_DELAY_NOTICE), "cancelled,returned");
    assert_string_equal(ac_journey_order_blockers_csv(AC_KIND_REVIEW_REQUEST),
                        ac_journey_blockers_csv(AC_KIND_REVIEW_REQUEST));
    assert_string_equal(ac_journey_order_blockers_csv(AC_KIND_ORDER_CONFIRMATION), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fact_names),
        cmocka_unit_test(test_facts_per_type),
        cmocka_unit_test(test_feedback_facts),
        cmocka_unit_test(test_merge_records_time),
        cmocka_unit_test(test_merge_earliest_wins),
        cmocka_unit_test(test_merge_before_epoch_is_kept),
        cmocka_unit_test(test_merge_unknown_type_adds_nothing),
        cmocka_unit_test(test_promised_first_valid_wins),
        cmocka_unit_test(test_merge_any_order_same_journey),
        cmocka_unit_test(test_merge_any_order_returns),
        cmocka_unit_test(test_blockers_table),
        cmocka_unit_test(test_blockers_csv_matches_bits),
        cmocka_unit_test(test_blocked_by_each_fact),
        cmocka_unit_test(test_blocked_why_is_earliest),
        cmocka_unit_test(test_blocked_empty_journey),
        cmocka_unit_test(test_key),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_order_blockers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
