/* Control groups: which customers of a store do not get a marketing
 * message, so that the retention report can compare them with those who
 * do (docs/analytics.md).
 *
 * The choice is a deterministic hash of the store and the customer: the
 * same customer is in or out for every message and every worker, without
 * any state, and a store's holdout share of 10 % holds out the same
 * customers for each marketing kind with that share. Pure.
 *
 * Cross-sell suggestions, the product a review request or referral
 * invitation may suggest, are compared the same way among the customers
 * who get such a message, with a draw of their own: were it the messages'
 * draw, a cross-sell share no larger than a message's would hold out only
 * customers who never get the message, and no one would be compared. */
#ifndef AC_HOLDOUT_H
#define AC_HOLDOUT_H

#include "message.h"
#include "stores.h"

/* The customer's place in [0, 10000), the same for a store and customer. */
int ac_holdout_slot(const char *store_id, const char *customer_id);

/* The same for the cross-sell draw, independent of the first. */
int ac_holdout_cross_sell_slot(const char *store_id, const char *customer_id);

/* The name the report knows cross-sell suggestions by. */
#define AC_HOLDOUT_CROSS_SELL "cross_sell"

/* True when the customer's messages carry no product suggestion. */
int ac_holdout_cross_sell_held(const ac_store_settings_t *s, const char *store_id,
                               const char *customer_id);

/* The share (hundredths of a percent) s holds out of kind; 0 for kinds
 * that are not marketing. */
int ac_holdout_share(const ac_store_settings_t *s, ac_kind_t kind);

/* True when the customer's kind message is held out. */
int ac_holdout_held(const ac_store_settings_t *s, ac_kind_t kind, const char *store_id,
                    const char *customer_id);

#endif
