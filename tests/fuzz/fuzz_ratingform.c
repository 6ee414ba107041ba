/* Fuzz target: the comment form of the one-click rating pages
 * (common/rating_page.c), the one part of the rating links that reads
 * free text from the internet.
 *
 * The input is the body of a POST /r/{token}, as a browser (or anyone)
 * sends it: ac_rating_page_comment() reads exactly its bytes. The comment
 * must be strict UTF-8, without control characters but newline and tab,
 * without blanks around it, at most AC_RATING_PAGE_MAX_COMMENT bytes, and
 * read back the same once encoded as a browser would encode it; read into
 * a smaller buffer, it must be a prefix of the whole.
 *
 * The input is then a store name, a form URL, a query string and a
 * locale (up to its first NUL): ac_rating_page_lang() picks one of the
 * languages there are pages in, and a page with the input as the store's
 * name and the form's URL has exactly the markup (every '<', '>', '"'
 * and '\'') of the same page with a harmless name. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "fuzz_common.h"
#include "rating_page.h"

/* Fails unless s (n bytes) is a comment ac_rating_page_comment() may
 * return. */
static void check_clean(const char *s, size_t n)
{
    FUZZ_CHECK(n <= AC_RATING_PAGE_MAX_COMMENT, "comment of %zu bytes", n);
    FUZZ_CHECK(strlen(s) == n, "comment of %zu bytes has a NUL at %zu", n, strlen(s));
    FUZZ_CHECK(fuzz_utf8_valid(s, n), "comment is not UTF-8");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        FUZZ_CHECK(c >= 0x20 || c == '\n' || c == '\t', "control byte 0x%02x at %zu", c, i);
        FUZZ_CHECK(c != 0x7f, "DEL at %zu", i);
        FUZZ_CHECK(!(c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] < 0xa0), "C1 control at %zu",
                   i);
    }
    if (n) {
        FUZZ_CHECK(!strchr(" \t\n", s[0]), "comment starts with a blank");
        FUZZ_CHECK(!strchr(" \t\n", s[n - 1]), "comment ends with a blank");
    }
}

/* The comment written back as a browser would post it. */
static char *encode(const char *s, size_t *len)
{
    static const char hex[] = "0123456789ABCDEF";
    ac_buf_t b = AC_BUF_INIT;
    ac_buf_puts(&b, "rating=2&comment=");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
        if (*p == ' ')
            ac_buf_append(&b, "+", 1);
        else if ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))
            ac_buf_append(&b, (const char *)p, 1);
        else
            ac_buf_append(&b, e, 3);
    }
    ac_buf_puts(&b, "&comment=not+this+one");
    *len = b.len;
    return ac_buf_steal(&b);
}

static void check_comment(const uint8_t *data, size_t size)
{
    char out[AC_RATING_PAGE_MAX_COMMENT + 1], again[AC_RATING_PAGE_MAX_COMMENT + 1];
    char small[64];
    char *body = fuzz_memdup(data, size);
    size_t n = ac_rating_page_comment(body, size, out, sizeof(out));
    check_clean(out, n);

    size_t len = 0;
    char *enc = encode(out, &len);
    FUZZ_CHECK(enc != NULL, "out of memory");
    size_t m = ac_rating_page_comment(enc, len, again, sizeof(again));
    FUZZ_CHECK(m == n && memcmp(out, again, n) == 0, "the comment reads back as %zu bytes, not %zu",
               m, n);
    free(enc);

    size_t cap = size ? (size_t)data[0] % sizeof(small) + 1 : 1;
    size_t k = ac_rating_page_comment(body, size, small, cap);
    check_clean(small, k);
    FUZZ_CHECK(k < cap && k <= n && memcmp(small, out, k) == 0,
               "the comment read into %zu bytes (%zu) is not a prefix of the whole (%zu)", cap, k,
               n);
    free(body);
}

/* How many times each character that makes markup occurs in s. */
static void markup(const char *s, size_t count[4])
{
    static const char marks[4] = {'<', '>', '"', '\''};
    for (int i = 0; i < 4; i++) {
        count[i] = 0;
        for (const char *p = s; (p = strchr(p, marks[i])) != NULL; p++)
            count[i]++;
    }
}

static void check_page(const uint8_t *data, size_t size)
{
    char *text = fuzz_strndup(data, size);
    const char *lang = ac_rating_page_lang(text, text);
    FUZZ_CHECK(strcmp(lang, "en") == 0 || strcmp(lang, "de") == 0, "language %s", lang);
    for (int kind = AC_RATING_PAGE_THANKS; kind <= AC_RATING_PAGE_UNAVAILABLE; kind++) {
        ac_rating_page_t mine = {(ac_rating_page_kind_t)kind, lang, text, 2, text};
        /* The same page: a store paragraph exactly when the input has a
         * name to show. */
        ac_rating_page_t safe = {(ac_rating_page_kind_t)kind, lang, *text ? "x" : "", 2, "x"};
        size_t len = 0, a[4], b[4];
        char *page = ac_rating_page_render(&mine, &len);
        char *ref = ac_rating_page_render(&safe, NULL);
        FUZZ_CHECK(page && ref, "out of memory");
        FUZZ_CHECK(strlen(page) == len, "page of %zu bytes has a NUL at %zu", len, strlen(page));
        markup(page, a);
        markup(ref, b);
        FUZZ_CHECK(memcmp(a, b, sizeof(a)) == 0,
                   "the store's name added markup: < %zu/%zu, > %zu/%zu, \" %zu/%zu, ' %zu/%zu",
                   a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3]);
        free(page);
        free(ref);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_comment(data, size);
    check_page(data, size);
    return 0;
}
