/* The retention report's renderers (common/report_render.h) on the sample
 * report, tests/data/report_sample.json: the figures appear, a null reads
 * as an em dash, strings from the report are escaped, the page loads
 * nothing from anywhere, the output is the same bytes every time, and
 * empty, missing or ill-typed parts render rather than crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "buf.h"
#include "report_render.h"
#include "test_util.h"

#define DASH "\xe2\x80\x94"

static json_object *sample(void)
{
    json_object *r = json_object_from_file(AC_REPORT_SAMPLE);
    assert_non_null(r);
    return r;
}

/* The report rendered as text (html 0) or HTML; free() the result. */
static char *render(json_object *r, int html)
{
    ac_buf_t b = AC_BUF_INIT;
    char err[128] = "";
    int rc = html ? ac_report_html(r, &b, err, sizeof err) : ac_report_text(r, &b, err, sizeof err);
    if (rc != 0)
        print_error("render failed: %s\n", err);
    assert_int_equal(rc, 0);
    char *s = ac_buf_steal(&b);
    assert_non_null(s);
    return s;
}

/* The line of text that starts with prefix (a copy; free() it). */
static char *line_of(const char *text, const char *prefix)
{
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, prefix, strlen(prefix)) == 0) {
            const char *e = strchr(p, '\n');
            return strndup(p, e ? (size_t)(e - p) : strlen(p));
        }
    }
    print_error("no line starts with \"%s\" in:\n%s\n", prefix, text);
    fail();
    return NULL;
}

/* Replaces path[0]/path[1]/.../key of r with v (NULL: JSON null). */
static void set(json_object *r, const char *const *path, const char *key, json_object *v)
{
    for (; path && *path; path++)
        assert_true(json_object_object_get_ex(r, *path, &r));
    json_object_object_add(r, key, v);
}

static void text_has_the_figures(void **state)
{
    (void)state;
    json_object *r = sample();
    char *t = render(r, 0);
    assert_contains(t, "Retention report: st_northside\n");
    assert_contains(t, "2026-06-01 to 2026-11-30 (America/New_York), compared with 2025-12-01 "
                       "to 2026-05-31");
    const char *lines[][2] = {
        {"  Orders", "1,234   40 returned"},
        {"  Customers", "900   400 new, 120 repeat"},
        {"  Repeat-purchase rate", "13.3 %"},
        {"  Customer retention rate", "71.4 %   of 700 previous customers"},
        {"  Return rate", "3.2 %"},
        {"  CSAT", "90.9 %"},
        {"  Review response rate", "24.3 %   170 of 700 review requests rated"},
        {"  Messages sent", "3,515   189 held back"},
        {"  5 stars", "120    64.2 %"},
        {"  1 star ", "3     1.6 %"},
        {"  order_confirmation", "1,220   email 1,100, sms 120"},
        {"  delay_notice", "0"},
        {"  store_alert", "3   webhook 3"},
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        char *l = line_of(t, lines[i][0]);
        assert_contains(l, lines[i][1]);
        free(l);
    }
    char *held = line_of(strstr(t, "\nHeld back"), "  review_request ");
    assert_contains(held, "113   holdout 80, no_consent 12, returned 21");
    free(held);
    assert_contains(t, "  review_request: repeat purchase 14.0 % messaged vs 9.3 % held out, "
                       "+4.7 points (95 % CI \xe2\x88\x92"
                       "2.4 to +11.8)\n");
    assert_contains(t, "  review_request: CSAT 92.4 % messaged vs 75.0 % held out, +17.4 points "
                       "(95 % CI \xe2\x88\x92"
                       "25.2 to +60.0)\n");
    /* The held-out group gave no ratings: its CSAT and the uplift are null. */
    assert_contains(t, "  referral_invite: CSAT 90.2 % messaged vs " DASH " held out, "
                       "difference " DASH "\n");
    free(t);
    json_object_put(r);
}

static void text_cohort_table(void **state)
{
    (void)state;
    json_object *r = sample();
    char *t = render(r, 0);
    char *head = line_of(t, "  Month");
    assert_contains(head, "New    +1    +2");
    assert_contains(head, "+11");
    assert_not_contains(head, "+12");
    free(head);
    char *dec = line_of(t, "  2025-12");
    assert_contains(dec, "95  12.6   4.2   6.3");
    free(dec);
    /* No new customers in February: every share is null. */
    char *feb = line_of(t, "  2026-02");
    assert_int_equal(ac_test_count(feb, DASH), 9);
    free(feb);
    /* The last month has no later months yet: blank, not dashes. */
    char *nov = line_of(t, "  2026-11");
    assert_string_equal(nov, "  2026-11        83");
    assert_not_contains(nov, DASH);
    free(nov);
    free(t);
    json_object_put(r);
}

static void html_has_sections_and_figures(void **state)
{
    (void)state;
    json_object *r = sample();
    char *h = render(r, 1);
    assert_true(strncmp(h, "<!DOCTYPE html>\n", 16) == 0);
    assert_contains(h, "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    const char *ids[] = {"headline", "ratings", "messages", "suppressed",
                         "volume",   "holdout", "cohorts"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "<section id=\"%s\">", ids[i]);
        assert_int_equal(ac_test_count(h, want), 1);
    }
    assert_contains(h, "<div class=\"value\">1,234</div>");
    assert_contains(h, "<div class=\"value\">13.3 %</div>");
    assert_contains(h, "<div class=\"value\">71.4 %</div>");
    assert_contains(h, "<div class=\"value\">24.3 %</div>");
    assert_contains(h, "<th scope=\"row\">order_confirmation</th><td>1,100</td><td>120</td>"
                       "<td>0</td><td>1,220</td>");
    assert_contains(h, "<p class=\"sub\">Repeat purchase: 14.0 % messaged vs 9.3 % held out, "
                       "+4.7 points (95 % CI \xe2\x88\x92"
                       "2.4 to +11.8)</p>");
    assert_contains(h, "not enough data");
    /* Every chart scales: a viewBox, no fixed size. */
    assert_int_equal(ac_test_count(h, "<svg viewBox="), 5);
    assert_int_equal(ac_test_count(h, "<svg"), ac_test_count(h, "</svg>"));
    assert_int_equal(ac_test_count(h, "<table"), 3);
    assert_int_equal(ac_test_count(h, "<table"), ac_test_count(h, "</table>"));
    assert_int_equal(ac_test_count(h, "<div class=\"scroll\"><table"), 3);
    /* The February cohort: nine null cells, grey with a dash. */
    assert_int_equal(ac_test_count(h, "<td class=\"c null\""), 9);
    assert_contains(h, "title=\"2026-03: 0 customers\">" DASH "</td>");
    assert_contains(h, ">12.6</td>");
    free(h);
    json_object_put(r);
}

/* The page is self-contained: no scripts, nothing fetched, no links out. */
static void html_is_self_contained(void **state)
{
    (void)state;
    json_object *r = sample();
    char *h = render(r, 1);
    const char *banned[] = {"<script", "http://", "https://", "url(",    "@import",
                            "<link",   "<img",    "src=",     "href=",   "<iframe",
                            "<object", "<embed",  "onload=",  "onerror="};
    for (size_t i = 0; i < sizeof banned / sizeof banned[0]; i++)
        assert_not_contains(h, banned[i]);
    free(h);
    json_object_put(r);
}

static void html_escapes_report_strings(void **state)
{
    (void)state;
    json_object *r = sample();
    const char *evil = "<script>alert(1)</script>&\"";
    set(r, NULL, "store", json_object_new_string(evil));
    set(r, NULL, "timezone", json_object_new_string("\x1b[31mred'"));
    json_object *msgs = json_object_new_object();
    json_object *kind = json_object_new_object();
    json_object_object_add(kind, "\"><b>x</b>", json_object_new_int(7));
    json_object_object_add(msgs, "<img src=x onerror=alert(1)>", kind);
    set(r, NULL, "messages", msgs);
    const char *hp[] = {"holdout", NULL};
    set(r, hp, "</h3><script>", json_object_new_object());
    char *h = render(r, 1);
    assert_contains(h, "<title>Retention report: &lt;script&gt;alert(1)&lt;/script&gt;&amp;&quot;"
                       "</title>");
    assert_contains(h, "&lt;img src=x onerror=alert(1)&gt;");
    assert_contains(h, "&quot;&gt;&lt;b&gt;x&lt;/b&gt;");
    assert_contains(h, "&lt;/h3&gt;&lt;script&gt;");
    assert_contains(h, "\xef\xbf\xbd[31mred&#39;");
    assert_not_contains(h, "<script");
    assert_not_contains(h, "<img");
    assert_not_contains(h, "<b>");
    assert_not_contains(h, "\x1b");
    free(h);
    /* The text cannot drive the terminal: ESC and CSI (U+009B) replaced. */
    set(r, NULL, "store",
        json_object_new_string("st_\x1b]0;pwned\x07\xc2\x9b"
                               "2J"));
    char *t = render(r, 0);
    assert_contains(t, "Retention report: st_\xef\xbf\xbd]0;pwned\xef\xbf\xbd\xef\xbf\xbd"
                       "2J\n");
    assert_not_contains(t, "\x1b");
    assert_not_contains(t, "\xc2\x9b");
    free(t);
    json_object_put(r);
}

static void nulls_read_as_dashes(void **state)
{
    (void)state;
    json_object *r = sample();
    const char *rates[] = {"repeat_purchase_rate",
                           "customer_retention_rate",
                           "return_rate",
                           "csat",
                           "review_request_response_rate",
                           "orders"};
    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
        set(r, NULL, rates[i], NULL);
    const char *held[] = {"holdout", "review_request", NULL};
    set(r, held, "repeat_purchase_uplift", NULL);
    json_object *empty = json_object_new_object();
    json_object_object_add(empty, "customers", json_object_new_int(0));
    json_object_object_add(empty, "repeat_purchase_rate", NULL);
    set(r, held, "held_out", empty);
    char *t = render(r, 0);
    const char *labels[] = {
        "  Orders", "  Repeat-purchase rate", "  Customer retention rate", "  Return rate",
        "  CSAT",   "  Review response rate"};
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
        char *l = line_of(t, labels[i]);
        assert_contains(l, DASH);
        assert_not_contains(l, "%");
        free(l);
    }
    assert_contains(t, "review_request: repeat purchase 14.0 % messaged vs " DASH
                       " held out, difference " DASH "\n");
    free(t);
    char *h = render(r, 1);
    assert_int_equal(ac_test_count(h, "<div class=\"value\">" DASH "</div>"), 6);
    assert_contains(h, "Ratings</h2>\n<p class=\"sub\">187 ratings; CSAT " DASH "</p>");
    assert_int_equal(ac_test_count(h, "not enough data"), 2);
    free(h);
    json_object_put(r);
}

static void same_report_same_bytes(void **state)
{
    (void)state;
    for (int html = 0; html <= 1; html++) {
        json_object *a = sample(), *b = sample();
        char *x = render(a, html), *y = render(b, html), *z = render(a, html);
        assert_string_equal(x, y);
        assert_string_equal(x, z);
        free(x), free(y), free(z);
        json_object_put(a), json_object_put(b);
    }
}

static void empty_parts_render(void **state)
{
    (void)state;
    json_object *r = sample();
    set(r, NULL, "volume", json_object_new_array());
    set(r, NULL, "cohorts", json_object_new_array());
    set(r, NULL, "holdout", json_object_new_object());
    set(r, NULL, "suppressed", json_object_new_object());
    char *h = render(r, 1);
    assert_contains(h, "<section id=\"volume\"><h2>Messages per day</h2>\n"
                       "<p class=\"sub\">No days in this period.</p></section>");
    assert_contains(h, "No cohorts in this period.");
    assert_contains(h, "No holdout groups in this period.");
    assert_contains(h, "No messages were held back.");
    assert_int_equal(ac_test_count(h, "<svg"), 1); /* the ratings only */
    free(h);
    char *t = render(r, 0);
    assert_contains(t, "Cohorts: % of each month's new customers who ordered again N months "
                       "later\n  none\n");
    assert_contains(t, "Holdout: customers messaged vs held out\n  none\n");
    free(t);
    json_object_put(r);
}

/* An empty report, and one whose parts have the wrong types or absurd
 * numbers, still render: every figure a dash, every list empty. */
static void broken_reports_render(void **state)
{
    (void)state;
    const char *docs[] = {
        "{}",
        "{\"store\": 5, \"volume\": \"x\", \"cohorts\": {\"a\": 1}, \"messages\": [1], "
        "\"ratings\": \"five\", \"holdout\": {\"k\": 3}, \"suppressed\": {\"k\": \"x\"}}",
        "{\"orders\": 1e300, \"csat\": -0.04, \"ratings\": {\"5\": -3, \"4\": 1e300}, "
        "\"volume\": [{\"date\": \"junk\", \"sent\": -5}, 7, {\"sent\": 1e300}], "
        "\"cohorts\": [{\"month\": \"bad\", \"customers\": 3, \"returning\": "
        "[{\"month\": \"worse\", \"share\": 1e300}, 4]}, 9], "
        "\"holdout\": {\"k\": {\"repeat_purchase_uplift\": {\"difference\": 5}, "
        "\"csat_uplift\": {\"difference\": 0, \"ci95_low\": -1e300, \"ci95_high\": 2}}}}",
    };
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        json_object *r = json_tokener_parse(docs[i]);
        assert_non_null(r);
        char *t = render(r, 0), *h = render(r, 1);
        assert_contains(t, "Orders");
        assert_contains(h, "</html>\n");
        assert_int_equal(ac_test_count(h, "<svg"), ac_test_count(h, "</svg>"));
        assert_not_contains(h, "nan");
        assert_not_contains(h, "inf");
        free(t), free(h);
        json_object_put(r);
    }
    /* -0.04 rounds to zero without a sign. */
    json_object *r = json_tokener_parse(docs[2]);
    char *t = render(r, 0);
    char *l = line_of(t, "  CSAT");
    assert_contains(l, " 0.0 %");
    free(l), free(t);
    json_object_put(r);
}

static void not_an_object_is_refused(void **state)
{
    (void)state;
    ac_buf_t b = AC_BUF_INIT;
    char err[128] = "";
    json_object *arr = json_object_new_array();
    assert_int_equal(ac_report_text(arr, &b, err, sizeof err), -1);
    assert_contains(err, "not a JSON object");
    assert_int_equal(ac_report_html(NULL, &b, err, sizeof err), -1);
    json_object_put(arr);
    ac_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(text_has_the_figures),          cmocka_unit_test(text_cohort_table),
        cmocka_unit_test(html_has_sections_and_figures), cmocka_unit_test(html_is_self_contained),
        cmocka_unit_test(html_escapes_report_strings),   cmocka_unit_test(nulls_read_as_dashes),
        cmocka_unit_test(same_report_same_bytes),        cmocka_unit_test(empty_parts_render),
        cmocka_unit_test(broken_reports_render),         cmocka_unit_test(not_an_object_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
