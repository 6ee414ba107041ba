#include "holdout.h"

#include <string.h>

#include <openssl/evp.h>

/* SHA-256 rather than a quick hash: customer ids are often sequential, and
 * the slots must be uniform over any run of them. The length of the store
 * id goes first so that no split of one string into store and customer
 * gives another pair's slot. */
/* SHA-256 over a label naming the draw, the store id's length, the store
 * and the customer, reduced to [0, 10000). */
static int slot(const char *label, const char *store_id, const char *customer_id)
{
    unsigned char md[EVP_MAX_MD_SIZE], buf[1024];
    unsigned int mdlen = 0;
    const char *s = store_id ? store_id : "", *u = customer_id ? customer_id : "";
    size_t nl = strlen(label), ns = strnlen(s, 400), nu = strnlen(u, 400), n = 0;
    memcpy(buf, label, nl);
    n = nl;
    for (int i = 0; i < 4; i++)
        buf[n++] = (unsigned char)(ns >> (24 - 8 * i));
    memcpy(buf + n, s, ns);
    memcpy(buf + n + ns, u, nu);
    n += ns + nu;
    if (EVP_Digest(buf, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 8)
        return 9999; /* never held out when the digest fails */
    unsigned long long v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | md[i];
    return (int)(v % 10000);
}

int ac_holdout_slot(const char *store_id, const char *customer_id)
{
    return slot("aftercare-holdout", store_id, customer_id);
}

int ac_holdout_cross_sell_slot(const char *store_id, const char *customer_id)
{
    return slot("aftercare-holdout-cross-sell", store_id, customer_id);
}

int ac_holdout_cross_sell_held(const ac_store_settings_t *s, const char *store_id,
                               const char *customer_id)
{
    return s->holdout_cross_sell_bp > 0 &&
           ac_holdout_cross_sell_slot(store_id, customer_id) < s->holdout_cross_sell_bp;
}

int ac_holdout_share(const ac_store_settings_t *s, ac_kind_t kind)
{
    if (kind == AC_KIND_REVIEW_REQUEST)
        return s->holdout_review_bp;
    if (kind == AC_KIND_REFERRAL_INVITE)
        return s->holdout_referral_bp;
    return 0;
}

int ac_holdout_held(const ac_store_settings_t *s, ac_kind_t kind, const char *store_id,
                    const char *customer_id)
{
    int share = ac_holdout_share(s, kind);
    return share > 0 && ac_holdout_slot(store_id, customer_id) < share;
}
