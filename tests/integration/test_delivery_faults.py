"""Delivery against providers that fail: every message ends delivered
exactly once or dead-lettered with its reason, and signatures verify.

- A sink that fails a third of requests at random and takes 50 ms each.
- Sinks answering 429 (with Retry-After), 500 or 503 to half the requests,
  and one that stalls past the timeout on every request.
- The documented receiver (docs/examples/webhook_receiver.py) as the
  webhook: its verify() accepts every delivery while secrets rotate, and a
  receiver with the wrong secret makes every message a dead letter.

    AC_BIN_DIR=../../build/bin python3 -m unittest -v test_delivery_faults
"""

import collections
import json
import os
import subprocess
import sys
import time
import unittest
import urllib.request

import gen_events
from stack import REPO, Stack, free_port, wait_until

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD_SECRET = "whsec_dGhpcyBpcyB0aGUgb2xkIHNlY3JldCBrZXk="
RECEIVER = os.path.join(REPO, "docs", "examples", "webhook_receiver.py")
# Retries bounded by their lifetime (RETRY_FOR), not by a count; a circuit
# opened by a run of failures probes again after a second.
FAST_RETRIES = {"RETRY_BASE": "100ms", "RETRY_MAX": "1s", "FAILOVER_COOLDOWN": "1s",
                "HTTP_TIMEOUT": "2s", "CLAIM_TTL": "5s"}


def order_key(ev):
    return str(ev["order"]["id"])


class DeliveryFaultsTest(unittest.TestCase):
    maxDiff = 4000

    def run_orders(self, st, placed, notify_env, dup_rate=0.1):
        order = st.start_worker("order-worker", {"KAFKA_GROUP": "faults-order"}, wait=False)
        env = dict(FAST_RETRIES)
        env.update(notify_env)
        notify = st.start_worker("notify-worker", env, wait=False)
        st.wait_ready(order)
        st.wait_ready(notify)
        lines = gen_events.with_duplicates([gen_events.encode(e) for e in placed], dup_rate, 3)
        t0 = time.monotonic()
        st.produce("orders", lines)
        return order, notify, t0

    def outcome(self, st, placed, timeout=180, all_dead=False):
        """Waits until every order's confirmation was delivered or dead-
        lettered (only dead-lettered, with all_dead: a stalled sink records
        requests the client already gave up on); returns (delivered ids by
        order, dead letters by order)."""
        want = {order_key(e) for e in placed}

        def settled():
            got = set() if all_dead else {str(m["order_id"]) for m in st.sink_messages()}
            dead = {str(json.loads(r["value"])["event"]["order"]["id"])
                    for r in st.consume("notifications.dlq", 200)}
            return want <= got | dead
        st.wait_until(settled, timeout, "every message delivered or dead-lettered", interval=0.5)
        time.sleep(1)
        delivered = collections.defaultdict(list)
        for m in st.sink_messages():
            delivered[str(m["order_id"])].append(m)
        dead = collections.defaultdict(list)
        for r in st.consume("notifications.dlq"):
            dead[str(json.loads(r["value"])["event"]["order"]["id"])].append(r)
        return delivered, dead

    def test_third_failing_slow_sink(self):
        n = 600
        placed = gen_events.orders_placed(n, 77)
        sink = ["--fail-rate", "0.33", "--delay-ms", "50", "--secret", SECRET, "--seed", "7"]
        with Stack(partitions=4, sink_args=sink) as st:
            order, notify, t0 = self.run_orders(st, placed, {"WEBHOOK_SECRET": SECRET})
            st.wait_until(lambda: st.metrics(order).value("aftercare_events_processed_total")
                          >= n, 60, "order-worker to consume every event", interval=0.1)
            consumed_s = time.monotonic() - t0
            delivered, dead = self.outcome(st, placed)
            done_s = time.monotonic() - t0
            stats = st.sink_stats()
            for e in placed:
                k = order_key(e)
                with self.subTest(order=k):
                    self.assertEqual(len(delivered[k]), 1, "delivered once")
                    self.assertEqual(dead[k], [], "nothing dead-lettered: retries go on for "
                                     "as long as the message is useful, not 8 attempts")
            self.assertEqual(stats["bad_signatures"], 0, "every signature verified")
            self.assertGreater(stats["failed_injected"], n // 5, "the sink did fail")
            m = st.metrics(notify)
            print("\n%d orders against a sink failing 1/3 at random, 50 ms per request: "
                  "%d delivered, %d dead-lettered, %d failures injected, %d retries, "
                  "%d replays; order-worker consumed all events in %.1fs, "
                  "delivery done in %.1fs (%.0f messages/s)"
                  % (n, stats["delivered"], sum(len(v) for v in dead.values()),
                     stats["failed_injected"], m.value("aftercare_messages_retried_total"),
                     stats["replays"], consumed_s, done_s, stats["delivered"] / done_s))

    def test_status_and_stall_faults(self):
        cases = [("429 with Retry-After", ["--fail-rate", "0.5", "--fail-status", "429"], {}),
                 ("500", ["--fail-rate", "0.5", "--fail-status", "500"], {}),
                 ("503", ["--fail-rate", "0.5", "--fail-status", "503"], {}),
                 ("stall past the timeout", ["--delay-ms", "1500"],
                  {"HTTP_TIMEOUT": "500ms", "RETRY_FOR": "3s"})]
        placed = gen_events.orders_placed(40, 78)
        for name, sink, env in cases:
            with self.subTest(fault=name), Stack(partitions=2, sink_args=sink) as st:
                self.run_orders(st, placed, env, dup_rate=0)
                stall = name.startswith("stall")
                delivered, dead = self.outcome(st, placed, all_dead=stall)
                if stall:
                    # Every attempt times out for as long as RETRY_FOR
                    # allows: each message is dead-lettered once, with the
                    # reason. (The stalled sink still records
                    # what it got after the client gave up: a provider that
                    # times out may have sent it, which is why the dead
                    # letter says retries_exhausted, not rejected.)
                    for e in placed:
                        self.assertEqual(len(dead[order_key(e)]), 1, "%s: %s" % (name, e))
                    self.assertEqual(len(dead), len(placed))
                    reasons = {r["headers"].get("ac-dlq-reason") for v in dead.values()
                               for r in v}
                    self.assertEqual(reasons, {"retries_exhausted"})
                else:
                    for e in placed:
                        k = order_key(e)
                        self.assertEqual(len(delivered[k]) + len(dead[k]), 1, "%s: %s" % (name, k))
                    self.assertEqual(len(delivered), len(placed), name)

    def start_receiver(self, st, secrets):
        self.receivers = getattr(self, "receivers", 0) + 1
        port_file = os.path.join(st.dir, "receiver-%d.port" % self.receivers)
        argv = [sys.executable, RECEIVER, "--port", "0", "--port-file", port_file]
        for s in secrets:
            argv += ["--secret", s]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(lambda: (proc.kill(), proc.wait()))
        port = wait_until(lambda: os.path.exists(port_file) and open(port_file).read().strip(),
                          15, "the example receiver's port")
        return int(port)

    def receiver_stats(self, port):
        with urllib.request.urlopen("http://127.0.0.1:%d/stats" % port, timeout=5) as r:
            return json.loads(r.read())

    def test_documented_receiver_verifies(self):
        placed = gen_events.orders_placed(50, 79)
        with Stack(partitions=2) as st:
            # Rotating: aftercare signs with both, the receiver knows only the new one.
            port = self.start_receiver(st, [SECRET])
            url = "http://127.0.0.1:%d/webhook" % port
            _, notify, _ = self.run_orders(st, placed, {
                "WEBHOOK_URL": url, "WEBHOOK_SECRET": OLD_SECRET + " " + SECRET,
                "RDKAFKA_SESSION_TIMEOUT_MS": "6000", "RDKAFKA_HEARTBEAT_INTERVAL_MS": "500"})
            st.wait_until(lambda: self.receiver_stats(port)["valid"] >= len(placed), 60,
                          "every delivery verified by the receiver", interval=0.3)
            # The receiver may have verified a request whose answer
            # notify-worker never saw (a timeout): that message is retried.
            # Wait until notify-worker itself is done with every message
            # before the receiver changes.
            st.wait_until(lambda: st.metrics(notify).value("aftercare_messages_sent_total")
                          >= len(placed) and st.metrics(notify).value("aftercare_in_flight") == 0,
                          60, "notify-worker to finish every message", interval=0.3)
            stats = self.receiver_stats(port)
            self.assertEqual(stats["valid"], len(placed))
            self.assertEqual(stats["invalid"], 0)
            # The wrong secret: 401 is permanent, every new message a dead letter.
            wrong = self.start_receiver(st, [OLD_SECRET.replace("dGhp", "eGhp")])
            st.restart(notify, {"WEBHOOK_URL": "http://127.0.0.1:%d/webhook" % wrong,
                                "WEBHOOK_SECRET": SECRET})
            more = gen_events.orders_placed(20, 80)
            st.produce("orders", [gen_events.encode(e) for e in more])
            st.wait_until(lambda: len(st.consume("notifications.dlq", 200)) >= len(more), 60,
                          "every message dead-lettered by the wrong secret", interval=0.5)
            self.assertGreaterEqual(self.receiver_stats(wrong)["invalid"], len(more))
            self.assertEqual(len(st.consume("notifications.dlq")), len(more))
            reasons = {r["headers"].get("ac-dlq-reason") for r in st.consume("notifications.dlq")}
            self.assertEqual(reasons, {"rejected"})


if __name__ == "__main__":
    unittest.main()
