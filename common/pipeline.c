#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dedup.h"
#include "log.h"
#include "message.h"
#include "timeutil.h"

const ac_option_t ac_pipeline_options[] = {
    {"NOTIFY_TOPIC", AC_OPT_STR, "notifications", 0, 0, 0, ac_config_validate_topic,
     "topic the decided customer messages are produced to"},
    {"MAX_EVENT_BYTES", AC_OPT_INT, "1048576", 0, 64, 2 * 1024 * 1024, NULL,
     "records larger than this go to the dead-letter topic"},
    {"BATCH_SIZE", AC_OPT_INT, "500", 0, 1, 100000, NULL,
     "records processed together (one Redis round trip, one produce wait)"},
    {"BATCH_WAIT", AC_OPT_DURATION, "20ms", 0, 1, 10000, NULL,
     "how long to wait to fill a batch once its first record arrived"},
};
const size_t ac_pipeline_n_options = sizeof(ac_pipeline_options) / sizeof(ac_pipeline_options[0]);

/* What became of one consumed record. */
typedef enum item_state {
    ITEM_INVALID,   /* to the dead-letter topic */
    ITEM_UNKNOWN,   /* valid, but a type no rule here handles */
    ITEM_DUPLICATE, /* already processed */
    ITEM_NEW,       /* to decide and produce */
} item_state_t;

typedef struct item {
    rd_kafka_message_t *msg;
    ac_event_t *ev;
    ac_event_error_t err;
    item_state_t state;
    char *key; /* dedup key, for valid events */
} item_t;

typedef struct batch {
    item_t *items;
    size_t n, cap;
    const char **keys; /* scratch for Redis calls */
    int *seen;
} batch_t;

/* Batch-local counters, added to the registry once per batch. */
typedef struct tally {
    double consumed[AC_EVENT__COUNT + 1]; /* last slot: invalid records */
    double duplicates, unknown, decided[AC_KIND__COUNT], dead[AC_EVENT_ERR_INVALID_FIELD + 1];
} tally_t;

static void batch_clear(batch_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        rd_kafka_message_destroy(b->items[i].msg);
        ac_event_destroy(b->items[i].ev);
        free(b->items[i].key);
    }
    b->n = 0;
}

static void batch_free(batch_t *b)
{
    batch_clear(b);
    free(b->items);
    free(b->keys);
    free(b->seen);
}

/* Polls until the batch is full, or batch_wait passed since the first
 * record, or nothing arrived within 100 ms. Consumer errors are transient
 * (librdkafka recovers by itself) and only logged. */
static void collect(ac_worker_t *w, batch_t *b, size_t max, int wait_ms)
{
    int64_t deadline = 0;
    while (b->n < max) {
        int timeout = 100;
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
        if (b->n == 0)
            deadline = ac_time_mono_ms() + wait_ms;
        b->items[b->n++] = (item_t){.msg = m};
    }
}

static int cmp_item_key(const void *a, const void *b)
{
    const item_t *x = *(item_t *const *)a, *y = *(item_t *const *)b;
    int c = strcmp(x->key, y->key);
    /* Equal keys keep consumption order, so the first one is the original. */
    return c ? c : (x < y ? -1 : x > y);
}

/* Validates every record and finds duplicates inside the batch itself,
 * which Redis cannot see because they are not marked yet: sorting by key
 * puts copies next to each other. */
static void classify(batch_t *b, size_t max_bytes, tally_t *t)
{
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
}

/* Asks Redis which new events were already processed, retrying through
 * an outage. Returns -1 only when the worker is stopping. */
static int check_seen(ac_worker_t *w, batch_t *b)
{
    size_t n = 0;
    char err[256];
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].state == ITEM_NEW)
            b->keys[n++] = b->items[i].key;
    for (int attempt = 0;; attempt++) {
        if (ac_dedup_events_seen(w->redis, b->keys, n, b->seen, err, sizeof(err)) == 0)
            break;
        ac_worker_redis_status(w, 0, err);
        if (ac_worker_stopping())
            return -1;
        ac_worker_sleep(attempt < 5 ? 100 << attempt : 3000);
        ac_http_beat(w->http);
    }
    ac_worker_redis_status(w, 1, NULL);
    n = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].state == ITEM_NEW && b->seen[n++])
            b->items[i].state = ITEM_DUPLICATE;
    return 0;
}

/* Produces the messages and dead letters of the batch and waits until
 * Kafka has them all. Returns 0, or -1 when any failed. */
static int produce(ac_worker_t *w, batch_t *b, ac_rules_fn rules, const char *notify_topic,
                   tally_t *t)
{
    ac_kafka_tracker_t tracker = {0, 0, 0};
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        rd_kafka_resp_err_t err = 0;
        if (it->state == ITEM_INVALID) {
            ac_log_ctx_t ctx = {w->topic, it->msg->partition, it->msg->offset, NULL, NULL};
            ac_log_at(AC_LOG_WARN, &ctx, "dead-lettered: %s", it->err.detail);
            err = ac_kafka_produce_dlq(w->producer, w->dlq_topic, it->msg,
                                       ac_event_err_name(it->err.code), it->err.detail,
                                       w->spec->name, &tracker);
            if (!err) {
                tracker.pending++;
                t->dead[it->err.code]++;
            }
        } else if (it->state == ITEM_NEW) {
            ac_decision_t d[AC_RULES_MAX_DECISIONS];
            size_t nd = rules(it->ev, d, AC_RULES_MAX_DECISIONS);
            if (nd == 0) {
                it->state = ITEM_UNKNOWN;
                t->unknown++;
            }
            for (size_t k = 0; k < nd && !err; k++) {
                size_t len = 0;
                char *value = ac_message_encode(d[k].id, d[k].kind, it->ev->occurred_ms,
                                                d[k].due_ms, it->ev, &len);
                if (!value) {
                    err = RD_KAFKA_RESP_ERR__FAIL;
                    break;
                }
                err = ac_kafka_produce(w->producer, notify_topic, it->ev->order.id,
                                       strlen(it->ev->order.id), value, len, NULL, &tracker);
                free(value);
                if (!err) {
                    tracker.pending++;
                    t->decided[d[k].kind]++;
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
                                           w->spec->name, &tracker);
                if (!err) {
                    tracker.pending++;
                    t->dead[AC_EVENT_ERR_TOO_LARGE]++;
                }
            }
        } else if (it->state == ITEM_DUPLICATE) {
            t->duplicates++;
        }
        if (err) {
            ac_log(AC_LOG_ERROR, "produce failed: %s", rd_kafka_err2str(err));
            tracker.failed++;
        }
    }
    /* message.timeout.ms bounds every delivery, so this wait ends; a stop
     * request ends it sooner, leaving the batch uncommitted. */
    while (tracker.pending > 0) {
        ac_kafka_wait(w->producer, &tracker, 1000);
        ac_http_beat(w->http);
        if (tracker.pending > 0 && ac_worker_stopping())
            return -1;
    }
    if (tracker.failed) {
        ac_log(AC_LOG_ERROR, "%d record(s) of the batch were not produced: %s", tracker.failed,
               rd_kafka_err2str(tracker.last_err));
        return -1;
    }
    return 0;
}

/* Re-reads the batch after a failed produce: seeks each partition back to
 * the batch's first record of it. Nothing of the batch was committed.
 * Returns -1 when a partition could not be sought back: carrying on would
 * let a later batch commit past records that were never produced. */
static int rewind_batch(ac_worker_t *w, batch_t *b)
{
    int rc = 0;
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new((int)b->n);
    for (size_t i = 0; i < b->n; i++) {
        rd_kafka_message_t *m = b->items[i].msg;
        const char *topic = rd_kafka_topic_name(m->rkt);
        if (!rd_kafka_topic_partition_list_find(parts, topic, m->partition))
            rd_kafka_topic_partition_list_add(parts, topic, m->partition)->offset = m->offset;
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
    ac_metrics_add(w->metrics, "aftercare_batches_rewound_total", "", 1);
    return rc;
}

/* Marks the batch's processed events done, then stores the offsets. A
 * mark that cannot be written after the output is in Kafka only weakens
 * the first line of deduplication; notify-worker's message claim still
 * holds, so the offsets are stored regardless. */
static void finish(ac_worker_t *w, batch_t *b, int64_t ttl_ms)
{
    size_t n = 0;
    char err[256];
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].state == ITEM_NEW || b->items[i].state == ITEM_UNKNOWN)
            b->keys[n++] = b->items[i].key;
    for (int attempt = 0; attempt < 5; attempt++) {
        if (ac_dedup_events_mark(w->redis, b->keys, n, ttl_ms, err, sizeof(err)) == 0) {
            ac_worker_redis_status(w, 1, NULL);
            break;
        }
        ac_worker_redis_status(w, 0, err);
        if (ac_worker_stopping())
            break;
        ac_worker_sleep(100 << attempt);
    }

    rd_kafka_topic_partition_list_t *offs = rd_kafka_topic_partition_list_new((int)b->n);
    for (size_t i = 0; i < b->n; i++) {
        rd_kafka_message_t *m = b->items[i].msg;
        const char *topic = rd_kafka_topic_name(m->rkt);
        rd_kafka_topic_partition_t *p =
            rd_kafka_topic_partition_list_find(offs, topic, m->partition);
        if (!p)
            p = rd_kafka_topic_partition_list_add(offs, topic, m->partition);
        if (m->offset + 1 > p->offset)
            p->offset = m->offset + 1;
    }
    rd_kafka_resp_err_t e = rd_kafka_offsets_store(w->consumer, offs);
    if (e && e != RD_KAFKA_RESP_ERR__STATE)
        ac_log(AC_LOG_WARN, "offsets store: %s", rd_kafka_err2str(e));
    rd_kafka_topic_partition_list_destroy(offs);
}

static void flush_tally(ac_worker_t *w, const tally_t *t)
{
    char labels[256];
    for (int i = 0; i <= AC_EVENT__COUNT; i++) {
        if (!t->consumed[i])
            continue;
        snprintf(labels, sizeof(labels), "topic=\"%s\",type=\"%s\"", w->topic,
                 i == AC_EVENT__COUNT ? "invalid" : ac_event_type_name((ac_event_type_t)i));
        ac_metrics_add(w->metrics, "aftercare_events_consumed_total", labels, t->consumed[i]);
    }
    snprintf(labels, sizeof(labels), "topic=\"%s\"", w->topic);
    if (t->duplicates)
        ac_metrics_add(w->metrics, "aftercare_events_duplicate_total", labels, t->duplicates);
    if (t->unknown)
        ac_metrics_add(w->metrics, "aftercare_events_unknown_type_total", labels, t->unknown);
    for (int k = 0; k < AC_KIND__COUNT; k++) {
        if (!t->decided[k])
            continue;
        snprintf(labels, sizeof(labels), "kind=\"%s\"", ac_kind_name((ac_kind_t)k));
        ac_metrics_add(w->metrics, "aftercare_messages_decided_total", labels, t->decided[k]);
    }
    for (int r = 1; r <= AC_EVENT_ERR_INVALID_FIELD; r++) {
        if (!t->dead[r])
            continue;
        snprintf(labels, sizeof(labels), "topic=\"%s\",reason=\"%s\"", w->topic,
                 ac_event_err_name((ac_event_err_t)r));
        ac_metrics_add(w->metrics, "aftercare_events_dead_lettered_total", labels, t->dead[r]);
    }
}

int ac_pipeline_run(ac_worker_t *w, ac_rules_fn rules)
{
    int rc = AC_EXIT_OK;
    size_t max = (size_t)ac_config_int(w->cfg, "BATCH_SIZE");
    int wait_ms = (int)ac_config_int(w->cfg, "BATCH_WAIT");
    size_t max_bytes = (size_t)ac_config_int(w->cfg, "MAX_EVENT_BYTES");
    int64_t ttl_ms = ac_config_int(w->cfg, AC_DEDUP_TTL);
    const char *notify_topic = ac_config_str(w->cfg, "NOTIFY_TOPIC");
    batch_t b = {0};
    b.items = calloc(max, sizeof(item_t));
    b.keys = calloc(max, sizeof(char *));
    b.seen = calloc(max, sizeof(int));
    if (!b.items || !b.keys || !b.seen) {
        ac_log(AC_LOG_ERROR, "out of memory for a batch of %zu", max);
        rc = AC_EXIT_RUNTIME;
        goto out;
    }
    /* Connect early so readiness reflects Redis from the start. */
    char err[256];
    ac_worker_redis_status(w, ac_redis_connect(w->redis, err, sizeof(err)) == 0, err);

    while (!ac_worker_stopping()) {
        ac_http_beat(w->http);
        rd_kafka_poll(w->producer, 0);
        collect(w, &b, max, wait_ms);
        if (b.n == 0)
            continue;
        tally_t t;
        memset(&t, 0, sizeof(t));
        classify(&b, max_bytes, &t);
        if (check_seen(w, &b) < 0)
            break; /* stopping: nothing stored, the batch is consumed again */
        if (produce(w, &b, rules, notify_topic, &t) < 0) {
            if (ac_worker_stopping())
                break; /* nothing of the batch stored: consumed again */
            if (rd_kafka_fatal_error(w->producer, NULL, 0)) {
                ac_log(AC_LOG_ERROR, "the producer hit a fatal error; restarting is needed");
                rc = AC_EXIT_RUNTIME;
                break;
            }
            if (rewind_batch(w, &b) < 0) {
                rc = AC_EXIT_RUNTIME;
                break;
            }
            batch_clear(&b);
            ac_worker_sleep(500);
            continue;
        }
        finish(w, &b, ttl_ms);
        flush_tally(w, &t);
        batch_clear(&b);
    }
out:
    batch_free(&b);
    return rc;
}
