"""The fault benchmark's part of the report: per fault scenario one table
of every cell (fault x TLS) and system, with success rates, times,
downtimes, wire bytes, what crossed the link after an outage against a
full migration, CPU per side; each fault's check; and the cost of TLS
(time and CPU, on against off, in the fault-free cells)."""
from . import report, results  # report imports this module too: names are looked up late

MIB = float(1 << 20)


def cells(records):
    """{family: {(fault, tls): [Group, ...]}} in the order the cells ran."""
    by_name, _ = results.group(records)
    out = {}
    for name, groups in by_name.items():
        run = groups[0].runs[0]
        if not run.get("family"):
            continue
        out.setdefault(run["family"], {})[(run["fault"], bool(run.get("tls")))] = groups
    return out


def full_wire(fam_cells, group, tls):
    """Median wire bytes of the same system and setting in the fault-free
    cell with the same TLS mode: what a full migration (a restart) sends."""
    for g in fam_cells.get(("none", tls), []):
        if (g.system, g.setting) == (group.system, group.setting) and g.stat("wire_bytes"):
            return g.stat("wire_bytes")[0]
    return None


def outage_cell(g, full):
    """'after MiB (x full)' over the runs whose outage happened."""
    after = results.spread((r.get("outage") or {}).get("wire_after") for r in g.converged
                           if (r.get("outage") or {}).get("happened"))
    if after is None:
        return "—"
    text = report.fmt_spread(after, 1 / MIB)
    return f"{text} ({after[0] / full:.2f}x)" if full else text


def outage_count(g):
    n = sum(1 for r in g.runs if (r.get("outage") or {}).get("happened"))
    return f"{n}/{len(g.runs)}"


def resumes(g):
    """vmig's resumes and time lost to broken links (median over converged
    runs), and in how many converged runs the destination verified the RAM
    digest."""
    if g.system != "vmig":
        return "no resume"
    res, lost = g.stat("resumes"), g.stat("reconnect_ms")
    verified = f"digest verified {sum(1 for r in g.converged if r.get('verified'))}/" \
               f"{len(g.converged)}"
    if res is None:
        return verified
    if lost:
        return f"{res[0]:g} resumed, {lost[0] / 1000:.1f} s lost; {verified}"
    return f"{res[0]:g} resumed; {verified}"


def table(fam_cells):
    head = ("| fault | TLS | system | succeeded | guest intact | total s | downtime ms | wire MiB | "
            "outage happened | sent after the outage, MiB (x a full migration) | "
            "src CPU s (migration) | dst CPU s (migration) | resume |")
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for (fault, tls), groups in fam_cells.items():
        is_outage = fault.startswith("down-")
        for g in groups:
            rows.append("| " + " | ".join([
                fault, "on" if tls else "off", f"{g.system} `{g.setting}`",
                f"{len(g.converged)}/{len(g.runs)}",
                f"{sum(1 for r in g.converged if report.intact(r))}/{len(g.converged)}",
                report.fmt_spread(g.stat("total_ms"), 1 / 1000, 2), report.fmt_spread(g.stat("downtime_ms")),
                report.fmt_spread(g.stat("wire_bytes"), 1 / MIB),
                outage_count(g) if is_outage else "—",
                outage_cell(g, full_wire(fam_cells, g, tls)) if is_outage else "—",
                report.fmt_spread(report.cpu_side(g, "src", "other_s"), 1, 2),
                report.fmt_spread(report.cpu_side(g, "dst", "other_s"), 1, 2), resumes(g),
            ]) + " |")
    return rows


def _pct(on, off):
    return f"{(on / off - 1) * 100:+.0f} %" if off else "—"


def tls_cost(fam_cells):
    """Per system, fault-free cells: total time and migration CPU, TLS off
    against on (medians)."""
    off, on = fam_cells.get(("none", False), []), fam_cells.get(("none", True), [])
    rows = []
    for g in off:
        h = next((x for x in on if (x.system, x.setting) == (g.system, g.setting)), None)
        t0, t1 = g.stat("total_ms"), h.stat("total_ms") if h else None
        c0, c1 = g.stat_of(results.migration_cpu), h.stat_of(results.migration_cpu) if h else None
        if not (t0 and t1 and c0 and c1):
            continue
        rows.append(f"| {g.system} `{g.setting}` | {t0[0] / 1000:.2f} | {t1[0] / 1000:.2f} | "
                    f"{_pct(t1[0], t0[0])} | {c0[0]:.2f} | {c1[0]:.2f} | {_pct(c1[0], c0[0])} |")
    if not rows:
        return []
    return ["| system | total s, TLS off | on | cost | migration CPU s (both sides), off | on | "
            "cost |", "|---|---|---|---|---|---|---|", *rows]


def check_lines(records, family):
    """One line per cell's fault check."""
    out = []
    for r in records:
        if r["type"] != "fault_check" or not r["scenario"].startswith(family + "-"):
            continue
        if "loss" in r:
            ab, ba = r["loss"]["a_to_b"], r["loss"]["b_to_a"]
            out.append(f"- `{r['scenario']}`: filter for {r['loss']['expected_rate'] * 100:g} % "
                       f"measured {ab['rate'] * 100:.3f} % a to b ({ab['dropped']} of "
                       f"{ab['packets']} packets), {ba['rate'] * 100:.3f} % b to a "
                       f"({ba['dropped']} of {ba['packets']}); one TCP stream got "
                       f"{r['loss']['stream_bps'] / 1e6:.0f} Mbit/s through it")
        elif "outage" in r:
            out.append(f"- `{r['scenario']}`: a connect during the outage: "
                       f"{r['outage']['during']}; after it: {r['outage']['after']}")
    return out


def section(records, plot_files=None):
    """The fault benchmark's Markdown lines ([] without fault cells);
    plot_files: {family: [png]} (faultplots.py)."""
    out = []
    for family, fam_cells in cells(records).items():
        out += [f"## Fault benchmark: {family}", "",
                "Succeeded: converged runs of all runs (QEMU has no resume: a migration its "
                "connection did not survive is a failure); guest intact: converged runs whose "
                "migrated guest then found no bad page (vmig also verifies the RAM digest). "
                "Times, downtimes, wire bytes and CPU are medians (min–max) over converged "
                "runs; 'sent after the outage' is wire bytes from the link's return to the end, "
                "against the median wire bytes of the fault-free cell (a restart sends at "
                "least that).", "", *table(fam_cells), ""]
        cost = tls_cost(fam_cells)
        if cost:
            out += [f"The cost of TLS ({family}, no fault):", "", *cost, ""]
        checks = check_lines(records, family)
        if checks:
            out += ["Fault checks (before each cell's runs):", *checks, ""]
        pngs = (plot_files or {}).get(family, [])
        out += [f"![{p}]({p})" for p in pngs] + ([""] if pngs else [])
    return out
