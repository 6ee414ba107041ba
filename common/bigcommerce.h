/* BigCommerce webhooks (pure part). BigCommerce sends thin payloads
 *   {"scope": "store/order/statusUpdated", "store_id": "1025646",
 *    "data": {"type": "order", "id": 250}, "hash": "...", "created_at": 1561479335,
 *    "producer": "stores/abc123"}
 * and the gateway fetches the order (V2 orders API: the order, its
 * products and its shipments) before mapping. The mapping is by state, as
 * for WooCommerce:
 *
 *   status_id 2, 3, 8, 9, 10, 11 (paid, in fulfilment)   order.placed
 *   status_id 5 (Cancelled), 6 (Declined)                order.cancelled
 *   each shipment                                        shipment.shipped
 *   refunded_amount > 0 (status 4, 14)                   return.refunded
 *
 * Scopes: store/order/created, store/order/updated,
 * store/order/statusUpdated, store/shipment/created, store/shipment/updated
 * (data.orderId names the order); others are ignored. */
#ifndef AC_BIGCOMMERCE_H
#define AC_BIGCOMMERCE_H

#include <stddef.h>

#include "canon.h"

/* Reads a webhook body: the order id to fetch into order_id (text, exact).
 * Returns AC_CANON_OK, AC_CANON_IGNORED for scopes aftercare does not use,
 * or AC_CANON_INVALID with err. */
ac_canon_rc_t ac_bigc_order_of(json_object *body, char *order_id, size_t idsz, char *err,
                               size_t errsz);

/* Maps a fetched order (GET /v2/orders/{id}), its products (GET
 * /v2/orders/{id}/products, may be NULL) and shipments (GET
 * /v2/orders/{id}/shipments, may be NULL) into out. in->body is the
 * webhook. Returns AC_CANON_OK or AC_CANON_INVALID with err. */
ac_canon_rc_t ac_bigc_map(const ac_canon_in_t *in, json_object *order, json_object *products,
                          json_object *shipments, ac_canon_batch_t *out, char *err, size_t errsz);

#endif
