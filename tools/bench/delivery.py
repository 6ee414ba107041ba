#!/usr/bin/env python3
"""make bench: delivery through notify-worker, against a healthy sink and
against one that fails a third of requests at random and takes 50 ms per
request; and order-worker's consumption rate in both cases (a slow
provider must not slow it down). Prints markdown table rows: the median
of RUNS runs of each (every run goes to stderr).

    python3 tools/bench/delivery.py BIN_DIR [ORDERS] [RUNS]

With BENCH_BASELINE_BIN naming the bin directory of another build (an
older commit's, say), the healthy case also runs through that build's
order-worker and notify-worker (with this build's broker and sink), alternating with this build's in every
run, and a last row gives this build's end-to-end rate over the
baseline's: event in, request at the sink.
"""

import datetime
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))

import stack as stackmod  # noqa: E402
import gen_events  # noqa: E402
from stack import Stack  # noqa: E402

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def run(n, sink_args, label):
    placed = gen_events.orders_placed(n, 4711)
    lines = [gen_events.encode(e) for e in placed]
    with Stack(partitions=8, sink_args=sink_args + ["--secret", SECRET],
               log_level="warn") as st:
        order = st.start_worker("order-worker", wait=False)
        notify = st.start_worker("notify-worker", {
            "WEBHOOK_SECRET": SECRET, "RETRY_BASE": "200ms", "RETRY_MAX": "2s",
            "MAX_IN_FLIGHT": "256"}, wait=False)
        st.wait_ready(order)
        st.wait_ready(notify)
        st.produce("orders", lines)
        t0 = time.monotonic()
        first = None
        while True:
            done = st.metrics(order).value("aftercare_events_processed_total")
            if done and first is None:
                first = time.monotonic()
            if done >= n:
                break
            time.sleep(0.02)
        consumed_s = time.monotonic() - (first or t0)
        st.wait_until(lambda: st.sink_stats()["delivered"] + len(
            st.consume("notifications.dlq", 200)) >= n, 600, "deliveries", interval=0.5)
        msgs = st.sink_messages()
        times = sorted(ts(m["_received_at"]) for m in msgs)
        stats = st.sink_stats()
        # The rate up to 95 % delivered is the throughput; the last few
        # messages are the unlucky ones retried with growing backoff, and
        # how long they took is the tail.
        k = max(1, int(len(times) * 0.95)) - 1
        rate = (k + 1) / max(times[k] - times[0], 1e-3)
        dead = len(st.consume("notifications.dlq"))
        return (n / max(consumed_s, 1e-3), rate, times[-1] - times[0],
                stats["failed_injected"], dead, stats["bad_signatures"])


def mixed_bin(this_bin, baseline):
    """A bin directory of this build's tools (dev broker, sink, load
    generator) with the baseline's two workers: the comparison is of the
    workers alone."""
    d = tempfile.mkdtemp(prefix="bench-baseline-")
    for name in os.listdir(this_bin):
        os.symlink(os.path.join(this_bin, name), os.path.join(d, name))
    for name in ("order-worker", "notify-worker"):
        os.remove(os.path.join(d, name))
        os.symlink(os.path.join(baseline, name), os.path.join(d, name))
    return d


def row(label, n, runs):
    """The median of each column over the runs."""
    consumed, rate, settled, injected, dead, bad = (statistics.median(c) for c in zip(*runs))
    return ("| %s | %d | %.0f events/s | %.0f messages/s | %.1f s | %.0f | %.0f | %.0f |"
            % (label, n, consumed, rate, settled, injected, dead, bad))


def main():
    stackmod.BIN_DIR = os.path.abspath(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    cases = [([], "healthy, no delay"),
             (["--fail-rate", "0.33", "--delay-ms", "50", "--seed", "9"],
              "fails 1/3 at random, 50 ms per request")]
    baseline = os.environ.get("BENCH_BASELINE_BIN")
    this_bin = stackmod.BIN_DIR
    if baseline:
        baseline = mixed_bin(this_bin, os.path.abspath(baseline))
    if baseline:
        cases.insert(1, ([], "healthy, no delay, baseline build"))
    results = {label: [] for _, label in cases}
    for i in range(runs):
        for args, label in cases:
            stackmod.BIN_DIR = os.path.abspath(baseline) if label.endswith("baseline build") \
                else this_bin
            r = run(n, args, label)
            results[label].append(r)
            sys.stderr.write("delivery run %d, %s: consumption %.0f events/s, delivery %.0f "
                             "messages/s, settled after %.1f s, %d injected, %d dead, "
                             "%d bad signatures\n" % ((i + 1, label) + r))
    print("| sink | orders | order-worker consumption | delivery rate (first 95 %) "
          "| all settled after | failures injected | dead letters | bad signatures |")
    print("|---|---|---|---|---|---|---|---|")
    for _, label in cases:
        print(row(label, n, results[label]), flush=True)
    if baseline:
        new = statistics.median(r[1] for r in results["healthy, no delay"])
        old = statistics.median(r[1] for r in results["healthy, no delay, baseline build"])
        print("| end to end, this build / baseline build | %d | — | %.2f× | — | — | — | — |"
              % (n, new / old if old else float("nan")), flush=True)


if __name__ == "__main__":
    main()
