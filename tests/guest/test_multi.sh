#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
#
# Several guests at once, each its own domain, process and refback: one with
# three queues, split event channels and checksum offload; one plain; and one
# whose backend lacks scatter-gather and GSO, so the guest must hold back
# what it cannot send (counted, never sent broken).

. "$(dirname "$0")/lib.sh"

N=20000
sim_start
guest_domain 2 4096
guest_domain 3 4096
guest_domain 4 4096
refback_start 2 refback2.log --quiet
refback_start 3 refback3.log --quiet --no-split
refback_start 4 refback4.log --quiet --no-sg --no-gso --max-queues 1

timeout 80 "$GUEST" --sim "$SIM" --domid 2 --mode loop --count $N --size mix \
	--gso --csum --queues 3 --split-evtchn --layout scatter --timeout 70 \
	--summary "$T_DIR/g2.json" --quiet >/dev/null 2>>"$T_DIR/guest2.log" &
G2=$!
T_PIDS+=($G2)
timeout 80 "$GUEST" --sim "$SIM" --domid 3 --mode loop --count $N --size 1514 \
	--queues 2 --split-evtchn --timeout 70 \
	--summary "$T_DIR/g3.json" --quiet >/dev/null 2>>"$T_DIR/guest3.log" &
G3=$!
T_PIDS+=($G3)
timeout 80 "$GUEST" --sim "$SIM" --domid 4 --mode loop --count 5000 --size mix \
	--gso --timeout 70 --linger 1 \
	--summary "$T_DIR/g4.json" --quiet >/dev/null 2>>"$T_DIR/guest4.log" &
G4=$!
T_PIDS+=($G4)
wait $G2 || die "guest 2 exit $?"
wait $G3 || die "guest 3 exit $?"
wait $G4 || die "guest 4 exit $?"

for g in 2 3; do
	S=$T_DIR/g$g.json
	expect_clean "$S"
	expect "$S" .tx_packets = $N
	expect "$S" .rx_packets = $N
	expect "$S" .gaps = 0
	expect "$S" .reordered = 0
	expect "$S" .grants_leaked = 0
done
expect "$T_DIR/g2.json" .queues = 3
expect "$T_DIR/g2.json" .netfront.tx_csum_blank = $N
expect "$T_DIR/g3.json" .queues = 2
expect "$T_DIR/g3.json" .netfront.tx_multi_slot = 0

# No SG, no GSO: only single-slot frames go; the rest are counted, not sent.
S=$T_DIR/g4.json
expect_clean "$S"
expect "$S" .queues = 1
expect "$S" .tx_unsupported '>' 500
expect "$S" .netfront.tx_multi_slot = 0
expect "$S" .netfront.tx_gso = 0
expect "$S" .rx_packets = "$(jq .tx_packets "$S")"
expect "$S" .verified = "$(jq .tx_packets "$S")"
echo "multi: ok"
