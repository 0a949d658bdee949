"""The two hosts a migration runs between: network namespaces joined by a
veth shaped with tc tbf (tests/integration/netns.py), or plain loopback for
an unshaped link. Each host gives the command prefix that runs a process
on it and the address the destination listens on."""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import netns  # noqa: E402  (shared with the integration tests)


class LoopbackPair:
    """Both hosts are this one: no prefix, 127.0.0.1, no shaping."""
    dst_host = "127.0.0.1"

    def prefix(self, host):
        return []

    def destroy(self):
        pass


class NetnsPair:
    """Host a (source) and b (destination) as namespaces over a tc-shaped veth."""

    def __init__(self, rate):
        self.pair = netns.HostPair(rate=rate)
        self.dst_host = self.pair.ip_b

    def prefix(self, host):
        return self.pair.exec_prefix(host)

    def veth_ends(self):
        """[(command prefix, device)] of the veth's two ends, a's first."""
        return [(self.prefix("a"), self.pair.va), (self.prefix("b"), self.pair.vb)]

    def destroy(self):
        self.pair.destroy()


def make_pair(link):
    """The host pair for a scenario's link ("loopback" or a tc rate)."""
    if link == "loopback":
        return LoopbackPair()
    if os.geteuid() != 0:
        raise PermissionError(f"a '{link}' link needs network namespaces: run as root")
    return NetnsPair(link)
