"""The Markdown report: per scenario its floor, a table of every setting
(median and min-max over its converged runs, each time also as a multiple
of the floor), vmig auto's decisions, and the headline comparisons."""
from . import faultreport, results

MIB = float(1 << 20)
# The reference system's accelerated-vs-unaccelerated speedup (DESIGN.md).
REFERENCE_SPEEDUP = 8.19
# The headline pair of issue 11: vmig auto against vmig unaccelerated.
AUTO, UNACCELERATED = "auto", "none-ac"


def fmt_spread(s, scale=1.0, digits=0):
    if s is None:
        return "—"
    med, lo, hi = (x * scale for x in s)
    f = f"{{:.{digits}f}}"
    return f"{f.format(med)} ({f.format(lo)}–{f.format(hi)})"


def fmt(x, digits=2, suffix=""):
    return "—" if x is None else f"{x:.{digits}f}{suffix}"


def floor_line(floor):
    if not floor:
        return "Floor: not measured."
    return (f"Floor: **{floor['floor_s']:.2f} s** — {floor['nonzero_bytes'] / MIB:.0f} MiB of "
            f"non-zero RAM at {floor['codec']}-{floor['level']} "
            f"({floor['wire_bytes'] / MIB:.0f} MiB on the wire), {floor['bound']}-bound with "
            f"{floor['cores']:g} cores (bench/suite/floor.py).")


def link_line(link):
    if not link:
        return None
    return (f"Link check: one TCP stream got {link['measured_bps'] / 1e6:.0f} Mbit/s of the nominal "
            f"{link['nominal_bps'] / 1e6:.0f} Mbit/s (bench/suite/linkcheck.py).")


def cpu_side(g, side, part):
    return g.stat_of(lambda r: ((r.get("cpu") or {}).get(side) or {}).get(part))


TENANTS_NOTE = ("Tenants' CPU lost: the busy hosts' CPU burners (their other tenants) got that much "
                "less CPU during the migration than in the 1.5 s before it (bench/suite/hostload.py).")


def has_tenants(groups):
    """Whether these runs had a busy host's other tenants (hostload.Burners)
    and measured what the migration took from them."""
    return any(g.stat("tenant_cpu_lost") for g in groups)


def table(groups, floor):
    fl = floor["floor_s"] if floor else None
    tenants = has_tenants(groups)
    head = ("| system | setting | converged | guest intact | total s | × floor | downtime ms | guest-seen ms | "
            "wire MiB | src CPU s (migration / vCPU) | dst CPU s (migration / vCPU) | "
            "migration CPU s/GiB | guest slowdown % |" + (" tenants' CPU lost % |" if tenants else ""))
    rows = [head, "|" + "---|" * (head.count("|") - 1)]
    for g in groups:
        tot = g.stat("total_ms")
        mult = tuple(x / 1000 / fl for x in tot) if tot and fl else None
        rows.append("| " + " | ".join([
            g.system, f"`{g.setting}`", f"{len(g.converged)}/{len(g.runs)}",
            f"{sum(1 for r in g.converged if intact(r))}/{len(g.converged)}",
            fmt_spread(tot, 1 / 1000, 2), fmt_spread(mult, 1, 1),
            fmt_spread(g.stat("downtime_ms")), fmt_spread(g.stat("guest_downtime_ms")),
            fmt_spread(g.stat("wire_bytes"), 1 / MIB),
            f"{fmt_spread(cpu_side(g, 'src', 'other_s'), 1, 2)} / "
            f"{fmt_spread(cpu_side(g, 'src', 'vcpu_s'), 1, 2)}",
            f"{fmt_spread(cpu_side(g, 'dst', 'other_s'), 1, 2)} / "
            f"{fmt_spread(cpu_side(g, 'dst', 'vcpu_s'), 1, 2)}",
            fmt_spread(g.stat("cpu_s_per_gib"), 1, 2),
            fmt_spread(g.stat("guest_slowdown"), 100, 0),
            *([fmt_spread(g.stat("tenant_cpu_lost"), 100, 0)] if tenants else []),
        ]) + " |")
    return rows


def intact(run):
    """The migrated guest checked every page it read and found none bad."""
    return run.get("errors_after") == 0 and not run.get("guest_fatal")


def decisions(groups):
    """vmig auto's decisions in its median run, one line each."""
    auto = next((g for g in groups if g.system == "vmig" and g.setting == AUTO), None)
    run = auto.median_run() if auto else None
    pol = (run or {}).get("policy") or {}
    if not pol:
        return []
    out = [f"vmig `auto` (median run, round {run['round']}): strategy "
           f"{pol.get('strategy', '?')}"]
    for d in pol.get("decisions", []):
        out.append(f"- {d.get('t_ms', '?')} ms, pass {d.get('pass', '?')}: {d.get('change', '')} "
                   f"— {d.get('reason', '')}")
    return out


def failures(groups):
    """One line per run that did not converge or whose guest found errors."""
    out = []
    for g in groups:
        for r in g.runs:
            if not r.get("converged"):
                why = r.get("error") or ""
                oom = r.get("oom_kills")
                out.append(f"- {g.label}, round {r['round']}: {r.get('status')}"
                           f"{': ' + why[:200] if why else ''}"
                           + (f" (the kernel OOM-killed {oom} process(es) of this run: "
                              "the VMM and its guest)" if oom else ""))
            elif r.get("guest_fatal"):
                out.append(f"- {g.label}, round {r['round']}: converged, but the guest then "
                           f"died: {r['guest_fatal']}")
            elif not intact(r):
                n = r.get("errors_after")
                out.append(f"- {g.label}, round {r['round']}: converged, but the guest then "
                           + (f"found {n} bad page(s)" if n is not None else
                              "printed no page-check figure"))
    return out


def auto_against_best_fixed(name, groups):
    """Issue 9's bar: vmig auto within 10 % of the best fixed vmig setting."""
    a = next((g for g in groups if g.system == "vmig" and g.setting == AUTO), None)
    fixed = [g for g in groups if g.setting != AUTO]
    b = results.best(fixed, "vmig")
    if not a or not b or not a.stat("total_ms"):
        return None
    ta, tb = a.stat("total_ms")[0], b.stat("total_ms")[0]
    verdict = ("faster" if ta < tb else "within 10 %" if ta <= tb * 1.1
               else "**more than 10 % slower**")
    la, lb = a.stat("tenant_cpu_lost"), b.stat("tenant_cpu_lost")
    # on a busy host the time is bought with the other tenants' CPU: say how much
    tenants = (f"; the hosts' other tenants lost {la[0] * 100:.0f} % of their CPU against "
               f"{lb[0] * 100:.0f} %" if la and lb else "")
    return (f"- {name}: vmig `{AUTO}` {ta / 1000:.2f} s against the best fixed vmig setting "
            f"`{b.setting}` {tb / 1000:.2f} s ({(ta / tb - 1) * 100:+.0f} %, {verdict}; "
            f"converged {len(a.converged)}/{len(a.runs)}{tenants})")


def headline(all_groups):
    """The speedup of vmig auto over unaccelerated vmig, and migration CPU
    per GiB of vmig auto against QEMU's best, in every scenario that has them."""
    lines = []
    for name, groups in all_groups.items():
        by = {(g.system, g.setting): g for g in groups}
        a, u = by.get(("vmig", AUTO)), by.get(("vmig", UNACCELERATED))
        if a and u and a.stat("total_ms") and u.stat("total_ms"):
            sp = u.stat("total_ms")[0] / a.stat("total_ms")[0]
            lines.append(f"- {name}: vmig `{AUTO}` is **{sp:.2f}x** faster than `{UNACCELERATED}` "
                         f"(medians; the reference system: {REFERENCE_SPEEDUP}x)")
        elif a and u and a.stat("total_ms") and u.runs:
            # the baseline never converged: its timeout bounds the speedup from below
            worst = max(r.get("total_ms") or 0 for r in u.runs)
            lines.append(f"- {name}: vmig `{AUTO}` is at least **{worst / a.stat('total_ms')[0]:.2f}x** "
                         f"faster than `{UNACCELERATED}`, which converged in none of its "
                         f"{len(u.runs)} runs ({worst / 1000:.0f} s; the reference system: "
                         f"{REFERENCE_SPEEDUP}x)")
        elif a and u:
            lines.append(f"- {name}: speedup unknown: `{AUTO}` converged {len(a.converged)}/"
                         f"{len(a.runs)}, `{UNACCELERATED}` {len(u.converged)}/{len(u.runs)}")
        line = auto_against_best_fixed(name, groups)
        if line:
            lines.append(line)
        qb = results.best(groups, "qemu")
        if a and qb and a.stat("cpu_s_per_gib") and qb.stat("cpu_s_per_gib"):
            lines.append(f"- {name}: migration CPU per GiB: vmig `{AUTO}` "
                         f"{a.stat('cpu_s_per_gib')[0]:.2f} s, QEMU's best (`{qb.setting}`) "
                         f"{qb.stat('cpu_s_per_gib')[0]:.2f} s")
    return lines


def render(records, plot_files=None):
    """The whole report as Markdown text."""
    groups, floors = results.group(records)
    links = {r["scenario"]: r for r in records if r["type"] == "link"}
    meta = next((r for r in records if r["type"] == "meta"), {})
    out = ["# vmig benchmark report", ""]
    if meta.get("note"):
        out += [f"**{meta['note']}**", ""]
    if meta:
        out += [f"Run {meta.get('started', '?')} on {meta.get('machine', '?')}; "
                f"QEMU: {meta.get('qemu_version', '?')}; accel {meta.get('accel', '?')}; "
                f"{meta.get('mode', '?')} set.", ""]
    out += ["Times are the median (min–max) over converged runs; × floor divides by the "
            "scenario's physical floor. Migration CPU excludes the vCPU threads.", ""]
    head = headline(groups)
    if head:
        out += ["## Headline", "", *head, ""]
    out += faultreport.section(records, plot_files or {})
    broken = [r for r in records if r["type"] == "scenario_error"]
    if broken:
        out += ["## Scenarios that could not run", "",
                *(f"- {r['scenario']}: {r['error']}" for r in broken), ""]
    for name, gs in groups.items():
        sample = gs[0].runs[0]
        out += [f"## {name}", "",
                f"{sample.get('link')} link, {sample.get('host')} hosts, {sample.get('mem')} guest "
                f"`{sample.get('guest_args')}`.", "", floor_line(floors.get(name)), ""]
        if link_line(links.get(name)):
            out += [link_line(links[name]), ""]
        out += table(gs, floors.get(name)) + [""]
        if has_tenants(gs):
            out += [TENANTS_NOTE, ""]
        d = decisions(gs)
        if d:
            out += d + [""]
        f = failures(gs)
        if f:
            out += ["Runs that did not converge, or whose migrated guest found bad pages:", *f, ""]
        for p in (plot_files or {}).get(name, []):
            out += [f"![{p}]({p})"]
        if (plot_files or {}).get(name):
            out += [""]
    return "\n".join(out) + "\n"
