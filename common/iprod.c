#include "iprod.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kafka.h"
#include "log.h"

/* What one request waits on. It lives on the heap: a request that gave
 * up waiting (abandoned) leaves it to the last delivery report to free. */
typedef struct waiter {
    int pending;
    int abandoned;
    rd_kafka_resp_err_t err;
    pthread_cond_t cond;
} waiter_t;

struct ac_iprod {
    rd_kafka_t *rk;
    pthread_t thread;
    int thread_started;
    atomic_int stop;
    atomic_int connected;
    int64_t timeout_ms;
    pthread_mutex_t lock; /* guards every waiter's pending and err */
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    ac_iprod_t *p = opaque;
    waiter_t *w = msg->_private;
    (void)rk;
    if (!w)
        return;
    pthread_mutex_lock(&p->lock);
    if (msg->err && !w->err)
        w->err = msg->err;
    if (!msg->err)
        atomic_store(&p->connected, 1);
    int last = --w->pending == 0;
    /* Read under the lock: once it is released, a waiter that was not
     * abandoned belongs to its request again, which frees it. */
    int orphan = last && w->abandoned;
    if (last && !orphan)
        pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&p->lock);
    if (orphan) {
        pthread_cond_destroy(&w->cond);
        free(w);
    }
}

/* Serves delivery reports, and every few seconds asks a broker for
 * metadata so that readiness follows the cluster even when no webhook
 * arrives. */
static void *run(void *arg)
{
    ac_iprod_t *p = arg;
    int turns = 0;
    while (!atomic_load(&p->stop)) {
        rd_kafka_poll(p->rk, 100);
        if (turns++ % 30 == 0) {
            const struct rd_kafka_metadata *md = NULL;
            int ok = rd_kafka_metadata(p->rk, 0, NULL, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR;
            if (md)
                rd_kafka_metadata_destroy(md);
            atomic_store(&p->connected, ok);
        }
    }
    return NULL;
}

ac_iprod_t *ac_iprod_new(const ac_config_t *cfg, const char *client_id, int64_t timeout_ms,
                         char *err, size_t errsz)
{
    ac_iprod_t *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    p->timeout_ms = timeout_ms;
    p->rk = ac_kafka_producer_new_bounded(cfg, client_id, on_delivery, p, timeout_ms, err, errsz);
    if (!p->rk)
        goto fail;
    if (pthread_create(&p->thread, NULL, run, p) != 0) {
        snprintf(err, errsz, "cannot start the delivery report thread");
        goto fail;
    }
    p->thread_started = 1;
    return p;
fail:
    ac_iprod_destroy(p, 0);
    return NULL;
}

/* Produces one record for w; the report decrements w->pending. */
static rd_kafka_resp_err_t produce_one(ac_iprod_t *p, const ac_iprod_rec_t *r, waiter_t *w)
{
    rd_kafka_headers_t *hdrs = NULL;
    if (r->headers) {
        hdrs = rd_kafka_headers_new(4);
        for (const char *const *h = r->headers; h[0] && h[1]; h += 2)
            rd_kafka_header_add(hdrs, h[0], -1, h[1], -1);
    }
    rd_kafka_resp_err_t e = rd_kafka_producev(
        p->rk, RD_KAFKA_V_TOPIC(r->topic), RD_KAFKA_V_KEY(r->key, strlen(r->key)),
        RD_KAFKA_V_VALUE((void *)r->value, r->len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(w), RD_KAFKA_V_END);
    if (e && hdrs)
        rd_kafka_headers_destroy(hdrs);
    return e;
}

/* Waits for w's reports until deadline; 0 when all arrived, else -1 and w
 * is abandoned to the reports still due. Called with p->lock held. */
static int wait_reports(ac_iprod_t *p, waiter_t *w, const struct timespec *deadline)
{
    while (w->pending > 0)
        if (pthread_cond_timedwait(&w->cond, &p->lock, deadline) != 0 && w->pending > 0) {
            w->abandoned = 1;
            return -1;
        }
    return 0;
}

int ac_iprod_send(ac_iprod_t *p, const ac_iprod_rec_t *recs, size_t n, char *err, size_t errsz)
{
    rd_kafka_resp_err_t failed = RD_KAFKA_RESP_ERR_NO_ERROR;
    waiter_t *w = calloc(1, sizeof(*w));
    struct timespec deadline;
    if (!w) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &attr);
    pthread_condattr_destroy(&attr);
    for (size_t i = 0; i < n; i++) {
        pthread_mutex_lock(&p->lock);
        w->pending++;
        pthread_mutex_unlock(&p->lock);
        rd_kafka_resp_err_t e = produce_one(p, &recs[i], w);
        if (e) {
            /* Nothing was queued for this record (a full local queue, say):
             * the request fails, after the records already queued report. */
            pthread_mutex_lock(&p->lock);
            w->pending--;
            pthread_mutex_unlock(&p->lock);
            failed = e;
            break;
        }
    }
    /* librdkafka reports a record it could not deliver after
     * message.timeout.ms, but not always promptly (an idempotent producer
     * waits for its state to settle): the answer must not wait longer than
     * the platform does, so the request gives up a little after the
     * timeout itself. */
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)(p->timeout_ms / 1000);
    deadline.tv_nsec += (long)(p->timeout_ms % 1000) * 1000000L + 200000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->lock);
    int timed_out = wait_reports(p, w, &deadline) < 0;
    if (!failed)
        failed = timed_out ? RD_KAFKA_RESP_ERR__MSG_TIMED_OUT : w->err;
    pthread_mutex_unlock(&p->lock);
    if (!timed_out) {
        pthread_cond_destroy(&w->cond);
        free(w);
    }
    if (failed) {
        snprintf(err, errsz, "kafka: %s", rd_kafka_err2str(failed));
        return -1;
    }
    return 0;
}

int ac_iprod_connected(ac_iprod_t *p)
{
    return p && atomic_load(&p->connected);
}

void ac_iprod_destroy(ac_iprod_t *p, int timeout_ms)
{
    if (!p)
        return;
    if (p->rk && rd_kafka_flush(p->rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
        ac_log(AC_LOG_WARN, "kafka: %d record(s) not delivered at shutdown",
               rd_kafka_outq_len(p->rk));
    atomic_store(&p->stop, 1);
    if (p->thread_started)
        pthread_join(p->thread, NULL);
    if (p->rk)
        rd_kafka_destroy(p->rk);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
