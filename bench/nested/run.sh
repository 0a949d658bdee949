#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs inside scripts/nested-kvm.sh (make bench-nested): the scenarios of
# bench/nested/scenarios/ on Debian 12's kernel under nested emulation,
# then the fault cells there. The runs write into /tmp (their control
# sockets cannot live on the 9p share); the results are copied to /mnt,
# which is the host folder given to nested-kvm.sh --out.
#
#   bench/nested/run.sh BUILD [all|main|faults] [bench/run.py options...]
set -u
usage="usage: bench/nested/run.sh BUILD [all|main|faults] [bench/run.py options]"
BUILD=${1:?$usage}
PARTS=${2:-all}
case $PARTS in all | main | faults) ;; *) echo "$usage" >&2; exit 2 ;; esac
shift $(($# < 2 ? $# : 2))
PY=/usr/bin/python3
rc=0
# The emulated machine may hang mid-run (docs/STATUS.md): the runs done so
# far reach /mnt as they are appended, and survive it.
(
	while sleep 20; do
		for d in bench bench-faults; do
			[ -f /tmp/$d/results.jsonl ] || continue
			mkdir -p /mnt/$d && cp /tmp/$d/results.jsonl /mnt/$d/results.jsonl.partial
		done
	done
) &
saver=$!
if [ "$PARTS" != faults ]; then
	$PY bench/run.py --scenario-dir bench/nested/scenarios --build "$BUILD" --out /tmp/bench "$@" ||
		rc=$?
fi
if [ "$PARTS" != main ]; then
	$PY bench/run.py --faults --scenario-dir bench/nested/scenarios --build "$BUILD" \
		--out /tmp/bench-faults "$@" || rc=$?
fi
kill $saver 2>/dev/null
# tar leaves out the runs' control sockets: QEMU's 9p server refuses to
# create one and cp -r stopped at the first, losing the runs after it
for d in bench bench-faults; do
	[ -d /tmp/$d ] && tar -C /tmp -cf - --exclude='*.sock' $d | tar -C /mnt -xf -
done
exit $rc
