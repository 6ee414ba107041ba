/* Unit tests for common/evzip.c: packed events unpack to the same bytes,
 * smaller; plain JSON passes; damaged values are refused. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "evzip.h"

/* Packs and unpacks len bytes of json; returns the packed length. */
static size_t roundtrip(const char *json, size_t len)
{
    size_t n = 0, m = 0, again = 0;
    char *packed = ac_evzip_pack(json, len, &n);
    assert_non_null(packed);
    assert_int_equal(packed[0], AC_EVZIP_V1);
    char *twice = ac_evzip_pack(json, len, &again);
    assert_non_null(twice);
    assert_int_equal(again, n);
    assert_memory_equal(twice, packed, n); /* the same bytes: they are hashed and compared */
    char *back = ac_evzip_unpack(packed, n, &m);
    assert_non_null(back);
    assert_int_equal(m, len);
    assert_memory_equal(back, json, len);
    assert_int_equal(back[m], '\0');
    free(back);
    free(twice);
    free(packed);
    return n;
}

/* The sample's events, trimmed as the schedule keeps them, pack to well
 * under their size. */
static void test_sample_events(void **state)
{
    (void)state;
    FILE *f = fopen(AC_SAMPLE_EVENTS, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0, in = 0, out = 0, count = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        ac_event_error_t err;
        ac_event_t *ev = ac_event_parse(line, (size_t)len, 0, &err);
        if (!ev)
            continue;
        size_t n = 0;
        char *trimmed = ac_event_encode(ev, &n);
        assert_non_null(trimmed);
        size_t packed = roundtrip(trimmed, n);
        assert_true(packed < n);
        in += n;
        out += packed;
        count++;
        free(trimmed);
        ac_event_destroy(ev);
    }
    free(line);
    fclose(f);
    assert_true(count >= 20);
    assert_true(out * 2 < in);
}

/* Short, empty-ish, and large inputs (the output grows as it unpacks). */
static void test_sizes(void **state)
{
    (void)state;
    roundtrip("{}", 2);
    roundtrip("", 0);
    size_t big = 300 * 1024;
    char *json = malloc(big + 1);
    assert_non_null(json);
    unsigned x = 1;
    json[0] = '{';
    for (size_t i = 1; i < big; i++) {
        x = x * 1103515245u + 12345u;
        json[i] = (char)('a' + (x >> 16) % 26);
    }
    roundtrip(json, big);
    memset(json + 1, 'x', big - 1);
    assert_true(roundtrip(json, big) < big / 100);
    free(json);
}

/* Plain JSON (a value written by hand, or by a version that did not pack)
 * is returned as it is; anything else unknown or damaged is refused. */
static void test_plain_and_damaged(void **state)
{
    (void)state;
    static const char json[] = "{\"event_id\":\"e1\",\"type\":\"order.placed\"}";
    size_t n = 0;
    char *plain = ac_evzip_unpack(json, strlen(json), &n);
    assert_non_null(plain);
    assert_string_equal(plain, json);
    free(plain);
    assert_null(ac_evzip_unpack("", 0, &n));
    assert_null(ac_evzip_unpack("\x02xyz", 4, &n));
    assert_null(ac_evzip_unpack("[1]", 3, &n));
    char *packed = ac_evzip_pack(json, strlen(json), &n);
    assert_non_null(packed);
    size_t m = 0;
    for (size_t cut = 1; cut < n; cut++)
        assert_null(ac_evzip_unpack(packed, cut, &m)); /* truncated */
    char *longer = malloc(n + 1);
    assert_non_null(longer);
    memcpy(longer, packed, n);
    longer[n] = 'x';
    assert_null(ac_evzip_unpack(longer, n + 1, &m)); /* trailing bytes */
    free(longer);
    free(packed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_events),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_plain_and_damaged),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
