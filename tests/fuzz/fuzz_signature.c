/* Fuzz target: the signature checks of the ingest gateway (common/sig.c).
 *
 * The first byte picks the scheme by its value modulo 3:
 *   0  ac_sig_hmac_b64_ok()  (Shopify's X-Shopify-Hmac-Sha256,
 *                             WooCommerce's X-WC-Webhook-Signature)
 *   1  ac_sig_standard_ok()  (Standard Webhooks: webhook-id,
 *                             webhook-timestamp, webhook-signature)
 *   2  ac_sig_shared_ok()    (BigCommerce's shared-secret header)
 * and by its bits 0x04 .. 0x80 the details: 0x04 Standard Webhooks
 * secrets are taken as written (else each word becomes the whsec_ key of
 * its bytes, so that every one is valid), 0x08 .. 0x80 which secret signs
 * and where a signature is spoiled. The rest is NUL-separated:
 *
 *   secrets \0 header value \0 webhook-id \0 webhook-timestamp \0 body
 *
 * (secrets: words separated by blanks, as a settings file lists them; the
 * body is everything after the fourth NUL, NULs included).
 *
 * The fuzzed header must verify exactly when it is right: for HMAC and
 * shared secrets, when it equals the signature (or secret) of one of the
 * secrets; for Standard Webhooks with well-formed parts, when the
 * timestamp is within tolerance and one of its entries is the signature
 * under one of the secrets. Then the target signs the body itself: the
 * right signature verifies (among other entries too), the same with one
 * character changed does not, nor does the right one once its secret is
 * removed from the list (rotation), and the Standard Webhooks tolerance
 * holds to the second at both ends. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "fuzz_common.h"
#include "sig.h"
#include "webhook.h"

#define MAX_SECRETS 8
#define NOW_S       1730710888LL /* 2024-11-04T09:01:28Z */

/* Splits text into at most MAX_SECRETS blank-separated words. */
static void split_secrets(const char *text, ac_secrets_t *s)
{
    s->v = calloc(MAX_SECRETS, sizeof(*s->v));
    s->n = 0;
    if (!s->v)
        return;
    for (const char *p = text; *p && s->n < MAX_SECRETS;) {
        p += strspn(p, " \t\r\n");
        size_t n = strcspn(p, " \t\r\n");
        if (!n)
            break;
        s->v[s->n++] = strndup(p, n);
        p += n;
    }
}

static void b64(const unsigned char *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
}

/* base64(HMAC-SHA256(key, msg)) into out (at least 64 bytes). */
static void hmac_b64(const void *key, size_t keylen, const void *msg, size_t len, char *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    FUZZ_CHECK(HMAC(EVP_sha256(), key, (int)keylen, msg, len, mac, &maclen) != NULL, "HMAC");
    b64(mac, maclen, out);
}

/* Changes one character of s (at a position chosen by pick) to another
 * one that is not NUL. */
static void spoil(char *s, unsigned pick)
{
    size_t n = strlen(s);
    if (!n)
        return;
    size_t i = pick % n;
    s[i] = s[i] == 'A' ? 'B' : 'A';
}

/* A list without its entry skip (the strings are shared, not copied). */
static ac_secrets_t without(const ac_secrets_t *s, size_t skip, char **buf)
{
    ac_secrets_t r = {buf, 0};
    for (size_t i = 0; i < s->n; i++)
        if (i != skip)
            buf[r.n++] = s->v[i];
    return r;
}

/* ------------------------------------------------------------- HMAC */

static void fuzz_hmac(unsigned flags, const ac_secrets_t *s, const char *header, const char *body,
                      size_t len)
{
    char expect[MAX_SECRETS][64];
    int want = 0;
    for (size_t i = 0; i < s->n; i++) {
        hmac_b64(s->v[i], strlen(s->v[i]), body, len, expect[i]);
        if (*header && strcmp(header, expect[i]) == 0)
            want = 1;
    }
    int ok = ac_sig_hmac_b64_ok(s, body, len, header);
    FUZZ_CHECK(ok == want, "the header %s verify", want ? "must" : "must not");
    FUZZ_CHECK(!ac_sig_hmac_b64_ok(s, body, len, NULL) && !ac_sig_hmac_b64_ok(s, body, len, ""),
               "a missing header verifies");
    FUZZ_CHECK(!ac_sig_hmac_b64_ok(NULL, body, len, header), "no secrets, yet it verifies");
    if (!s->n)
        return;

    size_t k = (flags >> 3) % s->n;
    FUZZ_CHECK(ac_sig_hmac_b64_ok(s, body, len, expect[k]), "the right signature does not verify");
    char bad[64];
    memcpy(bad, expect[k], sizeof(bad));
    spoil(bad, flags >> 5);
    int another = 0;
    for (size_t i = 0; i < s->n; i++)
        another |= strcmp(bad, expect[i]) == 0;
    FUZZ_CHECK(ac_sig_hmac_b64_ok(s, body, len, bad) == another, "a spoiled signature verifies");

    /* Rotation: once the secret is gone, its signature fails, unless
     * another secret signs the same. */
    char *buf[MAX_SECRETS];
    ac_secrets_t rest = without(s, k, buf);
    int still = 0;
    for (size_t i = 0; i < s->n; i++)
        still |= i != k && strcmp(expect[i], expect[k]) == 0;
    FUZZ_CHECK(ac_sig_hmac_b64_ok(&rest, body, len, expect[k]) == still,
               "a removed secret still verifies");
}

/* ------------------------------------------------------------- shared */

static void fuzz_shared(unsigned flags, const ac_secrets_t *s, const char *value)
{
    int want = 0;
    for (size_t i = 0; i < s->n; i++)
        want |= *value && strcmp(value, s->v[i]) == 0;
    FUZZ_CHECK(ac_sig_shared_ok(s, value) == want, "the value %s match",
               want ? "must" : "must not");
    FUZZ_CHECK(!ac_sig_shared_ok(s, NULL) && !ac_sig_shared_ok(s, ""), "a missing value matches");
    FUZZ_CHECK(!ac_sig_shared_ok(NULL, value), "no secrets, yet it matches");
    if (!s->n)
        return;
    size_t k = (flags >> 3) % s->n;
    FUZZ_CHECK(ac_sig_shared_ok(s, s->v[k]), "the secret itself does not match");
    char *bad = strdup(s->v[k]);
    if (!bad)
        return;
    spoil(bad, flags >> 5);
    int another = 0;
    for (size_t i = 0; i < s->n; i++)
        another |= strcmp(bad, s->v[i]) == 0;
    FUZZ_CHECK(ac_sig_shared_ok(s, bad) == another, "a changed secret matches");
    free(bad);
    char *buf[MAX_SECRETS];
    ac_secrets_t rest = without(s, k, buf);
    int still = 0;
    for (size_t i = 0; i < s->n; i++)
        still |= i != k && strcmp(s->v[i], s->v[k]) == 0;
    FUZZ_CHECK(ac_sig_shared_ok(&rest, s->v[k]) == still, "a removed secret still matches");
}

/* ------------------------------------------------------- Standard Webhooks */

/* The key of a whsec_ secret, decoded independently of webhook.c: base64
 * of at least 16 bytes. Returns its length, or -1. */
static int whsec_key(const char *secret, unsigned char *key, size_t keysz)
{
    size_t n = strlen(secret);
    if (n <= 6 || strncmp(secret, "whsec_", 6) != 0 || (n - 6) % 4 || n - 6 > 512 ||
        (n - 6) / 4 * 3 > keysz)
        return -1;
    const char *b = secret + 6;
    n -= 6;
    size_t pad = 0;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        int alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/';
        if (c == '=' && i >= n - 2) {
            pad++;
            continue;
        }
        if (!alpha || pad)
            return -1;
    }
    if (pad == 2 && b[n - 1] != '=')
        return -1;
    int len = EVP_DecodeBlock(key, (const unsigned char *)b, (int)n);
    if (len < 0)
        return -1;
    len -= (int)pad;
    return len >= 16 ? len : -1;
}

/* "v1,<base64 HMAC of id.ts.body>" under key into out (at least 80). */
static void standard_sig(const unsigned char *key, int keylen, const char *id, long long ts,
                         const char *body, size_t len, char *out)
{
    size_t idlen = strlen(id);
    char *msg = malloc(idlen + 32 + len);
    if (!msg)
        abort();
    int n = snprintf(msg, idlen + 32, "%s.%lld.", id, ts);
    memcpy(msg + n, body, len);
    memcpy(out, "v1,", 3);
    hmac_b64(key, (size_t)keylen, msg, (size_t)n + len, out + 3);
    free(msg);
}

/* A timestamp written as plainly as senders write it. */
static int plain_ts(const char *s, long long *ts)
{
    const char *p = s + (*s == '-');
    size_t n = strlen(p);
    if (n == 0 || n > 17 || (p[0] == '0' && n > 1) || strspn(p, "0123456789") != n)
        return 0;
    *ts = strtoll(s, NULL, 10);
    return 1;
}

static int entry_present(const char *header, const char *sig)
{
    size_t slen = strlen(sig);
    for (const char *p = header; *p;) {
        p += strspn(p, " ");
        size_t n = strcspn(p, " ");
        if (n == slen && memcmp(p, sig, n) == 0)
            return 1;
        p += n;
    }
    return 0;
}

static void fuzz_standard(unsigned flags, ac_secrets_t *s, const char *header, const char *id,
                          const char *ts_text, const char *body, size_t len)
{
    unsigned char keys[MAX_SECRETS][400];
    int keylen[MAX_SECRETS];
    char why[256];
    int64_t tolerance = 300;

    if (!(flags & 0x04)) {
        /* Each word as the key of its own bytes (at least 16 of them). */
        for (size_t i = 0; i < s->n; i++) {
            unsigned char raw[300];
            size_t n = strlen(s->v[i]);
            if (n > sizeof(raw))
                n = sizeof(raw);
            memcpy(raw, s->v[i], n);
            for (size_t j = n; j < 16; j++)
                raw[j] = (unsigned char)j;
            if (n < 16)
                n = 16;
            char *w = malloc(6 + 4 * (n / 3 + 1) + 1);
            if (!w)
                abort();
            memcpy(w, "whsec_", 6);
            b64(raw, n, w + 6);
            free(s->v[i]);
            s->v[i] = w;
        }
    }
    for (size_t i = 0; i < s->n; i++)
        keylen[i] = whsec_key(s->v[i], keys[i], sizeof(keys[i]));

    /* The fuzzed headers. */
    why[0] = '\0';
    int ok =
        ac_sig_standard_ok(s, id, ts_text, header, body, len, NOW_S, tolerance, why, sizeof(why));
    FUZZ_CHECK(ok || why[0], "refused without a reason");
    FUZZ_CHECK(!ac_sig_standard_ok(NULL, id, ts_text, header, body, len, NOW_S, tolerance, why,
                                   sizeof(why)),
               "no secrets, yet it verifies");
    long long ts;
    int all_keys = 1;
    for (size_t i = 0; i < s->n; i++)
        all_keys &= keylen[i] >= 0;
    if (plain_ts(ts_text, &ts) && strlen(id) < 100 && all_keys) {
        int want = 0;
        if (*id && *header && ts >= NOW_S - tolerance && ts <= NOW_S + tolerance)
            for (size_t i = 0; i < s->n; i++) {
                char sig[80];
                standard_sig(keys[i], keylen[i], id, ts, body, len, sig);
                want |= entry_present(header, sig);
            }
        FUZZ_CHECK(ok == want, "webhook-signature %s verify", want ? "must" : "must not");
    }

    /* Signed here, with a fresh id when the fuzzed one is unusable. */
    if (!s->n || keylen[(flags >> 3) % s->n] < 0)
        return;
    size_t k = (flags >> 3) % s->n;
    const char *mid = *id && strlen(id) < 100 ? id : "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W";
    long long at = NOW_S - tolerance + (long long)((flags >> 2) % (2 * tolerance + 1));
    char ts_buf[32], sig[80], both[1024];
    snprintf(ts_buf, sizeof(ts_buf), "%lld", at);
    standard_sig(keys[k], keylen[k], mid, at, body, len, sig);
    FUZZ_CHECK(
        ac_sig_standard_ok(s, mid, ts_buf, sig, body, len, NOW_S, tolerance, why, sizeof(why)),
        "the right signature does not verify: %s", why);
    /* Among other entries (a sender that rotates signs with each key). */
    snprintf(both, sizeof(both), "v1,bm9wZQ== %.500s %s", header, sig);
    FUZZ_CHECK(
        ac_sig_standard_ok(s, mid, ts_buf, both, body, len, NOW_S, tolerance, why, sizeof(why)),
        "the right signature among others does not verify: %s", why);

    char bad[80];
    memcpy(bad, sig, sizeof(bad));
    spoil(bad + 3, flags >> 5);
    int another = 0;
    for (size_t i = 0; i < s->n; i++) {
        char other[80];
        if (keylen[i] < 0)
            continue;
        standard_sig(keys[i], keylen[i], mid, at, body, len, other);
        another |= strcmp(bad, other) == 0;
    }
    FUZZ_CHECK(ac_sig_standard_ok(s, mid, ts_buf, bad, body, len, NOW_S, tolerance, why,
                                  sizeof(why)) == another,
               "a spoiled signature verifies");

    /* Rotation. */
    char *buf[MAX_SECRETS];
    ac_secrets_t rest = without(s, k, buf);
    int still = 0;
    for (size_t i = 0; i < s->n; i++)
        still |=
            i != k && keylen[i] == keylen[k] && memcmp(keys[i], keys[k], (size_t)keylen[k]) == 0;
    FUZZ_CHECK(ac_sig_standard_ok(&rest, mid, ts_buf, sig, body, len, NOW_S, tolerance, why,
                                  sizeof(why)) == still,
               "a removed secret still verifies");

    /* The tolerance, to the second, at both ends. */
    const long long edges[4] = {NOW_S - tolerance, NOW_S + tolerance, NOW_S - tolerance - 1,
                                NOW_S + tolerance + 1};
    for (int e = 0; e < 4; e++) {
        snprintf(ts_buf, sizeof(ts_buf), "%lld", edges[e]);
        standard_sig(keys[k], keylen[k], mid, edges[e], body, len, sig);
        FUZZ_CHECK(ac_sig_standard_ok(s, mid, ts_buf, sig, body, len, NOW_S, tolerance, why,
                                      sizeof(why)) == (e < 2),
                   "timestamp %lld, %lld s from now: %s", edges[e], edges[e] - NOW_S,
                   e < 2 ? "refused" : "accepted");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0];
    const char *f[4] = {"", "", "", ""};
    char *copy = fuzz_strndup(data + 1, size - 1);
    const char *body = "";
    size_t blen = 0;
    /* The first four NUL-separated fields, then the body as it is. */
    const char *p = copy, *end = copy + (size - 1);
    for (int i = 0; i < 4; i++) {
        if (p > end)
            break;
        f[i] = p;
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        if (!nul) {
            p = end + 1;
            break;
        }
        p = nul + 1;
    }
    if (p <= end) {
        body = p;
        blen = (size_t)(end - p);
    }
    char *b = fuzz_memdup((const uint8_t *)body, blen);

    ac_secrets_t s;
    split_secrets(f[0], &s);
    switch (flags % 3) {
    case 0:
        fuzz_hmac(flags, &s, f[1], b, blen);
        break;
    case 1:
        fuzz_standard(flags, &s, f[1], f[2], f[3], b, blen);
        break;
    default:
        fuzz_shared(flags, &s, f[1]);
        break;
    }
    ac_secrets_clear(&s);
    FUZZ_CHECK(s.n == 0 && s.v == NULL, "a cleared list keeps %zu secrets", s.n);
    ac_secrets_clear(NULL);
    free(b);
    free(copy);
    return 0;
}
