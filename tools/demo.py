#!/usr/bin/env python3
"""aftercare demo: a store's order events in, customer messages out.

Starts a complete local stack, feeds it tests/data/sample-events.jsonl and
shows what the customers would receive: most of the sample straight to
Kafka, five of its orders as signed Shopify and WooCommerce webhooks
through ingest-gateway (placed, shipped, delivered; and one forged
webhook it refuses). Then plays four orders' journeys after the purchase
live (shipping, a slipping delivery estimate, delivery, a return, unhappy
feedback), with review requests and referral invitations due seconds
instead of days after delivery; then one customer's complaint, a click on
the first star of a review request's rating links. It ends with a store's
retention report: a generated year of a record store's history through
the same workers, then ac-report, whose HTML it keeps (demo-report/ beside
the binaries' directory, or --report-dir) and whose figures it checks.
Takes under a minute; Ctrl-C at any time stops everything it started.

    python3 tools/demo.py [--bin DIR] [--events FILE] [--timeout SECONDS]
                          [--report-dir DIR]

Binaries come from --bin, else $AC_BIN_DIR, else build/bin of this tree.
"""

import argparse
import collections
import concurrent.futures
import datetime
import hashlib
import json
import os
import secrets
import sys
import textwrap
import time
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import demo_report  # noqa: E402
import gen_events  # noqa: E402
import platforms  # noqa: E402
import stack as stackmod  # noqa: E402
from stack import Stack, StackError, record_bytes  # noqa: E402
# The rules stated independently of the C code (the integration test's
# oracle, with the complaint rule where it lacks it): the demo checks the
# journey against them rather than against its own idea of what should
# happen.
from demo_report import expected_messages  # noqa: E402
from test_journey import topic_of, when as event_time  # noqa: E402

DEFAULT_EVENTS = os.path.join(REPO, "tests", "data", "sample-events.jsonl")

# Review requests and referral invitations normally wait 7 and 14 days after
# delivery; the demo waits seconds so that they really arrive while it runs.
REVIEW_DELAY, REFERRAL_DELAY = 3.0, 6.0
# The report's history has fixed dates, while facts expire their
# retention after their month by the wall clock (400 days by default): the
# longest retention keeps its first months readable until 2035.
JOURNEY_ENV = {"REVIEW_REQUEST_DELAY": "%gs" % REVIEW_DELAY,
               "REFERRAL_DELAY": "%gs" % REFERRAL_DELAY,
               "ANALYTICS_RETENTION": "3650d"}
JOURNEY_CFG = {"review": REVIEW_DELAY, "referral": REFERRAL_DELAY, "stores": {}}
JOURNEY_SEED = 4711
EVENT_WORKERS = ("order-worker", "shipment-worker", "return-worker")

WIDTH = 78
BOLD = "\033[1m" if sys.stdout.isatty() else ""
DIM = "\033[2m" if sys.stdout.isatty() else ""
RESET = "\033[0m" if sys.stdout.isatty() else ""


def say(text=""):
    print(text, flush=True)


def rule(title=""):
    if title:
        say("\n%s── %s %s%s" % (BOLD, title, "─" * max(3, WIDTH - len(title) - 4), RESET))
    else:
        say("─" * WIDTH)


def pad(text, width):
    """text padded to width terminal columns (CJK characters take two)."""
    cols = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - cols)


def step(text):
    # Wrapped at WIDTH, never inside a word: addresses stay whole.
    lines = textwrap.wrap(text, WIDTH - 4, break_long_words=False,
                          break_on_hyphens=False) or [""]
    say("  %s•%s %s" % (BOLD, RESET, lines[0]))
    for line in lines[1:]:
        say("    " + line)


def read_lines(path):
    with open(path, "rb") as f:
        return [l.rstrip(b"\n") for l in f if l.strip()]


def read_events(lines):
    """The records sent to Kafka, and what a correct pipeline must make of
    them."""
    expected, seen_events, valid, invalid, dups = {}, set(), 0, 0, 0
    events = []
    for line in lines:
        try:
            ev = json.loads(line.decode("utf-8"))
            ev["order"]["id"], ev["customer"]["id"], ev["event_id"]  # required
        except (UnicodeDecodeError, ValueError, KeyError, TypeError):
            invalid += 1
            continue
        valid += 1
        if ev["event_id"] in seen_events:
            dups += 1
            continue
        seen_events.add(ev["event_id"])
        events.append(ev)
        kind = {"order.placed": "order_confirmation",
                "order.cancelled": "order_cancelled"}.get(ev.get("type"))
        if kind:
            expected[(kind, str(ev["order"]["id"]))] = ev
    return lines, expected, valid, invalid, dups, events


def show_message(m):
    """One delivered message, as the customer would see it."""
    lang = {"de": "German", "en": "English"}.get((m.get("locale") or "")[:2], m.get("locale"))
    say("  %s%s%s  ·  %s  ·  %s  ·  order %s" % (
        BOLD, m.get("kind"), RESET, m.get("channel"), lang, m.get("order_number")))
    say("  To:      %s" % m.get("to"))
    if m.get("subject"):
        say("  Subject: %s" % m["subject"])
    if m.get("due_at"):
        say("  Due:     %s  (arrived %s)" % (m["due_at"], m.get("_received_at")))
    say("  %s┌%s%s" % (DIM, "─" * (WIDTH - 4), RESET))
    for para in demo_report.short_links(m.get("text") or "").rstrip("\n").split("\n"):
        # Not at hyphens and not inside long words: a tracking link split
        # over two lines would look broken.
        wrapped = textwrap.wrap(para, WIDTH - 8, replace_whitespace=False,
                                break_on_hyphens=False, break_long_words=False,
                                subsequent_indent="    " if para.startswith("  ") else "") or [""]
        for w in wrapped:
            say("  %s│%s %s" % (DIM, RESET, w))
    say("  %s└%s%s" % (DIM, "─" * (WIDTH - 4), RESET))
    say("  %sIdempotency-Key: %s%s" % (DIM, m.get("_idempotency_key"), RESET))


def pick_examples(messages):
    """Three messages worth reading: a German one, an SMS and a cancellation
    or a non-ASCII name, falling back to whatever is there."""
    chosen = []

    def take(pred):
        for m in messages:
            if m not in chosen and pred(m):
                chosen.append(m)
                return

    take(lambda m: (m.get("locale") or "").startswith("de") and m.get("channel") == "email"
         and m.get("kind") == "order_confirmation")
    take(lambda m: m.get("channel") == "sms")
    take(lambda m: m.get("kind") == "order_cancelled")
    take(lambda m: any(ord(c) > 127 for c in m.get("first_name") or ""))
    while len(chosen) < min(3, len(messages)):
        take(lambda m: True)
    return chosen[:3]


# --------------------------------------------------------------------------
# The journey after the purchase.

def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def parse_time(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def rel(seconds):
    """A time relative to the delivery, short: +3.2s, -4m05s, -23h14m."""
    a, sign = abs(seconds), "-" if seconds < 0 else "+"
    if a < 99.95:
        return "%s%.1fs" % (sign, a)
    if a < 3600:
        return "%s%dm%02ds" % (sign, a // 60, a % 60)
    return "%s%dh%02dm" % (sign, a // 3600, a % 3600 // 60)


def add_days(date_text, n):
    return (datetime.date.fromisoformat(date_text[:10]) + datetime.timedelta(days=n)).isoformat()


class Story:
    """One order's journey: the events the demo sent for it, each stamped
    with the moment it was built, so scheduled messages really wait."""

    def __init__(self, number, title, placed, consent):
        self.number, self.title = number, title
        self.placed = json.loads(json.dumps(placed))
        # Set rather than left to chance: whether a referral may go out is
        # part of what each story shows.
        self.placed["customer"]["marketing_consent"] = consent
        self.events = [self.placed]
        self.sid = "shp_%s" % str(self.placed["order"]["id"])[-10:]
        self.promised = self.placed["order"]["promised_delivery_date"]

    @property
    def key(self):
        return (str(self.placed["store"]["id"]), str(self.placed["order"]["id"]))

    @property
    def label(self):
        return "%s %s" % (self.placed["store"]["name"], self.placed["order"]["number"])

    def ship(self, type_, estimate=None):
        return self._add(gen_events.shipment(self.placed, type_, utc_now(), self.sid, estimate))

    def ret(self, type_, refund=None):
        return self._add(gen_events.return_event(self.placed, type_, utc_now(), refund=refund))

    def feedback(self, rating):
        return self._add(gen_events.feedback(self.placed, utc_now(), rating))

    def _add(self, ev):
        self.events.append(ev)
        return ev

    def delivered_at(self):
        return next((event_time(e) for e in self.events if e["type"] == "shipment.delivered"),
                    None)

    def first(self, type_):
        return next((event_time(e) for e in self.events if e["type"] == type_), None)

    def messages(self, messages):
        return [m for m in messages
                if (str(m.get("store_id")), str(m.get("order_id"))) == self.key]


def journey_orders(sample_numbers, n=4):
    """n fresh orders placed yesterday, from different stores where possible.
    Fresh rather than the sample's: those were placed in 2024, and a delivery
    estimate is only late against a promised date of the same days."""
    placed = gen_events.orders_placed(30, JOURNEY_SEED,
                                      start=utc_now() - datetime.timedelta(days=1))
    # An order number the sample already used would read as the same order
    # twice; and e-mails make the longer messages worth reading.
    pool = [p for p in placed
            if p["order"]["number"] not in sample_numbers and p["customer"].get("email")]
    chosen = []
    for store in ("st_brightwater", "st_alpenglow", "st_northside", None)[:n]:
        chosen.append(next(p for p in pool
                           if p not in chosen and store in (None, p["store"]["id"])))
    return chosen


def send(st, evs):
    """Produces the events to their topics (keyed by order id, so one order's
    events stay in order on one partition)."""
    by_topic = collections.OrderedDict()
    for ev in evs:
        by_topic.setdefault(topic_of(ev), []).append(gen_events.encode(ev))
    for topic, lines in by_topic.items():
        st.produce(topic, lines)


def describe_event(ev, story):
    typ, shp = ev["type"], ev.get("shipment", {})
    est = (shp.get("estimated_delivery") or "")[:10]
    if typ == "order.placed":
        return "order.placed"
    if est:
        return "%s  estimate %s (promised %s)" % (typ, est, story.promised)
    if typ == "return.refunded":
        return "%s  %s %s" % (typ, ev["return"].get("refund_amount"),
                              ev["order"].get("currency") or "")
    if typ == "feedback.received":
        return "%s  rating %d/5" % (typ, ev["feedback"]["rating"])
    return typ


def describe_message(m, delivered):
    text = "%s (%s)" % (m.get("kind"), m.get("channel"))
    if m.get("due_at") and delivered is not None:
        text += ", due %s" % rel(parse_time(m["due_at"]) - delivered)
    return text


def show_story(story, msgs):
    c = story.placed["customer"]
    say()
    say("  %s%d  %s%s  ·  %s" % (BOLD, story.number, story.title, RESET, story.label))
    say("     %s%s <%s>, %s; %s%s" % (
        DIM, c.get("first_name"), c.get("email") or c.get("phone"), c.get("locale"),
        "agreed to marketing" if c.get("marketing_consent") else "no marketing consent", RESET))
    # Events as they were stamped, messages as the webhook received them,
    # on one clock: relative to this order's delivery.
    d = story.delivered_at()
    rows = [(event_time(e), describe_event(e, story)) for e in story.events]
    rows += [(parse_time(m["_received_at"]), "    → " + describe_message(m, d)) for m in msgs]
    say("    %s%8s  event sent  /  → message that arrived%s" % (DIM, "", RESET))
    for t, text in sorted(rows):
        say("    %8s  %s" % (rel(t - d), text))


def explain(story, msgs, notes):
    """notes: (kind, should it be there, why). Says why, or !! when the
    messages that arrived disagree."""
    got = collections.Counter(m.get("kind") for m in msgs)
    ok = True
    for kind, wanted, why in notes:
        n = got.get(kind, 0)
        if n == int(wanted):
            text, mark = "%s%s: %s" % ("" if wanted else "no ", kind, why), "✓"
        else:
            ok = False
            text, mark = "%d %s arrived, expected %d (%s)" % (n, kind, int(wanted), why), "!!"
        for i, line in enumerate(textwrap.wrap(text, WIDTH - 8)):
            say("    %s%s %s%s" % (DIM if mark == "✓" else "",
                                   mark if i == 0 else " " * len(mark),
                                   line, RESET if mark == "✓" else ""))
    return ok


def run_journey(st, sample_numbers):
    """Plays four journeys live and shows them. Returns the stories, and
    whether each order got what its story says it should."""
    rule("After the purchase: four orders' journeys")
    say(textwrap.fill(
        "Four more orders, placed yesterday, now ship, arrive, and some come back. "
        "Each event is stamped with the moment it is sent and produced to its "
        "topic (orders, shipments, returns); times below are relative to each "
        "order's delivery.", WIDTH))
    say()
    orders = journey_orders(sample_numbers)
    stories = [Story(1, "Happy path", orders[0], True),
               Story(2, "A slipping parcel", orders[1], False),
               Story(3, "A return", orders[2], True),
               Story(4, "Unhappy feedback", orders[3], True)]
    happy, slip, back, unhappy = stories
    events = lambda: [e for s in stories for e in s.events]  # noqa: E731
    t0 = time.monotonic()

    def now_due():
        """Messages the rules call for right away, given everything sent."""
        return {i for i, (_, due, _) in expected_messages(events(), JOURNEY_CFG).items()
                if due is None}

    def arrive(what, timeout=15):
        want = now_due()
        st.wait_until(lambda: want <= {m.get("id") for m in st.sink_messages()}, timeout,
                      "%d messages (%s) at the webhook" % (len(want), what), interval=0.1)
        return time.monotonic() - t0

    send(st, [s.placed for s in stories])
    step("order.placed for %s → confirmations at +%.1fs" % (
        ", ".join(s.placed["order"]["number"] for s in stories), arrive("confirmations")))
    send(st, [s.ship("shipment.shipped", s.promised) for s in stories])
    step("shipment.shipped for all four, estimate = promised date → shipping updates "
         "at +%.1fs" % arrive("shipping updates"))
    late = add_days(slip.promised, 2)
    send(st, [slip.ship("shipment.in_transit", late)])
    step("%s: shipment.in_transit, estimate %s after the promised %s → delay notice "
         "at +%.1fs" % (slip.placed["order"]["number"], late, slip.promised,
                        arrive("a delay notice")))
    # The carrier repeats itself: same estimate, new event. It must not
    # bring a second notice; the final check holds it to that.
    send(st, [slip.ship("shipment.in_transit", late)])
    time.sleep(0.5)
    send(st, [s.ship("shipment.delivered") for s in stories])
    step("the same estimate again for %s, then shipment.delivered for all four "
         "(review requests due in %gs, referrals in %gs)"
         % (slip.placed["order"]["number"], REVIEW_DELAY, REFERRAL_DELAY))
    last_delivery = max(s.delivered_at() for s in stories)
    time.sleep(max(0.0, back.delivered_at() + 1.0 - time.time()))
    send(st, [back.ret("return.requested"), unhappy.feedback(2)])
    arrive("a return confirmation")
    item = back.placed["order"]["items"][0]
    back.ret("return.refunded", refund=item["price"])
    send(st, back.events[-1:])
    arrive("a refund notice")
    step("a second after delivery: %s asks to return it, %s rates the order 2 of 5; "
         "then %s's refund" % (back.placed["order"]["number"],
                               unhappy.placed["order"]["number"],
                               back.placed["order"]["number"]))
    # Everything the rules call for, scheduled ones included; then as long
    # again as the longest delay plus a margin, so that a message that
    # should never come has had its chance to show up.
    want = set(expected_messages(events(), JOURNEY_CFG))
    try:
        st.wait_until(lambda: want <= {m.get("id") for m in st.sink_messages()},
                      REFERRAL_DELAY + 20, "%d journey messages" % len(want), interval=0.2)
    except StackError as e:
        st.check_alive()  # a dead worker is a failure of its own, with its log
        say("  !! %s" % e)  # the check below says which ones
    quiet = last_delivery + REFERRAL_DELAY + 2.0 - time.time()
    step("waiting %.1fs more: until %gs after the last delivery, so that anything "
         "extra would have arrived" % (max(0.0, quiet), REFERRAL_DELAY + 2.0))
    time.sleep(max(0.0, quiet))

    messages = st.sink_messages()
    mine = {s.number: s.messages(messages) for s in stories}
    rule("Four journeys, event by event")
    ok = True
    show_story(happy, mine[1])
    ok &= explain(happy, mine[1], [
        ("review_request", True, "%gs after delivery, on its own" % REVIEW_DELAY),
        ("referral_invite", True, "%gs after delivery: the customer agreed to marketing"
         % REFERRAL_DELAY)])
    show_story(slip, mine[2])
    ok &= explain(slip, mine[2], [
        ("delay_notice", True, "one per new estimate; the repeated %s sent nothing new"
         % late),
        ("referral_invite", False, "this customer did not agree to marketing")])
    show_story(back, mine[3])
    d = back.delivered_at()
    ok &= explain(back, mine[3], [
        ("review_request", False, "the return (%s) came before it was due (+%.1fs), so "
         "it was cancelled" % (rel(back.first("return.requested") - d), REVIEW_DELAY)),
        ("referral_invite", False, "cancelled by the return too"),
        ("refund_notice", True, "one per return")])
    show_story(unhappy, mine[4])
    ok &= explain(unhappy, mine[4], [
        ("review_request", False, "the customer already told us what they think"),
        ("referral_invite", False, "rated 3 or less, and unhappy customers are not "
         "asked to recommend the store"),
        ("feedback_followup", True, "a complaint: an apology at once, once per order"),
        ("store_alert", True, "to the store's support address, for a person to "
         "follow it up")])

    rule("A scheduled message and a delay notice in full")
    for story, kind in ((happy, "review_request"), (slip, "delay_notice")):
        m = next((m for m in mine[story.number] if m.get("kind") == kind), None)
        if m:
            say()
            show_message(m)
    return stories, ok


# --------------------------------------------------------------------------
# Part of the sample through the ingest gateway, as the platforms send it.

# Brightwater Tea Co. sells on Shopify (its sample orders have Shopify's
# numeric ids and "#10424" names), Alpenglow Outdoor on WooCommerce.
SHOPIFY_STORE, SHOPIFY_DOMAIN = "st_brightwater", "brightwater-tea.myshopify.com"
WOO_STORE = "st_alpenglow"
GATEWAY_ORDERS = {SHOPIFY_STORE: ("#10424", "#10425", "#10427"),
                  WOO_STORE: ("AG-10416", "AG-10419")}
DAY = datetime.timedelta(days=1)
NUMBERS = dict(enumerate("zero one two three four five six seven eight nine ten".split()))


def via_gateway(ev):
    return ev["order"].get("number") in GATEWAY_ORDERS.get(ev["store"]["id"], ())


def split_sample(lines):
    """The sample's records that go straight to Kafka, and the order.placed
    events of the orders that come through the gateway instead."""
    direct, placed = [], []
    for line in lines:
        try:
            ev = json.loads(line.decode("utf-8"))
            chosen = via_gateway(ev)
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError):
            chosen = False
        if not chosen:
            direct.append(line)
        elif ev["type"] != "order.placed":
            raise ValueError("the demo sends only placed orders through the gateway")
        elif ev["event_id"] not in {p["event_id"] for p in placed}:
            placed.append(ev)
    return direct, placed


def _stamp(dt):
    """A time as the platforms write it: RFC 3339 in seconds."""
    return dt.replace(microsecond=0).isoformat()


def _gmt(dt):
    """WooCommerce's *_gmt form: UTC without a zone."""
    return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def _money(v):
    return "%.2f" % float(v)


def _set_amount(obj, key, amount, currency):
    """Shopify's money field and its *_set twin (shop and presentment)."""
    obj[key] = amount
    obj[key + "_set"] = {m: {"amount": amount, "currency_code": currency}
                         for m in ("shop_money", "presentment_money")}


class ShopifyOrder:
    """One sample order as Brightwater's Shopify store sends it: the bodies
    of orders/create, fulfillments/create and fulfillment_events/create,
    built from Shopify's documented sample payloads with this order's
    customer, items and ids (all Shopify-style whole numbers, kept
    exactly)."""

    platform = "shopify"

    def __init__(self, placed):
        self.placed = placed
        self.store, self.number = placed["store"]["id"], placed["order"]["number"]
        self.order_id = int(placed["order"]["id"])
        self.seq = int(self.number.lstrip("#"))
        # Shopify's own ids are up to 19 digits: beyond a double's 53 bits.
        self.fulfillment_id = 5300000000000000000 + self.seq
        self.tracking = "1Z827WK7%07d" % self.seq
        self.at = datetime.datetime.fromisoformat(
            placed["occurred_at"].replace("Z", "+00:00"))

    def order(self):
        p, c = self.placed, self.placed["customer"]
        o = platforms.fixture("shopify", "orders_create.json")
        cur = p["order"]["currency"]
        total = _money(p["order"]["total"])
        o.update({
            "id": self.order_id, "admin_graphql_api_id": "gid://shopify/Order/%d" % self.order_id,
            "name": self.number, "order_number": self.seq, "number": self.seq - 1000,
            "created_at": _stamp(self.at - datetime.timedelta(seconds=2)),
            "processed_at": _stamp(self.at), "updated_at": _stamp(self.at),
            "currency": cur, "presentment_currency": cur, "financial_status": "paid",
            "email": c.get("email"), "contact_email": c.get("email"),
            "phone": c.get("phone"), "customer_locale": c.get("locale"),
            "buyer_accepts_marketing": bool(c.get("marketing_consent")),
            "total_outstanding": "0.00", "token": "%032x" % self.order_id,
            "order_status_url": "https://%s/orders/%032x/authenticate" % (
                SHOPIFY_DOMAIN, self.order_id),
            "confirmation_number": "BW%07d" % self.seq,
        })
        for key in ("total_price", "subtotal_price", "total_line_items_price",
                    "current_total_price", "current_subtotal_price"):
            _set_amount(o, key, total, cur)
        for key in ("total_tax", "current_total_tax", "total_discounts",
                    "current_total_discounts"):
            _set_amount(o, key, "0.00", cur)
        o["total_shipping_price_set"] = {m: {"amount": "0.00", "currency_code": cur}
                                         for m in ("shop_money", "presentment_money")}
        ship = o["shipping_lines"][0]
        ship.update({"title": "Free delivery", "price": "0.00", "discounted_price": "0.00"})
        for key in ("price_set", "discounted_price_set"):
            ship[key] = o["total_shipping_price_set"]
        cust = o["customer"]
        cust.update({
            "id": int(c["id"]), "admin_graphql_api_id": "gid://shopify/Customer/%s" % c["id"],
            "email": c.get("email"), "phone": c.get("phone"), "first_name": c.get("first_name"),
            "last_name": None, "currency": cur, "default_address": None,
            "email_marketing_consent": {
                "state": "subscribed" if c.get("marketing_consent") else "not_subscribed",
                "opt_in_level": "single_opt_in", "consent_updated_at": _stamp(self.at)},
        })
        for key in ("billing_address", "shipping_address"):
            o[key].update({"first_name": c.get("first_name"), "last_name": None,
                           "name": c.get("first_name"), "phone": c.get("phone"),
                           "company": None})
        template = o["line_items"][0]
        o["line_items"] = []
        for i, item in enumerate(p["order"]["items"]):
            li = json.loads(json.dumps(template))
            lid = 13300000000000 + self.seq * 10 + i
            price = _money(item["price"])
            li.update({"id": lid, "admin_graphql_api_id": "gid://shopify/LineItem/%d" % lid,
                       "title": item["name"], "name": item["name"], "sku": str(item["sku"]),
                       "quantity": item.get("quantity", 1),
                       "current_quantity": item.get("quantity", 1),
                       "fulfillable_quantity": item.get("quantity", 1),
                       "product_id": 7100000000000 + int(item["sku"]), "price": price})
            _set_amount(li, "price", price, cur)
            _set_amount(li, "total_discount", "0.00", cur)
            o["line_items"].append(li)
        return o

    def fulfillment(self):
        f = platforms.fixture("shopify", "fulfillments_create.json")
        o = self.order()
        when = _stamp(self.at + DAY + datetime.timedelta(hours=5))
        url = "https://www.ups.com/track?loc=en_GB&tracknum=%s" % self.tracking
        f.update({"id": self.fulfillment_id, "order_id": self.order_id,
                  "name": "%s.1" % self.number,
                  "admin_graphql_api_id": "gid://shopify/Fulfillment/%d" % self.fulfillment_id,
                  "created_at": when, "updated_at": when, "email": o["email"],
                  "destination": o["shipping_address"], "line_items": o["line_items"],
                  "tracking_company": "UPS", "tracking_number": self.tracking,
                  "tracking_numbers": [self.tracking], "tracking_url": url,
                  "tracking_urls": [url]})
        return f

    def delivered(self):
        e = platforms.fixture("shopify", "fulfillment_events_create.json")
        happened = self.at + 2 * DAY + datetime.timedelta(hours=3)
        eid = 2900000000000 + self.seq
        e.update({"id": eid, "admin_graphql_api_id": "gid://shopify/FulfillmentEvent/%d" % eid,
                  "fulfillment_id": self.fulfillment_id, "order_id": self.order_id,
                  "status": "delivered", "message": "Delivered, left with neighbour",
                  "happened_at": _stamp(happened),
                  "created_at": _stamp(happened + datetime.timedelta(seconds=31)),
                  "updated_at": _stamp(happened + datetime.timedelta(seconds=31)),
                  "city": "London", "province": None, "country": "GB", "zip": None})
        return e

    def sent_id(self):
        return str(self.order_id)


class WooOrder:
    """One sample order as Alpenglow's WooCommerce store sends it: the
    order (REST API v3 shape) of order.created, then of order.updated once
    completed with a Shipment Tracking item. WooCommerce ids are whole
    numbers and the sample's Alpenglow ids are text, so the order keeps its
    number, customer and items and gets numeric ids."""

    platform = "woocommerce"

    def __init__(self, placed, custom_carrier):
        self.placed = placed
        self.store, self.number = placed["store"]["id"], placed["order"]["number"]
        self.seq = int(self.number.split("-")[-1])
        self.order_id = 20000 + self.seq % 10000
        self.customer_id = int(placed["customer"]["id"].split("_")[-1], 16) % 9000 + 1000
        self.custom_carrier = custom_carrier
        self.tracking = "00340434%012d" % (self.seq * 7919)
        self.at = datetime.datetime.fromisoformat(placed["occurred_at"].replace("Z", "+00:00"))

    def order(self, status="processing"):
        p, c = self.placed, self.placed["customer"]
        o = platforms.fixture("woocommerce", "order_created_processing.json")
        local = self.at.astimezone(datetime.timezone(datetime.timedelta(hours=1)))
        o.update({
            "id": self.order_id, "number": self.number, "order_key": "wc_order_%012x" % (
                self.order_id * 7919), "status": status, "currency": p["order"]["currency"],
            "date_created": local.strftime("%Y-%m-%dT%H:%M:%S"), "date_created_gmt": _gmt(self.at),
            "date_modified": local.strftime("%Y-%m-%dT%H:%M:%S"),
            "date_modified_gmt": _gmt(self.at), "date_paid": local.strftime("%Y-%m-%dT%H:%M:%S"),
            "date_paid_gmt": _gmt(self.at), "total": _money(p["order"]["total"]),
            "shipping_total": "0.00", "cart_tax": "0.00", "total_tax": "0.00",
            "prices_include_tax": True, "tax_lines": [], "customer_id": self.customer_id,
            "payment_method": "paypal", "payment_method_title": "PayPal",
            "transaction_id": "8TV%08dX" % self.seq,
        })
        for key in ("billing", "shipping"):
            o[key].update({"first_name": c.get("first_name"), "last_name": ""})
        o["billing"].update({"email": c.get("email") or "", "phone": c.get("phone") or ""})
        o["shipping_lines"][0].update({"method_title": "Kostenloser Versand",
                                       "method_id": "free_shipping", "total": "0.00"})
        o["line_items"] = []
        for i, item in enumerate(p["order"]["items"]):
            q, price = item.get("quantity", 1), float(item["price"])
            o["line_items"].append({
                "id": self.order_id * 10 + i, "name": item["name"], "product_id": 300 + i,
                "variation_id": 0, "quantity": q, "tax_class": "", "subtotal": _money(q * price),
                "subtotal_tax": "0.00", "total": _money(q * price), "total_tax": "0.00",
                "taxes": [], "meta_data": [], "sku": item["sku"], "price": price})
        o["_links"] = {"self": [{"href": "https://alpenglow.example/wp-json/wc/v3/orders/%d"
                                 % self.order_id}],
                       "collection": [{"href": "https://alpenglow.example/wp-json/wc/v3/orders"}],
                       "customer": [{"href": "https://alpenglow.example/wp-json/wc/v3/customers/%d"
                                     % self.customer_id}]}
        return o

    def completed(self):
        """order.updated: completed, with the parcel the Shipment Tracking
        extension recorded: a provider from its list (a slug, no link) or a
        custom provider with its own link, the two shapes of the fixture."""
        o = self.order("completed")
        shipped = self.at + DAY + datetime.timedelta(hours=4)
        local = shipped.astimezone(datetime.timezone(datetime.timedelta(hours=1)))
        o.update({"date_modified": local.strftime("%Y-%m-%dT%H:%M:%S"),
                  "date_modified_gmt": _gmt(shipped),
                  "date_completed": local.strftime("%Y-%m-%dT%H:%M:%S"),
                  "date_completed_gmt": _gmt(shipped)})
        fixture = platforms.fixture("woocommerce", "order_updated_completed_tracking.json")
        meta = next(m for m in fixture["meta_data"] if m["key"] == "_wc_shipment_tracking_items")
        item = dict(meta["value"][1 if self.custom_carrier else 0])
        item.update({"tracking_number": self.tracking,
                     "date_shipped": str(int(shipped.timestamp())),
                     "tracking_id": hashlib.md5(self.tracking.encode()).hexdigest()})
        if self.custom_carrier:
            item.update({"custom_tracking_provider": "DHL",
                         "custom_tracking_link": "https://www.dhl.de/de/privatkunden/"
                         "dhl-sendungsverfolgung.html?piececode=%s" % self.tracking})
        o["meta_data"].append({"id": 13000 + self.seq % 1000, "key": meta["key"],
                               "value": [item]})
        return o

    def carrier(self):
        return ("a custom provider, \"DHL\" with its link" if self.custom_carrier else
                "a provider from the extension's list, which arrives as the slug \"dhl\" "
                "without a link")

    def sent_id(self):
        return str(self.order_id)


def gateway_settings(st):
    """The per-store settings the gateway needs (STORE_SETTINGS, which
    start_gateway() writes into the stack's temporary directory), with the
    platform secrets in files beside it, as a mounted Kubernetes Secret
    would hold them. Returns the stores and the secrets by platform."""
    keys = {"shopify": secrets.token_hex(16), "woocommerce": "wc_" + secrets.token_hex(20)}
    paths = {}
    for platform, key in keys.items():
        paths[platform] = os.path.join(st.dir, "%s.secret" % platform)
        with open(os.open(paths[platform], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
                  "w") as f:
            f.write(key + "\n")
    stores = collections.OrderedDict([
        (SHOPIFY_STORE, {"name": "Brightwater Tea Co.", "locale": "en-GB",
                         "timezone": "Europe/London",
                         "shopify": {"shop_domain": SHOPIFY_DOMAIN,
                                     "webhook_secret_file": paths["shopify"]}}),
        (WOO_STORE, {"name": "Alpenglow Outdoor", "locale": "de-DE", "timezone": "Europe/Berlin",
                     "woocommerce": {"webhook_secret_file": paths["woocommerce"]}}),
    ])
    return stores, keys


def show_settings(path):
    """The settings file as the gateway read it, compactly."""
    with open(path) as f:
        stores = json.load(f, object_pairs_hook=collections.OrderedDict)["stores"]
    out = ['{"stores": {']
    for i, (sid, s) in enumerate(stores.items()):
        out.append('  %s: {' % json.dumps(sid))
        info = [(k, v) for k, v in s.items() if not isinstance(v, dict)]
        plats = [(k, v) for k, v in s.items() if isinstance(v, dict)]
        pairs = ["%s: %s" % (json.dumps(k), json.dumps(v, ensure_ascii=False)) for k, v in info]
        line = "   "
        for n, p in enumerate(pairs):  # wrapped between members, never inside one
            p += "," if n < len(pairs) - 1 or plats else "}"
            if len(line) + 1 + len(p) > WIDTH - 4 and line.strip():
                out.append(line)
                line = "   "
            line += " " + p
        if line.strip():
            out.append(line)
        for j, (k, v) in enumerate(plats):
            head = "    %s: {" % json.dumps(k)
            members = ["%s: %s" % (json.dumps(mk), json.dumps(mv)) for mk, mv in v.items()]
            for n, m in enumerate(members):
                out.append((head if n == 0 else " " * len(head)) + m
                           + ("," if n < len(members) - 1 else "}"))
            out[-1] += "," if j < len(plats) - 1 else "}"
        out[-1] += "," if i < len(stores) - 1 else "}}"
    for line in out:
        say("    %s%s%s" % (DIM, line, RESET))


def send_webhook(gw, o, topic, body, secret):
    """Signs and POSTs one webhook as o's platform does; (status, answer)."""
    if o.platform == "shopify":
        return platforms.shopify(gw.ingest_port, SHOPIFY_DOMAIN, secret, topic, body)
    return platforms.woocommerce(gw.ingest_port, o.store, secret, topic, body)


def answer_line(o, status, text):
    say("      %-9s %-14s → %d %s" % (o.number, "(%s)" % {"shopify": "Shopify",
                                                       "woocommerce": "WooCommerce"}[o.platform],
                                     status, text))


def order_key(ev):
    """(store id, order id) of a canonical event; None when it has none."""
    try:
        return (str(ev["store"]["id"]), str(ev["order"]["id"]))
    except (KeyError, TypeError):
        return None


def consume_events(st, topics):
    """Every canonical event in topics, read at once (one ac-kafka each)."""
    with concurrent.futures.ThreadPoolExecutor(len(topics)) as pool:
        # ac-kafka stops at the end of every partition once idle this long.
        records = [r for rs in pool.map(lambda t: st.consume(t, 100), topics) for r in rs]
    events = []
    for r in records:
        try:
            events.append(json.loads(record_bytes(r).decode("utf-8")))
        except (AttributeError, UnicodeDecodeError, ValueError):
            pass
    return events


def check_produced(orders, events):
    """What the gateway produced for each order, against what was sent:
    the event types each platform's mapping promises, and the sample's
    customer, number and items on every event. Returns the problems."""
    problems = []
    want = {"shopify": {"order.placed", "shipment.shipped", "shipment.delivered"},
            "woocommerce": {"order.placed", "shipment.shipped"}}
    for o in orders:
        mine = [e for e in events if order_key(e) == (o.store, o.sent_id())]
        got = {e["type"] for e in mine}
        if got != want[o.platform]:
            problems.append("%s: the gateway produced %s, expected %s"
                            % (o.number, sorted(got), sorted(want[o.platform])))
        p, c = o.placed, o.placed["customer"]
        items = [(i["name"], i.get("quantity", 1)) for i in p["order"]["items"]]
        for e in mine:
            ec = e.get("customer", {})
            wrong = [k for k in ("first_name", "email", "phone") if ec.get(k) != c.get(k)]
            if o.platform == "shopify" and ec.get("id") != str(c["id"]):
                wrong.append("customer.id")
            if e["order"].get("number") != o.number:
                wrong.append("order.number")
            got_items = [(i.get("name"), i.get("quantity", 1))
                         for i in e["order"].get("items", [])]
            if got_items != items:
                wrong.append("order.items")
            if wrong:
                problems.append("%s %s: %s differ from the sample"
                                % (o.number, e["type"], ", ".join(wrong)))
            if e["type"].startswith("shipment.") and not e.get("shipment", {}).get(
                    "tracking_number"):
                problems.append("%s %s: no tracking number" % (o.number, e["type"]))
    return problems


KIND_ORDER = ("order_confirmation", "order_cancelled", "shipping_update", "delay_notice",
              "review_request", "referral_invite", "return_confirmation", "refund_notice")
SHORT_KIND = {"order_confirmation": "confirmation", "order_cancelled": "cancellation",
              "shipping_update": "shipping", "delay_notice": "delay",
              "review_request": "review", "referral_invite": "referral",
              "return_confirmation": "return", "refund_notice": "refund"}


def show_event(ev):
    """A canonical event, one top-level field a line (wrapped), dimmed."""
    fields = list(ev.items())
    for i, (k, v) in enumerate(fields):
        text = "%s%s: %s%s" % ("{" if i == 0 else " ", json.dumps(k),
                               json.dumps(v, ensure_ascii=False),
                               "," if i < len(fields) - 1 else "}")
        for line in textwrap.wrap(text, WIDTH - 4, subsequent_indent="    ",
                                  break_long_words=False, break_on_hyphens=False):
            say("    %s%s%s" % (DIM, line, RESET))


def list_messages(messages, by_order=False):
    """One line per message, by store: number, kind, channel, language,
    first name and address; confirmations first, or (by_order) each
    order's messages together in the order they are sent."""
    def rank(kind):
        return KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)

    def key(m):
        if by_order:
            return (str(m.get("store_id")), str(m.get("order_number")), rank(m.get("kind")))
        return (str(m.get("store_id")), m.get("kind") != "order_confirmation",
                str(m.get("order_number")))

    stores = collections.OrderedDict()
    for m in sorted(messages, key=key):
        stores.setdefault(m.get("store_name") or str(m.get("store_id")), []).append(m)
    for store, msgs in stores.items():
        say("  %s%s%s" % (BOLD, store, RESET))
        for m in msgs:
            say("    %-10s %-12s %-5s %-2s  %s → %s" % (
                m.get("order_number"), SHORT_KIND.get(m.get("kind"), m.get("kind")),
                m.get("channel"), (m.get("locale") or "")[:2],
                pad(m.get("first_name") or "", 10), m.get("to")))


def run_gateway(st, gw, order_worker, placed, keys):
    """Sends the chosen sample orders through the gateway as their stores'
    platforms would, shows the answers and what the customers received.
    Returns the canonical events the gateway produced for them, and whether
    everything went as it should."""
    rule("The rest of the sample, from the store platforms")
    say(textwrap.fill(
        "Brightwater Tea Co. sells on Shopify and Alpenglow Outdoor on WooCommerce. "
        "%s of the sample's orders reach aftercare as those platforms send them: as "
        "signed webhooks to ingest-gateway, which checks each signature, maps the "
        "payload to canonical events and answers 200 only once Kafka has them. The "
        "bodies are the platforms' documented sample payloads (tests/data/platforms) "
        "with these orders' customers, items and ids. The store settings (STORE_SETTINGS, "
        "%s, which the gateway and the workers all read, each the keys it knows; each "
        "secret in a file beside it):"
        % (NUMBERS.get(len(placed), str(len(placed))).capitalize(),
           gw.env["STORE_SETTINGS"]), WIDTH))
    show_settings(gw.env["STORE_SETTINGS"])
    shop = [ShopifyOrder(p) for p in placed if p["store"]["id"] == SHOPIFY_STORE]
    woo = [WooOrder(p, i % 2 == 1)
           for i, p in enumerate(p for p in placed if p["store"]["id"] == WOO_STORE)]
    orders = shop + woo
    ok, t0 = True, [0.0]  # when the current phase's first webhook went out

    def sent(o, topic, body):
        nonlocal ok
        status, text = send_webhook(gw, o, topic, body, keys[o.platform])
        answer_line(o, status, text)
        if status != 200:
            ok = False

    def arrive(wanted, what):
        """Waits until the sink has a message of each (kind, order)."""
        def have():
            got = {(m.get("kind"), str(m.get("store_id")), str(m.get("order_id")))
                   for m in st.sink_messages()}
            return wanted <= got
        st.wait_until(have, 15, what, interval=0.1)
        return time.monotonic() - t0[0]

    def want(kind, os_):
        return {(kind, o.store, o.sent_id()) for o in os_}

    def duplicates():
        return int(st.metrics(order_worker).value("aftercare_events_duplicate_total"))

    dups_before = duplicates()
    say()
    status, text = platforms.woocommerce_ping(gw.ingest_port, WOO_STORE)
    step("WooCommerce pings a webhook when it is saved (body webhook_id=12, unsigned): "
         "POST /webhooks/woocommerce/%s → %d %s" % (WOO_STORE, status, text))
    ok &= status == 200

    step("Placed: Shopify orders/create, WooCommerce order.created (status processing)")
    t0[0] = time.monotonic()
    for o in orders:
        sent(o, "orders/create" if o.platform == "shopify" else "order.created", o.order())
    say("    → %d order confirmations at the webhook after %.1fs"
        % (len(orders), arrive(want("order_confirmation", orders), "the confirmations")))

    step("Shipped a day later: Shopify fulfillments/create (UPS, tracking number and "
         "link), WooCommerce order.updated (status completed, with a Shipment Tracking "
         "item: %s)" % "; ".join("%s %s" % (o.number, o.carrier()) for o in woo))
    t0[0] = time.monotonic()
    for o in orders:
        if o.platform == "shopify":
            sent(o, "fulfillments/create", o.fulfillment())
        else:
            sent(o, "order.updated", o.completed())
    say("    → %d shipping updates after %.1fs"
        % (len(orders), arrive(want("shipping_update", orders), "the shipping updates")))
    # An order.updated carries the whole order: its order.placed again.
    st.wait_until(lambda: duplicates() >= dups_before + len(woo), 10,
                  "order-worker to drop the repeated order.placed events", interval=0.1)
    say("    → order.updated carries the whole order, so it said order.placed again,")
    say("      with the same event id: order-worker dropped %d duplicates (its metrics)"
        % (duplicates() - dups_before))

    step("Delivered: Shopify fulfillment_events/create, status delivered. The event "
         "names only its fulfillment and order; the gateway completed it with what "
         "orders/create and fulfillments/create told it (customer, number, items; "
         "carrier, tracking)")
    t0[0] = time.monotonic()
    for o in shop:
        sent(o, "fulfillment_events/create", o.delivered())
    consent = [o for o in shop if o.placed["customer"].get("marketing_consent")]
    t = arrive(want("review_request", shop) | want("referral_invite", consent),
               "the review requests and referral invitations")
    say("    → %d review requests and %d referral invitations after %.1fs: due %gs and"
        % (len(shop), len(consent), t, REVIEW_DELAY))
    say("      %gs after deliveries in %s, so long due and sent at once"
        % (REFERRAL_DELAY, datetime.date.fromisoformat(shop[0].delivered()["happened_at"][:10])
           .strftime("%B %Y")))

    victim = shop[0]
    forged = victim.order()
    forged.update({"cancelled_at": _stamp(utc_now()), "cancel_reason": "customer",
                   "financial_status": "refunded"})
    step("A forged orders/cancelled for %s, signed with a guessed secret:" % victim.number)
    status, text = platforms.shopify(gw.ingest_port, SHOPIFY_DOMAIN, secrets.token_hex(16),
                                     "orders/cancelled", forged)
    say("      POST /webhooks/shopify → %s%d %s%s" % (BOLD, status, text, RESET))
    ok &= status == 401

    # What the gateway produced, read back from Kafka, and what came of it.
    keys_ = {(o.store, o.sent_id()) for o in orders}
    produced = [e for e in consume_events(st, ["orders", "shipments"]) if order_key(e) in keys_]
    messages = [m for m in st.sink_messages()
                if (str(m.get("store_id")), str(m.get("order_id"))) in keys_]
    rule("What these customers received (%d messages)" % len(messages))
    list_messages(messages, by_order=True)

    rule("Two of them in full")
    woo_custom = next((o for o in orders if o.platform == "woocommerce" and o.custom_carrier),
                      None)
    for o, kind in ((woo_custom, "shipping_update"), (shop[-1], "review_request")):
        m = next((m for m in messages if o and m.get("kind") == kind
                  and str(m.get("order_id")) == o.sent_id()), None)
        if m:
            say()
            show_message(m)

    rule("What the gateway did")
    mg = st.metrics(gw)
    results = collections.Counter()
    for (name, labels), v in mg.items():
        if name == "aftercare_ingest_requests_total" and v:
            results[dict(labels).get("result")] += int(v)
    types = collections.Counter(e["type"] for e in produced)
    by_type = {k: int(v) for k, v in mg.by_label("aftercare_ingest_events_produced_total",
                                                   "type").items() if v}
    say("  Webhooks answered (its metrics):     %s" % ", ".join(
        "%s %d" % kv for kv in sorted(results.items())))
    for (name, labels), v in sorted(mg.items()):
        if name == "aftercare_ingest_signature_failures_total" and v:
            say("  Signature failures:                  %d   (store %s, %s)"
                % (int(v), dict(labels).get("store"), dict(labels).get("platform")))
    say("  Canonical events produced:           %d   (read back from Kafka)" % len(produced))
    lifecycle = ("order.placed", "shipment.shipped", "shipment.delivered")
    for typ, n in sorted(types.items(), key=lambda kv: (
            lifecycle.index(kv[0]) if kv[0] in lifecycle else 9, kv[0])):
        say("    %-22s %3d%s" % (typ, n, "   (%d of them repeated by order.updated)"
                                 % len(woo) if typ == "order.placed" else ""))
    problems = check_produced(orders, produced)
    counts = {"order.placed": len(orders) + len(woo), "shipment.shipped": len(orders),
              "shipment.delivered": len(shop)}
    if dict(types) != counts:
        problems.append("the gateway produced %s, expected %s" % (dict(types), counts))
    ev = next((e for e in produced if e["type"] == "shipment.delivered"
               and order_key(e) == (shop[1].store, shop[1].sent_id())), None)
    if ev:
        say()
        say("  The shipment.delivered it produced for %s's fulfillment_events/create, as"
            % shop[1].number)
        say("  the workers read it (ids as text, exactly; the customer, order and tracking")
        say("  filled in from what the order's earlier webhooks said):")
        show_event(ev)
    if by_type != dict(types):
        problems.append("the gateway's metrics count other events: %s" % by_type)
    if any(m.get("kind") == "order_cancelled" and str(m.get("order_id")) == victim.sent_id()
           for m in st.sink_messages()):
        problems.append("the forged cancellation reached the customer")
    say()
    if problems or not ok:
        for p in problems:
            say("  !! %s" % p)
        if not ok:
            say("  !! a webhook was not answered as it should have been (above)")
        return produced, False
    say("  %sEvery webhook was answered as it should be; each event carries the sample's%s"
        % (BOLD, RESET))
    say("  %scustomer, number and items of its order; the forged one cancelled nothing.%s"
        % (BOLD, RESET))
    return produced, True


def run(args):
    direct, via_gw = split_sample(read_lines(args.events))
    lines, expected, valid, invalid, dups, sample_events = read_events(direct)
    rule("aftercare demo")
    say(textwrap.fill(
        "aftercare turns a store's order, shipment and return events into the "
        "messages customers get after they buy: order confirmations, shipping "
        "updates, delay notices, return and refund notes. Each message is "
        "personalised and sent exactly once, however often an event arrives.", WIDTH))
    say()
    say("This demo starts, on this machine only:")
    step("devbroker        an in-memory Kafka cluster for development (topics")
    say("                     orders, shipments, returns, notifications and their")
    say("                     .dlq dead-letter topics)")
    step("redis-server     remembers which events and messages were already handled,")
    say("                     what happened to each order, and the messages scheduled")
    say("                     for later")
    step("order-worker     reads `orders` (placed, cancelled, customer feedback),")
    say("                     decides which message each event calls for")
    step("shipment-worker  reads `shipments`: shipping updates, delay notices, and")
    say("                     schedules the review request and referral invitation")
    step("return-worker    reads `returns`: return confirmations and refund notices")
    say("                     (these three also send scheduled messages when due)")
    step("notify-worker    renders each message and POSTs it to the store's webhook")
    step("ingest-gateway   receives the platforms' signed webhooks (Shopify,")
    say("                     WooCommerce, BigCommerce), checks them and produces")
    say("                     canonical events to orders, shipments and returns")
    step("ac-sink          stands in for that webhook and records what arrives")
    step("ac-report        at the end: a store's retention report, from the facts")
    say("                     the workers recorded in Redis as they went")
    say()
    say(textwrap.fill(
        "First a sample of orders (with re-sent duplicates and unreadable records), "
        "most of it produced to Kafka as the store's backend would, %s orders of it "
        "arriving as Shopify and WooCommerce webhooks through the gateway; then four "
        "orders' journeys after the purchase, played live. A review "
        "request normally goes out 7 days after delivery and a referral invitation "
        "after 14; the demo runs the workers with REVIEW_REQUEST_DELAY=%gs and "
        "REFERRAL_DELAY=%gs so they arrive while you watch. Then one customer's "
        "complaint, in one click; and last a record store's year and its retention report."
        % (NUMBERS.get(len(via_gw), len(via_gw)), REVIEW_DELAY, REFERRAL_DELAY), WIDTH))
    say()
    say(textwrap.fill(
        "Note: devbroker is an in-memory development broker; nothing it holds "
        "survives the demo. In production the same workers run unchanged with "
        "KAFKA_BROKERS pointing at a real Kafka cluster and REDIS_URL at a real "
        "Redis.", WIDTH))

    t0, started = time.monotonic(), time.time()
    with Stack(partitions=4, sink_print=True, name="demo") as st:
        # One STORE_SETTINGS for all: the gateway's stores, their support
        # addresses, and the settings of the store the report is about.
        stores, keys = gateway_settings(st)
        settings = os.path.join(st.dir, "stores.json")
        with open(settings, "w") as f:
            json.dump({"stores": demo_report.settings(stores)}, f, ensure_ascii=False)
        # The review requests' rating links point at the gateway.
        ingest_port, rating_secret = stackmod.free_port(), secrets.token_hex(24)
        env = dict(JOURNEY_ENV, STORE_SETTINGS=settings)
        # Started together and waited for together: each takes a moment to
        # join its consumer group, and they need not take it in turn.
        workers = {name: st.start_worker(name, env, wait=False) for name in EVENT_WORKERS}
        workers["notify-worker"] = st.start_worker(
            "notify-worker", {"CLAIM_TTL": "5s", "HTTP_TIMEOUT": "2s", "STORE_SETTINGS": settings,
                              "RATING_SECRET": rating_secret,
                              "RATING_BASE_URL": "http://127.0.0.1:%d" % ingest_port},
            wait=False)
        gateway = st.start_gateway(stores, {"STORE_SETTINGS": settings, "INGEST_PORT": ingest_port,
                                            "RATING_SECRET": rating_secret}, wait=False)
        for w in list(workers.values()) + [gateway]:
            st.wait_ready(w)
        order, notify = workers["order-worker"], workers["notify-worker"]
        say()
        step("stack is up in %.1fs: Kafka at %s, webhook at %s, ingest gateway at "
             "http://127.0.0.1:%d" % (time.monotonic() - t0, st.brokers, st.sink_url,
                                      gateway.ingest_port))

        st.produce("orders", lines)
        step("sent %d records from %s to topic `orders`"
             % (len(lines), os.path.relpath(args.events, os.getcwd())))
        for line in textwrap.wrap(
                "(%d valid events, of which %d re-sent duplicates; %d records that cannot "
                "be read; the sample's other %d orders come through the gateway further "
                "down)" % (valid, dups, invalid, len(via_gw)), WIDTH - 4):
            say("    " + line)

        want = len(expected)
        try:
            st.wait_until(lambda: st.sink_stats()["delivered"] >= want, args.timeout,
                          "%d messages at the webhook" % want, interval=0.1)
            st.wait_until(lambda: len(st.consume("orders.dlq", 200)) >= invalid, 10,
                          "%d records in orders.dlq" % invalid, interval=0.2)
        except StackError as e:
            say("\n!! %s" % e)
            raise
        step("all %d expected messages arrived after %.1fs" % (want, time.monotonic() - t0))

        stats = st.sink_stats()
        messages = st.sink_messages()
        dlq = st.consume("orders.dlq")
        m_order = st.metrics(order)
        m_notify = st.metrics(notify)

        rule("What the customers received (%d messages)" % len(messages))
        list_messages(messages)

        rule("Three of them in full")
        for m in pick_examples(messages):
            say()
            show_message(m)

        rule("Summary of the sample")
        kinds = collections.Counter(m.get("kind") for m in messages)
        say("  Messages delivered to the webhook:   %d" % stats["delivered"])
        for kind, n in sorted(kinds.items()):
            by_ch = collections.Counter(m.get("channel") for m in messages if m.get("kind") == kind)
            say("    %-22s %3d   (%s)" % (kind, n, ", ".join(
                "%d by %s" % (c, ch) for ch, c in sorted(by_ch.items()))))
        say("  Webhook calls that were replays:     %d   (the Idempotency-Key absorbed them)"
            % stats["replays"])
        dedup = int(m_order.value("aftercare_events_duplicate_total"))
        say("  Duplicate events dropped:            %d   (same event_id sent again)" % dedup)
        reasons = collections.Counter(r["headers"].get("ac-dlq-reason") for r in dlq)
        say("  Records dead-lettered to orders.dlq: %d" % len(dlq))
        for r in dlq:
            h = r["headers"]
            raw = record_bytes(r) or b""
            say("    %-14s %s" % (h.get("ac-dlq-reason"), h.get("ac-dlq-detail")))
            say("    %-14s %s(partition %s, offset %s: %r…)%s" % (
                "", DIM, h.get("ac-source-partition"), h.get("ac-source-offset"),
                raw[:40], RESET))
        dead_metric = {k: int(v) for k, v in m_order.by_label(
            "aftercare_events_dead_lettered_total", "reason").items() if v}
        if dead_metric != dict(reasons):
            say("  !! order-worker metrics count dead letters differently: %s" % dead_metric)
        sent = int(m_notify.value("aftercare_messages_sent_total"))
        say("  notify-worker sent (its metrics):    %d" % sent)

        missing = [k for k in expected
                   if not any(m.get("kind") == k[0] and str(m.get("order_id")) == k[1]
                              for m in messages)]
        ok = not missing and stats["delivered"] == want and len(dlq) == invalid
        say()
        if ok:
            say("  %sEvery order got exactly the messages it should, once.%s" % (BOLD, RESET))
        else:
            say("  !! expected %d messages and %d dead letters; missing: %s"
                % (want, invalid, missing))

        gateway_events, gateway_ok = run_gateway(st, gateway, order, via_gw, keys)

        sample_numbers = {str(e["order"].get("number")) for e in sample_events + via_gw}
        stories, told_ok = run_journey(st, sample_numbers)
        rating_events, complaint_ok = demo_report.run_complaint(
            sys.modules[__name__], st, {order_key(e) for e in gateway_events
                                        if order_key(e)[0] == SHOPIFY_STORE})
        journey_ok = check_all(st, workers, sample_events + gateway_events + rating_events,
                               stories, started) and told_ok and complaint_ok
        report, report_ok = demo_report.run_report(sys.modules[__name__], st, notify,
                                                   args.report_dir)
        say("\n  Stopping the stack…")
    say("  Done in %.1fs. The event format is described in docs/events.md," %
        (time.monotonic() - t0))
    say("  the rules of the journey in docs/journey.md, connecting the platforms in")
    say("  docs/platforms.md.")
    if report:
        say("  The retention report of %s:" % demo_report.REPORT_STORE["name"])
        say("  %s%s%s" % (BOLD, demo_report.shown_path(report), RESET))
    return 0 if ok and gateway_ok and journey_ok and report_ok else 1


def check_all(st, workers, sample_events, stories, started):
    """Everything at the webhook against the rules' own statement of what the
    sample and the journeys call for: the same messages, each once, the
    scheduled ones not before they were due."""
    rule("Check")
    journey_events = [e for s in stories for e in s.events]
    expected = expected_messages(list(sample_events) + journey_events, JOURNEY_CFG)
    messages = st.sink_messages()
    stats = st.sink_stats()
    by_id = collections.defaultdict(list)
    for m in messages:
        by_id[m.get("id")].append(m)
    keys = collections.Counter(m.get("_idempotency_key") for m in messages)
    numbers = {(str(e["store"]["id"]), str(e["order"]["id"])): e["order"].get("number")
               for e in list(sample_events) + journey_events if e["order"].get("number")}

    def name(kind, m_or_ev):
        if "order" in m_or_ev:
            key = (str(m_or_ev["store"]["id"]), str(m_or_ev["order"]["id"]))
        else:
            key = (str(m_or_ev.get("store_id")), str(m_or_ev.get("order_id")))
        return "%s for %s" % (kind, numbers.get(key, key[1]))

    problems = []
    for mid in sorted(set(expected) - set(by_id)):
        kind, _, ev = expected[mid]
        problems.append("never arrived: %s" % name(kind, ev))
    for mid in sorted(set(by_id) - set(expected)):
        m = by_id[mid][0]
        problems.append("not called for: %s" % name(m.get("kind"), m))
    for mid, ms in sorted(by_id.items()):
        if len(ms) > 1:
            problems.append("arrived %d times: %s" % (len(ms), name(ms[0].get("kind"), ms[0])))
    for k, n in keys.items():
        if n > 1 and len(by_id.get(k, ())) <= 1:
            problems.append("Idempotency-Key %s used by %d messages" % (k, n))
    late, long_due = [], 0
    for mid, (kind, due, ev) in sorted(expected.items()):
        if mid not in by_id:
            continue
        m = by_id[mid][0]
        if m.get("kind") != kind or str(m.get("order_id")) != str(ev["order"]["id"]):
            problems.append("%s arrived as %s" % (name(kind, ev), name(m.get("kind"), m)))
        if due is None:
            if m.get("due_at"):
                problems.append("%s says it was scheduled (due_at %s)"
                                % (name(kind, ev), m["due_at"]))
            continue
        if not m.get("due_at") or abs(parse_time(m["due_at"]) - due) > 0.002:
            problems.append("%s due at %s, the rules say %s" % (
                name(kind, ev), m.get("due_at"),
                datetime.datetime.fromtimestamp(due, datetime.timezone.utc).isoformat()))
        received = parse_time(m["_received_at"])
        if received + 0.001 < due:
            problems.append("%s came %.3fs early" % (name(kind, ev), due - received))
        if due < started:
            long_due += 1  # due before the demo began: the gateway's 2024 deliveries
        else:
            late.append(received - due)
    if stats["delivered"] != len(expected):
        problems.append("the webhook counted %d deliveries, the rules call for %d"
                        % (stats["delivered"], len(expected)))
    pending = st.scheduled_pending()
    if pending:
        problems.append("still scheduled in Redis: %d message(s)" % pending)

    # What the rules held back, as the event workers count it.
    suppressed, cancelled = collections.Counter(), collections.Counter()
    for name_, w in workers.items():
        if name_ in EVENT_WORKERS:
            m = st.metrics(w)
            for (n, ls), v in m.items():
                ls = dict(ls)
                if n == "aftercare_messages_suppressed_total" and v:
                    suppressed["%s (%s)" % (ls.get("kind"), ls.get("reason"))] += int(v)
                elif n == "aftercare_scheduled_cancelled_total" and v:
                    cancelled[ls.get("kind")] += int(v)
    kinds = collections.Counter(k for k, _, _ in expected.values())
    say("  The rules (expected_messages in tests/integration/test_journey.py, and the")
    say("  complaint rule) call for %d messages for the sample, the four journeys and"
        % len(expected))
    say("  the complaint:")
    for kind, n in sorted(kinds.items()):
        say("    %-22s %3d" % (kind, n))
    say("  Arrived at the webhook:              %d   (%d replays absorbed)"
        % (stats["delivered"], stats["replays"]))
    if late:
        say("  Scheduled messages after their due time: %s"
            % ", ".join("+%.2fs" % x for x in sorted(late)))
    if long_due:
        say("  Scheduled messages long due when their delivery arrived: %d (sent at once)"
            % long_due)
    say("  Held back by the rules (event workers' metrics):")
    for what, n in sorted(suppressed.items()):
        say("    %-36s %3d" % (what, n))
    say("  Scheduled, then cancelled:           %s" % (", ".join(
        "%s %d" % kv for kv in sorted(cancelled.items())) or "none"))
    say()
    if problems:
        for p in problems:
            say("  !! %s" % p)
        return False
    say("  %sExactly the messages the rules call for arrived, each once and none%s"
        % (BOLD, RESET))
    say("  %sbefore it was due; nothing is left scheduled.%s" % (BOLD, RESET))
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(description="Run the aftercare demo.")
    ap.add_argument("--bin", default=None,
                    help="directory of the built binaries (default: $AC_BIN_DIR or build/bin)")
    ap.add_argument("--events", default=DEFAULT_EVENTS, help="JSONL file of order events")
    ap.add_argument("--timeout", type=float, default=25.0,
                    help="seconds to wait for the messages (default 25)")
    ap.add_argument("--report-dir", default=None,
                    help="where the retention report is written and kept (default: "
                    "demo-report/ beside the binaries' directory, e.g. build/demo-report)")
    args = ap.parse_args(argv)
    if args.bin:
        stackmod.BIN_DIR = os.path.abspath(args.bin)
    args.report_dir = os.path.abspath(args.report_dir or
                                      demo_report.report_dir_default(stackmod.BIN_DIR))
    for name in (("devbroker", "ac-sink", "ac-kafka") + EVENT_WORKERS
                 + ("notify-worker", "ingest-gateway", "ac-report")):
        try:
            stackmod.binary(name)
        except StackError as e:
            sys.stderr.write("demo: %s\n" % e)
            return 2
    try:
        return run(args)
    except KeyboardInterrupt:
        sys.stderr.write("\ndemo: interrupted; every process it started has been stopped.\n")
        return 130
    except StackError as e:
        sys.stderr.write("demo: failed: %s\n" % e)
        return 1


if __name__ == "__main__":
    sys.exit(main())
