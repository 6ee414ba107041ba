/* The pure parts behind the retention report and the complaint flow: the
 * facts' codec and keys (common/facts.c), control groups (holdout.c),
 * order contexts (octx.c), the report's calendar helpers (report_load.c)
 * and the per-store settings "holdout" and "support" (stores.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "facts.h"
#include "holdout.h"
#include "octx.h"
#include "report_load.h"
#include "stores.h"
#include "test_util.h"

static ac_event_t *parse(const char *json)
{
    ac_event_error_t err;
    ac_event_t *ev = ac_event_parse(json, strlen(json), 0, &err);
    if (!ev)
        fail_msg("test event does not parse: %s", err.detail);
    return ev;
}

#define PLACED                                                                                     \
    "{\"event_id\":\"e1\",\"type\":\"order.placed\",\"occurred_at\":\"2026-11-30T23:59:59.500Z\"," \
    "\"store\":{\"id\":\"st_a\",\"name\":\"Alpha\",\"locale\":\"de-DE\",\"timezone\":"             \
    "\"Europe/Berlin\"},\"order\":{\"id\":\"o|1 x\",\"number\":\"A-1\"},"                          \
    "\"customer\":{\"id\":\"c|7 y\",\"email\":\"ana@example.com\",\"first_name\":\"Ana\"}}"

/* Keys name the store's hash tag, the table and the UTC month; the month
 * turns at UTC midnight, not at the store's. */
static void test_keys(void **state)
{
    (void)state;
    char key[128];
    ac_facts_key(key, sizeof(key), AC_FACTS_ORDERS, "st_a",
                 1796083199000LL); /* 2026-11-30 23:59:59 */
    assert_string_equal(key, "ac:an:{st_a}:o:2026-11");
    ac_facts_key(key, sizeof(key), AC_FACTS_ORDERS, "st_a", 1796083200000LL);
    assert_string_equal(key, "ac:an:{st_a}:o:2026-12");
    ac_facts_key(key, sizeof(key), AC_FACTS_MESSAGES, "st_a", 0);
    assert_string_equal(key, "ac:an:{st_a}:m:1970-01");
    ac_facts_key(key, sizeof(key), AC_FACTS_RETURNS, "st_a", -1);
    assert_string_equal(key, "ac:an:{st_a}:r:1969-12");
    ac_facts_meta_key(key, sizeof(key), "st_a");
    assert_string_equal(key, "ac:an:{st_a}:meta");
}

/* Values carry ids with any bytes, '|' and spaces included, and decode to
 * exactly what was encoded. */
static void test_codec_round_trip(void **state)
{
    (void)state;
    char buf[1024];
    ac_event_t *ev = parse(PLACED);
    int n = ac_facts_encode_order(buf, sizeof(buf), ev);
    assert_true(n > 0);
    ac_facts_order_t o;
    assert_int_equal(ac_facts_decode_order(buf, (size_t)n, &o), 0);
    assert_int_equal(o.placed_ms, ev->occurred_ms);
    assert_int_equal(o.customer_len, 5);
    assert_memory_equal(o.customer, "c|7 y", 5);
    assert_int_equal(ac_facts_encode_order(buf, 8, ev), -1);
    ac_event_destroy(ev);

    ev = parse("{\"event_id\":\"e2\",\"type\":\"feedback.received\",\"occurred_at\":"
               "\"2026-12-01T10:00:00Z\",\"store\":{\"id\":\"st_a\"},\"order\":{\"id\":\"o1\"},"
               "\"customer\":{\"id\":\"c 1\"},\"feedback\":{\"rating\":2,\"message_id\":"
               "\"msg_0123\"}}");
    n = ac_facts_encode_rating(buf, sizeof(buf), ev);
    ac_facts_rating_t r;
    assert_int_equal(ac_facts_decode_rating(buf, (size_t)n, &r), 0);
    assert_int_equal(r.stars, 2);
    assert_int_equal(r.received_ms, ev->occurred_ms);
    assert_int_equal(r.message_len, 8);
    assert_memory_equal(r.message, "msg_0123", 8);
    assert_memory_equal(r.customer, "c 1", 3);
    ac_event_destroy(ev);

    const ac_facts_msg_t sent = {"st_a", "msg_1", "review_request", "o|1", "c|2", "email",
                                 NULL,   -5};
    n = ac_facts_encode_msg(buf, sizeof(buf), &sent);
    ac_facts_msgval_t m;
    assert_int_equal(ac_facts_decode_msg(buf, (size_t)n, &m), 0);
    assert_int_equal(m.at_ms, -5);
    assert_memory_equal(m.kind, "review_request", m.kind_len);
    assert_memory_equal(m.channel, "email", m.channel_len);
    assert_int_equal(m.reason_len, 0);
    assert_int_equal(m.order_len, 3);
    assert_memory_equal(m.order, "o|1", 3);
    assert_int_equal(m.customer_len, 3);
    assert_memory_equal(m.customer, "c|2", 3);
    const ac_facts_msg_t held = {"st_a", "msg_2", "review_request", "o", "c", NULL, "holdout", 7};
    n = ac_facts_encode_msg(buf, sizeof(buf), &held);
    assert_int_equal(ac_facts_decode_msg(buf, (size_t)n, &m), 0);
    assert_int_equal(m.channel_len, 0);
    assert_memory_equal(m.reason, "holdout", 7);
}

/* What a damaged or foreign value decodes to: nothing. */
static void test_codec_refuses(void **state)
{
    (void)state;
    static const char *bad_msgs[] = {
        "",
        "12",
        "x|review_request|email||1|oc",
        "12|review_request|email|holdout|1|oc", /* both a channel and a reason */
        "12|review_request|||1|oc",             /* neither */
        "12||email||1|oc",                      /* no kind */
        "12|review_request|email||9|oc",        /* order longer than the value */
        "12|review_request|email||-1|oc",
        "99999999999999999999|review_request|email||1|oc",
    };
    ac_facts_msgval_t m;
    for (size_t i = 0; i < sizeof(bad_msgs) / sizeof(bad_msgs[0]); i++)
        if (ac_facts_decode_msg(bad_msgs[i], strlen(bad_msgs[i]), &m) == 0)
            fail_msg("accepted \"%s\"", bad_msgs[i]);
    ac_facts_rating_t r;
    assert_int_equal(ac_facts_decode_rating("1|6||c", 6, &r), -1);
    assert_int_equal(ac_facts_decode_rating("1|0||c", 6, &r), -1);
    assert_int_equal(ac_facts_decode_rating("1|3|c", 5, &r), -1);
    ac_facts_order_t o;
    assert_int_equal(ac_facts_decode_order("c1", 2, &o), -1);
    assert_int_equal(ac_facts_decode_order("|c1", 3, &o), -1);
}

/* The share held out is the share asked for, over sequential customer
 * ids, the same customers every time, and only for marketing kinds. */
static void test_holdout(void **state)
{
    (void)state;
    ac_store_settings_t s;
    memset(&s, 0, sizeof(s));
    s.holdout_review_bp = 1000; /* 10 % */
    size_t held = 0, n = 20000;
    char id[32];
    for (size_t i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "cus_%zu", i);
        int h = ac_holdout_held(&s, AC_KIND_REVIEW_REQUEST, "st_a", id);
        assert_int_equal(h, ac_holdout_held(&s, AC_KIND_REVIEW_REQUEST, "st_a", id));
        assert_false(ac_holdout_held(&s, AC_KIND_REFERRAL_INVITE, "st_a", id));
        assert_false(ac_holdout_held(&s, AC_KIND_ORDER_CONFIRMATION, "st_a", id));
        held += (size_t)h;
    }
    /* 10 % of 20 000 is 2 000; five standard deviations is about 210. */
    assert_in_range(held, 1790, 2210);
    /* The store id is part of the draw, and cannot be shifted into the
     * customer id. */
    assert_int_not_equal(ac_holdout_slot("st_a", "bc"), ac_holdout_slot("st_ab", "c"));
    /* Python's hashlib, the integration test's independent oracle:
     * sha256(b"aftercare-holdout" + len(s).to_bytes(4, "big") + s + c). */
    assert_int_equal(ac_holdout_slot("st_report", "cus_00001"), 2435);
    s.holdout_review_bp = 0;
    assert_false(ac_holdout_held(&s, AC_KIND_REVIEW_REQUEST, "st_a", "cus_1"));

    /* Cross-sell draws on its own: among the customers a 10 % review
     * holdout lets through, a 10 % cross-sell share still holds out about
     * a tenth (with the messages' draw it would hold out none). */
    s.holdout_review_bp = 1000;
    s.holdout_cross_sell_bp = 1000;
    size_t through = 0, xs = 0;
    for (size_t i = 0; i < n; i++) {
        snprintf(id, sizeof(id), "cus_%zu", i);
        if (ac_holdout_held(&s, AC_KIND_REVIEW_REQUEST, "st_a", id))
            continue;
        through++;
        xs += (size_t)ac_holdout_cross_sell_held(&s, "st_a", id);
    }
    assert_in_range(xs * 1000 / through, 80, 120);
    s.holdout_cross_sell_bp = 0;
    assert_false(ac_holdout_cross_sell_held(&s, "st_a", "cus_1"));
}

/* The context keeps ids as text, as the record gave them or not, and a
 * customer's refusal of marketing as refused; what the rules never read
 * (the items, the order's time) is left out. */
static void test_octx_ids_as_text(void **state)
{
    (void)state;
    ac_event_t *placed = parse("{\"event_id\":\"p9\",\"type\":\"order.placed\",\"occurred_at\":"
                               "\"2026-12-01T10:00:00Z\",\"store\":{\"id\":42},\"order\":{\"id\":7,"
                               "\"number\":1001,\"items\":[{\"sku\":\"S1\",\"name\":\"Sock\"}]},"
                               "\"customer\":{\"id\":\"c\\\"1\",\"marketing_consent\":false}}");
    char *ctx = ac_octx_of(placed);
    assert_non_null(ctx);
    assert_string_equal(ctx, "{\"store\":{\"id\":\"42\"},\"customer\":{\"id\":\"c\\\"1\","
                             "\"marketing_consent\":false},\"order\":{\"number\":\"1001\"}}");
    free(ctx);
    ac_event_destroy(placed);
}

/* A rating made from a link names ids only; its order's context adds the
 * customer's address and name, the order's number and the store's
 * details, and never overrides what the event has. */
static void test_octx_merge(void **state)
{
    (void)state;
    ac_event_t *placed = parse(PLACED);
    char *ctx = ac_octx_of(placed);
    assert_non_null(ctx);
    assert_not_contains(ctx, "occurred_at");
    ac_event_t *rating =
        parse("{\"event_id\":\"r1\",\"type\":\"feedback.received\",\"occurred_at\":"
              "\"2026-12-01T10:00:00Z\",\"store\":{\"id\":\"st_a\",\"name\":\"Alpha Shop\"},"
              "\"order\":{\"id\":\"o|1 x\"},\"customer\":{\"id\":\"c|7 "
              "y\"},\"feedback\":{\"rating\":1}}");
    assert_true(ac_octx_wanted(rating));
    assert_false(ac_octx_wanted(placed));
    char *merged = ac_octx_merge(rating, ctx, strlen(ctx));
    assert_non_null(merged);
    ac_event_t *ev = parse(merged);
    assert_string_equal(ev->customer.email, "ana@example.com");
    assert_string_equal(ev->customer.first_name, "Ana");
    assert_string_equal(ev->order.number, "A-1");
    assert_string_equal(ev->store.name, "Alpha Shop"); /* the event's own wins */
    assert_string_equal(ev->store.locale, "de-DE");
    assert_int_equal(ev->feedback.rating, 1);
    assert_string_equal(ev->event_id, "r1");
    assert_false(ac_octx_wanted(ev));
    assert_null(ac_octx_merge(rating, "not json", 8));
    free(merged);
    free(ctx);
    ac_event_destroy(ev);
    ac_event_destroy(rating);
    ac_event_destroy(placed);
}

static void test_dates(void **state)
{
    (void)state;
    int y, m, d;
    assert_int_equal(ac_report_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(ac_report_days_from_civil(2026, 12, 5), 20792);
    assert_int_equal(ac_report_days_from_civil(2000, 3, 1) - ac_report_days_from_civil(2000, 2, 28),
                     2);
    assert_int_equal(ac_report_parse_date("2024-02-29", &y, &m, &d), 0);
    assert_int_equal(ac_report_parse_date("2026-02-29", &y, &m, &d), -1);
    assert_int_equal(ac_report_parse_date("2026-13-01", &y, &m, &d), -1);
    assert_int_equal(ac_report_parse_date("2026-1-01", &y, &m, &d), -1);
    assert_int_equal(ac_report_parse_date("2026-01-01x", &y, &m, &d), -1);
    assert_int_equal(ac_report_parse_date(NULL, &y, &m, &d), -1);
    assert_int_equal(ac_report_parse_date("2026-04-31", &y, &m, &d), -1);
}

/* The settings of a store's control groups and complaints. */
static void test_store_settings(void **state)
{
    (void)state;
    static const ac_store_settings_t none;
    char err[256];
    ac_stores_t *t;
    const char *ok = "{\"stores\":{\"a\":{\"holdout\":{\"review_request\":10,\"referral_invite\":"
                     "2.5,\"cross_sell\":20},\"support\":\"care@a.example\"},\"b\":{\"support\":"
                     "\"https://b.example/hook\"}}}";
    t = ac_stores_new(&none, ok, strlen(ok), err, sizeof(err));
    assert_non_null(t);
    assert_int_equal(ac_stores_get(t, "a")->holdout_review_bp, 1000);
    assert_int_equal(ac_stores_get(t, "a")->holdout_referral_bp, 250);
    assert_int_equal(ac_stores_get(t, "a")->holdout_cross_sell_bp, 2000);
    assert_string_equal(ac_stores_get(t, "a")->support, "care@a.example");
    assert_string_equal(ac_stores_get(t, "b")->support, "https://b.example/hook");
    assert_null(ac_stores_get(t, "c")->support);
    ac_stores_destroy(t);
    static const struct {
        const char *json, *why;
    } bad[] = {
        {"{\"stores\":{\"a\":{\"holdout\":{\"review_request\":60}}}}", "from 0 to 50"},
        {"{\"stores\":{\"a\":{\"holdout\":{\"review_request\":-1}}}}", "from 0 to 50"},
        {"{\"stores\":{\"a\":{\"holdout\":{\"order_confirmation\":5}}}}",
         "not \"order_confirmation\""},
        {"{\"stores\":{\"a\":{\"holdout\":10}}}", "must be an object"},
        {"{\"stores\":{\"a\":{\"support\":\"nobody\"}}}", "support must be"},
        {"{\"stores\":{\"a\":{\"support\":\"a b@c.example\"}}}", "support must be"},
        {"{\"stores\":{\"a\":{\"support\":\"ftp://c.example\"}}}", "support must be"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        t = ac_stores_new(&none, bad[i].json, strlen(bad[i].json), err, sizeof(err));
        if (t)
            fail_msg("accepted %s", bad[i].json);
        assert_contains(err, bad[i].why);
        assert_contains(err, "store a");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keys),          cmocka_unit_test(test_codec_round_trip),
        cmocka_unit_test(test_codec_refuses), cmocka_unit_test(test_holdout),
        cmocka_unit_test(test_octx_merge),    cmocka_unit_test(test_octx_ids_as_text),
        cmocka_unit_test(test_dates),         cmocka_unit_test(test_store_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
