"""A destination fed a bad stream ends with a clear error and a non-zero
exit, never a crash (the test build runs under ASan/UBSan)."""
import os
import subprocess

import pytest

import vmlib
from vmlib import VM, free_port

# Streams that open with a valid HELLO: the destination accepts the source,
# then refuses the stream and ends. (Streams that are bad before a valid
# HELLO leave the listener waiting: test_incoming_guard.py.)
CASES = {
    "page-range": "beyond guest RAM",
    "bad-checksum": "checksum mismatch",
    "bad-page": "does not match its hash",
    "bad-xbzrle": "malformed XBZRLE delta",
    "bad-compressed": "does not decompress",
    "huge-length": "exceeds",
    "bad-count": "bad PAGES record",
    "wrong-order": "COMPLETE before state and digest",
    "state-garbage": "digest mismatch",
    "digest": "digest mismatch",
}


# One test per case, so that one failure does not hide the next.
@pytest.mark.parametrize("case,expect", list(CASES.items()), ids=list(CASES))
def test_stream(case, expect):
    _refused(case, expect)


def _refused(case, expect, dst_extra=()):
    port = free_port()
    dst = VM(incoming=f"tcp:127.0.0.1:{port}", extra=dst_extra)
    tool = os.path.join(vmlib.BUILD, "tests", "hostile_source")
    p = subprocess.run([tool, f"tcp:127.0.0.1:{port}", case], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, (case, p.stderr)
    rc = dst.wait_exit(30)
    err = dst.stderr_text()
    assert rc == 1, (case, rc, err)
    assert expect in err, (case, expect, err)
    assert "AddressSanitizer" not in err and "runtime error" not in err, err


# A source that hangs up mid-stream may come back (issue 10's resume): the
# destination holds what it has for --resume-timeout, then ends.
def test_hangup_without_a_resume_window_ends_at_once():
    _refused("hangup", "closed by the peer", dst_extra=("--resume-timeout", "0"))


def test_hangup_ends_when_the_source_does_not_resume_in_time():
    _refused("hangup", "did not resume within 2 s", dst_extra=("--resume-timeout", "2"))


def test_incoming_bad_usage():
    p = vmlib.run_vmig("run", "--incoming", "udp:1.2.3.4:5", timeout=30)
    assert p.returncode == 1 and "unsupported migration address" in p.stderr, p.stderr
    p = vmlib.run_vmig("run", "--incoming", "tcp:127.0.0.1:1", "--guest", vmlib.GUEST, timeout=30)
    assert p.returncode == 2 and "exclude each other" in p.stderr, p.stderr
    p = vmlib.run_vmig("run", "--incoming", "tcp:127.0.0.1:0", "--incoming-timeout", "1", timeout=30)
    assert p.returncode == 1 and "timed out" in p.stderr, p.stderr


def test_migrate_bad_usage():
    vm = VM(mem="64M", guest_args="ws=4M")
    p = vmlib.run_vmig("migrate", "--control", vm.control_path, "nowhere")
    assert p.returncode == 2 and "tcp:HOST:PORT" in p.stderr, p.stderr
    p = vmlib.run_vmig("migrate", "--control", vm.control_path, f"tcp:127.0.0.1:{free_port()}",
                       "--json")
    assert p.returncode == 1 and "cannot connect" in p.stdout, (p.stdout, p.stderr)
    p = vmlib.run_vmig("migrate", "--control", vm.control_path, "tcp:127.0.0.1:1", "--downtime-ms", "x")
    assert p.returncode == 2, p.stderr
    # the guest never noticed
    g = vm.wait_progress(min_t=1)
    assert g["errors"] == 0 and vm.call("query-status")["status"] == "running"
    vm.quit()
