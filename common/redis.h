/* Redis connection with reconnection, pipelining and Lua scripts.
 *
 * Workers talk to Redis in batches: they append a command per record with
 * hiredis's redisAppendCommand*() on ac_redis_context(), then collect all
 * replies with ac_redis_replies(), paying one round trip per batch. When the
 * connection breaks the handle reconnects on the next ac_redis_connect(),
 * reloading every registered script, so callers simply retry the batch. */
#ifndef AC_REDIS_H
#define AC_REDIS_H

#include <stddef.h>

#include <hiredis/hiredis.h>

/* A Lua script run with EVALSHA; sha is filled when it is loaded. */
typedef struct ac_redis_script {
    const char *source;
    char sha[41];
} ac_redis_script_t;

typedef struct ac_redis ac_redis_t;

/* Creates a handle for url; connects lazily. timeout_ms bounds connect and
 * each command. Returns NULL with err filled when the URL is invalid. */
ac_redis_t *ac_redis_new(const char *url, int timeout_ms, char *err, size_t errsz);
void ac_redis_destroy(ac_redis_t *r);

/* Registers a script (which must outlive r) to be loaded on every connect. */
void ac_redis_register_script(ac_redis_t *r, ac_redis_script_t *script);

/* Connects if not connected (AUTH, SELECT, SCRIPT LOAD). 0 or -1 with err. */
int ac_redis_connect(ac_redis_t *r, char *err, size_t errsz);

/* The live hiredis context for appending commands; valid after a
 * successful ac_redis_connect() until the next failure. */
redisContext *ac_redis_context(ac_redis_t *r);

/* Appends EVALSHA of script with nkeys keys then args; argv holds keys and
 * args together (argc entries), lengths in argvlen (NULL: strlen). */
int ac_redis_append_script(ac_redis_t *r, const ac_redis_script_t *script, int nkeys, int argc,
                           const char **argv, const size_t *argvlen);

/* Reads n replies into replies[] (caller frees each with freeReplyObject).
 * On a connection error frees what it read, drops the connection so that
 * the next ac_redis_connect() reconnects, and returns -1 with err. Error
 * replies from Redis are returned as replies, not as failures. */
int ac_redis_replies(ac_redis_t *r, size_t n, redisReply **replies, char *err, size_t errsz);

/* Reads n replies into a new array like ac_redis_replies(), and fails when
 * any of them is an error reply, with its text in err. Returns the array
 * (free with ac_redis_free_replies()) or NULL; the connection is dropped
 * when replies were left unread. */
redisReply **ac_redis_replies_ok(ac_redis_t *r, size_t n, char *err, size_t errsz);

/* Frees n replies and their array. Accepts NULL. */
void ac_redis_free_replies(redisReply **replies, size_t n);

/* Drops the connection after a failure the caller detected itself. */
void ac_redis_disconnect(ac_redis_t *r);

/* Runs one command synchronously; convenience for rare calls. The reply is
 * the caller's (freeReplyObject); NULL with err on a connection error. */
redisReply *ac_redis_command(ac_redis_t *r, char *err, size_t errsz, const char *fmt, ...);

#endif
