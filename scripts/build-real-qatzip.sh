#!/bin/bash
# Builds Intel's QATzip (and qatlib under it) from the vendored sources in
# VENDOR_DIR into BUILD_DIR/prefix, once: the QAT tests load that library in
# software mode (sw_backup=1, no device needed). Without VENDOR_DIR, or if
# the build fails, it says so loudly and exits 0: those tests then skip.
#
# --background returns at once and builds beside whatever runs next (`make
# test`: the C builds and pytest; the build is mostly serial configure steps,
# so on 2 cores it costs them little). The build holds an exclusive flock on
# BUILD_DIR/build.lock until it ends, even if killed: tests/conftest.py waits
# on that lock before the tests that use the library (tests/qatzip_build.py).
# The log is BUILD_DIR/build.log either way.
# usage: build-real-qatzip.sh [--background] VENDOR_DIR BUILD_DIR   (see Makefile)
set -uo pipefail
BACKGROUND=0
if [ "${1:-}" = --background ]; then
	BACKGROUND=1
	shift
fi
VENDOR=$1
OUT=$(realpath -m "$2") # configure wants an absolute prefix
LIB="$OUT/prefix/lib/libqatzip.so.3"
loud() {
	echo "************************************************************************"
	echo "* $1"
	echo "* The tests against the real QATzip will SKIP (test_accel qat_real_*)."
	echo "************************************************************************"
}
if [ ! -x "$VENDOR/build-qatzip.sh" ] && [ ! -f "$VENDOR/build-qatzip.sh" ]; then
	[ -e "$LIB" ] && exit 0
	loud "No $VENDOR/build-qatzip.sh: the real QATzip cannot be built here."
	exit 0
fi
mkdir -p "$OUT"
# fd 9 holds the lock; every process of the build inherits it, so the lock
# lasts exactly as long as the build. A second caller waits for the first.
exec 9>"$OUT/build.lock"
if ! flock -n 9; then
	if [ $BACKGROUND = 1 ]; then
		echo "The real QATzip is already being built into $OUT (log: $OUT/build.log)."
		exit 0
	fi
	echo "Waiting for the QATzip build already running into $OUT..."
	flock 9
fi
if [ -e "$LIB" ]; then
	exit 0
fi

build() {
	# A build that was killed may have left a half-installed prefix.
	rm -rf "$OUT/src" "$OUT/prefix"
	if ! bash "$VENDOR/build-qatzip.sh" "$OUT/src" "$OUT/prefix" >"$OUT/build.log" 2>&1; then
		tail -5 "$OUT/build.log"
		loud "Building QATzip from $VENDOR FAILED: see $OUT/build.log"
		return 0
	fi
	echo "Real QATzip: $LIB"
}

if [ $BACKGROUND = 1 ]; then
	echo "Building the real QATzip from $VENDOR into $OUT/prefix in the background" \
		"(log: $OUT/build.log); the QAT tests wait for it."
	# Its own lines would land in the middle of pytest's: build.log has the
	# build, and the tests say if it failed.
	build >/dev/null 2>&1 </dev/null &
	exit 0
fi
echo "Building the real QATzip from $VENDOR into $OUT/prefix (once; about 3 minutes on 2 cores)..."
build
