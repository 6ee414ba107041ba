#include "links.h"

#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "buf.h"
#include "template.h"

void ac_links_referral_code(const char *store_id, const char *customer_id,
                            char code[AC_LINKS_CODE_LEN + 1])
{
    static const char alphabet[] = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"; /* 31 letters */
    unsigned char md[SHA256_DIGEST_LENGTH];
    char text[512];
    int n = snprintf(text, sizeof(text), "%zu:%s:%s", strlen(store_id ? store_id : ""),
                     store_id ? store_id : "", customer_id ? customer_id : "");
    SHA256((const unsigned char *)text, n > 0 && (size_t)n < sizeof(text) ? (size_t)n : 0, md);
    for (int i = 0; i < AC_LINKS_CODE_LEN; i++)
        code[i] = alphabet[md[i] % (sizeof(alphabet) - 1)];
    code[AC_LINKS_CODE_LEN] = '\0';
}

typedef struct link_vars {
    char order_id[3 * AC_EVENT_MAX_ID_LEN + 1], order_number[3 * AC_EVENT_MAX_ID_LEN + 1],
        customer_id[3 * AC_EVENT_MAX_ID_LEN + 1], code[3 * AC_LINKS_CODE_LEN + 1];
} link_vars_t;

/* Percent-encodes everything but RFC 3986's unreserved characters.
 * Returns -1 when s does not fit: a shortened id would link elsewhere. */
static int url_encode(const char *s, char *out, size_t outsz)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~';
        if (n + (plain ? 1 : 3) >= outsz)
            return -1;
        if (plain) {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n] = '\0';
    return 0;
}

static const char *lookup(void *ctx, const char *name, size_t len)
{
    link_vars_t *v = ctx;
#define IS(s) (len == sizeof(s) - 1 && memcmp(name, s, len) == 0)
    if (IS("order_id"))
        return v->order_id;
    if (IS("order_number"))
        return v->order_number[0] ? v->order_number : v->order_id;
    if (IS("customer_id"))
        return v->customer_id;
    if (IS("referral_code"))
        return v->code[0] ? v->code : NULL;
#undef IS
    return NULL;
}

int ac_links_render(const char *tpl, const ac_event_t *ev, const char *code, char *buf,
                    size_t bufsz)
{
    link_vars_t v;
    char err[128];
    ac_buf_t out = AC_BUF_INIT;
    if (url_encode(ev->order.id, v.order_id, sizeof(v.order_id)) < 0 ||
        url_encode(ev->order.number, v.order_number, sizeof(v.order_number)) < 0 ||
        url_encode(ev->customer.id, v.customer_id, sizeof(v.customer_id)) < 0 ||
        url_encode(code, v.code, sizeof(v.code)) < 0)
        return -1;
    int rc = ac_template_render(tpl, lookup, &v, AC_TEMPLATE_ESCAPE_NONE, &out, err, sizeof(err));
    if (rc == 0 && (!out.data || out.len + 1 > bufsz))
        rc = -1;
    if (rc == 0) {
        memcpy(buf, out.data, out.len);
        buf[out.len] = '\0';
    }
    ac_buf_free(&out);
    return rc;
}
