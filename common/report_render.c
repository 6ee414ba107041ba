#include "report_render.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_render_int.h"

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD, for control characters */

/* The kinds column of the text tables grows with the longest kind, up to
 * this many columns; a longer (made-up) kind pushes its row's figures right. */
#define TEXT_NAME_MAX 32

/* ------------------------------------------------------------ figures */

/* The accessors accept any json_object, NULL included, so that callers can
 * chain them through a report that lacks a member without checking each
 * step: a missing object behaves as an empty one. */
json_object *ac_report_render_get(json_object *o, const char *key)
{
    json_object *v = NULL;
    if (!key)
        return o;
    if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
        return NULL;
    return v;
}

/* A string that is absent reads as empty: the renderers print it as it is
 * and the page stays well-formed. */
const char *ac_report_render_str(json_object *o, const char *key)
{
    json_object *v = ac_report_render_get(o, key);
    return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";
}

/* json-c accepts NaN and Infinity, and a broken report could hold 1e300;
 * neither is a figure anyone can read, so both count as missing, which
 * also keeps every formatted figure within AC_REPORT_FIG_LEN. */
int ac_report_render_num(json_object *o, const char *key, double *v)
{
    json_object *x = ac_report_render_get(o, key);
    if (!json_object_is_type(x, json_type_int) && !json_object_is_type(x, json_type_double))
        return -1;
    double d = json_object_get_double(x);
    if (!isfinite(d) || fabs(d) >= 1e15)
        return -1;
    *v = d;
    return 0;
}

/* A missing figure: the em dash, in place of a number. */
static const char *dash(char *s)
{
    snprintf(s, AC_REPORT_FIG_LEN, "%s", AC_REPORT_DASH);
    return s;
}

/* Digits grouped by thousands (1,234), with a real minus sign. */
static const char *grouped(char *s, int64_t n)
{
    char digits[24];
    snprintf(digits, sizeof digits, "%" PRIu64, n < 0 ? (uint64_t)0 - (uint64_t)n : (uint64_t)n);
    size_t len = strlen(digits), w = 0;
    if (n < 0)
        w += (size_t)snprintf(s, AC_REPORT_FIG_LEN, "%s", AC_REPORT_MINUS);
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            s[w++] = ',';
        s[w++] = digits[i];
    }
    s[w] = '\0';
    return s;
}

/* A computed count (a sum), rounded; NAN or a huge value reads as a dash. */
const char *ac_report_render_count_of(char *s, double v)
{
    return isfinite(v) && fabs(v) < 1e15 ? grouped(s, llround(v)) : dash(s);
}

/* Counts are exact for integers; a count that arrives as a double is
 * rounded. */
const char *ac_report_render_count(char *s, json_object *o, const char *key)
{
    json_object *v = ac_report_render_get(o, key);
    double d;
    if (json_object_is_type(v, json_type_int))
        return grouped(s, json_object_get_int64(v));
    return ac_report_render_count_of(s, ac_report_render_num(v, NULL, &d) == 0 ? d : NAN);
}

/* One decimal, with a real minus sign; a value that rounds to zero reads
 * 0.0 rather than -0.0 or +0.0. NAN or a huge value reads as a dash. */
static const char *fixed1(char *s, double d, int plus, const char *unit)
{
    if (!isfinite(d) || fabs(d) >= 1e15)
        return dash(s);
    char t[24]; /* |d| < 1e15: at most 18 characters */
    snprintf(t, sizeof t, "%.1f", fabs(d));
    const char *sign = strcmp(t, "0.0") == 0 ? "" : d < 0 ? AC_REPORT_MINUS : plus ? "+" : "";
    snprintf(s, AC_REPORT_FIG_LEN, "%s%s%s", sign, t, unit);
    return s;
}

/* The figure at o/key, or NAN. */
static double value(json_object *o, const char *key)
{
    double d;
    return ac_report_render_num(o, key, &d) == 0 ? d : NAN;
}

/* A computed rate, e.g. a star's share of the ratings. */
const char *ac_report_render_rate_of(char *s, double v)
{
    return fixed1(s, v, 0, " %");
}

/* Rates are percentages with one decimal, as the report computes them. */
const char *ac_report_render_rate(char *s, json_object *o, const char *key)
{
    return fixed1(s, value(o, key), 0, " %");
}

/* A share in a table whose heading names the unit. */
const char *ac_report_render_share(char *s, json_object *o, const char *key)
{
    return fixed1(s, value(o, key), 0, "");
}

/* Differences of percentages always carry their sign, so that an uplift
 * and a drop cannot be confused. */
const char *ac_report_render_points(char *s, json_object *o, const char *key)
{
    return fixed1(s, value(o, key), 1, "");
}

/* ------------------------------------------------------------ strings */

/* One pass serves both outputs: HTML additionally escapes its five
 * special characters. C1 controls (U+0080..U+009F, C2 80..C2 9F in UTF-8)
 * are replaced too, since some terminals act on them like escapes. */
static void put_clean(ac_buf_t *b, const char *s, int html)
{
    const unsigned char *p = (const unsigned char *)s, *run = p;
    for (; *p; p++) {
        const char *rep = NULL;
        size_t skip = 1;
        if (html && *p == '&')
            rep = "&amp;";
        else if (html && *p == '<')
            rep = "&lt;";
        else if (html && *p == '>')
            rep = "&gt;";
        else if (html && *p == '"')
            rep = "&quot;";
        else if (html && *p == '\'')
            rep = "&#39;";
        else if (*p < 0x20 || *p == 0x7f)
            rep = REPLACEMENT;
        else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
            rep = REPLACEMENT, skip = 2;
        if (!rep)
            continue;
        ac_buf_append(b, (const char *)run, (size_t)(p - run));
        ac_buf_puts(b, rep);
        p += skip - 1;
        run = p + 1;
    }
    ac_buf_append(b, (const char *)run, (size_t)(p - run));
}

/* See report_render_int.h. */
void ac_report_render_esc(ac_buf_t *b, const char *s)
{
    put_clean(b, s, 1);
}

/* See report_render_int.h. */
void ac_report_render_clean(ac_buf_t *b, const char *s)
{
    put_clean(b, s, 0);
}

/* The holdout sentence is shared by the text and the page, so that both
 * word a comparison the same way. */
void ac_report_render_uplift(ac_buf_t *b, json_object *kind, int csat)
{
    const char *metric = csat ? "csat" : "repeat_purchase_rate";
    json_object *up = ac_report_render_get(kind, csat ? "csat_uplift" : "repeat_purchase_uplift");
    char m[AC_REPORT_FIG_LEN], h[AC_REPORT_FIG_LEN], d[AC_REPORT_FIG_LEN];
    char lo[AC_REPORT_FIG_LEN], hi[AC_REPORT_FIG_LEN];
    ac_buf_printf(b, "%s messaged vs %s held out, ",
                  ac_report_render_rate(m, ac_report_render_get(kind, "messaged"), metric),
                  ac_report_render_rate(h, ac_report_render_get(kind, "held_out"), metric));
    double x;
    if (ac_report_render_num(up, "difference", &x) < 0) {
        ac_buf_puts(b, "difference " AC_REPORT_DASH);
        return;
    }
    ac_buf_printf(b, "%s points (95 %% CI %s to %s)", ac_report_render_points(d, up, "difference"),
                  ac_report_render_points(lo, up, "ci95_low"),
                  ac_report_render_points(hi, up, "ci95_high"));
}

/* ------------------------------------------------------------ cohorts */

/* "YYYY-MM" (or a longer date) as a count of months, or -1. */
static long month_index(const char *s)
{
    for (int i = 0; i < 7; i++)
        if (i == 4 ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
            return -1;
    int month = (s[5] - '0') * 10 + (s[6] - '0');
    if (month < 1 || month > 12)
        return -1;
    return strtol(s, NULL, 10) * 12 + month - 1;
}

/* Where entry i of a cohort row's returning[] belongs: months after the
 * row's own month, or its position when either month is unreadable. */
static long entry_months(json_object *row, size_t i)
{
    json_object *e = json_object_array_get_idx(ac_report_render_get(row, "returning"), i);
    long from = month_index(ac_report_render_str(row, "month"));
    long to = month_index(ac_report_render_str(e, "month"));
    return from >= 0 && to >= 0 ? to - from : (long)i + 1;
}

/* The length of an array, 0 for anything else (json-c asserts on it). */
static size_t array_len(json_object *a)
{
    return json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

/* See report_render_int.h. */
int ac_report_render_cohort_months(json_object *cohorts)
{
    long most = 0;
    for (size_t r = 0; r < array_len(cohorts); r++) {
        json_object *row = json_object_array_get_idx(cohorts, r);
        for (size_t i = 0; i < array_len(ac_report_render_get(row, "returning")); i++) {
            long m = entry_months(row, i);
            if (m > most && m <= AC_REPORT_MAX_COHORT_MONTHS)
                most = m;
        }
    }
    return (int)most;
}

/* See report_render_int.h. */
json_object *ac_report_render_cohort_cell(json_object *row, int months)
{
    json_object *ret = ac_report_render_get(row, "returning");
    for (size_t i = 0; i < array_len(ret); i++)
        if (entry_months(row, i) == months)
            return json_object_array_get_idx(ret, i);
    return NULL;
}

/* --------------------------------------------------------------- text */

/* Columns a UTF-8 string takes on a terminal: one per code point, which
 * holds for the report's own characters (digits, dashes, Latin names). */
static size_t columns(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* Appends s, cleaned of control characters, padded to width columns. */
static void cell(ac_buf_t *b, const char *s, size_t width, int right)
{
    ac_buf_t t = AC_BUF_INIT;
    ac_report_render_clean(&t, s);
    const char *c = t.data ? t.data : "";
    size_t n = columns(c);
    if (!right)
        ac_buf_puts(b, c);
    for (; n < width; n++)
        ac_buf_puts(b, " ");
    if (right)
        ac_buf_puts(b, c);
    if (t.oom)
        b->oom = 1;
    ac_buf_free(&t);
}

/* The width of the name column for the members of a map. */
static size_t name_width(json_object *map, size_t least)
{
    size_t w = least;
    if (json_object_is_type(map, json_type_object)) {
        json_object_object_foreach(map, k, v)
        {
            (void)v;
            size_t n = columns(k);
            if (n > w)
                w = n < TEXT_NAME_MAX ? n : TEXT_NAME_MAX;
        }
    }
    return w;
}

/* One headline line: label, figure right-aligned, and a note. */
static void text_figure(ac_buf_t *b, const char *label, const char *fig, const char *note)
{
    ac_buf_puts(b, "  ");
    cell(b, label, 24, 0);
    cell(b, fig, 10, 1);
    if (note && *note)
        ac_buf_printf(b, "   %s", note);
    ac_buf_puts(b, "\n");
}

/* The sum of the counts in a map (email: 1100, sms: 120); 0 for none. */
static double inner_total(json_object *map)
{
    double sum = 0, x;
    if (!json_object_is_type(map, json_type_object))
        return 0;
    json_object_object_foreach(map, k, v)
    {
        (void)k;
        if (ac_report_render_num(v, NULL, &x) == 0)
            sum += x;
    }
    return sum;
}

/* The sum of the counts in a map of maps (suppressed: kind -> reason). */
static double map_total(json_object *map)
{
    double sum = 0;
    if (!json_object_is_type(map, json_type_object))
        return 0;
    json_object_object_foreach(map, k, inner)
    {
        (void)k;
        sum += inner_total(inner);
    }
    return sum;
}

/* The title and the headline figures, each with what it is a share of. */
static void text_headline(ac_buf_t *b, json_object *r)
{
    char f[AC_REPORT_FIG_LEN], g[AC_REPORT_FIG_LEN], h[AC_REPORT_FIG_LEN], note[160];
    json_object *prev = ac_report_render_get(r, "previous_period");
    ac_buf_puts(b, "Retention report: ");
    cell(b, ac_report_render_str(r, "store"), 0, 0);
    ac_buf_puts(b, "\n");
    cell(b, ac_report_render_str(r, "from"), 0, 0);
    ac_buf_puts(b, " to ");
    cell(b, ac_report_render_str(r, "to"), 0, 0);
    ac_buf_puts(b, " (");
    cell(b, ac_report_render_str(r, "timezone"), 0, 0);
    ac_buf_puts(b, "), compared with ");
    cell(b, ac_report_render_str(prev, "from"), 0, 0);
    ac_buf_puts(b, " to ");
    cell(b, ac_report_render_str(prev, "to"), 0, 0);
    ac_buf_puts(b, "\n\n");

    snprintf(note, sizeof note, "%s returned", ac_report_render_count(g, r, "returned_orders"));
    text_figure(b, "Orders", ac_report_render_count(f, r, "orders"), note);
    snprintf(note, sizeof note, "%s new, %s repeat", ac_report_render_count(g, r, "new_customers"),
             ac_report_render_count(h, r, "repeat_customers"));
    text_figure(b, "Customers", ac_report_render_count(f, r, "customers"), note);
    text_figure(b, "Repeat-purchase rate", ac_report_render_rate(f, r, "repeat_purchase_rate"),
                "of customers ordered again");
    snprintf(note, sizeof note, "of %s previous customers",
             ac_report_render_count(g, r, "previous_customers"));
    text_figure(b, "Customer retention rate",
                ac_report_render_rate(f, r, "customer_retention_rate"), note);
    text_figure(b, "Return rate", ac_report_render_rate(f, r, "return_rate"), "of orders");
    text_figure(b, "CSAT", ac_report_render_rate(f, r, "csat"), "of ratings were 4 or 5 stars");
    snprintf(note, sizeof note, "%s of %s review requests rated",
             ac_report_render_count(g, r, "review_requests_rated"),
             ac_report_render_count(h, r, "review_requests_sent"));
    text_figure(b, "Review response rate",
                ac_report_render_rate(f, r, "review_request_response_rate"), note);
    snprintf(note, sizeof note, "%s held back",
             ac_report_render_count_of(g, map_total(ac_report_render_get(r, "suppressed"))));
    text_figure(b, "Messages sent", ac_report_render_count(f, r, "messages_sent"), note);
}

/* Ratings per star, five first, with each star's share of all ratings. */
static void text_ratings(ac_buf_t *b, json_object *ratings)
{
    double total = 0, x;
    char key[2] = "5", f[AC_REPORT_FIG_LEN];
    for (key[0] = '1'; key[0] <= '5'; key[0]++)
        if (ac_report_render_num(ratings, key, &x) == 0)
            total += x;
    ac_buf_puts(b, "\nRatings\n");
    for (key[0] = '5'; key[0] >= '1'; key[0]--) {
        ac_buf_printf(b, "  %c star%s  ", key[0], key[0] == '1' ? " " : "s");
        cell(b, ac_report_render_count(f, ratings, key), 8, 1);
        int known = total > 0 && ac_report_render_num(ratings, key, &x) == 0;
        cell(b, ac_report_render_rate_of(f, known ? 100.0 * x / total : NAN), 10, 1);
        ac_buf_puts(b, "\n");
    }
}

/* A map of maps as lines: name, the inner counts' total, then each inner
 * count by name ("email 1,100, sms 120"). An empty inner map totals 0. */
static void text_breakdown(ac_buf_t *b, const char *title, json_object *map)
{
    char f[AC_REPORT_FIG_LEN];
    size_t w = name_width(map, 20);
    ac_buf_printf(b, "\n%s\n", title);
    if (!json_object_is_type(map, json_type_object) || json_object_object_length(map) == 0) {
        ac_buf_puts(b, "  none\n");
        return;
    }
    json_object_object_foreach(map, name, inner)
    {
        ac_buf_puts(b, "  ");
        cell(b, name, w, 0);
        cell(b, ac_report_render_count_of(f, inner_total(inner)), 8, 1);
        if (json_object_is_type(inner, json_type_object)) {
            const char *sep = "   ";
            json_object_object_foreach(inner, k, v)
            {
                ac_buf_puts(b, sep);
                cell(b, k, 0, 0);
                ac_buf_printf(b, " %s", ac_report_render_count(f, v, NULL));
                sep = ", ";
            }
        }
        ac_buf_puts(b, "\n");
    }
}

/* Two lines per holdout kind: repeat purchases, then CSAT. */
static void text_holdout(ac_buf_t *b, json_object *holdout)
{
    ac_buf_puts(b, "\nHoldout: customers messaged vs held out\n");
    if (!json_object_is_type(holdout, json_type_object) ||
        json_object_object_length(holdout) == 0) {
        ac_buf_puts(b, "  none\n");
        return;
    }
    json_object_object_foreach(holdout, kind, v)
    {
        for (int csat = 0; csat <= 1; csat++) {
            ac_buf_puts(b, "  ");
            cell(b, kind, 0, 0);
            ac_buf_puts(b, csat ? ": CSAT " : ": repeat purchase ");
            ac_report_render_uplift(b, v, csat);
            ac_buf_puts(b, "\n");
        }
    }
}

/* Drops the spaces that end the buffer: the blank cells of a cohort row
 * that has not reached its later months. */
static void trim_spaces(ac_buf_t *b)
{
    while (b->len > 0 && b->data[b->len - 1] == ' ')
        b->data[--b->len] = '\0';
}

/* The cohort triangle: a row per first-purchase month, a column per month
 * after it; a null share reads as a dash, a month not yet reached as blank. */
static void text_cohorts(ac_buf_t *b, json_object *cohorts)
{
    char f[AC_REPORT_FIG_LEN], head[16];
    int cols = ac_report_render_cohort_months(cohorts);
    ac_buf_puts(b, "\nCohorts: % of each month's new customers who ordered again N months later\n");
    if (array_len(cohorts) == 0) {
        ac_buf_puts(b, "  none\n");
        return;
    }
    ac_buf_puts(b, "  Month          New");
    for (int c = 1; c <= cols; c++) {
        snprintf(head, sizeof head, "+%d", c);
        cell(b, head, 6, 1);
    }
    ac_buf_puts(b, "\n");
    for (size_t r = 0; r < array_len(cohorts); r++) {
        json_object *row = json_object_array_get_idx(cohorts, r);
        ac_buf_puts(b, "  ");
        cell(b, ac_report_render_str(row, "month"), 10, 0);
        cell(b, ac_report_render_count(f, row, "customers"), 7, 1);
        for (int c = 1; c <= cols; c++) {
            json_object *e = ac_report_render_cohort_cell(row, c);
            cell(b, e ? ac_report_render_share(f, e, "share") : "", 6, 1);
        }
        trim_spaces(b);
        ac_buf_puts(b, "\n");
    }
}

/* See report_render.h. */
int ac_report_text(json_object *report, ac_buf_t *out, char *err, size_t errsz)
{
    if (!json_object_is_type(report, json_type_object)) {
        snprintf(err, errsz, "the report is not a JSON object");
        return -1;
    }
    text_headline(out, report);
    text_ratings(out, ac_report_render_get(report, "ratings"));
    text_breakdown(out, "Messages sent, by kind and channel",
                   ac_report_render_get(report, "messages"));
    text_breakdown(out, "Held back, by kind and reason",
                   ac_report_render_get(report, "suppressed"));
    text_holdout(out, ac_report_render_get(report, "holdout"));
    text_cohorts(out, ac_report_render_get(report, "cohorts"));
    if (out->oom) {
        snprintf(err, errsz, "out of memory rendering the report");
        return -1;
    }
    return 0;
}
