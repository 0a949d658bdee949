# vmig top-level entry points. On a fresh Debian 12 machine, as root:
#   make demo    install what is missing, build, run the live demo
#   make test    install what is missing, build with ASan/UBSan, run all tests
BUILD       ?= build
DEBUG_BUILD ?= build-debug

.PHONY: all deps build debug demo test unit bench clean format

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=release

$(DEBUG_BUILD)/build.ninja:
	meson setup $(DEBUG_BUILD) --buildtype=debug -Dsanitize=true

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

debug: deps $(DEBUG_BUILD)/build.ninja
	ninja -C $(DEBUG_BUILD)

demo: build
	scripts/demo.sh $(BUILD)

test: debug
	python3 tests/run.py --build $(DEBUG_BUILD)

unit: debug
	python3 tests/run.py --build $(DEBUG_BUILD) --unit-only

bench: build
	bench/dirty-rate.sh $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(DEBUG_BUILD)
