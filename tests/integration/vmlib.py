"""Helpers for integration tests: start vmig VMs, talk to their control
sockets, wait for guestload progress. Every process started here is
killed by cleanup_all() after each test."""
import json
import os
import re
import socket
import subprocess
import tempfile
import time

import pytest

BUILD = None
VMIG = None
GUEST = None
_procs = []
_tmpdirs = []


# Every wait here is multiplied by this: inside scripts/nested-kvm.sh (KVM
# under TCG emulation, 50-100x slower) a guest takes minutes to fill its RAM.
SLOWDOWN = float(os.environ.get("VMIG_TEST_SLOWDOWN", "1"))

# A test that cannot run here raises Skip("why"): pytest reports it skipped.
Skip = pytest.skip.Exception


def configure(build):
    global BUILD, VMIG, GUEST
    BUILD = build
    VMIG = os.path.join(build, "vmig")
    GUEST = os.path.join(build, "guestload.elf")


def tmpdir():
    d = tempfile.mkdtemp(prefix="vmig-test-")
    _tmpdirs.append(d)
    return d


def cleanup_all():
    for p in _procs:
        if p.poll() is None:
            p.kill()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
    _procs.clear()
    for d in _tmpdirs:
        subprocess.run(["rm", "-rf", d])
    _tmpdirs.clear()


def run_vmig(*args, timeout=60, env=None):
    """Run vmig to completion; returns CompletedProcess (text)."""
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([VMIG, *args], capture_output=True, text=True, timeout=timeout * SLOWDOWN,
                          env=e)


class Control:
    """A control-socket connection (one JSON request/reply per line)."""

    def __init__(self, path, timeout=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def read_reply(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("control socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, command, arguments=None, check=True):
        req = {"execute": command}
        if arguments is not None:
            req["arguments"] = arguments
        self.send_raw((json.dumps(req) + "\n").encode())
        rep = self.read_reply()
        if check and "error" in rep:
            raise RuntimeError(f"{command}: {rep['error']}")
        return rep.get("return", rep) if check else rep

    def close(self):
        self.sock.close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class VM:
    """A vmig process: a booted guest, or with incoming=URI a destination
    waiting for a migration (its control socket appears once it runs)."""

    def __init__(self, mem="128M", vcpus=1, guest_args="ws=16M", boot=None, extra=(),
                 guest=None, incoming=None, prefix=()):
        self.dir = tmpdir()
        self.control_path = os.path.join(self.dir, "control.sock")
        self.serial_path = os.path.join(self.dir, "serial.log")
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        if incoming:
            cmd = [VMIG, "run", "--incoming", incoming, "--serial", self.serial_path,
                   "--control", self.control_path, *extra]
        else:
            cmd = [VMIG, "run", "--mem", mem, "--vcpus", str(vcpus), "--guest", guest or GUEST,
                   "--guest-args", guest_args, "--serial", self.serial_path,
                   "--control", self.control_path, *extra]
        if boot:
            cmd += ["--boot", boot]
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen([*prefix, *cmd], stdout=subprocess.DEVNULL,
                                     stderr=self.stderr)
        _procs.append(self.proc)
        self.ctl = None
        if not incoming:
            self._connect()
        else:
            self._wait_listening()

    def _wait_listening(self, timeout=20):
        deadline = time.monotonic() + timeout * SLOWDOWN
        while time.monotonic() < deadline:
            if "waiting for an incoming migration" in self.stderr_text():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"destination exited early: {self.stderr_text()}")
            time.sleep(0.05)
        raise AssertionError("destination never started listening")

    def connect(self, timeout=30):
        """For an incoming VM: wait until it runs and serves its socket."""
        self._connect(timeout)

    def migrate(self, uri, *opts, timeout=120):
        """vmig migrate --json; returns (exit status, parsed JSON or None, stderr)."""
        p = run_vmig("migrate", "--control", self.control_path, uri, "--json", *opts,
                     timeout=timeout)
        try:
            j = json.loads(p.stdout)
        except ValueError:
            j = None
        return p.returncode, j, p.stderr

    def _connect(self, timeout=20):
        deadline = time.monotonic() + timeout * SLOWDOWN
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"vmig exited early ({self.proc.returncode}): {self.stderr_text()}")
            if os.path.exists(self.control_path):
                try:
                    self.ctl = Control(self.control_path)
                    return
                except OSError:
                    pass
            time.sleep(0.05)
        raise AssertionError("control socket never appeared")

    def call(self, command, arguments=None, check=True):
        return self.ctl.call(command, arguments, check)

    def serial(self):
        with open(self.serial_path, errors="replace") as f:
            return f.read()

    def stderr_text(self):
        with open(self.stderr_path, errors="replace") as f:
            return f.read()

    def guest(self):
        return self.call("query-guest")

    def wait_guest(self, pred, timeout=30, what="guest condition"):
        deadline = time.monotonic() + timeout * SLOWDOWN
        g = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"VM exited ({self.proc.returncode}) waiting for {what}: "
                                     f"{self.stderr_text()}\nserial:\n{self.serial()[-2000:]}")
            g = self.guest()
            if pred(g):
                return g
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; last query-guest: {g}\n"
                             f"serial:\n{self.serial()[-2000:]}")

    def wait_progress(self, min_t=2, timeout=30):
        return self.wait_guest(lambda g: g["progress_seen"] and g["t_s"] >= min_t, timeout,
                               f"guest progress t>={min_t}s")

    def quit(self, timeout=20):
        try:
            self.call("quit")
        except (OSError, ConnectionError):
            pass
        return self.wait_exit(timeout)

    def wait_exit(self, timeout=30):
        try:
            return self.proc.wait(timeout=timeout * SLOWDOWN)
        except subprocess.TimeoutExpired:
            raise AssertionError("vmig did not exit in time")


def progress_lines(text):
    return re.findall(r"guestload: t=(\d+)s passes=(\d+) dirty=([\d.]+)MiB/s errors=(\d+)", text)
