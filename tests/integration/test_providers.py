"""Provider adapters end to end (common/provider.h, docs/providers.md):
notify-worker sending email through SendGrid's v3 mail send API and SMS
through Twilio's Messages API, both pointed at loopback stand-ins, and
failing over to the store's webhook when the primary provider keeps
failing.

    AC_BIN_DIR=../../build/bin python3 -m unittest -v test_providers
"""

import base64
import collections
import http.server
import json
import os
import subprocess
import threading
import time
import unittest
import urllib.parse
import urllib.request

import gen_events
from stack import Stack, StackError, _die_with_parent, binary, run_worker, wait_until
from test_journey import message_id

SEED = 7373
N_ORDERS = 50
SID = "AC4f2a9c0e17b3d5a8e6c1f0b2d4a7e9c3"
TOKEN = "twilio-auth-token-0123456789"
API_KEY = "SG.test-key.0123456789abcdef"
EMAIL_FROM = "orders@aftercare.example"
EMAIL_FROM_NAME = "Aftercare – Kundenservice"
SMS_FROM = "+15005550006"
SENDGRID_PATH = "/v3/mail/send"
TWILIO_PATH = "/2010-04-01/Accounts/%s/Messages.json" % SID


def channel_of(customer):
    if "@" in (customer.get("email") or ""):
        return "email", customer["email"]
    return "sms", customer["phone"]


def expected_messages(placed):
    """{message id: (channel, address, order event)} for the confirmations."""
    out = {}
    for ev in placed:
        ch, to = channel_of(ev["customer"])
        out[message_id("order_confirmation", ev["store"]["id"], ev["order"]["id"])] = (ch, to, ev)
    return out


def provider_env(sendgrid_base, twilio_base, **extra):
    env = {
        "EMAIL_PROVIDER": "sendgrid", "SMS_PROVIDER": "twilio",
        "SENDGRID_URL": sendgrid_base + SENDGRID_PATH, "SENDGRID_API_KEY": API_KEY,
        "EMAIL_FROM": EMAIL_FROM, "EMAIL_FROM_NAME": EMAIL_FROM_NAME,
        "TWILIO_URL": twilio_base, "TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": TOKEN,
        "SMS_FROM": SMS_FROM,
    }
    env.update(extra)
    return env


def read_log(path):
    """The sink's request log: one dict per accepted POST."""
    try:
        with open(path, encoding="utf-8") as f:
            return [json.loads(l) for l in f if l.strip()]
    except FileNotFoundError:
        return []


class ExtraSink:
    """A second ac-sink, started by the test (the stack runs only one)."""

    def __init__(self, directory, name, args=(), port=0):
        self.dir = directory
        self.name = name
        self.log_path = os.path.join(directory, name + ".requests.log")
        self.port_file = os.path.join(directory, name + ".port")
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        self.stderr = open(os.path.join(directory, name + ".stderr.log"), "ab")
        self.proc = subprocess.Popen(
            [binary("ac-sink"), "--port", str(port), "--port-file", self.port_file,
             "--log", self.log_path] + list(args),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr,
            preexec_fn=_die_with_parent)
        try:
            self.port = wait_until(self._port, 15, "%s's port file" % name)
        except StackError:
            self.stop()
            raise
        self.base = "http://127.0.0.1:%d" % self.port

    def _port(self):
        if self.proc.poll() is not None:
            raise StackError("%s exited with status %s" % (self.name, self.proc.returncode))
        try:
            with open(self.port_file) as f:
                text = f.read().strip()
        except FileNotFoundError:
            return None
        return int(text) if text.isdigit() else None

    def stats(self):
        with urllib.request.urlopen(self.base + "/stats", timeout=5) as r:
            return json.loads(r.read())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


class Recorder(http.server.ThreadingHTTPServer):
    """Answers like the real APIs (SendGrid 202 with no body, Twilio 201
    with a JSON message resource) and records every request with all its
    headers, which ac-sink does not keep."""

    daemon_threads = True

    def __init__(self):
        self.requests = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), RecorderHandler)
        self.base = "http://127.0.0.1:%d" % self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()


class RecorderHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.requests.append({"path": self.path, "headers": dict(self.headers.items()),
                                         "body": body})
        if self.path == SENDGRID_PATH:
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            answer = json.dumps({"sid": "SM" + "0" * 32, "status": "queued"}).encode()
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    def log_message(self, fmt, *args):
        pass


class ProvidersTest(unittest.TestCase):
    maxDiff = 4000

    def run_orders(self, st, placed, notify_env):
        order = st.start_worker("order-worker", {"KAFKA_GROUP": "prov-orders"}, wait=False)
        notify = st.start_worker("notify-worker", dict(notify_env, KAFKA_GROUP="prov-notify",
                                                       CLAIM_TTL="5s", HTTP_TIMEOUT="2s"),
                                 wait=False)
        st.wait_ready(order)
        st.wait_ready(notify)
        st.produce("orders", [gen_events.encode(e) for e in placed])
        return order, notify

    def check_sendgrid_body(self, body, key, to, ev, where):
        """The SendGrid v3 mail send document for one confirmation."""
        self.assertEqual(set(body), {"personalizations", "from", "subject", "content",
                                     "custom_args"}, where)
        self.assertEqual(body["personalizations"], [{"to": [{"email": to}]}], where)
        self.assertEqual(body["from"], {"email": EMAIL_FROM, "name": EMAIL_FROM_NAME}, where)
        self.assertIn(str(ev["order"]["number"]), body["subject"], where)
        types = [c["type"] for c in body["content"]]
        self.assertEqual(types, ["text/plain", "text/html"], where)
        text, html = (c["value"] for c in body["content"])
        if ev["customer"].get("first_name"):
            self.assertIn(ev["customer"]["first_name"], text, where + ": personal, UTF-8 intact")
        self.assertTrue(html.startswith("<!DOCTYPE html>"), where)
        self.assertEqual(body["custom_args"], {"message_id": key}, where)

    def check_twilio_body(self, raw, to, ev, where):
        """The form-encoded Twilio Messages request for one confirmation."""
        self.assertNotIn(" ", raw, where + ": spaces are encoded")
        self.assertTrue(raw.startswith("To=%2B"), where + ": '+' of the number is encoded")
        fields = urllib.parse.parse_qsl(raw, keep_blank_values=True, strict_parsing=True)
        self.assertEqual([k for k, _ in fields], ["To", "From", "Body"], where)
        form = dict(fields)
        self.assertEqual(form["To"], to, where)
        self.assertEqual(form["From"], SMS_FROM, where)
        self.assertIn(str(ev["order"]["number"]), form["Body"], where)
        # Decoding gives back exactly what was encoded, non-ASCII included.
        self.assertEqual(urllib.parse.urlencode(fields), raw, where)

    # ------------------------------------------------------------------

    def test_sendgrid_and_twilio_through_the_sink(self):
        placed = gen_events.orders_placed(N_ORDERS, SEED)
        want = expected_messages(placed)
        n_sms = sum(1 for ch, _, _ in want.values() if ch == "sms")
        self.assertGreater(n_sms, 0, "some customers gave a phone number only")
        with Stack(partitions=2) as st:
            base = "http://127.0.0.1:%d" % st.sink_port
            # No WEBHOOK_URL at all: no channel uses the webhook.
            _, notify = self.run_orders(st, placed, provider_env(base, base + "/",
                                                                  WEBHOOK_URL=None))
            st.wait_until(lambda: st.sink_stats()["delivered"] >= len(want), 120,
                          "%d deliveries at the sink" % len(want), interval=0.25)
            time.sleep(1)  # anything extra would arrive now
            stats = st.sink_stats()
            metrics = st.metrics(notify)
            log = read_log(os.path.join(st.dir, "sink.requests.log"))

            print("\nsink: %s" % stats)
            self.assertEqual(stats["delivered"], len(want))
            self.assertEqual(stats["replays"], 0, "nothing sent twice")
            self.assertEqual(stats["no_key"], 0, "every request had an Idempotency-Key")
            self.assertEqual(len(log), len(want), "one request per message")
            seen = collections.Counter(r["idempotency_key"] for r in log)
            self.assertEqual(set(seen), set(want), "the keys are the message ids")
            self.assertEqual(max(seen.values()), 1)
            for r in log:
                key = r["idempotency_key"]
                ch, to, ev = want[key]
                where = "%s (%s to %s)" % (key, ch, to)
                self.assertEqual(r["headers"], {}, where + ": no webhook headers")
                if ch == "email":
                    self.assertEqual(r["path"], SENDGRID_PATH, where)
                    self.assertIsInstance(r["body"], dict, where)
                    self.check_sendgrid_body(r["body"], key, to, ev, where)
                else:
                    self.assertEqual(r["path"], TWILIO_PATH, where)
                    self.assertIsInstance(r["body"], str, where + ": a form, not JSON")
                    self.check_twilio_body(r["body"], to, ev, where)

            self.assertEqual(metrics.value("aftercare_messages_sent_total", provider="sendgrid",
                                           channel="email"), len(want) - n_sms)
            self.assertEqual(metrics.value("aftercare_messages_sent_total", provider="twilio",
                                           channel="sms"), n_sms)
            self.assertEqual(metrics.value("aftercare_messages_sent_total",
                                           kind="order_confirmation"), len(want))
            self.assertEqual(metrics.value("aftercare_provider_failover_total"), 0)

    def test_auth_headers_and_provider_statuses(self):
        """Basic and Bearer auth, both idempotency headers, and the real
        APIs' answers (202, 201) counted as delivered."""
        placed = gen_events.orders_placed(20, SEED + 1)
        want = expected_messages(placed)
        rec = Recorder()
        self.addCleanup(rec.stop)
        with Stack(partitions=2) as st:
            _, notify = self.run_orders(st, placed, provider_env(rec.base, rec.base))
            st.wait_until(lambda: len(rec.requests) >= len(want), 120,
                          "%d requests at the recorder" % len(want), interval=0.25)
            st.wait_until(lambda: st.metrics(notify).value("aftercare_messages_sent_total")
                          >= len(want), 30, "every message recorded as sent")
            time.sleep(0.5)
            metrics = st.metrics(notify)
            self.assertEqual(len(rec.requests), len(want), "one request per message")
            basic = "Basic " + base64.b64encode(("%s:%s" % (SID, TOKEN)).encode()).decode()
            for r in rec.requests:
                h = {k.lower(): v for k, v in r["headers"].items()}
                key = h.get("idempotency-key")
                self.assertIn(key, want)
                ch, to, ev = want[key]
                where = "%s (%s)" % (key, ch)
                self.assertNotIn("webhook-signature", h, where)
                self.assertNotIn("expect", h, where + ": no 100-continue")
                self.assertTrue(h.get("user-agent", "").startswith("aftercare/"), where)
                if ch == "email":
                    self.assertEqual(r["path"], SENDGRID_PATH, where)
                    self.assertEqual(h.get("authorization"), "Bearer " + API_KEY, where)
                    self.assertEqual(h.get("content-type"), "application/json", where)
                    self.check_sendgrid_body(json.loads(r["body"]), key, to, ev, where)
                else:
                    self.assertEqual(r["path"], TWILIO_PATH, where)
                    self.assertEqual(h.get("authorization"), basic, where)
                    self.assertEqual(h.get("content-type"), "application/x-www-form-urlencoded",
                                     where)
                    self.assertEqual(h.get("i-twilio-idempotency-token"), key, where)
                    self.check_twilio_body(r["body"].decode("ascii"), to, ev, where)
            self.assertEqual(metrics.value("aftercare_messages_sent_total"), len(want))
            self.assertEqual(metrics.value("aftercare_messages_retried_total"), 0,
                             "201 and 202 are deliveries")

    def test_failover_to_the_webhook_and_back(self):
        placed = gen_events.orders_placed(N_ORDERS, SEED + 2)
        want = expected_messages(placed)
        later = gen_events.orders_placed(20, SEED + 3)
        want_later = expected_messages(later)
        self.assertFalse(set(want) & set(want_later))
        cooldown = 2.0
        with Stack(partitions=2) as st:
            down = ExtraSink(st.dir, "down-sink", ["--fail-rate", "1", "--fail-status", "503"])
            self.addCleanup(down.stop)
            env = provider_env(down.base, down.base, EMAIL_FALLBACK="webhook",
                               SMS_FALLBACK="webhook", FAILOVER_AFTER="3",
                               FAILOVER_COOLDOWN="%dms" % (cooldown * 1000), RETRY_BASE="50ms",
                               RETRY_MAX="500ms")
            _, notify = self.run_orders(st, placed, env)

            # ---- the primary answers 503 to everything: all via the webhook
            st.wait_until(lambda: st.sink_stats()["delivered"] >= len(want), 120,
                          "%d deliveries through the fallback" % len(want), interval=0.25)
            time.sleep(0.5)
            stats, messages = st.sink_stats(), st.sink_messages()
            metrics = st.metrics(notify)
            down_stats = down.stats()
            print("\nfallback sink: %s\nfailing primary: %s" % (stats, down_stats))
            self.assertEqual(stats["delivered"], len(want))
            self.assertEqual(stats["replays"], 0)
            ids = [m["id"] for m in messages]
            self.assertEqual(collections.Counter(ids), collections.Counter(set(want)),
                             "every message exactly once")
            for m in messages:
                ch, to, ev = want[m["id"]]
                self.assertEqual(m["_idempotency_key"], m["id"], "same key via the fallback")
                self.assertEqual((m["channel"], m["to"]), (ch, to))
            self.assertEqual(down_stats["delivered"], 0)
            self.assertGreater(down_stats["failed_injected"], 0, "the primary was tried")
            self.assertEqual(metrics.value("aftercare_messages_sent_total", provider="webhook"),
                             len(want))
            self.assertEqual(metrics.value("aftercare_messages_sent_total", provider="sendgrid"),
                             0)
            for ch in ("email", "sms"):
                self.assertGreater(metrics.value("aftercare_provider_failover_total", channel=ch),
                                   0, "failovers of %s" % ch)
            self.assertEqual(metrics.value("aftercare_messages_dead_lettered_total"), 0)

            # ---- the primary recovers: after the cooldown a trial closes
            # the circuit and new messages go to the primary again.
            port = down.port
            down.stop()
            up = None
            for _ in range(50):
                try:
                    up = ExtraSink(st.dir, "up-sink", port=port)
                    break
                except StackError:
                    time.sleep(0.1)  # the port is not free yet
            self.assertIsNotNone(up, "a healthy primary on port %d" % port)
            self.addCleanup(up.stop)
            time.sleep(cooldown + 0.5)
            # One email and one SMS first: each is its channel's trial.
            first = [next(e for e in later if channel_of(e["customer"])[0] == ch)
                     for ch in ("email", "sms")]
            rest = [e for e in later if e not in first]
            st.produce("orders", [gen_events.encode(e) for e in first])
            st.wait_until(lambda: st.metrics(notify).value("aftercare_messages_sent_total")
                          >= len(want) + 2, 60, "the two trials sent", interval=0.25)
            self.assertEqual(up.stats()["delivered"], 2, "the trials went to the primary")
            st.produce("orders", [gen_events.encode(e) for e in rest])
            total = len(want) + len(want_later)
            st.wait_until(lambda: st.metrics(notify).value("aftercare_messages_sent_total")
                          >= total, 120, "%d messages sent in all" % total, interval=0.25)
            time.sleep(0.5)
            up_log = read_log(up.log_path)
            self.assertEqual(st.sink_stats()["delivered"], len(want),
                             "nothing more through the fallback once the primary is back")
            self.assertEqual(collections.Counter(r["idempotency_key"] for r in up_log),
                             collections.Counter(set(want_later)),
                             "every later message once, through the primary")
            for r in up_log:
                ch, to, ev = want_later[r["idempotency_key"]]
                where = "%s (%s) after recovery" % (r["idempotency_key"], ch)
                if ch == "email":
                    self.assertEqual(r["path"], SENDGRID_PATH, where)
                    self.check_sendgrid_body(r["body"], r["idempotency_key"], to, ev, where)
                else:
                    self.assertEqual(r["path"], TWILIO_PATH, where)
                    self.check_twilio_body(r["body"], to, ev, where)
            metrics = st.metrics(notify)
            n_sms_later = sum(1 for ch, _, _ in want_later.values() if ch == "sms")
            self.assertEqual(metrics.value("aftercare_messages_sent_total", provider="webhook"),
                             len(want))
            self.assertEqual(metrics.value("aftercare_messages_sent_total", provider="sendgrid"),
                             len(want_later) - n_sms_later)
            self.assertEqual(metrics.value("aftercare_messages_sent_total", provider="twilio"),
                             n_sms_later)

    def test_provider_settings_exit_2_with_one_line(self):
        base = {"KAFKA_BROKERS": "127.0.0.1:9", "REDIS_URL": "redis://127.0.0.1:6/0",
                "HTTP_PORT": "0", "LOG_LEVEL": "info"}
        hook = {"WEBHOOK_URL": "http://127.0.0.1:9/webhook"}
        sendgrid = {"EMAIL_PROVIDER": "sendgrid", "SENDGRID_API_KEY": API_KEY,
                    "EMAIL_FROM": EMAIL_FROM}
        twilio = {"SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": SID,
                  "TWILIO_AUTH_TOKEN": TOKEN, "SMS_FROM": SMS_FROM}
        def merge(*parts, **more):
            out = {}
            for p in parts + (more,):
                out.update(p)
            return out

        cases = [
            ({}, "WEBHOOK_URL"),
            (dict(sendgrid), "WEBHOOK_URL"),  # SMS still uses the webhook
            (merge(sendgrid, twilio, SMS_FALLBACK="webhook"), "WEBHOOK_URL"),
            (dict(hook, EMAIL_PROVIDER="sendgrid"), "SENDGRID_API_KEY"),
            (dict(hook, EMAIL_PROVIDER="sendgrid", SENDGRID_API_KEY="k"), "EMAIL_FROM"),
            (dict(hook, SMS_PROVIDER="twilio"), "TWILIO_ACCOUNT_SID"),
            (merge(hook, twilio, TWILIO_AUTH_TOKEN=None), "TWILIO_AUTH_TOKEN"),
            (merge(hook, twilio, SMS_FROM=None), "SMS_FROM"),
            (dict(hook, EMAIL_FALLBACK="sendgrid"), "SENDGRID_API_KEY"),
            (dict(hook, EMAIL_PROVIDER="twilio"), "EMAIL_PROVIDER"),
            (dict(hook, SMS_FALLBACK="webhook"), "SMS_FALLBACK"),
            (dict(hook, SENDGRID_URL="sendgrid.example"), "SENDGRID_URL"),
            (dict(hook, TWILIO_AUTH_TOKEN="two words"), "TWILIO_AUTH_TOKEN"),
            (dict(hook, SMS_FROM="0151 1234"), "SMS_FROM"),
            (dict(hook, FAILOVER_AFTER="0"), "FAILOVER_AFTER"),
            (dict(hook, FAILOVER_COOLDOWN="a while"), "FAILOVER_COOLDOWN"),
            # A lease shorter than a request: two processes could send one message.
            (dict(hook, CLAIM_TTL="2s", HTTP_TIMEOUT="2s"), "CLAIM_TTL"),
        ]
        for extra, var in cases:
            env = dict(base)
            env.update({k: v for k, v in extra.items() if v is not None})
            with self.subTest(env=extra):
                r = run_worker("notify-worker", env, timeout=20)
                err = r.stderr.decode("utf-8", "replace")
                self.assertEqual(r.returncode, 2, err)
                self.assertEqual(len(err.splitlines()), 1, err)
                self.assertIn(var, err)
                self.assertNotIn(TOKEN, err, "secrets are not echoed")
                self.assertNotIn("two words", err, "secrets are not echoed")
        r = run_worker("notify-worker", {}, ["--help"])
        out = r.stdout.decode()
        for var in ("EMAIL_PROVIDER", "SMS_PROVIDER", "EMAIL_FALLBACK", "SMS_FALLBACK",
                    "FAILOVER_AFTER", "FAILOVER_COOLDOWN", "SENDGRID_URL", "SENDGRID_API_KEY",
                    "EMAIL_FROM", "EMAIL_FROM_NAME", "TWILIO_URL", "TWILIO_ACCOUNT_SID",
                    "TWILIO_AUTH_TOKEN", "SMS_FROM"):
            self.assertIn(var, out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
