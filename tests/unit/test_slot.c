/* Redis Cluster key slots (slot.h): the CRC16 check value and the slots
 * redis-server 7.0's CLUSTER KEYSLOT gives, hash tags included. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "slot.h"

static void crc16_check_value(void **state)
{
    (void)state;
    /* The XMODEM check value, also the specification's example. */
    assert_int_equal(ac_slot_crc16("123456789", 9), 0x31C3);
    assert_int_equal(ac_slot_crc16("", 0), 0);
}

/* Slots as read from redis-server 7.0.15 (cluster-enabled) with CLUSTER
 * KEYSLOT. */
static void slots_match_redis(void **state)
{
    (void)state;
    static const struct {
        const char *key;
        int slot;
    } cases[] = {
        {"foo", 12182},
        {"bar", 5061},
        {"123456789", 12739},
        {"{user1000}.following", 3443},
        {"{user1000}.followers", 3443},
        {"{}foo", 9500},         /* an empty tag: the whole key */
        {"foo{}{bar}", 8363},    /* the first '{' decides: empty, whole key */
        {"foo{{bar}}zap", 4015}, /* the tag is "{bar" */
        {"foo{bar}{zap}", 5061}, /* the tag is "bar" */
        {"ac:m:{ord-1}", 603},
        {"", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(ac_slot_of(cases[i].key, strlen(cases[i].key)), cases[i].slot);
}

/* Keys that share a tag share a slot, whatever surrounds it; an unclosed
 * brace is no tag. */
static void tags_group_keys(void **state)
{
    (void)state;
    const char *a = "ac:j:{st-1:ord-9}", *b = "ac:s:{st-1:ord-9}:sent";
    assert_int_equal(ac_slot_of(a, strlen(a)), ac_slot_of(b, strlen(b)));
    assert_int_equal(ac_slot_of("{bar", 4), ac_slot_crc16("{bar", 4) % AC_SLOT_COUNT);
    /* Bytes after len are not read: a tag closed beyond it is no tag. */
    assert_int_equal(ac_slot_of("x{ab}", 4), ac_slot_crc16("x{ab", 4) % AC_SLOT_COUNT);
    for (int i = 0; i < 1000; i++) {
        char key[32];
        int n = snprintf(key, sizeof(key), "k%d", i * 7919);
        int s = ac_slot_of(key, (size_t)n);
        assert_true(s >= 0 && s < AC_SLOT_COUNT);
    }
}

/* Redirections as Redis writes them (clusterRedirectClient), and what is
 * not one. */
static void replies_are_classified(void **state)
{
    (void)state;
    ac_slot_redirect_t to;
    assert_int_equal(ac_slot_reply("MOVED 3999 127.0.0.1:6381", &to), AC_SLOT_REPLY_MOVED);
    assert_int_equal(to.slot, 3999);
    assert_string_equal(to.host, "127.0.0.1");
    assert_int_equal(to.port, 6381);
    assert_int_equal(ac_slot_reply("ASK 16383 ::1:7002", &to), AC_SLOT_REPLY_ASK);
    assert_int_equal(to.slot, 16383);
    assert_string_equal(to.host, "::1");
    assert_int_equal(to.port, 7002);
    assert_int_equal(ac_slot_reply("MOVED 12 :7000", &to), AC_SLOT_REPLY_MOVED);
    assert_string_equal(to.host, "");
    assert_int_equal(ac_slot_reply("TRYAGAIN Multiple keys request during rehashing of slot", &to),
                     AC_SLOT_REPLY_TRYAGAIN);
    assert_int_equal(ac_slot_reply("CLUSTERDOWN The cluster is down", &to),
                     AC_SLOT_REPLY_CLUSTERDOWN);
    static const char *other[] = {
        "MOVED",
        "MOVED 3999",
        "MOVED 16384 h:1",
        "MOVED -1 h:1",
        "MOVED 1 h",
        "MOVED 1 h:",
        "MOVED 1 h:0",
        "MOVED 1 h:65536",
        "MOVED 1 h:12x",
        "MOVEDX 1 h:1",
        "ASK x h:1",
        "TRYAGAINX",
        "CLUSTERDOWNX",
        "ERR unknown command",
        "CROSSSLOT Keys in request",
        "NOSCRIPT No matching script",
        "",
    };
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
        assert_int_equal(ac_slot_reply(other[i], &to), AC_SLOT_REPLY_OTHER);
    assert_int_equal(ac_slot_reply(NULL, &to), AC_SLOT_REPLY_OTHER);
    char long_host[600];
    memset(long_host, 'h', sizeof(long_host));
    memcpy(long_host, "MOVED 1 ", 8);
    snprintf(long_host + 500, 100, ":6379");
    assert_int_equal(ac_slot_reply(long_host, &to), AC_SLOT_REPLY_OTHER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc16_check_value),
        cmocka_unit_test(slots_match_redis),
        cmocka_unit_test(tags_group_keys),
        cmocka_unit_test(replies_are_classified),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
