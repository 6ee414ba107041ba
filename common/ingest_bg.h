/* The ingest gateway's background work, on its own threads so that no
 * webhook waits for it:
 *   - fetchers take BigCommerce orders to fetch (ictx.h), read them
 *     through the API (bcfetch.h), map (bigcommerce.h) and deliver them;
 *   - a sweeper dead-letters thin events whose order did not arrive
 *     within ORDER_WAIT (reason order_unknown) and keeps the gauges. */
#ifndef AC_INGEST_BG_H
#define AC_INGEST_BG_H

#include <stddef.h>
#include <stdint.h>

#include "ictx.h"
#include "ingest.h"
#include "metrics.h"

typedef struct ac_ingest_bg_opts {
    const char *bigc_api_url;  /* BIGCOMMERCE_API_URL */
    int64_t bigc_timeout_ms;   /* BIGCOMMERCE_TIMEOUT, per API call */
    int64_t bigc_retry_ms;     /* wait after an API failure */
    int fetchers;              /* BIGCOMMERCE_FETCHERS threads */
    int64_t sweep_interval_ms; /* how often the sweeper looks */
} ac_ingest_bg_opts_t;

typedef struct ac_ingest_bg ac_ingest_bg_t;

/* Starts the threads; everything given must outlive them. NULL with err. */
ac_ingest_bg_t *ac_ingest_bg_start(ac_ingest_t *g, ac_ictx_t *ictx, ac_metrics_t *m,
                                   const ac_ingest_bg_opts_t *o, char *err, size_t errsz);

/* Asks the threads to stop and joins them (a fetch in progress finishes
 * within its timeout). Accepts NULL. */
void ac_ingest_bg_stop(ac_ingest_bg_t *bg);

/* One fetch of a claimed BigCommerce order, for tests and the threads:
 * returns 0 when the job is finished (delivered, gone or dead-lettered),
 * or the time to retry at. */
int64_t ac_ingest_bg_fetch_one(ac_ingest_bg_t *bg, const char *store, const char *order);

#endif
