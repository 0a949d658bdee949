"""The real Intel QATzip for the QAT tests, possibly still being built.

`make test` starts scripts/build-real-qatzip.sh --background before the C
builds, so the build (about 3 minutes, mostly serial configure steps) runs
beside them and beside pytest. That script holds an exclusive flock on
BUILD/qatzip/build.lock for as long as the build runs; wait() takes the same
lock shared, so it returns once the build has ended, however it ended
(a killed build releases the lock too).
"""
import fcntl
import os
import time

# How long the QAT tests, which run last, wait for a build still running.
# The build alone takes about 3 minutes on 2 cores; beside the C builds,
# pytest and other work on the same 2 cores it has taken up to 11.
WAIT_LIMIT_S = 900
_POLL_S = 0.5


def lib_path(build_dir):
    return os.path.join(build_dir, "qatzip", "prefix", "lib", "libqatzip.so.3")


def _lock_path(build_dir):
    return os.path.join(build_dir, "qatzip", "build.lock")


def log_path(build_dir):
    return os.path.join(build_dir, "qatzip", "build.log")


def building(build_dir):
    """True while a build holds the lock (nothing waits here)."""
    try:
        fd = os.open(_lock_path(build_dir), os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def wait(build_dir, limit_s=WAIT_LIMIT_S):
    """Waits for a running build; returns (library path or None, why not)."""
    lib = lib_path(build_dir)
    start = time.monotonic()
    while building(build_dir):
        if time.monotonic() - start > limit_s:
            return None, (f"THE REAL QATzip BUILD IS STILL RUNNING after {limit_s} s of waiting: "
                          f"see {log_path(build_dir)}")
        time.sleep(_POLL_S)
    if os.path.exists(lib):
        return os.path.abspath(lib), None
    if os.path.exists(log_path(build_dir)):
        return None, f"BUILDING THE REAL QATzip FAILED (or was stopped): see {log_path(build_dir)}"
    return None, "THE REAL QATzip IS NOT BUILT: `make qatzip` builds it from ../shared/vendor"


def outcome(build_dir, since):
    """One line on how a build this run saw running has ended (since: the
    run's start, time.time()), not waiting."""
    if building(build_dir):
        return f"still running (log: {log_path(build_dir)})"
    lib = lib_path(build_dir)
    if os.path.exists(lib):
        return f"built {os.path.getmtime(lib) - since:.0f} s into this run: {lib}"
    return f"FAILED: see {log_path(build_dir)}"
