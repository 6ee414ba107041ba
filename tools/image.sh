#!/usr/bin/env bash
# Builds the aftercare container image from docker/Dockerfile (make image).
#
# The engine is podman, or docker when its daemon answers and podman is
# absent; AC_ENGINE=podman|docker chooses. As root, podman is installed
# when missing (tools/deps.sh image). How each engine is run here:
# tools/engine.sh.
#
# The Dockerfile starts FROM debian:12-slim. When the engine has no such
# image and cannot pull one (no registry reachable), the base is made here
# from the Debian mirror apt already uses: debootstrap --variant=minbase
# bookworm (as root), trimmed the way Debian's slim images are, imported
# under the same name. So the image builds from the repository and
# Debian's archive alone.
#
#   tools/image.sh [TAG]      default aftercare:latest
#   tools/image.sh --base     only make debian:12-slim from the archive
#
# Prints the engine, build time and image size; the engine's output goes to
# build-image/image.log, whose last lines are printed on failure.
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${1:-aftercare:latest}
base_only=0
[[ "$tag" == --base ]] && base_only=1
base=docker.io/library/debian:12-slim
logdir=$PWD/build-image
log=$logdir/image.log
mkdir -p "$logdir"
[[ $base_only == 1 ]] || : >"$log"

# Exit status 3 says that there is no container engine to use here, or
# that it cannot run containers on this host, and leaves the reason in
# build-image/no-engine (tools/test-image.sh then skips, with that reason,
# instead of failing). Any other failure is an error.
# shellcheck source=tools/engine.sh
. tools/engine.sh
rm -f "$logdir/no-engine"
detect=0
ac_engine_detect || detect=$?
if [[ $detect -eq 1 ]]; then
  echo "$AC_ENGINE_MISSING" | tee "$logdir/no-engine" >&2
  exit 3
fi
[[ $detect -eq 0 ]] || exit 1
[[ $base_only == 1 ]] || echo "Building image $tag with ${AC_ENGINE_CMD[*]} (log: $log)"

# The first http(s) URI of the Debian archive that apt uses on this
# machine whose address does (security=1) or does not mention "security",
# for debootstrap and the base's sources; Debian's own address when there
# is none (a mirror+file: or cdrom: source is no use to debootstrap).
debian_uri() {
  local want=$1 files=() uri=""
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    [[ -f "$f" ]] && files+=("$f")
  done
  if [[ ${#files[@]} -gt 0 ]]; then
    # deb822 "URIs:" lines, and the URI of one-line "deb" entries (after
    # any [options]).
    uri=$(awk -v want="$want" '
      /^URIs:/ || $1 == "deb" {
        for (i = 2; i <= NF; i++)
          if ($i ~ /^https?:\/\// && ((want == 1) == ($i ~ /security/))) {
            sub(/\/+$/, "", $i); print $i; exit
          }
      }' "${files[@]}")
  fi
  if [[ -n "$uri" ]]; then
    echo "$uri"
  elif [[ $want == 1 ]]; then
    echo "http://deb.debian.org/debian-security"
  else
    echo "http://deb.debian.org/debian"
  fi
}

# Makes debian:12-slim from the Debian archive: a minbase bookworm with the
# suites Debian's image lists, without documentation (the slim images'
# dpkg path excludes) and without apt's caches.
make_base() {
  local mirror security root
  mirror=$(debian_uri 0)
  security=$(debian_uri 1)
  root=$(mktemp -d /tmp/ac-rootfs.XXXXXX)
  # EXIT rather than RETURN: set -e leaves without running a RETURN trap,
  # and a half-made root file system is large and owned by root. The path
  # is expanded now, as the local variable is gone when the trap runs.
  # shellcheck disable=SC2064
  trap "rm -rf '$root'" EXIT
  command -v debootstrap >/dev/null || tools/deps.sh image
  debootstrap --variant=minbase bookworm "$root" "$mirror"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
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
  # As in Debian's images, apt keeps neither the packages it downloaded nor
  # its caches, so no layer of an image built on this base carries them.
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  # debootstrap installed its packages before those excludes existed, so
  # what they would have left out of them is removed here.
  find "$root/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias \
    -exec rm -rf {} +
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
    "$root"/var/lib/apt/lists/* "$root"/var/log/*.log "$root"/var/log/apt/*
  tar -C "$root" -c . | "${AC_ENGINE_CMD[@]}" import - "$base"
}

if [[ $base_only == 1 ]]; then
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
    tools/quiet.sh "$log" debootstrap tools/image.sh --base
  fi
fi
# The build runs a container for each RUN step. Whether this host lets the
# engine run any at all is asked first, so that a host that cannot gets
# one clear line instead of a failed build.
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
