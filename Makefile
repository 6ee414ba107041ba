# aftercare: two commands set everything up on a fresh Debian 12 machine:
#   make demo   build, start the embedded dev stack and show what customers receive
#   make test   build with -Werror and run every test (unit and integration)
# Both install missing packages first (as root) or print the apt-get line.

BUILD      ?= build
BUILD_TYPE ?= Release
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=
# Tests run two at a time: the integration tests mostly wait on their own
# stacks; the fault scenarios, which time outages, never beside each other.
TEST_JOBS  ?= 2

.PHONY: all build deps test test-unit test-asan test-faults test-image image fuzz demo bench \
	clean format

all: build

# DEPS=build installs only what building needs (the image's build stage).
DEPS ?= all

deps:
	@tools/deps.sh $(DEPS)

# The image's build stage wants only the binaries: no cmocka, no Python.
AC_TESTS ?= $(if $(filter build,$(DEPS)),OFF,ON)

# Each step prints one line; the compiler's output goes to the build log,
# whose last lines and path are printed when a step fails (VERBOSE=1 shows
# it all as it comes).
BUILD_LOG = $(abspath $(BUILD))/build.log
MAKEFLAGS += --no-print-directory

build:
	@mkdir -p $(BUILD) && : >$(BUILD_LOG)
	@echo "Building aftercare in $(BUILD)/ (log: $(BUILD_LOG))"
	@tools/quiet.sh $(BUILD_LOG) packages tools/deps.sh $(DEPS)
	@tools/quiet.sh $(BUILD_LOG) configure cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) \
	  -DAC_WERROR=ON -DAC_TESTS=$(AC_TESTS)
	@tools/quiet.sh $(BUILD_LOG) compile cmake --build $(BUILD) -j$(JOBS)

# Suites labelled long (the fault scenarios at length) run in test-faults.
TEST_EXCLUDE ?= ^long$$

test: build
	cd $(BUILD) && ctest --output-on-failure -j$(TEST_JOBS) -LE '$(TEST_EXCLUDE)' $(CTEST_ARGS)

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -L unit $(CTEST_ARGS)

# The suite under AddressSanitizer and UndefinedBehaviorSanitizer: every
# test that runs aftercare's C code. The checks of the deployment files
# (label manifests) are not about memory and run in `make test`. The Redis
# Cluster re-runs of the worker suites (label cluster) run the same worker
# code as the single-Redis suites, and the cluster client itself runs under
# the sanitizers in integration_cluster_redis; they are left to `make test`
# to keep CI within its time.
test-asan:
	$(MAKE) test BUILD=build-asan BUILD_TYPE=Asan TEST_EXCLUDE='^(long|manifests|cluster)$$$$'

# The crash and outage scenarios at length: 24 SIGKILLs instead of the
# 4 that `make test` runs, and test_faults.py at twice its size.
test-faults: build
	cd $(BUILD) && AC_CRASH_KILLS=24 AC_FAULTS_SCALE=2 ctest --output-on-failure -L faults $(CTEST_ARGS)

# The container image from docker/Dockerfile, with podman (or docker); the
# Debian base is made with debootstrap when no registry has it.
IMAGE ?= aftercare:latest

image:
	@tools/image.sh $(IMAGE)

# The image's binaries run as deploy/ and docker-compose.yml run them,
# against the dev stack on this machine (tests/image/test_image.py);
# skipped with one line where no engine can run containers.
test-image: build
	@tools/test-image.sh $(IMAGE) $(BUILD)/bin

# libFuzzer targets with clang (tests/fuzz/README.md), FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60

FUZZ_LOG = $(abspath build-fuzz)/build.log

fuzz: deps
	@mkdir -p build-fuzz && : >$(FUZZ_LOG)
	@echo "Building the fuzz targets in build-fuzz/ (log: $(FUZZ_LOG))"
	@tools/quiet.sh $(FUZZ_LOG) configure cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang \
	  -DCMAKE_BUILD_TYPE=Debug -DAC_FUZZ=ON
	@tools/quiet.sh $(FUZZ_LOG) compile cmake --build build-fuzz -j$(JOBS) --target fuzz_targets
	tests/fuzz/run.sh build-fuzz $(FUZZ_SECONDS)

demo: build
	@python3 tools/demo.py --bin $(BUILD)/bin

# Benchmarks; the figures go to docs/benchmarks.md.
bench: build
	tools/bench/run.sh $(BUILD)/bin

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan build-fuzz build-image
