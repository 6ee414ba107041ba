/* order-worker: consumes the orders topic and decides the messages orders
 * call for (an order confirmation, a cancellation notice), handing them to
 * notify-worker through the notifications topic; cancellations and
 * customer feedback also cancel scheduled messages that no longer fit. */
#include "pipeline.h"
#include "rules.h"

int main(int argc, char **argv)
{
    static const ac_worker_spec_t spec = {
        .name = "order-worker",
        .summary = "Turns order events into order confirmations and cancellation notices.",
        .default_topic = "orders",
    };
    return ac_pipeline_main(&spec, ac_rules_orders, argc, argv);
}
