#!/bin/bash
# vmig demo: a live migration over loopback. A source VM runs guestload
# (1 GiB RAM, dirtying a 128 MiB working set), a destination waits with
# --incoming, `vmig migrate` moves the running guest across, and the
# guest's own progress lines show it carrying on, error-free, on the far side.
set -euo pipefail
BUILD=${1:-build}
VMIG=$BUILD/vmig
GUEST=$BUILD/guestload.elf
DIR=$(mktemp -d /tmp/vmig-demo.XXXXXX)
PORT=$((20000 + RANDOM % 20000))
SRC= DST=
cleanup() {
	[ -n "$SRC" ] && kill "$SRC" 2>/dev/null || true
	[ -n "$DST" ] && kill "$DST" 2>/dev/null || true
	rm -rf "$DIR"
}
trap cleanup EXIT

if [ ! -w /dev/kvm ]; then
	echo "demo: /dev/kvm is not available here; vmig needs KVM to run a guest." >&2
	exit 1
fi
wait_file() { for _ in $(seq 200); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }
wait_line() { for _ in $(seq 300); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

echo "== 1. source: guestload in a 1 GiB VM (fill=mixed ws=128M rate=400 MiB/s) =="
"$VMIG" run --mem 1G --guest "$GUEST" --guest-args "fill=mixed ws=128M rate=400 write=word" \
	--serial "$DIR/src-serial.log" --control "$DIR/src.sock" 2>"$DIR/src.log" &
SRC=$!
echo "== 2. destination: vmig run --incoming tcp:127.0.0.1:$PORT =="
"$VMIG" run --incoming "tcp:127.0.0.1:$PORT" --serial "$DIR/dst-serial.log" \
	--control "$DIR/dst.sock" 2>"$DIR/dst.log" &
DST=$!
wait_file "$DIR/src.sock"
wait_line "$DIR/src-serial.log" "guestload: t=2s"
wait_line "$DIR/dst.log" "waiting for an incoming migration"
"$VMIG" status --control "$DIR/src.sock"
echo
echo "== 3. vmig migrate --control src.sock tcp:127.0.0.1:$PORT =="
"$VMIG" migrate --control "$DIR/src.sock" "tcp:127.0.0.1:$PORT"
wait "$SRC" || true
SRC=
wait_file "$DIR/dst.sock"
sleep 3
echo
echo "== 4. the guest, as the destination sees it now =="
"$VMIG" status --control "$DIR/dst.sock"
echo
echo "== source VMM log =="
sed 's/^/  /' "$DIR/src.log"
echo "== destination VMM log =="
sed 's/^/  /' "$DIR/dst.log"
echo "== guest serial on the source (last lines) =="
grep "guestload: t=" "$DIR/src-serial.log" | tail -3 | sed 's/^/  /'
echo "== guest serial on the destination (it carries on from there) =="
grep "guestload: t=" "$DIR/dst-serial.log" | head -4 | sed 's/^/  /'
python3 - "$DIR/dst.sock" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
f.write(json.dumps({"execute": "quit"}) + "\n"); f.flush(); f.readline()
PY
wait "$DST" || true
DST=
echo "== demo done =="
