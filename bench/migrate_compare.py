#!/usr/bin/env python3
"""Side-by-side live migration: vmig against QEMU (Debian's 7.2) on the same
guest (guestload.elf, same arguments), same machine, same run.

With --netns-rate RATE (e.g. 1gbit) source and destination run on two
network-namespace hosts joined by a veth with a tc tbf rate limit;
otherwise on loopback. --vmig-settings lists vmig option sets to try,
separated by ';' (e.g. "--codec none;--codec zstd --channels 2").

Usage: bench/migrate_compare.py [--build build] [--mem 1G]
         [--guest-args "fill=mixed ws=256M rate=0 write=word"] [--runs 1]
         [--qemu-caps none,xbzrle,auto-converge,xbzrle+auto-converge]
         [--max-bandwidth BYTES/S] (0 = unlimited, both sides)

Prints one row per run: total time, downtime, guest-observed downtime
(vmig only: QEMU does not see guestload's heartbeat port), wire bytes.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_progress(log, seconds, timeout=120):
    """Wait until guestload has run `seconds` seconds of its workload."""
    t = time.monotonic() + timeout
    needle = f"guestload: t={seconds}s"
    while time.monotonic() < t:
        try:
            with open(log, errors="replace") as f:
                if needle in f.read():
                    return
        except FileNotFoundError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"guest never reached t={seconds}s ({log})")


def errors_after(log, wait=3.0):
    """Let the migrated guest run, then return its last reported error count."""
    time.sleep(wait)
    import re
    with open(log, errors="replace") as f:
        m = re.findall(r"errors=(\d+)", f.read())
    return int(m[-1]) if m else -1


def wait_for(path, timeout=30):
    t = time.monotonic() + timeout
    while time.monotonic() < t:
        if os.path.exists(path):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{path} never appeared")


class QMP:
    def __init__(self, path):
        wait_for(path)
        self.s = socket.socket(socket.AF_UNIX)
        for _ in range(100):
            try:
                self.s.connect(path)
                break
            except OSError:
                time.sleep(0.05)
        self.f = self.s.makefile("rw")
        json.loads(self.f.readline())  # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args} if args else {"execute": name}) + "\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "event" in r:
                continue
            if "error" in r:
                raise RuntimeError(f"{name}: {r['error']}")
            return r["return"]


def run_vmig(a, tmp, opts_str=""):
    vmig = os.path.join(a.build, "vmig")
    pa, pb, host = a.prefix_a, a.prefix_b, a.dst_host
    guest = os.path.join(a.build, "guestload.elf")
    src_sock, dst_sock = os.path.join(tmp, "src.sock"), os.path.join(tmp, "dst.sock")
    port = free_port()
    src = subprocess.Popen([*pa, vmig, "run", "--mem", a.mem, "--guest", guest, "--guest-args", a.guest_args,
                            "--serial", os.path.join(tmp, "vmig-src.log"), "--control", src_sock],
                           stderr=subprocess.DEVNULL)
    dst = subprocess.Popen([*pb, vmig, "run", "--incoming", f"tcp:{host}:{port}",
                            "--serial", os.path.join(tmp, "vmig-dst.log"), "--control", dst_sock],
                           stderr=subprocess.DEVNULL)
    try:
        wait_for(src_sock)
        wait_progress(os.path.join(tmp, "vmig-src.log"), a.warmup)
        opts = ["--max-bandwidth", str(a.max_bandwidth)] if a.max_bandwidth else []
        opts += opts_str.split()
        time.sleep(0.3)  # destination listening
        p = subprocess.run([vmig, "migrate", "--control", src_sock, f"tcp:{host}:{port}", "--json",
                            "--timeout", str(a.timeout), *opts], capture_output=True, text=True,
                           timeout=a.timeout + 30)
        j = json.loads(p.stdout)
        errs = errors_after(os.path.join(tmp, "vmig-dst.log")) if j["status"] == "completed" else -1
        return {"who": "vmig", "setting": opts_str or "default", "status": j["status"], "errors": errs,
                "ram_bytes": j.get("ram_bytes", 0),
                "total_ms": j["total_ms"], "downtime_ms": j["downtime_ms"],
                "guest_downtime_ms": j["guest_downtime_ms"], "wire_bytes": j["wire_bytes"],
                "passes": j["iterations"]}
    finally:
        for p in (src, dst):
            p.kill()
            p.wait()


def run_qemu(a, tmp, caps):
    guest = os.path.join(a.build, "guestload.elf")
    pa, pb, host = a.prefix_a, a.prefix_b, a.dst_host
    port = free_port()
    qsrc, qdst = os.path.join(tmp, "qsrc.sock"), os.path.join(tmp, "qdst.sock")
    base = ["qemu-system-x86_64", "-enable-kvm", "-m", a.mem.replace("G", "G").replace("M", "M"),
            "-smp", "1", "-display", "none", "-no-reboot", "-kernel", guest, "-append", a.guest_args]
    src = subprocess.Popen(pa + base + ["-serial", f"file:{tmp}/qemu-src.log", "-qmp", f"unix:{qsrc},server=on,wait=off"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    dst = subprocess.Popen(pb + base + ["-serial", f"file:{tmp}/qemu-dst.log", "-qmp", f"unix:{qdst},server=on,wait=off",
                                   "-incoming", f"tcp:{host}:{port}"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        s, d = QMP(qsrc), QMP(qdst)
        wait_progress(f"{tmp}/qemu-src.log", a.warmup)
        capl = [c for c in caps.split("+") if c != "none"]
        if capl:
            cl = [{"capability": c, "state": True} for c in capl]
            s.cmd("migrate-set-capabilities", capabilities=cl)
            d.cmd("migrate-set-capabilities", capabilities=cl)
        bw = a.max_bandwidth or (64 << 30)  # QEMU's default cap is 128 MiB/s: lift it
        s.cmd("migrate-set-parameters", **{"max-bandwidth": bw, "downtime-limit": 300})
        if "xbzrle" in capl:
            s.cmd("migrate-set-parameters", **{"xbzrle-cache-size": 256 << 20})
        s.cmd("migrate", uri=f"tcp:{host}:{port}")
        t0 = time.monotonic()
        while True:
            st = s.cmd("query-migrate")
            if st.get("status") in ("completed", "failed", "cancelled"):
                break
            if time.monotonic() - t0 > a.timeout:
                s.cmd("migrate_cancel")
                time.sleep(1)
                st = s.cmd("query-migrate")
                st["status"] = "timed-out"
                break
            time.sleep(0.1)
        ram = st.get("ram", {})
        errs = errors_after(f"{tmp}/qemu-dst.log") if st["status"] == "completed" else -1
        return {"who": "qemu", "setting": caps, "status": st["status"], "errors": errs,
                "total_ms": st.get("total-time", int((time.monotonic() - t0) * 1000)),
                "downtime_ms": st.get("downtime", -1), "guest_downtime_ms": -1,
                "wire_bytes": ram.get("transferred", 0),
                "passes": ram.get("dirty-sync-count", 0)}
    finally:
        for p in (src, dst):
            p.kill()
            p.wait()


def prewarm_host_memory(gib):
    """Touch and free `gib` GiB once. On the development hosts (nested
    virtualisation) the first touch of a physical page since the machine
    booted costs ~3.5 s/GiB; later reuse is cheap. Without this, whichever
    side runs first pays for warming the host and the comparison is skewed."""
    if gib <= 0:
        return
    import mmap
    t = time.monotonic()
    m = mmap.mmap(-1, gib << 30)
    for off in range(0, gib << 30, 4096):
        m[off] = 1
    m.close()
    print(f"(pre-warmed {gib} GiB of host memory in {time.monotonic() - t:.1f} s)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--mem", default="1G")
    ap.add_argument("--guest-args", default="fill=mixed ws=256M rate=0 write=word")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=2, help="seconds of guest workload before migrating")
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("--max-bandwidth", type=int, default=0)
    ap.add_argument("--qemu-caps", default="none,auto-converge,xbzrle+auto-converge")
    ap.add_argument("--no-qemu", action="store_true")
    ap.add_argument("--prewarm-gib", type=int, default=6, help="touch this much host memory first (0: skip)")
    ap.add_argument("--netns-rate", default=None, help="run on two netns hosts over a veth shaped to this rate (tc tbf)")
    ap.add_argument("--vmig-settings", default="", help="vmig option sets separated by ';'")
    a = ap.parse_args()
    a.prefix_a = a.prefix_b = []
    a.dst_host = "127.0.0.1"
    hosts = None
    if a.netns_rate:
        sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
        import netns
        hosts = netns.HostPair(rate=a.netns_rate)
        a.prefix_a, a.prefix_b, a.dst_host = hosts.exec_prefix("a"), hosts.exec_prefix("b"), hosts.ip_b
    try:
        return run_all(a)
    finally:
        if hosts:
            hosts.destroy()


def run_all(a):
    prewarm_host_memory(a.prewarm_gib)
    have_qemu = not a.no_qemu and subprocess.run(["which", "qemu-system-x86_64"], capture_output=True).returncode == 0
    where = f"netns hosts over a {a.netns_rate} veth" if a.netns_rate else "loopback"
    print(f"guest: {a.mem} RAM, 1 vCPU, guestload '{a.guest_args}', {where}, "
          f"max-bandwidth {'unlimited' if not a.max_bandwidth else a.max_bandwidth}")
    print(f"{'who':6} {'setting':44} {'status':10} {'total ms':>9} {'downtime':>9} {'guest dt':>9} "
          f"{'wire MiB':>9} {'passes':>6} {'guest errors after':>18}")
    rows = []
    for _ in range(a.runs):
        with tempfile.TemporaryDirectory(prefix="vmig-bench-") as tmp:
            for opts in (a.vmig_settings.split(";") if a.vmig_settings else [""]):
                rows.append(run_vmig(a, tmp, opts.strip()))
                print_row(rows[-1])
            if have_qemu:
                for caps in a.qemu_caps.split(","):
                    rows.append(run_qemu(a, tmp, caps))
                    print_row(rows[-1])
    if not have_qemu and not a.no_qemu:
        print("(QEMU not installed: VMIG_WITH_QEMU=1 make deps)")
    if a.runs > 1:
        print("\nmedians:")
        for key in sorted({(r["who"], r["setting"]) for r in rows}):
            sel = [r for r in rows if (r["who"], r["setting"]) == key and r["status"] == "completed"]
            if not sel:
                continue
            med = lambda k: sorted(x[k] for x in sel)[len(sel) // 2]
            print(f"{key[0]:6} {key[1]:44} total {med('total_ms'):>6} ms  downtime {med('downtime_ms'):>4} ms  "
                  f"wire {med('wire_bytes') / 1048576:.0f} MiB  ({len(sel)} runs)")


def print_row(r):
    print(f"{r['who']:6} {r['setting']:44} {r['status']:10} {r['total_ms']:>9} {r['downtime_ms']:>9} "
          f"{r['guest_downtime_ms']:>9} {r['wire_bytes'] / 1048576:>9.1f} {r['passes']:>6} {r['errors']:>18}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
