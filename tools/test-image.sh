#!/usr/bin/env bash
# make test-image: builds the image (tools/image.sh) and runs its binaries
# as deploy/ and docker/docker-compose.yml configure them against the dev
# stack on the host (tests/image/test_image.py). Where there is no
# container engine to use, or it cannot run containers here, says so and
# why in one line and exits 0: the rest of the suite does not depend on it.
# Any other failure, of the build included, fails.
#
#   tools/test-image.sh IMAGE BIN_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:-aftercare:latest}
bin=$(cd "${2:-build/bin}" && pwd)

status=0
tools/image.sh "$image" || status=$?
if [[ $status -eq 3 && -s build-image/no-engine ]]; then
  echo "test-image: SKIPPED: no container engine can run containers on this machine:" \
    "$(tr '\n' ' ' <build-image/no-engine)"
  exit 0
fi
[[ $status -eq 0 ]] || exit "$status"

# shellcheck source=tools/engine.sh
. tools/engine.sh
ac_engine_detect

# Every container the tests start carries this label. A container outlives
# the engine's client when that is killed, and so would outlive a test
# interrupted or timed out; whatever is left is removed on the way out.
label="ac-test-image=$$"
cleanup() {
  "${AC_ENGINE_CMD[@]}" ps -aq --filter "label=$label" |
    xargs -r "${AC_ENGINE_CMD[@]}" rm -f >/dev/null 2>&1 || true
}
trap cleanup EXIT

cd tests/image
AC_TEST_IMAGE=$image AC_TEST_ENGINE="${AC_ENGINE_CMD[*]}" \
  AC_TEST_ENGINE_RUN_ARGS="${AC_ENGINE_RUN_ARGS[*]} --label $label" AC_BIN_DIR=$bin \
  PYTHONDONTWRITEBYTECODE=1 python3 -m unittest -v test_image
