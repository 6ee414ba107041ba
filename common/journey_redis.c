#include "journey_redis.h"

#include <stdio.h>
#include <string.h>

#include "timeutil.h"

/* KEYS[1] journey; ARGV[1] ttl ms, ARGV[2] promised date or "", then
 * fact/time pairs. Earliest time wins, so applying events in any order, or
 * twice, leaves the same hash. The hash is read once and the journey
 * returned is merged here: every Redis call a script makes costs about a
 * microsecond of Redis's CPU per event, and this script runs for every
 * event (a read, one write of what changed and the expiry, instead of a
 * read and a write per fact and a second read). */
static ac_redis_script_t apply_script = {
    "local h = redis.call('HGETALL', KEYS[1])\n"
    "local at, set = {}, {}\n"
    "for i = 1, #h, 2 do at[h[i]] = i + 1 end\n"
    "local function put(f, v)\n"
    "  h[#h + 1] = f; h[#h + 1] = v; at[f] = #h\n"
    "  set[#set + 1] = f; set[#set + 1] = v\n"
    "end\n"
    "for i = 3, #ARGV, 2 do\n"
    "  local j = at[ARGV[i]]\n"
    "  if not j then put(ARGV[i], ARGV[i + 1])\n"
    "  elseif tonumber(ARGV[i + 1]) < tonumber(h[j]) then\n"
    "    h[j] = ARGV[i + 1]; set[#set + 1] = ARGV[i]; set[#set + 1] = ARGV[i + 1]\n"
    "  end\n"
    "end\n"
    "if ARGV[2] ~= '' and not at['promised'] then put('promised', ARGV[2]) end\n"
    "if #set > 0 then redis.call('HSET', KEYS[1], unpack(set)) end\n"
    "redis.call('PEXPIRE', KEYS[1], ARGV[1])\n"
    "return h\n",
    {0}};

void ac_journey_register(ac_redis_t *r)
{
    ac_redis_register_script(r, &apply_script);
}

/* Parses the HGETALL (or apply script) reply of one journey into
 * out[item]: a reply that is no array, such as a key that is gone, reads
 * as an empty journey. */
static int journey_reply(void *ctx, size_t item, const redisReply *rep, char *err, size_t errsz)
{
    const char *fields[96], *values[96];
    size_t n = 0;
    ac_journey_t *out = &((ac_journey_t *)ctx)[item];
    (void)err;
    (void)errsz;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements && n < 96; i += 2) {
        if (rep->element[i]->type != REDIS_REPLY_STRING ||
            rep->element[i + 1]->type != REDIS_REPLY_STRING)
            continue;
        fields[n] = rep->element[i]->str;
        values[n++] = rep->element[i + 1]->str;
    }
    ac_journey_parse(fields, values, n, out);
    return 0;
}

/* Appends the apply script's call for ev: its facts as fact/time pairs,
 * then, for a delivery, the parcel's own "d:<shipment>" field. */
static void append_apply(ac_redis_batch_t *b, size_t item, const ac_event_t *ev, const char *ttl)
{
    char key[600], promised[11], times[AC_FACT__COUNT][24], parcel[AC_EVENT_MAX_ID_LEN + 8];
    const char *argv[5 + 2 * AC_FACT__COUNT];
    ac_fact_t facts[AC_FACT__COUNT];
    size_t nf = ac_journey_facts(ev, facts);
    ac_journey_key(ev->store.id, ev->order.id, key, sizeof(key));
    ac_time_date(ev->order.promised_delivery_date, promised);
    int argc = 0;
    argv[argc++] = key;
    argv[argc++] = ttl;
    argv[argc++] = promised;
    for (size_t f = 0; f < nf; f++) {
        snprintf(times[f], sizeof(times[f]), "%lld", (long long)ev->occurred_ms);
        argv[argc++] = ac_fact_name(facts[f]);
        argv[argc++] = times[f];
    }
    if (ev->type == AC_EVENT_SHIPMENT_DELIVERED) {
        snprintf(parcel, sizeof(parcel), "d:%.*s", AC_EVENT_MAX_ID_LEN,
                 ev->shipment.id ? ev->shipment.id : "");
        argv[argc++] = parcel;
        argv[argc++] = times[0];
    }
    ac_redis_batch_script(b, item, &apply_script, 1, argc, argv, NULL);
}

int ac_journey_append(ac_redis_batch_t *b, const ac_event_t *const *evs, size_t n, int64_t ttl_ms,
                      ac_journey_t *out)
{
    char ttl[24];
    snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_ms);
    if (ac_redis_batch_handler(b, journey_reply, out, 0) < 0)
        return 0; /* the batch failed: its exec says so */
    for (size_t i = 0; i < n; i++)
        append_apply(b, i, evs[i], ttl);
    return 0;
}

int ac_journey_apply(ac_redis_t *r, const ac_event_t *const *evs, size_t n, int64_t ttl_ms,
                     ac_journey_t *out, char *err, size_t errsz)
{
    if (n == 0)
        return 0;
    ac_redis_batch_t *b = ac_redis_batch_begin(r, NULL, NULL, err, errsz);
    if (!b)
        return -1;
    ac_journey_append(b, evs, n, ttl_ms, out);
    return ac_redis_batch_exec(b, err, errsz);
}

int ac_journey_read(ac_redis_t *r, const char *const *keys, size_t n, ac_journey_t *out, char *err,
                    size_t errsz)
{
    if (n == 0)
        return 0;
    ac_redis_batch_t *b = ac_redis_batch_begin(r, journey_reply, out, err, errsz);
    if (!b)
        return -1;
    for (size_t i = 0; i < n; i++)
        ac_redis_batch_command(b, i, "HGETALL %s", keys[i]);
    return ac_redis_batch_exec(b, err, errsz);
}
