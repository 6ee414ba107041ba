#include "redis.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "redis_int.h"
#include "redis_url.h"

ac_redis_t *ac_redis_new(const char *url, int timeout_ms, char *err, size_t errsz)
{
    ac_redis_t *r = calloc(1, sizeof(*r));
    if (!r) {
        snprintf(err, errsz, "out of memory");
        return NULL;
    }
    if (ac_redis_url_parse(url, &r->url, err, errsz) < 0) {
        free(r);
        return NULL;
    }
    r->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
    r->mode = AC_REDIS_CLUSTER_AUTO;
    return r;
}

void ac_redis_destroy(ac_redis_t *r)
{
    if (!r)
        return;
    if (r->ctx)
        redisFree(r->ctx);
    ac_rcluster_free(r);
    free(r);
}

/* Forgets what the server was found to be, so that the next connect asks
 * again under the new mode. */
void ac_redis_set_cluster(ac_redis_t *r, ac_redis_cluster_t mode)
{
    ac_redis_disconnect(r);
    ac_rcluster_free(r);
    r->mode = mode;
    r->known = mode == AC_REDIS_CLUSTER_OFF;
    r->cluster = 0;
}

/* A script's SHA1 in hex, as SCRIPT LOAD answers it: known before any
 * node is connected, since a cluster batch formats EVALSHA when the
 * command is appended and connects each master only at exec. */
static void script_sha(ac_redis_script_t *script)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(script->source, strlen(script->source), md, &n, EVP_sha1(), NULL) != 1 ||
        n != 20)
        return; /* SCRIPT LOAD fills it on connect */
    for (unsigned int i = 0; i < n; i++)
        snprintf(script->sha + 2 * i, 3, "%02x", md[i]);
}

void ac_redis_register_script(ac_redis_t *r, ac_redis_script_t *script)
{
    if (!script->sha[0])
        script_sha(script);
    for (size_t i = 0; i < r->n_scripts; i++)
        if (r->scripts[i] == script)
            return;
    if (r->n_scripts < AC_REDIS_MAX_SCRIPTS)
        r->scripts[r->n_scripts++] = script;
    ac_redis_disconnect(r); /* the next connect loads it */
}

void ac_redis_disconnect(ac_redis_t *r)
{
    if (r->ctx) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }
    ac_rcluster_disconnect(r);
}

int ac_redis_is_cluster(const ac_redis_t *r)
{
    return r->known && r->cluster;
}

/* Runs one setup command on a fresh connection, expecting no error. The
 * error names the server but never the command, which may hold the
 * password. */
static int setup_command(redisContext *c, const char *host, int port, char *err, size_t errsz,
                         redisReply **keep, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *reply = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!reply) {
        snprintf(err, errsz, "redis %s:%d: %s", host, port, c->errstr);
        return -1;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(err, errsz, "redis %s:%d: %s", host, port, reply->str);
        freeReplyObject(reply);
        return -1;
    }
    if (keep)
        *keep = reply;
    else
        freeReplyObject(reply);
    return 0;
}

redisContext *ac_redis_open(const ac_redis_t *r, const char *host, int port, char *err,
                            size_t errsz)
{
    struct timeval tv = {r->timeout_ms / 1000, (r->timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(host, port, tv);
    if (!c || c->err) {
        snprintf(err, errsz, "redis %s:%d: %s", host, port,
                 c ? c->errstr : "cannot allocate context");
        goto fail;
    }
    redisSetTimeout(c, tv);
    redisEnableKeepAlive(c);
    if (r->url.password[0] &&
        setup_command(c, host, port, err, errsz, NULL, "AUTH %s", r->url.password) < 0)
        goto fail;
    return c;
fail:
    if (c)
        redisFree(c);
    return NULL;
}

int ac_redis_load_scripts(ac_redis_t *r, redisContext *c, const char *host, int port, char *err,
                          size_t errsz)
{
    for (size_t i = 0; i < r->n_scripts; i++) {
        redisReply *reply = NULL;
        if (setup_command(c, host, port, err, errsz, &reply, "SCRIPT LOAD %s",
                          r->scripts[i]->source) < 0)
            return -1;
        if (reply->type == REDIS_REPLY_STRING && reply->len == 40)
            memcpy(r->scripts[i]->sha, reply->str, 41);
        freeReplyObject(reply);
    }
    return 0;
}

/* Makes c, just opened to seed s, the single server's connection:
 * selects the database and loads the scripts. Takes c in any case. */
static int adopt_single(ac_redis_t *r, redisContext *c, size_t s, char *err, size_t errsz)
{
    const ac_redis_seed_t *sd = &r->url.seeds[s];
    r->ctx = c;
    r->seed = s;
    if ((r->url.db &&
         setup_command(c, sd->host, sd->port, err, errsz, NULL, "SELECT %d", r->url.db) < 0) ||
        ac_redis_load_scripts(r, c, sd->host, sd->port, err, errsz) < 0) {
        ac_redis_disconnect(r);
        return -1;
    }
    return 0;
}

/* A single server: the first seed that answers, in the URL's order. */
static int connect_single(ac_redis_t *r, char *err, size_t errsz)
{
    if (r->ctx)
        return 0;
    for (size_t s = 0; s < r->url.n_seeds; s++) {
        const ac_redis_seed_t *sd = &r->url.seeds[s];
        redisContext *c = ac_redis_open(r, sd->host, sd->port, err, errsz);
        if (c)
            return adopt_single(r, c, s, err, errsz);
    }
    return -1;
}

/* Whether an error reply to CLUSTER SLOTS says the server is no cluster
 * ("ERR This instance has cluster support disabled"; a server without the
 * command at all, such as a proxy, says "unknown command"). */
static int not_a_cluster(const redisReply *reply)
{
    return strstr(reply->str, "cluster support disabled") ||
           strncmp(reply->str, "ERR unknown command", 19) == 0;
}

/* Decides from seed s's answer to CLUSTER SLOTS what the server is, and
 * sets the handle up for it. Takes c. On failure *next says whether
 * another seed may do better: not when the answer was clear (the mode or
 * the database do not fit), only when this node knew no slots. */
static int settle(ac_redis_t *r, redisContext *c, size_t s, const redisReply *reply, int *next,
                  char *err, size_t errsz)
{
    const ac_redis_seed_t *sd = &r->url.seeds[s];
    int rc = -1;
    if (reply->type == REDIS_REPLY_ERROR && not_a_cluster(reply)) {
        if (r->mode == AC_REDIS_CLUSTER_ON) {
            snprintf(err, errsz,
                     "redis %s:%d: REDIS_CLUSTER is on but the server is not a Redis "
                     "Cluster (%s)",
                     sd->host, sd->port, reply->str);
            goto out;
        }
        r->known = 1;
        r->cluster = 0;
        return adopt_single(r, c, s, err, errsz);
    }
    if (reply->type == REDIS_REPLY_ERROR)
        snprintf(err, errsz, "redis %s:%d: %s", sd->host, sd->port, reply->str);
    else if (r->url.db != 0)
        snprintf(err, errsz, "redis: a Redis Cluster has only database 0");
    else if ((rc = ac_rcluster_start(r, reply, sd->host, err, errsz)) == 0) {
        r->known = 1;
        r->cluster = 1;
    } else
        *next = 1;
out:
    redisFree(c);
    return rc;
}

/* The first connect without REDIS_CLUSTER=off: asks the first seed that
 * answers whether it is part of a Redis Cluster. */
static int detect(ac_redis_t *r, char *err, size_t errsz)
{
    for (size_t s = 0; s < r->url.n_seeds; s++) {
        const ac_redis_seed_t *sd = &r->url.seeds[s];
        redisContext *c = ac_redis_open(r, sd->host, sd->port, err, errsz);
        if (!c)
            continue;
        redisReply *reply = redisCommand(c, "CLUSTER SLOTS");
        if (!reply) {
            snprintf(err, errsz, "redis %s:%d: %s", sd->host, sd->port, c->errstr);
            redisFree(c);
            continue;
        }
        int next = 0, rc = settle(r, c, s, reply, &next, err, errsz);
        freeReplyObject(reply);
        if (!next)
            return rc;
    }
    return -1;
}

int ac_redis_connect(ac_redis_t *r, char *err, size_t errsz)
{
    if (!r->known)
        return detect(r, err, errsz);
    return r->cluster ? ac_rcluster_connect(r, err, errsz) : connect_single(r, err, errsz);
}
