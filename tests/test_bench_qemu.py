"""The QEMU driver's side of QMP (bench/suite/control.py, qemu_driver.py)
against a transcript recorded from Debian's QEMU 7.2 (qemu-system-x86_64
7.2.22 under TCG, migrating guestload with XBZRLE + auto-converge and the
events capability on: bench_fixtures/qmp_qemu72_transcript.jsonl, one
{"send": request} or {"recv": what QEMU wrote} per line). A test-double
QMP server replays it over a real UNIX socket."""
import json
import os
import socket
import threading

import pytest

import bench_support
from suite import control, qemu_driver, scenarios

TRANSCRIPT = os.path.join(bench_support.FIXTURES, "qmp_qemu72_transcript.jsonl")


def load_transcript():
    with open(TRANSCRIPT) as f:
        return [json.loads(line) for line in f]


class FakeQmpServer:
    """Test double of QEMU's QMP socket: writes the recorded greeting, then
    for each request the client sends, checks it names the recorded
    command and writes what QEMU wrote back (events included)."""

    def __init__(self, path, transcript):
        self.transcript, self.mismatch = transcript, None
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(1)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        conn, _ = self.srv.accept()
        f = conn.makefile("rw")
        for step in self.transcript:
            if "recv" in step:
                f.write(json.dumps(step["recv"]) + "\n")
                f.flush()
                continue
            line = f.readline()
            if not line:
                return
            got = json.loads(line)["execute"]
            if got != step["send"]["execute"] and self.mismatch is None:
                self.mismatch = f"client sent {got}, recording has {step['send']['execute']}"
        conn.close()


@pytest.fixture
def replay(tmp_path):
    path = str(tmp_path / "qmp.sock")
    t = load_transcript()
    srv = FakeQmpServer(path, t)
    yield path, [s["send"] for s in t if "send" in s]
    srv.srv.close()
    assert srv.mismatch is None, srv.mismatch


def test_client_follows_the_recorded_session_skipping_events(replay):
    path, sends = replay
    c = control.QmpClient(path)  # greeting and qmp_capabilities
    replies = []
    for req in sends[1:]:
        try:
            replies.append(c.call(req["execute"], req.get("arguments")))
        except control.ControlError as e:
            replies.append(e)
    c.close()
    states = [r["status"] for r in replies if isinstance(r, dict) and "status" in r]
    assert states[0] == "setup" and "active" in states and states[-1] == "completed"
    # the unknown command at the end of the recording is an error, with QEMU's words
    assert isinstance(replies[-1], control.ControlError)
    assert "has not been found" in str(replies[-1])


def recorded_query_replies():
    t = load_transcript()
    out = []
    for i, step in enumerate(t):
        if step.get("send", {}).get("execute") == "query-migrate":
            out.append(next(s["recv"]["return"] for s in t[i + 1:] if "return" in s.get("recv", {})))
    return out


def test_an_active_reply_becomes_a_timeline_sample():
    active = next(r for r in recorded_query_replies()
                  if r["status"] == "active" and r["ram"]["dirty-pages-rate"])
    s = qemu_driver.sample(active)
    assert s["status"] == "active"
    assert s["throughput_mibs"] == pytest.approx(active["ram"]["mbps"] * 1e6 / 8 / 2**20, abs=0.1)
    assert s["dirty_rate_mibs"] == pytest.approx(1267 * 4096 / 2**20, abs=0.1)
    assert s["remaining_bytes"] == active["ram"]["remaining"]
    assert s["throttle_pct"] == 0  # QEMU omits the field until it throttles
    assert s["pass"] == active["ram"]["dirty-sync-count"]


def test_the_completed_reply_gives_the_records_figures():
    done = recorded_query_replies()[-1]
    f = qemu_driver.final_figures(done, elapsed_ms=9999)
    assert f["converged"] and f["status"] == "completed"
    assert (f["total_ms"], f["downtime_ms"]) == (3860, 7)
    assert f["wire_bytes"] == 115531837 and f["ram_bytes"] == 114667520
    assert f["passes"] == 6 and f["guest_downtime_ms"] is None


def test_a_reply_without_figures_does_not_crash():
    f = qemu_driver.final_figures({"status": "failed", "error-desc": "boom"}, elapsed_ms=1234)
    assert not f["converged"] and f["total_ms"] == 1234 and f["error"] == "boom"
    assert qemu_driver.sample({"status": "setup"})["throughput_mibs"] is None


def test_settings_become_qmp_arguments_multifd_on_both_sides():
    st = scenarios.load_settings()
    caps, src, dst = qemu_driver.setting_commands(st[("qemu", "multifd4-zstd")])
    assert {c["capability"] for c in caps} == {"multifd", "auto-converge"}
    assert src["multifd-channels"] == 4 and src["multifd-compression"] == "zstd"
    assert dst == {"multifd-channels": 4, "multifd-compression": "zstd"}
    assert src["downtime-limit"] == qemu_driver.DOWNTIME_MS
    assert src["max-bandwidth"] == qemu_driver.UNCAPPED_BANDWIDTH
    caps, src, dst = qemu_driver.setting_commands(st[("qemu", "xbzrle-ac")])
    assert src["xbzrle-cache-size"] == 512 << 20 and dst == {}
