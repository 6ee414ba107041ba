/* The signature checks of the ingest gateway (common/sig.c): base64
 * HMAC-SHA256 (Shopify, WooCommerce), Standard Webhooks (POST /events,
 * BigCommerce with a client secret) and shared secrets (BigCommerce's
 * custom header), each with several secrets for rotation.
 *
 * The expected HMACs were computed with Python's hmac module:
 *   base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest()) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sig.h"
#include "test_util.h"

/* A list of secrets over the given strings (not copied; not to be
 * cleared). */
#define SECRETS(...)                                                                               \
    ((ac_secrets_t){(char *[]){__VA_ARGS__}, sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)})

static const ac_secrets_t NONE = {NULL, 0};

/* ------------------------------------------------------------- HMAC */

#define SHOP_KEY "shpss_e2b1c7d9a4f3"
#define SHOP_OLD "shpss_old_5c3a"
#define SHOP_BODY                                                                                  \
    "{\"id\":820982911946154508,\"email\":\"jon@example.com\",\"total_price\":\"199.65\"}"
/* HMAC-SHA256(SHOP_KEY, SHOP_BODY) and (SHOP_OLD, SHOP_BODY), base64. */
#define SHOP_SIG     "0MzkIK7FweJ67uzukWLA3cNcvuNz8UU3EB5kSesBsqY="
#define SHOP_OLD_SIG "dDh2QKh2j9vZLsvS0FsEGxceUteUdbvWl8ORIrmhglI="

#define WOO_KEY  "ck_woo_secret_7Q2z"
#define WOO_BODY "{\"id\":727,\"status\":\"processing\",\"total\":\"29.35\"}"
#define WOO_SIG  "+Tw+mgolyd2HFrLb5ahI0yvXOvAGWkK4EaOdOYO/4qo="

static void hmac_known_answers(void **state)
{
    (void)state;
    ac_secrets_t shop = SECRETS(SHOP_KEY), woo = SECRETS(WOO_KEY);
    assert_true(ac_sig_hmac_b64_ok(&shop, SHOP_BODY, strlen(SHOP_BODY), SHOP_SIG));
    assert_true(ac_sig_hmac_b64_ok(&woo, WOO_BODY, strlen(WOO_BODY), WOO_SIG));
    /* An empty body has a signature too. */
    assert_true(ac_sig_hmac_b64_ok(&shop, "", 0, "QCdNy8h7unbX7YUk3TngYFsbwG7g8VUd5xvJIaXNTSE="));
}

static void hmac_wrong_is_refused(void **state)
{
    (void)state;
    ac_secrets_t shop = SECRETS(SHOP_KEY);
    char sig[] = SHOP_SIG;
    /* Another key, another body, a changed or cut signature. */
    ac_secrets_t other = SECRETS(WOO_KEY);
    assert_false(ac_sig_hmac_b64_ok(&other, SHOP_BODY, strlen(SHOP_BODY), SHOP_SIG));
    assert_false(ac_sig_hmac_b64_ok(&shop, WOO_BODY, strlen(WOO_BODY), SHOP_SIG));
    assert_false(ac_sig_hmac_b64_ok(&shop, SHOP_BODY, strlen(SHOP_BODY) - 1, SHOP_SIG));
    sig[0] = 'A';
    assert_false(ac_sig_hmac_b64_ok(&shop, SHOP_BODY, strlen(SHOP_BODY), sig));
    sig[0] = SHOP_SIG[0];
    sig[strlen(sig) - 1] = '\0'; /* without the padding */
    assert_false(ac_sig_hmac_b64_ok(&shop, SHOP_BODY, strlen(SHOP_BODY), sig));
    assert_false(ac_sig_hmac_b64_ok(&shop, SHOP_BODY, strlen(SHOP_BODY), SHOP_SIG " "));
    assert_false(ac_sig_hmac_b64_ok(&shop, SHOP_BODY, strlen(SHOP_BODY), "sha256=" SHOP_SIG));
    /* The hex digest is not what the platforms send. */
    assert_false(
        ac_sig_hmac_b64_ok(&shop, SHOP_BODY, strlen(SHOP_BODY),
                           "d0cce420aec5c1e27aeeecee9162c0ddc35cbee373f14537101e6449eb01b2a6"));
}

static void hmac_missing_is_refused(void **state)
{
    (void)state;
    ac_secrets_t shop = SECRETS(SHOP_KEY);
    assert_false(ac_sig_hmac_b64_ok(&shop, SHOP_BODY, strlen(SHOP_BODY), NULL));
    assert_false(ac_sig_hmac_b64_ok(&shop, SHOP_BODY, strlen(SHOP_BODY), ""));
    /* No secret configured: nothing verifies. */
    assert_false(ac_sig_hmac_b64_ok(&NONE, SHOP_BODY, strlen(SHOP_BODY), SHOP_SIG));
    assert_false(ac_sig_hmac_b64_ok(NULL, SHOP_BODY, strlen(SHOP_BODY), SHOP_SIG));
}

/* Rotation: while both secrets are listed either verifies, in any order;
 * once the old one is removed its signatures fail. */
static void hmac_rotation(void **state)
{
    (void)state;
    ac_secrets_t both = SECRETS(SHOP_OLD, SHOP_KEY), reversed = SECRETS(SHOP_KEY, SHOP_OLD);
    ac_secrets_t new_only = SECRETS(SHOP_KEY), old_only = SECRETS(SHOP_OLD);
    assert_true(ac_sig_hmac_b64_ok(&both, SHOP_BODY, strlen(SHOP_BODY), SHOP_SIG));
    assert_true(ac_sig_hmac_b64_ok(&both, SHOP_BODY, strlen(SHOP_BODY), SHOP_OLD_SIG));
    assert_true(ac_sig_hmac_b64_ok(&reversed, SHOP_BODY, strlen(SHOP_BODY), SHOP_SIG));
    assert_true(ac_sig_hmac_b64_ok(&reversed, SHOP_BODY, strlen(SHOP_BODY), SHOP_OLD_SIG));
    assert_true(ac_sig_hmac_b64_ok(&new_only, SHOP_BODY, strlen(SHOP_BODY), SHOP_SIG));
    assert_false(ac_sig_hmac_b64_ok(&new_only, SHOP_BODY, strlen(SHOP_BODY), SHOP_OLD_SIG));
    assert_false(ac_sig_hmac_b64_ok(&old_only, SHOP_BODY, strlen(SHOP_BODY), SHOP_SIG));
}

/* The body is bytes: a NUL inside it is signed like any other byte. */
static void hmac_body_is_bytes(void **state)
{
    (void)state;
    ac_secrets_t shop = SECRETS(SHOP_KEY);
    /* HMAC-SHA256(SHOP_KEY, "a\0b") */
    assert_true(
        ac_sig_hmac_b64_ok(&shop, "a\0b", 3, "qjx2zW6rRMg8D865v7796UcisTLOksjX6gy/4/QY6to="));
    assert_false(
        ac_sig_hmac_b64_ok(&shop, "a\0c", 3, "qjx2zW6rRMg8D865v7796UcisTLOksjX6gy/4/QY6to="));
}

/* ------------------------------------------------------- Standard Webhooks */

/* The specification's published example. */
#define STD_KEY  "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define STD_ID   "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define STD_TS   "1614265330"
#define STD_NOW  1614265330LL
#define STD_BODY "{\"test\": 2432232314}"
#define STD_SIG  "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

/* A padded key: "whsec_" and the base64 of "testsecrettestsecret". */
#define PAD_KEY  "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ="
#define PAD_ID   "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
#define PAD_BODY "{\"order_id\":\"1001\"}"
/* HMAC-SHA256("testsecrettestsecret", PAD_ID ".1730710888." PAD_BODY) */
#define PAD_SIG "v1,GWP0fuMkjLHD4Zjb5Xqh+kNXgMTXy7XYWQqZ8ZCj0zo="
/* The same with the secret's text as the key: what an implementation
 * that forgot to decode the secret would send. */
#define PAD_SIG_UNDECODED "v1,O2mQoT15uVXfbE7X3keIXVsQhWzk1OFYuSp17Rs5OYQ="

static int std_ok(const ac_secrets_t *s, const char *id, const char *ts, const char *sig,
                  const char *body, int64_t now, char *why)
{
    why[0] = '\0';
    return ac_sig_standard_ok(s, id, ts, sig, body, body ? strlen(body) : 0, now, 300, why, 256);
}

static void standard_known_answers(void **state)
{
    (void)state;
    char why[256];
    ac_secrets_t spec = SECRETS(STD_KEY), pad = SECRETS(PAD_KEY);
    assert_true(std_ok(&spec, STD_ID, STD_TS, STD_SIG, STD_BODY, STD_NOW, why));
    assert_true(std_ok(&pad, PAD_ID, "1730710888", PAD_SIG, PAD_BODY, 1730710888, why));
}

/* The key is the base64 after whsec_, not the secret's text; a secret that
 * is not whsec_<base64 of 16 bytes or more> verifies nothing. */
static void standard_whsec_decoding(void **state)
{
    (void)state;
    char why[256];
    ac_secrets_t pad = SECRETS(PAD_KEY);
    assert_false(std_ok(&pad, PAD_ID, "1730710888", PAD_SIG_UNDECODED, PAD_BODY, 1730710888, why));
    assert_contains(why, "no webhook-signature entry verifies");
    ac_secrets_t bare = SECRETS("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    assert_false(std_ok(&bare, STD_ID, STD_TS, STD_SIG, STD_BODY, STD_NOW, why));
    ac_secrets_t bad = SECRETS("whsec_!!!!", "whsec_c2hvcnQ=" /* "short" */, "whsec_");
    assert_false(std_ok(&bad, STD_ID, STD_TS, STD_SIG, STD_BODY, STD_NOW, why));
    /* A malformed secret in the list does not stop a good one. */
    ac_secrets_t mixed = SECRETS("whsec_!!!!", STD_KEY);
    assert_true(std_ok(&mixed, STD_ID, STD_TS, STD_SIG, STD_BODY, STD_NOW, why));
}

static void standard_wrong_is_refused(void **state)
{
    (void)state;
    char why[256];
    ac_secrets_t spec = SECRETS(STD_KEY), pad = SECRETS(PAD_KEY);
    /* Another key, id, timestamp or body. */
    assert_false(std_ok(&pad, STD_ID, STD_TS, STD_SIG, STD_BODY, STD_NOW, why));
    assert_contains(why, "no webhook-signature entry verifies");
    assert_false(
        std_ok(&spec, "msg_p5jXN8AQM9LWM0D4loKWxJeK", STD_TS, STD_SIG, STD_BODY, STD_NOW, why));
    assert_false(std_ok(&spec, STD_ID, "1614265331", STD_SIG, STD_BODY, STD_NOW, why));
    assert_false(std_ok(&spec, STD_ID, STD_TS, STD_SIG, "{\"test\": 2432232315}", STD_NOW, why));
    /* The signature changed, without its version, or of another version. */
    assert_false(std_ok(&spec, STD_ID, STD_TS,
                        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=", STD_BODY, STD_NOW, why));
    assert_false(std_ok(&spec, STD_ID, STD_TS, STD_SIG + 3, STD_BODY, STD_NOW, why));
    assert_false(std_ok(&spec, STD_ID, STD_TS,
                        "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", STD_BODY, STD_NOW, why));
    assert_false(std_ok(&spec, STD_ID, STD_TS, "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                        STD_BODY, STD_NOW, why));
    /* Not Unix seconds. */
    assert_false(std_ok(&spec, STD_ID, "2021-02-25T15:02:10Z", STD_SIG, STD_BODY, STD_NOW, why));
    assert_contains(why, "not Unix seconds");
    assert_false(std_ok(&spec, STD_ID, "1614265330x", STD_SIG, STD_BODY, STD_NOW, why));
    assert_contains(why, "not Unix seconds");
}

static void standard_missing_is_refused(void **state)
{
    (void)state;
    char why[256];
    ac_secrets_t spec = SECRETS(STD_KEY);
    const char *parts[3][3] = {
        {NULL, STD_TS, STD_SIG}, {STD_ID, NULL, STD_SIG}, {STD_ID, STD_TS, NULL}};
    for (int i = 0; i < 3; i++) {
        assert_false(std_ok(&spec, parts[i][0], parts[i][1], parts[i][2], STD_BODY, STD_NOW, why));
        assert_contains(why, "missing");
    }
    assert_false(std_ok(&spec, "", STD_TS, STD_SIG, STD_BODY, STD_NOW, why));
    assert_contains(why, "missing");
    assert_false(std_ok(&spec, STD_ID, "", STD_SIG, STD_BODY, STD_NOW, why));
    assert_false(std_ok(&spec, STD_ID, STD_TS, "", STD_BODY, STD_NOW, why));
    assert_false(std_ok(&NONE, STD_ID, STD_TS, STD_SIG, STD_BODY, STD_NOW, why));
    assert_true(why[0] != '\0');
    assert_false(std_ok(NULL, STD_ID, STD_TS, STD_SIG, STD_BODY, STD_NOW, why));
}

/* 300 s either side of now is in; a second more is out. */
static void standard_tolerance_edges(void **state)
{
    (void)state;
    char why[256];
    ac_secrets_t spec = SECRETS(STD_KEY);
    /* The message is from STD_TS; now is later (an old message) ... */
    assert_true(std_ok(&spec, STD_ID, STD_TS, STD_SIG, STD_BODY, STD_NOW + 300, why));
    assert_false(std_ok(&spec, STD_ID, STD_TS, STD_SIG, STD_BODY, STD_NOW + 301, why));
    assert_contains(why, "tolerance");
    /* ... or earlier (a sender's clock ahead). */
    assert_true(std_ok(&spec, STD_ID, STD_TS, STD_SIG, STD_BODY, STD_NOW - 300, why));
    assert_false(std_ok(&spec, STD_ID, STD_TS, STD_SIG, STD_BODY, STD_NOW - 301, why));
    assert_contains(why, "tolerance");
    /* The timestamp is checked before anything is computed. */
    assert_false(std_ok(&spec, STD_ID, "0", STD_SIG, STD_BODY, STD_NOW, why));
    assert_contains(why, "tolerance");
    assert_false(std_ok(&spec, STD_ID, "99999999999999999999", STD_SIG, STD_BODY, STD_NOW, why));
    assert_false(std_ok(&spec, STD_ID, "-99999999999999999999", STD_SIG, STD_BODY, STD_NOW, why));
}

/* A sender that rotates signs with every key it has, space-separated; any
 * one entry that verifies is enough, wherever it stands. */
static void standard_multiple_entries(void **state)
{
    (void)state;
    char why[256];
    ac_secrets_t spec = SECRETS(STD_KEY);
    assert_true(std_ok(&spec, STD_ID, STD_TS, "v1,bm9wZQ== " STD_SIG, STD_BODY, STD_NOW, why));
    assert_true(std_ok(&spec, STD_ID, STD_TS, STD_SIG " v1,bm9wZQ==", STD_BODY, STD_NOW, why));
    assert_true(std_ok(&spec, STD_ID, STD_TS, "v1a,eHl6 v2,x  " STD_SIG "  v1,bm9wZQ==", STD_BODY,
                       STD_NOW, why));
    assert_false(std_ok(&spec, STD_ID, STD_TS, "v1,bm9wZQ== v1,eHl6", STD_BODY, STD_NOW, why));
    /* Entries are whole: a prefix or suffix of the right one is not it. */
    assert_false(std_ok(&spec, STD_ID, STD_TS, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",
                        STD_BODY, STD_NOW, why));
    assert_false(std_ok(&spec, STD_ID, STD_TS, STD_SIG "=", STD_BODY, STD_NOW, why));
    assert_false(std_ok(&spec, STD_ID, STD_TS, "x" STD_SIG, STD_BODY, STD_NOW, why));
}

static void standard_rotation(void **state)
{
    (void)state;
    char why[256];
    ac_secrets_t both = SECRETS(PAD_KEY, STD_KEY), new_only = SECRETS(PAD_KEY);
    assert_true(std_ok(&both, STD_ID, STD_TS, STD_SIG, STD_BODY, STD_NOW, why));
    assert_true(std_ok(&both, PAD_ID, "1730710888", PAD_SIG, PAD_BODY, 1730710888, why));
    assert_false(std_ok(&new_only, STD_ID, STD_TS, STD_SIG, STD_BODY, STD_NOW, why));
    assert_true(std_ok(&new_only, PAD_ID, "1730710888", PAD_SIG, PAD_BODY, 1730710888, why));
}

/* ------------------------------------------------------------- shared */

static void shared_secret(void **state)
{
    (void)state;
    ac_secrets_t one = SECRETS("hook-secret-1");
    assert_true(ac_sig_shared_ok(&one, "hook-secret-1"));
    assert_false(ac_sig_shared_ok(&one, "hook-secret-2"));
    assert_false(ac_sig_shared_ok(&one, "hook-secret-"));
    assert_false(ac_sig_shared_ok(&one, "hook-secret-10"));
    assert_false(ac_sig_shared_ok(&one, "HOOK-SECRET-1"));
    assert_false(ac_sig_shared_ok(&one, " hook-secret-1"));
    /* Missing. */
    assert_false(ac_sig_shared_ok(&one, NULL));
    assert_false(ac_sig_shared_ok(&one, ""));
    assert_false(ac_sig_shared_ok(&NONE, "hook-secret-1"));
    assert_false(ac_sig_shared_ok(NULL, "hook-secret-1"));
    /* An empty secret never matches, not even an empty value. */
    ac_secrets_t empty = SECRETS("");
    assert_false(ac_sig_shared_ok(&empty, ""));
}

static void shared_rotation(void **state)
{
    (void)state;
    ac_secrets_t both = SECRETS("hook-old", "hook-new"), new_only = SECRETS("hook-new");
    assert_true(ac_sig_shared_ok(&both, "hook-old"));
    assert_true(ac_sig_shared_ok(&both, "hook-new"));
    assert_true(ac_sig_shared_ok(&new_only, "hook-new"));
    assert_false(ac_sig_shared_ok(&new_only, "hook-old"));
}

/* ------------------------------------------------------------- clearing */

static void secrets_clear(void **state)
{
    (void)state;
    ac_secrets_t s = {calloc(2, sizeof(char *)), 2};
    assert_non_null(s.v);
    s.v[0] = strdup("one");
    s.v[1] = strdup("two");
    ac_secrets_clear(&s);
    assert_null(s.v);
    assert_int_equal(s.n, 0);
    ac_secrets_clear(&s); /* twice is harmless */
    ac_secrets_clear(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hmac_known_answers),
        cmocka_unit_test(hmac_wrong_is_refused),
        cmocka_unit_test(hmac_missing_is_refused),
        cmocka_unit_test(hmac_rotation),
        cmocka_unit_test(hmac_body_is_bytes),
        cmocka_unit_test(standard_known_answers),
        cmocka_unit_test(standard_whsec_decoding),
        cmocka_unit_test(standard_wrong_is_refused),
        cmocka_unit_test(standard_missing_is_refused),
        cmocka_unit_test(standard_tolerance_edges),
        cmocka_unit_test(standard_multiple_entries),
        cmocka_unit_test(standard_rotation),
        cmocka_unit_test(shared_secret),
        cmocka_unit_test(shared_rotation),
        cmocka_unit_test(secrets_clear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
