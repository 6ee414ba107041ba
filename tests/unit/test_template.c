/* Unit tests for common/template: the Mustache subset behind every
 * customer message. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template.h"
#include "test_util.h"

/* Variables for a rendering: a NULL-terminated list of name, value pairs. */
typedef struct vars {
    const char *const *pairs;
    int calls;
} vars_t;

static const char *lookup(void *ctx, const char *name, size_t namelen)
{
    vars_t *v = ctx;
    v->calls++;
    for (size_t i = 0; v->pairs && v->pairs[i]; i += 2)
        if (strlen(v->pairs[i]) == namelen && memcmp(v->pairs[i], name, namelen) == 0)
            return v->pairs[i + 1];
    return NULL;
}

/* Renders tpl and returns the text (freed by the next call). */
static const char *render_esc(const char *tpl, const char *const *pairs, ac_template_escape_t esc)
{
    static char *last;
    free(last);
    last = NULL;
    vars_t v = {pairs, 0};
    ac_buf_t out = AC_BUF_INIT;
    char err[256] = "";
    int rc = ac_template_render(tpl, lookup, &v, esc, &out, err, sizeof(err));
    if (rc != 0) {
        ac_buf_free(&out);
        fail_msg("rendering \"%s\" failed: %s", tpl, err);
    }
    last = ac_buf_steal(&out);
    assert_non_null(last);
    return last;
}

static const char *render(const char *tpl, const char *const *pairs)
{
    return render_esc(tpl, pairs, AC_TEMPLATE_ESCAPE_NONE);
}

/* Expects rendering and checking tpl to fail; returns the error. */
static const char *render_fails(const char *tpl)
{
    static char err[256];
    static const char *const pairs[] = {"a", "1", "b", "1", NULL};
    vars_t v = {pairs, 0};
    ac_buf_t out = AC_BUF_INIT;
    err[0] = '\0';
    int rc = ac_template_render(tpl, lookup, &v, AC_TEMPLATE_ESCAPE_HTML, &out, err, sizeof(err));
    ac_buf_free(&out);
    if (rc != -1)
        fail_msg("expected \"%s\" to be refused", tpl);
    assert_true(strlen(err) > 0);
    char err2[256] = "";
    assert_int_equal(ac_template_check(tpl, err2, sizeof(err2)), -1);
    assert_true(strlen(err2) > 0);
    return err;
}

static void test_plain_text(void **state)
{
    (void)state;
    assert_string_equal(render("", NULL), "");
    assert_string_equal(render("Hello, world.\n", NULL), "Hello, world.\n");
    /* Braces that do not form a tag are text. */
    assert_string_equal(render("a { b } c }} d {x}", NULL), "a { b } c }} d {x}");
    assert_string_equal(render("Grüße 🧥", NULL), "Grüße 🧥");
}

static void test_variables(void **state)
{
    (void)state;
    static const char *const v[] = {"first_name", "Zoë", "order", "#5001", "empty", "", NULL};
    assert_string_equal(render("Hi {{first_name}}!", v), "Hi Zoë!");
    assert_string_equal(render("{{first_name}}{{order}}", v), "Zoë#5001");
    assert_string_equal(render("Hi {{ first_name }}!", v), "Hi Zoë!");
    assert_string_equal(render("Order {{order}} for {{first_name}}, {{first_name}}.", v),
                        "Order #5001 for Zoë, Zoë.");
    /* A missing or empty variable renders as nothing. */
    assert_string_equal(render("[{{missing}}]", v), "[]");
    assert_string_equal(render("[{{empty}}]", v), "[]");
    /* Names are matched whole: a prefix is another variable. */
    assert_string_equal(render("[{{first}}]", v), "[]");
    assert_string_equal(render("[{{first_name_x}}]", v), "[]");
}

static void test_values_are_not_templates(void **state)
{
    (void)state;
    /* A value that looks like a tag is printed, never expanded. */
    static const char *const v[] = {"name", "{{secret}}", "secret", "LEAK", NULL};
    assert_string_equal(render("Hi {{name}}", v), "Hi {{secret}}");
}

static void test_html_escaping(void **state)
{
    (void)state;
    static const char *const v[] = {"x", "<b>\"Tom\" & 'Jerry'</b>", NULL};
    assert_string_equal(render_esc("<p>{{x}}</p>", v, AC_TEMPLATE_ESCAPE_HTML),
                        "<p>&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;</p>");
    assert_string_equal(render_esc("<p>{{x}}</p>", v, AC_TEMPLATE_ESCAPE_NONE),
                        "<p><b>\"Tom\" & 'Jerry'</b></p>");
    /* Already escaped text is escaped again, not trusted. */
    static const char *const amp[] = {"x", "&amp;", NULL};
    assert_string_equal(render_esc("{{x}}", amp, AC_TEMPLATE_ESCAPE_HTML), "&amp;amp;");
    /* Non-ASCII passes through escaping unchanged. */
    static const char *const utf8[] = {"x", "Jürgen 🧦", NULL};
    assert_string_equal(render_esc("{{x}}", utf8, AC_TEMPLATE_ESCAPE_HTML), "Jürgen 🧦");
}

static const char *html_text(const char *tpl, const char *const *pairs)
{
    return render_esc(tpl, pairs, AC_TEMPLATE_ESCAPE_HTML_TEXT);
}

static void test_html_escaping_each_character(void **state)
{
    (void)state;
    static const char *const want[][2] = {
        {"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&#39;"}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const char *v[] = {"x", want[i][0], NULL};
        char expect[32];
        snprintf(expect, sizeof(expect), "[%s]", want[i][1]);
        assert_string_equal(render_esc("[{{x}}]", v, AC_TEMPLATE_ESCAPE_HTML), expect);
        assert_string_equal(html_text("[{{x}}]", v), expect);
        /* In a text template the template's own text is text too. */
        char tpl[32];
        snprintf(tpl, sizeof(tpl), "[%s]", want[i][0]);
        assert_string_equal(html_text(tpl, NULL), expect);
        assert_string_equal(render_esc(tpl, NULL, AC_TEMPLATE_ESCAPE_HTML), tpl);
    }
    /* Everything else, line breaks included, is left for the caller. */
    static const char *const plain[] = {"x", "Zoë 🧦 #5001 (2 × 9.99 EUR);\n", NULL};
    assert_string_equal(html_text("a\n\n{{x}}", plain), "a\n\nZoë 🧦 #5001 (2 × 9.99 EUR);\n");
}

static void test_html_text(void **state)
{
    (void)state;
    static const char *const v[] = {"first_name", "<script>alert('hi')</script>", "store",
                                    "Tom & Jerry", NULL};
    const char *tpl = "{{#first_name}}Hi {{first_name}},{{/first_name}}{{^first_name}}Hello,"
                      "{{/first_name}}\n\nQ&A at {{store}}: <{{{store}}}>";
    assert_string_equal(html_text(tpl, v),
                        "Hi &lt;script&gt;alert(&#39;hi&#39;)&lt;/script&gt;,\n\n"
                        "Q&amp;A at Tom &amp; Jerry: &lt;Tom &amp; Jerry&gt;");
    /* The same template as text keeps everything verbatim. */
    assert_string_equal(render(tpl, v), "Hi <script>alert('hi')</script>,\n\n"
                                        "Q&A at Tom & Jerry: <Tom & Jerry>");
    static const char *const none[] = {NULL};
    assert_string_equal(html_text(tpl, none), "Hello,\n\nQ&amp;A at : &lt;&gt;");
}

static void test_html_text_links(void **state)
{
    (void)state;
    static const char *const v[] = {"tracking_url",
                                    "https://www.ups.com/track?tracknum=1Z9&lang=en",
                                    "return_label_url",
                                    "HTTP://shop.example/label/\"x\"",
                                    "bad_url",
                                    "javascript:alert(1)",
                                    "spaced_url",
                                    "https://a.example/x y",
                                    "bare_url",
                                    "https://",
                                    "first_name",
                                    "https://evil.example/",
                                    "url",
                                    "https://plain.example/",
                                    NULL};
    assert_string_equal(html_text("Track: {{tracking_url}}", v),
                        "Track: <a href=\"https://www.ups.com/track?tracknum=1Z9&amp;lang=en\">"
                        "https://www.ups.com/track?tracknum=1Z9&amp;lang=en</a>");
    assert_string_equal(html_text("{{{tracking_url}}}", v),
                        "<a href=\"https://www.ups.com/track?tracknum=1Z9&amp;lang=en\">"
                        "https://www.ups.com/track?tracknum=1Z9&amp;lang=en</a>");
    assert_string_equal(html_text("{{return_label_url}}", v),
                        "<a href=\"HTTP://shop.example/label/&quot;x&quot;\">"
                        "HTTP://shop.example/label/&quot;x&quot;</a>");
    /* What is not a web address, or is not in a _url variable, stays text. */
    assert_string_equal(html_text("{{bad_url}}", v), "javascript:alert(1)");
    assert_string_equal(html_text("{{spaced_url}}", v), "https://a.example/x y");
    assert_string_equal(html_text("{{bare_url}}", v), "https://");
    assert_string_equal(html_text("{{first_name}}", v), "https://evil.example/");
    assert_string_equal(html_text("{{url}}", v), "https://plain.example/");
    /* Only a text template gets links: an HTML template places its own. */
    assert_string_equal(render_esc("<a href=\"{{tracking_url}}\">", v, AC_TEMPLATE_ESCAPE_HTML),
                        "<a href=\"https://www.ups.com/track?tracknum=1Z9&amp;lang=en\">");
    assert_string_equal(render("{{tracking_url}}", v),
                        "https://www.ups.com/track?tracknum=1Z9&lang=en");
}

static void test_triple_brace(void **state)
{
    (void)state;
    static const char *const v[] = {"link", "<a href=\"x?a=1&b=2\">track</a>", NULL};
    assert_string_equal(render_esc("{{{link}}}", v, AC_TEMPLATE_ESCAPE_HTML),
                        "<a href=\"x?a=1&b=2\">track</a>");
    assert_string_equal(render_esc("{{{ link }}}", v, AC_TEMPLATE_ESCAPE_HTML),
                        "<a href=\"x?a=1&b=2\">track</a>");
    assert_string_equal(render_esc("[{{{link}}}]", v, AC_TEMPLATE_ESCAPE_NONE),
                        "[<a href=\"x?a=1&b=2\">track</a>]");
    assert_string_equal(render_esc("[{{{missing}}}]", v, AC_TEMPLATE_ESCAPE_HTML), "[]");
}

static void test_sections(void **state)
{
    (void)state;
    static const char *const present[] = {"name", "Zoë", NULL};
    static const char *const empty[] = {"name", "", NULL};
    static const char *const none[] = {NULL};
    const char *tpl = "{{#name}}Hi {{name}},{{/name}}{{^name}}Hello,{{/name}} there";
    assert_string_equal(render(tpl, present), "Hi Zoë, there");
    assert_string_equal(render(tpl, empty), "Hello, there");
    assert_string_equal(render(tpl, none), "Hello, there");
    assert_string_equal(render(tpl, NULL), "Hello, there");
}

static void test_section_shows_any_non_empty_value(void **state)
{
    (void)state;
    /* Logic-less: "0" and "false" are values like any other. */
    static const char *const zero[] = {"n", "0", NULL};
    static const char *const f[] = {"n", "false", NULL};
    static const char *const space[] = {"n", " ", NULL};
    assert_string_equal(render("{{#n}}yes{{/n}}{{^n}}no{{/n}}", zero), "yes");
    assert_string_equal(render("{{#n}}yes{{/n}}{{^n}}no{{/n}}", f), "yes");
    assert_string_equal(render("{{#n}}yes{{/n}}{{^n}}no{{/n}}", space), "yes");
}

static void test_section_text_and_newlines(void **state)
{
    (void)state;
    static const char *const v[] = {"items", "  1 × Jacket\n", "total", "129.00 EUR", NULL};
    assert_string_equal(render("A\n{{#items}}You ordered:\n{{items}}{{/items}}B\n", v),
                        "A\nYou ordered:\n  1 × Jacket\nB\n");
    assert_string_equal(render("{{#total}}Total: {{total}}\n{{/total}}end", v),
                        "Total: 129.00 EUR\nend");
    static const char *const none[] = {NULL};
    assert_string_equal(render("A\n{{#items}}You ordered:\n{{items}}{{/items}}B\n", none),
                        "A\nB\n");
}

static void test_nested_sections(void **state)
{
    (void)state;
    const char *tpl = "[{{#a}}A{{#b}}B{{b}}{{/b}}{{^b}}-b{{/b}}{{/a}}{{^a}}-a{{#b}}B{{/b}}{{/a}}]";
    static const char *const ab[] = {"a", "1", "b", "2", NULL};
    static const char *const a[] = {"a", "1", NULL};
    static const char *const b[] = {"b", "2", NULL};
    static const char *const none[] = {NULL};
    assert_string_equal(render(tpl, ab), "[AB2]");
    assert_string_equal(render(tpl, a), "[A-b]");
    assert_string_equal(render(tpl, b), "[-aB]");
    assert_string_equal(render(tpl, none), "[-a]");
}

static void test_nested_same_name(void **state)
{
    (void)state;
    /* The inner close must not end the outer section. */
    const char *tpl = "<{{#a}}x{{#a}}y{{/a}}z{{/a}}>";
    static const char *const a[] = {"a", "1", NULL};
    static const char *const none[] = {NULL};
    assert_string_equal(render(tpl, a), "<xyz>");
    assert_string_equal(render(tpl, none), "<>");
    const char *inv = "<{{#a}}x{{^a}}never{{/a}}z{{/a}}|{{^a}}p{{^a}}q{{/a}}r{{/a}}>";
    assert_string_equal(render(inv, a), "<xz|>");
    assert_string_equal(render(inv, none), "<|pqr>");
    /* Sections whose names share a prefix are different sections. */
    const char *prefix = "{{#a}}1{{#ab}}2{{/ab}}3{{/a}}";
    static const char *const only_a[] = {"a", "x", NULL};
    assert_string_equal(render(prefix, only_a), "13");
}

static void test_sequential_sections(void **state)
{
    (void)state;
    static const char *const v[] = {"a", "1", NULL};
    assert_string_equal(render("{{#a}}x{{/a}}-{{#a}}y{{/a}}-{{^a}}z{{/a}}", v), "x-y-");
}

static void test_comments(void **state)
{
    (void)state;
    static const char *const v[] = {"name", "Zoë", NULL};
    assert_string_equal(render("Hi{{! greeting, keep it short }} {{name}}", v), "Hi Zoë");
    assert_string_equal(render("{{!}}x", v), "x");
    /* A comment does not look its text up. */
    vars_t counted = {v, 0};
    ac_buf_t out = AC_BUF_INIT;
    char err[64];
    assert_int_equal(ac_template_render("{{!name}}", lookup, &counted, AC_TEMPLATE_ESCAPE_NONE,
                                        &out, err, sizeof(err)),
                     0);
    assert_int_equal(counted.calls, 0);
    ac_buf_free(&out);
}

static void test_unclosed_tag(void **state)
{
    (void)state;
    const char *err = render_fails("Hi {{name");
    assert_contains(err, "3");
    render_fails("Hi {{");
    render_fails("Hi {{name}");
    render_fails("{{{name}}");
    render_fails("{{{name");
    render_fails("ok {{a}} then {{b");
}

static void test_unclosed_section(void **state)
{
    (void)state;
    assert_contains(render_fails("{{#items}}x"), "items");
    assert_contains(render_fails("{{^items}}x"), "items");
    assert_contains(render_fails("{{#a}}x{{/b}}"), "a");
    render_fails("{{#a}}{{#a}}x{{/a}}");
    render_fails("{{#}}x{{/}}");
}

static void test_stray_close(void **state)
{
    (void)state;
    render_fails("x{{/a}}");
    render_fails("{{#a}}x{{/a}}{{/a}}");
}

static void test_errors_in_hidden_sections(void **state)
{
    (void)state;
    /* A template is refused whatever the data: a malformed part inside a
     * section that happens to be hidden is still an error. */
    render_fails("{{#missing}}{{oops{{/missing}}");
    render_fails("{{^a}}{{#b}}x{{/a}}");
}

static void test_small_error_buffer(void **state)
{
    (void)state;
    char err[8];
    ac_buf_t out = AC_BUF_INIT;
    /* A small error buffer is filled safely. */
    assert_int_equal(ac_template_render("{{#section_with_a_long_name}}", NULL, NULL,
                                        AC_TEMPLATE_ESCAPE_NONE, &out, err, sizeof(err)),
                     -1);
    assert_true(strlen(err) < sizeof(err));
    ac_buf_free(&out);
}

static void test_check(void **state)
{
    (void)state;
    char err[256] = "";
    assert_int_equal(ac_template_check("", err, sizeof(err)), 0);
    assert_int_equal(ac_template_check("Hi {{name}} {{{raw}}} {{! c }}", err, sizeof(err)), 0);
    assert_int_equal(ac_template_check("{{#a}}{{#b}}{{c}}{{/b}}{{^b}}x{{/b}}{{/a}}{{^a}}y{{/a}}",
                                       err, sizeof(err)),
                     0);
    assert_int_equal(ac_template_check("{{#a}}", err, sizeof(err)), -1);
    assert_true(strlen(err) > 0);
    err[0] = '\0';
    assert_int_equal(ac_template_check("{{a", err, sizeof(err)), -1);
    assert_true(strlen(err) > 0);
}

static void test_nesting_limit(void **state)
{
    (void)state;
    /* Moderate nesting works; absurd nesting is refused, not a crash. */
    char tpl[4096] = "";
    for (int i = 0; i < 8; i++)
        snprintf(tpl + strlen(tpl), sizeof(tpl) - strlen(tpl), "{{#s%d}}", i);
    strcat(tpl, "deep");
    for (int i = 7; i >= 0; i--)
        snprintf(tpl + strlen(tpl), sizeof(tpl) - strlen(tpl), "{{/s%d}}", i);
    static const char *const v[] = {"s0", "1",  "s1", "1",  "s2", "1",  "s3", "1", "s4",
                                    "1",  "s5", "1",  "s6", "1",  "s7", "1",  NULL};
    assert_string_equal(render(tpl, v), "deep");

    tpl[0] = '\0';
    for (int i = 0; i < 100; i++)
        snprintf(tpl + strlen(tpl), sizeof(tpl) - strlen(tpl), "{{#s%d}}", i);
    for (int i = 99; i >= 0; i--)
        snprintf(tpl + strlen(tpl), sizeof(tpl) - strlen(tpl), "{{/s%d}}", i);
    char err[128] = "";
    assert_int_equal(ac_template_check(tpl, err, sizeof(err)), -1);
    assert_true(strlen(err) > 0);
}

static void test_appends_to_output(void **state)
{
    (void)state;
    static const char *const v[] = {"x", "1", NULL};
    vars_t ctx = {v, 0};
    ac_buf_t out = AC_BUF_INIT;
    char err[64];
    ac_buf_puts(&out, "subject: ");
    assert_int_equal(
        ac_template_render("{{x}}", lookup, &ctx, AC_TEMPLATE_ESCAPE_NONE, &out, err, sizeof(err)),
        0);
    assert_string_equal(out.data, "subject: 1");
    ac_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_text),
        cmocka_unit_test(test_variables),
        cmocka_unit_test(test_values_are_not_templates),
        cmocka_unit_test(test_html_escaping),
        cmocka_unit_test(test_html_escaping_each_character),
        cmocka_unit_test(test_html_text),
        cmocka_unit_test(test_html_text_links),
        cmocka_unit_test(test_triple_brace),
        cmocka_unit_test(test_sections),
        cmocka_unit_test(test_section_shows_any_non_empty_value),
        cmocka_unit_test(test_section_text_and_newlines),
        cmocka_unit_test(test_nested_sections),
        cmocka_unit_test(test_nested_same_name),
        cmocka_unit_test(test_sequential_sections),
        cmocka_unit_test(test_comments),
        cmocka_unit_test(test_unclosed_tag),
        cmocka_unit_test(test_unclosed_section),
        cmocka_unit_test(test_stray_close),
        cmocka_unit_test(test_errors_in_hidden_sections),
        cmocka_unit_test(test_small_error_buffer),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_appends_to_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
