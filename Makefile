# SPDX-License-Identifier: BSD-3-Clause
# The front door: installs what a target needs, builds with meson, runs the
# suites. Everything real lives in meson.build, buildtools/, app/ and tests/.

BUILD ?= build
ASAN_BUILD ?= build-asan
MESON_OPTS ?= $(if $(CI),-Dwerror=true)
TEST_OPTS ?= --print-errorlogs
DEPS = buildtools/deps.sh

.PHONY: all deps test-deps xen-deps bench-deps build test test-asan demo clean \
	xen-test fuzz install bench bench-quick bench-scale

all: build

# What building needs (packages and DPDK's driver-SDK headers); `make test`
# adds the test tools, OVS and the xen suite's Xen, kernel and QEMU.
deps:
	$(DEPS) build $(BUILD)

test-deps:
	$(DEPS) build,test,xen $(BUILD)

xen-deps:
	$(DEPS) build,xen $(BUILD)

bench-deps:
	$(DEPS) build,bench $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

# Packages installed into a configured tree (deps.sh marks it) can change
# what meson finds (clang for the fuzz harness): reconfigure then.
build: deps $(BUILD)/build.ninja
	if [ -f $(BUILD)/.xnb-reconfigure ]; then \
		meson setup --reconfigure $(BUILD) $(MESON_OPTS) && rm $(BUILD)/.xnb-reconfigure; \
	fi
	ninja -C $(BUILD)

test: test-deps build
	meson test -C $(BUILD) $(TEST_OPTS)

# The driver to $(libdir)/dpdk/xennetback/ (load it with -d), the vif hotplug
# script to /etc/xen/scripts/ (docs/ovs.md). DESTDIR works as usual.
install: build
	meson install -C $(BUILD) $(if $(DESTDIR),--destdir $(DESTDIR))

# Real Xen 4.17 under QEMU (docs/xen.md); `make test` runs it too.
xen-test: xen-deps build
	meson test -C $(BUILD) $(TEST_OPTS) --suite xen

# Everything but real Xen and OVS under AddressSanitizer and UBSan. The
# distro binaries cannot load a sanitized plugin: the suites that need
# dpdk-testpmd (testpmd) or ovs-vswitchd (ovs) are left out; the hostile suite
# hosts the driver in the in-tree xnb-hold, built with the sanitizers.
test-asan: test-deps
	$(DEPS) --headers $(ASAN_BUILD)
	[ -f $(ASAN_BUILD)/build.ninja ] || meson setup $(ASAN_BUILD) \
		-Db_sanitize=address,undefined -Db_lundef=false $(MESON_OPTS)
	ninja -C $(ASAN_BUILD)
	meson test -C $(ASAN_BUILD) $(TEST_OPTS) --no-suite xen --no-suite testpmd --no-suite ovs

# The libFuzzer harness over guest TX requests (tests/fuzz), run long;
# `make test` runs it for 30 s in the hostile suite.
FUZZ_SECONDS ?= 3600
fuzz: test-deps build
	tests/fuzz/run.sh $(BUILD)/tests/fuzz/xnb-fuzz-rx $(FUZZ_SECONDS)

demo: build
	app/xnb-demo $(BUILD)

# Benchmarks (docs/performance.md): figures printed, never asserted.
bench: bench-deps build
	app/xnb-bench $(BUILD)

bench-quick: bench-deps build
	app/xnb-bench --quick $(BUILD)

# Many ports in one testpmd (docs/scale.md): Debian's DPDK holds 32, so a
# private DPDK of the same version with max_ethports=1024 is built into
# $(BUILD)-maxports/dpdk on first use (a few minutes), the driver against it in
# $(BUILD)-maxports, and xnb-bench --scale runs its testpmd.
SCALE_PORTS ?= 256
# Guest RAM in pages: 256 guests of 2048 (8 MiB) took 5.2 GB of host memory in
# all; of 8192 (xnb-bench's default) about 12 GB (estimated from 40 ports).
SCALE_MEM ?= 2048
MAXPORTS_BUILD = $(BUILD)-maxports
MAXPORTS_DPDK = $(abspath $(MAXPORTS_BUILD))/dpdk/prefix
bench-scale:
	$(DEPS) build,bench,maxports $(MAXPORTS_BUILD)
	buildtools/dpdk-maxports.sh $(MAXPORTS_BUILD) >/dev/null
	[ -f $(MAXPORTS_BUILD)/build.ninja ] || meson setup $(MAXPORTS_BUILD) \
		-Dpkg_config_path=$(MAXPORTS_DPDK)/lib/pkgconfig \
		-Dsdk_headers=$(MAXPORTS_DPDK)/include \
		-Dc_link_args=-Wl,-rpath,$(MAXPORTS_DPDK)/lib $(MESON_OPTS)
	if [ -f $(MAXPORTS_BUILD)/.xnb-reconfigure ]; then \
		meson setup --reconfigure $(MAXPORTS_BUILD) && rm $(MAXPORTS_BUILD)/.xnb-reconfigure; \
	fi
	ninja $(if $(NINJA_JOBS),-j $(NINJA_JOBS)) -C $(MAXPORTS_BUILD)
	XNB_TESTPMD=$(MAXPORTS_DPDK)/bin/dpdk-testpmd \
		app/xnb-bench --scale $(SCALE_PORTS) --scale-mem $(SCALE_MEM) $(MAXPORTS_BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(BUILD)-maxports
