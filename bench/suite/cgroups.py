"""Memory cgroups for the 'tight' host condition: each VMM in its own group
limited to guest RAM + a headroom (bench/suite/scenarios.py). Works with
cgroup v2 (one unified hierarchy: memory.max, memory.events) and v1 (a
memory controller hierarchy: memory.limit_in_bytes, memory.oom_control),
whichever the host mounts."""
import os
import uuid

CGROUP_ROOT = "/sys/fs/cgroup"


def detect(root=CGROUP_ROOT):
    """("v2", dir) or ("v1", dir) where a memory group can be made, or None."""
    if os.path.exists(os.path.join(root, "cgroup.controllers")):
        return "v2", root
    if os.path.isdir(os.path.join(root, "memory")):
        return "v1", os.path.join(root, "memory")
    if os.path.exists(os.path.join(root, "unified", "cgroup.controllers")):
        return "v2", os.path.join(root, "unified")
    return None


class MemoryGroup:
    """A memory cgroup with a hard limit; wrap() puts a command into it."""

    def __init__(self, limit_bytes, root=CGROUP_ROOT):
        found = detect(root)
        if not found:
            raise RuntimeError(f"no cgroup memory controller under {root}: cannot limit memory")
        self.version, base = found
        self.path = os.path.join(base, f"vmig-bench-{uuid.uuid4().hex[:8]}")
        if self.version == "v2":
            self._enable_memory_controller(base)
        os.mkdir(self.path)
        limit_file = "memory.max" if self.version == "v2" else "memory.limit_in_bytes"
        self._write(limit_file, str(limit_bytes))
        if self.version == "v2":
            self._write("memory.swap.max", "0", optional=True)
        else:
            self._write("memory.swappiness", "0", optional=True)

    @staticmethod
    def _enable_memory_controller(base):
        ctl = os.path.join(base, "cgroup.subtree_control")
        with open(ctl) as f:
            if "memory" in f.read().split():
                return
        with open(ctl, "w") as f:
            f.write("+memory")

    def _write(self, name, value, optional=False):
        try:
            with open(os.path.join(self.path, name), "w") as f:
                f.write(value)
        except OSError:
            if not optional:
                raise

    def wrap(self, cmd):
        """cmd run inside this group: the shell joins it, then execs cmd, so
        the PID (and the memory it allocates) is cmd's from the start."""
        return ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec "$@"', self.path, *cmd]

    def oom_kills(self):
        """How many processes the limit has killed, or None if not told."""
        name = "memory.events" if self.version == "v2" else "memory.oom_control"
        try:
            with open(os.path.join(self.path, name)) as f:
                for line in f:
                    k, _, v = line.partition(" ")
                    if k == "oom_kill":
                        return int(v)
        except OSError:
            pass
        return None

    def destroy(self):
        try:
            os.rmdir(self.path)
        except OSError:
            pass  # a process still inside: the runner killed it, the kernel frees it
