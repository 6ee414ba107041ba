/* What an event worker writes to Redis: in one round trip before
 * deciding, the journeys, order contexts and purchase history; after its
 * output is in Kafka, in two, the schedule and the retention report's
 * facts. Each is retried through an outage. */
#include "pipeline_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "journey_redis.h"
#include "log.h"
#include "octx.h"
#include "schedule.h"

/* After a failed Redis round trip: reports it and waits before the next
 * attempt (100 ms doubling to 1.6 s, then every 3 s), answering health
 * checks meanwhile. Returns -1 instead when the worker is stopping. */
int ac_pipe_redis_retry(ac_worker_t *w, int attempt, const char *err)
{
    ac_worker_redis_status(w, 0, err);
    if (ac_worker_stopping())
        return -1;
    ac_worker_sleep(attempt < 5 ? 100 << attempt : 3000);
    ac_http_beat(w->http);
    return 0;
}
/* The record an item's messages carry: as consumed, or as completed. */
const char *ac_pipe_item_payload(const item_t *it, size_t *len)
{
    *len = it->payload ? it->payload_len : it->msg->len;
    return it->payload ? it->payload : it->msg->payload;
}
/* Appends the batch's journeys, contexts and, unless herr is NULL,
 * history (its n new events in b->evs) to rb. Returns 0, or -1 when out
 * of memory. */
static int append_writes(pipe_t *p, batch_t *b, size_t n, ac_redis_batch_t *rb, ac_octx_out_t *o,
                         ac_history_errors_t *herr)
{
    if (ac_journey_append(rb, b->evs, n, p->journey_ttl, b->journeys) < 0 ||
        ac_octx_append(rb, o, b->evs, n, p->journey_ttl, b->merged) < 0 ||
        (herr && ac_history_append(rb, b->evs, n, p->history_ttl, herr) < 0))
        return -1;
    return 0;
}

/* Runs the batch's writes in one round trip, retrying through an outage:
 * a journey or a context lost would leave a message wrongly sent or a
 * complaint unanswered. The purchase history is best effort (a lost
 * update only makes a suggestion less apt): it goes with the first
 * attempt that reaches Redis and not again, since that attempt may have
 * run it even when it failed (a lost reply, an error reply to a journey),
 * and its own error replies are logged, not retried. Returns -1 only when
 * stopping. */
static int write_round_trip(pipe_t *p, batch_t *b, size_t n)
{
    char err[256];
    ac_octx_out_t o;
    ac_history_errors_t herr = {0, ""};
    int history_sent = 0;
    for (int attempt = 0;; attempt++) {
        ac_redis_batch_t *rb = ac_redis_batch_begin(p->w->redis, NULL, NULL, err, sizeof(err));
        if (rb && append_writes(p, b, n, rb, &o, history_sent ? NULL : &herr) < 0) {
            ac_redis_batch_abort(rb);
            snprintf(err, sizeof(err), "out of memory");
        } else if (rb) {
            history_sent = 1;
            if (ac_redis_batch_exec(rb, err, sizeof(err)) == 0)
                break;
        }
        if (ac_pipe_redis_retry(p->w, attempt, err) < 0)
            return -1;
    }
    ac_worker_redis_status(p->w, 1, NULL);
    if (herr.n)
        ac_log(AC_LOG_WARN, "purchase history not recorded (%zu command(s) failed): %s", herr.n,
               herr.first);
    return 0;
}

/* Gives each new event its journey and, when its order's context
 * completed it, the completed record. An event whose completed record does
 * not parse keeps its own. */
static void take_results(batch_t *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        if (it->state != ITEM_NEW)
            continue;
        it->journey = b->journeys[n];
        char *m = b->merged[n++];
        ac_event_error_t e;
        ac_event_t *ev = m ? ac_event_parse(m, strlen(m), 0, &e) : NULL;
        if (!ev) {
            free(m);
            continue;
        }
        ac_event_destroy(it->ev);
        it->ev = ev;
        it->payload = m;
        it->payload_len = strlen(m);
    }
}

/* Events of a type no worker knows leave no facts and are not decided. */
int ac_pipe_write_events(pipe_t *p, batch_t *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        if (it->state == ITEM_NEW && it->ev->type == AC_EVENT_UNKNOWN)
            it->state = ITEM_UNKNOWN;
        if (it->state == ITEM_NEW)
            b->evs[n++] = it->ev;
    }
    if (n == 0)
        return 0;
    if (write_round_trip(p, b, n) < 0)
        return -1;
    take_results(b);
    return 0;
}

/* Why a scheduled message was cancelled: the fact the cancelling event
 * brought (journey.h's names, as when the fact blocks it later). */
static const char *cancel_reason(const ac_event_t *ev, ac_kind_t kind)
{
    switch (ev->type) {
    case AC_EVENT_ORDER_CANCELLED:
        return "cancelled";
    case AC_EVENT_RETURN_REQUESTED:
        return "returned";
    case AC_EVENT_FEEDBACK_RECEIVED:
        return kind == AC_KIND_REFERRAL_INVITE ? "unhappy" : "feedback";
    default:
        return "blocked";
    }
}
/* Fills f with a message the rules or the schedule decided not to send. */
static void suppressed_fact(ac_facts_msg_t *f, const ac_event_t *ev, const char *id, ac_kind_t kind,
                            const char *reason, int64_t at_ms)
{
    *f = (ac_facts_msg_t){
        ev->store.id, id, ac_kind_name(kind), ev->order.id, ev->customer.id, NULL, reason, at_ms};
}
/* Fills b->evs with the batch's new events, whose facts the retention
 * report counts; returns how many. */
static size_t fact_events(batch_t *b)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].state == ITEM_NEW)
            b->evs[n++] = b->items[i].ev;
    return n;
}

/* Fills b->facts with the messages the batch decided not to send: by the
 * rules, and by the schedule once its scripts answered. Returns how
 * many. */
static size_t fact_msgs(batch_t *b)
{
    size_t m = 0;
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        for (size_t k = 0; it->state == ITEM_NEW && k < it->nd; k++)
            if (it->d[k].action == AC_ACTION_SUPPRESS)
                suppressed_fact(&b->facts[m++], it->ev, it->d[k].id, it->d[k].kind, it->d[k].reason,
                                it->ev->occurred_ms);
    }
    for (size_t i = 0; i < b->n_ops; i++) {
        const ac_schedule_op_t *op = &b->ops[i];
        const ac_event_t *ev = b->op_items[i]->ev;
        if (op->result == AC_SCHEDULE_BLOCKED)
            suppressed_fact(&b->facts[m++], ev, op->id, op->kind,
                            op->blocked_by ? op->blocked_by : "blocked", op->due_ms);
        else if (op->result == AC_SCHEDULE_CANCELLED)
            suppressed_fact(&b->facts[m++], ev, op->id, op->kind, cancel_reason(ev, op->kind),
                            ev->occurred_ms);
    }
    return m;
}

/* One attempt at the batch's outcomes: the orders' scheduling scripts and
 * the events' facts in one round trip, then the schedule's buckets and the
 * facts of the messages not sent (which the scripts' answers complete) in
 * a second. Returns 0, or -1 with err. */
static int outcomes_once(pipe_t *p, batch_t *b, char *err, size_t errsz)
{
    int rc = -1;
    ac_redis_batch_t *rb = NULL;
    ac_schedule_run_t *run = ac_schedule_run_new(p->sched, b->ops, b->n_ops, err, errsz);
    if (!run || !(rb = ac_redis_batch_begin(p->w->redis, NULL, NULL, err, errsz)))
        goto out;
    if (ac_schedule_append_orders(run, rb) < 0) {
        ac_redis_batch_abort(rb);
        snprintf(err, errsz, "out of memory");
        goto out;
    }
    if (p->facts_ttl)
        ac_facts_append_events(rb, b->evs, fact_events(b), p->facts_ttl);
    if (ac_redis_batch_exec(rb, err, errsz) < 0 ||
        !(rb = ac_redis_batch_begin(p->w->redis, NULL, NULL, err, errsz)))
        goto out;
    ac_schedule_append_buckets(run, rb);
    if (p->facts_ttl)
        ac_facts_append_msgs(rb, b->facts, fact_msgs(b), p->facts_ttl);
    rc = ac_redis_batch_exec(rb, err, errsz);
out:
    ac_schedule_run_destroy(run);
    return rc;
}

/* Writes what batch b decided (b->ops) to the schedule, and what the
 * retention report needs of it (facts.h: its new orders, returns and
 * ratings, and the messages it decided not to send), retrying through an
 * outage: the report's counts must be exact, and a scheduled message
 * lost is never sent. Both are idempotent (adding an item twice is a
 * no-op, as is writing a fact twice), so a retry, or a replay after a
 * crash before the batch's events are marked done, changes nothing.
 * Returns -1 only when stopping. */
int ac_pipe_write_outcomes(pipe_t *p, batch_t *b)
{
    char err[256];
    for (int attempt = 0; outcomes_once(p, b, err, sizeof(err)) < 0; attempt++)
        if (ac_pipe_redis_retry(p->w, attempt, err) < 0)
            return -1;
    ac_worker_redis_status(p->w, 1, NULL);
    return 0;
}
