#include "resp.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "slot.h"

/* Writes "<prefix><n>\r\n" without printf: a batch formats thousands of
 * these. */
static void append_count(ac_buf_t *b, char prefix, size_t n)
{
    char tmp[32];
    size_t i = sizeof(tmp);
    tmp[--i] = '\n';
    tmp[--i] = '\r';
    do {
        tmp[--i] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    tmp[--i] = prefix;
    ac_buf_append(b, tmp + i, sizeof(tmp) - i);
}

void ac_resp_append_header(ac_buf_t *b, int argc)
{
    append_count(b, '*', (size_t)argc);
}

void ac_resp_append_arg(ac_buf_t *b, const char *arg, size_t len)
{
    append_count(b, '$', len);
    ac_buf_append(b, arg, len);
    ac_buf_append(b, "\r\n", 2);
}

void ac_resp_append_argv(ac_buf_t *b, int argc, const char *const *argv, const size_t *argvlen)
{
    ac_resp_append_header(b, argc);
    for (int i = 0; i < argc; i++)
        ac_resp_append_arg(b, argv[i], argvlen ? argvlen[i] : strlen(argv[i]));
}

/* One directive's text: a pointer to the caller's bytes, or a number
 * written into num. */
typedef struct piece {
    const char *p;
    size_t n;
    char num[24];
} piece_t;

/* Writes v in decimal into pc->num. */
static void piece_number(piece_t *pc, long long v)
{
    pc->n = ac_buf_int_text(v, pc->num);
    pc->p = pc->num;
}

/* Reads the directive at f (just past its '%') into pc and returns the
 * format's position after it, or NULL for a directive not handled here. */
static const char *read_directive(const char *f, piece_t *pc, va_list *ap)
{
    if (*f == 's') {
        pc->p = va_arg(*ap, const char *);
        pc->n = pc->p ? strlen(pc->p) : 0;
        return f + 1;
    }
    if (*f == 'b') {
        pc->p = va_arg(*ap, const char *);
        pc->n = va_arg(*ap, size_t);
        return f + 1;
    }
    if (*f == 'd') {
        piece_number(pc, va_arg(*ap, int));
        return f + 1;
    }
    if (f[0] == 'l' && f[1] == 'l' && f[2] == 'd') {
        piece_number(pc, va_arg(*ap, long long));
        return f + 3;
    }
    if (*f == '%') {
        pc->p = "%";
        pc->n = 1;
        return f + 1;
    }
    return NULL;
}

/* The first pass: reads every directive's value into pcs and each
 * argument's length into lens. Returns the argument count, or -1. */
static int measure(const char *fmt, va_list *ap, piece_t *pcs, size_t *lens)
{
    int argc = 0, npc = 0, touched = 0;
    size_t len = 0;
    for (const char *f = fmt; *f;) {
        if (*f == ' ') {
            if (touched) {
                if (argc == AC_RESP_FMT_MAX)
                    return -1;
                lens[argc++] = len;
            }
            len = 0;
            touched = 0;
            f++;
        } else if (*f == '%') {
            if (npc == AC_RESP_FMT_MAX || !(f = read_directive(f + 1, &pcs[npc], ap)))
                return -1;
            len += pcs[npc++].n;
            touched = 1;
        } else {
            len++;
            touched = 1;
            f++;
        }
    }
    if (touched) {
        if (argc == AC_RESP_FMT_MAX)
            return -1;
        lens[argc++] = len;
    }
    return argc;
}

int ac_resp_append_vfmt(ac_buf_t *b, const char *fmt, va_list ap)
{
    piece_t pcs[AC_RESP_FMT_MAX];
    size_t lens[AC_RESP_FMT_MAX];
    va_list cp;
    va_copy(cp, ap);
    int argc = measure(fmt, &cp, pcs, lens);
    va_end(cp);
    if (argc < 0)
        return -1;
    ac_resp_append_header(b, argc);
    int arg = 0, npc = 0, touched = 0;
    for (const char *f = fmt; *f; f++) {
        if (*f == ' ') {
            if (touched)
                ac_buf_append(b, "\r\n", 2);
            touched = 0;
            continue;
        }
        if (!touched)
            append_count(b, '$', lens[arg++]);
        touched = 1;
        if (*f == '%') {
            ac_buf_append(b, pcs[npc].p, pcs[npc].n);
            npc++;
            f += (f[1] == 'l') ? 3 : 1;
        } else {
            ac_buf_append(b, f, 1);
        }
    }
    if (touched)
        ac_buf_append(b, "\r\n", 2);
    return 0;
}

/* Reads the decimal count after the prefix at *p, up to "\r\n", and moves
 * *p past it. Returns the count, or -1 when malformed. */
static long long read_count(const char **p, const char *end, char prefix)
{
    const char *s = *p;
    long long n = 0;
    if (s >= end || *s++ != prefix || s >= end || *s < '0' || *s > '9')
        return -1;
    while (s < end && *s >= '0' && *s <= '9') {
        if (n > (INT64_MAX - 9) / 10)
            return -1;
        n = n * 10 + (*s++ - '0');
    }
    if (end - s < 2 || s[0] != '\r' || s[1] != '\n')
        return -1;
    *p = s + 2;
    return n;
}

int ac_resp_arg(const char *cmd, size_t len, int idx, const char **arg, size_t *arglen)
{
    const char *p = cmd, *end = cmd + len;
    long long argc = read_count(&p, end, '*');
    if (idx < 0 || argc <= idx)
        return -1;
    for (int i = 0; i <= idx; i++) {
        long long n = read_count(&p, end, '$');
        if (n < 0 || end - p < n + 2 || p[n] != '\r' || p[n + 1] != '\n')
            return -1;
        if (i == idx) {
            *arg = p;
            *arglen = (size_t)n;
            return 0;
        }
        p += n + 2;
    }
    return -1;
}

/* Commands about a server rather than a key: any node answers them. */
static int keyless(const char *name, size_t len)
{
    static const char *const names[] = {
        "PING",      "ECHO", "INFO",     "SCRIPT",    "CLUSTER", "ASKING",   "AUTH",
        "SELECT",    "TIME", "DBSIZE",   "FLUSHALL",  "FLUSHDB", "CONFIG",   "CLIENT",
        "COMMAND",   "WAIT", "READONLY", "READWRITE", "HELLO",   "LASTSAVE", "SLOWLOG",
        "RANDOMKEY", "KEYS", "SCAN",     "MEMORY",    "LATENCY", "FUNCTION",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == len && strncasecmp(names[i], name, len) == 0)
            return 1;
    return 0;
}

/* Whether the command takes numkeys then its keys (EVAL and kin). */
static int scripted(const char *name, size_t len)
{
    static const char *const names[] = {"EVAL",       "EVALSHA", "EVAL_RO",
                                        "EVALSHA_RO", "FCALL",   "FCALL_RO"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strlen(names[i]) == len && strncasecmp(names[i], name, len) == 0)
            return 1;
    return 0;
}

int ac_resp_key(const char *cmd, size_t len, const char **key, size_t *keylen)
{
    const char *name, *nk;
    size_t name_len, nk_len;
    if (ac_resp_arg(cmd, len, 0, &name, &name_len) < 0 || keyless(name, name_len))
        return -1;
    if (!scripted(name, name_len))
        return ac_resp_arg(cmd, len, 1, key, keylen);
    if (ac_resp_arg(cmd, len, 2, &nk, &nk_len) < 0 || nk_len == 0 || nk_len > 9)
        return -1;
    long numkeys = 0;
    for (size_t i = 0; i < nk_len; i++) {
        if (nk[i] < '0' || nk[i] > '9')
            return -1;
        numkeys = numkeys * 10 + (nk[i] - '0');
    }
    if (numkeys == 0)
        return -1;
    return ac_resp_arg(cmd, len, 3, key, keylen);
}

int ac_resp_slot(const char *cmd, size_t len)
{
    const char *key;
    size_t keylen;
    return ac_resp_key(cmd, len, &key, &keylen) < 0 ? -1 : ac_slot_of(key, keylen);
}
