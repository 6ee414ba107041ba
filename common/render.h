/* Turning a decided message into what the customer reads: the channel and
 * address to reach them on, the language, and the subject and text from
 * the template for kind x channel x language. */
#ifndef AC_RENDER_H
#define AC_RENDER_H

#include <stddef.h>

#include "message.h"

typedef enum ac_channel { AC_CHANNEL_EMAIL = 0, AC_CHANNEL_SMS, AC_CHANNEL__COUNT } ac_channel_t;

const char *ac_channel_name(ac_channel_t ch);

/* Picks how to reach the customer of ev: email when they gave an address,
 * else SMS when they gave a phone number. Returns 0 with *ch and *to (owned
 * by ev) set, or -1 when the customer cannot be reached at all. */
int ac_render_channel(const ac_event_t *ev, ac_channel_t *ch, const char **to);

/* The two-letter language of the message: the customer's locale, else the
 * store's, else "en", restricted to the languages templates exist for. */
const char *ac_render_language(const ac_event_t *ev);

typedef struct ac_rendered {
    char *subject; /* NULL for SMS */
    char *text;
    const char *language;
} ac_rendered_t;

/* Renders m for channel ch into out (free with ac_rendered_free()).
 * Returns 0, or -1 with err filled. */
int ac_render_message(const ac_message_t *m, ac_channel_t ch, ac_rendered_t *out, char *err,
                      size_t errsz);

/* Releases what out holds; accepts a zeroed or already freed struct. */
void ac_rendered_free(ac_rendered_t *out);

/* Formats an amount of money for a language: "148.98 EUR", "148,98 EUR",
 * "1200 JPY" (currencies without minor units get no decimals). */
void ac_render_money(double amount, const char *currency, const char *language, char *buf,
                     size_t bufsz);

#endif
