/* Fuzz target: the signed one-click rating tokens (common/rtoken.c).
 *
 * Every input is first a token, as the gateway gets it from a link:
 * ac_rtoken_verify() reads exactly its bytes under the secrets NEW_KEY and
 * OLD_KEY at NOW_S, and must not crash. When it says ok or expired, the
 * input must be exactly the token ac_rtoken_sign() writes for what it
 * decoded under one of the two secrets, and only that secret's list must
 * accept it; otherwise *out must be left alone.
 *
 * An input that starts with a NUL byte is also a round trip:
 *
 *   \0 ctl store \0 order \0 customer \0 message
 *
 * ctl % 7 is the rating (0 and 6 are out of range), ctl & 0x08 signs with
 * OLD_KEY instead of NEW_KEY, and ctl >> 4 picks the expiry from EXPIRIES
 * (around NOW_S, and out of range). An id longer than its field fills it
 * without a NUL. Signing must succeed exactly when every field is valid;
 * the token is then URL-safe, fits AC_RTOKEN_MAX_LEN, is the same when
 * signed again, reads back the same, works to the second before its
 * expiry and not at it, is forged once its secret is removed, and is
 * refused with any one byte changed, cut short or extended. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "rtoken.h"

#define NEW_KEY "rtoken-fuzz-secret-new-0001" /* make_corpus.py's RTOKEN_NEW */
#define OLD_KEY "rtoken-fuzz-secret-old-0000" /* make_corpus.py's RTOKEN_OLD */
#define NOW_S   1730710888LL                  /* 2024-11-04T09:01:28Z */

static const int64_t EXPIRIES[16] = {
    0,         -1,        1,         NOW_S - 1,          NOW_S,         NOW_S + 1,
    NOW_S + 2, NOW_S - 2, INT64_MAX, INT64_MIN,          NOW_S + 86400, NOW_S + 14 * 86400,
    NOW_S / 2, 1,         INT64_MAX, NOW_S + 30 * 86400,
};

static const char URL_SAFE[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";

/* Fails unless what a verified token says is what a signed one may. */
static void check_fields(const ac_rtoken_t *t)
{
    size_t n[4] = {strnlen(t->store, sizeof(t->store)), strnlen(t->order, sizeof(t->order)),
                   strnlen(t->customer, sizeof(t->customer)),
                   strnlen(t->message, sizeof(t->message))};
    size_t cap[4] = {sizeof(t->store), sizeof(t->order), sizeof(t->customer), sizeof(t->message)};
    for (int i = 0; i < 4; i++)
        FUZZ_CHECK(n[i] >= 1 && n[i] < cap[i], "id %d of %zu bytes", i, n[i]);
    FUZZ_CHECK(t->rating >= 1 && t->rating <= 5, "rating %d", t->rating);
    FUZZ_CHECK(t->expires_s > 0, "expiry %lld", (long long)t->expires_s);
}

static int same_fields(const ac_rtoken_t *a, const ac_rtoken_t *b)
{
    return strcmp(a->store, b->store) == 0 && strcmp(a->order, b->order) == 0 &&
           strcmp(a->customer, b->customer) == 0 && strcmp(a->message, b->message) == 0 &&
           a->rating == b->rating && a->expires_s == b->expires_s;
}

/* The input as a token. */
static void fuzz_verify(const uint8_t *data, size_t size)
{
    ac_secrets_t both = {(char *[]){NEW_KEY, OLD_KEY}, 2};
    ac_secrets_t only[2] = {{(char *[]){NEW_KEY}, 1}, {(char *[]){OLD_KEY}, 1}};
    char *tok = fuzz_memdup(data, size);
    ac_rtoken_t got, untouched;
    memset(&got, 0xa5, sizeof(got));
    untouched = got;
    ac_rtoken_result_t r = ac_rtoken_verify(&both, tok, size, NOW_S, &got);
    FUZZ_CHECK(r >= AC_RTOKEN_OK && r <= AC_RTOKEN_EXPIRED, "result %d", (int)r);
    FUZZ_CHECK(strcmp(ac_rtoken_result_name(r), "unknown") != 0, "no name for %d", (int)r);
    FUZZ_CHECK(ac_rtoken_verify(&both, tok, size, NOW_S, NULL) == r, "*out changes the result");
    if (r != AC_RTOKEN_OK && r != AC_RTOKEN_EXPIRED) {
        FUZZ_CHECK(memcmp(&got, &untouched, sizeof(got)) == 0, "a %s token filled *out",
                   ac_rtoken_result_name(r));
        free(tok);
        return;
    }
    check_fields(&got);
    FUZZ_CHECK((r == AC_RTOKEN_OK) == (NOW_S < got.expires_s), "%s, expiring at %lld",
               ac_rtoken_result_name(r), (long long)got.expires_s);
    /* Genuine: it must be exactly what one of the secrets signs for it,
     * and only that secret's list accepts it. */
    int signer = -1;
    for (int k = 0; k < 2; k++) {
        char again[AC_RTOKEN_MAX_LEN], why[128];
        int n = ac_rtoken_sign(&only[k], &got, again, sizeof(again), why, sizeof(why));
        FUZZ_CHECK(n > 0, "a verified token does not sign again: %s", why);
        if ((size_t)n == size && memcmp(again, tok, size) == 0)
            signer = k;
    }
    FUZZ_CHECK(signer >= 0, "accepted a token that ac_rtoken_sign() does not write");
    for (int k = 0; k < 2; k++)
        FUZZ_CHECK((ac_rtoken_verify(&only[k], tok, size, NOW_S, NULL) == r) == (k == signer),
                   "secret %d alone decides wrongly", k);
    free(tok);
}

/* Fills the round trip's fields from the NUL-separated parts; an id
 * longer than its field fills all of it, without a NUL. */
static void fields_from(const char *const *part, const size_t *len, ac_rtoken_t *t)
{
    char *dst[4] = {t->store, t->order, t->customer, t->message};
    size_t cap[4] = {sizeof(t->store), sizeof(t->order), sizeof(t->customer), sizeof(t->message)};
    for (int i = 0; i < 4; i++) {
        size_t n = len[i] < cap[i] ? len[i] : cap[i];
        memcpy(dst[i], part[i], n);
        if (n < cap[i])
            dst[i][n] = '\0';
    }
}

/* A signed token, with one change, is refused. */
static void check_refused(const ac_secrets_t *keys, const char *tok, size_t len, const char *what)
{
    char *copy = fuzz_memdup((const uint8_t *)tok, len);
    ac_rtoken_result_t r = ac_rtoken_verify(keys, copy, len, NOW_S, NULL);
    FUZZ_CHECK(r == AC_RTOKEN_MALFORMED || r == AC_RTOKEN_FORGED, "%s: %s", what,
               ac_rtoken_result_name(r));
    free(copy);
}

/* The round trip, and what must hold for the token it makes. */
static void fuzz_round_trip(const uint8_t *data, size_t size)
{
    unsigned ctl = size > 1 ? data[1] : 0;
    const char *part[4] = {"", "", "", ""};
    size_t len[4] = {0, 0, 0, 0};
    const char *p = size > 2 ? (const char *)data + 2 : "", *end = p + (size > 2 ? size - 2 : 0);
    for (int i = 0; i < 4 && p < end; i++) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        part[i] = p;
        len[i] = (size_t)((nul ? nul : end) - p);
        p = nul ? nul + 1 : end;
    }
    ac_rtoken_t t;
    memset(&t, 0, sizeof(t));
    fields_from(part, len, &t);
    t.rating = (int)(ctl % 7);
    t.expires_s = EXPIRIES[ctl >> 4];
    int valid = t.rating >= 1 && t.rating <= 5 && t.expires_s > 0 && len[0] >= 1 &&
                len[0] <= AC_RTOKEN_MAX_ID_LEN && len[1] >= 1 && len[1] <= AC_RTOKEN_MAX_ID_LEN &&
                len[2] >= 1 && len[2] <= AC_RTOKEN_MAX_ID_LEN && len[3] >= 1 &&
                len[3] <= AC_RTOKEN_MAX_MESSAGE_LEN;

    char *k_sign = ctl & 0x08 ? OLD_KEY : NEW_KEY, *k_other = ctl & 0x08 ? NEW_KEY : OLD_KEY;
    ac_secrets_t keys = {(char *[]){k_sign, k_other}, 2}, rest = {(char *[]){k_other}, 1};
    char tok[AC_RTOKEN_MAX_LEN], why[256] = "";
    int n = ac_rtoken_sign(&keys, &t, tok, sizeof(tok), why, sizeof(why));
    FUZZ_CHECK((n > 0) == valid, "sign %s: %s", valid ? "refused valid fields" : "took bad fields",
               why);
    FUZZ_CHECK(!strstr(why, k_sign), "the refusal shows the secret");
    if (n < 0) {
        FUZZ_CHECK(*why && tok[0] == '\0', "a refusal without a reason, or with a token");
        return;
    }
    FUZZ_CHECK((size_t)n == strlen(tok) && n < AC_RTOKEN_MAX_LEN, "length %d", n);
    FUZZ_CHECK(strspn(tok, URL_SAFE) == (size_t)n, "not URL-safe: %s", tok);
    char again[AC_RTOKEN_MAX_LEN];
    FUZZ_CHECK(ac_rtoken_sign(&keys, &t, again, sizeof(again), NULL, 0) == n &&
                   strcmp(again, tok) == 0,
               "signing twice differs");
    FUZZ_CHECK(ac_rtoken_sign(&keys, &t, again, (size_t)n, NULL, 0) == -1,
               "a token without room for its NUL");

    ac_rtoken_t got;
    memset(&got, 0, sizeof(got));
    ac_rtoken_result_t r = ac_rtoken_verify(&keys, tok, (size_t)n, NOW_S, &got);
    FUZZ_CHECK(r == (NOW_S < t.expires_s ? AC_RTOKEN_OK : AC_RTOKEN_EXPIRED), "verify: %s",
               ac_rtoken_result_name(r));
    FUZZ_CHECK(same_fields(&got, &t), "the round trip changed the fields");
    FUZZ_CHECK(ac_rtoken_verify(&keys, tok, (size_t)n, t.expires_s - 1, NULL) == AC_RTOKEN_OK,
               "refused a second before its expiry");
    FUZZ_CHECK(ac_rtoken_verify(&keys, tok, (size_t)n, t.expires_s, NULL) == AC_RTOKEN_EXPIRED,
               "accepted at its expiry");
    FUZZ_CHECK(ac_rtoken_verify(&rest, tok, (size_t)n, NOW_S, NULL) == AC_RTOKEN_FORGED,
               "still accepted once its secret was removed");

    /* One byte changed (where and to what, from the input), cut short,
     * extended. */
    size_t at = (size + ctl) % (size_t)n;
    char spoiled[AC_RTOKEN_MAX_LEN + 1];
    memcpy(spoiled, tok, (size_t)n + 1);
    spoiled[at] = (char)(spoiled[at] ^ (1u << (ctl % 8)));
    check_refused(&keys, spoiled, (size_t)n, "one byte changed");
    check_refused(&keys, tok, (size_t)n - 1, "the last byte cut");
    check_refused(&keys, tok, at, "cut short");
    memcpy(spoiled, tok, (size_t)n);
    spoiled[n] = URL_SAFE[ctl % (sizeof(URL_SAFE) - 1)];
    check_refused(&keys, spoiled, (size_t)n + 1, "extended");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_verify(data, size);
    if (size >= 1 && data[0] == '\0')
        fuzz_round_trip(data, size);
    return 0;
}
