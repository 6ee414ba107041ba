#include "rules.h"

#include <stdio.h>
#include <string.h>

#include "timeutil.h"

void ac_rules_decision(const ac_event_t *ev, ac_kind_t kind, const char *discriminator,
                       int64_t due_ms, ac_decision_t *out)
{
    out->kind = kind;
    out->action = AC_ACTION_SEND;
    out->due_ms = due_ms;
    out->reason = NULL;
    ac_message_id(kind, ev->store.id, ev->order.id, discriminator, out->id);
}

/* Appends a decision while there is room. */
typedef struct plan {
    ac_decision_t *out;
    size_t n, max;
} plan_t;

static ac_decision_t *add(plan_t *p, const ac_event_t *ev, ac_kind_t kind, const char *disc,
                          ac_action_t action, int64_t due_ms)
{
    if (p->n >= p->max)
        return NULL;
    ac_decision_t *d = &p->out[p->n++];
    ac_rules_decision(ev, kind, disc, due_ms, d);
    d->action = action;
    return d;
}

static void suppress(plan_t *p, const ac_event_t *ev, ac_kind_t kind, const char *disc,
                     const char *reason)
{
    ac_decision_t *d = add(p, ev, kind, disc, AC_ACTION_SUPPRESS, 0);
    if (d)
        d->reason = reason;
}

/* Sends kind now unless the journey says it is pointless by the time the
 * event happened: a shipping update for a parcel already delivered (the
 * "shipped" event arriving late) stays unsent. */
static void send_unless_blocked(plan_t *p, const ac_event_t *ev, const ac_journey_t *j,
                                ac_kind_t kind, const char *disc)
{
    ac_fact_t why;
    if (ac_journey_blocked_parcel(j, kind, ev->occurred_ms, ev->shipment.id, &why))
        suppress(p, ev, kind, disc, ac_fact_name(why));
    else
        add(p, ev, kind, disc, AC_ACTION_SEND, 0);
}

/* Cancels the scheduled messages of the order that a fact happening at
 * since makes pointless; ones due before since stay, as they would have
 * had the events arrived in order. */
static void cancel(plan_t *p, const ac_event_t *ev, ac_kind_t kind, int64_t since)
{
    add(p, ev, kind, NULL, AC_ACTION_CANCEL, since);
}

/* A complaint (a rating of 1 to 3) is answered once per order: an
 * apology to the customer and an alert to the store's support, so that a
 * person follows it up. Only when the order's first rating was the
 * unhappy one: a second click on another star of the same request, or a
 * later rating from another source, changes nothing already decided. A
 * comment that comes after the rating (the rating page's form) reaches
 * the store as an alert of its own; the customer is not written to again. */
static void complaint(plan_t *p, const ac_event_t *ev, const ac_journey_t *j,
                      const ac_store_settings_t *s)
{
    const int64_t *at = j->at;
    if (ev->feedback.rating > AC_JOURNEY_UNHAPPY_RATING || !at[AC_FACT_UNHAPPY] ||
        at[AC_FACT_UNHAPPY] != at[AC_FACT_FEEDBACK] || ev->occurred_ms < at[AC_FACT_UNHAPPY])
        return;
    int commented = ev->feedback.comment && *ev->feedback.comment;
    if (ev->occurred_ms == at[AC_FACT_UNHAPPY])
        add(p, ev, AC_KIND_FEEDBACK_FOLLOWUP, NULL, AC_ACTION_SEND, 0);
    else if (!commented)
        return;
    if (s->support)
        add(p, ev, AC_KIND_STORE_ALERT, commented ? "comment" : NULL, AC_ACTION_SEND, 0);
    else
        suppress(p, ev, AC_KIND_STORE_ALERT, commented ? "comment" : NULL, "no_support");
}

size_t ac_rules_orders(const ac_event_t *ev, const ac_journey_t *j, const ac_store_settings_t *s,
                       ac_decision_t *out, size_t max)
{
    plan_t p = {out, 0, max};
    switch (ev->type) {
    case AC_EVENT_ORDER_PLACED:
        add(&p, ev, AC_KIND_ORDER_CONFIRMATION, NULL, AC_ACTION_SEND, 0);
        break;
    case AC_EVENT_ORDER_CANCELLED:
        add(&p, ev, AC_KIND_ORDER_CANCELLED, NULL, AC_ACTION_SEND, 0);
        cancel(&p, ev, AC_KIND_REVIEW_REQUEST, ev->occurred_ms);
        cancel(&p, ev, AC_KIND_REFERRAL_INVITE, ev->occurred_ms);
        break;
    case AC_EVENT_FEEDBACK_RECEIVED:
        cancel(&p, ev, AC_KIND_REVIEW_REQUEST, ev->occurred_ms);
        if (ev->feedback.rating <= AC_JOURNEY_UNHAPPY_RATING)
            cancel(&p, ev, AC_KIND_REFERRAL_INVITE, ev->occurred_ms);
        complaint(&p, ev, j, s);
        break;
    default:
        break;
    }
    return p.n;
}

int ac_rules_late_estimate(const ac_event_t *ev, const ac_journey_t *j, char late[11])
{
    char promised[11];
    if (ac_time_date(ev->shipment.estimated_delivery, late) < 0)
        return 0;
    if (ac_time_date(ev->order.promised_delivery_date, promised) < 0) {
        if (!j || !j->promised[0])
            return 0;
        memcpy(promised, j->promised, sizeof(promised));
    }
    return strcmp(late, promised) > 0;
}

/* Schedules kind at due unless disabled or blocked by then. A referral
 * invitation is scheduled whatever is known of the customer's consent so
 * far: the event carrying it may be processed later, so it is checked when
 * the invitation fires (schedule.h), making the outcome independent of the
 * order events arrive in. */
static void schedule(plan_t *p, const ac_event_t *ev, const ac_journey_t *j, ac_kind_t kind,
                     int enabled, int64_t due)
{
    ac_fact_t why;
    if (!enabled)
        suppress(p, ev, kind, NULL, "disabled");
    else if (ac_journey_blocked(j, kind, due, &why))
        suppress(p, ev, kind, NULL, ac_fact_name(why));
    else
        add(p, ev, kind, NULL, AC_ACTION_SCHEDULE, due);
}

size_t ac_rules_shipments(const ac_event_t *ev, const ac_journey_t *j, const ac_store_settings_t *s,
                          ac_decision_t *out, size_t max)
{
    plan_t p = {out, 0, max};
    char disc[AC_EVENT_MAX_ID_LEN + 40], late[11], est[11];
    int delay_decided = 0;
    switch (ev->type) {
    case AC_EVENT_SHIPMENT_SHIPPED:
    case AC_EVENT_SHIPMENT_OUT_FOR_DELIVERY: {
        int on = ev->type == AC_EVENT_SHIPMENT_SHIPPED ? s->shipped_updates
                                                       : s->out_for_delivery_updates;
        /* One update per shipment and stage: an order sent in two parcels
         * gets one for each. */
        snprintf(disc, sizeof(disc), "%.*s:%s", AC_EVENT_MAX_ID_LEN,
                 ev->shipment.id ? ev->shipment.id : "", ev->type_name);
        if (on)
            send_unless_blocked(&p, ev, j, AC_KIND_SHIPPING_UPDATE, disc);
        else
            suppress(&p, ev, AC_KIND_SHIPPING_UPDATE, disc, "disabled");
        break;
    }
    case AC_EVENT_SHIPMENT_DELAYED:
    case AC_EVENT_SHIPMENT_EXCEPTION:
        /* The carrier says it is late: tell the customer, with the new
         * date when there is one. The date is the discriminator, so the
         * same delay reported again (or also detected from the estimate)
         * is one notice. */
        ac_time_date(ev->shipment.estimated_delivery, est);
        send_unless_blocked(&p, ev, j, AC_KIND_DELAY_NOTICE, est);
        delay_decided = 1;
        break;
    case AC_EVENT_SHIPMENT_DELIVERED: {
        /* Relative to when it was delivered, not when we heard of it: a
         * backlog does not push the review request late. */
        int64_t at = j->at[AC_FACT_DELIVERED] && j->at[AC_FACT_DELIVERED] < ev->occurred_ms
                         ? j->at[AC_FACT_DELIVERED]
                         : ev->occurred_ms;
        schedule(&p, ev, j, AC_KIND_REVIEW_REQUEST, s->review_requests, at + s->review_delay_ms);
        schedule(&p, ev, j, AC_KIND_REFERRAL_INVITE, s->referral_invites,
                 at + s->referral_delay_ms);
        return p.n;
    }
    default:
        break;
    }
    /* Proactive: any news of the parcel with an estimate past the promised
     * date is a delay, whether or not the carrier calls it one. */
    if (!delay_decided && ev->type != AC_EVENT_UNKNOWN && ac_rules_late_estimate(ev, j, late))
        send_unless_blocked(&p, ev, j, AC_KIND_DELAY_NOTICE, late);
    return p.n;
}

size_t ac_rules_returns(const ac_event_t *ev, const ac_journey_t *j, const ac_store_settings_t *s,
                        ac_decision_t *out, size_t max)
{
    plan_t p = {out, 0, max};
    (void)j;
    (void)s;
    const char *ret = ev->ret.id ? ev->ret.id : "";
    switch (ev->type) {
    case AC_EVENT_RETURN_REQUESTED:
        /* One confirmation per return: an order may be returned in parts. */
        add(&p, ev, AC_KIND_RETURN_CONFIRMATION, ret, AC_ACTION_SEND, 0);
        cancel(&p, ev, AC_KIND_REVIEW_REQUEST, ev->occurred_ms);
        cancel(&p, ev, AC_KIND_REFERRAL_INVITE, ev->occurred_ms);
        break;
    case AC_EVENT_RETURN_RECEIVED:
        /* Nothing to say (the refund notice follows), but a return whose
         * request event went missing still stops the marketing. */
        cancel(&p, ev, AC_KIND_REVIEW_REQUEST, ev->occurred_ms);
        cancel(&p, ev, AC_KIND_REFERRAL_INVITE, ev->occurred_ms);
        break;
    case AC_EVENT_RETURN_REFUNDED:
        add(&p, ev, AC_KIND_REFUND_NOTICE, ret, AC_ACTION_SEND, 0);
        break;
    default:
        break;
    }
    return p.n;
}
