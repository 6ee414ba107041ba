#include "ictx.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "redis.h"
#include "timeutil.h"

#define DUE_KEY  "ac:iwait:due"
#define JOBS_KEY "ac:ibc:jobs"

/* Sets the order's context and remembered shipments, and returns the
 * parked events once the order has a context. */
static const char remember_lua[] =
    "if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'base', ARGV[2]) end\n"
    "for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end\n"
    "if #ARGV > 2 or ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end\n"
    "if redis.call('HEXISTS', KEYS[1], 'base') == 1 then\n"
    "  return {redis.call('LRANGE', KEYS[2], 0, -1), redis.call('HGETALL', KEYS[1])}\n"
    "end\n"
    "return {{}, {}}\n";

/* The context when the order is known, else parks the event: in one
 * script, so an order arriving concurrently either sees the parked event or
 * is seen by it. */
static const char lookup_lua[] = "if redis.call('HEXISTS', KEYS[1], 'base') == 1 then\n"
                                 "  return redis.call('HGETALL', KEYS[1])\n"
                                 "end\n"
                                 "redis.call('RPUSH', KEYS[2], ARGV[1])\n"
                                 "redis.call('PEXPIRE', KEYS[2], ARGV[2])\n"
                                 "return false\n";

/* Drops the first n parked events; the list's remaining length. */
static const char release_lua[] = "redis.call('LTRIM', KEYS[1], ARGV[1], -1)\n"
                                  "local n = redis.call('LLEN', KEYS[1])\n"
                                  "if n == 0 then redis.call('DEL', KEYS[1]) end\n"
                                  "return n\n";

/* Claims the earliest due member of a sorted set for a lease, so that
 * replicas sweeping at once take different ones. */
static const char claim_lua[] =
    "local m = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)\n"
    "if not m[1] then return false end\n"
    "redis.call('ZADD', KEYS[1], ARGV[2], m[1])\n"
    "return m[1]\n";

/* Finishes a claimed job unless it was asked for again meanwhile. */
static const char job_done_lua[] =
    "local s = redis.call('ZSCORE', KEYS[1], ARGV[1])\n"
    "if not s or tonumber(s) ~= tonumber(ARGV[2]) then return 0 end\n"
    "if ARGV[3] ~= '0' then\n"
    "  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])\n"
    "else\n"
    "  redis.call('ZREM', KEYS[1], ARGV[1])\n"
    "end\n"
    "return 1\n";

enum { S_REMEMBER, S_LOOKUP, S_RELEASE, S_CLAIM, S_JOB_DONE, S__COUNT };

typedef struct conn {
    ac_redis_t *r;
    ac_redis_script_t scripts[S__COUNT];
} conn_t;

struct ac_ictx {
    conn_t *conns;
    int n;
    int *free_stack;
    int n_free;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int64_t ctx_ttl_ms, wait_ms;
    atomic_int ok;
};

ac_ictx_t *ac_ictx_new(const char *url, ac_redis_cluster_t mode, int pool, int64_t ctx_ttl_ms,
                       int64_t wait_ms, char *err, size_t errsz)
{
    static const char *const sources[S__COUNT] = {remember_lua, lookup_lua, release_lua, claim_lua,
                                                  job_done_lua};
    ac_ictx_t *c = calloc(1, sizeof(*c));
    if (!c || !(c->conns = calloc((size_t)pool, sizeof(*c->conns))) ||
        !(c->free_stack = calloc((size_t)pool, sizeof(int)))) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->ctx_ttl_ms = ctx_ttl_ms;
    c->wait_ms = wait_ms;
    for (int i = 0; i < pool; i++) {
        conn_t *k = &c->conns[i];
        if (!(k->r = ac_redis_new(url, 2000, err, errsz)))
            goto fail;
        ac_redis_set_cluster(k->r, mode);
        c->n++;
        for (int s = 0; s < S__COUNT; s++) {
            k->scripts[s].source = sources[s];
            ac_redis_register_script(k->r, &k->scripts[s]);
        }
        c->free_stack[c->n_free++] = i;
    }
    atomic_store(&c->ok, 1);
    return c;
fail:
    ac_ictx_destroy(c);
    return NULL;
}

void ac_ictx_destroy(ac_ictx_t *c)
{
    if (!c)
        return;
    for (int i = 0; c->conns && i < c->n; i++)
        ac_redis_destroy(c->conns[i].r);
    if (c->conns) {
        pthread_mutex_destroy(&c->lock);
        pthread_cond_destroy(&c->cond);
    }
    free(c->conns);
    free(c->free_stack);
    free(c);
}

/* Takes a connected connection from the pool, waiting for one to be free. */
static conn_t *take(ac_ictx_t *c, char *err, size_t errsz)
{
    pthread_mutex_lock(&c->lock);
    while (c->n_free == 0)
        pthread_cond_wait(&c->cond, &c->lock);
    conn_t *k = &c->conns[c->free_stack[--c->n_free]];
    pthread_mutex_unlock(&c->lock);
    if (ac_redis_connect(k->r, err, errsz) < 0) {
        atomic_store(&c->ok, 0);
        pthread_mutex_lock(&c->lock);
        c->free_stack[c->n_free++] = (int)(k - c->conns);
        pthread_cond_signal(&c->cond);
        pthread_mutex_unlock(&c->lock);
        return NULL;
    }
    return k;
}

static void put(ac_ictx_t *c, conn_t *k, int ok)
{
    atomic_store(&c->ok, ok);
    pthread_mutex_lock(&c->lock);
    c->free_stack[c->n_free++] = (int)(k - c->conns);
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

/* Hands back a reply of the pool's connection k, or NULL with err when
 * there is none (the connection failed) or it is an error reply. */
static redisReply *checked(ac_ictx_t *c, conn_t *k, redisReply *reply, char *err, size_t errsz)
{
    put(c, k, reply != NULL);
    if (reply && reply->type == REDIS_REPLY_ERROR) {
        snprintf(err, errsz, "redis: %s", reply->str);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

/* Runs one script and returns its reply (the caller frees), or NULL with
 * err on a connection error or an error reply. Routed like any command,
 * so that it reaches the master of its keys' slot in a Redis Cluster. */
static redisReply *run(ac_ictx_t *c, int script, int nkeys, int argc, const char **argv,
                       const size_t *lens, char *err, size_t errsz)
{
    const char *av[64];
    size_t al[64];
    char nk[16];
    if (argc + 3 > 64) {
        snprintf(err, errsz, "redis: too many arguments to a script");
        return NULL;
    }
    conn_t *k = take(c, err, errsz);
    if (!k)
        return NULL;
    snprintf(nk, sizeof(nk), "%d", nkeys);
    av[0] = "EVALSHA";
    al[0] = 7;
    av[1] = k->scripts[script].sha;
    al[1] = 40;
    av[2] = nk;
    al[2] = strlen(nk);
    for (int i = 0; i < argc; i++) {
        av[3 + i] = argv[i];
        al[3 + i] = lens[i];
    }
    return checked(c, k, ac_redis_command_argv(k->r, argc + 3, av, al, err, errsz), err, errsz);
}

/* Runs a plain command through the pool. */
static redisReply *command(ac_ictx_t *c, char *err, size_t errsz, int argc, const char **argv)
{
    conn_t *k = take(c, err, errsz);
    if (!k)
        return NULL;
    return checked(c, k, ac_redis_command_argv(k->r, argc, argv, NULL, err, errsz), err, errsz);
}

/* "<length of store>:<store>:<order>": the hash tag of an order's keys and
 * the member naming it in the sorted sets. */
static void member_of(char *buf, size_t bufsz, const char *store, const char *order)
{
    snprintf(buf, bufsz, "%zu:%s:%s", strlen(store), store, order);
}

static void keys_of(const char *store, const char *order, char *ctx, char *wait, size_t sz)
{
    char m[512];
    member_of(m, sizeof(m), store, order);
    snprintf(ctx, sz, "ac:ictx:{%s}", m);
    snprintf(wait, sz, "ac:iwait:{%s}", m);
}

/* Splits a member back into store and order (both malloc'd). */
static int split_member(const char *m, char **store, char **order)
{
    char *end = NULL;
    unsigned long len = strtoul(m, &end, 10);
    if (!end || *end != ':' || strlen(end + 1) < len + 1 || end[1 + len] != ':')
        return -1;
    *store = strndup(end + 1, len);
    *order = strdup(end + 2 + len);
    return *store && *order ? 0 : -1;
}

/* Builds the JSON array of the reply's strings (parked events). */
static json_object *events_of(const redisReply *r)
{
    json_object *arr = json_object_new_array();
    for (size_t i = 0; arr && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
        const redisReply *e = r->element[i];
        json_object *ev = e->type == REDIS_REPLY_STRING ? json_tokener_parse(e->str) : NULL;
        if (ev)
            json_object_array_add(arr, ev);
    }
    return arr;
}

/* The context an HGETALL reply holds: base, plus {"shipments": {...}}. */
static json_object *context_of(const redisReply *r)
{
    json_object *ctx = NULL, *shipments = NULL;
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *field = r->element[i]->str;
        if (strcmp(field, "base") == 0)
            ctx = json_tokener_parse(r->element[i + 1]->str);
    }
    if (!ctx || !json_object_is_type(ctx, json_type_object)) {
        json_object_put(ctx);
        return NULL;
    }
    for (size_t i = 0; i + 1 < r->elements; i += 2) {
        const char *field = r->element[i]->str;
        json_object *s;
        if (strncmp(field, "s:", 2) != 0 || !(s = json_tokener_parse(r->element[i + 1]->str)))
            continue;
        if (!shipments) {
            shipments = json_object_new_object();
            json_object_object_add(ctx, "shipments", shipments);
        }
        json_object_object_add(shipments, field + 2, s);
    }
    return ctx;
}

int ac_ictx_remember(ac_ictx_t *c, const char *store, const char *order, json_object *ctx,
                     json_object *shipments, json_object **waiting, json_object **known, char *err,
                     size_t errsz)
{
    char ckey[600], wkey[600], ttl[32];
    const char *argv[4 + 2 * 16];
    size_t lens[4 + 2 * 16];
    int argc = 0;
    char fields[16][300];
    *waiting = NULL;
    keys_of(store, order, ckey, wkey, sizeof(ckey));
    snprintf(ttl, sizeof(ttl), "%lld", (long long)c->ctx_ttl_ms);
    argv[argc++] = ckey;
    argv[argc++] = wkey;
    argv[argc++] = ttl;
    argv[argc++] = ctx ? json_object_to_json_string_ext(ctx, JSON_C_TO_STRING_PLAIN) : "";
    if (shipments && json_object_is_type(shipments, json_type_object)) {
        int i = 0;
        json_object_object_foreach(shipments, sid, sval)
        {
            if (i == 16)
                break;
            snprintf(fields[i], sizeof(fields[i]), "s:%s", sid);
            argv[argc++] = fields[i];
            argv[argc++] = json_object_to_json_string_ext(sval, JSON_C_TO_STRING_PLAIN);
            i++;
        }
    }
    for (int i = 0; i < argc; i++)
        lens[i] = strlen(argv[i]);
    redisReply *r = run(c, S_REMEMBER, 2, argc, argv, lens, err, errsz);
    if (!r)
        return -1;
    *known = NULL;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        snprintf(err, errsz, "redis: unexpected reply to the context script");
        freeReplyObject(r);
        return -1;
    }
    *waiting = events_of(r->element[0]);
    *known = context_of(r->element[1]);
    freeReplyObject(r);
    return *waiting ? 0 : -1;
}

/* The context was there, so nothing was parked: the index entry written
 * before the lookup goes, unless events of the order are still parked
 * (another gateway is releasing them and removes the entry when done).
 * Without this every order with a thin event would sit in the index, and
 * in aftercare_ingest_waiting, until its deadline. While the context
 * exists no event of the order parks, so the entry is not needed for a
 * newcomer. A failure here is no error: the sweeper removes an empty
 * entry at its deadline. */
static void unindex_if_empty(ac_ictx_t *c, const char *wkey, const char *m)
{
    char err[256];
    const char *largv[] = {"LLEN", wkey};
    redisReply *l = command(c, err, sizeof(err), 2, largv);
    if (!l)
        return;
    long long parked = l->type == REDIS_REPLY_INTEGER ? l->integer : 1;
    freeReplyObject(l);
    if (parked)
        return;
    const char *zargv[] = {"ZREM", DUE_KEY, m};
    freeReplyObject(command(c, err, sizeof(err), 3, zargv));
}

int ac_ictx_lookup_or_park(ac_ictx_t *c, const char *store, const char *order, json_object *ev,
                           json_object **ctx, char *err, size_t errsz)
{
    char ckey[600], wkey[600], wait[32], m[512], due[32];
    *ctx = NULL;
    keys_of(store, order, ckey, wkey, sizeof(ckey));
    member_of(m, sizeof(m), store, order);
    /* The index entry goes first: a crash between the two leaves an entry
     * the sweeper finds empty and removes, never a parked event that no
     * deadline would find. NX keeps the first event's deadline. */
    snprintf(due, sizeof(due), "%lld", (long long)(ac_time_now_ms() + c->wait_ms));
    const char *zargv[] = {"ZADD", DUE_KEY, "NX", due, m};
    redisReply *z = command(c, err, errsz, 5, zargv);
    if (!z)
        return -1;
    freeReplyObject(z);
    snprintf(wait, sizeof(wait), "%lld", (long long)(c->wait_ms + 86400000LL));
    const char *argv[] = {ckey, wkey, json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN),
                          wait};
    size_t lens[] = {strlen(argv[0]), strlen(argv[1]), strlen(argv[2]), strlen(argv[3])};
    redisReply *r = run(c, S_LOOKUP, 2, 4, argv, lens, err, errsz);
    if (!r)
        return -1;
    if (r->type == REDIS_REPLY_ARRAY)
        *ctx = context_of(r);
    freeReplyObject(r);
    if (*ctx)
        unindex_if_empty(c, wkey, m);
    return 0;
}

/* Trims n parked events and, when none is left, the order's deadline. */
static int trim(ac_ictx_t *c, const char *store, const char *order, size_t n, char *err,
                size_t errsz)
{
    char ckey[600], wkey[600], num[32], m[512];
    keys_of(store, order, ckey, wkey, sizeof(ckey));
    snprintf(num, sizeof(num), "%zu", n);
    const char *argv[] = {wkey, num};
    size_t lens[] = {strlen(wkey), strlen(num)};
    redisReply *r = run(c, S_RELEASE, 1, 2, argv, lens, err, errsz);
    if (!r)
        return -1;
    long long left = r->type == REDIS_REPLY_INTEGER ? r->integer : 1;
    freeReplyObject(r);
    if (left == 0) {
        member_of(m, sizeof(m), store, order);
        const char *zargv[] = {"ZREM", DUE_KEY, m};
        redisReply *z = command(c, err, errsz, 3, zargv);
        if (!z)
            return -1;
        freeReplyObject(z);
    }
    return 0;
}

int ac_ictx_release(ac_ictx_t *c, const char *store, const char *order, size_t n, char *err,
                    size_t errsz)
{
    return trim(c, store, order, n, err, errsz);
}

/* Claims the earliest due member of key; 1 with *member (malloc'd). */
static int claim(ac_ictx_t *c, const char *key, int64_t now_ms, int64_t lease_ms, char **member,
                 int64_t *score, char *err, size_t errsz)
{
    char now[32], until[32];
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    snprintf(until, sizeof(until), "%lld", (long long)(now_ms + lease_ms));
    const char *argv[] = {key, now, until};
    size_t lens[] = {strlen(key), strlen(now), strlen(until)};
    redisReply *r = run(c, S_CLAIM, 1, 3, argv, lens, err, errsz);
    if (!r)
        return -1;
    int got = r->type == REDIS_REPLY_STRING;
    if (got && !(*member = strdup(r->str)))
        got = -1;
    if (score)
        *score = now_ms + lease_ms;
    freeReplyObject(r);
    return got;
}

int ac_ictx_take_expired(ac_ictx_t *c, int64_t now_ms, int64_t lease_ms, char **store, char **order,
                         json_object **events, char *err, size_t errsz)
{
    char *m = NULL, ckey[600], wkey[600];
    *store = *order = NULL;
    *events = NULL;
    int got = claim(c, DUE_KEY, now_ms, lease_ms, &m, NULL, err, errsz);
    if (got <= 0)
        return got;
    if (split_member(m, store, order) < 0) {
        /* Not a member this code wrote: drop it rather than retry it. */
        const char *zargv[] = {"ZREM", DUE_KEY, m};
        freeReplyObject(command(c, err, errsz, 3, zargv));
        free(m);
        free(*store);
        free(*order);
        *store = *order = NULL;
        return 0;
    }
    free(m);
    keys_of(*store, *order, ckey, wkey, sizeof(ckey));
    const char *argv[] = {"LRANGE", wkey, "0", "-1"};
    redisReply *r = command(c, err, errsz, 4, argv);
    if (!r)
        return -1;
    *events = events_of(r);
    freeReplyObject(r);
    return 1;
}

int ac_ictx_expired_done(ac_ictx_t *c, const char *store, const char *order, size_t n, char *err,
                         size_t errsz)
{
    return trim(c, store, order, n, err, errsz);
}

static long long card(ac_ictx_t *c, const char *key)
{
    char err[256];
    const char *argv[] = {"ZCARD", key};
    redisReply *r = command(c, err, sizeof(err), 2, argv);
    long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    return n;
}

long long ac_ictx_waiting(ac_ictx_t *c)
{
    return card(c, DUE_KEY);
}

long long ac_ictx_jobs(ac_ictx_t *c)
{
    return card(c, JOBS_KEY);
}

int ac_ictx_job_add(ac_ictx_t *c, const char *store, const char *order, int64_t now_ms, char *err,
                    size_t errsz)
{
    char m[512], now[32];
    member_of(m, sizeof(m), store, order);
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    /* LT: a job already waiting keeps its turn, and one being fetched
     * (claimed into the future) is asked for again, so a change made
     * during the fetch is not missed. */
    const char *argv[] = {"ZADD", JOBS_KEY, "LT", now, m};
    redisReply *r = command(c, err, errsz, 5, argv);
    if (!r)
        return -1;
    freeReplyObject(r);
    return 0;
}

int ac_ictx_job_claim(ac_ictx_t *c, int64_t now_ms, int64_t lease_ms, char **store, char **order,
                      int64_t *claim_score, char *err, size_t errsz)
{
    char *m = NULL;
    *store = *order = NULL;
    int got = claim(c, JOBS_KEY, now_ms, lease_ms, &m, claim_score, err, errsz);
    if (got <= 0)
        return got;
    int rc = split_member(m, store, order) == 0 ? 1 : 0;
    if (!rc) {
        const char *zargv[] = {"ZREM", JOBS_KEY, m};
        freeReplyObject(command(c, err, errsz, 3, zargv));
        free(*store);
        free(*order);
        *store = *order = NULL;
    }
    free(m);
    return rc;
}

int ac_ictx_job_done(ac_ictx_t *c, const char *store, const char *order, int64_t claim_score,
                     int64_t retry_at_ms, char *err, size_t errsz)
{
    char m[512], cl[32], retry[32];
    member_of(m, sizeof(m), store, order);
    snprintf(cl, sizeof(cl), "%lld", (long long)claim_score);
    snprintf(retry, sizeof(retry), "%lld", (long long)retry_at_ms);
    const char *argv[] = {JOBS_KEY, m, cl, retry};
    size_t lens[] = {strlen(argv[0]), strlen(m), strlen(cl), strlen(retry)};
    redisReply *r = run(c, S_JOB_DONE, 1, 4, argv, lens, err, errsz);
    if (!r)
        return -1;
    freeReplyObject(r);
    return 0;
}

int ac_ictx_ok(ac_ictx_t *c)
{
    return c && atomic_load(&c->ok);
}
