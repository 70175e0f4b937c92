# Thin front-end over CMake.  `make demo` and `make test` are the README's
# two-command quick start; both check/install the Debian packages first.
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
BUILD    ?= build
CC       ?= cc
PREFIX   ?= /usr/local
ARGS     ?=

.PHONY: all deps build demo test test-unit fuzz fuzz-replay bench install clean format

all: build

deps:
	@bash scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(PREFIX) >/dev/null

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: deps
	@$(MAKE) --no-print-directory build
	@bash scripts/demo.sh $(BUILD)

# The whole suite: gcc build, clang ASan+UBSan build, clang TSan build of
# the concurrency tests, the fuzz corpus replay; servers it needs are started
# and stopped by scripts/with-servers.sh.
test: deps
	@bash scripts/with-servers.sh bash scripts/test.sh

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Replay the saved fuzz corpus (part of `make test`), or fuzz anew for
# FUZZ_SECONDS per target with libFuzzer (clang).
FUZZ_SECONDS ?= 60
fuzz-replay: build
	cd $(BUILD) && ctest --output-on-failure -R test_fuzz_replay

fuzz: deps
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

bench: deps
	@cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DKLEPTO_TESTS=OFF >/dev/null
	@cmake --build build-bench -j $(JOBS) >/dev/null
	@bash scripts/with-servers.sh bash bench/run.sh build-bench $(ARGS)

install: build
	cmake --install $(BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan build-bench build-clang build-fuzz
