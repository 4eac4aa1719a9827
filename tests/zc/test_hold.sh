#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
#
# The zero-copy contract with an application that holds mbufs (xnb-hold):
# 1. hold 10% of a mixed guest stream for 2 s with aging_ms=200: held bytes
#    survive their copy-out, the guest never waits much longer than the
#    window for a TX response, the tick unmaps what is freed, nothing of the
#    guest stays mapped after it disconnects;
# 2. aging off, every mbuf held: the guest disconnects with its pages mapped;
#    they are copied out at once, the held mbufs still read right;
# 3. rx interrupt mode: the application sleeps on the event channel;
# 4. a guest that overwrites all its memory under held mbufs, then is
#    destroyed: headers intact, backend alive, nothing left mapped.
# usage: test_hold.sh xnb-simd xnb-simctl xnb-guest xnb-hold librte_net_xennetback.so
set -u
SIMD=$1 SIMCTL=$2 GUEST=$3 HOLD=$4 SO=$(readlink -f "$5")
AGING=200
SLACK=1000	# ms over the window: the tick, a copy-out round, and scheduling on a
		# 2-core box shared with other jobs (seen: 20..550 ms)
. "$(dirname "$0")/../common/xnb_lib.sh" test_hold
T=$T_DIR
T_REMOVE+=("/var/run/dpdk/xnbhold$$*")

sim_start

# copy_threshold=256: standard-size frames must be lent too (the default
# copies them whole, docs/lifetime.md), or there would be little to hold.
hold() {	# domid extra-devargs hold-args...
	local d=$1 dev=$2
	shift 2
	"$HOLD" -d "$SO" --no-huge -m 512 --no-pci -l 0 --file-prefix=xnbhold$$_$d \
		--log-level=pmd.net.xennetback:info \
		--vdev "net_xennetback_${d}_0,domid=$d,platform=sim,sim=$T/sim,copy_threshold=256$dev" \
		-- --sim "$T/sim" --domid "$d" "$@"
}

# 1. hold 10% for 2 s, aging at 200 ms
simctl create 1 --mem 4096 && simctl vif-add 1 0
hold 1 ",aging_ms=$AGING" --aging-ms $AGING --hold-every 10 --hold-ms 2000 \
	>"$T/hold1.log" 2>&1 &
HP=$!
T_PIDS+=($HP)
"$GUEST" --sim "$T/sim" --domid 1 --mode gen --size mix --gso --csum --layout mix \
	--count 30000 --rate 5000 --timeout 60 --quiet --summary "$T/gen1.json" >/dev/null
wait $HP || fail "xnb-hold (hold) failed"
cat "$T/hold1.log"
python3 - "$T/gen1.json" "$AGING" "$SLACK" <<'PY' || fail "guest 1 summary"
import json, sys
g = json.load(open(sys.argv[1]))
aging, slack = int(sys.argv[2]), int(sys.argv[3])
print(f"guest 1: sent {g['tx_packets']}, TX errors {g['tx_errors']}, longest wait for a "
      f"TX response {g['tx_wait_us_max'] / 1000:.1f} ms (window {aging} ms + {slack} ms)")
ok = g['tx_packets'] == 30000 and g['tx_errors'] == 0 and g['tx_aborted'] == 0
ok &= g['rsp_prod_violations'] == 0
ok &= g['tx_wait_us_max'] <= (aging + slack) * 1000
ok &= g['grants_leaked'] == 0
sys.exit(0 if ok else 1)
PY

# 2. aging off: the guest gives up waiting and disconnects with pages mapped
simctl create 3 --mem 4096 && simctl vif-add 3 0
hold 3 ",aging_ms=0" --aging-ms 0 --hold-every 1 --hold-ms 100000 >"$T/hold3.log" 2>&1 &
HP=$!
T_PIDS+=($HP)
# 80 frames of 3 slots fit the ring: the guest sends them all, waits 5 s
# for answers that cannot come while they are held, and disconnects.
"$GUEST" --sim "$T/sim" --domid 3 --mode gen --size 9000 --count 80 --rate 2000 \
	--linger 0 --timeout 60 --quiet --summary "$T/gen3.json" >/dev/null ||
	fail "guest 3 exit status $? (3: the backend broke the ring protocol)"
wait $HP || fail "xnb-hold (aging off) failed"
cat "$T/hold3.log"

# 3. rx interrupt mode
simctl create 4 --mem 4096 && simctl vif-add 4 0
hold 4 "" --intr 3000 >"$T/hold4.log" 2>&1 &
HP=$!
T_PIDS+=($HP)
"$GUEST" --sim "$T/sim" --domid 4 --mode gen --size mix --count 3000 --rate 1000 \
	--timeout 60 --quiet >/dev/null ||
	fail "guest 4 exit status $? (3: the backend broke the ring protocol)"
wait $HP || fail "xnb-hold (interrupt mode) failed"
cat "$T/hold4.log"

# 4. scribble, then destroy
simctl create 2 --mem 4096 && simctl vif-add 2 0
hold 2 "" --scribble >"$T/hold2.log" 2>&1 &
HP=$!
T_PIDS+=($HP)
"$GUEST" --sim "$T/sim" --domid 2 --mode gen --size 9000 --layout scatter --rate 500 \
	--count 100000 --timeout 40 --quiet >/dev/null 2>&1 &
T_PIDS+=($!)
wait $HP || fail "xnb-hold (scribble) failed"
cat "$T/hold2.log"
finish
