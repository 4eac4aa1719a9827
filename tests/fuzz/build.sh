#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Builds the libFuzzer harness with clang (meson's compiler may be gcc, which
# has no -fsanitize=fuzzer): tests/fuzz/build.sh OUT SDK_HEADERS
# Coverage feedback comes from xnb_rx.c, the request parser; the lifetime
# tracker (its 4096-slot scans would cost most of each run in coverage
# callbacks) and the harness get ASan and UBSan only.
set -euo pipefail
out=$1
sdk=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
drv=$src/drivers/net/xennetback
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cflags=(-g -O1 -fno-sanitize-recover=undefined -DALLOW_INTERNAL_API -DALLOW_EXPERIMENTAL_API
	-isystem "$sdk" $(pkg-config --cflags libdpdk) -I"$drv")
clang "${cflags[@]}" -fsanitize=address,undefined -c "$drv/xnb_lifetime.c" -o "$tmp/lt.o"
clang "${cflags[@]}" -fsanitize=address,undefined -c "$src/tests/fuzz/xnb_fuzz_rx.c" -o "$tmp/h.o"
clang "${cflags[@]}" -fsanitize=fuzzer,address,undefined "$drv/xnb_rx.c" "$tmp/lt.o" \
	"$tmp/h.o" $(pkg-config --libs libdpdk) -o "$out"
