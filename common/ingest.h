/* The ingest gateway's request handling: which store and platform a
 * webhook comes from, whether its signature verifies, what canonical events
 * it becomes, and the HTTP answer. It knows no sockets (ihttp.c serves the
 * HTTP) and reaches Kafka and Redis only through iprod.h and ictx.h.
 *
 *   POST /webhooks/shopify                  X-Shopify-Hmac-Sha256
 *   POST /webhooks/woocommerce/{store_id}   X-WC-Webhook-Signature
 *   POST /webhooks/bigcommerce/{store_id}   X-Aftercare-Webhook-Secret or
 *                                           Standard Webhooks signature
 *   POST /events  (X-Aftercare-Store, or /events/{store_id})
 *                                           Standard Webhooks signature
 *   GET or POST /r/{token}                  a signed rating token (rtoken.h):
 *                                           a customer's one-click rating and
 *                                           comment, answered with an HTML
 *                                           page (ingest_rating.c)
 *
 * Answers: 200 once Kafka acknowledged every event (or the events were kept
 * durably in Redis: a thin event waiting for its order, a BigCommerce order
 * to fetch), and for topics aftercare does not use; 400 for a body that is
 * not JSON; 401 for a missing or wrong signature; 404 for an unknown store
 * or path; 503 while Kafka or Redis cannot take the events in time. A 503
 * says "re-send", not "nothing was written": a record a hung broker
 * acknowledged too late may still be on Kafka, and the re-sent copy, with
 * the same event id, is dropped by the workers. */
#ifndef AC_INGEST_H
#define AC_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "creds.h"
#include "ictx.h"
#include "iprod.h"
#include "metrics.h"
#include "rtoken.h"

typedef struct ac_ingest_opts {
    const char *topic_orders, *topic_shipments, *topic_returns;
    const char *dlq_topic;      /* INGEST_DLQ_TOPIC */
    int64_t events_tolerance_s; /* EVENTS_TOLERANCE */
    size_t max_body;            /* MAX_BODY_BYTES */
    /* RATING_SECRET (ac_rtoken_keys_parse()); NULL or none: the rating
     * links are not set up and /r/ answers 404. */
    const ac_secrets_t *rating_secrets;
} ac_ingest_opts_t;

typedef struct ac_ingest ac_ingest_t;

/* Everything given must outlive the handler. Returns NULL when out of
 * memory. */
ac_ingest_t *ac_ingest_new(const ac_creds_t *creds, ac_iprod_t *prod, ac_ictx_t *ictx,
                           ac_metrics_t *metrics, const ac_ingest_opts_t *opts);
void ac_ingest_destroy(ac_ingest_t *g);

/* Declares the gateway's metric families. */
void ac_ingest_describe_metrics(ac_metrics_t *m);

/* A request's header by name (case-insensitive), NULL when absent. */
typedef const char *(*ac_ingest_header_fn)(void *ctx, const char *name);

typedef struct ac_ingest_req {
    const char *path;
    ac_ingest_header_fn header;
    void *header_ctx;
    const char *body;
    size_t len;
    const char *method; /* "GET" or "POST"; NULL reads as POST */
    const char *query;  /* the URL's query string without "?", percent-encoded; NULL for none */
} ac_ingest_req_t;

typedef struct ac_ingest_resp {
    int status;
    char text[300]; /* one line for the platform: never a secret or customer data */
    /* A page for a person rather than a platform (the rating links): when
     * body is set, it is sent instead of text, as content_type, with the
     * NULL-terminated name/value pairs of headers (static), and freed by
     * whoever sends it (ihttp.c). */
    char *body;
    size_t body_len;
    const char *content_type;
    const char *const *headers;
} ac_ingest_resp_t;

/* Handles one request: a POST, or a GET of /r/. Thread-safe. */
void ac_ingest_handle(ac_ingest_t *g, const ac_ingest_req_t *req, ac_ingest_resp_t *resp);

/* Produces a canonical event the gateway completed or gave up on outside a
 * request (a released or expired thin event, a fetched BigCommerce order):
 * the same path as a webhook's events. Returns 0, or -1 with err. */
int ac_ingest_deliver(ac_ingest_t *g, const ac_store_creds_t *store, const char *platform,
                      ac_canon_batch_t *batch, int *parked, char *err, size_t errsz);

/* Dead-letters events that cannot be completed (their order never came)
 * to INGEST_DLQ_TOPIC with ac-dlq-reason. Returns 0 or -1 with err. */
int ac_ingest_dead_letter(ac_ingest_t *g, json_object *events, const char *reason,
                          const char *detail, char *err, size_t errsz);

/* The feedback.received event of a verified rating token (docs/events.md),
 * at now_ms; with comment (not NULL), the comment's own event. store (may
 * be NULL) gives the store's name, locale and timezone. NULL when out of
 * memory. */
json_object *ac_ingest_rating_event(const ac_rtoken_t *t, const ac_canon_store_t *store,
                                    const char *comment, int64_t now_ms);

/* The store table, for the BigCommerce fetcher. */
const ac_creds_t *ac_ingest_creds(const ac_ingest_t *g);

#endif
