#include "tool_cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static const char *tool_prog = "ac-tool";

void ac_tool_cli_init(const char *prog)
{
    if (prog)
        tool_prog = prog;
}

void ac_tool_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", tool_prog);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int ac_tool_parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}
