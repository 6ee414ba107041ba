"""Customers' preferences in notify-worker (common/prefs.h): opt-outs
recorded with ac-prefs, the marketing frequency cap, and quiet hours that
defer a review request to the end of the customer's night instead of
dropping it. Transactional messages go out regardless.

    AC_BIN_DIR=../../build/bin python3 -m unittest -v test_preferences
"""

import collections
import datetime
import json
import subprocess
import time
import unittest

import gen_events
from stack import Stack, binary
from test_journey import message_id

SEED = 5151


def record(kind, ev, due=None):
    """A notification record as the event workers produce it."""
    rec = {"v": 1, "id": message_id(kind, ev["store"]["id"], ev["order"]["id"]), "kind": kind,
           "created_at": ev["occurred_at"], "event": ev}
    if due:
        rec["due_at"] = due
    return rec


def delivered(placed):
    now = datetime.datetime.now(datetime.timezone.utc)
    return gen_events.shipment(placed, "shipment.delivered", now, None, None)


def customer_key(ev):
    return (ev["store"]["id"], str(ev["customer"]["id"]))


class PreferencesTest(unittest.TestCase):
    maxDiff = 4000

    def prefs(self, st, ev, *args):
        r = subprocess.run([binary("ac-prefs"), "--redis", st.redis_url, "--store",
                            ev["store"]["id"], "--customer", str(ev["customer"]["id"])]
                           + list(args), capture_output=True, timeout=30)
        return r

    def test_opt_outs_cap_and_quiet_hours(self):
        placed = gen_events.orders_placed(150, SEED)
        by_customer = collections.defaultdict(list)
        for p in placed:
            if "@" in (p["customer"].get("email") or ""):
                by_customer[customer_key(p)].append(p)
        customers = sorted(by_customer.values(), key=len, reverse=True)
        d_orders = customers[0][:4]  # the customer with the most orders
        self.assertEqual(len(d_orders), 4, "one customer has four orders")
        a, b, c, e = (customers[i][0] for i in (1, 2, 3, 4))
        both = [p for p in placed if p["customer"].get("phone") and "@" in
                (p["customer"].get("email") or "") and customer_key(p) not in
                {customer_key(q) for q in (a, b, c, e, d_orders[0])}]
        f = both[0]  # reachable by email and SMS; will prefer SMS

        with Stack(partitions=2) as st:
            # A short session: the restart below rejoins the group in seconds.
            notify = st.start_worker("notify-worker", {
                "MARKETING_CAP": "2", "MARKETING_CAP_WINDOW": "7d",
                "RDKAFKA_SESSION_TIMEOUT_MS": "6000", "RDKAFKA_HEARTBEAT_INTERVAL_MS": "500"})
            # An event worker fires what quiet hours put back in the schedule.
            shipment = st.start_worker("shipment-worker", {"KAFKA_GROUP": "prefs-shipments"})

            # ---- bad arguments: one line, status 2
            r = self.prefs(st, a, "--opt-out", "kind:order_confirmation")
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)

            # ---- opt-outs
            for ev, what in ((a, "marketing"), (b, "channel:email"),
                             (c, "kind:referral_invite")):
                r = self.prefs(st, ev, "--opt-out", what)
                self.assertEqual(r.returncode, 0, r.stderr)
            r = self.prefs(st, c, "--show")
            self.assertIn(b"kind:referral_invite", r.stdout)
            # Opting in again withdraws an opt-out.
            self.assertEqual(self.prefs(st, b, "--opt-out", "channel:sms").returncode, 0)
            self.assertEqual(self.prefs(st, b, "--opt-in", "channel:sms").returncode, 0)
            self.assertNotIn(b"channel:sms", self.prefs(st, b, "--show").stdout)
            self.assertEqual(self.prefs(st, f, "--prefer", "sms").returncode, 0)
            self.assertEqual(self.prefs(st, f, "--prefer", "fax").returncode, 2)

            recs = []
            for ev in (a, b, c):
                d = delivered(ev)
                recs += [record("review_request", d), record("referral_invite", d)]
            recs.append(record("order_confirmation", a))
            recs.append(record("order_confirmation", f))
            d_recs = [record("review_request", delivered(p)) for p in d_orders]
            st.produce("notifications", recs + d_recs, key_field="event.order.id")

            want = {record("order_confirmation", a)["id"],
                    record("order_confirmation", f)["id"],
                    record("review_request", delivered(c))["id"]}
            st.wait_until(lambda: len(st.sink_messages()) >= len(want) + 2, 60,
                          "the messages that may go out", interval=0.2)
            time.sleep(2)  # nothing more may come
            got = {m["id"]: m for m in st.sink_messages()}
            d_ids = {r["id"] for r in d_recs}
            self.assertTrue(want <= set(got), "transactional and allowed messages arrive")
            self.assertEqual(len(set(got) & d_ids), 2, "the cap lets two of four through")
            self.assertEqual(set(got) - want - d_ids, set(), "opted-out messages stay unsent")
            pref = got[record("order_confirmation", f)["id"]]
            self.assertEqual((pref["channel"], pref["to"]), ("sms", f["customer"]["phone"]),
                             "the preferred channel")
            self.assertEqual(got[record("order_confirmation", a)["id"]]["channel"], "email")
            m = st.metrics(notify)
            self.assertEqual(m.value("aftercare_messages_suppressed_total", reason="opted_out"), 5)
            self.assertEqual(m.value("aftercare_messages_suppressed_total",
                                     reason="frequency_cap"), 2)
            # Sent again (a replay): the held-back ones stay held back.
            st.produce("notifications", d_recs, key_field="event.order.id")
            time.sleep(3)
            self.assertEqual(len(st.sink_messages()), len(got))

            # ---- quiet hours: a window around now, in the customer's zone
            now = datetime.datetime.now(datetime.timezone.utc)
            # Long enough for the restarted worker to rejoin its group.
            start, end = now - datetime.timedelta(seconds=60), now + datetime.timedelta(seconds=25)
            window = "%s-%s" % (start.strftime("%H:%M:%S"), end.strftime("%H:%M:%S"))
            st.restart(notify, {"QUIET_HOURS": window, "MARKETING_CAP": "0"})
            e = json.loads(json.dumps(e))
            e["customer"]["timezone"] = "UTC"
            review = record("review_request", delivered(e))
            confirmation = record("order_confirmation", e)
            st.produce("notifications", [review, confirmation], key_field="event.order.id")
            st.wait_until(lambda: any(m["id"] == confirmation["id"] for m in st.sink_messages()),
                          30, "the confirmation, not held by quiet hours", interval=0.2)
            self.assertFalse(any(m["id"] == review["id"] for m in st.sink_messages()))
            st.wait_until(lambda: st.scheduled_pending() == 1, 30,
                          "the review request back in the schedule", interval=0.2)
            self.assertEqual(st.scheduled_due(review["id"]), int(end.timestamp()) * 1000,
                             "deferred to the end of the quiet hours")
            st.wait_until(lambda: any(m["id"] == review["id"] for m in st.sink_messages()),
                          60, "the review request after the quiet hours", interval=0.2)
            arrived = next(m for m in st.sink_messages() if m["id"] == review["id"])
            received = datetime.datetime.fromisoformat(
                arrived["_received_at"].replace("Z", "+00:00"))
            self.assertGreaterEqual(received, end.replace(microsecond=0),
                                    "not before the quiet hours end")
            self.assertEqual(st.metrics(notify).value("aftercare_messages_deferred_total"), 1)
            ids = collections.Counter(m["id"] for m in st.sink_messages())
            self.assertEqual(max(ids.values()), 1, "each message once")
            print("\nquiet hours %s UTC: review request deferred, arrived %s"
                  % (window, arrived["_received_at"]))
            st.kill(shipment)

    def test_links_codes_suggestions_and_template_overrides(self):
        """The store's review and referral links, the customer's referral
        code, a product from a category they bought from (recorded by
        order-worker), and a store's own template."""
        import os
        import re
        import tempfile
        placed = gen_events.orders_placed(40, SEED + 1)
        alp = [p for p in placed if p["store"]["id"] == "st_alpenglow"
               and "@" in (p["customer"].get("email") or "")]
        x, y = alp[0], next(p for p in alp if p["customer"]["id"] != alp[0]["customer"]["id"])
        x["order"]["items"] = [{"sku": "AG-JKT-001", "name": "Regenjacke Gipfelwind",
                                "category": "Jacken", "quantity": 1, "price": "149.00"}]
        y["order"]["items"] = [{"sku": "AG-JKT-014", "name": "Daunenweste Firn",
                                "category": "Jacken", "quantity": 1, "price": "119.95"}]
        tmp = tempfile.mkdtemp(prefix="ac-extras-")
        settings = os.path.join(tmp, "stores.json")
        with open(settings, "w") as f:
            json.dump({"stores": {"st_alpenglow": {
                "review_url": "https://alpenglow.example/review/{{order_id}}",
                "referral_url": "https://alpenglow.example/r/{{referral_code}}",
                "referral_codes": True}}}, f)
        templates = os.path.join(tmp, "templates")
        os.makedirs(os.path.join(templates, "st_brightwater"))
        with open(os.path.join(templates, "st_brightwater",
                               "order_confirmation.email.en.txt"), "w") as f:
            f.write("Subject: Tea is on its way, {{order_number}}\n\nCheers!\n")
        with Stack(partitions=2) as st:
            st.start_worker("order-worker", {"KAFKA_GROUP": "extras-orders"})
            st.start_worker("notify-worker", {"STORE_SETTINGS": settings,
                                              "TEMPLATE_DIR": templates})
            st.produce("orders", [gen_events.encode(e) for e in placed])
            st.wait_until(lambda: len(st.sink_messages()) >= len(placed), 60,
                          "the confirmations", interval=0.2)
            # A store's own template, for its orders in its language only.
            for m in st.sink_messages():
                tea = (m["store_id"] == "st_brightwater" and m["channel"] == "email"
                       and m["locale"] == "en")
                if tea:
                    self.assertTrue(m["subject"].startswith("Tea is on its way"), m["subject"])
                else:
                    self.assertNotIn("Tea is on its way", m.get("subject") or "")
            review = record("review_request", delivered(x))
            referral = record("referral_invite", delivered(x))
            st.produce("notifications", [review, referral], key_field="event.order.id")
            st.wait_until(lambda: {review["id"], referral["id"]}
                          <= {m["id"] for m in st.sink_messages()}, 60,
                          "the review request and the referral invitation", interval=0.2)
            got = {m["id"]: m for m in st.sink_messages()}
            r = got[review["id"]]["text"]
            self.assertIn("https://alpenglow.example/review/%s" % x["order"]["id"], r)
            # A product of a category the customer bought from, that they
            # have not bought (the store's catalog is what its orders sold).
            mine = [p for p in placed if p["store"]["id"] == "st_alpenglow"
                    and p["customer"]["id"] == x["customer"]["id"]]
            cats = {i["category"] for p in mine for i in p["order"]["items"]}
            bought = {i["name"] for p in mine for i in p["order"]["items"]}
            offered = {i["name"] for p in placed if p["store"]["id"] == "st_alpenglow"
                       for i in p["order"]["items"] if i["category"] in cats} - bought
            m = re.search(r"(?:Vielleicht gefällt Ihnen auch: |often enjoy our )(.+?)(?:\.| too)", r)
            self.assertIsNotNone(m, r)
            self.assertIn(m.group(1), offered)
            t = got[referral["id"]]["text"]
            code = re.search(r"https://alpenglow\.example/r/([A-Z2-9]{8})", t)
            self.assertIsNotNone(code, t)
            self.assertIn(code.group(1), t.replace(code.group(0), ""), "the code is spelt out too")
            self.assertIn("<a href=\"https://alpenglow.example/review/",
                          got[review["id"]]["html"])


if __name__ == "__main__":
    unittest.main()
