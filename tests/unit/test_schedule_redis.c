/* Tests of common/journey's and common/schedule's Redis scripts against a
 * real redis-server, which the test starts itself on a free loopback port
 * and stops at the end (also when a test fails). Registered with the
 * "integration" label: the unit label stays free of servers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "evzip.h"
#include "journey_redis.h"
#include "history.h"
#include "prefs.h"
#include "redis_key.h"
#include "schedule.h"
#include "watermark.h"
#include "timeutil.h"

#define DAY   86400000LL
#define LEASE 60000LL

/* The server all tests share. */
static pid_t server_pid = -1;
static int server_port;
static char server_dir[64];

/* ---- the server --------------------------------------------------------- */

/* redis-server from the usual place, else from PATH; NULL when missing. */
static const char *find_redis_server(char *buf, size_t bufsz)
{
    if (access("/usr/bin/redis-server", X_OK) == 0)
        return "/usr/bin/redis-server";
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t len = strcspn(path, ":");
        snprintf(buf, bufsz, "%.*s/redis-server", (int)len, path);
        if (len && access(buf, X_OK) == 0)
            return buf;
        path += len + (path[len] == ':');
    }
    return NULL;
}

/* A loopback port nobody listens on: bind port 0 and read back what the
 * kernel chose. */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    int port = -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* True once the server answers PING. */
static int server_answers(void)
{
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", server_port, tv);
    int ok = 0;
    if (c && !c->err) {
        redisReply *r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
        if (r)
            freeReplyObject(r);
    }
    if (c)
        redisFree(c);
    return ok;
}

static void stop_server(void)
{
    if (server_pid <= 0)
        return;
    kill(server_pid, SIGTERM);
    for (int i = 0; i < 50 && server_pid > 0; i++) {
        if (waitpid(server_pid, NULL, WNOHANG) == server_pid)
            server_pid = -1;
        else
            sleep_ms(50);
    }
    if (server_pid > 0) {
        kill(server_pid, SIGKILL);
        waitpid(server_pid, NULL, 0);
        server_pid = -1;
    }
}

static int start_server(void **state)
{
    (void)state;
    char buf[4096], port[16];
    const char *exe = find_redis_server(buf, sizeof(buf));
    if (!exe) {
        fprintf(stderr, "redis-server not found: this test needs it installed\n");
        return -1;
    }
    snprintf(server_dir, sizeof(server_dir), "/tmp/ac_test_redis_XXXXXX");
    if (!mkdtemp(server_dir)) {
        server_dir[0] = '\0';
        return -1;
    }
    /* A port can be taken between choosing and binding it: try a few. */
    for (int attempt = 0; attempt < 5; attempt++) {
        if ((server_port = free_port()) < 0)
            return -1;
        snprintf(port, sizeof(port), "%d", server_port);
        pid_t parent = getpid();
        server_pid = fork();
        if (server_pid < 0)
            return -1;
        if (server_pid == 0) {
            /* The server dies with the test, however the test ends. */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(127);
            int null = open("/dev/null", O_RDWR);
            if (null >= 0) {
                dup2(null, STDIN_FILENO);
                dup2(null, STDOUT_FILENO);
            }
            execl(exe, exe, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly",
                  "no", "--dir", server_dir, "--loglevel", "warning", (char *)NULL);
            _exit(127);
        }
        for (int i = 0; i < 100; i++) {
            if (server_answers())
                return 0;
            if (waitpid(server_pid, NULL, WNOHANG) == server_pid) {
                server_pid = -1;
                break;
            }
            sleep_ms(50);
        }
        stop_server();
    }
    fprintf(stderr, "redis-server did not start\n");
    return -1;
}

static int stop_server_group(void **state)
{
    (void)state;
    stop_server();
    if (server_dir[0])
        rmdir(server_dir);
    return 0;
}

/* ---- per test: an empty database and a handle with the scripts ---------- */

/* The schedule of each handle a test made (two firers at most), with two
 * buckets: every take below asks for at least two items, so that a round
 * covers every bucket (test_buckets covers the default count). */
static struct {
    ac_redis_t *r;
    ac_schedule_t *s;
} handles[4];

static ac_schedule_t *S(ac_redis_t *r)
{
    for (size_t i = 0; i < sizeof(handles) / sizeof(*handles); i++)
        if (handles[i].r == r)
            return handles[i].s;
    fail_msg("no schedule for this handle");
    return NULL;
}

static void destroy_handle(ac_redis_t *r)
{
    for (size_t i = 0; i < sizeof(handles) / sizeof(*handles); i++) {
        if (handles[i].r == r) {
            ac_schedule_destroy(handles[i].s);
            handles[i].r = NULL;
            handles[i].s = NULL;
        }
    }
    ac_redis_destroy(r);
}

static ac_redis_t *new_handle_buckets(int buckets)
{
    char url[64], err[256];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%d/0", server_port);
    ac_redis_t *r = ac_redis_new(url, 5000, err, sizeof(err));
    if (!r)
        fail_msg("ac_redis_new: %s", err);
    ac_journey_register(r);
    for (size_t i = 0; i < sizeof(handles) / sizeof(*handles); i++) {
        if (!handles[i].r) {
            handles[i].r = r;
            if (!(handles[i].s = ac_schedule_new(r, buckets, err, sizeof(err))))
                fail_msg("ac_schedule_new: %s", err);
            return r;
        }
    }
    fail_msg("too many handles");
    return NULL;
}

static ac_redis_t *new_handle(void)
{
    return new_handle_buckets(2);
}

static int setup(void **state)
{
    char err[256];
    ac_redis_t *r = new_handle();
    redisReply *rep = ac_redis_command(r, err, sizeof(err), "FLUSHALL");
    if (!rep) {
        fprintf(stderr, "FLUSHALL: %s\n", err);
        ac_redis_destroy(r);
        return -1;
    }
    freeReplyObject(rep);
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    destroy_handle(*state);
    return 0;
}

/* Runs a command expecting an integer reply. */
static long long command_int(ac_redis_t *r, const char *fmt, const char *arg1, const char *arg2)
{
    char err[256];
    redisReply *rep = ac_redis_command(r, err, sizeof(err), fmt, arg1, arg2);
    if (!rep)
        fail_msg("%s: %s", fmt, err);
    if (rep->type != REDIS_REPLY_INTEGER)
        fail_msg("%s %s: not an integer reply (type %d)", fmt, arg1 ? arg1 : "", rep->type);
    long long v = rep->integer;
    freeReplyObject(rep);
    return v;
}

static long long pending(ac_redis_t *r)
{
    char err[256];
    long long n = -1;
    if (ac_schedule_pending(S(r), &n, err, sizeof(err)) < 0)
        fail_msg("ac_schedule_pending: %s", err);
    return n;
}

/* ---- events and operations --------------------------------------------- */

static ac_event_t *event(const char *type, const char *order, const char *at,
                         const char *extra_order)
{
    char json[1024];
    snprintf(json, sizeof(json),
             "{\"event_id\":\"evt_%s_%s\",\"type\":\"%s\",\"occurred_at\":\"%s\","
             "\"store\":{\"id\":\"st_1\"},\"order\":{\"id\":\"%s\"%s},"
             "\"customer\":{\"id\":\"cus_1\"}}",
             type, at, type, at, order, extra_order ? extra_order : "");
    ac_event_error_t err;
    ac_event_t *ev = ac_event_parse(json, strlen(json), 0, &err);
    if (!ev)
        fail_msg("test event does not parse: %s", err.detail);
    return ev;
}

static ac_event_t *parse_json(const char *json)
{
    ac_event_error_t err;
    ac_event_t *ev = ac_event_parse(json, strlen(json), 0, &err);
    if (!ev)
        fail_msg("test event does not parse: %s", err.detail);
    return ev;
}

/* Applies one event to its journey; returns the journey read back. */
static ac_journey_t apply_one(ac_redis_t *r, ac_event_t *ev)
{
    char err[256];
    ac_journey_t j;
    const ac_event_t *evs[] = {ev};
    if (ac_journey_apply(r, evs, 1, 30 * DAY, &j, err, sizeof(err)) < 0)
        fail_msg("ac_journey_apply: %s", err);
    return j;
}

/* One scheduled message of an order, with its strings. */
typedef struct item {
    char id[AC_MESSAGE_ID_LEN];
    char jkey[128];
    ac_schedule_op_t op;
} item_t;

static void make_add(item_t *it, ac_kind_t kind, const char *order, int64_t due, const char *record)
{
    memset(it, 0, sizeof(*it));
    ac_message_id(kind, "st_1", order, NULL, it->id);
    ac_journey_key("st_1", order, it->jkey, sizeof(it->jkey));
    it->op.type = AC_SCHEDULE_ADD;
    it->op.id = it->id;
    it->op.kind = kind;
    it->op.due_ms = due;
    it->op.journey_key = it->jkey;
    it->op.record = record;
    it->op.record_len = strlen(record);
    it->op.result = (ac_schedule_result_t)-1;
}

static ac_schedule_result_t apply_op(ac_redis_t *r, ac_schedule_op_t *op)
{
    char err[256];
    op->result = (ac_schedule_result_t)-1;
    if (ac_schedule_apply(S(r), op, 1, err, sizeof(err)) < 0)
        fail_msg("ac_schedule_apply: %s", err);
    return op->result;
}

/* Cancels id, a message of order. */
static ac_schedule_result_t cancel(ac_redis_t *r, const char *order, const char *id, ac_kind_t kind,
                                   int64_t since)
{
    static char jkey[128];
    ac_journey_key("st_1", order, jkey, sizeof(jkey));
    ac_schedule_op_t op;
    memset(&op, 0, sizeof(op));
    op.type = AC_SCHEDULE_CANCEL;
    op.id = id;
    op.kind = kind;
    op.due_ms = since;
    op.journey_key = jkey;
    return apply_op(r, &op);
}

static size_t take(ac_redis_t *r, int64_t now, size_t max, ac_schedule_due_t *out)
{
    char err[256];
    size_t n = 0;
    if (ac_schedule_take(S(r), now, LEASE, max, out, &n, err, sizeof(err)) < 0)
        fail_msg("ac_schedule_take: %s", err);
    assert_true(n <= max);
    return n;
}

/* Acknowledges one fired item of the order whose journey key is jkey. */
static void ack_one(ac_redis_t *r, const char *id, const char *jkey)
{
    char err[256];
    static ac_schedule_due_t d;
    memset(&d, 0, sizeof(d));
    memcpy(d.id, id, AC_MESSAGE_ID_LEN);
    snprintf(d.journey_key, sizeof(d.journey_key), "%s", jkey);
    const ac_schedule_due_t *items[] = {&d};
    if (ac_schedule_ack(S(r), items, 1, err, sizeof(err)) < 0)
        fail_msg("ac_schedule_ack: %s", err);
}

static const int64_t T0 = 1795564800000LL; /* 2026-11-25T00:00:00Z */

/* ---- journeys ----------------------------------------------------------- */

static void test_journey_apply_earliest_wins(void **state)
{
    ac_redis_t *r = *state;
    char err[256];
    ac_event_t *placed = event("order.placed", "ord_1", "2026-11-25T10:00:00Z",
                               ",\"promised_delivery_date\":\"2026-11-28\"");
    ac_event_t *late = event("shipment.delivered", "ord_1", "2026-11-29T18:00:00Z", NULL);
    ac_event_t *early = event("shipment.delivered", "ord_1", "2026-11-29T09:00:00Z",
                              ",\"promised_delivery_date\":\"2026-12-05\"");
    ac_event_t *other = event("order.placed", "ord_2", "2026-11-20T10:00:00Z", NULL);
    /* One batch: each event sees the ones before it in the batch. */
    const ac_event_t *batch[] = {placed, late};
    ac_journey_t out[2];
    if (ac_journey_apply(r, batch, 2, 30 * DAY, out, err, sizeof(err)) < 0)
        fail_msg("ac_journey_apply: %s", err);
    assert_int_equal(out[0].at[AC_FACT_PLACED], placed->occurred_ms);
    assert_int_equal(out[0].at[AC_FACT_DELIVERED], 0);
    assert_string_equal(out[0].promised, "2026-11-28");
    assert_int_equal(out[1].at[AC_FACT_PLACED], placed->occurred_ms);
    assert_int_equal(out[1].at[AC_FACT_DELIVERED], late->occurred_ms);
    /* An earlier delivery, processed later, moves the fact back; the first
     * promise stays. */
    ac_journey_t j = apply_one(r, early);
    assert_int_equal(j.at[AC_FACT_DELIVERED], early->occurred_ms);
    assert_int_equal(j.at[AC_FACT_PLACED], placed->occurred_ms);
    assert_string_equal(j.promised, "2026-11-28");
    /* The later one again does not move it forward. */
    j = apply_one(r, late);
    assert_int_equal(j.at[AC_FACT_DELIVERED], early->occurred_ms);
    /* Another order's journey is its own. */
    j = apply_one(r, other);
    assert_int_equal(j.at[AC_FACT_PLACED], other->occurred_ms);
    assert_int_equal(j.at[AC_FACT_DELIVERED], 0);
    assert_string_equal(j.promised, "");
    /* The hash expires, and every apply renews the expiry. */
    char key[128];
    ac_journey_key("st_1", "ord_1", key, sizeof(key));
    long long ttl = command_int(r, "PTTL %s", key, NULL);
    assert_true(ttl > 0);
    assert_true(ttl <= 30 * DAY);
    assert_true(ttl > 30 * DAY - 60000);
    const ac_event_t *one[] = {late};
    if (ac_journey_apply(r, one, 1, DAY, &j, err, sizeof(err)) < 0)
        fail_msg("ac_journey_apply: %s", err);
    ttl = command_int(r, "PTTL %s", key, NULL);
    assert_true(ttl > 0 && ttl <= DAY);
    ac_event_destroy(placed);
    ac_event_destroy(late);
    ac_event_destroy(early);
    ac_event_destroy(other);
}

/* ---- adding and cancelling ---------------------------------------------- */

static void test_add_then_already(void **state)
{
    ac_redis_t *r = *state;
    item_t it;
    make_add(&it, AC_KIND_REVIEW_REQUEST, "ord_1", T0 + 7 * DAY, "{\"id\":\"x\"}");
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ADDED);
    assert_int_equal(pending(r), 1);
    /* A replayed delivery schedules nothing new. */
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ALREADY);
    assert_int_equal(pending(r), 1);
    /* Another order's review request is another item. */
    item_t other;
    make_add(&other, AC_KIND_REVIEW_REQUEST, "ord_2", T0 + 7 * DAY, "{\"id\":\"y\"}");
    assert_int_equal(apply_op(r, &other.op), AC_SCHEDULE_ADDED);
    assert_int_equal(pending(r), 2);
}

static void test_add_blocked(void **state)
{
    ac_redis_t *r = *state;
    /* The return happened before the review would be due: never added. */
    ac_event_t *ret = event("return.requested", "ord_1", "2026-11-28T10:00:00Z", NULL);
    apply_one(r, ret);
    item_t it;
    make_add(&it, AC_KIND_REVIEW_REQUEST, "ord_1", ret->occurred_ms, "{}");
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_BLOCKED);
    assert_non_null(it.op.blocked_by);
    assert_string_equal(it.op.blocked_by, "returned");
    make_add(&it, AC_KIND_REVIEW_REQUEST, "ord_1", ret->occurred_ms + 7 * DAY, "{}");
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_BLOCKED);
    assert_int_equal(pending(r), 0);
    /* A blocker after the due time does not count: the message would have
     * gone out by then. */
    make_add(&it, AC_KIND_REVIEW_REQUEST, "ord_1", ret->occurred_ms - 1, "{}");
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ADDED);
    assert_int_equal(pending(r), 1);
    /* A fact that is not one of the kind's blockers does not count. */
    ac_event_t *delivered = event("shipment.delivered", "ord_2", "2026-11-28T10:00:00Z", NULL);
    apply_one(r, delivered);
    make_add(&it, AC_KIND_REVIEW_REQUEST, "ord_2", delivered->occurred_ms + 7 * DAY, "{}");
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ADDED);
    ac_event_destroy(ret);
    ac_event_destroy(delivered);
}

static void test_cancel(void **state)
{
    ac_redis_t *r = *state;
    const int64_t due = T0 + 7 * DAY;
    item_t it;
    make_add(&it, AC_KIND_REVIEW_REQUEST, "ord_1", due, "{\"id\":\"x\"}");
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ADDED);
    /* A return after the due time leaves the item (it fired, or will). */
    assert_int_equal(cancel(r, "ord_1", it.id, AC_KIND_REVIEW_REQUEST, due + 1), AC_SCHEDULE_NONE);
    assert_int_equal(pending(r), 1);
    /* One at or before the due time cancels it, with everything it held. */
    assert_int_equal(cancel(r, "ord_1", it.id, AC_KIND_REVIEW_REQUEST, due), AC_SCHEDULE_CANCELLED);
    assert_int_equal(pending(r), 0);
    assert_int_equal(command_int(r, "EXISTS {%s}:sched", it.jkey, NULL), 0);
    assert_int_equal(command_int(r, "EXISTS %s %s", "ac:sched:{b0}", "ac:sched:{b1}"), 0);
    /* Nothing left to cancel. */
    assert_int_equal(cancel(r, "ord_1", it.id, AC_KIND_REVIEW_REQUEST, T0), AC_SCHEDULE_NONE);
    char never[AC_MESSAGE_ID_LEN];
    ac_message_id(AC_KIND_REFERRAL_INVITE, "st_1", "ord_9", NULL, never);
    assert_int_equal(cancel(r, "ord_9", never, AC_KIND_REFERRAL_INVITE, T0), AC_SCHEDULE_NONE);
}

/* Two deliveries of one order (two parcels) heard of in either order: the
 * earlier due time wins while the item is pending; once it went out,
 * nothing changes; a cancelled item's marker goes with it. */
static void test_earlier_due_wins(void **state)
{
    ac_redis_t *r = *state;
    item_t it;
    char jkey[128];
    ac_journey_key("st_1", "ord_1", jkey, sizeof(jkey));
    make_add(&it, AC_KIND_REVIEW_REQUEST, "ord_1", T0 + 10 * DAY, "{\"late\":1}");
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ADDED);
    make_add(&it, AC_KIND_REVIEW_REQUEST, "ord_1", T0 + 7 * DAY, "{\"early\":1}");
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ADDED);
    make_add(&it, AC_KIND_REVIEW_REQUEST, "ord_1", T0 + 8 * DAY, "{\"later\":1}");
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ALREADY);
    assert_int_equal(pending(r), 1);
    ac_schedule_due_t out[2];
    assert_int_equal(take(r, T0 + 7 * DAY, 2, out), 1);
    assert_int_equal(out[0].due_ms, T0 + 7 * DAY);
    assert_string_equal(out[0].record, "{\"early\":1}");
    char err[256];
    const ac_schedule_due_t *acked[] = {&out[0]};
    assert_int_equal(ac_schedule_ack(S(r), acked, 1, err, sizeof(err)), 0);
    ac_schedule_due_clear(out, 1);
    /* It went out: an even earlier delivery heard of now changes nothing. */
    make_add(&it, AC_KIND_REVIEW_REQUEST, "ord_1", T0 + 6 * DAY, "{}");
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ALREADY);
    assert_int_equal(pending(r), 0);

    /* Cancelled: the marker goes, so an earlier delivery, due before the
     * fact that cancelled it, schedules it again. */
    make_add(&it, AC_KIND_REVIEW_REQUEST, "ord_2", T0 + 10 * DAY, "{}");
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ADDED);
    assert_int_equal(cancel(r, "ord_2", it.id, AC_KIND_REVIEW_REQUEST, T0 + 9 * DAY),
                     AC_SCHEDULE_CANCELLED);
    ac_journey_key("st_1", "ord_2", jkey, sizeof(jkey));
    assert_int_equal(command_int(r, "HEXISTS %s %s", jkey, "s:review_request"), 0);
    make_add(&it, AC_KIND_REVIEW_REQUEST, "ord_2", T0 + 7 * DAY, "{}");
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ADDED);
    assert_int_equal(pending(r), 1);
}

/* A referral invitation needs the customer's consent by the time it
 * fires, whenever the event carrying it was processed. */
static void test_referral_needs_consent_at_fire(void **state)
{
    ac_redis_t *r = *state;
    item_t without, with;
    make_add(&without, AC_KIND_REFERRAL_INVITE, "ord_1", T0 + 14 * DAY, "{\"n\":1}");
    make_add(&with, AC_KIND_REFERRAL_INVITE, "ord_2", T0 + 14 * DAY, "{\"n\":2}");
    assert_int_equal(apply_op(r, &without.op), AC_SCHEDULE_ADDED);
    assert_int_equal(apply_op(r, &with.op), AC_SCHEDULE_ADDED);
    /* ord_2's checkout, carrying the consent, is processed after. */
    static const char placed[] =
        "{\"event_id\":\"evt_p2\",\"type\":\"order.placed\","
        "\"occurred_at\":\"2026-11-20T10:00:00Z\",\"store\":{\"id\":\"st_1\"},"
        "\"order\":{\"id\":\"ord_2\"},"
        "\"customer\":{\"id\":\"cus_2\",\"marketing_consent\":true}}";
    ac_event_error_t e;
    ac_event_t *ev = ac_event_parse(placed, strlen(placed), 0, &e);
    assert_non_null(ev);
    apply_one(r, ev);
    ac_schedule_due_t out[4];
    size_t n = take(r, T0 + 14 * DAY, 4, out);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(out[i].id, without.id) == 0) {
            assert_non_null(out[i].blocked_by);
            assert_string_equal(out[i].blocked_by, "no_consent");
            /* Its record comes along, for the report's suppressed count. */
            assert_string_equal(out[i].record, "{\"n\":1}");
        } else {
            assert_string_equal(out[i].id, with.id);
            assert_null(out[i].blocked_by);
            assert_string_equal(out[i].record, "{\"n\":2}");
        }
    }
    ac_schedule_due_clear(out, n);
    /* Dropped for want of consent, it does not come back with another
     * delivery of the order. */
    make_add(&without, AC_KIND_REFERRAL_INVITE, "ord_1", T0 + 13 * DAY, "{\"n\":3}");
    assert_int_equal(apply_op(r, &without.op), AC_SCHEDULE_ALREADY);
    assert_int_equal(pending(r), 1); /* the one that fired, leased until acknowledged */
    ac_event_destroy(ev);
}

/* ---- taking what is due ------------------------------------------------- */

static void test_take_lease_ack(void **state)
{
    ac_redis_t *r = *state;
    char err[256];
    const int64_t due = T0 + 7 * DAY;
    /* A record as ac_message_encode() writes it: escapes, spaces, quotes
     * and non-ASCII text must come back byte for byte. */
    static const char record[] =
        "{\"id\": \"msg_1\", \"note\": \"tab\\there  and \\\"quotes\\\"\\n\", "
        "\"name\": \"Zoë Jürgen\", \"sp\": \"   \"}";
    item_t it;
    make_add(&it, AC_KIND_REVIEW_REQUEST, "ord_1", due, record);
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ADDED);
    ac_schedule_due_t out[4];
    /* Not yet due. */
    assert_int_equal(take(r, due - 1, 4, out), 0);
    /* Due: taken whole. */
    assert_int_equal(take(r, due, 4, out), 1);
    assert_string_equal(out[0].id, it.id);
    assert_int_equal(out[0].kind, AC_KIND_REVIEW_REQUEST);
    assert_int_equal(out[0].due_ms, due);
    assert_null(out[0].blocked_by);
    assert_non_null(out[0].record);
    assert_int_equal(out[0].record_len, strlen(record));
    assert_memory_equal(out[0].record, record, strlen(record));
    assert_int_equal(out[0].record[out[0].record_len], '\0');
    ac_schedule_due_clear(out, 1);
    assert_null(out[0].record);
    /* Leased: nobody takes it again until the lease lapses. */
    assert_int_equal(take(r, due, 4, out), 0);
    assert_int_equal(take(r, due + LEASE - 1, 4, out), 0);
    assert_int_equal(pending(r), 1);
    /* The firer died: after the lease it is taken again, still intact. */
    assert_int_equal(take(r, due + LEASE + 1, 4, out), 1);
    assert_string_equal(out[0].id, it.id);
    assert_int_equal(out[0].due_ms, due);
    assert_memory_equal(out[0].record, record, strlen(record));
    ac_schedule_due_clear(out, 1);
    /* Acknowledged: gone for good. */
    ack_one(r, it.id, it.jkey);
    (void)err;
    assert_int_equal(pending(r), 0);
    assert_int_equal(take(r, due + 10 * LEASE, 4, out), 0);
    assert_int_equal(command_int(r, "EXISTS {%s}:sched", it.jkey, NULL), 0);
    /* And a replay does not schedule it again. */
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ALREADY);
    assert_int_equal(pending(r), 0);
}

/* The watermark holds a review request due after it, lets an order
 * confirmation put back for a retry fire at its due time anyway (nothing
 * can rule it out), and fires the held one once its release time has
 * come, flagged as fired on the facts known. Held items are counted. */
static void test_take_until_watermark(void **state)
{
    ac_redis_t *r = *state;
    char err[256], jkey[128];
    const int64_t due = T0 + 7 * DAY, hold = 3600000;
    item_t review, other;
    make_add(&review, AC_KIND_REVIEW_REQUEST, "ord_1", due, "{\"r\":1}");
    review.op.release_ms = ac_watermark_release(AC_KIND_REVIEW_REQUEST, due, hold);
    assert_int_equal(apply_op(r, &review.op), AC_SCHEDULE_ADDED);
    make_add(&other, AC_KIND_REVIEW_REQUEST, "ord_2", due + 10, "{\"r\":2}");
    other.op.release_ms = ac_watermark_release(AC_KIND_REVIEW_REQUEST, due + 10, hold);
    assert_int_equal(apply_op(r, &other.op), AC_SCHEDULE_ADDED);
    ac_schedule_op_t retry;
    char rid[AC_MESSAGE_ID_LEN];
    memset(&retry, 0, sizeof(retry));
    ac_message_id(AC_KIND_ORDER_CONFIRMATION, "st_1", "ord_3", NULL, rid);
    ac_journey_key("st_1", "ord_3", jkey, sizeof(jkey));
    retry.type = AC_SCHEDULE_DEFER;
    retry.id = rid;
    retry.kind = AC_KIND_ORDER_CONFIRMATION;
    retry.due_ms = due;
    retry.journey_key = jkey;
    retry.record = "{\"c\":1}";
    retry.record_len = 7;
    retry.release_ms = ac_watermark_release(AC_KIND_ORDER_CONFIRMATION, due, hold);
    assert_int_equal(retry.release_ms, due);
    if (ac_schedule_apply(S(r), &retry, 1, err, sizeof(err)) < 0)
        fail_msg("ac_schedule_apply: %s", err);

    ac_schedule_due_t out[8];
    size_t n = 0;
    long long held = -1;
    /* The watermark is an hour behind: only the confirmation fires. */
    if (ac_schedule_take_until(S(r), due + 100, due - hold, LEASE, 8, out, &n, &held, err,
                               sizeof(err)) < 0)
        fail_msg("ac_schedule_take_until: %s", err);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].id, rid);
    assert_false(out[0].hold_expired);
    assert_int_equal(held, 2);
    ac_schedule_due_clear(out, n);
    /* No watermark known at all: still nothing gated fires before its release. */
    if (ac_schedule_take_until(S(r), due + 100, AC_SCHEDULE_NO_BOUND, LEASE, 8, out, &n, &held, err,
                               sizeof(err)) < 0)
        fail_msg("ac_schedule_take_until: %s", err);
    assert_int_equal(n, 0);
    assert_int_equal(held, 2);
    /* The watermark passes the first one's due time: it fires, on time. */
    if (ac_schedule_take_until(S(r), due + 100, due + 5, LEASE, 8, out, &n, &held, err,
                               sizeof(err)) < 0)
        fail_msg("ac_schedule_take_until: %s", err);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].id, review.id);
    assert_false(out[0].hold_expired);
    assert_int_equal(held, 1);
    ac_schedule_due_clear(out, n);
    ack_one(r, review.id, review.jkey);
    ack_one(r, rid, jkey);
    /* The other's hold runs out with the watermark still stuck: it fires,
     * flagged, and nothing is held any more. */
    if (ac_schedule_take_until(S(r), due + 10 + hold, due + 5, LEASE, 8, out, &n, &held, err,
                               sizeof(err)) < 0)
        fail_msg("ac_schedule_take_until: %s", err);
    assert_int_equal(n, 1);
    assert_string_equal(out[0].id, other.id);
    assert_true(out[0].hold_expired);
    assert_int_equal(held, 0);
    ac_schedule_due_clear(out, n);
    /* Acknowledged items leave the release set too. */
    ack_one(r, other.id, other.jkey);
    assert_int_equal(
        command_int(r, "EXISTS %s %s", "ac:sched:{b0}:release", "ac:sched:{b1}:release"), 0);
}

static void test_take_drops_blocked(void **state)
{
    ac_redis_t *r = *state;
    const int64_t due = T0 + 7 * DAY;
    item_t review, referral;
    make_add(&review, AC_KIND_REVIEW_REQUEST, "ord_1", due, "{\"k\":\"review\"}");
    make_add(&referral, AC_KIND_REFERRAL_INVITE, "ord_1", due + 7 * DAY, "{\"k\":\"referral\"}");
    assert_int_equal(apply_op(r, &review.op), AC_SCHEDULE_ADDED);
    assert_int_equal(apply_op(r, &referral.op), AC_SCHEDULE_ADDED);
    /* A return arrives after both were scheduled, happening before the
     * review's due time: its CANCEL got lost, the fire-time check still
     * stops it, and the invitation's when its time comes. */
    char at[AC_TIME_BUFSZ];
    ac_time_format(due - DAY, at, sizeof(at));
    ac_event_t *ret = event("return.requested", "ord_1", at, NULL);
    apply_one(r, ret);
    ac_schedule_due_t out[4];
    assert_int_equal(take(r, due, 4, out), 1);
    assert_string_equal(out[0].id, review.id);
    assert_non_null(out[0].blocked_by);
    assert_string_equal(out[0].blocked_by, "returned");
    /* The name outlives the reply it came from. */
    assert_ptr_equal(out[0].blocked_by, ac_fact_name(AC_FACT_RETURNED));
    assert_string_equal(out[0].record, "{\"k\":\"review\"}");
    ac_schedule_due_clear(out, 1);
    /* Removed, not leased. */
    assert_int_equal(pending(r), 1);
    assert_int_equal(take(r, due + LEASE + 1, 4, out), 0);
    assert_int_equal(take(r, referral.op.due_ms, 4, out), 1);
    assert_string_equal(out[0].id, referral.id);
    assert_string_equal(out[0].blocked_by, "returned");
    ac_schedule_due_clear(out, 1);
    assert_int_equal(pending(r), 0);
    ac_event_destroy(ret);
}

static void test_take_not_blocked_by_later_fact(void **state)
{
    ac_redis_t *r = *state;
    const int64_t due = T0 + 7 * DAY;
    item_t it;
    make_add(&it, AC_KIND_REVIEW_REQUEST, "ord_1", due, "{}");
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ADDED);
    /* Returned after the review was due (the worker was down): the
     * review is still owed, as it would have fired in time. */
    char at[AC_TIME_BUFSZ];
    ac_time_format(due + 1, at, sizeof(at));
    ac_event_t *ret = event("return.requested", "ord_1", at, NULL);
    apply_one(r, ret);
    ac_schedule_due_t out[2];
    assert_int_equal(take(r, due + DAY, 2, out), 1);
    assert_null(out[0].blocked_by);
    assert_non_null(out[0].record);
    ac_schedule_due_clear(out, 1);
    ac_event_destroy(ret);
}

static int has_id(char (*ids)[AC_MESSAGE_ID_LEN], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return 1;
    return 0;
}

static void test_two_firers_never_share(void **state)
{
    ac_redis_t *a = *state;
    ac_redis_t *b = new_handle();
    enum { N = 25 };
    static item_t items[N];
    for (int i = 0; i < N; i++) {
        char order[32];
        snprintf(order, sizeof(order), "ord_%d", i);
        make_add(&items[i], AC_KIND_REVIEW_REQUEST, order, T0 + i, "{}");
        assert_int_equal(apply_op(a, &items[i].op), AC_SCHEDULE_ADDED);
    }
    /* Two firers take in turns, both at the same moment: each item goes to
     * exactly one of them. */
    char seen[N][AC_MESSAGE_ID_LEN];
    size_t n_seen = 0;
    ac_schedule_due_t out[4];
    for (int round = 0; round < 20; round++) {
        ac_redis_t *r = round % 2 ? b : a;
        size_t n = take(r, T0 + N, 4, out);
        for (size_t i = 0; i < n; i++) {
            if (has_id(seen, n_seen, out[i].id))
                fail_msg("%s taken twice within its lease", out[i].id);
            assert_true(n_seen < N);
            memcpy(seen[n_seen++], out[i].id, AC_MESSAGE_ID_LEN);
        }
        ac_schedule_due_clear(out, n);
    }
    assert_int_equal(n_seen, N);
    for (int i = 0; i < N; i++)
        assert_true(has_id(seen, n_seen, items[i].id));
    /* Within the lease, neither gets anything more. */
    assert_int_equal(take(a, T0 + N + LEASE - 1, 4, out), 0);
    assert_int_equal(take(b, T0 + N + LEASE - 1, 4, out), 0);
    /* Once it lapses, the items are taken again, still once each. */
    n_seen = 0;
    for (int round = 0; round < 20; round++) {
        ac_redis_t *r = round % 2 ? a : b;
        size_t n = take(r, T0 + N + LEASE + 1, 4, out);
        for (size_t i = 0; i < n; i++) {
            if (has_id(seen, n_seen, out[i].id))
                fail_msg("%s taken twice after the lease", out[i].id);
            memcpy(seen[n_seen++], out[i].id, AC_MESSAGE_ID_LEN);
        }
        ac_schedule_due_clear(out, n);
    }
    assert_int_equal(n_seen, N);
    destroy_handle(b);
}

/* Large records are taken a few at a time, so that one round's reply
 * stays small enough for the client's timeout; the rest follow. */
static void test_take_bounds_bytes(void **state)
{
    ac_redis_t *r = *state;
    const size_t size = 1024 * 1024;
    char *big = malloc(size + 1);
    assert_non_null(big);
    memset(big, 'x', size);
    big[size] = '\0';
    for (int i = 0; i < 20; i++) {
        char order[16];
        item_t it;
        snprintf(order, sizeof(order), "ord_%d", i);
        make_add(&it, AC_KIND_REVIEW_REQUEST, order, T0 + i, big);
        assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ADDED);
    }
    static ac_schedule_due_t out[500];
    size_t n = take(r, T0 + 100, 500, out);
    assert_true(n >= 1 && n <= 9);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(out[i].record_len, size);
    ac_schedule_due_clear(out, n);
    size_t more = take(r, T0 + 100, 500, out);
    assert_true(more >= 1);
    ac_schedule_due_clear(out, more);
    free(big);
}

static void test_take_reads_only_what_is_due(void **state)
{
    ac_redis_t *r = *state;
    char err[256];
    enum { N = 20000, MAX = 500 };
    item_t *items = calloc(N, sizeof(*items));
    ac_schedule_op_t *ops = calloc(N, sizeof(*ops));
    ac_schedule_due_t *out = calloc(MAX, sizeof(*out));
    assert_non_null(items);
    assert_non_null(ops);
    assert_non_null(out);
    /* Added in a shuffled order, one round trip, each item of its own
     * order and due a millisecond after the previous one. */
    srand(7);
    int *perm = calloc(N, sizeof(int));
    assert_non_null(perm);
    for (int i = 0; i < N; i++)
        perm[i] = i;
    for (int i = N - 1; i > 0; i--) {
        int k = rand() % (i + 1), t = perm[i];
        perm[i] = perm[k];
        perm[k] = t;
    }
    for (int i = 0; i < N; i++) {
        char order[32];
        snprintf(order, sizeof(order), "ord_%05d", perm[i]);
        make_add(&items[i], AC_KIND_REVIEW_REQUEST, order, T0 + perm[i], "{\"r\":1}");
        ops[i] = items[i].op;
    }
    if (ac_schedule_apply(S(r), ops, N, err, sizeof(err)) < 0)
        fail_msg("ac_schedule_apply: %s", err);
    for (int i = 0; i < N; i++)
        assert_int_equal(ops[i].result, AC_SCHEDULE_ADDED);
    assert_int_equal(pending(r), N);
    /* Each item's bucket, and how many of its bucket are due before it. */
    int *bucket = calloc(N, sizeof(int)), *rank = calloc(N, sizeof(int));
    char *taken = calloc(N, 1);
    int per_bucket[2] = {0, 0};
    assert_non_null(bucket);
    assert_non_null(rank);
    assert_non_null(taken);
    for (int d = 0; d < N; d++) {
        char order[32], jkey[128];
        snprintf(order, sizeof(order), "ord_%05d", d);
        ac_journey_key("st_1", order, jkey, sizeof(jkey));
        bucket[d] = ac_schedule_bucket(jkey, 2);
        rank[d] = per_bucket[bucket[d]]++;
    }
    /* Both buckets hold a fair share. */
    assert_true(per_bucket[0] > N / 3 && per_bucket[1] > N / 3);
    /* Everything is due: the buckets share the 500, each giving its
     * earliest, each item once. */
    size_t n = take(r, T0 + N, MAX, out);
    assert_int_equal(n, MAX);
    for (size_t i = 0; i < n; i++) {
        int d = (int)(out[i].due_ms - T0);
        assert_true(d >= 0 && d < N);
        assert_false(taken[d]);
        taken[d] = 1;
        assert_true(rank[d] < MAX / 2);
        char order[32], id[AC_MESSAGE_ID_LEN];
        snprintf(order, sizeof(order), "ord_%05d", d);
        ac_message_id(AC_KIND_REVIEW_REQUEST, "st_1", order, NULL, id);
        assert_string_equal(out[i].id, id);
    }
    ac_schedule_due_clear(out, n);
    /* By T0 + 549, exactly the items due by then and not yet taken come,
     * however many are pending. */
    size_t expect = 0;
    for (int d = 0; d <= MAX + 49; d++)
        expect += !taken[d];
    n = take(r, T0 + MAX + 49, MAX, out);
    assert_int_equal(n, expect);
    for (size_t i = 0; i < n; i++) {
        int d = (int)(out[i].due_ms - T0);
        assert_true(d >= 0 && d <= MAX + 49);
        assert_false(taken[d]);
        taken[d] = 1;
    }
    ac_schedule_due_clear(out, n);
    assert_int_equal(pending(r), N);
    free(bucket);
    free(rank);
    free(taken);
    free(perm);
    free(out);
    free(ops);
    free(items);
}

/* The default 64 buckets: orders spread over all of them, a round of 500
 * takes from every one, and a worker set to another count uses the count
 * the first worker recorded, so that none of the buckets is forgotten. */
static void test_buckets(void **state)
{
    ac_redis_t *r = *state, *a = new_handle_buckets(64), *b = new_handle_buckets(16);
    enum { N = 640 };
    static item_t items[N];
    static ac_schedule_op_t ops[N];
    static ac_schedule_due_t out[500];
    char err[256];
    (void)r;
    for (int i = 0; i < N; i++) {
        char order[32];
        snprintf(order, sizeof(order), "ord_%d", i);
        make_add(&items[i], AC_KIND_REVIEW_REQUEST, order, T0 + i, "{}");
        ops[i] = items[i].op;
    }
    if (ac_schedule_apply(S(a), ops, N, err, sizeof(err)) < 0)
        fail_msg("ac_schedule_apply: %s", err);
    assert_int_equal(ac_schedule_buckets(S(a)), 64);
    int used = 0;
    long long expect = 0;
    for (int k = 0; k < 64; k++) {
        char q[64];
        snprintf(q, sizeof(q), "ac:sched:{b%d}", k);
        long long c = command_int(a, "ZCARD %s", q, NULL);
        used += c > 0;
        expect += c < 7 ? c : 7;
        assert_true(c < N / 64 * 3);
    }
    assert_int_equal(used, 64);
    /* The second worker wants 16 but finds 64 recorded. */
    assert_int_equal(pending(b), N);
    assert_int_equal(ac_schedule_buckets(S(b)), 64);
    size_t n = take(b, T0 + N, 500, out);
    /* Up to 7 from each bucket (500 / 64). */
    assert_int_equal(n, expect);
    ac_schedule_due_clear(out, n);
    destroy_handle(a);
    destroy_handle(b);
}

/* Each step is idempotent: an add retried after its bucket entries were
 * lost (the batch failed between its two round trips) indexes the item
 * again without moving a lease, and an entry whose item is gone is
 * dropped when taken. */
static void test_retry_between_round_trips(void **state)
{
    ac_redis_t *r = *state;
    item_t it;
    ac_schedule_due_t out[4];
    make_add(&it, AC_KIND_REVIEW_REQUEST, "ord_1", T0, "{\"r\":1}");
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ADDED);
    assert_int_equal(command_int(r, "DEL %s %s", "ac:sched:{b0}", "ac:sched:{b1}"), 1);
    assert_int_equal(pending(r), 0);
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ALREADY);
    assert_int_equal(pending(r), 1);
    assert_int_equal(take(r, T0, 4, out), 1);
    ac_schedule_due_clear(out, 1);
    /* Retried again while leased: the lease holds. */
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ALREADY);
    assert_int_equal(take(r, T0 + 1, 4, out), 0);
    /* The item goes (acknowledged by a firer whose bucket removal was
     * lost): its entry is dropped at the next take, and nothing fires. */
    assert_int_equal(command_int(r, "DEL {%s}:sched", it.jkey, NULL), 1);
    assert_int_equal(take(r, T0 + LEASE + 1, 4, out), 0);
    assert_int_equal(pending(r), 0);
}

/* Writes one item in the layout of earlier versions. */
static void legacy_item(ac_redis_t *r, const item_t *it, int64_t due, int64_t release)
{
    char err[256], meta[300], d[24], rel[24];
    snprintf(d, sizeof(d), "%lld", (long long)due);
    snprintf(rel, sizeof(rel), "%lld", (long long)release);
    snprintf(meta, sizeof(meta), "%lld review_request %s %s %s", (long long)due,
             ac_journey_blockers_csv(AC_KIND_REVIEW_REQUEST),
             ac_journey_requires_csv(AC_KIND_REVIEW_REQUEST), it->jkey);
    /* The earlier add script marked the journey too. */
    const char *cmds[][4] = {{"HSET", it->jkey, "s:review_request", d},
                             {"ZADD", "ac:sched", d, it->id},
                             {"HSET", "ac:sched:items", it->id, it->op.record},
                             {"HSET", "ac:sched:meta", it->id, meta},
                             {"ZADD", "ac:sched:release", rel, it->id}};
    for (size_t i = 0; i < 5; i++) {
        redisReply *rep = ac_redis_command(r, err, sizeof(err), "%s %s %s %s", cmds[i][0],
                                           cmds[i][1], cmds[i][2], cmds[i][3]);
        if (!rep || rep->type == REDIS_REPLY_ERROR)
            fail_msg("%s: %s", cmds[i][0], rep ? rep->str : err);
        freeReplyObject(rep);
    }
}

/* An upgrade: items an earlier version scheduled move into the buckets
 * and fire as before, checked against their journeys; the old keys go. */
static void test_upgrade_from_single_set(void **state)
{
    ac_redis_t *r = *state;
    enum { N = 30 };
    static item_t items[N];
    ac_schedule_due_t out[64];
    for (int i = 0; i < N; i++) {
        char order[32];
        snprintf(order, sizeof(order), "ord_%d", i);
        make_add(&items[i], AC_KIND_REVIEW_REQUEST, order, T0 + i, "{\"old\":1}");
        legacy_item(r, &items[i], T0 + i, i < 10 ? T0 + i : T0 + i + DAY);
    }
    /* The tenth order was returned before its request was due. */
    ac_event_t *ret = event("return.requested", "ord_9", "2026-11-24T23:00:00Z", NULL);
    apply_one(r, ret);
    ac_event_destroy(ret);
    assert_int_equal(pending(r), N);
    size_t n = take(r, T0 + N, 64, out);
    assert_int_equal(n, N);
    int fired = 0, blocked = 0;
    for (size_t i = 0; i < n; i++) {
        if (out[i].blocked_by) {
            blocked++;
            assert_string_equal(out[i].id, items[9].id);
            continue;
        }
        fired++;
        assert_string_equal(out[i].record, "{\"old\":1}");
        ack_one(r, out[i].id, out[i].journey_key);
    }
    assert_int_equal(fired, N - 1);
    assert_int_equal(blocked, 1);
    ac_schedule_due_clear(out, n);
    assert_int_equal(command_int(r, "EXISTS %s %s", "ac:sched", "ac:sched:items"), 0);
    assert_int_equal(command_int(r, "EXISTS %s %s", "ac:sched:meta", "ac:sched:release"), 0);
    assert_int_equal(pending(r), 0);
    /* The markers stayed with the journeys: a replay adds nothing. */
    assert_int_equal(apply_op(r, &items[3].op), AC_SCHEDULE_ALREADY);
}

/* ---- events shared by an order's items ---------------------------------- */

/* A delivery as a store sends it, with a field the contract does not know
 * (left out of the trimmed form). %s: the order, the time. */
static const char DELIVERED[] =
    "{\"event_id\":\"evt_del_%s_%s\",\"type\":\"shipment.delivered\",\"occurred_at\":\"%s\","
    "\"store\":{\"id\":\"st_1\",\"name\":\"Müller & Söhne\",\"locale\":\"de-DE\"},"
    "\"order\":{\"id\":\"%s\",\"number\":\"AG-1\",\"currency\":\"EUR\",\"total\":\"129.90\","
    "\"items\":[{\"sku\":4711,\"name\":\"Regenjacke „Nordwind“\",\"quantity\":1,"
    "\"price\":129.9}]},\"customer\":{\"id\":\"cus_1\",\"email\":\"zoe@example.com\","
    "\"first_name\":\"Zoë\",\"marketing_consent\":true,\"last_name\":\"J\"},"
    "\"shipment\":{\"id\":\"shp_1\",\"carrier\":\"DHL\",\"status\":\"delivered\"},"
    "\"gift\":{\"wrap\":true}}";

/* A delivery of order at time at: the parsed event and its trimmed form. */
typedef struct shared {
    ac_event_t *ev;
    char *trimmed;
    size_t len;
} shared_t;

static shared_t delivered(const char *order, const char *at)
{
    char json[2048];
    shared_t s;
    snprintf(json, sizeof(json), DELIVERED, order, at, at, order);
    s.ev = parse_json(json);
    s.trimmed = ac_event_encode(s.ev, &s.len);
    assert_non_null(s.trimmed);
    return s;
}

static void shared_free(shared_t *s)
{
    ac_event_destroy(s->ev);
    free(s->trimmed);
}

/* An ADD of kind for order with the event instead of a record. */
static void make_add_event(item_t *it, ac_kind_t kind, const char *order, int64_t due,
                           const shared_t *s)
{
    make_add(it, kind, order, due, "");
    it->op.record = NULL;
    it->op.record_len = 0;
    it->op.event = s->trimmed;
    it->op.event_len = s->len;
    it->op.occurred_ms = s->ev->occurred_ms;
}

/* The fields of order's items hash: how many hold an event ("e:…"), and
 * the value of field (to free; NULL when absent). */
static size_t event_fields(ac_redis_t *r, const char *jkey)
{
    char err[256];
    size_t n = 0;
    redisReply *rep = ac_redis_command(r, err, sizeof(err), "HKEYS {%s}:sched", jkey);
    if (!rep || rep->type != REDIS_REPLY_ARRAY)
        fail_msg("HKEYS: %s", rep ? "not an array" : err);
    for (size_t i = 0; i < rep->elements; i++)
        n += strncmp(rep->element[i]->str, "e:", 2) == 0;
    freeReplyObject(rep);
    return n;
}

/* The same, binary-safe: *len gets the value's length. */
static char *hget_len(ac_redis_t *r, const char *jkey, const char *field, size_t *len)
{
    char err[256];
    redisReply *rep = ac_redis_command(r, err, sizeof(err), "HGET {%s}:sched %s", jkey, field);
    if (!rep)
        fail_msg("HGET: %s", err);
    char *v = NULL;
    if (rep->type == REDIS_REPLY_STRING && (v = malloc(rep->len + 1))) {
        memcpy(v, rep->str, rep->len + 1);
        *len = rep->len;
    }
    freeReplyObject(rep);
    return v;
}

static char *hget(ac_redis_t *r, const char *jkey, const char *field)
{
    char err[256];
    redisReply *rep = ac_redis_command(r, err, sizeof(err), "HGET {%s}:sched %s", jkey, field);
    if (!rep)
        fail_msg("HGET: %s", err);
    char *v = rep->type == REDIS_REPLY_STRING ? strdup(rep->str) : NULL;
    freeReplyObject(rep);
    return v;
}

/* The ref an item's description ends in. */
static void item_ref(ac_redis_t *r, const item_t *it, char *ref, size_t refsz)
{
    char field[AC_MESSAGE_ID_LEN + 2];
    snprintf(field, sizeof(field), "%s:m", it->id);
    char *m = hget(r, it->jkey, field);
    assert_non_null(m);
    const char *sp = strrchr(m, ' ');
    assert_non_null(sp);
    snprintf(ref, refsz, "%s", sp + 1);
    free(m);
}

/* What a taken item's record decodes to is the message the pipeline
 * would have produced: its id, kind, due time, the event's time as its
 * creation, and the event, field for field (the trimmed forms compared). */
static void assert_rebuilt(const ac_schedule_due_t *d, const item_t *it, const shared_t *s)
{
    ac_event_error_t e;
    ac_message_t *m = ac_message_decode(d->record, d->record_len, 0, &e);
    if (!m)
        fail_msg("the rebuilt record does not decode: %s", e.detail);
    assert_string_equal(m->id, it->id);
    assert_int_equal(m->kind, it->op.kind);
    assert_int_equal(m->due_ms, it->op.due_ms);
    assert_int_equal(m->created_ms, s->ev->occurred_ms);
    assert_string_equal(m->event->customer.email, "zoe@example.com");
    size_t n;
    char *again = ac_event_encode(m->event, &n);
    assert_non_null(again);
    assert_string_equal(again, s->trimmed);
    free(again);
    ac_message_destroy(m);
}

/* The consent a referral invitation needs, in order's journey. */
static void consent(ac_redis_t *r, const char *order)
{
    char json[512];
    snprintf(json, sizeof(json),
             "{\"event_id\":\"evt_c_%s\",\"type\":\"order.placed\",\"occurred_at\":"
             "\"2026-11-20T10:00:00Z\",\"store\":{\"id\":\"st_1\"},\"order\":{\"id\":\"%s\"},"
             "\"customer\":{\"id\":\"cus_1\",\"marketing_consent\":true}}",
             order, order);
    ac_event_t *ev = parse_json(json);
    apply_one(r, ev);
    ac_event_destroy(ev);
}

/* A delivery's two messages share one copy of the trimmed event, which
 * goes with the second of them to be acknowledged; retries change
 * nothing. */
static void test_shared_event_ack(void **state)
{
    ac_redis_t *r = *state;
    shared_t s = delivered("ord_1", "2026-11-25T00:00:00Z");
    item_t review, referral;
    make_add_event(&review, AC_KIND_REVIEW_REQUEST, "ord_1", T0 + 7 * DAY, &s);
    make_add_event(&referral, AC_KIND_REFERRAL_INVITE, "ord_1", T0 + 14 * DAY, &s);
    assert_int_equal(apply_op(r, &review.op), AC_SCHEDULE_ADDED);
    assert_int_equal(apply_op(r, &referral.op), AC_SCHEDULE_ADDED);
    assert_int_equal(apply_op(r, &review.op), AC_SCHEDULE_ALREADY);
    assert_int_equal(event_fields(r, review.jkey), 1);
    assert_int_equal(command_int(r, "HLEN {%s}:sched", review.jkey, NULL), 3);
    assert_int_equal(command_int(r, "HEXISTS {%s}:sched %s", review.jkey, review.id), 0);
    char ref[64], ref2[64], field[80];
    item_ref(r, &review, ref, sizeof(ref));
    item_ref(r, &referral, ref2, sizeof(ref2));
    assert_string_equal(ref, ref2);
    assert_int_equal(strlen(ref), 16);
    snprintf(field, sizeof(field), "e:%s", ref);
    /* Packed: smaller, and unpacked the trimmed event (no "gift"). */
    size_t stored_len = 0, json_len = 0;
    char *stored = hget_len(r, review.jkey, field, &stored_len);
    assert_non_null(stored);
    assert_int_equal(stored[0], AC_EVZIP_V1);
    assert_true(stored_len < s.len);
    char *json = ac_evzip_unpack(stored, stored_len, &json_len);
    assert_non_null(json);
    assert_string_equal(json, s.trimmed);
    assert_null(strstr(json, "gift"));
    free(json);
    free(stored);

    ac_schedule_due_t out[4];
    assert_int_equal(take(r, T0 + 7 * DAY, 4, out), 1);
    assert_string_equal(out[0].id, review.id);
    assert_null(out[0].blocked_by);
    assert_rebuilt(&out[0], &review, &s);
    ack_one(r, review.id, review.jkey);
    ack_one(r, review.id, review.jkey); /* a retried acknowledgement */
    ac_schedule_due_clear(out, 1);
    assert_int_equal(event_fields(r, review.jkey), 1);
    assert_int_equal(pending(r), 1);

    consent(r, "ord_1");
    assert_int_equal(take(r, T0 + 14 * DAY, 4, out), 1);
    assert_string_equal(out[0].id, referral.id);
    assert_null(out[0].blocked_by);
    assert_rebuilt(&out[0], &referral, &s);
    ack_one(r, referral.id, referral.jkey);
    ac_schedule_due_clear(out, 1);
    assert_int_equal(command_int(r, "EXISTS {%s}:sched", review.jkey, NULL), 0);
    assert_int_equal(pending(r), 0);
    shared_free(&s);
}

/* Cancelling and dropping at fire time free the event too, once no item
 * refers to it; a blocked item's record comes along rebuilt. */
static void test_shared_event_cancel_and_blocked(void **state)
{
    ac_redis_t *r = *state;
    shared_t s = delivered("ord_2", "2026-11-25T00:00:00Z");
    item_t review, referral;
    make_add_event(&review, AC_KIND_REVIEW_REQUEST, "ord_2", T0 + 7 * DAY, &s);
    make_add_event(&referral, AC_KIND_REFERRAL_INVITE, "ord_2", T0 + 14 * DAY, &s);
    assert_int_equal(apply_op(r, &review.op), AC_SCHEDULE_ADDED);
    assert_int_equal(apply_op(r, &referral.op), AC_SCHEDULE_ADDED);
    assert_int_equal(cancel(r, "ord_2", review.id, AC_KIND_REVIEW_REQUEST, T0),
                     AC_SCHEDULE_CANCELLED);
    assert_int_equal(event_fields(r, review.jkey), 1);
    /* Returned before the invitation is due: dropped when taken. */
    char at[AC_TIME_BUFSZ];
    ac_time_format(T0 + 10 * DAY, at, sizeof(at));
    ac_event_t *ret = event("return.requested", "ord_2", at, NULL);
    apply_one(r, ret);
    ac_event_destroy(ret);
    ac_schedule_due_t out[4];
    assert_int_equal(take(r, T0 + 14 * DAY, 4, out), 1);
    assert_string_equal(out[0].blocked_by, "returned");
    assert_rebuilt(&out[0], &referral, &s);
    ac_schedule_due_clear(out, 1);
    assert_int_equal(command_int(r, "EXISTS {%s}:sched", review.jkey, NULL), 0);
    assert_int_equal(pending(r), 0);

    /* Both cancelled: nothing of the order's items is left. */
    shared_t s3 = delivered("ord_3", "2026-11-25T00:00:00Z");
    make_add_event(&review, AC_KIND_REVIEW_REQUEST, "ord_3", T0 + 7 * DAY, &s3);
    make_add_event(&referral, AC_KIND_REFERRAL_INVITE, "ord_3", T0 + 14 * DAY, &s3);
    assert_int_equal(apply_op(r, &review.op), AC_SCHEDULE_ADDED);
    assert_int_equal(apply_op(r, &referral.op), AC_SCHEDULE_ADDED);
    assert_int_equal(cancel(r, "ord_3", referral.id, AC_KIND_REFERRAL_INVITE, T0),
                     AC_SCHEDULE_CANCELLED);
    assert_int_equal(event_fields(r, review.jkey), 1);
    assert_int_equal(cancel(r, "ord_3", review.id, AC_KIND_REVIEW_REQUEST, T0),
                     AC_SCHEDULE_CANCELLED);
    assert_int_equal(command_int(r, "EXISTS {%s}:sched", review.jkey, NULL), 0);
    assert_int_equal(pending(r), 0);
    shared_free(&s);
    shared_free(&s3);
}

/* An item an earlier version wrote (its own record, the five-field
 * description) beside one of this version's: each fires as written, and
 * acknowledging the old one leaves the other's event alone. */
static void test_old_form_item(void **state)
{
    ac_redis_t *r = *state;
    char err[256], due[24], rel[24], meta[200], field[AC_MESSAGE_ID_LEN + 2], member[300];
    char queue[64], release[64], items[200];
    static const char record[] = "{\"v\":1,\"id\":\"old\",\"note\":\"  spaced \\\"quoted\\\"\"}";
    item_t old, referral;
    make_add(&old, AC_KIND_REVIEW_REQUEST, "ord_4", T0 + 7 * DAY, record);
    snprintf(due, sizeof(due), "%lld", (long long)(T0 + 7 * DAY));
    snprintf(rel, sizeof(rel), "%lld", (long long)(T0 + 8 * DAY));
    snprintf(meta, sizeof(meta), "%s %s review_request %s %s", due, rel,
             ac_journey_blockers_csv(AC_KIND_REVIEW_REQUEST),
             ac_journey_requires_csv(AC_KIND_REVIEW_REQUEST));
    snprintf(field, sizeof(field), "%s:m", old.id);
    snprintf(items, sizeof(items), "{%s}:sched", old.jkey);
    snprintf(member, sizeof(member), "%s %s", old.id, old.jkey);
    snprintf(queue, sizeof(queue), "ac:sched:{b%d}", ac_schedule_bucket(old.jkey, 2));
    snprintf(release, sizeof(release), "ac:sched:{b%d}:release", ac_schedule_bucket(old.jkey, 2));
    const char *cmds[][4] = {{"HSET", old.jkey, "s:review_request", due},
                             {"HSET", items, old.id, record},
                             {"HSET", items, field, meta},
                             {"ZADD", queue, due, member},
                             {"ZADD", release, rel, member}};
    for (size_t i = 0; i < 5; i++) {
        redisReply *rep = ac_redis_command(r, err, sizeof(err), "%s %s %s %s", cmds[i][0],
                                           cmds[i][1], cmds[i][2], cmds[i][3]);
        if (!rep || rep->type == REDIS_REPLY_ERROR)
            fail_msg("%s: %s", cmds[i][0], rep ? rep->str : err);
        freeReplyObject(rep);
    }
    shared_t s = delivered("ord_4", "2026-11-25T00:00:00Z");
    make_add_event(&referral, AC_KIND_REFERRAL_INVITE, "ord_4", T0 + 14 * DAY, &s);
    assert_int_equal(apply_op(r, &referral.op), AC_SCHEDULE_ADDED);
    /* Replayed, the old item is already there. */
    make_add_event(&old, AC_KIND_REVIEW_REQUEST, "ord_4", T0 + 7 * DAY, &s);
    assert_int_equal(apply_op(r, &old.op), AC_SCHEDULE_ALREADY);
    ac_schedule_due_t out[4];
    assert_int_equal(take(r, T0 + 7 * DAY, 4, out), 1);
    assert_string_equal(out[0].id, old.id);
    assert_int_equal(out[0].due_ms, T0 + 7 * DAY);
    assert_int_equal(out[0].record_len, strlen(record));
    assert_memory_equal(out[0].record, record, strlen(record));
    ack_one(r, out[0].id, out[0].journey_key);
    ac_schedule_due_clear(out, 1);
    assert_int_equal(command_int(r, "HLEN %s", items, NULL), 2);
    assert_int_equal(event_fields(r, old.jkey), 1);
    consent(r, "ord_4");
    assert_int_equal(take(r, T0 + 14 * DAY, 4, out), 1);
    assert_rebuilt(&out[0], &referral, &s);
    ack_one(r, out[0].id, out[0].journey_key);
    ac_schedule_due_clear(out, 1);
    assert_int_equal(command_int(r, "EXISTS %s", items, NULL), 0);
    shared_free(&s);
}

/* Two different events of one order whose refs collide: the second gets
 * a ref of its own and the first is not overwritten. Here the first is
 * written by hand under the ref the second will have. */
static void test_event_ref_collision(void **state)
{
    ac_redis_t *r = *state;
    char err[256], ref[64], field[80], desc[300], items[200];
    shared_t s = delivered("ord_5", "2026-11-25T00:00:00Z");
    item_t probe, review;
    /* The ref of s's event, from an item of another order. */
    make_add_event(&probe, AC_KIND_REVIEW_REQUEST, "ord_6", T0 + 7 * DAY, &s);
    assert_int_equal(apply_op(r, &probe.op), AC_SCHEDULE_ADDED);
    item_ref(r, &probe, ref, sizeof(ref));
    /* ord_5 holds a different event under that ref, and an item using it. */
    static const char other[] = "{\"event_id\":\"evt_other\"}";
    char other_id[AC_MESSAGE_ID_LEN];
    ac_message_id(AC_KIND_SHIPPING_UPDATE, "st_1", "ord_5", "x", other_id);
    make_add_event(&review, AC_KIND_REVIEW_REQUEST, "ord_5", T0 + 7 * DAY, &s);
    snprintf(items, sizeof(items), "{%s}:sched", review.jkey);
    snprintf(field, sizeof(field), "e:%s", ref);
    snprintf(desc, sizeof(desc), "%lld %lld shipping_update   1 %s", (long long)(T0 + 30 * DAY),
             (long long)(T0 + 30 * DAY), ref);
    redisReply *rep = ac_redis_command(r, err, sizeof(err), "HSET %s %s %s %s:m %s", items, field,
                                       other, other_id, desc);
    assert_non_null(rep);
    freeReplyObject(rep);
    assert_int_equal(apply_op(r, &review.op), AC_SCHEDULE_ADDED);
    char got[64], want[80];
    item_ref(r, &review, got, sizeof(got));
    snprintf(want, sizeof(want), "%s.1", ref);
    assert_string_equal(got, want);
    char *kept = hget(r, review.jkey, field);
    assert_string_equal(kept, other);
    free(kept);
    /* A retried add finds its own copy, not the other. */
    assert_int_equal(apply_op(r, &review.op), AC_SCHEDULE_ALREADY);
    assert_int_equal(event_fields(r, review.jkey), 2);
    ac_schedule_due_t out[4];
    size_t n = take(r, T0 + 7 * DAY, 4, out);
    assert_int_equal(n, 2);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(out[i].id, review.id) == 0) {
            assert_rebuilt(&out[i], &review, &s);
            ack_one(r, out[i].id, out[i].journey_key);
        }
    }
    ac_schedule_due_clear(out, n);
    /* Its copy went with it; the other item's event stays. */
    assert_int_equal(event_fields(r, review.jkey), 1);
    kept = hget(r, review.jkey, field);
    assert_string_equal(kept, other);
    free(kept);
    shared_free(&s);
}

/* An earlier delivery heard of later replaces the item, event and all;
 * a message put back (DEFER) has its own record again; neither leaves an
 * event behind that no item refers to. */
static void test_shared_event_replaced(void **state)
{
    ac_redis_t *r = *state;
    shared_t late = delivered("ord_7", "2026-11-27T00:00:00Z");
    shared_t early = delivered("ord_7", "2026-11-25T00:00:00Z");
    item_t it;
    make_add_event(&it, AC_KIND_REVIEW_REQUEST, "ord_7", T0 + 9 * DAY, &late);
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ADDED);
    make_add_event(&it, AC_KIND_REVIEW_REQUEST, "ord_7", T0 + 7 * DAY, &early);
    assert_int_equal(apply_op(r, &it.op), AC_SCHEDULE_ADDED);
    assert_int_equal(event_fields(r, it.jkey), 1);
    assert_int_equal(command_int(r, "HLEN {%s}:sched", it.jkey, NULL), 2);
    ac_schedule_due_t out[4];
    assert_int_equal(take(r, T0 + 7 * DAY, 4, out), 1);
    assert_rebuilt(&out[0], &it, &early);
    ac_schedule_due_clear(out, 1);
    /* Put back with its record (attempts and all). */
    static const char record[] = "{\"v\":1,\"attempts\":2}";
    ac_schedule_op_t def;
    memset(&def, 0, sizeof(def));
    def.type = AC_SCHEDULE_DEFER;
    def.id = it.id;
    def.kind = AC_KIND_REVIEW_REQUEST;
    def.due_ms = T0 + 8 * DAY;
    def.journey_key = it.jkey;
    def.record = record;
    def.record_len = strlen(record);
    assert_int_equal(apply_op(r, &def), AC_SCHEDULE_ADDED);
    assert_int_equal(event_fields(r, it.jkey), 0);
    assert_int_equal(take(r, T0 + 8 * DAY, 4, out), 1);
    assert_string_equal(out[0].record, record);
    ack_one(r, out[0].id, out[0].journey_key);
    ac_schedule_due_clear(out, 1);
    assert_int_equal(command_int(r, "EXISTS {%s}:sched", it.jkey, NULL), 0);
    shared_free(&late);
    shared_free(&early);
}

/* The marketing cap's sends moved beside the preferences (one Redis
 * Cluster slot for the check): the sends an earlier version counted under
 * "ac:f:…" still count, once, and the old key goes. */
static void test_prefs_upgrade_keeps_the_cap(void **state)
{
    ac_redis_t *r = *state;
    char err[256], prefs[128], sends[160], id[AC_MESSAGE_ID_LEN];
    const int64_t now = T0;
    ac_prefs_register(r);
    ac_prefs_key("st_1", "cus_1", prefs, sizeof(prefs));
    ac_prefs_sends_key("st_1", "cus_1", sends, sizeof(sends));
    assert_int_equal(command_int(r, "ZADD ac:f:4:st_1:cus_1 %s m1", "1795564700000", NULL), 1);
    assert_int_equal(command_int(r, "ZADD ac:f:4:st_1:cus_1 %s m2", "1795564700001", NULL), 1);
    ac_message_id(AC_KIND_REFERRAL_INVITE, "st_1", "ord_1", NULL, id);
    ac_prefs_req_t req = {id, AC_KIND_REFERRAL_INVITE, "email", prefs, sends, AC_PREFS_SEND};
    if (ac_prefs_check(r, &req, 1, now, 2, 7 * DAY, err, sizeof(err)) < 0)
        fail_msg("ac_prefs_check: %s", err);
    assert_int_equal(req.verdict, AC_PREFS_CAPPED);
    assert_int_equal(command_int(r, "EXISTS ac:f:4:st_1:cus_1", NULL, NULL), 0);
    assert_int_equal(command_int(r, "ZCARD %s", sends, NULL), 2);
    /* With room under the cap, it goes and counts beside the old two. */
    if (ac_prefs_check(r, &req, 1, now, 3, 7 * DAY, err, sizeof(err)) < 0)
        fail_msg("ac_prefs_check: %s", err);
    assert_int_equal(req.verdict, AC_PREFS_SEND);
    assert_int_equal(command_int(r, "ZCARD %s", sends, NULL), 3);
}

/* Suggestions across the customer's keys and the store's catalog (on
 * different slots of a cluster): a product of a favourite category, never
 * one in the order at hand nor one bought before. */
static void test_suggest(void **state)
{
    ac_redis_t *r = *state;
    char err[256];
    ac_event_t *a =
        event("order.placed", "ord_1", "2026-11-20T10:00:00Z",
              ",\"items\":[{\"sku\":\"S1\",\"name\":\"Sock one\",\"category\":\"socks\","
              "\"quantity\":3},{\"sku\":\"S2\",\"name\":\"Sock two\",\"category\":"
              "\"socks\"}]");
    ac_event_t *b = event("order.placed", "ord_2", "2026-11-21T10:00:00Z",
                          ",\"items\":[{\"sku\":\"S3\",\"name\":\"Sock three\",\"category\":"
                          "\"socks\"}]");
    const ac_event_t *evs[] = {a};
    if (ac_history_record(r, evs, 1, 30 * DAY, err, sizeof(err)) < 0)
        fail_msg("ac_history_record: %s", err);
    /* Another customer's order puts S3 in the store's catalog. */
    char other[1024];
    snprintf(other, sizeof(other),
             "{\"event_id\":\"evt_o\",\"type\":\"order.placed\",\"occurred_at\":"
             "\"2026-11-20T11:00:00Z\",\"store\":{\"id\":\"st_1\"},\"order\":{\"id\":\"ord_x\","
             "\"items\":[{\"sku\":\"S3\",\"name\":\"Sock three\",\"category\":\"socks\"},"
             "{\"sku\":\"S4\",\"name\":\"Sock four\",\"category\":\"socks\"}]},"
             "\"customer\":{\"id\":\"cus_2\"}}");
    ac_event_error_t perr;
    ac_event_t *o = ac_event_parse(other, strlen(other), 0, &perr);
    assert_non_null(o);
    evs[0] = o;
    if (ac_history_record(r, evs, 1, 30 * DAY, err, sizeof(err)) < 0)
        fail_msg("ac_history_record: %s", err);
    /* For order ord_2 (S3): S1 and S2 were bought, S3 is in it: S4. */
    ac_history_req_t req = {.ev = b};
    for (int i = 0; i < 10; i++) {
        if (ac_history_suggest(r, &req, 1, err, sizeof(err)) < 0)
            fail_msg("ac_history_suggest: %s", err);
        assert_string_equal(req.suggestion, "Sock four");
    }
    /* Once S4 is bought too, nothing is left to suggest. */
    evs[0] = o;
    ac_event_t *c = event("order.placed", "ord_3", "2026-11-22T10:00:00Z",
                          ",\"items\":[{\"sku\":\"S4\",\"name\":\"Sock four\",\"category\":"
                          "\"socks\"}]");
    evs[0] = c;
    if (ac_history_record(r, evs, 1, 30 * DAY, err, sizeof(err)) < 0)
        fail_msg("ac_history_record: %s", err);
    if (ac_history_suggest(r, &req, 1, err, sizeof(err)) < 0)
        fail_msg("ac_history_suggest: %s", err);
    assert_string_equal(req.suggestion, "");
    ac_event_destroy(a);
    ac_event_destroy(b);
    ac_event_destroy(c);
    ac_event_destroy(o);
}

/* A string reply as text (ZSCORE, HGET), "" for a nil reply. */
static void command_str(ac_redis_t *r, char *out, size_t outsz, const char *fmt, const char *a1,
                        const char *a2)
{
    char err[256];
    redisReply *rep = ac_redis_command(r, err, sizeof(err), fmt, a1, a2);
    if (!rep)
        fail_msg("%s: %s", fmt, err);
    snprintf(out, outsz, "%s", rep->type == REDIS_REPLY_STRING ? rep->str : "");
    freeReplyObject(rep);
}

/* An order's purchases are written a category at a time: the interest
 * score is the sum of the category's quantities (one at least per item),
 * a SKU named twice keeps its last name, and every key written has its
 * expiry, the catalog's set once for the whole batch. */
static void test_history_grouped_by_category(void **state)
{
    ac_redis_t *r = *state;
    char err[256], interest[200], bought[200], prefix[200], socks[260], hats[260], v[64];
    ac_event_t *a =
        event("order.placed", "ord_1", "2026-11-20T10:00:00Z",
              ",\"items\":[{\"sku\":\"S1\",\"name\":\"Sock one\",\"category\":\"socks\","
              "\"quantity\":3},{\"sku\":\"H1\",\"name\":\"Hat\",\"category\":\"hats\","
              "\"quantity\":2},{\"sku\":\"S2\",\"name\":\"Sock two\",\"category\":\"socks\"},"
              "{\"sku\":\"S1\",\"name\":\"Sock one, blue\",\"category\":\"socks\"},"
              "{\"sku\":\"X1\",\"name\":\"No category\"}]");
    ac_event_t *b = event("order.placed", "ord_2", "2026-11-21T10:00:00Z",
                          ",\"items\":[{\"sku\":\"S3\",\"name\":\"Sock three\",\"category\":"
                          "\"socks\",\"quantity\":0}]");
    const ac_event_t *evs[] = {a, b};
    if (ac_history_record(r, evs, 2, 30 * DAY, err, sizeof(err)) < 0)
        fail_msg("ac_history_record: %s", err);
    ac_redis_key(interest, sizeof(interest), "h", "st_1", "cus_1");
    ac_redis_key(bought, sizeof(bought), "hb", "st_1", "cus_1");
    ac_redis_key(prefix, sizeof(prefix), "c", "st_1", "");
    snprintf(socks, sizeof(socks), "%ssocks", prefix);
    snprintf(hats, sizeof(hats), "%shats", prefix);
    command_str(r, v, sizeof(v), "ZSCORE %s %s", interest, "socks");
    assert_string_equal(v, "6");
    command_str(r, v, sizeof(v), "ZSCORE %s %s", interest, "hats");
    assert_string_equal(v, "2");
    assert_int_equal(command_int(r, "ZCARD %s", interest, NULL), 2);
    assert_int_equal(command_int(r, "SCARD %s", bought, NULL), 4);
    assert_int_equal(command_int(r, "SISMEMBER %s %s", bought, "X1"), 0);
    command_str(r, v, sizeof(v), "HGET %s %s", socks, "S1");
    assert_string_equal(v, "Sock one, blue");
    assert_int_equal(command_int(r, "HLEN %s", socks, NULL), 3);
    assert_int_equal(command_int(r, "HLEN %s", hats, NULL), 1);
    const char *keys[] = {interest, bought, socks, hats};
    for (size_t k = 0; k < 4; k++) {
        long long ttl = command_int(r, "PTTL %s", keys[k], NULL);
        assert_true(ttl > 29 * DAY && ttl <= 30 * DAY);
    }
    ac_event_destroy(a);
    ac_event_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_journey_apply_earliest_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_then_already, setup, teardown),
        cmocka_unit_test_setup_teardown(test_add_blocked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_earlier_due_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(test_referral_needs_consent_at_fire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_take_lease_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_take_until_watermark, setup, teardown),
        cmocka_unit_test_setup_teardown(test_take_drops_blocked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_take_not_blocked_by_later_fact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_firers_never_share, setup, teardown),
        cmocka_unit_test_setup_teardown(test_take_reads_only_what_is_due, setup, teardown),
        cmocka_unit_test_setup_teardown(test_take_bounds_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buckets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retry_between_round_trips, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_from_single_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_event_ack, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_event_cancel_and_blocked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_form_item, setup, teardown),
        cmocka_unit_test_setup_teardown(test_event_ref_collision, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shared_event_replaced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefs_upgrade_keeps_the_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_suggest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_history_grouped_by_category, setup, teardown),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server_group);
}
