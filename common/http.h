/* The operations endpoint every worker serves on HTTP_PORT, with
 * libmicrohttpd on its own thread:
 *   GET /healthz  200 while the worker loop is alive (it beats at least
 *                 every few seconds), 503 when it has stalled
 *   GET /readyz   200 when the worker says it is ready (connected to Kafka
 *                 and Redis), 503 with the reason otherwise
 *   GET /metrics  Prometheus text format */
#ifndef AC_HTTP_H
#define AC_HTTP_H

#include <stddef.h>

#include "metrics.h"

typedef struct ac_http ac_http_t;

/* Reports readiness: returns 1 when ready, else 0 with a reason in why.
 * Called from the HTTP thread: read only atomics or immutable state. */
typedef int (*ac_http_ready_fn)(void *ctx, char *why, size_t whysz);

/* Starts serving on port (all interfaces). metrics and ctx must outlive
 * the server. Returns NULL with err filled when the port cannot be bound. */
ac_http_t *ac_http_start(int port, ac_metrics_t *metrics, ac_http_ready_fn ready, void *ctx,
                         char *err, size_t errsz);

/* Stops serving and frees the server. Accepts NULL. */
void ac_http_stop(ac_http_t *h);

/* Called by the worker loop on every turn: the liveness signal. */
void ac_http_beat(ac_http_t *h);

/* Liveness window: /healthz fails after this long without a beat. */
#define AC_HTTP_STALL_MS 60000

#endif
