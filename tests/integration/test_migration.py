"""Live migration between two vmig processes on real KVM guests."""
import json
import os
import subprocess
import threading
import time

import pytest

import netns
import vmlib
from vmlib import VM, free_port


def _uri(port, host="127.0.0.1"):
    return f"tcp:{host}:{port}"


def _source_carries_on(src, what):
    """After a failed migration: the source guest runs, progresses, no errors."""
    assert src.call("query-status")["status"] == "running"
    t0 = src.guest()["t_s"]
    g = src.wait_guest(lambda x: x["t_s"] >= t0 + 2, what=what)
    assert g["errors"] == 0, g


def _check_moved(src, dst, j):
    assert j["status"] == "completed", j
    assert j["verified"] is True, j
    assert src.wait_exit(20) == 0, src.stderr_text()
    dst.connect()
    before = dst.guest()
    assert before["errors"] == 0, before
    t0 = before["t_s"]
    g = dst.wait_guest(lambda x: x["t_s"] >= t0 + 2, timeout=30, what="progress on the destination")
    assert g["errors"] == 0, g
    return g


def test_idle_guest():
    src = VM(mem="256M", guest_args="ws=4M rate=1 fill=mixed")
    src.wait_progress(min_t=1)
    port = free_port()
    dst = VM(incoming=_uri(port))
    rc, j, err = src.migrate(_uri(port))
    assert rc == 0, (rc, j, err, src.stderr_text(), dst.stderr_text())
    assert j["pages"]["zero"] > 0 and j["pages"]["normal"] > 0, j
    assert j["ram_bytes"] == 256 << 20
    assert j["guest_downtime_ms"] >= 0, j
    _check_moved(src, dst, j)
    assert dst.call("query-status")["status"] == "running"
    assert dst.quit() == 0


def test_dirtying_guest_converges():
    src = VM(mem="256M", guest_args="ws=64M rate=40 pattern=random fill=text")
    src.wait_progress(min_t=1)
    port = free_port()
    dst = VM(incoming=_uri(port))
    rc, j, err = src.migrate(_uri(port), "--downtime-ms", "300")
    assert rc == 0, (rc, j, err, dst.stderr_text())
    assert j["iterations"] >= 2, j
    _check_moved(src, dst, j)
    dst.quit()


def test_two_vcpus():
    src = VM(mem="128M", vcpus=2, guest_args="ws=8M rate=20")
    src.wait_progress(min_t=1)
    port = free_port()
    dst = VM(incoming=_uri(port))
    rc, j, err = src.migrate(_uri(port))
    assert rc == 0, (rc, j, err, dst.stderr_text())
    _check_moved(src, dst, j)
    assert dst.call("query-status")["vcpus"] == 2
    dst.quit()


def test_no_convergence_times_out_source_keeps_running():
    """A guest dirtying faster than the (capped) link carries cannot
    converge; --timeout fails the migration and the guest stays here."""
    src = VM(mem="256M", guest_args="ws=128M rate=0 fill=random")
    src.wait_progress(min_t=1)
    port = free_port()
    dst = VM(incoming=_uri(port))
    rc, j, err = src.migrate(_uri(port), "--max-bandwidth", "20M", "--timeout", "4",
                             "--downtime-ms", "10")
    assert rc == 1, (rc, j, err)
    assert j["status"] == "failed" and "timed out" in j.get("error", ""), j
    assert dst.wait_exit(20) != 0, "destination should give up and exit non-zero"
    _source_carries_on(src, "source progress after failure")


def test_destination_killed_then_retry():
    src = VM(mem="256M", guest_args="ws=32M rate=10 fill=random")
    src.wait_progress(min_t=1)
    port = free_port()
    dst = VM(incoming=_uri(port))
    # no resume: this is about a destination that is gone for good
    p = subprocess.Popen([vmlib.VMIG, "migrate", "--control", src.control_path, _uri(port),
                          "--json", "--max-bandwidth", "30M", "--resume-timeout", "0"],
                         stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    dst.proc.kill()
    out, errtxt = p.communicate(timeout=60)
    assert p.returncode == 1, (out, errtxt)
    _source_carries_on(src, "source progress after the kill")
    # a second migration afterwards succeeds
    port2 = free_port()
    dst2 = VM(incoming=_uri(port2))
    rc, j, err = src.migrate(_uri(port2))
    assert rc == 0, (rc, j, err, dst2.stderr_text())
    _check_moved(src, dst2, j)
    dst2.quit()


def test_cancel():
    src = VM(mem="256M", guest_args="ws=32M rate=10 fill=random")
    src.wait_progress(min_t=1)
    port = free_port()
    dst = VM(incoming=_uri(port))
    p = subprocess.Popen([vmlib.VMIG, "migrate", "--control", src.control_path, _uri(port),
                          "--json", "--max-bandwidth", "20M"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    src.call("migrate-cancel")
    out, errtxt = p.communicate(timeout=60)
    assert p.returncode == 1 and '"cancelled"' in out, (out, errtxt)
    assert dst.wait_exit(20) != 0
    assert src.call("query-status")["status"] == "running"
    src.quit()


def test_a_to_b_to_a():
    a = VM(mem="128M", guest_args="ws=16M rate=20")
    a.wait_progress(min_t=1)
    port = free_port()
    b = VM(incoming=_uri(port))
    rc, j, err = a.migrate(_uri(port))
    assert rc == 0, (rc, j, err)
    _check_moved(a, b, j)
    port = free_port()
    a2 = VM(incoming=_uri(port))
    rc, j, err = b.migrate(_uri(port))
    assert rc == 0, (rc, j, err, a2.stderr_text())
    g = _check_moved(b, a2, j)
    assert g["errors"] == 0
    a2.quit()


def test_a_monitor_polling_does_not_take_the_result_from_vmig_migrate():
    """A second client polls query-migrate throughout, much faster than
    vmig migrate does. It sees the completion first, but only vmig
    migrate's read (with "release") lets the source exit: vmig migrate
    still prints the result. Before, any reader released the source, and
    vmig migrate said "lost the source VM"."""
    src = VM(mem="128M", guest_args="ws=16M rate=20")
    src.wait_progress(min_t=1)
    port = free_port()
    dst = VM(incoming=_uri(port))
    monitor = vmlib.Control(src.control_path)
    seen = []

    def poll():
        while True:
            try:
                st = monitor.call("query-migrate")["status"]
            except (OSError, RuntimeError, ValueError):
                return  # the source exited after vmig migrate read the result
            seen.append(st)
            if st == "completed":
                return
            time.sleep(0.002)

    t = threading.Thread(target=poll)
    t.start()
    rc, j, err = src.migrate(_uri(port), "--max-bandwidth", "64M")
    t.join(30)
    assert rc == 0, (rc, j, err, src.stderr_text())
    assert "completed" in seen, seen[-5:]
    _check_moved(src, dst, j)
    dst.quit()


def test_only_a_release_read_lets_the_source_exit():
    """A reader without "release" sees the completion and the source stays
    (it lingers up to 3 s for the reader that reports the result); a read
    with "release" lets it exit. Before, the first reader of the
    completion, any reader, ended the source within 100 ms."""
    src = VM(mem="128M", guest_args="ws=16M rate=20")
    src.wait_progress(min_t=1)
    port = free_port()
    dst = VM(incoming=_uri(port))
    monitor = vmlib.Control(src.control_path)
    monitor.call("migrate", {"uri": _uri(port)})
    deadline = time.monotonic() + 60 * vmlib.SLOWDOWN
    while True:
        try:
            st = monitor.call("query-migrate")["status"]
        except OSError as e:
            raise AssertionError(f"the source went away before completing: {e}; "
                                 f"exit {src.proc.poll()}; {src.stderr_text()}") from None
        if st == "completed":
            break
        assert time.monotonic() < deadline, "the migration never completed"
        time.sleep(0.05)
    # well inside the source's 3 s wait for the reader that reports the
    # result; without the fix it had exited 100 ms after this read
    time.sleep(0.5)
    assert src.proc.poll() is None, src.stderr_text()
    assert monitor.call("query-migrate")["status"] == "completed"
    monitor.call("query-migrate", {"release": True})
    assert src.wait_exit(20) == 0, src.stderr_text()
    dst.connect()
    assert dst.guest()["errors"] == 0
    dst.quit()


def _need_netns():
    if not netns.available():
        raise vmlib.Skip("cannot create network namespaces here (needs root and iproute2)")


def _netns_vms(hosts, guest_args, port, dst_extra=()):
    """A 256 MiB source running guest_args on host a, and a destination
    listening on host b at port: (src, dst, uri)."""
    src = VM(mem="256M", guest_args=guest_args, prefix=hosts.exec_prefix("a"))
    src.wait_progress(min_t=1)
    uri = _uri(port, hosts.ip_b)
    dst = VM(incoming=uri, prefix=hosts.exec_prefix("b"), extra=dst_extra)
    time.sleep(0.3)  # the destination listening
    return src, dst, uri


def test_netns_hosts_rate_limited():
    _need_netns()
    hosts = netns.HostPair(rate="400mbit")
    try:
        src, dst, uri = _netns_vms(hosts, "ws=16M rate=5 fill=mixed", 7777)
        rc, j, err = src.migrate(uri)
        assert rc == 0, (rc, j, err, dst.stderr_text())
        # the tc limit shows: 400 Mbit/s is 47.7 MiB/s
        assert j["throughput_mibs"] < 60, j
        _check_moved(src, dst, j)
        dst.quit()
    finally:
        vmlib.cleanup_all()
        hosts.destroy()


def test_netns_link_cut_then_retry():
    _need_netns()
    hosts = netns.HostPair(rate="200mbit")
    try:
        # no resume on either side: a cut fails at once, then a retry works
        src, dst, uri = _netns_vms(hosts, "ws=16M rate=5 fill=random", 7778,
                                   dst_extra=("--resume-timeout", "0"))
        p = subprocess.Popen([vmlib.VMIG, "migrate", "--control", src.control_path, uri, "--json",
                              "--resume-timeout", "0"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(2)
        hosts.link(up=False)
        out, errtxt = p.communicate(timeout=60)
        assert p.returncode == 1, (out, errtxt)
        _source_carries_on(src, "source progress after the cut")
        assert dst.wait_exit(30) != 0, "destination must discard and exit non-zero"
        hosts.link(up=True)
        uri2 = _uri(7779, hosts.ip_b)
        dst2 = VM(incoming=uri2, prefix=hosts.exec_prefix("b"))
        time.sleep(0.3)
        rc, j, err = src.migrate(uri2)
        assert rc == 0, (rc, j, err, dst2.stderr_text())
        _check_moved(src, dst2, j)
        dst2.quit()
    finally:
        vmlib.cleanup_all()
        hosts.destroy()


def _wait_first_pass(src, share, timeout):
    """query-migrate once pass 1 has sent `share` of its pages."""
    deadline = time.monotonic() + timeout * vmlib.SLOWDOWN
    while time.monotonic() < deadline:
        q = src.call("query-migrate")
        if q.get("iterations") == 1 and q.get("pass_pages") and \
                q.get("pass_pages_done", 0) >= share * q["pass_pages"]:
            return q
        time.sleep(0.05)
    raise AssertionError(f"pass 1 never got to {share:.0%}: {q}")


def test_netns_link_down_for_10_s_resumes_and_completes():
    """The link goes down for 10 s halfway through pass 1. Both sides keep
    their state, the source reconnects once it is back and sends what
    changed since the pass the destination holds: completed, digest
    verified, the guest clean on the far side, and less crossed the link
    after the outage than a restart would send (incompressible RAM)."""
    _need_netns()
    hosts = netns.HostPair(rate="200mbit")
    try:
        src, dst, uri = _netns_vms(hosts, "ws=16M rate=5 fill=random", 7780)
        p = subprocess.Popen([vmlib.VMIG, "migrate", "--control", src.control_path, uri, "--json",
                              "--max-bandwidth", "16M", "--codec", "none"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_first_pass(src, 0.5, timeout=60)
        hosts.link(up=False)
        time.sleep(10)
        hosts.link(up=True)
        back = src.call("query-migrate")["wire_bytes"]
        out, errtxt = p.communicate(timeout=180 * vmlib.SLOWDOWN)
        assert p.returncode == 0, (out, errtxt, src.stderr_text(), dst.stderr_text())
        j = json.loads(out)
        assert j["resumes"] >= 1 and j["reconnect_attempts"] >= 1, j
        after = j["wire_bytes"] - back
        assert after < 0.75 * j["ram_bytes"], (after, j["ram_bytes"])
        _check_moved(src, dst, j)
        dst.quit()
    finally:
        vmlib.cleanup_all()
        hosts.destroy()


def test_four_channels():
    src = VM(mem="256M", guest_args="ws=32M rate=50 fill=mixed")
    src.wait_progress(min_t=1)
    port = free_port()
    dst = VM(incoming=_uri(port))
    rc, j, err = src.migrate(_uri(port), "--channels", "4")
    assert rc == 0, (rc, j, err, dst.stderr_text())
    assert len(j["channels"]) == 4 and all(c["bytes"] > 0 for c in j["channels"]), j
    assert j["active_channels"] == 4, j  # --channels pins the knob
    _check_moved(src, dst, j)
    dst.quit()


def test_channels_destination_killed():
    src = VM(mem="256M", guest_args="ws=32M rate=10 fill=random")
    src.wait_progress(min_t=1)
    port = free_port()
    dst = VM(incoming=_uri(port))
    p = subprocess.Popen([vmlib.VMIG, "migrate", "--control", src.control_path, _uri(port),
                          "--json", "--channels", "3", "--max-bandwidth", "30M",
                          "--resume-timeout", "0"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    dst.proc.kill()
    out, errtxt = p.communicate(timeout=60)
    assert p.returncode == 1, (out, errtxt)
    _source_carries_on(src, "source progress after the kill")
    src.quit()


def _migrate_ok(src_args, *opts, mem="256M"):
    src = VM(mem=mem, guest_args=src_args)
    src.wait_progress(min_t=1)
    port = free_port()
    dst = VM(incoming=_uri(port))
    rc, j, err = src.migrate(_uri(port), *opts)
    assert rc == 0, (rc, j, err, src.stderr_text(), dst.stderr_text())
    _check_moved(src, dst, j)
    dst.quit()
    return j


@pytest.mark.parametrize("codec,level", [("lz4", "1"), ("zstd", "3"), ("deflate", "1")])
def test_each_codec_with_xbzrle_and_channels(codec, level):
    j = _migrate_ok("ws=32M rate=50 fill=mixed", "--codec", codec, "--level", level,
                    "--channels", "2", "--xbzrle", "on", "--xbzrle-cache", "64M")
    assert j["codec"] == codec, j
    assert j["pages"]["compressed"] > 0 and j["compression_ratio"] > 1.2, j
    assert j["compress_cpu_s"] > 0, j
    assert j["xbzrle"]["cache_hits"] + j["xbzrle"]["cache_misses"] > 0, j


def _standin():
    return os.path.join(vmlib.BUILD, "tests", "qat_standin", "libqatzip.so.3")


def test_qat_backend_through_test_double_to_cpu_destination():
    """QAT compresses (here: the QATzip TEST DOUBLE) and a CPU-only
    destination inflates with ISA-L: the wire is plain deflate."""
    j = _migrate_ok("ws=16M rate=20 fill=text", "--codec", "qat", "--qatzip-path", _standin(),
                    "--channels", "2")
    assert "qat" in j["accelerator"] and "TEST DOUBLE" in j["accelerator"], j
    assert j["codec"] == "qat" and j["pages"]["compressed"] > 0, j


def test_qat_missing_fails_clearly_unless_auto():
    src = VM(mem="128M", guest_args="ws=8M rate=10")
    src.wait_progress(min_t=1)
    port = free_port()
    rc, j, err = src.migrate(_uri(port), "--codec", "qat", "--qat-fallback", "none",
                             "--qatzip-path", "/nonexistent/libqatzip.so.3")
    assert rc == 1 and "QAT" in (j or {}).get("error", err), (rc, j, err)
    assert j and j["status"] == "failed", (rc, j, err)  # --json says so even then
    assert src.call("query-status")["status"] == "running"
    dst = VM(incoming=_uri(port))
    rc, j, err = src.migrate(_uri(port), "--codec", "qat", "--accel", "auto",
                             "--qatzip-path", "/nonexistent/libqatzip.so.3")
    assert rc == 0, (rc, j, err, dst.stderr_text())
    assert j["accelerator"].startswith("cpu") and "QAT" in j["accelerator"], j
    _check_moved(src, dst, j)
    dst.quit()
