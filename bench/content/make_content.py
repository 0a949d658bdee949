#!/usr/bin/python3
"""Builds memory-content sets from files already on a Debian machine, for
guestload's fill=modules (`vmig run --module`, QEMU's -initrd).

    make_content.py SET SIZE OUTDIR [--seed N] [--part SIZE]

SET is libs, text, archives, typical or all; SIZE the set's total bytes
(K/M/G suffixes, rounded down to whole 4 KiB pages). Writes OUTDIR/SET.img
(or SET.0.img, SET.1.img, ... parts of --part bytes, default 1G) and
OUTDIR/SET.manifest (which file went where). No network. The output is
deterministic on a given machine: file lists are sorted, then shuffled with
a fixed seed. Where each set comes from: bench/content/README.md.
"""
import argparse
import gzip
import hashlib
import os
import random
import sys

PAGE = 4096
ELF_MAGIC = b"\x7fELF"
COMPRESSED_EXT = (".gz", ".xz", ".bz2", ".zst", ".lz4", ".lzma", ".deb", ".zip", ".jar",
                  ".png", ".jpg", ".jpeg")
# typical: shares of the set's pages (see README.md for why these)
TYPICAL = (("zero", 0.60), ("libs", 0.15), ("text", 0.10), ("anon", 0.15))
TYPICAL_RUN_PAGES = (1, 64)  # each kind comes in runs of 1..64 pages


def parse_size(s):
    mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    s = s.strip().lower()
    try:
        n = int(s[:-1]) * mult[s[-1]] if s and s[-1] in mult else int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad size '{s}': want a number with K, M or G")
    if n < PAGE:
        raise argparse.ArgumentTypeError(f"size '{s}' is under one 4 KiB page")
    return n // PAGE * PAGE


def walk(roots, keep):
    """Regular files (no symlinks) under roots that keep(path) accepts, sorted."""
    out = []
    for root in roots:
        for d, dirs, files in os.walk(root):
            dirs.sort()
            for f in sorted(files):
                p = os.path.join(d, f)
                if not os.path.islink(p) and os.path.isfile(p) and keep(p):
                    out.append(p)
    return sorted(out)


def head(path, n):
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError:
        return b""


def is_elf(path):
    return head(path, 4) == ELF_MAGIC


def is_text(path):
    if path.endswith(COMPRESSED_EXT):
        return path.endswith(".gz") and not path.endswith(".tar.gz")
    b = head(path, 4096)
    return bool(b) and b"\0" not in b


def read_text(path):
    """Documentation text; man pages and docs stored gzipped are decompressed."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                data = f.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except (OSError, EOFError, gzip.BadGzipFile):
        return b""
    return b"" if b"\0" in data[:4096] else data


def read_raw(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


SOURCES = {
    # name: (roots, file filter, reader)
    "libs": (["/usr/lib", "/usr/bin"], is_elf, read_raw),
    "text": (["/usr/share/doc", "/usr/share/man"], is_text, read_text),
    "archives": (["/usr/share/doc", "/usr/share/man", "/var/cache/apt/archives"],
                 lambda p: p.endswith(COMPRESSED_EXT), read_raw),
}


class Output:
    """The set's bytes, split into parts, with a manifest line per piece."""

    def __init__(self, outdir, name, size, part):
        self.outdir, self.name, self.size, self.part = outdir, name, size, part
        self.parts = (size + part - 1) // part
        self.written, self.f, self.manifest = 0, None, []
        self.sha = hashlib.sha256()

    def path(self, i):
        suffix = f".{i}.img" if self.parts > 1 else ".img"
        return os.path.join(self.outdir, self.name + suffix)

    def write(self, data, what):
        data = data[:self.size - self.written]
        if data:
            self.manifest.append(f"{self.written:#x} {len(data)} {what}")
        while data:
            if self.written % self.part == 0:
                if self.f:
                    self.f.close()
                self.f = open(self.path(self.written // self.part), "wb")
            n = min(len(data), self.part - self.written % self.part)
            self.f.write(data[:n])
            self.sha.update(data[:n])
            self.written += n
            data = data[n:]

    def full(self):
        return self.written >= self.size

    def close(self):
        if self.f:
            self.f.close()
        with open(os.path.join(self.outdir, self.name + ".manifest"), "w") as m:
            m.write("\n".join(self.manifest) + "\n")


def page_padded(data):
    """A file as the page cache holds it: from a page boundary, tail zeroed."""
    return data + bytes(-len(data) % PAGE)


class FilePages:
    """Pages of one source's files in a seeded order, each file page aligned."""

    def __init__(self, kind, rng):
        roots, keep, self.reader = SOURCES[kind]
        self.files = walk(roots, keep)
        if not self.files:
            sys.exit(f"make_content: no {kind} files under {', '.join(roots)}")
        rng.shuffle(self.files)
        self.i, self.buf, self.src = 0, b"", ""

    def take(self, nbytes):
        """(bytes, where from) of at most nbytes; cycles through the list."""
        while not self.buf:
            p = self.files[self.i % len(self.files)]
            self.i += 1
            self.buf, self.src = page_padded(self.reader(p)), p
            if self.i > 2 * len(self.files) and not self.buf:
                sys.exit("make_content: no readable files")
        out, self.buf = self.buf[:nbytes], self.buf[nbytes:]
        return out, self.src


def anon_page(rng):
    """Anonymous-like memory (heap, stacks): 8-byte words that are mostly
    pointers sharing their high bits, small integers and zeros, some random
    bytes (hashes, keys, compressed buffers)."""
    words = []
    base = 0x00007f0000000000 | (rng.getrandbits(28) << 12)
    for _ in range(PAGE // 8):
        r = rng.random()
        if r < 0.35:
            words.append(0)
        elif r < 0.60:
            words.append(base + (rng.getrandbits(16) << 3))
        elif r < 0.85:
            words.append(rng.getrandbits(rng.choice((4, 8, 16))))
        else:
            words.append(rng.getrandbits(64))
    return b"".join(w.to_bytes(8, "little") for w in words)


def build_files(kind, out, rng):
    src = FilePages(kind, rng)
    while not out.full():
        data, what = src.take(out.size - out.written)
        out.write(data, what)


def build_typical(out, rng):
    srcs = {k: FilePages(k, random.Random(rng.random())) for k in ("libs", "text")}
    kinds = [k for k, _ in TYPICAL]
    weights = [w for _, w in TYPICAL]
    while not out.full():
        kind = rng.choices(kinds, weights)[0]
        n = rng.randint(*TYPICAL_RUN_PAGES) * PAGE
        if kind == "zero":
            out.write(bytes(n), "zero")
        elif kind == "anon":
            out.write(b"".join(anon_page(rng) for _ in range(n // PAGE)), "anon")
        else:
            while n and not out.full():
                data, what = srcs[kind].take(n)
                out.write(data, what)
                n -= len(data)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("set", choices=["libs", "text", "archives", "typical", "all"])
    ap.add_argument("size", type=parse_size)
    ap.add_argument("outdir")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--part", type=parse_size, default=1 << 30,
                    help="largest output file (default 1G)")
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    for name in (["libs", "text", "archives", "typical"] if a.set == "all" else [a.set]):
        rng = random.Random(f"{name}:{a.seed}")
        out = Output(a.outdir, name, a.size, a.part)
        if name == "typical":
            build_typical(out, rng)
        else:
            build_files(name, out, rng)
        out.close()
        files = ",".join(out.path(i) for i in range(out.parts))
        print(f"{name}: {out.written} bytes in {out.parts} file(s) sha256={out.sha.hexdigest()[:16]}"
              f" {files}")


if __name__ == "__main__":
    try:
        main()
    except OSError as e:
        sys.exit(f"make_content: {e.filename or 'output'}: {e.strerror}")
