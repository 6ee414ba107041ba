#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets: tests/fuzz/corpus/<target>/.

    tests/fuzz/make_corpus.py          rewrite every corpus/<target>/
    tests/fuzz/make_corpus.py event    only corpus/event/

The seeds are small, meaningful inputs: the event examples of
docs/events.md (one of every type), records of tests/data/sample-events.jsonl,
each reason a record is dead-lettered for, notification records of every
kind, templates and link templates, settings and values of every parser,
the platform webhooks of tests/data/platforms/ (behind the selector byte of
fuzz_webhook.c), signatures of every scheme, store credentials, rating
tokens, bodies of the rating pages' comment form.
The input format of each target is described at the top of its
fuzz_<target>.c. Run it again after changing the formats or the examples;
the files are committed, so that replaying them needs no Python.
"""
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

KINDS = ["order_confirmation", "order_cancelled", "shipping_update", "delay_notice",
         "review_request", "referral_invite", "return_confirmation", "refund_notice"]


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def doc_events():
    """The JSON examples of docs/events.md, by type."""
    text = (ROOT / "docs" / "events.md").read_text(encoding="utf-8")
    events = {}
    for block in re.findall(r"```json\n(.*?)```", text, re.S):
        ev = json.loads(block)
        events.setdefault(ev["type"], ev)
    return events


def sample_records():
    """The records of tests/data/sample-events.jsonl, one of each shape."""
    seen, out = set(), []
    for raw in (ROOT / "tests" / "data" / "sample-events.jsonl").read_bytes().splitlines():
        try:
            ev = json.loads(raw)
            shape = (ev.get("type"), ev.get("store", {}).get("id"),
                     type(ev.get("order", {}).get("id")).__name__)
        except ValueError:
            shape = ("invalid", raw[:20])
        if shape not in seen:
            seen.add(shape)
            out.append(raw)
    return out


def msg_id(kind, store, order, discriminator=""):
    """The id ac_message_id() gives (common/message.c)."""
    parts = [str(p).encode() for p in ["v1", kind, store or "", order or "", discriminator]]
    text = b"".join(b"%d:%s" % (len(p), p) for p in parts)
    return "msg_" + hashlib.sha256(text).hexdigest()[:32]


def event_seeds(events):
    seeds = {}
    for t, ev in events.items():
        seeds["doc-" + t.replace(".", "-")] = dumps(ev)
    for i, raw in enumerate(sample_records()):
        seeds[f"sample-{i:02d}"] = raw
    placed = events["order.placed"]
    base = {"event_id": "evt_1", "type": "order.placed", "occurred_at": "2024-11-04T08:00:13Z",
            "order": {"id": "o1"}, "customer": {"id": "c1"}}
    edge = {
        "minimal": base,
        "numeric-ids": dict(base, order={"id": 5600010431060, "number": 10431},
                            customer={"id": 7381925851}, store={"id": 1042}),
        "id-200-bytes": dict(base, order={"id": "ö" * 100}),
        "id-201-bytes": dict(base, order={"id": "o" * 201}),
        "id-beyond-64-bits": dict(base, order={"id": 18446744073709551616}),
        "unknown-type": dict(base, type="order.fulfilled"),
        "feedback-no-rating": dict(base, type="feedback.received", feedback={"comment": "ok"}),
        "feedback-rating-6": dict(base, type="feedback.received", feedback={"rating": 6}),
        "money-strings": dict(base, order={"id": "o1", "total": "129.80", "currency": "JPY",
                                           "items": [{"name": "A", "price": "1e5"},
                                                     {"name": "B", "price": "-0.5",
                                                      "quantity": -3},
                                                     {"name": "C", "price": 1e300},
                                                     "not an item"]}),
        "leap-second-offset": dict(base, occurred_at="2016-12-31T23:59:60.123456-23:59"),
        "bare-date": dict(base, occurred_at="2024-02-29"),
        "escapes": dict(base, customer={"id": "c1", "first_name": "Zo\u00eb \U0001F9E6 \u0000x",
                                        "email": "a@b"}),
        "wrong-types": dict(base, store=[], order={"id": "o1", "items": {}, "total": True},
                            customer={"id": "c1", "email": 5, "marketing_consent": "yes"},
                            shipment="x", feedback={"rating": 4.5}),
        "nulls": dict(base, store=None, shipment=None, customer={"id": "c1", "email": None}),
    }
    for name, ev in edge.items():
        seeds["edge-" + name] = dumps(ev)
    raw = {
        "empty": b"",
        "not-utf8": dumps(base).replace(b'"c1"', b'"J\xfcrgen"'),
        "overlong-utf8": dumps(base).replace(b'"c1"', b'"\xc0\xaf"'),
        "surrogate-escape": dumps(base).replace(b'"c1"', b'"\\ud800x"'),
        "truncated": dumps(placed)[:60],
        "trailing-data": dumps(base) + b" {}",
        "trailing-space": dumps(base) + b" \r\n\t",
        "not-object-array": b"[" + dumps(base) + b"]",
        "not-object-null": b"null",
        "not-object-number": b"42",
        "missing-event-id": dumps({k: v for k, v in base.items() if k != "event_id"}),
        "missing-order": dumps({k: v for k, v in base.items() if k != "order"}),
        "event-id-number": dumps(dict(base, event_id=42)),
        "occurred-at-text": dumps(dict(base, occurred_at="last Tuesday")),
        "deep-nesting": b'{"x":' + b"[" * 70 + b"]" * 70 + b"}",
        "comment": b"/* c */" + dumps(base),
        "single-quotes": dumps(base).replace(b'"', b"'"),
    }
    for name, data in raw.items():
        seeds["bad-" + name] = data
    # Journeys: records of one order separated by NUL bytes.
    def step(t, at, **extra):
        ev = {"event_id": "evt_" + t + at, "type": t, "occurred_at": at,
              "store": {"id": "st_1", "name": "Nordwind", "locale": "de-DE"},
              "order": {"id": "o1", "number": "1001", "promised_delivery_date": "2024-11-07"},
              "customer": {"id": "c1", "email": "zoe@example.com", "marketing_consent": True}}
        ev.update(extra)
        return dumps(ev)
    ship = {"id": "shp_1", "carrier": "DHL", "estimated_delivery": "2024-11-09"}
    seeds["journey-happy"] = b"\0".join([
        step("order.placed", "2024-11-04T09:00:00Z"),
        step("shipment.shipped", "2024-11-05T09:00:00Z", shipment=ship),
        step("shipment.delayed", "2024-11-06T09:00:00Z", shipment=ship),
        step("shipment.delivered", "2024-11-09T09:00:00Z", shipment={"id": "shp_1"}),
        step("feedback.received", "2024-11-10T09:00:00Z", feedback={"rating": 5})])
    seeds["journey-return"] = b"\0".join([
        step("shipment.delivered", "2024-11-09T09:00:00Z"),
        step("return.requested", "2024-11-10T09:00:00Z", **{"return": {"id": "r1"}}),
        step("return.refunded", "2024-11-12T09:00:00Z",
             **{"return": {"id": "r1", "refund_amount": "89.00"}}),
        step("order.cancelled", "2024-11-03T09:00:00Z")])
    return seeds


def message(kind, ev, created="2024-11-04T08:00:13.000Z", due=None, **extra):
    m = {"v": 1, "id": msg_id(kind, ev.get("store", {}).get("id"), str(ev["order"]["id"])),
         "kind": kind, "created_at": created}
    if due:
        m["due_at"] = due
    m["event"] = ev
    m.update(extra)
    return dumps(m)


# The event each kind of message is decided from.
KIND_EVENT = {
    "order_confirmation": "order.placed", "order_cancelled": "order.cancelled",
    "shipping_update": "shipment.out_for_delivery", "delay_notice": "shipment.delayed",
    "review_request": "shipment.delivered", "referral_invite": "shipment.delivered",
    "return_confirmation": "return.requested", "refund_notice": "return.refunded",
}


def message_seeds(events):
    seeds = {}
    for kind, t in KIND_EVENT.items():
        seeds["kind-" + kind] = message(kind, events[t])
    delivered = events["shipment.delivered"]
    sms = json.loads(json.dumps(events["order.cancelled"]))
    seeds["scheduled-review"] = message("review_request", delivered,
                                        due="2024-11-14T10:00:00.000Z")
    seeds["sms-order-confirmation"] = message("order_confirmation", sms)
    long_names = json.loads(json.dumps(events["shipment.shipped"]))
    long_names["customer"] = {"id": "c1", "phone": "+4915155597971",
                              "first_name": "Maximiliane-Alexandra " * 4}
    long_names["store"]["name"] = "Bergsport & Outdoor Ausrüstung Müller GmbH " * 2
    seeds["sms-shedding-de"] = message("shipping_update", long_names)
    hostile = json.loads(json.dumps(events["shipment.shipped"]))
    hostile["customer"]["first_name"] = "<script>alert(1)</script> https://evil.example"
    hostile["shipment"]["tracking_url"] = "javascript:alert(1)//https://x"
    hostile["order"]["number"] = "\"><img src=x onerror=alert(1)>"
    hostile["store"]["name"] = "A&B 'Shop'"
    seeds["html-hostile"] = message("shipping_update", hostile)
    unreachable = json.loads(json.dumps(events["order.placed"]))
    unreachable["customer"] = {"id": "c1", "email": "no-at-sign"}
    seeds["no-address"] = message("order_confirmation", unreachable)
    m = json.loads(message("order_confirmation", events["order.placed"]))
    for name, change in {
        "bad-id": {"id": "msg_XYZ"}, "no-id": {"id": None},
        "bad-kind": {"kind": "newsletter"}, "no-event": {"event": None},
        "event-invalid": {"event": {"type": "order.placed"}},
        "created-garbage": {"created_at": "yesterday", "due_at": 5},
    }.items():
        bad = dict(m)
        for k, v in change.items():
            if v is None:
                bad.pop(k)
            else:
                bad[k] = v
        seeds["bad-" + name] = dumps(bad)
    seeds["bad-not-json"] = b"msg_" + b"0" * 32
    return seeds


def render_input(ctl, ev, template=b"", review=b"", referral=b"", suggestion=b""):
    return bytes([ctl]) + b"\0".join([ev, template, review, referral, suggestion])


def render_seeds(events):
    seeds = {}
    k = {name: i for i, name in enumerate(KINDS)}
    for kind, t in KIND_EVENT.items():
        seeds["builtin-" + kind] = render_input(k[kind], dumps(events[t]))
    delivered = dumps(events["shipment.delivered"])
    review_email = ("Subject: How is your {{item_summary}}{{^item_summary}}order "
                    "{{order_number}}{{/item_summary}}?\n\n"
                    "{{#first_name}}Hi {{first_name}},{{/first_name}}{{^first_name}}Hello,"
                    "{{/first_name}}\n\n{{#review_url}}Tell us in a minute: "
                    "{{review_url}}{{/review_url}}\n{{#suggestion}}You might like "
                    "{{suggestion}}.{{/suggestion}}\n").encode()
    seeds["override-review-email-en"] = render_input(
        k["review_request"], delivered, review_email,
        b"https://shop.example/review/{{order_id}}?n={{order_number}}&c={{customer_id}}",
        b"", "Wollsocken <Merino> & \"Co\"".encode())
    seeds["override-referral-sms-de-store"] = render_input(
        k["referral_invite"] | 0x08 | 0x10 | 0x20, delivered,
        "{{#first_name}}Hallo {{first_name}}, {{/first_name}}Ihr Code: {{referral_code}} "
        "{{{referral_url}}}{{! comment }}".encode(),
        b"", b"https://shop.example/r/{{referral_code}}")
    seeds["override-shipping-email-html"] = render_input(
        k["shipping_update"], dumps(events["shipment.shipped"]),
        b"Subject: {{{carrier}}} <b>{{tracking_number}}</b>\n\n\n"
        b"{{#tracking_url}}Track: {{tracking_url}}{{/tracking_url}}"
        b"{{^tracking_url}}No link{{/tracking_url}}\n{{#out_for_delivery}}today{{/out_for_delivery}}")
    bad = {
        "unclosed-tag": b"Subject: x\n\nHi {{first_name",
        "unclosed-section": b"Subject: x\n\n{{#first_name}}Hi",
        "stray-close": b"Subject: x\n\n{{/first_name}}",
        "no-subject": b"Hi {{first_name}}",
        "deep": b"Subject: x\n\n" + b"".join(b"{{#a%d}}" % i for i in range(20)) +
                b"".join(b"{{/a%d}}" % i for i in reversed(range(20))),
        "same-name-nesting": b"Subject: {{#a}}{{^a}}{{#a}}x{{/a}}{{/a}}{{/a}}\n\nx",
        "triple-unclosed": b"Subject: x\n\n{{{first_name}}",
        "long-section-name": b"Subject: x\n\n{{#" + b"n" * 70 + b"}}x{{/" + b"n" * 70 + b"}}",
    }
    for name, tpl in bad.items():
        seeds["template-" + name] = render_input(k["order_confirmation"],
                                                 dumps(events["order.placed"]), tpl)
    german = json.loads(json.dumps(events["shipment.delayed"]))
    german["customer"] = {"id": "c1", "phone": "+49 151 55597971", "first_name": "Łukasz",
                          "locale": "de_CH"}
    seeds["sms-delay-de"] = render_input(k["delay_notice"] | 0x80, dumps(german))
    long_number = json.loads(json.dumps(events["order.placed"]))
    long_number["order"]["number"] = "AG-" + "9" * 120
    long_number["order"]["currency"] = "EUR" * 30
    seeds["long-order-number"] = render_input(k["order_confirmation"], dumps(long_number))
    return seeds


def config_seeds():
    seeds = {}

    def settings(mode, env, args=()):
        return mode + b"\0".join([e.encode() for e in env] + [b""] +
                                 [a.encode() for a in args])

    base = ["KAFKA_BROKERS=127.0.0.1:9092"]
    seeds["event-defaults"] = settings(b"e", base)
    seeds["event-all"] = settings(b"e", base + [
        "KAFKA_GROUP=g", "KAFKA_TOPIC=orders", "DLQ_TOPIC=orders.dlq",
        "REDIS_URL=redis://:secret@redis:6380/2", "HTTP_PORT=0", "LOG_LEVEL=debug",
        "DEDUP_TTL=7d", "SHUTDOWN_TIMEOUT=20s", "STALL_TIMEOUT=0", "LOG_MASK=off",
        "NOTIFY_TOPIC=notifications", "MAX_EVENT_BYTES=1048576", "BATCH_SIZE=500",
        "BATCH_WAIT=20ms", "REVIEW_REQUEST_DELAY=10d", "REFERRAL_DELAY=21d",
        "SHIPPING_UPDATES=shipped, out_for_delivery", "JOURNEY_TTL=120d", "HISTORY_TTL=365d",
        "SCHEDULER=yes", "FIRE_INTERVAL=200ms", "FIRE_LEASE=30s",
        "RDKAFKA_SECURITY_PROTOCOL=SASL_SSL", "RDKAFKA_SASL_MECHANISMS=PLAIN",
        "RDKAFKA_ENABLE__IDEMPOTENCE=true", "PATH=/usr/bin"])
    seeds["event-flags"] = settings(b"e", [], [
        "--kafka-brokers", "k:9092", "--batch-size=100", "--log-level=warn",
        "--rdkafka", "client.id=x", "--rdkafka=socket.timeout.ms=1000", "--dedup-ttl", "1h"])
    seeds["event-bad-duration"] = settings(b"e", base + ["BATCH_WAIT=20"])
    seeds["event-bad-bounds"] = settings(b"e", base + ["HTTP_PORT=65536"])
    seeds["event-unknown-flag"] = settings(b"e", base, ["--nope", "x"])
    seeds["event-flag-no-value"] = settings(b"e", base, ["--kafka-group"])
    seeds["event-bad-rdkafka"] = settings(b"e", base + ["RDKAFKA_=x"], ["--rdkafka", "=x"])
    notify = base + ["WEBHOOK_URL=http://127.0.0.1:8099/hook"]
    seeds["notify-webhook"] = settings(b"n", notify + [
        "WEBHOOK_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=",
        "QUIET_HOURS=22:00-07:30", "MARKETING_CAP=0", "CLAIM_TTL=30s"])
    seeds["notify-providers"] = settings(b"n", notify + [
        "EMAIL_PROVIDER=sendgrid", "EMAIL_FALLBACK=webhook", "SMS_PROVIDER=twilio",
        "SMS_FALLBACK=webhook", "SENDGRID_API_KEY=SG.key", "EMAIL_FROM=orders@shop.example",
        "EMAIL_FROM_NAME=Bergladen – Kundenservice", "TWILIO_ACCOUNT_SID=AC123",
        "TWILIO_AUTH_TOKEN=tok", "SMS_FROM=Bergladen", "TWILIO_URL=https://api.twilio.com",
        "FAILOVER_AFTER=3", "FAILOVER_COOLDOWN=1m"])
    seeds["notify-missing-provider-setting"] = settings(b"n", base + ["EMAIL_PROVIDER=sendgrid"])
    seeds["notify-bad-secret"] = settings(b"n", notify + ["WEBHOOK_SECRET=hunter2"])
    seeds["notify-bad-quiet"] = settings(b"n", notify, ["--quiet-hours", "25:00-08:00"])
    values = [
        "500ms", "30s", "15m", "2h", "7d", "0", "0s", "9223372036854775807ms",
        "106751991167d", "106751991168d", "1.5h", "-1s", "2024-11-04T09:01:28.098+01:00",
        "2024-11-04T08:00:13Z", "2016-12-31T23:59:60Z", "0000-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59.999-23:59", "2024-02-30", "redis://127.0.0.1:6379/0",
        "redis://:p@ss:w@rd@host:1/1000000", "redis://host", "redis://h:0", "redis://:@h/",
        "21:00-08:00", "21:00:00-08:00:30", "off", "00:00-24:00", "24:00-00:00", "8:5-9:7",
        "shipped,out_for_delivery", " shipped , out_for_delivery ", "none", "shipped,,",
        "https://hooks.example/a?b=c", "http://:80", "debug", "orders.dlq", "..",
        "webhook", "sendgrid", "twilio", "none", "+15005550006", "Bergladen 2",
        "orders@shop.example", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_====",
        "order_confirmation", "shipment.out_for_delivery",
        "redis://:pw@10.0.0.1:7000,10.0.0.2:7001,node-3/0", "redis://a,b:1,c:65535/2",
        "redis://a,,b", "auto", "on", "off",
    ]
    for i, v in enumerate(values):
        seeds[f"value-{i:02d}"] = b"d" + v.encode()
    stores = {"stores": {
        "st_alpenglow": {"shipping_updates": ["shipped", "out_for_delivery"],
                         "review_request_delay": "10d", "referral_delay": "21d",
                         "review_url": "https://alpenglow.example/review/{{order_id}}",
                         "referral_url": "https://alpenglow.example/r/{{referral_code}}",
                         "referral_codes": True},
        "st_northside": {"referral_invites": False},
        "st_brightwater": {"review_requests": False}}}
    seeds["stores-doc"] = b"s" + dumps(stores)
    seeds["stores-empty"] = b's{"stores":{}}'
    seeds["stores-unknown-setting"] = b's{"stores":{"a":{"colour":"red"}}}'
    seeds["stores-bad-url"] = b's{"stores":{"a":{"review_url":"javascript:{{order_id}}"}}}'
    seeds["stores-bad-delay"] = b's{"stores":{"a":{"referral_delay":"0"}}}'
    seeds["stores-duplicate"] = b's{"stores":{"a":{},"a":{"review_requests":false}}}'
    seeds["stores-not-object"] = b's["stores"]'
    return seeds


# fuzz_webhook.c: the selector byte of each platform and topic.
WEBHOOK_MODES = {
    "orders/create": 0, "orders/paid": 1, "orders/cancelled": 2, "orders/updated": 3,
    "fulfillments/create": 4, "fulfillments/update": 5, "fulfillment_events/create": 6,
    "refunds/create": 7, "returns/request": 8, "returns/close": 9,
    "order.created": 10, "order.updated": 11, "bigc-webhook": 12, "bigc-order": 13,
    "order.restored": 14, "orders/delete": 15,
}
NO_STORE, TRIGGERED, LONG_STORE_ID = 0x10, 0x20, 0x40


def platform_fixture(platform, name):
    return (ROOT / "tests" / "data" / "platforms" / platform / name).read_bytes()


def webhook_seeds():
    seeds = {}
    m = WEBHOOK_MODES
    for topic in ["orders/create", "orders/paid", "orders/cancelled", "orders/updated",
                  "fulfillments/create", "fulfillments/update", "fulfillment_events/create",
                  "refunds/create", "returns/request", "returns/close"]:
        body = platform_fixture("shopify", topic.replace("/", "_") + ".json")
        seeds["shopify-" + topic.replace("/", "-")] = bytes([m[topic]]) + body
    woo = {"order_created_processing": "order.created", "order_updated_cancelled": "order.updated",
           "order_updated_completed_tracking": "order.updated",
           "order_updated_refunded": "order.updated"}
    for name, topic in woo.items():
        seeds["woo-" + name.replace("_", "-")] = bytes([m[topic]]) + platform_fixture(
            "woocommerce", name + ".json")
    seeds["woo-ping"] = bytes([m["order.created"]]) + platform_fixture("woocommerce", "ping.txt")
    for name in ["webhook_order_created", "webhook_order_status_updated",
                 "webhook_shipment_created"]:
        seeds["bigc-" + name.replace("_", "-")] = bytes([m["bigc-webhook"]]) + platform_fixture(
            "bigcommerce", name + ".json")
    products = platform_fixture("bigcommerce", "order_products.json")
    shipments = platform_fixture("bigcommerce", "order_shipments.json")
    for name in ["order", "order_cancelled", "order_refunded"]:
        seeds["bigc-" + name.replace("_", "-")] = bytes([m["bigc-order"]]) + b"\0".join(
            [platform_fixture("bigcommerce", name + ".json"), products, shipments])
    seeds["bigc-order-alone"] = bytes([m["bigc-order"]]) + platform_fixture("bigcommerce",
                                                                            "order.json")

    # What the gateway knows of the delivery.
    create = platform_fixture("shopify", "orders_create.json")
    seeds["shopify-orders-create-no-store"] = bytes([m["orders/create"] | NO_STORE]) + create
    seeds["shopify-orders-create-long-store-id"] = bytes(
        [m["orders/create"] | LONG_STORE_ID | TRIGGERED]) + create
    seeds["shopify-unused-topic"] = bytes([m["orders/delete"]]) + b'{"id":450789469}'
    seeds["woo-order-restored"] = bytes([m["order.restored"] | TRIGGERED]) + platform_fixture(
        "woocommerce", "order_created_processing.json")

    # Small bodies at the edges of what the mappers read.
    long_id = "9" * 200
    guest_id = "9" * 194  # "guest-" and it: the longest customer id (200 bytes)
    edge = {
        "shopify-guest-200-byte-id": ("orders/create", {"id": long_id, "name": "#1"}),
        "shopify-ids-64-bit": ("orders/create", {
            "id": 18446744073709551614, "customer": {"id": 9223372036854775806},
            "line_items": [{"sku": 1, "title": "x", "quantity": 2, "price": 1.5}]}),
        "shopify-cancelled-at": ("orders/updated", {
            "id": 1, "cancelled_at": "2024-11-04T09:01:28-05:00", "total_price": "-0.00"}),
        "shopify-fulfillment-delayed": ("fulfillments/update", {
            "id": 4100000001, "order_id": 1, "shipment_status": "delayed",
            "estimated_delivery_at": "2024-11-09T12:00:00Z", "tracking_numbers": ["1Z"],
            "tracking_urls": ["https://t.example/1Z"]}),
        "shopify-fulfillment-event-picked-up": ("fulfillment_events/create", {
            "fulfillment_id": "4100000001", "order_id": "1", "status": "picked_up",
            "happened_at": "Tue, 05 Mar 2019 21:40:11 +0000"}),
        "shopify-refund-kwd": ("refunds/create", {"refund": {
            "id": 5, "order_id": 1, "transactions": [
                {"kind": "refund", "status": "success", "amount": "1.234", "currency": "KWD"},
                {"kind": "refund", "status": "success", "amount": 999999999999999}]}}),
        "shopify-return-order-id": ("returns/close", {"id": "gid://shopify/Return/1",
                                                      "order_id": 7}),
        "woo-guest-200-byte-id": ("order.created", {"id": guest_id, "status": "processing",
                                                    "customer_id": 0}),
        "woo-negative-refunds": ("order.updated", {
            "id": 9, "status": "refunded", "refunds": [
                {"id": 1, "total": "-10.00"}, {"id": 2, "total": -9223372036854775807},
                {"id": 3, "total": -2.5}]}),
        "woo-tracking-object": ("order.updated", {
            "id": 9, "status": "completed", "date_completed_gmt": "2024-11-04 09:01:28",
            "meta_data": [{"key": "_wc_shipment_tracking_items", "value": {
                "0": {"tracking_id": "a1", "tracking_provider": "DHL",
                      "date_shipped": 1730710888}}}]}),
    }
    for name, (topic, body) in edge.items():
        seeds[name] = bytes([m[topic]]) + dumps(body)
    order = {"id": guest_id, "status_id": 2, "customer_id": 0, "refunded_amount": "1e308",
             "date_created": "Tue, 05 Mar 2019 21:40:11 +0000", "total_inc_tax": 12.5}
    seeds["bigc-edge"] = bytes([m["bigc-order"]]) + b"\0".join(
        [dumps(order), b'[{"name":"x","quantity":1,"price_inc_tax":"NaN"}]',
         b'[{"id":1,"date_created":"x","tracking_number":7}]'])
    seeds["bigc-webhook-string-id"] = bytes([m["bigc-webhook"]]) + dumps(
        {"scope": "store/shipment/created", "data": {"orderId": "1/../2"}})
    return seeds


def hmac_b64(key, body):
    import base64
    import hmac
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest())


SIG_NOW = 1730710888  # fuzz_signature.c's NOW_S


def signature_input(flags, secrets, header, msg_id=b"", ts=b"", body=b""):
    return bytes([flags]) + b"\0".join([secrets, header, msg_id, ts, body])


def signature_seeds():
    import base64
    seeds = {}
    body = platform_fixture("woocommerce", "order_created_processing.json")
    key = b"shpss_5f3c9a7e0b1d4c2a8e6f"
    seeds["hmac-right"] = signature_input(0x00, key + b" wc-secret-2", hmac_b64(key, body),
                                          body=body)
    seeds["hmac-second-secret"] = signature_input(
        0x18, b"old-secret " + key, hmac_b64(key, b"{}"), body=b"{}")
    seeds["hmac-wrong"] = signature_input(0x00, key, b"AAAA" + hmac_b64(key, body)[4:], body=body)
    seeds["hmac-empty-body"] = signature_input(0x00, key, hmac_b64(key, b""))
    seeds["hmac-body-with-nul"] = signature_input(0x30, key, hmac_b64(key, b"a\0b"), body=b"a\0b")
    # Standard Webhooks: the specification's vector (outside fuzz_signature's
    # tolerance), and signatures made at its NOW.
    whsec = b"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    raw_key = base64.b64decode(whsec[6:])
    seeds["standard-spec-vector"] = signature_input(
        0x04, whsec, b"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        b"msg_p5jXN8AQM9LWM0D4loKWxJek", b"1614265330", b'{"test": 2432232314}')
    for name, ts in {"now": SIG_NOW, "edge-past": SIG_NOW - 300, "edge-future": SIG_NOW + 300,
                     "too-old": SIG_NOW - 301}.items():
        msg = b"msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"
        signed = msg + b"." + str(ts).encode() + b"." + body
        sig = b"v1," + hmac_b64(raw_key, signed)
        seeds["standard-" + name] = signature_input(
            0x04, whsec + b" whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ=", b"v1,bm9wZQ== " + sig, msg,
            str(ts).encode(), body)
    seeds["standard-encoded-keys"] = signature_input(0x01, b"k1 key-two-longer-than-16",
                                                     b"v1,x", b"msg_1", str(SIG_NOW).encode(),
                                                     b"{}")
    seeds["standard-bad-secret"] = signature_input(0x04, b"whsec_!!!! whsec_c2hvcnQ=", b"v1,x",
                                                   b"msg_1", b"+1730710888", b"{}")
    seeds["standard-missing"] = signature_input(0x04, whsec, b"", b"", b"", b"{}")
    seeds["shared-right"] = signature_input(0x02, b"hook-secret-1 hook-secret-2",
                                            b"hook-secret-2")
    seeds["shared-wrong"] = signature_input(0x0E, b"hook-secret-1", b"hook-secret-")
    return seeds


CREDS_DIR = "/tmp/aftercare-fuzz-creds"  # fuzz_creds.c's DIR_PATH


def creds_seeds():
    seeds = {}
    doc = {"stores": {"st_acme": {
        "name": "Acme Outdoor", "locale": "en-US", "timezone": "America/New_York",
        "shopify": {"shop_domain": "acme.myshopify.com", "webhook_secret": "shpss_1"},
        "woocommerce": {"webhook_secret": ["wc-old", "wc-new"]},
        "bigcommerce": {"store_hash": "abc123", "api_token": "tok", "webhook_secret": "hook",
                        "client_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"},
        "events": {"webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"
                                     "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ="}}}}
    seeds["doc"] = dumps(doc)
    seeds["sources"] = dumps({"stores": {
        "st_env": {"shopify": {"shop_domain": "Env.MyShopify.com",
                               "webhook_secret_env": "AC_FUZZ_ROTATION"},
                   "bigcommerce": {"store_hash": "h1", "api_token_env": "AC_FUZZ_TOKEN",
                                   "webhook_secret_env": "AC_FUZZ_SECRET"},
                   "events": {"webhook_secret_env": "AC_FUZZ_WHSEC"}},
        "st_file": {"woocommerce": {"webhook_secret_file": CREDS_DIR + "/rotation",
                                    "webhook_secret": "inline-too"},
                    "bigcommerce": {"store_hash": "h2", "api_token_file": CREDS_DIR + "/token",
                                    "client_secret_file": CREDS_DIR + "/whsec"},
                    "events": {"webhook_secret_file": CREDS_DIR + "/whsec"}}}})
    errors = {
        "env-unset": {"shopify": {"shop_domain": "a.myshopify.com",
                                  "webhook_secret_env": "AC_FUZZ_NOT_SET"}},
        "env-empty": {"woocommerce": {"webhook_secret_env": "AC_FUZZ_EMPTY"}},
        "file-missing": {"woocommerce": {"webhook_secret_file": CREDS_DIR + "/missing"}},
        "file-empty": {"woocommerce": {"webhook_secret_file": CREDS_DIR + "/empty"}},
        "events-not-whsec": {"events": {"webhook_secret_env": "AC_FUZZ_SECRET"}},
        "bigc-no-secret": {"bigcommerce": {"store_hash": "h", "api_token_env": "AC_FUZZ_TOKEN"}},
        "bigc-two-tokens": {"bigcommerce": {"store_hash": "h", "api_token_env": "AC_FUZZ_ROTATION",
                                            "webhook_secret": "x"}},
        "bigc-bad-hash": {"bigcommerce": {"store_hash": "a/b", "api_token": "t",
                                          "webhook_secret": "x"}},
        "shop-no-dot": {"shopify": {"shop_domain": "acme", "webhook_secret": "x"}},
        "secret-wrong-type": {"woocommerce": {"webhook_secret": [1, 2]}},
        "secret-number": {"woocommerce": {"webhook_secret": 5}},
        "not-object": [],
        "nul-in-hash": {"bigcommerce": {"store_hash": "abc\u0000/x", "api_token": "t",
                                        "webhook_secret": "x"}},
        "client-not-whsec": {"bigcommerce": {"store_hash": "h", "api_token": "t",
                                             "client_secret": "plain"}},
    }
    for name, store in errors.items():
        seeds["bad-" + name] = dumps({"stores": {"st_x": store}})
    seeds["bad-duplicate-domain"] = dumps({"stores": {
        "a": {"shopify": {"shop_domain": "Same.myshopify.com", "webhook_secret": "1"}},
        "b": {"shopify": {"shop_domain": "same.MYSHOPIFY.com", "webhook_secret": "2"}}}})
    seeds["bad-long-store-id"] = dumps({"stores": {"s" * 201: {}}})
    seeds["store-id-200-bytes"] = dumps({"stores": {"s" * 200: {"name": "x"}}})
    seeds["bad-no-stores"] = b'{"store":{}}'
    seeds["bad-not-json"] = b'{"stores":'
    seeds["empty"] = b'{"stores":{}}'
    return seeds


RTOKEN_NEW = b"rtoken-fuzz-secret-new-0001"  # fuzz_rtoken.c's NEW_KEY
RTOKEN_OLD = b"rtoken-fuzz-secret-old-0000"  # fuzz_rtoken.c's OLD_KEY
RTOKEN_NOW = 1730710888  # fuzz_rtoken.c's NOW_S


def rtoken(key, store, order, customer, message, rating, expires):
    """The token ac_rtoken_sign() writes (common/rtoken.h)."""
    import base64
    import hmac

    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=")
    payload = bytes([1, rating]) + expires.to_bytes(8, "big")
    for f in (store, order, customer, message):
        payload += bytes([len(f)]) + f
    signed = b"1." + b64(payload)
    return signed + b"." + b64(hmac.new(key, signed, hashlib.sha256).digest()[:16])


def rtoken_seeds():
    seeds = {}
    msg = msg_id("review_request", "st_acme", "1001").encode()
    ids = (b"st_acme", b"1001", b"cus_42", msg)
    for r in range(1, 6):
        seeds[f"token-{r}-stars"] = rtoken(RTOKEN_NEW, *ids, r, RTOKEN_NOW + 14 * 86400)
    seeds["token-old-secret"] = rtoken(RTOKEN_OLD, *ids, 4, RTOKEN_NOW + 86400)
    seeds["token-expired"] = rtoken(RTOKEN_NEW, *ids, 5, RTOKEN_NOW)
    seeds["token-last-second"] = rtoken(RTOKEN_NEW, *ids, 5, RTOKEN_NOW + 1)
    awkward = bytes(range(1, 256))
    seeds["token-longest"] = rtoken(RTOKEN_NEW, awkward[:200], (b".\n\xff" * 67)[:200],
                                    awkward[-200:], awkward[:63], 3, 2**63 - 1)
    seeds["token-unknown-secret"] = rtoken(b"rtoken-another-secret-9999", *ids, 5,
                                           RTOKEN_NOW + 86400)
    good = seeds["token-4-stars"]
    seeds["token-cut"] = good[:-3]
    seeds["token-extended"] = good + b"A"
    signed, mac = good.rsplit(b".", 1)
    seeds["token-padded"] = signed + b"==." + mac
    longest = seeds["token-longest"]
    seeds["token-standard-base64"] = longest.replace(b"-", b"+").replace(b"_", b"/")
    # Round trips: \0, ctl (rating ctl % 7, 0x08 the old secret, expiry
    # EXPIRIES[ctl >> 4]), then the ids, NUL-separated.
    for name, ctl, fields in [
            ("roundtrip-4-stars", 0xB4, ids),
            ("roundtrip-old-secret", 0xAD, ids),
            ("roundtrip-expires-now", 0x43, ids),
            ("roundtrip-longest", 0x81, (b"s" * 200, b"o.\n" * 66 + b"oo", b"\xff" * 200,
                                         b"m" * 63)),
            ("roundtrip-id-too-long", 0xB2, (b"s" * 201, b"o", b"c", b"m")),
            ("roundtrip-message-too-long", 0xB2, (b"s", b"o", b"c", b"m" * 64)),
            ("roundtrip-empty-customer", 0xB2, (b"s", b"o", b"", b"m")),
            ("roundtrip-rating-0", 0xB0, ids),
            ("roundtrip-rating-6", 0xB6, ids),
            ("roundtrip-expiry-0", 0x02, ids)]:
        seeds[name] = b"\0" + bytes([ctl]) + b"\0".join(fields)
    return seeds


def ratingform_seeds():
    """Bodies of the comment form of the rating pages, as browsers post
    them (application/x-www-form-urlencoded, UTF-8), and ones no browser
    would send."""
    from urllib.parse import quote_plus
    seeds = {
        "plain": "comment=" + quote_plus("Arrived broken, box crushed."),
        "lines": "comment=" + quote_plus("Too small.\r\nThe colour is off.\r\n\r\nSad."),
        "german": "comment=" + quote_plus("Leider zu groß – schade 👎"),
        "blank": "comment=+%0D%0A%09+",
        "empty": "comment=",
        "no-field": "rating=1&other=x",
        "second-field": "a=1&comm%65nt=first&comment=second",
        "bad-escapes": "comment=100%+sure%2+%zz%",
        "invalid-utf8": "comment=%C3%28%FF%C0%AF%ED%A0%80%F4%90%80%80%E2%82",
        "controls": "comment=a%00b%07c%1B%7Fd%C2%85e",
    }
    seeds = {k: v.encode("utf-8") for k, v in seeds.items()}
    seeds["raw-bytes"] = b"comment=caf\xc3\xa9 \xff\xfe\r\n\x00tail"
    seeds["too-long"] = b"comment=" + b"a" * 1999 + b"%E2%82%AC" + b"+" * 20
    return seeds


def write(target, seeds):
    d = HERE / "corpus" / target
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    for name, data in sorted(seeds.items()):
        (d / name).write_bytes(data)
    print(f"corpus/{target}: {len(seeds)} seeds, {sum(map(len, seeds.values()))} bytes")


def main():
    events = doc_events()
    targets = {
        "event": lambda: event_seeds(events),
        "message": lambda: message_seeds(events),
        "render": lambda: render_seeds(events),
        "config": config_seeds,
        "webhook": webhook_seeds,
        "signature": signature_seeds,
        "creds": creds_seeds,
        "rtoken": rtoken_seeds,
        "ratingform": ratingform_seeds,
    }
    for name in sys.argv[1:] or targets:
        write(name, targets[name]())


if __name__ == "__main__":
    main()
