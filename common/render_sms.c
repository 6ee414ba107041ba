/* Keeping an SMS within AC_RENDER_SMS_MAX_SEGMENTS (render.h): the
 * template is rendered again with one more of its shed names left out
 * until the text fits or nothing is left to leave out. */
#include "render.h"

#include <string.h>

#include "render_int.h"

/* See render_int.h. The list is walked on every lookup rather than parsed
 * once per template: it holds a handful of short names. */
int ac_render_is_shed(const render_vars_t *vars, const char *name, size_t len)
{
    size_t n = vars->n_shed;
    for (const char *p = vars->shed; p && *p && n > 0; n--) {
        while (*p == ' ')
            p++;
        size_t w = strcspn(p, " ");
        if (w == len && memcmp(p, name, len) == 0)
            return 1;
        p += w;
    }
    return 0;
}

/* The number of names in a space-separated list. */
static size_t count_names(const char *list)
{
    size_t n = 0;
    for (const char *p = list; p && *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        n++;
        p += strcspn(p, " ");
    }
    return n;
}

/* See render_int.h. */
int ac_render_sms(const template_entry_t *t, render_vars_t *vars, ac_buf_t *text,
                  ac_sms_count_t *count, char *err, size_t errsz)
{
    size_t names = count_names(t->shed);
    vars->shed = t->shed;
    for (vars->n_shed = 0;; vars->n_shed++) {
        ac_buf_free(text);
        if (ac_render_part(t->text, vars, AC_TEMPLATE_ESCAPE_NONE, text, err, errsz) < 0)
            return -1;
        ac_sms_count(text->data ? text->data : "", count);
        /* With nothing left to shed the shortest form goes as it is: a
         * message in three parts is better than none. */
        if (count->segments <= AC_RENDER_SMS_MAX_SEGMENTS || vars->n_shed >= names)
            return 0;
    }
}
