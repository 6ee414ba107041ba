"""End to end: order events in, one personalised message per order out.

Runs the real binaries (devbroker, redis-server, ac-sink, order-worker,
notify-worker) through stack.Stack. Run from this directory:

    AC_BIN_DIR=../../build/bin python3 -m unittest -v test_order_pipeline
"""

import collections
import datetime
import json
import random
import re
import os
import shutil
import signal
import tempfile
import unittest

import gen_events
from stack import Stack, binary, record_bytes, run_worker

SEED = 4242
N_ORDERS = 300
N_CANCELLED = 12
N_UNKNOWN = 5  # events of a type no worker knows: counted, skipped, no message
DUP_RATE = 0.3
N_MALFORMED = 25
MAX_EVENT_BYTES = 65536
PARTITIONS = 4

ORDER_GROUP = "it-order-worker"
NOTIFY_GROUP = "it-notify-worker"


def order_key(order_id):
    """Ids may be strings or numbers; they compare as text."""
    return str(order_id)


def channel_of(customer):
    if "@" in (customer.get("email") or ""):
        return "email", customer["email"]
    return "sms", customer["phone"]


class OrderPipelineTest(unittest.TestCase):
    maxDiff = 4000

    def test_duplicates_and_malformed_records(self):
        self.run_scenario({})

    def test_duplicates_across_overlapping_batches(self):
        """Batches of 7 records: while Kafka acknowledges one batch's
        messages the next is processed, before the first batch's events are
        marked done in Redis. A copy a few records after its original lands
        in that next batch, and must still be dropped."""
        self.run_scenario({"BATCH_SIZE": 7})

    def run_scenario(self, order_env):
        """The records of the test above through order-worker with
        order_env added to its settings."""
        placed = gen_events.orders_placed(N_ORDERS, SEED)
        cancelled = gen_events.orders_cancelled(placed, N_CANCELLED, SEED)
        unknown = gen_events.orders_placed(N_UNKNOWN, SEED + 1)
        for e in unknown:
            e["type"] = "order.updated"
        good = [gen_events.encode(e) for e in placed + cancelled + unknown]
        lines = gen_events.with_duplicates(good, DUP_RATE, SEED)
        n_dups = len(lines) - len(good)
        bad = gen_events.malformed(N_MALFORMED, SEED, max_bytes=MAX_EVENT_BYTES)
        rng = random.Random(SEED)
        for b in bad:
            lines.insert(rng.randrange(len(lines) + 1), b.line)
        self.assertEqual(set(b.kind for b in bad), set(gen_events.MALFORMED_KINDS),
                         "the malformed set covers every kind")
        print("\ninput: %d order.placed, %d order.cancelled, %d order.updated, %d verbatim "
              "duplicates, %d malformed (%s) = %d records on %d partitions"
              % (N_ORDERS, N_CANCELLED, N_UNKNOWN, n_dups, len(bad),
                 ", ".join("%s=%d" % kv for kv in sorted(
                     collections.Counter(b.reason for b in bad).items())),
                 len(lines), PARTITIONS))

        placed_by_id = {order_key(e["order"]["id"]): e for e in placed}
        cancel_by_id = {order_key(e["order"]["id"]): e for e in cancelled}
        cancelled_ids = {order_key(e["order"]["id"]) for e in cancelled}
        self.assertEqual(len(placed_by_id), N_ORDERS, "generator gave unique order ids")
        self.assertFalse({order_key(e["order"]["id"]) for e in unknown} & set(placed_by_id))

        with Stack(partitions=PARTITIONS) as st:
            order = st.start_worker("order-worker", dict({
                "KAFKA_GROUP": ORDER_GROUP, "MAX_EVENT_BYTES": MAX_EVENT_BYTES}, **order_env),
                wait=False)
            notify = st.start_worker("notify-worker", {
                "KAFKA_GROUP": NOTIFY_GROUP, "CLAIM_TTL": "5s", "HTTP_TIMEOUT": "2s"},
                wait=False)
            st.wait_ready(order)
            st.wait_ready(notify)

            self.assertEqual(st.produce("orders", lines), len(lines))

            expected_msgs = N_ORDERS + N_CANCELLED
            st.wait_until(lambda: st.sink_stats()["delivered"] >= expected_msgs, 180,
                          "%d deliveries at the sink" % expected_msgs, interval=0.25)
            st.wait_until(lambda: len(st.consume("orders.dlq", 200)) >= len(bad), 60,
                          "%d records in orders.dlq" % len(bad), interval=0.5)

            m_order = st.metrics(order)
            m_notify = st.metrics(notify)

            # A graceful stop finishes the work in hand, commits and exits 0.
            self.assertEqual(st.kill(order, signal.SIGTERM, timeout=20), 0,
                             "order-worker exits 0 on SIGTERM")
            self.assertEqual(st.kill(notify, signal.SIGTERM, timeout=20), 0,
                             "notify-worker exits 0 on SIGTERM")
            self.assertEqual(st.offsets("orders", ORDER_GROUP)["lag"], 0,
                             "order-worker committed everything it consumed")
            self.assertEqual(st.offsets("notifications", NOTIFY_GROUP)["lag"], 0,
                             "notify-worker committed everything it consumed")

            stats = st.sink_stats()
            messages = st.sink_messages()
            dlq = st.consume("orders.dlq")
            source = {(r["partition"], r["offset"]): r for r in st.consume("orders")}
            notifications = st.consume("notifications")
            # Every valid event is marked done, the last batch's too: its
            # marks wait for the next batch's seen check, and are written
            # on their own when no batch follows.
            marks = st.redis_keys("ac:e:*")

            print("sink: %s" % stats)

            # ---- exactly one message per order and kind
            self.assertEqual(stats["delivered"], expected_msgs, "deliveries at the sink")
            self.assertEqual(len(messages), expected_msgs, "messages listed by the sink")
            self.assertEqual(stats["bad_signatures"], 0)
            self.assertEqual(stats["no_key"], 0, "every call had an Idempotency-Key")
            self.assertEqual(stats["by_kind"].get("order_confirmation"), N_ORDERS)
            self.assertEqual(stats["by_kind"].get("order_cancelled"), N_CANCELLED)
            ids = [m["id"] for m in messages]
            self.assertEqual(len(set(ids)), len(ids), "message ids are unique")
            confirmations = [m for m in messages if m["kind"] == "order_confirmation"]
            cancellations = [m for m in messages if m["kind"] == "order_cancelled"]
            self.assertEqual(sorted(order_key(m["order_id"]) for m in confirmations),
                             sorted(placed_by_id), "one order_confirmation per order")
            self.assertEqual(sorted(order_key(m["order_id"]) for m in cancellations),
                             sorted(cancelled_ids), "one order_cancelled per cancelled order")

            # ---- each message is personalised from its own order
            for m in messages:
                ev = placed_by_id[order_key(m["order_id"])]
                cust, od = ev["customer"], ev["order"]
                where = "message %s for order %s" % (m["id"], od["id"])
                self.assertEqual(m["_idempotency_key"], m["id"], where)
                self.assertRegex(m["id"], r"^msg_[0-9a-f]{32}$", where)
                channel, to = channel_of(cust)
                self.assertEqual(m["channel"], channel, where)
                self.assertEqual(m["to"], to, where)
                self.assertEqual(order_key(m["customer_id"]), order_key(cust["id"]), where)
                self.assertEqual(order_key(m["store_id"]), order_key(ev["store"]["id"]), where)
                self.assertEqual(m["first_name"], cust["first_name"], where)
                self.assertIn(od["number"], m["order_number"], where)
                text = m["text"]
                self.assertIn(od["number"], text, where + ": order number in the text")
                if m["kind"] == "order_confirmation" or channel == "email":
                    self.assertIn(cust["first_name"], text, where + ": first name in the text")
                if m["kind"] == "order_confirmation":
                    self.assertTrue(any(it["name"] in text for it in od["items"]),
                                    where + ": no item name in the text:\n" + text)
                if channel == "email":
                    self.assertTrue(m.get("subject"), where + ": an email has a subject")
                    self.assertIn(od["number"], m["subject"], where)
                if m["kind"] == "order_confirmation":
                    self.assertEqual(m["event_id"], ev["event_id"], where)
                else:
                    self.assertEqual(m["event_id"], cancel_by_id[order_key(od["id"])]["event_id"],
                                     where)
                if cust["locale"].startswith("de"):
                    self.assertEqual(m["locale"][:2], "de", where)
                    self.assertRegex(text, r"Hallo|Bestellung", where + ": German text")
                else:
                    self.assertEqual(m["locale"][:2], "en", where)
                    self.assertIn("order", text, where + ": English text")
            # non-ASCII names arrived intact, not as escapes or mojibake
            names = {m["first_name"] for m in messages}
            for name in ("Zoë", "Jürgen", "Siobhán", "Łukasz", "美咲", "José"):
                if any(e["customer"]["first_name"] == name for e in placed):
                    self.assertIn(name, names)
                    self.assertTrue(any(name in m["text"] for m in messages), name)

            # ---- the notifications topic holds the decisions
            notif_ids = {}
            for r in notifications:
                self.assertIsNotNone(r["value"], "notification records are UTF-8 JSON")
            for r in notifications:
                n = json.loads(r["value"])
                notif_ids.setdefault(n["id"], n["kind"])
            self.assertEqual(set(notif_ids), set(ids), "what was sent is what was decided")

            # ---- dead letters: one per malformed record, original bytes and key
            self.assertEqual(len(dlq), len(bad), "records in orders.dlq")
            self.assertEqual(collections.Counter(record_bytes(r) for r in dlq),
                             collections.Counter(b.line for b in bad),
                             "orders.dlq holds exactly the malformed records, byte for byte")
            for r in dlq:
                with self.subTest(dead_letter=r["headers"].get("ac-source-offset")):
                    self.check_dead_letter(r, bad, source)

            # ---- the workers' own counts agree
            print("order-worker metrics: %s" % {
                "%s%s" % (n, dict(ls)): v for (n, ls), v in sorted(m_order.items())
                if n.startswith("aftercare_events") or n.startswith("aftercare_messages")})
            self.assertEqual(m_order.value("aftercare_events_duplicate_total", topic="orders"),
                             n_dups, "duplicates dropped")
            self.assertEqual(len(marks), len(good), "one done mark per valid event")
            dead = {k: int(v) for k, v in m_order.by_label(
                "aftercare_events_dead_lettered_total", "reason").items() if v}
            self.assertEqual(dead, dict(collections.Counter(b.reason for b in bad)),
                             "dead letters by reason")
            self.assertEqual(m_order.value("aftercare_messages_decided_total",
                                           kind="order_confirmation"), N_ORDERS)
            self.assertEqual(m_order.value("aftercare_messages_decided_total",
                                           kind="order_cancelled"), N_CANCELLED)
            consumed = m_order.value("aftercare_events_consumed_total", topic="orders",
                                     type="order.placed")
            placed_lines = set(good[:N_ORDERS])
            placed_records = sum(1 for l in lines if l in placed_lines)
            self.assertIn(consumed, (N_ORDERS, placed_records),
                          "order.placed consumed: the unique events or every valid record")
            unknown_lines = set(good[N_ORDERS + N_CANCELLED:])
            unknown_records = sum(1 for l in lines if l in unknown_lines)
            self.assertIn(m_order.value("aftercare_events_consumed_total", topic="orders",
                                        type="unknown"), (N_UNKNOWN, unknown_records),
                          "events of an unknown type are counted (and skipped)")
            by_channel = collections.Counter(channel_of(e["customer"])[0] for e in placed)
            for ch in ("email", "sms"):
                self.assertEqual(m_notify.value("aftercare_messages_sent_total",
                                                kind="order_confirmation", channel=ch),
                                 by_channel[ch], "confirmations sent by %s" % ch)
            self.assertEqual(m_notify.value("aftercare_messages_sent_total"), expected_msgs)


    def check_dead_letter(self, r, bad, source):
        """One record of orders.dlq against the malformed line it came from."""
        expected_reason = {b.line: b.reason for b in bad}
        h = r["headers"]
        value = record_bytes(r)
        kind = next(b.kind for b in bad if b.line == value)
        where = "dead letter of kind %s (%r...; ac-dlq-detail: %s)" % (
            kind, value[:60], h.get("ac-dlq-detail"))
        self.assertEqual(h.get("ac-dlq-reason"), expected_reason[value], where)
        self.assertTrue(h.get("ac-dlq-detail"), where + ": ac-dlq-detail")
        self.assertEqual(h.get("ac-source-topic"), "orders", where)
        self.assertRegex(h.get("ac-source-partition", ""), r"^\d+$", where)
        self.assertRegex(h.get("ac-source-offset", ""), r"^\d+$", where)
        src = source.get((int(h["ac-source-partition"]), int(h["ac-source-offset"])))
        self.assertIsNotNone(src, where + ": source partition/offset point at a record")
        self.assertEqual(record_bytes(src), value, where + ": source record has the bytes")
        self.assertEqual(r.get("key"), src.get("key"), where + ": original key")
        self.assertEqual(r.get("key_b64"), src.get("key_b64"), where + ": original key")
        at = h.get("ac-dlq-at", "")
        self.assertRegex(at, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$",
                         where + ": ac-dlq-at")
        stamp = datetime.datetime.fromisoformat(at.replace("Z", "+00:00"))
        age = datetime.datetime.now(datetime.timezone.utc) - stamp
        self.assertLess(abs(age.total_seconds()), 3600, where + ": ac-dlq-at is now")
        if kind == "too_large":
            self.assertGreater(r["size"], MAX_EVENT_BYTES)


VARS_COMMON = ["KAFKA_BROKERS", "KAFKA_GROUP", "KAFKA_TOPIC", "REDIS_URL", "HTTP_PORT",
               "LOG_LEVEL", "DEDUP_TTL"]
VARS_EVENT = VARS_COMMON + ["NOTIFY_TOPIC", "MAX_EVENT_BYTES", "BATCH_SIZE",
                            "REVIEW_REQUEST_DELAY", "REFERRAL_DELAY", "SHIPPING_UPDATES",
                            "STORE_SETTINGS", "JOURNEY_TTL", "SCHEDULER", "FIRE_INTERVAL",
                            "FIRE_LEASE"]
VARS = {
    "order-worker": VARS_EVENT,
    "shipment-worker": VARS_EVENT,
    "return-worker": VARS_EVENT,
    "notify-worker": VARS_COMMON + ["WEBHOOK_URL", "WEBHOOK_SECRET", "HTTP_TIMEOUT",
                                    "CLAIM_TTL", "MAX_IN_FLIGHT"],
}


class ConfigurationTest(unittest.TestCase):
    """A misconfigured worker says exactly what to fix and exits 2."""

    def valid_env(self, worker):
        env = {"KAFKA_BROKERS": "127.0.0.1:9", "REDIS_URL": "redis://127.0.0.1:6/0",
               "HTTP_PORT": "0", "LOG_LEVEL": "info"}
        if worker == "notify-worker":
            env["WEBHOOK_URL"] = "http://127.0.0.1:9/webhook"
        return env

    def expect_refused(self, worker, env, var, args=()):
        r = run_worker(worker, env, args, timeout=20)
        err = r.stderr.decode("utf-8", "replace")
        what = "%s with %s %s" % (worker, {k: v for k, v in env.items()}, " ".join(args))
        self.assertEqual(r.returncode, 2, "%s: exit status (stderr: %s)" % (what, err))
        lines = err.splitlines()
        self.assertEqual(len(lines), 1, "%s: exactly one line on stderr, got %r" % (what, err))
        self.assertIn(var, lines[0], "%s: the line names %s" % (what, var))
        return lines[0]

    def test_bad_settings_exit_2_with_one_line(self):
        tmp = tempfile.mkdtemp(prefix="ac-config-")
        self.addCleanup(shutil.rmtree, tmp)
        files = {}
        for name, text in [("bad_json", '{"stores": {"st_a": {"review_request_delay": "7d"'),
                           ("bad_delay", '{"stores": {"st_a": {"referral_delay": "a fortnight"}}}'),
                           ("unknown", '{"stores": {"st_a": {"review_delay": "7d"}}}'),
                           ("bad_update", '{"stores": {"st_a": {"shipping_updates": ["lost"]}}}'),
                           ("long_delay", '{"stores": {"st_a": {"referral_delay": "200d"}}}')]:
            files[name] = os.path.join(tmp, name + ".json")
            with open(files[name], "w") as f:
                f.write(text)
        for worker in ("order-worker", "shipment-worker", "return-worker", "notify-worker"):
            binary(worker)
            env = self.valid_env(worker)
            cases = [
                ("KAFKA_BROKERS", None),
                ("KAFKA_BROKERS", ""),
                ("REDIS_URL", "http://127.0.0.1:6379"),
                ("REDIS_URL", "redis://127.0.0.1:notaport/0"),
                ("REDIS_URL", "redis://127.0.0.1:6379/db"),
                ("HTTP_PORT", "http"),
                ("HTTP_PORT", "70000"),
                ("HTTP_PORT", "-1"),
                ("DEDUP_TTL", "10 parsecs"),
                ("DEDUP_TTL", "7"),
                ("LOG_LEVEL", "chatty"),
            ]
            if worker == "notify-worker":
                cases += [("WEBHOOK_URL", None), ("WEBHOOK_URL", "ftp://example.com/"),
                          ("HTTP_TIMEOUT", "soon"), ("HTTP_TIMEOUT", "2 seconds"),
                          ("CLAIM_TTL", "5x"), ("MAX_IN_FLIGHT", "many"),
                          ("TEMPLATE_DIR", os.path.join(tmp, "no-such-dir")),
                          ("STORE_SETTINGS", files["bad_json"]),
                          ("QUIET_HOURS", "evenings"), ("MARKETING_CAP", "-1")]
            else:
                cases += [("MAX_EVENT_BYTES", "1MB"), ("BATCH_SIZE", "lots"),
                          ("NOTIFY_TOPIC", "no spaces allowed"),
                          ("REVIEW_REQUEST_DELAY", "a week"), ("REFERRAL_DELAY", "14"),
                          ("SHIPPING_UPDATES", "shipped,sometimes"), ("JOURNEY_TTL", "7d"),
                          ("SCHEDULER", "perhaps"), ("FIRE_INTERVAL", "1ms"),
                          ("STORE_SETTINGS", os.path.join(tmp, "missing.json"))]
                cases += [("STORE_SETTINGS", path) for path in files.values()]
            for var, value in cases:
                with self.subTest(worker=worker, var=var, value=value):
                    e = dict(env)
                    if value is None:
                        e.pop(var, None)
                    else:
                        e[var] = value
                    self.expect_refused(worker, e, var)
            with self.subTest(worker=worker, flag="--http-port"):
                self.expect_refused(worker, env, "HTTP_PORT", ["--http-port", "eighty"])
            with self.subTest(worker=worker, flag="unknown"):
                r = run_worker(worker, env, ["--no-such-flag", "1"])
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)

    def test_help_and_version(self):
        for worker in ("order-worker", "shipment-worker", "return-worker", "notify-worker"):
            with self.subTest(worker=worker):
                # --help works without any configuration at all.
                r = run_worker(worker, {}, ["--help"])
                out = r.stdout.decode("utf-8", "replace")
                self.assertEqual(r.returncode, 0, r.stderr)
                for var in VARS[worker]:
                    self.assertIn(var, out, "%s --help lists %s" % (worker, var))
                    flag = "--" + var.lower().replace("_", "-")
                    self.assertIn(flag, out, "%s --help lists %s" % (worker, flag))
                r = run_worker(worker, {}, ["--version"])
                out = r.stdout.decode("utf-8", "replace")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn(worker, out)
                self.assertRegex(out, r"\d+\.\d+\.\d+")


class RebalanceTest(unittest.TestCase):
    """A second order-worker joins while the first drains a backlog in
    batches of 10, so that a batch is nearly always awaiting Kafka's
    acknowledgement when the first worker's partitions are revoked. That
    batch is finished (and its offsets stored) before they go, and the
    revoked partitions' records not yet processed are dropped. Between them
    the two workers decide exactly one confirmation per order.

    Records are still consumed again: the dev broker refuses the commit
    that comes with a revocation ("Group rebalance in progress"), so each
    partition's next owner starts from the last periodic commit, and the
    events' done marks drop what was already processed (printed as
    "consumed again")."""

    N_ORDERS = 15000
    TUNING = {"RDKAFKA_SESSION_TIMEOUT_MS": "6000", "RDKAFKA_HEARTBEAT_INTERVAL_MS": "500",
              "KAFKA_GROUP": "rebalance-order-worker", "BATCH_SIZE": 10}

    def test_second_worker_joins_mid_backlog(self):
        placed = gen_events.orders_placed(self.N_ORDERS, SEED + 3)
        lines = [gen_events.encode(e) for e in placed]
        with Stack(partitions=8) as st:
            self.assertEqual(st.produce("orders", lines), len(lines))
            first = st.start_worker("order-worker", self.TUNING)
            decided = lambda w: st.metrics(w).value("aftercare_messages_decided_total")
            st.wait_until(lambda: decided(first) >= 1000, 60, "the first worker deciding")
            second = st.start_worker("order-worker", self.TUNING, replica_id=1)
            st.wait_until(lambda: decided(second) > 0, 60, "the second worker deciding")
            st.wait_until(lambda: st.offsets("orders", self.TUNING["KAFKA_GROUP"])["lag"] == 0,
                          120, "the backlog drained")
            counts = (decided(first), decided(second))
            again = sum(st.metrics(w).value("aftercare_events_duplicate_total")
                        for w in (first, second))
            for w in (first, second):
                self.assertEqual(st.kill(w, signal.SIGTERM, timeout=20), 0)
            notifications = [json.loads(r["value"]) for r in st.consume("notifications")]
            print("\ndecided by the first and the second worker: %s; consumed again: %d; "
                  "notifications: %d" % (counts, again, len(notifications)))
            self.assertEqual(sum(counts), self.N_ORDERS, "one decision per order in all")
            self.assertEqual(sorted(order_key(n["event"]["order"]["id"]) for n in notifications),
                             sorted(order_key(e["order"]["id"]) for e in placed),
                             "one confirmation per order in the notifications topic")


if __name__ == "__main__":
    unittest.main(verbosity=2)
