/* The retention report's formulas (pure: json-c and libm only, no I/O, no
 * time zones).
 *
 * ac-report reads a store's recorded facts from Redis (orders placed,
 * returns requested, ratings received, messages sent or suppressed),
 * converts their times to the store's local calendar, and hands them to
 * ac_report_compute(), which returns the report as a json-c object. The
 * text and HTML renderers read that JSON, so its shape below is the
 * contract between them:
 *
 *   {"store", "timezone", "from", "to": echoed strings,
 *    "previous_period": {"from", "to"},
 *    "orders": O, distinct orders placed in [from_ms, to_ms),
 *    "customers": E, distinct customers with such an order,
 *    "new_customers": N, those of E whose earliest order given is in the period,
 *    "previous_customers": S, distinct customers with an order in [prev_from_ms, from_ms),
 *    "repeat_customers": R, customers with at least two orders in the period,
 *    "repeat_purchase_rate": 100 R / E,
 *    "customer_retention_rate": 100 (E - N) / S,
 *    "returned_orders": the period's orders whose id is in returned,
 *    "return_rate": 100 returned_orders / O,
 *    "ratings": {"1": n1, ..., "5": n5}, ratings received in the period,
 *    "csat": 100 (n4 + n5) / (n1 + ... + n5),
 *    "messages": {kind: {channel: n}}, sent in the period, every kind of
 *                kinds present (as {} when none), channels only when n > 0,
 *    "messages_sent": the total of "messages",
 *    "suppressed": {kind: {reason: n}}, the same for suppressed messages,
 *    "review_requests_sent": Q, sent review_request messages in the period,
 *    "review_requests_rated": those whose order's rating (ratings any time)
 *                was received in [sent, sent + AC_REPORT_RESPONSE_WINDOW_MS),
 *    "review_request_response_rate": 100 rated / Q,
 *    "volume": [{"date": "YYYY-MM-DD", "sent": n, "suppressed": m}], one per
 *                local day from from_day to to_day (by msg.day),
 *    "holdout": {marketing kind: {
 *        "messaged": {"customers": a, "repeat_customers": b,
 *                     "repeat_purchase_rate": 100 b / a, "ratings": r, "csat": ...},
 *        "held_out": the same,
 *        "repeat_purchase_uplift": {"difference", "ci95_low", "ci95_high"} or null,
 *        "csat_uplift": the same or null}},
 *    "cohorts": [{"month": "YYYY-MM", "customers": c,
 *                 "returning": [{"month": "YYYY-MM", "customers": k, "share": 100 k / c}]}]}
 *
 * Rates are doubles with one decimal, rounded half away from zero from
 * the exact quotient (ac_report_round1()), and null wherever their
 * denominator is 0; counts are integers. Keys of "messages" and
 * "suppressed" come in the order of kinds, then any other kind seen
 * (sorted); their channels and reasons are sorted.
 *
 * Holdout groups, per marketing kind, from the period's messages only: a
 * customer's group and start time t0 come from their earliest message of
 * that kind in the period that was either sent (messaged) or suppressed
 * with reason "holdout" (held out); other suppressions do not count. A
 * group's repeat customers placed an order at t0 < placed_ms < to_ms; its
 * ratings are those received in [t0, to_ms) whose customer_id is one of
 * its customers. An uplift is
 * the difference of the groups' proportions in percentage points with
 * its 95 % Wald interval, d +- 1.96 * 100 * sqrt(pm(1-pm)/nm + ph(1-ph)/nh),
 * null when either group (for CSAT, either group's ratings) is empty.
 *
 * Cohorts: one row per month from min(from_month, to_month - 11) to
 * to_month, of the customers whose earliest order given is in that month
 * (rows of 0 customers kept, their shares null), with, for every later
 * month up to to_month, how many of them ordered in that month.
 *
 * Records may repeat (replays): an order counts once by order_id (its
 * earliest placed_ms wins), a rating once by order_id (the earliest
 * received_ms wins), a message once by message_id (the earliest at_ms
 * wins); equal times keep the record given first. Sort-based throughout:
 * a million customers and several million records take seconds and a few
 * arrays of 8-byte references to the records, never a malloc per record. */
#ifndef AC_REPORT_H
#define AC_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

/* A rating counts as the response to a review request when it arrives
 * within 14 days of it. */
#define AC_REPORT_RESPONSE_WINDOW_MS (14 * 86400000LL)
/* The message kind whose response rate the report measures. */
#define AC_REPORT_REVIEW_KIND "review_request"
/* Not a message but a part of review requests and referral invitations
 * (a product suggestion): its records serve the holdout comparison and
 * its holdouts count as suppressed, but it is not counted among the
 * messages sent, in "messages", "messages_sent" or "volume". */
#define AC_REPORT_CROSS_SELL_KIND "cross_sell"
/* The suppression reason that puts a customer in a holdout group. */
#define AC_REPORT_HOLDOUT_REASON "holdout"
/* Bounds on the period, which size the volume and cohort tables. */
#define AC_REPORT_MAX_DAYS   36600
#define AC_REPORT_MAX_MONTHS 1200

/* An order as recorded. month is the local calendar month of placed_ms,
 * as year * 12 + (month - 1). */
typedef struct ac_report_order {
    const char *order_id, *customer_id;
    int64_t placed_ms;
    int month;
} ac_report_order_t;

/* A rating of an order, stars 1..5. */
typedef struct ac_report_rating {
    const char *order_id, *customer_id;
    int stars;
    int64_t received_ms;
} ac_report_rating_t;

/* A message sent (channel set, reason NULL) or suppressed (channel NULL,
 * reason set: "holdout", "no_consent", "opted_out", ...). order_id may be
 * NULL for a message about no order. day is the local day number of
 * at_ms: days since 1970-01-01 in the store's zone. */
typedef struct ac_report_msg {
    const char *message_id, *kind, *order_id, *customer_id;
    const char *channel;
    const char *reason;
    int64_t at_ms;
    int day;
} ac_report_msg_t;

typedef struct ac_report_input {
    /* Echoed into the report; the dates as "YYYY-MM-DD". */
    const char *store, *timezone, *from, *to, *prev_from, *prev_to;
    /* The period [from_ms, to_ms): local midnight of from to local
     * midnight after to; the previous one is [prev_from_ms, from_ms). */
    int64_t from_ms, to_ms;
    int64_t prev_from_ms;
    int from_day, to_day;     /* local day numbers of from and to (inclusive) */
    int from_month, to_month; /* year * 12 + (month - 1) of from and to */
    /* Every recorded order of the store placed before to_ms, all history
     * (first orders and cohorts need it); later ones do not count. */
    const ac_report_order_t *orders;
    size_t n_orders;
    const char *const *returned; /* order ids with a return requested, any time */
    size_t n_returned;
    const ac_report_rating_t *ratings; /* every rating recorded, any time */
    size_t n_ratings;
    const ac_report_msg_t *msgs; /* at least those with at_ms in the period */
    size_t n_msgs;
    const char *const *kinds; /* every message kind, each shown even at 0 */
    size_t n_kinds;
    const char *const *marketing; /* kinds compared against holdouts */
    size_t n_marketing;
} ac_report_input_t;

/* Computes the report. Returns a new object (the caller
 * json_object_put()s it), or NULL with a one-line reason in err (which may
 * be NULL): NULL where a string or array is required; a period that does
 * not satisfy prev_from_ms <= from_ms < to_ms, spans more than
 * AC_REPORT_MAX_DAYS days or AC_REPORT_MAX_MONTHS months, or lies outside
 * the years 0000..9999; more than 2^32 - 2 records of one sort; a rating's
 * stars outside 1..5; a message neither or both sent and suppressed; a
 * period message whose day is outside from_day..to_day; or memory ran
 * out. The record at fault is named by its index ("msgs[12]: ..."). */
json_object *ac_report_compute(const ac_report_input_t *in, char *err, size_t errsz);

/* Rounds to one decimal, half away from zero (6.25 -> 6.3, -0.25 -> -0.3),
 * never returning -0.0. For the renderers and tests. */
double ac_report_round1(double x);

#endif
