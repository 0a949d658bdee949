#!/bin/bash
# guestload's dirtying rate under vmig and under QEMU (-kernel, multiboot),
# same guest image, same arguments, side by side in one run.
# Usage: bench/dirty-rate.sh [BUILD] [SECONDS] [GUEST ARGS...]
set -euo pipefail
BUILD=${1:-build}
SECS=${2:-10}
shift 2 2>/dev/null || true
ARGS=${*:-ws=256M rate=0 write=word fill=mixed}
GUEST=$BUILD/guestload.elf
OUT=$(mktemp -d /tmp/vmig-bench.XXXXXX)
trap 'rm -rf "$OUT"' EXIT

# median of the dirty= figures from t=3s on
summarize() {
	python3 - "$1" <<'PY'
import re, sys
rows = re.findall(r"guestload: t=(\d+)s passes=\d+ dirty=([\d.]+)MiB/s errors=(\d+)", open(sys.argv[1], errors="replace").read())
v = sorted(float(d) for t, d, e in rows if int(t) >= 3)
if not v:
    print("no data")
else:
    print(f"{v[len(v) // 2]:.1f} MiB/s (median of {len(v)} seconds, errors={rows[-1][2]})")
PY
}

echo "guest arguments: $ARGS   (1 GiB RAM, 1 vCPU, ${SECS}s each)"
"$BUILD/vmig" run --mem 1G --vcpus 1 --guest "$GUEST" --serial "$OUT/vmig.log" \
	--guest-args "$ARGS time=$SECS" 2>"$OUT/vmig.err" || true
printf '%-28s %s\n' "vmig (direct entry)" "$(summarize "$OUT/vmig.log")"
"$BUILD/vmig" run --mem 1G --vcpus 1 --boot multiboot --guest "$GUEST" --serial "$OUT/vmigmb.log" \
	--guest-args "$ARGS time=$SECS" 2>"$OUT/vmigmb.err" || true
printf '%-28s %s\n' "vmig (multiboot)" "$(summarize "$OUT/vmigmb.log")"
if command -v qemu-system-x86_64 >/dev/null; then
	timeout $((SECS + 30)) qemu-system-x86_64 -enable-kvm -m 1G -smp 1 -display none -no-reboot \
		-serial "file:$OUT/qemu.log" -kernel "$GUEST" -append "$ARGS time=$SECS" \
		-device isa-debug-exit,iobase=0x4e4,iosize=4 >/dev/null 2>&1 || true
	printf '%-28s %s\n' "QEMU $(qemu-system-x86_64 --version | head -1 | awk '{print $4}') (-kernel)" "$(summarize "$OUT/qemu.log")"
else
	echo "QEMU not installed (VMIG_WITH_QEMU=1 make deps installs it)"
fi
