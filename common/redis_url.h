/* Where the Redis server is: the parsed form of a redis:// URL, and
 * whether it is to be talked to as a Redis Cluster (REDIS_CLUSTER).
 *
 * Kept apart from redis.h so that what only validates a setting (config.c,
 * the tools' option parsing, the fuzzers) needs no hiredis. Pure: no
 * allocation, no I/O. */
#ifndef AC_REDIS_URL_H
#define AC_REDIS_URL_H

#include <stddef.h>

/* The most nodes a URL may name. */
#define AC_REDIS_URL_MAX_SEEDS 16

/* One node named by the URL. */
typedef struct ac_redis_seed {
    char host[256];
    int port;
} ac_redis_seed_t;

/* A parsed URL, owned by whoever declares it. host and port are those of
 * the first seed, for the callers that know of one server only. */
typedef struct ac_redis_url {
    char host[256];
    int port;
    char password[256];
    int db;
    ac_redis_seed_t seeds[AC_REDIS_URL_MAX_SEEDS];
    size_t n_seeds; /* at least 1 after a successful parse */
} ac_redis_url_t;

/* Parses redis://[:password@]host[:port][,host[:port]...][/db] into u
 * (port 6379 and database 0 unless given). Several hosts are the seed
 * nodes of a Redis Cluster, or servers tried in turn. Returns 0, or -1
 * with why, which never shows the password. */
int ac_redis_url_parse(const char *url, ac_redis_url_t *u, char *why, size_t whysz);

/* REDIS_CLUSTER: auto asks the first server that answers (CLUSTER SLOTS)
 * whether it is a Redis Cluster, on requires one, off never asks. */
typedef enum {
    AC_REDIS_CLUSTER_AUTO,
    AC_REDIS_CLUSTER_ON,
    AC_REDIS_CLUSTER_OFF
} ac_redis_cluster_t;

/* Parses "auto", "on" or "off" into *mode. Returns 0, or -1 with why. */
int ac_redis_cluster_parse(const char *value, ac_redis_cluster_t *mode, char *why, size_t whysz);

#endif
