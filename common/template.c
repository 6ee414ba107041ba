#include "template.h"

#include <stdio.h>
#include <string.h>

static void put_escaped(ac_buf_t *out, const char *v, ac_template_escape_t esc)
{
    if (esc == AC_TEMPLATE_ESCAPE_NONE) {
        ac_buf_puts(out, v);
        return;
    }
    for (const char *p = v; *p; p++) {
        switch (*p) {
        case '&':
            ac_buf_puts(out, "&amp;");
            break;
        case '<':
            ac_buf_puts(out, "&lt;");
            break;
        case '>':
            ac_buf_puts(out, "&gt;");
            break;
        case '"':
            ac_buf_puts(out, "&quot;");
            break;
        case '\'':
            ac_buf_puts(out, "&#39;");
            break;
        default:
            ac_buf_append(out, p, 1);
        }
    }
}

/* Trims spaces around a tag's name. */
static void tag_name(const char *s, size_t n, const char **name, size_t *len)
{
    while (n && (*s == ' ')) {
        s++;
        n--;
    }
    while (n && s[n - 1] == ' ')
        n--;
    *name = s;
    *len = n;
}

/* Renders tpl[0..n) into out (or only walks it when out is NULL, for
 * skipped sections and checks). Recursion depth is bounded by nesting. */
static int render(const char *tpl, size_t n, ac_template_lookup_fn lookup, void *ctx,
                  ac_template_escape_t esc, ac_buf_t *out, int depth, char *err, size_t errsz)
{
    size_t i = 0;
    if (depth > 16) {
        snprintf(err, errsz, "sections nested too deep");
        return -1;
    }
    while (i < n) {
        const char *open = memmem(tpl + i, n - i, "{{", 2);
        if (!open) {
            if (out)
                ac_buf_append(out, tpl + i, n - i);
            break;
        }
        if (out)
            ac_buf_append(out, tpl + i, (size_t)(open - (tpl + i)));
        size_t pos = (size_t)(open - tpl);
        int triple = pos + 2 < n && tpl[pos + 2] == '{';
        const char *close_tag = triple ? "}}}" : "}}";
        size_t start = pos + (triple ? 3 : 2);
        const char *close = memmem(tpl + start, n - start, close_tag, strlen(close_tag));
        if (!close) {
            snprintf(err, errsz, "unclosed tag at offset %zu", pos);
            return -1;
        }
        size_t end = (size_t)(close - tpl) + strlen(close_tag);
        char sigil = triple ? 0 : tpl[start];
        if (sigil == '#' || sigil == '^') {
            const char *name;
            size_t len;
            tag_name(tpl + start + 1, (size_t)(close - tpl) - start - 1, &name, &len);
            /* Find the matching {{/name}}, counting nested same-name opens. */
            char closing[80], opening1[80], opening2[80];
            if (len == 0 || len > 64) {
                snprintf(err, errsz, "bad section name at offset %zu", pos);
                return -1;
            }
            snprintf(closing, sizeof(closing), "{{/%.*s}}", (int)len, name);
            snprintf(opening1, sizeof(opening1), "{{#%.*s}}", (int)len, name);
            snprintf(opening2, sizeof(opening2), "{{^%.*s}}", (int)len, name);
            size_t scan = end, level = 1, body_end = 0;
            while (level > 0) {
                const char *c = memmem(tpl + scan, n - scan, closing, strlen(closing));
                if (!c) {
                    snprintf(err, errsz, "section %.*s is not closed", (int)len, name);
                    return -1;
                }
                for (const char *o = tpl + scan; o < c; o++)
                    if (strncmp(o, opening1, strlen(opening1)) == 0 ||
                        strncmp(o, opening2, strlen(opening2)) == 0)
                        level++;
                level--;
                body_end = (size_t)(c - tpl);
                scan = body_end + strlen(closing);
            }
            const char *v = lookup ? lookup(ctx, name, len) : NULL;
            int truthy = v && *v;
            int show = sigil == '#' ? truthy : !truthy;
            if (render(tpl + end, body_end - end, lookup, ctx, esc, show ? out : NULL, depth + 1,
                       err, errsz) < 0)
                return -1;
            i = scan;
            continue;
        }
        if (sigil == '/') {
            snprintf(err, errsz, "unexpected closing tag at offset %zu", pos);
            return -1;
        }
        if (sigil == '!') { /* comment */
            i = end;
            continue;
        }
        const char *name;
        size_t len;
        tag_name(tpl + start, (size_t)(close - tpl) - start, &name, &len);
        if (out && lookup) {
            const char *v = lookup(ctx, name, len);
            if (v)
                put_escaped(out, v, triple ? AC_TEMPLATE_ESCAPE_NONE : esc);
        }
        i = end;
    }
    return 0;
}

int ac_template_render(const char *tpl, ac_template_lookup_fn lookup, void *ctx,
                       ac_template_escape_t esc, ac_buf_t *out, char *err, size_t errsz)
{
    return render(tpl, strlen(tpl), lookup, ctx, esc, out, 0, err, errsz);
}

int ac_template_check(const char *tpl, char *err, size_t errsz)
{
    return render(tpl, strlen(tpl), NULL, NULL, AC_TEMPLATE_ESCAPE_NONE, NULL, 0, err, errsz);
}
