#include "rules.h"

void ac_rules_decision(const ac_event_t *ev, ac_kind_t kind, const char *discriminator,
                       int64_t due_ms, ac_decision_t *out)
{
    out->kind = kind;
    out->due_ms = due_ms;
    ac_message_id(kind, ev->store.id, ev->order.id, discriminator, out->id);
}

size_t ac_rules_orders(const ac_event_t *ev, ac_decision_t *out, size_t max)
{
    if (max == 0)
        return 0;
    switch (ev->type) {
    case AC_EVENT_ORDER_PLACED:
        ac_rules_decision(ev, AC_KIND_ORDER_CONFIRMATION, NULL, 0, &out[0]);
        return 1;
    case AC_EVENT_ORDER_CANCELLED:
        ac_rules_decision(ev, AC_KIND_ORDER_CANCELLED, NULL, 0, &out[0]);
        return 1;
    default:
        return 0;
    }
}
