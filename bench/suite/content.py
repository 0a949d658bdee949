"""A scenario's memory content: guestload's own fill, or a named content
set laid into guest RAM as multiboot modules (vmig `--module`, QEMU
`-initrd`, guestload `fill=modules`). Content sets are built by
bench/content/ into CONTENT_DIR/NAME: a file (one module) or a directory
whose files, in name order, are the modules."""
import os
import re

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONTENT_DIR = os.environ.get("VMIG_BENCH_CONTENT_DIR", os.path.join(BENCH_DIR, "content", "build"))
FILL_RE = re.compile(r"(^|\s)fill=\S+")


class ContentError(Exception):
    """A content set that is not there; the message says where it was looked for."""


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
