"""What one run needs from its scenario and host: command prefixes (the
host's namespace, and for a 'tight' host a memory cgroup per VMM), the
guest's arguments and modules, a port, and the record fields every run
shares."""
import dataclasses
import os
import random
import socket
import time

from . import cgroups, content


@dataclasses.dataclass
class RunContext:
    scenario: object
    pair: object                 # hosts.LoopbackPair or hosts.NetnsPair
    build: str                   # meson build with vmig and guestload.elf
    tmpdir: str
    accel: str = "kvm"           # QEMU's accelerator ("tcg" only to develop the harness)
    modules: list = dataclasses.field(default_factory=list)
    groups: list = dataclasses.field(default_factory=list)
    tls_creds: str = ""          # a --tls-creds directory (QEMU's layout) for a TLS cell
    on_sample: object = None     # called with each timeline sample (an outage's trigger)
    write_fault_ns: int = 0      # the test-double guest's cost of a first write (--guest double)

    @property
    def guest(self):
        return os.path.join(self.build, "guestload.elf")

    @property
    def vmig(self):
        return os.path.join(self.build, "vmig")

    @property
    def guest_args(self):
        return content.guest_args(self.scenario.guest_args, self.modules)

    def command(self, host, cmd):
        """cmd run on host "a" or "b", inside a fresh memory cgroup when tight.
        The group is joined before the host's prefix runs, so the prefix
        may mount what it likes (`ip netns exec` mounts a sysfs over /sys,
        where the cgroup tree is gone); the membership carries into cmd."""
        cmd = [*self.pair.prefix(host), *cmd]
        if self.scenario.host == "tight":
            g = cgroups.MemoryGroup(self.scenario.tight_limit_bytes)
            self.groups.append(g)
            cmd = g.wrap(cmd)
        return cmd

    def port(self):
        """A port for the destination: a free one on loopback; in a fresh
        namespace any port is free."""
        if self.pair.dst_host != "127.0.0.1":
            return random.randint(20000, 60000)
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        return p

    def oom_kills(self):
        n = [g.oom_kills() for g in self.groups]
        return sum(x for x in n if x) if self.groups else None

    def release(self):
        for g in self.groups:
            g.destroy()
        self.groups = []

    def record(self, setting, round_no):
        """The fields every run's record starts with."""
        sc = self.scenario
        return {"type": "run", "scenario": sc.name, "system": setting.system,
                "setting": setting.name, "round": round_no,
                "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "link": sc.link, "host": sc.host, "mem": sc.mem, "vcpus": sc.vcpus,
                "guest_args": self.guest_args, "content": sc.content or None,
                **({"family": sc.family, "fault": sc.fault, "tls": sc.tls} if sc.family else {})}
