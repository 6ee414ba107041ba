#include "history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis_key.h"

static void customer_key(const char *what, const ac_event_t *ev, char *buf, size_t bufsz)
{
    ac_redis_key(buf, bufsz, what, ev->store.id, ev->customer.id);
}

/* The per-store catalog keys are "<prefix><category>". */
static void catalog_prefix(const ac_event_t *ev, char *buf, size_t bufsz)
{
    ac_redis_key(buf, bufsz, "c", ev->store.id, "");
}

int ac_history_record(ac_redis_t *r, const ac_event_t *const *evs, size_t n, int64_t ttl_ms,
                      char *err, size_t errsz)
{
    ac_redis_batch_t *b = ac_redis_batch_begin(r, NULL, NULL, err, errsz);
    if (!b)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const ac_event_t *ev = evs[i];
        if (ev->type != AC_EVENT_ORDER_PLACED || ev->order.n_items == 0)
            continue;
        char interest[600], bought[600], prefix[300], catalog[600];
        customer_key("h", ev, interest, sizeof(interest));
        customer_key("hb", ev, bought, sizeof(bought));
        catalog_prefix(ev, prefix, sizeof(prefix));
        for (size_t k = 0; k < ev->order.n_items; k++) {
            const ac_event_item_t *it = &ev->order.items[k];
            if (!it->category || !*it->category || !it->sku || !it->name)
                continue;
            snprintf(catalog, sizeof(catalog), "%s%.200s", prefix, it->category);
            ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "ZINCRBY %s %lld %s", interest,
                                   (long long)(it->quantity > 0 ? it->quantity : 1), it->category);
            ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "SADD %s %s", bought, it->sku);
            ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "HSET %s %s %s", catalog, it->sku,
                                   it->name);
            ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "PEXPIRE %s %lld", catalog,
                                   (long long)ttl_ms);
        }
        ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "PEXPIRE %s %lld", interest,
                               (long long)ttl_ms);
        ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "PEXPIRE %s %lld", bought,
                               (long long)ttl_ms);
    }
    return ac_redis_batch_exec(b, err, errsz);
}

/* KEYS[1] interest, KEYS[2] bought; ARGV[1] catalog prefix, then the SKUs
 * of the order the message is about (not suggested either). */
static ac_redis_script_t suggest_script = {
    "local cats = redis.call('ZREVRANGE', KEYS[1], 0, 2)\n"
    "local skip = {}\n"
    "for i = 2, #ARGV do skip[ARGV[i]] = true end\n"
    "for _, cat in ipairs(cats) do\n"
    "  local picks = redis.call('HRANDFIELD', ARGV[1] .. cat, 10, 'WITHVALUES')\n"
    "  for i = 1, #picks, 2 do\n"
    "    if not skip[picks[i]] and redis.call('SISMEMBER', KEYS[2], picks[i]) == 0 then\n"
    "      return picks[i + 1]\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return ''\n",
    {0}};

void ac_history_register(ac_redis_t *r)
{
    ac_redis_register_script(r, &suggest_script);
}

/* Copies the suggested product's name into reqs[item]; "" for none. */
static int suggest_reply(void *ctx, size_t item, const redisReply *reply, char *err, size_t errsz)
{
    ac_history_req_t *req = &((ac_history_req_t *)ctx)[item];
    (void)err;
    (void)errsz;
    snprintf(req->suggestion, sizeof(req->suggestion), "%s",
             reply->type == REDIS_REPLY_STRING ? reply->str : "");
    return 0;
}

int ac_history_suggest(ac_redis_t *r, ac_history_req_t *reqs, size_t n, char *err, size_t errsz)
{
    if (n == 0)
        return 0;
    ac_redis_batch_t *b = ac_redis_batch_begin(r, suggest_reply, reqs, err, errsz);
    if (!b)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const ac_event_t *ev = reqs[i].ev;
        char interest[600], bought[600], prefix[300];
        const char *argv[3 + 64];
        int argc = 0;
        customer_key("h", ev, interest, sizeof(interest));
        customer_key("hb", ev, bought, sizeof(bought));
        catalog_prefix(ev, prefix, sizeof(prefix));
        argv[argc++] = interest;
        argv[argc++] = bought;
        argv[argc++] = prefix;
        for (size_t k = 0; k < ev->order.n_items && argc < 3 + 64; k++)
            if (ev->order.items[k].sku)
                argv[argc++] = ev->order.items[k].sku;
        ac_redis_batch_script(b, i, &suggest_script, 2, argc, argv, NULL);
    }
    return ac_redis_batch_exec(b, err, errsz);
}
