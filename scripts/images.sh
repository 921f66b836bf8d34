#!/usr/bin/env bash
# Builds the three images (Dockerfile.static, .dynamic, .vm) with a real container engine and tags them
# exactly as the chart's rendered Deployments name them.
#
#   scripts/images.sh [build]     engine up, base image, the three images (default)
#   scripts/images.sh engine      only make sure a Docker daemon answers
#   scripts/images.sh base        engine + base image
#   scripts/images.sh tags        print "component image" for each image the chart renders
#   scripts/images.sh stop-engine stop the dockerd this checkout started (pid in .tools/dockerd.pid)
#
# Engine: when `docker info` answers, that daemon is used as it is. Otherwise Debian's docker.io is
# installed with apt (if dockerd is missing) and `dockerd` is started in the background (no systemd
# needed); its pid goes to .tools/dockerd.pid and the daemon stays up for the rest of the run, so later
# runs and the test suite reuse it. `stop-engine` (`make images-stop`, .ci/run on exit) stops only that
# pid, and only while it is still a dockerd.
#
# Base: the official python:3.11-slim when it is present or can be pulled (then used unchanged).
# Where no registry answers, a stand-in is built from Debian packages (debootstrap minbase bookworm with
# python3, python3-venv, python3-pip, libpython3.11 -- libroadrunner links libpython3.11.so.1.0 --
# and ca-certificates, plus the host's extra CA certificates so pip reaches PyPI through a re-signing
# proxy) and imported as $STANDIN_IMAGE; the images are then built with --build-arg PYTHON_IMAGE pointing
# at it. The root-filesystem tarball is cached in $BIOXEN_CACHE_DIR, so a rerun (or a fresh clone on the
# same machine) imports it in seconds instead of bootstrapping again.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

OFFICIAL_IMAGE=${OFFICIAL_IMAGE:-python:3.11-slim}
STANDIN_IMAGE=${STANDIN_IMAGE:-bioxen/python-base:3.11-bookworm}
CACHE_DIR=${BIOXEN_CACHE_DIR:-/var/cache/bioxen}
PIDFILE="$here/.tools/dockerd.pid"
DOCKERD_LOG="$here/.tools/dockerd.log"
PY=${PY:-$here/.venv/bin/python}
HELM=${HELM:-$here/.tools/bin/helm}
STANDIN_PACKAGES=python3,python3-venv,python3-pip,libpython3.11,ca-certificates
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# the legacy builder: Debian's docker.io ships no buildx; the Dockerfiles need nothing BuildKit-only
export DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0}

say() { echo "images: $*"; }
if [ "$(id -u)" -eq 0 ]; then SUDO=""; else SUDO="sudo"; fi

apt_install() {
  say "apt-get install $*"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

daemon_answers() { timeout 20 docker info >/dev/null 2>&1; }

ours_running() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid=$(cat "$PIDFILE")
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = dockerd ]
}

ensure_engine() {
  if command -v docker >/dev/null 2>&1 && daemon_answers; then
    say "docker daemon answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
    return
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    apt_install docker.io
  fi
  if ours_running; then
    say "waiting for the dockerd this checkout started (pid $(cat "$PIDFILE"))"
  else
    mkdir -p "$here/.tools"
    say "no docker daemon answers: starting dockerd in the background (log $DOCKERD_LOG)"
    # its own session, so it outlives this script and the test run that called it
    setsid dockerd >"$DOCKERD_LOG" 2>&1 < /dev/null &
    echo $! > "$PIDFILE"
  fi
  for _ in $(seq 1 60); do
    if daemon_answers; then
      say "dockerd $(docker version --format '{{.Server.Version}}') ready, pid $(cat "$PIDFILE")" \
          "(scripts/images.sh stop-engine stops it)"
      return
    fi
    ours_running || { tail -20 "$DOCKERD_LOG" >&2; say "dockerd exited"; exit 1; }
    sleep 1
  done
  tail -20 "$DOCKERD_LOG" >&2
  say "dockerd did not answer within 60 s"
  exit 1
}

stop_engine() {
  if ! ours_running; then
    say "no dockerd started by this checkout is running"
    rm -f "$PIDFILE"
    return
  fi
  local pid
  pid=$(cat "$PIDFILE")
  say "stopping dockerd pid $pid"
  kill -TERM "$pid"
  for _ in $(seq 1 30); do
    [ -d "/proc/$pid" ] || break
    sleep 1
  done
  if [ -d "/proc/$pid" ]; then
    say "dockerd $pid still running after 30 s: SIGKILL"
    kill -KILL "$pid"
  fi
  rm -f "$PIDFILE"
}

# -- base image ---------------------------------------------------------------------------------------
standin_tarball() {
  # keyed by what goes into it, so a change of the package list or CA certificates builds a new one
  local key
  key=$( { echo "$STANDIN_PACKAGES $DEBIAN_MIRROR v1"; cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true; } \
         | sha256sum | cut -c1-16)
  echo "$CACHE_DIR/python-base-bookworm-$key.tar"
}

build_standin_rootfs() {
  local tarball=$1 root
  command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
  root=$(mktemp -d /var/tmp/bioxen-rootfs.XXXXXX)
  say "debootstrap --variant=minbase bookworm ($STANDIN_PACKAGES) into $root"
  $SUDO debootstrap --variant=minbase --include="$STANDIN_PACKAGES" bookworm "$root" "$DEBIAN_MIRROR" >"$root.log" 2>&1 \
    || { tail -30 "$root.log" >&2; exit 1; }
  # python and pip resolve as in the official image
  $SUDO ln -sf python3 "$root/usr/bin/python"
  $SUDO ln -sf pip3 "$root/usr/bin/pip"
  # the host's extra CA certificates (a local CA re-signs HTTPS to the package registries)
  local extra=0
  for crt in /usr/local/share/ca-certificates/*.crt; do
    [ -f "$crt" ] || continue
    $SUDO cp "$crt" "$root/usr/local/share/ca-certificates/"
    extra=$((extra + 1))
  done
  if [ "$extra" -gt 0 ]; then
    $SUDO chroot "$root" update-ca-certificates >/dev/null
    say "copied $extra extra CA certificate(s) from /usr/local/share/ca-certificates"
  fi
  # what the official slim image does not carry either
  $SUDO rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* "$root"/usr/share/doc/* \
      "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
  mkdir -p "$CACHE_DIR"
  $SUDO tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  $SUDO rm -rf "$root" "$root.log"
}

ensure_base() {
  BASE_IMAGE=$OFFICIAL_IMAGE
  if docker image inspect "$OFFICIAL_IMAGE" >/dev/null 2>&1; then
    say "base: $OFFICIAL_IMAGE (present)"
    return
  fi
  if timeout 90 docker pull -q "$OFFICIAL_IMAGE" >/dev/null 2>&1; then
    say "base: $OFFICIAL_IMAGE (pulled)"
    return
  fi
  BASE_IMAGE=$STANDIN_IMAGE
  say "base: $OFFICIAL_IMAGE cannot be pulled (no registry reachable); using the stand-in $STANDIN_IMAGE" \
      "(Debian bookworm python3 from debootstrap), passed as --build-arg PYTHON_IMAGE"
  local tarball
  tarball=$(standin_tarball)
  if docker image inspect "$STANDIN_IMAGE" >/dev/null 2>&1 \
     && [ "$(docker image inspect -f '{{index .Config.Labels "org.bioxen.rootfs"}}' "$STANDIN_IMAGE")" = "$(basename "$tarball")" ]; then
    say "stand-in base present"
    return
  fi
  if [ -f "$tarball" ]; then
    say "stand-in root filesystem cached: $tarball"
  else
    build_standin_rootfs "$tarball"
  fi
  docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL org.bioxen.rootfs=$(basename "$tarball")" \
    --change 'CMD ["python3"]' \
    "$tarball" "$STANDIN_IMAGE" >/dev/null
  say "imported $tarball as $STANDIN_IMAGE"
}

# -- the images -----------------------------------------------------------------------------------------
chart_images() {
  # "component image" per image this project builds, as the chart renders it (default values), so the
  # tags are the chart's own; the helm test pod runs the vm image. A job worker runs its engine's image
  # (<engine>-worker); the chart's Redis is a third-party image, pulled, not built.
  "$HELM" template bioxen helm/bioxen --namespace bioxen | "$PY" -c '
import sys, yaml
seen = {}
for doc in yaml.safe_load_all(sys.stdin):
    if doc and doc["kind"] == "Deployment":
        component = doc["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        if component == "redis" or component.endswith("-worker"):
            continue
        for c in doc["spec"]["template"]["spec"]["containers"]:
            seen.setdefault(component, c["image"])
for component, image in seen.items():
    print(component, image)
'
}

build_images() {
  local component image started
  while read -r component image; do
    [ -f "Dockerfile.$component" ] || { say "no Dockerfile.$component for the chart's image $image"; exit 1; }
    started=$(date +%s)
    say "docker build -f Dockerfile.$component -t $image (PYTHON_IMAGE=$BASE_IMAGE)"
    docker build -f "Dockerfile.$component" --build-arg "PYTHON_IMAGE=$BASE_IMAGE" \
      --label "org.bioxen.base=$BASE_IMAGE" -t "$image" . >"$here/.tools/build-$component.log" 2>&1 \
      || { tail -40 "$here/.tools/build-$component.log" >&2; say "docker build of $image failed"; exit 1; }
    say "built $image in $(( $(date +%s) - started )) s"
  done < <(chart_images)
}

case "${1:-build}" in
  engine) ensure_engine ;;
  base) ensure_engine; ensure_base ;;
  build) ensure_engine; ensure_base; build_images ;;
  tags) chart_images ;;
  stop-engine) stop_engine ;;
  *) echo "usage: $0 [build|engine|base|tags|stop-engine]" >&2; exit 2 ;;
esac
