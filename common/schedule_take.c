/* Firing (schedule.h): leasing due entries in the buckets, checking each
 * item against its order's journey, and acknowledging what Kafka has. */
#include "schedule_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evzip.h"
#include "timeutil.h"

/* Records taken in one round, at most (plus the last chunk's). */
#define TAKE_MAX_BYTES (8u * 1024 * 1024)
/* The first chunk of items checked against their journeys: the next
 * chunk is as large as the records seen so far say fits in the byte
 * bound (at least twice as large), so that small records take two round
 * trips and records of a megabyte come eight at a time. */
#define CHECK_CHUNK 8

/* KEYS[1] the bucket by due time, KEYS[2] by release time; ARGV[1] now,
 * ARGV[2] lease end, ARGV[3] max entries, ARGV[4] the highest due time the
 * watermark lets fire (a ZRANGEBYSCORE bound), ARGV[5] the lowest it holds
 * back (for ZCOUNT).
 *
 * Leases the entries due within the watermark, then those whose release
 * time has come whatever the watermark says. Returns the count of entries
 * held back, then for each entry leased: member, its due and release
 * scores before the lease (to give it back untouched when the round ends
 * before it is checked), and 1 when it was taken for its release time. */
ac_redis_script_t sched_take_script = {
    "local out, seen, n = {0}, {}, 0\n"
    "local lim = tonumber(ARGV[3])\n"
    "local function take(m, due, released)\n"
    "  local r = redis.call('ZSCORE', KEYS[2], m)\n"
    "  redis.call('ZADD', KEYS[1], 'XX', ARGV[2], m)\n"
    "  if r and tonumber(r) < tonumber(ARGV[2]) then\n"
    "    redis.call('ZADD', KEYS[2], 'XX', ARGV[2], m)\n"
    "  end\n"
    "  table.insert(out, m) table.insert(out, due) table.insert(out, r or '')\n"
    "  table.insert(out, released)\n"
    "  n = n + 1\n"
    "end\n"
    "local a = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[4], 'WITHSCORES', 'LIMIT', 0, "
    "lim)\n"
    "for i = 1, #a, 2 do seen[a[i]] = true take(a[i], a[i + 1], 0) end\n"
    "if n < lim then\n"
    "  for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, lim)) "
    "do\n"
    "    if not seen[m] and n < lim then\n"
    "      local d = redis.call('ZSCORE', KEYS[1], m)\n"
    "      if d then take(m, d, 1) else redis.call('ZREM', KEYS[2], m) end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "out[1] = redis.call('ZCOUNT', KEYS[1], ARGV[5], ARGV[1])\n"
    "return out\n",
    {0}};

/* KEYS[1] journey, KEYS[2] the order's items; ARGV[1] id, ARGV[2] 1 when
 * taken for its release time, ARGV[3] the lowest due time the watermark
 * holds back.
 *
 * Returns {"gone"} for an item no longer there (acknowledged, cancelled),
 * else status, kind, due and record, where status is "fire", "late" (an
 * item of a gated kind fired on its release time while the watermark held
 * it), a blocking fact, or "no_<fact>" for a required fact that is
 * missing; for an item that shares its order's event, the record is that
 * event, followed by the event's time, for check_reply() to rebuild the
 * record from. A blocked item is removed here, with its marker unless a
 * requirement was missing (no later delivery of the order brings it back),
 * and its event when no other item refers to it; the retention report
 * counts it as suppressed, per store. */
ac_redis_script_t sched_check_script = {
    SCHED_LUA_REFS
    "local m = redis.call('HGET', KEYS[2], ARGV[1] .. ':m')\n"
    "local due, rel, kind, bl, rq, occ, ref, rec\n"
    "if m then\n"
    "  due, rel, kind, bl, rq, occ, ref = string.match(m, " SCHED_LUA_DESC7 ")\n"
    "  if not due then due, rel, kind, bl, rq = string.match(m, " SCHED_LUA_DESC5 ") end\n"
    "end\n"
    "if ref then rec = redis.call('HGET', KEYS[2], 'e:' .. ref)\n"
    "else rec = redis.call('HGET', KEYS[2], ARGV[1]) end\n"
    "if not due or not rec then\n"
    "  redis.call('HDEL', KEYS[2], ARGV[1], ARGV[1] .. ':m')\n"
    "  sched_release(KEYS[2], ref)\n"
    "  return {'gone'}\n"
    "end\n"
    "local why = nil\n"
    "for f in string.gmatch(bl, '[^,]+') do\n"
    "  local t = redis.call('HGET', KEYS[1], f)\n"
    "  if t and tonumber(t) <= tonumber(due) then why = f break end\n"
    "end\n"
    "if not why then\n"
    "  for f in string.gmatch(rq, '[^,]+') do\n"
    "    if redis.call('HEXISTS', KEYS[1], f) == 0 then why = 'no_' .. f break end\n"
    "  end\n"
    "end\n"
    "if why then\n"
    "  redis.call('HDEL', KEYS[2], ARGV[1], ARGV[1] .. ':m')\n"
    "  sched_release(KEYS[2], ref)\n"
    "  if string.sub(why, 1, 3) ~= 'no_' then redis.call('HDEL', KEYS[1], 's:' .. kind) "
    "end\n"
    "  return {why, kind, due, rec, occ}\n"
    "end\n"
    "local late = ARGV[2] == '1' and (bl ~= '' or rq ~= '') and\n"
    "  (ARGV[3] == '-inf' or tonumber(due) >= tonumber(ARGV[3]))\n"
    "return {late and 'late' or 'fire', kind, due, rec, occ}\n",
    {0}};

/* KEYS[1] the order's items; ARGV[1] id. Removes an item that fired, and
 * its event when no other item of the order refers to it. */
ac_redis_script_t sched_ack_script = {SCHED_LUA_REFS
                                      "local m = redis.call('HGET', KEYS[1], ARGV[1] .. ':m')\n"
                                      "redis.call('HDEL', KEYS[1], ARGV[1], ARGV[1] .. ':m')\n"
                                      "sched_release(KEYS[1], sched_ref(m))\n"
                                      "return 0\n",
                                      {0}};

/* One leased entry of a round, beside the out[] item it becomes. */
typedef enum { CAND_LEASED, CAND_FIRE, CAND_BLOCKED, CAND_GONE } cand_state_t;

typedef struct cand {
    char due[32], release[32]; /* the scores before the lease */
    int released;
    cand_state_t state;
} cand_t;

/* A round: the caller's out[], the candidates beside it, the bounds. */
typedef struct round {
    ac_schedule_t *s;
    ac_schedule_due_t *out;
    cand_t *cand;
    size_t n, max;
    long long held;
    char from[32];
    size_t bytes;
} round_t;

/* Copies a reply string into a fixed buffer; "" when it is not one. */
static void copy_str(char *buf, size_t sz, const redisReply *e)
{
    snprintf(buf, sz, "%s", e->type == REDIS_REPLY_STRING ? e->str : "");
}

/* Reads one bucket's leased entries into the round. */
static int take_reply(void *ctx, size_t item, const redisReply *rep, char *err, size_t errsz)
{
    round_t *t = ctx;
    (void)item;
    (void)err;
    (void)errsz;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1)
        return 0;
    if (rep->element[0]->type == REDIS_REPLY_INTEGER)
        t->held += rep->element[0]->integer;
    for (size_t i = 1; i + 3 < rep->elements && t->n < t->max; i += 4) {
        ac_schedule_due_t *d = &t->out[t->n];
        cand_t *c = &t->cand[t->n];
        const redisReply *m = rep->element[i];
        memset(d, 0, sizeof(*d));
        memset(c, 0, sizeof(*c));
        if (m->type != REDIS_REPLY_STRING ||
            sched_member_split(m->str, m->len, d->id, d->journey_key, sizeof(d->journey_key)) < 0)
            continue; /* not ours: it stays leased, and is looked at again */
        copy_str(c->due, sizeof(c->due), rep->element[i + 1]);
        copy_str(c->release, sizeof(c->release), rep->element[i + 2]);
        c->released = rep->element[i + 3]->type == REDIS_REPLY_INTEGER
                          ? rep->element[i + 3]->integer == 1
                          : (rep->element[i + 3]->type == REDIS_REPLY_STRING &&
                             strcmp(rep->element[i + 3]->str, "1") == 0);
        t->n++;
    }
    return 0;
}

/* Leases entries in count buckets from start on, per entries each. */
static int lease_round(round_t *t, int start, int count, size_t per, int64_t now_ms,
                       int64_t lease_end, const char *upto, char *err, size_t errsz)
{
    char now[24], until[24], lim[24], queue[64], release[64];
    ac_redis_batch_t *b = ac_redis_batch_begin(t->s->r, take_reply, t, err, errsz);
    if (!b)
        return -1;
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(until, sizeof(until), "%lld", (long long)lease_end);
    snprintf(lim, sizeof(lim), "%zu", per);
    for (int k = 0; k < count; k++) {
        sched_bucket_keys((start + k) % t->s->buckets, queue, release, sizeof(queue));
        const char *argv[] = {queue, release, now, until, lim, upto, t->from};
        ac_redis_batch_script(b, (size_t)k, &sched_take_script, 2, 7, argv, NULL);
    }
    return ac_redis_batch_exec(b, err, errsz);
}

/* The record of a checked item: a copy of its own, or rebuilt from the
 * event it shares (the reply's fifth element, the event's time, says
 * which), unpacked. NULL when out of memory (or the event cannot be
 * unpacked, which only a damaged value would cause). */
static char *check_record(const ac_schedule_due_t *d, const redisReply *rep, size_t *len)
{
    const redisReply *rec = rep->element[3];
    if (rep->elements >= 5 && rep->element[4]->type == REDIS_REPLY_STRING) {
        int64_t occurred = strtoll(rep->element[4]->str, NULL, 10);
        size_t n = 0;
        char *ev = ac_evzip_unpack(rec->str, rec->len, &n);
        char *out =
            ev ? ac_message_encode_json(d->id, d->kind, occurred, d->due_ms, ev, n, len) : NULL;
        free(ev);
        return out;
    }
    char *copy = malloc(rec->len + 1);
    if (copy) {
        memcpy(copy, rec->str, rec->len);
        copy[rec->len] = '\0';
        *len = rec->len;
    }
    return copy;
}

/* Reads one item's check: fills out[item] (its record owned) and its state. */
static int check_reply(void *ctx, size_t item, const redisReply *rep, char *err, size_t errsz)
{
    round_t *t = ctx;
    ac_schedule_due_t *d = &t->out[item];
    cand_t *c = &t->cand[item];
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 4 ||
        rep->element[0]->type != REDIS_REPLY_STRING ||
        rep->element[1]->type != REDIS_REPLY_STRING ||
        ac_kind_parse(rep->element[1]->str, &d->kind) < 0 ||
        rep->element[3]->type != REDIS_REPLY_STRING) {
        c->state = CAND_GONE;
        return 0;
    }
    const char *st = rep->element[0]->str;
    d->due_ms =
        rep->element[2]->type == REDIS_REPLY_STRING ? strtoll(rep->element[2]->str, NULL, 10) : 0;
    if (strcmp(st, "fire") == 0 || strcmp(st, "late") == 0) {
        d->hold_expired = st[0] == 'l';
        c->state = CAND_FIRE;
    } else {
        d->blocked_by = sched_fact_label(st);
        c->state = CAND_BLOCKED;
    }
    if (!(d->record = check_record(d, rep, &d->record_len))) {
        /* The item stays leased and fires again once the lease lapses. */
        snprintf(err, errsz, "out of memory rebuilding the record of %s", d->id);
        return -1;
    }
    t->bytes += d->record_len;
    return 0;
}

/* Checks items [from, to) against their journeys in one round trip. */
static int check_chunk(round_t *t, size_t from, size_t to, char *err, size_t errsz)
{
    char items[SCHED_KEY_LEN];
    ac_redis_batch_t *b = ac_redis_batch_begin(t->s->r, check_reply, t, err, errsz);
    if (!b)
        return -1;
    for (size_t i = from; i < to; i++) {
        ac_schedule_due_t *d = &t->out[i];
        sched_items_key(d->journey_key, items, sizeof(items));
        const char *argv[] = {d->journey_key, items, d->id, t->cand[i].released ? "1" : "0",
                              t->from};
        ac_redis_batch_script(b, i, &sched_check_script, 2, 5, argv, NULL);
    }
    return ac_redis_batch_exec(b, err, errsz);
}

/* Ends a round in the buckets: entries whose item is gone or blocked are
 * removed; entries leased but not checked (the round's byte bound came
 * first) get their scores back, to be taken in the next round. */
static int tidy_round(round_t *t, char *err, size_t errsz)
{
    char queue[64], release[64], member[SCHED_KEY_LEN];
    ac_redis_batch_t *b = ac_redis_batch_begin(t->s->r, NULL, NULL, err, errsz);
    if (!b)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        const cand_t *c = &t->cand[i];
        const ac_schedule_due_t *d = &t->out[i];
        if (c->state == CAND_FIRE)
            continue;
        sched_bucket_keys(ac_schedule_bucket(d->journey_key, t->s->buckets), queue, release,
                          sizeof(queue));
        sched_member(d->id, d->journey_key, member, sizeof(member));
        if (c->state != CAND_LEASED) {
            ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "ZREM %s %s", queue, member);
            ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "ZREM %s %s", release, member);
            continue;
        }
        ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "ZADD %s XX %s %s", queue, c->due,
                               member);
        if (c->release[0])
            ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "ZADD %s XX %s %s", release,
                                   c->release, member);
    }
    return ac_redis_batch_exec(b, err, errsz);
}

/* Checks the leased items in growing chunks until the byte bound, so that
 * large records come a few at a time and each reply stays well within the
 * client's timeout, then tidies the buckets and keeps in out[] what fires
 * or was blocked. */
static int check_round(round_t *t, size_t *n, char *err, size_t errsz)
{
    size_t done = 0, chunk = CHECK_CHUNK;
    while (done < t->n && (done == 0 || t->bytes < TAKE_MAX_BYTES)) {
        size_t to = done + chunk < t->n ? done + chunk : t->n;
        if (check_chunk(t, done, to, err, errsz) < 0)
            return -1;
        done = to;
        size_t avg = t->bytes / done ? t->bytes / done : 1;
        size_t fits = t->bytes < TAKE_MAX_BYTES ? (TAKE_MAX_BYTES - t->bytes) / avg : 0;
        chunk = fits > 2 * chunk ? fits : 2 * chunk;
    }
    if (tidy_round(t, err, errsz) < 0)
        return -1;
    for (size_t i = 0; i < t->n; i++) {
        if (t->cand[i].state == CAND_FIRE || t->cand[i].state == CAND_BLOCKED) {
            if (*n != i)
                t->out[*n] = t->out[i];
            (*n)++;
        }
    }
    return 0;
}

/* Looks for items of the old layout now and then, and every round while
 * it finds some, so that an upgrade drains them within seconds. */
static void legacy_poll(ac_schedule_t *s)
{
    char err[256];
    size_t moved = 0;
    int64_t now = ac_time_mono_ms();
    if (now < s->legacy_next_ms || ac_redis_is_cluster(s->r))
        return;
    if (sched_legacy_step(s, 500, &moved, err, sizeof(err)) < 0)
        moved = 0;
    s->legacy_next_ms = moved ? now : now + 60000;
}

int ac_schedule_take_until(ac_schedule_t *s, int64_t now_ms, int64_t bound_ms, int64_t lease_ms,
                           size_t max, ac_schedule_due_t *out, size_t *n, long long *held,
                           char *err, size_t errsz)
{
    char upto[32];
    round_t t = {s, out, NULL, 0, max, 0, "", 0};
    int rc = -1;
    *n = 0;
    if (held)
        *held = 0;
    if (max == 0)
        return 0;
    if (sched_buckets_ensure(s, err, errsz) < 0)
        return -1;
    legacy_poll(s);
    if (!(t.cand = calloc(max, sizeof(*t.cand)))) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    if (bound_ms > now_ms)
        bound_ms = now_ms + 1;
    if (bound_ms == AC_SCHEDULE_NO_BOUND) {
        snprintf(upto, sizeof(upto), "-inf");
        snprintf(t.from, sizeof(t.from), "-inf");
    } else {
        snprintf(upto, sizeof(upto), "(%lld", (long long)bound_ms);
        snprintf(t.from, sizeof(t.from), "%lld", (long long)bound_ms);
    }
    /* Every bucket gets an equal share; with fewer items than buckets
     * wanted, the buckets take turns. */
    int count = (size_t)s->buckets < max ? s->buckets : (int)max;
    int start = (int)(s->cursor % (unsigned)s->buckets);
    s->cursor = (unsigned)((start + count) % s->buckets);
    if (lease_round(&t, start, count, max / (size_t)count, now_ms, now_ms + lease_ms, upto, err,
                    errsz) < 0)
        goto out;
    if (held)
        *held = t.held;
    rc = check_round(&t, n, err, errsz);
out:
    if (rc < 0) {
        for (size_t i = 0; i < t.n; i++)
            free(out[i].record), out[i].record = NULL;
        *n = 0;
    }
    free(t.cand);
    return rc;
}

int ac_schedule_take(ac_schedule_t *s, int64_t now_ms, int64_t lease_ms, size_t max,
                     ac_schedule_due_t *out, size_t *n, char *err, size_t errsz)
{
    return ac_schedule_take_until(s, now_ms, now_ms + 1, lease_ms, max, out, n, NULL, err, errsz);
}

int ac_schedule_ack(ac_schedule_t *s, const ac_schedule_due_t *const *items, size_t n, char *err,
                    size_t errsz)
{
    char queue[64], release[64], member[SCHED_KEY_LEN], hash[SCHED_KEY_LEN];
    if (n == 0)
        return 0;
    if (sched_buckets_ensure(s, err, errsz) < 0)
        return -1;
    ac_redis_batch_t *b = ac_redis_batch_begin(s->r, NULL, NULL, err, errsz);
    if (!b)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const ac_schedule_due_t *d = items[i];
        sched_items_key(d->journey_key, hash, sizeof(hash));
        sched_bucket_keys(ac_schedule_bucket(d->journey_key, s->buckets), queue, release,
                          sizeof(queue));
        sched_member(d->id, d->journey_key, member, sizeof(member));
        const char *argv[] = {hash, d->id};
        ac_redis_batch_script(b, AC_REDIS_BATCH_NO_ITEM, &sched_ack_script, 1, 2, argv, NULL);
        ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "ZREM %s %s", queue, member);
        ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "ZREM %s %s", release, member);
    }
    return ac_redis_batch_exec(b, err, errsz);
}

/* Adds up the buckets' counts into *total. */
static int card_reply(void *ctx, size_t item, const redisReply *rep, char *err, size_t errsz)
{
    (void)item;
    (void)err;
    (void)errsz;
    if (rep->type == REDIS_REPLY_INTEGER)
        *(long long *)ctx += rep->integer;
    return 0;
}

int ac_schedule_pending(ac_schedule_t *s, long long *count, char *err, size_t errsz)
{
    char queue[64], release[64];
    long long total = 0, legacy = 0;
    if (sched_buckets_ensure(s, err, errsz) < 0)
        return -1;
    ac_redis_batch_t *b = ac_redis_batch_begin(s->r, card_reply, &total, err, errsz);
    if (!b)
        return -1;
    for (int k = 0; k < s->buckets; k++) {
        sched_bucket_keys(k, queue, release, sizeof(queue));
        ac_redis_batch_command(b, 0, "ZCARD %s", queue);
    }
    if (ac_redis_batch_exec(b, err, errsz) < 0 || sched_legacy_pending(s, &legacy, err, errsz) < 0)
        return -1;
    *count = total + legacy;
    return 0;
}

void ac_schedule_due_clear(ac_schedule_due_t *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(items[i].record);
        items[i].record = NULL;
    }
}
