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

char *ac_octx_of(const ac_event_t *ev)
{
    json_object *ctx = json_object_new_object(), *order = json_object_new_object();
    char *out = NULL;
    if (!ctx || !order)
        goto out;
    json_object *store = member(ev->root, "store"), *customer = member(ev->root, "customer");
    if (store)
        json_object_object_add(ctx, "store", json_object_get(store));
    if (customer)
        json_object_object_add(ctx, "customer", json_object_get(customer));
    if (ev->order.number)
        json_object_object_add(order, "number", json_object_new_string(ev->order.number));
    json_object_object_add(ctx, "order", order);
    order = NULL;
    out = strdup(json_object_to_json_string_ext(ctx, JSON_C_TO_STRING_PLAIN));
out:
    json_object_put(order);
    json_object_put(ctx);
    return out;
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
        json_object_deep_copy(ev->root, &copy, NULL) != 0)
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

int ac_octx_sync(ac_redis_t *r, const ac_event_t *const *evs, size_t n, int64_t ttl_ms,
                 char **merged, char *err, size_t errsz)
{
    size_t queued = 0, gets = 0;
    char key[600];
    for (size_t i = 0; i < n; i++)
        merged[i] = NULL;
    if (ac_redis_connect(r, err, errsz) < 0)
        return -1;
    redisContext *c = ac_redis_context(r);
    for (size_t i = 0; i < n; i++) {
        if (evs[i]->type != AC_EVENT_ORDER_PLACED)
            continue;
        char *v = ac_octx_of(evs[i]);
        if (!v) {
            snprintf(err, errsz, "out of memory");
            if (queued)
                ac_redis_disconnect(r); /* commands appended, never read */
            return -1;
        }
        ac_redis_key(key, sizeof(key), "oc", evs[i]->store.id, evs[i]->order.id);
        redisAppendCommand(c, "SET %s %s PX %lld", key, v, (long long)ttl_ms);
        free(v);
        queued++;
    }
    for (size_t i = 0; i < n; i++) {
        if (!ac_octx_wanted(evs[i]))
            continue;
        ac_redis_key(key, sizeof(key), "oc", evs[i]->store.id, evs[i]->order.id);
        redisAppendCommand(c, "GET %s", key);
        gets++;
    }
    if (queued + gets == 0)
        return 0;
    redisReply **rep = ac_redis_replies_ok(r, queued + gets, err, errsz);
    if (!rep)
        return -1;
    for (size_t i = 0, g = queued; i < n; i++) {
        if (!ac_octx_wanted(evs[i]))
            continue;
        const redisReply *x = rep[g++];
        if (x->type == REDIS_REPLY_STRING)
            merged[i] = ac_octx_merge(evs[i], x->str, x->len);
    }
    ac_redis_free_replies(rep, queued + gets);
    return 0;
}
