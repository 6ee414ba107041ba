/* Provider adapters: how one customer message becomes one HTTP request to
 * whoever delivers it, and which provider a channel uses right now.
 *
 * Three providers are known. "webhook" POSTs the JSON body of webhook.h to
 * the store's own endpoint, signed per Standard Webhooks; it serves both
 * channels. "sendgrid" POSTs SendGrid's v3 mail send request (email only);
 * "twilio" POSTs a form-encoded Twilio Messages request with HTTP basic
 * auth (SMS only). Base URLs and credentials are settings, so tests point
 * them at a loopback sink.
 *
 * Each channel has a primary provider and may have a fallback; the
 * circuit breaker of breaker.h says which one an attempt goes to. The
 * message id is the Idempotency-Key whichever provider sends it
 * (docs/providers.md).
 *
 * Building requests is pure: no network and no clock except the times
 * passed in, so it is unit-tested with fake inputs.
 *
 * Each provider lives in its own file (provider_webhook.c,
 * provider_sendgrid.c, provider_twilio.c) behind a table of functions in
 * provider.c (provider_int.h); this interface is the same for all. */
#ifndef AC_PROVIDER_H
#define AC_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "breaker.h"
#include "channel.h"
#include "config.h"
#include "delivery.h"
#include "message.h"
#include "rendered.h"

typedef enum ac_provider_kind {
    AC_PROVIDER_NONE = 0, /* no provider: a channel without a fallback */
    AC_PROVIDER_WEBHOOK,
    AC_PROVIDER_SENDGRID,
    AC_PROVIDER_TWILIO,
    AC_PROVIDER__COUNT
} ac_provider_kind_t;

/* "none", "webhook", "sendgrid" or "twilio": the names settings and the
 * provider="..." metric label use. */
const char *ac_provider_name(ac_provider_kind_t kind);

/* Returns 0 and sets *kind, or -1 when name is not a provider. */
int ac_provider_parse(const char *name, ac_provider_kind_t *kind);

/* True when provider kind can deliver messages of channel ch. */
int ac_provider_serves(ac_provider_kind_t kind, ac_channel_t ch);

#define AC_PROVIDER_SENDGRID_URL "https://api.sendgrid.com/v3/mail/send"
#define AC_PROVIDER_TWILIO_URL   "https://api.twilio.com"

/* notify-worker's provider settings. Strings are borrowed (from the
 * configuration); NULL when unset. */
typedef struct ac_provider_settings {
    ac_provider_kind_t primary[AC_CHANNEL__COUNT];  /* EMAIL_PROVIDER, SMS_PROVIDER */
    ac_provider_kind_t fallback[AC_CHANNEL__COUNT]; /* EMAIL_FALLBACK, SMS_FALLBACK */
    const char *webhook_url, *webhook_secret;
    const char *sendgrid_url, *sendgrid_api_key, *email_from, *email_from_name;
    const char *twilio_url, *twilio_account_sid, *twilio_auth_token, *sms_from;
    int failover_after; /* failures in a row that open the circuit (with half the window failing) */
    int64_t failover_cooldown_ms; /* how long the fallback is used before the primary again */
} ac_provider_settings_t;

/* Reads the settings above from notify-worker's configuration (see
 * ac_notify_options). Returns 0, or -1 with one line in err. */
int ac_provider_settings_load(const ac_config_t *cfg, ac_provider_settings_t *s, char *err,
                              size_t errsz);

/* Checks that the settings fit together: a fallback differs from its
 * primary and every provider some channel uses, as primary or fallback,
 * has what it needs (WEBHOOK_URL for webhook; SENDGRID_API_KEY and
 * EMAIL_FROM for sendgrid; TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and
 * SMS_FROM for twilio). Returns 0, or -1 with one line in err naming the
 * setting to fix. */
int ac_provider_settings_check(const ac_provider_settings_t *s, char *err, size_t errsz);

/* Load and check in one: notify-worker's ac_worker_spec_t.check. */
int ac_provider_config_check(const ac_config_t *cfg, char *err, size_t errsz);

/* Validators for the settings' values, for the option table. */
int ac_provider_validate_email_provider(const char *value, char *why, size_t whysz);
int ac_provider_validate_sms_provider(const char *value, char *why, size_t whysz);
int ac_provider_validate_email_fallback(const char *value, char *why, size_t whysz);
int ac_provider_validate_sms_fallback(const char *value, char *why, size_t whysz);
/* An API key, account SID or token: printable ASCII without spaces, as it
 * goes into a header line. */
int ac_provider_validate_credential(const char *value, char *why, size_t whysz);
/* EMAIL_FROM: local@domain, no spaces or angle brackets. */
int ac_provider_validate_email_address(const char *value, char *why, size_t whysz);
/* EMAIL_FROM_NAME: any text without control characters. */
int ac_provider_validate_display_name(const char *value, char *why, size_t whysz);
/* SMS_FROM: an E.164 number (+ and 6 to 15 digits) or an alphanumeric
 * sender id (1 to 11 letters, digits and spaces, at least one letter). */
int ac_provider_validate_sms_sender(const char *value, char *why, size_t whysz);

/* One provider, configured: its kind with the URL and credentials it uses,
 * copied from the settings. */
typedef struct ac_provider ac_provider_t;

/* Creates provider kind from s (which must have passed
 * ac_provider_settings_check()). Returns NULL with err filled. */
ac_provider_t *ac_provider_new(ac_provider_kind_t kind, const ac_provider_settings_t *s, char *err,
                               size_t errsz);

/* Accepts NULL. */
void ac_provider_destroy(ac_provider_t *p);

ac_provider_kind_t ac_provider_kind(const ac_provider_t *p);

/* What to POST where for one message. */
typedef struct ac_provider_request {
    char *url;                  /* malloc'd */
    struct curl_slist *headers; /* ac_delivery_post() takes them over */
    char *body;                 /* malloc'd, NUL-terminated, body_len bytes before the NUL */
    size_t body_len;
} ac_provider_request_t;

/* Builds the request that delivers m, rendered as r, on channel ch to the
 * address to, through p; now_ms (UTC) stamps webhook-timestamp. Every
 * request carries Idempotency-Key = m->id. Returns 0, or -1 with err
 * filled (out of memory) and out left empty. */
int ac_provider_request(const ac_provider_t *p, const ac_message_t *m, ac_channel_t ch,
                        const char *to, const ac_rendered_t *r, int64_t now_ms,
                        ac_provider_request_t *out, char *err, size_t errsz);

/* Frees what req holds (headers too, unless they were handed over and
 * set to NULL); accepts a zeroed struct. */
void ac_provider_request_free(ac_provider_request_t *req);

#endif
