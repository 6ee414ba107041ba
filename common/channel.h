/* The channels a customer message travels on, and which one reaches a
 * given customer. Nothing here allocates: names are static strings and the
 * address ac_channel_choose() hands back is owned by the event. */
#ifndef AC_CHANNEL_H
#define AC_CHANNEL_H

#include "event.h"

typedef enum ac_channel { AC_CHANNEL_EMAIL = 0, AC_CHANNEL_SMS, AC_CHANNEL__COUNT } ac_channel_t;

/* "email" or "sms": the name settings, template files, preferences and
 * the webhook body use. */
const char *ac_channel_name(ac_channel_t ch);

/* Returns 0 and sets *ch when name is "email" or "sms", else -1. */
int ac_channel_parse(const char *name, ac_channel_t *ch);

/* Picks how to reach the customer of ev: the preferred channel prefer (an
 * ac_channel_t, or -1 for none) when the customer can be reached there,
 * else email when they gave an address, else SMS when they gave a phone
 * number. Returns 0 with *ch and *to (owned by ev) set, or -1 when the
 * customer cannot be reached at all. */
int ac_channel_choose(const ac_event_t *ev, int prefer, ac_channel_t *ch, const char **to);

#endif
