/* ac-sink's answer delay (--delay-ms, POST /faults delay_ms) without a
 * thread per request: a delayed request's connection is suspended
 * (libmicrohttpd's MHD_suspend_connection) and resumed by one timer
 * thread when its time comes, so that a thousand requests waiting out
 * their 50 ms cost no thread and no wake-up each, as a remote provider's
 * would cost the sender nothing. */
#ifndef AC_SINK_DELAY_H
#define AC_SINK_DELAY_H

#include <stdint.h>

#include <microhttpd.h>

typedef struct sink_delay sink_delay_t;

/* Starts the timer thread. Returns NULL when it cannot. */
sink_delay_t *sink_delay_new(void);

/* Suspends conn, from its request handler, and resumes it delay_ms from
 * now; libmicrohttpd then calls the handler again. Returns 0, or -1 (out
 * of memory) with conn left running. */
int sink_delay_suspend(sink_delay_t *d, struct MHD_Connection *conn, unsigned int delay_ms);

/* Resumes every connection still waiting and stops the thread; later
 * requests are not delayed. Call before MHD_stop_daemon(). Accepts NULL. */
void sink_delay_stop(sink_delay_t *d);

/* Stops (if not yet) and frees. Accepts NULL. */
void sink_delay_destroy(sink_delay_t *d);

#endif
