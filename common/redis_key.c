#include "redis_key.h"

#include <stdio.h>
#include <string.h>

/* Writes s into buf with '%', '{' and '}' percent-escaped. */
static void escape(char *buf, size_t bufsz, const char *s)
{
    size_t o = 0;
    for (; *s && o + 4 < bufsz; s++) {
        if (*s == '%' || *s == '{' || *s == '}')
            o += (size_t)snprintf(buf + o, bufsz - o, "%%%02X", (unsigned char)*s);
        else
            buf[o++] = *s;
    }
    buf[o] = '\0';
}

/* Writes "ac:<prefix>:<length of store>:<store>:<id>" with memcpy: every
 * event names several keys, and snprintf's format parsing was a tenth of
 * an event worker's CPU. Returns 0, or -1 when the key does not fit (the
 * caller then truncates as snprintf does). */
static int plain_key(char *buf, size_t bufsz, const char *prefix, const char *store, const char *id)
{
    char num[24];
    size_t lp = strlen(prefix), ls = strlen(store), li = strlen(id), ln = 0;
    size_t v = ls;
    do {
        num[sizeof(num) - 1 - ln++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (3 + lp + 1 + ln + 1 + ls + 1 + li >= bufsz)
        return -1;
    char *o = buf;
    memcpy(o, "ac:", 3);
    o += 3;
    memcpy(o, prefix, lp);
    o += lp;
    *o++ = ':';
    memcpy(o, num + sizeof(num) - ln, ln);
    o += ln;
    *o++ = ':';
    memcpy(o, store, ls);
    o += ls;
    *o++ = ':';
    memcpy(o, id, li);
    o[li] = '\0';
    return 0;
}

/* The length prefix, not escaping, keeps ordinary keys unambiguous: store
 * ids are the platforms' and may contain any character. Braces alone are
 * escaped, because Redis Cluster reads "{...}" in a key as the part that
 * chooses its slot (a hash tag): a store id holding one would otherwise
 * move its keys away from the keys a script must find beside them. */
void ac_redis_key(char *buf, size_t bufsz, const char *prefix, const char *store_id, const char *id)
{
    const char *store = store_id ? store_id : "";
    id = id ? id : "";
    if (!strpbrk(store, "{}") && !strpbrk(id, "{}")) {
        if (plain_key(buf, bufsz, prefix, store, id) < 0)
            snprintf(buf, bufsz, "ac:%s:%zu:%s:%s", prefix, strlen(store), store, id);
        return;
    }
    char es[768], ei[768];
    escape(es, sizeof(es), store);
    escape(ei, sizeof(ei), id);
    snprintf(buf, bufsz, "ac:%s:x%zu:%s:%s", prefix, strlen(es), es, ei);
}

int ac_redis_key_beside(char *buf, size_t bufsz, const char *key, const char *suffix)
{
    if (strpbrk(key, "{}"))
        return -1;
    int n = snprintf(buf, bufsz, "{%s}%s", key, suffix ? suffix : "");
    return n >= 0 && (size_t)n < bufsz ? 0 : -1;
}
