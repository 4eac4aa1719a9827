# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
#
# What the guest suite's shell tests add to tests/common/xnb_lib.sh: domains
# with a vif, the reference backend, and JSON assertions on xnb-guest
# summaries (every failure fatal). Sourced with the tools' paths as "$@":
#   xnb-simd xnb-simctl xnb-guest refback

SIMD=$1 SIMCTL=$2 GUEST=$3 REFBACK=$4
. "$(dirname "${BASH_SOURCE[0]}")/../common/xnb_lib.sh" guest-test

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
		die "xenstore-write state $2"
}

# expect FILE JQ-EXPR OP VALUE: numeric or string comparison of a field.
expect() {
	local file=$1 expr=$2 op=$3 want=$4 got
	got=$(jq -r "$expr" "$file") || die "jq $expr on $(cat "$file")"
	case $op in
	=) [ "$got" = "$want" ] ;;
	'>') [ "$got" -gt "$want" ] ;;
	'>=') [ "$got" -ge "$want" ] ;;
	'<=') [ "$got" -le "$want" ] ;;
	*) false ;;
	esac || die "$file: $expr is $got, expected $op $want: $(cat "$file")"
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
