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

static int cmd_produce(int argc, char **argv)
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
    /* In bulk, large batches; at a steady rate, what a store platform's
     * producer would do (librdkafka's default linger of 5 ms). The time
     * stamped into a record is when it was handed to the client. */
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
    const char *brokers = NULL, *topic = NULL, *path = NULL;
    long count = -1, first = 0, seed = 1;
    double dup_rate = 0, rate = 0;
    struct produce_counts counts = {0, 0, RD_KAFKA_RESP_ERR_NO_ERROR};
    struct tmpl *tmpls = NULL;
    struct sent *ring = NULL;
    size_t n_tmpls = 0, cap_tmpls = 0, *sizes = NULL, ring_n = 0, buf_cap = 0;
    char **lines = NULL, *buf = NULL, errstr[512];
    rd_kafka_t *rk = NULL;
    FILE *fp = NULL;
    int c, rc = EXIT_USAGE, partitions;
    long dups = 0, sent = 0;
    uint64_t rng;
    double t0, t1;
    uint64_t total_bytes = 0;

    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            brokers = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'T':
            path = optarg;
            break;
        case 'n':
            if (ac_tool_parse_long(optarg, 1, 1000000000L, &count) != 0) {
                ac_tool_error("--count: expected 1..1000000000, got '%s'", optarg);
                goto out;
            }
            break;
        case 'd':
            if (parse_double(optarg, 0, 0.9, &dup_rate) != 0) {
                ac_tool_error("--duplicates: expected 0..0.9, got '%s'", optarg);
                goto out;
            }
            break;
        case 'r':
            if (parse_double(optarg, 0, 1e7, &rate) != 0) {
                ac_tool_error("--rate: expected 0..1e7 records per second, got '%s'", optarg);
                goto out;
            }
            break;
        case 'f':
            if (ac_tool_parse_long(optarg, 0, 99999999999L, &first) != 0) {
                ac_tool_error("--first: expected a sequence number, got '%s'", optarg);
                goto out;
            }
            break;
        case 's':
            if (ac_tool_parse_long(optarg, 1, 1L << 30, &seed) != 0) {
                ac_tool_error("--seed: expected a positive integer, got '%s'", optarg);
                goto out;
            }
            break;
        default:
            ac_tool_error("%s: unknown option or missing argument", argv[optind - 1]);
            goto out;
        }
    }
    if (!brokers || !topic || !path || count < 0 || optind < argc) {
        usage(stderr);
        goto out;
    }

    rc = EXIT_RUNTIME;
    fp = fopen(path, "rb");
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
        if (n_tmpls == cap_tmpls) {
            size_t ncap = cap_tmpls ? cap_tmpls * 2 : 64;
            char **gl = realloc(lines, ncap * sizeof(*gl));
            if (gl)
                lines = gl;
            struct tmpl *gt = gl ? realloc(tmpls, ncap * sizeof(*gt)) : NULL;
            if (!gl || !gt) {
                free(line);
                ac_tool_error("out of memory");
                goto out;
            }
            tmpls = gt;
            cap_tmpls = ncap;
        }
        lines[n_tmpls] = line;
        if (tmpl_compile(line, &tmpls[n_tmpls]) != 0) {
            n_tmpls++;
            ac_tool_error("out of memory");
            goto out;
        }
        n_tmpls++;
    }
    if (n_tmpls == 0) {
        ac_tool_error("%s: no template lines", path);
        goto out;
    }

    ring = calloc(RING, sizeof(*ring));
    sizes = malloc((size_t)count * sizeof(*sizes));
    if (!ring || !sizes) {
        ac_tool_error("out of memory");
        goto out;
    }
    rk = ac_tool_kafka_new(RD_KAFKA_PRODUCER, brokers, PROG, rate > 0 ? paced : bulk, on_produced,
                           &counts, errstr, sizeof(errstr));
    if (!rk) {
        ac_tool_error("%s", errstr);
        goto out;
    }
    partitions =
        ac_tool_kafka_partition_count(rk, topic, METADATA_TIMEOUT_MS, errstr, sizeof(errstr));
    if (partitions < 0) {
        ac_tool_error("%s", errstr);
        goto out;
    }
    if (rate > 0 && warm_up(rk, topic) != 0)
        goto out;

    rng = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)seed * 0x2545F4914F6CDD1DULL);
    t0 = mono_s();
    for (long i = 0; i < count && !stop_requested; i++) {
        uint64_t seq = (uint64_t)first + (uint64_t)(i - dups);
        const char *value;
        size_t len;
        int32_t part;
        const char *key;

        if (rate > 0) {
            double due = t0 + (double)i / rate, now = mono_s();
            if (due > now) {
                struct timespec nap = {(time_t)(due - now),
                                       (long)(((due - now) - (double)(time_t)(due - now)) * 1e9)};
                nanosleep(&nap, NULL);
            }
        }
        if (ring_n > 0 && dup_rate > 0 &&
            (double)(xorshift(&rng) >> 11) / (double)(1ULL << 53) < dup_rate) {
            struct sent *s = &ring[xorshift(&rng) % (ring_n < RING ? ring_n : RING)];
            value = s->value;
            len = s->len;
            part = s->partition;
            key = s->key;
            dups++;
        } else {
            const struct tmpl *t = &tmpls[seq % n_tmpls];
            struct sent *s = &ring[ring_n % RING];
            len = tmpl_render(t, seq, &buf, &buf_cap);
            if (len == 0) {
                ac_tool_error("out of memory");
                goto out;
            }
            char *copy = realloc(s->value, len);
            if (!copy) {
                ac_tool_error("out of memory");
                goto out;
            }
            memcpy(copy, buf, len);
            s->value = copy;
            s->len = len;
            s->partition = (int32_t)(seq % (uint64_t)partitions);
            put_digits(s->key, seq, SEQ_DIGITS);
            s->key[SEQ_DIGITS] = '\0';
            ring_n++;
            value = s->value;
            part = s->partition;
            key = s->key;
        }
        if (enqueue(rk, topic, part, key, value, len) != 0)
            goto out;
        sizes[sent++] = len;
        total_bytes += len;
        rd_kafka_poll(rk, 0);
    }
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
           sent, sent - dups, dups, partitions, total_bytes, sent ? sizes[sent / 2] : 0, t1 - t0,
           (double)sent / (t1 - t0 > 1e-6 ? t1 - t0 : 1e-6));
    rc = stop_requested ? EXIT_RUNTIME : 0;
out:
    if (rk)
        rd_kafka_destroy(rk);
    if (fp)
        fclose(fp);
    for (size_t i = 0; ring && i < RING; i++)
        free(ring[i].value);
    free(ring);
    for (size_t i = 0; i < n_tmpls; i++) {
        free(tmpls[i].pieces);
        free(lines[i]);
    }
    free(tmpls);
    free(lines);
    free(sizes);
    free(buf);
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

static int cmd_passthrough(int argc, char **argv)
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
    static const char *const producer_conf[] = {
        "enable.idempotence", "true",   "acks", "all", "linger.ms", "1",
        "message.timeout.ms", "120000", NULL,
    };
    const char *consumer_conf[] = {
        "group.id",
        NULL,
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
    const char *brokers = NULL, *from = NULL, *to = NULL, *group = "ac-bench-passthrough";
    long count = -1, timeout_s = 600;
    struct pass_state st = {0};
    int64_t *stored = NULL;
    rd_kafka_t *consumer = NULL, *producer = NULL;
    rd_kafka_queue_t *queue = NULL;
    rd_kafka_topic_partition_list_t *topics = NULL;
    rd_kafka_message_t *msgs[CONSUME_BATCH];
    char errstr[512];
    long consumed = 0;
    int c, rc = EXIT_USAGE, partitions;
    double deadline;

    while ((c = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            brokers = optarg;
            break;
        case 'f':
            from = optarg;
            break;
        case 't':
            to = optarg;
            break;
        case 'g':
            group = optarg;
            break;
        case 'n':
            if (ac_tool_parse_long(optarg, 1, 1000000000L, &count) != 0) {
                ac_tool_error("--count: expected 1..1000000000, got '%s'", optarg);
                goto out;
            }
            break;
        case 'T':
            if (ac_tool_parse_long(optarg, 1, 86400, &timeout_s) != 0) {
                ac_tool_error("--timeout-s: expected 1..86400, got '%s'", optarg);
                goto out;
            }
            break;
        default:
            ac_tool_error("%s: unknown option or missing argument", argv[optind - 1]);
            goto out;
        }
    }
    if (!brokers || !from || !to || count < 0 || optind < argc) {
        usage(stderr);
        goto out;
    }

    rc = EXIT_RUNTIME;
    consumer_conf[1] = group;
    producer = ac_tool_kafka_new(RD_KAFKA_PRODUCER, brokers, PROG, producer_conf, on_passed, &st,
                                 errstr, sizeof(errstr));
    if (!producer) {
        ac_tool_error("%s", errstr);
        goto out;
    }
    partitions =
        ac_tool_kafka_partition_count(producer, from, METADATA_TIMEOUT_MS, errstr, sizeof(errstr));
    if (partitions < 0 || ac_tool_kafka_partition_count(producer, to, METADATA_TIMEOUT_MS, errstr,
                                                        sizeof(errstr)) < 0) {
        ac_tool_error("%s", errstr);
        goto out;
    }
    st.partitions = partitions;
    st.done = calloc((size_t)partitions, sizeof(*st.done));
    stored = calloc((size_t)partitions, sizeof(*stored));
    if (!st.done || !stored) {
        ac_tool_error("out of memory");
        goto out;
    }
    consumer = ac_tool_kafka_new(RD_KAFKA_CONSUMER, brokers, PROG, consumer_conf, NULL, NULL,
                                 errstr, sizeof(errstr));
    if (!consumer) {
        ac_tool_error("%s", errstr);
        goto out;
    }
    rd_kafka_poll_set_consumer(consumer);
    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, from, RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(consumer, topics) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        ac_tool_error("subscribe to %s failed", from);
        goto out;
    }
    queue = rd_kafka_queue_get_consumer(consumer);

    deadline = mono_s() + (double)timeout_s;
    while (st.delivered + st.failed < count && !stop_requested && mono_s() < deadline) {
        ssize_t got =
            consumed < count ? rd_kafka_consume_batch_queue(queue, 10, msgs, CONSUME_BATCH) : 0;
        for (ssize_t i = 0; i < got; i++) {
            rd_kafka_message_t *m = msgs[i];
            if (m->err) {
                if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                    ac_tool_error("consume: %s", rd_kafka_message_errstr(m));
            } else {
                uint64_t where =
                    ((uint64_t)m->partition << OPAQUE_OFFSET_BITS) | (uint64_t)m->offset;
                rd_kafka_resp_err_t err;
                for (;;) {
                    err = rd_kafka_producev(
                        producer, RD_KAFKA_V_TOPIC(to), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_KEY(m->key, m->key_len),
                        RD_KAFKA_V_OPAQUE((void *)(uintptr_t)where), RD_KAFKA_V_END);
                    if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        break;
                    rd_kafka_poll(producer, 10);
                }
                if (err) {
                    ac_tool_error("produce: %s", rd_kafka_err2str(err));
                    st.failed++;
                }
                if (consumed++ == 0)
                    st.first_s = mono_s();
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_poll(producer, got > 0 ? 0 : 10);
        store_offsets(consumer, from, &st, stored);
    }
    rd_kafka_flush(producer, 10000);
    store_offsets(consumer, from, &st, stored);
    if (st.failed) {
        ac_tool_error("%ld record(s) not passed through: %s", st.failed,
                      rd_kafka_err2str(st.last_err));
    } else if (st.delivered < count) {
        ac_tool_error("only %ld of %ld records passed through before the timeout", st.delivered,
                      count);
    } else {
        double secs = st.last_s - st.first_s;
        printf("records=%ld seconds=%.3f rate=%.0f\n", st.delivered, secs,
               (double)st.delivered / (secs > 1e-6 ? secs : 1e-6));
        rc = 0;
    }
    rd_kafka_commit(consumer, NULL, 0);
out:
    if (queue)
        rd_kafka_queue_destroy(queue);
    if (topics)
        rd_kafka_topic_partition_list_destroy(topics);
    if (consumer) {
        rd_kafka_consumer_close(consumer);
        rd_kafka_destroy(consumer);
    }
    if (producer)
        rd_kafka_destroy(producer);
    free(st.done);
    free(stored);
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
