/*
 * ac-bench-kafka: the Kafka side of `make bench`.
 *
 *   ac-bench-kafka produce --brokers B --topic T --template FILE --count N
 *                  [--duplicates RATE] [--rate PER_SECOND] [--first SEQ] [--seed S]
 *   ac-bench-kafka passthrough --brokers B --from T --to T --count N
 *                  [--group G] [--timeout-s S]
 *
 * produce writes N records built from the lines of a template file (record
 * i from line i modulo the number of lines), as fast as the broker takes
 * them (asynchronous produce, one flush at the end) or at a steady rate.
 * Placeholders in a template line:
 *
 *   {{seq}}   the record's sequence number, 12 digits (unique per record)
 *   {{cust}}  the sequence number divided by 4, 12 digits (a customer)
 *   {{us}}    the wall-clock time when the record is produced, in
 *             microseconds since the epoch, 16 digits
 *
 * With --duplicates RATE, that share of the N records are verbatim re-sends
 * of one of the last 4096 records, on the same partition. Records go to
 * partition seq modulo the topic's partitions, so every partition holds the
 * same share. Prints one line: records, new, duplicates, bytes, median
 * record bytes, seconds, records/s.
 *
 * passthrough is the ceiling the brokers allow a worker: it consumes the
 * topic --from in a consumer group (batches of up to 500, 8 MiB prefetch
 * like the workers), produces every record unchanged to --to (idempotent,
 * acks=all, linger 1 ms, like the workers) without waiting, and stores each
 * partition's offset once its records are delivered. It stops after N
 * deliveries and prints records, seconds and records/s from the first
 * record consumed to the last delivery reported. (From the first delivery
 * instead, a run whose reports came in one burst measured almost no time.)
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "tool_cli.h"
#include "tool_kafka.h"

#define PROG                "ac-bench-kafka"
#define EXIT_USAGE          2
#define EXIT_RUNTIME        1
#define METADATA_TIMEOUT_MS 10000
#define RING                4096
#define CONSUME_BATCH       500
#define SEQ_DIGITS          12
#define US_DIGITS           16

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *fp)
{
    fprintf(fp,
            "usage:\n"
            "  " PROG " produce --brokers B --topic T --template FILE --count N\n"
            "                 [--duplicates RATE] [--rate PER_SECOND] [--first SEQ] [--seed S]\n"
            "  " PROG " passthrough --brokers B --from T --to T --count N [--group G]\n"
            "                 [--timeout-s S]\n"
            "  " PROG " --help\n"
            "Template placeholders: {{seq}} {{cust}} {{us}}.\n");
}

static int parse_double(const char *s, double min, double max, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max))
        return -1;
    *out = v;
    return 0;
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------------ produce */

enum piece_kind { PIECE_TEXT, PIECE_SEQ, PIECE_CUST, PIECE_US };

struct piece {
    enum piece_kind kind;
    const char *text;
    size_t len;
};

struct tmpl {
    struct piece *pieces;
    size_t n;
};

static const struct {
    const char *name;
    enum piece_kind kind;
} placeholders[] = {
    {"{{seq}}", PIECE_SEQ},
    {"{{cust}}", PIECE_CUST},
    {"{{us}}", PIECE_US},
};

/* Splits one template line into literal text and placeholders. The pieces
 * point into line, which must outlive the template. */
static int tmpl_compile(char *line, struct tmpl *t)
{
    size_t cap = 8;
    const char *p = line;

    t->n = 0;
    t->pieces = malloc(cap * sizeof(*t->pieces));
    if (!t->pieces)
        return -1;
    while (*p) {
        const char *next = NULL;
        size_t which = 0;

        for (size_t k = 0; k < sizeof(placeholders) / sizeof(placeholders[0]); k++) {
            const char *at = strstr(p, placeholders[k].name);
            if (at && (!next || at < next)) {
                next = at;
                which = k;
            }
        }
        if (t->n + 2 > cap) {
            struct piece *grown = realloc(t->pieces, cap * 2 * sizeof(*grown));
            if (!grown)
                return -1;
            t->pieces = grown;
            cap *= 2;
        }
        if (!next) {
            t->pieces[t->n++] = (struct piece){PIECE_TEXT, p, strlen(p)};
            break;
        }
        if (next > p)
            t->pieces[t->n++] = (struct piece){PIECE_TEXT, p, (size_t)(next - p)};
        t->pieces[t->n++] = (struct piece){placeholders[which].kind, NULL, 0};
        p = next + strlen(placeholders[which].name);
    }
    return 0;
}

static void put_digits(char *out, uint64_t v, int digits)
{
    for (int i = digits - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* Renders record seq into buf (grown as needed); returns its length. */
static size_t tmpl_render(const struct tmpl *t, uint64_t seq, char **buf, size_t *cap)
{
    size_t need = 0, len = 0;
    int64_t us = 0;

    for (size_t i = 0; i < t->n; i++)
        need += t->pieces[i].kind == PIECE_TEXT ? t->pieces[i].len : US_DIGITS;
    if (need > *cap) {
        char *grown = realloc(*buf, need);
        if (!grown)
            return 0;
        *buf = grown;
        *cap = need;
    }
    for (size_t i = 0; i < t->n; i++) {
        const struct piece *pc = &t->pieces[i];
        switch (pc->kind) {
        case PIECE_TEXT:
            memcpy(*buf + len, pc->text, pc->len);
            len += pc->len;
            break;
        case PIECE_SEQ:
            put_digits(*buf + len, seq, SEQ_DIGITS);
            len += SEQ_DIGITS;
            break;
        case PIECE_CUST:
            put_digits(*buf + len, seq / 4, SEQ_DIGITS);
            len += SEQ_DIGITS;
            break;
        case PIECE_US:
            if (!us)
                us = wall_us();
            put_digits(*buf + len, (uint64_t)us, US_DIGITS);
            len += US_DIGITS;
            break;
        }
    }
    return len;
}

struct sent {
    char *value;
    size_t len;
    int32_t partition;
    char key[SEQ_DIGITS + 1];
};

struct produce_counts {
    long delivered;
    long failed;
    rd_kafka_resp_err_t last_err;
};

static void on_produced(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    struct produce_counts *c = opaque;

    (void)rk;
    if (msg->err) {
        c->failed++;
        c->last_err = msg->err;
    } else {
        c->delivered++;
    }
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return (x > y) - (x < y);
}

static int enqueue(rd_kafka_t *rk, const char *topic, int32_t partition, const char *key,
                   const char *value, size_t len)
{
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE((void *)value, len),
            RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            ac_tool_error("produce: %s", rd_kafka_err2str(err));
            return -1;
        }
        rd_kafka_poll(rk, 10);
    }
}

/* Before a steady-rate run: the topic's leaders known and the connection
 * up, so that the first records do not wait for them and look slow. */
static int warm_up(rd_kafka_t *rk, const char *topic)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    rd_kafka_resp_err_t err;

    if (!rkt) {
        ac_tool_error("topic %s: %s", topic, rd_kafka_err2str(rd_kafka_last_error()));
        return -1;
    }
    err = rd_kafka_metadata(rk, 0, rkt, &md, METADATA_TIMEOUT_MS);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    if (err) {
        ac_tool_error("metadata for %s: %s", topic, rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

struct produce_args {
    const char *brokers, *topic, *path;
    long count, first, seed;
    double dup_rate, rate;
};

/* Reads one of produce's number options into a. Returns 0, or -1 after the
 * error line. */
static int produce_number(int c, const char *arg, struct produce_args *a)
{
    switch (c) {
    case 'n':
        if (ac_tool_parse_long(arg, 1, 1000000000L, &a->count) == 0)
            return 0;
        ac_tool_error("--count: expected 1..1000000000, got '%s'", arg);
        return -1;
    case 'd':
        if (parse_double(arg, 0, 0.9, &a->dup_rate) == 0)
            return 0;
        ac_tool_error("--duplicates: expected 0..0.9, got '%s'", arg);
        return -1;
    case 'r':
        if (parse_double(arg, 0, 1e7, &a->rate) == 0)
            return 0;
        ac_tool_error("--rate: expected 0..1e7 records per second, got '%s'", arg);
        return -1;
    case 'f':
        if (ac_tool_parse_long(arg, 0, 99999999999L, &a->first) == 0)
            return 0;
        ac_tool_error("--first: expected a sequence number, got '%s'", arg);
        return -1;
    default:
        if (ac_tool_parse_long(arg, 1, 1L << 30, &a->seed) == 0)
            return 0;
        ac_tool_error("--seed: expected a positive integer, got '%s'", arg);
        return -1;
    }
}

/* Reads produce's options into a. Returns 0, or -1 after a usage error. */
static int produce_parse(int argc, char **argv, struct produce_args *a)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"template", required_argument, NULL, 'T'},
        {"count", required_argument, NULL, 'n'},
        {"duplicates", required_argument, NULL, 'd'},
        {"rate", required_argument, NULL, 'r'},
        {"first", required_argument, NULL, 'f'},
        {"seed", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = ac_tool_getopt(argc, argv, longopts, "unknown option or missing argument")) != -1) {
        if (c == 'b')
            a->brokers = optarg;
        else if (c == 't')
            a->topic = optarg;
        else if (c == 'T')
            a->path = optarg;
        else if (c == '?' || produce_number(c, optarg, a) != 0)
            return -1;
    }
    if (!a->brokers || !a->topic || !a->path || a->count < 0 || optind < argc) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* The template file's non-empty lines, each compiled once. */
struct templates {
    struct tmpl *tmpls;
    char **lines;
    size_t n, cap;
};

/* Frees what templates_load() kept, a failed load included. */
static void templates_free(struct templates *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->tmpls[i].pieces);
        free(t->lines[i]);
    }
    free(t->tmpls);
    free(t->lines);
}

/* Takes line (malloc'ed, without its newline) as the next template.
 * Returns 0, or -1 when out of memory; line is then the caller's to free
 * only when it was not stored. */
static int templates_add(struct templates *t, char *line, int *stored)
{
    *stored = 0;
    if (t->n == t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 64;
        char **gl = realloc(t->lines, ncap * sizeof(*gl));
        if (gl)
            t->lines = gl;
        struct tmpl *gt = gl ? realloc(t->tmpls, ncap * sizeof(*gt)) : NULL;
        if (!gl || !gt)
            return -1;
        t->tmpls = gt;
        t->cap = ncap;
    }
    t->lines[t->n] = line;
    *stored = 1;
    return tmpl_compile(line, &t->tmpls[t->n++]);
}

/* Reads path's template lines into t. Returns 0, or -1 after reporting. */
static int templates_load(const char *path, struct templates *t)
{
    int rc = -1, stored;
    FILE *fp = fopen(path, "rb");

    if (!fp) {
        ac_tool_error("%s: %s", path, strerror(errno));
        goto out;
    }
    for (;;) {
        char *line = NULL;
        size_t lcap = 0;
        ssize_t n = getline(&line, &lcap, fp);
        if (n < 0) {
            free(line);
            break;
        }
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = '\0';
        if (n == 0) {
            free(line);
            continue;
        }
        if (templates_add(t, line, &stored) != 0) {
            if (!stored)
                free(line);
            ac_tool_error("out of memory");
            goto out;
        }
    }
    if (t->n == 0) {
        ac_tool_error("%s: no template lines", path);
        goto out;
    }
    rc = 0;
out:
    if (fp)
        fclose(fp);
    return rc;
}

/* What the produce loop draws from: recent records to send again as
 * duplicates, the render buffer and the random state. */
struct generator {
    const struct produce_args *a;
    const struct templates *t;
    int partitions;
    struct sent *ring;
    size_t ring_n;
    char *buf;
    size_t buf_cap;
    uint64_t rng;
    long dups;
};

/* The record with sequence number seq, rendered from its template into the
 * ring; or, at the --duplicates rate, a recent one again (dups counts
 * those). Returns the ring slot, or NULL when out of memory. */
static const struct sent *next_record(struct generator *g, long i)
{
    uint64_t seq = (uint64_t)g->a->first + (uint64_t)(i - g->dups);

    if (g->ring_n > 0 && g->a->dup_rate > 0 &&
        (double)(xorshift(&g->rng) >> 11) / (double)(1ULL << 53) < g->a->dup_rate) {
        g->dups++;
        return &g->ring[xorshift(&g->rng) % (g->ring_n < RING ? g->ring_n : RING)];
    }
    const struct tmpl *t = &g->t->tmpls[seq % g->t->n];
    struct sent *s = &g->ring[g->ring_n % RING];
    size_t len = tmpl_render(t, seq, &g->buf, &g->buf_cap);
    if (len == 0)
        return NULL;
    char *copy = realloc(s->value, len);
    if (!copy)
        return NULL;
    memcpy(copy, g->buf, len);
    s->value = copy;
    s->len = len;
    s->partition = (int32_t)(seq % (uint64_t)g->partitions);
    put_digits(s->key, seq, SEQ_DIGITS);
    s->key[SEQ_DIGITS] = '\0';
    g->ring_n++;
    return s;
}

/* Sleeps until record i is due at --rate records per second from t0. */
static void pace(double t0, long i, double rate)
{
    double due = t0 + (double)i / rate, now = mono_s();

    if (due > now) {
        struct timespec nap = {(time_t)(due - now),
                               (long)(((due - now) - (double)(time_t)(due - now)) * 1e9)};
        nanosleep(&nap, NULL);
    }
}

/* Enqueues --count records (fewer when stopped), paced from t0, noting
 * each one's size. Returns how many were enqueued, or -1 after reporting. */
static long produce_records(rd_kafka_t *rk, struct generator *g, double t0, size_t *sizes,
                            uint64_t *total_bytes)
{
    const struct produce_args *a = g->a;
    long sent = 0;

    for (long i = 0; i < a->count && !stop_requested; i++) {
        if (a->rate > 0)
            pace(t0, i, a->rate);
        const struct sent *s = next_record(g, i);
        if (!s) {
            ac_tool_error("out of memory");
            return -1;
        }
        if (enqueue(rk, a->topic, s->partition, s->key, s->value, s->len) != 0)
            return -1;
        sizes[sent++] = s->len;
        *total_bytes += s->len;
        rd_kafka_poll(rk, 0);
    }
    return sent;
}

/* In bulk, large batches; at a steady rate, what a store platform's
 * producer would do (librdkafka's default linger of 5 ms). The time stamped
 * into a record is when it was handed to the client. */
static const char *const *producer_settings(double rate)
{
    static const char *const bulk[] = {
        "acks",
        "all",
        "linger.ms",
        "20",
        "batch.num.messages",
        "10000",
        "batch.size",
        "1000000",
        "queue.buffering.max.messages",
        "2000000",
        "queue.buffering.max.kbytes",
        "2097152",
        NULL,
    };
    static const char *const paced[] = {
        "acks", "all", "linger.ms", "5", NULL,
    };
    return rate > 0 ? paced : bulk;
}

/* produce: fills a topic from templates, optionally paced and with
 * duplicates, and prints what was sent and how fast. */
static int cmd_produce(int argc, char **argv)
{
    struct produce_args a = {.count = -1, .seed = 1};
    struct produce_counts counts = {0, 0, RD_KAFKA_RESP_ERR_NO_ERROR};
    struct templates t = {0};
    struct generator g = {.a = &a, .t = &t};
    size_t *sizes = NULL;
    char errstr[512];
    rd_kafka_t *rk = NULL;
    int rc = EXIT_USAGE;
    long sent;
    double t0, t1;
    uint64_t total_bytes = 0;

    if (produce_parse(argc, argv, &a) != 0)
        goto out;
    rc = EXIT_RUNTIME;
    if (templates_load(a.path, &t) != 0)
        goto out;
    g.ring = calloc(RING, sizeof(*g.ring));
    sizes = malloc((size_t)a.count * sizeof(*sizes));
    if (!g.ring || !sizes) {
        ac_tool_error("out of memory");
        goto out;
    }
    rk = ac_tool_kafka_new(RD_KAFKA_PRODUCER, a.brokers, PROG, producer_settings(a.rate),
                           on_produced, &counts, errstr, sizeof(errstr));
    if (!rk) {
        ac_tool_error("%s", errstr);
        goto out;
    }
    g.partitions =
        ac_tool_kafka_partition_count(rk, a.topic, METADATA_TIMEOUT_MS, errstr, sizeof(errstr));
    if (g.partitions < 0) {
        ac_tool_error("%s", errstr);
        goto out;
    }
    if (a.rate > 0 && warm_up(rk, a.topic) != 0)
        goto out;

    g.rng = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)a.seed * 0x2545F4914F6CDD1DULL);
    t0 = mono_s();
    if ((sent = produce_records(rk, &g, t0, sizes, &total_bytes)) < 0)
        goto out;
    while (counts.delivered + counts.failed < sent && !stop_requested)
        rd_kafka_flush(rk, 1000);
    t1 = mono_s();
    if (counts.failed) {
        ac_tool_error("%ld record(s) not delivered: %s", counts.failed,
                      rd_kafka_err2str(counts.last_err));
        goto out;
    }
    qsort(sizes, (size_t)sent, sizeof(*sizes), cmp_size);
    printf("records=%ld new=%ld duplicates=%ld partitions=%d bytes=%" PRIu64
           " median_bytes=%zu seconds=%.3f rate=%.0f\n",
           sent, sent - g.dups, g.dups, g.partitions, total_bytes, sent ? sizes[sent / 2] : 0,
           t1 - t0, (double)sent / (t1 - t0 > 1e-6 ? t1 - t0 : 1e-6));
    rc = stop_requested ? EXIT_RUNTIME : 0;
out:
    if (rk)
        rd_kafka_destroy(rk);
    for (size_t i = 0; g.ring && i < RING; i++)
        free(g.ring[i].value);
    free(g.ring);
    templates_free(&t);
    free(sizes);
    free(g.buf);
    return rc;
}

/* -------------------------------------------------------------- passthrough */

struct pass_state {
    long delivered;
    long failed;
    rd_kafka_resp_err_t last_err;
    double first_s; /* when the first record was consumed */
    double last_s;  /* when the last delivery was reported */
    int64_t *done;  /* per input partition: the offset after the last delivered record */
    int32_t partitions;
    int dirty;
};

/* The record's input partition and offset travel in its opaque pointer. */
#define OPAQUE_OFFSET_BITS 40

static void on_passed(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    struct pass_state *st = opaque;
    uint64_t where = (uint64_t)(uintptr_t)msg->_private;
    int32_t part = (int32_t)(where >> OPAQUE_OFFSET_BITS);
    int64_t off = (int64_t)(where & ((1ULL << OPAQUE_OFFSET_BITS) - 1));

    (void)rk;
    if (msg->err) {
        st->failed++;
        st->last_err = msg->err;
        return;
    }
    st->last_s = mono_s();
    st->delivered++;
    if (part < st->partitions && off + 1 > st->done[part]) {
        st->done[part] = off + 1;
        st->dirty = 1;
    }
}

/* Stores the offsets of every partition whose records were delivered since
 * the last call; auto-commit sends them to the broker. */
static void store_offsets(rd_kafka_t *consumer, const char *topic, struct pass_state *st,
                          int64_t *stored)
{
    rd_kafka_topic_partition_list_t *parts;

    if (!st->dirty)
        return;
    st->dirty = 0;
    parts = rd_kafka_topic_partition_list_new(8);
    for (int32_t p = 0; p < st->partitions; p++) {
        if (st->done[p] > stored[p]) {
            rd_kafka_topic_partition_list_add(parts, topic, p)->offset = st->done[p];
            stored[p] = st->done[p];
        }
    }
    if (parts->cnt) {
        rd_kafka_resp_err_t err = rd_kafka_offsets_store(consumer, parts);
        if (err && err != RD_KAFKA_RESP_ERR__STATE)
            ac_tool_error("offsets store: %s", rd_kafka_err2str(err));
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

struct pass_args {
    const char *brokers, *from, *to, *group;
    long count, timeout_s;
};

/* Reads passthrough's options into a. Returns 0, or -1 after a usage
 * error. */
static int pass_parse(int argc, char **argv, struct pass_args *a)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"from", required_argument, NULL, 'f'},
        {"to", required_argument, NULL, 't'},
        {"count", required_argument, NULL, 'n'},
        {"group", required_argument, NULL, 'g'},
        {"timeout-s", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = ac_tool_getopt(argc, argv, longopts, "unknown option or missing argument")) != -1) {
        if (c == 'b') {
            a->brokers = optarg;
        } else if (c == 'f') {
            a->from = optarg;
        } else if (c == 't') {
            a->to = optarg;
        } else if (c == 'g') {
            a->group = optarg;
        } else if (c == 'n') {
            if (ac_tool_parse_long(optarg, 1, 1000000000L, &a->count) != 0) {
                ac_tool_error("--count: expected 1..1000000000, got '%s'", optarg);
                return -1;
            }
        } else if (c == 'T') {
            if (ac_tool_parse_long(optarg, 1, 86400, &a->timeout_s) != 0) {
                ac_tool_error("--timeout-s: expected 1..86400, got '%s'", optarg);
                return -1;
            }
        } else {
            return -1;
        }
    }
    if (!a->brokers || !a->from || !a->to || a->count < 0 || optind < argc) {
        usage(stderr);
        return -1;
    }
    return 0;
}

/* The clients of a passthrough run and where it stands. */
struct pass_run {
    rd_kafka_t *consumer, *producer;
    rd_kafka_queue_t *queue;
    struct pass_state st;
    int64_t *stored; /* per input partition: the offset last stored */
    long consumed;
};

/* Like a worker: an idempotent producer with acks=all, and a consumer that
 * stores an offset only once its record was delivered. Returns 0, or -1
 * after reporting; what was created is the caller's to release. */
static int pass_open(const struct pass_args *a, struct pass_run *r)
{
    static const char *const producer_conf[] = {
        "enable.idempotence", "true",   "acks", "all", "linger.ms", "1",
        "message.timeout.ms", "120000", NULL,
    };
    const char *consumer_conf[] = {
        "group.id",
        a->group,
        "enable.auto.offset.store",
        "false",
        "enable.auto.commit",
        "true",
        "auto.commit.interval.ms",
        "1000",
        "auto.offset.reset",
        "earliest",
        "enable.partition.eof",
        "false",
        "queued.max.messages.kbytes",
        "8192",
        NULL,
    };
    char errstr[512];
    int partitions;

    r->producer = ac_tool_kafka_new(RD_KAFKA_PRODUCER, a->brokers, PROG, producer_conf, on_passed,
                                    &r->st, errstr, sizeof(errstr));
    if (!r->producer)
        goto fail;
    partitions = ac_tool_kafka_partition_count(r->producer, a->from, METADATA_TIMEOUT_MS, errstr,
                                               sizeof(errstr));
    if (partitions < 0 || ac_tool_kafka_partition_count(r->producer, a->to, METADATA_TIMEOUT_MS,
                                                        errstr, sizeof(errstr)) < 0)
        goto fail;
    r->st.partitions = partitions;
    r->st.done = calloc((size_t)partitions, sizeof(*r->st.done));
    r->stored = calloc((size_t)partitions, sizeof(*r->stored));
    if (!r->st.done || !r->stored) {
        ac_tool_error("out of memory");
        return -1;
    }
    r->consumer = ac_tool_kafka_new(RD_KAFKA_CONSUMER, a->brokers, PROG, consumer_conf, NULL, NULL,
                                    errstr, sizeof(errstr));
    if (!r->consumer)
        goto fail;
    rd_kafka_poll_set_consumer(r->consumer);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, a->from, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t err = rd_kafka_subscribe(r->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ac_tool_error("subscribe to %s failed", a->from);
        return -1;
    }
    r->queue = rd_kafka_queue_get_consumer(r->consumer);
    return 0;
fail:
    ac_tool_error("%s", errstr);
    return -1;
}

/* Produces consumed record m to topic to, its input partition and offset
 * riding in the opaque for on_passed(). */
static void pass_forward(struct pass_run *r, const char *to, const rd_kafka_message_t *m)
{
    uint64_t where = ((uint64_t)m->partition << OPAQUE_OFFSET_BITS) | (uint64_t)m->offset;
    rd_kafka_resp_err_t err;

    for (;;) {
        err = rd_kafka_producev(
            r->producer, RD_KAFKA_V_TOPIC(to), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_KEY(m->key, m->key_len),
            RD_KAFKA_V_OPAQUE((void *)(uintptr_t)where), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            break;
        rd_kafka_poll(r->producer, 10);
    }
    if (err) {
        ac_tool_error("produce: %s", rd_kafka_err2str(err));
        r->st.failed++;
    }
    if (r->consumed++ == 0)
        r->st.first_s = mono_s();
}

/* Passes records through until --count were delivered, a signal came or
 * --timeout-s passed, then flushes and stores the last offsets. */
static void pass_loop(const struct pass_args *a, struct pass_run *r)
{
    rd_kafka_message_t *msgs[CONSUME_BATCH];
    double deadline = mono_s() + (double)a->timeout_s;

    while (r->st.delivered + r->st.failed < a->count && !stop_requested && mono_s() < deadline) {
        ssize_t got = r->consumed < a->count
                          ? rd_kafka_consume_batch_queue(r->queue, 10, msgs, CONSUME_BATCH)
                          : 0;
        for (ssize_t i = 0; i < got; i++) {
            rd_kafka_message_t *m = msgs[i];
            if (!m->err)
                pass_forward(r, a->to, m);
            else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                ac_tool_error("consume: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
        }
        rd_kafka_poll(r->producer, got > 0 ? 0 : 10);
        store_offsets(r->consumer, a->from, &r->st, r->stored);
    }
    rd_kafka_flush(r->producer, 10000);
    store_offsets(r->consumer, a->from, &r->st, r->stored);
}

/* passthrough: the consume-produce ceiling of the brokers, measured the way
 * a worker moves records. */
static int cmd_passthrough(int argc, char **argv)
{
    struct pass_args a = {.group = "ac-bench-passthrough", .count = -1, .timeout_s = 600};
    struct pass_run r = {0};
    int rc = EXIT_USAGE;

    if (pass_parse(argc, argv, &a) != 0)
        goto out;
    rc = EXIT_RUNTIME;
    if (pass_open(&a, &r) != 0)
        goto out;
    pass_loop(&a, &r);
    if (r.st.failed) {
        ac_tool_error("%ld record(s) not passed through: %s", r.st.failed,
                      rd_kafka_err2str(r.st.last_err));
    } else if (r.st.delivered < a.count) {
        ac_tool_error("only %ld of %ld records passed through before the timeout", r.st.delivered,
                      a.count);
    } else {
        double secs = r.st.last_s - r.st.first_s;
        printf("records=%ld seconds=%.3f rate=%.0f\n", r.st.delivered, secs,
               (double)r.st.delivered / (secs > 1e-6 ? secs : 1e-6));
        rc = 0;
    }
    rd_kafka_commit(r.consumer, NULL, 0);
out:
    if (r.queue)
        rd_kafka_queue_destroy(r.queue);
    if (r.consumer) {
        rd_kafka_consumer_close(r.consumer);
        rd_kafka_destroy(r.consumer);
    }
    if (r.producer)
        rd_kafka_destroy(r.producer);
    free(r.st.done);
    free(r.stored);
    return rc;
}

int main(int argc, char **argv)
{
    struct sigaction sa;

    ac_tool_cli_init(PROG);
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "produce") == 0)
        return cmd_produce(argc - 1, argv + 1);
    if (strcmp(argv[1], "passthrough") == 0)
        return cmd_passthrough(argc - 1, argv + 1);
    ac_tool_error("%s: unknown command", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
