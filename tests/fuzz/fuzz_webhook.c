/* Fuzz target: a store platform's webhook, as the ingest gateway maps it
 * into canonical events (common/shopify.c, woocommerce.c, bigcommerce.c).
 *
 * The first byte picks the platform and topic by its low four bits:
 *    0 .. 9   Shopify: orders/create, orders/paid, orders/cancelled,
 *             orders/updated, fulfillments/create, fulfillments/update,
 *             fulfillment_events/create, refunds/create, returns/request,
 *             returns/close
 *   10, 11    WooCommerce: order.created, order.updated
 *   12        BigCommerce webhook: ac_bigc_order_of()
 *   13        BigCommerce fetched order: the rest is the order, its
 *             products and its shipments, NUL-separated (an empty part is
 *             an API answer that is missing), each read as strictly as a
 *             webhook body
 *   14        WooCommerce: order.restored
 *   15        Shopify: orders/delete, a topic aftercare does not use
 * and by its high bits what the gateway knows of the delivery: 0x10 no
 * store (in->store NULL), 0x20 X-Shopify-Triggered-At and an event id,
 * 0x40 a store id of the longest length the settings allow (200 bytes).
 *
 * The rest is the body, read as the gateway reads it (ac_event_parse_json:
 * strict JSON, UTF-8). Every event a mapper produces is, after
 * ac_canon_complete() with a fixed complete context when
 * ac_canon_needs_context() says so, written as the gateway writes it to
 * Kafka and must pass ac_event_parse() (the workers' validator) and keep
 * the contract of docs/events.md; its event id must be derived (evt_ and
 * 32 hex digits) and the same when the webhook is mapped again, and it
 * must belong to the store the webhook was for. ac_woo_is_ping() runs on
 * the raw body too: a ping is never a JSON object. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "bigcommerce.h"
#include "canon.h"
#include "event.h"
#include "fuzz_common.h"
#include "shopify.h"
#include "woocommerce.h"

enum platform { SHOPIFY, WOO, BIGC_WEBHOOK, BIGC_ORDER };

static const struct {
    enum platform platform;
    const char *topic;
} MODES[16] = {
    {SHOPIFY, "orders/create"},
    {SHOPIFY, "orders/paid"},
    {SHOPIFY, "orders/cancelled"},
    {SHOPIFY, "orders/updated"},
    {SHOPIFY, "fulfillments/create"},
    {SHOPIFY, "fulfillments/update"},
    {SHOPIFY, "fulfillment_events/create"},
    {SHOPIFY, "refunds/create"},
    {SHOPIFY, "returns/request"},
    {SHOPIFY, "returns/close"},
    {WOO, "order.created"},
    {WOO, "order.updated"},
    {BIGC_WEBHOOK, ""},
    {BIGC_ORDER, ""},
    {WOO, "order.restored"},
    {SHOPIFY, "orders/delete"},
};

#define FLAG_NO_STORE  0x10
#define FLAG_TRIGGERED 0x20
#define FLAG_LONG_ID   0x40

/* What the gateway knows of an order when a thin event arrives: what
 * ac_canon_context() keeps of a complete event, and a remembered
 * shipment. */
static const char CONTEXT[] =
    "{\"store\":{\"id\":\"st_ctx\",\"name\":\"Bergladen\",\"locale\":\"de-DE\"},"
    "\"order\":{\"id\":\"ord_ctx\",\"number\":\"#1001\",\"total\":\"129.80\",\"currency\":\"EUR\","
    "\"items\":[{\"sku\":\"SKU-1\",\"name\":\"Wollsocken\",\"quantity\":2,\"price\":\"12.90\"}]},"
    "\"customer\":{\"id\":\"c_ctx\",\"email\":\"zoe@example.com\",\"first_name\":\"Zoë\","
    "\"marketing_consent\":true},"
    "\"shipments\":{\"4100000001\":{\"carrier\":\"DHL\",\"tracking_number\":\"00340434\","
    "\"tracking_url\":\"https://track.example/00340434\"}}}";

/* The events one mapping produced: the batch, its result, and what the
 * gateway would produce of it. */
typedef struct mapped {
    ac_canon_rc_t rc;
    ac_canon_batch_t b;
    char err[256];
} mapped_t;

/* One API answer of a fetched BigCommerce order (an object or an array),
 * read strictly like a webhook body: JSON, UTF-8, nothing after it. */
static json_object *parse_part(const char *p, size_t len)
{
    if (len == 0 || !fuzz_utf8_valid(p, len))
        return NULL;
    json_tokener *tok = json_tokener_new();
    if (!tok)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, p, (int)len);
    size_t end = json_tokener_get_parse_end(tok);
    if (!o && json_tokener_get_error(tok) == json_tokener_continue) {
        o = json_tokener_parse_ex(tok, " ", 1);
        end = len;
    }
    while (end < len && p[end] && strchr(" \t\r\n", p[end]))
        end++;
    if (json_tokener_get_error(tok) != json_tokener_success || end != len) {
        json_object_put(o);
        o = NULL;
    }
    json_tokener_free(tok);
    return o;
}

/* Maps the body as mode says into m. */
static void map(int mode, const ac_canon_in_t *in, const char *body, size_t len, mapped_t *m)
{
    ac_event_error_t e;
    memset(m, 0, sizeof(*m));
    ac_canon_batch_init(&m->b);
    m->rc = AC_CANON_IGNORED;
    if (MODES[mode].platform == BIGC_ORDER) {
        /* order \0 products \0 shipments */
        const char *parts[3] = {NULL, NULL, NULL};
        size_t lens[3] = {0, 0, 0};
        const char *p = body, *end = body + len;
        for (int i = 0; i < 3 && p <= end; i++) {
            const char *nul = i < 2 ? memchr(p, '\0', (size_t)(end - p)) : NULL;
            parts[i] = p;
            lens[i] = (size_t)((nul ? nul : end) - p);
            if (!nul)
                break;
            p = nul + 1;
        }
        json_object *order = parts[0] ? parse_part(parts[0], lens[0]) : NULL;
        json_object *products = parts[1] ? parse_part(parts[1], lens[1]) : NULL;
        json_object *shipments = parts[2] ? parse_part(parts[2], lens[2]) : NULL;
        ac_canon_in_t bin = *in;
        bin.body = NULL; /* as ingest_bg.c calls it */
        m->rc = ac_bigc_map(&bin, order, products, shipments, &m->b, m->err, sizeof(m->err));
        FUZZ_CHECK(m->rc == AC_CANON_OK || m->rc == AC_CANON_INVALID, "ac_bigc_map returned %d",
                   m->rc);
        json_object_put(order);
        json_object_put(products);
        json_object_put(shipments);
        return;
    }

    json_object *root = ac_event_parse_json(body, len, 0, &e);
    if (!root)
        return; /* the gateway answers 400 before any mapping */
    ac_canon_in_t win = *in;
    win.body = root;
    switch (MODES[mode].platform) {
    case SHOPIFY:
        m->rc = ac_shopify_map(&win, &m->b, m->err, sizeof(m->err));
        break;
    case WOO:
        m->rc = ac_woo_map(&win, &m->b, m->err, sizeof(m->err));
        break;
    case BIGC_WEBHOOK: {
        char order_id[128] = "", err[256] = "";
        ac_canon_rc_t rc = ac_bigc_order_of(root, order_id, sizeof(order_id), err, sizeof(err));
        if (rc == AC_CANON_OK)
            FUZZ_CHECK(order_id[0] && strlen(order_id) < sizeof(order_id),
                       "order id to fetch \"%.60s\"", order_id);
        else if (rc == AC_CANON_INVALID)
            FUZZ_CHECK(err[0], "an invalid BigCommerce webhook without a reason");
        else
            FUZZ_CHECK(rc == AC_CANON_IGNORED, "ac_bigc_order_of returned %d", rc);
        m->rc = AC_CANON_IGNORED;
        break;
    }
    default:
        break;
    }
    json_object_put(root);
}

static int is_event_id(const char *s)
{
    if (!s || strncmp(s, "evt_", 4) != 0 || strlen(s) != 36)
        return 0;
    for (size_t i = 4; i < 36; i++)
        if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
            return 0;
    return 1;
}

/* An event as the workers will read it from Kafka. */
static void check_event(json_object *ev, const ac_canon_in_t *in, json_object *ctx)
{
    FUZZ_CHECK(json_object_is_type(ev, json_type_object), "an event is not an object");
    const char *type = ac_canon_str(ev, "type");
    FUZZ_CHECK(ac_event_type_parse(type) != AC_EVENT_UNKNOWN, "event type %.40s",
               type ? type : "(none)");
    FUZZ_CHECK(ac_canon_topic(type) != NULL, "type %s has no topic", type);
    FUZZ_CHECK(is_event_id(ac_canon_str(ev, "event_id")), "event id %.60s",
               ac_canon_str(ev, "event_id") ? ac_canon_str(ev, "event_id") : "(none)");
    char sid[256];
    const char *store = ac_canon_id_of(ac_canon_obj(ev, "store"), "id", sid, sizeof(sid));
    if (in->store)
        FUZZ_CHECK(store && strcmp(store, in->store->id) == 0, "the event names store %.40s",
                   store ? store : "(none)");
    else
        FUZZ_CHECK(!store, "a store-less webhook gave store %.40s", store);

    if (ac_canon_needs_context(ev)) {
        FUZZ_CHECK(ac_canon_complete(ev, ctx) == 0, "the complete context did not complete it");
        FUZZ_CHECK(!ac_canon_needs_context(ev), "a completed event still needs context");
    } else {
        /* What the gateway remembers of it must complete a thin one. */
        json_object *c = ac_canon_context(ev);
        FUZZ_CHECK(c != NULL, "a complete event gives no context");
        json_object *thin = json_object_new_object();
        ac_canon_set_str(ac_canon_section(thin, "order"), "id", "ord_thin");
        FUZZ_CHECK(ac_canon_complete(thin, c) == 0 && !ac_canon_needs_context(thin),
                   "an event's context does not complete a thin event");
        json_object_put(thin);
        json_object_put(c);
    }

    /* As ingest.c produces it, as the workers read it. */
    const char *text = json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN);
    FUZZ_CHECK(text != NULL, "the event does not serialize");
    ac_event_error_t err;
    memset(&err, 0, sizeof(err));
    ac_event_t *parsed = ac_event_parse(text, strlen(text), 0, &err);
    FUZZ_CHECK(parsed != NULL, "the workers refuse a mapped event (%s: %s): %.600s",
               ac_event_err_name(err.code), err.detail, text);
    fuzz_check_event(parsed);
    FUZZ_CHECK(parsed->type != AC_EVENT_FEEDBACK_RECEIVED, "a platform webhook gave feedback");
    ac_event_destroy(parsed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int mode = data[0] & 0x0F;
    char long_id[AC_EVENT_MAX_ID_LEN + 1];
    memset(long_id, 's', AC_EVENT_MAX_ID_LEN);
    long_id[AC_EVENT_MAX_ID_LEN] = '\0';
    const ac_canon_store_t store = {(data[0] & FLAG_LONG_ID) ? long_id : "st_fuzz",
                                    "Bergladen & Söhne", "de-DE", "Europe/Berlin"};
    const char *platform = MODES[mode].platform == SHOPIFY ? "shopify"
                           : MODES[mode].platform == WOO   ? "woocommerce"
                                                           : "bigcommerce";
    int triggered = (data[0] & FLAG_TRIGGERED) != 0;
    ac_canon_in_t in = {platform,
                        MODES[mode].topic,
                        triggered ? "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043" : NULL,
                        triggered ? "2024-11-04T09:01:28.098Z" : NULL,
                        (data[0] & FLAG_NO_STORE) ? NULL : &store,
                        NULL};

    /* The body exactly as long as it is. */
    char *body = fuzz_memdup(data + 1, size - 1);
    size_t len = size - 1;

    if (ac_woo_is_ping(body, len)) {
        ac_event_error_t e;
        json_object *o = ac_event_parse_json(body, len, 0, &e);
        FUZZ_CHECK(!o || !json_object_is_type(o, json_type_object), "a ping that is JSON");
        json_object_put(o);
    }

    mapped_t m, again;
    map(mode, &in, body, len, &m);
    FUZZ_CHECK(m.rc == AC_CANON_OK || m.rc == AC_CANON_IGNORED || m.rc == AC_CANON_INVALID,
               "mapper returned %d", m.rc);
    FUZZ_CHECK(m.b.n <= AC_CANON_MAX_EVENTS, "%zu events", m.b.n);
    if (m.rc == AC_CANON_INVALID)
        FUZZ_CHECK(m.err[0], "invalid without a reason");
    if (m.rc == AC_CANON_IGNORED)
        FUZZ_CHECK(m.b.n == 0 && !m.b.remember, "an ignored webhook gave %zu events", m.b.n);
    if (m.rc == AC_CANON_INVALID && MODES[mode].platform != SHOPIFY)
        FUZZ_CHECK(m.b.n == 0, "all or nothing: an invalid order left %zu events", m.b.n);
    if (mode == 15)
        FUZZ_CHECK(m.rc == AC_CANON_IGNORED, "an unused Shopify topic was not ignored");
    if (m.b.remember)
        FUZZ_CHECK(json_object_is_type(m.b.remember, json_type_object),
                   "what to remember is not an object");

    if (m.rc == AC_CANON_OK) {
        /* A re-delivery gives the same events, with the same ids. */
        map(mode, &in, body, len, &again);
        FUZZ_CHECK(again.rc == m.rc && again.b.n == m.b.n, "mapping again gave %d/%zu, not %d/%zu",
                   again.rc, again.b.n, m.rc, m.b.n);
        for (size_t i = 0; i < m.b.n; i++) {
            const char *a = ac_canon_str(m.b.ev[i], "event_id");
            const char *b = ac_canon_str(again.b.ev[i], "event_id");
            FUZZ_CHECK(a && b && strcmp(a, b) == 0, "event %zu has id %s, then %s", i,
                       a ? a : "(none)", b ? b : "(none)");
        }
        ac_canon_batch_clear(&again.b);

        json_object *ctx = json_tokener_parse(CONTEXT);
        FUZZ_CHECK(ctx != NULL, "the fixed context does not parse");
        for (size_t i = 0; i < m.b.n; i++)
            check_event(m.b.ev[i], &in, ctx);
        json_object_put(ctx);
    }
    ac_canon_batch_clear(&m.b);
    free(body);
    return 0;
}
