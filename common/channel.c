#include "channel.h"

#include <string.h>

static const char *const names[AC_CHANNEL__COUNT] = {"email", "sms"};

const char *ac_channel_name(ac_channel_t ch)
{
    return ch == AC_CHANNEL_SMS ? names[AC_CHANNEL_SMS] : names[AC_CHANNEL_EMAIL];
}

int ac_channel_parse(const char *name, ac_channel_t *ch)
{
    for (int i = 0; name && i < AC_CHANNEL__COUNT; i++) {
        if (strcmp(name, names[i]) == 0) {
            *ch = (ac_channel_t)i;
            return 0;
        }
    }
    return -1;
}

/* Email is the default, so a preference changes the outcome only when it
 * is SMS and the customer gave a phone number; a customer without an
 * address on the preferred channel is still reached on the other one
 * rather than given up. */
int ac_channel_choose(const ac_event_t *ev, int prefer, ac_channel_t *ch, const char **to)
{
    int has_email = ev->customer.email && strchr(ev->customer.email, '@');
    int has_phone = ev->customer.phone && *ev->customer.phone;
    if (prefer == AC_CHANNEL_SMS && has_phone) {
        *ch = AC_CHANNEL_SMS;
        *to = ev->customer.phone;
        return 0;
    }
    if (has_email) {
        *ch = AC_CHANNEL_EMAIL;
        *to = ev->customer.email;
        return 0;
    }
    if (has_phone) {
        *ch = AC_CHANNEL_SMS;
        *to = ev->customer.phone;
        return 0;
    }
    return -1;
}
