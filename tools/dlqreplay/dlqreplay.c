/*
 * ac-dlq-replay: puts dead-lettered customer messages back on the
 * notifications topic once whatever made them fail has been fixed, without
 * sending any of them twice (docs/dlq-replay.md).
 *
 * It reads notifications.dlq as a member of its own consumer group, so that
 * a second run starts where the first one stopped, and for every record
 * decides: outside the filters, not a valid notification, already sent (the
 * sent mark notify-worker writes in Redis exists), or to be replayed. A
 * replay is the original key and value, produced to the target topic and
 * acknowledged by Kafka before the dead letter's offset is committed.
 * notify-worker then delivers it as usual: its claim on the message id is
 * what makes a replay safe even when the same message reaches it twice.
 */
#include <ctype.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "duration.h"
#include "kafka.h"
#include "log.h"
#include "message.h"
#include "redis.h"
#include "redis_url.h"
#include "timeutil.h"
#include "tool_cli.h"

#ifndef AC_VERSION
#define AC_VERSION "0.0.0"
#endif

#define PROG             "ac-dlq-replay"
#define EXIT_OK          0
#define EXIT_RUNTIME     1
#define EXIT_USAGE       2
#define BATCH_MAX        500
#define MAX_FILTERS      64
#define MAX_PROPS        64
#define REDIS_TIMEOUT_MS 5000
#define QUERY_TIMEOUT_MS 10000
#define CLOSE_TIMEOUT_MS 10000
/* A delivery report comes within message.timeout.ms (set below); the margin
 * only guards against a report that never comes. */
#define MESSAGE_TIMEOUT_MS "120000"
#define ACK_TIMEOUT_MS     130000
/* notify-worker's own limit on a notification record: what it cannot read
 * is not a notification for this tool either. */
#define MAX_RECORD_BYTES (4 * 1024 * 1024)
#define DLQ_HEADER       "ac-dlq-"
#define REPLAYED_HEADER  AC_KAFKA_REPLAYED_HEADER

typedef struct options {
    const char *brokers;
    const char *redis_url;
    const char *redis_cluster; /* REDIS_CLUSTER, NULL: auto */
    ac_redis_cluster_t cluster;
    const char *dlq_topic;
    const char *topic;
    const char *group;
    const char *reasons[MAX_FILTERS];
    size_t n_reasons;
    const char *ids[MAX_FILTERS];
    size_t n_ids;
    int64_t since_ms, until_ms; /* ac-dlq-at window [since, until); 0 = open */
    int has_since, has_until;
    int64_t timeout_ms;
    int from_beginning;
    int include_invalid;
    int dry_run;
    int log_level;
    const char *prop_names[MAX_PROPS]; /* librdkafka pass-through, applied last */
    const char *prop_values[MAX_PROPS];
    size_t n_props;
    char *prop_storage[MAX_PROPS]; /* owned copies the names and values point into */
} options_t;

typedef struct counts {
    long replayed;
    long skipped_sent;
    long skipped_filtered;
    long invalid;
} counts_t;

/* One partition of the dead-letter topic. end is its high watermark when
 * the run started: what arrives later (a replay that failed again, say) is
 * left for the next run, so a provider that still refuses cannot keep one
 * run going in circles. gen changes whenever the partition is revoked, so
 * records polled before a rebalance are recognised and dropped. */
typedef struct part {
    int64_t end;
    int assigned;
    int done;
    int started; /* assigned at least once in this run */
    unsigned gen;
} part_t;

typedef enum verdict {
    V_DROPPED,  /* its partition was revoked meanwhile: the new owner reads it */
    V_FILTERED, /* outside --reason / --since / --until / --id */
    V_INVALID,  /* not a valid notification, and --include-invalid not given */
    V_SENT,     /* the message was sent meanwhile */
    V_REPLAY,
} verdict_t;

typedef struct item {
    rd_kafka_message_t *msg;
    unsigned gen;
    verdict_t verdict;
    int has_id;
    char id[AC_MESSAGE_ID_LEN];
    char kind[32];
    char reason[64];
    char at[AC_TIME_BUFSZ + 8];
} item_t;

typedef struct replay {
    const options_t *o;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
    ac_redis_t *redis;
    part_t *parts;
    int n_parts;
    counts_t counts;
    int64_t deadline; /* monotonic ms: the whole run, start-up included */
} replay_t;

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: " PROG " --brokers B [options]\n"
                "Replays dead-lettered notifications to the notifications topic, skipping\n"
                "those Redis records as sent. Prints replayed=N skipped_sent=N\n"
                "skipped_filtered=N invalid=N; exits 0, 1 on failure, 2 on bad arguments.\n"
                "  --brokers B          Kafka bootstrap servers (default $KAFKA_BROKERS)\n"
                "  --redis URL          redis://[:password@]host:port[,host:port...][/db]\n"
                "                       (default $REDIS_URL, else redis://127.0.0.1:6379/0);\n"
                "                       $REDIS_CLUSTER (auto, on or off) as for the workers\n"
                "  --dlq-topic T        where to read dead letters (default notifications.dlq)\n"
                "  --topic T            where to replay them (default notifications)\n"
                "  --group G            consumer group keeping the position (default\n"
                "                       aftercare-dlq-replay)\n"
                "  --from-beginning     start at the oldest dead letter, not the group's position\n"
                "  --reason R[,R...]    only dead letters with this ac-dlq-reason (repeatable)\n"
                "  --since TIME         only those dead-lettered at or after TIME (RFC 3339)\n"
                "  --until TIME         only those dead-lettered before TIME (RFC 3339)\n"
                "  --id MSG_ID          only this message id (repeatable)\n"
                "  --include-invalid    also replay records that are not valid notifications\n"
                "  --dry-run            list what would be replayed; change nothing\n"
                "  --timeout DURATION   give up after this long, e.g. 30s, 10m (default 5m)\n"
                "  --rdkafka NAME=VALUE any librdkafka property (repeatable; also RDKAFKA_*)\n"
                "  --log-level L        debug, info, warn, error (default $LOG_LEVEL, else info)\n"
                "  --help | --version\n");
}

/* Bad arguments end in exactly one line naming what to fix. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs(PROG ": ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

static void free_options(options_t *o)
{
    for (size_t i = 0; i < o->n_props; i++)
        free(o->prop_storage[i]);
    o->n_props = 0;
}

/* Adds or replaces a librdkafka property; the last one given wins, as in
 * the workers. It is tried on a scratch configuration so that a misspelt
 * property is a usage error, not a failure halfway through a run. */
static int add_prop(options_t *o, const char *name, size_t namelen, const char *value,
                    const char *origin)
{
    char why[256];
    char *copy = malloc(namelen + 1 + strlen(value) + 1);
    if (!copy)
        return usage_error("out of memory");
    memcpy(copy, name, namelen);
    copy[namelen] = '\0';
    char *val = copy + namelen + 1;
    strcpy(val, value);
    rd_kafka_conf_t *scratch = rd_kafka_conf_new();
    rd_kafka_conf_res_t res = rd_kafka_conf_set(scratch, copy, val, why, sizeof(why));
    rd_kafka_conf_destroy(scratch);
    if (res != RD_KAFKA_CONF_OK) {
        usage_error("%s %s: %s", origin, copy, why);
        free(copy);
        return -1;
    }
    for (size_t i = 0; i < o->n_props; i++) {
        if (strcmp(o->prop_names[i], copy) == 0) {
            free(o->prop_storage[i]);
            o->prop_storage[i] = copy;
            o->prop_names[i] = copy;
            o->prop_values[i] = val;
            return 0;
        }
    }
    if (o->n_props == MAX_PROPS) {
        free(copy);
        return usage_error("too many librdkafka properties (at most %d)", MAX_PROPS);
    }
    o->prop_storage[o->n_props] = copy;
    o->prop_names[o->n_props] = copy;
    o->prop_values[o->n_props++] = val;
    return 0;
}

/* RDKAFKA_SASL_MECHANISMS=PLAIN -> sasl.mechanisms, "__" standing for "_":
 * the spelling every aftercare worker accepts. */
static int env_props(options_t *o, char **envp)
{
    for (char **e = envp; e && *e; e++) {
        if (strncmp(*e, "RDKAFKA_", 8) != 0)
            continue;
        const char *eq = strchr(*e, '=');
        const char *src = *e + 8;
        char name[256];
        size_t n = 0;
        if (!eq || eq == src)
            continue;
        for (const char *p = src; p < eq && n + 1 < sizeof(name); p++) {
            if (p[0] == '_' && p + 1 < eq && p[1] == '_') {
                name[n++] = '_';
                p++;
            } else {
                name[n++] = p[0] == '_' ? '.' : (char)tolower((unsigned char)p[0]);
            }
        }
        if (add_prop(o, name, n, eq + 1, "environment property") < 0)
            return -1;
    }
    return 0;
}

/* Splits "a,b" into the filter list; empty items are a mistake. */
static int add_filters(const char **list, size_t *n, char *arg, const char *flag)
{
    char *save = NULL;
    if (*arg == '\0' || arg[0] == ',' || arg[strlen(arg) - 1] == ',' || strstr(arg, ",,"))
        return usage_error("%s: expected a comma-separated list of names, got '%s'", flag, arg);
    for (char *tok = strtok_r(arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (*n == MAX_FILTERS)
            return usage_error("%s: at most %d values", flag, MAX_FILTERS);
        list[(*n)++] = tok;
    }
    return 0;
}

/* What a run uses when no flag says otherwise: the environment the workers
 * read (KAFKA_BROKERS, REDIS_URL, REDIS_CLUSTER, LOG_LEVEL, RDKAFKA_*) and
 * the topics and group of a standard deployment. Returns 0, or -1 after a
 * usage error. */
static int parse_defaults(char **envp, options_t *o, const char **level)
{
    o->brokers = getenv("KAFKA_BROKERS");
    o->redis_url = getenv("REDIS_URL");
    if (!o->redis_url || !*o->redis_url)
        o->redis_url = "redis://127.0.0.1:6379/0";
    o->redis_cluster = getenv("REDIS_CLUSTER");
    o->dlq_topic = "notifications.dlq";
    o->topic = "notifications";
    o->group = "aftercare-dlq-replay";
    *level = getenv("LOG_LEVEL");
    if (!*level || !**level)
        *level = "info";
    return env_props(o, envp);
}

/* The options choosing which dead letters a run replays: --reason,
 * --since, --until, --id, --include-invalid and --dry-run. Returns 0, -1
 * after a usage error, or 1 for an option that is not one of these. */
static int parse_filter_option(int c, char *arg, options_t *o)
{
    switch (c) {
    case 'R':
        return add_filters(o->reasons, &o->n_reasons, arg, "--reason");
    case 's':
        if (ac_time_parse(arg, &o->since_ms) < 0)
            return usage_error("--since: expected an RFC 3339 time, got '%s'", arg);
        o->has_since = 1;
        return 0;
    case 'u':
        if (ac_time_parse(arg, &o->until_ms) < 0)
            return usage_error("--until: expected an RFC 3339 time, got '%s'", arg);
        o->has_until = 1;
        return 0;
    case 'i':
        if (!ac_message_id_valid(arg))
            return usage_error("--id: expected a message id (msg_ and 32 hex digits), got '%s'",
                               arg);
        if (o->n_ids == MAX_FILTERS)
            return usage_error("--id: at most %d values", MAX_FILTERS);
        o->ids[o->n_ids++] = arg;
        return 0;
    case 'I':
        o->include_invalid = 1;
        return 0;
    case 'n':
        o->dry_run = 1;
        return 0;
    default:
        return 1;
    }
}

/* The options saying where to read and write: --brokers, --redis,
 * --dlq-topic, --topic, --group, --from-beginning and --rdkafka. Returns 0,
 * -1 after a usage error, or 1 for an option that is not one of these. */
static int parse_place_option(int c, char *arg, options_t *o)
{
    const char *eq;

    switch (c) {
    case 'b':
        o->brokers = arg;
        return 0;
    case 'r':
        o->redis_url = arg;
        return 0;
    case 'd':
        o->dlq_topic = arg;
        return 0;
    case 't':
        o->topic = arg;
        return 0;
    case 'g':
        o->group = arg;
        return 0;
    case 'B':
        o->from_beginning = 1;
        return 0;
    case 'k':
        eq = strchr(arg, '=');
        if (!eq || eq == arg)
            return usage_error("--rdkafka: expected NAME=VALUE, got '%s'", arg);
        return add_prop(o, arg, (size_t)(eq - arg), eq + 1, "--rdkafka");
    default:
        return 1;
    }
}

/* Checks what the options say together, before anything is contacted: a
 * mistake costs one line, not a half-done run. Returns 0 or -1. */
static int check_options(options_t *o, const char *timeout, const char *level)
{
    char why[256];
    ac_redis_url_t url;

    if (!o->brokers || !*o->brokers)
        return usage_error("--brokers (or KAFKA_BROKERS) is required");
    if (ac_config_validate_topic(o->dlq_topic, why, sizeof(why)) < 0)
        return usage_error("--dlq-topic '%s': %s", o->dlq_topic, why);
    if (ac_config_validate_topic(o->topic, why, sizeof(why)) < 0)
        return usage_error("--topic '%s': %s", o->topic, why);
    if (strcmp(o->topic, o->dlq_topic) == 0)
        return usage_error("--topic and --dlq-topic are both '%s'", o->topic);
    if (!*o->group)
        return usage_error("--group: must not be empty");
    if (ac_redis_url_parse(o->redis_url, &url, why, sizeof(why)) < 0)
        return usage_error("--redis: %s", why);
    if (o->redis_cluster && *o->redis_cluster &&
        ac_redis_cluster_parse(o->redis_cluster, &o->cluster, why, sizeof(why)) < 0)
        return usage_error("invalid setting REDIS_CLUSTER=%s: %s", o->redis_cluster, why);
    if (o->has_since && o->has_until && o->since_ms >= o->until_ms)
        return usage_error("--since must be earlier than --until");
    if (ac_duration_parse(timeout, &o->timeout_ms) < 0 || o->timeout_ms <= 0)
        return usage_error("--timeout: expected a positive duration such as 30s or 10m, got "
                           "'%s'",
                           timeout);
    o->log_level = ac_log_level_parse(level);
    if (o->log_level < 0)
        return usage_error("--log-level: expected debug, info, warn or error, got '%s'", level);
    return 0;
}

/* Returns 0 to run, 1 when --help or --version was printed, -1 after one
 * line on stderr. */
static int parse_args(int argc, char **argv, char **envp, options_t *o)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},   {"redis", required_argument, NULL, 'r'},
        {"dlq-topic", required_argument, NULL, 'd'}, {"topic", required_argument, NULL, 't'},
        {"group", required_argument, NULL, 'g'},     {"from-beginning", no_argument, NULL, 'B'},
        {"reason", required_argument, NULL, 'R'},    {"since", required_argument, NULL, 's'},
        {"until", required_argument, NULL, 'u'},     {"id", required_argument, NULL, 'i'},
        {"include-invalid", no_argument, NULL, 'I'}, {"dry-run", no_argument, NULL, 'n'},
        {"timeout", required_argument, NULL, 'T'},   {"rdkafka", required_argument, NULL, 'k'},
        {"log-level", required_argument, NULL, 'l'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},         {NULL, 0, NULL, 0},
    };
    const char *timeout = "5m", *level;
    int c, rc;

    if (parse_defaults(envp, o, &level) < 0)
        return -1;
    while ((c = ac_tool_getopt(argc, argv, longopts, "unknown option (see --help)")) != -1) {
        if (c == '?')
            return -1;
        if (c == 'h') {
            usage(stdout);
            return 1;
        }
        if (c == 'V') {
            printf(PROG " " AC_VERSION " (librdkafka %s)\n", rd_kafka_version_str());
            return 1;
        }
        rc = 0;
        if (c == 'T')
            timeout = optarg;
        else if (c == 'l')
            level = optarg;
        else if ((rc = parse_place_option(c, optarg, o)) > 0)
            rc = parse_filter_option(c, optarg, o);
        if (rc < 0)
            return -1;
    }
    if (ac_tool_no_operands(argc, argv) < 0)
        return -1;
    return check_options(o, timeout, level);
}

/* ------------------------------------------------------------------ kafka */

/* How long a start-up query may wait: its own bound, within the run's. */
static int query_timeout(const replay_t *rp)
{
    int64_t left = rp->deadline - ac_time_mono_ms();
    return left < 1 ? 1 : left > QUERY_TIMEOUT_MS ? QUERY_TIMEOUT_MS : (int)left;
}

/* The partition count of topic, or -1 with err. Metadata is asked for all
 * topics: naming the topic would make an auto-creating broker create it,
 * and a misspelt --dlq-topic must fail, not yield an empty new topic. */
static int partition_count(const replay_t *rp, const char *topic, char *err, size_t errsz)
{
    const struct rd_kafka_metadata *md = NULL;
    int count = -1;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rp->producer, 1, NULL, &md, query_timeout(rp));
    if (e) {
        snprintf(err, errsz, "kafka metadata: %s", rd_kafka_err2str(e));
        goto out;
    }
    for (int i = 0; i < md->topic_cnt; i++) {
        if (strcmp(md->topics[i].topic, topic) != 0)
            continue;
        if (md->topics[i].err)
            snprintf(err, errsz, "topic %s: %s", topic, rd_kafka_err2str(md->topics[i].err));
        else if (md->topics[i].partition_cnt <= 0)
            snprintf(err, errsz, "topic %s has no partitions", topic);
        else
            count = md->topics[i].partition_cnt;
        goto out;
    }
    snprintf(err, errsz, "topic %s does not exist", topic);
out:
    if (md)
        rd_kafka_metadata_destroy(md);
    return count;
}

/* Tracks which dead-letter partitions are ours. On a first assignment with
 * --from-beginning the partition starts at its oldest record; later ones
 * (after a rebalance) resume from what this run committed. */
static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    replay_t *rp = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    int assign = err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t ret = RD_KAFKA_RESP_ERR_NO_ERROR;

    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        if (tp->partition < 0 || tp->partition >= rp->n_parts)
            continue; /* added after the run started: left for the next run */
        part_t *pt = &rp->parts[tp->partition];
        if (assign) {
            if (rp->o->from_beginning && !pt->started)
                tp->offset = RD_KAFKA_OFFSET_BEGINNING;
            pt->started = 1;
            pt->assigned = 1;
        } else if (pt->assigned) {
            pt->gen++;
            pt->assigned = 0;
        }
    }
    if (cooperative)
        error = assign ? rd_kafka_incremental_assign(rk, parts)
                       : rd_kafka_incremental_unassign(rk, parts);
    else
        ret = rd_kafka_assign(rk, assign ? parts : NULL);
    ac_log(AC_LOG_INFO, "kafka: %s %d partition(s) of %s", assign ? "assigned" : "revoked",
           parts->cnt, rp->o->dlq_topic);
    if (error) {
        ac_log(AC_LOG_ERROR, "kafka: rebalance: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (ret) {
        ac_log(AC_LOG_ERROR, "kafka: rebalance: %s", rd_kafka_err2str(ret));
    }
}

/* A client with the workers' builder (common/kafka.c): same way to the
 * brokers, librdkafka's messages in the same JSON log. settings is the
 * role's NULL-terminated name/value list; the pass-through properties
 * follow it and win. Returns NULL with err. */
static rd_kafka_t *client_new(replay_t *rp, rd_kafka_type_t type, const char *const *settings,
                              char *err, size_t errsz)
{
    const options_t *o = rp->o;
    ac_kafka_opts_t ko = {.brokers = o->brokers,
                          .client_id = PROG,
                          .settings = {settings},
                          .prop_names = o->prop_names,
                          .prop_values = o->prop_values,
                          .n_props = o->n_props,
                          .json_log = 1};
    if (type == RD_KAFKA_PRODUCER) {
        ko.dr = ac_kafka_tracker_dr;
    } else {
        ko.rebalance = rebalance_cb;
        ko.opaque = rp;
    }
    return ac_kafka_client_new(type, &ko, err, errsz);
}

/* The producer, which also answers the start-up questions: both topics
 * exist, and where each dead-letter partition ends now (a run replays up to
 * there, not what is dead-lettered while it runs). Returns 0 or -1 with
 * err. */
static int open_producer(replay_t *rp, char *err, size_t errsz)
{
    const options_t *o = rp->o;
    /* As the workers' producers (common/kafka.c): idempotent with acks=all,
     * so librdkafka's retries never duplicate a replay, and room for a
     * notification that wraps a large event. */
    const char *const producer_settings[] = {
        "enable.idempotence",
        "true",
        "acks",
        "all",
        "linger.ms",
        "5",
        "message.timeout.ms",
        MESSAGE_TIMEOUT_MS,
        "message.max.bytes",
        "4194304",
        NULL,
    };

    if (!(rp->producer = client_new(rp, RD_KAFKA_PRODUCER, producer_settings, err, errsz)))
        return -1;
    rp->n_parts = partition_count(rp, o->dlq_topic, err, errsz);
    if (rp->n_parts < 0 || partition_count(rp, o->topic, err, errsz) < 0)
        return -1;
    rp->parts = calloc((size_t)rp->n_parts, sizeof(*rp->parts));
    if (!rp->parts) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (int p = 0; p < rp->n_parts; p++) {
        int64_t low;
        rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(
            rp->producer, o->dlq_topic, p, &low, &rp->parts[p].end, query_timeout(rp));
        if (e) {
            snprintf(err, errsz, "watermarks of %s/%d: %s", o->dlq_topic, p, rd_kafka_err2str(e));
            return -1;
        }
    }
    return 0;
}

/* The consumer, subscribed to the dead-letter topic in the run's group.
 * Auto-commit is off: the position moves only by the explicit commit after
 * Kafka acknowledged the replays, and never in a dry run. A run that was
 * killed holds its partitions until its session times out, so the session
 * is shorter than librdkafka's 45 s: the next run need not wait that long.
 * Returns 0 or -1 with err. */
static int open_consumer(replay_t *rp, char *err, size_t errsz)
{
    const options_t *o = rp->o;
    const char *const consumer_settings[] = {
        "group.id",
        o->group,
        "enable.auto.commit",
        "false",
        "enable.auto.offset.store",
        "false",
        "auto.offset.reset",
        "earliest",
        "enable.partition.eof",
        "true",
        "session.timeout.ms",
        "10000",
        NULL,
    };
    rd_kafka_topic_partition_list_t *sub = NULL;
    int rc = -1;

    if (!(rp->consumer = client_new(rp, RD_KAFKA_CONSUMER, consumer_settings, err, errsz)))
        goto out;
    rd_kafka_poll_set_consumer(rp->consumer);
    sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, o->dlq_topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rp->consumer, sub);
    if (e) {
        snprintf(err, errsz, "kafka subscribe to %s: %s", o->dlq_topic, rd_kafka_err2str(e));
        goto out;
    }
    rc = 0;
out:
    if (sub)
        rd_kafka_topic_partition_list_destroy(sub);
    return rc;
}

/* Sets up both clients, checks the topics exist and Redis answers, and
 * notes where each dead-letter partition ends now. */
static int open_clients(replay_t *rp, char *err, size_t errsz)
{
    if (open_producer(rp, err, errsz) < 0)
        return -1;
    /* Without the sent marks a replay could not tell what went out
     * meanwhile: no Redis, no run. */
    rp->redis = ac_redis_new(rp->o->redis_url, REDIS_TIMEOUT_MS, err, errsz);
    if (!rp->redis)
        return -1;
    ac_redis_set_cluster(rp->redis, rp->o->cluster);
    if (ac_redis_connect(rp->redis, err, errsz) < 0)
        return -1;
    return open_consumer(rp, err, errsz);
}

/* True once every partition we hold has been read to where it ended when
 * the run started. */
static int all_done(const replay_t *rp)
{
    int held = 0;
    for (int p = 0; p < rp->n_parts; p++) {
        if (!rp->parts[p].assigned)
            continue;
        held++;
        if (!rp->parts[p].done)
            return 0;
    }
    return held > 0;
}

/* Stops fetching a partition that reached its end: what follows is for
 * the next run. */
static void finish_partition(replay_t *rp, int32_t p)
{
    rd_kafka_topic_partition_list_t *l;
    if (rp->parts[p].done)
        return;
    rp->parts[p].done = 1;
    l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, rp->o->dlq_topic, p);
    rd_kafka_pause_partitions(rp->consumer, l);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Fatal for the run: nothing a retry within it would fix. */
static int fatal_consume_error(rd_kafka_resp_err_t e)
{
    return e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
           e == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED ||
           e == RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED || e == RD_KAFKA_RESP_ERR__FATAL ||
           e == RD_KAFKA_RESP_ERR__MAX_POLL_EXCEEDED;
}

/* Polls up to BATCH_MAX dead letters: waits up to 100 ms for the first,
 * then takes whatever is already there. */
static int collect(replay_t *rp, item_t *batch, size_t *n, char *err, size_t errsz)
{
    *n = 0;
    while (*n < BATCH_MAX) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rp->consumer, *n == 0 ? 100 : 0);
        if (!msg)
            break;
        int32_t p = msg->partition;
        int ours = p >= 0 && p < rp->n_parts && rp->parts[p].assigned;
        if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (ours)
                finish_partition(rp, p);
            rd_kafka_message_destroy(msg);
            continue;
        }
        if (msg->err) {
            int fatal = fatal_consume_error(msg->err);
            snprintf(err, errsz, "consuming %s: %s", rp->o->dlq_topic,
                     rd_kafka_message_errstr(msg));
            rd_kafka_message_destroy(msg);
            if (fatal)
                return -1;
            ac_log(AC_LOG_WARN, "%s", err);
            continue;
        }
        if (!ours || rp->parts[p].done || msg->offset >= rp->parts[p].end) {
            if (ours)
                finish_partition(rp, p);
            rd_kafka_message_destroy(msg);
            continue;
        }
        memset(&batch[*n], 0, sizeof(batch[*n]));
        batch[*n].msg = msg;
        batch[*n].gen = rp->parts[p].gen;
        (*n)++;
    }
    return 0;
}

/* ---------------------------------------------------------------- records */

/* Copies the last header called name as text; returns 0, or -1 when the
 * record has none. Controls and spaces become '?' so that the value can be
 * shown in one line of the dry-run listing. */
static int header_text(const rd_kafka_message_t *msg, const char *name, char *buf, size_t bufsz)
{
    rd_kafka_headers_t *h = NULL;
    const void *val = NULL;
    size_t size = 0, i;
    buf[0] = '\0';
    if (rd_kafka_message_headers(msg, &h) != RD_KAFKA_RESP_ERR_NO_ERROR || !h ||
        rd_kafka_header_get_last(h, name, &val, &size) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return -1;
    for (i = 0; val && i < size && i + 1 < bufsz; i++) {
        unsigned char ch = ((const unsigned char *)val)[i];
        buf[i] = ch <= ' ' || ch == 0x7f ? '?' : (char)ch;
    }
    buf[i] = '\0';
    return 0;
}

static int in_list(const char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

/* Decides what a dead letter is, short of asking Redis whether it was
 * sent: V_FILTERED, V_INVALID or (for now) V_REPLAY. */
static void classify(const replay_t *rp, item_t *it)
{
    const options_t *o = rp->o;
    const rd_kafka_message_t *msg = it->msg;
    ac_event_error_t why;
    int64_t at_ms = 0;

    header_text(msg, "ac-dlq-reason", it->reason, sizeof(it->reason));
    int has_at = header_text(msg, "ac-dlq-at", it->at, sizeof(it->at)) == 0 &&
                 ac_time_parse(it->at, &at_ms) == 0;
    snprintf(it->kind, sizeof(it->kind), "-");

    if (o->n_reasons && !in_list(o->reasons, o->n_reasons, it->reason)) {
        it->verdict = V_FILTERED;
        return;
    }
    /* A dead letter without a readable time cannot be shown to lie in the
     * window asked for. */
    if ((o->has_since || o->has_until) && (!has_at || (o->has_since && at_ms < o->since_ms) ||
                                           (o->has_until && at_ms >= o->until_ms))) {
        it->verdict = V_FILTERED;
        return;
    }
    ac_message_t *m =
        msg->payload ? ac_message_decode(msg->payload, msg->len, MAX_RECORD_BYTES, &why) : NULL;
    if (m) {
        it->has_id = 1;
        memcpy(it->id, m->id, sizeof(it->id));
        snprintf(it->kind, sizeof(it->kind), "%s", ac_kind_name(m->kind));
        ac_message_destroy(m);
    }
    if (o->n_ids && (!it->has_id || !in_list(o->ids, o->n_ids, it->id))) {
        it->verdict = V_FILTERED;
        return;
    }
    /* notify-worker's verdict stands even if this build could read the
     * record: replaying what it could not read only sends it back here. */
    if ((!it->has_id || strcmp(it->reason, "invalid_notification") == 0) && !o->include_invalid) {
        it->verdict = V_INVALID;
        return;
    }
    it->verdict = V_REPLAY;
}

/* Marks batch[item] sent when its sent mark exists. */
static int sent_reply(void *ctx, size_t item, const redisReply *r, char *err, size_t errsz)
{
    item_t *batch = ctx;
    if (r->type != REDIS_REPLY_INTEGER) {
        snprintf(err, errsz, "redis: EXISTS: unexpected reply");
        return -1;
    }
    if (r->integer > 0)
        batch[item].verdict = V_SENT;
    return 0;
}

/* Asks Redis, in one round trip, which candidates were sent meanwhile:
 * notify-worker's sent mark ac:m:{<id>} (common/dedup.c). The library only
 * offers a claim, which would take a lease and make notify-worker wait for
 * it; a replay needs nothing but a look. */
static int check_sent(replay_t *rp, item_t *batch, size_t n, char *err, size_t errsz)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (batch[i].verdict == V_REPLAY && batch[i].has_id)
            k++;
    if (k == 0)
        return 0;
    ac_redis_batch_t *b = ac_redis_batch_begin(rp->redis, sent_reply, batch, err, errsz);
    if (!b)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (batch[i].verdict == V_REPLAY && batch[i].has_id)
            ac_redis_batch_command(b, i, "EXISTS ac:m:{%s}", batch[i].id);
    return ac_redis_batch_exec(b, err, errsz);
}

/* The original headers without the dead-letter ones, plus where the replay
 * came from. */
static rd_kafka_headers_t *replay_headers(const replay_t *rp, const rd_kafka_message_t *msg)
{
    rd_kafka_headers_t *orig = NULL;
    const char *name;
    const void *val;
    size_t size;
    char from[320];

    if (rd_kafka_message_headers(msg, &orig) != RD_KAFKA_RESP_ERR_NO_ERROR)
        orig = NULL;
    rd_kafka_headers_t *h = rd_kafka_headers_new(orig ? rd_kafka_header_cnt(orig) + 1 : 1);
    for (size_t i = 0;
         orig && rd_kafka_header_get_all(orig, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         i++) {
        if (strncmp(name, DLQ_HEADER, strlen(DLQ_HEADER)) != 0)
            rd_kafka_header_add(h, name, -1, val, val ? (ssize_t)size : 0);
    }
    snprintf(from, sizeof(from), "%s/%d/%lld", rp->o->dlq_topic, (int)msg->partition,
             (long long)msg->offset);
    rd_kafka_header_add(h, REPLAYED_HEADER, -1, from, -1);
    return h;
}

/* Produces every V_REPLAY record and waits until Kafka acknowledged all of
 * them. On failure nothing of the batch is committed: the next run replays
 * it again, and notify-worker's claim drops whichever copy comes second. */
static int produce_batch(replay_t *rp, item_t *batch, size_t n, char *err, size_t errsz)
{
    ac_kafka_tracker_t trk = {0, 0, RD_KAFKA_RESP_ERR_NO_ERROR};
    long produced = 0;
    int rc = -1;

    for (size_t i = 0; i < n; i++) {
        const rd_kafka_message_t *msg = batch[i].msg;
        if (batch[i].verdict != V_REPLAY)
            continue;
        rd_kafka_headers_t *h = replay_headers(rp, msg);
        rd_kafka_resp_err_t e = ac_kafka_produce(rp->producer, rp->o->topic, msg->key, msg->key_len,
                                                 msg->payload, msg->len, h, &trk);
        if (e) {
            rd_kafka_headers_destroy(h); /* on success the record owns them */
            snprintf(err, errsz, "producing %s/%d/%lld to %s: %s", rp->o->dlq_topic,
                     (int)msg->partition, (long long)msg->offset, rp->o->topic,
                     rd_kafka_err2str(e));
            goto out;
        }
        trk.pending++;
        produced++;
    }
    if (ac_kafka_wait(rp->producer, &trk, ACK_TIMEOUT_MS) < 0) {
        snprintf(err, errsz, "Kafka did not acknowledge %d replay(s) within %d s", trk.pending,
                 ACK_TIMEOUT_MS / 1000);
        goto out;
    }
    if (trk.failed) {
        snprintf(err, errsz, "%d of %ld replay(s) to %s failed: %s", trk.failed, produced,
                 rp->o->topic, rd_kafka_err2str(trk.last_err));
        goto out;
    }
    rc = 0;
out:
    /* No report may reach trk once this returns. */
    ac_kafka_abandon(rp->producer, &trk);
    return rc;
}

/* Commits, per partition, one past the last record of the batch: every
 * record read is settled for this group, whatever was decided about it. */
static int commit_batch(replay_t *rp, const item_t *batch, size_t n, char *err, size_t errsz)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(rp->n_parts);
    int rc = -1;

    for (size_t i = 0; i < n; i++) {
        const rd_kafka_message_t *msg = batch[i].msg;
        if (batch[i].verdict == V_DROPPED)
            continue;
        rd_kafka_topic_partition_t *tp =
            rd_kafka_topic_partition_list_find(l, rp->o->dlq_topic, msg->partition);
        if (!tp)
            tp = rd_kafka_topic_partition_list_add(l, rp->o->dlq_topic, msg->partition);
        if (msg->offset + 1 > tp->offset)
            tp->offset = msg->offset + 1;
    }
    if (l->cnt == 0) {
        rc = 0;
        goto out;
    }
    rd_kafka_resp_err_t e = rd_kafka_commit(rp->consumer, l, 0);
    if (e) {
        snprintf(err, errsz, "committing %s offsets for group %s: %s", rp->o->dlq_topic,
                 rp->o->group, rd_kafka_err2str(e));
        goto out;
    }
    rc = 0;
out:
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

static void report(replay_t *rp, const item_t *it)
{
    const rd_kafka_message_t *msg = it->msg;
    ac_log_ctx_t ctx = {rp->o->dlq_topic, msg->partition, msg->offset, NULL,
                        it->has_id ? it->id : NULL};
    switch (it->verdict) {
    case V_DROPPED:
        break;
    case V_FILTERED:
        rp->counts.skipped_filtered++;
        ac_log_at(AC_LOG_DEBUG, &ctx, "outside the filters (reason %s, dead-lettered at %s)",
                  it->reason, it->at);
        break;
    case V_INVALID:
        rp->counts.invalid++;
        ac_log_at(AC_LOG_INFO, &ctx, "not a valid notification (reason %s): not replayed",
                  it->reason);
        break;
    case V_SENT:
        rp->counts.skipped_sent++;
        ac_log_at(AC_LOG_INFO, &ctx, "already sent: not replayed");
        break;
    case V_REPLAY:
        rp->counts.replayed++;
        if (rp->o->dry_run)
            printf("would replay %s/%d/%lld id=%s kind=%s reason=%s at=%s\n", rp->o->dlq_topic,
                   (int)msg->partition, (long long)msg->offset, it->has_id ? it->id : "-", it->kind,
                   it->reason[0] ? it->reason : "-", it->at[0] ? it->at : "-");
        else
            ac_log_at(AC_LOG_INFO, &ctx, "replayed to %s (reason %s)", rp->o->topic, it->reason);
        break;
    }
}

static int handle_batch(replay_t *rp, item_t *batch, size_t n, char *err, size_t errsz)
{
    for (size_t i = 0; i < n; i++) {
        int32_t p = batch[i].msg->partition;
        if (!rp->parts[p].assigned || rp->parts[p].gen != batch[i].gen)
            batch[i].verdict = V_DROPPED;
        else
            classify(rp, &batch[i]);
    }
    if (check_sent(rp, batch, n, err, errsz) < 0)
        return -1;
    if (!rp->o->dry_run &&
        (produce_batch(rp, batch, n, err, errsz) < 0 || commit_batch(rp, batch, n, err, errsz) < 0))
        return -1;
    for (size_t i = 0; i < n; i++)
        report(rp, &batch[i]);
    return 0;
}

/* Reads the dead letters up to where they ended at the start, a batch at a
 * time, until done, interrupted, failed or out of time. */
static int run(replay_t *rp, char *err, size_t errsz)
{
    item_t *batch = calloc(BATCH_MAX, sizeof(*batch));
    size_t n = 0;
    int rc = -1;

    if (!batch) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (;;) {
        if (collect(rp, batch, &n, err, errsz) < 0)
            goto out;
        if (handle_batch(rp, batch, n, err, errsz) < 0)
            goto out;
        for (size_t i = 0; i < n; i++)
            rd_kafka_message_destroy(batch[i].msg);
        n = 0;
        if (all_done(rp))
            break;
        if (stop_requested) {
            snprintf(err, errsz, "interrupted; run again to continue where this run stopped");
            goto out;
        }
        if (ac_time_mono_ms() >= rp->deadline) {
            char d[32];
            ac_duration_format(rp->o->timeout_ms, d, sizeof(d));
            snprintf(err, errsz,
                     "timed out after %s before reaching the end of %s; run again to continue", d,
                     rp->o->dlq_topic);
            goto out;
        }
    }
    rc = 0;
out:
    for (size_t i = 0; i < n; i++)
        rd_kafka_message_destroy(batch[i].msg);
    free(batch);
    return rc;
}

int main(int argc, char **argv, char **envp)
{
    options_t o;
    replay_t rp;
    char err[1024];
    int rc = EXIT_USAGE, started = 0;

    ac_tool_cli_init(PROG);
    memset(&o, 0, sizeof(o));
    memset(&rp, 0, sizeof(rp));
    rp.o = &o;
    switch (parse_args(argc, argv, envp, &o)) {
    case 1:
        rc = EXIT_OK;
        goto out;
    case -1:
        goto out;
    }
    ac_log_init(PROG, o.log_level);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    rc = EXIT_RUNTIME;
    rp.deadline = ac_time_mono_ms() + o.timeout_ms;
    if (open_clients(&rp, err, sizeof(err)) < 0)
        goto out;
    started = 1;
    if (run(&rp, err, sizeof(err)) < 0)
        goto out;
    rc = EXIT_OK;
out:
    ac_kafka_consumer_destroy(rp.consumer, CLOSE_TIMEOUT_MS);
    ac_kafka_producer_destroy(rp.producer, CLOSE_TIMEOUT_MS);
    ac_redis_destroy(rp.redis);
    free(rp.parts);
    free_options(&o);
    /* Last, after whatever the clients logged while closing. */
    if (rc == EXIT_RUNTIME)
        fprintf(stderr, PROG ": %s\n", err);
    /* What a failed run did before it failed is committed, so it is
     * reported too. */
    if (started)
        printf("replayed=%ld skipped_sent=%ld skipped_filtered=%ld invalid=%ld\n",
               rp.counts.replayed, rp.counts.skipped_sent, rp.counts.skipped_filtered,
               rp.counts.invalid);
    return rc;
}
