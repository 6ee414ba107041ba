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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counters_add_and_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
