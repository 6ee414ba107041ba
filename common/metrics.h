/* Prometheus metrics: counters and gauges with labels, rendered in the text
 * exposition format for GET /metrics. Thread-safe: the HTTP server renders
 * while the worker loop adds. Workers aggregate per batch and add once, so
 * the lock is taken per batch, not per record. */
#ifndef AC_METRICS_H
#define AC_METRICS_H

#include <stddef.h>

typedef struct ac_metrics ac_metrics_t;

typedef enum ac_metric_type { AC_METRIC_COUNTER, AC_METRIC_GAUGE } ac_metric_type_t;

ac_metrics_t *ac_metrics_new(void);
void ac_metrics_destroy(ac_metrics_t *m);

/* Declares a metric family with its HELP text; undeclared families are
 * rendered as untyped. name and help must be string literals or outlive m. */
void ac_metrics_describe(ac_metrics_t *m, const char *name, ac_metric_type_t type,
                         const char *help);

/* Adds v to the series name{labels}; labels is the inside of the braces,
 * e.g. topic="orders",type="order.placed" (values from a fixed set, never
 * from input), or "" for none. The series is created on first use. */
void ac_metrics_add(ac_metrics_t *m, const char *name, const char *labels, double v);

/* Sets a gauge series to v. */
void ac_metrics_set(ac_metrics_t *m, const char *name, const char *labels, double v);

/* The value of a series, 0 when it does not exist; for tests. */
double ac_metrics_get(ac_metrics_t *m, const char *name, const char *labels);

/* Renders every series; the caller frees the text. */
char *ac_metrics_render(ac_metrics_t *m);

#endif
