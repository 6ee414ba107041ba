#!/usr/bin/env python3
"""aftercare demo: a store's order events in, customer messages out.

Starts a complete local stack, feeds it tests/data/sample-events.jsonl and
shows what the customers would receive; then plays four orders' journeys
after the purchase live (shipping, a slipping delivery estimate, delivery,
a return, unhappy feedback), with review requests and referral invitations
due seconds instead of days after delivery. Takes well under a minute;
Ctrl-C at any time stops everything it started.

    python3 tools/demo.py [--bin DIR] [--events FILE] [--timeout SECONDS]

Binaries come from --bin, else $AC_BIN_DIR, else build/bin of this tree.
"""

import argparse
import collections
import datetime
import json
import os
import sys
import textwrap
import time
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import gen_events  # noqa: E402
import stack as stackmod  # noqa: E402
from stack import Stack, StackError, record_bytes  # noqa: E402
# The rules stated independently of the C code (the integration test's
# oracle): the demo checks the journey against them rather than against
# its own idea of what should happen.
from test_journey import expected_messages, topic_of, when as event_time  # noqa: E402

DEFAULT_EVENTS = os.path.join(REPO, "tests", "data", "sample-events.jsonl")

# Review requests and referral invitations normally wait 7 and 14 days after
# delivery; the demo waits seconds so that they really arrive while it runs.
REVIEW_DELAY, REFERRAL_DELAY = 3.0, 6.0
JOURNEY_ENV = {"REVIEW_REQUEST_DELAY": "%gs" % REVIEW_DELAY,
               "REFERRAL_DELAY": "%gs" % REFERRAL_DELAY}
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


def read_events(path):
    """The sample's records, and what a correct pipeline must make of them."""
    with open(path, "rb") as f:
        lines = [l.rstrip(b"\n") for l in f if l.strip()]
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
    for para in (m.get("text") or "").rstrip("\n").split("\n"):
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
         "asked to recommend the store")])

    rule("A scheduled message and a delay notice in full")
    for story, kind in ((happy, "review_request"), (slip, "delay_notice")):
        m = next((m for m in mine[story.number] if m.get("kind") == kind), None)
        if m:
            say()
            show_message(m)
    return stories, ok


def run(args):
    lines, expected, valid, invalid, dups, sample_events = read_events(args.events)
    rule("aftercare demo")
    say(textwrap.fill(
        "aftercare turns a store's order, shipment and return events into the "
        "messages customers get after they buy: order confirmations, shipping "
        "updates, delay notices, return and refund notes. Each message is "
        "personalised and sent exactly once, however often an event arrives.", WIDTH))
    say()
    say("This demo starts, on this machine only:")
    step("devbroker        an in-memory Kafka cluster for development (topics orders,")
    say("                     shipments, returns, notifications and their .dlq")
    say("                     dead-letter topics)")
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
    step("ac-sink          stands in for that webhook and records what arrives")
    say()
    say(textwrap.fill(
        "First a sample of orders (with re-sent duplicates and unreadable records), "
        "then four orders' journeys after the purchase, played live. A review "
        "request normally goes out 7 days after delivery and a referral invitation "
        "after 14; the demo runs the workers with REVIEW_REQUEST_DELAY=%gs and "
        "REFERRAL_DELAY=%gs so they arrive while you watch."
        % (REVIEW_DELAY, REFERRAL_DELAY), WIDTH))
    say()
    say(textwrap.fill(
        "Note: devbroker is an in-memory development broker; nothing it holds "
        "survives the demo. In production the same workers run unchanged with "
        "KAFKA_BROKERS pointing at a real Kafka cluster and REDIS_URL at a real "
        "Redis.", WIDTH))

    t0 = time.monotonic()
    with Stack(partitions=4, sink_print=True, name="demo") as st:
        # Started together and waited for together: each takes a moment to
        # join its consumer group, and they need not take it in turn.
        workers = {name: st.start_worker(name, JOURNEY_ENV, wait=False)
                   for name in EVENT_WORKERS}
        workers["notify-worker"] = st.start_worker(
            "notify-worker", {"CLAIM_TTL": "5s", "HTTP_TIMEOUT": "2s"}, wait=False)
        for w in workers.values():
            st.wait_ready(w)
        order, notify = workers["order-worker"], workers["notify-worker"]
        say()
        step("stack is up in %.1fs: Kafka at %s, webhook at %s"
             % (time.monotonic() - t0, st.brokers, st.sink_url))

        st.produce("orders", lines)
        step("sent %d records from %s to topic `orders`"
             % (len(lines), os.path.relpath(args.events, os.getcwd())))
        say("    (%d valid events, of which %d re-sent duplicates; %d records that "
            "cannot be read)" % (valid, dups, invalid))

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
        stores = collections.OrderedDict()
        for m in sorted(messages, key=lambda m: (str(m.get("store_id")),
                                                 m.get("kind") != "order_confirmation",
                                                 str(m.get("order_number")))):
            ev = next((e for (k, oid), e in expected.items()
                       if k == m.get("kind") and oid == str(m.get("order_id"))), None)
            store = ev["store"]["name"] if ev else str(m.get("store_id"))
            stores.setdefault(store, []).append(m)
        for store, msgs in stores.items():
            say("  %s%s%s" % (BOLD, store, RESET))
            for m in msgs:
                kind = {"order_confirmation": "confirmation",
                        "order_cancelled": "cancellation"}.get(m.get("kind"), m.get("kind"))
                say("    %-10s %-12s %-5s %-2s  %s → %s" % (
                    m.get("order_number"), kind, m.get("channel"),
                    (m.get("locale") or "")[:2], pad(m.get("first_name") or "", 10),
                    m.get("to")))

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

        sample_numbers = {str(e["order"].get("number")) for e in sample_events}
        stories, told_ok = run_journey(st, sample_numbers)
        journey_ok = check_all(st, workers, sample_events, stories) and told_ok
        say("\n  Stopping the stack…")
    say("  Done in %.1fs. The event format is described in docs/events.md," %
        (time.monotonic() - t0))
    say("  the rules of the journey in docs/journey.md.")
    return 0 if ok and journey_ok else 1


def check_all(st, workers, sample_events, stories):
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
               for e in list(sample_events) + journey_events}

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
    late = []
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
        late.append(received - due)
    if stats["delivered"] != len(expected):
        problems.append("the webhook counted %d deliveries, the rules call for %d"
                        % (stats["delivered"], len(expected)))
    pending = st.redis_command("ZCARD", "ac:sched").strip()
    if pending != b":0":
        problems.append("still scheduled in Redis (ZCARD ac:sched): %s"
                        % pending.decode(errors="replace"))

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
    say("  The rules (expected_messages in tests/integration/test_journey.py) call for")
    say("  %d messages for the sample and the four journeys:" % len(expected))
    for kind, n in sorted(kinds.items()):
        say("    %-22s %3d" % (kind, n))
    say("  Arrived at the webhook:              %d   (%d replays absorbed)"
        % (stats["delivered"], stats["replays"]))
    if late:
        say("  Scheduled messages after their due time: %s"
            % ", ".join("+%.2fs" % x for x in sorted(late)))
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
    args = ap.parse_args(argv)
    if args.bin:
        stackmod.BIN_DIR = os.path.abspath(args.bin)
    for name in ("devbroker", "ac-sink", "ac-kafka") + EVENT_WORKERS + ("notify-worker",):
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
