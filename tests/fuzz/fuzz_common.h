/* What the fuzz targets share: splitting an input into fields, the
 * properties every parsed event and every rendered message must have, and
 * the path a decided message takes through notify-worker up to the HTTP
 * request (render, webhook body, provider requests), without a network.
 *
 * A property that does not hold aborts with a line naming it, so that
 * libFuzzer (and the corpus replay under AddressSanitizer) reports the
 * input as a crash. */
#ifndef AC_FUZZ_COMMON_H
#define AC_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "message.h"
#include "provider.h"
#include "render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

void fuzz_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 4, 5)));

/* Aborts with the location, the condition and a message when cond is false. */
#define FUZZ_CHECK(cond, ...)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fuzz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__);                                     \
    } while (0)

/* Copies data into a NUL-terminated buffer (*copy, to free) and points
 * fields[0..max) at its NUL-separated parts; fields beyond the input are
 * "". Returns how many parts the input has (at most max). */
size_t fuzz_split(const uint8_t *data, size_t size, char **copy, const char **fields, size_t max);

/* A copy of data in a buffer of exactly size bytes (to free), so that
 * reading past the input is caught. */
char *fuzz_memdup(const uint8_t *data, size_t size);

/* A NUL-terminated copy of data (to free). */
char *fuzz_strndup(const uint8_t *data, size_t size);

/* Strict UTF-8 (RFC 3629), as ac_event_parse() checks records. */
int fuzz_utf8_valid(const char *s, size_t n);

/* The contract of a parsed event (event.h, docs/events.md). */
void fuzz_check_event(const ac_event_t *ev);

/* Two parses of the same event, or an event and its copy through a
 * notification record, read the same. */
void fuzz_check_same_event(const ac_event_t *a, const ac_event_t *b);

/* Encodes m as a notification record, decodes it, and checks that what
 * comes back is the same message. */
void fuzz_check_message_roundtrip(const ac_message_t *m);

/* The HTML of an email: only the markup render.c writes, and links only to
 * http(s) URLs. */
void fuzz_check_html(const char *html);

/* Text rendered with AC_TEMPLATE_ESCAPE_HTML_TEXT: no markup but links to
 * http(s) URLs. */
void fuzz_check_html_text(const char *s);

/* Builds the request provider kind, set up from s, makes for m rendered
 * as r on ch to address to, and checks it: clean header lines, a body that
 * carries the rendered text, a signature when there is a secret. */
void fuzz_check_provider(ac_provider_kind_t kind, const ac_provider_settings_t *s,
                         const ac_message_t *m, ac_channel_t ch, const char *to,
                         const ac_rendered_t *r);

/* What notify-worker does with a decided message once it has it: picks the
 * channel (prefer: an ac_channel_t or -1), renders m on both channels with
 * extras x (NULL: none), checks the texts, and builds the webhook body and
 * every provider's request. utf8_inputs says that every text that went in
 * (the event, x, the template overrides) was valid UTF-8, so the texts
 * must be too. */
void fuzz_deliver(const ac_message_t *m, const ac_render_extras_t *x, int prefer, int utf8_inputs);

#endif
