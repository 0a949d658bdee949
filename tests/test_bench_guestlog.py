"""guestload's serial progress as the benchmark reads it
(bench/suite/guestlog.py): lines as they arrive, rates, slowdown."""
import pytest

import bench_support  # noqa: F401  (puts bench/ on the path)
from suite import guestlog


class FakeClock:
    """Test double of time.monotonic: the test sets the time."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def line(t, dirty, errors=0):
    return f"guestload: t={t}s passes={t * 10} dirty={dirty}MiB/s errors={errors}\n"


def test_lines_are_read_as_they_arrive_even_split_mid_line(tmp_path):
    p = tmp_path / "serial.log"
    clock = FakeClock()
    log = guestlog.GuestLog(str(p), clock)
    assert log.poll() == []  # no file yet
    p.write_text("guestload: tsc_khz=1\n" + line(1, 7000.0) + "guestload: t=2s pas")
    clock.t = 1.0
    assert [x["t_s"] for x in log.poll()] == [1]
    with open(p, "a") as f:
        f.write("ses=20 dirty=3500.5MiB/s errors=0\n")
    clock.t = 2.0
    (new,) = log.poll()
    assert new == {"host_t": 2.0, "t_s": 2, "passes": 20, "dirty_mibs": 3500.5, "errors": 0}


def test_rates_before_and_during_and_the_slowdown(tmp_path):
    p = tmp_path / "serial.log"
    clock = FakeClock()
    log = guestlog.GuestLog(str(p), clock)
    with open(p, "w") as f:
        for t, dirty in ((1, 7000), (2, 7000), (3, 3000), (4, 4000)):
            f.write(line(t, dirty))
            f.flush()
            clock.t = float(t)
            log.poll()
    before = guestlog.mean_rate(log.progress, 0, 2.5)
    during = guestlog.mean_rate(log.progress, 2.5, 10)
    assert (before, during) == (7000, 3500)
    assert guestlog.slowdown(before, during) == 0.5
    assert guestlog.slowdown(before, 8000) == 0.0
    assert guestlog.slowdown(None, during) is None


def test_errors_and_fatal_lines(tmp_path):
    p = tmp_path / "serial.log"
    p.write_text(line(1, 1.0, errors=0) + line(2, 1.0, errors=3))
    log = guestlog.GuestLog(str(p))
    assert log.last_errors() == 3 and log.fatal() is None
    p.write_text("guestload: FATAL exception 6 rip=0x6743 err=0x0\n")
    assert log.fatal() == "guestload: FATAL exception 6 rip=0x6743 err=0x0"
    assert log.last_errors() is None


def test_waiting_for_progress_says_why_it_gave_up(tmp_path):
    log = guestlog.GuestLog(str(tmp_path / "never.log"))
    with pytest.raises(RuntimeError, match="exited before its guest reached t=2s"):
        log.wait_for_t(2, 5, alive=lambda: False)
