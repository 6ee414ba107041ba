/* notify-worker's loop: consumes decided messages, claims each in Redis,
 * renders and POSTs it with many requests in flight, records it sent, and
 * stores offsets in order as records finish (docs/delivery.md). Transient
 * failures are retried with backoff while consumption goes on; permanent
 * ones and exhausted retries go to the dead-letter topic with the reason. */
#ifndef AC_NOTIFY_H
#define AC_NOTIFY_H

#include "stores.h"
#include "render.h"
#include "worker.h"

extern const ac_option_t ac_notify_options[];
extern const size_t ac_notify_n_options;

/* The spec's check: providers, STORE_SETTINGS and TEMPLATE_DIR. */
int ac_notify_check(const ac_config_t *cfg, char *err, size_t errsz);

/* Loads the per-store settings (links, referral codes) and the template
 * overrides; both are the caller's to destroy. Returns 0, or -1 with one
 * line in err naming the setting. */
int ac_notify_load_extras(const ac_config_t *cfg, ac_stores_t **stores, ac_templates_t **templates,
                          char *err, size_t errsz);

/* The producer delivery report notify-worker needs; put it in its spec. */
void ac_notify_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque);

/* notify-worker's whole main(): its spec, settings, loop and exit
 * status, as ac_pipeline_main() is the event workers'. */
int ac_notify_main(int argc, char **argv);

/* Runs until the worker is asked to stop and in-flight work is finished or
 * SHUTDOWN_TIMEOUT passed. Returns an AC_EXIT_* status. */
int ac_notify_run(ac_worker_t *w);

#endif
