/* How aftercare names what a store owns in Redis.
 *
 * Kept apart from redis.h so that pure code naming a key (an order's
 * journey, a customer's preferences) needs no hiredis. Pure: the caller
 * owns the buffer. */
#ifndef AC_REDIS_KEY_H
#define AC_REDIS_KEY_H

#include <stddef.h>

/* Writes "ac:<prefix>:<length of store>:<store>:<id>" into buf: the key
 * of something a store owns (an event, an order's journey, a customer's
 * preferences). The store id's length goes first so that no split of
 * "a:b" into store and id gives another pair's key. NULL store reads as "". */
void ac_redis_key(char *buf, size_t bufsz, const char *prefix, const char *store_id,
                  const char *id);

#endif
