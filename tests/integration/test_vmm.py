"""The VMM on real KVM: both boot paths, progress, stop/cont, the guest's
page check, exit codes."""
import time

import vmlib
from vmlib import VM, progress_lines


def test_boot_direct_progress():
    vm = VM(mem="128M", guest_args="ws=16M fill=mixed")
    g = vm.wait_progress(min_t=2)
    assert g["errors"] == 0, g
    assert g["passes"] > 0, g
    assert g["heartbeats"] > 100, g
    st = vm.call("query-status")
    assert st["status"] == "running" and st["boot"] == "direct", st
    assert st["mem_bytes"] == 128 << 20 and st["vcpus"] == 1, st
    assert vm.quit() == 0
    assert "guestload: layout" in vm.serial()


def test_boot_multiboot_progress():
    vm = VM(mem="128M", guest_args="ws=16M fill=text", boot="multiboot")
    g = vm.wait_progress(min_t=2, timeout=60)
    assert g["errors"] == 0, g
    assert vm.call("query-status")["boot"] == "multiboot"
    assert vm.quit() == 0


def test_two_vcpus_direct():
    vm = VM(mem="256M", vcpus=2, guest_args="ws=32M")
    g = vm.wait_progress(min_t=2)
    assert g["errors"] == 0, g
    assert "vcpus=2" in vm.serial()
    assert vm.quit() == 0


def test_stop_cont():
    vm = VM(mem="128M", guest_args="ws=16M")
    vm.wait_progress(min_t=1)
    vm.call("stop")
    assert vm.call("query-status")["status"] == "paused"
    hb1 = vm.guest()["heartbeats"]
    time.sleep(1.5)
    g = vm.guest()
    assert g["heartbeats"] == hb1, "guest ran while paused"
    assert g["heartbeat_last_ms_ago"] > 1000, g
    vm.call("cont")
    assert vm.call("query-status")["status"] == "running"
    t0 = g["t_s"]
    g = vm.wait_guest(lambda x: x["t_s"] >= t0 + 2, timeout=20, what="progress after cont")
    assert g["errors"] == 0, g
    assert g["heartbeats"] > hb1
    # the pause shows as the largest heartbeat gap
    assert g["heartbeat_max_gap_ms"] >= 1400, g
    assert vm.quit() == 0


def test_corrupted_page_is_detected():
    """Proves the guest's page check can fail: corrupt one working-set page
    from the VMM side and the guest must count it."""
    vm = VM(mem="128M", guest_args="ws=16M")
    g = vm.wait_guest(lambda x: x["progress_seen"] and x["ws_pages"] > 0, what="layout")
    assert g["errors"] == 0
    vm.call("x-corrupt-guest-page", {"gpa": g["ws_base"] + 100 * 4096})
    g = vm.wait_guest(lambda x: x["errors"] >= 1, timeout=15, what="guest to report the corruption")
    assert "guestload: ERROR page=" in vm.serial()
    vm.quit()


def test_guest_time_limit_exit_code():
    d = vmlib.tmpdir()
    serial = d + "/serial.log"
    p = vmlib.run_vmig("run", "--mem", "64M", "--guest", vmlib.GUEST, "--guest-args",
                       "ws=8M time=2", "--serial", serial, timeout=60)
    assert p.returncode == 0, (p.returncode, p.stderr)
    text = open(serial).read()
    assert "guestload: done t=2s" in text, text
    assert "guest exited with code 0" in p.stderr, p.stderr
    lines = progress_lines(text)
    assert len(lines) >= 1 and all(e == "0" for *_, e in lines), text


def test_serial_stdio_demo_like():
    p = vmlib.run_vmig("run", "--mem", "64M", "--guest", vmlib.GUEST, "--guest-args",
                       "ws=4M time=1 fill=zero", timeout=60)
    assert p.returncode == 0, p.stderr
    assert "guestload: done" in p.stdout, p.stdout
