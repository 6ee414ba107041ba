/* Business rules: which customer messages an event calls for, and when.
 *
 * These are pure functions over a parsed event, with no Kafka, Redis or
 * network, so that every rule is unit-tested directly. A decision names the
 * message kind and its id; the id's discriminator encodes what makes two
 * messages of one kind for one order different (none for a confirmation:
 * an order is confirmed once, whichever event or replay asks for it). */
#ifndef AC_RULES_H
#define AC_RULES_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "message.h"

#define AC_RULES_MAX_DECISIONS 8

typedef struct ac_decision {
    ac_kind_t kind;
    char id[AC_MESSAGE_ID_LEN];
    int64_t due_ms; /* 0: at once */
} ac_decision_t;

/* Signature shared by the per-topic rule sets: fills out[] (room for max)
 * and returns how many messages the event calls for. */
typedef size_t (*ac_rules_fn)(const ac_event_t *ev, ac_decision_t *out, size_t max);

/* Rules for the orders topic: order.placed -> order_confirmation,
 * order.cancelled -> order_cancelled. Other types call for nothing. */
size_t ac_rules_orders(const ac_event_t *ev, ac_decision_t *out, size_t max);

/* Fills a decision for kind about ev's order with the given discriminator. */
void ac_rules_decision(const ac_event_t *ev, ac_kind_t kind, const char *discriminator,
                       int64_t due_ms, ac_decision_t *out);

#endif
