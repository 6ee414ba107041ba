/* Further unit tests for common/offsets: offset gaps, pending accounting
 * and a randomised comparison with a reference model. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "offsets.h"

static void test_gaps_in_offsets(void **state)
{
    (void)state;
    /* Compacted topics and transaction markers leave gaps between offsets;
     * the commit is one past the last finished record, not a count. */
    ac_offsets_t *t = ac_offsets_new();
    assert_non_null(t);
    ac_offsets_begin(t, 0, 5);
    ac_offsets_begin(t, 0, 9);
    ac_offsets_begin(t, 0, 20);
    assert_int_equal(ac_offsets_done(t, 0, 9), -1);
    assert_int_equal(ac_offsets_done(t, 0, 5), 10);
    assert_int_equal(ac_offsets_done(t, 0, 20), 21);
    ac_offsets_destroy(t);
}

static void test_unknown_and_committed(void **state)
{
    (void)state;
    ac_offsets_t *t = ac_offsets_new();
    assert_int_equal(ac_offsets_pending(t), 0);
    assert_int_equal(ac_offsets_done(t, 0, 1), -1);
    assert_int_equal(ac_offsets_done(t, -1, 1), -1);
    ac_offsets_begin(t, 0, 10);
    ac_offsets_begin(t, 0, 12);
    /* Offsets never begun: in a gap, before and after the window. */
    assert_int_equal(ac_offsets_done(t, 0, 11), -1);
    assert_int_equal(ac_offsets_done(t, 0, 9), -1);
    assert_int_equal(ac_offsets_done(t, 0, 13), -1);
    assert_int_equal(ac_offsets_pending(t), 2);
    assert_int_equal(ac_offsets_done(t, 0, 10), 11);
    /* Finishing what was already committed changes nothing. */
    assert_int_equal(ac_offsets_done(t, 0, 10), -1);
    assert_int_equal(ac_offsets_pending(t), 1);
    assert_int_equal(ac_offsets_done(t, 0, 12), 13);
    assert_int_equal(ac_offsets_pending(t), 0);
    ac_offsets_destroy(t);
}

static void test_negative_partition(void **state)
{
    (void)state;
    ac_offsets_t *t = ac_offsets_new();
    assert_int_equal(ac_offsets_begin(t, -1, 0), -1);
    assert_int_equal(ac_offsets_pending(t), 0);
    ac_offsets_reset(t, -1);
    assert_int_equal(ac_offsets_pending(t), 0);
    ac_offsets_destroy(t);
    ac_offsets_destroy(NULL);
}

static void test_reset_counts_only_unfinished(void **state)
{
    (void)state;
    ac_offsets_t *t = ac_offsets_new();
    for (int64_t o = 0; o < 10; o++)
        ac_offsets_begin(t, 2, o);
    ac_offsets_begin(t, 1, 50);
    /* Two finished records stay in the window behind the unfinished 0. */
    assert_int_equal(ac_offsets_done(t, 2, 5), -1);
    assert_int_equal(ac_offsets_done(t, 2, 6), -1);
    assert_int_equal(ac_offsets_pending(t), 9);
    ac_offsets_reset(t, 2);
    assert_int_equal(ac_offsets_pending(t), 1);
    assert_int_equal(ac_offsets_done(t, 2, 0), -1);
    /* Re-assigned later, the partition resumes wherever it is told. */
    ac_offsets_begin(t, 2, 3);
    assert_int_equal(ac_offsets_done(t, 2, 3), 4);
    ac_offsets_reset(t, 9); /* never seen */
    assert_int_equal(ac_offsets_pending(t), 1);
    assert_int_equal(ac_offsets_done(t, 1, 50), 51);
    ac_offsets_destroy(t);
}

static void test_grow_while_wrapped(void **state)
{
    (void)state;
    /* Fill the first ring, move its head forward, then add enough to wrap
     * around and grow: order must survive the copy. */
    ac_offsets_t *t = ac_offsets_new();
    int64_t next = 0;
    for (int i = 0; i < 60; i++)
        assert_int_equal(ac_offsets_begin(t, 0, next++), 0);
    for (int64_t o = 0; o < 50; o++)
        assert_int_equal(ac_offsets_done(t, 0, o), o + 1);
    for (int i = 0; i < 500; i++)
        assert_int_equal(ac_offsets_begin(t, 0, next++), 0);
    assert_int_equal(ac_offsets_pending(t), 510);
    /* Out of order in the middle, then everything but the oldest. */
    assert_int_equal(ac_offsets_done(t, 0, 300), -1);
    assert_int_equal(ac_offsets_done(t, 0, 300), -1);
    for (int64_t o = next - 1; o > 50; o--)
        assert_int_equal(ac_offsets_done(t, 0, o), -1);
    assert_int_equal(ac_offsets_done(t, 0, 50), next);
    assert_int_equal(ac_offsets_pending(t), 0);
    ac_offsets_destroy(t);
}

/* The reference model of one partition: a done flag per offset begun, the
 * next offset to begin and the first one not yet committed. */
typedef struct model {
    int64_t committed;
    int64_t next;
    unsigned char *done;
} model_t;

static void test_against_model(void **state)
{
    (void)state;
    enum { PARTS = 4, OPS = 20000, MAXOFF = 8192 };
    ac_offsets_t *t = ac_offsets_new();
    model_t m[PARTS];
    size_t pending = 0;
    for (int p = 0; p < PARTS; p++) {
        m[p].committed = m[p].next = 0;
        m[p].done = calloc(MAXOFF, 1);
        assert_non_null(m[p].done);
    }
    /* A fixed linear congruential generator keeps the test reproducible. */
    uint64_t seed = 0x2545F4914F6CDD1DULL;
    for (int op = 0; op < OPS; op++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        int p = (int)((seed >> 33) % PARTS);
        unsigned r = (unsigned)((seed >> 40) % 100);
        model_t *mp = &m[p];
        if (r < 50 && mp->next < MAXOFF) {
            assert_int_equal(ac_offsets_begin(t, p, mp->next), 0);
            mp->next++;
            pending++;
        } else if (mp->next > mp->committed) {
            int64_t span = mp->next - mp->committed;
            int64_t o = mp->committed + (int64_t)((seed >> 20) % (uint64_t)span);
            int64_t expect = -1;
            if (!mp->done[o]) {
                mp->done[o] = 1;
                pending--;
                if (o == mp->committed) {
                    while (mp->committed < mp->next && mp->done[mp->committed])
                        mp->committed++;
                    expect = mp->committed;
                }
            }
            int64_t got = ac_offsets_done(t, p, o);
            if (got != expect)
                fail_msg("op %d: done(%d, %lld) returned %lld, expected %lld", op, p, (long long)o,
                         (long long)got, (long long)expect);
        }
        assert_int_equal(ac_offsets_pending(t), pending);
    }
    for (int p = 0; p < PARTS; p++)
        free(m[p].done);
    ac_offsets_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gaps_in_offsets),
        cmocka_unit_test(test_unknown_and_committed),
        cmocka_unit_test(test_negative_partition),
        cmocka_unit_test(test_reset_counts_only_unfinished),
        cmocka_unit_test(test_grow_while_wrapped),
        cmocka_unit_test(test_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
