#include "fire.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "facts.h"
#include "log.h"
#include "message.h"
#include "schedule.h"
#include "timeutil.h"
#include "watermark.h"
#include "wmprobe.h"

#define FIRE_BATCH 500

/* How often the aftercare_scheduled_pending gauge is read again: its
 * count costs a ZCARD per bucket, as many commands as a round's take, and
 * a gauge scraped every few seconds gains nothing from every round's. */
#define PENDING_EVERY_MS 5000

struct ac_fire {
    ac_worker_t *w;
    ac_schedule_t *sched; /* borrowed */
    const char *notify_topic;
    int64_t lease, interval;
    int64_t next;         /* monotonic: the next round */
    ac_wmprobe_t *wm;     /* NULL: no watermarks (WATERMARK_TOPICS=none) */
    int64_t started_ms;   /* wall clock: a watermark never read lags from here */
    int64_t facts_ttl;    /* ANALYTICS_RETENTION */
    int64_t pending_next; /* monotonic: the next read of the pending gauge */
};

/* Records the messages the journey stopped at fire time as suppressed, for
 * the retention report, retrying through a Redis outage (the items already
 * left the schedule). What cannot be read is skipped: it never had a
 * customer to count for. */
static void fire_record_blocked(ac_fire_t *f, const ac_schedule_due_t *due, size_t n)
{
    ac_facts_msg_t facts[FIRE_BATCH];
    ac_message_t *msgs[FIRE_BATCH];
    ac_event_error_t e;
    char err[256];
    size_t m = 0;
    for (size_t i = 0; i < n && f->facts_ttl; i++) {
        if (!due[i].blocked_by || !due[i].record)
            continue;
        ac_message_t *msg = ac_message_decode(due[i].record, due[i].record_len, 0, &e);
        if (!msg)
            continue;
        const ac_event_t *ev = msg->event;
        msgs[m] = msg;
        facts[m++] =
            (ac_facts_msg_t){ev->store.id,    due[i].id, ac_kind_name(due[i].kind), ev->order.id,
                             ev->customer.id, NULL,      due[i].blocked_by,         due[i].due_ms};
    }
    for (int attempt = 0; m > 0 && !ac_worker_stopping(); attempt++) {
        if (ac_facts_record_msgs(f->w->redis, facts, m, f->facts_ttl, err, sizeof(err)) == 0)
            break;
        ac_worker_redis_status(f->w, 0, err);
        ac_worker_sleep(attempt < 5 ? 100 << attempt : 3000);
        ac_http_beat(f->w->http);
    }
    for (size_t i = 0; i < m; i++)
        ac_message_destroy(msgs[i]);
}

/* Errors no retry can fix: the record is too large for the topic. */
static int produce_err_permanent(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE || e == RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE ||
           e == RD_KAFKA_RESP_ERR_INVALID_RECORD;
}

/* The bound of a firing round: the lowest watermark of the watched topics,
 * never above now. Exports how far each watermark lags behind now; one
 * never read lags from the worker's start. */
static int64_t fire_bound(ac_fire_t *f, int64_t now)
{
    int64_t wm[AC_WATERMARK_MAX_TOPICS];
    char labels[300];
    if (!f->wm)
        return now + 1;
    size_t n = ac_wmprobe_read(f->wm, wm, AC_WATERMARK_MAX_TOPICS);
    for (size_t i = 0; i < n; i++) {
        int64_t from = wm[i] == AC_WATERMARK_UNKNOWN ? f->started_ms : wm[i];
        snprintf(labels, sizeof(labels), "topic=\"%s\"", ac_wmprobe_topic(f->wm, i));
        ac_metrics_set(f->w->metrics, "aftercare_watermark_lag_seconds", labels,
                       now > from ? (double)(now - from) / 1000.0 : 0);
    }
    int64_t bound = ac_watermark_bound(wm, n, now);
    return bound == AC_WATERMARK_UNKNOWN ? AC_SCHEDULE_NO_BOUND : bound;
}

/* Produces the taken items that were not blocked, each with a tracker of
 * its own, and serves delivery reports until each has one (or the worker
 * is stopping). */
static void fire_produce(ac_fire_t *f, ac_schedule_due_t *due, ac_kafka_tracker_t *trk, size_t n)
{
    char labels[128];
    ac_kafka_tracker_t all = {0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        trk[i] = (ac_kafka_tracker_t){0, 0, 0};
        if (due[i].blocked_by) {
            snprintf(labels, sizeof(labels), "kind=\"%s\",reason=\"%s\"", ac_kind_name(due[i].kind),
                     due[i].blocked_by);
            ac_metrics_add(f->w->metrics, "aftercare_messages_suppressed_total", labels, 1);
            continue;
        }
        rd_kafka_resp_err_t e =
            ac_kafka_produce(f->w->producer, f->notify_topic, due[i].id, strlen(due[i].id),
                             due[i].record, due[i].record_len, NULL, &trk[i]);
        if (e) {
            trk[i].failed = 1;
            trk[i].last_err = e;
            continue;
        }
        trk[i].pending = 1;
        all.pending++;
    }
    while (all.pending > 0 && !ac_worker_stopping()) {
        rd_kafka_poll(f->w->producer, 100);
        ac_http_beat(f->w->http);
        all.pending = 0;
        for (size_t i = 0; i < n; i++)
            all.pending += trk[i].pending;
    }
}

/* Counts a fired item, or drops one Kafka will never take (too large for
 * the topic: keeping it would fire it again forever). Returns 1 when the
 * item is done with, 0 when it stays to be fired again after its lease. */
static int fire_outcome(ac_fire_t *f, const ac_schedule_due_t *d, const ac_kafka_tracker_t *t,
                        int64_t now, double *lateness, size_t *expired)
{
    char labels[128];
    if (t->pending)
        return 0; /* stopping before Kafka answered: fired again after the lease */
    if (t->failed && !produce_err_permanent(t->last_err)) {
        ac_log(AC_LOG_WARN, "scheduled message not produced, fired again after the lease: %s",
               rd_kafka_err2str(t->last_err));
        return 0;
    }
    if (t->failed) {
        ac_log_ctx_t ctx = {f->notify_topic, -1, -1, NULL, d->id};
        ac_log_at(AC_LOG_ERROR, &ctx, "scheduled message dropped: %s",
                  rd_kafka_err2str(t->last_err));
        snprintf(labels, sizeof(labels), "kind=\"%s\",reason=\"%s\"", ac_kind_name(d->kind),
                 "produce_failed");
        ac_metrics_add(f->w->metrics, "aftercare_scheduled_dropped_total", labels, 1);
        return 1;
    }
    if (now - d->due_ms > *lateness * 1000)
        *lateness = (double)(now - d->due_ms) / 1000.0;
    snprintf(labels, sizeof(labels), "kind=\"%s\"", ac_kind_name(d->kind));
    ac_metrics_add(f->w->metrics, "aftercare_scheduled_fired_total", labels, 1);
    ac_metrics_add(f->w->metrics, "aftercare_messages_decided_total", labels, 1);
    if (d->hold_expired) {
        ac_metrics_add(f->w->metrics, "aftercare_scheduled_hold_expired_total", labels, 1);
        (*expired)++;
    }
    return 1;
}

/* Sets the pending gauge, at most every PENDING_EVERY_MS (the first round
 * reads it). The gauge keeps its last value in between, and after a read
 * that failed: the next one is due PENDING_EVERY_MS later all the same. */
static void fire_pending_gauge(ac_fire_t *f)
{
    char err[256];
    long long pending;
    int64_t mono = ac_time_mono_ms();
    if (mono < f->pending_next)
        return;
    f->pending_next = mono + PENDING_EVERY_MS;
    if (ac_schedule_pending(f->sched, &pending, err, sizeof(err)) == 0)
        ac_metrics_set(f->w->metrics, "aftercare_scheduled_pending", "", (double)pending);
}

/* One firing round (fire.h). Each record is acknowledged on its own, so
 * one Kafka keeps refusing does not hold back the others. */
static void fire_due(ac_fire_t *f)
{
    /* Static: a delivery report served after a stop (when the worker's
     * shutdown flushes the producer) must still find its tracker. */
    static ac_schedule_due_t due[FIRE_BATCH];
    static ac_kafka_tracker_t trk[FIRE_BATCH];
    const ac_schedule_due_t *acked[FIRE_BATCH];
    char err[256];
    size_t n = 0, n_ack = 0, expired = 0;
    long long held = 0;
    int64_t now = ac_time_now_ms();
    double lateness = 0;
    f->next = ac_time_mono_ms() + f->interval;
    if (ac_schedule_take_until(f->sched, now, fire_bound(f, now), f->lease, FIRE_BATCH, due, &n,
                               &held, err, sizeof(err)) < 0) {
        ac_worker_redis_status(f->w, 0, err);
        ac_schedule_due_clear(due, n);
        f->next = ac_time_mono_ms() + 1000; /* an outage: look again in a second */
        return;
    }
    ac_worker_redis_status(f->w, 1, NULL);
    ac_metrics_set(f->w->metrics, "aftercare_scheduled_held", "", (double)held);
    fire_produce(f, due, trk, n);
    fire_record_blocked(f, due, n);
    for (size_t i = 0; i < n; i++)
        if (!due[i].blocked_by && fire_outcome(f, &due[i], &trk[i], now, &lateness, &expired))
            acked[n_ack++] = &due[i];
    if (expired)
        ac_log(AC_LOG_WARN,
               "%zu scheduled message(s) held past WATERMARK_MAX_HOLD fired on the facts known: "
               "an input topic's consumers are behind or down",
               expired);
    if (ac_schedule_ack(f->sched, acked, n_ack, err, sizeof(err)) < 0)
        ac_worker_redis_status(f->w, 0, err);
    if (n_ack)
        ac_metrics_set(f->w->metrics, "aftercare_scheduled_lateness_seconds", "", lateness);
    ac_schedule_due_clear(due, n);
    fire_pending_gauge(f);
}

ac_fire_t *ac_fire_new(ac_worker_t *w, ac_schedule_t *sched, char *err, size_t errsz)
{
    ac_wm_topic_t topics[AC_WATERMARK_MAX_TOPICS];
    size_t n = 0;
    ac_fire_t *f = calloc(1, sizeof(*f));
    if (!f) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    f->w = w;
    f->sched = sched;
    f->notify_topic = ac_config_str(w->cfg, "NOTIFY_TOPIC");
    f->lease = ac_config_int(w->cfg, "FIRE_LEASE");
    f->interval = ac_config_int(w->cfg, "FIRE_INTERVAL");
    f->facts_ttl =
        ac_config_int(w->cfg, "ANALYTICS") ? ac_config_int(w->cfg, "ANALYTICS_RETENTION") : 0;
    f->started_ms = ac_time_now_ms();
    /* Validated with the settings. */
    if (ac_watermark_parse_topics(ac_config_str(w->cfg, "WATERMARK_TOPICS"), topics, &n, err,
                                  errsz) < 0)
        goto fail;
    if (n > 0) {
        char client[128];
        snprintf(client, sizeof(client), "%s-watermarks", w->spec->name);
        f->wm = ac_wmprobe_new(w->cfg, client, topics, n,
                               ac_config_int(w->cfg, "WATERMARK_INTERVAL"), err, errsz);
        if (!f->wm)
            goto fail;
    }
    return f;
fail:
    ac_fire_destroy(f);
    return NULL;
}

void ac_fire_destroy(ac_fire_t *f)
{
    if (!f)
        return;
    ac_wmprobe_destroy(f->wm);
    free(f);
}

void ac_fire_poll(ac_fire_t *f)
{
    if (f && ac_time_mono_ms() >= f->next)
        fire_due(f);
}
