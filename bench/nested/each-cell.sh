#!/bin/bash
# SPDX-License-Identifier: MIT
# The nested fault benchmark one cell per nested machine (make
# bench-nested-faults): the emulated machine has hung or reset itself in
# long runs (docs/STATUS.md), and with a machine of its own a hang loses
# one cell, not the table. Each cell's results land in OUT/CELL/, then all
# of them in one OUT/results.jsonl and report.
#
#   bench/nested/each-cell.sh BUILD OUT [CELL...]     (default: every cell)
# NESTED_CELL_TIMEOUT (seconds, default 1500) bounds each machine;
# NESTED_ARGS adds scripts/nested-kvm.sh options (e.g. "--cpus 1 --mem 4G").
# A cell whose machine hung leaves the runs it had done in
# OUT/CELL/bench-faults/results.jsonl.partial; they join the report too.
set -u
usage="usage: bench/nested/each-cell.sh BUILD OUT [CELL...]"
BUILD=${1:?$usage}
OUT=${2:?$usage}
shift 2
PY=/usr/bin/python3
LIST=(--faults --scenario-dir bench/nested/scenarios)
if [ $# -eq 0 ]; then
	mapfile -t cells < <($PY bench/run.py "${LIST[@]}" --list | awk '$1 ~ /^faults-/ {print $1}')
else
	cells=("$@")
	# a misspelt cell is refused here, before a machine boots for it
	$PY bench/run.py "${LIST[@]}" $(printf -- '--cell %s ' "${cells[@]}") --list >/dev/null || exit 2
fi
mkdir -p "$OUT"
for c in "${cells[@]}"; do
	echo "== nested cell $c ($(date -u +%H:%M:%S))"
	# shellcheck disable=SC2086 # NESTED_ARGS is a list of options
	scripts/nested-kvm.sh ${NESTED_ARGS:-} --timeout "${NESTED_CELL_TIMEOUT:-1500}" --out "$OUT/$c" -- \
		bench/nested/run.sh "$BUILD" faults --cell "$c"
	echo "== nested cell $c: exit $? ($(date -u +%H:%M:%S))"
done
for c in "${cells[@]}"; do
	r="$OUT/$c/bench-faults/results.jsonl"
	[ -f "$r" ] || r="$r.partial"
	[ -f "$r" ] && cat "$r"
done >"$OUT/results.jsonl"
[ -s "$OUT/results.jsonl" ] || { echo "each-cell: no cell left results" >&2; exit 1; }
$PY bench/run.py --report "$OUT/results.jsonl"
