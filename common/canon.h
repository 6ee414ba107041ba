/* Canonical events (docs/events.md) built from the store platforms'
 * webhooks: the pure part of the ingest gateway, shared by the platform
 * mappers (shopify.c, woocommerce.c, bigcommerce.c).
 *
 * A mapper reads a platform payload (json-c, never through a double for an
 * id: 64-bit ids are copied as text) and appends zero or more canonical
 * events to an ac_canon_batch_t. Each event is a json-c object shaped like
 * docs/events.md, with ids as strings, and an event_id derived from the
 * platform's own identity of what happened (ac_canon_event_id()), so a
 * re-delivery, a retry or two subscriptions to one topic give the same id.
 *
 * An event the payload could not complete (Shopify's fulfillment events,
 * returns and refunds name only the order) has no "customer" object; the
 * gateway completes it from what it knows of the order (ac_canon_complete())
 * or keeps it until the order arrives. */
#ifndef AC_CANON_H
#define AC_CANON_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* The store a webhook belongs to, as the settings file names it: the
 * canonical "store" object. Strings may be NULL. */
typedef struct ac_canon_store {
    const char *id, *name, *locale, *timezone;
} ac_canon_store_t;

/* What a mapper is given: the platform's topic ("orders/create",
 * "order.updated", "store/order/created"), the platform's identity of the
 * delivery (X-Shopify-Event-Id; NULL when the platform has none), when the
 * platform says it happened (RFC 3339 or NULL) and the parsed body. */
typedef struct ac_canon_in {
    const char *platform; /* "shopify", "woocommerce", "bigcommerce" */
    const char *topic;
    const char *platform_event_id;
    const char *triggered_at;
    const ac_canon_store_t *store;
    json_object *body;
} ac_canon_in_t;

#define AC_CANON_MAX_EVENTS 32

/* The events one webhook becomes, in the order they are to be produced.
 * Owns its events (json_object_put on destroy). */
typedef struct ac_canon_batch {
    json_object *ev[AC_CANON_MAX_EVENTS];
    size_t n;
    /* Extra facts about the order to remember for completing later thin
     * events, as {"order_id": "<id>", "shipments": {"<id>": {carrier,
     * tracking_number, tracking_url}}}; NULL when none. Owned. */
    json_object *remember;
} ac_canon_batch_t;

/* Mapper outcomes. */
typedef enum ac_canon_rc {
    AC_CANON_OK = 0,  /* ev[] holds the events (possibly none: nothing to say) */
    AC_CANON_IGNORED, /* a topic aftercare does not use: answer 200, count it */
    AC_CANON_INVALID, /* the payload lacks what the topic needs: 400 with err */
} ac_canon_rc_t;

void ac_canon_batch_init(ac_canon_batch_t *b);
void ac_canon_batch_clear(ac_canon_batch_t *b);

/* Appends ev (taking the reference). Returns 0, or -1 when full (ev is
 * released). */
int ac_canon_batch_add(ac_canon_batch_t *b, json_object *ev);

/* Writes an id held as a JSON string or whole number into buf exactly
 * (int64 and uint64 as decimal text, never through a double). Returns buf,
 * or NULL when v is absent, empty, of another type, or too long. */
const char *ac_canon_id(json_object *v, char *buf, size_t bufsz);

/* Same for obj's member key. */
const char *ac_canon_id_of(json_object *obj, const char *key, char *buf, size_t bufsz);

/* The string member key of obj, NULL when absent, not a string or "". */
const char *ac_canon_str(json_object *obj, const char *key);

/* obj's member key when it is an object (or array), else NULL. */
json_object *ac_canon_obj(json_object *obj, const char *key);
json_object *ac_canon_arr(json_object *obj, const char *key);

/* Writes the deterministic canonical event id for what happened into out
 * ("evt_" and 32 hex digits of a SHA-256 over the parts): platform, store
 * id, the platform's identity (order id, fulfillment id, refund id ...),
 * the canonical type, and a discriminator ("" when none). out holds at
 * least 40 bytes. */
void ac_canon_event_id(const char *platform, const char *store_id, const char *identity,
                       const char *type, const char *discriminator, char *out, size_t outsz);

/* Starts a canonical event: event_id (from ac_canon_event_id()), type,
 * occurred_at (RFC 3339; the current time when NULL or unreadable), the
 * store object and {"order": {"id": order_id}}. Returns the new object
 * (owned by the caller) or NULL when out of memory. */
json_object *ac_canon_event_new(const char *event_id, const char *type, const char *occurred_at,
                                const ac_canon_store_t *store, const char *order_id);

/* The event's member object key, created empty when absent. */
json_object *ac_canon_section(json_object *ev, const char *key);

/* Sets key to a copy of s in obj when s is non-NULL and non-empty. */
void ac_canon_set_str(json_object *obj, const char *key, const char *s);

/* Sets key to the money value of v (a JSON number or decimal string) as a
 * decimal string, when v is one. */
void ac_canon_set_money(json_object *obj, const char *key, json_object *v);

/* Converts a timestamp the platforms use into RFC 3339 UTC in out: RFC
 * 3339 text is returned as it is; "2024-11-04 09:01:28" (WooCommerce's
 * *_gmt fields, UTC) and Unix seconds (BigCommerce) are converted. NULL
 * when unreadable. */
const char *ac_canon_time(json_object *v, char *out, size_t outsz);

/* True when ev lacks what docs/events.md requires of it (customer.id) and
 * must be completed from the order's context first. */
int ac_canon_needs_context(json_object *ev);

/* The context to remember of an order from a complete event: its store,
 * order (number, total, currency, items, promised delivery date) and
 * customer. Returns a new object or NULL when ev is not complete. */
json_object *ac_canon_context(json_object *ev);

/* Completes ev from ctx (what ac_canon_context() produced, plus any
 * "shipments" remembered): every field of order, customer and store that
 * ev lacks is copied from ctx; for shipment events the carrier and
 * tracking of shipment.id. Fields ev has are kept. Returns 0, or -1 when
 * ctx cannot complete it (no customer). */
int ac_canon_complete(json_object *ev, json_object *ctx);

/* The topic a canonical type goes to: "orders", "shipments", "returns". */
const char *ac_canon_topic(const char *type);

#endif
