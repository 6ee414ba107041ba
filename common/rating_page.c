#include "rating_page.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"

/* no-store and no-referrer because the URL carries a token that names the
 * order and customer: no cache or third party should keep it. The policy
 * allows the inline style sheet and a form posting back here, nothing
 * else. */
const char *const ac_rating_page_headers[] = {
    "Cache-Control",
    "no-store",
    "Referrer-Policy",
    "no-referrer",
    "X-Content-Type-Options",
    "nosniff",
    "Content-Security-Policy",
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    NULL,
    NULL,
};

/* The texts of one language. "{store}" stands for the store's name. */
typedef struct texts {
    const char *lang;
    const char *thanks, *glad, *sorry, *what_wrong, *send;
    const char *stars; /* after the number: "4 of 5 stars" */
    const char *commented, *will_answer, *will_answer_anon;
    const char *invalid, *expired, *expired_more, *unavailable, *unavailable_more;
} texts_t;

static const texts_t TEXTS[] = {
    {
        "en",
        "Thank you for your rating!",
        "We are glad you are happy with your order.",
        "We are sorry your order did not live up to your expectations.",
        "What went wrong? Tell us, so that we can put it right.",
        "Send",
        " of 5 stars",
        "Thank you for telling us.",
        "{store} will get back to you.",
        "The store will get back to you.",
        "This link is no longer valid.",
        "This link has expired.",
        "Rating links work for a limited time after the email was sent.",
        "Something went wrong on our side.",
        "Please try again in a minute.",
    },
    {
        "de",
        "Vielen Dank für Ihre Bewertung!",
        "Schön, dass Sie mit Ihrer Bestellung zufrieden sind.",
        "Es tut uns leid, dass Ihre Bestellung nicht Ihren Erwartungen entsprochen hat.",
        "Was ist schiefgelaufen? Sagen Sie es uns, damit wir es in Ordnung bringen können.",
        "Senden",
        " von 5 Sternen",
        "Danke, dass Sie uns das mitteilen.",
        "{store} wird sich bei Ihnen melden.",
        "Der Shop wird sich bei Ihnen melden.",
        "Dieser Link ist nicht mehr gültig.",
        "Dieser Link ist abgelaufen.",
        "Bewertungslinks gelten nur eine begrenzte Zeit nach dem Versand der E-Mail.",
        "Bei uns ist etwas schiefgelaufen.",
        "Bitte versuchen Sie es in einer Minute noch einmal.",
    },
};

#define N_TEXTS (sizeof(TEXTS) / sizeof(TEXTS[0]))

/* Kept small and in the page itself: the policy allows no style sheet
 * from anywhere else, and a phone on a slow connection should show the
 * page at once. */
static const char STYLE[] =
    "body{margin:0;padding:24px 16px;background:#f4f4f2;color:#1f1f1f;"
    "font:17px/1.5 -apple-system,BlinkMacSystemFont,\"Segoe UI\",Roboto,Helvetica,Arial,"
    "sans-serif}"
    "main{max-width:32rem;margin:0 auto;background:#fff;border-radius:12px;padding:24px;"
    "box-shadow:0 1px 3px rgba(0,0,0,.12)}"
    "h1{font-size:1.35rem;line-height:1.3;margin:0 0 .75rem}"
    ".store{color:#5f5f5f;font-size:.95rem;margin:0 0 .5rem}"
    ".stars{font-size:2rem;line-height:1;color:#d99a00;letter-spacing:.08em;margin:0 0 .75rem}"
    "label{display:block;margin:1rem 0 .5rem}"
    "textarea{box-sizing:border-box;width:100%;min-height:8rem;font:inherit;padding:.6rem;"
    "border:1px solid #b5b5b5;border-radius:8px}"
    "button{margin-top:.75rem;font:inherit;padding:.65rem 1.5rem;border:0;border-radius:8px;"
    "background:#1f1f1f;color:#fff}";

int ac_rating_page_wants_comment(int rating)
{
    return rating >= 1 && rating <= 3;
}

/* The language of ours that the n bytes of s name ("de", "de-AT",
 * "de_CH", any case), or NULL. */
static const char *ours(const char *s, size_t n)
{
    if (!s || n < 2 || (n > 2 && s[2] != '-' && s[2] != '_'))
        return NULL;
    for (size_t i = 0; i < N_TEXTS; i++)
        if (strncasecmp(s, TEXTS[i].lang, 2) == 0)
            return TEXTS[i].lang;
    return NULL;
}

const char *ac_rating_page_lang(const char *query, const char *locale)
{
    for (const char *p = query; p && *p;) {
        size_t n = strcspn(p, "&");
        if (n > 5 && strncmp(p, "lang=", 5) == 0 && ours(p + 5, n - 5))
            return ours(p + 5, n - 5);
        p += n + (p[n] == '&');
    }
    const char *l = ours(locale, locale ? strlen(locale) : 0);
    return l ? l : TEXTS[0].lang;
}

static const texts_t *texts_for(const char *lang)
{
    for (size_t i = 0; lang && i < N_TEXTS; i++)
        if (strcmp(lang, TEXTS[i].lang) == 0)
            return &TEXTS[i];
    return &TEXTS[0];
}

/* Writes s with the five characters that mean something in HTML text and
 * attribute values escaped. */
static void esc(ac_buf_t *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            ac_buf_puts(b, "&amp;");
            break;
        case '<':
            ac_buf_puts(b, "&lt;");
            break;
        case '>':
            ac_buf_puts(b, "&gt;");
            break;
        case '"':
            ac_buf_puts(b, "&quot;");
            break;
        case '\'':
            ac_buf_puts(b, "&#39;");
            break;
        default:
            ac_buf_append(b, s, 1);
        }
    }
}

/* Writes text (ours, so not escaped) with "{store}" replaced by the
 * escaped name. */
static void with_name(ac_buf_t *b, const char *text, const char *name)
{
    const char *at = strstr(text, "{store}");
    if (!at) {
        ac_buf_puts(b, text);
        return;
    }
    ac_buf_append(b, text, (size_t)(at - text));
    esc(b, name);
    ac_buf_puts(b, at + 7);
}

static int has_name(const ac_rating_page_t *p)
{
    return p->store_name && *p->store_name;
}

static const char *heading(const ac_rating_page_t *p, const texts_t *t)
{
    switch (p->kind) {
    case AC_RATING_PAGE_THANKS:
        return t->thanks;
    case AC_RATING_PAGE_COMMENTED:
        return t->commented;
    case AC_RATING_PAGE_EXPIRED:
        return t->expired;
    case AC_RATING_PAGE_UNAVAILABLE:
        return t->unavailable;
    case AC_RATING_PAGE_INVALID:
        break;
    }
    return t->invalid;
}

/* The stars given and the comment form for a low rating. */
static void thanks_body(ac_buf_t *b, const ac_rating_page_t *p, const texts_t *t)
{
    if (p->rating >= 1 && p->rating <= 5) {
        ac_buf_puts(b, "<p class=\"stars\" role=\"img\" aria-label=\"");
        ac_buf_printf(b, "%d%s", p->rating, t->stars);
        ac_buf_puts(b, "\">");
        for (int i = 1; i <= 5; i++)
            ac_buf_puts(b, i <= p->rating ? "★" : "☆");
        ac_buf_puts(b, "</p>\n");
    }
    if (p->rating >= 1 && p->rating <= 5)
        ac_buf_printf(b, "<p>%s</p>\n",
                      ac_rating_page_wants_comment(p->rating) ? t->sorry : t->glad);
    if (!p->form_action)
        return;
    ac_buf_puts(b, "<form method=\"post\" accept-charset=\"utf-8\" action=\"");
    esc(b, p->form_action);
    ac_buf_printf(
        b,
        "\">\n<label for=\"comment\">%s</label>\n"
        "<textarea id=\"comment\" name=\"comment\" maxlength=\"%d\" required></textarea>\n"
        "<button type=\"submit\">%s</button>\n</form>\n",
        t->what_wrong, AC_RATING_PAGE_MAX_COMMENT, t->send);
}

static void body_of(ac_buf_t *b, const ac_rating_page_t *p, const texts_t *t)
{
    switch (p->kind) {
    case AC_RATING_PAGE_THANKS:
        thanks_body(b, p, t);
        break;
    case AC_RATING_PAGE_COMMENTED:
        ac_buf_puts(b, "<p>");
        if (has_name(p))
            with_name(b, t->will_answer, p->store_name);
        else
            ac_buf_puts(b, t->will_answer_anon);
        ac_buf_puts(b, "</p>\n");
        break;
    case AC_RATING_PAGE_EXPIRED:
        ac_buf_printf(b, "<p>%s</p>\n", t->expired_more);
        break;
    case AC_RATING_PAGE_UNAVAILABLE:
        ac_buf_printf(b, "<p>%s</p>\n", t->unavailable_more);
        break;
    case AC_RATING_PAGE_INVALID:
        break;
    }
}

char *ac_rating_page_render(const ac_rating_page_t *p, size_t *len)
{
    const texts_t *t = texts_for(p->lang);
    const char *h1 = heading(p, t);
    ac_buf_t b = AC_BUF_INIT;
    ac_buf_printf(&b,
                  "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                  "<meta name=\"robots\" content=\"noindex\">\n<title>%s</title>\n"
                  "<style>%s</style>\n</head>\n<body>\n<main>\n",
                  t->lang, h1, STYLE);
    /* A forged link's store is not to be believed, so the caller gives no
     * name for it; any name given is shown. */
    if (has_name(p)) {
        ac_buf_puts(&b, "<p class=\"store\">");
        esc(&b, p->store_name);
        ac_buf_puts(&b, "</p>\n");
    }
    ac_buf_printf(&b, "<h1>%s</h1>\n", h1);
    body_of(&b, p, t);
    ac_buf_puts(&b, "</main>\n</body>\n</html>\n");
    size_t n = b.len;
    char *s = ac_buf_steal(&b);
    if (s && len)
        *len = n;
    return s;
}

/* ------------------------------------------------------------ the form */

/* A field of a form body being read: its bytes from p up to end, or up
 * to the first '&' or stop. */
typedef struct src {
    const unsigned char *p, *end;
    unsigned char stop;
} src_t;

static int hex(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The next byte of the field, decoded, or -1 at its end. */
static int next_byte(src_t *s)
{
    if (s->p >= s->end || *s->p == '&' || *s->p == s->stop)
        return -1;
    unsigned char c = *s->p++;
    if (c == '+')
        return ' ';
    if (c == '%' && s->end - s->p >= 2 && hex(s->p[0]) >= 0 && hex(s->p[1]) >= 0) {
        c = (unsigned char)(hex(s->p[0]) << 4 | hex(s->p[1]));
        s->p += 2;
    }
    return c;
}

/* Points *value at the value of the first field called name (compared
 * once decoded, as a browser might encode any character of it). Returns 1
 * when there is one. */
static int find_field(const char *body, size_t len, const char *name, src_t *value)
{
    const unsigned char *p = (const unsigned char *)body, *end = p + len;
    for (;;) {
        const unsigned char *amp = memchr(p, '&', (size_t)(end - p)), *fe = amp ? amp : end;
        src_t n = {p, fe, '='};
        size_t i = 0;
        int c;
        while ((c = next_byte(&n)) >= 0 && name[i] && c == (unsigned char)name[i])
            i++;
        if (c < 0 && !name[i]) {
            value->p = n.p < fe ? n.p + 1 : fe; /* past the '=' */
            value->end = fe;
            value->stop = '&';
            return 1;
        }
        if (!amp)
            return 0;
        p = amp + 1;
    }
}

/* The next character of the field as a code point; U+FFFD for a byte
 * that does not start a valid UTF-8 sequence (overlong forms, surrogates
 * and values past U+10FFFF included); -1 at the end. */
static long next_char(src_t *s)
{
    int c = next_byte(s), need;
    uint32_t cp, min;
    if (c < 0x80)
        return c;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1, cp = (uint32_t)c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2, cp = (uint32_t)c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3, cp = (uint32_t)c & 0x07, min = 0x10000;
    } else {
        return 0xfffd;
    }
    for (int i = 0; i < need; i++) {
        src_t before = *s;
        int d = next_byte(s);
        if (d < 0 || (d & 0xc0) != 0x80) {
            *s = before; /* that byte starts the next character */
            return 0xfffd;
        }
        cp = cp << 6 | ((uint32_t)d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0xfffd;
    return (long)cp;
}

/* C0 and C1 controls and DEL, but newline and tab, which a comment
 * keeps. */
static int dropped(long cp)
{
    return (cp < 0x20 && cp != '\n' && cp != '\t') || (cp >= 0x7f && cp < 0xa0);
}

static int blank(long cp)
{
    return cp == ' ' || cp == '\t' || cp == '\n';
}

/* Writes cp as UTF-8 into out; returns the bytes written. */
static size_t utf8_put(long cp, char out[4])
{
    uint32_t c = (uint32_t)cp;
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        out[0] = (char)(0xc0 | c >> 6);
        out[1] = (char)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        out[0] = (char)(0xe0 | c >> 12);
        out[1] = (char)(0x80 | (c >> 6 & 0x3f));
        out[2] = (char)(0x80 | (c & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | c >> 18);
    out[1] = (char)(0x80 | (c >> 12 & 0x3f));
    out[2] = (char)(0x80 | (c >> 6 & 0x3f));
    out[3] = (char)(0x80 | (c & 0x3f));
    return 4;
}

/* Reads character by character, so that the text is cut at a character
 * boundary and reading stops as soon as it is full, however long the
 * body. */
size_t ac_rating_page_comment(const char *body, size_t len, char *out, size_t outsz)
{
    src_t s;
    size_t n = 0, cap;
    long cp;
    if (!out || !outsz)
        return 0;
    out[0] = '\0';
    cap = outsz - 1 < AC_RATING_PAGE_MAX_COMMENT ? outsz - 1 : AC_RATING_PAGE_MAX_COMMENT;
    if (!body || !find_field(body, len, "comment", &s))
        return 0;
    while ((cp = next_char(&s)) >= 0) {
        char enc[4];
        if (dropped(cp) || (n == 0 && blank(cp)))
            continue;
        size_t k = utf8_put(cp, enc);
        if (n + k > cap)
            break;
        memcpy(out + n, enc, k);
        n += k;
    }
    while (n && blank((unsigned char)out[n - 1]))
        n--;
    out[n] = '\0';
    return n;
}
