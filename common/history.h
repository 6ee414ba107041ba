/* What each customer bought, for cross-selling: the review request and
 * referral invitation may suggest a product from a category the customer
 * has shown interest in, one they do not have yet.
 *
 * order.placed events record, per customer, a score per category (items
 * bought) and the SKUs bought, and per store a catalog of SKU names by
 * category, all in Redis with an expiry renewed on every order. A replayed
 * order counts again: interest is a heuristic, not a ledger. */
#ifndef AC_HISTORY_H
#define AC_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "redis.h"

/* Records the purchases of the order.placed events among evs (others are
 * skipped), keeping them ttl_ms after the last order. One round trip.
 * Returns 0 or -1 with err. */
int ac_history_record(ac_redis_t *r, const ac_event_t *const *evs, size_t n, int64_t ttl_ms,
                      char *err, size_t errsz);

/* What became of ac_history_append()'s commands: how many failed, and
 * the first one's error. The caller's, kept until the batch is run. */
typedef struct ac_history_errors {
    size_t n;
    char first[256];
} ac_history_errors_t;

/* ac_history_record() as a part of the caller's batch b, sharing its round
 * trip. The history is best effort, so its error replies do not fail b:
 * they are counted in *errs (zeroed here) when b runs. Returns 0, or -1
 * when out of memory (the caller aborts b). */
int ac_history_append(ac_redis_batch_t *b, const ac_event_t *const *evs, size_t n, int64_t ttl_ms,
                      ac_history_errors_t *errs);

/* A product to suggest to ev's customer: from one of their three favourite
 * categories, not one they bought. */
typedef struct ac_history_req {
    const ac_event_t *ev;
    char suggestion[256]; /* filled: the product's name, "" when none */
} ac_history_req_t;

/* Fills reqs[i].suggestion for n messages: three round trips for the
 * whole batch (history.c says why). */
int ac_history_suggest(ac_redis_t *r, ac_history_req_t *reqs, size_t n, char *err, size_t errsz);

#endif
