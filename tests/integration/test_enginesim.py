"""bench/enginesim: vmig's engine migrating a TEST DOUBLE guest between two
processes over loopback (no KVM, no netns), as the benchmark drives it:
the destination says when it listens, both sides hash the RAM, the source
ends with vmig migrate --json's object, the serial file has guestload's
progress lines and the samples file query-migrate's JSON lines."""
import json
import os
import subprocess

import pytest

import bench_support  # noqa: F401  (puts bench/ on the path)
import vmlib
from suite import guestlog

pytestmark = pytest.mark.no_kvm

# What enginesim dest prints once it listens (the benchmark waits for it).
DEST_LISTENING = "enginesim: waiting for an incoming migration"
RAM_LINE = "enginesim: ram "
# A 64 MiB guest whose 16 MiB hot set is written as fast as a thread can;
# warmed up past its first progress line.
GUEST = ["--mem", "64M", "--vcpus", "1", "--guest-args", "fill=mixed ws=16M rate=0 write=word",
         "--warmup-s", "1.2"]


def _exe():
    return os.path.join(vmlib.BUILD, "enginesim")


def _ram_hash(stdout):
    lines = [ln[len(RAM_LINE):] for ln in stdout.splitlines() if ln.startswith(RAM_LINE)]
    assert len(lines) == 1, stdout
    return lines[0]


def _start_dest(uri):
    dest = subprocess.Popen([_exe(), "dest", "--incoming", uri], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    vmlib._procs.append(dest)  # killed after the test whatever happens
    first = dest.stdout.readline()
    assert first.strip() == DEST_LISTENING, (first, dest.stderr.read() if dest.poll() else "")
    return dest


def _migrate(*migrate_args, guest=GUEST):
    """Runs a destination and a source (guest: its options before '--')
    with these vmig migrate options; returns both sides' results and the
    source's files."""
    tmp = vmlib.tmpdir()
    serial, samples = os.path.join(tmp, "serial.log"), os.path.join(tmp, "samples.jsonl")
    uri = f"tcp:127.0.0.1:{vmlib.free_port()}"
    dest = _start_dest(uri)
    src = subprocess.run([_exe(), "source", *guest, "--serial", serial, "--samples", samples,
                          "--", *migrate_args, uri], capture_output=True, text=True,
                         timeout=30 * vmlib.SLOWDOWN)
    dest_out, dest_err = dest.communicate(timeout=15 * vmlib.SLOWDOWN)
    with open(serial) as f:
        serial_text = f.read()
    with open(samples) as f:
        sample_lines = f.read().splitlines()
    return src, (dest.returncode, dest_out, dest_err), serial_text, sample_lines


def _check(src, dest, serial_text, sample_lines):
    dest_rc, dest_out, dest_err = dest
    assert src.returncode == 0, src.stderr
    assert dest_rc == 0, dest_err
    final = json.loads(src.stdout.splitlines()[-1])
    assert final["status"] == "completed", final
    assert final["verified"] is True
    assert final["ram_hash"] == _ram_hash(src.stdout) == _ram_hash(dest_out)
    assert guestlog.PROGRESS.search(serial_text), serial_text
    # the destination ran the guest on and its checks found every page right
    dest_progress = guestlog.PROGRESS.findall(dest_out)
    assert dest_progress and all(p[3] == "0" for p in dest_progress), dest_out
    assert sample_lines
    assert all("status" in json.loads(line) for line in sample_lines)
    return final


def test_policy_auto_migrates_and_both_sides_hash_the_same_ram():
    final = _check(*_migrate("--policy", "auto"))
    assert final["policy"]["strategy"] == "auto"


def test_fixed_zstd_on_two_channels_migrates_and_both_sides_hash_the_same_ram():
    final = _check(*_migrate("--policy", "fixed", "--codec", "zstd", "--channels", "2"))
    assert final["codec"] == "zstd"
    assert len(final["channels"]) == 2


def test_a_bad_flag_exits_2_with_a_message():
    p = subprocess.run([_exe(), "source", *GUEST, "--", "--channels", "99", "tcp:127.0.0.1:1"],
                       capture_output=True, text=True, timeout=10)
    assert p.returncode == 2
    assert "invalid --channels '99'" in p.stderr


def _module_file(nbytes):
    """A module of real-looking content: text and random bytes, its size
    not a whole number of pages (the last page's tail must arrive zero)."""
    path = os.path.join(vmlib.tmpdir(), "content.img")
    with open(path, "wb") as f:
        f.write((b"the quick brown fox jumps over the lazy dog\n" * (nbytes // 88))
                + os.urandom(nbytes - 44 * (nbytes // 88)))
    return path


def test_module_content_arrives_intact_by_the_destinations_check():
    guest = ["--mem", "64M", "--guest-args", "fill=modules ws=8M rate=0 write=word",
             "--module", _module_file(3 * 1048576 + 123), "--warmup-s", "1.2"]
    src, dest, serial, samples = _migrate("--policy", "auto", guest=guest)
    _check(src, dest, serial, samples)
    assert "modules pages=769 intact" in dest[2], dest[2]


def test_fill_modules_without_a_module_exits_2_with_a_message():
    p = subprocess.run([_exe(), "source", "--mem", "64M", "--guest-args", "fill=modules", "--",
                        "tcp:127.0.0.1:1"], capture_output=True, text=True, timeout=10)
    assert p.returncode == 2
    assert "fill=modules needs --module FILE" in p.stderr


def test_a_missing_module_file_is_named_and_nothing_migrates():
    p = subprocess.run([_exe(), "source", *GUEST, "--module", "/nonexistent/c.img", "--",
                        "tcp:127.0.0.1:1"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "cannot open module '/nonexistent/c.img'" in p.stderr
    assert not p.stdout.strip()


def test_modules_larger_than_ram_are_refused_with_their_size():
    path = os.path.join(vmlib.tmpdir(), "big.img")
    with open(path, "wb") as f:
        f.truncate(80 << 20)
    p = subprocess.run([_exe(), "source", *GUEST, "--module", path, "--", "tcp:127.0.0.1:1"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "the modules take 80 MiB" in p.stderr


def _peak_rss_mib(module_path):
    """The source's peak resident memory when it fills a 64 MiB guest with
    this module and fails to connect (nothing to migrate to)."""
    p = subprocess.Popen([_exe(), "source", "--mem", "64M", "--vcpus", "1", "--guest-args",
                          "fill=modules ws=8M rate=0 write=word", "--module", module_path,
                          "--warmup-s", "0", "--", "tcp:127.0.0.1:1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    vmlib._procs.append(p)
    _, status, usage = os.wait4(p.pid, 0)  # this child's own rusage
    p.returncode = os.waitstatus_to_exitcode(status)
    assert p.returncode == 1  # connection refused, after the fill
    return usage.ru_maxrss / 1024


def test_module_files_are_read_straight_into_guest_ram_not_buffered_first():
    # A module read whole into a buffer before it is copied costs its size
    # twice: 61 MiB more peak for a 48 MiB module (ASan build) before the
    # fix, 8 MiB after. Against a one-page module, so the guest's own RAM
    # and the runtime cancel out.
    small, big = (os.path.join(vmlib.tmpdir(), n) for n in ("page.img", "big.img"))
    with open(small, "wb") as f:
        f.write(os.urandom(4096))
    with open(big, "wb") as f:
        f.write(os.urandom(1 << 20) * 48)
    extra = _peak_rss_mib(big) - _peak_rss_mib(small)
    assert extra < 24, f"a 48 MiB module raised the peak by {extra:.0f} MiB"
