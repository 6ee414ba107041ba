"""What operators see and rely on: /healthz, /readyz and /metrics that move
as events flow, a stalled partition that fails readiness, and a rolling
restart under load that loses and duplicates nothing.

    AC_BIN_DIR=../../build/bin python3 -m unittest -v test_operations
"""

import json
import signal
import threading
import time
import unittest
import urllib.error
import urllib.request

import gen_events
from stack import Stack

# Statistics (lag, stalls) every half second instead of every 5 s.
FAST_STATS = {"RDKAFKA_STATISTICS_INTERVAL_MS": "500"}

# A consumer that leaves cleanly hands its partitions over at once; the
# short session only matters should one not.
KAFKA_TUNING = {"RDKAFKA_SESSION_TIMEOUT_MS": "6000", "RDKAFKA_HEARTBEAT_INTERVAL_MS": "500"}


def get(port, path):
    """(status, body) of a GET, whatever the status."""
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def orders(n, seed):
    placed = gen_events.orders_placed(n, seed)
    return placed, [gen_events.encode(e) for e in placed]


class Producer(threading.Thread):
    """Produces lines to `orders` at a steady pace until stop() or the end
    of the lines; `produced` says how many went out."""

    def __init__(self, stack, lines, chunk=5, pace=0.05):
        super().__init__(name="producer", daemon=True)
        self.stack, self.lines, self.chunk, self.pace = stack, lines, chunk, pace
        self.produced = 0
        self.error = None
        self.stopping = threading.Event()

    def stop(self):
        self.stopping.set()
        self.join(60)

    def run(self):
        try:
            while self.produced < len(self.lines) and not self.stopping.is_set():
                batch = self.lines[self.produced:self.produced + self.chunk]
                self.stack.produce("orders", batch)
                self.produced += len(batch)
                self.stopping.wait(self.pace)
        except BaseException as e:  # reported by the test
            self.error = e


class MetricsTest(unittest.TestCase):
    def test_every_worker_serves_health_and_metrics_that_move(self):
        n = 300
        placed, lines = orders(n, 5101)
        with Stack(partitions=4, sink_args=["--delay-ms", "20"]) as st:
            # Started together: each takes a few seconds to join its group.
            workers = {name: st.start_worker(name, dict(FAST_STATS), wait=False)
                       for name in ("order-worker", "shipment-worker", "return-worker")}
            for w in workers.values():
                st.wait_ready(w)
            for name, w in workers.items():
                self.assertEqual(get(w.http_port, "/healthz"), (200, "ok\n"), name)
                self.assertEqual(get(w.http_port, "/readyz"), (200, "ready\n"), name)
                status, text = get(w.http_port, "/metrics")
                self.assertEqual(status, 200, name)
                self.assertIn("# TYPE aftercare_events_consumed_total counter", text)
                self.assertIn("# TYPE aftercare_consumer_lag gauge", text)
                self.assertIn("# TYPE aftercare_event_processing_seconds histogram", text)
                self.assertEqual(get(w.http_port, "/nothing")[0], 404)
            for name, topic in (("shipment-worker", "shipments"), ("return-worker", "returns")):
                # Statistics report every assigned partition, records or not.
                st.wait_until(lambda: len(st.metrics(workers[name]).by_label(
                    "aftercare_consumer_lag", "partition")) == 4, 30,
                    "%s to report the lag of its 4 partitions" % name)
                m = st.metrics(workers[name])
                self.assertEqual(m.value("aftercare_consumer_lag", topic=topic), 0)

            order = workers["order-worker"]
            st.produce("orders", lines)
            st.wait_until(lambda: st.metrics(order).value(
                "aftercare_events_processed_total", topic="orders") >= n, 60,
                "order-worker to process %d orders" % n)
            m = st.metrics(order)
            self.assertEqual(m.value("aftercare_events_consumed_total", topic="orders",
                                     type="order.placed"), n)
            self.assertEqual(m.value("aftercare_events_processed_total", topic="orders",
                                     type="order.placed"), n)
            self.assertEqual(m.value("aftercare_messages_decided_total",
                                     kind="order_confirmation"), n)
            self.assertEqual(m.value("aftercare_event_processing_seconds_count",
                                     topic="orders"), n)
            self.assertEqual(m.value("aftercare_event_processing_seconds_bucket",
                                     topic="orders", le="+Inf"), n)
            self.assertGreater(m.value("aftercare_event_processing_seconds_sum"), 0)
            st.wait_until(lambda: len(st.metrics(order).by_label(
                "aftercare_consumer_lag", "partition")) == 4
                and st.metrics(order).value("aftercare_consumer_lag") == 0, 30,
                "order-worker's lag to read 0 on its 4 partitions")

            # notify-worker starts behind the whole backlog and delivers one
            # message at a time, so its lag is seen high, then falling to 0.
            notify = st.start_worker("notify-worker", {**FAST_STATS, "MAX_IN_FLIGHT": "1"})
            lags = []

            def delivered_all():
                m = st.metrics(notify)
                lags.append(m.value("aftercare_consumer_lag", topic="notifications"))
                return st.sink_stats()["delivered"] >= n and lags[-1] == 0

            st.wait_until(delivered_all, 120, "%d deliveries and no lag" % n, interval=0.2)
            print("\nnotify-worker's lag as seen every 0.2 s: max %d, last %d"
                  % (max(lags), lags[-1]))
            self.assertGreater(max(lags), 20, "the backlog showed as lag")
            m = st.metrics(notify)
            self.assertEqual(m.value("aftercare_events_consumed_total", topic="notifications",
                                     type="order_confirmation"), n)
            self.assertEqual(m.value("aftercare_events_processed_total", topic="notifications",
                                     type="order_confirmation"), n)
            self.assertEqual(m.value("aftercare_messages_sent_total", kind="order_confirmation"), n)
            self.assertEqual(m.value("aftercare_provider_requests_total", provider="webhook",
                                     result="ok"), n)
            self.assertEqual(m.value("aftercare_messages_failed_total"), 0)
            self.assertEqual(m.value("aftercare_message_delivery_seconds_count"), n)
            # The backlog waited: some messages took longer than 0.25 s.
            self.assertLess(m.value("aftercare_message_delivery_seconds_bucket", le="0.25"), n)
            self.assertEqual(m.value("aftercare_partition_stalled"), 0)


class StallTest(unittest.TestCase):
    def test_a_stalled_partition_fails_readiness_until_it_moves(self):
        # Every request fails, and the message waits for its next attempt
        # in memory (RETRY_DEFER_AFTER is longer than any wait), so the one
        # partition holding it cannot move past it; the others have
        # nothing waiting. (By default a wait this long goes to the
        # durable schedule and the partition moves on.)
        with Stack(partitions=4, sink_args=["--fail-rate", "1", "--fail-status", "503"]) as st:
            notify = st.start_worker("notify-worker", {
                **FAST_STATS, "STALL_TIMEOUT": "3s", "RETRY_DEFER_AFTER": "1h",
                "FAILOVER_COOLDOWN": "500ms", "RETRY_BASE": "200ms", "RETRY_MAX": "400ms"})
            order = st.start_worker("order-worker")
            placed, lines = orders(1, 5102)
            st.produce("orders", lines)

            def stalled():
                return notify.alive() and get(notify.http_port, "/readyz")[0] == 503

            st.wait_until(stalled, 60, "notify-worker to report a stalled partition")
            status, why = get(notify.http_port, "/readyz")
            print("\n/readyz: %d %s" % (status, why.strip()))
            self.assertIn("made no progress", why)
            self.assertEqual(get(notify.http_port, "/healthz")[0], 200,
                             "a stalled partition is not a dead process")
            m = st.metrics(notify)
            stalled_parts = {p: v for p, v in
                             m.by_label("aftercare_partition_stalled", "partition").items()}
            self.assertEqual(sorted(stalled_parts.values()), [0, 0, 0, 1], stalled_parts)
            stuck = [p for p, v in stalled_parts.items() if v == 1][0]
            self.assertIn("partition %s" % stuck, why)
            self.assertEqual(m.value("aftercare_consumer_lag", partition=stuck), 1)
            self.assertGreater(m.value("aftercare_provider_requests_total",
                                       result="server_error"), 5)
            self.assertGreater(m.value("aftercare_messages_failed_total",
                                       kind="order_confirmation"), 5)
            self.assertGreater(m.value("aftercare_messages_retried_total",
                                       kind="order_confirmation"), 5)
            self.assertEqual(get(order.http_port, "/readyz")[0], 200,
                             "order-worker's partitions move")

            # The provider recovers: the message goes out, the partition
            # moves and readiness comes back.
            port = st.sink_port
            st.kill(st.sink, signal.SIGTERM)
            st.sink_args = []
            st._start_sink(port)
            st.wait_until(lambda: get(notify.http_port, "/readyz")[0] == 200, 60,
                          "notify-worker ready again")
            self.assertEqual(st.sink_stats()["delivered"], 1)
            m = st.metrics(notify)
            self.assertEqual(m.value("aftercare_partition_stalled"), 0)
            self.assertEqual(m.value("aftercare_consumer_lag"), 0)


class BoundedShutdownTest(unittest.TestCase):
    def test_sigterm_exits_within_the_bound_even_with_kafka_down(self):
        # With the brokers gone, the consumer can neither commit nor leave
        # its group; the worker still exits within SHUTDOWN_TIMEOUT, with
        # status 1 for the unclean leave, and what it could not commit is
        # read again by the next owner.
        placed, lines = orders(50, 5104)
        with Stack(partitions=4) as st:
            workers = [st.start_worker(name, {"SHUTDOWN_TIMEOUT": "3s"}, wait=False)
                       for name in ("order-worker", "notify-worker")]
            for w in workers:
                st.wait_ready(w)
            st.produce("orders", lines)
            st.wait_until(lambda: st.sink_stats()["delivered"] >= 50, 60, "50 deliveries")
            st.broker_signal(signal.SIGUSR1)  # every broker down
            time.sleep(1)
            for w in workers:
                sent = time.monotonic()
                rc = st.kill(w, signal.SIGTERM, timeout=15)
                took = time.monotonic() - sent
                print("\n%s: exit %s %.2fs after SIGTERM with Kafka down" % (w.name, rc, took))
                self.assertEqual(rc, 1, "%s exits by itself, not by the hard stop" % w.name)
                self.assertLess(took, 3 + 0.5, "%s exits within SHUTDOWN_TIMEOUT" % w.name)
            st.broker_signal(signal.SIGUSR2)


class RollingRestartTest(unittest.TestCase):
    SHUTDOWN_TIMEOUT_S = 10

    def test_rolling_restart_under_load_loses_and_duplicates_nothing(self):
        # More than the restarts take at about 100 records a second; the
        # producer stops once they are done, and what it produced is what
        # must arrive.
        placed, lines = orders(8000, 5103)
        lines = gen_events.with_duplicates(lines, 0.1, 5103)
        common = {**KAFKA_TUNING, "SHUTDOWN_TIMEOUT": "%ds" % self.SHUTDOWN_TIMEOUT_S}
        env = {"order-worker": dict(common),
               "notify-worker": {**common, "CLAIM_TTL": "5s", "HTTP_TIMEOUT": "2s"}}
        exits = []
        with Stack(partitions=8, sink_args=["--delay-ms", "20"]) as st:
            running = {name: [st.start_worker(name, env[name], replica_id=r, wait=False)
                              for r in (0, 1)] for name in env}
            for ws in running.values():
                for w in ws:
                    st.wait_ready(w)
            producer = Producer(st, lines)  # about 100 records a second
            t0 = time.monotonic()
            producer.start()
            replica = 2
            # A rolling update: each old replica is replaced by a new one
            # that is ready before the old one is told to stop, as a
            # Deployment with maxSurge 1 and maxUnavailable 0 does.
            for name in ("order-worker", "notify-worker", "order-worker", "notify-worker"):
                time.sleep(1.0)
                old = running[name].pop(0)
                running[name].append(st.start_worker(name, env[name], replica_id=replica))
                replica += 1
                sent = time.monotonic()
                rc = st.kill(old, signal.SIGTERM, timeout=self.SHUTDOWN_TIMEOUT_S + 5)
                took = time.monotonic() - sent
                exits.append((name, rc, took))
                print("t=%5.1fs SIGTERM %-13s exited %d after %.2fs; produced %d, delivered %d"
                      % (time.monotonic() - t0, name, rc, took, producer.produced,
                         st.sink_stats()["delivered"]), flush=True)
                if producer.error:
                    raise producer.error
            self.assertTrue(producer.is_alive(), "the restarts happened while orders flowed")
            producer.stop()
            self.assertFalse(producer.is_alive())
            if producer.error:
                raise producer.error
            sent = {json.loads(l)["order"]["id"] for l in lines[:producer.produced]}
            n = len(sent)

            st.wait_until(lambda: st.sink_stats()["delivered"] >= n, 180,
                          "%d deliveries" % n, interval=0.25)
            for group, topic in (("aftercare-order-worker", "orders"),
                                 ("aftercare-notify-worker", "notifications")):
                st.wait_until(lambda: st.offsets(topic, group)["lag"] == 0, 60,
                              "everything on %s committed" % topic, interval=0.5)
            stats = st.sink_stats()
            messages = st.sink_messages()
            dlq = st.consume("orders.dlq") + st.consume("notifications.dlq")

        print("sink after the rolling restart: %s" % json.dumps(stats))
        for name, rc, took in exits:
            self.assertEqual(rc, 0, "%s exits 0 on SIGTERM" % name)
            self.assertLess(took, self.SHUTDOWN_TIMEOUT_S, "%s exits within SHUTDOWN_TIMEOUT"
                            % name)
        self.assertEqual(dlq, [])
        self.assertEqual(stats["delivered"], n)
        self.assertEqual(stats["replays"], 0, "a graceful stop re-sends nothing")
        ids = [m["id"] for m in messages]
        self.assertEqual(len(ids), n)
        self.assertEqual(len(set(ids)), n, "no message delivered twice")
        self.assertEqual(sorted(str(m["order_id"]) for m in messages),
                         sorted(str(o) for o in sent), "every order got its confirmation")


if __name__ == "__main__":
    unittest.main(verbosity=2)
