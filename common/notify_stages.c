/* The stages a notification goes through before it is sent, each one
 * state of jobs.h with its own list, and each a single batched Redis call
 * over that list whose reply moves every job on: quiet hours (no Redis),
 * the claim, the check of facts for messages no longer fresh, the
 * customer's preferred channel, their consent and frequency cap, and a
 * product suggestion. A loop turn runs them in this order, so a message
 * can go from claimed to sent in one turn, in one round trip per stage. */
#include <stdlib.h>
#include <string.h>

#include "dedup.h"
#include "history.h"
#include "holdout.h"
#include "journey.h"
#include "journey_redis.h"
#include "log.h"
#include "notify_int.h"
#include "timeutil.h"
#include "watermark.h"

int notify_redis_allowed(const notify_t *n)
{
    return ac_time_mono_ms() >= n->redis_retry_at;
}

/* After a failed call, Redis is left alone for a growing while, so that
 * an outage costs neither a busy loop nor a flood of reconnects. */
void notify_redis_result(notify_t *n, int ok, const char *err)
{
    ac_worker_redis_status(n->w, ok, err);
    if (ok) {
        n->redis_failures = 0;
        return;
    }
    n->redis_failures++;
    int backoff = n->redis_failures < 6 ? 100 << n->redis_failures : 3000;
    n->redis_retry_at = ac_time_mono_ms() + backoff;
}

/* Marketing messages about to go out in the customer's night wait until
 * the morning: the job is put back into the durable schedule (where the
 * journey is checked again when it fires) instead of being held here.
 * Everything else goes on to be claimed. */
void notify_quiet_hours(notify_t *n)
{
    int64_t now = ac_time_now_ms();
    for (ac_job_t *b = ac_jobs_first(n->jobs, AC_JOB_NEW), *next; b; b = next) {
        job_t *j = job_of(b);
        next = b->next;
        int64_t until = 0;
        if (ac_prefs_marketing(j->m->kind)) {
            const ac_event_t *ev = j->m->event;
            int offset = 0;
            if (ac_prefs_utc_offset(ev->customer.timezone, now, &offset) < 0 &&
                ac_prefs_utc_offset(ev->store.timezone, now, &offset) < 0)
                offset = 0; /* no known zone: UTC */
            until = ac_prefs_quiet_until(&n->quiet, now, offset);
        }
        if (until <= now) {
            ac_jobs_set(n->jobs, b, AC_JOB_CLAIM);
            continue;
        }
        j->defer_until = until;
        j->defer_reason = "quiet_hours";
        ac_jobs_set(n->jobs, b, AC_JOB_DEFER);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The ids this process is sending or recording right now, sorted: a copy
 * of one of them waits, even if a Redis outage let the lease lapse
 * meanwhile. Returns NULL when out of memory, with *n_busy 0 when none is
 * busy. */
static const char **busy_ids(notify_t *n, size_t *n_busy)
{
    static const ac_job_state_t busy_states[] = {AC_JOB_SENDING, AC_JOB_MARK};
    size_t cap = ac_jobs_count(n->jobs, AC_JOB_SENDING) + ac_jobs_count(n->jobs, AC_JOB_MARK);
    const char **busy = malloc((cap ? cap : 1) * sizeof(*busy));
    *n_busy = 0;
    for (size_t s = 0; busy && s < 2; s++)
        for (ac_job_t *b = ac_jobs_first(n->jobs, busy_states[s]); b; b = b->next)
            busy[(*n_busy)++] = job_of(b)->m->id;
    if (busy)
        qsort(busy, *n_busy, sizeof(*busy), cmp_str);
    return busy;
}

/* The claim's reply for one job: ours (on to the checks), already sent
 * (dropped), or another process's for now (wait). */
static void claimed(notify_t *n, job_t *j, ac_claim_t res)
{
    switch (res) {
    case AC_CLAIM_SENT:
        notify_count_duplicate(n, j->m->kind);
        notify_log(AC_LOG_DEBUG, n, j, "already sent: %s", "dropped");
        ac_jobs_set(n->jobs, &j->base, AC_JOB_DONE);
        break;
    case AC_CLAIM_BUSY:
        notify_wait(n, j, NOTIFY_BUSY_RETRY_MS);
        break;
    case AC_CLAIM_OK:
        ac_jobs_set(n->jobs, &j->base, AC_JOB_CHECK);
        break;
    }
}

/* Claims as many waiting jobs as there is room to send, one round trip. */
static void stage_claim(notify_t *n)
{
    const char *ids[NOTIFY_BATCH], *tokens[NOTIFY_BATCH];
    job_t *batch[NOTIFY_BATCH];
    ac_claim_t res[NOTIFY_BATCH];
    size_t k = 0, n_busy = 0;
    char err[256];
    int room = n->max_in_flight - ac_delivery_in_flight(n->delivery);
    if (!ac_jobs_count(n->jobs, AC_JOB_CLAIM) || !notify_redis_allowed(n) || room <= 0)
        return;
    const char **busy = busy_ids(n, &n_busy);
    if (!busy)
        return;
    for (ac_job_t *b = ac_jobs_first(n->jobs, AC_JOB_CLAIM), *next;
         b && k < NOTIFY_BATCH && (int)k < room; b = next) {
        job_t *j = job_of(b);
        const char *id = j->m->id;
        next = b->next;
        if (n_busy && bsearch(&id, busy, n_busy, sizeof(*busy), cmp_str)) {
            notify_wait(n, j, NOTIFY_BUSY_RETRY_MS);
            continue;
        }
        ids[k] = j->m->id;
        tokens[k] = j->token;
        batch[k++] = j;
    }
    free(busy);
    if (k == 0)
        return;
    int rc = ac_dedup_claim(n->w->redis, ids, tokens, k, n->claim_ttl, res, err, sizeof(err));
    notify_redis_result(n, rc == 0, err);
    for (size_t i = 0; rc == 0 && i < k; i++)
        claimed(n, batch[i], res[i]);
}

/* True when a message is no longer fresh: decided more than
 * RECHECK_AFTER ago (a backlog, a wait for the watermarks) or being
 * retried (an outage), and of a kind facts can rule out. */
static int needs_check(const notify_t *n, const job_t *j, int64_t now)
{
    return ac_watermark_gated(j->m->kind) &&
           (j->attempts > 0 || now - j->decided_ms > n->recheck_after);
}

/* The event time a late message is judged at: the time it was judged at
 * when decided (its due time, or its event's), moved on by as long as it
 * has waited since. For a live stream that is now; for a replay of last
 * month's events it stays last month, so facts that came after it in
 * the replay, but not while it waited, do not stop it (docs/journey.md,
 * order of events). */
static int64_t check_at(const job_t *j, int64_t now)
{
    int64_t from = j->m->due_ms > j->m->created_ms ? j->m->due_ms : j->m->created_ms;
    int64_t at = from + (now - j->decided_ms);
    return at < now ? at : now;
}

/* The journey's answer for one job (NULL: Redis could not tell; it
 * waits, still leased). A message the facts now rule out is recorded as
 * sent, so that no replay sends it, and counted as suppressed with the
 * fact as the reason: a shipping update whose parcel arrived while it
 * waited out a provider outage is not sent. */
static void checked(notify_t *n, job_t *j, const ac_journey_t *js, int64_t now)
{
    const char *reason = NULL;
    ac_fact_t why;
    if (!js) {
        notify_wait(n, j, NOTIFY_BUSY_RETRY_MS);
        return;
    }
    if (ac_journey_blocked_parcel(js, j->m->kind, check_at(j, now), j->m->event->shipment.id, &why))
        reason = ac_fact_name(why);
    else if (ac_journey_requires_csv(j->m->kind)[0] && !js->at[AC_FACT_CONSENT])
        reason = "no_consent";
    if (!reason) {
        ac_jobs_set(n->jobs, &j->base, AC_JOB_CHANNEL);
        return;
    }
    notify_count_suppressed(n, j->m->kind, reason);
    notify_log(AC_LOG_INFO, n, j, "not sent, checked again before sending: %s", reason);
    notify_mark(n, j, reason);
}

/* Checks the claimed messages that are no longer fresh against their
 * orders' journeys, one round trip, with the blockers a scheduled message
 * has. Fresh ones, the usual case, go straight on. */
static void stage_check(notify_t *n)
{
    job_t *batch[NOTIFY_BATCH];
    const char *keys[NOTIFY_BATCH];
    char err[256];
    size_t k = 0;
    int64_t now = ac_time_now_ms();
    for (ac_job_t *b = ac_jobs_first(n->jobs, AC_JOB_CHECK), *next; b; b = next) {
        next = b->next;
        if (!needs_check(n, job_of(b), now))
            ac_jobs_set(n->jobs, b, AC_JOB_CHANNEL);
        else if (k < NOTIFY_BATCH)
            batch[k++] = job_of(b);
    }
    if (k == 0)
        return;
    ac_journey_t *js = malloc(k * sizeof(*js));
    int rc = -1;
    if (js) {
        for (size_t i = 0; i < k; i++) {
            const ac_event_t *ev = batch[i]->m->event;
            ac_journey_key(ev->store.id, ev->order.id, n->keys[i], NOTIFY_KEY_LEN);
            keys[i] = n->keys[i];
        }
        rc = ac_journey_read(n->w->redis, keys, k, js, err, sizeof(err));
        notify_redis_result(n, rc == 0, err);
    }
    for (size_t i = 0; i < k; i++)
        checked(n, batch[i], rc == 0 ? &js[i] : NULL, now);
    free(js);
}

/* Looks up the preferred channel of the customers of the jobs just won,
 * one round trip (without an answer, the default channel), then starts
 * the transactional ones; marketing ones go to their consent first. */
static void stage_channel(notify_t *n)
{
    const char *keys[NOTIFY_BATCH];
    job_t *batch[NOTIFY_BATCH];
    int prefer[NOTIFY_BATCH];
    char err[256];
    size_t k = 0, visited = 0;
    for (ac_job_t *b = ac_jobs_first(n->jobs, AC_JOB_CHANNEL); b && k < NOTIFY_BATCH;
         b = b->next, visited++) {
        job_t *j = job_of(b);
        if (j->prefer_known)
            continue;
        const ac_event_t *ev = j->m->event;
        ac_prefs_key(ev->store.id, ev->customer.id, n->keys[k], NOTIFY_KEY_LEN);
        keys[k] = n->keys[k];
        batch[k++] = j;
    }
    if (k && ac_prefs_channels(n->w->redis, keys, k, prefer, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < k; i++) {
            batch[i]->prefer = prefer[i];
            batch[i]->prefer_known = 1;
        }
    } else if (k) {
        ac_log(AC_LOG_WARN, "preferred channels not read, using the defaults: %s", err);
    }
    /* Only the jobs walked above move on: one beyond a full batch waits
     * for the next turn's lookup rather than going to the default channel. */
    for (ac_job_t *b = ac_jobs_first(n->jobs, AC_JOB_CHANNEL), *next; b && visited; b = next) {
        next = b->next;
        visited--;
        ac_jobs_set(n->jobs, b,
                    ac_prefs_marketing(job_of(b)->m->kind) ? AC_JOB_CONSENT : AC_JOB_SEND);
    }
}

/* The consent check's verdict for one job. The control group is drawn
 * from the customers who would get the message, after their preferences,
 * so that it compares like with like (docs/analytics.md). A message not
 * sent is recorded as sent, so that no replay sends it later. */
static void consented(notify_t *n, job_t *j, ac_prefs_verdict_t verdict)
{
    const ac_event_t *ev = j->m->event;
    const char *reason = verdict == AC_PREFS_OPTED_OUT ? "opted_out" : "frequency_cap";
    if (verdict == AC_PREFS_SEND) {
        if (!ac_holdout_held(ac_stores_get(n->stores, ev->store.id), j->m->kind, ev->store.id,
                             ev->customer.id)) {
            ac_jobs_set(n->jobs, &j->base, AC_JOB_SUGGEST);
            return;
        }
        reason = "holdout";
    }
    notify_count_suppressed(n, j->m->kind, reason);
    notify_log(AC_LOG_INFO, n, j, "not sent: %s", reason);
    notify_mark(n, j, reason);
}

/* Of the marketing messages just claimed, lets through those the customer
 * has not opted out of and that stay within the cap, one round trip; on a
 * failure they wait, still leased, and are claimed again by us shortly. */
static void stage_consent(notify_t *n)
{
    ac_prefs_req_t reqs[NOTIFY_BATCH];
    job_t *batch[NOTIFY_BATCH];
    char(*keys)[NOTIFY_KEY_LEN] = n->keys, err[256];
    size_t k = 0;
    for (ac_job_t *b = ac_jobs_first(n->jobs, AC_JOB_CONSENT); b && k < NOTIFY_BATCH; b = b->next) {
        job_t *j = job_of(b);
        const ac_event_t *ev = j->m->event;
        ac_channel_t ch = AC_CHANNEL_EMAIL;
        const char *to;
        ac_channel_choose(ev, j->prefer_known ? j->prefer : -1, &ch, &to);
        ac_prefs_key(ev->store.id, ev->customer.id, keys[2 * k], NOTIFY_KEY_LEN);
        ac_prefs_sends_key(ev->store.id, ev->customer.id, keys[2 * k + 1], NOTIFY_KEY_LEN);
        reqs[k] = (ac_prefs_req_t){j->m->id,    j->m->kind,      ac_channel_name(ch),
                                   keys[2 * k], keys[2 * k + 1], AC_PREFS_SEND};
        batch[k++] = j;
    }
    if (k == 0)
        return;
    if (ac_prefs_check(n->w->redis, reqs, k, ac_time_now_ms(), n->cap, n->cap_window, err,
                       sizeof(err)) < 0) {
        notify_redis_result(n, 0, err);
        for (size_t i = 0; i < k; i++)
            notify_wait(n, batch[i], NOTIFY_BUSY_RETRY_MS);
        return;
    }
    for (size_t i = 0; i < k; i++)
        consented(n, batch[i], reqs[i].verdict);
}

/* A product suggestion found for one job. Of the customers a product
 * would be suggested to, the store's cross-sell control group gets the
 * message without it. */
static void suggested(notify_t *n, job_t *j, const char *suggestion)
{
    const ac_event_t *ev = j->m->event;
    if (!suggestion[0])
        return;
    if (ac_holdout_cross_sell_held(ac_stores_get(n->stores, ev->store.id), ev->store.id,
                                   ev->customer.id)) {
        j->cross_sell = "holdout";
        return;
    }
    j->cross_sell = "sent";
    snprintf(j->suggestion, sizeof(j->suggestion), "%s", suggestion);
}

/* Finds a product to suggest in each marketing message about to go out
 * for the first time, one round trip. Best effort: without one, the
 * message goes out without the suggestion. */
static void stage_suggest(notify_t *n)
{
    job_t *batch[NOTIFY_BATCH];
    size_t k = 0;
    char err[256];
    size_t visited = 0;
    ac_history_req_t *h = n->hist;
    for (ac_job_t *b = ac_jobs_first(n->jobs, AC_JOB_SUGGEST); b && k < NOTIFY_BATCH;
         b = b->next, visited++) {
        if (job_of(b)->is_rendered)
            continue;
        memset(&h[k], 0, sizeof(h[k]));
        h[k].ev = job_of(b)->m->event;
        batch[k++] = job_of(b);
    }
    if (k && ac_history_suggest(n->w->redis, h, k, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < k; i++)
            suggested(n, batch[i], h[i].suggestion);
    } else if (k) {
        ac_log(AC_LOG_WARN, "no product suggestions: %s", err);
    }
    /* As for channels: a job beyond a full batch is looked up next turn. */
    for (ac_job_t *b = ac_jobs_first(n->jobs, AC_JOB_SUGGEST), *next; b && visited; b = next) {
        next = b->next;
        visited--;
        ac_jobs_set(n->jobs, b, AC_JOB_SEND);
    }
}

/* The stages from claim to send, in order, each over its own list. */
void notify_claim(notify_t *n)
{
    stage_claim(n);
    stage_check(n);
    stage_channel(n);
    stage_consent(n);
    stage_suggest(n);
}
