/*
 * ac-kafka: a deliberately small Kafka command-line client for integration
 * tests and the demo. It produces records from lines of input, dumps a topic
 * as JSON lines, and reports a consumer group's committed offsets and lag.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <librdkafka/rdkafka.h>

#include "tool_cli.h"
#include "tool_kafka.h"

#ifndef AC_VERSION
#define AC_VERSION "0.0.0"
#endif

#define PROG                "ac-kafka"
#define EXIT_USAGE          2
#define EXIT_RUNTIME        1
#define METADATA_TIMEOUT_MS 10000
#define QUERY_TIMEOUT_MS    10000
#define STALL_GRACE_MS      10000
#define MAX_DR_ERRORS_SHOWN 5

struct produce_counts {
    long produced;
    long failed;
};

/* Top-level usage is shown on --help and on usage errors so callers can see
 * every subcommand at once. */
static void usage(FILE *fp)
{
    fprintf(fp, "usage:\n"
                "  " PROG " produce --brokers B --topic T [--key-field DOTTED.PATH]\n"
                "                   [--file PATH|-] [--partition N]\n"
                "  " PROG " consume --brokers B --topic T [--timeout-ms MS] [--max N]\n"
                "  " PROG " offsets --brokers B --topic T --group G\n"
                "  " PROG " --help | --version\n");
}

/* Deadlines are measured on the monotonic clock so wall-clock jumps during a
 * test cannot end a consume early or keep it running. */
static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Record values are arbitrary bytes; only well-formed UTF-8 (no overlong
 * forms, surrogates or code points past U+10FFFF) may be emitted as a JSON
 * string, everything else is shown as base64. */
static int is_valid_utf8(const unsigned char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        unsigned char c = s[i];
        size_t need, k;
        uint32_t cp;

        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (len - i - 1 < need)
            return 0;
        for (k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += need + 1;
    }
    return 1;
}

/* Binary values still need to reach the test harness intact, and base64 is
 * what Python decodes most easily. */
static char *base64_encode(const unsigned char *in, size_t len)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out, *p;
    size_t i;

    out = malloc(((len + 2) / 3) * 4 + 1);
    if (!out)
        return NULL;
    p = out;
    for (i = 0; i + 2 < len; i += 3) {
        *p++ = tbl[in[i] >> 2];
        *p++ = tbl[((in[i] & 0x03) << 4) | (in[i + 1] >> 4)];
        *p++ = tbl[((in[i + 1] & 0x0F) << 2) | (in[i + 2] >> 6)];
        *p++ = tbl[in[i + 2] & 0x3F];
    }
    if (i < len) {
        *p++ = tbl[in[i] >> 2];
        if (i + 1 < len) {
            *p++ = tbl[((in[i] & 0x03) << 4) | (in[i + 1] >> 4)];
            *p++ = tbl[(in[i + 1] & 0x0F) << 2];
        } else {
            *p++ = tbl[(in[i] & 0x03) << 4];
            *p++ = '=';
        }
        *p++ = '=';
    }
    *p = '\0';
    return out;
}

/* Delivery reports are the only reliable success signal with acks=all, so
 * the produce summary is built from them rather than from enqueue results. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    struct produce_counts *counts = opaque;

    (void)rk;
    if (msg->err) {
        if (counts->failed < MAX_DR_ERRORS_SHOWN)
            ac_tool_error("delivery failed: %s", rd_kafka_err2str(msg->err));
        counts->failed++;
    } else {
        counts->produced++;
    }
}

/* Tests partition records by a business id (e.g. order.id) the same way the
 * real producers do, so the key is looked up by a dotted path in the JSON
 * value. Lines that are not a JSON object with that field get no key. */
static char *extract_key(json_tokener *tok, const char *line, size_t len, const char *path)
{
    json_object *root = NULL, *cur;
    char *copy = NULL, *save = NULL, *part, *key = NULL;
    size_t end;

    if (len > INT_MAX)
        goto out;
    json_tokener_reset(tok);
    root = json_tokener_parse_ex(tok, line, (int)len);
    if (!root || json_tokener_get_error(tok) != json_tokener_success ||
        !json_object_is_type(root, json_type_object))
        goto out;
    for (end = json_tokener_get_parse_end(tok); end < len; end++) {
        if (!strchr(" \t\r\n", line[end]))
            goto out;
    }
    copy = strdup(path);
    if (!copy)
        goto out;
    cur = root;
    for (part = strtok_r(copy, ".", &save); part; part = strtok_r(NULL, ".", &save)) {
        if (!json_object_is_type(cur, json_type_object) ||
            !json_object_object_get_ex(cur, part, &cur))
            goto out;
    }
    if (json_object_is_type(cur, json_type_string))
        key = strdup(json_object_get_string(cur));
    else if (json_object_is_type(cur, json_type_int) || json_object_is_type(cur, json_type_double))
        key = strdup(json_object_to_json_string_ext(cur, JSON_C_TO_STRING_PLAIN));
out:
    free(copy);
    if (root)
        json_object_put(root);
    return key;
}

/* Enqueues one record, waiting for queue space when the local queue is full
 * so that large inputs are throttled rather than dropped. */
static rd_kafka_resp_err_t enqueue_record(rd_kafka_t *rk, rd_kafka_topic_t *rkt, int32_t partition,
                                          const char *value, size_t len, const char *key)
{
    rd_kafka_resp_err_t err;

    for (;;) {
        err = rd_kafka_producev(rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(partition),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_VALUE((void *)value, len),
                                RD_KAFKA_V_KEY(key, key ? strlen(key) : 0), RD_KAFKA_V_END);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return err;
        rd_kafka_poll(rk, 100);
    }
}

struct produce_args {
    const char *brokers, *topic, *key_field, *file;
    int32_t partition;
};

/* Reads produce's options into a. Returns 0, or -1 after one error line:
 * a usage error. */
static int produce_parse(int argc, char **argv, struct produce_args *a)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},   {"topic", required_argument, NULL, 't'},
        {"key-field", required_argument, NULL, 'k'}, {"file", required_argument, NULL, 'f'},
        {"partition", required_argument, NULL, 'p'}, {NULL, 0, NULL, 0},
    };
    long v;
    int c;

    while ((c = ac_tool_getopt(argc, argv, longopts, "unknown option for produce")) != -1) {
        if (c == 'b') {
            a->brokers = optarg;
        } else if (c == 't') {
            a->topic = optarg;
        } else if (c == 'k') {
            a->key_field = optarg;
        } else if (c == 'f') {
            a->file = optarg;
        } else if (c == 'p') {
            if (ac_tool_parse_long(optarg, 0, INT32_MAX, &v) != 0) {
                ac_tool_error("--partition: expected a non-negative integer, got '%s'", optarg);
                return -1;
            }
            a->partition = (int32_t)v;
        } else {
            return -1;
        }
    }
    if (ac_tool_no_operands(argc, argv) != 0)
        return -1;
    if (!a->brokers || !a->topic) {
        ac_tool_error("produce: --brokers and --topic are required");
        return -1;
    }
    const char *k = a->key_field;
    if (k && (*k == '\0' || k[0] == '.' || k[strlen(k) - 1] == '.' || strstr(k, ".."))) {
        ac_tool_error("--key-field: '%s' is not a dotted path", k);
        return -1;
    }
    return 0;
}

/* Enqueues one record per non-empty line of fp, keyed by tok's key field
 * when tok is given, counting what was enqueued and what was refused.
 * Returns 0, or -1 after a read error (reported). */
static int produce_lines(rd_kafka_t *rk, rd_kafka_topic_t *rkt, const struct produce_args *a,
                         FILE *fp, json_tokener *tok, long *submitted, long *rejected)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = 0;

    while ((n = getline(&line, &cap, fp)) >= 0) {
        size_t len = (size_t)n;
        char *key = NULL;
        rd_kafka_resp_err_t err;

        lineno++;
        if (len > 0 && line[len - 1] == '\n')
            len--;
        if (len == 0)
            continue;
        if (tok)
            key = extract_key(tok, line, len, a->key_field);
        err = enqueue_record(rk, rkt, a->partition, line, len, key);
        free(key);
        if (err) {
            ac_tool_error("line %ld: %s", lineno, rd_kafka_err2str(err));
            (*rejected)++;
        } else {
            (*submitted)++;
        }
        rd_kafka_poll(rk, 0);
    }
    if (ferror(fp)) {
        ac_tool_error("%s: read error: %s", a->file, strerror(errno));
        rc = -1;
    }
    free(line);
    return rc;
}

/* produce: one record per input line, then wait for every delivery report so
 * the printed counts are final. */
static int cmd_produce(int argc, char **argv)
{
    static const char *const settings[] = {
        "acks", "all", "message.max.bytes", "16777216", "linger.ms", "5", NULL,
    };
    struct produce_args a = {NULL, NULL, NULL, "-", RD_KAFKA_PARTITION_UA};
    struct produce_counts counts = {0, 0};
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_t *rkt = NULL;
    json_tokener *tok = NULL;
    FILE *fp = NULL;
    char errstr[512];
    long submitted = 0, rejected = 0;
    int rc = EXIT_USAGE, read_error;

    if (produce_parse(argc, argv, &a) != 0)
        goto out;
    rc = EXIT_RUNTIME;
    fp = strcmp(a.file, "-") == 0 ? stdin : fopen(a.file, "rb");
    if (!fp) {
        ac_tool_error("%s: %s", a.file, strerror(errno));
        goto out;
    }
    if (a.key_field && !(tok = json_tokener_new())) {
        ac_tool_error("out of memory");
        goto out;
    }
    rk = ac_tool_kafka_new(RD_KAFKA_PRODUCER, a.brokers, PROG, settings, on_delivery, &counts,
                           errstr, sizeof(errstr));
    if (!rk) {
        ac_tool_error("%s", errstr);
        goto out;
    }
    rkt = rd_kafka_topic_new(rk, a.topic, NULL);
    if (!rkt) {
        ac_tool_error("topic %s: %s", a.topic, rd_kafka_err2str(rd_kafka_last_error()));
        goto out;
    }
    read_error = produce_lines(rk, rkt, &a, fp, tok, &submitted, &rejected) != 0;
    while (counts.produced + counts.failed < submitted)
        rd_kafka_flush(rk, 1000);

    counts.failed += rejected;
    printf("produced=%ld failed=%ld\n", counts.produced, counts.failed);
    rc = (counts.failed == 0 && !read_error) ? 0 : EXIT_RUNTIME;
out:
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    if (rk)
        rd_kafka_destroy(rk);
    if (tok)
        json_tokener_free(tok);
    if (fp && fp != stdin)
        fclose(fp);
    return rc;
}

/* Adds bytes to a JSON object as a string when they are valid UTF-8, and as
 * null plus a base64 companion field otherwise, so nothing is lost. */
static int add_bytes_field(json_object *obj, const char *name, const char *b64_name,
                           const void *data, size_t len)
{
    char *b64 = NULL;
    int rc = -1;

    if (!data) {
        json_object_object_add(obj, name, NULL);
        rc = 0;
        goto out;
    }
    if (is_valid_utf8(data, len)) {
        json_object_object_add(obj, name, json_object_new_string_len(data, (int)len));
        rc = 0;
        goto out;
    }
    json_object_object_add(obj, name, NULL);
    if (b64_name) {
        b64 = base64_encode(data, len);
        if (!b64)
            goto out;
        json_object_object_add(obj, b64_name, json_object_new_string(b64));
    }
    rc = 0;
out:
    free(b64);
    return rc;
}

/* One JSON line per record is what the test harness parses; headers are
 * included because workers propagate trace and idempotency data in them. */
static int print_record(const rd_kafka_message_t *msg)
{
    json_object *obj = json_object_new_object(), *hobj = json_object_new_object();
    rd_kafka_headers_t *hdrs = NULL;
    const char *hname;
    const void *hval;
    size_t hsize, idx;
    int rc = -1;

    if (!obj || !hobj)
        goto out;
    json_object_object_add(obj, "topic", json_object_new_string(rd_kafka_topic_name(msg->rkt)));
    json_object_object_add(obj, "partition", json_object_new_int(msg->partition));
    json_object_object_add(obj, "offset", json_object_new_int64(msg->offset));
    if (add_bytes_field(obj, "key", "key_b64", msg->key, msg->key_len) != 0)
        goto out;
    if (rd_kafka_message_headers(msg, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (idx = 0; rd_kafka_header_get_all(hdrs, idx, &hname, &hval, &hsize) ==
                      RD_KAFKA_RESP_ERR_NO_ERROR;
             idx++) {
            if (add_bytes_field(hobj, hname, NULL, hval, hsize) != 0)
                goto out;
        }
    }
    json_object_object_add(obj, "headers", hobj);
    hobj = NULL;
    if (add_bytes_field(obj, "value", "value_b64", msg->payload, msg->len) != 0)
        goto out;
    json_object_object_add(obj, "size", json_object_new_int64((int64_t)msg->len));
    fputs(json_object_to_json_string_ext(obj,
                                         JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE),
          stdout);
    fputc('\n', stdout);
    fflush(stdout);
    rc = 0;
out:
    if (hobj)
        json_object_put(hobj);
    if (obj)
        json_object_put(obj);
    return rc;
}

struct consume_args {
    const char *brokers, *topic;
    long timeout_ms, max;
};

/* Reads consume's options into a. Returns 0, or -1 after one error line. */
static int consume_parse(int argc, char **argv, struct consume_args *a)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"timeout-ms", required_argument, NULL, 'T'},
        {"max", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = ac_tool_getopt(argc, argv, longopts, "unknown option for consume")) != -1) {
        if (c == 'b') {
            a->brokers = optarg;
        } else if (c == 't') {
            a->topic = optarg;
        } else if (c == 'T') {
            if (ac_tool_parse_long(optarg, 0, INT32_MAX, &a->timeout_ms) != 0) {
                ac_tool_error("--timeout-ms: expected a non-negative integer, got '%s'", optarg);
                return -1;
            }
        } else if (c == 'm') {
            if (ac_tool_parse_long(optarg, 1, LONG_MAX, &a->max) != 0) {
                ac_tool_error("--max: expected a positive integer, got '%s'", optarg);
                return -1;
            }
        } else {
            return -1;
        }
    }
    if (ac_tool_no_operands(argc, argv) != 0)
        return -1;
    if (!a->brokers || !a->topic) {
        ac_tool_error("consume: --brokers and --topic are required");
        return -1;
    }
    return 0;
}

/* Prints records until every partition reached its end and nothing came for
 * timeout_ms (or --max records were printed). eof[p] says partition p is at
 * its end. A topic that stops moving before the end is an error rather than
 * a short answer. Returns 0, or -1 after reporting. */
static int consume_read(rd_kafka_t *rk, const struct consume_args *a, char *eof, int partition_cnt)
{
    int64_t last_record, last_event, now;
    long count = 0;
    int eof_cnt = 0;

    last_record = last_event = now_ms();
    while (a->max == 0 || count < a->max) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 100);

        now = now_ms();
        if (msg) {
            int p = msg->partition;

            if (msg->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                if (p >= 0 && p < partition_cnt && !eof[p]) {
                    eof[p] = 1;
                    eof_cnt++;
                }
                last_event = now;
            } else if (msg->err) {
                ac_tool_error("consume: %s", rd_kafka_message_errstr(msg));
            } else {
                if (print_record(msg) != 0) {
                    rd_kafka_message_destroy(msg);
                    ac_tool_error("out of memory");
                    return -1;
                }
                count++;
                if (p >= 0 && p < partition_cnt && eof[p]) {
                    eof[p] = 0;
                    eof_cnt--;
                }
                last_record = last_event = now;
            }
            rd_kafka_message_destroy(msg);
        }
        if (eof_cnt == partition_cnt && now - last_record >= a->timeout_ms)
            break;
        if (eof_cnt < partition_cnt && now - last_event >= a->timeout_ms + STALL_GRACE_MS) {
            ac_tool_error("consume: no progress for %ld ms before reaching the end of %s",
                          a->timeout_ms + STALL_GRACE_MS, a->topic);
            return -1;
        }
    }
    return 0;
}

/* consume: read a whole topic from the beginning without joining a group, so
 * inspecting a topic never disturbs the offsets of the workers under test. */
static int cmd_consume(int argc, char **argv)
{
    /* librdkafka's assign() insists on a group.id even though the group is
     * never joined; a per-process name with auto commit off keeps it inert. */
    const char *settings[] = {
        "group.id",
        NULL,
        "enable.partition.eof",
        "true",
        "enable.auto.commit",
        "false",
        "enable.auto.offset.store",
        "false",
        NULL,
    };
    struct consume_args a = {NULL, NULL, 3000, 0};
    char group[64], errstr[512];
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_resp_err_t err;
    char *eof = NULL;
    int i, partition_cnt, rc = EXIT_USAGE;

    if (consume_parse(argc, argv, &a) != 0)
        goto out;
    rc = EXIT_RUNTIME;
    snprintf(group, sizeof(group), PROG "-consume-%ld-%lld", (long)getpid(), (long long)now_ms());
    settings[1] = group;
    rk = ac_tool_kafka_new(RD_KAFKA_CONSUMER, a.brokers, PROG, settings, NULL, NULL, errstr,
                           sizeof(errstr));
    if (!rk) {
        ac_tool_error("%s", errstr);
        goto out;
    }
    partition_cnt =
        ac_tool_kafka_partition_count(rk, a.topic, METADATA_TIMEOUT_MS, errstr, sizeof(errstr));
    if (partition_cnt < 0) {
        ac_tool_error("%s", errstr);
        goto out;
    }
    eof = calloc((size_t)partition_cnt, 1);
    parts = rd_kafka_topic_partition_list_new(partition_cnt);
    if (!eof || !parts) {
        ac_tool_error("out of memory");
        goto out;
    }
    for (i = 0; i < partition_cnt; i++)
        rd_kafka_topic_partition_list_add(parts, a.topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
    err = rd_kafka_assign(rk, parts);
    if (err) {
        ac_tool_error("assign: %s", rd_kafka_err2str(err));
        goto out;
    }
    if (consume_read(rk, &a, eof, partition_cnt) == 0)
        rc = 0;
out:
    if (rk)
        rd_kafka_consumer_close(rk);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (rk)
        rd_kafka_destroy(rk);
    free(eof);
    return rc;
}

struct offsets_args {
    const char *brokers, *topic, *group;
};

/* Reads offsets' options into a. Returns 0, or -1 after one error line. */
static int offsets_parse(int argc, char **argv, struct offsets_args *a)
{
    static const struct option longopts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"group", required_argument, NULL, 'g'},
        {NULL, 0, NULL, 0},
    };
    int c;

    while ((c = ac_tool_getopt(argc, argv, longopts, "unknown option for offsets")) != -1) {
        if (c == 'b')
            a->brokers = optarg;
        else if (c == 't')
            a->topic = optarg;
        else if (c == 'g')
            a->group = optarg;
        else
            return -1;
    }
    if (ac_tool_no_operands(argc, argv) != 0)
        return -1;
    if (!a->brokers || !a->topic || !a->group || *a->group == '\0') {
        ac_tool_error("offsets: --brokers, --topic and --group are required");
        return -1;
    }
    return 0;
}

/* Adds each partition's committed offset and high watermark to committed
 * and high (keyed by partition number) and returns the group's total lag, a
 * partition without a commit counting from 0; -1 after reporting. */
static int64_t offsets_collect(rd_kafka_t *rk, const char *topic,
                               const rd_kafka_topic_partition_list_t *parts, json_object *committed,
                               json_object *high_obj)
{
    int64_t lag = 0;

    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *tp = &parts->elems[i];
        int64_t low, high, base;
        char pkey[16];

        if (tp->err) {
            ac_tool_error("committed offset for %s[%" PRId32 "]: %s", topic, tp->partition,
                          rd_kafka_err2str(tp->err));
            return -1;
        }
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(rk, topic, tp->partition, &low,
                                                                   &high, QUERY_TIMEOUT_MS);
        if (err) {
            ac_tool_error("watermarks for %s[%" PRId32 "]: %s", topic, tp->partition,
                          rd_kafka_err2str(err));
            return -1;
        }
        snprintf(pkey, sizeof(pkey), "%" PRId32, tp->partition);
        json_object_object_add(committed, pkey, json_object_new_int64(tp->offset));
        json_object_object_add(high_obj, pkey, json_object_new_int64(high));
        base = tp->offset < 0 ? 0 : tp->offset;
        if (high > base)
            lag += high - base;
    }
    return lag;
}

/* offsets: tests assert that workers committed what they processed, so this
 * reports committed offsets, high watermarks and the total lag of a group. */
static int cmd_offsets(int argc, char **argv)
{
    struct offsets_args a = {NULL, NULL, NULL};
    const char *settings[] = {"group.id", NULL, "enable.auto.commit", "false", NULL};
    char errstr[512];
    rd_kafka_t *rk = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    json_object *out_obj = NULL, *committed_obj, *high_obj;
    rd_kafka_resp_err_t err;
    int64_t lag;
    int i, partition_cnt, rc = EXIT_USAGE;

    if (offsets_parse(argc, argv, &a) != 0)
        goto out;
    rc = EXIT_RUNTIME;
    settings[1] = a.group;
    rk = ac_tool_kafka_new(RD_KAFKA_CONSUMER, a.brokers, PROG, settings, NULL, NULL, errstr,
                           sizeof(errstr));
    if (!rk) {
        ac_tool_error("%s", errstr);
        goto out;
    }
    partition_cnt =
        ac_tool_kafka_partition_count(rk, a.topic, METADATA_TIMEOUT_MS, errstr, sizeof(errstr));
    if (partition_cnt < 0) {
        ac_tool_error("%s", errstr);
        goto out;
    }
    parts = rd_kafka_topic_partition_list_new(partition_cnt);
    out_obj = json_object_new_object();
    committed_obj = json_object_new_object();
    high_obj = json_object_new_object();
    if (!parts || !out_obj || !committed_obj || !high_obj) {
        if (committed_obj)
            json_object_put(committed_obj);
        if (high_obj)
            json_object_put(high_obj);
        ac_tool_error("out of memory");
        goto out;
    }
    json_object_object_add(out_obj, "committed", committed_obj);
    json_object_object_add(out_obj, "high", high_obj);
    for (i = 0; i < partition_cnt; i++)
        rd_kafka_topic_partition_list_add(parts, a.topic, i);
    err = rd_kafka_committed(rk, parts, QUERY_TIMEOUT_MS);
    if (err) {
        ac_tool_error("committed offsets for group %s: %s", a.group, rd_kafka_err2str(err));
        goto out;
    }
    if ((lag = offsets_collect(rk, a.topic, parts, committed_obj, high_obj)) < 0)
        goto out;
    json_object_object_add(out_obj, "lag", json_object_new_int64(lag));
    printf("%s\n", json_object_to_json_string_ext(out_obj, JSON_C_TO_STRING_PLAIN));
    rc = 0;
out:
    if (out_obj)
        json_object_put(out_obj);
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (rk)
        rd_kafka_destroy(rk);
    return rc;
}

/* Dispatches to a subcommand; each subcommand parses its own options so the
 * usage errors can name the option that was wrong. */
int main(int argc, char **argv)
{
    const char *cmd;

    ac_tool_cli_init(PROG);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf(PROG " " AC_VERSION " (librdkafka %s)\n", rd_kafka_version_str());
        return 0;
    }
    opterr = 0;
    optind = 1;
    if (strcmp(cmd, "produce") == 0)
        return cmd_produce(argc - 1, argv + 1);
    if (strcmp(cmd, "consume") == 0)
        return cmd_consume(argc - 1, argv + 1);
    if (strcmp(cmd, "offsets") == 0)
        return cmd_offsets(argc - 1, argv + 1);
    ac_tool_error("%s: unknown command (expected produce, consume or offsets)", cmd);
    return EXIT_USAGE;
}
