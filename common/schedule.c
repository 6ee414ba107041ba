#include "schedule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journey.h"

#define KEY_QUEUE "ac:sched"
#define KEY_ITEMS "ac:sched:items"
#define KEY_META  "ac:sched:meta"
/* The same ids scored by when each fires whatever the watermark says
 * (watermark.h): its due time plus the longest it may be held. */
#define KEY_RELEASE "ac:sched:release"

/* Records taken in one round, at most (plus the last one's size). */
#define TAKE_MAX_BYTES "8388608"

/* An item's description is "<due ms> <kind> <blockers> <requires> <journey
 * key>": blockers and requires are comma-separated fact names (possibly
 * empty), and the journey key goes last because it is the only part that
 * may hold spaces.
 *
 * A marker field in the journey ("s:<kind>" = due ms) makes adding
 * idempotent: a replayed delivery does not re-add a review request that
 * already fired. An earlier due time wins while the item is still pending
 * (the first of two parcels arrived first, whatever order we heard of them
 * in). Cancelling or dropping an item removes its marker: the fact that
 * stopped it also blocks adding it again at that time, while an earlier
 * delivery heard of later may still add it, due before the fact. */

/* KEYS[1] journey, KEYS[2] queue, KEYS[3] items, KEYS[4] meta, KEYS[5]
 * release; ARGV[1] id, ARGV[2] due, ARGV[3] marker field, ARGV[4]
 * blockers, ARGV[5] record, ARGV[6] description, ARGV[7] the journey's
 * expiry should this create it, ARGV[8] the release time.
 * Returns 0 (added), 1 (already) or the blocking fact's name. */
static ac_redis_script_t add_script = {
    "local due = tonumber(ARGV[2])\n"
    "for f in string.gmatch(ARGV[4], '[^,]+') do\n"
    "  local t = redis.call('HGET', KEYS[1], f)\n"
    "  if t and tonumber(t) <= due then return f end\n"
    "end\n"
    "local cur = redis.call('HGET', KEYS[1], ARGV[3])\n"
    "if cur then\n"
    "  if tonumber(cur) <= due then return 1 end\n"
    "  if redis.call('HEXISTS', KEYS[4], ARGV[1]) == 0 then return 1 end\n"
    "end\n"
    "redis.call('HSET', KEYS[1], ARGV[3], ARGV[2])\n"
    "if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[7]) end\n"
    "redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])\n"
    "redis.call('HSET', KEYS[3], ARGV[1], ARGV[5])\n"
    "redis.call('HSET', KEYS[4], ARGV[1], ARGV[6])\n"
    "redis.call('ZADD', KEYS[5], ARGV[8], ARGV[1])\n"
    "return 0\n",
    {0}};

/* KEYS[1] queue, KEYS[2] items, KEYS[3] meta, KEYS[4] release; ARGV[1]
 * id, ARGV[2] due, ARGV[3] record, ARGV[4] description, ARGV[5] release. */
static ac_redis_script_t defer_script = {"redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])\n"
                                         "redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])\n"
                                         "redis.call('HSET', KEYS[3], ARGV[1], ARGV[4])\n"
                                         "redis.call('ZADD', KEYS[4], ARGV[5], ARGV[1])\n"
                                         "return 0\n",
                                         {0}};

/* Removes item id and (unless keep_marker) its marker; m is its
 * description. An item dropped for a missing requirement (no consent)
 * keeps its marker: no later delivery of the order brings it back. */
#define FORGET_LUA                                                                                 \
    "local function forget(id, m, keep_marker)\n"                                                  \
    "  redis.call('ZREM', KEYS[1], id)\n"                                                          \
    "  redis.call('HDEL', KEYS[2], id)\n"                                                          \
    "  redis.call('HDEL', KEYS[3], id)\n"                                                          \
    "  redis.call('ZREM', KEYS[4], id)\n"                                                          \
    "  if m and not keep_marker then\n"                                                            \
    "    local _, kind, _, _, jk = string.match(m, '^(-?%d+) (%S+) (%S*) (%S*) (.*)$')\n"          \
    "    if kind then redis.call('HDEL', jk, 's:' .. kind) end\n"                                  \
    "  end\n"                                                                                      \
    "end\n"

/* KEYS[1] queue, KEYS[2] items, KEYS[3] meta, KEYS[4] release; ARGV[1]
 * id, ARGV[2] since:
 * an item due before the blocking fact happened stays (it fired, or will,
 * just as it would have had the events arrived in order). */
static ac_redis_script_t cancel_script = {
    FORGET_LUA "local m = redis.call('HGET', KEYS[3], ARGV[1])\n"
               "if not m then return 4 end\n"
               "if tonumber(string.match(m, '^(-?%d+)')) < tonumber(ARGV[2]) then return 4 end\n"
               "forget(ARGV[1], m)\n"
               "return 3\n",
    {0}};

/* KEYS[1] queue, KEYS[2] items, KEYS[3] meta, KEYS[4] release; ARGV[1]
 * now, ARGV[2] lease end, ARGV[3] max items, ARGV[4] max bytes of records
 * (a round stops there, after at least one, so that its reply stays well
 * within the client's timeout however large the records are), ARGV[5] the
 * highest due time the watermark lets fire (as a ZRANGEBYSCORE bound),
 * ARGV[6] the lowest it holds back (for ZCOUNT).
 *
 * Takes the items due within the watermark, then those whose release time
 * has come whatever the watermark says. Returns the count of items held
 * back by the watermark, then id, kind, due, status ("fire"; "late" for
 * an item fired on its release time while the watermark held it; a
 * blocking fact; or "no_<fact>" for a required fact that is missing) and
 * record for each item taken (a blocked one's too: the retention report
 * counts it as suppressed, per store). */
static ac_redis_script_t take_script = {
    FORGET_LUA
    "local cand, seen = {}, {}\n"
    "for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[5], 'LIMIT', 0, "
    "ARGV[3])) do\n"
    "  seen[id] = true table.insert(cand, {id, false})\n"
    "end\n"
    "for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', ARGV[1], 'LIMIT', 0, "
    "ARGV[3])) do\n"
    "  if not seen[id] and #cand < tonumber(ARGV[3]) then\n"
    "    seen[id] = true table.insert(cand, {id, true})\n"
    "  end\n"
    "end\n"
    "local out, bytes = {0}, 0\n"
    "local lease = tonumber(ARGV[2])\n"
    "for _, c in ipairs(cand) do\n"
    "  local id = c[1]\n"
    "  if bytes >= tonumber(ARGV[4]) then break end\n"
    "  local m = redis.call('HGET', KEYS[3], id)\n"
    "  local rec = redis.call('HGET', KEYS[2], id)\n"
    "  local due, kind, bl, rq, jk\n"
    "  if m then due, kind, bl, rq, jk = string.match(m, '^(-?%d+) (%S+) (%S*) (%S*) (.*)$') end\n"
    "  if not due or not rec then\n"
    "    forget(id, m)\n"
    "  else\n"
    "    local why = nil\n"
    "    for f in string.gmatch(bl, '[^,]+') do\n"
    "      local t = redis.call('HGET', jk, f)\n"
    "      if t and tonumber(t) <= tonumber(due) then why = f break end\n"
    "    end\n"
    "    if not why then\n"
    "      for f in string.gmatch(rq, '[^,]+') do\n"
    "        if redis.call('HEXISTS', jk, f) == 0 then why = 'no_' .. f break end\n"
    "      end\n"
    "    end\n"
    "    if why then\n"
    "      forget(id, m, string.sub(why, 1, 3) == 'no_')\n"
    "      table.insert(out, id) table.insert(out, kind) table.insert(out, due)\n"
    "      table.insert(out, why) table.insert(out, rec)\n"
    "    else\n"
    "      redis.call('ZADD', KEYS[1], 'XX', lease, id)\n"
    "      local r = redis.call('ZSCORE', KEYS[4], id)\n"
    "      if r and tonumber(r) < lease then redis.call('ZADD', KEYS[4], 'XX', lease, id) end\n"
    "      bytes = bytes + #rec\n"
    "      local late = c[2] and (bl ~= '' or rq ~= '') and\n"
    "        (ARGV[6] == '-inf' or tonumber(due) >= tonumber(ARGV[6]))\n"
    "      table.insert(out, id) table.insert(out, kind) table.insert(out, due)\n"
    "      table.insert(out, late and 'late' or 'fire') table.insert(out, rec)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "out[1] = redis.call('ZCOUNT', KEYS[1], ARGV[6], ARGV[1])\n"
    "return out\n",
    {0}};

/* KEYS[1] queue, KEYS[2] items, KEYS[3] meta, KEYS[4] release; ARGV[1]
 * id. The marker stays: the message went out. */
static ac_redis_script_t ack_script = {"redis.call('ZREM', KEYS[1], ARGV[1])\n"
                                       "redis.call('HDEL', KEYS[2], ARGV[1])\n"
                                       "redis.call('HDEL', KEYS[3], ARGV[1])\n"
                                       "redis.call('ZREM', KEYS[4], ARGV[1])\n"
                                       "return 0\n",
                                       {0}};

void ac_schedule_register(ac_redis_t *r)
{
    ac_redis_register_script(r, &add_script);
    ac_redis_register_script(r, &defer_script);
    ac_redis_register_script(r, &cancel_script);
    ac_redis_register_script(r, &take_script);
    ac_redis_register_script(r, &ack_script);
}

static const char *fact_label(const char *name)
{
    /* The reply's string dies with the reply: map it to a static name. */
    for (int f = 0; f < AC_FACT__COUNT; f++)
        if (strcmp(name, ac_fact_name((ac_fact_t)f)) == 0)
            return ac_fact_name((ac_fact_t)f);
    if (strcmp(name, "no_consent") == 0)
        return "no_consent";
    return "unknown";
}

/* Queues one operation's script in b, its reply to go to ops[item]. */
static void append_op(ac_redis_batch_t *b, size_t item, const ac_schedule_op_t *op)
{
    char due[24], release[24], marker[64], meta[700], ttl[24];
    const char *csv = op->type == AC_SCHEDULE_DEFER && op->blockers
                          ? op->blockers
                          : ac_journey_blockers_csv(op->kind);
    snprintf(due, sizeof(due), "%lld", (long long)op->due_ms);
    snprintf(release, sizeof(release), "%lld",
             (long long)(op->release_ms > op->due_ms ? op->release_ms : op->due_ms));
    if (op->type != AC_SCHEDULE_CANCEL)
        snprintf(meta, sizeof(meta), "%lld %s %s %s %s", (long long)op->due_ms,
                 ac_kind_name(op->kind), csv, ac_journey_requires_csv(op->kind), op->journey_key);
    if (op->type == AC_SCHEDULE_DEFER) {
        const char *argv[] = {KEY_QUEUE, KEY_ITEMS,  KEY_META, KEY_RELEASE, op->id,
                              due,       op->record, meta,     release};
        size_t lens[] = {strlen(KEY_QUEUE),   strlen(KEY_ITEMS), strlen(KEY_META),
                         strlen(KEY_RELEASE), strlen(op->id),    strlen(due),
                         op->record_len,      strlen(meta),      strlen(release)};
        ac_redis_batch_script(b, item, &defer_script, 4, 9, argv, lens);
        return;
    }
    if (op->type == AC_SCHEDULE_ADD) {
        snprintf(marker, sizeof(marker), "s:%s", ac_kind_name(op->kind));
        snprintf(ttl, sizeof(ttl), "%lld",
                 (long long)(op->journey_ttl_ms > 0 ? op->journey_ttl_ms : 86400000LL * 365));
        const char *argv[] = {
            op->journey_key, KEY_QUEUE, KEY_ITEMS,  KEY_META, KEY_RELEASE, op->id, due,
            marker,          csv,       op->record, meta,     ttl,         release};
        size_t lens[13];
        for (size_t i = 0; i < 13; i++)
            lens[i] = argv[i] == op->record ? op->record_len : strlen(argv[i]);
        ac_redis_batch_script(b, item, &add_script, 5, 13, argv, lens);
        return;
    }
    const char *argv[] = {KEY_QUEUE, KEY_ITEMS, KEY_META, KEY_RELEASE, op->id, due};
    ac_redis_batch_script(b, item, &cancel_script, 4, 6, argv, NULL);
}

/* Sets ops[item]'s result from its script's reply: a string names the
 * fact that blocked it, a number is the result itself. */
static int op_reply(void *ctx, size_t item, const redisReply *reply, char *err, size_t errsz)
{
    ac_schedule_op_t *op = &((ac_schedule_op_t *)ctx)[item];
    (void)err;
    (void)errsz;
    op->blocked_by = NULL;
    if (reply->type == REDIS_REPLY_STRING) {
        op->result = AC_SCHEDULE_BLOCKED;
        op->blocked_by = fact_label(reply->str);
    } else {
        op->result = reply->type == REDIS_REPLY_INTEGER ? (ac_schedule_result_t)reply->integer
                                                        : AC_SCHEDULE_NONE;
    }
    return 0;
}

int ac_schedule_apply(ac_redis_t *r, ac_schedule_op_t *ops, size_t n, char *err, size_t errsz)
{
    if (n == 0)
        return 0;
    ac_redis_batch_t *b = ac_redis_batch_begin(r, op_reply, ops, err, errsz);
    if (!b)
        return -1;
    for (size_t i = 0; i < n; i++)
        append_op(b, i, &ops[i]);
    return ac_redis_batch_exec(b, err, errsz);
}

/* Copies one taken item (five reply elements) into d. Returns 1 when it
 * is usable, 0 to skip it, -1 when out of memory. */
static int parse_due(redisReply **e, ac_schedule_due_t *d)
{
    memset(d, 0, sizeof(*d));
    if (e[0]->type != REDIS_REPLY_STRING || !ac_message_id_valid(e[0]->str) ||
        e[1]->type != REDIS_REPLY_STRING || ac_kind_parse(e[1]->str, &d->kind) < 0)
        return 0;
    memcpy(d->id, e[0]->str, AC_MESSAGE_ID_LEN);
    d->due_ms = e[2]->type == REDIS_REPLY_STRING ? strtoll(e[2]->str, NULL, 10) : 0;
    int fire = e[3]->type == REDIS_REPLY_STRING &&
               (strcmp(e[3]->str, "fire") == 0 || strcmp(e[3]->str, "late") == 0);
    if (!fire)
        d->blocked_by = fact_label(e[3]->type == REDIS_REPLY_STRING ? e[3]->str : "");
    else
        d->hold_expired = strcmp(e[3]->str, "late") == 0;
    if (e[4]->type != REDIS_REPLY_STRING)
        return d->blocked_by ? 1 : 0;
    if (!(d->record = malloc(e[4]->len + 1)))
        return -1;
    memcpy(d->record, e[4]->str, e[4]->len);
    d->record[e[4]->len] = '\0';
    d->record_len = e[4]->len;
    return 1;
}

/* Where the take script's reply goes. */
typedef struct take_out {
    ac_schedule_due_t *out;
    size_t max, *n;
    long long *held;
} take_out_t;

/* Reads the take script's reply: the number of items held back, then
 * five elements per item taken. */
static int take_reply(void *ctx, size_t item, const redisReply *rep, char *err, size_t errsz)
{
    take_out_t *t = ctx;
    (void)item;
    if (t->held && rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER)
        *t->held = rep->element[0]->integer;
    for (size_t i = 1; rep->type == REDIS_REPLY_ARRAY && i + 4 < rep->elements && *t->n < t->max;
         i += 5) {
        int ok = parse_due(rep->element + i, &t->out[*t->n]);
        if (ok < 0) {
            /* The item stays leased and fires again once the lease lapses. */
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        *t->n += (size_t)ok;
    }
    return 0;
}

int ac_schedule_take_until(ac_redis_t *r, int64_t now_ms, int64_t bound_ms, int64_t lease_ms,
                           size_t max, ac_schedule_due_t *out, size_t *n, long long *held,
                           char *err, size_t errsz)
{
    char now[24], until[24], lim[24], upto[32], from[32];
    *n = 0;
    if (held)
        *held = 0;
    if (max == 0)
        return 0;
    take_out_t t = {out, max, n, held};
    ac_redis_batch_t *b = ac_redis_batch_begin(r, take_reply, &t, err, errsz);
    if (!b)
        return -1;
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(until, sizeof(until), "%lld", (long long)(now_ms + lease_ms));
    snprintf(lim, sizeof(lim), "%zu", max);
    if (bound_ms > now_ms)
        bound_ms = now_ms + 1;
    if (bound_ms == AC_SCHEDULE_NO_BOUND) {
        snprintf(upto, sizeof(upto), "-inf");
        snprintf(from, sizeof(from), "-inf");
    } else {
        snprintf(upto, sizeof(upto), "(%lld", (long long)bound_ms);
        snprintf(from, sizeof(from), "%lld", (long long)bound_ms);
    }
    const char *argv[] = {KEY_QUEUE, KEY_ITEMS, KEY_META,       KEY_RELEASE, now,
                          until,     lim,       TAKE_MAX_BYTES, upto,        from};
    ac_redis_batch_script(b, 0, &take_script, 4, 10, argv, NULL);
    return ac_redis_batch_exec(b, err, errsz);
}

int ac_schedule_take(ac_redis_t *r, int64_t now_ms, int64_t lease_ms, size_t max,
                     ac_schedule_due_t *out, size_t *n, char *err, size_t errsz)
{
    return ac_schedule_take_until(r, now_ms, now_ms + 1, lease_ms, max, out, n, NULL, err, errsz);
}

int ac_schedule_ack(ac_redis_t *r, const char *const *ids, size_t n, char *err, size_t errsz)
{
    if (n == 0)
        return 0;
    ac_redis_batch_t *b = ac_redis_batch_begin(r, NULL, NULL, err, errsz);
    if (!b)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const char *argv[] = {KEY_QUEUE, KEY_ITEMS, KEY_META, KEY_RELEASE, ids[i]};
        ac_redis_batch_script(b, AC_REDIS_BATCH_NO_ITEM, &ack_script, 4, 5, argv, NULL);
    }
    return ac_redis_batch_exec(b, err, errsz);
}

int ac_schedule_pending(ac_redis_t *r, long long *count, char *err, size_t errsz)
{
    redisReply *rep = ac_redis_command(r, err, errsz, "ZCARD %s", KEY_QUEUE);
    if (!rep)
        return -1;
    *count = rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
    freeReplyObject(rep);
    return 0;
}

void ac_schedule_due_clear(ac_schedule_due_t *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(items[i].record);
        items[i].record = NULL;
    }
}
