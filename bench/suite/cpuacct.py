"""CPU seconds of a VMM process, split into its vCPU threads (the guest's
own work) and everything else (the migration's cost), from
/proc/PID/stat and /proc/PID/task/*/stat.

The process total comes from /proc/PID/stat, which keeps the time of
threads that have already exited (a migration's sender and channel
threads end with it). The vCPU share is summed per thread whose name
says it is a vCPU, and a Tracker remembers each one's last figure: vmig's
source ends its vCPU threads at the handover and lingers, so the last
sample may have none left, and their time must not become the
migration's. What a vCPU thread spent between its last sample and its
exit (one polling interval at most) counts as the migration's."""
import dataclasses
import os
import re

# vmig names its vCPU threads "vcpu0", "vcpu1", ... (src/vmm/vcpu.c);
# QEMU "CPU 0/KVM" (or "CPU 0/TCG" under TCG).
VCPU_THREAD = re.compile(r"^(vcpu\d+|CPU \d+/\w+)$")
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclasses.dataclass(frozen=True)
class CpuSample:
    total_s: float
    vcpu_by_tid: dict  # vCPU thread id -> its CPU seconds

    @property
    def vcpu_s(self):
        return sum(self.vcpu_by_tid.values())


@dataclasses.dataclass(frozen=True)
class CpuDelta:
    vcpu_s: float
    other_s: float

    def as_dict(self):
        return {"vcpu_s": round(self.vcpu_s, 3), "other_s": round(self.other_s, 3)}


def parse_stat(text):
    """(name, CPU seconds: utime + stime) from one stat line; the name may
    hold spaces and parentheses, so the fields start after the last ')'."""
    open_, close = text.index("("), text.rindex(")")
    rest = text[close + 2:].split()
    # rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    return text[open_ + 1:close], (int(rest[11]) + int(rest[12])) / TICKS_PER_S


def _read(path):
    with open(path) as f:
        return f.read()


def sample(pid, proc="/proc"):
    """The process's CPU now, or None if it has gone."""
    try:
        _, total = parse_stat(_read(f"{proc}/{pid}/stat"))
        tids = os.listdir(f"{proc}/{pid}/task")
    except (FileNotFoundError, ProcessLookupError):
        return None
    vcpu = {}
    for tid in tids:
        try:
            name, cpu = parse_stat(_read(f"{proc}/{pid}/task/{tid}/stat"))
        except (FileNotFoundError, ProcessLookupError):
            continue  # a thread that ended meanwhile: counted in the total
        if VCPU_THREAD.match(name):
            vcpu[tid] = cpu
    return CpuSample(total, vcpu)


def delta(start, end):
    """What was spent between two samples (None if either is missing); a
    vCPU thread of `end` that `start` did not have counts from zero."""
    if start is None or end is None:
        return None
    vcpu = sum(max(0.0, cpu - start.vcpu_by_tid.get(tid, 0.0))
               for tid, cpu in end.vcpu_by_tid.items())
    return CpuDelta(vcpu, max(0.0, end.total_s - start.total_s - vcpu))


class Tracker:
    """Samples one process over a migration; keeps the last good sample, so
    a source that exits right after the handover still has its figures
    (at most one polling interval old)."""

    def __init__(self, pid):
        self.pid = pid
        self.start = self.last = sample(pid)

    def poll(self):
        s = sample(self.pid)
        if s is not None:
            # vCPU threads gone since the last sample keep their last figure
            seen = dict(self.last.vcpu_by_tid) if self.last else {}
            seen.update(s.vcpu_by_tid)
            self.last = CpuSample(s.total_s, seen)
        return s

    def result(self):
        d = delta(self.start, self.last)
        return d.as_dict() if d else None
