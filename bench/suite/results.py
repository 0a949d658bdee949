"""Results as JSON lines, one object per line: {"type": "meta"} once per
invocation, {"type": "floor"} once per scenario, {"type": "run"} once per
migration. Reading groups the runs by scenario and setting and sums them
up (median, min, max)."""
import json
import statistics


class ResultsError(Exception):
    """A results file that cannot be read; the message names the line."""


def append(path, rec):
    with open(path, "a") as f:
        f.write(json.dumps(rec, sort_keys=True) + "\n")


def load(path):
    out = []
    try:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError as e:
                    raise ResultsError(f"{path}:{n}: not JSON: {e}") from None
                if not isinstance(rec, dict) or "type" not in rec:
                    raise ResultsError(f"{path}:{n}: not a result record (no 'type')")
                out.append(rec)
    except OSError as e:
        raise ResultsError(f"{path}: cannot read: {e.strerror}") from None
    return out


def spread(values):
    """(median, min, max) of the values that are not None, or None."""
    v = [x for x in values if x is not None]
    if not v:
        return None
    return statistics.median(v), min(v), max(v)


class Group:
    """The runs of one setting in one scenario."""

    def __init__(self, scenario, system, setting):
        self.scenario, self.system, self.setting = scenario, system, setting
        self.runs = []

    @property
    def label(self):
        return f"{self.system} {self.setting}"

    @property
    def converged(self):
        return [r for r in self.runs if r.get("converged")]

    def stat(self, key):
        """Spread of a figure over the converged runs (a failed run's time
        is its timeout, not a result)."""
        return spread(r.get(key) for r in self.converged)

    def stat_of(self, fn):
        return spread(fn(r) for r in self.converged)

    def median_run(self):
        """The converged run of median total time (else the last run)."""
        ok = sorted(self.converged, key=lambda r: r.get("total_ms") or 0)
        return ok[(len(ok) - 1) // 2] if ok else (self.runs[-1] if self.runs else None)


def migration_cpu(run):
    """Migration CPU seconds of a run: both sides, vCPU threads excluded."""
    c = run.get("cpu") or {}
    if not c.get("src") or not c.get("dst"):
        return None
    return c["src"]["other_s"] + c["dst"]["other_s"]


def group(records):
    """({scenario: [Group, ...]} in first-seen order, {scenario: floor record})."""
    groups, floors = {}, {}
    for r in records:
        if r["type"] == "floor":
            floors[r["scenario"]] = r
        elif r["type"] == "run":
            sc = groups.setdefault(r["scenario"], {})
            key = (r["system"], r["setting"])
            sc.setdefault(key, Group(r["scenario"], *key)).runs.append(r)
    # vmig's settings first, each system's in the order they first ran (stable sort)
    out = {name: sorted(sc.values(), key=lambda g: g.system != "vmig")
           for name, sc in groups.items()}
    return out, floors


def best(groups, system):
    """The setting of `system` with the lowest median total time among
    those whose every run converged (then those with most runs converged)."""
    cand = [g for g in groups if g.system == system and g.converged]
    if not cand:
        return None
    return min(cand, key=lambda g: (len(g.runs) - len(g.converged), g.stat("total_ms")[0]))
