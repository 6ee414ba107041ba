/* The report as one HTML page (ac_report_html() in report_render.h):
 * inline CSS, the charts of report_svg.c, tables that scroll sideways in
 * their own box, and nothing fetched from anywhere. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_render.h"
#include "report_render_int.h"

/* Laid out for a 390 px phone first: cards and chart pairs wrap into one
 * column, a table wider than its box scrolls inside it (its row headings
 * stay put, and a shadow at the edge says there is more), and the volume
 * chart comes in a narrow and a wide drawing, one of them hidden by a
 * media query, since an SVG's text scales with its width. */
static const char CSS[] =
    "*{box-sizing:border-box}\n"
    "html{-webkit-text-size-adjust:100%;text-size-adjust:100%}\n"
    "body{margin:0;background:#f4f5f7;color:#1f2933;font:15px/1.45 system-ui,-apple-system,"
    "\"Segoe UI\",Roboto,\"Helvetica Neue\",Arial,\"Noto Sans\",\"DejaVu Sans\",sans-serif}\n"
    "main{max-width:1040px;margin:0 auto;padding:14px 10px 28px}\n"
    "h1{font-size:1.35rem;margin:0 0 2px;overflow-wrap:anywhere}\n"
    "h2{font-size:1.1rem;margin:0 0 8px}\n"
    "h3{font-size:1rem;margin:0 0 6px;overflow-wrap:anywhere}\n"
    "p{margin:6px 0}\n"
    ".meta,.sub,footer{color:#52606d;font-size:.875rem;overflow-wrap:anywhere}\n"
    "section{background:#fff;border:1px solid #e4e7eb;border-radius:10px;padding:14px 12px;"
    "margin:12px 0;min-width:0}\n"
    ".cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(150px,100%),1fr));"
    "gap:10px}\n"
    ".card{border:1px solid #e4e7eb;border-radius:8px;padding:8px 12px;min-width:0}\n"
    ".card .label,.card .note{color:#52606d;font-size:.8rem}\n"
    ".card .value{font-size:1.5rem;font-weight:650;font-variant-numeric:tabular-nums}\n"
    ".pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(340px,100%),1fr));"
    "gap:0 12px}\n"
    ".kinds{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(340px,100%),1fr));"
    "gap:18px}\n"
    "svg{display:block;width:100%;height:auto;margin:6px 0}\n"
    ".wide{display:none}\n"
    "@media (min-width:700px){.wide{display:block}.narrow{display:none}"
    ".cards{grid-template-columns:repeat(4,1fr)}}\n"
    ".scroll{overflow-x:auto;max-width:100%;background:"
    "linear-gradient(90deg,#fff 30%,#fff0) 0 0/24px 100% no-repeat local,"
    "linear-gradient(270deg,#fff 30%,#fff0) 100% 0/24px 100% no-repeat local,"
    "radial-gradient(farthest-side at 0 50%,#0003,#0000) 0 0/10px 100% no-repeat scroll,"
    "radial-gradient(farthest-side at 100% 50%,#0003,#0000) 100% 0/10px 100% no-repeat scroll}\n"
    "th[scope=row],thead th:first-child{position:sticky;left:0;background:#fff}\n"
    "table{border-collapse:collapse;font-variant-numeric:tabular-nums;white-space:nowrap;"
    "font-size:.875rem}\n"
    "th,td{padding:4px 8px;text-align:right;border-bottom:1px solid #eef0f2}\n"
    "th:first-child{text-align:left}\n"
    "thead th{font-weight:600;color:#52606d}\n"
    "tfoot th,tfoot td{font-weight:600;border-bottom:0}\n"
    ".heat td.c{min-width:3.2em;border:1px solid #fff}\n"
    ".heat td.null{background:#e5e7eb;color:#6b7280}\n"
    ".sw{display:inline-block;width:.8em;height:.8em;border-radius:2px;margin:0 4px 0 10px;"
    "vertical-align:-1px}\n"
    ".sw.sent{background:#2563eb;margin-left:0}.sw.held{background:#f59e0b}\n";

/* ----------------------------------------------------------- headline */

/* One figure card; all three parts are the renderer's own text. */
static void card(ac_buf_t *b, const char *label, const char *value, const char *note)
{
    ac_buf_printf(b,
                  "<div class=\"card\"><div class=\"label\">%s</div><div class=\"value\">%s</div>"
                  "<div class=\"note\">%s</div></div>\n",
                  label, value, note);
}

/* The page's title, the period and what it is compared with. */
static void html_header(ac_buf_t *b, json_object *r)
{
    json_object *prev = ac_report_render_get(r, "previous_period");
    ac_buf_puts(b, "<header id=\"top\"><h1>Retention report: ");
    ac_report_render_esc(b, ac_report_render_str(r, "store"));
    ac_buf_puts(b, "</h1>\n<p class=\"meta\">");
    ac_report_render_esc(b, ac_report_render_str(r, "from"));
    ac_buf_puts(b, " to ");
    ac_report_render_esc(b, ac_report_render_str(r, "to"));
    ac_buf_puts(b, " (");
    ac_report_render_esc(b, ac_report_render_str(r, "timezone"));
    ac_buf_puts(b, "), compared with ");
    ac_report_render_esc(b, ac_report_render_str(prev, "from"));
    ac_buf_puts(b, " to ");
    ac_report_render_esc(b, ac_report_render_str(prev, "to"));
    ac_buf_puts(b, "</p></header>\n");
}

/* The headline figures as cards, each with what it is a share of. */
static void html_headline(ac_buf_t *b, json_object *r)
{
    char f[AC_REPORT_FIG_LEN], g[AC_REPORT_FIG_LEN], h[AC_REPORT_FIG_LEN], note[160];
    ac_buf_puts(b, "<section id=\"headline\"><h2>Headline</h2>\n<div class=\"cards\">\n");
    snprintf(note, sizeof note, "%s returned", ac_report_render_count(g, r, "returned_orders"));
    card(b, "Orders", ac_report_render_count(f, r, "orders"), note);
    snprintf(note, sizeof note, "%s new, %s repeat", ac_report_render_count(g, r, "new_customers"),
             ac_report_render_count(h, r, "repeat_customers"));
    card(b, "Customers", ac_report_render_count(f, r, "customers"), note);
    card(b, "Repeat-purchase rate", ac_report_render_rate(f, r, "repeat_purchase_rate"),
         "of customers ordered again");
    snprintf(note, sizeof note, "of %s previous customers",
             ac_report_render_count(g, r, "previous_customers"));
    card(b, "Retention rate", ac_report_render_rate(f, r, "customer_retention_rate"), note);
    snprintf(note, sizeof note, "%s of %s orders", ac_report_render_count(g, r, "returned_orders"),
             ac_report_render_count(h, r, "orders"));
    card(b, "Return rate", ac_report_render_rate(f, r, "return_rate"), note);
    card(b, "CSAT", ac_report_render_rate(f, r, "csat"), "of ratings were 4 or 5 stars");
    snprintf(note, sizeof note, "%s of %s requests rated",
             ac_report_render_count(g, r, "review_requests_rated"),
             ac_report_render_count(h, r, "review_requests_sent"));
    card(b, "Review response rate", ac_report_render_rate(f, r, "review_request_response_rate"),
         note);
    card(b, "Messages sent", ac_report_render_count(f, r, "messages_sent"),
         "all kinds, all channels");
    ac_buf_puts(b, "</div></section>\n");
}

/* ------------------------------------------------------------- tables */

/* The inner keys of a map of maps, each once, in the order first met:
 * the columns of its table. Returns the count; *out (free() it) holds
 * pointers into the report. */
static size_t columns_of(json_object *map, const char ***out)
{
    size_t cap = 0, n = 0;
    *out = NULL;
    json_object_object_foreach(map, k, inner)
    {
        (void)k;
        if (json_object_is_type(inner, json_type_object))
            cap += (size_t)json_object_object_length(inner);
    }
    if (cap == 0 || !(*out = calloc(cap, sizeof **out)))
        return 0;
    json_object_object_foreach(map, k2, inner2)
    {
        (void)k2;
        if (!json_object_is_type(inner2, json_type_object))
            continue;
        json_object_object_foreach(inner2, col, v)
        {
            (void)v;
            size_t i = 0;
            while (i < n && strcmp((*out)[i], col) != 0)
                i++;
            if (i == n)
                (*out)[n++] = col;
        }
    }
    return n;
}

/* The body of a breakdown table: a row per kind, a column per inner key,
 * and the row's total; col_sum collects each column's total. */
static void breakdown_rows(ac_buf_t *b, json_object *map, const char **cols, size_t ncols,
                           double *col_sum)
{
    char f[AC_REPORT_FIG_LEN];
    ac_buf_puts(b, "<tbody>\n");
    json_object_object_foreach(map, kind, inner)
    {
        double row = 0, v;
        ac_buf_puts(b, "<tr><th scope=\"row\">");
        ac_report_render_esc(b, kind);
        ac_buf_puts(b, "</th>");
        for (size_t c = 0; c < ncols; c++) {
            json_object *x = ac_report_render_get(inner, cols[c]);
            if (ac_report_render_num(x, NULL, &v) == 0)
                row += v, col_sum[c] += v;
            ac_buf_printf(b, "<td>%s</td>",
                          x ? ac_report_render_count(f, x, NULL) : ac_report_render_count_of(f, 0));
        }
        ac_buf_printf(b, "<td>%s</td></tr>\n", ac_report_render_count_of(f, row));
        col_sum[ncols] += row;
    }
    ac_buf_puts(b, "</tbody>\n");
}

/* A map of maps (kind -> channel or reason -> count) as a table with a
 * totals row, inside a box that scrolls sideways on a narrow screen. */
static void breakdown_table(ac_buf_t *b, json_object *map, const char *first, const char *empty)
{
    const char **cols = NULL;
    char f[AC_REPORT_FIG_LEN];
    if (!json_object_is_type(map, json_type_object) || json_object_object_length(map) == 0) {
        ac_buf_printf(b, "<p class=\"sub\">%s</p>\n", empty);
        return;
    }
    size_t n = columns_of(map, &cols);
    double *sum = calloc(n + 1, sizeof *sum);
    if (!sum) {
        b->oom = 1;
        free(cols);
        return;
    }
    ac_buf_printf(b, "<div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">%s</th>", first);
    for (size_t c = 0; c < n; c++) {
        ac_buf_puts(b, "<th scope=\"col\">");
        ac_report_render_esc(b, cols[c]);
        ac_buf_puts(b, "</th>");
    }
    ac_buf_puts(b, "<th scope=\"col\">Total</th></tr></thead>\n");
    breakdown_rows(b, map, cols, n, sum);
    ac_buf_puts(b, "<tfoot><tr><th scope=\"row\">Total</th>");
    for (size_t c = 0; c <= n; c++)
        ac_buf_printf(b, "<td>%s</td>", ac_report_render_count_of(f, sum[c]));
    ac_buf_puts(b, "</tr></tfoot>\n</table></div>\n");
    free(sum);
    free(cols);
}

/* ------------------------------------------------------------ cohorts */

/* The largest share in the cohort table, the darkest colour of the heat
 * map; at least 1 %, so that a table of zeros stays pale. */
static double cohort_max(json_object *cohorts, int cols)
{
    double most = 1, v;
    for (size_t r = 0; r < json_object_array_length(cohorts); r++)
        for (int c = 1; c <= cols; c++)
            if (ac_report_render_num(
                    ac_report_render_cohort_cell(json_object_array_get_idx(cohorts, r), c), "share",
                    &v) == 0 &&
                v > most)
                most = v;
    return most;
}

/* One cell of the heat map: blue scaled by share/most, white text on the
 * darker half; a null share grey with a dash; a month not yet reached
 * empty. */
static void cohort_cell(ac_buf_t *b, json_object *e, double most)
{
    char f[AC_REPORT_FIG_LEN], g[AC_REPORT_FIG_LEN];
    double v;
    if (!e) {
        ac_buf_puts(b, "<td></td>");
        return;
    }
    ac_buf_puts(b, "<td class=\"c");
    if (ac_report_render_num(e, "share", &v) < 0) {
        ac_buf_puts(b, " null\"");
    } else {
        double t = fmax(0, fmin(1, v / most));
        ac_buf_printf(b, "\" style=\"background:#%02x%02x%02x%s\"", (int)lround(239 - t * 209),
                      (int)lround(246 - t * 182), (int)lround(255 - t * 80),
                      t > 0.5 ? ";color:#fff" : "");
    }
    ac_buf_puts(b, " title=\"");
    ac_report_render_esc(b, ac_report_render_str(e, "month"));
    ac_buf_printf(b, ": %s customers\">%s</td>", ac_report_render_count(g, e, "customers"),
                  ac_report_render_share(f, e, "share"));
}

/* The cohort table as a heat map: a row per first-purchase month, a
 * column per month after it. */
static void html_cohorts(ac_buf_t *b, json_object *cohorts)
{
    char f[AC_REPORT_FIG_LEN];
    int cols = ac_report_render_cohort_months(cohorts);
    size_t rows =
        json_object_is_type(cohorts, json_type_array) ? json_object_array_length(cohorts) : 0;
    ac_buf_puts(b,
                "<section id=\"cohorts\"><h2>Returning customers by first-purchase month</h2>\n");
    if (rows == 0) {
        ac_buf_puts(b, "<p class=\"sub\">No cohorts in this period.</p></section>\n");
        return;
    }
    double most = cohort_max(cohorts, cols);
    ac_buf_printf(b,
                  "<p class=\"sub\">Share (%%) of each month's new customers who ordered again "
                  "1, 2, &hellip; months later; the darkest cell is %s. Grey: no new customers "
                  "that month.</p>\n",
                  ac_report_render_rate_of(f, most));
    ac_buf_puts(b, "<div class=\"scroll\"><table class=\"heat\">\n<thead><tr><th scope=\"col\">"
                   "Month</th><th scope=\"col\">New</th>");
    for (int c = 1; c <= cols; c++)
        ac_buf_printf(b, "<th scope=\"col\">+%d</th>", c);
    ac_buf_puts(b, "</tr></thead>\n<tbody>\n");
    for (size_t r = 0; r < rows; r++) {
        json_object *row = json_object_array_get_idx(cohorts, r);
        ac_buf_puts(b, "<tr><th scope=\"row\">");
        ac_report_render_esc(b, ac_report_render_str(row, "month"));
        ac_buf_printf(b, "</th><td>%s</td>", ac_report_render_count(f, row, "customers"));
        for (int c = 1; c <= cols; c++)
            cohort_cell(b, ac_report_render_cohort_cell(row, c), most);
        ac_buf_puts(b, "</tr>\n");
    }
    ac_buf_puts(b, "</tbody></table></div></section>\n");
}

/* ------------------------------------------------------------- charts */

/* Ratings and messages side by side on a desktop, stacked on a phone. */
static void html_ratings_messages(ac_buf_t *b, json_object *r)
{
    char f[AC_REPORT_FIG_LEN], g[AC_REPORT_FIG_LEN];
    double total = 0, x;
    char key[2] = "1";
    json_object *ratings = ac_report_render_get(r, "ratings");
    for (key[0] = '1'; key[0] <= '5'; key[0]++)
        if (ac_report_render_num(ratings, key, &x) == 0 && x > 0)
            total += x;
    ac_buf_printf(b,
                  "<div class=\"pair\">\n<section id=\"ratings\"><h2>Ratings</h2>\n"
                  "<p class=\"sub\">%s ratings; CSAT %s</p>\n",
                  ac_report_render_count_of(f, total), ac_report_render_rate(g, r, "csat"));
    ac_report_svg_ratings(b, ratings);
    ac_buf_puts(b, "</section>\n<section id=\"messages\"><h2>Messages sent</h2>\n");
    breakdown_table(b, ac_report_render_get(r, "messages"), "Kind", "No messages in this period.");
    ac_buf_puts(b, "</section>\n</div>\n<section id=\"suppressed\"><h2>Held back</h2>\n"
                   "<p class=\"sub\">Messages the rules did not send, by reason; "
                   "holdout is the comparison group below.</p>\n");
    breakdown_table(b, ac_report_render_get(r, "suppressed"), "Kind",
                    "No messages were held back.");
    ac_buf_puts(b, "</section>\n");
}

/* Daily volume, drawn narrow for phones and wide for larger screens. */
static void html_volume(ac_buf_t *b, json_object *volume)
{
    ac_buf_puts(b, "<section id=\"volume\"><h2>Messages per day</h2>\n");
    if (!json_object_is_type(volume, json_type_array) || json_object_array_length(volume) == 0) {
        ac_buf_puts(b, "<p class=\"sub\">No days in this period.</p></section>\n");
        return;
    }
    ac_buf_puts(b, "<p class=\"sub\"><span class=\"sw sent\"></span>sent<span class=\"sw held\">"
                   "</span>held back</p>\n<div class=\"narrow\">\n");
    ac_report_svg_volume(b, volume, 400);
    ac_buf_puts(b, "</div>\n<div class=\"wide\">\n");
    ac_report_svg_volume(b, volume, 960);
    ac_buf_puts(b, "</div></section>\n");
}

/* Per holdout kind: the chart and the two sentences it draws. */
static void html_holdout(ac_buf_t *b, json_object *holdout)
{
    ac_buf_puts(b, "<section id=\"holdout\"><h2>Holdout: messaged vs held out</h2>\n");
    if (!json_object_is_type(holdout, json_type_object) ||
        json_object_object_length(holdout) == 0) {
        ac_buf_puts(b, "<p class=\"sub\">No holdout groups in this period.</p></section>\n");
        return;
    }
    ac_buf_puts(b, "<p class=\"sub\">Customers held out at random got no message of the kind. "
                   "Differences are in percentage points, the bar across each is its 95 % "
                   "confidence interval: one that crosses the dashed zero line shows no clear "
                   "effect.</p>\n<div class=\"kinds\">\n");
    json_object_object_foreach(holdout, kind, v)
    {
        ac_buf_puts(b, "<article class=\"kind\"><h3>");
        ac_report_render_esc(b, kind);
        ac_buf_puts(b, "</h3>\n");
        ac_report_svg_holdout(b, v);
        for (int csat = 0; csat <= 1; csat++) {
            ac_buf_puts(b, csat ? "<p class=\"sub\">CSAT: " : "<p class=\"sub\">Repeat purchase: ");
            ac_report_render_uplift(b, v, csat);
            ac_buf_puts(b, "</p>\n");
        }
        ac_buf_puts(b, "</article>\n");
    }
    ac_buf_puts(b, "</div></section>\n");
}

/* See report_render.h. */
int ac_report_html(json_object *report, ac_buf_t *out, char *err, size_t errsz)
{
    if (!json_object_is_type(report, json_type_object)) {
        snprintf(err, errsz, "the report is not a JSON object");
        return -1;
    }
    ac_buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<title>Retention report: ");
    ac_report_render_esc(out, ac_report_render_str(report, "store"));
    ac_buf_printf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<main>\n", CSS);
    html_header(out, report);
    html_headline(out, report);
    html_ratings_messages(out, report);
    html_volume(out, ac_report_render_get(report, "volume"));
    html_holdout(out, ac_report_render_get(report, "holdout"));
    html_cohorts(out, ac_report_render_get(report, "cohorts"));
    ac_buf_puts(out, "<footer><p>A dash (" AC_REPORT_DASH ") marks a figure with nothing to "
                     "divide by, such as a rate of zero customers.</p></footer>\n"
                     "</main>\n</body>\n</html>\n");
    if (out->oom) {
        snprintf(err, errsz, "out of memory rendering the report");
        return -1;
    }
    return 0;
}
