#include "kafka.h"

#include <stdio.h>
#include <string.h>

#include "log.h"
#include "timeutil.h"

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *errstr,
                    size_t errsz)
{
    char why[256];
    if (rd_kafka_conf_set(conf, name, value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errsz, "kafka property %s: %s", name, why);
        return -1;
    }
    return 0;
}

/* Applies NULL-terminated name/value pairs in order. */
static int conf_set_pairs(rd_kafka_conf_t *conf, const char *const *kv, char *errstr, size_t errsz)
{
    for (; kv[0]; kv += 2)
        if (conf_set(conf, kv[0], kv[1], errstr, errsz) < 0)
            return -1;
    return 0;
}

/* How every consumer reads, the workers' and the watermark reader alike:
 * offsets stored only when the caller says, and a group with no commit
 * starts at the earliest record (which is also where the watermarks look
 * for a group's first unprocessed record). */
static const char *const reading[] = {"enable.auto.offset.store",
                                      "false",
                                      "auto.offset.reset",
                                      "earliest",
                                      "enable.partition.eof",
                                      "false",
                                      NULL};

/* Applies the RDKAFKA_* / --rdkafka pass-through properties. */
static int conf_passthrough(rd_kafka_conf_t *conf, const ac_config_t *cfg, char *errstr,
                            size_t errsz)
{
    for (size_t i = 0; i < ac_config_kafka_prop_count(cfg); i++) {
        const char *name, *value;
        ac_config_kafka_prop(cfg, i, &name, &value);
        if (conf_set(conf, name, value, errstr, errsz) < 0)
            return -1;
    }
    return 0;
}

/* librdkafka's log lines, routed into our JSON log. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    int l = level <= 3   ? AC_LOG_ERROR
            : level <= 4 ? AC_LOG_WARN
            : level <= 6 ? AC_LOG_INFO
                         : AC_LOG_DEBUG;
    ac_log(l, "kafka %s: %s: %s", rd_kafka_name(rk), fac, buf);
}

/* Errors librdkafka reports outside any call (broker down, all brokers
 * down). They are transient: the client keeps retrying by itself. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    ac_log(err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ? AC_LOG_WARN : AC_LOG_INFO,
           "kafka %s: %s: %s", rd_kafka_name(rk), rd_kafka_err2name(err), reason);
}

/* Applies the settings lists, then the pass-through and extra properties,
 * so that whatever an operator configured wins over the role's defaults. */
static int conf_apply(rd_kafka_conf_t *conf, const ac_kafka_opts_t *o, char *err, size_t errsz)
{
    if ((o->brokers && conf_set(conf, "bootstrap.servers", o->brokers, err, errsz) < 0) ||
        conf_set(conf, "client.id", o->client_id, err, errsz) < 0)
        return -1;
    for (size_t i = 0; i < AC_KAFKA_SETTING_LISTS; i++)
        if (o->settings[i] && conf_set_pairs(conf, o->settings[i], err, errsz) < 0)
            return -1;
    if (o->cfg && conf_passthrough(conf, o->cfg, err, errsz) < 0)
        return -1;
    for (size_t i = 0; i < o->n_props; i++)
        if (conf_set(conf, o->prop_names[i], o->prop_values[i], err, errsz) < 0)
            return -1;
    return 0;
}

/* One builder for every client, so that the workers and the tools cannot
 * drift apart in how they reach the brokers (security settings arrive the
 * same way for all) and in how librdkafka's own messages are reported. */
rd_kafka_conf_t *ac_kafka_conf_new(const ac_kafka_opts_t *o, char *err, size_t errsz)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf_apply(conf, o, err, errsz) < 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    if (o->json_log) {
        rd_kafka_conf_set_log_cb(conf, log_cb);
        rd_kafka_conf_set_error_cb(conf, error_cb);
    }
    if (o->dr)
        rd_kafka_conf_set_dr_msg_cb(conf, o->dr);
    if (o->rebalance)
        rd_kafka_conf_set_rebalance_cb(conf, o->rebalance);
    if (o->stats)
        rd_kafka_conf_set_stats_cb(conf, o->stats);
    rd_kafka_conf_set_opaque(conf, o->opaque);
    return conf;
}

/* Creating the client is where a configuration that passed property by
 * property can still fail as a whole (conflicting security settings, say),
 * so the error names the client's role. */
rd_kafka_t *ac_kafka_client_new(rd_kafka_type_t type, const ac_kafka_opts_t *o, char *err,
                                size_t errsz)
{
    char why[512];
    rd_kafka_conf_t *conf = ac_kafka_conf_new(o, err, errsz);
    if (!conf)
        return NULL;
    rd_kafka_t *rk = rd_kafka_new(type, conf, why, sizeof(why));
    if (!rk) {
        const char *role = o->role ? o->role : type == RD_KAFKA_PRODUCER ? "producer" : "consumer";
        snprintf(err, errsz, "kafka %s: %s", role, why);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    ac_kafka_hooks_t *hooks = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t ret = RD_KAFKA_RESP_ERR_NO_ERROR;

    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            ret = rd_kafka_assign(rk, parts);
        if (hooks) {
            hooks->assigned_count = (cooperative && hooks->assigned_count > 0)
                                        ? hooks->assigned_count + parts->cnt
                                        : parts->cnt;
            if (hooks->rebalance)
                hooks->rebalance(hooks->opaque, 1, parts);
        }
        ac_log(AC_LOG_INFO, "kafka: assigned %d partition(s)", parts->cnt);
    } else {
        if (hooks && hooks->rebalance)
            hooks->rebalance(hooks->opaque, 0, parts);
        /* Stored offsets of revoked partitions are committed by librdkafka
         * as part of the unassign, since auto-commit is on. */
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            ret = rd_kafka_assign(rk, NULL);
        if (hooks)
            hooks->assigned_count = cooperative ? hooks->assigned_count - parts->cnt : 0;
        ac_log(AC_LOG_INFO, "kafka: revoked %d partition(s)", parts->cnt);
    }
    if (error) {
        ac_log(AC_LOG_ERROR, "kafka: rebalance: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (ret) {
        ac_log(AC_LOG_ERROR, "kafka: rebalance: %s", rd_kafka_err2str(ret));
    }
}

static int stats_cb(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    ac_kafka_hooks_t *hooks = opaque;
    (void)rk;
    if (hooks && hooks->stats)
        hooks->stats(hooks->stats_opaque, json, len);
    return 0; /* librdkafka frees json */
}

/* The workers' consumer: offsets are stored by the worker and committed
 * every second and on close; statistics only when someone reads them. */
rd_kafka_t *ac_kafka_consumer_new(const ac_config_t *cfg, const char *client_id, const char *topic,
                                  ac_kafka_hooks_t *hooks, char *errstr, size_t errsz)
{
    /* Prefetch 8 MiB per consumer rather than librdkafka's 64 MiB: seconds
     * of work at full speed, and a worker stays small with a backlog
     * waiting. */
    const char *const committing[] = {"group.id",
                                      ac_config_str(cfg, "KAFKA_GROUP"),
                                      "enable.auto.commit",
                                      "true",
                                      "auto.commit.interval.ms",
                                      "1000",
                                      "queued.max.messages.kbytes",
                                      "8192",
                                      NULL};
    static const char *const statistics[] = {"statistics.interval.ms", "5000", NULL};
    int stats = hooks && hooks->stats;
    ac_kafka_opts_t o = {.brokers = ac_config_str(cfg, "KAFKA_BROKERS"),
                         .client_id = client_id,
                         .settings = {committing, reading, stats ? statistics : NULL},
                         .cfg = cfg,
                         .json_log = 1,
                         .rebalance = rebalance_cb,
                         .stats = stats ? stats_cb : NULL,
                         .opaque = hooks};
    if (hooks)
        hooks->assigned_count = -1;
    rd_kafka_t *rk = ac_kafka_client_new(RD_KAFKA_CONSUMER, &o, errstr, errsz);
    if (!rk)
        return NULL;
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err) {
        snprintf(errstr, errsz, "kafka subscribe to %s: %s", topic, rd_kafka_err2str(err));
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

/* Closes in the background and serves the close queue until the consumer
 * is closed or timeout_ms passed: a plain rd_kafka_consumer_close() blocks
 * for as long as the group coordinator is unreachable, and a worker asked
 * to stop must stop within its pod's grace period. */
int ac_kafka_consumer_destroy(rd_kafka_t *rk, int timeout_ms)
{
    int closed = 1;
    if (!rk)
        return 0;
    /* Records fetched but never polled would reach the close queue, which
     * cannot hand them out (librdkafka asserts on them): pause every
     * partition, which makes such records stale, and drop what is left.
     * None of them was committed, so the next owner reads them again. */
    rd_kafka_topic_partition_list_t *assigned = NULL;
    if (rd_kafka_assignment(rk, &assigned) == RD_KAFKA_RESP_ERR_NO_ERROR && assigned) {
        rd_kafka_pause_partitions(rk, assigned);
        rd_kafka_topic_partition_list_destroy(assigned);
    }
    for (int i = 0; i < 100000; i++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 0);
        if (!m)
            break;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_error_t *error = rd_kafka_consumer_close_queue(rk, q);
    if (error) {
        ac_log(AC_LOG_WARN, "kafka: consumer close: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else {
        int64_t deadline = ac_time_mono_ms() + timeout_ms;
        while (!rd_kafka_consumer_closed(rk) && ac_time_mono_ms() < deadline)
            rd_kafka_queue_poll_callback(q, 100);
        closed = rd_kafka_consumer_closed(rk);
    }
    if (!closed) {
        /* Destroying the handle would wait for the unreachable broker
         * without bound; its memory goes with the process instead. */
        ac_log(AC_LOG_WARN, "kafka: consumer not closed within %d ms; leaving anyway", timeout_ms);
        rd_kafka_queue_destroy(q);
        return -1;
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy_flags(rk, RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    return 0;
}

/* The reader never subscribes, so it never joins the group it names and
 * never commits (auto-commit off): the group id only lets
 * rd_kafka_committed() read that group's commits, and the small fetch
 * sizes keep a peek at one record per partition cheap. */
rd_kafka_t *ac_kafka_reader_new(const ac_config_t *cfg, const char *client_id, const char *group,
                                char *errstr, size_t errsz)
{
    const char *const grouping[] = {"group.id", group, NULL};
    static const char *const peeking[] = {"enable.auto.commit",
                                          "false",
                                          "max.partition.fetch.bytes",
                                          "65536",
                                          "fetch.max.bytes",
                                          "1048576",
                                          "queued.max.messages.kbytes",
                                          "1024",
                                          NULL};
    ac_kafka_opts_t o = {.brokers = ac_config_str(cfg, "KAFKA_BROKERS"),
                         .client_id = client_id,
                         .settings = {grouping, reading, peeking},
                         .cfg = cfg,
                         .json_log = 1,
                         .role = "reader"};
    rd_kafka_t *rk = ac_kafka_client_new(RD_KAFKA_CONSUMER, &o, errstr, errsz);
    if (rk)
        rd_kafka_poll_set_consumer(rk);
    return rk;
}

rd_kafka_t *ac_kafka_producer_new(const ac_config_t *cfg, const char *client_id, ac_kafka_dr_fn dr,
                                  void *opaque, char *errstr, size_t errsz)
{
    return ac_kafka_producer_new_bounded(cfg, client_id, dr, opaque, 120000, errstr, errsz);
}

rd_kafka_t *ac_kafka_producer_new_bounded(const ac_config_t *cfg, const char *client_id,
                                          ac_kafka_dr_fn dr, void *opaque, int64_t timeout_ms,
                                          char *errstr, size_t errsz)
{
    char timeout[32];
    snprintf(timeout, sizeof(timeout), "%lld", (long long)timeout_ms);
    /* A batch is produced whole and its acknowledgement awaited before it
     * is finished: lingering would only delay that, while records produced
     * during a round trip are batched anyway. message.max.bytes leaves room for a notification
     * that wraps an event of MAX_EVENT_BYTES. */
    const char *const producing[] = {"enable.idempotence",
                                     "true",
                                     "acks",
                                     "all",
                                     "linger.ms",
                                     "1",
                                     "message.timeout.ms",
                                     timeout,
                                     "message.max.bytes",
                                     "4194304",
                                     NULL};
    ac_kafka_opts_t o = {.brokers = ac_config_str(cfg, "KAFKA_BROKERS"),
                         .client_id = client_id,
                         .settings = {producing},
                         .cfg = cfg,
                         .json_log = 1,
                         .dr = dr,
                         .opaque = opaque};
    return ac_kafka_client_new(RD_KAFKA_PRODUCER, &o, errstr, errsz);
}

void ac_kafka_producer_destroy(rd_kafka_t *rk, int timeout_ms)
{
    if (!rk)
        return;
    if (rd_kafka_flush(rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
        ac_log(AC_LOG_WARN, "kafka: %d record(s) not delivered at shutdown", rd_kafka_outq_len(rk));
    rd_kafka_destroy(rk);
}

void ac_kafka_tracker_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    ac_kafka_tracker_t *t = msg->_private;
    if (!t)
        return;
    t->pending--;
    if (msg->err) {
        t->failed++;
        t->last_err = msg->err;
    }
}

rd_kafka_resp_err_t ac_kafka_produce(rd_kafka_t *rk, const char *topic, const void *key,
                                     size_t keylen, const void *value, size_t len,
                                     rd_kafka_headers_t *headers, void *msg_opaque)
{
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, keylen),
            RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return err;
        /* Back-pressure: serve delivery reports to make room, then retry. */
        rd_kafka_poll(rk, 50);
    }
}

static void header_add_str(rd_kafka_headers_t *h, const char *name, const char *value)
{
    rd_kafka_header_add(h, name, -1, value ? value : "", -1);
}

rd_kafka_resp_err_t ac_kafka_produce_dlq(rd_kafka_t *rk, const char *dlq_topic,
                                         const rd_kafka_message_t *src, const char *reason,
                                         const char *detail, const char *worker, void *msg_opaque)
{
    rd_kafka_headers_t *orig = NULL;
    rd_kafka_headers_t *h = NULL;
    char num[32], ts[AC_TIME_BUFSZ];

    if (rd_kafka_message_headers(src, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR && orig)
        h = rd_kafka_headers_copy(orig);
    else
        h = rd_kafka_headers_new(8);
    header_add_str(h, "ac-dlq-reason", reason);
    header_add_str(h, "ac-dlq-detail", detail);
    header_add_str(h, "ac-source-topic", rd_kafka_topic_name(src->rkt));
    snprintf(num, sizeof(num), "%d", (int)src->partition);
    header_add_str(h, "ac-source-partition", num);
    snprintf(num, sizeof(num), "%lld", (long long)src->offset);
    header_add_str(h, "ac-source-offset", num);
    header_add_str(h, "ac-dlq-worker", worker);
    ac_time_format(ac_time_now_ms(), ts, sizeof(ts));
    header_add_str(h, "ac-dlq-at", ts);

    rd_kafka_resp_err_t err = ac_kafka_produce(rk, dlq_topic, src->key, src->key_len, src->payload,
                                               src->len, h, msg_opaque);
    if (err)
        rd_kafka_headers_destroy(h); /* on success the record owns them */
    return err;
}

int ac_kafka_wait(rd_kafka_t *rk, ac_kafka_tracker_t *tracker, int timeout_ms)
{
    int64_t deadline = ac_time_mono_ms() + timeout_ms;
    while (tracker->pending > 0) {
        int64_t left = deadline - ac_time_mono_ms();
        if (left <= 0)
            return -1;
        rd_kafka_poll(rk, left > 100 ? 100 : (int)left);
    }
    return 0;
}

int ac_kafka_abandon(rd_kafka_t *rk, ac_kafka_tracker_t *tracker)
{
    if (tracker->pending <= 0)
        return 0;
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    /* Purged records are reported at once; the bound only guards against a
     * report that never comes, which would leave the tracker referenced. */
    if (ac_kafka_wait(rk, tracker, 10000) < 0) {
        ac_log(AC_LOG_ERROR, "kafka: %d delivery report(s) never came after a purge",
               tracker->pending);
        return -1;
    }
    return 0;
}

int ac_kafka_has_header(const rd_kafka_message_t *msg, const char *name)
{
    rd_kafka_headers_t *h = NULL;
    const void *value;
    size_t size;
    return rd_kafka_message_headers(msg, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
           rd_kafka_header_get_last(h, name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
}
