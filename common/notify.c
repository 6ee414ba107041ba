#include "notify.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dedup.h"
#include "delivery.h"
#include "facts.h"
#include "log.h"
#include "message.h"
#include "history.h"
#include "holdout.h"
#include "journey.h"
#include "journey_redis.h"
#include "links.h"
#include "offsets.h"
#include "prefs.h"
#include "provider.h"
#include "render.h"
#include "rtoken.h"
#include "retry.h"
#include "schedule.h"
#include "stores.h"
#include "timeutil.h"
#include "watermark.h"
#include "webhook.h"

#define NOTIFY_MAX_RECORD_BYTES (4 * 1024 * 1024)
#define NOTIFY_BUSY_RETRY_MS    1000
#define NOTIFY_PAUSE_AFTER_MS   2000

typedef enum job_state {
    J_CLAIM,    /* to claim in Redis (first time or after a wait) */
    J_DEFER,    /* quiet hours: to put back in the schedule until defer_until */
    J_WAIT,     /* waiting until due_ms, then J_CLAIM */
    J_SENDING,  /* request in flight */
    J_MARK,     /* delivered, or not to send (mark_reason); to record as sent */
    J_DLQ,      /* to produce to the dead-letter topic */
    J_DLQ_WAIT, /* dead letter produced, awaiting its delivery report */
    J_RELEASE,  /* to release our lease, then done */
    J_DONE,     /* finished: its offset may be committed */
} job_state_t;

typedef struct job {
    rd_kafka_message_t *msg;
    ac_message_t *m;
    unsigned gen; /* partition generation when consumed */
    job_state_t state;
    int attempts;
    int leased;
    int quiet_checked;      /* quiet hours were looked at */
    char suggestion[256];   /* marketing: a product to suggest, "" for none */
    const char *cross_sell; /* a suggestion was "sent" with it, or held back ("holdout") */
    int prefer;             /* the customer's preferred channel, -1: none */
    int prefer_known;       /* prefer was looked up */
    int64_t defer_until;    /* J_DEFER: UTC ms */
    int64_t due_ms;         /* monotonic, for J_WAIT */
    char token[96];
    ac_rendered_t rendered; /* rendered once, whichever provider sends it */
    int is_rendered;
    const char *to; /* the customer's address on channel, owned by m */
    char *body;     /* of the request in flight, or the last one */
    size_t body_len;
    ac_channel_t channel;
    ac_route_t route;            /* how the last attempt was routed */
    ac_provider_kind_t provider; /* where the last attempt went */
    const char *dlq_reason;
    char dlq_detail[256];
    const char *mark_reason;  /* J_MARK: why it is not sent; NULL: delivered */
    const char *alert_url;    /* a store_alert to the store's webhook: where it goes */
    int64_t first_attempt_ms; /* wall clock of the first attempt (or hold); 0: none yet */
    int64_t decided_ms;       /* wall clock: when it was decided (its record was written) */
    const char *defer_reason; /* J_DEFER: "quiet_hours" or "retry" */
    char *defer_record;       /* J_DEFER of a retry: the record with its attempts, owned */
    size_t defer_record_len;
} job_t;

typedef struct notify {
    ac_worker_t *w;
    ac_delivery_t *delivery;
    ac_offsets_t *offsets;
    job_t **jobs;
    size_t n_jobs, cap_jobs;
    unsigned *gens;
    size_t n_gens;
    unsigned long long seq;
    uint32_t rng;
    int paused;
    atomic_int wake_on_records; /* read by on_records(), from librdkafka's threads */
    int64_t full_since;         /* monotonic: when the worker last became full, or 0 */
    int64_t redis_retry_at;     /* monotonic: no Redis call before this after a failure */
    int64_t dlq_retry_at;       /* monotonic: no dead-letter produce before this after a failure */
    int redis_failures;
    /* per channel: who sends, who takes over while that keeps failing */
    ac_provider_t *primary[AC_CHANNEL__COUNT];
    ac_provider_t *fallback[AC_CHANNEL__COUNT]; /* NULL: none */
    ac_breaker_t breaker[AC_CHANNEL__COUNT];
    /* settings */
    int max_in_flight;
    int sending[AC_CHANNEL__COUNT]; /* requests in flight per channel */
    ac_retry_policy_t retry;
    int64_t claim_ttl, sent_ttl, recheck_after, hold_ms, facts_ttl;
    ac_quiet_t quiet;
    ac_stores_t *stores;
    ac_templates_t *templates;
    int cap;
    int64_t cap_window;
    /* One-click ratings in review requests (rtoken.h); no keys: none. */
    ac_secrets_t rating_keys;
    const char *rating_base;
    int64_t rating_ttl;
    /* A webhook provider for store alerts to a store's support URL: the
     * same body and signature as the customer messages' webhook. */
    ac_provider_t *alert;
} notify_t;

static uint32_t next_rand(notify_t *n)
{
    /* xorshift32: jitter only, no security need. */
    uint32_t x = n->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return n->rng = x ? x : 0x9e3779b9u;
}

static unsigned *gen_slot(notify_t *n, int32_t partition)
{
    if (partition < 0)
        return NULL;
    if ((size_t)partition >= n->n_gens) {
        size_t cap = (size_t)partition + 1;
        unsigned *g = realloc(n->gens, cap * sizeof(*g));
        if (!g)
            return NULL;
        memset(g + n->n_gens, 0, (cap - n->n_gens) * sizeof(*g));
        n->gens = g;
        n->n_gens = cap;
    }
    return &n->gens[partition];
}

static void job_free(job_t *j)
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

static void to_dlq(job_t *j, const char *reason, const char *detail)
{
    j->state = J_DLQ;
    j->dlq_reason = reason;
    snprintf(j->dlq_detail, sizeof(j->dlq_detail), "%s", detail);
}

static void log_job(int level, notify_t *n, const job_t *j, const char *fmt, const char *arg)
{
    ac_log_ctx_t ctx = {n->w->topic, j->msg->partition, j->msg->offset,
                        j->m ? j->m->event->event_id : NULL, j->m ? j->m->id : NULL};
    ac_log_at(level, &ctx, fmt, arg);
}

/* Counts a notification record by its kind, the type of what this worker
 * consumes. */
static void count_record(notify_t *n, const job_t *j, const char *metric)
{
    char labels[160];
    snprintf(labels, sizeof(labels), "topic=\"%s\",type=\"%s\"", n->w->topic,
             j->m ? ac_kind_name(j->m->kind) : "invalid");
    ac_metrics_add(n->w->metrics, metric, labels, 1);
}

/* A partition was revoked: its offsets can no longer be committed by us,
 * and work not yet started on it is left to the new owner. */
static void on_rebalance(void *opaque, int assigned, const rd_kafka_topic_partition_list_t *parts)
{
    notify_t *n = opaque;
    if (assigned) {
        /* Newly assigned partitions start unpaused; take_records() pauses
         * them again if the worker is still full. */
        n->paused = 0;
        return;
    }
    for (int i = 0; i < parts->cnt; i++) {
        unsigned *g = gen_slot(n, parts->elems[i].partition);
        if (g)
            (*g)++;
        ac_offsets_reset(n->offsets, parts->elems[i].partition);
    }
    for (size_t i = 0; i < n->n_jobs; i++) {
        job_t *j = n->jobs[i];
        unsigned *g = gen_slot(n, j->msg->partition);
        if (g && j->gen != *g && (j->state == J_CLAIM || j->state == J_WAIT || j->state == J_DEFER))
            j->state = j->leased ? J_RELEASE : J_DONE;
    }
}

void ac_notify_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    job_t *j = msg->_private;
    if (!j)
        return;
    if (msg->err) {
        ac_log(AC_LOG_WARN, "dead letter not produced, retrying: %s", rd_kafka_err2str(msg->err));
        j->state = J_DLQ;
        return;
    }
    j->state = j->leased ? J_RELEASE : J_DONE;
}

/* Pauses or resumes every assigned partition. */
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

/* Takes new records from Kafka while there is room for them. When the
 * worker is full it first just stops polling: the records wait in
 * librdkafka's prefetch, which is bounded, and flow again the moment
 * there is room. Pausing the partitions is kept for a worker that stays
 * full (a provider down) and must go on polling to stay in its group:
 * librdkafka drops what it prefetched on a pause and fetches again only
 * some 400 ms after the resume, so pausing at every brief overflow made a
 * busy worker stall in a cycle of pauses. Once paused, it resumes at half
 * the room, not at the first free slot. */
static void take_records(notify_t *n, int timeout_ms)
{
    size_t room = (size_t)n->max_in_flight * 4;
    int64_t now = ac_time_mono_ms();
    if (n->n_jobs >= room) {
        if (!n->full_since)
            n->full_since = now;
        if (!n->paused && now - n->full_since >= NOTIFY_PAUSE_AFTER_MS)
            set_paused(n, 1);
        if (!n->paused)
            return;
    } else {
        n->full_since = 0;
        if (n->paused && n->n_jobs <= room / 2)
            set_paused(n, 0);
    }
    /* Records fetched before a pause may still come: they are taken. */
    size_t want = n->n_jobs < room ? room - n->n_jobs : 1;
    if (want > 1000)
        want = 1000;
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
        job_t **jobs = n->jobs;
        if (n->n_jobs == n->cap_jobs) {
            size_t cap = n->cap_jobs ? n->cap_jobs * 2 : 1024;
            if ((jobs = realloc(n->jobs, cap * sizeof(*jobs)))) {
                n->jobs = jobs;
                n->cap_jobs = cap;
            }
        }
        job_t *j = jobs ? calloc(1, sizeof(*j)) : NULL;
        unsigned *g = gen_slot(n, msg->partition);
        if (!j || !g || ac_offsets_begin(n->offsets, msg->partition, msg->offset) < 0) {
            /* Out of memory: consume this record again rather than let a
             * later offset of its partition be committed past it. */
            rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
            rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(msg->rkt), msg->partition)
                ->offset = msg->offset;
            rd_kafka_error_t *e = rd_kafka_seek_partitions(n->w->consumer, l, 1000);
            if (e)
                rd_kafka_error_destroy(e);
            rd_kafka_topic_partition_list_destroy(l);
            free(j);
            rd_kafka_message_destroy(msg);
            break;
        }
        j->msg = msg;
        j->gen = *g;
        snprintf(j->token, sizeof(j->token), "%s:%llu", n->w->token, ++n->seq);
        ac_event_error_t err;
        j->m = ac_message_decode(msg->payload, msg->len, NOTIFY_MAX_RECORD_BYTES, &err);
        if (!j->m) {
            log_job(AC_LOG_WARN, n, j, "invalid notification: %s", err.detail);
            to_dlq(j, "invalid_notification", err.detail);
        } else {
            j->state = J_CLAIM;
            /* A record replayed from the dead-letter topic after a fix
             * (ac-dlq-replay) starts its lifetime afresh. */
            if (!ac_kafka_has_header(msg, AC_KAFKA_REPLAYED_HEADER)) {
                j->attempts = j->m->attempts;
                j->first_attempt_ms = j->m->first_attempt_ms;
            }
            /* The record's timestamp is when an event worker decided the
             * message, or fired it from the schedule; a message retried
             * from the schedule was decided before its first attempt. */
            j->decided_ms = rd_kafka_message_timestamp(msg, NULL);
            if (j->decided_ms <= 0)
                j->decided_ms = ac_time_now_ms();
            if (j->first_attempt_ms > 0 && j->first_attempt_ms < j->decided_ms)
                j->decided_ms = j->first_attempt_ms;
        }
        count_record(n, j, "aftercare_events_consumed_total");
        n->jobs[n->n_jobs++] = j;
    }
}

static int redis_allowed(notify_t *n)
{
    return ac_time_mono_ms() >= n->redis_retry_at;
}

static void redis_result(notify_t *n, int ok, const char *err)
{
    ac_worker_redis_status(n->w, ok, err);
    if (ok) {
        n->redis_failures = 0;
        return;
    }
    n->redis_failures++;
    int backoff = n->redis_failures < 6 ? 100 << n->redis_failures : 3000;
    n->redis_retry_at = ac_time_mono_ms() + backoff;
}

/* The review request's five rating links, one per star, into links[]
 * (and urls[] pointing at them). Returns 0, or -1 when there are none: no
 * RATING_SECRET or RATING_BASE_URL, or an id too long for a token. */
static int rating_links(const notify_t *n, const job_t *j, char links[5][AC_RTOKEN_MAX_LEN + 256],
                        const char *urls[5])
{
    const ac_event_t *ev = j->m->event;
    ac_rtoken_t t;
    char token[AC_RTOKEN_MAX_LEN], why[128];
    if (!n->rating_keys.n || !n->rating_base || !*n->rating_base ||
        snprintf(t.store, sizeof(t.store), "%s", ev->store.id) >= (int)sizeof(t.store) ||
        snprintf(t.order, sizeof(t.order), "%s", ev->order.id) >= (int)sizeof(t.order) ||
        snprintf(t.customer, sizeof(t.customer), "%s", ev->customer.id) >= (int)sizeof(t.customer))
        return -1;
    snprintf(t.message, sizeof(t.message), "%s", j->m->id);
    t.expires_s = (ac_time_now_ms() + n->rating_ttl) / 1000;
    for (int r = 1; r <= 5; r++) {
        t.rating = r;
        if (ac_rtoken_sign(&n->rating_keys, &t, token, sizeof(token), why, sizeof(why)) < 0)
            return -1;
        snprintf(links[r - 1], sizeof(links[r - 1]), "%s/r/%s?lang=%s", n->rating_base, token,
                 ac_render_language(ev));
        urls[r - 1] = links[r - 1];
    }
    return 0;
}

/* Where a message goes: the customer's channel and address, or, for a
 * store alert, the store's support address or webhook. Returns 0, or -1
 * after dead-lettering a message with nowhere to go. */
static int address(notify_t *n, job_t *j)
{
    const ac_event_t *ev = j->m->event;
    if (j->m->kind != AC_KIND_STORE_ALERT) {
        if (ac_render_channel_prefer(ev, j->prefer_known ? j->prefer : -1, &j->channel, &j->to) ==
            0)
            return 0;
        to_dlq(j, "no_address", "the customer has neither an email address nor a phone number");
        return -1;
    }
    const char *support = ac_stores_get(n->stores, ev->store.id)->support;
    if (!support) {
        to_dlq(j, "no_address", "the store has no support setting for its alerts");
        return -1;
    }
    j->channel = AC_CHANNEL_EMAIL;
    j->to = support;
    j->alert_url = strncmp(support, "http", 4) == 0 ? support : NULL;
    return 0;
}

/* Renders the message once; every attempt, through whichever provider,
 * sends the same words. */
static int prepare(notify_t *n, job_t *j)
{
    char err[256], review[1024] = "", referral[1024] = "", code[AC_LINKS_CODE_LEN + 1] = "";
    char links[5][AC_RTOKEN_MAX_LEN + 256];
    const char *urls[5];
    int rated = 0;
    if (j->is_rendered)
        return 0;
    if (address(n, j) < 0)
        return -1;
    /* The store's links and the customer's code, for the messages that
     * carry them; a link that does not render is left out. */
    const ac_event_t *ev = j->m->event;
    const ac_store_settings_t *s = ac_stores_get(n->stores, ev->store.id);
    if (j->m->kind == AC_KIND_REFERRAL_INVITE && s->referral_codes)
        ac_links_referral_code(ev->store.id, ev->customer.id, code);
    if (j->m->kind == AC_KIND_REVIEW_REQUEST && s->review_url &&
        ac_links_render(s->review_url, ev, NULL, review, sizeof(review)) < 0)
        review[0] = '\0';
    if (j->m->kind == AC_KIND_REFERRAL_INVITE && s->referral_url &&
        ac_links_render(s->referral_url, ev, code[0] ? code : NULL, referral, sizeof(referral)) < 0)
        referral[0] = '\0';
    if (j->m->kind == AC_KIND_REVIEW_REQUEST && j->channel == AC_CHANNEL_EMAIL)
        rated = rating_links(n, j, links, urls) == 0;
    const ac_render_extras_t x = {review[0] ? review : NULL,
                                  referral[0] ? referral : NULL,
                                  code[0] ? code : NULL,
                                  j->suggestion[0] ? j->suggestion : NULL,
                                  n->templates,
                                  rated ? urls : NULL,
                                  s->support ? "yes" : NULL};
    if (ac_render_message_with(j->m, j->channel, &x, &j->rendered, err, sizeof(err)) < 0) {
        to_dlq(j, "render_failed", err);
        return -1;
    }
    j->is_rendered = 1;
    return 0;
}

/* The channel's primary provider, or its fallback while the primary's
 * circuit is open or the provider asked for a pause; NULL then when the
 * channel has no fallback: the message is held, no attempt spent. */
static const ac_provider_t *route_job(notify_t *n, job_t *j)
{
    j->route = ac_breaker_route(&n->breaker[j->channel], ac_time_mono_ms());
    return j->route == AC_ROUTE_FALLBACK ? n->fallback[j->channel] : n->primary[j->channel];
}

/* Puts a job off until d says: in memory for a short wait (it keeps its
 * lease, renewed by the next claim), in the durable schedule for a long
 * one, carrying its attempts, so that it holds neither its partition's
 * commit nor the worker's memory; or dead-letters it once its lifetime is
 * spent. */
static void retry_later(notify_t *n, job_t *j, ac_retry_decision_t d, const char *why)
{
    int64_t now = ac_time_now_ms();
    switch (d.action) {
    case AC_RETRY_GIVE_UP:
        log_job(AC_LOG_WARN, n, j, "giving up: %s", why);
        to_dlq(j, "retries_exhausted", why);
        return;
    case AC_RETRY_DEFER:
        free(j->defer_record);
        j->defer_record = ac_message_with_attempts(j->msg->payload, j->msg->len, j->attempts,
                                                   j->first_attempt_ms, &j->defer_record_len);
        if (j->defer_record) {
            j->state = J_DEFER;
            j->defer_until = d.at_ms;
            j->defer_reason = "retry";
            return;
        }
        d.at_ms = now + NOTIFY_BUSY_RETRY_MS; /* out of memory: wait here instead */
        /* fall through */
    case AC_RETRY_WAIT:
        j->state = J_WAIT;
        j->due_ms = ac_time_mono_ms() + (d.at_ms > now ? d.at_ms - now : 0);
        return;
    }
}

/* The channel's circuit is open (or paused) and there is no fallback:
 * the job waits for the next probe of the provider, or longer the longer
 * it has waited. */
static void hold_job(notify_t *n, job_t *j)
{
    int64_t now = ac_time_now_ms(), mono = ac_time_mono_ms();
    int64_t next = ac_breaker_next_ms(&n->breaker[j->channel], mono);
    if (!j->first_attempt_ms)
        j->first_attempt_ms = now;
    ac_retry_decision_t d = ac_retry_hold(&n->retry, j->m->kind, j->first_attempt_ms, now,
                                          now + (next - mono), next_rand(n));
    retry_later(n, j, d, "the provider kept failing for as long as the message was useful");
}

/* Points a webhook request at a store's own URL. */
static int redirect(ac_provider_request_t *req, const char *url)
{
    char *u = strdup(url);
    if (!u)
        return -1;
    free(req->url);
    req->url = u;
    return 0;
}

static void send_job(notify_t *n, job_t *j)
{
    char err[256];
    ac_provider_request_t req;
    if (prepare(n, j) < 0)
        return;
    const ac_provider_t *p = j->alert_url ? n->alert : route_job(n, j);
    if (j->alert_url)
        j->route = AC_ROUTE_PRIMARY;
    if (!p) {
        hold_job(n, j);
        return;
    }
    if (j->route == AC_ROUTE_PRIMARY &&
        n->sending[j->channel] >=
            ac_breaker_limit(&n->breaker[j->channel], n->max_in_flight, ac_time_mono_ms())) {
        j->state = J_WAIT; /* the provider is coming back: its pace ramps up */
        j->due_ms = ac_time_mono_ms() + 20;
        return;
    }
    /* The request is built for each attempt: the provider may differ from
     * the last one, and the webhook's timestamp must be fresh. */
    if (ac_provider_request(p, j->m, j->channel, j->to, &j->rendered, ac_time_now_ms(), &req, err,
                            sizeof(err)) < 0 ||
        (j->alert_url && redirect(&req, j->alert_url) < 0)) {
        ac_provider_request_free(&req);
        j->state = J_WAIT; /* out of memory: try again shortly */
        j->due_ms = ac_time_mono_ms() + 10;
        return;
    }
    free(j->body); /* the previous attempt's request has completed */
    j->body = req.body;
    j->body_len = req.body_len;
    j->provider = ac_provider_kind(p);
    req.body = NULL;
    int rc = ac_delivery_post(n->delivery, req.url, req.headers, j->body, j->body_len, j);
    req.headers = NULL; /* the engine took them over, whatever it answered */
    ac_provider_request_free(&req);
    if (rc < 0) {
        j->state = J_WAIT; /* engine full or out of memory: try again shortly */
        j->due_ms = ac_time_mono_ms() + 10;
        return;
    }
    j->attempts++;
    if (!j->first_attempt_ms)
        j->first_attempt_ms = ac_time_now_ms();
    n->sending[j->channel]++;
    j->state = J_SENDING;
}

/* Marketing messages about to go out in the customer's night wait until
 * the morning: the job is put back into the durable schedule (where the
 * journey is checked again when it fires) instead of being held here. */
static void check_quiet_hours(notify_t *n)
{
    int64_t now = ac_time_now_ms();
    for (size_t i = 0; i < n->n_jobs; i++) {
        job_t *j = n->jobs[i];
        if (j->state != J_CLAIM || j->quiet_checked)
            continue;
        j->quiet_checked = 1;
        if (!ac_prefs_marketing(j->m->kind))
            continue;
        const ac_event_t *ev = j->m->event;
        int offset = 0;
        if (ac_prefs_utc_offset(ev->customer.timezone, now, &offset) < 0 &&
            ac_prefs_utc_offset(ev->store.timezone, now, &offset) < 0)
            offset = 0; /* no known zone: UTC */
        int64_t until = ac_prefs_quiet_until(&n->quiet, now, offset);
        if (until > now) {
            j->state = J_DEFER;
            j->defer_until = until;
            j->defer_reason = "quiet_hours";
        }
    }
}

/* Writes the deferred jobs to the schedule, one round trip, then lets
 * their records be committed. */
static void defer_jobs(notify_t *n)
{
    ac_schedule_op_t ops[128];
    job_t *which[128];
    char keys[128][600], err[256], labels[96];
    size_t k = 0;
    if (!redis_allowed(n))
        return;
    for (size_t i = 0; i < n->n_jobs && k < 128; i++) {
        job_t *j = n->jobs[i];
        if (j->state != J_DEFER)
            continue;
        const ac_event_t *ev = j->m->event;
        ac_journey_key(ev->store.id, ev->order.id, keys[k], sizeof(keys[k]));
        ops[k] = (ac_schedule_op_t){
            .type = AC_SCHEDULE_DEFER,
            .id = j->m->id,
            .kind = j->m->kind,
            .due_ms = j->defer_until,
            .journey_key = keys[k],
            .record = j->defer_record ? j->defer_record : j->msg->payload,
            .record_len = j->defer_record ? j->defer_record_len : j->msg->len,
            .blockers = ac_journey_order_blockers_csv(j->m->kind),
            .release_ms = ac_watermark_release(j->m->kind, j->defer_until, n->hold_ms)};
        which[k++] = j;
    }
    if (k == 0)
        return;
    int rc = ac_schedule_apply(n->w->redis, ops, k, err, sizeof(err));
    redis_result(n, rc == 0, err);
    if (rc < 0)
        return;
    for (size_t i = 0; i < k; i++) {
        char until[AC_TIME_BUFSZ];
        ac_time_format(which[i]->defer_until, until, sizeof(until));
        log_job(AC_LOG_INFO, n, which[i],
                which[i]->defer_record ? "next attempt: deferred until %s"
                                       : "quiet hours: deferred until %s",
                until);
        snprintf(labels, sizeof(labels), "kind=\"%s\",reason=\"%s\"",
                 ac_kind_name(which[i]->m->kind), which[i]->defer_reason);
        ac_metrics_add(n->w->metrics, "aftercare_messages_deferred_total", labels, 1);
        which[i]->state = which[i]->leased ? J_RELEASE : J_DONE;
    }
}

/* Finds a product to suggest in each marketing message about to go out,
 * one round trip. Best effort: without one, the message goes out without
 * the suggestion. */
static void suggest(notify_t *n, job_t **jobs, const ac_prefs_req_t *reqs, size_t k)
{
    ac_history_req_t *h = calloc(k ? k : 1, sizeof(*h));
    job_t **which = calloc(k ? k : 1, sizeof(*which));
    size_t m = 0;
    char err[256];
    for (size_t i = 0; h && which && i < k; i++) {
        if (reqs[i].verdict != AC_PREFS_SEND || jobs[i]->is_rendered)
            continue;
        h[m].ev = jobs[i]->m->event;
        which[m++] = jobs[i];
    }
    if (m && ac_history_suggest(n->w->redis, h, m, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < m; i++) {
            const ac_event_t *ev = which[i]->m->event;
            if (!h[i].suggestion[0])
                continue;
            /* Of the customers a product would be suggested to, the
             * store's cross-sell control group gets the message without. */
            if (ac_holdout_cross_sell_held(ac_stores_get(n->stores, ev->store.id), ev->store.id,
                                           ev->customer.id)) {
                which[i]->cross_sell = "holdout";
                continue;
            }
            which[i]->cross_sell = "sent";
            snprintf(which[i]->suggestion, sizeof(which[i]->suggestion), "%s", h[i].suggestion);
        }
    } else if (m) {
        ac_log(AC_LOG_WARN, "no product suggestions: %s", err);
    }
    free(h);
    free(which);
}

/* Of the marketing messages just claimed, lets through those the customer
 * has not opted out of and that stay within the cap; the others are
 * recorded as sent, so that no replay sends them later. */
static void check_prefs(notify_t *n, job_t **jobs, size_t k)
{
    ac_prefs_req_t reqs[512];
    char err[256], labels[128];
    char(*keys)[2][600] = malloc(k * sizeof(*keys));
    if (!keys) {
        for (size_t i = 0; i < k; i++) {
            jobs[i]->state = J_WAIT; /* still leased: claimed again, by us, shortly */
            jobs[i]->due_ms = ac_time_mono_ms() + NOTIFY_BUSY_RETRY_MS;
        }
        return;
    }
    for (size_t i = 0; i < k; i++) {
        const ac_event_t *ev = jobs[i]->m->event;
        ac_channel_t ch = AC_CHANNEL_EMAIL;
        const char *to;
        ac_render_channel_prefer(ev, jobs[i]->prefer_known ? jobs[i]->prefer : -1, &ch, &to);
        ac_prefs_key(ev->store.id, ev->customer.id, keys[i][0], sizeof(keys[i][0]));
        ac_prefs_sends_key(ev->store.id, ev->customer.id, keys[i][1], sizeof(keys[i][1]));
        reqs[i] = (ac_prefs_req_t){jobs[i]->m->id, jobs[i]->m->kind, ac_channel_name(ch),
                                   keys[i][0],     keys[i][1],       AC_PREFS_SEND};
    }
    if (ac_prefs_check(n->w->redis, reqs, k, ac_time_now_ms(), n->cap, n->cap_window, err,
                       sizeof(err)) < 0) {
        redis_result(n, 0, err);
        for (size_t i = 0; i < k; i++) {
            jobs[i]->state = J_WAIT; /* still leased: claimed again, by us, shortly */
            jobs[i]->due_ms = ac_time_mono_ms() + NOTIFY_BUSY_RETRY_MS;
        }
        free(keys);
        return;
    }
    free(keys);
    suggest(n, jobs, reqs, k);
    for (size_t i = 0; i < k; i++) {
        const ac_event_t *ev = jobs[i]->m->event;
        const char *reason = reqs[i].verdict == AC_PREFS_OPTED_OUT ? "opted_out" : "frequency_cap";
        if (reqs[i].verdict == AC_PREFS_SEND) {
            /* The control group is drawn from the customers who would get
             * the message, after their preferences, so that it compares
             * like with like (docs/analytics.md). */
            if (!ac_holdout_held(ac_stores_get(n->stores, ev->store.id), jobs[i]->m->kind,
                                 ev->store.id, ev->customer.id)) {
                send_job(n, jobs[i]);
                continue;
            }
            reason = "holdout";
        }
        snprintf(labels, sizeof(labels), "kind=\"%s\",reason=\"%s\"",
                 ac_kind_name(jobs[i]->m->kind), reason);
        ac_metrics_add(n->w->metrics, "aftercare_messages_suppressed_total", labels, 1);
        log_job(AC_LOG_INFO, n, jobs[i], "not sent: %s", reason);
        jobs[i]->mark_reason = reason;
        jobs[i]->state = J_MARK;
    }
}

/* Looks up the preferred channel of the customers of the jobs just won
 * (one round trip; without an answer, the default channel), then starts
 * the transactional ones; marketing ones go through check_prefs() first. */
static void lookup_channels(notify_t *n, job_t **which, const ac_claim_t *res, size_t k)
{
    const char *keys[512];
    char(*buf)[600] = malloc((k ? k : 1) * sizeof(*buf));
    job_t *ask[512];
    int prefer[512];
    size_t m = 0;
    char err[256];
    for (size_t i = 0; buf && i < k; i++) {
        if (res[i] != AC_CLAIM_OK || which[i]->prefer_known)
            continue;
        const ac_event_t *ev = which[i]->m->event;
        ac_prefs_key(ev->store.id, ev->customer.id, buf[m], sizeof(buf[m]));
        keys[m] = buf[m];
        ask[m++] = which[i];
    }
    if (m && ac_prefs_channels(n->w->redis, keys, m, prefer, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < m; i++) {
            ask[i]->prefer = prefer[i];
            ask[i]->prefer_known = 1;
        }
    } else if (m) {
        ac_log(AC_LOG_WARN, "preferred channels not read, using the defaults: %s", err);
    }
    free(buf);
    for (size_t i = 0; i < k; i++)
        if (res[i] == AC_CLAIM_OK && !ac_prefs_marketing(which[i]->m->kind))
            send_job(n, which[i]);
}

/* Claims every job that is ready, in one round trip, and starts the
 * deliveries it won. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* True when a message is no longer fresh: decided more than
 * RECHECK_AFTER ago (a backlog, a wait for the watermarks) or being
 * retried (an outage), and of a kind facts can rule out. */
static int needs_recheck(const notify_t *n, const job_t *j, int64_t now)
{
    return ac_watermark_gated(j->m->kind) &&
           (j->attempts > 0 || now - j->decided_ms > n->recheck_after);
}

/* The event time a late message is judged at: the time it was judged at
 * when decided (its due time, or its event's), moved on by as long as it
 * has waited since. For a live stream that is now; for a replay of last
 * month's events it stays last month, so facts that came after it in
 * the replay, but not while it waited, do not stop it (docs/journey.md,
 * order of events). */
static int64_t recheck_at(const job_t *j, int64_t now)
{
    int64_t from = j->m->due_ms > j->m->created_ms ? j->m->due_ms : j->m->created_ms;
    int64_t at = from + (now - j->decided_ms);
    return at < now ? at : now;
}

/* Checks the claimed messages that are no longer fresh against their
 * orders' journeys, one round trip, with the blockers a
 * scheduled message has: a shipping update whose parcel arrived while it
 * waited out a provider outage is not sent. Such a message is recorded
 * as sent (so that no replay sends it) and counted as suppressed, with
 * the fact as the reason. The jobs taken out here get res[i] =
 * AC_CLAIM_BUSY; on a Redis failure they wait, still leased. */
static void recheck(notify_t *n, job_t **which, ac_claim_t *res, size_t k)
{
    const char *keys[512];
    size_t idx[512], m = 0;
    char err[256], labels[128];
    int64_t now = ac_time_now_ms();
    for (size_t i = 0; i < k; i++)
        if (res[i] == AC_CLAIM_OK && needs_recheck(n, which[i], now))
            idx[m++] = i;
    if (m == 0)
        return; /* the usual case: every message is fresh */
    char(*buf)[600] = malloc(m * sizeof(*buf));
    ac_journey_t *js = malloc(m * sizeof(*js));
    int rc = -1;
    if (buf && js) {
        for (size_t q = 0; q < m; q++) {
            const ac_event_t *ev = which[idx[q]]->m->event;
            ac_journey_key(ev->store.id, ev->order.id, buf[q], sizeof(buf[q]));
            keys[q] = buf[q];
        }
        rc = ac_journey_read(n->w->redis, keys, m, js, err, sizeof(err));
        redis_result(n, rc == 0, err);
    }
    for (size_t q = 0; q < m; q++) {
        job_t *j = which[idx[q]];
        const char *reason = NULL;
        ac_fact_t why;
        if (rc < 0) {
            /* Out of memory or Redis failed: still leased, tried again shortly. */
            j->state = J_WAIT;
            j->due_ms = ac_time_mono_ms() + NOTIFY_BUSY_RETRY_MS;
        } else if (ac_journey_blocked_parcel(&js[q], j->m->kind, recheck_at(j, now),
                                             j->m->event->shipment.id, &why)) {
            reason = ac_fact_name(why);
        } else if (ac_journey_requires_csv(j->m->kind)[0] && !js[q].at[AC_FACT_CONSENT]) {
            reason = "no_consent";
        } else {
            continue;
        }
        res[idx[q]] = AC_CLAIM_BUSY;
        if (!reason)
            continue;
        snprintf(labels, sizeof(labels), "kind=\"%s\",reason=\"%s\"", ac_kind_name(j->m->kind),
                 reason);
        ac_metrics_add(n->w->metrics, "aftercare_messages_suppressed_total", labels, 1);
        log_job(AC_LOG_INFO, n, j, "not sent, checked again before sending: %s", reason);
        j->mark_reason = reason;
        j->state = J_MARK;
    }
    free(buf);
    free(js);
}

static void claim_ready(notify_t *n)
{
    const char *ids[512], *tokens[512];
    job_t *which[512];
    ac_claim_t res[512];
    size_t k = 0, n_busy = 0;
    char err[256];
    int room = n->max_in_flight - ac_delivery_in_flight(n->delivery);
    if (!redis_allowed(n) || room <= 0)
        return;
    /* Ids this process is sending or recording right now: a copy of one of
     * them waits, even if a Redis outage let the lease lapse meanwhile. */
    const char **busy = malloc((n->n_jobs ? n->n_jobs : 1) * sizeof(*busy));
    if (!busy)
        return;
    for (size_t i = 0; i < n->n_jobs; i++)
        if (n->jobs[i]->state == J_SENDING || n->jobs[i]->state == J_MARK)
            busy[n_busy++] = n->jobs[i]->m->id;
    qsort(busy, n_busy, sizeof(*busy), cmp_str);
    for (size_t i = 0; i < n->n_jobs && k < 512 && (int)k < room; i++) {
        job_t *j = n->jobs[i];
        if (j->state != J_CLAIM)
            continue;
        const char *id = j->m->id;
        if (n_busy && bsearch(&id, busy, n_busy, sizeof(*busy), cmp_str)) {
            j->state = J_WAIT;
            j->due_ms = ac_time_mono_ms() + NOTIFY_BUSY_RETRY_MS;
            continue;
        }
        ids[k] = j->m->id;
        tokens[k] = j->token;
        which[k++] = j;
    }
    free(busy);
    if (k == 0)
        return;
    if (ac_dedup_claim(n->w->redis, ids, tokens, k, n->claim_ttl, res, err, sizeof(err)) < 0) {
        redis_result(n, 0, err);
        return;
    }
    redis_result(n, 1, NULL);
    job_t *marketing[512];
    size_t n_marketing = 0;
    for (size_t i = 0; i < k; i++) {
        job_t *j = which[i];
        char labels[96];
        switch (res[i]) {
        case AC_CLAIM_SENT:
            snprintf(labels, sizeof(labels), "kind=\"%s\"", ac_kind_name(j->m->kind));
            ac_metrics_add(n->w->metrics, "aftercare_messages_duplicate_total", labels, 1);
            log_job(AC_LOG_DEBUG, n, j, "already sent: %s", "dropped");
            j->state = J_DONE;
            break;
        case AC_CLAIM_BUSY:
            j->state = J_WAIT;
            j->due_ms = ac_time_mono_ms() + NOTIFY_BUSY_RETRY_MS;
            break;
        case AC_CLAIM_OK:
            j->leased = 1;
            break;
        }
    }
    recheck(n, which, res, k);
    for (size_t i = 0; i < k; i++)
        if (res[i] == AC_CLAIM_OK && ac_prefs_marketing(which[i]->m->kind))
            marketing[n_marketing++] = which[i];
    lookup_channels(n, which, res, k);
    if (n_marketing)
        check_prefs(n, marketing, n_marketing);
}

/* True when the job's partition was revoked since it was consumed. */
static int stale(notify_t *n, const job_t *j)
{
    unsigned *g = gen_slot(n, j->msg->partition);
    return !g || *g != j->gen;
}

/* Tells the channel's breaker how its provider answered, whoever owns the
 * job's partition now: the provider's health is the same either way. */
static void track_provider(notify_t *n, const job_t *j, ac_outcome_t outcome)
{
    const char *ch = ac_channel_name(j->channel);
    const char *primary = ac_provider_name(ac_provider_kind(n->primary[j->channel]));
    const char *fallback = n->fallback[j->channel]
                               ? ac_provider_name(ac_provider_kind(n->fallback[j->channel]))
                               : NULL;
    char labels[64];
    snprintf(labels, sizeof(labels), "channel=\"%s\"", ch);
    switch (ac_breaker_report(&n->breaker[j->channel], j->route, outcome, ac_time_mono_ms())) {
    case AC_BREAKER_OPENED:
        ac_metrics_set(n->w->metrics, "aftercare_circuit_open", labels, 1);
        if (!fallback) {
            ac_log(AC_LOG_WARN, "%s: %s keeps failing; holding messages, probing it every %lld ms",
                   ch, primary, (long long)n->breaker[j->channel].cooldown_ms);
            break;
        }
        ac_metrics_add(n->w->metrics, "aftercare_provider_failover_total", labels, 1);
        ac_log(AC_LOG_WARN, "%s: %s keeps failing; sending through %s for now", ch, primary,
               fallback);
        break;
    case AC_BREAKER_CLOSED:
        ac_metrics_set(n->w->metrics, "aftercare_circuit_open", labels, 0);
        ac_log(AC_LOG_INFO, "%s: %s works again%s%s", ch, primary, fallback ? "; back from " : "",
               fallback ? fallback : "");
        break;
    case AC_BREAKER_SAME:
        break;
    }
}

static void handle_result(notify_t *n, const ac_delivery_result_t *r)
{
    job_t *j = r->opaque;
    char labels[160];
    ac_outcome_t outcome = ac_delivery_outcome(r->status, r->curl_code);
    n->sending[j->channel]--;
    /* A store's support webhook is not the channel's provider: how it
     * answers says nothing about the customers' messages. */
    if (!j->alert_url)
        track_provider(n, j, outcome);
    /* A Retry-After speaks for the provider, not for this one message:
     * nothing more goes to it before then (the fallback, if any, takes
     * over meanwhile). */
    if (outcome == AC_OUTCOME_RETRY && r->retry_after_ms >= 0 && j->route != AC_ROUTE_FALLBACK &&
        !j->alert_url)
        ac_breaker_pause(&n->breaker[j->channel],
                         ac_time_mono_ms() + (r->retry_after_ms < n->retry.max_ms
                                                  ? r->retry_after_ms
                                                  : n->retry.max_ms));
    snprintf(labels, sizeof(labels), "provider=\"%s\",result=\"%s\"", ac_provider_name(j->provider),
             ac_delivery_result_class(r->status, r->curl_code));
    ac_metrics_add(n->w->metrics, "aftercare_provider_requests_total", labels, 1);
    if (outcome != AC_OUTCOME_DELIVERED) {
        snprintf(labels, sizeof(labels), "kind=\"%s\",channel=\"%s\"", ac_kind_name(j->m->kind),
                 ac_channel_name(j->channel));
        ac_metrics_add(n->w->metrics, "aftercare_messages_failed_total", labels, 1);
    }
    if (outcome != AC_OUTCOME_DELIVERED && stale(n, j)) {
        /* The partition has a new owner, who will deliver it. */
        j->state = J_RELEASE;
        return;
    }
    switch (outcome) {
    case AC_OUTCOME_DELIVERED:
        j->mark_reason = NULL;
        j->state = J_MARK;
        snprintf(labels, sizeof(labels), "kind=\"%s\",channel=\"%s\",provider=\"%s\"",
                 ac_kind_name(j->m->kind), ac_channel_name(j->channel),
                 ac_provider_name(j->provider));
        ac_metrics_add(n->w->metrics, "aftercare_messages_sent_total", labels, 1);
        {
            /* From when the message was due (decided, or scheduled for) to
             * the provider's acceptance: what the customer waited. */
            int64_t from = j->m->due_ms > j->m->created_ms ? j->m->due_ms : j->m->created_ms;
            int64_t waited = ac_time_now_ms() - from;
            snprintf(labels, sizeof(labels), "channel=\"%s\"", ac_channel_name(j->channel));
            ac_metrics_observe(n->w->metrics, "aftercare_message_delivery_seconds", labels,
                               waited > 0 ? (double)waited / 1000.0 : 0, 1);
        }
        if (ac_log_enabled(AC_LOG_DEBUG)) {
            char to[320];
            log_job(AC_LOG_DEBUG, n, j, "delivered to %s", ac_log_mask(j->to, to, sizeof(to)));
        }
        break;
    case AC_OUTCOME_RETRY:
        retry_later(n, j,
                    ac_retry_next(&n->retry, j->m->kind, j->first_attempt_ms, j->attempts,
                                  ac_time_now_ms(), r->retry_after_ms, 0, next_rand(n)),
                    r->error);
        if (j->state == J_DLQ)
            break;
        snprintf(labels, sizeof(labels), "kind=\"%s\",channel=\"%s\"", ac_kind_name(j->m->kind),
                 ac_channel_name(j->channel));
        ac_metrics_add(n->w->metrics, "aftercare_messages_retried_total", labels, 1);
        log_job(AC_LOG_INFO, n, j, "will retry: %s", r->error);
        break;
    case AC_OUTCOME_PERMANENT:
        log_job(AC_LOG_WARN, n, j, "rejected: %s", r->error);
        to_dlq(j, "rejected", r->error);
        break;
    }
}

/* Records the outcome of the messages about to be marked sent, delivered
 * or not, for the retention report (facts.h), before the mark: a crash in
 * between sends nothing again that was delivered (the claim protocol) and
 * writes the same facts again, which changes nothing. A message counts at
 * its event time (when it was due), like the event workers' decisions: a
 * replay of last month's events reports last month's messages in last
 * month, and a live one now. */
static int record_facts(notify_t *n, job_t **which, size_t k, char *err, size_t errsz)
{
    ac_facts_msg_t facts[1024];
    static char xs_ids[512][AC_MESSAGE_ID_LEN + 16];
    size_t m = k;
    if (!n->facts_ttl)
        return 0;
    for (size_t i = 0; i < k; i++) {
        const job_t *j = which[i];
        const ac_event_t *ev = j->m->event;
        int64_t now = j->m->due_ms > j->m->created_ms ? j->m->due_ms : j->m->created_ms;
        facts[i] = (ac_facts_msg_t){ev->store.id,
                                    j->m->id,
                                    ac_kind_name(j->m->kind),
                                    ev->order.id,
                                    ev->customer.id,
                                    j->mark_reason ? NULL
                                    : j->alert_url ? "webhook"
                                                   : ac_channel_name(j->channel),
                                    j->mark_reason,
                                    now};
        /* A delivered message that carried a suggestion, or would have but
         * for the cross-sell control group: the suggestion's own outcome. */
        if (j->mark_reason || !j->cross_sell)
            continue;
        snprintf(xs_ids[i], sizeof(xs_ids[i]), "%s:%s", j->m->id, AC_HOLDOUT_CROSS_SELL);
        int held = strcmp(j->cross_sell, "holdout") == 0;
        facts[m] = facts[i];
        facts[m].message_id = xs_ids[i];
        facts[m].kind = AC_HOLDOUT_CROSS_SELL;
        facts[m].channel = held ? NULL : facts[i].channel;
        facts[m++].reason = held ? "holdout" : NULL;
    }
    return ac_facts_record_msgs(n->w->redis, facts, m, n->facts_ttl, err, errsz);
}

/* Records delivered messages as sent, and releases leases of messages that
 * were dead-lettered or abandoned, one round trip each. */
static void record_outcomes(notify_t *n)
{
    const char *ids[512], *tokens[512];
    job_t *which[512];
    char err[256];
    for (int pass = 0; pass < 2 && redis_allowed(n); pass++) {
        job_state_t want = pass == 0 ? J_MARK : J_RELEASE;
        size_t k = 0;
        for (size_t i = 0; i < n->n_jobs && k < 512; i++) {
            job_t *j = n->jobs[i];
            if (j->state != want)
                continue;
            ids[k] = j->m->id;
            tokens[k] = j->token;
            which[k++] = j;
        }
        if (k == 0)
            continue;
        int rc = pass == 0 ? record_facts(n, which, k, err, sizeof(err)) : 0;
        if (rc == 0)
            rc = pass == 0
                     ? ac_dedup_sent(n->w->redis, ids, tokens, k, n->sent_ttl, err, sizeof(err))
                     : ac_dedup_release(n->w->redis, ids, tokens, k, err, sizeof(err));
        redis_result(n, rc == 0, err);
        if (rc < 0)
            return;
        for (size_t i = 0; i < k; i++)
            which[i]->state = J_DONE;
    }
}

static void produce_dead_letters(notify_t *n)
{
    if (ac_time_mono_ms() < n->dlq_retry_at)
        return;
    for (size_t i = 0; i < n->n_jobs; i++) {
        job_t *j = n->jobs[i];
        if (j->state != J_DLQ)
            continue;
        rd_kafka_resp_err_t err =
            ac_kafka_produce_dlq(n->w->producer, n->w->dlq_topic, j->msg, j->dlq_reason,
                                 j->dlq_detail, n->w->spec->name, j);
        if (err) {
            ac_log(AC_LOG_WARN, "dead letter not queued, retrying: %s", rd_kafka_err2str(err));
            n->dlq_retry_at = ac_time_mono_ms() + 1000;
            return;
        }
        j->state = J_DLQ_WAIT;
        char labels[160];
        snprintf(labels, sizeof(labels), "kind=\"%s\",channel=\"%s\",reason=\"%s\"",
                 j->m ? ac_kind_name(j->m->kind) : "unknown",
                 j->m && j->to ? ac_channel_name(j->channel) : "none", j->dlq_reason);
        ac_metrics_add(n->w->metrics, "aftercare_messages_dead_lettered_total", labels, 1);
    }
}

static void wake_due(notify_t *n, int64_t now)
{
    for (size_t i = 0; i < n->n_jobs; i++)
        if (n->jobs[i]->state == J_WAIT && n->jobs[i]->due_ms <= now)
            n->jobs[i]->state = J_CLAIM;
}

/* Frees finished jobs and stores the offsets their partitions may now
 * commit. Jobs of revoked partitions finish without storing anything. */
static void reap(notify_t *n)
{
    size_t keep = 0;
    for (size_t i = 0; i < n->n_jobs; i++) {
        job_t *j = n->jobs[i];
        if (j->state != J_DONE) {
            n->jobs[keep++] = j;
            continue;
        }
        if (!stale(n, j)) {
            count_record(n, j, "aftercare_events_processed_total");
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
        job_free(j);
    }
    n->n_jobs = keep;
}

/* How long the loop may block: not past the next due retry, and not at
 * all when some job can move on now. */
static int idle_timeout(notify_t *n, int64_t now)
{
    int64_t t = 100;
    int room = ac_delivery_in_flight(n->delivery) < n->max_in_flight;
    for (size_t i = 0; i < n->n_jobs && t > 0; i++) {
        job_t *j = n->jobs[i];
        int ready = 0;
        switch (j->state) {
        case J_WAIT:
            if (j->due_ms - now < t)
                t = j->due_ms - now;
            break;
        case J_CLAIM:
            ready = room && redis_allowed(n);
            break;
        case J_MARK:
        case J_RELEASE:
        case J_DEFER:
            ready = redis_allowed(n);
            break;
        case J_DLQ:
            ready = now >= n->dlq_retry_at;
            break;
        case J_DONE:
            ready = 1;
            break;
        case J_SENDING:
        case J_DLQ_WAIT:
            break;
        }
        if (ready)
            t = 0;
        else if (j->state != J_WAIT && j->state != J_SENDING && j->state != J_DLQ_WAIT && t > 20)
            t = 20;
    }
    return t < 0 ? 0 : (int)t;
}

/* Called by librdkafka, from one of its threads, when records reach the
 * consumer's empty queue: ends the loop's wait on its HTTP requests when
 * the loop asked for that. */
static void on_records(rd_kafka_t *rk, void *opaque)
{
    notify_t *n = opaque;
    (void)rk;
    if (atomic_load(&n->wake_on_records))
        ac_delivery_wakeup(n->delivery);
}

/* Creates at 0 the series of notify-worker's counters whose labels are
 * known from the start (kinds, channels, the configured providers and the
 * reasons a marketing message is not sent), so that rates and alerts work
 * from the first scrape, as Prometheus' instrumentation guidelines ask. */
static void zero_counters(notify_t *n)
{
    static const char *held[] = {"opted_out", "frequency_cap", "holdout"};
    char labels[200];
    for (int k = 0; k < AC_KIND__COUNT; k++) {
        const char *kind = ac_kind_name((ac_kind_t)k);
        for (int ch = 0; ch < AC_CHANNEL__COUNT; ch++) {
            const ac_provider_t *ps[2] = {n->primary[ch], n->fallback[ch]};
            snprintf(labels, sizeof(labels), "kind=\"%s\",channel=\"%s\"", kind,
                     ac_channel_name(ch));
            ac_metrics_add(n->w->metrics, "aftercare_messages_retried_total", labels, 0);
            ac_metrics_add(n->w->metrics, "aftercare_messages_failed_total", labels, 0);
            for (int p = 0; p < 2 && ps[p]; p++) {
                snprintf(labels, sizeof(labels), "kind=\"%s\",channel=\"%s\",provider=\"%s\"", kind,
                         ac_channel_name(ch), ac_provider_name(ac_provider_kind(ps[p])));
                ac_metrics_add(n->w->metrics, "aftercare_messages_sent_total", labels, 0);
            }
        }
        for (size_t r = 0; ac_prefs_marketing((ac_kind_t)k) && r < 3; r++) {
            snprintf(labels, sizeof(labels), "kind=\"%s\",reason=\"%s\"", kind, held[r]);
            ac_metrics_add(n->w->metrics, "aftercare_messages_suppressed_total", labels, 0);
        }
    }
}

/* The rating links' secrets and base, and the webhook provider store
 * alerts to a support URL go through (it needs a URL to be made; each
 * request is pointed at the store's own). Returns 0, or -1 with err. */
static int setup_feedback(notify_t *n, const ac_provider_settings_t *ps, char *err, size_t errsz)
{
    const ac_config_t *cfg = n->w->cfg;
    ac_provider_settings_t alert = *ps;
    if (ac_rtoken_keys_parse(ac_config_str(cfg, "RATING_SECRET"), &n->rating_keys, err, errsz) < 0)
        return -1;
    n->rating_base = ac_config_str(cfg, "RATING_BASE_URL");
    n->rating_ttl = ac_config_int(cfg, "RATING_LINK_TTL");
    if (!alert.webhook_url || !*alert.webhook_url)
        alert.webhook_url = "http://127.0.0.1/";
    n->alert = ac_provider_new(AC_PROVIDER_WEBHOOK, &alert, err, errsz);
    return n->alert ? 0 : -1;
}

int ac_notify_run(ac_worker_t *w)
{
    int rc = AC_EXIT_OK;
    char err[256];
    notify_t n;
    rd_kafka_queue_t *records = NULL;
    memset(&n, 0, sizeof(n));
    n.w = w;
    n.max_in_flight = (int)ac_config_int(w->cfg, "MAX_IN_FLIGHT");
    n.retry = (ac_retry_policy_t){
        .base_ms = ac_config_int(w->cfg, "RETRY_BASE"),
        .max_ms = ac_config_int(w->cfg, "RETRY_MAX"),
        .lifetime_ms = ac_config_int(w->cfg, "RETRY_FOR"),
        .marketing_lifetime_ms = ac_config_int(w->cfg, "RETRY_FOR_MARKETING"),
        .defer_after_ms = ac_config_int(w->cfg, "RETRY_DEFER_AFTER"),
        .max_attempts = (int)ac_config_int(w->cfg, "MAX_ATTEMPTS"),
    };
    n.recheck_after = ac_config_int(w->cfg, "RECHECK_AFTER");
    n.hold_ms = ac_config_int(w->cfg, "WATERMARK_MAX_HOLD");
    n.claim_ttl = ac_config_int(w->cfg, "CLAIM_TTL");
    n.sent_ttl = ac_config_int(w->cfg, AC_DEDUP_TTL);
    n.facts_ttl =
        ac_config_int(w->cfg, "ANALYTICS") ? ac_config_int(w->cfg, "ANALYTICS_RETENTION") : 0;
    n.cap = (int)ac_config_int(w->cfg, "MARKETING_CAP");
    n.cap_window = ac_config_int(w->cfg, "MARKETING_CAP_WINDOW");
    ac_prefs_parse_quiet(ac_config_str(w->cfg, "QUIET_HOURS"), &n.quiet, err, sizeof(err));
    ac_prefs_register(w->redis);
    ac_history_register(w->redis);
    ac_schedule_register(w->redis);
    n.rng = (uint32_t)ac_time_now_ms() ^ (uint32_t)(uintptr_t)&n;
    ac_metrics_describe(w->metrics, "aftercare_circuit_open", AC_METRIC_GAUGE,
                        "1 while a channel's circuit is open: its primary provider kept failing, "
                        "and messages go to the fallback or are held.");
    ac_metrics_describe(w->metrics, "aftercare_provider_failover_total", AC_METRIC_COUNTER,
                        "Times a channel switched to its fallback provider because the primary "
                        "kept failing.");
    ac_metrics_describe(w->metrics, "aftercare_provider_requests_total", AC_METRIC_COUNTER,
                        "Delivery requests by provider and result (ok, throttled, client_error, "
                        "server_error, timeout, error).");
    ac_metrics_describe(w->metrics, "aftercare_messages_failed_total", AC_METRIC_COUNTER,
                        "Delivery attempts that failed, by kind and channel (each is retried or "
                        "dead-lettered).");
    static const double buckets[] = AC_METRICS_LATENCY_BUCKETS;
    ac_metrics_describe_histogram(w->metrics, "aftercare_message_delivery_seconds",
                                  "Seconds from a message being due to its provider accepting it, "
                                  "by channel.",
                                  buckets, sizeof(buckets) / sizeof(buckets[0]));
    /* Checked at start-up (the spec's check); checked again here so that
     * no combination the check missed runs half-configured. */
    ac_provider_settings_t ps;
    if (ac_provider_settings_load(w->cfg, &ps, err, sizeof(err)) < 0 ||
        ac_provider_settings_check(&ps, err, sizeof(err)) < 0) {
        ac_log(AC_LOG_ERROR, "%s", err);
        rc = AC_EXIT_CONFIG;
        goto out;
    }
    for (int ch = 0; ch < AC_CHANNEL__COUNT; ch++) {
        n.primary[ch] = ac_provider_new(ps.primary[ch], &ps, err, sizeof(err));
        if (n.primary[ch] && ps.fallback[ch] != AC_PROVIDER_NONE)
            n.fallback[ch] = ac_provider_new(ps.fallback[ch], &ps, err, sizeof(err));
        if (!n.primary[ch] || (ps.fallback[ch] != AC_PROVIDER_NONE && !n.fallback[ch])) {
            ac_log(AC_LOG_ERROR, "cannot set up %s providers: %s", ac_channel_name(ch), err);
            rc = AC_EXIT_RUNTIME;
            goto out;
        }
        ac_breaker_init(&n.breaker[ch], ps.failover_after, ps.failover_cooldown_ms);
        ac_breaker_set_ramp(&n.breaker[ch], ac_config_int(w->cfg, "CIRCUIT_RAMP"));
        ac_log(AC_LOG_INFO, "%s through %s%s%s", ac_channel_name(ch),
               ac_provider_name(ps.primary[ch]), n.fallback[ch] ? ", falling back to " : "",
               n.fallback[ch] ? ac_provider_name(ps.fallback[ch]) : "");
    }
    if (ac_notify_load_extras(w->cfg, &n.stores, &n.templates, err, sizeof(err)) < 0 ||
        setup_feedback(&n, &ps, err, sizeof(err)) < 0) {
        ac_log(AC_LOG_ERROR, "%s", err);
        rc = AC_EXIT_CONFIG;
        goto out;
    }
    zero_counters(&n);
    ac_log(AC_LOG_INFO, "%zu store(s) with their own settings, %zu template override(s)",
           ac_stores_count(n.stores), ac_templates_count(n.templates));
    n.offsets = ac_offsets_new();
    n.delivery =
        ac_delivery_new(n.max_in_flight, (long)ac_config_int(w->cfg, "HTTP_CONNECT_TIMEOUT"),
                        (long)ac_config_int(w->cfg, "HTTP_TIMEOUT"), err, sizeof(err));
    if (!n.offsets || !n.delivery) {
        ac_log(AC_LOG_ERROR, "cannot start delivery: %s", n.delivery ? "out of memory" : err);
        rc = AC_EXIT_RUNTIME;
        goto out;
    }
    w->hooks.rebalance = on_rebalance;
    w->hooks.opaque = &n;
    /* Records arriving while the loop waits on its HTTP requests end the
     * wait, rather than waiting for a response or the timeout. */
    if ((records = rd_kafka_queue_get_consumer(w->consumer)))
        rd_kafka_queue_cb_event_enable(records, on_records, &n);
    ac_worker_redis_status(w, ac_redis_connect(w->redis, err, sizeof(err)) == 0, err);

    ac_delivery_result_t results[256];
    int64_t deadline = 0;
    for (;;) {
        int64_t now = ac_time_mono_ms();
        if (ac_worker_stopping() && !deadline) {
            /* Drain in what SHUTDOWN_TIMEOUT leaves after the Kafka close,
             * which needs a few seconds of it. */
            int64_t left = ac_worker_shutdown_left_ms(w);
            deadline = now + (left > 6000 ? left - 3000 : left / 2);
            ac_log(AC_LOG_INFO, "stopping: finishing %zu message(s) in hand", n.n_jobs);
        }
        if (deadline) {
            /* Stop taking work; finish what is in flight, give back the rest,
             * including requests that fail while the worker drains. */
            for (size_t i = 0; i < n.n_jobs; i++) {
                job_t *j = n.jobs[i];
                if (j->state == J_CLAIM || j->state == J_WAIT || j->state == J_DEFER) {
                    j->state = j->leased ? J_RELEASE : J_DONE;
                    j->gen = ~0u; /* not finished: its offset must not be stored */
                }
            }
        }
        if (deadline && (n.n_jobs == 0 || now >= deadline))
            break;
        ac_http_beat(w->http);
        if (!deadline)
            take_records(&n, n.n_jobs == 0 ? 100 : 0);
        wake_due(&n, now);
        record_outcomes(&n);
        check_quiet_hours(&n);
        defer_jobs(&n);
        claim_ready(&n);
        produce_dead_letters(&n);
        rd_kafka_poll(w->producer, 0);
        /* New records need to end the wait only while the worker holds
         * fewer messages than it may send at once. With more in hand,
         * responses keep the loop turning, and a wake-up for every fetched
         * batch would only make each turn walk every transfer again. */
        atomic_store(&n.wake_on_records, n.n_jobs < (size_t)n.max_in_flight);
        int got = ac_delivery_poll(n.delivery, idle_timeout(&n, ac_time_mono_ms()), results, 256);
        for (int i = 0; i < got; i++)
            handle_result(&n, &results[i]);
        record_outcomes(&n);
        reap(&n);
        ac_metrics_set(w->metrics, "aftercare_in_flight", "", (double)n.n_jobs);
    }
    if (n.n_jobs)
        ac_log(AC_LOG_WARN, "shutdown timeout: %zu message(s) left to the next owner", n.n_jobs);
out:
    if (records) {
        rd_kafka_queue_cb_event_enable(records, NULL, NULL);
        rd_kafka_queue_destroy(records);
    }
    /* Requests still in flight are aborted; their leases expire and their
     * records were not committed, so the next owner delivers them. */
    ac_delivery_destroy(n.delivery);
    int64_t left = ac_worker_shutdown_left_ms(w);
    rd_kafka_flush(w->producer, (int)(left < 5000 ? (left > 500 ? left : 500) : 5000));
    /* Dead letters still unacknowledged reference their jobs: purge them and
     * serve their (failed) reports before the jobs are freed. */
    rd_kafka_purge(w->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(w->producer, 0);
    for (size_t i = 0; i < n.n_jobs; i++)
        job_free(n.jobs[i]);
    free(n.jobs);
    free(n.gens);
    ac_offsets_destroy(n.offsets);
    ac_stores_destroy(n.stores);
    ac_templates_destroy(n.templates);
    ac_secrets_clear(&n.rating_keys);
    ac_provider_destroy(n.alert);
    for (int ch = 0; ch < AC_CHANNEL__COUNT; ch++) {
        ac_provider_destroy(n.primary[ch]);
        ac_provider_destroy(n.fallback[ch]);
    }
    w->hooks.rebalance = NULL;
    return rc;
}
