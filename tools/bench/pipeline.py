#!/usr/bin/env python3
"""make bench: the workers on the dev stack (devbroker, a local
redis-server, ac-sink), each measurement repeated --runs times.

  throughput  one order-worker or shipment-worker process working through a
              backlog of realistic events (about 650 bytes; none or 10 %
              verbatim re-sends), produced before it starts: events/s from
              its first processed batch to its last (sampled from its
              /metrics), and beside it ac-bench-kafka's bare consume and
              produce of the same backlog (the ceiling of the dev broker)
  baseline    the same with BATCH_SIZE=1: Redis round trips and a Kafka
              acknowledgement per event (overlapping the next event)
  delivery    one notify-worker working through a backlog of notifications
              (decided by order-worker beforehand) against ac-sink taking
              50 ms per request: messages/s, at two MAX_IN_FLIGHT settings
  latency     order-worker and notify-worker with events produced at a
              steady rate: from the produce of each event (stamped into its
              event id) to the arrival of its message at ac-sink
  memory      peak RSS (VmHWM) of the four workers 10 s after they start,
              and of each loaded worker at the end of its runs

    python3 tools/bench/pipeline.py BIN_DIR --json OUT [--runs 3] ...

Progress and every single run go to stderr; the results, with every run,
to the JSON file that tools/bench/report.py turns into docs/benchmarks.md.
"""

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))

import workload as wl  # noqa: E402
import stack as stackmod  # noqa: E402
from stack import Stack  # noqa: E402

DEFAULT_TOPICS = ["orders", "shipments", "returns", "notifications", "orders.dlq",
                  "shipments.dlq", "returns.dlq", "notifications.dlq"]
PASS_TOPIC = "bench.passthrough"
# The dev broker keeps about 5 MiB per partition and silently drops the
# oldest records beyond that: size partitions so that each holds at most
# 3 MiB of the backlog, or of the notifications decided from it.
PARTITION_BUDGET = 3 * 1024 * 1024
RECORD_BUDGET = 1000  # bytes per record, with the larger notification and overhead

WORKLOADS = {
    "order-worker": ("orders", wl.order_templates, "order.placed", "order_confirmation"),
    "shipment-worker": ("shipments", wl.shipment_templates, "shipment.shipped",
                        "shipping_update"),
}


class BenchStack(Stack):
    """The integration tests' stack, but ac-sink keeps no request log: a
    JSON line written and flushed per request would take CPU from the
    workers measured on the same machine."""

    def _spawn(self, name, argv, *args, **kwargs):
        if name == "ac-sink" and "--log" in argv:
            i = argv.index("--log")
            argv = argv[:i] + argv[i + 2:]
        return super()._spawn(name, argv, *args, **kwargs)


def cpu_seconds(pid):
    """User and system CPU seconds a process has used, from /proc."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log(fmt, *args):
    sys.stderr.write((fmt % args if args else fmt) + "\n")
    sys.stderr.flush()


def partitions_for(records):
    p = math.ceil(records * RECORD_BUDGET / PARTITION_BUDGET)
    return max(8, (p + 7) // 8 * 8)


def counter(port, name):
    """The sum of a counter's samples in a worker's /metrics (cheap: no
    full parse, as this runs every 100 ms beside the worker)."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        text = r.read().decode("utf-8")
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and len(line) > len(name) and line[len(name)] in " {":
            rest = line[line.rindex("}") + 1:] if "{" in line else line[len(name):]
            total += float(rest.split()[0])
    return total


def bench_kafka(st, args, timeout=600):
    """Runs ac-bench-kafka; returns its key=value summary as a dict."""
    r = subprocess.run([stackmod.binary("ac-bench-kafka")] + args, capture_output=True,
                       text=True, timeout=timeout, preexec_fn=stackmod._die_with_parent)
    if r.returncode != 0:
        raise stackmod.StackError("ac-bench-kafka %s failed (%d): %s"
                                  % (args[0], r.returncode, r.stderr.strip()))
    out = {}
    for kv in r.stdout.split():
        k, v = kv.split("=", 1)
        out[k] = float(v) if "." in v else int(v)
    return out


class Bench:
    def __init__(self, opts, workdir):
        self.o = opts
        self.dir = workdir
        self.templates = {}
        self.median_bytes = {}
        for worker, (topic, make, _, _) in WORKLOADS.items():
            path = os.path.join(workdir, topic + ".tpl")
            self.median_bytes[worker] = wl.write_templates(path, make())
            self.templates[worker] = path

    def _measure(self, st, read, total, what, max_s=None, on_first=None):
        """Samples read() every 100 ms until it reaches total or the time cap;
        returns (rate, measured events, capped). on_first() is called at the
        first sample that counts anything, where the measurement starts."""
        samples = []
        deadline = time.monotonic() + self.o.startup_timeout
        first_t = None
        while True:
            st.check_alive()
            v = read()
            now = time.monotonic()
            samples.append((now, v))
            if v > 0 and first_t is None:
                first_t = now
                if on_first:
                    on_first()
            if v >= total:
                break
            if first_t is not None and now - first_t > (max_s or self.o.max_seconds):
                break
            if first_t is None and now > deadline:
                raise stackmod.StackError("%s: nothing processed after %.0f s"
                                          % (what, self.o.startup_timeout))
            # Not faster: the worker serves each sample, and at every 20 ms
            # its /metrics thread took ~5 % of the CPU counted per event.
            time.sleep(0.1)
        first = next((t, c) for t, c in samples if c > 0)
        last = samples[-1]
        if last[0] <= first[0]:
            return None, int(last[1]), False
        rate = (last[1] - first[1]) / (last[0] - first[0])
        return rate, int(last[1] - first[1]), last[1] < total

    # ----------------------------------------------------------- throughput

    def throughput(self, worker, dup_rate, records, batch_size=None, passthrough=True,
                   max_s=None, env=None, cluster=False):
        """With cluster, Redis is a Redis Cluster of three masters and three
        replicas (stack.py); its CPU per event is that of all six, and that
        of the three masters alone (the replicas only apply the stream)."""
        topic, _, _, kind = WORKLOADS[worker]
        parts = partitions_for(records)
        res = {"worker": worker, "duplicates": dup_rate, "records": records,
               "partitions": parts, "batch_size": batch_size, "cluster": cluster}
        with BenchStack(partitions=parts, topics=DEFAULT_TOPICS + [PASS_TOPIC],
                        log_level="warn", name="bench", redis_cluster=cluster) as st:
            prod = bench_kafka(st, ["produce", "--brokers", st.brokers, "--topic", topic,
                                    "--template", self.templates[worker],
                                    "--count", str(records), "--duplicates", str(dup_rate),
                                    "--seed", "7"])
            res.update(new=prod["new"], duplicates_sent=prod["duplicates"],
                       median_bytes=prod["median_bytes"], produce_rate=prod["rate"])
            env = dict(env or {})
            if batch_size:
                env["BATCH_SIZE"] = str(batch_size)
            w = st.start_worker(worker, env)
            # CPU per event, the worker's and redis-server's, over the same
            # span as the rate (issue 16's targets are per event).
            master_pids = []
            if cluster:
                redis_pids = [p.pid for p in st.redis_nodes]
                masters = set(st.redis_masters())
                master_pids = [p.pid for p in st.redis_nodes if p.redis_port in masters]
            else:
                redis_pids = [st.redis.pid] if getattr(st, "redis", None) else []
            cpu0 = {}

            def redis_cpu(pids):
                return sum(cpu_seconds(pid) for pid in pids)

            def start_cpu():
                cpu0["worker"] = cpu_seconds(w.pid)
                if redis_pids:
                    cpu0["redis"] = redis_cpu(redis_pids)
                if master_pids:
                    cpu0["masters"] = redis_cpu(master_pids)

            rate, measured, capped = self._measure(
                st, lambda: counter(w.http_port, "aftercare_events_processed_total"), records,
                worker, max_s, on_first=start_cpu)
            if measured and "worker" in cpu0:
                res["cpu_us"] = (cpu_seconds(w.pid) - cpu0["worker"]) * 1e6 / measured
                if "redis" in cpu0:
                    res["redis_cpu_us"] = (redis_cpu(redis_pids) - cpu0["redis"]) * 1e6 / measured
                if "masters" in cpu0:
                    res["masters_cpu_us"] = ((redis_cpu(master_pids) - cpu0["masters"]) * 1e6
                                             / measured)
            res.update(rate=rate, measured=measured, capped=capped,
                       hwm_kib=wl.vm_hwm_kib(w.pid))
            if not capped:
                m = st.metrics(w)
                res["decided"] = int(m.value("aftercare_messages_decided_total", kind=kind))
                res["duplicates_seen"] = int(m.value("aftercare_events_duplicate_total"))
                res["dead_lettered"] = int(m.value("aftercare_events_dead_lettered_total"))
                if res["decided"] != prod["new"]:
                    log("  warning: %d %s decided for %d new events", res["decided"], kind,
                        prod["new"])
            w.stop()
            if passthrough:
                p = bench_kafka(st, ["passthrough", "--brokers", st.brokers, "--from", topic,
                                     "--to", PASS_TOPIC, "--count", str(records)])
                res["passthrough"] = p["rate"]
        return res

    # ------------------------------------------------------------- delivery

    def delivery(self, in_flight, messages):
        res = {"in_flight": in_flight, "messages": messages, "sink_delay_ms": 50}
        with BenchStack(partitions=8, sink_args=["--delay-ms", "50"], log_level="warn",
                        name="bench") as st:
            bench_kafka(st, ["produce", "--brokers", st.brokers, "--topic", "orders",
                             "--template", self.templates["order-worker"],
                             "--count", str(messages)])
            order = st.start_worker("order-worker")
            st.wait_until(lambda: counter(order.http_port, "aftercare_events_processed_total")
                          >= messages, 300, "order-worker to decide the notifications",
                          interval=0.1)
            order.stop()
            env = {"MAX_IN_FLIGHT": str(in_flight)} if in_flight else {}
            notify = st.start_worker("notify-worker", env)
            cpu0, sent0 = cpu_seconds(notify.pid), st.sink_stats()["delivered"]
            # Counted at the sink: with about a thousand connections open,
            # the worker's own HTTP endpoint may not take another.
            rate, measured, capped = self._measure(st, lambda: st.sink_stats()["delivered"],
                                                   messages, "notify-worker")
            sent = st.sink_stats()["delivered"] - sent0
            # notify-worker's CPU (user and system, from /proc) per message
            # delivered while it drained the backlog.
            cpu_us = (cpu_seconds(notify.pid) - cpu0) * 1e6 / sent if sent else None
            res.update(rate=rate, measured=measured, capped=capped, cpu_us=cpu_us,
                       hwm_kib=wl.vm_hwm_kib(notify.pid))
            res["requests"] = st.sink_stats()["requests"]
            notify.stop()
        return res

    # ------------------------------------------------- latency and memory

    def latency_and_memory(self, rate, seconds, idle_s, warmup_s):
        count = int(rate * (warmup_s + seconds))
        res = {"rate": rate, "seconds": seconds, "warmup_s": warmup_s, "events": count,
               "idle_s": idle_s}
        # The dev broker holds a fetch that finds nothing for the consumer's
        # whole fetch.wait.max.ms (500 ms) rather than answering when a
        # record arrives as Kafka does: each hop would wait up to that long.
        env = {"RDKAFKA_FETCH_WAIT_MAX_MS": str(self.o.fetch_wait_ms)}
        res["fetch_wait_ms"] = self.o.fetch_wait_ms
        with BenchStack(partitions=8, log_level="warn", name="bench") as st:
            procs = {name: st.start_worker(name, env, wait=False) for name in stackmod.WORKERS}
            for p in procs.values():
                st.wait_ready(p)
            time.sleep(idle_s)
            res["idle_hwm_kib"] = {n: wl.vm_hwm_kib(p.pid) for n, p in procs.items()}
            prod = bench_kafka(st, ["produce", "--brokers", st.brokers, "--topic", "orders",
                                    "--template", self.templates["order-worker"],
                                    "--count", str(count), "--rate", str(rate)],
                               timeout=(warmup_s + seconds) * 3 + 60)
            res["produce_rate"] = prod["rate"]
            st.wait_until(lambda: st.sink_stats()["delivered"] >= count, 120,
                          "%d messages at the sink" % count, interval=0.2)
            stamped = []
            for m in st.sink_messages():
                sent = wl.produced_us(m.get("event_id"))
                if sent is None:
                    continue
                got = datetime.datetime.fromisoformat(
                    m["_received_at"].replace("Z", "+00:00")).timestamp()
                stamped.append((sent, got * 1000.0 - sent / 1000.0))
            if len(stamped) < count:
                log("  warning: only %d of %d messages carry a produce time", len(stamped),
                    count)
            # The first seconds are the warm-up: the first records through
            # each client wait for connections and metadata.
            start = min(s for s, _ in stamped) if stamped else 0
            lat = sorted(ms for s, ms in stamped if s >= start + warmup_s * 1e6)

            def pct(q):
                return lat[min(len(lat) - 1, int(math.ceil(q * len(lat))) - 1)] if lat else None

            res.update(p50_ms=pct(0.50), p99_ms=pct(0.99), max_ms=lat[-1] if lat else None,
                       matched=len(lat))
            res["loaded_hwm_kib"] = {n: wl.vm_hwm_kib(p.pid) for n, p in procs.items()}
        return res


def default_of(worker, var):
    """A setting's default as the worker's --help shows it."""
    r = subprocess.run([stackmod.binary(worker), "--help"], capture_output=True, text=True,
                       timeout=10)
    lines = (r.stdout + r.stderr).splitlines()
    for i, line in enumerate(lines):
        if line.split()[:1] == [var]:
            for follow in lines[i:i + 3]:
                if "default:" in follow:
                    return follow.split("default:", 1)[1].strip()
    return None


def attempt(fn, *args, **kwargs):
    """fn(...), or {"error": why} when the stack or a worker failed: one
    failed run is reported as such, and the others still count."""
    try:
        return fn(*args, **kwargs)
    except (stackmod.StackError, TimeoutError, OSError, subprocess.SubprocessError,
            KeyError, ValueError) as e:
        why = " ".join(str(e).split())[:400] or type(e).__name__
        log("  failed: %s", why)
        return {"error": why}


def run_all(o):
    stackmod.BIN_DIR = os.path.abspath(o.bin_dir)
    stackmod.binary("ac-bench-kafka")
    results = {"runs": o.runs, "events": o.events, "baseline_events": o.baseline_events,
               "messages": o.messages, "latency_rate": o.latency_rate,
               "latency_seconds": o.latency_seconds, "max_seconds": o.max_seconds,
               "baseline_max_seconds": o.baseline_max_seconds,
               "in_flight": o.in_flight, "idle_seconds": o.idle_seconds,
               "warmup_seconds": o.warmup_seconds,
               "fetch_wait_ms": o.fetch_wait_ms, "python": platform.python_version(),
               "default_in_flight": default_of("notify-worker", "MAX_IN_FLIGHT"),
               "default_batch_size": default_of("order-worker", "BATCH_SIZE"),
               "throughput": [], "baseline": [], "delivery": [], "latency": [],
               "facts_off": [], "cluster": []}
    with tempfile.TemporaryDirectory(prefix="ac-bench-") as d:
        b = Bench(o, d)
        results["median_bytes"] = b.median_bytes
        for run in range(1, o.runs + 1):
            log("run %d of %d", run, o.runs)
            for worker in WORKLOADS:
                for dup in (0.0, 0.1):
                    r = {"run": run, "worker": worker, "duplicates": dup}
                    r.update(attempt(b.throughput, worker, dup, o.events))
                    results["throughput"].append(r)
                    if "error" not in r:
                        log("  %s, %d %% duplicates: %s events/s over %d events (pass-through "
                            "%s records/s), %s µs worker and %s µs Redis CPU per event, "
                            "peak RSS %.1f MiB", worker, dup * 100, fmt(r["rate"]),
                            r["measured"], fmt(r.get("passthrough")), fmt(r.get("cpu_us")),
                            fmt(r.get("redis_cpu_us")), (r["hwm_kib"] or 0) / 1024)
            # What recording the retention report's facts costs: the same
            # order-worker run without them (ANALYTICS=false).
            r = {"run": run, "worker": "order-worker", "duplicates": 0.0}
            r.update(attempt(b.throughput, "order-worker", 0.0, o.events, passthrough=False,
                             env={"ANALYTICS": "false"}))
            results["facts_off"].append(r)
            if "error" not in r:
                log("  order-worker without the report's facts: %s events/s", fmt(r["rate"]))
            # The same binary on a Redis Cluster (three masters, three
            # replicas, on this same machine): what the cluster client and
            # one pipeline per master cost against one Redis.
            r = {"run": run, "worker": "order-worker", "duplicates": 0.0}
            r.update(attempt(b.throughput, "order-worker", 0.0, o.events, passthrough=False,
                             cluster=True))
            results["cluster"].append(r)
            if "error" not in r:
                log("  order-worker on a Redis Cluster: %s events/s, %s µs worker and %s µs "
                    "Redis CPU (six nodes; %s the masters) per event", fmt(r["rate"]),
                    fmt(r.get("cpu_us")), fmt(r.get("redis_cpu_us")),
                    fmt(r.get("masters_cpu_us")))
            for worker in WORKLOADS:
                r = {"run": run, "worker": worker}
                r.update(attempt(b.throughput, worker, 0.0, o.baseline_events, batch_size=1,
                                 passthrough=False, max_s=o.baseline_max_seconds))
                results["baseline"].append(r)
                if "error" not in r:
                    log("  %s, BATCH_SIZE=1: %s events/s over %d events", worker,
                        fmt(r["rate"]), r["measured"])
            for in_flight in (None, o.in_flight):
                r = {"run": run, "in_flight": in_flight}
                r.update(attempt(b.delivery, in_flight, o.messages))
                results["delivery"].append(r)
                if "error" not in r:
                    log("  notify-worker, MAX_IN_FLIGHT=%s, sink 50 ms: %s messages/s over %d",
                        in_flight or "default", fmt(r["rate"]), r["measured"])
            r = {"run": run}
            r.update(attempt(b.latency_and_memory, o.latency_rate, o.latency_seconds,
                             o.idle_seconds, o.warmup_seconds))
            results["latency"].append(r)
            if "error" not in r:
                log("  latency at %d events/s: p50 %s ms, p99 %s ms, max %s ms (%d messages); "
                    "idle peak RSS %s", o.latency_rate, fmt(r["p50_ms"]), fmt(r["p99_ms"]),
                    fmt(r["max_ms"]), r["matched"],
                    ", ".join("%s %.1f MiB" % (n, (v or 0) / 1024)
                              for n, v in r["idle_hwm_kib"].items()))
    return results


def fmt(v):
    return "-" if v is None else "%.0f" % v


def main():
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bin_dir")
    ap.add_argument("--json", required=True, help="write the results here")
    ap.add_argument("--runs", type=int, default=int(env("BENCH_RUNS", "3")))
    ap.add_argument("--events", type=int, default=int(env("BENCH_EVENTS", "200000")),
                    help="backlog of each throughput run")
    ap.add_argument("--baseline-events", type=int,
                    default=int(env("BENCH_BASELINE_EVENTS", "20000")))
    ap.add_argument("--messages", type=int, default=int(env("BENCH_MESSAGES", "20000")),
                    help="backlog of notifications of each delivery run")
    ap.add_argument("--in-flight", type=int, default=int(env("BENCH_IN_FLIGHT", "1000")),
                    help="the higher MAX_IN_FLIGHT of the delivery runs")
    ap.add_argument("--latency-rate", type=int, default=int(env("BENCH_LATENCY_RATE", "2000")))
    ap.add_argument("--latency-seconds", type=int,
                    default=int(env("BENCH_LATENCY_SECONDS", "30")))
    ap.add_argument("--idle-seconds", type=int, default=10)
    ap.add_argument("--warmup-seconds", type=int, default=3,
                    help="of the latency run, not counted")
    ap.add_argument("--fetch-wait-ms", type=int, default=10,
                    help="fetch.wait.max.ms of the workers in the latency run")
    ap.add_argument("--max-seconds", type=float, default=float(env("BENCH_MAX_SECONDS", "10")),
                    help="stop measuring a backlog after this long (a slow worker)")
    ap.add_argument("--baseline-max-seconds", type=float,
                    default=float(env("BENCH_BASELINE_MAX_SECONDS", "5")),
                    help="the same for the BATCH_SIZE=1 runs")
    ap.add_argument("--startup-timeout", type=float, default=60)
    o = ap.parse_args()
    if o.runs < 1:
        ap.error("--runs must be at least 1")
    t0 = time.monotonic()
    results = run_all(o)
    results["seconds"] = time.monotonic() - t0
    with open(o.json, "w") as f:
        json.dump(results, f, indent=1)
    log("pipeline benchmarks took %.0f s", results["seconds"])


if __name__ == "__main__":
    main()
