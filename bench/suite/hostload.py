"""Host conditions that are load rather than limits: CPU burners for a
'busy' host, and touching host memory once before the runs so that no run
pays for the host's first touch of its pages."""
import mmap
import os
import subprocess
import time

BURNER = ["sh", "-c", "while :; do :; done"]


class Burners:
    """One CPU-burning process per core on each host (its command prefix)."""

    def __init__(self, prefixes, per_host=None):
        n = per_host or os.cpu_count()
        self.procs = [subprocess.Popen([*p, *BURNER]) for p in prefixes for _ in range(n)]

    def stop(self):
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()
        self.procs = []


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
