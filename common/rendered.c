#include "rendered.h"

#include <stdlib.h>

/* The pointers are cleared so that freeing twice, as error paths that
 * share a cleanup may, does no harm. */
void ac_rendered_free(ac_rendered_t *out)
{
    if (!out)
        return;
    free(out->subject);
    free(out->text);
    free(out->html);
    out->subject = out->text = out->html = NULL;
}
