"""What a shaped link really carries: one TCP stream from host a to host b
for a while, timed at the receiver. The report sets it beside the nominal
rate, so a tc shaper that undershoots (or a host too slow to fill the
link) is seen rather than blamed on the systems under test."""
import os
import subprocess
import sys
import tempfile

PORT = 47099
CHUNK = 16 << 20
RECEIVER = ("import socket,sys,time\n"
            "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            f"s.bind(('0.0.0.0', {PORT})); s.listen(1); print('ready', flush=True)\n"
            "c,_=s.accept(); n=0; t=None\n"
            "while True:\n"
            "    b=c.recv(1<<20)\n"
            "    if not b: break\n"
            "    t=t or time.monotonic()\n"
            "    n+=len(b)\n"
            "print(n, time.monotonic()-t, flush=True)\n")
# sendfile from a file of zeros: the kernel copies, so the sender's own CPU
# does not cap what it measures.
SENDER = ("import os,socket,sys\n"
          "c=socket.create_connection((sys.argv[1], %d)); f=open(sys.argv[2],'rb')\n"
          "for i in range(int(sys.argv[3])):\n"
          "    c.sendfile(f, 0)\n"
          "c.close()\n" % PORT)


def measure(pair, seconds_at_rate, rate_bits_per_s, timeout_s=60):
    """Bits per second one TCP stream got from a to b, sending about
    seconds_at_rate worth of the nominal rate (at least one chunk)."""
    total = max(1 << 20, int(rate_bits_per_s / 8 * seconds_at_rate))
    chunk = min(CHUNK, total)
    chunks = (total + chunk - 1) // chunk
    with tempfile.NamedTemporaryFile(dir="/dev/shm" if os.path.isdir("/dev/shm") else None) as f:
        f.truncate(chunk)
        rx = subprocess.Popen([*pair.prefix("b"), sys.executable, "-c", RECEIVER],
                              stdout=subprocess.PIPE, text=True)
        try:
            if rx.stdout.readline().strip() != "ready":
                raise RuntimeError("link check: the receiver did not start")
            subprocess.run([*pair.prefix("a"), sys.executable, "-c", SENDER, pair.dst_host,
                            f.name, str(chunks)], check=True, timeout=timeout_s,
                           capture_output=True)
            n, secs = rx.communicate(timeout=timeout_s)[0].split()
        finally:
            if rx.poll() is None:
                rx.kill()
                rx.wait()
    return int(n) * 8 / max(float(secs), 1e-6)
