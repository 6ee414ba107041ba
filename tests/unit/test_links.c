/* Unit tests for common/links: referral codes and link templates. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "links.h"

static ac_event_t *event(const char *order_id, const char *number, const char *customer)
{
    char json[512];
    snprintf(json, sizeof(json),
             "{\"event_id\":\"e1\",\"type\":\"shipment.delivered\","
             "\"occurred_at\":\"2026-11-25T10:00:00Z\",\"store\":{\"id\":\"st_1\"},"
             "\"order\":{\"id\":\"%s\"%s%s%s},\"customer\":{\"id\":\"%s\"}}",
             order_id, number ? ",\"number\":\"" : "", number ? number : "", number ? "\"" : "",
             customer);
    ac_event_error_t err;
    ac_event_t *ev = ac_event_parse(json, strlen(json), 0, &err);
    if (!ev)
        fail_msg("%s", err.detail);
    return ev;
}

static void test_referral_code(void **state)
{
    (void)state;
    char a[AC_LINKS_CODE_LEN + 1], b[AC_LINKS_CODE_LEN + 1], c[AC_LINKS_CODE_LEN + 1];
    ac_links_referral_code("st_1", "cus_1", a);
    ac_links_referral_code("st_1", "cus_1", b);
    ac_links_referral_code("st_1", "cus_2", c);
    assert_int_equal(strlen(a), AC_LINKS_CODE_LEN);
    assert_string_equal(a, b); /* the same customer, the same code */
    assert_string_not_equal(a, c);
    for (const char *p = a; *p; p++)
        assert_null(strchr("01ILO", *p)); /* no look-alikes */
    /* The store is part of it: one customer id in two stores, two codes. */
    ac_links_referral_code("st_2", "cus_1", b);
    assert_string_not_equal(a, b);
}

static void test_render(void **state)
{
    (void)state;
    char buf[256];
    ac_event_t *ev = event("ord 7/8&x", "AG-10431", "cus+1");
    assert_int_equal(ac_links_render("https://s.example/review/{{order_id}}?c={{customer_id}}", ev,
                                     NULL, buf, sizeof(buf)),
                     0);
    assert_string_equal(buf, "https://s.example/review/ord%207%2F8%26x?c=cus%2B1");
    assert_int_equal(ac_links_render("https://s.example/r/{{referral_code}}"
                                     "{{^referral_code}}none{{/referral_code}}",
                                     ev, "ABC", buf, sizeof(buf)),
                     0);
    assert_string_equal(buf, "https://s.example/r/ABC");
    assert_int_equal(
        ac_links_render("https://s.example/o/{{order_number}}", ev, NULL, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "https://s.example/o/AG-10431");
    /* Malformed, or too long for the buffer. */
    assert_int_equal(ac_links_render("https://s.example/{{#x}}", ev, NULL, buf, sizeof(buf)), -1);
    assert_int_equal(ac_links_render("https://s.example/{{order_id}}", ev, NULL, buf, 20), -1);
    ac_event_destroy(ev);
    /* No number: the id stands in. */
    ev = event("o1", NULL, "c1");
    assert_int_equal(
        ac_links_render("https://s.example/o/{{order_number}}", ev, NULL, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "https://s.example/o/o1");
    ac_event_destroy(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_referral_code),
        cmocka_unit_test(test_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
