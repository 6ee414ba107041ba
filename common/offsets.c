#include "offsets.h"

#include <stdlib.h>
#include <string.h>

/* One partition's unfinished window: a ring of offsets in increasing order
 * with a done flag each. */
typedef struct window {
    int64_t *offsets;
    unsigned char *done;
    size_t head, count, cap;
} window_t;

struct ac_offsets {
    window_t *parts;
    size_t n_parts;
    size_t pending;
};

ac_offsets_t *ac_offsets_new(void)
{
    return calloc(1, sizeof(ac_offsets_t));
}

void ac_offsets_destroy(ac_offsets_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n_parts; i++) {
        free(t->parts[i].offsets);
        free(t->parts[i].done);
    }
    free(t->parts);
    free(t);
}

static window_t *window_for(ac_offsets_t *t, int32_t partition, int create)
{
    if (partition < 0)
        return NULL;
    if ((size_t)partition >= t->n_parts) {
        if (!create)
            return NULL;
        size_t n = (size_t)partition + 1;
        window_t *p = realloc(t->parts, n * sizeof(*p));
        if (!p)
            return NULL;
        memset(p + t->n_parts, 0, (n - t->n_parts) * sizeof(*p));
        t->parts = p;
        t->n_parts = n;
    }
    return &t->parts[partition];
}

static int window_grow(window_t *w)
{
    size_t cap = w->cap ? w->cap * 2 : 64;
    int64_t *o = malloc(cap * sizeof(*o));
    unsigned char *d = malloc(cap);
    if (!o || !d) {
        free(o);
        free(d);
        return -1;
    }
    for (size_t i = 0; i < w->count; i++) {
        o[i] = w->offsets[(w->head + i) % w->cap];
        d[i] = w->done[(w->head + i) % w->cap];
    }
    free(w->offsets);
    free(w->done);
    w->offsets = o;
    w->done = d;
    w->head = 0;
    w->cap = cap;
    return 0;
}

int ac_offsets_begin(ac_offsets_t *t, int32_t partition, int64_t offset)
{
    window_t *w = window_for(t, partition, 1);
    if (!w || (w->count == w->cap && window_grow(w) < 0))
        return -1;
    size_t slot = (w->head + w->count) % w->cap;
    w->offsets[slot] = offset;
    w->done[slot] = 0;
    w->count++;
    t->pending++;
    return 0;
}

int64_t ac_offsets_done(ac_offsets_t *t, int32_t partition, int64_t offset)
{
    window_t *w = window_for(t, partition, 0);
    if (!w || w->count == 0)
        return -1;
    /* Binary search: the window is sorted by offset. */
    size_t lo = 0, hi = w->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (w->offsets[(w->head + mid) % w->cap] < offset)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t slot = (w->head + lo) % w->cap;
    if (lo == w->count || w->offsets[slot] != offset || w->done[slot])
        return -1;
    w->done[slot] = 1;
    t->pending--;
    int64_t commit = -1;
    while (w->count > 0 && w->done[w->head]) {
        commit = w->offsets[w->head] + 1;
        w->head = (w->head + 1) % w->cap;
        w->count--;
    }
    return commit;
}

void ac_offsets_reset(ac_offsets_t *t, int32_t partition)
{
    window_t *w = window_for(t, partition, 0);
    if (!w)
        return;
    for (size_t i = 0; i < w->count; i++)
        if (!w->done[(w->head + i) % w->cap])
            t->pending--;
    w->head = w->count = 0;
}

size_t ac_offsets_pending(const ac_offsets_t *t)
{
    return t->pending;
}
