/* The Redis client's insides, shared by its three files and by nothing
 * else:
 *
 *   - redis.c: the handle, its connection to a single server, and learning
 *     whether the server is a Redis Cluster (REDIS_CLUSTER);
 *   - redis_batch.c: pipelined batches and single commands, in either mode;
 *   - redis_cluster.c: a Redis Cluster's slot map, one connection per
 *     master, and a batch's rounds of sending and redirections.
 *
 * Ownership: the handle owns its connections, slot map and node table; a
 * batch owns its buffer of formatted commands and the replies it read. */
#ifndef AC_REDIS_INT_H
#define AC_REDIS_INT_H

#include <stddef.h>

#include "buf.h"
#include "redis.h"
#include "redis_url.h"
#include "slotmap.h"

#define AC_REDIS_MAX_SCRIPTS 16

/* A node of a Redis Cluster the handle has heard of, with its connection
 * (opened when a command is first sent to it). */
typedef struct ac_rnode {
    char *host;
    int port;
    redisContext *ctx; /* NULL until needed and after a failure */
    int down;          /* could not be reached in this round: not retried in it */
    int reload;        /* answered NOSCRIPT: load the scripts again */
} ac_rnode_t;

struct ac_redis {
    ac_redis_url_t url;
    int timeout_ms;
    ac_redis_cluster_t mode;
    int known;   /* whether the server's kind is known (always with OFF) */
    int cluster; /* it is a Redis Cluster */
    ac_redis_script_t *scripts[AC_REDIS_MAX_SCRIPTS];
    size_t n_scripts;
    /* A single server: the connection, and the seed it is to. */
    redisContext *ctx;
    size_t seed;
    /* A Redis Cluster: the slot map (which may be stale: MOVED corrected
     * it, and it is read again on the next connect), the node of nodes[]
     * each of the map's nodes is, and every node heard of. */
    ac_slotmap_t *map;
    int map_stale;
    int *node_of;
    size_t n_node_of;
    ac_rnode_t *nodes;
    size_t n_nodes, cap_nodes;
};

/* A command of a batch in cluster mode, kept until it has a final reply:
 * its formatted bytes in the batch's buffer, the slot they go to, and
 * where this round sent them. */
typedef struct ac_rcmd {
    size_t off, len;
    int slot;          /* -1: no key, any node serves it */
    int node;          /* nodes[] this round sent it to, -1: not sent */
    int ask;           /* nodes[] an ASK redirection named, -1: none */
    int asking;        /* ASKING was sent before it this round */
    redisReply *reply; /* the final reply; NULL while pending */
} ac_rcmd_t;

/* Where the replies of some of a batch's commands go (redis.h,
 * ac_redis_batch_handler()). */
typedef struct ac_rhandler {
    ac_redis_reply_fn fn;
    void *ctx;
    int errors_ok; /* error replies go to fn instead of failing the batch */
} ac_rhandler_t;

#define AC_REDIS_BATCH_MAX_HANDLERS 8

struct ac_redis_batch {
    ac_redis_t *r;
    ac_rhandler_t handlers[AC_REDIS_BATCH_MAX_HANDLERS]; /* [0]: the batch's own */
    unsigned char n_handlers, handler;                   /* handler: the current one */
    unsigned char *hidx;                                 /* the handler of each appended command */
    size_t *items; /* the item of each appended command, in order */
    size_t n, cap;
    int failed;  /* a command could not be queued: the batch cannot be read */
    int cluster; /* commands go to buf and cmds, not to a connection */
    ac_buf_t buf;
    ac_rcmd_t *cmds;
};

/* Connects to host:port with the handle's timeout and password. Returns
 * the connection, or NULL with err ("redis host:port: why"). */
redisContext *ac_redis_open(const ac_redis_t *r, const char *host, int port, char *err,
                            size_t errsz);

/* Loads every registered script on c (SCRIPT LOAD), filling their sha. */
int ac_redis_load_scripts(ac_redis_t *r, redisContext *c, const char *host, int port, char *err,
                          size_t errsz);

/* Cluster mode (redis_cluster.c). Starts from the CLUSTER SLOTS reply of
 * the seed at host that told the handle it talks to a cluster. */
int ac_rcluster_start(ac_redis_t *r, const redisReply *slots, const char *host, char *err,
                      size_t errsz);

/* Makes sure there is a slot map, reading it again when it is stale. */
int ac_rcluster_connect(ac_redis_t *r, char *err, size_t errsz);

/* Closes every node's connection; the map is read again on connect. */
void ac_rcluster_disconnect(ac_redis_t *r);

/* Frees the map and the node table. */
void ac_rcluster_free(ac_redis_t *r);

/* Sends a cluster batch's commands and follows redirections until every
 * command has a final reply (b->cmds[i].reply, an error reply included),
 * within a few rounds and the handle's timeout. Returns 0, or -1 with
 * err when commands are still unanswered. */
int ac_rcluster_exec(ac_redis_batch_t *b, char *err, size_t errsz);

#endif
