/* WooCommerce webhooks to canonical events, by the order's state (the
 * table is in woocommerce.h and docs/platforms.md).
 *
 * Every event of one webhook carries the same order (number, total,
 * currency, items) and customer, so each is complete on its own and needs
 * no context from the gateway. */
#include "woocommerce.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

#define WOO_PLATFORM "woocommerce"

/* The WooCommerce Shipment Tracking extension keeps its parcels in this
 * order meta entry. */
#define WOO_TRACKING_META "_wc_shipment_tracking_items"

/* An id longer than the workers accept is refused here already, with a
 * sentence the store's developer can act on. */
#define ID_BUFSZ (AC_EVENT_MAX_ID_LEN + 1)

typedef struct woo {
    const ac_canon_in_t *in;
    json_object *body;
    ac_canon_batch_t *out;
    const char *status;
    char order_id[ID_BUFSZ];
    char identity[ID_BUFSZ + 8]; /* "order:<id>" */
    json_object *order;          /* number, total, currency, items */
    json_object *customer;       /* the canonical customer */
    int full;                    /* an event did not fit into the batch */
} woo_t;

/* Paid (or awaiting a manual payment the merchant accepted) and not
 * undone: only such an order is said to be placed or shipped. pending,
 * failed and the checkout drafts are not paid; cancelled and refunded
 * orders say only that. */
static const char *const LIVE_STATUSES[] = {"processing", "on-hold", "completed", NULL};

static int in_set(const char *s, const char *const *set)
{
    for (; s && *set; set++)
        if (strcmp(s, *set) == 0)
            return 1;
    return 0;
}

/* The first of keys that holds a timestamp ac_canon_time() reads. */
static const char *first_time(json_object *obj, const char *const *keys, char *out, size_t outsz)
{
    for (; *keys; keys++) {
        json_object *v = NULL;
        if (json_object_object_get_ex(obj, *keys, &v) && ac_canon_time(v, out, outsz))
            return out;
    }
    return NULL;
}

/* The string field key of the billing address, else of the shipping
 * address (WooCommerce 5.6 and later give the shipping address a phone). */
static const char *address_str(json_object *body, const char *key)
{
    const char *s = ac_canon_str(ac_canon_obj(body, "billing"), key);
    return s ? s : ac_canon_str(ac_canon_obj(body, "shipping"), key);
}

static json_object *build_items(json_object *line_items)
{
    json_object *items = json_object_new_array();
    size_t n = line_items ? json_object_array_length(line_items) : 0;
    for (size_t i = 0; items && i < n; i++) {
        json_object *li = json_object_array_get_idx(line_items, i);
        json_object *it = json_object_new_object(), *v = NULL;
        char sku[ID_BUFSZ];
        if (!it)
            break;
        ac_canon_set_str(it, "sku", ac_canon_id_of(li, "sku", sku, sizeof(sku)));
        ac_canon_set_str(it, "name", ac_canon_str(li, "name"));
        if (json_object_object_get_ex(li, "quantity", &v) &&
            json_object_is_type(v, json_type_int) && json_object_get_int64(v) >= 1)
            json_object_object_add(it, "quantity", json_object_new_int64(json_object_get_int64(v)));
        if (json_object_object_get_ex(li, "price", &v))
            ac_canon_set_money(it, "price", v);
        json_object_array_add(items, it);
    }
    return items;
}

/* The order fields every event repeats (order.id is set by
 * ac_canon_event_new()). */
static json_object *build_order(json_object *body)
{
    json_object *o = json_object_new_object(), *v = NULL;
    char number[ID_BUFSZ];
    if (!o)
        return NULL;
    ac_canon_set_str(o, "number", ac_canon_id_of(body, "number", number, sizeof(number)));
    if (json_object_object_get_ex(body, "total", &v))
        ac_canon_set_money(o, "total", v);
    ac_canon_set_str(o, "currency", ac_canon_str(body, "currency"));
    json_object *items = build_items(ac_canon_arr(body, "line_items"));
    if (items && json_object_array_length(items) > 0)
        json_object_object_add(o, "items", items);
    else
        json_object_put(items);
    return o;
}

/* customer_id is 0 for a guest checkout: the guest is known by the order,
 * as "guest-<order id>"; NULL when that would exceed the 200 bytes the
 * workers accept for an id (or memory ran out).
 * WooCommerce has no customer locale (the store's applies) and no
 * marketing consent in the order, so neither is given. */
static json_object *build_customer(json_object *body, const char *order_id)
{
    json_object *c = json_object_new_object(), *v = NULL;
    char id[ID_BUFSZ];
    if (!c)
        return NULL;
    if (!json_object_object_get_ex(body, "customer_id", &v) ||
        (json_object_is_type(v, json_type_int) && json_object_get_int64(v) == 0) ||
        !ac_canon_id(v, id, sizeof(id))) {
        int n = snprintf(id, sizeof(id), "guest-%s", order_id);
        if (n < 0 || (size_t)n >= sizeof(id)) {
            json_object_put(c);
            return NULL;
        }
    }
    ac_canon_set_str(c, "id", id);
    ac_canon_set_str(c, "email", address_str(body, "email"));
    ac_canon_set_str(c, "phone", address_str(body, "phone"));
    ac_canon_set_str(c, "first_name", address_str(body, "first_name"));
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

/* A new event of type about this order, its id derived from the order
 * and disc (never from date_modified_gmt, so that a re-sent or touched
 * order repeats it). */
static json_object *woo_event(woo_t *w, const char *type, const char *disc, const char *at)
{
    char event_id[48];
    const ac_canon_store_t *store = w->in->store;
    ac_canon_event_id(WOO_PLATFORM, store && store->id ? store->id : "", w->identity, type, disc,
                      event_id, sizeof(event_id));
    json_object *ev = ac_canon_event_new(event_id, type, at, store, w->order_id);
    if (!ev)
        return NULL;
    copy_members(ac_canon_section(ev, "order"), w->order);
    copy_members(ac_canon_section(ev, "customer"), w->customer);
    return ev;
}

static void woo_add(woo_t *w, json_object *ev)
{
    if (!ev || ac_canon_batch_add(w->out, ev) != 0)
        w->full = 1;
}

static void emit_placed(woo_t *w)
{
    static const char *const when[] = {"date_paid_gmt", "date_created_gmt", NULL};
    char at[40];
    woo_add(w, woo_event(w, "order.placed", "", first_time(w->body, when, at, sizeof(at))));
}

static void emit_cancelled(woo_t *w)
{
    static const char *const when[] = {"date_modified_gmt", "date_created_gmt", NULL};
    char at[40];
    woo_add(w, woo_event(w, "order.cancelled", "", first_time(w->body, when, at, sizeof(at))));
}

/* One shipment.shipped for a tracking item, known by its tracking_id (or,
 * from older versions of the extension, its tracking number). */
static void emit_tracking_item(woo_t *w, json_object *item)
{
    static const char *const when[] = {"date_completed_gmt", "date_modified_gmt", NULL};
    char id[ID_BUFSZ], number[ID_BUFSZ], at[40];
    const char *sid = ac_canon_id_of(item, "tracking_id", id, sizeof(id));
    const char *tn = ac_canon_id_of(item, "tracking_number", number, sizeof(number));
    if (!sid)
        sid = tn;
    if (!sid)
        return;
    json_object *shipped = NULL;
    json_object_object_get_ex(item, "date_shipped", &shipped);
    const char *occurred = ac_canon_time(shipped, at, sizeof(at));
    if (!occurred)
        occurred = first_time(w->body, when, at, sizeof(at));
    json_object *ev = woo_event(w, "shipment.shipped", sid, occurred);
    json_object *s = ev ? ac_canon_section(ev, "shipment") : NULL;
    const char *carrier = ac_canon_str(item, "tracking_provider");
    ac_canon_set_str(s, "id", sid);
    ac_canon_set_str(s, "carrier",
                     carrier ? carrier : ac_canon_str(item, "custom_tracking_provider"));
    ac_canon_set_str(s, "tracking_number", tn);
    ac_canon_set_str(s, "tracking_url", ac_canon_str(item, "custom_tracking_link"));
    ac_canon_set_str(s, "status", "shipped");
    woo_add(w, ev);
}

/* The tracking items in meta_data: the REST API gives the value as an
 * array of objects, or as an object keyed "0", "1" ... when PHP's array
 * lost its sequence; either is walked. Returns how many were seen. */
static size_t emit_tracking(woo_t *w)
{
    json_object *meta = ac_canon_arr(w->body, "meta_data");
    size_t seen = 0, n = meta ? json_object_array_length(meta) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *entry = json_object_array_get_idx(meta, i), *value = NULL;
        const char *key = ac_canon_str(entry, "key");
        if (!key || strcmp(key, WOO_TRACKING_META) != 0 ||
            !json_object_object_get_ex(entry, "value", &value) || !value)
            continue;
        if (json_object_is_type(value, json_type_array)) {
            size_t m = json_object_array_length(value);
            for (size_t j = 0; j < m; j++, seen++)
                emit_tracking_item(w, json_object_array_get_idx(value, j));
        } else if (json_object_is_type(value, json_type_object)) {
            json_object_object_foreach(value, k, item)
            {
                (void)k;
                emit_tracking_item(w, item);
                seen++;
            }
        }
    }
    return seen;
}

/* A completed order without tracking items was shipped (or handed over)
 * all the same; the parcel has no identity WooCommerce knows, so the
 * shipment has none either. */
static void emit_completed(woo_t *w)
{
    static const char *const when[] = {"date_completed_gmt", "date_modified_gmt", NULL};
    char at[40];
    json_object *ev =
        woo_event(w, "shipment.shipped", "", first_time(w->body, when, at, sizeof(at)));
    ac_canon_set_str(ev ? ac_canon_section(ev, "shipment") : NULL, "status", "shipped");
    woo_add(w, ev);
}

/* Sets key to the money value of v without its sign: refunds[].total is
 * negative ("-10.00"), the customer is told the amount they get back. */
static void set_money_abs(json_object *obj, const char *key, json_object *v)
{
    json_object *pos = NULL;
    if (json_object_is_type(v, json_type_string) && json_object_get_string(v)[0] == '-')
        pos = json_object_new_string(json_object_get_string(v) + 1);
    else if (json_object_is_type(v, json_type_double))
        pos = json_object_new_double(fabs(json_object_get_double(v)));
    else if (json_object_is_type(v, json_type_int) && json_object_get_int64(v) < 0 &&
             json_object_get_int64(v) != INT64_MIN) /* json-c's clamp: no positive twin */
        pos = json_object_new_int64(-json_object_get_int64(v));
    ac_canon_set_money(obj, key, pos ? pos : v);
    json_object_put(pos);
}

/* One return.refunded per refunds[] entry, known by the refund id. The
 * order payload gives refunds no date: date_modified_gmt is the latest
 * change and so no earlier than the refund. */
static void emit_refunds(woo_t *w)
{
    static const char *const when[] = {"date_modified_gmt", "date_created_gmt", NULL};
    json_object *refunds = ac_canon_arr(w->body, "refunds");
    size_t n = refunds ? json_object_array_length(refunds) : 0;
    char at[40];
    const char *occurred = first_time(w->body, when, at, sizeof(at));
    for (size_t i = 0; i < n; i++) {
        json_object *r = json_object_array_get_idx(refunds, i), *total = NULL;
        char id[ID_BUFSZ], disc[ID_BUFSZ + 8];
        if (!ac_canon_id_of(r, "id", id, sizeof(id)))
            continue;
        snprintf(disc, sizeof(disc), "refund:%s", id);
        json_object *ev = woo_event(w, "return.refunded", disc, occurred);
        json_object *ret = ev ? ac_canon_section(ev, "return") : NULL;
        ac_canon_set_str(ret, "id", id);
        if (json_object_object_get_ex(r, "total", &total))
            set_money_abs(ret, "refund_amount", total);
        ac_canon_set_str(ret, "reason", ac_canon_str(r, "reason"));
        woo_add(w, ev);
    }
    if (n == 0 && w->status && strcmp(w->status, "refunded") == 0) {
        /* Marked refunded without a refund record: the whole order. */
        json_object *ev = woo_event(w, "return.refunded", "", occurred), *total = NULL;
        if (ev && json_object_object_get_ex(w->body, "total", &total))
            set_money_abs(ac_canon_section(ev, "return"), "refund_amount", total);
        woo_add(w, ev);
    }
}

static int woo_topic_maps(const char *topic)
{
    return topic && (strcmp(topic, "order.created") == 0 || strcmp(topic, "order.updated") == 0 ||
                     strcmp(topic, "order.restored") == 0);
}

/* Every event the order's current state implies, in the order a customer
 * would see them happen. */
static void woo_emit(woo_t *w)
{
    int live = in_set(w->status, LIVE_STATUSES);
    if (live)
        emit_placed(w);
    if (w->status && strcmp(w->status, "cancelled") == 0)
        emit_cancelled(w);
    if (live && emit_tracking(w) == 0 && strcmp(w->status, "completed") == 0)
        emit_completed(w);
    emit_refunds(w);
}

ac_canon_rc_t ac_woo_map(const ac_canon_in_t *in, ac_canon_batch_t *out, char *err, size_t errsz)
{
    woo_t w;
    size_t before = out->n;
    memset(&w, 0, sizeof(w));
    if (!woo_topic_maps(in->topic))
        return AC_CANON_IGNORED;
    if (!in->body || !json_object_is_type(in->body, json_type_object)) {
        snprintf(err, errsz, "the WooCommerce order payload is not a JSON object");
        return AC_CANON_INVALID;
    }
    if (!ac_canon_id_of(in->body, "id", w.order_id, sizeof(w.order_id))) {
        snprintf(err, errsz,
                 "the WooCommerce order has no id (a string or whole number of at "
                 "most 200 bytes)");
        return AC_CANON_INVALID;
    }
    w.in = in;
    w.body = in->body;
    w.out = out;
    w.status = ac_canon_str(in->body, "status");
    snprintf(w.identity, sizeof(w.identity), "order:%s", w.order_id);
    w.order = build_order(in->body);
    w.customer = build_customer(in->body, w.order_id);
    if (!w.customer) {
        json_object_put(w.order);
        snprintf(err, errsz, "the WooCommerce order id is too long for a guest customer id");
        return AC_CANON_INVALID;
    }
    woo_emit(&w);
    json_object_put(w.order);
    json_object_put(w.customer);
    if (w.full) {
        /* All or nothing: half an order's state would be a guess. */
        while (out->n > before)
            json_object_put(out->ev[--out->n]);
        snprintf(err, errsz, "the WooCommerce order implies more than %d events",
                 AC_CANON_MAX_EVENTS);
        return AC_CANON_INVALID;
    }
    return AC_CANON_OK;
}

/* WC_Webhook::deliver_ping() posts the body "webhook_id=<id>" (form
 * encoded, no JSON) when a webhook is created or re-activated. */
int ac_woo_is_ping(const char *body, size_t len)
{
    static const char prefix[] = "webhook_id=";
    const size_t n = sizeof(prefix) - 1;
    if (!body || len <= n || len > n + 20 || memcmp(body, prefix, n) != 0)
        return 0;
    for (size_t i = n; i < len; i++)
        if (body[i] < '0' || body[i] > '9')
            return 0;
    return 1;
}
