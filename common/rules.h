/* Business rules: which customer messages an event calls for, and when.
 *
 * These are pure functions over a parsed event, what is known of its
 * order's journey (journey.h, already including this event's own facts)
 * and the store's settings, with no Kafka, Redis or network, so that every
 * rule is unit-tested directly. docs/journey.md states them as one table.
 *
 * A decision names the message kind, its id and what to do with it: send
 * now, schedule for later, cancel what was scheduled, or stay quiet (with
 * the reason, for the metrics). The id's discriminator encodes what makes
 * two messages of one kind for one order different: none for a
 * confirmation (an order is confirmed once, whichever event or replay asks
 * for it), the new date for a delay notice (a second slip is news, the
 * same estimate repeated is not). */
#ifndef AC_RULES_H
#define AC_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "journey.h"
#include "message.h"
#include "stores.h"

#define AC_RULES_MAX_DECISIONS 8

typedef enum ac_action {
    AC_ACTION_SEND,     /* produce now */
    AC_ACTION_SCHEDULE, /* hold until due_ms (schedule.h) */
    AC_ACTION_CANCEL,   /* cancel the scheduled message id, if due at or after due_ms */
    AC_ACTION_SUPPRESS, /* called for, but not wanted: reason says why */
} ac_action_t;

typedef struct ac_decision {
    ac_kind_t kind;
    ac_action_t action;
    char id[AC_MESSAGE_ID_LEN];
    int64_t due_ms;     /* SCHEDULE: when; CANCEL: the blocking fact's time; else 0 */
    const char *reason; /* SUPPRESS: "returned", "no_consent", "disabled", ... */
} ac_decision_t;

/* Signature shared by the per-topic rule sets: fills out[] (room for max)
 * and returns how many decisions the event leads to. */
typedef size_t (*ac_rules_fn)(const ac_event_t *ev, const ac_journey_t *j,
                              const ac_store_settings_t *s, ac_decision_t *out, size_t max);

/* orders: order.placed -> order_confirmation; order.cancelled ->
 * order_cancelled and cancels what was scheduled; feedback.received cancels
 * the review request (and, when unhappy, the referral invitation), and a
 * first rating of 1 to 3 leads to a feedback_followup to the customer and a
 * store_alert to the store's support. */
size_t ac_rules_orders(const ac_event_t *ev, const ac_journey_t *j, const ac_store_settings_t *s,
                       ac_decision_t *out, size_t max);

/* shipments: shipping updates, delay notices (announced by the carrier or
 * detected from a slipping estimate) and, on delivery, the scheduled review
 * request and referral invitation. */
size_t ac_rules_shipments(const ac_event_t *ev, const ac_journey_t *j, const ac_store_settings_t *s,
                          ac_decision_t *out, size_t max);

/* returns: return.requested -> return_confirmation and cancels the review
 * request and referral invitation; return.refunded -> refund_notice. */
size_t ac_rules_returns(const ac_event_t *ev, const ac_journey_t *j, const ac_store_settings_t *s,
                        ac_decision_t *out, size_t max);

/* The delivery date ev's shipment is now expected on, when it is later
 * than the date promised for the order (from the event, else from the
 * journey): fills late ("YYYY-MM-DD") and returns 1; otherwise 0. */
int ac_rules_late_estimate(const ac_event_t *ev, const ac_journey_t *j, char late[11]);

/* Fills a decision for kind about ev's order with the given discriminator. */
void ac_rules_decision(const ac_event_t *ev, ac_kind_t kind, const char *discriminator,
                       int64_t due_ms, ac_decision_t *out);

#endif
