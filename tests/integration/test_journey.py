"""The whole post-purchase journey, end to end (docs/journey.md).

A few hundred orders go through placing, shipping (some on time, some with
slipping estimates, some delayed by the carrier), delivery, returns and
feedback, with duplicated records and events arriving out of order across
topics. Every message the sink receives is checked against an independent
statement of the rules (expected_messages() below): exactly the messages
the rules call for, each once, none early.

Delays are seconds instead of days (REVIEW_REQUEST_DELAY=4s,
REFERRAL_DELAY=8s), and events are stamped with real times, so scheduled
messages really wait.

    AC_BIN_DIR=../../build/bin python3 -m unittest -v test_journey
"""

import collections
import datetime
import hashlib
import json
import os
import random
import signal
import tempfile
import time
import unittest

import gen_events
from stack import Stack

SEED = 9090
PARTITIONS = 4
# The delays in seconds, and STORE_SETTINGS: Northside Records asks for
# reviews sooner, sends no referral invitations and tells customers when
# the parcel is out for delivery.
CONFIG = {"review": 4.0, "referral": 8.0, "stores": {"st_northside": {
    "review_request_delay": "5s", "referral_invites": False,
    "shipping_updates": ["shipped", "out_for_delivery"]}}}

KAFKA_TUNING = {"RDKAFKA_SESSION_TIMEOUT_MS": "6000", "RDKAFKA_HEARTBEAT_INTERVAL_MS": "500"}
EVENT_WORKERS = ("order-worker", "shipment-worker", "return-worker")


def settings_of(store_id, cfg):
    s = {"review_delay": cfg["review"], "referral_delay": cfg["referral"], "reviews": True,
         "referrals": True, "shipped": True, "out_for_delivery": False}
    o = cfg["stores"].get(store_id, {})
    if "review_request_delay" in o:
        s["review_delay"] = float(o["review_request_delay"].rstrip("s"))
    if "referral_invites" in o:
        s["referrals"] = o["referral_invites"]
    if "shipping_updates" in o:
        s["shipped"] = "shipped" in o["shipping_updates"]
        s["out_for_delivery"] = "out_for_delivery" in o["shipping_updates"]
    s["support"] = o.get("support")
    return s


# ---------------------------------------------------------------------------
# The rules, stated again independently of the C code.

def message_id(kind, store, order, disc=""):
    text = "".join("%d:%s" % (len(p.encode()), p)
                   for p in ("v1", kind, str(store), str(order), disc))
    return "msg_" + hashlib.sha256(text.encode()).hexdigest()[:32]


def when(ev):
    return datetime.datetime.fromisoformat(ev["occurred_at"].replace("Z", "+00:00")).timestamp()


FACTS = {"order.placed": ["placed"], "order.cancelled": ["cancelled"],
         "shipment.shipped": ["shipped"], "shipment.delivered": ["delivered"],
         "return.requested": ["returned"], "return.received": ["returned"],
         "return.refunded": ["refunded"]}
BLOCKERS = {"shipping_update": ("cancelled", "delivered", "returned"),
            "delay_notice": ("cancelled", "delivered", "returned"),
            "review_request": ("cancelled", "returned", "feedback"),
            "referral_invite": ("cancelled", "returned", "unhappy")}


def expected_messages(events, cfg):
    """{message id: (kind, due time or None, the event it is about)} for the
    events of any number of orders, as docs/journey.md states the rules.
    Facts are judged by when they happened, so the answer does not depend
    on the order the events are given in."""
    by_order = collections.defaultdict(dict)
    for ev in events:
        by_order[(ev["store"]["id"], str(ev["order"]["id"]))][ev["event_id"]] = ev
    out = {}
    for (store, order), evs in by_order.items():
        evs = sorted(evs.values(), key=when)
        facts = {}
        promised = None
        for ev in evs:
            names = list(FACTS.get(ev["type"], []))
            if ev["type"] == "feedback.received":
                names.append("feedback")
                if ev["feedback"]["rating"] <= 3:
                    names.append("unhappy")
            for f in names:
                facts[f] = min(facts.get(f, when(ev)), when(ev))
            if promised is None and ev["order"].get("promised_delivery_date"):
                promised = ev["order"]["promised_delivery_date"][:10]
        consent = any(ev["customer"].get("marketing_consent") for ev in evs)
        s = settings_of(store, cfg)

        def blocked(kind, at):
            return any(f in facts and facts[f] <= at for f in BLOCKERS.get(kind, ()))

        def add(kind, disc, ev, due=None):
            out[message_id(kind, store, order, disc)] = (kind, due, ev)

        for ev in evs:
            t, typ = when(ev), ev["type"]
            shp = ev.get("shipment", {})
            est = (shp.get("estimated_delivery") or "")[:10]
            if typ == "order.placed":
                add("order_confirmation", "", ev)
            elif typ == "order.cancelled":
                add("order_cancelled", "", ev)
            elif typ == "return.requested":
                add("return_confirmation", ev["return"]["id"], ev)
            elif typ == "return.refunded":
                add("refund_notice", ev["return"]["id"], ev)
            elif typ in ("shipment.shipped", "shipment.out_for_delivery"):
                on = s["shipped"] if typ == "shipment.shipped" else s["out_for_delivery"]
                if on and not blocked("shipping_update", t):
                    add("shipping_update", "%s:%s" % (shp["id"], typ), ev)
            if typ in ("shipment.delayed", "shipment.exception"):
                if not blocked("delay_notice", t):
                    add("delay_notice", est, ev)
            elif typ.startswith("shipment.") and typ != "shipment.delivered":
                if est and promised and est > promised and not blocked("delay_notice", t):
                    add("delay_notice", est, ev)
        # A complaint: the order's first rating, when it is 1 to 3, leads to
        # an apology and (with a support address) an alert; a comment sent
        # after it, to a second alert.
        ratings = [e for e in evs if e["type"] == "feedback.received"]
        if ratings and ratings[0]["feedback"]["rating"] <= 3:
            first = ratings[0]
            add("feedback_followup", "", first)
            for e in ratings:
                commented = bool(e["feedback"].get("comment"))
                if s["support"] and e["feedback"]["rating"] <= 3 and \
                        (e is first or (commented and when(e) > when(first))):
                    add("store_alert", "comment" if commented else "", e)
        if "delivered" in facts:
            ev = next(e for e in evs if e["type"] == "shipment.delivered")
            d = facts["delivered"]
            due = d + s["review_delay"]
            if s["reviews"] and not blocked("review_request", due):
                add("review_request", "", ev, due)
            due = d + s["referral_delay"]
            if s["referrals"] and consent and not blocked("referral_invite", due):
                add("referral_invite", "", ev, due)
    return out


# ---------------------------------------------------------------------------
# The scenario.

def utc(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)


def add_days(date_text, n):
    return (datetime.date.fromisoformat(date_text) + datetime.timedelta(days=n)).isoformat()


class Scenario:
    """Orders split into groups, each exercising one part of the rules. The
    events are built phase by phase, because some are stamped with the time
    they are produced at (deliveries are 'now', so that the review request
    really waits its four seconds)."""

    def __init__(self, n_orders, seed, cfg):
        self.cfg = cfg
        self.rng = random.Random(seed)
        start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=2)
        self.placed = gen_events.orders_placed(n_orders, seed, start=start)
        self.group = {}
        names = (["cancel"] * 6 + ["cancel_after_ship"] * 2 + ["undelivered"] * 12
                 + ["plain"] * 22 + ["return_early"] * 12 + ["return_between"] * 8
                 + ["unhappy"] * 8 + ["happy"] * 8 + ["return_first"] * 6
                 + ["backlog"] * 6 + ["late_delay"] * 5 + ["delay_after_delivery"] * 3
                 + ["redelivered"] * 2)
        for ev in self.placed:
            self.group[self.key(ev)] = self.rng.choice(names)
        self.estimate = {}
        self.all_events = list(self.placed)

    @staticmethod
    def key(ev):
        return (ev["store"]["id"], str(ev["order"]["id"]))

    def orders(self, *groups):
        return [p for p in self.placed if self.group[self.key(p)] in groups]

    def shipped_orders(self):
        return [p for p in self.placed if self.group[self.key(p)] != "cancel"]

    def delivered_orders(self):
        return [p for p in self.shipped_orders()
                if self.group[self.key(p)] not in ("undelivered", "cancel_after_ship")]

    def _keep(self, evs):
        self.all_events.extend(evs)
        return evs

    def phase_orders(self):
        """Placed orders, and cancellations before anything shipped."""
        base = when(self.placed[-1])
        cancels = []
        for i, p in enumerate(self.orders("cancel")):
            ev = json.loads(json.dumps(p))
            ev["event_id"] = "evt_cancel_%d_%s" % (i, p["order"]["id"])
            ev["type"] = "order.cancelled"
            ev["occurred_at"] = utc(base + 60 + i).isoformat()
            cancels.append(ev)
        return self._keep(cancels)

    def phase_transit(self):
        """Shipments on their way: on time, slipping once or twice, the same
        estimate repeated, delayed by the carrier, exceptions, out for
        delivery; and two orders cancelled after they shipped."""
        evs = []
        t0 = when(self.placed[-1]) + 600
        for i, p in enumerate(self.shipped_orders()):
            promised = p["order"]["promised_delivery_date"]
            sid = "shp_%s" % str(p["order"]["id"])[-10:]
            t = t0 + i
            pattern = self.rng.choice(["on_time"] * 5 + ["slip"] * 2 + ["late_then_slip",
                                       "carrier_delay", "exception", "early"])
            with_promised = self.rng.random() < 0.5  # else the journey's date is used
            ship = lambda typ, dt, est, **kw: gen_events.shipment(
                p, typ, utc(t + dt), sid, est, promised=with_promised, **kw)
            if pattern == "on_time":
                evs.append(ship("shipment.shipped", 0, promised))
            elif pattern == "slip":
                evs.append(ship("shipment.shipped", 0, promised))
                evs.append(ship("shipment.in_transit", 100, add_days(promised, 2)))
                evs.append(ship("shipment.in_transit", 200, add_days(promised, 2)))
            elif pattern == "late_then_slip":
                evs.append(ship("shipment.shipped", 0, add_days(promised, 1)))
                evs.append(ship("shipment.in_transit", 150,
                                add_days(promised, 3) + "T18:00:00+01:00"))
            elif pattern == "carrier_delay":
                evs.append(ship("shipment.shipped", 0, promised))
                evs.append(ship("shipment.delayed", 120, add_days(promised, 2),
                                status="weather delay"))
                evs.append(ship("shipment.in_transit", 240, add_days(promised, 2)))
            elif pattern == "exception":
                evs.append(ship("shipment.shipped", 0, promised))
                evs.append(ship("shipment.exception", 90, None, status="address query"))
            else:
                evs.append(ship("shipment.shipped", 0, add_days(promised, -1)))
            if self.rng.random() < 0.5:
                evs.append(ship("shipment.out_for_delivery", 300, None))
        for i, p in enumerate(self.orders("cancel_after_ship")):
            ev = json.loads(json.dumps(p))
            ev["event_id"] = "evt_cancel_late_%d_%s" % (i, p["order"]["id"])
            ev["type"] = "order.cancelled"
            ev["occurred_at"] = utc(t0 + 5000 + i).isoformat()
            evs.append(ev)
        return self._keep(evs)

    def phase_return_first(self, now):
        """Returns that arrive before the delivery they follow."""
        evs = [gen_events.return_event(p, "return.requested", utc(now + 0.5))
               for p in self.orders("return_first")]
        return self._keep(evs)

    def phase_deliveries(self, now):
        """Deliveries stamped now (a few long ago, as after a backlog), and
        delay reports that arrive after the delivery."""
        evs = []
        for p in self.delivered_orders():
            g = self.group[self.key(p)]
            sid = "shp_%s" % str(p["order"]["id"])[-10:]
            t = now - 30 if g == "backlog" else now
            evs.append(gen_events.shipment(p, "shipment.delivered", utc(t), sid, None))
            promised = p["order"]["promised_delivery_date"]
            if g == "late_delay":
                # The carrier's delay report from before the delivery,
                # delivered to us late: the customer was owed it.
                evs.append(gen_events.shipment(p, "shipment.delayed", utc(t - 60), sid,
                                               add_days(promised, 4)))
            elif g == "delay_after_delivery":
                # A delay reported after the parcel arrived means nothing.
                evs.append(gen_events.shipment(p, "shipment.delayed", utc(t + 0.01), sid,
                                               add_days(promised, 5)))
            elif g == "redelivered":
                # The platform sends the delivery again with a new event id.
                again = json.loads(json.dumps(evs[-1]))
                again["event_id"] += "-again"
                evs.append(again)
        return self._keep(evs)

    def phase_after_delivery(self, now):
        """What customers do after the parcel arrived, sent right away but
        stamped with when it happens: returns before the review is due,
        returns between the review and the referral, feedback."""
        evs = []
        for p in self.orders("return_early"):
            evs.append(gen_events.return_event(p, "return.requested", utc(now + 1)))
            if self.rng.random() < 0.5:
                evs.append(gen_events.return_event(p, "return.received", utc(now + 1.5)))
                evs.append(gen_events.return_event(p, "return.refunded", utc(now + 2),
                                                   refund="19.90"))
        for p in self.orders("return_between"):
            review = settings_of(p["store"]["id"], self.cfg)["review_delay"]
            evs.append(gen_events.return_event(p, "return.requested", utc(now + review + 1)))
        for p in self.orders("unhappy"):
            evs.append(gen_events.feedback(p, utc(now + 1), self.rng.choice([1, 2, 3])))
        for p in self.orders("happy"):
            evs.append(gen_events.feedback(p, utc(now + 1), self.rng.choice([4, 5]),
                                           comment="Lovely, thank you"))
        return self._keep(evs)


def topic_of(ev):
    t = ev["type"]
    return "orders" if t.startswith(("order.", "feedback.")) else t.split(".")[0] + "s"


def produce(st, evs, dup_rate, seed):
    """Produces events to their topics with verbatim duplicates mixed in."""
    by_topic = collections.defaultdict(list)
    for ev in evs:
        by_topic[topic_of(ev)].append(gen_events.encode(ev))
    n = 0
    for topic, lines in by_topic.items():
        n += st.produce(topic, gen_events.with_duplicates(lines, dup_rate, seed))
    return n


WATERMARK_GROUPS = (("orders", "order-worker"), ("shipments", "shipment-worker"),
                    ("returns", "return-worker"))


def parse_ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


class JourneyTest(unittest.TestCase):
    maxDiff = 4000

    def start_fleet(self, st, replicas, env):
        procs = []
        for name in EVENT_WORKERS + ("notify-worker",):
            for r in range(replicas):
                over = dict(KAFKA_TUNING)
                over.update(env)
                over["KAFKA_GROUP"] = "journey-" + name
                # Scheduled messages wait for these groups to have read
                # their topics up to the due time (event-time watermarks).
                over["WATERMARK_TOPICS"] = ",".join(
                    "%s:journey-%s" % (t, w) for t, w in WATERMARK_GROUPS)
                if name == "notify-worker":
                    over.update({"CLAIM_TTL": "5s", "HTTP_TIMEOUT": "2s"})
                procs.append(st.start_worker(name, over, replica_id=r, wait=False))
        for p in procs:
            st.wait_ready(p, 60)
        return procs

    def wait_for(self, st, expected, what, timeout=120):
        want = set(expected)

        def arrived():
            got = {m["id"] for m in st.sink_messages()}
            extra = got - want
            if extra:
                return True  # fail fast below
            return want <= got
        st.wait_until(arrived, timeout, "%d messages (%s) at the sink" % (len(want), what),
                      interval=0.25)
        got = {m["id"]: m for m in st.sink_messages()}
        self.assertFalse(set(got) - want, "messages the rules do not call for (%s): %s" % (
            what, sorted((got[i]["kind"], got[i]["order_id"]) for i in set(got) - want)[:10]))

    def check_messages(self, st, expected, events):
        messages = st.sink_messages()
        stats = st.sink_stats()
        got = collections.Counter(m["id"] for m in messages)
        self.assertEqual(max(got.values()), 1, "every message delivered once")
        by_id = {m["id"]: m for m in messages}
        missing = set(expected) - set(by_id)
        extra = set(by_id) - set(expected)
        self.assertFalse(missing, "messages the rules call for that never came: %s" % sorted(
            (expected[i][0], expected[i][2]["order"]["id"]) for i in missing)[:10])
        self.assertFalse(extra, "messages the rules do not call for: %s" % sorted(
            (by_id[i]["kind"], by_id[i]["order_id"]) for i in extra)[:10])
        self.assertEqual(stats["delivered"], len(expected))
        lateness = []
        for mid, (kind, due, ev) in expected.items():
            m = by_id[mid]
            where = "%s for order %s" % (kind, ev["order"]["id"])
            self.assertEqual(m["kind"], kind, where)
            self.assertEqual(str(m["order_id"]), str(ev["order"]["id"]), where)
            self.assertEqual(str(m["customer_id"]), str(ev["customer"]["id"]), where)
            self.assertNotIn("{{", m["text"], where)
            if kind in ("shipping_update", "delay_notice") and ev.get("shipment", {}).get(
                    "tracking_url"):
                self.assertIn(ev["shipment"]["tracking_url"], m["text"], where)
            if kind == "return_confirmation":
                self.assertIn(ev["return"]["label_url"], m["text"], where)
            if due is not None:
                # Never early; how late is reported, not asserted.
                self.assertIn("due_at", m, where)
                self.assertAlmostEqual(parse_ts(m["due_at"]), due, delta=0.002, msg=where)
                received = parse_ts(m["_received_at"])
                self.assertGreaterEqual(received + 0.001, due, "%s came early" % where)
                if due > self.produced_at:
                    lateness.append(received - due)
        return stats, lateness

    def test_full_journey_two_replicas(self):
        sc = Scenario(300, SEED, CONFIG)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump({"stores": CONFIG["stores"]}, f)
            settings_path = f.name
        self.addCleanup(os.unlink, settings_path)
        env = {"REVIEW_REQUEST_DELAY": "%gs" % CONFIG["review"],
               "REFERRAL_DELAY": "%gs" % CONFIG["referral"], "STORE_SETTINGS": settings_path,
               "FIRE_LEASE": "5s"}
        with Stack(partitions=PARTITIONS) as st:
            procs = self.start_fleet(st, 2, env)
            n = produce(st, sc.placed + sc.phase_orders(), 0.2, SEED)
            self.wait_for(st, expected_messages(sc.all_events, sc.cfg), "orders")
            n += produce(st, sc.phase_transit(), 0.2, SEED + 1)
            self.wait_for(st, expected_messages(sc.all_events, sc.cfg), "shipments in transit")
            now = time.time()
            n += produce(st, sc.phase_return_first(now), 0.2, SEED + 2)
            self.wait_for(st, expected_messages(sc.all_events, sc.cfg), "returns before delivery")
            now = time.time()
            self.produced_at = now
            n += produce(st, sc.phase_deliveries(now), 0.2, SEED + 3)
            n += produce(st, sc.phase_after_delivery(now), 0.2, SEED + 4)
            expected = expected_messages(sc.all_events, sc.cfg)
            self.wait_for(st, expected, "the whole journey", timeout=180)
            # Nothing more may come: wait out the longest delay again.
            time.sleep(max(0.5, CONFIG["referral"] + 2 - (time.time() - now)))
            stats, lateness = self.check_messages(st, expected, sc.all_events)

            kinds = collections.Counter(k for k, _, _ in expected.values())
            groups = collections.Counter(sc.group.values())
            print("\norders: %d in groups %s" % (len(sc.placed), dict(sorted(groups.items()))))
            print("events: %d distinct, %d records with duplicates" % (len(sc.all_events), n))
            print("sink: %d delivered (%d replays), by kind %s" % (
                stats["delivered"], stats["replays"], dict(sorted(kinds.items()))))
            lateness.sort()
            if lateness:
                print("scheduled messages after their due time: median %.3fs, max %.3fs "
                      "(%d messages)" % (lateness[len(lateness) // 2], lateness[-1],
                                         len(lateness)))
            # The rules' effects, spelled out for the groups that test them.
            by_kind = collections.defaultdict(set)
            for k, _, ev in expected.values():
                by_kind[k].add(Scenario.key(ev))
            for p in sc.orders("return_early", "return_first", "unhappy"):
                self.assertNotIn(sc.key(p), by_kind["review_request"])
                self.assertNotIn(sc.key(p), by_kind["referral_invite"])
            for p in sc.orders("return_between"):
                self.assertNotIn(sc.key(p), by_kind["referral_invite"])
            self.assertTrue(by_kind["review_request"] & {sc.key(p) for p in
                                                          sc.orders("return_between")})
            self.assertTrue({sc.key(p) for p in sc.orders("late_delay")} <=
                            by_kind["delay_notice"])
            self.assertGreater(kinds["delay_notice"], 20)
            self.assertGreater(kinds["referral_invite"], 10)

            # Metrics: the rules' refusals are counted by reason.
            suppressed = collections.Counter()
            for p in procs:
                if p.name in EVENT_WORKERS:
                    m = st.metrics(p)
                    for labels, v in m.by_label("aftercare_messages_suppressed_total",
                                                "reason").items():
                        suppressed[labels] += v
            print("suppressed by reason: %s" % dict(suppressed))
            self.assertGreater(suppressed["returned"], 0)
            self.assertGreater(suppressed["no_consent"] + suppressed["disabled"], 0)
            self.assertEqual(st.scheduled_pending(), 0,
                             "nothing left scheduled")

    def test_restarts_while_pending(self):
        """Scheduled messages survive SIGKILL of every event worker and of
        Redis (append-only file on); returns produced while they were down
        still cancel; nothing is sent twice."""
        # Long enough for the restarted workers to rejoin their groups (the
        # killed members' sessions must lapse first) before anything is due.
        sc = Scenario(120, SEED + 7, {"review": 20.0, "referral": 26.0, "stores": {}})
        env = {"REVIEW_REQUEST_DELAY": "20s", "REFERRAL_DELAY": "26s", "FIRE_LEASE": "5s"}
        for k in sc.group:
            if sc.group[k] not in ("cancel", "undelivered"):
                sc.group[k] = "return_early" if random.Random(k[1]).random() < 0.25 else "plain"
        with Stack(partitions=PARTITIONS, redis_persistent=True) as st:
            procs = self.start_fleet(st, 1, env)
            # The orders first: a shipment event without the promised date
            # can only be judged late once the order is known (docs/journey.md).
            produce(st, sc.placed + sc.phase_orders(), 0.1, SEED)
            self.wait_for(st, expected_messages(sc.all_events, sc.cfg), "orders")
            produce(st, sc.phase_transit(), 0.1, SEED)
            self.wait_for(st, expected_messages(sc.all_events, sc.cfg), "orders and shipments")
            now = time.time()
            self.produced_at = now
            delivered = sc.phase_deliveries(now)
            produce(st, delivered, 0.1, SEED + 1)
            # Referral invitations are scheduled whatever is known of the
            # consent (it is checked when they fire), so count as if every
            # customer had agreed.
            consenting = json.loads(json.dumps(sc.all_events))
            for ev in consenting:
                ev["customer"]["marketing_consent"] = True
            pending = {k: v for k, v in expected_messages(consenting, sc.cfg).items()
                       if v[1] is not None}
            st.wait_until(lambda: st.scheduled_pending() == len(pending), 30,
                          "%d scheduled messages in Redis" % len(pending), interval=0.2)
            for p in procs:
                if p.name in EVENT_WORKERS:
                    st.kill(p, signal.SIGKILL)
            st.restart_redis(signal.SIGKILL, down_s=0.5)
            self.assertEqual(st.scheduled_pending(), len(pending), "Redis kept every scheduled message")
            # Returns arrive while the event workers are down.
            produce(st, sc.phase_after_delivery(now), 0.1, SEED + 2)
            for p in procs:
                if p.name in EVENT_WORKERS:
                    st.restart(p, wait=False)
            for p in procs:
                st.wait_ready(p, 60)
            expected = expected_messages(sc.all_events, sc.cfg)
            st.wait_until(lambda: sum(1 for m in st.sink_messages()
                                                 if m["kind"] == "return_confirmation"), 60,
                                     "return confirmations after the restart")
            print("\nreturns processed %.1fs after the deliveries" % (time.time() - now))
            self.wait_for(st, expected, "after the restarts", timeout=120)
            time.sleep(max(0.5, 26 + 2 - (time.time() - now)))
            stats, lateness = self.check_messages(st, expected, sc.all_events)
            kinds = collections.Counter(k for k, _, _ in expected.values())
            print("\nrestart scenario: %d orders, %d pending when killed, sink %d delivered "
                  "(%d replays), by kind %s" % (len(sc.placed), len(pending),
                                                 stats["delivered"], stats["replays"],
                                                 dict(sorted(kinds.items()))))
            self.assertGreater(kinds["review_request"], 20)


if __name__ == "__main__":
    unittest.main()
