#include "metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

typedef struct series {
    char *name;
    char *labels;
    double value;
} series_t;

typedef struct family {
    const char *name;
    const char *help;
    ac_metric_type_t type;
} family_t;

struct ac_metrics {
    pthread_mutex_t lock;
    series_t *series;
    size_t n, cap;
    family_t families[64];
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
    }
    free(m->series);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void ac_metrics_describe(ac_metrics_t *m, const char *name, ac_metric_type_t type, const char *help)
{
    pthread_mutex_lock(&m->lock);
    if (m->n_families < sizeof(m->families) / sizeof(m->families[0]))
        m->families[m->n_families++] = (family_t){name, help, type};
    pthread_mutex_unlock(&m->lock);
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
    if (!s->name || !s->labels) {
        free(s->name);
        free(s->labels);
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

double ac_metrics_get(ac_metrics_t *m, const char *name, const char *labels)
{
    pthread_mutex_lock(&m->lock);
    series_t *s = find(m, name, labels ? labels : "", 0);
    double v = s ? s->value : 0;
    pthread_mutex_unlock(&m->lock);
    return v;
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
        ac_buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", fam->name, fam->help, fam->name,
                      fam->type == AC_METRIC_COUNTER ? "counter" : "gauge");
        for (size_t i = 0; i < m->n; i++) {
            if (strcmp(m->series[i].name, fam->name) != 0)
                continue;
            shown[i] = 1;
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
