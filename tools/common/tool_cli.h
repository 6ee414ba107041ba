/* Command-line helpers shared by the tools: error lines in one format,
 * option parsing, strict number parsing and atomic file writes. Nothing
 * here allocates; the program name given to ac_tool_cli_init() must stay valid
 * (a string literal). */
#ifndef AC_TOOL_CLI_H
#define AC_TOOL_CLI_H

#include <getopt.h>
#include <stddef.h>

/* The name every error line starts with. Call first thing in main(). */
void ac_tool_cli_init(const char *prog);

/* Writes one line, "PROG: " and the message, to stderr: a single line per
 * failure keeps it easy to spot in test output. */
void ac_tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses s as a whole base-10 number within [min, max] into *out. Returns
 * 0, or -1 (and leaves *out alone) for anything else, trailing characters
 * included. */
int ac_tool_parse_long(const char *s, long min, long max, long *out);

/* getopt_long() over long options only, reporting what it rejects in one
 * error line: "ARG: missing argument", and for an unknown option
 * "ARG: unknown" when unknown is given, else "ARG: option takes no
 * argument" (a value given to a flag) or "ARG: unknown option". Returns the
 * option's value, -1 at the end of the options, or '?' after an error. */
int ac_tool_getopt(int argc, char **argv, const struct option *longopts, const char *unknown);

/* After ac_tool_getopt() returned -1: 0 when no argument is left, else -1
 * after "ARG: unexpected argument". */
int ac_tool_no_operands(int argc, char **argv);

/* Replaces path with len bytes of data: written to a temporary file beside
 * it, fsync'ed and renamed into place, so a reader sees the old file or the
 * whole new one. Returns 0, or -1 with err holding strerror()'s text. */
int ac_tool_write_file_atomic(const char *path, const void *data, size_t len, char *err,
                              size_t errsz);

#endif
