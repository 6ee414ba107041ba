/* Unit tests for common/woocommerce: WooCommerce order webhooks (REST API
 * v3 order bodies, tests/data/platforms/woocommerce) to canonical events,
 * each of which the workers' validator must accept as it is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "woocommerce.h"

#include "test_mapper_util.h"
#include "test_util.h"

static const ac_canon_store_t STORE = {"st_alpenglow", "Alpenglow Outdoor", "de-DE",
                                       "Europe/Berlin"};

/* Maps body under topic into b (initialised here); err holds the reason of
 * an AC_CANON_INVALID. */
static ac_canon_rc_t map(const char *topic, json_object *body, ac_canon_batch_t *b, char err[256])
{
    ac_canon_in_t in = {"woocommerce", topic, NULL, NULL, &STORE, body};
    ac_canon_batch_init(b);
    err[0] = '\0';
    return ac_woo_map(&in, b, err, 256);
}

/* Maps fixture rel as an order.updated, expecting n events that all pass
 * the validator. */
static void map_fixture(const char *rel, ac_canon_batch_t *b, size_t n)
{
    char err[256];
    json_object *body = mt_load(rel);
    assert_int_equal(map("order.updated", body, b, err), AC_CANON_OK);
    json_object_put(body);
    assert_int_equal(b->n, n);
    mt_validate_all(b);
}

static const char *woo_id(const char *order, const char *type, const char *disc, char out[48])
{
    char identity[64];
    snprintf(identity, sizeof(identity), "order:%s", order);
    return mt_event_id("woocommerce", STORE.id, identity, type, disc, out);
}

static void assert_store(json_object *ev)
{
    assert_at(ev, "store.id", "st_alpenglow");
    assert_at(ev, "store.name", "Alpenglow Outdoor");
    assert_at(ev, "store.locale", "de-DE");
    assert_at(ev, "store.timezone", "Europe/Berlin");
}

static void processing_order_is_placed(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    char id[48];
    map_fixture("woocommerce/order_created_processing.json", &b, 1);
    json_object *ev = b.ev[0];
    assert_at(ev, "type", "order.placed");
    assert_at(ev, "event_id", woo_id("727", "order.placed", "", id));
    assert_at(ev, "occurred_at", "2024-11-04T09:01:28.000Z"); /* date_paid_gmt */
    assert_store(ev);
    assert_at(ev, "order.id", "727");
    assert_at(ev, "order.number", "727");
    assert_at(ev, "order.total", "29.85");
    assert_at(ev, "order.currency", "EUR");
    assert_absent(ev, "order.items.0.sku"); /* "" is no sku */
    assert_at(ev, "order.items.0.name", "Woo Single #1");
    assert_at(ev, "order.items.0.quantity", "2");
    assert_at(ev, "order.items.0.price", "3");
    assert_at(ev, "order.items.1.sku", "Bar3");
    assert_at(ev, "order.items.1.name", "Ship Your Idea - Black, M");
    assert_at(ev, "order.items.1.quantity", "1");
    assert_at(ev, "order.items.1.price", "12.50");
    assert_absent(ev, "order.items.2");
    assert_at(ev, "customer.id", "12");
    assert_at(ev, "customer.email", "zoe.mueller@example.com");
    assert_at(ev, "customer.phone", "+49 151 55597971");
    assert_at(ev, "customer.first_name", "Zoë");
    assert_absent(ev, "customer.locale");
    assert_absent(ev, "customer.marketing_consent");
    assert_absent(ev, "shipment");
    assert_absent(ev, "return");

    ac_event_t *parsed = mt_validate(ev);
    assert_int_equal(parsed->type, AC_EVENT_ORDER_PLACED);
    assert_int_equal(parsed->occurred_ms, 1730710888000LL);
    assert_int_equal(parsed->order.n_items, 2);
    assert_int_equal(parsed->order.items[0].quantity, 2);
    assert_false(parsed->customer.has_marketing_consent);
    ac_event_destroy(parsed);
    ac_canon_batch_clear(&b);
}

static void completed_order_with_tracking_ships_each_parcel(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    char id[48];
    map_fixture("woocommerce/order_updated_completed_tracking.json", &b, 3);
    assert_at(b.ev[0], "type", "order.placed");
    assert_at(b.ev[0], "event_id", woo_id("728", "order.placed", "", id));
    assert_at(b.ev[0], "occurred_at", "2024-11-05T14:13:02.000Z");
    for (size_t i = 0; i < 3; i++) {
        assert_store(b.ev[i]);
        assert_at(b.ev[i], "order.id", "728");
        assert_at(b.ev[i], "order.number", "728");
        assert_at(b.ev[i], "order.total", "29.85");
        assert_at(b.ev[i], "order.currency", "PLN");
        assert_at(b.ev[i], "order.items.1.sku", "Bar3");
        assert_at(b.ev[i], "customer.id", "guest-728"); /* customer_id 0 */
        assert_at(b.ev[i], "customer.email", "lukasz.nowak@example.pl");
        assert_at(b.ev[i], "customer.phone", "+48 512 345 678");
        assert_at(b.ev[i], "customer.first_name", "Łukasz");
        assert_absent(b.ev[i], "customer.locale");
    }

    json_object *dhl = b.ev[1];
    assert_at(dhl, "type", "shipment.shipped");
    assert_at(dhl, "event_id",
              woo_id("728", "shipment.shipped", "5f1c8e2a9d4b7c3e6a0f2d8b1e4c7a90", id));
    assert_at(dhl, "occurred_at", "2024-11-06T08:00:00.000Z"); /* date_shipped "1730880000" */
    assert_at(dhl, "shipment.id", "5f1c8e2a9d4b7c3e6a0f2d8b1e4c7a90");
    assert_at(dhl, "shipment.carrier", "dhl");
    assert_at(dhl, "shipment.tracking_number", "00340434161094042557");
    assert_absent(dhl, "shipment.tracking_url");
    assert_at(dhl, "shipment.status", "shipped");

    json_object *inpost = b.ev[2];
    assert_at(inpost, "type", "shipment.shipped");
    assert_at(inpost, "event_id",
              woo_id("728", "shipment.shipped", "b0d3a7e19c2f48d6a5e7c1b9f3d2e8a4", id));
    assert_at(inpost, "occurred_at", "2024-11-07T08:00:00.000Z"); /* date_shipped 1730966400 */
    assert_at(inpost, "shipment.id", "b0d3a7e19c2f48d6a5e7c1b9f3d2e8a4");
    assert_at(inpost, "shipment.carrier", "InPost"); /* custom_tracking_provider */
    assert_at(inpost, "shipment.tracking_number", "520113017830400025431265");
    assert_at(inpost, "shipment.tracking_url",
              "https://inpost.pl/sledzenie-przesylek?number=520113017830400025431265");
    assert_at(inpost, "shipment.status", "shipped");
    ac_canon_batch_clear(&b);
}

static void cancelled_order(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    char id[48];
    map_fixture("woocommerce/order_updated_cancelled.json", &b, 1);
    json_object *ev = b.ev[0];
    assert_at(ev, "type", "order.cancelled");
    assert_at(ev, "event_id", woo_id("729", "order.cancelled", "", id));
    assert_at(ev, "occurred_at", "2024-11-04T11:42:05.000Z"); /* date_modified_gmt */
    assert_store(ev);
    assert_at(ev, "order.id", "729");
    assert_at(ev, "order.number", "729");
    assert_at(ev, "order.total", "29.85");
    assert_at(ev, "order.currency", "EUR");
    assert_at(ev, "order.items.0.name", "Woo Single #1");
    assert_at(ev, "customer.id", "15");
    assert_absent(ev, "customer.email"); /* billing "", shipping has none */
    assert_at(ev, "customer.phone", "+353 87 123 4567");
    assert_at(ev, "customer.first_name", "Siobhán");
    ac_canon_batch_clear(&b);
}

static void each_refund_is_its_own_event(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    char id[48];
    map_fixture("woocommerce/order_updated_refunded.json", &b, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_at(b.ev[i], "type", "return.refunded");
        assert_at(b.ev[i], "occurred_at", "2024-11-14T14:03:10.000Z"); /* date_modified_gmt */
        assert_store(b.ev[i]);
        assert_at(b.ev[i], "order.id", "730");
        assert_at(b.ev[i], "order.currency", "EUR");
        assert_at(b.ev[i], "customer.id", "12");
        assert_at(b.ev[i], "customer.first_name", "Zoë");
    }
    assert_at(b.ev[0], "event_id", woo_id("730", "return.refunded", "refund:745", id));
    assert_at(b.ev[0], "return.id", "745");
    assert_at(b.ev[0], "return.refund_amount", "19.85"); /* total "-19.85" */
    assert_absent(b.ev[0], "return.reason");
    assert_at(b.ev[1], "event_id", woo_id("730", "return.refunded", "refund:741", id));
    assert_at(b.ev[1], "return.id", "741");
    assert_at(b.ev[1], "return.refund_amount", "10.00");
    assert_at(b.ev[1], "return.reason", "Damaged in transit");

    ac_event_t *parsed = mt_validate(b.ev[1]);
    assert_true(parsed->ret.has_refund_amount);
    assert_true(parsed->ret.refund_amount > 9.99 && parsed->ret.refund_amount < 10.01);
    ac_event_destroy(parsed);

    /* A third refund adds its event; the first two keep their ids. */
    char first[48], second[48], err[256];
    snprintf(first, sizeof(first), "%s", mt_at(b.ev[0], "event_id"));
    snprintf(second, sizeof(second), "%s", mt_at(b.ev[1], "event_id"));
    ac_canon_batch_clear(&b);
    json_object *body = mt_load("woocommerce/order_updated_refunded.json");
    json_object *r = json_tokener_parse("{\"id\":752,\"reason\":\"Goodwill\",\"total\":\"-1.50\"}");
    json_object_array_put_idx(json_object_object_get(body, "refunds"), 2, r);
    assert_int_equal(map("order.updated", body, &b, err), AC_CANON_OK);
    assert_int_equal(b.n, 3);
    mt_validate_all(&b);
    assert_at(b.ev[0], "event_id", first);
    assert_at(b.ev[1], "event_id", second);
    assert_at(b.ev[2], "event_id", woo_id("730", "return.refunded", "refund:752", id));
    assert_at(b.ev[2], "return.refund_amount", "1.50");
    json_object_put(body);
    ac_canon_batch_clear(&b);
}

/* Status refunded without a refund record: the whole order. */
static void refunded_without_refunds_is_the_total(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    char id[48], err[256];
    json_object *body = mt_load("woocommerce/order_updated_refunded.json");
    json_object_object_add(body, "refunds", json_object_new_array());
    assert_int_equal(map("order.updated", body, &b, err), AC_CANON_OK);
    assert_int_equal(b.n, 1);
    mt_validate_all(&b);
    assert_at(b.ev[0], "type", "return.refunded");
    assert_at(b.ev[0], "event_id", woo_id("730", "return.refunded", "", id));
    assert_at(b.ev[0], "occurred_at", "2024-11-14T14:03:10.000Z");
    assert_at(b.ev[0], "return.refund_amount", "29.85");
    assert_absent(b.ev[0], "return.id");
    json_object_put(body);
    ac_canon_batch_clear(&b);
}

/* The fixture's tracking meta entry removed, or replaced by value. */
static json_object *tracking_body(json_object *value)
{
    json_object *body = mt_load("woocommerce/order_updated_completed_tracking.json");
    json_object *meta = json_object_object_get(body, "meta_data");
    json_object *entry = json_object_array_get_idx(meta, 1);
    if (value)
        json_object_object_add(entry, "value", value);
    else
        json_object_object_add(entry, "key", json_object_new_string("_other_plugin"));
    return body;
}

static void completed_without_tracking_is_shipped(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    char id[48], err[256];
    json_object *body = tracking_body(NULL);
    assert_int_equal(map("order.updated", body, &b, err), AC_CANON_OK);
    assert_int_equal(b.n, 2);
    mt_validate_all(&b);
    assert_at(b.ev[0], "type", "order.placed");
    assert_at(b.ev[1], "type", "shipment.shipped");
    assert_at(b.ev[1], "event_id", woo_id("728", "shipment.shipped", "", id));
    assert_at(b.ev[1], "occurred_at", "2024-11-07T08:30:11.000Z"); /* date_completed_gmt */
    assert_at(b.ev[1], "shipment.status", "shipped");
    assert_absent(b.ev[1], "shipment.id");
    assert_absent(b.ev[1], "shipment.carrier");
    json_object_put(body);
    ac_canon_batch_clear(&b);
}

/* PHP turns an array with a gap into an object keyed "0", "1" ...; an item
 * of an old version of the extension has no tracking_id (the tracking
 * number names it) and may lack date_shipped (the completion date
 * stands in). */
static void tracking_items_in_other_shapes(void **state)
{
    (void)state;
    ac_canon_batch_t array, object;
    char err[256], id[48];
    json_object *body = mt_load("woocommerce/order_updated_completed_tracking.json");
    assert_int_equal(map("order.updated", body, &array, err), AC_CANON_OK);
    json_object *items = json_object_object_get(
        json_object_array_get_idx(json_object_object_get(body, "meta_data"), 1), "value");
    json_object *keyed = json_object_new_object();
    json_object_object_add(keyed, "0", json_object_get(json_object_array_get_idx(items, 0)));
    json_object_object_add(keyed, "2", json_object_get(json_object_array_get_idx(items, 1)));
    json_object_put(body);
    body = tracking_body(keyed);
    assert_int_equal(map("order.updated", body, &object, err), AC_CANON_OK);
    assert_int_equal(object.n, array.n);
    for (size_t i = 0; i < array.n; i++)
        assert_string_equal(mt_at(object.ev[i], "event_id"), mt_at(array.ev[i], "event_id"));
    json_object_put(body);
    ac_canon_batch_clear(&array);
    ac_canon_batch_clear(&object);

    body = tracking_body(json_tokener_parse(
        "[{\"tracking_provider\":\"royal-mail\",\"tracking_number\":\"AB123456785GB\"}]"));
    assert_int_equal(map("order.updated", body, &object, err), AC_CANON_OK);
    assert_int_equal(object.n, 2);
    mt_validate_all(&object);
    assert_at(object.ev[1], "event_id", woo_id("728", "shipment.shipped", "AB123456785GB", id));
    assert_at(object.ev[1], "shipment.id", "AB123456785GB");
    assert_at(object.ev[1], "shipment.carrier", "royal-mail");
    assert_at(object.ev[1], "occurred_at", "2024-11-07T08:30:11.000Z");
    json_object_put(body);
    ac_canon_batch_clear(&object);
}

/* WooCommerce does not retry and sends no event id: the same order sent
 * again, or touched without a change aftercare cares about, repeats the
 * ids the workers already processed. */
static void same_state_same_event_ids(void **state)
{
    (void)state;
    static const char *const fixtures[] = {
        "woocommerce/order_created_processing.json",
        "woocommerce/order_updated_completed_tracking.json",
        "woocommerce/order_updated_cancelled.json",
        "woocommerce/order_updated_refunded.json",
    };
    for (size_t f = 0; f < sizeof(fixtures) / sizeof(fixtures[0]); f++) {
        ac_canon_batch_t first, again, touched;
        char err[256];
        json_object *body = mt_load(fixtures[f]);
        assert_int_equal(map("order.updated", body, &first, err), AC_CANON_OK);
        assert_int_equal(map("order.updated", body, &again, err), AC_CANON_OK);
        json_object_object_add(body, "date_modified_gmt",
                               json_object_new_string("2024-12-01T10:00:00"));
        json_object_object_add(body, "date_modified",
                               json_object_new_string("2024-12-01T11:00:00"));
        assert_int_equal(map("order.updated", body, &touched, err), AC_CANON_OK);
        assert_true(first.n > 0);
        assert_int_equal(again.n, first.n);
        assert_int_equal(touched.n, first.n);
        for (size_t i = 0; i < first.n; i++) {
            const char *want = mt_at(first.ev[i], "event_id");
            assert_string_equal(mt_at(again.ev[i], "event_id"), want);
            assert_string_equal(mt_at(touched.ev[i], "event_id"), want);
            assert_string_equal(json_object_to_json_string(again.ev[i]),
                                json_object_to_json_string(first.ev[i]));
        }
        json_object_put(body);
        ac_canon_batch_clear(&first);
        ac_canon_batch_clear(&again);
        ac_canon_batch_clear(&touched);
    }
}

/* Ids beyond 2^53, up to 2^64 - 2, reach the event as their exact decimal
 * text, never through a double (json-c clamps larger ones to 2^64 - 1,
 * which canon refuses). */
static void big_ids_stay_exact(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    char err[256], id[48];
    json_object *body = json_tokener_parse(
        "{\"id\":9007199254740993,\"number\":\"9007199254740993\",\"status\":\"refunded\","
        "\"customer_id\":18446744073709551614,\"total\":\"5.00\",\"currency\":\"USD\","
        "\"date_modified_gmt\":\"2024-11-04T09:01:28\",\"billing\":{\"email\":\"a@example.com\"},"
        "\"refunds\":[{\"id\":9007199254740995,\"reason\":\"\",\"total\":\"-5.00\"}]}");
    assert_int_equal(map("order.updated", body, &b, err), AC_CANON_OK);
    assert_int_equal(b.n, 1);
    assert_at(b.ev[0], "order.id", "9007199254740993");
    assert_at(b.ev[0], "customer.id", "18446744073709551614");
    assert_at(b.ev[0], "return.id", "9007199254740995");
    assert_at(b.ev[0], "event_id",
              woo_id("9007199254740993", "return.refunded", "refund:9007199254740995", id));
    ac_event_t *parsed = mt_validate(b.ev[0]);
    assert_string_equal(parsed->order.id, "9007199254740993");
    assert_string_equal(parsed->customer.id, "18446744073709551614");
    assert_string_equal(parsed->ret.id, "9007199254740995");
    ac_event_destroy(parsed);
    json_object_put(body);
    ac_canon_batch_clear(&b);
}

/* What each status says; unpaid orders say nothing yet. */
static void statuses(void **state)
{
    (void)state;
    static const struct {
        const char *status;
        size_t n;
        const char *first;
    } cases[] = {
        {"pending", 0, NULL},
        {"failed", 0, NULL},
        {"checkout-draft", 0, NULL},
        {"draft", 0, NULL},
        {"trash", 0, NULL},
        {"on-hold", 1, "order.placed"},
        {"processing", 1, "order.placed"},
        {"completed", 2, "order.placed"},
        {"cancelled", 1, "order.cancelled"},
        {"refunded", 1, "return.refunded"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ac_canon_batch_t b;
        char err[256];
        json_object *body = mt_load("woocommerce/order_created_processing.json");
        json_object_object_add(body, "status", json_object_new_string(cases[i].status));
        assert_int_equal(map("order.created", body, &b, err), AC_CANON_OK);
        if (b.n != cases[i].n)
            fail_msg("status %s: %zu events, want %zu", cases[i].status, b.n, cases[i].n);
        if (cases[i].first)
            assert_at(b.ev[0], "type", cases[i].first);
        mt_validate_all(&b);
        json_object_put(body);
        ac_canon_batch_clear(&b);
    }
}

/* order.restored brings an order back from the trash: mapped by state. */
static void restored_maps_like_updated(void **state)
{
    (void)state;
    ac_canon_batch_t updated, restored;
    char err[256];
    json_object *body = mt_load("woocommerce/order_created_processing.json");
    assert_int_equal(map("order.updated", body, &updated, err), AC_CANON_OK);
    assert_int_equal(map("order.restored", body, &restored, err), AC_CANON_OK);
    assert_int_equal(restored.n, 1);
    assert_string_equal(json_object_to_json_string(restored.ev[0]),
                        json_object_to_json_string(updated.ev[0]));
    json_object_put(body);
    ac_canon_batch_clear(&updated);
    ac_canon_batch_clear(&restored);
}

/* Contact fields missing from the billing address come from the shipping
 * address. */
static void shipping_address_fills_in(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    char err[256];
    json_object *body = mt_load("woocommerce/order_created_processing.json");
    json_object *billing = json_object_object_get(body, "billing");
    json_object *shipping = json_object_object_get(body, "shipping");
    json_object_object_add(billing, "first_name", json_object_new_string(""));
    json_object_object_add(billing, "phone", json_object_new_string(""));
    json_object_object_add(shipping, "first_name", json_object_new_string("Zoe"));
    json_object_object_add(shipping, "phone", json_object_new_string("+49 30 1234567"));
    assert_int_equal(map("order.updated", body, &b, err), AC_CANON_OK);
    assert_int_equal(b.n, 1);
    assert_at(b.ev[0], "customer.first_name", "Zoe");
    assert_at(b.ev[0], "customer.phone", "+49 30 1234567");
    assert_at(b.ev[0], "customer.email", "zoe.mueller@example.com");
    json_object_put(body);
    ac_canon_batch_clear(&b);
}

static void other_topics_are_ignored(void **state)
{
    (void)state;
    static const char *const topics[] = {
        "order.deleted",
        "product.created",
        "product.updated",
        "product.deleted",
        "customer.created",
        "customer.updated",
        "coupon.created",
        "coupon.deleted",
        "action.woocommerce_add_to_cart",
        "",
        NULL,
    };
    json_object *body = mt_load("woocommerce/order_created_processing.json");
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
        ac_canon_batch_t b;
        char err[256];
        assert_int_equal(map(topics[i], body, &b, err), AC_CANON_IGNORED);
        assert_int_equal(b.n, 0);
    }
    json_object_put(body);
}

static void invalid_bodies(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "[{\"id\":727}]",
        "\"order.updated\"",
        "{\"number\":\"727\",\"status\":\"processing\",\"billing\":{\"email\":\"zoe@example.com\"}"
        "}",
        "{\"id\":\"\",\"billing\":{\"email\":\"zoe@example.com\"}}",
        "{\"id\":727.5,\"billing\":{\"email\":\"zoe@example.com\"}}",
        "{\"id\":null,\"billing\":{\"email\":\"zoe@example.com\"}}",
    };
    for (size_t i = 0; i <= sizeof(bodies) / sizeof(bodies[0]); i++) {
        ac_canon_batch_t b;
        char err[256];
        json_object *body =
            i < sizeof(bodies) / sizeof(bodies[0]) ? json_tokener_parse(bodies[i]) : NULL;
        assert_int_equal(map("order.updated", body, &b, err), AC_CANON_INVALID);
        assert_int_equal(b.n, 0);
        assert_true(strlen(err) > 10);
        assert_not_contains(err, "zoe");
        json_object_put(body);
    }

    /* An id longer than the workers accept. */
    ac_canon_batch_t b;
    char err[256], longid[AC_EVENT_MAX_ID_LEN + 2];
    memset(longid, '7', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    json_object *body = mt_load("woocommerce/order_created_processing.json");
    json_object_object_add(body, "id", json_object_new_string(longid));
    assert_int_equal(map("order.updated", body, &b, err), AC_CANON_INVALID);
    assert_int_equal(b.n, 0);
    json_object_put(body);

    /* A guest's id is "guest-<order id>": an order id
     * that leaves no room for it is refused whole. */
    longid[AC_EVENT_MAX_ID_LEN - 3] = '\0';
    body = mt_load("woocommerce/order_created_processing.json");
    json_object_object_add(body, "id", json_object_new_string(longid));
    json_object_object_add(body, "customer_id", json_object_new_int(0));
    assert_int_equal(map("order.updated", body, &b, err), AC_CANON_INVALID);
    assert_int_equal(b.n, 0);
    assert_contains(err, "guest");
    json_object_put(body);
}

/* More events than a batch holds: none rather than some. */
static void too_many_events_is_invalid(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    char err[256];
    json_object *body = mt_load("woocommerce/order_updated_refunded.json");
    json_object *refunds = json_object_new_array();
    for (int i = 0; i < AC_CANON_MAX_EVENTS + 1; i++) {
        json_object *r = json_object_new_object();
        json_object_object_add(r, "id", json_object_new_int(1000 + i));
        json_object_object_add(r, "total", json_object_new_string("-0.10"));
        json_object_array_add(refunds, r);
    }
    json_object_object_add(body, "refunds", refunds);
    assert_int_equal(map("order.updated", body, &b, err), AC_CANON_INVALID);
    assert_int_equal(b.n, 0);
    assert_contains(err, "more than");
    json_object_put(body);
}

static void ping(void **state)
{
    (void)state;
    size_t len = 0;
    char *fixture = mt_slurp("woocommerce/ping.txt", &len);
    assert_true(ac_woo_is_ping(fixture, len));
    free(fixture);
    assert_true(ac_woo_is_ping("webhook_id=1", 12));
    assert_true(ac_woo_is_ping("webhook_id=18446744073709551615", 31));
    /* Only the first len bytes count. */
    assert_true(ac_woo_is_ping("webhook_id=12&junk", 13));

    static const char *const not_pings[] = {
        "webhook_id=",
        "webhook_id=12\n",
        "webhook_id=abc",
        "webhook_id=12&x=1",
        "webhook_id=-1",
        "{\"webhook_id\":12}",
        "Webhook_id=12",
        "webhook_id",
        "webhook_id=123456789012345678901",
        "",
    };
    for (size_t i = 0; i < sizeof(not_pings) / sizeof(not_pings[0]); i++)
        assert_false(ac_woo_is_ping(not_pings[i], strlen(not_pings[i])));
    assert_false(ac_woo_is_ping("webhook_id=12", 11));
    assert_false(ac_woo_is_ping(NULL, 0));

    size_t olen = 0;
    char *order = mt_slurp("woocommerce/order_created_processing.json", &olen);
    assert_false(ac_woo_is_ping(order, olen));
    free(order);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(processing_order_is_placed),
        cmocka_unit_test(completed_order_with_tracking_ships_each_parcel),
        cmocka_unit_test(cancelled_order),
        cmocka_unit_test(each_refund_is_its_own_event),
        cmocka_unit_test(refunded_without_refunds_is_the_total),
        cmocka_unit_test(completed_without_tracking_is_shipped),
        cmocka_unit_test(tracking_items_in_other_shapes),
        cmocka_unit_test(same_state_same_event_ids),
        cmocka_unit_test(big_ids_stay_exact),
        cmocka_unit_test(statuses),
        cmocka_unit_test(restored_maps_like_updated),
        cmocka_unit_test(shipping_address_fills_in),
        cmocka_unit_test(other_topics_are_ignored),
        cmocka_unit_test(invalid_bodies),
        cmocka_unit_test(too_many_events_is_invalid),
        cmocka_unit_test(ping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
