#include "metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* A series is one name{labels}. For a histogram, value is the count and
 * buckets[i] the observations at or below the family's bound i, with the
 * last one for +Inf. */
typedef struct series {
    char *name;
    char *labels;
    double value;
    double sum;
    double *buckets;
} series_t;

typedef struct family {
    const char *name;
    const char *help;
    ac_metric_type_t type;
    double bounds[AC_METRICS_MAX_BUCKETS];
    size_t n_bounds;
} family_t;

struct ac_metrics {
    pthread_mutex_t lock;
    series_t *series;
    size_t n, cap;
    family_t families[96];
    size_t n_families;
};

ac_metrics_t *ac_metrics_new(void)
{
    ac_metrics_t *m = calloc(1, sizeof(*m));
    if (m)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

void ac_metrics_destroy(ac_metrics_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->series[i].name);
        free(m->series[i].labels);
        free(m->series[i].buckets);
    }
    free(m->series);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void ac_metrics_describe(ac_metrics_t *m, const char *name, ac_metric_type_t type, const char *help)
{
    pthread_mutex_lock(&m->lock);
    if (m->n_families < sizeof(m->families) / sizeof(m->families[0]))
        m->families[m->n_families++] = (family_t){name, help, type, {0}, 0};
    pthread_mutex_unlock(&m->lock);
}

void ac_metrics_describe_histogram(ac_metrics_t *m, const char *name, const char *help,
                                   const double *bounds, size_t n_bounds)
{
    if (n_bounds > AC_METRICS_MAX_BUCKETS)
        n_bounds = AC_METRICS_MAX_BUCKETS;
    pthread_mutex_lock(&m->lock);
    if (m->n_families < sizeof(m->families) / sizeof(m->families[0])) {
        family_t *f = &m->families[m->n_families++];
        *f = (family_t){name, help, AC_METRIC_HISTOGRAM, {0}, n_bounds};
        memcpy(f->bounds, bounds, n_bounds * sizeof(*bounds));
    }
    pthread_mutex_unlock(&m->lock);
}

static const family_t *family_of(const ac_metrics_t *m, const char *name)
{
    for (size_t f = 0; f < m->n_families; f++)
        if (strcmp(m->families[f].name, name) == 0)
            return &m->families[f];
    return NULL;
}

/* Finds or creates a series; the lock is held by the caller. */
static series_t *find(ac_metrics_t *m, const char *name, const char *labels, int create)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->series[i].name, name) == 0 && strcmp(m->series[i].labels, labels) == 0)
            return &m->series[i];
    if (!create)
        return NULL;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 32;
        series_t *s = realloc(m->series, cap * sizeof(*s));
        if (!s)
            return NULL;
        m->series = s;
        m->cap = cap;
    }
    series_t *s = &m->series[m->n];
    s->name = strdup(name);
    s->labels = strdup(labels);
    s->value = 0;
    s->sum = 0;
    s->buckets = NULL;
    const family_t *fam = family_of(m, name);
    if (fam && fam->type == AC_METRIC_HISTOGRAM)
        s->buckets = calloc(fam->n_bounds + 1, sizeof(double));
    if (!s->name || !s->labels || (fam && fam->type == AC_METRIC_HISTOGRAM && !s->buckets)) {
        free(s->name);
        free(s->labels);
        free(s->buckets);
        return NULL;
    }
    m->n++;
    return s;
}

void ac_metrics_add(ac_metrics_t *m, const char *name, const char *labels, double v)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    series_t *s = find(m, name, labels ? labels : "", 1);
    if (s)
        s->value += v;
    pthread_mutex_unlock(&m->lock);
}

void ac_metrics_set(ac_metrics_t *m, const char *name, const char *labels, double v)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    series_t *s = find(m, name, labels ? labels : "", 1);
    if (s)
        s->value = v;
    pthread_mutex_unlock(&m->lock);
}

void ac_metrics_observe(ac_metrics_t *m, const char *name, const char *labels, double v,
                        unsigned count)
{
    if (!m || count == 0)
        return;
    pthread_mutex_lock(&m->lock);
    const family_t *fam = family_of(m, name);
    series_t *s =
        fam && fam->type == AC_METRIC_HISTOGRAM ? find(m, name, labels ? labels : "", 1) : NULL;
    if (s) {
        size_t i = 0;
        while (i < fam->n_bounds && v > fam->bounds[i])
            i++;
        s->buckets[i] += count;
        s->value += count;
        s->sum += v * count;
    }
    pthread_mutex_unlock(&m->lock);
}

void ac_metrics_remove(ac_metrics_t *m, const char *name, const char *labels)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    series_t *s = find(m, name, labels ? labels : "", 0);
    if (s) {
        free(s->name);
        free(s->labels);
        free(s->buckets);
        *s = m->series[--m->n];
    }
    pthread_mutex_unlock(&m->lock);
}

double ac_metrics_get(ac_metrics_t *m, const char *name, const char *labels)
{
    pthread_mutex_lock(&m->lock);
    series_t *s = find(m, name, labels ? labels : "", 0);
    double v = s ? s->value : 0;
    pthread_mutex_unlock(&m->lock);
    return v;
}

/* A histogram series as its cumulative buckets, sum and count. */
static void put_histogram(ac_buf_t *b, const family_t *fam, const series_t *s)
{
    const char *sep = s->labels[0] ? "," : "";
    double cumulative = 0;
    for (size_t i = 0; i <= fam->n_bounds; i++) {
        cumulative += s->buckets[i];
        if (i < fam->n_bounds)
            ac_buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %.17g\n", s->name, s->labels, sep,
                          fam->bounds[i], cumulative);
        else
            ac_buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %.17g\n", s->name, s->labels, sep,
                          cumulative);
    }
    const char *open = s->labels[0] ? "{" : "", *close = s->labels[0] ? "}" : "";
    ac_buf_printf(b, "%s_sum%s%s%s %.17g\n", s->name, open, s->labels, close, s->sum);
    ac_buf_printf(b, "%s_count%s%s%s %.17g\n", s->name, open, s->labels, close, s->value);
}

static void put_series(ac_buf_t *b, const series_t *s)
{
    if (s->labels[0])
        ac_buf_printf(b, "%s{%s} %.17g\n", s->name, s->labels, s->value);
    else
        ac_buf_printf(b, "%s %.17g\n", s->name, s->value);
}

char *ac_metrics_render(ac_metrics_t *m)
{
    ac_buf_t b = AC_BUF_INIT;
    pthread_mutex_lock(&m->lock);
    /* Declared families first, each with its HELP and TYPE, then the rest. */
    unsigned char *shown = calloc(m->n ? m->n : 1, 1);
    for (size_t f = 0; f < m->n_families && shown; f++) {
        const family_t *fam = &m->families[f];
        static const char *types[] = {"counter", "gauge", "histogram"};
        ac_buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help, fam->name,
                      types[fam->type]);
        for (size_t i = 0; i < m->n; i++) {
            if (strcmp(m->series[i].name, fam->name) != 0)
                continue;
            shown[i] = 1;
            if (fam->type == AC_METRIC_HISTOGRAM)
                put_histogram(&b, fam, &m->series[i]);
            else
                put_series(&b, &m->series[i]);
        }
    }
    for (size_t i = 0; i < m->n && shown; i++)
        if (!shown[i])
            put_series(&b, &m->series[i]);
    pthread_mutex_unlock(&m->lock);
    free(shown);
    return ac_buf_steal(&b);
}
