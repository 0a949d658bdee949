"""Scenario files (bench/scenarios/*.toml) and the settings they name
(bench/settings.toml): loaded, checked, and turned into plain objects.

A bad file is refused with a ScenarioError whose message names the file,
the key and what was expected; the runner prints it and exits non-zero."""
import dataclasses
import os
import re
import tomllib

from . import faults

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIO_DIR = os.path.join(BENCH_DIR, "scenarios")
SETTINGS_FILE = os.path.join(BENCH_DIR, "settings.toml")

HOST_CONDITIONS = ("idle", "busy", "tight")
# tc's rate units (tc(8)); "loopback" runs both hosts on 127.0.0.1 unshaped.
LINK_RE = re.compile(r"^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit|tbit)$")
LINK_BITS = {"bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9, "tbit": 1e12}
SIZE_RE = re.compile(r"^(\d+)([MG])$")
# Issue 11: every setting at least this many times.
MIN_RUNS = 3
# The memory cgroup of a 'tight' host: guest RAM plus this (issue 9).
TIGHT_HEADROOM_BYTES = 96 << 20
QEMU_PARAM_TYPES = {"xbzrle-cache-size": int, "multifd-channels": int,
                    "multifd-compression": str, "cpu-throttle-initial": int,
                    "cpu-throttle-increment": int, "cpu-throttle-tailslow": bool,
                    "throttle-trigger-threshold": int, "max-cpu-throttle": int,
                    "multifd-zlib-level": int, "multifd-zstd-level": int}
QEMU_CAPS = ("xbzrle", "auto-converge", "multifd", "zero-blocks", "compress")


class ScenarioError(Exception):
    """A scenario or settings file that cannot be used; the message says why."""


@dataclasses.dataclass(frozen=True)
class Setting:
    system: str          # "vmig" or "qemu"
    name: str
    args: tuple = ()     # vmig: arguments to `vmig migrate`
    caps: tuple = ()     # qemu: migration capabilities
    params: tuple = ()   # qemu: (name, value) migration parameters
    quick: bool = False
    about: str = ""


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    description: str
    quick: bool
    link: str                 # "loopback" or a tc rate such as "1gbit"
    host: str                 # one of HOST_CONDITIONS
    mem: str                  # "1G", "512M"
    vcpus: int
    guest_args: str
    timeout_s: int
    quick_timeout_s: int      # the timeout under --quick (make bench-quick's 10 minutes)
    warmup_s: int
    runs: int
    content: str              # a content set's name, or "" for guestload's own fill
    floor_cpu_cores: float    # CPU the floor may spend on a codec (0: all cores)
    settings: tuple           # Setting, vmig's first
    # A fault scenario (docs/benchmarks.md, "Fault benchmark") lists
    # faults and TLS modes; load_all() turns it into one cell per pair,
    # each a Scenario named FAMILY-FAULT-plain|tls with one fault and mode.
    fault_names: tuple = ()   # () for an ordinary scenario
    tls_modes: tuple = (False,)
    fault_at: float = faults.DEFAULT_AT
    family: str = ""          # the fault scenario a cell comes from
    fault: str = "none"
    tls: bool = False

    @property
    def mem_bytes(self):
        return parse_size(self.mem)

    @property
    def link_bits_per_s(self):
        """The shaped rate, or None for an unshaped loopback."""
        return link_rate(self.link)

    @property
    def tight_limit_bytes(self):
        return self.mem_bytes + TIGHT_HEADROOM_BYTES


def parse_size(text):
    m = SIZE_RE.match(text)
    if not m:
        raise ValueError(f"'{text}' is not a size like 512M or 1G")
    return int(m.group(1)) << (20 if m.group(2) == "M" else 30)


def link_rate(link):
    if link == "loopback":
        return None
    m = LINK_RE.match(link)
    if not m:
        raise ValueError(f"'{link}' is not 'loopback' or a tc rate like 100mbit, 1gbit")
    return float(m.group(1)) * LINK_BITS[m.group(2)]


def _read_toml(path):
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise ScenarioError(f"{path}: cannot read: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{path}: not valid TOML: {e}") from None


class _Fields:
    """Typed access to one table of a file, naming the file and key in errors."""

    def __init__(self, path, table, where=""):
        self.path, self.table, self.where = path, table, where
        self.used = set()

    def get(self, key, kind, default=dataclasses.MISSING):
        self.used.add(key)
        if key not in self.table:
            if default is dataclasses.MISSING:
                self.fail(key, "is missing")
            return default
        v = self.table[key]
        ok = isinstance(v, kind) and not (kind in (int, float) and isinstance(v, bool))
        if kind is float and isinstance(v, int) and not isinstance(v, bool):
            v, ok = float(v), True
        if not ok:
            self.fail(key, f"must be {_kind_name(kind)} (got {v!r})")
        return v

    def fail(self, key, what):
        raise ScenarioError(f"{self.path}: {self.where}'{key}' {what}")

    def no_strangers(self):
        extra = sorted(set(self.table) - self.used)
        if extra:
            raise ScenarioError(f"{self.path}: {self.where}unknown key '{extra[0]}'")


def _kind_name(kind):
    return {str: "a string", int: "an integer", float: "a number", bool: "true or false",
            list: "a list", dict: "a table"}.get(kind, kind.__name__)


def load_settings(path=SETTINGS_FILE):
    """{("vmig"|"qemu", name): Setting} from the settings file."""
    doc = _read_toml(path)
    out = {}
    for system in doc:
        if system not in ("vmig", "qemu"):
            raise ScenarioError(f"{path}: unknown table '{system}' (only [vmig.NAME] and [qemu.NAME])")
        for name, table in doc[system].items():
            if not isinstance(table, dict):
                raise ScenarioError(f"{path}: '{system}.{name}' must be a table")
            out[(system, name)] = _setting(path, system, name, table)
    return out


def _setting(path, system, name, table):
    f = _Fields(path, table, f"[{system}.{name}] ")
    quick, about = f.get("quick", bool, False), f.get("about", str, "")
    if system == "vmig":
        args = f.get("args", str)
        f.no_strangers()
        return Setting("vmig", name, args=tuple(args.split()), quick=quick, about=about)
    caps = f.get("caps", list)
    for c in caps:
        if c not in QEMU_CAPS:
            f.fail("caps", f"has unknown capability {c!r} (known: {', '.join(QEMU_CAPS)})")
    params = f.get("params", dict, {})
    for k, v in params.items():
        kind = QEMU_PARAM_TYPES.get(k)
        if kind is None:
            f.fail("params", f"has unknown parameter {k!r} (known: {', '.join(QEMU_PARAM_TYPES)})")
        if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
            f.fail("params", f"{k!r} must be {_kind_name(kind)} (got {v!r})")
    f.no_strangers()
    return Setting("qemu", name, caps=tuple(caps), params=tuple(sorted(params.items())),
                   quick=quick, about=about)


def load_scenario(path, settings):
    """One scenario file, its settings resolved against `settings`."""
    doc = _read_toml(path)
    f = _Fields(path, doc)
    name = os.path.splitext(os.path.basename(path))[0]
    link, host, mem = f.get("link", str), f.get("host", str), f.get("mem", str)
    try:
        link_rate(link)
    except ValueError as e:
        f.fail("link", f"is bad: {e}")
    if host not in HOST_CONDITIONS:
        f.fail("host", f"must be one of {', '.join(HOST_CONDITIONS)} (got {host!r})")
    try:
        parse_size(mem)
    except ValueError as e:
        f.fail("mem", f"is bad: {e}")
    vcpus, timeout = f.get("vcpus", int, 1), f.get("timeout_s", int)
    warmup, runs = f.get("warmup_s", int, 2), f.get("runs", int, MIN_RUNS)
    if not 1 <= vcpus <= 64:
        f.fail("vcpus", f"must be 1..64 (got {vcpus})")
    quick_timeout = f.get("quick_timeout_s", int, timeout)
    if timeout <= 0 or warmup < 0 or quick_timeout <= 0:
        f.fail("timeout_s" if timeout <= 0 else "warmup_s" if warmup < 0 else "quick_timeout_s",
               "must be positive")
    if runs < MIN_RUNS:
        f.fail("runs", f"must be at least {MIN_RUNS} (got {runs})")
    cores = f.get("floor_cpu_cores", float, 0.0)
    if cores < 0:
        f.fail("floor_cpu_cores", "must not be negative")
    chosen = []
    for system in ("vmig", "qemu"):
        for sname in f.get(system, list, []):
            if (system, sname) not in settings:
                f.fail(system, f"names {sname!r}, which bench/settings.toml does not define")
            chosen.append(settings[(system, sname)])
    if not chosen:
        f.fail("vmig", "and 'qemu' name no settings at all")
    fault_names, tls_modes, fault_at = _fault_keys(f, link)
    sc = Scenario(name=name, path=path, description=f.get("description", str, ""),
                  quick=f.get("quick", bool, False), link=link, host=host, mem=mem, vcpus=vcpus,
                  guest_args=f.get("guest_args", str), timeout_s=timeout,
                  quick_timeout_s=quick_timeout, warmup_s=warmup,
                  runs=runs, content=f.get("content", str, ""), floor_cpu_cores=cores,
                  settings=tuple(chosen), fault_names=fault_names, tls_modes=tls_modes,
                  fault_at=fault_at)
    f.no_strangers()
    return sc


TLS_MODES = {"off": False, "on": True}


def _fault_keys(f, link):
    """(fault names, TLS modes, fault_at) of a scenario file, checked."""
    # TLS modes alone make a fault scenario too, its one fault "none"
    names = tuple(f.get("faults", list, ["none"] if "tls" in f.table else []))
    for n in names:
        try:
            fl = faults.parse(n) if isinstance(n, str) else None
        except ValueError as e:
            f.fail("faults", f"is bad: {e}")
        if fl is None:
            f.fail("faults", f"must list names like 'loss-0.1' (got {n!r})")
        if fl.kind != "none" and link == "loopback":
            f.fail("faults", f"has '{n}', which needs a netns link, not loopback")
    if len(set(names)) != len(names):
        f.fail("faults", "names a fault twice")
    modes = f.get("tls", list, ["off"])
    if (not modes or any(not isinstance(m, str) or m not in TLS_MODES for m in modes)
            or len(set(modes)) != len(modes)):
        f.fail("tls", f"must list 'off' and/or 'on' once each (got {modes!r})")
    at = f.get("fault_at", float, faults.DEFAULT_AT)
    if not 0 < at < 1:
        f.fail("fault_at", f"must be between 0 and 1, the share of the first pass done (got {at})")
    return names, tuple(TLS_MODES[m] for m in modes), at


def cells(sc):
    """A scenario's cells: itself when it lists no faults, else one
    Scenario per fault and TLS mode (faults in file order, each plain
    then with TLS, as the file lists the modes)."""
    if not sc.fault_names:
        return [sc]
    return [dataclasses.replace(sc, name=f"{sc.name}-{fault}-{'tls' if tls else 'plain'}",
                                family=sc.name, fault=fault, tls=tls, fault_names=(fault,),
                                tls_modes=(tls,))
            for fault in sc.fault_names for tls in sc.tls_modes]


def load_all(names=(), quick=False, scenario_dir=SCENARIO_DIR, settings_file=SETTINGS_FILE,
             fault_scenarios=False):
    """The scenarios to run, fault scenarios as their cells: those named
    (else all ordinary ones, or with fault_scenarios all fault ones), only
    the quick ones with their quick settings when quick is set."""
    settings = load_settings(settings_file)
    paths = sorted(p for p in os.listdir(scenario_dir) if p.endswith(".toml"))
    byname = {os.path.splitext(p)[0]: os.path.join(scenario_dir, p) for p in paths}
    for n in names:
        if n not in byname:
            raise ScenarioError(f"no scenario '{n}' in {scenario_dir} (there are: {', '.join(byname)})")
    out = []
    for n, p in byname.items():
        if names and n not in names:
            continue
        sc = load_scenario(p, settings)
        if not names and bool(sc.fault_names) != fault_scenarios:
            continue
        if quick:
            if not sc.quick and not names:
                continue
            sc = dataclasses.replace(sc, settings=tuple(s for s in sc.settings if s.quick),
                                     timeout_s=sc.quick_timeout_s)
        out += cells(sc)
    return out


def only_settings(scs, names):
    """The scenarios with only the settings named (either system's); a
    name no scenario runs is an error, a scenario left with none is dropped."""
    if not names:
        return scs
    known = {s.name for sc in scs for s in sc.settings}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ScenarioError(f"no scenario here runs setting(s) {', '.join(unknown)} "
                            f"(they run: {', '.join(sorted(known))})")
    out = [dataclasses.replace(sc, settings=tuple(s for s in sc.settings if s.name in names))
           for sc in scs]
    return [sc for sc in out if sc.settings]


def only_cells(scs, names):
    """The scenarios or fault cells named (e.g. 'faults-1G-down-10-plain'),
    so one cell can run alone; a name not among them is an error."""
    if not names:
        return scs
    unknown = [n for n in names if n not in {sc.name for sc in scs}]
    if unknown:
        raise ScenarioError(f"no cell {', '.join(unknown)} here "
                            f"(there are: {', '.join(sc.name for sc in scs)})")
    return [sc for sc in scs if sc.name in names]


def interleaved_order(settings, round_no):
    """The order of one round: vmig and QEMU settings taken in turn, the
    whole list reversed every other round (vmig, QEMU, ... then ..., QEMU,
    vmig), so neither system always runs first on a warm or a cold host."""
    v = [s for s in settings if s.system == "vmig"]
    q = [s for s in settings if s.system == "qemu"]
    order = []
    for i in range(max(len(v), len(q))):
        order += [x[i] for x in (v, q) if i < len(x)]
    return order if round_no % 2 == 0 else order[::-1]
