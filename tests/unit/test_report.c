/* The retention report's formulas (common/report.c and its parts).
 *
 * Most cases are small and hand-made, over March 2024 in UTC (days
 * 19783..19813, the previous period 2024-01-30..2024-02-29), with the
 * expected numbers worked out in the comments. A generated case of
 * 200,000 orders is checked against what the generator knows of each
 * customer, and a million orders are timed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "report.h"
#include "test_util.h"

#define DAY_MS     86400000LL
#define HOUR_MS    3600000LL
#define FROM_DAY   19783 /* 2024-03-01 */
#define TO_DAY     19813 /* 2024-03-31 */
#define PREV_DAY   19752 /* 2024-01-30 */
#define MARCH_2024 (2024 * 12 + 2)
#define N(a)       (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ helpers */

/* Hour h of the day d days after 2024-03-01 (negative: before), UTC. */
static int64_t at(int d, int h)
{
    return (FROM_DAY + (int64_t)d) * DAY_MS + h * HOUR_MS;
}

/* The calendar month of a time as year * 12 + (month - 1), by the C
 * library, independently of the module's own date arithmetic. */
static int month_of(int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    return (tm.tm_year + 1900) * 12 + tm.tm_mon;
}

static int day_of(int64_t ms)
{
    return (int)((ms >= 0 ? ms : ms - DAY_MS + 1) / DAY_MS);
}

static ac_report_order_t ord(const char *id, const char *customer, int64_t ms)
{
    return (ac_report_order_t){id, customer, ms, month_of(ms)};
}

static ac_report_rating_t rat(const char *order, const char *customer, int stars, int64_t ms)
{
    return (ac_report_rating_t){order, customer, stars, ms};
}

static ac_report_msg_t sent(const char *id, const char *kind, const char *order,
                            const char *customer, const char *channel, int64_t ms)
{
    return (ac_report_msg_t){id, kind, order, customer, channel, NULL, ms, day_of(ms)};
}

static ac_report_msg_t supp(const char *id, const char *kind, const char *order,
                            const char *customer, const char *reason, int64_t ms)
{
    return (ac_report_msg_t){id, kind, order, customer, NULL, reason, ms, day_of(ms)};
}

/* March 2024 in UTC with nothing recorded. */
static ac_report_input_t march(void)
{
    return (ac_report_input_t){
        .store = "st_alpenglow",
        .timezone = "UTC",
        .from = "2024-03-01",
        .to = "2024-03-31",
        .prev_from = "2024-01-30",
        .prev_to = "2024-02-29",
        .from_ms = FROM_DAY * DAY_MS,
        .to_ms = (TO_DAY + 1) * DAY_MS,
        .prev_from_ms = PREV_DAY * DAY_MS,
        .from_day = FROM_DAY,
        .to_day = TO_DAY,
        .from_month = MARCH_2024,
        .to_month = MARCH_2024,
    };
}

#define ORDERS(in, a)  ((in).orders = (a), (in).n_orders = N(a))
#define RATINGS(in, a) ((in).ratings = (a), (in).n_ratings = N(a))
#define MSGS(in, a)    ((in).msgs = (a), (in).n_msgs = N(a))

/* Computes the report, failing the test when it is refused. */
static json_object *compute(const ac_report_input_t *in)
{
    char err[256] = "";
    json_object *r = ac_report_compute(in, err, sizeof(err));
    if (!r)
        fail_msg("ac_report_compute: %s", err);
    return r;
}

/* The node at a dotted path ("holdout.referral_invite.messaged.csat",
 * "volume.3.sent"); a JSON null is NULL. */
static json_object *node(json_object *o, const char *path)
{
    char buf[256], *save = NULL;
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *t = strtok_r(buf, ".", &save); t; t = strtok_r(NULL, ".", &save)) {
        if (json_object_is_type(o, json_type_array)) {
            size_t i = strtoul(t, NULL, 10);
            if (i >= json_object_array_length(o))
                fail_msg("%s: index %zu out of range", path, i);
            o = json_object_array_get_idx(o, i);
        } else if (!json_object_object_get_ex(o, t, &o)) {
            fail_msg("%s: no member \"%s\"", path, t);
        }
    }
    return o;
}

/* The JSON text at path, exactly as the renderers will read it. */
static const char *text(json_object *o, const char *path)
{
    return json_object_to_json_string_ext(node(o, path), JSON_C_TO_STRING_PLAIN);
}

static int64_t num(json_object *o, const char *path)
{
    json_object *n = node(o, path);
    if (!json_object_is_type(n, json_type_int))
        fail_msg("%s: %s is not an integer", path, text(o, path));
    return json_object_get_int64(n);
}

static size_t len(json_object *o, const char *path)
{
    return json_object_array_length(node(o, path));
}

/* ------------------------------------------------------------ rounding */

static void round1_half_away_from_zero(void **state)
{
    (void)state;
    assert_true(ac_report_round1(100.0 * 2 / 3) == 66.7);
    assert_true(ac_report_round1(100.0 / 8) == 12.5);
    assert_true(ac_report_round1(100.0 / 16) == 6.3); /* 6.25 */
    assert_true(ac_report_round1(-6.25) == -6.3);
    assert_true(ac_report_round1(0.05) == 0.1);
    assert_true(ac_report_round1(100.0) == 100.0);
    assert_true(ac_report_round1(12.34) == 12.3);
    /* A small negative rounds to 0.0, not -0.0. */
    double z = ac_report_round1(-0.04);
    assert_true(z == 0.0);
    char buf[16];
    snprintf(buf, sizeof(buf), "%.1f", z);
    assert_string_equal(buf, "0.0");
}

/* The same through the report: repeat customers 2 of 3, 1 of 8, 1 of 16, 1 of 40,
 * and 7 returns of 2,000 orders, 0.35 %, a half in decimal that no
 * double holds exactly, which must still round up. */
static void rates_round_half_away_from_zero(void **state)
{
    (void)state;
    static const struct {
        int customers, repeat;
        const char *want;
    } cases[] = {{3, 2, "66.7"}, {8, 1, "12.5"}, {16, 1, "6.3"}, {40, 1, "2.5"}};
    for (size_t c = 0; c < N(cases); c++) {
        ac_report_order_t o[64];
        char ids[64][16], custs[64][16];
        size_t n = 0;
        for (int i = 0; i < cases[c].customers; i++) {
            int orders = i < cases[c].repeat ? 2 : 1;
            for (int k = 0; k < orders; k++, n++) {
                snprintf(ids[n], sizeof(ids[n]), "o%zu", n);
                snprintf(custs[n], sizeof(custs[n]), "c%d", i);
                o[n] = ord(ids[n], custs[n], at(1 + k, 12));
            }
        }
        ac_report_input_t in = march();
        in.orders = o;
        in.n_orders = n;
        json_object *r = compute(&in);
        assert_string_equal(text(r, "repeat_purchase_rate"), cases[c].want);
        json_object_put(r);
    }

    enum { ORDERS = 2000 };
    ac_report_order_t *o = calloc(ORDERS, sizeof(*o));
    char(*ids)[16] = calloc(ORDERS, sizeof(*ids));
    const char *returned[7];
    assert_non_null(o);
    assert_non_null(ids);
    for (int i = 0; i < ORDERS; i++) {
        snprintf(ids[i], sizeof(ids[i]), "o%04d", i);
        o[i] = ord(ids[i], ids[i], at(i % 31, 8));
    }
    for (int i = 0; i < 7; i++)
        returned[i] = ids[i * 100];
    ac_report_input_t in = march();
    in.orders = o;
    in.n_orders = ORDERS;
    in.returned = returned;
    in.n_returned = 7;
    json_object *r = compute(&in);
    assert_int_equal(num(r, "returned_orders"), 7);
    assert_string_equal(text(r, "return_rate"), "0.4");
    json_object_put(r);
    free(o);
    free(ids);
}

/* ------------------------------------------------------------ formulas */

/* Every headline formula on five customers:
 *   alice: a1 (Mar 3), a2 (Mar 11)      in the period twice: repeat, new
 *   bob:   b0 (Feb 25), b1 (Mar 4)      previous period, then back: not new
 *   carol: c0 (Feb 20)                  previous period only
 *   dave:  d0 (2023-11-15), d1 (Mar 20) long ago, then back: not new, not previous
 *   erin:  e1 (Mar 31, 23:00)           new
 * O = 5 (a1 a2 b1 d1 e1), E = 4 (alice bob dave erin), N = 2 (alice erin),
 * S = 2 (bob carol), R = 1 (alice).
 *   repeat_purchase_rate    = 100 * 1 / 4       = 25.0
 *   customer_retention_rate = 100 * (4 - 2) / 2 = 100.0
 * Returns of a2, c0 and an unknown id: only a2 is a period order, 1 of 5
 * = 20.0. Ratings in the period: a1 5, b1 4, d1 2 (c0's 3 came in
 * February, e1's 1 in April): csat = 100 * 2 / 3 = 66.7. */
static void headline_formulas(void **state)
{
    (void)state;
    ac_report_order_t o[] = {
        ord("a1", "alice", at(2, 10)),  ord("a2", "alice", at(10, 10)),
        ord("b0", "bob", at(-5, 9)),    ord("b1", "bob", at(3, 9)),
        ord("c0", "carol", at(-10, 9)), ord("d0", "dave", at(-107, 12)),
        ord("d1", "dave", at(19, 12)),  ord("e1", "erin", at(30, 23)),
    };
    const char *returned[] = {"a2", "c0", "zz_unknown"};
    ac_report_rating_t ra[] = {
        rat("a1", "alice", 5, at(8, 0)), rat("b1", "bob", 4, at(12, 0)),
        rat("d1", "dave", 2, at(25, 0)), rat("c0", "carol", 3, at(-3, 0)),
        rat("e1", "erin", 1, at(31, 1)),
    };
    ac_report_input_t in = march();
    ORDERS(in, o);
    RATINGS(in, ra);
    in.returned = returned;
    in.n_returned = N(returned);
    json_object *r = compute(&in);
    assert_string_equal(text(r, "store"), "\"st_alpenglow\"");
    assert_string_equal(text(r, "timezone"), "\"UTC\"");
    assert_string_equal(text(r, "previous_period"),
                        "{\"from\":\"2024-01-30\",\"to\":\"2024-02-29\"}");
    assert_int_equal(num(r, "orders"), 5);
    assert_int_equal(num(r, "customers"), 4);
    assert_int_equal(num(r, "new_customers"), 2);
    assert_int_equal(num(r, "previous_customers"), 2);
    assert_int_equal(num(r, "repeat_customers"), 1);
    assert_string_equal(text(r, "repeat_purchase_rate"), "25.0");
    assert_string_equal(text(r, "customer_retention_rate"), "100.0");
    assert_int_equal(num(r, "returned_orders"), 1);
    assert_string_equal(text(r, "return_rate"), "20.0");
    assert_string_equal(text(r, "ratings"), "{\"1\":0,\"2\":1,\"3\":0,\"4\":1,\"5\":1}");
    assert_string_equal(text(r, "csat"), "66.7");
    json_object_put(r);
}

/* The report's members, in the contract's order. */
static void members_in_contract_order(void **state)
{
    (void)state;
    static const char *const want[] = {
        "store",
        "timezone",
        "from",
        "to",
        "previous_period",
        "orders",
        "customers",
        "new_customers",
        "previous_customers",
        "repeat_customers",
        "repeat_purchase_rate",
        "customer_retention_rate",
        "returned_orders",
        "return_rate",
        "ratings",
        "csat",
        "messages",
        "messages_sent",
        "suppressed",
        "review_requests_sent",
        "review_requests_rated",
        "review_request_response_rate",
        "volume",
        "holdout",
        "cohorts",
    };
    ac_report_input_t in = march();
    json_object *r = compute(&in);
    size_t i = 0;
    json_object_object_foreach(r, key, val)
    {
        (void)val;
        assert_true(i < N(want));
        assert_string_equal(key, want[i]);
        i++;
    }
    assert_int_equal(i, N(want));
    json_object_put(r);
}

/* Nothing recorded: zeros, every rate null, every kind present and
 * empty, a volume entry per day, the holdout groups empty with no
 * uplift, and twelve cohort rows of nobody. */
static void empty_period(void **state)
{
    (void)state;
    const char *kinds[] = {"review_request", "referral_invite"};
    const char *marketing[] = {"referral_invite"};
    ac_report_input_t in = march();
    in.kinds = kinds;
    in.n_kinds = N(kinds);
    in.marketing = marketing;
    in.n_marketing = N(marketing);
    json_object *r = compute(&in);
    static const char *const zeros[] = {"orders",
                                        "customers",
                                        "new_customers",
                                        "previous_customers",
                                        "repeat_customers",
                                        "returned_orders",
                                        "messages_sent",
                                        "review_requests_sent",
                                        "review_requests_rated"};
    for (size_t i = 0; i < N(zeros); i++)
        assert_int_equal(num(r, zeros[i]), 0);
    static const char *const nulls[] = {"repeat_purchase_rate", "customer_retention_rate",
                                        "return_rate", "csat", "review_request_response_rate"};
    for (size_t i = 0; i < N(nulls); i++)
        assert_string_equal(text(r, nulls[i]), "null");
    assert_string_equal(text(r, "ratings"), "{\"1\":0,\"2\":0,\"3\":0,\"4\":0,\"5\":0}");
    assert_string_equal(text(r, "messages"), "{\"review_request\":{},\"referral_invite\":{}}");
    assert_string_equal(text(r, "suppressed"), "{\"review_request\":{},\"referral_invite\":{}}");
    assert_int_equal(len(r, "volume"), 31);
    assert_string_equal(text(r, "volume.0"),
                        "{\"date\":\"2024-03-01\",\"sent\":0,\"suppressed\":0}");
    assert_string_equal(text(r, "volume.28"),
                        "{\"date\":\"2024-03-29\",\"sent\":0,\"suppressed\":0}");
    assert_string_equal(text(r, "volume.30"),
                        "{\"date\":\"2024-03-31\",\"sent\":0,\"suppressed\":0}");
    const char *group = "{\"customers\":0,\"repeat_customers\":0,\"repeat_purchase_rate\":null,"
                        "\"ratings\":0,\"csat\":null}";
    char want[512];
    snprintf(want, sizeof(want),
             "{\"referral_invite\":{\"messaged\":%s,\"held_out\":%s,"
             "\"repeat_purchase_uplift\":null,\"csat_uplift\":null}}",
             group, group);
    assert_string_equal(text(r, "holdout"), want);
    assert_int_equal(len(r, "cohorts"), 12);
    assert_string_equal(text(r, "cohorts.0.month"), "\"2023-04\"");
    assert_int_equal(num(r, "cohorts.0.customers"), 0);
    assert_int_equal(len(r, "cohorts.0.returning"), 11);
    assert_string_equal(text(r, "cohorts.0.returning.0"),
                        "{\"month\":\"2023-05\",\"customers\":0,\"share\":null}");
    assert_string_equal(text(r, "cohorts.11"),
                        "{\"month\":\"2024-03\",\"customers\":0,\"returning\":[]}");
    json_object_put(r);
}

/* Customers from before the period are not new, and count for retention.
 *   old:  o0 (2023-06-10), o1 (Mar 2)   first order long before
 *   prev: p0 (Feb 1), p1 (Mar 5)        first order in the previous period
 *   gone: g0 (Feb 10)                   the previous period only
 *   new:  n1 (Mar 7)
 * E = 3, N = 1, S = 2: retention = 100 * (3 - 1) / 2 = 100.0. With gone
 * not back and prev not either, only the previous period's orders:
 * E = 0, S = 2: retention 0.0, and repeat_purchase_rate null. */
static void first_order_before_period(void **state)
{
    (void)state;
    ac_report_order_t o[] = {
        ord("o0", "old", at(-265, 9)), ord("o1", "old", at(1, 9)),    ord("p0", "prev", at(-29, 9)),
        ord("p1", "prev", at(4, 9)),   ord("g0", "gone", at(-20, 9)), ord("n1", "new", at(6, 9)),
    };
    ac_report_input_t in = march();
    ORDERS(in, o);
    json_object *r = compute(&in);
    assert_int_equal(num(r, "customers"), 3);
    assert_int_equal(num(r, "new_customers"), 1);
    assert_int_equal(num(r, "previous_customers"), 2);
    assert_int_equal(num(r, "repeat_customers"), 0);
    assert_string_equal(text(r, "repeat_purchase_rate"), "0.0");
    assert_string_equal(text(r, "customer_retention_rate"), "100.0");
    json_object_put(r);

    ac_report_order_t before[] = {o[2], o[4]};
    ORDERS(in, before);
    r = compute(&in);
    assert_int_equal(num(r, "customers"), 0);
    assert_int_equal(num(r, "previous_customers"), 2);
    assert_string_equal(text(r, "customer_retention_rate"), "0.0");
    assert_string_equal(text(r, "repeat_purchase_rate"), "null");
    json_object_put(r);
}

/* Replays count once. Order x1 was recorded in the period and again
 * (earlier, which wins) in the previous one; y1 three times over, so its
 * customer is no repeat customer; y1's rating of 5 came first, its
 * replay of 1 does not count; message m1 twice, once on another day; m0
 * first before the period, so its replay inside does not count either.
 * Orders: y1, z1 = 2; customers yuri, zoe = 2, repeat 0; S = 1 (xena);
 * ratings: {5: 1}; messages: email 2 (m1, m2), volume Mar 2: 1, Mar 3: 1. */
static void duplicates_count_once(void **state)
{
    (void)state;
    ac_report_order_t o[] = {
        ord("x1", "xena", at(4, 9)), ord("y1", "yuri", at(2, 9)), ord("x1", "xena", at(-3, 9)),
        ord("y1", "yuri", at(2, 9)), ord("z1", "zoe", at(5, 9)),  ord("y1", "yuri", at(3, 9)),
    };
    const char *returned[] = {"y1", "y1", "y1"};
    ac_report_rating_t ra[] = {
        rat("y1", "yuri", 1, at(9, 0)),
        rat("y1", "yuri", 5, at(8, 0)),
        rat("y1", "yuri", 5, at(8, 0)),
    };
    ac_report_msg_t m[] = {
        sent("m1", "order_confirmation", "y1", "yuri", "email", at(1, 9)),
        sent("m1", "order_confirmation", "y1", "yuri", "email", at(3, 9)),
        sent("m2", "order_confirmation", "z1", "zoe", "email", at(2, 9)),
        sent("m1", "order_confirmation", "y1", "yuri", "email", at(1, 9)),
        sent("m0", "order_confirmation", "x1", "xena", "sms", at(5, 9)),
        sent("m0", "order_confirmation", "x1", "xena", "sms", at(-3, 9)),
    };
    ac_report_input_t in = march();
    ORDERS(in, o);
    RATINGS(in, ra);
    MSGS(in, m);
    in.returned = returned;
    in.n_returned = N(returned);
    json_object *r = compute(&in);
    assert_int_equal(num(r, "orders"), 2);
    assert_int_equal(num(r, "customers"), 2);
    assert_int_equal(num(r, "repeat_customers"), 0);
    assert_int_equal(num(r, "previous_customers"), 1);
    assert_int_equal(num(r, "new_customers"), 2);
    assert_int_equal(num(r, "returned_orders"), 1);
    assert_string_equal(text(r, "return_rate"), "50.0");
    assert_string_equal(text(r, "ratings"), "{\"1\":0,\"2\":0,\"3\":0,\"4\":0,\"5\":1}");
    assert_string_equal(text(r, "csat"), "100.0");
    assert_string_equal(text(r, "messages"), "{\"order_confirmation\":{\"email\":2}}");
    assert_int_equal(num(r, "messages_sent"), 2);
    assert_int_equal(num(r, "volume.1.sent"), 1);
    assert_int_equal(num(r, "volume.2.sent"), 1);
    assert_int_equal(num(r, "volume.3.sent"), 0);
    json_object_put(r);
}

/* Sent and suppressed messages by kind and channel or reason, and per
 * day. k11 was at 23:00 UTC on Mar 6 but on Mar 7 in the store's zone:
 * volume goes by the local day. k9 was before the period, k10 at its end
 * (the period is half-open). delay_notice, not in kinds, comes after the
 * listed kinds in both maps.
 *   sent:       order_confirmation email k1 k2 k11, sms k3, webhook k4; delay_notice email k8
 *   suppressed: review_request returned k5 k7, no_consent k6
 *   volume:     Mar 1: 2 sent; Mar 2: 1 sent, 2 suppressed; Mar 3: 1 and 1;
 *               Mar 6: 0; Mar 7: 1 sent; Mar 31: 1 sent */
static void messages_by_kind_and_day(void **state)
{
    (void)state;
    const char *kinds[] = {"order_confirmation", "review_request", "referral_invite"};
    ac_report_msg_t m[] = {
        sent("k1", "order_confirmation", "o1", "c1", "email", at(0, 9)),
        sent("k2", "order_confirmation", "o2", "c2", "email", at(0, 10)),
        sent("k3", "order_confirmation", "o3", "c3", "sms", at(1, 9)),
        sent("k4", "order_confirmation", "o4", "c4", "webhook", at(30, 23)),
        supp("k5", "review_request", "o1", "c1", "returned", at(1, 9)),
        supp("k6", "review_request", "o2", "c2", "no_consent", at(1, 9)),
        supp("k7", "review_request", "o3", "c3", "returned", at(2, 9)),
        sent("k8", "delay_notice", "o4", "c4", "email", at(2, 9)),
        sent("k9", "order_confirmation", "o9", "c9", "email", at(-1, 9)),
        sent("k10", "order_confirmation", "o10", "c10", "email", at(31, 0)),
        sent("k11", "order_confirmation", "o11", "c11", "email", at(5, 23)),
    };
    m[10].day = FROM_DAY + 6;
    ac_report_input_t in = march();
    MSGS(in, m);
    in.kinds = kinds;
    in.n_kinds = N(kinds);
    json_object *r = compute(&in);
    assert_string_equal(text(r, "messages"),
                        "{\"order_confirmation\":{\"email\":3,\"sms\":1,\"webhook\":1},"
                        "\"review_request\":{},\"referral_invite\":{},"
                        "\"delay_notice\":{\"email\":1}}");
    assert_int_equal(num(r, "messages_sent"), 6);
    assert_string_equal(text(r, "suppressed"),
                        "{\"order_confirmation\":{},"
                        "\"review_request\":{\"no_consent\":1,\"returned\":2},"
                        "\"referral_invite\":{},\"delay_notice\":{}}");
    assert_int_equal(len(r, "volume"), 31);
    assert_string_equal(text(r, "volume.0"),
                        "{\"date\":\"2024-03-01\",\"sent\":2,\"suppressed\":0}");
    assert_string_equal(text(r, "volume.1"),
                        "{\"date\":\"2024-03-02\",\"sent\":1,\"suppressed\":2}");
    assert_string_equal(text(r, "volume.2"),
                        "{\"date\":\"2024-03-03\",\"sent\":1,\"suppressed\":1}");
    assert_int_equal(num(r, "volume.5.sent"), 0);
    assert_int_equal(num(r, "volume.6.sent"), 1);
    assert_string_equal(text(r, "volume.30"),
                        "{\"date\":\"2024-03-31\",\"sent\":1,\"suppressed\":0}");
    int64_t sum = 0;
    for (size_t d = 0; d < 31; d++) {
        char path[64];
        snprintf(path, sizeof(path), "volume.%zu.sent", d);
        sum += num(r, path);
        snprintf(path, sizeof(path), "volume.%zu.suppressed", d);
        sum += num(r, path);
    }
    assert_int_equal(sum, 6 + 3);
    assert_int_equal(num(r, "review_requests_sent"), 0);
    assert_string_equal(text(r, "review_request_response_rate"), "null");
    json_object_put(r);
}

/* Many kinds, none listed, each with its own channels and reasons: 200
 * kinds, kind k sent on k % 3 + 1 channels (channel j j + 1 times) and
 * suppressed once for reason k % 2, 600 cells in all, so that the
 * counting table grows and probes. Kinds come sorted, both maps list
 * every kind. */
static void many_kinds_and_channels(void **state)
{
    (void)state;
    enum { KINDS = 200, MAX = KINDS * 7 };
    ac_report_msg_t *m = calloc(MAX, sizeof(*m));
    char(*ids)[16] = calloc(MAX, sizeof(*ids));
    char(*kinds)[16] = calloc(KINDS, sizeof(*kinds));
    static const char *const channels[] = {"ch0", "ch1", "ch2"}, *const reasons[] = {"r0", "r1"};
    assert_true(m && ids && kinds);
    size_t n = 0;
    int64_t want_sent = 0;
    for (int k = 0; k < KINDS; k++) {
        snprintf(kinds[k], sizeof(kinds[k]), "kind%03d", k);
        for (int j = 0; j <= k % 3; j++)
            for (int times = 0; times <= j; times++, n++, want_sent++) {
                snprintf(ids[n], sizeof(ids[n]), "m%zu", n);
                m[n] = sent(ids[n], kinds[k], NULL, "c", channels[j], at(k % 31, 1));
            }
        snprintf(ids[n], sizeof(ids[n]), "m%zu", n);
        m[n] = supp(ids[n], kinds[k], NULL, "c", reasons[k % 2], at(k % 31, 2));
        n++;
    }
    ac_report_input_t in = march();
    in.msgs = m;
    in.n_msgs = n;
    json_object *r = compute(&in);
    assert_int_equal(num(r, "messages_sent"), want_sent);
    assert_int_equal(json_object_object_length(node(r, "messages")), KINDS);
    assert_int_equal(json_object_object_length(node(r, "suppressed")), KINDS);
    int k = 0;
    json_object_object_foreach(node(r, "messages"), key, val)
    {
        static const char *const want[] = {"{\"ch0\":1}", "{\"ch0\":1,\"ch1\":2}",
                                           "{\"ch0\":1,\"ch1\":2,\"ch2\":3}"};
        assert_string_equal(key, kinds[k]);
        assert_string_equal(json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN),
                            want[k % 3]);
        k++;
    }
    assert_string_equal(text(r, "messages.kind000"), "{\"ch0\":1}");
    assert_string_equal(text(r, "messages.kind199"), "{\"ch0\":1,\"ch1\":2}");
    assert_string_equal(text(r, "messages.kind137"), "{\"ch0\":1,\"ch1\":2,\"ch2\":3}");
    assert_string_equal(text(r, "suppressed.kind137"), "{\"r1\":1}");
    assert_string_equal(text(r, "suppressed.kind000"), "{\"r0\":1}");
    json_object_put(r);
    free(m);
    free(ids);
    free(kinds);
}

/* A rating answers a review request within 14 days of it: [sent, sent + 14 d).
 *   rq1 Mar 2 10:00, rated 13 days later          counted
 *   rq2 Mar 2 10:00, rated 15 days later          not
 *   rq3 Mar 2 10:00, rated exactly 14 days later  not
 *   rq4 Mar 3, rated the day before it            not
 *   rq5 Mar 26, rated Apr 5, after the period     counted
 *   rq6 suppressed                                not a request sent
 * Q = 5, rated 2: 40.0. */
static void review_request_response_window(void **state)
{
    (void)state;
    ac_report_msg_t m[] = {
        sent("rq1", "review_request", "o1", "c1", "email", at(1, 10)),
        sent("rq2", "review_request", "o2", "c2", "email", at(1, 10)),
        sent("rq3", "review_request", "o3", "c3", "sms", at(1, 10)),
        sent("rq4", "review_request", "o4", "c4", "email", at(2, 10)),
        sent("rq5", "review_request", "o5", "c5", "email", at(25, 10)),
        supp("rq6", "review_request", "o6", "c6", "returned", at(3, 10)),
    };
    ac_report_rating_t ra[] = {
        rat("o1", "c1", 5, at(14, 10)), rat("o2", "c2", 5, at(16, 10)),
        rat("o3", "c3", 5, at(15, 10)), rat("o4", "c4", 5, at(1, 10)),
        rat("o5", "c5", 5, at(35, 10)), rat("o6", "c6", 5, at(4, 10)),
    };
    ac_report_input_t in = march();
    MSGS(in, m);
    RATINGS(in, ra);
    json_object *r = compute(&in);
    assert_int_equal(num(r, "review_requests_sent"), 5);
    assert_int_equal(num(r, "review_requests_rated"), 2);
    assert_string_equal(text(r, "review_request_response_rate"), "40.0");
    assert_string_equal(text(r, "messages"), "{\"review_request\":{\"email\":4,\"sms\":1}}");
    assert_string_equal(text(r, "suppressed"), "{\"review_request\":{\"returned\":1}}");
    json_object_put(r);
}

/* ------------------------------------------------------------ holdout */

/* referral_invite, messaged:
 *   m1 sent Mar 3; orders Mar 1 (before) and Mar 6: repeat; rated 5 on Mar 5
 *   m2 sent Mar 4 10:00; order at that very time: not a repeat; rated 4
 *   m3 sent Mar 5; order Mar 21: repeat; rated 2
 *   m4 no_consent Mar 2, sent Mar 7 (t0); order Mar 6, before t0: not a repeat
 * 4 customers, 2 repeat: 50.0; 3 ratings, 2 happy: 66.7.
 * held out:
 *   h1 Mar 3; order Mar 11: repeat; rated 5 on Mar 13
 *   h2 Mar 3; rated 1 on Mar 9 (an order of January)
 *   h3 Mar 6; order Apr 1, after the period; rated 5 on Mar 2, before t0
 *   h4 Mar 8, then sent Mar 10: held out, by the earliest
 *   h5 Mar 9; rated 4 on Apr 2, after the period
 * 5 customers, 1 repeat: 20.0; 2 ratings, 1 happy: 50.0.
 * Not placed: x1 (no_consent only), z1 (sent before the period).
 *
 * Repeat uplift: pm = .5, ph = .2, d = 30.0,
 *   1.96 * 100 * sqrt(.5 * .5 / 4 + .2 * .8 / 5) = 196 * sqrt(.0945) = 60.252:
 *   [-30.3, 90.3].
 * CSAT uplift: pm = 2/3, ph = 1/2, d = 16.667 -> 16.7,
 *   196 * sqrt((2/3)(1/3)/3 + .25/2) = 196 * sqrt(.199074) = 87.451:
 *   [-70.8, 104.1].
 * review_request: z1 sent, nobody held out: both uplifts null; its only
 * customer has no rating: csat null. win_back: nothing at all. */
static void holdout_uplift(void **state)
{
    (void)state;
    const char *marketing[] = {"referral_invite", "review_request", "win_back", "referral_invite"};
    ac_report_order_t o[] = {
        ord("m1a", "m1", at(0, 9)),   ord("m1b", "m1", at(5, 9)),  ord("m2a", "m2", at(3, 10)),
        ord("m3a", "m3", at(20, 9)),  ord("m4a", "m4", at(5, 9)),  ord("h1a", "h1", at(10, 9)),
        ord("h2a", "h2", at(-40, 9)), ord("h3a", "h3", at(31, 9)), ord("z1a", "z1", at(-5, 9)),
    };
    ac_report_rating_t ra[] = {
        rat("m1a", "m1", 5, at(4, 0)),  rat("m2a", "m2", 4, at(6, 0)),
        rat("m3a", "m3", 2, at(22, 0)), rat("h1a", "h1", 5, at(12, 0)),
        rat("h2a", "h2", 1, at(8, 0)),  rat("h3x", "h3", 5, at(1, 0)),
        rat("h5x", "h5", 4, at(32, 0)),
    };
    ac_report_msg_t m[] = {
        sent("r-m1", "referral_invite", "m1a", "m1", "email", at(2, 9)),
        sent("r-m1", "referral_invite", "m1a", "m1", "email", at(2, 9)),
        sent("r-m2", "referral_invite", "m2a", "m2", "sms", at(3, 10)),
        sent("r-m3", "referral_invite", "m3a", "m3", "email", at(4, 0)),
        supp("r-m4a", "referral_invite", "m4a", "m4", "no_consent", at(1, 9)),
        sent("r-m4b", "referral_invite", "m4a", "m4", "email", at(6, 9)),
        supp("r-h1", "referral_invite", "h1a", "h1", "holdout", at(2, 9)),
        supp("r-h2", "referral_invite", "h2a", "h2", "holdout", at(2, 9)),
        supp("r-h3", "referral_invite", "h3a", "h3", "holdout", at(5, 9)),
        supp("r-h4a", "referral_invite", NULL, "h4", "holdout", at(7, 9)),
        sent("r-h4b", "referral_invite", NULL, "h4", "email", at(9, 9)),
        supp("r-h5", "referral_invite", NULL, "h5", "holdout", at(8, 9)),
        supp("r-x1", "referral_invite", NULL, "x1", "no_consent", at(8, 9)),
        sent("r-z1", "referral_invite", "z1a", "z1", "email", at(-3, 9)),
        sent("q-z1", "review_request", "z1a", "z1", "email", at(3, 9)),
    };
    ac_report_input_t in = march();
    ORDERS(in, o);
    RATINGS(in, ra);
    MSGS(in, m);
    in.marketing = marketing;
    in.n_marketing = N(marketing);
    json_object *r = compute(&in);
    assert_string_equal(text(r, "holdout.referral_invite.messaged"),
                        "{\"customers\":4,\"repeat_customers\":2,\"repeat_purchase_rate\":50.0,"
                        "\"ratings\":3,\"csat\":66.7}");
    assert_string_equal(text(r, "holdout.referral_invite.held_out"),
                        "{\"customers\":5,\"repeat_customers\":1,\"repeat_purchase_rate\":20.0,"
                        "\"ratings\":2,\"csat\":50.0}");
    assert_string_equal(text(r, "holdout.referral_invite.repeat_purchase_uplift"),
                        "{\"difference\":30.0,\"ci95_low\":-30.3,\"ci95_high\":90.3}");
    assert_string_equal(text(r, "holdout.referral_invite.csat_uplift"),
                        "{\"difference\":16.7,\"ci95_low\":-70.8,\"ci95_high\":104.1}");
    assert_string_equal(text(r, "holdout.review_request"),
                        "{\"messaged\":{\"customers\":1,\"repeat_customers\":0,"
                        "\"repeat_purchase_rate\":0.0,\"ratings\":0,\"csat\":null},"
                        "\"held_out\":{\"customers\":0,\"repeat_customers\":0,"
                        "\"repeat_purchase_rate\":null,\"ratings\":0,\"csat\":null},"
                        "\"repeat_purchase_uplift\":null,\"csat_uplift\":null}");
    assert_int_equal(num(r, "holdout.win_back.messaged.customers"), 0);
    assert_string_equal(text(r, "holdout.win_back.repeat_purchase_uplift"), "null");
    assert_int_equal(json_object_object_length(node(r, "holdout")), 3);
    json_object_put(r);
}

/* Both groups present but one without ratings: the CSAT uplift is null
 * while the repeat-purchase one is not. One customer each, neither
 * ordering again: d = 0.0 and, both proportions being 0, a zero-width
 * interval. */
static void holdout_without_ratings(void **state)
{
    (void)state;
    const char *marketing[] = {"referral_invite"};
    ac_report_rating_t ra[] = {rat("o1", "a", 5, at(10, 0))};
    ac_report_msg_t m[] = {
        sent("r1", "referral_invite", "o1", "a", "email", at(2, 9)),
        supp("r2", "referral_invite", "o2", "b", "holdout", at(2, 9)),
    };
    ac_report_input_t in = march();
    RATINGS(in, ra);
    MSGS(in, m);
    in.marketing = marketing;
    in.n_marketing = N(marketing);
    json_object *r = compute(&in);
    assert_string_equal(text(r, "holdout.referral_invite.repeat_purchase_uplift"),
                        "{\"difference\":0.0,\"ci95_low\":0.0,\"ci95_high\":0.0}");
    assert_string_equal(text(r, "holdout.referral_invite.csat_uplift"), "null");
    assert_string_equal(text(r, "holdout.referral_invite.messaged.csat"), "100.0");
    json_object_put(r);
}

/* ------------------------------------------------------------ cohorts */

/* Rows 2023-04 .. 2024-03:
 *   p: first 2023-04-10; 2023-06-01 and 2023-06-20 (one month); 2024-03-05
 *   q: first 2023-04-20; 2023-05-02
 *   r: first 2023-06-15; 2024-03-10
 *   s: first 2023-02-01, before the first row: in none; 2023-05-03
 *   t: first 2024-03-02
 * 2023-04: 2 (p q); 2023-05: 1 (q) 50.0, 2023-06: 1 (p) 50.0,
 *          2023-07..2024-02: 0 (0.0), 2024-03: 1 (p) 50.0
 * 2023-05: 0 customers, every share null
 * 2023-06: 1 (r); 2024-03: 1, 100.0
 * 2024-03: 1 (t), returning [] */
static void cohorts_and_shares(void **state)
{
    (void)state;
    ac_report_order_t o[] = {
        ord("p1", "p", at(-326, 9)), ord("p2", "p", at(-274, 9)), ord("p3", "p", at(-255, 9)),
        ord("p4", "p", at(4, 9)),    ord("q1", "q", at(-316, 9)), ord("q2", "q", at(-304, 9)),
        ord("r1", "r", at(-260, 9)), ord("r2", "r", at(9, 9)),    ord("s1", "s", at(-394, 9)),
        ord("s2", "s", at(-303, 9)), ord("t1", "t", at(1, 9)),
    };
    assert_int_equal(o[0].month, 2023 * 12 + 3);
    assert_int_equal(o[1].month, 2023 * 12 + 5);
    assert_int_equal(o[2].month, 2023 * 12 + 5);
    assert_int_equal(o[8].month, 2023 * 12 + 1);
    ac_report_input_t in = march();
    ORDERS(in, o);
    json_object *r = compute(&in);
    assert_int_equal(len(r, "cohorts"), 12);
    assert_string_equal(text(r, "cohorts.0.month"), "\"2023-04\"");
    assert_int_equal(num(r, "cohorts.0.customers"), 2);
    assert_int_equal(len(r, "cohorts.0.returning"), 11);
    assert_string_equal(text(r, "cohorts.0.returning.0"),
                        "{\"month\":\"2023-05\",\"customers\":1,\"share\":50.0}");
    assert_string_equal(text(r, "cohorts.0.returning.1"),
                        "{\"month\":\"2023-06\",\"customers\":1,\"share\":50.0}");
    for (int m = 2; m < 10; m++) {
        char path[64];
        snprintf(path, sizeof(path), "cohorts.0.returning.%d.share", m);
        assert_string_equal(text(r, path), "0.0");
    }
    assert_string_equal(text(r, "cohorts.0.returning.10"),
                        "{\"month\":\"2024-03\",\"customers\":1,\"share\":50.0}");
    assert_string_equal(text(r, "cohorts.1.month"), "\"2023-05\"");
    assert_int_equal(num(r, "cohorts.1.customers"), 0);
    assert_int_equal(len(r, "cohorts.1.returning"), 10);
    assert_string_equal(text(r, "cohorts.1.returning.9"),
                        "{\"month\":\"2024-03\",\"customers\":0,\"share\":null}");
    assert_int_equal(num(r, "cohorts.2.customers"), 1);
    assert_string_equal(text(r, "cohorts.2.returning.0.share"), "0.0");
    assert_string_equal(text(r, "cohorts.2.returning.8"),
                        "{\"month\":\"2024-03\",\"customers\":1,\"share\":100.0}");
    assert_string_equal(text(r, "cohorts.11"),
                        "{\"month\":\"2024-03\",\"customers\":1,\"returning\":[]}");
    json_object_put(r);

    /* A period longer than a year starts the rows with its own first
     * month: from 2022-01, 27 rows. */
    in.from_month = 2022 * 12;
    r = compute(&in);
    assert_int_equal(len(r, "cohorts"), 27);
    assert_string_equal(text(r, "cohorts.0.month"), "\"2022-01\"");
    assert_string_equal(text(r, "cohorts.26.month"), "\"2024-03\"");
    assert_int_equal(num(r, "cohorts.13.customers"), 1); /* 2023-02: s */
    assert_int_equal(num(r, "cohorts.13.returning.2.customers"), 1);
    json_object_put(r);
}

/* The volume's dates over ten years (leap days, century rule of 2000)
 * agree with the C library's calendar. */
static void volume_dates_match_the_calendar(void **state)
{
    (void)state;
    ac_report_input_t in = march();
    in.from_day = 10950; /* 1999-12-25 */
    in.to_day = 14609;   /* 2009-12-31 */
    in.from_ms = in.from_day * DAY_MS;
    in.to_ms = (in.to_day + 1) * DAY_MS;
    in.prev_from_ms = in.from_ms - (in.to_ms - in.from_ms);
    in.from_month = 1999 * 12 + 11;
    in.to_month = 2009 * 12 + 11;
    json_object *r = compute(&in);
    assert_int_equal(len(r, "volume"), 14609 - 10950 + 1);
    for (int d = in.from_day; d <= in.to_day; d++) {
        char path[64], want[32];
        time_t s = (time_t)d * 86400;
        struct tm tm;
        gmtime_r(&s, &tm);
        strftime(want, sizeof(want), "\"%Y-%m-%d\"", &tm);
        snprintf(path, sizeof(path), "volume.%d.date", d - in.from_day);
        assert_string_equal(text(r, path), want);
    }
    assert_int_equal(len(r, "cohorts"), 121);
    assert_string_equal(text(r, "cohorts.0.month"), "\"1999-12\"");
    assert_string_equal(text(r, "cohorts.1.month"), "\"2000-01\"");
    json_object_put(r);
}

/* A product suggestion is a part of a message, not a message: its records
 * make the cross-sell holdout groups, and its holdouts count as
 * suppressed, but the messages sent, and each day's volume, are the
 * messages' own. */
static void cross_sell_is_a_part(void **state)
{
    (void)state;
    const int64_t t0 = FROM_DAY * DAY_MS + 3600000;
    ac_report_order_t orders[] = {ord("o1", "a", t0 - DAY_MS * 40),
                                  ord("o2", "b", t0 - DAY_MS * 40), ord("o3", "a", t0 + DAY_MS)};
    ac_report_msg_t msgs[] = {
        sent("m1", "review_request", "o1", "a", "email", t0),
        sent("m1:cross_sell", "cross_sell", "o1", "a", "email", t0),
        sent("m2", "review_request", "o2", "b", "email", t0),
        supp("m2:cross_sell", "cross_sell", "o2", "b", "holdout", t0),
    };
    static const char *const kinds[] = {"review_request"};
    static const char *const marketing[] = {"review_request", "cross_sell"};
    ac_report_input_t in = march();
    ORDERS(in, orders);
    MSGS(in, msgs);
    in.kinds = kinds;
    in.n_kinds = N(kinds);
    in.marketing = marketing;
    in.n_marketing = N(marketing);
    json_object *r = compute(&in);
    assert_int_equal(num(r, "messages_sent"), 2);
    assert_string_equal(text(r, "messages"), "{\"review_request\":{\"email\":2}}");
    assert_string_equal(text(r, "suppressed"),
                        "{\"review_request\":{},\"cross_sell\":{\"holdout\":1}}");
    assert_int_equal(num(r, "volume.0.sent"), 2);
    assert_int_equal(num(r, "volume.0.suppressed"), 0);
    assert_int_equal(num(r, "holdout.cross_sell.messaged.customers"), 1);
    assert_int_equal(num(r, "holdout.cross_sell.held_out.customers"), 1);
    assert_int_equal(num(r, "holdout.cross_sell.messaged.repeat_customers"), 1);
    assert_int_equal(num(r, "holdout.cross_sell.held_out.repeat_customers"), 0);
    json_object_put(r);
}

/* ------------------------------------------------------------ errors */

/* Input the report cannot be made from is refused with the reason and
 * the record at fault. */
static void refuses_bad_input(void **state)
{
    (void)state;
    char err[256];
    assert_null(ac_report_compute(NULL, err, sizeof(err)));
    assert_string_equal(err, "no input");

    ac_report_input_t in = march();
    in.store = NULL;
    assert_null(ac_report_compute(&in, err, sizeof(err)));
    assert_contains(err, "store is missing");

    in = march();
    in.to_ms = in.from_ms;
    assert_null(ac_report_compute(&in, err, sizeof(err)));
    assert_contains(err, "from_ms < to_ms");

    in = march();
    in.to_day = in.from_day - 1;
    assert_null(ac_report_compute(&in, err, sizeof(err)));
    assert_contains(err, "from_day..to_day");

    in = march();
    in.from_month = in.to_month - AC_REPORT_MAX_MONTHS;
    assert_null(ac_report_compute(&in, err, sizeof(err)));
    assert_contains(err, "from_month..to_month");
    in.from_month = -1;
    assert_null(ac_report_compute(&in, err, sizeof(err)));
    assert_contains(err, "years 0000..9999");

    in = march();
    in.n_orders = 1;
    assert_null(ac_report_compute(&in, err, sizeof(err)));
    assert_contains(err, "missing");

    ac_report_rating_t ra[] = {rat("o1", "c1", 5, at(1, 0)), rat("o2", "c2", 0, at(1, 0))};
    in = march();
    RATINGS(in, ra);
    assert_null(ac_report_compute(&in, err, sizeof(err)));
    assert_string_equal(err, "ratings[1]: stars 0 is not 1..5");

    ac_report_msg_t m[] = {sent("k1", "review_request", "o1", "c1", "email", at(1, 0))};
    m[0].reason = "holdout";
    in = march();
    MSGS(in, m);
    assert_null(ac_report_compute(&in, err, sizeof(err)));
    assert_contains(err, "msgs[0]: exactly one of channel and reason");

    m[0].reason = NULL;
    m[0].day = TO_DAY + 1;
    assert_null(ac_report_compute(&in, err, sizeof(err)));
    assert_contains(err, "msgs[0]: day 19814 is outside");
    assert_null(ac_report_compute(&in, NULL, 0)); /* no buffer: no crash */

    const char *kinds[] = {"review_request", NULL};
    in = march();
    in.kinds = kinds;
    in.n_kinds = N(kinds);
    assert_null(ac_report_compute(&in, err, sizeof(err)));
    assert_string_equal(err, "kinds[1] is missing");
}

/* ------------------------------------------------------------ generated */

/* splitmix64: a seeded generator, so a failure replays. */
static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static int64_t below(int64_t n)
{
    return (int64_t)(rnd() % (uint64_t)n);
}

#define ROWS 12 /* cohort rows 2023-04 .. 2024-03 */

/* A store's history drawn customer by customer, with what the report
 * must say about it, known per customer as it is drawn. */
typedef struct gen {
    size_t cap; /* orders (originals) at most */
    char (*cust_id)[16], (*order_id)[16], (*msg_id)[16];
    size_t n_cust, n_ids, n_msg_ids;
    ac_report_order_t *orders;
    ac_report_rating_t *ratings;
    ac_report_msg_t *msgs;
    const char **returned;
    size_t n_orders, n_ratings, n_msgs, n_returned;
    /* expected */
    int64_t o, e, fresh, s, repeat, returned_in, stars[6], sent, suppressed;
    int64_t group[2][4]; /* customers, repeat, ratings, happy */
    int64_t cohort[ROWS], back[ROWS][ROWS];
} gen_t;

/* One customer's orders and ratings, the originals only. */
typedef struct plan {
    int64_t t[6];
    size_t n, first_period; /* index of the first period order, or n */
    int64_t rated_at[6];
    int stars[6]; /* 0: not rated */
} plan_t;

static void add_order(gen_t *g, plan_t *p, const char *cust, int64_t t)
{
    char *id = g->order_id[g->n_ids++];
    snprintf(id, 16, "o%08zx", g->n_ids * 2654435761u % 0xffffffffu);
    g->orders[g->n_orders++] = ord(id, cust, t);
    int in_period = t >= at(0, 0) && t < at(31, 0);
    if (below(10) == 0) {
        g->returned[g->n_returned++] = id;
        g->returned_in += in_period;
    }
    int64_t dup = t + 1 + below(10 * DAY_MS);
    if (below(10) == 0 && dup < at(31, 0)) /* a replay, later: loses */
        g->orders[g->n_orders++] = ord(id, cust, dup);
    p->stars[p->n] = 0;
    if (below(3) == 0) {
        int stars = 1 + (int)below(5);
        int64_t when = t + below(20 * DAY_MS);
        g->ratings[g->n_ratings++] = rat(id, cust, stars, when);
        if (below(5) == 0)
            g->ratings[g->n_ratings++] = rat(id, cust, 1 + (int)below(5), when + HOUR_MS);
        p->stars[p->n] = stars;
        p->rated_at[p->n] = when;
        if (when >= at(0, 0) && when < at(31, 0))
            g->stars[stars]++;
    }
    p->t[p->n++] = t;
}

/* A referral invitation sent or held out at t0, just after the first
 * period order, or suppressed for want of consent and sent a moment
 * later; sometimes recorded twice. */
static void add_messages(gen_t *g, const plan_t *p, const char *cust)
{
    int64_t t0 = p->t[p->first_period] + 1;
    int64_t what = below(4), group = what == 1;
    if (what == 3)
        return;
    for (int k = 0; k < (what == 2 ? 2 : 1); k++) {
        char *id = g->msg_id[g->n_msg_ids++];
        snprintf(id, 16, "m%zu", g->n_msg_ids);
        int held = what == 1, refused = what == 2 && k == 0;
        int64_t when = t0 + k;
        ac_report_msg_t m = held      ? supp(id, "referral_invite", NULL, cust, "holdout", when)
                            : refused ? supp(id, "referral_invite", NULL, cust, "no_consent", when)
                                      : sent(id, "referral_invite", NULL, cust, "email", when);
        g->msgs[g->n_msgs++] = m;
        if (below(10) == 0) { /* a replay, a minute later: loses */
            ac_report_msg_t again = m;
            again.at_ms += 60000;
            again.day = day_of(again.at_ms);
            g->msgs[g->n_msgs++] = again;
        }
        g->sent += m.channel != NULL;
        g->suppressed += m.channel == NULL;
        t0 = when;
    }
    int64_t *e = g->group[group];
    e[0]++;
    e[1] += p->n - p->first_period >= 2;
    for (size_t i = 0; i < p->n; i++)
        if (p->stars[i] && p->rated_at[i] >= t0 && p->rated_at[i] < at(31, 0)) {
            e[2]++;
            e[3] += p->stars[i] >= 4;
        }
}

/* The customer's cohort row and the later months they ordered in, by
 * brute force over their few orders. */
static void add_cohort(gen_t *g, const plan_t *p)
{
    size_t first = 0;
    for (size_t i = 1; i < p->n; i++)
        if (p->t[i] < p->t[first])
            first = i;
    int row = month_of(p->t[first]) - (MARCH_2024 - 11);
    if (row < 0 || row >= ROWS)
        return;
    g->cohort[row]++;
    for (int m = row + 1; m < ROWS; m++)
        for (size_t i = 0; i < p->n; i++)
            if (month_of(p->t[i]) - (MARCH_2024 - 11) == m) {
                g->back[row][m]++;
                break;
            }
}

/* Draws one customer: 0-2 orders from 2023-01-01 to the previous period,
 * 0-1 in it, 0-3 in March (a day or more apart), at least one in all. */
static void add_customer(gen_t *g)
{
    char *cust = g->cust_id[g->n_cust];
    snprintf(cust, 16, "c%08zx", (g->n_cust + 1) * 2246822519u % 0xfffffffbu);
    g->n_cust++;
    int64_t old = below(3), prev = below(2), np = below(4);
    if (old + prev + np == 0)
        np = 1;
    plan_t p = {.n = 0};
    int64_t old_from = 19358 * DAY_MS, prev_from = PREV_DAY * DAY_MS;
    for (int64_t i = 0; i < old; i++)
        add_order(g, &p, cust, old_from + below(prev_from - old_from));
    for (int64_t i = 0; i < prev; i++)
        add_order(g, &p, cust, prev_from + below(at(0, 0) - prev_from));
    p.first_period = p.n;
    int64_t start = at(0, 0) + below(27 * DAY_MS);
    for (int64_t i = 0; i < np; i++)
        add_order(g, &p, cust, start + i * DAY_MS + below(HOUR_MS));
    g->o += np;
    g->e += np > 0;
    g->repeat += np >= 2;
    g->fresh += np > 0 && old + prev == 0;
    g->s += prev > 0;
    if (np > 0)
        add_messages(g, &p, cust);
    add_cohort(g, &p);
}

/* Shuffles n records of size sz (Fisher-Yates), so the input is in no
 * useful order. */
static void shuffle(void *base, size_t n, size_t sz)
{
    char tmp[64], *b = base;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)below((int64_t)i);
        memcpy(tmp, b + (i - 1) * sz, sz);
        memcpy(b + (i - 1) * sz, b + j * sz, sz);
        memcpy(b + j * sz, tmp, sz);
    }
}

/* At least target orders (originals), and room for their replays. */
static gen_t *generate(size_t target, uint64_t seed)
{
    gen_t *g = calloc(1, sizeof(*g));
    size_t cap = target + 8;
    rng_state = seed;
    g->cap = cap;
    g->cust_id = calloc(cap, 16);
    g->order_id = calloc(cap, 16);
    g->msg_id = calloc(2 * cap, 16);
    g->orders = calloc(2 * cap, sizeof(*g->orders));
    g->ratings = calloc(2 * cap, sizeof(*g->ratings));
    g->msgs = calloc(4 * cap, sizeof(*g->msgs));
    g->returned = calloc(cap, sizeof(*g->returned));
    assert_true(g->cust_id && g->order_id && g->msg_id && g->orders && g->ratings && g->msgs &&
                g->returned);
    while (g->n_ids < target)
        add_customer(g);
    shuffle(g->orders, g->n_orders, sizeof(*g->orders));
    shuffle(g->ratings, g->n_ratings, sizeof(*g->ratings));
    shuffle(g->msgs, g->n_msgs, sizeof(*g->msgs));
    return g;
}

static void gen_free(gen_t *g)
{
    free(g->cust_id);
    free(g->order_id);
    free(g->msg_id);
    free(g->orders);
    free(g->ratings);
    free(g->msgs);
    free(g->returned);
    free(g);
}

static ac_report_input_t gen_input(const gen_t *g)
{
    static const char *kinds[] = {"referral_invite"};
    ac_report_input_t in = march();
    in.orders = g->orders;
    in.n_orders = g->n_orders;
    in.ratings = g->ratings;
    in.n_ratings = g->n_ratings;
    in.msgs = g->msgs;
    in.n_msgs = g->n_msgs;
    in.returned = g->returned;
    in.n_returned = g->n_returned;
    in.kinds = kinds;
    in.n_kinds = 1;
    in.marketing = kinds;
    in.n_marketing = 1;
    return in;
}

/* The expected rate, as the report must print it. */
static const char *rate_text(int64_t num, int64_t den, char buf[32])
{
    if (den == 0)
        return "null";
    snprintf(buf, 32, "%.1f", ac_report_round1(100.0 * (double)num / (double)den));
    return buf;
}

static void check_group(json_object *r, const char *name, const int64_t *e)
{
    char path[96], buf[32];
    snprintf(path, sizeof(path), "holdout.referral_invite.%s.customers", name);
    assert_int_equal(num(r, path), e[0]);
    snprintf(path, sizeof(path), "holdout.referral_invite.%s.repeat_customers", name);
    assert_int_equal(num(r, path), e[1]);
    snprintf(path, sizeof(path), "holdout.referral_invite.%s.ratings", name);
    assert_int_equal(num(r, path), e[2]);
    snprintf(path, sizeof(path), "holdout.referral_invite.%s.csat", name);
    assert_string_equal(text(r, path), rate_text(e[3], e[2], buf));
}

/* 200,000 orders of some 66,000 customers, shuffled and partly replayed,
 * against what the generator knows of each customer. */
static void generated_store(void **state)
{
    (void)state;
    gen_t *g = generate(200000, 20240301);
    ac_report_input_t in = gen_input(g);
    json_object *r = compute(&in);
    char buf[32];
    assert_int_equal(num(r, "orders"), g->o);
    assert_int_equal(num(r, "customers"), g->e);
    assert_int_equal(num(r, "new_customers"), g->fresh);
    assert_int_equal(num(r, "previous_customers"), g->s);
    assert_int_equal(num(r, "repeat_customers"), g->repeat);
    assert_string_equal(text(r, "repeat_purchase_rate"), rate_text(g->repeat, g->e, buf));
    assert_string_equal(text(r, "customer_retention_rate"), rate_text(g->e - g->fresh, g->s, buf));
    assert_int_equal(num(r, "returned_orders"), g->returned_in);
    for (int s = 1; s <= 5; s++) {
        char path[64];
        snprintf(path, sizeof(path), "ratings.%d", s);
        assert_int_equal(num(r, path), g->stars[s]);
    }
    assert_int_equal(num(r, "messages_sent"), g->sent);
    assert_int_equal(num(r, "messages.referral_invite.email"), g->sent);
    assert_int_equal(num(r, "suppressed.referral_invite.holdout") +
                         num(r, "suppressed.referral_invite.no_consent"),
                     g->suppressed);
    int64_t volume = 0;
    for (size_t d = 0; d < len(r, "volume"); d++) {
        char path[64];
        snprintf(path, sizeof(path), "volume.%zu.sent", d);
        volume += num(r, path);
        snprintf(path, sizeof(path), "volume.%zu.suppressed", d);
        volume += num(r, path);
    }
    assert_int_equal(volume, g->sent + g->suppressed);
    check_group(r, "messaged", g->group[0]);
    check_group(r, "held_out", g->group[1]);
    for (int row = 0; row < ROWS; row++) {
        char path[64];
        snprintf(path, sizeof(path), "cohorts.%d.customers", row);
        assert_int_equal(num(r, path), g->cohort[row]);
        for (int m = row + 1; m < ROWS; m++) {
            snprintf(path, sizeof(path), "cohorts.%d.returning.%d.customers", row, m - row - 1);
            assert_int_equal(num(r, path), g->back[row][m]);
        }
    }
    print_message("generated: %zu orders (%zu records), %zu customers, %zu ratings, %zu messages\n",
                  g->n_ids, g->n_orders, g->n_cust, g->n_ratings, g->n_msgs);
    json_object_put(r);
    gen_free(g);
}

static double seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A million orders, timed for information (no assertion on the time:
 * the machine and build type decide it). */
static void million_orders_timing(void **state)
{
    (void)state;
    gen_t *g = generate(1000000, 7);
    ac_report_input_t in = gen_input(g);
    double t = seconds();
    json_object *r = compute(&in);
    t = seconds() - t;
    assert_int_equal(num(r, "orders"), g->o);
    assert_int_equal(num(r, "customers"), g->e);
    print_message("1M timing: %zu orders (%zu records), %zu customers, %zu ratings, %zu "
                  "messages: ac_report_compute %.2f s\n",
                  g->n_ids, g->n_orders, g->n_cust, g->n_ratings, g->n_msgs, t);
    json_object_put(r);
    gen_free(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round1_half_away_from_zero),
        cmocka_unit_test(rates_round_half_away_from_zero),
        cmocka_unit_test(headline_formulas),
        cmocka_unit_test(members_in_contract_order),
        cmocka_unit_test(empty_period),
        cmocka_unit_test(first_order_before_period),
        cmocka_unit_test(duplicates_count_once),
        cmocka_unit_test(messages_by_kind_and_day),
        cmocka_unit_test(many_kinds_and_channels),
        cmocka_unit_test(review_request_response_window),
        cmocka_unit_test(holdout_uplift),
        cmocka_unit_test(holdout_without_ratings),
        cmocka_unit_test(cohorts_and_shares),
        cmocka_unit_test(volume_dates_match_the_calendar),
        cmocka_unit_test(cross_sell_is_a_part),
        cmocka_unit_test(refuses_bad_input),
        cmocka_unit_test(generated_store),
        cmocka_unit_test(million_orders_timing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
