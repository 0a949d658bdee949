"""`vmig migrate` reading what a VMM answers, against a TEST DOUBLE VMM
(a UNIX socket speaking docs/control.md's protocol): no KVM needed."""
import json
import os
import socket
import subprocess
import threading

import pytest

import vmlib

pytestmark = pytest.mark.no_kvm


def fake_vmm(path, reply_for, seen=None):
    """Serves one connection: every request gets reply_for(name) as its
    `return`, with the request's id; each request is appended to `seen`."""
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        f = conn.makefile("rw")
        for line in f:
            req = json.loads(line)
            if seen is not None:
                seen.append(req)
            f.write(json.dumps({"return": reply_for(req.get("execute")), "id": req.get("id")}) + "\n")
            f.flush()
        conn.close()
        srv.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    return t


def test_plan_with_fields_missing_prints_question_marks_not_null(tmp_path, build_dir):
    """Found by reading after the control-client fuzz target: a plan reply
    without codec or reason reached printf("%s", NULL) (glibc printed
    "(null)"; undefined behaviour elsewhere)."""
    path = str(tmp_path / "vmm.sock")
    fake_vmm(path, lambda name: {"threads": 2, "channels": 2} if name == "query-migrate-plan" else {})
    p = subprocess.run([os.path.join(build_dir, "vmig"), "migrate", "--control", path, "--plan",
                        "tcp:127.0.0.1:1"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "(null)" not in p.stdout, p.stdout
    assert "codec             ?" in p.stdout and "why               ?" in p.stdout, p.stdout


def _plan_output(tmp_path, build_dir, plan):
    path = str(tmp_path / "vmm.sock")
    fake_vmm(path, lambda name: plan if name == "query-migrate-plan" else {})
    p = subprocess.run([os.path.join(build_dir, "vmig"), "migrate", "--control", path, "--plan",
                        "tcp:127.0.0.1:1"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_plan_names_a_raised_level(tmp_path, build_dir):
    out = _plan_output(tmp_path, build_dir, {"codec": "zstd", "level": 3, "reason": "r"})
    assert "codec             zstd level 3\n" in out, out


def test_plan_at_the_default_level_says_so(tmp_path, build_dir):
    out = _plan_output(tmp_path, build_dir, {"codec": "zstd", "level": 0, "reason": "r"})
    assert "codec             zstd (default level)\n" in out, out


def _plan_request(tmp_path, build_dir, *flags):
    """The arguments `vmig migrate --plan FLAGS` sends."""
    path, seen = str(tmp_path / "vmm.sock"), []
    fake_vmm(path, lambda name: {"codec": "none", "reason": "r"}, seen)
    p = subprocess.run([os.path.join(build_dir, "vmig"), "migrate", "--control", path, "--plan",
                        *flags, "tcp:127.0.0.1:1"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return [r for r in seen if r.get("execute") == "query-migrate-plan"][0]["arguments"]


def test_xbzrle_off_is_sent_so_auto_keeps_it_off(tmp_path, build_dir):
    """`--xbzrle off` was dropped on the way: under --policy auto the
    planner then turned XBZRLE on after pass 1 (bench fast cell)."""
    args = _plan_request(tmp_path, build_dir, "--xbzrle", "off")
    assert args.get("xbzrle") == "off" and "xbzrle_cache" not in args, args


def test_xbzrle_cache_alone_is_sent(tmp_path, build_dir):
    args = _plan_request(tmp_path, build_dir, "--xbzrle-cache", "128M")
    assert args.get("xbzrle_cache") == 128 << 20 and "xbzrle" not in args, args
