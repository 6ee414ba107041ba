/* Where the Redis server is: the parsed form of a redis:// URL.
 *
 * Kept apart from redis.h so that what only validates a setting (config.c,
 * the tools' option parsing, the fuzzers) needs no hiredis. Pure: no
 * allocation, no I/O. */
#ifndef AC_REDIS_URL_H
#define AC_REDIS_URL_H

#include <stddef.h>

/* A parsed URL, owned by whoever declares it. */
typedef struct ac_redis_url {
    char host[256];
    int port;
    char password[256];
    int db;
} ac_redis_url_t;

/* Parses redis://[:password@]host[:port][/db] into u (port 6379 and
 * database 0 unless given). Returns 0, or -1 with why. */
int ac_redis_url_parse(const char *url, ac_redis_url_t *u, char *why, size_t whysz);

#endif
