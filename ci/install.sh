#!/bin/sh
# Install everything harness needs on a fresh Debian bookworm machine (run as root).
# The Python side goes into a virtual environment ($HARNESS_VENV, default .venv): Debian's
# /usr/bin/python3 is externally managed (PEP 668) and refuses a plain pip install.
# harness finds vng and b4 next to the venv's python, so nothing needs activating.
# HARNESS_SKIP_APT=1 makes only the venv (the apt packages are there already).
set -eu
cd "$(dirname "$0")/.."
venv=${HARNESS_VENV:-.venv}
export DEBIAN_FRONTEND=noninteractive
if [ "${HARNESS_SKIP_APT:-0}" != 1 ]; then
apt-get update -q
# Kernel build deps, QEMU for virtme-ng, Debian's 6.12 kernel source (the default base),
# GNU patch for the hunk-by-hunk apply report, shellcheck for the lint step, rsync
# (make headers_install, which the kselftest build runs), chromium (the compare
# report's headless-browser test), bubblewrap and util-linux's prlimit (the sandbox the
# tree's code runs in), python3-venv; public-inbox (the inbox harness watch follows) and
# redis-server (ccache's shared remote) for the CI-bot tests; the build robots' matrix of
# harness check: clang/lld/llvm 19, the i386 and arm64 cross compilers, sparse.
apt-get install -y -q --no-install-recommends \
	build-essential bc bison flex libelf-dev libssl-dev dwarves cpio kmod ccache \
	clang-19 lld-19 llvm-19 gcc-i686-linux-gnu gcc-aarch64-linux-gnu sparse \
	qemu-system-x86 busybox-static udev git patch perl python3 python3-pip xz-utils \
	linux-source-6.12 shellcheck rsync chromium bubblewrap util-linux python3-venv \
	public-inbox redis-server >/dev/null
# gitlab-ci-local runs ci/gitlab-ci.yml locally (4.65+ needs Node 22's Set.union).
command -v npm >/dev/null || apt-get install -y -q --no-install-recommends nodejs npm >/dev/null
npm install -g -s gitlab-ci-local@4.64.1 >/dev/null
ccache -M 20G >/dev/null
fi
python3 -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -e '.[dev]'
echo "harness: installed"
