/* Turning a decided message into what the customer reads: the language,
 * and the subject and text from the template for kind x channel x language
 * (channel.h chooses the channel and address). */
#ifndef AC_RENDER_H
#define AC_RENDER_H

#include <stddef.h>

#include "channel.h"
#include "message.h"
#include "rendered.h"
#include "templates.h"

/* The two-letter language of the message: the customer's locale, else the
 * store's, else "en", restricted to the languages templates exist for. */
const char *ac_render_language(const ac_event_t *ev);

/* The store's language ("en" when it has none we write): what a
 * store_alert is written in. */
const char *ac_render_store_language(const ac_event_t *ev);

/* The most segments an SMS may take (see sms.h): a longer text is billed
 * as more messages and, on some phones, arrives in pieces.
 *
 * Every SMS template names, least needed first, the variables it can do
 * without. While the rendered text needs more segments than this, the
 * next of them is left out as if the event had not carried it: its
 * {{#name}} sections drop out and its {{^name}} fallbacks step in, so the
 * text stays whole, only shorter. The store-name prefix, the item summary
 * and the customer's name go this way, and links give way to what the
 * template offers instead (the tracking number for the tracking link).
 * The pseudo-variable "extra" is set until it is left out and marks
 * sentences a message reads well without ("We'll text you when it
 * ships."); it is usually the first to go. What is left once every listed
 * variable is out goes as it is, whatever its length, rather than not at
 * all: with real values it fits (the unit tests show it for every kind and
 * language with long ones). Email has no such limit and sheds nothing. */
#define AC_RENDER_SMS_MAX_SEGMENTS 2

/* Renders m for channel ch into out (free with ac_rendered_free()); an SMS
 * is kept within AC_RENDER_SMS_MAX_SEGMENTS as described above. Returns 0,
 * or -1 with err filled. */
int ac_render_message(const ac_message_t *m, ac_channel_t ch, ac_rendered_t *out, char *err,
                      size_t errsz);

/* What a message may use beyond its event, looked up by notify-worker: the
 * store's review and referral links, the customer's referral code, and a
 * product to suggest (history.h). Any field may be NULL; the templates
 * fall back to wording without it. */
typedef struct ac_render_extras {
    const char *review_url, *referral_url, *referral_code, *suggestion;
    const ac_templates_t *templates; /* overrides, tried before the built-in ones */
    /* A review request's one-click rating links, for 1 to 5 stars (NULL:
     * none): {{rating_1_url}} .. {{rating_5_url}}. */
    const char *const *rating_urls;
    /* Set when the store has a support contact its complaints go to, so
     * that a feedback follow-up may promise a person's answer: {{#support}}. */
    const char *support;
} ac_render_extras_t;

/* ac_render_message() with extras (NULL: none). */
int ac_render_message_with(const ac_message_t *m, ac_channel_t ch, const ac_render_extras_t *x,
                           ac_rendered_t *out, char *err, size_t errsz);

/* Checks the built-in templates: each well formed, and each name an SMS
 * template may shed used as a section in it. Returns 0, or -1 with err
 * naming the template; a failure is a bug in the catalog, for the unit
 * tests to catch. */
int ac_render_check_templates(char *err, size_t errsz);

/* Formats an amount of money for a language: "148.98 EUR", "148,98 EUR",
 * "1200 JPY" (currencies without minor units get no decimals). */
void ac_render_money(double amount, const char *currency, const char *language, char *buf,
                     size_t bufsz);

#endif
