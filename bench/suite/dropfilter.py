"""Packet loss and link outages on a netns host pair without netem (this
kernel has none): the eBPF classifier bench/bpf/random_drop.c, compiled
with clang -target bpf for one drop probability, attached with
direct-action to the clsact ingress of both veth ends, so a lossy link
loses both ways (data and ACKs).

Why ingress: a packet is dropped as it arrives at the far end, after it
crossed the shaped link, as on a wire, and the sender's stack never
knows. Dropped on egress instead, the drop is reported back to the
sender (NET_XMIT_DROP): TCP counts the packet as not sent, sends it again
at once and enters CWR, which is local congestion, not loss; and a long
run of such drops ends the connection far sooner than a silent outage
would (measured: a TCP stream died in a 10 s egress "outage", and lived
through an ingress one).

Why eBPF and not classic BPF: a classic program (`tc filter ... bpf
bytecode`, with the random ancillary load) cannot drop by itself, it needs
`action drop` (act_gact), which this kernel lacks; an eBPF program with
direct-action returns TC_ACT_SHOT and needs only cls_bpf and clsact.

Why one packet per segment (gso_max_segs 1): TCP hands the device GSO
super-packets of up to 44 segments, and a veth passes them to its peer
whole, so a dropped super-packet would be a burst of 44 lost segments.
With gso_max_segs 1 TCP builds one segment per packet, as on a real wire,
and a drop is one lost packet."""
import os
import shutil
import subprocess

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAM = os.path.join(BENCH_DIR, "bpf", "random_drop.c")
SECTION = "classifier"
TWO_32 = 1 << 32
# Filter priorities on clsact ingress: the outage's is tried first, so a
# link that is both lossy and down drops everything.
OUTAGE_PRIO, LOSS_PRIO = 5, 10
HOOK = "ingress"
CLANG = os.environ.get("VMIG_BENCH_CLANG", "clang")


class DropFilterError(RuntimeError):
    """clang or tc refused; the message has what they said."""


def threshold(probability):
    """The program's DROP_THRESHOLD for a drop probability in 0..1."""
    if not 0.0 <= probability <= 1.0:
        raise ValueError(f"drop probability {probability} is not in 0..1")
    return round(probability * TWO_32)


def compile_command(probability, out_path):
    return [CLANG, "-O2", "-target", "bpf", "-Wall", "-Werror",
            f"-DDROP_THRESHOLD={threshold(probability)}ull", "-c", PROGRAM, "-o", out_path]


def build(probability, out_dir):
    """The compiled program for this probability (one object per probability)."""
    path = os.path.join(out_dir, f"random_drop-{threshold(probability)}.o")
    if os.path.exists(path):
        return path
    if not shutil.which(CLANG):
        raise DropFilterError(f"{CLANG} is not installed: the loss and outage faults need "
                              f"clang -target bpf (`make bench-deps`)")
    r = subprocess.run(compile_command(probability, path + ".tmp"), capture_output=True,
                       text=True, timeout=60)
    if r.returncode:
        raise DropFilterError(f"compiling {PROGRAM}: {r.stderr.strip()[-400:]}")
    os.replace(path + ".tmp", path)
    return path


def _run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if r.returncode:
        raise DropFilterError(f"{' '.join(cmd)}: {(r.stderr or r.stdout).strip()[-400:]}")
    return r.stdout


class LinkDrops:
    """The drop filters of one host pair (hosts.NetnsPair): a steady loss
    and an outage, each on both veth ends."""

    def __init__(self, pair, obj_dir):
        self.pair, self.obj_dir = pair, obj_dir
        self.ends = pair.veth_ends()    # [(command prefix, device), ...]
        self.clsact = False

    def one_packet_per_segment(self):
        for prefix, dev in self.ends:
            _run([*prefix, "ip", "link", "set", "dev", dev, "gso_max_segs", "1"])

    def _ensure_clsact(self):
        if not self.clsact:
            for prefix, dev in self.ends:
                _run([*prefix, "tc", "qdisc", "replace", "dev", dev, "clsact"])
            self.clsact = True

    def _attach(self, prio, probability):
        obj = build(probability, self.obj_dir)
        self._ensure_clsact()
        for prefix, dev in self.ends:
            _run([*prefix, "tc", "filter", "replace", "dev", dev, HOOK, "prio", str(prio),
                  "handle", "1", "bpf", "da", "obj", obj, "sec", SECTION])

    def _detach(self, prio):
        for prefix, dev in self.ends:
            _run([*prefix, "tc", "filter", "del", "dev", dev, HOOK, "prio", str(prio)])

    def set_loss(self, probability):
        """Drops each packet with this probability from now on (0: none)."""
        if probability > 0:
            self._attach(LOSS_PRIO, probability)
        elif self.clsact:
            for prefix, dev in self.ends:  # no loss filter attached is fine too
                subprocess.run([*prefix, "tc", "filter", "del", "dev", dev, HOOK, "prio",
                                str(LOSS_PRIO)], capture_output=True, timeout=30)

    def prepare_outage(self):
        """Compiles the outage's program ahead, so going down costs two tc calls."""
        build(1.0, self.obj_dir)

    def down(self):
        """Every packet dropped both ways; the veth stays up (see outage.py)."""
        self._attach(OUTAGE_PRIO, 1.0)

    def up(self):
        self._detach(OUTAGE_PRIO)

    def filters(self):
        """What tc shows on the first end's ingress (for an error message)."""
        prefix, dev = self.ends[0]
        return _run([*prefix, "tc", "filter", "show", "dev", dev, HOOK])
