/* Shopify webhooks to canonical events (pure): the mapping table of
 * docs/platforms.md. The gateway has verified X-Shopify-Hmac-Sha256 and
 * found the store; in->topic is X-Shopify-Topic and in->body the parsed
 * payload (the REST resource of the topic: an order, a fulfillment, a
 * fulfillment event, a refund, a return).
 *
 *   orders/create, orders/paid      order.placed (one event id for both)
 *   orders/cancelled                order.cancelled
 *   orders/updated                  order.cancelled when cancelled_at is set
 *   fulfillments/create             shipment.shipped (carrier, tracking)
 *   fulfillments/update             the shipment.* of its shipment_status
 *   fulfillment_events/create       the shipment.* of its status
 *   refunds/create                  return.refunded with the amount
 *   returns/request, returns/close  return.requested, return.received
 *   anything else                   AC_CANON_IGNORED
 *
 * Event ids come from what happened (order, fulfillment, refund or return
 * id, the canonical type, and the status or new estimate), so re-deliveries
 * and overlapping subscriptions give one id. Events of the fulfillment,
 * refund and return topics carry no customer: the gateway completes them
 * (canon.h). */
#ifndef AC_SHOPIFY_H
#define AC_SHOPIFY_H

#include <stddef.h>

#include "canon.h"

/* Maps one webhook into out. Returns AC_CANON_OK (events in out, maybe
 * none), AC_CANON_IGNORED, or AC_CANON_INVALID with a sentence in err
 * (never quoting customer data). */
ac_canon_rc_t ac_shopify_map(const ac_canon_in_t *in, ac_canon_batch_t *out, char *err,
                             size_t errsz);

#endif
