"""The physical floor of a scenario: the shortest time any migration of
its guest could take. One copy of the RAM's non-zero pages must cross the
link, compressed at best by a codec the CPU budget can run at that speed:

  for each codec c (bench/content_probe.c measures them on the guest's
  own content):  wire_c = nonzero / ratio_c
                 t_c    = max(wire_c / link rate,
                              nonzero x (1/compress + 1/decompress) / cores)
  floor = min over c of t_c

(compress and decompress in bytes per CPU-second of one core). Both hosts
of the suite share one machine's cores (netns), so compressing and
decompressing add up on the same `cores`.
Zero pages cost nothing (a few header bytes), and pages the guest dirties
again are not counted, so no real migration reaches the floor; its
multiple says how close a system comes. An unshaped loopback has no link
term: its floor is the CPU's alone."""
import json
import os
import subprocess

from . import content
from .scenarios import parse_size

PAGE = 4096
PROBE_PAGES_MAX = 65536   # a 256 MiB sample of guestload's fill is plenty
PROBE_TIMEOUT_S = 300


def probe_command(build, scenario, modules):
    tool = os.path.join(build, "content_probe")
    if modules:
        return [tool, *sum((["--file", f] for f in modules), [])]
    pages = min(parse_size(scenario.mem) // PAGE, PROBE_PAGES_MAX)
    return [tool, "--fill", content.fill_kind(scenario.guest_args), "--pages", str(pages)]


# content_probe's answers by command: a fault scenario's cells share one content.
_probed = {}


def probe(build, scenario, modules):
    """content_probe's JSON for this scenario's content (measured once per
    content in a run)."""
    cmd = probe_command(build, scenario, modules)
    if tuple(cmd) in _probed:
        return _probed[tuple(cmd)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
    if r.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed: {r.stderr.strip()}")
    _probed[tuple(cmd)] = json.loads(r.stdout)
    return _probed[tuple(cmd)]


def nonzero_bytes(measured, ram_bytes, modules):
    """Non-zero bytes of the guest's RAM: the modules' non-zero pages (the
    rest of RAM stays zero), or the fill's non-zero share of all of it."""
    nonzero_pages = measured["pages"] - measured["zero_pages"]
    if modules:
        return nonzero_pages * PAGE
    return ram_bytes * nonzero_pages / max(1, measured["pages"])


def compute(measured, ram_bytes, link_bits_per_s, cores, modules=()):
    """{"floor_s", "codec", "level", "wire_bytes", "nonzero_bytes", "cores"}."""
    nz = nonzero_bytes(measured, ram_bytes, modules)
    best = None
    for c in measured["codecs"]:
        wire = nz / c["ratio"]
        t_link = wire * 8 / link_bits_per_s if link_bits_per_s else 0.0
        per_byte = 1 / (c["compress_mbs"] * 1e6) + 1 / (c["decompress_mbs"] * 1e6) \
            if c["compress_mbs"] > 0 and c["decompress_mbs"] > 0 else float("inf")
        t_cpu = nz * per_byte / cores
        t = max(t_link, t_cpu)
        if best is None or t < best["floor_s"]:
            best = {"floor_s": round(t, 3), "codec": c["codec"], "level": c["level"],
                    "wire_bytes": int(wire), "bound": "link" if t_link >= t_cpu else "cpu"}
    best.update({"nonzero_bytes": int(nz), "cores": cores})
    return best


def for_scenario(build, scenario, modules):
    """The floor record the runner writes before a scenario's runs."""
    measured = probe(build, scenario, modules)
    cores = scenario.floor_cpu_cores or os.cpu_count()
    rec = compute(measured, scenario.mem_bytes, scenario.link_bits_per_s, cores, modules)
    return {"type": "floor", "scenario": scenario.name, **rec, "probe": measured}
