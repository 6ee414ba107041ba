#include "redis_key.h"

#include <stdio.h>
#include <string.h>

/* The length prefix, not escaping, keeps keys unambiguous: store ids are
 * the platforms' and may contain any character. */
void ac_redis_key(char *buf, size_t bufsz, const char *prefix, const char *store_id, const char *id)
{
    const char *store = store_id ? store_id : "";
    snprintf(buf, bufsz, "ac:%s:%zu:%s:%s", prefix, strlen(store), store, id ? id : "");
}
