"""The vmig driver of the benchmark (bench/suite/vmig_driver.py) where no
KVM guest is needed: its reading of query-migrate, the commands it starts
(modules, cgroups), and a run that cannot start recorded as such with
the VMM's own words, nothing left running."""
import os
import subprocess

import pytest

import bench_support  # noqa: F401  (puts bench/ on the path)
from suite import cgroups, context, control, hosts, scenarios, vmig_driver

# Test double of vmig's query-migrate reply, in docs/control.md's shape.
FAKE_REPLY = {
    "status": "completed", "total_ms": 6512, "setup_ms": 2, "downtime_ms": 5,
    "guest_downtime_ms": 6, "iterations": 6, "ram_bytes": 1073741824, "wire_bytes": 596702208,
    "remaining_bytes": 0, "throughput_mibs": 112.5, "dirty_rate_mibs": 850.0,
    "throttle_pct": 0, "throttle_steps": 2, "codec": "zstd",
    "policy": {"strategy": "compress", "decisions": [
        {"t_ms": 0, "pass": 0, "change": "codec zstd", "reason": "link-bound"}]},
}


def test_query_migrate_becomes_a_timeline_sample():
    s = vmig_driver.sample(dict(FAKE_REPLY, status="active", remaining_bytes=1 << 20))
    assert s == {"status": "active", "throughput_mibs": 112.5, "dirty_rate_mibs": 850.0,
                 "throttle_pct": 0, "remaining_bytes": 1 << 20, "pass": 6,
                 "wire_bytes": 596702208, "first_pass_done": None, "reconnect_attempts": None}


def test_the_timeline_goes_on_before_the_migrate_command_arrives():
    assert not vmig_driver.migration_over({"status": "none"}, migrate_exited=False)


def test_the_timeline_ends_when_vmig_migrate_exits():
    assert vmig_driver.migration_over({"status": "none"}, migrate_exited=True)


def test_the_timeline_ends_at_a_final_status():
    assert vmig_driver.migration_over({"status": "completed"}, migrate_exited=False)


def test_final_object_gives_the_records_figures():
    f = vmig_driver.final_figures(FAKE_REPLY)
    assert f["converged"] and (f["total_ms"], f["downtime_ms"], f["guest_downtime_ms"]) == (
        6512, 5, 6)
    assert f["wire_bytes"] == 596702208 and f["passes"] == 6
    assert f["policy"]["decisions"][0]["reason"] == "link-bound"
    failed = vmig_driver.final_figures({"status": "failed", "error": "timed out", "total_ms": 30000})
    assert not failed["converged"] and failed["downtime_ms"] is None and failed["error"] == "timed out"


def scenario(host="idle", content=""):
    sc = next(s for s in scenarios.load_all() if s.name == "1G")
    return scenarios.dataclasses.replace(sc, host=host, content=content)


def test_commands_carry_modules_and_fill_modules(tmp_path):
    ctx = context.RunContext(scenario=scenario(), pair=hosts.LoopbackPair(), build="/b",
                             tmpdir=str(tmp_path), modules=["/m/a", "/m/b"])
    src, dst = vmig_driver.vm_commands(ctx, str(tmp_path), 4444)
    assert src[src.index("--module") + 1] == "/m/a,/m/b"
    assert src[src.index("--guest-args") + 1].endswith("fill=modules")
    assert "fill=mixed" not in src[src.index("--guest-args") + 1]
    assert dst[dst.index("--incoming") + 1] == "tcp:127.0.0.1:4444"


@pytest.mark.skipif(os.geteuid() != 0 or cgroups.detect() is None,
                    reason="memory cgroups need root and a mounted memory controller")
def test_tight_host_puts_each_vmm_in_its_own_limited_group(tmp_path):
    ctx = context.RunContext(scenario=scenario("tight"), pair=hosts.LoopbackPair(), build="/b",
                             tmpdir=str(tmp_path))
    src, dst = vmig_driver.vm_commands(ctx, str(tmp_path), 4444)
    try:
        assert len(ctx.groups) == 2 and src[0] == "sh" and dst[0] == "sh"
        limit = "memory.max" if ctx.groups[0].version == "v2" else "memory.limit_in_bytes"
        with open(os.path.join(ctx.groups[0].path, limit)) as f:
            assert int(f.read()) == (1 << 30) + (96 << 20)
        assert ctx.oom_kills() == 0
    finally:
        ctx.release()
    assert not any(os.path.exists(g.path) for g in ctx.groups)


@pytest.mark.skipif(os.access("/dev/kvm", os.R_OK | os.W_OK), reason="this host has /dev/kvm")
def test_a_run_that_cannot_start_is_recorded_with_the_vmms_words(build_dir, tmp_path):
    ctx = context.RunContext(scenario=scenario(), pair=hosts.LoopbackPair(), build=build_dir,
                             tmpdir=str(tmp_path))
    setting = scenarios.load_settings()[("vmig", "auto")]
    rec = vmig_driver.run(ctx, setting, 0)
    assert rec["status"] == "error" and not rec["converged"]
    assert "kvm" in rec["error"].lower()
    assert (rec["scenario"], rec["system"], rec["setting"], rec["args"]) == (
        "1G", "vmig", "auto", "--policy auto")
    left = subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True)
    assert left.stdout == ""


def test_the_destination_counts_as_listening_before_its_control_socket_exists(build_dir, tmp_path):
    """Found on the first KVM run: the driver waited for the destination's
    control socket, which `vmig run --incoming` makes only once a guest
    runs there, after the migration; every vmig run timed out. Its
    "waiting" line is what says it listens (no KVM needed to print it)."""
    out, sock = tmp_path / "vmig-dst.out", tmp_path / "vmig-dst.sock"
    with open(out, "wb") as f:
        p = subprocess.Popen([os.path.join(build_dir, "vmig"), "run", "--incoming",
                              "tcp:127.0.0.1:0", "--control", str(sock)],
                             stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        control.wait_for_text(str(out), vmig_driver.DEST_LISTENING, 20, lambda: p.poll() is None)
        assert not sock.exists()
    finally:
        p.kill()
        p.wait()
