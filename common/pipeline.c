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
#include "log.h"
#include "message.h"
#include "schedule.h"
#include "stores.h"
#include "timeutil.h"
#include "fire.h"
#include "watermark.h"

static int validate_watermark_topics(const char *value, char *why, size_t whysz)
{
    ac_wm_topic_t topics[AC_WATERMARK_MAX_TOPICS];
    size_t n;
    return ac_watermark_parse_topics(value, topics, &n, why, whysz);
}

static int validate_updates(const char *value, char *why, size_t whysz)
{
    ac_store_settings_t s;
    return ac_stores_parse_updates(value, &s, why, whysz);
}

const ac_option_t ac_pipeline_options[] = {
    {"NOTIFY_TOPIC", AC_OPT_STR, "notifications", 0, 0, 0, ac_config_validate_topic,
     "topic the decided customer messages are produced to"},
    {"MAX_EVENT_BYTES", AC_OPT_INT, "1048576", 0, 64, 2 * 1024 * 1024, NULL,
     "records larger than this go to the dead-letter topic"},
    {"BATCH_SIZE", AC_OPT_INT, "500", 0, 1, 100000, NULL,
     "records processed together (one Redis round trip, one produce wait)"},
    {"BATCH_WAIT", AC_OPT_DURATION, "5ms", 0, 1, 10000, NULL,
     "how long to wait to fill a batch once its first record arrived"},
    {"REVIEW_REQUEST_DELAY", AC_OPT_DURATION, "7d", 0, 1, 365LL * 86400000, NULL,
     "review_request this long after delivery (STORE_SETTINGS may differ per store)"},
    {"REFERRAL_DELAY", AC_OPT_DURATION, "14d", 0, 1, 365LL * 86400000, NULL,
     "referral_invite this long after delivery (STORE_SETTINGS may differ per store)"},
    {"SHIPPING_UPDATES", AC_OPT_STR, "shipped", 0, 0, 0, validate_updates,
     "shipment events that send a shipping_update: shipped, out_for_delivery (comma-separated), "
     "or none"},
    {"STORE_SETTINGS", AC_OPT_STR, "", 0, 0, 0, NULL,
     "JSON file of per-store settings (docs/journey.md); empty: the defaults for every store"},
    {"JOURNEY_TTL", AC_OPT_DURATION, "120d", 0, 60000, 3650LL * 86400000, NULL,
     "how long an order's journey is kept after its last event; must exceed every delay"},
    {"HISTORY_TTL", AC_OPT_DURATION, "365d", 0, 60000, 3650LL * 86400000, NULL,
     "how long a customer's purchases are remembered for cross-selling"},
    AC_FACTS_RETENTION_OPTION,
    {"SCHEDULER", AC_OPT_BOOL, "true", 0, 0, 0, NULL,
     "fire scheduled messages that are due (any number of workers may)"},
    {"FIRE_INTERVAL", AC_OPT_DURATION, "200ms", 0, 10, 60000, NULL,
     "how often due scheduled messages are looked for"},
    {"FIRE_LEASE", AC_OPT_DURATION, "30s", 0, 1000, 3600000, NULL,
     "a fired message not confirmed in Kafka within this is fired again"},
    {"WATERMARK_TOPICS", AC_OPT_STR,
     "orders:aftercare-order-worker,shipments:aftercare-shipment-worker,"
     "returns:aftercare-return-worker",
     0, 0, 0, validate_watermark_topics,
     "topic:group pairs whose unprocessed records hold back scheduled messages due after them "
     "(event-time watermarks); none: fire when due"},
    AC_SCHEDULE_HOLD_OPTION("longest a scheduled message waits for the watermarks before it "
                            "fires on the facts known (STORE_SETTINGS may differ per store)"),
    {"WATERMARK_INTERVAL", AC_OPT_DURATION, "1s", 0, 50, 60000, NULL,
     "how often the watermarks are read from Kafka"},
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
    char *key;     /* dedup key, for valid events */
    char *payload; /* the record completed from its order's context (octx.h), or NULL */
    size_t payload_len;
    ac_journey_t journey;
    ac_decision_t d[AC_RULES_MAX_DECISIONS];
    size_t nd;
} item_t;

typedef struct batch {
    item_t *items;
    size_t n, cap;
    const char **keys; /* scratch for Redis calls */
    int *seen;
    const ac_event_t **evs; /* scratch for the journey */
    ac_journey_t *journeys; /* scratch for the journey */
    ac_schedule_op_t *ops;  /* AC_RULES_MAX_DECISIONS per item */
    item_t **op_items;      /* the item of each op */
    char (*jkeys)[600];     /* journey key per item */
    char **records;         /* encoded record per op, owned while a batch is scheduled */
    size_t n_ops;           /* ops of the last schedule() */
    ac_facts_msg_t *facts;  /* scratch for the report's facts */
    char **merged;          /* scratch for complete_events() */
    int64_t started_ms;     /* when the batch's first record was consumed */
} batch_t;

/* What a worker's pipeline works with besides the batch. */
typedef struct pipe {
    ac_worker_t *w;
    ac_rules_fn rules;
    ac_stores_t *stores;
    const char *notify_topic;
    int64_t journey_ttl, history_ttl, facts_ttl; /* facts_ttl 0: ANALYTICS=false */
    ac_fire_t *fire; /* NULL: this worker does not fire scheduled messages */
} pipe_t;

/* Batch-local counters, added to the registry once per batch. */
typedef struct tally {
    double consumed[AC_EVENT__COUNT + 1]; /* last slot: invalid records */
    double duplicates[AC_EVENT__COUNT], unknown, decided[AC_KIND__COUNT];
    double dead[AC_EVENT_ERR_INVALID_FIELD + 1];
    double scheduled[AC_KIND__COUNT], cancelled[AC_KIND__COUNT];
    double suppressed[AC_KIND__COUNT]
                     [AC_FACT__COUNT + 4]; /* facts, disabled, no_consent, no_support, blocked */
} tally_t;

#define REASON_DISABLED   AC_FACT__COUNT
#define REASON_NO_CONSENT (AC_FACT__COUNT + 1)
#define REASON_NO_SUPPORT (AC_FACT__COUNT + 2)
#define REASON_BLOCKED    (AC_FACT__COUNT + 3)
#define N_REASONS         (AC_FACT__COUNT + 4)

static int reason_index(const char *reason)
{
    for (int f = 0; f < AC_FACT__COUNT; f++)
        if (strcmp(reason, ac_fact_name((ac_fact_t)f)) == 0)
            return f;
    if (strcmp(reason, "disabled") == 0)
        return REASON_DISABLED;
    if (strcmp(reason, "no_consent") == 0)
        return REASON_NO_CONSENT;
    if (strcmp(reason, "no_support") == 0)
        return REASON_NO_SUPPORT;
    return REASON_BLOCKED;
}

static const char *reason_name(int r)
{
    return r < AC_FACT__COUNT       ? ac_fact_name((ac_fact_t)r)
           : r == REASON_DISABLED   ? "disabled"
           : r == REASON_NO_CONSENT ? "no_consent"
           : r == REASON_NO_SUPPORT ? "no_support"
                                    : "blocked";
}

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
        if (b->n == 0) {
            b->started_ms = ac_time_mono_ms();
            deadline = b->started_ms + wait_ms;
        }
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

/* Records every new event's facts in its order's journey and reads the
 * journey back for the rules, retrying through an outage. Events of a
 * type no worker knows leave no facts. Returns -1 only when stopping. */
static int apply_journeys(pipe_t *p, batch_t *b)
{
    size_t n = 0;
    char err[256];
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        if (it->state == ITEM_NEW && it->ev->type == AC_EVENT_UNKNOWN)
            it->state = ITEM_UNKNOWN;
        if (it->state == ITEM_NEW)
            b->evs[n++] = it->ev;
    }
    for (int attempt = 0;; attempt++) {
        if (ac_journey_apply(p->w->redis, b->evs, n, p->journey_ttl, b->journeys, err,
                             sizeof(err)) == 0)
            break;
        ac_worker_redis_status(p->w, 0, err);
        if (ac_worker_stopping())
            return -1;
        ac_worker_sleep(attempt < 5 ? 100 << attempt : 3000);
        ac_http_beat(p->w->http);
    }
    ac_worker_redis_status(p->w, 1, NULL);
    n = 0;
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].state == ITEM_NEW)
            b->items[i].journey = b->journeys[n++];
    return 0;
}

/* The record an item's messages carry: as consumed, or as completed. */
static const char *item_payload(const item_t *it, size_t *len)
{
    *len = it->payload ? it->payload_len : it->msg->len;
    return it->payload ? it->payload : it->msg->payload;
}

/* Keeps the contexts of the batch's new orders and completes the events
 * that lack their customer's address from them (octx.h), retrying through
 * an outage: a context lost would leave a complaint unanswered. An event
 * whose completed record does not parse keeps its own. Returns -1 only
 * when stopping. */
static int complete_events(pipe_t *p, batch_t *b)
{
    size_t n = 0;
    char err[256];
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].state == ITEM_NEW)
            b->evs[n++] = b->items[i].ev;
    for (int attempt = 0;; attempt++) {
        if (ac_octx_sync(p->w->redis, b->evs, n, p->journey_ttl, b->merged, err, sizeof(err)) == 0)
            break;
        ac_worker_redis_status(p->w, 0, err);
        if (ac_worker_stopping())
            return -1;
        ac_worker_sleep(attempt < 5 ? 100 << attempt : 3000);
        ac_http_beat(p->w->http);
    }
    n = 0;
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        if (it->state != ITEM_NEW)
            continue;
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
    return 0;
}

/* Remembers what the batch's new orders bought, for the cross-selling in
 * review requests and referral invitations. Best effort: a lost update
 * only makes a suggestion less apt, so an outage does not hold the batch
 * (the round trip before this one just succeeded). */
static void record_history(pipe_t *p, batch_t *b)
{
    size_t n = 0;
    char err[256];
    for (size_t i = 0; i < b->n; i++)
        if (b->items[i].state == ITEM_NEW && b->items[i].ev->type == AC_EVENT_ORDER_PLACED)
            b->evs[n++] = b->items[i].ev;
    if (n && ac_history_record(p->w->redis, b->evs, n, p->history_ttl, err, sizeof(err)) < 0)
        ac_log(AC_LOG_WARN, "purchase history not recorded: %s", err);
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
                t->suppressed[it->d[k].kind][reason_index(it->d[k].reason)]++;
    }
}

/* Writes the batch's scheduling decisions to Redis once the messages sent
 * now are safely in Kafka, retrying through an outage: the events are only
 * marked done after this, so a crash in between replays them, and adding an
 * item twice is a no-op. Returns 0, -1 when stopping, -2 when out of
 * memory. */
static int schedule(pipe_t *p, batch_t *b, tally_t *t)
{
    size_t n = 0;
    int rc = -1;
    char err[256];
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        if (it->state != ITEM_NEW)
            continue;
        ac_journey_key(it->ev->store.id, it->ev->order.id, b->jkeys[i], sizeof(b->jkeys[i]));
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
                op->type = AC_SCHEDULE_ADD;
                op->journey_key = b->jkeys[i];
                op->journey_ttl_ms = p->journey_ttl;
                op->release_ms = ac_watermark_release(
                    d->kind, d->due_ms,
                    ac_stores_get(p->stores, it->ev->store.id)->watermark_hold_ms);
                size_t plen;
                const char *payload = item_payload(it, &plen);
                b->records[n] = ac_message_encode_json(d->id, d->kind, it->ev->occurred_ms,
                                                       d->due_ms, payload, plen, &op->record_len);
                if (!b->records[n]) {
                    ac_log(AC_LOG_ERROR, "out of memory encoding a scheduled message");
                    rc = -2;
                    goto out;
                }
                op->record = b->records[n];
            } else {
                op->type = AC_SCHEDULE_CANCEL;
            }
            b->op_items[n++] = it;
        }
    }
    for (int attempt = 0;; attempt++) {
        if (ac_schedule_apply(p->w->redis, b->ops, n, err, sizeof(err)) == 0)
            break;
        ac_worker_redis_status(p->w, 0, err);
        if (ac_worker_stopping())
            goto out;
        ac_worker_sleep(attempt < 5 ? 100 << attempt : 3000);
        ac_http_beat(p->w->http);
    }
    ac_worker_redis_status(p->w, 1, NULL);
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
            t->suppressed[op->kind][reason_index(op->blocked_by ? op->blocked_by : "blocked")]++;
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

/* Records what the retention report needs of the batch (facts.h): its new
 * orders, returns and ratings, and the messages it decided not to send,
 * retrying through an outage like the journeys, since the report's counts
 * must be exact. Writing a fact twice is a no-op, so a replay after a
 * crash between here and finish() changes nothing. Returns -1 only when
 * stopping. */
static int record_facts(pipe_t *p, batch_t *b)
{
    size_t n = 0, m = 0;
    char err[256];
    if (!p->facts_ttl)
        return 0;
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items[i];
        if (it->state != ITEM_NEW)
            continue;
        b->evs[n++] = it->ev;
        for (size_t k = 0; k < it->nd; k++)
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
    for (int attempt = 0;; attempt++) {
        if (ac_facts_record_events(p->w->redis, b->evs, n, p->facts_ttl, err, sizeof(err)) == 0 &&
            ac_facts_record_msgs(p->w->redis, b->facts, m, p->facts_ttl, err, sizeof(err)) == 0)
            break;
        ac_worker_redis_status(p->w, 0, err);
        if (ac_worker_stopping())
            return -1;
        ac_worker_sleep(attempt < 5 ? 100 << attempt : 3000);
        ac_http_beat(p->w->http);
    }
    ac_worker_redis_status(p->w, 1, NULL);
    return 0;
}

/* Produces the messages and dead letters of the batch and waits until
 * Kafka has them all. Returns 0, or -1 when any failed. */
static int produce(ac_worker_t *w, batch_t *b, const char *notify_topic, tally_t *t)
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
            for (size_t k = 0; k < it->nd && !err; k++) {
                const ac_decision_t *d = &it->d[k];
                if (d->action != AC_ACTION_SEND)
                    continue;
                size_t len = 0, plen;
                const char *payload = item_payload(it, &plen);
                char *value = ac_message_encode_json(d->id, d->kind, it->ev->occurred_ms, 0,
                                                     payload, plen, &len);
                if (!value) {
                    err = RD_KAFKA_RESP_ERR__FAIL;
                    break;
                }
                err = ac_kafka_produce(w->producer, notify_topic, it->ev->order.id,
                                       strlen(it->ev->order.id), value, len, NULL, &tracker);
                free(value);
                if (!err) {
                    tracker.pending++;
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
                                           w->spec->name, &tracker);
                if (!err) {
                    tracker.pending++;
                    t->dead[AC_EVENT_ERR_TOO_LARGE]++;
                }
            }
        } else if (it->state == ITEM_DUPLICATE) {
            t->duplicates[it->ev->type]++;
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
        if (tracker.pending > 0 && ac_worker_stopping()) {
            ac_kafka_abandon(w->producer, &tracker);
            return -1;
        }
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

/* Counts the batch's records by type as consumed (before processing) or
 * processed (their outcome durable and their offsets stored). */
static void count_events(ac_worker_t *w, const tally_t *t, const char *metric)
{
    char labels[256];
    for (int i = 0; i <= AC_EVENT__COUNT; i++) {
        if (!t->consumed[i])
            continue;
        snprintf(labels, sizeof(labels), "topic=\"%s\",type=\"%s\"", w->topic,
                 i == AC_EVENT__COUNT ? "invalid" : ac_event_type_name((ac_event_type_t)i));
        ac_metrics_add(w->metrics, metric, labels, t->consumed[i]);
    }
}

/* Adds the batch's counts to the registry; with every count 0 and all
 * set, creates every series whose labels are known in advance at 0, so
 * that rates and alerts work from the first scrape (Prometheus'
 * instrumentation guidelines). */
static void add_tally(ac_worker_t *w, const tally_t *t, int all)
{
    char labels[256];
    for (int i = 0; i < AC_EVENT__COUNT; i++) {
        if (!t->duplicates[i] && !all)
            continue;
        snprintf(labels, sizeof(labels), "topic=\"%s\",type=\"%s\"", w->topic,
                 ac_event_type_name((ac_event_type_t)i));
        ac_metrics_add(w->metrics, "aftercare_events_duplicate_total", labels, t->duplicates[i]);
        if (all) {
            ac_metrics_add(w->metrics, "aftercare_events_consumed_total", labels, 0);
            ac_metrics_add(w->metrics, "aftercare_events_processed_total", labels, 0);
        }
    }
    for (int k = 0; k < AC_KIND__COUNT; k++) {
        snprintf(labels, sizeof(labels), "kind=\"%s\"", ac_kind_name((ac_kind_t)k));
        if (t->decided[k] || all)
            ac_metrics_add(w->metrics, "aftercare_messages_decided_total", labels, t->decided[k]);
        if (t->scheduled[k] || all)
            ac_metrics_add(w->metrics, "aftercare_messages_scheduled_total", labels,
                           t->scheduled[k]);
        if (t->cancelled[k] || all)
            ac_metrics_add(w->metrics, "aftercare_scheduled_cancelled_total", labels,
                           t->cancelled[k]);
        for (int r = 0; r < N_REASONS; r++) {
            if (!t->suppressed[k][r] && !all)
                continue;
            snprintf(labels, sizeof(labels), "kind=\"%s\",reason=\"%s\"",
                     ac_kind_name((ac_kind_t)k), reason_name(r));
            ac_metrics_add(w->metrics, "aftercare_messages_suppressed_total", labels,
                           t->suppressed[k][r]);
        }
    }
    for (int r = 1; r <= AC_EVENT_ERR_INVALID_FIELD; r++) {
        if (!t->dead[r] && !all)
            continue;
        snprintf(labels, sizeof(labels), "topic=\"%s\",reason=\"%s\"", w->topic,
                 ac_event_err_name((ac_event_err_t)r));
        ac_metrics_add(w->metrics, "aftercare_events_dead_lettered_total", labels, t->dead[r]);
    }
}

static void flush_tally(ac_worker_t *w, const batch_t *b, const tally_t *t)
{
    char labels[256];
    count_events(w, t, "aftercare_events_processed_total");
    snprintf(labels, sizeof(labels), "topic=\"%s\"", w->topic);
    ac_metrics_observe(w->metrics, "aftercare_event_processing_seconds", labels,
                       (double)(ac_time_mono_ms() - b->started_ms) / 1000.0, (unsigned)b->n);
    if (t->unknown)
        ac_metrics_add(w->metrics, "aftercare_events_unknown_type_total", labels, t->unknown);
    add_tally(w, t, 0);
}

/* Builds the per-store table from the settings. Returns it, or NULL with
 * one line in err naming the setting at fault. */
static ac_stores_t *load_stores(const ac_config_t *cfg, char *err, size_t errsz)
{
    char why[512];
    ac_stores_t *t;
    ac_store_settings_t defaults = {
        .review_delay_ms = ac_config_int(cfg, "REVIEW_REQUEST_DELAY"),
        .referral_delay_ms = ac_config_int(cfg, "REFERRAL_DELAY"),
        .review_requests = 1,
        .referral_invites = 1,
        .watermark_hold_ms = ac_config_int(cfg, "WATERMARK_MAX_HOLD"),
    };
    /* Already validated by the option's validator. */
    ac_stores_parse_updates(ac_config_str(cfg, "SHIPPING_UPDATES"), &defaults, why, sizeof(why));
    const char *path = ac_config_str(cfg, "STORE_SETTINGS");
    if (path && *path)
        t = ac_stores_load(&defaults, path, why, sizeof(why));
    else
        t = ac_stores_new(&defaults, NULL, 0, why, sizeof(why));
    if (!t) {
        snprintf(err, errsz, "invalid setting STORE_SETTINGS: %s", why);
        return NULL;
    }
    /* The journey must outlive every scheduled message of the order, or
     * the check at fire time would not see a return. */
    int64_t ttl = ac_config_int(cfg, "JOURNEY_TTL"), longest = ac_stores_longest_delay(t);
    if (ttl <= longest) {
        char a[32], b[32];
        ac_duration_format(ttl, a, sizeof(a));
        ac_duration_format(longest, b, sizeof(b));
        int from_file = longest > defaults.review_delay_ms && longest > defaults.referral_delay_ms;
        snprintf(err, errsz,
                 "invalid setting JOURNEY_TTL=%s: must be longer than the longest delay (%s%s)", a,
                 b, from_file ? ", set for a store in STORE_SETTINGS" : "");
        ac_stores_destroy(t);
        return NULL;
    }
    return t;
}

int ac_pipeline_check(const ac_config_t *cfg, char *err, size_t errsz)
{
    ac_stores_t *t = load_stores(cfg, err, errsz);
    ac_stores_destroy(t);
    return t ? 0 : -1;
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
    if (!(p->stores = load_stores(w->cfg, err, sizeof(err)))) {
        fprintf(stderr, "%s: %s\n", w->spec->name, err);
        return -1;
    }
    if (ac_config_int(w->cfg, "SCHEDULER") && !(p->fire = ac_fire_new(w, err, sizeof(err)))) {
        ac_log(AC_LOG_ERROR, "cannot fire scheduled messages: %s", err);
        return -2;
    }
    return 0;
}

int ac_pipeline_run(ac_worker_t *w, ac_rules_fn rules)
{
    int rc = AC_EXIT_OK;
    size_t max = (size_t)ac_config_int(w->cfg, "BATCH_SIZE");
    int wait_ms = (int)ac_config_int(w->cfg, "BATCH_WAIT");
    size_t max_bytes = (size_t)ac_config_int(w->cfg, "MAX_EVENT_BYTES");
    int64_t ttl_ms = ac_config_int(w->cfg, AC_DEDUP_TTL);
    pipe_t p = {.w = w, .rules = rules};
    batch_t b = {0};
    int su = setup(&p);
    if (su < 0) {
        rc = su == -2 ? AC_EXIT_RUNTIME : AC_EXIT_CONFIG;
        goto out;
    }
    b.items = calloc(max, sizeof(item_t));
    b.keys = calloc(max, sizeof(char *));
    b.seen = calloc(max, sizeof(int));
    b.evs = calloc(max, sizeof(*b.evs));
    b.journeys = calloc(max, sizeof(*b.journeys));
    b.ops = calloc(max * AC_RULES_MAX_DECISIONS, sizeof(*b.ops));
    b.op_items = calloc(max * AC_RULES_MAX_DECISIONS, sizeof(*b.op_items));
    b.records = calloc(max * AC_RULES_MAX_DECISIONS, sizeof(*b.records));
    b.jkeys = calloc(max, sizeof(*b.jkeys));
    b.facts = calloc(max * AC_RULES_MAX_DECISIONS * 2, sizeof(*b.facts));
    b.merged = calloc(max, sizeof(*b.merged));
    if (!b.items || !b.keys || !b.seen || !b.evs || !b.journeys || !b.ops || !b.op_items ||
        !b.records || !b.jkeys || !b.facts || !b.merged) {
        ac_log(AC_LOG_ERROR, "out of memory for a batch of %zu", max);
        rc = AC_EXIT_RUNTIME;
        goto out;
    }
    ac_journey_register(w->redis);
    ac_schedule_register(w->redis);
    static const double buckets[] = AC_METRICS_LATENCY_BUCKETS;
    ac_metrics_describe_histogram(w->metrics, "aftercare_event_processing_seconds",
                                  "Seconds from consuming a record to storing its offset, its "
                                  "outcome durable.",
                                  buckets, sizeof(buckets) / sizeof(buckets[0]));
    static const tally_t zero;
    add_tally(w, &zero, 1);
    /* Connect early so readiness reflects Redis from the start. */
    char err[256];
    ac_worker_redis_status(w, ac_redis_connect(w->redis, err, sizeof(err)) == 0, err);
    ac_log(AC_LOG_INFO, "%zu store(s) with their own settings; %s scheduled messages",
           ac_stores_count(p.stores), p.fire ? "firing" : "not firing");

    while (!ac_worker_stopping()) {
        ac_http_beat(w->http);
        rd_kafka_poll(w->producer, 0);
        ac_fire_poll(p.fire);
        collect(w, &b, max, wait_ms);
        if (b.n == 0)
            continue;
        tally_t t;
        memset(&t, 0, sizeof(t));
        classify(&b, max_bytes, &t);
        count_events(w, &t, "aftercare_events_consumed_total");
        if (check_seen(w, &b) < 0 || apply_journeys(&p, &b) < 0 || complete_events(&p, &b) < 0)
            break; /* stopping: nothing stored, the batch is consumed again */
        record_history(&p, &b);
        decide(&p, &b, &t);
        if (produce(w, &b, p.notify_topic, &t) < 0) {
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
        int sc = schedule(&p, &b, &t);
        if (sc < 0) {
            /* Not marked: consumed again, and adding twice is a no-op. */
            rc = sc == -2 ? AC_EXIT_RUNTIME : rc;
            break;
        }
        if (record_facts(&p, &b) < 0)
            break; /* stopping: not marked, consumed again */
        finish(w, &b, ttl_ms);
        flush_tally(w, &b, &t);
        batch_clear(&b);
    }
out:
    batch_free(&b);
    ac_fire_destroy(p.fire);
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
