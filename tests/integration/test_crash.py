"""Crash safety: SIGKILL the workers at random instants while orders flow.

Every order must still get exactly one confirmation: nothing lost, nothing
delivered twice. Re-sends after a crash are allowed only as replays that the
webhook's Idempotency-Key absorbs; they are counted and reported.

The kill instants are drawn from a seeded random.Random and printed; rerun
a given plan with AC_CRASH_SEED=<seed>. AC_CRASH_KILLS sets how many kills
(half of each worker): 4 in `make test`, more in `make test-faults`.

    AC_BIN_DIR=../../build/bin python3 -m unittest -v test_crash
"""

import json
import os
import random
import signal
import time
import unittest

import gen_events
from stack import PacedProducer, Stack

SEED = int(os.environ.get("AC_CRASH_SEED", "20241105"))
N_ORDERS = 2000
DUP_RATE = 0.1
PARTITIONS = 8
CHUNK = 10  # records per produce call
PACE = 0.05  # seconds between produce calls: roughly 100 records a second
KILLS = max(2, int(os.environ.get("AC_CRASH_KILLS", "4")))
ORDER_KILLS = (KILLS + 1) // 2
NOTIFY_KILLS = KILLS // 2

# Each webhook call takes this long, so a kill often lands while calls are in
# flight: the case the claim lease (CLAIM_TTL) and Idempotency-Key exist for.
SINK_DELAY_MS = 20

ORDER_GROUP = "crash-order-worker"
NOTIFY_GROUP = "crash-notify-worker"

# A SIGKILLed consumer's partitions go to its successor once the group
# coordinator notices it is gone; 6 s is the shortest session the
# development broker accepts, so each restart takes roughly 10 s.
KAFKA_TUNING = {"RDKAFKA_SESSION_TIMEOUT_MS": "6000", "RDKAFKA_HEARTBEAT_INTERVAL_MS": "500"}

# What shows that a freshly started worker is doing its job (its counters
# start at zero with each process).
WORKING = {
    "order-worker": "aftercare_events_processed_total",
    "notify-worker": "aftercare_messages_sent_total",
}


class CrashTest(unittest.TestCase):
    def test_sigkill_workers_while_orders_flow(self):
        rng = random.Random(SEED)
        placed = gen_events.orders_placed(N_ORDERS, SEED)
        lines = gen_events.with_duplicates([gen_events.encode(e) for e in placed], DUP_RATE,
                                           SEED)
        expected_ids = sorted(str(e["order"]["id"]) for e in placed)

        # The plan: which worker dies in each phase, and how long after it
        # was seen working again (the stream is flowing all the while).
        victims = ["order-worker"] * ORDER_KILLS + ["notify-worker"] * NOTIFY_KILLS
        rng.shuffle(victims)
        plan = [(who, round(rng.uniform(0.05, 1.5), 3)) for who in victims]
        print("\ncrash seed %d (AC_CRASH_SEED): %d orders in %d records; kill plan:"
              % (SEED, N_ORDERS, len(lines)))
        print("  " + ", ".join("%s after %.3fs" % p for p in plan))

        kills = []
        with Stack(partitions=PARTITIONS, sink_args=["--delay-ms", str(SINK_DELAY_MS)]) as st:
            workers = {
                "order-worker": st.start_worker("order-worker", {
                    "KAFKA_GROUP": ORDER_GROUP, **KAFKA_TUNING}),
                "notify-worker": st.start_worker("notify-worker", {
                    "KAFKA_GROUP": NOTIFY_GROUP, "CLAIM_TTL": "3s", "HTTP_TIMEOUT": "1s",
                    **KAFKA_TUNING}),
            }
            # Records are flowing at every kill; the brokers never go down,
            # so a chunk that fails to produce fails the test.
            producer = PacedProducer(st, lines, chunk=CHUNK, pace=PACE)
            t0 = time.monotonic()
            producer.start()

            def delivered():
                return st.sink_stats()["delivered"]

            def check():
                st.check_alive()
                if producer.error:
                    raise producer.error

            for phase, (who, delay) in enumerate(plan):
                producer.allow(len(lines) * (phase + 1) // (len(plan) + 1))
                w = workers[who]
                done = st.wait_until(lambda: check() or st.metrics(w).value(WORKING[who]), 120,
                                     "%s to be working before kill %d" % (who, phase + 1),
                                     interval=0.02)
                time.sleep(delay)  # a random instant while it works: nothing to poll
                pid = w.pid
                st.kill(w, signal.SIGKILL)
                when = time.monotonic() - t0
                state = (producer.produced, delivered())
                kills.append((when, who, pid, state))
                print("  t=%6.2fs SIGKILL %-13s (pid %d) %.3fs after seeing it work (%s=%d); "
                      "produced=%d delivered=%d" % (when, who, pid, delay, WORKING[who], done,
                                                    state[0], state[1]), flush=True)
                st.restart(w)

            producer.finish(300)
            self.assertEqual(producer.produced, len(lines))

            st.wait_until(lambda: delivered() >= N_ORDERS, 300,
                          "%d deliveries at the sink" % N_ORDERS, interval=0.25)
            for who, group, topic in (("order-worker", ORDER_GROUP, "orders"),
                                      ("notify-worker", NOTIFY_GROUP, "notifications")):
                st.wait_until(lambda: st.offsets(topic, group)["lag"] == 0, 120,
                              "%s to commit everything on %s" % (who, topic), interval=0.5)
            for who in ("order-worker", "notify-worker"):
                self.assertEqual(st.kill(workers[who], signal.SIGTERM, timeout=20), 0,
                                 "%s exits 0 on SIGTERM" % who)
            self.assertEqual(st.offsets("orders", ORDER_GROUP)["lag"], 0)
            self.assertEqual(st.offsets("notifications", NOTIFY_GROUP)["lag"], 0)

            stats = st.sink_stats()
            messages = st.sink_messages()
            notifications = st.consume("notifications")
            dlq = st.consume("orders.dlq")

            print("after %d kills in %.0fs: sink %s" % (len(kills), time.monotonic() - t0,
                                                       json.dumps(stats)))
            print("re-sends absorbed by the Idempotency-Key (replays): %d" % stats["replays"])

            self.assertEqual(len(kills), ORDER_KILLS + NOTIFY_KILLS)
            self.assertEqual(dlq, [], "no good event was dead-lettered")
            decided = {json.loads(r["value"])["id"] for r in notifications}
            self.assertEqual(len(decided), N_ORDERS, "one decided message per order")
            self.assertEqual(stats["delivered"], N_ORDERS,
                             "exactly one delivery per order (replays: %d)" % stats["replays"])
            self.assertEqual(stats["no_key"], 0)
            self.assertEqual(len(messages), N_ORDERS)
            ids = [m["id"] for m in messages]
            self.assertEqual(len(set(ids)), N_ORDERS, "no message delivered twice")
            self.assertEqual(set(ids), decided, "what was delivered is what was decided")
            self.assertEqual(sorted(str(m["order_id"]) for m in messages), expected_ids,
                             "every order got its confirmation")
            self.assertTrue(all(m["kind"] == "order_confirmation" for m in messages))



class OutputRefusedTest(unittest.TestCase):
    """Kafka stops acknowledging order-worker's messages for longer than
    the producer's message.timeout.ms while orders flow, in batches of 5
    that overlap (the next batch is processed while Kafka acknowledges the
    last). The batch whose messages failed, and the batch processed behind
    it, are rewound and consumed again, and the worker lives on: every
    order still gets one confirmation, nothing is dead-lettered, and
    everything consumed is committed."""

    N_ORDERS = 1500
    GROUP = "refused-order-worker"

    def test_brokers_down_past_the_message_timeout(self):
        placed = gen_events.orders_placed(self.N_ORDERS, SEED + 7)
        lines = [gen_events.encode(e) for e in placed]
        with Stack(partitions=4) as st:
            order = st.start_worker("order-worker", dict(KAFKA_TUNING, **{
                "KAFKA_GROUP": self.GROUP, "BATCH_SIZE": 5,
                "RDKAFKA_MESSAGE_TIMEOUT_MS": "1500"}))
            notify = st.start_worker("notify-worker", dict(KAFKA_TUNING, **{
                "KAFKA_GROUP": "refused-notify-worker", "CLAIM_TTL": "5s", "HTTP_TIMEOUT": "2s"}))
            self.assertEqual(st.produce("orders", lines), len(lines))
            processed = lambda: st.metrics(order).value("aftercare_events_processed_total",
                                                        topic="orders")
            st.wait_until(lambda: processed() >= 100, 60, "order-worker processing")
            # Redis paused for a second holds the worker while its consumer
            # fetches ahead, so that when the brokers go down there are
            # records at hand: a batch is in flight and the next one, often
            # of other partitions, is processed behind it.
            os.kill(st.redis.pid, signal.SIGSTOP)
            time.sleep(1)
            st.broker_signal(signal.SIGUSR1)
            os.kill(st.redis.pid, signal.SIGCONT)
            time.sleep(4)
            st.broker_signal(signal.SIGUSR2)
            st.wait_until(lambda: st.sink_stats()["delivered"] >= self.N_ORDERS, 180,
                          "%d deliveries at the sink" % self.N_ORDERS, interval=0.25)
            rewound = st.metrics(order).value("aftercare_batches_rewound_total")
            self.assertEqual(st.kill(order, signal.SIGTERM, timeout=20), 0,
                             "order-worker lived through the failures and exits 0")
            self.assertEqual(st.kill(notify, signal.SIGTERM, timeout=20), 0)
            self.assertEqual(st.offsets("orders", self.GROUP)["lag"], 0,
                             "order-worker committed everything it consumed")
            stats = st.sink_stats()
            messages = st.sink_messages()
            print("\nbatches rewound: %d; sink: %s" % (rewound, json.dumps(stats)))
            self.assertGreaterEqual(rewound, 1, "a batch's messages failed and it was rewound")
            self.assertEqual(st.consume("orders.dlq"), [], "no good event was dead-lettered")
            self.assertEqual(stats["delivered"], self.N_ORDERS, "one delivery per order")
            self.assertEqual(stats["replays"], 0)
            self.assertEqual(sorted(str(m["order_id"]) for m in messages),
                             sorted(str(e["order"]["id"]) for e in placed),
                             "one confirmation per order")


if __name__ == "__main__":
    unittest.main(verbosity=2)
