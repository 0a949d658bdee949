#!/bin/bash
# SPDX-License-Identifier: MIT
# Packs what a lent KVM machine needs to run vmig's KVM checks and benchmark
# cells, for a machine whose image has none of our Debian packages (no QEMU,
# no iproute2, nothing can be installed): the release binaries, guestload,
# QEMU 7.2 with its x86 firmware and TCG module behind a wrapper, ip and tc,
# each with the shared libraries it needs beyond glibc (bench/carry_libs.sh).
# The device tool carries at most 64 MiB: the pack is checked against that.
#
#   bench/device/pack.sh [BUILD [OUT]]     (defaults: build .devcarry)
# then on the device:  bench/device/run.sh check|bench SCENARIO_DIR|test PYTEST_ARGS...
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
OUT=${2:-.devcarry}
LIMIT_MB=60 # the tool's 64 MiB, less the working tree that travels too

ninja -C "$BUILD" >/dev/null
rm -rf "$OUT" && mkdir -p "$OUT/b" "$OUT/t" "$OUT/b/fw" "$OUT/b/mod"
carry() { bench/carry_libs.sh "$1" "$OUT/b"; }

for f in vmig content_probe; do carry "$BUILD/$f"; done
cp "$BUILD/guestload.elf" "$OUT/b/"
mkdir -p "$OUT/b/tests/qat_standin"
cp "$BUILD/tests/qat_standin/libqatzip.so.3" "$OUT/b/tests/qat_standin/"
# test_vm_state's kvm_round_trip: the one C case that needs real KVM state.
bench/carry_libs.sh "$BUILD/tests/test_vm_state" "$OUT/t"

# ip and tc: the netns hosts and tc links of the benchmark (tests/integration/netns.py).
for f in /usr/sbin/ip /usr/sbin/tc; do
	[ -x "$f" ] && carry "$f" || echo "pack: $f missing (apt-get install iproute2): no netns cells" >&2
done

# QEMU 7.2: the binary renamed, a wrapper that points it at its firmware and modules.
QEMU=/usr/bin/qemu-system-x86_64
if [ -x "$QEMU" ]; then
	carry "$QEMU"
	mv "$OUT/b/qemu-system-x86_64" "$OUT/b/qemu-system-x86_64.bin"
	for fw in /usr/share/seabios/bios-256k.bin /usr/share/seabios/vgabios-stdvga.bin \
		/usr/lib/ipxe/qemu/efi-e1000.rom /usr/share/qemu/kvmvapic.bin \
		/usr/share/qemu/linuxboot.bin /usr/share/qemu/linuxboot_dma.bin \
		/usr/share/qemu/multiboot.bin /usr/share/qemu/multiboot_dma.bin /usr/share/qemu/pvh.bin; do
		cp -L "$fw" "$OUT/b/fw/"
	done
	cp /usr/lib/x86_64-linux-gnu/qemu/accel-tcg-x86_64.so "$OUT/b/mod/" 2>/dev/null || true
	cat >"$OUT/b/qemu-system-x86_64" <<'WRAP'
#!/bin/sh
# QEMU carried to the device machine: its firmware and modules from beside it.
D=$(dirname "$(readlink -f "$0")")
export QEMU_MODULE_DIR="$D/mod"
exec "$D/qemu-system-x86_64.bin" -L "$D/fw" "$@"
WRAP
	chmod +x "$OUT/b/qemu-system-x86_64"
else
	echo "pack: $QEMU missing (make bench-deps): no QEMU cells" >&2
fi
strip --strip-unneeded "$OUT"/b/*.so* "$OUT"/t/*.so* 2>/dev/null || true

mb=$(du -sm "$OUT" | cut -f1)
echo "pack: $OUT is $mb MiB (limit $LIMIT_MB)"
if [ "$mb" -gt "$LIMIT_MB" ]; then
	echo "pack: too large for the device tool" >&2
	exit 1
fi
