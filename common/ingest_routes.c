/* The gateway's endpoints: each finds the store, verifies the platform's
 * signature, parses and maps the body, and hands the canonical events to
 * ac_ingest_deliver() (ingest.c). Every refusal is one log line naming the
 * platform, store and reason, never a secret or customer data. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bigcommerce.h"
#include "event.h"
#include "ingest.h"
#include "ingest_int.h"
#include "log.h"
#include "shopify.h"
#include "timeutil.h"
#include "woocommerce.h"

#define MAX_EVENTS_PER_REQUEST 1000

/* The platform topics counted under their own label; any other is
 * "other", so a label's values stay a fixed set whatever a request says. */
static const char *const known_topics[] = {"orders/create",
                                           "orders/paid",
                                           "orders/cancelled",
                                           "orders/updated",
                                           "fulfillments/create",
                                           "fulfillments/update",
                                           "fulfillment_events/create",
                                           "refunds/create",
                                           "returns/request",
                                           "returns/close",
                                           "order.created",
                                           "order.updated",
                                           "order.restored",
                                           "order.deleted",
                                           "store/order/created",
                                           "store/order/updated",
                                           "store/order/statusUpdated",
                                           "store/shipment/created",
                                           "store/shipment/updated",
                                           NULL};

typedef struct route {
    ac_ingest_t *g;
    const ac_ingest_req_t *req;
    ac_ingest_resp_t *resp;
    const char *platform;
    const char *topic; /* a label value: one of known_topics, "events" or "other" */
    const char *result;
    const ac_store_creds_t *store;
} route_t;

static const char *topic_label(const char *topic)
{
    for (size_t i = 0; topic && known_topics[i]; i++)
        if (strcmp(topic, known_topics[i]) == 0)
            return known_topics[i];
    return "other";
}

static const char *hdr(const route_t *r, const char *name)
{
    const char *v = r->req->header(r->req->header_ctx, name);
    return v && *v ? v : NULL;
}

/* Answers the request; a refusal (not 200) is logged once. */
static void answer(route_t *r, int status, const char *result, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void answer(route_t *r, int status, const char *result, const char *fmt, ...)
{
    va_list ap;
    r->resp->status = status;
    r->result = result;
    va_start(ap, fmt);
    vsnprintf(r->resp->text, sizeof(r->resp->text), fmt, ap);
    va_end(ap);
    if (status != 200)
        ac_log(AC_LOG_WARN, "refused %s webhook for store %s (topic %s): %d %s", r->platform,
               r->store ? r->store->store.id : "unknown", r->topic, status, r->resp->text);
}

static void unauthorized(route_t *r, const char *why)
{
    char labels[300];
    snprintf(labels, sizeof(labels), "store=\"%s\",platform=\"%s\"", r->store->store.id,
             r->platform);
    ac_metrics_add(r->g->m, "aftercare_ingest_signature_failures_total", labels, 1);
    answer(r, 401, "unauthorized", "%s", why);
}

/* Parses a body that must be one JSON object; answers 400 when not. */
static json_object *parse_object(route_t *r)
{
    ac_event_error_t e;
    json_object *o = ac_event_parse_json(r->req->body, r->req->len, r->g->o.max_body, &e);
    if (!o)
        answer(r, 400, "bad_request", "body is not a JSON object: %s", e.detail);
    return o;
}

/* Dead-letters a verified payload the mapping cannot read, answering 200
 * so the platform does not retry (and in time disable) the webhook. */
static void dead_letter_payload(route_t *r, json_object *body, const char *why)
{
    char err[256];
    json_object *arr = json_object_new_array();
    json_object_array_add(arr, json_object_get(body));
    if (ac_ingest_dead_letter(r->g, arr, "invalid_payload", why, err, sizeof(err)) < 0)
        answer(r, 503, "unavailable", "cannot take the webhook now: %s", err);
    else
        answer(r, 200, "dead_lettered", "payload dead-lettered: %s", why);
    json_object_put(arr);
}

/* The end of every platform route: what the mapper said, delivered. */
static void finish(route_t *r, ac_canon_rc_t rc, json_object *body, ac_canon_batch_t *b,
                   const char *err)
{
    char why[256], labels[160];
    int parked = 0;
    if (rc == AC_CANON_IGNORED) {
        snprintf(labels, sizeof(labels), "platform=\"%s\",topic=\"%s\"", r->platform, r->topic);
        ac_metrics_add(r->g->m, "aftercare_ingest_ignored_total", labels, 1);
        answer(r, 200, "ignored", "ignored: aftercare does not use this topic");
        return;
    }
    if (rc == AC_CANON_INVALID) {
        dead_letter_payload(r, body, err);
        return;
    }
    if (ac_ingest_deliver(r->g, r->store, r->platform, b, &parked, why, sizeof(why)) < 0) {
        answer(r, 503, "unavailable", "cannot take the events now: %s", why);
        return;
    }
    answer(r, 200, parked ? "parked" : "ok", "ok: %zu event(s), %d waiting for their order",
           b->n - (size_t)parked, parked);
}

static void route_shopify(route_t *r)
{
    char err[256] = "";
    ac_canon_batch_t b;
    r->platform = "shopify";
    const char *topic =
        hdr(r, "X-Shopify-Topic") ? hdr(r, "X-Shopify-Topic") : hdr(r, "Shopify-Topic");
    r->topic = topic_label(topic);
    if (!(r->store = ac_creds_by_shop(r->g->creds, hdr(r, "X-Shopify-Shop-Domain")))) {
        answer(r, 404, "unknown_store", "unknown shop: no store has this shop_domain");
        return;
    }
    const char *sig = hdr(r, "X-Shopify-Hmac-Sha256");
    if (!sig)
        sig = hdr(r, "Shopify-Hmac-Sha256");
    if (!ac_sig_hmac_b64_ok(&r->store->shopify, r->req->body, r->req->len, sig)) {
        unauthorized(r, sig ? "X-Shopify-Hmac-Sha256 does not verify"
                            : "missing X-Shopify-Hmac-Sha256");
        return;
    }
    json_object *body = parse_object(r);
    if (!body)
        return;
    const char *eid = hdr(r, "X-Shopify-Event-Id");
    if (!eid)
        eid = hdr(r, "X-Shopify-Webhook-Id");
    ac_canon_in_t in = {
        "shopify", topic ? topic : "", eid, hdr(r, "X-Shopify-Triggered-At"), &r->store->store,
        body};
    ac_canon_batch_init(&b);
    finish(r, ac_shopify_map(&in, &b, err, sizeof(err)), body, &b, err);
    ac_canon_batch_clear(&b);
    json_object_put(body);
}

static void route_woocommerce(route_t *r, const char *store_id)
{
    char err[256] = "";
    ac_canon_batch_t b;
    r->platform = "woocommerce";
    const char *topic = hdr(r, "X-WC-Webhook-Topic");
    r->topic = topic_label(topic);
    r->store = ac_creds_by_id(r->g->creds, store_id);
    if (!r->store || !r->store->woo.n) {
        r->store = NULL;
        answer(r, 404, "unknown_store", "unknown store: none is connected to WooCommerce here");
        return;
    }
    /* The ping WooCommerce sends when a webhook is saved carries no order:
     * answering 200 is what activates the webhook. */
    if (ac_woo_is_ping(r->req->body, r->req->len)) {
        answer(r, 200, "ping", "pong");
        return;
    }
    const char *sig = hdr(r, "X-WC-Webhook-Signature");
    if (!ac_sig_hmac_b64_ok(&r->store->woo, r->req->body, r->req->len, sig)) {
        unauthorized(r, sig ? "X-WC-Webhook-Signature does not verify"
                            : "missing X-WC-Webhook-Signature");
        return;
    }
    json_object *body = parse_object(r);
    if (!body)
        return;
    ac_canon_in_t in = {"woocommerce", topic ? topic : "", hdr(r, "X-WC-Webhook-Delivery-ID"),
                        NULL,          &r->store->store,   body};
    ac_canon_batch_init(&b);
    finish(r, ac_woo_map(&in, &b, err, sizeof(err)), body, &b, err);
    ac_canon_batch_clear(&b);
    json_object_put(body);
}

/* BigCommerce's documented protection is a header of the store's choosing
 * set when the hook is created; where the request carries Standard
 * Webhooks signature headers and the app's client secret is configured,
 * the signature is checked instead. */
static int bigcommerce_verified(route_t *r, char *why, size_t whysz)
{
    const char *sig = hdr(r, "webhook-signature");
    if (sig && r->store->bigc_client.n)
        return ac_sig_standard_ok(&r->store->bigc_client, hdr(r, "webhook-id"),
                                  hdr(r, "webhook-timestamp"), sig, r->req->body, r->req->len,
                                  ac_time_now_ms() / 1000, r->g->o.events_tolerance_s, why, whysz);
    const char *shared = hdr(r, "X-Aftercare-Webhook-Secret");
    snprintf(why, whysz, "%s",
             shared ? "X-Aftercare-Webhook-Secret does not match"
                    : "missing X-Aftercare-Webhook-Secret");
    return ac_sig_shared_ok(&r->store->bigc_shared, shared);
}

static void route_bigcommerce(route_t *r, const char *store_id)
{
    char err[256] = "", order[128];
    r->platform = "bigcommerce";
    r->topic = "other";
    r->store = ac_creds_by_id(r->g->creds, store_id);
    if (!r->store || !r->store->has_bigcommerce) {
        r->store = NULL;
        answer(r, 404, "unknown_store", "unknown store: none is connected to BigCommerce here");
        return;
    }
    if (!bigcommerce_verified(r, err, sizeof(err))) {
        unauthorized(r, err);
        return;
    }
    json_object *body = parse_object(r);
    if (!body)
        return;
    r->topic = topic_label(ac_canon_str(body, "scope"));
    ac_canon_rc_t rc = ac_bigc_order_of(body, order, sizeof(order), err, sizeof(err));
    if (rc != AC_CANON_OK) {
        finish(r, rc, body, NULL, err);
    } else if (ac_ictx_job_add(r->g->ictx, r->store->store.id, order, ac_time_now_ms(), err,
                               sizeof(err)) < 0) {
        answer(r, 503, "unavailable", "cannot take the webhook now: %s", err);
    } else {
        /* The order is fetched in the background (bcfetch.c), so a slow
         * BigCommerce API never holds this answer. */
        answer(r, 200, "ok", "ok: order queued for fetching");
    }
    json_object_put(body);
}

/* Reads a store backend's body: one event, a JSON array of events, or
 * NDJSON (one per line). Each goes through the workers' own validator, so
 * what the gateway accepts is exactly what they process. Returns an array
 * of validated events, or NULL having answered 400. */
static json_object *parse_events(route_t *r)
{
    ac_event_error_t e;
    const char *p = r->req->body, *end = p + r->req->len;
    json_object *list = json_object_new_array();
    while (p < end && strchr(" \t\r\n", *p))
        p++;
    if (p < end && *p == '[') {
        json_tokener *tok = json_tokener_new();
        json_object *arr = json_tokener_parse_ex(tok, p, (int)(end - p));
        int ok = arr && json_object_is_type(arr, json_type_array) &&
                 json_tokener_get_error(tok) == json_tokener_success;
        json_tokener_free(tok);
        for (size_t i = 0; ok && i < json_object_array_length(arr); i++) {
            ac_event_t *ev = ac_event_from_json(json_object_array_get_idx(arr, i), &e);
            if (!ev) {
                answer(r, 400, "bad_request", "event %zu: %s: %s", i, ac_event_err_name(e.code),
                       e.detail);
                goto fail_arr;
            }
            json_object_array_add(list, json_object_get(ac_event_root(ev)));
            ac_event_destroy(ev);
        }
        if (!ok) {
            answer(r, 400, "bad_request", "body is not a JSON array of events");
            goto fail_arr;
        }
        json_object_put(arr);
        return list;
    fail_arr:
        json_object_put(arr);
        json_object_put(list);
        return NULL;
    }
    for (size_t line = 0; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        if (n && !(n == 1 && *p == '\r')) {
            ac_event_t *ev = ac_event_parse(p, n, r->g->o.max_body, &e);
            if (!ev) {
                answer(r, 400, "bad_request", "event %zu: %s: %s", line, ac_event_err_name(e.code),
                       e.detail);
                json_object_put(list);
                return NULL;
            }
            json_object_array_add(list, json_object_get(ac_event_root(ev)));
            ac_event_destroy(ev);
        }
        p += n + 1;
    }
    return list;
}

/* Every event must belong to the store that signed it; an event without
 * a store object gets the store's. Returns 0, or -1 having answered 400. */
static int check_stores(route_t *r, json_object *list)
{
    for (size_t i = 0; i < json_object_array_length(list); i++) {
        json_object *ev = json_object_array_get_idx(list, i);
        char id[256];
        const char *sid = ac_canon_id_of(ac_canon_obj(ev, "store"), "id", id, sizeof(id));
        if (sid && strcmp(sid, r->store->store.id) != 0) {
            answer(r, 400, "bad_request", "event %zu names another store than the signed one", i);
            return -1;
        }
        if (!sid) {
            json_object *s = ac_canon_section(ev, "store");
            ac_canon_set_str(s, "id", r->store->store.id);
            if (!ac_canon_str(s, "name"))
                ac_canon_set_str(s, "name", r->store->store.name);
        }
        if (!ac_event_type_topic(ac_event_type_parse(ac_canon_str(ev, "type")))) {
            answer(r, 400, "bad_request", "event %zu: unknown type", i);
            return -1;
        }
    }
    if (json_object_array_length(list) > MAX_EVENTS_PER_REQUEST) {
        answer(r, 400, "bad_request", "at most %d events per request", MAX_EVENTS_PER_REQUEST);
        return -1;
    }
    return 0;
}

/* Produces a store backend's events as they are (they are complete by
 * the contract), in the order given. */
static void produce_events(route_t *r, json_object *list)
{
    char err[256];
    size_t n = json_object_array_length(list);
    ac_iprod_rec_t *recs = calloc(n ? n : 1, sizeof(*recs));
    char(*keys)[256] = calloc(n ? n : 1, sizeof(*keys));
    if (!recs || !keys) {
        answer(r, 503, "unavailable", "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        json_object *ev = json_object_array_get_idx(list, i);
        const char *t = ac_event_type_topic(ac_event_type_parse(ac_canon_str(ev, "type")));
        recs[i].topic = strcmp(t, "orders") == 0      ? r->g->o.topic_orders
                        : strcmp(t, "shipments") == 0 ? r->g->o.topic_shipments
                                                      : r->g->o.topic_returns;
        recs[i].key = ac_canon_id_of(ac_canon_obj(ev, "order"), "id", keys[i], sizeof(keys[i]));
        recs[i].value = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN);
        recs[i].len = strlen(recs[i].value);
    }
    if (ac_iprod_send(r->g->prod, recs, n, err, sizeof(err)) < 0) {
        answer(r, 503, "unavailable", "cannot take the events now: %s", err);
    } else {
        for (size_t i = 0; i < n; i++) {
            char labels[160];
            snprintf(labels, sizeof(labels), "topic=\"%s\",type=\"%s\"", recs[i].topic,
                     ac_event_type_name(ac_event_type_parse(
                         ac_canon_str(json_object_array_get_idx(list, i), "type"))));
            ac_metrics_add(r->g->m, "aftercare_ingest_events_produced_total", labels, 1);
        }
        answer(r, 200, "ok", "ok: %zu event(s)", n);
    }
out:
    free(recs);
    free(keys);
}

static void route_events(route_t *r, const char *store_id)
{
    char why[256];
    r->platform = "events";
    r->topic = "events";
    if (!store_id || !*store_id)
        store_id = hdr(r, "X-Aftercare-Store");
    r->store = ac_creds_by_id(r->g->creds, store_id);
    if (!r->store || !r->store->events.n) {
        r->store = NULL;
        answer(r, 404, "unknown_store", "unknown store: name it in the path or X-Aftercare-Store");
        return;
    }
    if (!ac_sig_standard_ok(&r->store->events, hdr(r, "webhook-id"), hdr(r, "webhook-timestamp"),
                            hdr(r, "webhook-signature"), r->req->body, r->req->len,
                            ac_time_now_ms() / 1000, r->g->o.events_tolerance_s, why,
                            sizeof(why))) {
        unauthorized(r, why);
        return;
    }
    json_object *list = parse_events(r);
    if (!list)
        return;
    if (check_stores(r, list) == 0)
        produce_events(r, list);
    json_object_put(list);
}

/* A customer's rating link: its own file (ingest_rating.c), as it answers
 * a person with a page rather than a platform with a line. */
static void route_rating(route_t *r)
{
    r->platform = "rating";
    r->result = ac_ingest_rating_route(r->g, r->req, r->resp, &r->topic);
}

void ac_ingest_handle(ac_ingest_t *g, const ac_ingest_req_t *req, ac_ingest_resp_t *resp)
{
    route_t r = {g, req, resp, "unknown", "other", "not_found", NULL};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    const char *p = req->path;
    if (strcmp(p, "/webhooks/shopify") == 0)
        route_shopify(&r);
    else if (strncmp(p, "/webhooks/woocommerce/", 22) == 0 && p[22] && !strchr(p + 22, '/'))
        route_woocommerce(&r, p + 22);
    else if (strncmp(p, "/webhooks/bigcommerce/", 22) == 0 && p[22] && !strchr(p + 22, '/'))
        route_bigcommerce(&r, p + 22);
    else if (strcmp(p, "/events") == 0)
        route_events(&r, NULL);
    else if (strncmp(p, "/events/", 8) == 0 && p[8] && !strchr(p + 8, '/'))
        route_events(&r, p + 8);
    else if (strncmp(p, "/r/", 3) == 0)
        route_rating(&r);
    else
        answer(&r, 404, "not_found", "no such endpoint");
    char labels[200];
    snprintf(labels, sizeof(labels), "platform=\"%s\",topic=\"%s\",result=\"%s\"", r.platform,
             r.topic, r.result);
    ac_metrics_add(g->m, "aftercare_ingest_requests_total", labels, 1);
    snprintf(labels, sizeof(labels), "platform=\"%s\"", r.platform);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ac_metrics_observe(g->m, "aftercare_ingest_request_duration_seconds", labels,
                       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
                       1);
}
