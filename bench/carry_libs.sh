#!/bin/sh
# SPDX-License-Identifier: MIT
# Copies a benchmark binary and every shared library it needs beyond glibc
# into DIR, so that it runs on a machine whose image lacks our Debian
# libraries (run it there as: cd DIR && LD_LIBRARY_PATH=. ./NAME ...).
#
#   bench/carry_libs.sh BINARY DIR
set -eu
if [ $# -ne 2 ] || [ ! -x "$1" ]; then
	echo "usage: bench/carry_libs.sh BINARY DIR (BINARY must be executable)" >&2
	exit 2
fi
mkdir -p "$2"
cp "$1" "$2/"
# ldd's "name => /path (addr)" lines; glibc's own parts come with any image.
ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | while read -r lib; do
	case $(basename "$lib") in
	libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | ld-linux*) ;;
	*) cp -L "$lib" "$2/" ;;
	esac
done
