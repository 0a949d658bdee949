"""Checks, before a fault cell's runs, that its fault is what it says, in
the spirit of linkcheck.py: a loss filter is measured with a real TCP
stream (in each direction, the packets the sending veth end put on the
link against those the receiving host's IP layer got), and an outage is
seen to stop a TCP connection and to let one through again once lifted. A check that fails
stops the cell: figures under a fault that was not there are worse than
none."""
import json
import math
import subprocess
import sys

from . import linkcheck

# Drops may stray this many standard deviations (binomial) from the
# expected count before the filter is called wrong.
TOLERANCE_SD = 4
# Packets the check's stream sends (about 150 MB, 1.2 s at 1 Gbit/s): at
# 0.1 % that is 100 drops expected, enough to tell 0.05 % or 0.2 % apart.
CHECK_PACKETS = 100000
MTU_BITS = 1500 * 8
OUTAGE_PORT = 47098
CONNECT_TIMEOUT_S = 1.0
LISTENER = ("import socket\n"
            "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            f"s.bind(('0.0.0.0', {OUTAGE_PORT})); s.listen(8); print('ready', flush=True)\n"
            "while True:\n"
            "    s.accept()[0].close()\n")
CONNECTOR = ("import socket,sys\n"
             "try:\n"
             f"    socket.create_connection((sys.argv[1], {OUTAGE_PORT}), "
             f"timeout={CONNECT_TIMEOUT_S}).close(); print('connected')\n"
             "except socket.timeout:\n"
             "    print('timeout')\n"
             "except OSError as e:\n"
             "    print('error', e.strerror)\n")


class FaultCheckError(RuntimeError):
    """The fault is not what the cell says; the message has the figures."""


def ip_in_receives(prefix):
    """IpInReceives of the host (its /proc/net/snmp): IP packets that
    reached its stack, i.e. those the ingress filter let through."""
    text = subprocess.run([*prefix, "cat", "/proc/net/snmp"], capture_output=True, text=True,
                          check=True, timeout=10).stdout
    ip = [line.split() for line in text.splitlines() if line.startswith("Ip:")]
    return int(ip[1][ip[0].index("InReceives")])


def tx_packets(prefix, dev):
    """Packets the device put on the link (after the shaper). A few are
    not IP (ARP, IPv6 neighbour discovery): they count as drops, a few in
    100000."""
    out = subprocess.run([*prefix, "ip", "-s", "-j", "link", "show", "dev", dev],
                         capture_output=True, text=True, check=True, timeout=10).stdout
    return int(json.loads(out)[0]["stats64"]["tx"]["packets"])


def counters(ends):
    """[(sent, received)] for a to b and b to a."""
    (pa, da), (pb, db) = ends
    return [(tx_packets(pa, da), ip_in_receives(pb)), (tx_packets(pb, db), ip_in_receives(pa))]


def judge(sent, passed, probability):
    """{"packets", "dropped", "rate", "ok"} for one direction: the drops
    within TOLERANCE_SD binomial deviations of sent x probability."""
    dropped = max(0, sent - passed)
    expect = sent * probability
    sd = math.sqrt(sent * probability * (1 - probability))
    ok = sent > 0 and abs(dropped - expect) <= TOLERANCE_SD * sd + 2
    return {"packets": sent, "dropped": dropped, "rate": round(dropped / sent, 5) if sent else None,
            "ok": ok}


def measure_loss(drops, probability, rate_bits_per_s):
    """Sends one TCP stream of CHECK_PACKETS full packets from a to b
    through the attached loss filter; returns the fault_check fields (both
    directions and the stream's rate). Raises FaultCheckError when a
    direction is off."""
    seconds = CHECK_PACKETS * MTU_BITS / rate_bits_per_s
    before = counters(drops.ends)
    got_bps = linkcheck.measure(drops.pair, seconds, rate_bits_per_s, timeout_s=120)
    after = counters(drops.ends)
    dirs = [judge(a[0] - b[0], a[1] - b[1], probability) for b, a in zip(before, after)]
    rec = {"expected_rate": probability, "a_to_b": dirs[0], "b_to_a": dirs[1],
           "stream_bps": got_bps, "ok": all(d["ok"] for d in dirs)}
    if not rec["ok"]:
        raise FaultCheckError(f"the loss filter drops {dirs[0]['rate']} (a to b, "
                              f"{dirs[0]['packets']} packets) and {dirs[1]['rate']} (b to a, "
                              f"{dirs[1]['packets']}) of packets, not {probability}: "
                              f"{drops.filters().strip()}")
    return rec


def connect_outcome(pair):
    """'connected', 'timeout' or 'error ...' for one TCP connect from a to b."""
    r = subprocess.run([*pair.prefix("a"), sys.executable, "-c", CONNECTOR, pair.dst_host],
                       capture_output=True, text=True, timeout=30)
    return r.stdout.strip() or f"error {r.stderr.strip()[-200:]}"


def check_outage(drops):
    """An outage must make a connect time out (packets vanish silently, no
    error comes back) and the link must carry one again once lifted."""
    pair = drops.pair
    srv = subprocess.Popen([*pair.prefix("b"), sys.executable, "-c", LISTENER],
                           stdout=subprocess.PIPE, text=True)
    try:
        if srv.stdout.readline().strip() != "ready":
            raise FaultCheckError("outage check: the listener did not start")
        drops.down()
        try:
            during = connect_outcome(pair)
        finally:
            drops.up()
        after = connect_outcome(pair)
    finally:
        srv.kill()
        srv.wait()
    rec = {"during": during, "after": after, "ok": during == "timeout" and after == "connected"}
    if not rec["ok"]:
        raise FaultCheckError(f"outage check: a connect during the outage gave '{during}' "
                              f"(want 'timeout'), after it '{after}' (want 'connected')")
    return rec
