#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
#
# The guest against the reference backend: 100k frames of the size mix
# (60 B .. 64 KiB, GSO TCP frames above 1514 B, every slot layout) looped
# through refback must all come back, verified, in order, none lost.

. "$(dirname "$0")/lib.sh"

N=100000
sim_start
guest_domain 1 4096
refback_start 1 refback.log --quiet

S=$T_DIR/loop.json
timeout 110 "$GUEST" --sim "$SIM" --domid 1 --mode loop --count $N \
	--size mix --gso --layout mix --timeout 100 --summary "$S" --quiet \
	>"$T_DIR/guest.out" 2>>"$T_DIR/guest.log" || die "xnb-guest exit $?"

expect_clean "$S"
expect "$S" .exit = count
expect "$S" .tx_packets = $N
expect "$S" .rx_packets = $N
expect "$S" .verified = $N
expect "$S" .gaps = 0
expect "$S" .reordered = 0
expect "$S" .tx_aborted = 0
expect "$S" .tx_unsupported = 0
# The mix really exercised GSO, multi-slot and offload both ways.
expect "$S" .netfront.tx_gso '>' 1000
expect "$S" .netfront.rx_gso = "$(jq .netfront.tx_gso "$S")"
expect "$S" .netfront.tx_multi_slot '>' 10000
expect "$S" .netfront.rx_multi_slot '>' 10000
expect "$S" .netfront.rx_csum_blank = "$(jq .netfront.tx_csum_blank "$S")"
expect "$S" .max_tx_outstanding '>' 1
expect "$S" .tx_wait_samples '>=' $N
# Clean shutdown: every grant came back.
expect "$S" .grants_leaked = 0
# The summary on stdout is the same single JSON line.
[ "$(wc -l <"$T_DIR/guest.out")" = 1 ] || die "stdout is not one line"
cmp -s "$T_DIR/guest.out" "$S" || die "stdout and --summary differ"
echo "selftest: $(jq -c '{tx_packets,rx_packets,seconds,rx_gbps,tx_wait_us_p99}' "$S")"
