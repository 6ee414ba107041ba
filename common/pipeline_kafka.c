/* The Kafka side of an event worker's batch: collecting its records,
 * producing its messages and dead letters, waiting for Kafka to have them,
 * and rewinding after a failure (pipeline_marks.c marks its events done
 * and stores its offsets). */
#include "pipeline_int.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "message.h"
#include "timeutil.h"

/* Polls until the batch is full, or batch_wait passed since the first
 * record, or nothing arrived within first_ms (0 while another batch is in
 * flight: it is finished rather than kept waiting for records that are not
 * there yet). Consumer errors are transient (librdkafka recovers by
 * itself) and only logged. */
void ac_pipe_collect(ac_worker_t *w, batch_t *b, size_t max, int wait_ms, int first_ms)
{
    int64_t deadline = 0;
    while (b->n < max) {
        int timeout = first_ms;
        if (b->n > 0) {
            int64_t left = deadline - ac_time_mono_ms();
            if (left <= 0)
                break;
            timeout = (int)left;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(w->consumer, timeout);
        if (!m)
            break;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                ac_log(AC_LOG_WARN, "kafka consume: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            continue;
        }
        if (b->n == 0) {
            b->started_ms = ac_time_mono_ms();
            deadline = b->started_ms + wait_ms;
        }
        b->items[b->n++] = (item_t){.msg = m};
    }
}

/* Drops the records of the revoked partitions from the batch being
 * collected: its offsets could not be stored any more, and their new owner
 * consumes them from the committed offset. */
void ac_pipe_drop_revoked(batch_t *b, const rd_kafka_topic_partition_list_t *parts)
{
    size_t kept = 0;
    for (size_t i = 0; i < b->n; i++) {
        rd_kafka_message_t *m = b->items[i].msg;
        if (rd_kafka_topic_partition_list_find(parts, rd_kafka_topic_name(m->rkt), m->partition))
            rd_kafka_message_destroy(m);
        else
            b->items[kept++] = b->items[i];
    }
    b->n = kept;
}

/* Every record is counted in b->tracker before the next is produced, so
 * that the delivery reports, served whenever the producer is polled, find
 * the count they decrement; the batch is waited for later
 * (ac_pipe_produced()), while the next batch is processed. */
void ac_pipe_produce(ac_worker_t *w, batch_t *b, const char *notify_topic)
{
    ac_kafka_tracker_t *tracker = &b->tracker;
    tally_t *t = &b->tally;
    *tracker = (ac_kafka_tracker_t){0, 0, 0};
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        rd_kafka_resp_err_t err = 0;
        if (it->state == ITEM_INVALID) {
            ac_log_ctx_t ctx = {w->topic, it->msg->partition, it->msg->offset, NULL, NULL};
            ac_log_at(AC_LOG_WARN, &ctx, "dead-lettered: %s", it->err.detail);
            err = ac_kafka_produce_dlq(w->producer, w->dlq_topic, it->msg,
                                       ac_event_err_name(it->err.code), it->err.detail,
                                       w->spec->name, tracker);
            if (!err) {
                tracker->pending++;
                t->dead[it->err.code]++;
            }
        } else if (it->state == ITEM_NEW) {
            for (size_t k = 0; k < it->nd && !err; k++) {
                const ac_decision_t *d = &it->d[k];
                if (d->action != AC_ACTION_SEND)
                    continue;
                size_t len = 0, plen;
                const char *payload = ac_pipe_item_payload(it, &plen);
                char *value = ac_message_encode_json(d->id, d->kind, it->ev->occurred_ms, 0,
                                                     payload, plen, &len);
                if (!value) {
                    err = RD_KAFKA_RESP_ERR__FAIL;
                    break;
                }
                err = ac_kafka_produce(w->producer, notify_topic, it->ev->order.id,
                                       strlen(it->ev->order.id), value, len, NULL, tracker);
                free(value);
                if (!err) {
                    tracker->pending++;
                    t->decided[d->kind]++;
                }
            }
            if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
                /* Retrying cannot help: the event itself goes to the
                 * dead-letter topic instead of blocking its partition. */
                ac_log_ctx_t ctx = {w->topic, it->msg->partition, it->msg->offset, it->ev->event_id,
                                    NULL};
                ac_log_at(AC_LOG_WARN, &ctx, "dead-lettered: %s", "message too large to produce");
                err = ac_kafka_produce_dlq(w->producer, w->dlq_topic, it->msg, "too_large",
                                           "the message for this event is larger than the "
                                           "producer's message.max.bytes",
                                           w->spec->name, tracker);
                if (!err) {
                    tracker->pending++;
                    t->dead[AC_EVENT_ERR_TOO_LARGE]++;
                }
            }
        } else if (it->state == ITEM_DUPLICATE) {
            t->duplicates[it->ev->type]++;
        }
        if (err) {
            ac_log(AC_LOG_ERROR, "produce failed: %s", rd_kafka_err2str(err));
            tracker->failed++;
        }
    }
}

/* message.timeout.ms bounds every delivery, so this wait ends; a stop
 * request ends it sooner, leaving the batch uncommitted. */
int ac_pipe_produced(ac_worker_t *w, batch_t *b)
{
    ac_kafka_tracker_t *tracker = &b->tracker;
    while (tracker->pending > 0) {
        ac_kafka_wait(w->producer, tracker, 1000);
        ac_http_beat(w->http);
        if (tracker->pending > 0 && ac_worker_stopping()) {
            ac_kafka_abandon(w->producer, tracker);
            return -1;
        }
    }
    if (tracker->failed) {
        ac_log(AC_LOG_ERROR, "%d record(s) of the batch were not produced: %s", tracker->failed,
               rd_kafka_err2str(tracker->last_err));
        return -1;
    }
    return 0;
}

/* Nothing of the batches was committed, and each partition is read again
 * from its lowest offset in them. A partition that cannot be sought back is
 * fatal: carrying on would let a later batch commit past records that were
 * never produced. */
int ac_pipe_rewind(ac_worker_t *w, batch_t *const *bs, size_t n)
{
    int rc = 0;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(16);
    for (size_t k = 0; k < n; k++)
        for (size_t i = 0; i < bs[k]->n; i++) {
            rd_kafka_message_t *m = bs[k]->items[i].msg;
            const char *topic = rd_kafka_topic_name(m->rkt);
            rd_kafka_topic_partition_t *p =
                rd_kafka_topic_partition_list_find(parts, topic, m->partition);
            if (!p)
                rd_kafka_topic_partition_list_add(parts, topic, m->partition)->offset = m->offset;
            else if (m->offset < p->offset)
                p->offset = m->offset; /* a partition assigned again is fetched again */
        }
    rd_kafka_error_t *error = rd_kafka_seek_partitions(w->consumer, parts, 5000);
    if (error) {
        ac_log(AC_LOG_ERROR, "seek back failed: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        rc = -1;
    }
    for (int i = 0; i < parts->cnt; i++) {
        /* A partition no longer ours is re-read by its new owner. */
        rd_kafka_resp_err_t e = parts->elems[i].err;
        if (e && e != RD_KAFKA_RESP_ERR__STATE && e != RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
            ac_log(AC_LOG_ERROR, "seek back of partition %d failed: %s",
                   (int)parts->elems[i].partition, rd_kafka_err2str(e));
            rc = -1;
        }
    }
    rd_kafka_topic_partition_list_destroy(parts);
    ac_metrics_add(w->metrics, "aftercare_batches_rewound_total", "", (double)n);
    return rc;
}
