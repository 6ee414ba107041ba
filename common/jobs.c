#include "jobs.h"

#include <stdlib.h>
#include <string.h>

typedef struct job_list {
    ac_job_t *head, *tail;
    size_t n;
} job_list_t;

struct ac_jobs {
    job_list_t lists[AC_JOB__COUNT];
    size_t total;
    unsigned *gens; /* per partition: bumped when it is revoked */
    size_t n_gens;
    ac_jobs_observer_fn observer;
    void *observer_opaque;
};

static const char *const state_names[AC_JOB__COUNT] = {
    [AC_JOB_NEW] = "new",           [AC_JOB_CLAIM] = "claim",     [AC_JOB_CHECK] = "check",
    [AC_JOB_CHANNEL] = "channel",   [AC_JOB_CONSENT] = "consent", [AC_JOB_SUGGEST] = "suggest",
    [AC_JOB_SEND] = "send",         [AC_JOB_SENDING] = "sending", [AC_JOB_WAIT] = "wait",
    [AC_JOB_DEFER] = "defer",       [AC_JOB_MARK] = "mark",       [AC_JOB_DLQ] = "dlq",
    [AC_JOB_DLQ_WAIT] = "dlq_wait", [AC_JOB_RELEASE] = "release", [AC_JOB_DONE] = "done",
};

#define TO(s) (1u << (s))

/* The machine's edges, one row per state: where a job may go from there.
 * Everything the worker does to a job is one of these; anything else is a
 * bug that ac_jobs_set() refuses rather than carries out. */
static const unsigned edges[AC_JOB__COUNT] = {
    /* Quiet hours put a marketing message off; a bad record is a dead
     * letter; a revoked partition's record is left to its new owner. */
    [AC_JOB_NEW] = TO(AC_JOB_CLAIM) | TO(AC_JOB_DEFER) | TO(AC_JOB_DLQ) | TO(AC_JOB_DONE),
    /* Won, lost to another process (wait), already sent (done), or given
     * up when revoked or stopping (release when a lease is held). */
    [AC_JOB_CLAIM] = TO(AC_JOB_CHECK) | TO(AC_JOB_WAIT) | TO(AC_JOB_DONE) | TO(AC_JOB_RELEASE),
    /* Facts rule it out now (mark), or Redis could not tell (wait). */
    [AC_JOB_CHECK] = TO(AC_JOB_CHANNEL) | TO(AC_JOB_MARK) | TO(AC_JOB_WAIT),
    [AC_JOB_CHANNEL] = TO(AC_JOB_SEND) | TO(AC_JOB_CONSENT),
    [AC_JOB_CONSENT] = TO(AC_JOB_SUGGEST) | TO(AC_JOB_MARK) | TO(AC_JOB_WAIT),
    [AC_JOB_SUGGEST] = TO(AC_JOB_SEND),
    /* Posted; held or paced (wait, or defer for a long hold); nowhere to
     * go or nothing to render (dead letter). */
    [AC_JOB_SEND] = TO(AC_JOB_SENDING) | TO(AC_JOB_WAIT) | TO(AC_JOB_DEFER) | TO(AC_JOB_DLQ),
    /* Delivered (mark), to retry (wait, defer), rejected or out of time
     * (dead letter), or failed after its partition moved on (release). */
    [AC_JOB_SENDING] =
        TO(AC_JOB_MARK) | TO(AC_JOB_WAIT) | TO(AC_JOB_DEFER) | TO(AC_JOB_DLQ) | TO(AC_JOB_RELEASE),
    [AC_JOB_WAIT] = TO(AC_JOB_CLAIM) | TO(AC_JOB_RELEASE) | TO(AC_JOB_DONE),
    [AC_JOB_DEFER] = TO(AC_JOB_RELEASE) | TO(AC_JOB_DONE),
    [AC_JOB_MARK] = TO(AC_JOB_DONE),
    [AC_JOB_DLQ] = TO(AC_JOB_DLQ_WAIT),
    /* A failed delivery report produces the dead letter again. */
    [AC_JOB_DLQ_WAIT] = TO(AC_JOB_DLQ) | TO(AC_JOB_RELEASE) | TO(AC_JOB_DONE),
    [AC_JOB_RELEASE] = TO(AC_JOB_DONE),
    [AC_JOB_DONE] = 0,
};

ac_jobs_t *ac_jobs_new(void)
{
    return calloc(1, sizeof(ac_jobs_t));
}

void ac_jobs_destroy(ac_jobs_t *jobs)
{
    if (!jobs)
        return;
    free(jobs->gens);
    free(jobs);
}

void ac_jobs_set_observer(ac_jobs_t *jobs, ac_jobs_observer_fn fn, void *opaque)
{
    jobs->observer = fn;
    jobs->observer_opaque = opaque;
}

const char *ac_job_state_name(ac_job_state_t state)
{
    return (unsigned)state < AC_JOB__COUNT ? state_names[state] : "?";
}

int ac_job_transition_allowed(ac_job_state_t from, ac_job_state_t to)
{
    if ((unsigned)from >= AC_JOB__COUNT || (unsigned)to >= AC_JOB__COUNT)
        return 0;
    return (edges[from] & TO(to)) != 0;
}

static void list_unlink(job_list_t *l, ac_job_t *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        l->head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        l->tail = j->prev;
    j->prev = j->next = NULL;
    l->n--;
}

static void list_append(job_list_t *l, ac_job_t *j)
{
    j->next = NULL;
    j->prev = l->tail;
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    l->n++;
}

/* The generation slot of a partition, grown on first sight. */
static unsigned *gen_slot(ac_jobs_t *jobs, int32_t partition)
{
    if (partition < 0)
        return NULL;
    if ((size_t)partition >= jobs->n_gens) {
        size_t cap = (size_t)partition + 1;
        unsigned *g = realloc(jobs->gens, cap * sizeof(*g));
        if (!g)
            return NULL;
        memset(g + jobs->n_gens, 0, (cap - jobs->n_gens) * sizeof(*g));
        jobs->gens = g;
        jobs->n_gens = cap;
    }
    return &jobs->gens[partition];
}

int ac_jobs_add(ac_jobs_t *jobs, ac_job_t *job, int32_t partition)
{
    unsigned *g = gen_slot(jobs, partition);
    if (!g)
        return -1;
    job->state = AC_JOB_NEW;
    job->leased = 0;
    job->abandoned = 0;
    job->partition = partition;
    job->gen = *g;
    job->due_ms = 0;
    list_append(&jobs->lists[AC_JOB_NEW], job);
    jobs->total++;
    if (jobs->observer)
        jobs->observer(jobs->observer_opaque, job, AC_JOB_NEW, AC_JOB_NEW);
    return 0;
}

/* The only place a job's state changes. What a state needs on entry is
 * set here: a job that leaves AC_JOB_CLAIM for AC_JOB_CHECK won its claim
 * and holds a lease from then on until it is marked or released. */
int ac_jobs_set(ac_jobs_t *jobs, ac_job_t *job, ac_job_state_t to)
{
    ac_job_state_t from = job->state;
    if (from == to)
        return 0;
    if (!ac_job_transition_allowed(from, to))
        return -1;
    if (from == AC_JOB_CLAIM && to == AC_JOB_CHECK)
        job->leased = 1;
    if (to == AC_JOB_MARK || to == AC_JOB_RELEASE || to == AC_JOB_DONE)
        job->due_ms = 0;
    list_unlink(&jobs->lists[from], job);
    job->state = to;
    list_append(&jobs->lists[to], job);
    if (jobs->observer)
        jobs->observer(jobs->observer_opaque, job, from, to);
    return 0;
}

int ac_jobs_wait(ac_jobs_t *jobs, ac_job_t *job, int64_t due_ms)
{
    if (job->state != AC_JOB_WAIT && !ac_job_transition_allowed(job->state, AC_JOB_WAIT))
        return -1;
    job->due_ms = due_ms;
    return ac_jobs_set(jobs, job, AC_JOB_WAIT);
}

int ac_jobs_finish(ac_jobs_t *jobs, ac_job_t *job)
{
    return ac_jobs_set(jobs, job, job->leased ? AC_JOB_RELEASE : AC_JOB_DONE);
}

size_t ac_jobs_wake(ac_jobs_t *jobs, int64_t now_ms)
{
    size_t woken = 0;
    for (ac_job_t *j = jobs->lists[AC_JOB_WAIT].head, *next; j; j = next) {
        next = j->next;
        if (j->due_ms <= now_ms && ac_jobs_set(jobs, j, AC_JOB_CLAIM) == 0)
            woken++;
    }
    return woken;
}

int64_t ac_jobs_next_due(const ac_jobs_t *jobs)
{
    int64_t due = INT64_MAX;
    for (const ac_job_t *j = jobs->lists[AC_JOB_WAIT].head; j; j = j->next)
        if (j->due_ms < due)
            due = j->due_ms;
    return due;
}

/* The states of a job not yet started: nothing of it is in flight, so it
 * can be left to whoever owns its partition next. */
static const ac_job_state_t unstarted[] = {AC_JOB_NEW, AC_JOB_CLAIM, AC_JOB_WAIT, AC_JOB_DEFER};

/* Finishes the unstarted jobs of one partition (all of them when
 * partition < 0), marking them abandoned when asked. */
static void finish_unstarted(ac_jobs_t *jobs, int32_t partition, int abandon)
{
    for (size_t s = 0; s < sizeof(unstarted) / sizeof(unstarted[0]); s++) {
        for (ac_job_t *j = jobs->lists[unstarted[s]].head, *next; j; j = next) {
            next = j->next;
            if (partition >= 0 && j->partition != partition)
                continue;
            if (abandon)
                j->abandoned = 1;
            ac_jobs_finish(jobs, j);
        }
    }
}

int ac_jobs_revoke(ac_jobs_t *jobs, int32_t partition)
{
    unsigned *g = gen_slot(jobs, partition);
    if (!g)
        return -1;
    (*g)++;
    finish_unstarted(jobs, partition, 0);
    return 0;
}

void ac_jobs_drain(ac_jobs_t *jobs)
{
    finish_unstarted(jobs, -1, 1);
}

int ac_jobs_stale(const ac_jobs_t *jobs, const ac_job_t *job)
{
    if (job->abandoned || job->partition < 0 || (size_t)job->partition >= jobs->n_gens)
        return 1;
    return jobs->gens[job->partition] != job->gen;
}

int ac_jobs_remove(ac_jobs_t *jobs, ac_job_t *job)
{
    if (job->state != AC_JOB_DONE)
        return -1;
    list_unlink(&jobs->lists[AC_JOB_DONE], job);
    jobs->total--;
    return 0;
}

void ac_jobs_forget(ac_jobs_t *jobs, ac_job_t *job)
{
    list_unlink(&jobs->lists[job->state], job);
    jobs->total--;
}

ac_job_t *ac_jobs_first(const ac_jobs_t *jobs, ac_job_state_t state)
{
    return (unsigned)state < AC_JOB__COUNT ? jobs->lists[state].head : NULL;
}

size_t ac_jobs_count(const ac_jobs_t *jobs, ac_job_state_t state)
{
    return (unsigned)state < AC_JOB__COUNT ? jobs->lists[state].n : 0;
}

size_t ac_jobs_total(const ac_jobs_t *jobs)
{
    return jobs->total;
}
