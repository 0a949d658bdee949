#!/bin/bash
# Builds Intel's QATzip (and qatlib under it) from the vendored sources in
# VENDOR_DIR into BUILD_DIR/prefix, once: the QAT tests load that library in
# software mode (sw_backup=1, no device needed). Without VENDOR_DIR, or if
# the build fails, it says so loudly and exits 0: those tests then skip.
# usage: build-real-qatzip.sh VENDOR_DIR BUILD_DIR      (see Makefile: make test)
set -uo pipefail
VENDOR=$1
OUT=$(realpath -m "$2") # configure wants an absolute prefix
LIB="$OUT/prefix/lib/libqatzip.so.3"
loud() {
	echo "************************************************************************"
	echo "* $1"
	echo "* The tests against the real QATzip will SKIP (test_accel qat_real_*)."
	echo "************************************************************************"
}
if [ -e "$LIB" ]; then
	exit 0
fi
if [ ! -x "$VENDOR/build-qatzip.sh" ] && [ ! -f "$VENDOR/build-qatzip.sh" ]; then
	loud "No $VENDOR/build-qatzip.sh: the real QATzip cannot be built here."
	exit 0
fi
mkdir -p "$OUT"
echo "Building the real QATzip from $VENDOR into $OUT/prefix (once; about 3 minutes on 2 cores)..."
if ! bash "$VENDOR/build-qatzip.sh" "$OUT/src" "$OUT/prefix" >"$OUT/build.log" 2>&1; then
	tail -5 "$OUT/build.log"
	loud "Building QATzip from $VENDOR FAILED: see $OUT/build.log"
	exit 0
fi
echo "Real QATzip: $LIB"
