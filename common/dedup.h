/* Deduplication in Redis: the half of the delivery protocol that turns
 * Kafka's at-least-once into exactly-once for the customer (docs/delivery.md).
 *
 * Events: an event worker checks "done" marks for a whole batch, acts on the
 * new events, and marks them done only after its output is durable in
 * Kafka. A crash between the two re-processes the event, which produces the
 * same message ids again; the message claim below absorbs that.
 *
 * Messages: notify-worker claims a message id with a lease before sending,
 * and records it sent only after the provider accepted it. A message
 * recorded sent is never sent again; a lease held by another process makes
 * the message wait (it may be in flight there). Keys are hash-tagged so that
 * both keys of one message live in one Redis Cluster slot. */
#ifndef AC_DEDUP_H
#define AC_DEDUP_H

#include <stddef.h>
#include <stdint.h>

#include "redis.h"

/* Outcome of a claim. */
typedef enum ac_claim {
    AC_CLAIM_OK = 0,   /* ours to send */
    AC_CLAIM_SENT = 1, /* already delivered: drop it */
    AC_CLAIM_BUSY = 2, /* another process holds the lease: try again later */
} ac_claim_t;

/* Registers the Lua scripts the functions below run; call once per
 * handle before the first use. */
void ac_dedup_register(ac_redis_t *r);

/* For each of n event keys, sets seen[i] to 1 when it was marked done.
 * One round trip. Returns 0 or -1 with err (the batch is then retried). */
int ac_dedup_events_seen(ac_redis_t *r, const char *const *keys, size_t n, int *seen, char *err,
                         size_t errsz);

/* Marks n event keys done for ttl_ms. One round trip. */
int ac_dedup_events_mark(ac_redis_t *r, const char *const *keys, size_t n, int64_t ttl_ms,
                         char *err, size_t errsz);

/* ac_dedup_events_seen() and ac_dedup_events_mark() as parts of the
 * caller's batch b, so that they share a round trip with other commands:
 * seen[] (the caller's, kept until b is run) is filled when b runs; the
 * marks need no reply. An event worker marks one batch's events in the
 * same call that checks the next batch's (pipeline.c): the marks go
 * first, so an event marked there is seen there. Return 0, or -1 with the
 * batch failed. */
int ac_dedup_append_seen(ac_redis_batch_t *b, const char *const *keys, size_t n, int *seen);
int ac_dedup_append_marks(ac_redis_batch_t *b, const char *const *keys, size_t n, int64_t ttl_ms);

/* Writes the event key for (store, event id) into buf. */
void ac_dedup_event_key(const char *store_id, const char *event_id, char *buf, size_t bufsz);

/* Claims n message ids, ids[i] for owner tokens[i], with a lease of
 * lease_ms, filling out[i]. A lease the same token already holds is renewed,
 * so a token must name one attempt to deliver one record (not a process):
 * the same message consumed twice by one process gets two tokens and the
 * second waits. One round trip. */
int ac_dedup_claim(ac_redis_t *r, const char *const *ids, const char *const *tokens, size_t n,
                   int64_t lease_ms, ac_claim_t *out, char *err, size_t errsz);

/* Records n message ids as sent (kept for ttl_ms) and releases the leases
 * tokens[i] hold on them. One round trip. */
int ac_dedup_sent(ac_redis_t *r, const char *const *ids, const char *const *tokens, size_t n,
                  int64_t ttl_ms, char *err, size_t errsz);

/* Releases the leases tokens[i] hold on ids[i] without recording them sent,
 * so another process need not wait for the lease to expire. */
int ac_dedup_release(ac_redis_t *r, const char *const *ids, const char *const *tokens, size_t n,
                     char *err, size_t errsz);

/* Forgets that id was sent: used when a dead-lettered message is replayed
 * on purpose. */
int ac_dedup_forget(ac_redis_t *r, const char *id, char *err, size_t errsz);

#endif
