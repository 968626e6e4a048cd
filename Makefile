# The two commands of the README: `make demo` and `make test`. Each installs
# what is missing (Debian 12 packages), configures, builds and runs.

BUILD   ?= build
STAGE   := $(CURDIR)/$(BUILD)/stage
PACKAGES := g++ pkg-config meson ninja-build ccache libcaf-dev libhiredis-dev \
            libmsgpack-cxx-dev nlohmann-json3-dev doctest-dev redis-server \
            redis-tools clang libclang-rt-14-dev libssl-dev openssl \
            prometheus-cpp-dev libfmt-dev
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

FUZZ_BUILD   ?= $(BUILD)-fuzz
FUZZ_SECONDS ?= 300
FUZZ_TARGETS ?= resp codec redis_url

.PHONY: all deps build test test-asan demo demo-cluster bench chaos install-check options clean \
        fuzz-build fuzz fuzz-smoke

all: build

deps:
	@missing=$$(for p in $(PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# What failed, printed last, so that the end of a long log names it.
FAILURES = { grep -h -B1 -A3 -E 'ERROR:|FATAL ERROR|SUMMARY: [A-Za-z]+Sanitizer|runtime error:' \
               $(1)/meson-logs/testlog.txt | grep -v '^--$$' | tail -60; exit 1; }

test: build
	meson test -C $(BUILD) --print-errorlogs || $(call FAILURES,$(BUILD))
	$(MAKE) --no-print-directory install-check
	@awk -F'|' '/\[doctest\] test cases:/ { split($$2, p, " "); split($$3, f, " "); \
	  passed += p[1]; failed += f[1] } \
	  END { printf "tests: %d passed, %d failed\n", passed, failed }' \
	  $(BUILD)/meson-logs/testlog.txt
	$(MAKE) --no-print-directory fuzz-smoke
	$(MAKE) --no-print-directory test-asan

# Installs into a staging folder and builds programs outside the tree against
# the installed copy, found through pkg-config only: one with the cache
# library, one that hosts a cache and exposes its metrics both ways
# (cafcache-http; prometheus-cpp-pull for its own Exposer).
install-check: build
	rm -rf $(STAGE)
	DESTDIR=$(STAGE) meson install -C $(BUILD) --quiet
	@set -e; \
	pc=$$(dirname $$(find $(STAGE) -name cafcache.pc)); \
	lib=$$(dirname $$(find $(STAGE) -name 'libcafcache.so' | head -1)); \
	flags=$$(PKG_CONFIG_SYSROOT_DIR=$(STAGE) PKG_CONFIG_PATH=$$pc pkg-config --cflags --libs cafcache); \
	echo "pkg-config --cflags --libs cafcache: $$flags"; \
	c++ -std=c++17 -o $(BUILD)/install_check tests/install_check.cpp $$flags; \
	LD_LIBRARY_PATH=$$lib $(BUILD)/install_check; \
	flags=$$(PKG_CONFIG_SYSROOT_DIR=$(STAGE) PKG_CONFIG_PATH=$$pc pkg-config --cflags --libs cafcache-http prometheus-cpp-pull); \
	echo "pkg-config --cflags --libs cafcache-http prometheus-cpp-pull: $$flags"; \
	c++ -std=c++17 -o $(BUILD)/install_check_http tests/install_check_http.cpp $$flags; \
	LD_LIBRARY_PATH=$$lib $(BUILD)/install_check_http --cafcache.backend=memory

# The same suites under AddressSanitizer and UndefinedBehaviorSanitizer; part
# of `make test`. Any report fails the run, except the two listed in
# tests/sanitizers/ubsan.supp, which come from CAF 0.17's own headers.
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
            UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:suppressions=$(CURDIR)/tests/sanitizers/ubsan.supp

$(BUILD)-asan/build.ninja: | deps
	meson setup $(BUILD)-asan -Db_sanitize=address,undefined -Db_lundef=false \
	  -Dbuildtype=debug

test-asan: deps $(BUILD)-asan/build.ninja
	ninja -C $(BUILD)-asan
	$(ASAN_ENV) meson test -C $(BUILD)-asan --print-errorlogs --timeout-multiplier=3 \
	  || $(call FAILURES,$(BUILD)-asan)

# libFuzzer targets of tests/fuzz, built with clang in a directory of their
# own. `make fuzz` runs each of FUZZ_TARGETS for FUZZ_SECONDS, `make fuzz-smoke`
# for 10 s; both fail on a crash and end with a table of libFuzzer's final
# figures.
$(FUZZ_BUILD)/build.ninja: | deps
	CXX=clang++ meson setup $(FUZZ_BUILD) -Dfuzz=true -Dtests=false \
	  -Dbuildtype=debugoptimized

fuzz-build: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD)

fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: fuzz-build
	tests/fuzz/run.sh $(FUZZ_BUILD) 10 $(FUZZ_TARGETS)

demo: build
	$(BUILD)/tools/cafcache-demo

# The same story on a loopback Redis Cluster of 3 primaries and 3 replicas:
# one primary is killed and its replica takes over (about 10 s). Exits
# non-zero, naming what went wrong, when the other shards were not served
# from Redis meanwhile or the shard did not move (see tools/demo_cluster.cpp).
demo-cluster: build
	$(BUILD)/tools/cafcache-demo --cluster

# The benchmark suite (about 12 minutes): every scenario 3 times, medians,
# bench/results.json and bench/results.png.
bench: build
	@dpkg-query -W -f='$${Status}\n' gnuplot-nox 2>/dev/null | grep -q '^install ok installed' || \
	  { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq gnuplot-nox; }
	$(BUILD)/bench/cafcache-bench --bench.suite --bench.out=bench/results.json
	gnuplot bench/plot.gp

# 60 s of mixed load while Redis is killed, stopped and restarted, then 60 s
# on a Redis Cluster whose primaries fail over, stop and die; exits non-zero
# when a check fails (see tools/chaos.cpp).
chaos: build
	$(BUILD)/tools/cafcache-chaos --chaos.duration=60s
	$(BUILD)/tools/cafcache-chaos --chaos.duration=60s --chaos.cluster

# Prints the option table that README.md must contain.
options: build
	$(BUILD)/tools/cafcache-options

clean:
	rm -rf $(BUILD) $(BUILD)-asan $(FUZZ_BUILD)
