#include "provider.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "buf.h"
#include "webhook.h"

/* ------------------------------------------------------------------ names */

static const char *const kind_names[] = {"none", "webhook", "sendgrid", "twilio"};

const char *ac_provider_name(ac_provider_kind_t kind)
{
    if ((unsigned)kind >= sizeof(kind_names) / sizeof(kind_names[0]))
        return "unknown";
    return kind_names[kind];
}

int ac_provider_parse(const char *name, ac_provider_kind_t *kind)
{
    for (size_t i = 0; name && i < sizeof(kind_names) / sizeof(kind_names[0]); i++) {
        if (strcmp(name, kind_names[i]) == 0) {
            *kind = (ac_provider_kind_t)i;
            return 0;
        }
    }
    return -1;
}

int ac_provider_serves(ac_provider_kind_t kind, ac_channel_t ch)
{
    switch (kind) {
    case AC_PROVIDER_WEBHOOK:
        return 1;
    case AC_PROVIDER_SENDGRID:
        return ch == AC_CHANNEL_EMAIL;
    case AC_PROVIDER_TWILIO:
        return ch == AC_CHANNEL_SMS;
    case AC_PROVIDER_NONE:
        break;
    }
    return 0;
}

/* -------------------------------------------------------------- settings */

/* Accepts the providers that can serve ch, and "none" when allow_none. */
static int validate_kind(const char *value, ac_channel_t ch, int allow_none, char *why,
                         size_t whysz)
{
    ac_provider_kind_t k;
    if (ac_provider_parse(value, &k) == 0 &&
        (k == AC_PROVIDER_NONE ? allow_none : ac_provider_serves(k, ch)))
        return 0;
    snprintf(why, whysz, "expected %s%s", allow_none ? "none, " : "",
             ch == AC_CHANNEL_EMAIL ? "webhook or sendgrid" : "webhook or twilio");
    return -1;
}

int ac_provider_validate_email_provider(const char *value, char *why, size_t whysz)
{
    return validate_kind(value, AC_CHANNEL_EMAIL, 0, why, whysz);
}

int ac_provider_validate_sms_provider(const char *value, char *why, size_t whysz)
{
    return validate_kind(value, AC_CHANNEL_SMS, 0, why, whysz);
}

int ac_provider_validate_email_fallback(const char *value, char *why, size_t whysz)
{
    return validate_kind(value, AC_CHANNEL_EMAIL, 1, why, whysz);
}

int ac_provider_validate_sms_fallback(const char *value, char *why, size_t whysz)
{
    return validate_kind(value, AC_CHANNEL_SMS, 1, why, whysz);
}

int ac_provider_validate_credential(const char *value, char *why, size_t whysz)
{
    /* It ends up inside a header line: a space would be ambiguous and a
     * line break would let the value add headers of its own. */
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p <= 0x20 || *p >= 0x7f) {
            snprintf(why, whysz, "expected printable ASCII without spaces");
            return -1;
        }
    }
    if (strlen(value) > 512) {
        snprintf(why, whysz, "longer than 512 characters");
        return -1;
    }
    return 0;
}

int ac_provider_validate_email_address(const char *value, char *why, size_t whysz)
{
    const char *at = strchr(value, '@');
    int ok = at && at > value && at[1] && !strchr(at + 1, '@') && strlen(value) <= 254;
    for (const unsigned char *p = (const unsigned char *)value; ok && *p; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == '<' || *p == '>' || *p == ',')
            ok = 0;
    if (!ok) {
        snprintf(why, whysz, "expected an email address such as orders@example.com");
        return -1;
    }
    return 0;
}

int ac_provider_validate_display_name(const char *value, char *why, size_t whysz)
{
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            snprintf(why, whysz, "control characters are not allowed");
            return -1;
        }
    }
    if (strlen(value) > 256) {
        snprintf(why, whysz, "longer than 256 bytes");
        return -1;
    }
    return 0;
}

int ac_provider_validate_sms_sender(const char *value, char *why, size_t whysz)
{
    size_t n = strlen(value), digits = 0, letters = 0;
    if (value[0] == '+') {
        for (size_t i = 1; i < n; i++)
            digits += isdigit((unsigned char)value[i]) != 0;
        if (digits == n - 1 && digits >= 6 && digits <= 15)
            return 0;
    } else if (n >= 1 && n <= 11) {
        size_t ok = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)value[i];
            letters += isalpha(c) != 0;
            ok += isalnum(c) || c == ' ';
        }
        if (ok == n && letters > 0)
            return 0;
    }
    snprintf(why, whysz,
             "expected a phone number in E.164 form (+14155550100) or an alphanumeric sender id "
             "of up to 11 characters");
    return -1;
}

/* The configuration's value of name, NULL when unset or empty. */
static const char *setting(const ac_config_t *cfg, const char *name)
{
    const char *v = ac_config_str(cfg, name);
    return v && *v ? v : NULL;
}

static int load_kind(const ac_config_t *cfg, const char *name, const char *def,
                     ac_provider_kind_t *out, char *err, size_t errsz)
{
    const char *v = setting(cfg, name);
    if (!v)
        v = def;
    if (ac_provider_parse(v, out) < 0) {
        snprintf(err, errsz, "invalid setting %s=%s: not a provider", name, v);
        return -1;
    }
    return 0;
}

int ac_provider_settings_load(const ac_config_t *cfg, ac_provider_settings_t *s, char *err,
                              size_t errsz)
{
    memset(s, 0, sizeof(*s));
    if (load_kind(cfg, "EMAIL_PROVIDER", "webhook", &s->primary[AC_CHANNEL_EMAIL], err, errsz) <
            0 ||
        load_kind(cfg, "SMS_PROVIDER", "webhook", &s->primary[AC_CHANNEL_SMS], err, errsz) < 0 ||
        load_kind(cfg, "EMAIL_FALLBACK", "none", &s->fallback[AC_CHANNEL_EMAIL], err, errsz) < 0 ||
        load_kind(cfg, "SMS_FALLBACK", "none", &s->fallback[AC_CHANNEL_SMS], err, errsz) < 0)
        return -1;
    s->webhook_url = setting(cfg, "WEBHOOK_URL");
    s->webhook_secret = setting(cfg, "WEBHOOK_SECRET");
    s->sendgrid_url = setting(cfg, "SENDGRID_URL");
    s->sendgrid_api_key = setting(cfg, "SENDGRID_API_KEY");
    s->email_from = setting(cfg, "EMAIL_FROM");
    s->email_from_name = setting(cfg, "EMAIL_FROM_NAME");
    s->twilio_url = setting(cfg, "TWILIO_URL");
    s->twilio_account_sid = setting(cfg, "TWILIO_ACCOUNT_SID");
    s->twilio_auth_token = setting(cfg, "TWILIO_AUTH_TOKEN");
    s->sms_from = setting(cfg, "SMS_FROM");
    s->failover_after = (int)ac_config_int(cfg, "FAILOVER_AFTER");
    s->failover_cooldown_ms = ac_config_int(cfg, "FAILOVER_COOLDOWN");
    return 0;
}

/* The flag of a setting: WEBHOOK_URL -> webhook-url. */
static void flag_of(const char *env, char *buf, size_t bufsz)
{
    size_t i = 0;
    for (; env[i] && i + 1 < bufsz; i++)
        buf[i] = env[i] == '_' ? '-' : (char)tolower((unsigned char)env[i]);
    buf[i] = '\0';
}

typedef struct required {
    const char *value;
    const char *name;
} required_t;

/* Fails unless every one of the n settings in req is set, naming the first
 * missing one and the setting that needs it. */
static int need(const required_t *req, size_t n, const char *user, ac_provider_kind_t kind,
                char *err, size_t errsz)
{
    char flag[64];
    for (size_t i = 0; i < n; i++) {
        if (req[i].value)
            continue;
        flag_of(req[i].name, flag, sizeof(flag));
        snprintf(err, errsz, "missing setting %s (--%s): required when %s=%s", req[i].name, flag,
                 user, ac_provider_name(kind));
        return -1;
    }
    return 0;
}

typedef struct use {
    const char *name; /* the setting that chose the provider */
    ac_provider_kind_t kind;
    ac_channel_t ch;
    int fallback;
} use_t;

int ac_provider_settings_check(const ac_provider_settings_t *s, char *err, size_t errsz)
{
    static const char *const primary_names[] = {"EMAIL_PROVIDER", "SMS_PROVIDER"};
    static const char *const fallback_names[] = {"EMAIL_FALLBACK", "SMS_FALLBACK"};
    /* Every use in the order the settings are documented, so that the
     * first problem reported is the first a reader meets. */
    use_t uses[2 * AC_CHANNEL__COUNT];
    size_t n = 0;
    for (int ch = 0; ch < AC_CHANNEL__COUNT; ch++)
        uses[n++] = (use_t){primary_names[ch], s->primary[ch], (ac_channel_t)ch, 0};
    for (int ch = 0; ch < AC_CHANNEL__COUNT; ch++)
        uses[n++] = (use_t){fallback_names[ch], s->fallback[ch], (ac_channel_t)ch, 1};

    const required_t webhook[] = {{s->webhook_url, "WEBHOOK_URL"}};
    const required_t sendgrid[] = {{s->sendgrid_url, "SENDGRID_URL"},
                                   {s->sendgrid_api_key, "SENDGRID_API_KEY"},
                                   {s->email_from, "EMAIL_FROM"}};
    const required_t twilio[] = {{s->twilio_url, "TWILIO_URL"},
                                 {s->twilio_account_sid, "TWILIO_ACCOUNT_SID"},
                                 {s->twilio_auth_token, "TWILIO_AUTH_TOKEN"},
                                 {s->sms_from, "SMS_FROM"}};
    for (size_t i = 0; i < n; i++) {
        const use_t *u = &uses[i];
        const char *kname = ac_provider_name(u->kind);
        if (u->kind == AC_PROVIDER_NONE && u->fallback)
            continue;
        if (!ac_provider_serves(u->kind, u->ch)) {
            snprintf(err, errsz, "invalid setting %s=%s: %s cannot send %s", u->name, kname, kname,
                     ac_channel_name(u->ch));
            return -1;
        }
        if (u->fallback && u->kind == s->primary[u->ch]) {
            snprintf(err, errsz, "invalid setting %s=%s: must differ from %s", u->name, kname,
                     primary_names[u->ch]);
            return -1;
        }
        int rc = 0;
        switch (u->kind) {
        case AC_PROVIDER_WEBHOOK:
            rc = need(webhook, sizeof(webhook) / sizeof(webhook[0]), u->name, u->kind, err, errsz);
            break;
        case AC_PROVIDER_SENDGRID:
            rc = need(sendgrid, sizeof(sendgrid) / sizeof(sendgrid[0]), u->name, u->kind, err,
                      errsz);
            break;
        case AC_PROVIDER_TWILIO:
            rc = need(twilio, sizeof(twilio) / sizeof(twilio[0]), u->name, u->kind, err, errsz);
            break;
        case AC_PROVIDER_NONE:
            break;
        }
        if (rc < 0)
            return -1;
    }
    return 0;
}

int ac_provider_config_check(const ac_config_t *cfg, char *err, size_t errsz)
{
    ac_provider_settings_t s;
    if (ac_provider_settings_load(cfg, &s, err, errsz) < 0)
        return -1;
    return ac_provider_settings_check(&s, err, errsz);
}

/* ------------------------------------------------------------- providers */

struct ac_provider {
    ac_provider_kind_t kind;
    char *url;    /* where every request goes */
    char *secret; /* webhook: the Standard Webhooks secret(s), NULL for none */
    char *auth;   /* sendgrid, twilio: the whole Authorization header line */
    char *from;   /* sendgrid: EMAIL_FROM; twilio: SMS_FROM */
    char *from_name;
};

static char *dup_or_null(const char *s, int *oom)
{
    char *d = s ? strdup(s) : NULL;
    if (s && !d)
        *oom = 1;
    return d;
}

/* "Basic " and the base64 of "user:password", per RFC 7617. */
static char *basic_auth(const char *user, const char *password)
{
    ac_buf_t plain = AC_BUF_INIT;
    ac_buf_printf(&plain, "%s:%s", user, password);
    char *text = ac_buf_steal(&plain);
    if (!text)
        return NULL;
    size_t n = strlen(text);
    size_t prefix = strlen("Authorization: Basic ");
    char *line = malloc(prefix + 4 * ((n + 2) / 3) + 1);
    if (line) {
        memcpy(line, "Authorization: Basic ", prefix);
        EVP_EncodeBlock((unsigned char *)line + prefix, (const unsigned char *)text, (int)n);
    }
    free(text);
    return line;
}

ac_provider_t *ac_provider_new(ac_provider_kind_t kind, const ac_provider_settings_t *s, char *err,
                               size_t errsz)
{
    ac_provider_t *p = calloc(1, sizeof(*p));
    int oom = !p;
    ac_buf_t b = AC_BUF_INIT;
    if (oom)
        goto out;
    p->kind = kind;
    switch (kind) {
    case AC_PROVIDER_WEBHOOK:
        p->url = dup_or_null(s->webhook_url, &oom);
        p->secret = dup_or_null(s->webhook_secret, &oom);
        break;
    case AC_PROVIDER_SENDGRID:
        p->url = dup_or_null(s->sendgrid_url, &oom);
        ac_buf_printf(&b, "Authorization: Bearer %s", s->sendgrid_api_key);
        p->auth = ac_buf_steal(&b);
        oom |= !p->auth;
        p->from = dup_or_null(s->email_from, &oom);
        p->from_name = dup_or_null(s->email_from_name, &oom);
        break;
    case AC_PROVIDER_TWILIO: {
        /* The base URL may be given with a trailing slash; the API path
         * is appended to it either way. */
        size_t n = strlen(s->twilio_url);
        while (n > 0 && s->twilio_url[n - 1] == '/')
            n--;
        ac_buf_printf(&b, "%.*s/2010-04-01/Accounts/%s/Messages.json", (int)n, s->twilio_url,
                      s->twilio_account_sid);
        p->url = ac_buf_steal(&b);
        p->auth = basic_auth(s->twilio_account_sid, s->twilio_auth_token);
        oom |= !p->url || !p->auth;
        p->from = dup_or_null(s->sms_from, &oom);
        break;
    }
    case AC_PROVIDER_NONE:
        snprintf(err, errsz, "no provider to create");
        ac_provider_destroy(p);
        return NULL;
    }
    if (!p->url && !oom) {
        snprintf(err, errsz, "%s has no URL", ac_provider_name(kind));
        ac_provider_destroy(p);
        return NULL;
    }
out:
    if (oom) {
        snprintf(err, errsz, "out of memory");
        ac_provider_destroy(p);
        return NULL;
    }
    return p;
}

void ac_provider_destroy(ac_provider_t *p)
{
    if (!p)
        return;
    free(p->url);
    free(p->secret);
    free(p->auth);
    free(p->from);
    free(p->from_name);
    free(p);
}

ac_provider_kind_t ac_provider_kind(const ac_provider_t *p)
{
    return p->kind;
}

/* ------------------------------------------------------------- requests */

/* Appends one header line; on failure the list is freed and left NULL,
 * and later calls do nothing, so that a request is built whole or not at
 * all with a single check at the end. */
static void add_header(struct curl_slist **h, int *failed, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_header(struct curl_slist **h, int *failed, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    if (*failed)
        return;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    struct curl_slist *grown =
        n >= 0 && (size_t)n < sizeof(line) ? curl_slist_append(*h, line) : NULL;
    if (!grown) {
        curl_slist_free_all(*h);
        *h = NULL;
        *failed = 1;
        return;
    }
    *h = grown;
}

/* The store's webhook: the body and headers notify-worker has always sent. */
static int webhook_request(const ac_provider_t *p, const ac_message_t *m, ac_channel_t ch,
                           const char *to, const ac_rendered_t *r, int64_t now_ms,
                           ac_provider_request_t *out)
{
    int failed = 0;
    out->body = ac_webhook_body(m, ch, to, r, &out->body_len);
    if (!out->body)
        return -1;
    add_header(&out->headers, &failed, "Content-Type: application/json");
    add_header(&out->headers, &failed, "Idempotency-Key: %s", m->id);
    add_header(&out->headers, &failed, "webhook-id: %s", m->id);
    int64_t ts = now_ms / 1000;
    add_header(&out->headers, &failed, "webhook-timestamp: %lld", (long long)ts);
    if (p->secret) {
        char sig[1024], err[256];
        /* The secrets were validated at start-up, so signing fails only
         * when there are more of them than the header has room for; the
         * request then goes unsigned, as it always has. */
        if (ac_webhook_sign(p->secret, m->id, ts, out->body, out->body_len, sig, sizeof(sig), err,
                            sizeof(err)) == 0)
            add_header(&out->headers, &failed, "webhook-signature: %s", sig);
    }
    add_header(&out->headers, &failed, "Expect:"); /* no 100-continue round trip */
    return failed ? -1 : 0;
}

static json_object *json_str(const char *s)
{
    return json_object_new_string(s ? s : "");
}

/* SendGrid v3 mail send: https://docs.sendgrid.com/api-reference/mail-send */
static int sendgrid_request(const ac_provider_t *p, const ac_message_t *m, const char *to,
                            const ac_rendered_t *r, ac_provider_request_t *out)
{
    int failed = 0;
    json_object *o = json_object_new_object();
    if (!o)
        return -1;
    json_object *rcpt = json_object_new_object();
    json_object_object_add(rcpt, "email", json_str(to));
    json_object *tos = json_object_new_array();
    json_object_array_add(tos, rcpt);
    json_object *pers = json_object_new_object();
    json_object_object_add(pers, "to", tos);
    json_object *perss = json_object_new_array();
    json_object_array_add(perss, pers);
    json_object_object_add(o, "personalizations", perss);

    json_object *from = json_object_new_object();
    json_object_object_add(from, "email", json_str(p->from));
    if (p->from_name)
        json_object_object_add(from, "name", json_str(p->from_name));
    json_object_object_add(o, "from", from);
    json_object_object_add(o, "subject", json_str(r->subject));

    /* SendGrid wants text/plain first when both are given; mail clients
     * show the HTML part and fall back to the text. */
    json_object *content = json_object_new_array();
    json_object *plain = json_object_new_object();
    json_object_object_add(plain, "type", json_object_new_string("text/plain"));
    json_object_object_add(plain, "value", json_str(r->text));
    json_object_array_add(content, plain);
    if (r->html) {
        json_object *html = json_object_new_object();
        json_object_object_add(html, "type", json_object_new_string("text/html"));
        json_object_object_add(html, "value", json_str(r->html));
        json_object_array_add(content, html);
    }
    json_object_object_add(o, "content", content);

    /* Comes back in SendGrid's event webhook, tying events to the message. */
    json_object *args = json_object_new_object();
    json_object_object_add(args, "message_id", json_object_new_string(m->id));
    json_object_object_add(o, "custom_args", args);

    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (s && (out->body = malloc(n + 1))) {
        memcpy(out->body, s, n + 1);
        out->body_len = n;
    }
    json_object_put(o);
    if (!out->body)
        return -1;
    add_header(&out->headers, &failed, "Content-Type: application/json");
    add_header(&out->headers, &failed, "%s", p->auth);
    add_header(&out->headers, &failed, "Idempotency-Key: %s", m->id);
    add_header(&out->headers, &failed, "Expect:");
    return failed ? -1 : 0;
}

/* application/x-www-form-urlencoded as browsers and Python's urlencode
 * write it: unreserved characters as they are, a space as '+', every
 * other byte (UTF-8 included) as %XX. */
static void form_escape(ac_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~') {
            ac_buf_append(b, (const char *)p, 1);
        } else if (*p == ' ') {
            ac_buf_append(b, "+", 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            ac_buf_append(b, e, 3);
        }
    }
}

/* Twilio Messages: https://www.twilio.com/docs/messaging/api/message-resource */
static int twilio_request(const ac_provider_t *p, const ac_message_t *m, const char *to,
                          const ac_rendered_t *r, ac_provider_request_t *out)
{
    int failed = 0;
    ac_buf_t b = AC_BUF_INIT;
    ac_buf_puts(&b, "To=");
    form_escape(&b, to);
    ac_buf_puts(&b, "&From=");
    form_escape(&b, p->from);
    ac_buf_puts(&b, "&Body=");
    form_escape(&b, r->text);
    out->body_len = b.len;
    out->body = ac_buf_steal(&b);
    if (!out->body)
        return -1;
    add_header(&out->headers, &failed, "Content-Type: application/x-www-form-urlencoded");
    add_header(&out->headers, &failed, "%s", p->auth);
    /* Twilio's own idempotency header, and the one every provider here
     * gets, so that the same receiver-side deduplication works. */
    add_header(&out->headers, &failed, "I-Twilio-Idempotency-Token: %s", m->id);
    add_header(&out->headers, &failed, "Idempotency-Key: %s", m->id);
    add_header(&out->headers, &failed, "Expect:");
    return failed ? -1 : 0;
}

int ac_provider_request(const ac_provider_t *p, const ac_message_t *m, ac_channel_t ch,
                        const char *to, const ac_rendered_t *r, int64_t now_ms,
                        ac_provider_request_t *out, char *err, size_t errsz)
{
    int rc = -1;
    memset(out, 0, sizeof(*out));
    if (!ac_provider_serves(p->kind, ch)) {
        snprintf(err, errsz, "%s cannot send %s", ac_provider_name(p->kind), ac_channel_name(ch));
        return -1;
    }
    switch (p->kind) {
    case AC_PROVIDER_WEBHOOK:
        rc = webhook_request(p, m, ch, to, r, now_ms, out);
        break;
    case AC_PROVIDER_SENDGRID:
        rc = sendgrid_request(p, m, to, r, out);
        break;
    case AC_PROVIDER_TWILIO:
        rc = twilio_request(p, m, to, r, out);
        break;
    case AC_PROVIDER_NONE:
        break;
    }
    if (rc == 0 && !(out->url = strdup(p->url)))
        rc = -1;
    if (rc < 0) {
        ac_provider_request_free(out);
        snprintf(err, errsz, "out of memory");
    }
    return rc;
}

void ac_provider_request_free(ac_provider_request_t *req)
{
    free(req->url);
    curl_slist_free_all(req->headers);
    free(req->body);
    memset(req, 0, sizeof(*req));
}
