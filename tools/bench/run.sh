#!/usr/bin/env bash
# make bench: runs the benchmarks against throwaway servers and writes their
# tables, with the machine they ran on, to docs/benchmarks.md.
#   tools/bench/run.sh BIN_DIR [ITEMS]
set -euo pipefail
bin=${1:?usage: run.sh BIN_DIR [ITEMS]}
items=${2:-1000000}
repo=$(cd "$(dirname "$0")/../.." && pwd)
out="$repo/docs/benchmarks.md"
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

echo "delivery: notify-worker against a healthy and a failing sink..." >&2
delivery=$(python3 "$repo/tools/bench/delivery.py" "$bin" 5000 | grep '^|')
echo "$delivery" >&2

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem=$(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)
redis_version=$(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')
{
    echo "# Benchmarks"
    echo
    echo "Written by \`make bench\` ($(date -u +%Y-%m-%d)) on $(nproc) CPU(s) ($cpu), $mem,"
    echo "Redis $redis_version on loopback, one client."
    echo
    echo "## Durable scheduling (common/schedule.c)"
    echo
    echo "Review requests pending in one Redis, 50 000 of them due. *Take* is one"
    echo "round of a firing worker: the 500 earliest due items, leased and returned with"
    echo "their records, while the rest stays untouched; *cancel* is one batch of 1 000"
    echo "cancellations. Memory is Redis's used_memory growth divided by the items, with"
    echo "1 200-byte notification records (a typical order event)."
    echo
    echo "$table"
    echo
    echo "## Delivery (notify-worker) and consumption (order-worker)"
    echo
    echo "5 000 orders through order-worker and notify-worker (MAX_IN_FLIGHT=256, signed"
    echo "webhooks) to ac-sink on loopback, once answering at once and once failing a third"
    echo "of requests at random (503) and taking 50 ms per request. *Consumption* is"
    echo "order-worker's rate from its first to its last event; *delivery* is accepted"
    echo "messages per second at the sink until 95 % had arrived (the rest are the ones"
    echo "retried several times with growing backoff: *all settled after* shows that tail)."
    echo "Messages still failing after 8 attempts are dead-lettered with their reason."
    echo
    echo "$delivery"
} >"$out"
echo "wrote $out" >&2
