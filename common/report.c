#include "report.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"

/* round() already rounds halves away from zero; adding 0.0 turns the -0.0
 * that a small negative rounds to into 0.0, which reads better in a
 * report. */
double ac_report_round1(double x)
{
    if (!isfinite(x))
        return x;
    return round(x * 10.0) / 10.0 + 0.0;
}

/* ------------------------------------------------------------ JSON helpers */

/* Each helper notes a failed allocation in c->oom so that the builders can
 * chain calls and check once at the end. */
json_object *ac_report_obj(ac_report_ctx_t *c)
{
    json_object *o = json_object_new_object();
    if (!o)
        c->oom = 1;
    return o;
}

json_object *ac_report_arr(ac_report_ctx_t *c)
{
    json_object *o = json_object_new_array();
    if (!o)
        c->oom = 1;
    return o;
}

json_object *ac_report_int(ac_report_ctx_t *c, int64_t v)
{
    json_object *o = json_object_new_int64(v);
    if (!o)
        c->oom = 1;
    return o;
}

json_object *ac_report_str(ac_report_ctx_t *c, const char *s)
{
    json_object *o = json_object_new_string(s);
    if (!o)
        c->oom = 1;
    return o;
}

/* json-c would print 66.7 as 66.700000000000003 (%.17g); giving it the
 * text to print keeps the report's one decimal. */
json_object *ac_report_number(ac_report_ctx_t *c, double x)
{
    char text[64];
    x = ac_report_round1(x);
    snprintf(text, sizeof(text), "%.1f", x);
    json_object *o = json_object_new_double_s(x, text);
    if (!o)
        c->oom = 1;
    return o;
}

/* The quotient is rounded from 1000 num / den, which is exact whenever it
 * is a half (7/2000 is 0.35 %, which must round to 0.4), rather than from
 * 100 num / den times 10, which rounds twice on the way. */
json_object *ac_report_rate(ac_report_ctx_t *c, int64_t num, int64_t den)
{
    if (den == 0)
        return NULL;
    return ac_report_number(c, round(1000.0 * (double)num / (double)den) / 10.0);
}

/* A NULL v is a JSON null, which the contract uses for undefined rates. */
void ac_report_put(ac_report_ctx_t *c, json_object *o, const char *key, json_object *v)
{
    if (!o || json_object_object_add(o, key, v) != 0) {
        json_object_put(v);
        c->oom = 1;
    }
}

void ac_report_append(ac_report_ctx_t *c, json_object *arr, json_object *v)
{
    if (!v || !arr || json_object_array_add(arr, v) != 0) {
        json_object_put(v);
        c->oom = 1;
    }
}

/* Howard Hinnant's civil_from_days: the proleptic Gregorian date of a day
 * number, without the C library's time zones. */
void ac_report_date(int day, char out[AC_REPORT_DATE_SZ])
{
    int64_t z = (int64_t)day + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    int64_t y = yoe + era * 400 + (m <= 2);
    snprintf(out, AC_REPORT_DATE_SZ, "%04lld-%02d-%02d", (long long)y, (int)m, (int)d);
}

/* Floor division, so that months before year 0 would still format. */
void ac_report_month(int month, char out[AC_REPORT_DATE_SZ])
{
    int y = month >= 0 ? month / 12 : -((11 - month) / 12);
    snprintf(out, AC_REPORT_DATE_SZ, "%04d-%02d", y, month - y * 12 + 1);
}

/* ------------------------------------------------------------ input checks */

static int fail(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the reason into the caller's buffer (when given) and returns -1,
 * so that a check can end with "return fail(...)". */
static int fail(char *err, size_t errsz, const char *fmt, ...)
{
    if (err && errsz) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errsz, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* The period and the strings echoed: everything the report's shape
 * depends on, bounded so that the volume and cohort tables stay small. */
static int check_period(const ac_report_input_t *in, char *err, size_t errsz)
{
    const char *echo[] = {in->store, in->timezone, in->from, in->to, in->prev_from, in->prev_to};
    const char *names[] = {"store", "timezone", "from", "to", "prev_from", "prev_to"};
    for (size_t i = 0; i < sizeof(echo) / sizeof(echo[0]); i++)
        if (!echo[i])
            return fail(err, errsz, "%s is missing", names[i]);
    if (in->from_ms >= in->to_ms || in->prev_from_ms > in->from_ms)
        return fail(err, errsz, "the period must satisfy prev_from_ms <= from_ms < to_ms");
    int64_t days = (int64_t)in->to_day - in->from_day + 1;
    if (days < 1 || days > AC_REPORT_MAX_DAYS)
        return fail(err, errsz, "from_day..to_day must span 1 to %d days", AC_REPORT_MAX_DAYS);
    if (in->from_month < 0 || in->to_month >= 10000 * 12)
        return fail(err, errsz, "from_month and to_month must fall in the years 0000..9999");
    int64_t months = (int64_t)in->to_month - in->from_month + 1;
    if (months < 1 || months > AC_REPORT_MAX_MONTHS)
        return fail(err, errsz, "from_month..to_month must span 1 to %d months",
                    AC_REPORT_MAX_MONTHS);
    return 0;
}

/* A list of names (returned ids, kinds) must hold no NULL. */
static int check_names(const char *const *v, size_t n, const char *what, char *err, size_t errsz)
{
    if (n && !v)
        return fail(err, errsz, "%s is missing (n_%s is %zu)", what, what, n);
    for (size_t i = 0; i < n; i++)
        if (!v[i])
            return fail(err, errsz, "%s[%zu] is missing", what, i);
    return 0;
}

/* Orders and ratings need their ids, a rating its stars in 1..5. */
static int check_records(const ac_report_input_t *in, char *err, size_t errsz)
{
    if ((in->n_orders && !in->orders) || (in->n_ratings && !in->ratings) ||
        (in->n_msgs && !in->msgs))
        return fail(err, errsz, "a records array is missing while its count is not 0");
    /* The views index records with 32 bits (report_int.h). */
    if (in->n_orders >= UINT32_MAX || in->n_ratings >= UINT32_MAX || in->n_msgs >= UINT32_MAX ||
        in->n_returned >= UINT32_MAX)
        return fail(err, errsz, "more than %u records of one sort", UINT32_MAX - 1);
    for (size_t i = 0; i < in->n_orders; i++)
        if (!in->orders[i].order_id || !in->orders[i].customer_id)
            return fail(err, errsz, "orders[%zu]: order_id and customer_id are required", i);
    for (size_t i = 0; i < in->n_ratings; i++) {
        const ac_report_rating_t *r = &in->ratings[i];
        if (!r->order_id || !r->customer_id)
            return fail(err, errsz, "ratings[%zu]: order_id and customer_id are required", i);
        if (r->stars < 1 || r->stars > 5)
            return fail(err, errsz, "ratings[%zu]: stars %d is not 1..5", i, r->stars);
    }
    return 0;
}

/* A message is either sent (channel) or suppressed (reason), never both;
 * one in the period must fall on one of its days, or the volume would
 * not add up to the totals. */
static int check_msgs(const ac_report_input_t *in, char *err, size_t errsz)
{
    for (size_t i = 0; i < in->n_msgs; i++) {
        const ac_report_msg_t *m = &in->msgs[i];
        if (!m->message_id || !m->kind || !m->customer_id)
            return fail(err, errsz, "msgs[%zu]: message_id, kind and customer_id are required", i);
        if (!m->channel == !m->reason)
            return fail(err, errsz, "msgs[%zu]: exactly one of channel and reason must be set", i);
        if (m->at_ms >= in->from_ms && m->at_ms < in->to_ms &&
            (m->day < in->from_day || m->day > in->to_day))
            return fail(err, errsz, "msgs[%zu]: day %d is outside from_day..to_day (%d..%d)", i,
                        m->day, in->from_day, in->to_day);
    }
    return 0;
}

/* Everything a part of the report relies on, checked once up front, so
 * that the parts need not check (or fail) again. */
static int check_input(const ac_report_input_t *in, char *err, size_t errsz)
{
    if (!in)
        return fail(err, errsz, "no input");
    if (check_period(in, err, errsz) < 0 || check_records(in, err, errsz) < 0 ||
        check_msgs(in, err, errsz) < 0 ||
        check_names(in->returned, in->n_returned, "returned", err, errsz) < 0 ||
        check_names(in->kinds, in->n_kinds, "kinds", err, errsz) < 0 ||
        check_names(in->marketing, in->n_marketing, "marketing", err, errsz) < 0)
        return -1;
    return 0;
}

/* The echoed strings, first in the report as in the contract. */
static void add_header(ac_report_ctx_t *c, json_object *out)
{
    const ac_report_input_t *in = c->in;
    ac_report_put(c, out, "store", ac_report_str(c, in->store));
    ac_report_put(c, out, "timezone", ac_report_str(c, in->timezone));
    ac_report_put(c, out, "from", ac_report_str(c, in->from));
    ac_report_put(c, out, "to", ac_report_str(c, in->to));
    json_object *prev = ac_report_obj(c);
    ac_report_put(c, prev, "from", ac_report_str(c, in->prev_from));
    ac_report_put(c, prev, "to", ac_report_str(c, in->prev_to));
    ac_report_put(c, out, "previous_period", prev);
}

/* Checks, builds the views, then lets each part add its members in the
 * contract's order; any failed allocation on the way fails the whole
 * report rather than leave a member missing or null. */
json_object *ac_report_compute(const ac_report_input_t *in, char *err, size_t errsz)
{
    if (check_input(in, err, errsz) < 0)
        return NULL;
    ac_report_ctx_t c = {.in = in};
    json_object *out = NULL;
    if (ac_report_views_build(&c) < 0) {
        c.oom = 1;
    } else if ((out = ac_report_obj(&c))) {
        add_header(&c, out);
        ac_report_add_orders(&c, out);
        ac_report_add_ratings(&c, out);
        ac_report_add_messages(&c, out);
        ac_report_add_reviews(&c, out);
        ac_report_add_volume(&c, out);
        ac_report_add_holdout(&c, out);
        ac_report_add_cohorts(&c, out);
    }
    ac_report_views_free(&c);
    if (c.oom) {
        json_object_put(out);
        fail(err, errsz, "out of memory");
        return NULL;
    }
    return out;
}
