"""Clients that sign and send webhooks the way the store platforms do, for
the ingest gateway's tests and the demo.

    shopify(port, domain, secret, topic, body)      X-Shopify-Hmac-Sha256
    woocommerce(port, store, secret, topic, body)   X-WC-Webhook-Signature
    bigcommerce(port, store, shared, body)          X-Aftercare-Webhook-Secret
    events(port, store, whsec, body)                Standard Webhooks

Each returns (status, text). body may be bytes, str or a JSON-able object.
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import time
import uuid

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
