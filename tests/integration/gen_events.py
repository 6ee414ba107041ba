#!/usr/bin/env python3
"""Deterministic generator of realistic store events (see docs/events.md).

Everything is drawn from a seeded random.Random, so the same arguments
always give the same bytes: tests can regenerate their input instead of
shipping it, and tests/data/sample-events.jsonl can be rebuilt exactly.

    orders_placed(n, seed)             -> list of order.placed events (dicts)
    orders_cancelled(placed, n, seed)  -> order.cancelled events for some of them
    shipment(placed, type, when, ...)  -> a shipment.* event for an order
    return_event(placed, type, when, ...) -> a return.* event for an order
    feedback(placed, when, rating)     -> a feedback.received event for an order
    with_duplicates(items, rate, seed) -> the items plus verbatim re-sends
    malformed(n, seed, max_bytes=None) -> list of Bad(line, reason, kind)
    encode(event)                      -> one JSON line as bytes (no newline)

Command line:
    python3 gen_events.py --orders 300 --duplicates 0.3 --malformed 25 > events.jsonl
    python3 gen_events.py --sample > tests/data/sample-events.jsonl
"""

import argparse
import datetime
import json
import random
import sys
import uuid
from collections import namedtuple
from decimal import ROUND_HALF_UP, Decimal

# --------------------------------------------------------------------------
# The stores and what they sell.

# money: "number" sends amounts as JSON numbers, "string" as decimal strings
# ("129.80"); ids: "string" or "number" (platforms such as Shopify use
# numeric ids). offset: the UTC offset the store's events are stamped with.
STORES = [
    {
        "id": "st_alpenglow",
        "name": "Alpenglow Outdoor",
        "locale": "de-DE",
        "timezone": "Europe/Berlin",
        "currency": "EUR",
        "offset": "+01:00",
        "money": "string",
        "ids": "string",
        "order_prefix": "AG-",
        "email_domains": ["gmx.de", "web.de", "posteo.de", "example.de"],
        "phone_prefix": "+49 151 ",
        "phone_digits": 8,
        "catalog": [
            ("AG-JKT-001", "Regenjacke Gipfelwind", "Jacken", "149.00"),
            ("AG-JKT-014", "Daunenweste Firn", "Jacken", "119.95"),
            ("AG-BOT-220", "Wanderschuh Karwendel", "Schuhe", "169.90"),
            ("AG-SCK-031", "Merino-Wandersocken (2 Paar)", "Socken", "24.95"),
            ("AG-BAG-105", "Tagesrucksack Hüttentour 22 L", "Rucksäcke", "89.00"),
            ("AG-ACC-310", "Stirnlampe Nachtfalter", "Zubehör", "34.50"),
            ("AG-ACC-342", "Thermosflasche 0,75 L", "Zubehör", "27.90"),
            ("AG-CMP-410", "Trekkingstöcke Carbon", "Ausrüstung", "79.00"),
        ],
    },
    {
        "id": "st_brightwater",
        "name": "Brightwater Tea Co.",
        "locale": "en-GB",
        "timezone": "Europe/London",
        "currency": "GBP",
        "offset": "+00:00",
        "money": "number",
        "ids": "number",
        "order_prefix": "#",
        "email_domains": ["gmail.com", "outlook.com", "btinternet.com", "example.co.uk"],
        "phone_prefix": "+44 7700 900",
        "phone_digits": 3,
        "catalog": [
            (40011, "Assam Breakfast, loose leaf 250 g", "Black tea", "8.50"),
            (40027, "Darjeeling First Flush 100 g", "Black tea", "14.00"),
            (40102, "Sencha Kabuse 100 g", "Green tea", "11.75"),
            (40215, "Rooibos Vanilla 150 g", "Herbal", "6.95"),
            (40308, "Cast-iron teapot, 0.8 l", "Teaware", "42.00"),
            (40311, "Porcelain cup & saucer", "Teaware", "18.00"),
            (40400, "Tasting flight gift box", "Gifts", "29.00"),
        ],
    },
    {
        "id": "st_northside",
        "name": "Northside Records",
        "locale": "en-US",
        "timezone": "America/New_York",
        "currency": "USD",
        "offset": "-05:00",
        "money": "number",
        "ids": "string",
        "order_prefix": "NR",
        "email_domains": ["gmail.com", "yahoo.com", "icloud.com", "example.com"],
        "phone_prefix": "+1 212-555-01",
        "phone_digits": 2,
        "catalog": [
            ("NR-LP-1973-DSOTM", "Pink Floyd – The Dark Side of the Moon (LP)", "Vinyl", "27.99"),
            ("NR-LP-1977-RUM", "Fleetwood Mac – Rumours (LP)", "Vinyl", "24.99"),
            ("NR-LP-2016-BLND", "Frank Ocean – Blonde (2LP)", "Vinyl", "44.99"),
            ("NR-CD-1997-OKC", "Radiohead – OK Computer (CD)", "CD", "12.99"),
            ("NR-TT-ATLP60", "Turntable AT-LP60X", "Hardware", "149.00"),
            ("NR-ACC-SLV50", "Inner sleeves, 50 pack", "Accessories", "9.99"),
            ("NR-ACC-BRSH", "Carbon fibre record brush", "Accessories", "14.50"),
        ],
    },
]

# (first name, email-safe spelling, language, surname)
PEOPLE = [
    ("Zoë", "zoe", "en", "Whitfield"),
    ("Jürgen", "juergen", "de", "Müller"),
    ("Siobhán", "siobhan", "en", "O'Connor"),
    ("Łukasz", "lukasz", "en", "Nowak"),
    ("美咲", "misaki", "en", "Tanaka"),
    ("José", "jose", "en", "García"),
    ("Anna", "anna", "de", "Schneider"),
    ("Lena", "lena", "de", "Fischer"),
    ("Maximilian", "max", "de", "Weber"),
    ("Björn", "bjoern", "de", "Hoffmann"),
    ("Oliver", "oliver", "en", "Bennett"),
    ("Amelia", "amelia", "en", "Hughes"),
    ("Priya", "priya", "en", "Raman"),
    ("Chloé", "chloe", "en", "Dubois"),
    ("Mohammed", "mohammed", "en", "Haddad"),
    ("Sophie", "sophie", "de", "Wagner"),
    ("Noah", "noah", "en", "Carter"),
    ("Søren", "soren", "en", "Kjær"),
    ("Ingrid", "ingrid", "de", "Becker"),
    ("Matteo", "matteo", "en", "Rossi"),
]

EPOCH = datetime.datetime(2024, 11, 4, 8, 0, 0, tzinfo=datetime.timezone.utc)

# --------------------------------------------------------------------------
# Building blocks.


def _uuid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _money(amount, store):
    amount = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return str(amount) if store["money"] == "string" else float(amount)


def _rfc3339(when, offset):
    sign = -1 if offset[0] == "-" else 1
    delta = datetime.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])) * sign
    local = when.astimezone(datetime.timezone(delta))
    stamp = local.strftime("%Y-%m-%dT%H:%M:%S") + ".%03d" % (local.microsecond // 1000)
    if offset == "+00:00" and when.second % 2:
        return stamp + "Z"  # both spellings of UTC occur in the wild
    return stamp + offset


class _World:
    """Customers and counters shared by every event drawn from one seed."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.clock = EPOCH
        self.seen_ids = set()
        self.next_number = {s["id"]: 10400 + self.rng.randrange(100) for s in STORES}
        self.customers = {s["id"]: self._customers_for(s) for s in STORES}

    def uid(self):
        while True:
            u = _uuid(self.rng)
            if u not in self.seen_ids:
                self.seen_ids.add(u)
                return u

    def _customers_for(self, store):
        rng = self.rng
        out = []
        people = rng.sample(PEOPLE, 12)
        store_lang = store["locale"][:2]
        for i, (first, ascii_first, lang, last) in enumerate(people):
            ascii_last = (last.replace("ü", "ue").replace("ö", "oe").replace("ä", "ae")
                          .replace("í", "i").replace("æ", "ae").replace("ø", "o")
                          .replace("'", "").replace("é", "e").lower())
            # Customers mostly shop in their own language: the German store's
            # customers are mostly German-speaking, whatever their name; a
            # German speaker now and then orders from an English store.
            if store_lang == "de":
                locale = store["locale"] if lang == "de" or rng.random() < 0.7 else "en-GB"
            elif lang == "de" and rng.random() < 0.4:
                locale = "de-DE"
            else:
                locale = store["locale"]
            cid = ("cus_" + _uuid(rng).split("-")[0]) if store["ids"] == "string" \
                else 7000000000 + rng.randrange(10**9)
            phone = store["phone_prefix"] + "".join(str(rng.randrange(10))
                                                    for _ in range(store["phone_digits"]))
            c = {"id": cid}
            # About one customer in six checks out with a phone number only;
            # a few give both.
            if i % 6 == 5:
                c["phone"] = phone
            else:
                sep = rng.choice([".", "_", ""])
                c["email"] = "%s%s%s%s@%s" % (ascii_first, sep, ascii_last,
                                               rng.choice(["", "", str(rng.randrange(70, 99))]),
                                               rng.choice(store["email_domains"]))
                assert c["email"].isascii()
                if rng.random() < 0.25:
                    c["phone"] = phone
            c["first_name"] = first
            c["locale"] = locale
            c["timezone"] = store["timezone"]
            c["marketing_consent"] = rng.random() < 0.55
            out.append(c)
        return out

    def tick(self, lo=5, hi=400):
        self.clock += datetime.timedelta(seconds=self.rng.randrange(lo, hi),
                                         milliseconds=self.rng.randrange(1000))
        return self.clock

    def order_placed(self, store=None):
        rng = self.rng
        store = store or rng.choice(STORES)
        when = self.tick()
        customer = dict(rng.choice(self.customers[store["id"]]))
        lines = rng.sample(store["catalog"], rng.choices([1, 2, 3, 4], weights=[55, 28, 12, 5])[0])
        items, total = [], Decimal(0)
        for sku, name, category, price in lines:
            qty = rng.choice([1, 1, 1, 1, 2, 2, 3])
            total += Decimal(price) * qty
            items.append({"sku": sku, "name": name, "category": category, "quantity": qty,
                          "price": _money(Decimal(price), store)})
        self.next_number[store["id"]] += 1
        number = "%s%d" % (store["order_prefix"], self.next_number[store["id"]])
        order_id = ("ord_" + self.uid().replace("-", "")[:20]) if store["ids"] == "string" \
            else 5600000000000 + self.next_number[store["id"]] * 1000 + rng.randrange(1000)
        promised = (when + datetime.timedelta(days=rng.randrange(2, 6))).date().isoformat()
        return {
            "event_id": "evt_" + self.uid(),
            "type": "order.placed",
            "occurred_at": _rfc3339(when, store["offset"]),
            "store": {k: store[k] for k in ("id", "name", "locale", "timezone")},
            "order": {
                "id": order_id,
                "number": number,
                "total": _money(total, store),
                "currency": store["currency"],
                "items": items,
                "promised_delivery_date": promised,
            },
            "customer": customer,
        }

    def order_cancelled(self, placed):
        store = next(s for s in STORES if s["id"] == placed["store"]["id"])
        when = self.tick(60, 900)
        ev = json.loads(json.dumps(placed))
        ev["event_id"] = "evt_" + self.uid()
        ev["type"] = "order.cancelled"
        ev["occurred_at"] = _rfc3339(when, store["offset"])
        ev["cancellation"] = {"reason": self.rng.choice(["customer_request", "payment_declined",
                                                         "out_of_stock"])}
        return ev


# --------------------------------------------------------------------------
# The rest of an order's journey. These take the order.placed event and an
# explicit time (a datetime), so that a test decides what happened when.

CARRIERS = {
    "st_alpenglow": ("DHL", "https://www.dhl.de/de/privatkunden/dhl-sendungsverfolgung.html"
                            "?piececode=%s"),
    "st_brightwater": ("Royal Mail", "https://www.royalmail.com/track-your-item#/tracking-results/%s"),
    "st_northside": ("UPS", "https://www.ups.com/track?tracknum=%s"),
}


def _event_id(placed, *parts):
    """A stable event id from the order and what happened: regenerating a
    test's input gives the same ids."""
    import hashlib
    h = hashlib.sha256(repr((str(placed["order"]["id"]), placed["store"]["id"]) + parts)
                       .encode()).hexdigest()
    return "evt_%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:32])


def _about(placed, type_, when, *parts):
    store = next(s for s in STORES if s["id"] == placed["store"]["id"])
    order = {k: placed["order"][k] for k in ("id", "number", "currency", "items")
             if k in placed["order"]}
    return {
        "event_id": _event_id(placed, type_, when.isoformat(), *parts),
        "type": type_,
        "occurred_at": _rfc3339(when, store["offset"]),
        "store": dict(placed["store"]),
        "order": order,
        "customer": dict(placed["customer"]),
    }


def shipment(placed, type_, when, shipment_id=None, estimate=None, promised=True, status=None):
    """A shipment.<type_> event. estimate: a date (str "YYYY-MM-DD" or
    date) or None; promised: include the order's promised date."""
    ev = _about(placed, type_, when, shipment_id, str(estimate))
    if promised and "promised_delivery_date" in placed["order"]:
        ev["order"]["promised_delivery_date"] = placed["order"]["promised_delivery_date"]
    carrier, url = CARRIERS[placed["store"]["id"]]
    sid = shipment_id or "shp_" + str(placed["order"]["id"])[-10:]
    # The tracking number is the same on every event of one shipment.
    digest = _event_id(placed, "tracking", sid)[4:].replace("-", "")
    number = "".join(str(int(c, 16) % 10) for c in digest[:18])
    ev["shipment"] = {"id": sid, "carrier": carrier, "tracking_number": number,
                      "tracking_url": url % number,
                      "status": status or type_.split(".", 1)[1].replace("_", " ")}
    if estimate is not None:
        ev["shipment"]["estimated_delivery"] = str(estimate)
    return ev


def return_event(placed, type_, when, return_id=None, refund=None, label=True):
    """A return.<type_> event; refund: the refunded amount (Decimal or str)."""
    ev = _about(placed, type_, when, return_id)
    store = next(s for s in STORES if s["id"] == placed["store"]["id"])
    rid = return_id or "ret_" + str(placed["order"]["id"])[-8:]
    items = placed["order"].get("items", [])[:1]
    ev["return"] = {"id": rid, "reason": "does_not_fit",
                    "items": [{"sku": i["sku"], "name": i["name"], "quantity": 1}
                              for i in items]}
    if label and type_ == "return.requested":
        ev["return"]["label_url"] = "https://returns.example.com/label/%s" % rid
    if refund is not None:
        ev["return"]["refund_amount"] = _money(Decimal(str(refund)), store)
    return ev


def feedback(placed, when, rating, comment=None):
    """A feedback.received event: the customer rated the order 1 to 5."""
    ev = _about(placed, "feedback.received", when, rating)
    ev["feedback"] = {"rating": rating}
    if comment:
        ev["feedback"]["comment"] = comment
    return ev


# --------------------------------------------------------------------------
# Public API.


def encode(event):
    """One Kafka record value: compact JSON, UTF-8, no trailing newline."""
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def orders_placed(n, seed=1, start=None):
    """n order.placed events across the stores, in time order, from start
    (an aware datetime; default 2024-11-04 08:00 UTC)."""
    world = _World(seed)
    if start is not None:
        world.clock = start
    return [world.order_placed() for _ in range(n)]


def orders_cancelled(placed, n, seed=1):
    """order.cancelled events for n of the given orders (distinct ids)."""
    world = _World(("cancel", seed).__repr__())
    world.clock = max(_parse_time(p["occurred_at"]) for p in placed) if placed else EPOCH
    chosen = world.rng.sample(list(placed), n)
    return [world.order_cancelled(p) for p in chosen]


def _parse_time(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def with_duplicates(items, rate, seed=1):
    """items plus round(rate * len(items)) verbatim re-sends of some of them.

    Each copy comes after its original: a third right after it (a producer
    retry), a third a few records later, a third far away (a replayed
    batch). Some items are re-sent more than once. The result is a new list;
    copies are the same objects, so they encode to the same bytes."""
    rng = random.Random(("dups", seed).__repr__())
    out = list(items)
    n_dups = int(round(rate * len(items)))
    if not items:
        return out
    for k in range(n_dups):
        src = rng.randrange(len(out))
        item = out[src]
        pos = out.index(item)  # the first occurrence: copies follow the original
        style = k % 3
        if style == 0:
            at = pos + 1
        elif style == 1:
            at = min(len(out), pos + 2 + rng.randrange(8))
        else:
            at = rng.randrange(min(len(out), pos + len(out) // 2), len(out) + 1)
        out.insert(at, item)
    return out


Bad = namedtuple("Bad", "line reason kind")
"""A malformed record: line (bytes), the expected ac-dlq-reason, a short kind."""

MALFORMED_KINDS = [
    "not_json", "truncated_json", "invalid_utf8", "missing_event_id", "missing_order_id",
    "missing_customer_id", "bad_occurred_at", "json_array", "too_large",
    "latin1_name", "event_id_number", "empty_order_id", "json_null", "trailing_garbage",
    "empty_object", "order_not_object", "json_scalar",
]


def malformed(n, seed=1, max_bytes=None):
    """n records that must be dead-lettered, cycling through every kind.

    too_large needs max_bytes (the worker's MAX_EVENT_BYTES) and is skipped
    without it. Each line is unique (so none is mistaken for a duplicate)
    and contains no newline byte."""
    world = _World(("malformed", seed).__repr__())
    kinds = [k for k in MALFORMED_KINDS if k != "too_large" or max_bytes]
    out = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        ev = world.order_placed()
        if kind == "not_json":
            line = ("order %s placed by %s at %s" % (ev["order"]["number"],
                                                     ev["customer"]["first_name"],
                                                     ev["occurred_at"])).encode()
            reason = "invalid_json"
        elif kind == "truncated_json":
            full = encode(ev)
            line = full[: len(full) // 2 + world.rng.randrange(40)]
            reason = "invalid_json"
            # never cut inside a UTF-8 sequence, or it would be not_utf8
            while line and line[-1] >= 0x80:
                line = line[:-1]
        elif kind == "invalid_utf8":
            # A lone continuation byte and an overlong "/" inside a string.
            ev["order"]["number"] = "@@"
            line = encode(ev).replace(b"@@", b"\x80\xc0\xaf")
            reason = "not_utf8"
        elif kind == "latin1_name":
            # A legacy system that sends ISO-8859-1: "Jürgen" as J\xfcrgen.
            ev["customer"]["first_name"] = "@@"
            line = encode(ev).replace(b'"@@"', '"Jürgen"'.encode("latin-1"))
            reason = "not_utf8"
        elif kind == "missing_event_id":
            del ev["event_id"]
            line, reason = encode(ev), "missing_field"
        elif kind == "missing_order_id":
            del ev["order"]["id"]
            line, reason = encode(ev), "missing_field"
        elif kind == "missing_customer_id":
            del ev["customer"]["id"]
            line, reason = encode(ev), "missing_field"
        elif kind == "empty_object":
            line = b"{}" if i < len(kinds) else ('{"note":"empty event %d"}' % i).encode()
            reason = "missing_field"
        elif kind == "order_not_object":
            ev["order"] = ev["order"]["number"]
            line, reason = encode(ev), "missing_field"
        elif kind == "bad_occurred_at":
            ev["occurred_at"] = world.rng.choice(["last Tuesday", "2024-13-45T25:61:00Z",
                                                  "04/11/2024 09:15"])
            line, reason = encode(ev), "invalid_field"
        elif kind == "event_id_number":
            ev["event_id"] = world.rng.randrange(10**9)
            line, reason = encode(ev), "invalid_field"
        elif kind == "empty_order_id":
            ev["order"]["id"] = ""
            line, reason = encode(ev), "invalid_field"
        elif kind == "json_array":
            line, reason = encode([ev]), "not_object"
        elif kind == "json_null":
            line, reason = b"null", "not_object"
        elif kind == "json_scalar":
            # A bare number or literal is complete JSON only at the end of
            # the input, a classic parser corner.
            variants = [b"%d" % (1000 + i), b"true", b'"order.placed %d"' % i]
            line, reason = variants[(i // len(kinds)) % 3], "not_object"
        elif kind == "trailing_garbage":
            line, reason = encode(ev) + b" }", "invalid_json"
        elif kind == "too_large":
            ev["note"] = ""
            base = len(encode(ev))
            ev["note"] = "x" * (max_bytes - base + 1 + world.rng.randrange(512))
            line, reason = encode(ev), "too_large"
            assert len(line) > max_bytes
        else:  # pragma: no cover
            raise AssertionError(kind)
        assert b"\n" not in line and line.strip(), kind
        out.append(Bad(line, reason, kind))
    return out


def sample(seed=20241118):
    """The demo's input: about 20 orders in 3 stores (en and de), one
    cancellation, a few duplicated lines and 3 malformed lines."""
    world = _World(seed)
    placed = []
    for store in STORES * 7:
        placed.append(world.order_placed(store))
    placed = placed[:20]
    world.rng.shuffle(placed)
    placed.sort(key=lambda e: _parse_time(e["occurred_at"]))
    cancelled = [world.order_cancelled(placed[4])]
    lines = [encode(e) for e in placed + cancelled]
    lines = with_duplicates(lines, 0.15, seed)
    # Three records a real integration gets wrong sooner or later: cut-off
    # JSON, ISO-8859-1 instead of UTF-8, and an event without order.id.
    picks = [b for b in malformed(len(MALFORMED_KINDS), seed)
             if b.kind in ("truncated_json", "latin1_name", "missing_order_id")]
    for i, b in enumerate(picks):
        lines.insert(5 + i * 7, b.line)
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orders", type=int, default=20)
    ap.add_argument("--cancelled", type=int, default=0)
    ap.add_argument("--duplicates", type=float, default=0.0, help="rate of re-sent events")
    ap.add_argument("--malformed", type=int, default=0)
    ap.add_argument("--max-bytes", type=int, default=None,
                    help="include a too_large record over this limit")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sample", action="store_true",
                    help="write the demo sample (tests/data/sample-events.jsonl)")
    args = ap.parse_args(argv)
    if args.sample:
        lines = sample()
    else:
        placed = orders_placed(args.orders, args.seed)
        events = placed + orders_cancelled(placed, args.cancelled, args.seed)
        lines = with_duplicates([encode(e) for e in events], args.duplicates, args.seed)
        rng = random.Random(args.seed)
        for b in malformed(args.malformed, args.seed, args.max_bytes):
            lines.insert(rng.randrange(len(lines) + 1), b.line)
    out = sys.stdout.buffer
    for line in lines:
        out.write(line + b"\n")
    out.flush()


if __name__ == "__main__":
    main()
