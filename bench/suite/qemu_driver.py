"""One QEMU migration with the same guest (guestload.elf booted with
-kernel) and the same arguments: a source on host a, a destination on host
b started with -incoming defer (so multifd can be set up before it
listens), the setting's capabilities on both sides and its parameters,
QMP query-migrate polled for the timeline."""
import os
import time

from . import control, cpuacct, guestlog, metrics, timeline
from .procs import exit_reason, recorded_run

QEMU = os.environ.get("VMIG_BENCH_QEMU", "qemu-system-x86_64")
START_TIMEOUT_S = 60
DOWNTIME_MS = 300                  # as vmig_driver.DOWNTIME_MS
UNCAPPED_BANDWIDTH = 64 << 30      # QEMU caps at 128 MiB/s by default: lift it
# multifd's parameters must match on both sides; the rest are the source's.
BOTH_SIDES_PARAMS = ("multifd-channels", "multifd-compression", "tls-creds")
FINAL = ("completed", "failed", "cancelled")
MIB = float(1 << 20)
# The id of the TLS credentials object a TLS cell gives both sides.
TLS_OBJECT_ID = "tls0"


def sample(reply):
    """A timeline sample from QMP query-migrate (QEMU 7.2's MigrationInfo):
    ram.mbps is Mbit/s, ram.dirty-pages-rate pages/s."""
    ram = reply.get("ram", {})
    page = ram.get("page-size", 4096)
    mbps, dpr = ram.get("mbps"), ram.get("dirty-pages-rate")
    first = None
    if ram.get("dirty-sync-count") == 1 and ram.get("total"):
        first = 1 - ram.get("remaining", ram["total"]) / ram["total"]
    return {"status": reply.get("status"),
            "throughput_mibs": round(mbps * 1e6 / 8 / MIB, 1) if mbps is not None else None,
            "dirty_rate_mibs": round(dpr * page / MIB, 1) if dpr is not None else None,
            "throttle_pct": reply.get("cpu-throttle-percentage", 0),
            "remaining_bytes": ram.get("remaining"),
            "pass": ram.get("dirty-sync-count"), "wire_bytes": ram.get("transferred"),
            "first_pass_done": first}


def final_figures(reply, elapsed_ms):
    """The record's figures from the last query-migrate. QEMU sees no
    guest heartbeat, so its guest-observed downtime is unknown (None)."""
    ram = reply.get("ram", {})
    done = reply.get("status") == "completed"
    return {"status": reply.get("status", "failed"), "converged": done,
            "error": reply.get("error-desc"),
            "total_ms": reply.get("total-time", elapsed_ms),
            "downtime_ms": reply.get("downtime") if done else None,
            "guest_downtime_ms": None,
            "wire_bytes": ram.get("transferred"),
            "ram_bytes": ram.get("normal-bytes"),
            "passes": ram.get("dirty-sync-count"),
            "throttle_steps": None, "codec": None, "policy": None}


def setting_commands(setting, tls=False):
    """(caps, source params, destination params) as QMP arguments; with
    tls, both sides use the credentials object TLS_OBJECT_ID (the source
    checks the destination's certificate against the URI's host)."""
    caps = [{"capability": c, "state": True} for c in setting.caps]
    params = dict(setting.params)
    if tls:
        params["tls-creds"] = TLS_OBJECT_ID
    src = {"max-bandwidth": UNCAPPED_BANDWIDTH, "downtime-limit": DOWNTIME_MS, **params}
    dst = {k: v for k, v in params.items() if k in BOTH_SIDES_PARAMS}
    return caps, src, dst


def tls_object(creds_dir, endpoint):
    """-object tls-creds-x509 for one side ("client": the source, "server":
    the destination); QEMU reads the same file layout as vmig's --tls-creds."""
    return ["-object", f"tls-creds-x509,id={TLS_OBJECT_ID},dir={creds_dir},endpoint={endpoint}"]


def vm_commands(ctx, tmp):
    sc = ctx.scenario
    # debug-threads=on: QEMU names its threads ("CPU 0/KVM") only when asked,
    # and the CPU split (cpuacct.py) needs the names.
    base = [QEMU, "-name", "vmig-bench,debug-threads=on", "-accel", ctx.accel, "-m", sc.mem, "-smp", str(sc.vcpus), "-display", "none",
            "-no-reboot", "-kernel", ctx.guest, "-append", ctx.guest_args]
    if ctx.modules:
        base += ["-initrd", ",".join(ctx.modules)]
    side = lambda n, extra: [*base, "-serial", f"file:{tmp}/qemu-{n}.log",  # noqa: E731
                             "-qmp", f"unix:{tmp}/qemu-{n}.sock,server=on,wait=off", *extra]
    tls = (lambda e: tls_object(ctx.tls_creds, e)) if ctx.tls_creds else (lambda e: [])  # noqa: E731
    return (ctx.command("a", side("src", tls("client"))),
            ctx.command("b", side("dst", ["-incoming", "defer", *tls("server")])))


def run(ctx, setting, round_no):
    """Runs one migration; returns its record (a failure is recorded, not raised)."""
    rec = ctx.record(setting, round_no)
    rec["caps"], rec["params"] = list(setting.caps), dict(setting.params)
    return recorded_run(ctx, rec, lambda procs: _migrate(ctx, setting, procs))


def _start(ctx, procs, tmp):
    src_cmd, dst_cmd = vm_commands(ctx, tmp)
    src, dst = procs.start("qemu-src", src_cmd), procs.start("qemu-dst", dst_cmd)
    try:
        s = control.connect(control.QmpClient, f"{tmp}/qemu-src.sock", START_TIMEOUT_S,
                            lambda: src.poll() is None)
        d = control.connect(control.QmpClient, f"{tmp}/qemu-dst.sock", START_TIMEOUT_S,
                            lambda: dst.poll() is None)
    except control.ControlError as e:
        who = "qemu-src" if src.poll() is not None else "qemu-dst"
        p = src if who == "qemu-src" else dst
        raise RuntimeError(f"{e}; {who}: {exit_reason(p) or 'running'}: {procs.tail(who)}") from None
    return src, dst, s, d


def _migrate(ctx, setting, procs):
    sc, tmp, port = ctx.scenario, ctx.tmpdir, ctx.port()
    src, dst, s, d = _start(ctx, procs, tmp)
    src_log = guestlog.GuestLog(f"{tmp}/qemu-src.log")
    dst_log = guestlog.GuestLog(f"{tmp}/qemu-dst.log")
    src_log.wait_for_t(sc.warmup_s, START_TIMEOUT_S, lambda: src.poll() is None)
    caps, src_params, dst_params = setting_commands(setting, bool(ctx.tls_creds))
    uri = f"tcp:{ctx.pair.dst_host}:{port}"
    for side, params in ((s, src_params), (d, dst_params)):
        if caps:
            side.call("migrate-set-capabilities", {"capabilities": caps})
        if params:
            side.call("migrate-set-parameters", params)
    d.call("migrate-incoming", {"uri": uri})
    time.sleep(0.2)  # the destination listening
    before_t0 = src_log.progress[0]["host_t"]
    trackers = [cpuacct.Tracker(src.pid), cpuacct.Tracker(dst.pid)]
    t0 = time.monotonic()
    s.call("migrate", {"uri": uri})
    samples, _ = timeline.follow(lambda: sample(s.call("query-migrate")),
                                 lambda x: x["status"] in FINAL, trackers, src_log, t0,
                                 sc.timeout_s, ctx.on_sample)
    reply = s.call("query-migrate")
    elapsed_ms = int((time.monotonic() - t0) * 1000)
    t1 = time.monotonic()
    if reply.get("status") not in FINAL:
        s.call("migrate_cancel")
        reply = dict(reply, status="timed-out")
    rec = metrics.add_run_figures(final_figures(reply, elapsed_ms), samples, trackers,
                                  sc.mem_bytes, src_log, dst_log, before_t0, t0, t1)
    rec["qemu_reply"] = reply
    s.close()
    d.close()
    return rec
