#include "schedule_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evzip.h"
#include "journey.h"
#include "log.h"
#include "redis_key.h"
#include "slot.h"

/* An item's description, beside its record in the order's hash (field
 * "<id>:m"), is "<due ms> <release ms> <kind> <blockers> <requires>":
 * blockers and requires are comma-separated fact names, possibly empty.
 * The record itself is in one of two forms:
 *
 * - its own notification record, in field "<id>": the form of DEFER (a
 *   message put back with its attempts), and of every item written by
 *   earlier versions;
 * - the event it was decided from, trimmed (ac_event_encode()), shared by
 *   every item of the order decided from the same event (a delivery
 *   schedules a review request and a referral invitation) in field
 *   "e:<ref>", packed (evzip.h), ref being a hash of the packed bytes; the
 *   description then ends in " <occurred ms> <ref>", and the record is
 *   rebuilt from the two when the item fires (schedule_take.c). Two
 *   different events whose hashes collide in one order get "<ref>.1",
 *   "<ref>.2"...: an event is never overwritten by another. Whatever
 *   removes an item removes its event with it once no other item of the
 *   order refers to it.
 *
 * A marker field in the journey ("s:<kind>" = due ms) makes adding
 * idempotent: a replayed delivery does not re-add a review request that
 * already fired. An earlier due time wins while the item is still pending
 * (the first of two parcels arrived first, whatever order we heard of them
 * in). Cancelling or dropping an item removes its marker: the fact that
 * stopped it also blocks adding it again at that time, while an earlier
 * delivery heard of later may still add it, due before the fact. */

/* KEYS[1] journey, KEYS[2] the order's items; ARGV[1] id, ARGV[2] due,
 * ARGV[3] marker field, ARGV[4] blockers, ARGV[5] record or event,
 * ARGV[6] description, ARGV[7] the journey's expiry should this create
 * it, ARGV[8] the event's ref ("" when ARGV[5] is a record), ARGV[9] the
 * event's time. Returns 0 (added: index it), 1 (already), {1,
 * description} (already and still pending: index it again, in case an
 * earlier try wrote the item but not its bucket entries) or the blocking
 * fact's name. An item replaced by an earlier due time lets go of the
 * event it shared. */
static ac_redis_script_t add_script = {
    SCHED_LUA_REFS
    "local due = tonumber(ARGV[2])\n"
    "for f in string.gmatch(ARGV[4], '[^,]+') do\n"
    "  local t = redis.call('HGET', KEYS[1], f)\n"
    "  if t and tonumber(t) <= due then return f end\n"
    "end\n"
    "local m = redis.call('HGET', KEYS[2], ARGV[1] .. ':m')\n"
    "local cur = redis.call('HGET', KEYS[1], ARGV[3])\n"
    "if cur then\n"
    "  if tonumber(cur) <= due then\n"
    "    if m then return {1, m} end\n"
    "    return 1\n"
    "  end\n"
    "  if not m then return 1 end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], ARGV[3], ARGV[2])\n"
    "if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[7]) end\n"
    "local old, ref = sched_ref(m), nil\n"
    "if ARGV[8] == '' then\n"
    "  redis.call('HSET', KEYS[2], ARGV[1], ARGV[5], ARGV[1] .. ':m', ARGV[6])\n"
    "else\n"
    "  local n = 0\n"
    "  ref = ARGV[8]\n"
    "  while true do\n"
    "    local have = redis.call('HGET', KEYS[2], 'e:' .. ref)\n"
    "    if not have or have == ARGV[5] then break end\n"
    "    n = n + 1\n"
    "    ref = ARGV[8] .. '.' .. n\n"
    "  end\n"
    "  redis.call('HSET', KEYS[2], 'e:' .. ref, ARGV[5], ARGV[1] .. ':m',\n"
    "             ARGV[6] .. ' ' .. ARGV[9] .. ' ' .. ref)\n"
    "  redis.call('HDEL', KEYS[2], ARGV[1])\n"
    "end\n"
    "if old and old ~= ref then sched_release(KEYS[2], old) end\n"
    "return 0\n",
    {0}};

/* KEYS[1] journey, KEYS[2] the order's items; ARGV[1] id, ARGV[2] since:
 * an item due before the blocking fact happened stays (it fired, or will,
 * just as it would have had the events arrived in order). Returns 3
 * (cancelled) or 4 (nothing to cancel). */
static ac_redis_script_t cancel_script = {
    SCHED_LUA_REFS "local m = redis.call('HGET', KEYS[2], ARGV[1] .. ':m')\n"
                   "if not m then return 4 end\n"
                   "local due, _, kind = string.match(m, '^(-?%d+) (-?%d+) (%S+)')\n"
                   "if not due or tonumber(due) < tonumber(ARGV[2]) then return 4 end\n"
                   "redis.call('HDEL', KEYS[2], ARGV[1], ARGV[1] .. ':m')\n"
                   "redis.call('HDEL', KEYS[1], 's:' .. kind)\n"
                   "sched_release(KEYS[2], sched_ref(m))\n"
                   "return 3\n",
    {0}};

/* KEYS[1] the order's items; ARGV[1] id, ARGV[2] record, ARGV[3]
 * description. Puts a message back with its own record, letting go of
 * the event the item it replaces shared. */
static ac_redis_script_t defer_script = {
    SCHED_LUA_REFS "local old = sched_ref(redis.call('HGET', KEYS[1], ARGV[1] .. ':m'))\n"
                   "redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], ARGV[1] .. ':m', ARGV[3])\n"
                   "sched_release(KEYS[1], old)\n"
                   "return 0\n",
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
    ac_redis_register_script(r, &defer_script);
    ac_redis_register_script(r, &sched_ack_script);
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

/* The ref of an event in its order's hash: 64-bit FNV-1a of its bytes in
 * hex. Equal events share it; the add script deals with the rare
 * different event of the same order that collides. */
static void event_ref(const char *ev, size_t len, char ref[17])
{
    static const char hex[] = "0123456789abcdef";
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)ev[i];
        h *= 1099511628211ULL;
    }
    for (int i = 15; i >= 0; i--, h >>= 4)
        ref[i] = hex[h & 15];
    ref[16] = '\0';
}

/* The packed form (evzip.h) of the batch's last event: an order's items
 * decided from one event come one after the other, and are packed once. */
typedef struct packed {
    const char *src;
    size_t src_len;
    char *data;
    size_t len;
} packed_t;

/* Packs op's event into p unless p holds it already. 0, or -1 when out of
 * memory. */
static int pack_event(packed_t *p, const ac_schedule_op_t *op)
{
    if (p->data && p->src == op->event && p->src_len == op->event_len)
        return 0;
    free(p->data);
    p->src = op->event;
    p->src_len = op->event_len;
    p->data = ac_evzip_pack(op->event, op->event_len, &p->len);
    return p->data ? 0 : -1;
}

/* Queues an ADD: the item with its event (packed) when op has one, else
 * with its record. */
static void append_add(ac_redis_batch_t *b, size_t item, const ac_schedule_op_t *op,
                       const packed_t *pk, const char *items, const char *due, const char *csv,
                       const char *meta)
{
    char marker[64], ttl[24], ref[17] = "", occurred[24] = "0";
    const char *payload = op->event ? pk->data : op->record;
    size_t payload_len = op->event ? pk->len : op->record_len;
    snprintf(marker, sizeof(marker), "s:%s", ac_kind_name(op->kind));
    snprintf(ttl, sizeof(ttl), "%lld",
             (long long)(op->journey_ttl_ms > 0 ? op->journey_ttl_ms : 86400000LL * 365));
    if (op->event) {
        event_ref(pk->data, pk->len, ref);
        snprintf(occurred, sizeof(occurred), "%lld", (long long)op->occurred_ms);
    }
    const char *argv[] = {op->journey_key, items, op->id, due, marker,  csv,
                          payload,         meta,  ttl,    ref, occurred};
    size_t lens[11];
    for (size_t i = 0; i < 11; i++)
        lens[i] = i == 6 ? payload_len : strlen(argv[i]);
    ac_redis_batch_script(b, item, &add_script, 2, 11, argv, lens);
}

/* Queues op's script on its order's slot, its reply to go to ops[item]. */
static void append_order_op(ac_redis_batch_t *b, size_t item, const ac_schedule_op_t *op,
                            const packed_t *pk)
{
    char due[24], meta[700], items[SCHED_KEY_LEN];
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
        const char *argv[] = {items, op->id, op->record, meta};
        const size_t lens[] = {strlen(items), strlen(op->id), op->record_len, strlen(meta)};
        ac_redis_batch_script(b, item, &defer_script, 1, 4, argv, lens);
    } else if (op->type == AC_SCHEDULE_ADD) {
        append_add(b, item, op, pk, items, due, csv, meta);
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

/* One application of ops, spread over the caller's batches. */
struct ac_schedule_run {
    ac_schedule_t *s;
    apply_ctx_t a;
    size_t n;
};

ac_schedule_run_t *ac_schedule_run_new(ac_schedule_t *s, ac_schedule_op_t *ops, size_t n, char *err,
                                       size_t errsz)
{
    ac_schedule_run_t *run = NULL;
    if (n && sched_buckets_ensure(s, err, errsz) < 0)
        return NULL;
    if (!(run = calloc(1, sizeof(*run))) ||
        (n && !(run->a.again = calloc(n, sizeof(*run->a.again))))) {
        snprintf(err, errsz, "out of memory");
        free(run);
        return NULL;
    }
    run->s = s;
    run->a.ops = ops;
    run->n = n;
    return run;
}

void ac_schedule_run_destroy(ac_schedule_run_t *run)
{
    if (!run)
        return;
    free(run->a.again);
    free(run);
}

int ac_schedule_append_orders(ac_schedule_run_t *run, ac_redis_batch_t *b)
{
    ac_schedule_op_t *ops = run->a.ops;
    packed_t pk = {NULL, 0, NULL, 0};
    int rc = 0;
    if (ac_redis_batch_handler(b, op_reply, &run->a, 0) < 0)
        return 0; /* the batch failed: its exec says so */
    for (size_t i = 0; i < run->n && rc == 0; i++) {
        run->a.again[i][0] = INT64_MIN;
        ops[i].result = AC_SCHEDULE_NONE; /* an op without its order's key stays so */
        if (!ops[i].journey_key || !ops[i].id)
            continue;
        if (ops[i].type == AC_SCHEDULE_ADD && ops[i].event && pack_event(&pk, &ops[i]) < 0) {
            rc = -1;
            break;
        }
        append_order_op(b, i, &ops[i], &pk);
    }
    free(pk.data);
    return rc;
}

void ac_schedule_append_buckets(ac_schedule_run_t *run, ac_redis_batch_t *b)
{
    for (size_t i = 0; i < run->n; i++)
        append_bucket_op(run->s, b, &run->a.ops[i], run->a.again[i]);
}

/* Two round trips: the orders' scripts decide, then the buckets follow
 * what they decided. An entry is never written before its item, so a
 * firer never finds an entry whose item is still to come. */
int ac_schedule_apply(ac_schedule_t *s, ac_schedule_op_t *ops, size_t n, char *err, size_t errsz)
{
    ac_redis_batch_t *b = NULL;
    int rc = -1;
    if (n == 0)
        return 0;
    ac_schedule_run_t *run = ac_schedule_run_new(s, ops, n, err, errsz);
    if (!run || !(b = ac_redis_batch_begin(s->r, NULL, NULL, err, errsz)))
        goto out;
    if (ac_schedule_append_orders(run, b) < 0) {
        snprintf(err, errsz, "out of memory");
        ac_redis_batch_abort(b);
        goto out;
    }
    if (ac_redis_batch_exec(b, err, errsz) < 0)
        goto out;
    if (!(b = ac_redis_batch_begin(s->r, NULL, NULL, err, errsz)))
        goto out;
    ac_schedule_append_buckets(run, b);
    rc = ac_redis_batch_exec(b, err, errsz);
out:
    ac_schedule_run_destroy(run);
    return rc;
}
