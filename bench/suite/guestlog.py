"""guestload's serial output: its once-a-second progress lines
("guestload: t=12s passes=340 dirty=812.3MiB/s errors=0", guest/README.md),
read as they arrive and stamped with the host's clock, so the guest's work
rate can be set beside the migration's timeline."""
import re
import time

PROGRESS = re.compile(r"guestload: t=(\d+)s passes=(\d+) dirty=([\d.]+)MiB/s errors=(\d+)")
ERRORS = re.compile(r"errors=(\d+)")
FATAL = re.compile(r"guestload: FATAL .*")


class GuestLog:
    """Follows one serial log file; lines() returns the new progress lines."""

    def __init__(self, path, clock=time.monotonic):
        self.path, self.clock = path, clock
        self.offset, self.partial = 0, ""
        self.progress = []   # dicts: host_t, t_s, passes, dirty_mibs, errors

    def poll(self):
        try:
            with open(self.path, errors="replace") as f:
                f.seek(self.offset)
                data = f.read()
                self.offset = f.tell()
        except FileNotFoundError:
            return []
        now = self.clock()
        text = self.partial + data
        lines = text.split("\n")
        self.partial = lines.pop()
        new = []
        for line in lines:
            m = PROGRESS.search(line)
            if m:
                new.append({"host_t": now, "t_s": int(m.group(1)), "passes": int(m.group(2)),
                            "dirty_mibs": float(m.group(3)), "errors": int(m.group(4))})
        self.progress += new
        return new

    def wait_for_t(self, seconds, timeout_s, alive=lambda: True):
        """Waits until the guest has run its workload `seconds` seconds."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.poll()
            if any(p["t_s"] >= seconds for p in self.progress):
                return
            if not alive():
                raise RuntimeError(f"the VMM exited before its guest reached t={seconds}s ({self.path})")
            time.sleep(0.1)
        raise RuntimeError(f"the guest never reached t={seconds}s in {timeout_s} s ({self.path})")

    def _text(self):
        try:
            with open(self.path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def last_errors(self):
        """The last errors= figure the guest printed, or None."""
        m = ERRORS.findall(self._text())
        return int(m[-1]) if m else None

    def fatal(self):
        """The guest's FATAL line (an exception ended it), or None."""
        m = FATAL.search(self._text())
        return m.group(0) if m else None


def mean_rate(progress, t0, t1):
    """Mean dirty MiB/s of the progress lines seen in [t0, t1) (host clock)."""
    sel = [p["dirty_mibs"] for p in progress if t0 <= p["host_t"] < t1]
    return sum(sel) / len(sel) if sel else None


def slowdown(before, during):
    """The share of the guest's work lost during migration (0 = none)."""
    if not before or during is None:
        return None
    return round(max(0.0, 1.0 - during / before), 3)
