/* Unit tests for common/rules: which messages an orders-topic event calls
 * for, and their ids. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "rules.h"

static ac_event_t *event(const char *event_id, const char *type, const char *store,
                         const char *order_id_json)
{
    char json[1024];
    char store_part[128] = "";
    if (store)
        snprintf(store_part, sizeof(store_part), "\"store\":{\"id\":\"%s\",\"name\":\"Nordwind\"},",
                 store);
    snprintf(json, sizeof(json),
             "{\"event_id\":\"%s\",\"type\":\"%s\",\"occurred_at\":\"2026-11-25T10:15:00Z\",%s"
             "\"order\":{\"id\":%s,\"number\":\"5001\",\"total\":10},"
             "\"customer\":{\"id\":\"c1\",\"email\":\"zoe@example.com\"}}",
             event_id, type, store_part, order_id_json);
    ac_event_error_t err;
    ac_event_t *ev = ac_event_parse(json, strlen(json), 0, &err);
    if (!ev)
        fail_msg("test event does not parse: %s", err.detail);
    return ev;
}

static const ac_journey_t no_journey;
static const ac_store_settings_t defaults = {.review_delay_ms = 7 * 86400000LL,
                                             .referral_delay_ms = 14 * 86400000LL,
                                             .shipped_updates = 1,
                                             .review_requests = 1,
                                             .referral_invites = 1};

/* Runs the orders rules with a sentinel-filled output array. */
static size_t decide(const ac_event_t *ev, ac_decision_t out[AC_RULES_MAX_DECISIONS])
{
    memset(out, 0x5a, sizeof(ac_decision_t) * AC_RULES_MAX_DECISIONS);
    size_t n = ac_rules_orders(ev, &no_journey, &defaults, out, AC_RULES_MAX_DECISIONS);
    assert_true(n <= AC_RULES_MAX_DECISIONS);
    return n;
}

static void test_placed_confirms(void **state)
{
    (void)state;
    ac_event_t *ev = event("evt_1", "order.placed", "st_berlin", "\"ord_5001\"");
    ac_decision_t out[AC_RULES_MAX_DECISIONS];
    assert_int_equal(decide(ev, out), 1);
    assert_int_equal(out[0].kind, AC_KIND_ORDER_CONFIRMATION);
    assert_int_equal(out[0].due_ms, 0);
    char id[AC_MESSAGE_ID_LEN];
    ac_message_id(AC_KIND_ORDER_CONFIRMATION, "st_berlin", "ord_5001", NULL, id);
    assert_string_equal(out[0].id, id);
    ac_event_destroy(ev);
}

static void test_replayed_placed_same_id(void **state)
{
    (void)state;
    /* A second order.placed for the same order (a replay, or a producer
     * retry with a fresh event id) asks for the same confirmation. */
    ac_event_t *a = event("evt_1", "order.placed", "st_berlin", "\"ord_5001\"");
    ac_event_t *b = event("evt_2_retry", "order.placed", "st_berlin", "\"ord_5001\"");
    ac_decision_t da[AC_RULES_MAX_DECISIONS], db[AC_RULES_MAX_DECISIONS];
    assert_int_equal(decide(a, da), 1);
    assert_int_equal(decide(b, db), 1);
    assert_string_equal(da[0].id, db[0].id);
    ac_event_destroy(a);
    ac_event_destroy(b);
}

static void test_numeric_and_string_order_ids_agree(void **state)
{
    (void)state;
    ac_event_t *a = event("evt_1", "order.placed", "st", "5001");
    ac_event_t *b = event("evt_2", "order.placed", "st", "\"5001\"");
    ac_decision_t da[AC_RULES_MAX_DECISIONS], db[AC_RULES_MAX_DECISIONS];
    assert_int_equal(decide(a, da), 1);
    assert_int_equal(decide(b, db), 1);
    assert_string_equal(da[0].id, db[0].id);
    ac_event_destroy(a);
    ac_event_destroy(b);
}

static void test_different_orders_differ(void **state)
{
    (void)state;
    ac_event_t *a = event("evt_1", "order.placed", "st", "\"ord_1\"");
    ac_event_t *b = event("evt_1", "order.placed", "st", "\"ord_2\"");
    ac_event_t *c = event("evt_1", "order.placed", "other_store", "\"ord_1\"");
    ac_decision_t da[AC_RULES_MAX_DECISIONS], db[AC_RULES_MAX_DECISIONS],
        dc[AC_RULES_MAX_DECISIONS];
    decide(a, da);
    decide(b, db);
    decide(c, dc);
    assert_string_not_equal(da[0].id, db[0].id);
    assert_string_not_equal(da[0].id, dc[0].id);
    ac_event_destroy(a);
    ac_event_destroy(b);
    ac_event_destroy(c);
}

static void test_no_store(void **state)
{
    (void)state;
    ac_event_t *ev = event("evt_1", "order.placed", NULL, "\"ord_1\"");
    ac_decision_t out[AC_RULES_MAX_DECISIONS];
    assert_int_equal(decide(ev, out), 1);
    char id[AC_MESSAGE_ID_LEN];
    ac_message_id(AC_KIND_ORDER_CONFIRMATION, NULL, "ord_1", NULL, id);
    assert_string_equal(out[0].id, id);
    ac_event_destroy(ev);
}

static void test_cancelled(void **state)
{
    (void)state;
    ac_event_t *placed = event("evt_1", "order.placed", "st", "\"ord_1\"");
    ac_event_t *cancelled = event("evt_2", "order.cancelled", "st", "\"ord_1\"");
    ac_decision_t dp[AC_RULES_MAX_DECISIONS], dc[AC_RULES_MAX_DECISIONS];
    assert_int_equal(decide(placed, dp), 1);
    /* The notice, and the cancellation of whatever was scheduled. */
    assert_int_equal(decide(cancelled, dc), 3);
    assert_int_equal(dc[0].kind, AC_KIND_ORDER_CANCELLED);
    assert_int_equal(dc[0].action, AC_ACTION_SEND);
    assert_int_equal(dc[0].due_ms, 0);
    assert_int_equal(dc[1].action, AC_ACTION_CANCEL);
    assert_int_equal(dc[1].kind, AC_KIND_REVIEW_REQUEST);
    assert_int_equal(dc[1].due_ms, cancelled->occurred_ms);
    assert_int_equal(dc[2].action, AC_ACTION_CANCEL);
    assert_int_equal(dc[2].kind, AC_KIND_REFERRAL_INVITE);
    char id[AC_MESSAGE_ID_LEN];
    ac_message_id(AC_KIND_ORDER_CANCELLED, "st", "ord_1", NULL, id);
    assert_string_equal(dc[0].id, id);
    /* Confirming and cancelling the same order are two messages. */
    assert_string_not_equal(dp[0].id, dc[0].id);
    ac_event_destroy(placed);
    ac_event_destroy(cancelled);
}

static void test_other_types_call_for_nothing(void **state)
{
    (void)state;
    static const char *types[] = {
        "shipment.shipped",      "shipment.in_transit", "shipment.out_for_delivery",
        "shipment.delayed",      "shipment.exception",  "shipment.delivered",
        "return.requested",      "return.received",     "return.refunded",
        "loyalty.points_earned", "order.updated"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        ac_event_t *ev = event("evt_1", types[i], "st", "\"ord_1\"");
        ac_decision_t out[AC_RULES_MAX_DECISIONS];
        if (decide(ev, out) != 0)
            fail_msg("%s called for a message on the orders topic", types[i]);
        /* Nothing was written. */
        const unsigned char *p = (const unsigned char *)out;
        for (size_t b = 0; b < sizeof(out); b++)
            assert_int_equal(p[b], 0x5a);
        ac_event_destroy(ev);
    }
}

static void test_no_room(void **state)
{
    (void)state;
    ac_event_t *ev = event("evt_1", "order.placed", "st", "\"ord_1\"");
    ac_decision_t out[1];
    memset(out, 0x5a, sizeof(out));
    assert_int_equal(ac_rules_orders(ev, &no_journey, &defaults, out, 0), 0);
    assert_int_equal(((unsigned char *)out)[0], 0x5a);
    assert_int_equal(ac_rules_orders(ev, &no_journey, &defaults, out, 1), 1);
    ac_event_destroy(ev);
    /* A cancellation with room for one decision keeps the notice. */
    ev = event("evt_2", "order.cancelled", "st", "\"ord_1\"");
    assert_int_equal(ac_rules_orders(ev, &no_journey, &defaults, out, 1), 1);
    assert_int_equal(out[0].kind, AC_KIND_ORDER_CANCELLED);
    ac_event_destroy(ev);
}

static void test_decision_helper(void **state)
{
    (void)state;
    ac_event_t *ev = event("evt_1", "shipment.delayed", "st", "\"ord_1\"");
    ac_decision_t d;
    ac_rules_decision(ev, AC_KIND_DELAY_NOTICE, "2026-11-30", 1795651200000LL, &d);
    assert_int_equal(d.kind, AC_KIND_DELAY_NOTICE);
    assert_int_equal(d.due_ms, 1795651200000LL);
    char id[AC_MESSAGE_ID_LEN];
    ac_message_id(AC_KIND_DELAY_NOTICE, "st", "ord_1", "2026-11-30", id);
    assert_string_equal(d.id, id);
    /* The discriminator tells two notices of one kind apart. */
    ac_decision_t d2;
    ac_rules_decision(ev, AC_KIND_DELAY_NOTICE, "2026-12-02", 0, &d2);
    assert_string_not_equal(d.id, d2.id);
    ac_event_destroy(ev);
}

static void test_rules_fn_signature(void **state)
{
    (void)state;
    /* The orders rules plug into the shared per-topic signature. */
    ac_rules_fn fn = ac_rules_orders;
    ac_event_t *ev = event("evt_1", "order.cancelled", "st", "\"ord_1\"");
    ac_decision_t out[AC_RULES_MAX_DECISIONS];
    assert_int_equal(fn(ev, &no_journey, &defaults, out, AC_RULES_MAX_DECISIONS), 3);
    ac_event_destroy(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_placed_confirms),
        cmocka_unit_test(test_replayed_placed_same_id),
        cmocka_unit_test(test_numeric_and_string_order_ids_agree),
        cmocka_unit_test(test_different_orders_differ),
        cmocka_unit_test(test_no_store),
        cmocka_unit_test(test_cancelled),
        cmocka_unit_test(test_other_types_call_for_nothing),
        cmocka_unit_test(test_no_room),
        cmocka_unit_test(test_decision_helper),
        cmocka_unit_test(test_rules_fn_signature),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
