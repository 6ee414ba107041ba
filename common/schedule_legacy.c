/* Moving scheduled messages from the layout of earlier versions into the
 * buckets (docs/redis.md, "Upgrading"). Earlier versions kept every
 * pending message in four keys of one Redis: "ac:sched" (ids by due
 * time), "ac:sched:items" (records), "ac:sched:meta" ("<due> <kind>
 * <blockers> <requires> <journey key>") and "ac:sched:release" (ids by
 * release time). Workers of this version move them a chunk at a time while
 * they fire; workers of the earlier version, during a rolling upgrade, may
 * still add or fire some, and the next chunk picks those up.
 *
 * A chunk is written to its new place before it is removed from the old
 * one, in one pipeline on the one Redis: a crash in between leaves an
 * item in both, and the copy taken again fires with the same message id,
 * which notify-worker drops as a duplicate. */
#include "schedule_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OLD_QUEUE   "ac:sched"
#define OLD_ITEMS   "ac:sched:items"
#define OLD_META    "ac:sched:meta"
#define OLD_RELEASE "ac:sched:release"

/* One old item: id and score from the queue, then record, description and
 * release score. */
typedef struct old_item {
    char id[AC_MESSAGE_ID_LEN];
    char score[32], release[32];
    char *record, *meta;
    size_t record_len;
} old_item_t;

typedef struct chunk {
    old_item_t *it;
    size_t n, max;
} chunk_t;

/* Reads "ZRANGE ac:sched 0 max-1 WITHSCORES". */
static int ids_reply(void *ctx, size_t item, const redisReply *rep, char *err, size_t errsz)
{
    chunk_t *c = ctx;
    (void)item;
    (void)err;
    (void)errsz;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements && c->n < c->max;
         i += 2) {
        old_item_t *o = &c->it[c->n];
        if (rep->element[i]->type != REDIS_REPLY_STRING ||
            rep->element[i]->len != AC_MESSAGE_ID_LEN - 1 ||
            rep->element[i + 1]->type != REDIS_REPLY_STRING)
            continue;
        memcpy(o->id, rep->element[i]->str, AC_MESSAGE_ID_LEN);
        snprintf(o->score, sizeof(o->score), "%s", rep->element[i + 1]->str);
        c->n++;
    }
    return 0;
}

/* Reads an item's record (item 3k), description (3k+1) and release score
 * (3k+2). */
static int item_reply(void *ctx, size_t item, const redisReply *rep, char *err, size_t errsz)
{
    old_item_t *o = &((chunk_t *)ctx)->it[item / 3];
    if (rep->type != REDIS_REPLY_STRING)
        return 0;
    if (item % 3 == 2) {
        snprintf(o->release, sizeof(o->release), "%s", rep->str);
        return 0;
    }
    char *copy = malloc(rep->len + 1);
    if (!copy) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    memcpy(copy, rep->str, rep->len);
    copy[rep->len] = '\0';
    if (item % 3 == 0) {
        o->record = copy;
        o->record_len = rep->len;
    } else {
        o->meta = copy;
    }
    return 0;
}

/* Writes one old item in the new layout: the description loses its
 * journey key (which names the order's hash and the bucket now) and gains
 * the release time. */
static void write_new(ac_schedule_t *s, ac_redis_batch_t *b, const old_item_t *o)
{
    char due[32], kind[64], bl[256], rq[256], jk[AC_SCHEDULE_KEY_LEN], meta[700];
    char hash[SCHED_KEY_LEN], queue[64], release[64], member[SCHED_KEY_LEN];
    char field[AC_MESSAGE_ID_LEN + 2];
    int off = 0;
    /* "<due> <kind> <blockers> <requires> <journey key>"; the sets may be empty. */
    if (!o->meta || !o->record || sscanf(o->meta, "%31s %63s %n", due, kind, &off) != 2 || off == 0)
        return;
    const char *p = o->meta + off, *sp1 = strchr(p, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp2 || (size_t)(sp1 - p) >= sizeof(bl) || (size_t)(sp2 - sp1 - 1) >= sizeof(rq) ||
        strlen(sp2 + 1) == 0 || strlen(sp2 + 1) >= sizeof(jk))
        return;
    snprintf(bl, sizeof(bl), "%.*s", (int)(sp1 - p), p);
    snprintf(rq, sizeof(rq), "%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
    snprintf(jk, sizeof(jk), "%s", sp2 + 1);
    snprintf(meta, sizeof(meta), "%s %s %s %s %s", due, o->release[0] ? o->release : due, kind, bl,
             rq);
    sched_items_key(jk, hash, sizeof(hash));
    snprintf(field, sizeof(field), "%s:m", o->id);
    sched_bucket_keys(ac_schedule_bucket(jk, s->buckets), queue, release, sizeof(queue));
    sched_member(o->id, jk, member, sizeof(member));
    ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "HSET %s %s %b %s %s", hash, o->id, o->record,
                           o->record_len, field, meta);
    ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "ZADD %s %s %s", queue, o->score, member);
    ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "ZADD %s %s %s", release,
                           o->release[0] ? o->release : due, member);
}

/* Reads the chunk's details, writes it anew and removes the old copy
 * (an item without record or description is only removed). */
static int move_chunk(ac_schedule_t *s, chunk_t *c, char *err, size_t errsz)
{
    ac_redis_batch_t *b = ac_redis_batch_begin(s->r, item_reply, c, err, errsz);
    if (!b)
        return -1;
    for (size_t i = 0; i < c->n; i++) {
        ac_redis_batch_command(b, 3 * i, "HGET %s %s", OLD_ITEMS, c->it[i].id);
        ac_redis_batch_command(b, 3 * i + 1, "HGET %s %s", OLD_META, c->it[i].id);
        ac_redis_batch_command(b, 3 * i + 2, "ZSCORE %s %s", OLD_RELEASE, c->it[i].id);
    }
    if (ac_redis_batch_exec(b, err, errsz) < 0)
        return -1;
    if (!(b = ac_redis_batch_begin(s->r, NULL, NULL, err, errsz)))
        return -1;
    for (size_t i = 0; i < c->n; i++)
        write_new(s, b, &c->it[i]);
    for (size_t i = 0; i < c->n; i++) {
        const char *id = c->it[i].id;
        ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "ZREM %s %s", OLD_QUEUE, id);
        ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "HDEL %s %s", OLD_ITEMS, id);
        ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "HDEL %s %s", OLD_META, id);
        ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "ZREM %s %s", OLD_RELEASE, id);
    }
    return ac_redis_batch_exec(b, err, errsz);
}

int sched_legacy_step(ac_schedule_t *s, size_t max, size_t *moved, char *err, size_t errsz)
{
    chunk_t c = {NULL, 0, max};
    int rc = -1;
    *moved = 0;
    if (ac_redis_is_cluster(s->r))
        return 0;
    if (!(c.it = calloc(max ? max : 1, sizeof(*c.it)))) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    ac_redis_batch_t *b = ac_redis_batch_begin(s->r, ids_reply, &c, err, errsz);
    if (!b)
        goto out;
    ac_redis_batch_command(b, 0, "ZRANGE %s 0 %lld WITHSCORES", OLD_QUEUE, (long long)max - 1);
    if (ac_redis_batch_exec(b, err, errsz) < 0)
        goto out;
    if (c.n && move_chunk(s, &c, err, errsz) < 0)
        goto out;
    *moved = c.n;
    rc = 0;
out:
    for (size_t i = 0; i < c.n; i++) {
        free(c.it[i].record);
        free(c.it[i].meta);
    }
    free(c.it);
    return rc;
}

int sched_legacy_pending(ac_schedule_t *s, long long *count, char *err, size_t errsz)
{
    *count = 0;
    if (ac_redis_is_cluster(s->r))
        return 0;
    redisReply *rep = ac_redis_command(s->r, err, errsz, "ZCARD %s", OLD_QUEUE);
    if (!rep)
        return -1;
    if (rep->type == REDIS_REPLY_INTEGER)
        *count = rep->integer;
    freeReplyObject(rep);
    return 0;
}
