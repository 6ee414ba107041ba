/* Unit tests for common/bigcommerce: which order a BigCommerce webhook
 * names, and the V2 order, products and shipments fetched for it
 * (tests/data/platforms/bigcommerce) to canonical events, each of which the
 * workers' validator must accept as it is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bigcommerce.h"

#include "test_mapper_util.h"
#include "test_util.h"

static const ac_canon_store_t STORE = {"st_northside", "Northside Records", "en-US",
                                       "America/Chicago"};

static const char *bigc_id(const char *order, const char *type, const char *disc, char out[48])
{
    char identity[64];
    snprintf(identity, sizeof(identity), "order:%s", order);
    return mt_event_id("bigcommerce", STORE.id, identity, type, disc, out);
}

/* ac_bigc_order_of() on JSON text. */
static ac_canon_rc_t order_of(const char *json, char id[64], char err[256])
{
    json_object *body = json_tokener_parse(json);
    id[0] = err[0] = '\0';
    ac_canon_rc_t rc = ac_bigc_order_of(body, id, 64, err, 256);
    json_object_put(body);
    return rc;
}

static ac_canon_rc_t order_of_fixture(const char *rel, char id[64], char err[256])
{
    char *text = mt_slurp(rel, NULL);
    ac_canon_rc_t rc = order_of(text, id, err);
    free(text);
    return rc;
}

/* Maps order (with products and shipments, either may be NULL) into b
 * (initialised here) for the webhook fixture rel. */
static ac_canon_rc_t map(json_object *order, json_object *products, json_object *shipments,
                         ac_canon_batch_t *b, char err[256])
{
    json_object *webhook = mt_load("bigcommerce/webhook_order_status_updated.json");
    ac_canon_in_t in = {"bigcommerce", "store/order/statusUpdated", NULL, NULL, &STORE, webhook};
    ac_canon_batch_init(b);
    err[0] = '\0';
    ac_canon_rc_t rc = ac_bigc_map(&in, order, products, shipments, b, err, 256);
    json_object_put(webhook);
    return rc;
}

/* Maps the fixtures, expecting n events that all pass the validator. */
static void map_fixtures(const char *order_rel, int with_lists, ac_canon_batch_t *b, size_t n)
{
    char err[256];
    json_object *order = mt_load(order_rel);
    json_object *products = with_lists ? mt_load("bigcommerce/order_products.json") : NULL;
    json_object *shipments = with_lists ? mt_load("bigcommerce/order_shipments.json") : NULL;
    assert_int_equal(map(order, products, shipments, b, err), AC_CANON_OK);
    json_object_put(order);
    json_object_put(products);
    json_object_put(shipments);
    assert_int_equal(b->n, n);
    mt_validate_all(b);
}

static void assert_store(json_object *ev)
{
    assert_at(ev, "store.id", "st_northside");
    assert_at(ev, "store.name", "Northside Records");
    assert_at(ev, "store.locale", "en-US");
    assert_at(ev, "store.timezone", "America/Chicago");
}

/* The order and customer every event of order 250 repeats. */
static void assert_order_250(json_object *ev)
{
    assert_store(ev);
    assert_at(ev, "order.id", "250");
    assert_absent(ev, "order.number"); /* V2 orders have none: the id is shown */
    assert_at(ev, "order.total", "79.8400");
    assert_at(ev, "order.currency", "USD");
    assert_at(ev, "order.items.0.sku", "S-ORAN");
    assert_at(ev, "order.items.0.name", "Fog Linen Chambray Towel - Beige Stripe");
    assert_at(ev, "order.items.0.quantity", "2");
    assert_at(ev, "order.items.0.price", "27.0000");
    assert_at(ev, "order.items.1.sku", "OTL"); /* the bundled pick-list product is left out */
    assert_at(ev, "order.items.1.name", "Orbit Terrarium - Large");
    assert_at(ev, "order.items.1.quantity", "1");
    assert_at(ev, "order.items.1.price", "13.8400");
    assert_absent(ev, "order.items.2");
    assert_at(ev, "customer.id", "11");
    assert_at(ev, "customer.email", "jose.garcia@example.com");
    assert_at(ev, "customer.phone", "+1 512 555 0142");
    assert_at(ev, "customer.first_name", "José");
    assert_at(ev, "customer.locale", "en");
    assert_absent(ev, "customer.marketing_consent");
}

static void webhooks_name_the_order(void **state)
{
    (void)state;
    char id[64], err[256];
    assert_int_equal(order_of_fixture("bigcommerce/webhook_order_created.json", id, err),
                     AC_CANON_OK);
    assert_string_equal(id, "250");
    assert_int_equal(order_of_fixture("bigcommerce/webhook_order_status_updated.json", id, err),
                     AC_CANON_OK);
    assert_string_equal(id, "250");
    /* data.id is the shipment (12); data.orderId the order. */
    assert_int_equal(order_of_fixture("bigcommerce/webhook_shipment_created.json", id, err),
                     AC_CANON_OK);
    assert_string_equal(id, "250");

    assert_int_equal(
        order_of("{\"scope\":\"store/order/refund/created\",\"store_id\":\"1025646\","
                 "\"data\":{\"type\":\"order\",\"id\":250,\"refund\":{\"refund_id\":3}}}",
                 id, err),
        AC_CANON_OK);
    assert_string_equal(id, "250");
    assert_int_equal(order_of("{\"scope\":\"store/order/transaction/created\",\"data\":"
                              "{\"type\":\"transaction\",\"order_id\":250,"
                              "\"transaction_id\":\"176342342\"}}",
                              id, err),
                     AC_CANON_OK);
    assert_string_equal(id, "250");
    assert_int_equal(
        order_of("{\"scope\":\"store/shipment/updated\",\"data\":{\"type\":\"shipment\","
                 "\"id\":9007199254740995,\"orderId\":9007199254740993}}",
                 id, err),
        AC_CANON_OK);
    assert_string_equal(id, "9007199254740993");
    assert_int_equal(order_of("{\"scope\":\"store/order/updated\",\"data\":{\"type\":\"order\","
                              "\"id\":\"9007199254740993\"}}",
                              id, err),
                     AC_CANON_OK);
    assert_string_equal(id, "9007199254740993");
}

static void other_scopes_are_ignored(void **state)
{
    (void)state;
    static const char *const scopes[] = {
        "store/product/updated",
        "store/product/created",
        "store/customer/created",
        "store/customer/updated",
        "store/cart/created",
        "store/cart/converted",
        "store/app/uninstalled",
        "store/information/updated",
        "store/sku/inventory/updated",
        "store/subscriber/created",
        "store/order/metafield/created",
    };
    for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
        char json[256], id[64], err[256];
        snprintf(json, sizeof(json),
                 "{\"scope\":\"%s\",\"store_id\":\"1025646\",\"data\":{\"type\":\"x\",\"id\":7}}",
                 scopes[i]);
        assert_int_equal(order_of(json, id, err), AC_CANON_IGNORED);
    }
}

static void invalid_webhooks(void **state)
{
    (void)state;
    static const char *const bodies[] = {
        "[]",
        "\"store/order/created\"",
        "{\"store_id\":\"1025646\",\"data\":{\"type\":\"order\",\"id\":250}}",
        "{\"scope\":\"\",\"data\":{\"type\":\"order\",\"id\":250}}",
        "{\"scope\":\"store/order/created\"}",
        "{\"scope\":\"store/order/created\",\"data\":[250]}",
        "{\"scope\":\"store/order/created\",\"data\":{\"type\":\"order\"}}",
        "{\"scope\":\"store/order/created\",\"data\":{\"type\":\"order\",\"id\":250.5}}",
        "{\"scope\":\"store/order/created\",\"data\":{\"type\":\"order\",\"id\":true}}",
        /* A shipment webhook's data.id is the shipment, never the order. */
        "{\"scope\":\"store/shipment/created\",\"data\":{\"type\":\"shipment\",\"id\":12}}",
        /* The id goes into the API's URL: digits only. */
        "{\"scope\":\"store/order/created\",\"data\":{\"type\":\"order\",\"id\":\"../250\"}}",
        "{\"scope\":\"store/order/created\",\"data\":{\"type\":\"order\",\"id\":\"250?x=1\"}}",
        "{\"scope\":\"store/order/created\",\"data\":{\"type\":\"order\",\"id\":-250}}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        char id[64], err[256];
        assert_int_equal(order_of(bodies[i], id, err), AC_CANON_INVALID);
        assert_true(strlen(err) > 10);
    }
    char id[64], err[256];
    assert_int_equal(ac_bigc_order_of(NULL, id, sizeof(id), err, sizeof(err)), AC_CANON_INVALID);
}

static void awaiting_fulfillment_is_placed_and_shipped(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    char id[48];
    map_fixtures("bigcommerce/order.json", 1, &b, 3);
    for (size_t i = 0; i < b.n; i++)
        assert_order_250(b.ev[i]);

    json_object *placed = b.ev[0];
    assert_at(placed, "type", "order.placed");
    assert_at(placed, "event_id", bigc_id("250", "order.placed", "", id));
    assert_at(placed, "occurred_at", "2019-06-20T16:07:08.000Z"); /* date_created */
    assert_absent(placed, "shipment");
    assert_absent(placed, "return");

    json_object *usps = b.ev[1];
    assert_at(usps, "type", "shipment.shipped");
    assert_at(usps, "event_id", bigc_id("250", "shipment.shipped", "shipment:12", id));
    assert_at(usps, "occurred_at", "2019-06-24T15:00:41.000Z"); /* the shipment's date_created */
    assert_at(usps, "shipment.id", "12");
    assert_at(usps, "shipment.carrier", "USPS"); /* shipping_provider_display_name */
    assert_at(usps, "shipment.tracking_number", "EJ958083578US");
    assert_at(usps, "shipment.tracking_url",
              "https://tools.usps.com/go/TrackConfirmAction.action?tLabels=EJ958083578US");
    assert_at(usps, "shipment.status", "shipped");

    json_object *ups = b.ev[2];
    assert_at(ups, "type", "shipment.shipped");
    assert_at(ups, "event_id", bigc_id("250", "shipment.shipped", "shipment:13", id));
    assert_at(ups, "occurred_at", "2019-06-25T09:12:05.000Z");
    assert_at(ups, "shipment.id", "13");
    assert_at(ups, "shipment.carrier", "ups"); /* tracking_carrier */
    assert_at(ups, "shipment.tracking_number", "1Z999AA10123456784");
    assert_at(ups, "shipment.tracking_url",
              "https://www.ups.com/track?tracknum=1Z999AA10123456784");
    assert_at(ups, "shipment.status", "shipped");

    ac_event_t *parsed = mt_validate(placed);
    assert_int_equal(parsed->type, AC_EVENT_ORDER_PLACED);
    assert_int_equal(parsed->occurred_ms, 1561046828000LL);
    assert_int_equal(parsed->order.n_items, 2);
    assert_string_equal(parsed->customer.locale, "en");
    ac_event_destroy(parsed);
    ac_canon_batch_clear(&b);
}

/* The products and shipments are fetched separately and may be missing:
 * the order alone still says it was placed. */
static void order_without_lists(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    map_fixtures("bigcommerce/order.json", 0, &b, 1);
    assert_at(b.ev[0], "type", "order.placed");
    assert_at(b.ev[0], "order.total", "79.8400");
    assert_absent(b.ev[0], "order.items");
    ac_canon_batch_clear(&b);
}

static void cancelled_guest_order(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    char id[48];
    map_fixtures("bigcommerce/order_cancelled.json", 1, &b, 1);
    json_object *ev = b.ev[0];
    assert_at(ev, "type", "order.cancelled");
    assert_at(ev, "event_id", bigc_id("251", "order.cancelled", "", id));
    assert_at(ev, "occurred_at", "2019-06-21T11:42:05.000Z"); /* date_modified */
    assert_store(ev);
    assert_at(ev, "order.id", "251");
    assert_at(ev, "order.total", "79.8400");
    assert_at(ev, "order.currency", "GBP"); /* transactional, not the EUR display currency */
    assert_at(ev, "customer.id", "guest-251");
    assert_absent(ev, "customer.email");
    assert_at(ev, "customer.phone", "+44 7700 900123");
    assert_at(ev, "customer.first_name", "Siobhán");
    assert_absent(ev, "customer.locale"); /* customer_locale "" */
    assert_absent(ev, "shipment");
    ac_canon_batch_clear(&b);
}

/* A refund is known by the total refunded so far: sent again it is the
 * same event, a further refund is a new one. */
static void partial_refunds(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    char id[48], err[256];
    map_fixtures("bigcommerce/order_refunded.json", 1, &b, 1);
    json_object *ev = b.ev[0];
    assert_order_250(ev);
    assert_at(ev, "type", "return.refunded");
    assert_at(ev, "event_id", bigc_id("250", "return.refunded", "10.0000", id));
    assert_at(ev, "occurred_at", "2019-07-02T14:03:10.000Z"); /* date_modified */
    assert_at(ev, "return.id", "refunded-10.0000");
    assert_at(ev, "return.refund_amount", "10.0000");
    char first[48];
    snprintf(first, sizeof(first), "%s", mt_at(ev, "event_id"));
    ac_canon_batch_clear(&b);

    json_object *order = mt_load("bigcommerce/order_refunded.json");
    json_object_object_add(order, "date_modified",
                           json_object_new_string("Wed, 03 Jul 2019 08:00:00 +0000"));
    assert_int_equal(map(order, NULL, NULL, &b, err), AC_CANON_OK);
    assert_int_equal(b.n, 1);
    assert_at(b.ev[0], "event_id", first);
    ac_canon_batch_clear(&b);

    json_object_object_add(order, "refunded_amount", json_object_new_string("25.5000"));
    assert_int_equal(map(order, NULL, NULL, &b, err), AC_CANON_OK);
    assert_int_equal(b.n, 1);
    mt_validate_all(&b);
    assert_at(b.ev[0], "event_id", bigc_id("250", "return.refunded", "25.5000", id));
    assert_at(b.ev[0], "return.id", "refunded-25.5000");
    assert_at(b.ev[0], "return.refund_amount", "25.5000");
    ac_canon_batch_clear(&b);

    /* Fully refunded (4): the refund only, as a number works too. */
    json_object_object_add(order, "status_id", json_object_new_int(4));
    json_object_object_add(order, "refunded_amount", json_object_new_double(79.84));
    assert_int_equal(map(order, NULL, NULL, &b, err), AC_CANON_OK);
    assert_int_equal(b.n, 1);
    mt_validate_all(&b);
    assert_at(b.ev[0], "event_id", bigc_id("250", "return.refunded", "79.8400", id));
    assert_at(b.ev[0], "return.refund_amount", "79.84");
    json_object_put(order);
    ac_canon_batch_clear(&b);
}

/* Every webhook about the order fetches the same state: the ids repeat,
 * also when only date_modified moved. */
static void same_state_same_event_ids(void **state)
{
    (void)state;
    static const char *const fixtures[] = {"bigcommerce/order.json",
                                           "bigcommerce/order_cancelled.json",
                                           "bigcommerce/order_refunded.json"};
    json_object *products = mt_load("bigcommerce/order_products.json");
    json_object *shipments = mt_load("bigcommerce/order_shipments.json");
    for (size_t f = 0; f < sizeof(fixtures) / sizeof(fixtures[0]); f++) {
        ac_canon_batch_t first, again, touched;
        char err[256];
        json_object *order = mt_load(fixtures[f]);
        assert_int_equal(map(order, products, shipments, &first, err), AC_CANON_OK);
        assert_int_equal(map(order, products, shipments, &again, err), AC_CANON_OK);
        json_object_object_add(order, "date_modified",
                               json_object_new_string("Mon, 01 Jul 2019 12:00:00 +0000"));
        assert_int_equal(map(order, products, shipments, &touched, err), AC_CANON_OK);
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
        json_object_put(order);
        ac_canon_batch_clear(&first);
        ac_canon_batch_clear(&again);
        ac_canon_batch_clear(&touched);
    }
    json_object_put(products);
    json_object_put(shipments);
}

/* What each status_id says (with the fixture's two shipments). */
static void statuses(void **state)
{
    (void)state;
    static const struct {
        int status;
        size_t n;
        const char *first;
    } cases[] = {
        {0, 0, NULL},
        {1, 0, NULL},
        {7, 0, NULL},
        {12, 0, NULL},
        {13, 0, NULL},
        {2, 3, "order.placed"},
        {3, 3, "order.placed"},
        {8, 3, "order.placed"},
        {9, 3, "order.placed"},
        {10, 3, "order.placed"},
        {11, 3, "order.placed"},
        {5, 1, "order.cancelled"},
        {6, 1, "order.cancelled"},
        {4, 0, NULL},
        {14, 0, NULL},
    };
    json_object *products = mt_load("bigcommerce/order_products.json");
    json_object *shipments = mt_load("bigcommerce/order_shipments.json");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ac_canon_batch_t b;
        char err[256];
        json_object *order = mt_load("bigcommerce/order.json");
        json_object_object_add(order, "status_id", json_object_new_int(cases[i].status));
        assert_int_equal(map(order, products, shipments, &b, err), AC_CANON_OK);
        if (b.n != cases[i].n)
            fail_msg("status_id %d: %zu events, want %zu", cases[i].status, b.n, cases[i].n);
        if (cases[i].first)
            assert_at(b.ev[0], "type", cases[i].first);
        mt_validate_all(&b);
        json_object_put(order);
        ac_canon_batch_clear(&b);
    }
    json_object_put(products);
    json_object_put(shipments);
}

/* Ids beyond 2^53 reach the event as their exact decimal text. */
static void big_ids_stay_exact(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    char err[256], id[48];
    json_object *order = mt_load("bigcommerce/order.json");
    json_object_object_add(order, "id", json_object_new_int64(9007199254740993LL));
    json_object_object_add(order, "customer_id", json_object_new_int64(9007199254740995LL));
    json_object *shipments = json_tokener_parse(
        "[{\"id\":9007199254740997,\"order_id\":9007199254740993,"
        "\"date_created\":\"Mon, 24 Jun 2019 15:00:41 +0000\",\"tracking_number\":12345678901,"
        "\"shipping_provider\":\"fedex\",\"tracking_carrier\":\"\",\"tracking_link\":\"\"}]");
    assert_int_equal(map(order, NULL, shipments, &b, err), AC_CANON_OK);
    assert_int_equal(b.n, 2);
    mt_validate_all(&b);
    assert_at(b.ev[0], "order.id", "9007199254740993");
    assert_at(b.ev[0], "customer.id", "9007199254740995");
    assert_at(b.ev[1], "shipment.id", "9007199254740997");
    assert_at(b.ev[1], "shipment.carrier", "fedex");
    assert_at(b.ev[1], "shipment.tracking_number", "12345678901");
    assert_absent(b.ev[1], "shipment.tracking_url");
    assert_at(b.ev[1], "event_id",
              bigc_id("9007199254740993", "shipment.shipped", "shipment:9007199254740997", id));
    ac_event_t *parsed = mt_validate(b.ev[1]);
    assert_string_equal(parsed->order.id, "9007199254740993");
    assert_string_equal(parsed->shipment.id, "9007199254740997");
    ac_event_destroy(parsed);
    json_object_put(order);
    json_object_put(shipments);
    ac_canon_batch_clear(&b);
}

/* A shipment without a readable date_created happened by date_modified;
 * one without an id is skipped. */
static void shipment_fallbacks(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    char err[256];
    json_object *order = mt_load("bigcommerce/order.json");
    json_object *shipments = json_tokener_parse(
        "[{\"id\":14,\"date_created\":\"\",\"tracking_number\":\"X1\"},"
        "{\"date_created\":\"Mon, 24 Jun 2019 15:00:41 +0000\",\"tracking_number\":\"X2\"}]");
    assert_int_equal(map(order, NULL, shipments, &b, err), AC_CANON_OK);
    assert_int_equal(b.n, 2);
    mt_validate_all(&b);
    assert_at(b.ev[1], "shipment.id", "14");
    assert_at(b.ev[1], "occurred_at", "2019-06-20T16:09:51.000Z");
    assert_absent(b.ev[1], "shipment.carrier");
    json_object_put(order);
    json_object_put(shipments);
    ac_canon_batch_clear(&b);
}

static void invalid_orders(void **state)
{
    (void)state;
    static const char *const orders[] = {
        "[]",
        "{\"customer_id\":11,\"status_id\":11,\"billing_address\":{\"email\":\"jose@example.com\"}"
        "}",
        "{\"id\":\"\",\"status_id\":11,\"billing_address\":{\"email\":\"jose@example.com\"}}",
        "{\"id\":250.5,\"status_id\":11,\"billing_address\":{\"email\":\"jose@example.com\"}}",
    };
    for (size_t i = 0; i <= sizeof(orders) / sizeof(orders[0]); i++) {
        ac_canon_batch_t b;
        char err[256];
        json_object *order =
            i < sizeof(orders) / sizeof(orders[0]) ? json_tokener_parse(orders[i]) : NULL;
        assert_int_equal(map(order, NULL, NULL, &b, err), AC_CANON_INVALID);
        assert_int_equal(b.n, 0);
        assert_true(strlen(err) > 10);
        assert_not_contains(err, "jose");
        json_object_put(order);
    }

    /* A guest's id is "guest-<order id>": an order id that leaves no room
     * for it within the 200 bytes the workers accept is refused whole. */
    ac_canon_batch_t b;
    char err[256], longid[AC_EVENT_MAX_ID_LEN - 2];
    memset(longid, '7', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    json_object *order = mt_load("bigcommerce/order_cancelled.json");
    json_object_object_add(order, "id", json_object_new_string(longid));
    assert_int_equal(map(order, NULL, NULL, &b, err), AC_CANON_INVALID);
    assert_int_equal(b.n, 0);
    assert_contains(err, "guest");
    json_object_put(order);
}

/* More events than a batch holds: none rather than some. */
static void too_many_shipments_is_invalid(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    char err[256];
    json_object *order = mt_load("bigcommerce/order.json");
    json_object *shipments = json_object_new_array();
    for (int i = 0; i < AC_CANON_MAX_EVENTS; i++) {
        json_object *s = json_object_new_object();
        json_object_object_add(s, "id", json_object_new_int(100 + i));
        json_object_array_add(shipments, s);
    }
    assert_int_equal(map(order, NULL, shipments, &b, err), AC_CANON_INVALID);
    assert_int_equal(b.n, 0);
    assert_contains(err, "more than");
    json_object_put(order);
    json_object_put(shipments);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(webhooks_name_the_order),
        cmocka_unit_test(other_scopes_are_ignored),
        cmocka_unit_test(invalid_webhooks),
        cmocka_unit_test(awaiting_fulfillment_is_placed_and_shipped),
        cmocka_unit_test(order_without_lists),
        cmocka_unit_test(cancelled_guest_order),
        cmocka_unit_test(partial_refunds),
        cmocka_unit_test(same_state_same_event_ids),
        cmocka_unit_test(statuses),
        cmocka_unit_test(big_ids_stay_exact),
        cmocka_unit_test(shipment_fallbacks),
        cmocka_unit_test(invalid_orders),
        cmocka_unit_test(too_many_shipments_is_invalid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
