#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "timeutil.h"

static char log_worker[64] = "aftercare";
static int log_level = AC_LOG_INFO;
static int log_mask = 1;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static const char *level_names[] = {"debug", "info", "warn", "error"};

void ac_log_init(const char *worker, int level)
{
    snprintf(log_worker, sizeof(log_worker), "%s", worker ? worker : "aftercare");
    log_level = level;
}

int ac_log_level_parse(const char *s)
{
    for (int i = 0; s && i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    if (s && strcmp(s, "warning") == 0)
        return AC_LOG_WARN;
    return -1;
}

/* Writes s as a JSON string body; control characters are escaped so that a
 * hostile event id cannot break the one-object-per-line framing. */
static void put_escaped(FILE *f, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        default:
            if (*p < 0x20)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
}

static int is_local_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '%' || c == '+' || c == '-' || c >= 0x80;
}

static int is_domain_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c >= 0x80;
}

size_t ac_log_scrub(const char *in, char *out, size_t outsz)
{
    size_t o = 0, len = strlen(in);
    size_t verbatim = 0; /* in[verbatim..i) was copied to out as it is */
    if (outsz == 0)
        return 0;
    for (size_t i = 0; i < len;) {
        size_t start = i, end = i;
        if (in[i] == '@' && i > 0) {
            /* An email: back up over its local part, which was already
             * copied, and forward over its domain. */
            while (start > verbatim && is_local_char((unsigned char)in[start - 1]))
                start--;
            end = i + 1;
            while (end < len && is_domain_char((unsigned char)in[end]))
                end++;
            while (end > i + 1 && in[end - 1] == '.')
                end--;
            if (start == i || end == i + 1 || !memchr(in + i + 1, '.', end - i - 1)) {
                start = end = i;
            } else {
                o -= i - start;
            }
        } else if (in[i] == '+' && i + 1 < len && in[i + 1] >= '0' && in[i + 1] <= '9' &&
                   (i == 0 || !is_domain_char((unsigned char)in[i - 1]))) {
            /* An E.164 phone number: + and 7 to 15 digits. */
            end = i + 1;
            while (end < len && in[end] >= '0' && in[end] <= '9')
                end++;
            if (end - i - 1 < 7 || end - i - 1 > 15)
                start = end = i;
        }
        if (end > start) {
            char token[320], masked[320];
            snprintf(token, sizeof(token), "%.*s", (int)(end - start), in + start);
            ac_log_mask(token, masked, sizeof(masked));
            size_t m = strlen(masked);
            if (o + m >= outsz)
                break;
            memcpy(out + o, masked, m);
            o += m;
            i = verbatim = end;
            continue;
        }
        if (o + 1 >= outsz)
            break;
        out[o++] = in[i++];
    }
    out[o] = '\0';
    return o;
}

static void vlog(int level, const ac_log_ctx_t *ctx, const char *fmt, va_list ap)
{
    if (level < log_level)
        return;
    char raw[2048], msg[2048];
    vsnprintf(raw, sizeof(raw), fmt, ap);
    /* Whatever a message quotes (a provider's answer, an invalid field),
     * customer addresses in it are masked. */
    if (log_mask)
        ac_log_scrub(raw, msg, sizeof(msg));
    else
        snprintf(msg, sizeof(msg), "%s", raw);
    char ts[AC_TIME_BUFSZ];
    ac_time_format(ac_time_now_ms(), ts, sizeof(ts));

    pthread_mutex_lock(&log_lock);
    fprintf(stderr, "{\"ts\":\"%s\",\"level\":\"%s\",\"worker\":\"", ts, level_names[level]);
    put_escaped(stderr, log_worker);
    fputs("\",\"msg\":\"", stderr);
    put_escaped(stderr, msg);
    fputc('"', stderr);
    if (ctx) {
        if (ctx->topic) {
            fputs(",\"topic\":\"", stderr);
            put_escaped(stderr, ctx->topic);
            fputc('"', stderr);
        }
        if (ctx->partition >= 0)
            fprintf(stderr, ",\"partition\":%d", (int)ctx->partition);
        if (ctx->offset >= 0)
            fprintf(stderr, ",\"offset\":%lld", (long long)ctx->offset);
        if (ctx->event_id) {
            fputs(",\"event_id\":\"", stderr);
            put_escaped(stderr, ctx->event_id);
            fputc('"', stderr);
        }
        if (ctx->message_id) {
            fputs(",\"message_id\":\"", stderr);
            put_escaped(stderr, ctx->message_id);
            fputc('"', stderr);
        }
    }
    fputs("}\n", stderr);
    fflush(stderr);
    pthread_mutex_unlock(&log_lock);
}

void ac_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, NULL, fmt, ap);
    va_end(ap);
}

void ac_log_at(int level, const ac_log_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vlog(level, ctx, fmt, ap);
    va_end(ap);
}

int ac_log_enabled(int level)
{
    return level >= log_level;
}

void ac_log_set_mask(int on)
{
    log_mask = on != 0;
}

const char *ac_log_mask(const char *addr, char *buf, size_t bufsz)
{
    if (bufsz == 0)
        return buf;
    if (!addr || !*addr) {
        snprintf(buf, bufsz, "-");
        return buf;
    }
    if (!log_mask) {
        snprintf(buf, bufsz, "%s", addr);
        return buf;
    }
    size_t len = strlen(addr);
    const char *at = strchr(addr, '@');
    if (at && at != addr) {
        /* Keep the first character whole, however many bytes it takes. */
        size_t first = 1;
        while (first < (size_t)(at - addr) && ((unsigned char)addr[first] & 0xC0) == 0x80)
            first++;
        snprintf(buf, bufsz, "%.*s***%s", (int)first, addr, at);
    } else if ((addr[0] == '+' || (addr[0] >= '0' && addr[0] <= '9')) && len > 6) {
        size_t keep_head = addr[0] == '+' ? 3 : 2;
        size_t j = 0;
        for (size_t i = 0; i < len && j + 1 < bufsz; i++)
            buf[j++] = (i < keep_head || i >= len - 2) ? addr[i] : '*';
        buf[j] = '\0';
    } else {
        snprintf(buf, bufsz, "***");
    }
    return buf;
}
