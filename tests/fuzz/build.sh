#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Builds a libFuzzer harness with clang (meson's compiler may be gcc, which
# has no -fsanitize=fuzzer):
#   tests/fuzz/build.sh OUT SDK_HEADERS rx|tx [DRIVER_DIR]
# Both harnesses are xnb_fuzz.c over the driver's datapath files (below)
# behind the fake hypervisor of tests/common; they differ in which file gives
# coverage feedback: xnb_rx.c (the guest TX ring parser) for rx, xnb_tx.c
# (the guest RX ring) for tx. Everything has ASan and UBSan. The
# tracker never gets coverage (its 4096-slot scans would cost most of each
# run in callbacks). Driver files are compiled unchanged, with
# xnb_fuzz_shim.h force-included (the harness's clock and heap).
# DRIVER_DIR (default: this tree's) lets one build the harness against
# another version of the driver, e.g. an older commit's, to replay a finding.
set -euo pipefail
out=$1
sdk=$2
target=$3
src=$(cd "$(dirname "$0")/../.." && pwd)
drv=${4:-$src/drivers/net/xennetback}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cflags=(-g -O1 -fno-sanitize-recover=undefined -DALLOW_INTERNAL_API -DALLOW_EXPERIMENTAL_API
	-isystem "$sdk" $(pkg-config --cflags libdpdk) -I"$drv" -I"$src/tests/common")
# XNB_FUZZ_EXTRA_CFLAGS: e.g. -fno-sanitize=alignment, for a long campaign
# that has to run past a known finding (say so with its counts).
san=(-fsanitize=address,undefined ${XNB_FUZZ_EXTRA_CFLAGS:-})
shim=(-include "$src/tests/fuzz/xnb_fuzz_shim.h")
# The files the bursts run: coverage from the first list, and from
# xnb_csum.c (software checksums, both ways) in both; xnb_ctrl.c and xnb_filter.c (the hash
# state tx steers by) and xnb_csum.c where the driver has them. A new file
# the bursts call goes here.
case $target in
rx) cov=(xnb_rx xnb_csum); plain=(xnb_tx xnb_ctrl xnb_filter xnb_lifetime) ;;
tx) cov=(xnb_tx xnb_csum); plain=(xnb_rx xnb_ctrl xnb_filter xnb_lifetime) ;;
*) echo "build.sh: target rx or tx, not '$target'" >&2; exit 2 ;;
esac
objs=()
for f in "${cov[@]}" "${plain[@]}"; do
	[ -f "$drv/$f.c" ] || continue
	extra=()
	for c in "${cov[@]}"; do
		if [ "$c" = "$f" ]; then extra=(-fsanitize=fuzzer-no-link); fi
	done
	clang "${cflags[@]}" "${san[@]}" "${extra[@]}" "${shim[@]}" -c "$drv/$f.c" \
		-o "$tmp/$f.o"
	objs+=("$tmp/$f.o")
done
clang "${cflags[@]}" "${san[@]}" -c "$src/tests/common/xnb_fake_plat.c" -o "$tmp/fake.o"
clang "${cflags[@]}" "${san[@]}" -c "$src/tests/fuzz/xnb_fuzz.c" -o "$tmp/h.o"
clang "${san[@]}" -fsanitize=fuzzer "${objs[@]}" "$tmp/fake.o" "$tmp/h.o" \
	$(pkg-config --libs libdpdk) -o "$out"
