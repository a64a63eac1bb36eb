# metercore front door. Every target checks its Debian packages first
# (tools/deps.sh installs them when run as root, else prints the apt-get line).
#
#   make run     build and start metersim (household day, Modbus TCP on 127.0.0.1:1502;
#                RUN_PORT=1503 moves it, RUN_ARGS="--speed 60" etc. are passed on)
#   make run-check  make run, bounded (an hour simulated at full speed, no dashboard)
#   make test-fresh make run-check + make test in a clean clone on a fresh minimal Debian
#   make test-matrix  Debug/Release/RelWithDebInfo/MinSizeRel x gcc/clang, -Werror, tests in each
#   make accuracy-report  accuracy suites -> docs/ACCURACY.md and SVG plots in docs/accuracy/
#   make test    sanitized Debug build + ctest, the same in a Release build, Cortex-M0+/M4F cross builds,
#                find_package / add_subdirectory / pkg-config consumers, the STM32
#                firmware for both boards and its Modbus-RTU test under QEMU
#   make docs    Doxygen HTML in build/docs/html (warnings are errors)
#   make bench   exact instructions per sample pair of the core on Cortex-M4F and Cortex-M0 under QEMU
#                (bench/qemu), then Release (-O2) host benchmarks: mc_meter_process() throughput,
#                Modbus TCP latency (POSIX port)
#   make size    flash/RAM per module on Cortex-M4F and Cortex-M0+ (-Os)
#   make fuzz    libFuzzer + ASan/UBSan (clang): Modbus framer and PDU handler, storage mount
#                on arbitrary flash images, schedule write path, WAV reader; FUZZ_SECONDS
#                (default 60) each, FUZZ_TARGETS to choose; corpora in build/fuzz/<target>
#   make regmap  regenerate docs/REGISTERS.md from the register map table
#   make clean   remove build/

BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
RUN_PORT ?= 1502
CMAKE ?= cmake
CTEST ?= ctest
export JOBS
MAKEFLAGS += --no-print-directory

# Capabilities, not bare package names: tools/deps.sh installs each one's Debian
# packages and then proves it works (a C program links, pymodbus.client imports,
# QEMU runs). `tools/deps.sh --list` shows them.
DEPS_HOST  := host-c
DEPS_RUN   := host-c modbus
DEPS_TEST  := host-c host-clang cmocka modbus modbus-clients tmux cross-arm qemu-arm
DEPS_CROSS := host-c cross-arm
DEPS_DOCS  := doxygen
DEPS_FUZZ  := host-c fuzz

TOOLCHAIN := cmake/toolchain-arm-none-eabi.cmake
CROSS_FLAGS := -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/$(TOOLCHAIN) -DMC_WERROR=ON -DMC_PORT=none \
               -DMC_BUILD_TESTS=OFF -DMC_BUILD_EXAMPLES=OFF -DMC_BUILD_BENCH=OFF

.PHONY: all help run run-check test-fresh test-release test-matrix accuracy-report test test-host test-cross test-stm32 test-consumers docs bench size fuzz regmap clean

all: test

help:
	@sed -n 's/^#   //p' Makefile

run:
	@tools/deps.sh $(DEPS_RUN)
	$(CMAKE) -S . -B $(BUILD)/run -DCMAKE_BUILD_TYPE=Release -DMC_BUILD_TESTS=OFF \
	    -DMC_BUILD_EXAMPLES=OFF -DMC_BUILD_BENCH=OFF
	$(CMAKE) --build $(BUILD)/run --target metersim --parallel $(JOBS)
	$(BUILD)/run/ports/posix/metersim/metersim run --modbus-tcp 127.0.0.1:$(RUN_PORT) $(RUN_ARGS)

# make run, bounded: a simulated hour at full speed without the dashboard, on a
# state file of its own, so that scripts (and test-fresh) can prove `make run` works.
run-check:
	@$(MAKE) run RUN_ARGS="--speed max --duration 3600 --no-dashboard --state $(CURDIR)/$(BUILD)/run-check.nvm $(RUN_ARGS)"

# The README's two commands on a minimal Debian that nobody prepared: a clean clone
# of HEAD in a freshly bootstrapped bookworm (../shared/tools/fresh-debian.sh).
FRESH_DEBIAN ?= $(CURDIR)/../shared/tools/fresh-debian.sh
test-fresh:
	@tools/deps.sh fresh
	$(FRESH_DEBIAN) bash -c 'make run-check && make test'

test:
	@tools/deps.sh $(DEPS_TEST)
	@$(MAKE) --no-print-directory test-host
	@$(MAKE) --no-print-directory test-release
	@$(MAKE) --no-print-directory test-cross
	@$(MAKE) --no-print-directory test-stm32
	@$(MAKE) --no-print-directory test-consumers
	@echo "make test: all passed"

test-host:
	$(CMAKE) -S . -B $(BUILD)/test -DCMAKE_BUILD_TYPE=Debug -DMC_SANITIZE=ON -DMC_WERROR=ON \
	    -DMC_BUILD_TESTS=ON -DMC_BUILD_EXAMPLES=ON -DMC_BUILD_BENCH=ON
	$(CMAKE) --build $(BUILD)/test --parallel $(JOBS)
	$(CTEST) --test-dir $(BUILD)/test --output-on-failure --no-tests=error --parallel $(JOBS)

# The same suites in an optimised build (gcc -O2 -DNDEBUG, no sanitizers): optimisation
# finds warnings that -O0 does not (maybe-uninitialized), and NDEBUG and the optimiser
# must not change a result.
test-release:
	$(CMAKE) -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=Release -DMC_SANITIZE=OFF -DMC_WERROR=ON \
	    -DMC_BUILD_TESTS=ON -DMC_BUILD_EXAMPLES=ON -DMC_BUILD_BENCH=ON
	$(CMAKE) --build $(BUILD)/release --parallel $(JOBS)
	$(CTEST) --test-dir $(BUILD)/release --output-on-failure --no-tests=error --parallel $(JOBS)

# Every build type with gcc and with clang, tests, examples and bench on, -Werror, no
# sanitizers; the test suites run in each (the scripted client tests, labels posix and
# metersim, only in the Release builds). Every configuration is tried; a table of the
# results ends it, and any failure fails the target.
MATRIX_TYPES ?= Debug Release RelWithDebInfo MinSizeRel
MATRIX_CCS ?= gcc clang
test-matrix:
	@tools/deps.sh $(DEPS_TEST)
	@rm -f $(BUILD)/matrix.txt; mkdir -p $(BUILD); \
	for cc in $(MATRIX_CCS); do for type in $(MATRIX_TYPES); do \
	    dir=$(BUILD)/matrix-$$cc-$$type; \
	    echo "test-matrix: $$cc $$type"; \
	    if [ "$$type" = Release ]; then sel=""; else sel="-LE posix|metersim"; fi; \
	    if ! $(CMAKE) -S . -B $$dir -DCMAKE_C_COMPILER=$$cc -DCMAKE_BUILD_TYPE=$$type -DMC_WERROR=ON \
	        -DMC_SANITIZE=OFF -DMC_BUILD_TESTS=ON -DMC_BUILD_EXAMPLES=ON -DMC_BUILD_BENCH=ON >$$dir.log 2>&1; then \
	        cat $$dir.log; res="configure FAILED"; \
	    elif ! $(CMAKE) --build $$dir --parallel $(JOBS) >$$dir.log 2>&1; then \
	        grep -B2 -A8 -m5 'error\|warning' $$dir.log; res="build FAILED"; \
	    elif ! $(CTEST) --test-dir $$dir --no-tests=error --parallel $(JOBS) --output-on-failure $$sel \
	        >$$dir.log 2>&1; then \
	        cat $$dir.log; \
	        res="build ok, tests FAILED: $$(sed -n 's/^[[:space:]]*[0-9]* - \(.*\) (.*)$$/\1/p' $$dir.log | tr '\n' ' ')"; \
	    else \
	        res="build ok, $$(grep -o '[0-9]* tests failed out of [0-9]*' $$dir.log)"; \
	    fi; \
	    echo "    $$res"; printf '%-6s %-15s %s\n' $$cc $$type "$$res" >>$(BUILD)/matrix.txt; \
	done; done; \
	echo "test-matrix:"; sed 's/^/    /' $(BUILD)/matrix.txt; \
	if grep -q FAILED $(BUILD)/matrix.txt; then echo "test-matrix: FAILED"; exit 1; fi
	@echo "test-matrix: all passed"

# The accuracy suites (the sanitized test build), their tables and plots: docs/ACCURACY.md's
# table is regenerated by the suite, the SVGs in docs/accuracy/ and the section that shows
# them by tools/accuracy_report.py from the rows the suites printed (python3-matplotlib).
accuracy-report:
	@tools/deps.sh $(DEPS_HOST) cmocka plots
	$(CMAKE) -S . -B $(BUILD)/test -DCMAKE_BUILD_TYPE=Debug -DMC_SANITIZE=ON -DMC_WERROR=ON \
	    -DMC_BUILD_TESTS=ON -DMC_BUILD_EXAMPLES=ON -DMC_BUILD_BENCH=ON
	$(CMAKE) --build $(BUILD)/test --parallel $(JOBS)
	@mkdir -p $(BUILD)/accuracy
	@rc=0; \
	MC_ACCURACY_MD=docs/ACCURACY.md \
	MC_ACCURACY_NOTE="Core sources as at commit $$(git log -1 --format=%h -- src/core include 2>/dev/null || echo unknown); built with \`make test-host\` flags (Debug, ASan + UBSan)." \
	    $(BUILD)/test/tests/test_accuracy >$(BUILD)/accuracy/accuracy.txt || rc=1; \
	rw=""; if [ -x $(BUILD)/test/tests/test_realworld ]; then \
	    $(BUILD)/test/tests/test_realworld >$(BUILD)/accuracy/realworld.txt || rc=1; \
	    rw="--realworld $(BUILD)/accuracy/realworld.txt"; fi; \
	/usr/bin/python3 tools/accuracy_report.py --accuracy $(BUILD)/accuracy/accuracy.txt $$rw \
	    --out docs/accuracy --markdown docs/ACCURACY.md || exit 1; \
	if [ $$rc != 0 ]; then echo "make accuracy-report: a suite failed; its FAIL rows are drawn in red ($(BUILD)/accuracy/*.txt)"; exit 1; fi
	@echo "make accuracy-report: docs/ACCURACY.md and docs/accuracy/*.svg"

test-cross:
	$(CMAKE) -S . -B $(BUILD)/m0plus $(CROSS_FLAGS) -DMC_ARM_CPU=cortex-m0plus
	$(CMAKE) --build $(BUILD)/m0plus --parallel $(JOBS)
	$(CMAKE) -S . -B $(BUILD)/m4f $(CROSS_FLAGS) -DMC_ARM_CPU=cortex-m4f
	$(CMAKE) --build $(BUILD)/m4f --parallel $(JOBS)

# The STM32 port: firmware for every board (MinSizeRel, -Werror), then ctest in that
# build runs the qemu-netduinoplus2 image under qemu-system-arm (tests/stm32/qemu_modbus.sh).
test-stm32:
	$(CMAKE) -S . -B $(BUILD)/stm32 -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/$(TOOLCHAIN) -DMC_ARM_CPU=cortex-m4f \
	    -DCMAKE_BUILD_TYPE=MinSizeRel -DMC_WERROR=ON -DMC_PORT=stm32 \
	    -DMC_BUILD_TESTS=OFF -DMC_BUILD_EXAMPLES=OFF -DMC_BUILD_BENCH=OFF
	$(CMAKE) --build $(BUILD)/stm32 --parallel $(JOBS)
	$(CTEST) --test-dir $(BUILD)/stm32 --output-on-failure --no-tests=error --verbose

test-consumers:
	tools/check-consumers.sh $(CURDIR)/$(BUILD)

docs:
	@tools/deps.sh $(DEPS_DOCS)
	@rm -rf $(BUILD)/docs/html # no pages left over from inputs that are gone
	@mkdir -p $(BUILD)/docs
	( cat docs/Doxyfile; echo "OUTPUT_DIRECTORY = $(BUILD)/docs" ) | doxygen -
	@echo "make docs: $(BUILD)/docs/html/index.html"

# First the exact instruction counts of the core on Cortex-M4F and Cortex-M0 under QEMU
# (bench/qemu/count.sh, the library as shipped: MinSizeRel), then the host benchmarks.
bench:
	@tools/deps.sh $(DEPS_HOST) modbus cross-arm qemu-arm
	MCQ_BUILD=$(CURDIR)/$(BUILD)/qemu bench/qemu/count.sh
	$(CMAKE) -S . -B $(BUILD)/bench -DCMAKE_BUILD_TYPE=Release "-DCMAKE_C_FLAGS_RELEASE=-O2 -DNDEBUG" \
	    -DMC_WERROR=ON -DMC_BUILD_TESTS=OFF -DMC_BUILD_EXAMPLES=OFF -DMC_BUILD_BENCH=ON -DMC_PORT=posix
	$(CMAKE) --build $(BUILD)/bench --parallel $(JOBS) --target bench_core bench_modbus
	$(BUILD)/bench/bench/bench_modbus
	$(BUILD)/bench/bench/bench_core

size:
	@tools/deps.sh $(DEPS_CROSS)
	tools/size.sh $(CURDIR)/$(BUILD)

regmap:
	@tools/deps.sh $(DEPS_HOST)
	$(CMAKE) -S . -B $(BUILD)/regmap -DCMAKE_BUILD_TYPE=Release -DMC_PORT=none -DMC_BUILD_TESTS=OFF \
	    -DMC_BUILD_EXAMPLES=OFF -DMC_BUILD_BENCH=OFF
	$(CMAKE) --build $(BUILD)/regmap --target regmap_doc --parallel $(JOBS)
	$(BUILD)/regmap/tools/regmap_doc -o docs/REGISTERS.md
	@echo "make regmap: docs/REGISTERS.md regenerated"

# The fuzz targets (tests/fuzz: modbus = RTU framer and PDU handler, storage = mount
# on arbitrary flash images, schedule = the schedule write path, wav = metersim's WAV
# reader) are built straight from the sources with clang (libFuzzer comes with
# clang's runtime) and run one after the other for FUZZ_SECONDS each, seeded from
# the committed corpus; new inputs and any reproducer stay in $(BUILD)/fuzz/<target>.
# A summary line per target (seconds, executions, findings); a finding fails the target.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= modbus storage schedule wav dlt645
FUZZ_CC ?= clang

fuzz:
	@tools/deps.sh $(DEPS_FUZZ)
	@CC=$(FUZZ_CC) tests/fuzz/run.sh $(BUILD)/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD)
