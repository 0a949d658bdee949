"""pytest setup for all of vmig's tests (`make test`; see README.md).

Options:
  --build DIR       the ASan/UBSan meson build the tests use (default build-debug)
  --tsan-build DIR  the ThreadSanitizer build whose unit tests run too
                    (default build-tsan; '' runs none)

The real Intel QATzip (built by `make qatzip` into BUILD/qatzip/prefix, or
named in $VMIG_TEST_REAL_QATZIP) is handed to the tests in that variable;
where it is absent a banner says so and the tests against it skip. `make
test` builds it in the background (tests/qatzip_build.py): every test with
"qat" in its id runs after the others and waits for that build first.

Where /dev/kvm is absent a banner says so at the start and every test that
needs a KVM guest skips with that reason. The run ends with the plain line
'N passed, N failed, N skipped' (a test that fails in setup or teardown
counts as failed, a module that fails to import too); pytest's exit status
is non-zero if anything failed.
"""
import collections
import os
import time

import pytest

import qatzip_build

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


def _export_real_qatzip(config, path, why=None):
    """The real libqatzip.so.3 (or None, and why) for the QAT tests; exported
    to the processes they start."""
    config.vmig_real_qatzip = os.path.abspath(path) if path else None
    config.vmig_qatzip_why = why
    if config.vmig_real_qatzip:
        os.environ["VMIG_TEST_REAL_QATZIP"] = config.vmig_real_qatzip


def pytest_configure(config):
    # Before any test starts, so every test process inherits it.
    build = _dir(config, "--build") or ""
    given = os.environ.get("VMIG_TEST_REAL_QATZIP")
    config.vmig_qatzip_pending = not given and qatzip_build.building(build)
    config.vmig_qatzip_was_pending = config.vmig_qatzip_pending
    config.vmig_started = time.time()
    if config.vmig_qatzip_pending:
        _export_real_qatzip(config, None, "the QATzip build has not been waited for")
        return
    path = given or qatzip_build.lib_path(build)
    if os.path.exists(path):
        _export_real_qatzip(config, path)
    else:
        _export_real_qatzip(config, None, "THE REAL QATzip IS NOT BUILT: `make test` builds it "
                                          "from ../shared/vendor")


def _uses_qatzip(item):
    """Tests of QAT, which may load the real QATzip: C cases too (fake_guest.h,
    qatzip_for_test), so the rule is the name, not a fixture."""
    return "qat" in item.nodeid.lower()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    # Outside pytest-timeout's wrapper: the wait is not the test's time.
    config = item.config
    if config.vmig_qatzip_pending and _uses_qatzip(item):
        config.vmig_qatzip_pending = False
        _export_real_qatzip(config, *qatzip_build.wait(_dir(config, "--build")))
    yield


@pytest.fixture
def real_qatzip(pytestconfig):
    """The real libqatzip.so.3 (built, waited for); the test skips without it."""
    if not pytestconfig.vmig_real_qatzip:
        pytest.skip(pytestconfig.vmig_qatzip_why)
    return pytestconfig.vmig_real_qatzip


def pytest_report_header(config):
    lines = [f"vmig: build {_dir(config, '--build')}, "
             f"TSan build {_dir(config, '--tsan-build') or '(none)'}"]
    qz = config.vmig_real_qatzip
    if qz:
        lines += [f"vmig: QAT tests against the real QATzip: {qz} (software mode, no device)"]
    elif config.vmig_qatzip_pending:
        log = qatzip_build.log_path(_dir(config, "--build"))
        lines += [f"vmig: the real QATzip is being built in the background (log: {log}): "
                  f"the QAT tests run last and wait for it (at most {qatzip_build.WAIT_LIMIT_S} s)"]
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
    # Last, so a QATzip build that `make test` started has the longest to end.
    items.sort(key=_uses_qatzip)


def pytest_terminal_summary(terminalreporter, config):
    if config.vmig_qatzip_was_pending and not hasattr(config, "workerinput"):
        terminalreporter.write_line("vmig: the background QATzip build: "
                                    + qatzip_build.outcome(_dir(config, "--build"),
                                                           config.vmig_started))


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
    # Under pytest-xdist the workers' reports reach these hooks in the main
    # process too: it alone counts and writes the line.
    if session.config.option.collectonly or hasattr(session.config, "workerinput"):
        return
    counts = collections.Counter(_outcomes.values())
    tr = session.config.pluginmanager.get_plugin("terminalreporter")
    write = tr.write_line if tr else print
    for reason, n in _skip_reasons.most_common():
        write(f"skipped {n}: {reason}")
    write(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped")
