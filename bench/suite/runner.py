"""Runs scenarios: for each, the floor, the host pair and its condition,
then every setting `runs` times in alternating order, each run's record
appended to the results file as it ends."""
import contextlib
import os
import tempfile
import time

from . import (content, engine_driver, faults, floor, hostload, hosts, linkcheck, qemu_driver,
               results, tlscreds, vmig_driver)
from .context import RunContext
from .scenarios import interleaved_order

DRIVERS = {"vmig": vmig_driver, "qemu": qemu_driver}
# --guest double: vmig's engine on a test-double guest, and no QEMU runs
DOUBLE_DRIVERS = {"vmig": engine_driver}
GIB = 1 << 30
# Seconds of the nominal rate the link check sends before a scenario's runs.
LINK_CHECK_S = 2


def summary(rec):
    """One line for the terminal."""
    head = f"[{rec['scenario']} r{rec['round']}] {rec['system']} {rec['setting']}:"
    if not rec.get("converged"):
        return f"{head} {rec.get('status')} {(rec.get('error') or '')[:160]}{outage_note(rec)}"
    cpu = rec.get("cpu") or {}
    src, dst = cpu.get("src") or {}, cpu.get("dst") or {}
    return (f"{head} {rec['total_ms'] / 1000:.2f} s, downtime {rec.get('downtime_ms')} ms, "
            f"wire {(rec.get('wire_bytes') or 0) / (1 << 20):.0f} MiB, migration CPU "
            f"src {src.get('other_s', '?')} s dst {dst.get('other_s', '?')} s, "
            f"guest slowdown {rec.get('guest_slowdown')}, errors after {rec.get('errors_after')}"
            f"{outage_note(rec)}")


def outage_note(rec):
    """'; outage ...' for a run of an outage cell, else ''."""
    o = rec.get("outage")
    if not o:
        return ""
    if not o.get("happened"):
        return f"; outage never began {o.get('error') or '(the migration ended first)'}"
    line = f"; link down {o['down_ms'] / 1000:.1f}-{o['up_ms'] / 1000:.1f} s"
    if o.get("late"):
        line += " (late)"
    if o.get("wire_after") is not None:
        line += f", {o['wire_after'] / (1 << 20):.0f} MiB sent after it"
    return line


def prewarm_bytes(scenario):
    """Both VMMs' RAM and a GiB more, within half of what the host has free."""
    want = 2 * scenario.mem_bytes + GIB
    return min(want, hostload.available_bytes() // 2)


def run_scenario(sc, opts, out_path, log=print):
    """Runs one scenario's settings; returns its run records."""
    modules = content.ensure(sc.content, log=log)
    fl = floor.for_scenario(opts.build, sc, modules)
    results.append(out_path, fl)
    log(f"== {sc.name}: {sc.description}\n   floor {fl['floor_s']:.2f} s "
        f"({fl['codec']}-{fl['level']}, {fl['bound']}-bound)")
    if not opts.no_prewarm:
        log(f"   pre-warmed host memory in {hostload.prewarm(prewarm_bytes(sc)):.1f} s")
    pair = hosts.make_pair(sc.link)
    burners = None
    recs = []
    try:
        cell, creds = set_up_link(sc, pair, opts, out_path, log)
        if sc.host == "busy":
            burners = hostload.Burners([pair.prefix("a"), pair.prefix("b")])
        for round_no in range(opts.runs or sc.runs):
            for setting in interleaved_order(sc.settings, round_no):
                driver = driver_for(setting.system, opts.accel, guest_kind(opts))
                if not driver:
                    continue  # the runner said at the start what does not run
                outage = cell.new_outage() if cell else None
                with run_dir(opts, sc, setting, round_no) as tmp:
                    ctx = RunContext(scenario=sc, pair=pair, build=opts.build, tmpdir=tmp,
                                     accel=opts.accel, modules=modules, tls_creds=creds,
                                     on_sample=outage.on_sample if outage else None,
                                     write_fault_ns=getattr(opts, "write_fault_ns", 0))
                    rec = driver.run(ctx, setting, round_no)
                if outage:
                    rec["outage"] = outage.finish(rec.get("wire_bytes"))
                if burners and rec.get("window"):
                    rec.update(burners.figures(rec["window"]["t0"], rec["window"]["t1"]))
                results.append(out_path, rec)
                recs.append(rec)
                log(summary(rec))
    finally:
        if burners:
            burners.stop()
        pair.destroy()
    return recs


def guest_kind(opts):
    return getattr(opts, "guest", "guestload")


def driver_for(system, accel, guest):
    """The driver that runs a setting of `system`, or None when it does not
    run: vmig's VMM is KVM only (--accel tcg runs QEMU alone), and with
    --guest double only vmig's engine runs, on its test-double guest."""
    if guest == "double":
        return DOUBLE_DRIVERS.get(system)
    if system == "vmig" and accel != "kvm":
        return None
    return DRIVERS[system]


def set_up_link(sc, pair, opts, out_path, log):
    """The link as the scenario wants it, measured: its rate, and for a
    fault cell its fault (checked) and TLS credentials. Returns (the
    cell's fault or None, the --tls-creds directory or "")."""
    cell = fault_cell(sc, pair, opts)
    if cell:
        cell.shape_wire()
    if sc.link_bits_per_s:
        got = linkcheck.measure(pair, LINK_CHECK_S, sc.link_bits_per_s)
        results.append(out_path, {"type": "link", "scenario": sc.name,
                                  "nominal_bps": sc.link_bits_per_s, "measured_bps": got})
        log(f"   link {sc.link}: one TCP stream got {got / 1e9:.2f} Gbit/s")
    if cell:
        check = {"type": "fault_check", "scenario": sc.name, **cell.setup(sc.link_bits_per_s)}
        results.append(out_path, check)
        log(f"   fault {sc.fault}: {fault_check_line(check)}")
    creds = tlscreds.ensure(os.path.join(opts.out_dir, "certs"), pair.dst_host) if sc.tls else ""
    return cell, creds


def fault_cell(sc, pair, opts):
    """The cell's fault on its netns pair, or None (an ordinary scenario,
    or a fault-free cell on loopback, where there is no wire to shape)."""
    if not sc.family or not hasattr(pair, "veth_ends"):
        return None
    return faults.CellFault(faults.parse(sc.fault), sc.fault_at, pair,
                            os.path.join(opts.out_dir, "bpf"))


def fault_check_line(check):
    """The terminal's line for a fault check."""
    if "loss" in check:
        ab, ba = check["loss"]["a_to_b"], check["loss"]["b_to_a"]
        return (f"measured {ab['rate'] * 100:.3f} % a to b ({ab['dropped']}/{ab['packets']}), "
                f"{ba['rate'] * 100:.3f} % b to a; a TCP stream got "
                f"{check['loss']['stream_bps'] / 1e6:.0f} Mbit/s")
    if "outage" in check:
        return (f"a connect during the outage: {check['outage']['during']}, after: "
                f"{check['outage']['after']}")
    return "none (one packet per segment on the wire)"


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


def estimate_s(scenarios, runs_override=0, accel="kvm", guest="guestload"):
    """Worst case: every run to its timeout, plus boot, fill and warm-up."""
    per_run_overhead_s = 15
    total = 0
    for sc in scenarios:
        n = sum(1 for s in sc.settings if driver_for(s.system, accel, guest))
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
