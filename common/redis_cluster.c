/* A Redis Cluster behind the client's unchanged API (issue 16): the slot
 * map, one connection per master, and the rounds in which a batch is sent,
 * one pipeline per master, and its redirections followed.
 *
 * Written from the Redis Cluster specification's client sections (MOVED
 * and ASK redirection, ASKING, TRYAGAIN, CLUSTERDOWN, refreshing the slot
 * map) with hiredis-cluster's hircluster.c as the reference read (its
 * redis_cluster_command_execute(): MOVED refreshes the route and retries,
 * ASK sends ASKING to the named node, TRYAGAIN and CLUSTERDOWN retry,
 * at most 5 retries; an unreachable node's commands go elsewhere after a
 * route update). hiredis-cluster itself needs hiredis >= 1.0, which
 * Debian 12 does not have, and sends a pipeline's commands one node at a
 * time as their replies are read; here every master is written to before
 * any reply is read, so a batch costs one round trip however many masters
 * it touches. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "redis_int.h"
#include "slot.h"
#include "timeutil.h"

/* A batch gets the first round and at most five rounds of redirections,
 * and no more than the handle's timeout. */
#define MAX_ROUNDS 6

/* The first wait after TRYAGAIN, CLUSTERDOWN or a lost node, doubled each
 * round up to MAX_WAIT_MS: a failover takes the cluster node timeout and
 * an election, so waiting longer than that only delays the failure the
 * caller retries anyway. */
#define FIRST_WAIT_MS 20
#define MAX_WAIT_MS   500

/* The index in r->nodes of host:port, added when new. -1: out of memory.
 * The slot map keeps a node list of its own (slotmap.c), but that one
 * lives only as long as the map, which each CLUSTER SLOTS replaces; this
 * table outlives the maps so that a refresh keeps the open connections,
 * and node_of translates the current map's nodes into it. ASK also names
 * nodes here that the map need not hold. */
static int node_index(ac_redis_t *r, const char *host, int port)
{
    for (size_t i = 0; i < r->n_nodes; i++)
        if (r->nodes[i].port == port && strcmp(r->nodes[i].host, host) == 0)
            return (int)i;
    if (r->n_nodes == r->cap_nodes) {
        size_t cap = r->cap_nodes ? r->cap_nodes * 2 : 8;
        ac_rnode_t *nodes = realloc(r->nodes, cap * sizeof(*nodes));
        if (!nodes)
            return -1;
        r->nodes = nodes;
        r->cap_nodes = cap;
    }
    char *copy = strdup(host);
    if (!copy)
        return -1;
    r->nodes[r->n_nodes] = (ac_rnode_t){copy, port, NULL, 0, 0};
    return (int)r->n_nodes++;
}

static void drop_node(ac_rnode_t *n)
{
    if (n->ctx) {
        redisFree(n->ctx);
        n->ctx = NULL;
    }
}

/* Extends node_of to the map's nodes added since (by MOVED, or all of a
 * new map). A map node without a host is the node that sent the map, at
 * fallback. Returns 0 or -1 when out of memory. */
static int sync_node_of(ac_redis_t *r, const char *fallback)
{
    size_t count = ac_slotmap_count(r->map);
    if (count <= r->n_node_of)
        return 0;
    int *node_of = realloc(r->node_of, count * sizeof(*node_of));
    if (!node_of)
        return -1;
    r->node_of = node_of;
    for (size_t m = r->n_node_of; m < count; m++) {
        const char *host = ac_slotmap_host(r->map, m);
        int k = node_index(r, host[0] || !fallback ? host : fallback, ac_slotmap_port(r->map, m));
        if (k < 0)
            return -1;
        r->node_of[m] = k;
        r->n_node_of = m + 1;
    }
    return 0;
}

/* Replaces the map with a CLUSTER SLOTS reply sent by the node at host,
 * and closes the connections to nodes that no longer serve a slot (a
 * master demoted by a failover, a node removed). */
static int use_slots(ac_redis_t *r, const redisReply *reply, const char *host, char *err,
                     size_t errsz)
{
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
        snprintf(err, errsz, "redis %s: %s", host,
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "the node knows no slots");
        return -1;
    }
    ac_slotmap_t *map = ac_slotmap_from_slots(reply, err, errsz);
    if (!map)
        return -1;
    ac_slotmap_destroy(r->map);
    r->map = map;
    r->n_node_of = 0;
    if (sync_node_of(r, host) < 0) {
        ac_slotmap_destroy(r->map);
        r->map = NULL;
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (size_t k = 0; k < r->n_nodes; k++) {
        int used = 0;
        for (size_t m = 0; m < r->n_node_of && !used; m++)
            used = r->node_of[m] == (int)k;
        if (!used)
            drop_node(&r->nodes[k]);
    }
    r->map_stale = 0;
    return 0;
}

/* Reads the map from the node at host:port over c. Returns 0, 1 when the
 * node answered but knew no map, or -1 when c broke (the caller drops it). */
static int slots_over(ac_redis_t *r, redisContext *c, const char *host, int port, char *err,
                      size_t errsz)
{
    redisReply *reply = redisCommand(c, "CLUSTER SLOTS");
    if (!reply) {
        snprintf(err, errsz, "redis %s:%d: %s", host, port, c->errstr);
        return -1;
    }
    int rc = use_slots(r, reply, host, err, errsz) == 0 ? 0 : 1;
    freeReplyObject(reply);
    return rc;
}

/* Reads the map over a connection opened for it, to a node or a seed. */
static int slots_from(ac_redis_t *r, const char *host, int port, char *err, size_t errsz)
{
    redisContext *c = ac_redis_open(r, host, port, err, errsz);
    if (!c)
        return -1;
    int rc = slots_over(r, c, host, port, err, errsz);
    redisFree(c);
    return rc;
}

/* Reads the slot map again from any node that answers: first over the
 * connections open, then from the other nodes heard of that were not
 * lost in this round, then from the seeds of the URL. */
static int refresh(ac_redis_t *r, char *err, size_t errsz)
{
    for (size_t k = 0; k < r->n_nodes; k++) {
        ac_rnode_t *n = &r->nodes[k];
        if (!n->ctx)
            continue;
        int rc = slots_over(r, n->ctx, n->host, n->port, err, errsz);
        if (rc == 0)
            return 0;
        if (rc < 0)
            drop_node(n);
    }
    for (size_t k = 0; k < r->n_nodes; k++) {
        if (!r->nodes[k].down && !r->nodes[k].ctx &&
            slots_from(r, r->nodes[k].host, r->nodes[k].port, err, errsz) == 0)
            return 0;
    }
    for (size_t s = 0; s < r->url.n_seeds; s++)
        if (slots_from(r, r->url.seeds[s].host, r->url.seeds[s].port, err, errsz) == 0)
            return 0;
    return -1;
}

int ac_rcluster_start(ac_redis_t *r, const redisReply *slots, const char *host, char *err,
                      size_t errsz)
{
    return use_slots(r, slots, host, err, errsz);
}

/* A stale map is read again, but kept when no node answers: it is still
 * the best guess, and the batch's rounds correct it. */
int ac_rcluster_connect(ac_redis_t *r, char *err, size_t errsz)
{
    if (r->map && !r->map_stale)
        return 0;
    for (size_t k = 0; k < r->n_nodes; k++)
        r->nodes[k].down = 0;
    if (refresh(r, err, errsz) == 0 || r->map)
        return 0;
    return -1;
}

void ac_rcluster_disconnect(ac_redis_t *r)
{
    for (size_t k = 0; k < r->n_nodes; k++)
        drop_node(&r->nodes[k]);
    r->map_stale = 1;
}

void ac_rcluster_free(ac_redis_t *r)
{
    for (size_t k = 0; k < r->n_nodes; k++) {
        drop_node(&r->nodes[k]);
        free(r->nodes[k].host);
    }
    free(r->nodes);
    free(r->node_of);
    ac_slotmap_destroy(r->map);
    r->nodes = NULL;
    r->n_nodes = r->cap_nodes = 0;
    r->node_of = NULL;
    r->n_node_of = 0;
    r->map = NULL;
    r->map_stale = 0;
}

/* What one round left to do. */
typedef struct round {
    size_t pending; /* commands without a final reply */
    int refresh;    /* the map must be read again */
    int wait;       /* wait before the next round */
    char why[600];  /* why the last of them is pending: "host:port: reason" */
} round_t;

/* Notes a command left for the next round, and why. */
static void pending(round_t *rd, const char *host, int port, const char *why)
{
    rd->pending++;
    snprintf(rd->why, sizeof(rd->why), "%s:%d: %s", host, port, why);
}

/* A node whose connection failed: its commands of this round are pending
 * and it is not tried again before the map is read again. */
static void lost(ac_redis_t *r, int k, round_t *rd, const char *why)
{
    ac_rnode_t *n = &r->nodes[k];
    snprintf(rd->why, sizeof(rd->why), "%s:%d: %s", n->host, n->port, why);
    drop_node(n);
    n->down = 1;
    rd->refresh = rd->wait = 1;
}

/* The node a command goes to this round: the one an ASK named, else the
 * master of its slot, else (no key) the map's first master. -1 when no
 * node serves the slot. */
static int target(const ac_redis_t *r, const ac_rcmd_t *c)
{
    if (c->ask >= 0)
        return c->ask;
    int m = c->slot >= 0 ? ac_slotmap_node(r->map, c->slot) : r->n_node_of ? 0 : -1;
    return m < 0 || (size_t)m >= r->n_node_of ? -1 : r->node_of[m];
}

/* The connection to node k, opened (AUTH, SCRIPT LOAD) when there is none
 * unless the node was lost in this round. */
static redisContext *node_ctx(ac_redis_t *r, int k, round_t *rd)
{
    ac_rnode_t *n = &r->nodes[k];
    char err[256];
    if (n->ctx || n->down)
        return n->ctx;
    redisContext *c = ac_redis_open(r, n->host, n->port, err, sizeof(err));
    if (c && ac_redis_load_scripts(r, c, n->host, n->port, err, sizeof(err)) < 0) {
        redisFree(c);
        c = NULL;
    }
    if (!c) {
        n->down = 1;
        rd->refresh = rd->wait = 1;
        snprintf(rd->why, sizeof(rd->why), "%s", err);
    }
    n->ctx = c;
    return c;
}

/* Appends every pending command to its node's connection (ASKING first
 * where an ASK sent it), without writing anything yet. */
static void send_round(ac_redis_batch_t *b, round_t *rd)
{
    ac_redis_t *r = b->r;
    for (size_t i = 0; i < b->n; i++) {
        ac_rcmd_t *c = &b->cmds[i];
        c->node = -1;
        if (c->reply)
            continue;
        int k = target(r, c);
        redisContext *ctx = k >= 0 ? node_ctx(r, k, rd) : NULL;
        if (k < 0) {
            snprintf(rd->why, sizeof(rd->why), "no node serves slot %d", c->slot);
            rd->refresh = rd->wait = 1;
        }
        if (!ctx) {
            rd->pending++;
            continue;
        }
        c->asking = c->ask >= 0;
        c->ask = -1;
        if ((c->asking && redisAppendCommand(ctx, "ASKING") != REDIS_OK) ||
            redisAppendFormattedCommand(ctx, b->buf.data + c->off, c->len) != REDIS_OK) {
            lost(r, k, rd, "cannot queue the command");
            rd->pending++;
            continue;
        }
        c->node = k;
    }
}

/* Writes every node's pipeline before any reply is read, so that the
 * masters work in parallel. */
static void flush_round(ac_redis_t *r, round_t *rd)
{
    for (size_t k = 0; k < r->n_nodes; k++) {
        redisContext *c = r->nodes[k].ctx;
        int done = 0;
        while (c && !done) {
            if (redisBufferWrite(c, &done) != REDIS_OK) {
                lost(r, (int)k, rd, c->errstr[0] ? c->errstr : "connection lost");
                break;
            }
        }
    }
}

/* Takes the reply to c from node k: final, or a redirection to follow in
 * the next round. */
static void take_reply(ac_redis_t *r, ac_rcmd_t *c, int k, redisReply *reply, round_t *rd)
{
    ac_slot_redirect_t to;
    const char *host = r->nodes[k].host;
    int port = r->nodes[k].port;
    if (reply->type != REDIS_REPLY_ERROR) {
        c->reply = reply;
        return;
    }
    ac_slot_reply_t kind = ac_slot_reply(reply->str, &to);
    const char *to_host = kind == AC_SLOT_REPLY_MOVED || kind == AC_SLOT_REPLY_ASK
                              ? (to.host[0] ? to.host : host)
                              : NULL;
    if (kind == AC_SLOT_REPLY_OTHER && strncmp(reply->str, "NOSCRIPT", 8) != 0) {
        c->reply = reply; /* the command's own error: final */
        return;
    }
    pending(rd, host, port, reply->str);
    if (kind == AC_SLOT_REPLY_OTHER)
        r->nodes[k].reload = 1;
    else if (kind == AC_SLOT_REPLY_MOVED) {
        /* The map is corrected now and read again whole on the next
         * connect: a slot seldom moves alone. */
        if (ac_slotmap_move(r->map, to.slot, to_host, to.port) < 0 || sync_node_of(r, NULL) < 0)
            rd->refresh = 1;
        r->map_stale = 1;
    } else if (kind == AC_SLOT_REPLY_ASK)
        c->ask = node_index(r, to_host, to.port);
    else {
        rd->wait = 1;
        rd->refresh |= kind == AC_SLOT_REPLY_CLUSTERDOWN;
    }
    freeReplyObject(reply);
}

/* Reads the replies of this round in the batch's order, which is each
 * node's order too. */
static void read_round(ac_redis_batch_t *b, round_t *rd)
{
    ac_redis_t *r = b->r;
    for (size_t i = 0; i < b->n; i++) {
        ac_rcmd_t *c = &b->cmds[i];
        if (c->node < 0)
            continue;
        redisContext *ctx = r->nodes[c->node].ctx;
        void *reply = NULL;
        if (ctx && c->asking && redisGetReply(ctx, &reply) == REDIS_OK)
            freeReplyObject(reply); /* OK, or an error the command's reply repeats */
        reply = NULL;
        if (ctx && !ctx->err && redisGetReply(ctx, &reply) == REDIS_OK && reply) {
            take_reply(r, c, c->node, reply, rd);
            continue;
        }
        if (ctx)
            lost(r, c->node, rd, ctx->errstr[0] ? ctx->errstr : "connection lost");
        rd->pending++;
    }
}

/* Loads the scripts again on the nodes that answered NOSCRIPT. */
static void reload_scripts(ac_redis_t *r, round_t *rd)
{
    char err[256];
    for (size_t k = 0; k < r->n_nodes; k++) {
        ac_rnode_t *n = &r->nodes[k];
        if (n->reload && n->ctx &&
            ac_redis_load_scripts(r, n->ctx, n->host, n->port, err, sizeof(err)) < 0)
            lost(r, (int)k, rd, err);
        n->reload = 0;
    }
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Rounds until every command has its final reply. A failed batch keeps no
 * reply: the caller retries it whole. */
int ac_rcluster_exec(ac_redis_batch_t *b, char *err, size_t errsz)
{
    ac_redis_t *r = b->r;
    int64_t deadline = ac_time_mono_ms() + r->timeout_ms, wait = FIRST_WAIT_MS;
    for (int n = 1;; n++) {
        round_t rd = {0};
        for (size_t k = 0; k < r->n_nodes; k++)
            r->nodes[k].down = 0;
        send_round(b, &rd);
        flush_round(r, &rd);
        read_round(b, &rd);
        reload_scripts(r, &rd);
        if (rd.pending == 0)
            return 0;
        int64_t left = deadline - ac_time_mono_ms();
        if (n == MAX_ROUNDS || left <= 0) {
            snprintf(err, errsz,
                     "redis cluster: %zu of %zu command(s) unanswered after %d rounds (%s)",
                     rd.pending, b->n, n, rd.why);
            break;
        }
        if (rd.refresh && refresh(r, err, errsz) < 0)
            snprintf(rd.why, sizeof(rd.why), "%s", err);
        if (rd.wait) {
            sleep_ms(wait < left ? wait : left);
            wait = wait * 2 < MAX_WAIT_MS ? wait * 2 : MAX_WAIT_MS;
        }
    }
    for (size_t i = 0; i < b->n; i++) {
        if (b->cmds[i].reply)
            freeReplyObject(b->cmds[i].reply);
        b->cmds[i].reply = NULL;
    }
    return -1;
}
