"""Puts bench/ on the import path for the benchmark suite's tests
(tests/test_bench_*.py) and names the paths they share."""
import os
import sys

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
BENCH = os.path.join(ROOT, "bench")
RUN_PY = os.path.join(BENCH, "run.py")
FIXTURES = os.path.join(TESTS, "bench_fixtures")
if BENCH not in sys.path:
    sys.path.insert(0, BENCH)
