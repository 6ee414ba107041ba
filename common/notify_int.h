/* notify-worker's internals, shared by its files and by nothing else:
 *   notify.c         the loop, reaping finished jobs, ac_notify_run/main
 *   notify_setup.c   settings, providers, metric descriptions
 *   notify_intake.c  records from Kafka, flow control, rebalances
 *   notify_stages.c  the Redis stages before a send: claim, check again,
 *                    preferred channel, consent and cap, suggestions
 *   notify_record.c  the Redis stages after one: schedule deferrals,
 *                    facts, sent marks and lease releases
 *   notify_send.c    address, rendering, routing, posting and results
 *   notify_dlq.c     dead letters and their delivery reports
 *   notify_metrics.c every metric notify-worker counts, with typed labels
 * A job's state is jobs.h's; each file moves a job only through
 * ac_jobs_set() and its helpers. */
#ifndef AC_NOTIFY_INT_H
#define AC_NOTIFY_INT_H

#include <stdatomic.h>
#include <stdint.h>

#include "delivery.h"
#include "history.h"
#include "jobs.h"
#include "message.h"
#include "notify.h"
#include "offsets.h"
#include "prefs.h"
#include "provider.h"
#include "schedule.h"
#include "render.h"
#include "retry.h"
#include "rtoken.h"
#include "timeutil.h"

#define NOTIFY_MAX_RECORD_BYTES (4 * 1024 * 1024)
#define NOTIFY_BUSY_RETRY_MS    1000
#define NOTIFY_PAUSE_AFTER_MS   2000
#define NOTIFY_BATCH            512 /* most jobs in one Redis round trip */
#define NOTIFY_KEY_LEN          600 /* a Redis key of a store, order or customer */

typedef struct notify notify_t;

/* One notification record in hand. Owns msg, m, rendered, body and
 * defer_record. */
typedef struct job {
    ac_job_t base; /* first: the state machine's part (jobs.h) */
    notify_t *n;
    rd_kafka_message_t *msg;
    ac_message_t *m; /* NULL for a record that did not decode */
    int attempts;
    char token[96];         /* the claim's lease token */
    int prefer;             /* the customer's preferred channel, -1: none */
    int prefer_known;       /* prefer was looked up */
    char suggestion[256];   /* marketing: a product to suggest, "" for none */
    const char *cross_sell; /* a suggestion was "sent" with it, or held back ("holdout") */
    ac_rendered_t rendered; /* rendered once, whichever provider sends it */
    int is_rendered;
    const char *to; /* the address on channel, owned by m or the store settings */
    char *body;     /* of the request in flight, or the last one */
    size_t body_len;
    ac_channel_t channel;
    ac_route_t route;            /* how the last attempt was routed */
    ac_provider_kind_t provider; /* where the last attempt went */
    const char *alert_url;       /* a store_alert to the store's webhook: where it goes */
    const char *dlq_reason;      /* AC_JOB_DLQ */
    char dlq_detail[256];
    const char *mark_reason;  /* AC_JOB_MARK: why it is not sent; NULL: delivered */
    int64_t defer_until;      /* AC_JOB_DEFER: UTC ms */
    const char *defer_reason; /* AC_JOB_DEFER: "quiet_hours" or "retry" */
    char *defer_record;       /* AC_JOB_DEFER of a retry: the record with its attempts */
    size_t defer_record_len;
    int64_t first_attempt_ms; /* wall clock of the first attempt (or hold); 0: none yet */
    int64_t decided_ms;       /* wall clock: when it was decided (its record was written) */
} job_t;

struct notify {
    ac_worker_t *w;
    ac_jobs_t *jobs;
    ac_delivery_t *delivery;
    ac_offsets_t *offsets;
    unsigned long long seq; /* for lease tokens */
    uint32_t rng;
    int paused;
    atomic_int wake_on_records; /* read by librdkafka's threads */
    int64_t full_since;         /* monotonic: when the worker last became full, or 0 */
    int64_t redis_retry_at;     /* monotonic: no Redis call before this after a failure */
    int64_t dlq_retry_at;       /* monotonic: no dead-letter produce before this */
    int redis_failures;
    /* Per channel: who sends, who takes over while that keeps failing. */
    ac_provider_t *primary[AC_CHANNEL__COUNT];
    ac_provider_t *fallback[AC_CHANNEL__COUNT]; /* NULL: none */
    ac_breaker_t breaker[AC_CHANNEL__COUNT];
    int sending[AC_CHANNEL__COUNT]; /* requests in flight per channel */
    /* A webhook provider for store alerts to a store's support URL. */
    ac_provider_t *alert;
    /* Settings. */
    int max_in_flight;
    ac_retry_policy_t retry;
    int64_t claim_ttl, sent_ttl, recheck_after, hold_ms, facts_ttl;
    ac_schedule_t *sched; /* where deferred jobs wait, over w->redis */
    ac_quiet_t quiet;
    ac_stores_t *stores;
    ac_templates_t *templates;
    int cap;
    int64_t cap_window;
    ac_secrets_t rating_keys; /* none: review requests go without rating links */
    const char *rating_base;
    int64_t rating_ttl;
    /* Scratch space of the stages, allocated once: two keys per job of a
     * batch, and a batch of suggestion lookups. */
    char (*keys)[NOTIFY_KEY_LEN];
    ac_history_req_t *hist;
};

static inline job_t *job_of(ac_job_t *b)
{
    return (job_t *)b;
}

/* notify_setup.c */
int notify_setup(notify_t *n, ac_worker_t *w, char *err, size_t errsz, int *exit_code);
void notify_teardown(notify_t *n);

/* notify_intake.c */
void notify_take_records(notify_t *n, int timeout_ms);
void notify_on_rebalance(void *opaque, int assigned, const rd_kafka_topic_partition_list_t *parts);
void notify_on_records(rd_kafka_t *rk, void *opaque);
void notify_job_free(job_t *j);

/* notify_stages.c */
int notify_redis_allowed(const notify_t *n);
void notify_redis_result(notify_t *n, int ok, const char *err);
void notify_quiet_hours(notify_t *n);
void notify_claim(notify_t *n);

/* notify_record.c */
void notify_defer(notify_t *n);
void notify_record(notify_t *n);

/* notify_send.c */
void notify_send(notify_t *n);
void notify_result(notify_t *n, const ac_delivery_result_t *r);
uint32_t notify_rand(notify_t *n);

/* notify_dlq.c */
void notify_to_dlq(notify_t *n, job_t *j, const char *reason, const char *detail);
void notify_produce_dead_letters(notify_t *n);

/* The job's state changes, each one call into the machine. */
void notify_wait(notify_t *n, job_t *j, int64_t delay_ms);
void notify_mark(notify_t *n, job_t *j, const char *reason);
void notify_log(int level, const notify_t *n, const job_t *j, const char *fmt, const char *arg);

/* notify_metrics.c: every metric notify-worker counts, labelled from
 * typed values so that no label is formatted by hand elsewhere. */
void notify_metrics_describe(notify_t *n);
void notify_metrics_zero(notify_t *n);
void notify_count_record(notify_t *n, const job_t *j, const char *metric);
void notify_count_suppressed(notify_t *n, ac_kind_t kind, const char *reason);
void notify_count_deferred(notify_t *n, ac_kind_t kind, const char *reason);
void notify_count_duplicate(notify_t *n, ac_kind_t kind);
void notify_count_request(notify_t *n, ac_provider_kind_t p, long status, int curl_code);
void notify_count_sent(notify_t *n, const job_t *j);
void notify_count_failed(notify_t *n, const job_t *j, const char *metric);
void notify_count_dead_letter(notify_t *n, const job_t *j);
void notify_circuit(notify_t *n, ac_channel_t ch, int open, int failover);

#endif
