/* The "twilio" provider: a form-encoded Twilio Messages request with HTTP
 * basic auth, SMS only.
 * https://www.twilio.com/docs/messaging/api/message-resource */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "buf.h"
#include "provider_int.h"

typedef struct twilio {
    char *auth; /* the whole Authorization header line */
    char *from; /* SMS_FROM */
} twilio_t;

/* The validator of SMS_FROM (provider.h), which only Twilio reads. */
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

static void twilio_load(const ac_config_t *cfg, ac_provider_settings_t *s)
{
    s->twilio_url = ac_provider_setting(cfg, "TWILIO_URL");
    s->twilio_account_sid = ac_provider_setting(cfg, "TWILIO_ACCOUNT_SID");
    s->twilio_auth_token = ac_provider_setting(cfg, "TWILIO_AUTH_TOKEN");
    s->sms_from = ac_provider_setting(cfg, "SMS_FROM");
}

/* TWILIO_URL has a default in the option table, so it is missing only
 * when set empty. */
static int twilio_check(const ac_provider_settings_t *s, const char *user, char *err, size_t errsz)
{
    const ac_provider_required_t req[] = {{s->twilio_url, "TWILIO_URL"},
                                          {s->twilio_account_sid, "TWILIO_ACCOUNT_SID"},
                                          {s->twilio_auth_token, "TWILIO_AUTH_TOKEN"},
                                          {s->sms_from, "SMS_FROM"}};
    return ac_provider_need(req, sizeof(req) / sizeof(req[0]), user, "twilio", err, errsz);
}

/* "Authorization: Basic " and the base64 of "user:password", per RFC
 * 7617, made once here rather than per request. */
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

static void twilio_close(void *state)
{
    twilio_t *t = state;
    if (!t)
        return;
    free(t->auth);
    free(t->from);
    free(t);
}

static int twilio_open(const ac_provider_settings_t *s, void **state, char **url, char *err,
                       size_t errsz)
{
    int oom = 0;
    ac_buf_t b = AC_BUF_INIT;
    twilio_t *t = calloc(1, sizeof(*t));
    /* The base URL may be given with a trailing slash; the API path is
     * appended to it either way. */
    size_t n = strlen(s->twilio_url);
    while (n > 0 && s->twilio_url[n - 1] == '/')
        n--;
    ac_buf_printf(&b, "%.*s/2010-04-01/Accounts/%s/Messages.json", (int)n, s->twilio_url,
                  s->twilio_account_sid);
    *url = ac_buf_steal(&b);
    ac_buf_free(&b);
    if (t) {
        t->auth = basic_auth(s->twilio_account_sid, s->twilio_auth_token);
        t->from = ac_provider_strdup(s->sms_from, &oom);
    }
    if (!t || !*url || !t->auth || oom) {
        snprintf(err, errsz, "out of memory");
        twilio_close(t);
        free(*url);
        *url = NULL;
        return -1;
    }
    *state = t;
    return 0;
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

static int twilio_request(const void *state, const ac_message_t *m, ac_channel_t ch, const char *to,
                          const ac_rendered_t *r, int64_t now_ms, ac_provider_request_t *out,
                          char *err, size_t errsz)
{
    const twilio_t *t = state;
    int failed = 0;
    ac_buf_t b = AC_BUF_INIT;
    (void)ch;
    (void)now_ms;
    ac_buf_puts(&b, "To=");
    form_escape(&b, to);
    ac_buf_puts(&b, "&From=");
    form_escape(&b, t->from);
    ac_buf_puts(&b, "&Body=");
    form_escape(&b, r->text);
    out->body_len = b.len;
    out->body = ac_buf_steal(&b);
    ac_buf_free(&b);
    if (out->body) {
        ac_provider_add_header(&out->headers, &failed,
                               "Content-Type: application/x-www-form-urlencoded");
        ac_provider_add_header(&out->headers, &failed, "%s", t->auth);
        /* Twilio's own idempotency header, and the one every provider
         * here gets, so that the same receiver-side deduplication works. */
        ac_provider_add_header(&out->headers, &failed, "I-Twilio-Idempotency-Token: %s", m->id);
        ac_provider_add_header(&out->headers, &failed, "Idempotency-Key: %s", m->id);
        ac_provider_add_header(&out->headers, &failed, "Expect:");
    }
    if (!out->body || failed) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    return 0;
}

const ac_provider_ops_t ac_provider_twilio_ops = {
    .name = "twilio",
    .channels = AC_PROVIDER_CHANNEL(AC_CHANNEL_SMS),
    .load = twilio_load,
    .check = twilio_check,
    .open = twilio_open,
    .close = twilio_close,
    .request = twilio_request,
};
