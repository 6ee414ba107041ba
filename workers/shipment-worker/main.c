/* shipment-worker: consumes the shipments topic and decides what the
 * customer hears while waiting for the parcel (shipping updates, delay
 * notices, including delays it detects from a slipping estimate) and, on
 * delivery, schedules the review request and referral invitation. */
#include <stdlib.h>

#include "pipeline.h"
#include "rules.h"
#include "worker.h"

int main(int argc, char **argv)
{
    int code;
    static const ac_worker_spec_t spec = {
        .name = "shipment-worker",
        .summary = "Turns shipment events into shipping updates, delay notices and scheduled "
                   "review requests and referral invitations.",
        .default_topic = "shipments",
        .options = ac_pipeline_options,
        .n_options = 0, /* set below: the table's size is only known at run time */
        .check = ac_pipeline_check,
    };
    ac_worker_spec_t s = spec;
    s.n_options = ac_pipeline_n_options;
    ac_worker_t *w = ac_worker_new(&s, argc, argv, &code);
    if (!w)
        return code;
    code = ac_pipeline_run(w, ac_rules_shipments);
    ac_worker_destroy(w);
    return code;
}
