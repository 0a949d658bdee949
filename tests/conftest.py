"""pytest setup for all of vmig's tests (`make test`; see README.md).

Options:
  --build DIR       the ASan/UBSan meson build the tests use (default build-debug)
  --tsan-build DIR  the ThreadSanitizer build whose unit tests run too
                    (default build-tsan; '' runs none)

The real Intel QATzip (built by `make qatzip` into BUILD/qatzip/prefix, or
named in $VMIG_TEST_REAL_QATZIP) is handed to the tests in that variable;
where it is absent a banner says so and the tests against it skip.

Where /dev/kvm is absent a banner says so at the start and every test that
needs a KVM guest skips with that reason. The run ends with the plain line
'N passed, N failed, N skipped' (a test that fails in setup or teardown
counts as failed, a module that fails to import too); pytest's exit status
is non-zero if anything failed.
"""
import collections
import os

import pytest

INTEGRATION = os.path.join(os.path.dirname(os.path.abspath(__file__)), "integration")
HAVE_KVM = os.access("/dev/kvm", os.R_OK | os.W_OK)
KVM_SKIP_REASON = "/dev/kvm is not available on this machine: this test needs a real KVM guest"


def pytest_addoption(parser):
    g = parser.getgroup("vmig")
    g.addoption("--build", default="build-debug",
                help="meson build directory (ASan/UBSan) to test (default: build-debug)")
    g.addoption("--tsan-build", default="build-tsan",
                help="meson build with -Dtsan=true whose unit tests run too "
                     "(default: build-tsan; '' for none)")


def _dir(config, opt):
    d = config.getoption(opt)
    return os.path.abspath(d) if d else None


@pytest.fixture(scope="session")
def build_dir(pytestconfig):
    """The ASan/UBSan build directory under test (absolute)."""
    return _dir(pytestconfig, "--build")


def _real_qatzip(config):
    """The real libqatzip.so.3 for the QAT tests, or None; exported to them."""
    path = os.environ.get("VMIG_TEST_REAL_QATZIP") or os.path.join(
        _dir(config, "--build") or "", "qatzip", "prefix", "lib", "libqatzip.so.3")
    if not os.path.exists(path):
        return None
    os.environ["VMIG_TEST_REAL_QATZIP"] = os.path.abspath(path)
    return os.environ["VMIG_TEST_REAL_QATZIP"]


def pytest_configure(config):
    # Before any test starts, so every test process inherits it.
    config.vmig_real_qatzip = _real_qatzip(config)


def pytest_report_header(config):
    lines = [f"vmig: build {_dir(config, '--build')}, "
             f"TSan build {_dir(config, '--tsan-build') or '(none)'}"]
    qz = config.vmig_real_qatzip
    if qz:
        lines += [f"vmig: QAT tests against the real QATzip: {qz} (software mode, no device)"]
    else:
        lines += ["*" * 72,
                  "* WARNING: the real Intel QATzip is not built: the QAT tests against   *",
                  "* it SKIP. `make qatzip` builds it from ../shared/vendor when present. *",
                  "*" * 72]
    if not HAVE_KVM:
        lines += ["*" * 72,
                  "* WARNING: /dev/kvm is not available: every test that runs a real KVM *",
                  "* guest is SKIPPED. Run on a host with KVM to test the VMM for real.    *",
                  "*" * 72]
    return lines


def _needs_kvm(item):
    """Integration tests need /dev/kvm unless their module says
    `pytestmark = pytest.mark.no_kvm` (or, as modules written for the old
    runner do, `NEEDS_KVM = False`)."""
    if not str(item.path).startswith(INTEGRATION + os.sep) or item.get_closest_marker("no_kvm"):
        return False
    return getattr(item.module, "NEEDS_KVM", True) is not False


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _needs_kvm(item):
            item.add_marker(pytest.mark.skipif(not HAVE_KVM, reason=KVM_SKIP_REASON))


# Outcome of every test (and failed collection), for the closing line.
_outcomes = {}
_skip_reasons = collections.Counter()


def pytest_runtest_logreport(report):
    nid = report.nodeid
    if report.failed:
        _outcomes[nid] = "failed"
    elif report.skipped:
        if _outcomes.get(nid) != "failed":
            _outcomes[nid] = "skipped"
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
            _skip_reasons[reason.removeprefix("Skipped: ")] += 1
    elif report.when == "call":
        _outcomes.setdefault(nid, "passed")


def pytest_collectreport(report):
    if report.failed:
        _outcomes["collect " + report.nodeid] = "failed"


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_sessionfinish(session, exitstatus):
    # Outermost wrapper: runs after the terminal reporter's own summary, so
    # the counts below are the last lines of the run.
    yield
    if session.config.option.collectonly:
        return
    counts = collections.Counter(_outcomes.values())
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    write = tr.write_line if tr else print
    for reason, n in _skip_reasons.most_common():
        write(f"skipped {n}: {reason}")
    write(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
