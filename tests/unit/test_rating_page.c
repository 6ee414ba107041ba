/* The pages of the one-click rating links and the reader of their comment
 * form (common/rating_page.c): which language a page is in, that a
 * hostile store name cannot add markup, that only the low ratings ask
 * what went wrong, and that a comment comes out as clean UTF-8 text
 * whatever the form body holds. Also the events the gateway makes of a
 * verified token (ac_ingest_rating_event(), common/ingest_rating.c): what
 * the workers are told, and the event ids that make the first click
 * count.
 *
 * The event ids were computed with Python, independently of the C code:
 *   "evt_rating_" + sha256(MSG_ID).hexdigest()[:32]
 *   "evt_rating_" + sha256(MSG_ID + "\ncomment").hexdigest()[:32] */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "event.h"
#include "ingest.h"
#include "rating_page.h"
#include "test_util.h"

#define MSG_ID           "msg_0123456789abcdef0123456789abcdef"
#define RATING_EVENT_ID  "evt_rating_d9e067b8a7ed5c44a889e85c9714ed4a"
#define COMMENT_EVENT_ID "evt_rating_e1ad4b91dda4c602fbc74015def5d8c3"

/* Renders p, checks what every page has, and returns it (to free). */
static char *render(ac_rating_page_t p)
{
    size_t len = 0;
    char *html = ac_rating_page_render(&p, &len);
    assert_non_null(html);
    assert_int_equal(len, strlen(html));
    assert_true(strncmp(html, "<!DOCTYPE html>", 15) == 0);
    assert_contains(html, "<meta charset=\"utf-8\">");
    assert_contains(html, "<meta name=\"viewport\" content=\"width=device-width");
    /* Self-contained: nothing to fetch, nothing to run. */
    assert_not_contains(html, "<script");
    assert_not_contains(html, "src=");
    assert_not_contains(html, "href=");
    assert_not_contains(html, "http");
    return html;
}

/* The comment read from a body given as a string. */
static size_t comment(const char *body, char *out)
{
    return ac_rating_page_comment(body, strlen(body), out, AC_RATING_PAGE_MAX_COMMENT + 1);
}

static void language_choice(void **state)
{
    (void)state;
    assert_string_equal(ac_rating_page_lang("lang=de", NULL), "de");
    assert_string_equal(ac_rating_page_lang("lang=DE-at", "en-US"), "de");
    assert_string_equal(ac_rating_page_lang("x=1&lang=de_CH&y", NULL), "de");
    assert_string_equal(ac_rating_page_lang("lang=en", "de-DE"), "en");
    /* A language there are no pages in, or no lang at all: the store's. */
    assert_string_equal(ac_rating_page_lang("lang=fr", "de-DE"), "de");
    assert_string_equal(ac_rating_page_lang("lang=deu", "de"), "de");
    assert_string_equal(ac_rating_page_lang("lang=", "de_AT"), "de");
    assert_string_equal(ac_rating_page_lang("xlang=en&language=en", "de-DE"), "de");
    assert_string_equal(ac_rating_page_lang(NULL, "de-DE"), "de");
    /* Neither: English. */
    assert_string_equal(ac_rating_page_lang("lang=fr", "fr-FR"), "en");
    assert_string_equal(ac_rating_page_lang("lang=%3Cb%3E", NULL), "en");
    assert_string_equal(ac_rating_page_lang(NULL, NULL), "en");
    assert_string_equal(ac_rating_page_lang("", "d"), "en");
}

static void pages_in_both_languages(void **state)
{
    (void)state;
    ac_rating_page_t p = {AC_RATING_PAGE_THANKS, "de", "Alpenglow", 5, NULL};
    char *html = render(p);
    assert_contains(html, "<html lang=\"de\">");
    assert_contains(html, "Vielen Dank für Ihre Bewertung!");
    assert_contains(html, "aria-label=\"5 von 5 Sternen\"");
    assert_contains(html, "★★★★★");
    free(html);
    p.lang = "en";
    p.rating = 4;
    html = render(p);
    assert_contains(html, "<html lang=\"en\">");
    assert_contains(html, "Thank you for your rating!");
    assert_contains(html, "★★★★☆");
    free(html);
    p.lang = "xx"; /* not one of ours: English */
    html = render(p);
    assert_contains(html, "<html lang=\"en\">");
    free(html);
}

static void refusals_and_outage(void **state)
{
    (void)state;
    ac_rating_page_t p = {AC_RATING_PAGE_INVALID, "en", NULL, 0, NULL};
    char *html = render(p);
    assert_contains(html, "This link is no longer valid.");
    assert_not_contains(html, "<form");
    free(html);
    p.lang = "de";
    html = render(p);
    assert_contains(html, "Dieser Link ist nicht mehr gültig.");
    free(html);
    p.kind = AC_RATING_PAGE_EXPIRED;
    p.lang = "en";
    html = render(p);
    assert_contains(html, "This link has expired.");
    free(html);
    p.kind = AC_RATING_PAGE_UNAVAILABLE;
    html = render(p);
    assert_contains(html, "Please try again in a minute.");
    free(html);
    p.kind = AC_RATING_PAGE_COMMENTED;
    html = render(p);
    assert_contains(html, "The store will get back to you.");
    free(html);
    p.store_name = "Alpenglow";
    p.lang = "de";
    html = render(p);
    assert_contains(html, "Alpenglow wird sich bei Ihnen melden.");
    free(html);
}

static void hostile_store_name_is_escaped(void **state)
{
    (void)state;
    const char *name = "<script>alert(\"x\")</script>&'<img src=x onerror=alert(1)>";
    ac_rating_page_t p = {AC_RATING_PAGE_COMMENTED, "en", name, 2, NULL};
    for (int kind = AC_RATING_PAGE_THANKS; kind <= AC_RATING_PAGE_UNAVAILABLE; kind++) {
        p.kind = (ac_rating_page_kind_t)kind;
        p.form_action = kind == AC_RATING_PAGE_THANKS ? "tok\"><script>?lang=en" : NULL;
        size_t len = 0;
        char *html = ac_rating_page_render(&p, &len);
        assert_non_null(html);
        assert_not_contains(html, "<script");
        assert_not_contains(html, "<img");
        assert_not_contains(html, "\"x\"");
        assert_contains(html, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;");
        if (kind == AC_RATING_PAGE_THANKS)
            assert_contains(html, "action=\"tok&quot;&gt;&lt;script&gt;?lang=en\"");
        free(html);
    }
}

static void form_only_for_low_ratings(void **state)
{
    (void)state;
    for (int r = 1; r <= 5; r++) {
        int low = r <= 3;
        assert_int_equal(ac_rating_page_wants_comment(r), low);
        ac_rating_page_t p = {AC_RATING_PAGE_THANKS, "en", "Acme", r,
                              low ? "1.abc.def?lang=en" : NULL};
        char *html = render(p);
        assert_int_equal(ac_test_count(html, "<form"), (size_t)low);
        if (low) {
            assert_contains(html, "<form method=\"post\" accept-charset=\"utf-8\" "
                                  "action=\"1.abc.def?lang=en\">");
            assert_contains(html, "name=\"comment\" maxlength=\"2000\"");
            assert_contains(html, "What went wrong?");
        } else {
            assert_not_contains(html, "<textarea");
            assert_contains(html, "We are glad");
        }
        free(html);
    }
    assert_false(ac_rating_page_wants_comment(0));
    assert_false(ac_rating_page_wants_comment(6));
}

static void page_headers(void **state)
{
    (void)state;
    const char *const *h = ac_rating_page_headers;
    const char *want[] = {"Cache-Control",
                          "no-store",
                          "Referrer-Policy",
                          "no-referrer",
                          "X-Content-Type-Options",
                          "nosniff",
                          "Content-Security-Policy",
                          "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        assert_string_equal(h[i], want[i]);
    assert_null(h[8]);
    assert_string_equal(AC_RATING_PAGE_CONTENT_TYPE, "text/html; charset=utf-8");
}

static void comment_plus_and_percent(void **state)
{
    (void)state;
    char out[AC_RATING_PAGE_MAX_COMMENT + 1];
    assert_int_equal(comment("comment=Too+small%21+%E2%82%AC+50%2B", out), 18);
    assert_string_equal(out, "Too small! € 50+");
    /* The first comment field, found by its decoded name. */
    comment("a=1&comm%65nt=first&comment=second", out);
    assert_string_equal(out, "first");
    comment("commentary=no&comment=yes", out);
    assert_string_equal(out, "yes");
    /* A '%' that is not an escape stays. */
    comment("comment=100%+sure%2+%zz%", out);
    assert_string_equal(out, "100% sure%2 %zz%");
    /* Upper and lower case hex. */
    comment("comment=%c3%a4%C3%B6", out);
    assert_string_equal(out, "äö");
    /* No field, no value, nothing but blanks: nothing. */
    assert_int_equal(comment("", out), 0);
    assert_string_equal(out, "");
    assert_int_equal(comment("other=x", out), 0);
    assert_int_equal(comment("comment", out), 0);
    assert_int_equal(comment("comment=", out), 0);
    assert_int_equal(comment("comment=+%20%0D%0A%09+", out), 0);
    assert_int_equal(ac_rating_page_comment(NULL, 0, out, sizeof(out)), 0);
}

static void comment_invalid_utf8(void **state)
{
    (void)state;
    char out[AC_RATING_PAGE_MAX_COMMENT + 1];
    /* A lone lead byte, a lead byte before ASCII, a byte that never
     * starts a character. */
    comment("comment=a%C3b%C3%28c%FFd", out);
    assert_string_equal(out, "a\xEF\xBF\xBD"
                             "b\xEF\xBF\xBD(c\xEF\xBF\xBD"
                             "d");
    /* Overlong forms, a surrogate and a value past U+10FFFF. */
    comment("comment=%C0%AF|%E0%80%AF|%ED%A0%80|%F4%90%80%80", out);
    assert_string_equal(out, "\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD|\xEF\xBF\xBD|\xEF\xBF\xBD");
    /* Raw (unescaped) bytes are read the same as escaped ones. */
    comment("comment=caf\xC3\xA9 \xF0\x9F\x91\x8D", out);
    assert_string_equal(out, "café 👍");
    /* The longest character and the highest. */
    comment("comment=%F4%8F%BF%BF", out);
    assert_string_equal(out, "\xF4\x8F\xBF\xBF");
}

static void comment_control_characters(void **state)
{
    (void)state;
    char out[AC_RATING_PAGE_MAX_COMMENT + 1];
    /* NUL, BEL, ESC, DEL and C1's NEL go; tab and newline stay; CR LF (as
     * browsers send a line break) becomes LF. */
    comment("comment=a%00b%07c%1B%0D%0Ad%09e%7Ff%C2%85g", out);
    assert_string_equal(out, "abc\nd\tefg");
    /* Blanks around the text go, inside it they stay. */
    comment("comment=%0D%0A++%09Broken+on%0D%0A%0D%0Aarrival+%0D%0A+", out);
    assert_string_equal(out, "Broken on\n\narrival");
}

static void comment_too_long(void **state)
{
    (void)state;
    char out[AC_RATING_PAGE_MAX_COMMENT + 1], small[4];
    size_t n = AC_RATING_PAGE_MAX_COMMENT + 500;
    char *body = malloc(8 + 3 * n + 16);
    assert_non_null(body);
    strcpy(body, "comment=");
    memset(body + 8, 'a', n);
    body[8 + n] = '\0';
    assert_int_equal(comment(body, out), AC_RATING_PAGE_MAX_COMMENT);
    assert_int_equal(strspn(out, "a"), AC_RATING_PAGE_MAX_COMMENT);
    /* Cut at a character boundary: a euro sign that does not fit whole
     * is left out. */
    strcpy(body + 8 + AC_RATING_PAGE_MAX_COMMENT - 1, "%E2%82%ACbbb");
    assert_int_equal(comment(body, out), AC_RATING_PAGE_MAX_COMMENT - 1);
    /* Blanks before the cut are trimmed too. */
    strcpy(body + 8 + AC_RATING_PAGE_MAX_COMMENT - 3, "+++bbb");
    assert_int_equal(comment(body, out), AC_RATING_PAGE_MAX_COMMENT - 3);
    /* Only as much as the buffer holds, and only the len bytes given. */
    assert_int_equal(ac_rating_page_comment("comment=abcdef", 14, small, sizeof(small)), 3);
    assert_string_equal(small, "abc");
    assert_int_equal(ac_rating_page_comment("comment=abcdef", 10, out, sizeof(out)), 2);
    assert_string_equal(out, "ab");
    assert_int_equal(ac_rating_page_comment("comment=%41%42", 13, out, sizeof(out)), 3);
    assert_string_equal(out, "A%4");
    free(body);
}

static ac_rtoken_t token(int rating)
{
    ac_rtoken_t t;
    memset(&t, 0, sizeof(t));
    strcpy(t.store, "st_alpenglow");
    strcpy(t.order, "9007199254740993");
    strcpy(t.customer, "cus_ae541ad6");
    strcpy(t.message, MSG_ID);
    t.rating = rating;
    t.expires_s = 1731315688;
    return t;
}

static const char *str_at(json_object *o, const char *a, const char *b)
{
    json_object *x = NULL, *y = NULL;
    if (!json_object_object_get_ex(o, a, &x) || (b && !json_object_object_get_ex(x, b, &y)))
        return NULL;
    return json_object_get_string(b ? y : x);
}

static void rating_events(void **state)
{
    (void)state;
    ac_canon_store_t store = {"st_alpenglow", "Alpenglow Outdoor", "de-DE", "Europe/Berlin"};
    ac_rtoken_t t = token(2);
    json_object *ev = ac_ingest_rating_event(&t, &store, NULL, 1731315688123LL);
    assert_non_null(ev);
    assert_string_equal(str_at(ev, "event_id", NULL), RATING_EVENT_ID);
    assert_string_equal(str_at(ev, "type", NULL), "feedback.received");
    assert_string_equal(str_at(ev, "occurred_at", NULL), "2024-11-11T09:01:28.123Z");
    assert_string_equal(str_at(ev, "store", "id"), "st_alpenglow");
    assert_string_equal(str_at(ev, "store", "name"), "Alpenglow Outdoor");
    assert_string_equal(str_at(ev, "store", "locale"), "de-DE");
    assert_string_equal(str_at(ev, "store", "timezone"), "Europe/Berlin");
    assert_string_equal(str_at(ev, "order", "id"), "9007199254740993");
    assert_string_equal(str_at(ev, "customer", "id"), "cus_ae541ad6");
    assert_string_equal(str_at(ev, "feedback", "message_id"), MSG_ID);
    assert_string_equal(str_at(ev, "feedback", "source"), "rating_link");
    assert_string_equal(str_at(ev, "feedback", "rating"), "2");
    assert_null(str_at(ev, "feedback", "comment"));
    /* What the workers read of it. */
    const char *json = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN);
    ac_event_error_t err;
    ac_event_t *parsed = ac_event_parse(json, strlen(json), 1 << 20, &err);
    assert_non_null(parsed);
    assert_int_equal(parsed->type, AC_EVENT_FEEDBACK_RECEIVED);
    assert_int_equal(parsed->feedback.rating, 2);
    ac_event_destroy(parsed);
    json_object_put(ev);

    /* Another star of the same message: the same event. An unknown store:
     * its id only. */
    t = token(5);
    ev = ac_ingest_rating_event(&t, NULL, NULL, 0);
    assert_string_equal(str_at(ev, "event_id", NULL), RATING_EVENT_ID);
    assert_string_equal(str_at(ev, "store", "id"), "st_alpenglow");
    assert_null(str_at(ev, "store", "name"));
    json_object_put(ev);

    /* The comment: an event of its own. */
    ev = ac_ingest_rating_event(&t, &store, "Zu klein.\nSchade", 0);
    assert_string_equal(str_at(ev, "event_id", NULL), COMMENT_EVENT_ID);
    assert_string_equal(str_at(ev, "feedback", "comment"), "Zu klein.\nSchade");
    assert_string_equal(str_at(ev, "feedback", "message_id"), MSG_ID);
    json_object_put(ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(language_choice),
        cmocka_unit_test(pages_in_both_languages),
        cmocka_unit_test(refusals_and_outage),
        cmocka_unit_test(hostile_store_name_is_escaped),
        cmocka_unit_test(form_only_for_low_ratings),
        cmocka_unit_test(page_headers),
        cmocka_unit_test(comment_plus_and_percent),
        cmocka_unit_test(comment_invalid_utf8),
        cmocka_unit_test(comment_control_characters),
        cmocka_unit_test(comment_too_long),
        cmocka_unit_test(rating_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
