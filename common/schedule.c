#include "schedule_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journey.h"
#include "log.h"
#include "redis_key.h"
#include "slot.h"

/* An item's description, beside its record in the order's hash (field
 * "<id>:m"), is "<due ms> <release ms> <kind> <blockers> <requires>":
 * blockers and requires are comma-separated fact names, possibly empty.
 *
 * A marker field in the journey ("s:<kind>" = due ms) makes adding
 * idempotent: a replayed delivery does not re-add a review request that
 * already fired. An earlier due time wins while the item is still pending
 * (the first of two parcels arrived first, whatever order we heard of them
 * in). Cancelling or dropping an item removes its marker: the fact that
 * stopped it also blocks adding it again at that time, while an earlier
 * delivery heard of later may still add it, due before the fact. */

/* KEYS[1] journey, KEYS[2] the order's items; ARGV[1] id, ARGV[2] due,
 * ARGV[3] marker field, ARGV[4] blockers, ARGV[5] record, ARGV[6]
 * description, ARGV[7] the journey's expiry should this create it.
 * Returns 0 (added: index it), 1 (already), {1, description} (already and
 * still pending: index it again, in case an earlier try wrote the item but
 * not its bucket entries) or the blocking fact's name. */
static ac_redis_script_t add_script = {
    "local due = tonumber(ARGV[2])\n"
    "for f in string.gmatch(ARGV[4], '[^,]+') do\n"
    "  local t = redis.call('HGET', KEYS[1], f)\n"
    "  if t and tonumber(t) <= due then return f end\n"
    "end\n"
    "local cur = redis.call('HGET', KEYS[1], ARGV[3])\n"
    "if cur then\n"
    "  local m = redis.call('HGET', KEYS[2], ARGV[1] .. ':m')\n"
    "  if tonumber(cur) <= due then\n"
    "    if m then return {1, m} end\n"
    "    return 1\n"
    "  end\n"
    "  if not m then return 1 end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], ARGV[3], ARGV[2])\n"
    "if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[7]) end\n"
    "redis.call('HSET', KEYS[2], ARGV[1], ARGV[5], ARGV[1] .. ':m', ARGV[6])\n"
    "return 0\n",
    {0}};

/* KEYS[1] journey, KEYS[2] the order's items; ARGV[1] id, ARGV[2] since:
 * an item due before the blocking fact happened stays (it fired, or will,
 * just as it would have had the events arrived in order). Returns 3
 * (cancelled) or 4 (nothing to cancel). */
static ac_redis_script_t cancel_script = {
    "local m = redis.call('HGET', KEYS[2], ARGV[1] .. ':m')\n"
    "if not m then return 4 end\n"
    "local due, _, kind = string.match(m, '^(-?%d+) (-?%d+) (%S+)')\n"
    "if not due or tonumber(due) < tonumber(ARGV[2]) then return 4 end\n"
    "redis.call('HDEL', KEYS[2], ARGV[1], ARGV[1] .. ':m')\n"
    "redis.call('HDEL', KEYS[1], 's:' .. kind)\n"
    "return 3\n",
    {0}};

ac_schedule_t *ac_schedule_new(ac_redis_t *r, int buckets, char *err, size_t errsz)
{
    ac_schedule_t *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    s->r = r;
    s->wanted = s->buckets = buckets >= 1 && buckets <= AC_SLOT_COUNT ? buckets : 64;
    ac_redis_register_script(r, &add_script);
    ac_redis_register_script(r, &cancel_script);
    ac_redis_register_script(r, &sched_take_script);
    ac_redis_register_script(r, &sched_check_script);
    return s;
}

void ac_schedule_destroy(ac_schedule_t *s)
{
    free(s);
}

/* CRC16, as for Redis Cluster slots, spreads orders evenly: the bucket is
 * the journey key's slot modulo the count, so with the default 64 buckets
 * each holds the orders of 256 slots. */
int ac_schedule_bucket(const char *journey_key, int buckets)
{
    if (buckets < 1)
        return 0;
    return (int)(ac_slot_crc16(journey_key, strlen(journey_key)) % AC_SLOT_COUNT) % buckets;
}

int ac_schedule_buckets(const ac_schedule_t *s)
{
    return s->buckets;
}

void sched_bucket_keys(int bucket, char *queue, char *release, size_t sz)
{
    snprintf(queue, sz, "ac:sched:{b%d}", bucket);
    snprintf(release, sz, "ac:sched:{b%d}:release", bucket);
}

/* A journey key written by an earlier version may hold a brace (only an
 * item moved from the old layout names one): its items' hash is then
 * named without a hash tag, which only a single Redis, the only place such
 * items exist, accepts. */
void sched_items_key(const char *journey_key, char *buf, size_t sz)
{
    if (ac_redis_key_beside(buf, sz, journey_key, ":sched") < 0)
        snprintf(buf, sz, "%s:sched", journey_key);
}

void sched_member(const char *id, const char *journey_key, char *buf, size_t sz)
{
    snprintf(buf, sz, "%s %s", id, journey_key);
}

int sched_member_split(const char *m, size_t len, char *id, char *jkey, size_t jkeysz)
{
    const size_t idlen = AC_MESSAGE_ID_LEN - 1;
    if (len < idlen + 2 || m[idlen] != ' ' || len - idlen - 1 >= jkeysz)
        return -1;
    memcpy(id, m, idlen);
    id[idlen] = '\0';
    memcpy(jkey, m + idlen + 1, len - idlen - 1);
    jkey[len - idlen - 1] = '\0';
    return ac_message_id_valid(id) ? 0 : -1;
}

const char *sched_fact_label(const char *name)
{
    for (int f = 0; f < AC_FACT__COUNT; f++)
        if (strcmp(name, ac_fact_name((ac_fact_t)f)) == 0)
            return ac_fact_name((ac_fact_t)f);
    if (strcmp(name, "no_consent") == 0)
        return "no_consent";
    return "unknown";
}

/* Reads the recorded count, recording the setting first when there is
 * none (SET NX: of two workers starting at once, one count wins). */
int sched_buckets_ensure(ac_schedule_t *s, char *err, size_t errsz)
{
    char want[16];
    if (s->known)
        return 0;
    snprintf(want, sizeof(want), "%d", s->wanted);
    redisReply *rep =
        ac_redis_command(s->r, err, errsz, "SET %s %s NX GET", AC_SCHEDULE_BUCKETS_KEY, want);
    if (!rep)
        return -1;
    int have = s->wanted;
    if (rep->type == REDIS_REPLY_STRING)
        have = atoi(rep->str);
    else if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(err, errsz, "redis: %s", rep->str);
        freeReplyObject(rep);
        return -1;
    }
    freeReplyObject(rep);
    if (have < 1 || have > AC_SLOT_COUNT) {
        snprintf(err, errsz, "redis: %s holds no bucket count", AC_SCHEDULE_BUCKETS_KEY);
        return -1;
    }
    if (have != s->wanted)
        ac_log(AC_LOG_WARN,
               "SCHEDULE_BUCKETS is %d but this Redis's schedule uses %d buckets: using %d",
               s->wanted, have, have);
    s->buckets = have;
    s->known = 1;
    return 0;
}

/* Queues op's script on its order's slot, its reply to go to ops[item]. */
static void append_order_op(ac_redis_batch_t *b, size_t item, const ac_schedule_op_t *op)
{
    char due[24], marker[64], meta[700], ttl[24], items[SCHED_KEY_LEN];
    const char *csv = op->type == AC_SCHEDULE_DEFER && op->blockers
                          ? op->blockers
                          : ac_journey_blockers_csv(op->kind);
    sched_items_key(op->journey_key, items, sizeof(items));
    snprintf(due, sizeof(due), "%lld", (long long)op->due_ms);
    if (op->type != AC_SCHEDULE_CANCEL)
        snprintf(meta, sizeof(meta), "%lld %lld %s %s %s", (long long)op->due_ms,
                 (long long)(op->release_ms > op->due_ms ? op->release_ms : op->due_ms),
                 ac_kind_name(op->kind), csv, ac_journey_requires_csv(op->kind));
    if (op->type == AC_SCHEDULE_DEFER) {
        char field[AC_MESSAGE_ID_LEN + 2];
        snprintf(field, sizeof(field), "%s:m", op->id);
        ac_redis_batch_command(b, item, "HSET %s %s %b %s %s", items, op->id, op->record,
                               op->record_len, field, meta);
    } else if (op->type == AC_SCHEDULE_ADD) {
        snprintf(marker, sizeof(marker), "s:%s", ac_kind_name(op->kind));
        snprintf(ttl, sizeof(ttl), "%lld",
                 (long long)(op->journey_ttl_ms > 0 ? op->journey_ttl_ms : 86400000LL * 365));
        const char *argv[] = {op->journey_key, items, op->id, due, marker, csv,
                              op->record,      meta,  ttl};
        size_t lens[9];
        for (size_t i = 0; i < 9; i++)
            lens[i] = argv[i] == op->record ? op->record_len : strlen(argv[i]);
        ac_redis_batch_script(b, item, &add_script, 2, 9, argv, lens);
    } else {
        const char *argv[] = {op->journey_key, items, op->id, due};
        ac_redis_batch_script(b, item, &cancel_script, 2, 4, argv, NULL);
    }
}

/* Where the orders' scripts answer: the ops, and for each an item found
 * already pending, the times to index it again with. */
typedef struct apply_ctx {
    ac_schedule_op_t *ops;
    int64_t (*again)[2]; /* due and release; due is INT64_MIN when not pending */
} apply_ctx_t;

/* Sets ops[item]'s result from its script's reply: a string names the
 * fact that blocked it, a number is the result itself, {1, description}
 * an item already pending, to be indexed again with its own times. */
static int op_reply(void *ctx, size_t item, const redisReply *reply, char *err, size_t errsz)
{
    apply_ctx_t *a = ctx;
    ac_schedule_op_t *op = &a->ops[item];
    (void)err;
    (void)errsz;
    op->blocked_by = NULL;
    a->again[item][0] = INT64_MIN;
    if (op->type == AC_SCHEDULE_DEFER) {
        op->result = AC_SCHEDULE_ADDED;
    } else if (reply->type == REDIS_REPLY_STRING) {
        op->result = AC_SCHEDULE_BLOCKED;
        op->blocked_by = sched_fact_label(reply->str);
    } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
               reply->element[1]->type == REDIS_REPLY_STRING) {
        long long due = 0, release = 0;
        op->result = AC_SCHEDULE_ALREADY;
        if (sscanf(reply->element[1]->str, "%lld %lld", &due, &release) == 2) {
            a->again[item][0] = due;
            a->again[item][1] = release;
        }
    } else {
        op->result = reply->type == REDIS_REPLY_INTEGER ? (ac_schedule_result_t)reply->integer
                                                        : AC_SCHEDULE_NONE;
    }
    return 0;
}

/* Queues op's bucket entries after its order's script answered: written
 * for what was added or deferred (overwriting a lease: the item changed),
 * written only if missing for an item already pending (its entries may be
 * leased by a firer right now), removed for what was cancelled. */
static void append_bucket_op(ac_schedule_t *s, ac_redis_batch_t *b, const ac_schedule_op_t *op,
                             const int64_t again[2])
{
    char queue[64], release[64], member[SCHED_KEY_LEN], due[24], rel[24];
    int pending = op->result == AC_SCHEDULE_ALREADY && again[0] != INT64_MIN;
    if (op->result != AC_SCHEDULE_ADDED && op->result != AC_SCHEDULE_CANCELLED && !pending)
        return;
    sched_bucket_keys(ac_schedule_bucket(op->journey_key, s->buckets), queue, release,
                      sizeof(queue));
    sched_member(op->id, op->journey_key, member, sizeof(member));
    if (op->result == AC_SCHEDULE_CANCELLED) {
        ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "ZREM %s %s", queue, member);
        ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "ZREM %s %s", release, member);
        return;
    }
    int64_t d = pending ? again[0] : op->due_ms, r = pending ? again[1] : op->release_ms;
    snprintf(due, sizeof(due), "%lld", (long long)d);
    snprintf(rel, sizeof(rel), "%lld", (long long)(r > d ? r : d));
    const char *fmt = pending ? "ZADD %s NX %s %s" : "ZADD %s %s %s";
    ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, fmt, queue, due, member);
    ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, fmt, release, rel, member);
}

/* Two round trips: the orders' scripts decide, then the buckets follow
 * what they decided. An entry is never written before its item, so a
 * firer never finds an entry whose item is still to come. */
int ac_schedule_apply(ac_schedule_t *s, ac_schedule_op_t *ops, size_t n, char *err, size_t errsz)
{
    apply_ctx_t a = {ops, NULL};
    ac_redis_batch_t *b = NULL;
    int rc = -1;
    if (n == 0)
        return 0;
    if (sched_buckets_ensure(s, err, errsz) < 0)
        return -1;
    if (!(a.again = calloc(n, sizeof(*a.again)))) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    if (!(b = ac_redis_batch_begin(s->r, op_reply, &a, err, errsz)))
        goto out;
    for (size_t i = 0; i < n; i++) {
        a.again[i][0] = INT64_MIN;
        ops[i].result = AC_SCHEDULE_NONE; /* an op without its order's key stays so */
        if (ops[i].journey_key && ops[i].id)
            append_order_op(b, i, &ops[i]);
    }
    if (ac_redis_batch_exec(b, err, errsz) < 0)
        goto out;
    if (!(b = ac_redis_batch_begin(s->r, NULL, NULL, err, errsz)))
        goto out;
    for (size_t i = 0; i < n; i++)
        append_bucket_op(s, b, &ops[i], a.again[i]);
    rc = ac_redis_batch_exec(b, err, errsz);
out:
    free(a.again);
    return rc;
}
