#include "delivery.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "timeutil.h"

typedef struct request {
    struct request *prev, *next; /* every request in flight, for teardown */
    CURL *easy;
    struct curl_slist *headers;
    void *opaque;
    int64_t retry_after_ms;
    char errbuf[CURL_ERROR_SIZE];
} request_t;

struct ac_delivery {
    CURLM *multi;
    int max_in_flight;
    int in_flight;
    request_t *requests;
    long connect_timeout_ms, timeout_ms;
    int added; /* requests were added since the last curl_multi_perform() */
};

ac_delivery_t *ac_delivery_new(int max_in_flight, long connect_timeout_ms, long timeout_ms,
                               char *err, size_t errsz)
{
    static int curl_ready;
    if (!curl_ready) {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            snprintf(err, errsz, "libcurl failed to initialise");
            return NULL;
        }
        curl_ready = 1;
    }
    ac_delivery_t *d = calloc(1, sizeof(*d));
    if (!d || !(d->multi = curl_multi_init())) {
        free(d);
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    d->max_in_flight = max_in_flight;
    d->connect_timeout_ms = connect_timeout_ms;
    d->timeout_ms = timeout_ms;
    curl_multi_setopt(d->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(d->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)max_in_flight);
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, (long)max_in_flight);
    return d;
}

static void request_free(request_t *r)
{
    if (!r)
        return;
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    free(r);
}

void ac_delivery_destroy(ac_delivery_t *d)
{
    if (!d)
        return;
    while (d->requests) {
        request_t *r = d->requests;
        d->requests = r->next;
        curl_multi_remove_handle(d->multi, r->easy);
        request_free(r);
    }
    curl_multi_cleanup(d->multi);
    free(d);
}

/* Keeps the Retry-After header of the response, if any. */
static size_t on_header(char *buf, size_t size, size_t n, void *userdata)
{
    request_t *r = userdata;
    size_t len = size * n;
    if (len > 12 && strncasecmp(buf, "Retry-After:", 12) == 0) {
        char value[64];
        size_t vlen = len - 12 < sizeof(value) - 1 ? len - 12 : sizeof(value) - 1;
        memcpy(value, buf + 12, vlen);
        value[vlen] = '\0';
        r->retry_after_ms = ac_delivery_parse_retry_after(value, ac_time_now_ms());
    }
    return len;
}

/* Response bodies are not needed: providers' answers are judged by status. */
static size_t discard(char *buf, size_t size, size_t n, void *userdata)
{
    (void)buf;
    (void)userdata;
    return size * n;
}

int ac_delivery_post(ac_delivery_t *d, const char *url, struct curl_slist *headers,
                     const char *body, size_t len, void *opaque)
{
    if (d->in_flight >= d->max_in_flight) {
        curl_slist_free_all(headers);
        return -1;
    }
    request_t *r = calloc(1, sizeof(*r));
    if (!r) {
        curl_slist_free_all(headers);
        return -1;
    }
    r->headers = headers;
    r->opaque = opaque;
    r->retry_after_ms = -1;
    r->easy = curl_easy_init();
    if (!r->easy)
        goto fail;
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, d->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, d->timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* No CURLOPT_PIPEWAIT: waiting for a connection that might multiplex
     * counts against CURLOPT_TIMEOUT_MS, so against an HTTP/1.1 receiver a
     * burst timed out in the queue before a byte was sent, and a request
     * the receiver had accepted was sent again. */
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "aftercare/" AC_VERSION);
    if (curl_multi_add_handle(d->multi, e) != CURLM_OK)
        goto fail;
    r->next = d->requests;
    if (d->requests)
        d->requests->prev = r;
    d->requests = r;
    d->in_flight++;
    d->added = 1;
    return 0;
fail:
    request_free(r);
    return -1;
}

int ac_delivery_poll(ac_delivery_t *d, int timeout_ms, ac_delivery_result_t *out, int max)
{
    int running = 0, got = 0, left = 0;
    /* A perform walks every transfer, which with hundreds in flight is
     * most of the loop's work: before the wait it only starts the new
     * ones, so it is skipped when there are none. */
    if (d->added) {
        d->added = 0;
        curl_multi_perform(d->multi, &running);
    }
    /* curl_multi_poll() waits out the timeout even with nothing in flight,
     * which is what keeps an idle loop from spinning. */
    if (timeout_ms > 0)
        curl_multi_poll(d->multi, NULL, 0, timeout_ms, NULL);
    curl_multi_perform(d->multi, &running);
    CURLMsg *msg;
    while (got < max && (msg = curl_multi_info_read(d->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        request_t *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        ac_delivery_result_t *res = &out[got++];
        memset(res, 0, sizeof(*res));
        res->opaque = r->opaque;
        res->curl_code = msg->data.result;
        res->retry_after_ms = r->retry_after_ms;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &res->status);
        if (res->curl_code != CURLE_OK)
            snprintf(res->error, sizeof(res->error), "%s",
                     r->errbuf[0] ? r->errbuf : curl_easy_strerror(msg->data.result));
        else if (res->status < 200 || res->status >= 300)
            snprintf(res->error, sizeof(res->error), "HTTP %ld", res->status);
        curl_multi_remove_handle(d->multi, msg->easy_handle);
        if (r->prev)
            r->prev->next = r->next;
        else
            d->requests = r->next;
        if (r->next)
            r->next->prev = r->prev;
        request_free(r);
        d->in_flight--;
    }
    return got;
}

void ac_delivery_wakeup(ac_delivery_t *d)
{
    curl_multi_wakeup(d->multi);
}

int ac_delivery_in_flight(const ac_delivery_t *d)
{
    return d->in_flight;
}

ac_outcome_t ac_delivery_outcome(long status, int curl_code)
{
    if (curl_code != CURLE_OK)
        return AC_OUTCOME_RETRY;
    if (status >= 200 && status < 300)
        return AC_OUTCOME_DELIVERED;
    if (status == 408 || status == 425 || status == 429 || status >= 500)
        return AC_OUTCOME_RETRY;
    return AC_OUTCOME_PERMANENT;
}

const char *ac_delivery_result_class(long status, int curl_code)
{
    if (curl_code == CURLE_OPERATION_TIMEDOUT)
        return "timeout";
    if (curl_code != CURLE_OK)
        return "error";
    if (status >= 200 && status < 300)
        return "ok";
    if (status == 429)
        return "throttled";
    if (status >= 400 && status < 500)
        return "client_error";
    if (status >= 500)
        return "server_error";
    return "error"; /* 1xx or 3xx: not an answer a provider should give */
}

int64_t ac_delivery_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms, int64_t retry_after_ms,
                               uint32_t rnd)
{
    if (attempt < 1)
        attempt = 1;
    int64_t ceiling = base_ms;
    for (int i = 1; i < attempt && ceiling < max_ms; i++)
        ceiling *= 2;
    if (ceiling > max_ms)
        ceiling = max_ms;
    /* Half fixed, half random: never zero, still spread out. */
    int64_t delay = ceiling / 2 + (int64_t)(rnd % (uint32_t)(ceiling / 2 + 1));
    if (retry_after_ms >= 0 && delay < retry_after_ms)
        delay = retry_after_ms;
    return delay;
}

int64_t ac_delivery_parse_retry_after(const char *value, int64_t now_ms)
{
    while (*value == ' ' || *value == '\t')
        value++;
    if (isdigit((unsigned char)*value)) {
        char *end;
        long long secs = strtoll(value, &end, 10);
        while (*end == ' ' || *end == '\r' || *end == '\n')
            end++;
        if (*end || secs < 0 || secs > 86400LL * 365)
            return -1;
        return secs * 1000;
    }
    /* An HTTP-date: "Wed, 21 Oct 2015 07:28:00 GMT". */
    time_t t = curl_getdate(value, NULL);
    if (t < 0)
        return -1;
    int64_t delay = (int64_t)t * 1000 - now_ms;
    return delay > 0 ? delay : 0;
}
