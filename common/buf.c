#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int reserve(ac_buf_t *b, size_t extra)
{
    if (b->oom)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->oom = 1;
        return -1;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

void ac_buf_append(ac_buf_t *b, const char *s, size_t n)
{
    if (reserve(b, n) < 0)
        return;
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void ac_buf_puts(ac_buf_t *b, const char *s)
{
    ac_buf_append(b, s, strlen(s));
}

size_t ac_buf_int_text(long long v, char out[AC_BUF_INT_MAX])
{
    char tmp[AC_BUF_INT_MAX];
    size_t i = sizeof(tmp);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[--i] = '-';
    memcpy(out, tmp + i, sizeof(tmp) - i);
    return sizeof(tmp) - i;
}

void ac_buf_append_int(ac_buf_t *b, long long v)
{
    char text[AC_BUF_INT_MAX];
    ac_buf_append(b, text, ac_buf_int_text(v, text));
}

void ac_buf_printf(ac_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

char *ac_buf_steal(ac_buf_t *b)
{
    char *d = b->oom ? NULL : b->data;
    if (!d && !b->oom)
        d = calloc(1, 1);
    if (b->oom)
        free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
    return d;
}

void ac_buf_free(ac_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
}
