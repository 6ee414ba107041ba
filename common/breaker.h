/* The circuit breaker of one delivery channel: which provider an attempt
 * goes to while the primary keeps failing, and how fast sending resumes.
 *
 * A channel whose primary fails every request should not spend attempts
 * on it: with a fallback configured they go there, without one the
 * message is held (AC_ROUTE_FALLBACK then means "hold"), and one trial
 * probes the primary every cooldown. When it answers again, the requests
 * in flight ramp up rather than jump to the full count, so that the
 * backlog of an outage does not knock the provider over again, and a
 * provider's Retry-After pauses the primary as a whole.
 *
 * Pure: no network and no clock except the times passed in, so it is
 * unit-tested with fake inputs. */
#ifndef AC_BREAKER_H
#define AC_BREAKER_H

#include <stdint.h>

#include "delivery.h"

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

/* The attempts a closed circuit judges the primary by: at most the last
 * AC_BREAKER_WINDOW, none older than AC_BREAKER_WINDOW_MS. */
#define AC_BREAKER_WINDOW    256
#define AC_BREAKER_WINDOW_MS 10000

/* A circuit breaker for one channel. A value type so that it needs no
 * allocation; its fields belong to the functions below.
 *
 * Closed: attempts go to the primary, and their outcomes are kept in a
 * window of recent attempts. A transient failure opens the circuit when
 * it is the threshold-th in a row and the window shows, with 99 %
 * confidence, that at least half of the attempts fail (the lower bound of
 * the failure ratio's Wilson interval). A delivery or permanent rejection (the provider is up and
 * answering) counts as a success and ends the run. The run alone, as it
 * once was, opened the circuit again and again against a provider failing
 * a third of requests at random, where five in a row come every few
 * hundred attempts; the ratio alone cannot tell such a provider from a
 * dead one over the handful of attempts a quiet channel makes, nor at the
 * start of a burst: a plain half of the window let the first five
 * attempts of a burst, all failing by chance, open the circuit. Together,
 * a provider that fails everything opens it after the threshold or seven
 * failures, whichever is more, when the channel is quiet, and after 149
 * of a window of 256 attempts when it was busy delivering.
 *
 * Open: attempts go to the fallback until the cooldown has passed; then
 * the next attempt is a trial of the primary while the others keep to the
 * fallback (half-open). The trial's success or permanent rejection closes
 * the circuit, with an empty window; its transient failure opens it for
 * another cooldown. A trial that never reports (its job abandoned) is
 * replaced by another after a cooldown. Results of primary attempts that
 * arrive while the circuit is open are ignored: a burst of requests in
 * flight when the primary went down opens it once, not once per request.
 * Results of fallback attempts never move it. */
typedef struct ac_breaker {
    int threshold;
    int64_t cooldown_ms;
    int state;               /* closed, open or half-open: changed by set_state() only */
    int failures;            /* consecutive transient failures of the primary while closed */
    int64_t until_ms;        /* open: when the first trial may go; half-open: when another may */
    int64_t paused_until_ms; /* closed: the provider's Retry-After asked for no requests before */
    int64_t ramp_ms;         /* after closing, the pace grows to the full one over this */
    int64_t closed_at_ms;    /* when the circuit last closed after being open */
    /* The window, a ring of the primary's recent outcomes, oldest at first. */
    int first, count, failed_count;
    int64_t at_ms[AC_BREAKER_WINDOW];
    unsigned char failed[AC_BREAKER_WINDOW];
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
