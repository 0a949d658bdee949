"""bench/content/make_content.py: same machine, same bytes; bad input is a
message and a non-zero exit. Needs no KVM; uses the machine's own files."""
import hashlib
import os
import subprocess

import pytest

import vmlib

pytestmark = pytest.mark.no_kvm

SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "bench", "content", "make_content.py")


def _make(*args):
    return subprocess.run(["/usr/bin/python3", SCRIPT, *args], capture_output=True, text=True,
                          timeout=120)


def _digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_text_set_is_deterministic_and_exact():
    if not os.path.isdir("/usr/share/doc"):
        pytest.skip("no /usr/share/doc on this machine")
    a, b = vmlib.tmpdir(), vmlib.tmpdir()
    for d in (a, b):
        p = _make("text", "256K", d, "--part", "128K")
        assert p.returncode == 0, p.stderr
    parts = [f"text.{i}.img" for i in range(2)]
    for name in parts:
        assert os.path.getsize(os.path.join(a, name)) == 128 << 10
        assert _digest(os.path.join(a, name)) == _digest(os.path.join(b, name))
    manifest = open(os.path.join(a, "text.manifest")).read().split("\n")
    assert manifest[0].startswith("0x0 ") and "/usr/share/" in manifest[0], manifest[:3]
    # another seed, other bytes
    c = vmlib.tmpdir()
    assert _make("text", "256K", c, "--part", "128K", "--seed", "2").returncode == 0
    assert _digest(os.path.join(c, parts[0])) != _digest(os.path.join(a, parts[0]))


def test_bad_input():
    p = _make("text", "lots", vmlib.tmpdir())
    assert p.returncode == 2 and "bad size 'lots'" in p.stderr, p.stderr
    p = _make("movies", "1M", vmlib.tmpdir())
    assert p.returncode == 2 and "invalid choice" in p.stderr, p.stderr
    p = _make("text", "64K", "/proc/no/such/dir")
    assert p.returncode == 1 and p.stderr.startswith("make_content: "), p.stderr
    assert "Traceback" not in p.stderr, p.stderr
