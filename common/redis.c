#include "redis.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "redis_url.h"

#define AC_REDIS_MAX_SCRIPTS 16

struct ac_redis {
    ac_redis_url_t url;
    int timeout_ms;
    redisContext *ctx;
    ac_redis_script_t *scripts[AC_REDIS_MAX_SCRIPTS];
    size_t n_scripts;
};

ac_redis_t *ac_redis_new(const char *url, int timeout_ms, char *err, size_t errsz)
{
    ac_redis_t *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    if (ac_redis_url_parse(url, &r->url, err, errsz) < 0) {
        free(r);
        return NULL;
    }
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    return r;
}

void ac_redis_destroy(ac_redis_t *r)
{
    if (!r)
        return;
    if (r->ctx)
        redisFree(r->ctx);
    free(r);
}

void ac_redis_register_script(ac_redis_t *r, ac_redis_script_t *script)
{
    for (size_t i = 0; i < r->n_scripts; i++)
        if (r->scripts[i] == script)
            return;
    if (r->n_scripts < AC_REDIS_MAX_SCRIPTS)
        r->scripts[r->n_scripts++] = script;
    if (r->ctx)
        ac_redis_disconnect(r); /* the next connect loads it */
}

void ac_redis_disconnect(ac_redis_t *r)
{
    if (r->ctx) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
}

/* Runs one setup command on a fresh connection, expecting no error. */
static int setup_command(ac_redis_t *r, char *err, size_t errsz, redisReply **keep, const char *fmt,
                         ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *reply = redisvCommand(r->ctx, fmt, ap);
    va_end(ap);
    if (!reply) {
        snprintf(err, errsz, "redis %s:%d: %s", r->url.host, r->url.port, r->ctx->errstr);
        return -1;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(err, errsz, "redis %s:%d: %s", r->url.host, r->url.port, reply->str);
        freeReplyObject(reply);
        return -1;
    }
    if (keep)
        *keep = reply;
    else
        freeReplyObject(reply);
    return 0;
}

int ac_redis_connect(ac_redis_t *r, char *err, size_t errsz)
{
    if (r->ctx)
        return 0;
    struct timeval tv = {r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000};
    r->ctx = redisConnectWithTimeout(r->url.host, r->url.port, tv);
    if (!r->ctx || r->ctx->err) {
        snprintf(err, errsz, "redis %s:%d: %s", r->url.host, r->url.port,
                 r->ctx ? r->ctx->errstr : "cannot allocate context");
        goto fail;
    }
    redisSetTimeout(r->ctx, tv);
    redisEnableKeepAlive(r->ctx);
    if (r->url.password[0] && setup_command(r, err, errsz, NULL, "AUTH %s", r->url.password) < 0)
        goto fail;
    if (r->url.db && setup_command(r, err, errsz, NULL, "SELECT %d", r->url.db) < 0)
        goto fail;
    for (size_t i = 0; i < r->n_scripts; i++) {
        redisReply *reply = NULL;
        if (setup_command(r, err, errsz, &reply, "SCRIPT LOAD %s", r->scripts[i]->source) < 0)
            goto fail;
        if (reply->type == REDIS_REPLY_STRING && reply->len == 40)
            memcpy(r->scripts[i]->sha, reply->str, 41);
        freeReplyObject(reply);
    }
    return 0;
fail:
    ac_redis_disconnect(r);
    return -1;
}

int ac_redis_is_cluster(const ac_redis_t *r)
{
    (void)r;
    return 0;
}

redisContext *ac_redis_context(ac_redis_t *r)
{
    return r->ctx;
}

int ac_redis_append_script(ac_redis_t *r, const ac_redis_script_t *script, int nkeys, int argc,
                           const char **argv, const size_t *argvlen)
{
    const char *av[32];
    size_t al[32];
    char nk[16];
    if (!r->ctx || argc + 3 > 32)
        return -1;
    snprintf(nk, sizeof(nk), "%d", nkeys);
    av[0] = "EVALSHA";
    al[0] = 7;
    av[1] = script->sha;
    al[1] = 40;
    av[2] = nk;
    al[2] = strlen(nk);
    for (int i = 0; i < argc; i++) {
        av[3 + i] = argv[i];
        al[3 + i] = argvlen ? argvlen[i] : strlen(argv[i]);
    }
    return redisAppendCommandArgv(r->ctx, argc + 3, av, al) == REDIS_OK ? 0 : -1;
}

int ac_redis_replies(ac_redis_t *r, size_t n, redisReply **replies, char *err, size_t errsz)
{
    size_t got = 0;
    if (!r->ctx) {
        snprintf(err, errsz, "redis %s:%d: not connected", r->url.host, r->url.port);
        return -1;
    }
    for (; got < n; got++) {
        void *reply = NULL;
        if (redisGetReply(r->ctx, &reply) != REDIS_OK || !reply) {
            snprintf(err, errsz, "redis %s:%d: %s", r->url.host, r->url.port,
                     r->ctx->errstr[0] ? r->ctx->errstr : "connection lost");
            goto fail;
        }
        replies[got] = reply;
        /* A script missing after a server restart or SCRIPT FLUSH: reconnect
         * reloads it, so the whole batch is retried. */
        if (replies[got]->type == REDIS_REPLY_ERROR &&
            strncmp(replies[got]->str, "NOSCRIPT", 8) == 0) {
            snprintf(err, errsz, "redis %s:%d: %s", r->url.host, r->url.port, replies[got]->str);
            got++;
            goto fail;
        }
    }
    return 0;
fail:
    for (size_t i = 0; i < got; i++)
        freeReplyObject(replies[i]);
    ac_redis_disconnect(r);
    return -1;
}

redisReply *ac_redis_command(ac_redis_t *r, char *err, size_t errsz, const char *fmt, ...)
{
    if (ac_redis_connect(r, err, errsz) < 0)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *reply = redisvCommand(r->ctx, fmt, ap);
    va_end(ap);
    if (!reply) {
        snprintf(err, errsz, "redis %s:%d: %s", r->url.host, r->url.port, r->ctx->errstr);
        ac_redis_disconnect(r);
    }
    return reply;
}

/* Frees n replies and their array. Accepts NULL. */
static void free_replies(redisReply **replies, size_t n)
{
    if (!replies)
        return;
    for (size_t i = 0; i < n; i++)
        freeReplyObject(replies[i]);
    free(replies);
}

/* Reads n replies into a new array like ac_redis_replies(), and fails when
 * any of them is an error reply, with its text in err: a batch's replies
 * are handed out all or none. Returns the array (free with free_replies())
 * or NULL; the connection is dropped when replies were left unread. */
static redisReply **replies_ok(ac_redis_t *r, size_t n, char *err, size_t errsz)
{
    redisReply **replies = calloc(n ? n : 1, sizeof(*replies));
    if (!replies) {
        /* The replies must still be read, or the connection is out of step. */
        ac_redis_disconnect(r);
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    if (ac_redis_replies(r, n, replies, err, errsz) < 0) {
        free(replies);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (replies[i]->type == REDIS_REPLY_ERROR) {
            snprintf(err, errsz, "redis: %s", replies[i]->str);
            free_replies(replies, n);
            return NULL;
        }
    }
    return replies;
}

struct ac_redis_batch {
    ac_redis_t *r;
    ac_redis_reply_fn fn;
    void *ctx;
    size_t *items; /* the item of each appended command, in order */
    size_t n, cap;
    int failed; /* a command could not be queued: the batch cannot be read */
};

ac_redis_batch_t *ac_redis_batch_begin(ac_redis_t *r, ac_redis_reply_fn fn, void *ctx, char *err,
                                       size_t errsz)
{
    if (ac_redis_connect(r, err, errsz) < 0)
        return NULL;
    ac_redis_batch_t *b = calloc(1, sizeof(*b));
    if (!b) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    b->r = r;
    b->fn = fn;
    b->ctx = ctx;
    return b;
}

/* Makes room for one more command's item before it is appended: once a
 * command is on the wire its reply must be accounted for, so the item
 * cannot be lost to a failed allocation afterwards. */
static int batch_reserve(ac_redis_batch_t *b)
{
    if (b->failed || !b->r->ctx) {
        b->failed = 1;
        return -1;
    }
    if (b->n < b->cap)
        return 0;
    size_t cap = b->cap ? b->cap * 2 : 16;
    size_t *items = realloc(b->items, cap * sizeof(*items));
    if (!items) {
        b->failed = 1;
        return -1;
    }
    b->items = items;
    b->cap = cap;
    return 0;
}

int ac_redis_batch_command(ac_redis_batch_t *b, size_t item, const char *fmt, ...)
{
    if (batch_reserve(b) < 0)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAppendCommand(b->r->ctx, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        b->failed = 1;
        return -1;
    }
    b->items[b->n++] = item;
    return 0;
}

int ac_redis_batch_argv(ac_redis_batch_t *b, size_t item, int argc, const char **argv,
                        const size_t *argvlen)
{
    if (batch_reserve(b) < 0)
        return -1;
    if (redisAppendCommandArgv(b->r->ctx, argc, argv, argvlen) != REDIS_OK) {
        b->failed = 1;
        return -1;
    }
    b->items[b->n++] = item;
    return 0;
}

int ac_redis_batch_script(ac_redis_batch_t *b, size_t item, const ac_redis_script_t *script,
                          int nkeys, int argc, const char **argv, const size_t *argvlen)
{
    if (batch_reserve(b) < 0)
        return -1;
    if (ac_redis_append_script(b->r, script, nkeys, argc, argv, argvlen) < 0) {
        b->failed = 1;
        return -1;
    }
    b->items[b->n++] = item;
    return 0;
}

void ac_redis_batch_abort(ac_redis_batch_t *b)
{
    if (!b)
        return;
    if (b->n > 0 || b->failed)
        ac_redis_disconnect(b->r);
    free(b->items);
    free(b);
}

/* Reads all replies before handing any out, so that an error reply leaves
 * the caller's outputs as they were, as if the batch had not run. */
int ac_redis_batch_exec(ac_redis_batch_t *b, char *err, size_t errsz)
{
    redisReply **replies = NULL;
    int rc = -1;
    if (b->failed) {
        snprintf(err, errsz, "redis: cannot queue command");
        ac_redis_disconnect(b->r);
        goto out;
    }
    if (b->n == 0) {
        rc = 0;
        goto out;
    }
    if (!(replies = replies_ok(b->r, b->n, err, errsz)))
        goto out;
    rc = 0;
    for (size_t i = 0; i < b->n && rc == 0; i++)
        if (b->items[i] != AC_REDIS_BATCH_NO_ITEM && b->fn)
            rc = b->fn(b->ctx, b->items[i], replies[i], err, errsz);
out:
    free_replies(replies, b->n);
    free(b->items);
    free(b);
    return rc;
}
