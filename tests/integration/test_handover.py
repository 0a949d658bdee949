"""Handover and cancel on real KVM guests: a lost confirmation keeps the
source guest paused and alive until the operator says which side runs it;
cancel and quit take effect at once, even under a tiny bandwidth cap."""
import time

from cutproxy import CutProxy
from vmlib import VM, free_port


def _unconfirmed_source(record, to):
    src = VM(mem="128M", guest_args="ws=8M rate=20")
    src.wait_progress(min_t=1)
    port = free_port()
    dst = VM(incoming=f"tcp:127.0.0.1:{port}")
    proxy = CutProxy(port, record, to)
    rc, j, err = src.migrate(proxy.uri)
    proxy.close()
    assert proxy.fired.is_set()
    assert j and j["status"] == "unconfirmed", (rc, j, err)
    assert rc == 3, (rc, j)
    st = src.call("query-status")
    assert st["status"] == "paused" and st.get("handover") == "unconfirmed", st
    assert src.proc.poll() is None, src.stderr_text()   # alive, never ended on its own
    r = src.call("migrate", {"uri": f"tcp:127.0.0.1:{free_port()}"}, check=False)
    assert "error" in r and "unconfirmed" in r["error"]["desc"], r
    return src, dst


def test_lost_go_keeps_the_source_paused_then_cont_resumes_it():
    src, dst = _unconfirmed_source("GO", "dest")
    assert dst.wait_exit(30) == 1, dst.stderr_text()      # no GO: it discards
    src.call("cont")
    t = src.guest()["t_s"]
    g = src.wait_progress(min_t=t + 2)
    assert g["errors"] == 0, g
    assert src.call("query-status")["status"] == "running"
    src.quit()


def test_lost_resumed_keeps_the_source_paused_then_quit_ends_it():
    src, dst = _unconfirmed_source("RESUMED", "source")
    dst.connect()                                          # it runs there
    g = dst.wait_progress(min_t=dst.guest()["t_s"] + 1)
    assert g["errors"] == 0, g
    assert src.quit() == 0, src.stderr_text()
    dst.quit()


def _capped_migration():
    """A source migrating at 1000 bytes/s: it would take days."""
    src = VM(mem="128M", guest_args="ws=8M rate=20")
    src.wait_progress(min_t=1)
    port = free_port()
    VM(incoming=f"tcp:127.0.0.1:{port}")
    src.call("migrate", {"uri": f"tcp:127.0.0.1:{port}", "max_bandwidth": 1000})
    time.sleep(1)
    return src


def test_cancel_and_new_migrate_under_a_tiny_bandwidth():
    src = _capped_migration()
    t0 = time.monotonic()
    src.call("migrate-cancel")
    while src.call("query-migrate")["status"] not in ("cancelled", "failed"):
        assert time.monotonic() - t0 < 2, src.call("query-migrate")
        time.sleep(0.01)
    assert src.call("query-migrate")["status"] == "cancelled"
    # a new migration is accepted at once (it fails: nobody listens there)
    src.call("migrate", {"uri": f"tcp:127.0.0.1:{free_port()}"})
    assert src.call("query-status")["status"] == "running"
    assert src.quit() == 0


def test_quit_during_a_capped_migration_ends_the_process():
    src = _capped_migration()
    t0 = time.monotonic()
    assert src.quit(timeout=5) == 0, src.stderr_text()
    assert time.monotonic() - t0 < 2


def test_auto_converge_brings_a_fast_guest_over_a_capped_link():
    # 1 GiB/s+ of dirtying against a 40 MB/s cap: hopeless without a throttle
    src = VM(mem="256M", guest_args="ws=64M rate=0 write=word")
    src.wait_progress(min_t=1)
    port = free_port()
    dst = VM(incoming=f"tcp:127.0.0.1:{port}")
    rc, j, err = src.migrate(f"tcp:127.0.0.1:{port}", "--max-bandwidth", "40M",
                             "--auto-converge", "--timeout", "240", timeout=300)
    assert rc == 0 and j["status"] == "completed", (rc, j, err)
    assert j["throttle_steps"] >= 1 and j["throttle_pct"] == 0, j
    dst.connect()
    g = dst.wait_progress(min_t=dst.guest()["t_s"] + 1)
    assert g["errors"] == 0, g
    dst.quit()
