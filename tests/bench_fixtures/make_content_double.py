#!/usr/bin/python3
"""TEST DOUBLE of bench/content/make_content.py for tests/test_bench_content.py:
the same command line and output names (SET.img, SET.manifest in OUTDIR),
SIZE bytes of 0x5a; fails as the real one would when SET is "fail"."""
import os
import sys

kind, size, outdir = sys.argv[1:4]
if kind == "fail":
    sys.exit("make_content.py: no files to take")
n = int(size[:-1]) << {"K": 10, "M": 20, "G": 30}[size[-1]]
with open(os.path.join(outdir, f"{kind}.img"), "wb") as f:
    f.write(b"\x5a" * n)
with open(os.path.join(outdir, f"{kind}.manifest"), "w") as f:
    f.write(f"0 {n} anon\n")
