/* Redis connection with reconnection, pipelining and Lua scripts, to a
 * single server or a Redis Cluster.
 *
 * Workers talk to Redis in batches (ac_redis_batch_t below): they append a
 * command per record, each with the item its reply belongs to, and pay one
 * round trip per batch. When the connection breaks the handle reconnects
 * on the next ac_redis_connect(), reloading every registered script, so
 * callers simply retry the batch. The handle owns its connections.
 *
 * With a Redis Cluster (REDIS_CLUSTER, ac_redis_set_cluster()) the API is
 * the same: each command goes to the master serving its key's slot (the
 * first key of EVALSHA; the first argument of other commands; any node for
 * PING, SCRIPT, INFO, CLUSTER and other commands about a server), every
 * master gets one pipeline per batch, and MOVED, ASK, TRYAGAIN,
 * CLUSTERDOWN and lost nodes are followed within the batch. So a command's
 * keys must share a slot (hash tags), and a command about a whole server
 * (INFO, DBSIZE, FLUSHALL, SCAN) reaches one master only. */
#ifndef AC_REDIS_H
#define AC_REDIS_H

#include <stddef.h>

#include <hiredis/hiredis.h>

#include "redis_url.h"

/* A Lua script run with EVALSHA; sha is filled when it is loaded. */
typedef struct ac_redis_script {
    const char *source;
    char sha[41];
} ac_redis_script_t;

typedef struct ac_redis ac_redis_t;

/* Creates a handle for url (redis://[:password@]host:port[,host:port...]
 * [/db]: several hosts are a cluster's seed nodes, or servers tried in
 * turn); connects lazily. timeout_ms bounds connect and each command, and
 * in a cluster the redirections of a batch. Returns NULL with err filled
 * when the URL is invalid. */
ac_redis_t *ac_redis_new(const char *url, int timeout_ms, char *err, size_t errsz);
void ac_redis_destroy(ac_redis_t *r);

/* Whether r talks to a Redis Cluster (ac_redis_cluster_t, redis_url.h):
 * AC_REDIS_CLUSTER_AUTO (the default) asks the first server that answers
 * on the first connect, ON requires a cluster, OFF never asks. Call it
 * before connecting; it drops any connection. */
void ac_redis_set_cluster(ac_redis_t *r, ac_redis_cluster_t mode);

/* Registers a script (which must outlive r) to be loaded on every connect. */
void ac_redis_register_script(ac_redis_t *r, ac_redis_script_t *script);

/* Connects if not connected (AUTH, SELECT, SCRIPT LOAD; in a cluster,
 * reads the slot map, and each master is connected, authenticated and
 * given the scripts when a command first goes to it). 0 or -1 with err.
 * With a cluster, a URL naming a database other than 0 is an error. */
int ac_redis_connect(ac_redis_t *r, char *err, size_t errsz);

/* A pipelined batch, in the spirit of hiredis's async callback list: each
 * command is appended with the item it is about, the whole batch is sent
 * and answered in one round trip by ac_redis_batch_exec(), and each reply
 * is handed to the batch's callback with its item. The caller owns the
 * batch from ac_redis_batch_begin() until ac_redis_batch_exec() or
 * ac_redis_batch_abort(), which both free it. */
typedef struct ac_redis_batch ac_redis_batch_t;

/* The item of a command whose reply is only checked for an error. */
#define AC_REDIS_BATCH_NO_ITEM ((size_t)-1)

/* Handles the reply to the command appended with item; ctx is the batch's.
 * The reply is freed after the call. Returns 0, or -1 with err to fail the
 * batch (the replies not yet handled are then dropped). */
typedef int (*ac_redis_reply_fn)(void *ctx, size_t item, const redisReply *reply, char *err,
                                 size_t errsz);

/* Connects r if needed and starts a batch whose replies go to fn(ctx, ...)
 * (fn may be NULL when every command is appended with
 * AC_REDIS_BATCH_NO_ITEM). Returns NULL with err when it cannot connect. */
ac_redis_batch_t *ac_redis_batch_begin(ac_redis_t *r, ac_redis_reply_fn fn, void *ctx, char *err,
                                       size_t errsz);

/* Sends the replies to the commands appended from now on to fn(ctx, ...)
 * instead of the batch's callback, so that several modules' commands
 * share one round trip, each module reading its own replies. fn gets
 * every reply of a command with an item; with errors_ok it also gets
 * their error replies (item may be AC_REDIS_BATCH_NO_ITEM) instead of
 * their failing the batch: for writes that are best effort. Commands
 * whose replies nobody reads set (NULL, NULL, 0), which is no handler,
 * so that they do not fall to the errors_ok handler before them. Eight
 * different handlers at most per batch, the batch's own included; one
 * more fails the batch. Returns 0 or -1. */
int ac_redis_batch_handler(ac_redis_batch_t *b, ac_redis_reply_fn fn, void *ctx, int errors_ok);

/* Appends a command in redisAppendCommand()'s format. A command that
 * cannot be queued fails the batch at ac_redis_batch_exec(), so callers
 * need not check each append; returns 0 or -1 all the same. */
int ac_redis_batch_command(ac_redis_batch_t *b, size_t item, const char *fmt, ...);

/* Appends a command given as argc arguments (lengths in argvlen, NULL:
 * strlen), failing the batch like ac_redis_batch_command(). */
int ac_redis_batch_argv(ac_redis_batch_t *b, size_t item, int argc, const char **argv,
                        const size_t *argvlen);

/* Appends EVALSHA of script with nkeys keys then args; argv holds keys and
 * args together (argc entries), lengths in argvlen (NULL: strlen). Fails
 * the batch the same way as ac_redis_batch_command(). */
int ac_redis_batch_script(ac_redis_batch_t *b, size_t item, const ac_redis_script_t *script,
                          int nkeys, int argc, const char **argv, const size_t *argvlen);

/* Sends the batch, reads every reply and, when none is an error reply,
 * hands them in append order to the callback; then frees b. Returns 0, or
 * -1 with err: the command that could not be queued, the connection error
 * (the connection is dropped for the next ac_redis_connect()), the first
 * error reply, or the callback's failure. An empty batch succeeds. In a
 * cluster, redirections are followed first (a few rounds, at most the
 * handle's timeout), so a command may run twice when a node was lost
 * after running it: commands must be idempotent, as callers retrying a
 * failed batch already need. */
int ac_redis_batch_exec(ac_redis_batch_t *b, char *err, size_t errsz);

/* Drops a batch the caller gave up on (after its own failure), dropping the
 * connection when commands were appended and would be left unread. */
void ac_redis_batch_abort(ac_redis_batch_t *b);

/* Whether r talks to a Redis Cluster (known after a successful
 * ac_redis_connect()): code that may touch keys of several slots at once,
 * such as a migration from an older key layout, runs only when it is 0. */
int ac_redis_is_cluster(const ac_redis_t *r);

/* Drops the connection after a failure the caller detected itself. */
void ac_redis_disconnect(ac_redis_t *r);

/* Runs one command synchronously; convenience for rare calls. The reply is
 * the caller's (freeReplyObject); NULL with err on a connection error (in
 * a cluster also when redirections did not end). Error replies are
 * returned as replies; NOSCRIPT drops the connection so that the next
 * connect loads the scripts again. */
redisReply *ac_redis_command(ac_redis_t *r, char *err, size_t errsz, const char *fmt, ...);

/* ac_redis_command() with the command's words in argv (argc of them,
 * lengths in argvlen, NULL: strlen), as redisCommandArgv() takes them. */
redisReply *ac_redis_command_argv(ac_redis_t *r, int argc, const char **argv, const size_t *argvlen,
                                  char *err, size_t errsz);

#endif
