/* Inside the event module (event.h): the fields of the contract as they
 * were found in a record, before they are checked.
 *
 * A record is read one of two ways. The event workers' hot path reads it
 * with yajl's callbacks (event_read.c), building no tree; everything else
 * reads it with json-c (event.c), whose tree some callers keep. Both fill
 * the same ac_event_fields_t, and one function (event_build.c) checks it
 * and builds the event, so that the two ways cannot disagree on what a
 * record means. */
#ifndef AC_EVENT_INT_H
#define AC_EVENT_INT_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

/* What a member held. */
typedef enum ac_jv_kind {
    AC_JV_ABSENT = 0,
    AC_JV_NULL,
    AC_JV_BOOL,
    AC_JV_INT,
    AC_JV_DOUBLE,
    AC_JV_STRING,
    AC_JV_OBJECT,
    AC_JV_ARRAY,
} ac_jv_kind_t;

/* One member's value, as json-c would give it: a string (s, n bytes,
 * NUL-terminated), a whole number (i, clamped to 64 bits as json-c
 * clamps, and s its decimal text), a double, a boolean. Strings belong to
 * whoever filled the fields (the json-c tree, or the event's own copy). */
typedef struct ac_jv {
    ac_jv_kind_t kind;
    const char *s;
    size_t n;
    int64_t i;
    double d;
    int b;
} ac_jv_t;

typedef struct ac_event_item_fields {
    ac_jv_t sku, name, category, quantity, price;
} ac_event_item_fields_t;

/* The members of each object of the contract. An object that is absent,
 * or not an object, leaves its members absent. */
typedef struct ac_event_fields {
    ac_jv_t event_id, type, occurred_at;
    ac_jv_t store_v, order_v, customer_v, shipment_v, ret_v, feedback_v;
    struct {
        ac_jv_t id, name, locale, timezone;
    } store;
    struct {
        ac_jv_t id, number, currency, promised_delivery_date, total, items;
        ac_event_item_fields_t *item; /* the object elements of items, malloc'd */
        size_t n_items, cap;
    } order;
    struct {
        ac_jv_t id, email, phone, first_name, locale, timezone, marketing_consent;
    } customer;
    struct {
        ac_jv_t id, carrier, tracking_number, tracking_url, status, estimated_delivery;
    } shipment;
    struct {
        ac_jv_t id, reason, label_url, instructions_url, refund_amount;
    } ret;
    struct {
        ac_jv_t rating, comment;
    } feedback;
} ac_event_fields_t;

/* Checks the fields and fills ev from them (its strings point where the
 * fields' do). Returns 0, or -1 with err filled. */
int ac_event_build(ac_event_t *ev, const ac_event_fields_t *f, ac_event_error_t *err);

/* The checks every record passes before its content is looked at: size,
 * emptiness and UTF-8. Returns 0, or -1 with err filled. */
int ac_event_precheck(const char *buf, size_t len, size_t max_bytes, ac_event_error_t *err);

/* Reads a record with yajl into a new event, which owns a copy of the
 * record and of the strings it keeps. Returns the event; or NULL with
 * *decided 1 and err filled when the record is valid JSON but not a valid
 * event; or NULL with *decided 0 when yajl cannot decide as json-c would
 * (invalid JSON, a string holding NUL, nesting near json-c's limit, an
 * escaped surrogate): the caller then reads it with json-c, whose result
 * and error text stand. */
ac_event_t *ac_event_read(const char *buf, size_t len, ac_event_error_t *err, int *decided);

void ac_event_set_err(ac_event_error_t *err, ac_event_err_t code, const char *fmt, const char *arg);

#endif
