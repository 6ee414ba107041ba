/* The outgoing webhook: the JSON body a store's endpoint receives for each
 * customer message, and its Standard Webhooks signature
 * (https://www.standardwebhooks.com): webhook-id, webhook-timestamp and
 * webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>", one
 * signature per secret so receivers can rotate keys. */
#ifndef AC_WEBHOOK_H
#define AC_WEBHOOK_H

#include <stddef.h>
#include <stdint.h>

#include "channel.h"
#include "message.h"
#include "rendered.h"

/* Builds the JSON body for m rendered as r on channel ch to address to:
 * the message's ids, the customer and store, "subject" and "text", and for
 * email "html" too; for SMS "segments" (how many messages the text is sent
 * as) and "encoding" ("gsm7" or "ucs2"), as r->sms counted them.
 * Returns a malloc'd string (the caller frees it) with its length in *len,
 * or NULL when out of memory. */
char *ac_webhook_body(const ac_message_t *m, ac_channel_t ch, const char *to,
                      const ac_rendered_t *r, size_t *len);

/* Writes the webhook-signature header value for body into out: one
 * "v1,<base64>" per secret in secrets (space-separated "whsec_<base64>"
 * keys). Returns 0, or -1 with err when a secret is malformed or out is
 * too small. */
int ac_webhook_sign(const char *secrets, const char *msg_id, int64_t timestamp, const char *body,
                    size_t len, char *out, size_t outsz, char *err, size_t errsz);

/* Config validator for WEBHOOK_SECRET. */
int ac_webhook_validate_secret(const char *secrets, char *why, size_t whysz);

#endif
