"""The benchmark suite: vmig and QEMU side by side (bench/run.py runs it;
docs/benchmarks.md says how and what it measures)."""
