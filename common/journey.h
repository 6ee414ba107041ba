/* What aftercare knows about one order's journey: when it was placed,
 * shipped, delivered, returned, cancelled, and what the customer said.
 *
 * Events of one order arrive on three topics, consumed by different
 * workers, in no guaranteed order across topics. Each event records the
 * facts it establishes in a Redis hash per order, keeping for every fact the
 * earliest time it happened (occurred_at, never processing time), so that
 * the hash ends up the same whatever order the events were processed in.
 * The rules then ask "had this happened by then?": a review request due on
 * the 14th is pointless if a return was requested on the 12th, whether the
 * return event was processed before or after the delivery that scheduled it.
 *
 * This header is the pure part: facts, blockers and the journey's key and
 * parse, with no Redis client, so that the rules (rules.h) and anything
 * else reasoning about journeys need no hiredis. journey_redis.h records
 * and reads journeys in Redis. The journeys are the caller's; the strings
 * returned are static. */
#ifndef AC_JOURNEY_H
#define AC_JOURNEY_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "message.h"

typedef enum ac_fact {
    AC_FACT_PLACED = 0,
    AC_FACT_CANCELLED,
    AC_FACT_SHIPPED,
    AC_FACT_DELIVERED,
    AC_FACT_RETURNED, /* a return was requested (or received) */
    AC_FACT_REFUNDED,
    AC_FACT_FEEDBACK, /* the customer rated the order */
    AC_FACT_UNHAPPY,  /* ... with 3 stars or fewer */
    AC_FACT_CONSENT,  /* an event said marketing_consent: true */
    AC_FACT__COUNT
} ac_fact_t;

/* A rating at or below this is not "satisfied". */
#define AC_JOURNEY_UNHAPPY_RATING 3

/* Parcels of one order whose delivery is remembered one by one. */
#define AC_JOURNEY_MAX_PARCELS 16

typedef struct ac_journey {
    int64_t at[AC_FACT__COUNT]; /* earliest occurred_at in ms; 0 = not (yet) known */
    char promised[11];          /* promised delivery date YYYY-MM-DD, "" when unknown */
    /* When each parcel was delivered, by a hash of its shipment id (0 for a
     * delivery that named no shipment): news about one parcel is still
     * news after another one arrived. */
    struct {
        uint64_t shipment;
        int64_t at;
    } parcels[AC_JOURNEY_MAX_PARCELS];
    size_t n_parcels;
} ac_journey_t;

/* "cancelled", "returned", ...: the field name in Redis and the reason
 * label of a suppressed message. */
const char *ac_fact_name(ac_fact_t f);

/* Fills out[] with the facts ev establishes; returns how many. */
size_t ac_journey_facts(const ac_event_t *ev, ac_fact_t out[AC_FACT__COUNT]);

/* Records ev's facts into j as Redis would (earliest time wins), for
 * tests and for reasoning without Redis. */
void ac_journey_merge(ac_journey_t *j, const ac_event_t *ev);

/* The facts that make a message of kind pointless once they happened at or
 * before it goes out: no delay notice for a delivered parcel, no review
 * request after a return. Returns a bit set of (1u << fact). */
unsigned ac_journey_blockers(ac_kind_t kind);

/* The same blockers as "cancelled,returned,feedback", for Lua scripts. */
const char *ac_journey_blockers_csv(ac_kind_t kind);

/* The blockers of kind that stop it whatever parcel it is about: those
 * of ac_journey_blockers_csv() without "delivered" for the kinds about one
 * parcel (a shipping update), for checks that do not know the parcel. */
const char *ac_journey_order_blockers_csv(ac_kind_t kind);

/* Facts a message of kind needs by the time it goes out, whenever they
 * happened: a referral invitation needs marketing consent, which may arrive
 * with an event processed after the delivery. As "consent", or "". */
const char *ac_journey_requires_csv(ac_kind_t kind);

/* True when a blocker of kind happened at or before at_ms; *why (may be
 * NULL) names the earliest such fact. */
int ac_journey_blocked(const ac_journey_t *j, ac_kind_t kind, int64_t at_ms, ac_fact_t *why);

/* The same for a message about one parcel (shipment_id; NULL: the order):
 * "delivered" then means that parcel was delivered (or a delivery that
 * named no parcel), not another parcel of the order. */
int ac_journey_blocked_parcel(const ac_journey_t *j, ac_kind_t kind, int64_t at_ms,
                              const char *shipment_id, ac_fact_t *why);

/* Writes the Redis key of (store, order)'s journey into buf. */
void ac_journey_key(const char *store_id, const char *order_id, char *buf, size_t bufsz);

/* Parses a journey from HGETALL's field/value pairs (for tests and the
 * scheduler). Unknown fields are ignored. */
void ac_journey_parse(const char *const *fields, const char *const *values, size_t n,
                      ac_journey_t *out);

#endif
