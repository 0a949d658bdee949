"""The benchmark's report and plots, made from a test double of recorded
results (bench_fixtures/fake_results.jsonl: made-up figures in the shape
bench/run.py writes): the Markdown table, the headline, and non-empty
PNGs from gnuplot."""
import os
import shutil
import subprocess
import sys

import pytest

import bench_support
from suite import plots, report, results

FAKE = os.path.join(bench_support.FIXTURES, "fake_results.jsonl")
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
needs_gnuplot = pytest.mark.skipif(
    not plots.have_gnuplot(),
    reason="GNUPLOT IS NOT INSTALLED: the plots are untested here (apt-get install gnuplot-nox)")


@pytest.fixture(scope="module")
def records():
    return results.load(FAKE)


def test_runs_group_by_scenario_and_setting_vmig_first(records):
    groups, floors = results.group(records)
    assert list(groups) == ["1G", "10G"] and set(floors) == {"1G", "10G"}
    labels = [g.label for g in groups["1G"]]
    assert labels[:2] == ["vmig auto", "vmig none-ac"] and set(labels[2:]) == {
        "qemu xbzrle-ac", "qemu none"}
    none_ac = next(g for g in groups["1G"] if g.setting == "none-ac")
    assert len(none_ac.runs) == 3 and len(none_ac.converged) == 2


def test_spread_is_over_converged_runs_only(records):
    groups, _ = results.group(records)
    auto = groups["1G"][0]
    assert auto.stat("total_ms") == (5500, 5200, 5800)
    none_ac = groups["1G"][1]
    assert none_ac.stat("total_ms") == (22000.0, 21000, 23000)  # the timed-out run is left out
    assert results.best(groups["1G"], "qemu").setting == "xbzrle-ac"


def test_table_has_median_min_max_and_multiple_of_floor(records):
    text = report.render(records)
    assert "## 1G" in text and "## 10G" in text
    row = next(line for line in text.splitlines() if line.startswith("| vmig | `auto` |")
               and "5.50" in line)
    # 5.5 s over the 1G floor of 3.7 s
    assert "| 3/3 | 3/3 | 5.50 (5.20–5.80) | 1.5 (1.4–1.6) |" in row
    assert "Floor: **3.70 s**" in text


def test_headline_speedup_and_cpu_per_gib(records):
    text = report.render(records)
    assert "vmig `auto` is **4.00x** faster than `none-ac`" in text  # 22.0 / 5.5 s
    assert f"the reference system: {report.REFERENCE_SPEEDUP}x" in text
    assert "vmig `auto` 2.10 s, QEMU's best (`xbzrle-ac`) 3.40 s" in text


def test_headline_sets_auto_beside_the_best_fixed_vmig_setting(records):
    text = report.render(records)
    assert ("vmig `auto` 5.50 s against the best fixed vmig setting `none-ac` 22.00 s "
            "(-75 %, faster; converged 3/3)") in text


def test_auto_more_than_a_tenth_slower_than_a_fixed_setting_is_flagged():
    def run(setting, ms):
        return {"type": "run", "scenario": "1G", "system": "vmig", "setting": setting,
                "round": 0, "converged": True, "status": "completed", "total_ms": ms}
    groups, _ = results.group([run("auto", 1200), run("zstd-2ch", 1000)])
    line = report.auto_against_best_fixed("1G", groups["1G"])
    assert "`zstd-2ch` 1.00 s (+20 %, **more than 10 % slower**" in line


def test_failures_and_decisions_are_listed(records):
    text = report.render(records)
    assert "- vmig none-ac, round 1: failed: timed out after 30 s" in text
    assert "- qemu none, round 0: timed-out" in text
    assert "codec zstd-1, 2 threads, 2 channels — link 119 MiB/s" in text


def test_a_bad_results_line_names_its_number(tmp_path):
    p = tmp_path / "r.jsonl"
    p.write_text('{"type": "meta"}\nnot json\n')
    with pytest.raises(results.ResultsError, match=r"r.jsonl:2: not JSON"):
        results.load(str(p))


def png_ok(path):
    with open(path, "rb") as f:
        head = f.read(8)
    return head == PNG_MAGIC and os.path.getsize(path) > 2000


@needs_gnuplot
def test_plots_are_drawn(records, tmp_path):
    drawn = plots.draw_all(records, str(tmp_path))
    assert set(drawn) == {"1G", "10G"}
    for scenario, name in (("1G", "bars-1G.png"),
                           ("1G", "timeline-1G-vmig_auto-vs-qemu_xbzrle-ac.png"),
                           ("10G", "timeline-10G-vmig_none-ac-vs-qemu_xbzrle-ac.png")):
        assert name in drawn[scenario]
        assert png_ok(tmp_path / name), name


@needs_gnuplot
def test_a_setting_refused_at_the_start_gets_bars_but_no_timeline(records, tmp_path):
    refused = {"type": "run", "scenario": "1G", "system": "vmig", "setting": "big-cache",
               "round": 0, "converged": False,
               "timeline": [{"t_ms": t, "status": "none", "throughput_mibs": None,
                             "remaining_bytes": None, "guest_dirty_mibs": g}
                            for t, g in ((0, None), (101, None), (202, 18684.7))],
               "error": "an XBZRLE cache of 512 MiB does not fit"}
    drawn = plots.draw_all([*records, refused], str(tmp_path))
    assert "bars-1G.png" in drawn["1G"]
    assert not any("big-cache" in name for name in drawn["1G"])
    assert "timeline-1G-vmig_auto-vs-qemu_xbzrle-ac.png" in drawn["1G"]


@needs_gnuplot
def test_run_py_report_writes_markdown_and_plots(tmp_path):
    shutil.copy(FAKE, tmp_path / "results.jsonl")
    r = subprocess.run([sys.executable, bench_support.RUN_PY, "--report",
                        str(tmp_path / "results.jsonl")], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    md = (tmp_path / "report.md").read_text()
    assert "![plots/bars-1G.png](plots/bars-1G.png)" in md
    assert png_ok(tmp_path / "plots" / "bars-10G.png")


def test_run_py_report_on_a_missing_file_exits_1(tmp_path):
    r = subprocess.run([sys.executable, bench_support.RUN_PY, "--report",
                        str(tmp_path / "none.jsonl")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "cannot read" in r.stderr and "Traceback" not in r.stderr


def test_a_scenario_that_could_not_run_is_reported(records):
    broken = {"type": "scenario_error", "scenario": "1G-tight",
              "error": "RuntimeError: no cgroup memory controller"}
    text = report.render(records + [broken])
    assert "## Scenarios that could not run" in text
    assert "- 1G-tight: RuntimeError: no cgroup memory controller" in text


def test_headline_bounds_the_speedup_when_the_baseline_never_converged(records):
    failed = [dict(r, converged=False, status="failed", total_ms=30050)
              if r.get("setting") == "none-ac" and r.get("scenario") == "1G" else r
              for r in records]
    text = report.render(failed)
    assert "1G: vmig `auto` is at least **5.46x** faster than `none-ac`, which converged in " \
           "none of its 3 runs (30 s" in text


def test_the_link_check_is_reported_beside_the_nominal_rate(records):
    link = {"type": "link", "scenario": "1G", "nominal_bps": 1e9, "measured_bps": 9.4e8}
    text = report.render(records + [link])
    assert "Link check: one TCP stream got 940 Mbit/s of the nominal 1000 Mbit/s" in text


def _samples(*pairs):
    return [{"t_ms": t, "wire_bytes": w} for t, w in pairs]


def test_the_timeline_rate_is_the_wire_over_the_last_half_second():
    mib = 1 << 20
    s = _samples((0, 0), (250, 10 * mib), (500, 20 * mib), (750, 30 * mib))
    # 750 ms back to 250 ms: 20 MiB in 0.5 s
    assert plots.wire_rate(s, 3) == pytest.approx(40.0)


def test_the_timeline_rate_falls_to_zero_in_a_stall():
    mib = 1 << 20
    s = _samples((0, 0), (500, 50 * mib), (1000, 50 * mib))
    assert plots.wire_rate(s, 2) == 0


def test_the_timeline_rate_needs_two_samples_with_wire_bytes():
    assert plots.wire_rate(_samples((0, 0)), 0) is None
    assert plots.wire_rate([{"t_ms": 0}, {"t_ms": 100, "wire_bytes": 5}], 1) is None


def test_a_run_killed_for_memory_says_so(records):
    killed = [dict(r, converged=False, status="error", error="[Errno 32] Broken pipe",
                   oom_kills=1)
              if r.get("system") == "qemu" and r.get("scenario") == "1G" else r
              for r in records]
    text = report.render(killed)
    assert "OOM-killed 1 process(es) of this run" in text


def test_a_busy_host_gets_the_tenants_cpu_column(records):
    busy = [dict(r, tenant_cpu_lost=0.25) if r.get("type") == "run" and r.get("scenario") == "1G"
            else r for r in records]
    text = report.render(busy)
    section = text.split("## 1G")[1].split("## 10G")[0]
    assert "tenants' CPU lost % |" in section and report.TENANTS_NOTE in section
    row = next(line for line in section.splitlines() if line.startswith("| vmig | `auto` |"))
    assert row.endswith("| 25 (25–25) |"), row


def test_hosts_without_tenants_get_no_tenants_column(records):
    assert "tenants' CPU lost" not in report.render(records)


def test_the_headline_says_what_auto_and_the_best_fixed_took_from_tenants():
    def run(setting, ms, lost):
        return {"type": "run", "scenario": "1G-busy", "system": "vmig", "setting": setting,
                "round": 0, "converged": True, "status": "completed", "total_ms": ms,
                "tenant_cpu_lost": lost}
    groups, _ = results.group([run("auto", 1200, 0.12), run("zstd-2ch", 1000, 0.40)])
    line = report.auto_against_best_fixed("1G-busy", groups["1G-busy"])
    assert line.endswith("the hosts' other tenants lost 12 % of their CPU against 40 %)"), line
