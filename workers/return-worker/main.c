/* return-worker: consumes the returns topic: confirms return requests
 * (cancelling the review request and referral invitation that would
 * otherwise follow) and tells the customer when the refund is on its way. */
#include "pipeline.h"
#include "rules.h"

int main(int argc, char **argv)
{
    static const ac_worker_spec_t spec = {
        .name = "return-worker",
        .summary = "Turns return events into return confirmations and refund notices, and "
                   "cancels the marketing that no longer fits.",
        .default_topic = "returns",
    };
    return ac_pipeline_main(&spec, ac_rules_returns, argc, argv);
}
