#include "wmprobe.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "kafka.h"
#include "log.h"
#include "timeutil.h"

/* Each Kafka request of a round waits at most this long: also the longest
 * a worker's shutdown waits for the thread. */
#define WM_TIMEOUT_MS 1000
#define WM_MAX_PARTS  4096

/* The timestamp of the record at one offset, cached: a record never
 * changes, so a group stalled at one offset costs a single peek. */
typedef struct head {
    int64_t offset; /* -1: nothing cached */
    int64_t ts;
} head_t;

typedef struct wtopic {
    ac_wm_topic_t name;
    size_t reader; /* index into readers */
    rd_kafka_topic_t *rkt;
    head_t *heads;
    int n_heads;
    int failing; /* the last round failed: logged once per outage */
    int64_t wm;  /* guarded by lock */
} wtopic_t;

struct ac_wmprobe {
    rd_kafka_t *readers[AC_WATERMARK_MAX_TOPICS];
    char groups[AC_WATERMARK_MAX_TOPICS][AC_WATERMARK_NAME_MAX + 1];
    size_t n_readers;
    wtopic_t topics[AC_WATERMARK_MAX_TOPICS];
    size_t n;
    int64_t interval_ms;
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_int stop;
};

static rd_kafka_topic_partition_list_t *all_partitions(const char *topic, int np, int64_t offset)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(np);
    for (int i = 0; i < np; i++)
        rd_kafka_topic_partition_list_add(l, topic, i)->offset = offset;
    return l;
}

static int partition_count(rd_kafka_t *rk, wtopic_t *t, char *err, size_t errsz)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, t->rkt, &md, WM_TIMEOUT_MS);
    int np = -1;
    if (e)
        snprintf(err, errsz, "metadata: %s", rd_kafka_err2str(e));
    else if (md->topic_cnt != 1 || md->topics[0].err)
        snprintf(err, errsz, "metadata: %s",
                 md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "no such topic");
    else if (md->topics[0].partition_cnt <= 0 || md->topics[0].partition_cnt > WM_MAX_PARTS)
        snprintf(err, errsz, "metadata: %d partitions", md->topics[0].partition_cnt);
    else
        np = md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    return np;
}

/* Fills each partition's offsets into parts[]: the group's commit, the
 * end, and the start where the group has no commit. */
static int read_offsets(rd_kafka_t *rk, const char *topic, ac_wm_partition_t *parts, int np,
                        char *err, size_t errsz)
{
    int rc = -1;
    rd_kafka_topic_partition_list_t *committed = all_partitions(topic, np, RD_KAFKA_OFFSET_INVALID);
    rd_kafka_topic_partition_list_t *ends = all_partitions(topic, np, RD_KAFKA_OFFSET_END);
    rd_kafka_topic_partition_list_t *starts = NULL;
    rd_kafka_resp_err_t e = rd_kafka_committed(rk, committed, WM_TIMEOUT_MS);
    if (!e)
        e = rd_kafka_offsets_for_times(rk, ends, WM_TIMEOUT_MS);
    if (e) {
        snprintf(err, errsz, "offsets: %s", rd_kafka_err2str(e));
        goto out;
    }
    for (int i = 0; i < np; i++) {
        if (committed->elems[i].err || ends->elems[i].err) {
            snprintf(err, errsz, "offsets of partition %d: %s", i,
                     rd_kafka_err2str(committed->elems[i].err ? committed->elems[i].err
                                                              : ends->elems[i].err));
            goto out;
        }
        parts[i] = (ac_wm_partition_t){committed->elems[i].offset, 0, ends->elems[i].offset, -1};
        if (parts[i].committed < 0) {
            if (!starts)
                starts = rd_kafka_topic_partition_list_new(np);
            rd_kafka_topic_partition_list_add(starts, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
        }
    }
    if (starts) {
        if ((e = rd_kafka_offsets_for_times(rk, starts, WM_TIMEOUT_MS))) {
            snprintf(err, errsz, "start offsets: %s", rd_kafka_err2str(e));
            goto out;
        }
        for (int i = 0; i < starts->cnt; i++) {
            if (starts->elems[i].err) {
                snprintf(err, errsz, "start offset: %s", rd_kafka_err2str(starts->elems[i].err));
                goto out;
            }
            parts[starts->elems[i].partition].start = starts->elems[i].offset;
        }
    }
    rc = 0;
out:
    rd_kafka_topic_partition_list_destroy(committed);
    rd_kafka_topic_partition_list_destroy(ends);
    if (starts)
        rd_kafka_topic_partition_list_destroy(starts);
    return rc;
}

/* Reads the timestamp of the first unprocessed record of every partition
 * with records waiting whose timestamp is not cached yet: assigns those
 * partitions at that offset and takes one record of each. A partition
 * that yields nothing in time stays unknown, which holds the topic. */
static void peek(ac_wmprobe_t *p, rd_kafka_t *rk, const char *topic, ac_wm_partition_t *parts,
                 head_t *heads, int np)
{
    rd_kafka_topic_partition_list_t *want = rd_kafka_topic_partition_list_new(8);
    for (int i = 0; i < np; i++) {
        if (!ac_watermark_waiting(&parts[i]))
            continue;
        int64_t next = ac_watermark_next(&parts[i]);
        if (heads[i].offset == next)
            parts[i].head_ts = heads[i].ts;
        else
            rd_kafka_topic_partition_list_add(want, topic, i)->offset = next;
    }
    if (want->cnt > 0 && rd_kafka_assign(rk, want) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        int left = want->cnt;
        int64_t deadline = ac_time_mono_ms() + WM_TIMEOUT_MS;
        while (left > 0 && ac_time_mono_ms() < deadline && !atomic_load(&p->stop)) {
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
            if (!m)
                continue;
            rd_kafka_topic_partition_t *w =
                m->err ? NULL : rd_kafka_topic_partition_list_find(want, topic, m->partition);
            /* The record at the offset asked for, or the first after it
             * when that one is gone (retention, a control record). */
            if (w && w->offset >= 0 && m->offset >= w->offset) {
                rd_kafka_timestamp_type_t type;
                int64_t ts = rd_kafka_message_timestamp(m, &type);
                heads[m->partition] = (head_t){w->offset, ts};
                parts[m->partition].head_ts = ts;
                w->offset = -1; /* done */
                left--;
            }
            rd_kafka_message_destroy(m);
        }
        rd_kafka_assign(rk, NULL);
    }
    rd_kafka_topic_partition_list_destroy(want);
}

/* One round for one topic. Returns 0 with *wm, or -1 with err. */
static int refresh(ac_wmprobe_t *p, wtopic_t *t, int64_t *wm, char *err, size_t errsz)
{
    rd_kafka_t *rk = p->readers[t->reader];
    int64_t queried = ac_time_now_ms();
    int np = partition_count(rk, t, err, errsz);
    if (np < 0)
        return -1;
    if (np != t->n_heads) {
        head_t *h = realloc(t->heads, (size_t)np * sizeof(*h));
        if (!h) {
            snprintf(err, errsz, "out of memory");
            return -1;
        }
        for (int i = 0; i < np; i++)
            h[i] = (head_t){-1, -1};
        t->heads = h;
        t->n_heads = np;
    }
    ac_wm_partition_t *parts = calloc((size_t)np, sizeof(*parts));
    if (!parts) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    int rc = read_offsets(rk, t->name.topic, parts, np, err, errsz);
    if (rc == 0 && atomic_load(&p->stop)) {
        snprintf(err, errsz, "stopping");
        rc = -1;
    }
    if (rc == 0) {
        peek(p, rk, t->name.topic, parts, t->heads, np);
        *wm = ac_watermark_topic(parts, (size_t)np, queried);
    }
    free(parts);
    return rc;
}

static void round_all(ac_wmprobe_t *p)
{
    for (size_t i = 0; i < p->n && !atomic_load(&p->stop); i++) {
        wtopic_t *t = &p->topics[i];
        char err[256];
        int64_t wm;
        if (refresh(p, t, &wm, err, sizeof(err)) < 0) {
            if (!t->failing)
                ac_log(AC_LOG_WARN, "watermark of %s (group %s) not read, keeping the last: %s",
                       t->name.topic, t->name.group, err);
            t->failing = 1;
            continue;
        }
        if (t->failing)
            ac_log(AC_LOG_INFO, "watermark of %s read again", t->name.topic);
        t->failing = 0;
        pthread_mutex_lock(&p->lock);
        t->wm = wm;
        pthread_mutex_unlock(&p->lock);
    }
}

static void *run(void *arg)
{
    ac_wmprobe_t *p = arg;
    pthread_mutex_lock(&p->lock);
    while (!p->stop) {
        pthread_mutex_unlock(&p->lock);
        round_all(p);
        pthread_mutex_lock(&p->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += p->interval_ms / 1000;
        until.tv_nsec += (p->interval_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        if (!p->stop)
            pthread_cond_timedwait(&p->cond, &p->lock, &until);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* The reader for group, created on first use. Returns its index or -1. */
static int reader_for(ac_wmprobe_t *p, const ac_config_t *cfg, const char *client_id,
                      const char *group, char *err, size_t errsz)
{
    for (size_t i = 0; i < p->n_readers; i++)
        if (strcmp(p->groups[i], group) == 0)
            return (int)i;
    rd_kafka_t *rk = ac_kafka_reader_new(cfg, client_id, group, err, errsz);
    if (!rk)
        return -1;
    snprintf(p->groups[p->n_readers], sizeof(p->groups[0]), "%s", group);
    p->readers[p->n_readers] = rk;
    return (int)p->n_readers++;
}

ac_wmprobe_t *ac_wmprobe_new(const ac_config_t *cfg, const char *client_id,
                             const ac_wm_topic_t *topics, size_t n, int64_t interval_ms, char *err,
                             size_t errsz)
{
    ac_wmprobe_t *p = calloc(1, sizeof(*p));
    if (!p || n > AC_WATERMARK_MAX_TOPICS) {
        snprintf(err, errsz, "out of memory");
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->interval_ms = interval_ms > 0 ? interval_ms : 1000;
    for (size_t i = 0; i < n; i++) {
        wtopic_t *t = &p->topics[p->n];
        int r = reader_for(p, cfg, client_id, topics[i].group, err, errsz);
        t->name = topics[i];
        t->wm = AC_WATERMARK_UNKNOWN;
        if (r < 0 || !(t->rkt = rd_kafka_topic_new(p->readers[r], t->name.topic, NULL))) {
            if (r >= 0)
                snprintf(err, errsz, "kafka topic %s: %s", t->name.topic,
                         rd_kafka_err2str(rd_kafka_last_error()));
            goto fail;
        }
        t->reader = (size_t)r;
        p->n++;
    }
    if (pthread_create(&p->thread, NULL, run, p) != 0) {
        snprintf(err, errsz, "cannot start the watermark thread");
        goto fail;
    }
    p->started = 1;
    return p;
fail:
    ac_wmprobe_destroy(p);
    return NULL;
}

void ac_wmprobe_destroy(ac_wmprobe_t *p)
{
    if (!p)
        return;
    if (p->started) {
        pthread_mutex_lock(&p->lock);
        p->stop = 1;
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
    }
    for (size_t i = 0; i < p->n; i++) {
        rd_kafka_topic_destroy(p->topics[i].rkt);
        free(p->topics[i].heads);
    }
    for (size_t i = 0; i < p->n_readers; i++)
        rd_kafka_destroy_flags(p->readers[i], RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p);
}

size_t ac_wmprobe_read(ac_wmprobe_t *p, int64_t *wm, size_t n)
{
    if (!p)
        return 0;
    if (n > p->n)
        n = p->n;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < n; i++)
        wm[i] = p->topics[i].wm;
    pthread_mutex_unlock(&p->lock);
    return n;
}

const char *ac_wmprobe_topic(const ac_wmprobe_t *p, size_t i)
{
    return p && i < p->n ? p->topics[i].name.topic : "";
}
