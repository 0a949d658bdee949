"""The destination's front door, no KVM needed: it waits for its source
through strangers, refuses what it will not host before allocating
anything, and ends cleanly on SIGINT/SIGTERM at any point of the wait."""
import os
import signal
import socket
import subprocess
import time

import pytest

import vmlib
from vmlib import VM, free_port

pytestmark = pytest.mark.no_kvm


def _hostile(port, case, *extra):
    tool = os.path.join(vmlib.BUILD, "tests", "hostile_source")
    return subprocess.run([tool, f"tcp:127.0.0.1:{port}", case, *extra], capture_output=True,
                          text=True, timeout=60)


def _wait_log(vm, text, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in vm.stderr_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"never logged {text!r}: {vm.stderr_text()}")


def _signal_ends_wait(sig):
    dst = VM(incoming=f"tcp:127.0.0.1:{free_port()}")
    t0 = time.monotonic()
    dst.proc.send_signal(sig)
    rc = dst.wait_exit(10)
    took = time.monotonic() - t0
    err = dst.stderr_text()
    assert rc == 0, (rc, err)
    assert f"stopped by signal {int(sig)}" in err, err
    assert took < 2, took


def test_sigterm_ends_incoming_wait():
    _signal_ends_wait(signal.SIGTERM)


def test_sigint_ends_incoming_wait():
    _signal_ends_wait(signal.SIGINT)


def test_strangers_do_not_end_the_listener():
    port = free_port()
    dst = VM(incoming=f"tcp:127.0.0.1:{port}")
    closed = socket.create_connection(("127.0.0.1", port))
    closed.close()
    garbage = socket.create_connection(("127.0.0.1", port))
    garbage.sendall(bytes(range(256)) * 4)
    idle = socket.create_connection(("127.0.0.1", port))  # stays open, says nothing
    _wait_log(dst, "refused a connection")
    assert dst.proc.poll() is None, dst.stderr_text()
    # a real (if hostile) source is still heard, despite the idle stranger
    p = _hostile(port, "digest")
    assert p.returncode == 0, p.stderr
    rc = dst.wait_exit(30)
    idle.close()
    garbage.close()
    err = dst.stderr_text()
    assert "incoming migration from" in err, err
    assert rc == 1, (rc, err)
    assert "AddressSanitizer" not in err and "runtime error" not in err, err


def test_source_over_max_mem_is_refused_and_the_wait_goes_on():
    port = free_port()
    dst = VM(incoming=f"tcp:127.0.0.1:{port}", extra=("--max-mem", "32M"))
    p = _hostile(port, "digest")  # its HELLO asks for 64 MiB
    assert p.returncode == 0, p.stderr
    _wait_log(dst, "this host takes at most 32 MiB")
    time.sleep(0.3)
    assert dst.proc.poll() is None, dst.stderr_text()
    assert "incoming migration from" not in dst.stderr_text()
    dst.proc.send_signal(signal.SIGTERM)
    assert dst.wait_exit(10) == 0, dst.stderr_text()


def _forged_hello_is_refused(vm_arg, expect, *flags):
    port = free_port()
    dst = VM(incoming=f"tcp:127.0.0.1:{port}", extra=flags)
    p = _hostile(port, "digest", "--vm", vm_arg)
    assert p.returncode == 0, p.stderr
    _wait_log(dst, expect)
    time.sleep(0.3)
    assert dst.proc.poll() is None, dst.stderr_text()
    assert "incoming migration from" not in dst.stderr_text()
    dst.proc.send_signal(signal.SIGTERM)
    assert dst.wait_exit(10) == 0, dst.stderr_text()


def test_forged_hello_for_128g_and_64_vcpus_is_refused_by_default():
    # the probe's HELLO; the default limits are what this host has
    _forged_hello_is_refused("131072,64", "the source's VM has 131072 MiB of RAM")


def test_forged_hello_over_max_vcpus_is_refused():
    _forged_hello_is_refused("64,8", "has 8 vCPUs; this host takes at most 4 (--max-vcpus)",
                             "--max-vcpus", "4")


def test_pre_hello_garbage_leaves_the_listener_waiting():
    port = free_port()
    dst = VM(incoming=f"tcp:127.0.0.1:{port}")
    for case, why in (("garbage", "bad record"), ("version", "unsupported migration protocol"),
                      ("magic", "bad magic"), ("truncated", "timed out")):
        p = _hostile(port, case)
        assert p.returncode == 0, (case, p.stderr)
    _wait_log(dst, "unsupported migration protocol version 99")
    _wait_log(dst, "bad magic")
    assert dst.proc.poll() is None, dst.stderr_text()
    dst.proc.send_signal(signal.SIGTERM)
    assert dst.wait_exit(10) == 0, dst.stderr_text()


def test_bad_limit_flags_are_usage_errors():
    p = vmlib.run_vmig("run", "--incoming", "tcp:127.0.0.1:1", "--max-mem", "lots", timeout=30)
    assert p.returncode == 2 and "invalid --max-mem" in p.stderr, p.stderr
    p = vmlib.run_vmig("run", "--incoming", "tcp:127.0.0.1:1", "--max-vcpus", "0", timeout=30)
    assert p.returncode == 2 and "invalid --max-vcpus" in p.stderr, p.stderr
