/* A message as the customer reads it: what the renderer (render.h) makes
 * and the providers (provider.h) send, kept apart so that sending needs
 * nothing of how it was made. The struct owns its strings (free them with
 * ac_rendered_free()); language points at static storage. */
#ifndef AC_RENDERED_H
#define AC_RENDERED_H

#include "sms.h"

typedef struct ac_rendered {
    char *subject; /* NULL for SMS */
    char *text;
    /* Email only (NULL for SMS): an HTML document with the same words as
     * text, in the language of the template: every value escaped, blank-line
     * separated blocks as <p>, line breaks as <br>, links (the *_url
     * variables, see template.h) as <a href>. */
    char *html;
    const char *language;
    ac_sms_count_t sms; /* SMS only (zeroed for email): how text travels */
} ac_rendered_t;

/* Releases what out holds; accepts NULL, a zeroed or an already freed
 * struct. */
void ac_rendered_free(ac_rendered_t *out);

#endif
