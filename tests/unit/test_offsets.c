/* The in-order commit tracker: what may be committed when records of a
 * partition finish out of order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "offsets.h"

static void in_order_completion_commits_each(void **state)
{
    ac_offsets_t *t = ac_offsets_new();
    for (int64_t o = 10; o < 13; o++)
        assert_int_equal(ac_offsets_begin(t, 0, o), 0);
    assert_int_equal(ac_offsets_pending(t), 3);
    assert_int_equal(ac_offsets_done(t, 0, 10), 11);
    assert_int_equal(ac_offsets_done(t, 0, 11), 12);
    assert_int_equal(ac_offsets_done(t, 0, 12), 13);
    assert_int_equal(ac_offsets_pending(t), 0);
    ac_offsets_destroy(t);
}

/* A slow record holds the commit of its partition back, and once it
 * finishes the commit jumps past everything finished after it. */
static void slow_record_holds_commit(void **state)
{
    ac_offsets_t *t = ac_offsets_new();
    for (int64_t o = 0; o < 5; o++)
        ac_offsets_begin(t, 3, o);
    assert_int_equal(ac_offsets_done(t, 3, 1), -1);
    assert_int_equal(ac_offsets_done(t, 3, 4), -1);
    assert_int_equal(ac_offsets_done(t, 3, 2), -1);
    assert_int_equal(ac_offsets_done(t, 3, 0), 3);
    assert_int_equal(ac_offsets_done(t, 3, 3), 5);
    ac_offsets_destroy(t);
}

static void partitions_are_independent(void **state)
{
    ac_offsets_t *t = ac_offsets_new();
    ac_offsets_begin(t, 0, 100);
    ac_offsets_begin(t, 7, 5);
    ac_offsets_begin(t, 0, 101);
    assert_int_equal(ac_offsets_done(t, 7, 5), 6);
    assert_int_equal(ac_offsets_done(t, 0, 101), -1);
    assert_int_equal(ac_offsets_done(t, 0, 100), 102);
    ac_offsets_destroy(t);
}

static void unknown_and_repeated_done_are_ignored(void **state)
{
    ac_offsets_t *t = ac_offsets_new();
    assert_int_equal(ac_offsets_done(t, 2, 1), -1);
    ac_offsets_begin(t, 2, 1);
    ac_offsets_begin(t, 2, 2);
    assert_int_equal(ac_offsets_done(t, 2, 7), -1);
    assert_int_equal(ac_offsets_done(t, 2, 2), -1);
    assert_int_equal(ac_offsets_done(t, 2, 2), -1);
    assert_int_equal(ac_offsets_pending(t), 1);
    ac_offsets_destroy(t);
}

/* Revocation forgets the partition: nothing of it can be committed. */
static void reset_forgets_partition(void **state)
{
    ac_offsets_t *t = ac_offsets_new();
    ac_offsets_begin(t, 1, 0);
    ac_offsets_begin(t, 1, 1);
    ac_offsets_done(t, 1, 1);
    ac_offsets_reset(t, 1);
    assert_int_equal(ac_offsets_pending(t), 0);
    assert_int_equal(ac_offsets_done(t, 1, 0), -1);
    ac_offsets_begin(t, 1, 40);
    assert_int_equal(ac_offsets_done(t, 1, 40), 41);
    ac_offsets_destroy(t);
}

/* Many records in flight wrap the ring and grow it without losing order. */
static void window_grows_and_wraps(void **state)
{
    ac_offsets_t *t = ac_offsets_new();
    int64_t next = 0, committed = 0;
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 37 + round * 3; i++)
            ac_offsets_begin(t, 0, next++);
        /* Finish all but the oldest in reverse, then the oldest. */
        for (int64_t o = next - 1; o > committed; o--)
            assert_int_equal(ac_offsets_done(t, 0, o), -1);
        assert_int_equal(ac_offsets_done(t, 0, committed), next);
        committed = next;
    }
    assert_int_equal(ac_offsets_pending(t), 0);
    ac_offsets_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(in_order_completion_commits_each),
        cmocka_unit_test(slow_record_holds_commit),
        cmocka_unit_test(partitions_are_independent),
        cmocka_unit_test(unknown_and_repeated_done_are_ignored),
        cmocka_unit_test(reset_forgets_partition),
        cmocka_unit_test(window_grows_and_wraps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
