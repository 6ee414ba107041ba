/* Command-line helpers shared by the tools (ac-kafka, ac-bench-kafka):
 * error lines in one format and strict number parsing. Nothing here
 * allocates; the program name given to ac_tool_cli_init() must stay valid
 * (a string literal). */
#ifndef AC_TOOL_CLI_H
#define AC_TOOL_CLI_H

/* The name every error line starts with. Call first thing in main(). */
void ac_tool_cli_init(const char *prog);

/* Writes one line, "PROG: " and the message, to stderr: a single line per
 * failure keeps it easy to spot in test output. */
void ac_tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses s as a whole base-10 number within [min, max] into *out. Returns
 * 0, or -1 (and leaves *out alone) for anything else, trailing characters
 * included. */
int ac_tool_parse_long(const char *s, long min, long max, long *out);

#endif
