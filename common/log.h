/* Structured logging: one JSON object per line on stderr, so that log
 * collectors can index by level, worker and the record being processed.
 * Customer addresses are never logged in clear: every message is scrubbed
 * of email addresses and phone numbers unless LOG_MASK is off. */
#ifndef AC_LOG_H
#define AC_LOG_H

#include <stddef.h>
#include <stdint.h>

enum { AC_LOG_DEBUG = 0, AC_LOG_INFO = 1, AC_LOG_WARN = 2, AC_LOG_ERROR = 3 };

/* The record a log line is about; unset fields (NULL, -1) are left out. */
typedef struct ac_log_ctx {
    const char *topic;
    int32_t partition;
    int64_t offset;
    const char *event_id;
    const char *message_id;
} ac_log_ctx_t;

#define AC_LOG_CTX_NONE                                                                            \
    {                                                                                              \
        NULL, -1, -1, NULL, NULL                                                                   \
    }

/* Sets the worker name stamped on every line and the minimum level.
 * worker is copied. */
void ac_log_init(const char *worker, int level);

/* Copies in to out with every email address and +E.164 phone number in
 * it masked as ac_log_mask() does; returns the length written. Every log
 * line goes through it while masking is on. */
size_t ac_log_scrub(const char *in, char *out, size_t outsz);

/* True when lines of this level are written, to skip building them. */
int ac_log_enabled(int level);

/* Turns masking of customer addresses on (the default) or off. */
void ac_log_set_mask(int on);

/* Maps "debug", "info", "warn", "error" to a level; -1 when unknown. */
int ac_log_level_parse(const char *s);

void ac_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ac_log_at(int level, const ac_log_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Masks an email ("z***@example.com") or phone number ("+44******89") into
 * buf and returns buf; anything else is masked whole. After
 * ac_log_set_mask(0) (LOG_MASK=false, for local debugging) the address is
 * copied as it is. */
const char *ac_log_mask(const char *addr, char *buf, size_t bufsz);

#endif
