#!/usr/bin/env bash
# Builds the aftercare container image from docker/Dockerfile (make image).
#
# The engine is podman, or docker when its daemon answers and podman is
# absent; AC_ENGINE=podman|docker chooses. As root with neither, podman is
# installed (tools/deps.sh image). podman runs with runc where it is
# installed, because crun refuses the cgroup setup of some hosts, and with
# explicit ulimits, which it otherwise copies from a host that may not
# allow them inside the container.
#
# The Dockerfile starts FROM debian:12-slim. When the engine has no such
# image and cannot pull one (no registry reachable), the base is made here
# from the Debian mirror apt already uses: debootstrap --variant=minbase
# bookworm, trimmed the way Debian's slim images are, imported under the
# same name. So the image builds from the repository and Debian's archive
# alone.
#
#   tools/image.sh [TAG]      default aftercare:latest
#   tools/image.sh --base     only make debian:12-slim from the archive
#
# Prints the engine, build time and image size; the engine's output goes to
# build-image/image.log, whose last lines are printed on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${1:-aftercare:latest}
base=docker.io/library/debian:12-slim
logdir=$PWD/build-image
log=$logdir/image.log
mkdir -p "$logdir"
[[ "$tag" == --base ]] || : >"$log"

# Exit status 3 says that no container engine can run containers here
# (tools/test-image.sh then skips instead of failing).
# shellcheck source=tools/engine.sh
. tools/engine.sh
# The reason is also left in build-image/no-engine for that line.
rm -f "$logdir/no-engine"
if ! ac_engine_detect 2>"$logdir/no-engine"; then
  cat "$logdir/no-engine" >&2
  exit 3
fi
rm -f "$logdir/no-engine"
[[ "$tag" == --base ]] || echo "Building image $tag with ${AC_ENGINE_CMD[*]} (log: $log)"

# The mirror apt uses on this machine, for debootstrap; deb.debian.org when
# none is found.
debian_mirror() {
  local uri=""
  if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
    uri=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
  fi
  if [[ -z "$uri" && -f /etc/apt/sources.list ]]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

# Makes debian:12-slim from the Debian archive: a minbase bookworm with the
# suites Debian's image lists, without documentation (the slim images'
# dpkg path excludes) and without apt's caches.
make_base() {
  local mirror root
  mirror=$(debian_mirror)
  root=$(mktemp -d /tmp/ac-rootfs.XXXXXX)
  trap 'rm -rf "$root"' RETURN
  command -v debootstrap >/dev/null || tools/deps.sh image
  debootstrap --variant=minbase bookworm "$root" "$mirror"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/dpkg/dpkg.cfg.d/slim" <<'EOF'
# As in Debian's slim images: no documentation, manual pages or translations
# in what later stages install; the copyright files stay.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  # What the excludes would have kept out of debootstrap's own packages.
  find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias \
    -exec rm -rf {} +
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
    "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/var/log/apt/*
  tar -C "$root" -c . | "${AC_ENGINE_CMD[@]}" import - "$base"
}

if [[ "$tag" == --base ]]; then
  make_base
  exit
fi

start=$SECONDS
if ! "${AC_ENGINE_CMD[@]}" image inspect "$base" >/dev/null 2>&1; then
  # A registry may be out of reach: give the pull a minute, then make the
  # base from Debian's archive instead.
  if timeout 60 "${AC_ENGINE_CMD[@]}" pull "$base" >>"$log" 2>&1; then
    echo "  base image   pulled $base"
  else
    echo "  base image   no registry answered; making $base from the Debian archive"
    tools/quiet.sh "$log" debootstrap "$0" --base
  fi
fi
# The build runs containers for its RUN steps: find out first, with a
# clear line, whether this host lets the engine run any.
if ! "${AC_ENGINE_CMD[@]}" run --rm "${AC_ENGINE_RUN_ARGS[@]}" "$base" /bin/true >>"$log" 2>&1; then
  echo "${AC_ENGINE_CMD[*]} cannot run a container on this host: $(tail -n 1 "$log")" |
    tee "$logdir/no-engine" >&2
  exit 3
fi
tools/quiet.sh "$log" build "${AC_ENGINE_CMD[@]}" build "${AC_ENGINE_BUILD_ARGS[@]}" \
  -f docker/Dockerfile -t "$tag" .
secs=$((SECONDS - start))
size=$("${AC_ENGINE_CMD[@]}" image inspect --format '{{.Size}}' "$tag")
printf 'Built %s in %ds: %s bytes (%d MB)\n' "$tag" "$secs" "$size" $((size / 1000000))
