/* The retention report's order-side parts: customers and their repeat
 * purchases and retention, returns, ratings and monthly cohorts. */
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

/* The end of the run of orders of the customer whose first order is at i
 * in c->ord_cust. */
static size_t customer_end(const ac_report_ctx_t *c, size_t i)
{
    ac_report_ref_t a = c->ord_cust[i];
    size_t j = i + 1;
    while (j < c->n_ord &&
           AC_REPORT_KEY_CMP(a.h, ac_report_ord(c, a)->customer_id, c->ord_cust[j].h,
                             ac_report_ord(c, c->ord_cust[j])->customer_id) == 0)
        j++;
    return j;
}

/* Counts the period's orders, and those of them with a return, by
 * walking the orders and the returned ids side by side, both in the
 * views' order of ids. */
static void count_orders(const ac_report_ctx_t *c, int64_t *orders, int64_t *returned)
{
    const char *const *ids = c->in->returned;
    size_t r = 0;
    *orders = *returned = 0;
    for (size_t i = 0; i < c->n_ord; i++) {
        ac_report_ref_t o = c->ord_id[i];
        const char *id = ac_report_ord(c, o)->order_id;
        if (!ac_report_in_period(c, ac_report_ord(c, o)->placed_ms))
            continue;
        (*orders)++;
        int cmp = -1;
        while (r < c->n_returned &&
               (cmp = AC_REPORT_KEY_CMP(c->returned[r].h, ids[c->returned[r].i], o.h, id)) < 0)
            r++;
        *returned += r < c->n_returned && cmp == 0;
    }
}

/* orders, customers, new, previous and repeat customers, their rates, and
 * returns. A customer's orders are contiguous in c->ord_cust, earliest
 * first, so one pass sees each customer whole. */
void ac_report_add_orders(ac_report_ctx_t *c, json_object *out)
{
    const ac_report_input_t *in = c->in;
    int64_t orders, returned, customers = 0, fresh = 0, previous = 0, repeat = 0;
    count_orders(c, &orders, &returned);
    for (size_t i = 0, j; i < c->n_ord; i = j) {
        j = customer_end(c, i);
        int64_t here = 0;
        int before = 0;
        for (size_t k = i; k < j; k++) {
            int64_t t = ac_report_ord(c, c->ord_cust[k])->placed_ms;
            here += ac_report_in_period(c, t);
            before |= t >= in->prev_from_ms && t < in->from_ms;
        }
        customers += here > 0;
        repeat += here > 1;
        fresh += here > 0 && ac_report_in_period(c, ac_report_ord(c, c->ord_cust[i])->placed_ms);
        previous += before;
    }
    ac_report_put(c, out, "orders", ac_report_int(c, orders));
    ac_report_put(c, out, "customers", ac_report_int(c, customers));
    ac_report_put(c, out, "new_customers", ac_report_int(c, fresh));
    ac_report_put(c, out, "previous_customers", ac_report_int(c, previous));
    ac_report_put(c, out, "repeat_customers", ac_report_int(c, repeat));
    ac_report_put(c, out, "repeat_purchase_rate", ac_report_rate(c, repeat, customers));
    ac_report_put(c, out, "customer_retention_rate",
                  ac_report_rate(c, customers - fresh, previous));
    ac_report_put(c, out, "returned_orders", ac_report_int(c, returned));
    ac_report_put(c, out, "return_rate", ac_report_rate(c, returned, orders));
}

/* The period's ratings by stars (each order's first rating only) and the
 * share of 4 and 5 stars. */
void ac_report_add_ratings(ac_report_ctx_t *c, json_object *out)
{
    int64_t n[6] = {0};
    for (size_t i = 0; i < c->n_rat; i++)
        if (ac_report_in_period(c, ac_report_rat(c, c->rat_order[i])->received_ms))
            n[ac_report_rat(c, c->rat_order[i])->stars]++;
    json_object *ratings = ac_report_obj(c);
    static const char *const keys[] = {"", "1", "2", "3", "4", "5"};
    for (int s = 1; s <= 5; s++)
        ac_report_put(c, ratings, keys[s], ac_report_int(c, n[s]));
    ac_report_put(c, out, "ratings", ratings);
    ac_report_put(c, out, "csat", ac_report_rate(c, n[4] + n[5], n[1] + n[2] + n[3] + n[4] + n[5]));
}

/* The cohort table: rows months first..last; size[r] customers in row r,
 * back[r * n + m] of them ordering in month m (both as offsets). */
typedef struct cohorts {
    int64_t first, n;
    int64_t *size, *back;
} cohorts_t;

/* Places each customer in the row of their first order's month and marks
 * the later months they ordered in, each month once: the orders run
 * earliest first, so a month is new when it is above the last marked. */
static void fill_cohorts(const ac_report_ctx_t *c, cohorts_t *t)
{
    for (size_t i = 0, j; i < c->n_ord; i = j) {
        j = customer_end(c, i);
        int64_t row = ac_report_ord(c, c->ord_cust[i])->month - t->first;
        if (row < 0 || row >= t->n)
            continue;
        t->size[row]++;
        int64_t last = row;
        for (size_t k = i + 1; k < j; k++) {
            int64_t m = ac_report_ord(c, c->ord_cust[k])->month - t->first;
            if (m > last && m < t->n) {
                t->back[row * t->n + m]++;
                last = m;
            }
        }
    }
}

/* One row of the table as the contract's object. */
static json_object *cohort_row(ac_report_ctx_t *c, const cohorts_t *t, int64_t row)
{
    char month[AC_REPORT_DATE_SZ];
    json_object *o = ac_report_obj(c), *returning = ac_report_arr(c);
    ac_report_month((int)(t->first + row), month);
    ac_report_put(c, o, "month", ac_report_str(c, month));
    ac_report_put(c, o, "customers", ac_report_int(c, t->size[row]));
    for (int64_t m = row + 1; m < t->n; m++) {
        int64_t k = t->back[row * t->n + m];
        json_object *cell = ac_report_obj(c);
        ac_report_month((int)(t->first + m), month);
        ac_report_put(c, cell, "month", ac_report_str(c, month));
        ac_report_put(c, cell, "customers", ac_report_int(c, k));
        ac_report_put(c, cell, "share", ac_report_rate(c, k, t->size[row]));
        ac_report_append(c, returning, cell);
    }
    ac_report_put(c, o, "returning", returning);
    return o;
}

/* At least the twelve months ending with the period's last, so that a
 * short period still shows how its customers' predecessors came back. */
void ac_report_add_cohorts(ac_report_ctx_t *c, json_object *out)
{
    const ac_report_input_t *in = c->in;
    cohorts_t t;
    int64_t year_ago = (int64_t)in->to_month - 11;
    t.first = in->from_month < year_ago ? in->from_month : year_ago;
    t.n = in->to_month - t.first + 1;
    t.size = calloc((size_t)t.n, sizeof(*t.size));
    t.back = calloc((size_t)(t.n * t.n), sizeof(*t.back));
    json_object *rows = ac_report_arr(c);
    if (!t.size || !t.back) {
        c->oom = 1;
    } else {
        fill_cohorts(c, &t);
        for (int64_t row = 0; row < t.n; row++)
            ac_report_append(c, rows, cohort_row(c, &t, row));
    }
    free(t.size);
    free(t.back);
    ac_report_put(c, out, "cohorts", rows);
}
