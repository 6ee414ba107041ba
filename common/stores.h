/* Per-store choices about which messages their customers get and when.
 *
 * Every store starts from the defaults the worker was configured with
 * (REVIEW_REQUEST_DELAY, REFERRAL_DELAY, SHIPPING_UPDATES); a JSON file
 * (STORE_SETTINGS) may override them store by store:
 *
 *   {"stores": {"st_alpenglow": {"shipping_updates": ["shipped", "out_for_delivery"],
 *                                "review_request_delay": "10d", "referral_delay": "21d",
 *                                "review_requests": true, "referral_invites": false,
 *                                "review_url": "https://alpenglow.example/review/{{order_id}}",
 *                                "referral_url": "https://alpenglow.example/r/{{referral_code}}",
 *                                "referral_codes": true, "watermark_max_hold": "12h",
 *                                "holdout": {"review_request": 10, "referral_invite": 10,
 *                                            "cross_sell": 10},
 *                                "support": "https://alpenglow.example/hooks/aftercare"}}}
 *
 * A store the file does not name gets the defaults. */
#ifndef AC_STORES_H
#define AC_STORES_H

#include <stddef.h>
#include <stdint.h>

typedef struct ac_store_settings {
    int64_t review_delay_ms;   /* review_request this long after delivery */
    int64_t referral_delay_ms; /* referral_invite this long after delivery */
    int shipped_updates;       /* shipping_update on shipment.shipped */
    int out_for_delivery_updates;
    /* How long a scheduled message may wait for the input topics'
     * watermarks (watermark.h) before it fires on the facts known. */
    int64_t watermark_hold_ms;
    int review_requests; /* 0: the store sends none */
    int referral_invites;
    /* notify-worker's: links in review requests and referral invitations,
     * templates over order_id, order_number, customer_id and referral_code
     * (owned by the table; NULL: none), and whether to give each customer a
     * referral code. */
    const char *review_url, *referral_url;
    int referral_codes;
    /* Control groups (holdout.h): the share of customers, in hundredths
     * of a percent, whose review request or referral invitation is
     * decided but not sent, to measure what sending it does; and of those
     * who get one, the share whose message suggests no product. */
    int holdout_review_bp, holdout_referral_bp, holdout_cross_sell_bp;
    /* Where complaints go (a store_alert): an http(s) URL or an email
     * address (owned by the table; NULL: none). */
    const char *support;
} ac_store_settings_t;

typedef struct ac_stores ac_stores_t;

/* Parses a SHIPPING_UPDATES list ("shipped,out_for_delivery", "shipped",
 * "none") into s. Returns 0 or -1 with why. */
int ac_stores_parse_updates(const char *list, ac_store_settings_t *s, char *why, size_t whysz);

/* Builds the table from JSON text (NULL: defaults only). Returns it (free
 * with ac_stores_destroy()) or NULL with a one-line reason in err naming
 * the store and field at fault. */
ac_stores_t *ac_stores_new(const ac_store_settings_t *defaults, const char *json, size_t len,
                           char *err, size_t errsz);

/* Same, reading the JSON from a file. */
ac_stores_t *ac_stores_load(const ac_store_settings_t *defaults, const char *path, char *err,
                            size_t errsz);

void ac_stores_destroy(ac_stores_t *t);

/* The settings of store_id (NULL: the defaults). Valid while t lives. */
const ac_store_settings_t *ac_stores_get(const ac_stores_t *t, const char *store_id);

/* The longest review or referral delay of any store, defaults included. */
int64_t ac_stores_longest_delay(const ac_stores_t *t);

/* How many stores have their own settings. */
size_t ac_stores_count(const ac_stores_t *t);

#endif
