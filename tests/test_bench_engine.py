"""The engine driver of the benchmark (bench/suite/engine_driver.py: vmig's
engine migrating bench/enginesim's test-double guest) without running it:
the commands it starts, its reading of the samples file, the final object
and the RAM hashes that stand in for guestload's page check."""
import json
import subprocess
import sys

import bench_support  # noqa: F401  (puts bench/ on the path)
from suite import context, engine_driver, hosts, scenarios


class FakeProcs:
    """Test double of procs.Procs: each process's output as given."""

    def __init__(self, **outputs):
        self.outputs = outputs

    def tail(self, name, nbytes=600):
        return self.outputs.get(name.replace("-", "_"), "")[-nbytes:]


def ctx_1g(tmp_path):
    sc = next(s for s in scenarios.load_all(quick=True) if s.name == "1G")
    return context.RunContext(scenario=sc, pair=hosts.LoopbackPair(), build="/b",
                              tmpdir=str(tmp_path))


def setting(name):
    sc = next(s for s in scenarios.load_all() if s.name == "1G")
    return next(s for s in sc.settings if s.name == name)


def test_the_source_gets_vmig_migrate_flags_after_a_double_dash(tmp_path):
    src, dst = engine_driver.commands(ctx_1g(tmp_path), str(tmp_path), 4444, setting("auto"))
    assert src[:2] == ["/b/enginesim", "source"]
    tail = src[src.index("--") + 1:]
    assert tail[-1] == "tcp:127.0.0.1:4444" and "--policy" in tail and "--downtime-ms" in tail
    assert dst == ["/b/enginesim", "dest", "--incoming", "tcp:127.0.0.1:4444"]


def test_the_source_migrates_after_the_scenario_warm_up_and_a_margin(tmp_path):
    ctx = ctx_1g(tmp_path)
    src, _ = engine_driver.commands(ctx, str(tmp_path), 4444, setting("none-ac"))
    want = ctx.scenario.warmup_s + engine_driver.START_MARGIN_S
    assert src[src.index("--warmup-s") + 1] == str(want)
    assert src[src.index("--guest-args") + 1] == ctx.guest_args


def test_the_guest_pays_the_write_fault_cost_it_was_given(tmp_path):
    ctx = ctx_1g(tmp_path)
    ctx.write_fault_ns = 1500
    src, _ = engine_driver.commands(ctx, str(tmp_path), 4444, setting("auto"))
    guest_opts = src[:src.index("--")]
    assert guest_opts[guest_opts.index("--write-fault-ns") + 1] == "1500"


def test_a_content_set_goes_to_the_guest_as_modules_with_fill_modules(tmp_path):
    ctx = ctx_1g(tmp_path)
    ctx.modules = ["/c/typical.0.img", "/c/typical.1.img"]
    src, _ = engine_driver.commands(ctx, str(tmp_path), 4444, setting("auto"))
    guest_opts = src[:src.index("--")]
    assert guest_opts[guest_opts.index("--module") + 1] == "/c/typical.0.img,/c/typical.1.img"
    assert "fill=modules" in guest_opts[guest_opts.index("--guest-args") + 1]


def test_no_content_set_no_module_option(tmp_path):
    src, _ = engine_driver.commands(ctx_1g(tmp_path), str(tmp_path), 4444, setting("auto"))
    assert "--module" not in src


def test_a_write_fault_cost_is_refused_for_a_kvm_guest():
    r = subprocess.run([sys.executable, bench_support.RUN_PY, "--write-fault-ns", "1000", "--list"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "--guest double" in r.stderr


def test_the_latest_whole_sample_line_is_the_sample(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text(json.dumps({"status": "active", "iterations": 2, "throttle_pct": 20}) + "\n"
                 + '{"status": "compl')  # a line still being written
    s = engine_driver.SampleFile(str(p)).query()
    assert s["status"] == "active" and s["pass"] == 2 and s["throttle_pct"] == 20


def test_no_samples_yet_reads_as_not_started(tmp_path):
    assert engine_driver.SampleFile(str(tmp_path / "none")).query()["status"] == "none"


def test_the_final_object_is_the_last_json_line():
    out = 'enginesim: ram 1a2b\n{"status": "completed", "total_ms": 900}\n'
    assert engine_driver.final_object(out) == {"status": "completed", "total_ms": 900}


def test_a_source_without_json_is_a_failure_that_quotes_it():
    j = engine_driver.final_object("enginesim: cannot allocate 1G\n")
    assert j["status"] == "failed" and "cannot allocate 1G" in j["error"]


def test_equal_ram_hashes_count_as_no_bad_page():
    procs = FakeProcs(engine_src="enginesim: ram 00ff\n{}", engine_dst="enginesim: ram 00ff\n")
    assert engine_driver.hash_check(procs, True)["errors_after"] == 0


def test_different_ram_hashes_count_as_a_bad_guest():
    procs = FakeProcs(engine_src="enginesim: ram 00ff\n", engine_dst="enginesim: ram 0100\n")
    r = engine_driver.hash_check(procs, True)
    assert r["errors_after"] == 1 and r["ram_hashes"] == ["00ff", "0100"]


def test_a_missing_hash_is_reported_not_taken_for_intact():
    r = engine_driver.hash_check(FakeProcs(engine_src="enginesim: ram 00ff\n"), True)
    assert r["errors_after"] is None and "no RAM hash" in r["guest_fatal"]


def test_bad_pages_the_destination_found_are_counted(tmp_path):
    out = tmp_path / "engine-dst.out"
    out.write_text("guestload: t=1s passes=3 dirty=10.0MiB/s errors=2\n")
    rec = {"converged": True, "errors_after": 0}
    assert engine_driver.page_check(str(out), rec) == {"errors_after": 2}


def test_unequal_hashes_stay_bad_though_the_destination_found_nothing(tmp_path):
    out = tmp_path / "engine-dst.out"
    out.write_text("guestload: t=1s passes=3 dirty=10.0MiB/s errors=0\n")
    assert engine_driver.page_check(str(out), {"converged": True, "errors_after": 1}) == {
        "errors_after": 1}
