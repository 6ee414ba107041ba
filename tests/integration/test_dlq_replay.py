"""ac-dlq-replay end to end: dead-lettered messages go out once after a fix.

A provider that rejects about half the messages (HTTP 400, permanent) sends
them to notifications.dlq. Then the provider is fixed (the sink restarted
without injected failures), one of the dead-lettered messages is delivered
by another path and marked sent in Redis, and ac-dlq-replay puts the rest
back on the notifications topic. Every order must end with exactly one
confirmation. Run from this directory:

    AC_BIN_DIR=../../build/bin python3 -m unittest -v test_dlq_replay
"""

import collections
import json
import os
import signal
import subprocess
import time
import unittest
import urllib.request

import gen_events
from stack import Stack, binary, record_bytes

SEED = 5150
N_ORDERS = 50
PARTITIONS = 3

ORDER_GROUP = "it-order-worker"
NOTIFY_GROUP = "it-notify-worker"
REPLAY_GROUP = "it-dlq-replay"
DLQ = "notifications.dlq"
GARBAGE = b"this is not a notification"


def summary(stdout):
    """The last line of stdout, replayed=N ..., as a dict of ints."""
    lines = stdout.decode("utf-8").strip().splitlines()
    if not lines:
        raise AssertionError("no summary on stdout")
    return {k: int(v) for k, v in (kv.split("=") for kv in lines[-1].split())}


def dlq_key(rec):
    return "%s/%d/%d" % (DLQ, rec["partition"], rec["offset"])


class DlqReplayTest(unittest.TestCase):
    maxDiff = 4000

    def replay(self, st, *args, timeout=90):
        """Runs ac-dlq-replay against the stack; returns CompletedProcess."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("KAFKA_BROKERS", "REDIS_URL", "LOG_LEVEL")
               and not k.startswith("RDKAFKA_")}
        # devbroker's coordinator holds the next join to a group for the
        # session timeout after a member left: the shortest Kafka allows
        # keeps each run a few seconds long.
        argv = [binary("ac-dlq-replay"), "--brokers", st.brokers, "--redis", st.redis_url,
                "--group", REPLAY_GROUP, "--timeout", "60s",
                "--rdkafka", "session.timeout.ms=6000"] + list(args)
        r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout)
        # Under the Asan build the stack scans its own processes' logs; this
        # one's stderr is ours to check.
        for marker in Stack._SANITIZER_MARKERS:
            self.assertNotIn(marker, r.stderr.decode(errors="replace"))
        return r

    def replay_ok(self, st, *args):
        r = self.replay(st, *args)
        self.assertEqual(r.returncode, 0, "ac-dlq-replay %s: %s"
                         % (" ".join(args), r.stderr.decode(errors="replace")[-2000:]))
        return r

    def test_replay_after_fix(self):
        placed = gen_events.orders_placed(N_ORDERS, SEED)
        orders = {str(e["order"]["id"]) for e in placed}
        self.assertEqual(len(orders), N_ORDERS)

        with Stack(partitions=PARTITIONS,
                   sink_args=["--fail-rate", "0.5", "--fail-status", "400", "--seed", "7"]) as st:
            st.start_worker("order-worker", {"KAFKA_GROUP": ORDER_GROUP})
            notify = st.start_worker("notify-worker", {
                "KAFKA_GROUP": NOTIFY_GROUP, "CLAIM_TTL": "5s", "HTTP_TIMEOUT": "2s"})

            # ---- the broken provider: about half the confirmations are
            # rejected, plus one record that is not a notification at all
            st.produce("orders", [gen_events.encode(e) for e in placed])
            st.produce("notifications", [GARBAGE], key_field=None)
            st.wait_until(lambda: st.sink_stats()["delivered"] + len(st.consume(DLQ, 200))
                          >= N_ORDERS + 1, 120, "every message delivered or dead-lettered",
                          interval=0.25)
            first = st.sink_messages()
            dlq = st.consume(DLQ)
            reasons = collections.Counter(r["headers"].get("ac-dlq-reason") for r in dlq)
            self.assertEqual(len(first) + len(dlq), N_ORDERS + 1)
            self.assertEqual(reasons["invalid_notification"], 1, reasons)
            rejected = [r for r in dlq if r["headers"].get("ac-dlq-reason") == "rejected"]
            self.assertEqual(len(rejected), len(dlq) - 1, reasons)
            self.assertGreaterEqual(len(rejected), 5, "enough dead letters to replay")
            by_id = {json.loads(r["value"])["id"]: r for r in rejected}
            self.assertEqual(len(by_id), len(rejected), "one dead letter per message")
            print("\nfirst sink delivered %d, dead-lettered %d rejected + 1 invalid"
                  % (len(first), len(rejected)))

            # ---- the fix: the provider accepts everything again (same port,
            # so notify-worker's WEBHOOK_URL still points at it)
            # stack.py has no restart for the sink; _start_sink(port=) brings
            # one up on a given port. The old port file would answer for the
            # new sink before it listens, so it goes first.
            port = st.sink_port
            st.sink.stop()
            os.remove(os.path.join(st.dir, "sink.port"))
            st.sink_args = []
            st._start_sink(port=port)
            self.assertEqual(st.sink_port, port)
            st.wait_until(lambda: st._get(port, "/healthz"), 15, "the new sink to answer")

            # ---- meanwhile one message went out by another path and was
            # recorded sent, as notify-worker records it
            premarked = sorted(by_id)[0]
            note = json.loads(by_id[premarked]["value"])
            body = json.dumps({"id": premarked, "kind": note["kind"], "via": "manual",
                               "order_id": str(note["event"]["order"]["id"])}).encode()
            req = urllib.request.Request(st.sink_url, data=body, method="POST", headers={
                "Content-Type": "application/json", "Idempotency-Key": premarked})
            with urllib.request.urlopen(req, timeout=5) as resp:
                self.assertEqual(resp.status, 200)
            self.assertTrue(st.redis_command("SET", "ac:m:{%s}" % premarked,
                                             "2026-01-01T00:00:00.000Z").startswith(b"+OK"))
            to_replay = set(by_id) - {premarked}
            n_notifications = len(st.consume("notifications"))

            # ---- a bad argument: exit 2, one line, nothing else
            r = self.replay(st, "--since", "last tuesday")
            self.assertEqual(r.returncode, 2)
            self.assertEqual(r.stdout, b"")
            err = r.stderr.decode().strip().splitlines()
            self.assertEqual(len(err), 1, err)
            self.assertIn("--since", err[0])

            # ---- dry runs list and count, and change nothing
            r = self.replay_ok(st, "--dry-run")
            self.assertEqual(summary(r.stdout), {"replayed": len(to_replay), "skipped_sent": 1,
                                                 "skipped_filtered": 0, "invalid": 1})
            listed = r.stdout.decode().strip().splitlines()[:-1]
            self.assertEqual(len(listed), len(to_replay), listed)
            listed_ids = {f.split("=", 1)[1] for line in listed for f in line.split()
                          if f.startswith("id=")}
            self.assertEqual(listed_ids, to_replay)
            for line in listed:
                self.assertTrue(line.startswith("would replay %s/" % DLQ), line)
                self.assertIn("reason=rejected", line)

            r = self.replay_ok(st, "--dry-run", "--reason", "retries_exhausted,no_address")
            self.assertEqual(summary(r.stdout), {"replayed": 0, "skipped_sent": 0,
                                                 "skipped_filtered": len(dlq), "invalid": 0})
            one = sorted(to_replay)[0]
            r = self.replay_ok(st, "--dry-run", "--id", one)
            self.assertEqual(summary(r.stdout), {"replayed": 1, "skipped_sent": 0,
                                                 "skipped_filtered": len(dlq) - 1, "invalid": 0})
            r = self.replay_ok(st, "--dry-run", "--until", "2000-01-01")
            self.assertEqual(summary(r.stdout)["skipped_filtered"], len(dlq))
            r = self.replay_ok(st, "--dry-run", "--since", "2000-01-01", "--include-invalid")
            self.assertEqual(summary(r.stdout), {"replayed": len(to_replay) + 1,
                                                 "skipped_sent": 1, "skipped_filtered": 0,
                                                 "invalid": 0})

            time.sleep(1.0)
            self.assertEqual(len(st.consume("notifications")), n_notifications,
                             "a dry run produces nothing")
            committed = st.offsets(DLQ, REPLAY_GROUP)["committed"]
            self.assertTrue(all(v < 0 for v in committed.values()),
                            "a dry run commits nothing: %s" % committed)
            self.assertEqual(st.sink_stats()["delivered"], 1, "only the manual delivery")

            # ---- the replay
            r = self.replay_ok(st)
            self.assertEqual(summary(r.stdout), {"replayed": len(to_replay), "skipped_sent": 1,
                                                 "skipped_filtered": 0, "invalid": 1})
            self.assertEqual(len(r.stdout.decode().strip().splitlines()), 1,
                             "a real run prints only the summary")
            self.assertEqual(st.offsets(DLQ, REPLAY_GROUP)["lag"], 0,
                             "the replay committed every dead letter it read")

            st.wait_until(lambda: st.sink_stats()["delivered"] >= 1 + len(to_replay), 60,
                          "%d replayed deliveries" % len(to_replay), interval=0.25)
            self.assertEqual(st.kill(notify, signal.SIGTERM, timeout=20), 0)
            self.assertEqual(st.offsets("notifications", NOTIFY_GROUP)["lag"], 0)

            second = st.sink_messages()
            stats = st.sink_stats()
            notifications = st.consume("notifications")
            dlq_after = st.consume(DLQ)

            # ---- every order: exactly one confirmation, across both sinks
            everything = first + second
            confirmations = collections.Counter(str(m["order_id"]) for m in everything
                                                if m["kind"] == "order_confirmation")
            self.assertEqual(set(confirmations), orders)
            self.assertEqual([o for o, n in confirmations.items() if n != 1], [],
                             "orders without exactly one confirmation")
            ids = collections.Counter(m["id"] for m in everything)
            self.assertEqual([i for i, n in ids.items() if n != 1], [])
            self.assertEqual(stats["replays"], 0, "no Idempotency-Key seen twice")
            self.assertEqual([m.get("via") for m in everything if m["id"] == premarked],
                             ["manual"], "the pre-marked message was not delivered again")
            self.assertEqual({m["id"] for m in second} - {premarked}, to_replay)

            # ---- what was replayed: the original key and value, its
            # headers without the dead-letter ones, and where it came from
            replays = [n for n in notifications if "ac-replayed-from" in n["headers"]]
            self.assertEqual(len(notifications), n_notifications + len(to_replay))
            self.assertEqual(len(replays), len(to_replay))
            sources = {dlq_key(r): r for r in rejected}
            for n in replays:
                src = sources[n["headers"]["ac-replayed-from"]]
                self.assertEqual(record_bytes(n), record_bytes(src))
                self.assertEqual(n["key"], src["key"])
                self.assertIsNotNone(n["key"], "notifications are keyed")
                self.assertFalse([h for h in n["headers"] if h.startswith("ac-dlq-")])
                for h, v in src["headers"].items():
                    if not h.startswith("ac-dlq-"):
                        self.assertEqual(n["headers"].get(h), v, h)
            self.assertNotIn(premarked, {json.loads(n["value"])["id"] for n in replays})
            self.assertEqual(len(dlq_after), len(dlq), "nothing was dead-lettered again")

            # ---- a second run replays nothing; from the beginning, the
            # sent marks skip every message that went out
            r = self.replay_ok(st)
            self.assertEqual(summary(r.stdout), {"replayed": 0, "skipped_sent": 0,
                                                 "skipped_filtered": 0, "invalid": 0})
            r = self.replay_ok(st, "--dry-run", "--from-beginning")
            self.assertEqual(summary(r.stdout), {"replayed": 0, "skipped_sent": len(rejected),
                                                 "skipped_filtered": 0, "invalid": 1})
            self.assertEqual(len(st.consume("notifications")), len(notifications))

    def test_replay_starts_a_fresh_lifetime(self):
        """A message that waited in the schedule carries its attempts and the
        time of its first one; replayed from the dead-letter topic after a
        fix, it is retried for a whole RETRY_FOR again rather than given up
        at its first failure."""
        placed = gen_events.orders_placed(5, SEED + 1)
        with Stack(partitions=PARTITIONS, sink_args=["--fail-rate", "1", "--fail-status",
                                                     "503"]) as st:
            st.start_worker("order-worker", {"KAFKA_GROUP": ORDER_GROUP})
            notify = st.start_worker("notify-worker", {
                "KAFKA_GROUP": NOTIFY_GROUP, "CLAIM_TTL": "5s", "HTTP_TIMEOUT": "2s",
                "RETRY_FOR": "3s", "RETRY_BASE": "200ms", "RETRY_MAX": "500ms",
                "RETRY_DEFER_AFTER": "100ms", "FAILOVER_COOLDOWN": "300ms"})
            st.produce("orders", [gen_events.encode(e) for e in placed])
            st.wait_until(lambda: len(st.consume(DLQ, 200)) >= len(placed), 60,
                          "every message given up after RETRY_FOR", interval=0.25)
            dlq = st.consume(DLQ)
            self.assertEqual({r["headers"].get("ac-dlq-reason") for r in dlq},
                             {"retries_exhausted"})
            waited = [r for r in dlq if "first_attempt_at" in json.loads(r["value"])]
            self.assertTrue(waited, "some dead letters waited in the schedule")
            retried = st.metrics(notify).value("aftercare_messages_retried_total")

            # Replayed while the provider still fails: each copy is tried,
            # retried and given up only after another RETRY_FOR.
            replayed_at = time.monotonic()
            self.replay_ok(st)
            st.wait_until(lambda: len(st.consume(DLQ, 200)) >= 2 * len(placed), 60,
                          "every replayed message given up again", interval=0.25)
            took = time.monotonic() - replayed_at
            self.assertGreater(st.metrics(notify).value("aftercare_messages_retried_total"),
                               retried, "replayed messages were retried, not given up at "
                               "their first failure")
            self.assertGreaterEqual(took, 3.0, "given up again only after a whole RETRY_FOR")
            print("\n%d messages given up after RETRY_FOR, %d of them after waiting in the "
                  "schedule; replayed, given up again after %.1fs"
                  % (len(placed), len(waited), took))


if __name__ == "__main__":
    unittest.main()
