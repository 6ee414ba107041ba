/* notify-worker's job state machine (jobs.h), transition by transition:
 * the paths a notification takes (sent, suppressed, retried, deferred,
 * dead-lettered), rebalances, lease loss, shutdown, and the transitions
 * the machine refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "jobs.h"

typedef struct seen {
    int calls;
    ac_job_state_t from, to;
} seen_t;

static void observe(void *opaque, const ac_job_t *job, ac_job_state_t from, ac_job_state_t to)
{
    seen_t *s = opaque;
    (void)job;
    s->calls++;
    s->from = from;
    s->to = to;
}

/* Walks job through the given states, each step asserted to succeed. */
static void walk(ac_jobs_t *m, ac_job_t *j, const ac_job_state_t *path, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(ac_jobs_set(m, j, path[i]), 0);
        assert_int_equal(j->state, path[i]);
        assert_int_equal(ac_jobs_count(m, path[i]), 1);
    }
}

static void every_state_has_a_name(void **state)
{
    (void)state;
    for (int s = 0; s < AC_JOB__COUNT; s++) {
        assert_non_null(ac_job_state_name((ac_job_state_t)s));
        assert_string_not_equal(ac_job_state_name((ac_job_state_t)s), "?");
        for (int t = 0; t < s; t++)
            assert_string_not_equal(ac_job_state_name((ac_job_state_t)s),
                                    ac_job_state_name((ac_job_state_t)t));
    }
    assert_string_equal(ac_job_state_name(AC_JOB__COUNT), "?");
    assert_string_equal(ac_job_state_name(AC_JOB_CLAIM), "claim");
}

/* A transactional message: claimed, fresh, sent, delivered, marked. The
 * won claim makes it leased; the observer hears every step. */
static void transactional_message_is_sent_and_marked(void **state)
{
    (void)state;
    ac_jobs_t *m = ac_jobs_new();
    seen_t seen = {0};
    ac_job_t j;
    memset(&j, 0xab, sizeof(j));
    ac_jobs_set_observer(m, observe, &seen);
    assert_int_equal(ac_jobs_add(m, &j, 3), 0);
    assert_int_equal(j.state, AC_JOB_NEW);
    assert_int_equal(j.leased, 0);
    assert_int_equal(seen.calls, 1);
    const ac_job_state_t path[] = {AC_JOB_CLAIM, AC_JOB_CHECK,   AC_JOB_CHANNEL,
                                   AC_JOB_SEND,  AC_JOB_SENDING, AC_JOB_MARK};
    walk(m, &j, path, 2);
    assert_int_equal(j.leased, 1);
    walk(m, &j, path + 2, 4);
    assert_int_equal(seen.calls, 7);
    assert_int_equal(seen.from, AC_JOB_SENDING);
    assert_int_equal(seen.to, AC_JOB_MARK);
    assert_int_equal(ac_jobs_remove(m, &j), -1); /* not done yet */
    assert_int_equal(ac_jobs_set(m, &j, AC_JOB_DONE), 0);
    assert_false(ac_jobs_stale(m, &j));
    assert_int_equal(ac_jobs_total(m), 1);
    assert_int_equal(ac_jobs_remove(m, &j), 0);
    assert_int_equal(ac_jobs_total(m), 0);
    assert_null(ac_jobs_first(m, AC_JOB_DONE));
    ac_jobs_destroy(m);
}

/* A marketing message goes through consent and suggestion, or is
 * suppressed there (marked, never sent). */
static void marketing_message_consent_and_suppression(void **state)
{
    (void)state;
    ac_jobs_t *m = ac_jobs_new();
    ac_job_t sent, held;
    ac_jobs_add(m, &sent, 0);
    ac_jobs_add(m, &held, 0);
    const ac_job_state_t path[] = {AC_JOB_CLAIM,   AC_JOB_CHECK, AC_JOB_CHANNEL, AC_JOB_CONSENT,
                                   AC_JOB_SUGGEST, AC_JOB_SEND,  AC_JOB_SENDING};
    walk(m, &sent, path, 7);
    walk(m, &held, path, 4);
    assert_int_equal(ac_jobs_set(m, &held, AC_JOB_SEND), -1); /* no skipping the suggestion */
    assert_int_equal(ac_jobs_set(m, &held, AC_JOB_MARK), 0);
    assert_int_equal(ac_jobs_set(m, &held, AC_JOB_DONE), 0);
    ac_jobs_destroy(m);
}

/* A retry waits in memory still leased, is claimed again when due, and
 * keeps its lease through the second claim. */
static void retry_waits_then_claims_again(void **state)
{
    (void)state;
    ac_jobs_t *m = ac_jobs_new();
    ac_job_t a, b;
    ac_jobs_add(m, &a, 0);
    ac_jobs_add(m, &b, 1);
    const ac_job_state_t path[] = {AC_JOB_CLAIM, AC_JOB_CHECK, AC_JOB_CHANNEL, AC_JOB_SEND,
                                   AC_JOB_SENDING};
    walk(m, &a, path, 5);
    assert_int_equal(ac_jobs_wait(m, &a, 1000), 0);
    assert_int_equal(ac_jobs_set(m, &b, AC_JOB_CLAIM), 0);
    assert_int_equal(ac_jobs_wait(m, &b, 500), 0); /* lost the claim to another process */
    assert_int_equal(b.leased, 0);
    assert_int_equal(ac_jobs_next_due(m), 500);
    assert_int_equal(ac_jobs_wake(m, 499), 0);
    assert_int_equal(ac_jobs_wake(m, 500), 1);
    assert_int_equal(b.state, AC_JOB_CLAIM);
    assert_int_equal(ac_jobs_next_due(m), 1000);
    assert_int_equal(ac_jobs_wait(m, &a, 2000), 0); /* waiting longer: the same state */
    assert_int_equal(ac_jobs_wake(m, 1500), 0);
    assert_int_equal(ac_jobs_wake(m, 2000), 1);
    assert_int_equal(ac_jobs_next_due(m), INT64_MAX);
    assert_int_equal(ac_jobs_set(m, &a, AC_JOB_CHECK), 0);
    assert_int_equal(a.leased, 1);
    /* A wait is no way out of a state that has none. */
    assert_int_equal(ac_jobs_set(m, &a, AC_JOB_CHANNEL), 0);
    assert_int_equal(ac_jobs_wait(m, &a, 10), -1);
    assert_int_equal(a.state, AC_JOB_CHANNEL);
    ac_jobs_destroy(m);
}

/* Finishing gives a lease back when one is held, and goes straight to
 * done when none is. */
static void finish_releases_only_a_held_lease(void **state)
{
    (void)state;
    ac_jobs_t *m = ac_jobs_new();
    ac_job_t quiet, deferred;
    ac_jobs_add(m, &quiet, 0);
    ac_jobs_add(m, &deferred, 0);
    assert_int_equal(ac_jobs_set(m, &quiet, AC_JOB_DEFER), 0); /* quiet hours, never claimed */
    assert_int_equal(ac_jobs_finish(m, &quiet), 0);
    assert_int_equal(quiet.state, AC_JOB_DONE);
    const ac_job_state_t path[] = {AC_JOB_CLAIM, AC_JOB_CHECK,   AC_JOB_CHANNEL,
                                   AC_JOB_SEND,  AC_JOB_SENDING, AC_JOB_DEFER};
    walk(m, &deferred, path, 6); /* a long retry, into the schedule */
    assert_int_equal(ac_jobs_finish(m, &deferred), 0);
    assert_int_equal(deferred.state, AC_JOB_RELEASE);
    assert_int_equal(ac_jobs_set(m, &deferred, AC_JOB_DONE), 0);
    ac_jobs_destroy(m);
}

/* A dead letter waits for its delivery report; a failed report produces
 * it again; an acknowledged one finishes the job. */
static void dead_letter_report_failure_and_retry(void **state)
{
    (void)state;
    ac_jobs_t *m = ac_jobs_new();
    ac_job_t bad, rejected;
    ac_jobs_add(m, &bad, 0);
    ac_jobs_add(m, &rejected, 0);
    const ac_job_state_t bad_path[] = {AC_JOB_DLQ, AC_JOB_DLQ_WAIT, AC_JOB_DLQ, AC_JOB_DLQ_WAIT};
    walk(m, &bad, bad_path, 4);
    assert_int_equal(ac_jobs_finish(m, &bad), 0);
    assert_int_equal(bad.state, AC_JOB_DONE);
    const ac_job_state_t path[] = {AC_JOB_CLAIM,   AC_JOB_CHECK, AC_JOB_CHANNEL, AC_JOB_SEND,
                                   AC_JOB_SENDING, AC_JOB_DLQ,   AC_JOB_DLQ_WAIT};
    walk(m, &rejected, path, 7);
    assert_int_equal(ac_jobs_finish(m, &rejected), 0);
    assert_int_equal(rejected.state, AC_JOB_RELEASE);
    ac_jobs_destroy(m);
}

/* A revoked partition: its unstarted jobs finish (the leased one gives
 * its lease back), its job in flight stays but is stale, so that a
 * failure releases it and a success stores no offset; other partitions
 * are untouched. A new record of the partition, consumed after it came
 * back, is not stale. */
static void rebalance_leaves_unstarted_jobs_to_the_new_owner(void **state)
{
    (void)state;
    ac_jobs_t *m = ac_jobs_new();
    ac_job_t fresh, waiting, flying, other, later;
    ac_jobs_add(m, &fresh, 2);
    ac_jobs_add(m, &waiting, 2);
    ac_jobs_add(m, &flying, 2);
    ac_jobs_add(m, &other, 5);
    const ac_job_state_t path[] = {AC_JOB_CLAIM, AC_JOB_CHECK, AC_JOB_CHANNEL, AC_JOB_SEND,
                                   AC_JOB_SENDING};
    walk(m, &flying, path, 5);
    ac_jobs_set(m, &waiting, AC_JOB_CLAIM);
    ac_jobs_set(m, &waiting, AC_JOB_CHECK);
    ac_jobs_wait(m, &waiting, 100); /* the consent check failed: waits, leased */
    ac_jobs_set(m, &other, AC_JOB_CLAIM);
    assert_int_equal(ac_jobs_revoke(m, 2), 0);
    assert_int_equal(fresh.state, AC_JOB_DONE);
    assert_int_equal(waiting.state, AC_JOB_RELEASE);
    assert_int_equal(flying.state, AC_JOB_SENDING);
    assert_int_equal(other.state, AC_JOB_CLAIM);
    assert_true(ac_jobs_stale(m, &fresh));
    assert_true(ac_jobs_stale(m, &flying));
    assert_false(ac_jobs_stale(m, &other));
    assert_int_equal(ac_jobs_set(m, &flying, AC_JOB_RELEASE), 0); /* failed after the revoke */
    ac_jobs_add(m, &later, 2);
    assert_false(ac_jobs_stale(m, &later));
    assert_int_equal(ac_jobs_revoke(m, 9), 0); /* a partition never seen */
    assert_int_equal(ac_jobs_count(m, AC_JOB_RELEASE), 2);
    ac_jobs_destroy(m);
}

/* Shutdown: unstarted jobs finish abandoned (no offset stored), jobs in
 * flight finish normally, dead letters awaiting reports stay. */
static void drain_abandons_unstarted_jobs(void **state)
{
    (void)state;
    ac_jobs_t *m = ac_jobs_new();
    ac_job_t fresh, claim, flying, dlq;
    ac_jobs_add(m, &fresh, 0);
    ac_jobs_add(m, &claim, 0);
    ac_jobs_add(m, &flying, 0);
    ac_jobs_add(m, &dlq, 0);
    const ac_job_state_t path[] = {AC_JOB_CLAIM, AC_JOB_CHECK, AC_JOB_CHANNEL, AC_JOB_SEND,
                                   AC_JOB_SENDING};
    walk(m, &flying, path, 5);
    ac_jobs_set(m, &claim, AC_JOB_CLAIM);
    ac_jobs_set(m, &dlq, AC_JOB_DLQ);
    ac_jobs_set(m, &dlq, AC_JOB_DLQ_WAIT);
    ac_jobs_drain(m);
    assert_int_equal(fresh.state, AC_JOB_DONE);
    assert_int_equal(claim.state, AC_JOB_DONE);
    assert_true(fresh.abandoned);
    assert_true(ac_jobs_stale(m, &claim));
    assert_int_equal(flying.state, AC_JOB_SENDING);
    assert_false(ac_jobs_stale(m, &flying));
    assert_int_equal(dlq.state, AC_JOB_DLQ_WAIT);
    ac_jobs_set(m, &flying, AC_JOB_MARK);
    ac_jobs_set(m, &flying, AC_JOB_DONE);
    assert_false(ac_jobs_stale(m, &flying));
    ac_jobs_destroy(m);
}

/* The edges the worker must never take: a job in flight is not claimed
 * again, a finished job goes nowhere, nothing is sent unclaimed, and a
 * mark cannot turn into a release. Every refused transition leaves the
 * job where it was. */
static void refused_transitions_leave_the_job_alone(void **state)
{
    (void)state;
    static const ac_job_state_t never[][2] = {
        {AC_JOB_SENDING, AC_JOB_CLAIM}, {AC_JOB_NEW, AC_JOB_SENDING},
        {AC_JOB_NEW, AC_JOB_SEND},      {AC_JOB_CLAIM, AC_JOB_SEND},
        {AC_JOB_MARK, AC_JOB_RELEASE},  {AC_JOB_DONE, AC_JOB_NEW},
        {AC_JOB_DONE, AC_JOB_CLAIM},    {AC_JOB_WAIT, AC_JOB_SENDING},
        {AC_JOB_DEFER, AC_JOB_CLAIM},   {AC_JOB_DLQ, AC_JOB_DONE},
        {AC_JOB_RELEASE, AC_JOB_CLAIM},
    };
    for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
        assert_false(ac_job_transition_allowed(never[i][0], never[i][1]));
    for (int s = 0; s < AC_JOB__COUNT; s++)
        assert_false(ac_job_transition_allowed(AC_JOB_DONE, (ac_job_state_t)s));
    assert_false(ac_job_transition_allowed(AC_JOB__COUNT, AC_JOB_DONE));
    ac_jobs_t *m = ac_jobs_new();
    seen_t seen = {0};
    ac_job_t j;
    ac_jobs_add(m, &j, 0);
    ac_jobs_set_observer(m, observe, &seen);
    const ac_job_state_t path[] = {AC_JOB_CLAIM, AC_JOB_CHECK, AC_JOB_CHANNEL, AC_JOB_SEND,
                                   AC_JOB_SENDING};
    walk(m, &j, path, 5);
    assert_int_equal(ac_jobs_set(m, &j, AC_JOB_CLAIM), -1);
    assert_int_equal(j.state, AC_JOB_SENDING);
    assert_int_equal(ac_jobs_count(m, AC_JOB_SENDING), 1);
    assert_int_equal(ac_jobs_count(m, AC_JOB_CLAIM), 0);
    assert_int_equal(seen.calls, 5);                         /* the refusal was not a change */
    assert_int_equal(ac_jobs_set(m, &j, AC_JOB_SENDING), 0); /* the same state: nothing */
    assert_int_equal(seen.calls, 5);
    ac_jobs_destroy(m);
}

/* Each state's list keeps its jobs in the order they arrived, and a walk
 * that moves jobs on as it goes (saving next first) sees each once. */
static void lists_are_fifo_and_safe_to_walk(void **state)
{
    (void)state;
    ac_jobs_t *m = ac_jobs_new();
    ac_job_t js[6];
    for (int i = 0; i < 6; i++)
        ac_jobs_add(m, &js[i], i % 2);
    assert_int_equal(ac_jobs_count(m, AC_JOB_NEW), 6);
    int i = 0;
    for (ac_job_t *b = ac_jobs_first(m, AC_JOB_NEW), *next; b; b = next, i++) {
        next = b->next;
        assert_ptr_equal(b, &js[i]);
        ac_jobs_set(m, b, i % 3 ? AC_JOB_CLAIM : AC_JOB_DEFER);
    }
    assert_int_equal(i, 6);
    assert_int_equal(ac_jobs_count(m, AC_JOB_NEW), 0);
    assert_int_equal(ac_jobs_count(m, AC_JOB_CLAIM), 4);
    assert_int_equal(ac_jobs_count(m, AC_JOB_DEFER), 2);
    assert_ptr_equal(ac_jobs_first(m, AC_JOB_CLAIM), &js[1]);
    assert_ptr_equal(ac_jobs_first(m, AC_JOB_CLAIM)->next, &js[2]);
    assert_ptr_equal(ac_jobs_first(m, AC_JOB_DEFER)->next, &js[3]);
    assert_int_equal(ac_jobs_total(m), 6);
    ac_jobs_forget(m, &js[2]);
    assert_int_equal(ac_jobs_total(m), 5);
    assert_ptr_equal(ac_jobs_first(m, AC_JOB_CLAIM)->next, &js[4]);
    ac_jobs_destroy(m);
    ac_jobs_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_state_has_a_name),
        cmocka_unit_test(transactional_message_is_sent_and_marked),
        cmocka_unit_test(marketing_message_consent_and_suppression),
        cmocka_unit_test(retry_waits_then_claims_again),
        cmocka_unit_test(finish_releases_only_a_held_lease),
        cmocka_unit_test(dead_letter_report_failure_and_retry),
        cmocka_unit_test(rebalance_leaves_unstarted_jobs_to_the_new_owner),
        cmocka_unit_test(drain_abandons_unstarted_jobs),
        cmocka_unit_test(refused_transitions_leave_the_job_alone),
        cmocka_unit_test(lists_are_fifo_and_safe_to_walk),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
