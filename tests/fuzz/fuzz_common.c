#include "fuzz_common.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include "provider.h"
#include "sms.h"
#include "timeutil.h"

/* notify-worker's limit on a notification record (common/notify.c). */
#define NOTIFY_MAX_RECORD_BYTES (4 * 1024 * 1024)

/* The times ac_time_format() writes in a form ac_time_parse() reads back:
 * years 0000 to 9999. */
#define TIME_MIN_MS (-62167219200000LL)
#define TIME_MAX_MS 253402300799999LL

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: property failed: %s: ", file, line, cond);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}

char *fuzz_memdup(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    else
        s[0] = '\0';
    return s;
}

char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        abort();
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

size_t fuzz_split(const uint8_t *data, size_t size, char **copy, const char **fields, size_t max)
{
    char *s = fuzz_strndup(data, size);
    size_t n = 0;
    const char *p = s, *end = s + size;
    for (size_t i = 0; i < max; i++)
        fields[i] = "";
    while (n < max) {
        fields[n++] = p;
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        if (!nul)
            break;
        p = nul + 1;
    }
    *copy = s;
    return n;
}

/* The length of the longest prefix of s[0..n) that is valid UTF-8 and ends
 * on a character boundary. */
static size_t utf8_valid_prefix(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        unsigned cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return i;
        }
        if (i + len > n)
            return i;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
            return i;
        i += len;
    }
    return n;
}

int fuzz_utf8_valid(const char *s, size_t n)
{
    return utf8_valid_prefix(s, n) == n;
}

static int utf8z(const char *s)
{
    return !s || fuzz_utf8_valid(s, strlen(s));
}

static int same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* An optional string of the event: readable to its end, and UTF-8, since
 * the record was. */
static void check_text(const char *name, const char *s)
{
    if (!s)
        return;
    FUZZ_CHECK(utf8z(s), "event field %s is not valid UTF-8", name);
}

/* An id: present, non-empty, at most AC_EVENT_MAX_ID_LEN bytes. */
static void check_id(const char *name, const char *s, int required)
{
    if (!s) {
        FUZZ_CHECK(!required, "required id %s is missing", name);
        return;
    }
    size_t n = strlen(s);
    FUZZ_CHECK(n > 0, "id %s is empty", name);
    FUZZ_CHECK(n <= AC_EVENT_MAX_ID_LEN, "id %s has %zu bytes", name, n);
    check_text(name, s);
}

static void check_money(const char *name, int has, double v)
{
    if (has)
        FUZZ_CHECK(isfinite(v) && v <= 1e15 && v >= -1e15, "%s = %g", name, v);
}

void fuzz_check_event(const ac_event_t *ev)
{
    FUZZ_CHECK(ev->root != NULL || ev->raw != NULL, "the event owns no document");
    check_id("event_id", ev->event_id, 1);
    check_id("order.id", ev->order.id, 1);
    check_id("customer.id", ev->customer.id, 1);
    check_id("store.id", ev->store.id, 0);
    FUZZ_CHECK(ev->type_name && *ev->type_name, "no type name");
    FUZZ_CHECK(ev->occurred_at && *ev->occurred_at, "no occurred_at");
    check_text("type", ev->type_name);
    check_text("occurred_at", ev->occurred_at);

    FUZZ_CHECK(ev->type >= AC_EVENT_UNKNOWN && ev->type < AC_EVENT__COUNT, "type %d", ev->type);
    if (ev->type == AC_EVENT_UNKNOWN) {
        FUZZ_CHECK(ac_event_type_parse(ev->type_name) == AC_EVENT_UNKNOWN, "type %s",
                   ev->type_name);
        FUZZ_CHECK(ac_event_type_topic(ev->type) == NULL, "an unknown type has a topic");
    } else {
        FUZZ_CHECK(strcmp(ac_event_type_name(ev->type), ev->type_name) == 0, "type %s read as %s",
                   ev->type_name, ac_event_type_name(ev->type));
        FUZZ_CHECK(ac_event_type_topic(ev->type) != NULL, "type %s has no topic", ev->type_name);
    }
    int64_t ms = 0;
    FUZZ_CHECK(ac_time_parse(ev->occurred_at, &ms) == 0 && ms == ev->occurred_ms,
               "occurred_at %s read as %lld", ev->occurred_at, (long long)ev->occurred_ms);

    const char *texts[][2] = {
        {"store.name", ev->store.name},
        {"store.locale", ev->store.locale},
        {"store.timezone", ev->store.timezone},
        {"order.number", ev->order.number},
        {"order.currency", ev->order.currency},
        {"order.promised_delivery_date", ev->order.promised_delivery_date},
        {"customer.email", ev->customer.email},
        {"customer.phone", ev->customer.phone},
        {"customer.first_name", ev->customer.first_name},
        {"customer.locale", ev->customer.locale},
        {"customer.timezone", ev->customer.timezone},
        {"shipment.id", ev->shipment.id},
        {"shipment.carrier", ev->shipment.carrier},
        {"shipment.tracking_number", ev->shipment.tracking_number},
        {"shipment.tracking_url", ev->shipment.tracking_url},
        {"shipment.status", ev->shipment.status},
        {"shipment.estimated_delivery", ev->shipment.estimated_delivery},
        {"return.id", ev->ret.id},
        {"return.reason", ev->ret.reason},
        {"return.label_url", ev->ret.label_url},
        {"return.instructions_url", ev->ret.instructions_url},
        {"feedback.comment", ev->feedback.comment},
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
        check_text(texts[i][0], texts[i][1]);

    check_money("order.total", ev->order.has_total, ev->order.total);
    check_money("return.refund_amount", ev->ret.has_refund_amount, ev->ret.refund_amount);
    FUZZ_CHECK(ev->order.n_items == 0 || ev->order.items != NULL, "%zu items, no array",
               ev->order.n_items);
    for (size_t i = 0; i < ev->order.n_items; i++) {
        const ac_event_item_t *it = &ev->order.items[i];
        FUZZ_CHECK(it->quantity >= 1, "item %zu has quantity %lld", i, (long long)it->quantity);
        check_money("items[].price", it->has_price, it->price);
        check_text("items[].sku", it->sku);
        check_text("items[].name", it->name);
        check_text("items[].category", it->category);
    }
    FUZZ_CHECK(ev->feedback.rating >= 0 && ev->feedback.rating <= 5, "rating %lld",
               (long long)ev->feedback.rating);
    if (ev->type == AC_EVENT_FEEDBACK_RECEIVED)
        FUZZ_CHECK(ev->feedback.rating >= 1, "feedback.received without a rating");
    FUZZ_CHECK(!ev->customer.marketing_consent || ev->customer.has_marketing_consent,
               "consent without the field");
}

void fuzz_check_same_event(const ac_event_t *a, const ac_event_t *b)
{
#define SAME_STR(f) FUZZ_CHECK(same_str(a->f, b->f), "%s differs", #f)
#define SAME_NUM(f) FUZZ_CHECK(a->f == b->f, "%s differs", #f)
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
    if (a->order.has_total)
        SAME_NUM(order.total);
    SAME_NUM(order.n_items);
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
    if (a->ret.has_refund_amount)
        SAME_NUM(ret.refund_amount);
    SAME_NUM(feedback.rating);
    SAME_STR(feedback.comment);
    for (size_t i = 0; i < a->order.n_items; i++) {
        SAME_STR(order.items[i].sku);
        SAME_STR(order.items[i].name);
        SAME_STR(order.items[i].category);
        SAME_NUM(order.items[i].quantity);
        SAME_NUM(order.items[i].has_price);
        if (a->order.items[i].has_price)
            SAME_NUM(order.items[i].price);
    }
#undef SAME_STR
#undef SAME_NUM
}

/* What a time reads as after a trip through ac_time_format() and
 * ac_time_parse(); when is 0 for "not given". */
static int64_t time_roundtrip(int64_t ms)
{
    return ms >= TIME_MIN_MS && ms <= TIME_MAX_MS ? ms : 0;
}

void fuzz_check_message_roundtrip(const ac_message_t *m)
{
    size_t len = 0;
    char *rec = ac_message_encode(m->id, m->kind, m->created_ms, m->due_ms, m->event, &len);
    FUZZ_CHECK(rec != NULL, "encoding failed");
    FUZZ_CHECK(strlen(rec) == len, "encoded length %zu, strlen %zu", len, strlen(rec));
    ac_event_error_t err;
    memset(&err, 0, sizeof(err));
    ac_message_t *back = ac_message_decode(rec, len, NOTIFY_MAX_RECORD_BYTES, &err);
    FUZZ_CHECK(back != NULL, "an encoded message does not decode: %s (%s)", err.detail, rec);
    FUZZ_CHECK(strcmp(back->id, m->id) == 0, "id %s became %s", m->id, back->id);
    FUZZ_CHECK(back->kind == m->kind, "kind %d became %d", m->kind, back->kind);
    FUZZ_CHECK(back->created_ms == time_roundtrip(m->created_ms), "created %lld became %lld",
               (long long)m->created_ms, (long long)back->created_ms);
    int64_t due = m->due_ms > 0 ? time_roundtrip(m->due_ms) : 0;
    FUZZ_CHECK(back->due_ms == due, "due %lld became %lld", (long long)m->due_ms,
               (long long)back->due_ms);
    fuzz_check_event(back->event);
    fuzz_check_same_event(m->event, back->event);
    ac_message_destroy(back);
    free(rec);
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Checks every '<' of s: one of the tags (NULL-terminated list), or a link
 * to an http(s) URL. */
static void check_markup(const char *s, const char *const *tags)
{
    for (const char *p = strchr(s, '<'); p; p = strchr(p, '<')) {
        size_t i = 0;
        while (tags[i] && !starts_with(p, tags[i]))
            i++;
        if (tags[i]) {
            p += strlen(tags[i]);
            continue;
        }
        FUZZ_CHECK(starts_with(p, "<a href=\""), "unexpected markup at \"%.40s\"", p);
        const char *url = p + 9, *end = strchr(url, '"');
        FUZZ_CHECK(end && end[1] == '>', "unterminated link at \"%.40s\"", p);
        FUZZ_CHECK(strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0,
                   "a link to %.*s", (int)(end - url), url);
        for (const char *c = url; c < end; c++)
            FUZZ_CHECK(*c != '<' && *c != '>' && (unsigned char)*c > ' ' && *c != 0x7F,
                       "link %.*s has character 0x%02x", (int)(end - url), url, (unsigned char)*c);
        p = end + 2;
    }
}

void fuzz_check_html(const char *html)
{
    /* Everything render.c writes as markup; values and template text are
     * escaped, so no other '<' may appear. */
    static const char *const tags[] = {
        "<!DOCTYPE html>",
        "<html lang=\"en\">",
        "<html lang=\"de\">",
        "</html>",
        "<head>",
        "</head>",
        "<meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "<title>",
        "</title>",
        "<body>",
        "</body>",
        "<p>",
        "</p>",
        "<br>",
        "</a>",
        NULL,
    };
    FUZZ_CHECK(starts_with(html, "<!DOCTYPE html>\n<html lang=\""), "not an HTML document");
    check_markup(html, tags);
}

void fuzz_check_html_text(const char *s)
{
    static const char *const tags[] = {"</a>", NULL};
    check_markup(s, tags);
}

/* The rendered message of m on ch. */
static void check_rendered(const ac_rendered_t *r, ac_channel_t ch, int utf8_inputs)
{
    FUZZ_CHECK(r->text != NULL, "no text");
    FUZZ_CHECK(r->language && (strcmp(r->language, "en") == 0 || strcmp(r->language, "de") == 0),
               "language %s", r->language ? r->language : "(null)");
    if (ch == AC_CHANNEL_EMAIL) {
        FUZZ_CHECK(r->subject != NULL && r->html != NULL, "an email without subject or HTML");
        fuzz_check_html(r->html);
    } else {
        FUZZ_CHECK(r->subject == NULL && r->html == NULL, "an SMS with a subject or HTML");
        ac_sms_count_t c;
        ac_sms_count(r->text, &c);
        FUZZ_CHECK(c.encoding == r->sms.encoding && c.units == r->sms.units &&
                       c.segments == r->sms.segments,
                   "the SMS count does not match its text");
        FUZZ_CHECK(r->sms.segments >= 1, "an SMS in no segments");
    }
    if (utf8_inputs) {
        const char *parts[][2] = {{"text", r->text}, {"subject", r->subject}, {"html", r->html}};
        for (size_t i = 0; i < 3; i++) {
            const char *p = parts[i][1];
            if (!p || utf8z(p))
                continue;
            size_t at = utf8_valid_prefix(p, strlen(p));
            size_t from = at > 24 ? at - 24 : 0;
            fuzz_fail(__FILE__, __LINE__, "valid UTF-8", "the %s is not, at byte %zu: \"%.*s\"",
                      parts[i][0], at, (int)(at - from + 1), p + from);
        }
    }
}

/* The string field key of a JSON object, or NULL. */
static const char *json_field(json_object *o, const char *key)
{
    json_object *v;
    if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

static json_object *parse_body(const ac_provider_request_t *req)
{
    json_tokener *tok = json_tokener_new();
    FUZZ_CHECK(tok != NULL, "out of memory");
    json_object *o = json_tokener_parse_ex(tok, req->body, (int)req->body_len);
    FUZZ_CHECK(o && json_tokener_get_error(tok) == json_tokener_success &&
                   json_tokener_get_parse_end(tok) == req->body_len,
               "the request body is not one JSON value: %s", req->body);
    json_tokener_free(tok);
    return o;
}

/* The value of name in an application/x-www-form-urlencoded body (to free). */
static char *form_field(const char *body, const char *name)
{
    size_t nlen = strlen(name);
    for (const char *p = body; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
        if (strncmp(p, name, nlen) != 0 || p[nlen] != '=')
            continue;
        const char *v = p + nlen + 1;
        size_t n = strcspn(v, "&");
        char *out = malloc(n + 1), *o = out;
        FUZZ_CHECK(out != NULL, "out of memory");
        for (size_t i = 0; i < n; i++) {
            if (v[i] == '+') {
                *o++ = ' ';
            } else if (v[i] == '%' && i + 2 < n) {
                unsigned x = 0;
                FUZZ_CHECK(sscanf(v + i + 1, "%2x", &x) == 1, "bad escape in %s", body);
                *o++ = (char)x;
                i += 2;
            } else {
                *o++ = v[i];
            }
        }
        *o = '\0';
        return out;
    }
    return NULL;
}

#define FUZZ_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

static const ac_provider_settings_t provider_settings = {
    .primary = {AC_PROVIDER_SENDGRID, AC_PROVIDER_TWILIO},
    .fallback = {AC_PROVIDER_WEBHOOK, AC_PROVIDER_WEBHOOK},
    .webhook_url = "http://127.0.0.1:9/webhook",
    .webhook_secret = FUZZ_SECRET " " FUZZ_SECRET,
    .sendgrid_url = "http://127.0.0.1:9/v3/mail/send",
    .sendgrid_api_key = "SG.fuzz",
    .email_from = "orders@shop.example",
    .email_from_name = "Shop \"Customer\" Service",
    .twilio_url = "http://127.0.0.1:9",
    .twilio_account_sid = "ACfuzz",
    .twilio_auth_token = "token",
    .sms_from = "+15005550006",
    .failover_after = 5,
    .failover_cooldown_ms = 30000,
};

void fuzz_check_provider(ac_provider_kind_t kind, const ac_provider_settings_t *s,
                         const ac_message_t *m, ac_channel_t ch, const char *to,
                         const ac_rendered_t *r)
{
    char err[256] = "";
    ac_provider_t *p = ac_provider_new(kind, s, err, sizeof(err));
    FUZZ_CHECK(p != NULL, "provider %s: %s", ac_provider_name(kind), err);
    ac_provider_request_t req;
    int rc = ac_provider_request(p, m, ch, to, r, 1732530000000LL, &req, err, sizeof(err));
    FUZZ_CHECK(rc == 0, "no %s request: %s", ac_provider_name(kind), err);
    FUZZ_CHECK(req.url && req.body && strlen(req.body) == req.body_len, "an incomplete request");
    int signed_ = 0;
    for (const struct curl_slist *h = req.headers; h; h = h->next) {
        FUZZ_CHECK(!strpbrk(h->data, "\r\n") && strchr(h->data, ':'), "header line \"%s\"",
                   h->data);
        signed_ |= starts_with(h->data, "webhook-signature: v1,");
    }
    if (kind == AC_PROVIDER_TWILIO) {
        char *body = form_field(req.body, "Body"), *dest = form_field(req.body, "To");
        FUZZ_CHECK(body && strcmp(body, r->text) == 0, "Twilio's Body is not the text");
        FUZZ_CHECK(dest && strcmp(dest, to) == 0, "Twilio's To is not the address");
        free(body);
        free(dest);
    } else {
        json_object *o = parse_body(&req);
        if (kind == AC_PROVIDER_SENDGRID)
            FUZZ_CHECK(same_str(json_field(o, "subject"), r->subject ? r->subject : ""),
                       "SendGrid's subject differs");
        if (kind == AC_PROVIDER_WEBHOOK) {
            FUZZ_CHECK(signed_ == (s->webhook_secret != NULL), "the webhook request is %s",
                       signed_ ? "signed without a secret" : "not signed");
            FUZZ_CHECK(same_str(json_field(o, "text"), r->text), "webhook text differs");
            FUZZ_CHECK(same_str(json_field(o, "subject"), r->subject), "webhook subject differs");
            FUZZ_CHECK(same_str(json_field(o, "html"), r->html), "webhook html differs");
            FUZZ_CHECK(same_str(json_field(o, "to"), to), "webhook address differs");
            FUZZ_CHECK(same_str(json_field(o, "id"), m->id), "webhook id differs");
        }
        json_object_put(o);
    }
    ac_provider_request_free(&req);
    ac_provider_destroy(p);
}

/* Builds the request each provider that serves ch makes for m, and checks
 * that it carries what was rendered, with clean header lines. */
static void check_requests(const ac_message_t *m, ac_channel_t ch, const char *to,
                           const ac_rendered_t *r)
{
    static const ac_provider_kind_t kinds[] = {AC_PROVIDER_WEBHOOK, AC_PROVIDER_SENDGRID,
                                               AC_PROVIDER_TWILIO};
    for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
        if (ac_provider_serves(kinds[k], ch))
            fuzz_check_provider(kinds[k], &provider_settings, m, ch, to, r);
}

void fuzz_deliver(const ac_message_t *m, const ac_render_extras_t *x, int prefer, int utf8_inputs)
{
    const ac_event_t *ev = m->event;
    ac_channel_t chosen = AC_CHANNEL_EMAIL;
    const char *to = NULL;
    int has_email = ev->customer.email && strchr(ev->customer.email, '@');
    int has_phone = ev->customer.phone && *ev->customer.phone;
    if (ac_channel_choose(ev, prefer, &chosen, &to) == 0) {
        FUZZ_CHECK(to == (chosen == AC_CHANNEL_EMAIL ? ev->customer.email : ev->customer.phone),
                   "the address is not the channel's");
        FUZZ_CHECK(chosen == AC_CHANNEL_SMS ? has_phone : has_email, "an unreachable channel");
        FUZZ_CHECK(chosen == AC_CHANNEL_SMS || prefer != AC_CHANNEL_SMS || !has_phone,
                   "the preferred channel was not taken");
    } else {
        FUZZ_CHECK(!has_email && !has_phone, "a reachable customer was given up");
    }
    for (int c = 0; c < AC_CHANNEL__COUNT; c++) {
        ac_channel_t ch = (ac_channel_t)c;
        ac_rendered_t r;
        char err[256] = "";
        int rc = ac_render_message_with(m, ch, x, &r, err, sizeof(err));
        FUZZ_CHECK(rc == 0, "rendering %s over %s failed: %s", ac_kind_name(m->kind),
                   ac_channel_name(ch), err);
        check_rendered(&r, ch, utf8_inputs);
        const char *addr = ch == AC_CHANNEL_EMAIL ? ev->customer.email : ev->customer.phone;
        check_requests(m, ch, addr ? addr : "", &r);
        ac_rendered_free(&r);
    }
}
