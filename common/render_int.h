/* Shared by the files of the renderer (render.c and the catalogs it
 * searches); not part of its interface. */
#ifndef AC_RENDER_INT_H
#define AC_RENDER_INT_H

#include <stddef.h>

#include "message.h"
#include "render.h"

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

#endif
