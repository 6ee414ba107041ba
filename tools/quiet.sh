#!/usr/bin/env bash
# Runs one build step quietly: its output goes to a log file, and the
# terminal gets one short line for the step, with cmake's percentage while
# it runs when the terminal is interactive. On failure the last lines of the
# log and its path are printed, and the step's exit status is kept, so a
# first `make demo` or `make test` opens with what matters instead of
# hundreds of compiler lines, and still shows why a build broke.
#
#   tools/quiet.sh LOG LABEL command [args...]
#
# The log is appended to; `make build` starts it afresh. VERBOSE=1 prints
# the output as it comes instead.
set -uo pipefail

if [[ $# -lt 3 ]]; then
  echo "usage: tools/quiet.sh LOG LABEL command [args...]" >&2
  exit 2
fi
log=$1
label=$2
shift 2
mkdir -p "$(dirname "$log")"

if [[ -n "${VERBOSE:-}" && "${VERBOSE}" != 0 ]]; then
  "$@" 2>&1 | tee -a "$log"
  exit "${PIPESTATUS[0]}"
fi

tty=0
[[ -t 1 ]] && tty=1
start=$SECONDS
[[ $tty == 1 ]] && printf '  %-12s ...' "$label"

# Each output line goes to the log, a last one without a newline too (it
# is often the error). On a terminal the step's line is
# updated in place: with the percentage of cmake's "[ 42%]" prefixes, or
# else with the start of the latest line (which packages are installing).
"$@" 2>&1 | while IFS= read -r line || [[ -n "$line" ]]; do
  printf '%s\n' "$line" >>"$log"
  [[ $tty == 1 ]] || continue
  if [[ $line =~ ^\[\ *([0-9]+)%\] ]]; then
    printf '\r\033[K  %-12s ... %3s%%' "$label" "${BASH_REMATCH[1]}"
  elif [[ -n "$line" ]]; then
    printf '\r\033[K  %-12s ... %.60s' "$label" "$line"
  fi
done
status=${PIPESTATUS[0]}
secs=$((SECONDS - start))

[[ $tty == 1 ]] && printf '\r\033[K'
if [[ $status -eq 0 ]]; then
  printf '  %-12s ok (%ds)\n' "$label" "$secs"
  exit 0
fi
printf '  %-12s FAILED (exit %d after %ds); the last lines of %s:\n' \
  "$label" "$status" "$secs" "$log" >&2
tail -n 40 "$log" | sed 's/^/    /' >&2
printf 'Full log: %s\n' "$log" >&2
exit "$status"
