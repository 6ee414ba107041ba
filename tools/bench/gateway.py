#!/usr/bin/env python3
"""make bench: the ingest gateway under load. Each run starts a fresh dev
stack (devbroker with `orders`, `shipments` and `returns` on 16 partitions
each, redis-server, ac-sink idle) and one ingest-gateway process with a
store whose Shopify webhooks it verifies, then drives it with
ac-bench-webhooks (signed ~10 KB Shopify orders/create webhooks over
keep-alive connections):

  baseline  one connection, one request at a time: what a single webhook
            costs end to end (verify, map, produce, wait for Kafka)
  loaded    --connections connections (64) at once: webhooks/s and latency

After each, the events the gateway counts as produced
(aftercare_ingest_events_produced_total) and the records that arrived in
`orders` (the sum of its partitions' high watermarks) are compared with the
200s the client received: the gateway answers 200 only once Kafka has the
event. With --profile S, one more loaded run of S seconds, not counted,
samples the gateway with `perf record` and lists where its CPU time goes.

    python3 tools/bench/gateway.py BIN_DIR --json OUT [--runs 3] [--seconds 10]

Progress goes to stderr; the results, with every run, to the JSON file
that tools/bench/report.py turns into the "Ingest gateway" section of
docs/benchmarks.md.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))

import workload as wl  # noqa: E402
import stack as stackmod  # noqa: E402
from stack import Stack  # noqa: E402

GATEWAY = "ingest-gateway"
CLIENT = "ac-bench-webhooks"
PARTITIONS = 16
TOPICS = ["orders", "shipments", "returns", "notifications", "orders.dlq", "shipments.dlq",
          "returns.dlq", "notifications.dlq", "ingest.dlq"]
STORE_ID = "st_bench"
SHOP_DOMAIN = "bench.myshopify.com"
SECRET = "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"  # the store's webhook secret (a test value)
FIRST_ID = 5600010431060  # Shopify order ids are 64-bit integers; each phase gets its own range
PHASE_IDS = 50000000
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(fmt, *args):
    sys.stderr.write((fmt % args if args else fmt) + "\n")
    sys.stderr.flush()


class BenchStack(Stack):
    """The integration tests' stack; ac-sink keeps no request log (it is
    idle here, but a log written per request would cost CPU)."""

    def _spawn(self, name, argv, *args, **kwargs):
        if name == "ac-sink" and "--log" in argv:
            i = argv.index("--log")
            argv = argv[:i] + argv[i + 2:]
        return super()._spawn(name, argv, *args, **kwargs)


def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def machine_busy():
    """(busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v) - idle) / CLK_TCK, sum(v) / CLK_TCK


def produced(st, gw):
    """(events the gateway counts as produced, records in `orders`)."""
    m = st.metrics(gw)
    counted = int(m.value("aftercare_ingest_events_produced_total"))
    offs = st.offsets("orders", "ac-bench-count")
    in_topic = sum(int(v) for v in offs["high"].values())
    return counted, in_topic


class GatewayBench:
    def __init__(self, o):
        self.o = o

    def settings_file(self, d):
        path = os.path.join(d, "stores.json")
        with open(path, "w") as f:
            json.dump({"stores": {STORE_ID: {
                "name": "Bench Store", "locale": "en-US", "timezone": "UTC",
                "shopify": {"shop_domain": SHOP_DOMAIN, "webhook_secret": SECRET}}}}, f)
        return path

    def gateway_env(self, st):
        env = {
            "INGEST_PORT": str(stackmod.free_port()),
            "STORE_SETTINGS": self.settings_file(st.dir),
            "LOG_LEVEL": "warn",
            "PRODUCE_TIMEOUT": "4s",
            # Every answer waits for Kafka's acknowledgement, so the linger
            # adds to every webhook's latency: 1 ms, the gateway's own
            # default (as deployed). Under load the batches fill from the
            # concurrent requests anyway (0, 1, 2 and 5 ms gave the same
            # rate with 64 connections; docs/performance.md).
            "RDKAFKA_LINGER_MS": str(self.o.linger_ms),
        }
        if self.o.redis_url:
            env["REDIS_URL"] = self.o.redis_url
        return env

    def client(self, port, connections, seconds, first_id, label, extra=()):
        argv = [stackmod.binary(CLIENT), "--port", str(port), "--secret", SECRET,
                "--shop-domain", SHOP_DOMAIN, "--connections", str(connections),
                "--seconds", str(seconds), "--warmup", str(self.o.warmup),
                "--first-id", str(first_id), "--label", label] + list(extra)
        r = subprocess.run(argv, capture_output=True, text=True,
                           timeout=seconds + self.o.warmup + 120,
                           preexec_fn=stackmod._die_with_parent)
        res = None
        for line in r.stdout.splitlines():
            if line.startswith("{"):
                res = json.loads(line)
        if res is None:
            raise stackmod.StackError("%s failed (%d): %s %s" % (CLIENT, r.returncode,
                                                                   r.stdout.strip(),
                                                                   r.stderr.strip()))
        res["table"] = [line for line in r.stdout.splitlines() if line.startswith("|")][-1:]
        res["notes"] = [line for line in r.stdout.splitlines()
                        if line and not line.startswith(("|", "{"))]
        return res

    def phase(self, st, gw, connections, seconds, first_id, label):
        """One client run against the running gateway, with the CPU each
        process used over it and the produced counts after it."""
        before = produced(st, gw)
        procs = {"gateway": gw.pid, "devbroker": st.broker.pid, "redis": st.redis.pid
                 if st.redis else None}
        cpu0 = {}
        res = {}
        box = {}

        # The client runs in the background; the CPU is sampled once its
        # warm-up is over and again when it is done.

        def go():
            try:
                box["res"] = self.client(gw.ingest_port, connections, seconds, first_id, label)
            except Exception as e:  # noqa: BLE001 - reported by the caller
                box["err"] = e

        t = threading.Thread(target=go)
        t.start()
        time.sleep(self.o.warmup)
        t0 = time.monotonic()
        for name, pid in procs.items():
            cpu0[name] = cpu_seconds(pid) if pid else None
        busy0 = machine_busy()
        t.join()
        wall = time.monotonic() - t0
        busy1 = machine_busy()
        if "err" in box:
            raise box["err"]
        res.update(box["res"])
        cores = {}
        for name, pid in procs.items():
            c1 = cpu_seconds(pid) if pid else None
            if c1 is not None and cpu0.get(name) is not None and wall > 0:
                cores[name] = (c1 - cpu0[name]) / wall
        if res.get("seconds"):
            cores["client"] = res["client_cpu_s"] / res["seconds"]
        res["cores"] = cores
        # Everything the machine did meanwhile: what is not the processes
        # above is the harness, or something else competing for the CPUs.
        res["machine_cores"] = (busy1[0] - busy0[0]) / wall if wall > 0 else None
        st.check_alive()
        time.sleep(0.2)
        after = produced(st, gw)
        res["produced_metric"] = after[0] - before[0]
        res["produced_topic"] = after[1] - before[1]
        res["hwm_kib"] = wl.vm_hwm_kib(gw.pid)
        return res

    def run(self, index, profile_s=None):
        """A fresh stack and gateway: the baseline, then the loaded run (or
        with profile_s, only a profiled loaded run)."""
        out = {}
        with BenchStack(partitions=PARTITIONS, topics=TOPICS, log_level="warn",
                        redis=not self.o.redis_url, name="bench-gw") as st:
            env = self.gateway_env(st)
            gw = st.start_worker(GATEWAY, env, timeout=60)
            gw.ingest_port = int(env["INGEST_PORT"])
            base_id = FIRST_ID + index * 4 * PHASE_IDS
            if profile_s:
                return self.profile(st, gw, profile_s, base_id)
            if self.o.baseline:
                out["baseline"] = self.phase(st, gw, 1, self.o.seconds, base_id,
                                             "baseline, 1 connection")
            out["loaded"] = self.phase(st, gw, self.o.connections, self.o.seconds,
                                       base_id + PHASE_IDS,
                                       "%d connections" % self.o.connections)
            gw.stop()
        return out

    def profile(self, st, gw, seconds, first_id):
        """perf record of the gateway (with call graphs) while it serves a
        loaded run: its CPU time by kind of work, by function (self), and
        the gateway's own functions with what they call (inclusive)."""
        perf = shutil.which("perf")
        if not perf:
            return {"error": "perf not found"}
        data = os.path.join(st.dir, "perf.data")
        rec = subprocess.Popen([perf, "record", "-F", "499", "--call-graph", "dwarf,16384",
                                "-p", str(gw.pid), "-o", data, "--", "sleep", str(seconds)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.3)
        res = self.client(gw.ingest_port, self.o.connections, seconds - 0.5, first_id,
                          "profiled")
        _, err = rec.communicate(timeout=seconds + 60)
        if rec.returncode != 0:
            return {"error": "perf record: %s" % err.strip()[-300:]}

        def report(children, limit):
            """[[share, dso, symbol], ...]: self time, or with children the
            time in a function and everything it calls."""
            argv = [perf, "report", "-i", data, "--stdio", "-q", "--sort", "dso,sym", "-g",
                    "none", "--percent-limit", "0.3" if children else "0",
                    "--children" if children else "--no-children"]
            r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
            rows = []
            for line in r.stdout.splitlines():
                m = re.match(r"\s*([\d.]+)%\s+(?:([\d.]+)%\s+)?(\S+)\s+\[.\]\s+(.*\S)", line)
                if m:
                    rows.append([float(m.group(1)), m.group(3), m.group(4)])
            return rows[:limit] if limit else rows

        every = report(False, None)
        kinds = {}
        for share, dso, sym in every:
            k = kind_of(dso, sym)
            kinds[k] = kinds.get(k, 0.0) + share
        own = [r for r in report(True, None) if r[1] == GATEWAY]
        return {"seconds": seconds, "rate": res.get("ok_rate"), "p99_ms": res.get("p99_ms"),
                "samples": len(every),
                "kinds": sorted(([round(v, 1), k] for k, v in kinds.items()), reverse=True),
                "symbols": every[:20], "inclusive": own[:16]}


MALLOC = re.compile(r"malloc|free|calloc|realloc|_int_|consolidate|unlink_chunk|tcache|"
                    r"arena|sysmalloc|systrim")


def kind_of(dso, sym):
    """What kind of work a sample of the gateway was doing."""
    if dso.startswith("libjson-c"):
        return "JSON (json-c: parsing, building, serialising and freeing objects)"
    if dso.startswith("libc") and MALLOC.search(sym):
        return "memory allocation (glibc malloc and free)"
    if dso.startswith("[kernel"):
        return "kernel (system calls, scheduling, loopback TCP)"
    if dso.startswith("libcrypto"):
        return "OpenSSL (the HMAC)"
    if dso.startswith("librdkafka"):
        return "librdkafka (the Kafka client)"
    if dso.startswith("libhiredis"):
        return "hiredis (the Redis client)"
    if dso.startswith("libmicrohttpd"):
        return "libmicrohttpd (HTTP)"
    if dso == GATEWAY:
        return "the gateway's own code"
    if dso.startswith("libc"):
        return "libc, other (string functions, copies, locks)"
    return dso


def attempt(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except (stackmod.StackError, TimeoutError, OSError, subprocess.SubprocessError,
            KeyError, ValueError) as e:
        why = " ".join(str(e).split())[:600] or type(e).__name__
        log("  failed: %s", why)
        return {"error": why}


def describe(r):
    return ("%s webhooks/s (%d requests, %d non-200%s), p50 %.1f ms, p99 %.1f ms, max %.0f ms; "
            "produced %d by the metric, %d in orders, for %d 200s in all; cores: %s, "
            "machine %.2f"
            % (fmt(r["ok_rate"]), r["requests"], r["non200"],
               " " + json.dumps(r["by_status"]) if r["by_status"] else "", r["p50_ms"],
               r["p99_ms"], r["max_ms"], r["produced_metric"], r["produced_topic"],
               r["ok_all"], ", ".join("%s %.2f" % kv for kv in r["cores"].items()),
               r.get("machine_cores") or 0))


def fmt(v):
    return "-" if v is None else "%.0f" % v


def mhd_version():
    try:
        out = subprocess.run(["pkg-config", "--modversion", "libmicrohttpd"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
        return out or None
    except (OSError, subprocess.SubprocessError):
        return None


def main():
    env = os.environ.get
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bin_dir")
    ap.add_argument("--json", required=True, help="write the results here")
    ap.add_argument("--runs", type=int, default=int(env("BENCH_RUNS", "3")))
    ap.add_argument("--seconds", type=float, default=float(env("BENCH_WEBHOOK_SECONDS", "10")),
                    help="of each client run, after the warm-up")
    ap.add_argument("--connections", type=int,
                    default=int(env("BENCH_WEBHOOK_CONNECTIONS", "64")))
    ap.add_argument("--warmup", type=float, default=1.0,
                    help="seconds of each client run not counted")
    ap.add_argument("--linger-ms", type=int, default=int(env("BENCH_GATEWAY_LINGER_MS", "1")),
                    help="RDKAFKA_LINGER_MS of the gateway")
    ap.add_argument("--redis-url", default=env("BENCH_REDIS_URL"),
                    help="use this Redis instead of starting one per run")
    ap.add_argument("--no-baseline", dest="baseline", action="store_false")
    ap.add_argument("--profile", type=float, default=float(env("BENCH_GATEWAY_PROFILE", "8")),
                    help="seconds of a profiled loaded run after the others (0: none)")
    o = ap.parse_args()
    if o.runs < 1:
        ap.error("--runs must be at least 1")
    stackmod.BIN_DIR = os.path.abspath(o.bin_dir)
    stackmod.binary(GATEWAY)
    stackmod.binary(CLIENT)
    t0 = time.monotonic()
    b = GatewayBench(o)
    results = {"runs": o.runs, "seconds": o.seconds, "warmup": o.warmup,
               "connections": o.connections, "linger_ms": o.linger_ms,
               "partitions": PARTITIONS, "baseline_enabled": o.baseline,
               "mhd": mhd_version(), "date": time.strftime("%Y-%m-%d", time.gmtime()),
               "loaded": [], "baseline": []}
    for run in range(1, o.runs + 1):
        log("gateway run %d of %d", run, o.runs)
        r = attempt(b.run, run)
        if "error" in r:
            results["loaded"].append({"run": run, "error": r["error"]})
            if o.baseline:
                results["baseline"].append({"run": run, "error": r["error"]})
            continue
        for key in ("baseline", "loaded"):
            if key in r:
                r[key]["run"] = run
                results[key].append(r[key])
                log("  %s: %s", key, describe(r[key]))
    if o.profile > 0:
        log("gateway: a profiled run of %.0f s (perf record, not counted)", o.profile)
        results["profile"] = attempt(b.run, o.runs + 1, profile_s=o.profile)
    results["elapsed"] = time.monotonic() - t0
    with open(o.json, "w") as f:
        json.dump(results, f, indent=1)
    log("gateway benchmarks took %.0f s", results["elapsed"])


if __name__ == "__main__":
    main()
