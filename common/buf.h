/* A growable byte buffer, always NUL-terminated. The buffer owns data;
 * ac_buf_free() releases it and leaves an empty buffer. */
#ifndef AC_BUF_H
#define AC_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct ac_buf {
    char *data;
    size_t len;
    size_t cap;
    int oom; /* set once an allocation failed; later appends are ignored */
} ac_buf_t;

#define AC_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0, 0                                                                              \
    }

void ac_buf_append(ac_buf_t *b, const char *s, size_t n);
void ac_buf_puts(ac_buf_t *b, const char *s);
void ac_buf_printf(ac_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes v in decimal into out (no NUL) without printf, which was a few
 * percent of an event worker's CPU where numbers are written per record;
 * returns its length. */
#define AC_BUF_INT_MAX 20
size_t ac_buf_int_text(long long v, char out[AC_BUF_INT_MAX]);

/* Appends v in decimal (ac_buf_int_text()). */
void ac_buf_append_int(ac_buf_t *b, long long v);

/* Hands the data over to the caller (free() it); the buffer is reset.
 * Returns NULL if an allocation failed along the way. */
char *ac_buf_steal(ac_buf_t *b);
void ac_buf_free(ac_buf_t *b);

#endif
