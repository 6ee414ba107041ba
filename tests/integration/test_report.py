"""From events to the retention report: a year of a store's history
through the real workers, then `ac-report --format json`, which must match
the figures this test computes on its own from what it generated.

The history: 1,500 customers ordering again now and then over a year,
deliveries, returns, ratings of every star after the review requests, and
a 30 % holdout of review requests. The workers record the facts as they
go (common/facts.h); the test knows every fact from its generator and
computes each formula of docs/analytics.md directly.

    AC_BIN_DIR=../../build/bin python3 -m unittest -v test_report
"""

import collections
import datetime
import hashlib
import json
import math
import os
import random
import subprocess
import unittest
import zoneinfo

from stack import Stack, binary

STORE = {"id": "st_report", "name": "Report Records", "locale": "en-US",
         "timezone": "America/New_York"}
TZ = zoneinfo.ZoneInfo(STORE["timezone"])
SEED = 1414
N_CUSTOMERS = 1500
HISTORY_FROM = datetime.datetime(2025, 10, 1, tzinfo=datetime.timezone.utc)
HISTORY_TO = datetime.datetime(2026, 10, 15, tzinfo=datetime.timezone.utc)
FROM, TO = datetime.date(2026, 6, 1), datetime.date(2026, 8, 31)
REVIEW_DELAY = datetime.timedelta(days=7)
HOLDOUT_PCT = 30
SUPPORT = "care@report.example"
DAY = datetime.timedelta(days=1)


def ms(t):
    return int(round(t.timestamp() * 1000))


def iso(t):
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def local_midnight(d):
    return datetime.datetime(d.year, d.month, d.day, tzinfo=TZ)


def holdout_slot(store, customer):
    """common/holdout.c, written again: SHA-256 over a label, the store
    id's length (4 bytes, big-endian), the store and the customer."""
    s = store.encode()
    h = hashlib.sha256(b"aftercare-holdout" + len(s).to_bytes(4, "big") + s +
                       customer.encode()).digest()
    return int.from_bytes(h[:8], "big") % 10000


def round1(x):
    """One decimal, half away from zero (ac_report_round1)."""
    return math.copysign(math.floor(abs(x) * 10 + 0.5) / 10, x)


def rate(num, den):
    return None if den == 0 else round1(100.0 * num / den)


class History:
    """Every fact of the generated year, and the events that carry them."""

    def __init__(self, seed):
        rng = random.Random(seed)
        self.orders = []  # dicts: id, customer, placed, delivered, returned, rating
        self.customers = {}
        for i in range(N_CUSTOMERS):
            cid = "cus_%05d" % i
            c = {"id": cid, "first_name": rng.choice(["Ana", "Ben", "Chloé", "Dev", "Eli"]),
                 "locale": "en-US", "timezone": STORE["timezone"], "marketing_consent": True}
            if i % 10 == 9:
                c["phone"] = "+1555%07d" % i
            else:
                c["email"] = "c%05d@example.com" % i
            self.customers[cid] = c
            span = (HISTORY_TO - HISTORY_FROM).total_seconds()
            t = HISTORY_FROM + datetime.timedelta(seconds=rng.uniform(0, span))
            while t < HISTORY_TO:
                self.orders.append(self._order(rng, cid, t))
                if rng.random() < 0.45:
                    break
                t += datetime.timedelta(days=rng.uniform(5, 90), seconds=rng.uniform(0, 86400))
        self.orders.sort(key=lambda o: o["placed"])

    def _order(self, rng, cid, t):
        o = {"id": "ord_%s" % hashlib.sha1(("%s%s" % (cid, t)).encode()).hexdigest()[:16],
             "customer": cid, "placed": t, "delivered": None, "returned": None, "rating": None}
        if rng.random() < 0.7:
            o["delivered"] = t + datetime.timedelta(days=rng.uniform(1.5, 5))
            due = o["delivered"] + REVIEW_DELAY
            if rng.random() < 0.08:
                # After the review request was due: it does not stop it.
                o["returned"] = due + datetime.timedelta(days=rng.uniform(0.5, 10))
            elif rng.random() < 0.45:
                stars = rng.choices([1, 2, 3, 4, 5], weights=[6, 5, 9, 30, 50])[0]
                o["rating"] = (due + datetime.timedelta(days=rng.uniform(0.2, 20)), stars)
        elif rng.random() < 0.05:
            o["returned"] = t + datetime.timedelta(days=rng.uniform(1, 6))
        return o

    def _event(self, o, type_, when, extra=None):
        ev = {"event_id": "evt_" + hashlib.sha1(("%s%s" % (o["id"], type_)).encode()).hexdigest(),
              "type": type_, "occurred_at": iso(when), "store": dict(STORE),
              "order": {"id": o["id"], "number": "RR" + o["id"][-6:], "total": 42.5,
                        "currency": "USD",
                        "items": [{"sku": "RR-LP-1", "name": "Blue Train (LP)",
                                   "category": "Vinyl", "quantity": 1, "price": 42.5}]},
              "customer": dict(self.customers[o["customer"]])}
        ev.update(extra or {})
        return ev

    def events(self):
        """(topic, event) for every fact, in no particular order of time."""
        out = []
        for o in self.orders:
            out.append(("orders", self._event(o, "order.placed", o["placed"])))
            if o["delivered"]:
                out.append(("shipments", self._event(o, "shipment.delivered", o["delivered"], {
                    "shipment": {"id": "shp_" + o["id"][-8:], "carrier": "UPS",
                                 "tracking_number": "1Z" + o["id"][-10:],
                                 "status": "delivered"}})))
            if o["returned"]:
                out.append(("returns", self._event(o, "return.requested", o["returned"], {
                    "return": {"id": "ret_" + o["id"][-8:], "reason": "damaged"}})))
            if o["rating"]:
                when, stars = o["rating"]
                out.append(("orders", self._event(o, "feedback.received", when, {
                    "feedback": {"rating": stars}})))
        return out


def expected(h, FROM=FROM, TO=TO):
    """The report's figures for the period FROM..TO, from the generator's
    facts."""
    lo, hi = ms(local_midnight(FROM)), ms(local_midnight(TO + DAY))
    days = (TO - FROM).days + 1
    plo = ms(local_midnight(FROM - days * DAY))
    in_p = lambda t: lo <= ms(t) < hi
    by_customer = collections.defaultdict(list)
    for o in h.orders:
        if ms(o["placed"]) < hi:
            by_customer[o["customer"]].append(o)
    period = [o for o in h.orders if in_p(o["placed"])]
    customers = {o["customer"] for o in period}
    first = {c: min(ms(o["placed"]) for o in os_) for c, os_ in by_customer.items()}
    new = {c for c in customers if lo <= first[c] < hi}
    prev = {o["customer"] for o in h.orders if plo <= ms(o["placed"]) < lo}
    count = collections.Counter(o["customer"] for o in period)
    repeat = sum(1 for c in customers if count[c] >= 2)
    returned = sum(1 for o in period if o["returned"])
    ratings = [o["rating"] + (o,) for o in h.orders if o["rating"] and in_p(o["rating"][0])]
    stars = collections.Counter(s for _, s, _ in ratings)
    happy = stars[4] + stars[5]

    channel = lambda c: "email" if "email" in h.customers[c] else "sms"
    held = lambda c: holdout_slot(STORE["id"], c) < HOLDOUT_PCT * 100
    sent = collections.defaultdict(collections.Counter)
    suppressed = collections.defaultdict(collections.Counter)
    volume = collections.defaultdict(lambda: [0, 0])
    reviews = []  # (due, order, held)

    def day(t):
        return t.astimezone(TZ).date()

    for o in h.orders:
        if in_p(o["placed"]):
            sent["order_confirmation"][channel(o["customer"])] += 1
            volume[day(o["placed"])][0] += 1
        if o["returned"] and in_p(o["returned"]):
            sent["return_confirmation"][channel(o["customer"])] += 1
            volume[day(o["returned"])][0] += 1
        if o["delivered"]:
            due = o["delivered"] + REVIEW_DELAY
            if in_p(o["delivered"]):
                suppressed["referral_invite"]["disabled"] += 1
                volume[day(o["delivered"])][1] += 1
            if in_p(due):
                reviews.append((due, o, held(o["customer"])))
                if held(o["customer"]):
                    suppressed["review_request"]["holdout"] += 1
                    volume[day(due)][1] += 1
                else:
                    sent["review_request"][channel(o["customer"])] += 1
                    volume[day(due)][0] += 1

        if o["rating"] and o["rating"][1] <= 3 and in_p(o["rating"][0]):
            # A complaint: an apology to the customer, an alert to support.
            sent["feedback_followup"][channel(o["customer"])] += 1
            sent["store_alert"]["email"] += 1
            volume[day(o["rating"][0])][0] += 2

    kinds = ["order_confirmation", "order_cancelled", "shipping_update", "delay_notice",
             "review_request", "referral_invite", "return_confirmation", "refund_notice",
             "feedback_followup", "store_alert"]
    sent_reviews = [(d, o) for d, o, hh in reviews if not hh]
    rated = sum(1 for d, o in sent_reviews
                if o["rating"] and ms(d) <= ms(o["rating"][0]) < ms(d) + 14 * 86400000)

    def group(members):
        """members: customer -> t0 (ms)."""
        rep = sum(1 for c, t0 in members.items()
                  if any(t0 < ms(o["placed"]) < hi for o in by_customer[c]))
        rs = [s for o in h.orders if o["rating"] and o["customer"] in members
              for t, s in [o["rating"]] if members[o["customer"]] <= ms(t) < hi]
        good = sum(1 for s in rs if s >= 4)
        return ({"customers": len(members), "repeat_customers": rep,
                 "repeat_purchase_rate": rate(rep, len(members)), "ratings": len(rs),
                 "csat": rate(good, len(rs))}, (rep, len(members)), (good, len(rs)))

    def uplift(a, b):
        (x1, n1), (x2, n2) = a, b
        if n1 == 0 or n2 == 0:
            return None
        p1, p2 = x1 / n1, x2 / n2
        d = 100.0 * p1 - 100.0 * p2
        half = 1.96 * 100.0 * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
        return {"difference": round1(d), "ci95_low": round1(d - half),
                "ci95_high": round1(d + half)}

    t0s = ({}, {})
    for d, o, hh in sorted(reviews, key=lambda r: r[0]):
        t0s[hh].setdefault(o["customer"], ms(d))
    mg, mrep, mcs = group(t0s[0])
    hg, hrep, hcs = group(t0s[1])
    empty = {"customers": 0, "repeat_customers": 0, "repeat_purchase_rate": None, "ratings": 0,
             "csat": None}

    to_month = TO.year * 12 + TO.month - 1
    cohorts = []
    firsts = collections.defaultdict(set)
    months_of = collections.defaultdict(set)
    for c, os_ in by_customer.items():
        f = datetime.datetime.fromtimestamp(first[c] / 1000, TZ)
        firsts[f.year * 12 + f.month - 1].add(c)
        for o in os_:
            t = o["placed"].astimezone(TZ)
            months_of[c].add(t.year * 12 + t.month - 1)
    label = lambda m: "%04d-%02d" % (m // 12, m % 12 + 1)
    for m in range(min(FROM.year * 12 + FROM.month - 1, to_month - 11), to_month + 1):
        cs = firsts[m]
        cohorts.append({"month": label(m), "customers": len(cs), "returning": [
            {"month": label(k), "customers": sum(1 for c in cs if k in months_of[c]),
             "share": rate(sum(1 for c in cs if k in months_of[c]), len(cs))}
            for k in range(m + 1, to_month + 1)]})

    return {
        "orders": len(period), "customers": len(customers), "new_customers": len(new),
        "previous_customers": len(prev), "repeat_customers": repeat,
        "repeat_purchase_rate": rate(repeat, len(customers)),
        "customer_retention_rate": rate(len(customers) - len(new), len(prev)),
        "returned_orders": returned, "return_rate": rate(returned, len(period)),
        "ratings": {str(s): stars[s] for s in range(1, 6)},
        "csat": rate(happy, len(ratings)),
        "messages": {k: dict(sent[k]) for k in kinds},
        "messages_sent": sum(sum(v.values()) for v in sent.values()),
        "suppressed": {k: dict(suppressed[k]) for k in kinds},
        "review_requests_sent": len(sent_reviews), "review_requests_rated": rated,
        "review_request_response_rate": rate(rated, len(sent_reviews)),
        "volume": [{"date": (FROM + i * DAY).isoformat(), "sent": volume[FROM + i * DAY][0],
                    "suppressed": volume[FROM + i * DAY][1]} for i in range(days)],
        "holdout": {
            "review_request": {"messaged": mg, "held_out": hg,
                               "repeat_purchase_uplift": uplift(mrep, hrep),
                               "csat_uplift": uplift(mcs, hcs)},
            "referral_invite": {"messaged": empty, "held_out": empty,
                                "repeat_purchase_uplift": None, "csat_uplift": None},
            # One product in the catalog: nothing to suggest.
            "cross_sell": {"messaged": empty, "held_out": empty,
                           "repeat_purchase_uplift": None, "csat_uplift": None}},
        "cohorts": cohorts,
    }


class ReportTest(unittest.TestCase):
    maxDiff = None

    def report(self, st, *args):
        env = dict(os.environ, REDIS_URL=st.redis_url)
        r = subprocess.run([binary("ac-report"), "--store", STORE["id"]] + list(args),
                           env=env, capture_output=True, timeout=120)
        return r.returncode, r.stdout.decode(), r.stderr.decode()

    def test_report_matches_the_history(self):
        h = History(SEED)
        events = h.events()
        self.assertGreater(len(h.orders), 2500)
        want = expected(h)
        with Stack(partitions=4) as st:
            settings = os.path.join(st.dir, "stores.json")
            with open(settings, "w") as f:
                json.dump({"stores": {STORE["id"]: {
                    "review_request_delay": "7d", "referral_invites": False,
                    "holdout": {"review_request": HOLDOUT_PCT}, "support": SUPPORT}}}, f)
            # The history has fixed dates, and facts expire their retention
            # after their month by the wall clock (400 days by default): the
            # longest retention keeps 2025's months readable until 2035.
            env = {"STORE_SETTINGS": settings, "WATERMARK_TOPICS": "none",
                   "ANALYTICS_RETENTION": "3650d"}
            workers = [st.start_worker(w, env, wait=False) for w in
                       ("order-worker", "shipment-worker", "return-worker", "notify-worker")]
            for w in workers:
                st.wait_ready(w)
            for topic in ("orders", "shipments", "returns"):
                st.produce(topic, [e for t, e in events if t == topic])
            notify = workers[-1]
            # Every confirmation, review request (sent or held out) and
            # return confirmation reaches notify-worker.
            n_messages = len(h.orders) + sum(1 for o in h.orders if o["delivered"]) + \
                sum(1 for o in h.orders if o["returned"]) + \
                2 * sum(1 for o in h.orders if o["rating"] and o["rating"][1] <= 3)

            def settled():
                m = st.metrics(notify)
                done = (m.value("aftercare_messages_sent_total") +
                        m.value("aftercare_messages_suppressed_total"))
                return done >= n_messages and m.value("aftercare_in_flight") == 0
            st.wait_until(settled, 240, "every message sent or held out", interval=1)

            rc, out, err = self.report(st, "--from", FROM.isoformat(), "--to", TO.isoformat(),
                                       "--format", "json")
            self.assertEqual(rc, 0, err)
            got = json.loads(out)
            for k, v in want.items():
                self.assertEqual(got.get(k), v, k)
            self.assertEqual(got["store"], STORE["id"])
            self.assertEqual(got["timezone"], STORE["timezone"])
            self.assertEqual(got["previous_period"], {"from": "2026-03-01", "to": "2026-05-31"})
            # A period ending mid-month, with orders after it in the same
            # month: they count nowhere, cohorts included.
            mid = expected(h, datetime.date(2026, 7, 1), datetime.date(2026, 7, 15))
            rc, out, err = self.report(st, "--from", "2026-07-01", "--to", "2026-07-15",
                                       "--format", "json")
            self.assertEqual(rc, 0, err)
            got_mid = json.loads(out)
            for k, v in mid.items():
                self.assertEqual(got_mid.get(k), v, "1-15 July: " + k)
            print("\n%d orders, %d customers in the period: repeat %s %%, retention %s %%, "
                  "CSAT %s %%, review uplift %s"
                  % (got["orders"], got["customers"], got["repeat_purchase_rate"],
                     got["customer_retention_rate"], got["csat"],
                     got["holdout"]["review_request"]["repeat_purchase_uplift"]))

            # Each complaint: one apology to the customer, one alert to the
            # store's support address, whatever the period.
            unhappy = {o["id"] for o in h.orders if o["rating"] and o["rating"][1] <= 3}
            got_kinds = collections.defaultdict(collections.Counter)
            for m in st.sink_messages():
                got_kinds[m["kind"]][str(m["order_id"])] += 1
                if m["kind"] == "store_alert":
                    self.assertEqual(m["to"], SUPPORT)
            for kind in ("feedback_followup", "store_alert"):
                self.assertEqual(set(got_kinds[kind]), unhappy, kind)
                self.assertEqual(set(got_kinds[kind].values()), {1}, kind)

            # A held-out customer received no marketing message at all.
            held = {c for c in h.customers if holdout_slot(STORE["id"], c) < HOLDOUT_PCT * 100}
            self.assertTrue(held)
            for m in st.sink_messages():
                if m["kind"] in ("review_request", "referral_invite"):
                    self.assertNotIn(str(m["customer_id"]), held, m["id"])

            # Text and HTML from the same facts; bad flags exit 2 naming them.
            rc, out, err = self.report(st, "--from", FROM.isoformat(), "--to", TO.isoformat())
            self.assertEqual(rc, 0, err)
            self.assertIn(str(want["orders"]), out)
            path = os.path.join(st.dir, "report.html")
            rc, _, err = self.report(st, "--from", FROM.isoformat(), "--to", TO.isoformat(),
                                     "--format", "html", "--out", path)
            self.assertEqual(rc, 0, err)
            with open(path, encoding="utf-8") as f:
                self.assertIn("<svg", f.read())
            for args, word in ((["--from", "2026-02-30", "--to", "2026-03-01"], "--from"),
                               (["--from", "2026-03-01", "--to", "2026-02-01"], "--to"),
                               (["--from", "2026-03-01", "--to", "2026-03-02", "--format", "pdf"],
                                "--format"),
                               (["--from", "2026-03-01"], "--to")):
                rc, out, err = self.report(st, *args)
                self.assertEqual(rc, 2, args)
                self.assertIn(word, err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)

    def test_empty_store(self):
        with Stack(partitions=1) as st:
            rc, out, err = self.report(st, "--from", "2026-01-01", "--to", "2026-01-31",
                                       "--format", "json", "--timezone", "Europe/Berlin")
            self.assertEqual(rc, 0, err)
            got = json.loads(out)
            self.assertEqual(got["orders"], 0)
            self.assertIsNone(got["repeat_purchase_rate"])
            self.assertIsNone(got["csat"])
            self.assertEqual(len(got["volume"]), 31)
            rc, _, err = self.report(st, "--from", "2026-01-01", "--to", "2026-01-31",
                                     "--timezone", "Mars/Olympus")
            self.assertEqual(rc, 2)
            self.assertIn("time zone", err)


if __name__ == "__main__":
    unittest.main()
