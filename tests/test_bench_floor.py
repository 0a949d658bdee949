"""The physical floor (bench/suite/floor.py) and the codec measurement it
rests on (bench/content_probe.c, from the build under test)."""
import json
import os
import subprocess

import pytest

import bench_support  # noqa: F401  (puts bench/ on the path)
from suite import content, floor, scenarios

# A measurement in content_probe's shape (made-up, round figures).
PROBE = {"source": "test double", "pages": 1000, "zero_pages": 250, "codecs": [
    {"codec": "none", "level": 0, "ratio": 1.0, "compress_mbs": 10000.0, "decompress_mbs": 10000.0},
    {"codec": "zstd", "level": 1, "ratio": 2.0, "compress_mbs": 300.0, "decompress_mbs": 1200.0},
]}
GIB = 1 << 30


def test_slow_link_picks_the_codec_and_is_link_bound():
    f = floor.compute(PROBE, GIB, 1e9, cores=2)
    nz = GIB * 0.75
    assert f["codec"] == "zstd" and f["bound"] == "link"
    assert f["floor_s"] == pytest.approx(nz / 2 * 8 / 1e9, rel=1e-3)


def test_fast_link_with_one_core_drops_the_codec():
    f = floor.compute(PROBE, GIB, 100e9, cores=1)
    assert f["codec"] == "none" and f["bound"] == "cpu"


def test_loopback_has_only_the_cpu_term():
    f = floor.compute(PROBE, GIB, None, cores=2)
    assert f["bound"] == "cpu"
    assert f["floor_s"] == pytest.approx(GIB * 0.75 * 2 / 10e9 / 2, abs=1e-3)


def test_modules_count_their_own_pages_and_the_rest_of_ram_is_zero():
    f = floor.compute(PROBE, GIB, 1e9, cores=2, modules=["a"])
    assert f["nonzero_bytes"] == 750 * 4096


def test_modules_add_the_working_set_beside_them_at_its_own_ratio():
    ws_probe = {"pages": 100, "zero_pages": 0, "codecs": [
        {"codec": "none", "level": 0, "ratio": 1.0, "compress_mbs": 10000.0,
         "decompress_mbs": 10000.0},
        {"codec": "zstd", "level": 1, "ratio": 4.0, "compress_mbs": 300.0,
         "decompress_mbs": 1200.0}]}
    f = floor.compute(PROBE, GIB, 1e9, cores=2, modules=["a"], ws=(ws_probe, 1 << 20))
    assert f["nonzero_bytes"] == 750 * 4096 + (1 << 20)
    assert f["codec"] == "zstd"
    assert f["wire_bytes"] == int(750 * 4096 / 2 + (1 << 20) / 4)


def test_the_working_set_is_guestloads_ws_or_its_default():
    assert floor.ws_bytes("ws=256M rate=0") == 256 << 20
    assert floor.ws_bytes("rate=0") == floor.GUESTLOAD_WS_DEFAULT


def tool(build_dir):
    path = os.path.join(build_dir, "content_probe")
    assert os.path.exists(path), f"{path} is not built (ninja -C {build_dir})"
    return path


def test_probe_on_zero_fill_sees_only_zero_pages(build_dir):
    r = subprocess.run([tool(build_dir), "--fill", "zero", "--pages", "256"], capture_output=True,
                       text=True, timeout=60)
    j = json.loads(r.stdout)
    assert r.returncode == 0 and j["pages"] == 256 and j["zero_pages"] == 256


def test_probe_on_mixed_fill_measures_every_codec(build_dir):
    r = subprocess.run([tool(build_dir), "--fill", "mixed", "--pages", "2048", "--ms", "20"],
                       capture_output=True, text=True, timeout=120)
    j = json.loads(r.stdout)
    assert r.returncode == 0
    assert 0.1 < j["zero_pages"] / j["pages"] < 0.6
    names = {(c["codec"], c["level"]) for c in j["codecs"]}
    assert {("none", 0), ("lz4", 1), ("zstd", 1), ("deflate", 1)} <= names
    zstd = next(c for c in j["codecs"] if c["codec"] == "zstd")
    assert zstd["ratio"] > 1.2 and zstd["compress_mbs"] > 0 and zstd["decompress_mbs"] > 0


def test_probe_on_files(build_dir, tmp_path):
    p = tmp_path / "text"
    p.write_bytes(b"the quick brown fox " * 5000 + b"\0" * 8192)
    r = subprocess.run([tool(build_dir), "--file", str(p), "--ms", "10"], capture_output=True,
                       text=True, timeout=60)
    j = json.loads(r.stdout)
    assert j["pages"] == 27 and j["zero_pages"] == 2
    assert next(c for c in j["codecs"] if c["codec"] == "lz4")["ratio"] > 10


@pytest.mark.parametrize("args, rc, message", [
    ([], 2, "give either --fill or --file"),
    (["--fill", "plaid"], 2, "unknown fill 'plaid'"),
    (["--fill", "mixed", "--pages", "-3"], 2, "bad value '-3' for --pages"),
    (["--fill", "mixed", "--file", "x"], 2, "give either --fill or --file"),
    (["--file", "/nonexistent/file"], 1, "cannot open '/nonexistent/file'"),
])
def test_probe_refuses_bad_input(build_dir, args, rc, message):
    r = subprocess.run([tool(build_dir), *args], capture_output=True, text=True, timeout=30)
    assert r.returncode == rc and message in r.stderr


def test_floor_for_a_shipped_scenario(build_dir, monkeypatch):
    sc = next(s for s in scenarios.load_all() if s.name == "1G")
    monkeypatch.setattr(floor, "PROBE_PAGES_MAX", 1024)
    rec = floor.for_scenario(build_dir, sc, [])
    assert rec["type"] == "floor" and rec["scenario"] == "1G" and rec["floor_s"] > 0
    # at 1 Gbit/s a GiB of mixed RAM cannot cross in under 2 s however it is compressed
    assert 2 < rec["floor_s"] < 9


def test_content_set_resolution(tmp_path):
    (tmp_path / "one").write_bytes(b"x")
    (tmp_path / "set").mkdir()
    for n in ("b", "a"):
        (tmp_path / "set" / n).write_bytes(b"y")
    assert content.module_files("", str(tmp_path)) == []
    assert content.module_files("one", str(tmp_path)) == [str(tmp_path / "one")]
    assert content.module_files("set", str(tmp_path)) == [str(tmp_path / "set" / "a"),
                                                         str(tmp_path / "set" / "b")]
    with pytest.raises(content.ContentError, match="content set 'typical' not found"):
        content.module_files("typical", str(tmp_path))
    assert content.guest_args("fill=mixed ws=256M", ["m"]) == "ws=256M fill=modules"
    assert content.guest_args("fill=mixed ws=256M", []) == "fill=mixed ws=256M"
