#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Builds a libFuzzer harness with clang (meson's compiler may be gcc, which
# has no -fsanitize=fuzzer):
#   tests/fuzz/build.sh OUT SDK_HEADERS rx|tx [DRIVER_DIR]
# Both harnesses are xnb_fuzz.c over the driver's xnb_rx.c, xnb_tx.c and
# xnb_lifetime.c behind the fake hypervisor of tests/common; they differ in
# which file gives coverage feedback: xnb_rx.c (the guest TX ring parser) for
# rx, xnb_tx.c (the guest RX ring) for tx. Everything has ASan and UBSan. The
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
san=(-fsanitize=address,undefined)
shim=(-include "$src/tests/fuzz/xnb_fuzz_shim.h")
case $target in
rx) cov=xnb_rx; plain=xnb_tx ;;
tx) cov=xnb_tx; plain=xnb_rx ;;
*) echo "build.sh: target rx or tx, not '$target'" >&2; exit 2 ;;
esac
clang "${cflags[@]}" "${san[@]}" "${shim[@]}" -c "$drv/xnb_lifetime.c" -o "$tmp/lt.o"
clang "${cflags[@]}" "${san[@]}" "${shim[@]}" -c "$drv/$plain.c" -o "$tmp/plain.o"
clang "${cflags[@]}" "${san[@]}" -fsanitize=fuzzer-no-link "${shim[@]}" \
	-c "$drv/$cov.c" -o "$tmp/cov.o"
clang "${cflags[@]}" "${san[@]}" -c "$src/tests/common/xnb_fake_plat.c" -o "$tmp/fake.o"
clang "${cflags[@]}" "${san[@]}" -c "$src/tests/fuzz/xnb_fuzz.c" -o "$tmp/h.o"
clang "${san[@]}" -fsanitize=fuzzer "$tmp/cov.o" "$tmp/plain.o" "$tmp/lt.o" "$tmp/fake.o" \
	"$tmp/h.o" $(pkg-config --libs libdpdk) -o "$out"
