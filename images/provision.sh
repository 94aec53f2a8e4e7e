#!/bin/sh
# Installs kubetfx's run-time set into a Debian 13 (trixie) system: the one recipe behind the step
# images and the development root. It runs inside that system, as root: in a chroot built by
# images/root.sh, or as a step of images/Dockerfile.runtime. Usage: provision.sh SRC
# SRC holds requirements.txt and constraints.txt. (The GPU image adds TensorFlow's CUDA libraries on
# top: images/Dockerfile.gpu.)
#
# Packages go into the system interpreter's /usr/local (as python:* images do), so that a
# development virtual environment made with --system-site-packages layers on top of exactly this.
set -eu
SRC=${1:?usage: provision.sh SRC}
export DEBIAN_FRONTEND=noninteractive PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1

# python3-dev and g++: pyfarmhash (pulled in by TFX) has no wheel for Python 3.13 and builds from source.
BUILD_ONLY="python3-dev g++"
apt-get update -qq
apt-get install -y -qq --no-install-recommends python3 python3-pip python3-venv ca-certificates $BUILD_ONLY >/dev/null
# Debian marks its interpreter as managed by apt (PEP 668); this system exists to hold pip's packages.
rm -f /usr/lib/python3*/EXTERNALLY-MANAGED

# --ignore-installed: Debian's own python3-* modules (pip's dependencies) stay as apt installed them;
# the locked versions go to /usr/local, which comes first on sys.path.
python3 -m pip install --quiet --ignore-installed --constraint "$SRC/constraints.txt" --requirement "$SRC/requirements.txt"

apt-get purge -y -qq --auto-remove $BUILD_ONLY >/dev/null
apt-get clean
rm -rf /var/lib/apt/lists/* /root/.cache/pip/http-v2/.tmp 2>/dev/null || true
