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
    static const char *fields[] = {"id",       "kind",        "channel",   "to",
                                   "order_id", "customer_id", "event_id",  "store_id",
                                   "subject",  "text",        "created_at"};
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(signature_matches_reference_vector),
        cmocka_unit_test(several_secrets_sign_each),
        cmocka_unit_test(changed_input_changes_signature),
        cmocka_unit_test(malformed_secrets_are_refused),
        cmocka_unit_test(body_has_contract_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
