/* The signed one-click rating tokens (common/rtoken.c): what a token says
 * survives the round trip, and any token that ac_rtoken_sign() did not
 * write under a configured secret (altered, cut, extended, re-encoded,
 * signed with a removed secret) or whose time is up is refused.
 *
 * The known answer was computed with Python, independently of rtoken.c:
 *   p = bytes([1, rating]) + struct.pack(">Q", expires)
 *       + b"".join(bytes([len(f)]) + f for f in (store, order, customer, msg))
 *   s = b"1." + urlsafe_b64encode(p).rstrip(b"=")
 *   token = s + b"." + urlsafe_b64encode(
 *       hmac.new(key, s, sha256).digest()[:16]).rstrip(b"=") */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "event.h"
#include "rtoken.h"
#include "test_util.h"

_Static_assert(AC_RTOKEN_MAX_ID_LEN == AC_EVENT_MAX_ID_LEN,
               "a token carries every id an event may have");

/* A list of secrets over the given strings (not copied; not to be
 * cleared). */
#define SECRETS(...)                                                                               \
    ((ac_secrets_t){(char *[]){__VA_ARGS__}, sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)})

#define KEY     "rtoken-test-secret-0001"
#define OLD_KEY "rtoken-old-secret-0000"
#define MSG_ID  "msg_0123456789abcdef0123456789abcdef"
#define EXPIRES 1731315688LL /* 2024-11-11T09:01:28Z */
#define NOW     (EXPIRES - 7 * 86400)

/* KEY's token for store st_acme, order 1001, customer cus_42, MSG_ID,
 * four stars, expiring at EXPIRES (see the top of the file). */
#define KNOWN_TOKEN                                                                                \
    "1.AQQAAAAAZzHH6AdzdF9hY21lBDEwMDEGY3VzXzQyJG1zZ18wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZg" \
    ".kAS2yJ9iOiL8uWR7GxHgBw"

static ac_rtoken_t example(int rating)
{
    ac_rtoken_t t;
    memset(&t, 0, sizeof(t));
    strcpy(t.store, "st_acme");
    strcpy(t.order, "1001");
    strcpy(t.customer, "cus_42");
    strcpy(t.message, MSG_ID);
    t.rating = rating;
    t.expires_s = EXPIRES;
    return t;
}

/* Signs t with keys and fails the test unless that works. */
static int sign_ok(const ac_secrets_t *keys, const ac_rtoken_t *t, char *out)
{
    char why[256] = "";
    int n = ac_rtoken_sign(keys, t, out, AC_RTOKEN_MAX_LEN, why, sizeof(why));
    if (n < 0)
        print_error("ac_rtoken_sign: %s\n", why);
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(out));
    return n;
}

/* Signing t must fail with a reason containing needle, leaving out empty. */
static void sign_refused(const ac_secrets_t *keys, const ac_rtoken_t *t, const char *needle)
{
    char out[AC_RTOKEN_MAX_LEN] = "x", why[256] = "";
    assert_int_equal(ac_rtoken_sign(keys, t, out, sizeof(out), why, sizeof(why)), -1);
    assert_contains(why, needle);
    assert_string_equal(out, "");
}

static ac_rtoken_result_t verify(const ac_secrets_t *keys, const char *token, int64_t now)
{
    return ac_rtoken_verify(keys, token, strlen(token), now, NULL);
}

static void assert_same(const ac_rtoken_t *a, const ac_rtoken_t *b)
{
    assert_string_equal(a->store, b->store);
    assert_string_equal(a->order, b->order);
    assert_string_equal(a->customer, b->customer);
    assert_string_equal(a->message, b->message);
    assert_int_equal(a->rating, b->rating);
    assert_int_equal(a->expires_s, b->expires_s);
}

static void known_answer(void **state)
{
    (void)state;
    ac_secrets_t keys = SECRETS(KEY);
    ac_rtoken_t t = example(4), got;
    char out[AC_RTOKEN_MAX_LEN];
    sign_ok(&keys, &t, out);
    assert_string_equal(out, KNOWN_TOKEN);
    memset(&got, 0, sizeof(got));
    assert_int_equal(ac_rtoken_verify(&keys, KNOWN_TOKEN, strlen(KNOWN_TOKEN), NOW, &got),
                     AC_RTOKEN_OK);
    assert_same(&got, &t);
}

static void result_names(void **state)
{
    (void)state;
    assert_string_equal(ac_rtoken_result_name(AC_RTOKEN_OK), "ok");
    assert_string_equal(ac_rtoken_result_name(AC_RTOKEN_MALFORMED), "malformed");
    assert_string_equal(ac_rtoken_result_name(AC_RTOKEN_FORGED), "forged");
    assert_string_equal(ac_rtoken_result_name(AC_RTOKEN_EXPIRED), "expired");
    assert_string_equal(ac_rtoken_result_name((ac_rtoken_result_t)42), "unknown");
}

/* Fills s with n bytes cycling through awkward ones: separators of other
 * formats, a line break, bytes that are not UTF-8. */
static void awkward(char *s, size_t n, char salt)
{
    static const char bytes[] = {'.', '\n', (char)0xff, '/', '=', ' ', '%', (char)0x80, '"'};
    for (size_t i = 0; i < n; i++)
        s[i] = i % 7 == 0 ? salt : bytes[i % sizeof(bytes)];
    s[n] = '\0';
}

/* The longest ids, full of bytes that would break a separator, survive
 * the round trip, and give the longest token, which fits
 * AC_RTOKEN_MAX_LEN exactly and uses only URL-safe characters. */
static void round_trip_longest(void **state)
{
    (void)state;
    ac_secrets_t keys = SECRETS(KEY);
    ac_rtoken_t t = example(5), got;
    awkward(t.store, AC_RTOKEN_MAX_ID_LEN, 's');
    awkward(t.order, AC_RTOKEN_MAX_ID_LEN, 'o');
    awkward(t.customer, AC_RTOKEN_MAX_ID_LEN, 'c');
    awkward(t.message, AC_RTOKEN_MAX_MESSAGE_LEN, 'm');
    t.expires_s = INT64_MAX;
    char out[AC_RTOKEN_MAX_LEN], why[128];
    int n = sign_ok(&keys, &t, out);
    assert_int_equal(n, AC_RTOKEN_MAX_LEN - 1);
    assert_int_equal(strspn(out, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                 "0123456789-_."),
                     (size_t)n);
    memset(&got, 0, sizeof(got));
    assert_int_equal(ac_rtoken_verify(&keys, out, (size_t)n, NOW, &got), AC_RTOKEN_OK);
    assert_same(&got, &t);

    /* The buffer may be exactly as long as the token and its NUL. */
    char exact[AC_RTOKEN_MAX_LEN];
    assert_int_equal(ac_rtoken_sign(&keys, &t, exact, sizeof(exact), why, sizeof(why)), n);
    assert_int_equal(ac_rtoken_sign(&keys, &t, exact, sizeof(exact) - 1, why, sizeof(why)), -1);
    assert_contains(why, "the token needs 929 bytes but the buffer has 928");
    assert_string_equal(exact, "");

    /* Ids of one byte each, the shortest there are. */
    ac_rtoken_t s = example(1);
    strcpy(s.store, "\xff");
    strcpy(s.order, ".");
    strcpy(s.customer, "\n");
    strcpy(s.message, "m");
    n = sign_ok(&keys, &s, out);
    assert_int_equal(ac_rtoken_verify(&keys, out, (size_t)n, NOW, &got), AC_RTOKEN_OK);
    assert_same(&got, &s);
}

/* Every rating gets its own token, and none can be turned into another:
 * a link's MAC does not fit another link's payload. */
static void ratings_are_bound(void **state)
{
    (void)state;
    ac_secrets_t keys = SECRETS(KEY);
    char tok[6][AC_RTOKEN_MAX_LEN];
    for (int r = 1; r <= 5; r++) {
        ac_rtoken_t t = example(r), got;
        sign_ok(&keys, &t, tok[r]);
        assert_int_equal(ac_rtoken_verify(&keys, tok[r], strlen(tok[r]), NOW, &got), AC_RTOKEN_OK);
        assert_int_equal(got.rating, r);
    }
    /* The payload of the five-star link with the MAC of the one-star link. */
    char spliced[AC_RTOKEN_MAX_LEN];
    const char *mac1 = strrchr(tok[1], '.');
    size_t head = (size_t)(strrchr(tok[5], '.') - tok[5]);
    memcpy(spliced, tok[5], head);
    strcpy(spliced + head, mac1);
    assert_int_equal(verify(&keys, spliced, NOW), AC_RTOKEN_FORGED);
}

/* Changing any one byte of a token to any other value is refused. */
static void every_byte_change_is_refused(void **state)
{
    (void)state;
    ac_secrets_t keys = SECRETS(OLD_KEY, KEY);
    char tok[AC_RTOKEN_MAX_LEN];
    strcpy(tok, KNOWN_TOKEN);
    size_t n = strlen(tok);
    for (size_t i = 0; i < n; i++) {
        char orig = tok[i];
        for (int v = 0; v < 256; v++) {
            if ((char)v == orig)
                continue;
            tok[i] = (char)v;
            ac_rtoken_result_t r = ac_rtoken_verify(&keys, tok, n, NOW, NULL);
            if (r != AC_RTOKEN_FORGED && r != AC_RTOKEN_MALFORMED) {
                print_error("byte %zu changed to 0x%02x: %s\n", i, v, ac_rtoken_result_name(r));
                fail();
            }
        }
        tok[i] = orig;
    }
    assert_int_equal(ac_rtoken_verify(&keys, tok, n, NOW, NULL), AC_RTOKEN_OK);
}

/* Every proper prefix of a token is refused, and so is anything after
 * it. The token is read as len bytes, with no NUL after them. */
static void truncated_or_extended_is_refused(void **state)
{
    (void)state;
    ac_secrets_t keys = SECRETS(KEY);
    size_t n = strlen(KNOWN_TOKEN);
    for (size_t len = 0; len < n; len++) {
        char *cut = malloc(len ? len : 1);
        assert_non_null(cut);
        memcpy(cut, KNOWN_TOKEN, len);
        assert_int_not_equal(ac_rtoken_verify(&keys, cut, len, NOW, NULL), AC_RTOKEN_OK);
        free(cut);
    }
    static const char *const tails[] = {"A", "g", "=", "==", ".", "-", "_", "%20", "\n", "/"};
    for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
        char longer[AC_RTOKEN_MAX_LEN + 8];
        snprintf(longer, sizeof(longer), "%s%s", KNOWN_TOKEN, tails[i]);
        assert_int_not_equal(verify(&keys, longer, NOW), AC_RTOKEN_OK);
    }
    /* A NUL inside the given length is not the end of the token. */
    char nul[sizeof(KNOWN_TOKEN) + 1];
    memcpy(nul, KNOWN_TOKEN, sizeof(KNOWN_TOKEN));
    nul[sizeof(KNOWN_TOKEN)] = 'A';
    assert_int_equal(ac_rtoken_verify(&keys, nul, sizeof(nul), NOW, NULL), AC_RTOKEN_MALFORMED);
    assert_int_equal(ac_rtoken_verify(&keys, NULL, 0, NOW, NULL), AC_RTOKEN_MALFORMED);
    /* A prefix of something longer than the longest token is not read. */
    char huge[AC_RTOKEN_MAX_LEN + 1];
    memset(huge, 'A', sizeof(huge));
    memcpy(huge, "1.", 2);
    assert_int_equal(ac_rtoken_verify(&keys, huge, sizeof(huge), NOW, NULL), AC_RTOKEN_MALFORMED);
}

/* Base64url has one text for given bytes: the other texts that decode to
 * the same bytes (unused low bits set, padding, the standard alphabet)
 * are refused, so a token cannot be varied and still accepted. */
static void non_canonical_base64_is_refused(void **state)
{
    (void)state;
    ac_secrets_t keys = SECRETS(KEY);
    char tok[AC_RTOKEN_MAX_LEN];
    strcpy(tok, KNOWN_TOKEN);
    size_t n = strlen(tok), dot = (size_t)(strrchr(tok, '.') - tok);
    /* The payload's last character 'g' carries 4 unused bits; so does the
     * MAC's last character 'w' (22 characters for 16 bytes). */
    assert_int_equal(tok[dot - 1], 'g');
    tok[dot - 1] = 'h';
    assert_int_equal(verify(&keys, tok, NOW), AC_RTOKEN_MALFORMED);
    tok[dot - 1] = 'g';
    assert_int_equal(tok[n - 1], 'w');
    tok[n - 1] = 'x';
    assert_int_equal(verify(&keys, tok, NOW), AC_RTOKEN_MALFORMED);
    tok[n - 1] = '/';
    assert_int_equal(verify(&keys, tok, NOW), AC_RTOKEN_MALFORMED);
    tok[n - 1] = 'w';
    assert_int_equal(verify(&keys, tok, NOW), AC_RTOKEN_OK);
    /* A payload of 3k + 2 bytes ends in a character with 2 unused bits. */
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    ac_rtoken_t t = example(4);
    strcat(t.message, "0");
    char two[AC_RTOKEN_MAX_LEN];
    size_t tlen = (size_t)sign_ok(&keys, &t, two), tdot = (size_t)(strrchr(two, '.') - two);
    assert_int_equal((tdot - 2) % 4, 3);
    size_t v = (size_t)(strchr(alphabet, two[tdot - 1]) - alphabet);
    assert_int_equal(v & 3, 0);
    two[tdot - 1] = alphabet[v | 1];
    assert_int_equal(ac_rtoken_verify(&keys, two, tlen, NOW, NULL), AC_RTOKEN_MALFORMED);
    two[tdot - 1] = alphabet[v | 2];
    assert_int_equal(ac_rtoken_verify(&keys, two, tlen, NOW, NULL), AC_RTOKEN_MALFORMED);
    two[tdot - 1] = alphabet[v];
    assert_int_equal(ac_rtoken_verify(&keys, two, tlen, NOW, NULL), AC_RTOKEN_OK);
    /* A payload of 4k + 1 characters, which no bytes encode to. */
    char odd[AC_RTOKEN_MAX_LEN];
    snprintf(odd, sizeof(odd), "%.*s%s", (int)dot - 1, tok, tok + dot);
    assert_int_equal((strrchr(odd, '.') - odd - 2) % 4, 1);
    assert_int_equal(verify(&keys, odd, NOW), AC_RTOKEN_MALFORMED);
    /* Padding where none belongs. */
    char padded[AC_RTOKEN_MAX_LEN + 4];
    snprintf(padded, sizeof(padded), "%.*s==.%s", (int)dot, tok, tok + dot + 1);
    assert_int_equal(verify(&keys, padded, NOW), AC_RTOKEN_MALFORMED);
}

/* Rotation: a token signed with the old secret verifies while both are
 * listed, in either order, and is forged once the old one is removed. */
static void rotation(void **state)
{
    (void)state;
    ac_secrets_t old_only = SECRETS(OLD_KEY), both = SECRETS(KEY, OLD_KEY);
    ac_secrets_t reversed = SECRETS(OLD_KEY, KEY), new_only = SECRETS(KEY);
    ac_rtoken_t t = example(3), got;
    char old_tok[AC_RTOKEN_MAX_LEN], new_tok[AC_RTOKEN_MAX_LEN];
    sign_ok(&old_only, &t, old_tok);
    sign_ok(&both, &t, new_tok);
    assert_string_not_equal(old_tok, new_tok);
    assert_int_equal(ac_rtoken_verify(&both, old_tok, strlen(old_tok), NOW, &got), AC_RTOKEN_OK);
    assert_same(&got, &t);
    assert_int_equal(verify(&reversed, old_tok, NOW), AC_RTOKEN_OK);
    assert_int_equal(verify(&both, new_tok, NOW), AC_RTOKEN_OK);
    assert_int_equal(verify(&reversed, new_tok, NOW), AC_RTOKEN_OK);
    assert_int_equal(verify(&new_only, old_tok, NOW), AC_RTOKEN_FORGED);
    assert_int_equal(verify(&old_only, new_tok, NOW), AC_RTOKEN_FORGED);
    /* No secret, or only unusable ones (empty, short, missing): nothing
     * verifies. */
    ac_secrets_t none = {NULL, 0}, weak = SECRETS("", "short-secret", NULL);
    assert_int_equal(verify(&none, new_tok, NOW), AC_RTOKEN_FORGED);
    assert_int_equal(verify(NULL, new_tok, NOW), AC_RTOKEN_FORGED);
    assert_int_equal(verify(&weak, new_tok, NOW), AC_RTOKEN_FORGED);
}

/* A token works while now_s < expires_s: at expires_s it has expired. An
 * expired token still says which order it was for. */
static void expiry_boundary(void **state)
{
    (void)state;
    ac_secrets_t keys = SECRETS(KEY);
    ac_rtoken_t got;
    const char *tok = KNOWN_TOKEN;
    assert_int_equal(verify(&keys, tok, EXPIRES - 1), AC_RTOKEN_OK);
    assert_int_equal(verify(&keys, tok, INT64_MIN), AC_RTOKEN_OK);
    memset(&got, 0, sizeof(got));
    assert_int_equal(ac_rtoken_verify(&keys, tok, strlen(tok), EXPIRES, &got), AC_RTOKEN_EXPIRED);
    assert_string_equal(got.order, "1001");
    assert_int_equal(got.expires_s, EXPIRES);
    assert_int_equal(verify(&keys, tok, EXPIRES + 1), AC_RTOKEN_EXPIRED);
    assert_int_equal(verify(&keys, tok, INT64_MAX), AC_RTOKEN_EXPIRED);
    /* A forged token is forged, not expired, whenever it is checked. */
    assert_int_equal(verify(&keys,
                            "1.AQQAAAAAZzHH6AdzdF9hY21lBDEwMDEGY3VzXzQyJG1zZ18wMTIzNDU2Nzg5"
                            "YWJjZGVmMDEyMzQ1Njc4OWFiY2RlZg.AAAAAAAAAAAAAAAAAAAAAA",
                            EXPIRES + 1),
                     AC_RTOKEN_FORGED);
    /* *out is left alone unless the token is genuine. */
    memset(&got, 0x5a, sizeof(got));
    assert_int_equal(ac_rtoken_verify(&keys, "1.x", 3, NOW, &got), AC_RTOKEN_MALFORMED);
    assert_int_equal(got.rating, 0x5a5a5a5a);
}

static void sign_refusals(void **state)
{
    (void)state;
    ac_secrets_t keys = SECRETS(KEY);
    ac_rtoken_t t = example(0);
    sign_refused(&keys, &t, "the rating 0 is not 1 to 5");
    t.rating = 6;
    sign_refused(&keys, &t, "the rating 6 is not 1 to 5");
    t.rating = -1;
    sign_refused(&keys, &t, "the rating -1 is not 1 to 5");

    t = example(2);
    t.expires_s = 0;
    sign_refused(&keys, &t, "the expiry is not a positive Unix time");
    t.expires_s = -5;
    sign_refused(&keys, &t, "the expiry is not a positive Unix time");

    /* Each id, empty and one byte too long (no NUL within its array). */
    static const char *const names[] = {"store id", "order id", "customer id", "message id"};
    for (int f = 0; f < 4; f++) {
        t = example(2);
        char *field[] = {t.store, t.order, t.customer, t.message};
        size_t cap[] = {sizeof(t.store), sizeof(t.order), sizeof(t.customer), sizeof(t.message)};
        char want[64];
        field[f][0] = '\0';
        snprintf(want, sizeof(want), "the %s is empty", names[f]);
        sign_refused(&keys, &t, want);
        memset(field[f], 'x', cap[f]);
        snprintf(want, sizeof(want), "the %s is longer than %zu bytes", names[f], cap[f] - 1);
        sign_refused(&keys, &t, want);
    }

    /* No secret, or a first secret that is too short to sign with. */
    t = example(2);
    ac_secrets_t none = {NULL, 0}, missing = SECRETS(NULL);
    sign_refused(&none, &t, "no rating secret is configured");
    sign_refused(NULL, &t, "no rating secret is configured");
    sign_refused(&missing, &t, "no rating secret is configured");
    ac_secrets_t short_key = SECRETS("fifteen-bytes-!", KEY), empty = SECRETS("");
    sign_refused(&short_key, &t, "the rating secret is shorter than 16 bytes");
    sign_refused(&empty, &t, "the rating secret is shorter than 16 bytes");
    ac_secrets_t sixteen = SECRETS("sixteen-bytes-!!");
    char out[AC_RTOKEN_MAX_LEN];
    sign_ok(&sixteen, &t, out);
    assert_int_equal(verify(&sixteen, out, NOW), AC_RTOKEN_OK);

    /* The buffer: too small by one, none at all; why may be NULL. */
    char small[sizeof(KNOWN_TOKEN) - 1], why[128];
    t = example(4);
    assert_int_equal(ac_rtoken_sign(&keys, &t, small, sizeof(small), why, sizeof(why)), -1);
    assert_contains(why, "the token needs");
    assert_string_equal(small, "");
    assert_int_equal(ac_rtoken_sign(&keys, &t, NULL, 0, why, sizeof(why)), -1);
    assert_int_equal(ac_rtoken_sign(&keys, &t, small, sizeof(small), NULL, 0), -1);
    char fits[sizeof(KNOWN_TOKEN)];
    assert_int_equal(ac_rtoken_sign(&keys, &t, fits, sizeof(fits), NULL, 0),
                     (int)strlen(KNOWN_TOKEN));
    /* No refusal shows the secret. */
    sign_refused(&short_key, &t, "shorter");
    char w[256] = "";
    ac_rtoken_sign(&short_key, &t, out, sizeof(out), w, sizeof(w));
    assert_not_contains(w, "fifteen");
}

/* base64url without padding, for building payloads by hand. */
static size_t b64url(const unsigned char *in, size_t n, char *out)
{
    EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    size_t len = strlen(out);
    for (size_t i = 0; i < len; i++)
        out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    while (len && out[len - 1] == '=')
        out[--len] = '\0';
    return len;
}

/* A token with a valid MAC under key over an arbitrary payload: what only
 * a holder of the secret could make. */
static void forge_with_key(const char *key, const unsigned char *p, size_t n, char *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    strcpy(out, "1.");
    size_t len = 2 + b64url(p, n, out + 2);
    assert_non_null(
        HMAC(EVP_sha256(), key, (int)strlen(key), (unsigned char *)out, len, mac, &maclen));
    out[len] = '.';
    b64url(mac, 16, out + len + 1);
}

/* A payload is read only once its MAC verifies, and then only if it is
 * one ac_rtoken_sign() could have written. */
static void signed_but_malformed_payloads(void **state)
{
    (void)state;
    ac_secrets_t keys = SECRETS(KEY);
    /* Version 1, rating 4, EXPIRES, then "s", "o", "c", "m". */
    const unsigned char good[] = {1,    4, 0,   0, 0,   0, 0x67, 0x31, 0xc7,
                                  0xe8, 1, 's', 1, 'o', 1, 'c',  1,    'm'};
    unsigned char p[64];
    char tok[256];
    forge_with_key(KEY, good, sizeof(good), tok);
    assert_int_equal(verify(&keys, tok, NOW), AC_RTOKEN_OK);

    struct {
        size_t at;
        unsigned char value;
    } const changes[] = {
        {0, 2},     /* another version */
        {1, 0},     /* rating 0 */
        {1, 6},     /* rating 6 */
        {2, 0x80},  /* expiry beyond INT64_MAX */
        {10, 0},    /* an empty store id */
        {16, 2},    /* the message id runs past the end */
        {13, '\0'}, /* a NUL in the order id */
    };
    for (size_t i = 0; i < sizeof(changes) / sizeof(changes[0]); i++) {
        memcpy(p, good, sizeof(good));
        p[changes[i].at] = changes[i].value;
        forge_with_key(KEY, p, sizeof(good), tok);
        assert_int_equal(verify(&keys, tok, NOW), AC_RTOKEN_MALFORMED);
    }
    /* An empty store id whose length byte is consistent with the rest. */
    const unsigned char empty_id[] = {1,    4, 0, 0,   0, 0,   0x67, 0x31, 0xc7,
                                      0xe8, 0, 1, 'o', 1, 'c', 1,    'm'};
    forge_with_key(KEY, empty_id, sizeof(empty_id), tok);
    assert_int_equal(verify(&keys, tok, NOW), AC_RTOKEN_MALFORMED);
    /* Expiry 0; a byte after the last id; the last id missing. */
    memcpy(p, good, sizeof(good));
    memset(p + 2, 0, 8);
    forge_with_key(KEY, p, sizeof(good), tok);
    assert_int_equal(verify(&keys, tok, NOW), AC_RTOKEN_MALFORMED);
    memcpy(p, good, sizeof(good));
    p[sizeof(good)] = 'x';
    forge_with_key(KEY, p, sizeof(good) + 1, tok);
    assert_int_equal(verify(&keys, tok, NOW), AC_RTOKEN_MALFORMED);
    forge_with_key(KEY, good, sizeof(good) - 2, tok);
    assert_int_equal(verify(&keys, tok, NOW), AC_RTOKEN_MALFORMED);
    forge_with_key(KEY, good, 0, tok);
    assert_int_equal(verify(&keys, tok, NOW), AC_RTOKEN_MALFORMED);
    /* The same bad payload under a secret that is not configured is
     * forged: the MAC is checked before the payload is read. */
    forge_with_key(OLD_KEY, p, sizeof(good) + 1, tok);
    assert_int_equal(verify(&keys, tok, NOW), AC_RTOKEN_FORGED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(known_answer),
        cmocka_unit_test(result_names),
        cmocka_unit_test(round_trip_longest),
        cmocka_unit_test(ratings_are_bound),
        cmocka_unit_test(every_byte_change_is_refused),
        cmocka_unit_test(truncated_or_extended_is_refused),
        cmocka_unit_test(non_canonical_base64_is_refused),
        cmocka_unit_test(rotation),
        cmocka_unit_test(expiry_boundary),
        cmocka_unit_test(sign_refusals),
        cmocka_unit_test(signed_but_malformed_payloads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
