/* What customers want to hear: opt-outs, a cap on marketing messages, and
 * quiet hours.
 *
 * Transactional messages (confirmations, shipping and delay news, return
 * and refund notices) always go out: the customer needs them. Marketing
 * messages (review requests, referral invitations) respect:
 *
 * - opt-outs per customer: of all marketing, of one channel, of one kind,
 *   kept in a Redis hash per customer (ac-prefs records them);
 * - a frequency cap: at most N marketing messages per customer in a rolling
 *   window, counted in a Redis sorted set of message ids by send time;
 * - quiet hours in the customer's time zone: a message due at night is
 *   deferred to the morning (through the durable schedule), never dropped.
 *
 * The time arithmetic is pure and unit-tested; ac_prefs_check() is one
 * Redis round trip per batch. */
#ifndef AC_PREFS_H
#define AC_PREFS_H

#include <stddef.h>
#include <stdint.h>

#include "message.h"
#include "redis.h"

/* True for the kinds that are marketing rather than transactional. */
int ac_prefs_marketing(ac_kind_t kind);

/* Quiet hours as seconds after local midnight: [start, end), wrapping past
 * midnight when start > end. start == end: none. */
typedef struct ac_quiet {
    int start_s, end_s;
} ac_quiet_t;

/* Parses "21:00-08:00" (or with seconds, "21:00:00-08:00:30"), or "off".
 * Returns 0, or -1 with why. */
int ac_prefs_parse_quiet(const char *text, ac_quiet_t *q, char *why, size_t whysz);

/* When a message about to go out at now_ms (UTC) to someone whose clock is
 * utc_offset_s ahead of UTC may go out: now_ms itself outside quiet hours,
 * else the end of the quiet period, in UTC ms. */
int64_t ac_prefs_quiet_until(const ac_quiet_t *q, int64_t now_ms, int utc_offset_s);

/* The offset of IANA time zone tz (e.g. "Europe/Berlin") from UTC at
 * at_ms, in seconds. Returns 0, or -1 when tz is unknown. Not thread-safe
 * (it sets TZ); results are cached per zone for an hour. */
int ac_prefs_utc_offset(const char *tz, int64_t at_ms, int *offset_s);

/* Redis keys of a customer's preferences and marketing sends. */
void ac_prefs_key(const char *store_id, const char *customer_id, char *buf, size_t bufsz);
void ac_prefs_sends_key(const char *store_id, const char *customer_id, char *buf, size_t bufsz);

/* Outcome of the check of one marketing message. */
typedef enum ac_prefs_verdict {
    AC_PREFS_SEND = 0,
    AC_PREFS_OPTED_OUT = 1, /* the customer said no to this (kind, channel or all) */
    AC_PREFS_CAPPED = 2,    /* the customer had enough of them lately */
} ac_prefs_verdict_t;

typedef struct ac_prefs_req {
    const char *id; /* message id */
    ac_kind_t kind;
    const char *channel; /* "email", "sms" */
    const char *prefs_key, *sends_key;
    ac_prefs_verdict_t verdict; /* filled */
} ac_prefs_req_t;

/* Registers the check's script. */
void ac_prefs_register(ac_redis_t *r);

/* Checks n marketing messages about to be sent at now_ms against opt-outs
 * and the cap (cap 0: none) over window_ms, counting each one let through
 * (a message checked again, such as a retry, counts once). One round
 * trip. Returns 0 or -1 with err. */
int ac_prefs_check(ac_redis_t *r, ac_prefs_req_t *reqs, size_t n, int64_t now_ms, int cap,
                   int64_t window_ms, char *err, size_t errsz);

/* Reads the preferred channel ("prefer": "email" or "sms") of n customers
 * into prefer[i] (an ac_channel_t, or -1 for none). One round trip. */
int ac_prefs_channels(ac_redis_t *r, const char *const *prefs_keys, size_t n, int *prefer,
                      char *err, size_t errsz);

/* Records (optout 1) or withdraws (0) an opt-out. what is "marketing",
 * "channel:<email|sms>" or "kind:<kind name>". */
int ac_prefs_set(ac_redis_t *r, const char *prefs_key, const char *what, int optout, char *err,
                 size_t errsz);

#endif
