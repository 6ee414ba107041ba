/* Per-partition progress: reading librdkafka's statistics, lag, and when
 * a partition counts as stalled. No Kafka. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "progress.h"

/* The shape librdkafka's statistics give a consumer, trimmed to what is
 * read, plus fields that must be ignored. */
static const char *stats_json =
    "{\"name\":\"order-worker#consumer-1\",\"type\":\"consumer\",\"ts\":1,"
    "\"topics\":{"
    "\"orders\":{\"topic\":\"orders\",\"partitions\":{"
    "\"0\":{\"partition\":0,\"desired\":true,\"hi_offset\":100,\"stored_offset\":40,"
    "\"committed_offset\":30,\"consumer_lag\":70},"
    "\"1\":{\"partition\":1,\"desired\":false,\"hi_offset\":50,\"stored_offset\":-1001,"
    "\"committed_offset\":-1001,\"lo_offset\":-1},"
    "\"4\":{\"partition\":4,\"desired\":true,\"hi_offset\":3,\"lo_offset\":0,"
    "\"stored_offset\":-1001,\"committed_offset\":-1001},"
    "\"2\":{\"partition\":2,\"desired\":true,\"hi_offset\":9,\"stored_offset\":-1001,"
    "\"committed_offset\":5},"
    "\"3\":{\"partition\":3,\"desired\":true,\"hi_offset\":-1,\"stored_offset\":-1001,"
    "\"committed_offset\":-1001},"
    "\"-1\":{\"partition\":-1,\"desired\":false,\"hi_offset\":-1}}},"
    "\"notifications\":{\"topic\":\"notifications\",\"partitions\":{"
    "\"0\":{\"partition\":0,\"desired\":true,\"hi_offset\":7,\"stored_offset\":7}}}}}";

static const ac_partition_stats_t *find(const ac_partition_stats_t *p, int n, int32_t id)
{
    for (int i = 0; i < n; i++)
        if (p[i].partition == id)
            return &p[i];
    return NULL;
}

static void parses_statistics(void **state)
{
    (void)state;
    ac_partition_stats_t parts[8];
    int n = ac_progress_parse_stats(stats_json, strlen(stats_json), "orders", parts, 8);
    assert_int_equal(n, 5); /* the internal -1 partition is left out */
    const ac_partition_stats_t *p0 = find(parts, n, 0), *p1 = find(parts, n, 1),
                               *p2 = find(parts, n, 2), *p3 = find(parts, n, 3);
    assert_non_null(p0);
    assert_non_null(p1);
    assert_non_null(p2);
    assert_non_null(p3);
    assert_true(p0->assigned);
    assert_int_equal(p0->hi, 100);
    assert_int_equal(p0->done, 40); /* stored wins over committed */
    assert_false(p1->assigned);
    assert_int_equal(p1->done, -1);
    assert_int_equal(p2->done, 5); /* nothing stored yet: committed */
    assert_int_equal(p3->hi, -1);
    /* A group that never committed starts at the low watermark. */
    const ac_partition_stats_t *p4 = find(parts, n, 4);
    assert_non_null(p4);
    assert_int_equal(p4->done, 0);

    assert_int_equal(ac_progress_parse_stats(stats_json, strlen(stats_json), "returns", parts, 8),
                     0);
    assert_int_equal(ac_progress_parse_stats(stats_json, strlen(stats_json), "orders", parts, 2),
                     2);
    assert_int_equal(ac_progress_parse_stats("not json", 8, "orders", parts, 8), -1);
    assert_int_equal(ac_progress_parse_stats("{\"ts\":1}", 8, "orders", parts, 8), -1);
}

static ac_partition_stats_t part(int32_t id, int64_t hi, int64_t done)
{
    ac_partition_stats_t s = {id, 1, hi, done};
    return s;
}

/* Stalled only after stall_ms with records waiting and no movement; any
 * movement, or catching up, restarts the clock. */
static void stalls_only_without_progress(void **state)
{
    (void)state;
    int stalled;
    ac_progress_t *p = ac_progress_new(60000);
    ac_partition_stats_t s = part(0, 100, 40);
    assert_int_equal(ac_progress_note(p, &s, 0, &stalled), 60);
    assert_false(stalled);
    assert_int_equal(ac_progress_note(p, &s, 59999, &stalled), 60);
    assert_false(stalled);
    assert_int_equal(ac_progress_note(p, &s, 60000, &stalled), 60);
    assert_true(stalled);

    /* It moves: no longer stalled, and the clock starts again. */
    s = part(0, 120, 41);
    ac_progress_note(p, &s, 61000, &stalled);
    assert_false(stalled);
    ac_progress_note(p, &s, 120999, &stalled);
    assert_false(stalled);
    ac_progress_note(p, &s, 121000, &stalled);
    assert_true(stalled);

    /* Caught up: nothing waits, so a quiet partition never stalls. */
    s = part(0, 41, 41);
    assert_int_equal(ac_progress_note(p, &s, 122000, &stalled), 0);
    assert_false(stalled);
    ac_progress_note(p, &s, 1000000, &stalled);
    assert_false(stalled);
    /* New records arrive: the clock starts when they do. */
    s = part(0, 45, 41);
    ac_progress_note(p, &s, 1000001, &stalled);
    assert_false(stalled);
    ac_progress_note(p, &s, 1059999, &stalled);
    assert_false(stalled);

    /* Partitions are judged apart: one stalls while another moves. */
    ac_partition_stats_t other = part(1, 500, 10);
    for (int64_t t = 1000001; t <= 1070001; t += 5000) {
        other.done += 5;
        ac_progress_note(p, &other, t, &stalled);
        assert_false(stalled);
    }
    ac_progress_note(p, &s, 1070001, &stalled);
    assert_true(stalled);

    /* Forgotten (revoked), then assigned again: a fresh clock. */
    ac_progress_forget(p, 0);
    ac_progress_note(p, &s, 1070002, &stalled);
    assert_false(stalled);
    ac_progress_destroy(p);
}

/* Unknown positions are not judged; 0 turns the check off. */
static void unknown_and_off(void **state)
{
    (void)state;
    int stalled = 1;
    ac_progress_t *p = ac_progress_new(1000);
    ac_partition_stats_t s = part(0, -1, 5);
    assert_int_equal(ac_progress_note(p, &s, 0, &stalled), 0);
    assert_false(stalled);
    s = part(0, 10, -1);
    ac_progress_note(p, &s, 0, &stalled);
    ac_progress_note(p, &s, 99999, &stalled);
    assert_false(stalled);
    ac_progress_destroy(p);

    p = ac_progress_new(0);
    s = part(0, 10, 5);
    ac_progress_note(p, &s, 0, &stalled);
    ac_progress_note(p, &s, 99999999, &stalled);
    assert_false(stalled);
    ac_progress_destroy(p);
    ac_progress_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_statistics),
        cmocka_unit_test(stalls_only_without_progress),
        cmocka_unit_test(unknown_and_off),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
