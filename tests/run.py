#!/usr/bin/env python3
"""vmig test runner: unit-test binaries, then integration tests on real KVM.

Prints one line per test and ends with 'N passed, N failed, N skipped'.
Exit status is non-zero if anything failed.
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(HERE, "integration"))


class Counts:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0
        self.failures = []


def run_unit(build, counts, only):
    unit_dir = os.path.join(build, "tests")
    bins = sorted(f for f in os.listdir(unit_dir) if f.startswith("test_")
                  and os.path.isfile(os.path.join(unit_dir, f))
                  and os.access(os.path.join(unit_dir, f), os.X_OK))
    if not bins:
        print(f"FAIL unit: no unit-test binaries in {unit_dir}")
        counts.failed += 1
        return
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1")
    for b in bins:
        if only and not any(o in b for o in only):
            continue
        t0 = time.monotonic()
        p = subprocess.run([os.path.join(unit_dir, b)], capture_output=True, text=True,
                           timeout=300, env=env)
        seen = 0
        for line in p.stdout.splitlines():
            if line.startswith("PASS "):
                counts.passed += 1
                seen += 1
                print(line)
            elif line.startswith("FAIL "):
                counts.failed += 1
                counts.failures.append(line)
                seen += 1
                print(line)
        # A crash (sanitizer report, signal) after or instead of results.
        if p.returncode != 0 and (seen == 0 or "FAIL" not in p.stdout):
            counts.failed += 1
            msg = f"FAIL {b}: exit status {p.returncode}\n{p.stderr[-3000:]}"
            counts.failures.append(msg)
            print(msg)
        print(f"  ({b}: {time.monotonic() - t0:.1f}s)")


def run_integration(args, counts, only):
    import vmlib
    vmlib.configure(args.build)
    have_kvm = os.access("/dev/kvm", os.R_OK | os.W_OK)
    files = sorted(f for f in os.listdir(os.path.join(HERE, "integration"))
                   if f.startswith("test_") and f.endswith(".py"))
    for f in files:
        spec = importlib.util.spec_from_file_location(f[:-3], os.path.join(HERE, "integration", f))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        needs_kvm = getattr(mod, "NEEDS_KVM", True)
        for name in sorted(n for n in dir(mod) if n.startswith("test_")):
            full = f"{f[:-3]}.{name}"
            if only and not any(o in full for o in only):
                continue
            if needs_kvm and not have_kvm:
                counts.skipped += 1
                print(f"SKIP {full}: /dev/kvm is not available on this machine")
                continue
            t0 = time.monotonic()
            try:
                getattr(mod, name)()
            except vmlib.Skip as e:
                counts.skipped += 1
                print(f"SKIP {full}: {e}")
                continue
            except Exception:
                counts.failed += 1
                tb = traceback.format_exc()
                counts.failures.append(f"FAIL {full}\n{tb}")
                print(f"FAIL {full} ({time.monotonic() - t0:.1f}s)\n{tb}")
                vmlib.cleanup_all()
                continue
            finally:
                vmlib.cleanup_all()
            counts.passed += 1
            print(f"PASS {full} ({time.monotonic() - t0:.1f}s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--build", default="build-debug", help="meson build directory")
    ap.add_argument("--unit-only", action="store_true")
    ap.add_argument("--integration-only", action="store_true")
    ap.add_argument("only", nargs="*", help="run only tests whose name contains one of these")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    counts = Counts()
    t0 = time.monotonic()
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("*" * 72)
        print("* WARNING: /dev/kvm is not available: every test that runs a real KVM *")
        print("* guest is SKIPPED. Run on a host with KVM to test the VMM for real.    *")
        print("*" * 72)
    if not args.integration_only:
        run_unit(args.build, counts, args.only)
    if not args.unit_only:
        run_integration(args, counts, args.only)
    if counts.failures:
        print("\nFailures:")
        for f in counts.failures:
            print("  " + f.splitlines()[0])
    print(f"\n(total {time.monotonic() - t0:.0f}s)")
    print(f"{counts.passed} passed, {counts.failed} failed, {counts.skipped} skipped")
    return 1 if counts.failed else 0


if __name__ == "__main__":
    sys.exit(main())
