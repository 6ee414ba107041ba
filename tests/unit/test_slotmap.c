/* The cluster's slot map (slotmap.h), built from CLUSTER SLOTS replies
 * shaped as Redis 7 sends them, and corrected by MOVED. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "slotmap.h"

static redisReply *integer(long long v)
{
    static redisReply pool[64];
    static size_t used;
    redisReply *r = &pool[used++ % 64];
    *r = (redisReply){.type = REDIS_REPLY_INTEGER, .integer = v};
    return r;
}

static redisReply *string(const char *s)
{
    static redisReply pool[64];
    static size_t used;
    redisReply *r = &pool[used++ % 64];
    *r = (redisReply){.type = REDIS_REPLY_STRING, .str = (char *)s, .len = strlen(s)};
    return r;
}

static redisReply *array(redisReply **elements, size_t n)
{
    static redisReply pool[64];
    static size_t used;
    redisReply *r = &pool[used++ % 64];
    *r = (redisReply){.type = REDIS_REPLY_ARRAY, .elements = n, .element = elements};
    return r;
}

/* Three masters with a replica each, as redis-cli --cluster create makes
 * them: the master of each range is kept, the replicas are not nodes of
 * the map. */
static void three_masters(void **state)
{
    (void)state;
    redisReply *m1[] = {string("127.0.0.1"), integer(30001), string("a1")};
    redisReply *r1[] = {string("127.0.0.1"), integer(30004), string("b1")};
    redisReply *m2[] = {string("127.0.0.1"), integer(30002), string("a2")};
    redisReply *m3[] = {string("127.0.0.1"), integer(30003), string("a3")};
    redisReply *range1[] = {integer(0), integer(5460), array(m1, 3), array(r1, 3)};
    redisReply *range2[] = {integer(5461), integer(10922), array(m2, 3)};
    redisReply *range3[] = {integer(10923), integer(16383), array(m3, 3)};
    redisReply *ranges[] = {array(range1, 4), array(range2, 3), array(range3, 3)};
    char err[128];
    ac_slotmap_t *m = ac_slotmap_from_slots(array(ranges, 3), err, sizeof(err));
    assert_non_null(m);
    assert_int_equal(ac_slotmap_count(m), 3);
    int a = ac_slotmap_node(m, 0), b = ac_slotmap_node(m, 5461), c = ac_slotmap_node(m, 16383);
    assert_int_equal(ac_slotmap_node(m, 5460), a);
    assert_int_equal(ac_slotmap_node(m, 10922), b);
    assert_int_equal(ac_slotmap_node(m, 10923), c);
    assert_int_equal(ac_slotmap_port(m, (size_t)a), 30001);
    assert_int_equal(ac_slotmap_port(m, (size_t)b), 30002);
    assert_int_equal(ac_slotmap_port(m, (size_t)c), 30003);
    assert_string_equal(ac_slotmap_host(m, (size_t)a), "127.0.0.1");
    assert_int_equal(ac_slotmap_node(m, 16384), -1);
    assert_int_equal(ac_slotmap_node(m, -1), -1);
    /* A failover: the replica took over slot 7 (MOVED); a known node is
     * not added twice. */
    int moved = ac_slotmap_move(m, 7, "127.0.0.1", 30004);
    assert_int_equal(ac_slotmap_count(m), 4);
    assert_int_equal(ac_slotmap_node(m, 7), moved);
    assert_int_equal(ac_slotmap_node(m, 8), a);
    assert_int_equal(ac_slotmap_move(m, 8, "127.0.0.1", 30004), moved);
    assert_int_equal(ac_slotmap_count(m), 4);
    assert_int_equal(ac_slotmap_move(m, 16384, "x", 1), -1);
    ac_slotmap_destroy(m);
    ac_slotmap_destroy(NULL);
}

/* Slots no range covers are unserved; a reply of another shape is
 * refused with a reason. */
static void gaps_and_bad_shapes(void **state)
{
    (void)state;
    char err[128];
    redisReply *m1[] = {string(""), integer(7000)};
    redisReply *range[] = {integer(100), integer(199), array(m1, 2)};
    redisReply *ranges[] = {array(range, 3)};
    ac_slotmap_t *m = ac_slotmap_from_slots(array(ranges, 1), err, sizeof(err));
    assert_non_null(m);
    assert_int_equal(ac_slotmap_node(m, 99), -1);
    assert_int_equal(ac_slotmap_node(m, 100), 0);
    assert_int_equal(ac_slotmap_node(m, 200), -1);
    assert_string_equal(ac_slotmap_host(m, 0), "");
    assert_null(ac_slotmap_host(m, 1));
    ac_slotmap_destroy(m);

    assert_null(ac_slotmap_from_slots(string("ERR This instance has cluster support disabled"), err,
                                      sizeof(err)));
    assert_non_null(strstr(err, "not an array"));
    redisReply *bad_end[] = {integer(0), integer(16384), array(m1, 2)};
    redisReply *r2[] = {array(bad_end, 3)};
    assert_null(ac_slotmap_from_slots(array(r2, 1), err, sizeof(err)));
    redisReply *no_master[] = {integer(0), integer(10)};
    redisReply *r3[] = {array(no_master, 2)};
    assert_null(ac_slotmap_from_slots(array(r3, 1), err, sizeof(err)));
    redisReply *bad_port[] = {string("h"), integer(0)};
    redisReply *range4[] = {integer(0), integer(10), array(bad_port, 2)};
    redisReply *r4[] = {array(range4, 3)};
    assert_null(ac_slotmap_from_slots(array(r4, 1), err, sizeof(err)));
    assert_non_null(strstr(err, "CLUSTER SLOTS"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(three_masters),
        cmocka_unit_test(gaps_and_bad_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
