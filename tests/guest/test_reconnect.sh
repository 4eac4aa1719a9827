#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
#
# The backend dies mid-traffic (SIGKILL) twice. The first time the test, as
# the toolstack, sets the backend state to Closed before a new backend
# starts; the second time the new backend finds the stale Connected state
# and resets the guest itself. The guest must not hang, must say what
# happened, must reconnect both times and carry on with 0 verify errors.

. "$(dirname "$0")/lib.sh"

sim_start
guest_domain 1 4096
refback_start 1 refback1.log

S=$T_DIR/reconnect.json
timeout 60 "$GUEST" --sim "$SIM" --domid 1 --mode loop --size mix --gso \
	--layout mix --rate 4000 --duration 14 --linger 1 --stall-warn 1 \
	--stats-interval 1 --timeout 50 --summary "$S" \
	>"$T_DIR/guest.out" 2>"$T_DIR/guest.log" &
GUEST_PID=$!
T_PIDS+=($GUEST_PID)

# Wait until traffic flows, so the kill lands mid-traffic.
for _ in $(seq 100); do
	grep -q "rx [1-9]" "$T_DIR/guest.log" 2>/dev/null && break
	sleep 0.1
done
grep -q "rx [1-9]" "$T_DIR/guest.log" || die "no traffic before the kill"

sleep 1
kill -KILL "$REFBACK_PID"
be_state_write 1 6	# the toolstack notices the dead backend
sleep 2
refback_start 1 refback2.log

sleep 3
kill -KILL "$REFBACK_PID"
sleep 2			# nobody tells the guest this time
refback_start 1 refback3.log

wait $GUEST_PID || die "xnb-guest exit $?"
kill -TERM "$REFBACK_PID"
wait "$REFBACK_PID"

expect "$S" .exit = duration
expect "$S" .reconnects = 2
expect "$S" .verify_errors = 0
expect "$S" .dups = 0
expect "$S" .tx_errors = 0
expect "$S" .rx_errors = 0
expect "$S" .verified = "$(jq .rx_packets "$S")"
# What was in flight at each kill is lost (gaps), nothing else.
[ "$(jq '.tx_packets - .rx_packets' "$S")" -le "$(jq '.tx_aborted + 600' "$S")" ] ||
	die "lost more than the frames in flight: $(cat "$S")"

# The clean messages: the closed backend, the silent one, the resets.
grep -q "backend closed; waiting for it to return" "$T_DIR/guest.log" ||
	die "no message about the closed backend"
grep -q "backend has not answered" "$T_DIR/guest.log" ||
	die "no message about the silent backend"
[ "$(grep -c "netfront dom1 vif0: connected" "$T_DIR/guest.log")" = 3 ] ||
	die "expected 3 connects"
# Traffic continued on the last backend: it reflected frames.
grep -Eq "rx [1-9][0-9]* \(errors 0\)" "$T_DIR/refback3.log" ||
	die "the third backend carried no traffic"
echo "reconnect: $(jq -c '{tx_packets,rx_packets,reconnects,tx_aborted,gaps,grants_deferred,grants_leaked}' "$S")"
