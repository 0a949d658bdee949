"""JSON-lines clients for the two control sockets the suite talks to:
vmig's (docs/control.md) and QEMU's QMP (a greeting, capability
negotiation, and events between replies)."""
import json
import os
import socket
import time


class ControlError(RuntimeError):
    """A command answered with an error, or the socket went away."""


def wait_for_path(path, timeout_s, alive=lambda: True):
    """Waits for a socket file to appear; alive() false means its process died."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if os.path.exists(path):
            return
        if not alive():
            raise ControlError(f"the process that should create {path} has exited")
        time.sleep(0.05)
    raise ControlError(f"{path} did not appear within {timeout_s} s")


def wait_for_text(path, text, timeout_s, alive=lambda: True):
    """Waits until the file at path (a process's output) contains text;
    alive() false means the process died first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with open(path, errors="replace") as f:
                if text in f.read():
                    return
        except FileNotFoundError:
            pass
        if not alive():
            raise ControlError(f"the process writing {path} exited before it said '{text}'")
        time.sleep(0.05)
    raise ControlError(f"{path} did not say '{text}' within {timeout_s} s")


class LineClient:
    """One request, one reply, one JSON object per line."""

    def __init__(self, path, timeout_s=10):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout_s)
        self.sock.connect(path)
        self.buf = b""

    def read_object(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ControlError("the control socket closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def send(self, name, args=None):
        req = {"execute": name}
        if args:
            req["arguments"] = args
        self.sock.sendall((json.dumps(req) + "\n").encode())

    def call(self, name, args=None):
        self.send(name, args)
        return unwrap(name, self.read_object())

    def close(self):
        self.sock.close()


def unwrap(name, reply):
    if "error" in reply:
        e = reply["error"]
        raise ControlError(f"{name}: {e.get('desc', e) if isinstance(e, dict) else e}")
    return reply.get("return")


class QmpClient(LineClient):
    """QMP: reads the greeting, enters command mode, skips events."""

    def __init__(self, path, timeout_s=10):
        super().__init__(path, timeout_s)
        greeting = self.read_object()
        if "QMP" not in greeting:
            raise ControlError(f"{path}: not a QMP greeting: {greeting}")
        self.call("qmp_capabilities")

    def call(self, name, args=None):
        self.send(name, args)
        while True:
            r = self.read_object()
            if "event" not in r:
                return unwrap(name, r)


def connect(kind, path, timeout_s, alive=lambda: True):
    """A client of `kind` (LineClient or QmpClient) once path accepts."""
    wait_for_path(path, timeout_s, alive)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return kind(path)
        except (ConnectionRefusedError, FileNotFoundError):
            if time.monotonic() > deadline or not alive():
                raise ControlError(f"{path} refuses connections") from None
            time.sleep(0.05)
