/* Reads a BigCommerce order through the store's V2 API with libcurl:
 *   GET {base}/stores/{store_hash}/v2/orders/{id}
 *   GET {base}/stores/{store_hash}/v2/orders/{id}/products
 *   GET {base}/stores/{store_hash}/v2/orders/{id}/shipments
 * with X-Auth-Token and Accept: application/json. The base URL is
 * BIGCOMMERCE_API_URL (https://api.bigcommerce.com), so tests use a local
 * stand-in. */
#ifndef AC_BCFETCH_H
#define AC_BCFETCH_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

typedef enum ac_bcfetch_rc {
    AC_BCFETCH_OK = 0,
    AC_BCFETCH_GONE,  /* 404: the order no longer exists; nothing to say */
    AC_BCFETCH_RETRY, /* the API failed or timed out; try again later */
} ac_bcfetch_rc_t;

/* Fetches the order and its products and shipments (the caller frees each;
 * products and shipments may come back NULL when the order has none). */
ac_bcfetch_rc_t ac_bcfetch_order(const char *base, const char *store_hash, const char *token,
                                 const char *order_id, int64_t timeout_ms, json_object **order,
                                 json_object **products, json_object **shipments, char *err,
                                 size_t errsz);

#endif
