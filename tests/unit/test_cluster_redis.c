/* The Redis client (redis.h) against a real Redis Cluster: six
 * cluster-enabled redis-servers on free loopback ports, joined with
 * redis-cli --cluster create as three masters, each given a replica, and a
 * plain redis-server beside them. Through ac_redis_t, with REDIS_URL
 * naming one node or several seeds of which the first is down: a batch of
 * a thousand commands over many slots lands every key on its master and
 * hands the replies back in order; the registered scripts run on every
 * master, and again after one forgot them; a slot moved behind the
 * handle's back (MOVED), a slot in mid-migration (ASK, TRYAGAIN), and a
 * master killed and replaced by its replica are all followed; the plain
 * server is still talked to as before, and REDIS_CLUSTER=on refuses it;
 * several modules' commands share one batch, each read by its handler. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>
#include <json-c/json.h>

#include "dedup.h"
#include "ictx.h"
#include "redis.h"
#include "slot.h"
#include "slotmap.h"
#include "test_util.h"
#include "timeutil.h"

#define MASTERS 3
#define NODES   6

static pid_t pids[NODES], plain_pid;
static int ports[NODES], plain_port, dead_port;
static char dir[64];

/* Keys of this run, so that a rerun against leftovers cannot pass. */
static char run_tag[32];

static ac_redis_script_t incr_script = {"return redis.call('INCRBY', KEYS[1], ARGV[1])", ""};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Whether a loopback port is free to bind now. */
static int port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), ok;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/* A port whose cluster bus port (port + 10000) is free too. */
static int cluster_port(void)
{
    for (int i = 0; i < 200; i++) {
        int p = 20000 + (int)((unsigned)rand() % 25000);
        if (port_free(p) && port_free(p + 10000))
            return p;
    }
    return -1;
}

static redisReply *command(int port, const char *fmt, ...)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    redisReply *r = NULL;
    if (c && !c->err) {
        redisSetTimeout(c, tv);
        va_list ap;
        va_start(ap, fmt);
        r = redisvCommand(c, fmt, ap);
        va_end(ap);
    }
    if (c)
        redisFree(c);
    return r;
}

/* A command that must succeed; its reply as a string (static buffer). */
static const char *must(int port, const char *fmt, ...)
{
    static char out[4096];
    struct timeval tv = {5, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    assert_true(c && !c->err);
    redisSetTimeout(c, tv);
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r || r->type == REDIS_REPLY_ERROR)
        fail_msg("port %d: %s: %s", port, fmt, r ? r->str : c->errstr);
    if (r->type == REDIS_REPLY_INTEGER)
        snprintf(out, sizeof(out), "%lld", r->integer);
    else
        snprintf(out, sizeof(out), "%s", r->str ? r->str : "");
    freeReplyObject(r);
    redisFree(c);
    return out;
}

static pid_t spawn_node(int port, int cluster)
{
    char p[16], conf[128];
    snprintf(p, sizeof(p), "%d", port);
    snprintf(conf, sizeof(conf), "nodes-%d.conf", port);
    pid_t parent = getpid(), pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int null = open("/dev/null", O_RDWR);
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        if (cluster)
            execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", dir, "--cluster-enabled", "yes",
                   "--cluster-config-file", conf, "--cluster-node-timeout", "2000", "--loglevel",
                   "warning", (char *)NULL);
        else
            execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--dir", dir, "--loglevel", "warning", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* True once node answers CLUSTER INFO with cluster_state:ok. */
static int cluster_ok(int port)
{
    redisReply *r = command(port, "CLUSTER INFO");
    int ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "cluster_state:ok");
    if (r)
        freeReplyObject(r);
    return ok;
}

static int wait_ping(int port)
{
    for (int t = 0; t < 100; t++) {
        redisReply *r = command(port, "PING");
        if (r) {
            freeReplyObject(r);
            return 0;
        }
        sleep_ms(50);
    }
    return -1;
}

/* Whether every node says the cluster is ok and every replica is
 * attached to its master and in sync with it. */
static int cluster_ready(void)
{
    for (int i = 0; i < NODES; i++)
        if (!cluster_ok(ports[i]))
            return 0;
    for (int i = MASTERS; i < NODES; i++) {
        redisReply *r = command(ports[i], "INFO replication");
        int ok = r && r->type == REDIS_REPLY_STRING && strstr(r->str, "role:slave") &&
                 strstr(r->str, "master_link_status:up");
        if (r)
            freeReplyObject(r);
        if (!ok)
            return 0;
    }
    return 1;
}

/* Makes the node on ports[i] the replica of the master on ports[i -
 * MASTERS], once it has heard of that master (CLUSTER REPLICATE refuses
 * an unknown node). redis-cli --cluster create --cluster-replicas 1 can
 * leave a replica behind as an empty master, so the test does it. */
static int attach_replica(int i)
{
    char id[64];
    redisReply *r = command(ports[i - MASTERS], "CLUSTER MYID");
    if (!r || r->type != REDIS_REPLY_STRING)
        return -1;
    snprintf(id, sizeof(id), "%s", r->str);
    freeReplyObject(r);
    freeReplyObject(command(ports[i], "CLUSTER MEET 127.0.0.1 %d", ports[0]));
    for (int t = 0; t < 200; t++) {
        r = command(ports[i], "CLUSTER REPLICATE %s", id);
        int ok = r && r->type == REDIS_REPLY_STATUS;
        if (r)
            freeReplyObject(r);
        if (ok)
            return 0;
        sleep_ms(50);
    }
    return -1;
}

/* Six nodes: three masters (the first three of ports[]) joined by
 * redis-cli --cluster create, each with a replica (ports[i + MASTERS]);
 * and a plain server. */
static int start_cluster(void **state)
{
    char cmd[512];
    (void)state;
    srand((unsigned)getpid() ^ (unsigned)time(NULL));
    snprintf(run_tag, sizeof(run_tag), "%x", (unsigned)rand());
    snprintf(dir, sizeof(dir), "/tmp/ac_test_cluster_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    for (int i = 0; i < NODES; i++) {
        if ((ports[i] = cluster_port()) < 0 || (pids[i] = spawn_node(ports[i], 1)) < 0)
            return -1;
    }
    if ((plain_port = cluster_port()) < 0 || (plain_pid = spawn_node(plain_port, 0)) < 0 ||
        (dead_port = cluster_port()) < 0)
        return -1;
    for (int i = 0; i < NODES; i++)
        if (wait_ping(ports[i]) < 0)
            return -1;
    if (wait_ping(plain_port) < 0)
        return -1;
    snprintf(cmd, sizeof(cmd),
             "redis-cli --cluster create 127.0.0.1:%d 127.0.0.1:%d 127.0.0.1:%d "
             "--cluster-replicas 0 --cluster-yes >/dev/null 2>&1",
             ports[0], ports[1], ports[2]);
    if (system(cmd) != 0)
        return -1;
    for (int i = MASTERS; i < NODES; i++)
        if (attach_replica(i) < 0)
            return -1;
    for (int t = 0; t < 400; t++) {
        if (cluster_ready())
            return 0;
        sleep_ms(50);
    }
    fprintf(stderr, "the cluster did not become ok\n");
    return -1;
}

static void stop(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
        *pid = 0;
    }
}

static int stop_cluster(void **state)
{
    char cmd[128];
    (void)state;
    for (int i = 0; i < NODES; i++)
        stop(&pids[i]);
    stop(&plain_pid);
    if (dir[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    return 0;
}

/* The slot map as a live node tells it now. */
static ac_slotmap_t *fresh_map(void)
{
    char err[128];
    for (int i = 0; i < NODES; i++) {
        if (pids[i] <= 0)
            continue;
        redisReply *slots = command(ports[i], "CLUSTER SLOTS");
        ac_slotmap_t *m = slots ? ac_slotmap_from_slots(slots, err, sizeof(err)) : NULL;
        if (slots)
            freeReplyObject(slots);
        if (m)
            return m;
    }
    fail_msg("no node tells the slot map");
    return NULL;
}

static int master_port(const ac_slotmap_t *m, const char *key)
{
    int node = ac_slotmap_node(m, ac_slot_of(key, strlen(key)));
    assert_true(node >= 0);
    return ac_slotmap_port(m, (size_t)node);
}

static ac_redis_t *handle(const char *url, ac_redis_cluster_t mode)
{
    char err[256];
    ac_redis_t *r = ac_redis_new(url, 5000, err, sizeof(err));
    if (!r)
        fail_msg("ac_redis_new %s: %s", url, err);
    ac_redis_set_cluster(r, mode);
    ac_redis_register_script(r, &incr_script);
    return r;
}

static ac_redis_t *node_handle(int port)
{
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", port);
    return handle(url, AC_REDIS_CLUSTER_AUTO);
}

/* The replies a batch handed out, in the order it handed them. */
#define MAX_SEEN 4096

typedef struct seen {
    size_t n;
    size_t items[MAX_SEEN];
    char vals[MAX_SEEN][48];
} seen_t;

static int record(void *ctx, size_t item, const redisReply *reply, char *err, size_t errsz)
{
    seen_t *s = ctx;
    (void)err;
    (void)errsz;
    if (s->n == MAX_SEEN)
        return -1;
    s->items[s->n] = item;
    if (reply->type == REDIS_REPLY_INTEGER)
        snprintf(s->vals[s->n], sizeof(s->vals[0]), "%lld", reply->integer);
    else if (reply->type == REDIS_REPLY_NIL)
        snprintf(s->vals[s->n], sizeof(s->vals[0]), "(nil)");
    else
        snprintf(s->vals[s->n], sizeof(s->vals[0]), "%s", reply->str ? reply->str : "?");
    s->n++;
    return 0;
}

/* A key of this run; hash tags put some of them together. */
static void key_of(char *buf, size_t bufsz, const char *what, int i)
{
    if (i % 3 == 0)
        snprintf(buf, bufsz, "t:%s:{%s-%d}:%s", run_tag, what, i / 3, what);
    else
        snprintf(buf, bufsz, "t:%s:%s:%d", run_tag, what, i);
}

/* Runs SET, GET and the INCRBY script on n keys named what in one batch
 * (3n commands), checks the replies came back in order, and that each key
 * lives on the master of its slot. */
static void big_batch(ac_redis_t *r, const char *what, int n)
{
    static seen_t seen;
    char err[512], key[128], val[64];
    memset(&seen, 0, sizeof(seen));
    ac_redis_batch_t *b = ac_redis_batch_begin(r, record, &seen, err, sizeof(err));
    if (!b)
        fail_msg("begin: %s", err);
    for (int i = 0; i < n; i++) {
        key_of(key, sizeof(key), what, i);
        snprintf(val, sizeof(val), "v-%d", i);
        char ckey[160];
        snprintf(ckey, sizeof(ckey), "%s:count", key);
        const char *argv[] = {ckey, "7"};
        ac_redis_batch_command(b, (size_t)(3 * i), "SET %s %s", key, val);
        ac_redis_batch_command(b, (size_t)(3 * i + 1), "GET %s", key);
        ac_redis_batch_script(b, (size_t)(3 * i + 2), &incr_script, 1, 2, argv, NULL);
    }
    if (ac_redis_batch_exec(b, err, sizeof(err)) != 0)
        fail_msg("exec: %s", err);
    assert_int_equal(seen.n, (size_t)(3 * n));
    for (int i = 0; i < n; i++) {
        snprintf(val, sizeof(val), "v-%d", i);
        for (int j = 0; j < 3; j++)
            assert_int_equal(seen.items[3 * i + j], (size_t)(3 * i + j));
        assert_string_equal(seen.vals[3 * i], "OK");
        assert_string_equal(seen.vals[3 * i + 1], val);
        assert_string_equal(seen.vals[3 * i + 2], "7");
    }
    ac_slotmap_t *m = fresh_map();
    for (int i = 0; i < n; i += 7) {
        key_of(key, sizeof(key), what, i);
        snprintf(val, sizeof(val), "v-%d", i);
        assert_string_equal(must(master_port(m, key), "GET %s", key), val);
    }
    ac_slotmap_destroy(m);
}

/* Every slot is served by one of the three masters, and each key written
 * through the map lands where the map says: the node answers it, and
 * another node redirects to that same node, with the key's slot. */
static void map_routes_every_key(void **state)
{
    (void)state;
    char err[128];
    redisReply *slots = command(ports[0], "CLUSTER SLOTS");
    ac_slotmap_t *m = ac_slotmap_from_slots(slots, err, sizeof(err));
    assert_non_null(m);
    assert_int_equal(ac_slotmap_count(m), MASTERS);
    for (int s = 0; s < AC_SLOT_COUNT; s++)
        assert_true(ac_slotmap_node(m, s) >= 0);
    for (int k = 0; k < 300; k++) {
        char key[64];
        int n = snprintf(key, sizeof(key), k % 2 ? "ac:j:{st-%d:ord-%d}" : "key-%d-%d", k, k * 31);
        int slot = ac_slot_of(key, (size_t)n);
        int port = master_port(m, key);
        redisReply *ok = command(port, "SET %s v", key);
        assert_non_null(ok);
        assert_int_equal(ok->type, REDIS_REPLY_STATUS);
        freeReplyObject(ok);
        int other = ports[0] == port ? ports[1] : ports[0];
        redisReply *moved = command(other, "GET %s", key);
        assert_non_null(moved);
        assert_int_equal(moved->type, REDIS_REPLY_ERROR);
        ac_slot_redirect_t to;
        assert_int_equal(ac_slot_reply(moved->str, &to), AC_SLOT_REPLY_MOVED);
        assert_int_equal(to.slot, slot);
        assert_int_equal(to.port, port);
        freeReplyObject(moved);
    }
    freeReplyObject(slots);
    ac_slotmap_destroy(m);
}

/* (a) A thousand commands over many slots, through a handle whose URL
 * names one node, a replica at that: every key on its master, replies in
 * order. Single commands are routed the same way. */
static void batch_lands_every_key(void **state)
{
    (void)state;
    char err[256];
    ac_redis_t *r = node_handle(ports[NODES - 1]);
    assert_int_equal(ac_redis_connect(r, err, sizeof(err)), 0);
    assert_int_equal(ac_redis_is_cluster(r), 1);
    big_batch(r, "a", 334);
    big_batch(r, "a2", 50); /* again, over the connections now open */
    char key[128];
    key_of(key, sizeof(key), "a", 5);
    redisReply *rep = ac_redis_command(r, err, sizeof(err), "GET %s", key);
    assert_non_null(rep);
    assert_string_equal(rep->str, "v-5");
    freeReplyObject(rep);
    const char *argv[] = {"GET", key};
    rep = ac_redis_command_argv(r, 2, argv, NULL, err, sizeof(err));
    assert_non_null(rep);
    assert_string_equal(rep->str, "v-5");
    freeReplyObject(rep);
    /* Keyless commands go to some master; an error reply is a reply. */
    rep = ac_redis_command(r, err, sizeof(err), "PING");
    assert_non_null(rep);
    assert_string_equal(rep->str, "PONG");
    freeReplyObject(rep);
    rep = ac_redis_command(r, err, sizeof(err), "HGET %s f", key);
    assert_non_null(rep);
    assert_int_equal(rep->type, REDIS_REPLY_ERROR);
    assert_contains(rep->str, "WRONGTYPE");
    freeReplyObject(rep);
    ac_redis_destroy(r);
}

/* (a) again with several seeds, the first of them down. */
static void first_seed_down(void **state)
{
    (void)state;
    char url[256], err[256];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d", dead_port,
             ports[1], ports[2]);
    ac_redis_t *r = handle(url, AC_REDIS_CLUSTER_ON);
    assert_int_equal(ac_redis_connect(r, err, sizeof(err)), 0);
    assert_int_equal(ac_redis_is_cluster(r), 1);
    big_batch(r, "s", 334);
    ac_redis_destroy(r);
}

/* The index in ports[] of the master of key now. */
static int master_index(const char *key)
{
    ac_slotmap_t *m = fresh_map();
    int port = master_port(m, key);
    ac_slotmap_destroy(m);
    for (int i = 0; i < NODES; i++)
        if (ports[i] == port)
            return i;
    fail_msg("%s: no node on port %d", key, port);
    return -1;
}

/* Keys named what, the first of them served by master i (MASTERS of
 * them, key[i] on the i-th master of ports[]). */
static void key_per_master(const char *what, char keys[MASTERS][64])
{
    int found = 0;
    for (int i = 0; found < MASTERS && i < 10000; i++) {
        char key[64];
        snprintf(key, sizeof(key), "t:%s:%s:%d", run_tag, what, i);
        int k = master_index(key);
        if (k < MASTERS && !keys[k][0]) {
            snprintf(keys[k], 64, "%s", key);
            found++;
        }
    }
    assert_int_equal(found, MASTERS);
}

/* Runs the INCRBY script on keys (n of them) in one batch; returns its
 * result, 0 or -1 with err. */
static int incr_batch(ac_redis_t *r, char keys[][64], int n, seen_t *seen, char *err, size_t errsz)
{
    memset(seen, 0, sizeof(*seen));
    ac_redis_batch_t *b = ac_redis_batch_begin(r, record, seen, err, errsz);
    if (!b)
        return -1;
    for (int i = 0; i < n; i++) {
        const char *argv[] = {keys[i], "1"};
        ac_redis_batch_script(b, (size_t)i, &incr_script, 1, 2, argv, NULL);
    }
    return ac_redis_batch_exec(b, err, errsz);
}

/* The count INFO errorstats gives a kind of error reply on a node. */
static long errorstat(int port, const char *kind)
{
    char want[64];
    const char *info = must(port, "INFO errorstats");
    snprintf(want, sizeof(want), "errorstat_%s:count=", kind);
    const char *p = strstr(info, want);
    return p ? atol(p + strlen(want)) : 0;
}

/* (b) The registered script runs on every master, and after one of them
 * forgot it (SCRIPT FLUSH) the batch loads it there again and succeeds. */
static void script_on_every_master(void **state)
{
    (void)state;
    char keys[MASTERS][64] = {{0}}, err[256];
    static seen_t seen;
    key_per_master("script", keys);
    ac_redis_t *r = node_handle(ports[0]);
    assert_int_equal(incr_batch(r, keys, MASTERS, &seen, err, sizeof(err)), 0);
    for (int i = 0; i < MASTERS; i++) {
        assert_string_equal(seen.vals[i], "1");
        assert_string_equal(must(ports[i], "GET %s", keys[i]), "1");
    }
    must(ports[1], "SCRIPT FLUSH");
    must(ports[1], "CONFIG RESETSTAT");
    if (incr_batch(r, keys, MASTERS, &seen, err, sizeof(err)) != 0)
        fail_msg("after SCRIPT FLUSH: %s", err);
    for (int i = 0; i < MASTERS; i++)
        assert_string_equal(seen.vals[i], "2");
    assert_int_equal(errorstat(ports[1], "NOSCRIPT"), 1);
    ac_redis_destroy(r);
}

/* The node id of the node on port. */
static void node_id(int port, char id[64])
{
    snprintf(id, 64, "%s", must(port, "CLUSTER MYID"));
}

/* Begins moving slot from the master on src to the one on dst. */
static void migrating(int slot, int src, int dst)
{
    char src_id[64], dst_id[64];
    node_id(src, src_id);
    node_id(dst, dst_id);
    must(dst, "CLUSTER SETSLOT %d IMPORTING %s", slot, src_id);
    must(src, "CLUSTER SETSLOT %d MIGRATING %s", slot, dst_id);
}

/* Moves key from src to dst (MIGRATE). */
static void migrate_key(int src, int dst, const char *key)
{
    assert_string_equal(must(src, "MIGRATE 127.0.0.1 %d %s 0 5000", dst, key), "OK");
}

/* Ends the move of slot to dst: its remaining keys go, and every master
 * learns the slot's new owner (the importing node first, as redis-cli
 * --cluster reshard does). */
static void migrated(int slot, int src, int dst)
{
    char dst_id[64];
    node_id(dst, dst_id);
    for (;;) {
        redisReply *keys = command(src, "CLUSTER GETKEYSINSLOT %d 100", slot);
        assert_non_null(keys);
        size_t n = keys->elements;
        for (size_t i = 0; i < n; i++)
            migrate_key(src, dst, keys->element[i]->str);
        freeReplyObject(keys);
        if (n == 0)
            break;
    }
    must(dst, "CLUSTER SETSLOT %d NODE %s", slot, dst_id);
    must(src, "CLUSTER SETSLOT %d NODE %s", slot, dst_id);
    for (int i = 0; i < MASTERS; i++)
        if (ports[i] != src && ports[i] != dst)
            must(ports[i], "CLUSTER SETSLOT %d NODE %s", slot, dst_id);
}

/* A master other than the one on port. */
static int other_master(int port)
{
    return ports[0] == port ? ports[1] : ports[0];
}

/* (c) A slot moved to another master while the handle's map still names
 * the old one: the old one answers MOVED and the batch succeeds on the
 * new one; the next batch goes there directly. */
static void moved_slot(void **state)
{
    (void)state;
    char key[64], key2[64], err[256];
    static seen_t seen;
    snprintf(key, sizeof(key), "t:%s:{moved}:a", run_tag);
    snprintf(key2, sizeof(key2), "t:%s:{moved}:b", run_tag);
    int slot = ac_slot_of(key, strlen(key)), src = ports[master_index(key)];
    int dst = other_master(src);
    ac_redis_t *r = node_handle(ports[2]);
    redisReply *rep = ac_redis_command(r, err, sizeof(err), "SET %s before", key);
    assert_non_null(rep);
    freeReplyObject(rep);
    migrating(slot, src, dst);
    migrated(slot, src, dst);
    must(src, "CONFIG RESETSTAT");
    ac_redis_batch_t *b = ac_redis_batch_begin(r, record, &seen, err, sizeof(err));
    memset(&seen, 0, sizeof(seen));
    ac_redis_batch_command(b, 0, "GET %s", key);
    ac_redis_batch_command(b, 1, "SET %s after", key2);
    ac_redis_batch_command(b, 2, "GET %s", key2);
    if (ac_redis_batch_exec(b, err, sizeof(err)) != 0)
        fail_msg("exec after the move: %s", err);
    assert_string_equal(seen.vals[0], "before");
    assert_string_equal(seen.vals[2], "after");
    assert_int_equal(errorstat(src, "MOVED"), 3);
    assert_string_equal(must(dst, "GET %s", key2), "after");
    rep = ac_redis_command(r, err, sizeof(err), "GET %s", key2);
    assert_non_null(rep);
    assert_string_equal(rep->str, "after");
    freeReplyObject(rep);
    assert_int_equal(errorstat(src, "MOVED"), 3);
    ac_redis_destroy(r);
}

/* (d) A slot in mid-migration: keys already moved are answered through
 * ASK (ASKING, then the command on the importing master), a new key is
 * written there too, keys not yet moved on the old master, and the map is
 * left alone. A script on keys split between the two gets TRYAGAIN until
 * the batch gives up, in a bounded time. */
static void ask_during_migration(void **state)
{
    (void)state;
    char keys[5][64], err[256];
    static seen_t seen;
    for (int i = 0; i < 5; i++)
        snprintf(keys[i], sizeof(keys[i]), "t:%s:{ask}:%d", run_tag, i);
    int slot = ac_slot_of(keys[0], strlen(keys[0])), src = ports[master_index(keys[0])];
    int dst = other_master(src);
    ac_redis_t *r = node_handle(ports[0]);
    assert_int_equal(incr_batch(r, keys, 4, &seen, err, sizeof(err)), 0);
    migrating(slot, src, dst);
    migrate_key(src, dst, keys[0]);
    migrate_key(src, dst, keys[1]);
    must(src, "CONFIG RESETSTAT");
    must(dst, "CONFIG RESETSTAT");
    /* keys 0 and 1 on dst, 2 and 3 still on src, 4 new. */
    if (incr_batch(r, keys, 5, &seen, err, sizeof(err)) != 0)
        fail_msg("exec during the migration: %s", err);
    for (int i = 0; i < 5; i++)
        assert_string_equal(seen.vals[i], i < 4 ? "2" : "1");
    assert_int_equal(errorstat(src, "ASK"), 3);
    assert_int_equal(errorstat(src, "MOVED") + errorstat(dst, "MOVED"), 0);
    assert_string_equal(must(src, "GET %s", keys[2]), "2");
    /* A script whose keys are split between the two masters. */
    int64_t t0 = ac_time_mono_ms();
    const char *two[] = {keys[0], keys[2], "1"};
    ac_redis_batch_t *b = ac_redis_batch_begin(r, NULL, NULL, err, sizeof(err));
    ac_redis_batch_script(b, AC_REDIS_BATCH_NO_ITEM, &incr_script, 2, 3, two, NULL);
    assert_int_equal(ac_redis_batch_exec(b, err, sizeof(err)), -1);
    assert_contains(err, "TRYAGAIN");
    assert_true(ac_time_mono_ms() - t0 < 3000);
    /* Once the slot has moved, the handle follows MOVED there. */
    migrated(slot, src, dst);
    assert_int_equal(incr_batch(r, keys, 5, &seen, err, sizeof(err)), 0);
    for (int i = 0; i < 5; i++)
        assert_string_equal(seen.vals[i], i < 4 ? "3" : "2");
    ac_redis_destroy(r);
}

/* (f) A plain redis-server under REDIS_CLUSTER=auto (and off) is talked to
 * as before, database and all. */
static void plain_server_auto(void **state)
{
    (void)state;
    char url[128], err[256];
    static seen_t seen;
    ac_redis_cluster_t modes[] = {AC_REDIS_CLUSTER_AUTO, AC_REDIS_CLUSTER_OFF};
    for (int m = 0; m < 2; m++) {
        snprintf(url, sizeof(url), "redis://127.0.0.1:%d,127.0.0.1:%d/3", dead_port, plain_port);
        ac_redis_t *r = handle(url, modes[m]);
        assert_int_equal(ac_redis_connect(r, err, sizeof(err)), 0);
        assert_int_equal(ac_redis_is_cluster(r), 0);
        char keys[3][64];
        for (int i = 0; i < 3; i++)
            snprintf(keys[i], sizeof(keys[i]), "t:%s:plain:%d:%d", run_tag, m, i);
        assert_int_equal(incr_batch(r, keys, 3, &seen, err, sizeof(err)), 0);
        assert_string_equal(seen.vals[2], "1");
        redisContext *direct = redisConnect("127.0.0.1", plain_port);
        redisReply *in3 = direct ? redisCommand(direct, "SELECT 3") : NULL;
        freeReplyObject(in3);
        in3 = direct ? redisCommand(direct, "GET %s", keys[2]) : NULL;
        assert_true(in3 && in3->type == REDIS_REPLY_STRING && strcmp(in3->str, "1") == 0);
        freeReplyObject(in3);
        redisFree(direct);
        redisReply *rep = ac_redis_command(r, err, sizeof(err), "GET %s", keys[1]);
        assert_non_null(rep);
        assert_string_equal(rep->str, "1");
        freeReplyObject(rep);
        /* A lost script is loaded again on the next connect. */
        must(plain_port, "SCRIPT FLUSH");
        assert_int_equal(incr_batch(r, keys, 3, &seen, err, sizeof(err)), -1);
        assert_contains(err, "NOSCRIPT");
        assert_int_equal(incr_batch(r, keys, 3, &seen, err, sizeof(err)), 0);
        assert_string_equal(seen.vals[0], "2");
        ac_redis_destroy(r);
    }
}

/* (g) REDIS_CLUSTER=on against a plain server fails, saying why; a
 * cluster with a database other than 0 fails too. */
static void mode_mismatch(void **state)
{
    (void)state;
    char url[128], err[256] = "";
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", plain_port);
    ac_redis_t *r = handle(url, AC_REDIS_CLUSTER_ON);
    assert_int_equal(ac_redis_connect(r, err, sizeof(err)), -1);
    assert_contains(err, "REDIS_CLUSTER is on but the server is not a Redis Cluster");
    assert_null(ac_redis_batch_begin(r, NULL, NULL, err, sizeof(err)));
    assert_int_equal(ac_redis_is_cluster(r), 0);
    ac_redis_destroy(r);
    snprintf(url, sizeof(url), "redis://:hunter2@127.0.0.1:%d/2", ports[0]);
    r = handle(url, AC_REDIS_CLUSTER_AUTO);
    err[0] = '\0';
    assert_int_equal(ac_redis_connect(r, err, sizeof(err)), -1);
    /* No password is set: AUTH fails first, without showing it. */
    assert_not_contains(err, "hunter2");
    ac_redis_destroy(r);
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/2", ports[0]);
    r = handle(url, AC_REDIS_CLUSTER_AUTO);
    assert_int_equal(ac_redis_connect(r, err, sizeof(err)), -1);
    assert_string_equal(err, "redis: a Redis Cluster has only database 0");
    ac_redis_destroy(r);
}

/* The ingest gateway's pool (ictx.c) on the cluster: its scripts and
 * plain commands are routed like the batches. */
static void ictx_on_cluster(void **state)
{
    (void)state;
    char url[128], err[256], store[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", ports[1]);
    snprintf(store, sizeof(store), "st-%s", run_tag);
    ac_ictx_t *c = ac_ictx_new(url, AC_REDIS_CLUSTER_ON, 2, 60000, 60000, err, sizeof(err));
    assert_non_null(c);
    json_object *ev = json_tokener_parse("{\"type\":\"shipment.delivered\"}"), *ctx = NULL;
    for (int o = 0; o < 6; o++) {
        char order[32];
        snprintf(order, sizeof(order), "ord-%d", o);
        if (ac_ictx_lookup_or_park(c, store, order, ev, &ctx, err, sizeof(err)) != 0)
            fail_msg("lookup_or_park: %s", err);
        assert_null(ctx);
        json_object *base = json_tokener_parse("{\"customer\":{\"id\":\"c-1\"}}");
        json_object *waiting = NULL, *known = NULL;
        if (ac_ictx_remember(c, store, order, base, NULL, &waiting, &known, err, sizeof(err)) != 0)
            fail_msg("remember: %s", err);
        assert_int_equal(json_object_array_length(waiting), 1);
        assert_non_null(known);
        assert_int_equal(ac_ictx_release(c, store, order, 1, err, sizeof(err)), 0);
        json_object_put(base);
        json_object_put(waiting);
        json_object_put(known);
    }
    assert_int_equal(ac_ictx_ok(c), 1);
    json_object_put(ev);
    ac_ictx_destroy(c);
}

/* A field of INFO's text, as a number. */
static long long info_field(const char *info, const char *field)
{
    const char *p = strstr(info, field);
    return p ? atoll(p + strlen(field)) : -1;
}

/* The port of the replica of the master on port (CLUSTER REPLICAS). */
static int replica_of(int port)
{
    char id[64];
    node_id(port, id);
    redisReply *rep = command(port, "CLUSTER REPLICAS %s", id);
    assert_true(rep && rep->type == REDIS_REPLY_ARRAY && rep->elements == 1);
    const char *addr = strchr(rep->element[0]->str, ':');
    assert_non_null(addr);
    int replica = atoi(addr + 1);
    freeReplyObject(rep);
    return replica;
}

/* Waits until the replica on port has everything its master on master
 * has written. */
static void wait_replicated(int master, int replica)
{
    long long want = info_field(must(master, "INFO replication"), "master_repl_offset:");
    for (int t = 0; t < 200; t++) {
        const char *info = must(replica, "INFO replication");
        if (strstr(info, "master_link_status:up") && info_field(info, "slave_repl_offset:") >= want)
            return;
        sleep_ms(25);
    }
    fail_msg("the replica on %d did not catch up with %d", replica, master);
}

/* Reads back the n keys of big_batch(r, what, n) and writes new ones, as
 * one batch. Returns 0 or -1 with err. */
static int read_back(ac_redis_t *r, const char *what, int n, seen_t *seen, char *err, size_t errsz)
{
    char key[128];
    memset(seen, 0, sizeof(*seen));
    ac_redis_batch_t *b = ac_redis_batch_begin(r, record, seen, err, errsz);
    if (!b)
        return -1;
    for (int i = 0; i < n; i++) {
        key_of(key, sizeof(key), what, i);
        ac_redis_batch_command(b, (size_t)(2 * i), "GET %s", key);
        ac_redis_batch_command(b, (size_t)(2 * i + 1), "SET %s:after %d", key, i);
    }
    return ac_redis_batch_exec(b, err, errsz);
}

/* (e) A master is killed; once its replica is promoted, the batch the
 * caller retries (as the workers do after a failed batch) succeeds, and
 * what was written to the dead master's slots before is still there. */
static void failover(void **state)
{
    (void)state;
    char err[512], key[128], val[64];
    static seen_t seen;
    ac_redis_t *r = node_handle(ports[0]);
    big_batch(r, "fo", 200);
    key_of(key, sizeof(key), "fo", 0);
    int victim = master_index(key);
    int replica = replica_of(ports[victim]);
    wait_replicated(ports[victim], replica);
    stop(&pids[victim]);
    int64_t t0 = ac_time_mono_ms();
    int tries = 0, rc = -1;
    while (rc != 0 && ac_time_mono_ms() - t0 < 20000) {
        tries++;
        if ((rc = read_back(r, "fo", 200, &seen, err, sizeof(err))) != 0)
            sleep_ms(100);
    }
    if (rc != 0)
        fail_msg("no batch succeeded within 20 s of the kill: %s", err);
    print_message("failover: a batch succeeded %lld ms after the kill, at try %d (last error: "
                  "%s)\n",
                  (long long)(ac_time_mono_ms() - t0), tries, tries > 1 ? err : "none");
    assert_true(tries > 1);
    for (int i = 0; i < 200; i++) {
        snprintf(val, sizeof(val), "v-%d", i);
        assert_string_equal(seen.vals[2 * i], val);
        assert_string_equal(seen.vals[2 * i + 1], "OK");
    }
    assert_contains(must(replica, "INFO replication"), "role:master");
    ac_redis_destroy(r);
}

/* Counts the error replies a best-effort handler is given. */
static int count_errors(void *ctx, size_t item, const redisReply *reply, char *err, size_t errsz)
{
    (void)item;
    (void)err;
    (void)errsz;
    if (reply->type == REDIS_REPLY_ERROR)
        ++*(int *)ctx;
    return 0;
}

/* Several modules' commands in one batch, each module's replies to its own
 * handler (what an event worker's seen check and done marks share): the
 * marks written first are seen by the EXISTS behind them, across masters;
 * a best-effort handler takes its error reply while the rest of the batch
 * still succeeds; the same error behind the marks (which set no handler,
 * so that they do not fall to the best-effort one before them) fails the
 * batch and leaves every output untouched; an eighth handler fails the
 * batch. */
static void handlers_share_a_batch(ac_redis_t *r, const char *what)
{
    char err[256], names[6][64];
    const char *keys[6];
    int seen[6], errors = 0;
    for (int i = 0; i < 6; i++) {
        snprintf(names[i], sizeof(names[i]), "t:%s:%s:%d", run_tag, what, i);
        keys[i] = names[i];
    }
    ac_redis_batch_t *b = ac_redis_batch_begin(r, NULL, NULL, err, sizeof(err));
    assert_non_null(b);
    assert_int_equal(ac_dedup_append_marks(b, keys, 3, 60000), 0);
    assert_int_equal(ac_dedup_append_seen(b, keys, 6, seen), 0);
    assert_int_equal(ac_redis_batch_handler(b, count_errors, &errors, 1), 0);
    ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "HGET %s f", keys[0]);
    ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "SET %s v", keys[5]);
    if (ac_redis_batch_exec(b, err, sizeof(err)) != 0)
        fail_msg("%s: %s", what, err);
    for (int i = 0; i < 6; i++)
        assert_int_equal(seen[i], i < 3);
    assert_int_equal(errors, 1);

    for (int i = 0; i < 6; i++)
        seen[i] = -1;
    b = ac_redis_batch_begin(r, NULL, NULL, err, sizeof(err));
    assert_non_null(b);
    ac_dedup_append_seen(b, keys, 6, seen);
    ac_redis_batch_handler(b, count_errors, &errors, 1);
    ac_dedup_append_marks(b, keys + 4, 1, 60000); /* no handler from here */
    ac_redis_batch_command(b, AC_REDIS_BATCH_NO_ITEM, "HGET %s f", keys[1]);
    assert_int_equal(ac_redis_batch_exec(b, err, sizeof(err)), -1);
    assert_contains(err, "WRONGTYPE");
    for (int i = 0; i < 6; i++)
        assert_int_equal(seen[i], -1);
    assert_int_equal(errors, 1);

    /* The same handler again takes no room; an eighth different one fails. */
    int counts[8];
    b = ac_redis_batch_begin(r, NULL, NULL, err, sizeof(err));
    assert_non_null(b);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(ac_redis_batch_handler(b, count_errors, &counts[i], 1), 0);
        assert_int_equal(ac_redis_batch_handler(b, NULL, NULL, 0), 0);
    }
    assert_int_equal(ac_redis_batch_handler(b, count_errors, &counts[0], 1), 0);
    assert_int_equal(ac_redis_batch_handler(b, count_errors, &counts[7], 1), -1);
    assert_int_equal(ac_redis_batch_exec(b, err, sizeof(err)), -1);
    assert_contains(err, "cannot queue");
}

/* handlers_share_a_batch() on the cluster and on the plain server. */
static void batch_handlers(void **state)
{
    (void)state;
    char url[128], err[256];
    ac_redis_t *r = node_handle(ports[0]);
    assert_int_equal(ac_redis_connect(r, err, sizeof(err)), 0);
    assert_int_equal(ac_redis_is_cluster(r), 1);
    handlers_share_a_batch(r, "hc");
    ac_redis_destroy(r);
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d", plain_port);
    r = handle(url, AC_REDIS_CLUSTER_AUTO);
    assert_int_equal(ac_redis_connect(r, err, sizeof(err)), 0);
    assert_int_equal(ac_redis_is_cluster(r), 0);
    handlers_share_a_batch(r, "hp");
    ac_redis_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(map_routes_every_key),
        cmocka_unit_test(batch_lands_every_key),
        cmocka_unit_test(first_seed_down),
        cmocka_unit_test(script_on_every_master),
        cmocka_unit_test(moved_slot),
        cmocka_unit_test(ask_during_migration),
        cmocka_unit_test(plain_server_auto),
        cmocka_unit_test(mode_mismatch),
        cmocka_unit_test(ictx_on_cluster),
        cmocka_unit_test(batch_handlers),
        cmocka_unit_test(failover),
    };
    return cmocka_run_group_tests(tests, start_cluster, stop_cluster);
}
