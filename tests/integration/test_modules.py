"""Real memory content: boot modules (`vmig run --module`, QEMU's -initrd)
that guestload's fill=modules keeps as its static pages and checks.

The QEMU cases run guestload under TCG (no KVM needed) and skip, saying
so, where qemu-system-x86_64 is absent (scripts/install-deps.sh installs it
with VMIG_WITH_QEMU=1). The vmig cases need /dev/kvm."""
import os
import re
import shutil
import subprocess
import time

import pytest

import vmlib
from vmlib import VM, free_port

QEMU = shutil.which("qemu-system-x86_64")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _modules():
    """Two modules of real bytes: machine code and text, neither page sized."""
    d = vmlib.tmpdir()
    a, b = os.path.join(d, "code.bin"), os.path.join(d, "readme.txt")
    with open(vmlib.VMIG, "rb") as src, open(a, "wb") as f:
        f.write(src.read(300001))
    shutil.copyfile(os.path.join(ROOT, "README.md"), b)
    return [a, b]


def _pages(paths):
    return sum((os.path.getsize(p) + 4095) // 4096 for p in paths)


def _qemu(mods, args, timeout=120):
    """guestload under TCG; returns (guest exit code, serial text)."""
    if not QEMU:
        pytest.skip("qemu-system-x86_64 is not installed: the TCG module tests need it "
                    "(apt-get install qemu-system-x86, or VMIG_WITH_QEMU=1 make deps)")
    p = subprocess.run([QEMU, "-accel", "tcg", "-m", "64M", "-display", "none", "-serial",
                        "stdio", "-monitor", "none", "-no-reboot", "-device",
                        "isa-debug-exit,iobase=0x4e4,iosize=4", "-kernel", vmlib.GUEST,
                        "-initrd", ",".join(mods), "-append", args],
                       capture_output=True, text=True, timeout=timeout)
    # isa-debug-exit: QEMU exits with (code << 1) | 1
    assert p.returncode & 1, (p.returncode, p.stdout[-2000:], p.stderr[-2000:])
    return p.returncode >> 1, p.stdout


def _done(text):
    # the end-of-run check prints its line right before "done"
    m = re.search(r"guestload: modules pages=(\d+) bad=(\d+)\nguestload: done t=\d+s passes=\d+ "
                  r"errors=(\d+)", text)
    assert m, text[-2000:]
    return tuple(int(x) for x in m.groups())


@pytest.mark.no_kvm
def test_qemu_initrd_modules_stay_intact():
    mods = _modules()
    code, text = _qemu(mods, "fill=modules ws=2M time=2 tsckhz=2000000")
    assert code == 0, text[-2000:]
    for i, path in enumerate(mods):
        assert f"guestload: module {i} start=" in text and f"bytes={os.path.getsize(path)} " \
            f"name={path}" in text, text
    assert f"modules count=2 pages={_pages(mods)} hashed" in text, text
    assert _done(text) == (_pages(mods), 0, 0)


@pytest.mark.no_kvm
def test_qemu_corrupted_module_page_is_counted():
    """Proves the module check can fail: one page changed on purpose is
    one bad page, one error, exit code 1."""
    mods = _modules()
    code, text = _qemu(mods, "fill=modules ws=2M time=2 tsckhz=2000000 modcorrupt=3")
    assert code == 1, text[-2000:]
    assert "note: module page 3 corrupted on purpose" in text, text
    assert _done(text) == (_pages(mods), 1, 1)
    assert re.search(r"ERROR page=0x[0-9a-f]+ want_gen=0 got_gen=0 module changed", text), text


@pytest.mark.no_kvm
def test_qemu_fill_modules_without_modules_is_a_bad_argument():
    if not QEMU:
        pytest.skip("qemu-system-x86_64 is not installed")
    p = subprocess.run([QEMU, "-accel", "tcg", "-m", "64M", "-display", "none", "-serial",
                        "stdio", "-monitor", "none", "-no-reboot", "-device",
                        "isa-debug-exit,iobase=0x4e4,iosize=4", "-kernel", vmlib.GUEST,
                        "-append", "fill=modules time=1"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == (2 << 1) | 1, (p.returncode, p.stdout)
    assert "bad argument 'fill=modules' (the loader gave no modules" in p.stdout, p.stdout


@pytest.mark.no_kvm
def test_run_module_bad_files():
    """A missing or unreadable module, or a set larger than the VM, is a clear
    error before KVM is touched (so this runs without /dev/kvm)."""
    def run(*args):
        p = vmlib.run_vmig("run", "--guest", vmlib.GUEST, *args)
        assert p.returncode == 1, (args, p.returncode, p.stderr)
        assert "AddressSanitizer" not in p.stderr and "runtime error" not in p.stderr
        return p.stderr

    mods = _modules()
    err = run("--module", f"{mods[0]},/nonexistent/b.bin")
    assert "cannot open module '/nonexistent/b.bin': No such file or directory" in err, err
    err = run("--module", os.path.dirname(mods[0]))
    assert "is not a regular file" in err, err
    big = os.path.join(vmlib.tmpdir(), "big.bin")
    with open(big, "wb") as f:
        f.truncate(20 << 20)
    err = run("--mem", "16M", "--module", big)
    assert "the modules do not fit in guest RAM: they need 20 MiB" in err, err
    p = vmlib.run_vmig("run", "--guest", vmlib.GUEST, "--module", "a", "--module", "b")
    assert p.returncode == 2 and "--module given twice" in p.stderr, p.stderr
    p = vmlib.run_vmig("run", "--help")
    assert p.returncode == 0 and "--module FILE[,FILE...]" in p.stdout


def _vmig_modules_intact(boot):
    mods = _modules()
    d = vmlib.tmpdir()
    serial = os.path.join(d, "serial.log")
    args = ["run", "--mem", "128M", "--guest", vmlib.GUEST, "--module", ",".join(mods),
            "--guest-args", "fill=modules ws=8M time=3", "--serial", serial]
    if boot:
        args += ["--boot", boot]
    p = vmlib.run_vmig(*args, timeout=60)
    text = open(serial).read()
    assert p.returncode == 0, (p.returncode, p.stderr, text[-2000:])
    assert f"name={mods[1]}" in text, text
    assert _done(text) == (_pages(mods), 0, 0)


def test_run_two_modules_direct():
    _vmig_modules_intact(None)


def test_run_two_modules_multiboot():
    _vmig_modules_intact("multiboot")


def test_run_corrupted_module_page_is_detected():
    """x-corrupt-guest-page on a module page: the sweep counts it."""
    mods = _modules()
    vm = VM(mem="128M", guest_args="fill=modules ws=8M", extra=("--module", ",".join(mods)))
    g = vm.wait_progress(min_t=1)
    start = int(re.search(r"module 0 start=(0x[0-9a-f]+)", vm.serial()).group(1), 16)
    vm.call("x-corrupt-guest-page", {"gpa": start + 2 * 4096})
    g = vm.wait_guest(lambda x: x["errors"] >= 1, timeout=30, what="the sweep to find the page")
    assert g["errors"] == 1, g
    assert "module changed" in vm.serial()
    vm.quit()


def _wait_check_line(vm, before, timeout=20):
    """The 'modules pages=N bad=M' line the request produced: (N, M)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.findall(r"guestload: modules pages=(\d+) bad=(\d+)", vm.serial())
        if len(found) > before:
            return tuple(int(x) for x in found[before])
        time.sleep(0.2)
    raise AssertionError("no module check line after x-guest-check:\n" + vm.serial()[-2000:])


def test_check_on_request():
    """x-guest-check: guestload checks its module pages within a second."""
    mods = _modules()
    vm = VM(mem="128M", guest_args="fill=modules ws=8M", extra=("--module", ",".join(mods)))
    vm.wait_progress(min_t=1)
    vm.call("x-guest-check")
    assert _wait_check_line(vm, 0) == (_pages(mods), 0)
    vm.quit()


def test_migrated_modules_arrive_intact():
    """A guest carrying modules migrates; on the destination, on request
    and at the end of its time= run, every module page holds its bytes."""
    mods = _modules()
    src = VM(mem="256M", guest_args="fill=modules ws=16M rate=20 time=12",
             extra=("--module", ",".join(mods)))
    src.wait_progress(min_t=1)
    port = free_port()
    dst = VM(incoming=f"tcp:127.0.0.1:{port}")
    rc, j, err = src.migrate(f"tcp:127.0.0.1:{port}")
    assert rc == 0 and j["status"] == "completed" and j["verified"], (rc, j, err)
    assert src.wait_exit(20) == 0, src.stderr_text()
    dst.connect()
    before = len(re.findall(r"guestload: modules pages=", dst.serial()))
    dst.call("x-guest-check")
    assert _wait_check_line(dst, before) == (_pages(mods), 0)
    assert dst.wait_exit(60) == 0, (dst.stderr_text(), dst.serial()[-2000:])
    assert _done(dst.serial()) == (_pages(mods), 0, 0)
