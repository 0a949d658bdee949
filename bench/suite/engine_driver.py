"""One migration of vmig's engine with a TEST-DOUBLE guest (bench/enginesim,
no KVM): the same `vmig migrate` arguments as vmig_driver gives the real
VMM, the same netns hosts, links and host conditions, so the policy can be
measured where /dev/kvm is absent. What it cannot show: KVM's dirty-logging
costs and vCPU exits (the guest's writes are a thread's).

The source writes guestload's progress lines (--serial) and query-migrate's
figures every 100 ms (--samples); its last stdout line is the final object
`vmig migrate --json` prints, with the RAM hash taken at the handover; the
destination prints the hash of what it received, then runs the guest's
workload for a second with guestload's own page checks (its progress lines,
errors= included, on its stdout)."""
import json
import os
import re
import subprocess
import time

from . import control, cpuacct, guestlog, metrics, timeline, vmig_driver
from .procs import exit_reason, recorded_run

START_TIMEOUT_S = 60     # fill of the test-double guest's RAM
DEST_LISTENING = "enginesim: waiting for an incoming migration"
RAM_HASH = re.compile(r"^enginesim: ram (\S+)$", re.M)
# The driver waits for the guest's warm-up, then the migration starts this
# much later by the source's own clock (so the CPU trackers start before it).
START_MARGIN_S = 1
# The destination runs its guest about a second after the stream ends.
DEST_EXIT_S = 15


def commands(ctx, tmp, port, setting):
    """(source, destination) command lines on their hosts."""
    sc = ctx.scenario
    uri = f"tcp:{ctx.pair.dst_host}:{port}"
    src = [enginesim(ctx), "source", "--mem", sc.mem, "--vcpus", str(sc.vcpus),
           "--guest-args", ctx.guest_args, "--serial", os.path.join(tmp, "engine-src.log"),
           "--samples", os.path.join(tmp, "engine-samples.jsonl"),
           "--warmup-s", str(sc.warmup_s + START_MARGIN_S),
           "--write-fault-ns", str(ctx.write_fault_ns),
           *(["--module", ",".join(ctx.modules)] if ctx.modules else []), "--",
           "--timeout", str(sc.timeout_s), "--downtime-ms", str(vmig_driver.DOWNTIME_MS),
           *setting.args, *vmig_driver.fault_args(ctx), uri]
    dst = [enginesim(ctx), "dest", "--incoming", uri, *vmig_driver.fault_args(ctx)]
    return ctx.command("a", src), ctx.command("b", dst)


def enginesim(ctx):
    return os.path.join(ctx.build, "enginesim")


def run(ctx, setting, round_no):
    """Runs one migration; returns its record (a failed one is recorded)."""
    rec = ctx.record(setting, round_no)
    rec["guest_kind"] = "test double (bench/enginesim)"
    rec["args"] = " ".join([*setting.args, *vmig_driver.fault_args(ctx)])
    return recorded_run(ctx, rec, lambda procs: _migrate(ctx, setting, procs))


class SampleFile:
    """The source's --samples file: query() returns its latest line as a
    timeline sample (vmig_driver.sample's fields)."""

    def __init__(self, path):
        self.path, self.last = path, {"status": "none"}

    def query(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - 16384))
                lines = f.read().decode(errors="replace").splitlines()
        except FileNotFoundError:
            lines = []
        for line in reversed(lines):
            try:
                self.last = json.loads(line)
                break
            except ValueError:
                continue  # a line still being written
        return vmig_driver.sample(self.last)


def _migrate(ctx, setting, procs):
    sc, tmp, port = ctx.scenario, ctx.tmpdir, ctx.port()
    src_cmd, dst_cmd = commands(ctx, tmp, port, setting)
    dst = procs.start("engine-dst", dst_cmd)
    control.wait_for_text(os.path.join(tmp, "engine-dst.out"), DEST_LISTENING, START_TIMEOUT_S,
                          lambda: dst.poll() is None)
    src = procs.start("engine-src", src_cmd)
    src_log = guestlog.GuestLog(os.path.join(tmp, "engine-src.log"))
    try:
        src_log.wait_for_t(sc.warmup_s, START_TIMEOUT_S, lambda: src.poll() is None)
    except RuntimeError as e:
        raise RuntimeError(f"{e}; source: {exit_reason(src) or 'running'}: "
                           f"{procs.tail('engine-src')}") from None
    before_t0 = src_log.progress[0]["host_t"]
    trackers = [cpuacct.Tracker(src.pid), cpuacct.Tracker(dst.pid)]
    t0 = time.monotonic()
    samples_file = SampleFile(os.path.join(tmp, "engine-samples.jsonl"))
    samples, _ = timeline.follow(
        samples_file.query,
        lambda s: vmig_driver.migration_over(s, src.poll() is not None),
        trackers, src_log, t0, sc.timeout_s + START_MARGIN_S + 30, ctx.on_sample)
    t1 = time.monotonic()
    wait_quietly(src, 30)
    rec = vmig_driver.final_figures(final_object(procs.tail("engine-src", 65536)))
    # a completed destination prints its hash and exits after a short run;
    # a failed one may wait for a resume (stop_all ends it)
    wait_quietly(dst, DEST_EXIT_S if rec["converged"] else 0)
    rec = metrics.add_timeline_figures(rec, samples, trackers, sc.mem_bytes, src_log,
                                       before_t0, t0, t1)
    rec.update(hash_check(procs, rec["converged"]))
    rec.update(page_check(os.path.join(tmp, "engine-dst.out"), rec))
    return rec


def wait_quietly(p, timeout_s):
    try:
        p.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        pass  # stop_all kills what is left


def final_object(src_out):
    """The source's last stdout line as JSON, or a failure saying why."""
    for line in reversed(src_out.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                break
    return {"status": "failed", "error": f"enginesim source printed no JSON: {src_out[-300:]}"}


def page_check(dst_out, rec):
    """errors_after: the bad pages the destination's page checks found
    (guestload's count), at least 1 when the RAM hashes differ; unchanged
    when the destination printed no count."""
    if not rec.get("converged"):
        return {}
    found = guestlog.GuestLog(dst_out).last_errors()
    if found is None:
        return {}
    return {"errors_after": max(found, rec.get("errors_after") or 0)}


def hash_check(procs, completed):
    """errors_after: 0 when the RAM the destination received hashes as the
    source's at the handover, 1 when it differs; the hashes themselves for
    the record."""
    if not completed:
        return {"errors_after": None, "guest_fatal": None}
    s = RAM_HASH.findall(procs.tail("engine-src", 65536))
    d = RAM_HASH.findall(procs.tail("engine-dst", 65536))
    if not s or not d:
        return {"errors_after": None, "guest_fatal": "a side printed no RAM hash",
                "ram_hashes": [s[-1] if s else None, d[-1] if d else None]}
    return {"errors_after": 0 if s[-1] == d[-1] else 1, "guest_fatal": None,
            "ram_hashes": [s[-1], d[-1]]}
