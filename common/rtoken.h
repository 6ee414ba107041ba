/* Signed one-click rating tokens (pure; OpenSSL only, no I/O).
 *
 * A review-request email carries five links, one per star rating, each of
 * the form https://<gateway>/r/{token}. The ingest gateway verifies the
 * token and turns it into a feedback.received event, so the token has to
 * say, on its own and unforgeably, which store, order, customer and
 * message the rating is about, what the rating is, and until when the
 * link works. Everything the gateway will believe is inside the signed
 * payload: a customer who edits a link to change the rating, the order or
 * the expiry changes the bytes the MAC covers and is refused. A customer
 * can still click any of the five links, which is the point; and a token
 * is not single-use, so the gateway must treat repeated clicks of one
 * message's links as one rating (the message id is there for that).
 *
 * The token is "1." + base64url(payload) + "." + base64url(mac), without
 * padding, where mac is the first 16 bytes of HMAC-SHA256(secret, "1." +
 * base64url(payload)). The payload is a version byte (1), the rating byte,
 * the expiry as 8 bytes big-endian, then the store, order, customer and
 * message ids, each as one length byte and its bytes: ids may hold any
 * byte but NUL, so no separator could be safe. The MAC is cut to 128 bits
 * to keep the links short; a forger cannot check guesses offline, so each
 * guess is one request to the gateway with a 2^-128 chance, and collisions
 * (the birthday bound) do not help without the secret.
 *
 * Secrets come as an ac_secrets_t (sig.h) owned by the caller: tokens are
 * signed with the first and accepted under any, so a secret can be rotated
 * by listing the new one first and removing the old one once the links it
 * signed have expired. A secret's bytes are the key as written (no
 * whsec_ prefix, no base64); secrets shorter than 16 bytes sign and
 * verify nothing. */
#ifndef AC_RTOKEN_H
#define AC_RTOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "sig.h"

/* The longest store, order and customer id (AC_EVENT_MAX_ID_LEN), and the
 * longest message id, in bytes. */
#define AC_RTOKEN_MAX_ID_LEN      200
#define AC_RTOKEN_MAX_MESSAGE_LEN 63

/* The shortest secret that signs or verifies, in bytes. */
#define AC_RTOKEN_MIN_KEY_LEN 16

/* The longest token ac_rtoken_sign() writes, plus the NUL: "1." (2), the
 * payload of at most 1 + 1 + 8 + 3 * 201 + 64 = 677 bytes in base64url
 * (903), "." (1) and the MAC (22). Longer input is refused unread. */
#define AC_RTOKEN_MAX_LEN 929

/* What a token says. The ids are NUL-terminated and non-empty. */
typedef struct ac_rtoken {
    char store[AC_RTOKEN_MAX_ID_LEN + 1];
    char order[AC_RTOKEN_MAX_ID_LEN + 1];
    char customer[AC_RTOKEN_MAX_ID_LEN + 1];
    char message[AC_RTOKEN_MAX_MESSAGE_LEN + 1];
    int rating;        /* 1..5 */
    int64_t expires_s; /* Unix seconds; the token works while now < expires_s */
} ac_rtoken_t;

typedef enum ac_rtoken_result {
    AC_RTOKEN_OK = 0,
    AC_RTOKEN_MALFORMED, /* not a token: shape, length, base64 or payload */
    AC_RTOKEN_FORGED,    /* shaped like one, but no secret's MAC matches */
    AC_RTOKEN_EXPIRED    /* genuine, but now_s >= expires_s */
} ac_rtoken_result_t;

/* "ok", "malformed", "forged" or "expired" ("unknown" for anything else). */
const char *ac_rtoken_result_name(ac_rtoken_result_t r);

/* Writes t's token, signed with keys->v[0], NUL-terminated and made of
 * [A-Za-z0-9_.-] only, into out. Returns its length, or -1 with the reason
 * in why (never a secret) when an id is empty or too long, the rating is
 * not 1..5, expires_s is not positive, there is no secret or the first is
 * shorter than AC_RTOKEN_MIN_KEY_LEN, or out is too small. The same t and
 * secret always give the same token. */
int ac_rtoken_sign(const ac_secrets_t *keys, const ac_rtoken_t *t, char *out, size_t outsz,
                   char *why, size_t whysz);

/* Checks the len bytes of token (not necessarily NUL-terminated) against
 * every secret, in constant time, then the expiry against now_s. Fills
 * *out (when not NULL) on AC_RTOKEN_OK, and on AC_RTOKEN_EXPIRED so that
 * the caller can say which order's link expired; leaves it alone
 * otherwise. Accepts exactly the tokens ac_rtoken_sign() writes under
 * one of the secrets. */
ac_rtoken_result_t ac_rtoken_verify(const ac_secrets_t *keys, const char *token, size_t len,
                                    int64_t now_s, ac_rtoken_t *out);

/* RATING_SECRET, as notify-worker and ingest-gateway read it: secrets
 * separated by whitespace, the first signs and all verify, each at least
 * AC_RTOKEN_MIN_KEY_LEN bytes. Fills out (free with ac_secrets_clear();
 * empty for an empty list). Returns 0, or -1 with why (never a secret). */
int ac_rtoken_keys_parse(const char *list, ac_secrets_t *out, char *why, size_t whysz);

/* The option table's validator for RATING_SECRET. */
int ac_rtoken_validate_keys(const char *value, char *why, size_t whysz);

#endif
