/* The links a review request or referral invitation carries, made from the
 * store's templates (stores.h: review_url, referral_url) and the order:
 * "https://shop.example/review/{{order_id}}" becomes the order's own link,
 * with every value URL-encoded. Pure functions. */
#ifndef AC_LINKS_H
#define AC_LINKS_H

#include <stddef.h>

#include "event.h"

#define AC_LINKS_CODE_LEN 8

/* The customer's referral code: the same for every message to them, eight
 * characters from an alphabet without look-alikes (no 0/O, 1/I/L). */
void ac_links_referral_code(const char *store_id, const char *customer_id,
                            char code[AC_LINKS_CODE_LEN + 1]);

/* Renders the link template tpl for ev into buf, with order_id,
 * order_number, customer_id and referral_code (code; may be NULL)
 * URL-encoded. Returns 0, or -1 when the template is malformed or the link
 * does not fit. */
int ac_links_render(const char *tpl, const ac_event_t *ev, const char *code, char *buf,
                    size_t bufsz);

#endif
