"""The runner's loop (bench/suite/runner.py) with test-double drivers: the
order of runs, the records it appends, a scenario that cannot be set up."""
import types

import pytest

import bench_support  # noqa: F401  (puts bench/ on the path)
from suite import floor, hosts, linkcheck, results, runner, scenarios


class FakeDriver:
    """Test double of vmig_driver / qemu_driver: records the call order."""

    def __init__(self, calls):
        self.calls = calls

    def run(self, ctx, setting, round_no):
        self.calls.append((round_no, setting.system, setting.name))
        rec = ctx.record(setting, round_no)
        rec.update({"status": "completed", "converged": True, "total_ms": 1000})
        return rec


@pytest.fixture
def fakes(monkeypatch):
    calls = []
    drv = FakeDriver(calls)
    monkeypatch.setattr(runner, "DRIVERS", {"vmig": drv, "qemu": drv})
    monkeypatch.setattr(floor, "for_scenario", lambda build, sc, modules: {
        "type": "floor", "scenario": sc.name, "floor_s": 1.0, "codec": "none", "level": 0,
        "bound": "link"})
    monkeypatch.setattr(hosts, "make_pair", lambda link: hosts.LoopbackPair())
    monkeypatch.setattr(linkcheck, "measure", lambda pair, s, rate: rate * 0.9)
    return calls


def opts(tmp_path, accel="kvm", guest="guestload"):
    return types.SimpleNamespace(build="/b", runs=0, accel=accel, no_prewarm=True, keep=False,
                                 out_dir=str(tmp_path), guest=guest)


def quick_1g():
    return next(s for s in scenarios.load_all(quick=True) if s.name == "1G")


def test_every_setting_runs_three_times_in_alternating_order(fakes, tmp_path):
    out = str(tmp_path / "r.jsonl")
    runner.run_all([quick_1g()], opts(tmp_path), out, log=lambda *a: None)
    r0 = [(s, n) for r, s, n in fakes if r == 0]
    r1 = [(s, n) for r, s, n in fakes if r == 1]
    assert r0 == [("vmig", "auto"), ("qemu", "xbzrle-ac"), ("vmig", "none-ac")]
    assert r1 == r0[::-1] and len(fakes) == 9
    recs = results.load(out)
    assert [r["type"] for r in recs].count("run") == 9
    assert [r["type"] for r in recs[:2]] == ["floor", "link"]


def test_under_tcg_only_qemu_runs(fakes, tmp_path):
    runner.run_all([quick_1g()], opts(tmp_path, "tcg"), str(tmp_path / "r.jsonl"),
                   log=lambda *a: None)
    assert {s for _, s, _ in fakes} == {"qemu"}


def test_with_a_test_double_guest_only_vmig_runs_through_the_engine_driver(fakes, tmp_path,
                                                                           monkeypatch):
    engine_calls = []
    monkeypatch.setattr(runner, "DOUBLE_DRIVERS", {"vmig": FakeDriver(engine_calls)})
    runner.run_all([quick_1g()], opts(tmp_path, guest="double"), str(tmp_path / "r.jsonl"),
                   log=lambda *a: None)
    assert fakes == []  # neither the KVM VMM's driver nor QEMU's ran
    assert {(s, n) for _, s, n in engine_calls} == {("vmig", "auto"), ("vmig", "none-ac")}
    assert len(engine_calls) == 6


def test_the_estimate_counts_only_what_runs_with_a_test_double_guest():
    sc = quick_1g()
    per_run = sc.timeout_s + sc.warmup_s + 15
    assert runner.estimate_s([sc], 3, "kvm", "double") == 3 * 2 * per_run
    assert runner.estimate_s([sc], 3, "kvm") == 3 * 3 * per_run


def test_a_scenario_that_cannot_be_set_up_is_recorded_and_the_next_runs(fakes, tmp_path,
                                                                        monkeypatch):
    def broken_pair(link):
        raise PermissionError("no netns here")
    monkeypatch.setattr(hosts, "make_pair", broken_pair)
    out = str(tmp_path / "r.jsonl")
    lines = []
    runner.run_all([quick_1g()], opts(tmp_path), out, log=lines.append)
    (err,) = [r for r in results.load(out) if r["type"] == "scenario_error"]
    assert err["error"] == "PermissionError: no netns here"
    assert any("could not run" in x for x in lines)


def test_summary_line_of_a_failed_run():
    line = runner.summary({"scenario": "1G", "round": 2, "system": "qemu", "setting": "none",
                           "converged": False, "status": "timed-out", "error": None})
    assert line == "[1G r2] qemu none: timed-out "
