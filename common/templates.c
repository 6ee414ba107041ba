#include "templates.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include "buf.h"
#include "channel.h"
#include "render_int.h"
#include "template.h"

/* The most of a template file that is read: far more than any message,
 * little enough that a wrong file cannot exhaust memory. */
#define TEMPLATE_MAX_BYTES (256 * 1024)

/* Templates a store's team wrote, loaded from TEMPLATE_DIR. */
struct ac_templates {
    template_entry_t *entries;
    char **stores; /* per entry: the store it is for, NULL for every store */
    size_t n, cap;
};

/* Reads "<kind>.<channel>.<language>.txt" into e's kind and channel and
 * lang (8 bytes); which languages aftercare writes is checked only once
 * the file is known to be a template, so that a broken file is reported
 * for what is broken in it. */
static int parse_name(const char *dir, const char *name, template_entry_t *e, char lang[8],
                      char *err, size_t errsz)
{
    char kind_name[64], ch_name[16];
    int n = 0;
    if (sscanf(name, "%63[a-z_].%15[a-z].%7[a-z].txt%n", kind_name, ch_name, lang, &n) != 3 ||
        name[n] != '\0' || ac_kind_parse(kind_name, &e->kind) < 0 ||
        ac_channel_parse(ch_name, &e->channel) < 0 || strlen(lang) != 2) {
        snprintf(err, errsz, "%s/%s: not <kind>.<email|sms>.<language>.txt", dir, name);
        return -1;
    }
    return 0;
}

/* Returns the contents of path as a malloc'd string (the caller frees it),
 * or NULL with err filled when it cannot be read or is empty. */
static char *read_text(const char *path, char *err, size_t errsz)
{
    FILE *f = fopen(path, "rb");
    ac_buf_t b = AC_BUF_INIT;
    char chunk[4096];
    size_t got;
    if (!f) {
        snprintf(err, errsz, "%s: cannot read it", path);
        return NULL;
    }
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0 && b.len < TEMPLATE_MAX_BYTES)
        ac_buf_append(&b, chunk, got);
    fclose(f);
    char *text = ac_buf_steal(&b);
    ac_buf_free(&b);
    if (!text)
        snprintf(err, errsz, "%s: empty", path);
    return text;
}

/* Splits an email template's text into its "Subject: " line and the body
 * after the blank line(s) that follow, each malloc'd (NULL when out of
 * memory, for the caller to report). Returns -1 with err filled when the
 * first line is not a subject. */
static int split_email(char *text, const char *path, char **subject, char **body, char *err,
                       size_t errsz)
{
    char *nl = strchr(text, '\n');
    if (strncmp(text, "Subject: ", 9) != 0 || !nl) {
        snprintf(err, errsz, "%s: an email template starts with a \"Subject: \" line", path);
        return -1;
    }
    *nl = '\0';
    *subject = strdup(text + 9);
    char *rest = nl + 1;
    while (*rest == '\n')
        rest++;
    *body = strdup(rest);
    return 0;
}

/* Makes room for one more entry. */
static int grow(ac_templates_t *o, char *err, size_t errsz)
{
    if (o->n < o->cap)
        return 0;
    size_t cap = o->cap ? o->cap * 2 : 16;
    template_entry_t *e = realloc(o->entries, cap * sizeof(*e));
    char **st = e ? realloc(o->stores, cap * sizeof(*st)) : NULL;
    if (e)
        o->entries = e;
    if (st)
        o->stores = st;
    if (!e || !st) {
        snprintf(err, errsz, "out of memory");
        return -1;
    }
    o->cap = cap;
    return 0;
}

/* The language of lang as static storage the entry can point at, NULL
 * for one aftercare does not write. */
static const char *known_language(const char *lang)
{
    return strcmp(lang, "de") == 0 ? "de" : strcmp(lang, "en") == 0 ? "en" : NULL;
}

/* Reads the template file name of dir, for store (NULL: every store), into
 * o. The subject and text are checked here, at start-up, so that a typo
 * in a store's template stops the worker instead of a customer's message. */
static int load_file(ac_templates_t *o, const char *dir, const char *name, const char *store,
                     char *err, size_t errsz)
{
    int rc = -1;
    template_entry_t e = {0};
    char lang[8], path[1024], why[256] = "";
    char *text = NULL, *subject = NULL, *body = NULL, *owner = NULL;
    if (parse_name(dir, name, &e, lang, err, errsz) < 0)
        goto out;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (!(text = read_text(path, err, errsz)))
        goto out;
    if (e.channel == AC_CHANNEL_SMS) {
        body = text;
        text = NULL;
    } else if (split_email(text, path, &subject, &body, err, errsz) < 0) {
        goto out;
    }
    if (e.channel == AC_CHANNEL_EMAIL && (!subject || !body))
        snprintf(why, sizeof(why), "out of memory");
    else if (!subject || ac_template_check(subject, why, sizeof(why)) == 0)
        ac_template_check(body, why, sizeof(why));
    if (why[0]) {
        snprintf(err, errsz, "%s: %s", path, why);
        goto out;
    }
    if (grow(o, err, errsz) < 0)
        goto out;
    if (!(e.language = known_language(lang))) {
        snprintf(err, errsz, "%s: language %s is not one aftercare writes (en, de)", path, lang);
        goto out;
    }
    if (store && !(owner = strdup(store))) {
        snprintf(err, errsz, "out of memory");
        goto out;
    }
    e.subject = subject;
    e.text = body;
    o->entries[o->n] = e;
    o->stores[o->n] = owner;
    o->n++;
    subject = body = NULL;
    rc = 0;
out:
    free(text);
    free(subject);
    free(body);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads the .txt files of dir (store NULL) or of one store's
 * subdirectory, in name order so that the first broken file reported is
 * the same on every machine. */
static int load_dir(ac_templates_t *o, const char *dir, const char *store, char *err, size_t errsz)
{
    int rc = -1;
    size_t n = 0, cap = 0;
    char **names = NULL, path[1024];
    DIR *d = opendir(dir);
    if (!d) {
        snprintf(err, errsz, "%s: cannot open the directory", dir);
        return -1;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **grown = realloc(names, cap * sizeof(*names));
            if (!grown) {
                snprintf(err, errsz, "out of memory");
                goto out;
            }
            names = grown;
        }
        if (!(names[n] = strdup(e->d_name))) {
            snprintf(err, errsz, "out of memory");
            goto out;
        }
        n++;
    }
    qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (stat(path, &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (store) {
                snprintf(err, errsz, "%s: store directories do not nest", path);
                goto out;
            }
            if (load_dir(o, path, names[i], err, errsz) < 0)
                goto out;
        } else if (load_file(o, dir, names[i], store, err, errsz) < 0) {
            goto out;
        }
    }
    rc = 0;
out:
    closedir(d);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

ac_templates_t *ac_templates_load(const char *dir, char *err, size_t errsz)
{
    ac_templates_t *o = calloc(1, sizeof(*o));
    if (!o) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    if (dir && *dir && load_dir(o, dir, NULL, err, errsz) < 0) {
        ac_templates_destroy(o);
        return NULL;
    }
    return o;
}

void ac_templates_destroy(ac_templates_t *o)
{
    if (!o)
        return;
    for (size_t i = 0; i < o->n; i++) {
        free((char *)o->entries[i].subject);
        free((char *)o->entries[i].text);
        free(o->stores[i]);
    }
    free(o->entries);
    free(o->stores);
    free(o);
}

size_t ac_templates_count(const ac_templates_t *o)
{
    return o ? o->n : 0;
}

/* See render_int.h. A store's own template wins over a shared one
 * wherever either comes in the directory, so a store can be given its
 * wording without touching everyone else's. */
const template_entry_t *ac_templates_find(const ac_templates_t *o, ac_kind_t kind, ac_channel_t ch,
                                          const char *language, const char *store)
{
    const template_entry_t *any = NULL;
    for (size_t i = 0; o && i < o->n; i++) {
        const template_entry_t *t = &o->entries[i];
        if (t->kind != kind || t->channel != ch || strcmp(t->language, language) != 0)
            continue;
        if (!o->stores[i])
            any = t;
        else if (store && strcmp(o->stores[i], store) == 0)
            return t;
    }
    return any;
}
