"""A customer's one-click rating, end to end: the review request email
carries five signed links (notify-worker), the customer clicks one
(ingest-gateway, GET /r/{token}), and a first rating of 1-3 leads to one
apology to the customer and one alert to the store's support, however
often the links are clicked, whatever comment follows, and with the
order-worker killed between the clicks.

    AC_BIN_DIR=../../build/bin python3 -m unittest -v test_complaints
"""

import collections
import datetime
import json
import os
import re
import signal
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import gen_events
from stack import Stack

SECRET = "complaints-rating-secret-7c1e9a"
SUPPORT = "care@alpenglow.example"


def now_iso(offset_s=0):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=offset_s)
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class ComplaintsTest(unittest.TestCase):
    maxDiff = 4000

    def get(self, url, data=None):
        req = urllib.request.Request(url, data=data)
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8")

    def test_once_per_order_through_clicks_comments_and_a_crash(self):
        placed = gen_events.orders_placed(3, 2718)
        store = placed[0]["store"]
        for ev in placed:
            ev["store"] = dict(store)
            ev["customer"]["email"] = "buyer-%s@example.com" % ev["order"]["id"]
            ev["customer"].pop("phone", None)
            ev["occurred_at"] = now_iso(-60)
        delivered = [gen_events.shipment(p, "shipment.delivered",
                                         datetime.datetime.now(datetime.timezone.utc))
                     for p in placed]
        with Stack(partitions=2) as st:
            settings = os.path.join(st.dir, "stores.json")
            stores = {store["id"]: {"name": store["name"], "locale": store["locale"],
                                    "timezone": store["timezone"], "support": SUPPORT}}
            gw = st.start_gateway(stores, {"RATING_SECRET": SECRET})
            base = "http://127.0.0.1:%d" % gw.ingest_port
            with open(settings, "w") as f:
                json.dump({"stores": stores}, f)
            env = {"STORE_SETTINGS": settings, "WATERMARK_TOPICS": "none",
                   "REVIEW_REQUEST_DELAY": "1s", "REFERRAL_DELAY": "1h"}
            # A killed member's partitions wait out its session: keep it short.
            order = st.start_worker("order-worker", dict(
                env, RDKAFKA_SESSION_TIMEOUT_MS="6000", RDKAFKA_HEARTBEAT_INTERVAL_MS="500"))
            st.start_worker("shipment-worker", env)
            st.start_worker("notify-worker", dict(env, RATING_SECRET=SECRET,
                                                  RATING_BASE_URL=base))
            st.produce("orders", placed)
            st.produce("shipments", delivered)

            # The review requests, each with a link per star.
            def reviews():
                return {str(m["order_id"]): m for m in st.sink_messages()
                        if m["kind"] == "review_request"}
            st.wait_until(lambda: len(reviews()) == 3, 60, "three review requests", interval=0.3)
            links = {}
            for oid, m in reviews().items():
                found = dict(re.findall(r"(★+☆*) (http://\S+)", m["text"]))
                self.assertEqual(len(found), 5, m["text"])
                links[oid] = {s.count("★"): url for s, url in found.items()}
                self.assertIn('href="%s"' % links[oid][1].replace("&", "&amp;"), m["html"])
            a, b, c = (str(p["order"]["id"]) for p in placed)

            # A: one star, three times, the order-worker killed between;
            # then two stars; then two comments.
            self.assertEqual(self.get(links[a][1])[0], 200)
            order.signal(signal.SIGKILL)
            order.wait(10)
            self.assertEqual(self.get(links[a][1])[0], 200)
            st.restart(order)
            self.assertEqual(self.get(links[a][1])[0], 200)
            status, page = self.get(links[a][2])
            self.assertEqual(status, 200)
            self.assertIn("<textarea", page)
            comment = "The strap tore on the first walk."
            for text in (comment, "And the box was wet."):
                status, _ = self.get(links[a][1], urllib.parse.urlencode(
                    {"comment": text}).encode())
                self.assertEqual(status, 200)
            # B: happy first, then an unhappy click: nothing to follow up.
            self.assertEqual(self.get(links[b][5])[0], 200)
            self.assertEqual(self.get(links[b][1])[0], 200)
            # C: two stars, no comment.
            self.assertEqual(self.get(links[c][2])[0], 200)

            def settled():
                got = collections.Counter((m["kind"], str(m["order_id"]))
                                          for m in st.sink_messages())
                return got[("feedback_followup", a)] and got[("store_alert", c)] and \
                    got[("store_alert", a)] >= 2
            st.wait_until(settled, 60, "the follow-ups and alerts", interval=0.3)
            # Whatever might come twice would have come by now.
            time.sleep(3)
            self.assertEqual(st.consume("orders.dlq"), [])
            msgs = st.sink_messages()
            got = collections.Counter((m["kind"], str(m["order_id"])) for m in msgs)
            self.assertEqual(got[("feedback_followup", a)], 1)
            self.assertEqual(got[("feedback_followup", b)], 0)
            self.assertEqual(got[("feedback_followup", c)], 1)
            self.assertEqual(got[("store_alert", a)], 2, "the rating, then its first comment")
            self.assertEqual(got[("store_alert", b)], 0)
            self.assertEqual(got[("store_alert", c)], 1)
            followup_a = next(m for m in msgs
                              if m["kind"] == "feedback_followup" and str(m["order_id"]) == a)
            # Completed from the order's context: the link named ids only.
            self.assertEqual(followup_a["to"], "buyer-%s@example.com" % a)
            self.assertEqual(followup_a["channel"], "email")
            alerts_a = [m for m in msgs
                        if m["kind"] == "store_alert" and str(m["order_id"]) == a]
            self.assertEqual({m["to"] for m in alerts_a}, {SUPPORT})
            self.assertEqual(sum(comment in m["text"] for m in alerts_a), 1)
            self.assertFalse(any("box was wet" in m["text"] for m in alerts_a))
            self.assertTrue(any("1 of 5" in m["text"] for m in alerts_a))


if __name__ == "__main__":
    unittest.main()
