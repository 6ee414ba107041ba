#include "delivery.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "timeutil.h"

/* Socket events taken from the kernel per epoll_wait(). */
#define DELIVERY_EVENTS 256

typedef struct request {
    struct request *prev, *next; /* in flight: all of them, for teardown; idle: the free list */
    CURL *easy;
    struct curl_slist *headers;
    void *opaque;
    int64_t retry_after_ms;
    char errbuf[CURL_ERROR_SIZE];
} request_t;

/* The engine drives curl through its socket interface: curl says which
 * sockets to watch for what (on_socket) and when it next needs a call for
 * its timeouts (on_timer); the loop waits on those sockets with epoll and
 * hands curl only the ones that are ready. curl_multi_perform() instead
 * walks every transfer on every call, which with a thousand requests in
 * flight was most of notify-worker's CPU. */
struct ac_delivery {
    CURLM *multi;
    int epfd;   /* the sockets curl watches, and wakefd */
    int wakefd; /* an eventfd, so that ac_delivery_wakeup() works from any thread */
    int max_in_flight;
    int in_flight;
    int running;          /* transfers curl still runs */
    request_t *requests;  /* in flight */
    request_t *idle;      /* finished, their easy handles kept for the next requests */
    int64_t timer_us;     /* when curl wants CURL_SOCKET_TIMEOUT; -1: never */
    unsigned char *watch; /* by socket: the epoll events registered; 0: not registered */
    size_t nwatch;
    long connect_timeout_ms, timeout_ms;
};

/* Microseconds of the monotonic clock: curl's timer is in milliseconds,
 * and rounding "now" down to them would wake the loop before the timer
 * is due, then call curl for nothing until the millisecond turns. */
static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* CURLMOPT_TIMERFUNCTION: curl asks to be called with CURL_SOCKET_TIMEOUT
 * after timeout_ms (-1: not at all). Only noted here, since curl must not
 * be called back from inside its own callback; ac_delivery_poll() waits no
 * longer than this. */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    ac_delivery_t *d = userp;
    (void)multi;
    d->timer_us = timeout_ms < 0 ? -1 : mono_us() + (int64_t)timeout_ms * 1000;
    return 0;
}

/* Makes room in the table of watched sockets for fd. */
static int watch_grow(ac_delivery_t *d, curl_socket_t fd)
{
    if ((size_t)fd < d->nwatch)
        return 0;
    size_t n = d->nwatch ? d->nwatch : 1024;
    while (n <= (size_t)fd)
        n *= 2;
    unsigned char *w = realloc(d->watch, n);
    if (!w)
        return -1;
    memset(w + d->nwatch, 0, n - d->nwatch);
    d->watch = w;
    d->nwatch = n;
    return 0;
}

/* CURLMOPT_SOCKETFUNCTION: curl says what it now waits for on socket s.
 * What is registered is kept in a table by descriptor rather than in
 * memory assigned to the socket, so that a connection costs no
 * allocation; an add that finds the descriptor already known (curl closed
 * a socket without saying, and the number came back) falls back to a
 * modify, and the other way round. */
static int on_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    ac_delivery_t *d = userp;
    (void)easy;
    (void)socketp;
    if (s < 0 || watch_grow(d, s) != 0)
        return -1;
    if (what == CURL_POLL_REMOVE) {
        if (d->watch[s])
            epoll_ctl(d->epfd, EPOLL_CTL_DEL, s, NULL);
        d->watch[s] = 0;
        return 0;
    }
    struct epoll_event ev = {0};
    ev.events = ((what & CURL_POLL_IN) ? EPOLLIN : 0) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0);
    ev.data.fd = s;
    if (ev.events == (unsigned)d->watch[s])
        return 0;
    int op = d->watch[s] ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(d->epfd, op, s, &ev) != 0) {
        op = errno == ENOENT ? EPOLL_CTL_ADD : errno == EEXIST ? EPOLL_CTL_MOD : -1;
        if (op < 0 || epoll_ctl(d->epfd, op, s, &ev) != 0)
            return -1;
    }
    d->watch[s] = (unsigned char)ev.events;
    return 0;
}

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
    if (!d) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    d->epfd = epoll_create1(EPOLL_CLOEXEC);
    d->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    d->timer_us = -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = d->wakefd};
    if (d->epfd < 0 || d->wakefd < 0 || epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->wakefd, &ev) != 0) {
        snprintf(err, errsz, "cannot set up the event loop: %s", strerror(errno));
        goto fail;
    }
    if (!(d->multi = curl_multi_init())) {
        snprintf(err, errsz, "out of memory");
        goto fail;
    }
    d->max_in_flight = max_in_flight;
    d->connect_timeout_ms = connect_timeout_ms;
    d->timeout_ms = timeout_ms;
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(d->multi, CURLMOPT_SOCKETDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(d->multi, CURLMOPT_TIMERDATA, d);
    curl_multi_setopt(d->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
    curl_multi_setopt(d->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)max_in_flight);
    curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, (long)max_in_flight);
    return d;
fail:
    ac_delivery_destroy(d);
    return NULL;
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
    while (d->idle) {
        request_t *r = d->idle;
        d->idle = r->next;
        request_free(r);
    }
    /* Closing the cached connections calls on_socket(), which needs the
     * epoll set: it goes after. */
    if (d->multi)
        curl_multi_cleanup(d->multi);
    if (d->wakefd >= 0)
        close(d->wakefd);
    if (d->epfd >= 0)
        close(d->epfd);
    free(d->watch);
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

/* A request with an easy handle carrying the options every request has:
 * one kept from a finished request when there is one, since creating and
 * configuring a handle costs more than the rest of a request's setup. */
static request_t *request_get(ac_delivery_t *d)
{
    request_t *r = d->idle;
    if (r) {
        d->idle = r->next;
        r->next = r->prev = NULL;
        r->errbuf[0] = '\0';
        return r;
    }
    if (!(r = calloc(1, sizeof(*r))) || !(r->easy = curl_easy_init())) {
        free(r);
        return NULL;
    }
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_POST, 1L);
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
    return r;
}

/* Takes a finished request out of the list in flight and keeps its easy
 * handle for reuse; its headers, which the caller gave for that request
 * only, are freed. */
static void request_put(ac_delivery_t *d, request_t *r)
{
    curl_multi_remove_handle(d->multi, r->easy);
    if (r->prev)
        r->prev->next = r->next;
    else if (d->requests == r)
        d->requests = r->next;
    if (r->next)
        r->next->prev = r->prev;
    d->in_flight--;
    curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(r->headers);
    r->headers = NULL;
    r->opaque = NULL;
    r->prev = NULL;
    r->next = d->idle;
    d->idle = r;
}

int ac_delivery_post(ac_delivery_t *d, const char *url, struct curl_slist *headers,
                     const char *body, size_t len, void *opaque)
{
    request_t *r = NULL;
    if (d->in_flight >= d->max_in_flight || !(r = request_get(d))) {
        curl_slist_free_all(headers);
        return -1;
    }
    r->headers = headers;
    r->opaque = opaque;
    r->retry_after_ms = -1;
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    /* Adding sets curl's timer to fire at once: the next poll starts the
     * transfer, together with the others added before it. */
    if (curl_multi_add_handle(d->multi, e) != CURLM_OK) {
        request_free(r);
        return -1;
    }
    r->next = d->requests;
    if (d->requests)
        d->requests->prev = r;
    d->requests = r;
    d->in_flight++;
    return 0;
}

/* Moves up to max completed transfers from curl into out. */
static int harvest(ac_delivery_t *d, ac_delivery_result_t *out, int max)
{
    int got = 0, left = 0;
    CURLMsg *msg;
    while (got < max && (msg = curl_multi_info_read(d->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        request_t *r = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        ac_delivery_result_t *res = &out[got++];
        res->opaque = r->opaque;
        res->curl_code = msg->data.result;
        res->retry_after_ms = r->retry_after_ms;
        res->status = 0;
        res->error[0] = '\0';
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &res->status);
        if (res->curl_code != CURLE_OK)
            snprintf(res->error, sizeof(res->error), "%s",
                     r->errbuf[0] ? r->errbuf : curl_easy_strerror(msg->data.result));
        else if (res->status < 200 || res->status >= 300)
            snprintf(res->error, sizeof(res->error), "HTTP %ld", res->status);
        request_put(d, r);
    }
    return got;
}

/* Gives curl its timeout call when the timer is due. */
static void run_timer(ac_delivery_t *d)
{
    if (d->timer_us >= 0 && mono_us() >= d->timer_us) {
        d->timer_us = -1;
        curl_multi_socket_action(d->multi, CURL_SOCKET_TIMEOUT, 0, &d->running);
    }
}

/* Milliseconds epoll may wait: up to until_us, but not past curl's timer,
 * rounded up so that the wait does not end just short of it. */
static int wait_ms(const ac_delivery_t *d, int64_t until_us)
{
    if (d->timer_us >= 0 && d->timer_us < until_us)
        until_us = d->timer_us;
    int64_t left = until_us - mono_us();
    return left <= 0 ? 0 : (int)((left + 999) / 1000);
}

/* Waits up to ms for sockets, hands curl the ready ones and then its
 * timeout call if due. Returns 1 when ac_delivery_wakeup() was called. */
static int wait_once(ac_delivery_t *d, int ms)
{
    struct epoll_event ev[DELIVERY_EVENTS];
    int woken = 0;
    int n = epoll_wait(d->epfd, ev, DELIVERY_EVENTS, ms);
    for (int i = 0; i < n; i++) {
        int fd = ev[i].data.fd;
        if (fd == d->wakefd) {
            uint64_t v;
            while (read(d->wakefd, &v, sizeof(v)) == (ssize_t)sizeof(v))
                ;
            woken = 1;
            continue;
        }
        uint32_t e = ev[i].events;
        int what = ((e & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) ? CURL_CSELECT_IN : 0) |
                   ((e & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                   ((e & EPOLLERR) ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(d->multi, fd, what, &d->running);
    }
    run_timer(d);
    return woken;
}

int ac_delivery_poll(ac_delivery_t *d, int timeout_ms, ac_delivery_result_t *out, int max)
{
    /* Results a previous call had no room for go out without a wait; the
     * timer is due at once when transfers were just added, which starts
     * them. */
    run_timer(d);
    int got = harvest(d, out, max);
    if (got > 0)
        return got;
    int64_t until_us = mono_us() + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000;
    for (;;) {
        int woken = wait_once(d, wait_ms(d, until_us));
        got = harvest(d, out, max);
        if (got > 0 || woken || mono_us() >= until_us)
            return got;
    }
}

void ac_delivery_wakeup(ac_delivery_t *d)
{
    uint64_t one = 1;
    /* Fails only when the counter is full, when a wakeup is pending anyway. */
    ssize_t rc = write(d->wakefd, &one, sizeof(one));
    (void)rc;
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
