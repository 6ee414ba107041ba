"""Templates of realistic events for ac-bench-kafka, and reading a
process's peak memory.

The templates are events from tests/integration/gen_events.py (three
stores, German and English customers, email and SMS, one to four items)
with the ids that must be unique per record replaced by ac-bench-kafka's
placeholders: the event id carries the time the record was produced
({{us}}) and its sequence number ({{seq}}), every record is its own order
({{seq}}), and about four orders share a customer ({{cust}}). An order id
or customer id that is a number in the store's events stays a number.
"""

import datetime
import os
import re
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))

import gen_events  # noqa: E402

EVENT_ID_RE = re.compile(r"^evt_b(\d{16})-(\d{12})$")


def _templated(ev):
    """One template line (bytes) from an event dict."""
    ev["event_id"] = "@@EVENT_ID@@"
    order_numeric = not isinstance(ev["order"]["id"], str)
    ev["order"]["id"] = "@@ORDER_ID@@"
    customer_numeric = not isinstance(ev["customer"]["id"], str)
    ev["customer"]["id"] = "@@CUSTOMER_ID@@"
    line = gen_events.encode(ev)
    line = line.replace(b'"@@EVENT_ID@@"', b'"evt_b{{us}}-{{seq}}"')
    line = line.replace(b'"@@ORDER_ID@@"',
                        b"9{{seq}}" if order_numeric else b'"ord_{{seq}}a4816a69"')
    line = line.replace(b'"@@CUSTOMER_ID@@"',
                        b"7{{cust}}" if customer_numeric else b'"cus_{{cust}}"')
    return line


def order_templates(n=1000, seed=4711):
    """order.placed events: each becomes an order confirmation."""
    return [_templated(e) for e in gen_events.orders_placed(n, seed)]


def shipment_templates(n=1000, seed=4711):
    """shipment.shipped events of the shape docs/events.md shows (the order
    without its items or currency, the customer without a time zone): each
    becomes a shipping update."""
    out = []
    for p in gen_events.orders_placed(n, seed):
        when = gen_events._parse_time(p["occurred_at"]) + datetime.timedelta(days=1)
        ev = gen_events.shipment(p, "shipment.shipped", when)
        for field in ("items", "currency"):
            ev["order"].pop(field, None)
        ev["customer"].pop("timezone", None)
        out.append(_templated(ev))
    return out


def delivered_events(n=1000, seed=4711):
    """shipment.delivered events of n orders, as shipment-worker consumes
    them (the order with its items, the customer, the parcel): each
    schedules a review request and a referral invitation. Lines (bytes)."""
    out = []
    for p in gen_events.orders_placed(n, seed):
        when = gen_events._parse_time(p["occurred_at"]) + datetime.timedelta(days=3)
        out.append(gen_events.encode(gen_events.shipment(p, "shipment.delivered", when)))
    return out


def rendered_size(template):
    """The size of a record made from the template."""
    return (len(template) - template.count(b"{{seq}}") * 7 + template.count(b"{{seq}}") * 12
            - template.count(b"{{cust}}") * 8 + template.count(b"{{cust}}") * 12
            - template.count(b"{{us}}") * 6 + template.count(b"{{us}}") * 16)


def write_templates(path, templates):
    with open(path, "wb") as f:
        for t in templates:
            assert b"\n" not in t
            f.write(t + b"\n")
    return statistics.median(rendered_size(t) for t in templates)


def produced_us(event_id):
    """The produce time (microseconds since the epoch) in an event id made
    from a template, or None."""
    m = EVENT_ID_RE.match(event_id or "")
    return int(m.group(1)) if m else None


# --------------------------------------------------------------- helpers

def vm_hwm_kib(pid):
    """Peak resident set size of a process (VmHWM), in KiB."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--delivered":
        # ac-bench-schedule --events: tools/bench/run.sh writes the file.
        with open(sys.argv[2], "wb") as f:
            for line in delivered_events():
                f.write(line + b"\n")
        sys.exit(0)
    for name, ts in (("order.placed", order_templates()), ("shipment.shipped",
                                                           shipment_templates())):
        sizes = sorted(rendered_size(t) for t in ts)
        print("%s: median %d B, min %d, max %d" % (name, statistics.median(sizes), sizes[0],
                                                   sizes[-1]))
    print(order_templates(1)[0].decode())
    print(shipment_templates(1)[0].decode())
