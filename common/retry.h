/* How long, and how, a message is tried again after a transient failure.
 *
 * Email and SMS providers have outages of tens of minutes to hours, and
 * the webhook senders receivers trust retry for a day or more (Standard
 * Webhooks about 28 hours, Stripe three days). So a message is retried
 * for as long as it is still useful, not a number of times: until a
 * lifetime per kind has passed since its first attempt (RETRY_FOR for the
 * transactional kinds, RETRY_FOR_MARKETING for review requests and
 * referral invitations), with the exponential, jittered backoff of
 * delivery.h between attempts. A wait longer than defer_after is spent in
 * the durable schedule rather than in the worker's memory, where it would
 * hold its partition's commit. MAX_ATTEMPTS may add a bound by count.
 *
 * Pure: every time is passed in, so the policy is unit-tested directly. */
#ifndef AC_RETRY_H
#define AC_RETRY_H

#include <stdint.h>

#include "message.h"

typedef struct ac_retry_policy {
    int64_t base_ms, max_ms;       /* RETRY_BASE, RETRY_MAX */
    int64_t lifetime_ms;           /* RETRY_FOR */
    int64_t marketing_lifetime_ms; /* RETRY_FOR_MARKETING */
    int64_t defer_after_ms;        /* RETRY_DEFER_AFTER */
    int max_attempts;              /* MAX_ATTEMPTS; 0: no bound by count */
} ac_retry_policy_t;

typedef enum ac_retry_action {
    AC_RETRY_WAIT,    /* wait in memory until at_ms, then try again */
    AC_RETRY_DEFER,   /* put back into the durable schedule for at_ms */
    AC_RETRY_GIVE_UP, /* the lifetime (or MAX_ATTEMPTS) is spent: dead-letter it */
} ac_retry_action_t;

typedef struct ac_retry_decision {
    ac_retry_action_t action;
    int64_t at_ms; /* WAIT, DEFER: when to try again (the clock of now_ms) */
} ac_retry_decision_t;

/* The lifetime of a message of kind. */
int64_t ac_retry_lifetime_ms(const ac_retry_policy_t *p, ac_kind_t kind);

/* When a message of kind whose first attempt was at since_ms (or that the
 * circuit first held back then) stops being worth another attempt. The
 * lifetime counts from the first attempt, not from the event: a store
 * replaying last month's orders still gets each message retried. */
int64_t ac_retry_expires_ms(const ac_retry_policy_t *p, ac_kind_t kind, int64_t since_ms);

/* What to do with a message whose attempt number `attempts` (0: none made,
 * the circuit held it back) failed transiently at now_ms. retry_after_ms
 * is the provider's Retry-After (-1: none), not_before_ms the earliest the
 * channel takes requests again (0: at once), rnd any random value. The
 * next attempt is never later than the expiry: the last one goes out
 * just before it. */
ac_retry_decision_t ac_retry_next(const ac_retry_policy_t *p, ac_kind_t kind, int64_t since_ms,
                                  int attempts, int64_t now_ms, int64_t retry_after_ms,
                                  int64_t not_before_ms, uint32_t rnd);

/* What to do with a message the channel's circuit holds back (no attempt
 * made): wait for not_before_ms, the provider's next probe, or longer the
 * longer the message has waited (half the time since since_ms, within RETRY_BASE and
 * RETRY_MAX), so that a message held through an outage of hours comes
 * back every few minutes, not at every probe. Gives up at the expiry. */
ac_retry_decision_t ac_retry_hold(const ac_retry_policy_t *p, ac_kind_t kind, int64_t since_ms,
                                  int64_t now_ms, int64_t not_before_ms, uint32_t rnd);

#endif
