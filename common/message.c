#include "message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "buf.h"
#include "timeutil.h"

static const char *kind_names[AC_KIND__COUNT] = {
    [AC_KIND_ORDER_CONFIRMATION] = "order_confirmation",
    [AC_KIND_ORDER_CANCELLED] = "order_cancelled",
    [AC_KIND_SHIPPING_UPDATE] = "shipping_update",
    [AC_KIND_DELAY_NOTICE] = "delay_notice",
    [AC_KIND_REVIEW_REQUEST] = "review_request",
    [AC_KIND_REFERRAL_INVITE] = "referral_invite",
    [AC_KIND_RETURN_CONFIRMATION] = "return_confirmation",
    [AC_KIND_REFUND_NOTICE] = "refund_notice",
    [AC_KIND_FEEDBACK_FOLLOWUP] = "feedback_followup",
    [AC_KIND_STORE_ALERT] = "store_alert",
};

const char *ac_kind_name(ac_kind_t kind)
{
    return (kind >= 0 && kind < AC_KIND__COUNT) ? kind_names[kind] : "unknown";
}

int ac_kind_parse(const char *name, ac_kind_t *kind)
{
    for (int k = 0; name && k < AC_KIND__COUNT; k++) {
        if (strcmp(name, kind_names[k]) == 0) {
            *kind = (ac_kind_t)k;
            return 0;
        }
    }
    return -1;
}

/* Fields are joined with a separator that cannot occur in them unescaped
 * (the length of each is part of the hashed text), so ("a|b", "c") and
 * ("a", "b|c") never collide. */
void ac_message_id(ac_kind_t kind, const char *store_id, const char *order_id,
                   const char *discriminator, char id[AC_MESSAGE_ID_LEN])
{
    const char *parts[] = {"v1", ac_kind_name(kind), store_id ? store_id : "",
                           order_id ? order_id : "", discriminator ? discriminator : ""};
    unsigned char md[SHA256_DIGEST_LENGTH];
    char text[1024];
    size_t n = 0;
    /* "<length>:<part>" for each part, without snprintf (1.4 % of
     * order-worker's CPU). */
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]) && n < sizeof(text); i++) {
        size_t len = strlen(parts[i]);
        char digits[AC_BUF_INT_MAX];
        size_t nd = ac_buf_int_text((long long)len, digits);
        if (n + nd + 1 + len >= sizeof(text)) {
            n = sizeof(text); /* too long: hashed from a buffer below */
            break;
        }
        memcpy(text + n, digits, nd);
        text[n + nd] = ':';
        memcpy(text + n + nd + 1, parts[i], len);
        n += nd + 1 + len;
    }
    if (n >= sizeof(text)) {
        /* Ids longer than the buffer: hash the full text instead. */
        ac_buf_t b = AC_BUF_INIT;
        for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
            ac_buf_printf(&b, "%zu:%s", strlen(parts[i]), parts[i]);
        SHA256((const unsigned char *)(b.data ? b.data : ""), b.len, md);
        ac_buf_free(&b);
    } else {
        SHA256((const unsigned char *)text, n, md);
    }
    static const char hex[] = "0123456789abcdef";
    memcpy(id, "msg_", 4);
    for (int i = 0; i < 16; i++) {
        id[4 + 2 * i] = hex[md[i] >> 4];
        id[5 + 2 * i] = hex[md[i] & 15];
    }
    id[AC_MESSAGE_ID_LEN - 1] = '\0';
}

int ac_message_id_valid(const char *id)
{
    if (!id || strlen(id) != AC_MESSAGE_ID_LEN - 1 || strncmp(id, "msg_", 4) != 0)
        return 0;
    for (const char *p = id + 4; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

/* The envelope of a valid message id written directly: the id, kind and
 * times need no escaping, and json-c's tree for five members was 3 % of
 * order-worker's CPU. The same bytes as json-c writes
 * (test_encode_envelope_bytes). */
static char *encode_plain(const char *id, ac_kind_t kind, int64_t created_ms, int64_t due_ms,
                          const char *event_json, size_t event_len, size_t *len)
{
    char created[AC_TIME_BUFSZ], due[AC_TIME_BUFSZ] = "";
    ac_time_format(created_ms, created, sizeof(created));
    if (due_ms > 0)
        ac_time_format(due_ms, due, sizeof(due));
    const char *parts[] = {"{\"v\":1,\"id\":\"",
                           id,
                           "\",\"kind\":\"",
                           ac_kind_name(kind),
                           "\",\"created_at\":\"",
                           created,
                           due_ms > 0 ? "\",\"due_at\":\"" : "",
                           due,
                           "\",\"event\":"};
    size_t lens[sizeof(parts) / sizeof(parts[0])], total = event_len + 1;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
        total += lens[i] = strlen(parts[i]);
    /* One allocation of the exact size: this runs for every message. */
    char *out = malloc(total + 1), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
        memcpy(p, parts[i], lens[i]);
        p += lens[i];
    }
    memcpy(p, event_json, event_len);
    p[event_len] = '}';
    p[event_len + 1] = '\0';
    if (len)
        *len = total;
    return out;
}

char *ac_message_encode_json(const char *id, ac_kind_t kind, int64_t created_ms, int64_t due_ms,
                             const char *event_json, size_t event_len, size_t *len)
{
    char ts[AC_TIME_BUFSZ];
    char *out = NULL;
    if (ac_message_id_valid(id))
        return encode_plain(id, kind, created_ms, due_ms, event_json, event_len, len);
    json_object *o = json_object_new_object();
    if (!o)
        return NULL;
    json_object_object_add(o, "v", json_object_new_int(1));
    json_object_object_add(o, "id", json_object_new_string(id));
    json_object_object_add(o, "kind", json_object_new_string(ac_kind_name(kind)));
    ac_time_format(created_ms, ts, sizeof(ts));
    json_object_object_add(o, "created_at", json_object_new_string(ts));
    if (due_ms > 0) {
        ac_time_format(due_ms, ts, sizeof(ts));
        json_object_object_add(o, "due_at", json_object_new_string(ts));
    }
    /* The small envelope goes through json-c, for its escaping; the event
     * is spliced in before the closing brace. */
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    static const char field[] = ",\"event\":";
    if (s && n >= 2 && s[n - 1] == '}') {
        size_t total = (n - 1) + (sizeof(field) - 1) + event_len + 1;
        if ((out = malloc(total + 1))) {
            char *p = out;
            memcpy(p, s, n - 1);
            p += n - 1;
            memcpy(p, field, sizeof(field) - 1);
            p += sizeof(field) - 1;
            memcpy(p, event_json, event_len);
            p += event_len;
            *p++ = '}';
            *p = '\0';
            if (len)
                *len = total;
        }
    }
    json_object_put(o);
    return out;
}

char *ac_message_encode(const char *id, ac_kind_t kind, int64_t created_ms, int64_t due_ms,
                        const ac_event_t *ev, size_t *len)
{
    size_t n = 0;
    json_object *root = ac_event_root(ev);
    const char *s = root ? json_object_to_json_string_length(
                               root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n)
                         : NULL;
    return s ? ac_message_encode_json(id, kind, created_ms, due_ms, s, n, len) : NULL;
}

ac_message_t *ac_message_decode(const char *buf, size_t len, size_t max_bytes,
                                ac_event_error_t *err)
{
    ac_message_t *m = NULL;
    json_object *v;
    json_object *root = ac_event_parse_json(buf, len, max_bytes, err);
    if (!root)
        return NULL;
    if (!json_object_is_type(root, json_type_object)) {
        if (err) {
            err->code = AC_EVENT_ERR_INVALID_JSON;
            snprintf(err->detail, sizeof(err->detail), "notification is not a JSON object");
        }
        goto fail;
    }
    m = calloc(1, sizeof(*m));
    if (!m)
        goto fail;
    const char *id = json_object_object_get_ex(root, "id", &v) ? json_object_get_string(v) : NULL;
    if (!ac_message_id_valid(id)) {
        if (err) {
            err->code = AC_EVENT_ERR_INVALID_FIELD;
            snprintf(err->detail, sizeof(err->detail), "notification has no valid id");
        }
        goto fail;
    }
    memcpy(m->id, id, AC_MESSAGE_ID_LEN);
    const char *kind =
        json_object_object_get_ex(root, "kind", &v) ? json_object_get_string(v) : NULL;
    if (ac_kind_parse(kind, &m->kind) < 0) {
        if (err) {
            err->code = AC_EVENT_ERR_INVALID_FIELD;
            snprintf(err->detail, sizeof(err->detail), "notification has an unknown kind");
        }
        goto fail;
    }
    const char *ts;
    if (json_object_object_get_ex(root, "created_at", &v) && (ts = json_object_get_string(v)))
        ac_time_parse(ts, &m->created_ms);
    if (json_object_object_get_ex(root, "due_at", &v) && (ts = json_object_get_string(v)))
        ac_time_parse(ts, &m->due_ms);
    /* Attempts made before the message was put back into the schedule to
     * wait for the next one; anything but a small count reads as none. */
    if (json_object_object_get_ex(root, "attempts", &v) && json_object_is_type(v, json_type_int)) {
        int64_t a = json_object_get_int64(v);
        m->attempts = a > 0 && a <= 1000000 ? (int)a : 0;
    }
    if (json_object_object_get_ex(root, "first_attempt_at", &v) &&
        (ts = json_object_get_string(v)) && ac_time_parse(ts, &m->first_attempt_ms) < 0)
        m->first_attempt_ms = 0;
    if (!json_object_object_get_ex(root, "event", &v)) {
        if (err) {
            err->code = AC_EVENT_ERR_MISSING_FIELD;
            snprintf(err->detail, sizeof(err->detail), "notification has no event");
        }
        goto fail;
    }
    if (!(m->event = ac_event_from_json(v, err)))
        goto fail;
    json_object_put(root);
    return m;
fail:
    json_object_put(root);
    ac_message_destroy(m);
    return NULL;
}

char *ac_message_with_attempts(const char *record, size_t len, int attempts,
                               int64_t first_attempt_ms, size_t *out_len)
{
    char *out = NULL;
    ac_event_error_t err;
    json_object *root = ac_event_parse_json(record, len, len + 1, &err);
    if (!root || !json_object_is_type(root, json_type_object))
        goto out;
    char ts[AC_TIME_BUFSZ];
    ac_time_format(first_attempt_ms, ts, sizeof(ts));
    json_object_object_add(root, "attempts", json_object_new_int(attempts));
    json_object_object_add(root, "first_attempt_at", json_object_new_string(ts));
    size_t n = 0;
    const char *s = json_object_to_json_string_length(
        root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
    if (s && (out = malloc(n + 1))) {
        memcpy(out, s, n + 1);
        if (out_len)
            *out_len = n;
    }
out:
    json_object_put(root);
    return out;
}

void ac_message_destroy(ac_message_t *m)
{
    if (!m)
        return;
    ac_event_destroy(m->event);
    free(m);
}
