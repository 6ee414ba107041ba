#!/usr/bin/env bash
# Installs the Debian 12 packages aftercare needs to build, test and run the
# demo. As root it runs apt-get itself; otherwise it prints the exact
# command to run and fails, so that nothing half-builds.
#
#   tools/deps.sh         everything: build, tests, demo
#   tools/deps.sh build   only what `make build` needs (the image's build stage)
#   tools/deps.sh image   what `make image` needs: podman, runc, debootstrap
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  librdkafka-dev libhiredis-dev libcurl4-openssl-dev libjson-c-dev libyajl-dev
  libmicrohttpd-dev libssl-dev zlib1g-dev
)
if [[ "${1:-all}" == image ]]; then
  # make image: a container engine that runs here as root (podman with
  # runc; crun refuses some hosts' cgroup setup) and debootstrap for the
  # Debian base image when none can be pulled. Nothing to build with.
  packages=(podman runc debootstrap uidmap slirp4netns fuse-overlayfs)
elif [[ "${1:-all}" != build ]]; then
  # cmocka for the unit tests.
  packages+=(libcmocka-dev)
  # clang and its runtime (libFuzzer) for make fuzz.
  packages+=(redis-server tzdata clang libclang-rt-14-dev)
  # Headless Chromium checks the report's HTML layout (tests/integration/test_report_html.py).
  packages+=(chromium)
  # Python 3 runs the integration tests and the demo; any python3 will do.
  command -v python3 >/dev/null 2>&1 || packages+=(python3)
  python3 -c 'import yaml' >/dev/null 2>&1 || packages+=(python3-yaml)
  # Node.js validates the Kubernetes manifests against their schemas
  # (tests/deploy); any node and npm from the last few years will do.
  command -v node >/dev/null 2>&1 || packages+=(nodejs)
  command -v npm >/dev/null 2>&1 || packages+=(npm)
  # kubectl renders the manifests (kubectl kustomize). Debian 12's own
  # kubernetes-client is too old for Kustomize components, so it is not
  # installed from here: use the Kubernetes project's package (1.21 or later).
  command -v kubectl >/dev/null 2>&1 ||
    echo "note: tests/deploy needs kubectl 1.21 or later (kubectl kustomize); it is not on PATH" >&2
fi

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

line="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "aftercare needs these Debian packages: ${missing[*]}" >&2
  echo "Run as root:  $line" >&2
  exit 1
fi
echo "Installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
