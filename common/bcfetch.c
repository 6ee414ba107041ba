#include "bcfetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "buf.h"

static size_t on_body(char *data, size_t size, size_t n, void *opaque)
{
    ac_buf_t *b = opaque;
    if (b->len + size * n > 16 * 1024 * 1024)
        return 0;
    ac_buf_append(b, data, size * n);
    return size * n;
}

/* GETs one resource; *status is the HTTP status (0 on a transport error)
 * and *out the parsed body of a 200. An empty 204 reads as an empty list. */
static int get_json(const char *url, const char *token, int64_t timeout_ms, long *status,
                    json_object **out, char *err, size_t errsz)
{
    ac_buf_t b = {0};
    char auth[600];
    struct curl_slist *h = NULL;
    int rc = -1;
    CURL *c = curl_easy_init();
    *out = NULL;
    *status = 0;
    if (!c) {
        snprintf(err, errsz, "curl: cannot create a handle");
        return -1;
    }
    snprintf(auth, sizeof(auth), "X-Auth-Token: %s", token);
    h = curl_slist_append(h, auth);
    h = curl_slist_append(h, "Accept: application/json");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    CURLcode cr = curl_easy_perform(c);
    if (cr != CURLE_OK) {
        /* The URL holds no secret; the token travels in a header. */
        snprintf(err, errsz, "bigcommerce api: %s", curl_easy_strerror(cr));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    if (*status == 204) {
        *out = json_object_new_array();
    } else if (*status == 200) {
        *out = json_tokener_parse(b.data ? b.data : "");
        if (!*out) {
            snprintf(err, errsz, "bigcommerce api: the answer is not JSON");
            goto out;
        }
    } else {
        snprintf(err, errsz, "bigcommerce api: HTTP %ld", *status);
        goto out;
    }
    rc = 0;
out:
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    ac_buf_free(&b);
    return rc;
}

ac_bcfetch_rc_t ac_bcfetch_order(const char *base, const char *store_hash, const char *token,
                                 const char *order_id, int64_t timeout_ms, json_object **order,
                                 json_object **products, json_object **shipments, char *err,
                                 size_t errsz)
{
    static const char *const parts[] = {"", "/products", "/shipments"};
    json_object **outs[] = {order, products, shipments};
    for (int i = 0; i < 3; i++)
        *outs[i] = NULL;
    for (int i = 0; i < 3; i++) {
        char url[1024];
        long status = 0;
        snprintf(url, sizeof(url), "%s/stores/%s/v2/orders/%s%s", base, store_hash, order_id,
                 parts[i]);
        if (get_json(url, token, timeout_ms, &status, outs[i], err, errsz) == 0)
            continue;
        if (status == 404 && i == 0)
            return AC_BCFETCH_GONE;
        if (status == 404)
            continue; /* an order without products or shipments */
        for (int j = 0; j < 3; j++) {
            json_object_put(*outs[j]);
            *outs[j] = NULL;
        }
        return AC_BCFETCH_RETRY;
    }
    return AC_BCFETCH_OK;
}
