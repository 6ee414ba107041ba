/* Unit tests for common/canon: the helpers every platform mapper builds
 * canonical events with (ids as text, event ids, timestamps, money) and the
 * gateway's completion of thin events from an order's context. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "event.h"
#include "test_util.h"
#include "timeutil.h"

/* Parses JSON text the way the gateway does (json-c's tokener). */
static json_object *parse(const char *text)
{
    json_object *v = json_tokener_parse(text);
    assert_non_null(v);
    return v;
}

/* ac_canon_id() of a JSON text, into a fresh buffer of bufsz bytes. */
static const char *id_of(const char *json, char *buf, size_t bufsz)
{
    json_object *v = parse(json);
    const char *r = ac_canon_id(v, buf, bufsz);
    json_object_put(v);
    return r;
}

static void id_strings_and_integers(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(id_of("\"ord_c08680b84471483fa2e3\"", buf, sizeof(buf)),
                        "ord_c08680b84471483fa2e3");
    assert_string_equal(id_of("5600010431060", buf, sizeof(buf)), "5600010431060");
    assert_string_equal(id_of("0", buf, sizeof(buf)), "0");
    assert_string_equal(id_of("-42", buf, sizeof(buf)), "-42");
    /* 2^53 + 1: a double would read it as 9007199254740992. */
    assert_string_equal(id_of("9007199254740993", buf, sizeof(buf)), "9007199254740993");
    assert_string_equal(id_of("820982911946154508", buf, sizeof(buf)), "820982911946154508");
    assert_string_equal(id_of("9223372036854775807", buf, sizeof(buf)), "9223372036854775807");
    /* Beyond int64: json-c holds it as uint64. */
    assert_string_equal(id_of("9223372036854775808", buf, sizeof(buf)), "9223372036854775808");
    assert_string_equal(id_of("18446744073709551614", buf, sizeof(buf)), "18446744073709551614");
    /* As a string every digit is kept, whatever its size. */
    assert_string_equal(id_of("\"18446744073709551615\"", buf, sizeof(buf)),
                        "18446744073709551615");
    assert_string_equal(id_of("\"99999999999999999999\"", buf, sizeof(buf)),
                        "99999999999999999999");
}

/* json-c clamps integers it cannot hold to the limits, so the limits are
 * ambiguous: refused, never merged with a different id. */
static void id_clamped_integers_refused(void **state)
{
    (void)state;
    char buf[64];
    assert_null(id_of("18446744073709551615", buf, sizeof(buf)));
    assert_null(id_of("18446744073709551616", buf, sizeof(buf)));
    assert_null(id_of("99999999999999999999", buf, sizeof(buf)));
    assert_null(id_of("-9223372036854775808", buf, sizeof(buf)));
    assert_null(id_of("-9223372036854775809", buf, sizeof(buf)));
}

static void id_refused(void **state)
{
    (void)state;
    char buf[64], small[6];
    assert_null(id_of("12.0", buf, sizeof(buf)));
    assert_null(id_of("1e3", buf, sizeof(buf)));
    assert_null(id_of("9007199254740993.0", buf, sizeof(buf)));
    assert_null(id_of("\"\"", buf, sizeof(buf)));
    assert_null(id_of("\"o\\u00001\"", buf, sizeof(buf)));
    assert_null(id_of("true", buf, sizeof(buf)));
    assert_null(id_of("{\"id\":1}", buf, sizeof(buf)));
    assert_null(id_of("[1]", buf, sizeof(buf)));
    assert_null(ac_canon_id(NULL, buf, sizeof(buf)));
    assert_null(ac_canon_id(NULL, buf, 0));
    /* Too long for the buffer: refused, not cut. */
    assert_null(id_of("\"abcdef\"", small, sizeof(small)));
    assert_null(id_of("123456", small, sizeof(small)));
    assert_string_equal(id_of("\"abcde\"", small, sizeof(small)), "abcde");
    assert_string_equal(id_of("12345", small, sizeof(small)), "12345");
}

static void id_of_members(void **state)
{
    (void)state;
    char buf[64];
    json_object *o = parse("{\"id\": 820982911946154508, \"name\": \"#1001\", \"n\": null,"
                           " \"e\": \"\", \"o\": {}, \"a\": []}");
    assert_string_equal(ac_canon_id_of(o, "id", buf, sizeof(buf)), "820982911946154508");
    assert_null(ac_canon_id_of(o, "missing", buf, sizeof(buf)));
    assert_null(ac_canon_id_of(o, "n", buf, sizeof(buf)));
    assert_null(ac_canon_id_of(NULL, "id", buf, sizeof(buf)));
    assert_null(ac_canon_id_of(ac_canon_arr(o, "a"), "id", buf, sizeof(buf)));
    assert_string_equal(ac_canon_str(o, "name"), "#1001");
    assert_null(ac_canon_str(o, "e"));
    assert_null(ac_canon_str(o, "id"));
    assert_null(ac_canon_str(o, "n"));
    assert_non_null(ac_canon_obj(o, "o"));
    assert_null(ac_canon_obj(o, "a"));
    assert_non_null(ac_canon_arr(o, "a"));
    assert_null(ac_canon_arr(o, "o"));
    assert_null(ac_canon_obj(NULL, "o"));
    json_object_put(o);
}

static void event_id_deterministic(void **state)
{
    (void)state;
    char a[40], b[40], c[64];
    ac_canon_event_id("shopify", "st_1", "820982911946154508", "order.placed", "", a, sizeof(a));
    ac_canon_event_id("shopify", "st_1", "820982911946154508", "order.placed", "", b, sizeof(b));
    assert_string_equal(a, b);
    assert_int_equal(strlen(a), 36);
    assert_memory_equal(a, "evt_", 4);
    for (size_t i = 4; i < 36; i++)
        assert_non_null(strchr("0123456789abcdef", a[i]));
    /* Every part counts. */
    const char *parts[][5] = {
        {"woocommerce", "st_1", "820982911946154508", "order.placed", ""},
        {"shopify", "st_2", "820982911946154508", "order.placed", ""},
        {"shopify", "st_1", "820982911946154509", "order.placed", ""},
        {"shopify", "st_1", "820982911946154508", "order.cancelled", ""},
        {"shopify", "st_1", "820982911946154508", "order.placed", "x"},
    };
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        ac_canon_event_id(parts[i][0], parts[i][1], parts[i][2], parts[i][3], parts[i][4], c,
                          sizeof(c));
        assert_string_not_equal(a, c);
    }
    /* NULL parts read as "". */
    ac_canon_event_id("shopify", NULL, "1", "order.placed", NULL, a, sizeof(a));
    ac_canon_event_id("shopify", "", "1", "order.placed", "", b, sizeof(b));
    assert_string_equal(a, b);
}

/* The parts are hashed with their lengths: moving a boundary between two
 * parts gives another id. */
static void event_id_separates_parts(void **state)
{
    (void)state;
    char a[40], b[40];
    ac_canon_event_id("a", "bc", "1", "t", "", a, sizeof(a));
    ac_canon_event_id("ab", "c", "1", "t", "", b, sizeof(b));
    assert_string_not_equal(a, b);
    ac_canon_event_id("p", "s", "fulfillment:1", "shipment.delayed", "delayed/2024-11-09", a,
                      sizeof(a));
    ac_canon_event_id("p", "s", "fulfillment:1", "shipment.delayed/", "delayed2024-11-09", b,
                      sizeof(b));
    assert_string_not_equal(a, b);
    ac_canon_event_id("p", "s", "1", "t", "", a, sizeof(a));
    ac_canon_event_id("p", "s", "1t", "", "", b, sizeof(b));
    assert_string_not_equal(a, b);
}

/* ac_canon_time() of a JSON text; NULL when refused. */
static const char *time_of(const char *json, char *out, size_t outsz)
{
    json_object *v = parse(json);
    const char *r = ac_canon_time(v, out, outsz);
    json_object_put(v);
    return r;
}

static void time_formats(void **state)
{
    (void)state;
    char out[64];
    assert_string_equal(time_of("\"2024-11-04T09:01:28.098+01:00\"", out, sizeof(out)),
                        "2024-11-04T09:01:28.098+01:00");
    assert_string_equal(time_of("\"2021-12-31T19:00:00-05:00\"", out, sizeof(out)),
                        "2021-12-31T19:00:00-05:00");
    assert_string_equal(time_of("\"2025-07-10T16:15:47.000000Z\"", out, sizeof(out)),
                        "2025-07-10T16:15:47.000000Z");
    /* WooCommerce's *_gmt: UTC without a zone. */
    assert_string_equal(time_of("\"2024-11-04 09:01:28\"", out, sizeof(out)),
                        "2024-11-04T09:01:28.000Z");
    assert_string_equal(time_of("\"2024-11-04T09:01:28\"", out, sizeof(out)),
                        "2024-11-04T09:01:28.000Z");
    /* Unix seconds (BigCommerce), as a number and as text. */
    assert_string_equal(time_of("1730710888", out, sizeof(out)), "2024-11-04T09:01:28.000Z");
    assert_string_equal(time_of("\"1730710888\"", out, sizeof(out)), "2024-11-04T09:01:28.000Z");
    /* RFC 2822 (BigCommerce V2). */
    assert_string_equal(time_of("\"Tue, 20 Nov 2012 00:00:00 +0000\"", out, sizeof(out)),
                        "2012-11-20T00:00:00.000Z");
    assert_string_equal(time_of("\"Tue, 20 Nov 2012 01:30:00 +0130\"", out, sizeof(out)),
                        "2012-11-20T00:00:00.000Z");
    assert_string_equal(time_of("\"Mon, 19 Nov 2012 19:00:00 -0500\"", out, sizeof(out)),
                        "2012-11-20T00:00:00.000Z");
    assert_string_equal(time_of("\"20 Nov 2012 00:00:00 +0000\"", out, sizeof(out)),
                        "2012-11-20T00:00:00.000Z");
    /* Whatever it returns, the workers read. */
    int64_t ms = 0;
    assert_int_equal(ac_time_parse(time_of("1730710888", out, sizeof(out)), &ms), 0);
    assert_int_equal(ms, 1730710888000LL);
}

static void time_garbage(void **state)
{
    (void)state;
    char out[64];
    const char *bad[] = {
        "\"last Tuesday\"",
        "\"\"",
        "\"2024-13-01T00:00:00Z\"",
        "\"2024-11-04 09:01\"",
        "\"Tue, 20 Foo 2012 00:00:00 +0000\"",
        "\"Tue, 20 nov 2012 00:00:00 +0000\"",
        "\"Tue, 20 Nov 2012 00:00:00 GMT\"",
        "\"Tue, 20 Nov 2012 00:00:00 +05:30\"",
        "\"Tue, 20 Nov 2012 00:00:00 +0000 trailing\"",
        "\"Tue, 20 Nov 2012 25:00:00 +0000\"",
        "\"-5\"",
        "\"12abc\"",
        "0",
        "-1730710888",
        "253402300800",
        "1730710888.5",
        "true",
        "null",
        "{}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_object *v = json_tokener_parse(bad[i]);
        if (ac_canon_time(v, out, sizeof(out)) != NULL)
            fail_msg("%s read as %s", bad[i], out);
        json_object_put(v);
    }
    assert_null(ac_canon_time(NULL, out, sizeof(out)));
}

/* RFC 3339 text longer than the buffer is written in the short form, not
 * cut into something unreadable. */
static void time_long_text_short_buffer(void **state)
{
    (void)state;
    char out[AC_TIME_BUFSZ];
    assert_string_equal(
        time_of("\"2024-11-04T10:01:28.098765432123456789+01:00\"", out, sizeof(out)),
        "2024-11-04T09:01:28.098Z");
}

/* Sets key from the JSON text and returns what was set, or NULL. */
static const char *money_of(json_object *obj, const char *json)
{
    json_object *v = json ? parse(json) : NULL;
    json_object_object_del(obj, "m");
    ac_canon_set_money(obj, "m", v);
    json_object_put(v);
    return ac_canon_str(obj, "m");
}

static void money_values(void **state)
{
    (void)state;
    json_object *o = json_object_new_object();
    assert_string_equal(money_of(o, "\"129.80\""), "129.80");
    assert_string_equal(money_of(o, "\"-5.5\""), "-5.5");
    assert_string_equal(money_of(o, "\"1000\""), "1000");
    assert_string_equal(money_of(o, "129.8"), "129.80");
    assert_string_equal(money_of(o, "42"), "42");
    const char *bad[] = {"\"nan\"", "\"inf\"",  "\"1e5\"", "\" 12\"", "\"12 \"", "\"\"",
                         "\"abc\"", "\"0x10\"", "\"12.\"", "\".5\"",  "true",    "{}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (money_of(o, bad[i]) != NULL)
            fail_msg("%s taken as money", bad[i]);
    assert_null(money_of(o, NULL));
    ac_canon_set_money(NULL, "m", NULL);
    json_object_put(o);
}

static void event_new_fields(void **state)
{
    (void)state;
    const ac_canon_store_t store = {"st_alpenglow", "Alpenglow Outdoor", "de-DE", NULL};
    json_object *ev = ac_canon_event_new("evt_1", "order.placed", "2024-11-04T09:01:28+01:00",
                                         &store, "820982911946154508");
    assert_non_null(ev);
    assert_string_equal(ac_canon_str(ev, "event_id"), "evt_1");
    assert_string_equal(ac_canon_str(ev, "type"), "order.placed");
    assert_string_equal(ac_canon_str(ev, "occurred_at"), "2024-11-04T09:01:28+01:00");
    json_object *s = ac_canon_obj(ev, "store");
    assert_string_equal(ac_canon_str(s, "id"), "st_alpenglow");
    assert_string_equal(ac_canon_str(s, "name"), "Alpenglow Outdoor");
    assert_string_equal(ac_canon_str(s, "locale"), "de-DE");
    assert_null(json_object_object_get(s, "timezone"));
    assert_string_equal(ac_canon_str(ac_canon_obj(ev, "order"), "id"), "820982911946154508");
    assert_null(ac_canon_obj(ev, "customer"));
    json_object_put(ev);

    /* No usable time: now. No store: no store object. */
    int64_t before = ac_time_now_ms(), ms = 0;
    ev = ac_canon_event_new("evt_2", "order.placed", "last Tuesday", NULL, "1");
    assert_int_equal(ac_time_parse(ac_canon_str(ev, "occurred_at"), &ms), 0);
    assert_true(ms >= before - 1 && ms <= ac_time_now_ms() + 1);
    assert_null(ac_canon_obj(ev, "store"));
    json_object_put(ev);
    ev = ac_canon_event_new("evt_3", "order.placed", NULL, NULL, "1");
    assert_int_equal(ac_time_parse(ac_canon_str(ev, "occurred_at"), &ms), 0);
    json_object_put(ev);
}

static void batch_add_and_clear(void **state)
{
    (void)state;
    ac_canon_batch_t b;
    ac_canon_batch_init(&b);
    assert_int_equal(b.n, 0);
    assert_null(b.remember);
    assert_int_equal(ac_canon_batch_add(&b, NULL), -1);
    for (size_t i = 0; i < AC_CANON_MAX_EVENTS; i++)
        assert_int_equal(ac_canon_batch_add(&b, json_object_new_object()), 0);
    /* Full: refused and released (no leak under ASan). */
    assert_int_equal(ac_canon_batch_add(&b, json_object_new_object()), -1);
    assert_int_equal(b.n, AC_CANON_MAX_EVENTS);
    b.remember = json_object_new_object();
    ac_canon_batch_clear(&b);
    assert_int_equal(b.n, 0);
    assert_null(b.remember);
}

static void needs_context(void **state)
{
    (void)state;
    const char *need[] = {
        "{\"order\":{\"id\":\"1\"}}",   "{\"customer\":null}",         "{\"customer\":{}}",
        "{\"customer\":{\"id\":\"\"}}", "{\"customer\":{\"id\":1.5}}", "{\"customer\":\"c1\"}",
    };
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
        json_object *ev = parse(need[i]);
        assert_true(ac_canon_needs_context(ev));
        assert_null(ac_canon_context(ev));
        json_object_put(ev);
    }
    json_object *ev = parse("{\"customer\":{\"id\":115310627314723954}}");
    assert_false(ac_canon_needs_context(ev));
    json_object_put(ev);
    ev = parse("{\"customer\":{\"id\":\"cus_1\"}}");
    assert_false(ac_canon_needs_context(ev));
    json_object_put(ev);
}

/* A complete order.placed and the context the gateway keeps of it. */
static const char PLACED[] =
    "{\"event_id\":\"evt_p\",\"type\":\"order.placed\",\"occurred_at\":\"2024-11-04T09:01:28Z\","
    "\"store\":{\"id\":\"st_1\",\"name\":\"Alpenglow\",\"locale\":\"de-DE\"},"
    "\"order\":{\"id\":\"o1\",\"number\":\"#1001\",\"total\":\"149.97\",\"currency\":\"EUR\","
    "\"items\":[{\"sku\":\"A\",\"name\":\"Zelt\",\"quantity\":1}]},"
    "\"customer\":{\"id\":\"c1\",\"email\":\"old@example.com\",\"first_name\":\"Zoë\","
    "\"locale\":\"de-DE\",\"marketing_consent\":true}}";

static void context_copies_sections(void **state)
{
    (void)state;
    json_object *ev = parse(PLACED);
    json_object *ctx = ac_canon_context(ev);
    assert_non_null(ctx);
    assert_string_equal(ac_canon_str(ac_canon_obj(ctx, "customer"), "id"), "c1");
    assert_string_equal(ac_canon_str(ac_canon_obj(ctx, "order"), "number"), "#1001");
    assert_string_equal(ac_canon_str(ac_canon_obj(ctx, "store"), "name"), "Alpenglow");
    assert_null(json_object_object_get(ctx, "event_id"));
    /* A copy: changing the event afterwards leaves the context alone. */
    json_object_object_add(ac_canon_obj(ev, "customer"), "email",
                           json_object_new_string("changed@example.com"));
    assert_string_equal(ac_canon_str(ac_canon_obj(ctx, "customer"), "email"), "old@example.com");
    json_object_put(ev);
    json_object_put(ctx);
}

static void complete_fills_only_missing(void **state)
{
    (void)state;
    json_object *placed = parse(PLACED);
    json_object *ctx = ac_canon_context(placed);
    json_object_put(placed);
    json_object *ev = parse("{\"event_id\":\"evt_r\",\"type\":\"return.refunded\","
                            "\"occurred_at\":\"2024-11-14T15:03:10Z\","
                            "\"store\":{\"id\":\"st_1\",\"name\":\"Alpenglow Outdoor\"},"
                            "\"order\":{\"id\":\"o1\",\"currency\":\"USD\",\"number\":null},"
                            "\"customer\":{\"email\":\"new@example.com\"},"
                            "\"return\":{\"id\":\"r1\",\"refund_amount\":\"89.99\"}}");
    assert_true(ac_canon_needs_context(ev));
    assert_int_equal(ac_canon_complete(ev, ctx), 0);
    assert_false(ac_canon_needs_context(ev));
    json_object *c = ac_canon_obj(ev, "customer"), *o = ac_canon_obj(ev, "order");
    json_object *s = ac_canon_obj(ev, "store");
    assert_string_equal(ac_canon_str(c, "id"), "c1");
    assert_string_equal(ac_canon_str(c, "email"), "new@example.com"); /* kept */
    assert_string_equal(ac_canon_str(c, "first_name"), "Zoë");        /* filled */
    assert_true(json_object_get_boolean(json_object_object_get(c, "marketing_consent")));
    assert_string_equal(ac_canon_str(o, "currency"), "USD"); /* kept */
    assert_string_equal(ac_canon_str(o, "number"), "#1001"); /* null: filled */
    assert_string_equal(ac_canon_str(o, "total"), "149.97"); /* filled */
    assert_int_equal(json_object_array_length(ac_canon_arr(o, "items")), 1);
    assert_string_equal(ac_canon_str(s, "name"), "Alpenglow Outdoor"); /* kept */
    assert_string_equal(ac_canon_str(s, "locale"), "de-DE");           /* filled */
    assert_string_equal(ac_canon_str(ac_canon_obj(ev, "return"), "id"), "r1");

    /* The completed event is one the workers accept. */
    const char *text = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN);
    ac_event_error_t err;
    ac_event_t *parsed = ac_event_parse(text, strlen(text), 0, &err);
    assert_non_null(parsed);
    assert_int_equal(parsed->type, AC_EVENT_RETURN_REFUNDED);
    assert_true(parsed->ret.has_refund_amount);
    ac_event_destroy(parsed);
    json_object_put(ev);
    json_object_put(ctx);
}

static void complete_shipment_tracking(void **state)
{
    (void)state;
    json_object *placed = parse(PLACED);
    json_object *ctx = ac_canon_context(placed);
    json_object_put(placed);
    json_object_object_add(ctx, "shipments",
                           parse("{\"123456\":{\"carrier\":\"UPS\",\"tracking_number\":"
                                 "\"1Z827WK74630\",\"tracking_url\":\"https://ups.example/t\"},"
                                 "\"999\":{\"carrier\":\"DHL\"}}"));
    json_object *ev =
        parse("{\"order\":{\"id\":\"o1\"},\"shipment\":{\"id\":\"123456\","
              "\"status\":\"Delivered, front door\",\"tracking_url\":\"https://x\"}}");
    assert_int_equal(ac_canon_complete(ev, ctx), 0);
    json_object *shp = ac_canon_obj(ev, "shipment");
    assert_string_equal(ac_canon_str(shp, "carrier"), "UPS");
    assert_string_equal(ac_canon_str(shp, "tracking_number"), "1Z827WK74630");
    assert_string_equal(ac_canon_str(shp, "tracking_url"), "https://x"); /* kept */
    assert_string_equal(ac_canon_str(shp, "status"), "Delivered, front door");
    json_object_put(ev);

    /* Numeric shipment id; another shipment's tracking is not borrowed. */
    ev = parse("{\"order\":{\"id\":\"o1\"},\"shipment\":{\"id\":999}}");
    assert_int_equal(ac_canon_complete(ev, ctx), 0);
    assert_string_equal(ac_canon_str(ac_canon_obj(ev, "shipment"), "carrier"), "DHL");
    json_object_put(ev);
    ev = parse("{\"order\":{\"id\":\"o1\"},\"shipment\":{\"id\":\"555\"}}");
    assert_int_equal(ac_canon_complete(ev, ctx), 0);
    assert_null(json_object_object_get(ac_canon_obj(ev, "shipment"), "carrier"));
    json_object_put(ev);
    json_object_put(ctx);
}

static void complete_without_customer_fails(void **state)
{
    (void)state;
    json_object *ctx = parse("{\"order\":{\"number\":\"#1\"},\"customer\":{\"email\":\"a@b\"}}");
    json_object *ev = parse("{\"order\":{\"id\":\"o1\"}}");
    assert_int_equal(ac_canon_complete(ev, ctx), -1);
    assert_int_equal(ac_canon_complete(ev, NULL), -1);
    /* Nothing was half-copied. */
    assert_null(ac_canon_str(ac_canon_obj(ev, "order"), "number"));
    assert_null(ac_canon_obj(ev, "customer"));
    json_object_put(ev);
    json_object_put(ctx);
}

static void topic_of_types(void **state)
{
    (void)state;
    assert_string_equal(ac_canon_topic("order.placed"), "orders");
    assert_string_equal(ac_canon_topic("order.cancelled"), "orders");
    assert_string_equal(ac_canon_topic("feedback.received"), "orders");
    assert_string_equal(ac_canon_topic("shipment.delivered"), "shipments");
    assert_string_equal(ac_canon_topic("return.refunded"), "returns");
    assert_null(ac_canon_topic("product.created"));
    assert_null(ac_canon_topic(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(id_strings_and_integers),
        cmocka_unit_test(id_clamped_integers_refused),
        cmocka_unit_test(id_refused),
        cmocka_unit_test(id_of_members),
        cmocka_unit_test(event_id_deterministic),
        cmocka_unit_test(event_id_separates_parts),
        cmocka_unit_test(time_formats),
        cmocka_unit_test(time_garbage),
        cmocka_unit_test(time_long_text_short_buffer),
        cmocka_unit_test(money_values),
        cmocka_unit_test(event_new_fields),
        cmocka_unit_test(batch_add_and_clear),
        cmocka_unit_test(needs_context),
        cmocka_unit_test(context_copies_sections),
        cmocka_unit_test(complete_fills_only_missing),
        cmocka_unit_test(complete_shipment_tracking),
        cmocka_unit_test(complete_without_customer_fails),
        cmocka_unit_test(topic_of_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
