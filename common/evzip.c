#include "evzip.h"

#include <stdlib.h>
#include <string.h>

#include <zlib.h>

/* A 4 KiB window: room for the dictionary and an event's repeats (an
 * event's strings repeat within it, not across kilobytes), and a stream's
 * state small enough to allocate per call. zlib's default level and memory
 * level: on events, level 9 packs no smaller, and the time goes into
 * setting the stream up (about 25 µs to pack and unpack a delivery). */
#define WINDOW_BITS 12
#define MEM_LEVEL   8
/* A corrupt stream could claim anything: no event is larger than this. */
#define MAX_JSON (64u * 1024 * 1024)

/* Dictionary 1: what events have in common, in the order ac_event_encode()
 * writes it, the most common last (deflate reaches near strings for
 * fewer bits). Packed events depend on every byte of it: it never
 * changes. Another dictionary would come with another format byte. */
static const char dict_v1[] =
    "\"type\":\"order.placed\",\"type\":\"order.cancelled\",\"type\":\"feedback.received\","
    "\"type\":\"return.requested\",\"type\":\"return.received\",\"type\":\"return.refunded\","
    "\"type\":\"shipment.shipped\",\"type\":\"shipment.in_transit\","
    "\"type\":\"shipment.out_for_delivery\",\"type\":\"shipment.delayed\","
    "\"type\":\"shipment.exception\",\"reason\":\"\",\"label_url\":\"https://\","
    "\"instructions_url\":\"https://\",\"refund_amount\":"
    "\"feedback\":{\"rating\":,\"comment\":\"\"estimated_delivery\":\""
    "\"status\":\"delivered\"}}\"status\":\"in transit\"\"marketing_consent\":false}"
    "\"phone\":\"+@gmail.com\"@yahoo.com\"@outlook.com\"@hotmail.com\"@icloud.com\""
    "@gmx.de\"@web.de\"\"locale\":\"en-US\",\"locale\":\"en-GB\",\"locale\":\"de-DE\","
    "\"locale\":\"fr-FR\",\"timezone\":\"America/New_York\",\"timezone\":\"Europe/London\","
    "\"timezone\":\"Europe/Berlin\",\"currency\":\"EUR\",\"currency\":\"USD\","
    "\"currency\":\"GBP\",\"carrier\":\"DHL\",\"carrier\":\"UPS\",\"carrier\":\"FedEx\","
    "\"carrier\":\"USPS\",\"carrier\":\"Royal Mail\","
    "\"tracking_url\":\"https://www.ups.com/track?tracknum=\","
    "\"tracking_url\":\"https://www.dhl.com/\""
    "{\"event_id\":\"evt_\",\"type\":\"shipment.delivered\",\"occurred_at\":\"20"
    "T00:00:00.000Z\",\"store\":{\"id\":\"st_\",\"name\":\"\",\"locale\":\"en-US\","
    "\"timezone\":\"\"},\"order\":{\"id\":\"ord_\",\"number\":\"\",\"currency\":\"\","
    "\"promised_delivery_date\":\"20\",\"total\":,\"items\":[{\"sku\":\"\",\"name\":\"\","
    "\"category\":\"\",\"quantity\":1,\"price\":},{\"sku\":\"\"customer\":{\"id\":\"cus_\","
    "\"email\":\"\",\"phone\":\"\",\"first_name\":\"\",\"locale\":\"\",\"timezone\":\"\","
    "\"marketing_consent\":true},\"shipment\":{\"id\":\"shp_\",\"carrier\":\"\","
    "\"tracking_number\":\"\",\"tracking_url\":\"https://\",\"status\":\"delivered\"}}";

char *ac_evzip_pack(const char *json, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -WINDOW_BITS, MEM_LEVEL,
                     Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&z, (uLong)len) + 1;
    char *out = malloc(cap);
    if (!out || deflateSetDictionary(&z, (const Bytef *)dict_v1, sizeof(dict_v1) - 1) != Z_OK) {
        free(out);
        deflateEnd(&z);
        return NULL;
    }
    out[0] = AC_EVZIP_V1;
    z.next_in = (Bytef *)json;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out + 1;
    z.avail_out = (uInt)(cap - 1);
    int rc = deflate(&z, Z_FINISH);
    size_t n = 1 + z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    *out_len = n;
    return out;
}

/* Inflates a V1 stream into a growing buffer. */
static char *inflate_v1(const char *data, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (inflateInit2(&z, -WINDOW_BITS) != Z_OK)
        return NULL;
    size_t cap = 4 * len + 1024;
    char *out = NULL;
    int rc = inflateSetDictionary(&z, (const Bytef *)dict_v1, sizeof(dict_v1) - 1);
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)len;
    while (rc == Z_OK && cap <= MAX_JSON) {
        char *grown = realloc(out, cap + 1);
        if (!grown)
            break;
        out = grown;
        z.next_out = (Bytef *)out + z.total_out;
        z.avail_out = (uInt)(cap - z.total_out);
        rc = inflate(&z, Z_FINISH);
        if (rc == Z_BUF_ERROR && z.avail_out == 0)
            rc = Z_OK; /* the output was full: grow it and go on */
        cap *= 2;
    }
    size_t n = z.total_out;
    inflateEnd(&z);
    if (rc != Z_STREAM_END || z.avail_in != 0) {
        free(out);
        return NULL;
    }
    out[n] = '\0';
    *out_len = n;
    return out;
}

char *ac_evzip_unpack(const char *data, size_t len, size_t *out_len)
{
    if (len > 0 && data[0] == '{') {
        char *copy = malloc(len + 1);
        if (copy) {
            memcpy(copy, data, len);
            copy[len] = '\0';
            *out_len = len;
        }
        return copy;
    }
    if (len > 1 && data[0] == AC_EVZIP_V1)
        return inflate_v1(data + 1, len - 1, out_len);
    return NULL;
}
