/* Order contexts: what an order's later events may lack to reach the
 * customer. A rating made with a one-click link (ingest-gateway's
 * GET /r/{token}) names the store, order and customer by id only, yet the
 * complaint follow-up it may lead to must be addressed and personal. So
 * the order-worker keeps, per order, the customer and the order's number
 * from its order.placed event, for as long as the order's journey
 * (JOURNEY_TTL), and completes such events from it before deciding.
 *
 * The merge is pure (ac_octx_merge); ac_octx_sync does the I/O, one round
 * trip per batch, writes before reads, so that an order placed and rated
 * within one batch is found. */
#ifndef AC_OCTX_H
#define AC_OCTX_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "event.h"
#include "redis.h"

/* True when ev would be completed from its order's context: a
 * feedback.received whose customer has neither an email address nor a
 * phone number. */
int ac_octx_wanted(const ac_event_t *ev);

/* The context to keep for an order.placed event: a JSON object with the
 * store, the order's number and the customer (ids as strings). Returns a malloc'd
 * string or NULL (out of memory). */
char *ac_octx_of(const ac_event_t *ev);

/* ev's record completed from ctx (JSON text of ac_octx_of()): the
 * customer's fields it lacks, the order's number and the store's name,
 * locale and time zone; what ev has wins. Returns a malloc'd JSON string,
 * or NULL when ctx is unreadable or memory ran out. */
char *ac_octx_merge(const ac_event_t *ev, const char *ctx, size_t ctx_len);

/* Keeps the contexts of the order.placed events among evs for ttl_ms and
 * fills merged[i] (malloc'd, or NULL) for each event ac_octx_wanted()
 * whose order has a context. One round trip. Returns 0, or -1 with err
 * (merged[] is then all NULL). */
int ac_octx_sync(ac_redis_t *r, const ac_event_t *const *evs, size_t n, int64_t ttl_ms,
                 char **merged, char *err, size_t errsz);

/* Where the replies of ac_octx_append() go; the caller's, kept until the
 * batch is run. */
typedef struct ac_octx_out {
    const ac_event_t *const *evs;
    char **merged;
} ac_octx_out_t;

/* ac_octx_sync() as a part of the caller's batch b, sharing its round
 * trip: merged[] (all NULL from here) is filled when b runs. Returns 0,
 * or -1 when out of memory (the caller aborts b). */
int ac_octx_append(ac_redis_batch_t *b, ac_octx_out_t *o, const ac_event_t *const *evs, size_t n,
                   int64_t ttl_ms, char **merged);

#endif
