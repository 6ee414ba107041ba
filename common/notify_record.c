/* The Redis stages after a notification's send, or instead of it, each a
 * state of jobs.h drained in one round trip: deferrals written back to the
 * durable schedule, outcomes recorded as facts for the retention report
 * and as sent marks, and leases given back. Only after these does a job's
 * offset become committable. */
#include <stdio.h>
#include <string.h>

#include "dedup.h"
#include "facts.h"
#include "holdout.h"
#include "journey.h"
#include "log.h"
#include "notify_int.h"
#include "schedule.h"
#include "watermark.h"

/* Writes the deferred jobs to the schedule, one round trip, then lets
 * their records be committed: quiet hours and long retries wait there,
 * holding neither their partition's commit nor the worker's memory. */
void notify_defer(notify_t *n)
{
    ac_schedule_op_t ops[NOTIFY_BATCH];
    job_t *batch[NOTIFY_BATCH];
    char err[256];
    size_t k = 0;
    if (!ac_jobs_count(n->jobs, AC_JOB_DEFER) || !notify_redis_allowed(n))
        return;
    for (ac_job_t *b = ac_jobs_first(n->jobs, AC_JOB_DEFER); b && k < NOTIFY_BATCH; b = b->next) {
        job_t *j = job_of(b);
        const ac_event_t *ev = j->m->event;
        ac_journey_key(ev->store.id, ev->order.id, n->keys[k], NOTIFY_KEY_LEN);
        ops[k] = (ac_schedule_op_t){
            .type = AC_SCHEDULE_DEFER,
            .id = j->m->id,
            .kind = j->m->kind,
            .due_ms = j->defer_until,
            .journey_key = n->keys[k],
            .record = j->defer_record ? j->defer_record : j->msg->payload,
            .record_len = j->defer_record ? j->defer_record_len : j->msg->len,
            .blockers = ac_journey_order_blockers_csv(j->m->kind),
            .release_ms = ac_watermark_release(j->m->kind, j->defer_until, n->hold_ms)};
        batch[k++] = j;
    }
    int rc = ac_schedule_apply(n->sched, ops, k, err, sizeof(err));
    notify_redis_result(n, rc == 0, err);
    for (size_t i = 0; rc == 0 && i < k; i++) {
        char until[AC_TIME_BUFSZ];
        ac_time_format(batch[i]->defer_until, until, sizeof(until));
        notify_log(AC_LOG_INFO, n, batch[i],
                   batch[i]->defer_record ? "next attempt: deferred until %s"
                                          : "quiet hours: deferred until %s",
                   until);
        notify_count_deferred(n, batch[i]->m->kind, batch[i]->defer_reason);
        ac_jobs_finish(n->jobs, &batch[i]->base);
    }
}

/* One message's outcome as a fact (facts.h): delivered on its channel
 * ("webhook" for a store alert to the store's URL), or not sent and why.
 * A message counts at its event time (when it was due), like the event
 * workers' decisions: a replay of last month's events reports last
 * month's messages in last month, and a live one now. */
static ac_facts_msg_t outcome_fact(const job_t *j)
{
    const ac_event_t *ev = j->m->event;
    int64_t at = j->m->due_ms > j->m->created_ms ? j->m->due_ms : j->m->created_ms;
    const char *channel = j->mark_reason ? NULL
                          : j->alert_url ? "webhook"
                                         : ac_channel_name(j->channel);
    return (ac_facts_msg_t){ev->store.id,    j->m->id, ac_kind_name(j->m->kind), ev->order.id,
                            ev->customer.id, channel,  j->mark_reason,           at};
}

/* Records the outcome of the messages about to be marked sent, before the
 * mark: a crash in between sends nothing again that was delivered (the
 * claim protocol) and writes the same facts again, which changes nothing.
 * A delivered message that carried a suggestion, or would have but for
 * the cross-sell control group, adds the suggestion's own outcome. */
static int record_facts(notify_t *n, job_t **batch, size_t k, char *err, size_t errsz)
{
    static ac_facts_msg_t facts[2 * NOTIFY_BATCH];
    static char xs_ids[NOTIFY_BATCH][AC_MESSAGE_ID_LEN + 16];
    size_t m = k;
    if (!n->facts_ttl)
        return 0;
    for (size_t i = 0; i < k; i++) {
        const job_t *j = batch[i];
        facts[i] = outcome_fact(j);
        if (j->mark_reason || !j->cross_sell)
            continue;
        int held = strcmp(j->cross_sell, "holdout") == 0;
        snprintf(xs_ids[i], sizeof(xs_ids[i]), "%s:%s", j->m->id, AC_HOLDOUT_CROSS_SELL);
        facts[m] = facts[i];
        facts[m].message_id = xs_ids[i];
        facts[m].kind = AC_HOLDOUT_CROSS_SELL;
        facts[m].channel = held ? NULL : facts[i].channel;
        facts[m++].reason = held ? "holdout" : NULL;
    }
    return ac_facts_record_msgs(n->w->redis, facts, m, n->facts_ttl, err, errsz);
}

/* Drains one of the recording states, one round trip: AC_JOB_MARK (facts,
 * then the sent marks) or AC_JOB_RELEASE (the leases given back). Returns
 * 0, or -1 after a Redis failure. */
static int record_state(notify_t *n, ac_job_state_t state)
{
    const char *ids[NOTIFY_BATCH], *tokens[NOTIFY_BATCH];
    job_t *batch[NOTIFY_BATCH];
    char err[256];
    size_t k = 0;
    for (ac_job_t *b = ac_jobs_first(n->jobs, state); b && k < NOTIFY_BATCH; b = b->next) {
        ids[k] = job_of(b)->m->id;
        tokens[k] = job_of(b)->token;
        batch[k++] = job_of(b);
    }
    if (k == 0)
        return 0;
    int rc = 0;
    if (state == AC_JOB_MARK) {
        rc = record_facts(n, batch, k, err, sizeof(err));
        if (rc == 0)
            rc = ac_dedup_sent(n->w->redis, ids, tokens, k, n->sent_ttl, err, sizeof(err));
    } else {
        rc = ac_dedup_release(n->w->redis, ids, tokens, k, err, sizeof(err));
    }
    notify_redis_result(n, rc == 0, err);
    for (size_t i = 0; rc == 0 && i < k; i++)
        ac_jobs_set(n->jobs, &batch[i]->base, AC_JOB_DONE);
    return rc;
}

/* Records delivered messages as sent, and releases the leases of messages
 * dead-lettered or given up, one round trip each. */
void notify_record(notify_t *n)
{
    if (notify_redis_allowed(n) && record_state(n, AC_JOB_MARK) == 0 && notify_redis_allowed(n))
        record_state(n, AC_JOB_RELEASE);
}
