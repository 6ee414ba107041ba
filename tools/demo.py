#!/usr/bin/env python3
"""aftercare demo: a store's order events in, customer messages out.

Starts a complete local stack, feeds it tests/data/sample-events.jsonl and
shows what the customers would receive. Takes well under a minute; Ctrl-C
at any time stops everything it started.

    python3 tools/demo.py [--bin DIR] [--events FILE] [--timeout SECONDS]

Binaries come from --bin, else $AC_BIN_DIR, else build/bin of this tree.
"""

import argparse
import collections
import json
import os
import sys
import textwrap
import time
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import stack as stackmod  # noqa: E402
from stack import Stack, StackError, record_bytes  # noqa: E402

DEFAULT_EVENTS = os.path.join(REPO, "tests", "data", "sample-events.jsonl")

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
    say("  %s•%s %s" % (BOLD, RESET, text))


def read_events(path):
    """The sample's records, and what a correct pipeline must make of them."""
    with open(path, "rb") as f:
        lines = [l.rstrip(b"\n") for l in f if l.strip()]
    expected, seen_events, valid, invalid, dups = {}, set(), 0, 0, 0
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
        kind = {"order.placed": "order_confirmation",
                "order.cancelled": "order_cancelled"}.get(ev.get("type"))
        if kind:
            expected[(kind, str(ev["order"]["id"]))] = ev
    return lines, expected, valid, invalid, dups


def show_message(m):
    """One delivered message, as the customer would see it."""
    lang = {"de": "German", "en": "English"}.get((m.get("locale") or "")[:2], m.get("locale"))
    say("  %s%s%s  ·  %s  ·  %s  ·  order %s" % (
        BOLD, m.get("kind"), RESET, m.get("channel"), lang, m.get("order_number")))
    say("  To:      %s" % m.get("to"))
    if m.get("subject"):
        say("  Subject: %s" % m["subject"])
    say("  %s┌%s%s" % (DIM, "─" * (WIDTH - 4), RESET))
    for para in (m.get("text") or "").rstrip("\n").split("\n"):
        wrapped = textwrap.wrap(para, WIDTH - 8, replace_whitespace=False,
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


def run(args):
    lines, expected, valid, invalid, dups = read_events(args.events)
    rule("aftercare demo")
    say(textwrap.fill(
        "aftercare turns a store's order, shipment and return events into the "
        "messages customers get after they buy: order confirmations, shipping "
        "updates, delay notices, return and refund notes. Each message is "
        "personalised and sent exactly once, however often an event arrives.", WIDTH))
    say()
    say("This demo starts, on this machine only:")
    step("devbroker      an in-memory Kafka cluster for development (topics orders,")
    say("                   notifications and their .dlq dead-letter topics)")
    step("redis-server   remembers which events and messages were already handled")
    step("order-worker   reads `orders`, decides which message each event calls for")
    step("notify-worker  renders each message and POSTs it to the store's webhook")
    step("ac-sink        stands in for that webhook and records what arrives")
    say()
    say(textwrap.fill(
        "Note: devbroker is an in-memory development broker; nothing it holds "
        "survives the demo. In production the same workers run unchanged with "
        "KAFKA_BROKERS pointing at a real Kafka cluster and REDIS_URL at a real "
        "Redis.", WIDTH))

    t0 = time.monotonic()
    with Stack(partitions=4, sink_print=True, name="demo") as st:
        order = st.start_worker("order-worker", wait=False)
        notify = st.start_worker("notify-worker", {"CLAIM_TTL": "5s", "HTTP_TIMEOUT": "2s"},
                                 wait=False)
        st.wait_ready(order)
        st.wait_ready(notify)
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

        rule("Summary")
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
        say("\n  Stopping the stack…")
    say("  Done in %.1fs. The event format is described in docs/events.md." %
        (time.monotonic() - t0))
    return 0 if ok else 1


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
    for name in ("devbroker", "ac-sink", "ac-kafka", "order-worker", "notify-worker"):
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
