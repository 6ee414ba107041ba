/* The retention report's holdout comparison: for each marketing kind, the
 * customers who got it against those held out of it, on repeat purchases
 * and on satisfaction, with the difference's 95 % interval. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

/* What a group's customers did after their first message (or holdout). */
typedef struct group {
    int64_t customers, repeat, ratings, happy; /* happy: ratings of 4 or 5 stars */
} group_t;

/* Of the given kind, and placing its customer in a group: sent, or
 * withheld for the holdout. One suppressed for any other reason (no
 * consent, opted out) says nothing of the message's effect. */
static int places(const ac_report_msg_t *m, const void *kind)
{
    return strcmp(m->kind, kind) == 0 &&
           (m->channel || strcmp(m->reason, AC_REPORT_HOLDOUT_REASON) == 0);
}

static const char *customer_of(const ac_report_msg_t *m)
{
    return m->customer_id;
}

/* Moves *at along view (n refs, keyed by customer_id, whose strings get()
 * returns) to the first ref not below the customer (h, id); returns the
 * end of that customer's run. */
static size_t seek(const ac_report_ref_t *view, size_t n, size_t *at, uint32_t h, const char *id,
                   const char *(*get)(const ac_report_ctx_t *, ac_report_ref_t),
                   const ac_report_ctx_t *c)
{
    while (*at < n && AC_REPORT_KEY_CMP(view[*at].h, get(c, view[*at]), h, id) < 0)
        (*at)++;
    size_t end = *at;
    while (end < n && AC_REPORT_KEY_CMP(view[end].h, get(c, view[end]), h, id) == 0)
        end++;
    return end;
}

static const char *order_customer(const ac_report_ctx_t *c, ac_report_ref_t r)
{
    return ac_report_ord(c, r)->customer_id;
}

static const char *rating_customer(const ac_report_ctx_t *c, ac_report_ref_t r)
{
    return ac_report_rat(c, r)->customer_id;
}

/* Adds the customer (h, id) whose group starts at t0 to g: whether they
 * ordered again after t0 within the period, and their ratings in
 * [t0, to_ms). *oc and *rc walk c->ord_cust and c->rat_cust, which are in
 * the same order of customers as the messages, so each customer costs
 * only their own records. */
static void add_customer(const ac_report_ctx_t *c, uint32_t h, const char *id, int64_t t0,
                         group_t *g, size_t *oc, size_t *rc)
{
    int64_t to_ms = c->in->to_ms;
    int repeat = 0;
    g->customers++;
    size_t end = seek(c->ord_cust, c->n_ord, oc, h, id, order_customer, c);
    for (size_t k = *oc; k < end; k++) {
        int64_t t = ac_report_ord(c, c->ord_cust[k])->placed_ms;
        repeat |= t > t0 && t < to_ms;
    }
    g->repeat += repeat;
    end = seek(c->rat_cust, c->n_rat, rc, h, id, rating_customer, c);
    for (size_t k = *rc; k < end; k++) {
        const ac_report_rating_t *r = ac_report_rat(c, c->rat_cust[k]);
        if (r->received_ms >= t0 && r->received_ms < to_ms) {
            g->ratings++;
            g->happy += r->stars >= 4;
        }
    }
}

/* Splits the customers of one kind's placing messages, v (sorted by
 * customer, then time), into g[0] messaged and g[1] held out, each by
 * their earliest message. */
static void tally(const ac_report_ctx_t *c, const ac_report_ref_t *v, size_t n, group_t g[2])
{
    size_t oc = 0, rc = 0;
    for (size_t i = 0, j; i < n; i = j) {
        const ac_report_msg_t *first = &c->in->msgs[v[i].i];
        j = i + 1;
        while (j < n && AC_REPORT_KEY_CMP(v[j].h, c->in->msgs[v[j].i].customer_id, v[i].h,
                                          first->customer_id) == 0)
            j++;
        add_customer(c, v[i].h, first->customer_id, first->at_ms, &g[first->channel ? 0 : 1], &oc,
                     &rc);
    }
}

/* The difference of two proportions bm/nm - bh/nh in percentage points
 * with its 95 % Wald interval; null when either group is empty. The
 * difference itself is rounded from exact integers, like every rate. */
static json_object *uplift(ac_report_ctx_t *c, int64_t bm, int64_t nm, int64_t bh, int64_t nh)
{
    if (nm == 0 || nh == 0)
        return NULL;
    double pm = (double)bm / (double)nm, ph = (double)bh / (double)nh;
    double d = 100.0 * (pm - ph);
    double half = 1.96 * 100.0 * sqrt(pm * (1 - pm) / (double)nm + ph * (1 - ph) / (double)nh);
    json_object *o = ac_report_obj(c);
    ac_report_put(c, o, "difference", ac_report_rate(c, bm * nh - bh * nm, nm * nh));
    ac_report_put(c, o, "ci95_low", ac_report_number(c, d - half));
    ac_report_put(c, o, "ci95_high", ac_report_number(c, d + half));
    return o;
}

static json_object *group_json(ac_report_ctx_t *c, const group_t *g)
{
    json_object *o = ac_report_obj(c);
    ac_report_put(c, o, "customers", ac_report_int(c, g->customers));
    ac_report_put(c, o, "repeat_customers", ac_report_int(c, g->repeat));
    ac_report_put(c, o, "repeat_purchase_rate", ac_report_rate(c, g->repeat, g->customers));
    ac_report_put(c, o, "ratings", ac_report_int(c, g->ratings));
    ac_report_put(c, o, "csat", ac_report_rate(c, g->happy, g->ratings));
    return o;
}

/* One entry per marketing kind, in the caller's order (a kind listed
 * twice once), even when none of it was sent. */
void ac_report_add_holdout(ac_report_ctx_t *c, json_object *out)
{
    const ac_report_input_t *in = c->in;
    json_object *holdout = ac_report_obj(c);
    for (size_t i = 0; i < in->n_marketing && holdout; i++) {
        const char *kind = in->marketing[i];
        if (json_object_object_get_ex(holdout, kind, NULL))
            continue;
        size_t n;
        group_t g[2] = {{0}, {0}};
        ac_report_ref_t *v = ac_report_msgs_by(c, customer_of, places, kind, &n);
        if (!v) {
            c->oom = 1;
            break;
        }
        tally(c, v, n, g);
        free(v);
        json_object *e = ac_report_obj(c);
        ac_report_put(c, e, "messaged", group_json(c, &g[0]));
        ac_report_put(c, e, "held_out", group_json(c, &g[1]));
        ac_report_put(c, e, "repeat_purchase_uplift",
                      uplift(c, g[0].repeat, g[0].customers, g[1].repeat, g[1].customers));
        ac_report_put(c, e, "csat_uplift",
                      uplift(c, g[0].happy, g[0].ratings, g[1].happy, g[1].ratings));
        ac_report_put(c, holdout, kind, e);
    }
    ac_report_put(c, out, "holdout", holdout);
}
