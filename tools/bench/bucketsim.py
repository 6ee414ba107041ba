#!/usr/bin/env python3
"""bucketsim: the schedule buckets' load at a given size, without Redis.

Scheduled messages sit beside their order's journey; their due times sit in
SCHEDULE_BUCKETS sorted sets, the bucket being the journey key's Redis
Cluster slot modulo the bucket count (common/schedule.c). Each bucket is a
hash-tagged key, ac:sched:{b<n>}, on the slot of "b<n>". Every event worker
fires: every FIRE_INTERVAL it runs the take script once in every bucket and
ZCARDs every bucket for a gauge, taking at most 500 // buckets items from
each (common/schedule_take.c, common/fire.c).

This script places a deterministic sample of realistic journey keys
(ac:j:<len>:<store>:<order>) in the buckets, scales the sample up to the
pending count, maps buckets and journey slots to the masters of a cluster
made by `redis-cli --cluster create` (contiguous, nearly equal slot ranges),
and reports:

  - pending items per bucket (min, mean, max, imbalance, sampling error);
  - per master: buckets held, bucket entries and order-side items, memory;
  - due items per second at the daily peak, per bucket and per master;
  - the take-round load per master with R firers, idle and at the peak,
    and whether the per-bucket share of a round keeps up;
  - optionally, the same for other bucket counts (--compare).

The memory and Redis-CPU constants are measurements (see MEASURED below and
docs/capacity.md). Python 3 standard library only, and the Redis Cluster
key slots of tests/integration/redisslot.py.
"""

import argparse
import binascii
import math
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))

from redisslot import CLUSTER_SLOTS as SLOTS, crc16, key_slot  # noqa: E402

# Measured on Redis 7.0.15 (jemalloc), this repository's ac-bench-schedule
# with 200,000 pending items and 1,200-byte records; docs/capacity.md.
MEASURED = {
    # used_memory growth per pending item (all its keys).
    "bytes_per_item": 2216,
    # MEMORY USAGE of the two bucket sorted sets, per entry (155 B each).
    "bucket_bytes_per_item": 311,
    # Redis main-thread time per idle take-script call, pipelined
    # (redis-benchmark -P 16: 159,000 calls/s; the script alone 4.4 us).
    "take_idle_us": 6.3,
    # The same for a ZCARD of a bucket (539,000 calls/s; 0.08 us alone).
    "zcard_us": 1.9,
}


# --- CRC16 XMODEM and Redis Cluster slots (tests/integration/redisslot.py) ---

def self_check():
    """The check values: CRC16 XMODEM of "123456789" and Redis's own
    CLUSTER KEYSLOT examples. Returns a fast CRC equal to crc16."""
    assert crc16(b"123456789") == 0x31C3, "crc16 check value"
    assert key_slot("foo") == 12182, "slot of foo"
    assert key_slot("{user1000}.following") == key_slot("{user1000}.followers")
    assert key_slot("foo{}{bar}") == crc16(b"foo{}{bar}") % SLOTS
    # binascii.crc_hqx with init 0 is the same CRC, in C: use it when it
    # agrees on the check value and on sample keys.
    fast = lambda data: binascii.crc_hqx(data, 0)  # noqa: E731
    probe = [b"123456789", b"foo", b"ac:j:12:st_alpenglow:5600000010400123"]
    probe += [("ac:j:9:st_%05d:ord_%d" % (i, i * 7919)).encode() for i in range(1000)]
    if all(fast(p) == crc16(p) for p in probe):
        return fast
    return crc16


# --- the cluster ----------------------------------------------------------

def cluster_ranges(masters):
    """Slot ranges as `redis-cli --cluster create` assigns them to masters
    (redis-cli.c: a float cursor, lround of each range's end), checked
    against redis-cli 7.0.15 for 3, 6 and 12 masters."""
    per = SLOTS / masters
    ranges, first, cursor = [], 0, 0.0
    for i in range(masters):
        last = int(math.floor(cursor + per - 1 + 0.5))
        if last > SLOTS or i == masters - 1:
            last = SLOTS - 1
        if last < first:
            last = first
        ranges.append((first, last))
        first = last + 1
        cursor += per
    return ranges


def slot_owner(ranges):
    owner = [0] * SLOTS
    for node, (a, b) in enumerate(ranges):
        for s in range(a, b + 1):
            owner[s] = node
    return owner


# --- the keys -------------------------------------------------------------

PLATFORMS = (  # share of stores, order id style
    ("shopify", 0.55),       # 13-digit integers, rising with gaps
    ("woocommerce", 0.25),   # small rising integers
    ("bigcommerce", 0.10),   # small rising integers
    ("own", 0.10),           # "ord_" and 20 hex digits
)


def make_stores(rng, n, only=None):
    """n stores with ids, a platform (only, if given), a first order number,
    and a Zipf-like share of the orders (store k gets weight 1 / k**1.1)."""
    stores = []
    names = set()
    for k in range(n):
        while True:
            name = "st_" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz")
                                   for _ in range(rng.randint(4, 14)))
            if name not in names:
                names.add(name)
                break
        r, acc, platform = rng.random(), 0.0, PLATFORMS[-1][0]
        for p, share in PLATFORMS:
            acc += share
            if r < acc:
                platform = p
                break
        platform = only or platform
        start = {"shopify": rng.randrange(4_000_000_000_000, 6_000_000_000_000),
                 "woocommerce": rng.randrange(100, 500_000),
                 "bigcommerce": rng.randrange(100, 200_000)}.get(platform, 0)
        stores.append([name, platform, start, 1.0 / (k + 1) ** 1.1])
    return stores


def journey_keys(rng, stores, count):
    """count journey keys of distinct orders, stores chosen by their share,
    each store's ids in its platform's style (docs/redis.md: ac:j:<len>:...)."""
    weights = [s[3] for s in stores]
    picks = rng.choices(range(len(stores)), weights=weights, k=count)
    for i in picks:
        s = stores[i]
        name, platform = s[0], s[1]
        if platform == "shopify":
            s[2] += rng.randrange(1, 2000)
            order = str(s[2])
        elif platform in ("woocommerce", "bigcommerce"):
            s[2] += 1
            order = str(s[2])
        else:
            order = "ord_%020x" % rng.getrandbits(80)
        yield ("ac:j:%d:%s:%s" % (len(name), name, order)).encode()


# --- the simulation -------------------------------------------------------

def sample(args, crc):
    """Per slot: sampled orders and their pending items. An order delivered
    within the review delay has two pending items (review request and
    referral invitation), one delivered between the two delays has one."""
    rng = random.Random(args.seed)
    stores = make_stores(rng, args.stores, args.platform)
    orders = [0] * SLOTS
    items = [0] * SLOTS
    p_two = args.review_days / args.referral_days
    for key in journey_keys(rng, stores, args.sample):
        s = crc(key) % SLOTS
        orders[s] += 1
        items[s] += 2 if rng.random() < p_two else 1
    return orders, items


def spread(values):
    lo, hi = min(values), max(values)
    mean = sum(values) / len(values)
    return lo, mean, hi, (hi / mean if mean else 0.0)


def fmt(n, digits=0):
    if isinstance(n, float) and digits:
        return f"{n:,.{digits}f}"
    return f"{int(round(n)):,}"


def gb(nbytes):
    return f"{nbytes / 1e9:,.1f}"


def take_capacity(buckets, round_max, rounds_per_s, firers):
    """Items per second one bucket can give, and a firer's round total:
    a round visits min(buckets, round_max) buckets, round_max // that
    items from each (schedule_take.c), the buckets taking turns."""
    count = min(buckets, round_max)
    per = round_max // count
    per_bucket = firers * rounds_per_s * per * count / buckets
    return per, per * count, per_bucket


def simulate(args, orders_by_slot, items_by_slot, buckets, masters, scale, due_peak):
    ranges = cluster_ranges(masters)
    owner = slot_owner(ranges)
    b_items = [0.0] * buckets
    b_orders = [0] * buckets
    node_items = [0.0] * masters  # order side: the item hashes, checks, acks
    for s in range(SLOTS):
        b_items[s % buckets] += items_by_slot[s] * scale
        b_orders[s % buckets] += orders_by_slot[s]
        node_items[owner[s]] += items_by_slot[s] * scale
    b_node = [owner[key_slot("ac:sched:{b%d}" % b)] for b in range(buckets)]
    total = sum(b_items)
    rounds_per_s = 1000.0 / args.interval_ms
    per, round_total, cap_bucket = take_capacity(buckets, args.round_max, rounds_per_s,
                                                 args.firers)
    nodes = []
    for n in range(masters):
        mine = [b for b in range(buckets) if b_node[b] == n]
        entries = sum(b_items[b] for b in mine)
        visits = args.firers * rounds_per_s * min(buckets, args.round_max) * len(mine) / buckets
        nodes.append({
            "node": n, "range": ranges[n], "buckets": len(mine), "entries": entries,
            "items": node_items[n],
            "mem": entries * MEASURED["bucket_bytes_per_item"]
            + node_items[n] * (MEASURED["bytes_per_item"] - MEASURED["bucket_bytes_per_item"]),
            "due_take": due_peak * entries / total if total else 0.0,
            "due_check": due_peak * node_items[n] / total if total else 0.0,
            "take_calls": visits,
            "zcard_calls": args.firers * rounds_per_s * len(mine),
            "pipelines": args.firers * rounds_per_s * (2 if mine else 0),
            "idle_ms": (visits * MEASURED["take_idle_us"]
                        + args.firers * rounds_per_s * len(mine) * MEASURED["zcard_us"]) / 1000.0,
        })
    due_bucket_max = due_peak * max(b_items) / total if total else 0.0
    return {
        "b_items": b_items, "b_orders": b_orders, "nodes": nodes, "per": per,
        "round_total": round_total, "cap_bucket": cap_bucket,
        "due_bucket_max": due_bucket_max, "b_node": b_node,
    }


def chi_square(counts):
    mean = sum(counts) / len(counts)
    return sum((c - mean) ** 2 / mean for c in counts)


def report(args, out=sys.stdout):
    t0 = time.monotonic()
    crc = self_check()
    orders, items = sample(args, crc)
    n_items = sum(items)
    scale = args.pending / n_items
    kinds_days = args.review_days + args.referral_days
    due_mean = args.due_mean if args.due_mean else args.pending * 2 / (kinds_days * 86400)
    due_peak = due_mean * args.peak_factor
    w = lambda s="": out.write(s + "\n")  # noqa: E731

    w(f"Sample: {fmt(args.sample)} orders ({fmt(n_items)} pending items), seed {args.seed}, "
      f"{fmt(args.stores)} stores ({args.platform or 'mixed'} order ids); "
      f"scaled ×{scale:,.1f} to {fmt(args.pending)} pending items "
      f"({fmt(args.pending / (n_items / args.sample))} orders). Firers: {args.firers}, "
      f"one round each every {args.interval_ms} ms, at most {args.round_max} items a round.")
    w(f"Due items: {fmt(due_mean)}/s on average "
      + ("(given)" if args.due_mean else
         f"(every item fires once, after {args.review_days} or {args.referral_days} days)")
      + f", {fmt(due_peak)}/s at the evening peak ({args.peak_factor:g}× the mean).")
    w()

    for buckets in args.buckets:
        sim = simulate(args, orders, items, buckets, args.masters[0], scale, due_peak)
        lo, mean, hi, imb = spread(sim["b_items"])
        # Relative standard error of one bucket's scaled count: the sample
        # holds ~sample/buckets orders per bucket, each with 1 or 2 items.
        p2 = args.review_days / args.referral_days
        ew, ew2 = 1 + p2, 1 + 3 * p2
        rse_sample = math.sqrt(buckets / args.sample) * math.sqrt(ew2) / ew
        rse_full = math.sqrt(buckets / (args.pending / ew)) * math.sqrt(ew2) / ew
        chi = chi_square(sim["b_orders"])
        w(f"### {buckets} buckets")
        w()
        w("| pending per bucket: min | mean | max | max / mean | sampling error of one bucket "
          "(1σ) | at full size (1σ) | χ² of orders over buckets (expected) |")
        w("|---|---|---|---|---|---|---|")
        w(f"| {fmt(lo)} | {fmt(mean)} | {fmt(hi)} | {imb:.3f} | ±{rse_sample * 100:.2f} % "
          f"| ±{rse_full * 100:.2f} % | {chi:.0f} ({buckets - 1} ± "
          f"{math.sqrt(2 * (buckets - 1)):.0f}) |")
        w()
        w(f"Each firer's round takes at most {sim['per']} items from each bucket visited, "
          f"{sim['round_total']} in all; one bucket gives at most "
          f"{fmt(sim['cap_bucket'], 1)} items/s with {args.firers} firers. At the peak the "
          f"fullest bucket has {fmt(sim['due_bucket_max'], 1)} items/s due: "
          f"{sim['due_bucket_max'] / sim['cap_bucket'] * 100:.0f} % of that"
          + (" — **it falls behind**." if sim["due_bucket_max"] > sim["cap_bucket"] else "."))
        w()
        for masters in args.masters:
            sim = simulate(args, orders, items, buckets, masters, scale, due_peak)
            nodes = sim["nodes"]
            w(f"{masters} masters, {buckets} buckets:")
            w()
            w("| master | slots | buckets | bucket entries | order-side items | memory, GB "
              "| due at peak: leased here / checked here (items/s) | take calls/s | ZCARD/s "
              "| pipelines/s, idle | Redis ms/s, idle |")
            w("|---|---|---|---|---|---|---|---|---|---|---|")
            for nd in nodes:
                a, b = nd["range"]
                w(f"| {nd['node']} | {a}-{b} | {nd['buckets']} | {fmt(nd['entries'])} | "
                  f"{fmt(nd['items'])} | {gb(nd['mem'])} | {fmt(nd['due_take'])} / "
                  f"{fmt(nd['due_check'])} | {fmt(nd['take_calls'])} | "
                  f"{fmt(nd['zcard_calls'])} | {fmt(nd['pipelines'])} | "
                  f"{nd['idle_ms']:.1f} |")
            ent = spread([nd["entries"] for nd in nodes])
            mem = spread([nd["mem"] for nd in nodes])
            bk = spread([nd["buckets"] for nd in nodes])
            w()
            w(f"Buckets per master {bk[0]}–{bk[2]} (max / mean {bk[3]:.2f}); bucket entries "
              f"max / mean {ent[3]:.2f}; memory {gb(mem[0])}–{gb(mem[2])} GB "
              f"(max / mean {mem[3]:.3f}).")
            w()
    if args.compare:
        w("### Other bucket counts")
        w()
        w("| buckets | masters | masters without a bucket | buckets per master (min–max) | "
          "bucket entries per master, max / mean | entries in one bucket | one bucket's two "
          "sets, MB | items per bucket per round | a round, at most | items/s one bucket "
          "gives | fullest bucket at peak | take calls/s per firer, idle | ZCARD/s per firer |")
        w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for buckets in args.compare:
            for masters in args.masters:
                sim = simulate(args, orders, items, buckets, masters, scale, due_peak)
                nodes = sim["nodes"]
                bk = [nd["buckets"] for nd in nodes]
                ent = spread([nd["entries"] for nd in nodes])
                mean_b = sum(sim["b_items"]) / buckets
                calls = 1000.0 / args.interval_ms * min(buckets, args.round_max)
                w(f"| {buckets} | {masters} | {bk.count(0)} | {min(bk)}–{max(bk)} | "
                  f"{ent[3]:.2f} | {fmt(mean_b)} | "
                  f"{mean_b * MEASURED['bucket_bytes_per_item'] / 1e6:,.0f} | {sim['per']} | "
                  f"{sim['round_total']} | {fmt(sim['cap_bucket'], 1)} | "
                  f"{sim['due_bucket_max'] / sim['cap_bucket'] * 100:.0f} % | {fmt(calls)} | "
                  f"{fmt(1000.0 / args.interval_ms * buckets)} |")
        w()
    sys.stderr.write(f"({time.monotonic() - t0:.1f} s)\n")


def int_list(text):
    return [int(x) for x in text.split(",") if x]


def main(argv=None):
    p = argparse.ArgumentParser(
        description="Simulates the schedule buckets of aftercare on a Redis Cluster: pending "
        "items per bucket and per master, due items at the daily peak, and the firers' "
        "take rounds (docs/capacity.md). Deterministic for a given --seed.")
    p.add_argument("--pending", type=float, default=100e6,
                   help="pending scheduled items to scale to (default 100,000,000)")
    p.add_argument("--sample", type=int, default=1_000_000,
                   help="orders sampled (default 1,000,000); the per-bucket sampling error "
                   "is printed")
    p.add_argument("--seed", type=int, default=16, help="random seed (default 16)")
    p.add_argument("--stores", type=int, default=5000,
                   help="stores, with Zipf-like order shares (default 5000)")
    p.add_argument("--platform", choices=[name for name, _ in PLATFORMS],
                   help="every store's order ids in this platform's style (default: a mix)")
    p.add_argument("--buckets", type=int_list, default=[64],
                   help="SCHEDULE_BUCKETS, comma-separated (default 64)")
    p.add_argument("--masters", type=int_list, default=[3, 6, 12],
                   help="cluster sizes, comma-separated (default 3,6,12)")
    p.add_argument("--firers", type=int, default=6,
                   help="event-worker replicas firing, SCHEDULER=true (default 6)")
    p.add_argument("--interval-ms", type=int, default=200, help="FIRE_INTERVAL (default 200)")
    p.add_argument("--round-max", type=int, default=500,
                   help="items a firing round takes at most (fire.c FIRE_BATCH, 500)")
    p.add_argument("--review-days", type=float, default=7, help="REVIEW_REQUEST_DELAY (7)")
    p.add_argument("--referral-days", type=float, default=14, help="REFERRAL_DELAY (14)")
    p.add_argument("--peak-factor", type=float, default=3.0,
                   help="due rate in the peak hour over the daily mean (default 3)")
    p.add_argument("--due-mean", type=float, default=0,
                   help="mean due items/s, instead of deriving it from --pending")
    p.add_argument("--compare", type=int_list, default=[],
                   help="also tabulate these bucket counts, e.g. 64,128,256,512")
    p.add_argument("--check", action="store_true",
                   help="only run the CRC16 and slot checks and print them")
    args = p.parse_args(argv)
    if args.check:
        self_check()
        print(f"crc16('123456789') = 0x{crc16(b'123456789'):04X}; slot('foo') = {key_slot('foo')}")
        for m in args.masters:
            print(f"{m} masters: " + ", ".join(f"{a}-{b}" for a, b in cluster_ranges(m)))
        return 0
    if args.sample < 1000 or args.pending <= 0 or args.firers < 1 or args.round_max < 1:
        p.error("--sample must be at least 1000; --pending, --firers, --round-max positive")
    try:
        report(args)
    except BrokenPipeError:  # a pager or head closed the pipe
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
