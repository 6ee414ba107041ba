#include "dedup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_key.h"
#include "timeutil.h"

/* KEYS[1] sent mark, KEYS[2] lease; ARGV[1] token, ARGV[2] lease ms. */
static ac_redis_script_t claim_script = {"if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end\n"
                                         "local holder = redis.call('GET', KEYS[2])\n"
                                         "if holder and holder ~= ARGV[1] then return 2 end\n"
                                         "redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])\n"
                                         "return 0\n",
                                         {0}};

/* KEYS[1] sent mark, KEYS[2] lease; ARGV[1] token, ARGV[2] ttl ms,
 * ARGV[3] the mark's value (when it was sent). */
static ac_redis_script_t sent_script = {
    "redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])\n"
    "if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end\n"
    "return 0\n",
    {0}};

/* KEYS[1] lease; ARGV[1] token. */
static ac_redis_script_t release_script = {
    "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end\n"
    "return 0\n",
    {0}};

void ac_dedup_register(ac_redis_t *r)
{
    ac_redis_register_script(r, &claim_script);
    ac_redis_register_script(r, &sent_script);
    ac_redis_register_script(r, &release_script);
}

void ac_dedup_event_key(const char *store_id, const char *event_id, char *buf, size_t bufsz)
{
    ac_redis_key(buf, bufsz, "e", store_id, event_id);
}

static void message_keys(const char *id, char *sent, char *lease, size_t sz)
{
    snprintf(sent, sz, "ac:m:{%s}", id);
    snprintf(lease, sz, "ac:m:{%s}:lease", id);
}

/* Sets seen[item] from an EXISTS reply. */
static int seen_reply(void *ctx, size_t item, const redisReply *reply, char *err, size_t errsz)
{
    (void)err;
    (void)errsz;
    ((int *)ctx)[item] = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
    return 0;
}

int ac_dedup_append_seen(ac_redis_batch_t *b, const char *const *keys, size_t n, int *seen)
{
    int rc = ac_redis_batch_handler(b, seen_reply, seen, 0);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = ac_redis_batch_command(b, i, "EXISTS %s", keys[i]);
    return rc;
}

int ac_dedup_append_marks(ac_redis_batch_t *b, const char *const *keys, size_t n, int64_t ttl_ms)
{
    int rc = ac_redis_batch_handler(b, NULL, NULL, 0);
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "SET %s 1 PX %lld", keys[i],
                                    (long long)ttl_ms);
    return rc;
}

int ac_dedup_events_seen(ac_redis_t *r, const char *const *keys, size_t n, int *seen, char *err,
                         size_t errsz)
{
    if (n == 0)
        return 0;
    ac_redis_batch_t *b = ac_redis_batch_begin(r, NULL, NULL, err, errsz);
    if (!b)
        return -1;
    ac_dedup_append_seen(b, keys, n, seen);
    return ac_redis_batch_exec(b, err, errsz);
}

int ac_dedup_events_mark(ac_redis_t *r, const char *const *keys, size_t n, int64_t ttl_ms,
                         char *err, size_t errsz)
{
    if (n == 0)
        return 0;
    ac_redis_batch_t *b = ac_redis_batch_begin(r, NULL, NULL, err, errsz);
    if (!b)
        return -1;
    ac_dedup_append_marks(b, keys, n, ttl_ms);
    return ac_redis_batch_exec(b, err, errsz);
}

typedef enum message_op { OP_CLAIM, OP_SENT, OP_RELEASE } message_op_t;

/* Sets out[item] from a claim script's reply; anything unexpected waits. */
static int claim_reply(void *ctx, size_t item, const redisReply *reply, char *err, size_t errsz)
{
    (void)err;
    (void)errsz;
    ((ac_claim_t *)ctx)[item] =
        reply->type == REDIS_REPLY_INTEGER ? (ac_claim_t)reply->integer : AC_CLAIM_BUSY;
    return 0;
}

/* Runs one of the message scripts for n ids in one round trip. arg is the
 * lease or the sent mark's ttl in ms (unused by OP_RELEASE); claims fill
 * out[], the others only need their replies to be no errors. */
static int message_batch(ac_redis_t *r, message_op_t op, const char *const *ids,
                         const char *const *tokens, size_t n, int64_t arg, ac_claim_t *out,
                         char *err, size_t errsz)
{
    char sent[96], lease[96], ms[24], when[AC_TIME_BUFSZ];
    if (n == 0)
        return 0;
    ac_redis_batch_t *b = ac_redis_batch_begin(r, claim_reply, out, err, errsz);
    if (!b)
        return -1;
    snprintf(ms, sizeof(ms), "%lld", (long long)arg);
    ac_time_format(ac_time_now_ms(), when, sizeof(when));
    for (size_t i = 0; i < n; i++) {
        message_keys(ids[i], sent, lease, sizeof(sent));
        const char *claim[] = {sent, lease, tokens[i], ms};
        const char *mark[] = {sent, lease, tokens[i], ms, when};
        const char *release[] = {lease, tokens[i]};
        if (op == OP_CLAIM)
            ac_redis_batch_script(b, i, &claim_script, 2, 4, claim, NULL);
        else if (op == OP_SENT)
            ac_redis_batch_script(b, AC_REDIS_BATCH_NO_ITEM, &sent_script, 2, 5, mark, NULL);
        else
            ac_redis_batch_script(b, AC_REDIS_BATCH_NO_ITEM, &release_script, 1, 2, release, NULL);
    }
    return ac_redis_batch_exec(b, err, errsz);
}

int ac_dedup_claim(ac_redis_t *r, const char *const *ids, const char *const *tokens, size_t n,
                   int64_t lease_ms, ac_claim_t *out, char *err, size_t errsz)
{
    return message_batch(r, OP_CLAIM, ids, tokens, n, lease_ms, out, err, errsz);
}

int ac_dedup_sent(ac_redis_t *r, const char *const *ids, const char *const *tokens, size_t n,
                  int64_t ttl_ms, char *err, size_t errsz)
{
    return message_batch(r, OP_SENT, ids, tokens, n, ttl_ms, NULL, err, errsz);
}

int ac_dedup_release(ac_redis_t *r, const char *const *ids, const char *const *tokens, size_t n,
                     char *err, size_t errsz)
{
    return message_batch(r, OP_RELEASE, ids, tokens, n, 0, NULL, err, errsz);
}

int ac_dedup_forget(ac_redis_t *r, const char *id, char *err, size_t errsz)
{
    char sent[96], lease[96];
    message_keys(id, sent, lease, sizeof(sent));
    redisReply *reply = ac_redis_command(r, err, errsz, "DEL %s", sent);
    if (!reply)
        return -1;
    freeReplyObject(reply);
    return 0;
}
