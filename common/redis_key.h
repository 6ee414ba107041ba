/* How aftercare names what a store owns in Redis.
 *
 * Kept apart from redis.h so that pure code naming a key (an order's
 * journey, a customer's preferences) needs no hiredis. Pure: the caller
 * owns the buffer.
 *
 * Keys are laid out for Redis Cluster (docs/redis.md): no key built here
 * holds a brace, so "{K}" is a hash tag naming exactly K's slot, and
 * ac_redis_key_beside() can put another key on the same slot as K for a
 * script that must touch both. */
#ifndef AC_REDIS_KEY_H
#define AC_REDIS_KEY_H

#include <stddef.h>

/* Writes "ac:<prefix>:<length of store>:<store>:<id>" into buf: the key
 * of something a store owns (an event, an order's journey, a customer's
 * preferences). The store id's length goes first so that no split of
 * "a:b" into store and id gives another pair's key. NULL store reads as "".
 * When the store or the id holds a brace, both are written with '%', '{'
 * and '}' percent-escaped and the length (of the escaped store) is marked
 * "x<length>", so that such keys stay distinct from every other and hold
 * no brace. */
void ac_redis_key(char *buf, size_t bufsz, const char *prefix, const char *store_id,
                  const char *id);

/* Writes "{<key>}<suffix>": a key on the same Redis Cluster slot as key,
 * which must hold no brace (every key ac_redis_key() writes). Returns 0,
 * or -1 when it does not fit in bufsz or key holds a brace. */
int ac_redis_key_beside(char *buf, size_t bufsz, const char *key, const char *suffix);

#endif
