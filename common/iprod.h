/* The ingest gateway's Kafka producer: many HTTP threads each produce the
 * canonical events of one request and wait until Kafka acknowledged all of
 * them (idempotent producer, acks=all), while one thread serves delivery
 * reports for everybody. A request is answered 200 only after its wait
 * returned 0, so a platform's retry is the only copy when it did not. */
#ifndef AC_IPROD_H
#define AC_IPROD_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "config.h"

typedef struct ac_iprod ac_iprod_t;

typedef struct ac_iprod_rec {
    const char *topic;
    const char *key; /* the order id */
    const char *value;
    size_t len;
    /* Headers to add (NULL-terminated name/value pairs), or NULL. */
    const char *const *headers;
} ac_iprod_rec_t;

/* Creates the producer on KAFKA_BROKERS whose records time out after
 * timeout_ms, and its delivery-report thread. NULL with err. */
ac_iprod_t *ac_iprod_new(const ac_config_t *cfg, const char *client_id, int64_t timeout_ms,
                         char *err, size_t errsz);

/* Produces the n records and blocks until Kafka acknowledged or refused
 * each one. Returns 0 when all were acknowledged, else -1 with the first
 * error in err (some may have been written: their retry is deduplicated
 * downstream by event id). Thread-safe. */
int ac_iprod_send(ac_iprod_t *p, const ac_iprod_rec_t *recs, size_t n, char *err, size_t errsz);

/* True while a broker answered within the last few seconds: readiness. */
int ac_iprod_connected(ac_iprod_t *p);

/* Flushes for at most timeout_ms, stops the thread and frees. Accepts
 * NULL. */
void ac_iprod_destroy(ac_iprod_t *p, int timeout_ms);

#endif
