/* Shopify webhooks to canonical events (docs/events.md). The mapping:
 *
 * topic                      canonical event      identity / discriminator
 * -------------------------  -------------------  -------------------------------
 * orders/create, orders/paid order.placed         order id / ""
 *   (cancelled_at set)       order.cancelled      order id / ""  (instead)
 * orders/cancelled           order.cancelled      order id / ""
 * orders/updated             order.cancelled when cancelled_at is set, else none
 * fulfillments/create        shipment.shipped     "fulfillment:<id>" / ""
 *                            + the shipment_status event when it has one
 * fulfillments/update        by shipment_status   "fulfillment:<id>" / status
 * fulfillment_events/create  by status            "fulfillment:<fulfillment_id>"
 *                                                 / status
 * refunds/create             return.refunded      "refund:<id>" / ""
 * returns/request            return.requested     "return:<id>" / ""
 * returns/close              return.received      "return:<id>" / ""
 * anything else              AC_CANON_IGNORED
 *
 * Shipment statuses: in_transit, out_for_delivery, delivered, delayed map to
 * the shipment.* of that name; picked_up (the customer collected an
 * in-store pickup) is shipment.delivered; failure and attempted_delivery are
 * shipment.exception; every other status (null, confirmed, label_printed,
 * label_purchased, ready_for_pickup, carrier_picked_up ...) says nothing. The
 * discriminator of shipment.delayed is "delayed/<estimated delivery>" when
 * the estimate is known, so a new estimate is a new event.
 *
 * Fields:
 *   event_id     ac_canon_event_id("shopify", store id, identity, type, disc)
 *   occurred_at  orders: processed_at, else created_at; cancelled:
 *                cancelled_at, else updated_at; fulfillments: created_at
 *                (shipped) or updated_at (status); fulfillment events:
 *                happened_at; refunds: processed_at, else created_at;
 *                returns: requested_at or closed_at when sent (Shopify's
 *                samples have none). Without one: the delivery's
 *                X-Shopify-Triggered-At, else the current time.
 *   order        id; number = name ("#1001", else order_number); total =
 *                total_price; currency; items from line_items (sku, name =
 *                title or name, quantity, price). A refund's currency is that
 *                of its first transaction naming one, else its line items'.
 *   customer     orders only (the gateway completes the others): id =
 *                customer.id, "guest-<order id>" without a customer; email =
 *                email || contact_email || customer.email; phone = phone ||
 *                customer.phone || billing || shipping address phone;
 *                first_name = customer || billing || shipping address;
 *                locale = customer_locale; marketing_consent = customer
 *                email_marketing_consent.state "subscribed" or
 *                buyer_accepts_marketing true (false otherwise, always set).
 *   shipment     id = fulfillment id; carrier = tracking_company;
 *                tracking_number / tracking_url, else the first of
 *                tracking_numbers / tracking_urls; status = "shipped", the
 *                shipment_status, or the event's message (else status);
 *                estimated_delivery = estimated_delivery_at.
 *   return       id = refund or return id; refunds: refund_amount = exact
 *                decimal sum of the successful "refund" transactions (no
 *                event when that is 0; left out when an amount is
 *                unreadable), reason = note, items (sku, name, quantity)
 *                from refund_line_items; returns:
 *                reason = first line's return_reason, items when the line
 *                items name a SKU or title.
 *   remember     fulfillments: {"order_id": ..., "shipments": {"<id>": carrier and tracking}}
 *
 * A fulfillment whose own status is cancelled, error or failure says
 * nothing. Ids are copied as text (ac_canon_id), never through a double. */
#include "shopify.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "event.h"
#include "shopify_int.h"

/* Fills err with why the payload cannot be mapped: a fixed sentence, so
 * that no customer data reaches the gateway's answer or its logs. */
ac_canon_rc_t ac_shopify_invalid(char *err, size_t errsz, const char *why)
{
    if (err && errsz)
        snprintf(err, errsz, "%s", why);
    return AC_CANON_INVALID;
}

/* The first non-NULL of up to four candidates. */
static const char *first_of(const char *a, const char *b, const char *c, const char *d)
{
    return a ? a : b ? b : c ? c : d;
}

/* The first element of obj's array key when it is a non-empty string. */
static const char *first_str_of(json_object *obj, const char *key)
{
    json_object *arr = ac_canon_arr(obj, key);
    json_object *v =
        arr && json_object_array_length(arr) ? json_object_array_get_idx(arr, 0) : NULL;
    if (!v || !json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
        return NULL;
    return json_object_get_string(v);
}

/* When it happened: the first of obj's keys holding a readable time, else
 * the delivery's X-Shopify-Triggered-At, else NULL (ac_canon_event_new()
 * then uses the current time). */
const char *ac_shopify_when(const ac_canon_in_t *in, json_object *obj, const char *k1,
                            const char *k2, char *out, size_t outsz)
{
    json_object *v = NULL;
    const char *keys[] = {k1, k2};
    for (size_t i = 0; i < 2; i++)
        if (keys[i] && json_object_object_get_ex(obj, keys[i], &v) && ac_canon_time(v, out, outsz))
            return out;
    if (in->triggered_at) {
        json_object *t = json_object_new_string(in->triggered_at);
        const char *r = t ? ac_canon_time(t, out, outsz) : NULL;
        json_object_put(t);
        return r;
    }
    return NULL;
}

/* A new canonical event whose id derives from what happened. */
json_object *ac_shopify_new_event(const ac_canon_in_t *in, const char *identity, const char *type,
                                  const char *disc, const char *occurred, const char *order_id)
{
    char eid[64];
    ac_canon_event_id("shopify", in->store ? in->store->id : NULL, identity, type, disc, eid,
                      sizeof(eid));
    return ac_canon_event_new(eid, type, occurred, in->store, order_id);
}

/* Appends ev; a NULL ev (out of memory) or a full batch fails the mapping
 * rather than dropping an event silently. */
ac_canon_rc_t ac_shopify_add(ac_canon_batch_t *out, json_object *ev, char *err, size_t errsz)
{
    if (ac_canon_batch_add(out, ev) != 0)
        return ac_shopify_invalid(err, errsz, "the webhook could not be mapped (out of memory)");
    return AC_CANON_OK;
}

/* One canonical item from a Shopify line item: sku, name (title, else the
 * variant's full name), quantity and, for orders, the unit price. Items
 * naming neither SKU nor product are left out: there is nothing to show. */
void ac_shopify_add_item(json_object *items, json_object *li, json_object *qty, int with_price)
{
    char sku[ID_SZ];
    const char *s = ac_canon_id_of(li, "sku", sku, sizeof(sku));
    const char *name = first_of(ac_canon_str(li, "title"), ac_canon_str(li, "name"), NULL, NULL);
    if (!s && !name)
        return;
    json_object *it = json_object_new_object();
    if (!it)
        return;
    ac_canon_set_str(it, "sku", s);
    ac_canon_set_str(it, "name", name);
    if (qty && json_object_is_type(qty, json_type_int))
        json_object_object_add(it, "quantity", json_object_new_int64(json_object_get_int64(qty)));
    if (with_price)
        ac_canon_set_money(it, "price", json_object_object_get(li, "price"));
    json_object_array_add(items, it);
}

/* Sets key to items when it holds any, and releases it otherwise. */
void ac_shopify_set_items(json_object *obj, const char *key, json_object *items)
{
    if (items && json_object_array_length(items) > 0)
        json_object_object_add(obj, key, items);
    else
        json_object_put(items);
}

/* The order section of an order event. */
static void fill_order(json_object *ev, json_object *o)
{
    char num[ID_SZ];
    json_object *sec = ac_canon_section(ev, "order");
    const char *number = ac_canon_id_of(o, "name", num, sizeof(num));
    ac_canon_set_str(sec, "number",
                     number ? number : ac_canon_id_of(o, "order_number", num, sizeof(num)));
    ac_canon_set_money(sec, "total", json_object_object_get(o, "total_price"));
    ac_canon_set_str(sec, "currency", ac_canon_str(o, "currency"));
    json_object *lines = ac_canon_arr(o, "line_items");
    json_object *items = json_object_new_array();
    for (size_t i = 0; items && lines && i < json_object_array_length(lines); i++) {
        json_object *li = json_object_array_get_idx(lines, i);
        ac_shopify_add_item(items, li, json_object_object_get(li, "quantity"), 1);
    }
    ac_shopify_set_items(sec, "items", items);
}

/* Consent to marketing: the customer's email consent state, or the
 * checkout's "accepts marketing" box. */
static int consents(json_object *o)
{
    json_object *c = ac_canon_obj(o, "customer");
    const char *state = ac_canon_str(ac_canon_obj(c, "email_marketing_consent"), "state");
    json_object *b = json_object_object_get(o, "buyer_accepts_marketing");
    return (state && strcmp(state, "subscribed") == 0) ||
           (b && json_object_is_type(b, json_type_boolean) && json_object_get_boolean(b));
}

/* The customer section of an order event. A guest checkout has no
 * customer: the order stands for its buyer. Returns 0, or -1 when the id
 * does not fit. */
static int fill_customer(json_object *ev, json_object *o, const char *order_id)
{
    char cid[ID_SZ];
    json_object *c = ac_canon_obj(o, "customer");
    json_object *bill = ac_canon_obj(o, "billing_address");
    json_object *ship = ac_canon_obj(o, "shipping_address");
    if (!ac_canon_id_of(c, "id", cid, sizeof(cid))) {
        int n = snprintf(cid, sizeof(cid), "guest-%s", order_id);
        if (n < 0 || (size_t)n >= sizeof(cid))
            return -1;
    }
    json_object *sec = ac_canon_section(ev, "customer");
    ac_canon_set_str(sec, "id", cid);
    ac_canon_set_str(sec, "email",
                     first_of(ac_canon_str(o, "email"), ac_canon_str(o, "contact_email"),
                              ac_canon_str(c, "email"), NULL));
    ac_canon_set_str(sec, "phone",
                     first_of(ac_canon_str(o, "phone"), ac_canon_str(c, "phone"),
                              ac_canon_str(bill, "phone"), ac_canon_str(ship, "phone")));
    ac_canon_set_str(sec, "first_name",
                     first_of(ac_canon_str(c, "first_name"), ac_canon_str(bill, "first_name"),
                              ac_canon_str(ship, "first_name"), NULL));
    ac_canon_set_str(sec, "locale", ac_canon_str(o, "customer_locale"));
    json_object_object_add(sec, "marketing_consent", json_object_new_boolean(consents(o)));
    return 0;
}

/* What an order topic says. */
typedef enum order_topic { ORDER_PLACED, ORDER_CANCELLED, ORDER_UPDATED } order_topic_t;

/* orders/create, orders/paid, orders/cancelled and orders/updated. A
 * cancelled order is never confirmed: whichever topic shows it cancelled
 * gives the one order.cancelled (same id from all three). */
static ac_canon_rc_t map_order(const ac_canon_in_t *in, int topic, ac_canon_batch_t *out, char *err,
                               size_t errsz)
{
    char oid[ID_SZ], at[TIME_SZ];
    json_object *o = in->body;
    if (!ac_canon_id_of(o, "id", oid, sizeof(oid)))
        return ac_shopify_invalid(err, errsz, "the order has no usable id");
    int cancelled = topic == ORDER_CANCELLED || ac_canon_str(o, "cancelled_at") != NULL;
    if (!cancelled && topic == ORDER_UPDATED)
        return AC_CANON_OK;
    const char *type = cancelled ? "order.cancelled" : "order.placed";
    const char *occurred =
        cancelled ? ac_shopify_when(in, o, "cancelled_at", "updated_at", at, sizeof(at))
                  : ac_shopify_when(in, o, "processed_at", "created_at", at, sizeof(at));
    json_object *ev = ac_shopify_new_event(in, oid, type, "", occurred, oid);
    if (!ev)
        return ac_shopify_add(out, ev, err, errsz);
    fill_order(ev, o);
    if (fill_customer(ev, o, oid) != 0) {
        json_object_put(ev);
        return ac_shopify_invalid(err, errsz, "the order id is too long for a guest customer id");
    }
    return ac_shopify_add(out, ev, err, errsz);
}

/* The canonical type of a Shopify shipment status (a fulfillment's
 * shipment_status or a fulfillment event's status); NULL when it is news
 * aftercare does not pass on. */
static const char *shipment_type(const char *status)
{
    static const struct {
        const char *status, *type;
    } map[] = {
        {"in_transit", "shipment.in_transit"},
        {"out_for_delivery", "shipment.out_for_delivery"},
        {"delivered", "shipment.delivered"},
        {"picked_up", "shipment.delivered"},
        {"delayed", "shipment.delayed"},
        {"failure", "shipment.exception"},
        {"attempted_delivery", "shipment.exception"},
    };
    for (size_t i = 0; status && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcmp(status, map[i].status) == 0)
            return map[i].type;
    return NULL;
}

/* The discriminator of a status event: the status, and for a delay the new
 * estimate, so that the same delay reported twice is one event and a new
 * estimate another. */
static void status_disc(const char *status, const char *estimate, char *out, size_t outsz)
{
    if (strcmp(status, "delayed") == 0 && estimate)
        snprintf(out, outsz, "%s/%s", status, estimate);
    else
        snprintf(out, outsz, "%s", status);
}

/* Carrier and tracking of a fulfillment into a shipment section. */
static void set_tracking(json_object *shp, json_object *f)
{
    char num[ID_SZ];
    const char *n = ac_canon_id_of(f, "tracking_number", num, sizeof(num));
    ac_canon_set_str(shp, "carrier", ac_canon_str(f, "tracking_company"));
    ac_canon_set_str(shp, "tracking_number", n ? n : first_str_of(f, "tracking_numbers"));
    ac_canon_set_str(
        shp, "tracking_url",
        first_of(ac_canon_str(f, "tracking_url"), first_str_of(f, "tracking_urls"), NULL, NULL));
}

/* Remembers the fulfillment's carrier and tracking, so that the gateway
 * completes later fulfillment events (which carry neither). */
static void remember_tracking(ac_canon_batch_t *out, const char *oid, const char *fid,
                              json_object *f)
{
    json_object *t = json_object_new_object();
    set_tracking(t, f);
    if (!t || json_object_object_length(t) == 0) {
        json_object_put(t);
        return;
    }
    if (!out->remember)
        out->remember = json_object_new_object();
    ac_canon_set_str(out->remember, "order_id", oid);
    json_object *ships = out->remember ? ac_canon_section(out->remember, "shipments") : NULL;
    if (ships)
        json_object_object_add(ships, fid, t);
    else
        json_object_put(t);
}

/* What one shipment event says of a fulfillment's parcel. */
typedef struct parcel_news {
    const char *type, *disc, *occurred;
    const char *status, *estimate; /* shipment.status, shipment.estimated_delivery */
    json_object *fulfillment;      /* gives carrier and tracking; NULL for an event */
} parcel_news_t;

/* Appends the shipment event news tells of fulfillment fid. */
static ac_canon_rc_t add_shipment(const ac_canon_in_t *in, ac_canon_batch_t *out, const char *fid,
                                  const char *oid, const parcel_news_t *news, char *err,
                                  size_t errsz)
{
    char identity[ID_SZ + 16];
    snprintf(identity, sizeof(identity), "fulfillment:%s", fid);
    json_object *ev =
        ac_shopify_new_event(in, identity, news->type, news->disc, news->occurred, oid);
    json_object *shp = ev ? ac_canon_section(ev, "shipment") : NULL;
    ac_canon_set_str(shp, "id", fid);
    if (news->fulfillment)
        set_tracking(shp, news->fulfillment);
    ac_canon_set_str(shp, "status", news->status);
    ac_canon_set_str(shp, "estimated_delivery", news->estimate);
    return ac_shopify_add(out, ev, err, errsz);
}

/* The shipment event of a carrier status (a fulfillment's shipment_status
 * or a fulfillment event's status), when it is news. */
static ac_canon_rc_t add_status(const ac_canon_in_t *in, ac_canon_batch_t *out, const char *fid,
                                const char *oid, json_object *payload, const char *status,
                                parcel_news_t *news, char *err, size_t errsz)
{
    char est[TIME_SZ], disc[TIME_SZ + 16];
    news->type = shipment_type(status);
    if (!news->type)
        return AC_CANON_OK;
    news->estimate =
        ac_canon_time(json_object_object_get(payload, "estimated_delivery_at"), est, sizeof(est));
    status_disc(status, news->estimate, disc, sizeof(disc));
    news->disc = disc;
    return add_shipment(in, out, fid, oid, news, err, errsz);
}

/* True when the fulfillment itself was cancelled or failed: nothing was
 * sent, whatever its shipment status says. */
static int fulfillment_void(json_object *f)
{
    const char *s = ac_canon_str(f, "status");
    return s &&
           (strcmp(s, "cancelled") == 0 || strcmp(s, "error") == 0 || strcmp(s, "failure") == 0);
}

/* fulfillments/create (created != 0) and fulfillments/update. */
static ac_canon_rc_t map_fulfillment(const ac_canon_in_t *in, int created, ac_canon_batch_t *out,
                                     char *err, size_t errsz)
{
    char fid[ID_SZ], oid[ID_SZ], at[TIME_SZ];
    json_object *f = in->body;
    if (!ac_canon_id_of(f, "id", fid, sizeof(fid)))
        return ac_shopify_invalid(err, errsz, "the fulfillment has no usable id");
    if (!ac_canon_id_of(f, "order_id", oid, sizeof(oid)))
        return ac_shopify_invalid(err, errsz, "the fulfillment has no usable order_id");
    remember_tracking(out, oid, fid, f);
    if (fulfillment_void(f))
        return AC_CANON_OK;
    if (created) {
        parcel_news_t shipped = {
            .type = "shipment.shipped", .disc = "", .status = "shipped", .fulfillment = f};
        shipped.occurred = ac_shopify_when(in, f, "created_at", "updated_at", at, sizeof(at));
        ac_canon_rc_t rc = add_shipment(in, out, fid, oid, &shipped, err, errsz);
        if (rc != AC_CANON_OK)
            return rc;
    }
    const char *status = ac_canon_str(f, "shipment_status");
    parcel_news_t news = {.occurred =
                              ac_shopify_when(in, f, "updated_at", "created_at", at, sizeof(at)),
                          .status = status,
                          .fulfillment = f};
    return add_status(in, out, fid, oid, f, status, &news, err, errsz);
}

/* fulfillment_events/create: one carrier scan, naming its fulfillment. */
static ac_canon_rc_t map_fulfillment_event(const ac_canon_in_t *in, int unused,
                                           ac_canon_batch_t *out, char *err, size_t errsz)
{
    char fid[ID_SZ], oid[ID_SZ], at[TIME_SZ];
    json_object *e = in->body;
    if (!ac_canon_id_of(e, "fulfillment_id", fid, sizeof(fid)))
        return ac_shopify_invalid(err, errsz, "the fulfillment event has no usable fulfillment_id");
    if (!ac_canon_id_of(e, "order_id", oid, sizeof(oid)))
        return ac_shopify_invalid(err, errsz, "the fulfillment event has no usable order_id");
    const char *status = ac_canon_str(e, "status");
    parcel_news_t news = {.occurred =
                              ac_shopify_when(in, e, "happened_at", "created_at", at, sizeof(at)),
                          .status = first_of(ac_canon_str(e, "message"), status, NULL, NULL)};
    return add_status(in, out, fid, oid, e, status, &news, err, errsz);
}

/* The topics aftercare reads, the mapper of each and its argument (the
 * order topic's meaning, "created", "requested"). */
typedef ac_canon_rc_t mapper_t(const ac_canon_in_t *in, int arg, ac_canon_batch_t *out, char *err,
                               size_t errsz);
static const struct {
    const char *topic;
    mapper_t *map;
    int arg;
} topics[] = {
    {"orders/create", map_order, ORDER_PLACED},
    {"orders/paid", map_order, ORDER_PLACED},
    {"orders/cancelled", map_order, ORDER_CANCELLED},
    {"orders/updated", map_order, ORDER_UPDATED},
    {"fulfillments/create", map_fulfillment, 1},
    {"fulfillments/update", map_fulfillment, 0},
    {"fulfillment_events/create", map_fulfillment_event, 0},
    {"refunds/create", ac_shopify_map_refund, 0},
    {"returns/request", ac_shopify_map_return, 1},
    {"returns/close", ac_shopify_map_return, 0},
};

ac_canon_rc_t ac_shopify_map(const ac_canon_in_t *in, ac_canon_batch_t *out, char *err,
                             size_t errsz)
{
    if (err && errsz)
        err[0] = '\0';
    if (!in || !out)
        return ac_shopify_invalid(err, errsz, "no webhook to map");
    if (!in->topic || !*in->topic)
        return ac_shopify_invalid(err, errsz, "the webhook has no topic");
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
        if (strcmp(in->topic, topics[i].topic) != 0)
            continue;
        if (!in->body || !json_object_is_type(in->body, json_type_object))
            return ac_shopify_invalid(err, errsz, "the webhook body is not a JSON object");
        return topics[i].map(in, topics[i].arg, out, err, errsz);
    }
    return AC_CANON_IGNORED;
}
