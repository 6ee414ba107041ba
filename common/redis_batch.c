/* Pipelined batches and single commands (redis.h), to a single server or
 * a Redis Cluster. To a single server commands are appended to the
 * connection as they come and the replies read in one go, as hiredis's
 * pipelining does. In a cluster each command is formatted into the
 * batch's one buffer with the slot of its key, and redis_cluster.c sends
 * them, one pipeline per master, at exec. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "redis.h"
#include "redis_int.h"
#include "resp.h"
#include "slot.h"

/* Where a single server's errors say they come from. */
#define SEED(r) (r)->url.seeds[(r)->seed].host, (r)->url.seeds[(r)->seed].port

/* Whether a reply is NOSCRIPT: the server lost the scripts (a restart, a
 * SCRIPT FLUSH), so the connection is dropped and the next connect loads
 * them again. */
static int noscript(const redisReply *reply)
{
    return reply && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0;
}

/* Reads n replies of a single server into replies[]. On a connection
 * error or NOSCRIPT frees what it read, drops the connection so that the
 * next ac_redis_connect() reconnects, and returns -1 with err. Other error
 * replies are returned as replies. */
static int single_replies(ac_redis_t *r, size_t n, redisReply **replies, char *err, size_t errsz)
{
    size_t got = 0;
    if (!r->ctx) {
        snprintf(err, errsz, "redis %s:%d: not connected", SEED(r));
        return -1;
    }
    for (; got < n; got++) {
        void *reply = NULL;
        if (redisGetReply(r->ctx, &reply) != REDIS_OK || !reply) {
            snprintf(err, errsz, "redis %s:%d: %s", SEED(r),
                     r->ctx->errstr[0] ? r->ctx->errstr : "connection lost");
            goto fail;
        }
        replies[got] = reply;
        if (noscript(replies[got])) {
            snprintf(err, errsz, "redis %s:%d: %s", SEED(r), replies[got]->str);
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

/* Runs the cluster batch b and hands back its first reply, the command's
 * (the caller's), or NULL with err. */
static redisReply *cluster_one(ac_redis_batch_t *b, char *err, size_t errsz)
{
    redisReply *reply = NULL;
    if (b->buf.oom)
        snprintf(err, errsz, "redis: cannot format the command");
    else if (ac_rcluster_exec(b, err, errsz) == 0) {
        reply = b->cmds[0].reply;
        b->cmds[0].reply = NULL;
    }
    return reply;
}

/* One command of formatted bytes, sent like a batch of one. */
static redisReply *cluster_command(ac_redis_t *r, ac_buf_t *cmd, char *err, size_t errsz)
{
    ac_rcmd_t one = {0, cmd->len, ac_resp_slot(cmd->data, cmd->len), -1, -1, 0, NULL};
    ac_redis_batch_t b = {.r = r, .n = 1, .cluster = 1, .buf = *cmd, .cmds = &one};
    return cluster_one(&b, err, errsz);
}

redisReply *ac_redis_command(ac_redis_t *r, char *err, size_t errsz, const char *fmt, ...)
{
    if (ac_redis_connect(r, err, errsz) < 0)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *reply = NULL;
    if (r->cluster) {
        char *cmd = NULL;
        int len = redisvFormatCommand(&cmd, fmt, ap);
        ac_buf_t b = {cmd, len > 0 ? (size_t)len : 0, 0, len <= 0};
        reply = cluster_command(r, &b, err, errsz);
        free(cmd);
    } else if (!(reply = redisvCommand(r->ctx, fmt, ap))) {
        snprintf(err, errsz, "redis %s:%d: %s", SEED(r), r->ctx->errstr);
        ac_redis_disconnect(r);
    } else if (noscript(reply))
        ac_redis_disconnect(r);
    va_end(ap);
    return reply;
}

redisReply *ac_redis_command_argv(ac_redis_t *r, int argc, const char **argv, const size_t *argvlen,
                                  char *err, size_t errsz)
{
    if (ac_redis_connect(r, err, errsz) < 0)
        return NULL;
    redisReply *reply = NULL;
    if (r->cluster) {
        ac_buf_t b = AC_BUF_INIT;
        ac_resp_append_argv(&b, argc, argv, argvlen);
        reply = cluster_command(r, &b, err, errsz);
        ac_buf_free(&b);
    } else if (!(reply = redisCommandArgv(r->ctx, argc, argv, argvlen))) {
        snprintf(err, errsz, "redis %s:%d: %s", SEED(r), r->ctx->errstr);
        ac_redis_disconnect(r);
    } else if (noscript(reply))
        ac_redis_disconnect(r);
    return reply;
}

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
    b->handlers[0] = (ac_rhandler_t){fn, ctx, 0};
    b->n_handlers = 1;
    b->cluster = r->cluster;
    return b;
}

int ac_redis_batch_handler(ac_redis_batch_t *b, ac_redis_reply_fn fn, void *ctx, int errors_ok)
{
    for (unsigned char i = 0; i < b->n_handlers; i++) {
        const ac_rhandler_t *h = &b->handlers[i];
        if (h->fn == fn && h->ctx == ctx && h->errors_ok == errors_ok) {
            b->handler = i;
            return 0;
        }
    }
    if (b->n_handlers == AC_REDIS_BATCH_MAX_HANDLERS) {
        b->failed = 1;
        return -1;
    }
    b->handlers[b->n_handlers] = (ac_rhandler_t){fn, ctx, errors_ok};
    b->handler = b->n_handlers++;
    return 0;
}

/* Makes room for one more command's item before it is appended: once a
 * command is on the wire its reply must be accounted for, so the item
 * cannot be lost to a failed allocation afterwards. A cluster batch grows
 * its commands beside. */
static int batch_reserve(ac_redis_batch_t *b)
{
    if (b->failed || (!b->cluster && !b->r->ctx)) {
        b->failed = 1;
        return -1;
    }
    if (b->n < b->cap)
        return 0;
    size_t cap = b->cap ? b->cap * 2 : 16;
    size_t *items = realloc(b->items, cap * sizeof(*items));
    if (items)
        b->items = items;
    unsigned char *hidx = items ? realloc(b->hidx, cap) : NULL;
    if (hidx)
        b->hidx = hidx;
    ac_rcmd_t *cmds = b->cluster && hidx ? realloc(b->cmds, cap * sizeof(*cmds)) : NULL;
    if (cmds)
        b->cmds = cmds;
    if (!items || !hidx || (b->cluster && !cmds)) {
        b->failed = 1;
        return -1;
    }
    b->cap = cap;
    return 0;
}

/* Records the command just formatted into the buffer from off, routed by
 * slot (-1: any node). */
static int cluster_added(ac_redis_batch_t *b, size_t item, size_t off, int slot)
{
    if (b->buf.oom) {
        b->failed = 1;
        return -1;
    }
    b->cmds[b->n] = (ac_rcmd_t){off, b->buf.len - off, slot, -1, -1, 0, NULL};
    b->hidx[b->n] = b->handler;
    b->items[b->n++] = item;
    return 0;
}

/* Formats with ac_resp_append_vfmt(), falling back on hiredis for
 * directives it does not know. Returns the command's length in out, or -1. */
static long format_into(ac_buf_t *out, const char *fmt, va_list ap)
{
    size_t off = out->len;
    if (ac_resp_append_vfmt(out, fmt, ap) < 0) {
        char *cmd = NULL;
        int len = redisvFormatCommand(&cmd, fmt, ap);
        if (len > 0)
            ac_buf_append(out, cmd, (size_t)len);
        free(cmd);
        if (len <= 0)
            return -1;
    }
    return out->oom ? -1 : (long)(out->len - off);
}

/* Where the next command is formatted: a cluster batch keeps every
 * command in its buffer (to route it, and to send it again after a
 * redirection); a single server's batch formats into the buffer as
 * scratch and hands the command to hiredis as it is, since hiredis's own
 * formatting goes through printf or sds for every argument. */
static size_t command_start(ac_redis_batch_t *b)
{
    if (!b->cluster)
        b->buf.len = 0;
    return b->buf.len;
}

/* Queues the command formatted at off (slot: its hash slot, -1 none, or
 * -2 to read it from the command). Returns 0, or -1 with the batch
 * failed. */
static int command_end(ac_redis_batch_t *b, size_t item, size_t off, int slot)
{
    if (b->buf.oom || b->buf.len <= off) {
        b->failed = 1;
        return -1;
    }
    if (b->cluster) {
        if (slot == -2)
            slot = ac_resp_slot(b->buf.data + off, b->buf.len - off);
        return cluster_added(b, item, off, slot);
    }
    if (redisAppendFormattedCommand(b->r->ctx, b->buf.data + off, b->buf.len - off) != REDIS_OK) {
        b->failed = 1;
        return -1;
    }
    b->hidx[b->n] = b->handler;
    b->items[b->n++] = item;
    return 0;
}

int ac_redis_batch_command(ac_redis_batch_t *b, size_t item, const char *fmt, ...)
{
    if (batch_reserve(b) < 0)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    size_t off = command_start(b);
    long len = format_into(&b->buf, fmt, ap);
    va_end(ap);
    if (len <= 0) {
        b->failed = 1;
        return -1;
    }
    return command_end(b, item, off, -2);
}

int ac_redis_batch_argv(ac_redis_batch_t *b, size_t item, int argc, const char **argv,
                        const size_t *argvlen)
{
    if (batch_reserve(b) < 0)
        return -1;
    size_t off = command_start(b);
    ac_resp_append_argv(&b->buf, argc, argv, argvlen);
    return command_end(b, item, off, -2);
}

/* EVALSHA of script, routed by its first key when it has keys. */
int ac_redis_batch_script(ac_redis_batch_t *b, size_t item, const ac_redis_script_t *script,
                          int nkeys, int argc, const char **argv, const size_t *argvlen)
{
    char nk[16];
    if (batch_reserve(b) < 0)
        return -1;
    size_t off = command_start(b);
    int nklen = snprintf(nk, sizeof(nk), "%d", nkeys);
    ac_resp_append_header(&b->buf, argc + 3);
    ac_resp_append_arg(&b->buf, "EVALSHA", 7);
    ac_resp_append_arg(&b->buf, script->sha, 40);
    ac_resp_append_arg(&b->buf, nk, (size_t)nklen);
    for (int i = 0; i < argc; i++)
        ac_resp_append_arg(&b->buf, argv[i], argvlen ? argvlen[i] : strlen(argv[i]));
    int slot = -1;
    if (b->cluster && nkeys > 0 && argc > 0)
        slot = ac_slot_of(argv[0], argvlen ? argvlen[0] : strlen(argv[0]));
    return command_end(b, item, off, slot);
}

/* Frees a batch and the replies it still holds. */
static void batch_free(ac_redis_batch_t *b)
{
    for (size_t i = 0; b->cmds && i < b->n; i++)
        if (b->cmds[i].reply)
            freeReplyObject(b->cmds[i].reply);
    free(b->cmds);
    ac_buf_free(&b->buf);
    free(b->items);
    free(b->hidx);
    free(b);
}

void ac_redis_batch_abort(ac_redis_batch_t *b)
{
    if (!b)
        return;
    /* A cluster batch put nothing on the wire before exec. */
    if (!b->cluster && (b->n > 0 || b->failed))
        ac_redis_disconnect(b->r);
    batch_free(b);
}

/* Reads a single server's replies to b into replies[] (n of them). */
static int single_exec(ac_redis_batch_t *b, redisReply **replies, char *err, size_t errsz)
{
    return single_replies(b->r, b->n, replies, err, errsz);
}

/* Lets a cluster batch's rounds fill its commands' replies, then lends
 * them to replies[] (the batch still frees them). */
static int cluster_exec(ac_redis_batch_t *b, redisReply **replies, char *err, size_t errsz)
{
    if (ac_rcluster_exec(b, err, errsz) < 0)
        return -1;
    for (size_t i = 0; i < b->n; i++) {
        replies[i] = b->cmds[i].reply;
        b->cmds[i].reply = NULL;
    }
    return 0;
}

/* Hands the replies out, each to its command's handler: a command with an
 * item, and an error reply its handler takes. */
static int dispatch(ac_redis_batch_t *b, redisReply **replies, char *err, size_t errsz)
{
    for (size_t i = 0; i < b->n; i++) {
        const ac_rhandler_t *h = &b->handlers[b->hidx[i]];
        int error = replies[i]->type == REDIS_REPLY_ERROR;
        if (h->fn && (b->items[i] != AC_REDIS_BATCH_NO_ITEM || error) &&
            h->fn(h->ctx, b->items[i], replies[i], err, errsz) < 0)
            return -1;
    }
    return 0;
}

/* Reads all replies before handing any out, so that an error reply leaves
 * the caller's outputs as they were, as if the batch had not run (error
 * replies a handler takes excepted). */
int ac_redis_batch_exec(ac_redis_batch_t *b, char *err, size_t errsz)
{
    redisReply **replies = NULL;
    size_t got = 0;
    int rc = -1;
    if (b->failed) {
        snprintf(err, errsz, "redis: cannot queue command");
        if (!b->cluster)
            ac_redis_disconnect(b->r);
        goto out;
    }
    if (b->n == 0) {
        rc = 0;
        goto out;
    }
    if (!(replies = calloc(b->n, sizeof(*replies)))) {
        /* The replies must still be read, or the connection is out of step. */
        if (!b->cluster)
            ac_redis_disconnect(b->r);
        snprintf(err, errsz, "out of memory");
        goto out;
    }
    if ((b->cluster ? cluster_exec : single_exec)(b, replies, err, errsz) < 0)
        goto out;
    got = b->n;
    for (size_t i = 0; i < b->n; i++) {
        if (replies[i]->type == REDIS_REPLY_ERROR && !b->handlers[b->hidx[i]].errors_ok) {
            snprintf(err, errsz, "redis: %s", replies[i]->str);
            goto out;
        }
    }
    rc = dispatch(b, replies, err, errsz);
out:
    for (size_t i = 0; i < got; i++)
        freeReplyObject(replies[i]);
    free(replies);
    batch_free(b);
    return rc;
}
