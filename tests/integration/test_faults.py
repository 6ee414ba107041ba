"""Outages while orders flow: Redis, Kafka and the provider go away and come
back, replicas come and go, malformed records pour in. Through all of it
every order gets exactly one confirmation: nothing lost, nothing delivered
twice.

One class per scenario; each feeds orders to `orders` from a paced producer
thread while it injects its faults, then checks message by message:

- the sink received exactly one confirmation per order and no message id
  twice; what was delivered is what order-worker decided (`notifications`);
- nothing good was dead-lettered, and everything was committed (lag 0);
- the workers came through the fault themselves (same processes, exit 0
  on SIGTERM at the end);
- replays (a re-send that the receiver's Idempotency-Key absorbs) as the
  design promises for that fault: none where no process dies and no
  request is left without an answer; for provider timeouts, only for
  messages the provider accepted after the client had given up.

Each prints one line of figures (FIGURES ...). SIGKILLing the workers
themselves is test_crash.py's job (AC_CRASH_KILLS).

    AC_BIN_DIR=../../build/bin python3 -m unittest -v test_faults

AC_FAULTS_SCALE=N (default 1) multiplies the orders and the number of
outages, for runs at length; AC_FAULTS_SEED=S replays the random choices
(instants, outage lengths) of an earlier run.
"""

import collections
import datetime
import json
import os
import random
import signal
import time
import unittest

import gen_events
from stack import PacedProducer, Stack, record_bytes

SCALE = max(1, int(os.environ.get("AC_FAULTS_SCALE", "1") or "1"))
SEED = int(os.environ.get("AC_FAULTS_SEED", "20250302") or "20250302")
PARTITIONS = 8
DUP_RATE = 0.1

# Killed or departing consumers hand their partitions over after 6 s at
# most (the shortest session the development broker accepts).
KAFKA_TUNING = {"RDKAFKA_SESSION_TIMEOUT_MS": "6000", "RDKAFKA_HEARTBEAT_INTERVAL_MS": "500"}
NOTIFY_ENV = {"CLAIM_TTL": "3s", "HTTP_TIMEOUT": "1s", **KAFKA_TUNING}
ORDER_ENV = dict(KAFKA_TUNING)

# Each webhook call takes this long, so that faults find calls in flight.
SINK_DELAY_MS = 20


def orders(n, seed, dup_rate=DUP_RATE):
    """n order.placed events and their records, with verbatim re-sends."""
    placed = gen_events.orders_placed(n, seed)
    lines = gen_events.with_duplicates([gen_events.encode(e) for e in placed], dup_rate, seed)
    return placed, lines


def paced_producer(st, lines, chunk=10):
    """Orders fed in paced chunks (see PacedProducer); a chunk the brokers
    did not take is produced again for up to 2 minutes."""
    return PacedProducer(st, lines, chunk=chunk, retry_for=120)


class FaultScenario(unittest.TestCase):
    """What every scenario shares: start the pipeline, wait for it to flow,
    drain it, and check the outcome message by message."""

    maxDiff = 4000
    ORDER_GROUP = "faults-order-worker"
    NOTIFY_GROUP = "faults-notify-worker"

    def setUp(self):
        self.t0 = time.monotonic()

    def elapsed(self):
        return time.monotonic() - self.t0

    def start_pipeline(self, st, order_env=None, notify_env=None):
        """One order-worker and one notify-worker, ready."""
        order = st.start_worker("order-worker", {
            "KAFKA_GROUP": self.ORDER_GROUP, **ORDER_ENV, **(order_env or {})}, wait=False)
        notify = st.start_worker("notify-worker", {
            "KAFKA_GROUP": self.NOTIFY_GROUP, **NOTIFY_ENV, **(notify_env or {})}, wait=False)
        st.wait_ready(order)
        st.wait_ready(notify)
        return order, notify

    def check(self, st, producer):
        st.check_alive()
        if producer.error:
            raise producer.error

    def wait_flowing(self, st, producer, what, timeout=120, more=20, produced=0):
        """Waits until the sink has delivered `more` messages beyond what it
        had when called and the producer has produced `produced` records in
        all: the whole pipeline moves, from the store to the customer."""
        base = st.sink_stats()["delivered"]
        st.wait_until(lambda: self.check(st, producer) or (
            producer.produced >= produced and st.sink_stats()["delivered"] >= base + more),
            timeout, "orders to flow (%s)" % what, interval=0.1)

    @staticmethod
    def stage(lines, k, steps):
        """(quota, trigger) of step k of steps: the producer may go up to
        quota records, and the step's fault strikes once it has produced
        trigger, halfway through the step's share of the stream."""
        share = len(lines) / (steps + 1)
        return int(share * (k + 1)), int(share * (k + 0.5))

    def drain(self, st, producer, n, delivered=None, timeout=240):
        """Lets the producer finish, then waits until n messages were
        delivered and both groups committed everything."""
        producer.finish()
        count = delivered or (lambda: st.sink_stats()["delivered"])
        st.wait_until(lambda: count() >= n, timeout, "%d deliveries" % n, interval=0.25)
        for topic, group in (("orders", self.ORDER_GROUP), ("notifications", self.NOTIFY_GROUP)):
            st.wait_until(lambda: st.offsets(topic, group)["lag"] == 0, 120,
                          "everything on %s committed" % topic, interval=0.5)

    def stop(self, st, workers):
        """Stops the workers with SIGTERM: each must exit 0 (it finished and
        committed its work), and nothing is left uncommitted."""
        for w in workers:
            rc = st.kill(w, signal.SIGTERM, timeout=25)
            self.assertEqual(rc, 0, "%s exits 0 on SIGTERM; stderr tail:\n%s"
                             % (w.label, w.stderr_tail(3)))
        self.assertEqual(st.offsets("orders", self.ORDER_GROUP)["lag"], 0)
        self.assertEqual(st.offsets("notifications", self.NOTIFY_GROUP)["lag"], 0)

    def assert_delivered_once(self, placed, messages, notifications, what):
        """Message by message: one order_confirmation per order, no message
        id twice, and the delivered ids are exactly the decided ones."""
        expected = collections.Counter(str(e["order"]["id"]) for e in placed)
        self.assertEqual(len(expected), len(placed), "the generator gave unique order ids")
        got = collections.Counter(str(m["order_id"]) for m in messages)
        missing = sorted(set(expected) - set(got))
        twice = sorted(k for k, c in got.items() if c > 1)
        unknown = sorted(set(got) - set(expected))
        self.assertEqual((missing[:10], len(missing)), ([], 0),
                         "%s: orders without a confirmation (seed %d)" % (what, SEED))
        self.assertEqual((twice[:10], len(twice)), ([], 0),
                         "%s: orders confirmed more than once (seed %d)" % (what, SEED))
        self.assertEqual(unknown, [], "%s: confirmations of orders never placed" % what)
        ids = collections.Counter(m["id"] for m in messages)
        self.assertEqual([i for i, c in ids.items() if c > 1], [],
                         "%s: message ids delivered twice" % what)
        self.assertTrue(all(m["kind"] == "order_confirmation" for m in messages), what)
        decided = {json.loads(r["value"])["id"] for r in notifications}
        self.assertEqual(len(decided), len(placed), "%s: one decided message per order" % what)
        self.assertEqual(set(ids), decided, "%s: what was delivered is what was decided" % what)

    def report(self, scenario, **figures):
        figures.setdefault("duration", "%.1fs" % self.elapsed())
        print("FIGURES %s: %s" % (scenario, " ".join("%s=%s" % kv for kv in figures.items())),
              flush=True)


class RedisRestartTest(FaultScenario):
    """Redis is SIGKILLed mid-stream and started again on the same data
    (append-only file, fsynced on every write), KILLS times. The workers
    wait through each outage holding their work, reconnect and go on: the
    same processes, nothing lost, nothing sent twice.

    Replays: none. No worker dies, and Redis forgets nothing it
    acknowledged, so no message is ever sent without its sent mark being
    written afterwards (a mark the outage delays is retried, not the send).
    """

    N_ORDERS = 1500 * SCALE
    KILLS = 3 * SCALE

    def test_redis_killed_and_restarted_while_orders_flow(self):
        rng = random.Random(SEED + 1)
        placed, lines = orders(self.N_ORDERS, SEED + 1)
        plan = [(round(rng.uniform(0.1, 1.0), 2), round(rng.uniform(1.0, 3.0), 2))
                for _ in range(self.KILLS)]
        print("\nredis restarts, seed %d (AC_FAULTS_SEED): %d orders in %d records; plan: %s"
              % (SEED, len(placed), len(lines),
                 ", ".join("kill %.2fs after flow, down %.2fs" % p for p in plan)))
        outages = []
        with Stack(partitions=PARTITIONS, sink_args=["--delay-ms", str(SINK_DELAY_MS)],
                   redis_persistent=True) as st:
            order, notify = self.start_pipeline(st)
            producer = paced_producer(st, lines)
            producer.start()
            for k, (after, down) in enumerate(plan):
                quota, trigger = self.stage(lines, k, len(plan))
                producer.allow(quota)
                self.wait_flowing(st, producer, "before Redis kill %d" % (k + 1),
                                  produced=trigger)
                time.sleep(after)
                state = (producer.produced, st.sink_stats()["delivered"])
                t = self.elapsed()
                st.restart_redis(signal.SIGKILL, down)
                up = time.monotonic()
                outages.append(down)
                # Both report ready again once they have Redis back, and
                # messages go out again. The store goes on selling past the
                # step's quota if the producer reached it meanwhile: with
                # nothing new to send, nothing could be seen to flow.
                for w in (order, notify):
                    st.wait_ready(w, 60)
                producer.allow(max(quota, producer.produced + 50))
                self.wait_flowing(st, producer, "after Redis restart %d" % (k + 1))
                print("  t=%6.2fs SIGKILL redis-server, down %.2fs; produced=%d delivered=%d; "
                      "flowing again %.2fs after the restart"
                      % (t, down, state[0], state[1], time.monotonic() - up), flush=True)
            producer.allow_all()
            self.drain(st, producer, len(placed))
            errors = {w.name: st.metrics(w).value("aftercare_redis_errors_total")
                      for w in (order, notify)}
            self.stop(st, (order, notify))
            stats = st.sink_stats()
            messages = st.sink_messages()
            notifications = st.consume("notifications")
            dlq = st.consume("orders.dlq") + st.consume("notifications.dlq")
            records = len(st.consume("orders"))
            # Every sent mark survived the kills (what stops a later copy).
            marks = st.redis_command("EVAL", "return #redis.call('KEYS', ARGV[1])", 0,
                                     "ac:m:{*}")
            starts = {w.label: w.starts for w in (order, notify)}

            print("sink: %s; Redis errors seen by the workers: %s" % (json.dumps(stats), errors))
            self.report("redis-restarts", orders=len(placed), records=records,
                        kills=len(outages), down="%.1fs" % sum(outages),
                        delivered=stats["delivered"], replays=stats["replays"])
            self.assertEqual(starts, {"order-worker": 1, "notify-worker": 1},
                             "the workers rode out the outages without a restart")
            self.assertGreater(sum(errors.values()), 0, "the workers did notice the outages")
            self.assertEqual(dlq, [], "no good event or message was dead-lettered")
            self.assertEqual(stats["no_key"], 0)
            self.assertEqual(stats["delivered"], len(placed), "one delivery per order")
            self.assertEqual(len(messages), len(placed))
            self.assert_delivered_once(placed, messages, notifications, "redis restarts")
            self.assertEqual(stats["replays"], 0, "nothing re-sent across a Redis restart")
            self.assertEqual(marks, b":%d\r\n" % len(placed), "one sent mark per message in Redis")


class BrokerOutageTest(FaultScenario):
    """Every Kafka broker goes down (devbroker SIGUSR1) and comes back
    (SIGUSR2) mid-stream, OUTAGES times: the store's producer, order-worker's
    consumer and producer and notify-worker's consumer all lose Kafka at
    once. The longer outages outlast the 6 s consumer session, so the group
    forgets the members and they must join again.

    Replays: none. Every process lives through it; whatever is consumed or
    produced twice because a commit or an acknowledgement was lost is
    dropped by the event's done mark or the message's sent mark."""

    N_ORDERS = 1500 * SCALE
    OUTAGES = 2 * SCALE

    def test_brokers_down_and_up_while_orders_flow(self):
        rng = random.Random(SEED + 2)
        placed, lines = orders(self.N_ORDERS, SEED + 2)
        # Alternately shorter and longer than the session timeout.
        plan = [(round(rng.uniform(0.1, 1.0), 2),
                 round(rng.uniform(2.0, 4.0) if k % 2 == 0 else rng.uniform(7.0, 8.0), 2))
                for k in range(self.OUTAGES)]
        print("\nbroker outages, seed %d (AC_FAULTS_SEED): %d orders in %d records; plan: %s"
              % (SEED, len(placed), len(lines),
                 ", ".join("down %.2fs after flow for %.2fs" % p for p in plan)))
        outages = []
        with Stack(partitions=PARTITIONS, sink_args=["--delay-ms", str(SINK_DELAY_MS)]) as st:
            order, notify = self.start_pipeline(st)
            producer = paced_producer(st, lines)
            producer.start()
            for k, (after, down) in enumerate(plan):
                quota, trigger = self.stage(lines, k, len(plan))
                producer.allow(quota)
                self.wait_flowing(st, producer, "before broker outage %d" % (k + 1),
                                  produced=trigger)
                time.sleep(after)
                t = self.elapsed()
                state = (producer.produced, st.sink_stats()["delivered"])
                st.broker_signal(signal.SIGUSR1)
                time.sleep(down)
                self.check(st, producer)
                st.broker_signal(signal.SIGUSR2)
                up = time.monotonic()
                outages.append(down)
                # New orders get through end to end again; the quota grows
                # if the producer reached it during the outage, or no new
                # order could be placed.
                producer.allow(max(quota, producer.produced + 50))
                self.wait_flowing(st, producer, "after broker outage %d" % (k + 1),
                                  produced=producer.produced + 10)
                print("  t=%6.2fs brokers down for %.2fs; produced=%d delivered=%d before; "
                      "flowing again %.2fs after they came back"
                      % (t, down, state[0], state[1], time.monotonic() - up), flush=True)
            producer.allow_all()
            self.drain(st, producer, len(placed))
            self.stop(st, (order, notify))
            stats = st.sink_stats()
            messages = st.sink_messages()
            notifications = st.consume("notifications")
            dlq = st.consume("orders.dlq") + st.consume("notifications.dlq")
            records = len(st.consume("orders"))
            starts = {w.label: w.starts for w in (order, notify)}

            print("sink: %s; chunks the store's producer sent again: %d"
                  % (json.dumps(stats), producer.retries))
            self.report("broker-outages", orders=len(placed), records=records,
                        outages=len(outages), down="%.1fs" % sum(outages),
                        delivered=stats["delivered"], replays=stats["replays"])
            self.assertEqual(starts, {"order-worker": 1, "notify-worker": 1},
                             "the workers rode out the outages without a restart")
            self.assertEqual(dlq, [], "no good event or message was dead-lettered")
            self.assertEqual(stats["no_key"], 0)
            self.assertEqual(stats["delivered"], len(placed), "one delivery per order")
            self.assertEqual(len(messages), len(placed))
            self.assert_delivered_once(placed, messages, notifications, "broker outages")
            self.assertEqual(stats["replays"], 0, "nothing re-sent across a Kafka outage")


class ProviderFaultsTest(FaultScenario):
    """The provider (ac-sink, replaced on the same port at each step)
    answers 5xx to everything for a while, then 429 with Retry-After: 1,
    then takes longer than notify-worker's HTTP_TIMEOUT on every request,
    and finally recovers; CYCLES rounds of that while orders flow (between
    rounds it recovers until the backlog is out). With MAX_ATTEMPTS high
    and RETRY_MAX short, every message is delivered once in the end and
    none is dead-lettered.

    Replays: only after an attempt that got no answer. A request that timed
    out (the stalled sink records what it got after the client gave up), or
    whose connection was cut (a sink being replaced), may have been
    accepted; notify-worker rightly sends it again with the same
    Idempotency-Key. So every re-send of a message must follow such an
    attempt, logged by notify-worker between the two acceptances; none may
    follow an HTTP answer. Because each sink starts with no memory of keys,
    deliveries are counted across all of them from their shared request
    log."""

    CYCLES = SCALE
    STEP_S = 6.0
    PER_STEP = 500  # records released per step
    HTTP_TIMEOUT_MS = 500
    STALL_MS = 1000  # the sink's delay in the timeout step: above HTTP_TIMEOUT
    RETRY_AFTER_S = 1  # what ac-sink sends with its 429s
    # A sink failing everything opens the channel's circuit: attempts stop
    # but for one probe per FAILOVER_COOLDOWN, which must be well within a
    # step for every sink to be tried.
    NOTIFY = {"HTTP_TIMEOUT": "%dms" % HTTP_TIMEOUT_MS, "CLAIM_TTL": "3s",
              "RETRY_BASE": "100ms", "RETRY_MAX": "500ms", "MAX_ATTEMPTS": "100",
              "FAILOVER_COOLDOWN": "1s"}

    @staticmethod
    def unanswered_attempts(worker):
        """{message id: [(time, error)]} of the attempts notify-worker logged
        as failed without an HTTP answer (timeouts, refused or cut
        connections)."""
        out = collections.defaultdict(list)
        with open(worker.stderr_path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                msg = rec.get("msg", "") if isinstance(rec, dict) else ""
                if not msg.startswith("will retry: ") or msg.startswith("will retry: HTTP "):
                    continue
                at = datetime.datetime.fromisoformat(rec["ts"].replace("Z", "+00:00"))
                out[rec.get("message_id")].append((at.timestamp(), msg[len("will retry: "):]))
        return out

    def steps(self):
        out = []
        for c in range(self.CYCLES):
            status = ("503", "500", "502")[c % 3]
            if c:
                out.append(("healthy", []))
            out += [(status, ["--fail-rate", "1", "--fail-status", status]),
                    ("429", ["--fail-rate", "1", "--fail-status", "429"]),
                    ("timeout", ["--delay-ms", str(self.STALL_MS)])]
        return out + [("healthy", [])]

    def test_5xx_then_429_then_timeouts_then_healthy(self):
        steps = self.steps()
        n_lines = self.PER_STEP * len(steps)
        placed = gen_events.orders_placed(int(n_lines / (1 + DUP_RATE)), SEED + 3)
        lines = gen_events.with_duplicates([gen_events.encode(e) for e in placed], DUP_RATE,
                                           SEED + 3)
        print("\nprovider faults, seed %d: %d orders in %d records; steps of %.0fs: %s"
              % (SEED, len(placed), len(lines), self.STEP_S,
                 " -> ".join(name for name, _ in steps)))
        # Per sink: (step name, its first line in the shared log, its /stats
        # when replaced, how long it served, decisions made by then).
        sinks = []
        with Stack(partitions=PARTITIONS, sink_args=steps[0][1]) as st:
            order, notify = self.start_pipeline(st, notify_env=self.NOTIFY)
            producer = paced_producer(st, lines)
            producer.start()

            def first_deliveries():
                return len({e["idempotency_key"] for e in st.sink_log()})

            def decided():
                return st.metrics(order).value("aftercare_messages_decided_total")

            for k, (name, args) in enumerate(steps):
                if k > 0:
                    st.restart_sink(args)
                first_line = len(st.sink_log())
                started, produced_before = time.monotonic(), producer.produced
                quota, _ = self.stage(lines, k, len(steps) - 1)
                producer.allow(quota)
                if k == len(steps) - 1:
                    sinks.append((name, first_line, None, None, None))
                    break
                if name == "healthy":
                    # Recovered between rounds: until what was decided
                    # when it came back is out, however long that takes.
                    backlog = decided()
                    st.wait_until(lambda: self.check(st, producer)
                                  or first_deliveries() >= backlog, 120,
                                  "the backlog of %d messages delivered" % backlog,
                                  interval=0.2)
                deadline = started + self.STEP_S
                while time.monotonic() < deadline:
                    self.check(st, producer)
                    time.sleep(0.1)
                stats, made = st.sink_stats(), decided()
                secs = time.monotonic() - started
                sinks.append((name, first_line, stats, secs, made))
                print("  t=%6.2fs %-7s for %.1fs: requests=%d failed_injected=%d delivered=%d "
                      "replays=%d; produced=%d decided=%d"
                      % (self.elapsed(), name, secs, stats["requests"],
                         stats["failed_injected"], stats["delivered"], stats["replays"],
                         producer.produced, made), flush=True)
                self.assertGreater(producer.produced, produced_before,
                                   "orders flowed during the %s step" % name)

            self.drain(st, producer, len(placed), delivered=first_deliveries)
            results = st.metrics(notify).by_label("aftercare_provider_requests_total", "result")
            retried = st.metrics(notify).value("aftercare_messages_retried_total")
            self.stop(st, (order, notify))
            log = st.sink_log()
            final = st.sink_stats()
            notifications = st.consume("notifications")
            dlq = st.consume("orders.dlq") + st.consume("notifications.dlq")
            records = len(st.consume("orders"))

            # Which sink accepted each POST, and which messages more than once.
            times, first, accepted = collections.defaultdict(list), {}, collections.Counter()
            for i, (name, line0, _, _, _) in enumerate(sinks):
                end = sinks[i + 1][1] if i + 1 < len(sinks) else len(log)
                for entry in log[line0:end]:
                    key = entry["idempotency_key"]
                    self.assertTrue(key, "every request carried an Idempotency-Key")
                    accepted[key] += 1
                    times[key].append(datetime.datetime.fromisoformat(
                        entry["received_at"].replace("Z", "+00:00")).timestamp())
                    first.setdefault(key, (name, entry["body"]))
            messages = [body for _, body in first.values()]
            replays = sum(accepted.values()) - len(accepted)
            # Each re-send must follow an attempt that got no answer and could
            # have been the one accepted: it failed before the re-send, and
            # after the acceptance or, at the stalled sink, which records a
            # request once its delay is over, at most that delay before.
            unanswered = self.unanswered_attempts(notify)
            why, unexplained = collections.Counter(), []
            slack = self.STALL_MS / 1000 + 0.25
            for key, count in accepted.items():
                for a, b in zip(times[key], times[key][1:]):
                    errors = [e for t, e in unanswered.get(key, ()) if a - slack <= t <= b]
                    if not errors:
                        unexplained.append((key, first[key][0], a, b))
                    elif any("timed out" in e or "timeout" in e for e in errors):
                        why["after a timeout (first accepted in a %s step)" % first[key][0]] += 1
                    else:
                        why["after no answer (%s)" % errors[-1][:30]] += 1

            print("accepted POSTs across all sinks: %d for %d messages; replays %d: %s; "
                  "final sink %s" % (sum(accepted.values()), len(accepted), replays,
                                     dict(why), json.dumps(final)))
            print("notify-worker: requests by result %s, %d retries"
                  % ({k: int(v) for k, v in sorted(results.items())}, retried))
            self.report("provider-faults", orders=len(placed), records=records,
                        fault_steps=sum(1 for s in steps if s[0] != "healthy"),
                        delivered=len(accepted), replays=replays)
            for name, _, stats, secs, made in sinks[:-1]:
                self.assertGreater(stats["requests"], 0, "%s: the sink was tried" % name)
                if name == "timeout":
                    self.assertGreater(stats["delivered"], 0, "the stalled sink got requests")
                elif name != "healthy":
                    self.assertEqual(stats["delivered"], 0, "a failing sink accepts nothing")
                    self.assertEqual(stats["requests"], stats["failed_injected"], name)
                if name == "429":
                    # Retry-After: 1 spaces a message's attempts at the 429
                    # sink by a second at least (RETRY_MAX alone would allow
                    # one every 0.5 s).
                    self.assertLessEqual(stats["requests"],
                                         made * (secs / self.RETRY_AFTER_S + 1),
                                         "attempts at the 429 sink honour Retry-After")
            for result in ("server_error", "throttled", "timeout", "ok"):
                self.assertGreater(results.get(result, 0), 0, "requests that ended %s" % result)
            self.assertEqual(dlq, [], "nothing dead-lettered: MAX_ATTEMPTS outlasts the faults")
            self.assertEqual(len(accepted), len(placed), "one delivery per order")
            self.assert_delivered_once(placed, messages, notifications, "provider faults")
            self.assertEqual(unexplained[:5], [],
                             "%d re-sends that followed no unanswered attempt (message, step "
                             "first accepted in, accepted at, again at)" % len(unexplained))


class ScalingTest(FaultScenario):
    """order-worker and notify-worker scale 1 -> 3 -> 1 replicas mid-stream,
    CYCLES times: each new replica joins the group (a rebalance), takes
    partitions and works; scaling down stops two replicas at once with
    SIGTERM, as Kubernetes does, and the last one takes everything back.

    Replays: none. Nobody dies: a departing notify-worker finishes or hands
    back its work and commits, and a message still in flight on its old
    owner is held off by the lease until its sent mark is written."""

    N_ORDERS = 2000 * SCALE
    CYCLES = SCALE

    def test_scale_out_and_in_while_orders_flow(self):
        placed, lines = orders(self.N_ORDERS, SEED + 4)
        print("\nscaling 1 -> 3 -> 1, seed %d: %d orders in %d records, %d cycle(s)"
              % (SEED, len(placed), len(lines), self.CYCLES))
        working = {"order-worker": "aftercare_events_processed_total",
                   "notify-worker": "aftercare_messages_sent_total"}
        env = {"order-worker": {"KAFKA_GROUP": self.ORDER_GROUP, **ORDER_ENV},
               "notify-worker": {"KAFKA_GROUP": self.NOTIFY_GROUP, **NOTIFY_ENV}}
        steps = []
        for _ in range(self.CYCLES):
            steps += [("order-worker", 3), ("notify-worker", 3),
                      ("order-worker", 1), ("notify-worker", 1)]
        exits = []
        work = {}  # replica: events processed or messages sent in its life
        rebalances = 0
        with Stack(partitions=PARTITIONS, sink_args=["--delay-ms", str(SINK_DELAY_MS)]) as st:
            order, notify = self.start_pipeline(st)
            running = {"order-worker": [order], "notify-worker": [notify]}
            next_id = 1
            producer = paced_producer(st, lines)
            producer.start()
            for k, (name, target) in enumerate(steps):
                quota, trigger = self.stage(lines, k, len(steps))
                producer.allow(quota)
                self.wait_flowing(st, producer, "before scaling %s to %d" % (name, target),
                                  produced=trigger)
                before = len(running[name])
                if target > before:
                    new = []
                    for _ in range(target - before):
                        new.append(st.start_worker(name, env[name], replica_id=next_id,
                                                   wait=False))
                        next_id += 1
                    # Ready once the group gave it its partitions.
                    for w in new:
                        st.wait_ready(w)
                    running[name] += new
                else:
                    # The oldest go, so the original replica is replaced too.
                    leaving = running[name][:before - target]
                    running[name] = running[name][before - target:]
                    for w in leaving:
                        work[w.label] = st.metrics(w).value(working[name])
                    sent = time.monotonic()
                    for w in leaving:
                        st.kill(w, signal.SIGTERM, wait=False)
                    for w in leaving:
                        rc = st.kill(w, signal.SIGTERM, timeout=25)
                        exits.append((w.label, rc, time.monotonic() - sent))
                        if rc != 0:
                            print("  %s exited %d on SIGTERM; its last words:\n%s"
                                  % (w.label, rc, w.stderr_tail(3)), flush=True)
                rebalances += 1
                print("  t=%6.2fs %s %d -> %d (%s); produced=%d delivered=%d"
                      % (self.elapsed(), name, before, target,
                         " ".join(w.label for w in running[name]), producer.produced,
                         st.sink_stats()["delivered"]), flush=True)
            producer.allow_all()
            self.wait_flowing(st, producer, "after the last scale-in")
            self.drain(st, producer, len(placed))
            for w in running["order-worker"] + running["notify-worker"]:
                work[w.label] = st.metrics(w).value(working[w.name])
            self.stop(st, running["order-worker"] + running["notify-worker"])
            stats = st.sink_stats()
            messages = st.sink_messages()
            notifications = st.consume("notifications")
            dlq = st.consume("orders.dlq") + st.consume("notifications.dlq")
            records = len(st.consume("orders"))

            print("sink: %s; scale-in exits: %s" % (json.dumps(stats), ", ".join(
                "%s=%d in %.1fs" % e for e in exits)))
            print("work per replica (order-worker: events, notify-worker: messages sent): %s"
                  % ", ".join("%s=%d" % kv for kv in sorted(work.items())))
            self.report("scaling", orders=len(placed), records=records, rebalances=rebalances,
                        delivered=stats["delivered"], replays=stats["replays"])
            self.assertEqual([w for w, n in work.items() if not n], [],
                             "every replica took partitions and worked")
            for label, rc, took in exits:
                self.assertEqual(rc, 0, "%s exits 0 when scaled in (seed %d)" % (label, SEED))
            self.assertEqual(dlq, [], "no good event or message was dead-lettered")
            self.assertEqual(stats["no_key"], 0)
            self.assertEqual(stats["delivered"], len(placed), "one delivery per order")
            self.assertEqual(len(messages), len(placed))
            self.assert_delivered_once(placed, messages, notifications, "scaling")
            self.assertEqual(stats["replays"], 0, "scaling re-sends nothing")


class MalformedFloodTest(FaultScenario):
    """A flood of malformed records (every kind gen_events.malformed() makes,
    oversized ones included: MAX_EVENT_BYTES is 4 KiB) mixed into good
    orders, scattered and in one long burst. Every good order is confirmed
    once; every bad record lands in orders.dlq once, byte for byte, with
    its reason and where it came from; the workers' counts agree.

    Replays: none (no fault touches delivery)."""

    N_ORDERS = 1500 * SCALE
    N_BAD = 750 * SCALE
    BURST = 150 * SCALE  # of the bad records, this many back to back
    MAX_EVENT_BYTES = 4096

    def test_malformed_flood_among_good_orders(self):
        rng = random.Random(SEED + 5)
        placed, good = orders(self.N_ORDERS, SEED + 5)
        self.assertLess(max(len(l) for l in good), self.MAX_EVENT_BYTES,
                        "the good orders fit the limit")
        n_dups = len(good) - len(placed)
        bad = gen_events.malformed(self.N_BAD, SEED + 5, max_bytes=self.MAX_EVENT_BYTES)
        self.assertEqual({b.kind for b in bad}, set(gen_events.MALFORMED_KINDS))
        # Some bad records repeat ("null", "{}", "true"): no event id makes
        # them duplicates, each copy is a dead letter of its own.
        self.assertEqual(len({b.line for b in bad}), len({(b.line, b.reason) for b in bad}),
                         "one reason per bad record")
        lines = list(good)
        for b in bad[:-self.BURST]:
            lines.insert(rng.randrange(len(lines) + 1), b.line)
        at = rng.randrange(len(lines) // 4, 3 * len(lines) // 4)
        lines[at:at] = [b.line for b in bad[-self.BURST:]]
        reasons = collections.Counter(b.reason for b in bad)
        print("\nmalformed flood, seed %d: %d orders, %d duplicates, %d malformed (%s; a "
              "burst of %d) = %d records"
              % (SEED, len(placed), n_dups, len(bad),
                 ", ".join("%s=%d" % kv for kv in sorted(reasons.items())), self.BURST,
                 len(lines)))
        with Stack(partitions=PARTITIONS, sink_args=["--delay-ms", str(SINK_DELAY_MS)]) as st:
            order, notify = self.start_pipeline(
                st, order_env={"MAX_EVENT_BYTES": str(self.MAX_EVENT_BYTES)})
            producer = paced_producer(st, lines, chunk=20)
            producer.start()
            producer.allow(len(lines) // 2)
            self.wait_flowing(st, producer, "halfway through the flood")
            self.drain(st, producer, len(placed))
            st.wait_until(lambda: len(st.consume("orders.dlq", 200)) >= len(bad), 60,
                          "%d records in orders.dlq" % len(bad), interval=0.5)
            m = st.metrics(order)
            self.stop(st, (order, notify))
            stats = st.sink_stats()
            messages = st.sink_messages()
            notifications = st.consume("notifications")
            dlq = st.consume("orders.dlq")
            notify_dlq = st.consume("notifications.dlq")
            source = {(r["partition"], r["offset"]): r for r in st.consume("orders")}

            print("sink: %s; orders.dlq: %d records (%s)"
                  % (json.dumps(stats), len(dlq), ", ".join("%s=%d" % kv for kv in sorted(
                      collections.Counter(r["headers"].get("ac-dlq-reason") for r in dlq)
                      .items()))))
            self.report("malformed-flood", orders=len(placed), records=len(source),
                        malformed=len(bad), dead_lettered=len(dlq),
                        delivered=stats["delivered"], replays=stats["replays"])
            self.assertEqual(len(source), len(lines), "every record reached the topic once")
            self.assertEqual(notify_dlq, [], "no message was dead-lettered")
            self.assertEqual(stats["delivered"], len(placed), "one delivery per order")
            self.assertEqual(len(messages), len(placed))
            self.assert_delivered_once(placed, messages, notifications, "malformed flood")
            self.assertEqual(stats["replays"], 0)

            # orders.dlq holds exactly the bad records, each once, with its reason.
            self.assertEqual(len(dlq), len(bad), "records in orders.dlq")
            self.assertEqual(collections.Counter(record_bytes(r) for r in dlq),
                             collections.Counter(b.line for b in bad),
                             "orders.dlq holds exactly the malformed records, byte for byte")
            want = {b.line: b for b in bad}
            wrong = []
            for r in dlq:
                value, h = record_bytes(r), r["headers"]
                b = want[value]
                src = source.get((int(h.get("ac-source-partition", -1)),
                                  int(h.get("ac-source-offset", -1))))
                ok = (h.get("ac-dlq-reason") == b.reason and h.get("ac-dlq-detail")
                      and h.get("ac-source-topic") == "orders"
                      and src is not None and record_bytes(src) == value)
                if not ok:
                    wrong.append((b.kind, b.reason, h))
            self.assertEqual(wrong[:5], [], "%d dead letters with the wrong reason or source"
                             % len(wrong))
            # order-worker's own counts agree.
            dead = {k: int(v) for k, v in m.by_label("aftercare_events_dead_lettered_total",
                                                     "reason").items() if v}
            self.assertEqual(dead, dict(reasons), "dead letters by reason")
            self.assertEqual(m.value("aftercare_events_duplicate_total", topic="orders"), n_dups,
                             "duplicates dropped")
            self.assertEqual(m.value("aftercare_messages_decided_total",
                                     kind="order_confirmation"), len(placed))


if __name__ == "__main__":
    unittest.main(verbosity=2)
