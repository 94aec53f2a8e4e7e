#!/usr/bin/env bash
# podman on this host, set up for kubetfx: it builds and runs the step images, and serves the Docker
# API that kfp.local's DockerRunner talks to; a registry on loopback receives `make push-images`.
#
#   images/podman.sh configure              writes what podman needs on a new Debian host (once)
#   images/podman.sh session [--api] [--registry PORT] -- CMD...
#                                           runs CMD beside podman's Docker-compatible API (DOCKER_HOST
#                                           set) and a registry on 127.0.0.1:PORT, each started for CMD
#                                           where none answers, watched while it runs, stopped after it
#   images/podman.sh socket                 starts podman's API to keep (your own kfp.local runs); prints DOCKER_HOST
#   images/podman.sh registry [PORT]        starts a registry to keep on 127.0.0.1:PORT (default 5000)
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
registry_answers() { curl -s --max-time 2 "http://127.0.0.1:$1/v2/" >/dev/null; }

wait_until() {  # wait_until WHAT CHECK...: up to ten seconds
    local what=$1; shift
    for _ in $(seq 50); do "$@" && return 0; sleep 0.2; done
    die "$what did not start"
}

# start_api IDLE_SECONDS (0: never idles out); prints the service's process id. From /, its output
# in its log: the service may outlive the command that starts it, and conmon fails every container
# start ("write child: broken pipe") once the service's working directory is deleted.
start_api() {
    need_podman
    configure
    mkdir -p "$SOCKET_DIR"
    rm -f "$SOCKET"
    (cd / && exec podman system service --time="$1" "unix://$SOCKET" </dev/null >>"$SOCKET_DIR/service.log" 2>&1) &
    local pid=$!
    wait_until "podman's API on $SOCKET (log: $SOCKET_DIR/service.log)" answers
    echo "$pid"
}

# start_registry PORT; prints the registry's process id.
start_registry() {
    local port=$1 dir=$REPO/build/registry
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
    (cd / && exec docker-registry serve "$dir/config.yml" </dev/null >>"$dir/registry.log" 2>&1) &
    local pid=$!
    wait_until "the registry on 127.0.0.1:$port (log: $dir/registry.log)" registry_answers "$port"
    echo "$pid"
}

stop() {  # stop PID: asks it to end, and ends it after ten seconds
    kill "$1" 2>/dev/null || return 0
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.2; done
    kill -9 "$1" 2>/dev/null || true
}

# A service whose process ended or whose socket went away while the command runs is started again,
# and the log says why: a command that outlives its engine fails in ways that name neither.
watch_api() {
    local pid=$1
    while sleep 2; do
        kill -0 "$pid" 2>/dev/null && [ -S "$SOCKET" ] && continue
        echo "kubetfx podman: podman's API stopped under the command (process $pid alive: $(kill -0 "$pid" 2>/dev/null && echo yes || echo no), socket $SOCKET present: $([ -S "$SOCKET" ] && echo yes || echo no)); its log ends:" >&2
        tail -n 20 "$SOCKET_DIR/service.log" >&2 || true
        stop "$pid"  # ended before the next starts: a service shutting down removes the socket, a new one's too
        pid=$(start_api 0)
        echo "$pid" >"$SESSION_API_PID_FILE"
        echo "kubetfx podman: started it again (process $pid)" >&2
    done
}

# What a session started, for stop_session (the EXIT trap runs after session's locals are gone).
SESSION_API_PID_FILE=$SOCKET_DIR/session-api.pid
session_watcher=""
session_api=no
session_pids=()

# What a session started stops with it: a service left behind keeps a CI job (and a user's shell)
# waiting on it, and a registry left on the port would serve the next session.
stop_session() {
    [ -z "$session_watcher" ] || stop "$session_watcher"
    [ "$session_api" = no ] || stop "$(cat "$SESSION_API_PID_FILE")"
    for pid in "${session_pids[@]}"; do stop "$pid"; done
}

session() {
    local want_api=no port=""
    while [ $# -gt 0 ]; do
        case "$1" in
            --api) want_api=yes; shift ;;
            --registry) port=${2:?--registry PORT}; shift 2 ;;
            --) shift; break ;;
            *) die "session: unknown option $1 (usage: session [--api] [--registry PORT] -- CMD...)" ;;
        esac
    done
    [ $# -gt 0 ] || die "session: no command to run"
    trap stop_session EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    if [ -n "$port" ] && ! registry_answers "$port"; then
        session_pids+=("$(start_registry "$port")")
    fi
    if [ "$want_api" = yes ]; then
        if ! answers; then
            mkdir -p "$SOCKET_DIR"
            session_api=started
            start_api 0 >"$SESSION_API_PID_FILE"
            watch_api "$(cat "$SESSION_API_PID_FILE")" &
            session_watcher=$!
        fi
        export DOCKER_HOST="unix://$SOCKET" KUBETFX_ENGINE_LOG="$SOCKET_DIR/service.log"
    fi
    local status=0
    "$@" || status=$?
    return "$status"
}

socket() {
    # Exits after an idle hour; the next call starts it again.
    answers || start_api 3600 >/dev/null
    echo "unix://$SOCKET"
}

registry() {
    local port=${1:-5000}
    registry_answers "$port" || start_registry "$port" >/dev/null
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
    session) shift; session "$@" ;;
    socket) socket ;;
    registry) shift; registry "$@" ;;
    import-runtime) shift; import_runtime "$@" ;;
    *) die "usage: images/podman.sh configure|session [--api] [--registry PORT] -- CMD...|socket|registry [PORT]|import-runtime ROOT TAG" ;;
esac
