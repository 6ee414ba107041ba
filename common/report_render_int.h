/* Internals of the report renderers shared by report_render.c (figures,
 * escaping and the text summary), report_html.c (the page) and
 * report_svg.c (its charts). Not for other modules. */
#ifndef AC_REPORT_RENDER_INT_H
#define AC_REPORT_RENDER_INT_H

#include <json-c/json.h>

#include "buf.h"

#define AC_REPORT_DASH  "\xe2\x80\x94" /* what a null figure reads as */
#define AC_REPORT_MINUS "\xe2\x88\x92" /* a real minus sign, not a hyphen */

/* Room for any figure the formatters below write. */
#define AC_REPORT_FIG_LEN 48

/* The cohort table shows returns up to this many months after the first
 * purchase; later ones (only a report spanning over five years has them)
 * are left out rather than widening the table without bound. */
#define AC_REPORT_MAX_COHORT_MONTHS 60

/* The member key of o (o itself when key is NULL), or NULL when o is not
 * an object or has no such member. */
json_object *ac_report_render_get(json_object *o, const char *key);

/* The string member key of o, or "" when it is absent or not a string. */
const char *ac_report_render_str(json_object *o, const char *key);

/* Sets *v to the number at o/key and returns 0, or returns -1 when it is
 * null, absent, not a number, not finite or too large to be a figure. */
int ac_report_render_num(json_object *o, const char *key, double *v);

/* Each writes the figure at o/key into s (AC_REPORT_FIG_LEN bytes) and
 * returns s; a missing figure reads as AC_REPORT_DASH.
 *   count:  1,234       rate: 13.3 %       share: 13.3       points: +4.0 */
const char *ac_report_render_count(char *s, json_object *o, const char *key);
const char *ac_report_render_rate(char *s, json_object *o, const char *key);
const char *ac_report_render_share(char *s, json_object *o, const char *key);
const char *ac_report_render_points(char *s, json_object *o, const char *key);

/* The same for a figure the renderer computed (a sum, a star's share);
 * NAN reads as AC_REPORT_DASH. */
const char *ac_report_render_count_of(char *s, double v);
const char *ac_report_render_rate_of(char *s, double v);

/* Appends s with &, <, >, " and ' escaped for HTML text and attributes,
 * and control characters replaced as by ac_report_render_clean(). */
void ac_report_render_esc(ac_buf_t *b, const char *s);

/* Appends s with its C0 and C1 control characters replaced by U+FFFD, so
 * that a report cannot move a terminal's cursor or change its colours. */
void ac_report_render_clean(ac_buf_t *b, const char *s);

/* Appends how the groups of holdout entry kind compare on one metric
 * (csat non-zero: the CSAT, else the repeat-purchase rate), e.g.
 * "14.0 % messaged vs 10.0 % held out, +4.0 points (95 % CI −3.1 to
 * +11.1)"; the caller names the metric. Numbers only: safe for text and
 * HTML alike. */
void ac_report_render_uplift(ac_buf_t *b, json_object *kind, int csat);

/* How many months after the first purchase the cohort table spans (0 for
 * none), and the returning[] entry of a cohort row that many months after
 * its own month (NULL when the row has none). */
int ac_report_render_cohort_months(json_object *cohorts);
json_object *ac_report_render_cohort_cell(json_object *row, int months);

/* The charts (report_svg.c), each an inline <svg> with a viewBox that
 * scales to its box. The volume chart is drawn width units wide, so that
 * a phone and a desktop each get one whose text stays legible. */
void ac_report_svg_ratings(ac_buf_t *b, json_object *ratings);
void ac_report_svg_volume(ac_buf_t *b, json_object *volume, int width);
void ac_report_svg_holdout(ac_buf_t *b, json_object *kind);

#endif
