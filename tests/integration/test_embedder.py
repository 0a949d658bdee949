"""libvmig as another VMM uses it: installed with `meson install`, found
through pkg-config, only vmig_* exported, and the example embedder
(examples/memguest.c: a guest of its own, no KVM) migrated live to a
second copy of itself over UNIX sockets it opened itself."""
import glob
import os
import shutil
import subprocess
import tempfile

import pytest

import vmlib

NEEDS_KVM = False
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def installed():
    """libvmig installed once for this module's tests (they only read it),
    in a directory of the module's own: vmlib's are removed after each test."""
    dest = tempfile.mkdtemp(prefix="vmig-embedder-")
    try:
        yield _install(dest)
    finally:
        shutil.rmtree(dest, ignore_errors=True)


@pytest.fixture(scope="module")
def example(installed):
    return _build_example(*reversed(installed))


@pytest.fixture(scope="module")
def static_example(installed):
    return _build_example(*reversed(installed), static=True)


def _install(dest):
    p = subprocess.run(["meson", "install", "-C", vmlib.BUILD, "--destdir", dest, "--no-rebuild",
                        "--quiet"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    pcs = glob.glob(os.path.join(dest, "**", "libvmig.pc"), recursive=True)
    assert len(pcs) == 1, pcs
    env = dict(os.environ, PKG_CONFIG_LIBDIR=os.path.dirname(pcs[0]), PKG_CONFIG_SYSROOT_DIR=dest)
    return dest, env


def _pkg(env, *args):
    p = subprocess.run(["pkg-config", *args, "libvmig"], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


def _sanitizer_flags(lib):
    """A sanitized build's library needs the program built the same way."""
    dyn = subprocess.run(["readelf", "-d", lib], capture_output=True, text=True).stdout
    return ["-fsanitize=address,undefined"] if "libasan" in dyn else []


def _build_example(env, dest, static=False):
    lib = glob.glob(os.path.join(dest, "**", "libvmig.so"), recursive=True)[0]
    out = os.path.join(dest, "memguest-static" if static else "memguest")
    flags = _pkg(env, "--cflags") + _pkg(env, "--libs", *(["--static"] if static else []))
    if static:  # the archive, not the shared library
        flags = [f for f in flags if f != "-lvmig"] + [
            glob.glob(os.path.join(dest, "**", "libvmig.a"), recursive=True)[0], "-lxxhash", "-lssl", "-lcrypto",
            "-llz4", "-lzstd", "-lisal", "-ldl", "-lpthread"]
    cmd = ["cc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Werror", *_sanitizer_flags(lib),
           os.path.join(ROOT, "examples", "memguest.c"), "-o", out, *flags, "-lpthread"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    assert p.returncode == 0, (cmd, p.stderr)
    return out, os.path.dirname(lib)


def _migrate(exe, libdir, channels, extra_env=None):
    sock = os.path.join(vmlib.tmpdir(), "mg.sock")
    env = dict(os.environ, LD_LIBRARY_PATH=libdir, ASAN_OPTIONS="detect_leaks=0",
               **(extra_env or {}))
    dst = subprocess.Popen([exe, "dest", sock], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, env=env)
    vmlib._procs.append(dst)
    for _ in range(100):
        if os.path.exists(sock):
            break
        subprocess.run(["sleep", "0.05"])
    src = subprocess.run([exe, "source", sock, str(channels)], capture_output=True, text=True,
                         timeout=120, env=env)
    dout, derr = dst.communicate(timeout=60)
    assert src.returncode == 0, src.stdout + src.stderr
    assert dst.returncode == 0, dout + derr
    ram_src = [l for l in src.stdout.splitlines() if l.startswith("memguest: ram ")]
    ram_dst = [l for l in dout.splitlines() if l.startswith("memguest: ram ")]
    assert ram_src and ram_src == ram_dst, (src.stdout, dout)
    assert "verified yes" in dout, dout
    assert "writes 0" not in ram_src[0], ram_src
    return src.stdout


def test_only_vmig_names_are_exported(installed):
    dest, _ = installed
    so = glob.glob(os.path.join(dest, "**", "libvmig.so"), recursive=True)[0]
    out = subprocess.run(["nm", "-D", "--defined-only", so], capture_output=True, text=True).stdout
    names = [l.split()[-1] for l in out.splitlines() if l.strip()]
    assert names and all(n.startswith("vmig_") for n in names), names
    a = glob.glob(os.path.join(dest, "**", "libvmig.a"), recursive=True)[0]
    out = subprocess.run(["nm", "--defined-only", "-g", a], capture_output=True, text=True).stdout
    glob_names = [l.split()[-1] for l in out.splitlines() if len(l.split()) == 3]
    assert glob_names and all(n.startswith("vmig_") for n in glob_names), glob_names


def test_headers_and_pkg_config_are_installed(installed):
    dest, env = installed
    for h in ("vmig.h", "guest.h", "migration.h"):
        assert glob.glob(os.path.join(dest, "**", "include", "vmig", h), recursive=True), h
    assert not glob.glob(os.path.join(dest, "**", "guest_abi.h"), recursive=True)
    assert "-lvmig" in _pkg(env, "--libs")


def test_example_embedder_migrates_with_data_channels(example):
    exe, libdir = example
    _migrate(exe, libdir, 2)


def test_example_embedder_migrates_on_the_main_connection_alone(example):
    exe, libdir = example
    _migrate(exe, libdir, 0)


def test_example_embedder_migrates_over_tls_with_a_psk(example):
    exe, libdir = example
    creds = os.path.join(vmlib.tmpdir(), "creds")
    p = subprocess.run([os.path.join(ROOT, "scripts", "make-certs.sh"), creds],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = _migrate(exe, libdir, 2, {"MEMGUEST_TLS_PSK": os.path.join(creds, "keys.psk")})
    assert "memguest: tls TLSv1.3" in out and "psk" in out, out


def test_example_embedder_links_the_static_library(static_example):
    exe, libdir = static_example
    _migrate(exe, libdir, 1)
