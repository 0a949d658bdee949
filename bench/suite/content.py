"""A scenario's memory content: guestload's own fill, or a named content
set laid into guest RAM as multiboot modules (vmig `--module`, QEMU
`-initrd`, guestload `fill=modules`). Content sets are built by
bench/content/ into CONTENT_DIR/NAME: a file (one module) or a directory
whose files, in name order, are the modules.

A name of the form SET-SIZE (e.g. "typical-512M", SET one of
make_content.py's sets) is built on first use: make_content.py SET SIZE,
its image parts into CONTENT_DIR/SET-SIZE/ (the modules), its manifest
beside them as CONTENT_DIR/SET-SIZE.manifest. Deterministic on a given
machine, so a second run finds the same bytes."""
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTENT_DIR = os.environ.get("VMIG_BENCH_CONTENT_DIR", os.path.join(BENCH_DIR, "content", "build"))
FILL_RE = re.compile(r"(^|\s)fill=\S+")
MAKE_CONTENT = os.path.join(BENCH_DIR, "content", "make_content.py")
BUILDABLE_RE = re.compile(r"^(libs|text|archives|typical)-(\d+[KMG])$")
BUILD_TIMEOUT_S = 1800


class ContentError(Exception):
    """A content set that is not there; the message says where it was looked for."""


def buildable(name):
    """Whether make_content.py can build `name` (SET-SIZE)."""
    return bool(BUILDABLE_RE.match(name or ""))


def check(name, content_dir=CONTENT_DIR):
    """Raises ContentError unless `name` is there or can be built."""
    if name and not buildable(name):
        module_files(name, content_dir)


def ensure(name, content_dir=CONTENT_DIR, log=print):
    """The files of content set `name`, built first when it is a SET-SIZE
    name not built yet."""
    path = os.path.join(content_dir, name or "")
    if buildable(name) and not os.path.isdir(path):
        build(name, content_dir, log)
    return module_files(name, content_dir)


def build(name, content_dir=CONTENT_DIR, log=print):
    """make_content.py for SET-SIZE `name` into content_dir/name/; the
    directory appears whole or not at all."""
    kind, size = BUILDABLE_RE.match(name).groups()
    os.makedirs(content_dir, exist_ok=True)
    log(f"   building content set {name} (bench/content/make_content.py {kind} {size})")
    with tempfile.TemporaryDirectory(dir=content_dir) as tmp:
        r = subprocess.run([sys.executable, MAKE_CONTENT, kind, size, tmp],
                           capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        if r.returncode:
            raise ContentError(f"content set '{name}': make_content.py failed: "
                               f"{(r.stderr or r.stdout).strip()[-300:]}")
        images = os.path.join(tmp, "images")
        os.mkdir(images)
        for f in glob.glob(os.path.join(tmp, f"{kind}*.img")):
            shutil.move(f, images)
        shutil.move(os.path.join(tmp, f"{kind}.manifest"),
                    os.path.join(content_dir, f"{name}.manifest"))
        os.rename(images, os.path.join(content_dir, name))


def module_files(name, content_dir=CONTENT_DIR):
    """The files of content set `name` ([] for guestload's own fill)."""
    if not name:
        return []
    path = os.path.join(content_dir, name)
    if os.path.isfile(path):
        return [path]
    if os.path.isdir(path):
        files = sorted(os.path.join(path, f) for f in os.listdir(path)
                       if os.path.isfile(os.path.join(path, f)))
        if files:
            return files
    raise ContentError(f"content set '{name}' not found: expected a file or a non-empty "
                       f"directory at {path} (build it with bench/content/, or set "
                       f"VMIG_BENCH_CONTENT_DIR)")


def guest_args(args, files):
    """The guest's arguments: fill=modules in place of its fill when it
    carries modules, unchanged otherwise."""
    if not files:
        return args
    return (FILL_RE.sub("", args).strip() + " fill=modules").strip()


def fill_kind(args):
    """The fill= of guestload's arguments (its default, zero, when absent)."""
    m = re.search(r"(?:^|\s)fill=(\S+)", args)
    return m.group(1) if m else "zero"
