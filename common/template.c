#include "template.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Writes s[0..n) with the characters that mean something in HTML, in
 * text and in a quoted attribute alike, replaced by references. */
static void put_html(ac_buf_t *out, const char *s, size_t n)
{
    size_t done = 0;
    for (size_t i = 0; i < n; i++) {
        const char *ref;
        switch (s[i]) {
        case '&':
            ref = "&amp;";
            break;
        case '<':
            ref = "&lt;";
            break;
        case '>':
            ref = "&gt;";
            break;
        case '"':
            ref = "&quot;";
            break;
        case '\'':
            ref = "&#39;";
            break;
        default:
            continue;
        }
        ac_buf_append(out, s + done, i - done);
        ac_buf_puts(out, ref);
        done = i + 1;
    }
    ac_buf_append(out, s + done, n - done);
}

/* Template text between tags: markup in an HTML template, plain text to
 * escape when a text template is written as HTML. */
static void put_text(ac_buf_t *out, const char *s, size_t n, ac_template_escape_t esc)
{
    if (esc == AC_TEMPLATE_ESCAPE_HTML_TEXT)
        put_html(out, s, n);
    else
        ac_buf_append(out, s, n);
}

/* Whether v is a URL worth a link: http or https, with a host part, and
 * nothing a mail client could read as the end of the URL or as a second
 * line. */
static int is_web_url(const char *v)
{
    size_t scheme;
    if (strncasecmp(v, "https://", 8) == 0)
        scheme = 8;
    else if (strncasecmp(v, "http://", 7) == 0)
        scheme = 7;
    else
        return 0;
    if (v[scheme] == '\0' || v[scheme] == '/')
        return 0;
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if (*p <= ' ' || *p == 0x7F)
            return 0;
    return 1;
}

static int is_link_name(const char *name, size_t len)
{
    return len > 4 && memcmp(name + len - 4, "_url", 4) == 0;
}

/* Writes the value v of variable name as esc asks; raw is set for
 * {{{name}}}. */
static void put_value(ac_buf_t *out, const char *name, size_t len, const char *v,
                      ac_template_escape_t esc, int raw)
{
    if (esc == AC_TEMPLATE_ESCAPE_HTML_TEXT) {
        if (is_link_name(name, len) && is_web_url(v)) {
            ac_buf_puts(out, "<a href=\"");
            put_html(out, v, strlen(v));
            ac_buf_puts(out, "\">");
            put_html(out, v, strlen(v));
            ac_buf_puts(out, "</a>");
        } else {
            put_html(out, v, strlen(v));
        }
    } else if (esc == AC_TEMPLATE_ESCAPE_HTML && !raw) {
        put_html(out, v, strlen(v));
    } else {
        ac_buf_puts(out, v);
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
                put_text(out, tpl + i, n - i, esc);
            break;
        }
        if (out)
            put_text(out, tpl + i, (size_t)(open - (tpl + i)), esc);
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
                put_value(out, name, len, v, esc, triple);
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
