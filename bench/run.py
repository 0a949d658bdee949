#!/usr/bin/python3
"""vmig's benchmark suite: vmig and Debian's QEMU 7.2 side by side on the
scenarios of bench/scenarios/ (docs/benchmarks.md, "How to run").

  bench/run.py [--quick] [--faults] [--scenario NAME ...] [--cell NAME ...] [--setting NAME ...]
               [--build DIR] [--out DIR] [--runs N] [--accel kvm|tcg] [--guest double]
               [--no-prewarm]
  bench/run.py --list [--quick]          what would run, and how long at most
  bench/run.py --check [--quick]         the scenario files, this host and the build
  bench/run.py --check-host [--quick]    the scenario files and this host (KVM, root)
  bench/run.py --report RESULTS.jsonl    the report and plots again from results

Writes DIR/results.jsonl (one JSON object per migration), DIR/report.md and
DIR/plots/*.png (DIR defaults to bench/out/DATE-TIME). Exit status: 0
when every run ended (converged or not: the report says), 1 when the
report could not be made, 2 on bad usage, a bad scenario file or a host
that cannot run the benchmark (no /dev/kvm, not root, nothing built)."""
import argparse
import os
import signal
import sys
import time

BENCH = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH)
sys.path.insert(0, BENCH)

from suite import content, plots, preflight, report, results, runner, scenarios  # noqa: E402


DOUBLE_NOTE = ("vmig's engine and policy migrating a TEST-DOUBLE guest (bench/enginesim: "
               "a process whose threads write its RAM), no KVM and no QEMU: real links, "
               "hosts and codecs, but no KVM dirty logging or vCPU exits; not a KVM result")


def double_note(write_fault_ns):
    """The results' note for --guest double, with the write-fault cost charged."""
    fault = (f"; a page's first write after a harvest costs the guest {write_fault_ns} ns, "
             "standing in for KVM's write-protection fault" if write_fault_ns
             else "; writes are free (no write-protection faults)")
    return DOUBLE_NOTE + fault


def nested_note():
    """The results' note under scripts/nested-kvm.sh, which exports the
    kernel it booted as VMIG_NESTED_KVM; None elsewhere."""
    kver = os.environ.get("VMIG_NESTED_KVM")
    if not kver:
        return None
    return (f"nested KVM: Debian 12's kernel {kver} under QEMU's TCG (scripts/nested-kvm.sh), "
            "vmig and QEMU on the same emulated KVM: behaviour and how the two compare, "
            "never speed (every instruction is emulated, 50-100x slower than a KVM host)")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the quick scenarios and settings only")
    ap.add_argument("--faults", action="store_true",
                    help="the fault scenarios (packet loss, outages, TLS) instead of the others")
    ap.add_argument("--scenario", action="append", default=[], help="run this one (repeatable)")
    ap.add_argument("--setting", action="append", default=[],
                    help="run only this setting of each scenario (repeatable; e.g. auto)")
    ap.add_argument("--cell", action="append", default=[],
                    help="run only this cell (repeatable; a scenario's name, or a fault "
                         "cell's as --list prints it, e.g. faults-1G-down-10-plain)")
    ap.add_argument("--scenario-dir", default=scenarios.SCENARIO_DIR,
                    help="where the scenario files are (default bench/scenarios)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--runs", type=int, default=0,
                    help=f"runs per setting (at least {scenarios.MIN_RUNS}; default the scenario's)")
    ap.add_argument("--accel", choices=("kvm", "tcg"), default="kvm",
                    help="QEMU's accelerator; tcg (no vmig runs) only to develop the harness")
    ap.add_argument("--guest", choices=("guestload", "double"), default="guestload",
                    help="double: vmig's engine migrating a TEST-DOUBLE guest (bench/enginesim) "
                         "instead of guestload under KVM; no KVM needed, no QEMU runs: the "
                         "policy's figures on real links and hosts, not a KVM result")
    ap.add_argument("--write-fault-ns", type=int, default=0, metavar="NS",
                    help="with --guest double: a page's first write after its dirty bit was "
                         "cleared costs the guest NS ns, as a KVM write-protection fault does "
                         "(default 0: free)")
    ap.add_argument("--no-prewarm", action="store_true")
    ap.add_argument("--keep", action="store_true",
                    help="keep each run's directory (serial logs, VMM output) under DIR/runs")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--check-host", action="store_true")
    ap.add_argument("--report", metavar="RESULTS")
    a = ap.parse_args(argv)
    if a.runs and a.runs < scenarios.MIN_RUNS and (a.accel == "kvm" or a.guest == "double"):
        ap.error(f"--runs must be at least {scenarios.MIN_RUNS}")
    if a.write_fault_ns and a.guest != "double":
        ap.error("--write-fault-ns is for --guest double (a KVM guest pays its own faults)")
    if not 0 <= a.write_fault_ns <= 1000000:
        ap.error("--write-fault-ns must be 0..1000000")
    a.build = os.path.abspath(a.build)
    return a


def write_report(records, out_dir):
    """report.md (and plots/, when gnuplot is here); returns the report's path."""
    plot_files = {}
    if plots.have_gnuplot():
        pdir = os.path.join(out_dir, "plots")
        drawn = plots.draw_all(records, pdir)
        plot_files = {k: [os.path.join("plots", f) for f in v] for k, v in drawn.items()}
    else:
        print("bench: gnuplot is not installed: no plots (apt-get install gnuplot-nox)",
              file=sys.stderr)
    path = os.path.join(out_dir, "report.md")
    with open(path, "w") as f:
        f.write(report.render(records, plot_files))
    return path


def list_scenarios(scs, a):
    for sc in scs:
        names = ", ".join(f"{s.system} {s.name}" for s in sc.settings
                          if runner.driver_for(s.system, a.accel, a.guest))
        print(f"{sc.name:9} {sc.link:9} {sc.host:6} {sc.mem} `{sc.guest_args}` "
              f"x{a.runs or sc.runs}: {names}")
    est = runner.estimate_s(scs, a.runs, a.accel, a.guest)
    print(f"at most {est / 60:.0f} min if every run reached its timeout")


def main(argv):
    a = parse_args(argv)
    if a.report:
        try:
            recs = results.load(a.report)
            print(write_report(recs, os.path.dirname(os.path.abspath(a.report))))
        except (results.ResultsError, plots.PlotError) as e:
            print(f"bench: {e}", file=sys.stderr)
            return 1
        return 0
    try:
        scs = scenarios.load_all(a.scenario, a.quick, a.scenario_dir,
                                 fault_scenarios=a.faults)
        scs = scenarios.only_cells(scs, a.cell)
        scs = scenarios.only_settings(scs, a.setting)
        for sc in scs:
            content.check(sc.content)
    except (scenarios.ScenarioError, content.ContentError) as e:
        print(f"bench: {e}", file=sys.stderr)
        return 2
    if a.list:
        list_scenarios(scs, a)
        return 0
    if a.check_host:
        bad = preflight.host_problems(scs, a.accel, a.guest)
        for p in bad:
            print(f"bench: {p}", file=sys.stderr)
        return 2 if bad else 0
    bad = preflight.problems(scs, a.build, a.accel, a.guest)
    if bad:
        for p in bad:
            print(f"bench: {p}", file=sys.stderr)
        return 2
    if a.check:
        print(f"bench: {len(scs)} scenarios ready to run")
        return 0
    if a.guest == "double":
        print(f"bench: --guest double: {double_note(a.write_fault_ns)}", file=sys.stderr)
    elif a.accel == "tcg":
        print("bench: --accel tcg: QEMU under TCG only, no vmig runs; these figures are "
              "not results", file=sys.stderr)
    out_dir = os.path.abspath(a.out or runner.default_out_dir(ROOT))
    os.makedirs(out_dir, exist_ok=True)
    a.out_dir = out_dir
    out = os.path.join(out_dir, "results.jsonl")
    notes = [double_note(a.write_fault_ns) if a.guest == "double" else None, nested_note()]
    note = "; ".join(n for n in notes if n)
    results.append(out, {"type": "meta", "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                         "machine": preflight.machine(), "qemu_version": preflight.qemu_version(),
                         "accel": a.accel, "guest": a.guest,
                         **({"note": note} if note else {}),
                         **({"write_fault_ns": a.write_fault_ns} if a.guest == "double" else {}),
                         "mode": ("faults " if a.faults else "") + ("quick" if a.quick else "full"),
                         "scenarios": [sc.name for sc in scs]})
    print(f"bench: {len(scs)} scenarios, at most "
          f"{runner.estimate_s(scs, a.runs, a.accel, a.guest) / 60:.0f} min; results in {out_dir}")
    # `kill` ends the run as Ctrl-C does: the finally blocks stop the VMMs,
    # the burners and the netns hosts, which a plain SIGTERM left behind
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    runner.run_all(scs, a, out)
    try:
        print(f"bench: report {write_report(results.load(out), out_dir)}")
    except (results.ResultsError, plots.PlotError) as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
