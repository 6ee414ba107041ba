#include "facts.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keyset.h"

static const char table_code[AC_FACTS__COUNT] = {'o', 'r', 'f', 'm'};

/* The UTC year and month holding at_ms, and the instant the month after it
 * starts (when the month's keys begin their retention). */
static void utc_month(int64_t at_ms, int *year, int *month, int64_t *next_ms)
{
    time_t t = (time_t)(at_ms / 1000 - (at_ms % 1000 < 0 ? 1 : 0));
    struct tm tm;
    gmtime_r(&t, &tm);
    *year = tm.tm_year + 1900;
    *month = tm.tm_mon + 1;
    if (next_ms) {
        struct tm n = {0};
        n.tm_year = tm.tm_year + (tm.tm_mon == 11);
        n.tm_mon = (tm.tm_mon + 1) % 12;
        n.tm_mday = 1;
        *next_ms = (int64_t)timegm(&n) * 1000;
    }
}

void ac_facts_key(char *buf, size_t bufsz, ac_facts_table_t t, const char *store, int64_t at_ms)
{
    int y, m;
    utc_month(at_ms, &y, &m, NULL);
    snprintf(buf, bufsz, "ac:an:{%s}:%c:%04d-%02d", store ? store : "", table_code[t], y, m);
}

void ac_facts_meta_key(char *buf, size_t bufsz, const char *store)
{
    snprintf(buf, bufsz, "ac:an:{%s}:meta", store ? store : "");
}

int ac_facts_encode_order(char *buf, size_t bufsz, const ac_event_t *ev)
{
    int n = snprintf(buf, bufsz, "%" PRId64 "|%s", ev->occurred_ms, ev->customer.id);
    return n < 0 || (size_t)n >= bufsz ? -1 : n;
}

int ac_facts_encode_rating(char *buf, size_t bufsz, const ac_event_t *ev)
{
    const char *msg = "";
    json_object *fb, *src;
    /* feedback.message_id names the message the rating answers, when known. */
    if (json_object_object_get_ex(ac_event_root(ev), "feedback", &fb) &&
        json_object_object_get_ex(fb, "message_id", &src) &&
        json_object_is_type(src, json_type_string))
        msg = json_object_get_string(src);
    if (strchr(msg, '|'))
        msg = "";
    int n = snprintf(buf, bufsz, "%" PRId64 "|%d|%s|%s", ev->occurred_ms, (int)ev->feedback.rating,
                     msg, ev->customer.id);
    return n < 0 || (size_t)n >= bufsz ? -1 : n;
}

int ac_facts_encode_msg(char *buf, size_t bufsz, const ac_facts_msg_t *m)
{
    const char *order = m->order_id ? m->order_id : "";
    int n = snprintf(buf, bufsz, "%" PRId64 "|%s|%s|%s|%zu|%s%s", m->at_ms, m->kind,
                     m->channel ? m->channel : "", m->reason ? m->reason : "", strlen(order), order,
                     m->customer_id ? m->customer_id : "");
    return n < 0 || (size_t)n >= bufsz ? -1 : n;
}

/* Reads a signed decimal up to the next '|'; advances *p past it. */
static int take_int(const char **p, const char *end, int64_t *out)
{
    const char *s = *p;
    int neg = 0;
    int64_t v = 0;
    if (s < end && *s == '-') {
        neg = 1;
        s++;
    }
    const char *digits = s;
    while (s < end && *s >= '0' && *s <= '9') {
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*s++ - '0');
    }
    if (s == digits || s >= end || *s != '|')
        return -1;
    *out = neg ? -v : v;
    *p = s + 1;
    return 0;
}

/* Reads a token up to the next '|'; advances *p past it. */
static int take_tok(const char **p, const char *end, const char **tok, size_t *len)
{
    const char *bar = memchr(*p, '|', (size_t)(end - *p));
    if (!bar)
        return -1;
    *tok = *p;
    *len = (size_t)(bar - *p);
    *p = bar + 1;
    return 0;
}

int ac_facts_decode_order(const char *v, size_t len, ac_facts_order_t *out)
{
    const char *p = v, *end = v + len;
    if (take_int(&p, end, &out->placed_ms) < 0)
        return -1;
    out->customer = p;
    out->customer_len = (size_t)(end - p);
    return 0;
}

int ac_facts_decode_rating(const char *v, size_t len, ac_facts_rating_t *out)
{
    const char *p = v, *end = v + len;
    int64_t stars;
    if (take_int(&p, end, &out->received_ms) < 0 || take_int(&p, end, &stars) < 0 || stars < 1 ||
        stars > 5 || take_tok(&p, end, &out->message, &out->message_len) < 0)
        return -1;
    out->stars = (int)stars;
    out->customer = p;
    out->customer_len = (size_t)(end - p);
    return 0;
}

int ac_facts_decode_msg(const char *v, size_t len, ac_facts_msgval_t *out)
{
    const char *p = v, *end = v + len;
    int64_t olen;
    if (take_int(&p, end, &out->at_ms) < 0 || take_tok(&p, end, &out->kind, &out->kind_len) < 0 ||
        take_tok(&p, end, &out->channel, &out->channel_len) < 0 ||
        take_tok(&p, end, &out->reason, &out->reason_len) < 0 || take_int(&p, end, &olen) < 0 ||
        olen < 0 || olen > end - p || out->kind_len == 0 ||
        (out->channel_len == 0) == (out->reason_len == 0))
        return -1;
    out->order = p;
    out->order_len = (size_t)olen;
    out->customer = p + olen;
    out->customer_len = (size_t)(end - p - olen);
    return 0;
}

/* Appends the write of one fact and, once per key and batch, its key's
 * expiry: a PEXPIREAT per fact would double the batch for nothing. A value
 * that did not fit (vlen < 0) is not written. */
static void append_fact(ac_redis_batch_t *b, ac_keyset_t *e, ac_facts_table_t t, const char *store,
                        int64_t at_ms, const char *field, const char *value, int vlen,
                        int64_t retention_ms)
{
    char key[600];
    int y, m;
    int64_t next;
    if (vlen < 0 && t != AC_FACTS_RETURNS)
        return;
    ac_facts_key(key, sizeof(key), t, store, at_ms);
    utc_month(at_ms, &y, &m, &next);
    if (t == AC_FACTS_RETURNS)
        ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "SADD %s %s", key, field);
    else
        ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "HSETNX %s %s %b", key, field, value,
                               (size_t)vlen);
    if (!ac_keyset_seen(e, key))
        ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "PEXPIREAT %s %lld", key,
                               (long long)(next + retention_ms));
}

int ac_facts_append_events(ac_redis_batch_t *b, const ac_event_t *const *evs, size_t n,
                           int64_t retention_ms)
{
    char val[1024], meta[600];
    ac_keyset_t e = AC_KEYSET_INIT, metas = AC_KEYSET_INIT;
    int rc = ac_redis_batch_handler(b, NULL, NULL, 0);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const ac_event_t *ev = evs[i];
        switch (ev->type) {
        case AC_EVENT_ORDER_PLACED:
            append_fact(b, &e, AC_FACTS_ORDERS, ev->store.id, ev->occurred_ms, ev->order.id, val,
                        ac_facts_encode_order(val, sizeof(val), ev), retention_ms);
            /* The report's calendar, unless it is told another: once per
             * store and batch. */
            if (ev->store.timezone && *ev->store.timezone) {
                ac_facts_meta_key(meta, sizeof(meta), ev->store.id);
                if (!ac_keyset_seen(&metas, meta))
                    ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "HSET %s timezone %s", meta,
                                           ev->store.timezone);
            }
            break;
        case AC_EVENT_RETURN_REQUESTED:
            append_fact(b, &e, AC_FACTS_RETURNS, ev->store.id, ev->occurred_ms, ev->order.id, "", 0,
                        retention_ms);
            break;
        case AC_EVENT_FEEDBACK_RECEIVED:
            append_fact(b, &e, AC_FACTS_RATINGS, ev->store.id, ev->occurred_ms, ev->order.id, val,
                        ac_facts_encode_rating(val, sizeof(val), ev), retention_ms);
            break;
        default:
            break;
        }
    }
    return rc;
}

int ac_facts_append_msgs(ac_redis_batch_t *b, const ac_facts_msg_t *m, size_t n,
                         int64_t retention_ms)
{
    char val[1024];
    ac_keyset_t e = AC_KEYSET_INIT;
    int rc = ac_redis_batch_handler(b, NULL, NULL, 0);
    for (size_t i = 0; i < n && rc == 0; i++)
        append_fact(b, &e, AC_FACTS_MESSAGES, m[i].store, m[i].at_ms, m[i].message_id, val,
                    ac_facts_encode_msg(val, sizeof(val), &m[i]), retention_ms);
    return rc;
}

int ac_facts_record_events(ac_redis_t *r, const ac_event_t *const *evs, size_t n,
                           int64_t retention_ms, char *err, size_t errsz)
{
    ac_redis_batch_t *b = ac_redis_batch_begin(r, NULL, NULL, err, errsz);
    if (!b)
        return -1;
    ac_facts_append_events(b, evs, n, retention_ms);
    return ac_redis_batch_exec(b, err, errsz);
}

int ac_facts_record_msgs(ac_redis_t *r, const ac_facts_msg_t *m, size_t n, int64_t retention_ms,
                         char *err, size_t errsz)
{
    if (n == 0)
        return 0;
    ac_redis_batch_t *b = ac_redis_batch_begin(r, NULL, NULL, err, errsz);
    if (!b)
        return -1;
    ac_facts_append_msgs(b, m, n, retention_ms);
    return ac_redis_batch_exec(b, err, errsz);
}

/* Hands the pairs (or members) of one page of a scan to fn. */
static void scan_page(const redisReply *items, int pairs, ac_facts_fn fn, void *arg)
{
    size_t step = pairs ? 2 : 1;
    for (size_t i = 0; i + step - 1 < items->elements; i += step) {
        const redisReply *f = items->element[i], *v = pairs ? items->element[i + 1] : NULL;
        if (f->type != REDIS_REPLY_STRING || (v && v->type != REDIS_REPLY_STRING))
            continue;
        fn(arg, f->str, f->len, v ? v->str : "", v ? v->len : 0);
    }
}

int ac_facts_scan(ac_redis_t *r, ac_facts_table_t t, const char *store, int64_t at_ms,
                  ac_facts_fn fn, void *arg, char *err, size_t errsz)
{
    char key[600], cursor[32] = "0";
    int pairs = t != AC_FACTS_RETURNS;
    ac_facts_key(key, sizeof(key), t, store, at_ms);
    do {
        redisReply *rep = ac_redis_command(
            r, err, errsz, pairs ? "HSCAN %s %s COUNT 5000" : "SSCAN %s %s COUNT 5000", key,
            cursor);
        if (!rep)
            return -1;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            rep->element[0]->type != REDIS_REPLY_STRING ||
            rep->element[1]->type != REDIS_REPLY_ARRAY) {
            snprintf(err, errsz, "unexpected reply scanning %s", key);
            freeReplyObject(rep);
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        scan_page(rep->element[1], pairs, fn, arg);
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}
