#include "http.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "timeutil.h"

struct ac_http {
    struct MHD_Daemon *daemon;
    ac_metrics_t *metrics;
    ac_http_ready_fn ready;
    void *ctx;
    _Atomic int64_t last_beat_ms;
};

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned int status, const char *type,
                               char *body, enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, mode);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload_data,
                              size_t *upload_data_size, void **req_cls)
{
    ac_http_t *h = cls;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return respond(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "method not allowed\n",
                       MHD_RESPMEM_PERSISTENT);
    if (strcmp(url, "/healthz") == 0) {
        int64_t age = ac_time_mono_ms() - atomic_load(&h->last_beat_ms);
        if (age > AC_HTTP_STALL_MS)
            return respond(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
                           "stalled: the worker loop has not run for over a minute\n",
                           MHD_RESPMEM_PERSISTENT);
        return respond(conn, MHD_HTTP_OK, "text/plain", "ok\n", MHD_RESPMEM_PERSISTENT);
    }
    if (strcmp(url, "/readyz") == 0) {
        char why[256] = "not ready";
        if (h->ready && !h->ready(h->ctx, why, sizeof(why))) {
            char *body = malloc(strlen(why) + 2);
            if (!body)
                return MHD_NO;
            sprintf(body, "%s\n", why);
            return respond(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", body,
                           MHD_RESPMEM_MUST_FREE);
        }
        return respond(conn, MHD_HTTP_OK, "text/plain", "ready\n", MHD_RESPMEM_PERSISTENT);
    }
    if (strcmp(url, "/metrics") == 0) {
        char *text = ac_metrics_render(h->metrics);
        if (!text)
            return MHD_NO;
        return respond(conn, MHD_HTTP_OK, "text/plain; version=0.0.4", text, MHD_RESPMEM_MUST_FREE);
    }
    return respond(conn, MHD_HTTP_NOT_FOUND, "text/plain", "not found\n", MHD_RESPMEM_PERSISTENT);
}

ac_http_t *ac_http_start(int port, ac_metrics_t *metrics, ac_http_ready_fn ready, void *ctx,
                         char *err, size_t errsz)
{
    ac_http_t *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    h->metrics = metrics;
    h->ready = ready;
    h->ctx = ctx;
    atomic_store(&h->last_beat_ms, ac_time_mono_ms());
    /* epoll or poll, never select(): notify-worker holds a connection per
     * request in flight, and select() cannot watch a descriptor above
     * FD_SETSIZE (1024) without writing past its set. */
    h->daemon = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ERROR_LOG, (uint16_t)port,
                                 NULL, NULL, handle, h, MHD_OPTION_CONNECTION_TIMEOUT,
                                 (unsigned int)10, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errsz, "cannot serve HTTP on port %d (in use?)", port);
        free(h);
        return NULL;
    }
    return h;
}

void ac_http_stop(ac_http_t *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}

void ac_http_beat(ac_http_t *h)
{
    if (h)
        atomic_store(&h->last_beat_ms, ac_time_mono_ms());
}
