# shellcheck shell=bash
# The variables it sets are for the scripts that source it.
# shellcheck disable=SC2034
# Sourced by tools/image.sh and tools/test-image.sh: chooses the container
# engine and the arguments it needs on this kind of host.
#
# ac_engine_detect sets
#   AC_ENGINE_CMD        the engine and its global options (an array)
#   AC_ENGINE_BUILD_ARGS what `build` needs
#   AC_ENGINE_RUN_ARGS   what `run` needs
# and returns 0; or returns 1 with AC_ENGINE_MISSING saying why no engine
# is there to use (tools/test-image.sh skips then); or 2 when installing
# one failed, which is an error like any other.
#
# podman is preferred; docker is used when AC_ENGINE=docker or when podman
# is absent and a docker daemon answers. As root, podman and what it needs
# are installed when missing (tools/deps.sh image), and that install's
# lines go to the terminal. podman runs with runc, because crun refuses the
# cgroup setup of some hosts, and with explicit ulimits, because by default
# it copies the host's, which a nested setup may not be allowed to set.
# Host networking: the dev stack the tests start listens on the host's
# loopback, and a nested engine may have no bridge.
ac_engine_detect() {
  local engine=${AC_ENGINE:-}
  AC_ENGINE_MISSING=""
  if [[ -z "$engine" ]]; then
    if command -v podman >/dev/null 2>&1; then
      engine=podman
    elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
      engine=docker
    else
      engine=podman
    fi
  fi
  local limits=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
  case "$engine" in
  podman)
    if [[ $(id -u) -eq 0 ]]; then
      tools/deps.sh image || return 2
    elif ! command -v podman >/dev/null 2>&1; then
      AC_ENGINE_MISSING="no podman and no docker daemon; as root, tools/deps.sh image installs podman"
      return 1
    fi
    AC_ENGINE_CMD=(podman)
    command -v runc >/dev/null 2>&1 && AC_ENGINE_CMD+=(--runtime runc)
    # The docker format keeps the Dockerfile's HEALTHCHECK, which OCI
    # images have no field for.
    AC_ENGINE_BUILD_ARGS=(--format docker --network host "${limits[@]}")
    AC_ENGINE_RUN_ARGS=(--network host "${limits[@]}")
    ;;
  docker)
    if ! docker info >/dev/null 2>&1; then
      AC_ENGINE_MISSING="AC_ENGINE=docker, but no docker daemon answers (docker info)"
      return 1
    fi
    AC_ENGINE_CMD=(docker)
    AC_ENGINE_BUILD_ARGS=(--network host)
    AC_ENGINE_RUN_ARGS=(--network host)
    ;;
  *)
    echo "AC_ENGINE=$engine: expected podman or docker" >&2
    return 2
    ;;
  esac
}
