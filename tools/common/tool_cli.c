#include "tool_cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* Readers poll for the files the tools write (port files, pid files,
 * reports), so they must never see one partly written, nor an empty one
 * after a crash: the content goes to a temporary file in the same
 * directory, is flushed to disk, and is renamed over the target. */
int ac_tool_write_file_atomic(const char *path, const void *data, size_t len, char *err,
                              size_t errsz)
{
    char tmp[PATH_MAX];
    const char *p = data;
    int fd = -1, rc = -1, created = 0;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        goto out;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0)
        goto out;
    created = 1;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out;
        p += n;
        len -= (size_t)n;
    }
    if (fsync(fd) != 0)
        goto out;
    int closed = close(fd);
    fd = -1;
    if (closed != 0 || rename(tmp, path) != 0)
        goto out;
    created = 0;
    rc = 0;
out:
    if (rc != 0)
        snprintf(err, errsz, "%s", strerror(errno));
    if (fd >= 0)
        close(fd);
    if (created)
        unlink(tmp);
    return rc;
}

/* Every tool reads options the same way: long options only, and one line
 * naming the offending argument for anything getopt_long() rejects, so the
 * tests can match a usage error whichever tool made it. */
int ac_tool_getopt(int argc, char **argv, const struct option *longopts, const char *unknown)
{
    opterr = 0;
    int c = getopt_long(argc, argv, ":", longopts, NULL);
    if (c == ':') {
        ac_tool_error("%s: missing argument", argv[optind - 1]);
        return '?';
    }
    if (c != '?')
        return c;
    if (unknown)
        ac_tool_error("%s: %s", argv[optind - 1], unknown);
    else if (optopt != 0 && strncmp(argv[optind - 1], "--", 2) == 0)
        ac_tool_error("%s: option takes no argument", argv[optind - 1]);
    else
        ac_tool_error("%s: unknown option", argv[optind - 1]);
    return '?';
}

/* The tools take no operands, so a stray word is a mistake (a flag with a
 * missing dash, say) rather than something to ignore. */
int ac_tool_no_operands(int argc, char **argv)
{
    if (optind < argc) {
        ac_tool_error("%s: unexpected argument", argv[optind]);
        return -1;
    }
    return 0;
}
