"""A link outage in the middle of a migration: started by the migration's
own progress (the timeline's samples from vmig's query-migrate or QEMU's
query-migrate), not at a fixed time, and lifted `seconds` later.

"The middle" is the first sweep over guest RAM once `at` of it is sent:
vmig's pages sent of all pages while fewer than all are (its pass 1 may
be only a link probe), QEMU's 1 - ram.remaining / ram.total while
dirty-sync-count is 1 (each driver's sample() gives it as
first_pass_done). A first sweep that ended between two samples starts the
outage at once (recorded as late).

The outage drops every packet both ways (dropfilter.LinkDrops.down) and
leaves both veth ends up, rather than `ip link set down`. A real outage
between two hosts (a switch that reboots, a link that flaps two hops
away, a routing blackhole) is silent: each host's NIC stays up, its
packets vanish, and TCP learns nothing but the missing ACKs; it
retransmits with backoff and the connection lives on until an
application timeout gives up. Taking a veth end down instead tells the
local kernel at once: the route through it goes, sends fail with
"network unreachable", the peer sees no carrier; that is a NIC failure
on the host itself, which is rarer and easier to detect. So a stall
(no error, only silence) is what both systems must survive here."""
import threading
import time


def should_start(sample, at):
    """(start now, late) for a timeline sample: the migration is in its
    first sweep with at least `at` of it done, or already past it."""
    if sample.get("status") not in ("active", "reconnecting"):
        return False, False
    done = sample.get("first_pass_done")
    if done is not None:
        return done >= at, False
    p = sample.get("pass")
    return (True, True) if p is not None and p > 1 else (False, False)


class Outage:
    """One outage of a run. on_sample() is the timeline's hook; finish()
    lifts the outage if it is still on and returns the record's figures."""

    def __init__(self, drops, seconds, at, clock=time.monotonic):
        self.drops, self.seconds, self.at, self.clock = drops, seconds, at, clock
        self.state = "waiting"          # then "down", then "up"
        self.lock = threading.Lock()
        self.timer = None
        self.fig = {"seconds": seconds, "at": at, "late": None, "down_ms": None, "up_ms": None,
                    "wire_at_down": None, "wire_at_up": None, "first_pass_done": None,
                    "error": None}

    def on_sample(self, sample):
        with self.lock:
            if self.state == "waiting":
                start, late = should_start(sample, self.at)
                if start:
                    self._down(sample, late)
            elif self.state == "up" and self.fig["wire_at_up"] is None:
                self.fig["wire_at_up"] = sample.get("wire_bytes")

    def _down(self, sample, late):
        try:
            self.drops.down()
        except Exception as e:  # noqa: BLE001  the record says the outage never began
            self.state, self.fig["error"] = "failed", f"could not start the outage: {e}"
            return
        self.state, self.t_down = "down", self.clock()
        self.fig.update({"late": late, "down_ms": sample.get("t_ms"),
                         "wire_at_down": sample.get("wire_bytes"),
                         "first_pass_done": sample.get("first_pass_done")})
        self.timer = threading.Timer(self.seconds, self._up)
        self.timer.daemon = True
        self.timer.start()

    def _up(self):
        with self.lock:
            if self.state != "down":
                return
            try:
                self.drops.up()
            except Exception as e:  # noqa: BLE001
                self.fig["error"] = f"could not lift the outage: {e}"
            self.state = "up"
            self.fig["up_ms"] = self.fig["down_ms"] + int((self.clock() - self.t_down) * 1000)

    def finish(self, final_wire_bytes):
        """Lifts a still-running outage (the run ended inside it) and
        returns {seconds, at, happened, late, down_ms, up_ms, wire_at_down,
        wire_at_up, wire_after, ...}: wire_after is what crossed the link
        after the outage (final wire bytes less those at the first sample
        after it)."""
        if self.timer:
            self.timer.cancel()
        self._up()
        f = dict(self.fig, happened=self.state == "up")
        if f["wire_at_up"] is None and self.state == "up":
            f["wire_at_up"] = f["wire_at_down"]  # no sample came after it: none were sent
        f["wire_after"] = (final_wire_bytes - f["wire_at_up"]
                           if final_wire_bytes is not None and f["wire_at_up"] is not None
                           else None)
        return f
