#include "rtoken.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* The token's prefix: the format's version, which the MAC covers too. */
#define PREFIX     "1."
#define PREFIX_LEN 2
#define VERSION    1

/* The MAC's length in bytes, and in base64url. */
#define MAC_LEN     16
#define MAC_B64_LEN 22

/* The characters n bytes take in base64url without padding. */
#define B64_LEN(n) (((n)*4 + 2) / 3)

/* Version, rating and expiry, then four ids of a length byte each. */
#define HEADER_LEN  10
#define MAX_PAYLOAD (HEADER_LEN + 3 * (1 + AC_RTOKEN_MAX_ID_LEN) + 1 + AC_RTOKEN_MAX_MESSAGE_LEN)

_Static_assert(AC_RTOKEN_MAX_LEN == PREFIX_LEN + B64_LEN(MAX_PAYLOAD) + 1 + MAC_B64_LEN + 1,
               "AC_RTOKEN_MAX_LEN is the longest token plus the NUL");
_Static_assert(AC_RTOKEN_MAX_ID_LEN < 256 && AC_RTOKEN_MAX_MESSAGE_LEN < 256,
               "an id's length fits its length byte");

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* The ids in payload order, with the names the refusals use. */
static const struct field {
    const char *name;
    size_t off, cap;
} FIELDS[4] = {
    {"store id", offsetof(ac_rtoken_t, store), sizeof(((ac_rtoken_t *)0)->store)},
    {"order id", offsetof(ac_rtoken_t, order), sizeof(((ac_rtoken_t *)0)->order)},
    {"customer id", offsetof(ac_rtoken_t, customer), sizeof(((ac_rtoken_t *)0)->customer)},
    {"message id", offsetof(ac_rtoken_t, message), sizeof(((ac_rtoken_t *)0)->message)},
};

/* The names the gateway logs and counts refusals by. */
const char *ac_rtoken_result_name(ac_rtoken_result_t r)
{
    switch (r) {
    case AC_RTOKEN_OK:
        return "ok";
    case AC_RTOKEN_MALFORMED:
        return "malformed";
    case AC_RTOKEN_FORGED:
        return "forged";
    case AC_RTOKEN_EXPIRED:
        return "expired";
    }
    return "unknown";
}

/* Writes the reason for a refusal, when the caller gave room for one. */
__attribute__((format(printf, 3, 4))) static void say(char *why, size_t whysz, const char *fmt, ...)
{
    if (!why || !whysz)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whysz, fmt, ap);
    va_end(ap);
}

/* Encodes n bytes as base64url without padding; returns the characters
 * written (B64_LEN(n)), without a NUL. */
static size_t b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = B64URL[(v >> 18) & 63];
        out[o++] = B64URL[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = B64URL[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = B64URL[v & 63];
    }
    return o;
}

/* The value of a base64url character, or -1. */
static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

/* Decodes n characters of unpadded base64url into out (cap bytes).
 * Returns the bytes written, or -1 for a character outside the alphabet,
 * a length no encoding has, a result longer than cap, or unused bits that
 * are not zero: only the one text ac_rtoken_sign() writes for some bytes
 * is accepted, so a token cannot be varied while keeping its meaning. */
static long b64url_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
    if (n % 4 == 1 || n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > cap)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        if (i % 4 == 3) {
            out[o++] = (unsigned char)(acc >> 16);
            out[o++] = (unsigned char)(acc >> 8);
            out[o++] = (unsigned char)acc;
            acc = 0;
        }
    }
    if (n % 4 == 2) {
        if (acc & 0x0f)
            return -1;
        out[o++] = (unsigned char)(acc >> 4);
    } else if (n % 4 == 3) {
        if (acc & 0x03)
            return -1;
        out[o++] = (unsigned char)(acc >> 10);
        out[o++] = (unsigned char)(acc >> 2);
    }
    return (long)o;
}

/* True when key is long enough to sign with. A shorter one (an empty
 * setting, a placeholder) would make tokens that are easy to forge, so it
 * neither signs nor verifies. */
static int key_usable(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    return n >= AC_RTOKEN_MIN_KEY_LEN && n <= INT_MAX;
}

/* The first MAC_LEN bytes of HMAC-SHA256(key, msg) into mac; 0, or -1
 * when OpenSSL fails. */
static int mac_of(const char *key, const char *msg, size_t len, unsigned char mac[MAC_LEN])
{
    unsigned char full[EVP_MAX_MD_SIZE];
    unsigned int fulllen = 0;
    if (!HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg, len, full,
              &fulllen) ||
        fulllen < MAC_LEN)
        return -1;
    memcpy(mac, full, MAC_LEN);
    OPENSSL_cleanse(full, sizeof(full));
    return 0;
}

/* Checks what t says and writes its payload into p (MAX_PAYLOAD bytes).
 * Returns the payload's length, or -1 with the reason in why. */
static long payload_of(const ac_rtoken_t *t, unsigned char *p, char *why, size_t whysz)
{
    if (t->rating < 1 || t->rating > 5) {
        say(why, whysz, "the rating %d is not 1 to 5", t->rating);
        return -1;
    }
    if (t->expires_s <= 0) {
        say(why, whysz, "the expiry is not a positive Unix time");
        return -1;
    }
    p[0] = VERSION;
    p[1] = (unsigned char)t->rating;
    for (int i = 0; i < 8; i++)
        p[2 + i] = (unsigned char)((uint64_t)t->expires_s >> (56 - 8 * i));
    size_t n = HEADER_LEN;
    for (size_t f = 0; f < 4; f++) {
        const char *s = (const char *)t + FIELDS[f].off;
        size_t len = strnlen(s, FIELDS[f].cap);
        if (len == 0 || len == FIELDS[f].cap) {
            if (len)
                say(why, whysz, "the %s is longer than %zu bytes", FIELDS[f].name,
                    FIELDS[f].cap - 1);
            else
                say(why, whysz, "the %s is empty", FIELDS[f].name);
            return -1;
        }
        p[n++] = (unsigned char)len;
        memcpy(p + n, s, len);
        n += len;
    }
    return (long)n;
}

/* Checks the secret and the fields before writing anything, so that a
 * refused token leaves out empty rather than half written. The MAC covers
 * the text "1." + base64url(payload), exactly as it appears in the link,
 * so that the verifier can check it before decoding anything it says. */
int ac_rtoken_sign(const ac_secrets_t *keys, const ac_rtoken_t *t, char *out, size_t outsz,
                   char *why, size_t whysz)
{
    unsigned char payload[MAX_PAYLOAD], mac[MAC_LEN];
    if (out && outsz)
        out[0] = '\0';
    if (!keys || !keys->n || !keys->v || !keys->v[0]) {
        say(why, whysz, "no rating secret is configured");
        return -1;
    }
    if (!key_usable(keys->v[0])) {
        say(why, whysz, "the rating secret is shorter than %d bytes", AC_RTOKEN_MIN_KEY_LEN);
        return -1;
    }
    if (!t) {
        say(why, whysz, "no rating to sign");
        return -1;
    }
    long plen = payload_of(t, payload, why, whysz);
    if (plen < 0)
        return -1;
    size_t signed_len = PREFIX_LEN + B64_LEN((size_t)plen);
    size_t need = signed_len + 1 + MAC_B64_LEN + 1;
    if (!out || outsz < need) {
        say(why, whysz, "the token needs %zu bytes but the buffer has %zu", need, out ? outsz : 0);
        return -1;
    }
    memcpy(out, PREFIX, PREFIX_LEN);
    b64url_encode(payload, (size_t)plen, out + PREFIX_LEN);
    if (mac_of(keys->v[0], out, signed_len, mac) != 0) {
        out[0] = '\0';
        say(why, whysz, "HMAC-SHA256 failed");
        return -1;
    }
    out[signed_len] = '.';
    b64url_encode(mac, MAC_LEN, out + signed_len + 1);
    out[need - 1] = '\0';
    return (int)(need - 1);
}

/* Reads a payload whose MAC has verified into *t. Returns 0, or -1 when
 * it is not one ac_rtoken_sign() writes: another version, a rating or
 * expiry out of range, an id empty, too long, holding a NUL or running
 * past the end, or bytes after the last id. Only a holder of a secret can
 * get here with such a payload, but the ids still become C strings. */
static int payload_read(const unsigned char *p, size_t n, ac_rtoken_t *t)
{
    if (n < HEADER_LEN || p[0] != VERSION || p[1] < 1 || p[1] > 5)
        return -1;
    uint64_t exp = 0;
    for (int i = 0; i < 8; i++)
        exp = exp << 8 | p[2 + i];
    if (exp == 0 || exp > (uint64_t)INT64_MAX)
        return -1;
    memset(t, 0, sizeof(*t));
    t->rating = p[1];
    t->expires_s = (int64_t)exp;
    size_t off = HEADER_LEN;
    for (size_t f = 0; f < 4; f++) {
        if (off >= n)
            return -1;
        size_t len = p[off++];
        if (len == 0 || len >= FIELDS[f].cap || len > n - off || memchr(p + off, '\0', len))
            return -1;
        char *s = (char *)t + FIELDS[f].off;
        memcpy(s, p + off, len);
        s[len] = '\0';
        off += len;
    }
    return off == n ? 0 : -1;
}

/* Refuses in three steps, each needing more trust than the last: the
 * shape (no secret needed), the MAC (before any field is believed), then
 * the payload and the expiry. */
ac_rtoken_result_t ac_rtoken_verify(const ac_secrets_t *keys, const char *token, size_t len,
                                    int64_t now_s, ac_rtoken_t *out)
{
    unsigned char payload[MAX_PAYLOAD], mac[MAC_LEN], want[MAC_LEN];
    /* The shape first, which needs no secret: the prefix, a '.' exactly
     * MAC_B64_LEN characters from the end, and both parts canonical
     * base64url (which has no '.', so there is no other one). */
    if (!token || len < PREFIX_LEN + 1 + MAC_B64_LEN || len > AC_RTOKEN_MAX_LEN - 1 ||
        memcmp(token, PREFIX, PREFIX_LEN) != 0 || token[len - MAC_B64_LEN - 1] != '.')
        return AC_RTOKEN_MALFORMED;
    size_t signed_len = len - MAC_B64_LEN - 1;
    if (b64url_decode(token + signed_len + 1, MAC_B64_LEN, mac, sizeof(mac)) != MAC_LEN)
        return AC_RTOKEN_MALFORMED;
    long plen =
        b64url_decode(token + PREFIX_LEN, signed_len - PREFIX_LEN, payload, sizeof(payload));
    if (plen < 0)
        return AC_RTOKEN_MALFORMED;

    /* Then the MAC under every usable secret, all of them whatever
     * matched, so that the time taken says nothing about which one did or
     * how much of the MAC was right. */
    int match = 0;
    for (size_t i = 0; keys && keys->v && i < keys->n; i++) {
        if (!key_usable(keys->v[i]) || mac_of(keys->v[i], token, signed_len, want) != 0)
            continue;
        match |= CRYPTO_memcmp(want, mac, MAC_LEN) == 0;
    }
    if (!match)
        return AC_RTOKEN_FORGED;

    /* Only now what the payload says. */
    ac_rtoken_t t;
    if (payload_read(payload, (size_t)plen, &t) != 0)
        return AC_RTOKEN_MALFORMED;
    if (out)
        *out = t;
    return now_s < t.expires_s ? AC_RTOKEN_OK : AC_RTOKEN_EXPIRED;
}

int ac_rtoken_keys_parse(const char *list, ac_secrets_t *out, char *why, size_t whysz)
{
    out->v = NULL;
    out->n = 0;
    for (const char *p = list ? list : ""; *p;) {
        p += strspn(p, " \t\r\n");
        size_t len = strcspn(p, " \t\r\n");
        if (len == 0)
            break;
        char **v = realloc(out->v, (out->n + 1) * sizeof(*v));
        if (!v || len < AC_RTOKEN_MIN_KEY_LEN || !(v[out->n] = strndup(p, len))) {
            if (v)
                out->v = v;
            if (len < AC_RTOKEN_MIN_KEY_LEN)
                snprintf(why, whysz,
                         "secret %zu is shorter than %d bytes; give a long random string",
                         out->n + 1, AC_RTOKEN_MIN_KEY_LEN);
            else
                snprintf(why, whysz, "out of memory");
            ac_secrets_clear(out);
            return -1;
        }
        out->v = v;
        out->n++;
        p += len;
    }
    return 0;
}

int ac_rtoken_validate_keys(const char *value, char *why, size_t whysz)
{
    ac_secrets_t k;
    if (ac_rtoken_keys_parse(value, &k, why, whysz) < 0)
        return -1;
    ac_secrets_clear(&k);
    return 0;
}
