"""The figures both drivers report the same way: CPU per side and per GiB,
the guest's slowdown, and whether the migrated guest still checks out."""
import time

from . import guestlog

GIB = float(1 << 30)
# How long the migrated guest runs before its error count is read: its
# page checks need a few of its once-a-second progress lines.
SETTLE_S = 3.0


def cpu_figures(src, dst, mem_bytes):
    """{"cpu": {src, dst}, "cpu_s_per_gib": migration CPU (both sides, vCPU
    threads excluded) per GiB of guest RAM} from two cpuacct.Trackers."""
    cpu = {"src": src.result(), "dst": dst.result()}
    if cpu["src"] is None or cpu["dst"] is None:
        return {"cpu": cpu, "cpu_s_per_gib": None}
    other = cpu["src"]["other_s"] + cpu["dst"]["other_s"]
    return {"cpu": cpu, "cpu_s_per_gib": round(other / (mem_bytes / GIB), 3)}


def guest_figures(src_log, before_t0, t0, t1):
    """The guest's dirty rate before (from before_t0 to t0) and during the
    migration (t0 to t1, host clock), and the share it lost."""
    before = guestlog.mean_rate(src_log.progress, before_t0, t0)
    during = guestlog.mean_rate(src_log.progress, t0, t1)
    return {"guest_rate_before_mibs": before, "guest_rate_during_mibs": during,
            "guest_slowdown": guestlog.slowdown(before, during)}


def guest_check(dst_log, completed):
    """After the migrated guest ran a little: its page-check error count
    (pages lost or corrupted by the migration) and its FATAL line if an
    exception ended it."""
    if not completed:
        return {"errors_after": None, "guest_fatal": None}
    time.sleep(SETTLE_S)
    return {"errors_after": dst_log.last_errors(), "guest_fatal": dst_log.fatal()}


def add_run_figures(rec, samples, trackers, mem_bytes, src_log, dst_log, before_t0, t0, t1):
    """What every driver adds to a migration's record beside its own final
    figures: the peak throttle of the timeline, CPU per side, the guest's
    slowdown and page check, and the timeline itself."""
    add_timeline_figures(rec, samples, trackers, mem_bytes, src_log, before_t0, t0, t1)
    rec.update(guest_check(dst_log, rec["converged"]))
    return rec


def add_timeline_figures(rec, samples, trackers, mem_bytes, src_log, before_t0, t0, t1):
    """All of add_run_figures but the migrated guest's page check (a
    driver whose guest cannot check its pages has its own)."""
    throttles = [x["throttle_pct"] for x in samples if x.get("throttle_pct") is not None]
    rec["throttle_pct_max"] = max(throttles) if throttles else None
    rec.update(cpu_figures(trackers[0], trackers[1], mem_bytes))
    rec.update(guest_figures(src_log, before_t0, t0, t1))
    rec["timeline"] = samples
    rec["window"] = {"t0": t0, "t1": t1}  # host monotonic s: what else ran then (the runner)
    return rec
