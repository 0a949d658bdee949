"""QAT and the offload engine on both sides, no KVM needed: `vmig run
--incoming --accel` (decompression offload on the destination) and the
qat_loopback tool, which migrates a test-double guest between two threads
with codec qat against the real Intel QATzip in software mode (built by
`make test` from ../shared/vendor; these tests skip, saying so, without it)."""
import os
import re
import signal
import subprocess

import pytest

import vmlib
from vmlib import VM, free_port, run_vmig

pytestmark = pytest.mark.no_kvm

def _loopback(*args):
    tool = os.path.join(vmlib.BUILD, "tests", "qat_loopback")
    p = subprocess.run([tool, *args], capture_output=True, text=True, timeout=120)
    figures = dict(re.findall(r"(\w+)=(\S+)", p.stdout.splitlines()[0])) if p.stdout else {}
    return p, figures


def test_incoming_accel_is_checked_as_usage():
    p = run_vmig("run", "--incoming", f"tcp:127.0.0.1:{free_port()}", "--accel", "gpu")
    assert p.returncode == 2 and "invalid --accel 'gpu'" in p.stderr, p
    p = run_vmig("run", "--incoming", f"tcp:127.0.0.1:{free_port()}", "--qat-fallback", "maybe")
    assert p.returncode == 2 and "unknown QAT fallback 'maybe'" in p.stderr, p


def test_incoming_qat_without_library_fails_clearly_with_fallback_none():
    p = run_vmig("run", "--incoming", f"tcp:127.0.0.1:{free_port()}", "--accel", "qat",
                 "--qat-fallback", "none", "--qatzip-path", "/nonexistent/libqatzip.so.3")
    assert p.returncode == 1, p
    assert "QAT: cannot load /nonexistent/libqatzip.so.3" in p.stderr, p.stderr


def test_incoming_qat_without_device_per_fallback(real_qatzip):
    uri = f"tcp:127.0.0.1:{free_port()}"
    p = run_vmig("run", "--incoming", uri, "--accel", "qat", "--qat-fallback", "none",
                 "--qatzip-path", real_qatzip)
    if p.returncode == 0:
        pytest.skip("a QAT device is present")
    assert p.returncode == 1 and "QZ_NOSW_NO_HW (-101): no QAT device found" in p.stderr, p
    for fallback, says in (("qatzip", "qat (QATzip in software: no QAT device"),
                           ("cpu", "cpu (")):
        dst = VM(incoming=f"tcp:127.0.0.1:{free_port()}",
                 extra=("--accel", "qat", "--qat-fallback", fallback, "--qatzip-path", real_qatzip))
        assert f"decompressing through the offload engine: {says}" in dst.stderr_text()
        dst.proc.send_signal(signal.SIGTERM)
        assert dst.wait_exit(10) == 0


@pytest.mark.parametrize("fill", ["mixed", "text"])
def test_loopback_qat_against_real_qatzip(fill, real_qatzip):
    p, f = _loopback("--codec", "qat", "--fill", fill, "--qatzip", real_qatzip,
                     "--qat-fallback", "qatzip", "--dest-accel", "qat")
    print(p.stdout)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert f["status"] == "completed" and f["memory"] == "identical", f
    assert "qat (QATzip" in p.stdout and "TEST DOUBLE" not in p.stdout, p.stdout
    assert float(f["ratio"]) > 1.5, f
    # QATzip's own lines are off by default: only vmig's one line about the engine.
    assert int(f["stderr_lines"]) <= 2, p.stdout


def test_loopback_deflate_through_cpu_engine_on_destination():
    p, f = _loopback("--codec", "deflate", "--fill", "mixed", "--dest-accel", "cpu")
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert f["status"] == "completed" and float(f["dst_decompress_cpu_s"]) > 0, f
    assert "destination: cpu (" in p.stdout, p.stdout
