/* Redis commands in RESP, the form they travel in ("*N\r\n$len\r\narg\r\n"
 * per argument), as far as a Redis Cluster client needs it (pure): a
 * batch keeps every command formatted in one growing buffer, so that it
 * can be sent again after a redirection, and each command is sent to the
 * node serving the slot of its key.
 *
 * Part of issue 16's cluster layer (common/redis_cluster.c). */
#ifndef AC_RESP_H
#define AC_RESP_H

#include <stdarg.h>
#include <stddef.h>

#include "buf.h"

/* Appends argv (argc arguments, lengths in argvlen, NULL: strlen) to b as
 * one command, exactly as hiredis's redisFormatCommandArgv() writes it.
 * An allocation failure sets b->oom, as every ac_buf_t append does. */
void ac_resp_append_argv(ac_buf_t *b, int argc, const char *const *argv, const size_t *argvlen);

/* The most arguments and directives ac_resp_append_vfmt() formats; a
 * longer format is left to hiredis. */
#define AC_RESP_FMT_MAX 32

/* Appends the command fmt describes, as hiredis's redisvFormatCommand()
 * would write it: spaces separate arguments, and %s (a C string), %b (a
 * pointer and a size_t length), %d, %lld and %% fill them. It formats
 * without printf or any allocation but b's, because the event path
 * formats some twenty commands per event. Returns 0, or -1 with b
 * unchanged for a directive it does not know or more than
 * AC_RESP_FMT_MAX arguments or directives: the caller then formats with
 * hiredis, from a copy of ap. */
int ac_resp_append_vfmt(ac_buf_t *b, const char *fmt, va_list ap);

/* The parts of ac_resp_append_argv(), for a command whose arguments are
 * not in one array: the header of a command of argc arguments, then each
 * argument. */
void ac_resp_append_header(ac_buf_t *b, int argc);
void ac_resp_append_arg(ac_buf_t *b, const char *arg, size_t len);

/* The argument idx (0: the command's name) of the command cmd of len
 * bytes: 0 with *arg and *arglen, or -1 when it has no such argument or
 * is not a well-formed command. */
int ac_resp_arg(const char *cmd, size_t len, int idx, const char **arg, size_t *arglen);

/* The key a command is routed by: for EVAL and EVALSHA (and their _RO
 * forms and FCALL) the first key, when numkeys is above 0; for commands
 * that concern a server rather than a key (PING, SCRIPT, INFO, CLUSTER,
 * ...) or that have no argument, none; else the first argument. Returns
 * 0 with *key and *keylen, or -1 when there is none (any node serves the
 * command) or cmd is not well formed. */
int ac_resp_key(const char *cmd, size_t len, const char **key, size_t *keylen);

/* The hash slot a command goes to (ac_slot_of() of its key), or -1 when
 * it has no key. */
int ac_resp_slot(const char *cmd, size_t len);

#endif
