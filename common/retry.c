#include "retry.h"

#include "delivery.h"
#include "prefs.h"

int64_t ac_retry_lifetime_ms(const ac_retry_policy_t *p, ac_kind_t kind)
{
    return ac_prefs_marketing(kind) ? p->marketing_lifetime_ms : p->lifetime_ms;
}

int64_t ac_retry_expires_ms(const ac_retry_policy_t *p, ac_kind_t kind, int64_t since_ms)
{
    int64_t life = ac_retry_lifetime_ms(p, kind);
    return since_ms > INT64_MAX - life ? INT64_MAX : since_ms + life;
}

/* The next attempt at `at`, not before not_before, not after the expiry;
 * in memory when it is soon, in the durable schedule otherwise. */
static ac_retry_decision_t settle(const ac_retry_policy_t *p, int64_t at, int64_t now_ms,
                                  int64_t not_before_ms, int64_t expires)
{
    ac_retry_decision_t d = {AC_RETRY_WAIT, at};
    if (d.at_ms < not_before_ms)
        d.at_ms = not_before_ms;
    if (d.at_ms > expires)
        d.at_ms = expires;
    d.action = d.at_ms - now_ms > p->defer_after_ms ? AC_RETRY_DEFER : AC_RETRY_WAIT;
    return d;
}

ac_retry_decision_t ac_retry_next(const ac_retry_policy_t *p, ac_kind_t kind, int64_t since_ms,
                                  int attempts, int64_t now_ms, int64_t retry_after_ms,
                                  int64_t not_before_ms, uint32_t rnd)
{
    ac_retry_decision_t d = {AC_RETRY_GIVE_UP, now_ms};
    int64_t expires = ac_retry_expires_ms(p, kind, since_ms);
    if (now_ms >= expires || (p->max_attempts > 0 && attempts >= p->max_attempts))
        return d;
    int64_t delay = ac_delivery_backoff_ms(attempts > 0 ? attempts : 1, p->base_ms, p->max_ms,
                                           retry_after_ms, rnd);
    return settle(p, now_ms + delay, now_ms, not_before_ms, expires);
}

ac_retry_decision_t ac_retry_hold(const ac_retry_policy_t *p, ac_kind_t kind, int64_t since_ms,
                                  int64_t now_ms, int64_t not_before_ms, uint32_t rnd)
{
    ac_retry_decision_t d = {AC_RETRY_GIVE_UP, now_ms};
    int64_t expires = ac_retry_expires_ms(p, kind, since_ms);
    if (now_ms >= expires)
        return d;
    int64_t wait = now_ms > since_ms ? (now_ms - since_ms) / 2 : 0;
    if (wait < p->base_ms)
        wait = p->base_ms;
    if (wait > p->max_ms)
        wait = p->max_ms;
    /* Half fixed, half random, as the backoff: held messages spread out. */
    wait = wait / 2 + (int64_t)(rnd % (uint32_t)(wait / 2 + 1));
    return settle(p, now_ms + wait, now_ms, not_before_ms, expires);
}
