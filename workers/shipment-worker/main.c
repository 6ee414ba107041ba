/* shipment-worker: consumes the shipments topic and decides what the
 * customer hears while waiting for the parcel (shipping updates, delay
 * notices, including delays it detects from a slipping estimate) and, on
 * delivery, schedules the review request and referral invitation. */
#include "pipeline.h"
#include "rules.h"

int main(int argc, char **argv)
{
    static const ac_worker_spec_t spec = {
        .name = "shipment-worker",
        .summary = "Turns shipment events into shipping updates, delay notices and scheduled "
                   "review requests and referral invitations.",
        .default_topic = "shipments",
    };
    return ac_pipeline_main(&spec, ac_rules_shipments, argc, argv);
}
