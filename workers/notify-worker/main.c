/* notify-worker: consumes the notifications topic and delivers each
 * customer message exactly once to the configured provider, many at a time,
 * retrying what fails transiently and dead-lettering what cannot be sent. */
#include <stdio.h>

#include "log.h"
#include "notify.h"
#include "worker.h"

int main(int argc, char **argv)
{
    int code;
    ac_worker_spec_t spec = {
        .name = "notify-worker",
        .summary = "Delivers decided customer messages to the store's webhook or providers.",
        .default_topic = "notifications",
        .options = ac_notify_options,
        .n_options = ac_notify_n_options,
        .dr = ac_notify_dr,
        .check = ac_notify_check,
    };
    ac_worker_t *w = ac_worker_new(&spec, argc, argv, &code);
    if (!w)
        return code;
    /* A lease shorter than a request could let a second process send a
     * message while the first is still waiting for the provider. */
    if (ac_config_int(w->cfg, "CLAIM_TTL") <= ac_config_int(w->cfg, "HTTP_TIMEOUT")) {
        fprintf(stderr, "notify-worker: invalid setting CLAIM_TTL: must exceed HTTP_TIMEOUT\n");
        ac_worker_destroy(w);
        return AC_EXIT_CONFIG;
    }
    code = ac_notify_run(w);
    ac_worker_destroy(w);
    return code;
}
