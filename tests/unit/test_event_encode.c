/* Unit tests for common/event_encode.c: the trimmed form of an event reads
 * back as the same ac_event_t, and is no larger than what it came from. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

static ac_event_t *parse(const char *json, size_t len)
{
    ac_event_error_t err;
    ac_event_t *ev = ac_event_parse(json, len, 0, &err);
    if (!ev)
        fail_msg("does not parse (%s): %.*s", err.detail, (int)len, json);
    return ev;
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Fails naming the first field in which a and b differ. */
static void assert_same_event(const ac_event_t *a, const ac_event_t *b)
{
#define SAME_STR(f)                                                                                \
    do {                                                                                           \
        if (!same_str(a->f, b->f))                                                                 \
            fail_msg("%s differs: \"%s\" / \"%s\"", #f, a->f ? a->f : "(null)",                    \
                     b->f ? b->f : "(null)");                                                      \
    } while (0)
#define SAME_NUM(f)                                                                                \
    do {                                                                                           \
        if (a->f != b->f)                                                                          \
            fail_msg("%s differs", #f);                                                            \
    } while (0)
    SAME_STR(event_id);
    SAME_NUM(type);
    SAME_STR(type_name);
    SAME_STR(occurred_at);
    SAME_NUM(occurred_ms);
    SAME_STR(store.id);
    SAME_STR(store.name);
    SAME_STR(store.locale);
    SAME_STR(store.timezone);
    SAME_STR(order.id);
    SAME_STR(order.number);
    SAME_STR(order.currency);
    SAME_STR(order.promised_delivery_date);
    SAME_NUM(order.has_total);
    SAME_NUM(order.total);
    SAME_NUM(order.n_items);
    for (size_t i = 0; i < a->order.n_items; i++) {
        SAME_STR(order.items[i].sku);
        SAME_STR(order.items[i].name);
        SAME_STR(order.items[i].category);
        SAME_NUM(order.items[i].quantity);
        SAME_NUM(order.items[i].has_price);
        SAME_NUM(order.items[i].price);
    }
    SAME_STR(customer.id);
    SAME_STR(customer.email);
    SAME_STR(customer.phone);
    SAME_STR(customer.first_name);
    SAME_STR(customer.locale);
    SAME_STR(customer.timezone);
    SAME_NUM(customer.marketing_consent);
    SAME_NUM(customer.has_marketing_consent);
    SAME_STR(shipment.id);
    SAME_STR(shipment.carrier);
    SAME_STR(shipment.tracking_number);
    SAME_STR(shipment.tracking_url);
    SAME_STR(shipment.status);
    SAME_STR(shipment.estimated_delivery);
    SAME_STR(ret.id);
    SAME_STR(ret.reason);
    SAME_STR(ret.label_url);
    SAME_STR(ret.instructions_url);
    SAME_NUM(ret.has_refund_amount);
    SAME_NUM(ret.refund_amount);
    SAME_NUM(feedback.rating);
    SAME_STR(feedback.comment);
#undef SAME_STR
#undef SAME_NUM
}

/* Parses json, encodes it, parses that and compares; returns the encoded
 * form (to free) and its length. */
static char *roundtrip(const char *json, size_t len, size_t *out_len)
{
    ac_event_t *ev = parse(json, len);
    size_t n = 0;
    char *enc = ac_event_encode(ev, &n);
    assert_non_null(enc);
    assert_int_equal(strlen(enc), n);
    ac_event_t *back = parse(enc, n);
    assert_same_event(ev, back);
    ac_event_destroy(back);
    ac_event_destroy(ev);
    *out_len = n;
    return enc;
}

/* Every line of the sample that the contract accepts comes back the same,
 * and never larger: fields the contract does not know go and decimal
 * strings become numbers. A line holding only the contract's fields, its
 * money already numbers, cannot shrink; the sample as a whole does. */
static void test_sample_events(void **state)
{
    (void)state;
    FILE *f = fopen(AC_SAMPLE_EVENTS, "r");
    assert_non_null(f);
    char *line = NULL;
    size_t cap = 0, valid = 0, in = 0, out = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        ac_event_error_t err;
        ac_event_t *ev = ac_event_parse(line, (size_t)len, 0, &err);
        if (!ev)
            continue; /* the sample's malformed lines */
        ac_event_destroy(ev);
        size_t n;
        char *enc = roundtrip(line, (size_t)len, &n);
        if (n > (size_t)len)
            fail_msg("encoded %zu bytes from %zd: %s", n, len, enc);
        in += (size_t)len;
        out += n;
        valid++;
        free(enc);
    }
    free(line);
    fclose(f);
    assert_true(valid >= 20);
    assert_true(out < in);
}

/* The smallest event: only what is required, nothing invented. */
static void test_minimal(void **state)
{
    (void)state;
    static const char json[] = "{ \"event_id\": \"e1\", \"type\": \"order.placed\", "
                               "\"occurred_at\": \"2026-11-25T10:15:00Z\", "
                               "\"order\": {\"id\": \"o1\", \"items\": []}, "
                               "\"customer\": {\"id\": \"c1\"}, \"store\": {}}";
    size_t n;
    char *enc = roundtrip(json, strlen(json), &n);
    assert_string_equal(enc, "{\"event_id\":\"e1\",\"type\":\"order.placed\","
                             "\"occurred_at\":\"2026-11-25T10:15:00Z\",\"order\":{\"id\":\"o1\"},"
                             "\"customer\":{\"id\":\"c1\"}}");
    free(enc);
}

/* Quotes, backslashes and control characters are escaped, UTF-8 is kept
 * as it is, numeric ids stay numbers of the same text, and an unknown type
 * keeps its name. */
static void test_escaping_and_ids(void **state)
{
    (void)state;
    static const char json[] =
        "{\"event_id\":\"e\\\"1\\\\\",\"type\":\"order.shipped_by_drone\","
        "\"occurred_at\":\"2026-11-25T10:15:00+01:00\","
        "\"store\":{\"id\":4711,\"name\":\"Müller & Söhne \\u00e9 🧥\"},"
        "\"order\":{\"id\":5600010422283,\"number\":10422,"
        "\"items\":[{\"sku\":40027,\"name\":\"tab\\there\\nnew \\u0001 \\u001f\"}, 7]},"
        "\"customer\":{\"id\":-12,\"first_name\":\"Zoë\\/\",\"marketing_consent\":false}}";
    size_t n;
    char *enc = roundtrip(json, strlen(json), &n);
    assert_non_null(strstr(enc, "\"event_id\":\"e\\\"1\\\\\""));
    assert_non_null(strstr(enc, "\"type\":\"order.shipped_by_drone\""));
    assert_non_null(strstr(enc, "\"name\":\"Müller & Söhne é 🧥\""));
    assert_non_null(strstr(enc, "\"id\":4711"));
    assert_non_null(strstr(enc, "\"id\":5600010422283,\"number\":10422"));
    assert_non_null(strstr(enc, "\"sku\":40027"));
    assert_non_null(strstr(enc, "tab\\u0009here\\u000anew \\u0001 \\u001f"));
    assert_non_null(strstr(enc, "\"id\":-12"));
    assert_non_null(strstr(enc, "\"first_name\":\"Zoë/\""));
    assert_non_null(strstr(enc, "\"marketing_consent\":false"));
    /* The array's non-object element was never an item. */
    assert_non_null(strstr(enc, "\"items\":[{\"sku\":40027"));
    assert_null(strstr(enc, ",7]"));
    free(enc);
}

/* Money and quantities read back equal, in the fewest digits that do. */
static void test_numbers(void **state)
{
    (void)state;
    static const char json[] =
        "{\"event_id\":\"e1\",\"type\":\"return.refunded\",\"occurred_at\":\"2026-11-25T10:15:"
        "00Z\","
        "\"order\":{\"id\":\"o1\",\"total\":\"129.90\",\"items\":["
        "{\"price\":0.1},{\"price\":1e15,\"quantity\":3},{\"price\":\"0.30000000000000004\"},"
        "{\"price\":-0.0000001},{\"price\":123456789.12345678},{\"quantity\":0}]},"
        "\"customer\":{\"id\":\"c1\"},\"return\":{\"refund_amount\":14.0},"
        "\"feedback\":{\"rating\":2,\"comment\":\"late\"}}";
    size_t n;
    char *enc = roundtrip(json, strlen(json), &n);
    assert_non_null(strstr(enc, "\"total\":129.9,"));
    assert_non_null(strstr(enc, "{\"quantity\":1,\"price\":0.1}"));
    assert_non_null(strstr(enc, "{\"quantity\":3,\"price\":1e+15}"));
    assert_non_null(strstr(enc, "\"price\":0.30000000000000004}"));
    assert_non_null(strstr(enc, "\"return\":{\"refund_amount\":14}"));
    assert_non_null(strstr(enc, "\"feedback\":{\"rating\":2,\"comment\":\"late\"}"));
    free(enc);
}

/* A shipment and a return whose only field is not a string id: each
 * object is written when anything of it is given. */
static void test_shipment_and_return(void **state)
{
    (void)state;
    static const char json[] =
        "{\"event_id\":\"e1\",\"type\":\"shipment.delayed\",\"occurred_at\":\"2026-11-25T10:15:"
        "00Z\","
        "\"order\":{\"id\":\"o1\",\"promised_delivery_date\":\"2026-11-28\"},"
        "\"customer\":{\"id\":\"c1\",\"email\":\"a@example.com\",\"phone\":\"+491\","
        "\"locale\":\"de-DE\",\"timezone\":\"Europe/Berlin\",\"marketing_consent\":true},"
        "\"shipment\":{\"tracking_number\":123456789012,\"estimated_delivery\":\"2026-11-30\","
        "\"carrier\":\"DHL\",\"status\":\"delayed\",\"tracking_url\":\"https://t/1\",\"id\":9},"
        "\"return\":{\"instructions_url\":\"https://r/1\",\"label_url\":\"https://l/1\","
        "\"reason\":\"does_not_fit\",\"id\":\"r1\"}}";
    size_t n;
    char *enc = roundtrip(json, strlen(json), &n);
    assert_non_null(strstr(enc, "\"tracking_number\":123456789012"));
    free(enc);
}

/* Ids that a JSON number would not read back as the same text stay
 * strings; digit strings that it would become numbers. */
static void test_id_forms(void **state)
{
    (void)state;
    static const char json[] =
        "{\"event_id\":\"e1\",\"type\":\"order.placed\",\"occurred_at\":\"2026-11-25T10:15:00Z\","
        "\"store\":{\"id\":\"007\"},\"order\":{\"id\":\"-0\",\"number\":\"12345678901234567890\","
        "\"items\":[{\"sku\":\"+5\"},{\"sku\":\"1.5\"},{\"sku\":\"0\"},{\"sku\":"
        "\"123456789012345678\"},"
        "{\"sku\":\"1234567890123456789\"},{\"sku\":\" 1\"}]},"
        "\"customer\":{\"id\":\"42\"}}";
    size_t n;
    char *enc = roundtrip(json, strlen(json), &n);
    assert_non_null(strstr(enc, "\"store\":{\"id\":\"007\"}"));
    assert_non_null(strstr(enc, "\"id\":\"-0\",\"number\":\"12345678901234567890\""));
    assert_non_null(strstr(enc, "{\"sku\":\"+5\",\"quantity\":1},{\"sku\":\"1.5\",\"quantity\":1},"
                                "{\"sku\":0,\"quantity\":1},{\"sku\":123456789012345678,"
                                "\"quantity\":1},{\"sku\":\"1234567890123456789\",\"quantity\":1},"
                                "{\"sku\":\" 1\",\"quantity\":1}"));
    assert_non_null(strstr(enc, "\"customer\":{\"id\":42}"));
    free(enc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_events),       cmocka_unit_test(test_minimal),
        cmocka_unit_test(test_escaping_and_ids),    cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_shipment_and_return), cmocka_unit_test(test_id_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
