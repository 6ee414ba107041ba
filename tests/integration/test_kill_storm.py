"""Scheduled messages through a storm of SIGKILLs (issue 12's "done when"):
orders, deliveries and returns flow through all four workers while they
are killed at random and restarted. A return requested before its order's
review request and referral invitation are due must stop both, however
long its partition sat unowned after a kill; every order not returned gets
each exactly once.

Review requests are due 8 s after delivery and referral invitations 10 s
after; a third of the orders are returned 1 s after delivery.

    AC_BIN_DIR=../../build/bin python3 -m unittest -v test_kill_storm

AC_FAULTS_SCALE=N (default 1) multiplies the orders and the kills. `make
test-faults` runs it (label long).
"""

import collections
import os
import random
import signal
import threading
import time
import unittest

import gen_events
from stack import Stack
from test_timeliness import (KAFKA_TUNING, by_kind_and_order, order_key, placed_orders,
                             shipment_id, utc)

SCALE = max(1, int(os.environ.get("AC_FAULTS_SCALE", "1") or "1"))
ORDERS = 1500 * SCALE
KILLS = 12 * SCALE
CHUNK = 50
REVIEW_S, REFERRAL_S, RETURN_AFTER_S = 8.0, 10.0, 1.0
WORKERS = ("order-worker", "shipment-worker", "return-worker", "notify-worker")
EVENT_ENV = {"REVIEW_REQUEST_DELAY": "%gs" % REVIEW_S, "REFERRAL_DELAY": "%gs" % REFERRAL_S,
             "WATERMARK_INTERVAL": "200ms", "FIRE_INTERVAL": "100ms", "FIRE_LEASE": "5s",
             **KAFKA_TUNING}
NOTIFY_ENV = {"CLAIM_TTL": "3s", "HTTP_TIMEOUT": "1s", **KAFKA_TUNING}


class Flow(threading.Thread):
    """Produces the orders in chunks, each with its deliveries now and the
    returns of its returned orders return_after seconds later in event
    time, written to Kafka at once: the return is in its topic long before
    the review request is due. Keeps every event produced (for
    test_journey.expected_messages) and when each chunk went out, which
    test_cluster.py's failover test, sharing this flow, reads."""

    def __init__(self, st, placed, returned, pace, chunk=CHUNK, return_after=RETURN_AFTER_S):
        super().__init__(name="flow", daemon=True)
        self.st, self.placed, self.returned, self.pace = st, placed, returned, pace
        self.chunk, self.return_after = chunk, return_after
        self.events = []
        self.chunks = []  # (time delivered, [order keys])
        self.error = None
        self.lock = threading.Lock()

    def run(self):
        try:
            for i in range(0, len(self.placed), self.chunk):
                chunk = self.placed[i:i + self.chunk]
                now = time.time()
                for p in chunk:
                    p["occurred_at"] = utc(now).isoformat()
                delivered = [gen_events.shipment(p, "shipment.delivered", utc(now),
                                                 shipment_id(p)) for p in chunk]
                returns = [gen_events.return_event(p, "return.requested",
                                                   utc(now + self.return_after))
                           for p in chunk if order_key(p) in self.returned]
                self.st.produce("orders", [gen_events.encode(e) for e in chunk])
                self.st.produce("shipments", [gen_events.encode(e) for e in delivered])
                if returns:
                    self.st.produce("returns", [gen_events.encode(e) for e in returns])
                with self.lock:
                    self.events += chunk + delivered + returns
                    self.chunks.append((now, [order_key(p) for p in chunk]))
                time.sleep(self.pace)
        except Exception as e:  # reported by the test, not lost in the thread
            self.error = e

    def produced_chunks(self):
        with self.lock:
            return list(self.chunks)


class KillStormTest(unittest.TestCase):
    maxDiff = 4000

    def test_returns_stop_scheduled_messages_through_kills(self):
        placed = placed_orders(ORDERS, 1212)
        rng = random.Random(1212)
        returned = {order_key(p) for p in rng.sample(placed, ORDERS // 3)}
        kept = {order_key(p) for p in placed} - returned
        with Stack(partitions=4) as st:
            procs = {name: st.start_worker(name, NOTIFY_ENV if name == "notify-worker"
                                           else EVENT_ENV, wait=False) for name in WORKERS}
            for p in procs.values():
                st.wait_ready(p, 60)
            flow = Flow(st, placed, returned, pace=0.25)
            t0 = time.time()
            flow.start()
            kills = collections.Counter()
            # The kills spread over the flow and the first due times.
            for _ in range(KILLS):
                time.sleep(rng.uniform(0.5, 2.0))
                name = rng.choice(WORKERS)
                st.kill(procs[name], signal.SIGKILL)
                st.restart(procs[name], wait=False)
                kills[name] += 1
            flow.join(300)
            self.assertIsNone(flow.error, "every event produced")
            storm_s = time.time() - t0

            want = ({("order_confirmation", k) for k in kept | returned}
                    | {("review_request", k) for k in kept}
                    | {("referral_invite", k) for k in kept}
                    | {("return_confirmation", k) for k in returned})

            def arrived():
                return want <= set(by_kind_and_order(st.sink_messages()))
            st.wait_until(arrived, 300, "%d messages" % len(want), interval=0.5)
            # Whatever could still be on its way: the last due times, leases.
            time.sleep(REFERRAL_S)
            messages = st.sink_messages()
            got = by_kind_and_order(messages)
            late = [(kind, k) for k in returned for kind in ("review_request", "referral_invite")
                    if got[(kind, k)]]
            self.assertEqual(late, [], "a review request or referral invitation reached an "
                             "order returned before it was due")
            for k in kept:
                for kind in ("review_request", "referral_invite"):
                    self.assertEqual(len(got[(kind, k)]), 1, "%s for %s" % (kind, k))
            ids = collections.Counter(m["id"] for m in messages)
            self.assertEqual(max(ids.values()), 1, "every message id delivered once")
            self.assertEqual(st.consume("notifications.dlq"), [], "nothing dead-lettered")
            stats = st.sink_stats()
            print("\n%d orders, %d returned before their messages were due, %d SIGKILLs (%s) "
                  "in %.0fs: %d review requests and %d referral invitations, none to a "
                  "returned order; %d return confirmations; %d replays absorbed"
                  % (ORDERS, len(returned), sum(kills.values()),
                     ", ".join("%s %d" % kv for kv in sorted(kills.items())), storm_s,
                     sum(1 for k in kept if got[("review_request", k)]),
                     sum(1 for k in kept if got[("referral_invite", k)]),
                     sum(1 for k in returned if got[("return_confirmation", k)]),
                     stats["replays"]))


if __name__ == "__main__":
    unittest.main()
