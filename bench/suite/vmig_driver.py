"""One vmig migration: a source VM booted with guestload on host a, a
destination waiting on host b, `vmig migrate --json` with the setting's
arguments, and query-migrate polled beside it for the timeline."""
import json
import os
import subprocess
import time

from . import control, cpuacct, floor, guestlog, metrics, timeline
from .procs import exit_reason, recorded_run

START_TIMEOUT_S = 60     # boot and fill of the guest
DOWNTIME_MS = 300        # both systems get the same limit (qemu_driver.DOWNTIME_MS)
# what `vmig run --incoming` prints once it listens (src/cli/cmd_run.c)
DEST_LISTENING = "waiting for an incoming migration"
# "none" is not among them: it is what the source says before `vmig migrate`
# has sent its migrate command, so the first poll of every run saw it, and
# the timeline, the CPU figures and the guest's slowdown were cut to that one
# sample (found under nested emulation, where starting a process is slow).
FINAL = ("completed", "failed", "cancelled", "unconfirmed")
# Fault cells give it explicitly (it is `vmig migrate`'s default too): a
# link lost before the handover is reconnected and resumed for this long.
RESUME_TIMEOUT_S = 60


def migration_over(sample_, migrate_exited):
    """Whether the timeline ends: a final status, or `vmig migrate` gone (a
    migration that never started ends there too)."""
    return sample_["status"] in FINAL or migrate_exited


PAGE_KINDS = ("normal", "zero", "compressed", "xbzrle")


def first_sweep_done(reply):
    """The share of guest RAM sent so far while the first sweep over it
    lasts, else None. Not pass 1's own share: with a link probe, pass 1
    is the probe's 64 MiB and pass 2 the rest of RAM, so half of pass 1
    would put an outage at 32 MiB where QEMU's is at half of RAM."""
    pages = reply.get("pages")
    total = (reply.get("ram_bytes") or 0) // floor.PAGE
    if not pages or not total:
        return None
    sent = sum(pages.get(k) or 0 for k in PAGE_KINDS)
    if sent >= total:
        return None
    return sent / total


def sample(reply):
    """A timeline sample from vmig's query-migrate (docs/control.md);
    first_pass_done is the share of RAM sent, while the first sweep over
    it lasts (first_sweep_done)."""
    first = first_sweep_done(reply) if reply.get("status") == "active" else None
    return {"status": reply.get("status"), "throughput_mibs": reply.get("throughput_mibs"),
            "dirty_rate_mibs": reply.get("dirty_rate_mibs"),
            "throttle_pct": reply.get("throttle_pct"),
            "remaining_bytes": reply.get("remaining_bytes"),
            "pass": reply.get("iterations"), "wire_bytes": reply.get("wire_bytes"),
            "first_pass_done": first, "reconnect_attempts": reply.get("reconnect_attempts")}


def final_figures(j):
    """The record's figures from `vmig migrate --json`'s final object."""
    done = j.get("status") == "completed"
    return {"status": j.get("status", "failed"), "converged": done, "error": j.get("error"),
            "total_ms": j.get("total_ms"),
            "downtime_ms": j.get("downtime_ms") if done else None,
            "guest_downtime_ms": j.get("guest_downtime_ms") if done else None,
            "wire_bytes": j.get("wire_bytes"), "ram_bytes": j.get("ram_bytes"),
            "passes": j.get("iterations"), "throttle_pct_max": None,
            "throttle_steps": j.get("throttle_steps"), "codec": j.get("codec"),
            "policy": j.get("policy"), "verified": j.get("verified"),
            "reconnect_attempts": j.get("reconnect_attempts"),
            "reconnect_ms": j.get("reconnect_ms"), "resumes": j.get("resumes"),
            "tls_session": j.get("tls")}


def vm_commands(ctx, tmp, port):
    sc = ctx.scenario
    src = [ctx.vmig, "run", "--mem", sc.mem, "--vcpus", str(sc.vcpus), "--guest", ctx.guest,
           "--guest-args", ctx.guest_args, "--serial", os.path.join(tmp, "vmig-src.log"),
           "--control", os.path.join(tmp, "vmig-src.sock")]
    if ctx.modules:
        src += ["--module", ",".join(ctx.modules)]
    dst = [ctx.vmig, "run", "--incoming", f"tcp:{ctx.pair.dst_host}:{port}",
           "--serial", os.path.join(tmp, "vmig-dst.log"),
           "--control", os.path.join(tmp, "vmig-dst.sock"), *fault_args(ctx)]
    return ctx.command("a", src), ctx.command("b", dst)


def tls_args(ctx):
    """--tls-creds for both sides of a TLS cell (the same directory:
    QEMU's layout holds the server's and the client's keys)."""
    return ["--tls-creds", ctx.tls_creds] if ctx.tls_creds else []


def fault_args(ctx):
    """What a fault cell adds to both `vmig run --incoming` and `vmig
    migrate`: the resume timeout (each side keeps its state that long), TLS."""
    if not ctx.scenario.family:
        return []
    return ["--resume-timeout", str(RESUME_TIMEOUT_S), *tls_args(ctx)]


def run(ctx, setting, round_no):
    """Runs one migration; returns its record (never raises for a failed
    migration: the record says what happened)."""
    rec = ctx.record(setting, round_no)
    rec["args"] = " ".join([*setting.args, *fault_args(ctx)])
    return recorded_run(ctx, rec, lambda procs: _migrate(ctx, setting, procs))


def _migrate(ctx, setting, procs):
    sc, tmp, port = ctx.scenario, ctx.tmpdir, ctx.port()
    src_cmd, dst_cmd = vm_commands(ctx, tmp, port)
    src, dst = procs.start("vmig-src", src_cmd), procs.start("vmig-dst", dst_cmd)
    src_log = guestlog.GuestLog(os.path.join(tmp, "vmig-src.log"))
    dst_log = guestlog.GuestLog(os.path.join(tmp, "vmig-dst.log"))
    alive = lambda: src.poll() is None  # noqa: E731
    try:
        ctl = control.connect(control.LineClient, os.path.join(tmp, "vmig-src.sock"),
                              START_TIMEOUT_S, alive)
        src_log.wait_for_t(sc.warmup_s, START_TIMEOUT_S, alive)
        # the destination's control socket appears only once a guest runs
        # there, after the migration: its "waiting" line says it listens
        control.wait_for_text(os.path.join(tmp, "vmig-dst.out"), DEST_LISTENING, START_TIMEOUT_S,
                              lambda: dst.poll() is None)
    except (RuntimeError, control.ControlError) as e:
        raise RuntimeError(f"{e}; source: {exit_reason(src) or 'running'}: "
                           f"{procs.tail('vmig-src')}") from None
    before_t0 = src_log.progress[0]["host_t"]
    trackers = [cpuacct.Tracker(src.pid), cpuacct.Tracker(dst.pid)]
    t0 = time.monotonic()
    mig = subprocess.Popen([ctx.vmig, "migrate", "--control", os.path.join(tmp, "vmig-src.sock"),
                            f"tcp:{ctx.pair.dst_host}:{port}", "--json", "--timeout",
                            str(sc.timeout_s), "--downtime-ms", str(DOWNTIME_MS), *setting.args,
                            *fault_args(ctx)],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples, _ = timeline.follow(lambda: sample(ctl.call("query-migrate")),
                                 lambda s: migration_over(s, mig.poll() is not None),
                                 trackers, src_log, t0, sc.timeout_s + 30, ctx.on_sample)
    t1 = time.monotonic()
    try:
        out, err = mig.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        mig.kill()
        out, err = mig.communicate()
    try:
        j = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        j = {"status": "failed", "error": f"vmig migrate printed no JSON: {err.strip()[-300:]}"}
    rec = metrics.add_run_figures(final_figures(j), samples, trackers, sc.mem_bytes, src_log,
                                  dst_log, before_t0, t0, t1)
    ctl.close()
    return rec
