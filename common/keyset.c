#include "keyset.h"

#include <stdio.h>
#include <string.h>

int ac_keyset_seen(ac_keyset_t *ks, const char *key)
{
    for (size_t i = 0; i < ks->n; i++)
        if (strcmp(ks->keys[i], key) == 0)
            return 1;
    if (ks->n < AC_KEYSET_KEYS && strlen(key) < sizeof(ks->keys[0]))
        snprintf(ks->keys[ks->n++], sizeof(ks->keys[0]), "%s", key);
    return 0;
}
