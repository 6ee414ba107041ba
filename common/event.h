/* The event contract (docs/events.md): one JSON object per Kafka record.
 *
 * ac_event_parse() validates a record and returns a parsed event that owns
 * a copy of the record and of the strings it keeps: it reads the record
 * with yajl's callbacks and builds no JSON tree (ac_event_root() builds
 * one when a caller needs it), and it reads with json-c the records yajl
 * cannot decide the same way (event_int.h). Optional fields that
 * are absent, or of the wrong JSON type, read as NULL / 0 / has_* = 0;
 * unknown fields are ignored. */
#ifndef AC_EVENT_H
#define AC_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define AC_EVENT_MAX_BYTES_DEFAULT (1024 * 1024)

/* Ids become Redis keys and Kafka keys: longer ones are refused. */
#define AC_EVENT_MAX_ID_LEN 200

typedef enum ac_event_type {
    AC_EVENT_UNKNOWN = 0,
    AC_EVENT_ORDER_PLACED,
    AC_EVENT_ORDER_CANCELLED,
    AC_EVENT_SHIPMENT_SHIPPED,
    AC_EVENT_SHIPMENT_IN_TRANSIT,
    AC_EVENT_SHIPMENT_OUT_FOR_DELIVERY,
    AC_EVENT_SHIPMENT_DELAYED,
    AC_EVENT_SHIPMENT_EXCEPTION,
    AC_EVENT_SHIPMENT_DELIVERED,
    AC_EVENT_RETURN_REQUESTED,
    AC_EVENT_RETURN_RECEIVED,
    AC_EVENT_RETURN_REFUNDED,
    AC_EVENT_FEEDBACK_RECEIVED,
    AC_EVENT__COUNT
} ac_event_type_t;

/* Why a record was refused; the name is the dead-letter reason header. */
typedef enum ac_event_err {
    AC_EVENT_OK = 0,
    AC_EVENT_ERR_TOO_LARGE,
    AC_EVENT_ERR_NOT_UTF8,
    AC_EVENT_ERR_INVALID_JSON,
    AC_EVENT_ERR_NOT_OBJECT,
    AC_EVENT_ERR_MISSING_FIELD,
    AC_EVENT_ERR_INVALID_FIELD,
} ac_event_err_t;

typedef struct ac_event_error {
    ac_event_err_t code;
    char detail[256]; /* human sentence: "missing required field order.id" */
} ac_event_error_t;

typedef struct ac_event_item {
    const char *sku;
    const char *name;
    const char *category;
    int64_t quantity;
    double price;
    int has_price;
} ac_event_item_t;

typedef struct ac_event {
    const char *event_id;
    ac_event_type_t type;
    const char *type_name; /* as received, also for unknown types */
    const char *occurred_at;
    int64_t occurred_ms;

    struct {
        const char *id, *name, *locale, *timezone;
    } store;
    struct {
        const char *id, *number, *currency, *promised_delivery_date;
        double total;
        int has_total;
        ac_event_item_t *items;
        size_t n_items;
    } order;
    struct {
        const char *id, *email, *phone, *first_name, *locale, *timezone;
        int marketing_consent;
        int has_marketing_consent; /* the field was given, true or false */
    } customer;
    struct {
        const char *id, *carrier, *tracking_number, *tracking_url, *status, *estimated_delivery;
    } shipment;
    struct {
        const char *id, *reason, *label_url, *instructions_url;
        double refund_amount;
        int has_refund_amount;
    } ret;
    struct {
        int64_t rating; /* 1 (unhappy) to 5 (delighted); 0 when not given */
        const char *comment;
    } feedback;

    /* The record as parsed by json-c: set by ac_event_from_json(), and
     * built on first use by ac_event_root() for an event of
     * ac_event_parse(), which reads without a tree. */
    json_object *root;
    const char *raw; /* ac_event_parse(): its copy of the record, which it owns */
    size_t raw_len;
} ac_event_t;

/* The event's JSON tree (borrowed: the event owns it), built from its
 * record on first use when the event was read without one; NULL when out
 * of memory. */
json_object *ac_event_root(const ac_event_t *ev);

/* Parses and validates one record of len bytes (not NUL-terminated).
 * Records over max_bytes (0: AC_EVENT_MAX_BYTES_DEFAULT) are refused
 * before parsing. Returns the event (free with ac_event_destroy()) or NULL
 * with err filled. An unknown type is not an error: type is
 * AC_EVENT_UNKNOWN and type_name says what it was. */
ac_event_t *ac_event_parse(const char *buf, size_t len, size_t max_bytes, ac_event_error_t *err);

/* The checks every record passes before its content is looked at: size,
 * UTF-8, and exactly one JSON object. Returns the parsed object (release with
 * json_object_put()) or NULL with err filled. */
json_object *ac_event_parse_json(const char *buf, size_t len, size_t max_bytes,
                                 ac_event_error_t *err);

/* Builds an event from an already parsed JSON object, taking a reference
 * to it. Same validation and result as ac_event_parse(). */
ac_event_t *ac_event_from_json(json_object *root, ac_event_error_t *err);

void ac_event_destroy(ac_event_t *ev);

/* The event as compact JSON holding exactly the fields ac_event_t carries,
 * at their docs/events.md paths: what the record said besides (fields the
 * contract does not know, whitespace) is left out, absent fields are
 * omitted, and ids and numbers are written so that they read back equal
 * (an id as a string, or as a JSON number when it is a whole number that
 * reads back as the same text). Parsing the result gives the same
 * ac_event_t, field for field.
 * Kept where a whole record would be stored for later (the schedule).
 * Returns malloc'd, NUL-terminated bytes and their length in *len, or NULL
 * when out of memory. Defined in event_encode.c. */
char *ac_event_encode(const ac_event_t *ev, size_t *len);

/* True when s is a plain decimal as the parser reads money given as a
 * string: an optional minus, digits, an optional fraction. strtod() alone
 * would also take "nan", "inf", hex, exponents and leading blanks. Shared
 * with the platform mappers (canon.c). Defined in event_build.c. */
int ac_event_plain_decimal(const char *s);

/* The part of ev an order's later events may lack (octx.h): the store, the
 * customer and the order's number, in the same form as ac_event_encode()
 * but with every id a JSON string, as the record gave it or not. Returns
 * what ac_event_encode() does. Defined in event_encode.c. */
char *ac_event_encode_context(const ac_event_t *ev, size_t *len);

/* "order.placed" for AC_EVENT_ORDER_PLACED; "unknown" otherwise. */
const char *ac_event_type_name(ac_event_type_t t);
ac_event_type_t ac_event_type_parse(const char *name);

/* "too_large", "not_utf8", "invalid_json", ...: the dead-letter reason. */
const char *ac_event_err_name(ac_event_err_t code);

/* The topic an event type belongs on: "orders", "shipments" or "returns"
 * (feedback.received travels with the orders). */
const char *ac_event_type_topic(ac_event_type_t t);

#endif
