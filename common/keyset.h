/* The keys a batch of Redis commands has already given an expiry to.
 *
 * Many commands of one batch write the same few keys (a store's month of
 * facts, a store's catalog of one category); one expiry per key and batch,
 * rather than one per write, keeps the batch short. The set is small and
 * fixed: once full, or for a key too long to keep, it answers "not seen",
 * which costs an extra command and never a missing expiry.
 *
 * ac_keyset_t is a value the caller owns, usually on the stack, zeroed
 * with AC_KEYSET_INIT; it holds copies of the keys, no pointers. */
#ifndef AC_KEYSET_H
#define AC_KEYSET_H

#include <stddef.h>

#define AC_KEYSET_KEYS    8
#define AC_KEYSET_KEY_MAX 160

typedef struct ac_keyset {
    char keys[AC_KEYSET_KEYS][AC_KEYSET_KEY_MAX];
    size_t n;
} ac_keyset_t;

#define AC_KEYSET_INIT                                                                             \
    {                                                                                              \
        .n = 0                                                                                     \
    }

/* Returns 1 when key was added to ks before; otherwise remembers it (when
 * there is room and it fits) and returns 0. */
int ac_keyset_seen(ac_keyset_t *ks, const char *key);

#endif
