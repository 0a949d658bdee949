"""The fault benchmark's plot (gnuplot, like plots.py): per fault
scenario, faults-FAMILY.png with a bar per cell and system (colour by
system) in three panels: success rate, total time and migration CPU (both
sides; median, min-max whiskers over converged runs). Its data and script
stay beside it."""
import os

from . import faultreport, plots, results


def bar_rows(fam_cells):
    """Rows: label, success %, total s (med lo hi), CPU s (med lo hi), colour."""
    rows = []
    for (fault, tls), groups in fam_cells.items():
        for g in groups:
            cells = [100.0 * len(g.converged) / len(g.runs) if g.runs else None]
            t = g.stat("total_ms")
            cells += [x / 1000 for x in t] if t else [None] * 3
            c = g.stat_of(results.migration_cpu)
            cells += list(c) if c else [None] * 3
            label = f"{fault}{' tls' if tls else ''} {g.system}"
            rows.append(plots.bar_row(label, cells, g.system))
    return "\n".join(rows) + "\n"


def fault_bars(family, fam_cells, outdir):
    base = os.path.join(outdir, f"faults-{plots.safe(family)}")
    data = bar_rows(fam_cells)
    with open(base + ".dat", "w") as f:
        f.write("# cell_system success_pct total_s lo hi migration_cpu_s lo hi colour\n")
        f.write(data)
    lines = [plots.TERMINAL.format(w=1500, h=560), f"set output '{base}.png'",
             "set datafile missing '?'", "set style fill solid 0.7 border -1",
             "set boxwidth 0.7", plots.x_range(data), "set offsets 0, 0, graph 0.08, 0",
             "set xtics rotate by -45 left font ',8'", "set grid ytics", "unset key",
             f"set multiplot layout 1,3 title '{family}: vmig (blue) and QEMU (red) under "
             f"faults; median, min-max (converged runs)'",
             "set title 'runs converged (%)'", "set yrange [0:105]",
             f"plot '{base}.dat' using 0:2:9:xtic(1) with boxes lc rgb variable"]
    for title, col in (("total time (s)", 3), ("migration CPU, both sides (s)", 6)):
        lines += [*plots.panel(data, col, title),
                  f"plot '{base}.dat' using 0:{col}:9:xtic(1) with boxes lc rgb variable, "
                  f"'' using 0:{col}:{col + 1}:{col + 2} with yerrorbars lc black pt 7 ps 0.4"]
    return plots._draw_multiplot(base, lines)


def draw_all(records, outdir):
    """{family: [png file name relative to outdir]} for every fault scenario."""
    out = {}
    for family, fam_cells in faultreport.cells(records).items():
        os.makedirs(outdir, exist_ok=True)
        out[family] = [os.path.relpath(fault_bars(family, fam_cells, outdir), outdir)]
    return out
