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
 * Each channel has a primary provider and may have a fallback. A small
 * circuit breaker per channel moves new attempts to the fallback while the
 * primary keeps failing transiently, and tries the primary again after a
 * cooldown. The message id is the Idempotency-Key whichever provider sends
 * it (docs/providers.md).
 *
 * Building requests and the breaker are pure: no network and no clock
 * except the times passed in, so both are unit-tested with fake inputs. */
#ifndef AC_PROVIDER_H
#define AC_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "config.h"
#include "delivery.h"
#include "message.h"
#include "render.h"

typedef enum ac_provider_kind {
    AC_PROVIDER_NONE = 0, /* no provider: a channel without a fallback */
    AC_PROVIDER_WEBHOOK,
    AC_PROVIDER_SENDGRID,
    AC_PROVIDER_TWILIO,
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
    int failover_after;           /* consecutive transient failures that open the circuit */
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

/* Which provider one attempt goes to. */
typedef enum ac_route {
    AC_ROUTE_PRIMARY = 0, /* the circuit is closed */
    AC_ROUTE_FALLBACK,    /* the circuit is open */
    AC_ROUTE_TRIAL,       /* the cooldown passed: this one attempt tries the primary again */
} ac_route_t;

typedef enum ac_breaker_change {
    AC_BREAKER_SAME = 0,
    AC_BREAKER_OPENED, /* from now on the fallback: the primary failed too often */
    AC_BREAKER_CLOSED, /* back to the primary: a trial went through */
} ac_breaker_change_t;

/* A circuit breaker for one channel. A value type so that it needs no
 * allocation; its fields belong to the functions below.
 *
 * Closed: attempts go to the primary; each transient failure of the
 * primary counts, a delivery or permanent rejection (the provider is up
 * and answering) resets the count, and the threshold-th failure in a row
 * opens the circuit. Open: attempts go to the fallback until the cooldown
 * has passed; then the next attempt is a trial of the primary while the
 * others keep to the fallback (half-open). The trial's success or
 * permanent rejection closes the circuit; its transient failure opens it
 * for another cooldown. A trial that never reports (its job abandoned)
 * is replaced by another after a cooldown. Results of primary attempts
 * that arrive while the circuit is open are ignored: a burst of requests in
 * flight when the primary went down opens it once, not once per request.
 * Results of fallback attempts never move it. */
typedef struct ac_breaker {
    int threshold;
    int64_t cooldown_ms;
    int state;               /* closed, open or half-open */
    int failures;            /* consecutive transient failures of the primary while closed */
    int64_t until_ms;        /* open: when the first trial may go; half-open: when another may */
    int64_t paused_until_ms; /* closed: the provider's Retry-After asked for no requests before */
    int64_t ramp_ms;         /* after closing, the pace grows to the full one over this */
    int64_t closed_at_ms;    /* when the circuit last closed after being open */
} ac_breaker_t;

void ac_breaker_init(ac_breaker_t *b, int threshold, int64_t cooldown_ms);

/* Where the next attempt goes at now_ms (any monotonic clock). */
ac_route_t ac_breaker_route(ac_breaker_t *b, int64_t now_ms);

/* Feeds the breaker the outcome of an attempt that ac_breaker_route()
 * sent along route. Returns what changed. */
ac_breaker_change_t ac_breaker_report(ac_breaker_t *b, ac_route_t route, ac_outcome_t outcome,
                                      int64_t now_ms);

/* True while attempts go to the fallback (open or half-open). */
int ac_breaker_open(const ac_breaker_t *b);

/* Without a fallback, AC_ROUTE_FALLBACK from ac_breaker_route() means
 * "hold": no attempt is spent on a provider that fails everything, and
 * one trial probes it every cooldown. */

/* After the circuit closes, the requests allowed in flight grow from one
 * to the full count over ramp_ms (0: at once), so that a provider coming
 * back from an outage is not knocked over by the backlog. */
void ac_breaker_set_ramp(ac_breaker_t *b, int64_t ramp_ms);

/* The provider answered with Retry-After: no attempt goes to the primary
 * before until_ms (routes say fallback, or hold, until then). */
void ac_breaker_pause(ac_breaker_t *b, int64_t until_ms);

/* How many requests may be in flight to the primary at now_ms, of max. */
int ac_breaker_limit(const ac_breaker_t *b, int max, int64_t now_ms);

/* The earliest time the primary takes an attempt again: now_ms while the
 * circuit is closed and not paused. */
int64_t ac_breaker_next_ms(const ac_breaker_t *b, int64_t now_ms);

#endif
