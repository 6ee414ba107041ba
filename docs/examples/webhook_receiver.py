#!/usr/bin/env python3
"""A receiver for aftercare's webhooks that verifies their signatures.

aftercare signs every webhook per Standard Webhooks (docs/webhooks.md).
verify() below is all a receiver needs; the rest is a small HTTP server
around it that answers 200 to valid deliveries, 401 to the others, and
treats a repeated webhook-id as already handled.

    python3 webhook_receiver.py --secret whsec_... [--port 8000] [--port-file F]

Only the Python standard library is used.
"""

import argparse
import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_S = 5 * 60  # refuse replays of old (or far-future) deliveries


def verify(secrets, headers, body, now=None):
    """True when one of the webhook-signature's v1 signatures is the
    HMAC-SHA256, under one of the secrets, of "<id>.<timestamp>.<body>".

    secrets: "whsec_<base64>" strings (several while rotating);
    headers: a mapping with webhook-id, webhook-timestamp, webhook-signature;
    body: the raw request body, bytes, exactly as received."""
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not msg_id or not stamp or not signatures:
        return False
    try:
        ts = int(stamp)
    except ValueError:
        return False
    if abs((now if now is not None else time.time()) - ts) > TOLERANCE_S:
        return False
    signed = msg_id.encode() + b"." + stamp.encode() + b"." + body
    for secret in secrets:
        key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for sig in signatures.split():
            version, _, value = sig.partition(",")
            if version == "v1" and hmac.compare_digest(value, expected):
                return True
    return False


class Receiver(BaseHTTPRequestHandler):
    secrets = []
    seen = set()
    stats = {"valid": 0, "invalid": 0, "repeated": 0}
    lock = threading.Lock()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        ok = verify(self.secrets, self.headers, body)
        with self.lock:
            if not ok:
                self.stats["invalid"] += 1
            elif self.headers["webhook-id"] in self.seen:
                self.stats["repeated"] += 1  # a retry of something handled: accept it again
            else:
                self.seen.add(self.headers["webhook-id"])
                self.stats["valid"] += 1
        self.send_response(200 if ok else 401)
        self.end_headers()

    def do_GET(self):
        with self.lock:
            payload = json.dumps(self.stats).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--secret", action="append", required=True, help="whsec_... (repeatable)")
    ap.add_argument("--port", type=int, default=8000)
    ap.add_argument("--port-file", help="write the bound port here once listening")
    args = ap.parse_args()
    Receiver.secrets = args.secret
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Receiver)
    if args.port_file:
        with open(args.port_file, "w") as f:
            f.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
