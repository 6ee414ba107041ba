/* Dead letters: a notification that cannot be sent (it does not decode,
 * has nowhere to go, does not render, was rejected, or ran out of time)
 * goes to the dead-letter topic with the reason, and its record is
 * committed only once the broker has acknowledged the dead letter. */
#include <stdio.h>

#include "log.h"
#include "notify_int.h"

void notify_to_dlq(notify_t *n, job_t *j, const char *reason, const char *detail)
{
    j->dlq_reason = reason;
    snprintf(j->dlq_detail, sizeof(j->dlq_detail), "%s", detail);
    ac_jobs_set(n->jobs, &j->base, AC_JOB_DLQ);
}

/* The dead letter's delivery report, served by rd_kafka_poll() on the
 * loop's thread: acknowledged, the job finishes; failed, it is produced
 * again. */
void ac_notify_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    job_t *j = msg->_private;
    (void)rk;
    (void)opaque;
    if (!j)
        return;
    if (msg->err) {
        ac_log(AC_LOG_WARN, "dead letter not produced, retrying: %s", rd_kafka_err2str(msg->err));
        ac_jobs_set(j->n->jobs, &j->base, AC_JOB_DLQ);
        return;
    }
    ac_jobs_finish(j->n->jobs, &j->base);
}

/* Produces every waiting dead letter; after the producer refuses one, the
 * rest wait a second. */
void notify_produce_dead_letters(notify_t *n)
{
    if (ac_time_mono_ms() < n->dlq_retry_at)
        return;
    for (ac_job_t *b = ac_jobs_first(n->jobs, AC_JOB_DLQ), *next; b; b = next) {
        job_t *j = job_of(b);
        next = b->next;
        rd_kafka_resp_err_t err =
            ac_kafka_produce_dlq(n->w->producer, n->w->dlq_topic, j->msg, j->dlq_reason,
                                 j->dlq_detail, n->w->spec->name, j);
        if (err) {
            ac_log(AC_LOG_WARN, "dead letter not queued, retrying: %s", rd_kafka_err2str(err));
            n->dlq_retry_at = ac_time_mono_ms() + 1000;
            return;
        }
        ac_jobs_set(n->jobs, b, AC_JOB_DLQ_WAIT);
        notify_count_dead_letter(n, j);
    }
}
