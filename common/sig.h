/* Checks the signatures store platforms put on their webhooks (pure; no
 * I/O). Every comparison of a signature or shared secret is constant-time
 * (CRYPTO_memcmp), so a forger learns nothing from how long a refusal
 * took. Several secrets are accepted at once, so a store can rotate: a
 * request passes when any of them verifies it. */
#ifndef AC_SIG_H
#define AC_SIG_H

#include <stddef.h>
#include <stdint.h>

/* A list of secrets, owned by whoever built it (creds.h). */
typedef struct ac_secrets {
    char **v;
    size_t n;
} ac_secrets_t;

/* Shopify's X-Shopify-Hmac-Sha256 and WooCommerce's X-WC-Webhook-Signature:
 * header is the base64 HMAC-SHA256 of the raw body under one of the
 * secrets. Returns 1 when it verifies, 0 otherwise (header NULL or
 * empty included). */
int ac_sig_hmac_b64_ok(const ac_secrets_t *secrets, const void *body, size_t len,
                       const char *header);

/* Standard Webhooks (https://www.standardwebhooks.com): webhook-id,
 * webhook-timestamp (Unix seconds) and webhook-signature (space-separated
 * "v1,<base64>" entries) over "id.timestamp.body" under one of the
 * "whsec_<base64>" secrets, with the timestamp within tolerance_s of
 * now_s. Returns 1 when it verifies, 0 with the reason in why. */
int ac_sig_standard_ok(const ac_secrets_t *secrets, const char *id, const char *timestamp,
                       const char *signature, const void *body, size_t len, int64_t now_s,
                       int64_t tolerance_s, char *why, size_t whysz);

/* A shared secret sent as a header value (BigCommerce's custom headers):
 * 1 when value equals one of the secrets. */
int ac_sig_shared_ok(const ac_secrets_t *secrets, const char *value);

/* Frees the list's strings and array (not s itself). Accepts NULL. */
void ac_secrets_clear(ac_secrets_t *s);

#endif
