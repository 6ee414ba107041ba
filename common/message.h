/* A customer message decided by an event worker, on its way to
 * notify-worker through the notifications topic.
 *
 * The record carries the event that caused it whole, so that notify-worker
 * can choose the channel and render the text with everything the store
 * sent us. Its id is derived from what the message is (kind, store, order
 * and a discriminator such as the delivery estimate), never from which
 * event or delivery attempt produced it: two events asking for the same
 * message yield the same id, and the id is the key every deduplication and
 * the providers' Idempotency-Key rest on. */
#ifndef AC_MESSAGE_H
#define AC_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"

typedef enum ac_kind {
    AC_KIND_ORDER_CONFIRMATION = 0,
    AC_KIND_ORDER_CANCELLED,
    AC_KIND_SHIPPING_UPDATE,
    AC_KIND_DELAY_NOTICE,
    AC_KIND_REVIEW_REQUEST,
    AC_KIND_REFERRAL_INVITE,
    AC_KIND_RETURN_CONFIRMATION,
    AC_KIND_REFUND_NOTICE,
    AC_KIND_FEEDBACK_FOLLOWUP, /* to a customer who rated the order 1 to 3 */
    AC_KIND_STORE_ALERT,       /* to the store's support: a complaint to answer */
    AC_KIND__COUNT
} ac_kind_t;

/* "msg_" and 32 hex digits of SHA-256, plus the NUL. */
#define AC_MESSAGE_ID_LEN 37

const char *ac_kind_name(ac_kind_t kind);
/* Returns 0 and sets *kind, or -1 when name is not a kind. */
int ac_kind_parse(const char *name, ac_kind_t *kind);

/* Fills id with the message id for (kind, store, order, discriminator).
 * NULL store_id and discriminator read as "". */
void ac_message_id(ac_kind_t kind, const char *store_id, const char *order_id,
                   const char *discriminator, char id[AC_MESSAGE_ID_LEN]);

/* True when id has the form ac_message_id() writes. */
int ac_message_id_valid(const char *id);

typedef struct ac_message {
    char id[AC_MESSAGE_ID_LEN];
    ac_kind_t kind;
    int64_t created_ms;       /* when the message was decided */
    int64_t due_ms;           /* when it should go out; 0 = at once */
    ac_event_t *event;        /* owned */
    int attempts;             /* delivery attempts made before it was rescheduled (retry.h) */
    int64_t first_attempt_ms; /* ... and when the first was (or it was first held); 0: none */
} ac_message_t;

/* Serialises a notification record as JSON. Returns a malloc'd,
 * NUL-terminated string (the caller frees it) and its length in *len, or
 * NULL when out of memory. */
char *ac_message_encode(const char *id, ac_kind_t kind, int64_t created_ms, int64_t due_ms,
                        const ac_event_t *ev, size_t *len);

/* The same, with the event given as JSON text: event_len bytes holding one
 * JSON object, such as a record ac_event_parse() accepted. It is copied
 * into the notification unchanged, so an event worker hands over the
 * record it consumed instead of serialising the parsed event again for
 * every message decided from it. */
char *ac_message_encode_json(const char *id, ac_kind_t kind, int64_t created_ms, int64_t due_ms,
                             const char *event_json, size_t event_len, size_t *len);

/* Parses a notification record. Returns the message (free with
 * ac_message_destroy()) or NULL with err filled. */
ac_message_t *ac_message_decode(const char *buf, size_t len, size_t max_bytes,
                                ac_event_error_t *err);

/* The notification record (len bytes) with its "attempts" and
 * "first_attempt_at" set: what goes
 * back into the schedule while a message waits for its next attempt, so
 * that the backoff and MAX_ATTEMPTS go on from there. Returns a malloc'd
 * copy and its length in *out_len, or NULL when out of memory or the
 * record is not a JSON object. */
char *ac_message_with_attempts(const char *record, size_t len, int attempts,
                               int64_t first_attempt_ms, size_t *out_len);

void ac_message_destroy(ac_message_t *m);

#endif
