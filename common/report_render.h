/* The retention report for people: a compact terminal summary and one
 * self-contained HTML page with SVG charts, both from the report's JSON
 * (common/report.c computes it; tests/data/report_sample.json shows every
 * field). Pure: nothing is read or written but the report and the buffer.
 *
 * Every rate, count or uplift may be null (its denominator was 0), absent
 * or of the wrong type; each such figure reads as an em dash, its bar or
 * interval is left out, and the rest renders as usual. Strings from the
 * report (store id, time zone, dates, kinds, channels, reasons) are escaped
 * for HTML, and their control characters replaced, in both outputs. Maps
 * (messages, suppressed, holdout) are rendered in the report's order, so
 * the same report gives the same bytes. */
#ifndef AC_REPORT_RENDER_H
#define AC_REPORT_RENDER_H

#include <stddef.h>

#include <json-c/json.h>

#include "buf.h"

/* Appends the terminal summary of report to out: headline figures, ratings
 * per star, messages per kind and channel, held-back messages per kind and
 * reason, the holdout comparisons and the cohort table. UTF-8, lines of at
 * most about 100 columns (the cohort table grows with its months). Returns
 * 0, or -1 with err filled when report is not a JSON object or memory ran
 * out; out then holds a partial rendering to discard. report is not
 * modified. */
int ac_report_text(json_object *report, ac_buf_t *out, char *err, size_t errsz);

/* Appends the report as one HTML document to out: inline CSS and SVG, no
 * scripts, no external fonts, images or links, readable from a 390 px
 * phone to a desktop. Sections carry stable ids for tests and links:
 * headline, ratings, messages, suppressed, volume, holdout, cohorts.
 * Returns as ac_report_text(). */
int ac_report_html(json_object *report, ac_buf_t *out, char *err, size_t errsz);

#endif
