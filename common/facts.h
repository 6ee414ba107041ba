/* What the retention report (docs/analytics.md) is computed from: the
 * facts the workers record in Redis as they go, per store and per calendar
 * month (UTC) of when each happened.
 *
 *   orders placed       field order id   -> "placed_ms|customer"
 *   returns requested   member order id
 *   ratings received    field order id   -> "received_ms|stars|message id|customer"
 *   messages            field message id -> "at_ms|kind|channel|reason|order length|order customer"
 *                       (sent: a channel and no reason; suppressed: a reason, no channel)
 *
 * Every write is idempotent and keyed by what the fact is about (the order,
 * the message), so that the replays at-least-once delivery brings count
 * once: the first rating of an order and the first outcome of a message
 * stand (HSETNX). Counts are therefore exact, not estimates. A month's keys
 * expire retention after the month ends, which bounds Redis's memory; a
 * store's history, and so "first order ever", reaches back that far.
 *
 * Keys of one store share the hash tag of its id, so that each store's
 * facts live in one Redis Cluster slot. The codec functions are pure; the
 * record and read functions do the I/O (one round trip per batch). */
#ifndef AC_FACTS_H
#define AC_FACTS_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "redis.h"

/* The worker settings: whether facts are recorded (off only to measure
 * what recording them costs), and how long they are kept. */
#define AC_FACTS_RETENTION_OPTION                                                                  \
    {"ANALYTICS",                                                                                  \
     AC_OPT_BOOL,                                                                                  \
     "true",                                                                                       \
     0,                                                                                            \
     0,                                                                                            \
     0,                                                                                            \
     NULL,                                                                                         \
     "record the facts behind the retention report (ac-report); false only to measure their "      \
     "cost"},                                                                                      \
    {                                                                                              \
        "ANALYTICS_RETENTION", AC_OPT_DURATION, "400d", 0, 86400000, 3650LL * 86400000, NULL,      \
            "how long the facts behind the retention report are kept after their month "           \
            "(ac-report)"                                                                          \
    }

typedef enum ac_facts_table {
    AC_FACTS_ORDERS = 0,
    AC_FACTS_RETURNS,
    AC_FACTS_RATINGS,
    AC_FACTS_MESSAGES,
    AC_FACTS__COUNT
} ac_facts_table_t;

/* A message's outcome: sent on channel, or not sent for reason. The
 * strings are borrowed. */
typedef struct ac_facts_msg {
    const char *store, *message_id, *kind, *order_id, *customer_id;
    const char *channel; /* sent: "email", "sms", "webhook"; NULL when suppressed */
    const char *reason;  /* suppressed: "holdout", "opted_out", ...; NULL when sent */
    int64_t at_ms;
} ac_facts_msg_t;

/* A decoded order fact (pointers into the decoded value). */
typedef struct ac_facts_order {
    int64_t placed_ms;
    const char *customer;
    size_t customer_len;
} ac_facts_order_t;

typedef struct ac_facts_rating {
    int64_t received_ms;
    int stars;
    const char *message, *customer;
    size_t message_len, customer_len;
} ac_facts_rating_t;

typedef struct ac_facts_msgval {
    int64_t at_ms;
    const char *kind, *channel, *reason, *order, *customer;
    size_t kind_len, channel_len, reason_len, order_len, customer_len;
} ac_facts_msgval_t;

/* Writes the key of a store's table for the UTC month holding at_ms
 * ("ac:an:{<store>}:o:2026-11"). */
void ac_facts_key(char *buf, size_t bufsz, ac_facts_table_t t, const char *store, int64_t at_ms);

/* The store's own facts about itself: its time zone, from its orders. */
void ac_facts_meta_key(char *buf, size_t bufsz, const char *store);

/* Encoders: write the value into buf and return its length, or -1 when it
 * does not fit. */
int ac_facts_encode_order(char *buf, size_t bufsz, const ac_event_t *ev);
int ac_facts_encode_rating(char *buf, size_t bufsz, const ac_event_t *ev);
int ac_facts_encode_msg(char *buf, size_t bufsz, const ac_facts_msg_t *m);

/* Decoders of len bytes: 0, or -1 when the value is malformed. */
int ac_facts_decode_order(const char *v, size_t len, ac_facts_order_t *out);
int ac_facts_decode_rating(const char *v, size_t len, ac_facts_rating_t *out);
int ac_facts_decode_msg(const char *v, size_t len, ac_facts_msgval_t *out);

/* Records the facts among n events (order.placed, return.requested,
 * feedback.received; others are skipped), keeping each month retention_ms
 * after it ends. One round trip. Returns 0 or -1 with err. */
int ac_facts_record_events(ac_redis_t *r, const ac_event_t *const *evs, size_t n,
                           int64_t retention_ms, char *err, size_t errsz);

/* Records n message outcomes. One round trip. Returns 0 or -1 with err. */
int ac_facts_record_msgs(ac_redis_t *r, const ac_facts_msg_t *m, size_t n, int64_t retention_ms,
                         char *err, size_t errsz);

/* The two above as parts of the caller's batch b, sharing its round trip
 * (an event worker writes them with its schedule). Return 0, or -1 with
 * the batch failed. */
int ac_facts_append_events(ac_redis_batch_t *b, const ac_event_t *const *evs, size_t n,
                           int64_t retention_ms);
int ac_facts_append_msgs(ac_redis_batch_t *b, const ac_facts_msg_t *m, size_t n,
                         int64_t retention_ms);

/* Calls fn for every field and value of table t of store in the UTC month
 * holding at_ms (for returns, the value is empty), reading with HSCAN or
 * SSCAN in pages. Returns 0, or -1 with err. */
typedef void (*ac_facts_fn)(void *arg, const char *field, size_t field_len, const char *value,
                            size_t value_len);
int ac_facts_scan(ac_redis_t *r, ac_facts_table_t t, const char *store, int64_t at_ms,
                  ac_facts_fn fn, void *arg, char *err, size_t errsz);

#endif
