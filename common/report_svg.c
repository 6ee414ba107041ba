/* The report page's charts: inline SVG with a viewBox, scaled by CSS to
 * the width of their box. Text is sized in viewBox units, so each chart's
 * width is chosen for the screens it is shown on (report_html.c): 400
 * units on a phone's 350 CSS px keep 13-unit labels above 11 px. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_render_int.h"

#define C_MESSAGED "#2563eb"
#define C_HELD     "#94a3b8"
#define C_SUPPRESS "#f59e0b"
#define C_STARS    "#f59e0b"
#define C_TRACK    "#eef1f5"
#define C_GRID     "#e4e7eb"
#define C_INK      "#1f2933"
#define C_MUTED    "#52606d"

static const char *const MONTHS[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* The smallest of 1, 2 and 5 times a power of ten that is at least v, so
 * that axes end on round numbers. */
static double nice_ceil(double v)
{
    if (!(v > 0))
        return 1;
    double p = pow(10, floor(log10(v)));
    double m = v / p;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/* A figure as a length: missing and negative ones draw nothing, and none
 * draws past the end of its scale, so a broken report cannot break the
 * layout. */
static double clamp01(double v)
{
    return !(v > 0) ? 0 : v > 1 ? 1 : v;
}

/* Opens an <svg> of w x h units labelled for screen readers. */
static void svg_open(ac_buf_t *b, int w, int h, const char *label)
{
    ac_buf_printf(b, "<svg viewBox=\"0 0 %d %d\" role=\"img\" font-size=\"13\" aria-label=\"", w,
                  h);
    ac_report_render_esc(b, label);
    ac_buf_puts(b, "\">\n");
}

/* Opens a <text> element; the caller appends its content and </text>. */
static void text_at(ac_buf_t *b, double x, double y, const char *anchor, const char *extra)
{
    ac_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\"%s%s%s%s>", x, y, anchor ? " text-anchor=\"" : "",
                  anchor ? anchor : "", anchor ? "\"" : "", extra ? extra : "");
}

/* A filled rectangle. */
static void rect(ac_buf_t *b, double x, double y, double w, double h, const char *fill)
{
    ac_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n",
                  x, y, w, h, fill);
}

/* ------------------------------------------------------------ ratings */

/* One bar per star, five first, against the most frequent star, with the
 * count and its share of all ratings at the right. */
void ac_report_svg_ratings(ac_buf_t *b, json_object *ratings)
{
    const double x0 = 42, len = 226, row = 28;
    double count[6] = {0}, total = 0, most = 0;
    char key[2] = "1", f[AC_REPORT_FIG_LEN], g[AC_REPORT_FIG_LEN];
    for (int s = 1; s <= 5; s++) {
        key[0] = (char)('0' + s);
        if (ac_report_render_num(ratings, key, &count[s]) < 0 || count[s] < 0)
            count[s] = 0;
        total += count[s];
        most = count[s] > most ? count[s] : most;
    }
    svg_open(b, 400, (int)(5 * row + 4), "Ratings per star");
    for (int s = 5; s >= 1; s--) {
        double y = 4 + (5 - s) * row;
        key[0] = (char)('0' + s);
        text_at(b, 0, y + 15, NULL, NULL);
        ac_buf_printf(b, "%d <tspan fill=\"" C_STARS "\">\xe2\x98\x85</tspan></text>\n", s);
        rect(b, x0, y + 2, len, 18, C_TRACK);
        if (most > 0)
            rect(b, x0, y + 2, len * clamp01(count[s] / most), 18, C_STARS);
        text_at(b, 398, y + 15, "end", NULL);
        ac_buf_printf(b, "%s <tspan fill=\"" C_MUTED "\">%s</tspan></text>\n",
                      ac_report_render_count(f, ratings, key),
                      ac_report_render_rate_of(g, total > 0 ? 100 * count[s] / total : NAN));
    }
    ac_buf_puts(b, "</svg>\n");
}

/* ------------------------------------------------------------- volume */

/* Horizontal grid lines with their counts, from 0 to top in steps. */
static void volume_grid(ac_buf_t *b, double left, double right, double top_y, double h, double top,
                        double step)
{
    char f[AC_REPORT_FIG_LEN];
    for (double v = 0; v <= top + step / 2; v += step) {
        double y = top_y + h * (1 - v / top);
        ac_buf_printf(
            b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_GRID "\"/>\n",
            left, y, right, y);
        text_at(b, left - 6, y + 4, "end", " font-size=\"12\" fill=\"" C_MUTED "\"");
        ac_buf_printf(b, "%s</text>\n", ac_report_render_count_of(f, v));
    }
}

/* The bars of one series as a single path (a rect per day would be five
 * times the bytes): each day's bar stands on base[i], which then rises by
 * the day's count, so that the next series stacks on top. */
static void volume_bars(ac_buf_t *b, json_object *volume, const char *key, double *base,
                        double left, double slot, double bottom, double h, double top,
                        const char *fill)
{
    double w = slot >= 3 ? slot * 0.8 : slot;
    ac_buf_printf(b, "<path fill=\"%s\" d=\"", fill);
    for (size_t i = 0; i < json_object_array_length(volume); i++) {
        double v;
        if (ac_report_render_num(json_object_array_get_idx(volume, i), key, &v) < 0 || v <= 0)
            continue;
        double y_lo = bottom - h * clamp01(base[i] / top);
        double y_hi = bottom - h * clamp01((base[i] + v) / top);
        base[i] += v;
        if (y_lo - y_hi >= 0.05)
            ac_buf_printf(b, "M%.1f %.1fh%.2fV%.1fh%.2fz", left + slot * (double)i, y_lo, w, y_hi,
                          -w);
    }
    ac_buf_puts(b, "\"/>\n");
}

/* Writes a month's label for the date s ("YYYY-MM-DD") into out when the
 * day starts a month, or always when first is set ("Jun 2026", "Jun 5");
 * returns its length in characters, 0 for none. */
static int month_label(const char *s, int first, char *out, size_t outsz)
{
    int y, m, d;
    char tail;
    if (sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || m < 1 || m > 12)
        return 0;
    if (first && d != 1)
        return snprintf(out, outsz, "%s %d", MONTHS[m - 1], d);
    if (d != 1)
        return 0;
    return first || m == 1 ? snprintf(out, outsz, "%s %d", MONTHS[m - 1], y)
                           : snprintf(out, outsz, "%s", MONTHS[m - 1]);
}

/* Month labels under the bars where each month starts, skipping one that
 * would run into the label before it or past the chart's edge. */
static void volume_axis(ac_buf_t *b, json_object *volume, double left, double slot, double y,
                        double width)
{
    double next_free = 0;
    char label[32];
    for (size_t i = 0; i < json_object_array_length(volume); i++) {
        const char *date = ac_report_render_str(json_object_array_get_idx(volume, i), "date");
        int n = month_label(date, i == 0, label, sizeof label);
        double x = left + slot * (double)i, w = n * 7.0;
        if (n <= 0 || x < next_free || x + w > width)
            continue;
        ac_buf_printf(
            b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_MUTED "\"/>\n",
            x, y - 12, x, y - 8);
        text_at(b, x, y + 4, NULL, " font-size=\"12\" fill=\"" C_MUTED "\"");
        ac_buf_printf(b, "%s</text>\n", label);
        next_free = x + w + 8;
    }
}

/* Messages sent per day as bars, held-back ones stacked on top, on a grid
 * of round counts; a report without days draws nothing. */
void ac_report_svg_volume(ac_buf_t *b, json_object *volume, int width)
{
    size_t n = json_object_is_type(volume, json_type_array) ? json_object_array_length(volume) : 0;
    if (n == 0)
        return;
    const double left = 44, right = width - 8.0, top_y = 22, h = width < 500 ? 180 : 200;
    double most = 0, *base = calloc(n, sizeof *base);
    if (!base) {
        b->oom = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double s = 0, q = 0;
        json_object *day = json_object_array_get_idx(volume, i);
        if (ac_report_render_num(day, "sent", &s) < 0 || s < 0)
            s = 0;
        if (ac_report_render_num(day, "suppressed", &q) < 0 || q < 0)
            q = 0;
        most = s + q > most ? s + q : most;
    }
    double step = fmax(1, nice_ceil(most / 4));
    double top = fmax(step, ceil(most / step) * step), slot = (right - left) / (double)n;
    svg_open(b, width, (int)(top_y + h + 28), "Messages sent per day");
    text_at(b, left, 12, NULL, " font-size=\"12\" fill=\"" C_MUTED "\"");
    ac_buf_puts(b, "Messages per day</text>\n");
    volume_grid(b, left, right, top_y, h, top, step);
    volume_bars(b, volume, "sent", base, left, slot, top_y + h, h, top, C_MESSAGED);
    volume_bars(b, volume, "suppressed", base, left, slot, top_y + h, h, top, C_SUPPRESS);
    volume_axis(b, volume, left, slot, top_y + h + 20, width);
    ac_buf_puts(b, "</svg>\n");
    free(base);
}

/* ------------------------------------------------------------ holdout */

/* One group's bar of a holdout panel: label, bar on a 0..top scale, and
 * the rate with the group's size at the right. */
static void holdout_bar(ac_buf_t *b, double y, const char *label, json_object *group,
                        const char *metric, const char *size_key, double top, const char *fill)
{
    char f[AC_REPORT_FIG_LEN], g[AC_REPORT_FIG_LEN];
    double v;
    text_at(b, 0, y + 13, NULL, NULL);
    ac_buf_printf(b, "%s</text>\n", label);
    rect(b, 96, y + 2, 200, 14, C_TRACK);
    if (ac_report_render_num(group, metric, &v) == 0)
        rect(b, 96, y + 2, 200 * clamp01(v / top), 14, fill);
    text_at(b, 398, y + 13, "end", NULL);
    ac_buf_printf(b, "%s <tspan fill=\"" C_MUTED "\" font-size=\"12\">of %s</tspan></text>\n",
                  ac_report_render_rate(f, group, metric),
                  ac_report_render_count(g, group, size_key));
}

/* Where v falls on an interval scale from -r (at x0) to +r (at x0 + w);
 * beyond it, at its end. */
static double interval_x(double v, double r, double x0, double w)
{
    return x0 + w / 2 + (w / 2) * fmax(-1, fmin(1, v / r));
}

/* The difference and its 95 % interval on a scale symmetric about zero,
 * with the zero line dashed: an interval that crosses it is no evidence
 * either way. A missing difference reads as a dash and says why. */
static void holdout_interval(ac_buf_t *b, double y, json_object *up)
{
    char f[AC_REPORT_FIG_LEN];
    double d, lo, hi;
    const double x0 = 96, w = 200, mid = x0 + w / 2, cy = y + 9;
    text_at(b, 0, y + 13, NULL, NULL);
    ac_buf_puts(b, "Difference</text>\n");
    text_at(b, 398, y + 13, "end", NULL);
    ac_buf_printf(b, "%s</text>\n", ac_report_render_points(f, up, "difference"));
    if (ac_report_render_num(up, "difference", &d) < 0) {
        text_at(b, x0, y + 13, NULL, " fill=\"" C_MUTED "\"");
        ac_buf_puts(b, "not enough data</text>\n");
        return;
    }
    int ci = ac_report_render_num(up, "ci95_low", &lo) == 0 &&
             ac_report_render_num(up, "ci95_high", &hi) == 0;
    double r = nice_ceil(ci ? fmax(fabs(d), fmax(fabs(lo), fabs(hi))) : fabs(d));
    ac_buf_printf(b,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"" C_MUTED
                  "\" stroke-dasharray=\"3 3\"/>\n",
                  mid, y - 2, mid, y + 20);
    if (ci)
        ac_buf_printf(b,
                      "<path d=\"M%.1f %.1fv12m0 -6H%.1fm0 -6v12\" fill=\"none\" stroke=\"" C_INK
                      "\" stroke-width=\"2\"/>\n",
                      interval_x(lo, r, x0, w), cy - 6, interval_x(hi, r, x0, w));
    ac_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4.5\" fill=\"" C_INK "\"/>\n",
                  interval_x(d, r, x0, w), cy);
    const char *anchor[3] = {"start", "middle", "end"}, *sign[3] = {AC_REPORT_MINUS, "", "+"};
    for (int i = 0; i < 3; i++) {
        text_at(b, x0 + i * w / 2, y + 34, anchor[i], " font-size=\"12\" fill=\"" C_MUTED "\"");
        ac_buf_printf(b, "%s%g</text>\n", sign[i], i == 1 ? 0 : r);
    }
}

/* One metric of a holdout kind: its title, both groups' bars on a scale
 * ending at a round rate, and the difference; returns the next free y. */
static double holdout_panel(ac_buf_t *b, double y, json_object *kind, int csat)
{
    const char *metric = csat ? "csat" : "repeat_purchase_rate";
    const char *size = csat ? "ratings" : "customers";
    json_object *m = ac_report_render_get(kind, "messaged");
    json_object *h = ac_report_render_get(kind, "held_out");
    double a = 0, c = 0;
    ac_report_render_num(m, metric, &a);
    ac_report_render_num(h, metric, &c);
    double top = fmax(10, nice_ceil(fmax(a, c)));
    text_at(b, 0, y + 14, NULL, " font-weight=\"600\"");
    ac_buf_printf(b, "%s</text>\n",
                  csat ? "CSAT, of ratings" : "Repeat-purchase rate, of customers");
    holdout_bar(b, y + 22, "Messaged", m, metric, size, top, C_MESSAGED);
    holdout_bar(b, y + 44, "Held out", h, metric, size, top, C_HELD);
    holdout_interval(b, y + 70,
                     ac_report_render_get(kind, csat ? "csat_uplift" : "repeat_purchase_uplift"));
    return y + 118;
}

/* Both metrics of one holdout kind, repeat purchases first. */
void ac_report_svg_holdout(ac_buf_t *b, json_object *kind)
{
    svg_open(b, 400, 232, "Customers messaged against customers held out");
    holdout_panel(b, holdout_panel(b, 0, kind, 0), kind, 1);
    ac_buf_puts(b, "</svg>\n");
}
