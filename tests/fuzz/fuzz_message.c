/* Fuzz target: a notification record as notify-worker reads it from Kafka.
 *
 * The whole input is one record value, decoded by ac_message_decode(). A
 * message that decodes must carry a valid id, kind and event, survive
 * another trip through ac_message_encode(), and go through everything
 * notify-worker does before the network: the channel, the store's links
 * and the customer's referral code, rendering on both channels with the
 * built-in templates, the webhook body and each provider's request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "links.h"
#include "message.h"
#include "render.h"

#define NOTIFY_MAX_RECORD_BYTES (4 * 1024 * 1024)

/* The extras notify-worker looks up for m, for a store with review and
 * referral links and referral codes (common/notify.c, prepare()). */
static void extras_for(const ac_message_t *m, char review[1024], char referral[1024],
                       char code[AC_LINKS_CODE_LEN + 1], ac_render_extras_t *x)
{
    const ac_event_t *ev = m->event;
    review[0] = referral[0] = code[0] = '\0';
    if (m->kind == AC_KIND_REFERRAL_INVITE) {
        ac_links_referral_code(ev->store.id, ev->customer.id, code);
        FUZZ_CHECK(strlen(code) == AC_LINKS_CODE_LEN, "referral code %s", code);
        if (ac_links_render("https://shop.example/r/{{referral_code}}?o={{order_number}}", ev, code,
                            referral, 1024) < 0)
            referral[0] = '\0';
    }
    if (m->kind == AC_KIND_REVIEW_REQUEST &&
        ac_links_render("https://shop.example/review/{{order_id}}?c={{customer_id}}", ev, NULL,
                        review, 1024) < 0)
        review[0] = '\0';
    memset(x, 0, sizeof(*x));
    x->review_url = review[0] ? review : NULL;
    x->referral_url = referral[0] ? referral : NULL;
    x->referral_code = code[0] ? code : NULL;
    x->suggestion = m->kind == AC_KIND_REVIEW_REQUEST ? "Wool Socks <Merino> & \"Co\"" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *rec = fuzz_memdup(data, size);
    ac_event_error_t err;
    memset(&err, 0, sizeof(err));
    ac_message_t *m = ac_message_decode(rec, size, NOTIFY_MAX_RECORD_BYTES, &err);
    free(rec);
    if (!m) {
        FUZZ_CHECK(err.code != AC_EVENT_OK && err.detail[0], "refused without a reason");
        return 0;
    }
    FUZZ_CHECK(ac_message_id_valid(m->id), "id %s", m->id);
    FUZZ_CHECK(m->kind >= 0 && m->kind < AC_KIND__COUNT, "kind %d", m->kind);
    FUZZ_CHECK(m->event != NULL, "no event");
    fuzz_check_event(m->event);
    fuzz_check_message_roundtrip(m);

    char review[1024], referral[1024], code[AC_LINKS_CODE_LEN + 1];
    ac_render_extras_t x;
    extras_for(m, review, referral, code, &x);
    /* The customer's preferred channel, none, email or SMS, varies with
     * the record. */
    int prefer = (int)(size % 3) - 1;
    fuzz_deliver(m, &x, prefer, 1);
    ac_message_destroy(m);
    return 0;
}
