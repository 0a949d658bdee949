"""Bad input gets a clear message and a non-zero exit, never a crash."""
import os
import socket

import pytest

import vmlib
from vmlib import VM

pytestmark = pytest.mark.no_kvm  # most of these fail before KVM is touched


def _run(*args, code=None):
    p = vmlib.run_vmig(*args, timeout=60)
    assert p.returncode != 0, (args, p.stdout, p.stderr)
    if code is not None:
        assert p.returncode == code, (args, p.returncode, p.stderr)
    assert "AddressSanitizer" not in p.stderr and "runtime error" not in p.stderr, p.stderr
    return p


def test_usage_errors():
    assert "unknown command" in _run("frobnicate", code=2).stderr
    assert "unknown option" in _run("run", "--guest", vmlib.GUEST, "--bogus", code=2).stderr
    assert "--guest FILE is required" in _run("run", code=2).stderr
    assert "invalid --mem" in _run("run", "--guest", vmlib.GUEST, "--mem", "lots", code=2).stderr
    assert "invalid --mem" in _run("run", "--guest", vmlib.GUEST, "--mem", "1M", code=2).stderr
    assert "invalid --vcpus" in _run("run", "--guest", vmlib.GUEST, "--vcpus", "0", code=2).stderr
    assert "invalid --boot" in _run("run", "--guest", vmlib.GUEST, "--boot", "bios", code=2).stderr
    assert "needs a value" in _run("run", "--guest", code=2).stderr
    p = vmlib.run_vmig("run", "--help")
    assert p.returncode == 0 and "--guest-args" in p.stdout
    p = vmlib.run_vmig("--help")
    assert p.returncode == 0 and "status" in p.stdout


def test_migrate_throttle_options_are_checked():
    """--throttle-mode and --dirty-limit say what is wrong, before any VM is asked."""
    base = ("migrate", "--control", "/nonexistent.sock")
    p = _run(*base, "--throttle-mode", "fast", "tcp:127.0.0.1:1", code=2)
    assert "--throttle-mode wants auto-converge or dirty-rate" in p.stderr, p.stderr
    p = _run(*base, "--dirty-limit", "lots", "tcp:127.0.0.1:1", code=2)
    assert "invalid --dirty-limit" in p.stderr, p.stderr
    p = _run(*base, "--dirty-limit", "1K", "tcp:127.0.0.1:1", code=2)
    assert "invalid --dirty-limit" in p.stderr, p.stderr
    p = vmlib.run_vmig("migrate", "--help")
    assert p.returncode == 0 and "--throttle-mode" in p.stdout and "--dirty-limit" in p.stdout


def test_resume_timeout_options_are_checked():
    """--resume-timeout wants whole seconds, on both sides, before anything starts."""
    p = _run("migrate", "--control", "/nonexistent.sock", "--resume-timeout", "-1",
             "tcp:127.0.0.1:1", code=2)
    assert "invalid --resume-timeout '-1': want 0..86400 s" in p.stderr, p.stderr
    p = _run("run", "--incoming", "tcp:127.0.0.1:1", "--resume-timeout", "soon", code=2)
    assert "invalid --resume-timeout 'soon': want 0..86400 s" in p.stderr, p.stderr
    p = vmlib.run_vmig("migrate", "--help")
    assert p.returncode == 0 and "--resume-timeout" in p.stdout
    p = vmlib.run_vmig("run", "--help")
    assert p.returncode == 0 and "--resume-timeout" in p.stdout


def test_missing_and_bad_guest_files():
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise vmlib.Skip("/dev/kvm is not available")
    p = _run("run", "--guest", "/nonexistent/guest.elf", code=1)
    assert "cannot open guest image '/nonexistent/guest.elf'" in p.stderr, p.stderr
    d = vmlib.tmpdir()
    junk = os.path.join(d, "junk.elf")
    with open(junk, "wb") as f:
        f.write(os.urandom(4096))
    p = _run("run", "--guest", junk, code=1)
    assert "multiboot header" in p.stderr or "not an ELF" in p.stderr, p.stderr
    p = _run("run", "--guest", d, code=1)
    assert "not a regular file" in p.stderr, p.stderr
    p = _run("run", "--guest", vmlib.GUEST, "--boot", "direct", "--vcpus", "2", "--mem", "64M",
             "--serial", "/nonexistent/dir/serial.log", code=1)
    assert "cannot open serial output" in p.stderr, p.stderr


def test_bad_guest_argument():
    """guestload rejects an unknown argument and exits with code 2."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise vmlib.Skip("/dev/kvm is not available")
    d = vmlib.tmpdir()
    p = vmlib.run_vmig("run", "--mem", "64M", "--guest", vmlib.GUEST, "--guest-args",
                       "ws=8M colour=blue", "--serial", d + "/s.log", timeout=60)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert "bad argument" in open(d + "/s.log").read()


def test_status_without_vm():
    p = _run("status", "--control", "/nonexistent/vmig.sock", code=1)
    assert "/nonexistent/vmig.sock" in p.stderr, p.stderr
    _run("status", code=2)


def test_control_socket_garbage():
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise vmlib.Skip("/dev/kvm is not available")
    vm = VM(mem="64M", guest_args="ws=4M")
    vm.ctl.send_raw(b"this is not json\n")
    rep = vm.ctl.read_reply()
    assert rep["error"]["class"] == "InvalidRequest", rep
    rep = vm.call("no-such-command", check=False)
    assert rep["error"]["class"] == "CommandNotFound", rep
    rep = vm.call("x-corrupt-guest-page", {"gpa": 1 << 50}, check=False)
    assert "error" in rep, rep
    # raw binary junk on a second connection, then hang up mid-line
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(vm.control_path)
    s.sendall(os.urandom(3000) + b"{\"execute\": ")
    s.close()
    g = vm.wait_progress(min_t=1)
    assert g["errors"] == 0
    assert vm.call("query-status")["status"] == "running"
    assert vm.quit() == 0


def test_status_command():
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        raise vmlib.Skip("/dev/kvm is not available")
    vm = VM(mem="64M", guest_args="ws=4M")
    vm.wait_progress(min_t=1)
    p = vmlib.run_vmig("status", "--control", vm.control_path)
    assert p.returncode == 0, p.stderr
    assert "running" in p.stdout and "errors=0" in p.stdout.replace(" ", ""), p.stdout
    p = vmlib.run_vmig("status", "--control", vm.control_path, "--json")
    import json
    j = json.loads(p.stdout)
    assert j["status"]["status"] == "running" and j["guest"]["errors"] == 0, j
    vm.quit()
