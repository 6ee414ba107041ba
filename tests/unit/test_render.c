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
#include <sys/stat.h>
#include <unistd.h>

#include "render.h"
#include "sms.h"
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

/* A parcel on its way, as the shipments topic sends it; the tests change
 * its type for the other shipment events. Values are ASCII and typical in
 * length, so the SMS tests can count characters as bytes. */
static const char SHIPMENT[] =
    "{\"event_id\":\"evt_2\",\"type\":\"shipment.shipped\","
    "\"occurred_at\":\"2024-11-05T14:20:00+01:00\","
    "\"store\":{\"id\":\"st_1\",\"name\":\"Nordwind Outfitters\",\"locale\":\"en-US\"},"
    "\"order\":{\"id\":\"ord_5001\",\"number\":\"5001\",\"currency\":\"EUR\",\"total\":148.98,"
    "\"items\":[{\"name\":\"Rain Jacket\",\"quantity\":1,\"price\":129},"
    "{\"name\":\"Wool Socks\",\"quantity\":2,\"price\":9.99}]},"
    "\"customer\":{\"id\":\"c1\",\"email\":\"zoe@example.com\",\"first_name\":\"Zoe\","
    "\"locale\":\"en-GB\",\"marketing_consent\":true},"
    "\"shipment\":{\"id\":\"shp_1\",\"carrier\":\"UPS\",\"tracking_number\":\"1Z999AA10123456784\","
    "\"tracking_url\":\"https://www.ups.com/track?tracknum=1Z999AA10123456784\","
    "\"status\":\"shipped\",\"estimated_delivery\":\"2024-11-07\"}}";

#define TRACKING_URL "https://www.ups.com/track?tracknum=1Z999AA10123456784"
#define LABEL_URL    "https://nordwind.example/returns/ret_2291/label"

/* A return request from the returns topic; the tests turn it into the
 * refund by changing its type. */
static const char RETURN[] =
    "{\"event_id\":\"evt_3\",\"type\":\"return.requested\","
    "\"occurred_at\":\"2024-11-10T19:15:00+01:00\","
    "\"store\":{\"id\":\"st_1\",\"name\":\"Nordwind Outfitters\",\"locale\":\"en-US\"},"
    "\"order\":{\"id\":\"ord_5001\",\"number\":\"5001\",\"currency\":\"EUR\"},"
    "\"customer\":{\"id\":\"c1\",\"email\":\"zoe@example.com\",\"first_name\":\"Zoe\","
    "\"locale\":\"en-GB\"},"
    "\"return\":{\"id\":\"ret_2291\",\"reason\":\"too_small\","
    "\"items\":[{\"sku\":\"NW-RJ-1\",\"name\":\"Rain Jacket\",\"quantity\":1}],"
    "\"label_url\":\"" LABEL_URL "\",\"refund_amount\":\"89.00\"}}";

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
    if (ch == AC_CHANNEL_EMAIL) {
        assert_non_null(out->subject);
        assert_non_null(out->html);
        assert_int_equal(out->sms.segments, 0);
    } else {
        assert_null(out->subject);
        assert_null(out->html);
        /* The count that comes with an SMS is its text's. */
        ac_sms_count_t c;
        ac_sms_count(out->text, &c);
        assert_int_equal(out->sms.encoding, c.encoding);
        assert_int_equal(out->sms.units, c.units);
        assert_int_equal(out->sms.segments, c.segments);
    }
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

/* Stricter than assert_clean(), for templates whose every optional part
 * brings its own spacing: no doubled space inside a line (indentation at the
 * start of a line is fine), no space before a line break or punctuation, and
 * no run of blank lines where a missing block was left out. */
static void assert_no_gaps(const char *s)
{
    assert_clean(s);
    for (const char *p = strstr(s, "  "); p; p = strstr(p + 1, "  "))
        if (p != s && p[-1] != '\n' && p[-1] != ' ')
            fail_msg("doubled space in \"%s\"", s);
    assert_not_contains(s, " \n");
    assert_not_contains(s, "\n\n\n");
    assert_not_contains(s, " ;");
    assert_not_contains(s, " :");
    assert_not_contains(s, " ?");
    assert_not_contains(s, "..");
    assert_int_not_equal(s[0], ' ');
    assert_int_not_equal(s[0], '\n');
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
    static const ac_channel_t channels[] = {AC_CHANNEL_EMAIL, AC_CHANNEL_SMS};
    static const char *const languages[] = {"en", "de"};
    /* Missing and empty first names must read the same. */
    static const char *const first_names[] = {NULL, "\"\""};
    for (int k = 0; k < AC_KIND__COUNT; k++) {
        for (size_t c = 0; c < 2; c++) {
            for (size_t l = 0; l < 2; l++) {
                for (size_t f = 0; f < 2; f++) {
                    char locale[16];
                    snprintf(locale, sizeof(locale), "\"%s\"", languages[l]);
                    /* The store alert is in the store's language. */
                    const char *edits[] = {k == AC_KIND_STORE_ALERT ? "store.locale"
                                                                    : "customer.locale",
                                           locale, "customer.first_name", first_names[f], NULL};
                    ac_message_t *m = message((ac_kind_t)k, event_with(MINIMAL, edits));
                    ac_rendered_t r;
                    render_ok(m, channels[c], &r);
                    assert_string_equal(r.language, languages[l]);
                    /* A referral invitation is about the store, not one
                     * order: only its email mentions the order, in passing. */
                    int about_order = k != AC_KIND_REFERRAL_INVITE;
                    if (r.subject) {
                        assert_clean(r.subject);
                        if (about_order)
                            assert_contains(r.subject, "#o1");
                    }
                    assert_clean(r.text);
                    if (about_order || channels[c] == AC_CHANNEL_EMAIL)
                        assert_contains(r.text, "#o1");
                    /* The two older kinds leave a blank line more where
                     * items and total are missing; the others must not. */
                    if (k >= AC_KIND_SHIPPING_UPDATE)
                        assert_no_gaps(r.text);
                    /* No shipment or return: none of their lead-ins. */
                    assert_not_contains(r.text, "http");
                    assert_not_contains(r.text, "Track");
                    assert_not_contains(r.text, "verfolgen");
                    assert_not_contains(r.text, "number");
                    assert_not_contains(r.text, "nummer");
                    assert_not_contains(r.text, "Hi ");
                    assert_not_contains(r.text, "Hallo ");
                    /* No store, no total, no items: none of their lead-ins. */
                    assert_not_contains(r.text, " at ");
                    assert_not_contains(r.text, " bei ");
                    assert_not_contains(r.text, "Total");
                    assert_not_contains(r.text, "Gesamt");
                    assert_not_contains(r.text, ":\n\n");
                    assert_not_contains(r.text, "EUR");
                    /* The store alert is for the store's team, not a letter. */
                    if (channels[c] == AC_CHANNEL_EMAIL && k != AC_KIND_STORE_ALERT)
                        assert_contains(r.text, l == 0 ? "Hello," : "Guten Tag,");
                    ac_rendered_free(&r);
                    ac_message_destroy(m);
                }
            }
        }
    }
}

/* One kind of message as the event that causes it would render it: the
 * fixture, the event type, and what each language must show. */
typedef struct kind_case {
    ac_kind_t kind;
    const char *json;
    const char *type;
    const char *en[4];
    const char *de[4];
} kind_case_t;

static const kind_case_t kind_cases[] = {
    {AC_KIND_SHIPPING_UPDATE,
     SHIPMENT,
     "\"shipment.shipped\"",
     {"#5001", "UPS", TRACKING_URL, "on its way"},
     {"#5001", "UPS", TRACKING_URL, "unterwegs"}},
    {AC_KIND_DELAY_NOTICE,
     SHIPMENT,
     "\"shipment.delayed\"",
     {"#5001", TRACKING_URL, "7 November 2024", "running late"},
     {"#5001", TRACKING_URL, "7. November 2024", "verspätet"}},
    {AC_KIND_REVIEW_REQUEST,
     SHIPMENT,
     "\"shipment.delivered\"",
     {"Rain Jacket and 1 more", "reply"},
     {"Rain Jacket und 1 weitere", "#5001", "Antworten"}},
    {AC_KIND_REFERRAL_INVITE,
     SHIPMENT,
     "\"shipment.delivered\"",
     {"Nordwind Outfitters", "shopping with us"},
     {"Nordwind Outfitters", "Einkauf"}},
    {AC_KIND_RETURN_CONFIRMATION,
     RETURN,
     "\"return.requested\"",
     {"#5001", LABEL_URL, "send the items back"},
     {"#5001", LABEL_URL, "Artikel"}},
    {AC_KIND_REFUND_NOTICE,
     RETURN,
     "\"return.refunded\"",
     {"#5001", "89.00 EUR", "original payment method"},
     {"#5001", "89,00 EUR", "ursprüngliche Zahlungsart"}},
};

/* Renders kind c over ch in language ("en" or "de") from its fixture with
 * edits applied after the type and locale; checks what every rendering
 * must satisfy and returns it. */
static void render_case(const kind_case_t *c, ac_channel_t ch, const char *language,
                        const char *const *extra, ac_rendered_t *out)
{
    char locale[16];
    snprintf(locale, sizeof(locale), "\"%s\"", strcmp(language, "de") == 0 ? "de-DE" : "en-GB");
    const char *edits[16] = {"type", c->type, "customer.locale", locale};
    size_t n = 4;
    for (size_t i = 0; extra && extra[i] && n + 2 < sizeof(edits) / sizeof(edits[0]); i += 2) {
        edits[n++] = extra[i];
        edits[n++] = extra[i + 1];
    }
    edits[n] = NULL;
    ac_message_t *m = message(c->kind, event_with(c->json, edits));
    render_ok(m, ch, out);
    ac_message_destroy(m);
    assert_string_equal(out->language, language);
    assert_no_gaps(out->text);
    if (ch == AC_CHANNEL_EMAIL) {
        assert_clean(out->subject);
        assert_true(strlen(out->subject) > 10);
        assert_null(strchr(out->subject, '\n'));
    }
}

static const kind_case_t *case_of(ac_kind_t kind)
{
    for (size_t i = 0; i < sizeof(kind_cases) / sizeof(kind_cases[0]); i++)
        if (kind_cases[i].kind == kind)
            return &kind_cases[i];
    fail_msg("no test case for %s", ac_kind_name(kind));
    return NULL;
}

/* The store's links, the customer's referral code and a suggested product
 * appear in the review request and referral invitation when notify-worker
 * has them, in every channel and language, and SMS still fit. */
static void test_extras(void **state)
{
    (void)state;
    static const char review[] = "https://shop.example/reviews/new?order=5001";
    static const char referral[] = "https://shop.example/r/NW7Q2K4M";
    const ac_render_extras_t x = {review, referral, "NW7Q2K4M", "Merino Beanie", NULL, NULL, NULL};
    static const char *langs[] = {"en", "de"};
    for (size_t l = 0; l < 2; l++) {
        for (int ch = 0; ch < AC_CHANNEL__COUNT; ch++) {
            char locale[16];
            snprintf(locale, sizeof(locale), "\"%s\"", l ? "de-DE" : "en-GB");
            const char *edits[] = {"type", "\"shipment.delivered\"", "customer.locale", locale,
                                   NULL};
            ac_kind_t kinds[] = {AC_KIND_REVIEW_REQUEST, AC_KIND_REFERRAL_INVITE};
            for (size_t k = 0; k < 2; k++) {
                ac_message_t *m = message(kinds[k], event_with(SHIPMENT, edits));
                ac_rendered_t r;
                char err[256];
                assert_int_equal(
                    ac_render_message_with(m, (ac_channel_t)ch, &x, &r, err, sizeof(err)), 0);
                assert_string_equal(r.language, langs[l]);
                assert_clean(r.text);
                assert_no_gaps(r.text);
                if (kinds[k] == AC_KIND_REVIEW_REQUEST) {
                    assert_non_null(strstr(r.text, review));
                } else {
                    assert_non_null(strstr(r.text, referral));
                    if (ch == AC_CHANNEL_EMAIL)
                        assert_non_null(strstr(r.text, "NW7Q2K4M"));
                }
                if (ch == AC_CHANNEL_EMAIL) {
                    assert_non_null(strstr(r.text, "Merino Beanie"));
                    /* A link in the HTML too. */
                    assert_non_null(strstr(r.html, "<a href=\"https://shop.example/"));
                } else {
                    assert_true(r.sms.segments <= AC_RENDER_SMS_MAX_SEGMENTS);
                }
                ac_rendered_free(&r);
                /* Without extras, the reply wording instead, and no link. */
                assert_int_equal(ac_render_message(m, (ac_channel_t)ch, &r, err, sizeof(err)), 0);
                assert_null(strstr(r.text, "shop.example"));
                assert_null(strstr(r.text, "Merino"));
                assert_no_gaps(r.text);
                ac_rendered_free(&r);
                ac_message_destroy(m);
            }
        }
    }
}

/* Writes text to dir/name. */
static void write_file(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A store's team overrides templates without rebuilding: its own for one
 * store, shared ones for every store, built-in ones for the rest. */
static void test_template_overrides(void **state)
{
    (void)state;
    char dir[] = "/tmp/ac_test_templates_XXXXXX", sub[600], err[512];
    assert_non_null(mkdtemp(dir));
    snprintf(sub, sizeof(sub), "%s/st_1", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file(dir, "review_request.email.en.txt",
               "Subject: Tell us about {{order_number}}\n\nShared text for "
               "{{#first_name}}{{first_name}}{{/first_name}}{{^first_name}}you{{/first_name}}.\n");
    write_file(sub, "review_request.sms.en.txt", "st_1 says hi {{order_number}}");
    ac_templates_t *o = ac_templates_load(dir, err, sizeof(err));
    if (!o)
        fail_msg("%s", err);
    assert_int_equal(ac_templates_count(o), 2);
    ac_render_extras_t x = {NULL, NULL, NULL, NULL, o, NULL, NULL};
    const char *edits[] = {"type", "\"shipment.delivered\"", NULL};
    ac_message_t *m = message(AC_KIND_REVIEW_REQUEST, event_with(SHIPMENT, edits));
    ac_rendered_t r;
    /* The shared email override, for store st_1 as for any. */
    assert_int_equal(ac_render_message_with(m, AC_CHANNEL_EMAIL, &x, &r, err, sizeof(err)), 0);
    assert_string_equal(r.subject, "Tell us about #5001");
    assert_non_null(strstr(r.text, "Shared text for"));
    ac_rendered_free(&r);
    /* st_1's own SMS. */
    assert_int_equal(ac_render_message_with(m, AC_CHANNEL_SMS, &x, &r, err, sizeof(err)), 0);
    assert_string_equal(r.text, "st_1 says hi #5001");
    ac_rendered_free(&r);
    ac_message_destroy(m);
    /* Another store's SMS is the built-in one. */
    const char *other[] = {"type", "\"shipment.delivered\"", "store.id", "\"st_2\"", NULL};
    m = message(AC_KIND_REVIEW_REQUEST, event_with(SHIPMENT, other));
    assert_int_equal(ac_render_message_with(m, AC_CHANNEL_SMS, &x, &r, err, sizeof(err)), 0);
    assert_null(strstr(r.text, "st_1 says"));
    ac_rendered_free(&r);
    ac_message_destroy(m);
    ac_templates_destroy(o);

    /* Mistakes name the file and what is wrong with it. */
    struct {
        const char *name, *text, *want;
    } bad[] = {
        {"review.email.en.txt", "Subject: x\n\ny", "review.email.en.txt: not <kind>"},
        {"review_request.fax.en.txt", "x", "not <kind>"},
        {"review_request.email.en.txt", "no subject line", "Subject"},
        {"review_request.sms.en.txt", "{{#first_name}}unclosed", "review_request.sms.en.txt"},
        {"review_request.sms.fr.txt", "Bonjour", "language fr"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char d2[] = "/tmp/ac_test_templates_XXXXXX";
        assert_non_null(mkdtemp(d2));
        write_file(d2, bad[i].name, bad[i].text);
        err[0] = '\0';
        assert_null(ac_templates_load(d2, err, sizeof(err)));
        if (!strstr(err, bad[i].want))
            fail_msg("%s: error \"%s\" does not say \"%s\"", bad[i].name, err, bad[i].want);
        char path[600];
        snprintf(path, sizeof(path), "%s/%s", d2, bad[i].name);
        unlink(path);
        rmdir(d2);
    }
    assert_null(ac_templates_load("/nonexistent/templates", err, sizeof(err)));
    /* No directory: no overrides. */
    o = ac_templates_load(NULL, err, sizeof(err));
    assert_non_null(o);
    assert_int_equal(ac_templates_count(o), 0);
    ac_templates_destroy(o);
    ac_templates_destroy(NULL);
    char path[700];
    snprintf(path, sizeof(path), "%s/review_request.sms.en.txt", sub);
    unlink(path);
    rmdir(sub);
    snprintf(path, sizeof(path), "%s/review_request.email.en.txt", dir);
    unlink(path);
    rmdir(dir);
}

/* The customer's preferred channel, where they can be reached on it. */
static void test_preferred_channel(void **state)
{
    (void)state;
    const char *both[] = {"customer.phone", "\"+49 151 5559797\"", NULL};
    ac_event_t *ev = event_with(MINIMAL, both);
    ac_channel_t ch;
    const char *to;
    if (!ev->customer.email) {
        ac_event_destroy(ev);
        const char *with_email[] = {"customer.phone", "\"+49 151 5559797\"", "customer.email",
                                    "\"zoe@example.com\"", NULL};
        ev = event_with(MINIMAL, with_email);
    }
    assert_int_equal(ac_channel_choose(ev, -1, &ch, &to), 0);
    assert_int_equal(ch, AC_CHANNEL_EMAIL);
    assert_int_equal(ac_channel_choose(ev, AC_CHANNEL_SMS, &ch, &to), 0);
    assert_int_equal(ch, AC_CHANNEL_SMS);
    assert_string_equal(to, "+49 151 5559797");
    assert_int_equal(ac_channel_choose(ev, AC_CHANNEL_EMAIL, &ch, &to), 0);
    assert_int_equal(ch, AC_CHANNEL_EMAIL);
    ac_event_destroy(ev);
    /* Preferring SMS without a phone number: email after all. */
    const char *email_only[] = {"customer.phone", NULL, "customer.email", "\"zoe@example.com\"",
                                NULL};
    ev = event_with(MINIMAL, email_only);
    assert_int_equal(ac_channel_choose(ev, AC_CHANNEL_SMS, &ch, &to), 0);
    assert_int_equal(ch, AC_CHANNEL_EMAIL);
    ac_event_destroy(ev);
}

static void test_every_kind_channel_language(void **state)
{
    (void)state;
    static const ac_channel_t channels[] = {AC_CHANNEL_EMAIL, AC_CHANNEL_SMS};
    for (size_t k = 0; k < sizeof(kind_cases) / sizeof(kind_cases[0]); k++) {
        const kind_case_t *c = &kind_cases[k];
        for (size_t ch = 0; ch < 2; ch++) {
            for (int de = 0; de < 2; de++) {
                ac_rendered_t r;
                render_case(c, channels[ch], de ? "de" : "en", NULL, &r);
                const char *const *want = de ? c->de : c->en;
                for (size_t i = 0; i < 4 && want[i]; i++)
                    assert_contains(r.text, want[i]);
                if (channels[ch] == AC_CHANNEL_EMAIL)
                    assert_contains(r.text, de ? "Hallo Zoe,\n\n" : "Hi Zoe,\n\n");
                if (r.subject && c->kind != AC_KIND_REFERRAL_INVITE)
                    assert_true(strstr(r.subject, "#5001") || strstr(r.subject, "Rain Jacket"));
                /* The reason a customer gave for a return is not read back
                 * to them. */
                assert_not_contains(r.text, "too_small");
                ac_rendered_free(&r);
            }
        }
    }
    /* The kinds covered above are all the kinds there are, besides the
     * order confirmation and cancellation, and the feedback follow-up and
     * store alert (test_feedback_messages), tested on their own. */
    assert_int_equal(sizeof(kind_cases) / sizeof(kind_cases[0]) + 4, AC_KIND__COUNT);
}

/* A complaint: the customer hears an apology in their language with what
 * happens next; the store's support reads the rating and the comment in
 * the store's language. */
static void test_feedback_messages(void **state)
{
    (void)state;
    static const char *const with_comment[] = {
        "type",
        "\"feedback.received\"",
        "feedback",
        "{\"rating\":2,\"comment\":\"The zip broke on day one.\"}",
        "customer.locale",
        "\"de-DE\"",
        NULL};
    ac_rendered_t r;
    char err[256];
    /* A store whose support hears of complaints: a person's answer is
     * promised. */
    const ac_render_extras_t support = {NULL, NULL, NULL, NULL, NULL, NULL, "yes"};
    ac_message_t *m = message(AC_KIND_FEEDBACK_FOLLOWUP, event_with(SHIPMENT, with_comment));
    assert_int_equal(ac_render_message_with(m, AC_CHANNEL_EMAIL, &support, &r, err, sizeof(err)),
                     0);
    assert_string_equal(r.language, "de");
    assert_contains(r.subject, "#5001");
    assert_contains(r.text, "Hallo Zoe,\n\n");
    assert_contains(r.text, "Es tut uns leid");
    assert_contains(r.text, "innerhalb eines Werktags");
    assert_contains(r.text, "Wir haben gelesen");
    assert_not_contains(r.text, "zip broke"); /* not read back to them */
    ac_rendered_free(&r);
    assert_int_equal(ac_render_message_with(m, AC_CHANNEL_SMS, &support, &r, err, sizeof(err)), 0);
    assert_contains(r.text, "#5001");
    assert_contains(r.text, "innerhalb eines Werktags");
    assert_true(r.sms.segments <= AC_RENDER_SMS_MAX_SEGMENTS);
    ac_rendered_free(&r);
    /* Without one nobody is alerted, so nobody is promised. */
    render_ok(m, AC_CHANNEL_EMAIL, &r);
    assert_contains(r.text, "Es tut uns leid");
    assert_not_contains(r.text, "Werktag");
    assert_contains(r.text, "was schiefgelaufen ist");
    ac_rendered_free(&r);
    render_ok(m, AC_CHANNEL_SMS, &r);
    assert_not_contains(r.text, "Werktag");
    ac_rendered_free(&r);
    ac_message_destroy(m);

    /* The store's team reads it in the store's language (en-US here),
     * whatever the customer's. */
    m = message(AC_KIND_STORE_ALERT, event_with(SHIPMENT, with_comment));
    render_ok(m, AC_CHANNEL_EMAIL, &r);
    assert_string_equal(r.language, "en");
    assert_contains(r.subject, "#5001 rated 2 of 5");
    assert_contains(r.text, "★★☆☆☆");
    assert_contains(r.text, "The zip broke on day one.");
    assert_contains(r.text, "id c1");
    assert_not_contains(r.text, "zoe@example.com");
    ac_rendered_free(&r);
    ac_message_destroy(m);

    static const char *const no_comment[] = {
        "type", "\"feedback.received\"", "feedback", "{\"rating\":1}", "store.locale", "\"de-DE\"",
        NULL};
    m = message(AC_KIND_STORE_ALERT, event_with(SHIPMENT, no_comment));
    render_ok(m, AC_CHANNEL_EMAIL, &r);
    assert_string_equal(r.language, "de");
    assert_contains(r.text, "★☆☆☆☆");
    assert_contains(r.text, "Ohne Kommentar");
    ac_rendered_free(&r);
    ac_message_destroy(m);
}

/* A review request with rating links offers one click per star, from
 * five down to one; without them it reads as before. */
static void test_review_request_rating_links(void **state)
{
    (void)state;
    static const char *const urls[5] = {"https://f.example/r/1", "https://f.example/r/2",
                                        "https://f.example/r/3", "https://f.example/r/4",
                                        "https://f.example/r/5"};
    static const char *const delivered[] = {"type", "\"shipment.delivered\"", NULL};
    const ac_render_extras_t x = {NULL, NULL, NULL, NULL, NULL, urls, NULL};
    ac_message_t *m = message(AC_KIND_REVIEW_REQUEST, event_with(SHIPMENT, delivered));
    ac_rendered_t r;
    char err[256];
    assert_int_equal(ac_render_message_with(m, AC_CHANNEL_EMAIL, &x, &r, err, sizeof(err)), 0);
    const char *five = strstr(r.text, "★★★★★ https://f.example/r/5\n");
    const char *one = strstr(r.text, "★☆☆☆☆ https://f.example/r/1\n");
    assert_non_null(five);
    assert_non_null(one);
    assert_true(five < one);
    assert_contains(r.html, "href=\"https://f.example/r/3\"");
    ac_rendered_free(&r);
    render_ok(m, AC_CHANNEL_EMAIL, &r);
    assert_not_contains(r.text, "★");
    ac_rendered_free(&r);
    ac_message_destroy(m);
}

static void test_shipping_update_out_for_delivery(void **state)
{
    (void)state;
    const kind_case_t *c = case_of(AC_KIND_SHIPPING_UPDATE);
    static const ac_channel_t channels[] = {AC_CHANNEL_EMAIL, AC_CHANNEL_SMS};
    static const char *const today[] = {"type", "\"shipment.out_for_delivery\"", NULL};
    for (size_t ch = 0; ch < 2; ch++) {
        for (int de = 0; de < 2; de++) {
            ac_rendered_t shipped, ofd;
            render_case(c, channels[ch], de ? "de" : "en", NULL, &shipped);
            render_case(c, channels[ch], de ? "de" : "en", today, &ofd);
            assert_string_not_equal(shipped.text, ofd.text);
            if (shipped.subject)
                assert_string_not_equal(shipped.subject, ofd.subject);
            assert_contains(ofd.text, TRACKING_URL);
            if (de) {
                assert_contains(ofd.text, "heute");
                assert_contains(ofd.text, "Zustellung");
                assert_not_contains(shipped.text, "heute");
                assert_contains(shipped.text, "unterwegs");
            } else {
                assert_contains(ofd.text, "out for delivery");
                assert_contains(ofd.text, "today");
                assert_not_contains(shipped.text, "today");
                assert_contains(shipped.text, "on its way");
            }
            /* The estimate is news while the parcel travels; on the day
             * itself "today" says it. */
            if (channels[ch] == AC_CHANNEL_EMAIL) {
                assert_contains(shipped.text, de ? "7. November 2024" : "7 November 2024");
                assert_contains(shipped.text, "1Z999AA10123456784");
                assert_not_contains(ofd.text, "November");
            }
            ac_rendered_free(&shipped);
            ac_rendered_free(&ofd);
        }
    }
}

static void test_shipping_update_without_tracking_link(void **state)
{
    (void)state;
    const kind_case_t *c = case_of(AC_KIND_SHIPPING_UPDATE);
    /* Without a link the SMS gives the tracking number instead. */
    static const char *const no_url[] = {"shipment.tracking_url", NULL, NULL};
    ac_rendered_t r;
    render_case(c, AC_CHANNEL_SMS, "en", no_url, &r);
    assert_string_equal(r.text, "Nordwind Outfitters: Your order #5001 is on its way with UPS. "
                                "Tracking number: 1Z999AA10123456784");
    ac_rendered_free(&r);
    render_case(c, AC_CHANNEL_SMS, "de", no_url, &r);
    assert_string_equal(r.text, "Nordwind Outfitters: Ihre Bestellung #5001 ist mit UPS unterwegs. "
                                "Sendungsnummer: 1Z999AA10123456784");
    ac_rendered_free(&r);
    render_case(c, AC_CHANNEL_EMAIL, "en", no_url, &r);
    assert_contains(r.text, "Your tracking number is 1Z999AA10123456784.");
    assert_not_contains(r.text, "http");
    assert_not_contains(r.text, "follow");
    ac_rendered_free(&r);

    /* Nothing to track with and no carrier: the plain news remains. */
    static const char *const bare[] = {"shipment", "{\"id\":\"shp_1\"}", NULL};
    render_case(c, AC_CHANNEL_SMS, "en", bare, &r);
    assert_string_equal(r.text, "Nordwind Outfitters: Your order #5001 is on its way.");
    ac_rendered_free(&r);
    render_case(c, AC_CHANNEL_SMS, "de", bare, &r);
    assert_string_equal(r.text, "Nordwind Outfitters: Ihre Bestellung #5001 ist unterwegs.");
    ac_rendered_free(&r);
    static const char *const bare_today[] = {"shipment", "{\"id\":\"shp_1\"}", "type",
                                             "\"shipment.out_for_delivery\"", NULL};
    render_case(c, AC_CHANNEL_SMS, "en", bare_today, &r);
    assert_string_equal(r.text,
                        "Nordwind Outfitters: Your order #5001 is out for delivery and should "
                        "arrive today.");
    ac_rendered_free(&r);
    render_case(c, AC_CHANNEL_EMAIL, "de", bare, &r);
    assert_contains(r.text,
                    "Ihre Bestellung #5001 bei Nordwind Outfitters ist unterwegs zu Ihnen.");
    assert_not_contains(r.text, "Sendungsnummer");
    assert_not_contains(r.text, "voraussichtlich");
    ac_rendered_free(&r);
}

static void test_delay_notice_without_estimate(void **state)
{
    (void)state;
    const kind_case_t *c = case_of(AC_KIND_DELAY_NOTICE);
    static const char *const edits[] = {"shipment.estimated_delivery", NULL, NULL};
    static const char *const empty[] = {"shipment.estimated_delivery", "\"\"", NULL};
    const char *const *variants[] = {edits, empty};
    for (size_t v = 0; v < 2; v++) {
        ac_rendered_t r;
        render_case(c, AC_CHANNEL_EMAIL, "en", variants[v], &r);
        assert_contains(r.text, "is running late. The carrier has not given us a new delivery "
                                "date yet.\n\n");
        assert_not_contains(r.text, "arrive on");
        assert_contains(r.text, TRACKING_URL);
        ac_rendered_free(&r);
        render_case(c, AC_CHANNEL_EMAIL, "de", variants[v], &r);
        assert_contains(r.text, "verspätet sich. Der Versanddienstleister hat uns noch keinen "
                                "neuen Liefertermin genannt.\n\n");
        assert_not_contains(r.text, "voraussichtlich");
        ac_rendered_free(&r);
        render_case(c, AC_CHANNEL_SMS, "en", variants[v], &r);
        assert_string_equal(r.text, "Nordwind Outfitters: Sorry, your order #5001 is running late. "
                                    "Track it: " TRACKING_URL);
        ac_rendered_free(&r);
        render_case(c, AC_CHANNEL_SMS, "de", variants[v], &r);
        assert_string_equal(r.text, "Nordwind Outfitters: Ihre Bestellung #5001 verspätet sich "
                                    "leider. Sendung verfolgen: " TRACKING_URL);
        ac_rendered_free(&r);
    }
}

/* The delay SMS with the estimate set to eta, in language. */
static void assert_estimate(const char *eta, const char *language, const char *want)
{
    char value[96];
    snprintf(value, sizeof(value), "\"%s\"", eta);
    const char *edits[] = {"shipment.estimated_delivery", value, NULL};
    ac_rendered_t r;
    render_case(case_of(AC_KIND_DELAY_NOTICE), AC_CHANNEL_SMS, language, edits, &r);
    char expect[128];
    snprintf(expect, sizeof(expect),
             strcmp(language, "de") == 0 ? "Neuer Termin: %s. " : "New estimate: %s. ", want);
    assert_contains(r.text, expect);
    ac_rendered_free(&r);
}

static void test_delivery_estimate_formats(void **state)
{
    (void)state;
    assert_estimate("2024-11-07", "en", "7 November 2024");
    assert_estimate("2024-11-07", "de", "7. November 2024");
    /* Only the date part of a date-time counts, whatever its offset. */
    assert_estimate("2024-11-09T18:00:00+01:00", "en", "9 November 2024");
    assert_estimate("2024-11-09T23:30:00-08:00", "de", "9. November 2024");
    assert_estimate("2024-03-01t08:00:00Z", "de", "1. März 2024");
    assert_estimate("2024-12-31", "en", "31 December 2024");
    assert_estimate("2025-01-01", "de", "1. Januar 2025");
    assert_estimate("2024-02-29", "en", "29 February 2024");
    assert_estimate("2000-02-29", "de", "29. Februar 2000");
    /* What is not a date is shown as the store sent it. */
    assert_estimate("2023-02-29", "en", "2023-02-29");
    assert_estimate("1900-02-29", "en", "1900-02-29");
    assert_estimate("2024-13-01", "en", "2024-13-01");
    assert_estimate("2024-11-00", "de", "2024-11-00");
    assert_estimate("2024-11-7", "en", "2024-11-7");
    assert_estimate("2024-11-07X", "en", "2024-11-07X");
    assert_estimate("next week", "en", "next week");
}

static void test_refund_notice_without_amount(void **state)
{
    (void)state;
    const kind_case_t *c = case_of(AC_KIND_REFUND_NOTICE);
    static const char *const edits[] = {"return.refund_amount", NULL, NULL};
    ac_rendered_t r;
    render_case(c, AC_CHANNEL_EMAIL, "en", edits, &r);
    assert_contains(r.text, "your refund for order #5001 at Nordwind Outfitters is on its way to "
                            "your original payment method.");
    assert_not_contains(r.text, "EUR");
    assert_not_contains(r.text, " of ");
    ac_rendered_free(&r);
    render_case(c, AC_CHANNEL_EMAIL, "de", edits, &r);
    assert_contains(r.text, "die Erstattung für Ihre Bestellung #5001 bei Nordwind Outfitters ist "
                            "veranlasst.");
    assert_not_contains(r.text, "EUR");
    assert_not_contains(r.text, "Erstattung über");
    ac_rendered_free(&r);
    render_case(c, AC_CHANNEL_SMS, "en", edits, &r);
    assert_string_equal(r.text, "Nordwind Outfitters: Your refund for order #5001 is on its way to "
                                "your original payment method.");
    ac_rendered_free(&r);
    render_case(c, AC_CHANNEL_SMS, "de", edits, &r);
    assert_string_equal(r.text, "Nordwind Outfitters: Ihre Erstattung für Bestellung #5001 ist "
                                "veranlasst und geht an Ihre ursprüngliche Zahlungsart.");
    ac_rendered_free(&r);

    /* The amount is in the order's currency, formatted for the language. */
    static const char *const yen[] = {"order.currency", "\"JPY\"", "return.refund_amount", "4500",
                                      NULL};
    render_case(c, AC_CHANNEL_SMS, "de", yen, &r);
    assert_contains(r.text, "Erstattung über 4500 JPY für Bestellung #5001");
    ac_rendered_free(&r);
}

static void test_return_label_link(void **state)
{
    (void)state;
    const kind_case_t *c = case_of(AC_KIND_RETURN_CONFIRMATION);
    /* Instructions stand in for a label the store did not send. */
    static const char *const instructions[] = {"return.label_url", NULL, "return.instructions_url",
                                               "\"https://nordwind.example/help/returns\"", NULL};
    ac_rendered_t r;
    render_case(c, AC_CHANNEL_EMAIL, "en", instructions, &r);
    assert_contains(r.text, "https://nordwind.example/help/returns");
    ac_rendered_free(&r);
    render_case(c, AC_CHANNEL_SMS, "de", instructions, &r);
    assert_contains(r.text, "(https://nordwind.example/help/returns)");
    ac_rendered_free(&r);

    /* A label wins over instructions when both are given. */
    static const char *const both[] = {"return.instructions_url",
                                       "\"https://nordwind.example/help/returns\"", NULL};
    render_case(c, AC_CHANNEL_SMS, "en", both, &r);
    assert_contains(r.text, LABEL_URL);
    assert_not_contains(r.text, "/help/returns");
    ac_rendered_free(&r);

    static const char *const neither[] = {"return.label_url", NULL, NULL};
    render_case(c, AC_CHANNEL_EMAIL, "en", neither, &r);
    assert_contains(r.text, "1. Please send the items back to us. If you need a return label, "
                            "just ask.\n2. ");
    assert_not_contains(r.text, "http");
    ac_rendered_free(&r);
    render_case(c, AC_CHANNEL_EMAIL, "de", neither, &r);
    assert_contains(r.text, "Falls Sie ein Rücksendeetikett brauchen");
    assert_not_contains(r.text, "http");
    ac_rendered_free(&r);
    render_case(c, AC_CHANNEL_SMS, "en", neither, &r);
    assert_string_equal(r.text, "Nordwind Outfitters: Return for order #5001 registered. Please "
                                "send the items back; we refund on arrival.");
    ac_rendered_free(&r);
}

static void test_review_request_without_items(void **state)
{
    (void)state;
    const kind_case_t *c = case_of(AC_KIND_REVIEW_REQUEST);
    static const char *const edits[] = {"order.items", NULL, "customer.first_name", NULL, NULL};
    ac_rendered_t r;
    render_case(c, AC_CHANNEL_EMAIL, "en", edits, &r);
    assert_string_equal(r.subject, "How are you getting on with your order #5001?");
    assert_contains(r.text, "How are you getting on with it?");
    ac_rendered_free(&r);
    render_case(c, AC_CHANNEL_SMS, "en", edits, &r);
    assert_string_equal(r.text, "Nordwind Outfitters: How are you getting on with your order "
                                "#5001? Just reply to tell other customers what you think.");
    ac_rendered_free(&r);
    render_case(c, AC_CHANNEL_SMS, "de", edits, &r);
    assert_contains(r.text, ": Wie gefällt Ihnen Ihre Bestellung #5001? Antworten");
    ac_rendered_free(&r);
}

static void test_referral_invents_nothing(void **state)
{
    (void)state;
    const kind_case_t *c = case_of(AC_KIND_REFERRAL_INVITE);
    static const ac_channel_t channels[] = {AC_CHANNEL_EMAIL, AC_CHANNEL_SMS};
    for (size_t ch = 0; ch < 2; ch++) {
        for (int de = 0; de < 2; de++) {
            ac_rendered_t r;
            render_case(c, channels[ch], de ? "de" : "en", NULL, &r);
            /* No code, link or reward exists to offer yet. */
            assert_not_contains(r.text, "http");
            assert_not_contains(r.text, "code");
            assert_not_contains(r.text, "Code");
            assert_not_contains(r.text, "%");
            assert_not_contains(r.text, "discount");
            assert_not_contains(r.text, "Rabatt");
            ac_rendered_free(&r);
        }
    }
    static const char *const no_store[] = {"store.name", NULL, NULL};
    ac_rendered_t r;
    render_case(c, AC_CHANNEL_EMAIL, "en", no_store, &r);
    assert_string_equal(r.subject, "Know someone who would like our shop too?");
    ac_rendered_free(&r);
    render_case(c, AC_CHANNEL_EMAIL, "de", NULL, &r);
    assert_string_equal(r.subject,
                        "Kennen Sie jemanden, dem Nordwind Outfitters auch gefallen würde?");
    ac_rendered_free(&r);
}

/* Typical values in English keep to one GSM-7 message: anything more is
 * split and billed as several. */
static void assert_one_sms(const char *text)
{
    ac_sms_count_t c;
    ac_sms_count(text, &c);
    if (c.encoding != AC_SMS_GSM7 || c.segments != 1)
        fail_msg("%zu units of %s, %zu segments: \"%s\"", c.units, ac_sms_encoding_name(c.encoding),
                 c.segments, text);
    /* Nothing was shed to get there. */
    assert_contains(text, "Nordwind Outfitters: ");
}

static void test_sms_fits_one_message(void **state)
{
    (void)state;
    static const char *const today[] = {"type", "\"shipment.out_for_delivery\"", NULL};
    ac_rendered_t r;
    for (size_t k = 0; k < sizeof(kind_cases) / sizeof(kind_cases[0]); k++) {
        render_case(&kind_cases[k], AC_CHANNEL_SMS, "en", NULL, &r);
        assert_one_sms(r.text);
        ac_rendered_free(&r);
    }
    render_case(case_of(AC_KIND_SHIPPING_UPDATE), AC_CHANNEL_SMS, "en", today, &r);
    assert_one_sms(r.text);
    ac_rendered_free(&r);
    /* The longest month name still fits with the tracking link. */
    static const char *const september[] = {"shipment.estimated_delivery", "\"2024-09-30\"", NULL};
    render_case(case_of(AC_KIND_DELAY_NOTICE), AC_CHANNEL_SMS, "en", september, &r);
    assert_contains(r.text, "30 September 2024");
    assert_one_sms(r.text);
    ac_rendered_free(&r);
    /* The two older kinds, from the same shipment's order. */
    static const ac_kind_t older[] = {AC_KIND_ORDER_CONFIRMATION, AC_KIND_ORDER_CANCELLED};
    for (size_t k = 0; k < 2; k++) {
        ac_message_t *m = message(older[k], event_with(SHIPMENT, NULL));
        render_ok(m, AC_CHANNEL_SMS, &r);
        assert_one_sms(r.text);
        if (older[k] == AC_KIND_ORDER_CONFIRMATION)
            assert_contains(r.text, "(Rain Jacket and 1 more). We'll text you when it ships.");
        ac_rendered_free(&r);
        ac_message_destroy(m);
    }
    /* German takes more words; typical values still go whole. */
    for (size_t k = 0; k < sizeof(kind_cases) / sizeof(kind_cases[0]); k++) {
        render_case(&kind_cases[k], AC_CHANNEL_SMS, "de", NULL, &r);
        assert_contains(r.text, "Nordwind Outfitters: ");
        assert_true(r.sms.segments <= AC_RENDER_SMS_MAX_SEGMENTS);
        ac_rendered_free(&r);
    }
}

/* Long but real values: a long German store and customer name, long item
 * names, a 60-character tracking link, a 20-digit tracking number. The
 * event carries an order, a shipment and a return, so that every kind can
 * be rendered from it. */
#define LONG_TRACKING_URL "https://dhl.de/de/verfolgen?lang=de&idc=00340434161094042557"
#define LONG_LABEL_URL    "https://bergsport-mueller.example/retouren/r_2291/etikett.pdf"

static const char LONG[] =
    "{\"event_id\":\"evt_9\",\"type\":\"order.placed\","
    "\"occurred_at\":\"2024-11-05T14:20:00+01:00\","
    "\"store\":{\"id\":\"st_9\",\"name\":\"Bergsport Hochgebirgsausrüstung Müller & Söhne\","
    "\"locale\":\"de-DE\"},"
    "\"order\":{\"id\":\"ord_9\",\"number\":\"AG-2024-104567\",\"currency\":\"EUR\","
    "\"total\":1249.95,\"items\":["
    "{\"name\":\"Wanderschuh Karwendel Mid GTX Herren, Größe 44\",\"quantity\":1,\"price\":189.95},"
    "{\"name\":\"Merino-Wandersocken (2 Paar)\",\"quantity\":3,\"price\":24.95},"
    "{\"name\":\"Tagesrucksack Hüttentour 22 L\",\"quantity\":1,\"price\":89}]},"
    "\"customer\":{\"id\":\"c9\",\"phone\":\"+4915112345678\","
    "\"first_name\":\"Maximilian-Alexander\",\"locale\":\"de-DE\",\"marketing_consent\":true},"
    "\"shipment\":{\"id\":\"shp_9\",\"carrier\":\"Deutsche Post DHL Paket\","
    "\"tracking_number\":\"00340434161094042557\",\"tracking_url\":\"" LONG_TRACKING_URL "\","
    "\"status\":\"shipped\",\"estimated_delivery\":\"2024-09-30\"},"
    "\"return\":{\"id\":\"ret_9\",\"reason\":\"too_small\","
    "\"items\":[{\"sku\":\"AG-BOT-220\",\"name\":\"Wanderschuh Karwendel\",\"quantity\":1}],"
    "\"label_url\":\"" LONG_LABEL_URL "\",\"refund_amount\":\"1249.95\"}}";

/* Every kind with the event type that causes it; shipping updates twice. */
static const struct {
    ac_kind_t kind;
    const char *type;
} every_sms[] = {
    {AC_KIND_ORDER_CONFIRMATION, "\"order.placed\""},
    {AC_KIND_ORDER_CANCELLED, "\"order.cancelled\""},
    {AC_KIND_SHIPPING_UPDATE, "\"shipment.shipped\""},
    {AC_KIND_SHIPPING_UPDATE, "\"shipment.out_for_delivery\""},
    {AC_KIND_DELAY_NOTICE, "\"shipment.delayed\""},
    {AC_KIND_REVIEW_REQUEST, "\"shipment.delivered\""},
    {AC_KIND_REFERRAL_INVITE, "\"shipment.delivered\""},
    {AC_KIND_RETURN_CONFIRMATION, "\"return.requested\""},
    {AC_KIND_REFUND_NOTICE, "\"return.refunded\""},
};

/* The first of every_sms for kind. */
static size_t every_sms_index(ac_kind_t kind)
{
    for (size_t i = 0; i < sizeof(every_sms) / sizeof(every_sms[0]); i++)
        if (every_sms[i].kind == kind)
            return i;
    fail_msg("no event type for %s", ac_kind_name(kind));
    return 0;
}

/* Renders every_sms[i] from LONG in language with extra edits. */
static void render_long(size_t i, const char *language, const char *const *extra,
                        ac_rendered_t *out)
{
    char locale[16];
    snprintf(locale, sizeof(locale), "\"%s\"", language);
    const char *edits[16] = {"type", every_sms[i].type, "customer.locale", locale};
    size_t n = 4;
    for (size_t e = 0; extra && extra[e] && n + 2 < sizeof(edits) / sizeof(edits[0]); e += 2) {
        edits[n++] = extra[e];
        edits[n++] = extra[e + 1];
    }
    edits[n] = NULL;
    ac_message_t *m = message(every_sms[i].kind, event_with(LONG, edits));
    render_ok(m, AC_CHANNEL_SMS, out);
    ac_message_destroy(m);
    assert_string_equal(out->language, language);
}

static void test_sms_long_values_fit_two_segments(void **state)
{
    (void)state;
    assert_int_equal(strlen(LONG_TRACKING_URL), 60);
    /* As they are (GSM-7: ü, ö and ß are in its alphabet), with a name and
     * items that need UCS-2 and so halve the room, and without the link. */
    static const char *const ucs2[] = {
        "customer.first_name", "\"Łukasz-Władysław\"", "order.items",
        "[{\"name\":\"Pink Floyd – The Dark Side of the Moon (LP)\",\"quantity\":1},"
        "{\"name\":\"Fleetwood Mac – Rumours (LP)\",\"quantity\":2}]",
        NULL};
    static const char *const no_link[] = {"shipment.tracking_url", NULL, NULL};
    const char *const *variants[] = {NULL, ucs2, no_link};
    static const char *const languages[] = {"en", "de"};
    size_t shed = 0, ucs2_seen = 0;
    for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
        for (size_t i = 0; i < sizeof(every_sms) / sizeof(every_sms[0]); i++) {
            for (size_t l = 0; l < 2; l++) {
                ac_rendered_t r;
                render_long(i, languages[l], variants[v], &r);
                if (r.sms.segments > AC_RENDER_SMS_MAX_SEGMENTS)
                    fail_msg("%s in %s: %zu segments (%zu units of %s): \"%s\"",
                             ac_kind_name(every_sms[i].kind), languages[l], r.sms.segments,
                             r.sms.units, ac_sms_encoding_name(r.sms.encoding), r.text);
                ucs2_seen += r.sms.encoding == AC_SMS_UCS2;
                /* Whatever was left out, the message still reads whole and
                 * says which order it is about. */
                if (every_sms[i].kind == AC_KIND_ORDER_CONFIRMATION ||
                    every_sms[i].kind == AC_KIND_ORDER_CANCELLED)
                    assert_clean(r.text);
                else
                    assert_no_gaps(r.text);
                if (every_sms[i].kind == AC_KIND_REVIEW_REQUEST)
                    assert_true(strstr(r.text, "Wanderschuh") || strstr(r.text, "Pink Floyd") ||
                                strstr(r.text, "#AG-2024-104567"));
                else if (every_sms[i].kind != AC_KIND_REFERRAL_INVITE)
                    assert_contains(r.text, "#AG-2024-104567");
                shed += strstr(r.text, "Müller & Söhne") == NULL;
                ac_rendered_free(&r);
            }
        }
    }
    /* The values are long enough that some messages had to give way, and
     * some of them had only the room UCS-2 leaves. */
    assert_true(shed > 0);
    assert_true(ucs2_seen > 0);
}

/* An order whose first item name needs UCS-2. */
#define LP_AND_SIX_MORE                                                                            \
    "[{\"name\":\"Pink Floyd – The Dark Side of the Moon (LP)\"},{\"name\":\"a\"},"              \
    "{\"name\":\"b\"},{\"name\":\"c\"},{\"name\":\"d\"},{\"name\":\"e\"},{\"name\":\"f\"}]"

static void test_sms_sheds_least_needed_first(void **state)
{
    (void)state;
    ac_rendered_t r;
    /* The order confirmation drops its closing courtesy first, then the
     * store name, and keeps the customer's name and what they ordered. */
    static const char *const lp[] = {"customer.first_name",   "\"Maximilian\"", "store.name",
                                     "\"Northside Records\"", "order.number",   "\"NR10499\"",
                                     "order.items",           LP_AND_SIX_MORE,  NULL};
    size_t confirmation = every_sms_index(AC_KIND_ORDER_CONFIRMATION);
    render_long(confirmation, "en", lp, &r);
    assert_string_equal(r.text, "Northside Records: Hi Maximilian, thanks for your order #NR10499 "
                                "(Pink Floyd – The Dark Side of the Moon (LP) and 6 more).");
    assert_int_equal(r.sms.encoding, AC_SMS_UCS2);
    assert_int_equal(r.sms.segments, 2);
    ac_rendered_free(&r);
    render_long(confirmation, "de", lp, &r);
    assert_string_equal(r.text, "Northside Records: Hallo Maximilian, danke für Ihre Bestellung "
                                "#NR10499 (Pink Floyd – The Dark Side of the Moon (LP) und 6 "
                                "weitere).");
    assert_int_equal(r.sms.units, 132);
    ac_rendered_free(&r);
    /* In German a longer store name has to go as well. */
    static const char *const longer[] = {"customer.first_name",
                                         "\"Maximilian\"",
                                         "store.name",
                                         "\"Northside Records & Hi-Fi\"",
                                         "order.number",
                                         "\"NR10499\"",
                                         "order.items",
                                         LP_AND_SIX_MORE,
                                         NULL};
    render_long(confirmation, "de", longer, &r);
    assert_string_equal(r.text, "Hallo Maximilian, danke für Ihre Bestellung #NR10499 (Pink Floyd "
                                "– The Dark Side of the Moon (LP) und 6 weitere).");
    assert_int_equal(r.sms.segments, 2);
    ac_rendered_free(&r);

    /* A tracking link too long for two messages gives way to the tracking
     * number, as the template has it when the store sent no link. */
    char url[400];
    snprintf(url, sizeof(url), "\"https://tracking.example/%0300d\"", 7);
    const char *long_link[] = {"shipment.tracking_url", url, NULL};
    static const ac_kind_t kinds[] = {AC_KIND_SHIPPING_UPDATE, AC_KIND_DELAY_NOTICE};
    for (size_t k = 0; k < 2; k++) {
        render_long(every_sms_index(kinds[k]), "en", long_link, &r);
        assert_not_contains(r.text, "https://");
        assert_true(r.sms.segments <= AC_RENDER_SMS_MAX_SEGMENTS);
        if (kinds[k] == AC_KIND_SHIPPING_UPDATE)
            assert_contains(r.text, "Tracking number: 00340434161094042557");
        else
            assert_contains(r.text, "New estimate: 30 September 2024.");
        ac_rendered_free(&r);
    }
}

static void test_sms_shortest_form_still_sent(void **state)
{
    (void)state;
    /* An order number of emoji leaves nothing to shed that would make the
     * review request of an order without items fit: it goes in three
     * messages rather than none. */
    char number[128] = "\"";
    for (int i = 0; i < 23; i++)
        strcat(number, "🧦");
    strcat(number, "\"");
    const char *edits[] = {"order.number", number, "order.items", NULL, NULL};
    ac_rendered_t r;
    render_long(every_sms_index(AC_KIND_REVIEW_REQUEST), "en", edits, &r);
    assert_int_equal(r.sms.encoding, AC_SMS_UCS2);
    assert_int_equal(r.sms.segments, 3);
    assert_string_equal(r.text,
                        "How are you getting on with your order "
                        "#🧦🧦🧦🧦🧦🧦🧦🧦🧦🧦🧦🧦🧦🧦🧦🧦🧦🧦"
                        "🧦🧦🧦🧦🧦? Just reply to tell other customers what you think.");
    ac_rendered_free(&r);
}

/* Reads the body of an HTML email back as the text it came from: tags out,
 * references resolved. Returns a malloc'd string. */
static char *html_body_text(const char *html)
{
    const char *p = strstr(html, "<body>\n");
    const char *end = strstr(html, "</body>");
    assert_non_null(p);
    assert_non_null(end);
    p += strlen("<body>\n");
    char *out = calloc(1, (size_t)(end - p) + 1);
    assert_non_null(out);
    static const char *const refs[][2] = {
        {"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""}, {"&#39;", "'"}};
    size_t n = 0;
    while (p < end) {
        if (strncmp(p, "</p>\n<p>", 8) == 0) {
            out[n++] = '\n';
            out[n++] = '\n';
            p += 8;
        } else if (strncmp(p, "<br>\n", 5) == 0) {
            out[n++] = '\n';
            p += 5;
        } else if (*p == '<') {
            p = strchr(p, '>') + 1;
            /* The paragraph's own line break. */
            if (p[-2] == 'p' && *p == '\n')
                p++;
        } else if (*p == '&') {
            size_t r = 0;
            while (r < 5 && strncmp(p, refs[r][0], strlen(refs[r][0])) != 0)
                r++;
            if (r == 5)
                fail_msg("unknown reference at \"%.20s\"", p);
            out[n++] = refs[r][1][0];
            p += strlen(refs[r][0]);
        } else {
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    return out;
}

/* text as the HTML shows it: no leading or trailing line breaks, and a
 * paragraph break however many blank lines made it. */
static char *paragraphed(const char *text)
{
    while (*text == '\n')
        text++;
    char *out = strdup(text);
    assert_non_null(out);
    size_t n = 0;
    for (const char *p = out; *p; p++) {
        if (*p == '\n' && n >= 2 && out[n - 1] == '\n' && out[n - 2] == '\n')
            continue;
        out[n++] = *p;
    }
    while (n > 0 && out[n - 1] == '\n')
        n--;
    out[n] = '\0';
    return out;
}

/* Checks that html is a well-formed document in language whose title is
 * subject and whose paragraphs hold exactly the words of text. */
static void assert_html_email(const char *html, const char *language, const char *subject,
                              const char *text)
{
    char head[256];
    snprintf(head, sizeof(head),
             "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n", language);
    if (strncmp(html, head, strlen(head)) != 0)
        fail_msg("document does not start with \"%s\": \"%s\"", head, html);
    const char *tail = "</p>\n</body>\n</html>\n";
    assert_true(strlen(html) > strlen(tail));
    assert_string_equal(html + strlen(html) - strlen(tail), tail);
    /* Tags nest and close; only known tags and references occur, and no
     * character that means something in HTML stands unescaped in text. */
    const char *stack[8];
    size_t depth = 0, paragraphs = 0;
    for (const char *p = html + strlen("<!DOCTYPE html>"); *p; p++) {
        if (*p == '>' || *p == '"' || *p == '\'')
            fail_msg("unescaped '%c' in text at \"%.40s\"", *p, p);
        if (*p == '&') {
            if (strncmp(p, "&amp;", 5) && strncmp(p, "&lt;", 4) && strncmp(p, "&gt;", 4) &&
                strncmp(p, "&quot;", 6) && strncmp(p, "&#39;", 5))
                fail_msg("unknown reference at \"%.20s\"", p);
            continue;
        }
        if (*p != '<')
            continue;
        const char *close = strchr(p, '>');
        assert_non_null(close);
        size_t len = strcspn(p + 1, " >");
        char name[16];
        assert_true(len < sizeof(name));
        memcpy(name, p + 1, len);
        name[len] = '\0';
        if (strcmp(name, "br") == 0 || strcmp(name, "meta") == 0) {
            /* Void elements. */
        } else if (name[0] == '/') {
            assert_true(depth > 0);
            assert_string_equal(name + 1, stack[--depth]);
        } else {
            static const char *const known[] = {"html", "head", "title", "body", "p", "a"};
            size_t k = 0;
            while (k < 6 && strcmp(name, known[k]) != 0)
                k++;
            if (k == 6)
                fail_msg("unexpected tag <%s>", name);
            if (k == 4) {
                paragraphs++;
                assert_string_equal(stack[depth - 1], "body");
            }
            if (k == 5)
                assert_string_equal(stack[depth - 1], "p");
            assert_true(depth < 8);
            stack[depth++] = known[k];
        }
        /* Attribute values are escaped: no quote or '>' inside them. */
        p = close;
    }
    assert_int_equal(depth, 0);
    assert_true(paragraphs >= 2);
    assert_int_equal(ac_test_count(html, "<title>"), 1);
    assert_int_equal(ac_test_count(html, "<body>"), 1);
    /* The title is the subject; the body reads as the text. */
    const char *title = strstr(html, "<title>") + strlen("<title>");
    char wrapped[1024];
    snprintf(wrapped, sizeof(wrapped), "<body>\n%.*s</body>",
             (int)(strstr(title, "</title>") - title), title);
    char *got_subject = html_body_text(wrapped);
    assert_string_equal(got_subject, subject);
    free(got_subject);
    char *got = html_body_text(html);
    char *want = paragraphed(text);
    assert_string_equal(got, want);
    free(got);
    free(want);
}

static void test_html_every_kind_and_language(void **state)
{
    (void)state;
    for (int de = 0; de < 2; de++) {
        const char *language = de ? "de" : "en";
        for (size_t k = 0; k < sizeof(kind_cases) / sizeof(kind_cases[0]); k++) {
            ac_rendered_t r;
            render_case(&kind_cases[k], AC_CHANNEL_EMAIL, language, NULL, &r);
            assert_html_email(r.html, language, r.subject, r.text);
            ac_rendered_free(&r);
        }
        static const ac_kind_t older[] = {AC_KIND_ORDER_CONFIRMATION, AC_KIND_ORDER_CANCELLED};
        for (size_t k = 0; k < 2; k++) {
            const char *edits[] = {"customer.locale", de ? "\"de\"" : "\"en\"", NULL};
            ac_message_t *m = message(older[k], event_with(FULL, edits));
            ac_rendered_t r;
            render_ok(m, AC_CHANNEL_EMAIL, &r);
            assert_html_email(r.html, language, r.subject, r.text);
            /* The item list keeps its lines. */
            assert_contains(r.html, "<br>\n  2 × Wool Socks 🧦");
            ac_rendered_free(&r);
            ac_message_destroy(m);
            /* And without any optional data. */
            m = message(older[k], event_with(MINIMAL, edits));
            render_ok(m, AC_CHANNEL_EMAIL, &r);
            assert_html_email(r.html, language, r.subject, r.text);
            ac_rendered_free(&r);
            ac_message_destroy(m);
        }
    }
    /* The language is the template's: French customers read English. */
    static const char *const fr[] = {"customer.locale", "\"fr-FR\"", "store.locale", "\"fr\"",
                                     NULL};
    ac_message_t *m = message(AC_KIND_ORDER_CONFIRMATION, event_with(FULL, fr));
    ac_rendered_t r;
    render_ok(m, AC_CHANNEL_EMAIL, &r);
    assert_contains(r.html, "<html lang=\"en\">");
    ac_rendered_free(&r);
    ac_message_destroy(m);
}

static void test_html_escapes_what_the_store_sent(void **state)
{
    (void)state;
    static const char *const edits[] = {"customer.first_name",
                                        "\"<script>alert('hi')</script>\"",
                                        "store.name",
                                        "\"Tom & Jerry \\\"Toys\\\"\"",
                                        "order.items",
                                        "[{\"name\":\"Socks <b>best</b>\",\"quantity\":1}]",
                                        NULL};
    ac_message_t *m = message(AC_KIND_ORDER_CONFIRMATION, event_with(FULL, edits));
    ac_rendered_t r;
    render_ok(m, AC_CHANNEL_EMAIL, &r);
    assert_html_email(r.html, "en", r.subject, r.text);
    /* Verbatim in the text and the subject... */
    assert_contains(r.text, "Hi <script>alert('hi')</script>,");
    assert_contains(r.text, "Tom & Jerry \"Toys\"");
    assert_contains(r.text, "1 × Socks <b>best</b>");
    assert_contains(r.subject, "at Tom & Jerry \"Toys\" is confirmed");
    /* ...escaped in the HTML, the title included. */
    assert_contains(r.html, "<p>Hi &lt;script&gt;alert(&#39;hi&#39;)&lt;/script&gt;,</p>");
    assert_contains(r.html, "Tom &amp; Jerry &quot;Toys&quot;");
    assert_contains(r.html, "1 × Socks &lt;b&gt;best&lt;/b&gt;");
    assert_contains(r.html, "<title>Your order #5001 at Tom &amp; Jerry &quot;Toys&quot; is "
                            "confirmed</title>");
    assert_not_contains(r.html, "<script");
    assert_not_contains(r.html, "<b>");
    ac_rendered_free(&r);
    ac_message_destroy(m);
}

static void test_html_links(void **state)
{
    (void)state;
    ac_rendered_t r;
    render_case(case_of(AC_KIND_SHIPPING_UPDATE), AC_CHANNEL_EMAIL, "en", NULL, &r);
    assert_contains(r.html, "<p>You can follow your parcel here:<br>\n<a href=\"" TRACKING_URL
                            "\">" TRACKING_URL "</a></p>");
    assert_int_equal(ac_test_count(r.html, "<a "), 1);
    ac_rendered_free(&r);
    render_case(case_of(AC_KIND_DELAY_NOTICE), AC_CHANNEL_EMAIL, "de", NULL, &r);
    assert_contains(r.html, "<a href=\"" TRACKING_URL "\">" TRACKING_URL "</a>");
    ac_rendered_free(&r);
    render_case(case_of(AC_KIND_RETURN_CONFIRMATION), AC_CHANNEL_EMAIL, "en", NULL, &r);
    assert_contains(r.html, "<a href=\"" LABEL_URL "\">" LABEL_URL "</a>");
    ac_rendered_free(&r);

    /* A link's query is escaped in the attribute as in the text. */
    static const char *const query[] = {"shipment.tracking_url",
                                        "\"https://t.example/?id=1&lang=de\"", NULL};
    render_case(case_of(AC_KIND_SHIPPING_UPDATE), AC_CHANNEL_EMAIL, "en", query, &r);
    assert_contains(r.html, "<a href=\"https://t.example/?id=1&amp;lang=de\">"
                            "https://t.example/?id=1&amp;lang=de</a>");
    assert_html_email(r.html, "en", r.subject, r.text);
    ac_rendered_free(&r);

    /* What is not a web address is shown, never linked. */
    static const char *const script[] = {"shipment.tracking_url", "\"javascript:alert(1)\"",
                                         "customer.first_name", "\"https://evil.example/\"", NULL};
    render_case(case_of(AC_KIND_SHIPPING_UPDATE), AC_CHANNEL_EMAIL, "en", script, &r);
    assert_not_contains(r.html, "<a ");
    assert_contains(r.html, "javascript:alert(1)");
    assert_contains(r.html, "Hi https://evil.example/,");
    ac_rendered_free(&r);

    /* Without links there are none. */
    render_case(case_of(AC_KIND_REFERRAL_INVITE), AC_CHANNEL_EMAIL, "en", NULL, &r);
    assert_not_contains(r.html, "<a ");
    ac_rendered_free(&r);
}

static void test_templates_check(void **state)
{
    (void)state;
    char err[256] = "";
    if (ac_render_check_templates(err, sizeof(err)) != 0)
        fail_msg("%s", err);
}

static void test_no_template(void **state)
{
    (void)state;
    /* Every kind has templates now, so only a value outside the enum has
     * none; the check guards a kind added later without its templates. */
    ac_message_t *m = message(AC_KIND__COUNT, event_with(FULL, NULL));
    ac_rendered_t r;
    char err[256] = "";
    memset(&r, 0x5a, sizeof(r));
    assert_int_equal(ac_render_message(m, AC_CHANNEL_EMAIL, &r, err, sizeof(err)), -1);
    assert_contains(err, "no template for unknown over email");
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
    assert_int_equal(ac_channel_choose(ev, -1, &ch, &to), 0);
    assert_int_equal(ch, AC_CHANNEL_EMAIL);
    assert_string_equal(to, "zoe@example.com");
    ac_event_destroy(ev);

    /* Email wins over a phone number when both are given. */
    static const char *const both[] = {"customer.phone", "\"+4915112345678\"", NULL};
    ev = event_with(FULL, both);
    assert_int_equal(ac_channel_choose(ev, -1, &ch, &to), 0);
    assert_int_equal(ch, AC_CHANNEL_EMAIL);
    ac_event_destroy(ev);

    static const char *const phone_only[] = {"customer.email", NULL, "customer.phone",
                                             "\"+4915112345678\"", NULL};
    ev = event_with(FULL, phone_only);
    assert_int_equal(ac_channel_choose(ev, -1, &ch, &to), 0);
    assert_int_equal(ch, AC_CHANNEL_SMS);
    assert_string_equal(to, "+4915112345678");
    ac_event_destroy(ev);

    /* An address without '@' cannot be mailed to. */
    static const char *const bad_email[] = {"customer.email", "\"zoe.example.com\"",
                                            "customer.phone", "\"+447700900123\"", NULL};
    ev = event_with(FULL, bad_email);
    assert_int_equal(ac_channel_choose(ev, -1, &ch, &to), 0);
    assert_int_equal(ch, AC_CHANNEL_SMS);
    assert_string_equal(to, "+447700900123");
    ac_event_destroy(ev);

    static const char *const neither[] = {"customer.email", NULL, NULL};
    ev = event_with(FULL, neither);
    assert_int_equal(ac_channel_choose(ev, -1, &ch, &to), -1);
    ac_event_destroy(ev);

    static const char *const empty[] = {"customer.email", "\"\"", "customer.phone", "\"\"", NULL};
    ev = event_with(FULL, empty);
    assert_int_equal(ac_channel_choose(ev, -1, &ch, &to), -1);
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
        cmocka_unit_test(test_every_kind_channel_language),
        cmocka_unit_test(test_extras),
        cmocka_unit_test(test_preferred_channel),
        cmocka_unit_test(test_template_overrides),
        cmocka_unit_test(test_shipping_update_out_for_delivery),
        cmocka_unit_test(test_shipping_update_without_tracking_link),
        cmocka_unit_test(test_delay_notice_without_estimate),
        cmocka_unit_test(test_delivery_estimate_formats),
        cmocka_unit_test(test_refund_notice_without_amount),
        cmocka_unit_test(test_return_label_link),
        cmocka_unit_test(test_review_request_without_items),
        cmocka_unit_test(test_referral_invents_nothing),
        cmocka_unit_test(test_sms_fits_one_message),
        cmocka_unit_test(test_sms_long_values_fit_two_segments),
        cmocka_unit_test(test_sms_sheds_least_needed_first),
        cmocka_unit_test(test_sms_shortest_form_still_sent),
        cmocka_unit_test(test_html_every_kind_and_language),
        cmocka_unit_test(test_html_escapes_what_the_store_sent),
        cmocka_unit_test(test_html_links),
        cmocka_unit_test(test_templates_check),
        cmocka_unit_test(test_no_template),
        cmocka_unit_test(test_rendered_free),
        cmocka_unit_test(test_channel),
        cmocka_unit_test(test_language),
        cmocka_unit_test(test_rendered_language_follows_locale),
        cmocka_unit_test(test_money),
        cmocka_unit_test(test_feedback_messages),
        cmocka_unit_test(test_review_request_rating_links),
        cmocka_unit_test(test_money_small_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
