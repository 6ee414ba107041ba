#include "sig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "webhook.h"

/* Equal-length texts are compared in constant time; a length mismatch is
 * a refusal that reveals only the length, which is public anyway. */
static int ct_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    return alen == blen && alen > 0 && CRYPTO_memcmp(a, b, alen) == 0;
}

int ac_sig_hmac_b64_ok(const ac_secrets_t *secrets, const void *body, size_t len,
                       const char *header)
{
    int ok = 0;
    if (!secrets || !header || !*header)
        return 0;
    size_t hlen = strlen(header);
    for (size_t i = 0; i < secrets->n; i++) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int maclen = 0;
        char b64[128];
        const char *key = secrets->v[i];
        if (!HMAC(EVP_sha256(), key, (int)strlen(key), body, len, mac, &maclen))
            continue;
        int n = EVP_EncodeBlock((unsigned char *)b64, mac, (int)maclen);
        /* Every secret is tried, so the time taken does not say which one
         * matched. */
        ok |= ct_equal(b64, (size_t)n, header, hlen);
    }
    return ok;
}

/* True when one of the space-separated entries of header equals sig. */
static int any_entry_equal(const char *header, const char *sig)
{
    int ok = 0;
    size_t slen = strlen(sig);
    for (const char *p = header; *p;) {
        while (*p == ' ')
            p++;
        size_t n = strcspn(p, " ");
        if (n)
            ok |= ct_equal(p, n, sig, slen);
        p += n;
    }
    return ok;
}

int ac_sig_standard_ok(const ac_secrets_t *secrets, const char *id, const char *timestamp,
                       const char *signature, const void *body, size_t len, int64_t now_s,
                       int64_t tolerance_s, char *why, size_t whysz)
{
    char *end = NULL;
    if (!id || !*id || !timestamp || !*timestamp || !signature || !*signature) {
        snprintf(why, whysz, "missing webhook-id, webhook-timestamp or webhook-signature");
        return 0;
    }
    long long ts = strtoll(timestamp, &end, 10);
    if (end == timestamp || *end != '\0') {
        snprintf(why, whysz, "webhook-timestamp is not Unix seconds");
        return 0;
    }
    if (ts < now_s - tolerance_s || ts > now_s + tolerance_s) {
        snprintf(why, whysz, "webhook-timestamp is outside the %llds tolerance",
                 (long long)tolerance_s);
        return 0;
    }
    int ok = 0;
    for (size_t i = 0; secrets && i < secrets->n; i++) {
        char sig[256], err[128];
        /* Signing with one secret at a time gives exactly one "v1,..." to
         * look for among the header's entries. */
        if (ac_webhook_sign(secrets->v[i], id, ts, body, len, sig, sizeof(sig), err, sizeof(err)) ==
            0)
            ok |= any_entry_equal(signature, sig);
    }
    if (!ok)
        snprintf(why, whysz, "no webhook-signature entry verifies");
    return ok;
}

int ac_sig_shared_ok(const ac_secrets_t *secrets, const char *value)
{
    int ok = 0;
    if (!secrets || !value || !*value)
        return 0;
    for (size_t i = 0; i < secrets->n; i++)
        ok |= ct_equal(secrets->v[i], strlen(secrets->v[i]), value, strlen(value));
    return ok;
}

void ac_secrets_clear(ac_secrets_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i])
            OPENSSL_cleanse(s->v[i], strlen(s->v[i]));
        free(s->v[i]);
    }
    free(s->v);
    s->v = NULL;
    s->n = 0;
}
