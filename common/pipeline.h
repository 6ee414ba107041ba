/* The event workers' loop: consume a batch, validate, drop duplicates,
 * decide messages, produce them, and only then mark events done and store
 * offsets (docs/delivery.md). order-worker, shipment-worker and
 * return-worker differ only in their rules. */
#ifndef AC_PIPELINE_H
#define AC_PIPELINE_H

#include "rules.h"
#include "worker.h"

/* Settings of the event workers, to add to their option tables. */
extern const ac_option_t ac_pipeline_options[];
extern const size_t ac_pipeline_n_options;

/* The spec's check: the per-store settings file parses, and the journey
 * outlives every delay. */
int ac_pipeline_check(const ac_config_t *cfg, char *err, size_t errsz);

/* The whole main() of an event worker: its spec (name, summary, default
 * topic; the pipeline's options and check are filled in), then the loop
 * with the topic's rules. Returns the exit status. */
int ac_pipeline_main(const ac_worker_spec_t *spec, ac_rules_fn rules, int argc, char **argv);

/* Runs until the worker is asked to stop. Returns AC_EXIT_OK, or
 * AC_EXIT_RUNTIME after an unrecoverable error. */
int ac_pipeline_run(ac_worker_t *w, ac_rules_fn rules);

#endif
