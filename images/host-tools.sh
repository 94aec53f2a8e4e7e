#!/usr/bin/env bash
# Makes sure this host has the tools kubetfx's Makefile drives: images/host-tools.sh PACKAGE...
# (Debian package names). As root on Debian or Ubuntu, missing ones are installed with apt-get;
# otherwise the message says what to install.
set -euo pipefail
missing=()
installed() {  # by Debian's package database, or, on other systems, by a command of the same name
    if command -v dpkg-query >/dev/null; then
        dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
    else
        case "$1" in util-linux|coreutils) true ;; *) command -v "$1" >/dev/null ;; esac
    fi
}
for package in "$@"; do
    installed "$package" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "kubetfx: installing ${missing[*]} (Debian packages)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    exit 0
fi
echo "kubetfx: this needs ${missing[*]}: install them (as root: apt-get install ${missing[*]}), or use a host with" \
     "glibc 2.39+ (Debian 13, Ubuntu 24.04) and Docker or podman (README, 'Where it runs')" >&2
exit 1
