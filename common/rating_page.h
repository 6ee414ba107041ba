/* The pages a customer sees after clicking a one-click rating link
 * (GET /r/{token} on the ingest gateway, ingest_rating.c), and the reader
 * of the comment form those pages carry (pure; no I/O).
 *
 * A page is small, self-contained HTML: inline CSS, no scripts, no
 * external resources, readable on a phone, in English or German. It is
 * sent with the headers in ac_rating_page_headers, whose
 * Content-Security-Policy forbids everything but inline styles and a form
 * posting back to the gateway, so even a mistake in the escaping could not
 * load or run anything.
 *
 * The comment form's body is outside input: ac_rating_page_comment() reads
 * it the way browsers write it (application/x-www-form-urlencoded, UTF-8)
 * and returns only clean text that is safe to put into an event. */
#ifndef AC_RATING_PAGE_H
#define AC_RATING_PAGE_H

#include <stddef.h>

/* The longest comment kept, in bytes. */
#define AC_RATING_PAGE_MAX_COMMENT 2000

/* The Content-Type of every page. */
#define AC_RATING_PAGE_CONTENT_TYPE "text/html; charset=utf-8"

/* The other headers of every page, as NULL-terminated name/value pairs. */
extern const char *const ac_rating_page_headers[];

typedef enum ac_rating_page_kind {
    AC_RATING_PAGE_THANKS,      /* 200: the rating was taken */
    AC_RATING_PAGE_COMMENTED,   /* 200: the comment was taken; the store will answer */
    AC_RATING_PAGE_INVALID,     /* 404: forged, altered or malformed link */
    AC_RATING_PAGE_EXPIRED,     /* 410: a genuine link whose time is up */
    AC_RATING_PAGE_UNAVAILABLE, /* 503: try again in a minute */
} ac_rating_page_kind_t;

typedef struct ac_rating_page {
    ac_rating_page_kind_t kind;
    const char *lang;       /* "en" or "de" (ac_rating_page_lang()); anything else is English */
    const char *store_name; /* shown (escaped) when neither NULL nor empty */
    int rating;             /* THANKS: the stars shown, 1..5; anything else shows none */
    /* THANKS: the URL the comment form posts to (escaped as written), or
     * NULL for a page without the form. */
    const char *form_action;
} ac_rating_page_t;

/* True for the ratings whose thank-you page asks what went wrong. */
int ac_rating_page_wants_comment(int rating);

/* The language of a page: the lang parameter of query (the URL's query
 * string without "?", NULL for none) when it is a language there are
 * pages in ("de", "DE", "de-AT", "de_CH" all read as "de"), else the
 * language of locale (the store's) when there are pages in it, else
 * "en". Returns a static string. */
const char *ac_rating_page_lang(const char *query, const char *locale);

/* Renders the page as a NUL-terminated, malloc'd string (the caller frees
 * it) and its length in *len. NULL when out of memory. */
char *ac_rating_page_render(const ac_rating_page_t *p, size_t *len);

/* Reads the first "comment" field of a form body of len bytes (not
 * necessarily NUL-terminated): "+" is a space and %XX a byte; a "%" not
 * followed by two hex digits stays as it is. The bytes must be UTF-8:
 * each byte of an invalid sequence becomes U+FFFD. Control characters
 * other than newline and tab are dropped (so CR LF, as browsers send a
 * textarea's line breaks, becomes LF), whitespace around the text is
 * trimmed, and the text is cut at a character boundary to at most
 * AC_RATING_PAGE_MAX_COMMENT bytes (and at most outsz - 1). Writes it,
 * NUL-terminated, into out and returns its length: 0 for no field or
 * nothing but blanks. */
size_t ac_rating_page_comment(const char *body, size_t len, char *out, size_t outsz);

#endif
