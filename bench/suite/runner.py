"""Runs scenarios: for each, the floor, the host pair and its condition,
then every setting `runs` times in alternating order, each run's record
appended to the results file as it ends."""
import contextlib
import os
import tempfile
import time

from . import content, floor, hostload, hosts, linkcheck, qemu_driver, results, vmig_driver
from .context import RunContext
from .scenarios import interleaved_order

DRIVERS = {"vmig": vmig_driver, "qemu": qemu_driver}
GIB = 1 << 30
# Seconds of the nominal rate the link check sends before a scenario's runs.
LINK_CHECK_S = 2


def summary(rec):
    """One line for the terminal."""
    head = f"[{rec['scenario']} r{rec['round']}] {rec['system']} {rec['setting']}:"
    if not rec.get("converged"):
        return f"{head} {rec.get('status')} {(rec.get('error') or '')[:160]}"
    cpu = rec.get("cpu") or {}
    src, dst = cpu.get("src") or {}, cpu.get("dst") or {}
    return (f"{head} {rec['total_ms'] / 1000:.2f} s, downtime {rec.get('downtime_ms')} ms, "
            f"wire {(rec.get('wire_bytes') or 0) / (1 << 20):.0f} MiB, migration CPU "
            f"src {src.get('other_s', '?')} s dst {dst.get('other_s', '?')} s, "
            f"guest slowdown {rec.get('guest_slowdown')}, errors after {rec.get('errors_after')}")


def prewarm_bytes(scenario):
    """Both VMMs' RAM and a GiB more, within half of what the host has free."""
    want = 2 * scenario.mem_bytes + GIB
    return min(want, hostload.available_bytes() // 2)


def run_scenario(sc, opts, out_path, log=print):
    """Runs one scenario's settings; returns its run records."""
    modules = content.module_files(sc.content)
    fl = floor.for_scenario(opts.build, sc, modules)
    results.append(out_path, fl)
    log(f"== {sc.name}: {sc.description}\n   floor {fl['floor_s']:.2f} s "
        f"({fl['codec']}-{fl['level']}, {fl['bound']}-bound)")
    if not opts.no_prewarm:
        log(f"   pre-warmed host memory in {hostload.prewarm(prewarm_bytes(sc)):.1f} s")
    pair = hosts.make_pair(sc.link)
    if sc.link_bits_per_s:
        got = linkcheck.measure(pair, LINK_CHECK_S, sc.link_bits_per_s)
        results.append(out_path, {"type": "link", "scenario": sc.name,
                                  "nominal_bps": sc.link_bits_per_s, "measured_bps": got})
        log(f"   link {sc.link}: one TCP stream got {got / 1e9:.2f} Gbit/s")
    burners = hostload.Burners([pair.prefix("a"), pair.prefix("b")]) if sc.host == "busy" else None
    recs = []
    try:
        for round_no in range(opts.runs or sc.runs):
            for setting in interleaved_order(sc.settings, round_no):
                if setting.system == "vmig" and opts.accel != "kvm":
                    continue  # vmig's VMM is KVM only (the runner said so at the start)
                with run_dir(opts, sc, setting, round_no) as tmp:
                    ctx = RunContext(scenario=sc, pair=pair, build=opts.build, tmpdir=tmp,
                                     accel=opts.accel, modules=modules)
                    rec = DRIVERS[setting.system].run(ctx, setting, round_no)
                results.append(out_path, rec)
                recs.append(rec)
                log(summary(rec))
    finally:
        if burners:
            burners.stop()
        pair.destroy()
    return recs


@contextlib.contextmanager
def run_dir(opts, sc, setting, round_no):
    """A run's directory: temporary, or kept under OUT/runs with --keep."""
    if not opts.keep:
        with tempfile.TemporaryDirectory(prefix="vmig-bench-") as tmp:
            yield tmp
        return
    d = os.path.join(opts.out_dir, "runs", f"{sc.name}-{setting.system}-{setting.name}-r{round_no}")
    os.makedirs(d, exist_ok=True)
    yield d


def estimate_s(scenarios, runs_override=0, accel="kvm"):
    """Worst case: every run to its timeout, plus boot, fill and warm-up."""
    per_run_overhead_s = 15
    total = 0
    for sc in scenarios:
        n = sum(1 for s in sc.settings if s.system == "qemu" or accel == "kvm")
        total += (runs_override or sc.runs) * n * (sc.timeout_s + sc.warmup_s + per_run_overhead_s)
    return total


def run_all(scenarios, opts, out_path, log=print):
    """Runs every scenario; one that cannot be set up (its floor, hosts or
    content) is recorded as a scenario_error and the next one runs."""
    t = time.monotonic()
    recs = []
    for sc in scenarios:
        try:
            recs += run_scenario(sc, opts, out_path, log)
        except Exception as e:  # noqa: BLE001  the report says which and why
            results.append(out_path, {"type": "scenario_error", "scenario": sc.name,
                                      "error": f"{type(e).__name__}: {e}"})
            log(f"== {sc.name}: could not run: {type(e).__name__}: {e}")
    log(f"{len(recs)} migrations in {(time.monotonic() - t) / 60:.1f} min; results: {out_path}")
    return recs


def default_out_dir(root):
    return os.path.join(root, "bench", "out", time.strftime("%Y%m%d-%H%M%S"))
