/* WooCommerce webhooks to canonical events (pure): the mapping table of
 * docs/platforms.md. in->topic is X-WC-Webhook-Topic ("order.created",
 * "order.updated", "order.restored") and in->body the order (REST API v3
 * shape).
 *
 * WooCommerce sends no event id and does not retry, and every update
 * carries the whole order, so the mapping is by state: each webhook yields
 * every event the order's current state implies, with ids derived from the
 * order and what the event is about (its type, the tracking item, the
 * refund), never from date_modified_gmt. An update that changes nothing
 * aftercare cares about thus repeats ids the workers already processed.
 *
 *   status processing, on-hold, completed      order.placed
 *   status cancelled                           order.cancelled
 *   each _wc_shipment_tracking_items entry     shipment.shipped
 *   status completed without tracking items    shipment.shipped
 *   each refunds[] entry                       return.refunded
 *   status refunded without refunds[]          return.refunded (the total)
 *   other topics                               AC_CANON_IGNORED */
#ifndef AC_WOOCOMMERCE_H
#define AC_WOOCOMMERCE_H

#include <stddef.h>

#include "canon.h"

ac_canon_rc_t ac_woo_map(const ac_canon_in_t *in, ac_canon_batch_t *out, char *err, size_t errsz);

/* True when body (not JSON) is the form-encoded ping WooCommerce sends
 * when a webhook is created ("webhook_id=12"). */
int ac_woo_is_ping(const char *body, size_t len);

#endif
