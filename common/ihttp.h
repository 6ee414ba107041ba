/* The ingest gateway's HTTP server on INGEST_PORT (libmicrohttpd, a thread
 * per connection): collects each POST's body up to MAX_BODY_BYTES and
 * hands it to ac_ingest_handle(), as it does a GET of a rating link
 * (/r/...); any other method is answered 405. A thread per connection
 * because every request blocks until Kafka acknowledged its events;
 * platforms keep their connections alive, so the threads are few and
 * long-lived. */
#ifndef AC_IHTTP_H
#define AC_IHTTP_H

#include <stddef.h>

#include "ingest.h"

typedef struct ac_ihttp ac_ihttp_t;

/* Starts serving on port; g must outlive the server. NULL with err when
 * the port cannot be bound. */
ac_ihttp_t *ac_ihttp_start(int port, unsigned max_connections, size_t max_body, ac_ingest_t *g,
                           char *err, size_t errsz);

/* Stops accepting new connections (SIGTERM); requests in flight go on. */
void ac_ihttp_quiesce(ac_ihttp_t *h);

/* Requests received and not yet answered. */
int ac_ihttp_in_flight(ac_ihttp_t *h);

/* Stops serving and frees. Accepts NULL. */
void ac_ihttp_stop(ac_ihttp_t *h);

#endif
