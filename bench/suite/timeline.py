"""The migration's timeline: every POLL_S the system's own progress query
(vmig's query-migrate, QEMU's QMP query-migrate), both processes' CPU and
the guest's latest progress line, as one list of samples."""
import time

POLL_S = 0.1


def follow(query, finished, trackers, guestlog, t0, deadline_s, on_sample=None):
    """Polls until finished() says so or deadline_s passes; returns
    (samples, last reply). query() returns a normalised sample dict (see
    vmig_driver.sample / qemu_driver.sample) or raises when the system is
    gone; finished(sample) decides the end; on_sample(sample), when given,
    sees each sample as it comes (a fault's trigger, outage.py)."""
    samples, last = [], None
    while True:
        for t in trackers:
            t.poll()
        try:
            s = query()
        except Exception as e:  # noqa: BLE001  the VMM may exit at the end
            if last is None:
                raise RuntimeError(f"progress query failed: {e}") from e
            break
        guestlog.poll()
        g = guestlog.progress[-1] if guestlog.progress else None
        s["t_ms"] = int((time.monotonic() - t0) * 1000)
        s["guest_dirty_mibs"] = g["dirty_mibs"] if g and g["host_t"] >= t0 else None
        samples.append(s)
        last = s
        if on_sample:
            on_sample(s)
        if finished(s):
            for t in trackers:  # once more: the source may still be there
                t.poll()
            break
        if time.monotonic() - t0 > deadline_s:
            break
        time.sleep(POLL_S)
    return samples, last
