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
With real content (modules) the RAM is the modules' pages, the working
set guestload keeps beside them (its mixed fill, measured apart) and zero
pages; each part crosses at its own ratio and speed for the same codec.
Zero pages cost nothing (a few header bytes), and pages the guest dirties
again are not counted, so no real migration reaches the floor; its
multiple says how close a system comes. An unshaped loopback has no link
term: its floor is the CPU's alone."""
import json
import os
import re
import subprocess

from . import content
from .scenarios import parse_size

PAGE = 4096
PROBE_PAGES_MAX = 65536   # a 256 MiB sample of guestload's fill is plenty
PROBE_TIMEOUT_S = 300
GUESTLOAD_WS_DEFAULT = 64 << 20   # guest/args.c's ws= default
WS_FILL = "mixed"                 # guestload's working set beside modules (guest/fill.h)


def probe_command(build, scenario, modules):
    tool = os.path.join(build, "content_probe")
    if modules:
        return [tool, *sum((["--file", f] for f in modules), [])]
    pages = min(parse_size(scenario.mem) // PAGE, PROBE_PAGES_MAX)
    return [tool, "--fill", content.fill_kind(scenario.guest_args), "--pages", str(pages)]


def ws_bytes(guest_args):
    """guestload's working set: ws= of its arguments, or its default."""
    m = re.search(r"(?:^|\s)ws=(\S+)", guest_args)
    return parse_size(m.group(1)) if m else GUESTLOAD_WS_DEFAULT


def ws_probe_command(build, scenario):
    """The working set's content beside modules (guestload's mixed fill)."""
    pages = min(ws_bytes(scenario.guest_args) // PAGE, PROBE_PAGES_MAX)
    return [os.path.join(build, "content_probe"), "--fill", WS_FILL, "--pages", str(pages)]


# content_probe's answers by command: a fault scenario's cells share one content.
_probed = {}


def probe(build, scenario, modules):
    """content_probe's JSON for this scenario's content (measured once per
    content in a run)."""
    return run_probe(probe_command(build, scenario, modules))


def run_probe(cmd):
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


def per_byte(c):
    """CPU-seconds a byte costs codec measurement c, compressed and inflated."""
    if c["compress_mbs"] > 0 and c["decompress_mbs"] > 0:
        return 1 / (c["compress_mbs"] * 1e6) + 1 / (c["decompress_mbs"] * 1e6)
    return float("inf")


def compute(measured, ram_bytes, link_bits_per_s, cores, modules=(), ws=None):
    """{"floor_s", "codec", "level", "wire_bytes", "nonzero_bytes", "cores"}.
    ws: (measured, bytes) of the working set beside modules, or None."""
    parts = [(nonzero_bytes(measured, ram_bytes, modules), measured)]
    if modules and ws:
        parts.append((nonzero_bytes(ws[0], ws[1], ()), ws[0]))
    nz = sum(n for n, _ in parts)
    best = None
    for c in measured["codecs"]:
        same = [(n, find_codec(m, c)) for n, m in parts]
        if any(pc is None for _, pc in same):
            continue
        wire = sum(n / pc["ratio"] for n, pc in same)
        t_link = wire * 8 / link_bits_per_s if link_bits_per_s else 0.0
        t_cpu = sum(n * per_byte(pc) for n, pc in same) / cores
        t = max(t_link, t_cpu)
        if best is None or t < best["floor_s"]:
            best = {"floor_s": round(t, 3), "codec": c["codec"], "level": c["level"],
                    "wire_bytes": int(wire), "bound": "link" if t_link >= t_cpu else "cpu"}
    best.update({"nonzero_bytes": int(nz), "cores": cores})
    return best


def find_codec(measured, c):
    """measured's figures for c's codec and level, or None."""
    return next((x for x in measured["codecs"]
                 if x["codec"] == c["codec"] and x["level"] == c["level"]), None)


def for_scenario(build, scenario, modules):
    """The floor record the runner writes before a scenario's runs."""
    measured = probe(build, scenario, modules)
    ws = None
    if modules:
        ws = (run_probe(ws_probe_command(build, scenario)), ws_bytes(scenario.guest_args))
    cores = scenario.floor_cpu_cores or os.cpu_count()
    rec = compute(measured, scenario.mem_bytes, scenario.link_bits_per_s, cores, modules, ws)
    extra = {"ws_probe": ws[0], "ws_bytes": ws[1]} if ws else {}
    return {"type": "floor", "scenario": scenario.name, **rec, "probe": measured, **extra}
