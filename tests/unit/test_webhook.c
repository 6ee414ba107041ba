/* Standard Webhooks signing and the outgoing body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "message.h"
#include "render.h"
#include "sms.h"
#include "test_util.h"
#include "webhook.h"

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

/* The reference vector published with the Standard Webhooks specification. */
static void signature_matches_reference_vector(void **state)
{
    char sig[512], err[256];
    const char *body = "{\"test\": 2432232314}";
    assert_int_equal(ac_webhook_sign(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                                     strlen(body), sig, sizeof(sig), err, sizeof(err)),
                     0);
    assert_string_equal(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

/* During key rotation every secret signs, space-separated, in order. */
static void several_secrets_sign_each(void **state)
{
    char sig[512], err[256];
    const char *body = "{\"test\": 2432232314}";
    assert_int_equal(ac_webhook_sign(SECRET " whsec_c2VjcmV0LXR3by0xMjM0NTY3ODkw",
                                     "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body),
                                     sig, sizeof(sig), err, sizeof(err)),
                     0);
    assert_true(strncmp(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1,", 51) == 0);
    assert_int_equal(ac_test_count(sig, "v1,"), 2);
}

static void changed_input_changes_signature(void **state)
{
    char a[512], b[512], err[256];
    ac_webhook_sign(SECRET, "msg_x", 100, "{}", 2, a, sizeof(a), err, sizeof(err));
    ac_webhook_sign(SECRET, "msg_x", 101, "{}", 2, b, sizeof(b), err, sizeof(err));
    assert_string_not_equal(a, b);
    ac_webhook_sign(SECRET, "msg_y", 100, "{}", 2, b, sizeof(b), err, sizeof(err));
    assert_string_not_equal(a, b);
    ac_webhook_sign(SECRET, "msg_x", 100, "{ }", 3, b, sizeof(b), err, sizeof(err));
    assert_string_not_equal(a, b);
}

static void malformed_secrets_are_refused(void **state)
{
    char why[256];
    assert_int_equal(ac_webhook_validate_secret(SECRET, why, sizeof(why)), 0);
    assert_int_equal(
        ac_webhook_validate_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", why, sizeof(why)), -1);
    assert_int_equal(ac_webhook_validate_secret("whsec_!!!!", why, sizeof(why)), -1);
    assert_int_equal(ac_webhook_validate_secret("whsec_c2hvcnQ=", why, sizeof(why)), -1);
    assert_int_equal(ac_webhook_validate_secret("   ", why, sizeof(why)), -1);
    assert_contains(why, "secret");
}

/* The body carries what the contract names, with non-ASCII intact. */
static void body_has_contract_fields(void **state)
{
    const char *rec =
        "{\"event_id\":\"e-1\",\"type\":\"order.placed\",\"occurred_at\":\"2026-11-25T10:00:00Z\","
        "\"store\":{\"id\":\"s1\",\"name\":\"Bergladen\"},\"order\":{\"id\":\"o1\",\"number\":"
        "\"77\"},"
        "\"customer\":{\"id\":\"c1\",\"email\":\"j@example.de\",\"first_name\":\"Jürgen\"}}";
    ac_event_error_t eerr;
    ac_event_t *ev = ac_event_parse(rec, strlen(rec), 0, &eerr);
    assert_non_null(ev);
    size_t len;
    char id[AC_MESSAGE_ID_LEN];
    ac_message_id(AC_KIND_ORDER_CONFIRMATION, "s1", "o1", NULL, id);
    char *enc = ac_message_encode(id, AC_KIND_ORDER_CONFIRMATION, ev->occurred_ms, 0, ev, &len);
    ac_message_t *m = ac_message_decode(enc, len, 0, &eerr);
    assert_non_null(m);
    ac_rendered_t r;
    char err[256];
    assert_int_equal(ac_render_message(m, AC_CHANNEL_EMAIL, &r, err, sizeof(err)), 0);
    char *body = ac_webhook_body(m, AC_CHANNEL_EMAIL, "j@example.de", &r, &len);
    assert_non_null(body);
    assert_int_equal(strlen(body), len);
    json_object *o = json_tokener_parse(body);
    assert_non_null(o);
    static const char *fields[] = {"id",       "kind",        "channel",  "to",
                                   "order_id", "customer_id", "event_id", "store_id",
                                   "subject",  "text",        "html",     "created_at"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        json_object *v = NULL;
        assert_true(json_object_object_get_ex(o, fields[i], &v));
        assert_true(json_object_is_type(v, json_type_string));
    }
    json_object *v;
    json_object_object_get_ex(o, "id", &v);
    assert_string_equal(json_object_get_string(v), id);
    json_object_object_get_ex(o, "text", &v);
    assert_contains(json_object_get_string(v), "Jürgen");
    json_object_object_get_ex(o, "created_at", &v);
    assert_string_equal(json_object_get_string(v), "2026-11-25T10:00:00.000Z");
    json_object_put(o);
    free(body);
    ac_rendered_free(&r);
    ac_message_destroy(m);
    free(enc);
    ac_event_destroy(ev);
}

/* Renders the order confirmation for rec over ch and returns its webhook
 * body parsed (json_object_put() it). */
static json_object *body_for(const char *rec, ac_channel_t ch, const char *to)
{
    ac_event_error_t eerr;
    ac_event_t *ev = ac_event_parse(rec, strlen(rec), 0, &eerr);
    if (!ev)
        fail_msg("test event does not parse: %s", eerr.detail);
    ac_message_t m;
    memset(&m, 0, sizeof(m));
    m.kind = AC_KIND_ORDER_CONFIRMATION;
    m.event = ev;
    ac_message_id(m.kind, ev->store.id, ev->order.id, NULL, m.id);
    ac_rendered_t r;
    char err[256];
    assert_int_equal(ac_render_message(&m, ch, &r, err, sizeof(err)), 0);
    size_t len = 0;
    char *body = ac_webhook_body(&m, ch, to, &r, &len);
    assert_non_null(body);
    assert_int_equal(strlen(body), len);
    json_object *o = json_tokener_parse(body);
    assert_non_null(o);
    free(body);
    ac_rendered_free(&r);
    ac_event_destroy(ev);
    return o;
}

/* The field key of o, which must exist and have type t. */
static json_object *field(json_object *o, const char *key, json_type t)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, key, &v))
        fail_msg("the body has no \"%s\"", key);
    if (!json_object_is_type(v, t))
        fail_msg("\"%s\" is a %s", key, json_type_to_name(json_object_get_type(v)));
    return v;
}

static int has(json_object *o, const char *key)
{
    return json_object_object_get_ex(o, key, NULL);
}

#define RECORD(customer)                                                                           \
    "{\"event_id\":\"e-1\",\"type\":\"order.placed\",\"occurred_at\":\"2026-11-25T10:00:00Z\","    \
    "\"store\":{\"id\":\"s1\",\"name\":\"Tom & Jerry <Toys>\"},"                                   \
    "\"order\":{\"id\":\"o1\",\"number\":\"77\",\"items\":[{\"name\":\"Rain Jacket\"}]},"          \
    "\"customer\":{\"id\":\"c1\"," customer "}}"

/* An email carries its HTML; the values in it are escaped there and only
 * there. */
static void email_body_has_html(void **state)
{
    (void)state;
    json_object *o =
        body_for(RECORD("\"email\":\"j@example.de\",\"first_name\":\"<script>x</script>\""),
                 AC_CHANNEL_EMAIL, "j@example.de");
    const char *html = json_object_get_string(field(o, "html", json_type_string));
    const char *text = json_object_get_string(field(o, "text", json_type_string));
    assert_true(strncmp(html, "<!DOCTYPE html>\n<html lang=\"en\">", 32) == 0);
    assert_contains(html, "<p>Hi &lt;script&gt;x&lt;/script&gt;,</p>");
    assert_contains(html, "Tom &amp; Jerry &lt;Toys&gt;");
    assert_not_contains(html, "<script>");
    assert_contains(text, "Hi <script>x</script>,");
    assert_contains(text, "Tom & Jerry <Toys>");
    field(o, "subject", json_type_string);
    /* The SMS fields are for SMS. */
    assert_false(has(o, "segments"));
    assert_false(has(o, "encoding"));
    json_object_put(o);
}

/* An SMS says how it travels: its encoding and the messages it takes. */
static void sms_body_has_segments_and_encoding(void **state)
{
    (void)state;
    json_object *o = body_for(RECORD("\"phone\":\"+4915112345678\",\"first_name\":\"Jürgen\""),
                              AC_CHANNEL_SMS, "+4915112345678");
    assert_int_equal(json_object_get_int64(field(o, "segments", json_type_int)), 1);
    assert_string_equal(json_object_get_string(field(o, "encoding", json_type_string)), "gsm7");
    assert_contains(json_object_get_string(field(o, "text", json_type_string)), "Jürgen");
    assert_string_equal(json_object_get_string(field(o, "channel", json_type_string)), "sms");
    assert_false(has(o, "html"));
    json_object_put(o);

    /* A name outside the GSM alphabet makes the whole text UCS-2. */
    o = body_for(RECORD("\"phone\":\"+48601234567\",\"first_name\":\"Łukasz\""), AC_CHANNEL_SMS,
                 "+48601234567");
    assert_string_equal(json_object_get_string(field(o, "encoding", json_type_string)), "ucs2");
    const char *text = json_object_get_string(field(o, "text", json_type_string));
    ac_sms_count_t c;
    ac_sms_count(text, &c);
    assert_int_equal(json_object_get_int64(field(o, "segments", json_type_int)), c.segments);
    assert_int_equal(c.segments, 2);
    json_object_put(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signature_matches_reference_vector),
        cmocka_unit_test(several_secrets_sign_each),
        cmocka_unit_test(changed_input_changes_signature),
        cmocka_unit_test(malformed_secrets_are_refused),
        cmocka_unit_test(body_has_contract_fields),
        cmocka_unit_test(email_body_has_html),
        cmocka_unit_test(sms_body_has_segments_and_encoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
