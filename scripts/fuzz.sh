#!/bin/sh
# Runs the libFuzzer targets of tests/fuzz (`make fuzz`; docs/fuzzing.md).
#   scripts/fuzz.sh BUILD SECONDS TARGET...      fuzz each target for SECONDS, one after another
#   scripts/fuzz.sh --merge BUILD TARGET...      fold BUILD's findings into tests/fuzz/corpus (minimised)
# Each run starts from the committed corpus (tests/fuzz/corpus/TARGET) and
# fresh seeds (fuzz_seeds), keeps what it learns in BUILD/fuzz/corpus/TARGET
# and any crash in BUILD/fuzz/artifacts/. Exits non-zero if a target crashed.
set -e
cd "$(dirname "$0")/.."
merge=
[ "$1" = "--merge" ] && { merge=1; shift; }
build=$1; shift
[ -z "$merge" ] && { seconds=$1; shift; }
[ -n "$build" ] && [ $# -gt 0 ] || { echo "usage: $0 [--merge] BUILD [SECONDS] TARGET..." >&2; exit 2; }
work=$build/fuzz
mkdir -p "$work/artifacts"

if [ -n "$merge" ]; then
	# -merge=1 keeps the smallest inputs that together reach all the coverage.
	for t in "$@"; do
		new=$work/merged-$t
		rm -rf "$new" && mkdir -p "$new"
		"$build/tests/fuzz/fuzz_$t" -merge=1 -rss_limit_mb=4096 "$new" \
			tests/fuzz/corpus/"$t" "$work/corpus/$t" 2>&1 | tail -n 1
		# Regression inputs stay whatever merge thinks of them.
		mkdir -p tests/fuzz/corpus/"$t"
		find tests/fuzz/corpus/"$t" -type f ! -name 'regress-*' -delete
		cp "$new"/* tests/fuzz/corpus/"$t"/
		echo "tests/fuzz/corpus/$t: $(ls tests/fuzz/corpus/"$t" | wc -l) inputs, $(du -sk tests/fuzz/corpus/"$t" | cut -f1) KiB"
	done
	exit 0
fi

rm -rf "$work/seeds"
"$build/tests/fuzz/fuzz_seeds" "$work/seeds" > /dev/null
failed=0
for t in "$@"; do
	mkdir -p "$work/corpus/$t"
	echo "== fuzz_$t for $seconds s"
	# -timeout: one input taking seconds is a hang (the stream target's own
	# deadlines are 2 s); -rss_limit_mb: ASan's quarantine needs room.
	"$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
		-print_final_stats=1 -artifact_prefix="$work/artifacts/$t-" \
		"$work/corpus/$t" tests/fuzz/corpus/"$t" "$work/seeds/$t" > "$work/$t.log" 2>&1 || failed=1
	grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|^Done|cov: .*DONE' "$work/$t.log" || true
done
if ls "$work/artifacts"/* > /dev/null 2>&1; then
	echo "fuzz: findings in $work/artifacts (logs: $work/*.log):"
	ls "$work/artifacts"
	failed=1
fi
exit $failed
