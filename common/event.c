#include "event.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

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

static void set_err(ac_event_error_t *err, ac_event_err_t code, const char *fmt, const char *arg)
{
    if (!err)
        return;
    err->code = code;
    snprintf(err->detail, sizeof(err->detail), fmt, arg);
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

/* An optional string field: NULL when absent, null, or not a string. */
static const char *opt_str(json_object *obj, const char *key)
{
    json_object *v = get(obj, key);
    return (v && json_object_is_type(v, json_type_string)) ? json_object_get_string(v) : NULL;
}

/* An identifier: a non-empty string, or a whole number (platforms such as
 * Shopify use numeric ids), returned as text owned by the document. */
static const char *opt_id(json_object *obj, const char *key)
{
    json_object *v = get(obj, key);
    if (!v)
        return NULL;
    if (json_object_is_type(v, json_type_string))
        return json_object_get_string_len(v) > 0 ? json_object_get_string(v) : NULL;
    if (json_object_is_type(v, json_type_int)) {
        /* json-c clamps integers beyond 64 bits; two different huge ids
         * would then read the same, so such ids are refused. */
        int64_t i = json_object_get_int64(v);
        if (i == INT64_MAX || i == INT64_MIN)
            return NULL;
        return json_object_get_string(v);
    }
    return NULL;
}

/* A plain decimal: optional minus, digits, optional fraction. strtod()
 * alone would also take "nan", "inf", hex and exponents. */
static int plain_decimal(const char *s)
{
    if (*s == '-')
        s++;
    if (!isdigit((unsigned char)*s))
        return 0;
    while (isdigit((unsigned char)*s))
        s++;
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return 0;
        while (isdigit((unsigned char)*s))
            s++;
    }
    return *s == '\0';
}

static int opt_num(json_object *obj, const char *key, double *out)
{
    json_object *v = get(obj, key);
    double d;
    if (v && (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))) {
        d = json_object_get_double(v);
    } else if (v && json_object_is_type(v, json_type_string) &&
               plain_decimal(json_object_get_string(v))) {
        /* Money often arrives as a decimal string ("129.00"). */
        d = strtod(json_object_get_string(v), NULL);
    } else {
        return 0;
    }
    if (!isfinite(d) || d > 1e15 || d < -1e15)
        return 0;
    *out = d;
    return 1;
}

static int parse_items(ac_event_t *ev, json_object *order)
{
    json_object *items = get(order, "items");
    if (!items || !json_object_is_type(items, json_type_array))
        return 0;
    size_t n = json_object_array_length(items);
    if (n == 0)
        return 0;
    ev->order.items = calloc(n, sizeof(ac_event_item_t));
    if (!ev->order.items)
        return -1;
    for (size_t i = 0; i < n; i++) {
        json_object *it = json_object_array_get_idx(items, i);
        if (!it || !json_object_is_type(it, json_type_object))
            continue;
        ac_event_item_t *dst = &ev->order.items[ev->order.n_items++];
        dst->sku = opt_id(it, "sku");
        dst->name = opt_str(it, "name");
        dst->category = opt_str(it, "category");
        json_object *q = get(it, "quantity");
        dst->quantity = (q && json_object_is_type(q, json_type_int)) ? json_object_get_int64(q) : 1;
        if (dst->quantity < 1)
            dst->quantity = 1;
        dst->has_price = opt_num(it, "price", &dst->price);
    }
    return 0;
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

/* The envelope: event_id, type and occurred_at, all required. */
static int parse_envelope(ac_event_t *ev, json_object *root, ac_event_error_t *err)
{
    static const char *required[] = {"event_id", "type", "occurred_at"};
    for (size_t i = 0; i < 3; i++) {
        json_object *v = get(root, required[i]);
        if (!v || json_object_is_type(v, json_type_null)) {
            set_err(err, AC_EVENT_ERR_MISSING_FIELD, "missing required field %s", required[i]);
            return -1;
        }
        if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0) {
            set_err(err, AC_EVENT_ERR_INVALID_FIELD, "field %s must be a non-empty string",
                    required[i]);
            return -1;
        }
    }
    ev->event_id = opt_str(root, "event_id");
    if (strlen(ev->event_id) > AC_EVENT_MAX_ID_LEN) {
        set_err(err, AC_EVENT_ERR_INVALID_FIELD, "%s", "field event_id is longer than 200 bytes");
        return -1;
    }
    ev->type_name = opt_str(root, "type");
    ev->type = ac_event_type_parse(ev->type_name);
    ev->occurred_at = opt_str(root, "occurred_at");
    if (ac_time_parse(ev->occurred_at, &ev->occurred_ms) < 0) {
        set_err(err, AC_EVENT_ERR_INVALID_FIELD, "%s",
                "field occurred_at is not an RFC 3339 timestamp");
        return -1;
    }
    return 0;
}

/* The ids every message is keyed by: order.id and customer.id (required)
 * and store.id, each at most AC_EVENT_MAX_ID_LEN bytes. */
static int parse_ids(ac_event_t *ev, json_object *order, json_object *customer, json_object *store,
                     ac_event_error_t *err)
{
    if (!order || !json_object_is_type(order, json_type_object) || !get(order, "id")) {
        set_err(err, AC_EVENT_ERR_MISSING_FIELD, "%s", "missing required field order.id");
        return -1;
    }
    if (!(ev->order.id = opt_id(order, "id"))) {
        set_err(err, AC_EVENT_ERR_INVALID_FIELD, "%s", "field order.id must be a non-empty string");
        return -1;
    }
    if (!customer || !json_object_is_type(customer, json_type_object) || !get(customer, "id")) {
        set_err(err, AC_EVENT_ERR_MISSING_FIELD, "%s", "missing required field customer.id");
        return -1;
    }
    if (!(ev->customer.id = opt_id(customer, "id"))) {
        set_err(err, AC_EVENT_ERR_INVALID_FIELD, "%s",
                "field customer.id must be a non-empty string");
        return -1;
    }
    if (strlen(ev->order.id) > AC_EVENT_MAX_ID_LEN ||
        strlen(ev->customer.id) > AC_EVENT_MAX_ID_LEN) {
        set_err(err, AC_EVENT_ERR_INVALID_FIELD, "%s",
                "fields order.id and customer.id must be at most 200 bytes");
        return -1;
    }
    ev->store.id = opt_id(store, "id");
    if (ev->store.id && strlen(ev->store.id) > AC_EVENT_MAX_ID_LEN) {
        set_err(err, AC_EVENT_ERR_INVALID_FIELD, "%s", "field store.id is longer than 200 bytes");
        return -1;
    }
    return 0;
}

/* The order's and the customer's optional fields. */
static int parse_order_customer(ac_event_t *ev, json_object *order, json_object *customer,
                                ac_event_error_t *err)
{
    ev->order.number = opt_id(order, "number");
    if (ev->order.number && strlen(ev->order.number) > AC_EVENT_MAX_ID_LEN) {
        set_err(err, AC_EVENT_ERR_INVALID_FIELD, "%s",
                "field order.number is longer than 200 bytes");
        return -1;
    }
    ev->order.currency = opt_str(order, "currency");
    ev->order.promised_delivery_date = opt_str(order, "promised_delivery_date");
    ev->order.has_total = opt_num(order, "total", &ev->order.total);
    if (parse_items(ev, order) < 0) {
        set_err(err, AC_EVENT_ERR_INVALID_JSON, "%s", "out of memory");
        return -1;
    }
    ev->customer.email = opt_str(customer, "email");
    ev->customer.phone = opt_str(customer, "phone");
    ev->customer.first_name = opt_str(customer, "first_name");
    ev->customer.locale = opt_str(customer, "locale");
    ev->customer.timezone = opt_str(customer, "timezone");
    json_object *mc = get(customer, "marketing_consent");
    ev->customer.has_marketing_consent = mc && json_object_is_type(mc, json_type_boolean);
    ev->customer.marketing_consent =
        ev->customer.has_marketing_consent && json_object_get_boolean(mc);
    return 0;
}

/* The store's, shipment's and return's optional fields, and the
 * feedback, whose rating a feedback.received event requires. */
static int parse_rest(ac_event_t *ev, json_object *root, ac_event_error_t *err)
{
    json_object *store = get(root, "store"), *shipment = get(root, "shipment");
    json_object *ret = get(root, "return"), *fb = get(root, "feedback");
    ev->store.name = opt_str(store, "name");
    ev->store.locale = opt_str(store, "locale");
    ev->store.timezone = opt_str(store, "timezone");
    ev->shipment.id = opt_id(shipment, "id");
    ev->shipment.carrier = opt_str(shipment, "carrier");
    ev->shipment.tracking_number = opt_id(shipment, "tracking_number");
    ev->shipment.tracking_url = opt_str(shipment, "tracking_url");
    ev->shipment.status = opt_str(shipment, "status");
    ev->shipment.estimated_delivery = opt_str(shipment, "estimated_delivery");
    ev->ret.id = opt_id(ret, "id");
    ev->ret.reason = opt_str(ret, "reason");
    ev->ret.label_url = opt_str(ret, "label_url");
    ev->ret.instructions_url = opt_str(ret, "instructions_url");
    ev->ret.has_refund_amount = opt_num(ret, "refund_amount", &ev->ret.refund_amount);
    json_object *rating = get(fb, "rating");
    if (rating && json_object_is_type(rating, json_type_int)) {
        int64_t r = json_object_get_int64(rating);
        ev->feedback.rating = (r >= 1 && r <= 5) ? r : 0;
    }
    ev->feedback.comment = opt_str(fb, "comment");
    if (ev->type == AC_EVENT_FEEDBACK_RECEIVED && ev->feedback.rating == 0) {
        set_err(err, AC_EVENT_ERR_INVALID_FIELD, "%s",
                "feedback.received needs feedback.rating, a whole number from 1 to 5");
        return -1;
    }
    return 0;
}

ac_event_t *ac_event_from_json(json_object *root, ac_event_error_t *err)
{
    ac_event_t *ev = NULL;
    if (!root || !json_object_is_type(root, json_type_object)) {
        set_err(err, AC_EVENT_ERR_NOT_OBJECT, "%s", "the record is not a JSON object");
        return NULL;
    }
    ev = calloc(1, sizeof(*ev));
    if (!ev) {
        set_err(err, AC_EVENT_ERR_INVALID_JSON, "%s", "out of memory");
        return NULL;
    }
    ev->root = json_object_get(root);
    if (has_nul(root, 0)) {
        set_err(err, AC_EVENT_ERR_INVALID_FIELD, "%s", "a string holds a NUL character (\\u0000)");
        goto fail;
    }
    json_object *order = get(root, "order"), *customer = get(root, "customer");
    if (parse_envelope(ev, root, err) < 0 ||
        parse_ids(ev, order, customer, get(root, "store"), err) < 0 ||
        parse_order_customer(ev, order, customer, err) < 0 || parse_rest(ev, root, err) < 0)
        goto fail;
    if (err) {
        err->code = AC_EVENT_OK;
        err->detail[0] = '\0';
    }
    return ev;
fail:
    ac_event_destroy(ev);
    return NULL;
}

json_object *ac_event_parse_json(const char *buf, size_t len, size_t max_bytes,
                                 ac_event_error_t *err)
{
    char detail[96];
    if (!max_bytes)
        max_bytes = AC_EVENT_MAX_BYTES_DEFAULT;
    if (len > max_bytes) {
        snprintf(detail, sizeof(detail), "record of %zu bytes exceeds the limit of %zu", len,
                 max_bytes);
        set_err(err, AC_EVENT_ERR_TOO_LARGE, "%s", detail);
        return NULL;
    }
    if (!buf || len == 0) {
        set_err(err, AC_EVENT_ERR_INVALID_JSON, "%s", "the record is empty");
        return NULL;
    }
    if (!utf8_valid((const unsigned char *)buf, len)) {
        set_err(err, AC_EVENT_ERR_NOT_UTF8, "%s", "the record is not valid UTF-8");
        return NULL;
    }
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok) {
        set_err(err, AC_EVENT_ERR_INVALID_JSON, "%s", "out of memory");
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
            set_err(err, AC_EVENT_ERR_NOT_OBJECT, "%s", "the record is not a JSON object");
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
    set_err(err, AC_EVENT_ERR_INVALID_JSON, "%s", detail);
    return NULL;
}

ac_event_t *ac_event_parse(const char *buf, size_t len, size_t max_bytes, ac_event_error_t *err)
{
    json_object *root = ac_event_parse_json(buf, len, max_bytes, err);
    if (!root)
        return NULL;
    ac_event_t *ev = ac_event_from_json(root, err);
    json_object_put(root);
    return ev;
}

void ac_event_destroy(ac_event_t *ev)
{
    if (!ev)
        return;
    free(ev->order.items);
    json_object_put(ev->root);
    free(ev);
}
