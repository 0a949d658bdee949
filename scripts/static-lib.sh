#!/bin/sh
# static-lib.sh OUT.a IN.a...: one relocatable object from every member of
# the input archives, its hidden symbols made local, archived as OUT.a.
# What an embedder linking OUT.a sees: only the vmig_* API.
set -e
out="$1"
shift
tmp="$out.o"
ld -r --whole-archive "$@" -o "$tmp"
objcopy --localize-hidden "$tmp"
rm -f "$out"
ar rcs "$out" "$tmp"
rm -f "$tmp"
