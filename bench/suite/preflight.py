"""What must be true before a benchmark starts, checked at once so that a
run never fails half an hour in: KVM, root for the network namespaces and
cgroups, the built binaries, QEMU. Each problem is one sentence that says
what to do."""
import os
import shutil
import subprocess

from . import cgroups, dropfilter, faults, qemu_driver

KVM = "/dev/kvm"


def kvm_problem(accel):
    if accel == "kvm" and not os.access(KVM, os.R_OK | os.W_OK):
        return (f"{KVM} is not available on this machine: the benchmark runs real guests under "
                f"vmig's KVM VMM and under QEMU with KVM, so it needs a KVM host. (To develop the "
                f"harness without KVM, --accel tcg runs the QEMU side alone under TCG; its "
                f"figures are not results.)")
    return None


def host_problems(scenarios, accel, guest="guestload"):
    """What no install or build can fix: KVM (unless the guest is the
    engine's test double), root."""
    out = []
    k = kvm_problem(accel) if guest != "double" else None
    if k:
        out.append(k)
    needs_root = any(sc.link != "loopback" or sc.host == "tight" for sc in scenarios)
    if needs_root and os.geteuid() != 0:
        out.append("network namespaces, tc links and memory cgroups need root: run as root")
    return out


def problems(scenarios, build, accel, guest="guestload"):
    """Every reason the run cannot start, as sentences (empty: go)."""
    out = host_problems(scenarios, accel, guest)
    if guest == "double":
        wanted = ["enginesim", "content_probe"]
    else:
        wanted = ["guestload.elf", "content_probe"] + (["vmig"] if accel == "kvm" else [])
    for name in wanted:
        if not os.path.exists(os.path.join(build, name)):
            out.append(f"{os.path.join(build, name)} is missing: build first (make build, or "
                       f"ninja -C {build})")
    if guest != "double" and any(s.system == "qemu" for sc in scenarios for s in sc.settings):
        if not shutil.which(qemu_driver.QEMU):
            out.append(f"{qemu_driver.QEMU} is not installed: `make bench-deps` "
                       f"(Debian's qemu-system-x86)")
    if any(sc.host == "tight" for sc in scenarios) and not cgroups.detect():
        out.append("no cgroup memory controller is mounted: the 'tight' scenarios need one")
    return out + fault_problems(scenarios)


def fault_problems(scenarios):
    """What the fault cells need: clang for the drop filter, tc, openssl."""
    out = []
    if any(sc.family and faults.parse(sc.fault).kind != "none" for sc in scenarios):
        for tool, pkg in ((dropfilter.CLANG, "clang"), ("tc", "iproute2")):
            if not shutil.which(tool):
                out.append(f"{tool} is not installed: the loss and outage cells need it "
                           f"(`make bench-deps`, Debian's {pkg})")
    if any(sc.tls for sc in scenarios) and not shutil.which("openssl"):
        out.append("openssl is not installed: the TLS cells make their certificates with it "
                   "(`make bench-deps`)")
    return out


def qemu_version():
    try:
        r = subprocess.run([qemu_driver.QEMU, "--version"], capture_output=True, text=True,
                           timeout=10)
        return r.stdout.splitlines()[0] if r.stdout else None
    except (OSError, subprocess.TimeoutExpired):
        return None


def machine():
    """'N CPUs, MODEL, X GiB' for the report's header."""
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) / (1 << 20)
    except OSError:
        mem = 0
    return f"{os.cpu_count()} CPUs, {model}, {mem:.0f} GiB"
