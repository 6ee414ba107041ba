/* Internals of the retention report shared by report.c (input checks,
 * JSON helpers, the entry point), report_views.c (de-duplication and
 * sorted views), report_orders.c (customers, returns, ratings, cohorts),
 * report_msgs.c (messages, volume, review requests) and report_holdout.c
 * (holdout groups and uplifts). Not for other modules. */
#ifndef AC_REPORT_INT_H
#define AC_REPORT_INT_H

#include <string.h>

#include "report.h"

/* A record in a sorted view: the index of the record in the caller's
 * array and the hash of the string the view is keyed by. Views are
 * sorted by (hash, string, ...): most comparisons are then settled by
 * the hashes alone, without reading the records or their strings, whose
 * cache misses would otherwise make a sort of millions take many
 * seconds. Any consistent order serves, as long as every view keyed by
 * the same kind of id uses it, so that views can be walked side by side. */
typedef struct ac_report_ref {
    uint32_t h;
    uint32_t i;
} ac_report_ref_t;

/* The input, de-duplicated and sorted once for every part of the report. */
typedef struct ac_report_ctx {
    const ac_report_input_t *in;
    /* Distinct orders (the earliest record of each id) keyed by order_id,
     * and the same keyed by customer_id, each customer's earliest first. */
    ac_report_ref_t *ord_id, *ord_cust;
    size_t n_ord;
    /* The returned order ids (i into in->returned), keyed by themselves. */
    ac_report_ref_t *returned;
    size_t n_returned;
    /* Distinct ratings (the earliest of each order) keyed by order_id, and
     * the same keyed by customer_id. */
    ac_report_ref_t *rat_order, *rat_cust;
    size_t n_rat;
    /* Distinct messages with at_ms in the period (i into in->msgs), in no
     * useful order. */
    uint32_t *msg;
    size_t n_msg;
    int oom; /* set by any helper whose allocation failed */
} ac_report_ctx_t;

static inline const ac_report_order_t *ac_report_ord(const ac_report_ctx_t *c, ac_report_ref_t r)
{
    return &c->in->orders[r.i];
}

static inline const ac_report_rating_t *ac_report_rat(const ac_report_ctx_t *c, ac_report_ref_t r)
{
    return &c->in->ratings[r.i];
}

/* True for a record of a part of messages (report.h:
 * AC_REPORT_CROSS_SELL_KIND) rather than of a message. */
static inline int ac_report_is_part(const ac_report_msg_t *m)
{
    return strcmp(m->kind, AC_REPORT_CROSS_SELL_KIND) == 0;
}

static inline const ac_report_msg_t *ac_report_msg(const ac_report_ctx_t *c, size_t k)
{
    return &c->in->msgs[c->msg[k]];
}

/* Whether t is in the period [from_ms, to_ms). */
static inline int ac_report_in_period(const ac_report_ctx_t *c, int64_t t)
{
    return t >= c->in->from_ms && t < c->in->to_ms;
}

/* The views' key order: by hash, then by the strings themselves. A macro
 * so that the strings, and the records holding them, are only read when
 * the hashes are equal. */
uint32_t ac_report_hash(const char *s);
#define AC_REPORT_KEY_CMP(ha, a, hb, b)                                                            \
    ((ha) != (hb) ? ((ha) < (hb) ? -1 : 1) : ac_report_strcmp((a), (b)))

/* A loader that keeps one copy of each id passes equal pointers. */
static inline int ac_report_strcmp(const char *a, const char *b)
{
    return a == b ? 0 : strcmp(a, b);
}

/* Builds every view of c->in (-1 when memory ran out), and frees them
 * (also after a failed build). */
int ac_report_views_build(ac_report_ctx_t *c);
void ac_report_views_free(ac_report_ctx_t *c);

/* The refs of the period messages (c->msg) that pass keep(), keyed by
 * key() and sorted by (key, at_ms, message_id): for a part that needs
 * them grouped by customer or order. *n is how many; NULL when memory
 * ran out. The caller frees the array. */
ac_report_ref_t *ac_report_msgs_by(const ac_report_ctx_t *c,
                                   const char *(*key)(const ac_report_msg_t *),
                                   int (*keep)(const ac_report_msg_t *, const void *),
                                   const void *arg, size_t *n);

/* JSON helpers that note a failed allocation in c->oom, so that the
 * builders need not check every call. ac_report_rate() is null when den is
 * 0; ac_report_number() rounds with ac_report_round1(). */
json_object *ac_report_obj(ac_report_ctx_t *c);
json_object *ac_report_arr(ac_report_ctx_t *c);
json_object *ac_report_int(ac_report_ctx_t *c, int64_t v);
json_object *ac_report_str(ac_report_ctx_t *c, const char *s);
json_object *ac_report_rate(ac_report_ctx_t *c, int64_t num, int64_t den);
json_object *ac_report_number(ac_report_ctx_t *c, double x);
void ac_report_put(ac_report_ctx_t *c, json_object *o, const char *key, json_object *v);
void ac_report_append(ac_report_ctx_t *c, json_object *arr, json_object *v);

/* "YYYY-MM-DD" of a day number and "YYYY-MM" of year * 12 + (month - 1).
 * The buffer holds any int's digits, which keeps -Wformat-truncation
 * quiet without a check that could never fail. */
#define AC_REPORT_DATE_SZ 48
void ac_report_date(int day, char out[AC_REPORT_DATE_SZ]);
void ac_report_month(int month, char out[AC_REPORT_DATE_SZ]);

/* The parts of the report, each adding its fields to out in the
 * contract's order; a failed allocation sets c->oom. */
void ac_report_add_orders(ac_report_ctx_t *c, json_object *out);
void ac_report_add_ratings(ac_report_ctx_t *c, json_object *out);
void ac_report_add_messages(ac_report_ctx_t *c, json_object *out);
void ac_report_add_reviews(ac_report_ctx_t *c, json_object *out);
void ac_report_add_volume(ac_report_ctx_t *c, json_object *out);
void ac_report_add_holdout(ac_report_ctx_t *c, json_object *out);
void ac_report_add_cohorts(ac_report_ctx_t *c, json_object *out);

#endif
