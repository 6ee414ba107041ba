/* ac-report: a store's retention report (docs/analytics.md) from the facts
 * the workers recorded in Redis.
 *
 *   ac-report --store ID --from YYYY-MM-DD --to YYYY-MM-DD
 *             [--format text|json|html] [--out FILE] [--timezone ZONE]
 *
 * Dates are inclusive, in the store's time zone (the one its events carry,
 * unless --timezone names another). REDIS_URL, REDIS_CLUSTER and
 * ANALYTICS_RETENTION are read from the environment as the workers read
 * them. Exit status: 0, 1 when Redis or the output failed, 2 for a bad flag
 * or setting. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "duration.h"
#include "redis.h"
#include "report.h"
#include "report_load.h"
#include "report_render.h"
#include "timeutil.h"
#include "tool_cli.h"

static const char usage_text[] =
    "usage: ac-report --store ID --from YYYY-MM-DD --to YYYY-MM-DD\n"
    "                 [--format text|json|html] [--out FILE] [--timezone ZONE]\n"
    "\n"
    "A store's retention report: orders, customers, repeat-purchase and retention rates,\n"
    "returns, CSAT, ratings, messages sent and suppressed, review request responses, the\n"
    "effect of each marketing message against its holdout group, and monthly cohorts\n"
    "(docs/analytics.md). Dates are inclusive, in the store's time zone.\n"
    "\n"
    "Environment: REDIS_URL (default redis://127.0.0.1:6379/0), REDIS_CLUSTER (auto, on\n"
    "or off; default auto), ANALYTICS_RETENTION (default 400d: how far back the workers\n"
    "keep facts).\n";

typedef struct args {
    const char *store, *from, *to, *format, *out, *timezone;
} args_t;

static int bad(const char *fmt, const char *what)
{
    fprintf(stderr, "ac-report: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, " (ac-report --help)\n");
    return 2;
}

/* Reads the flags into a. Returns 0, 1 after --help, or 2 after one line
 * naming what is wrong. */
static int parse_args(int argc, char **argv, args_t *a)
{
    static const char *flags[] = {"--store", "--from", "--to", "--format", "--out", "--timezone"};
    const char **slots[] = {&a->store, &a->from, &a->to, &a->format, &a->out, &a->timezone};
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage_text, stdout);
            return 1;
        }
        size_t f = 0;
        while (f < 6 && strcmp(argv[i], flags[f]) != 0)
            f++;
        if (f == 6)
            return bad("unknown flag %s", argv[i]);
        if (i + 1 >= argc)
            return bad("%s needs a value", argv[i]);
        *slots[f] = argv[++i];
    }
    if (!a->store)
        return bad("%s is required", "--store");
    if (!a->from || !a->to)
        return bad("%s are required", "--from and --to");
    if (!a->format)
        a->format = "text";
    if (strcmp(a->format, "text") != 0 && strcmp(a->format, "json") != 0 &&
        strcmp(a->format, "html") != 0)
        return bad("invalid --format %s: text, json or html", a->format);
    return 0;
}

/* Renders the report in the format asked for into out. */
static int render(json_object *report, const char *format, ac_buf_t *out, char *err, size_t errsz)
{
    if (strcmp(format, "json") == 0) {
        ac_buf_puts(out, json_object_to_json_string_ext(
                             report, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        ac_buf_puts(out, "\n");
        return out->oom ? -1 : 0;
    }
    if (strcmp(format, "html") == 0)
        return ac_report_html(report, out, err, errsz);
    return ac_report_text(report, out, err, errsz);
}

/* --out replaces the file whole (a browser reloading it never shows half a
 * report); without it the report goes to standard output. */
static int write_out(const char *path, const ac_buf_t *b)
{
    char why[256];
    if (!path)
        return fwrite(b->data, 1, b->len, stdout) == b->len && fflush(stdout) == 0 ? 0 : -1;
    if (ac_tool_write_file_atomic(path, b->data, b->len, why, sizeof(why)) != 0) {
        fprintf(stderr, "%s: %s\n", path, why);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    args_t a = {0};
    char err[512];
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc == 1 ? 0 : rc;
    const char *url = getenv("REDIS_URL"), *ret = getenv("ANALYTICS_RETENTION");
    int64_t retention = 400LL * 86400000;
    if (ret && *ret && (ac_duration_parse(ret, &retention) < 0 || retention < 86400000)) {
        fprintf(stderr,
                "ac-report: invalid setting ANALYTICS_RETENTION=%s: a duration of a "
                "day or more, such as 400d\n",
                ret);
        return 2;
    }
    const char *cluster = getenv("REDIS_CLUSTER");
    ac_redis_cluster_t mode = AC_REDIS_CLUSTER_AUTO;
    if (cluster && *cluster && ac_redis_cluster_parse(cluster, &mode, err, sizeof(err)) < 0) {
        fprintf(stderr, "ac-report: invalid setting REDIS_CLUSTER=%s: %s\n", cluster, err);
        return 2;
    }
    ac_redis_t *r =
        ac_redis_new(url && *url ? url : "redis://127.0.0.1:6379/0", 30000, err, sizeof(err));
    if (!r) {
        fprintf(stderr, "ac-report: invalid setting REDIS_URL: %s\n", err);
        return 2;
    }
    ac_redis_set_cluster(r, mode);
    ac_report_period_t p = {a.store, a.from, a.to, a.timezone, retention, ac_time_now_ms()};
    ac_report_load_t *l = NULL;
    json_object *report = NULL;
    ac_buf_t out = AC_BUF_INIT;
    rc = 1;
    if (!(l = ac_report_load(r, &p, err, sizeof(err)))) {
        fprintf(stderr, "ac-report: %s\n", err);
        rc = strncmp(err, "invalid", 7) == 0 || strncmp(err, "unknown time", 12) == 0 ? 2 : 1;
        goto out;
    }
    if (!(report = ac_report_compute(ac_report_load_input(l), err, sizeof(err))) ||
        render(report, a.format, &out, err, sizeof(err)) < 0) {
        fprintf(stderr, "ac-report: %s\n", out.oom ? "out of memory" : err);
        goto out;
    }
    if (write_out(a.out, &out) < 0)
        goto out;
    if (a.out)
        fprintf(stderr, "ac-report: wrote %s\n", a.out);
    rc = 0;
out:
    ac_buf_free(&out);
    json_object_put(report);
    ac_report_load_destroy(l);
    ac_redis_destroy(r);
    return rc;
}
