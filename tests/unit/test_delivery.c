/* The delivery policy: which outcomes are retried, how long to wait, and
 * how Retry-After is read. No network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "delivery.h"

static void outcome_classification(void **state)
{
    assert_int_equal(ac_delivery_outcome(200, CURLE_OK), AC_OUTCOME_DELIVERED);
    assert_int_equal(ac_delivery_outcome(202, CURLE_OK), AC_OUTCOME_DELIVERED);
    assert_int_equal(ac_delivery_outcome(204, CURLE_OK), AC_OUTCOME_DELIVERED);
    assert_int_equal(ac_delivery_outcome(429, CURLE_OK), AC_OUTCOME_RETRY);
    assert_int_equal(ac_delivery_outcome(408, CURLE_OK), AC_OUTCOME_RETRY);
    assert_int_equal(ac_delivery_outcome(500, CURLE_OK), AC_OUTCOME_RETRY);
    assert_int_equal(ac_delivery_outcome(503, CURLE_OK), AC_OUTCOME_RETRY);
    assert_int_equal(ac_delivery_outcome(0, CURLE_OPERATION_TIMEDOUT), AC_OUTCOME_RETRY);
    assert_int_equal(ac_delivery_outcome(0, CURLE_COULDNT_CONNECT), AC_OUTCOME_RETRY);
    assert_int_equal(ac_delivery_outcome(400, CURLE_OK), AC_OUTCOME_PERMANENT);
    assert_int_equal(ac_delivery_outcome(401, CURLE_OK), AC_OUTCOME_PERMANENT);
    assert_int_equal(ac_delivery_outcome(404, CURLE_OK), AC_OUTCOME_PERMANENT);
    assert_int_equal(ac_delivery_outcome(422, CURLE_OK), AC_OUTCOME_PERMANENT);
    assert_int_equal(ac_delivery_outcome(301, CURLE_OK), AC_OUTCOME_PERMANENT);
}

/* The label value of each answer, for aftercare_provider_requests_total. */
static void result_classes(void **state)
{
    (void)state;
    assert_string_equal(ac_delivery_result_class(200, CURLE_OK), "ok");
    assert_string_equal(ac_delivery_result_class(204, CURLE_OK), "ok");
    assert_string_equal(ac_delivery_result_class(429, CURLE_OK), "throttled");
    assert_string_equal(ac_delivery_result_class(400, CURLE_OK), "client_error");
    assert_string_equal(ac_delivery_result_class(404, CURLE_OK), "client_error");
    assert_string_equal(ac_delivery_result_class(500, CURLE_OK), "server_error");
    assert_string_equal(ac_delivery_result_class(503, CURLE_OK), "server_error");
    assert_string_equal(ac_delivery_result_class(0, CURLE_OPERATION_TIMEDOUT), "timeout");
    assert_string_equal(ac_delivery_result_class(0, CURLE_COULDNT_CONNECT), "error");
    assert_string_equal(ac_delivery_result_class(301, CURLE_OK), "error");
}

/* Exponential growth with jitter inside [ceiling/2, ceiling], capped. */
static void backoff_grows_and_is_capped(void **state)
{
    const uint32_t rnds[] = {0, 1, 12345, 0xffffffffu};
    for (size_t r = 0; r < sizeof(rnds) / sizeof(rnds[0]); r++) {
        int64_t ceiling = 1000;
        for (int attempt = 1; attempt <= 12; attempt++) {
            int64_t d = ac_delivery_backoff_ms(attempt, 1000, 60000, -1, rnds[r]);
            int64_t c = ceiling > 60000 ? 60000 : ceiling;
            assert_true(d >= c / 2);
            assert_true(d <= c);
            ceiling *= 2;
        }
    }
    /* Different random values spread retries out. */
    assert_int_not_equal(ac_delivery_backoff_ms(4, 1000, 60000, -1, 1),
                         ac_delivery_backoff_ms(4, 1000, 60000, -1, 2000));
}

static void backoff_honours_retry_after(void **state)
{
    assert_true(ac_delivery_backoff_ms(1, 100, 60000, 5000, 7) >= 5000);
    /* A Retry-After shorter than our own backoff does not shorten it. */
    assert_true(ac_delivery_backoff_ms(6, 1000, 60000, 10, 0) >= 16000);
}

static void retry_after_parsing(void **state)
{
    assert_int_equal(ac_delivery_parse_retry_after(" 3\r\n", 0), 3000);
    assert_int_equal(ac_delivery_parse_retry_after("0", 0), 0);
    assert_int_equal(ac_delivery_parse_retry_after("abc", 0), -1);
    assert_int_equal(ac_delivery_parse_retry_after("-5", 0), -1);
    assert_int_equal(ac_delivery_parse_retry_after("12x", 0), -1);
    /* An HTTP-date 30 s after "now". */
    int64_t now = 1445412450000LL; /* Wed, 21 Oct 2015 07:27:30 GMT */
    assert_int_equal(ac_delivery_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), 30000);
    /* A date in the past means at once. */
    assert_int_equal(ac_delivery_parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(outcome_classification),
        cmocka_unit_test(result_classes),
        cmocka_unit_test(backoff_grows_and_is_capped),
        cmocka_unit_test(backoff_honours_retry_after),
        cmocka_unit_test(retry_after_parsing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
