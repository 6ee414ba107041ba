/* The HTML document of an email: the same words as its text, every value
 * escaped, blank-line separated blocks as paragraphs. */
#include "render.h"

#include <string.h>

#include "render_int.h"

/* Writes body, a plain-text email rendered in AC_TEMPLATE_ESCAPE_HTML_TEXT,
 * as paragraphs: a blank line (or several) ends one, a single line break
 * inside one becomes <br>. */
static void html_paragraphs(ac_buf_t *out, const char *body)
{
    const char *p = body;
    for (;;) {
        while (*p == '\n')
            p++;
        if (!*p)
            break;
        const char *end = strstr(p, "\n\n");
        if (!end)
            end = p + strlen(p);
        size_t n = (size_t)(end - p);
        while (n > 0 && p[n - 1] == '\n')
            n--;
        ac_buf_puts(out, "<p>");
        for (size_t i = 0; i < n; i++) {
            if (p[i] == '\n')
                ac_buf_puts(out, "<br>\n");
            else
                ac_buf_append(out, p + i, 1);
        }
        ac_buf_puts(out, "</p>\n");
        p = end;
    }
}

/* Writes the HTML document of an email: title and body are the subject and
 * text rendered in AC_TEMPLATE_ESCAPE_HTML_TEXT, language one of the
 * template languages. Mail clients strip or ignore most of <head>, so it
 * holds only what a browser opening the file needs to show it right. */
static void html_document(ac_buf_t *out, const char *language, const char *title, const char *body)
{
    ac_buf_puts(out, "<!DOCTYPE html>\n<html lang=\"");
    ac_buf_puts(out, language);
    ac_buf_puts(out, "\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<title>");
    ac_buf_puts(out, title);
    ac_buf_puts(out, "</title>\n</head>\n<body>\n");
    html_paragraphs(out, body);
    ac_buf_puts(out, "</body>\n</html>\n");
}

/* See render_int.h. The subject and text are rendered again rather than
 * escaped after the fact, so that only the values are escaped and the
 * links the template makes of *_url variables stay links. */
int ac_render_html(const template_entry_t *t, render_vars_t *vars, ac_buf_t *html, char *err,
                   size_t errsz)
{
    int rc = -1;
    ac_buf_t title = AC_BUF_INIT, body = AC_BUF_INIT;
    if (ac_render_part(t->subject, vars, AC_TEMPLATE_ESCAPE_HTML_TEXT, &title, err, errsz) < 0 ||
        ac_render_part(t->text, vars, AC_TEMPLATE_ESCAPE_HTML_TEXT, &body, err, errsz) < 0)
        goto out;
    html_document(html, t->language, title.data ? title.data : "", body.data ? body.data : "");
    rc = 0;
out:
    ac_buf_free(&title);
    ac_buf_free(&body);
    return rc;
}
