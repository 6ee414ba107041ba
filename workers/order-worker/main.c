/* order-worker: consumes the orders topic and decides the messages orders
 * call for (an order confirmation, a cancellation notice), handing them to
 * notify-worker through the notifications topic; cancellations and
 * customer feedback also cancel scheduled messages that no longer fit. */
#include <stdlib.h>

#include "pipeline.h"
#include "rules.h"
#include "worker.h"

int main(int argc, char **argv)
{
    int code;
    static const ac_worker_spec_t spec = {
        .name = "order-worker",
        .summary = "Turns order events into order confirmations and cancellation notices.",
        .default_topic = "orders",
        .options = ac_pipeline_options,
        .n_options = 0, /* set below: the table's size is only known at run time */
        .check = ac_pipeline_check,
    };
    ac_worker_spec_t s = spec;
    s.n_options = ac_pipeline_n_options;
    ac_worker_t *w = ac_worker_new(&s, argc, argv, &code);
    if (!w)
        return code;
    code = ac_pipeline_run(w, ac_rules_orders);
    ac_worker_destroy(w);
    return code;
}
