/* What the schedule's files share (schedule.c, schedule_take.c,
 * schedule_legacy.c): the handle, the key names and the Lua scripts.
 * Internal to the schedule module. */
#ifndef AC_SCHEDULE_INT_H
#define AC_SCHEDULE_INT_H

#include "schedule.h"

struct ac_schedule {
    ac_redis_t *r;          /* borrowed */
    int wanted;             /* the SCHEDULE_BUCKETS setting */
    int buckets;            /* in use: Redis's count once known */
    int known;              /* buckets was read from Redis */
    unsigned cursor;        /* the next bucket to take from, when a round covers fewer */
    int64_t legacy_next_ms; /* when to look for the old layout's items again */
};

/* Keys are at most this long (a journey key and a little more). */
#define SCHED_KEY_LEN (AC_SCHEDULE_KEY_LEN + 64)

/* "ac:sched:{b<bucket>}" and "ac:sched:{b<bucket>}:release": the bucket's
 * sorted sets by due time and by release time. */
void sched_bucket_keys(int bucket, char *queue, char *release, size_t sz);

/* The hash of an order's items, beside its journey key. */
void sched_items_key(const char *journey_key, char *buf, size_t sz);

/* "<id> <journey key>": an item's member in its bucket's sets. */
void sched_member(const char *id, const char *journey_key, char *buf, size_t sz);

/* Splits a member into id and journey key; -1 when it is malformed. */
int sched_member_split(const char *m, size_t len, char *id, char *jkey, size_t jkeysz);

/* Reads the bucket count from Redis (recording the setting when none is
 * there yet) unless already known. 0, or -1 with err. */
int sched_buckets_ensure(ac_schedule_t *s, char *err, size_t errsz);

/* Maps a fact name from a reply to the static name (the reply's string
 * dies with the reply). */
const char *sched_fact_label(const char *name);

/* Moves up to max items of the single-set layout of earlier versions into
 * the buckets (single Redis only: nothing else ever held them), so that a
 * running deployment upgrades without losing a scheduled message. Sets
 * *moved. 0, or -1 with err. */
int sched_legacy_step(ac_schedule_t *s, size_t max, size_t *moved, char *err, size_t errsz);

/* How many items the old layout still holds (0 on a cluster). */
int sched_legacy_pending(ac_schedule_t *s, long long *count, char *err, size_t errsz);

/* An item's description (the "<id>:m" field) in its two forms: the full
 * record's, "<due> <release> <kind> <blockers> <requires>", and the shared
 * event's, which adds "<occurred ms> <ref>": the record is rebuilt from
 * the event in field "e:<ref>" when the item fires (schedule.c). */
#define SCHED_LUA_DESC5 "'^(-?%d+) (-?%d+) (%S+) (%S*) (%S*)$'"
#define SCHED_LUA_DESC7 "'^(-?%d+) (-?%d+) (%S+) (%S*) (%S*) (-?%d+) (%S+)$'"

/* Lua every script that removes or replaces an item starts with:
 * sched_ref(description) is the ref of the event an item shares (nil for
 * an item with a record of its own), and sched_release(hash, ref) deletes
 * the event once no item of the order's hash refers to it any more. An
 * order has a few items, so looking at each is cheap, and unlike a count
 * it cannot drift when a script is retried. */
#define SCHED_LUA_REFS                                                                             \
    "local function sched_ref(m)\n"                                                                \
    "  if not m then return nil end\n"                                                             \
    "  return select(7, string.match(m, " SCHED_LUA_DESC7 "))\n"                                   \
    "end\n"                                                                                        \
    "local function sched_release(h, ref)\n"                                                       \
    "  if not ref then return end\n"                                                               \
    "  for _, f in ipairs(redis.call('HKEYS', h)) do\n"                                            \
    "    if string.sub(f, -2) == ':m' and sched_ref(redis.call('HGET', h, f)) == ref then\n"       \
    "      return\n"                                                                               \
    "    end\n"                                                                                    \
    "  end\n"                                                                                      \
    "  redis.call('HDEL', h, 'e:' .. ref)\n"                                                       \
    "end\n"

extern ac_redis_script_t sched_take_script;
extern ac_redis_script_t sched_check_script;
extern ac_redis_script_t sched_ack_script;

#endif
