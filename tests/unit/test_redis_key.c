/* Unit tests for the key layout (common/redis_key.h): keys hold no brace,
 * stay distinct for distinct stores and ids, and a key written beside
 * another lands on the same Redis Cluster slot (slot.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "redis_key.h"
#include "slot.h"

static int slot(const char *k)
{
    return ac_slot_of(k, strlen(k));
}

static void test_plain_keys_unchanged(void **state)
{
    (void)state;
    char k[600];
    ac_redis_key(k, sizeof(k), "j", "shop.example", "1001");
    assert_string_equal(k, "ac:j:12:shop.example:1001");
    ac_redis_key(k, sizeof(k), "p", NULL, NULL);
    assert_string_equal(k, "ac:p:0::");
}

/* The memcpy path writes what the format "ac:%s:%zu:%s:%s" would, for
 * store lengths of every digit count, and truncates like it when the
 * buffer is short. */
static void test_plain_keys_match_the_format(void **state)
{
    (void)state;
    static const size_t lens[] = {0, 1, 9, 10, 99, 100, 255, 1000};
    char store[1001], id[40], got[1200], want[1200];
    memset(store, 's', sizeof(store));
    snprintf(id, sizeof(id), "order-%d", 42);
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        store[lens[i]] = '\0';
        ac_redis_key(got, sizeof(got), "oc", store, id);
        snprintf(want, sizeof(want), "ac:oc:%zu:%s:%s", lens[i], store, id);
        assert_string_equal(got, want);
        for (size_t sz = 1; sz < 40; sz += 7) {
            ac_redis_key(got, sz, "oc", store, id);
            char cut[40];
            snprintf(want, sizeof(want), "ac:oc:%zu:%s:%s", lens[i], store, id);
            memcpy(cut, want, sz - 1);
            cut[sz - 1] = '\0';
            assert_string_equal(got, cut);
        }
        store[lens[i]] = 's';
    }
}

static void test_braces_escaped_and_distinct(void **state)
{
    (void)state;
    char a[600], b[600], c[600], d[600];
    ac_redis_key(a, sizeof(a), "j", "s{1}", "o");
    ac_redis_key(b, sizeof(b), "j", "s%7B1%7D", "o");
    ac_redis_key(c, sizeof(c), "j", "s", "{o}");
    ac_redis_key(d, sizeof(d), "j", "s", "%7Bo%7D");
    assert_string_equal(a, "ac:j:x8:s%7B1%7D:o");
    assert_string_equal(b, "ac:j:8:s%7B1%7D:o");
    assert_string_equal(c, "ac:j:x1:s:%7Bo%7D");
    assert_string_equal(d, "ac:j:1:s:%7Bo%7D");
    assert_null(strpbrk(a, "{}"));
    assert_null(strpbrk(c, "{}"));
    /* A literal escape sequence in an id that also holds a brace. */
    ac_redis_key(a, sizeof(a), "j", "s", "%7B{");
    ac_redis_key(b, sizeof(b), "j", "s", "{{");
    assert_string_not_equal(a, b);
}

static void test_beside_shares_the_slot(void **state)
{
    (void)state;
    const char *stores[] = {"shop.example", "s{1}", "}{", "a}b", "", "{x}"};
    char k[600], s[620];
    for (size_t i = 0; i < sizeof(stores) / sizeof(*stores); i++) {
        for (int o = 0; o < 50; o++) {
            char order[16];
            snprintf(order, sizeof(order), "%d", o * 7919);
            ac_redis_key(k, sizeof(k), "j", stores[i], order);
            assert_int_equal(ac_redis_key_beside(s, sizeof(s), k, ":s"), 0);
            assert_int_equal(slot(s), slot(k));
        }
    }
    assert_int_equal(ac_redis_key_beside(s, sizeof(s), "a{b}", ":s"), -1);
    assert_int_equal(ac_redis_key_beside(s, 8, "ac:j:1:s:1", ":s"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_keys_unchanged),
        cmocka_unit_test(test_plain_keys_match_the_format),
        cmocka_unit_test(test_braces_escaped_and_distinct),
        cmocka_unit_test(test_beside_shares_the_slot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
