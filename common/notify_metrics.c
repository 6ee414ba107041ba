/* notify-worker's metrics, owned here: their descriptions, their series
 * created at 0, and one function per thing counted, taking typed values
 * (a kind, a channel, a provider) so that every label set is formatted in
 * one place and only from fixed sets of values, never from an address. */
#include <stdio.h>

#include "notify_int.h"

static void labels_kind_channel(char *buf, size_t sz, ac_kind_t kind, ac_channel_t ch)
{
    snprintf(buf, sz, "kind=\"%s\",channel=\"%s\"", ac_kind_name(kind), ac_channel_name(ch));
}

static void labels_kind_reason(char *buf, size_t sz, ac_kind_t kind, const char *reason)
{
    snprintf(buf, sz, "kind=\"%s\",reason=\"%s\"", ac_kind_name(kind), reason);
}

static void labels_sent(char *buf, size_t sz, ac_kind_t kind, ac_channel_t ch, ac_provider_kind_t p)
{
    snprintf(buf, sz, "kind=\"%s\",channel=\"%s\",provider=\"%s\"", ac_kind_name(kind),
             ac_channel_name(ch), ac_provider_name(p));
}

static void labels_channel(char *buf, size_t sz, ac_channel_t ch)
{
    snprintf(buf, sz, "channel=\"%s\"", ac_channel_name(ch));
}

void notify_metrics_describe(notify_t *n)
{
    ac_metrics_t *m = n->w->metrics;
    static const double buckets[] = AC_METRICS_LATENCY_BUCKETS;
    ac_metrics_describe(m, "aftercare_circuit_open", AC_METRIC_GAUGE,
                        "1 while a channel's circuit is open: its primary provider kept failing, "
                        "and messages go to the fallback or are held.");
    ac_metrics_describe(m, "aftercare_provider_failover_total", AC_METRIC_COUNTER,
                        "Times a channel switched to its fallback provider because the primary "
                        "kept failing.");
    ac_metrics_describe(m, "aftercare_provider_requests_total", AC_METRIC_COUNTER,
                        "Delivery requests by provider and result (ok, throttled, client_error, "
                        "server_error, timeout, error).");
    ac_metrics_describe(m, "aftercare_messages_failed_total", AC_METRIC_COUNTER,
                        "Delivery attempts that failed, by kind and channel (each is retried or "
                        "dead-lettered).");
    ac_metrics_describe_histogram(m, "aftercare_message_delivery_seconds",
                                  "Seconds from a message being due to its provider accepting it, "
                                  "by channel.",
                                  buckets, sizeof(buckets) / sizeof(buckets[0]));
}

/* Creates at 0 the series whose labels are known from the start (kinds,
 * channels, the configured providers and the reasons a marketing message
 * is not sent), so that rates and alerts work from the first scrape, as
 * Prometheus' instrumentation guidelines ask. */
void notify_metrics_zero(notify_t *n)
{
    static const char *held[] = {"opted_out", "frequency_cap", "holdout"};
    ac_metrics_t *m = n->w->metrics;
    char labels[200];
    for (int k = 0; k < AC_KIND__COUNT; k++) {
        for (int ch = 0; ch < AC_CHANNEL__COUNT; ch++) {
            const ac_provider_t *ps[2] = {n->primary[ch], n->fallback[ch]};
            labels_kind_channel(labels, sizeof(labels), (ac_kind_t)k, (ac_channel_t)ch);
            ac_metrics_add(m, "aftercare_messages_retried_total", labels, 0);
            ac_metrics_add(m, "aftercare_messages_failed_total", labels, 0);
            for (int p = 0; p < 2 && ps[p]; p++) {
                labels_sent(labels, sizeof(labels), (ac_kind_t)k, (ac_channel_t)ch,
                            ac_provider_kind(ps[p]));
                ac_metrics_add(m, "aftercare_messages_sent_total", labels, 0);
            }
        }
        for (size_t r = 0; ac_prefs_marketing((ac_kind_t)k) && r < 3; r++) {
            labels_kind_reason(labels, sizeof(labels), (ac_kind_t)k, held[r]);
            ac_metrics_add(m, "aftercare_messages_suppressed_total", labels, 0);
        }
    }
}

/* Counts a notification record by its kind, the type of what this worker
 * consumes ("invalid" for a record that did not decode). */
void notify_count_record(notify_t *n, const job_t *j, const char *metric)
{
    char labels[160];
    snprintf(labels, sizeof(labels), "topic=\"%s\",type=\"%s\"", n->w->topic,
             j->m ? ac_kind_name(j->m->kind) : "invalid");
    ac_metrics_add(n->w->metrics, metric, labels, 1);
}

void notify_count_suppressed(notify_t *n, ac_kind_t kind, const char *reason)
{
    char labels[128];
    labels_kind_reason(labels, sizeof(labels), kind, reason);
    ac_metrics_add(n->w->metrics, "aftercare_messages_suppressed_total", labels, 1);
}

void notify_count_deferred(notify_t *n, ac_kind_t kind, const char *reason)
{
    char labels[128];
    labels_kind_reason(labels, sizeof(labels), kind, reason);
    ac_metrics_add(n->w->metrics, "aftercare_messages_deferred_total", labels, 1);
}

void notify_count_duplicate(notify_t *n, ac_kind_t kind)
{
    char labels[96];
    snprintf(labels, sizeof(labels), "kind=\"%s\"", ac_kind_name(kind));
    ac_metrics_add(n->w->metrics, "aftercare_messages_duplicate_total", labels, 1);
}

void notify_count_request(notify_t *n, ac_provider_kind_t p, long status, int curl_code)
{
    char labels[128];
    snprintf(labels, sizeof(labels), "provider=\"%s\",result=\"%s\"", ac_provider_name(p),
             ac_delivery_result_class(status, curl_code));
    ac_metrics_add(n->w->metrics, "aftercare_provider_requests_total", labels, 1);
}

/* A delivery, and what the customer waited for it: from when the message
 * was due (decided, or scheduled for) to the provider's acceptance. */
void notify_count_sent(notify_t *n, const job_t *j)
{
    char labels[160];
    labels_sent(labels, sizeof(labels), j->m->kind, j->channel, j->provider);
    ac_metrics_add(n->w->metrics, "aftercare_messages_sent_total", labels, 1);
    int64_t from = j->m->due_ms > j->m->created_ms ? j->m->due_ms : j->m->created_ms;
    int64_t waited = ac_time_now_ms() - from;
    labels_channel(labels, sizeof(labels), j->channel);
    ac_metrics_observe(n->w->metrics, "aftercare_message_delivery_seconds", labels,
                       waited > 0 ? (double)waited / 1000.0 : 0, 1);
}

/* aftercare_messages_failed_total or aftercare_messages_retried_total. */
void notify_count_failed(notify_t *n, const job_t *j, const char *metric)
{
    char labels[128];
    labels_kind_channel(labels, sizeof(labels), j->m->kind, j->channel);
    ac_metrics_add(n->w->metrics, metric, labels, 1);
}

void notify_count_dead_letter(notify_t *n, const job_t *j)
{
    char labels[160];
    snprintf(labels, sizeof(labels), "kind=\"%s\",channel=\"%s\",reason=\"%s\"",
             j->m ? ac_kind_name(j->m->kind) : "unknown",
             j->m && j->to ? ac_channel_name(j->channel) : "none", j->dlq_reason);
    ac_metrics_add(n->w->metrics, "aftercare_messages_dead_lettered_total", labels, 1);
}

/* A channel's circuit opened (with or without a fallback taking over) or
 * closed. */
void notify_circuit(notify_t *n, ac_channel_t ch, int open, int failover)
{
    char labels[64];
    labels_channel(labels, sizeof(labels), ch);
    ac_metrics_set(n->w->metrics, "aftercare_circuit_open", labels, open);
    if (open && failover)
        ac_metrics_add(n->w->metrics, "aftercare_provider_failover_total", labels, 1);
}
