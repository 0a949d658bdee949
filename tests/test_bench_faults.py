"""The fault benchmark's parts that need no KVM, no root and no network
(bench/suite/faults.py, dropfilter.py, faultcheck.py, outage.py,
faultreport.py, the fault keys of scenario files and the drivers' TLS
arguments): fault names, cells, the drop program's build, the drop-rate
verdict, the outage's trigger and timing, and the report's fault table.
The filters on real netns hosts are measured by the benchmark itself
before each cell (docs/benchmarks.md, "Fault benchmark")."""
import shutil
import subprocess
import types

import pytest

import bench_support  # noqa: F401  (puts bench/ on the path)
from suite import (context, dropfilter, faultcheck, faultplots, faultreport, faults, hosts,
                   linkcheck, outage, plots, preflight, qemu_driver, report, results, runner,
                   scenarios, tlscreds, vmig_driver)

FAULTY = """
description = "a fault scenario"
link = "1gbit"
host = "idle"
mem = "1G"
guest_args = "fill=mixed ws=256M rate=0 write=word"
timeout_s = 120
faults = ["none", "loss-0.1", "down-10"]
tls = ["off", "on"]
vmig = ["auto"]
qemu = ["xbzrle-ac"]
"""


def write(tmp_path, text):
    d = tmp_path / "sc"
    d.mkdir(exist_ok=True)
    (d / "f.toml").write_text(text)
    return str(d)


@pytest.mark.parametrize("name, kind, loss, secs", [
    ("none", "none", 0, 0), ("loss-0.1", "loss", 0.1, 0), ("loss-1", "loss", 1.0, 0),
    ("down-3", "outage", 0, 3), ("down-10", "outage", 0, 10)])
def test_fault_names_parse(name, kind, loss, secs):
    f = faults.parse(name)
    assert (f.kind, f.loss_pct, f.outage_s) == (kind, loss, secs)


@pytest.mark.parametrize("name", ["loss", "loss-0", "loss-80", "down-0", "down-3.5", "jitter-5"])
def test_a_bad_fault_name_says_what_is_wanted(name):
    with pytest.raises(ValueError, match="loss|outage|not a fault"):
        faults.parse(name)


def test_a_fault_scenario_becomes_one_cell_per_fault_and_tls_mode(tmp_path):
    scs = scenarios.load_all(scenario_dir=write(tmp_path, FAULTY), fault_scenarios=True)
    assert [s.name for s in scs] == ["f-none-plain", "f-none-tls", "f-loss-0.1-plain",
                                     "f-loss-0.1-tls", "f-down-10-plain", "f-down-10-tls"]
    assert {s.family for s in scs} == {"f"} and scs[5].fault == "down-10" and scs[5].tls
    assert scs[0].fault_at == faults.DEFAULT_AT and scs[0].runs == scenarios.MIN_RUNS


def test_fault_scenarios_run_only_when_asked_for():
    plain = scenarios.load_all()
    assert not any(s.family for s in plain)
    cells = scenarios.load_all(fault_scenarios=True)
    assert cells and all(s.family for s in cells)
    f1g = [s for s in cells if s.family == "faults-1G"]
    assert {s.fault for s in f1g} == {"none", "loss-0.1", "loss-1", "down-3", "down-10"}
    assert {s.tls for s in f1g} == {False, True} and all(s.runs == 5 for s in f1g)
    assert {(x.system, x.name) for x in f1g[0].settings} == {("vmig", "auto"),
                                                             ("qemu", "xbzrle-ac")}
    unl = [s for s in cells if s.family == "faults-unlimited"]
    assert [(s.link, s.fault, s.tls) for s in unl] == [("loopback", "none", False),
                                                       ("loopback", "none", True)]


@pytest.mark.parametrize("change, message", [
    (('link = "1gbit"', 'link = "loopback"'), "needs a netns link"),
    (('"down-10"]', '"down-x"]'), "'faults' is bad"),
    (('tls = ["off", "on"]', 'tls = ["maybe"]'), "'tls' must list"),
    (('tls = ["off", "on"]', 'tls = [{ on = true }]'), "'tls' must list"),
    (('tls = ["off", "on"]', 'tls = ["on"]\nfault_at = 1.5'), "'fault_at' must be between"),
])
def test_a_bad_fault_key_is_refused(tmp_path, change, message):
    with pytest.raises(scenarios.ScenarioError, match=message):
        scenarios.load_all(scenario_dir=write(tmp_path, FAULTY.replace(*change)),
                           fault_scenarios=True)


def test_drop_threshold_is_the_probability_of_2_to_the_32():
    assert dropfilter.threshold(0.001) == round(4294967.296)
    assert dropfilter.threshold(1.0) == 1 << 32 and dropfilter.threshold(0) == 0
    with pytest.raises(ValueError):
        dropfilter.threshold(1.5)


@pytest.mark.skipif(not shutil.which(dropfilter.CLANG), reason="clang is not installed")
def test_drop_program_compiles_for_bpf(tmp_path):
    obj = dropfilter.build(0.01, str(tmp_path))
    head = open(obj, "rb").read(20)
    assert head[:4] == b"\x7fELF" and int.from_bytes(head[18:20], "little") == 247  # EM_BPF
    assert dropfilter.build(0.01, str(tmp_path)) == obj  # built once per probability


def test_drop_rate_verdict_allows_chance_not_a_broken_filter():
    assert faultcheck.judge(100000, 100000 - 95, 0.001)["ok"]
    assert faultcheck.judge(100000, 100000 - 1010, 0.01) == {
        "packets": 100000, "dropped": 1010, "rate": 0.0101, "ok": True}
    assert not faultcheck.judge(100000, 100000, 0.01)["ok"]          # nothing dropped
    assert not faultcheck.judge(100000, 100000 - 10000, 0.01)["ok"]  # whole bursts dropped
    assert not faultcheck.judge(0, 0, 0.01)["ok"]


class FakeDrops:
    """Test double of dropfilter.LinkDrops: records down and up."""

    def __init__(self):
        self.calls = []

    def down(self):
        self.calls.append("down")

    def up(self):
        self.calls.append("up")


def s(status="active", p=1, done=0.0, wire=0, t_ms=0):
    return {"status": status, "pass": p, "first_pass_done": done, "wire_bytes": wire,
            "t_ms": t_ms}


def test_outage_starts_halfway_through_the_first_pass():
    assert outage.should_start(s(done=0.49), 0.5) == (False, False)
    assert outage.should_start(s(done=0.5), 0.5) == (True, False)
    assert outage.should_start(s(status="setup", done=0.9), 0.5) == (False, False)
    assert outage.should_start(s(p=3, done=None), 0.5) == (True, True)  # first pass missed


def test_outage_waits_for_half_of_ram_in_a_second_pass_that_still_sweeps():
    assert outage.should_start(s(p=2, done=0.3), 0.5) == (False, False)
    assert outage.should_start(s(p=2, done=0.5), 0.5) == (True, False)


def test_outage_goes_down_then_up_and_counts_what_was_sent_after():
    d = FakeDrops()
    o = outage.Outage(d, 0.05, 0.5)
    o.on_sample(s(done=0.2, wire=100, t_ms=1000))
    assert d.calls == []
    o.on_sample(s(done=0.6, wire=300, t_ms=2000))
    assert d.calls == ["down"]
    o.timer.join(2)
    assert d.calls == ["down", "up"]
    o.on_sample(s(done=0.61, wire=310, t_ms=2100))
    o.on_sample(s(done=0.9, wire=500, t_ms=2200))
    f = o.finish(900)
    assert f["happened"] and not f["late"] and f["down_ms"] == 2000 and f["up_ms"] >= 2050
    assert (f["wire_at_down"], f["wire_at_up"], f["wire_after"]) == (300, 310, 590)
    assert d.calls == ["down", "up"]


def test_a_run_that_ends_inside_the_outage_lifts_it():
    d = FakeDrops()
    o = outage.Outage(d, 60, 0.5)
    o.on_sample(s(done=0.7, wire=300, t_ms=500))
    f = o.finish(None)
    assert d.calls == ["down", "up"] and f["happened"] and f["wire_after"] is None


def test_an_outage_that_never_began_says_so():
    d = FakeDrops()
    f = outage.Outage(d, 3, 0.5).finish(1000)
    assert not f["happened"] and f["down_ms"] is None and d.calls == []


def vmig_reply(iterations, sent, ram_pages=1000, **kw):
    pages = {"normal": sent - sent // 4, "zero": sent // 4, "compressed": 0, "xbzrle": 0}
    return {"status": "active", "iterations": iterations, "ram_bytes": ram_pages * 4096,
            "pages": pages, "wire_bytes": 4096, **kw}


def test_vmig_samples_say_how_much_of_the_first_sweep_is_done():
    v = vmig_driver.sample(vmig_reply(1, 250, pass_pages=1000, pass_pages_done=250))
    assert v["first_pass_done"] == 0.25 and v["wire_bytes"] == 4096


def test_vmig_first_sweep_goes_on_after_a_link_probe():
    """Pass 1 was the link probe (a sixteenth of RAM here): half of it
    is not half of RAM, and pass 2 still sweeps RAM for the first time."""
    probe = vmig_driver.sample(vmig_reply(1, 32, pass_pages=64, pass_pages_done=32))
    assert probe["first_pass_done"] == 0.032
    rest = vmig_driver.sample(vmig_reply(2, 500, pass_pages=950, pass_pages_done=436))
    assert rest["first_pass_done"] == 0.5


def test_vmig_first_sweep_is_over_once_every_page_went():
    assert vmig_driver.sample(vmig_reply(2, 1000, pass_pages=10,
                                         pass_pages_done=5))["first_pass_done"] is None


def test_qemu_samples_say_how_much_of_the_first_pass_is_done():
    q = qemu_driver.sample({"status": "active", "ram": {"dirty-sync-count": 1, "total": 1000,
                                                        "remaining": 400, "transferred": 77}})
    assert q["first_pass_done"] == 0.6 and q["wire_bytes"] == 77
    assert qemu_driver.sample({"status": "active", "ram": {"dirty-sync-count": 2, "total": 1,
                                                           "remaining": 0}})[
        "first_pass_done"] is None


def fault_cell(tls=True):
    return next(x for x in scenarios.load_all(["faults-1G"]) if x.fault == "down-3"
                and x.tls == tls)


def test_qemu_tls_cell_gives_both_sides_the_credentials(tmp_path):
    ctx = context.RunContext(scenario=fault_cell(), pair=hosts.LoopbackPair(), build="/b",
                             tmpdir=str(tmp_path), tls_creds="/c")
    src, dst = qemu_driver.vm_commands(ctx, str(tmp_path))
    assert "tls-creds-x509,id=tls0,dir=/c,endpoint=client" in src
    assert "tls-creds-x509,id=tls0,dir=/c,endpoint=server" in dst
    setting = scenarios.load_settings()[("qemu", "xbzrle-ac")]
    _, sp, dp = qemu_driver.setting_commands(setting, tls=True)
    assert sp["tls-creds"] == dp["tls-creds"] == "tls0"
    assert "tls-creds" not in qemu_driver.setting_commands(setting)[1]


def test_vmig_fault_cell_resumes_and_uses_tls_on_both_sides(tmp_path):
    ctx = context.RunContext(scenario=fault_cell(), pair=hosts.LoopbackPair(), build="/b",
                             tmpdir=str(tmp_path), tls_creds="/c")
    _, dst = vmig_driver.vm_commands(ctx, str(tmp_path), 4444)
    assert dst[-4:] == ["--resume-timeout", "60", "--tls-creds", "/c"]
    assert vmig_driver.fault_args(ctx) == ["--resume-timeout", "60", "--tls-creds", "/c"]
    rec = ctx.record(scenarios.load_settings()[("vmig", "auto")], 0)
    assert (rec["family"], rec["fault"], rec["tls"]) == ("faults-1G", "down-3", True)
    plain = dict(vars(ctx), scenario=next(iter(scenarios.load_all(["1G"]))), tls_creds="")
    assert vmig_driver.fault_args(context.RunContext(**plain)) == []


class FakeCell:
    """Test double of faults.CellFault: no filters, an outage that counts."""

    def __init__(self, fault):
        self.fault, self.outages = fault, []

    def shape_wire(self):
        pass

    def setup(self, rate):
        return {"fault": self.fault, "kind": faults.parse(self.fault).kind}

    def new_outage(self):
        o = outage.Outage(FakeDrops(), 3, 0.5)
        self.outages.append(o)
        return o


def test_runner_gives_each_run_its_outage_and_tls_and_records_them(tmp_path, monkeypatch):
    sc = fault_cell()
    cell = FakeCell(sc.fault)
    seen = []

    def fake_run(ctx, setting, round_no):
        seen.append((ctx.tls_creds, ctx.on_sample))
        ctx.on_sample(s(done=0.9, wire=10, t_ms=100))
        rec = ctx.record(setting, round_no)
        rec.update({"status": "completed", "converged": True, "total_ms": 1000,
                    "wire_bytes": 50})
        return rec
    drv = types.SimpleNamespace(run=fake_run)
    monkeypatch.setattr(runner, "DRIVERS", {"vmig": drv, "qemu": drv})
    monkeypatch.setattr(runner.floor, "for_scenario", lambda b, sc, m: {
        "type": "floor", "scenario": sc.name, "floor_s": 1.0, "codec": "none", "level": 0,
        "bound": "link"})
    monkeypatch.setattr(hosts, "make_pair", lambda link: hosts.LoopbackPair())
    monkeypatch.setattr(linkcheck, "measure", lambda pair, secs, rate: rate)
    monkeypatch.setattr(runner, "fault_cell", lambda sc, pair, opts: cell)
    monkeypatch.setattr(tlscreds, "ensure", lambda root, host: f"{root}/{host}")
    out = str(tmp_path / "r.jsonl")
    o = types.SimpleNamespace(build="/b", runs=3, accel="kvm", no_prewarm=True, keep=False,
                              out_dir=str(tmp_path))
    runner.run_all([sc], o, out, log=lambda *a: None)
    recs = results.load(out)
    runs = [r for r in recs if r["type"] == "run"]
    assert len(runs) == 6 and len(cell.outages) == 6
    assert all(r["outage"]["happened"] and r["outage"]["wire_after"] == 40 for r in runs)
    assert {c for c, _ in seen} == {f"{tmp_path}/certs/127.0.0.1"}
    assert [r["type"] for r in recs].count("fault_check") == 1


def run_rec(cell, system, setting, rnd, total, wire, tls, fault, after=None, cpu=1.0,
            converged=True):
    r = {"type": "run", "scenario": cell, "family": "F", "fault": fault, "tls": tls,
         "system": system, "setting": setting, "round": rnd, "converged": converged,
         "status": "completed" if converged else "failed", "total_ms": total,
         "downtime_ms": 10, "wire_bytes": wire, "errors_after": 0 if converged else None,
         "cpu": {"src": {"other_s": cpu, "vcpu_s": 1}, "dst": {"other_s": cpu, "vcpu_s": 0}}}
    if after is not None:
        r["outage"] = {"happened": True, "wire_after": after}
    if system == "vmig":
        r.update({"resumes": 1 if after else 0, "reconnect_ms": 9000 if after else 0,
                  "verified": converged})
    return r


def fault_records():
    """Test double of a fault scenario's results: F's fault-free cells
    (TLS off and on) and a 10 s outage QEMU survived once in three runs."""
    mib = 1 << 20
    recs = []
    for rnd in range(3):
        recs += [run_rec("F-none-plain", "vmig", "auto", rnd, 10000, 1000 * mib, False, "none"),
                 run_rec("F-none-plain", "qemu", "xbzrle-ac", rnd, 20000, 1100 * mib, False,
                         "none"),
                 run_rec("F-none-tls", "vmig", "auto", rnd, 11000, 1000 * mib, True, "none",
                         cpu=1.5),
                 run_rec("F-none-tls", "qemu", "xbzrle-ac", rnd, 22000, 1100 * mib, True,
                         "none", cpu=2.0),
                 run_rec("F-down-10-plain", "vmig", "auto", rnd, 21000, 1200 * mib, False,
                         "down-10", after=500 * mib),
                 run_rec("F-down-10-plain", "qemu", "xbzrle-ac", rnd, 60000, 0, False,
                         "down-10", after=0, converged=rnd == 0)]
    recs.append({"type": "fault_check", "scenario": "F-loss-1-plain", "fault": "loss-1",
                 "loss": {"expected_rate": 0.01, "stream_bps": 2e8,
                          "a_to_b": {"rate": 0.0099, "dropped": 990, "packets": 100000},
                          "b_to_a": {"rate": 0.0102, "dropped": 102, "packets": 10000}}})
    return recs


def test_fault_report_has_success_rates_bytes_after_the_outage_and_tls_cost():
    recs = fault_records()
    text = report.render(recs)
    assert "## Fault benchmark: F" in text
    vrow = next(x for x in text.splitlines() if x.startswith("| down-10 | off | vmig"))
    assert "| 3/3 | 3/3 |" in vrow and "500 (500–500) (0.50x)" in vrow
    assert "1 resumed, 9.0 s lost; digest verified 3/3" in vrow
    qrow = next(x for x in text.splitlines() if x.startswith("| down-10 | off | qemu"))
    assert "| 1/3 | 1/1 |" in qrow and "no resume" in qrow
    cost = next(x for x in text.splitlines() if x.startswith("| vmig `auto` | 10.00"))
    assert "| 11.00 | +10 % | 2.00 | 3.00 | +50 % |" in cost
    assert "measured 0.990 % a to b (990 of 100000 packets)" in text
    assert faultreport.section([r for r in recs if r["type"] != "run"]) == []


@pytest.mark.skipif(not plots.have_gnuplot(), reason="gnuplot is not installed")
def test_fault_plot_is_drawn_and_named_in_the_report(tmp_path):
    recs = fault_records()
    drawn = faultplots.draw_all(recs, str(tmp_path))
    assert drawn["F"] == ["faults-F.png"]
    assert open(tmp_path / "faults-F.png", "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    rows = (tmp_path / "faults-F.dat").read_text().splitlines()[1:]
    assert rows[0].startswith('"none vmig" 100 10 10 10 2 2 2') and len(rows) == 6
    assert rows[-1].startswith('"down-10 qemu" 33.33 60 60 60')
    assert "![faults-F.png](faults-F.png)" in report.render(recs, drawn)


@pytest.mark.skipif(not plots.have_gnuplot(), reason="gnuplot is not installed")
def test_a_cell_where_no_run_converged_is_still_drawn(tmp_path):
    recs = [run_rec("F-down-10-plain", "qemu", "xbzrle-ac", rnd, 60000, 0, False, "down-10",
                    converged=False) for rnd in range(3)]
    groups, _ = results.group(recs)
    png = plots.bars("F-down-10-plain", groups["F-down-10-plain"], str(tmp_path))
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert "(no converged run)" in open(png[:-4] + ".gp").read()


def test_preflight_names_what_the_fault_cells_lack(monkeypatch):
    monkeypatch.setattr(dropfilter, "CLANG", "no-such-clang")
    cells = scenarios.load_all(["faults-1G"])
    assert any("no-such-clang is not installed" in p for p in preflight.fault_problems(cells))
    fault_free = [c for c in cells if c.fault == "none" and not c.tls]
    assert preflight.fault_problems(fault_free) == []


def test_timeline_shades_the_outage_of_the_run_it_draws():
    run = {"outage": {"happened": True, "down_ms": 7600, "up_ms": 18040}}
    (line,) = plots.outage_shade(run)
    assert line.startswith("set object 1 rect from 7.60, graph 0 to 18.04, graph 1")
    assert plots.outage_shade({"outage": {"happened": False, "down_ms": None}}) == [
        "unset object 1"]
    assert plots.outage_shade(None) == ["unset object 1"]
