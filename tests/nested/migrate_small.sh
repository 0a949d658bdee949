#!/bin/sh
# SPDX-License-Identifier: MIT
# Inside scripts/nested-kvm.sh (a real /dev/kvm of Debian 12's kernel): the
# KVM state round trip, then a live migration of a small guestload over
# loopback, checked the way the KVM integration tests check one: the
# destination verified the RAM digest and the guest carries on error-free.
#   tests/nested/migrate_small.sh BUILD
set -u
B=${1:?usage: migrate_small.sh BUILD}
T=$(mktemp -d)
fail() { echo "NESTED FAIL: $*"; tail -5 "$T"/*.log 2>/dev/null; exit 1; }
wait_for() { # FILE PATTERN SECONDS
	i=0
	while [ $i -lt $(($3 * 5)) ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.2; i=$((i + 1))
	done
	return 1
}
"$B/tests/test_vm_state" kvm_round_trip | grep -q "^PASS" || fail "kvm_round_trip"
echo "nested: kvm_round_trip passed"
"$B/vmig" run --mem 64M --guest "$B/guestload.elf" --guest-args "fill=mixed ws=8M rate=20 write=word" \
	--serial "$T/src-serial.log" --control "$T/src.sock" 2>"$T/src.log" &
"$B/vmig" run --incoming tcp:127.0.0.1:4444 --serial "$T/dst-serial.log" --control "$T/dst.sock" \
	2>"$T/dst.log" &
DST=$!
wait_for "$T/src-serial.log" "guestload: t=2s" 90 || fail "the source guest did not start"
wait_for "$T/dst.log" "waiting for an incoming migration" 30 || fail "the destination did not listen"
"$B/vmig" migrate --control "$T/src.sock" tcp:127.0.0.1:4444 >"$T/migrate.log" 2>&1 ||
	fail "vmig migrate: $(head -3 "$T/migrate.log")"
grep -q "RAM digest *verified" "$T/migrate.log" || fail "the digest was not verified"
grep -E "total time|downtime" "$T/migrate.log" | sed 's/^ */nested: /'
# Three progress lines on the destination, all error-free.
i=0
while [ "$(grep -c "guestload: t=" "$T/dst-serial.log")" -lt 3 ]; do
	[ $i -lt 300 ] || fail "the migrated guest made no progress"
	sleep 0.2; i=$((i + 1))
done
grep "guestload: t=" "$T/dst-serial.log" | grep -v "errors=0" && fail "the migrated guest saw errors"
echo "nested: migrated guest running, $(grep "guestload: t=" "$T/dst-serial.log" | tail -1)"
kill "$DST"
echo "NESTED PASS"
