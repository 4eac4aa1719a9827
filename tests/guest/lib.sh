# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
#
# Shared by the guest suite's shell tests: a private simulator in a fresh
# directory, processes that are always cleaned up, and JSON assertions on
# xnb-guest summaries. Sourced with the tools' paths as "$@":
#   xnb-simd xnb-simctl xnb-guest refback

set -u
SIMD=$1 SIMCTL=$2 GUEST=$3 REFBACK=$4

T_DIR=$(mktemp -d /tmp/xnb-guest-test-XXXXXX)
SIM=$T_DIR/sim
T_PIDS=()

cleanup() {
	local p
	for p in "${T_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${T_PIDS[@]}"; do
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$T_DIR"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	for f in "$T_DIR"/*.log; do
		[ -f "$f" ] || continue
		echo "--- $f" >&2
		tail -n 20 "$f" >&2
	done
	exit 1
}

sim_start() {
	"$SIMD" --dir "$SIM" --foreground >"$T_DIR/simd.log" 2>&1 &
	T_PIDS+=($!)
	for _ in $(seq 100); do
		[ -f "$SIM/simd.pid" ] && return 0
		sleep 0.1
	done
	fail "xnb-simd did not start"
}

simctl() {
	"$SIMCTL" --dir "$SIM" "$@" || fail "xnb-simctl $*"
}

# A domain with one vif: domid pages
guest_domain() {
	simctl create "$1" --mem "$2"
	simctl vif-add "$1" 0 --mac "00:16:3e:00:$(printf %02x "$1"):00"
}

# refback for domid, backgrounded; its pid in REFBACK_PID. Extra args follow.
refback_start() {
	local dom=$1 log=$2
	shift 2
	"$REFBACK" --sim "$SIM" --domid "$dom" "$@" 2>>"$T_DIR/$log" &
	REFBACK_PID=$!
	T_PIDS+=($REFBACK_PID)
}

# The backend's state node, as the toolstack would write it.
be_state_write() {
	XENSTORED_PATH=$SIM/xenstored.sock xenstore-write \
		"/local/domain/0/backend/vif/$1/0/state" "$2" ||
		fail "xenstore-write state $2"
}

# expect FILE JQ-EXPR OP VALUE: numeric or string comparison of a field.
expect() {
	local file=$1 expr=$2 op=$3 want=$4 got
	got=$(jq -r "$expr" "$file") || fail "jq $expr on $(cat "$file")"
	case $op in
	=) [ "$got" = "$want" ] ;;
	'>') [ "$got" -gt "$want" ] ;;
	'>=') [ "$got" -ge "$want" ] ;;
	'<=') [ "$got" -le "$want" ] ;;
	*) false ;;
	esac || fail "$file: $expr is $got, expected $op $want: $(cat "$file")"
}

# Fields every clean run must show.
expect_clean() {
	local f=$1
	expect "$f" .verify_errors = 0
	expect "$f" .dups = 0
	expect "$f" .tx_errors = 0
	expect "$f" .rx_errors = 0
	expect "$f" .netfront.tx_rsp_bad = 0
	expect "$f" .netfront.rx_err_id = 0
	expect "$f" .rsp_prod_violations = 0
}
