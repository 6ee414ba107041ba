/*
 * devbroker: serves librdkafka's in-process mock Kafka cluster on loopback so
 * that workers, tests and the demo can talk to a real Kafka protocol endpoint
 * without running a JVM broker.
 *
 * Signals: SIGINT/SIGTERM stop it, SIGUSR1 takes every broker down and
 * SIGUSR2 brings them back up (fault injection for tests).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kafka.h"
#include "tool_cli.h"

#ifndef AC_VERSION
#define AC_VERSION "0.0.0"
#endif

#define PROG           "devbroker"
#define MAX_BROKERS    16
#define MAX_PARTITIONS 1000
#define MAX_TOPIC_NAME 249
#define DEFAULT_TOPICS                                                                             \
    "orders,shipments,returns,notifications,orders.dlq,shipments.dlq,returns.dlq,"                 \
    "notifications.dlq"

struct topic_spec {
    char name[MAX_TOPIC_NAME + 1];
    int partitions;
};

struct options {
    int brokers;
    int partitions;
    const char *topics;
    const char *bootstrap_file;
    const char *pidfile;
};

static volatile sig_atomic_t stop_requested;
static volatile sig_atomic_t down_requested;
static volatile sig_atomic_t up_requested;

/* Log lines go to stderr with a timestamp so they can be correlated with the
 * logs of the workers that a test runs alongside the broker. */
static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
    struct timespec ts;
    struct tm tm;
    char stamp[32];
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "%s.%03ldZ " PROG ": ", stamp, ts.tv_nsec / 1000000);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* The handler only records what was asked for, because librdkafka calls are
 * not async-signal-safe; the main loop acts on the flags. */
static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        down_requested = 1;
    else if (sig == SIGUSR2)
        up_requested = 1;
    else
        stop_requested = 1;
}

/* Installing handlers without SA_RESTART lets the main loop's sleep return
 * early, so a stop or fault request takes effect promptly. */
static int install_signal_handlers(void)
{
    static const int sigs[] = {SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
    struct sigaction sa;
    size_t i;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
        if (sigaction(sigs[i], &sa, NULL) != 0)
            return -1;
    }
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

/* Usage goes to stdout for --help (it was asked for) and to stderr otherwise,
 * so stdout only ever carries the bootstrap line during normal runs. */
static void usage(FILE *fp)
{
    fprintf(fp, "usage: " PROG " [options]\n"
                "  --brokers N          number of mock brokers (default 1)\n"
                "  --partitions N       default partitions per topic (default 4)\n"
                "  --topics LIST        comma-separated name[:partitions] (default\n"
                "                       " DEFAULT_TOPICS ")\n"
                "  --bootstrap-file P   write the bootstrap address to P once ready\n"
                "  --pidfile P          write the process id to P once ready\n"
                "  --help               show this help\n"
                "  --version            show the version\n"
                "Prints 'bootstrap=HOST:PORT[,...]' on stdout when ready. SIGUSR1 takes\n"
                "all brokers down, SIGUSR2 brings them up, SIGINT/SIGTERM stop.\n");
}

/* Option values must be whole numbers in range; silently accepting "4x" or
 * "-1" would hide mistakes in test scripts. */
static int parse_int(const char *s, int min, int max, int *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

/* Kafka only accepts topic names made of these characters; rejecting other
 * names here gives a clear error instead of a confusing broker one later. */
static int valid_topic_name(const char *name)
{
    const char *p;

    if (*name == '\0' || strlen(name) > MAX_TOPIC_NAME || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0)
        return 0;
    for (p = name; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '.' || *p == '_' || *p == '-'))
            return 0;
    }
    return 1;
}

/* Parsing the whole topic list before creating the cluster means a typo is
 * reported as a usage error rather than after the broker is half set up. */
static int parse_topics(const char *list, int default_partitions, struct topic_spec **out,
                        size_t *count)
{
    struct topic_spec *specs = NULL;
    char *copy = NULL, *save = NULL, *item;
    size_t n = 0, cap = 0, i;
    int rc = -1;

    copy = strdup(list);
    if (!copy) {
        fprintf(stderr, PROG ": --topics: out of memory\n");
        goto out;
    }
    for (item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        struct topic_spec *spec;
        char *colon = strchr(item, ':');
        int parts = default_partitions;

        if (colon) {
            *colon = '\0';
            if (parse_int(colon + 1, 1, MAX_PARTITIONS, &parts) != 0) {
                fprintf(stderr, PROG ": --topics: partition count for '%s' must be 1..%d\n", item,
                        MAX_PARTITIONS);
                goto out;
            }
        }
        if (!valid_topic_name(item)) {
            fprintf(stderr, PROG ": --topics: invalid topic name '%s'\n", item);
            goto out;
        }
        for (i = 0; i < n; i++) {
            if (strcmp(specs[i].name, item) == 0) {
                fprintf(stderr, PROG ": --topics: topic '%s' listed twice\n", item);
                goto out;
            }
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct topic_spec *grown = realloc(specs, ncap * sizeof(*specs));

            if (!grown) {
                fprintf(stderr, PROG ": --topics: out of memory\n");
                goto out;
            }
            specs = grown;
            cap = ncap;
        }
        spec = &specs[n++];
        snprintf(spec->name, sizeof(spec->name), "%s", item);
        spec->partitions = parts;
    }
    if (n == 0) {
        fprintf(stderr, PROG ": --topics: no topic names given\n");
        goto out;
    }
    *out = specs;
    *count = n;
    specs = NULL;
    rc = 0;
out:
    free(specs);
    free(copy);
    return rc;
}

/* Fault injection acts on every broker so that clients see a full outage,
 * which is the case the workers' retry and backoff paths must survive. */
static void set_all_brokers(rd_kafka_mock_cluster_t *mcluster, int brokers, int up)
{
    int id;

    for (id = 1; id <= brokers; id++) {
        rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(mcluster, id)
                                     : rd_kafka_mock_broker_set_down(mcluster, id);

        if (err)
            log_line("broker %d: set %s failed: %s", id, up ? "up" : "down", rd_kafka_err2str(err));
    }
    log_line("all %d broker(s) %s", brokers, up ? "up" : "down");
}

/* Parses the command line into opts; returns 0 to run, 1 when --help or
 * --version already answered, and 2 for a usage error. */
static int parse_options(int argc, char **argv, struct options *opts)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'}, {"partitions", required_argument, NULL, 'p'},
        {"topics", required_argument, NULL, 't'},  {"bootstrap-file", required_argument, NULL, 'f'},
        {"pidfile", required_argument, NULL, 'P'}, {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},       {NULL, 0, NULL, 0},
    };
    int c;

    opts->brokers = 1;
    opts->partitions = 4;
    opts->topics = DEFAULT_TOPICS;
    opts->bootstrap_file = NULL;
    opts->pidfile = NULL;

    while ((c = ac_tool_getopt(argc, argv, longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (parse_int(optarg, 1, MAX_BROKERS, &opts->brokers) != 0) {
                fprintf(stderr, PROG ": --brokers: expected an integer 1..%d, got '%s'\n",
                        MAX_BROKERS, optarg);
                return 2;
            }
            break;
        case 'p':
            if (parse_int(optarg, 1, MAX_PARTITIONS, &opts->partitions) != 0) {
                fprintf(stderr, PROG ": --partitions: expected an integer 1..%d, got '%s'\n",
                        MAX_PARTITIONS, optarg);
                return 2;
            }
            break;
        case 't':
            opts->topics = optarg;
            break;
        case 'f':
            if (*optarg == '\0') {
                fprintf(stderr, PROG ": --bootstrap-file: empty path\n");
                return 2;
            }
            opts->bootstrap_file = optarg;
            break;
        case 'P':
            if (*optarg == '\0') {
                fprintf(stderr, PROG ": --pidfile: empty path\n");
                return 2;
            }
            opts->pidfile = optarg;
            break;
        case 'h':
            usage(stdout);
            return 1;
        case 'V':
            printf(PROG " " AC_VERSION " (librdkafka %s)\n", rd_kafka_version_str());
            return 1;
        default:
            return 2;
        }
    }
    return ac_tool_no_operands(argc, argv) == 0 ? 0 : 2;
}

/* The mock cluster needs a client instance to run on; a producer with no
 * bootstrap servers is the lightest one. Its own logs are kept quiet. The
 * topics are created with up to three replicas, as in production. Returns
 * NULL after reporting; *rk is then NULL or the caller's to destroy. */
static rd_kafka_mock_cluster_t *cluster_start(const struct options *opts,
                                              const struct topic_spec *topics, size_t topic_count,
                                              rd_kafka_t **rk)
{
    static const char *const quiet[] = {"log_level", "3", NULL};
    ac_kafka_opts_t ko = {.client_id = PROG, .settings = {quiet}};
    rd_kafka_mock_cluster_t *mcluster = NULL;
    char errstr[512];
    int replication = opts->brokers < 3 ? opts->brokers : 3;

    *rk = ac_kafka_client_new(RD_KAFKA_PRODUCER, &ko, errstr, sizeof(errstr));
    if (!*rk) {
        ac_tool_error("%s", errstr);
        goto out;
    }
    mcluster = rd_kafka_mock_cluster_new(*rk, opts->brokers);
    if (!mcluster) {
        ac_tool_error("could not create the mock cluster");
        goto out;
    }
    for (size_t i = 0; i < topic_count; i++) {
        rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(mcluster, topics[i].name, topics[i].partitions, replication);

        if (err) {
            ac_tool_error("creating topic '%s': %s", topics[i].name, rd_kafka_err2str(err));
            rd_kafka_mock_cluster_destroy(mcluster);
            mcluster = NULL;
            goto out;
        }
    }
out:
    return mcluster;
}

/* Writes path (flag names it in the error) for whoever polls for it. */
static int announce_file(const char *flag, const char *path, const char *content)
{
    char why[256];

    if (ac_tool_write_file_atomic(path, content, strlen(content), why, sizeof(why)) != 0) {
        ac_tool_error("%s: %s: %s", flag, path, why);
        return -1;
    }
    return 0;
}

/* Runs fault injection until SIGINT/SIGTERM: SIGUSR1 takes every broker
 * down, SIGUSR2 brings them back (see install_signal_handlers). */
static void serve(rd_kafka_mock_cluster_t *mcluster, int brokers)
{
    struct timespec nap = {0, 50 * 1000 * 1000};

    while (!stop_requested) {
        if (down_requested) {
            down_requested = 0;
            set_all_brokers(mcluster, brokers, 0);
        }
        if (up_requested) {
            up_requested = 0;
            set_all_brokers(mcluster, brokers, 1);
        }
        nanosleep(&nap, NULL);
    }
}

/* Sets up the mock cluster and its topics, announces readiness, then waits
 * for signals; everything created here is torn down at the single exit. */
int main(int argc, char **argv)
{
    struct options opts;
    struct topic_spec *topics = NULL;
    size_t topic_count = 0;
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mcluster = NULL;
    char *line = NULL, pid[32];
    const char *bootstraps;
    int rc = 1, wrote_bootstrap = 0, wrote_pid = 0;

    ac_tool_cli_init(PROG);
    switch (parse_options(argc, argv, &opts)) {
    case 0:
        break;
    case 1:
        return 0;
    default:
        return 2;
    }
    if (parse_topics(opts.topics, opts.partitions, &topics, &topic_count) != 0)
        return 2;
    if (install_signal_handlers() != 0) {
        ac_tool_error("sigaction: %s", strerror(errno));
        goto out;
    }
    if (!(mcluster = cluster_start(&opts, topics, topic_count, &rk)))
        goto out;
    bootstraps = rd_kafka_mock_cluster_bootstraps(mcluster);
    if (asprintf(&line, "%s\n", bootstraps) < 0) {
        line = NULL;
        ac_tool_error("out of memory");
        goto out;
    }
    if (opts.bootstrap_file) {
        if (announce_file("--bootstrap-file", opts.bootstrap_file, line) != 0)
            goto out;
        wrote_bootstrap = 1;
    }
    snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
    if (opts.pidfile) {
        if (announce_file("--pidfile", opts.pidfile, pid) != 0)
            goto out;
        wrote_pid = 1;
    }
    printf("bootstrap=%s", line);
    fflush(stdout);
    log_line("ready: %d broker(s), %zu topic(s), bootstrap %s", opts.brokers, topic_count,
             bootstraps);
    serve(mcluster, opts.brokers);
    log_line("stopping");
    rc = 0;
out:
    if (wrote_bootstrap)
        unlink(opts.bootstrap_file);
    if (wrote_pid)
        unlink(opts.pidfile);
    if (mcluster)
        rd_kafka_mock_cluster_destroy(mcluster);
    if (rk)
        rd_kafka_destroy(rk);
    free(line);
    free(topics);
    return rc;
}
