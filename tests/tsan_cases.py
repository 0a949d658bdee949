"""Which C unit tests run again under ThreadSanitizer (tests/test_unit.py's
test_unit_tsan), in one place: `make test` builds only these in the TSan
build (`python3 tests/tsan_cases.py` prints them as ninja targets).
"""

# Run again under ThreadSanitizer: the binaries whose cases start threads
# (engine, channels, receiver, offload workers, control server). TSan only
# sees races between threads, so single-threaded ones (test_codec and
# test_xbzrle: 70 s more under TSan) are left out; the codecs and XBZRLE run
# on the engine's channel and worker threads in test_engine and test_accel.
# test_hostile (41 hostile streams, 19 s under TSan) is left out too: its
# receiver runs the channel threads test_engine and test_failures rerun.
TSAN_BINARIES = ("test_accel", "test_control", "test_dirtylimit", "test_engine", "test_failures",
                 "test_probe", "test_replan", "test_resume", "test_tls")
# Cases left out of the TSan rerun: long by design (a migration paced to
# converge or to time out over an 8 MiB/s link, 7-13 s each under TSan) and
# running the same threads as engine cases that do rerun
# (auto_converge_brings_a_fast_writer_home, dirty_limit_...).
# And test_tls's certificate and key permutations: each is a refusal then a
# migration on the same threads as tls_destination_refuses_a_plaintext_source,
# which reruns with the migration cases.
TSAN_SKIP_CASES = {
    # paced for 1 s on one thread; the lifting thread reruns in its neighbours
    "test_dirtylimit": ("a_lone_writer_gets_the_whole_limit_after_a_window",),
    "test_engine": ("dirty_rate_throttle_converges_in_fewer_passes_than_steps",
                    "without_auto_converge_the_fast_writer_never_converges"),
    "test_tls": ("plaintext_destination_refuses_a_tls_source",
                 "destination_refuses_a_certificate_of_another_ca",
                 "source_refuses_a_destination_of_another_ca",
                 "source_refuses_a_destination_under_another_name",
                 "source_refuses_an_expired_destination_certificate",
                 "destination_refuses_an_expired_source_certificate",
                 "destination_refuses_a_wrong_psk", "destination_refuses_an_unknown_psk_identity",
                 "x509_source_is_refused_by_a_psk_destination"),
}
# What the TSan binaries load beside them at run time (qatzip_double).
TSAN_RUNTIME_TARGETS = ("tests/qat_standin/libqatzip.so.3",)


def ninja_targets():
    return [f"tests/{b}" for b in TSAN_BINARIES] + list(TSAN_RUNTIME_TARGETS)


if __name__ == "__main__":
    print(" ".join(ninja_targets()))
