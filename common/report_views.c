/* The retention report's sorted views of its input: replays removed,
 * records grouped by order, customer or message id, each view one qsort
 * and one scan. See ac_report_ref_t for why views hold hashes. */
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

#define CMP(a, b) (((a) > (b)) - ((a) < (b)))

/* FNV-1a: ids are short, and the hash only has to spread them; equal
 * hashes of different ids merely cost a strcmp. */
uint32_t ac_report_hash(const char *s)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

/* Each comparison ends with a key that differs between distinct records
 * (the index, i.e. the position in the input, or a unique id), so that
 * qsort's instability cannot change which replay wins. */
static int order_by_id(const void *a, const void *b, void *arg)
{
    const ac_report_ref_t *x = a, *y = b;
    const ac_report_order_t *p = (const ac_report_order_t *)arg + x->i;
    const ac_report_order_t *q = (const ac_report_order_t *)arg + y->i;
    int r = AC_REPORT_KEY_CMP(x->h, p->order_id, y->h, q->order_id);
    if (r)
        return r;
    return p->placed_ms != q->placed_ms ? CMP(p->placed_ms, q->placed_ms) : CMP(x->i, y->i);
}

static int order_by_customer(const void *a, const void *b, void *arg)
{
    const ac_report_ref_t *x = a, *y = b;
    const ac_report_order_t *p = (const ac_report_order_t *)arg + x->i;
    const ac_report_order_t *q = (const ac_report_order_t *)arg + y->i;
    int r = AC_REPORT_KEY_CMP(x->h, p->customer_id, y->h, q->customer_id);
    if (r)
        return r;
    if (p->placed_ms != q->placed_ms)
        return CMP(p->placed_ms, q->placed_ms);
    return strcmp(p->order_id, q->order_id);
}

static int rating_by_order(const void *a, const void *b, void *arg)
{
    const ac_report_ref_t *x = a, *y = b;
    const ac_report_rating_t *p = (const ac_report_rating_t *)arg + x->i;
    const ac_report_rating_t *q = (const ac_report_rating_t *)arg + y->i;
    int r = AC_REPORT_KEY_CMP(x->h, p->order_id, y->h, q->order_id);
    if (r)
        return r;
    return p->received_ms != q->received_ms ? CMP(p->received_ms, q->received_ms) : CMP(x->i, y->i);
}

static int rating_by_customer(const void *a, const void *b, void *arg)
{
    const ac_report_ref_t *x = a, *y = b;
    const ac_report_rating_t *p = (const ac_report_rating_t *)arg + x->i;
    const ac_report_rating_t *q = (const ac_report_rating_t *)arg + y->i;
    int r = AC_REPORT_KEY_CMP(x->h, p->customer_id, y->h, q->customer_id);
    if (r)
        return r;
    if (p->received_ms != q->received_ms)
        return CMP(p->received_ms, q->received_ms);
    return strcmp(p->order_id, q->order_id);
}

static int msg_by_id(const void *a, const void *b, void *arg)
{
    const ac_report_ref_t *x = a, *y = b;
    const ac_report_msg_t *p = (const ac_report_msg_t *)arg + x->i;
    const ac_report_msg_t *q = (const ac_report_msg_t *)arg + y->i;
    int r = AC_REPORT_KEY_CMP(x->h, p->message_id, y->h, q->message_id);
    if (r)
        return r;
    return p->at_ms != q->at_ms ? CMP(p->at_ms, q->at_ms) : CMP(x->i, y->i);
}

static int string_ref(const void *a, const void *b, void *arg)
{
    const ac_report_ref_t *x = a, *y = b;
    const char *const *v = arg;
    return AC_REPORT_KEY_CMP(x->h, v[x->i], y->h, v[y->i]);
}

/* An array of n refs; malloc(0) may be NULL, which is not a failure. */
static ac_report_ref_t *refs(size_t n)
{
    return malloc((n ? n : 1) * sizeof(ac_report_ref_t));
}

/* Orders: the earliest record of each id, then the same by customer. A
 * sorted run of one id starts with its winner; an order whose winner was
 * placed after the period counts nowhere (header: later ones do not
 * count), so that a report does not change with the day it is run. */
static void view_orders(ac_report_ctx_t *c)
{
    const ac_report_order_t *v = c->in->orders;
    size_t n = c->in->n_orders, k = 0;
    for (size_t i = 0; i < n; i++)
        c->ord_id[i] = (ac_report_ref_t){ac_report_hash(v[i].order_id), (uint32_t)i};
    qsort_r(c->ord_id, n, sizeof(*c->ord_id), order_by_id, (void *)v);
    for (size_t i = 0; i < n; i++) {
        ac_report_ref_t r = c->ord_id[i];
        int first = i == 0 || AC_REPORT_KEY_CMP(c->ord_id[i - 1].h, v[c->ord_id[i - 1].i].order_id,
                                                r.h, v[r.i].order_id) != 0;
        if (first && v[r.i].placed_ms < c->in->to_ms)
            c->ord_id[k++] = r;
    }
    c->n_ord = k;
    for (size_t i = 0; i < k; i++)
        c->ord_cust[i] =
            (ac_report_ref_t){ac_report_hash(v[c->ord_id[i].i].customer_id), c->ord_id[i].i};
    qsort_r(c->ord_cust, k, sizeof(*c->ord_cust), order_by_customer, (void *)v);
}

/* Ratings: the earliest of each order, then the same by customer. */
static void view_ratings(ac_report_ctx_t *c)
{
    const ac_report_rating_t *v = c->in->ratings;
    size_t n = c->in->n_ratings, k = 0;
    for (size_t i = 0; i < n; i++)
        c->rat_order[i] = (ac_report_ref_t){ac_report_hash(v[i].order_id), (uint32_t)i};
    qsort_r(c->rat_order, n, sizeof(*c->rat_order), rating_by_order, (void *)v);
    for (size_t i = 0; i < n; i++) {
        ac_report_ref_t r = c->rat_order[i];
        if (k == 0 || AC_REPORT_KEY_CMP(c->rat_order[k - 1].h, v[c->rat_order[k - 1].i].order_id,
                                        r.h, v[r.i].order_id) != 0)
            c->rat_order[k++] = r;
    }
    c->n_rat = k;
    for (size_t i = 0; i < k; i++)
        c->rat_cust[i] =
            (ac_report_ref_t){ac_report_hash(v[c->rat_order[i].i].customer_id), c->rat_order[i].i};
    qsort_r(c->rat_cust, k, sizeof(*c->rat_cust), rating_by_customer, (void *)v);
}

/* Messages: the earliest record of each id, kept when it falls in the
 * period (a replay inside it does not bring back a message first
 * recorded before). The sort's scratch refs are freed here. */
static int view_msgs(ac_report_ctx_t *c)
{
    const ac_report_msg_t *v = c->in->msgs;
    size_t n = c->in->n_msgs;
    ac_report_ref_t *r = refs(n);
    if (!r)
        return -1;
    for (size_t i = 0; i < n; i++)
        r[i] = (ac_report_ref_t){ac_report_hash(v[i].message_id), (uint32_t)i};
    qsort_r(r, n, sizeof(*r), msg_by_id, (void *)v);
    c->n_msg = 0;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && AC_REPORT_KEY_CMP(r[i - 1].h, v[r[i - 1].i].message_id, r[i].h,
                                       v[r[i].i].message_id) == 0)
            continue;
        if (ac_report_in_period(c, v[r[i].i].at_ms))
            c->msg[c->n_msg++] = r[i].i;
    }
    free(r);
    return 0;
}

int ac_report_views_build(ac_report_ctx_t *c)
{
    const ac_report_input_t *in = c->in;
    c->ord_id = refs(in->n_orders);
    c->ord_cust = refs(in->n_orders);
    c->returned = refs(in->n_returned);
    c->rat_order = refs(in->n_ratings);
    c->rat_cust = refs(in->n_ratings);
    c->msg = malloc((in->n_msgs ? in->n_msgs : 1) * sizeof(*c->msg));
    if (!c->ord_id || !c->ord_cust || !c->returned || !c->rat_order || !c->rat_cust || !c->msg)
        return -1;
    view_orders(c);
    view_ratings(c);
    c->n_returned = in->n_returned;
    for (size_t i = 0; i < in->n_returned; i++)
        c->returned[i] = (ac_report_ref_t){ac_report_hash(in->returned[i]), (uint32_t)i};
    qsort_r(c->returned, c->n_returned, sizeof(*c->returned), string_ref, (void *)in->returned);
    return view_msgs(c);
}

void ac_report_views_free(ac_report_ctx_t *c)
{
    free(c->ord_id);
    free(c->ord_cust);
    free(c->returned);
    free(c->rat_order);
    free(c->rat_cust);
    free(c->msg);
}

/* What ac_report_msgs_by() sorts by. */
typedef struct msg_key {
    const ac_report_msg_t *v;
    const char *(*key)(const ac_report_msg_t *);
} msg_key_t;

static int msg_by_key(const void *a, const void *b, void *arg)
{
    const msg_key_t *k = arg;
    const ac_report_ref_t *x = a, *y = b;
    const ac_report_msg_t *p = k->v + x->i, *q = k->v + y->i;
    int r = AC_REPORT_KEY_CMP(x->h, k->key(p), y->h, k->key(q));
    if (r)
        return r;
    if (p->at_ms != q->at_ms)
        return CMP(p->at_ms, q->at_ms);
    return strcmp(p->message_id, q->message_id);
}

ac_report_ref_t *ac_report_msgs_by(const ac_report_ctx_t *c,
                                   const char *(*key)(const ac_report_msg_t *),
                                   int (*keep)(const ac_report_msg_t *, const void *),
                                   const void *arg, size_t *n)
{
    ac_report_ref_t *r = refs(c->n_msg);
    *n = 0;
    if (!r)
        return NULL;
    for (size_t k = 0; k < c->n_msg; k++) {
        const ac_report_msg_t *m = ac_report_msg(c, k);
        if (keep(m, arg))
            r[(*n)++] = (ac_report_ref_t){ac_report_hash(key(m)), c->msg[k]};
    }
    msg_key_t mk = {c->in->msgs, key};
    qsort_r(r, *n, sizeof(*r), msg_by_key, &mk);
    return r;
}
