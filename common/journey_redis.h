/* Journeys in Redis: one hash per order (journey.h's facts as fields,
 * each the earliest time it happened), written and read back in one round
 * trip per batch.
 *
 * Kept apart from journey.h so that the pure rules need no hiredis. The
 * handle is the caller's; the journeys filled are the caller's arrays. */
#ifndef AC_JOURNEY_REDIS_H
#define AC_JOURNEY_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "journey.h"
#include "redis.h"

/* Registers the Lua script of ac_journey_apply(). */
void ac_journey_register(ac_redis_t *r);

/* For each of n events, records its facts (and the promised delivery date,
 * if the order's journey has none yet), renews the journey's expiry to
 * ttl_ms and reads the whole journey back into out[i]. The events are
 * applied in array order, so a later event of the same order sees the
 * earlier ones. One round trip. Returns 0 or -1 with err. */
int ac_journey_apply(ac_redis_t *r, const ac_event_t *const *evs, size_t n, int64_t ttl_ms,
                     ac_journey_t *out, char *err, size_t errsz);

/* ac_journey_apply() as a part of the caller's batch b, sharing its round
 * trip: out[] (the caller's, kept until b is run) is filled when b runs.
 * Returns 0 (a batch that could not take the commands fails at exec). */
int ac_journey_append(ac_redis_batch_t *b, const ac_event_t *const *evs, size_t n, int64_t ttl_ms,
                      ac_journey_t *out);

/* Reads the journeys at n keys (ac_journey_key()) into out[], one round
 * trip: what notify-worker checks a late message against before sending
 * it. A journey that is gone reads as empty. Returns 0 or -1 with err. */
int ac_journey_read(ac_redis_t *r, const char *const *keys, size_t n, ac_journey_t *out, char *err,
                    size_t errsz);

#endif
