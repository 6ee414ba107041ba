#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dedup.h"
#include "duration.h"
#include "facts.h"
#include "octx.h"
#include "history.h"
#include "journey.h"
#include "journey_redis.h"
#include "log.h"
#include "message.h"
#include "schedule.h"
#include "stores.h"
#include "timeutil.h"
#include "fire.h"
#include "watermark.h"
#include "pipeline_int.h"

static void batch_clear(batch_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        rd_kafka_message_destroy(b->items[i].msg);
        ac_event_destroy(b->items[i].ev);
        free(b->items[i].key);
        free(b->items[i].payload);
    }
    b->n = 0;
    b->n_ops = 0;
    b->n_flight = 0;
    b->tracker = (ac_kafka_tracker_t){0, 0, 0};
}

static void batch_free(batch_t *b)
{
    batch_clear(b);
    free(b->items);
    free(b->keys);
    free(b->seen);
    free(b->evs);
    free(b->journeys);
    free(b->ops);
    free(b->op_items);
    free(b->jkeys);
    free(b->records);
    free(b->facts);
    free(b->merged);
    free(b->flight);
}

static int cmp_item_key(const void *a, const void *b)
{
    const item_t *x = *(item_t *const *)a, *y = *(item_t *const *)b;
    int c = strcmp(x->key, y->key);
    /* Equal keys keep consumption order, so the first one is the original. */
    return c ? c : (x < y ? -1 : x > y);
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Validates every record and finds duplicates that Redis cannot see
 * because they are not marked yet: inside the batch itself (sorting by key
 * puts copies next to each other), and among the new events of the batch
 * still in flight (prev, or NULL). */
static void classify(batch_t *b, size_t max_bytes, const batch_t *prev)
{
    tally_t *t = &b->tally;
    size_t n = 0;
    item_t **order = (item_t **)b->keys; /* scratch of b->cap pointers */
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        it->ev = ac_event_parse(it->msg->payload, it->msg->len, max_bytes, &it->err);
        if (!it->ev) {
            it->state = ITEM_INVALID;
            t->consumed[AC_EVENT__COUNT]++;
            continue;
        }
        t->consumed[it->ev->type]++;
        char key[600];
        ac_dedup_event_key(it->ev->store.id, it->ev->event_id, key, sizeof(key));
        it->key = strdup(key);
        it->state = it->key ? ITEM_NEW : ITEM_INVALID;
        if (it->key)
            order[n++] = it;
    }
    qsort(order, n, sizeof(*order), cmp_item_key);
    for (size_t i = 1; i < n; i++)
        if (strcmp(order[i]->key, order[i - 1]->key) == 0)
            order[i]->state = ITEM_DUPLICATE;
    for (size_t i = 0; prev && prev->n_flight && i < n; i++)
        if (order[i]->state == ITEM_NEW &&
            bsearch(&order[i]->key, prev->flight, prev->n_flight, sizeof(*prev->flight), cmp_key))
            order[i]->state = ITEM_DUPLICATE;
}

/* Keeps the keys of the events the batch will mark done, sorted, for the
 * next batch's classify() while this one is in flight. */
static void keep_flight(batch_t *b)
{
    b->n_flight = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].state == ITEM_NEW || b->items[i].state == ITEM_UNKNOWN)
            b->flight[b->n_flight++] = b->items[i].key;
    qsort(b->flight, b->n_flight, sizeof(*b->flight), cmp_key);
}

/* Runs the rules over every new event. */
static void decide(pipe_t *p, batch_t *b, tally_t *t)
{
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        if (it->state == ITEM_UNKNOWN)
            t->unknown++;
        if (it->state != ITEM_NEW)
            continue;
        const ac_store_settings_t *s = ac_stores_get(p->stores, it->ev->store.id);
        it->nd = p->rules(it->ev, &it->journey, s, it->d, AC_RULES_MAX_DECISIONS);
        for (size_t k = 0; k < it->nd; k++)
            if (it->d[k].action == AC_ACTION_SUPPRESS)
                t->suppressed[it->d[k].kind][ac_pipe_reason_index(it->d[k].reason)]++;
    }
}

/* Fills b->ops[n] to schedule d, a decision of item i: with the trimmed
 * event, which the order's items decided from it share (the record is
 * rebuilt from it when the message fires), encoded once per item (*shared
 * keeps it for the item's next decision; b->records owns it). 0, or -1
 * when out of memory. */
static int add_op(pipe_t *p, batch_t *b, size_t n, size_t i, const ac_decision_t *d,
                  const char **shared)
{
    item_t *it = &b->items[i];
    ac_schedule_op_t *op = &b->ops[n];
    op->type = AC_SCHEDULE_ADD;
    op->journey_key = b->jkeys[i];
    op->journey_ttl_ms = p->journey_ttl;
    op->release_ms = ac_watermark_release(
        d->kind, d->due_ms, ac_stores_get(p->stores, it->ev->store.id)->watermark_hold_ms);
    op->occurred_ms = it->ev->occurred_ms;
    if (!*shared) {
        if (!(b->records[n] = ac_event_encode(it->ev, NULL)))
            return -1;
        *shared = b->records[n];
    }
    op->event = *shared;
    op->event_len = strlen(*shared);
    return 0;
}

/* Writes the batch's scheduling decisions, with the retention report's
 * facts, to Redis once the messages sent now are safely in Kafka, retrying
 * through an outage: the events are only marked done after this, so a
 * crash in between replays them, and adding an item twice is a no-op.
 * Returns 0, -1 when stopping, -2 when out of memory. */
static int schedule(pipe_t *p, batch_t *b, tally_t *t)
{
    size_t n = 0;
    int rc = -1;
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        if (it->state != ITEM_NEW)
            continue;
        ac_journey_key(it->ev->store.id, it->ev->order.id, b->jkeys[i], sizeof(b->jkeys[i]));
        const char *shared = NULL;
        for (size_t k = 0; k < it->nd; k++) {
            ac_decision_t *d = &it->d[k];
            if (d->action != AC_ACTION_SCHEDULE && d->action != AC_ACTION_CANCEL)
                continue;
            ac_schedule_op_t *op = &b->ops[n];
            memset(op, 0, sizeof(*op));
            op->id = d->id;
            op->kind = d->kind;
            op->due_ms = d->due_ms;
            b->records[n] = NULL;
            if (d->action == AC_ACTION_SCHEDULE) {
                if (add_op(p, b, n, i, d, &shared) < 0) {
                    ac_log(AC_LOG_ERROR, "out of memory encoding a scheduled message");
                    rc = -2;
                    goto out;
                }
            } else {
                op->type = AC_SCHEDULE_CANCEL;
                op->journey_key = b->jkeys[i];
            }
            b->op_items[n++] = it;
        }
    }
    b->n_ops = n;
    if (ac_pipe_write_outcomes(p, b) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        ac_schedule_op_t *op = &b->ops[i];
        if (op->result == AC_SCHEDULE_ADDED) {
            t->scheduled[op->kind]++;
            ac_log_ctx_t ctx = {p->w->topic, b->op_items[i]->msg->partition,
                                b->op_items[i]->msg->offset, b->op_items[i]->ev->event_id, op->id};
            char due[AC_TIME_BUFSZ];
            ac_time_format(op->due_ms, due, sizeof(due));
            ac_log_at(AC_LOG_DEBUG, &ctx, "scheduled for %s", due);
        } else if (op->result == AC_SCHEDULE_BLOCKED) {
            t->suppressed[op->kind]
                         [ac_pipe_reason_index(op->blocked_by ? op->blocked_by : "blocked")]++;
        } else if (op->result == AC_SCHEDULE_CANCELLED) {
            t->cancelled[op->kind]++;
        }
    }
    rc = 0;
out:
    b->n_ops = n;
    for (size_t i = 0; i < n; i++) {
        free(b->records[i]);
        b->records[i] = NULL;
    }
    return rc;
}

/* Reads the journey settings and the per-store table. Returns 0, or -1
 * after printing one line naming the setting at fault (the file may have
 * changed since the check at start-up). */
static int setup(pipe_t *p)
{
    char err[600];
    ac_worker_t *w = p->w;
    p->journey_ttl = ac_config_int(w->cfg, "JOURNEY_TTL");
    p->history_ttl = ac_config_int(w->cfg, "HISTORY_TTL");
    p->facts_ttl =
        ac_config_int(w->cfg, "ANALYTICS") ? ac_config_int(w->cfg, "ANALYTICS_RETENTION") : 0;
    p->notify_topic = ac_config_str(w->cfg, "NOTIFY_TOPIC");
    if (!(p->stores = ac_pipe_load_stores(w->cfg, err, sizeof(err)))) {
        fprintf(stderr, "%s: %s\n", w->spec->name, err);
        return -1;
    }
    if (!(p->sched = ac_schedule_new(w->redis, (int)ac_config_int(w->cfg, "SCHEDULE_BUCKETS"), err,
                                     sizeof(err)))) {
        ac_log(AC_LOG_ERROR, "%s", err);
        return -2;
    }
    if (ac_config_int(w->cfg, "SCHEDULER") &&
        !(p->fire = ac_fire_new(w, p->sched, err, sizeof(err)))) {
        ac_log(AC_LOG_ERROR, "cannot fire scheduled messages: %s", err);
        return -2;
    }
    return 0;
}

/* A batch's arrays, sized once for BATCH_SIZE records. Returns 0, or -1
 * when out of memory. */
static int batch_alloc(batch_t *b, size_t max)
{
    size_t most = max * AC_RULES_MAX_DECISIONS;
    b->items = calloc(max, sizeof(item_t));
    b->keys = calloc(max, sizeof(char *));
    b->seen = calloc(max, sizeof(int));
    b->evs = calloc(max, sizeof(*b->evs));
    b->journeys = calloc(max, sizeof(*b->journeys));
    b->ops = calloc(most, sizeof(*b->ops));
    b->op_items = calloc(most, sizeof(*b->op_items));
    b->records = calloc(most, sizeof(*b->records));
    b->jkeys = calloc(max, sizeof(*b->jkeys));
    b->facts = calloc(most * 2, sizeof(*b->facts));
    b->merged = calloc(max, sizeof(*b->merged));
    b->flight = calloc(max, sizeof(*b->flight));
    return b->items && b->keys && b->seen && b->evs && b->journeys && b->ops && b->op_items &&
                   b->records && b->jkeys && b->facts && b->merged && b->flight
               ? 0
               : -1;
}

/* The scripts, the processing-time histogram, the tallies at 0 and an
 * early connection, so that readiness reflects Redis from the start. */
static void start(pipe_t *p)
{
    static const double buckets[] = AC_METRICS_LATENCY_BUCKETS;
    static const tally_t zero;
    ac_worker_t *w = p->w;
    char err[256];
    ac_journey_register(w->redis);
    ac_metrics_describe_histogram(w->metrics, "aftercare_event_processing_seconds",
                                  "Seconds from consuming a record to storing its offset, its "
                                  "outcome durable.",
                                  buckets, sizeof(buckets) / sizeof(buckets[0]));
    ac_pipe_add_tally(w, &zero, 1);
    ac_worker_redis_status(w, ac_redis_connect(w->redis, err, sizeof(err)) == 0, err);
    ac_log(AC_LOG_INFO, "%zu store(s) with their own settings; %s scheduled messages",
           ac_stores_count(p->stores), p->fire ? "firing" : "not firing");
}

/* The output of batch b failed: when stopping, nothing of it is stored
 * and it is consumed again; a fatal producer error ends the worker;
 * otherwise b and the batch processed after it (later, or NULL), whose
 * output is given up, are rewound and consumed again after a pause.
 * Returns 1 when rewound, or -1 to stop with p->rc. */
static int produce_failed(pipe_t *p, batch_t *b, batch_t *later)
{
    ac_worker_t *w = p->w;
    if (ac_worker_stopping())
        return -1;
    if (rd_kafka_fatal_error(w->producer, NULL, 0)) {
        ac_log(AC_LOG_ERROR, "the producer hit a fatal error; restarting is needed");
        p->rc = AC_EXIT_RUNTIME;
        return -1;
    }
    if (later && ac_kafka_abandon(w->producer, &later->tracker) < 0) {
        /* A report still due would count against the batch reused next. */
        p->rc = AC_EXIT_RUNTIME;
        return -1;
    }
    batch_t *bs[] = {b, later};
    if (ac_pipe_rewind(w, bs, later && later->n ? 2 : 1) < 0) {
        p->rc = AC_EXIT_RUNTIME;
        return -1;
    }
    batch_clear(b);
    if (later)
        batch_clear(later);
    ac_worker_sleep(500);
    return 1;
}

/* A collected batch up to its output: classified (prev: the batch still
 * in flight, or NULL), checked against the done marks (in one round trip
 * with the last finished batch's marks), its journeys, contexts and
 * history written (one round trip), its
 * messages and dead letters produced but not waited for. Returns 0, or -1
 * when stopping (nothing of it is produced, and it is consumed again). */
static int front(pipe_t *p, batch_t *b, size_t max_bytes, const batch_t *prev)
{
    ac_worker_t *w = p->w;
    memset(&b->tally, 0, sizeof(b->tally));
    classify(b, max_bytes, prev);
    ac_pipe_count_events(w, &b->tally, "aftercare_events_consumed_total");
    if (ac_pipe_check_seen(p, b) < 0 || ac_pipe_write_events(p, b) < 0)
        return -1;
    decide(p, b, &b->tally);
    ac_pipe_produce(w, b, p->notify_topic);
    keep_flight(b);
    return 0;
}

/* The rest of batch b once Kafka has its output: its scheduling decisions
 * and facts written (two round trips), then its done marks and offsets handed to the next
 * batch's seen check (pipeline_marks.c). later is
 * the batch processed meanwhile, rewound with b when b's output failed.
 * Returns 0 when finished, 1 when both were rewound, or -1 to stop with
 * p->rc (a batch not finished is not marked, and is consumed again). */
static int back(pipe_t *p, batch_t *b, batch_t *later)
{
    ac_worker_t *w = p->w;
    if (ac_pipe_produced(w, b) < 0)
        return produce_failed(p, b, later);
    int sc = schedule(p, b, &b->tally);
    if (sc < 0) {
        /* Not marked: consumed again, and adding twice is a no-op. */
        p->rc = sc == -2 ? AC_EXIT_RUNTIME : p->rc;
        return -1;
    }
    ac_pipe_pend(p, b);
    batch_clear(b);
    return 0;
}

/* Partitions are about to be revoked (the consumer is polled only while a
 * batch is collected): the batch in flight is finished first, while its
 * offsets can still be stored and the unassignment commits them, and the
 * revoked partitions' records are dropped from the batch being collected,
 * so that their new owner processes neither again. What finishing the
 * batch in flight did is left in p->revoked for the loop. */
static void on_rebalance(void *opaque, int assigned, const rd_kafka_topic_partition_list_t *parts)
{
    pipe_t *p = opaque;
    if (assigned)
        return;
    if (p->collecting)
        ac_pipe_drop_revoked(p->collecting, parts);
    if (p->in_flight) {
        batch_t *b = p->in_flight;
        p->in_flight = NULL;
        ac_log(AC_LOG_INFO, "finishing the batch in flight (%zu records) before %d partition(s) go",
               b->n, parts->cnt);
        int r = back(p, b, NULL);
        if (r != 0)
            p->revoked = r;
    }
    /* Marked and stored before the unassignment commits the offsets. */
    ac_pipe_flush_pending(p);
}

/* After a collect during which the batch in flight was finished at a
 * revocation: when it was rewound, the batch collected behind it (cur) is
 * rewound too. Returns 0 to go on, or -1 to stop (it failed, or cur could
 * not be sought back): cur must not be stored past it. */
static int after_revocation(pipe_t *p, batch_t *cur)
{
    int r = p->revoked;
    p->revoked = 0;
    if (r > 0 && cur->n > 0) {
        batch_t *one[] = {cur};
        if (ac_pipe_rewind(p->w, one, 1) < 0) {
            p->rc = AC_EXIT_RUNTIME;
            return -1;
        }
    }
    batch_clear(cur);
    return r < 0 ? -1 : 0;
}

/* Finishes the batch in flight before the next is collected. Returns 0,
 * or -1 to stop. */
static int finish_in_flight(pipe_t *p)
{
    batch_t *b = p->in_flight;
    p->in_flight = NULL;
    int r = back(p, b, NULL);
    ac_pipe_flush_pending(p);
    return r < 0 ? -1 : 0;
}

/* Two batches overlap while there is a backlog: while Kafka acknowledges
 * one batch's output, the next is collected and processed up to its own
 * output, and only then is the first finished, so offsets are still
 * stored in consumption order. A batch less than a quarter full (records
 * arrive slower than they are processed) is finished before the next is
 * collected: overlapping such batches gains no throughput and only makes
 * more, smaller ones. A batch still in flight at a stop is finished when
 * Kafka has its output within a second; what is not finished is consumed
 * again. */
static void run(pipe_t *p, batch_t bs[2], size_t max, int wait_ms, size_t max_bytes)
{
    ac_worker_t *w = p->w;
    int drain = 1;
    batch_t *cur = &bs[0];
    w->hooks.opaque = p;
    w->hooks.rebalance = on_rebalance;
    while (!ac_worker_stopping()) {
        ac_http_beat(w->http);
        rd_kafka_poll(w->producer, 0);
        ac_fire_poll(p->fire);
        if (p->in_flight && p->in_flight->n * 4 < max && finish_in_flight(p) < 0) {
            drain = 0;
            break;
        }
        p->collecting = cur;
        ac_pipe_collect(w, cur, max, wait_ms, p->in_flight ? 0 : 100);
        p->collecting = NULL;
        if (p->revoked && after_revocation(p, cur) < 0) {
            drain = 0;
            break;
        }
        if (ac_worker_stopping())
            break; /* cur is consumed again; the batch in flight is finished below */
        if (cur->n > 0 && front(p, cur, max_bytes, p->in_flight) < 0)
            break;
        batch_t *prev = p->in_flight;
        p->in_flight = NULL;
        if (prev && back(p, prev, cur) < 0) {
            drain = 0; /* cur must not be stored past prev */
            break;
        }
        if (cur->n == 0)
            ac_pipe_flush_pending(p); /* no batch to carry its marks */
        p->in_flight = cur->n > 0 ? cur : NULL;
        cur = cur == &bs[0] ? &bs[1] : &bs[0];
    }
    w->hooks.rebalance = NULL;
    if (drain && p->in_flight && p->rc == AC_EXIT_OK)
        back(p, p->in_flight, NULL);
    ac_pipe_flush_pending(p);
    p->in_flight = NULL;
    for (int i = 0; i < 2; i++)
        ac_kafka_abandon(w->producer, &bs[i].tracker);
}

int ac_pipeline_run(ac_worker_t *w, ac_rules_fn rules)
{
    int rc = AC_EXIT_OK;
    size_t max = (size_t)ac_config_int(w->cfg, "BATCH_SIZE");
    int wait_ms = (int)ac_config_int(w->cfg, "BATCH_WAIT");
    size_t max_bytes = (size_t)ac_config_int(w->cfg, "MAX_EVENT_BYTES");
    pipe_t p = {.w = w, .rules = rules, .dedup_ttl = ac_config_int(w->cfg, AC_DEDUP_TTL)};
    /* Static: a delivery report that never came after a purge may still
     * reach a tracker of these when the producer is flushed at exit. */
    static batch_t bs[2];
    memset(bs, 0, sizeof(bs));
    int su = setup(&p);
    if (su < 0) {
        rc = su == -2 ? AC_EXIT_RUNTIME : AC_EXIT_CONFIG;
        goto out;
    }
    if (batch_alloc(&bs[0], max) < 0 || batch_alloc(&bs[1], max) < 0 ||
        ac_pipe_pending_alloc(&p, max) < 0) {
        ac_log(AC_LOG_ERROR, "out of memory for a batch of %zu", max);
        rc = AC_EXIT_RUNTIME;
        goto out;
    }
    start(&p);
    run(&p, bs, max, wait_ms, max_bytes);
    rc = p.rc;
out:
    batch_free(&bs[0]);
    batch_free(&bs[1]);
    ac_pipe_pending_free(&p);
    ac_fire_destroy(p.fire);
    ac_schedule_destroy(p.sched);
    ac_stores_destroy(p.stores);
    return rc;
}

int ac_pipeline_main(const ac_worker_spec_t *spec, ac_rules_fn rules, int argc, char **argv)
{
    int code;
    ac_worker_spec_t s = *spec;
    s.options = ac_pipeline_options;
    s.n_options = ac_pipeline_n_options;
    s.check = ac_pipeline_check;
    ac_worker_t *w = ac_worker_new(&s, argc, argv, &code);
    if (!w)
        return code;
    code = ac_pipeline_run(w, rules);
    ac_worker_destroy(w);
    return code;
}
