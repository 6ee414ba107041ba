/* Unit tests for common/event: parsing and validating event records. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "test_util.h"

/* A realistic order.placed record as a storefront would publish it, with
 * non-ASCII names, emoji, a numeric SKU, a decimal-string price and fields
 * the contract does not know about. */
static const char ORDER_PLACED[] =
    "{\n"
    "  \"event_id\": \"evt_01JD7Q4TQ4Z9M3\",\n"
    "  \"type\": \"order.placed\",\n"
    "  \"occurred_at\": \"2026-11-25T10:15:00.250+01:00\",\n"
    "  \"schema_version\": 3,\n"
    "  \"source\": {\"platform\": \"shopify\", \"tags\": [\"black-friday\", null, 1.5]},\n"
    "  \"store\": {\"id\": \"st_berlin\", \"name\": \"Müller & Söhne Outdoor\",\n"
    "            \"locale\": \"de-DE\", \"timezone\": \"Europe/Berlin\"},\n"
    "  \"order\": {\n"
    "    \"id\": \"ord_5001\", \"number\": \"#5001\", \"currency\": \"EUR\", \"total\": 148.98,\n"
    "    \"promised_delivery_date\": \"2026-11-28\",\n"
    "    \"items\": [\n"
    "      {\"sku\": \"JKT-RAIN-M\", \"name\": \"Regenjacke „Nordwind“ 🧥\", \"category\": "
    "\"outerwear\",\n"
    "       \"quantity\": 1, \"price\": 129},\n"
    "      {\"sku\": 4711, \"name\": \"Wollsocken 🧦 (2er)\", \"quantity\": 2, \"price\": "
    "\"9.99\"},\n"
    "      {\"name\": \"Geschenkkarte 🎁\"}\n"
    "    ]\n"
    "  },\n"
    "  \"customer\": {\n"
    "    \"id\": \"cus_77\", \"email\": \"zoe.juergen@example.com\", \"phone\": "
    "\"+4915112345678\",\n"
    "    \"first_name\": \"Zoë\", \"last_name\": \"Jürgen\", \"locale\": \"de-AT\",\n"
    "    \"timezone\": \"Europe/Vienna\", \"marketing_consent\": true\n"
    "  }\n"
    "}\n";

/* 2026-11-25T09:15:00.250Z, computed independently. */
#define ORDER_PLACED_MS 1795598100250LL

/* The smallest record the contract accepts. */
static const char MINIMAL[] = "{\"event_id\":\"e1\",\"type\":\"order.placed\","
                              "\"occurred_at\":\"2026-11-25T10:15:00Z\","
                              "\"order\":{\"id\":\"o1\"},\"customer\":{\"id\":\"c1\"}}";

static ac_event_t *parse_ok(const char *json)
{
    ac_event_error_t err;
    memset(&err, 0x55, sizeof(err));
    ac_event_t *ev = ac_event_parse(json, strlen(json), 0, &err);
    if (!ev)
        fail_msg("expected the record to parse, got %s: %s", ac_event_err_name(err.code),
                 err.detail);
    assert_int_equal(err.code, AC_EVENT_OK);
    return ev;
}

/* Parses len bytes expecting the given error; returns its detail. */
static const char *parse_fails_n(const char *buf, size_t len, size_t max, ac_event_err_t code)
{
    static ac_event_error_t err;
    memset(&err, 0, sizeof(err));
    err.code = AC_EVENT_OK;
    ac_event_t *ev = ac_event_parse(buf, len, max, &err);
    if (ev) {
        ac_event_destroy(ev);
        fail_msg("expected %s, but the record parsed", ac_event_err_name(code));
    }
    if (err.code != code)
        fail_msg("expected %s, got %s (%s)", ac_event_err_name(code), ac_event_err_name(err.code),
                 err.detail);
    assert_true(strlen(err.detail) > 0);
    return err.detail;
}

static const char *parse_fails(const char *json, ac_event_err_t code)
{
    return parse_fails_n(json, strlen(json), 0, code);
}

/* Returns MINIMAL (or ORDER_PLACED when full) re-serialised after applying
 * an edit at a dotted path: value NULL deletes the field, otherwise value
 * is JSON text put in its place. The caller frees the result. */
static char *edited(int full, const char *path, const char *value)
{
    const char *base = full ? ORDER_PLACED : MINIMAL;
    json_object *root = json_tokener_parse(base);
    assert_non_null(root);
    json_object *obj = root;
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    char *key = buf, *dot;
    while ((dot = strchr(key, '.')) != NULL) {
        *dot = '\0';
        json_object *child;
        assert_true(json_object_object_get_ex(obj, key, &child));
        obj = child;
        key = dot + 1;
    }
    if (value) {
        json_object *v = json_tokener_parse(value);
        if (!v && strcmp(value, "null") != 0)
            fail_msg("bad test value %s", value);
        json_object_object_add(obj, key, v);
    } else {
        json_object_object_del(obj, key);
    }
    char *out = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
    json_object_put(root);
    return out;
}

static void test_full_order_placed(void **state)
{
    (void)state;
    ac_event_t *ev = parse_ok(ORDER_PLACED);
    assert_string_equal(ev->event_id, "evt_01JD7Q4TQ4Z9M3");
    assert_int_equal(ev->type, AC_EVENT_ORDER_PLACED);
    assert_string_equal(ev->type_name, "order.placed");
    assert_string_equal(ev->occurred_at, "2026-11-25T10:15:00.250+01:00");
    assert_int_equal(ev->occurred_ms, ORDER_PLACED_MS);

    assert_string_equal(ev->store.id, "st_berlin");
    assert_string_equal(ev->store.name, "Müller & Söhne Outdoor");
    assert_string_equal(ev->store.locale, "de-DE");
    assert_string_equal(ev->store.timezone, "Europe/Berlin");

    assert_string_equal(ev->order.id, "ord_5001");
    assert_string_equal(ev->order.number, "#5001");
    assert_string_equal(ev->order.currency, "EUR");
    assert_string_equal(ev->order.promised_delivery_date, "2026-11-28");
    assert_true(ev->order.has_total);
    assert_float_equal(ev->order.total, 148.98, 1e-9);

    assert_int_equal(ev->order.n_items, 3);
    assert_non_null(ev->order.items);
    assert_string_equal(ev->order.items[0].sku, "JKT-RAIN-M");
    assert_string_equal(ev->order.items[0].name, "Regenjacke „Nordwind“ 🧥");
    assert_string_equal(ev->order.items[0].category, "outerwear");
    assert_int_equal(ev->order.items[0].quantity, 1);
    assert_true(ev->order.items[0].has_price);
    assert_float_equal(ev->order.items[0].price, 129.0, 1e-9);
    assert_string_equal(ev->order.items[1].sku, "4711");
    assert_string_equal(ev->order.items[1].name, "Wollsocken 🧦 (2er)");
    assert_null(ev->order.items[1].category);
    assert_int_equal(ev->order.items[1].quantity, 2);
    assert_true(ev->order.items[1].has_price);
    assert_float_equal(ev->order.items[1].price, 9.99, 1e-9);
    assert_null(ev->order.items[2].sku);
    assert_string_equal(ev->order.items[2].name, "Geschenkkarte 🎁");
    assert_int_equal(ev->order.items[2].quantity, 1);
    assert_false(ev->order.items[2].has_price);

    assert_string_equal(ev->customer.id, "cus_77");
    assert_string_equal(ev->customer.email, "zoe.juergen@example.com");
    assert_string_equal(ev->customer.phone, "+4915112345678");
    assert_string_equal(ev->customer.first_name, "Zoë");
    assert_string_equal(ev->customer.locale, "de-AT");
    assert_string_equal(ev->customer.timezone, "Europe/Vienna");
    assert_int_equal(ev->customer.marketing_consent, 1);

    assert_null(ev->shipment.id);
    assert_null(ev->ret.id);
    assert_false(ev->ret.has_refund_amount);
    /* Read without a tree; the tree is built when asked for. */
    assert_null(ev->root);
    json_object *root = ac_event_root(ev);
    assert_non_null(root);
    assert_ptr_equal(ac_event_root(ev), root);
    json_object *v = NULL;
    assert_true(json_object_object_get_ex(root, "event_id", &v));
    assert_string_equal(json_object_get_string(v), ev->event_id);
    ac_event_destroy(ev);
}

static void test_minimal(void **state)
{
    (void)state;
    ac_event_t *ev = parse_ok(MINIMAL);
    assert_string_equal(ev->event_id, "e1");
    assert_string_equal(ev->order.id, "o1");
    assert_string_equal(ev->customer.id, "c1");
    assert_null(ev->store.id);
    assert_null(ev->store.name);
    assert_null(ev->order.number);
    assert_null(ev->order.currency);
    assert_false(ev->order.has_total);
    assert_int_equal(ev->order.n_items, 0);
    assert_null(ev->order.items);
    assert_null(ev->customer.email);
    assert_null(ev->customer.phone);
    assert_null(ev->customer.first_name);
    assert_int_equal(ev->customer.marketing_consent, 0);
    ac_event_destroy(ev);
}

static void test_missing_required_fields(void **state)
{
    (void)state;
    static const char *fields[] = {"event_id", "type", "occurred_at", "order.id", "customer.id"};
    for (int full = 0; full <= 1; full++) {
        for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
            /* Absent and null are both missing. */
            for (int as_null = 0; as_null <= 1; as_null++) {
                char *json = edited(full, fields[i], as_null ? "null" : NULL);
                const char *detail = parse_fails(json, AC_EVENT_ERR_MISSING_FIELD);
                assert_contains(detail, fields[i]);
                free(json);
            }
        }
    }
}

static void test_missing_parent_objects(void **state)
{
    (void)state;
    char *json = edited(0, "order", NULL);
    assert_contains(parse_fails(json, AC_EVENT_ERR_MISSING_FIELD), "order.id");
    free(json);
    json = edited(0, "customer", NULL);
    assert_contains(parse_fails(json, AC_EVENT_ERR_MISSING_FIELD), "customer.id");
    free(json);
    json = edited(0, "customer", "{}");
    assert_contains(parse_fails(json, AC_EVENT_ERR_MISSING_FIELD), "customer.id");
    free(json);
    /* docs/events.md: "order or customer not an object" is missing_field. */
    json = edited(0, "order", "\"o1\"");
    assert_contains(parse_fails(json, AC_EVENT_ERR_MISSING_FIELD), "order.id");
    free(json);
    json = edited(0, "customer", "[\"c1\"]");
    assert_contains(parse_fails(json, AC_EVENT_ERR_MISSING_FIELD), "customer.id");
    free(json);
}

static void test_wrong_types(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        const char *value;
    } cases[] = {
        {"event_id", "123"},
        {"event_id", "\"\""},
        {"event_id", "true"},
        {"event_id", "{\"a\":1}"},
        {"type", "7"},
        {"type", "[\"order.placed\"]"},
        {"type", "\"\""},
        {"occurred_at", "1764065700"},
        {"occurred_at", "\"yesterday\""},
        {"occurred_at", "\"2026-02-29T10:00:00Z\""},
        {"occurred_at", "\"2026-11-25T10:15:00\""},
        {"order.id", "1.5"},
        {"order.id", "\"\""},
        {"order.id", "true"},
        {"order.id", "{}"},
        {"order.id", "[\"o1\"]"},
        {"customer.id", "false"},
        {"customer.id", "\"\""},
        {"customer.id", "[]"},
        {"customer.id", "2.0"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *json = edited(0, cases[i].path, cases[i].value);
        const char *detail = parse_fails(json, AC_EVENT_ERR_INVALID_FIELD);
        assert_contains(detail, cases[i].path);
        free(json);
    }
}

static void test_invalid_json(void **state)
{
    (void)state;
    static const char *bad[] = {
        "{",          "}",    "{\"a\":}",    "{\"a\" 1}",
        "{\"a\":1,}", "nope", "{\"a\":tru}", "{\"a\":\"unterminated}",
        "[1,2",       "\"x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        parse_fails(bad[i], AC_EVENT_ERR_INVALID_JSON);
}

static void test_empty_record(void **state)
{
    (void)state;
    parse_fails_n("", 0, 0, AC_EVENT_ERR_INVALID_JSON);
    parse_fails_n(NULL, 0, 0, AC_EVENT_ERR_INVALID_JSON);
    parse_fails("   \n", AC_EVENT_ERR_INVALID_JSON);
}

static void test_truncated(void **state)
{
    (void)state;
    /* Every proper prefix of a valid record is refused as invalid JSON. */
    size_t len = strlen(ORDER_PLACED);
    while (len > 0 && strchr(" \n", ORDER_PLACED[len - 1]))
        len--;
    for (size_t cut = 1; cut < len; cut++) {
        ac_event_error_t err;
        ac_event_t *ev = ac_event_parse(ORDER_PLACED, cut, 0, &err);
        if (ev)
            fail_msg("a record cut to %zu of %zu bytes parsed", cut, len);
        /* A cut can split a multi-byte character; that is not UTF-8. */
        assert_true(err.code == AC_EVENT_ERR_INVALID_JSON || err.code == AC_EVENT_ERR_NOT_UTF8);
    }
}

static void test_trailing_garbage(void **state)
{
    (void)state;
    static const char *tails[] = {"x",  "}",       ",", "{}", " {}", "\n{\"event_id\":\"e2\"}",
                                  " 1", "\n\nnull"};
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        char json[512];
        snprintf(json, sizeof(json), "%s%s", MINIMAL, tails[i]);
        parse_fails(json, AC_EVENT_ERR_INVALID_JSON);
    }
    /* A NUL byte inside the record is data, not the end of it. */
    char withnul[sizeof(MINIMAL) + 4];
    memcpy(withnul, MINIMAL, sizeof(MINIMAL));
    memcpy(withnul + sizeof(MINIMAL), "x", 2);
    parse_fails_n(withnul, sizeof(MINIMAL) + 1, 0, AC_EVENT_ERR_INVALID_JSON);
}

static void test_surrounding_whitespace(void **state)
{
    (void)state;
    char json[512];
    snprintf(json, sizeof(json), "%s \n\t\r\n", MINIMAL);
    ac_event_destroy(parse_ok(json));
    snprintf(json, sizeof(json), " \n\t%s", MINIMAL);
    ac_event_destroy(parse_ok(json));
    ac_event_destroy(parse_ok(ORDER_PLACED)); /* ends in a newline */
}

static void test_not_an_object(void **state)
{
    (void)state;
    static const char *bad[] = {
        "[1,2]", "[]", "[{\"event_id\":\"e\"}]", "\"order.placed\"", "42 ", "-1.5 ", "true "};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        parse_fails(bad[i], AC_EVENT_ERR_NOT_OBJECT);

    ac_event_error_t err;
    assert_null(ac_event_from_json(NULL, &err));
    assert_int_equal(err.code, AC_EVENT_ERR_NOT_OBJECT);
    json_object *arr = json_object_new_array();
    assert_null(ac_event_from_json(arr, &err));
    assert_int_equal(err.code, AC_EVENT_ERR_NOT_OBJECT);
    json_object_put(arr);
}

/* Puts raw bytes into the first_name of the minimal record. */
static void check_utf8(const char *bytes, int valid)
{
    char json[512];
    int n = snprintf(json, sizeof(json),
                     "{\"event_id\":\"e1\",\"type\":\"order.placed\","
                     "\"occurred_at\":\"2026-11-25T10:15:00Z\",\"order\":{\"id\":\"o1\"},"
                     "\"customer\":{\"id\":\"c1\",\"first_name\":\"A%sB\"}}",
                     bytes);
    assert_true(n > 0 && (size_t)n < sizeof(json));
    if (valid) {
        ac_event_t *ev = parse_ok(json);
        char expect[32];
        snprintf(expect, sizeof(expect), "A%sB", bytes);
        assert_string_equal(ev->customer.first_name, expect);
        ac_event_destroy(ev);
    } else {
        parse_fails(json, AC_EVENT_ERR_NOT_UTF8);
    }
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    check_utf8("\x80", 0);             /* lone continuation byte */
    check_utf8("\xBF", 0);             /* lone continuation byte */
    check_utf8("\xC0\xAF", 0);         /* overlong '/' */
    check_utf8("\xC1\xBF", 0);         /* overlong */
    check_utf8("\xE0\x80\xAF", 0);     /* overlong, three bytes */
    check_utf8("\xF0\x80\x80\xAF", 0); /* overlong, four bytes */
    check_utf8("\xED\xA0\x80", 0);     /* UTF-16 surrogate U+D800 */
    check_utf8("\xED\xBF\xBF", 0);     /* UTF-16 surrogate U+DFFF */
    check_utf8("\xF4\x90\x80\x80", 0); /* above U+10FFFF */
    check_utf8("\xF5\x80\x80\x80", 0); /* 0xF5 never occurs */
    check_utf8("\xFE", 0);
    check_utf8("\xFF", 0);
    check_utf8("\xC3", 0);         /* two-byte lead, continuation missing */
    check_utf8("\xE2\x82", 0);     /* three-byte lead, one missing */
    check_utf8("\xF0\x9F\xA7", 0); /* four-byte lead, one missing */
    check_utf8("\xC3\x28", 0);     /* bad continuation */
    check_utf8("\xE2\x28\xA1", 0); /* bad continuation */
}

static void test_valid_utf8_edges(void **state)
{
    (void)state;
    check_utf8("\xC2\x80", 1);         /* U+0080 */
    check_utf8("\xDF\xBF", 1);         /* U+07FF */
    check_utf8("\xE0\xA0\x80", 1);     /* U+0800 */
    check_utf8("\xED\x9F\xBF", 1);     /* U+D7FF, just below the surrogates */
    check_utf8("\xEE\x80\x80", 1);     /* U+E000, just above them */
    check_utf8("\xEF\xBF\xBF", 1);     /* U+FFFF */
    check_utf8("\xF0\x90\x80\x80", 1); /* U+10000 */
    check_utf8("\xF4\x8F\xBF\xBF", 1); /* U+10FFFF, the last code point */
    check_utf8("Zoë Jürgen 🧥", 1);
}

static void test_invalid_utf8_outside_strings(void **state)
{
    (void)state;
    /* Bytes outside any string, e.g. in an unknown field's key. */
    char json[512];
    snprintf(json, sizeof(json), "{\"x\xC0\xAF\":1,%s", MINIMAL + 1);
    parse_fails(json, AC_EVENT_ERR_NOT_UTF8);
    snprintf(json, sizeof(json), "%s\xFF", MINIMAL);
    parse_fails(json, AC_EVENT_ERR_NOT_UTF8);
    /* A sequence cut short by the end of the record. */
    snprintf(json, sizeof(json), "%s\xE2\x82", MINIMAL);
    parse_fails(json, AC_EVENT_ERR_NOT_UTF8);
}

static void test_size_limit(void **state)
{
    (void)state;
    size_t len = strlen(MINIMAL);
    /* At the limit is accepted; one byte over is refused before parsing. */
    ac_event_error_t err;
    ac_event_t *ev = ac_event_parse(MINIMAL, len, len, &err);
    assert_non_null(ev);
    ac_event_destroy(ev);
    const char *detail = parse_fails_n(MINIMAL, len, len - 1, AC_EVENT_ERR_TOO_LARGE);
    char n[32];
    snprintf(n, sizeof(n), "%zu", len);
    assert_contains(detail, n);

    /* The size check comes first: an oversized record is too large even
     * when it is also not UTF-8. */
    parse_fails_n("\xFF\xFF\xFF\xFF", 4, 3, AC_EVENT_ERR_TOO_LARGE);

    /* 0 means the default of 1 MiB. */
    size_t big = AC_EVENT_MAX_BYTES_DEFAULT + 1;
    char *buf = malloc(big);
    assert_non_null(buf);
    memset(buf, ' ', big);
    memcpy(buf, MINIMAL, len);
    parse_fails_n(buf, big, 0, AC_EVENT_ERR_TOO_LARGE);
    /* Exactly 1 MiB (the record padded with whitespace) is accepted. */
    ev = ac_event_parse(buf, big - 1, 0, &err);
    assert_non_null(ev);
    ac_event_destroy(ev);
    free(buf);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    /* An attacker-controlled document nested far deeper than any event is
     * refused rather than exhausting the stack. */
    size_t depth = 10000;
    char *json = malloc(2 * depth + 64);
    assert_non_null(json);
    size_t n = 0;
    n += (size_t)sprintf(json, "{\"x\":");
    for (size_t i = 0; i < depth; i++)
        json[n++] = '[';
    for (size_t i = 0; i < depth; i++)
        json[n++] = ']';
    json[n++] = '}';
    parse_fails_n(json, n, 0, AC_EVENT_ERR_INVALID_JSON);
    free(json);
}

static void test_unknown_type(void **state)
{
    (void)state;
    char *json = edited(1, "type", "\"loyalty.points_earned\"");
    ac_event_t *ev = parse_ok(json);
    assert_int_equal(ev->type, AC_EVENT_UNKNOWN);
    assert_string_equal(ev->type_name, "loyalty.points_earned");
    assert_string_equal(ev->order.id, "ord_5001");
    ac_event_destroy(ev);
    free(json);

    /* Type names are exact: case and spacing matter. */
    json = edited(0, "type", "\"Order.Placed\"");
    ev = parse_ok(json);
    assert_int_equal(ev->type, AC_EVENT_UNKNOWN);
    assert_string_equal(ev->type_name, "Order.Placed");
    ac_event_destroy(ev);
    free(json);
}

static void test_unknown_fields_ignored(void **state)
{
    (void)state;
    char *json = edited(0, "order.gift_wrap", "{\"paper\":\"red\",\"n\":[1,2,{}]}");
    char *json2 = NULL;
    ac_event_t *ev = parse_ok(json);
    assert_string_equal(ev->order.id, "o1");
    ac_event_destroy(ev);
    json2 = edited(0, "customer.loyalty_tier", "\"gold\"");
    ev = parse_ok(json2);
    assert_string_equal(ev->customer.id, "c1");
    ac_event_destroy(ev);
    free(json);
    free(json2);
}

static void test_numeric_ids(void **state)
{
    (void)state;
    char *json = edited(0, "order.id", "5001");
    ac_event_t *ev = parse_ok(json);
    assert_string_equal(ev->order.id, "5001");
    ac_event_destroy(ev);
    free(json);

    json = edited(0, "customer.id", "7700123456789");
    ev = parse_ok(json);
    assert_string_equal(ev->customer.id, "7700123456789");
    ac_event_destroy(ev);
    free(json);

    json = edited(1, "order.number", "1042");
    ev = parse_ok(json);
    assert_string_equal(ev->order.number, "1042");
    ac_event_destroy(ev);
    free(json);
}

static void test_items(void **state)
{
    (void)state;
    char *json = edited(0, "order.items",
                        "[{\"name\":\"A\"},"
                        "\"not an item\","
                        "{\"name\":\"B\",\"quantity\":3,\"price\":\"19.50\"},"
                        "{\"name\":\"C\",\"price\":10},"
                        "{\"name\":\"D\",\"price\":\"free\"},"
                        "{\"name\":\"E\",\"price\":\"\"},"
                        "{\"name\":\"F\",\"price\":null,\"quantity\":\"2\"},"
                        "{\"sku\":\"X-1\"}]");
    ac_event_t *ev = parse_ok(json);
    /* Entries that are not objects are skipped. */
    assert_int_equal(ev->order.n_items, 7);
    const ac_event_item_t *it = ev->order.items;
    assert_string_equal(it[0].name, "A");
    assert_int_equal(it[0].quantity, 1);
    assert_false(it[0].has_price);
    assert_string_equal(it[1].name, "B");
    assert_int_equal(it[1].quantity, 3);
    assert_true(it[1].has_price);
    assert_float_equal(it[1].price, 19.5, 1e-9);
    assert_string_equal(it[2].name, "C");
    assert_true(it[2].has_price);
    assert_float_equal(it[2].price, 10.0, 1e-9);
    assert_false(it[3].has_price);
    assert_false(it[4].has_price);
    assert_false(it[5].has_price);
    assert_int_equal(it[5].quantity, 1);
    assert_null(it[6].name);
    assert_string_equal(it[6].sku, "X-1");
    ac_event_destroy(ev);
    free(json);

    json = edited(0, "order.items", "{\"name\":\"not a list\"}");
    ev = parse_ok(json);
    assert_int_equal(ev->order.n_items, 0);
    ac_event_destroy(ev);
    free(json);

    json = edited(0, "order.items", "[]");
    ev = parse_ok(json);
    assert_int_equal(ev->order.n_items, 0);
    ac_event_destroy(ev);
    free(json);
}

static void test_total(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        int has;
        double total;
    } cases[] = {{"148.98", 1, 148.98}, {"149", 1, 149.0},      {"\"148.98\"", 1, 148.98},
                 {"\"0\"", 1, 0.0},     {"\"12 EUR\"", 0, 0.0}, {"\"\"", 0, 0.0},
                 {"true", 0, 0.0},      {"null", 0, 0.0},       {"[148.98]", 0, 0.0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *json = edited(0, "order.total", cases[i].value);
        ac_event_t *ev = parse_ok(json);
        if (ev->order.has_total != cases[i].has)
            fail_msg("total %s: has_total %d", cases[i].value, ev->order.has_total);
        if (cases[i].has)
            assert_float_equal(ev->order.total, cases[i].total, 1e-9);
        ac_event_destroy(ev);
        free(json);
    }
}

static void test_marketing_consent(void **state)
{
    (void)state;
    static const struct {
        const char *value;
        int consent;
    } cases[] = {{"true", 1},    {"false", 0}, {"\"true\"", 0}, {"1", 0},
                 {"\"yes\"", 0}, {"null", 0},  {"{}", 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *json = edited(0, "customer.marketing_consent", cases[i].value);
        ac_event_t *ev = parse_ok(json);
        if (ev->customer.marketing_consent != cases[i].consent)
            fail_msg("marketing_consent %s read as %d", cases[i].value,
                     ev->customer.marketing_consent);
        ac_event_destroy(ev);
        free(json);
    }
}

static void test_optional_wrong_types_read_as_absent(void **state)
{
    (void)state;
    char *json = edited(1, "customer.email", "42");
    ac_event_t *ev = parse_ok(json);
    assert_null(ev->customer.email);
    ac_event_destroy(ev);
    free(json);

    json = edited(1, "store", "\"st_berlin\"");
    ev = parse_ok(json);
    assert_null(ev->store.id);
    assert_null(ev->store.name);
    ac_event_destroy(ev);
    free(json);

    json = edited(1, "customer.first_name", "[\"Zoë\"]");
    ev = parse_ok(json);
    assert_null(ev->customer.first_name);
    ac_event_destroy(ev);
    free(json);
}

static void test_shipment_and_return(void **state)
{
    (void)state;
    static const char shipment[] =
        "{\"event_id\":\"e9\",\"type\":\"shipment.delayed\",\"occurred_at\":\"2026-11-26\","
        "\"order\":{\"id\":\"o1\"},\"customer\":{\"id\":\"c1\"},"
        "\"shipment\":{\"id\":\"sh_1\",\"carrier\":\"DHL\",\"tracking_number\":123456789,"
        "\"tracking_url\":\"https://dhl.example/t/123456789\",\"status\":\"delayed\","
        "\"estimated_delivery\":\"2026-11-30\"},"
        "\"return\":{\"id\":\"r_1\",\"reason\":\"zu groß\",\"refund_amount\":\"49.90\"}}";
    ac_event_t *ev = parse_ok(shipment);
    assert_int_equal(ev->type, AC_EVENT_SHIPMENT_DELAYED);
    assert_string_equal(ev->shipment.id, "sh_1");
    assert_string_equal(ev->shipment.carrier, "DHL");
    assert_string_equal(ev->shipment.tracking_number, "123456789");
    assert_string_equal(ev->shipment.tracking_url, "https://dhl.example/t/123456789");
    assert_string_equal(ev->shipment.status, "delayed");
    assert_string_equal(ev->shipment.estimated_delivery, "2026-11-30");
    assert_string_equal(ev->ret.id, "r_1");
    assert_string_equal(ev->ret.reason, "zu groß");
    assert_true(ev->ret.has_refund_amount);
    assert_float_equal(ev->ret.refund_amount, 49.9, 1e-9);
    /* A bare date is midnight UTC. */
    assert_int_equal(ev->occurred_ms, 1795651200000LL);
    ac_event_destroy(ev);
}

static void test_from_json_takes_reference(void **state)
{
    (void)state;
    ac_event_error_t err;
    json_object *root = ac_event_parse_json(MINIMAL, strlen(MINIMAL), 0, &err);
    assert_non_null(root);
    ac_event_t *ev = ac_event_from_json(root, &err);
    assert_non_null(ev);
    /* The event keeps the document alive after the caller lets go. */
    json_object_put(root);
    assert_string_equal(ev->event_id, "e1");
    assert_string_equal(ev->customer.id, "c1");
    ac_event_destroy(ev);
    ac_event_destroy(NULL);
}

static void test_parse_json_checks_framing(void **state)
{
    (void)state;
    ac_event_error_t err;
    json_object *v = ac_event_parse_json("{\"a\":1}", 7, 0, &err);
    assert_non_null(v);
    assert_true(json_object_is_type(v, json_type_object));
    json_object_put(v);
    assert_null(ac_event_parse_json("[1,2,3]", 7, 0, &err));
    assert_int_equal(err.code, AC_EVENT_ERR_NOT_OBJECT);
    assert_null(ac_event_parse_json("[1,2,3] x", 9, 0, &err));
    assert_int_equal(err.code, AC_EVENT_ERR_INVALID_JSON);
    assert_null(ac_event_parse_json("[\"\xC0\xAF\"]", 6, 0, &err));
    assert_int_equal(err.code, AC_EVENT_ERR_NOT_UTF8);
    assert_null(ac_event_parse_json("[1]", 3, 2, &err));
    assert_int_equal(err.code, AC_EVENT_ERR_TOO_LARGE);
}

static void test_null_err_is_allowed(void **state)
{
    (void)state;
    assert_null(ac_event_parse("{", 1, 0, NULL));
    assert_null(ac_event_parse("{}", 2, 0, NULL));
    ac_event_t *ev = ac_event_parse(MINIMAL, strlen(MINIMAL), 0, NULL);
    assert_non_null(ev);
    ac_event_destroy(ev);
}

static void test_type_names(void **state)
{
    (void)state;
    static const char *names[] = {
        "order.placed",        "order.cancelled",           "shipment.shipped",
        "shipment.in_transit", "shipment.out_for_delivery", "shipment.delayed",
        "shipment.exception",  "shipment.delivered",        "return.requested",
        "return.received",     "return.refunded",           "feedback.received"};
    assert_int_equal(sizeof(names) / sizeof(names[0]), AC_EVENT__COUNT - 1);
    for (int t = 1; t < AC_EVENT__COUNT; t++) {
        assert_string_equal(ac_event_type_name((ac_event_type_t)t), names[t - 1]);
        assert_int_equal(ac_event_type_parse(names[t - 1]), t);
        assert_int_equal(ac_event_type_parse(ac_event_type_name((ac_event_type_t)t)), t);
    }
    assert_string_equal(ac_event_type_name(AC_EVENT_UNKNOWN), "unknown");
    assert_string_equal(ac_event_type_name(AC_EVENT__COUNT), "unknown");
    assert_int_equal(ac_event_type_parse("unknown"), AC_EVENT_UNKNOWN);
    assert_int_equal(ac_event_type_parse(NULL), AC_EVENT_UNKNOWN);
    assert_int_equal(ac_event_type_parse(""), AC_EVENT_UNKNOWN);
    assert_int_equal(ac_event_type_parse("order.placed "), AC_EVENT_UNKNOWN);
    assert_int_equal(ac_event_type_parse("ORDER.PLACED"), AC_EVENT_UNKNOWN);
    assert_int_equal(ac_event_type_parse("order"), AC_EVENT_UNKNOWN);
}

static void test_type_topics(void **state)
{
    (void)state;
    assert_string_equal(ac_event_type_topic(AC_EVENT_ORDER_PLACED), "orders");
    assert_string_equal(ac_event_type_topic(AC_EVENT_ORDER_CANCELLED), "orders");
    for (int t = AC_EVENT_SHIPMENT_SHIPPED; t <= AC_EVENT_SHIPMENT_DELIVERED; t++)
        assert_string_equal(ac_event_type_topic((ac_event_type_t)t), "shipments");
    assert_string_equal(ac_event_type_topic(AC_EVENT_RETURN_REQUESTED), "returns");
    assert_string_equal(ac_event_type_topic(AC_EVENT_RETURN_RECEIVED), "returns");
    assert_string_equal(ac_event_type_topic(AC_EVENT_RETURN_REFUNDED), "returns");
    assert_null(ac_event_type_topic(AC_EVENT_UNKNOWN));
    assert_null(ac_event_type_topic(AC_EVENT__COUNT));
    /* Feedback is about the order, and travels with it. */
    assert_string_equal(ac_event_type_topic(AC_EVENT_FEEDBACK_RECEIVED), "orders");
    /* Every other known type belongs to the topic its name starts with. */
    for (int t = 1; t < AC_EVENT__COUNT; t++) {
        const char *name = ac_event_type_name((ac_event_type_t)t);
        const char *topic = ac_event_type_topic((ac_event_type_t)t);
        assert_non_null(topic);
        if (t != AC_EVENT_FEEDBACK_RECEIVED)
            assert_memory_equal(name, topic, 4);
    }
}

static void test_err_names(void **state)
{
    (void)state;
    assert_string_equal(ac_event_err_name(AC_EVENT_OK), "ok");
    assert_string_equal(ac_event_err_name(AC_EVENT_ERR_TOO_LARGE), "too_large");
    assert_string_equal(ac_event_err_name(AC_EVENT_ERR_NOT_UTF8), "not_utf8");
    assert_string_equal(ac_event_err_name(AC_EVENT_ERR_INVALID_JSON), "invalid_json");
    assert_string_equal(ac_event_err_name(AC_EVENT_ERR_NOT_OBJECT), "not_object");
    assert_string_equal(ac_event_err_name(AC_EVENT_ERR_MISSING_FIELD), "missing_field");
    assert_string_equal(ac_event_err_name(AC_EVENT_ERR_INVALID_FIELD), "invalid_field");
}

/* A feedback.received record with the given feedback object (JSON text,
 * or NULL for none). */
static char *feedback_record(const char *feedback)
{
    char buf[512];
    snprintf(buf, sizeof(buf),
             "{\"event_id\":\"e_fb\",\"type\":\"feedback.received\","
             "\"occurred_at\":\"2026-12-02T09:00:00Z\",\"order\":{\"id\":\"o1\"},"
             "\"customer\":{\"id\":\"c1\"}%s%s}",
             feedback ? ",\"feedback\":" : "", feedback ? feedback : "");
    return strdup(buf);
}

static void test_feedback_received(void **state)
{
    (void)state;
    char *json = feedback_record("{\"rating\": 4, \"comment\": \"Passt perfekt 👍\\nDanke\"}");
    ac_event_t *ev = parse_ok(json);
    assert_int_equal(ev->type, AC_EVENT_FEEDBACK_RECEIVED);
    assert_string_equal(ev->type_name, "feedback.received");
    assert_string_equal(ac_event_type_topic(ev->type), "orders");
    assert_int_equal(ev->feedback.rating, 4);
    assert_string_equal(ev->feedback.comment, "Passt perfekt 👍\nDanke");
    ac_event_destroy(ev);
    free(json);
    /* Both ends of the scale; the comment is optional. */
    for (int rating = 1; rating <= 5; rating++) {
        char fb[64];
        snprintf(fb, sizeof(fb), "{\"rating\": %d}", rating);
        json = feedback_record(fb);
        ev = parse_ok(json);
        assert_int_equal(ev->feedback.rating, rating);
        assert_null(ev->feedback.comment);
        ac_event_destroy(ev);
        free(json);
    }
}

static void test_feedback_needs_rating(void **state)
{
    (void)state;
    /* A rating is what feedback.received is for: without one from 1 to 5
     * the record is refused, naming the field. */
    static const char *bad[] = {
        NULL,
        "{}",
        "{\"comment\": \"great\"}",
        "{\"rating\": 0}",
        "{\"rating\": 6}",
        "{\"rating\": -1}",
        "{\"rating\": 100}",
        "{\"rating\": \"5\"}",
        "{\"rating\": 4.5}",
        "{\"rating\": null}",
        "{\"rating\": true}",
        "{\"rating\": 9223372036854775807}",
        "\"5 stars\"",
        "[5]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *json = feedback_record(bad[i]);
        const char *detail = parse_fails(json, AC_EVENT_ERR_INVALID_FIELD);
        assert_contains(detail, "feedback.rating");
        free(json);
    }
}

static void test_feedback_fields_on_other_types(void **state)
{
    (void)state;
    /* Other types do not need a rating; one out of range reads as none. */
    char *json = edited(0, "feedback", "{\"rating\": 9, \"comment\": \"x\"}");
    ac_event_t *ev = parse_ok(json);
    assert_int_equal(ev->feedback.rating, 0);
    assert_string_equal(ev->feedback.comment, "x");
    ac_event_destroy(ev);
    free(json);
    ev = parse_ok(MINIMAL);
    assert_int_equal(ev->feedback.rating, 0);
    assert_null(ev->feedback.comment);
    ac_event_destroy(ev);
}

static void test_return_urls(void **state)
{
    (void)state;
    static const char record[] =
        "{\"event_id\":\"e_r\",\"type\":\"return.requested\",\"occurred_at\":\"2026-12-03\","
        "\"order\":{\"id\":\"o1\"},\"customer\":{\"id\":\"c1\"},"
        "\"return\":{\"id\":\"r_1\",\"reason\":\"too small\","
        "\"label_url\":\"https://shop.example/returns/r_1/label.pdf?sig=a%2Fb&x=1\","
        "\"instructions_url\":\"https://shop.example/help/returns#de\"}}";
    ac_event_t *ev = parse_ok(record);
    assert_string_equal(ev->ret.label_url,
                        "https://shop.example/returns/r_1/label.pdf?sig=a%2Fb&x=1");
    assert_string_equal(ev->ret.instructions_url, "https://shop.example/help/returns#de");
    ac_event_destroy(ev);
    /* Absent, or not a string: NULL. */
    ev = parse_ok(MINIMAL);
    assert_null(ev->ret.label_url);
    assert_null(ev->ret.instructions_url);
    ac_event_destroy(ev);
    char *json =
        edited(0, "return", "{\"id\": \"r_1\", \"label_url\": 42, \"instructions_url\": null}");
    ev = parse_ok(json);
    assert_string_equal(ev->ret.id, "r_1");
    assert_null(ev->ret.label_url);
    assert_null(ev->ret.instructions_url);
    ac_event_destroy(ev);
    free(json);
}

static void test_has_marketing_consent(void **state)
{
    (void)state;
    /* has_marketing_consent tells "said no" from "did not say". */
    static const struct {
        const char *value; /* NULL: the field is left out */
        int has, consent;
    } cases[] = {{"true", 1, 1}, {"false", 1, 0},    {NULL, 0, 0},
                 {"null", 0, 0}, {"\"true\"", 0, 0}, {"1", 0, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *json = edited(0, "customer.marketing_consent", cases[i].value);
        ac_event_t *ev = parse_ok(json);
        if (ev->customer.has_marketing_consent != cases[i].has ||
            ev->customer.marketing_consent != cases[i].consent)
            fail_msg("marketing_consent %s: has %d, consent %d",
                     cases[i].value ? cases[i].value : "absent", ev->customer.has_marketing_consent,
                     ev->customer.marketing_consent);
        ac_event_destroy(ev);
        free(json);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_order_placed),
        cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_missing_required_fields),
        cmocka_unit_test(test_missing_parent_objects),
        cmocka_unit_test(test_wrong_types),
        cmocka_unit_test(test_invalid_json),
        cmocka_unit_test(test_empty_record),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_surrounding_whitespace),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_valid_utf8_edges),
        cmocka_unit_test(test_invalid_utf8_outside_strings),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_unknown_type),
        cmocka_unit_test(test_unknown_fields_ignored),
        cmocka_unit_test(test_numeric_ids),
        cmocka_unit_test(test_items),
        cmocka_unit_test(test_total),
        cmocka_unit_test(test_marketing_consent),
        cmocka_unit_test(test_optional_wrong_types_read_as_absent),
        cmocka_unit_test(test_shipment_and_return),
        cmocka_unit_test(test_from_json_takes_reference),
        cmocka_unit_test(test_parse_json_checks_framing),
        cmocka_unit_test(test_null_err_is_allowed),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_type_topics),
        cmocka_unit_test(test_err_names),
        cmocka_unit_test(test_feedback_received),
        cmocka_unit_test(test_feedback_needs_rating),
        cmocka_unit_test(test_feedback_fields_on_other_types),
        cmocka_unit_test(test_return_urls),
        cmocka_unit_test(test_has_marketing_consent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
