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
