#include "worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dedup.h"
#include "log.h"
#include "progress.h"
#include "timeutil.h"

extern char **environ;

static volatile sig_atomic_t stop_requested;
static _Atomic int64_t stop_at_ms;         /* monotonic time of the first SIGTERM */
static volatile unsigned hard_stop_s = 60; /* SHUTDOWN_TIMEOUT, rounded up, plus slack */

/* The first SIGTERM or SIGINT asks the loop to stop and arms a hard stop:
 * should anything hang past SHUTDOWN_TIMEOUT (a broker that never answers
 * the close), SIGALRM ends the process. That is safe at any instant,
 * because nothing uncommitted is lost: the next owner reads it again. */
static void on_signal(int sig)
{
    (void)sig;
    if (!stop_requested) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        atomic_store(&stop_at_ms, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
        alarm(hard_stop_s);
    }
    stop_requested = 1;
}

void ac_worker_signals(int64_t shutdown_ms)
{
    struct sigaction sa;
    hard_stop_s = (unsigned)((shutdown_ms + 999) / 1000) + 2;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int64_t ac_worker_shutdown_left_ms(const ac_worker_t *w)
{
    if (!stop_requested)
        return w->shutdown_ms;
    int64_t left = atomic_load(&stop_at_ms) + w->shutdown_ms - ac_time_mono_ms();
    return left > 0 ? left : 0;
}

int ac_worker_stopping(void)
{
    return stop_requested != 0;
}

void ac_worker_sleep(int ms)
{
    int64_t until = ac_time_mono_ms() + ms;
    while (!stop_requested) {
        int64_t left = until - ac_time_mono_ms();
        if (left <= 0)
            break;
        struct timespec ts = {0, (left > 50 ? 50 : left) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* The settings every worker has. KAFKA_GROUP and KAFKA_TOPIC get their
 * defaults from the worker's spec at run time. */
static const ac_option_t common_options[] = {
    {"KAFKA_BROKERS", AC_OPT_STR, NULL, AC_OPT_REQUIRED, 0, 0, NULL,
     "Kafka bootstrap servers, host:port[,host:port...]"},
    {"KAFKA_GROUP", AC_OPT_STR, NULL, 0, 0, 0, NULL, "Kafka consumer group"},
    {"KAFKA_TOPIC", AC_OPT_STR, NULL, 0, 0, 0, ac_config_validate_topic, "input topic"},
    {"DLQ_TOPIC", AC_OPT_STR, "", 0, 0, 0, ac_config_validate_topic,
     "dead-letter topic for invalid records (default: <KAFKA_TOPIC>.dlq)"},
    {"REDIS_URL", AC_OPT_STR, "redis://127.0.0.1:6379/0", 0, 0, 0, ac_config_validate_redis_url,
     "Redis for deduplication and state, redis://[:password@]host:port[,host:port...][/db]; "
     "several hosts are a Redis Cluster's seed nodes"},
    {"REDIS_CLUSTER", AC_OPT_STR, "auto", 0, 0, 0, ac_config_validate_redis_cluster,
     "whether Redis is a Redis Cluster: auto (ask it), on or off"},
    {"HTTP_PORT", AC_OPT_INT, "8080", 0, 0, 65535, NULL,
     "port for /healthz, /readyz and /metrics; 0 turns it off"},
    {"LOG_LEVEL", AC_OPT_STR, "info", 0, 0, 0, ac_config_validate_log_level,
     "debug, info, warn or error"},
    {"DEDUP_TTL", AC_OPT_DURATION, "7d", 0, 60000, 365LL * 86400000, NULL,
     "how long processed event ids and sent message ids are remembered"},
    {"SHUTDOWN_TIMEOUT", AC_OPT_DURATION, "20s", 0, 1000, 600000, NULL,
     "on SIGTERM, the time allowed to finish work in hand, commit and leave the group; keep it "
     "below the pod's termination grace period"},
    {"STALL_TIMEOUT", AC_OPT_DURATION, "5m", 0, 0, 86400000, NULL,
     "a partition with records waiting that makes no progress for this long fails /readyz; 0 "
     "turns the check off"},
    {"LOG_MASK", AC_OPT_BOOL, "true", 0, 0, 0, NULL,
     "mask customer email addresses and phone numbers in logs"},
};

#define N_COMMON (sizeof(common_options) / sizeof(common_options[0]))

const ac_option_t *ac_worker_common_options(size_t *n)
{
    *n = N_COMMON;
    return common_options;
}

static int ready(void *ctx, char *why, size_t whysz)
{
    ac_worker_t *w = ctx;
    if (!atomic_load(&w->redis_ok)) {
        snprintf(why, whysz, "redis is not reachable");
        return 0;
    }
    if (w->hooks.assigned_count < 0) {
        snprintf(why, whysz, "not yet part of the Kafka consumer group");
        return 0;
    }
    int stalled = atomic_load(&w->stalled);
    if (stalled > 0) {
        snprintf(why, whysz,
                 "%d partition(s) of %s made no progress for STALL_TIMEOUT, partition %d first",
                 stalled, w->topic, atomic_load(&w->stalled_partition));
        return 0;
    }
    return 1;
}

/* librdkafka's statistics, every few seconds: the lag of each assigned
 * partition, and whether one has stalled, for /metrics and /readyz. */
static void on_stats(void *opaque, const char *json, size_t len)
{
    ac_worker_t *w = opaque;
    ac_partition_stats_t parts[512];
    char labels[320];
    int n = ac_progress_parse_stats(json, len, w->topic, parts, 512);
    int stalled = 0, first = -1;
    int64_t now = ac_time_mono_ms();
    for (int i = 0; i < n; i++) {
        snprintf(labels, sizeof(labels), "topic=\"%s\",partition=\"%d\"", w->topic,
                 (int)parts[i].partition);
        if (!parts[i].assigned) {
            ac_progress_forget(w->progress, parts[i].partition);
            ac_metrics_remove(w->metrics, "aftercare_consumer_lag", labels);
            ac_metrics_remove(w->metrics, "aftercare_partition_stalled", labels);
            continue;
        }
        int is_stalled;
        int64_t lag = ac_progress_note(w->progress, &parts[i], now, &is_stalled);
        ac_metrics_set(w->metrics, "aftercare_consumer_lag", labels, (double)lag);
        ac_metrics_set(w->metrics, "aftercare_partition_stalled", labels, is_stalled);
        if (is_stalled && stalled++ == 0)
            first = parts[i].partition;
    }
    if (stalled && !atomic_load(&w->stalled))
        ac_log(AC_LOG_WARN, "partition %d of %s has made no progress for STALL_TIMEOUT", first,
               w->topic);
    atomic_store(&w->stalled_partition, first);
    atomic_store(&w->stalled, stalled);
}

void ac_worker_redis_status(ac_worker_t *w, int ok, const char *err)
{
    int was = atomic_exchange(&w->redis_ok, ok);
    if (!ok) {
        ac_metrics_add(w->metrics, "aftercare_redis_errors_total", "", 1);
        if (was)
            ac_log(AC_LOG_WARN, "redis unavailable, retrying: %s", err ? err : "");
    } else if (!was) {
        ac_log(AC_LOG_INFO, "redis available");
    }
}

static void describe_metrics(ac_metrics_t *m)
{
    ac_metrics_describe(
        m, "aftercare_events_consumed_total", AC_METRIC_COUNTER,
        "Records consumed from the input topic, by event type (again when re-read).");
    ac_metrics_describe(m, "aftercare_events_processed_total", AC_METRIC_COUNTER,
                        "Records whose outcome is durable and offset stored, by event type.");
    ac_metrics_describe(m, "aftercare_events_duplicate_total", AC_METRIC_COUNTER,
                        "Events dropped because their event_id was already processed.");
    ac_metrics_describe(m, "aftercare_events_dead_lettered_total", AC_METRIC_COUNTER,
                        "Invalid records sent to the dead-letter topic, by reason.");
    ac_metrics_describe(m, "aftercare_events_unknown_type_total", AC_METRIC_COUNTER,
                        "Valid events of a type this worker does not handle, skipped.");
    ac_metrics_describe(m, "aftercare_messages_decided_total", AC_METRIC_COUNTER,
                        "Customer messages decided and handed to notify-worker, by kind.");
    ac_metrics_describe(
        m, "aftercare_messages_sent_total", AC_METRIC_COUNTER,
        "Customer messages accepted by the provider, by kind, channel and provider.");
    ac_metrics_describe(m, "aftercare_messages_duplicate_total", AC_METRIC_COUNTER,
                        "Messages dropped because they were already sent, by kind.");
    ac_metrics_describe(
        m, "aftercare_messages_retried_total", AC_METRIC_COUNTER,
        "Delivery attempts that failed transiently and were retried, by kind and channel.");
    ac_metrics_describe(m, "aftercare_messages_dead_lettered_total", AC_METRIC_COUNTER,
                        "Messages that could not be delivered, sent to the dead-letter topic.");
    ac_metrics_describe(m, "aftercare_batches_rewound_total", AC_METRIC_COUNTER,
                        "Batches re-read because producing their output failed.");
    ac_metrics_describe(m, "aftercare_redis_errors_total", AC_METRIC_COUNTER,
                        "Failed Redis round trips (each is retried).");
    ac_metrics_describe(m, "aftercare_messages_scheduled_total", AC_METRIC_COUNTER,
                        "Customer messages scheduled for later (review requests, referrals).");
    ac_metrics_describe(m, "aftercare_messages_suppressed_total", AC_METRIC_COUNTER,
                        "Messages the rules held back, by kind and reason (returned, no_consent, "
                        "...).");
    ac_metrics_describe(m, "aftercare_scheduled_cancelled_total", AC_METRIC_COUNTER,
                        "Scheduled messages cancelled before they were due, by kind.");
    ac_metrics_describe(m, "aftercare_scheduled_fired_total", AC_METRIC_COUNTER,
                        "Scheduled messages produced when due, by kind.");
    ac_metrics_describe(m, "aftercare_scheduled_dropped_total", AC_METRIC_COUNTER,
                        "Scheduled messages Kafka would never accept, dropped, by kind.");
    ac_metrics_describe(m, "aftercare_scheduled_pending", AC_METRIC_GAUGE,
                        "Scheduled messages waiting in Redis (all workers).");
    ac_metrics_describe(m, "aftercare_scheduled_lateness_seconds", AC_METRIC_GAUGE,
                        "How late after its due time the last round of scheduled messages fired.");
    ac_metrics_describe(m, "aftercare_scheduled_held", AC_METRIC_GAUGE,
                        "Scheduled messages due but held back because an input topic's "
                        "watermark is behind their due time (all workers).");
    ac_metrics_describe(m, "aftercare_scheduled_hold_expired_total", AC_METRIC_COUNTER,
                        "Scheduled messages fired on the facts known after waiting "
                        "WATERMARK_MAX_HOLD for the watermarks, by kind.");
    ac_metrics_describe(m, "aftercare_watermark_lag_seconds", AC_METRIC_GAUGE,
                        "How far behind now the event-time watermark of an input topic is, by "
                        "topic: the age of its oldest record its group has not processed.");
    ac_metrics_describe(m, "aftercare_messages_deferred_total", AC_METRIC_COUNTER,
                        "Messages put back into the durable schedule, by kind and reason "
                        "(quiet_hours, retry).");
    ac_metrics_describe(m, "aftercare_in_flight", AC_METRIC_GAUGE,
                        "Records being worked on and not yet committed.");
    ac_metrics_describe(m, "aftercare_consumer_lag", AC_METRIC_GAUGE,
                        "Records of an assigned partition not yet processed (high watermark "
                        "minus the next offset to process).");
    ac_metrics_describe(m, "aftercare_partition_stalled", AC_METRIC_GAUGE,
                        "1 while an assigned partition has records waiting and has made no "
                        "progress for STALL_TIMEOUT.");
}

/* The common options first, with this worker's defaults filled in (its
 * group and topic), then the worker's own. Returns 0, or -1 when out of
 * memory. */
static int build_options(ac_worker_t *w, const ac_worker_spec_t *spec)
{
    char group[128];
    size_t n = N_COMMON + spec->n_options;
    w->options = calloc(n, sizeof(ac_option_t));
    if (!w->options)
        return -1;
    memcpy(w->options, common_options, sizeof(common_options));
    memcpy(w->options + N_COMMON, spec->options, spec->n_options * sizeof(ac_option_t));
    snprintf(group, sizeof(group), "aftercare-%s", spec->name);
    for (size_t i = 0; i < N_COMMON; i++) {
        if (strcmp(w->options[i].env, "KAFKA_GROUP") == 0)
            w->options[i].def = strdup(group);
        if (strcmp(w->options[i].env, "KAFKA_TOPIC") == 0)
            w->options[i].def = spec->default_topic;
    }
    w->cfg = ac_config_new(spec->name, spec->summary, w->options, n);
    return w->cfg ? 0 : -1;
}

/* Parses the settings and runs the worker's own check; a bad setting is
 * one line on stderr and exit status 2, --help and --version exit 0.
 * Then logging, the topics and this process's lease-token prefix.
 * Returns 0, or -1 with *exit_code set. */
static int read_settings(ac_worker_t *w, int argc, char **argv, int *exit_code)
{
    char err[512], host[64] = "host";
    const ac_worker_spec_t *spec = w->spec;
    int rc = ac_config_parse(w->cfg, argc, argv, environ, err, sizeof(err));
    if (rc == AC_CONFIG_EXIT) {
        *exit_code = AC_EXIT_OK;
        return -1;
    }
    if (rc < 0 || (spec->check && spec->check(w->cfg, err, sizeof(err)) < 0)) {
        fprintf(stderr, "%s: %s\n", spec->name, err);
        *exit_code = AC_EXIT_CONFIG;
        return -1;
    }
    ac_log_init(spec->name, ac_log_level_parse(ac_config_str(w->cfg, "LOG_LEVEL")));
    ac_log_set_mask((int)ac_config_int(w->cfg, "LOG_MASK"));
    w->shutdown_ms = ac_config_int(w->cfg, "SHUTDOWN_TIMEOUT");
    w->topic = ac_config_str(w->cfg, "KAFKA_TOPIC");
    const char *dlq = ac_config_str(w->cfg, "DLQ_TOPIC");
    snprintf(w->dlq_topic, sizeof(w->dlq_topic), dlq ? "%s" : "%s.dlq", dlq ? dlq : w->topic);
    gethostname(host, sizeof(host) - 1);
    snprintf(w->token, sizeof(w->token), "%.32s:%d:%llx", host, (int)getpid(),
             (unsigned long long)ac_time_now_ms());
    return 0;
}

/* Redis, the Kafka producer and consumer, and the HTTP endpoint. A
 * setting they refuse is a configuration error (exit 2). Returns 0, or -1
 * with *exit_code set. */
static int open_clients(ac_worker_t *w, int *exit_code)
{
    char err[512];
    const ac_worker_spec_t *spec = w->spec;
    *exit_code = AC_EXIT_CONFIG;
    w->redis = ac_redis_new(ac_config_str(w->cfg, "REDIS_URL"), 5000, err, sizeof(err));
    if (!w->redis) {
        fprintf(stderr, "%s: invalid setting REDIS_URL: %s\n", spec->name, err);
        return -1;
    }
    ac_redis_cluster_t mode = AC_REDIS_CLUSTER_AUTO;
    ac_redis_cluster_parse(ac_config_str(w->cfg, "REDIS_CLUSTER"), &mode, err, sizeof(err));
    ac_redis_set_cluster(w->redis, mode);
    ac_dedup_register(w->redis);
    w->producer = ac_kafka_producer_new(
        w->cfg, spec->name, spec->dr ? spec->dr : ac_kafka_tracker_dr, w, err, sizeof(err));
    if (w->producer)
        w->consumer =
            ac_kafka_consumer_new(w->cfg, spec->name, w->topic, &w->hooks, err, sizeof(err));
    if (!w->producer || !w->consumer) {
        fprintf(stderr, "%s: %s\n", spec->name, err);
        return -1;
    }
    int port = (int)ac_config_int(w->cfg, "HTTP_PORT");
    if (port > 0 && !(w->http = ac_http_start(port, w->metrics, ready, w, err, sizeof(err)))) {
        fprintf(stderr, "%s: invalid setting HTTP_PORT=%d: %s\n", spec->name, port, err);
        return -1;
    }
    return 0;
}

ac_worker_t *ac_worker_new(const ac_worker_spec_t *spec, int argc, char **argv, int *exit_code)
{
    ac_worker_t *w = calloc(1, sizeof(*w));
    *exit_code = AC_EXIT_RUNTIME;
    if (!w)
        return NULL;
    w->spec = spec;
    atomic_store(&w->redis_ok, 0);
    w->hooks.assigned_count = -1;
    if (build_options(w, spec) < 0 || read_settings(w, argc, argv, exit_code) < 0)
        goto fail;
    ac_worker_signals(w->shutdown_ms);
    if (!(w->metrics = ac_metrics_new()))
        goto fail;
    describe_metrics(w->metrics);
    if (!(w->progress = ac_progress_new(ac_config_int(w->cfg, "STALL_TIMEOUT"))))
        goto fail;
    w->hooks.stats = on_stats;
    w->hooks.stats_opaque = w;
    if (open_clients(w, exit_code) < 0)
        goto fail;
    ac_log(AC_LOG_INFO, "%s %s started: topic %s, group %s, dead letters to %s", spec->name,
           AC_VERSION, w->topic, ac_config_str(w->cfg, "KAFKA_GROUP"), w->dlq_topic);
    return w;
fail:
    ac_worker_destroy(w);
    return NULL;
}

void ac_worker_destroy(ac_worker_t *w)
{
    if (!w)
        return;
    ac_http_stop(w->http);
    /* Within what is left of SHUTDOWN_TIMEOUT, but long enough to try. */
    int64_t left = w->cfg ? ac_worker_shutdown_left_ms(w) : 0;
    if (ac_kafka_consumer_destroy(w->consumer, (int)(left > 1000 ? left : 1000)) < 0) {
        /* Kafka is out of reach and the time is up. What was not
         * committed is read again by the next owner, so nothing is lost
         * by going now; waiting on would only meet the hard stop. */
        ac_log(AC_LOG_WARN, "exiting without leaving the group cleanly");
        _exit(AC_EXIT_RUNTIME);
    }
    left = w->cfg ? ac_worker_shutdown_left_ms(w) : 0;
    ac_kafka_producer_destroy(w->producer, (int)(left > 500 ? left : 500));
    ac_progress_destroy(w->progress);
    ac_redis_destroy(w->redis);
    ac_metrics_destroy(w->metrics);
    ac_config_destroy(w->cfg);
    if (w->options) {
        for (size_t i = 0; i < N_COMMON; i++)
            if (strcmp(w->options[i].env, "KAFKA_GROUP") == 0)
                free((char *)w->options[i].def);
        free(w->options);
    }
    free(w);
}
