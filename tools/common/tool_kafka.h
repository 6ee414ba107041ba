/* Kafka client plumbing shared by the command-line tools (ac-kafka,
 * ac-bench-kafka).
 *
 * Errors are returned as values: on failure a function returns NULL or -1
 * and writes one line describing the cause (no program name, no newline)
 * into the caller's errstr buffer of errstr_size bytes, like librdkafka
 * does; the caller decides how to report it.
 *
 * Ownership: strings passed in (brokers, client id, configuration pairs,
 * topic) stay the caller's; librdkafka copies what it keeps. The client
 * returned by ac_tool_kafka_new is the caller's, to be freed with
 * rd_kafka_destroy (after closing a consumer); the configuration object it
 * is built from is owned and freed here, whether creation succeeds or not.
 * Metadata fetched by ac_tool_kafka_partition_count is freed before it
 * returns. */
#ifndef AC_TOOL_KAFKA_H
#define AC_TOOL_KAFKA_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

typedef void (*ac_tool_kafka_dr_fn)(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);

/* A client of the given type for brokers (bootstrap.servers), named
 * client_id, made by ac_kafka_client_new() (common/kafka.h). kv is NULL or a NULL-terminated list
 * of librdkafka property name/value pairs applied after those two. dr_cb, when not NULL, receives
 * every delivery report; opaque is passed to the callbacks. Returns NULL on
 * error. */
rd_kafka_t *ac_tool_kafka_new(rd_kafka_type_t type, const char *brokers, const char *client_id,
                              const char *const *kv, ac_tool_kafka_dr_fn dr_cb, void *opaque,
                              char *errstr, size_t errstr_size);

/* The number of partitions of topic, waiting at most timeout_ms for the
 * metadata. Metadata is requested for all topics because a request naming
 * the topic would make an auto-creating broker (the mock one included)
 * create it: inspecting a topic must not change the cluster. Returns -1 on
 * error, including a topic that does not exist or has no partitions. */
int ac_tool_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, char *errstr,
                                  size_t errstr_size);

#endif
