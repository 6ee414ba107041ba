#include "ingest.h"
#include "ingest_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bigcommerce.h"
#include "event.h"
#include "log.h"
#include "shopify.h"
#include "timeutil.h"
#include "woocommerce.h"

ac_ingest_t *ac_ingest_new(const ac_creds_t *creds, ac_iprod_t *prod, ac_ictx_t *ictx,
                           ac_metrics_t *metrics, const ac_ingest_opts_t *opts)
{
    ac_ingest_t *g = calloc(1, sizeof(*g));
    if (!g)
        return NULL;
    g->creds = creds;
    g->prod = prod;
    g->ictx = ictx;
    g->m = metrics;
    g->o = *opts;
    return g;
}

void ac_ingest_destroy(ac_ingest_t *g)
{
    free(g);
}

const ac_creds_t *ac_ingest_creds(const ac_ingest_t *g)
{
    return g->creds;
}

void ac_ingest_describe_metrics(ac_metrics_t *m)
{
    static const double buckets[] = AC_METRICS_LATENCY_BUCKETS;
    ac_metrics_describe(m, "aftercare_ingest_requests_total", AC_METRIC_COUNTER,
                        "Webhook and rating link requests answered, by platform, platform topic "
                        "and result.");
    ac_metrics_describe_histogram(m, "aftercare_ingest_request_duration_seconds",
                                  "Time from a webhook's body received to its answer, by platform.",
                                  buckets, sizeof(buckets) / sizeof(buckets[0]));
    ac_metrics_describe(m, "aftercare_ingest_signature_failures_total", AC_METRIC_COUNTER,
                        "Requests refused with 401 (missing or wrong signature), by store and "
                        "platform.");
    ac_metrics_describe(m, "aftercare_ingest_events_produced_total", AC_METRIC_COUNTER,
                        "Canonical events Kafka acknowledged, by topic and type.");
    ac_metrics_describe(m, "aftercare_ingest_ignored_total", AC_METRIC_COUNTER,
                        "Webhooks of topics aftercare does not use, answered 200, by platform and "
                        "topic.");
    ac_metrics_describe(m, "aftercare_ingest_parked_total", AC_METRIC_COUNTER,
                        "Thin events kept until their order arrives.");
    ac_metrics_describe(m, "aftercare_ingest_waiting", AC_METRIC_GAUGE,
                        "Orders with thin events waiting for the order to arrive.");
    ac_metrics_describe(m, "aftercare_ingest_bigcommerce_jobs", AC_METRIC_GAUGE,
                        "BigCommerce orders waiting to be fetched.");
    ac_metrics_describe(m, "aftercare_ingest_dead_letters_total", AC_METRIC_COUNTER,
                        "Events sent to the gateway's dead-letter topic, by reason.");
    ac_ingest_rating_describe_metrics(m);
}

/* The Kafka topic a canonical event type goes to, under its configured
 * name. */
static const char *kafka_topic(const ac_ingest_t *g, const char *type)
{
    const char *t = ac_canon_topic(type);
    if (!t)
        return NULL;
    if (strcmp(t, "orders") == 0)
        return g->o.topic_orders;
    if (strcmp(t, "shipments") == 0)
        return g->o.topic_shipments;
    return g->o.topic_returns;
}

/* The order id of a canonical event, "" when it has none. */
static const char *order_of(json_object *ev)
{
    const char *id = ac_canon_str(ac_canon_obj(ev, "order"), "id");
    return id ? id : "";
}

/* What one delivery produces: the batch's events that are complete, then
 * the order's parked events released by its context. */
typedef struct outgoing {
    json_object *ev[AC_CANON_MAX_EVENTS];
    size_t n;
    json_object *released; /* array, owned */
    const char *released_order;
} outgoing_t;

/* Completes the batch's thin events from what is known of their order,
 * parking those whose order is unknown. known may be NULL. */
static int complete_thin(ac_ingest_t *g, const ac_store_creds_t *store, ac_canon_batch_t *b,
                         json_object *known, outgoing_t *out, int *parked, char *err, size_t errsz)
{
    for (size_t i = 0; i < b->n; i++) {
        json_object *ev = b->ev[i], *ctx = NULL;
        if (!ac_canon_needs_context(ev)) {
            out->ev[out->n++] = ev;
            continue;
        }
        if (known && strcmp(order_of(ev), out->released_order ? out->released_order : "") == 0) {
            if (ac_canon_complete(ev, known) == 0)
                out->ev[out->n++] = ev;
            continue;
        }
        if (ac_ictx_lookup_or_park(g->ictx, store->store.id, order_of(ev), ev, &ctx, err, errsz) <
            0)
            return -1;
        if (ctx && ac_canon_complete(ev, ctx) == 0) {
            out->ev[out->n++] = ev;
        } else if (!ctx) {
            (*parked)++;
            ac_metrics_add(g->m, "aftercare_ingest_parked_total", "", 1);
        }
        json_object_put(ctx);
    }
    return 0;
}

/* Remembers the order's context (from the batch's first complete event)
 * and any shipments the batch told of; fills *known and out->released. */
static int remember(ac_ingest_t *g, const ac_store_creds_t *store, ac_canon_batch_t *b,
                    json_object **known, outgoing_t *out, char *err, size_t errsz)
{
    json_object *ctx = NULL;
    const char *order = NULL;
    *known = NULL;
    for (size_t i = 0; i < b->n && !ctx; i++)
        if ((ctx = ac_canon_context(b->ev[i])))
            order = order_of(b->ev[i]);
    if (!order && b->remember)
        order = ac_canon_str(b->remember, "order_id");
    if (!order && b->remember && b->n)
        order = order_of(b->ev[0]);
    if (!order || !*order || (!ctx && !b->remember)) {
        json_object_put(ctx);
        return 0;
    }
    json_object *ships = ac_canon_obj(b->remember, "shipments");
    int rc = ac_ictx_remember(g->ictx, store->store.id, order, ctx, ships, &out->released, known,
                              err, errsz);
    json_object_put(ctx);
    out->released_order = order;
    if (rc == 0 && *known) {
        /* Parked events wait for the order's context, which now exists. */
        for (size_t i = 0; i < json_object_array_length(out->released); i++)
            ac_canon_complete(json_object_array_get_idx(out->released, i), *known);
    }
    return rc;
}

/* Produces out's events and waits for Kafka's acknowledgement. */
static int produce(ac_ingest_t *g, outgoing_t *out, char *err, size_t errsz)
{
    size_t nrel = out->released ? json_object_array_length(out->released) : 0;
    size_t n = 0, total = out->n + nrel;
    int rc = -1;
    ac_iprod_rec_t *recs = calloc(total ? total : 1, sizeof(*recs));
    json_object **evs = calloc(total ? total : 1, sizeof(*evs));
    if (!recs || !evs) {
        snprintf(err, errsz, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < total; i++) {
        json_object *ev =
            i < out->n ? out->ev[i] : json_object_array_get_idx(out->released, i - out->n);
        const char *type = ac_canon_str(ev, "type");
        const char *topic = kafka_topic(g, type);
        if (!topic || ac_canon_needs_context(ev))
            continue; /* a released event its context could not complete stays parked */
        evs[n] = ev;
        recs[n].topic = topic;
        recs[n].key = order_of(ev);
        recs[n].value = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN);
        recs[n].len = strlen(recs[n].value);
        n++;
    }
    if ((rc = ac_iprod_send(g->prod, recs, n, err, errsz)) < 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        char labels[160];
        snprintf(labels, sizeof(labels), "topic=\"%s\",type=\"%s\"", recs[i].topic,
                 ac_canon_str(evs[i], "type"));
        ac_metrics_add(g->m, "aftercare_ingest_events_produced_total", labels, 1);
    }
out:
    free(recs);
    free(evs);
    return rc;
}

int ac_ingest_deliver(ac_ingest_t *g, const ac_store_creds_t *store, const char *platform,
                      ac_canon_batch_t *batch, int *parked, char *err, size_t errsz)
{
    outgoing_t out = {0};
    json_object *known = NULL;
    int rc = -1;
    (void)platform;
    *parked = 0;
    if (remember(g, store, batch, &known, &out, err, errsz) < 0 ||
        complete_thin(g, store, batch, known, &out, parked, err, errsz) < 0 ||
        produce(g, &out, err, errsz) < 0)
        goto out;
    size_t nrel = out.released ? json_object_array_length(out.released) : 0;
    if (nrel && ac_ictx_release(g->ictx, store->store.id, out.released_order, nrel, err, errsz) < 0)
        /* They were produced: leaving them parked only means producing
         * them again with the same event ids, which the workers drop. */
        ac_log(AC_LOG_WARN, "ingest: released events stay parked: %s", err);
    rc = 0;
out:
    json_object_put(known);
    json_object_put(out.released);
    return rc;
}

int ac_ingest_dead_letter(ac_ingest_t *g, json_object *events, const char *reason,
                          const char *detail, char *err, size_t errsz)
{
    size_t n = events ? json_object_array_length(events) : 0;
    char at[40];
    if (!n)
        return 0;
    ac_time_format(ac_time_now_ms(), at, sizeof(at));
    const char *headers[] = {"ac-dlq-reason",
                             reason,
                             "ac-dlq-detail",
                             detail,
                             "ac-dlq-worker",
                             "ingest-gateway",
                             "ac-dlq-at",
                             at,
                             NULL,
                             NULL};
    ac_iprod_rec_t *recs = calloc(n, sizeof(*recs));
    if (!recs) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *ev = json_object_array_get_idx(events, i);
        recs[i].topic = g->o.dlq_topic;
        recs[i].key = order_of(ev);
        recs[i].value = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN);
        recs[i].len = strlen(recs[i].value);
        recs[i].headers = headers;
    }
    int rc = ac_iprod_send(g->prod, recs, n, err, errsz);
    free(recs);
    if (rc == 0) {
        char labels[96];
        snprintf(labels, sizeof(labels), "reason=\"%s\"", reason);
        ac_metrics_add(g->m, "aftercare_ingest_dead_letters_total", labels, (double)n);
    }
    return rc;
}
