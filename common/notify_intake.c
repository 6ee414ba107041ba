/* notify-worker's intake: records from Kafka become jobs while there is
 * room for them, partitions pause when the worker stays full, and a
 * revoked partition's unstarted jobs are left to its new owner. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "notify_int.h"
#include "timeutil.h"

void notify_job_free(job_t *j)
{
    if (!j)
        return;
    rd_kafka_message_destroy(j->msg);
    ac_message_destroy(j->m);
    ac_rendered_free(&j->rendered);
    free(j->body);
    free(j->defer_record);
    free(j);
}

/* A partition was revoked: its offsets can no longer be committed by us,
 * and work not yet started on it is left to the new owner. Newly assigned
 * partitions start unpaused; notify_take_records() pauses them again if
 * the worker is still full. */
void notify_on_rebalance(void *opaque, int assigned, const rd_kafka_topic_partition_list_t *parts)
{
    notify_t *n = opaque;
    if (assigned) {
        n->paused = 0;
        return;
    }
    for (int i = 0; i < parts->cnt; i++) {
        ac_jobs_revoke(n->jobs, parts->elems[i].partition);
        ac_offsets_reset(n->offsets, parts->elems[i].partition);
    }
}

/* Called by librdkafka, from one of its threads, when records reach the
 * consumer's empty queue: ends the loop's wait on its HTTP requests when
 * the loop asked for that. */
void notify_on_records(rd_kafka_t *rk, void *opaque)
{
    notify_t *n = opaque;
    (void)rk;
    if (atomic_load(&n->wake_on_records))
        ac_delivery_wakeup(n->delivery);
}

static void set_paused(notify_t *n, int pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    if (rd_kafka_assignment(n->w->consumer, &parts) == RD_KAFKA_RESP_ERR_NO_ERROR && parts) {
        if (pause)
            rd_kafka_pause_partitions(n->w->consumer, parts);
        else
            rd_kafka_resume_partitions(n->w->consumer, parts);
        rd_kafka_topic_partition_list_destroy(parts);
    }
    n->paused = pause;
}

/* When the worker is full it first just stops polling: the records wait
 * in librdkafka's prefetch, which is bounded, and flow again the moment
 * there is room. Pausing the partitions is kept for a worker that stays
 * full (a provider down) and must go on polling to stay in its group:
 * librdkafka drops what it prefetched on a pause and fetches again only
 * some 400 ms after the resume, so pausing at every brief overflow made a
 * busy worker stall in a cycle of pauses. Once paused, it resumes at half
 * the room, not at the first free slot. Returns how many records to take
 * now (0: none). */
static size_t room_for_records(notify_t *n)
{
    size_t room = (size_t)n->max_in_flight * 4, held = ac_jobs_total(n->jobs);
    int64_t now = ac_time_mono_ms();
    if (held >= room) {
        if (!n->full_since)
            n->full_since = now;
        if (!n->paused && now - n->full_since >= NOTIFY_PAUSE_AFTER_MS)
            set_paused(n, 1);
        if (!n->paused)
            return 0;
    } else {
        n->full_since = 0;
        if (n->paused && held <= room / 2)
            set_paused(n, 0);
    }
    /* Records fetched before a pause may still come: they are taken. */
    size_t want = held < room ? room - held : 1;
    return want > 1000 ? 1000 : want;
}

/* Out of memory for a record: it is consumed again rather than a later
 * offset of its partition committed past it. */
static void seek_back(notify_t *n, rd_kafka_message_t *msg)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(msg->rkt), msg->partition)->offset =
        msg->offset;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(n->w->consumer, l, 1000);
    if (e)
        rd_kafka_error_destroy(e);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Decodes a new job's record: a notification to claim, or a dead letter
 * when it does not decode. A record replayed from the dead-letter topic
 * after a fix (ac-dlq-replay) starts its lifetime afresh. The record's
 * timestamp is when an event worker decided the message, or fired it
 * from the schedule; a message retried from the schedule was decided
 * before its first attempt. */
static void decode(notify_t *n, job_t *j)
{
    ac_event_error_t err;
    j->m = ac_message_decode(j->msg->payload, j->msg->len, NOTIFY_MAX_RECORD_BYTES, &err);
    if (!j->m) {
        notify_log(AC_LOG_WARN, n, j, "invalid notification: %s", err.detail);
        notify_to_dlq(n, j, "invalid_notification", err.detail);
        return;
    }
    if (!ac_kafka_has_header(j->msg, AC_KAFKA_REPLAYED_HEADER)) {
        j->attempts = j->m->attempts;
        j->first_attempt_ms = j->m->first_attempt_ms;
    }
    j->decided_ms = rd_kafka_message_timestamp(j->msg, NULL);
    if (j->decided_ms <= 0)
        j->decided_ms = ac_time_now_ms();
    if (j->first_attempt_ms > 0 && j->first_attempt_ms < j->decided_ms)
        j->decided_ms = j->first_attempt_ms;
}

/* Turns one record into a job in AC_JOB_NEW (or a dead letter). Returns
 * 0, or -1 when out of memory (the record is sought back and freed). */
static int take(notify_t *n, rd_kafka_message_t *msg)
{
    job_t *j = calloc(1, sizeof(*j));
    if (!j || ac_jobs_add(n->jobs, &j->base, msg->partition) < 0)
        goto fail;
    if (ac_offsets_begin(n->offsets, msg->partition, msg->offset) < 0) {
        ac_jobs_set(n->jobs, &j->base, AC_JOB_DONE);
        ac_jobs_remove(n->jobs, &j->base);
        goto fail;
    }
    j->n = n;
    j->msg = msg;
    j->prefer = -1;
    snprintf(j->token, sizeof(j->token), "%s:%llu", n->w->token, ++n->seq);
    decode(n, j);
    notify_count_record(n, j, "aftercare_events_consumed_total");
    return 0;
fail:
    seek_back(n, msg);
    free(j);
    rd_kafka_message_destroy(msg);
    return -1;
}

/* Takes new records from Kafka while there is room for them, waiting up
 * to timeout_ms for the first. */
void notify_take_records(notify_t *n, int timeout_ms)
{
    size_t want = room_for_records(n);
    for (size_t polled = 0; polled < want; polled++) {
        rd_kafka_message_t *msg =
            rd_kafka_consumer_poll(n->w->consumer, polled == 0 ? timeout_ms : 0);
        if (!msg)
            break;
        if (msg->err) {
            ac_log(AC_LOG_WARN, "kafka consume: %s", rd_kafka_message_errstr(msg));
            rd_kafka_message_destroy(msg);
            continue;
        }
        if (take(n, msg) < 0)
            break;
    }
}
