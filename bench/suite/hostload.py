"""Host conditions that are load rather than limits: CPU burners for a
'busy' host, and touching host memory once before the runs so that no run
pays for the host's first touch of its pages."""
import bisect
import mmap
import os
import subprocess
import threading
import time

from . import cpuacct

BURNER = ["sh", "-c", "while :; do :; done"]
SAMPLE_EVERY_S = 0.1
BASELINE_S = 1.5  # the tenants' share before a migration: this long before it starts


class Burners:
    """One CPU-burning process per core on each host (its command prefix):
    the other tenants of a busy host. Their CPU seconds are sampled in the
    background, so a run can say what its migration took from them."""

    def __init__(self, prefixes, per_host=None):
        n = per_host or os.cpu_count()
        self.procs = [subprocess.Popen([*p, *BURNER]) for p in prefixes for _ in range(n)]
        self.samples = []  # (monotonic s, their CPU s), in time order
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def cpu_s(self):
        """Their CPU seconds so far (a burner gone counts 0)."""
        samples = (cpuacct.sample(p.pid) for p in self.procs)
        return sum(s.total_s for s in samples if s)

    def _sample(self):
        while not self._done.is_set():
            self.samples.append((time.monotonic(), self.cpu_s()))
            self._done.wait(SAMPLE_EVERY_S)

    def cpus_between(self, t_a, t_b):
        """The CPUs they got from t_a to t_b (monotonic), or None when the
        samples do not cover it."""
        return cpus_between(self.samples, t_a, t_b)

    def figures(self, t0, t1):
        """The tenants' CPUs before a migration from t0 to t1 and during
        it, and the share of theirs it took."""
        before = self.cpus_between(t0 - BASELINE_S, t0)
        during = self.cpus_between(t0, t1)
        lost = (1 - during / before) if before and during is not None else None
        return {"tenant_cpus_before": before, "tenant_cpus_during": during,
                "tenant_cpu_lost": lost}

    def stop(self):
        self._done.set()
        self._thread.join()
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()
        self.procs = []


def _cpu_at(samples, t):
    """Cumulative CPU seconds at t, linear between the samples around it."""
    i = bisect.bisect_left(samples, (t, float("-inf")))
    if i < len(samples) and samples[i][0] == t:
        return samples[i][1]
    if i == 0 or i == len(samples):
        return None
    (ta, ca), (tb, cb) = samples[i - 1], samples[i]
    return ca + (cb - ca) * (t - ta) / (tb - ta)


def cpus_between(samples, t_a, t_b):
    """CPUs used from t_a to t_b by what `samples` ((t, cumulative CPU s))
    followed; None when t_a..t_b is not inside them or is empty."""
    if t_b <= t_a:
        return None
    a, b = _cpu_at(samples, t_a), _cpu_at(samples, t_b)
    return None if a is None or b is None else (b - a) / (t_b - t_a)


def prewarm(nbytes):
    """Touches and frees nbytes of memory; returns the seconds it took. On
    nested hosts the first touch of a physical page since boot costs
    ~3.5 s/GiB and later reuse is cheap: without this, whichever system
    runs first pays for warming the host."""
    if nbytes <= 0:
        return 0.0
    t = time.monotonic()
    m = mmap.mmap(-1, nbytes)
    for off in range(0, nbytes, mmap.PAGESIZE):
        m[off] = 1
    m.close()
    return time.monotonic() - t


def available_bytes():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0
