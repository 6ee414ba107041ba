/* Durable scheduling of customer messages in Redis: a review request due
 * seven days after delivery waits here, not in any worker's memory.
 *
 * The layout is made for Redis Cluster (docs/redis.md). What a scheduled
 * message is (its notification record and a short description: due and
 * release times, kind, blockers, requirements) lives in a hash beside its
 * order's journey, on the journey's slot, so that one script checks the
 * journey and writes the item atomically. Most items keep, instead of a
 * record, the trimmed event they were decided from, stored once for the
 * items of the order decided from it (a delivery's review request and
 * referral invitation), and their record is rebuilt when they fire. Which messages are due when is
 * kept in a fixed number of buckets (SCHEDULE_BUCKETS, default 64), each a
 * pair of hash-tagged sorted sets on a slot of its own: one scores the
 * bucket's messages by due time, the other by release time (due time plus
 * the longest a watermark may hold the item back, watermark.h). An order's
 * messages always go to the same bucket (a hash of its journey key), and
 * every firer takes from every bucket, so any number of firers share the
 * firing and a bucket's node carries 1/buckets of it.
 *
 * Adding is one script on the order's slot, then the bucket's entries;
 * firing leases due entries in the buckets, checks each against its
 * order's journey again (a return that arrives late still stops a review
 * request), and acknowledging removes both. A lease moves an entry's score
 * lease_ms into the future, so of several firers one takes each item, and
 * an item whose firer died is taken again once the lease lapses (the
 * message id then makes the second copy a duplicate notify-worker drops).
 *
 * Each step is idempotent, so a batch that fails half-way (a connection
 * lost, a cluster failover) is simply retried: an entry whose item is gone
 * is dropped when it is taken, and an item whose entry was not yet written
 * is indexed again when the add is retried. A shared event goes with the
 * last item of its order that refers to it, found by looking at the
 * order's items rather than by a count a retry could upset. */
#ifndef AC_SCHEDULE_H
#define AC_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "message.h"
#include "redis.h"

/* The longest journey key an item carries (redis_key.h). */
#define AC_SCHEDULE_KEY_LEN 600

/* The handle: the Redis connection (borrowed) and the bucket count. */
typedef struct ac_schedule ac_schedule_t;

/* Outcome of adding an item. */
typedef enum ac_schedule_result {
    AC_SCHEDULE_ADDED = 0,
    AC_SCHEDULE_ALREADY = 1, /* this message was scheduled before (a replay) */
    AC_SCHEDULE_BLOCKED = 2, /* a blocker happened before it would be due */
    AC_SCHEDULE_CANCELLED = 3,
    AC_SCHEDULE_NONE = 4, /* cancel: nothing pending to cancel */
} ac_schedule_result_t;

typedef enum ac_schedule_op_type {
    AC_SCHEDULE_ADD,
    AC_SCHEDULE_CANCEL,
    /* Puts a message that was due back for later (quiet hours): no marker
     * check, since it was scheduled (or sent for) already, but checked
     * against its journey again when it fires. */
    AC_SCHEDULE_DEFER,
} ac_schedule_op_type_t;

/* One change to the schedule. Strings are the caller's. */
typedef struct ac_schedule_op {
    ac_schedule_op_type_t type;
    const char *id; /* message id */
    ac_kind_t kind;
    int64_t due_ms;          /* ADD: when it fires; CANCEL: cancel only items due at or after */
    const char *journey_key; /* the order's journey (journey.h) */
    const char *record;      /* ADD, DEFER: the notification record to produce when it fires */
    size_t record_len;
    /* ADD, instead of record: the event the message was decided from,
     * trimmed (ac_event_encode()), and its time. The order's items decided
     * from the same event share one copy of it, and the record is rebuilt
     * when the item fires: ac_message_encode_json(id, kind, occurred_ms,
     * due_ms, event, event_len). */
    const char *event;
    size_t event_len;
    int64_t occurred_ms;
    int64_t journey_ttl_ms;      /* ADD: the journey's expiry, should the add create it */
    const char *blockers;        /* DEFER: the facts checked when it fires, comma-separated;
                                  * NULL: ac_journey_blockers_csv(kind) */
    int64_t release_ms;          /* ADD, DEFER: when it fires even while a watermark holds it back
                                  * (ac_watermark_release()); at or below due_ms: at due_ms */
    ac_schedule_result_t result; /* filled */
    const char *blocked_by;      /* filled for AC_SCHEDULE_BLOCKED: the fact's name */
} ac_schedule_op_t;

/* An item taken by ac_schedule_take(). */
typedef struct ac_schedule_due {
    char id[AC_MESSAGE_ID_LEN];
    ac_kind_t kind;
    int64_t due_ms;
    const char *blocked_by; /* why it was dropped at fire time (a fact name, or
                             * "no_consent"), else NULL */
    char *record;           /* owned (a blocked item's too, when known) */
    size_t record_len;
    int hold_expired; /* fired on its release time while the watermark held it */
    char journey_key[AC_SCHEDULE_KEY_LEN]; /* its order's, for ac_schedule_ack() */
} ac_schedule_due_t;

/* WATERMARK_MAX_HOLD, a setting of every worker that puts messages into
 * the schedule (event workers, and notify-worker for the messages it puts
 * back): how long an item of a gated kind may wait for the watermarks
 * (watermark.h). An option table entry; help is the line --help shows. */
#define AC_SCHEDULE_HOLD_OPTION(help)                                                              \
    {                                                                                              \
        "WATERMARK_MAX_HOLD", AC_OPT_DURATION, "24h", 0, 0, 365LL * 86400000, NULL, (help)         \
    }

/* SCHEDULE_BUCKETS, a setting of every worker that uses the schedule:
 * how many buckets its due times are spread over. The first worker to use
 * a Redis records its count there, and every worker uses the recorded
 * count (warning when its own differs), so that no bucket is forgotten. */
#define AC_SCHEDULE_BUCKETS_OPTION                                                                 \
    {                                                                                              \
        "SCHEDULE_BUCKETS", AC_OPT_INT, "64", 0, 1, 16384, NULL,                                   \
            "buckets the schedule's due times are spread over (fixed once a Redis holds "          \
            "messages: the first worker's count is kept)"                                          \
    }

/* The count's key: set once, read by every worker. */
#define AC_SCHEDULE_BUCKETS_KEY "ac:sched:buckets"

/* Creates the schedule over r (borrowed: it must outlive the schedule) and
 * registers its scripts on r. buckets is the SCHEDULE_BUCKETS setting.
 * Returns NULL with err when out of memory. */
ac_schedule_t *ac_schedule_new(ac_redis_t *r, int buckets, char *err, size_t errsz);
void ac_schedule_destroy(ac_schedule_t *s);

/* The bucket (0..buckets-1) of an order's items, from its journey key. */
int ac_schedule_bucket(const char *journey_key, int buckets);

/* The bucket count in use: the one Redis holds, once known, else the
 * setting. */
int ac_schedule_buckets(const ac_schedule_t *s);

/* Applies n operations, filling each op's result: one round trip on the
 * orders' slots, then one on the buckets' (for what was added, deferred or
 * cancelled). */
int ac_schedule_apply(ac_schedule_t *s, ac_schedule_op_t *ops, size_t n, char *err, size_t errsz);

/* ac_schedule_apply() as parts of the caller's batches, so that other
 * writes share its two round trips: ac_schedule_append_orders() queues
 * the orders' scripts in one batch (their replies set ops[].result when it
 * runs); once that batch ran, ac_schedule_append_buckets() queues the
 * buckets' entries in the next. A run is the caller's (destroy accepts
 * NULL); ops and their strings must outlive it. ac_schedule_run_new()
 * reads the bucket count the first time (a round trip) and returns NULL
 * with err when it cannot, or when out of memory;
 * ac_schedule_append_orders() returns -1 when out of memory (the caller
 * aborts the batch). */
typedef struct ac_schedule_run ac_schedule_run_t;
ac_schedule_run_t *ac_schedule_run_new(ac_schedule_t *s, ac_schedule_op_t *ops, size_t n, char *err,
                                       size_t errsz);
int ac_schedule_append_orders(ac_schedule_run_t *run, ac_redis_batch_t *b);
void ac_schedule_append_buckets(ac_schedule_run_t *run, ac_redis_batch_t *b);
void ac_schedule_run_destroy(ac_schedule_run_t *run);

/* Takes up to max items due at now_ms, leasing them for lease_ms: from
 * each bucket its earliest, the buckets sharing max evenly (in turns when
 * max is below the bucket count). Items
 * whose journey blocks them are removed and returned with blocked_by set.
 * Fills out[] and *n; free with ac_schedule_due_clear(). */
int ac_schedule_take(ac_schedule_t *s, int64_t now_ms, int64_t lease_ms, size_t max,
                     ac_schedule_due_t *out, size_t *n, char *err, size_t errsz);

/* A bound for ac_schedule_take_until() when no watermark is known: only
 * items whose release time has come may fire. */
#define AC_SCHEDULE_NO_BOUND INT64_MIN

/* Like ac_schedule_take(), for a firer that waits for event-time
 * watermarks (watermark.h): takes the items due strictly before bound_ms
 * (never above now_ms), and those whose release time has come whatever
 * their due time, flagged hold_expired when the watermark held them.
 * *held (may be NULL) gets how many items due by now_ms the bound holds
 * back. */
int ac_schedule_take_until(ac_schedule_t *s, int64_t now_ms, int64_t bound_ms, int64_t lease_ms,
                           size_t max, ac_schedule_due_t *out, size_t *n, long long *held,
                           char *err, size_t errsz);

/* Removes n fired items, once their records are safely in Kafka. */
int ac_schedule_ack(ac_schedule_t *s, const ac_schedule_due_t *const *items, size_t n, char *err,
                    size_t errsz);

/* How many items are pending (due or not). */
int ac_schedule_pending(ac_schedule_t *s, long long *count, char *err, size_t errsz);

/* Frees the records of n taken items. */
void ac_schedule_due_clear(ac_schedule_due_t *items, size_t n);

#endif
