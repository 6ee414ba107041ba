#include "event.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_int.h"

static const char *type_names[AC_EVENT__COUNT] = {
    [AC_EVENT_UNKNOWN] = "unknown",
    [AC_EVENT_ORDER_PLACED] = "order.placed",
    [AC_EVENT_ORDER_CANCELLED] = "order.cancelled",
    [AC_EVENT_SHIPMENT_SHIPPED] = "shipment.shipped",
    [AC_EVENT_SHIPMENT_IN_TRANSIT] = "shipment.in_transit",
    [AC_EVENT_SHIPMENT_OUT_FOR_DELIVERY] = "shipment.out_for_delivery",
    [AC_EVENT_SHIPMENT_DELAYED] = "shipment.delayed",
    [AC_EVENT_SHIPMENT_EXCEPTION] = "shipment.exception",
    [AC_EVENT_SHIPMENT_DELIVERED] = "shipment.delivered",
    [AC_EVENT_RETURN_REQUESTED] = "return.requested",
    [AC_EVENT_RETURN_RECEIVED] = "return.received",
    [AC_EVENT_RETURN_REFUNDED] = "return.refunded",
    [AC_EVENT_FEEDBACK_RECEIVED] = "feedback.received",
};

const char *ac_event_type_name(ac_event_type_t t)
{
    return (t > 0 && t < AC_EVENT__COUNT) ? type_names[t] : "unknown";
}

ac_event_type_t ac_event_type_parse(const char *name)
{
    for (int t = 1; name && t < AC_EVENT__COUNT; t++)
        if (strcmp(name, type_names[t]) == 0)
            return (ac_event_type_t)t;
    return AC_EVENT_UNKNOWN;
}

const char *ac_event_type_topic(ac_event_type_t t)
{
    if (t == AC_EVENT_ORDER_PLACED || t == AC_EVENT_ORDER_CANCELLED ||
        t == AC_EVENT_FEEDBACK_RECEIVED)
        return "orders";
    if (t >= AC_EVENT_SHIPMENT_SHIPPED && t <= AC_EVENT_SHIPMENT_DELIVERED)
        return "shipments";
    if (t >= AC_EVENT_RETURN_REQUESTED && t <= AC_EVENT_RETURN_REFUNDED)
        return "returns";
    return NULL;
}

const char *ac_event_err_name(ac_event_err_t code)
{
    switch (code) {
    case AC_EVENT_OK:
        return "ok";
    case AC_EVENT_ERR_TOO_LARGE:
        return "too_large";
    case AC_EVENT_ERR_NOT_UTF8:
        return "not_utf8";
    case AC_EVENT_ERR_INVALID_JSON:
        return "invalid_json";
    case AC_EVENT_ERR_NOT_OBJECT:
        return "not_object";
    case AC_EVENT_ERR_MISSING_FIELD:
        return "missing_field";
    case AC_EVENT_ERR_INVALID_FIELD:
        return "invalid_field";
    }
    return "invalid";
}

/* Strict UTF-8 check (RFC 3629): no overlong forms, no surrogates, nothing
 * above U+10FFFF. json-c validates UTF-8 inside strings only; this also
 * covers bytes outside them, and lets us name the failure precisely. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned int cp;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return 0;
        i += len;
    }
    return 1;
}

static json_object *get(json_object *obj, const char *key)
{
    json_object *v = NULL;
    if (obj && json_object_is_type(obj, json_type_object) &&
        json_object_object_get_ex(obj, key, &v))
        return v;
    return NULL;
}

/* One member of obj as the fields hold it. A member that is null is kept
 * as null: json-c gives no value for it, which reads as absent. */
static ac_jv_t jv_of(json_object *obj, const char *key)
{
    ac_jv_t v = {0};
    json_object *o = NULL;
    if (!obj || !json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, key, &o))
        return v;
    switch (json_object_get_type(o)) {
    case json_type_null:
        v.kind = AC_JV_NULL;
        break;
    case json_type_boolean:
        v.kind = AC_JV_BOOL;
        v.b = json_object_get_boolean(o);
        break;
    case json_type_int:
        v.kind = AC_JV_INT;
        v.i = json_object_get_int64(o);
        v.s = json_object_get_string(o);
        v.n = strlen(v.s);
        break;
    case json_type_double:
        v.kind = AC_JV_DOUBLE;
        v.d = json_object_get_double(o);
        break;
    case json_type_string:
        v.kind = AC_JV_STRING;
        v.s = json_object_get_string(o);
        v.n = (size_t)json_object_get_string_len(o);
        break;
    case json_type_object:
        v.kind = AC_JV_OBJECT;
        break;
    case json_type_array:
        v.kind = AC_JV_ARRAY;
        break;
    }
    return v;
}

/* The object elements of order.items. Returns 0, or -1 when out of memory. */
static int items_of(ac_event_fields_t *f, json_object *order)
{
    json_object *items = get(order, "items");
    if (!items || !json_object_is_type(items, json_type_array))
        return 0;
    size_t n = json_object_array_length(items);
    if (n == 0)
        return 0;
    if (!(f->order.item = calloc(n, sizeof(*f->order.item))))
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_object *it = json_object_array_get_idx(items, i);
        if (!it || !json_object_is_type(it, json_type_object))
            continue;
        ac_event_item_fields_t *d = &f->order.item[f->order.n_items++];
        d->sku = jv_of(it, "sku");
        d->name = jv_of(it, "name");
        d->category = jv_of(it, "category");
        d->quantity = jv_of(it, "quantity");
        d->price = jv_of(it, "price");
    }
    return 0;
}

/* Reads the members of the contract out of a json-c tree. Returns 0, or
 * -1 when out of memory. */
static int fields_of(ac_event_fields_t *f, json_object *root)
{
    json_object *store = get(root, "store"), *order = get(root, "order");
    json_object *customer = get(root, "customer"), *shipment = get(root, "shipment");
    json_object *ret = get(root, "return"), *fb = get(root, "feedback");
    f->event_id = jv_of(root, "event_id");
    f->type = jv_of(root, "type");
    f->occurred_at = jv_of(root, "occurred_at");
    f->store.id = jv_of(store, "id");
    f->store.name = jv_of(store, "name");
    f->store.locale = jv_of(store, "locale");
    f->store.timezone = jv_of(store, "timezone");
    f->order.id = jv_of(order, "id");
    f->order.number = jv_of(order, "number");
    f->order.currency = jv_of(order, "currency");
    f->order.promised_delivery_date = jv_of(order, "promised_delivery_date");
    f->order.total = jv_of(order, "total");
    f->customer.id = jv_of(customer, "id");
    f->customer.email = jv_of(customer, "email");
    f->customer.phone = jv_of(customer, "phone");
    f->customer.first_name = jv_of(customer, "first_name");
    f->customer.locale = jv_of(customer, "locale");
    f->customer.timezone = jv_of(customer, "timezone");
    f->customer.marketing_consent = jv_of(customer, "marketing_consent");
    f->shipment.id = jv_of(shipment, "id");
    f->shipment.carrier = jv_of(shipment, "carrier");
    f->shipment.tracking_number = jv_of(shipment, "tracking_number");
    f->shipment.tracking_url = jv_of(shipment, "tracking_url");
    f->shipment.status = jv_of(shipment, "status");
    f->shipment.estimated_delivery = jv_of(shipment, "estimated_delivery");
    f->ret.id = jv_of(ret, "id");
    f->ret.reason = jv_of(ret, "reason");
    f->ret.label_url = jv_of(ret, "label_url");
    f->ret.instructions_url = jv_of(ret, "instructions_url");
    f->ret.refund_amount = jv_of(ret, "refund_amount");
    f->feedback.rating = jv_of(fb, "rating");
    f->feedback.comment = jv_of(fb, "comment");
    return items_of(f, order);
}

/* True when a string anywhere in the document holds a NUL (JSON's
 * \u0000). Every field is used as a C string, so "o\u00001" and "o" would
 * read the same: two orders sharing a journey and message ids. */
static int has_nul(json_object *o, int depth)
{
    if (!o || depth > 64)
        return 0;
    switch (json_object_get_type(o)) {
    case json_type_string:
        return strlen(json_object_get_string(o)) != (size_t)json_object_get_string_len(o);
    case json_type_object: {
        json_object_object_foreach(o, key, v)
        {
            (void)key;
            if (has_nul(v, depth + 1))
                return 1;
        }
        return 0;
    }
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(o); i++)
            if (has_nul(json_object_array_get_idx(o, i), depth + 1))
                return 1;
        return 0;
    default:
        return 0;
    }
}

ac_event_t *ac_event_from_json(json_object *root, ac_event_error_t *err)
{
    ac_event_t *ev = NULL;
    ac_event_fields_t f;
    memset(&f, 0, sizeof(f));
    if (!root || !json_object_is_type(root, json_type_object)) {
        ac_event_set_err(err, AC_EVENT_ERR_NOT_OBJECT, "%s", "the record is not a JSON object");
        return NULL;
    }
    ev = calloc(1, sizeof(*ev));
    if (!ev) {
        ac_event_set_err(err, AC_EVENT_ERR_INVALID_JSON, "%s", "out of memory");
        return NULL;
    }
    ev->root = json_object_get(root);
    if (has_nul(root, 0)) {
        ac_event_set_err(err, AC_EVENT_ERR_INVALID_FIELD, "%s",
                         "a string holds a NUL character (\\u0000)");
        goto fail;
    }
    if (fields_of(&f, root) < 0) {
        ac_event_set_err(err, AC_EVENT_ERR_INVALID_JSON, "%s", "out of memory");
        goto fail;
    }
    if (ac_event_build(ev, &f, err) < 0)
        goto fail;
    free(f.order.item);
    return ev;
fail:
    free(f.order.item);
    ac_event_destroy(ev);
    return NULL;
}

int ac_event_precheck(const char *buf, size_t len, size_t max_bytes, ac_event_error_t *err)
{
    char detail[96];
    if (!max_bytes)
        max_bytes = AC_EVENT_MAX_BYTES_DEFAULT;
    if (len > max_bytes) {
        snprintf(detail, sizeof(detail), "record of %zu bytes exceeds the limit of %zu", len,
                 max_bytes);
        ac_event_set_err(err, AC_EVENT_ERR_TOO_LARGE, "%s", detail);
        return -1;
    }
    if (!buf || len == 0) {
        ac_event_set_err(err, AC_EVENT_ERR_INVALID_JSON, "%s", "the record is empty");
        return -1;
    }
    if (!utf8_valid((const unsigned char *)buf, len)) {
        ac_event_set_err(err, AC_EVENT_ERR_NOT_UTF8, "%s", "the record is not valid UTF-8");
        return -1;
    }
    return 0;
}

json_object *ac_event_parse_json(const char *buf, size_t len, size_t max_bytes,
                                 ac_event_error_t *err)
{
    char detail[96];
    if (ac_event_precheck(buf, len, max_bytes, err) < 0)
        return NULL;
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok) {
        ac_event_set_err(err, AC_EVENT_ERR_INVALID_JSON, "%s", "out of memory");
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *root = json_tokener_parse_ex(tok, buf, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t consumed = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue && !root) {
        /* A bare number or literal at the very end of the input is only
         * complete once a delimiter follows. */
        root = json_tokener_parse_ex(tok, " ", 1);
        jerr = json_tokener_get_error(tok);
        consumed = len;
    }
    json_tokener_free(tok);
    if (jerr == json_tokener_success) {
        /* Trailing whitespace after the value is harmless; anything else is not. */
        size_t i = consumed;
        while (i < len && (buf[i] == ' ' || buf[i] == '\n' || buf[i] == '\r' || buf[i] == '\t'))
            i++;
        if (i != len) {
            snprintf(detail, sizeof(detail), "not valid JSON: trailing data after the value");
        } else if (!root || !json_object_is_type(root, json_type_object)) {
            json_object_put(root);
            ac_event_set_err(err, AC_EVENT_ERR_NOT_OBJECT, "%s", "the record is not a JSON object");
            return NULL;
        } else {
            return root;
        }
    } else if (jerr == json_tokener_continue) {
        snprintf(detail, sizeof(detail), "not valid JSON: unexpected end of data");
    } else {
        snprintf(detail, sizeof(detail), "not valid JSON: %s", json_tokener_error_desc(jerr));
    }
    json_object_put(root);
    ac_event_set_err(err, AC_EVENT_ERR_INVALID_JSON, "%s", detail);
    return NULL;
}

/* The hot path reads with yajl and builds no tree; json-c reads what
 * yajl leaves undecided, so that the result and the error text are always
 * json-c's (event_int.h). */
ac_event_t *ac_event_parse(const char *buf, size_t len, size_t max_bytes, ac_event_error_t *err)
{
    int decided = 0;
    if (ac_event_precheck(buf, len, max_bytes, err) < 0)
        return NULL;
    ac_event_t *ev = ac_event_read(buf, len, err, &decided);
    if (ev || decided)
        return ev;
    json_object *root = ac_event_parse_json(buf, len, max_bytes, err);
    if (!root)
        return NULL;
    ev = ac_event_from_json(root, err);
    json_object_put(root);
    return ev;
}

json_object *ac_event_root(const ac_event_t *ev)
{
    ac_event_t *e = (ac_event_t *)ev; /* the tree is a cache: the event does not change */
    if (!e->root && e->raw)
        e->root = ac_event_parse_json(e->raw, e->raw_len, e->raw_len, NULL);
    return e->root;
}

void ac_event_destroy(ac_event_t *ev)
{
    if (!ev)
        return;
    free(ev->order.items);
    json_object_put(ev->root);
    free(ev);
}
