"""The committed fuzz corpus (tests/fuzz/corpus/TARGET), replayed in the
ASan/UBSan build: one test per fuzz target (docs/fuzzing.md).

replay_TARGET runs the target's LLVMFuzzerTestOneInput over every input of
its corpus, as `make fuzz` does under libFuzzer; a crash, a broken
invariant (FUZZ INVARIANT BROKEN) or any sanitizer report fails the test.
The corpus holds the regression inputs of what fuzzing found (regress-*).
"""
import os
import subprocess

import pytest

from test_unit import SAN_ENV, SANITIZER_REPORT

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGETS = ("stream", "stream_rechecked", "wire", "vm_state", "control", "source", "control_client",
           "tls_psk", "cli_values", "tls_destination", "source_tls", "resume")
REPLAY_TIMEOUT = 300  # s, a whole corpus; the stream target's takes a few


@pytest.mark.timeout(REPLAY_TIMEOUT + 60)
@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_corpus(build_dir, target):
    exe = os.path.join(build_dir, "tests", "fuzz", f"replay_{target}")
    corpus = os.path.join(ROOT, "tests", "fuzz", "corpus", target)
    if not os.path.isfile(exe):
        pytest.fail(f"{exe} is not built (ninja -C {build_dir})", pytrace=False)
    if not os.path.isdir(corpus) or not os.listdir(corpus):
        pytest.fail(f"no corpus at {corpus}", pytrace=False)
    try:
        p = subprocess.run([exe, corpus], capture_output=True, text=True,
                           timeout=REPLAY_TIMEOUT, env=dict(os.environ, **SAN_ENV), cwd=ROOT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"replay_{target}: still running after {REPLAY_TIMEOUT} s", pytrace=False)
    bad = SANITIZER_REPORT.search(p.stderr) or "FUZZ INVARIANT BROKEN" in p.stderr
    if p.returncode != 0 or bad or "replayed" not in p.stdout:
        pytest.fail(f"replay_{target} {corpus}: exit status {p.returncode}\n--- stdout\n"
                    f"{p.stdout[-2000:]}--- stderr\n{p.stderr[-12000:]}", pytrace=False)
