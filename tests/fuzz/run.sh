#!/usr/bin/env bash
# Runs every libFuzzer target for a while and fails if any finds a crash,
# a leak, a timeout or runs out of memory.
#
#   tests/fuzz/run.sh BUILD_DIR SECONDS [TARGET...]
#
# BUILD_DIR was configured with -DCMAKE_C_COMPILER=clang -DAC_FUZZ=ON and
# built; SECONDS is each target's time; TARGETs default to all of them.
# Each fuzzer starts from a copy of its seed corpus and regression inputs
# in a scratch directory, and writes what it finds there, never into the
# repository. FUZZ_JOBS (default: the number of CPUs) fuzzers run at once;
# FUZZ_WORKDIR names the scratch directory to use and keep (default: a new
# temporary one, removed unless something was found).
set -euo pipefail

usage() {
  echo "usage: $0 BUILD_DIR SECONDS [event|message|render|config|webhook|signature|creds|rtoken|ratingform ...]" >&2
  exit 2
}
[[ $# -ge 2 ]] || usage
build=$1
seconds=$2
shift 2
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || usage
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(event message render config webhook signature creds rtoken ratingform)
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}

bindir="$build/tests/fuzz"
for t in "${targets[@]}"; do
  if [[ ! -x "$bindir/fuzz_$t" ]]; then
    echo "run.sh: $bindir/fuzz_$t not found: configure $build with" \
      "-DCMAKE_C_COMPILER=clang -DAC_FUZZ=ON and build it" >&2
    exit 2
  fi
done
bindir=$(cd "$bindir" && pwd)

if [[ -n "${FUZZ_WORKDIR:-}" ]]; then
  work=$FUZZ_WORKDIR
  keep=1
  mkdir -p "$work"
else
  work=$(mktemp -d "${TMPDIR:-/tmp}/aftercare-fuzz.XXXXXX")
  keep=0
fi
work=$(cd "$work" && pwd)

# One target: its corpus copy, its findings, its log.
fuzz_one() {
  local t=$1 dir="$work/$t"
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  find "$here/corpus/$t" -maxdepth 1 -type f ! -name '.*' -exec cp {} "$dir/corpus/" \;
  # Regression inputs seed the corpus too, once fixed; one that still
  # fails is reported (as a finding of this run) and left out, so that
  # the fuzzer gets to run.
  local f
  while IFS= read -r -d '' f; do
    if (cd "$dir" && "$bindir/fuzz_$t" -runs=1 "$f") >"$dir/regression.log" 2>&1; then
      cp "$f" "$dir/corpus/"
    else
      cp "$f" "$dir/artifacts/crash-regression-$(basename "$f")"
      cat "$dir/regression.log" >>"$dir/regressions-failing.log"
    fi
  done < <(find "$here/regressions/$t" -maxdepth 1 -type f ! -name '.*' ! -name 'README*' \
    -print0 2>/dev/null)
  local dict=()
  [[ -f "$here/$t.dict" ]] && dict=("-dict=$here/$t.dict")
  # Run in the scratch directory: libFuzzer drops fuzz-*.log files into
  # the current one.
  local rc=0
  (cd "$dir" && exec "$bindir/fuzz_$t" "${dict[@]}" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$dir/artifacts/" "$dir/corpus") \
    >"$dir/log" 2>&1 || rc=$?
  echo "$rc" >"$dir/status"
}

echo "Fuzzing ${targets[*]} for ${seconds}s each, $jobs at a time, in $work"
for t in "${targets[@]}"; do
  while [[ $(jobs -rp | wc -l) -ge $jobs ]]; do
    wait -n || true
  done
  fuzz_one "$t" &
done
wait

failed=0
for t in "${targets[@]}"; do
  dir="$work/$t"
  rc=$(cat "$dir/status" 2>/dev/null || echo "?")
  # The last status line: "#RUNS ... cov: N ft: N corp: N/Nb ... exec/s: N ..."
  line=$(grep -E '^#[0-9]+' "$dir/log" | tail -n 1 || true)
  runs=$(grep -oE '^stat::number_of_executed_units: *[0-9]+' "$dir/log" | grep -oE '[0-9]+$' || true)
  cov=$(grep -oE 'cov: [0-9]+' <<<"$line" | tail -n 1 || true)
  ft=$(grep -oE 'ft: [0-9]+' <<<"$line" | tail -n 1 || true)
  corp=$(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' <<<"$line" | tail -n 1 || true)
  rate=$(grep -oE '^stat::average_exec_per_sec: *[0-9]+' "$dir/log" | grep -oE '[0-9]+$' || true)
  found=$(find "$dir/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
    -o -name 'oom-*' \) | sort)
  printf '%-10s %s runs, %s exec/s, %s, %s, %s\n' "$t" "${runs:-?}" "${rate:-?}" "${cov:-cov: ?}" \
    "${ft:-ft: ?}" "${corp:-corp: ?}"
  if [[ "$rc" == 0 && -z "$found" ]]; then
    continue
  fi
  failed=1
  # What failed: the sanitizer's or the property's line for each input.
  cat "$dir/regressions-failing.log" "$dir/log" 2>/dev/null |
    grep -aE '^(==[0-9]+==ERROR: [A-Za-z]+Sanitizer|SUMMARY: [A-Za-z]+Sanitizer)|property failed|runtime error|ERROR: libFuzzer: (out-of-memory|timeout|fuzz target exited)' |
    cut -c1-300 | sed -n '1,10s/^/    /p' || true
  fresh=0
  while IFS= read -r f; do
    [[ -n "$f" ]] || continue
    case "$(basename "$f")" in
    crash-regression-*)
      echo "    still failing: $here/regressions/$t/${f##*/crash-regression-}" ;;
    *)
      echo "    FOUND: $f"
      fresh=1 ;;
    esac
  done <<<"$found"
  [[ -n "$found" ]] || echo "    the fuzzer failed without saving an input (exit $rc)"
  echo "    reproduce: $bindir/fuzz_$t <input>   (in any build: tests/fuzz/replay_$t <input>)"
  if [[ $fresh -eq 1 ]]; then
    echo "    keep it:   cp <input> $here/regressions/$t/<what-it-is>"
  fi
  echo "    log:       $dir/log"
done

if [[ $failed -eq 0 && $keep -eq 0 ]]; then
  rm -rf "$work"
elif [[ $failed -eq 0 ]]; then
  echo "The grown corpora are in $work/<target>/corpus"
fi
exit $failed
