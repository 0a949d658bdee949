"""A test double of a VMM for the CPU accounting test: a thread named
"vcpu0" burns VCPU_S of its own CPU time and stays alive (as a vCPU does),
a thread named "mig-src" burns OTHER_S and exits (as a migration's sender
does); then the process prints "done" and sleeps until killed.
With a third argument "then-exit", it prints "burnt" once both have
burnt, waits for a line on stdin, and only then lets "vcpu0" exit before
"done" (as vmig's source VMM ends its vCPU threads at the handover and
lingers)."""
import ctypes
import sys
import threading
import time

PR_SET_NAME = 15
libc = ctypes.CDLL(None)
burnt, forever = threading.Event(), threading.Event()


def burn(name, seconds, then_wait):
    libc.prctl(PR_SET_NAME, name.encode(), 0, 0, 0)
    t = time.thread_time()
    while time.thread_time() - t < seconds:
        pass
    if then_wait:
        burnt.set()
        forever.wait()


vcpu_s, other_s = float(sys.argv[1]), float(sys.argv[2])
then_exit = len(sys.argv) > 3 and sys.argv[3] == "then-exit"
sys.stdin.readline()  # the test has taken its first sample
vcpu = threading.Thread(target=burn, args=("vcpu0", vcpu_s, True), daemon=True)
vcpu.start()
sender = threading.Thread(target=burn, args=("mig-src", other_s, False))
sender.start()
sender.join()
burnt.wait()
if then_exit:
    print("burnt", flush=True)
    sys.stdin.readline()  # the test has sampled the live vCPU thread
    forever.set()
    vcpu.join()
print("done", flush=True)
time.sleep(600)
