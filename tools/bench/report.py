#!/usr/bin/env python3
"""make bench: writes docs/benchmarks.md from the results of
tools/bench/pipeline.py (JSON), the delivery table of delivery.py, the
scheduling table of ac-bench-schedule and the ingest gateway's results of
tools/bench/gateway.py (JSON), with the machine they ran on; and prints the
summary table.

    python3 tools/bench/report.py --pipeline R.json --delivery D.md --schedule S.md
                                  [--gateway G.json] --bin BIN_DIR --out docs/benchmarks.md
                                  [--elapsed S]
    python3 tools/bench/report.py --gateway G.json --bin BIN_DIR --out docs/benchmarks.md
                                  --gateway-only

With --gateway-only, only the "Ingest gateway" section of the existing file
is written (replaced, or added at the end); the rest stays as it is.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess

MIB = 1024.0
THROUGHPUT_TARGET = 50000  # events/s per worker process (issue 16)
PASSTHROUGH_SHARE = 0.80  # ... and this share of the dev broker's pass-through
WORKER_CPU_TARGET_US = 20  # worker CPU per event
REDIS_CPU_TARGET_US = 10  # redis-server CPU per event
DELIVERY_TARGET = 5000  # messages/s
DELIVERY_CPU_TARGET_US = 60  # notify-worker CPU per message
LATENCY_TARGET_MS = 100  # p99
MEMORY_TARGET_MIB = 64
GATEWAY_TARGET = 10000  # webhooks/s per ingest-gateway process
GATEWAY_P99_TARGET_MS = 50
GATEWAY_HEADING = "## Ingest gateway"


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def n0(v):
    """12 345 (thin groups, as the rest of the docs write numbers)."""
    if v is None:
        return "—"
    return "{:,.0f}".format(v).replace(",", " ")


def pct(v):
    return "—" if v is None else "%.0f %%" % (v * 100) if v >= 0.1 else "%.1f %%" % (v * 100)


def times(v):
    return "—" if v is None else "%.0f×" % v if v >= 10 else "%.1f×" % v


def mib(kib):
    return "—" if kib is None else "%.1f MiB" % (kib / MIB)


def runs_of(rows, key, f=n0):
    vals = [f(r.get(key)) if "error" not in r else "failed" for r in rows]
    return ", ".join(vals) if vals else "—"


# ------------------------------------------------------------------ machine

def machine(bin_dir):
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem = int(line.split()[1]) / 1048576.0
    except OSError:
        pass
    redis = "?"
    exe = shutil.which("redis-server")
    if exe:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
        m = re.search(r"v=(\S+)", out)
        redis = m.group(1) if m else out.strip()
    rdkafka = "?"
    try:
        out = subprocess.run([os.path.join(bin_dir, "devbroker"), "--version"],
                             capture_output=True, text=True, timeout=10).stdout
        m = re.search(r"librdkafka ([^)\s]+)", out)
        rdkafka = m.group(1) if m else "?"
    except (OSError, subprocess.SubprocessError):
        pass
    osname = platform.system() + " " + platform.release()
    try:
        with open("/etc/os-release") as f:
            kv = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
            osname = "%s, Linux %s" % (kv.get("PRETTY_NAME", "").strip('"'), platform.release())
    except OSError:
        pass
    mhd = "?"
    try:
        mhd = subprocess.run(["pkg-config", "--modversion", "libmicrohttpd"],
                             capture_output=True, text=True, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        pass
    return {"cpus": os.cpu_count(), "cpu": cpu, "mem_gib": mem, "redis": redis,
            "rdkafka": rdkafka, "os": osname, "python": platform.python_version(), "mhd": mhd}


# ------------------------------------------------------------------ figures

def summarize(p):
    """Medians of every figure, per configuration."""
    s = {"throughput": {}, "baseline": {}, "delivery": {}, "latency": {}, "memory": {}}
    for r in p["throughput"]:
        s["throughput"].setdefault((r["worker"], r["duplicates"]), []).append(r)
    for r in p["baseline"]:
        s["baseline"].setdefault(r["worker"], []).append(r)
    for r in p["delivery"]:
        s["delivery"].setdefault(r["in_flight"], []).append(r)
    s["facts_off"] = p.get("facts_off", [])
    s["cluster"] = p.get("cluster", [])
    s["latency"] = p["latency"]
    return s


def ok(r):
    return "error" not in r


def throughput_rows(p, s):
    rows = []
    for (worker, dup), runs in s["throughput"].items():
        good = [r for r in runs if ok(r)]
        rate = median(r.get("rate") for r in good)
        passthrough = median(r.get("passthrough") for r in good)
        base_runs = s["baseline"].get(worker, []) if dup == 0 else []
        base = median(r.get("rate") for r in base_runs if ok(r))
        share = rate / passthrough if rate and passthrough else None
        cpu = median(r.get("cpu_us") for r in good)
        redis_cpu = median(r.get("redis_cpu_us") for r in good)
        met = None
        if rate is not None:
            met = (rate >= THROUGHPUT_TARGET and share is not None and share >= PASSTHROUGH_SHARE
                   and (cpu is None or cpu <= WORKER_CPU_TARGET_US)
                   and (redis_cpu is None or redis_cpu <= REDIS_CPU_TARGET_US))
        rows.append({
            "worker": worker, "dup": dup, "runs": runs, "rate": rate,
            "passthrough": passthrough, "share": share, "base": base, "base_runs": base_runs,
            "speedup": rate / base if rate and base else None, "met": met,
            "cpu": cpu, "redis_cpu": redis_cpu,
            "capped": any(r.get("capped") for r in good),
            "hwm": max((r.get("hwm_kib") or 0 for r in good), default=None) or None,
            "measured": median(r.get("measured") for r in good),
            "median_bytes": median(r.get("median_bytes") for r in good),
            "decided_ok": all(r.get("decided") in (None, r.get("new")) for r in good),
        })
    return rows


def tput_why(t):
    """Why a throughput row misses its targets, a phrase per target."""
    why = []
    if t["rate"] < THROUGHPUT_TARGET:
        why.append("%s events/s is %s events/s (%s) short of 50 000"
                   % (n0(t["rate"]), n0(THROUGHPUT_TARGET - t["rate"]),
                      pct(1 - t["rate"] / THROUGHPUT_TARGET)))
    if t["share"] is None or t["share"] < PASSTHROUGH_SHARE:
        why.append("%s of the dev broker's pass-through (%s records/s), short of 80 %%"
                   % (pct(t["share"]), n0(t["passthrough"])))
    if t["cpu"] is not None and t["cpu"] > WORKER_CPU_TARGET_US:
        why.append("%s µs of worker CPU per event against 20" % n0(t["cpu"]))
    if t["redis_cpu"] is not None and t["redis_cpu"] > REDIS_CPU_TARGET_US:
        why.append("%s µs of Redis CPU per event against 10" % n0(t["redis_cpu"]))
    return why + ["see [performance.md](performance.md#event-workers-order-worker-shipment-worker)."]


def delivery_rows(p, s):
    rows = []
    for in_flight, runs in s["delivery"].items():
        good = [r for r in runs if ok(r)]
        rate = median(r.get("rate") for r in good)
        cpu = median(r.get("cpu_us") for r in good)
        rows.append({"in_flight": in_flight or p.get("default_in_flight") or "default",
                     "default": in_flight is None, "runs": runs, "rate": rate, "cpu": cpu,
                     "met": None if rate is None or cpu is None
                     else rate >= DELIVERY_TARGET and cpu <= DELIVERY_CPU_TARGET_US,
                     "capped": any(r.get("capped") for r in good),
                     "hwm": max((r.get("hwm_kib") or 0 for r in good), default=None) or None})
    return rows


def latency_row(p, s):
    good = [r for r in s["latency"] if ok(r)]
    p99 = median(r.get("p99_ms") for r in good)
    return {"runs": s["latency"], "p50": median(r.get("p50_ms") for r in good), "p99": p99,
            "max": median(r.get("max_ms") for r in good),
            "met": None if p99 is None else p99 < LATENCY_TARGET_MS}


def memory_rows(p, s, tput, deliv):
    """Per worker: the median over runs of the idle peak, and the highest
    peak at the end of any loaded run with default settings (the latency
    run included); notify-worker's peak at the higher MAX_IN_FLIGHT is
    shown beside it."""
    workers = ("order-worker", "shipment-worker", "return-worker", "notify-worker")
    good_lat = [r for r in s["latency"] if ok(r)]
    rows = []
    for w in workers:
        idle = median((r.get("idle_hwm_kib") or {}).get(w) for r in good_lat)
        loaded_vals = [(r.get("loaded_hwm_kib") or {}).get(w) for r in good_lat]
        what = []
        if w in ("order-worker", "shipment-worker"):
            loaded_vals += [t["hwm"] for t in tput if t["worker"] == w]
            what.append("backlogs of %s events, 0 and 10 %% duplicates" % n0(p["events"]))
        if w == "order-worker":
            what.append("%s events/s for %d s" % (n0(p["latency_rate"]), p["latency_seconds"]))
        if w == "notify-worker":
            loaded_vals += [d["hwm"] for d in deliv if d["default"]]
            what.append("a backlog of %s messages, sink taking 50 ms per request"
                        % n0(p["messages"]))
            what.append("%s messages/s for %d s" % (n0(p["latency_rate"]),
                                                     p["latency_seconds"]))
            what += ["at MAX_IN_FLIGHT=%s: %s" % (d["in_flight"], mib(d["hwm"]))
                     for d in deliv if not d["default"]]
        loaded_vals = [v for v in loaded_vals if v]
        loaded = max(loaded_vals) if loaded_vals and what else None
        peak = max([v for v in (idle, loaded) if v] or [0]) or None
        rows.append({"worker": w, "idle": idle, "loaded": loaded,
                     "what": "; ".join(what) if what else "not loaded (idle beside the others)",
                     "met": None if peak is None else peak < MEMORY_TARGET_MIB * MIB})
    return rows


def yes_no(met):
    return "—" if met is None else "**yes**" if met else "**no**"


# ------------------------------------------------------------------ writing

def build(p, delivery_table, schedule_table, m, elapsed, gateway=None, schedule_events=None):
    s = summarize(p)
    tput = throughput_rows(p, s)
    deliv = delivery_rows(p, s)
    lat = latency_row(p, s)
    mem = memory_rows(p, s, tput, deliv)
    gw = gateway_section(gateway, m) if gateway is not None else None
    runs = p["runs"]
    out = []
    w = out.append

    w("# Benchmarks")
    w("")
    took = (" in %d min %02d s" % (elapsed // 60, elapsed % 60)) if elapsed else ""
    w("Written by `make bench` (%s)%s. Every figure is the median of %d run%s; the single "
      "runs are listed beside it and [below](#every-run)."
      % (datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"), took, runs,
         "" if runs == 1 else "s"))
    w("")
    w("## Machine")
    w("")
    w("- %d CPU%s (%s), %.0f GiB of memory, %s" % (m["cpus"], "" if m["cpus"] == 1 else "s",
                                                  m["cpu"], m["mem_gib"] or 0, m["os"]))
    w("- Redis %s on loopback, without persistence; librdkafka %s, whose mock cluster is "
      "the dev broker (`devbroker`), in memory; Python %s for the harness"
      % (m["redis"], m["rdkafka"], m["python"]))
    w("- Everything runs on this one machine: the broker, Redis, ac-sink, the load "
      "generator and the worker measured share its %d CPU%s, so each figure is what one "
      "worker process gets here, not what it would get with a machine to itself."
      % (m["cpus"], "" if m["cpus"] == 1 else "s"))
    w("")

    w("## Results")
    w("")
    w("| measurement | median | runs | baseline: one event at a time | design / baseline "
      "| dev-broker pass-through | of pass-through | target | met |")
    w("|---|---|---|---|---|---|---|---|---|")
    for t in tput:
        label = "%s throughput, %s" % (t["worker"], "no duplicates" if not t["dup"]
                                       else "%d %% duplicates" % round(t["dup"] * 100))
        base = ("%s events/s (%s)" % (n0(t["base"]), runs_of(t["base_runs"], "rate"))
                if t["base_runs"] else "—")
        cpu = ("; %s µs worker CPU, %s µs Redis CPU per event" % (n0(t["cpu"]), n0(t["redis_cpu"]))
               if t["cpu"] is not None else "")
        w("| %s | %s events/s%s%s | %s | %s | %s | %s records/s (%s) | %s | ≥ 50 000 events/s "
          "and ≥ 80 %% of pass-through; ≤ 20 µs worker CPU and ≤ 10 µs Redis CPU per event "
          "| %s |"
          % (label, n0(t["rate"]), " ¹" if t["capped"] else "", cpu, runs_of(t["runs"], "rate"),
             base, times(t["speedup"]) if t["base_runs"] else "—", n0(t["passthrough"]),
             runs_of(t["runs"], "passthrough"), pct(t["share"]), yes_no(t["met"])))
    off = [r for r in s["facts_off"] if ok(r)]
    if off:
        with_facts = next((t for t in tput if t["worker"] == "order-worker" and not t["dup"]),
                          None)
        rate_off = median(r.get("rate") for r in off)
        ratio = with_facts["rate"] / rate_off if with_facts and with_facts["rate"] and rate_off \
            else None
        w("| order-worker throughput, no duplicates, without the retention report's facts "
          "(ANALYTICS=false) | %s events/s | %s | — | with facts / without: %s | — | — "
          "| the facts' cost measured | — |"
          % (n0(rate_off), runs_of(s["facts_off"], "rate"), "%.2f×" % ratio if ratio else "—"))
    on_cluster = [r for r in s["cluster"] if ok(r)]
    if on_cluster:
        one = next((t for t in tput if t["worker"] == "order-worker" and not t["dup"]), None)
        rate_c = median(r.get("rate") for r in on_cluster)
        masters = median(r.get("masters_cpu_us") for r in on_cluster)
        ratio = rate_c / one["rate"] if one and one["rate"] and rate_c else None
        w("| order-worker throughput, no duplicates, on a Redis Cluster (three masters, three "
          "replicas, on this machine) | %s events/s%s; %s µs worker CPU, %s µs Redis CPU (all "
          "six nodes%s) per event | %s | — | cluster / one Redis: %s | — | — "
          "| the same binary on a cluster, measured | — |"
          % (n0(rate_c), " ¹" if any(r.get("capped") for r in on_cluster) else "",
             n0(median(r.get("cpu_us") for r in on_cluster)),
             n0(median(r.get("redis_cpu_us") for r in on_cluster)),
             "" if masters is None else "; %s µs the three masters" % n0(masters),
             runs_of(s["cluster"], "rate"), "%.2f×" % ratio if ratio else "—"))
    for d in deliv:
        w("| notify-worker delivery, sink taking 50 ms per request, MAX_IN_FLIGHT=%s%s | %s "
          "messages/s%s, %s µs CPU per message | %s; CPU: %s | — | — | — | — "
          "| ≥ 5 000 messages/s, ≤ 60 µs CPU per message | %s |"
          % (d["in_flight"], " (default)" if d["default"] else "", n0(d["rate"]),
             " ¹" if d["capped"] else "", n0(d["cpu"]), runs_of(d["runs"], "rate"),
             runs_of(d["runs"], "cpu_us"), yes_no(d["met"])))
    w("| end-to-end latency at %s events/s, p50 / p99 | %s / %s ms | p99: %s "
      "| — | — | — | — | p99 < 100 ms | %s |"
      % (n0(p["latency_rate"]), n0(lat["p50"]), n0(lat["p99"]),
         runs_of(lat["runs"], "p99_ms"), yes_no(lat["met"])))
    worst_idle = max((r["idle"] or 0 for r in mem), default=0)
    worst_loaded = max((r["loaded"] or 0 for r in mem), default=0)
    w("| peak RSS, the largest of the four workers, idle / loaded | %s / %s | "
      "[per worker](#memory) | — | — | — | — | < 64 MiB | %s |"
      % (mib(worst_idle or None), mib(worst_loaded or None),
         yes_no(None if not mem or any(r["met"] is None for r in mem)
                else all(r["met"] for r in mem))))
    w("")
    if any(t["capped"] for t in tput) or any(d["capped"] for d in deliv):
        w("¹ Measured over the first %d s of the backlog only (the run would have taken "
          "longer than `BENCH_MAX_SECONDS`)." % p["max_seconds"])
        w("")

    w("## Targets")
    w("")
    unmet = []
    for t in tput:
        label = "%s, %s" % (t["worker"], "no duplicates" if not t["dup"]
                            else "%d %% duplicates" % round(t["dup"] * 100))
        if t["met"] is None:
            unmet.append("- %s: no figure (every run failed)." % label)
        elif not t["met"]:
            unmet.append("- Throughput of %s: **not met**. %s" % (label, "; ".join(tput_why(t))))
    for d in deliv:
        if d["met"] is None:
            unmet.append("- Delivery at MAX_IN_FLIGHT=%s: no figure (every run failed)."
                         % d["in_flight"])
        elif not d["met"]:
            why = []
            if d["rate"] < DELIVERY_TARGET:
                why.append("%s messages/s is %s (%s) short of 5 000"
                           % (n0(d["rate"]), n0(DELIVERY_TARGET - d["rate"]),
                              pct(1 - d["rate"] / DELIVERY_TARGET)))
            else:
                why.append("%s messages/s meets 5 000" % n0(d["rate"]))
            if d["cpu"] > DELIVERY_CPU_TARGET_US:
                why.append("%s µs of CPU per message is %s× the 60 µs target"
                           % (n0(d["cpu"]), "%.1f" % (d["cpu"] / DELIVERY_CPU_TARGET_US)))
            unmet.append("- Delivery at MAX_IN_FLIGHT=%s: **not met**. %s ([performance.md]"
                         "(performance.md#delivery-notify-worker))."
                         % (d["in_flight"], "; ".join(why)))
    if lat["met"] is None:
        unmet.append("- End-to-end latency: no figure (every run failed).")
    elif not lat["met"]:
        unmet.append("- End-to-end latency: **not met**. p99 is %s ms, %s ms over 100 ms."
                     % (n0(lat["p99"]), n0(lat["p99"] - LATENCY_TARGET_MS)))
    for r in mem:
        peak = max(r["idle"] or 0, r["loaded"] or 0)
        if r["met"] is False:
            unmet.append("- Memory of %s: **not met**. Its peak RSS is %s, %s over 64 MiB."
                         % (r["worker"], mib(peak), mib(peak - MEMORY_TARGET_MIB * MIB)))
    if gw:
        unmet += ["- Ingest gateway: **not met**. %s ([Ingest gateway](#ingest-gateway))."
                  % (u[0].upper() + u[1:]) for u in gw[1]]
    if unmet:
        w("Not met in this run:")
        w("")
        out.extend(unmet)
    else:
        w("Every target is met in this run.")
    met = []
    if any(t["met"] for t in tput):
        met.append("throughput of " + ", ".join(
            "%s (%s)" % (t["worker"], "no duplicates" if not t["dup"] else "10 % duplicates")
            for t in tput if t["met"]))
    met += ["delivery at MAX_IN_FLIGHT=%s" % d["in_flight"] for d in deliv if d["met"]]
    if lat["met"]:
        met.append("end-to-end latency")
    met += ["memory of %s" % r["worker"] for r in mem if r["met"]]
    if gw:
        met += gw[2]
    if unmet and met:
        w("")
        w("Met: %s." % "; ".join(met))
    w("")

    w("## Method")
    w("")
    w("Each measurement starts a fresh dev stack (`tests/integration/stack.py`: devbroker, "
      "redis-server, ac-sink) and one worker process with its default settings, unless "
      "stated otherwise. Records are made by `ac-bench-kafka produce` from templates: "
      "events of `tests/integration/gen_events.py` (three stores, German and English "
      "customers, email and SMS, one to four items), each record with its own event id and "
      "order, about four orders per customer. The dev broker sets TCP_NODELAY on its "
      "connections, as Kafka brokers do (librdkafka's mock cluster alone does not, and "
      "every response written behind an unacknowledged one then waited some 40 ms for the "
      "client's delayed ACK). What bounds each figure, from profiles of these runs, is in "
      "[docs/performance.md](performance.md).")
    w("")
    w("- **Throughput.** %s records (median %s bytes; `order.placed` for order-worker, "
      "`shipment.shipped` of the shape in docs/events.md for shipment-worker) are produced "
      "before the worker starts, on enough partitions that none holds more than 3 MiB (the "
      "dev broker keeps about 5 MiB per partition). With 10 %% duplicates, a tenth of them "
      "are verbatim re-sends of one of the 4 096 records before. Every record goes through "
      "consume, parse, validate, dedup, decide and produce to `notifications` (an order "
      "confirmation, a shipping update). The rate is `aftercare_events_processed_total` of "
      "the worker's /metrics, sampled every 100 ms (earlier runs sampled every 20 ms, and "
      "serving those took ~5 %% of the worker's CPU), from the first sample after its first "
      "batch to the first that counts the whole backlog: start-up and joining the group do "
      "not count. A run stops measuring after %d s."
      % (n0(p["events"]), "/".join(n0(v) for v in p.get("median_bytes", {}).values()),
         p["max_seconds"]))
    w("- **Pass-through.** In the same stack, after the worker, `ac-bench-kafka passthrough` "
      "consumes the same backlog in its own consumer group (batches of up to 500, 8 MiB "
      "prefetch, like the workers) and produces every record unchanged (idempotent, "
      "acks=all, linger 1 ms, like the workers) without waiting, storing offsets once "
      "records are delivered: the most the dev broker lets a worker do on this machine. Its "
      "rate runs from the first record consumed to the last delivery reported.")
    w("- **Baseline.** The same worker with `BATCH_SIZE=1`: the same work one event at a "
      "time, with Redis round trips and a Kafka acknowledgement per event (each event's "
      "acknowledgement overlaps the next event, as a full batch's does), over a backlog of "
      "%s, measured the same way for at most %d s."
      % (n0(p["baseline_events"]), p.get("baseline_max_seconds", p["max_seconds"])))
    w("- **Delivery.** order-worker first decides %s order confirmations; then one "
      "notify-worker delivers that backlog to ac-sink answering every request after 50 ms, "
      "at MAX_IN_FLIGHT %s and %s. The rate is messages accepted by ac-sink, sampled every "
      "100 ms, from the first to the last. ac-sink serves about 1 020 connections at a time "
      "(libmicrohttpd's default limit), so the higher setting stays below that."
      % (n0(p["messages"]), p.get("default_in_flight") or "default", p["in_flight"]))
    w("- **End-to-end latency.** order-worker and notify-worker (and the other two, idle) "
      "run; `ac-bench-kafka produce --rate` sends %s `order.placed` events per second for "
      "%d s after %d s of warm-up (not counted: the first records through each client wait "
      "for its connections), each stamped in its event id with the time it was handed to "
      "the Kafka client (linger 5 ms). The latency of a message is the time ac-sink "
      "received it (millisecond resolution) minus that stamp; p50 and p99 are over every "
      "message after the warm-up. The "
      "workers run with `RDKAFKA_FETCH_WAIT_MAX_MS=%d`: the dev broker holds a fetch that "
      "finds no record for the whole `fetch.wait.max.ms` (500 ms by default) instead of "
      "answering when one arrives as Kafka does, which would add up to half a second per "
      "hop that a real cluster does not."
      % (n0(p["latency_rate"]), p["latency_seconds"], p.get("warmup_seconds", 0),
         p.get("fetch_wait_ms", 10)))
    w("- **Memory.** VmHWM (peak resident set) from /proc of each worker %d s after all "
      "four started and reached /readyz (idle), and at the end of each loaded run with "
      "default settings (*loaded*: the highest)."
      % p.get("idle_seconds", 10))
    w("")

    w("## Memory")
    w("")
    w("| worker | idle, %d s after start | loaded | load | under 64 MiB |"
      % p.get("idle_seconds", 10))
    w("|---|---|---|---|---|")
    for r in mem:
        w("| %s | %s | %s | %s | %s |" % (r["worker"], mib(r["idle"]), mib(r["loaded"]),
                                         r["what"], yes_no(r["met"])))
    w("")

    w("## Every run")
    w("")
    w("| run | measurement | figure | measured over | dev-broker pass-through | peak RSS |")
    w("|---|---|---|---|---|---|")
    for r in p["throughput"] + p["baseline"]:
        label = "%s, %s%s" % (r["worker"], "no duplicates" if not r.get("duplicates")
                              else "%d %% duplicates" % round(r["duplicates"] * 100),
                              ", BATCH_SIZE=1" if r.get("batch_size") == 1 else "")
        if not ok(r):
            w("| %d | %s | failed: %s | | | |" % (r["run"], label, r["error"]))
            continue
        w("| %d | %s | %s events/s | %s events%s | %s | %s |"
          % (r["run"], label, n0(r.get("rate")), n0(r.get("measured")),
             " (capped)" if r.get("capped") else "",
             (n0(r["passthrough"]) + " records/s") if r.get("passthrough") else "—",
             mib(r.get("hwm_kib"))))
    for r in p["delivery"]:
        label = "notify-worker, MAX_IN_FLIGHT=%s" % (r["in_flight"] or
                                                     p.get("default_in_flight") or "default")
        if not ok(r):
            w("| %d | %s | failed: %s | | | |" % (r["run"], label, r["error"]))
            continue
        w("| %d | %s | %s messages/s | %s messages%s | — | %s |"
          % (r["run"], label, n0(r.get("rate")), n0(r.get("measured")),
             " (capped)" if r.get("capped") else "", mib(r.get("hwm_kib"))))
    for r in p["latency"]:
        label = "latency at %s events/s" % n0(p["latency_rate"])
        if not ok(r):
            w("| %d | %s | failed: %s | | | |" % (r["run"], label, r["error"]))
            continue
        w("| %d | %s | p50 %s ms, p99 %s ms, max %s ms | %s messages | — | — |"
          % (r["run"], label, n0(r.get("p50_ms")), n0(r.get("p99_ms")), n0(r.get("max_ms")),
             n0(r.get("matched"))))
    w("")
    if not all(t["decided_ok"] for t in tput):
        w("Note: in some throughput run the worker decided fewer messages than new events; "
          "see the output of `make bench`.")
        w("")

    w("## Delivery (notify-worker) and consumption (order-worker)")
    w("")
    w("5 000 orders through order-worker and notify-worker (MAX_IN_FLIGHT=256, signed "
      "webhooks) to ac-sink on loopback, once answering at once and once failing a third of "
      "requests at random (503) and taking 50 ms per request; medians of %d run%s. "
      "*Consumption* is order-worker's rate from its first to its last event, with the "
      "records produced while it runs; *delivery* is accepted messages per second at the "
      "sink until 95 %% had arrived (the rest are the ones retried several times with "
      "growing backoff: *all settled after* shows that tail). Messages still failing after "
      "8 attempts are dead-lettered with their reason." % (runs, "" if runs == 1 else "s"))
    if "baseline build" in delivery_table:
        w("")
        w("The *baseline build* rows run another build's order-worker and notify-worker "
          "(`BENCH_BASELINE_BIN`) beside this build's broker and sink, alternating with this "
          "build's in every run; the last row is this build's end-to-end delivery rate (event "
          "in, request at the sink) over the baseline's.")
    w("")
    w(delivery_table.strip())
    w("")

    w("## Durable scheduling (common/schedule.c)")
    w("")
    w("Review requests pending in one Redis, 50 000 of them due. *Take* is one round of a "
      "firing worker: the 500 earliest due items, leased and returned with their records, "
      "while the rest stays untouched; *cancel* is one batch of 1 000 cancellations. Memory "
      "is Redis's used_memory growth divided by the items, with 1 200-byte notification "
      "records (a typical order event). One run of each size.")
    w("")
    w(schedule_table.strip())
    w("")
    if schedule_events:
        w("### Memory per pending message with real events")
        w("")
        w("What shipment-worker schedules for a delivery: a review request due 7 days and a "
          "referral invitation due 14 days later, per order, on `shipment.delivered` events of "
          "`tools/bench/workload.py` (`gen_events.py`'s stores, one to four items). Measured "
          "twice in one run on the same events, Redis emptied in between: first as earlier "
          "versions stored them (each message with its own notification record, the consumed "
          "event verbatim in it), then as they are stored now (the event trimmed to what "
          "`ac_event_t` carries and packed, `common/evzip.c`, one copy per order beside the two "
          "descriptions, the record rebuilt when the message fires). A quarter of the orders were delivered 15 days "
          "ago: their messages are taken (*take*, records rebuilt included) and acknowledged "
          "500 a round. *Bytes kept per order* is the median size of the two records, or of "
          "the packed event.")
        w("")
        w(schedule_events.strip())
        w("")
    if gw:
        out.extend(gw[0])
    summary = [line for line in out if line.startswith("|")]
    return "\n".join(out), summary, unmet


# ----------------------------------------------------------- ingest gateway

def ms(v):
    return "—" if v is None else "%.1f ms" % v if v < 10 else "%.0f ms" % v


def gateway_section(g, m):
    """The "Ingest gateway" section from tools/bench/gateway.py's results:
    its own date and machine line, as it may be written on its own
    (--gateway-only)."""
    out = []
    w = out.append
    loaded = [r for r in g.get("loaded", []) if ok(r)]
    base = [r for r in g.get("baseline", []) if ok(r)]
    rate = median(r.get("ok_rate") for r in loaded)
    p50 = median(r.get("p50_ms") for r in loaded)
    p99 = median(r.get("p99_ms") for r in loaded)
    b_rate = median(r.get("ok_rate") for r in base)
    b_p50 = median(r.get("p50_ms") for r in base)
    b_p99 = median(r.get("p99_ms") for r in base)
    rate_met = None if rate is None else rate >= GATEWAY_TARGET
    p99_met = None if p99 is None else p99 < GATEWAY_P99_TARGET_MS
    every = loaded + base
    agree = all(r.get("produced_metric") == r.get("ok_all") == r.get("produced_topic")
                for r in every)
    conns = g.get("connections", 64)
    runs = g.get("runs", len(g.get("loaded", [])))

    w(GATEWAY_HEADING)
    w("")
    w("Measured %s by `make bench` (`tools/bench/gateway.py`); every figure is the median of "
      "%d run%s, the single runs beside it. Machine: %d CPU%s (%s), %.0f GiB of memory, %s; "
      "libmicrohttpd %s, librdkafka %s (the dev broker), Redis %s. The gateway, the dev "
      "broker, Redis and the load generator share the %d CPUs."
      % (g.get("date", "?"), runs, "" if runs == 1 else "s", m["cpus"],
         "" if m["cpus"] == 1 else "s", m["cpu"], m["mem_gib"] or 0, m["os"],
         g.get("mhd") or m.get("mhd", "?"), m["rdkafka"], m["redis"], m["cpus"]))
    w("")
    w("| measurement | median | runs | baseline: 1 connection | design / baseline | target "
      "| met |")
    w("|---|---|---|---|---|---|---|")
    w("| ingest-gateway, %d connections: webhooks/s answered 200 | %s | %s | %s (%s) | %s | "
      "≥ 10 000 webhooks/s per process | %s |"
      % (conns, n0(rate), runs_of(g.get("loaded", []), "ok_rate"), n0(b_rate),
         runs_of(g.get("baseline", []), "ok_rate"),
         times(rate / b_rate) if rate and b_rate else "—", yes_no(rate_met)))
    w("| ingest-gateway, %d connections: p99 latency | %s | %s | %s (%s) | — | < 50 ms | %s |"
      % (conns, ms(p99), runs_of(g.get("loaded", []), "p99_ms", ms), ms(b_p99),
         runs_of(g.get("baseline", []), "p99_ms", ms), yes_no(p99_met)))
    w("| ingest-gateway, %d connections: p50 latency | %s | %s | %s (%s) | — | — | — |"
      % (conns, ms(p50), runs_of(g.get("loaded", []), "p50_ms", ms), ms(b_p50),
         runs_of(g.get("baseline", []), "p50_ms", ms)))
    w("| events in `orders` = 200s answered (every run) | %s | — | — | — | every 200 is in "
      "Kafka | %s |" % ("equal" if agree and every else "**differ** (see below)" if every
                        else "—", yes_no(agree if every else None)))
    w("")
    unmet = []
    if rate_met is False:
        unmet.append("throughput: %s webhooks/s is %s (%s) short of 10 000" % (
            n0(rate), n0(GATEWAY_TARGET - rate), pct(1 - rate / GATEWAY_TARGET)))
    if p99_met is False:
        unmet.append("latency: p99 is %s, %s over 50 ms"
                     % (ms(p99), ms(p99 - GATEWAY_P99_TARGET_MS)))
    met = []
    if rate_met:
        met.append("ingest-gateway throughput")
    if p99_met:
        met.append("ingest-gateway p99 latency")
    if rate is None:
        unmet.append("no figure (every run failed)")
        w("No figure: every run failed (see below).")
    elif unmet:
        w("Target **not met**: %s. Where the gateway's time goes is [below](#where-the-"
          "gateways-time-goes)." % "; ".join(unmet))
    else:
        w("Both targets are met.")
    w("")
    cores = {}
    for r in loaded:
        for k, v in (r.get("cores") or {}).items():
            cores.setdefault(k, []).append(v)
    busy = median(r.get("machine_cores") for r in loaded)
    if cores:
        per = median(r["cores"]["gateway"] / r["ok_rate"] * 1e6 for r in loaded
                     if (r.get("cores") or {}).get("gateway") and r.get("ok_rate"))
        w("CPU during the loaded runs (median, in cores of %d): %s%s." % (
            m["cpus"], ", ".join("%s %.2f" % (k, median(v)) for k, v in cores.items()),
            "; the gateway spends %s µs of CPU per webhook" % n0(per) if per else ""))
        if busy is not None:
            w("")
            w("The whole machine was busy %.2f of its %d cores meanwhile (the rest of that: "
              "the harness, and anything else running)." % (busy, m["cpus"]))
        w("")
    mb = median(r.get("median_bytes") for r in every)
    w("Method: each run starts a fresh dev stack (`tests/integration/stack.py`: devbroker with "
      "`orders`, `shipments` and `returns` on %d partitions each, redis-server, ac-sink idle) "
      "and one ingest-gateway with one Shopify store (`STORE_SETTINGS`), `LOG_LEVEL=warn` and "
      "`RDKAFKA_LINGER_MS=%s` (1 ms is the gateway's default; every answer waits for "
      "Kafka's acknowledgement, so the linger adds to each webhook's latency). "
      "`ac-bench-webhooks` (`tools/bench/webhooks.c`) then sends `POST /webhooks/shopify` "
      "`orders/create` webhooks over keep-alive connections, each connection its own thread "
      "sending the next request when the answer to the last arrived: %s s with one "
      "connection (the baseline: what one webhook costs end to end), then %s s with %d. "
      "The first %s s of each are not counted (connections, Kafka metadata and the producer "
      "id). Bodies are Shopify's documented order webhook (customer with marketing consent, "
      "8 to 10 line items with properties and tax lines, billing and shipping addresses; "
      "median %s bytes), 1 000 of them built before the clock starts; every request carries "
      "its own order id (a 64-bit integer) and X-Shopify-Event-Id and is signed "
      "(HMAC-SHA256 of the body with the store's secret, computed per request). Latency is "
      "from the first byte written to the last byte of the answer read: with %d connections "
      "in a closed loop it includes the wait behind the other requests. After each phase the "
      "200s received are compared with `aftercare_ingest_events_produced_total` and with the "
      "records that arrived in `orders` (the sum of its partitions' high watermarks)."
      % (g.get("partitions", 16), g.get("linger_ms"), n0(g.get("seconds")),
         n0(g.get("seconds")), conns, n0(g.get("warmup")), n0(mb), conns))
    w("")
    w("| run | connections | webhooks/s | requests | non-200 | p50 / p99 / max | 200s / "
      "produced / in `orders` | cores: gateway, broker, client | gateway peak RSS |")
    w("|---|---|---|---|---|---|---|---|---|")
    for r in g.get("baseline", []) + g.get("loaded", []):
        if not ok(r):
            w("| %s | | failed: %s | | | | | | |" % (r.get("run"), r["error"]))
            continue
        nb = r.get("non200") or 0
        by = ", ".join("%s: %s" % kv for kv in (r.get("by_status") or {}).items())
        c = r.get("cores") or {}
        w("| %d | %d | %s | %s | %s%s | %s / %s / %s | %s / %s / %s | %s | %s |"
          % (r["run"], r["connections"], n0(r.get("ok_rate")), n0(r.get("requests")),
             n0(nb), " (%s)" % by if by else "", ms(r.get("p50_ms")), ms(r.get("p99_ms")),
             ms(r.get("max_ms")), n0(r.get("ok_all")), n0(r.get("produced_metric")),
             n0(r.get("produced_topic")),
             ", ".join("%.2f" % c[k] if k in c else "—"
                       for k in ("gateway", "devbroker", "client")),
             mib(r.get("hwm_kib"))))
    w("")
    if every and not agree:
        w("In some run the 200s, the produced count and the records in `orders` differ: a "
          "request the client gave up on (a timeout, a closed connection) may still have been "
          "produced, and a 503 may have been produced after its deadline.")
        w("")
    prof = g.get("profile")
    if prof:
        w("### Where the gateway's time goes")
        w("")
        if not ok(prof):
            w("No profile: %s." % prof["error"])
            w("")
        else:
            w("What bounds the figure, from these profiles, stage by stage: "
              "[performance.md](performance.md#ingest-gateway).")
            w("")
            w("From `perf record -F 499 --call-graph dwarf -p <gateway>` over one more loaded "
              "run of %s s (%d connections, not counted above: %s webhooks/s, p99 %s under the "
              "profiler). The gateway's CPU time by kind of work (self time of each function, "
              "grouped by library; JSON counts json-c only, its malloc and free are under "
              "memory allocation):" % (n0(prof.get("seconds")), conns, n0(prof.get("rate")),
                                       ms(prof.get("p99_ms"))))
            w("")
            w("| share of the gateway's CPU | kind of work |")
            w("|---|---|")
            for share, kind in prof.get("kinds", []):
                if share >= 0.5:
                    w("| %.1f %% | %s |" % (share, kind))
            w("")
            if prof.get("inclusive"):
                w("The gateway's own functions, with everything they call (inclusive; nested "
                  "functions count in each of their callers):")
                w("")
                w("| inclusive share | function |")
                w("|---|---|")
                for share, _, sym in prof["inclusive"]:
                    w("| %.1f %% | `%s` |" % (share, sym))
                w("")
            w("The functions with the most self time:")
            w("")
            w("| self share | library | function |")
            w("|---|---|---|")
            for share, dso, sym in prof.get("symbols", []):
                w("| %.1f %% | %s | `%s` |" % (share, dso, sym))
            w("")
    return out, unmet, met


def replace_section(text, section):
    """text with its gateway section replaced by section (or added at the
    end)."""
    lines = text.rstrip("\n").split("\n")
    if GATEWAY_HEADING in lines:
        start = lines.index(GATEWAY_HEADING)
        end = next((i for i in range(start + 1, len(lines))
                    if lines[i].startswith("## ")), len(lines))
        lines = lines[:start] + section + lines[end:]
    else:
        lines = lines + [""] + section
    return "\n".join(lines).rstrip("\n") + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pipeline")
    ap.add_argument("--delivery")
    ap.add_argument("--schedule")
    ap.add_argument("--schedule-events", help="ac-bench-schedule --events output")
    ap.add_argument("--gateway", help="results of tools/bench/gateway.py")
    ap.add_argument("--gateway-only", action="store_true",
                    help="write only the gateway section into the existing --out")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--elapsed", type=int, default=0)
    o = ap.parse_args()
    gateway = None
    if o.gateway:
        with open(o.gateway) as f:
            gateway = json.load(f)
    if o.gateway_only:
        if gateway is None:
            ap.error("--gateway-only needs --gateway")
        section, _, _ = gateway_section(gateway, machine(o.bin))
        try:
            with open(o.out) as f:
                text = f.read()
        except FileNotFoundError:
            text = "# Benchmarks\n"
        with open(o.out, "w") as f:
            f.write(replace_section(text, section))
        print("\n".join(line for line in section if not line.startswith("| share"))
              .split("### ")[0].rstrip())
        return
    if not (o.pipeline and o.delivery and o.schedule):
        ap.error("--pipeline, --delivery and --schedule are required (or --gateway-only)")
    with open(o.pipeline) as f:
        p = json.load(f)
    with open(o.delivery) as f:
        delivery = f.read()
    with open(o.schedule) as f:
        schedule = f.read()
    schedule_events = None
    if o.schedule_events:
        with open(o.schedule_events) as f:
            schedule_events = f.read()
    text, _, unmet = build(p, delivery, schedule, machine(o.bin), o.elapsed, gateway,
                           schedule_events)
    with open(o.out, "w") as f:
        f.write(text)
    # The summary on the terminal: the results table and what is not met,
    # and the gateway's table.
    lines = text.splitlines()
    start = lines.index("## Results")
    end = lines.index("## Method")
    print("\n".join(lines[start:end]).rstrip())
    if GATEWAY_HEADING in lines:
        start = lines.index(GATEWAY_HEADING)
        table = [line for line in lines[start:] if line.startswith("|")]
        print("\n" + GATEWAY_HEADING + "\n\n" + "\n".join(table[:6]))


if __name__ == "__main__":
    main()
