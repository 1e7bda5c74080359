# dfota - the two commands of the README, and a few more.
#   make demo    install what is missing, build, run the main job
#   make check   install what is missing, build, run every test (plain, ASan+UBSan, fuzz smoke)
#   make check-powerloss  the whole power-loss / fault-model sweep (tests/powerloss/)
#   make bench   package sizes and speed against bsdiff, xdelta3, zstd, xz (bench/README.md)
#   make size    code size of libdfota for Cortex-M4
#   make soak    A->B->A updates with random power cuts (not in make check):
#                SOAK_COUNT=N updates per layout (default 40) or SOAK_SECONDS=S, SOAK_SEED=N
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=

.PHONY: all deps build demo check check-plain check-asan check-fuzz check-powerloss bench size soak install clean \
        modem-figures

PREFIX     ?= /usr/local

all: build

# make check and make demo need the build and test packages; make bench
# adds the peers (bsdiff, xdelta3, zstd, gnuplot, valgrind, npm for the corpus).
deps:
	@sh scripts/install-deps.sh test

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	sh scripts/demo.sh $(BUILD)

check: check-plain check-asan check-fuzz
	@echo "make check: all test suites passed"

check-plain: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS)

# The unit, power-loss (a thinner sample), CLI and update-driver tests again under AddressSanitizer and UBSan.
check-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DDFOTA_SANITIZE=ON -DDFOTA_ARM=OFF
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	  ctest --output-on-failure -j $(JOBS) -L 'unit|cli|powerloss|update' $(CTEST_ARGS)

# Each libFuzzer target for a bounded number of runs on its seed corpus.
check-fuzz: deps
	cmake -S . -B $(FUZZ_BUILD) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DDFOTA_FUZZ=ON -DDFOTA_ARM=OFF
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	cd $(FUZZ_BUILD) && ctest --output-on-failure -L fuzz $(CTEST_ARGS)

# Every geometry x every fault model of tests/powerloss/ (make check runs a
# sample); prints the case counts per model, fails when a case fails.
check-powerloss: build
	$(BUILD)/tests/powerloss_runner --all --jobs $(JOBS) --max-fail 200

bench: build
	@sh scripts/install-deps.sh bench
	cmake --build $(BUILD) --target bench

# make install PREFIX=/usr DESTDIR=/tmp/stage: dfota, man page, completion,
# libdfota + headers, pkg-config and CMake package files.
install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD) --prefix $(PREFIX)

# dfota-modem: OK latency, URC spacing, download time on a simulated link, CPU
# of idle and updating modules (bench/modem_figures.py; a few minutes).
modem-figures: build
	DFOTA_MODEM=$(BUILD)/dfota-modem DFOTA_CLI=$(BUILD)/dfota /usr/bin/python3 bench/modem_figures.py

size: build
	cmake --build $(BUILD) --target size

soak: build
	/usr/bin/python3 tests/system/soak.py --build $(BUILD) $(if $(SOAK_SECONDS),--seconds $(SOAK_SECONDS)) \
	  $(if $(SOAK_COUNT),--count $(SOAK_COUNT)) $(if $(SOAK_SEED),--seed $(SOAK_SEED))

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
