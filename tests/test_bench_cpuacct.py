"""CPU accounting of a VMM process (bench/suite/cpuacct.py): vCPU threads
against everything else, on a real process with named threads, including
a thread that exits before the last sample."""
import os
import subprocess
import sys

import pytest

import bench_support
from suite import cpuacct

HELPER = os.path.join(bench_support.FIXTURES, "named_threads_helper.py")


def test_stat_lines_with_spaces_and_parentheses_in_the_name():
    line = "4242 (CPU 0/KVM) S 1 2 3 4 5 6 7 8 9 10 {u} {s} 0 0 20 0 1 0 100 0 0"
    name, cpu = cpuacct.parse_stat(line.format(u=300, s=100))
    assert name == "CPU 0/KVM" and cpu == pytest.approx(400 / cpuacct.TICKS_PER_S)
    name, _ = cpuacct.parse_stat("7 (a) b) (c) R 1 2 3 4 5 6 7 8 9 10 0 0 0 0 20 0 1 0")
    assert name == "a) b) (c"


@pytest.mark.parametrize("name, vcpu", [("vcpu0", True), ("vcpu12", True), ("CPU 0/KVM", True),
                                        ("CPU 3/TCG", True), ("mig-src", False),
                                        ("qemu-system-x86", False), ("vcpu", False)])
def test_which_threads_are_vcpus(name, vcpu):
    assert bool(cpuacct.VCPU_THREAD.match(name)) is vcpu


def tracked_helper(vcpu_s, other_s, *steps):
    """Runs the helper under a Tracker: after each (line to send, line
    expected back) of steps it polls; returns the Tracker's result."""
    p = subprocess.Popen([sys.executable, HELPER, str(vcpu_s), str(other_s),
                          *(["then-exit"] if len(steps) > 1 else [])],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        tracker = cpuacct.Tracker(p.pid)
        for send, expect in steps:
            p.stdin.write(send + "\n")
            p.stdin.flush()
            assert p.stdout.readline().strip() == expect
            tracker.poll()
        return tracker.result()
    finally:
        p.kill()
        p.wait()


def assert_split(got, vcpu_s, other_s):
    # ticks are 10 ms; the interpreter's own start-up lands in "other"
    assert got["vcpu_s"] == pytest.approx(vcpu_s, abs=0.05)
    assert other_s - 0.05 <= got["other_s"] <= other_s + 0.3


def test_split_on_a_process_with_a_vcpu_thread_and_a_thread_that_exits():
    assert_split(tracked_helper(0.6, 0.4, ("go", "done")), 0.6, 0.4)


def test_a_vcpu_thread_that_exits_before_the_process_stays_a_vcpu():
    """vmig's source VMM ends its vCPU threads at the handover and lingers:
    the last sample has no vCPU thread left, and their time must not turn
    into the migration's."""
    got = tracked_helper(0.6, 0.2, ("go", "burnt"), ("exit", "done"))
    assert_split(got, 0.6, 0.2)


def test_a_process_that_has_gone_keeps_its_last_sample():
    p = subprocess.Popen(["sleep", "0.3"])
    tracker = cpuacct.Tracker(p.pid)
    p.wait()
    assert tracker.poll() is None
    assert tracker.result() == {"vcpu_s": 0.0, "other_s": 0.0}
