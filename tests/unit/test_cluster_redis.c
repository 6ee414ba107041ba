/* The slot layer (slot.h, slotmap.h) against a real Redis Cluster: three
 * cluster-enabled redis-servers on free loopback ports, joined with
 * redis-cli --cluster create, as issue 16's tests will run the workers
 * on. The map read from CLUSTER SLOTS must send every key to the node
 * that serves it, and another node's MOVED must name that same node. */
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

#include "slot.h"
#include "slotmap.h"

#define NODES 3

static pid_t pids[NODES];
static int ports[NODES];
static char dir[64];

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
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    redisReply *r = NULL;
    if (c && !c->err) {
        va_list ap;
        va_start(ap, fmt);
        r = redisvCommand(c, fmt, ap);
        va_end(ap);
    }
    if (c)
        redisFree(c);
    return r;
}

static pid_t spawn_node(int port)
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
        execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", dir, "--cluster-enabled", "yes",
               "--cluster-config-file", conf, "--loglevel", "warning", (char *)NULL);
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

static int start_cluster(void **state)
{
    char cmd[512];
    (void)state;
    srand((unsigned)getpid());
    snprintf(dir, sizeof(dir), "/tmp/ac_test_cluster_XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    for (int i = 0; i < NODES; i++) {
        if ((ports[i] = cluster_port()) < 0 || (pids[i] = spawn_node(ports[i])) < 0)
            return -1;
    }
    for (int i = 0; i < NODES; i++) {
        redisReply *r = NULL;
        for (int t = 0; t < 100 && !(r = command(ports[i], "PING")); t++)
            sleep_ms(50);
        if (!r)
            return -1;
        freeReplyObject(r);
    }
    snprintf(cmd, sizeof(cmd),
             "redis-cli --cluster create 127.0.0.1:%d 127.0.0.1:%d 127.0.0.1:%d "
             "--cluster-replicas 0 --cluster-yes >/dev/null 2>&1",
             ports[0], ports[1], ports[2]);
    if (system(cmd) != 0)
        return -1;
    for (int t = 0; t < 200; t++) {
        int ok = 1;
        for (int i = 0; i < NODES; i++)
            ok = ok && cluster_ok(ports[i]);
        if (ok)
            return 0;
        sleep_ms(50);
    }
    fprintf(stderr, "the cluster did not become ok\n");
    return -1;
}

static int stop_cluster(void **state)
{
    char cmd[128];
    (void)state;
    for (int i = 0; i < NODES; i++) {
        if (pids[i] > 0) {
            kill(pids[i], SIGKILL);
            waitpid(pids[i], NULL, 0);
        }
    }
    if (dir[0]) {
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", dir);
    }
    return 0;
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
    assert_int_equal(ac_slotmap_count(m), NODES);
    for (int s = 0; s < AC_SLOT_COUNT; s++)
        assert_true(ac_slotmap_node(m, s) >= 0);
    for (int k = 0; k < 300; k++) {
        char key[64];
        int n = snprintf(key, sizeof(key), k % 2 ? "ac:j:{st-%d:ord-%d}" : "key-%d-%d", k, k * 31);
        int slot = ac_slot_of(key, (size_t)n);
        int node = ac_slotmap_node(m, slot);
        int port = ac_slotmap_port(m, (size_t)node);
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
    /* Keys sharing a hash tag may be used together in one command. */
    redisReply *multi =
        command(ac_slotmap_port(m, (size_t)ac_slotmap_node(m, ac_slot_of("{o-1}a", 6))),
                "MSET {o-1}a 1 {o-1}b 2");
    assert_non_null(multi);
    assert_int_equal(multi->type, REDIS_REPLY_STATUS);
    freeReplyObject(multi);
    freeReplyObject(slots);
    ac_slotmap_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(map_routes_every_key),
    };
    return cmocka_run_group_tests(tests, start_cluster, stop_cluster);
}
