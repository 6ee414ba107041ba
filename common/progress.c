#include "progress.h"

#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

typedef struct slot {
    int32_t partition;
    int64_t done;       /* last seen next-offset-to-process */
    int64_t changed_ms; /* when done last moved, or the partition caught up */
} slot_t;

struct ac_progress {
    int64_t stall_ms;
    slot_t *slots;
    size_t n, cap;
};

ac_progress_t *ac_progress_new(int64_t stall_ms)
{
    ac_progress_t *p = calloc(1, sizeof(*p));
    if (p)
        p->stall_ms = stall_ms;
    return p;
}

void ac_progress_destroy(ac_progress_t *p)
{
    if (!p)
        return;
    free(p->slots);
    free(p);
}

static slot_t *slot_of(ac_progress_t *p, int32_t partition, int create)
{
    for (size_t i = 0; i < p->n; i++)
        if (p->slots[i].partition == partition)
            return &p->slots[i];
    if (!create)
        return NULL;
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        slot_t *s = realloc(p->slots, cap * sizeof(*s));
        if (!s)
            return NULL;
        p->slots = s;
        p->cap = cap;
    }
    slot_t *s = &p->slots[p->n++];
    s->partition = partition;
    s->done = -2; /* never seen: the first note starts the clock */
    return s;
}

/* A partition is stalled when records are waiting and the offset to
 * process next has not moved for stall_ms. The clock restarts whenever the
 * offset moves or nothing waits, so a quiet partition is never stalled and
 * a busy one only when it truly stops. */
int64_t ac_progress_note(ac_progress_t *p, const ac_partition_stats_t *s, int64_t now_ms,
                         int *stalled)
{
    *stalled = 0;
    if (s->hi < 0 || s->done < 0)
        return 0; /* not fetched or never committed yet: nothing to judge */
    int64_t lag = s->hi > s->done ? s->hi - s->done : 0;
    slot_t *slot = slot_of(p, s->partition, 1);
    if (!slot)
        return lag;
    if (slot->done != s->done || lag == 0) {
        slot->done = s->done;
        slot->changed_ms = now_ms;
        return lag;
    }
    *stalled = p->stall_ms > 0 && now_ms - slot->changed_ms >= p->stall_ms;
    return lag;
}

void ac_progress_forget(ac_progress_t *p, int32_t partition)
{
    slot_t *s = slot_of(p, partition, 0);
    if (s)
        *s = p->slots[--p->n];
}

static int64_t get_int(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v))
        return -1;
    return json_object_get_int64(v);
}

int ac_progress_parse_stats(const char *json, size_t len, const char *topic,
                            ac_partition_stats_t *out, size_t max)
{
    int n = -1;
    json_tokener *tok = json_tokener_new();
    json_object *root = tok ? json_tokener_parse_ex(tok, json, (int)len) : NULL;
    json_object *topics, *t, *parts;
    if (!root || !json_object_is_type(root, json_type_object) ||
        !json_object_object_get_ex(root, "topics", &topics))
        goto out;
    n = 0;
    if (!json_object_object_get_ex(topics, topic, &t) ||
        !json_object_object_get_ex(t, "partitions", &parts) ||
        !json_object_is_type(parts, json_type_object))
        goto out;
    json_object_object_foreach(parts, key, part)
    {
        int64_t id = get_int(part, "partition");
        (void)key;
        if (id < 0 || (size_t)n >= max) /* -1 is librdkafka's unassigned-partition queue */
            continue;
        json_object *desired;
        ac_partition_stats_t *s = &out[n++];
        s->partition = (int32_t)id;
        s->assigned = json_object_object_get_ex(part, "desired", &desired) &&
                      json_object_get_boolean(desired);
        s->hi = get_int(part, "hi_offset");
        /* librdkafka reports an unset offset as -1001. */
        int64_t stored = get_int(part, "stored_offset");
        int64_t committed = get_int(part, "committed_offset");
        /* A group that has never committed starts from the earliest
         * record (auto.offset.reset=earliest): the low watermark. */
        int64_t low = get_int(part, "lo_offset");
        s->done = stored >= 0 ? stored : committed >= 0 ? committed : low >= 0 ? low : -1;
    }
out:
    json_object_put(root);
    json_tokener_free(tok);
    return n;
}
