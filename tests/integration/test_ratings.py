"""One-click rating links on ingest-gateway (common/ingest_rating.c): a
customer's click on a star of a review request, GET /r/{token}, becomes one
feedback.received on `orders`, and a comment posted from the thank-you page
a second one.

The tokens are made here, from the format documented in common/rtoken.h,
independently of the C code. One gateway (RATING_SECRET with a new and an
old secret, as while rotating) serves the tests; each uses order ids of its
own. A second gateway without RATING_SECRET, and one that must refuse a
short secret, are started where needed.

    test_1  a valid link: 200 HTML page with the security headers, one
            feedback.received with the token's fields and the store's
    test_2  three clicks (same and other stars): one event id throughout
    test_3  POST a comment: a second event with the clean comment; an
            empty one produces nothing
    test_4  altered, foreign-secret and expired tokens: 404, 404, 410 and
            nothing produced; the old secret of the rotation still works
    test_5  without RATING_SECRET: 404; a 10-byte secret: exit 2, one line
    test_6  /metrics: aftercare_ratings_received_total for every rating
    test_9  Kafka down: 503 "try again in a minute"

    AC_BIN_DIR=../../build/bin python3 -m unittest -v test_ratings
"""

import base64
import calendar
import hashlib
import hmac
import json
import signal
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import stack
from stack import Stack, record_bytes

TOPICS = ("orders", "shipments", "returns", "notifications", "ingest.dlq")

NEW_SECRET = b"rating-secret-new-5f3c9a1e7b2d"
OLD_SECRET = b"rating-secret-old-0a8e6c4b2f1d"
OTHER_SECRET = b"rating-secret-not-ours-9c7e5a3b"

STORE = "st_alpenglow"
STORE_NAME = "Alpenglow <Outdoor> & \"Co\""
STORES = {
    STORE: {"name": STORE_NAME, "locale": "de-DE", "timezone": "Europe/Berlin"},
}

PRODUCE_TIMEOUT_S = 1

PAGE_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'",
}


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=")


def token(key, order, rating, message=None, customer="cus_ae541ad6", store=STORE,
          expires=None):
    """The token ac_rtoken_sign() writes (common/rtoken.h): "1." +
    base64url(payload) + "." + base64url(first 16 bytes of the HMAC)."""
    expires = int(time.time()) + 14 * 86400 if expires is None else expires
    message = message or "msg_review_request_%s" % order
    payload = bytes([1, rating]) + expires.to_bytes(8, "big")
    for f in (store, order, customer, message):
        f = f.encode("utf-8")
        payload += bytes([len(f)]) + f
    signed = b"1." + b64(payload)
    return (signed + b"." + b64(hmac.new(key, signed, hashlib.sha256).digest()[:16])).decode()


def event_id(message, comment=False):
    data = message.encode("utf-8") + (b"\ncomment" if comment else b"")
    return "evt_rating_" + hashlib.sha256(data).hexdigest()[:32]


class RatingsTest(unittest.TestCase):
    maxDiff = 4000
    failed = False

    @classmethod
    def setUpClass(cls):
        cls.st = Stack(partitions=2, topics=TOPICS, name="ratings")
        cls.st.__enter__()
        try:
            cls.gw = cls.st.start_gateway(STORES, {
                "RATING_SECRET": "%s  %s" % (NEW_SECRET.decode(), OLD_SECRET.decode()),
                "PRODUCE_TIMEOUT": "%ds" % PRODUCE_TIMEOUT_S})
        except BaseException as e:
            cls.st.__exit__(type(e), e, None)
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.failed:
            cls.st.__exit__(AssertionError, AssertionError("a test failed"), None)
        else:
            cls.st.__exit__(None, None, None)

    def run(self, result=None):
        bad = (lambda: len(result.failures) + len(result.errors)) if result else (lambda: 0)
        before = bad()
        out = super().run(result)
        if bad() > before:
            type(self).failed = True  # tearDownClass prints the logs and keeps them
        return out

    # ------------------------------------------------------------ helpers

    def request(self, path, data=None, gw=None, method=None):
        """(status, headers, body text) of a request to the gateway."""
        port = (gw or self.gw).ingest_port
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), data=data,
                                     method=method)
        if data is not None:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers, r.read().decode("utf-8")
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode("utf-8")

    def click(self, tok, lang=None):
        return self.request("/r/%s%s" % (tok, "?lang=" + lang if lang else ""))

    def comment(self, tok, text, lang="en"):
        body = urllib.parse.urlencode({"comment": text}).encode()
        return self.request("/r/%s?lang=%s" % (tok, lang), data=body)

    def events(self, order):
        return [json.loads(record_bytes(r)) for r in self.st.consume("orders")
                if r.get("key") == order]

    def assert_page(self, status, headers, body, want_status):
        self.assertEqual(status, want_status, body)
        for name, value in PAGE_HEADERS.items():
            self.assertEqual(headers.get(name), value, name)
        self.assertTrue(body.startswith("<!DOCTYPE html>"), body[:100])
        self.assertIn('<meta name="viewport"', body)
        for bad in ("<script", "src=", "href=", "http"):
            self.assertNotIn(bad, body)

    # -------------------------------------------------------------- tests

    def test_1_valid_link_produces_one_event(self):
        order, msg = "ord_r1", "msg_review_request_ord_r1"
        status, headers, body = self.click(token(NEW_SECRET, order, 4, msg))
        self.assert_page(status, headers, body, 200)
        # No lang: the store's locale (de-DE); its name escaped.
        self.assertIn('<html lang="de">', body)
        self.assertIn("Vielen Dank", body)
        self.assertIn("Alpenglow &lt;Outdoor&gt; &amp; &quot;Co&quot;", body)
        self.assertNotIn("<textarea", body, "no form for 4 stars")
        evs = self.events(order)
        self.assertEqual(len(evs), 1, evs)
        ev = evs[0]
        self.assertEqual(ev["event_id"], event_id(msg))
        self.assertEqual(ev["type"], "feedback.received")
        self.assertRegex(ev["occurred_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        at = calendar.timegm(time.strptime(ev["occurred_at"][:19], "%Y-%m-%dT%H:%M:%S"))
        self.assertLess(abs(time.time() - at), 60)
        self.assertEqual(ev["store"], {"id": STORE, "name": STORE_NAME, "locale": "de-DE",
                                       "timezone": "Europe/Berlin"})
        self.assertEqual(ev["order"], {"id": order})
        self.assertEqual(ev["customer"], {"id": "cus_ae541ad6"})
        self.assertEqual(ev["feedback"], {"rating": 4, "message_id": msg,
                                          "source": "rating_link"})

    def test_2_repeated_clicks_same_event_id(self):
        order, msg = "ord_r2", "msg_review_request_ord_r2"
        for rating in (2, 2, 5):
            status, _, body = self.click(token(NEW_SECRET, order, rating, msg), lang="en")
            self.assertEqual(status, 200, body)
            self.assertIn('<html lang="en">', body)
            # The form asks what went wrong for 1 to 3 stars only.
            self.assertEqual("<textarea" in body, rating <= 3, rating)
        evs = self.events(order)
        self.assertEqual(len(evs), 3, evs)
        self.assertEqual({e["event_id"] for e in evs}, {event_id(msg)})
        self.assertEqual([e["feedback"]["rating"] for e in evs], [2, 2, 5])

    def test_3_comment_is_a_second_event(self):
        order, msg = "ord_r3", "msg_review_request_ord_r3"
        tok = token(NEW_SECRET, order, 1, msg)
        status, _, body = self.click(tok, lang="en")
        self.assertEqual(status, 200, body)
        self.assertIn('<form method="post" accept-charset="utf-8" action="%s?lang=en">' % tok,
                      body)
        text = "  Arrived broken,\r\nbox crushed \u2639\x07 "
        status, headers, body = self.comment(tok, text)
        self.assert_page(status, headers, body, 200)
        self.assertIn("will get back to you", body)
        evs = self.events(order)
        self.assertEqual(len(evs), 2, evs)
        first, second = evs
        self.assertEqual(first["event_id"], event_id(msg))
        self.assertNotIn("comment", first["feedback"])
        self.assertEqual(second["event_id"], event_id(msg, comment=True))
        self.assertEqual(second["feedback"], {"rating": 1, "message_id": msg,
                                              "source": "rating_link",
                                              "comment": "Arrived broken,\nbox crushed \u2639"})
        self.assertEqual(second["order"], {"id": order})
        # An empty comment: the thank-you page, nothing produced.
        status, _, body = self.comment(tok, " \r\n ")
        self.assertEqual(status, 200, body)
        self.assertEqual(len(self.events(order)), 2)

    def test_4_refused_tokens_produce_nothing(self):
        order = "ord_r4"
        good = token(NEW_SECRET, order, 5)
        # One character changed, in the payload and in the MAC.
        for i in (10, len(good) - 3):
            altered = good[:i] + ("A" if good[i] != "A" else "B") + good[i + 1:]
            status, headers, body = self.click(altered, lang="en")
            self.assert_page(status, headers, body, 404)
            self.assertIn("This link is no longer valid.", body)
            self.assertNotIn("Alpenglow", body, "a forged link shows no store")
        status, _, body = self.click(token(OTHER_SECRET, order, 5), lang="de")
        self.assertEqual(status, 404, body)
        self.assertIn("Dieser Link ist nicht mehr gültig.", body)
        status, _, body = self.request("/r/not-a-token")
        self.assertEqual(status, 404, body)
        expired = token(NEW_SECRET, order, 5, expires=int(time.time()) - 5)
        status, headers, body = self.click(expired, lang="en")
        self.assert_page(status, headers, body, 410)
        self.assertIn("expired", body)
        status, _, body = self.comment(expired, "too late")
        self.assertEqual(status, 410, body)
        status, _, body = self.comment(token(OTHER_SECRET, order, 1), "forged")
        self.assertEqual(status, 404, body)
        self.assertEqual(self.events(order), [], "nothing produced")
        # Rotation: the old secret still verifies.
        status, _, body = self.click(token(OLD_SECRET, order, 3))
        self.assertEqual(status, 200, body)
        self.assertEqual(len(self.events(order)), 1)
        # Other methods, and GET anywhere else, are still refused.
        self.assertEqual(self.request("/r/" + good, method="PUT")[0], 405)
        self.assertEqual(self.request("/webhooks/shopify")[0], 405)
        self.assertEqual(self.request("/events/" + STORE)[0], 405)

    def test_5_not_set_up_and_short_secret(self):
        gw = self.st.start_gateway(STORES, {"RATING_SECRET": None}, replica_id=1)
        try:
            status, _, body = self.request("/r/" + token(NEW_SECRET, "ord_r5", 5), gw=gw)
            self.assertEqual(status, 404)
            self.assertIn("rating links are not set up", body)
        finally:
            self.st.kill(gw, signal.SIGTERM)
        env = self.st.worker_env("ingest-gateway", {
            "STORE_SETTINGS": self.st.dir + "/gateway-stores-0.json",
            "RATING_SECRET": "%s 0123456789" % NEW_SECRET.decode()})
        r = stack.run_worker("ingest-gateway", env)
        err = r.stderr.decode("utf-8", "replace")
        self.assertEqual(r.returncode, 2, err)
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, err)
        self.assertIn("RATING_SECRET", lines[0])
        self.assertNotIn(NEW_SECRET.decode(), err)
        self.assertNotIn("0123456789", err)

    def test_6_metrics(self):
        m = self.st.metrics(self.gw)
        ratings = m.by_label("aftercare_ratings_received_total", "rating")
        self.assertEqual(set(ratings), {"1", "2", "3", "4", "5"}, ratings)
        # test_1 to test_4 clicked 4, 2, 2, 5, 1 and 3 stars.
        self.assertGreaterEqual(ratings["2"], 2)
        self.assertGreaterEqual(ratings["4"], 1)
        req = "aftercare_ingest_requests_total"
        for result in ("ok", "invalid", "expired"):
            self.assertGreater(m.value(req, platform="rating", result=result), 0, result)
        self.assertGreaterEqual(m.value(req, platform="rating", topic="comment", result="ok"), 1)
        text = self.st._get(self.gw.http_port, "/metrics").decode()
        for secret in (NEW_SECRET, OLD_SECRET):
            self.assertNotIn(secret.decode(), text)
        for p in self.st.procs:
            if p.name == "ingest-gateway":
                with open(p.stderr_path, encoding="utf-8", errors="replace") as f:
                    log = f.read()
                self.assertNotIn(NEW_SECRET.decode(), log)
                self.assertNotIn(OLD_SECRET.decode(), log)

    def test_9_kafka_down_503(self):
        self.st.broker_signal(signal.SIGUSR1)
        try:
            t0 = time.monotonic()
            status, headers, body = self.click(token(NEW_SECRET, "ord_r9", 5), lang="en")
            self.assert_page(status, headers, body, 503)
            self.assertIn("try again in a minute", body)
            self.assertLess(time.monotonic() - t0, PRODUCE_TIMEOUT_S + 3)
            m = self.st.metrics(self.gw)
            self.assertGreaterEqual(m.value("aftercare_ingest_requests_total", platform="rating",
                                            result="unavailable"), 1)
        finally:
            self.st.broker_signal(signal.SIGUSR2)


if __name__ == "__main__":
    unittest.main()
