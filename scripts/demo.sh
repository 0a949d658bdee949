#!/bin/bash
# vmig demo: boots guestload under vmig for a few seconds and shows its
# progress, the VMM's view over the control socket, and a stop/cont.
# (The live-migration demo replaces this once migration lands.)
set -euo pipefail
BUILD=${1:-build}
VMIG=$BUILD/vmig
GUEST=$BUILD/guestload.elf
DIR=$(mktemp -d /tmp/vmig-demo.XXXXXX)
trap 'kill $VM 2>/dev/null || true; rm -rf "$DIR"' EXIT

if [ ! -w /dev/kvm ]; then
	echo "demo: /dev/kvm is not available here; vmig needs KVM to run a guest." >&2
	exit 1
fi

echo "== vmig demo: guestload (1 GiB RAM, 2 vCPUs, 256 MiB working set) =="
"$VMIG" run --mem 1G --vcpus 2 --guest "$GUEST" \
	--guest-args "ws=256M rate=0 write=word fill=mixed time=8" \
	--control "$DIR/ctl.sock" --serial stdio &
VM=$!
for _ in $(seq 100); do [ -S "$DIR/ctl.sock" ] && break; sleep 0.1; done
sleep 3
echo "== vmig status =="
"$VMIG" status --control "$DIR/ctl.sock"
echo "== stop for 1 s, then cont =="
"$VMIG" status --control "$DIR/ctl.sock" --json >/dev/null
python3 - "$DIR/ctl.sock" <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
def call(c):
    f.write(json.dumps({"execute": c}) + "\n"); f.flush(); return json.loads(f.readline())
print("stop ->", call("stop")); time.sleep(1); print("cont ->", call("cont"))
PY
wait $VM
echo "== guest exited with status $? =="
