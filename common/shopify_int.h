/* Shared by shopify.c (orders and fulfillments, the topic table) and
 * shopify_refund.c (refunds and returns); not part of shopify.h. */
#ifndef AC_SHOPIFY_INT_H
#define AC_SHOPIFY_INT_H

#include "shopify.h"

#define ID_SZ   (AC_EVENT_MAX_ID_LEN + 1)
#define TIME_SZ 64

/* Fills err with why the payload cannot be mapped; returns the invalid
 * result. */
ac_canon_rc_t ac_shopify_invalid(char *err, size_t errsz, const char *why);

/* When it happened: the first of obj's keys holding a readable time, else
 * when the webhook was sent. */
const char *ac_shopify_when(const ac_canon_in_t *in, json_object *obj, const char *k1,
                            const char *k2, char *out, size_t outsz);

/* A new canonical event whose id derives from what happened. */
json_object *ac_shopify_new_event(const ac_canon_in_t *in, const char *identity, const char *type,
                                  const char *disc, const char *occurred, const char *order_id);

/* Appends ev to out; fails on NULL ev or a full batch. */
ac_canon_rc_t ac_shopify_add(ac_canon_batch_t *out, json_object *ev, char *err, size_t errsz);

/* One canonical item from a Shopify line item, appended to items. */
void ac_shopify_add_item(json_object *items, json_object *li, json_object *qty, int with_price);

/* Sets key to items when it holds any, and releases it otherwise. */
void ac_shopify_set_items(json_object *obj, const char *key, json_object *items);

/* refunds/create; returns/request (requested != 0) and returns/close. */
ac_canon_rc_t ac_shopify_map_refund(const ac_canon_in_t *in, int unused, ac_canon_batch_t *out,
                                    char *err, size_t errsz);
ac_canon_rc_t ac_shopify_map_return(const ac_canon_in_t *in, int requested, ac_canon_batch_t *out,
                                    char *err, size_t errsz);

#endif
