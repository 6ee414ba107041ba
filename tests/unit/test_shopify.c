/* Unit tests for common/shopify: Shopify webhooks (the documented sample
 * payloads in tests/data/platforms/shopify/) to canonical events, checked
 * field by field and then with the workers' own validator after the
 * gateway's completion from the order's context. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "event.h"
#include "shopify.h"
#include "test_util.h"

#ifndef AC_FIXTURES
#error "AC_FIXTURES names tests/data/platforms (tests/unit/CMakeLists.txt)"
#endif

#define ORDER_ID       "820982911946154508"
#define CUSTOMER_ID    "115310627314723954"
#define FULFILLMENT_ID "123456"
#define REFUND_ID      "890088186047892319"
#define RETURN_ID      "123134564567890"
#define UPS_URL        "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1Z827WK74630"

static const ac_canon_store_t STORE = {"st_brightwater", "Brightwater Tea Co.", "en-GB",
                                       "Europe/London"};

static json_object *fixture(const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/shopify/%s", AC_FIXTURES, name);
    json_object *v = json_object_from_file(path);
    if (!v)
        fail_msg("cannot read %s", path);
    return v;
}

static json_object *parse(const char *text)
{
    json_object *v = json_tokener_parse(text);
    assert_non_null(v);
    return v;
}

/* Maps body (not consumed) as a delivery of topic, triggered at
 * triggered_at (NULL: no such header). */
static ac_canon_rc_t map_at(const char *topic, json_object *body, const char *triggered_at,
                            ac_canon_batch_t *out, char *err, size_t errsz)
{
    ac_canon_in_t in = {"shopify", topic, NULL, triggered_at, &STORE, body};
    ac_canon_batch_init(out);
    return ac_shopify_map(&in, out, err, errsz);
}

static ac_canon_rc_t map(const char *topic, json_object *body, ac_canon_batch_t *out)
{
    char err[256];
    return map_at(topic, body, NULL, out, err, sizeof(err));
}

/* Maps body and asserts it gives n events. */
static void map_ok(const char *topic, json_object *body, ac_canon_batch_t *out, size_t n)
{
    char err[256] = "";
    ac_canon_rc_t rc = map_at(topic, body, NULL, out, err, sizeof(err));
    if (rc != AC_CANON_OK || out->n != n)
        fail_msg("%s: rc %d (%s), %zu events, expected %zu", topic, (int)rc, err, out->n, n);
}

/* Maps a fixture file and asserts it gives n events. */
static void map_file(const char *topic, const char *file, ac_canon_batch_t *out, size_t n)
{
    json_object *body = fixture(file);
    map_ok(topic, body, out, n);
    json_object_put(body);
}

/* The value at a dotted path ("order.items.0.sku"); numbers index arrays
 * and every other part names an object member. */
static json_object *at(json_object *v, const char *path)
{
    char buf[256], *save = NULL;
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *t = strtok_r(buf, ".", &save); v && t; t = strtok_r(NULL, ".", &save)) {
        json_object *next = NULL;
        if (json_object_is_type(v, json_type_array))
            next = json_object_array_get_idx(v, (size_t)strtoul(t, NULL, 10));
        else if (!json_object_is_type(v, json_type_object) ||
                 !json_object_object_get_ex(v, t, &next))
            next = NULL;
        v = next;
    }
    return v;
}

/* Fails unless path holds the string want (want NULL: path is absent). */
static void check_str(json_object *ev, const char *path, const char *want, const char *file,
                      int line)
{
    json_object *v = at(ev, path);
    const char *got =
        v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
    if (want ? (got && strcmp(got, want) == 0) : v == NULL)
        return;
    print_error("%s: expected %s, got %s\n", path, want ? want : "(absent)",
                v ? json_object_to_json_string(v) : "(absent)");
    _fail(file, line);
}

/* Fails unless path holds the whole number want. */
static void check_int(json_object *ev, const char *path, int64_t want, const char *file, int line)
{
    json_object *v = at(ev, path);
    if (v && json_object_is_type(v, json_type_int) && json_object_get_int64(v) == want)
        return;
    print_error("%s: expected %lld, got %s\n", path, (long long)want,
                v ? json_object_to_json_string(v) : "(absent)");
    _fail(file, line);
}

#define assert_str(ev, path, want) check_str((ev), (path), (want), __FILE__, __LINE__)
#define assert_absent(ev, path)    check_str((ev), (path), NULL, __FILE__, __LINE__)
#define assert_int_at(ev, path, n) check_int((ev), (path), (n), __FILE__, __LINE__)

static size_t len_at(json_object *ev, const char *path)
{
    json_object *v = at(ev, path);
    return v && json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0;
}

/* The event id the mapping must give what happened. */
static const char *expect_id(const char *identity, const char *type, const char *disc, char out[40])
{
    ac_canon_event_id("shopify", STORE.id, identity, type, disc, out, 40);
    return out;
}

/* The context the gateway keeps of the sample order: from its
 * orders/create event. */
static json_object *order_context(void)
{
    ac_canon_batch_t b;
    map_file("orders/create", "orders_create.json", &b, 1);
    json_object *ctx = ac_canon_context(b.ev[0]);
    assert_non_null(ctx);
    ac_canon_batch_clear(&b);
    return ctx;
}

/* Adds what a batch asks to remember to ctx, as the gateway does. */
static void remember_into(json_object *ctx, const ac_canon_batch_t *b)
{
    json_object *ships = ac_canon_obj(b->remember, "shipments");
    if (!ships)
        return;
    json_object *dst = ac_canon_section(ctx, "shipments");
    json_object_object_foreach(ships, key, val)
    {
        json_object *copy = NULL;
        assert_int_equal(json_object_deep_copy(val, &copy, NULL), 0);
        json_object_object_add(dst, key, copy);
    }
}

/* Completes a copy of ev from ctx when it needs it, as the gateway does,
 * and reads it with the workers' own validator. Destroy the result. */
static ac_event_t *validate(json_object *ev, json_object *ctx)
{
    json_object *copy = NULL;
    assert_int_equal(json_object_deep_copy(ev, &copy, NULL), 0);
    if (ac_canon_needs_context(copy))
        assert_int_equal(ac_canon_complete(copy, ctx), 0);
    const char *text = json_object_to_json_string_ext(copy, JSON_C_TO_STRING_PLAIN);
    ac_event_error_t err;
    memset(&err, 0, sizeof(err));
    ac_event_t *p = ac_event_parse(text, strlen(text), 0, &err);
    if (!p)
        fail_msg("refused (%s: %s): %s", ac_event_err_name(err.code), err.detail, text);
    json_object_put(copy);
    return p;
}

static void orders_create(void **state)
{
    (void)state;
    char id[40];
    ac_canon_batch_t b;
    map_file("orders/create", "orders_create.json", &b, 1);
    json_object *ev = b.ev[0];
    assert_str(ev, "event_id", expect_id(ORDER_ID, "order.placed", "", id));
    assert_str(ev, "type", "order.placed");
    assert_str(ev, "occurred_at", "2024-11-04T09:01:28-05:00"); /* processed_at */
    assert_str(ev, "store.id", "st_brightwater");
    assert_str(ev, "store.name", "Brightwater Tea Co.");
    assert_str(ev, "store.locale", "en-GB");
    assert_str(ev, "store.timezone", "Europe/London");
    assert_str(ev, "order.id", ORDER_ID);
    assert_str(ev, "order.number", "#1001");
    assert_str(ev, "order.total", "149.97");
    assert_str(ev, "order.currency", "USD");
    assert_absent(ev, "order.promised_delivery_date");
    assert_int_equal(len_at(ev, "order.items"), 2);
    assert_str(ev, "order.items.0.sku", "SKU2006-001");
    assert_str(ev, "order.items.0.name", "Aviator sunglasses");
    assert_int_at(ev, "order.items.0.quantity", 1);
    assert_str(ev, "order.items.0.price", "89.99");
    assert_str(ev, "order.items.1.sku", "CASE-LEATHER-PREM");
    assert_str(ev, "order.items.1.name", "Premium Leather Case");
    assert_int_at(ev, "order.items.1.quantity", 2);
    assert_str(ev, "order.items.1.price", "24.99");
    assert_str(ev, "customer.id", CUSTOMER_ID);
    assert_str(ev, "customer.email", "jon@example.com"); /* the order's, not the account's */
    assert_str(ev, "customer.phone", "+16135550135");    /* order phone null: the customer's */
    assert_str(ev, "customer.first_name", "John");
    assert_str(ev, "customer.locale", "en");
    assert_absent(ev, "customer.timezone");
    /* Subscribed by email consent although the checkout box was not ticked. */
    assert_true(json_object_get_boolean(at(ev, "customer.marketing_consent")));
    assert_absent(ev, "shipment");
    assert_absent(ev, "return");
    assert_null(b.remember);
    assert_false(ac_canon_needs_context(ev));

    ac_event_t *p = validate(ev, NULL);
    assert_int_equal(p->type, AC_EVENT_ORDER_PLACED);
    assert_string_equal(p->order.id, ORDER_ID);
    assert_string_equal(p->customer.id, CUSTOMER_ID);
    assert_int_equal(p->order.n_items, 2);
    assert_true(p->order.has_total);
    assert_true(p->customer.has_marketing_consent && p->customer.marketing_consent);
    ac_event_destroy(p);
    ac_canon_batch_clear(&b);
}

/* orders/create and orders/paid are one order.placed: a subscriber to both
 * (or a retry of either) confirms the order once. */
static void orders_paid_same_id(void **state)
{
    (void)state;
    ac_canon_batch_t created, paid;
    map_file("orders/create", "orders_create.json", &created, 1);
    map_file("orders/paid", "orders_paid.json", &paid, 1);
    assert_str(paid.ev[0], "type", "order.placed");
    assert_str(paid.ev[0], "event_id", ac_canon_str(created.ev[0], "event_id"));
    ac_canon_batch_clear(&created);
    ac_canon_batch_clear(&paid);
}

static void orders_cancelled(void **state)
{
    (void)state;
    char id[40];
    ac_canon_batch_t b, c, u;
    map_file("orders/cancelled", "orders_cancelled.json", &b, 1);
    json_object *ev = b.ev[0];
    assert_str(ev, "event_id", expect_id(ORDER_ID, "order.cancelled", "", id));
    assert_str(ev, "type", "order.cancelled");
    assert_str(ev, "occurred_at", "2024-11-04T11:42:05-05:00");
    assert_str(ev, "order.number", "#1001");
    assert_str(ev, "order.total", "149.97");
    assert_int_equal(len_at(ev, "order.items"), 2);
    assert_str(ev, "customer.id", CUSTOMER_ID);
    assert_str(ev, "customer.email", "jon@example.com");
    ac_event_t *p = validate(ev, NULL);
    assert_int_equal(p->type, AC_EVENT_ORDER_CANCELLED);
    ac_event_destroy(p);

    /* A cancelled order seen by orders/create or orders/updated is the
     * same cancellation, and never placed. */
    map_file("orders/create", "orders_cancelled.json", &c, 1);
    map_file("orders/updated", "orders_cancelled.json", &u, 1);
    assert_str(c.ev[0], "event_id", id);
    assert_str(u.ev[0], "event_id", id);
    ac_canon_batch_clear(&b);
    ac_canon_batch_clear(&c);
    ac_canon_batch_clear(&u);
}

/* orders/updated of an open order has nothing to say. */
static void orders_updated_quiet(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    map_file("orders/updated", "orders_updated.json", &b, 0);
    assert_null(b.remember);
    ac_canon_batch_clear(&b);
}

/* Who the buyer is when the order's own fields are missing. */
static void order_customer_fallbacks(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    json_object *o = fixture("orders_create.json");
    json_object *c = at(o, "customer");
    json_object_object_add(o, "email", NULL);
    json_object_object_add(c, "phone", NULL);
    json_object_object_add(c, "first_name", NULL);
    json_object_object_add(c, "email_marketing_consent",
                           parse("{\"state\":\"not_subscribed\",\"opt_in_level\":null}"));
    json_object_object_add(o, "customer_locale", json_object_new_string("de-DE"));
    map_ok("orders/create", o, &b, 1);
    assert_str(b.ev[0], "customer.email", "jon@example.com"); /* contact_email */
    assert_str(b.ev[0], "customer.phone", "555-555-SHIP");    /* billing address */
    assert_str(b.ev[0], "customer.first_name", "Steve");      /* billing address */
    assert_str(b.ev[0], "customer.locale", "de-DE");
    json_object *mc = at(b.ev[0], "customer.marketing_consent");
    assert_true(mc && json_object_is_type(mc, json_type_boolean) && !json_object_get_boolean(mc));
    ac_canon_batch_clear(&b);

    json_object_object_add(o, "contact_email", NULL);
    json_object_object_del(o, "billing_address");
    json_object_object_add(o, "buyer_accepts_marketing", json_object_new_boolean(1));
    map_ok("orders/create", o, &b, 1);
    assert_str(b.ev[0], "customer.email", "john@example.com"); /* the account's */
    assert_str(b.ev[0], "customer.phone", "555-555-SHIP");     /* shipping address */
    assert_str(b.ev[0], "customer.first_name", "Steve");
    assert_true(json_object_get_boolean(at(b.ev[0], "customer.marketing_consent")));
    ac_canon_batch_clear(&b);

    /* A guest checkout: the order stands for its buyer. */
    json_object_object_add(o, "customer", NULL);
    json_object_object_add(o, "email", json_object_new_string("guest@example.com"));
    map_ok("orders/create", o, &b, 1);
    assert_str(b.ev[0], "customer.id", "guest-" ORDER_ID);
    assert_str(b.ev[0], "customer.email", "guest@example.com");
    assert_str(b.ev[0], "customer.first_name", "Steve");
    ac_event_destroy(validate(b.ev[0], NULL));
    ac_canon_batch_clear(&b);
    json_object_put(o);
}

/* No processed_at: created_at; a line item without title: its name; no
 * name: the order_number. */
static void order_field_fallbacks(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    json_object *o = fixture("orders_create.json");
    json_object_object_add(o, "processed_at", NULL);
    json_object_object_del(o, "name");
    json_object *li = at(o, "line_items.0");
    json_object_object_del(li, "title");
    json_object_object_add(li, "name", json_object_new_string("Aviator sunglasses - Gold"));
    json_object_object_add(at(o, "line_items.1"), "sku", NULL);
    map_ok("orders/create", o, &b, 1);
    assert_str(b.ev[0], "occurred_at", "2024-11-04T09:01:26-05:00");
    assert_str(b.ev[0], "order.number", "1001");
    assert_str(b.ev[0], "order.items.0.name", "Aviator sunglasses - Gold");
    assert_absent(b.ev[0], "order.items.1.sku");
    assert_str(b.ev[0], "order.items.1.name", "Premium Leather Case");
    ac_canon_batch_clear(&b);
    json_object_put(o);
}

/* Ids are copied as text: 2^53 + 1 (which a double rounds) and an id just
 * under the uint64 limit arrive intact, as JSON strings. */
static void ids_64_bit(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    json_object *o = parse("{\"id\": 9007199254740993, \"name\": \"#1\", \"email\": \"a@b.c\","
                           " \"customer\": {\"id\": 18446744073709551614}}");
    map_ok("orders/create", o, &b, 1);
    assert_str(b.ev[0], "order.id", "9007199254740993");
    assert_str(b.ev[0], "customer.id", "18446744073709551614");
    ac_event_t *p = validate(b.ev[0], NULL);
    assert_string_equal(p->order.id, "9007199254740993");
    assert_string_equal(p->customer.id, "18446744073709551614");
    ac_event_destroy(p);
    ac_canon_batch_clear(&b);
    json_object_put(o);

    /* The uint64 limit is where json-c clamps larger numbers: refused, so
     * that two different huge ids never become one. As a string it is
     * kept. */
    o = parse("{\"id\": 18446744073709551615}");
    assert_int_equal(map("orders/create", o, &b), AC_CANON_INVALID);
    json_object_put(o);
    o = parse("{\"id\": 99999999999999999999}");
    assert_int_equal(map("orders/create", o, &b), AC_CANON_INVALID);
    json_object_put(o);
    o = parse("{\"id\": \"18446744073709551615\"}");
    map_ok("orders/create", o, &b, 1);
    assert_str(b.ev[0], "order.id", "18446744073709551615");
    ac_canon_batch_clear(&b);
    json_object_put(o);
    o = parse("{\"id\": 7, \"order_id\": 9007199254740993}");
    map_ok("fulfillments/create", o, &b, 1);
    assert_str(b.ev[0], "order.id", "9007199254740993");
    ac_canon_batch_clear(&b);
    json_object_put(o);
}

static void fulfillments_create(void **state)
{
    (void)state;
    char id[40];
    ac_canon_batch_t b;
    map_file("fulfillments/create", "fulfillments_create.json", &b, 1);
    json_object *ev = b.ev[0];
    assert_str(ev, "event_id",
               expect_id("fulfillment:" FULFILLMENT_ID, "shipment.shipped", "", id));
    assert_str(ev, "type", "shipment.shipped");
    assert_str(ev, "occurred_at", "2024-11-05T14:20:00-05:00");
    assert_str(ev, "store.id", "st_brightwater");
    assert_str(ev, "order.id", ORDER_ID);
    assert_str(ev, "shipment.id", FULFILLMENT_ID);
    assert_str(ev, "shipment.carrier", "UPS");
    assert_str(ev, "shipment.tracking_number", "1Z827WK74630");
    assert_str(ev, "shipment.tracking_url", UPS_URL);
    assert_str(ev, "shipment.status", "shipped");
    assert_absent(ev, "shipment.estimated_delivery");
    assert_absent(ev, "customer");
    assert_true(ac_canon_needs_context(ev));
    assert_str(b.remember, "shipments." FULFILLMENT_ID ".carrier", "UPS");
    assert_str(b.remember, "shipments." FULFILLMENT_ID ".tracking_number", "1Z827WK74630");
    assert_str(b.remember, "shipments." FULFILLMENT_ID ".tracking_url", UPS_URL);

    json_object *ctx = order_context();
    ac_event_t *p = validate(ev, ctx);
    assert_int_equal(p->type, AC_EVENT_SHIPMENT_SHIPPED);
    assert_string_equal(p->customer.id, CUSTOMER_ID);
    assert_string_equal(p->order.number, "#1001");
    assert_string_equal(p->shipment.tracking_number, "1Z827WK74630");
    ac_event_destroy(p);
    json_object_put(ctx);
    ac_canon_batch_clear(&b);
}

/* Tracking given only in the plural fields. */
static void fulfillment_tracking_arrays(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    json_object *f = fixture("fulfillments_create.json");
    json_object_object_add(f, "tracking_number", NULL);
    json_object_object_add(f, "tracking_url", NULL);
    json_object_object_add(f, "tracking_numbers", parse("[\"1Z999AA10123456784\", \"X\"]"));
    json_object_object_add(f, "tracking_urls", parse("[\"https://ups.example/1Z999\"]"));
    map_ok("fulfillments/create", f, &b, 1);
    assert_str(b.ev[0], "shipment.tracking_number", "1Z999AA10123456784");
    assert_str(b.ev[0], "shipment.tracking_url", "https://ups.example/1Z999");
    assert_str(b.remember, "shipments." FULFILLMENT_ID ".tracking_number", "1Z999AA10123456784");
    ac_canon_batch_clear(&b);

    /* Nothing to track: no remember. */
    json_object_object_add(f, "tracking_numbers", parse("[]"));
    json_object_object_add(f, "tracking_urls", NULL);
    json_object_object_add(f, "tracking_company", NULL);
    map_ok("fulfillments/create", f, &b, 1);
    assert_absent(b.ev[0], "shipment.tracking_number");
    assert_absent(b.ev[0], "shipment.carrier");
    assert_null(b.remember);
    ac_canon_batch_clear(&b);
    json_object_put(f);
}

/* A fulfillment created already delivered (a late-added one) is shipped
 * and delivered at once; the delivery is the same event as the update's. */
static void fulfillment_created_delivered(void **state)
{
    (void)state;
    char id[40];
    ac_canon_batch_t b, u;
    json_object *f = fixture("fulfillments_update.json");
    map_ok("fulfillments/create", f, &b, 2);
    assert_str(b.ev[0], "type", "shipment.shipped");
    assert_str(b.ev[1], "type", "shipment.delivered");
    assert_str(b.ev[1], "event_id",
               expect_id("fulfillment:" FULFILLMENT_ID, "shipment.delivered", "delivered", id));
    map_ok("fulfillments/update", f, &u, 1);
    assert_str(u.ev[0], "event_id", id);
    ac_canon_batch_clear(&b);
    ac_canon_batch_clear(&u);
    json_object_put(f);
}

static void fulfillments_update_delivered(void **state)
{
    (void)state;
    char id[40];
    ac_canon_batch_t b;
    map_file("fulfillments/update", "fulfillments_update.json", &b, 1);
    json_object *ev = b.ev[0];
    assert_str(ev, "event_id",
               expect_id("fulfillment:" FULFILLMENT_ID, "shipment.delivered", "delivered", id));
    assert_str(ev, "type", "shipment.delivered");
    assert_str(ev, "occurred_at", "2024-11-07T12:31:09-05:00"); /* updated_at */
    assert_str(ev, "order.id", ORDER_ID);
    assert_str(ev, "shipment.id", FULFILLMENT_ID);
    assert_str(ev, "shipment.carrier", "UPS");
    assert_str(ev, "shipment.tracking_number", "1Z827WK74630");
    assert_str(ev, "shipment.status", "delivered");
    assert_absent(ev, "customer");
    assert_str(b.remember, "shipments." FULFILLMENT_ID ".carrier", "UPS");
    json_object *ctx = order_context();
    ac_event_t *p = validate(ev, ctx);
    assert_int_equal(p->type, AC_EVENT_SHIPMENT_DELIVERED);
    ac_event_destroy(p);
    json_object_put(ctx);
    ac_canon_batch_clear(&b);
}

/* Every shipment_status of a fulfillments/update. */
static void fulfillments_update_statuses(void **state)
{
    (void)state;
    static const struct {
        const char *status, *type;
    } cases[] = {
        {"in_transit", "shipment.in_transit"},
        {"out_for_delivery", "shipment.out_for_delivery"},
        {"delivered", "shipment.delivered"},
        {"picked_up", "shipment.delivered"},
        {"delayed", "shipment.delayed"},
        {"failure", "shipment.exception"},
        {"attempted_delivery", "shipment.exception"},
        {"confirmed", NULL},
        {"label_printed", NULL},
        {"label_purchased", NULL},
        {"ready_for_pickup", NULL},
        {"carrier_picked_up", NULL},
        {"something_new", NULL},
        {NULL, NULL},
    };
    json_object *f = fixture("fulfillments_update.json");
    json_object *ctx = order_context();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char id[40];
        ac_canon_batch_t b;
        json_object_object_add(f, "shipment_status",
                               cases[i].status ? json_object_new_string(cases[i].status) : NULL);
        map_ok("fulfillments/update", f, &b, cases[i].type ? 1 : 0);
        /* The tracking is remembered whatever the status. */
        assert_str(b.remember, "shipments." FULFILLMENT_ID ".tracking_number", "1Z827WK74630");
        if (cases[i].type) {
            assert_str(b.ev[0], "type", cases[i].type);
            assert_str(
                b.ev[0], "event_id",
                expect_id("fulfillment:" FULFILLMENT_ID, cases[i].type, cases[i].status, id));
            assert_str(b.ev[0], "shipment.status", cases[i].status);
            ac_event_destroy(validate(b.ev[0], ctx));
        }
        ac_canon_batch_clear(&b);
    }
    json_object_put(ctx);
    json_object_put(f);
}

/* A cancelled (or failed) fulfillment sent nothing. */
static void fulfillment_cancelled_quiet(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    json_object *f = fixture("fulfillments_update.json");
    json_object_object_add(f, "status", json_object_new_string("cancelled"));
    map_ok("fulfillments/update", f, &b, 0);
    ac_canon_batch_clear(&b);
    map_ok("fulfillments/create", f, &b, 0);
    ac_canon_batch_clear(&b);
    json_object_object_add(f, "status", json_object_new_string("error"));
    map_ok("fulfillments/create", f, &b, 0);
    ac_canon_batch_clear(&b);
    json_object_put(f);
}

static void fulfillment_event_delivered(void **state)
{
    (void)state;
    ac_canon_batch_t b, u, s;
    map_file("fulfillment_events/create", "fulfillment_events_create.json", &b, 1);
    json_object *ev = b.ev[0];
    assert_str(ev, "type", "shipment.delivered");
    assert_str(ev, "occurred_at", "2024-11-07T12:31:09-05:00"); /* happened_at */
    assert_str(ev, "order.id", ORDER_ID);
    assert_str(ev, "shipment.id", FULFILLMENT_ID);
    assert_str(ev, "shipment.status", "Delivered, front door");
    assert_absent(ev, "shipment.estimated_delivery");
    assert_absent(ev, "shipment.carrier");
    assert_absent(ev, "customer");
    assert_null(b.remember);

    /* The same delivery told by fulfillments/update: one event. */
    map_file("fulfillments/update", "fulfillments_update.json", &u, 1);
    assert_str(ev, "event_id", ac_canon_str(u.ev[0], "event_id"));

    /* Completed from the order and the shipment fulfillments/create
     * remembered, it is a whole delivery notice. */
    json_object *ctx = order_context();
    map_file("fulfillments/create", "fulfillments_create.json", &s, 1);
    remember_into(ctx, &s);
    ac_event_t *p = validate(ev, ctx);
    assert_int_equal(p->type, AC_EVENT_SHIPMENT_DELIVERED);
    assert_string_equal(p->shipment.carrier, "UPS");
    assert_string_equal(p->shipment.tracking_number, "1Z827WK74630");
    assert_string_equal(p->shipment.status, "Delivered, front door");
    assert_string_equal(p->customer.email, "jon@example.com");
    ac_event_destroy(p);
    json_object_put(ctx);
    ac_canon_batch_clear(&b);
    ac_canon_batch_clear(&u);
    ac_canon_batch_clear(&s);
}

/* A delay is one event per estimate: reported again it is the same, with
 * a new estimate it is another. */
static void fulfillment_event_delays(void **state)
{
    (void)state;
    char id[40];
    ac_canon_batch_t b;
    json_object *e = fixture("fulfillment_events_create.json");
    json_object_object_add(e, "status", json_object_new_string("delayed"));
    json_object_object_add(e, "message", NULL);
    json_object_object_add(e, "estimated_delivery_at",
                           json_object_new_string("2024-11-09T18:00:00-05:00"));
    map_ok("fulfillment_events/create", e, &b, 1);
    assert_str(b.ev[0], "type", "shipment.delayed");
    assert_str(b.ev[0], "shipment.status", "delayed");
    assert_str(b.ev[0], "shipment.estimated_delivery", "2024-11-09T18:00:00-05:00");
    assert_str(b.ev[0], "event_id",
               expect_id("fulfillment:" FULFILLMENT_ID, "shipment.delayed",
                         "delayed/2024-11-09T18:00:00-05:00", id));
    json_object *ctx = order_context();
    ac_event_t *p = validate(b.ev[0], ctx);
    assert_string_equal(p->shipment.estimated_delivery, "2024-11-09T18:00:00-05:00");
    ac_event_destroy(p);
    json_object_put(ctx);
    ac_canon_batch_clear(&b);

    json_object_object_add(e, "id", json_object_new_int64(1234568)); /* another scan */
    map_ok("fulfillment_events/create", e, &b, 1);
    assert_str(b.ev[0], "event_id", id);
    ac_canon_batch_clear(&b);

    /* The same delay on the fulfillment itself. */
    json_object *f = fixture("fulfillments_update.json");
    json_object_object_add(f, "shipment_status", json_object_new_string("delayed"));
    json_object_object_add(f, "estimated_delivery_at",
                           json_object_new_string("2024-11-09T18:00:00-05:00"));
    map_ok("fulfillments/update", f, &b, 1);
    assert_str(b.ev[0], "event_id", id);
    assert_str(b.ev[0], "shipment.estimated_delivery", "2024-11-09T18:00:00-05:00");
    ac_canon_batch_clear(&b);
    json_object_put(f);

    json_object_object_add(e, "estimated_delivery_at",
                           json_object_new_string("2024-11-11T18:00:00-05:00"));
    map_ok("fulfillment_events/create", e, &b, 1);
    char later[40];
    snprintf(later, sizeof(later), "%s", ac_canon_str(b.ev[0], "event_id"));
    assert_string_not_equal(later, id);
    ac_canon_batch_clear(&b);

    json_object_object_add(e, "estimated_delivery_at", NULL);
    map_ok("fulfillment_events/create", e, &b, 1);
    assert_str(b.ev[0], "event_id",
               expect_id("fulfillment:" FULFILLMENT_ID, "shipment.delayed", "delayed", id));
    assert_string_not_equal(id, later);
    ac_canon_batch_clear(&b);

    /* Statuses without news: nothing. */
    json_object_object_add(e, "status", json_object_new_string("label_printed"));
    map_ok("fulfillment_events/create", e, &b, 0);
    ac_canon_batch_clear(&b);
    json_object_put(e);
}

static void refunds_create(void **state)
{
    (void)state;
    char id[40];
    ac_canon_batch_t b;
    map_file("refunds/create", "refunds_create.json", &b, 1);
    json_object *ev = b.ev[0];
    assert_str(ev, "event_id", expect_id("refund:" REFUND_ID, "return.refunded", "", id));
    assert_str(ev, "type", "return.refunded");
    assert_str(ev, "occurred_at", "2024-11-14T09:03:10-05:00");
    assert_str(ev, "order.id", ORDER_ID);
    assert_str(ev, "order.currency", "USD");
    assert_str(ev, "return.id", REFUND_ID);
    /* 75.00 + 14.99; the failed 89.99 is no money back. */
    assert_str(ev, "return.refund_amount", "89.99");
    assert_str(ev, "return.reason", "Lens scratched on arrival");
    assert_int_equal(len_at(ev, "return.items"), 1);
    assert_str(ev, "return.items.0.sku", "SKU2006-001");
    assert_str(ev, "return.items.0.name", "Aviator sunglasses");
    assert_int_at(ev, "return.items.0.quantity", 1);
    assert_absent(ev, "return.items.0.price");
    assert_absent(ev, "customer");
    assert_null(b.remember);

    json_object *ctx = order_context();
    ac_event_t *p = validate(ev, ctx);
    assert_int_equal(p->type, AC_EVENT_RETURN_REFUNDED);
    assert_true(p->ret.has_refund_amount);
    assert_true(p->ret.refund_amount > 89.989 && p->ret.refund_amount < 89.991);
    assert_string_equal(p->order.currency, "USD");
    assert_string_equal(p->order.number, "#1001");
    ac_event_destroy(p);
    json_object_put(ctx);
    ac_canon_batch_clear(&b);
}

/* Maps a refund whose transactions are the JSON array txs, asserting n
 * events, and returns its refund_amount (NULL when absent). */
static char amount_buf[64];
static const char *refund_amount_of(const char *txs, size_t n)
{
    ac_canon_batch_t b;
    json_object *r = fixture("refunds_create.json");
    json_object_object_add(r, "transactions", json_tokener_parse(txs));
    map_ok("refunds/create", r, &b, n);
    const char *a = b.n ? ac_canon_str(at(b.ev[0], "return"), "refund_amount") : NULL;
    snprintf(amount_buf, sizeof(amount_buf), "%s", a ? a : "");
    ac_canon_batch_clear(&b);
    json_object_put(r);
    return a ? amount_buf : NULL;
}

#define TX(kind, status, amount)                                                                   \
    "{\"kind\":\"" kind "\",\"status\":\"" status "\",\"amount\":" amount ",\"currency\":\"USD\"}"

/* Refund amounts are added exactly, as decimals. */
static void refund_sums(void **state)
{
    (void)state;
    static const struct {
        const char *txs, *want;
    } cases[] = {
        /* 0.1 + 0.2 is 0.30000000000000004 in doubles. */
        {"[" TX("refund", "success", "\"0.10\"") "," TX("refund", "success", "\"0.20\"") "]",
         "0.30"},
        {"[" TX("refund", "success", "\"12.5\"") "]", "12.50"},
        {"[" TX("refund", "success", "\"1000\"") "]", "1000.00"},
        {"[" TX("refund", "success", "\"1.5000\"") "]", "1.50"},
        /* Three-decimal currencies (KWD) keep their third decimal. */
        {"[" TX("refund", "success", "\"1.234\"") "," TX("refund", "success", "\"1\"") "]",
         "2.234"},
        /* Amounts sent as JSON numbers are read from their text. */
        {"[" TX("refund", "success", "89.99") "," TX("refund", "success", "10") "]", "99.99"},
        {"[" TX("refund", "success", "\"9999999999.99\"") "," TX("refund", "success",
                                                                 "\"0.01\"") "]",
         "10000000000.00"},
        /* Only successful refunds count. */
        {"[" TX("refund", "success", "\"5.00\"") "," TX("refund", "pending", "\"7.00\"") "," TX(
             "sale", "success", "\"100.00\"") "," TX("refund", "error", "\"3.00\"") "]",
         "5.00"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = refund_amount_of(cases[i].txs, 1);
        if (!got || strcmp(got, cases[i].want) != 0)
            fail_msg("%s: got %s, expected %s", cases[i].txs, got ? got : "(absent)",
                     cases[i].want);
    }
    /* No money back (a restock, a failed refund): nothing to tell. */
    assert_null(refund_amount_of("[]", 0));
    assert_null(refund_amount_of("null", 0));
    assert_null(refund_amount_of("[" TX("refund", "failure", "\"89.99\"") "]", 0));
    assert_null(refund_amount_of("[" TX("refund", "success", "\"0.00\"") "]", 0));
    /* An amount that cannot be read: the notice goes out without a figure
     * rather than with a wrong one. */
    const char *bad[] = {"\"abc\"",    "\"1e3\"", "\"-5.00\"",
                         "\"1.2345\"", "null",    "1e3",
                         "\"\"",       "\"5.\"",  "\"99999999999999999.00\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char txs[256];
        snprintf(txs, sizeof(txs),
                 "[" TX("refund", "success", "\"5.00\"") ",{\"kind\":\"refund\",\"status\":"
                                                         "\"success\",\"amount\":%s}]",
                 bad[i]);
        if (refund_amount_of(txs, 1) != NULL)
            fail_msg("%s read as an amount: %s", bad[i], amount_buf);
    }
}

/* The refund's currency when its transactions name none, and the REST
 * API's {"refund": ...} wrapping. */
static void refund_currency_and_wrapping(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    json_object *r = fixture("refunds_create.json");
    json_object *txs = at(r, "transactions");
    for (size_t i = 0; i < json_object_array_length(txs); i++)
        json_object_object_add(json_object_array_get_idx(txs, i), "currency", NULL);
    json_object_object_add(at(r, "refund_line_items.0.subtotal_set.presentment_money"),
                           "currency_code", json_object_new_string("CAD"));
    map_ok("refunds/create", r, &b, 1);
    assert_str(b.ev[0], "order.currency", "CAD");
    char id[40];
    snprintf(id, sizeof(id), "%s", ac_canon_str(b.ev[0], "event_id"));
    ac_canon_batch_clear(&b);

    json_object *wrapped = json_object_new_object();
    json_object_object_add(wrapped, "refund", json_object_get(r));
    map_ok("refunds/create", wrapped, &b, 1);
    assert_str(b.ev[0], "event_id", id);
    assert_str(b.ev[0], "return.refund_amount", "89.99");
    ac_canon_batch_clear(&b);
    json_object_put(wrapped);
    json_object_put(r);
}

static void returns_request(void **state)
{
    (void)state;
    char id[40], err[256];
    ac_canon_batch_t b;
    json_object *r = fixture("returns_request.json");
    assert_int_equal(
        map_at("returns/request", r, "2024-11-10T18:15:00.123456Z", &b, err, sizeof(err)),
        AC_CANON_OK);
    assert_int_equal(b.n, 1);
    json_object *ev = b.ev[0];
    assert_str(ev, "event_id", expect_id("return:" RETURN_ID, "return.requested", "", id));
    assert_str(ev, "type", "return.requested");
    /* The return carries no time of its own: the delivery's. */
    assert_str(ev, "occurred_at", "2024-11-10T18:15:00.123456Z");
    assert_str(ev, "order.id", ORDER_ID);
    assert_str(ev, "return.id", RETURN_ID);
    assert_str(ev, "return.reason", "size_too_small");
    /* Its line items name ids only: no items rather than empty ones. */
    assert_absent(ev, "return.items");
    assert_absent(ev, "customer");
    json_object *ctx = order_context();
    ac_event_t *p = validate(ev, ctx);
    assert_int_equal(p->type, AC_EVENT_RETURN_REQUESTED);
    assert_string_equal(p->ret.reason, "size_too_small");
    ac_event_destroy(p);
    ac_canon_batch_clear(&b);

    /* Line items that do name the product become items. */
    json_object *li = at(r, "return_line_items.0.fulfillment_line_item.line_item");
    json_object_object_add(li, "sku", json_object_new_string("CASE-LEATHER-PREM"));
    json_object_object_add(li, "title", json_object_new_string("Premium Leather Case"));
    map_ok("returns/request", r, &b, 1);
    assert_str(b.ev[0], "event_id", id);
    assert_str(b.ev[0], "return.items.0.sku", "CASE-LEATHER-PREM");
    assert_str(b.ev[0], "return.items.0.name", "Premium Leather Case");
    assert_int_at(b.ev[0], "return.items.0.quantity", 1);
    ac_event_destroy(validate(b.ev[0], ctx));
    ac_canon_batch_clear(&b);
    json_object_put(ctx);
    json_object_put(r);
}

static void returns_close(void **state)
{
    (void)state;
    char id[40], err[256];
    ac_canon_batch_t b;
    json_object *r = fixture("returns_close.json");
    assert_int_equal(map_at("returns/close", r, "2024-11-13T08:48:27Z", &b, err, sizeof(err)),
                     AC_CANON_OK);
    assert_int_equal(b.n, 1);
    assert_str(b.ev[0], "event_id", expect_id("return:" RETURN_ID, "return.received", "", id));
    assert_str(b.ev[0], "type", "return.received");
    assert_str(b.ev[0], "occurred_at", "2024-11-13T08:48:27Z");
    assert_str(b.ev[0], "order.id", ORDER_ID); /* order_id, not order.id */
    assert_str(b.ev[0], "return.id", RETURN_ID);
    assert_absent(b.ev[0], "return.reason");
    json_object *ctx = order_context();
    ac_event_t *p = validate(b.ev[0], ctx);
    assert_int_equal(p->type, AC_EVENT_RETURN_RECEIVED);
    ac_event_destroy(p);
    json_object_put(ctx);
    ac_canon_batch_clear(&b);
    json_object_put(r);
}

/* Topics aftercare does not read are ignored, whatever their body. */
static void ignored_topics(void **state)
{
    (void)state;
    const char *topics[] = {"app/uninstalled",
                            "customers/create",
                            "products/update",
                            "products/create",
                            "orders/delete",
                            "orders/fulfilled",
                            "returns/approve",
                            "returns/decline",
                            "returns/cancel",
                            "returns/reopen",
                            "refunds/update",
                            "checkouts/create",
                            "fulfillment_events/delete",
                            "ORDERS_CREATE",
                            "orders/create/x"};
    json_object *o = fixture("orders_create.json");
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
        ac_canon_batch_t b;
        if (map(topics[i], o, &b) != AC_CANON_IGNORED || b.n != 0)
            fail_msg("%s was not ignored", topics[i]);
        assert_int_equal(map(topics[i], NULL, &b), AC_CANON_IGNORED);
    }
    json_object_put(o);
}

/* Maps body (JSON text) and asserts AC_CANON_INVALID with a sentence that
 * quotes nothing of the payload. */
static void expect_invalid(const char *topic, const char *body)
{
    char err[256] = "";
    ac_canon_batch_t b;
    json_object *v = body ? json_tokener_parse(body) : NULL;
    ac_canon_rc_t rc = map_at(topic, v, NULL, &b, err, sizeof(err));
    if (rc != AC_CANON_INVALID || b.n != 0)
        fail_msg("%s %s: rc %d, %zu events", topic, body ? body : "(none)", (int)rc, b.n);
    assert_true(strlen(err) > 10);
    assert_not_contains(err, "secret@example.com");
    assert_not_contains(err, "+4915112345678");
    ac_canon_batch_clear(&b);
    json_object_put(v);
}

static void invalid_payloads(void **state)
{
    (void)state;
    const char *who = "\"email\":\"secret@example.com\",\"phone\":\"+4915112345678\"";
    char buf[256];
    expect_invalid("orders/create", NULL);
    expect_invalid("orders/create", "[1,2]");
    expect_invalid("orders/create", "\"orders/create\"");
    snprintf(buf, sizeof(buf), "{%s}", who);
    expect_invalid("orders/create", buf);
    expect_invalid("orders/paid", buf);
    expect_invalid("orders/cancelled", buf);
    expect_invalid("orders/updated", buf);
    snprintf(buf, sizeof(buf), "{\"id\":820982911946154508.0,%s}", who);
    expect_invalid("orders/create", buf);
    expect_invalid("orders/create", "{\"id\":\"\"}");
    expect_invalid("orders/create", "{\"id\":null}");
    expect_invalid("orders/create", "{\"id\":true}");
    expect_invalid("fulfillments/create", "{\"order_id\":1}");
    expect_invalid("fulfillments/create", "{\"id\":123456}");
    expect_invalid("fulfillments/update", "{\"id\":123456,\"order_id\":\"\"}");
    expect_invalid("fulfillment_events/create",
                   "{\"id\":1,\"order_id\":1,\"status\":\"delivered\"}");
    expect_invalid("fulfillment_events/create", "{\"fulfillment_id\":1,\"status\":\"delivered\"}");
    expect_invalid("refunds/create", "{\"order_id\":1}");
    expect_invalid("refunds/create", "{\"id\":1}");
    expect_invalid("refunds/create", "{\"refund\":{\"order_id\":1}}");
    expect_invalid("returns/request", "{\"order\":{\"id\":1}}");
    expect_invalid("returns/request", "{\"id\":1,\"order\":{}}");
    expect_invalid("returns/close", "{\"id\":1}");
    expect_invalid("returns/close", "{\"id\":1,\"order_id\":1.5}");
    /* An id the workers would refuse (over 200 bytes) is refused here. */
    memset(buf, 0, sizeof(buf));
    memcpy(buf, "{\"id\":\"", 7);
    memset(buf + 7, '7', 201);
    memcpy(buf + 208, "\"}", 2);
    expect_invalid("orders/create", buf);
    /* No topic. */
    ac_canon_batch_t b;
    char err[256] = "";
    ac_canon_in_t in = {"shopify", NULL, NULL, NULL, &STORE, NULL};
    assert_int_equal(ac_shopify_map(&in, &b, err, sizeof(err)), AC_CANON_INVALID);
    assert_true(strlen(err) > 0);
}

/* Another store's webhook about the same ids is another event. */
static void store_separates(void **state)
{
    (void)state;
    const ac_canon_store_t other = {"st_other", NULL, NULL, NULL};
    char err[256];
    ac_canon_batch_t a, b;
    json_object *o = fixture("orders_create.json");
    map_ok("orders/create", o, &a, 1);
    ac_canon_in_t in = {"shopify", "orders/create", NULL, NULL, &other, o};
    ac_canon_batch_init(&b);
    assert_int_equal(ac_shopify_map(&in, &b, err, sizeof(err)), AC_CANON_OK);
    assert_int_equal(b.n, 1);
    assert_string_not_equal(ac_canon_str(a.ev[0], "event_id"), ac_canon_str(b.ev[0], "event_id"));
    assert_str(b.ev[0], "store.id", "st_other");
    assert_absent(b.ev[0], "store.name");
    ac_canon_batch_clear(&a);
    ac_canon_batch_clear(&b);
    json_object_put(o);
}

/* The whole story of the sample order, as the gateway would see it: every
 * event completes and passes the workers' validator, and only the two
 * deliveries of one placed order and of one parcel's delivery share ids. */
static void chain(void **state)
{
    (void)state;
    static const struct {
        const char *topic, *file, *type;
    } steps[] = {
        {"orders/create", "orders_create.json", "order.placed"},
        {"orders/paid", "orders_paid.json", "order.placed"},
        {"orders/updated", "orders_updated.json", NULL},
        {"fulfillments/create", "fulfillments_create.json", "shipment.shipped"},
        {"fulfillment_events/create", "fulfillment_events_create.json", "shipment.delivered"},
        {"fulfillments/update", "fulfillments_update.json", "shipment.delivered"},
        {"returns/request", "returns_request.json", "return.requested"},
        {"returns/close", "returns_close.json", "return.received"},
        {"refunds/create", "refunds_create.json", "return.refunded"},
        {"orders/cancelled", "orders_cancelled.json", "order.cancelled"},
    };
    char ids[16][40];
    size_t n_ids = 0;
    json_object *ctx = NULL;
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        ac_canon_batch_t b;
        map_file(steps[i].topic, steps[i].file, &b, steps[i].type ? 1 : 0);
        if (!ctx)
            ctx = ac_canon_context(b.ev[0]);
        remember_into(ctx, &b);
        for (size_t k = 0; k < b.n; k++) {
            assert_str(b.ev[k], "type", steps[i].type);
            assert_str(b.ev[k], "order.id", ORDER_ID);
            ac_event_t *p = validate(b.ev[k], ctx);
            assert_string_equal(p->customer.id, CUSTOMER_ID);
            assert_string_equal(p->store.id, "st_brightwater");
            assert_string_equal(ac_canon_topic(steps[i].type), ac_event_type_topic(p->type));
            ac_event_destroy(p);
            snprintf(ids[n_ids++], sizeof(ids[0]), "%s", ac_canon_str(b.ev[k], "event_id"));
        }
        ac_canon_batch_clear(&b);
    }
    json_object_put(ctx);
    assert_int_equal(n_ids, 9);
    size_t same = 0;
    for (size_t i = 0; i < n_ids; i++)
        for (size_t j = i + 1; j < n_ids; j++)
            same += strcmp(ids[i], ids[j]) == 0;
    assert_string_equal(ids[0], ids[1]); /* created, paid */
    assert_string_equal(ids[3], ids[4]); /* the event's and the update's delivery */
    assert_int_equal(same, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(orders_create),
        cmocka_unit_test(orders_paid_same_id),
        cmocka_unit_test(orders_cancelled),
        cmocka_unit_test(orders_updated_quiet),
        cmocka_unit_test(order_customer_fallbacks),
        cmocka_unit_test(order_field_fallbacks),
        cmocka_unit_test(ids_64_bit),
        cmocka_unit_test(fulfillments_create),
        cmocka_unit_test(fulfillment_tracking_arrays),
        cmocka_unit_test(fulfillment_created_delivered),
        cmocka_unit_test(fulfillments_update_delivered),
        cmocka_unit_test(fulfillments_update_statuses),
        cmocka_unit_test(fulfillment_cancelled_quiet),
        cmocka_unit_test(fulfillment_event_delivered),
        cmocka_unit_test(fulfillment_event_delays),
        cmocka_unit_test(refunds_create),
        cmocka_unit_test(refund_sums),
        cmocka_unit_test(refund_currency_and_wrapping),
        cmocka_unit_test(returns_request),
        cmocka_unit_test(returns_close),
        cmocka_unit_test(ignored_topics),
        cmocka_unit_test(invalid_payloads),
        cmocka_unit_test(store_separates),
        cmocka_unit_test(chain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
