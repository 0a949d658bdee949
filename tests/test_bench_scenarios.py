"""The benchmark's scenario and settings files: the shipped ones load and
cover issue 9's matrix; a bad file is refused with a message naming the
file and the key; bench/run.py turns that into exit 2, not a traceback."""
import importlib.util
import os
import subprocess
import sys

import pytest

import bench_support
from suite import content, scenarios

MATRIX = {"fast", "10G", "1G", "1G-busy", "1G-tight", "slow", "idle"}
# issue 11's real-content cell beside issue 9's matrix
SHIPPED = MATRIX | {"1G-content"}
QEMU_SETTINGS = {"none", "auto-converge", "xbzrle-ac", "multifd2-zlib", "multifd4-zlib",
                 "multifd2-zstd", "multifd4-zstd"}

GOOD = """
description = "a test scenario"
link = "1gbit"
host = "idle"
mem = "1G"
guest_args = "fill=mixed ws=256M rate=0 write=word"
timeout_s = 60
vmig = ["auto"]
qemu = ["none"]
"""


def write(tmp_path, text, name="s.toml"):
    d = tmp_path / "sc"
    d.mkdir(exist_ok=True)
    (d / name).write_text(text)
    return str(d)


def test_shipped_scenarios_are_issue_9s_matrix_and_the_content_cell():
    scs = {sc.name: sc for sc in scenarios.load_all()}
    assert set(scs) == SHIPPED
    assert scs["fast"].link == "loopback" and scs["fast"].link_bits_per_s is None
    assert scs["10G"].link_bits_per_s == 10e9 and scs["slow"].link_bits_per_s == 100e6
    assert scs["1G-busy"].host == "busy" and scs["1G-tight"].host == "tight"
    assert "write=page" in scs["slow"].guest_args and "ws=4M" in scs["idle"].guest_args
    for sc in scs.values():
        assert sc.runs >= scenarios.MIN_RUNS
        assert {s.name for s in sc.settings if s.system == "qemu"} == QEMU_SETTINGS
        assert "auto" in {s.name for s in sc.settings if s.system == "vmig"}


def _shipped_dir(*parts):
    return os.path.join(os.path.dirname(__file__), "..", "bench", *parts)


def test_only_the_settings_named_run():
    scs = scenarios.only_settings(scenarios.load_all(), ["auto", "xbzrle-ac"])
    assert {s.name for sc in scs for s in sc.settings} == {"auto", "xbzrle-ac"}
    assert {sc.name for sc in scs} == SHIPPED


def test_a_setting_no_scenario_runs_is_refused_by_name():
    with pytest.raises(scenarios.ScenarioError, match="setting.s. bogus"):
        scenarios.only_settings(scenarios.load_all(), ["auto", "bogus"])


def test_one_fault_cell_can_run_alone():
    cells = scenarios.load_all(fault_scenarios=True)
    got = scenarios.only_cells(cells, ["faults-1G-down-10-tls"])
    assert [(sc.fault, sc.tls) for sc in got] == [("down-10", True)]


def test_a_cell_that_is_not_there_is_refused_by_name():
    with pytest.raises(scenarios.ScenarioError, match="no cell faults-1G-down-7-plain"):
        scenarios.only_cells(scenarios.load_all(fault_scenarios=True),
                             ["faults-1G-down-7-plain"])


def test_nested_scenarios_load_with_their_fault_cells():
    d = _shipped_dir("nested", "scenarios")
    assert {sc.name for sc in scenarios.load_all(scenario_dir=d)} == {
        "slow", "1G", "1G-busy", "1G-tight"}
    cells = scenarios.load_all(scenario_dir=d, fault_scenarios=True)
    # the outage, and the fault-free cell its bytes are measured against
    assert {sc.fault for sc in cells} == {"none", "loss-0.1", "loss-1", "down-3", "down-10"}
    assert {sc.tls for sc in cells} == {False, True}


def test_nested_1g_cells_differ_in_the_host_condition_alone():
    d = _shipped_dir("nested", "scenarios")
    cells = {sc.name: sc for sc in scenarios.load_all(scenario_dir=d) if sc.name.startswith("1G")}
    assert {n: sc.host for n, sc in cells.items()} == {
        "1G": "idle", "1G-busy": "busy", "1G-tight": "tight"}
    same = {(sc.link, sc.mem_bytes, sc.guest_args) for sc in cells.values()}
    assert len(same) == 1


def test_device_scenarios_load():
    d = _shipped_dir("device", "scenarios")
    assert {sc.name for sc in scenarios.load_all(scenario_dir=d)} == {"1G", "1G-content", "fast"}


def test_the_content_cell_differs_from_1g_in_its_content_only():
    scs = {sc.name: sc for sc in scenarios.load_all()}
    one, real = scs["1G"], scs["1G-content"]
    assert real.content == "typical-512M" and content.buildable(real.content)
    assert (real.link, real.host, real.mem, real.vcpus) == (one.link, one.host, one.mem, one.vcpus)
    assert real.guest_args == one.guest_args.replace("fill=mixed ", "")


def test_quick_set_is_the_1g_and_10g_cells_with_the_headline_pair():
    scs = scenarios.load_all(quick=True)
    assert {sc.name for sc in scs} == {"1G", "10G"}
    for sc in scs:
        names = {(s.system, s.name) for s in sc.settings}
        assert ("vmig", "auto") in names and ("vmig", "none-ac") in names
        assert any(s == "qemu" for s, _ in names)
        assert sc.timeout_s == sc.quick_timeout_s


def test_tight_cgroup_limit_is_guest_ram_plus_96_mib():
    sc = next(s for s in scenarios.load_all() if s.name == "1G-tight")
    assert sc.tight_limit_bytes == (1 << 30) + (96 << 20)


def test_a_good_file_loads(tmp_path):
    (sc,) = scenarios.load_all(scenario_dir=write(tmp_path, GOOD))
    assert sc.name == "s" and sc.mem_bytes == 1 << 30 and sc.runs == 3
    assert [s.system for s in sc.settings] == ["vmig", "qemu"]


@pytest.mark.parametrize("change, message", [
    (("link = \"1gbit\"", "link = \"fast\""), "'link' is bad"),
    (("host = \"idle\"", "host = \"sleepy\""), "'host' must be one of idle, busy, tight"),
    (("mem = \"1G\"", "mem = \"1T\""), "'mem' is bad"),
    (("timeout_s = 60", "timeout_s = \"60\""), "'timeout_s' must be an integer"),
    (("timeout_s = 60", "timeout_s = 60\nruns = 2"), "'runs' must be at least 3"),
    (("timeout_s = 60", "timeout_s = 60\ncolour = 1"), "unknown key 'colour'"),
    (("qemu = [\"none\"]", "qemu = [\"turbo\"]"), "'qemu' names 'turbo'"),
    (("mem = \"1G\"\n", ""), "'mem' is missing"),
    (("link = \"1gbit\"", "link = 1gbit"), "not valid TOML"),
])
def test_a_bad_file_is_refused_naming_file_and_key(tmp_path, change, message):
    d = write(tmp_path, GOOD.replace(*change))
    with pytest.raises(scenarios.ScenarioError) as e:
        scenarios.load_all(scenario_dir=d)
    assert message in str(e.value) and "s.toml" in str(e.value)


def test_a_bad_settings_file_is_refused(tmp_path):
    p = tmp_path / "settings.toml"
    p.write_text('[qemu.x]\ncaps = ["warp"]\n')
    with pytest.raises(scenarios.ScenarioError, match="unknown capability 'warp'"):
        scenarios.load_settings(str(p))
    p.write_text('[qemu.x]\ncaps = []\nparams = { multifd-channels = "4" }\n')
    with pytest.raises(scenarios.ScenarioError, match="'multifd-channels' must be an integer"):
        scenarios.load_settings(str(p))


def test_unknown_scenario_name_lists_the_known_ones():
    with pytest.raises(scenarios.ScenarioError, match="no scenario 'nope'.*1G"):
        scenarios.load_all(["nope"])


def test_rounds_alternate_vmig_and_qemu_and_reverse():
    st = scenarios.load_settings()
    sets = [st[("vmig", "auto")], st[("vmig", "none-ac")], st[("qemu", "none")],
            st[("qemu", "xbzrle-ac")]]
    r0 = [(s.system, s.name) for s in scenarios.interleaved_order(sets, 0)]
    r1 = [(s.system, s.name) for s in scenarios.interleaved_order(sets, 1)]
    assert r0 == [("vmig", "auto"), ("qemu", "none"), ("vmig", "none-ac"), ("qemu", "xbzrle-ac")]
    assert r1 == r0[::-1]


def run_py(*args):
    return subprocess.run([sys.executable, bench_support.RUN_PY, *args], capture_output=True,
                          text=True, timeout=60)


def test_run_py_exits_2_with_the_reason_on_a_bad_file(tmp_path):
    r = run_py("--scenario-dir", write(tmp_path, GOOD.replace("host = \"idle\"", "host = 3")),
               "--list")
    assert r.returncode == 2
    assert "bench:" in r.stderr and "'host' must be a string" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.skipif(os.access("/dev/kvm", os.R_OK | os.W_OK), reason="this host has /dev/kvm")
def test_run_py_without_kvm_stops_at_once_with_a_clear_message():
    r = run_py("--quick", "--build", "/nonexistent")
    assert r.returncode == 2
    assert "/dev/kvm is not available" in r.stderr and "Traceback" not in r.stderr


def test_run_py_lists_the_quick_set_and_its_worst_case():
    r = run_py("--list", "--quick")
    assert r.returncode == 0, r.stderr
    assert "1G" in r.stdout and "10G" in r.stdout and "at most" in r.stdout


@pytest.mark.skipif(os.access("/dev/kvm", os.R_OK | os.W_OK), reason="this host has /dev/kvm")
def test_make_bench_quick_without_kvm_stops_before_building():
    r = subprocess.run(["make", "-s", "bench-quick"], cwd=bench_support.ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0 and "/dev/kvm is not available" in r.stderr
    assert "Traceback" not in r.stderr and "meson" not in r.stdout


def _run_module():
    spec = importlib.util.spec_from_file_location("bench_run_py", bench_support.RUN_PY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_results_made_under_nested_kvm_say_so(monkeypatch):
    monkeypatch.setenv("VMIG_NESTED_KVM", "6.1.0-57-amd64")
    assert "nested KVM" in _run_module().nested_note()
    assert "6.1.0-57-amd64" in _run_module().nested_note()


def test_results_made_elsewhere_have_no_nested_note(monkeypatch):
    monkeypatch.delenv("VMIG_NESTED_KVM", raising=False)
    assert _run_module().nested_note() is None


def test_a_test_double_run_says_what_a_write_fault_cost():
    note = _run_module().double_note(1000)
    assert "TEST-DOUBLE" in note and "1000 ns" in note


def test_a_test_double_run_with_free_writes_says_so():
    assert "writes are free" in _run_module().double_note(0)
