#!/bin/sh
# Installs the Debian 12 packages vmig needs to build, test and demo, if any
# are missing. Needs root (or sudo) only when something must be installed.
set -e
# python3-pytest(-timeout, -xdist) run the tests, with Debian's /usr/bin/python3.
# clang and libclang-rt-14-dev (libFuzzer) build `make fuzz`.
# gnuplot-nox draws the benchmark's plots; its tests draw them too (small).
PKGS="gcc clang libclang-rt-14-dev make meson ninja-build pkg-config python3 python3-pytest python3-pytest-timeout python3-pytest-xdist binutils iproute2 libxxhash-dev libssl-dev liblz4-dev libzstd-dev libisal-dev zlib1g-dev libjansson-dev gnuplot-nox"
# The benchmark suite (make bench, VMIG_BENCH=1): QEMU is the side-by-side
# reference, not needed for tests; VMIG_WITH_QEMU=1 is the older name;
# openssl makes the fault benchmark's TLS certificates (scripts/make-certs.sh),
# cpio packs make test-nested's initramfs (scripts/nested-kvm.sh).
[ -n "$VMIG_WITH_QEMU$VMIG_BENCH" ] && PKGS="$PKGS qemu-system-x86 openssl cpio"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing:$missing"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends $missing
