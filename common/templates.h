/* Templates a store's team overrides without rebuilding: loaded once at
 * start-up from TEMPLATE_DIR, then tried by the renderer (render.h) before
 * its built-in ones. The set owns everything it loaded. */
#ifndef AC_TEMPLATES_H
#define AC_TEMPLATES_H

#include <stddef.h>

typedef struct ac_templates ac_templates_t;

/* Loads template overrides from dir (NULL or "": none):
 *   <dir>/<kind>.<channel>.<language>.txt          for every store
 *   <dir>/<store id>/<kind>.<channel>.<language>.txt for one store
 * e.g. review_request.email.de.txt. An email template's first line is
 * "Subject: ..." and a blank line follows; the rest is the text, with the
 * same {{variables}} and {{#sections}} as the built-in ones (docs/
 * templates.md). An SMS override is sent as written, even past two
 * segments. Returns the set (free with ac_templates_destroy()) or NULL with
 * one line in err naming the file and what is wrong with it. */
ac_templates_t *ac_templates_load(const char *dir, char *err, size_t errsz);

/* Accepts NULL. */
void ac_templates_destroy(ac_templates_t *o);

/* How many templates o holds (0 for NULL). */
size_t ac_templates_count(const ac_templates_t *o);

#endif
