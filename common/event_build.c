/* Checking a record's fields and building its event (event_int.h): the
 * one place that says what a record means, whichever reader found the
 * fields. */
#include "event_int.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timeutil.h"

void ac_event_set_err(ac_event_error_t *err, ac_event_err_t code, const char *fmt, const char *arg)
{
    if (!err)
        return;
    err->code = code;
    snprintf(err->detail, sizeof(err->detail), fmt, arg);
}

/* An optional string field: NULL when absent, null, or not a string. */
static const char *opt_str(const ac_jv_t *v)
{
    return v->kind == AC_JV_STRING ? v->s : NULL;
}

/* An identifier: a non-empty string, or a whole number (platforms such as
 * Shopify use numeric ids), as text. Integers beyond 64 bits read clamped
 * (as json-c reads them), so two different huge ids would read the same:
 * such ids are refused. */
static const char *opt_id(const ac_jv_t *v)
{
    if (v->kind == AC_JV_STRING)
        return v->n > 0 ? v->s : NULL;
    if (v->kind == AC_JV_INT)
        return v->i == INT64_MAX || v->i == INT64_MIN ? NULL : v->s;
    return NULL;
}

int ac_event_plain_decimal(const char *s)
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

static int opt_num(const ac_jv_t *v, double *out)
{
    double d;
    if (v->kind == AC_JV_DOUBLE) {
        d = v->d;
    } else if (v->kind == AC_JV_INT) {
        d = (double)v->i;
    } else if (v->kind == AC_JV_STRING && ac_event_plain_decimal(v->s)) {
        /* Money often arrives as a decimal string ("129.00"). */
        d = strtod(v->s, NULL);
    } else {
        return 0;
    }
    if (!isfinite(d) || d > 1e15 || d < -1e15)
        return 0;
    *out = d;
    return 1;
}

static int build_items(ac_event_t *ev, const ac_event_fields_t *f)
{
    if (f->order.n_items == 0)
        return 0;
    ev->order.items = calloc(f->order.n_items, sizeof(ac_event_item_t));
    if (!ev->order.items)
        return -1;
    for (size_t i = 0; i < f->order.n_items; i++) {
        const ac_event_item_fields_t *it = &f->order.item[i];
        ac_event_item_t *dst = &ev->order.items[ev->order.n_items++];
        dst->sku = opt_id(&it->sku);
        dst->name = opt_str(&it->name);
        dst->category = opt_str(&it->category);
        dst->quantity = it->quantity.kind == AC_JV_INT ? it->quantity.i : 1;
        if (dst->quantity < 1)
            dst->quantity = 1;
        dst->has_price = opt_num(&it->price, &dst->price);
    }
    return 0;
}

/* The envelope: event_id, type and occurred_at, all required. */
static int build_envelope(ac_event_t *ev, const ac_event_fields_t *f, ac_event_error_t *err)
{
    static const char *required[] = {"event_id", "type", "occurred_at"};
    const ac_jv_t *v[] = {&f->event_id, &f->type, &f->occurred_at};
    for (size_t i = 0; i < 3; i++) {
        if (v[i]->kind == AC_JV_ABSENT || v[i]->kind == AC_JV_NULL) {
            ac_event_set_err(err, AC_EVENT_ERR_MISSING_FIELD, "missing required field %s",
                             required[i]);
            return -1;
        }
        if (v[i]->kind != AC_JV_STRING || v[i]->n == 0) {
            ac_event_set_err(err, AC_EVENT_ERR_INVALID_FIELD, "field %s must be a non-empty string",
                             required[i]);
            return -1;
        }
    }
    ev->event_id = f->event_id.s;
    if (strlen(ev->event_id) > AC_EVENT_MAX_ID_LEN) {
        ac_event_set_err(err, AC_EVENT_ERR_INVALID_FIELD, "%s",
                         "field event_id is longer than 200 bytes");
        return -1;
    }
    ev->type_name = f->type.s;
    ev->type = ac_event_type_parse(ev->type_name);
    ev->occurred_at = f->occurred_at.s;
    if (ac_time_parse(ev->occurred_at, &ev->occurred_ms) < 0) {
        ac_event_set_err(err, AC_EVENT_ERR_INVALID_FIELD, "%s",
                         "field occurred_at is not an RFC 3339 timestamp");
        return -1;
    }
    return 0;
}

/* The ids every message is keyed by: order.id and customer.id (required)
 * and store.id, each at most AC_EVENT_MAX_ID_LEN bytes. */
static int build_ids(ac_event_t *ev, const ac_event_fields_t *f, ac_event_error_t *err)
{
    /* A member that is null reads as absent, as json-c gives no value. */
    if (f->order.id.kind == AC_JV_ABSENT || f->order.id.kind == AC_JV_NULL) {
        ac_event_set_err(err, AC_EVENT_ERR_MISSING_FIELD, "%s", "missing required field order.id");
        return -1;
    }
    if (!(ev->order.id = opt_id(&f->order.id))) {
        ac_event_set_err(err, AC_EVENT_ERR_INVALID_FIELD, "%s",
                         "field order.id must be a non-empty string");
        return -1;
    }
    if (f->customer.id.kind == AC_JV_ABSENT || f->customer.id.kind == AC_JV_NULL) {
        ac_event_set_err(err, AC_EVENT_ERR_MISSING_FIELD, "%s",
                         "missing required field customer.id");
        return -1;
    }
    if (!(ev->customer.id = opt_id(&f->customer.id))) {
        ac_event_set_err(err, AC_EVENT_ERR_INVALID_FIELD, "%s",
                         "field customer.id must be a non-empty string");
        return -1;
    }
    if (strlen(ev->order.id) > AC_EVENT_MAX_ID_LEN ||
        strlen(ev->customer.id) > AC_EVENT_MAX_ID_LEN) {
        ac_event_set_err(err, AC_EVENT_ERR_INVALID_FIELD, "%s",
                         "fields order.id and customer.id must be at most 200 bytes");
        return -1;
    }
    ev->store.id = opt_id(&f->store.id);
    if (ev->store.id && strlen(ev->store.id) > AC_EVENT_MAX_ID_LEN) {
        ac_event_set_err(err, AC_EVENT_ERR_INVALID_FIELD, "%s",
                         "field store.id is longer than 200 bytes");
        return -1;
    }
    return 0;
}

/* The order's and the customer's optional fields. */
static int build_order_customer(ac_event_t *ev, const ac_event_fields_t *f, ac_event_error_t *err)
{
    ev->order.number = opt_id(&f->order.number);
    if (ev->order.number && strlen(ev->order.number) > AC_EVENT_MAX_ID_LEN) {
        ac_event_set_err(err, AC_EVENT_ERR_INVALID_FIELD, "%s",
                         "field order.number is longer than 200 bytes");
        return -1;
    }
    ev->order.currency = opt_str(&f->order.currency);
    ev->order.promised_delivery_date = opt_str(&f->order.promised_delivery_date);
    ev->order.has_total = opt_num(&f->order.total, &ev->order.total);
    if (build_items(ev, f) < 0) {
        ac_event_set_err(err, AC_EVENT_ERR_INVALID_JSON, "%s", "out of memory");
        return -1;
    }
    ev->customer.email = opt_str(&f->customer.email);
    ev->customer.phone = opt_str(&f->customer.phone);
    ev->customer.first_name = opt_str(&f->customer.first_name);
    ev->customer.locale = opt_str(&f->customer.locale);
    ev->customer.timezone = opt_str(&f->customer.timezone);
    ev->customer.has_marketing_consent = f->customer.marketing_consent.kind == AC_JV_BOOL;
    ev->customer.marketing_consent =
        ev->customer.has_marketing_consent && f->customer.marketing_consent.b;
    return 0;
}

/* The store's, shipment's and return's optional fields, and the
 * feedback, whose rating a feedback.received event requires. */
static int build_rest(ac_event_t *ev, const ac_event_fields_t *f, ac_event_error_t *err)
{
    ev->store.name = opt_str(&f->store.name);
    ev->store.locale = opt_str(&f->store.locale);
    ev->store.timezone = opt_str(&f->store.timezone);
    ev->shipment.id = opt_id(&f->shipment.id);
    ev->shipment.carrier = opt_str(&f->shipment.carrier);
    ev->shipment.tracking_number = opt_id(&f->shipment.tracking_number);
    ev->shipment.tracking_url = opt_str(&f->shipment.tracking_url);
    ev->shipment.status = opt_str(&f->shipment.status);
    ev->shipment.estimated_delivery = opt_str(&f->shipment.estimated_delivery);
    ev->ret.id = opt_id(&f->ret.id);
    ev->ret.reason = opt_str(&f->ret.reason);
    ev->ret.label_url = opt_str(&f->ret.label_url);
    ev->ret.instructions_url = opt_str(&f->ret.instructions_url);
    ev->ret.has_refund_amount = opt_num(&f->ret.refund_amount, &ev->ret.refund_amount);
    if (f->feedback.rating.kind == AC_JV_INT) {
        int64_t r = f->feedback.rating.i;
        ev->feedback.rating = (r >= 1 && r <= 5) ? r : 0;
    }
    ev->feedback.comment = opt_str(&f->feedback.comment);
    if (ev->type == AC_EVENT_FEEDBACK_RECEIVED && ev->feedback.rating == 0) {
        ac_event_set_err(err, AC_EVENT_ERR_INVALID_FIELD, "%s",
                         "feedback.received needs feedback.rating, a whole number from 1 to 5");
        return -1;
    }
    return 0;
}

int ac_event_build(ac_event_t *ev, const ac_event_fields_t *f, ac_event_error_t *err)
{
    if (build_envelope(ev, f, err) < 0 || build_ids(ev, f, err) < 0 ||
        build_order_customer(ev, f, err) < 0 || build_rest(ev, f, err) < 0)
        return -1;
    if (err) {
        err->code = AC_EVENT_OK;
        err->detail[0] = '\0';
    }
    return 0;
}
