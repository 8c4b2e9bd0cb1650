#!/bin/sh
# Install everything harness needs on a fresh Debian bookworm machine (run as root).
set -eu
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# Kernel build deps, QEMU for virtme-ng, Debian's 6.12 kernel source (the default base),
# GNU patch for the hunk-by-hunk apply report, shellcheck for the lint step, rsync
# (make headers_install, which the kselftest build runs), chromium (the compare
# report's headless-browser test).
apt-get install -y -q --no-install-recommends \
	build-essential bc bison flex libelf-dev libssl-dev dwarves cpio kmod ccache \
	qemu-system-x86 busybox-static udev git patch perl python3 python3-pip xz-utils \
	linux-source-6.12 shellcheck rsync chromium >/dev/null
python3 -m pip install -q -e '.[dev]'
ccache -M 20G >/dev/null
echo "harness: installed"
