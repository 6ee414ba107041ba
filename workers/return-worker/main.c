/* return-worker: consumes the returns topic: confirms return requests
 * (cancelling the review request and referral invitation that would
 * otherwise follow) and tells the customer when the refund is on its way. */
#include <stdlib.h>

#include "pipeline.h"
#include "rules.h"
#include "worker.h"

int main(int argc, char **argv)
{
    int code;
    static const ac_worker_spec_t spec = {
        .name = "return-worker",
        .summary = "Turns return events into return confirmations and refund notices, and "
                   "cancels the marketing that no longer fits.",
        .default_topic = "returns",
        .options = ac_pipeline_options,
        .n_options = 0, /* set below: the table's size is only known at run time */
        .check = ac_pipeline_check,
    };
    ac_worker_spec_t s = spec;
    s.n_options = ac_pipeline_n_options;
    ac_worker_t *w = ac_worker_new(&s, argc, argv, &code);
    if (!w)
        return code;
    code = ac_pipeline_run(w, ac_rules_returns);
    ac_worker_destroy(w);
    return code;
}
