/* notify-worker's loop. Each turn takes new records, moves every job as
 * far as it can go through the stages of jobs.h (each stage one batched
 * call over its own list), waits on the HTTP requests in flight, and
 * stores the offsets of finished records in order. The stages live in
 * notify_*.c (see notify_int.h for which is where). */
#include "notify.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "notify_int.h"

void notify_log(int level, const notify_t *n, const job_t *j, const char *fmt, const char *arg)
{
    ac_log_ctx_t ctx = {n->w->topic, j->msg->partition, j->msg->offset,
                        j->m ? j->m->event->event_id : NULL, j->m ? j->m->id : NULL};
    ac_log_at(level, &ctx, fmt, arg);
}

void notify_wait(notify_t *n, job_t *j, int64_t delay_ms)
{
    ac_jobs_wait(n->jobs, &j->base, ac_time_mono_ms() + delay_ms);
}

/* reason NULL: delivered; else why it is not sent. */
void notify_mark(notify_t *n, job_t *j, const char *reason)
{
    j->mark_reason = reason;
    ac_jobs_set(n->jobs, &j->base, AC_JOB_MARK);
}

/* Every state change, at debug level: one message's path through the
 * worker, read from its log lines. */
static void log_transition(void *opaque, const ac_job_t *b, ac_job_state_t from, ac_job_state_t to)
{
    char line[64];
    if (!ac_log_enabled(AC_LOG_DEBUG))
        return;
    snprintf(line, sizeof(line), "%s -> %s", ac_job_state_name(from), ac_job_state_name(to));
    notify_log(AC_LOG_DEBUG, opaque, job_of((ac_job_t *)b), "state: %s", line);
}

/* Frees finished jobs and stores the offsets their partitions may now
 * commit. Jobs of revoked partitions, and jobs abandoned at shutdown,
 * finish without storing anything. */
static void reap(notify_t *n)
{
    for (ac_job_t *b; (b = ac_jobs_first(n->jobs, AC_JOB_DONE));) {
        job_t *j = job_of(b);
        if (!ac_jobs_stale(n->jobs, b)) {
            notify_count_record(n, j, "aftercare_events_processed_total");
            int64_t commit = ac_offsets_done(n->offsets, j->msg->partition, j->msg->offset);
            if (commit >= 0) {
                rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
                rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(j->msg->rkt),
                                                  j->msg->partition)
                    ->offset = commit;
                rd_kafka_offsets_store(n->w->consumer, l);
                rd_kafka_topic_partition_list_destroy(l);
            }
        }
        ac_jobs_remove(n->jobs, b);
        notify_job_free(j);
    }
}

/* How long the loop may block on its requests: not past the next due
 * retry, not at all when some job can move on now, and at most 20 ms
 * while some job waits on Redis or the producer coming back. */
static int idle_timeout(notify_t *n)
{
    const ac_jobs_t *js = n->jobs;
    int64_t now = ac_time_mono_ms(), t = 100, due = ac_jobs_next_due(js);
    int redis = notify_redis_allowed(n);
    int room = ac_delivery_in_flight(n->delivery) < n->max_in_flight;
    size_t idle = ac_jobs_count(js, AC_JOB_WAIT) + ac_jobs_count(js, AC_JOB_SENDING) +
                  ac_jobs_count(js, AC_JOB_DLQ_WAIT);
    if (due - now < t)
        t = due - now;
    if (ac_jobs_count(js, AC_JOB_DONE) || ac_jobs_count(js, AC_JOB_NEW) ||
        ac_jobs_count(js, AC_JOB_SEND) || (room && redis && ac_jobs_count(js, AC_JOB_CLAIM)) ||
        (redis && (ac_jobs_count(js, AC_JOB_MARK) || ac_jobs_count(js, AC_JOB_RELEASE) ||
                   ac_jobs_count(js, AC_JOB_DEFER))) ||
        (ac_jobs_count(js, AC_JOB_DLQ) && now >= n->dlq_retry_at))
        t = 0;
    else if (ac_jobs_total(js) > idle && t > 20)
        t = 20;
    return t < 0 ? 0 : (int)t;
}

/* One turn of the loop: every stage once, in the order a message goes
 * through them, then a wait on the requests in flight and their results. */
static void turn(notify_t *n, int draining)
{
    ac_delivery_result_t results[256];
    ac_http_beat(n->w->http);
    if (draining)
        ac_jobs_drain(n->jobs);
    else
        notify_take_records(n, ac_jobs_total(n->jobs) == 0 ? 100 : 0);
    ac_jobs_wake(n->jobs, ac_time_mono_ms());
    notify_record(n);
    notify_quiet_hours(n);
    notify_defer(n);
    notify_claim(n);
    notify_send(n);
    notify_produce_dead_letters(n);
    rd_kafka_poll(n->w->producer, 0);
    /* New records need to end the wait only while the worker holds fewer
     * messages than it may send at once. With more in hand, responses
     * keep the loop turning. */
    atomic_store(&n->wake_on_records, ac_jobs_total(n->jobs) < (size_t)n->max_in_flight);
    int got = ac_delivery_poll(n->delivery, idle_timeout(n), results, 256);
    for (int i = 0; i < got; i++)
        notify_result(n, &results[i]);
    notify_record(n);
    reap(n);
    ac_metrics_set(n->w->metrics, "aftercare_in_flight", "", (double)ac_jobs_total(n->jobs));
}

/* Whether the loop ends: once asked to stop, it stops taking work and
 * drains in what SHUTDOWN_TIMEOUT leaves after the Kafka close (which
 * needs a few seconds of it), finishing what is in flight and giving
 * back the rest. */
static int finished(notify_t *n, int64_t *deadline)
{
    int64_t now = ac_time_mono_ms();
    if (ac_worker_stopping() && !*deadline) {
        int64_t left = ac_worker_shutdown_left_ms(n->w);
        *deadline = now + (left > 6000 ? left - 3000 : left / 2);
        ac_log(AC_LOG_INFO, "stopping: finishing %zu message(s) in hand", ac_jobs_total(n->jobs));
    }
    return *deadline && (ac_jobs_total(n->jobs) == 0 || now >= *deadline);
}

int ac_notify_run(ac_worker_t *w)
{
    int rc;
    char err[256];
    notify_t n;
    rd_kafka_queue_t *records = NULL;
    int64_t deadline = 0;
    if (notify_setup(&n, w, err, sizeof(err), &rc) < 0) {
        ac_log(AC_LOG_ERROR, "%s", err);
        goto out;
    }
    rc = AC_EXIT_OK;
    ac_jobs_set_observer(n.jobs, log_transition, &n);
    w->hooks.rebalance = notify_on_rebalance;
    w->hooks.opaque = &n;
    /* Records arriving while the loop waits on its HTTP requests end the
     * wait, rather than waiting for a response or the timeout. */
    if ((records = rd_kafka_queue_get_consumer(w->consumer)))
        rd_kafka_queue_cb_event_enable(records, notify_on_records, &n);
    ac_worker_redis_status(w, ac_redis_connect(w->redis, err, sizeof(err)) == 0, err);
    while (!finished(&n, &deadline))
        turn(&n, deadline != 0);
    if (ac_jobs_total(n.jobs))
        ac_log(AC_LOG_WARN, "shutdown timeout: %zu message(s) left to the next owner",
               ac_jobs_total(n.jobs));
out:
    if (records) {
        rd_kafka_queue_cb_event_enable(records, NULL, NULL);
        rd_kafka_queue_destroy(records);
    }
    /* Requests in flight are aborted first; dead letters still
     * unacknowledged reference their jobs: they are purged, and their
     * (failed) reports served, before the jobs are freed. */
    ac_delivery_destroy(n.delivery);
    n.delivery = NULL;
    int64_t left = ac_worker_shutdown_left_ms(w);
    rd_kafka_flush(w->producer, (int)(left < 5000 ? (left > 500 ? left : 500) : 5000));
    rd_kafka_purge(w->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(w->producer, 0);
    notify_teardown(&n);
    w->hooks.rebalance = NULL;
    return rc;
}

int ac_notify_main(int argc, char **argv)
{
    int code;
    const ac_worker_spec_t spec = {
        .name = "notify-worker",
        .summary = "Delivers decided customer messages to the store's webhook or providers.",
        .default_topic = "notifications",
        .options = ac_notify_options,
        .n_options = ac_notify_n_options,
        .dr = ac_notify_dr,
        .check = ac_notify_check,
    };
    ac_worker_t *w = ac_worker_new(&spec, argc, argv, &code);
    if (!w)
        return code;
    code = ac_notify_run(w);
    ac_worker_destroy(w);
    return code;
}
