#include "history.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyset.h"
#include "redis_key.h"

/* Products per variadic command (HSET, SADD): an order of hundreds of
 * items is written in several commands of bounded size. */
#define FIELDS_PER_COMMAND 64

static void customer_key(const char *what, const ac_event_t *ev, char *buf, size_t bufsz)
{
    ac_redis_key(buf, bufsz, what, ev->store.id, ev->customer.id);
}

/* The per-store catalog keys are "<prefix><category>". */
static void catalog_prefix(const ac_event_t *ev, char *buf, size_t bufsz)
{
    ac_redis_key(buf, bufsz, "c", ev->store.id, "");
}

/* The items of an order the history records: those with a category, a
 * SKU and a name. */
static int recorded(const ac_event_item_t *it)
{
    return it->category && *it->category && it->sku && it->name;
}

/* Orders items by category, then by their place in the order, so that a
 * category's items sit together and a SKU named twice keeps the last name,
 * as it would written one at a time. */
static int cmp_by_category(const void *a, const void *b)
{
    const ac_event_item_t *x = *(const ac_event_item_t *const *)a;
    const ac_event_item_t *y = *(const ac_event_item_t *const *)b;
    int c = strcmp(x->category, y->category);
    return c ? c : (x < y ? -1 : x > y);
}

/* A quantity as the interest score counts it: at least one, and a sum that
 * saturates rather than overflows. */
static long long add_quantity(long long sum, int64_t q)
{
    long long v = q > 0 ? (long long)q : 1;
    return sum > LLONG_MAX - v ? LLONG_MAX : sum + v;
}

/* Appends one category's share of an order, items g[0..n): the interest
 * score raised once by the category's quantities, the catalog's names in
 * HSETs of up to FIELDS_PER_COMMAND products, and the catalog's expiry
 * once per batch (ks). */
static void append_category(ac_redis_batch_t *b, const ac_event_t *ev, const char *interest,
                            const ac_event_item_t *const *g, size_t n, ac_keyset_t *ks,
                            const char *ttl)
{
    char prefix[300], catalog[600];
    const char *argv[2 + 2 * FIELDS_PER_COMMAND];
    long long qty = 0;
    for (size_t k = 0; k < n; k++)
        qty = add_quantity(qty, g[k]->quantity);
    ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "ZINCRBY %s %lld %s", interest, qty,
                           g[0]->category);
    catalog_prefix(ev, prefix, sizeof(prefix));
    snprintf(catalog, sizeof(catalog), "%s%.200s", prefix, g[0]->category);
    argv[0] = "HSET";
    argv[1] = catalog;
    for (size_t k = 0; k < n; k += FIELDS_PER_COMMAND) {
        int argc = 2;
        for (size_t j = k; j < n && j < k + FIELDS_PER_COMMAND; j++) {
            argv[argc++] = g[j]->sku;
            argv[argc++] = g[j]->name;
        }
        ac_redis_batch_argv(b, AC_REDIS_BATCH_NO_ITEM, argc, argv, NULL);
    }
    if (!ac_keyset_seen(ks, catalog))
        ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "PEXPIRE %s %s", catalog, ttl);
}

/* Appends the SADDs of the SKUs bought, up to FIELDS_PER_COMMAND each. */
static void append_skus(ac_redis_batch_t *b, const char *bought,
                        const ac_event_item_t *const *items, size_t n)
{
    const char *argv[2 + FIELDS_PER_COMMAND];
    argv[0] = "SADD";
    argv[1] = bought;
    for (size_t k = 0; k < n; k += FIELDS_PER_COMMAND) {
        int argc = 2;
        for (size_t j = k; j < n && j < k + FIELDS_PER_COMMAND; j++)
            argv[argc++] = items[j]->sku;
        ac_redis_batch_argv(b, AC_REDIS_BATCH_NO_ITEM, argc, argv, NULL);
    }
}

/* Appends one order's history: per category one ZINCRBY and one HSET, one
 * SADD, and the customer's two expiries; the catalog's expiry once per
 * batch. Grouping by category takes a sort, not a scan per item, so an
 * order of many items costs no more than its size. Returns -1 when out of
 * memory. */
static int append_order(ac_redis_batch_t *b, const ac_event_t *ev, ac_keyset_t *ks, const char *ttl)
{
    char interest[600], bought[600];
    const ac_event_item_t *few[16];
    size_t n = 0;
    /* Most orders have a few items: no allocation per order for them. */
    const ac_event_item_t **items =
        ev->order.n_items <= 16 ? few : malloc(ev->order.n_items * sizeof(*items));
    if (!items)
        return -1;
    for (size_t k = 0; k < ev->order.n_items; k++)
        if (recorded(&ev->order.items[k]))
            items[n++] = &ev->order.items[k];
    if (n == 0)
        goto out;
    qsort(items, n, sizeof(*items), cmp_by_category);
    customer_key("h", ev, interest, sizeof(interest));
    customer_key("hb", ev, bought, sizeof(bought));
    for (size_t k = 0, end; k < n; k = end) {
        for (end = k + 1; end < n && strcmp(items[end]->category, items[k]->category) == 0; end++)
            ;
        append_category(b, ev, interest, items + k, end - k, ks, ttl);
    }
    append_skus(b, bought, items, n);
    ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "PEXPIRE %s %s", interest, ttl);
    ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "PEXPIRE %s %s", bought, ttl);
out:
    if (items != few)
        free(items);
    return 0;
}

/* Counts an error reply of the history's commands in the caller's
 * ac_history_errors_t, keeping the first one's text. */
static int history_error(void *ctx, size_t item, const redisReply *reply, char *err, size_t errsz)
{
    ac_history_errors_t *e = ctx;
    (void)item;
    (void)err;
    (void)errsz;
    if (reply->type == REDIS_REPLY_ERROR && e->n++ == 0)
        snprintf(e->first, sizeof(e->first), "redis: %s", reply->str);
    return 0;
}

int ac_history_append(ac_redis_batch_t *b, const ac_event_t *const *evs, size_t n, int64_t ttl_ms,
                      ac_history_errors_t *errs)
{
    char ttl[24];
    ac_keyset_t ks = AC_KEYSET_INIT;
    errs->n = 0;
    errs->first[0] = '\0';
    snprintf(ttl, sizeof(ttl), "%lld", (long long)ttl_ms);
    if (ac_redis_batch_handler(b, history_error, errs, 1) < 0)
        return 0; /* the batch failed: its exec says so */
    for (size_t i = 0; i < n; i++) {
        const ac_event_t *ev = evs[i];
        if (ev->type == AC_EVENT_ORDER_PLACED && ev->order.n_items > 0 &&
            append_order(b, ev, &ks, ttl) < 0)
            return -1;
    }
    return 0;
}

int ac_history_record(ac_redis_t *r, const ac_event_t *const *evs, size_t n, int64_t ttl_ms,
                      char *err, size_t errsz)
{
    ac_history_errors_t errs;
    ac_redis_batch_t *b = ac_redis_batch_begin(r, NULL, NULL, err, errsz);
    if (!b)
        return -1;
    if (ac_history_append(b, evs, n, ttl_ms, &errs) < 0) {
        snprintf(err, errsz, "out of memory");
        ac_redis_batch_abort(b);
        return -1;
    }
    if (ac_redis_batch_exec(b, err, errsz) < 0)
        return -1;
    if (errs.n)
        snprintf(err, errsz, "%s", errs.first);
    return errs.n ? -1 : 0;
}

/* A suggestion reads a customer's keys (interest, bought) and the store's
 * catalog, which live on different Redis Cluster slots, so it takes three
 * pipelined round trips for the whole batch instead of one script per
 * message: the favourite categories, ten random products of each, and
 * which of those the customer already bought. */

#define TOP_CATEGORIES 3
#define PICKS          10
#define MAX_CANDIDATES (TOP_CATEGORIES * PICKS)

/* One message's search: its categories, then its candidates (sku and
 * name, in the order they are to be offered). */
typedef struct search {
    char *cats[TOP_CATEGORIES];
    size_t n_cats;
    char *sku[MAX_CANDIDATES], *name[MAX_CANDIDATES];
    size_t n_cand;
} search_t;

typedef struct suggest_ctx {
    ac_history_req_t *reqs;
    search_t *s;
} suggest_ctx_t;

static char *dup_reply(const redisReply *e)
{
    return e->type == REDIS_REPLY_STRING ? strndup(e->str, e->len) : NULL;
}

/* Round 1: the three categories the customer bought most of. */
static int cats_reply(void *ctx, size_t item, const redisReply *rep, char *err, size_t errsz)
{
    search_t *s = &((suggest_ctx_t *)ctx)->s[item];
    for (size_t i = 0;
         rep->type == REDIS_REPLY_ARRAY && i < rep->elements && s->n_cats < TOP_CATEGORIES; i++) {
        if (!(s->cats[s->n_cats] = dup_reply(rep->element[i])))
            continue;
        s->n_cats++;
    }
    (void)err;
    (void)errsz;
    return 0;
}

/* Whether the order the message is about holds sku: never suggested. */
static int in_order(const ac_event_t *ev, const char *sku)
{
    for (size_t k = 0; k < ev->order.n_items; k++)
        if (ev->order.items[k].sku && strcmp(ev->order.items[k].sku, sku) == 0)
            return 1;
    return 0;
}

/* Round 2: random products of one category (field sku, value name). */
static int picks_reply(void *ctx, size_t item, const redisReply *rep, char *err, size_t errsz)
{
    suggest_ctx_t *c = ctx;
    search_t *s = &c->s[item];
    const ac_event_t *ev = c->reqs[item].ev;
    (void)err;
    (void)errsz;
    for (size_t i = 0;
         rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements && s->n_cand < MAX_CANDIDATES;
         i += 2) {
        if (rep->element[i]->type != REDIS_REPLY_STRING || in_order(ev, rep->element[i]->str))
            continue;
        char *sku = dup_reply(rep->element[i]), *name = dup_reply(rep->element[i + 1]);
        if (!sku || !name) {
            free(sku);
            free(name);
            continue;
        }
        s->sku[s->n_cand] = sku;
        s->name[s->n_cand++] = name;
    }
    return 0;
}

/* Round 3: the first candidate the customer has not bought. */
static int bought_reply(void *ctx, size_t item, const redisReply *rep, char *err, size_t errsz)
{
    suggest_ctx_t *c = ctx;
    search_t *s = &c->s[item];
    (void)err;
    (void)errsz;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements && i < s->n_cand; i++) {
        if (rep->element[i]->type == REDIS_REPLY_INTEGER && rep->element[i]->integer == 0) {
            snprintf(c->reqs[item].suggestion, sizeof(c->reqs[item].suggestion), "%s", s->name[i]);
            break;
        }
    }
    return 0;
}

static void search_free(search_t *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        for (size_t k = 0; k < s[i].n_cats; k++)
            free(s[i].cats[k]);
        for (size_t k = 0; k < s[i].n_cand; k++) {
            free(s[i].sku[k]);
            free(s[i].name[k]);
        }
    }
    free(s);
}

/* Runs one round: appends each message's commands with append(), then
 * sends them all. */
typedef void (*round_fn)(ac_redis_batch_t *b, size_t i, const ac_history_req_t *req,
                         const search_t *s);

static int run_round(ac_redis_t *r, suggest_ctx_t *c, size_t n, round_fn append,
                     ac_redis_reply_fn fn, char *err, size_t errsz)
{
    ac_redis_batch_t *b = ac_redis_batch_begin(r, fn, c, err, errsz);
    if (!b)
        return -1;
    for (size_t i = 0; i < n; i++)
        append(b, i, &c->reqs[i], &c->s[i]);
    return ac_redis_batch_exec(b, err, errsz);
}

static void append_cats(ac_redis_batch_t *b, size_t i, const ac_history_req_t *req,
                        const search_t *s)
{
    char interest[600];
    (void)s;
    customer_key("h", req->ev, interest, sizeof(interest));
    ac_redis_batch_command(b, i, "ZREVRANGE %s 0 %d", interest, TOP_CATEGORIES - 1);
}

static void append_picks(ac_redis_batch_t *b, size_t i, const ac_history_req_t *req,
                         const search_t *s)
{
    char prefix[300], catalog[600];
    catalog_prefix(req->ev, prefix, sizeof(prefix));
    for (size_t k = 0; k < s->n_cats; k++) {
        snprintf(catalog, sizeof(catalog), "%s%.200s", prefix, s->cats[k]);
        ac_redis_batch_command(b, i, "HRANDFIELD %s %d WITHVALUES", catalog, PICKS);
    }
}

static void append_bought(ac_redis_batch_t *b, size_t i, const ac_history_req_t *req,
                          const search_t *s)
{
    char bought[600];
    const char *argv[2 + MAX_CANDIDATES];
    if (s->n_cand == 0)
        return;
    customer_key("hb", req->ev, bought, sizeof(bought));
    argv[0] = "SMISMEMBER";
    argv[1] = bought;
    for (size_t k = 0; k < s->n_cand; k++)
        argv[2 + k] = s->sku[k];
    ac_redis_batch_argv(b, i, (int)(2 + s->n_cand), argv, NULL);
}

int ac_history_suggest(ac_redis_t *r, ac_history_req_t *reqs, size_t n, char *err, size_t errsz)
{
    suggest_ctx_t c = {reqs, NULL};
    int rc = -1;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        reqs[i].suggestion[0] = '\0';
    if (!(c.s = calloc(n, sizeof(*c.s)))) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    if (run_round(r, &c, n, append_cats, cats_reply, err, errsz) < 0 ||
        run_round(r, &c, n, append_picks, picks_reply, err, errsz) < 0 ||
        run_round(r, &c, n, append_bought, bought_reply, err, errsz) < 0)
        goto out;
    rc = 0;
out:
    search_free(c.s, n);
    return rc;
}
