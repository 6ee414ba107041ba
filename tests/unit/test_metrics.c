/* Prometheus exposition of counters and gauges. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "metrics.h"
#include "test_util.h"

static void counters_add_and_render(void **state)
{
    ac_metrics_t *m = ac_metrics_new();
    ac_metrics_describe(m, "aftercare_events_consumed_total", AC_METRIC_COUNTER, "Records.");
    ac_metrics_add(m, "aftercare_events_consumed_total", "topic=\"orders\",type=\"order.placed\"",
                   2);
    ac_metrics_add(m, "aftercare_events_consumed_total", "topic=\"orders\",type=\"order.placed\"",
                   3);
    ac_metrics_add(m, "aftercare_events_consumed_total", "topic=\"orders\",type=\"invalid\"", 1);
    ac_metrics_set(m, "aftercare_in_flight", "", 7);
    ac_metrics_set(m, "aftercare_in_flight", "", 4);
    assert_true(ac_metrics_get(m, "aftercare_events_consumed_total",
                               "topic=\"orders\",type=\"order.placed\"") == 5);
    char *text = ac_metrics_render(m);
    assert_contains(text, "# HELP aftercare_events_consumed_total Records.\n");
    assert_contains(text, "# TYPE aftercare_events_consumed_total counter\n");
    assert_contains(text,
                    "aftercare_events_consumed_total{topic=\"orders\",type=\"order.placed\"} 5\n");
    assert_contains(text, "aftercare_events_consumed_total{topic=\"orders\",type=\"invalid\"} 1\n");
    /* A series without labels has no braces. */
    assert_contains(text, "\naftercare_in_flight 4\n");
    assert_not_contains(text, "{}");
    free(text);
    ac_metrics_destroy(m);
}

/* Histograms render cumulative buckets, +Inf, _sum and _count, with the
 * series' labels before le. */
static void histograms_observe_and_render(void **state)
{
    (void)state;
    ac_metrics_t *m = ac_metrics_new();
    const double bounds[] = {0.25, 0.5, 1};
    ac_metrics_describe_histogram(m, "aftercare_event_processing_seconds", "Seconds.", bounds, 3);
    const char *l = "topic=\"orders\"";
    ac_metrics_observe(m, "aftercare_event_processing_seconds", l, 0.125, 3);
    ac_metrics_observe(m, "aftercare_event_processing_seconds", l, 0.5, 1);
    ac_metrics_observe(m, "aftercare_event_processing_seconds", l, 8, 2);
    ac_metrics_observe(m, "aftercare_event_processing_seconds", l, 0.5, 0); /* nothing */
    /* Only declared histograms take observations. */
    ac_metrics_observe(m, "aftercare_undeclared_seconds", "", 1, 1);
    assert_true(ac_metrics_get(m, "aftercare_event_processing_seconds", l) == 6);
    char *text = ac_metrics_render(m);
    assert_contains(text, "# TYPE aftercare_event_processing_seconds histogram\n");
    assert_contains(text,
                    "aftercare_event_processing_seconds_bucket{topic=\"orders\",le=\"0.25\"} 3\n");
    assert_contains(text,
                    "aftercare_event_processing_seconds_bucket{topic=\"orders\",le=\"0.5\"} 4\n");
    assert_contains(text,
                    "aftercare_event_processing_seconds_bucket{topic=\"orders\",le=\"1\"} 4\n");
    assert_contains(text,
                    "aftercare_event_processing_seconds_bucket{topic=\"orders\",le=\"+Inf\"} 6\n");
    assert_contains(text, "aftercare_event_processing_seconds_sum{topic=\"orders\"} 16.875\n");
    assert_contains(text, "aftercare_event_processing_seconds_count{topic=\"orders\"} 6\n");
    assert_not_contains(text, "aftercare_undeclared_seconds");
    free(text);

    /* Without labels: le alone, and no braces on _sum and _count. */
    ac_metrics_describe_histogram(m, "aftercare_plain_seconds", "Plain.", bounds, 3);
    ac_metrics_observe(m, "aftercare_plain_seconds", "", 2, 1);
    text = ac_metrics_render(m);
    assert_contains(text, "aftercare_plain_seconds_bucket{le=\"1\"} 0\n");
    assert_contains(text, "aftercare_plain_seconds_bucket{le=\"+Inf\"} 1\n");
    assert_contains(text, "\naftercare_plain_seconds_count 1\n");
    free(text);
    ac_metrics_destroy(m);
}

/* A removed series disappears; the others stay. */
static void series_can_be_removed(void **state)
{
    (void)state;
    ac_metrics_t *m = ac_metrics_new();
    ac_metrics_set(m, "aftercare_consumer_lag", "partition=\"0\"", 5);
    ac_metrics_set(m, "aftercare_consumer_lag", "partition=\"1\"", 7);
    ac_metrics_remove(m, "aftercare_consumer_lag", "partition=\"0\"");
    ac_metrics_remove(m, "aftercare_consumer_lag", "partition=\"9\""); /* absent: no-op */
    char *text = ac_metrics_render(m);
    assert_not_contains(text, "partition=\"0\"");
    assert_contains(text, "aftercare_consumer_lag{partition=\"1\"} 7\n");
    free(text);
    ac_metrics_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counters_add_and_render),
        cmocka_unit_test(histograms_observe_and_render),
        cmocka_unit_test(series_can_be_removed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
