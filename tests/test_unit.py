"""The C unit tests (tests/unit/*.c), one pytest test per C case.

Each binary lists its cases (`test_x --list`, see tests/unit/unittest.h);
each case runs in a process of its own, so a crash, a hang or a sanitizer
report fails that case alone and never hides the next one. test_unit runs
every binary of the ASan/UBSan build; test_unit_tsan runs those that start
threads in the ThreadSanitizer build: any TSan report fails the case.
"""
import os
import re
import subprocess
from collections import namedtuple

import pytest

from tsan_cases import TSAN_BINARIES, TSAN_SKIP_CASES

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# As tests/run.py set them, and tests/meson.build for `meson test`.
SAN_ENV = {
    "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
    "TSAN_OPTIONS": "halt_on_error=1:second_deadlock_stop=1",
}
CASE_TIMEOUT = 300  # s, one C case; pytest-timeout gives the test 60 s more
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|"
                              r"ThreadSanitizer: |runtime error: ")

Case = namedtuple("Case", "binary name error")


def _env():
    return dict(os.environ, **SAN_ENV)


def _binaries(build):
    d = os.path.join(build, "tests")
    if not os.path.isdir(d):
        return d, []
    return d, sorted(f for f in os.listdir(d) if f.startswith("test_")
                     and os.path.isfile(os.path.join(d, f)) and os.access(os.path.join(d, f), os.X_OK))


def _list(path):
    """A binary's cases, or one Case that fails with why they could not be listed."""
    name = os.path.basename(path)
    try:
        p = subprocess.run([path, "--list"], capture_output=True, text=True, timeout=60, env=_env())
    except (OSError, subprocess.TimeoutExpired) as e:
        return [Case(path, "list", f"{name} --list: {e}")]
    cases = p.stdout.split()
    if p.returncode != 0 or not cases:
        return [Case(path, "list", f"{name} --list exited {p.returncode} with no case names:\n"
                                   f"{p.stdout[-2000:]}{p.stderr[-4000:]}")]
    return [Case(path, c, None) for c in cases]


def _params(build, only=None, what="unit-test", skip=None):
    d, bins = _binaries(build)
    if only:
        missing = [b for b in only if b not in bins]
        bins = [b for b in bins if b in only]
    else:
        missing = []
    if not bins:
        return [pytest.param(Case(None, "none", f"no {what} binaries in {d}"), id="no-binaries")]
    params = [pytest.param(Case(None, "missing", f"{b} is not built in {build}"), id=b)
              for b in missing]
    for b in bins:
        params += [pytest.param(c, id=f"{b}.{c.name}") for c in _list(os.path.join(d, b))
                   if c.name not in (skip or {}).get(b, ())]
    return params


def pytest_generate_tests(metafunc):
    if "case" not in metafunc.fixturenames:
        return
    cfg = metafunc.config
    if metafunc.function.__name__ == "test_unit_tsan":
        build = cfg.getoption("--tsan-build")
        if not build:
            params = [pytest.param(None, id="tsan", marks=pytest.mark.skip(
                reason="no ThreadSanitizer build given (--tsan-build '')"))]
        elif not os.path.isdir(build):
            params = [pytest.param(None, id="tsan", marks=pytest.mark.skip(
                reason=f"no ThreadSanitizer build at {os.path.abspath(build)} "
                       f"(make test makes one: meson setup DIR -Dtsan=true)"))]
        else:
            params = _params(os.path.abspath(build), TSAN_BINARIES, "TSan unit-test",
                             TSAN_SKIP_CASES)
    else:
        params = _params(os.path.abspath(cfg.getoption("--build")))
    metafunc.parametrize("case", params)


def _run_case(case):
    if case.error:
        pytest.fail(case.error, pytrace=False)
    label = f"{os.path.basename(case.binary)} {case.name}"
    try:
        p = subprocess.run([case.binary, case.name], capture_output=True, text=True,
                           timeout=CASE_TIMEOUT, env=_env(), cwd=ROOT)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        pytest.fail(f"{label}: still running after {CASE_TIMEOUT} s (killed)\n{out[-2000:]}"
                    f"{err[-8000:]}", pytrace=False)
    lines = p.stdout.splitlines()
    passed = any(ln.startswith("PASS ") and ln.endswith("." + case.name) for ln in lines)
    fails = [ln for ln in lines if ln.startswith("FAIL ")]
    report = SANITIZER_REPORT.search(p.stderr)
    if p.returncode == 0 and passed and not fails and not report:
        return
    skip = [ln for ln in lines if ln.startswith("SKIP ") and f".{case.name}: " in ln]
    if p.returncode == 0 and skip and not fails and not report:
        pytest.skip(skip[0].split(": ", 1)[1])
    why = "; ".join(fails) or ("sanitizer report" if report else
                               f"exit status {p.returncode}" if p.returncode else "no PASS line")
    pytest.fail(f"{label}: {why} (exit status {p.returncode})\n--- stdout\n{p.stdout[-2000:]}"
                f"--- stderr\n{p.stderr[-12000:]}", pytrace=False)


@pytest.mark.timeout(CASE_TIMEOUT + 60)
def test_unit(case):
    _run_case(case)


@pytest.mark.timeout(CASE_TIMEOUT + 60)
def test_unit_tsan(case):
    _run_case(case)
