#include "breaker.h"

#include <math.h>
#include <string.h>

typedef enum breaker_state {
    BREAKER_CLOSED = 0,
    BREAKER_OPEN,
    BREAKER_HALF_OPEN,
    BREAKER__COUNT
} breaker_state_t;

/* The only place the state changes, as librdkafka's
 * rd_kafka_toppar_set_fetch_state() is for a partition's fetch state:
 * what each state needs on entry is set here. */
static void set_state(ac_breaker_t *b, breaker_state_t to, int64_t now_ms)
{
    switch (to) {
    case BREAKER_CLOSED:
        /* Back from open: the pace ramps up from here. */
        if (b->state != BREAKER_CLOSED)
            b->closed_at_ms = now_ms;
        b->failures = 0;
        b->count = b->failed_count = 0;
        break;
    case BREAKER_OPEN:
        b->failures = 0;
        b->count = b->failed_count = 0;
        b->until_ms = now_ms + b->cooldown_ms;
        break;
    case BREAKER_HALF_OPEN:
        /* Until the trial reports, or a cooldown passes without a report,
         * the others keep off the primary. */
        b->until_ms = now_ms + b->cooldown_ms;
        break;
    case BREAKER__COUNT:
        return;
    }
    b->state = (int)to;
}

void ac_breaker_init(ac_breaker_t *b, int threshold, int64_t cooldown_ms)
{
    memset(b, 0, sizeof(*b));
    b->threshold = threshold > 0 ? threshold : 1;
    b->cooldown_ms = cooldown_ms > 0 ? cooldown_ms : 0;
    b->state = BREAKER_CLOSED;
}

ac_route_t ac_breaker_route(ac_breaker_t *b, int64_t now_ms)
{
    if (b->state == BREAKER_CLOSED)
        return now_ms < b->paused_until_ms ? AC_ROUTE_FALLBACK : AC_ROUTE_PRIMARY;
    /* A provider that asked for a pause gets no trial before it ends. */
    if (now_ms < b->until_ms || now_ms < b->paused_until_ms)
        return AC_ROUTE_FALLBACK;
    set_state(b, BREAKER_HALF_OPEN, now_ms);
    return AC_ROUTE_TRIAL;
}

/* Adds an outcome of the primary to the window, first dropping what is
 * older than AC_BREAKER_WINDOW_MS and, when full, the oldest: the ratio
 * judges the provider as it is now, not as it was an hour ago. */
static void window_add(ac_breaker_t *b, int failed, int64_t now_ms)
{
    while (b->count > 0 &&
           (b->count == AC_BREAKER_WINDOW || now_ms - b->at_ms[b->first] > AC_BREAKER_WINDOW_MS)) {
        b->failed_count -= b->failed[b->first];
        b->first = (b->first + 1) % AC_BREAKER_WINDOW;
        b->count--;
    }
    int i = (b->first + b->count) % AC_BREAKER_WINDOW;
    b->at_ms[i] = now_ms;
    b->failed[i] = (unsigned char)(failed != 0);
    b->failed_count += failed != 0;
    b->count++;
}

/* True when failed of n attempts says, with 99 % confidence, that at
 * least half of the provider's attempts fail: the lower bound of the
 * Wilson score interval of the failure ratio is 1/2 or more. Over a
 * handful of attempts a plain ratio cannot tell a provider failing a
 * third at random (whose first five attempts all fail once in 243 runs)
 * from a dead one; this needs seven failures out of seven, eleven of
 * twelve, and 149 of a full window of 256. */
static int mostly_failing(int failed, int n)
{
    const double z2 = 2.576 * 2.576;
    if (n <= 0)
        return 0;
    double p = (double)failed / n;
    double lower =
        (p + z2 / (2.0 * n) - sqrt(z2 * (p * (1 - p) / n + z2 / (4.0 * n * n)))) / (1 + z2 / n);
    return lower >= 0.5;
}

ac_breaker_change_t ac_breaker_report(ac_breaker_t *b, ac_route_t route, ac_outcome_t outcome,
                                      int64_t now_ms)
{
    int transient = outcome == AC_OUTCOME_RETRY;
    switch (route) {
    case AC_ROUTE_PRIMARY:
        if (b->state != BREAKER_CLOSED)
            return AC_BREAKER_SAME;
        window_add(b, transient, now_ms);
        if (!transient) {
            b->failures = 0;
            return AC_BREAKER_SAME;
        }
        if (++b->failures < b->threshold || !mostly_failing(b->failed_count, b->count))
            return AC_BREAKER_SAME;
        set_state(b, BREAKER_OPEN, now_ms);
        return AC_BREAKER_OPENED;
    case AC_ROUTE_TRIAL:
        if (b->state != BREAKER_HALF_OPEN)
            return AC_BREAKER_SAME;
        set_state(b, transient ? BREAKER_OPEN : BREAKER_CLOSED, now_ms);
        return transient ? AC_BREAKER_OPENED : AC_BREAKER_CLOSED;
    case AC_ROUTE_FALLBACK:
        break;
    }
    return AC_BREAKER_SAME;
}

int ac_breaker_open(const ac_breaker_t *b)
{
    return b->state != BREAKER_CLOSED;
}

void ac_breaker_set_ramp(ac_breaker_t *b, int64_t ramp_ms)
{
    b->ramp_ms = ramp_ms > 0 ? ramp_ms : 0;
}

void ac_breaker_pause(ac_breaker_t *b, int64_t until_ms)
{
    if (until_ms > b->paused_until_ms)
        b->paused_until_ms = until_ms;
}

int ac_breaker_limit(const ac_breaker_t *b, int max, int64_t now_ms)
{
    if (b->state != BREAKER_CLOSED || b->ramp_ms <= 0 || b->closed_at_ms <= 0 ||
        now_ms - b->closed_at_ms >= b->ramp_ms)
        return max;
    int64_t limit = (int64_t)max * (now_ms - b->closed_at_ms) / b->ramp_ms;
    return limit < 1 ? 1 : (int)limit;
}

int64_t ac_breaker_next_ms(const ac_breaker_t *b, int64_t now_ms)
{
    int64_t next = b->paused_until_ms > now_ms ? b->paused_until_ms : now_ms;
    if (b->state != BREAKER_CLOSED && b->until_ms > next)
        next = b->until_ms;
    return next;
}
