/* ac-bench-webhooks: a load generator for the ingest gateway. N
 * connections, each in its own thread with HTTP/1.1 keep-alive over a
 * plain socket, POST Shopify orders/create webhooks (about 10 KB, the shape
 * of Shopify's documented order webhook) signed with the store's secret,
 * one request at a time per connection, for a number of seconds or a total
 * count; then the rate and the latency percentiles are printed.
 *
 *   ac-bench-webhooks --port P --secret S [--host 127.0.0.1]
 *                     [--path /webhooks/shopify] [--shop-domain D]
 *                     [--connections 64] [--seconds 10 | --count N]
 *                     [--warmup S] [--payloads 1000] [--first-id N]
 *                     [--timeout-ms 10000] [--label webhooks]
 *   ac-bench-webhooks --dump K [--first-id N] [--payloads N]
 *
 * The payloads (distinct customers, addresses and line items) and their
 * requests are built before the clock starts. Every request carries its own
 * order id (--first-id plus a sequence number, 13 digits: Shopify's ids are
 * 64-bit integers) and its own X-Shopify-Event-Id, patched in place into a
 * copy of a prebuilt request; only the HMAC of the body (HMAC-SHA256,
 * base64) is computed per request, as the order id is part of what is
 * signed. The client's own CPU time is reported beside the figures.
 *
 * Output: a markdown header and row
 *   | label | conns | requests | ok | non-200 | webhooks/s | p50 ms | p99 ms | max ms |
 * and one JSON line (starting with '{') with every figure, for the runner.
 * Latency is from the first byte written to the last byte of the answer
 * read, per request (a closed loop: at saturation it includes the wait in
 * the server's queue). */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define PROG           "ac-bench-webhooks"
#define ID_DIGITS      13
#define UUID_LEN       36
#define SIG_LEN        44 /* base64 of 32 bytes */
#define MAX_STATUS     600
#define RESP_BUF       65536
#define DEFAULT_PATH   "/webhooks/shopify"
#define DEFAULT_DOMAIN "bench.myshopify.com"

/* ------------------------------------------------------------ options */

struct options {
    const char *host, *path, *secret, *domain, *label, *topic;
    int port, connections, payloads, timeout_ms, dump;
    double seconds, warmup;
    long long count;
    uint64_t first_id;
};

static struct options opt = {
    .host = "127.0.0.1",
    .path = DEFAULT_PATH,
    .domain = DEFAULT_DOMAIN,
    .label = "webhooks",
    .topic = "orders/create",
    .connections = 64,
    .payloads = 1000,
    .timeout_ms = 10000,
    .dump = -1,
    .seconds = 10,
    .first_id = 5600010431060ULL,
};

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

/* ------------------------------------------------------ string builder */

struct sb {
    char *s;
    size_t len, cap;
};

static void sb_reserve(struct sb *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s)
        die("out of memory");
    b->s = s;
    b->cap = cap;
}

static void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        die("vsnprintf failed");
    sb_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* ------------------------------------------------------------ payloads */

/* A deterministic generator, so that every run sends the same orders. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

static const char *const first_names[] = {
    "Jon",   "Lena",  "Amelia", "Noah",  "Sofia", "Lukas", "Olivia", "Mateo", "Emma", "Liam",
    "Chloe", "Jonas", "Zoë",    "Marta", "Ravi",  "Aiko",  "Farah",  "Owen",  "Nora", "Felix",
};
static const char *const last_names[] = {
    "Smith",  "Fischer",  "Nguyen", "García", "Müller", "Johnson",  "Kowalski",
    "Tanaka", "O'Connor", "Rossi",  "Dubois", "Patel",  "Andersen", "Brown",
};
struct place {
    const char *city, *province, *province_code, *country, *country_code, *zip, *street;
    const char *locale, *phone_prefix;
};
static const struct place places[] = {
    {"Ottawa", "Ontario", "ON", "Canada", "CA", "K2H 7A8", "Elm St.", "en-CA", "+1613555"},
    {"Louisville", "Kentucky", "KY", "United States", "US", "40003", "Shipping Street", "en-US",
     "+1502555"},
    {"Portland", "Oregon", "OR", "United States", "US", "97205", "SW Alder St", "en-US",
     "+1503555"},
    {"Berlin", "Berlin", "BE", "Germany", "DE", "10115", "Invalidenstraße", "de-DE", "+4915155"},
    {"Munich", "Bavaria", "BY", "Germany", "DE", "80331", "Sendlinger Str.", "de-DE", "+4917655"},
    {"Vienna", "Vienna", "9", "Austria", "AT", "1010", "Kärntner Str.", "de-AT", "+4366455"},
    {"Manchester", "England", "ENG", "United Kingdom", "GB", "M1 1AE", "Oldham St", "en-GB",
     "+4479115"},
    {"Lyon", "Auvergne-Rhône-Alpes", "ARA", "France", "FR", "69002", "Rue de la République",
     "fr-FR", "+3361255"},
};
struct product {
    const char *title, *variant, *vendor, *type, *sku;
    int cents, grams;
};
static const struct product products[] = {
    {"Trail Runner GTX", "EU 42 / Slate", "Alpenglow", "Shoes", "TRG-42-SLT", 14900, 820},
    {"Merino Base Layer", "M / Charcoal", "Alpenglow", "Apparel", "MBL-M-CHR", 7900, 210},
    {"Down Jacket 800", "L / Navy", "Northline", "Apparel", "DJ8-L-NVY", 24900, 540},
    {"Hydration Pack 12L", "Default Title", "Northline", "Packs", "HP12-STD", 8900, 460},
    {"Titanium Spork", "Default Title", "Camp Co", "Kitchen", "TSP-TI", 1299, 18},
    {"Headlamp 400", "Default Title", "Lumen", "Lighting", "HL400-BLK", 4599, 88},
    {"Wool Socks (3 pack)", "L / Mixed", "Alpenglow", "Apparel", "WS3-L-MIX", 2499, 150},
    {"Insulated Bottle 750 ml", "Forest", "Camp Co", "Kitchen", "IB750-FOR", 3450, 390},
    {"Rain Shell", "S / Red", "Northline", "Apparel", "RS-S-RED", 18900, 330},
    {"Trekking Poles", "Carbon", "Alpenglow", "Gear", "TP-CARB", 12900, 480},
    {"Camp Stove", "Default Title", "Camp Co", "Kitchen", "CS-1", 6900, 410},
    {"Sleeping Bag -5°C", "Regular / Left zip", "Northline", "Sleep", "SB5-REG-L", 29900, 1250},
    {"Beanie", "One size / Ochre", "Alpenglow", "Apparel", "BN-OS-OCH", 2900, 80},
    {"Map Case", "Default Title", "Camp Co", "Gear", "MC-A4", 1900, 120},
};

#define NPLACES   (sizeof(places) / sizeof(places[0]))
#define NPRODUCTS (sizeof(products) / sizeof(products[0]))
#define NFIRST    (sizeof(first_names) / sizeof(first_names[0]))
#define NLAST     (sizeof(last_names) / sizeof(last_names[0]))

static void money_set(struct sb *b, const char *key, long cents, const char *cur)
{
    sb_printf(b,
              "\"%s\":{\"shop_money\":{\"amount\":\"%ld.%02ld\",\"currency_code\":\"%s\"},"
              "\"presentment_money\":{\"amount\":\"%ld.%02ld\",\"currency_code\":\"%s\"}}",
              key, cents / 100, cents % 100, cur, cents / 100, cents % 100, cur);
}

static void address(struct sb *b, const char *key, const char *first, const char *last,
                    const struct place *p, int house, const char *phone)
{
    sb_printf(b,
              "\"%s\":{\"first_name\":\"%s\",\"address1\":\"%d %s\",\"phone\":\"%s\","
              "\"city\":\"%s\",\"zip\":\"%s\",\"province\":\"%s\",\"country\":\"%s\","
              "\"last_name\":\"%s\",\"address2\":null,\"company\":null,\"latitude\":null,"
              "\"longitude\":null,\"name\":\"%s %s\",\"country_code\":\"%s\","
              "\"province_code\":\"%s\"}",
              key, first, house, p->street, phone, p->city, p->zip, p->province, p->country, last,
              first, last, p->country_code, p->province_code);
}

/* What one order's payload is made of, drawn once per payload so that the
 * parts written by the steps below agree. */
struct order {
    int k, number, house, items, consent;
    const char *first, *last, *cur, *ts;
    const struct place *pl;
    uint64_t customer_id;
    char email[128], phone[32];
    long subtotal, tax, shipping, total;
};

/* The body up to the currency: ids (as zeros at id_off, patched per
 * request), tokens and client details. */
static void payload_head(struct sb *b, const struct order *o, size_t id_off[2])
{
    const char *email = o->email, *ts = o->ts, *cur = o->cur;
    const struct place *pl = o->pl;
    int k = o->k, consent = o->consent;
    char zeros[ID_DIGITS + 1];
    memset(zeros, '0', ID_DIGITS);
    zeros[ID_DIGITS] = '\0';
    sb_printf(b, "{\"id\":");
    id_off[0] = b->len;
    sb_printf(b, "%s,\"admin_graphql_api_id\":\"gid://shopify/Order/", zeros);
    id_off[1] = b->len;
    sb_printf(b,
              "%s\",\"app_id\":580111,\"browser_ip\":\"203.0.113.%d\","
              "\"buyer_accepts_marketing\":%s,\"cancel_reason\":null,\"cancelled_at\":null,"
              "\"cart_token\":\"Z2NwLWV1cm9wZS13ZXN0MTpt%08x\",\"checkout_id\":%" PRIu64 ","
              "\"checkout_token\":\"b1946ac92492d2347c6235b4d2611184%08x\","
              "\"client_details\":{\"accept_language\":\"%s\",\"browser_height\":null,"
              "\"browser_ip\":\"203.0.113.%d\",\"browser_width\":null,\"session_hash\":null,"
              "\"user_agent\":null},"
              "\"closed_at\":null,\"confirmation_number\":\"X%07dQ\",\"confirmed\":true,"
              "\"contact_email\":\"%s\",\"created_at\":\"%s\",\"currency\":\"%s\",",
              zeros, 1 + (int)rnd(250), consent ? "true" : "false", rnd(0xffffffffu),
              (uint64_t)36124652765524ULL + (uint64_t)k, rnd(0xffffffffu), pl->locale,
              1 + (int)rnd(250), (int)rnd(10000000), email, ts, cur);
}

/* The line items, into their own buffer since the totals computed from
 * them come first in the body. */
static void payload_line_items(struct sb *li, struct order *o)
{
    int k = o->k, items = o->items;
    sb_printf(li, "\"line_items\":[");
    for (int i = 0; i < items; i++) {
        const struct product *p = &products[(k + i * 5 + (int)rnd(3)) % (int)NPRODUCTS];
        int qty = 1 + (int)(rnd(6) == 0);
        long line_tax = (long)p->cents * qty * 8 / 100;
        uint64_t li_id = 13597735420500ULL + (uint64_t)k * 16 + (uint64_t)i;
        o->subtotal += (long)p->cents * qty;
        o->tax += line_tax;
        sb_printf(li,
                  "%s{\"id\":%" PRIu64 ",\"fulfillable_quantity\":%d,"
                  "\"fulfillment_service\":\"manual\",\"fulfillment_status\":null,"
                  "\"gift_card\":false,\"grams\":%d,\"name\":\"%s - %s\",",
                  i ? "," : "", li_id, qty, p->grams, p->title, p->variant);
        sb_printf(li, "\"price\":\"%d.%02d\"", p->cents / 100, p->cents % 100);
        sb_printf(li,
                  ",\"product_exists\":true,\"product_id\":%ld,\"properties\":["
                  "{\"name\":\"_origin\",\"value\":\"online_store\"}%s],\"quantity\":%d,"
                  "\"requires_shipping\":true,\"sku\":\"%s\",\"taxable\":true,\"title\":\"%s\","
                  "\"total_discount\":\"0.00\"",
                  8213450000L + (long)(p - products),
                  i % 4 == 1 ? ",{\"name\":\"Gift wrap\",\"value\":\"yes\"}" : "", qty, p->sku,
                  p->title);
        sb_printf(li,
                  ",\"variant_id\":%d,\"variant_inventory_management\":\"shopify\","
                  "\"variant_title\":\"%s\",\"vendor\":\"%s\",\"tax_lines\":[{\"channel_liable\":"
                  "false,\"price\":\"%ld.%02ld\"",
                  44100000 + (int)(p - products) * 13, p->variant, p->vendor, line_tax / 100,
                  line_tax % 100);
        sb_printf(li, ",\"rate\":0.08,\"title\":\"Sales Tax\"}],\"discount_allocations\":[]}");
    }
    sb_printf(li, "]");
}

/* The totals, the order's details and the billing address. */
static void payload_totals(struct sb *b, const struct order *o)
{
    const char *first = o->first;
    const char *last = o->last;
    const char *cur = o->cur;
    const char *email = o->email;
    const char *phone = o->phone;
    const char *ts = o->ts;
    const struct place *pl = o->pl;
    int number = o->number;
    int house = o->house;
    int items = o->items;
    long subtotal = o->subtotal;
    long tax = o->tax;
    long shipping = o->shipping;
    long total = o->total;
    sb_printf(b, "\"current_subtotal_price\":\"%ld.%02ld\",", subtotal / 100, subtotal % 100);
    sb_printf(b, "\"current_total_discounts\":\"0.00\",");
    sb_printf(b, "\"current_total_price\":\"%ld.%02ld\",", total / 100, total % 100);
    sb_printf(b, "\"current_total_tax\":\"%ld.%02ld\",", tax / 100, tax % 100);
    sb_printf(b,
              "\"customer_locale\":\"%s\",\"device_id\":null,\"discount_codes\":[],"
              "\"email\":\"%s\",\"estimated_taxes\":false,\"financial_status\":\"paid\","
              "\"fulfillment_status\":null,\"landing_site\":\"/products/trail-runner\","
              "\"landing_site_ref\":null,\"location_id\":null,\"name\":\"#%d\",\"note\":null,"
              "\"note_attributes\":[],\"number\":%d,\"order_number\":%d,"
              "\"order_status_url\":\"https://bench.myshopify.com/58690453588/orders/"
              "%016" PRIx64 "/authenticate?key=%08x\",\"payment_gateway_names\":[\"shopify_payments"
              "\"],\"phone\":\"%s\",\"presentment_currency\":\"%s\",\"processed_at\":\"%s\","
              "\"reference\":null,\"referring_site\":\"https://www.google.com/\","
              "\"source_identifier\":null,\"source_name\":\"web\",\"source_url\":null,"
              "\"subtotal_price\":\"%ld.%02ld\"",
              pl->locale, email, number, number - 1000, number, rng_state, rnd(0xffffffffu), phone,
              cur, ts, subtotal / 100, subtotal % 100);
    sb_printf(b,
              ",\"tags\":\"\",\"tax_exempt\":false,\"tax_lines\":[{\"price\":\"%ld.%02ld\","
              "\"rate\":0.08,\"title\":\"Sales Tax\",\"channel_liable\":false}],"
              "\"taxes_included\":false,\"test\":false,\"token\":\"%016" PRIx64 "\","
              "\"total_discounts\":\"0.00\"",
              tax / 100, tax % 100, rng_state);
    sb_printf(b, ",\"total_line_items_price\":\"%ld.%02ld\"", subtotal / 100, subtotal % 100);
    sb_printf(b, ",\"total_outstanding\":\"0.00\",\"total_price\":\"%ld.%02ld\",", total / 100,
              total % 100);
    money_set(b, "total_price_set", total, cur);
    sb_printf(b, ",");
    money_set(b, "total_shipping_price_set", shipping, cur);
    sb_printf(b, ",\"total_tax\":\"%ld.%02ld\",", tax / 100, tax % 100);
    money_set(b, "total_tax_set", tax, cur);
    sb_printf(b,
              ",\"total_tip_received\":\"0.00\",\"total_weight\":%d,\"updated_at\":\"%s\","
              "\"user_id\":null,",
              400 + items * 300, ts);
    address(b, "billing_address", first, last, pl, house, phone);
}

/* The customer, with their default address and marketing consent. */
static void payload_customer(struct sb *b, const struct order *o)
{
    const char *first = o->first;
    const char *last = o->last;
    const char *cur = o->cur;
    const char *email = o->email;
    const char *phone = o->phone;
    const char *ts = o->ts;
    const struct place *pl = o->pl;
    int house = o->house;
    int consent = o->consent;
    uint64_t customer_id = o->customer_id;
    sb_printf(b,
              ",\"customer\":{\"id\":%" PRIu64 ",\"email\":\"%s\",\"created_at\":\"2023-06-12T"
              "14:22:05-04:00\",\"updated_at\":\"%s\",\"first_name\":\"%s\",\"last_name\":\"%s\","
              "\"state\":\"enabled\",\"note\":null,\"verified_email\":true,"
              "\"multipass_identifier\":null,\"tax_exempt\":false,\"phone\":\"%s\","
              "\"email_marketing_consent\":{\"state\":\"%s\",\"opt_in_level\":\"single_opt_in\","
              "\"consent_updated_at\":%s},\"sms_marketing_consent\":null,\"tags\":\"\","
              "\"currency\":\"%s\",\"tax_exemptions\":[],"
              "\"admin_graphql_api_id\":\"gid://shopify/Customer/%" PRIu64 "\","
              "\"default_address\":{\"id\":%" PRIu64 ",\"customer_id\":%" PRIu64 ","
              "\"first_name\":\"%s\",\"last_name\":\"%s\",\"company\":null,"
              "\"address1\":\"%d %s\",\"address2\":null,\"city\":\"%s\",\"province\":\"%s\","
              "\"country\":\"%s\",\"zip\":\"%s\",\"phone\":\"%s\",\"name\":\"%s %s\","
              "\"province_code\":\"%s\",\"country_code\":\"%s\",\"country_name\":\"%s\","
              "\"default\":true}},",
              customer_id, email, ts, first, last, phone, consent ? "subscribed" : "not_subscribed",
              consent ? "\"2023-06-12T14:22:05-04:00\"" : "null", cur, customer_id, customer_id + 3,
              customer_id, first, last, house, pl->street, pl->city, pl->province, pl->country,
              pl->zip, phone, first, last, pl->province_code, pl->country_code, pl->country);
}

/* The line items (li, freed here), the shipping address and the shipping
 * line that close the body. */
static void payload_tail(struct sb *b, const struct order *o, struct sb *li)
{
    const char *first = o->first;
    const char *last = o->last;
    const char *cur = o->cur;
    const char *phone = o->phone;
    const struct place *pl = o->pl;
    int k = o->k;
    int house = o->house;
    long shipping = o->shipping;
    sb_printf(b, "\"discount_applications\":[],\"fulfillments\":[],");
    sb_reserve(b, li->len);
    memcpy(b->s + b->len, li->s, li->len);
    b->len += li->len;
    free(li->s);
    sb_printf(b, ",\"payment_terms\":null,\"refunds\":[],");
    address(b, "shipping_address", first, last, pl, house, phone);
    sb_printf(b,
              ",\"shipping_lines\":[{\"id\":4773158%06d,\"carrier_identifier\":null,"
              "\"code\":\"Standard\",\"discounted_price\":\"%ld.%02ld\",",
              k, shipping / 100, shipping % 100);
    sb_printf(b, "\"phone\":null,\"price\":\"%ld.%02ld\",", shipping / 100, shipping % 100);
    money_set(b, "price_set", shipping, cur);
    sb_printf(b, ",\"requested_fulfillment_service_id\":null,\"source\":\"shopify\","
                 "\"title\":\"Standard\",\"tax_lines\":[],\"discount_allocations\":[]}]}");
}

/* One orders/create body. The order id is written as ID_DIGITS zeros at the
 * offsets returned in id_off[0..1] (the id and the GraphQL id), patched per
 * request. The random draws happen in a fixed order, so a run's payloads are
 * the same from one build to the next. */
static char *build_payload(int k, size_t *len, size_t id_off[2])
{
    struct sb b = {0}, li = {0};
    struct order o = {.k = k, .ts = "2024-11-04T09:01:28-05:00"};
    o.first = first_names[rnd(NFIRST)];
    o.last = last_names[rnd(NLAST)];
    o.pl = &places[rnd(NPLACES)];
    o.cur = o.pl->country_code[0] == 'U'            ? "USD"
            : strcmp(o.pl->country_code, "CA") == 0 ? "CAD"
            : strcmp(o.pl->country_code, "GB") == 0 ? "GBP"
                                                    : "EUR";
    o.customer_id = 6940095564116ULL + (uint64_t)k * 7;
    snprintf(o.email, sizeof(o.email), "%c%s.%d@example.com", o.first[0] | 0x20, "customer",
             1000 + k);
    snprintf(o.phone, sizeof(o.phone), "%s%05d", o.pl->phone_prefix, rnd(100000));
    o.number = 1001 + k;
    o.house = 1 + (int)rnd(240);
    o.items = 8 + (int)rnd(3);
    o.consent = rnd(3) == 0;

    payload_head(&b, &o, id_off);
    payload_line_items(&li, &o);
    o.shipping = o.subtotal >= 15000 ? 0 : 695;
    o.total = o.subtotal + o.tax + o.shipping;
    payload_totals(&b, &o);
    payload_customer(&b, &o);
    payload_tail(&b, &o, &li);
    *len = b.len;
    return b.s;
}

/* A prebuilt request: headers and body in one buffer, with the offsets of
 * what changes per request. */
struct request {
    char *buf;
    size_t len, body_off, body_len;
    size_t id_off[2];                   /* in the body */
    size_t sig_off, evid_off, whid_off; /* in the headers */
};

static struct request *requests;

static void build_requests(void)
{
    requests = calloc((size_t)opt.payloads, sizeof(*requests));
    if (!requests)
        die("out of memory");
    char triggered[40];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(triggered, sizeof(triggered), "%Y-%m-%dT%H:%M:%SZ", &tm);
    char sigpad[SIG_LEN + 1], uuidpad[UUID_LEN + 1];
    memset(sigpad, '=', SIG_LEN);
    sigpad[SIG_LEN] = '\0';
    memset(uuidpad, '0', UUID_LEN);
    uuidpad[UUID_LEN] = '\0';
    for (int k = 0; k < opt.payloads; k++) {
        struct request *r = &requests[k];
        size_t blen;
        char *body = build_payload(k, &blen, r->id_off);
        struct sb h = {0};
        sb_printf(&h,
                  "POST %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: Shopify-Captain-Hook\r\n"
                  "Content-Type: application/json\r\nAccept: */*\r\n"
                  "X-Shopify-Shop-Domain: %s\r\nX-Shopify-Topic: %s\r\n"
                  "X-Shopify-API-Version: 2024-10\r\nX-Shopify-Triggered-At: %s\r\n"
                  "X-Shopify-Hmac-Sha256: ",
                  opt.path, opt.host, opt.port, opt.domain, opt.topic, triggered);
        r->sig_off = h.len;
        sb_printf(&h, "%s\r\nX-Shopify-Event-Id: ", sigpad);
        r->evid_off = h.len;
        sb_printf(&h, "%s\r\nX-Shopify-Webhook-Id: ", uuidpad);
        r->whid_off = h.len;
        sb_printf(&h, "%s\r\nContent-Length: %zu\r\n\r\n", uuidpad, blen);
        r->body_off = h.len;
        r->body_len = blen;
        sb_reserve(&h, blen);
        memcpy(h.s + h.len, body, blen);
        h.len += blen;
        r->buf = h.s;
        r->len = h.len;
        free(body);
    }
}

static void put_digits(char *p, uint64_t v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/* A UUID-shaped id (version 4 layout) from the run's random prefix and a
 * sequence number: unique per request and per run. */
static void put_uuid(char *p, uint64_t run, uint64_t seq, char kind)
{
    static const char hex[] = "0123456789abcdef";
    char h[32];
    for (int i = 0; i < 16; i++)
        h[i] = hex[(run >> (60 - 4 * i)) & 15];
    for (int i = 0; i < 16; i++)
        h[16 + i] = hex[(seq >> (60 - 4 * i)) & 15];
    h[12] = '4';
    h[16] = kind; /* '8' for the event id, '9' for the webhook id */
    int j = 0;
    for (int i = 0; i < UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            p[i] = '-';
        else
            p[i] = h[j++];
    }
}

/* ------------------------------------------------------------- the run */

struct worker {
    pthread_t tid;
    int index;
    EVP_MAC_CTX *mac;
    char *buf; /* this connection's copy of a request */
    size_t cap;
    char resp[RESP_BUF];
    uint32_t *lat; /* microseconds, counted requests only */
    size_t nlat, caplat;
    long long status[MAX_STATUS];
    long long errors, reconnects;
    long long ok_all, answered_all; /* the warm-up included */
    long long bytes_sent;
    double last_done;
    char first_error[160];
};

static atomic_llong next_seq;
static uint64_t run_id;
static struct sockaddr_storage server_addr;
static socklen_t server_addrlen;
static double t_start, t_measure, t_end; /* monotonic seconds */
static atomic_int go;

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int connect_server(struct worker *w)
{
    int fd = socket(server_addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct timeval tv = {.tv_sec = opt.timeout_ms / 1000,
                         .tv_usec = (opt.timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&server_addr, server_addrlen) < 0) {
        if (!w->first_error[0])
            snprintf(w->first_error, sizeof(w->first_error), "connect: %s", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Reads until the end of the response's headers, which must fit in
 * w->resp. Sets *have to the bytes read and *head to where the body
 * starts. Returns 0, or -1 with *why. */
static int read_head(struct worker *w, int fd, size_t *have, size_t *head, const char **why)
{
    *have = *head = 0;
    for (;;) {
        if (*have == sizeof(w->resp)) {
            *why = "response headers too large";
            return -1;
        }
        ssize_t k = recv(fd, w->resp + *have, sizeof(w->resp) - *have, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            *why = k == 0 ? "connection closed by the server" : strerror(errno);
            return -1;
        }
        size_t from = *have > 3 ? *have - 3 : 0;
        *have += (size_t)k;
        for (size_t i = from; i + 3 < *have; i++) {
            if (memcmp(w->resp + i, "\r\n\r\n", 4) == 0) {
                *head = i + 4;
                return 0;
            }
        }
    }
}

/* The status line and the headers that say how the body ends
 * (Content-Length, chunked) and whether the connection stays open. Returns
 * the status, or -1 with *why. */
static int parse_head(struct worker *w, size_t have, size_t head, long long *clen, int *chunked,
                      int *keep, const char **why)
{
    /* Status line: HTTP/1.x NNN reason */
    if (have < 12 || memcmp(w->resp, "HTTP/1.", 7) != 0) {
        *why = "not an HTTP/1.x response";
        return -1;
    }
    int status = atoi(w->resp + 9);
    if (status < 100 || status >= MAX_STATUS) {
        *why = "bad status code";
        return -1;
    }
    if (w->resp[7] == '0')
        *keep = 0;
    *clen = -1;
    *chunked = 0;
    const char *line = memchr(w->resp, '\n', head) + 1;
    while (line < w->resp + head - 2) {
        const char *eol = memchr(line, '\n', (size_t)(w->resp + head - line));
        if (!eol)
            break;
        size_t n = (size_t)(eol - line);
        if (n > 15 && strncasecmp(line, "content-length:", 15) == 0)
            *clen = atoll(line + 15);
        else if (n > 18 && strncasecmp(line, "transfer-encoding:", 18) == 0 &&
                 memmem(line, n, "chunked", 7))
            *chunked = 1;
        else if (n > 11 && strncasecmp(line, "connection:", 11) == 0 && memmem(line, n, "close", 5))
            *keep = 0;
        line = eol + 1;
    }
    return status;
}

/* Consumes a chunked body up to its last chunk; the body is not kept.
 * Returns 0, or -1 with *why. */
static int skip_chunked(struct worker *w, int fd, size_t have, size_t pos, const char **why)
{
    for (;;) {
        char *crlf = NULL;
        while (!(crlf = memmem(w->resp + pos, have - pos, "\r\n", 2))) {
            if (pos > 0) {
                memmove(w->resp, w->resp + pos, have - pos);
                have -= pos;
                pos = 0;
            }
            ssize_t k = recv(fd, w->resp + have, sizeof(w->resp) - have, 0);
            if (k <= 0) {
                *why = "connection closed inside a chunked body";
                return -1;
            }
            have += (size_t)k;
        }
        unsigned long size = strtoul(w->resp + pos, NULL, 16);
        pos = (size_t)(crlf - w->resp) + 2;
        size_t need = size + 2; /* data and its CRLF */
        while (have - pos < need) {
            need -= have - pos;
            pos = have = 0;
            ssize_t k = recv(fd, w->resp, sizeof(w->resp), 0);
            if (k <= 0) {
                *why = "connection closed inside a chunked body";
                return -1;
            }
            have = (size_t)k;
        }
        pos += need;
        if (size == 0)
            return 0; /* no trailers expected */
    }
}

/* Consumes the left bytes of a Content-Length body. Returns 0, or -1 with
 * *why. */
static int skip_body(struct worker *w, int fd, long long left, const char **why)
{
    while (left > 0) {
        ssize_t k = recv(fd, w->resp, sizeof(w->resp), 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            *why = "connection closed inside the body";
            return -1;
        }
        left -= k;
    }
    return 0;
}

/* Reads one response; returns its status, or -1 on a broken connection or a
 * response this reader does not understand. *keep is cleared when the
 * server closes the connection after it. */
static int read_response(struct worker *w, int fd, int *keep, const char **why)
{
    size_t have, head;
    long long clen;
    int chunked;

    *keep = 1;
    if (read_head(w, fd, &have, &head, why) < 0)
        return -1;
    int status = parse_head(w, have, head, &clen, &chunked, keep, why);
    if (status < 0)
        return -1;
    if (status == 204 || status == 304 || status < 200)
        return status;
    if (chunked)
        return skip_chunked(w, fd, have, head, why) < 0 ? -1 : status;
    if (clen < 0) {
        /* Body until close. */
        *keep = 0;
        for (;;) {
            ssize_t k = recv(fd, w->resp, sizeof(w->resp), 0);
            if (k <= 0)
                return status;
        }
    }
    return skip_body(w, fd, clen - (long long)(have - head), why) < 0 ? -1 : status;
}

static void record_latency(struct worker *w, double secs)
{
    if (w->nlat == w->caplat) {
        size_t cap = w->caplat ? w->caplat * 2 : 65536;
        uint32_t *p = realloc(w->lat, cap * sizeof(*p));
        if (!p)
            die("out of memory");
        w->lat = p;
        w->caplat = cap;
    }
    double us = secs * 1e6;
    w->lat[w->nlat++] = us > 4e9 ? 4000000000u : (uint32_t)us;
}

/* This connection's copy of request seq: the payload it cycles to, with
 * the order id, the signature over the body and the event and webhook ids
 * patched in. */
static const struct request *prepare_request(struct worker *w, long long seq)
{
    const struct request *r = &requests[seq % opt.payloads];
    if (r->len > w->cap) {
        free(w->buf);
        w->cap = r->len;
        w->buf = malloc(w->cap);
        if (!w->buf)
            die("out of memory");
    }
    memcpy(w->buf, r->buf, r->len);
    char *body = w->buf + r->body_off;
    uint64_t order_id = opt.first_id + (uint64_t)seq;
    put_digits(body + r->id_off[0], order_id, ID_DIGITS);
    put_digits(body + r->id_off[1], order_id, ID_DIGITS);
    unsigned char mac[32];
    size_t maclen = 0;
    if (!EVP_MAC_init(w->mac, NULL, 0, NULL) ||
        !EVP_MAC_update(w->mac, (unsigned char *)body, r->body_len) ||
        !EVP_MAC_final(w->mac, mac, &maclen, sizeof(mac)) || maclen != 32)
        die("HMAC failed");
    char sig[SIG_LEN + 1];
    EVP_EncodeBlock((unsigned char *)sig, mac, 32);
    memcpy(w->buf + r->sig_off, sig, SIG_LEN);
    put_uuid(w->buf + r->evid_off, run_id, (uint64_t)seq, '8');
    put_uuid(w->buf + r->whid_off, run_id, (uint64_t)seq, '9');
    return r;
}

/* Counts an answer: every one towards the totals, a counted one (after the
 * warm-up) towards the figures. */
static void count_answer(struct worker *w, int status, int counted, double secs, size_t len,
                         double done)
{
    w->answered_all++;
    if (status == 200)
        w->ok_all++;
    if (counted) {
        w->status[status]++;
        record_latency(w, secs);
        w->bytes_sent += (long long)len;
        w->last_done = done;
    }
}

/* One connection: waits for go, then sends requests one at a time until
 * the time or the count is up, reconnecting after a broken or closed
 * connection. */
static void *worker_main(void *arg)
{
    struct worker *w = arg;
    int fd = -1;
    while (!atomic_load(&go))
        usleep(100);
    for (;;) {
        double t0 = mono();
        if (opt.count <= 0 && t0 >= t_end)
            break;
        long long seq = atomic_fetch_add(&next_seq, 1);
        if (opt.count > 0 && seq >= opt.count + (long long)opt.warmup)
            break;
        if (fd < 0) {
            fd = connect_server(w);
            if (fd < 0) {
                w->errors++;
                usleep(10000);
                continue;
            }
        }
        const struct request *r = prepare_request(w, seq);

        double sent = mono();
        const char *why = NULL;
        int keep = 1, status = -1;
        if (send_all(fd, w->buf, r->len) < 0)
            why = strerror(errno);
        else
            status = read_response(w, fd, &keep, &why);
        double done = mono();
        /* Counted: requests started after the warm-up (by time, or by count
         * with --count: the first --warmup requests are not counted). */
        int counted = opt.count > 0 ? seq >= (long long)opt.warmup : sent >= t_measure;
        if (status < 0) {
            if (counted)
                w->errors++;
            if (!w->first_error[0])
                snprintf(w->first_error, sizeof(w->first_error), "%s", why ? why : "?");
            close(fd);
            fd = -1;
            w->reconnects++;
            continue;
        }
        count_answer(w, status, counted, done - sent, r->len, done);
        if (!keep) {
            close(fd);
            fd = -1;
            w->reconnects++;
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static double pct_ms(const uint32_t *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(q * (double)n + 0.999999);
    if (i < 1)
        i = 1;
    if (i > n)
        i = n;
    return v[i - 1] / 1000.0;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void resolve(void)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    char port[16];
    snprintf(port, sizeof(port), "%d", opt.port);
    int rc = getaddrinfo(opt.host, port, &hints, &res);
    if (rc != 0)
        die("%s: %s", opt.host, gai_strerror(rc));
    memcpy(&server_addr, res->ai_addr, res->ai_addrlen);
    server_addrlen = res->ai_addrlen;
    freeaddrinfo(res);
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: " PROG " --port P --secret S [--host H] [--path P] [--shop-domain D]\n"
                "           [--topic T] [--connections N] [--seconds S | --count N] [--warmup S]\n"
                "           [--payloads N] [--first-id N] [--timeout-ms MS] [--label L]\n"
                "       " PROG " --dump K [--payloads N]   print the body of payload K\n"
                "With --count, --warmup is a number of requests not counted.\n");
}

static void parse_args(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc) {
            usage(stderr);
            exit(2);
        }
        const char *v = argv[++i];
        if (strcmp(a, "--host") == 0)
            opt.host = v;
        else if (strcmp(a, "--port") == 0)
            opt.port = atoi(v);
        else if (strcmp(a, "--path") == 0)
            opt.path = v;
        else if (strcmp(a, "--secret") == 0)
            opt.secret = v;
        else if (strcmp(a, "--shop-domain") == 0)
            opt.domain = v;
        else if (strcmp(a, "--topic") == 0)
            opt.topic = v;
        else if (strcmp(a, "--label") == 0)
            opt.label = v;
        else if (strcmp(a, "--connections") == 0)
            opt.connections = atoi(v);
        else if (strcmp(a, "--seconds") == 0)
            opt.seconds = atof(v);
        else if (strcmp(a, "--count") == 0)
            opt.count = atoll(v);
        else if (strcmp(a, "--warmup") == 0)
            opt.warmup = atof(v);
        else if (strcmp(a, "--payloads") == 0)
            opt.payloads = atoi(v);
        else if (strcmp(a, "--first-id") == 0)
            opt.first_id = strtoull(v, NULL, 10);
        else if (strcmp(a, "--timeout-ms") == 0)
            opt.timeout_ms = atoi(v);
        else if (strcmp(a, "--dump") == 0)
            opt.dump = atoi(v);
        else {
            fprintf(stderr, PROG ": unknown option %s\n", a);
            usage(stderr);
            exit(2);
        }
    }
    if (opt.payloads < 1 || opt.payloads > 1000000)
        die("--payloads must be 1..1000000");
    if (opt.first_id < 1000000000000ULL || opt.first_id > 9000000000000ULL)
        die("--first-id must have %d digits and leave room for the run", ID_DIGITS);
    if (opt.dump >= 0) {
        if (opt.dump >= opt.payloads)
            die("--dump must be below --payloads");
        return;
    }
    if (opt.port <= 0 || opt.port > 65535 || !opt.secret || opt.connections < 1 ||
        opt.connections > 4096 || opt.timeout_ms < 1 || opt.warmup < 0 ||
        (opt.count <= 0 && opt.seconds <= 0)) {
        usage(stderr);
        exit(2);
    }
}

/* --dump: the body of payload K as it would be sent, its order id in. */
static void dump_payload(void)
{
    struct request *r = &requests[opt.dump];
    char *body = r->buf + r->body_off;
    put_digits(body + r->id_off[0], opt.first_id + (uint64_t)opt.dump, ID_DIGITS);
    put_digits(body + r->id_off[1], opt.first_id + (uint64_t)opt.dump, ID_DIGITS);
    fwrite(body, 1, r->body_len, stdout);
    fputc('\n', stdout);
}

/* The median body size, reported so that runs with other payloads compare. */
static size_t median_payload_bytes(void)
{
    size_t *sizes = malloc((size_t)opt.payloads * sizeof(*sizes));
    if (!sizes)
        die("out of memory");
    for (int k = 0; k < opt.payloads; k++)
        sizes[k] = requests[k].body_len;
    for (int i = 1; i < opt.payloads; i++) /* insertion sort: small */
        for (int j = i; j > 0 && sizes[j - 1] > sizes[j]; j--) {
            size_t t = sizes[j];
            sizes[j] = sizes[j - 1];
            sizes[j - 1] = t;
        }
    size_t median_bytes = sizes[opt.payloads / 2];
    free(sizes);
    return median_bytes;
}

/* One thread per connection, each with its own HMAC context keyed with the
 * store's secret; they wait for go. */
static struct worker *start_workers(EVP_MAC *hmac)
{
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
                           OSSL_PARAM_construct_end()};
    struct worker *ws = calloc((size_t)opt.connections, sizeof(*ws));
    if (!ws)
        die("out of memory");
    for (int i = 0; i < opt.connections; i++) {
        ws[i].index = i;
        ws[i].mac = EVP_MAC_CTX_new(hmac);
        if (!ws[i].mac ||
            !EVP_MAC_init(ws[i].mac, (const unsigned char *)opt.secret, strlen(opt.secret), params))
            die("HMAC init failed");
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        if (pthread_create(&ws[i].tid, &attr, worker_main, &ws[i]) != 0)
            die("pthread_create failed");
        pthread_attr_destroy(&attr);
    }
    return ws;
}

/* Starts the clock and the workers and waits for them. Returns the CPU
 * seconds this client used while measuring; *t_done is when the last
 * worker finished. */
static double run_workers(struct worker *ws, double *t_done)
{
    t_start = mono();
    t_measure = opt.count > 0 ? t_start : t_start + opt.warmup;
    t_end = t_measure + opt.seconds;
    double cpu_at_start = cpu_seconds();
    atomic_store(&go, 1);
    /* The CPU this client used while measuring: read at the end of the
     * warm-up (time mode) by sleeping until then. */
    if (opt.count <= 0 && opt.warmup > 0) {
        double until = t_measure - mono();
        if (until > 0)
            usleep((useconds_t)(until * 1e6));
        cpu_at_start = cpu_seconds();
    }
    for (int i = 0; i < opt.connections; i++)
        pthread_join(ws[i].tid, NULL);
    *t_done = mono();
    return cpu_seconds() - cpu_at_start;
}

/* The workers' counts added up, and every counted latency, sorted. */
struct totals {
    long long status[MAX_STATUS], errors, reconnects, bytes, ok_all, answered_all;
    size_t n;
    double last_done;
    const char *first_error;
    uint32_t *lat;
};

/* Adds up the workers once they are joined: the threads keep their own
 * counts so that no request pays for a shared counter. */
static void add_up(const struct worker *ws, struct totals *t)
{
    memset(t, 0, sizeof(*t));
    t->last_done = t_measure;
    for (int i = 0; i < opt.connections; i++) {
        for (int s = 0; s < MAX_STATUS; s++)
            t->status[s] += ws[i].status[s];
        t->errors += ws[i].errors;
        t->reconnects += ws[i].reconnects;
        t->ok_all += ws[i].ok_all;
        t->answered_all += ws[i].answered_all;
        t->bytes += ws[i].bytes_sent;
        t->n += ws[i].nlat;
        if (ws[i].last_done > t->last_done)
            t->last_done = ws[i].last_done;
        if (!t->first_error && ws[i].first_error[0])
            t->first_error = ws[i].first_error;
    }
    t->lat = malloc((t->n ? t->n : 1) * sizeof(*t->lat));
    if (!t->lat)
        die("out of memory");
    size_t at = 0;
    for (int i = 0; i < opt.connections; i++) {
        if (ws[i].nlat)
            memcpy(t->lat + at, ws[i].lat, ws[i].nlat * sizeof(*t->lat));
        at += ws[i].nlat;
    }
    qsort(t->lat, t->n, sizeof(*t->lat), cmp_u32);
}

/* The non-200 answers by status, for the table ("503: 12, 429: 3") and for
 * the JSON line ("\"503\":12,\"429\":3"). */
static void by_status_text(const struct totals *t, char *text, size_t textsz, char *json,
                           size_t jsonsz)
{
    size_t bl = 0, jl = 0;
    text[0] = json[0] = '\0';
    for (int s = 0; s < MAX_STATUS; s++) {
        if (!t->status[s] || s == 200)
            continue;
        bl +=
            (size_t)snprintf(text + bl, textsz - bl, "%s%d: %lld", bl ? ", " : "", s, t->status[s]);
        jl += (size_t)snprintf(json + jl, jsonsz - jl, "%s\"%d\":%lld", jl ? "," : "", s,
                               t->status[s]);
        if (bl >= textsz || jl >= jsonsz)
            break;
    }
}

/* Prints the markdown table row and the JSON line the runner parses. */
static void print_results(const struct totals *t, double t_done, double cpu, size_t median_bytes)
{
    size_t n = t->n;
    const uint32_t *lat = t->lat;
    long long ok = t->status[200];
    long long non200 = (long long)n - ok;
    /* The measured window: from its start (the end of the warm-up) to the
     * last counted answer. */
    double elapsed = (opt.count > 0 ? t_done : t->last_done) - t_measure;
    if (elapsed <= 0)
        elapsed = 1e-9;
    double rate = (double)n / elapsed;
    double ok_rate = (double)ok / elapsed;
    double p50 = pct_ms(lat, n, 0.50), p90 = pct_ms(lat, n, 0.90), p99 = pct_ms(lat, n, 0.99),
           p999 = pct_ms(lat, n, 0.999), mx = n ? lat[n - 1] / 1000.0 : 0;
    char by_status[1024], by_status_json[1024];

    by_status_text(t, by_status, sizeof(by_status), by_status_json, sizeof(by_status_json));
    printf("| bench | conns | requests | ok | non-200 | webhooks/s | p50 ms | p99 ms | max ms |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    printf("| %s | %d | %zu | %lld | %lld%s%s%s | %.0f | %.2f | %.2f | %.2f |\n", opt.label,
           opt.connections, n, ok, non200, non200 ? " (" : "", by_status, non200 ? ")" : "",
           ok_rate, p50, p99, mx);
    if (t->errors)
        printf("connection errors: %lld (first: %s)\n", t->errors,
               t->first_error ? t->first_error : "?");
    printf("{\"bench\":\"%s\",\"connections\":%d,\"seconds\":%.3f,\"warmup\":%g,"
           "\"requests\":%zu,\"ok\":%lld,\"non200\":%lld,\"by_status\":{%s},\"errors\":%lld,"
           "\"reconnects\":%lld,\"rate\":%.1f,\"ok_rate\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
           "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"max_ms\":%.3f,\"client_cpu_s\":%.3f,"
           "\"payloads\":%d,\"median_bytes\":%zu,\"bytes_sent\":%lld,\"first_id\":%" PRIu64
           ",\"sequences\":%lld,\"ok_all\":%lld,\"answered_all\":%lld}\n",
           opt.label, opt.connections, elapsed, opt.warmup, n, ok, non200, by_status_json,
           t->errors, t->reconnects, rate, ok_rate, p50, p90, p99, p999, mx, cpu, opt.payloads,
           median_bytes, t->bytes, opt.first_id, (long long)atomic_load(&next_seq), t->ok_all,
           t->answered_all);
}

/* Builds every request before the clock starts, so that the figures
 * measure the server rather than this client. */
int main(int argc, char **argv)
{
    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    build_requests();
    if (opt.dump >= 0) {
        dump_payload();
        return 0;
    }
    resolve();
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    run_id = ((uint64_t)rt.tv_sec << 30) ^ (uint64_t)rt.tv_nsec ^ ((uint64_t)getpid() << 48);
    size_t median_bytes = median_payload_bytes();

    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!hmac)
        die("HMAC not available");
    struct worker *ws = start_workers(hmac);
    double t_done, cpu = run_workers(ws, &t_done);
    struct totals t;
    add_up(ws, &t);
    print_results(&t, t_done, cpu, median_bytes);
    for (int i = 0; i < opt.connections; i++) {
        EVP_MAC_CTX_free(ws[i].mac);
        free(ws[i].buf);
        free(ws[i].lat);
    }
    EVP_MAC_free(hmac);
    free(ws);
    free(t.lat);
    for (int k = 0; k < opt.payloads; k++)
        free(requests[k].buf);
    free(requests);
    return t.n == 0 ? 1 : 0;
}
