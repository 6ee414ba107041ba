/* The life of a notification record in notify-worker, as an explicit state
 * machine: one table of state names, one transition function that is the
 * only place a job's state changes, and one list per state, so that each
 * stage of the worker's loop touches only the jobs that have something to
 * do there. Modelled on librdkafka's partition fetch states
 * (rd_kafka_fetch_states[] and rd_kafka_toppar_set_fetch_state()).
 *
 * Pure: no Kafka, Redis or network. The worker embeds an ac_job_t at the
 * start of its own job type and keeps the payload (record, message,
 * rendering) there; this module keeps the state, the lease flag, the
 * partition generation that tells a revoked job, and the wait time.
 *
 * Ownership: the machine links the jobs added to it but never allocates or
 * frees them; the owner frees a job after ac_jobs_remove(). */
#ifndef AC_JOBS_H
#define AC_JOBS_H

#include <stddef.h>
#include <stdint.h>

/* In the order a record usually goes through them (docs/delivery.md). */
typedef enum ac_job_state {
    AC_JOB_NEW = 0,  /* just consumed: quiet hours to look at */
    AC_JOB_CLAIM,    /* to claim in Redis, first or again after a wait */
    AC_JOB_CHECK,    /* claim won: facts to check again if no longer fresh */
    AC_JOB_CHANNEL,  /* the customer's preferred channel to look up */
    AC_JOB_CONSENT,  /* marketing: opt-outs and the frequency cap to check */
    AC_JOB_SUGGEST,  /* marketing: a product to suggest to look up */
    AC_JOB_SEND,     /* to render, route and post */
    AC_JOB_SENDING,  /* request in flight */
    AC_JOB_WAIT,     /* waiting until due_ms, then claimed again */
    AC_JOB_DEFER,    /* to put back into the durable schedule */
    AC_JOB_MARK,     /* delivered, or not to be sent: to record as sent */
    AC_JOB_DLQ,      /* to produce to the dead-letter topic */
    AC_JOB_DLQ_WAIT, /* dead letter produced, its delivery report awaited */
    AC_JOB_RELEASE,  /* to give its lease back */
    AC_JOB_DONE,     /* finished: its offset may be stored */
    AC_JOB__COUNT
} ac_job_state_t;

/* The machine's part of a job. A value type embedded first in the owner's
 * job; every field is read-only outside jobs.c. */
typedef struct ac_job {
    ac_job_state_t state;
    int leased;                 /* the claim was won: the lease is ours to mark or release */
    int abandoned;              /* left at shutdown: its offset must not be stored */
    int32_t partition;          /* of its record */
    unsigned gen;               /* the partition's generation when it was consumed */
    int64_t due_ms;             /* AC_JOB_WAIT: monotonic time it is claimed again */
    struct ac_job *prev, *next; /* in its state's list */
} ac_job_t;

typedef struct ac_jobs ac_jobs_t;

/* Called after every state change (from is to for a new job): where the
 * owner logs "a -> b" at debug level. */
typedef void (*ac_jobs_observer_fn)(void *opaque, const ac_job_t *job, ac_job_state_t from,
                                    ac_job_state_t to);

/* Returns NULL when out of memory. */
ac_jobs_t *ac_jobs_new(void);

/* Frees the machine, not the jobs still in it. Accepts NULL. */
void ac_jobs_destroy(ac_jobs_t *jobs);

void ac_jobs_set_observer(ac_jobs_t *jobs, ac_jobs_observer_fn fn, void *opaque);

/* The state's name, e.g. "claim"; "?" for a value out of range. */
const char *ac_job_state_name(ac_job_state_t state);

/* Whether the machine lets a job go from one state to the other. */
int ac_job_transition_allowed(ac_job_state_t from, ac_job_state_t to);

/* Adds a zeroed-or-not job of a record of partition in AC_JOB_NEW, with
 * the partition's current generation. Returns 0, or -1 when out of memory
 * (the job is then not in the machine). */
int ac_jobs_add(ac_jobs_t *jobs, ac_job_t *job, int32_t partition);

/* The transition function: moves job to state `to`, to the tail of that
 * state's list, doing what the state needs on entry (a won claim makes the
 * job leased). Returns 0, or -1 for a transition the machine does not have
 * (the job then stays where it is). Setting the state a job is in is a
 * no-op that succeeds. */
int ac_jobs_set(ac_jobs_t *jobs, ac_job_t *job, ac_job_state_t to);

/* AC_JOB_WAIT until due_ms (monotonic). Returns as ac_jobs_set(). */
int ac_jobs_wait(ac_jobs_t *jobs, ac_job_t *job, int64_t due_ms);

/* Finishes a job without a send: AC_JOB_RELEASE when it holds a lease,
 * else AC_JOB_DONE. Returns as ac_jobs_set(). */
int ac_jobs_finish(ac_jobs_t *jobs, ac_job_t *job);

/* Moves the waiting jobs due by now_ms back to AC_JOB_CLAIM. Returns how
 * many. */
size_t ac_jobs_wake(ac_jobs_t *jobs, int64_t now_ms);

/* The earliest due time of a waiting job, or INT64_MAX when none waits. */
int64_t ac_jobs_next_due(const ac_jobs_t *jobs);

/* A partition was revoked: its generation moves on, and its jobs not yet
 * started (new, to claim, waiting, to defer) finish, left to the new
 * owner. Returns 0, or -1 when out of memory. */
int ac_jobs_revoke(ac_jobs_t *jobs, int32_t partition);

/* Shutdown: every job not yet started finishes, abandoned, so that its
 * offset is not stored. */
void ac_jobs_drain(ac_jobs_t *jobs);

/* True when the job's partition was revoked since it was consumed, or it
 * was abandoned: its outcome is not ours to commit. */
int ac_jobs_stale(const ac_jobs_t *jobs, const ac_job_t *job);

/* Takes a finished job out of the machine. Returns 0, or -1 when the job
 * is not AC_JOB_DONE. */
int ac_jobs_remove(ac_jobs_t *jobs, ac_job_t *job);

/* Takes a job out whatever its state: only for freeing every job when
 * the worker ends. */
void ac_jobs_forget(ac_jobs_t *jobs, ac_job_t *job);

/* The first job in state (the one there longest), or NULL; the next one
 * is job->next. Moving a job to another state while walking a list is
 * safe when the walker has saved job->next first. */
ac_job_t *ac_jobs_first(const ac_jobs_t *jobs, ac_job_state_t state);

size_t ac_jobs_count(const ac_jobs_t *jobs, ac_job_state_t state);

/* Every job in the machine. */
size_t ac_jobs_total(const ac_jobs_t *jobs);

#endif
