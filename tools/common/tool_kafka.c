/* Kafka client plumbing shared by the command-line tools; see tool_kafka.h. */
#include "tool_kafka.h"

#include <stdio.h>
#include <string.h>

rd_kafka_t *ac_tool_kafka_new(rd_kafka_type_t type, const char *brokers, const char *client_id,
                              const char *const *kv, ac_tool_kafka_dr_fn dr_cb, void *opaque,
                              char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk = NULL;
    char why[512];
    size_t i;

    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, why, sizeof(why)) !=
            RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "client.id", client_id, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "config: %s", why);
        goto out;
    }
    for (i = 0; kv && kv[i]; i += 2) {
        if (rd_kafka_conf_set(conf, kv[i], kv[i + 1], why, sizeof(why)) != RD_KAFKA_CONF_OK) {
            snprintf(errstr, errstr_size, "config %s=%s: %s", kv[i], kv[i + 1], why);
            goto out;
        }
    }
    if (dr_cb)
        rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, opaque);
    rk = rd_kafka_new(type, conf, why, sizeof(why));
    if (!rk) {
        snprintf(errstr, errstr_size, "creating client: %s", why);
        goto out;
    }
    conf = NULL; /* now the client's */
out:
    if (conf)
        rd_kafka_conf_destroy(conf);
    return rk;
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
