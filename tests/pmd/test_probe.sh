#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
#
# net_xennetback inside the distro dpdk-testpmd against a running simulator:
# bad devargs fail probe with exactly one clear line from the driver; a good
# port reaches InitWait with its feature keys (read with Debian's
# xenstore-read); a backend directory the toolstack creates late is waited
# for, not an error; a vif beyond the ports DPDK was built for is named in
# the log.
# usage: test_probe.sh xnb-simd xnb-simctl librte_net_xennetback.so
set -u
SIMD=$1 SIMCTL=$2 SO=$(readlink -f "$3")
. "$(dirname "$0")/../common/xnb_lib.sh" test_probe
T=$T_DIR
T_REMOVE+=("/var/run/dpdk/xnbprobe$$*")

sim_start
simctl create 1 --mem 256
simctl create 2 --mem 256
export XENSTORED_PATH=$T/sim/xenstored.sock

n=0
# testpmd VDEV SECONDS [TESTPMD ARGS]: runs it for SECONDS, output in $T/out.
# With 0 it exits as soon as it is up (EOF on stdin ends a testpmd without a
# stats period).
testpmd() {
	local run=(--stats-period 1) vdev=$1 secs=$2
	shift 2
	n=$((n + 1))
	[ "$secs" = 0 ] && run=()
	timeout "${secs/#0/30}" dpdk-testpmd -d "$SO" --no-huge -m 512 --no-pci -l 0-1 \
		--file-prefix=xnbprobe$$_$n --log-level=pmd.net.xennetback:info \
		--vdev "$vdev" -- --total-num-mbufs=8192 "${run[@]}" "$@" \
		</dev/null >"$T/out" 2>&1
}

# initwait BE TRIES: backend directory BE reaches InitWait (state 2) within
# TRIES looks 0.1 s apart.
initwait() {
	local _
	for _ in $(seq "$2"); do
		[ "$(xenstore-read "$1/state" 2>/dev/null)" = 2 ] && return 0
		sleep 0.1
	done
	[ "$(xenstore-read "$1/state" 2>/dev/null)" = 2 ]
}

# devargs -> the driver's one error line must match this
bad=(
	"domid=1,platform=sim,sim=$T/sim,colour=blue|invalid devargs"
	"domid=abc,platform=sim,sim=$T/sim|invalid domid='abc'"
	"platform=sim,sim=$T/sim|domid=<guest domain id> is required"
	"domid=0,platform=sim,sim=$T/sim|invalid domid='0'"
	"domid=1,queues=0,platform=sim,sim=$T/sim|invalid queues='0'"
	"domid=1,queues=99,platform=sim,sim=$T/sim|invalid queues='99'"
	"domid=1,platform=foo|invalid platform='foo'"
	"domid=1,platform=sim|platform=sim needs sim="
	"domid=1,platform=sim,sim=/nonexistent|no simulator running in sim=/nonexistent"
	"domid=1,mac=zz:00,platform=sim,sim=$T/sim|invalid mac='zz:00'"
	"domid=1,copy_mode=sometimes,platform=sim,sim=$T/sim|invalid copy_mode='sometimes'"
)
for case in "${bad[@]}"; do
	args=${case%%|*} want=${case#*|}
	testpmd "net_xennetback0,$args" 0
	lines=$(grep -c 'xnb_[a-z_]*(): ' "$T/out")
	grep -q "xnb_[a-z_]*(): .*$want" "$T/out" || fail "'$args': no line '$want'"
	[ "$lines" -eq 1 ] || fail "'$args': $lines driver log lines, want 1"
	grep -q "vdev_probe(): failed to initialize net_xennetback0" "$T/out" ||
		fail "'$args': probe did not fail"
done

# A good port with the vif already there: InitWait and the features.
simctl vif-add 1 0
# queues=4, but the application polls 2: the guest is offered 2.
testpmd "net_xennetback_1_0,domid=1,queues=4,platform=sim,sim=$T/sim" 8 --rxq=2 --txq=2 &
T_PIDS+=($!)
be=/local/domain/0/backend/vif/1/0
initwait $be 100 || fail "not in InitWait"
for k in feature-sg feature-gso-tcpv4 feature-gso-tcpv6 feature-rx-copy \
	feature-rx-notify feature-split-event-channels feature-ipv6-csum-offload; do
	[ "$(xenstore-read $be/$k 2>/dev/null)" = 1 ] || fail "$k != 1"
done
[ "$(xenstore-read $be/multi-queue-max-queues 2>/dev/null)" = 2 ] ||
	fail "max queues: $(xenstore-read $be/multi-queue-max-queues 2>/dev/null), want 2 (configured)"
[ "$(xenstore-read $be/hotplug-status 2>/dev/null)" = connected ] || fail "hotplug-status"
wait "${T_PIDS[-1]}"
[ "$(xenstore-read $be/state 2>/dev/null)" = 6 ] || fail "not Closed after testpmd exit"

# The toolstack creates the backend dir after testpmd started.
testpmd "net_xennetback_2_0,domid=2,platform=sim,sim=$T/sim" 10 &
T_PIDS+=($!)
sleep 3
[ -z "$(xenstore-read /local/domain/0/backend/vif/2/0/state 2>/dev/null)" ] ||
	fail "backend dir existed too early"
simctl vif-add 2 0
be=/local/domain/0/backend/vif/2/0
initwait $be 50 || fail "late dir: not in InitWait"
wait "${T_PIDS[-1]}"
grep -q "in InitWait" "$T/out" || fail "no InitWait log line"
# One vif more than the distro DPDK has ports for: not a silent failure.
max=$(sed -n 's/^#define RTE_MAX_ETHPORTS \([0-9]*\)/\1/p' \
	/usr/include/x86_64-linux-gnu/dpdk/rte_build_config.h 2>/dev/null)
if [ -n "$max" ]; then
	vdevs=()
	for d in $(seq 1 $((max + 1))); do
		vdevs+=(--vdev "net_xennetback_${d}_0,domid=$d,platform=sim,sim=$T/sim")
	done
	n=$((n + 1))
	timeout 60 dpdk-testpmd -d "$SO" --no-huge -m 1024 --no-pci -l 0-1 \
		--file-prefix=xnbprobe$$_$n "${vdevs[@]}" -- --total-num-mbufs=8192 \
		</dev/null >"$T/out" 2>&1
	grep -q "net_xennetback_$((max + 1))_0 (domid=$((max + 1)),.*): no backend for this vif.*$max ethdev ports" \
		"$T/out" || fail "vif $((max + 1)) of $((max + 1)): no 'no backend' line"
else
	fail "RTE_MAX_ETHPORTS not found in rte_build_config.h"
fi
finish
