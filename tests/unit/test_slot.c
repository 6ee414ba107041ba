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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(crc16_check_value),
        cmocka_unit_test(slots_match_redis),
        cmocka_unit_test(tags_group_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
