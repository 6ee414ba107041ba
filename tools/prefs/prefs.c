/* ac-prefs: records what a customer does not want to hear, for
 * notify-worker to respect (common/prefs.h). A store's unsubscribe link or
 * support tool calls it, or the equivalent Redis HSET.
 *
 *   ac-prefs --redis URL --store ID --customer ID --opt-out WHAT
 *   ac-prefs --redis URL --store ID --customer ID --opt-in WHAT
 *   ac-prefs --redis URL --store ID --customer ID --prefer email|sms|none
 *   ac-prefs --redis URL --store ID --customer ID --show
 *   ac-prefs --help | --version
 *
 * WHAT is "marketing" (every review request and referral invitation),
 * "channel:email" or "channel:sms" (marketing over that channel), or
 * "kind:review_request" / "kind:referral_invite". Transactional messages
 * (confirmations, shipping, delay, return and refund news) always go out.
 * --prefer chooses the channel of every message for a customer who gave
 * both an email address and a phone number. REDIS_CLUSTER (auto, on or
 * off) is read from the environment as the workers read it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "prefs.h"

static int usage(const char *why)
{
    fprintf(stderr,
            "ac-prefs: %s (usage: ac-prefs --redis URL --store ID --customer ID "
            "--opt-out|--opt-in WHAT | --prefer email|sms|none | --show; --help for more)\n",
            why);
    return 2;
}

/* --help prints the whole usage on stdout and exits 0, like the workers'
 * --help, so that an operator (or the image's test) can ask any binary of
 * the image how it is used. */
static int help(void)
{
    printf("Usage: ac-prefs --redis URL --store ID --customer ID ACTION\n"
           "Records what a customer does not want to hear, for notify-worker to respect.\n"
           "\n"
           "ACTION is one of\n"
           "  --opt-out WHAT | --opt-in WHAT   WHAT: marketing, channel:email, channel:sms,\n"
           "                                   kind:review_request or kind:referral_invite\n"
           "  --prefer email|sms|none          the channel of every message for a customer\n"
           "                                   who gave both\n"
           "  --show                           print what is recorded\n"
           "  --help | --version               this text, or the version\n"
           "\n"
           "Transactional messages (confirmations, shipping, delay, return and refund news)\n"
           "always go out. REDIS_CLUSTER (auto, on, off) is read from the environment.\n");
    return 0;
}

static int valid_what(const char *what)
{
    ac_kind_t kind;
    ac_channel_t ch;
    if (strcmp(what, "marketing") == 0 ||
        (strncmp(what, "channel:", 8) == 0 && ac_channel_parse(what + 8, &ch) == 0))
        return 1;
    return strncmp(what, "kind:", 5) == 0 && ac_kind_parse(what + 5, &kind) == 0 &&
           ac_prefs_marketing(kind);
}

/* Reads REDIS_CLUSTER as the workers do (auto when unset); -1 after
 * saying which value is wrong. */
static int cluster_mode(ac_redis_cluster_t *mode)
{
    char why[256];
    const char *cluster = getenv("REDIS_CLUSTER");
    *mode = AC_REDIS_CLUSTER_AUTO;
    if (cluster && *cluster && ac_redis_cluster_parse(cluster, mode, why, sizeof(why)) < 0) {
        fprintf(stderr, "ac-prefs: invalid setting REDIS_CLUSTER=%s: %s\n", cluster, why);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *url = NULL, *store = NULL, *customer = NULL, *what = NULL, *prefer = NULL;
    int optout = -1, show = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            return help();
        if (strcmp(a, "--version") == 0) {
            printf("ac-prefs %s\n", AC_VERSION);
            return 0;
        }
        if (strcmp(a, "--show") == 0) {
            show = 1;
            continue;
        }
        if (!v)
            return usage("a flag is missing its value");
        if (strcmp(a, "--redis") == 0)
            url = v;
        else if (strcmp(a, "--store") == 0)
            store = v;
        else if (strcmp(a, "--customer") == 0)
            customer = v;
        else if (strcmp(a, "--prefer") == 0)
            prefer = v;
        else if (strcmp(a, "--opt-out") == 0 || strcmp(a, "--opt-in") == 0) {
            what = v;
            optout = strcmp(a, "--opt-out") == 0;
        } else
            return usage("unknown flag");
        i++;
    }
    if (!url || !store || !customer)
        return usage("--redis, --store and --customer are required");
    if (show + (what != NULL) + (prefer != NULL) != 1)
        return usage("give exactly one of --opt-out, --opt-in, --prefer and --show");
    ac_channel_t ch;
    if (prefer && ac_channel_parse(prefer, &ch) < 0 && strcmp(prefer, "none") != 0)
        return usage("--prefer takes email, sms or none");
    if (what && !valid_what(what))
        return usage("WHAT is marketing, channel:email, channel:sms, kind:review_request or "
                     "kind:referral_invite");
    char err[512], key[600];
    ac_redis_cluster_t mode;
    if (cluster_mode(&mode) < 0)
        return 2;
    ac_redis_t *r = ac_redis_new(url, 5000, err, sizeof(err));
    if (!r)
        return usage(err);
    ac_redis_set_cluster(r, mode);
    ac_prefs_key(store, customer, key, sizeof(key));
    int rc = 0;
    if (prefer) {
        redisReply *rep =
            strcmp(prefer, "none") == 0
                ? ac_redis_command(r, err, sizeof(err), "HDEL %s prefer", key)
                : ac_redis_command(r, err, sizeof(err), "HSET %s prefer %s", key, prefer);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "ac-prefs: %s\n", rep ? rep->str : err);
            rc = 1;
        } else {
            printf("customer %s of store %s prefers %s\n", customer, store, prefer);
        }
        freeReplyObject(rep);
    } else if (what) {
        if (ac_prefs_set(r, key, what, optout, err, sizeof(err)) < 0) {
            fprintf(stderr, "ac-prefs: %s\n", err);
            rc = 1;
        } else {
            printf("%s %s for customer %s of store %s\n", optout ? "opted out of" : "opted in to",
                   what, customer, store);
        }
    } else {
        redisReply *rep = ac_redis_command(r, err, sizeof(err), "HGETALL %s", key);
        if (!rep) {
            fprintf(stderr, "ac-prefs: %s\n", err);
            rc = 1;
        } else {
            for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements; i += 2)
                printf("%s: %s\n", rep->element[i]->str, rep->element[i + 1]->str);
            freeReplyObject(rep);
        }
    }
    ac_redis_destroy(r);
    return rc;
}
