#!/bin/bash
# SPDX-License-Identifier: MIT
# Runs on the lent device machine, in the repository root, with the pack of
# bench/device/pack.sh carried as .devcarry; writes what it finds under $OUT.
#
#   bench/device/run.sh check                 environment, netns, make demo, kvm_round_trip
#   bench/device/run.sh test  PYTEST_ARGS...  KVM integration tests with the carried build
#   bench/device/run.sh bench SCENARIO_DIR [RUNS]   bench/run.py over those scenarios
set -uo pipefail
cd "$(dirname "$0")/../.."
C=$PWD/.devcarry
OUT=${OUT:-/tmp/devout}
mkdir -p "$OUT"
export PATH=$C/b:$PATH LD_LIBRARY_PATH=$C/b VMIG_BENCH_QEMU=$C/b/qemu-system-x86_64

netns_works() {
	ip netns add vmigprobe 2>/dev/null || return 1
	ip netns del vmigprobe
}

case ${1:-} in
check)
	echo "== env"; ls -l /dev/kvm; uname -r; nproc; python3 --version
	python3 -c "import pytest; print('pytest', pytest.__version__)" 2>&1 | tail -1
	if netns_works; then echo "netns: yes"; else echo "netns: NO (loopback cells only)"; fi
	echo "== demo"
	timeout 120 bash scripts/demo.sh "$C/b" >"$OUT/demo.txt" 2>&1
	echo "demo rc=$?"; tail -8 "$OUT/demo.txt"
	echo "== kvm_round_trip"
	(cd "$C/t" && LD_LIBRARY_PATH=. timeout 60 ./test_vm_state kvm_round_trip 2>&1 | tail -3)
	;;
test)
	shift
	timeout 400 python3 -u -m pytest -v -p no:cacheprovider --build="$C/b" --tsan-build= "$@" \
		>"$OUT/pytest.txt" 2>&1
	echo "pytest rc=$?"
	grep -E "PASSED|FAILED|ERROR|SKIPPED" "$OUT/pytest.txt" | sed 's/ *\[.*//' | tail -60
	tail -4 "$OUT/pytest.txt"
	;;
bench)
	timeout 500 python3 -u bench/run.py --scenario-dir "$2" --build "$C/b" --out "$OUT/bench" \
		--runs "${3:-3}" >"$OUT/bench.log" 2>&1
	echo "bench rc=$?"; tail -60 "$OUT/bench.log"
	;;
*)
	sed -n 2,10p "$0"
	exit 2
	;;
esac
