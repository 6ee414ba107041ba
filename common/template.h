/* A logic-less template language, a small subset of Mustache:
 *   {{name}}                 the variable's value, escaped for the output
 *   {{{name}}}               the value, unescaped
 *   {{#name}}...{{/name}}    the block only when name has a non-empty value
 *   {{^name}}...{{/name}}    the block only when name is missing or empty
 * Sections are how templates give every variable a fallback, so a customer
 * never reads "Hi ," or a raw placeholder. Sections may nest; there are no
 * loops: lists are pre-rendered into a variable by the caller. */
#ifndef AC_TEMPLATE_H
#define AC_TEMPLATE_H

#include <stddef.h>

#include "buf.h"

/* Returns the value of a variable, or NULL when it has none. */
typedef const char *(*ac_template_lookup_fn)(void *ctx, const char *name, size_t namelen);

typedef enum ac_template_escape {
    AC_TEMPLATE_ESCAPE_NONE,      /* plain text (SMS, text email) */
    AC_TEMPLATE_ESCAPE_HTML,      /* an HTML template: values have &, <, >, ", ' escaped */
    AC_TEMPLATE_ESCAPE_HTML_TEXT, /* a plain-text template written as HTML: see below */
} ac_template_escape_t;

/* AC_TEMPLATE_ESCAPE_HTML_TEXT renders a template written as plain text
 * into text that is safe inside an HTML element, so one template gives
 * both the text and the HTML of an email:
 *   - the template's own text and every value, {{{name}}} included, have
 *     &, <, >, " and ' escaped: in a text template nothing is markup;
 *   - a variable whose name ends in "_url" and whose value is an http or
 *     https URL without spaces or control characters becomes a link,
 *     <a href="URL">URL</a>, escaped in the attribute as in the text. The
 *     name decides, not the value: a customer who types a URL as their
 *     name gets no link in the store's email. Any other value of a _url
 *     variable (a javascript: URL, say) is written as text.
 * Line breaks are left as they are, for the caller to lay out. */

/* Renders tpl into out. Returns 0, or -1 with err filled when the template
 * is malformed (an unclosed tag or section): templates are checked when
 * loaded, so rendering a loaded template does not fail. */
int ac_template_render(const char *tpl, ac_template_lookup_fn lookup, void *ctx,
                       ac_template_escape_t esc, ac_buf_t *out, char *err, size_t errsz);

/* Checks that tpl is well formed, without rendering. */
int ac_template_check(const char *tpl, char *err, size_t errsz);

#endif
