/* Sending: where a message goes (the customer's channel and address, or
 * the store's support address for an alert), its rendering (once, with
 * the store's links, the rating links and a suggestion), the provider an
 * attempt goes through (the channel's breaker), the request itself, and
 * what the provider's answer does to the job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "links.h"
#include "log.h"
#include "notify_int.h"
#include "render.h"

uint32_t notify_rand(notify_t *n)
{
    /* xorshift32: jitter only, no security need. */
    uint32_t x = n->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return n->rng = x ? x : 0x9e3779b9u;
}

/* The review request's five rating links, one per star, into links[]
 * (and urls[] pointing at them). Returns 0, or -1 when there are none: no
 * RATING_SECRET or RATING_BASE_URL, or an id too long for a token. */
static int rating_links(const notify_t *n, const job_t *j, char links[5][AC_RTOKEN_MAX_LEN + 256],
                        const char *urls[5])
{
    const ac_event_t *ev = j->m->event;
    ac_rtoken_t t;
    char token[AC_RTOKEN_MAX_LEN], why[128];
    if (!n->rating_keys.n || !n->rating_base || !*n->rating_base ||
        snprintf(t.store, sizeof(t.store), "%s", ev->store.id) >= (int)sizeof(t.store) ||
        snprintf(t.order, sizeof(t.order), "%s", ev->order.id) >= (int)sizeof(t.order) ||
        snprintf(t.customer, sizeof(t.customer), "%s", ev->customer.id) >= (int)sizeof(t.customer))
        return -1;
    snprintf(t.message, sizeof(t.message), "%s", j->m->id);
    t.expires_s = (ac_time_now_ms() + n->rating_ttl) / 1000;
    for (int r = 1; r <= 5; r++) {
        t.rating = r;
        if (ac_rtoken_sign(&n->rating_keys, &t, token, sizeof(token), why, sizeof(why)) < 0)
            return -1;
        snprintf(links[r - 1], sizeof(links[r - 1]), "%s/r/%s?lang=%s", n->rating_base, token,
                 ac_render_language(ev));
        urls[r - 1] = links[r - 1];
    }
    return 0;
}

/* Where a message goes: the customer's channel and address, or, for a
 * store alert, the store's support address or webhook. Returns 0, or -1
 * after dead-lettering a message with nowhere to go. */
static int address(notify_t *n, job_t *j)
{
    const ac_event_t *ev = j->m->event;
    if (j->m->kind != AC_KIND_STORE_ALERT) {
        if (ac_channel_choose(ev, j->prefer_known ? j->prefer : -1, &j->channel, &j->to) == 0)
            return 0;
        notify_to_dlq(n, j, "no_address",
                      "the customer has neither an email address nor a phone number");
        return -1;
    }
    const char *support = ac_stores_get(n->stores, ev->store.id)->support;
    if (!support) {
        notify_to_dlq(n, j, "no_address", "the store has no support setting for its alerts");
        return -1;
    }
    j->channel = AC_CHANNEL_EMAIL;
    j->to = support;
    j->alert_url = strncmp(support, "http", 4) == 0 ? support : NULL;
    return 0;
}

/* Renders the message once; every attempt, through whichever provider,
 * sends the same words. The store's links and the customer's code go in
 * the messages that carry them; a link that does not render is left out.
 * Returns 0, or -1 after dead-lettering the job. */
static int prepare(notify_t *n, job_t *j)
{
    char err[256], review[1024] = "", referral[1024] = "", code[AC_LINKS_CODE_LEN + 1] = "";
    char links[5][AC_RTOKEN_MAX_LEN + 256];
    const char *urls[5];
    if (j->is_rendered)
        return 0;
    if (address(n, j) < 0)
        return -1;
    const ac_event_t *ev = j->m->event;
    const ac_store_settings_t *s = ac_stores_get(n->stores, ev->store.id);
    ac_kind_t kind = j->m->kind;
    if (kind == AC_KIND_REFERRAL_INVITE && s->referral_codes)
        ac_links_referral_code(ev->store.id, ev->customer.id, code);
    if (kind == AC_KIND_REVIEW_REQUEST && s->review_url &&
        ac_links_render(s->review_url, ev, NULL, review, sizeof(review)) < 0)
        review[0] = '\0';
    if (kind == AC_KIND_REFERRAL_INVITE && s->referral_url &&
        ac_links_render(s->referral_url, ev, code[0] ? code : NULL, referral, sizeof(referral)) < 0)
        referral[0] = '\0';
    int rated = kind == AC_KIND_REVIEW_REQUEST && j->channel == AC_CHANNEL_EMAIL &&
                rating_links(n, j, links, urls) == 0;
    const ac_render_extras_t x = {review[0] ? review : NULL,
                                  referral[0] ? referral : NULL,
                                  code[0] ? code : NULL,
                                  j->suggestion[0] ? j->suggestion : NULL,
                                  n->templates,
                                  rated ? urls : NULL,
                                  s->support ? "yes" : NULL};
    if (ac_render_message_with(j->m, j->channel, &x, &j->rendered, err, sizeof(err)) < 0) {
        notify_to_dlq(n, j, "render_failed", err);
        return -1;
    }
    j->is_rendered = 1;
    return 0;
}

/* Puts a job off as the retry policy decided: in memory for a short wait
 * (it keeps its lease, renewed by the next claim), in the durable
 * schedule for a long one, carrying its attempts, or to the dead-letter
 * topic once its lifetime is spent. */
static void retry_later(notify_t *n, job_t *j, ac_retry_decision_t d, const char *why)
{
    int64_t now = ac_time_now_ms();
    switch (d.action) {
    case AC_RETRY_GIVE_UP:
        notify_log(AC_LOG_WARN, n, j, "giving up: %s", why);
        notify_to_dlq(n, j, "retries_exhausted", why);
        return;
    case AC_RETRY_DEFER:
        free(j->defer_record);
        j->defer_record = ac_message_with_attempts(j->msg->payload, j->msg->len, j->attempts,
                                                   j->first_attempt_ms, &j->defer_record_len);
        if (j->defer_record) {
            j->defer_until = d.at_ms;
            j->defer_reason = "retry";
            ac_jobs_set(n->jobs, &j->base, AC_JOB_DEFER);
            return;
        }
        d.at_ms = now + NOTIFY_BUSY_RETRY_MS; /* out of memory: wait here instead */
        /* fall through */
    case AC_RETRY_WAIT:
        notify_wait(n, j, d.at_ms > now ? d.at_ms - now : 0);
        return;
    }
}

/* The channel's circuit is open (or paused) and there is no fallback:
 * the job waits for the next probe of the provider, or longer the longer
 * it has waited, without spending an attempt. */
static void hold(notify_t *n, job_t *j)
{
    int64_t now = ac_time_now_ms(), mono = ac_time_mono_ms();
    int64_t next = ac_breaker_next_ms(&n->breaker[j->channel], mono);
    if (!j->first_attempt_ms)
        j->first_attempt_ms = now;
    ac_retry_decision_t d = ac_retry_hold(&n->retry, j->m->kind, j->first_attempt_ms, now,
                                          now + (next - mono), notify_rand(n));
    retry_later(n, j, d, "the provider kept failing for as long as the message was useful");
}

/* The provider of this attempt: the store's own webhook for an alert to
 * a URL, else the channel's primary, or its fallback while the primary's
 * circuit is open or the provider asked for a pause; NULL when the
 * channel has no fallback then. */
static const ac_provider_t *route(notify_t *n, job_t *j)
{
    if (j->alert_url) {
        j->route = AC_ROUTE_PRIMARY;
        return n->alert;
    }
    j->route = ac_breaker_route(&n->breaker[j->channel], ac_time_mono_ms());
    return j->route == AC_ROUTE_FALLBACK ? n->fallback[j->channel] : n->primary[j->channel];
}

/* Builds the attempt's request, fresh each time (the provider may differ
 * from the last one, and a webhook's timestamp must be new), and posts
 * it. Returns 0, or -1 when out of memory or the engine is full. */
static int post(notify_t *n, job_t *j, const ac_provider_t *p)
{
    char err[256], *url = NULL;
    ac_provider_request_t req;
    if (ac_provider_request(p, j->m, j->channel, j->to, &j->rendered, ac_time_now_ms(), &req, err,
                            sizeof(err)) < 0 ||
        (j->alert_url && !(url = strdup(j->alert_url)))) {
        ac_provider_request_free(&req);
        return -1;
    }
    if (url) { /* pointed at the store's own URL */
        free(req.url);
        req.url = url;
    }
    free(j->body); /* the previous attempt's request has completed */
    j->body = req.body;
    j->body_len = req.body_len;
    j->provider = ac_provider_kind(p);
    req.body = NULL;
    int rc = ac_delivery_post(n->delivery, req.url, req.headers, j->body, j->body_len, j);
    req.headers = NULL; /* the engine took them over, whatever it answered */
    ac_provider_request_free(&req);
    return rc;
}

static void send_job(notify_t *n, job_t *j)
{
    if (prepare(n, j) < 0)
        return;
    const ac_provider_t *p = route(n, j);
    if (!p) {
        hold(n, j);
        return;
    }
    /* A provider coming back takes requests at a pace that ramps up. */
    if (j->route == AC_ROUTE_PRIMARY &&
        n->sending[j->channel] >=
            ac_breaker_limit(&n->breaker[j->channel], n->max_in_flight, ac_time_mono_ms())) {
        notify_wait(n, j, 20);
        return;
    }
    if (post(n, j, p) < 0) {
        notify_wait(n, j, 10); /* out of memory or the engine full: shortly again */
        return;
    }
    j->attempts++;
    if (!j->first_attempt_ms)
        j->first_attempt_ms = ac_time_now_ms();
    n->sending[j->channel]++;
    ac_jobs_set(n->jobs, &j->base, AC_JOB_SENDING);
}

/* Starts every job ready to send. */
void notify_send(notify_t *n)
{
    for (ac_job_t *b = ac_jobs_first(n->jobs, AC_JOB_SEND), *next; b; b = next) {
        next = b->next;
        send_job(n, job_of(b));
    }
}

/* Tells the channel's breaker how its provider answered, whoever owns the
 * job's partition now: the provider's health is the same either way. */
static void track_provider(notify_t *n, const job_t *j, ac_outcome_t outcome)
{
    ac_channel_t ch = j->channel;
    const char *primary = ac_provider_name(ac_provider_kind(n->primary[ch]));
    const char *fallback =
        n->fallback[ch] ? ac_provider_name(ac_provider_kind(n->fallback[ch])) : NULL;
    switch (ac_breaker_report(&n->breaker[ch], j->route, outcome, ac_time_mono_ms())) {
    case AC_BREAKER_OPENED:
        notify_circuit(n, ch, 1, fallback != NULL);
        if (fallback)
            ac_log(AC_LOG_WARN, "%s: %s keeps failing; sending through %s for now",
                   ac_channel_name(ch), primary, fallback);
        else
            ac_log(AC_LOG_WARN, "%s: %s keeps failing; holding messages, probing it every %lld ms",
                   ac_channel_name(ch), primary, (long long)n->breaker[ch].cooldown_ms);
        break;
    case AC_BREAKER_CLOSED:
        notify_circuit(n, ch, 0, 0);
        ac_log(AC_LOG_INFO, "%s: %s works again%s%s", ac_channel_name(ch), primary,
               fallback ? "; back from " : "", fallback ? fallback : "");
        break;
    case AC_BREAKER_SAME:
        break;
    }
}

/* What the provider's answer says of the provider itself: its breaker
 * hears of it (a store's support webhook is not the channel's provider
 * and says nothing about it), and a Retry-After keeps anything more from
 * it until then (the fallback, if any, takes over meanwhile). */
static void provider_answered(notify_t *n, const job_t *j, const ac_delivery_result_t *r,
                              ac_outcome_t outcome)
{
    notify_count_request(n, j->provider, r->status, r->curl_code);
    if (j->alert_url)
        return;
    track_provider(n, j, outcome);
    if (outcome == AC_OUTCOME_RETRY && r->retry_after_ms >= 0 && j->route != AC_ROUTE_FALLBACK)
        ac_breaker_pause(&n->breaker[j->channel],
                         ac_time_mono_ms() + (r->retry_after_ms < n->retry.max_ms
                                                  ? r->retry_after_ms
                                                  : n->retry.max_ms));
}

/* A request completed: the job is marked sent, retried, dead-lettered,
 * or, when it failed after its partition moved on, left to the new
 * owner. */
void notify_result(notify_t *n, const ac_delivery_result_t *r)
{
    job_t *j = r->opaque;
    ac_outcome_t outcome = ac_delivery_outcome(r->status, r->curl_code);
    n->sending[j->channel]--;
    provider_answered(n, j, r, outcome);
    if (outcome != AC_OUTCOME_DELIVERED) {
        notify_count_failed(n, j, "aftercare_messages_failed_total");
        if (ac_jobs_stale(n->jobs, &j->base)) {
            ac_jobs_set(n->jobs, &j->base, AC_JOB_RELEASE);
            return;
        }
    }
    switch (outcome) {
    case AC_OUTCOME_DELIVERED:
        notify_count_sent(n, j);
        if (ac_log_enabled(AC_LOG_DEBUG)) {
            char to[320];
            notify_log(AC_LOG_DEBUG, n, j, "delivered to %s", ac_log_mask(j->to, to, sizeof(to)));
        }
        notify_mark(n, j, NULL);
        break;
    case AC_OUTCOME_RETRY:
        retry_later(n, j,
                    ac_retry_next(&n->retry, j->m->kind, j->first_attempt_ms, j->attempts,
                                  ac_time_now_ms(), r->retry_after_ms, 0, notify_rand(n)),
                    r->error);
        if (j->base.state == AC_JOB_DLQ)
            break;
        notify_count_failed(n, j, "aftercare_messages_retried_total");
        notify_log(AC_LOG_INFO, n, j, "will retry: %s", r->error);
        break;
    case AC_OUTCOME_PERMANENT:
        notify_log(AC_LOG_WARN, n, j, "rejected: %s", r->error);
        notify_to_dlq(n, j, "rejected", r->error);
        break;
    }
}
