"""Clients that sign and send webhooks the way the store platforms do, for
the ingest gateway's tests and the demo.

    shopify(port, domain, secret, topic, body)      X-Shopify-Hmac-Sha256
    woocommerce(port, store, secret, topic, body)   X-WC-Webhook-Signature
    bigcommerce(port, store, shared, body)          X-Aftercare-Webhook-Secret
    events(port, store, whsec, body)                Standard Webhooks

Each returns (status, text). body may be bytes, str or a JSON-able object.
BigCommerceAPI stands in for the orders API the gateway fetches from.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "platforms")


def fixture(platform, name):
    with open(os.path.join(FIXTURES, platform, name), "rb") as f:
        return json.loads(f.read())


def _bytes(body):
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def hmac_b64(secret, body):
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def post(port, path, body, headers, timeout=30):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace").strip()
    finally:
        conn.close()


def shopify(port, domain, secret, topic, body, event_id=None, webhook_id=None, hmac_value=None):
    data = _bytes(body)
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Shop-Domain": domain,
        "X-Shopify-Topic": topic,
        "X-Shopify-API-Version": "2024-10",
        "X-Shopify-Webhook-Id": webhook_id or str(uuid.uuid4()),
        "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
        "X-Shopify-Triggered-At": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    sig = hmac_value if hmac_value is not None else hmac_b64(secret, data)
    if sig:
        headers["X-Shopify-Hmac-Sha256"] = sig
    return post(port, "/webhooks/shopify", data, headers)


def woocommerce(port, store, secret, topic, body, signature=None):
    data = _bytes(body)
    resource, event = topic.split(".", 1)
    headers = {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": "https://shop.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": resource,
        "X-WC-Webhook-Event": event,
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
        "X-WC-Webhook-Signature": signature if signature is not None else hmac_b64(secret, data),
    }
    return post(port, "/webhooks/woocommerce/%s" % store, data, headers)


def woocommerce_ping(port, store):
    return post(port, "/webhooks/woocommerce/%s" % store, b"webhook_id=12",
                {"Content-Type": "application/x-www-form-urlencoded"})


def bigcommerce(port, store, shared, body):
    headers = {"Content-Type": "application/json"}
    if shared is not None:
        headers["X-Aftercare-Webhook-Secret"] = shared
    return post(port, "/webhooks/bigcommerce/%s" % store, _bytes(body), headers)


def standard_signature(whsec, msg_id, ts, data):
    key = base64.b64decode(whsec[len("whsec_"):])
    signed = ("%s.%d." % (msg_id, ts)).encode() + data
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def events(port, store, whsec, body, ts=None, msg_id=None, signature=None):
    data = _bytes(body)
    ts = int(time.time()) if ts is None else ts
    msg_id = msg_id or "msg_" + uuid.uuid4().hex
    headers = {
        "Content-Type": "application/json",
        "X-Aftercare-Store": store,
        "webhook-id": msg_id,
        "webhook-timestamp": str(ts),
        "webhook-signature": signature if signature is not None
        else standard_signature(whsec, msg_id, ts, data),
    }
    return post(port, "/events", data, headers)


class BigCommerceAPI:
    """A stand-in for the BigCommerce V2 orders API on 127.0.0.1, in a thread:
    GET /stores/<hash>/v2/orders/<id>, .../products and .../shipments answer
    what add_order() was given (404 for an order it was not), 401 without
    the right X-Auth-Token. Every request is kept in `requests` as
    (path, token). `delay` seconds pass before each answer, as with a slow
    API.

        api = BigCommerceAPI("abc123", "token").start()
        api.add_order(order, products, shipments)
        ... BIGCOMMERCE_API_URL=api.url ...
        api.stop()
    """

    def __init__(self, store_hash, token, delay=0.0):
        self.store_hash, self.token, self.delay = store_hash, token, delay
        self.orders = {}
        self.requests = []
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                token = self.headers.get("X-Auth-Token")
                with api.lock:
                    api.requests.append((self.path, token))
                time.sleep(api.delay)
                status, body = api.answer(self.path, token)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, fmt, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="bigcommerce-api",
                                       daemon=True)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.server.server_address[1]

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def add_order(self, order, products=None, shipments=None):
        with self.lock:
            self.orders[str(order["id"])] = (order, products, shipments)

    def requested(self, order_id):
        """The (path, token) of every request about order_id so far."""
        prefix = "/stores/%s/v2/orders/%s" % (self.store_hash, order_id)
        with self.lock:
            return [(p, t) for p, t in self.requests
                    if p == prefix or p.startswith(prefix + "/")]

    def answer(self, path, token):
        if token != self.token:
            return 401, {"status": 401, "title": "Unauthorized"}
        parts = path.split("?")[0].strip("/").split("/")
        # stores/<hash>/v2/orders/<id>[/products|/shipments]
        if (len(parts) not in (5, 6) or parts[0] != "stores" or parts[1] != self.store_hash
                or parts[2:4] != ["v2", "orders"]):
            return 404, {"status": 404, "title": "Not Found"}
        with self.lock:
            found = self.orders.get(parts[4])
        if not found:
            return 404, {"status": 404, "title": "The requested resource was not found."}
        order, products, shipments = found
        if len(parts) == 5:
            return 200, order
        sub = {"products": products, "shipments": shipments}.get(parts[5])
        if sub is None:
            return 404, {"status": 404, "title": "Not Found"}
        return 200, sub
