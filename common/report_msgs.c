/* The retention report's message-side parts: what was sent or suppressed,
 * by kind and channel or reason, per day, and how many review requests
 * got their rating. */
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

/* A sent message's channel or a suppressed one's reason. */
static const char *label(const ac_report_msg_t *m)
{
    return m->channel ? m->channel : m->reason;
}

/* One cell of the "messages" or "suppressed" map: a kind, sent or not,
 * and a channel or reason; m is one of its messages (an index into
 * in->msgs), n how many. */
typedef struct cell {
    uint32_t h, m;
    int64_t n;
} cell_t;

/* The cells met so far, found by an open-addressing table of slots
 * holding a cell's index + 1 (0: empty), kept at most half full. The
 * cells are few (kinds times channels and reasons), so counting through
 * them costs one pass and no sort of the messages. */
typedef struct cells {
    const ac_report_msg_t *msgs;
    cell_t *v;
    uint32_t *slot;
    size_t n, cap; /* cap: slots, a power of two; also room for cap / 2 cells */
} cells_t;

static int same_cell(const ac_report_msg_t *a, const ac_report_msg_t *b)
{
    return !a->channel == !b->channel && strcmp(a->kind, b->kind) == 0 &&
           strcmp(label(a), label(b)) == 0;
}

/* Doubles the table, placing every cell again. */
static int grow(cells_t *t)
{
    size_t cap = t->cap ? 2 * t->cap : 64;
    uint32_t *slot = calloc(cap, sizeof(*slot));
    cell_t *v = realloc(t->v, cap / 2 * sizeof(*v));
    if (!slot || !v) {
        free(slot);
        if (v)
            t->v = v;
        return -1;
    }
    for (size_t k = 0; k < t->n; k++) {
        size_t s = v[k].h & (cap - 1);
        while (slot[s])
            s = (s + 1) & (cap - 1);
        slot[s] = (uint32_t)k + 1;
    }
    free(t->slot);
    t->slot = slot;
    t->v = v;
    t->cap = cap;
    return 0;
}

/* Counts message i into its cell, adding the cell if new. */
static int count_in(cells_t *t, uint32_t i)
{
    const ac_report_msg_t *m = &t->msgs[i];
    uint32_t h = (ac_report_hash(m->kind) * 16777619u) ^ ac_report_hash(label(m)) ^
                 (m->channel ? 0u : 0x9e3779b9u);
    if (2 * (t->n + 1) > t->cap && grow(t) < 0)
        return -1;
    size_t s = h & (t->cap - 1);
    for (; t->slot[s]; s = (s + 1) & (t->cap - 1)) {
        cell_t *e = &t->v[t->slot[s] - 1];
        if (e->h == h && same_cell(&t->msgs[e->m], m)) {
            e->n++;
            return 0;
        }
    }
    t->v[t->n] = (cell_t){h, i, 1};
    t->slot[s] = (uint32_t)++t->n;
    return 0;
}

/* By kind, sent before suppressed, then channel or reason. */
static int cell_order(const void *a, const void *b, void *arg)
{
    const ac_report_msg_t *v = arg;
    const ac_report_msg_t *x = &v[((const cell_t *)a)->m], *y = &v[((const cell_t *)b)->m];
    int r = strcmp(x->kind, y->kind);
    if (r)
        return r;
    if (!x->channel != !y->channel)
        return x->channel ? -1 : 1;
    return strcmp(label(x), label(y));
}

/* The object of kind in map, added as {} when absent. */
static json_object *kind_object(ac_report_ctx_t *c, json_object *map, const char *kind)
{
    json_object *o = NULL;
    if (map && json_object_object_get_ex(map, kind, &o))
        return o;
    o = ac_report_obj(c);
    if (!o || !map || json_object_object_add(map, kind, o) != 0) {
        json_object_put(o);
        c->oom = 1;
        return NULL;
    }
    return o;
}

/* Puts the sorted cells into the two maps; returns the number sent. A
 * kind met here is added to both maps, after the listed ones; a part of
 * messages shows only its holdouts, under "suppressed". */
static int64_t put_cells(ac_report_ctx_t *c, const cells_t *t, json_object *sent,
                         json_object *suppressed)
{
    int64_t total = 0;
    for (size_t k = 0; k < t->n; k++) {
        const ac_report_msg_t *m = &t->msgs[t->v[k].m];
        if (ac_report_is_part(m)) {
            if (!m->channel)
                ac_report_put(c, kind_object(c, suppressed, m->kind), label(m),
                              ac_report_int(c, t->v[k].n));
            continue;
        }
        json_object *sent_kind = kind_object(c, sent, m->kind);
        json_object *supp_kind = kind_object(c, suppressed, m->kind);
        ac_report_put(c, m->channel ? sent_kind : supp_kind, label(m), ac_report_int(c, t->v[k].n));
        if (m->channel)
            total += t->v[k].n;
    }
    return total;
}

/* "messages", "messages_sent" and "suppressed". The kinds the caller
 * lists come first, each even when nothing of it happened; a kind it did
 * not list still shows, after them, in both maps. */
void ac_report_add_messages(ac_report_ctx_t *c, json_object *out)
{
    const ac_report_input_t *in = c->in;
    json_object *sent = ac_report_obj(c), *suppressed = ac_report_obj(c);
    for (size_t i = 0; i < in->n_kinds; i++) {
        kind_object(c, sent, in->kinds[i]);
        kind_object(c, suppressed, in->kinds[i]);
    }
    cells_t t = {.msgs = in->msgs};
    int64_t total = 0;
    size_t k = 0;
    while (k < c->n_msg && count_in(&t, c->msg[k]) == 0)
        k++;
    if (k < c->n_msg) {
        c->oom = 1;
    } else {
        if (t.n) /* t.v is NULL until a first cell */
            qsort_r(t.v, t.n, sizeof(*t.v), cell_order, (void *)in->msgs);
        total = put_cells(c, &t, sent, suppressed);
    }
    free(t.v);
    free(t.slot);
    ac_report_put(c, out, "messages", sent);
    ac_report_put(c, out, "messages_sent", ac_report_int(c, total));
    ac_report_put(c, out, "suppressed", suppressed);
}

static const char *order_of(const ac_report_msg_t *m)
{
    return m->order_id;
}

/* A review request sent, about an order. */
static int review_request(const ac_report_msg_t *m, const void *arg)
{
    (void)arg;
    return m->channel && m->order_id && strcmp(m->kind, AC_REPORT_REVIEW_KIND) == 0;
}

static int review_kind(const ac_report_msg_t *m, const void *arg)
{
    (void)arg;
    return m->channel && strcmp(m->kind, AC_REPORT_REVIEW_KIND) == 0;
}

/* How many of the n review requests in v (sorted by order id) have their
 * order's rating within the response window, walking the ratings (in the
 * same order of ids) alongside. */
static int64_t count_rated(const ac_report_ctx_t *c, const ac_report_ref_t *v, size_t n)
{
    int64_t rated = 0;
    size_t r = 0;
    for (size_t i = 0; i < n; i++) {
        const ac_report_msg_t *m = &c->in->msgs[v[i].i];
        int cmp = -1;
        while (r < c->n_rat && (cmp = AC_REPORT_KEY_CMP(c->rat_order[r].h,
                                                        ac_report_rat(c, c->rat_order[r])->order_id,
                                                        v[i].h, m->order_id)) < 0)
            r++;
        if (r == c->n_rat || cmp != 0)
            continue;
        int64_t got = ac_report_rat(c, c->rat_order[r])->received_ms;
        rated += got >= m->at_ms && got - m->at_ms < AC_REPORT_RESPONSE_WINDOW_MS;
    }
    return rated;
}

/* Review requests sent in the period and the share rated in time. A
 * request about no order counts as sent and can never be rated. */
void ac_report_add_reviews(ac_report_ctx_t *c, json_object *out)
{
    size_t n = 0;
    int64_t sent = 0, rated = 0;
    for (size_t k = 0; k < c->n_msg; k++)
        sent += review_kind(ac_report_msg(c, k), NULL);
    ac_report_ref_t *v = ac_report_msgs_by(c, order_of, review_request, NULL, &n);
    if (!v)
        c->oom = 1;
    else
        rated = count_rated(c, v, n);
    free(v);
    ac_report_put(c, out, "review_requests_sent", ac_report_int(c, sent));
    ac_report_put(c, out, "review_requests_rated", ac_report_int(c, rated));
    ac_report_put(c, out, "review_request_response_rate", ac_report_rate(c, rated, sent));
}

/* One entry per local day of the period, days without messages included,
 * so that a chart's axis needs no gaps filled. */
void ac_report_add_volume(ac_report_ctx_t *c, json_object *out)
{
    const ac_report_input_t *in = c->in;
    size_t days = (size_t)((int64_t)in->to_day - in->from_day + 1);
    int64_t *n = calloc(2 * days, sizeof(*n)); /* sent, then suppressed */
    json_object *volume = ac_report_arr(c);
    if (!n) {
        c->oom = 1;
    } else {
        /* check_msgs() made sure every period message's day is in range. */
        for (size_t k = 0; k < c->n_msg; k++) {
            const ac_report_msg_t *m = ac_report_msg(c, k);
            if (!ac_report_is_part(m))
                n[2 * (size_t)(m->day - in->from_day) + (m->channel == NULL)]++;
        }
        for (size_t d = 0; d < days; d++) {
            char date[AC_REPORT_DATE_SZ];
            json_object *e = ac_report_obj(c);
            ac_report_date(in->from_day + (int)d, date);
            ac_report_put(c, e, "date", ac_report_str(c, date));
            ac_report_put(c, e, "sent", ac_report_int(c, n[2 * d]));
            ac_report_put(c, e, "suppressed", ac_report_int(c, n[2 * d + 1]));
            ac_report_append(c, volume, e);
        }
        free(n);
    }
    ac_report_put(c, out, "volume", volume);
}
