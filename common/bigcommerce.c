/* BigCommerce webhooks to canonical events (the table is in bigcommerce.h
 * and docs/platforms.md). The webhook only names the order; the gateway
 * fetches the V2 order, its products and its shipments, and the events
 * follow from the order's state, each complete with order and customer. */
#include "bigcommerce.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

#define BIGC_PLATFORM "bigcommerce"

/* An id longer than the workers accept is refused here already. */
#define ID_BUFSZ (AC_EVENT_MAX_ID_LEN + 1)

typedef struct bigc {
    const ac_canon_in_t *in;
    json_object *order;
    ac_canon_batch_t *out;
    int64_t status_id;
    char order_id[ID_BUFSZ];
    char identity[ID_BUFSZ + 8]; /* "order:<id>" */
    json_object *canon_order;    /* total, currency, items */
    json_object *customer;       /* the canonical customer */
    int full;                    /* an event did not fit into the batch */
} bigc_t;

/* BigCommerce order ids are whole numbers, and the id goes into the API's
 * URL path: anything else ("../", "?", "%") is refused rather than
 * escaped. */
static int all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}
/* Where a scope's data names the order: data.id for the order scopes,
 * data.order_id for the transaction scopes and data.orderId for the
 * shipment scopes (BigCommerce's webhook events reference). NULL for a
 * scope aftercare does not use: order metafields never change what the
 * events say, and nothing outside orders and shipments does. */
static const char *scope_order_key(const char *scope)
{
    if (strncmp(scope, "store/order/metafield/", 22) == 0)
        return NULL;
    if (strncmp(scope, "store/order/transaction/", 24) == 0)
        return "order_id";
    if (strncmp(scope, "store/order/", 12) == 0)
        return "id";
    if (strncmp(scope, "store/shipment/", 15) == 0)
        return "orderId";
    return NULL;
}

ac_canon_rc_t ac_bigc_order_of(json_object *body, char *order_id, size_t idsz, char *err,
                               size_t errsz)
{
    if (!body || !json_object_is_type(body, json_type_object)) {
        snprintf(err, errsz, "the BigCommerce webhook is not a JSON object");
        return AC_CANON_INVALID;
    }
    const char *scope = ac_canon_str(body, "scope");
    if (!scope) {
        snprintf(err, errsz, "the BigCommerce webhook has no scope");
        return AC_CANON_INVALID;
    }
    const char *key = scope_order_key(scope);
    if (!key)
        return AC_CANON_IGNORED;
    json_object *data = ac_canon_obj(body, "data");
    if (!data) {
        snprintf(err, errsz, "the BigCommerce webhook has no data object");
        return AC_CANON_INVALID;
    }
    if (!ac_canon_id_of(data, key, order_id, idsz) || !all_digits(order_id)) {
        snprintf(err, errsz, "the BigCommerce webhook names no order (data.%s)", key);
        return AC_CANON_INVALID;
    }
    return AC_CANON_OK;
}

/* Paid and in fulfilment or done: 2 Shipped, 3 Partially Shipped, 8
 * Awaiting Pickup, 9 Awaiting Shipment, 10 Completed, 11 Awaiting
 * Fulfillment. Only such an order is said to be placed or shipped; 0
 * Incomplete, 1 Pending, 7 Awaiting Payment, 12 Manual Verification and 13
 * Disputed are not (yet) paid, and a cancelled, declined or refunded order
 * says only that. */
static int live_status(int64_t s)
{
    return s == 2 || s == 3 || s == 8 || s == 9 || s == 10 || s == 11;
}

static int cancelled_status(int64_t s)
{
    return s == 5 || s == 6; /* Cancelled, Declined */
}

/* The products as items. A bundled product (a pick list's choice) is part
 * of its parent line and priced 0: the customer ordered the parent. */
static json_object *build_items(json_object *products)
{
    json_object *items = json_object_new_array();
    size_t n = products && json_object_is_type(products, json_type_array)
                   ? json_object_array_length(products)
                   : 0;
    for (size_t i = 0; items && i < n; i++) {
        json_object *p = json_object_array_get_idx(products, i), *v = NULL;
        char sku[ID_BUFSZ];
        if (json_object_object_get_ex(p, "is_bundled_product", &v) && json_object_get_boolean(v))
            continue;
        json_object *it = json_object_new_object();
        if (!it)
            break;
        ac_canon_set_str(it, "sku", ac_canon_id_of(p, "sku", sku, sizeof(sku)));
        ac_canon_set_str(it, "name", ac_canon_str(p, "name"));
        if (json_object_object_get_ex(p, "quantity", &v) && json_object_is_type(v, json_type_int) &&
            json_object_get_int64(v) >= 1)
            json_object_object_add(it, "quantity", json_object_new_int64(json_object_get_int64(v)));
        if (json_object_object_get_ex(p, "price_inc_tax", &v))
            ac_canon_set_money(it, "price", v);
        json_object_array_add(items, it);
    }
    return items;
}

/* The order fields every event repeats. V2 orders have no order number
 * apart from the id, which messages show when number is absent. The
 * amounts are in the transactional currency (default_currency_code);
 * currency_code is the display currency, the same unless the shopper
 * browsed in another one. */
static json_object *build_order(json_object *order, json_object *products)
{
    json_object *o = json_object_new_object(), *v = NULL;
    if (!o)
        return NULL;
    if (json_object_object_get_ex(order, "total_inc_tax", &v))
        ac_canon_set_money(o, "total", v);
    const char *currency = ac_canon_str(order, "default_currency_code");
    ac_canon_set_str(o, "currency", currency ? currency : ac_canon_str(order, "currency_code"));
    json_object *items = build_items(products);
    if (items && json_object_array_length(items) > 0)
        json_object_object_add(o, "items", items);
    else
        json_object_put(items);
    return o;
}

/* customer_id is 0 for a guest checkout: the guest is known by the order,
 * as "guest-<order id>"; NULL when that would exceed the 200 bytes the
 * workers accept for an id (or memory ran out). */
static json_object *build_customer(json_object *order, const char *order_id)
{
    json_object *c = json_object_new_object(), *v = NULL;
    json_object *billing = ac_canon_obj(order, "billing_address");
    char id[ID_BUFSZ];
    if (!c)
        return NULL;
    if (!json_object_object_get_ex(order, "customer_id", &v) ||
        (json_object_is_type(v, json_type_int) && json_object_get_int64(v) == 0) ||
        !ac_canon_id(v, id, sizeof(id))) {
        int n = snprintf(id, sizeof(id), "guest-%s", order_id);
        if (n < 0 || (size_t)n >= sizeof(id)) {
            json_object_put(c);
            return NULL;
        }
    }
    ac_canon_set_str(c, "id", id);
    ac_canon_set_str(c, "email", ac_canon_str(billing, "email"));
    ac_canon_set_str(c, "phone", ac_canon_str(billing, "phone"));
    ac_canon_set_str(c, "first_name", ac_canon_str(billing, "first_name"));
    ac_canon_set_str(c, "locale", ac_canon_str(order, "customer_locale"));
    return c;
}

/* Copies every member of src into dst. */
static void copy_members(json_object *dst, json_object *src)
{
    if (!dst || !src)
        return;
    json_object_object_foreach(src, key, val)
    {
        json_object *copy = NULL;
        if (json_object_deep_copy(val, &copy, NULL) == 0)
            json_object_object_add(dst, key, copy);
    }
}

/* A new event of type about this order, its id derived from the order and
 * disc, so that every webhook about an unchanged state repeats it. */
static json_object *bigc_event(bigc_t *b, const char *type, const char *disc, json_object *when)
{
    char event_id[48], at[40];
    const ac_canon_store_t *store = b->in->store;
    ac_canon_event_id(BIGC_PLATFORM, store && store->id ? store->id : "", b->identity, type, disc,
                      event_id, sizeof(event_id));
    json_object *ev =
        ac_canon_event_new(event_id, type, ac_canon_time(when, at, sizeof(at)), store, b->order_id);
    if (!ev)
        return NULL;
    copy_members(ac_canon_section(ev, "order"), b->canon_order);
    copy_members(ac_canon_section(ev, "customer"), b->customer);
    return ev;
}

static void bigc_add(bigc_t *b, json_object *ev)
{
    if (!ev || ac_canon_batch_add(b->out, ev) != 0)
        b->full = 1;
}

/* The order member key, NULL when absent. */
static json_object *member(json_object *obj, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(obj, key, &v) ? v : NULL;
}

/* One shipment.shipped per shipment, known by its id. tracking_link is
 * the merchant's own link; without one BigCommerce generates a carrier
 * link (generated_tracking_link). tracking_carrier names the delivery
 * service when shipping_provider is a custom or generic one. */
static void emit_shipment(bigc_t *b, json_object *shp)
{
    char sid[ID_BUFSZ], disc[ID_BUFSZ + 16], number[ID_BUFSZ];
    if (!ac_canon_id_of(shp, "id", sid, sizeof(sid)))
        return;
    snprintf(disc, sizeof(disc), "shipment:%s", sid);
    json_object *when = member(shp, "date_created");
    char probe[40];
    if (!ac_canon_time(when, probe, sizeof(probe)))
        when = member(b->order, "date_modified");
    json_object *ev = bigc_event(b, "shipment.shipped", disc, when);
    json_object *s = ev ? ac_canon_section(ev, "shipment") : NULL;
    const char *carrier = ac_canon_str(shp, "tracking_carrier");
    if (!carrier)
        carrier = ac_canon_str(shp, "shipping_provider_display_name");
    if (!carrier)
        carrier = ac_canon_str(shp, "shipping_provider");
    const char *url = ac_canon_str(shp, "tracking_link");
    ac_canon_set_str(s, "id", sid);
    ac_canon_set_str(s, "carrier", carrier);
    ac_canon_set_str(s, "tracking_number",
                     ac_canon_id_of(shp, "tracking_number", number, sizeof(number)));
    ac_canon_set_str(s, "tracking_url", url ? url : ac_canon_str(shp, "generated_tracking_link"));
    ac_canon_set_str(s, "status", "shipped");
    bigc_add(b, ev);
}

/* refunded_amount is what was refunded so far, in the order's currency
 * ("10.0000"). Writes it with four decimals into out and returns out, or
 * NULL when nothing was refunded. */
static const char *refunded_amount(json_object *order, char *out, size_t outsz)
{
    json_object *v = member(order, "refunded_amount");
    double amount = 0;
    char *end = NULL;
    if (json_object_is_type(v, json_type_string)) {
        amount = strtod(json_object_get_string(v), &end);
        if (end == json_object_get_string(v) || *end != '\0')
            return NULL;
    } else if (json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)) {
        amount = json_object_get_double(v);
    }
    if (!(amount > 0))
        return NULL;
    snprintf(out, outsz, "%.4f", amount);
    return out;
}

/* A refund is known by the total refunded so far: the same total sent
 * again is the same event, a further partial refund raises it and is a
 * new one. The refund notice says the total. */
static void emit_refunded(bigc_t *b)
{
    char amount[64], rid[80];
    if (!refunded_amount(b->order, amount, sizeof(amount)))
        return;
    json_object *ev = bigc_event(b, "return.refunded", amount, member(b->order, "date_modified"));
    json_object *ret = ev ? ac_canon_section(ev, "return") : NULL;
    snprintf(rid, sizeof(rid), "refunded-%s", amount);
    ac_canon_set_str(ret, "id", rid);
    if (ret)
        ac_canon_set_money(ret, "refund_amount", member(b->order, "refunded_amount"));
    bigc_add(b, ev);
}

/* Every event the order's current state implies, in the order a customer
 * would see them happen. */
static void bigc_emit(bigc_t *b, json_object *shipments)
{
    if (live_status(b->status_id)) {
        bigc_add(b, bigc_event(b, "order.placed", "", member(b->order, "date_created")));
        size_t n = shipments && json_object_is_type(shipments, json_type_array)
                       ? json_object_array_length(shipments)
                       : 0;
        for (size_t i = 0; i < n; i++)
            emit_shipment(b, json_object_array_get_idx(shipments, i));
    }
    if (cancelled_status(b->status_id))
        bigc_add(b, bigc_event(b, "order.cancelled", "", member(b->order, "date_modified")));
    emit_refunded(b);
}

ac_canon_rc_t ac_bigc_map(const ac_canon_in_t *in, json_object *order, json_object *products,
                          json_object *shipments, ac_canon_batch_t *out, char *err, size_t errsz)
{
    bigc_t b;
    size_t before = out->n;
    memset(&b, 0, sizeof(b));
    if (!order || !json_object_is_type(order, json_type_object)) {
        snprintf(err, errsz, "the BigCommerce order is not a JSON object");
        return AC_CANON_INVALID;
    }
    if (!ac_canon_id_of(order, "id", b.order_id, sizeof(b.order_id))) {
        snprintf(err, errsz,
                 "the BigCommerce order has no id (a string or whole number of at "
                 "most 200 bytes)");
        return AC_CANON_INVALID;
    }
    json_object *status = member(order, "status_id");
    b.in = in;
    b.order = order;
    b.out = out;
    b.status_id = json_object_is_type(status, json_type_int) ? json_object_get_int64(status) : -1;
    snprintf(b.identity, sizeof(b.identity), "order:%s", b.order_id);
    b.canon_order = build_order(order, products);
    b.customer = build_customer(order, b.order_id);
    if (!b.customer) {
        json_object_put(b.canon_order);
        snprintf(err, errsz, "the BigCommerce order id is too long for a guest customer id");
        return AC_CANON_INVALID;
    }
    bigc_emit(&b, shipments);
    json_object_put(b.canon_order);
    json_object_put(b.customer);
    if (b.full) {
        /* All or nothing: half an order's state would be a guess. */
        while (out->n > before)
            json_object_put(out->ev[--out->n]);
        snprintf(err, errsz, "the BigCommerce order implies more than %d events",
                 AC_CANON_MAX_EVENTS);
        return AC_CANON_INVALID;
    }
    return AC_CANON_OK;
}
