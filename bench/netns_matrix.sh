#!/bin/bash
# The acceleration matrix: every codec x channels (1, 2, 4 connections) x
# XBZRLE off/on, migrating a 1 GiB guestload (fill=mixed ws=256M rate=0
# write=word) between two netns hosts over a 1 Gbit/s tc-limited veth,
# with QEMU 7.2's best setting (XBZRLE + auto-converge) in the same run.
# Usage: bench/netns_matrix.sh [BUILD] [TIMEOUT_S]
set -euo pipefail
BUILD=${1:-build}
TIMEOUT=${2:-30}
settings=()
for codec in none lz4 zstd deflate; do
	for ch in 0 2 4; do
		for x in off on; do
			s="--codec $codec"
			[ "$ch" != 0 ] && s="$s --channels $ch"
			[ "$x" = on ] && s="$s --xbzrle on --xbzrle-cache 512M"
			settings+=("$s")
		done
	done
done
IFS=';'
exec python3 "$(dirname "$0")/migrate_compare.py" --build "$BUILD" --netns-rate 1gbit \
	--timeout "$TIMEOUT" --prewarm-gib 4 --qemu-caps "xbzrle+auto-converge" \
	--vmig-settings "${settings[*]}"
