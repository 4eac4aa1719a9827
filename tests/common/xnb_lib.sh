# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
#
# What every shell test shares, so that none writes it again: a scratch
# directory and the processes the test starts, both gone at exit whatever
# happens; failures that are counted (fail: the test goes on and says every
# broken thing) or fatal (die: with the end of every log); a private
# simulator, started and waited for. Set SIMD and SIMCTL, then:
#   . "$(dirname "$0")/../common/xnb_lib.sh" NAME
# NAME names the scratch directory (/tmp/xnb-NAME-*) and the last line.

set -u
T_NAME=$1
T_DIR=$(mktemp -d "/tmp/xnb-$T_NAME-XXXXXX")
SIM=$T_DIR/sim
SIM_PID=
T_PIDS=()
T_FAILS=0
# Glob patterns of what else to remove at exit (EAL's runtime directories).
T_REMOVE=()

xnb_cleanup() {
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
	for p in "${T_REMOVE[@]}"; do
		rm -rf $p
	done
}
trap xnb_cleanup EXIT

# A failed check: counted, the test goes on.
fail() {
	echo "FAIL: $*" >&2
	T_FAILS=$((T_FAILS + 1))
}

# A failure the test cannot go on after: the end of every log, exit 1.
die() {
	local f
	echo "FAIL: $*" >&2
	for f in "$T_DIR"/*.log; do
		[ -f "$f" ] || continue
		echo "--- $f" >&2
		tail -n 20 "$f" >&2
	done
	exit 1
}

# The simulator in $SIM, its log in $T_DIR/simd.log; returns once it is up.
sim_start() {
	"$SIMD" --dir "$SIM" >"$T_DIR/simd.log" 2>&1 &
	SIM_PID=$!
	T_PIDS+=("$SIM_PID")
	for _ in $(seq 100); do
		[ -f "$SIM/simd.pid" ] && return 0
		sleep 0.1
	done
	die "xnb-simd did not start"
}

simctl() {
	"$SIMCTL" --dir "$SIM" "$@" || die "xnb-simctl $*"
}

# The last line of every test: the simulator must still be there.
finish() {
	[ -z "$SIM_PID" ] || kill -0 "$SIM_PID" 2>/dev/null || fail "xnb-simd died"
	[ "$T_FAILS" -eq 0 ] && echo "$T_NAME: all checks passed"
	exit $((T_FAILS > 0))
}
