/* A test helper, not installed: renders a report's JSON from a file as
 * text or HTML (report_render.h), so that the browser check
 * (tests/integration/test_report_html.py) can render any report without
 * a store's data in Redis.
 *
 *   render_report_json text|html REPORT.json [OUT]   (OUT: stdout if absent) */
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "buf.h"
#include "report_render.h"

/* Writes b to path, or to stdout when path is NULL; returns 0 or -1. */
static int write_all(const char *path, const ac_buf_t *b)
{
    FILE *f = path ? fopen(path, "wb") : stdout;
    if (!f) {
        perror(path);
        return -1;
    }
    int ok = fwrite(b->data, 1, b->len, f) == b->len;
    if (path)
        ok = fclose(f) == 0 && ok;
    else
        ok = fflush(f) == 0 && ok;
    if (!ok)
        fprintf(stderr, "render_report_json: cannot write %s\n", path ? path : "stdout");
    return ok ? 0 : -1;
}

/* Reads the report, renders it in the format asked for and writes it out;
 * the exit status says whether all of that worked. */
int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4 || (strcmp(argv[1], "text") != 0 && strcmp(argv[1], "html") != 0)) {
        fprintf(stderr, "usage: render_report_json text|html REPORT.json [OUT]\n");
        return 2;
    }
    json_object *report = json_object_from_file(argv[2]);
    if (!report) {
        fprintf(stderr, "render_report_json: %s: %s\n", argv[2], json_util_get_last_err());
        return 1;
    }
    ac_buf_t out = AC_BUF_INIT;
    char err[256] = "";
    int rc = strcmp(argv[1], "html") == 0 ? ac_report_html(report, &out, err, sizeof err)
                                          : ac_report_text(report, &out, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "render_report_json: %s\n", err);
    else
        rc = write_all(argc == 4 ? argv[3] : NULL, &out);
    ac_buf_free(&out);
    json_object_put(report);
    return rc < 0 ? 1 : 0;
}
