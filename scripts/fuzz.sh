#!/bin/sh
# Runs the libFuzzer targets of tests/fuzz (`make fuzz`; docs/fuzzing.md).
#   scripts/fuzz.sh BUILD SECONDS TARGET...      fuzz each target for SECONDS, one after another
#   scripts/fuzz.sh --merge BUILD TARGET...      fold BUILD's findings into tests/fuzz/corpus
#                                                (minimised, FUZZ_CORPUS_KIB of new inputs per target)
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

# The seeds a target starts from: stream_rechecked takes the stream's.
seed_dir() {
	case $1 in
	stream_*) echo "$work/seeds/stream" ;;
	*) echo "$work/seeds/$1" ;;
	esac
}

seeds() {
	rm -rf "$work/seeds"
	"$build/tests/fuzz/fuzz_seeds" "$work/seeds" > /dev/null ||
		echo "fuzz: some seeds could not be made (above); going on with the others" >&2
}

if [ -n "$merge" ]; then
	# The committed corpus: the regression inputs, the seeds under 32 KiB
	# (valid streams of every kind, records, states, requests), and what
	# the runs found that adds coverage to them (-merge=1 keeps the
	# smallest inputs that reach it), smallest first within
	# FUZZ_CORPUS_KIB per target.
	budget=$(( ${FUZZ_CORPUS_KIB:-64} * 1024 ))
	seeds
	for t in "$@"; do
		new=$work/merged-$t
		rm -rf "$new" && mkdir -p "$new"
		cp tests/fuzz/corpus/"$t"/regress-* "$new"/ 2> /dev/null || true
		# A target that borrows another's seeds leaves them to that one's corpus.
		[ "$(seed_dir "$t")" = "$work/seeds/$t" ] &&
			find "$work/seeds/$t" -type f -size -32k -exec cp {} "$new"/ \;
		ls "$new" > "$work/kept-$t"
		mkdir -p "$work/corpus/$t"
		"$build/tests/fuzz/fuzz_$t" -merge=1 -rss_limit_mb=4096 "$new" "$work/corpus/$t" \
			> "$work/merge-$t.log" 2>&1
		total=0
		for f in $(cd "$new" && ls -Sr); do
			grep -qx "$f" "$work/kept-$t" && continue
			size=$(stat -c %s "$new/$f")
			if [ $((total + size)) -gt "$budget" ]; then
				rm "$new/$f"
			else
				total=$((total + size))
			fi
		done
		rm -rf tests/fuzz/corpus/"$t" && mkdir -p tests/fuzz/corpus/"$t"
		cp "$new"/* tests/fuzz/corpus/"$t"/
		echo "tests/fuzz/corpus/$t: $(ls tests/fuzz/corpus/"$t" | wc -l) inputs," \
			"$(cat tests/fuzz/corpus/"$t"/* | wc -c) bytes"
	done
	exit 0
fi

seeds
failed=0
for t in "$@"; do
	mkdir -p "$work/corpus/$t" tests/fuzz/corpus/"$t"
	echo "== fuzz_$t for $seconds s"
	# -timeout: one input taking seconds is a hang (the stream target's own
	# deadlines are 2 s); -rss_limit_mb: ASan's quarantine needs room.
	"$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 \
		-print_final_stats=1 -artifact_prefix="$work/artifacts/$t-" \
		"$work/corpus/$t" tests/fuzz/corpus/"$t" "$(seed_dir "$t")" > "$work/$t.log" 2>&1 || failed=1
	grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|^Done|cov: .*DONE' "$work/$t.log" || true
done
if ls "$work/artifacts"/* > /dev/null 2>&1; then
	echo "fuzz: findings in $work/artifacts (logs: $work/*.log):"
	ls "$work/artifacts"
	failed=1
fi
exit $failed
