#include "canon.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "event.h"
#include "timeutil.h"

void ac_canon_batch_init(ac_canon_batch_t *b)
{
    memset(b, 0, sizeof(*b));
}

void ac_canon_batch_clear(ac_canon_batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        json_object_put(b->ev[i]);
    json_object_put(b->remember);
    memset(b, 0, sizeof(*b));
}

int ac_canon_batch_add(ac_canon_batch_t *b, json_object *ev)
{
    if (!ev)
        return -1;
    if (b->n >= AC_CANON_MAX_EVENTS) {
        json_object_put(ev);
        return -1;
    }
    b->ev[b->n++] = ev;
    return 0;
}

/* Ids are copied as the text JSON carried, so a 64-bit integer such as
 * 5600010431060 or 18446744073709551614 never passes through a double.
 * json-c clamps an integer it cannot hold to the nearest limit
 * (18446744073709551616 and 99999999999999999999 both read as
 * 18446744073709551615), so the limits themselves are refused: two
 * different huge ids must not become one id. */
static const char *int_id(json_object *v, char *buf, size_t bufsz)
{
    int n;
    int64_t i = json_object_get_int64(v);
    if (i == INT64_MIN)
        return NULL;
#if JSON_C_VERSION_NUM >= ((0 << 16) | (14 << 8))
    if (i == INT64_MAX) {
        uint64_t u = json_object_get_uint64(v);
        if (u == UINT64_MAX)
            return NULL;
        n = snprintf(buf, bufsz, "%" PRIu64, u);
    } else {
        n = snprintf(buf, bufsz, "%" PRId64, i);
    }
#else
    if (i == INT64_MAX)
        return NULL;
    n = snprintf(buf, bufsz, "%" PRId64, i);
#endif
    return n > 0 && (size_t)n < bufsz ? buf : NULL;
}

const char *ac_canon_id(json_object *v, char *buf, size_t bufsz)
{
    if (!v || bufsz == 0)
        return NULL;
    switch (json_object_get_type(v)) {
    case json_type_string: {
        const char *s = json_object_get_string(v);
        size_t len = (size_t)json_object_get_string_len(v);
        if (len == 0 || len >= bufsz || memchr(s, '\0', len))
            return NULL;
        memcpy(buf, s, len + 1);
        return buf;
    }
    case json_type_int:
        return int_id(v, buf, bufsz);
    default:
        return NULL;
    }
}

const char *ac_canon_id_of(json_object *obj, const char *key, char *buf, size_t bufsz)
{
    json_object *v = NULL;
    if (!obj || !json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, key, &v))
        return NULL;
    return ac_canon_id(v, buf, bufsz);
}

const char *ac_canon_str(json_object *obj, const char *key)
{
    json_object *v = NULL;
    if (!obj || !json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string) ||
        json_object_get_string_len(v) == 0)
        return NULL;
    return json_object_get_string(v);
}

json_object *ac_canon_obj(json_object *obj, const char *key)
{
    json_object *v = NULL;
    if (!obj || !json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_object))
        return NULL;
    return v;
}

json_object *ac_canon_arr(json_object *obj, const char *key)
{
    json_object *v = NULL;
    if (!obj || !json_object_is_type(obj, json_type_object) ||
        !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_array))
        return NULL;
    return v;
}

/* The parts are hashed with their lengths so that no two different
 * tuples ("a","bc") and ("ab","c") give the same id. */
void ac_canon_event_id(const char *platform, const char *store_id, const char *identity,
                       const char *type, const char *discriminator, char *out, size_t outsz)
{
    const char *parts[] = {platform, store_id, identity, type, discriminator};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        snprintf(out, outsz, "evt_");
        return;
    }
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        const char *p = parts[i] ? parts[i] : "";
        char len[24];
        int n = snprintf(len, sizeof(len), "%zu:", strlen(p));
        EVP_DigestUpdate(ctx, len, (size_t)n);
        EVP_DigestUpdate(ctx, p, strlen(p));
    }
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    size_t o = (size_t)snprintf(out, outsz, "evt_");
    for (unsigned i = 0; i < 16 && o + 2 < outsz; i++, o += 2)
        snprintf(out + o, outsz - o, "%02x", md[i]);
}

json_object *ac_canon_section(json_object *ev, const char *key)
{
    json_object *v = ac_canon_obj(ev, key);
    if (!v) {
        v = json_object_new_object();
        if (v)
            json_object_object_add(ev, key, v);
    }
    return v;
}

void ac_canon_set_str(json_object *obj, const char *key, const char *s)
{
    if (obj && s && *s)
        json_object_object_add(obj, key, json_object_new_string(s));
}

/* Money stays decimal text: "129.80" as given, a JSON number as printed
 * by json-c with two decimals when it has a fraction. */
void ac_canon_set_money(json_object *obj, const char *key, json_object *v)
{
    char buf[64];
    if (!obj || !v)
        return;
    switch (json_object_get_type(v)) {
    case json_type_string: {
        const char *s = json_object_get_string(v);
        if (ac_event_plain_decimal(s))
            json_object_object_add(obj, key, json_object_new_string(s));
        return;
    }
    case json_type_int:
        snprintf(buf, sizeof(buf), "%" PRId64, json_object_get_int64(v));
        break;
    case json_type_double:
        snprintf(buf, sizeof(buf), "%.2f", json_object_get_double(v));
        break;
    default:
        return;
    }
    json_object_object_add(obj, key, json_object_new_string(buf));
}

json_object *ac_canon_event_new(const char *event_id, const char *type, const char *occurred_at,
                                const ac_canon_store_t *store, const char *order_id)
{
    char now[40];
    int64_t ms = 0;
    json_object *ev = json_object_new_object();
    if (!ev)
        return NULL;
    if (!occurred_at || ac_time_parse(occurred_at, &ms) != 0) {
        ac_time_format(ac_time_now_ms(), now, sizeof(now));
        occurred_at = now;
    }
    ac_canon_set_str(ev, "event_id", event_id);
    ac_canon_set_str(ev, "type", type);
    ac_canon_set_str(ev, "occurred_at", occurred_at);
    if (store) {
        json_object *s = ac_canon_section(ev, "store");
        ac_canon_set_str(s, "id", store->id);
        ac_canon_set_str(s, "name", store->name);
        ac_canon_set_str(s, "locale", store->locale);
        ac_canon_set_str(s, "timezone", store->timezone);
    }
    ac_canon_set_str(ac_canon_section(ev, "order"), "id", order_id);
    return ev;
}

/* "2024-11-04 09:01:28" or "2024-11-04T09:01:28" without a zone, as
 * WooCommerce's *_gmt fields are: UTC. */
static int parse_naive_utc(const char *s, int64_t *ms)
{
    char buf[40];
    if (strlen(s) != 19 || (s[10] != ' ' && s[10] != 'T'))
        return -1;
    memcpy(buf, s, 19);
    buf[10] = 'T';
    memcpy(buf + 19, "Z", 2);
    return ac_time_parse(buf, ms);
}

/* "Tue, 20 Nov 2012 00:00:00 +0000": RFC 2822, BigCommerce's V2 dates.
 * The zone is exactly four digits and nothing follows it, so that
 * "+05:30" is refused rather than read as "+0005". */
static int parse_rfc2822(const char *s, int64_t *ms)
{
    static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    char mon[4] = "";
    int day, year, hh, mm, ss, z0 = 0, z1 = 0;
    char sign;
    int zone;
    const char *p = strchr(s, ',');
    p = p ? p + 1 : s;
    if (sscanf(p, " %d %3s %d %d:%d:%d %c%n%4d%n", &day, mon, &year, &hh, &mm, &ss, &sign, &z0,
               &zone, &z1) != 8 ||
        (sign != '+' && sign != '-') || z1 - z0 != 4 || !isdigit((unsigned char)p[z0]) ||
        p[z1 + strspn(p + z1, " \t")] != '\0')
        return -1;
    const char *m = strstr(months, mon);
    if (!m || strlen(mon) != 3 || (m - months) % 3)
        return -1;
    char buf[96];
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d%c%02d:%02d", year,
             (int)((m - months) / 3) + 1, day, hh, mm, ss, sign, zone / 100, zone % 100);
    return ac_time_parse(buf, ms);
}

const char *ac_canon_time(json_object *v, char *out, size_t outsz)
{
    int64_t ms = 0;
    if (!v)
        return NULL;
    if (json_object_is_type(v, json_type_int)) {
        int64_t s = json_object_get_int64(v);
        if (s <= 0 || s > 253402300799LL)
            return NULL;
        ac_time_format(s * 1000, out, outsz);
        return out;
    }
    if (!json_object_is_type(v, json_type_string))
        return NULL;
    const char *s = json_object_get_string(v);
    if (ac_time_parse(s, &ms) == 0) {
        /* Text too long for out is written in the short form rather than
         * cut into something unreadable. */
        if (strlen(s) < outsz)
            memcpy(out, s, strlen(s) + 1);
        else
            ac_time_format(ms, out, outsz);
        return out;
    }
    char *end = NULL;
    long long secs = strtoll(s, &end, 10);
    if (end != s && *end == '\0' && secs > 0 && secs <= 253402300799LL) {
        ac_time_format((int64_t)secs * 1000, out, outsz);
        return out;
    }
    if (parse_naive_utc(s, &ms) == 0 || parse_rfc2822(s, &ms) == 0) {
        ac_time_format(ms, out, outsz);
        return out;
    }
    return NULL;
}

int ac_canon_needs_context(json_object *ev)
{
    char buf[256];
    return ac_canon_id_of(ac_canon_obj(ev, "customer"), "id", buf, sizeof(buf)) == NULL;
}

/* Copies every member of src that dst lacks (or holds as null). */
static void fill_missing(json_object *dst, json_object *src)
{
    if (!dst || !src)
        return;
    json_object_object_foreach(src, key, val)
    {
        json_object *have = NULL;
        if (json_object_object_get_ex(dst, key, &have) && have)
            continue;
        json_object *copy = NULL;
        if (json_object_deep_copy(val, &copy, NULL) == 0)
            json_object_object_add(dst, key, copy);
    }
}

json_object *ac_canon_context(json_object *ev)
{
    static const char *const sections[] = {"store", "order", "customer"};
    if (ac_canon_needs_context(ev))
        return NULL;
    json_object *ctx = json_object_new_object();
    for (size_t i = 0; ctx && i < sizeof(sections) / sizeof(sections[0]); i++) {
        json_object *s = ac_canon_obj(ev, sections[i]);
        json_object *copy = NULL;
        if (s && json_object_deep_copy(s, &copy, NULL) == 0)
            json_object_object_add(ctx, sections[i], copy);
    }
    return ctx;
}

int ac_canon_complete(json_object *ev, json_object *ctx)
{
    char buf[256];
    json_object *cust = ac_canon_obj(ctx, "customer");
    if (!ac_canon_id_of(cust, "id", buf, sizeof(buf)))
        return -1;
    fill_missing(ac_canon_section(ev, "customer"), cust);
    fill_missing(ac_canon_section(ev, "order"), ac_canon_obj(ctx, "order"));
    fill_missing(ac_canon_section(ev, "store"), ac_canon_obj(ctx, "store"));
    json_object *shp = ac_canon_obj(ev, "shipment");
    const char *sid = ac_canon_id_of(shp, "id", buf, sizeof(buf));
    if (sid)
        fill_missing(shp, ac_canon_obj(ac_canon_obj(ctx, "shipments"), sid));
    return 0;
}

const char *ac_canon_topic(const char *type)
{
    if (!type)
        return NULL;
    if (strncmp(type, "order.", 6) == 0 || strncmp(type, "feedback.", 9) == 0)
        return "orders";
    if (strncmp(type, "shipment.", 9) == 0)
        return "shipments";
    if (strncmp(type, "return.", 7) == 0)
        return "returns";
    return NULL;
}
