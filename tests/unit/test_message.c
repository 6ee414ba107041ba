/* Unit tests for common/message: message ids and the notification record. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "message.h"
#include "timeutil.h"
#include "test_util.h"

static const char EVENT[] =
    "{\"event_id\":\"evt_42\",\"type\":\"order.placed\","
    "\"occurred_at\":\"2026-11-25T10:15:00.250+01:00\","
    "\"store\":{\"id\":\"st_berlin\",\"name\":\"Müller & Söhne\",\"locale\":\"de-DE\"},"
    "\"order\":{\"id\":\"ord_5001\",\"number\":\"#5001\",\"currency\":\"EUR\",\"total\":148.98,"
    "\"items\":[{\"sku\":\"J-1\",\"name\":\"Regenjacke 🧥\",\"quantity\":1,\"price\":129},"
    "{\"name\":\"Socken \\\"Öko\\\" / Wolle\",\"quantity\":2,\"price\":\"9.99\"}]},"
    "\"customer\":{\"id\":\"cus_77\",\"email\":\"zoe@example.com\",\"first_name\":\"Zoë\","
    "\"locale\":\"de-AT\",\"marketing_consent\":true},"
    "\"x_unknown\":{\"kept\":[1,2,3]}}";

#define CREATED_MS 1795601700123LL /* 2026-11-25T10:15:00.123Z */
#define DUE_MS     1795688100000LL /* a day later */

static ac_event_t *event(const char *json)
{
    ac_event_error_t err;
    ac_event_t *ev = ac_event_parse(json, strlen(json), 0, &err);
    if (!ev)
        fail_msg("test event does not parse: %s", err.detail);
    return ev;
}

static void id_of(ac_kind_t kind, const char *store, const char *order, const char *disc,
                  char id[AC_MESSAGE_ID_LEN])
{
    memset(id, 'Z', AC_MESSAGE_ID_LEN);
    ac_message_id(kind, store, order, disc, id);
}

static void assert_id_format(const char *id)
{
    assert_int_equal(strlen(id), AC_MESSAGE_ID_LEN - 1);
    assert_int_equal(strlen(id), 36);
    assert_memory_equal(id, "msg_", 4);
    for (size_t i = 4; i < 36; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            fail_msg("id %s has a non-hex character at %zu", id, i);
}

static void test_id_format(void **state)
{
    (void)state;
    char id[AC_MESSAGE_ID_LEN];
    for (int k = 0; k < AC_KIND__COUNT; k++) {
        id_of((ac_kind_t)k, "st_berlin", "ord_5001", NULL, id);
        assert_id_format(id);
    }
    id_of(AC_KIND_DELAY_NOTICE, NULL, NULL, NULL, id);
    assert_id_format(id);
    id_of(AC_KIND_SHIPPING_UPDATE, "Müller", "Bestellung-ä", "2026-11-30", id);
    assert_id_format(id);
}

static void test_id_known_answer(void **state)
{
    (void)state;
    /* Ids are dedup keys stored in Redis and sent as Idempotency-Key: a
     * change to how they are derived would re-send every message in flight
     * during a deploy, so the derivation is pinned here. */
    char id[AC_MESSAGE_ID_LEN];
    id_of(AC_KIND_ORDER_CONFIRMATION, "st_berlin", "ord_5001", NULL, id);
    assert_string_equal(id, "msg_e99e6517ea181a668acd094ef7589db2");
}

static void test_id_deterministic(void **state)
{
    (void)state;
    char a[AC_MESSAGE_ID_LEN], b[AC_MESSAGE_ID_LEN];
    id_of(AC_KIND_SHIPPING_UPDATE, "st", "o", "in_transit", a);
    id_of(AC_KIND_SHIPPING_UPDATE, "st", "o", "in_transit", b);
    assert_string_equal(a, b);
    /* Absent store and discriminator read as empty. */
    id_of(AC_KIND_ORDER_CONFIRMATION, NULL, "o", NULL, a);
    id_of(AC_KIND_ORDER_CONFIRMATION, "", "o", "", b);
    assert_string_equal(a, b);
}

static void test_id_differs_by_each_part(void **state)
{
    (void)state;
    char base[AC_MESSAGE_ID_LEN], other[AC_MESSAGE_ID_LEN];
    id_of(AC_KIND_SHIPPING_UPDATE, "st", "o", "d", base);
    id_of(AC_KIND_DELAY_NOTICE, "st", "o", "d", other);
    assert_string_not_equal(base, other);
    id_of(AC_KIND_SHIPPING_UPDATE, "st2", "o", "d", other);
    assert_string_not_equal(base, other);
    id_of(AC_KIND_SHIPPING_UPDATE, "st", "o2", "d", other);
    assert_string_not_equal(base, other);
    id_of(AC_KIND_SHIPPING_UPDATE, "st", "o", "d2", other);
    assert_string_not_equal(base, other);
    id_of(AC_KIND_SHIPPING_UPDATE, "st", "o", NULL, other);
    assert_string_not_equal(base, other);
    id_of(AC_KIND_SHIPPING_UPDATE, "ST", "o", "d", other);
    assert_string_not_equal(base, other);

    /* Every kind yields its own id for the same order. */
    char ids[AC_KIND__COUNT][AC_MESSAGE_ID_LEN];
    for (int k = 0; k < AC_KIND__COUNT; k++)
        id_of((ac_kind_t)k, "st", "o", NULL, ids[k]);
    for (int i = 0; i < AC_KIND__COUNT; i++)
        for (int j = i + 1; j < AC_KIND__COUNT; j++)
            assert_string_not_equal(ids[i], ids[j]);
}

static void test_id_no_split_collisions(void **state)
{
    (void)state;
    /* Moving characters across a field boundary must change the id. */
    static const char *splits[][3] = {
        {"a|b", "c", NULL}, {"a", "b|c", NULL}, {"a", "b", "|c"}, {"a|", "b", "c"},
        {"ab", "c", ""},    {"a", "bc", ""},    {"a", "b", "c"},  {"", "abc", ""},
        {"abc", "", ""},    {"", "", "abc"},    {"a:b", "c", ""}, {"a", "b:c", ""},
        {"1:a", "", ""},    {"", "1:a", ""},    {"a", "1:b", ""}, {"a1:", "b", ""},
        {"a\n", "b", ""},   {"a", "\nb", ""},
    };
    size_t n = sizeof(splits) / sizeof(splits[0]);
    char(*ids)[AC_MESSAGE_ID_LEN] = calloc(n, AC_MESSAGE_ID_LEN);
    assert_non_null(ids);
    for (size_t i = 0; i < n; i++)
        id_of(AC_KIND_SHIPPING_UPDATE, splits[i][0], splits[i][1], splits[i][2], ids[i]);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(ids[i], ids[j]) == 0)
                fail_msg("(%s,%s,%s) and (%s,%s,%s) share id %s", splits[i][0], splits[i][1],
                         splits[i][2] ? splits[i][2] : "NULL", splits[j][0], splits[j][1],
                         splits[j][2] ? splits[j][2] : "NULL", ids[i]);
    free(ids);
}

static void test_id_long_parts(void **state)
{
    (void)state;
    /* Parts longer than any fixed buffer are hashed whole: two orders that
     * differ only at their far end still get different ids. */
    size_t len = 3000;
    char *a = malloc(len + 1), *b = malloc(len + 1);
    assert_non_null(a);
    assert_non_null(b);
    memset(a, 'o', len);
    a[len] = '\0';
    memcpy(b, a, len + 1);
    b[len - 1] = 'p';
    char ia[AC_MESSAGE_ID_LEN], ib[AC_MESSAGE_ID_LEN], again[AC_MESSAGE_ID_LEN];
    id_of(AC_KIND_ORDER_CONFIRMATION, "st", a, NULL, ia);
    id_of(AC_KIND_ORDER_CONFIRMATION, "st", b, NULL, ib);
    id_of(AC_KIND_ORDER_CONFIRMATION, "st", a, NULL, again);
    assert_id_format(ia);
    assert_string_not_equal(ia, ib);
    assert_string_equal(ia, again);

    /* Lengths around the point where the joined text stops fitting. */
    for (size_t n = 980; n < 1040; n++) {
        a[n] = '\0';
        memcpy(b, a, n + 1);
        b[n - 1] = 'p';
        id_of(AC_KIND_ORDER_CONFIRMATION, "st", a, "d", ia);
        id_of(AC_KIND_ORDER_CONFIRMATION, "st", b, "d", ib);
        assert_id_format(ia);
        if (strcmp(ia, ib) == 0)
            fail_msg("orders of length %zu differing in the last byte share an id", n);
        id_of(AC_KIND_ORDER_CONFIRMATION, "st", a, "e", ib);
        if (strcmp(ia, ib) == 0)
            fail_msg("discriminator ignored for an order of length %zu", n);
        a[n] = 'o';
    }
    free(a);
    free(b);
}

static void test_kind_names(void **state)
{
    (void)state;
    static const char *names[] = {"order_confirmation",  "order_cancelled", "shipping_update",
                                  "delay_notice",        "review_request",  "referral_invite",
                                  "return_confirmation", "refund_notice",   "feedback_followup",
                                  "store_alert"};
    assert_int_equal(sizeof(names) / sizeof(names[0]), AC_KIND__COUNT);
    for (int k = 0; k < AC_KIND__COUNT; k++) {
        ac_kind_t parsed = AC_KIND__COUNT;
        assert_string_equal(ac_kind_name((ac_kind_t)k), names[k]);
        assert_int_equal(ac_kind_parse(names[k], &parsed), 0);
        assert_int_equal(parsed, k);
    }
    ac_kind_t kind = AC_KIND_REVIEW_REQUEST;
    assert_int_equal(ac_kind_parse("order-confirmation", &kind), -1);
    assert_int_equal(ac_kind_parse("ORDER_CONFIRMATION", &kind), -1);
    assert_int_equal(ac_kind_parse("", &kind), -1);
    assert_int_equal(ac_kind_parse(NULL, &kind), -1);
    assert_int_equal(kind, AC_KIND_REVIEW_REQUEST);
    assert_string_equal(ac_kind_name(AC_KIND__COUNT), "unknown");
}

static ac_message_t *decode_ok(const char *buf, size_t len)
{
    ac_event_error_t err;
    ac_message_t *m = ac_message_decode(buf, len, 0, &err);
    if (!m)
        fail_msg("expected the notification to decode, got %s: %s", ac_event_err_name(err.code),
                 err.detail);
    return m;
}

static void test_round_trip(void **state)
{
    (void)state;
    ac_event_t *ev = event(EVENT);
    char id[AC_MESSAGE_ID_LEN];
    ac_message_id(AC_KIND_ORDER_CONFIRMATION, ev->store.id, ev->order.id, NULL, id);
    size_t len = 0;
    char *rec = ac_message_encode(id, AC_KIND_ORDER_CONFIRMATION, CREATED_MS, DUE_MS, ev, &len);
    assert_non_null(rec);
    assert_int_equal(len, strlen(rec));

    ac_message_t *m = decode_ok(rec, len);
    assert_string_equal(m->id, id);
    assert_int_equal(m->kind, AC_KIND_ORDER_CONFIRMATION);
    assert_int_equal(m->created_ms, CREATED_MS);
    assert_int_equal(m->due_ms, DUE_MS);
    const ac_event_t *d = m->event;
    assert_non_null(d);
    assert_string_equal(d->event_id, "evt_42");
    assert_int_equal(d->type, AC_EVENT_ORDER_PLACED);
    assert_int_equal(d->occurred_ms, ev->occurred_ms);
    assert_string_equal(d->occurred_at, "2026-11-25T10:15:00.250+01:00");
    assert_string_equal(d->store.id, "st_berlin");
    assert_string_equal(d->store.name, "Müller & Söhne");
    assert_string_equal(d->order.id, "ord_5001");
    assert_string_equal(d->order.number, "#5001");
    assert_true(d->order.has_total);
    assert_float_equal(d->order.total, 148.98, 1e-9);
    assert_int_equal(d->order.n_items, 2);
    assert_string_equal(d->order.items[0].name, "Regenjacke 🧥");
    assert_string_equal(d->order.items[1].name, "Socken \"Öko\" / Wolle");
    assert_int_equal(d->order.items[1].quantity, 2);
    assert_float_equal(d->order.items[1].price, 9.99, 1e-9);
    assert_string_equal(d->customer.first_name, "Zoë");
    assert_string_equal(d->customer.email, "zoe@example.com");
    assert_string_equal(d->customer.locale, "de-AT");
    assert_int_equal(d->customer.marketing_consent, 1);
    /* Fields the contract does not know travel along untouched. */
    json_object *x;
    assert_true(json_object_object_get_ex(d->root, "x_unknown", &x));
    assert_string_equal(json_object_to_json_string_ext(x, JSON_C_TO_STRING_PLAIN),
                        "{\"kept\":[1,2,3]}");

    /* The decoded message encodes to the same record. */
    size_t len2 = 0;
    char *rec2 = ac_message_encode(m->id, m->kind, m->created_ms, m->due_ms, m->event, &len2);
    assert_non_null(rec2);
    assert_int_equal(len2, len);
    assert_string_equal(rec2, rec);

    free(rec2);
    ac_message_destroy(m);
    free(rec);
    ac_event_destroy(ev);
}

/* An event worker passes the record it consumed: it goes into the
 * notification byte for byte, whitespace and escapes included, and decodes
 * to the same event as the serialised parse would. */
static void test_encode_json_carries_record(void **state)
{
    (void)state;
    size_t raw_len = strlen(EVENT) + 4;
    char *raw = malloc(raw_len + 1);
    assert_non_null(raw);
    snprintf(raw, raw_len + 1, " \n%s\n ", EVENT);
    ac_event_error_t err;
    ac_event_t *ev = ac_event_parse(raw, raw_len, 0, &err);
    assert_non_null(ev);
    char id[AC_MESSAGE_ID_LEN];
    ac_message_id(AC_KIND_REVIEW_REQUEST, ev->store.id, ev->order.id, NULL, id);

    size_t len = 0, len_parsed = 0;
    char *rec =
        ac_message_encode_json(id, AC_KIND_REVIEW_REQUEST, CREATED_MS, DUE_MS, raw, raw_len, &len);
    assert_non_null(rec);
    assert_int_equal(len, strlen(rec));
    assert_non_null(strstr(rec, raw));
    assert_int_equal(rec[len - 1], '}');

    ac_message_t *m = decode_ok(rec, len);
    assert_string_equal(m->id, id);
    assert_int_equal(m->kind, AC_KIND_REVIEW_REQUEST);
    assert_int_equal(m->created_ms, CREATED_MS);
    assert_int_equal(m->due_ms, DUE_MS);
    assert_string_equal(m->event->event_id, ev->event_id);
    assert_string_equal(m->event->order.items[1].name, "Socken \"Öko\" / Wolle");

    /* The same message as ac_message_encode() writes from the parse. */
    char *parsed =
        ac_message_encode(id, AC_KIND_REVIEW_REQUEST, CREATED_MS, DUE_MS, ev, &len_parsed);
    assert_non_null(parsed);
    size_t len_again = 0;
    char *again = ac_message_encode(m->id, m->kind, m->created_ms, m->due_ms, m->event, &len_again);
    assert_non_null(again);
    assert_string_equal(again, parsed);

    free(again);
    free(parsed);
    ac_message_destroy(m);
    free(rec);
    ac_event_destroy(ev);
    free(raw);
}

/* The envelope written directly, for a valid id, is byte for byte what
 * json-c writes for the same members, with and without a due time and for
 * every kind; an id that is not valid still goes through json-c, escaped. */
static void test_encode_envelope_bytes(void **state)
{
    (void)state;
    static const char event[] = "{\"a\":1}";
    const char *id = "msg_0123456789abcdef0123456789abcdef";
    char ts[AC_TIME_BUFSZ];
    for (int k = 0; k < AC_KIND__COUNT; k++) {
        for (int due = 0; due < 2; due++) {
            json_object *o = json_object_new_object();
            json_object_object_add(o, "v", json_object_new_int(1));
            json_object_object_add(o, "id", json_object_new_string(id));
            json_object_object_add(o, "kind", json_object_new_string(ac_kind_name(k)));
            ac_time_format(CREATED_MS, ts, sizeof(ts));
            json_object_object_add(o, "created_at", json_object_new_string(ts));
            if (due) {
                ac_time_format(DUE_MS, ts, sizeof(ts));
                json_object_object_add(o, "due_at", json_object_new_string(ts));
            }
            json_object_object_add(o, "event", json_tokener_parse(event));
            const char *want = json_object_to_json_string_ext(
                o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
            size_t len = 0;
            char *got = ac_message_encode_json(id, (ac_kind_t)k, CREATED_MS, due ? DUE_MS : 0,
                                               event, strlen(event), &len);
            assert_non_null(got);
            assert_string_equal(got, want);
            assert_int_equal(len, strlen(want));
            free(got);
            json_object_put(o);
        }
    }
    size_t len = 0;
    char *odd = ac_message_encode_json("x\"y", AC_KIND_REVIEW_REQUEST, CREATED_MS, 0, event,
                                       strlen(event), &len);
    assert_non_null(odd);
    assert_non_null(strstr(odd, "\"id\":\"x\\\"y\""));
    free(odd);
}

static void test_encoded_shape(void **state)
{
    (void)state;
    ac_event_t *ev = event(EVENT);
    char id[AC_MESSAGE_ID_LEN];
    ac_message_id(AC_KIND_ORDER_CANCELLED, ev->store.id, ev->order.id, NULL, id);
    size_t len = 0;
    char *rec = ac_message_encode(id, AC_KIND_ORDER_CANCELLED, CREATED_MS, 0, ev, &len);
    assert_non_null(rec);
    /* One line: a record never needs framing beyond itself. */
    assert_null(strchr(rec, '\n'));
    json_object *o = json_tokener_parse(rec);
    assert_non_null(o);
    json_object *v;
    assert_true(json_object_object_get_ex(o, "v", &v));
    assert_int_equal(json_object_get_int(v), 1);
    assert_true(json_object_object_get_ex(o, "id", &v));
    assert_string_equal(json_object_get_string(v), id);
    assert_true(json_object_object_get_ex(o, "kind", &v));
    assert_string_equal(json_object_get_string(v), "order_cancelled");
    assert_true(json_object_object_get_ex(o, "created_at", &v));
    assert_string_equal(json_object_get_string(v), "2026-11-25T10:15:00.123Z");
    /* Due at once: no due_at at all. */
    assert_false(json_object_object_get_ex(o, "due_at", &v));
    assert_true(json_object_object_get_ex(o, "event", &v));
    assert_true(json_object_is_type(v, json_type_object));
    json_object_put(o);

    ac_message_t *m = decode_ok(rec, len);
    assert_int_equal(m->due_ms, 0);
    assert_int_equal(m->kind, AC_KIND_ORDER_CANCELLED);
    ac_message_destroy(m);
    free(rec);
    ac_event_destroy(ev);
}

static void test_encode_leaves_event_usable(void **state)
{
    (void)state;
    /* Encoding shares the event's document; the event must stay intact
     * and be freed independently of the record. */
    ac_event_t *ev = event(EVENT);
    char *rec = ac_message_encode("msg_00000000000000000000000000000000",
                                  AC_KIND_ORDER_CONFIRMATION, CREATED_MS, 0, ev, NULL);
    assert_non_null(rec);
    free(rec);
    assert_string_equal(ev->customer.first_name, "Zoë");
    rec = ac_message_encode("msg_00000000000000000000000000000000", AC_KIND_ORDER_CONFIRMATION,
                            CREATED_MS, 0, ev, NULL);
    assert_non_null(rec);
    ac_event_destroy(ev);
    assert_contains(rec, "Zoë");
    free(rec);
}

/* Builds a notification record around the minimal event; NULL leaves a
 * field out. */
static char *record(const char *id, const char *kind, const char *event_json)
{
    json_object *o = json_object_new_object();
    json_object_object_add(o, "v", json_object_new_int(1));
    if (id)
        json_object_object_add(o, "id", json_object_new_string(id));
    if (kind)
        json_object_object_add(o, "kind", json_object_new_string(kind));
    json_object_object_add(o, "created_at", json_object_new_string("2026-11-25T10:15:00Z"));
    if (event_json)
        json_object_object_add(o, "event", json_tokener_parse(event_json));
    char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    return s;
}

#define GOOD_ID "msg_0123456789abcdef0123456789abcdef"
#define MINIMAL_EVENT                                                                              \
    "{\"event_id\":\"e1\",\"type\":\"order.cancelled\",\"occurred_at\":\"2026-11-25T10:15:00Z\","  \
    "\"order\":{\"id\":\"o1\"},\"customer\":{\"id\":\"c1\"}}"

static void decode_fails(const char *rec, ac_event_err_t code)
{
    ac_event_error_t err;
    memset(&err, 0, sizeof(err));
    err.code = AC_EVENT_OK;
    ac_message_t *m = ac_message_decode(rec, strlen(rec), 0, &err);
    if (m) {
        ac_message_destroy(m);
        fail_msg("expected %s for %s, but it decoded", ac_event_err_name(code), rec);
    }
    if (err.code != code)
        fail_msg("expected %s for %s, got %s (%s)", ac_event_err_name(code), rec,
                 ac_event_err_name(err.code), err.detail);
}

static void test_decode_minimal(void **state)
{
    (void)state;
    char *rec = record(GOOD_ID, "order_cancelled", MINIMAL_EVENT);
    ac_message_t *m = decode_ok(rec, strlen(rec));
    assert_string_equal(m->id, GOOD_ID);
    assert_int_equal(m->kind, AC_KIND_ORDER_CANCELLED);
    assert_int_equal(m->created_ms, 1795601700000LL);
    assert_int_equal(m->due_ms, 0);
    assert_string_equal(m->event->order.id, "o1");
    ac_message_destroy(m);
    ac_message_destroy(NULL);
    free(rec);
}

static void test_decode_bad_id(void **state)
{
    (void)state;
    static const char *bad[] = {
        "",
        "msg_",
        "msg_0123456789abcdef0123456789abcde",   /* one short */
        "msg_0123456789abcdef0123456789abcdef0", /* one long */
        "MSG_0123456789abcdef0123456789abcdef",
        "evt_0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef0123",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *rec = record(bad[i], "order_cancelled", MINIMAL_EVENT);
        decode_fails(rec, AC_EVENT_ERR_INVALID_FIELD);
        free(rec);
    }
    char *rec = record(NULL, "order_cancelled", MINIMAL_EVENT);
    decode_fails(rec, AC_EVENT_ERR_INVALID_FIELD);
    free(rec);
    decode_fails("{\"id\":12,\"kind\":\"order_cancelled\",\"event\":" MINIMAL_EVENT "}",
                 AC_EVENT_ERR_INVALID_FIELD);
}

static void test_decode_unknown_kind(void **state)
{
    (void)state;
    static const char *bad[] = {"order_shipped", "", "Order_Cancelled", "unknown"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *rec = record(GOOD_ID, bad[i], MINIMAL_EVENT);
        decode_fails(rec, AC_EVENT_ERR_INVALID_FIELD);
        free(rec);
    }
    char *rec = record(GOOD_ID, NULL, MINIMAL_EVENT);
    decode_fails(rec, AC_EVENT_ERR_INVALID_FIELD);
    free(rec);
}

static void test_decode_missing_or_bad_event(void **state)
{
    (void)state;
    ac_event_error_t err;
    char *rec = record(GOOD_ID, "order_cancelled", NULL);
    assert_null(ac_message_decode(rec, strlen(rec), 0, &err));
    free(rec);

    /* The event inside is validated like any event record. */
    rec = record(GOOD_ID, "order_cancelled", "[1]");
    decode_fails(rec, AC_EVENT_ERR_NOT_OBJECT);
    free(rec);
    rec = record(GOOD_ID, "order_cancelled",
                 "{\"event_id\":\"e1\",\"type\":\"order.cancelled\","
                 "\"occurred_at\":\"2026-11-25T10:15:00Z\",\"customer\":{\"id\":\"c1\"}}");
    decode_fails(rec, AC_EVENT_ERR_MISSING_FIELD);
    free(rec);
    decode_fails("{\"id\":\"" GOOD_ID "\",\"kind\":\"order_cancelled\",\"event\":null}",
                 AC_EVENT_ERR_NOT_OBJECT);
}

static void test_decode_invalid_record(void **state)
{
    (void)state;
    decode_fails("{\"id\":", AC_EVENT_ERR_INVALID_JSON);
    decode_fails("not json", AC_EVENT_ERR_INVALID_JSON);
    decode_fails("{\"id\":\"" GOOD_ID "\"} trailing", AC_EVENT_ERR_INVALID_JSON);
    decode_fails("{\"id\":\"msg_\xC0\xAF\"}", AC_EVENT_ERR_NOT_UTF8);
    ac_event_error_t err;
    assert_null(ac_message_decode("[1,2]", 5, 0, &err));
    assert_int_not_equal(err.code, AC_EVENT_OK);

    char *rec = record(GOOD_ID, "order_cancelled", MINIMAL_EVENT);
    assert_null(ac_message_decode(rec, strlen(rec), 16, &err));
    assert_int_equal(err.code, AC_EVENT_ERR_TOO_LARGE);
    free(rec);
}

#define FIRST_ATTEMPT_MS (CREATED_MS + 3600000 + 7) /* an hour after, to the millisecond */

/* A message put back into the schedule carries its attempts and the time
 * of its first one, so that the backoff, RETRY_FOR and MAX_ATTEMPTS go on
 * from there when it comes back; everything else in the record survives
 * unchanged, and setting them again replaces rather than repeats them. */
static void test_attempts_round_trip(void **state)
{
    (void)state;
    ac_event_t *ev = event(EVENT);
    char id[AC_MESSAGE_ID_LEN];
    ac_message_id(AC_KIND_REVIEW_REQUEST, ev->store.id, ev->order.id, NULL, id);
    size_t len = 0;
    char *rec = ac_message_encode(id, AC_KIND_REVIEW_REQUEST, CREATED_MS, DUE_MS, ev, &len);
    assert_non_null(rec);

    /* A record that never waited for a retry has neither field. */
    ac_message_t *m = decode_ok(rec, len);
    assert_int_equal(m->attempts, 0);
    assert_int_equal(m->first_attempt_ms, 0);
    ac_message_destroy(m);

    size_t n = 0;
    char *with = ac_message_with_attempts(rec, len, 3, FIRST_ATTEMPT_MS, &n);
    assert_non_null(with);
    assert_int_equal(n, strlen(with));
    m = decode_ok(with, n);
    assert_int_equal(m->attempts, 3);
    assert_int_equal(m->first_attempt_ms, FIRST_ATTEMPT_MS);
    assert_string_equal(m->id, id);
    assert_int_equal(m->kind, AC_KIND_REVIEW_REQUEST);
    assert_int_equal(m->created_ms, CREATED_MS);
    assert_int_equal(m->due_ms, DUE_MS);
    assert_string_equal(m->event->event_id, "evt_42");
    assert_string_equal(m->event->store.name, "Müller & Söhne");
    assert_string_equal(m->event->order.items[1].name, "Socken \"Öko\" / Wolle");
    json_object *x;
    assert_true(json_object_object_get_ex(m->event->root, "x_unknown", &x));
    ac_message_destroy(m);

    /* The next deferral overwrites the count; out_len may be NULL. */
    char *again = ac_message_with_attempts(with, n, 4, FIRST_ATTEMPT_MS, NULL);
    assert_non_null(again);
    assert_int_equal(ac_test_count(again, "\"attempts\""), 1);
    assert_int_equal(ac_test_count(again, "\"first_attempt_at\""), 1);
    m = decode_ok(again, strlen(again));
    assert_int_equal(m->attempts, 4);
    assert_int_equal(m->first_attempt_ms, FIRST_ATTEMPT_MS);
    ac_message_destroy(m);

    /* A held message (no attempt made yet) keeps 0 attempts. */
    char *held = ac_message_with_attempts(rec, len, 0, FIRST_ATTEMPT_MS, NULL);
    assert_non_null(held);
    m = decode_ok(held, strlen(held));
    assert_int_equal(m->attempts, 0);
    assert_int_equal(m->first_attempt_ms, FIRST_ATTEMPT_MS);
    ac_message_destroy(m);

    free(held);
    free(again);
    free(with);
    free(rec);
    ac_event_destroy(ev);
}

/* The record is len bytes, as consumed from Kafka: not NUL-terminated,
 * whatever follows it in memory is not part of it. */
static void test_with_attempts_reads_only_len_bytes(void **state)
{
    (void)state;
    char *rec = record(GOOD_ID, "order_cancelled", MINIMAL_EVENT);
    size_t len = strlen(rec);
    char *buf = malloc(len + 16);
    assert_non_null(buf);
    memcpy(buf, rec, len);
    memcpy(buf + len, "}garbage,\"x\":1}", 16);
    size_t n = 0;
    char *with = ac_message_with_attempts(buf, len, 2, CREATED_MS, &n);
    assert_non_null(with);
    assert_not_contains(with, "garbage");
    ac_message_t *m = decode_ok(with, n);
    assert_int_equal(m->attempts, 2);
    assert_int_equal(m->first_attempt_ms, CREATED_MS);
    assert_string_equal(m->event->order.id, "o1");
    ac_message_destroy(m);
    free(with);
    free(buf);
    free(rec);
}

/* Only a JSON object can carry the fields: anything else, or text that is
 * not JSON at all, gives NULL rather than a made-up record. */
static void test_with_attempts_needs_an_object(void **state)
{
    (void)state;
    const char *bad[] = {"[1,2,3]", "\"text\"", "42", "null", "true", "{\"id\":", "not json", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = 12345;
        char *out = ac_message_with_attempts(bad[i], strlen(bad[i]), 1, CREATED_MS, &n);
        if (out) {
            free(out);
            fail_msg("expected NULL for %s", bad[i]);
        }
    }
}

/* Builds the minimal record with one more field, given as JSON text. */
static char *record_with(const char *field, const char *value_json)
{
    char *base = record(GOOD_ID, "order_cancelled", MINIMAL_EVENT);
    json_object *o = json_tokener_parse(base);
    json_object_object_add(o, field, json_tokener_parse(value_json));
    char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
    json_object_put(o);
    free(base);
    return s;
}

/* Decoding is lenient about the two fields, as about the timestamps: a
 * count that is not a small positive integer reads as none, and so does a
 * first attempt that is not a timestamp; the message itself still
 * decodes, since dropping it over retry bookkeeping would lose it. */
static void test_decode_attempts_out_of_range(void **state)
{
    (void)state;
    struct {
        const char *field, *value;
        int attempts;
        int64_t first_ms;
    } cases[] = {
        {"attempts", "7", 7, 0},
        {"attempts", "1000000", 1000000, 0},
        {"attempts", "1000001", 0, 0},
        {"attempts", "-3", 0, 0},
        {"attempts", "0", 0, 0},
        {"attempts", "\"3\"", 0, 0},
        {"attempts", "2.5", 0, 0},
        {"attempts", "9223372036854775807", 0, 0},
        {"attempts", "null", 0, 0},
        {"first_attempt_at", "\"2026-11-25T10:15:00.123Z\"", 0, CREATED_MS},
        {"first_attempt_at", "\"yesterday\"", 0, 0},
        {"first_attempt_at", "\"2026-13-45T99:00:00Z\"", 0, 0},
        {"first_attempt_at", "null", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *rec = record_with(cases[i].field, cases[i].value);
        ac_message_t *m = decode_ok(rec, strlen(rec));
        if (m->attempts != cases[i].attempts || m->first_attempt_ms != cases[i].first_ms)
            fail_msg("%s = %s: expected attempts %d, first attempt %lld; got %d, %lld",
                     cases[i].field, cases[i].value, cases[i].attempts,
                     (long long)cases[i].first_ms, m->attempts, (long long)m->first_attempt_ms);
        assert_int_equal(m->kind, AC_KIND_ORDER_CANCELLED);
        ac_message_destroy(m);
        free(rec);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_format),
        cmocka_unit_test(test_id_known_answer),
        cmocka_unit_test(test_id_deterministic),
        cmocka_unit_test(test_id_differs_by_each_part),
        cmocka_unit_test(test_id_no_split_collisions),
        cmocka_unit_test(test_id_long_parts),
        cmocka_unit_test(test_kind_names),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_encoded_shape),
        cmocka_unit_test(test_encode_envelope_bytes),
        cmocka_unit_test(test_encode_json_carries_record),
        cmocka_unit_test(test_encode_leaves_event_usable),
        cmocka_unit_test(test_decode_minimal),
        cmocka_unit_test(test_decode_bad_id),
        cmocka_unit_test(test_decode_unknown_kind),
        cmocka_unit_test(test_decode_missing_or_bad_event),
        cmocka_unit_test(test_decode_invalid_record),
        cmocka_unit_test(test_attempts_round_trip),
        cmocka_unit_test(test_with_attempts_reads_only_len_bytes),
        cmocka_unit_test(test_with_attempts_needs_an_object),
        cmocka_unit_test(test_decode_attempts_out_of_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
