#include "ihttp.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "buf.h"
#include "log.h"

struct ac_ihttp {
    struct MHD_Daemon *daemon;
    ac_ingest_t *g;
    size_t max_body;
    atomic_int in_flight;
};

/* How much of a query string is handed on: the rating links need a few
 * bytes (?lang=de), and the arguments past this are left out. */
#define MAX_QUERY 1024

/* One request's state, from its headers to its answer. */
typedef struct req {
    char *body;
    size_t len, cap;
    int too_large;
    int is_post;
    int method_ok; /* POST, or GET of a rating link (/r/...) */
} req_t;

static enum MHD_Result reply(struct MHD_Connection *conn, int status, const char *text)
{
    char line[400];
    int n = snprintf(line, sizeof(line), "%s\n", text);
    struct MHD_Response *r =
        MHD_create_response_from_buffer((size_t)n, line, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/plain; charset=utf-8");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Sends a handler's answer: its page when it has one, else its line. */
static enum MHD_Result reply_resp(struct MHD_Connection *conn, const ac_ingest_resp_t *resp)
{
    if (!resp->body)
        return reply(conn, resp->status, resp->text);
    struct MHD_Response *r =
        MHD_create_response_from_buffer(resp->body_len, resp->body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type",
                            resp->content_type ? resp->content_type : "text/plain; charset=utf-8");
    for (size_t i = 0; resp->headers && resp->headers[i] && resp->headers[i + 1]; i += 2)
        MHD_add_response_header(r, resp->headers[i], resp->headers[i + 1]);
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Appends s percent-encoded but for RFC 3986's unreserved characters. */
static void put_encoded(ac_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p)) {
            ac_buf_append(b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            ac_buf_append(b, e, 3);
        }
    }
}

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    ac_buf_t *b = cls;
    (void)kind;
    if (b->len > MAX_QUERY)
        return MHD_NO;
    if (b->len)
        ac_buf_append(b, "&", 1);
    put_encoded(b, key ? key : "");
    if (value) {
        ac_buf_append(b, "=", 1);
        put_encoded(b, value);
    }
    return MHD_YES;
}

/* The request's query string, percent-encoded again from the arguments
 * libmicrohttpd parsed (it keeps no raw copy), or NULL when it has none.
 * The caller frees it. */
static char *query_of(struct MHD_Connection *conn)
{
    ac_buf_t b = AC_BUF_INIT;
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg, &b);
    return ac_buf_steal(&b);
}

static const char *header(void *ctx, const char *name)
{
    return MHD_lookup_connection_value(ctx, MHD_HEADER_KIND, name);
}

/* Appends a chunk of the body, refusing (but still reading) what goes
 * past the limit so the answer can be a clean 413. */
static void append(ac_ihttp_t *h, req_t *r, const char *data, size_t n)
{
    if (r->too_large || r->len + n > h->max_body) {
        r->too_large = 1;
        return;
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = r->cap ? r->cap : 16384;
        while (cap < r->len + n + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b) {
            r->too_large = 1;
            return;
        }
        r->body = b;
        r->cap = cap;
    }
    memcpy(r->body + r->len, data, n);
    r->len += n;
    r->body[r->len] = '\0';
}

/* A first call sets up the request (refusing early what its headers
 * already rule out), later calls bring the body, and the last one answers. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    ac_ihttp_t *h = cls;
    req_t *r = *con_cls;
    (void)version;
    if (!r) {
        if (!(r = calloc(1, sizeof(*r))))
            return MHD_NO;
        *con_cls = r;
        atomic_fetch_add(&h->in_flight, 1);
        r->is_post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
        /* People follow the rating links from an email: those alone are
         * also served to a GET. */
        r->method_ok =
            r->is_post || (strncmp(url, "/r/", 3) == 0 && strcmp(method, MHD_HTTP_METHOD_GET) == 0);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > h->max_body)
            r->too_large = 1;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (r->is_post)
            append(h, r, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (!r->method_ok)
        return reply(conn, 405,
                     strncmp(url, "/r/", 3) == 0 ? "only GET and POST are accepted here"
                                                 : "only POST is accepted here");
    if (r->too_large) {
        /* A rating link's path is its token, which lets anyone holding it
         * rate the order: it stays out of the logs. */
        ac_log(AC_LOG_WARN, "refused a webhook on %s: 413 body over MAX_BODY_BYTES (%zu)",
               strncmp(url, "/r/", 3) == 0 ? "/r/..." : url, h->max_body);
        return reply(conn, 413, "body too large");
    }
    char *query = query_of(conn);
    ac_ingest_req_t req = {
        url, header, conn, r->body ? r->body : "", r->len, r->is_post ? "POST" : "GET", query};
    ac_ingest_resp_t resp = {500, "internal error", NULL, 0, NULL, NULL};
    ac_ingest_handle(h->g, &req, &resp);
    enum MHD_Result ret = reply_resp(conn, &resp);
    free(resp.body);
    free(query);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    ac_ihttp_t *h = cls;
    req_t *r = *con_cls;
    (void)conn;
    (void)toe;
    if (!r)
        return;
    free(r->body);
    free(r);
    *con_cls = NULL;
    atomic_fetch_sub(&h->in_flight, 1);
}

ac_ihttp_t *ac_ihttp_start(int port, unsigned max_connections, size_t max_body, ac_ingest_t *g,
                           char *err, size_t errsz)
{
    ac_ihttp_t *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    h->g = g;
    h->max_body = max_body;
    h->daemon =
        MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                             MHD_USE_ITC | MHD_USE_ERROR_LOG,
                         (uint16_t)port, NULL, NULL, on_request, h, MHD_OPTION_NOTIFY_COMPLETED,
                         on_completed, h, MHD_OPTION_CONNECTION_LIMIT, max_connections,
                         MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)60, MHD_OPTION_END);
    if (!h->daemon) {
        snprintf(err, errsz, "cannot listen on INGEST_PORT %d", port);
        free(h);
        return NULL;
    }
    return h;
}

void ac_ihttp_quiesce(ac_ihttp_t *h)
{
    if (h && h->daemon)
        MHD_quiesce_daemon(h->daemon);
}

int ac_ihttp_in_flight(ac_ihttp_t *h)
{
    return h ? atomic_load(&h->in_flight) : 0;
}

void ac_ihttp_stop(ac_ihttp_t *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    free(h);
}
