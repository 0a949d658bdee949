"""A fault cell's fault: its name in a scenario file ("none", "loss-0.1"
for 0.1 % of packets dropped each way, "down-10" for a 10 s outage in the
middle of the migration), and setting it up on the cell's host pair with
the check that proves it (faultcheck.py) before the runs."""
import dataclasses
import os
import re

from . import dropfilter, faultcheck, outage

FAULT_RE = re.compile(r"^(?:none|loss-(\d+(?:\.\d+)?)|down-(\d+))$")
# Loss above this is no longer a lossy link but a broken one.
MAX_LOSS_PCT = 50.0
MAX_OUTAGE_S = 3600
# Where in the first pass an outage starts, unless the scenario says (fault_at).
DEFAULT_AT = 0.5


@dataclasses.dataclass(frozen=True)
class Fault:
    name: str
    loss_pct: float = 0.0
    outage_s: int = 0

    @property
    def kind(self):
        return "loss" if self.loss_pct else "outage" if self.outage_s else "none"

    def describe(self):
        return {"none": "no fault", "loss": f"{self.loss_pct:g} % packet loss each way",
                "outage": f"link down {self.outage_s} s mid-migration"}[self.kind]


def parse(name):
    """The Fault a name stands for; ValueError saying what is expected."""
    m = FAULT_RE.match(name)
    if not m:
        raise ValueError(f"'{name}' is not a fault: want 'none', 'loss-PCT' (e.g. loss-0.1) "
                         f"or 'down-SECONDS' (e.g. down-10)")
    if m.group(1) is not None:
        pct = float(m.group(1))
        if not 0 < pct <= MAX_LOSS_PCT:
            raise ValueError(f"'{name}': loss must be above 0 and at most {MAX_LOSS_PCT:g} %")
        return Fault(name, loss_pct=pct)
    if m.group(2) is not None:
        s = int(m.group(2))
        if not 0 < s <= MAX_OUTAGE_S:
            raise ValueError(f"'{name}': an outage lasts 1..{MAX_OUTAGE_S} s")
        return Fault(name, outage_s=s)
    return Fault(name)


class CellFault:
    """A cell's fault on its host pair (hosts.NetnsPair): setup() attaches
    and checks it, new_outage() gives each run its own outage trigger."""

    def __init__(self, fault, at, pair, obj_dir):
        self.fault, self.at = fault, at
        os.makedirs(obj_dir, exist_ok=True)
        self.drops = dropfilter.LinkDrops(pair, obj_dir)

    def shape_wire(self):
        """One packet per TCP segment, as on a real wire (dropfilter.py):
        every cell of a fault scenario, so its fault-free cell is the same link."""
        self.drops.one_packet_per_segment()

    def setup(self, rate_bits_per_s):
        """The fault attached and checked; returns the check's record
        fields (FaultCheckError if the fault is not what it claims)."""
        rec = {"fault": self.fault.name, "kind": self.fault.kind}
        if self.fault.kind == "loss":
            self.drops.set_loss(self.fault.loss_pct / 100)
            rec["loss"] = faultcheck.measure_loss(self.drops, self.fault.loss_pct / 100,
                                                  rate_bits_per_s)
        elif self.fault.kind == "outage":
            self.drops.prepare_outage()
            rec["outage"] = faultcheck.check_outage(self.drops)
        return rec

    def new_outage(self):
        if self.fault.kind != "outage":
            return None
        return outage.Outage(self.drops, self.fault.outage_s, self.at)
