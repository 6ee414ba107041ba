/* Durable scheduling of customer messages in Redis: a review request due
 * seven days after delivery waits here, not in any worker's memory.
 *
 * A sorted set (score: due time in ms) orders the pending message ids, so
 * finding what is due reads only the due items, however many are pending;
 * two hashes hold each item's notification record and a short description
 * (due time, kind, blockers, journey key) for the checks below. Adding,
 * cancelling and acknowledging an item are O(log n).
 *
 * Each item is checked against its order's journey (journey.h) when it is
 * added and again when it fires: a return that arrives late still stops a
 * review request. Firing leases items by moving their score lease_ms into
 * the future, so of several firing processes one takes each item, and an
 * item whose firer died is taken again once the lease lapses (the message
 * id then makes the second copy a duplicate that notify-worker drops).
 *
 * A third sorted set scores the same ids by their release time: due time
 * plus the longest a watermark may hold the item back, so that items held
 * past it are found without scanning the held ones.
 *
 * The scripts touch the journey key named in an item, which Redis Cluster
 * does not allow: scheduling needs a single Redis (with replicas and
 * persistence as wanted). */
#ifndef AC_SCHEDULE_H
#define AC_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "message.h"
#include "redis.h"

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
    const char *journey_key; /* ADD, DEFER: the order's journey (journey.h) */
    const char *record;      /* ADD, DEFER: the notification record to produce when it fires */
    size_t record_len;
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
} ac_schedule_due_t;

/* WATERMARK_MAX_HOLD, a setting of every worker that puts messages into
 * the schedule (event workers, and notify-worker for the messages it puts
 * back): how long an item of a gated kind may wait for the watermarks
 * (watermark.h). An option table entry; help is the line --help shows. */
#define AC_SCHEDULE_HOLD_OPTION(help)                                                              \
    {                                                                                              \
        "WATERMARK_MAX_HOLD", AC_OPT_DURATION, "24h", 0, 0, 365LL * 86400000, NULL, (help)         \
    }

/* Registers the scripts; call once per handle. */
void ac_schedule_register(ac_redis_t *r);

/* Applies n operations in one round trip, filling each op's result. */
int ac_schedule_apply(ac_redis_t *r, ac_schedule_op_t *ops, size_t n, char *err, size_t errsz);

/* Takes up to max items due at now_ms, leasing them for lease_ms. Items
 * whose journey blocks them are removed and returned with blocked_by set.
 * Fills out[] and *n; free with ac_schedule_due_clear(). */
int ac_schedule_take(ac_redis_t *r, int64_t now_ms, int64_t lease_ms, size_t max,
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
int ac_schedule_take_until(ac_redis_t *r, int64_t now_ms, int64_t bound_ms, int64_t lease_ms,
                           size_t max, ac_schedule_due_t *out, size_t *n, long long *held,
                           char *err, size_t errsz);

/* Removes n fired items, once their records are safely in Kafka. */
int ac_schedule_ack(ac_redis_t *r, const char *const *ids, size_t n, char *err, size_t errsz);

/* How many items are pending (due or not). */
int ac_schedule_pending(ac_redis_t *r, long long *count, char *err, size_t errsz);

/* Frees the records of n taken items. */
void ac_schedule_due_clear(ac_schedule_due_t *items, size_t n);

#endif
