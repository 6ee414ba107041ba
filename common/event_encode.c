/* The trimmed form of an event (event.h, ac_event_encode()): compact JSON
 * holding exactly what ac_event_t carries, at the paths of docs/events.md,
 * so that what is kept for later (a scheduled message) costs no more than
 * what will be read from it. */
#include "event.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* The output, whether the object being written has a member yet, and
 * whether ids are written as strings whatever they hold. */
typedef struct writer {
    ac_buf_t b;
    int first;
    int ids_as_text;
} writer_t;

/* Writes s as a JSON string. Quotes, backslashes and control characters
 * are escaped; everything else, UTF-8 included, is copied as it is (a
 * parsed event's strings are valid UTF-8 without NULs). */
static void put_string(writer_t *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    const char *run = s;
    ac_buf_append(&w->b, "\"", 1);
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        ac_buf_append(&w->b, run, (size_t)(p - run));
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            ac_buf_append(&w->b, esc, 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            ac_buf_append(&w->b, esc, 6);
        }
        run = p + 1;
    }
    ac_buf_append(&w->b, run, strlen(run));
    ac_buf_append(&w->b, "\"", 1);
}

/* Starts a member: the comma before all but the first, and the key. */
static void put_key(writer_t *w, const char *key)
{
    if (!w->first)
        ac_buf_append(&w->b, ",", 1);
    w->first = 0;
    put_string(w, key);
    ac_buf_append(&w->b, ":", 1);
}

static void put_str(writer_t *w, const char *key, const char *v)
{
    if (!v)
        return;
    put_key(w, key);
    put_string(w, v);
}

/* True when id is a whole number as the parser prints one it read as a
 * JSON number: an optional minus, no leading zero, not "-0", and short
 * enough to be far from the 64-bit limits (which the parser refuses). */
static int plain_integer(const char *id)
{
    const char *d = id[0] == '-' ? id + 1 : id;
    size_t n = strspn(d, "0123456789");
    return n > 0 && n <= 18 && d[n] == '\0' && (d[0] != '0' || (n == 1 && d == id));
}

/* An id is read as text, from a string or a whole number alike: one that
 * arrived as a number (or a string of the same digits) is written as a
 * number, two bytes shorter and read back as the same text. */
static void put_id(writer_t *w, const char *key, const char *id)
{
    if (!id)
        return;
    if (w->ids_as_text || !plain_integer(id)) {
        put_str(w, key, id);
        return;
    }
    put_key(w, key);
    ac_buf_puts(&w->b, id);
}

/* A double in the fewest digits that read back as the same value: money
 * stays "129.9" rather than "129.90000000000001". The parser refuses
 * infinities and NaN, so the text is always a JSON number. */
static void put_num(writer_t *w, const char *key, double v)
{
    char text[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(text, sizeof(text), "%.*g", prec, v);
        if (strtod(text, NULL) == v)
            break;
    }
    put_key(w, key);
    ac_buf_puts(&w->b, text);
}

static void put_int(writer_t *w, const char *key, int64_t v)
{
    put_key(w, key);
    ac_buf_append_int(&w->b, (long long)v);
}

static void open_object(writer_t *w, const char *key)
{
    if (key)
        put_key(w, key);
    ac_buf_append(&w->b, "{", 1);
    w->first = 1;
}

static void close_object(writer_t *w)
{
    ac_buf_append(&w->b, "}", 1);
    w->first = 0;
}

/* True when any of the n strings is given: an object without any is left
 * out, as the parser reads a missing object and an empty one alike. */
static int any_of(const char *const *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i])
            return 1;
    return 0;
}

static void put_items(writer_t *w, const ac_event_t *ev)
{
    put_key(w, "items");
    ac_buf_append(&w->b, "[", 1);
    for (size_t i = 0; i < ev->order.n_items; i++) {
        const ac_event_item_t *it = &ev->order.items[i];
        if (i)
            ac_buf_append(&w->b, ",", 1);
        open_object(w, NULL);
        put_id(w, "sku", it->sku);
        put_str(w, "name", it->name);
        put_str(w, "category", it->category);
        put_int(w, "quantity", it->quantity);
        if (it->has_price)
            put_num(w, "price", it->price);
        close_object(w);
    }
    ac_buf_append(&w->b, "]", 1);
    w->first = 0;
}

/* The store, only when something of it is given. */
static void put_store(writer_t *w, const ac_event_t *ev)
{
    const char *store[] = {ev->store.id, ev->store.name, ev->store.locale, ev->store.timezone};
    if (any_of(store, 4)) {
        open_object(w, "store");
        put_id(w, "id", ev->store.id);
        put_str(w, "name", ev->store.name);
        put_str(w, "locale", ev->store.locale);
        put_str(w, "timezone", ev->store.timezone);
        close_object(w);
    }
}

/* The store and the order: order.id is always there (the parser requires
 * it). */
static void put_store_order(writer_t *w, const ac_event_t *ev)
{
    put_store(w, ev);
    open_object(w, "order");
    put_id(w, "id", ev->order.id);
    put_id(w, "number", ev->order.number);
    put_str(w, "currency", ev->order.currency);
    put_str(w, "promised_delivery_date", ev->order.promised_delivery_date);
    if (ev->order.has_total)
        put_num(w, "total", ev->order.total);
    if (ev->order.n_items)
        put_items(w, ev);
    close_object(w);
}

static void put_customer(writer_t *w, const ac_event_t *ev)
{
    open_object(w, "customer");
    put_id(w, "id", ev->customer.id);
    put_str(w, "email", ev->customer.email);
    put_str(w, "phone", ev->customer.phone);
    put_str(w, "first_name", ev->customer.first_name);
    put_str(w, "locale", ev->customer.locale);
    put_str(w, "timezone", ev->customer.timezone);
    if (ev->customer.has_marketing_consent) {
        put_key(w, "marketing_consent");
        ac_buf_puts(&w->b, ev->customer.marketing_consent ? "true" : "false");
    }
    close_object(w);
}

/* The shipment, the return and the feedback, each only when given. */
static void put_rest(writer_t *w, const ac_event_t *ev)
{
    const char *shp[] = {
        ev->shipment.id,           ev->shipment.carrier, ev->shipment.tracking_number,
        ev->shipment.tracking_url, ev->shipment.status,  ev->shipment.estimated_delivery};
    const char *ret[] = {ev->ret.id, ev->ret.reason, ev->ret.label_url, ev->ret.instructions_url};
    if (any_of(shp, 6)) {
        open_object(w, "shipment");
        put_id(w, "id", ev->shipment.id);
        put_str(w, "carrier", ev->shipment.carrier);
        put_id(w, "tracking_number", ev->shipment.tracking_number);
        put_str(w, "tracking_url", ev->shipment.tracking_url);
        put_str(w, "status", ev->shipment.status);
        put_str(w, "estimated_delivery", ev->shipment.estimated_delivery);
        close_object(w);
    }
    if (any_of(ret, 4) || ev->ret.has_refund_amount) {
        open_object(w, "return");
        put_id(w, "id", ev->ret.id);
        put_str(w, "reason", ev->ret.reason);
        put_str(w, "label_url", ev->ret.label_url);
        put_str(w, "instructions_url", ev->ret.instructions_url);
        if (ev->ret.has_refund_amount)
            put_num(w, "refund_amount", ev->ret.refund_amount);
        close_object(w);
    }
    if (ev->feedback.rating || ev->feedback.comment) {
        open_object(w, "feedback");
        if (ev->feedback.rating)
            put_int(w, "rating", ev->feedback.rating);
        put_str(w, "comment", ev->feedback.comment);
        close_object(w);
    }
}

/* Hands over what w wrote, its length in *len (when len is given). */
static char *finish(writer_t *w, size_t *len)
{
    size_t n = w->b.len;
    char *out = ac_buf_steal(&w->b);
    if (out && len)
        *len = n;
    return out;
}

char *ac_event_encode(const ac_event_t *ev, size_t *len)
{
    writer_t w = {AC_BUF_INIT, 1, 0};
    open_object(&w, NULL);
    put_str(&w, "event_id", ev->event_id);
    put_str(&w, "type", ev->type_name);
    put_str(&w, "occurred_at", ev->occurred_at);
    put_store_order(&w, ev);
    put_customer(&w, ev);
    put_rest(&w, ev);
    close_object(&w);
    return finish(&w, len);
}

char *ac_event_encode_context(const ac_event_t *ev, size_t *len)
{
    writer_t w = {AC_BUF_INIT, 1, 1};
    open_object(&w, NULL);
    put_store(&w, ev);
    put_customer(&w, ev);
    open_object(&w, "order");
    put_id(&w, "number", ev->order.number);
    close_object(&w);
    close_object(&w);
    return finish(&w, len);
}
