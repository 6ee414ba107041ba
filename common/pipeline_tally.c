/* The event workers' metrics: a batch's counts, added to the registry
 * once per batch. */
#include "pipeline_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "timeutil.h"

int ac_pipe_reason_index(const char *reason)
{
    for (int f = 0; f < AC_FACT__COUNT; f++)
        if (strcmp(reason, ac_fact_name((ac_fact_t)f)) == 0)
            return f;
    if (strcmp(reason, "disabled") == 0)
        return REASON_DISABLED;
    if (strcmp(reason, "no_consent") == 0)
        return REASON_NO_CONSENT;
    if (strcmp(reason, "no_support") == 0)
        return REASON_NO_SUPPORT;
    return REASON_BLOCKED;
}
static const char *reason_name(int r)
{
    return r < AC_FACT__COUNT       ? ac_fact_name((ac_fact_t)r)
           : r == REASON_DISABLED   ? "disabled"
           : r == REASON_NO_CONSENT ? "no_consent"
           : r == REASON_NO_SUPPORT ? "no_support"
                                    : "blocked";
}
/* Counts the batch's records by type as consumed (before processing) or
 * processed (their outcome durable and their offsets stored). */
void ac_pipe_count_events(ac_worker_t *w, const tally_t *t, const char *metric)
{
    char labels[256];
    for (int i = 0; i <= AC_EVENT__COUNT; i++) {
        if (!t->consumed[i])
            continue;
        snprintf(labels, sizeof(labels), "topic=\"%s\",type=\"%s\"", w->topic,
                 i == AC_EVENT__COUNT ? "invalid" : ac_event_type_name((ac_event_type_t)i));
        ac_metrics_add(w->metrics, metric, labels, t->consumed[i]);
    }
}
/* Adds the batch's counts to the registry; with every count 0 and all
 * set, creates every series whose labels are known in advance at 0, so
 * that rates and alerts work from the first scrape (Prometheus'
 * instrumentation guidelines). */
void ac_pipe_add_tally(ac_worker_t *w, const tally_t *t, int all)
{
    char labels[256];
    for (int i = 0; i < AC_EVENT__COUNT; i++) {
        if (!t->duplicates[i] && !all)
            continue;
        snprintf(labels, sizeof(labels), "topic=\"%s\",type=\"%s\"", w->topic,
                 ac_event_type_name((ac_event_type_t)i));
        ac_metrics_add(w->metrics, "aftercare_events_duplicate_total", labels, t->duplicates[i]);
        if (all) {
            ac_metrics_add(w->metrics, "aftercare_events_consumed_total", labels, 0);
            ac_metrics_add(w->metrics, "aftercare_events_processed_total", labels, 0);
        }
    }
    for (int k = 0; k < AC_KIND__COUNT; k++) {
        snprintf(labels, sizeof(labels), "kind=\"%s\"", ac_kind_name((ac_kind_t)k));
        if (t->decided[k] || all)
            ac_metrics_add(w->metrics, "aftercare_messages_decided_total", labels, t->decided[k]);
        if (t->scheduled[k] || all)
            ac_metrics_add(w->metrics, "aftercare_messages_scheduled_total", labels,
                           t->scheduled[k]);
        if (t->cancelled[k] || all)
            ac_metrics_add(w->metrics, "aftercare_scheduled_cancelled_total", labels,
                           t->cancelled[k]);
        for (int r = 0; r < N_REASONS; r++) {
            if (!t->suppressed[k][r] && !all)
                continue;
            snprintf(labels, sizeof(labels), "kind=\"%s\",reason=\"%s\"",
                     ac_kind_name((ac_kind_t)k), reason_name(r));
            ac_metrics_add(w->metrics, "aftercare_messages_suppressed_total", labels,
                           t->suppressed[k][r]);
        }
    }
    for (int r = 1; r <= AC_EVENT_ERR_INVALID_FIELD; r++) {
        if (!t->dead[r] && !all)
            continue;
        snprintf(labels, sizeof(labels), "topic=\"%s\",reason=\"%s\"", w->topic,
                 ac_event_err_name((ac_event_err_t)r));
        ac_metrics_add(w->metrics, "aftercare_events_dead_lettered_total", labels, t->dead[r]);
    }
}
void ac_pipe_flush_tally(ac_worker_t *w, int64_t started_ms, size_t n, const tally_t *t)
{
    char labels[256];
    ac_pipe_count_events(w, t, "aftercare_events_processed_total");
    snprintf(labels, sizeof(labels), "topic=\"%s\"", w->topic);
    ac_metrics_observe(w->metrics, "aftercare_event_processing_seconds", labels,
                       (double)(ac_time_mono_ms() - started_ms) / 1000.0, (unsigned)n);
    if (t->unknown)
        ac_metrics_add(w->metrics, "aftercare_events_unknown_type_total", labels, t->unknown);
    ac_pipe_add_tally(w, t, 0);
}
