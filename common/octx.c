#include "octx.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_key.h"

static json_object *member(json_object *o, const char *name)
{
    json_object *v = NULL;
    return o && json_object_object_get_ex(o, name, &v) ? v : NULL;
}

int ac_octx_wanted(const ac_event_t *ev)
{
    return ev->type == AC_EVENT_FEEDBACK_RECEIVED && !(ev->customer.email && *ev->customer.email) &&
           !(ev->customer.phone && *ev->customer.phone);
}

/* The context is written from the event's parsed fields, not from its
 * JSON tree: the order-worker reads records without building one, and the
 * fields are all that completing an event can use. */
char *ac_octx_of(const ac_event_t *ev)
{
    return ac_event_encode_context(ev, NULL);
}

/* Copies into `into` the members of `from` it lacks (both objects),
 * sharing the values. */
static void fill(json_object *into, json_object *from)
{
    if (!json_object_is_type(into, json_type_object) ||
        !json_object_is_type(from, json_type_object))
        return;
    json_object_object_foreach(from, k, v)
    {
        if (!member(into, k))
            json_object_object_add(into, k, json_object_get(v));
    }
}

/* into[name] as an object, created when absent; NULL when it is there but
 * not an object. */
static json_object *object_at(json_object *into, const char *name)
{
    json_object *o = member(into, name);
    if (!o && (o = json_object_new_object()))
        json_object_object_add(into, name, o);
    return json_object_is_type(o, json_type_object) ? o : NULL;
}

char *ac_octx_merge(const ac_event_t *ev, const char *ctx, size_t ctx_len)
{
    json_tokener *tok = json_tokener_new();
    json_object *c = tok ? json_tokener_parse_ex(tok, ctx, (int)ctx_len) : NULL, *copy = NULL;
    char *out = NULL;
    json_tokener_free(tok);
    if (!json_object_is_type(c, json_type_object) ||
        json_object_deep_copy(ac_event_root(ev), &copy, NULL) != 0)
        goto out;
    static const char *parts[] = {"store", "order", "customer"};
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        json_object *from = member(c, parts[i]), *into = from ? object_at(copy, parts[i]) : NULL;
        if (into)
            fill(into, from);
    }
    out = strdup(json_object_to_json_string_ext(copy, JSON_C_TO_STRING_PLAIN));
out:
    json_object_put(copy);
    json_object_put(c);
    return out;
}

/* Merges the stored context of evs[item]'s order into it; an order whose
 * context is gone (or was never stored) gets none. */
static int get_reply(void *ctx, size_t item, const redisReply *x, char *err, size_t errsz)
{
    ac_octx_out_t *o = ctx;
    (void)err;
    (void)errsz;
    if (x->type == REDIS_REPLY_STRING)
        o->merged[item] = ac_octx_merge(o->evs[item], x->str, x->len);
    return 0;
}

int ac_octx_append(ac_redis_batch_t *b, ac_octx_out_t *o, const ac_event_t *const *evs, size_t n,
                   int64_t ttl_ms, char **merged)
{
    char key[600];
    *o = (ac_octx_out_t){evs, merged};
    for (size_t i = 0; i < n; i++)
        merged[i] = NULL;
    if (ac_redis_batch_handler(b, get_reply, o, 0) < 0)
        return 0; /* the batch failed: its exec says so */
    for (size_t i = 0; i < n; i++) {
        if (evs[i]->type != AC_EVENT_ORDER_PLACED)
            continue;
        char *v = ac_octx_of(evs[i]);
        if (!v)
            return -1;
        ac_redis_key(key, sizeof(key), "oc", evs[i]->store.id, evs[i]->order.id);
        ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "SET %s %s PX %lld", key, v,
                               (long long)ttl_ms);
        free(v);
    }
    for (size_t i = 0; i < n; i++) {
        if (!ac_octx_wanted(evs[i]))
            continue;
        ac_redis_key(key, sizeof(key), "oc", evs[i]->store.id, evs[i]->order.id);
        ac_redis_batch_command(b, i, "GET %s", key);
    }
    return 0;
}

int ac_octx_sync(ac_redis_t *r, const ac_event_t *const *evs, size_t n, int64_t ttl_ms,
                 char **merged, char *err, size_t errsz)
{
    ac_octx_out_t o;
    for (size_t i = 0; i < n; i++)
        merged[i] = NULL;
    ac_redis_batch_t *b = ac_redis_batch_begin(r, NULL, NULL, err, errsz);
    if (!b)
        return -1;
    if (ac_octx_append(b, &o, evs, n, ttl_ms, merged) < 0) {
        snprintf(err, errsz, "out of memory");
        ac_redis_batch_abort(b); /* commands appended, never read */
        return -1;
    }
    return ac_redis_batch_exec(b, err, errsz);
}
