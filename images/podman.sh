#!/usr/bin/env bash
# podman on this host, set up for kubetfx: it builds and runs the step images, and serves the Docker
# API that kfp.local's DockerRunner talks to; a registry on loopback receives `make push-images`.
#
#   images/podman.sh configure              writes what podman needs on a new Debian host (once)
#   images/podman.sh socket                 starts podman's Docker-compatible API; prints DOCKER_HOST
#   images/podman.sh registry [PORT]        starts a registry on 127.0.0.1:PORT (default 5000)
#   images/podman.sh import-runtime ROOT TAG  imports a provisioned root as localhost/kubetfx-runtime:TAG
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
SOCKET_DIR=${KUBETFX_PODMAN_DIR:-/tmp/kubetfx-podman}
SOCKET=$SOCKET_DIR/podman.sock
MARK="# written by kubetfx images/podman.sh"

die() { echo "kubetfx podman: $*" >&2; exit 1; }

need_podman() {
    "$HERE/host-tools.sh" podman buildah runc curl
}

# Out of the box on these machines crun cannot raise RLIMIT_NOFILE and trips over hybrid cgroups;
# runc with explicit limits starts containers. Build and run steps trust the host's CAs (a proxy's
# included) through a bind mount, so no certificate is written into an image.
configure() {
    need_podman
    # Rootless podman keeps its own configuration under ~/.config/containers: nothing to write here.
    [ "$(id -u)" = 0 ] || return 0
    local conf=/etc/containers/containers.conf
    if [ ! -f "$conf" ] || ! grep -q "$MARK" "$conf"; then
        [ -f "$conf" ] && cp "$conf" "$conf.before-kubetfx"
        cat >"$conf" <<CONF
$MARK
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
    fi
    local mounts=/etc/containers/mounts.conf
    grep -qs "ca-certificates.crt" "$mounts" || echo "/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt" >>"$mounts"
    mkdir -p /etc/containers/registries.conf.d
    printf '%s\n[[registry]]\nlocation = "localhost:5000"\ninsecure = true\n[[registry]]\nlocation = "127.0.0.1:5000"\ninsecure = true\n' \
        "$MARK" >/etc/containers/registries.conf.d/50-kubetfx-loopback.conf
}

answers() { curl -s --max-time 2 --unix-socket "$SOCKET" http://d/_ping 2>/dev/null | grep -q OK; }

socket() {
    need_podman
    configure
    if ! answers; then
        mkdir -p "$SOCKET_DIR"
        rm -f "$SOCKET"
        # Exits after an idle hour (the next `make run` starts it again): a test run leaves more than
        # ten minutes between its container tests, and a service that exited under it failed them.
        # From /: the service outlives the command that starts it, and conmon fails every container
        # start ("write child: broken pipe") once the service's working directory is deleted (a
        # test run's clone removed while the service still runs).
        (cd / && nohup podman system service --time=3600 "unix://$SOCKET" >"$SOCKET_DIR/service.log" 2>&1 &)
        for _ in $(seq 50); do answers && break; sleep 0.2; done
        answers || die "podman's API did not start on $SOCKET (log: $SOCKET_DIR/service.log)"
    fi
    echo "unix://$SOCKET"
}

registry() {
    local port=${1:-5000} dir=$REPO/build/registry
    curl -s --max-time 2 "http://127.0.0.1:$port/v2/" >/dev/null && return 0
    "$HERE/host-tools.sh" docker-registry curl
    mkdir -p "$dir/data"
    cat >"$dir/config.yml" <<CONF
version: 0.1
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
CONF
    nohup docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
    for _ in $(seq 50); do curl -s --max-time 1 "http://127.0.0.1:$port/v2/" >/dev/null && return 0; sleep 0.2; done
    die "the registry did not start on 127.0.0.1:$port (log: $dir/registry.log)"
}

# The environment the images declare (images/Dockerfile.runtime says the same).
RUNTIME_ENV=("TF_USE_LEGACY_KERAS=1" "TF_CPP_MIN_LOG_LEVEL=2" "PYTHONUNBUFFERED=1" "PIP_DISABLE_PIP_VERSION_CHECK=1" \
    "PIP_ROOT_USER_ACTION=ignore" "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")

import_runtime() {
    local root=${1:?root} tag=${2:?tag} image=localhost/kubetfx-runtime
    need_podman
    configure
    podman image exists "$image:$tag" && return 0
    local changes=()
    for variable in "${RUNTIME_ENV[@]}"; do changes+=(--change "ENV $variable"); done
    echo "kubetfx podman: importing $root as $image:$tag"
    tar -C "$root" --exclude=./proc --exclude=./sys --exclude=./dev --exclude=./tmp --exclude=./root/.cache \
        --exclude=./.kubetfx-root -cf - . | podman import "${changes[@]}" --change "CMD [\"python3\"]" - "$image:$tag" >/dev/null
}

case "${1:-}" in
    configure) configure ;;
    socket) socket ;;
    registry) shift; registry "$@" ;;
    import-runtime) shift; import_runtime "$@" ;;
    *) die "usage: images/podman.sh configure|socket|registry [PORT]|import-runtime ROOT TAG" ;;
esac
