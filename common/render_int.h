/* Shared by the files of the renderer, not part of its interface:
 *   render.c          the renderer: language, variables, ac_render_message()
 *   render_catalog.c  the built-in templates (and render_feedback.c's)
 *   templates.c       the overrides a store's team writes (templates.h)
 *   render_format.c   money and dates the way a reader's language writes them
 *   render_sms.c      keeping an SMS within AC_RENDER_SMS_MAX_SEGMENTS
 *   render_html.c     the HTML document of an email */
#ifndef AC_RENDER_INT_H
#define AC_RENDER_INT_H

#include <stddef.h>

#include "buf.h"
#include "message.h"
#include "render.h"
#include "sms.h"
#include "template.h"

/* An entry of the built-in template catalog. Each template gives every variable a
 * fallback through sections, so a customer never reads "Hi ," when the
 * store did not send a first name.
 *
 * An SMS template also lists in shed, space-separated and least needed
 * first, the variables it can do without when long values would make it
 * need more than AC_RENDER_SMS_MAX_SEGMENTS segments (see render.h); the
 * pseudo-variable "extra" marks a sentence the message reads well without.
 * Email templates shed nothing and leave it NULL. */
typedef struct template_entry {
    ac_kind_t kind;
    ac_channel_t channel;
    const char *language;
    const char *subject;
    const char *text;
    const char *shed;
} template_entry_t;

/* The feedback follow-up's and the store alert's templates. */
extern const template_entry_t ac_render_feedback_templates[];
extern const size_t ac_render_n_feedback_templates;

/* The number of built-in templates, and the i-th: render_catalog.c's
 * catalog then the feedback messages'. */
size_t ac_render_n_builtin(void);
const template_entry_t *ac_render_builtin(size_t i);

/* The built-in template of (kind, ch, language), NULL when there is none. */
const template_entry_t *ac_render_find_builtin(ac_kind_t kind, ac_channel_t ch,
                                               const char *language);

/* The override of (kind, ch, language) in o (NULL: none): the one for
 * store, else the one for every store, else NULL. Owned by o. */
const template_entry_t *ac_templates_find(const ac_templates_t *o, ac_kind_t kind, ac_channel_t ch,
                                          const char *language, const char *store);

/* Values a template can name, computed once per rendering. */
typedef struct render_vars {
    const ac_event_t *ev;
    const char *language;
    char order_number[AC_EVENT_MAX_ID_LEN + 2]; /* "#" and the number or id */
    char total[64];
    char *items;        /* one line per item */
    char *item_summary; /* "Rain Jacket and 2 more" */
    char delivery_date[48];
    /* delivery_date when the estimate is a date, else the store's own text
     * (owned by ev); NULL when there is no estimate. */
    const char *estimated_delivery;
    char refund_amount[64];
    /* The return label, or the instructions when the store sent no label;
     * owned by ev. */
    const char *return_label_url;
    char rating[4], stars[32];   /* feedback: "2" and "★★☆☆☆" */
    const ac_render_extras_t *x; /* never NULL */
    /* The first n_shed names of the template's shed list have no value,
     * while an SMS is made to fit. */
    const char *shed;
    size_t n_shed;
} render_vars_t;

/* Renders tpl with vars into out; a template part that is not there (an
 * SMS's subject) renders as nothing. Returns 0, or -1 with err filled. */
int ac_render_part(const char *tpl, render_vars_t *vars, ac_template_escape_t esc, ac_buf_t *out,
                   char *err, size_t errsz);

/* Whether the name of len bytes is among the names vars leaves out. */
int ac_render_is_shed(const render_vars_t *vars, const char *name, size_t len);

/* Renders the text of SMS template t into text (emptied first), shedding
 * as render.h describes, and counts the result into count. Returns 0, or
 * -1 with err filled. */
int ac_render_sms(const template_entry_t *t, render_vars_t *vars, ac_buf_t *text,
                  ac_sms_count_t *count, char *err, size_t errsz);

/* Renders the HTML document of email template t into html. Returns 0, or
 * -1 with err filled. */
int ac_render_html(const template_entry_t *t, render_vars_t *vars, ac_buf_t *html, char *err,
                   size_t errsz);

/* Writes the calendar date that s starts with ("2024-11-07" or an RFC 3339
 * date-time such as "2024-11-07T18:00:00+01:00") the way a reader of
 * language writes it: "7 November 2024", "7. November 2024". Returns 0, or
 * -1 when s does not start with a valid date. */
int ac_render_date(const char *s, const char *language, char *buf, size_t bufsz);

#endif
