"""The end of the demo (tools/demo.py): one customer's complaint, sent by
a click on a star of a review request, and a store's retention report.

Kept apart from demo.py, which passes itself in as `ui` (say, rule, step,
show_message, BOLD, DIM, RESET, WIDTH) so that both phases speak as the
rest of the demo does.

    settings(...)            the STORE_SETTINGS every process of the demo reads
    expected_messages(...)   the journey's rules (tests/integration/test_journey.py)
                             with the complaint rule added where they lack it
    run_complaint(...)       a 1-star click on a rating link, and what came of it
    run_report(...)          a year of Report Records' history, then ac-report
"""

import collections
import datetime
import json
import os
import re
import subprocess
import textwrap
import time
import urllib.error
import urllib.request

import stack as stackmod
import test_report
from stack import StackError, record_bytes
from test_journey import expected_messages as journey_rules, message_id, when as event_time

# Where each store hears of a complaint (a store_alert): its "support"
# setting. Report Records, the store whose year the report covers, is the
# test's (tests/integration/test_report.py), with its settings: review
# requests a week after delivery, no referral invitations, and a share of
# its customers held out of the review requests to measure what they do.
SUPPORT = {"st_brightwater": "care@brightwater-tea.example",
           "st_alpenglow": "service@alpenglow.example",
           "st_northside": "help@northside-records.example"}
REPORT_STORE = test_report.STORE
REPORT_SETTINGS = {"review_request_delay": "7d", "referral_invites": False,
                   "holdout": {"review_request": test_report.HOLDOUT_PCT},
                   "support": test_report.SUPPORT}
UNHAPPY = 3  # a first rating of 3 or less is a complaint (common/journey.h)


def settings(stores):
    """The demo's STORE_SETTINGS, from the gateway's stores (identity and
    platform secrets): each store's support address added, and Report
    Records with its own settings. One file: the workers read the keys
    they know, the gateway its own."""
    out = collections.OrderedDict()
    for sid, s in stores.items():
        out[sid] = collections.OrderedDict(s)
    for sid, addr in SUPPORT.items():
        out.setdefault(sid, collections.OrderedDict())["support"] = addr
    out[REPORT_STORE["id"]] = collections.OrderedDict(
        [(k, REPORT_STORE[k]) for k in ("name", "locale", "timezone")] +
        list(REPORT_SETTINGS.items()))
    return out


def expected_messages(events, cfg):
    """{message id: (kind, due or None, event)} as test_journey's rules
    state them, plus what a complaint brings (common/rules.c, complaint()),
    where those rules do not say it yet: when an order's first rating is 3
    or less, an apology to the customer at once (feedback_followup) and an
    alert to the store's support address (store_alert), if it has one."""
    out = journey_rules(events, cfg)
    first = {}
    for ev in events:
        if ev.get("type") == "feedback.received":
            key = (str(ev["store"]["id"]), str(ev["order"]["id"]))
            if key not in first or event_time(ev) < event_time(first[key]):
                first[key] = ev
    for (store, order), ev in first.items():
        if ev["feedback"]["rating"] > UNHAPPY:
            continue
        kinds = ["feedback_followup"] + (["store_alert"] if store in SUPPORT else [])
        for kind in kinds:
            out.setdefault(message_id(kind, store, order), (kind, None, ev))
    return out


# --------------------------------------------------------------------------
# A complaint, in one click.

RATING_LINK = re.compile(r"(https?://\S+/r/)([A-Za-z0-9_.-]+)(\?\S*)?")


def short_links(text):
    """Rating links with their tokens cut to a few characters: a token is
    some 200 opaque characters, which would fill the screen."""
    def cut(m):
        tok = m.group(2)
        if len(tok) <= 24:
            return m.group(0)
        return "%s%s…%s%s" % (m.group(1), tok[:10], tok[-6:], m.group(3) or "")
    return RATING_LINK.sub(cut, text)


def one_star_link(message):
    """The ★☆☆☆☆ link of a review request's text, or None."""
    for line in (message.get("text") or "").splitlines():
        if line.startswith("★☆☆☆☆ "):
            return line.split(None, 1)[1].strip()
    return None


def page_heading(body):
    m = re.search(r"<h1[^>]*>(.*?)</h1>", body, re.S) or re.search(r"<title>(.*?)</title>",
                                                                 body, re.S)
    return re.sub(r"<[^>]+>|\s+", " ", m.group(1)).strip() if m else body[:60]


def show_brief(ui, m, lines=5):
    """A message's kind, address, subject and first lines."""
    ui.say("  %s%s%s  ·  %s  ·  to %s" % (ui.BOLD, m.get("kind"), ui.RESET, m.get("channel"),
                                          m.get("to")))
    if m.get("subject"):
        ui.say("  Subject: %s" % m["subject"])
    text = [l for l in (m.get("text") or "").rstrip("\n").split("\n")]
    shown = []
    for para in text:
        shown += textwrap.wrap(para, ui.WIDTH - 8, break_on_hyphens=False) or [""]
    for line in shown[:lines]:
        ui.say("  %s│%s %s" % (ui.DIM, ui.RESET, line))
    if len(shown) > lines:
        ui.say("  %s│ … (%d more lines)%s" % (ui.DIM, len(shown) - lines, ui.RESET))


def run_complaint(ui, st, orders):
    """The customer of one of orders ((store id, order id) pairs; the one
    with the highest number whose review request has rating links) clicks
    its first star, as a browser would: GET /r/{token} on ingest-gateway.
    Shows the page's answer, the feedback.received it produced and the two
    messages it brought. Returns the events it produced and whether all
    went as it should."""
    ui.rule("A complaint, in one click")
    reviews = sorted((m for m in st.sink_messages()
                      if m.get("kind") == "review_request" and one_star_link(m)
                      and (str(m.get("store_id")), str(m.get("order_id"))) in orders),
                     key=lambda m: str(m.get("order_number")))
    if not reviews:
        ui.say("  !! no review request of orders %s carries rating links" % sorted(orders))
        return [], False
    review = reviews[-1]
    key = (str(review.get("store_id")), str(review.get("order_id")))
    store_id = key[0]
    link = one_star_link(review)
    ui.say(textwrap.fill(
        "Each review request by email carries five one-click rating links, one per star: "
        "notify-worker signs them (RATING_SECRET) and ingest-gateway answers them "
        "(GET /r/{token}), turning a click into a feedback.received event on `orders`. "
        "A rating of 3 or less is a complaint: the customer gets an apology at once, and "
        "the store's support address (its \"support\" in STORE_SETTINGS) an alert, so that "
        "a person follows it up the same day.", ui.WIDTH))
    ui.say()
    ui.step("%s of %s opens the review request of order %s (in full above) and "
            "clicks the first star, a link of %d characters whose token names the store, "
            "order, customer and message, signed:" % (
                review.get("first_name"), review.get("store_name"),
                review.get("order_number"), len(link)))
    ui.say("      ★☆☆☆☆ %s" % short_links(link))
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(link, timeout=10) as r:
            status, ctype, body = r.status, r.headers.get("Content-Type"), r.read().decode()
    except urllib.error.HTTPError as e:
        status, ctype, body = e.code, e.headers.get("Content-Type"), e.read().decode()
    ok = status == 200
    for i, line in enumerate(textwrap.wrap("GET → %d %s: a page saying \"%s\"%s" % (
            status, ctype, page_heading(body),
            ", with a form asking what went wrong" if "<textarea" in body else ""),
            ui.WIDTH - 6, break_on_hyphens=False)):
        ui.say("      " + line)

    def arrived():
        got = {m.get("kind"): m for m in st.sink_messages()
               if (str(m.get("store_id")), str(m.get("order_id"))) == key}
        return got if {"feedback_followup", "store_alert"} <= set(got) else None
    try:
        got = st.wait_until(arrived, 15, "the follow-up and the alert", interval=0.1)
    except StackError as e:
        ui.say("  !! %s" % e)
        return [], False
    took = time.monotonic() - t0
    events = [json.loads(record_bytes(r)) for r in st.consume("orders", 100)
              if r.get("key") == key[1]]
    events = [e for e in events if e.get("type") == "feedback.received"]
    for ev in events[:1]:
        ui.step("the gateway produced %s to `orders`: rating %s, source %s, event id %s"
                % (ev["type"], ev["feedback"].get("rating"), ev["feedback"].get("source"),
                   ev["event_id"]))
    ok &= len(events) == 1 and events[0]["feedback"].get("rating") == 1
    ui.step("order-worker decided, notify-worker sent; both at the webhook %.1fs after "
            "the click:" % took)
    for kind in ("feedback_followup", "store_alert"):
        ui.say()
        show_brief(ui, got[kind])
    if got["store_alert"].get("to") != SUPPORT.get(store_id):
        ui.say("  !! the alert went to %s, not to %s" % (got["store_alert"].get("to"),
                                                        SUPPORT.get(store_id)))
        ok = False
    return events, ok


# --------------------------------------------------------------------------
# A year of Report Records, and its report.

def report_dir_default(bin_dir):
    """demo-report/ beside the binaries' directory: build/demo-report."""
    return os.path.join(os.path.dirname(os.path.abspath(bin_dir)), "demo-report")


def ac_report(st, *args):
    r = subprocess.run([stackmod.binary("ac-report"), "--store", REPORT_STORE["id"]] +
                       list(args), env=dict(os.environ, REDIS_URL=st.redis_url),
                       capture_output=True, timeout=120)
    return r.returncode, r.stdout.decode("utf-8", "replace"), r.stderr.decode("utf-8", "replace")


def pct(x):
    return "–" if x is None else "%.1f %%" % x


def points(u):
    """An uplift: its value, and what it means."""
    if not u:
        return "–", "too few customers to tell"
    return "%+.1f" % u["difference"], "points (95 %% interval %+.1f to %+.1f)" % (
        u["ci95_low"], u["ci95_high"])


def day(iso_date):
    """2026-03-01 → 1 Mar."""
    try:
        return datetime.date.fromisoformat(iso_date).strftime("%-d %b")
    except (TypeError, ValueError):
        return str(iso_date)


def shown_path(path):
    rel = os.path.relpath(path)
    return rel if not rel.startswith("..") else path


def run_report(ui, st, notify, report_dir):
    """Produces the generated year of Report Records to the topics, waits
    until the workers have handled every message it calls for, then runs
    ac-report (JSON and HTML) and shows a few figures. Returns the HTML
    report's path (None if ac-report failed) and whether the JSON matches
    the figures test_report.expected() computes from the generated facts."""
    T = test_report
    ui.rule("The store's retention report")
    t0 = time.monotonic()
    h = T.History(T.SEED)
    events = h.events()
    want = T.expected(h)
    by_topic = collections.Counter(t for t, _ in events)
    delivered = sum(1 for o in h.orders if o["delivered"])
    rated = collections.Counter(o["rating"][1] for o in h.orders if o["rating"])
    repeat = sum(1 for n in collections.Counter(o["customer"] for o in h.orders).values() if n > 1)
    ui.say(textwrap.fill(
        "%s (%s), a record store in %s, has a year behind it: %s customers "
        "between %s and %s, %s of them ordering more than once; %s orders, %s "
        "deliveries, returns, and %s ratings of every star (%s) after the review "
        "requests. The history is generated (History in tests/integration/test_report.py) "
        "and produced to the topics as the store's backend would, with the times it "
        "happened; the workers record the facts the report is computed from as they go. "
        "The store's settings above: review requests a week after delivery, %d %% of its "
        "customers held out of them (a control group, to measure what they do), "
        "complaints to %s." % (
            REPORT_STORE["name"], REPORT_STORE["id"], REPORT_STORE["timezone"].split("/")[-1]
            .replace("_", " "), "{:,}".format(len(h.customers)),
            T.HISTORY_FROM.strftime("%B %Y"), T.HISTORY_TO.strftime("%B %Y"),
            "{:,}".format(repeat), "{:,}".format(len(h.orders)), "{:,}".format(delivered),
            "{:,}".format(sum(rated.values())),
            ", ".join("%d★ %d" % (s, rated[s]) for s in range(1, 6)), T.HOLDOUT_PCT,
            T.SUPPORT), ui.WIDTH))
    ui.say()

    def handled():
        m = st.metrics(notify)
        return (m.value("aftercare_messages_sent_total") +
                m.value("aftercare_messages_suppressed_total"),
                m.value("aftercare_in_flight"))
    base = handled()[0]
    # Every confirmation, review request (sent or held out), return
    # confirmation, and two messages per complaint reach notify-worker.
    n_messages = len(h.orders) + delivered + sum(1 for o in h.orders if o["returned"]) + \
        2 * sum(1 for o in h.orders if o["rating"] and o["rating"][1] <= UNHAPPY)
    for topic in ("orders", "shipments", "returns"):
        st.produce(topic, [e for t, e in events if t == topic])
    ui.step("produced %s events: %s" % ("{:,}".format(len(events)), ", ".join(
        "%s to `%s`" % ("{:,}".format(by_topic[t]), t)
        for t in ("orders", "shipments", "returns"))))

    def settled():
        done, in_flight = handled()
        return done - base >= n_messages and in_flight == 0
    try:
        st.wait_until(settled, 90, "%d messages sent or held out" % n_messages, interval=0.25)
    except StackError as e:
        ui.say("  !! %s" % e)
        return None, False
    ui.step("the workers handled all %s messages the history calls for after %.1fs: the "
            "review requests were long due, so they went out (or were held out) at once"
            % ("{:,}".format(n_messages), time.monotonic() - t0))

    os.makedirs(report_dir, exist_ok=True)
    sid = REPORT_STORE["id"]
    period = ["--from", T.FROM.isoformat(), "--to", T.TO.isoformat()]
    paths = {fmt: os.path.join(report_dir, "report-%s.%s" % (sid, fmt)) for fmt in ("json", "html")}
    t1 = time.monotonic()
    for fmt in ("html", "json"):
        rc, _, err = ac_report(st, *(period + ["--format", fmt, "--out", paths[fmt]]))
        if rc != 0:
            ui.say("  !! ac-report --format %s failed (exit %d): %s" % (fmt, rc, err.strip()))
            return None, False
    ui.step("ac-report --store %s %s --format html --out %s; then the same with --format "
            "json for the figures: %.2fs" % (sid, " ".join(period), shown_path(paths["html"]),
                                             time.monotonic() - t1))
    with open(paths["json"], encoding="utf-8") as f:
        got = json.load(f)

    problems = ["%s: the report says %s, the history %s" % (k, json.dumps(got.get(k))[:200],
                                                          json.dumps(v)[:200])
                for k, v in want.items() if got.get(k) != v]
    if got.get("store") != sid or got.get("timezone") != REPORT_STORE["timezone"]:
        problems.append("store/timezone: %s/%s" % (got.get("store"), got.get("timezone")))

    prev = got.get("previous_period") or {}
    ho = got["holdout"]["review_request"]
    complaints = sum(got.get("messages", {}).get("feedback_followup", {}).values())
    ui.say()
    ui.say("  %s%s, %s to %s (%s):%s" % (
        ui.BOLD, REPORT_STORE["name"], T.FROM.strftime("%-d %B"), T.TO.strftime("%-d %B %Y"),
        got.get("timezone"), ui.RESET))
    rows = [
        ("Orders", "{:,}".format(got["orders"]),
         "by %s customers, %s of them new" % ("{:,}".format(got["customers"]),
                                              "{:,}".format(got["new_customers"]))),
        ("Repeat-purchase rate", pct(got["repeat_purchase_rate"]),
         "%s customers ordered again" % got["repeat_customers"]),
        ("Customer retention rate", pct(got["customer_retention_rate"]),
         "of the %s who ordered %s–%s" % (got["previous_customers"], day(prev.get("from")),
                                          day(prev.get("to")))),
        ("Return rate", pct(got["return_rate"]), "%s orders returned" % got["returned_orders"]),
        ("Ratings", "{:,}".format(sum(got["ratings"].values())),
         "  ".join("%s★ %s" % (s, got["ratings"][s]) for s in "12345")),
        ("CSAT", pct(got["csat"]), "rated 4 or 5 stars"),
        ("Complaints", str(complaints), "an apology and an alert for each"),
        ("Review request responses", pct(got["review_request_response_rate"]),
         "%s of %s rated within 14 days" % (got["review_requests_rated"],
                                            got["review_requests_sent"])),
    ]
    for name, value, note in rows:
        ui.say("    %-24s %7s   %s%s%s" % (name, value, ui.DIM, note, ui.RESET))
    ui.say("    %-24s %7s   %s%s got one, %s held out (%d %%)%s" % (
        "Review requests' effect", "", ui.DIM, ho["messaged"]["customers"],
        ho["held_out"]["customers"], T.HOLDOUT_PCT, ui.RESET))
    for name, u in (("on repeat purchases", ho["repeat_purchase_uplift"]),
                    ("on CSAT", ho["csat_uplift"])):
        ui.say("      %-22s %7s   %s" % ((name,) + points(u)))
    ui.say()
    ui.say("  The report:    %s%s%s" % (ui.BOLD, shown_path(paths["html"]), ui.RESET))
    ui.say("                 file://%s" % os.path.abspath(paths["html"]))
    ui.say("  Its figures:   %s" % shown_path(paths["json"]))
    if problems:
        for p in problems:
            ui.say("  !! %s" % p)
        return paths["html"], False
    ui.say("  %sEvery figure (%d fields) matches what expected() in test_report.py computes%s"
           % (ui.BOLD, len(want), ui.RESET))
    ui.say("  %sfrom the generated facts on its own.%s" % (ui.BOLD, ui.RESET))
    return paths["html"], True
