#!/usr/bin/env python3
"""What a journey update costs redis-server, by the form of its script.

Starts a throwaway redis-server and applies one order.placed-like journey
update (one fact, a promised date, the expiry) to fresh keys, in batches of
64, in three forms, interleaved and repeated (this machine's speed drifts
between runs, so each form's median over many short runs is compared):

  five-calls  the journey script before issue 16's last step: HGET and
              HSET per fact, HSETNX, PEXPIRE, HGETALL; one EVALSHA per event
  three-calls common/journey_redis.c's script now: HGETALL, one HSET of
              what changed, PEXPIRE; one EVALSHA per event
  batched     the same three calls per event in one EVALSHA per batch of 64

Prints redis-server's CPU (user + system, from /proc) per event for each.
It bounds what a scripted call per batch could save on Redis's side.

    python3 tools/bench/scriptcost.py [--runs 15] [--batches 800]
"""

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import time

PER_EVENT = {
    "five-calls": """
for i = 3, #ARGV, 2 do
  local cur = redis.call('HGET', KEYS[1], ARGV[i])
  if not cur or tonumber(ARGV[i + 1]) < tonumber(cur) then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
if ARGV[2] ~= '' then redis.call('HSETNX', KEYS[1], 'promised', ARGV[2]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return redis.call('HGETALL', KEYS[1])
""",
    # common/journey_redis.c's script, as a function both forms below call.
    "three-calls": None,
}

# Merges the fact/time pairs ARGV[first..last] into the hash at key, as
# common/journey_redis.c's script does, and returns the merged journey.
APPLY = """
local function apply(key, ttl, promised, first, last)
  local h = redis.call('HGETALL', key)
  local at, set = {}, {}
  for i = 1, #h, 2 do at[h[i]] = i + 1 end
  for i = first, last, 2 do
    local j = at[ARGV[i]]
    if not j then
      h[#h + 1] = ARGV[i]; h[#h + 1] = ARGV[i + 1]; at[ARGV[i]] = #h
      set[#set + 1] = ARGV[i]; set[#set + 1] = ARGV[i + 1]
    elseif tonumber(ARGV[i + 1]) < tonumber(h[j]) then
      h[j] = ARGV[i + 1]; set[#set + 1] = ARGV[i]; set[#set + 1] = ARGV[i + 1]
    end
  end
  if promised ~= '' and not at['promised'] then
    h[#h + 1] = 'promised'; h[#h + 1] = promised
    set[#set + 1] = 'promised'; set[#set + 1] = promised
  end
  if #set > 0 then redis.call('HSET', key, unpack(set)) end
  redis.call('PEXPIRE', key, ttl)
  return h
end
"""

PER_EVENT["three-calls"] = APPLY + "return apply(KEYS[1], ARGV[1], ARGV[2], 3, #ARGV)\n"

BATCHED = APPLY + """
local out, a = {}, 2
for k = 1, #KEYS do
  local last = a + 1 + 2 * tonumber(ARGV[a + 1])
  out[k] = apply(KEYS[k], ARGV[1], ARGV[a], a + 2, last)
  a = last + 1
end
return out
"""

TTL, PROMISED, FACT, AT = "7776000000", "2026-01-01", "placed", "1760000000000"
PER_BATCH = 64


class Conn:
    """Just enough RESP for this probe."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.f = self.sock.makefile("rb")

    @staticmethod
    def encode(*args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        return b"".join(out)

    def read(self):
        line = self.f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if kind == b"*":
            return [self.read() for _ in range(max(int(rest), 0))]
        if kind == b"-":
            raise RuntimeError(rest.decode())
        return rest


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def requests(form, sha, batches, rng):
    """The wire bytes of every batch, built before the clock starts."""
    out = []
    for _ in range(batches):
        keys = ["ac:j:12:shop.example:%d" % rng.randrange(10 ** 9) for _ in range(PER_BATCH)]
        if form == "batched":
            argv = [TTL]
            for _ in keys:
                argv += [PROMISED, 1, FACT, AT]
            out.append((Conn.encode("EVALSHA", sha, len(keys), *keys, *argv), 1))
        else:
            out.append((b"".join(Conn.encode("EVALSHA", sha, 1, k, TTL, PROMISED, FACT, AT)
                                 for k in keys), len(keys)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--batches", type=int, default=800)
    ap.add_argument("--port", type=int, default=0, help="0: a free port")
    o = ap.parse_args()
    port = o.port
    if not port:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
    srv = subprocess.Popen(["redis-server", "--port", str(port), "--save", "",
                            "--appendonly", "no", "--bind", "127.0.0.1"],
                           stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                conn = Conn(port)
                break
            except OSError:
                time.sleep(0.05)
        else:
            sys.exit("redis-server did not start")
        shas = {}
        for form, src in list(PER_EVENT.items()) + [("batched", "#!lua flags=allow-cross-slot-keys\n" + BATCHED)]:
            conn.sock.sendall(Conn.encode("SCRIPT", "LOAD", src))
            shas[form] = conn.read().decode()
        rng = random.Random(7)
        results = {form: [] for form in shas}
        for _ in range(o.runs):
            for form, sha in shas.items():
                reqs = requests(form, sha, o.batches, rng)
                before = cpu_seconds(srv.pid)
                for wire, replies in reqs:
                    conn.sock.sendall(wire)
                    for _ in range(replies):
                        conn.read()
                spent = cpu_seconds(srv.pid) - before
                results[form].append(spent / (o.batches * PER_BATCH) * 1e6)
                conn.sock.sendall(Conn.encode("FLUSHALL"))
                conn.read()
        for form, runs in results.items():
            print("%-12s redis-server CPU per event: median %.2f µs, lowest %.2f µs (%d runs)"
                  % (form, statistics.median(runs), min(runs), len(runs)))
    finally:
        srv.terminate()
        srv.wait()


if __name__ == "__main__":
    main()
