# SPDX-License-Identifier: BSD-3-Clause
# Thin front-end over CMake.  `make demo` and `make test` are the README's
# two-command quick start; both check/install the Debian packages first.
JOBS     ?= $(shell nproc 2>/dev/null || echo 2)
BUILD    ?= build
CC       ?= cc
# install prefix: when not given, the one $(BUILD) was configured with
# (/usr/local unless configured otherwise)
PREFIX   ?=
ARGS     ?=

.PHONY: all deps build demo test test-long test-unit docs fuzz fuzz-replay bench install uninstall clean format

all: build

deps:
	@bash scripts/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=$(abspath $(or $(PREFIX),/usr/local)) >/dev/null

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

# The same suite with KLEPTO_TEST_LONG=1: every fault point of the fault
# sweeps, 200 kills per archive kind in the crash matrix, the whole damage
# sweeps (where `make test` runs a slice of each).  Slow: tens of minutes.
test-long: deps
	@KLEPTO_TEST_LONG=1 bash scripts/with-servers.sh bash scripts/test.sh

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The API reference: Doxygen over include/klepto/ (docs/Doxyfile) into
# $(BUILD)/docs/html; any Doxygen warning fails it.
docs: deps
	@bash scripts/docs.sh $(BUILD)/docs

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

# Install into $(PREFIX) (and under $(DESTDIR) when set), whatever prefix
# $(BUILD) was first configured with: the installed klepto.pc and CMake
# package find their files relative to themselves.  A user-owned prefix
# needs no root: make install PREFIX=$HOME/.local
# A destination that cannot be written is refused before anything is
# copied; a failure part-way says what was left (scripts/install.sh).
install: build
	@bash scripts/install.sh "$(BUILD)" "$(if $(PREFIX),$(abspath $(PREFIX)))" "$(if $(DESTDIR),$(abspath $(DESTDIR)))"

# Remove the files the last `make install` from $(BUILD) wrote (CMake's
# $(BUILD)/install_manifest.txt, DESTDIR included), then klepto's own
# folders (include/klepto, lib/cmake/klepto) once empty.
uninstall:
	@m="$(BUILD)/install_manifest.txt"; \
	if [ ! -f "$$m" ]; then echo "make uninstall: no $$m: nothing was installed from $(BUILD)" >&2; exit 1; fi; \
	n=0; while IFS= read -r f || [ -n "$$f" ]; do \
	  if [ -e "$$f" ] || [ -L "$$f" ]; then rm -f -- "$$f" && n=$$((n + 1)); fi; \
	done < "$$m"; \
	sed 's|/[^/]*$$||' "$$m" | sort -ru | grep -E '/klepto(/|$$)' | while IFS= read -r d; do \
	  rmdir -- "$$d" 2>/dev/null || true; done; \
	echo "make uninstall: removed $$n files listed in $$m"

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-tsan build-bench build-clang build-fuzz
