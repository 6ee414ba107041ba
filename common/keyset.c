#include "keyset.h"

#include <string.h>

int ac_keyset_seen(ac_keyset_t *ks, const char *key)
{
    for (size_t i = 0; i < ks->n; i++)
        if (strcmp(ks->keys[i], key) == 0)
            return 1;
    size_t len = strlen(key);
    if (ks->n < AC_KEYSET_KEYS && len < sizeof(ks->keys[0]))
        memcpy(ks->keys[ks->n++], key, len + 1);
    return 0;
}
