"""PNG plots drawn with gnuplot (Debian's gnuplot-nox): per scenario a bar
chart of total time, downtime and migration CPU for every setting, and per
setting a timeline of its median migration beside QEMU's best setting's
(throughput, dirty rate, remaining bytes, throttle, the guest's progress),
in the spirit of QEMU's guestperf. Each plot's data and script are kept
beside the PNG, so a figure can be redrawn or checked by hand."""
import os
import re
import shlex
import shutil
import subprocess

from . import faultplots, results  # faultplots uses this module's helpers, looked up late

MIB = float(1 << 20)
GNUPLOT_TIMEOUT_S = 60
TERMINAL = "set terminal pngcairo size {w},{h} font 'sans,9'"
# Bar colours by system (the last column of a bar chart's data).
SYSTEM_COLOUR = {"vmig": 0x4477AA, "qemu": 0xCC6677}


class PlotError(Exception):
    """gnuplot failed; the message has its output."""


def have_gnuplot():
    return shutil.which("gnuplot") is not None


def safe(name):
    return re.sub(r"[^A-Za-z0-9_.+-]", "_", name)


def _gnuplot(script_path):
    r = subprocess.run(["gnuplot", script_path], capture_output=True, text=True,
                       timeout=GNUPLOT_TIMEOUT_S)
    if r.returncode:
        raise PlotError(f"gnuplot {script_path}: {r.stderr.strip()[-500:]}")


def _draw_multiplot(base, lines):
    """Ends the multiplot in lines, writes it to BASE.gp, draws BASE.png."""
    with open(base + ".gp", "w") as f:
        f.write("\n".join(lines + ["unset multiplot"]) + "\n")
    _gnuplot(base + ".gp")
    return base + ".png"


def _num(x):
    return "?" if x is None else f"{x:.4g}"


def bar_row(label, cells, system):
    """One row of a bar chart's data file: the quoted label, the cells
    ('?' where missing) and the system's colour."""
    return (f"\"{label}\" " + " ".join(_num(x) for x in cells) +
            f" {SYSTEM_COLOUR.get(system, 0)}")


def panel(data, col, title):
    """The range and title lines of one bar panel over `data` (rows of a
    .dat file). A column with no number at all (no run converged) gets a
    fixed range: gnuplot cannot autoscale over nothing and would fail."""
    rows = [shlex.split(line) for line in data.splitlines() if line.strip()]
    if any(len(r) >= col and r[col - 1] != "?" for r in rows):
        return ["set yrange [0:*]", f"set title '{title}'"]
    return ["set yrange [0:1]", f"set title '{title} (no converged run)'"]


def x_range(data):
    """A bar per row, 0..n-1, with room for the outer bars."""
    n = sum(1 for line in data.splitlines() if line.strip())
    return f"set xrange [-0.6:{n - 0.4}]"


def bar_data(groups):
    """Rows: label, total s (med lo hi), downtime ms (med lo hi), CPU s (med lo hi)."""
    rows = []
    for g in groups:
        cells = []
        for s in (g.stat("total_ms"), g.stat("downtime_ms"), g.stat_of(results.migration_cpu)):
            cells += list(s) if s else [None] * 3
        t = cells[0:3]
        cells[0:3] = [x / 1000 if x is not None else None for x in t]
        rows.append(bar_row(f"{g.system} {g.setting}", cells, g.system))
    return "\n".join(rows) + "\n"


def bars(scenario, groups, outdir):
    """bars-SCENARIO.png: three panels, a bar per setting with its min-max."""
    base = os.path.join(outdir, f"bars-{safe(scenario)}")
    data = bar_data(groups)
    with open(base + ".dat", "w") as f:
        f.write("# setting total_s lo hi downtime_ms lo hi migration_cpu_s lo hi colour\n")
        f.write(data)
    panels = [("total time (s)", 2), ("downtime (ms)", 5), ("migration CPU, both sides (s)", 8)]
    lines = [TERMINAL.format(w=1500, h=520), f"set output '{base}.png'",
             "set datafile missing '?'", "set style fill solid 0.7 border -1",
             "set boxwidth 0.7", x_range(data), "set offsets 0, 0, graph 0.08, 0",
             "set xtics rotate by -35 left font ',8'", "set grid ytics",
             "unset key", f"set multiplot layout 1,3 title '{scenario}: median, min-max "
             f"(converged runs)'"]
    for title, col in panels:
        lines += [*panel(data, col, title),
                  f"plot '{base}.dat' using 0:{col}:11:xtic(1) with boxes lc rgb variable, "
                  f"'' using 0:{col}:{col + 1}:{col + 2} with yerrorbars lc black pt 7 ps 0.4"]
    return _draw_multiplot(base, lines)


RATE_WINDOW_MS = 500


def wire_rate(samples, i):
    """MiB/s on the wire over the RATE_WINDOW_MS before sample i, from the
    samples' wire_bytes, for both systems alike: vmig's throughput_mibs is
    the average since the start and QEMU's its last iteration's, so
    neither shows a stall (a link outage) the same way. None without
    wire_bytes (the system's own figure is drawn then)."""
    t, w = samples[i].get("t_ms"), samples[i].get("wire_bytes")
    if t is None or w is None:
        return None
    j = i
    while j > 0 and t - samples[j - 1].get("t_ms", t) <= RATE_WINDOW_MS:
        j -= 1
    if j == i:
        j = i - 1  # samples further apart than the window: the previous one
    if j < 0:
        return None
    t0, w0 = samples[j].get("t_ms"), samples[j].get("wire_bytes")
    if t0 is None or w0 is None or t <= t0:
        return None
    return max(w - w0, 0) / MIB / ((t - t0) / 1000)


def timeline_data(run):
    rows = []
    samples = (run or {}).get("timeline", [])
    for i, s in enumerate(samples):
        rem = s.get("remaining_bytes")
        rate = wire_rate(samples, i)
        rows.append(" ".join(_num(x) for x in (
            s.get("t_ms", 0) / 1000, rate if rate is not None else s.get("throughput_mibs"),
            s.get("dirty_rate_mibs"),
            rem / MIB if rem is not None else None, s.get("throttle_pct"),
            s.get("guest_dirty_mibs"))))
    return "\n".join(rows) + "\n" if rows else "0 ? ? ? ? ?\n"


def timeline(scenario, columns, outdir):
    """timeline-SCENARIO-A[-vs-B].png: a column per setting (its median
    run), four rows of panels sharing the time axis."""
    base = os.path.join(outdir, f"timeline-{safe(scenario)}-" +
                        "-vs-".join(safe(g.label) for g in columns))
    cols = []
    for i, g in enumerate(columns):
        path = f"{base}.{i}.dat"
        with open(path, "w") as f:
            f.write("# t_s throughput_mibs dirty_rate_mibs remaining_mib throttle_pct "
                    "guest_dirty_mibs\n")
            f.write(timeline_data(g.median_run()))
        cols.append((g, path))
    panels = [("MiB/s", "[0:*]",
               "2 title 'wire rate (0.5 s)' w l lw 2, '{p}' using 1:3 title 'dirty rate' w l"),
              ("remaining MiB", "[0:*]", "4 notitle w l lw 2"),
              ("throttle %", "[0:100]", "5 notitle w steps lw 2"),
              ("guest MiB/s", "[0:*]", "6 notitle w lp pt 7 ps 0.5")]
    title = " vs ".join(g.label for g in columns)
    lines = [TERMINAL.format(w=600 * len(columns), h=1000), f"set output '{base}.png'",
             "set datafile missing '?'", "set grid", "set key top right font ',8'",
             f"set multiplot layout 4,{len(columns)} title '{scenario}: {title}, median runs'"]
    for ylabel, yrange, spec in panels:
        for g, path in cols:
            lines += [f"set title '{g.label}' font ',9'", f"set ylabel '{ylabel}'",
                      "set xlabel 'seconds since migrate'", f"set yrange {yrange}",
                      *outage_shade(g.median_run()),
                      f"plot '{path}' using 1:" + spec.format(p=path)]
    return _draw_multiplot(base, lines)


def outage_shade(run):
    """A grey band over a fault cell's link outage (outage.py), if the run had one."""
    o = (run or {}).get("outage") or {}
    if not o.get("happened") or o.get("down_ms") is None or o.get("up_ms") is None:
        return ["unset object 1"]
    return [f"set object 1 rect from {o['down_ms'] / 1000:.2f}, graph 0 to "
            f"{o['up_ms'] / 1000:.2f}, graph 1 behind fc rgb '#dddddd' fs solid noborder"]


def timeline_pairs(groups):
    """Each vmig setting beside QEMU's best setting; without QEMU or vmig
    in the scenario, each setting alone."""
    vm = [g for g in groups if g.system == "vmig"]
    qbest = results.best(groups, "qemu") or next((g for g in groups if g.system == "qemu"), None)
    if vm and qbest:
        return [[g, qbest] for g in vm]
    return [[g] for g in groups]


def has_timeline(group):
    """Whether the setting's median run has the migration's figures to
    draw: a run refused at the start has samples without them ("status":
    "none", at most the guest's own rate), and gnuplot cannot draw a panel
    of missing points."""
    return any(s.get(k) is not None for s in (group.median_run() or {}).get("timeline", [])
               for k in ("throughput_mibs", "remaining_bytes"))


def draw_all(records, outdir):
    """Every plot for these records: {scenario or fault scenario: [png
    file names relative to outdir]}. A timeline only where every column
    has samples."""
    os.makedirs(outdir, exist_ok=True)
    groups, _ = results.group(records)
    out = {}
    for name, gs in groups.items():
        files = [bars(name, gs, outdir)]
        files += [timeline(name, cols, outdir) for cols in timeline_pairs(gs)
                  if all(has_timeline(g) for g in cols)]
        out[name] = [os.path.relpath(f, outdir) for f in files]
    out.update(faultplots.draw_all(records, outdir))
    return out
