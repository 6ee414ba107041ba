/* Kafka clients configured the way aftercare's delivery guarantee needs.
 *
 * Consumers store offsets only when the worker says a record's outcome is
 * durable (enable.auto.offset.store=false) and commit stored offsets in the
 * background and on close; they start from the earliest record when a group
 * has no offset, so nothing published before the first deployment is lost.
 * Producers are idempotent with acks=all, so librdkafka's own retries never
 * duplicate or reorder a record. Any librdkafka property given through the
 * configuration (RDKAFKA_*, --rdkafka) is applied last and wins. */
#ifndef AC_KAFKA_H
#define AC_KAFKA_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "config.h"

/* How to build one Kafka client, whoever builds it: the workers (through
 * the constructors below), ac-dlq-replay and the tools in tools/. Properties
 * are applied in this order, a later one winning: bootstrap.servers and
 * client.id, the settings lists in order, cfg's pass-through properties
 * (RDKAFKA_*, --rdkafka), then the n_props extra ones. Strings stay the
 * caller's; librdkafka copies what it keeps. */
#define AC_KAFKA_SETTING_LISTS 3

typedef struct ac_kafka_opts {
    const char *brokers;   /* bootstrap.servers; NULL: none (a mock cluster's host) */
    const char *client_id; /* client.id */
    /* Up to AC_KAFKA_SETTING_LISTS NULL-terminated name/value lists; unused
     * entries NULL. */
    const char *const *settings[AC_KAFKA_SETTING_LISTS];
    const ac_config_t *cfg;        /* NULL, or whose pass-through properties apply */
    const char *const *prop_names; /* n_props properties applied last */
    const char *const *prop_values;
    size_t n_props;
    int json_log;     /* route librdkafka's log lines and errors into ac_log */
    const char *role; /* names the client in errors; NULL: producer/consumer */
    void (*dr)(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);
    void (*rebalance)(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts, void *opaque);
    int (*stats)(rd_kafka_t *rk, char *json, size_t len, void *opaque);
    void *opaque; /* handed to the callbacks */
} ac_kafka_opts_t;

/* A configuration built from o, the caller's to give to rd_kafka_new() or
 * destroy. Returns NULL with err ("kafka property NAME: why"). */
rd_kafka_conf_t *ac_kafka_conf_new(const ac_kafka_opts_t *o, char *err, size_t errsz);

/* A client of type built from o; the caller decides whether a consumer's
 * main queue goes to rd_kafka_consumer_poll(). Returns NULL with err
 * ("kafka ROLE: why"). */
rd_kafka_t *ac_kafka_client_new(rd_kafka_type_t type, const ac_kafka_opts_t *o, char *err,
                                size_t errsz);

/* Called on every rebalance, before revoked partitions are released and
 * after assigned ones are taken, so the worker can drop or set up
 * per-partition state. */
typedef void (*ac_kafka_rebalance_fn)(void *opaque, int assigned,
                                      const rd_kafka_topic_partition_list_t *parts);

/* Called with librdkafka's statistics JSON every statistics.interval.ms
 * (5 s unless RDKAFKA_STATISTICS_INTERVAL_MS says otherwise), from the
 * thread that polls the consumer. */
typedef void (*ac_kafka_stats_fn)(void *opaque, const char *json, size_t len);

typedef struct ac_kafka_hooks {
    ac_kafka_rebalance_fn rebalance;
    void *opaque;
    ac_kafka_stats_fn stats; /* set before ac_kafka_consumer_new(); NULL: no statistics */
    void *stats_opaque;
    int assigned_count; /* partitions currently assigned, -1 before the first assignment */
} ac_kafka_hooks_t;

/* Creates a consumer in group KAFKA_GROUP on KAFKA_BROKERS, subscribed to
 * topic. hooks (may be NULL) must outlive the consumer. Returns NULL with
 * errstr filled. Destroy with ac_kafka_consumer_destroy(). */
rd_kafka_t *ac_kafka_consumer_new(const ac_config_t *cfg, const char *client_id, const char *topic,
                                  ac_kafka_hooks_t *hooks, char *errstr, size_t errsz);

/* Closes the consumer (committing stored offsets, leaving the group) and
 * destroys it. Returns 0, or -1 when the close did not finish within
 * timeout_ms (a broker unreachable): the handle is then left as it is,
 * since destroying it would wait for the broker without bound, and the
 * caller should end the process. Accepts NULL. */
int ac_kafka_consumer_destroy(rd_kafka_t *rk, int timeout_ms);

/* The header ac-dlq-replay puts on a record it replays from a dead-letter
 * topic: "<dlq topic>/<partition>/<offset>". */
#define AC_KAFKA_REPLAYED_HEADER "ac-replayed-from"

/* True when msg carries header `name`. */
int ac_kafka_has_header(const rd_kafka_message_t *msg, const char *name);

/* Creates a consumer that reads without joining a group: it can read the
 * committed offsets of consumer group `group` (rd_kafka_committed()), the
 * partitions' offsets, and peek at records by assigning partitions. It
 * never commits. Destroy with rd_kafka_destroy_flags(rk,
 * RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE). Returns NULL with errstr. */
rd_kafka_t *ac_kafka_reader_new(const ac_config_t *cfg, const char *client_id, const char *group,
                                char *errstr, size_t errsz);

/* Delivery report callback: msg_opaque is what was given to the produce
 * call. */
typedef void (*ac_kafka_dr_fn)(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);

/* Creates a producer on KAFKA_BROKERS. dr (may be NULL) receives every
 * delivery report with opaque. Destroy with ac_kafka_producer_destroy(). */
rd_kafka_t *ac_kafka_producer_new(const ac_config_t *cfg, const char *client_id, ac_kafka_dr_fn dr,
                                  void *opaque, char *errstr, size_t errsz);

/* Same, giving up on a record (its delivery report says
 * _MSG_TIMED_OUT) when Kafka has not acknowledged it within timeout_ms:
 * for a caller that answers someone waiting, such as the ingest gateway. */
rd_kafka_t *ac_kafka_producer_new_bounded(const ac_config_t *cfg, const char *client_id,
                                          ac_kafka_dr_fn dr, void *opaque, int64_t timeout_ms,
                                          char *errstr, size_t errsz);

/* Flushes for at most timeout_ms, then destroys. Accepts NULL. */
void ac_kafka_producer_destroy(rd_kafka_t *rk, int timeout_ms);

/* Counts outstanding deliveries for a batch of produced records. Pass it as
 * msg_opaque and have the producer's dr call ac_kafka_tracker_dr(). */
typedef struct ac_kafka_tracker {
    int pending;
    int failed;
    rd_kafka_resp_err_t last_err;
} ac_kafka_tracker_t;

void ac_kafka_tracker_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);

/* Produces value (copied) with key to topic; msg_opaque is handed to the
 * delivery report. Retries while the local queue is full, serving delivery
 * reports meanwhile. Returns 0 or a librdkafka error code. */
rd_kafka_resp_err_t ac_kafka_produce(rd_kafka_t *rk, const char *topic, const void *key,
                                     size_t keylen, const void *value, size_t len,
                                     rd_kafka_headers_t *headers, void *msg_opaque);

/* Produces src to dlq_topic unchanged (key, value and headers) with
 * headers saying why and where it came from: ac-dlq-reason, ac-dlq-detail,
 * ac-source-topic, ac-source-partition, ac-source-offset, ac-dlq-worker,
 * ac-dlq-at. */
rd_kafka_resp_err_t ac_kafka_produce_dlq(rd_kafka_t *rk, const char *dlq_topic,
                                         const rd_kafka_message_t *src, const char *reason,
                                         const char *detail, const char *worker, void *msg_opaque);

/* Serves delivery reports until tracker->pending is 0 or timeout_ms
 * passes. Returns 0 when all were reported, -1 on timeout. */
int ac_kafka_wait(rd_kafka_t *rk, ac_kafka_tracker_t *tracker, int timeout_ms);

/* Gives up on the records tracker still waits for (the worker is stopping
 * and will not commit them): purges them from the producer and serves their
 * reports, so that no report reaches the tracker after its owner returned.
 * Their fate is unknown; whoever consumes the input again produces them
 * again. Returns 0, or -1 when some report had not come after 10 s: the
 * tracker must then be neither reused nor freed. */
int ac_kafka_abandon(rd_kafka_t *rk, ac_kafka_tracker_t *tracker);

#endif
