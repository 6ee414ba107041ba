/* Unit tests for common/render: channel, language and the text a customer
 * reads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "test_util.h"

static const char FULL[] =
    "{\"event_id\":\"evt_1\",\"type\":\"order.placed\",\"occurred_at\":\"2026-11-25T10:15:00Z\","
    "\"store\":{\"id\":\"st_1\",\"name\":\"Nordwind Outfitters\",\"locale\":\"en-US\"},"
    "\"order\":{\"id\":\"ord_5001\",\"number\":\"5001\",\"currency\":\"EUR\",\"total\":148.98,"
    "\"items\":[{\"name\":\"Rain Jacket\",\"quantity\":1,\"price\":129},"
    "{\"name\":\"Wool Socks 🧦\",\"quantity\":2,\"price\":\"9.99\"},"
    "{\"name\":\"Gift card\"}]},"
    "\"customer\":{\"id\":\"c1\",\"email\":\"zoe@example.com\",\"first_name\":\"Zoë\","
    "\"locale\":\"en-GB\"}}";

/* Only the fields the contract requires. */
static const char MINIMAL[] = "{\"event_id\":\"e1\",\"type\":\"order.placed\","
                              "\"occurred_at\":\"2026-11-25T10:15:00Z\","
                              "\"order\":{\"id\":\"o1\"},\"customer\":{\"id\":\"c1\"}}";

/* Parses json after setting each (dotted path, JSON value) pair of edits;
 * a NULL value deletes the field. */
static ac_event_t *event_with(const char *json, const char *const *edits)
{
    json_object *root = json_tokener_parse(json);
    assert_non_null(root);
    for (size_t i = 0; edits && edits[i]; i += 2) {
        char path[128];
        snprintf(path, sizeof(path), "%s", edits[i]);
        json_object *obj = root;
        char *key = path, *dot;
        while ((dot = strchr(key, '.')) != NULL) {
            *dot = '\0';
            json_object *child;
            if (!json_object_object_get_ex(obj, key, &child) || !child) {
                child = json_object_new_object();
                json_object_object_add(obj, key, child);
            }
            obj = child;
            key = dot + 1;
        }
        if (edits[i + 1])
            json_object_object_add(obj, key, json_tokener_parse(edits[i + 1]));
        else
            json_object_object_del(obj, key);
    }
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
    ac_event_error_t err;
    ac_event_t *ev = ac_event_parse(text, strlen(text), 0, &err);
    json_object_put(root);
    if (!ev)
        fail_msg("test event does not parse: %s", err.detail);
    return ev;
}

/* A message of kind about ev; the message owns ev. */
static ac_message_t *message(ac_kind_t kind, ac_event_t *ev)
{
    ac_message_t *m = calloc(1, sizeof(*m));
    assert_non_null(m);
    m->kind = kind;
    m->event = ev;
    ac_message_id(kind, ev->store.id, ev->order.id, NULL, m->id);
    return m;
}

static void render_ok(const ac_message_t *m, ac_channel_t ch, ac_rendered_t *out)
{
    char err[256] = "";
    if (ac_render_message(m, ch, out, err, sizeof(err)) != 0)
        fail_msg("rendering %s over %s failed: %s", ac_kind_name(m->kind), ac_channel_name(ch),
                 err);
    assert_non_null(out->text);
    assert_non_null(out->language);
    if (ch == AC_CHANNEL_EMAIL)
        assert_non_null(out->subject);
    else
        assert_null(out->subject);
}

/* What every rendering must avoid, whatever the data: template syntax,
 * a greeting without a name, and empty punctuation left by a missing value. */
static void assert_clean(const char *s)
{
    assert_non_null(s);
    assert_not_contains(s, "{{");
    assert_not_contains(s, "}}");
    assert_not_contains(s, "Hi ,");
    assert_not_contains(s, "Hallo ,");
    assert_not_contains(s, " ,");
    assert_not_contains(s, "()");
    assert_not_contains(s, "##");
    assert_not_contains(s, "(null)");
    assert_not_contains(s, " .");
}

static void test_confirmation_email_en(void **state)
{
    (void)state;
    ac_message_t *m = message(AC_KIND_ORDER_CONFIRMATION, event_with(FULL, NULL));
    ac_rendered_t r;
    render_ok(m, AC_CHANNEL_EMAIL, &r);
    assert_string_equal(r.language, "en");
    assert_contains(r.subject, "#5001");
    assert_contains(r.subject, "Nordwind Outfitters");
    assert_contains(r.text, "Hi Zoë,");
    assert_int_equal(ac_test_count(r.text, "#5001"), 1);
    assert_int_equal(ac_test_count(r.text, "#"), 1);
    assert_contains(r.text, "Nordwind Outfitters");
    assert_contains(r.text, "1 × Rain Jacket (129.00 EUR)");
    assert_contains(r.text, "2 × Wool Socks 🧦 (19.98 EUR)");
    assert_contains(r.text, "1 × Gift card\n");
    assert_contains(r.text, "148.98 EUR");
    assert_not_contains(r.text, "148,98");
    assert_clean(r.subject);
    assert_clean(r.text);
    ac_rendered_free(&r);
    ac_message_destroy(m);
}

static void test_confirmation_email_de(void **state)
{
    (void)state;
    static const char *const edits[] = {"customer.locale", "\"de-AT\"",  "customer.first_name",
                                        "\"Jürgen\"",      "store.name", "\"Müller & Söhne\"",
                                        "order.number",    "\"#5001\"",  NULL};
    ac_message_t *m = message(AC_KIND_ORDER_CONFIRMATION, event_with(FULL, edits));
    ac_rendered_t r;
    render_ok(m, AC_CHANNEL_EMAIL, &r);
    assert_string_equal(r.language, "de");
    assert_contains(r.subject, "Bestellung #5001");
    assert_contains(r.subject, "Müller & Söhne");
    assert_contains(r.text, "Hallo Jürgen,");
    assert_not_contains(r.text, "Hi ");
    /* The number already starts with '#': it must not get a second one. */
    assert_int_equal(ac_test_count(r.text, "#"), 1);
    assert_contains(r.text, "#5001");
    assert_contains(r.text, "Müller & Söhne");
    assert_contains(r.text, "1 × Rain Jacket (129,00 EUR)");
    assert_contains(r.text, "2 × Wool Socks 🧦 (19,98 EUR)");
    assert_contains(r.text, "148,98 EUR");
    assert_not_contains(r.text, "148.98");
    assert_clean(r.subject);
    assert_clean(r.text);
    ac_rendered_free(&r);
    ac_message_destroy(m);
}

static void test_order_number_falls_back_to_id(void **state)
{
    (void)state;
    static const char *const edits[] = {"order.number", NULL, NULL};
    ac_message_t *m = message(AC_KIND_ORDER_CONFIRMATION, event_with(FULL, edits));
    ac_rendered_t r;
    render_ok(m, AC_CHANNEL_EMAIL, &r);
    assert_contains(r.subject, "#ord_5001");
    assert_contains(r.text, "#ord_5001");
    ac_rendered_free(&r);
    ac_message_destroy(m);

    static const char *const numeric[] = {"order.number", "1042", NULL};
    m = message(AC_KIND_ORDER_CONFIRMATION, event_with(FULL, numeric));
    render_ok(m, AC_CHANNEL_SMS, &r);
    assert_contains(r.text, "#1042");
    assert_int_equal(ac_test_count(r.text, "#"), 1);
    ac_rendered_free(&r);
    ac_message_destroy(m);
}

static void test_confirmation_sms(void **state)
{
    (void)state;
    ac_message_t *m = message(AC_KIND_ORDER_CONFIRMATION, event_with(FULL, NULL));
    ac_rendered_t r;
    render_ok(m, AC_CHANNEL_SMS, &r);
    assert_string_equal(r.language, "en");
    assert_contains(r.text, "Nordwind Outfitters");
    assert_contains(r.text, "Hi Zoë,");
    assert_contains(r.text, "#5001");
    assert_contains(r.text, "Rain Jacket and 2 more");
    assert_clean(r.text);
    ac_rendered_free(&r);
    ac_message_destroy(m);

    static const char *const de[] = {"customer.locale", "\"de\"", NULL};
    m = message(AC_KIND_ORDER_CONFIRMATION, event_with(FULL, de));
    render_ok(m, AC_CHANNEL_SMS, &r);
    assert_string_equal(r.language, "de");
    assert_contains(r.text, "Hallo Zoë,");
    assert_contains(r.text, "Rain Jacket und 2 weitere");
    assert_clean(r.text);
    ac_rendered_free(&r);
    ac_message_destroy(m);

    static const char *const one[] = {"order.items", "[{\"name\":\"Rain Jacket\",\"quantity\":3}]",
                                      NULL};
    m = message(AC_KIND_ORDER_CONFIRMATION, event_with(FULL, one));
    render_ok(m, AC_CHANNEL_SMS, &r);
    assert_contains(r.text, "(Rain Jacket)");
    assert_not_contains(r.text, "more");
    ac_rendered_free(&r);
    ac_message_destroy(m);
}

static void test_cancellation(void **state)
{
    (void)state;
    ac_message_t *m = message(AC_KIND_ORDER_CANCELLED, event_with(FULL, NULL));
    ac_rendered_t r;
    render_ok(m, AC_CHANNEL_EMAIL, &r);
    assert_contains(r.subject, "#5001");
    assert_contains(r.subject, "cancelled");
    assert_contains(r.text, "Hi Zoë,");
    assert_contains(r.text, "148.98 EUR");
    assert_contains(r.text, "2 × Wool Socks 🧦");
    assert_clean(r.subject);
    assert_clean(r.text);
    ac_rendered_free(&r);
    render_ok(m, AC_CHANNEL_SMS, &r);
    assert_contains(r.text, "#5001");
    assert_contains(r.text, "148.98 EUR");
    assert_clean(r.text);
    ac_rendered_free(&r);
    ac_message_destroy(m);
}

static void test_every_template_without_optional_data(void **state)
{
    (void)state;
    static const ac_kind_t kinds[] = {AC_KIND_ORDER_CONFIRMATION, AC_KIND_ORDER_CANCELLED};
    static const ac_channel_t channels[] = {AC_CHANNEL_EMAIL, AC_CHANNEL_SMS};
    static const char *const languages[] = {"en", "de"};
    /* Missing and empty first names must read the same. */
    static const char *const first_names[] = {NULL, "\"\""};
    for (size_t k = 0; k < 2; k++) {
        for (size_t c = 0; c < 2; c++) {
            for (size_t l = 0; l < 2; l++) {
                for (size_t f = 0; f < 2; f++) {
                    char locale[16];
                    snprintf(locale, sizeof(locale), "\"%s\"", languages[l]);
                    const char *edits[] = {"customer.locale", locale, "customer.first_name",
                                           first_names[f], NULL};
                    ac_message_t *m = message(kinds[k], event_with(MINIMAL, edits));
                    ac_rendered_t r;
                    render_ok(m, channels[c], &r);
                    assert_string_equal(r.language, languages[l]);
                    if (r.subject) {
                        assert_clean(r.subject);
                        assert_contains(r.subject, "#o1");
                    }
                    assert_clean(r.text);
                    assert_contains(r.text, "#o1");
                    assert_not_contains(r.text, "Hi ");
                    assert_not_contains(r.text, "Hallo ");
                    /* No store, no total, no items: none of their lead-ins. */
                    assert_not_contains(r.text, " at ");
                    assert_not_contains(r.text, " bei ");
                    assert_not_contains(r.text, "Total");
                    assert_not_contains(r.text, "Gesamt");
                    assert_not_contains(r.text, ":\n\n");
                    assert_not_contains(r.text, "EUR");
                    if (channels[c] == AC_CHANNEL_EMAIL)
                        assert_contains(r.text, l == 0 ? "Hello," : "Guten Tag,");
                    ac_rendered_free(&r);
                    ac_message_destroy(m);
                }
            }
        }
    }
}

static void test_no_template(void **state)
{
    (void)state;
    ac_message_t *m = message(AC_KIND_REVIEW_REQUEST, event_with(FULL, NULL));
    ac_rendered_t r;
    char err[256] = "";
    memset(&r, 0x5a, sizeof(r));
    assert_int_equal(ac_render_message(m, AC_CHANNEL_EMAIL, &r, err, sizeof(err)), -1);
    assert_contains(err, "review_request");
    assert_null(r.text);
    assert_null(r.subject);
    ac_rendered_free(&r);
    ac_message_destroy(m);
}

static void test_rendered_free(void **state)
{
    (void)state;
    ac_rendered_t r;
    memset(&r, 0, sizeof(r));
    ac_rendered_free(&r);
    ac_rendered_free(NULL);
    ac_message_t *m = message(AC_KIND_ORDER_CONFIRMATION, event_with(FULL, NULL));
    render_ok(m, AC_CHANNEL_EMAIL, &r);
    ac_rendered_free(&r);
    assert_null(r.text);
    assert_null(r.subject);
    ac_rendered_free(&r);
    ac_message_destroy(m);
}

static void test_channel(void **state)
{
    (void)state;
    ac_channel_t ch;
    const char *to = NULL;
    ac_event_t *ev = event_with(FULL, NULL);
    assert_int_equal(ac_render_channel(ev, &ch, &to), 0);
    assert_int_equal(ch, AC_CHANNEL_EMAIL);
    assert_string_equal(to, "zoe@example.com");
    ac_event_destroy(ev);

    /* Email wins over a phone number when both are given. */
    static const char *const both[] = {"customer.phone", "\"+4915112345678\"", NULL};
    ev = event_with(FULL, both);
    assert_int_equal(ac_render_channel(ev, &ch, &to), 0);
    assert_int_equal(ch, AC_CHANNEL_EMAIL);
    ac_event_destroy(ev);

    static const char *const phone_only[] = {"customer.email", NULL, "customer.phone",
                                             "\"+4915112345678\"", NULL};
    ev = event_with(FULL, phone_only);
    assert_int_equal(ac_render_channel(ev, &ch, &to), 0);
    assert_int_equal(ch, AC_CHANNEL_SMS);
    assert_string_equal(to, "+4915112345678");
    ac_event_destroy(ev);

    /* An address without '@' cannot be mailed to. */
    static const char *const bad_email[] = {"customer.email", "\"zoe.example.com\"",
                                            "customer.phone", "\"+447700900123\"", NULL};
    ev = event_with(FULL, bad_email);
    assert_int_equal(ac_render_channel(ev, &ch, &to), 0);
    assert_int_equal(ch, AC_CHANNEL_SMS);
    assert_string_equal(to, "+447700900123");
    ac_event_destroy(ev);

    static const char *const neither[] = {"customer.email", NULL, NULL};
    ev = event_with(FULL, neither);
    assert_int_equal(ac_render_channel(ev, &ch, &to), -1);
    ac_event_destroy(ev);

    static const char *const empty[] = {"customer.email", "\"\"", "customer.phone", "\"\"", NULL};
    ev = event_with(FULL, empty);
    assert_int_equal(ac_render_channel(ev, &ch, &to), -1);
    ac_event_destroy(ev);

    assert_string_equal(ac_channel_name(AC_CHANNEL_EMAIL), "email");
    assert_string_equal(ac_channel_name(AC_CHANNEL_SMS), "sms");
}

static const char *language_of(const char *customer_locale, const char *store_locale)
{
    char c[64], s[64];
    snprintf(c, sizeof(c), "\"%s\"", customer_locale ? customer_locale : "");
    snprintf(s, sizeof(s), "\"%s\"", store_locale ? store_locale : "");
    const char *edits[] = {"customer.locale", customer_locale ? c : NULL, "store.locale",
                           store_locale ? s : NULL, NULL};
    ac_event_t *ev = event_with(MINIMAL, edits);
    const char *l = ac_render_language(ev);
    ac_event_destroy(ev);
    return l;
}

static void test_language(void **state)
{
    (void)state;
    /* The customer's locale wins over the store's. */
    assert_string_equal(language_of("de-AT", "en-US"), "de");
    assert_string_equal(language_of("en-GB", "de-DE"), "en");
    assert_string_equal(language_of(NULL, "de-DE"), "de");
    assert_string_equal(language_of(NULL, "de_CH"), "de");
    assert_string_equal(language_of("DE", NULL), "de");
    assert_string_equal(language_of("de", NULL), "de");
    assert_string_equal(language_of("De-at", NULL), "de");
    /* Unknown or malformed locales fall through to the next source. */
    assert_string_equal(language_of("fr-FR", NULL), "en");
    assert_string_equal(language_of("fr-FR", "de-DE"), "de");
    assert_string_equal(language_of("deu", NULL), "en");
    assert_string_equal(language_of("d", NULL), "en");
    assert_string_equal(language_of("", NULL), "en");
    assert_string_equal(language_of(NULL, NULL), "en");
    assert_string_equal(language_of("xx", "yy"), "en");
}

static void test_rendered_language_follows_locale(void **state)
{
    (void)state;
    static const char *const fr[] = {"customer.locale", "\"fr-FR\"", "store.locale", "\"fr\"",
                                     NULL};
    ac_message_t *m = message(AC_KIND_ORDER_CONFIRMATION, event_with(FULL, fr));
    ac_rendered_t r;
    render_ok(m, AC_CHANNEL_EMAIL, &r);
    assert_string_equal(r.language, "en");
    assert_contains(r.text, "Hi Zoë,");
    ac_rendered_free(&r);
    ac_message_destroy(m);
}

static const char *money(double amount, const char *currency, const char *language)
{
    static char buf[64];
    memset(buf, 'x', sizeof(buf));
    ac_render_money(amount, currency, language, buf, sizeof(buf));
    return buf;
}

static void test_money(void **state)
{
    (void)state;
    assert_string_equal(money(148.98, "EUR", "en"), "148.98 EUR");
    assert_string_equal(money(148.98, "EUR", "de"), "148,98 EUR");
    assert_string_equal(money(5, "EUR", "en"), "5.00 EUR");
    assert_string_equal(money(0.5, "EUR", "de"), "0,50 EUR");
    assert_string_equal(money(19.98, "USD", "en"), "19.98 USD");
    /* Currencies without minor units get no decimals in any language. */
    assert_string_equal(money(1200, "JPY", "en"), "1200 JPY");
    assert_string_equal(money(1200, "JPY", "de"), "1200 JPY");
    assert_string_equal(money(1200.4, "JPY", "en"), "1200 JPY");
    assert_string_equal(money(15000, "KRW", "en"), "15000 KRW");
    /* Without a currency only the amount is written. */
    assert_string_equal(money(148.98, NULL, "en"), "148.98");
    assert_string_equal(money(148.98, "", "de"), "148,98");
}

static void test_money_small_buffer(void **state)
{
    (void)state;
    char buf[8];
    memset(buf, 'x', sizeof(buf));
    ac_render_money(12345.67, "EUR", "en", buf, sizeof(buf));
    assert_true(memchr(buf, '\0', sizeof(buf)) != NULL);
    assert_memory_equal(buf, "12345.6", 7);
    char tiny[1];
    ac_render_money(1.0, "EUR", "de", tiny, sizeof(tiny));
    assert_int_equal(tiny[0], '\0');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_confirmation_email_en),
        cmocka_unit_test(test_confirmation_email_de),
        cmocka_unit_test(test_order_number_falls_back_to_id),
        cmocka_unit_test(test_confirmation_sms),
        cmocka_unit_test(test_cancellation),
        cmocka_unit_test(test_every_template_without_optional_data),
        cmocka_unit_test(test_no_template),
        cmocka_unit_test(test_rendered_free),
        cmocka_unit_test(test_channel),
        cmocka_unit_test(test_language),
        cmocka_unit_test(test_rendered_language_follows_locale),
        cmocka_unit_test(test_money),
        cmocka_unit_test(test_money_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
