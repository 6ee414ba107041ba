/* Kafka client plumbing shared by the command-line tools; see tool_kafka.h. */
#include "tool_kafka.h"

#include <stdio.h>
#include <string.h>

#include "kafka.h"

/* The tools build their clients with the workers' builder, so that they
 * reach the brokers the same way; librdkafka's own log lines stay on stderr
 * in its format, as the tools print no JSON log. */
rd_kafka_t *ac_tool_kafka_new(rd_kafka_type_t type, const char *brokers, const char *client_id,
                              const char *const *kv, ac_tool_kafka_dr_fn dr_cb, void *opaque,
                              char *errstr, size_t errstr_size)
{
    ac_kafka_opts_t o = {.brokers = brokers,
                         .client_id = client_id,
                         .settings = {kv},
                         .dr = dr_cb,
                         .opaque = opaque};

    return ac_kafka_client_new(type, &o, errstr, errstr_size);
}

int ac_tool_kafka_partition_count(rd_kafka_t *rk, const char *topic, int timeout_ms, char *errstr,
                                  size_t errstr_size)
{
    const struct rd_kafka_metadata *md = NULL;
    const struct rd_kafka_metadata_topic *mt = NULL;
    rd_kafka_resp_err_t err;
    int count = -1, i;

    err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms);
    if (err) {
        snprintf(errstr, errstr_size, "metadata for %s: %s", topic, rd_kafka_err2str(err));
        goto out;
    }
    for (i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, topic) == 0) {
            mt = &md->topics[i];
            break;
        }
    }
    if (!mt) {
        snprintf(errstr, errstr_size, "topic %s does not exist", topic);
        goto out;
    }
    if (mt->err) {
        snprintf(errstr, errstr_size, "topic %s: %s", topic, rd_kafka_err2str(mt->err));
        goto out;
    }
    if (mt->partition_cnt <= 0) {
        snprintf(errstr, errstr_size, "topic %s has no partitions", topic);
        goto out;
    }
    count = mt->partition_cnt;
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    return count;
}
