#include "delay.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

typedef struct waiting {
    struct MHD_Connection *conn;
    int64_t due_ms;
    struct waiting *next;
} waiting_t;

struct sink_delay {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    pthread_t thread;
    waiting_t *head, *tail; /* by due time */
    int stop;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Inserts w by due time. The delay is the same for most requests, so the
 * new one usually goes last and the walk from the head is skipped. */
static void insert(sink_delay_t *d, waiting_t *w)
{
    if (!d->tail || d->tail->due_ms <= w->due_ms) {
        w->next = NULL;
        if (d->tail)
            d->tail->next = w;
        else
            d->head = w;
        d->tail = w;
        return;
    }
    waiting_t **p = &d->head;
    while ((*p)->due_ms <= w->due_ms)
        p = &(*p)->next;
    w->next = *p;
    *p = w;
}

/* Resumes the connections whose time has come (all of them when
 * stopping), then sleeps until the next one is due or one is added. */
static void *run(void *arg)
{
    sink_delay_t *d = arg;
    pthread_mutex_lock(&d->lock);
    for (;;) {
        int64_t now = mono_ms();
        while (d->head && (d->stop || d->head->due_ms <= now)) {
            waiting_t *w = d->head;
            d->head = w->next;
            if (!d->head)
                d->tail = NULL;
            MHD_resume_connection(w->conn);
            free(w);
        }
        if (d->stop)
            break;
        if (!d->head) {
            pthread_cond_wait(&d->cond, &d->lock);
            continue;
        }
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        int64_t wait_ms = d->head->due_ms - now;
        until.tv_sec += wait_ms / 1000;
        until.tv_nsec += (wait_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&d->cond, &d->lock, &until);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

sink_delay_t *sink_delay_new(void)
{
    pthread_condattr_t attr;
    sink_delay_t *d = calloc(1, sizeof(*d));
    if (!d)
        return NULL;
    pthread_mutex_init(&d->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&d->thread, NULL, run, d) != 0) {
        pthread_cond_destroy(&d->cond);
        pthread_mutex_destroy(&d->lock);
        free(d);
        return NULL;
    }
    return d;
}

int sink_delay_suspend(sink_delay_t *d, struct MHD_Connection *conn, unsigned int delay_ms)
{
    waiting_t *w = malloc(sizeof(*w));
    if (!w)
        return -1;
    w->conn = conn;
    w->due_ms = mono_ms() + delay_ms;
    pthread_mutex_lock(&d->lock);
    if (d->stop) {
        /* Stopping: nothing would resume it. */
        pthread_mutex_unlock(&d->lock);
        free(w);
        return -1;
    }
    /* Suspended before it is queued, under the lock: the timer thread
     * never resumes a connection that is still running. */
    MHD_suspend_connection(conn);
    int first = d->head == NULL || w->due_ms < d->head->due_ms;
    insert(d, w);
    if (first)
        pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
    return 0;
}

void sink_delay_stop(sink_delay_t *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->lock);
    int running = !d->stop;
    d->stop = 1;
    pthread_cond_signal(&d->cond);
    pthread_mutex_unlock(&d->lock);
    if (running)
        pthread_join(d->thread, NULL);
}

void sink_delay_destroy(sink_delay_t *d)
{
    if (!d)
        return;
    sink_delay_stop(d);
    pthread_cond_destroy(&d->cond);
    pthread_mutex_destroy(&d->lock);
    free(d);
}
