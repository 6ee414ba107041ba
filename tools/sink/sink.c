/*
 * ac-sink: an HTTP endpoint (on loopback unless --host says otherwise) that
 * stands in for the store's webhook receiver and for email/SMS providers
 * during the demo, the tests and the docker compose stack.
 * It records what customers would receive, honours Idempotency-Key the way
 * real providers do, can verify Standard Webhooks signatures, and can inject
 * slowness and failures so that retry paths get exercised. The injected
 * faults start as the flags say and can be changed while it runs (POST
 * /faults), so that a test can stage a provider outage and its recovery
 * without a restart that would forget the idempotency keys.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "delay.h"
#include "tool_cli.h"

#ifndef AC_VERSION
#define AC_VERSION "0.0.0"
#endif

#define PROG               "ac-sink"
#define DEFAULT_HOST       "127.0.0.1"
#define MAX_BODY           (4u * 1024u * 1024u)
#define MAX_STORED_BYTES   ((size_t)1024 * 1024 * 1024)
#define MAX_SECRET_BYTES   1024
#define MAX_DELAY_MS       600000
#define FAULTS_PATH        "/faults"
#define JSON_PLAIN         (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)
#define HDR_IDEMPOTENCY    "Idempotency-Key"
#define HDR_WEBHOOK_ID     "webhook-id"
#define HDR_WEBHOOK_TS     "webhook-timestamp"
#define HDR_WEBHOOK_SIG    "webhook-signature"
#define CONTENT_TYPE_JSON  "application/json"
#define CONTENT_TYPE_PLAIN "text/plain; charset=utf-8"

struct options {
    const char *host;
    int ipv6;
    struct in_addr addr4;
    struct in6_addr addr6;
    unsigned int port;
    const char *port_file;
    const char *log_path;
    int print;
    unsigned int delay_ms;
    double fail_rate;
    unsigned int fail_status;
    unsigned char *secret;
    size_t secret_len;
    uint64_t seed;
    int seed_given;
};

/* The injected faults. They live in the shared state rather than in the
 * options because POST /faults changes them while requests are in flight. */
struct faults {
    unsigned int delay_ms;
    double fail_rate;
    unsigned int fail_status;
};

/* Open-addressing set of idempotency keys that were already delivered. */
struct key_set {
    char **slots;
    size_t cap;
    size_t count;
};

/* Everything shared between connection threads; guarded by lock. */
struct sink_state {
    pthread_mutex_t lock;
    const struct options *opts;
    uint64_t requests;
    uint64_t delivered;
    uint64_t replays;
    uint64_t failed_injected;
    uint64_t bad_signatures;
    uint64_t no_key;
    uint64_t unstored;
    struct faults faults;
    struct key_set keys;
    char **messages;
    size_t message_count;
    size_t message_cap;
    size_t stored_bytes;
    json_object *by_kind;
    uint64_t rng;
    FILE *log;
    sink_delay_t *delay; /* suspends delayed requests; thread-safe itself */
};

/* Per-request upload buffer, kept in MHD's connection context. */
struct request_ctx {
    char *body;
    size_t len;
    size_t cap;
    int too_large;
    int delayed; /* its delay was waited out, or is being */
};

/* Usage goes to stdout for --help and to stderr for mistakes. */
static void usage(FILE *fp)
{
    fprintf(fp,
            "usage: " PROG " [options]\n"
            "  --host ADDR         listen on this IPv4 or IPv6 address (default " DEFAULT_HOST ";\n"
            "                      0.0.0.0 or :: for every interface)\n"
            "  --port N            listen on port N (0 = any free port, default 0)\n"
            "  --port-file PATH    write the bound port to PATH once listening\n"
            "  --log PATH          append one JSON line per accepted POST\n"
            "  --print             show each first-time delivery on stdout\n"
            "  --delay-ms N        wait N ms before answering every POST\n"
            "  --fail-rate F       answer --fail-status with probability F (0..1)\n"
            "  --fail-status N     status for injected failures (default 503)\n"
            "  --secret whsec_...  verify Standard Webhooks signatures\n"
            "  --seed N            seed for the injected failures\n"
            "  --help | --version\n"
            "Endpoints: POST any path but /faults (a delivery); GET /stats, /messages,\n"
            "/healthz; GET /faults shows the injected faults and POST /faults changes\n"
            "them at once, e.g. {\"fail_rate\":1.0,\"fail_status\":503,\"delay_ms\":0}\n"
            "(any subset of the fields; the same ranges as the flags).\n");
}

/* Numeric options must be whole numbers in range so a typo in a test script
 * is reported instead of silently becoming zero. */
static int parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    unsigned long v;

    if (*s == '-' || *s == '\0')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return -1;
    *out = v;
    return 0;
}

/* The listen address is a numeric IPv4 or IPv6 address (no name lookup), so
 * what the sink binds to is exactly what the command line says. */
static int parse_host(const char *s, struct options *opts)
{
    if (inet_pton(AF_INET, s, &opts->addr4) == 1) {
        opts->ipv6 = 0;
    } else if (inet_pton(AF_INET6, s, &opts->addr6) == 1) {
        opts->ipv6 = 1;
    } else {
        return -1;
    }
    opts->host = s;
    return 0;
}

/* Secrets arrive base64-encoded; the decoder is strict so that a truncated
 * secret is a usage error rather than a stream of confusing 401s. */
static int base64_decode(const char *in, unsigned char *out, size_t out_cap, size_t *out_len)
{
    size_t len = strlen(in), i, n = 0;
    uint32_t acc = 0;
    int bits = 0, pad = 0;

    for (i = 0; i < len; i++) {
        char c = in[i];
        int v;

        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '+' || c == '-')
            v = 62;
        else if (c == '/' || c == '_')
            v = 63;
        else if (c == '=') {
            pad++;
            continue;
        } else
            return -1;
        if (pad)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n >= out_cap)
                return -1;
            out[n++] = (unsigned char)(acc >> bits);
        }
    }
    if (pad > 2 || n == 0)
        return -1;
    *out_len = n;
    return 0;
}

/* The signature header carries base64 MACs, so the computed MAC is encoded
 * the same way for comparison. */
static void base64_encode(const unsigned char *in, size_t len, char *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i;

    for (i = 0; i + 2 < len; i += 3) {
        *out++ = tbl[in[i] >> 2];
        *out++ = tbl[((in[i] & 0x03) << 4) | (in[i + 1] >> 4)];
        *out++ = tbl[((in[i + 1] & 0x0F) << 2) | (in[i + 2] >> 6)];
        *out++ = tbl[in[i + 2] & 0x3F];
    }
    if (i < len) {
        *out++ = tbl[in[i] >> 2];
        if (i + 1 < len) {
            *out++ = tbl[((in[i] & 0x03) << 4) | (in[i + 1] >> 4)];
            *out++ = tbl[(in[i + 1] & 0x0F) << 2];
        } else {
            *out++ = tbl[(in[i] & 0x03) << 4];
            *out++ = '=';
        }
        *out++ = '=';
    }
    *out = '\0';
}

/* Bodies that are not JSON are still recorded as strings, and JSON strings
 * must be valid UTF-8, so invalid sequences become U+FFFD. */
static char *sanitize_utf8(const unsigned char *s, size_t len, size_t *out_len)
{
    char *out = malloc(len * 3 + 1), *p = out;
    size_t i = 0;

    if (!out)
        return NULL;
    while (i < len) {
        unsigned char c = s[i];
        size_t need = 0, k;
        uint32_t cp = 0;
        int ok = 1;

        if (c < 0x80) {
            *p++ = (char)c;
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
            ok = 0;
        }
        if (ok && len - i - 1 < need)
            ok = 0;
        for (k = 1; ok && k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                ok = 0;
            else
                cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (ok && ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
                   (cp >= 0xD800 && cp <= 0xDFFF)))
            ok = 0;
        if (ok) {
            memcpy(p, s + i, need + 1);
            p += need + 1;
            i += need + 1;
        } else {
            memcpy(p, "\xEF\xBF\xBD", 3);
            p += 3;
            i++;
        }
    }
    *p = '\0';
    *out_len = (size_t)(p - out);
    return out;
}

/* FNV-1a is plenty for a test-only set of short keys. */
static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL;

    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return h;
}

/* Returns the slot holding key, or the empty slot where it would go. */
static char **key_set_slot(struct key_set *set, const char *key)
{
    size_t mask = set->cap - 1, i = (size_t)hash_str(key) & mask;

    while (set->slots[i] && strcmp(set->slots[i], key) != 0)
        i = (i + 1) & mask;
    return &set->slots[i];
}

/* Growing keeps probe chains short as tests push hundreds of thousands of
 * deliveries through the sink. */
static int key_set_grow(struct key_set *set)
{
    struct key_set bigger;
    size_t i;

    bigger.cap = set->cap ? set->cap * 2 : 1024;
    bigger.count = set->count;
    bigger.slots = calloc(bigger.cap, sizeof(*bigger.slots));
    if (!bigger.slots)
        return -1;
    for (i = 0; i < set->cap; i++) {
        if (set->slots[i])
            *key_set_slot(&bigger, set->slots[i]) = set->slots[i];
    }
    free(set->slots);
    *set = bigger;
    return 0;
}

/* Idempotency is the property under test, so lookups must be exact. */
static int key_set_contains(struct key_set *set, const char *key)
{
    return set->cap && *key_set_slot(set, key) != NULL;
}

/* Records a delivered key; the caller has checked it is not present. */
static int key_set_add(struct key_set *set, const char *key)
{
    char **slot, *copy;

    if ((set->count + 1) * 10 > set->cap * 7 && key_set_grow(set) != 0)
        return -1;
    copy = strdup(key);
    if (!copy)
        return -1;
    slot = key_set_slot(set, key);
    *slot = copy;
    set->count++;
    return 0;
}

/* Frees every stored key at shutdown so sanitizer runs stay clean. */
static void key_set_free(struct key_set *set)
{
    size_t i;

    for (i = 0; i < set->cap; i++)
        free(set->slots[i]);
    free(set->slots);
    set->slots = NULL;
    set->cap = set->count = 0;
}

/* xorshift64* is deterministic for a given --seed, which makes a failing
 * injected-failure test reproducible. Call with the state lock held. */
static double next_random(struct sink_state *st)
{
    st->rng ^= st->rng >> 12;
    st->rng ^= st->rng << 25;
    st->rng ^= st->rng >> 27;
    return (double)((st->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* Log lines carry wall-clock time in UTC so they line up with worker logs. */
static void format_now(char *buf, size_t len)
{
    struct timespec ts;
    struct tm tm;
    char stamp[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", stamp, (int)(ts.tv_nsec / 1000000) % 1000);
}

/* Parses the body as JSON when it is exactly one JSON document, otherwise
 * keeps it as a (UTF-8 sanitized) string, so every delivery is viewable. */
static json_object *parse_body(const char *body, size_t len)
{
    json_tokener *tok = NULL;
    json_object *obj = NULL;
    char *clean = NULL;
    size_t end, clean_len;

    tok = json_tokener_new();
    if (!tok)
        goto out;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    if (len > 0 && len <= INT_MAX) {
        obj = json_tokener_parse_ex(tok, body, (int)len);
        if (obj && json_tokener_get_error(tok) == json_tokener_success) {
            for (end = json_tokener_get_parse_end(tok); end < len; end++) {
                if (!strchr(" \t\r\n", body[end]))
                    break;
            }
            if (end == len)
                goto out;
        }
        if (obj)
            json_object_put(obj);
        obj = NULL;
    }
    clean = sanitize_utf8((const unsigned char *)body, len, &clean_len);
    if (clean)
        obj = json_object_new_string_len(clean, (int)clean_len);
out:
    free(clean);
    if (tok)
        json_tokener_free(tok);
    return obj;
}

/* Providers use the Standard Webhooks scheme: HMAC-SHA256 over
 * "id.timestamp.body", with any of the space-separated "v1,<base64>"
 * entries in webhook-signature allowed to match (for key rotation). */
static int signature_valid(const struct options *opts, struct MHD_Connection *conn,
                           const char *body, size_t body_len)
{
    const char *id = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, HDR_WEBHOOK_ID);
    const char *ts = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, HDR_WEBHOOK_TS);
    const char *sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, HDR_WEBHOOK_SIG);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    char expected[2 * EVP_MAX_MD_SIZE], *signed_buf = NULL;
    size_t id_len, ts_len, expected_len, total;
    const char *p;
    int valid = 0;

    if (!id || !ts || !sig)
        goto out;
    id_len = strlen(id);
    ts_len = strlen(ts);
    total = id_len + ts_len + body_len + 2;
    signed_buf = malloc(total ? total : 1);
    if (!signed_buf)
        goto out;
    memcpy(signed_buf, id, id_len);
    signed_buf[id_len] = '.';
    memcpy(signed_buf + id_len + 1, ts, ts_len);
    signed_buf[id_len + 1 + ts_len] = '.';
    if (body_len)
        memcpy(signed_buf + id_len + ts_len + 2, body, body_len);
    if (!HMAC(EVP_sha256(), opts->secret, (int)opts->secret_len, (unsigned char *)signed_buf, total,
              mac, &mac_len))
        goto out;
    base64_encode(mac, mac_len, expected);
    expected_len = strlen(expected);

    for (p = sig; *p;) {
        const char *start, *end;

        while (*p == ' ')
            p++;
        start = p;
        while (*p && *p != ' ')
            p++;
        end = p;
        if ((size_t)(end - start) == expected_len + 3 && strncmp(start, "v1,", 3) == 0 &&
            CRYPTO_memcmp(start + 3, expected, expected_len) == 0)
            valid = 1;
    }
out:
    free(signed_buf);
    return valid;
}

/* A response must always be queued or the client hangs; this wraps the
 * create/queue/destroy sequence, optionally with one extra header. */
static enum MHD_Result send_response(struct MHD_Connection *conn, unsigned int status,
                                     const char *content_type, char *body, size_t len,
                                     enum MHD_ResponseMemoryMode mode, const char *extra_name,
                                     const char *extra_value)
{
    struct MHD_Response *resp;
    enum MHD_Result ret;

    resp = MHD_create_response_from_buffer(len, body, mode);
    if (!resp) {
        if (mode == MHD_RESPMEM_MUST_FREE)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (extra_name)
        MHD_add_response_header(resp, extra_name, extra_value);
    ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* Small constant JSON answers share one helper to keep handlers short. */
static enum MHD_Result send_json_const(struct MHD_Connection *conn, unsigned int status,
                                       const char *json)
{
    return send_response(conn, status, CONTENT_TYPE_JSON, (char *)json, strlen(json),
                         MHD_RESPMEM_PERSISTENT, NULL, NULL);
}

/* Serializes a JSON object into a freshly allocated response body. */
static enum MHD_Result send_json_object(struct MHD_Connection *conn, unsigned int status,
                                        json_object *obj)
{
    size_t len;
    const char *text = json_object_to_json_string_length(obj, JSON_PLAIN, &len);
    char *copy = text ? strndup(text, len) : NULL;

    if (!copy)
        return send_json_const(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "{\"error\":\"oom\"}");
    return send_response(conn, status, CONTENT_TYPE_JSON, copy, len, MHD_RESPMEM_MUST_FREE, NULL,
                         NULL);
}

/* GET /stats: the counters tests assert on, taken under the lock so they
 * are mutually consistent. */
static enum MHD_Result handle_stats(struct sink_state *st, struct MHD_Connection *conn)
{
    json_object *obj = json_object_new_object(), *kinds = NULL;
    enum MHD_Result ret;

    pthread_mutex_lock(&st->lock);
    json_object_object_add(obj, "requests", json_object_new_int64((int64_t)st->requests));
    json_object_object_add(obj, "delivered", json_object_new_int64((int64_t)st->delivered));
    json_object_object_add(obj, "replays", json_object_new_int64((int64_t)st->replays));
    json_object_object_add(obj, "failed_injected",
                           json_object_new_int64((int64_t)st->failed_injected));
    json_object_object_add(obj, "bad_signatures",
                           json_object_new_int64((int64_t)st->bad_signatures));
    json_object_object_add(obj, "no_key", json_object_new_int64((int64_t)st->no_key));
    json_object_deep_copy(st->by_kind, &kinds, NULL);
    if (st->unstored)
        json_object_object_add(obj, "unstored", json_object_new_int64((int64_t)st->unstored));
    pthread_mutex_unlock(&st->lock);
    json_object_object_add(obj, "by_kind", kinds ? kinds : json_object_new_object());
    ret = send_json_object(conn, MHD_HTTP_OK, obj);
    json_object_put(obj);
    return ret;
}

/* GET /messages: every stored delivery in arrival order. Messages are kept
 * pre-serialized, so this is a join rather than a re-encode. */
static enum MHD_Result handle_messages(struct sink_state *st, struct MHD_Connection *conn)
{
    size_t i, total = 2, off = 0;
    char *buf;

    pthread_mutex_lock(&st->lock);
    for (i = 0; i < st->message_count; i++)
        total += strlen(st->messages[i]) + 1;
    buf = malloc(total + 1);
    if (buf) {
        buf[off++] = '[';
        for (i = 0; i < st->message_count; i++) {
            size_t len = strlen(st->messages[i]);

            if (i)
                buf[off++] = ',';
            memcpy(buf + off, st->messages[i], len);
            off += len;
        }
        buf[off++] = ']';
        buf[off] = '\0';
    }
    pthread_mutex_unlock(&st->lock);
    if (!buf)
        return send_json_const(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "{\"error\":\"oom\"}");
    return send_response(conn, MHD_HTTP_OK, CONTENT_TYPE_JSON, buf, off, MHD_RESPMEM_MUST_FREE,
                         NULL, NULL);
}

/* Looks a display field up at the top level, then inside a nested
 * "message" object, since provider payloads differ in shape. */
static const char *display_field(json_object *body, const char *name)
{
    json_object *v, *inner;

    if (!json_object_is_type(body, json_type_object))
        return NULL;
    if (json_object_object_get_ex(body, name, &v) && !json_object_is_type(v, json_type_null))
        return json_object_get_string(v);
    if (json_object_object_get_ex(body, "message", &inner) &&
        json_object_is_type(inner, json_type_object) &&
        json_object_object_get_ex(inner, name, &v) && !json_object_is_type(v, json_type_null))
        return json_object_get_string(v);
    return NULL;
}

/* --print is for humans watching the demo: one box per message showing what
 * the customer would actually see. Called with the state lock held so boxes
 * from concurrent deliveries never interleave. */
static void print_delivery(json_object *body)
{
    const char *kind = display_field(body, "kind"), *channel = display_field(body, "channel");
    const char *to = display_field(body, "to"), *subject = display_field(body, "subject");
    const char *text = display_field(body, "text");

    if (!text)
        text = display_field(body, "body");
    if (!text && json_object_is_type(body, json_type_string))
        text = json_object_get_string(body);
    printf("\xe2\x94\x80\xe2\x94\x80 %s \xc2\xb7 %s \xe2\x86\x92 %s \xe2\x94\x80\xe2\x94\x80\n",
           kind ? kind : "?", channel ? channel : "?", to ? to : "?");
    if (subject)
        printf("Subject: %s\n", subject);
    printf("%s\n\n", text ? text : json_object_to_json_string_ext(body, JSON_PLAIN));
    fflush(stdout);
}

/* One JSON line per accepted POST lets a test reconstruct exactly what was
 * sent, including replays and the signature headers. Lock held. */
static void log_delivery(struct sink_state *st, struct MHD_Connection *conn, const char *url,
                         const char *key, int replay, json_object *body)
{
    static const char *const names[] = {HDR_WEBHOOK_ID, HDR_WEBHOOK_TS, HDR_WEBHOOK_SIG};
    json_object *line = json_object_new_object(), *hdrs = json_object_new_object();
    char now[64];
    size_t i;

    format_now(now, sizeof(now));
    json_object_object_add(line, "received_at", json_object_new_string(now));
    json_object_object_add(line, "path", json_object_new_string(url));
    json_object_object_add(line, "idempotency_key", key ? json_object_new_string(key) : NULL);
    json_object_object_add(line, "replay", json_object_new_boolean(replay));
    json_object_object_add(line, "status", json_object_new_int(MHD_HTTP_OK));
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, names[i]);

        if (v)
            json_object_object_add(hdrs, names[i], json_object_new_string(v));
    }
    json_object_object_add(line, "headers", hdrs);
    json_object_object_add(line, "body", json_object_get(body));
    fputs(json_object_to_json_string_ext(line, JSON_PLAIN), st->log);
    fputc('\n', st->log);
    fflush(st->log);
    json_object_put(line);
}

/* Stores a first-time delivery for GET /messages with its idempotency key
 * attached. Storage is capped so a runaway test cannot exhaust memory; past
 * the cap deliveries are still counted. Lock held. */
static void store_delivery(struct sink_state *st, const char *key, json_object *body)
{
    json_object *copy = NULL, *wrapper = NULL;
    const char *text;
    char now[64];
    char *saved;
    size_t len;

    if (json_object_is_type(body, json_type_object)) {
        if (json_object_deep_copy(body, &copy, NULL) != 0)
            goto out;
        wrapper = copy;
    } else {
        wrapper = json_object_new_object();
        json_object_object_add(wrapper, "body", json_object_get(body));
    }
    json_object_object_add(wrapper, "_idempotency_key", key ? json_object_new_string(key) : NULL);
    /* When it arrived, so tests can hold scheduled messages to their due time. */
    format_now(now, sizeof(now));
    json_object_object_add(wrapper, "_received_at", json_object_new_string(now));
    text = json_object_to_json_string_length(wrapper, JSON_PLAIN, &len);
    if (!text || st->stored_bytes + len > MAX_STORED_BYTES) {
        if (st->unstored++ == 0)
            fprintf(stderr, PROG ": message store full; further bodies are counted only\n");
        goto out;
    }
    if (st->message_count == st->message_cap) {
        size_t ncap = st->message_cap ? st->message_cap * 2 : 1024;
        char **grown = realloc(st->messages, ncap * sizeof(*grown));

        if (!grown)
            goto out;
        st->messages = grown;
        st->message_cap = ncap;
    }
    saved = strndup(text, len);
    if (!saved)
        goto out;
    st->messages[st->message_count++] = saved;
    st->stored_bytes += len;
out:
    if (wrapper)
        json_object_put(wrapper);
}

/* Counts a delivered message under its "kind" so tests can check the mix of
 * notifications without fetching every body. Lock held. */
static void count_kind(struct sink_state *st, json_object *body)
{
    json_object *kind, *counter;
    const char *name;

    if (!json_object_is_type(body, json_type_object) ||
        !json_object_object_get_ex(body, "kind", &kind) ||
        !json_object_is_type(kind, json_type_string))
        return;
    name = json_object_get_string(kind);
    if (json_object_object_get_ex(st->by_kind, name, &counter))
        json_object_int_inc(counter, 1);
    else
        json_object_object_add(st->by_kind, name, json_object_new_int64(1));
}

/* Errors of the control endpoint name what was wrong, so that a test that
 * sends a bad setting fails with a message rather than a bare 400. The text
 * goes through json-c so that any quoting in it stays valid JSON. */
static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned int status, const char *fmt,
                                  ...)
{
    json_object *obj = json_object_new_object();
    enum MHD_Result ret;
    char text[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if (!obj)
        return send_json_const(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "{\"error\":\"oom\"}");
    json_object_object_add(obj, "error", json_object_new_string(text));
    ret = send_json_object(conn, status, obj);
    json_object_put(obj);
    return ret;
}

/* Answers with the faults in force. The caller copies them out under the
 * lock, so the three fields always belong to one setting. */
static enum MHD_Result send_faults(struct MHD_Connection *conn, const struct faults *f)
{
    json_object *obj = json_object_new_object();
    enum MHD_Result ret;

    if (!obj)
        return send_json_const(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "{\"error\":\"oom\"}");
    json_object_object_add(obj, "fail_rate", json_object_new_double(f->fail_rate));
    json_object_object_add(obj, "fail_status", json_object_new_int64((int64_t)f->fail_status));
    json_object_object_add(obj, "delay_ms", json_object_new_int64((int64_t)f->delay_ms));
    ret = send_json_object(conn, MHD_HTTP_OK, obj);
    json_object_put(obj);
    return ret;
}

/* GET /faults: what is injected right now. */
static enum MHD_Result handle_faults_get(struct sink_state *st, struct MHD_Connection *conn)
{
    struct faults now;

    pthread_mutex_lock(&st->lock);
    now = st->faults;
    pthread_mutex_unlock(&st->lock);
    return send_faults(conn, &now);
}

/* A POST /faults body names only the fields it changes; the rest keep the
 * value they have when the change is applied, not when it was parsed, so
 * two concurrent changes of different fields both take effect. */
struct faults_change {
    struct faults value;
    int has_delay_ms;
    int has_fail_rate;
    int has_fail_status;
};

/* Reads a POST /faults body with the same ranges as the flags, so that a
 * test cannot set through the endpoint what the command line would refuse.
 * Every field is checked before any is applied: a bad request changes
 * nothing. Returns 0, or -1 with the reason in why. */
static int parse_faults_change(json_object *obj, struct faults_change *out, char *why, size_t whysz)
{
    memset(out, 0, sizeof(*out));
    if (!json_object_is_type(obj, json_type_object)) {
        snprintf(why, whysz,
                 "expected a JSON object such as "
                 "{\"fail_rate\":1.0,\"fail_status\":503,\"delay_ms\":0}");
        return -1;
    }
    json_object_object_foreach(obj, name, v)
    {
        const char *shown = json_object_to_json_string_ext(v, JSON_PLAIN);
        int64_t n;

        if (strcmp(name, "fail_rate") == 0) {
            double rate = -1.0;

            if (json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int))
                rate = json_object_get_double(v);
            if (!(rate >= 0.0) || rate > 1.0) {
                snprintf(why, whysz, "fail_rate: expected a number from 0 to 1, got %.60s", shown);
                return -1;
            }
            out->value.fail_rate = rate;
            out->has_fail_rate = 1;
        } else if (strcmp(name, "fail_status") == 0) {
            n = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
            if (n < 400 || n > 599) {
                snprintf(why, whysz,
                         "fail_status: expected an HTTP error status 400..599, got %.60s", shown);
                return -1;
            }
            out->value.fail_status = (unsigned int)n;
            out->has_fail_status = 1;
        } else if (strcmp(name, "delay_ms") == 0) {
            n = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
            if (n < 0 || n > MAX_DELAY_MS) {
                snprintf(why, whysz, "delay_ms: expected a whole number 0..%d, got %.60s",
                         MAX_DELAY_MS, shown);
                return -1;
            }
            out->value.delay_ms = (unsigned int)n;
            out->has_delay_ms = 1;
        } else {
            snprintf(why, whysz,
                     "unknown field '%.60s' (expected fail_rate, fail_status, delay_ms)", name);
            return -1;
        }
    }
    return 0;
}

/* POST /faults: changes the injected faults at once, under the state lock,
 * keeping the counters and the idempotency keys, so that a test can stage a
 * provider outage and its end as one sink. A request already waiting out
 * the old delay finishes it; every decision to fail is taken with the
 * settings in force at that moment. It is not a delivery: no signature,
 * no delay and no counters apply to it. */
static enum MHD_Result handle_faults_post(struct sink_state *st, struct MHD_Connection *conn,
                                          struct request_ctx *ctx)
{
    struct faults_change change;
    struct faults now;
    json_object *body;
    char why[256];
    int rc;

    if (ctx->too_large)
        return send_json_const(conn, MHD_HTTP_CONTENT_TOO_LARGE,
                               "{\"error\":\"payload too large\"}");
    body = parse_body(ctx->body ? ctx->body : "", ctx->len);
    if (!body)
        return send_json_const(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "{\"error\":\"oom\"}");
    rc = parse_faults_change(body, &change, why, sizeof(why));
    json_object_put(body);
    if (rc != 0)
        return send_error(conn, MHD_HTTP_BAD_REQUEST, "%s", why);

    pthread_mutex_lock(&st->lock);
    if (change.has_delay_ms)
        st->faults.delay_ms = change.value.delay_ms;
    if (change.has_fail_rate)
        st->faults.fail_rate = change.value.fail_rate;
    if (change.has_fail_status)
        st->faults.fail_status = change.value.fail_status;
    now = st->faults;
    pthread_mutex_unlock(&st->lock);
    /* On stderr, so that a failed test's logs show when the outage began
     * and ended next to what the workers did. */
    fprintf(stderr, PROG ": faults now fail_rate=%g fail_status=%u delay_ms=%u\n", now.fail_rate,
            now.fail_status, now.delay_ms);
    return send_faults(conn, &now);
}

/* POST any path: the order of checks mirrors a real provider, which
 * authenticates first, may then fail transiently, and only then applies
 * idempotency. Injected failures are never recorded as deliveries. */
static enum MHD_Result handle_post(struct sink_state *st, struct MHD_Connection *conn,
                                   const char *url, struct request_ctx *ctx)
{
    const struct options *opts = st->opts;
    const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, HDR_IDEMPOTENCY);
    json_object *body = NULL;
    enum MHD_Result ret;
    unsigned int delay_ms, fail_status;
    int replay = 0, fail;

    if (key && *key == '\0')
        key = NULL;
    /* The faults can change at any moment (POST /faults), so each is read
     * under the lock where it is used. */
    pthread_mutex_lock(&st->lock);
    delay_ms = st->faults.delay_ms;
    pthread_mutex_unlock(&st->lock);
    /* The delay suspends the connection, and libmicrohttpd calls this
     * handler again once it is resumed (delay.h). An oversized request is
     * answered at once. */
    if (delay_ms && !ctx->delayed && !ctx->too_large) {
        ctx->delayed = 1;
        if (sink_delay_suspend(st->delay, conn, delay_ms) == 0)
            return MHD_YES;
    }

    pthread_mutex_lock(&st->lock);
    st->requests++;
    pthread_mutex_unlock(&st->lock);

    if (ctx->too_large)
        return send_json_const(conn, MHD_HTTP_CONTENT_TOO_LARGE,
                               "{\"error\":\"payload too large\"}");
    if (opts->secret && !signature_valid(opts, conn, ctx->body, ctx->len)) {
        pthread_mutex_lock(&st->lock);
        st->bad_signatures++;
        pthread_mutex_unlock(&st->lock);
        return send_json_const(conn, MHD_HTTP_UNAUTHORIZED, "{\"error\":\"invalid signature\"}");
    }

    pthread_mutex_lock(&st->lock);
    fail = st->faults.fail_rate > 0 && next_random(st) < st->faults.fail_rate;
    fail_status = st->faults.fail_status;
    if (fail)
        st->failed_injected++;
    pthread_mutex_unlock(&st->lock);
    if (fail)
        return send_response(conn, fail_status, CONTENT_TYPE_JSON,
                             (char *)"{\"error\":\"injected failure\"}",
                             strlen("{\"error\":\"injected failure\"}"), MHD_RESPMEM_PERSISTENT,
                             fail_status == 429 ? MHD_HTTP_HEADER_RETRY_AFTER : NULL, "1");

    body = parse_body(ctx->body ? ctx->body : "", ctx->len);
    if (!body)
        return send_json_const(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "{\"error\":\"oom\"}");

    pthread_mutex_lock(&st->lock);
    if (key && key_set_contains(&st->keys, key)) {
        replay = 1;
        st->replays++;
    } else {
        if (key) {
            if (key_set_add(&st->keys, key) != 0)
                fprintf(stderr, PROG ": out of memory recording an idempotency key\n");
        } else {
            st->no_key++;
        }
        st->delivered++;
        count_kind(st, body);
        store_delivery(st, key, body);
        if (opts->print)
            print_delivery(body);
    }
    if (st->log)
        log_delivery(st, conn, url, key, replay, body);
    pthread_mutex_unlock(&st->lock);

    ret = send_json_const(conn, MHD_HTTP_OK, "{\"status\":\"accepted\"}");
    json_object_put(body);
    return ret;
}

/* Appends one chunk of the request body, switching to discard mode once the
 * 4 MiB limit is passed so the client still gets a clean 413. */
static void append_upload(struct request_ctx *ctx, const char *data, size_t len)
{
    char *grown;
    size_t ncap;

    if (ctx->too_large)
        return;
    if (len > MAX_BODY - ctx->len) {
        ctx->too_large = 1;
        free(ctx->body);
        ctx->body = NULL;
        ctx->len = ctx->cap = 0;
        return;
    }
    if (ctx->len + len > ctx->cap) {
        ncap = ctx->cap ? ctx->cap : 4096;
        while (ncap < ctx->len + len)
            ncap *= 2;
        if (ncap > MAX_BODY)
            ncap = MAX_BODY;
        grown = realloc(ctx->body, ncap);
        if (!grown) {
            ctx->too_large = 1;
            return;
        }
        ctx->body = grown;
        ctx->cap = ncap;
    }
    memcpy(ctx->body + ctx->len, data, len);
    ctx->len += len;
}

/* MHD's access handler: called once with the headers, then per body chunk,
 * then once more with no data when the request is complete. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct sink_state *st = cls;
    struct request_ctx *ctx = *con_cls;
    int control = strcmp(url, FAULTS_PATH) == 0;

    (void)version;
    if (strcmp(method, MHD_HTTP_METHOD_POST) == 0) {
        if (!ctx) {
            const char *clen =
                MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

            ctx = calloc(1, sizeof(*ctx));
            if (!ctx)
                return MHD_NO;
            *con_cls = ctx;
            if (clen && strtoull(clen, NULL, 10) > MAX_BODY) {
                ctx->too_large = 1;
                return control ? handle_faults_post(st, conn, ctx)
                               : handle_post(st, conn, url, ctx);
            }
            return MHD_YES;
        }
        if (*upload_data_size) {
            append_upload(ctx, upload_data, *upload_data_size);
            *upload_data_size = 0;
            return MHD_YES;
        }
        return control ? handle_faults_post(st, conn, ctx) : handle_post(st, conn, url, ctx);
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0) {
        if (!ctx) {
            /* Wait for the (normally empty) body before answering. */
            ctx = calloc(1, sizeof(*ctx));
            if (!ctx)
                return MHD_NO;
            *con_cls = ctx;
            return MHD_YES;
        }
        if (*upload_data_size) {
            *upload_data_size = 0;
            return MHD_YES;
        }
        if (strcmp(url, "/stats") == 0)
            return handle_stats(st, conn);
        if (strcmp(url, "/messages") == 0)
            return handle_messages(st, conn);
        if (control)
            return handle_faults_get(st, conn);
        if (strcmp(url, "/healthz") == 0)
            return send_response(conn, MHD_HTTP_OK, CONTENT_TYPE_PLAIN, (char *)"ok", 2,
                                 MHD_RESPMEM_PERSISTENT, NULL, NULL);
        return send_json_const(conn, MHD_HTTP_NOT_FOUND, "{\"error\":\"not found\"}");
    }
    return send_response(conn, MHD_HTTP_METHOD_NOT_ALLOWED, CONTENT_TYPE_JSON,
                         (char *)"{\"error\":\"method not allowed\"}",
                         strlen("{\"error\":\"method not allowed\"}"), MHD_RESPMEM_PERSISTENT,
                         MHD_HTTP_HEADER_ALLOW, "GET, HEAD, POST");
}

/* Frees the per-request buffer however the request ended. */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct request_ctx *ctx = *con_cls;

    (void)cls;
    (void)conn;
    (void)toe;
    if (ctx) {
        free(ctx->body);
        free(ctx);
        *con_cls = NULL;
    }
}

/* Where the sink listens and what it records: --host, --port, --port-file,
 * --log and --print. Returns 0, 2 after a usage error, or -1 for an option
 * that is not one of these. */
static int parse_listen_option(int c, const char *arg, struct options *opts)
{
    unsigned long v;

    switch (c) {
    case 'H':
        if (parse_host(arg, opts) != 0) {
            ac_tool_error("--host: expected an IPv4 or IPv6 address, got '%s'", arg);
            return 2;
        }
        return 0;
    case 'p':
        if (parse_uint(arg, 65535, &v) != 0) {
            ac_tool_error("--port: expected 0..65535, got '%s'", arg);
            return 2;
        }
        opts->port = (unsigned int)v;
        return 0;
    case 'f':
        opts->port_file = arg;
        return 0;
    case 'l':
        opts->log_path = arg;
        return 0;
    case 'P':
        opts->print = 1;
        return 0;
    default:
        return -1;
    }
}

/* --secret: whsec_ and base64, as Shopify and Standard Webhooks spell it. */
static int parse_secret(const char *arg, struct options *opts)
{
    const char *b64 = strncmp(arg, "whsec_", 6) == 0 ? arg + 6 : arg;

    free(opts->secret);
    opts->secret = malloc(MAX_SECRET_BYTES);
    if (!opts->secret ||
        base64_decode(b64, opts->secret, MAX_SECRET_BYTES, &opts->secret_len) != 0) {
        ac_tool_error("--secret: expected whsec_ followed by base64");
        return 2;
    }
    return 0;
}

/* The injected faults and what shapes them: --delay-ms, --fail-rate,
 * --fail-status, --secret and --seed. Returns 0, 2 after a usage error, or
 * -1 for an option that is not one of these. */
static int parse_fault_option(int c, const char *arg, struct options *opts)
{
    unsigned long v;
    char *end;

    switch (c) {
    case 'd':
        if (parse_uint(arg, MAX_DELAY_MS, &v) != 0) {
            ac_tool_error("--delay-ms: expected 0..%d, got '%s'", MAX_DELAY_MS, arg);
            return 2;
        }
        opts->delay_ms = (unsigned int)v;
        return 0;
    case 'r':
        errno = 0;
        opts->fail_rate = strtod(arg, &end);
        if (errno != 0 || end == arg || *end != '\0' || !(opts->fail_rate >= 0.0) ||
            opts->fail_rate > 1.0) {
            ac_tool_error("--fail-rate: expected a number from 0 to 1, got '%s'", arg);
            return 2;
        }
        return 0;
    case 's':
        if (parse_uint(arg, 599, &v) != 0 || v < 400) {
            ac_tool_error("--fail-status: expected an HTTP error status 400..599, got '%s'", arg);
            return 2;
        }
        opts->fail_status = (unsigned int)v;
        return 0;
    case 'S':
        return parse_secret(arg, opts);
    case 'e':
        errno = 0;
        opts->seed = strtoull(arg, &end, 10);
        if (errno != 0 || end == arg || *end != '\0' || *arg == '-') {
            ac_tool_error("--seed: expected a non-negative integer, got '%s'", arg);
            return 2;
        }
        opts->seed_given = 1;
        return 0;
    default:
        return -1;
    }
}

/* Parses the command line; returns 0 to run, 1 if --help/--version already
 * answered, 2 for a usage error (reported on stderr). */
static int parse_options(int argc, char **argv, struct options *opts)
{
    static const struct option longopts[] = {
        {"host", required_argument, NULL, 'H'},
        {"port", required_argument, NULL, 'p'},
        {"port-file", required_argument, NULL, 'f'},
        {"log", required_argument, NULL, 'l'},
        {"print", no_argument, NULL, 'P'},
        {"delay-ms", required_argument, NULL, 'd'},
        {"fail-rate", required_argument, NULL, 'r'},
        {"fail-status", required_argument, NULL, 's'},
        {"secret", required_argument, NULL, 'S'},
        {"seed", required_argument, NULL, 'e'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c, rc;

    memset(opts, 0, sizeof(*opts));
    parse_host(DEFAULT_HOST, opts);
    opts->fail_status = 503;
    while ((c = ac_tool_getopt(argc, argv, longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return 1;
        }
        if (c == 'V') {
            printf(PROG " " AC_VERSION "\n");
            return 1;
        }
        if (c == '?')
            return 2;
        rc = parse_listen_option(c, optarg, opts);
        if (rc < 0)
            rc = parse_fault_option(c, optarg, opts);
        if (rc != 0)
            return 2;
    }
    return ac_tool_no_operands(argc, argv) == 0 ? 0 : 2;
}

/* Seeds the fault generator (from --seed, so a test can replay a run) and
 * sets up what the request threads share. Returns 0, or -1 after
 * reporting; what was set up is released by the caller's single exit. */
static int state_init(struct sink_state *st, const struct options *opts, int *lock_ready)
{
    st->opts = opts;
    st->faults.delay_ms = opts->delay_ms;
    st->faults.fail_rate = opts->fail_rate;
    st->faults.fail_status = opts->fail_status;
    st->rng = opts->seed_given ? opts->seed : ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
    st->rng = st->rng * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL;
    if (st->rng == 0)
        st->rng = 0x2545F4914F6CDD1DULL;
    st->by_kind = json_object_new_object();
    if (!st->by_kind || pthread_mutex_init(&st->lock, NULL) != 0) {
        ac_tool_error("out of memory");
        return -1;
    }
    *lock_ready = 1;
    if (opts->log_path) {
        st->log = fopen(opts->log_path, "a");
        if (!st->log) {
            ac_tool_error("--log: %s: %s", opts->log_path, strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* Listens on --host and --port (0: any free port, which --port-file then
 * tells). Returns the daemon, or NULL after reporting. */
static struct MHD_Daemon *daemon_start(const struct options *opts, struct sink_state *st)
{
    struct sockaddr_in addr;
    struct sockaddr_in6 addr6;
    struct sockaddr *bind_addr;
    unsigned int flags;
    struct MHD_Daemon *daemon;

    /* Two event threads (epoll) rather than a thread per connection: a
     * thousand connections waiting out a delay cost no thread each, so
     * the sink leaves the CPU to what it stands beside in a benchmark. */
    flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
    if (opts->ipv6) {
        memset(&addr6, 0, sizeof(addr6));
        addr6.sin6_family = AF_INET6;
        addr6.sin6_port = htons((uint16_t)opts->port);
        addr6.sin6_addr = opts->addr6;
        bind_addr = (struct sockaddr *)&addr6;
        flags |= MHD_USE_DUAL_STACK; /* "::" takes IPv4 connections too */
    } else {
        memset(&addr, 0, sizeof(addr));
        addr.sin_family = AF_INET;
        addr.sin_port = htons((uint16_t)opts->port);
        addr.sin_addr = opts->addr4;
        bind_addr = (struct sockaddr *)&addr;
    }
    daemon = MHD_start_daemon(flags, (uint16_t)opts->port, NULL, NULL, on_request, st,
                              MHD_OPTION_SOCK_ADDR, bind_addr, MHD_OPTION_NOTIFY_COMPLETED,
                              on_completed, st, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120,
                              MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)2,
                              MHD_OPTION_CONNECTION_LIMIT, (unsigned int)16384, MHD_OPTION_END);
    if (!daemon)
        ac_tool_error("could not listen on %s%s%s:%u", opts->ipv6 ? "[" : "", opts->host,
                      opts->ipv6 ? "]" : "", opts->port);
    return daemon;
}

/* Tells a harness polling for --port-file which port was bound. */
static int announce_port(const struct options *opts, struct MHD_Daemon *daemon)
{
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    char port_line[16], why[256];

    if (!info || info->port == 0) {
        ac_tool_error("could not determine the bound port");
        return -1;
    }
    if (!opts->port_file)
        return 0;
    snprintf(port_line, sizeof(port_line), "%u\n", (unsigned int)info->port);
    if (ac_tool_write_file_atomic(opts->port_file, port_line, strlen(port_line), why,
                                  sizeof(why)) != 0) {
        ac_tool_error("--port-file: %s: %s", opts->port_file, why);
        return -1;
    }
    return 0;
}

/* Starts the daemon on --host with SIGINT/SIGTERM blocked in every thread,
 * then waits for one of them synchronously; no signal handler is needed. */
int main(int argc, char **argv)
{
    struct options opts;
    struct sink_state st;
    struct MHD_Daemon *daemon = NULL;
    sigset_t stop_set;
    size_t i;
    int sig, rc = 1, lock_ready = 0;

    ac_tool_cli_init(PROG);
    memset(&st, 0, sizeof(st));
    switch (parse_options(argc, argv, &opts)) {
    case 0:
        break;
    case 1:
        rc = 0;
        goto out;
    default:
        rc = 2;
        goto out;
    }
    if (state_init(&st, &opts, &lock_ready) != 0)
        goto out;
    if (!(st.delay = sink_delay_new())) {
        ac_tool_error("cannot start the delay thread");
        goto out;
    }

    sigemptyset(&stop_set);
    sigaddset(&stop_set, SIGINT);
    sigaddset(&stop_set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_set, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (!(daemon = daemon_start(&opts, &st)) || announce_port(&opts, daemon) != 0)
        goto out;
    while (sigwait(&stop_set, &sig) != 0)
        ;
    rc = 0;
out:
    /* Suspended connections are resumed before the daemon stops. */
    sink_delay_stop(st.delay);
    if (daemon)
        MHD_stop_daemon(daemon);
    sink_delay_destroy(st.delay);
    if (st.log)
        fclose(st.log);
    for (i = 0; i < st.message_count; i++)
        free(st.messages[i]);
    free(st.messages);
    key_set_free(&st.keys);
    if (st.by_kind)
        json_object_put(st.by_kind);
    if (lock_ready)
        pthread_mutex_destroy(&st.lock);
    free(opts.secret);
    return rc;
}
