/* HTTP delivery over libcurl's multi interface: many POSTs in flight from
 * one thread, connections kept alive and reused, HTTP/2 where the server
 * offers it, connect and total timeouts on every request. Nothing here
 * blocks on one slow request; the caller polls for completions.
 *
 * The outcome and backoff helpers are pure so that the retry policy is
 * unit-tested without a network. */
#ifndef AC_DELIVERY_H
#define AC_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

typedef struct ac_delivery ac_delivery_t;

typedef struct ac_delivery_result {
    void *opaque;                     /* as given to ac_delivery_post() */
    long status;                      /* HTTP status, 0 when no response */
    int curl_code;                    /* CURLE_OK or the transport error */
    int64_t retry_after_ms;           /* from Retry-After, -1 when absent */
    char error[CURL_ERROR_SIZE + 16]; /* human description of a failure */
} ac_delivery_result_t;

/* Creates an engine allowing max_in_flight requests at once. Returns NULL
 * with err filled. */
ac_delivery_t *ac_delivery_new(int max_in_flight, long connect_timeout_ms, long timeout_ms,
                               char *err, size_t errsz);

/* Aborts whatever is in flight and frees the engine. Accepts NULL. */
void ac_delivery_destroy(ac_delivery_t *d);

/* Starts a POST of body (len bytes, which must stay valid until the
 * request completes) to url with headers (taken over, freed by the
 * engine). Returns 0, or -1 when the engine is full or curl refused. */
int ac_delivery_post(ac_delivery_t *d, const char *url, struct curl_slist *headers,
                     const char *body, size_t len, void *opaque);

/* Runs transfers for up to timeout_ms (less when one completes) and fills
 * up to max completed results. Returns how many. */
int ac_delivery_poll(ac_delivery_t *d, int timeout_ms, ac_delivery_result_t *out, int max);

/* Makes the ac_delivery_poll() waiting now, or the next one, return at
 * once, so that work arriving from elsewhere (records from Kafka) does not
 * wait out its timeout. Safe to call from any thread, as librdkafka's queue
 * callbacks do. */
void ac_delivery_wakeup(ac_delivery_t *d);

/* Requests currently in flight. */
int ac_delivery_in_flight(const ac_delivery_t *d);

typedef enum ac_outcome {
    AC_OUTCOME_DELIVERED = 0, /* 2xx */
    AC_OUTCOME_RETRY,         /* worth trying again: transport error, timeout, 408, 425, 429, 5xx */
    AC_OUTCOME_PERMANENT,     /* trying again cannot help: other 4xx, 3xx */
} ac_outcome_t;

/* The class of a provider's answer for metrics: ok, throttled (429),
 * client_error (other 4xx), server_error (5xx), timeout, or error (no
 * usable answer). A fixed set, so it is safe as a label value. */
const char *ac_delivery_result_class(long status, int curl_code);

/* Classifies a completed request. */
ac_outcome_t ac_delivery_outcome(long status, int curl_code);

/* Delay before attempt number `attempt` (1 = first retry): exponential
 * from base_ms, capped at max_ms, with "full jitter" from rnd (any 32-bit
 * random value) so that retries of many messages spread out; a server's
 * Retry-After (retry_after_ms >= 0) is honoured as a minimum. */
int64_t ac_delivery_backoff_ms(int attempt, int64_t base_ms, int64_t max_ms, int64_t retry_after_ms,
                               uint32_t rnd);

/* Parses a Retry-After value, delay-seconds or an HTTP-date, into a delay
 * in ms from now_ms. Returns -1 when it is neither. */
int64_t ac_delivery_parse_retry_after(const char *value, int64_t now_ms);

#endif
