#include "webhook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "timeutil.h"

static void add_str(json_object *o, const char *key, const char *v)
{
    json_object_object_add(o, key, v ? json_object_new_string(v) : NULL);
}

char *ac_webhook_body(const ac_message_t *m, ac_channel_t ch, const char *to,
                      const ac_rendered_t *r, size_t *len)
{
    const ac_event_t *ev = m->event;
    char ts[AC_TIME_BUFSZ];
    char *out = NULL;
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    add_str(o, "id", m->id);
    add_str(o, "kind", ac_kind_name(m->kind));
    add_str(o, "channel", ac_channel_name(ch));
    add_str(o, "to", to);
    add_str(o, "order_id", ev->order.id);
    add_str(o, "order_number", ev->order.number);
    add_str(o, "customer_id", ev->customer.id);
    add_str(o, "first_name", ev->customer.first_name);
    add_str(o, "event_id", ev->event_id);
    add_str(o, "event_type", ev->type_name);
    add_str(o, "store_id", ev->store.id);
    add_str(o, "store_name", ev->store.name);
    add_str(o, "locale", r->language);
    add_str(o, "subject", r->subject);
    add_str(o, "text", r->text);
    if (ch == AC_CHANNEL_EMAIL && r->html)
        add_str(o, "html", r->html);
    if (ch == AC_CHANNEL_SMS) {
        /* What the provider will bill: the receiver can see it before
         * sending, and a count over AC_RENDER_SMS_MAX_SEGMENTS tells that
         * even the shortest form of the message was long. */
        json_object_object_add(o, "segments", json_object_new_int64((int64_t)r->sms.segments));
        add_str(o, "encoding", ac_sms_encoding_name(r->sms.encoding));
    }
    ac_time_format(m->created_ms, ts, sizeof(ts));
    add_str(o, "created_at", ts);
    if (m->due_ms > 0) {
        /* Scheduled messages say when they were meant to go out. */
        ac_time_format(m->due_ms, ts, sizeof(ts));
        add_str(o, "due_at", ts);
    }
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (s && (out = malloc(n + 1))) {
        memcpy(out, s, n + 1);
        if (len)
            *len = n;
    }
    json_object_put(o);
    return out;
}

/* Decodes one "whsec_<base64>" secret of length n into key. */
static int decode_secret(const char *s, size_t n, unsigned char *key, int *keylen)
{
    if (n <= 6 || strncmp(s, "whsec_", 6) != 0)
        return -1;
    s += 6;
    n -= 6;
    if (n % 4 != 0 || n > 512)
        return -1;
    int len = EVP_DecodeBlock(key, (const unsigned char *)s, (int)n);
    if (len <= 0)
        return -1;
    /* EVP_DecodeBlock counts padding bytes as data; take them off. */
    if (s[n - 1] == '=')
        len--;
    if (s[n - 2] == '=')
        len--;
    if (len < 16)
        return -1;
    *keylen = len;
    return 0;
}

int ac_webhook_sign(const char *secrets, const char *msg_id, int64_t timestamp, const char *body,
                    size_t len, char *out, size_t outsz, char *err, size_t errsz)
{
    int rc = -1;
    size_t used = 0;
    unsigned char *signed_content = NULL;
    char prefix[160];
    int plen = snprintf(prefix, sizeof(prefix), "%s.%lld.", msg_id, (long long)timestamp);
    if (plen < 0 || (size_t)plen >= sizeof(prefix)) {
        snprintf(err, errsz, "message id too long to sign");
        return -1;
    }
    /* The signed content is "id.timestamp.body", hashed in one piece. */
    signed_content = malloc((size_t)plen + len + 1);
    if (!signed_content) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    memcpy(signed_content, prefix, (size_t)plen);
    memcpy(signed_content + plen, body, len);
    out[0] = '\0';
    for (const char *p = secrets; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, " ");
        unsigned char key[400];
        int keylen = 0;
        if (decode_secret(p, n, key, &keylen) < 0) {
            snprintf(err, errsz, "a webhook secret is not whsec_<base64 of at least 16 bytes>");
            goto out;
        }
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int maclen = 0;
        if (!HMAC(EVP_sha256(), key, keylen, signed_content, (size_t)plen + len, mac, &maclen)) {
            snprintf(err, errsz, "HMAC failed");
            goto out;
        }
        char b64[128];
        EVP_EncodeBlock((unsigned char *)b64, mac, (int)maclen);
        int w = snprintf(out + used, outsz - used, "%sv1,%s", used ? " " : "", b64);
        if (w < 0 || (size_t)w >= outsz - used) {
            snprintf(err, errsz, "signature buffer too small");
            goto out;
        }
        used += (size_t)w;
        p += n;
    }
    if (used == 0) {
        snprintf(err, errsz, "no webhook secret given");
        goto out;
    }
    rc = 0;
out:
    free(signed_content);
    return rc;
}

int ac_webhook_validate_secret(const char *secrets, char *why, size_t whysz)
{
    char sig[1024];
    return ac_webhook_sign(secrets, "msg_check", 0, "", 0, sig, sizeof(sig), why, whysz);
}
