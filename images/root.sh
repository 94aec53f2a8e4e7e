#!/usr/bin/env bash
# The Debian 13 root that kubetfx runs in where the host's glibc is older than its wheels need (2.39).
#
#   images/root.sh build          builds ROOT (or repairs a half-built one), unless it is current
#   images/root.sh exec CMD...    runs CMD inside ROOT, in the current directory, as root
#   images/root.sh status         says whether ROOT is current
#
# ROOT (default .root beside this folder) is debootstrap's minimal trixie plus images/provision.sh:
# the very file system the step images are made of (`images/root.sh build` also imports it into
# podman as the runtime image, localhost/kubetfx-runtime:<recipe hash>), plus the tools only development needs
# (DEV_PACKAGES). A build goes to ROOT.new and replaces ROOT only once complete, so an interrupted
# build is never used; the next one starts over. `exec` mounts in a private mount namespace, so
# nothing stays mounted after it, whatever happens to it.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
ROOT=${KUBETFX_ROOT:-$REPO/.root}
SUITE=trixie
# Development only, never in an image: a browser for the report test, git for version names.
DEV_PACKAGES="chromium git"
RECIPE_FILES=("$HERE/provision.sh" "$REPO/requirements.txt" "$REPO/constraints.txt")

die() { echo "kubetfx root: $*" >&2; exit 1; }

# What the root is made of: a change to any of it builds a new root (and names a new runtime image).
recipe_hash() { { echo "$SUITE minbase; dev: $DEV_PACKAGES"; cat "${RECIPE_FILES[@]}"; } | sha256sum | cut -c1-16; }

is_current() { [ -f "$ROOT/.kubetfx-root" ] && [ "$(cat "$ROOT/.kubetfx-root")" = "$(recipe_hash)" ]; }

mirror() {  # the Debian mirror apt already uses on this host
    local uri
    uri=$(grep -h -m1 -oE '^URIs: *[^ ]+|^deb +[^ ]+ +[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
        | head -n1 | awk '{print $NF}')
    echo "${uri:-http://deb.debian.org/debian}"
}

need_root_tools() {
    [ "$(id -u)" = 0 ] || die "building and entering the Debian 13 root needs root (debootstrap, chroot, mount).
  Without root: use a machine whose glibc is 2.39 or newer (Debian 13, Ubuntu 24.04), where \`make install\`
  makes a native .venv (README, 'Where it runs')."
    "$HERE/host-tools.sh" debootstrap util-linux coreutils
}

# Runs CMD in DIR's root with the host's network, /tmp, caches, pip configuration and this checkout.
enter() {
    local dir=$1; shift
    local cwd=$PWD
    unshare --mount --propagation private -- bash -c '
        set -e
        dir=$1 repo=$2 cwd=$3; shift 3
        mount -t proc proc "$dir/proc"
        mount --rbind /dev "$dir/dev"
        mount --rbind /sys "$dir/sys"
        mount --bind /tmp "$dir/tmp"
        mkdir -p "$dir$repo" "$HOME/.cache" "$dir/root/.cache"
        mount --bind "$repo" "$dir$repo"
        mount --bind "$HOME/.cache" "$dir/root/.cache"
        for file in /etc/resolv.conf /etc/pip.conf; do
            [ -f "$file" ] || continue
            touch "$dir$file"; mount --bind "$file" "$dir$file"
        done
        [ -d "${PIP_FIND_LINKS:-}" ] || unset PIP_FIND_LINKS
        # Programs in the root trust what the host trusts (a proxy'"'"'s CA included) without it being
        # written into the root: the host'"'"'s bundle is copied to /tmp, shared, and named by the usual variables.
        ca=/tmp/kubetfx-host-ca.crt
        cp /etc/ssl/certs/ca-certificates.crt "$ca.$$" && mv "$ca.$$" "$ca"
        exec chroot "$dir" /usr/bin/env -u SSL_CERT_DIR HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            PIP_CERT="$ca" SSL_CERT_FILE="$ca" REQUESTS_CA_BUNDLE="$ca" CURL_CA_BUNDLE="$ca" PIP_ROOT_USER_ACTION=ignore KUBETFX_ENVIRONMENT="Debian 13 root $dir" bash -c "cd \"\$0\" && exec \"\$@\"" "$cwd" "$@"
    ' enter "$dir" "$REPO" "$cwd" "$@"
}

build() {
    need_root_tools
    if is_current; then return 0; fi
    local new=$ROOT.new started=$SECONDS
    echo "kubetfx root: building the Debian 13 root in $ROOT (debootstrap $SUITE from $(mirror), then pip; a few minutes)"
    rm -rf "$new"
    debootstrap --variant=minbase "$SUITE" "$new" "$(mirror)" >"$new.log" 2>&1 \
        || { tail -n 20 "$new.log" >&2; die "debootstrap failed (log: $new.log)"; }
    echo "kubetfx root: debootstrap took $((SECONDS - started)) s; installing Python and the locked requirements"
    local src=/opt/kubetfx-recipe
    mkdir -p "$new$src"
    cp "$HERE/provision.sh" "$REPO/requirements.txt" "$REPO/constraints.txt" "$new$src/"
    enter "$new" sh "$src/provision.sh" "$src" cpu
    rm -rf "${new:?}$src"
    # The step images' base is this root as provisioned, before the development tools are added.
    "$HERE/podman.sh" import-runtime "$new" "$(recipe_hash)"
    echo "kubetfx root: adding development tools ($DEV_PACKAGES)"
    enter "$new" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $DEV_PACKAGES >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/*"
    recipe_hash >"$new/.kubetfx-root"
    rm -rf "$ROOT.old" "$new.log"
    [ -d "$ROOT" ] && mv "$ROOT" "$ROOT.old"
    mv "$new" "$ROOT"
    rm -rf "$ROOT.old"
    echo "kubetfx root: ready in $((SECONDS - started)) s"
}

case "${1:-}" in
    build) build ;;
    exec) shift; is_current || die "$ROOT is missing or out of date: run \`make install\`"; enter "$ROOT" "$@" ;;
    status) is_current && echo "current: $ROOT" || { echo "not built or out of date: $ROOT"; exit 1; } ;;
    hash) recipe_hash ;;
    *) die "usage: images/root.sh build|exec CMD...|status|hash" ;;
esac
