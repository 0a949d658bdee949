"""Starting the VMM processes of one run on their hosts, and ending them
all afterwards whatever happened."""
import os
import subprocess


class Procs:
    """The processes one run started; stop_all() kills what is left."""

    def __init__(self, tmpdir):
        self.tmpdir = tmpdir
        self.procs = []

    def start(self, name, cmd):
        """cmd with stdout and stderr into TMPDIR/NAME.out (kept for errors)."""
        out = open(os.path.join(self.tmpdir, f"{name}.out"), "wb")
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        out.close()
        p.bench_name = name
        self.procs.append(p)
        return p

    def tail(self, name, nbytes=600):
        """The end of a process's output, for an error message."""
        try:
            with open(os.path.join(self.tmpdir, f"{name}.out"), "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - nbytes))
                return f.read().decode(errors="replace").strip()
        except OSError:
            return ""

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.procs = []


def exit_reason(p):
    """How a process ended, in words ("exit 1", "killed by signal 9"), or None."""
    rc = p.poll()
    if rc is None:
        return None
    return f"killed by signal {-rc}" if rc < 0 else f"exit {rc}"


def recorded_run(ctx, rec, migrate):
    """Fills rec with migrate(procs)'s figures: a failure is recorded, not
    raised (one broken run must not end the suite), and whatever the run
    started is stopped and its host resources released."""
    procs = Procs(ctx.tmpdir)
    try:
        rec.update(migrate(procs))
    except Exception as e:  # noqa: BLE001
        rec.update({"status": "error", "converged": False, "error": str(e)})
    finally:
        procs.stop_all()
        rec["oom_kills"] = ctx.oom_kills()
        ctx.release()
    return rec
