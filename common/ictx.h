/* What the ingest gateway keeps in Redis, so that any replica can finish
 * what another began:
 *
 *   - each order's context (ac:ictx:{store:order}, a hash): the store,
 *     order and customer of its last complete event ("base") and the
 *     tracking of its shipments ("s:<shipment id>"), to complete the thin
 *     events that name only the order (canon.h); kept CONTEXT_TTL;
 *   - the thin events that arrived before their order
 *     (ac:iwait:{store:order}, a list), released when the order's context
 *     arrives, and indexed by deadline (ac:iwait:due) so that those whose
 *     order never came within ORDER_WAIT go to the dead-letter topic;
 *   - BigCommerce orders to fetch (ac:ibc:jobs, a sorted set of
 *     "store\norder" by when to try), one entry per order however many
 *     webhooks named it, since the mapping reads the order's whole state.
 *
 * The hash and list of an order share a hash tag, so the scripts that
 * touch both stay within one slot of a Redis Cluster.
 *
 * Thread-safe: calls take a connection from a small pool. */
#ifndef AC_ICTX_H
#define AC_ICTX_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "redis_url.h"

typedef struct ac_ictx ac_ictx_t;

/* A pool of `pool` connections to url, each talking to a Redis Cluster
 * or not as mode says (REDIS_CLUSTER). NULL with err when url is bad. */
ac_ictx_t *ac_ictx_new(const char *url, ac_redis_cluster_t mode, int pool, int64_t ctx_ttl_ms,
                       int64_t wait_ms, char *err, size_t errsz);
void ac_ictx_destroy(ac_ictx_t *c);

/* Remembers the order's context ctx (NULL: keep what is there) and
 * shipments ({"<id>": {...}}, NULL: none). Once the order has a context,
 * hands back in *waiting (a new JSON array) the thin events that waited
 * for it and in *known everything now known of it (its context with
 * "shipments"); else *known is NULL. Both are the caller's. 0, or -1 with
 * err. */
int ac_ictx_remember(ac_ictx_t *c, const char *store, const char *order, json_object *ctx,
                     json_object *shipments, json_object **waiting, json_object **known, char *err,
                     size_t errsz);

/* Looks up the order's context for the thin event ev: *ctx is set (the
 * caller's) when the order is known; otherwise ev is parked until it is
 * and *ctx is NULL. 0, or -1 with err. */
int ac_ictx_lookup_or_park(ac_ictx_t *c, const char *store, const char *order, json_object *ev,
                           json_object **ctx, char *err, size_t errsz);

/* Drops the first n parked events of the order, once they were produced. */
int ac_ictx_release(ac_ictx_t *c, const char *store, const char *order, size_t n, char *err,
                    size_t errsz);

/* Claims one order whose parked events waited longer than ORDER_WAIT:
 * *store and *order (the caller frees) and its events in *events (the
 * caller's). Returns 1 when one was claimed, 0 when none is due, -1 with
 * err. The claim lasts lease_ms; finish with ac_ictx_expired_done(). */
int ac_ictx_take_expired(ac_ictx_t *c, int64_t now_ms, int64_t lease_ms, char **store, char **order,
                         json_object **events, char *err, size_t errsz);
int ac_ictx_expired_done(ac_ictx_t *c, const char *store, const char *order, size_t n, char *err,
                         size_t errsz);

/* How many orders have parked events: the aftercare_ingest_waiting gauge. */
long long ac_ictx_waiting(ac_ictx_t *c);

/* BigCommerce: asks for the order to be fetched now. */
int ac_ictx_job_add(ac_ictx_t *c, const char *store, const char *order, int64_t now_ms, char *err,
                    size_t errsz);

/* Claims one due job for lease_ms: returns 1 with *store, *order (the
 * caller frees) and *claim (the score to finish it with), 0 when none is
 * due, -1 with err. */
int ac_ictx_job_claim(ac_ictx_t *c, int64_t now_ms, int64_t lease_ms, char **store, char **order,
                      int64_t *claim, char *err, size_t errsz);

/* Finishes a claimed job: removes it, unless a webhook asked for the order
 * again meanwhile (its score changed), or with retry_at_ms > 0 puts it
 * back for then. */
int ac_ictx_job_done(ac_ictx_t *c, const char *store, const char *order, int64_t claim,
                     int64_t retry_at_ms, char *err, size_t errsz);

/* Jobs waiting: the aftercare_ingest_bigcommerce_jobs gauge. */
long long ac_ictx_jobs(ac_ictx_t *c);

/* True when the last Redis call succeeded: readiness. */
int ac_ictx_ok(ac_ictx_t *c);

#endif
