"""Two test hosts on one machine: network namespaces joined by a veth pair,
optionally shaped with tc (rate, delay). Addresses live only inside the
namespaces."""
import subprocess
import uuid


def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


class HostPair:
    def __init__(self, rate=None):
        tag = uuid.uuid4().hex[:6]
        self.a, self.b = f"vmigA{tag}", f"vmigB{tag}"
        self.va, self.vb = f"va{tag}", f"vb{tag}"
        self.ip_a, self.ip_b = "10.77.0.1", "10.77.0.2"
        sh("ip", "netns", "add", self.a)
        sh("ip", "netns", "add", self.b)
        sh("ip", "link", "add", self.va, "type", "veth", "peer", "name", self.vb)
        sh("ip", "link", "set", self.va, "netns", self.a)
        sh("ip", "link", "set", self.vb, "netns", self.b)
        for ns, dev, ip in ((self.a, self.va, self.ip_a), (self.b, self.vb, self.ip_b)):
            sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev)
            sh("ip", "-n", ns, "link", "set", dev, "up")
            sh("ip", "-n", ns, "link", "set", "lo", "up")
        if rate:
            for ns, dev in ((self.a, self.va), (self.b, self.vb)):
                sh("ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf",
                   "rate", rate, "burst", "256kb", "latency", "50ms")

    def exec_prefix(self, host):
        # nsenter joins the network namespace alone. `ip netns exec` also
        # mounts a sysfs of its own over /sys, which hides /sys/fs/cgroup:
        # a VMM there could not see the cgroup limits it runs under, and
        # its host probe would plan with the whole machine's free memory.
        ns = self.a if host == "a" else self.b
        return ["nsenter", f"--net=/run/netns/{ns}"]

    def link(self, up):
        state = "up" if up else "down"
        sh("ip", "-n", self.a, "link", "set", self.va, state)

    def destroy(self):
        sh("ip", "netns", "del", self.a, check=False)
        sh("ip", "netns", "del", self.b, check=False)


def available():
    try:
        r = sh("ip", "netns", "add", "vmigprobe", check=False)
        sh("ip", "netns", "del", "vmigprobe", check=False)
        return r.returncode == 0
    except FileNotFoundError:
        return False
