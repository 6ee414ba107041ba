#include "ingest_bg.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bcfetch.h"
#include "bigcommerce.h"
#include "log.h"
#include "timeutil.h"

#define MAX_FETCHERS 16

struct ac_ingest_bg {
    ac_ingest_t *g;
    ac_ictx_t *ictx;
    ac_metrics_t *m;
    ac_ingest_bg_opts_t o;
    atomic_int stop;
    pthread_t sweeper;
    pthread_t fetchers[MAX_FETCHERS];
    int n_fetchers, sweeper_started;
};

/* Sleeps ms in short steps, returning early once asked to stop. */
static void nap(ac_ingest_bg_t *bg, int64_t ms)
{
    for (int64_t slept = 0; slept < ms && !atomic_load(&bg->stop); slept += 100) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

/* Maps a fetched order and delivers its events; 0 when finished. */
static int64_t deliver_order(ac_ingest_bg_t *bg, const ac_store_creds_t *s, json_object *order,
                             json_object *products, json_object *shipments)
{
    char err[256];
    int parked = 0;
    ac_canon_batch_t b;
    ac_canon_in_t in = {"bigcommerce", "", NULL, NULL, &s->store, NULL};
    ac_canon_batch_init(&b);
    int64_t retry = 0;
    ac_canon_rc_t rc = ac_bigc_map(&in, order, products, shipments, &b, err, sizeof(err));
    if (rc == AC_CANON_INVALID) {
        json_object *arr = json_object_new_array();
        json_object_array_add(arr, json_object_get(order));
        if (ac_ingest_dead_letter(bg->g, arr, "invalid_payload", err, err, sizeof(err)) < 0)
            retry = ac_time_now_ms() + bg->o.bigc_retry_ms;
        json_object_put(arr);
    } else if (rc == AC_CANON_OK &&
               ac_ingest_deliver(bg->g, s, "bigcommerce", &b, &parked, err, sizeof(err)) < 0) {
        ac_log(AC_LOG_WARN, "bigcommerce: store %s: cannot deliver an order yet: %s", s->store.id,
               err);
        retry = ac_time_now_ms() + bg->o.bigc_retry_ms;
    }
    ac_canon_batch_clear(&b);
    return retry;
}

int64_t ac_ingest_bg_fetch_one(ac_ingest_bg_t *bg, const char *store, const char *order_id)
{
    char err[256];
    json_object *order = NULL, *products = NULL, *shipments = NULL;
    const ac_store_creds_t *s = ac_creds_by_id(ac_ingest_creds(bg->g), store);
    if (!s || !s->has_bigcommerce) {
        ac_log(AC_LOG_WARN, "bigcommerce: dropping a fetch for store %s, no longer configured",
               store);
        return 0;
    }
    ac_bcfetch_rc_t rc =
        ac_bcfetch_order(bg->o.bigc_api_url, s->bigc_store_hash, s->bigc_api_token, order_id,
                         bg->o.bigc_timeout_ms, &order, &products, &shipments, err, sizeof(err));
    int64_t retry = 0;
    if (rc == AC_BCFETCH_RETRY) {
        ac_log(AC_LOG_WARN, "bigcommerce: store %s: %s; retrying", store, err);
        retry = ac_time_now_ms() + bg->o.bigc_retry_ms;
    } else if (rc == AC_BCFETCH_OK) {
        retry = deliver_order(bg, s, order, products, shipments);
    }
    json_object_put(order);
    json_object_put(products);
    json_object_put(shipments);
    return retry;
}

static void *fetch_loop(void *arg)
{
    ac_ingest_bg_t *bg = arg;
    /* A claim outlives the slowest fetch (three API calls) with room to
     * spare, so no two replicas fetch one order at once. */
    int64_t lease = 3 * bg->o.bigc_timeout_ms + 30000;
    while (!atomic_load(&bg->stop)) {
        char err[256], *store = NULL, *order = NULL;
        int64_t claim = 0;
        int got = ac_ictx_job_claim(bg->ictx, ac_time_now_ms(), lease, &store, &order, &claim, err,
                                    sizeof(err));
        if (got <= 0) {
            nap(bg, got < 0 ? 1000 : 200);
            continue;
        }
        int64_t retry = ac_ingest_bg_fetch_one(bg, store, order);
        if (ac_ictx_job_done(bg->ictx, store, order, claim, retry, err, sizeof(err)) < 0)
            ac_log(AC_LOG_WARN, "bigcommerce: cannot finish a fetch (it is retried): %s", err);
        free(store);
        free(order);
    }
    return NULL;
}

/* Dead-letters the parked events of orders that never arrived, one order
 * at a time, and refreshes the gauges. */
static void sweep(ac_ingest_bg_t *bg)
{
    char err[256];
    for (int i = 0; i < 100 && !atomic_load(&bg->stop); i++) {
        char *store = NULL, *order = NULL;
        json_object *events = NULL;
        int got = ac_ictx_take_expired(bg->ictx, ac_time_now_ms(), 60000, &store, &order, &events,
                                       err, sizeof(err));
        if (got <= 0)
            break;
        size_t n = json_object_array_length(events);
        if (ac_ingest_dead_letter(bg->g, events, "order_unknown",
                                  "its order did not arrive within ORDER_WAIT", err,
                                  sizeof(err)) == 0) {
            if (n)
                ac_log(AC_LOG_WARN,
                       "ingest: store %s: %zu event(s) dead-lettered, their order "
                       "never arrived",
                       store, n);
            ac_ictx_expired_done(bg->ictx, store, order, n, err, sizeof(err));
        }
        json_object_put(events);
        free(store);
        free(order);
    }
    long long waiting = ac_ictx_waiting(bg->ictx), jobs = ac_ictx_jobs(bg->ictx);
    if (waiting >= 0)
        ac_metrics_set(bg->m, "aftercare_ingest_waiting", "", (double)waiting);
    if (jobs >= 0)
        ac_metrics_set(bg->m, "aftercare_ingest_bigcommerce_jobs", "", (double)jobs);
}

static void *sweep_loop(void *arg)
{
    ac_ingest_bg_t *bg = arg;
    while (!atomic_load(&bg->stop)) {
        sweep(bg);
        nap(bg, bg->o.sweep_interval_ms);
    }
    return NULL;
}

ac_ingest_bg_t *ac_ingest_bg_start(ac_ingest_t *g, ac_ictx_t *ictx, ac_metrics_t *m,
                                   const ac_ingest_bg_opts_t *o, char *err, size_t errsz)
{
    ac_ingest_bg_t *bg = calloc(1, sizeof(*bg));
    if (!bg) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    bg->g = g;
    bg->ictx = ictx;
    bg->m = m;
    bg->o = *o;
    if (pthread_create(&bg->sweeper, NULL, sweep_loop, bg) != 0)
        goto fail;
    bg->sweeper_started = 1;
    for (int i = 0; i < o->fetchers && i < MAX_FETCHERS; i++) {
        if (pthread_create(&bg->fetchers[i], NULL, fetch_loop, bg) != 0)
            goto fail;
        bg->n_fetchers++;
    }
    return bg;
fail:
    snprintf(err, errsz, "cannot start the background threads");
    ac_ingest_bg_stop(bg);
    return NULL;
}

void ac_ingest_bg_stop(ac_ingest_bg_t *bg)
{
    if (!bg)
        return;
    atomic_store(&bg->stop, 1);
    if (bg->sweeper_started)
        pthread_join(bg->sweeper, NULL);
    for (int i = 0; i < bg->n_fetchers; i++)
        pthread_join(bg->fetchers[i], NULL);
    free(bg);
}
