# SPDX-License-Identifier: BSD-3-Clause
# The front door: installs what is missing, builds with meson, runs the suites.
# Everything real lives in meson.build, app/ and tests/.

BUILD ?= build
ASAN_BUILD ?= build-asan
MESON_OPTS ?= $(if $(CI),-Dwerror=true)
TEST_OPTS ?= --print-errorlogs

.PHONY: all deps build test test-asan demo clean xen-test fuzz install

all: build

deps:
	app/deps.sh $(BUILD)

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

test: build
	meson test -C $(BUILD) $(TEST_OPTS)

# The driver to $(libdir)/dpdk/xennetback/ (load it with -d), the vif hotplug
# script to /etc/xen/scripts/ (docs/ovs.md). DESTDIR works as usual.
install: build
	meson install -C $(BUILD) $(if $(DESTDIR),--destdir $(DESTDIR))

# Real Xen 4.17 under QEMU (docs/xen.md); `make test` runs it too.
xen-test: build
	meson test -C $(BUILD) $(TEST_OPTS) --suite xen

# Everything but real Xen, under AddressSanitizer and UBSan. The suites that
# load the driver into distro binaries (testpmd, hostile, ovs) are left out:
# dpdk-testpmd and ovs-vswitchd cannot load a sanitized plugin.
test-asan: deps
	app/deps.sh --headers $(ASAN_BUILD)
	[ -f $(ASAN_BUILD)/build.ninja ] || meson setup $(ASAN_BUILD) \
		-Db_sanitize=address,undefined -Db_lundef=false $(MESON_OPTS)
	ninja -C $(ASAN_BUILD)
	meson test -C $(ASAN_BUILD) $(TEST_OPTS) --no-suite xen --no-suite testpmd --no-suite hostile --no-suite ovs

# The libFuzzer harness over guest TX requests (tests/fuzz), run long;
# `make test` runs it for 30 s in the hostile suite.
FUZZ_SECONDS ?= 3600
fuzz: build
	tests/fuzz/run.sh $(BUILD)/tests/fuzz/xnb-fuzz-rx $(FUZZ_SECONDS)

demo: build
	app/xnb-demo $(BUILD)

# Benchmarks (docs/performance.md): figures printed, never asserted.
.PHONY: bench bench-quick
bench: build
	app/xnb-bench $(BUILD)

bench-quick: build
	app/xnb-bench --quick $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
