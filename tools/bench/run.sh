#!/usr/bin/env bash
# make bench: runs the benchmarks against throwaway servers, prints the
# results and writes them, with the machine they ran on, to
# docs/benchmarks.md.
#   tools/bench/run.sh BIN_DIR [ITEMS]
# ITEMS: scheduled messages pending in the larger scheduling run (1000000);
# the run with real events schedules the messages of ITEMS/10 deliveries.
# Settings, from the environment:
#   BENCH_RUNS (3)                 runs of every measurement; figures are medians
#   BENCH_EVENTS (200000)          backlog of each throughput run
#   BENCH_BASELINE_EVENTS (20000)  backlog of each BATCH_SIZE=1 run
#   BENCH_MESSAGES (20000)         backlog of notifications of each delivery run
#   BENCH_IN_FLIGHT (1000)         the higher MAX_IN_FLIGHT of the delivery runs
#   BENCH_BASELINE_BIN (none)      bin dir of another build: end to end, this one over it
#   BENCH_LATENCY_RATE (2000)      events/s of the latency run ...
#   BENCH_LATENCY_SECONDS (30)     ... for this long
#   BENCH_MAX_SECONDS (10)         a slower worker is measured over this long only
#   BENCH_BASELINE_MAX_SECONDS (5) the same for the BATCH_SIZE=1 runs
#   BENCH_WEBHOOK_SECONDS (10)     each ingest-gateway run, 1 and N connections ...
#   BENCH_WEBHOOK_CONNECTIONS (64) ... N
#   BENCH_GATEWAY_LINGER_MS (1)    RDKAFKA_LINGER_MS of the gateway
#   BENCH_GATEWAY_PROFILE (8)      seconds of a profiled gateway run (perf; 0: none)
set -euo pipefail
bin=$(cd "${1:?usage: run.sh BIN_DIR [ITEMS]}" && pwd)
items=${2:-1000000}
runs=${BENCH_RUNS:-3}
export BENCH_RUNS=$runs
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out="$repo/docs/benchmarks.md"
started=$(date +%s)
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --daemonize no --loglevel warning >"$dir/redis.log" 2>&1 &
redis_pid=$!
trap 'kill $redis_pid 2>/dev/null; wait $redis_pid 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
done

echo "workers on the dev stack: $runs run(s) of throughput, baseline, delivery and latency..." >&2
python3 "$here/pipeline.py" "$bin" --json "$dir/pipeline.json" --runs "$runs"

echo "delivery: notify-worker against a healthy and a failing sink, $runs run(s)..." >&2
python3 "$here/delivery.py" "$bin" 5000 "$runs" | grep '^|' >"$dir/delivery.md"
cat "$dir/delivery.md" >&2

# Two sizes: taking what is due must cost the same however much is pending.
table=""
for n in $((items / 10)) "$items"; do
    echo "scheduling: $n pending messages (about a minute per million)..." >&2
    redis-cli -p "$port" flushall >/dev/null
    run=$("$bin/ac-bench-schedule" --redis "redis://127.0.0.1:$port/0" --items "$n" \
          --due 50000 --record-bytes 1200)
    echo "$run" >&2
    if [ -z "$table" ]; then
        table=$(echo "$run" | grep '^|')
    else
        table="$table"$'\n'$(echo "$run" | grep '^|' | tail -n 1)
    fi
done
echo "$table" >"$dir/schedule.md"

# Real events: a delivery's two messages, stored as earlier versions did
# (a record each) and as now (one shared trimmed event), in one run.
orders=$((items / 10))
echo "scheduling with real events: $orders deliveries, two messages each, in both forms..." >&2
python3 "$here/workload.py" --delivered "$dir/delivered.jsonl"
redis-cli -p "$port" flushall >/dev/null
run=$("$bin/ac-bench-schedule" --redis "redis://127.0.0.1:$port/0" \
      --events "$dir/delivered.jsonl" --orders "$orders" --due $((orders / 4)))
echo "$run" >&2
{ echo "$run" | grep '^|'; echo; echo "$run" | grep '^shared'; } >"$dir/schedule_events.md"

echo "ingest gateway: $runs run(s) of signed Shopify webhooks, 1 and ${BENCH_WEBHOOK_CONNECTIONS:-64} connections..." >&2
python3 "$here/gateway.py" "$bin" --json "$dir/gateway.json" --runs "$runs"

python3 "$here/report.py" --pipeline "$dir/pipeline.json" --delivery "$dir/delivery.md" \
    --schedule "$dir/schedule.md" --schedule-events "$dir/schedule_events.md" \
    --gateway "$dir/gateway.json" --bin "$bin" --out "$out" \
    --elapsed $(($(date +%s) - started))
echo "wrote $out ($(($(date +%s) - started)) s)" >&2
