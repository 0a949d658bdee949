# vmig top-level entry points. On a fresh Debian 12 machine, as root:
#   make demo    install what is missing, build, run the live demo
#   make test    install what is missing, build with ASan/UBSan and with TSan,
#                run all tests (pytest; PYTEST_ARGS="-k NAME" picks some)
BUILD       ?= build
DEBUG_BUILD ?= build-debug
TSAN_BUILD  ?= build-tsan
FUZZ_BUILD  ?= build-fuzz
# make fuzz: seconds per target, and which targets (docs/fuzzing.md).
FUZZ_SECONDS ?= 120
FUZZ_TARGETS ?= stream stream_rechecked wire vm_state control source control_client tls_psk \
	cli_values tls_destination source_tls resume
# Debian's python3-pytest serves /usr/bin/python3, not a python3 earlier on PATH.
PYTEST      ?= /usr/bin/python3 -m pytest
PYTEST_ARGS ?=
# pytest-xdist workers for make test/unit: most tests wait on sockets, paced
# links and child processes, so 2 fill 2 cores; 0 runs the tests one by one.
PYTEST_JOBS ?= 2
PYTEST_PARALLEL = $(if $(filter-out 0,$(PYTEST_JOBS)),-n $(PYTEST_JOBS))
# Intel QATzip is not in Debian: its vendored sources, built once into the
# debug build for the QAT tests (tests/conftest.py finds it there).
QATZIP_VENDOR ?= ../shared/vendor
QATZIP_BUILD  ?= $(DEBUG_BUILD)/qatzip

.PHONY: all deps build debug tsan tsan-tests qatzip qatzip-background demo test unit bench bench-quick \
	bench-faults bench-host bench-deps bench-engine bench-guest-speed bench-nested \
	bench-nested-faults certs clean format \
	fuzz fuzz-build fuzz-merge test-nested

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=release

$(DEBUG_BUILD)/build.ninja:
	meson setup $(DEBUG_BUILD) --buildtype=debug -Dsanitize=true

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(TSAN_BUILD)/build.ninja:
	meson setup $(TSAN_BUILD) --buildtype=debug -Dtsan=true

debug: deps $(DEBUG_BUILD)/build.ninja
	ninja -C $(DEBUG_BUILD)

tsan: deps $(TSAN_BUILD)/build.ninja
	ninja -C $(TSAN_BUILD)

# Only what the TSan rerun of the unit tests runs (tests/tsan_cases.py):
# under half of the TSan build's compile time.
tsan-tests: deps $(TSAN_BUILD)/build.ninja
	ninja -C $(TSAN_BUILD) $$(python3 tests/tsan_cases.py)

# The real QATzip for the QAT tests; says loudly when it cannot be built.
qatzip: $(DEBUG_BUILD)/build.ninja
	@scripts/build-real-qatzip.sh $(QATZIP_VENDOR) $(QATZIP_BUILD)

# The same, started in the background (log: $(QATZIP_BUILD)/build.log): it
# is mostly serial configure steps, so it runs beside the C builds and
# pytest, and the QAT tests wait for it (tests/qatzip_build.py).
qatzip-background: deps $(DEBUG_BUILD)/build.ninja
	@scripts/build-real-qatzip.sh --background $(QATZIP_VENDOR) $(QATZIP_BUILD)

demo: build
	scripts/demo.sh $(BUILD)

# Unit tests (one pytest test per C case, ASan/UBSan build, then the threaded
# ones again under TSan), then integration tests, PYTEST_JOBS at a time;
# ends "N passed, N failed, N skipped".
test: qatzip-background debug tsan-tests
	$(PYTEST) $(PYTEST_PARALLEL) -v --durations=10 --build=$(DEBUG_BUILD) --tsan-build=$(TSAN_BUILD) \
		$(PYTEST_ARGS)

# Where /dev/kvm is absent: the KVM state round trip and a live migration of
# a small guest on Debian 12's own kernel, booted under TCG with nested SVM
# (scripts/nested-kvm.sh; slow, about 1-2 minutes). NESTED_CMD runs
# something else there, e.g. NESTED_CMD="python3 -m pytest ... tests/integration/test_vmm.py".
NESTED_CMD ?= tests/nested/migrate_small.sh $(BUILD)
test-nested: build
	@VMIG_WITH_QEMU=1 scripts/install-deps.sh
	scripts/nested-kvm.sh -- $(NESTED_CMD)

unit: qatzip-background debug tsan-tests
	$(PYTEST) $(PYTEST_PARALLEL) -v --build=$(DEBUG_BUILD) --tsan-build=$(TSAN_BUILD) $(PYTEST_ARGS) tests/test_unit.py

# libFuzzer (clang) with ASan/UBSan: each target for FUZZ_SECONDS, one at a
# time; crashes land in $(FUZZ_BUILD)/fuzz/artifacts. fuzz-merge folds what
# the runs learnt into the committed corpus, minimised.
$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) --buildtype=debugoptimized -Dfuzz=true -Dwerror=false

fuzz-build: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) tests/fuzz/fuzz_seeds $(addprefix tests/fuzz/fuzz_,$(FUZZ_TARGETS))

fuzz: fuzz-build
	scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-merge: fuzz-build
	scripts/fuzz.sh --merge $(FUZZ_BUILD) $(FUZZ_TARGETS)

# The benchmark suite (docs/benchmarks.md): vmig and QEMU 7.2 side by side
# on the scenarios of bench/scenarios/, results and report in bench/out/.
# Needs /dev/kvm and root: without them it stops at once, saying why.
# `make bench` runs them all (hours); `make bench-quick` the 1G and 10G cells
# with the headline settings (about 10 minutes). BENCH_ARGS adds bench/run.py
# options, e.g. BENCH_ARGS="--scenario slow".
BENCH_PY   ?= /usr/bin/python3
BENCH_ARGS ?=

bench-host:
	@$(BENCH_PY) bench/run.py --check-host $(if $(filter bench-faults,$(MAKECMDGOALS)),--faults) $(BENCH_ARGS)

bench-deps:
	@VMIG_BENCH=1 scripts/install-deps.sh

bench: bench-host bench-deps build
	$(BENCH_PY) bench/run.py --build $(BUILD) $(BENCH_ARGS)

bench-quick: bench-host bench-deps build
	$(BENCH_PY) bench/run.py --quick --build $(BUILD) $(BENCH_ARGS)

# The fault benchmark: vmig auto against QEMU 7.2's best at 1 Gbit/s under
# packet loss, mid-migration link outages and TLS (bench/scenarios/faults-*.toml;
# loss and outages are an eBPF drop filter built with clang -target bpf).
bench-faults: bench-host bench-deps build
	$(BENCH_PY) bench/run.py --faults --build $(BUILD) $(BENCH_ARGS)

# Where /dev/kvm is absent: issue 9's matrix with vmig's engine migrating a
# TEST-DOUBLE guest (bench/enginesim, no KVM, no QEMU): the policy on real
# links and hosts, not a KVM result. E.g. BENCH_ARGS="--setting auto --setting none-ac".
# ENGINE_WRITE_FAULT_NS: the double's cost of a page's first write after
# a harvest, standing in for KVM's write-protection fault (estimated, not
# measured here; 0: free writes, as the figures recorded before it).
ENGINE_WRITE_FAULT_NS ?= 1000
bench-engine: bench-deps build
	$(BENCH_PY) bench/run.py --guest double --write-fault-ns $(ENGINE_WRITE_FAULT_NS) \
		--build $(BUILD) $(BENCH_ARGS)

# Where /dev/kvm is absent: issue 9's 'slow' cell and issue 10's 10 s outage,
# scaled to 256 MiB, on Debian 12's kernel under nested emulation
# (scripts/nested-kvm.sh; bench/nested/). Behaviour (converges, throttle
# steps, slowdown, resume), never speed. Results under NESTED_BENCH_OUT;
# NESTED_PARTS=main or faults runs one half.
NESTED_PARTS ?= all
ifndef NESTED_BENCH_OUT
NESTED_BENCH_OUT := bench/out/nested-$(shell date -u +%Y%m%d-%H%M%S)
endif
bench-nested: build
	@VMIG_WITH_QEMU=1 VMIG_BENCH=1 scripts/install-deps.sh
	scripts/nested-kvm.sh --timeout 5400 --out $(NESTED_BENCH_OUT) -- \
		bench/nested/run.sh $(BUILD) $(NESTED_PARTS) $(BENCH_ARGS)
	@echo "results: $(NESTED_BENCH_OUT)/bench and $(NESTED_BENCH_OUT)/bench-faults"

# Issue 10's fault table under nested emulation, each cell in a nested
# machine of its own (bench/nested/each-cell.sh; NESTED_CELLS="..." picks
# cells, e.g. faults-down-10-plain faults-none-plain).
NESTED_CELLS ?=
bench-nested-faults: build
	@VMIG_WITH_QEMU=1 VMIG_BENCH=1 scripts/install-deps.sh
	bench/nested/each-cell.sh $(BUILD) $(NESTED_BENCH_OUT) $(NESTED_CELLS)

# guestload's dirty rate under vmig and QEMU (docs/benchmarks.md, Guest speed).
bench-guest-speed: build
	bench/dirty-rate.sh $(BUILD)

# Test TLS credentials (QEMU's layout + keys.psk) for --tls-creds / --tls-psk.
CERTS_DIR ?= certs
certs:
	scripts/make-certs.sh $(CERTS_DIR)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(DEBUG_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)
