/* What every aftercare worker is made of: its configuration, logging,
 * signals, metrics and health endpoint, a Redis handle, and a consumer on
 * its input topic plus a producer for its output. A worker's main() calls
 * ac_worker_new() with its own settings, runs its loop until
 * ac_worker_stopping(), and calls ac_worker_destroy(), which leaves the
 * consumer group cleanly and flushes what is still queued for Kafka. */
#ifndef AC_WORKER_H
#define AC_WORKER_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "http.h"
#include "kafka.h"
#include "metrics.h"
#include "redis.h"

typedef struct ac_worker_spec {
    const char *name;           /* "order-worker": logs, client.id, default group */
    const char *summary;        /* one line for --help */
    const char *default_topic;  /* KAFKA_TOPIC's default */
    const ac_option_t *options; /* the worker's own settings, added to the common ones */
    size_t n_options;
    ac_kafka_dr_fn dr; /* producer delivery reports; NULL: ac_kafka_tracker_dr */
    /* Checks settings that depend on each other or on files, before
     * anything starts; returns 0, or -1 with one line in err naming the
     * setting. NULL: none. */
    int (*check)(const ac_config_t *cfg, char *err, size_t errsz);
} ac_worker_spec_t;

typedef struct ac_worker {
    const ac_worker_spec_t *spec;
    ac_config_t *cfg;
    ac_option_t *options; /* common + the worker's own, owned */
    ac_metrics_t *metrics;
    ac_http_t *http;
    ac_redis_t *redis;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    ac_kafka_hooks_t hooks;       /* set hooks.rebalance/opaque before the first poll */
    const char *topic;            /* KAFKA_TOPIC */
    char dlq_topic[256];          /* DLQ_TOPIC, default <KAFKA_TOPIC>.dlq */
    char token[64];               /* unique per process: owner of Redis leases */
    atomic_int redis_ok;          /* last Redis call succeeded */
    struct ac_progress *progress; /* per-partition progress, from statistics */
    atomic_int stalled;           /* assigned partitions stalled now */
    atomic_int stalled_partition; /* the first of them, for /readyz */
    int64_t shutdown_ms;          /* SHUTDOWN_TIMEOUT */
} ac_worker_t;

/* Exit statuses. */
#define AC_EXIT_OK      0
#define AC_EXIT_RUNTIME 1
#define AC_EXIT_CONFIG  2

/* Parses configuration from argv and the environment and sets everything
 * up. Returns the worker, or NULL with *exit_code set: AC_EXIT_OK after
 * --help/--version, AC_EXIT_CONFIG after printing one line naming a bad
 * setting, AC_EXIT_RUNTIME when a client could not be created. */
ac_worker_t *ac_worker_new(const ac_worker_spec_t *spec, int argc, char **argv, int *exit_code);

/* Stops the HTTP server, closes the consumer (committing stored offsets,
 * leaving the group), flushes the producer and frees everything, within
 * what is left of SHUTDOWN_TIMEOUT. Accepts NULL. */
void ac_worker_destroy(ac_worker_t *w);

/* The settings every worker has, before its own; KAFKA_GROUP's and
 * KAFKA_TOPIC's defaults are filled in from the spec at run time. For
 * tools that check settings the way a worker would. */
const ac_option_t *ac_worker_common_options(size_t *n);

/* Installs the SIGTERM/SIGINT handling every aftercare process shares:
 * ac_worker_stopping() turns true, and should the process still run
 * shutdown_ms (plus slack) later, SIGALRM ends it. SIGPIPE is ignored.
 * ac_worker_new() calls it; a process without a consumer (the ingest
 * gateway) calls it itself. */
void ac_worker_signals(int64_t shutdown_ms);

/* True once SIGTERM or SIGINT arrived. */
int ac_worker_stopping(void);

/* What is left of SHUTDOWN_TIMEOUT since the stop request (all of it
 * before one): every step of a shutdown fits in it, so the process exits
 * within the bound its pod's termination grace period is sized for. */
int64_t ac_worker_shutdown_left_ms(const ac_worker_t *w);

/* Records the outcome of a Redis call for readiness and metrics, logging
 * a failure at most once per outage. */
void ac_worker_redis_status(ac_worker_t *w, int ok, const char *err);

/* Sleeps up to ms, returning early when the worker is stopping. */
void ac_worker_sleep(int ms);

/* The common settings' names, for the worker's own code. */
#define AC_DEDUP_TTL "DEDUP_TTL"

#endif
