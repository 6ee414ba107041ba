/* A finished batch's done marks and offsets, held back to share the next
 * batch's first round trip (issue 16: one call instead of two).
 *
 * A batch is finished once Kafka has its output and Redis its schedule
 * and facts. Its events are then marked done and its offsets stored; the
 * marks must come after the schedule (a crash in between replays the
 * events, and adding to the schedule twice is a no-op), and the offsets
 * after the marks (pipeline.c, back()). While records keep coming the
 * next batch is already collected and checked against the done marks at
 * that moment, so the marks go first in that same pipeline and are seen
 * by it; the offsets are stored once it succeeds. When no batch follows
 * soon (records arrive slowly, the worker stops, partitions are revoked)
 * the marks are written in a round trip of their own, as before. */
#include "pipeline_int.h"

#include <stdlib.h>
#include <string.h>

#include "dedup.h"
#include "log.h"

/* The offsets to store for batch b: past its last record of each
 * partition. NULL when out of memory. */
static rd_kafka_topic_partition_list_t *offsets_of(const batch_t *b)
{
    rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new((int)b->n);
    for (size_t i = 0; offs && i < b->n; i++) {
        rd_kafka_message_t *m = b->items[i].msg;
        const char *topic = rd_kafka_topic_name(m->rkt);
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(offs, topic, m->partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(offs, topic, m->partition);
        if (m->offset + 1 > p->offset)
            p->offset = m->offset + 1;
    }
    return offs;
}

/* Stores the pending batch's offsets and counts it processed, then
 * forgets it. */
static void store(pipe_t *p)
{
    pending_t *pd = &p->pending;
    ac_worker_t *w = p->w;
    if (pd->offsets) {
        rd_kafka_resp_err_t e = rd_kafka_offsets_store(w->consumer, pd->offsets);
        if (e && e != RD_KAFKA_RESP_ERR__STATE)
            ac_log(AC_LOG_WARN, "offsets store: %s", rd_kafka_err2str(e));
        rd_kafka_topic_partition_list_destroy(pd->offsets);
        pd->offsets = NULL;
    }
    if (pd->records)
        ac_pipe_flush_tally(w, pd->started_ms, pd->records, &pd->tally);
    for (size_t i = 0; i < pd->n; i++)
        free(pd->keys[i]);
    pd->n = 0;
    pd->records = 0;
}

/* Writes the pending batch's done marks in a round trip of their own,
 * then stores its offsets. The marks are tried a few times and then given
 * up: the offsets are stored all the same, and without a mark an event
 * consumed again (a replay, a rebalance) is processed again, which the
 * message claims absorb (dedup.h). */
void ac_pipe_flush_pending(pipe_t *p)
{
    pending_t *pd = &p->pending;
    char err[256];
    for (int attempt = 0; pd->n && attempt < 5; attempt++) {
        if (ac_dedup_events_mark(p->w->redis, (const char *const *)pd->keys, pd->n, p->dedup_ttl,
                                 err, sizeof(err)) == 0) {
            ac_worker_redis_status(p->w, 1, NULL);
            break;
        }
        ac_worker_redis_status(p->w, 0, err);
        if (ac_worker_stopping())
            break;
        ac_worker_sleep(100 << attempt);
    }
    store(p);
}

/* Holds back finished batch b's marks and offsets for the next batch's
 * seen check, taking its keys (an older batch still pending is flushed
 * first, so offsets are stored in order). */
void ac_pipe_pend(pipe_t *p, batch_t *b)
{
    pending_t *pd = &p->pending;
    if (pd->records || pd->offsets)
        ac_pipe_flush_pending(p);
    pd->offsets = offsets_of(b);
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        if (it->state == ITEM_NEW || it->state == ITEM_UNKNOWN) {
            pd->keys[pd->n++] = it->key;
            it->key = NULL;
        }
    }
    pd->tally = b->tally;
    pd->started_ms = b->started_ms;
    pd->records = b->n;
}

/* Checks which of b's new events were already processed, in one round
 * trip with the pending batch's done marks (written first, so its events
 * read as processed), retrying through an outage; then stores the pending
 * batch's offsets. Returns -1 only when the worker is stopping. */
int ac_pipe_check_seen(pipe_t *p, batch_t *b)
{
    pending_t *pd = &p->pending;
    size_t n = 0;
    char err[256];
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].state == ITEM_NEW)
            b->keys[n++] = b->items[i].key;
    for (int attempt = 0;; attempt++) {
        ac_redis_batch_t *rb = ac_redis_batch_begin(p->w->redis, NULL, NULL, err, sizeof(err));
        if (rb) {
            ac_dedup_append_marks(rb, (const char *const *)pd->keys, pd->n, p->dedup_ttl);
            ac_dedup_append_seen(rb, b->keys, n, b->seen);
            if (ac_redis_batch_exec(rb, err, sizeof(err)) == 0)
                break;
        }
        if (ac_pipe_redis_retry(p->w, attempt, err) < 0)
            return -1;
    }
    ac_worker_redis_status(p->w, 1, NULL);
    store(p);
    n = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].state == ITEM_NEW && b->seen[n++])
            b->items[i].state = ITEM_DUPLICATE;
    return 0;
}

int ac_pipe_pending_alloc(pipe_t *p, size_t max)
{
    p->pending.keys = calloc(max, sizeof(*p->pending.keys));
    return p->pending.keys ? 0 : -1;
}

void ac_pipe_pending_free(pipe_t *p)
{
    pending_t *pd = &p->pending;
    for (size_t i = 0; i < pd->n; i++)
        free(pd->keys[i]);
    free(pd->keys);
    if (pd->offsets)
        rd_kafka_topic_partition_list_destroy(pd->offsets);
    memset(pd, 0, sizeof(*pd));
}
