/* Prometheus metrics: counters, gauges and histograms with labels, rendered in the text
 * exposition format for GET /metrics. Thread-safe: the HTTP server renders
 * while the worker loop adds. Workers aggregate per batch and add once, so
 * the lock is taken per batch, not per record. */
#ifndef AC_METRICS_H
#define AC_METRICS_H

#include <stddef.h>

typedef struct ac_metrics ac_metrics_t;

typedef enum ac_metric_type {
    AC_METRIC_COUNTER,
    AC_METRIC_GAUGE,
    AC_METRIC_HISTOGRAM
} ac_metric_type_t;

/* Bucket bounds in seconds for latencies, from 1 ms to 5 minutes: wide
 * enough for a batch (milliseconds) and a retried delivery (minutes). */
#define AC_METRICS_LATENCY_BUCKETS                                                                 \
    {                                                                                              \
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300        \
    }
#define AC_METRICS_MAX_BUCKETS 24

ac_metrics_t *ac_metrics_new(void);
void ac_metrics_destroy(ac_metrics_t *m);

/* Declares a metric family with its HELP text; undeclared families are
 * rendered as untyped. name and help must be string literals or outlive m. */
void ac_metrics_describe(ac_metrics_t *m, const char *name, ac_metric_type_t type,
                         const char *help);

/* Declares a histogram family with its bucket upper bounds (ascending,
 * at most AC_METRICS_MAX_BUCKETS; +Inf is implied). bounds is copied. */
void ac_metrics_describe_histogram(ac_metrics_t *m, const char *name, const char *help,
                                   const double *bounds, size_t n_bounds);

/* Records count observations of value v in the histogram series
 * name{labels}; count lets a batch record its records in one call. */
void ac_metrics_observe(ac_metrics_t *m, const char *name, const char *labels, double v,
                        unsigned count);

/* Removes a series, e.g. the gauge of a partition no longer assigned. */
void ac_metrics_remove(ac_metrics_t *m, const char *name, const char *labels);

/* Adds v to the series name{labels}; labels is the inside of the braces,
 * e.g. topic="orders",type="order.placed" (values from a fixed set, never
 * from input), or "" for none. The series is created on first use. */
void ac_metrics_add(ac_metrics_t *m, const char *name, const char *labels, double v);

/* Sets a gauge series to v. */
void ac_metrics_set(ac_metrics_t *m, const char *name, const char *labels, double v);

/* The value of a series, 0 when it does not exist; for tests. For a
 * histogram series, its count. */
double ac_metrics_get(ac_metrics_t *m, const char *name, const char *labels);

/* Renders every series; the caller frees the text. */
char *ac_metrics_render(ac_metrics_t *m);

#endif
