#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
#
# The xen suite's scenarios, run in dom0 as /usr/bin/xnb-scenarios SCENARIO...
#   baseline     the kernel's xen-netback + a bridge: what Xen ships
#   pmd:MA:MB    the distro dpdk-testpmd with net_xennetback and net_tap, the
#                kernel xen-netback not loaded; guest A's port has copy_mode=MA,
#                guest B's copy_mode=MB
#   ovs          Debian's OVS-DPDK with our PMD, a guest created by xl with
#                our hotplug script (app/xnb-vif-ovs) as its vif script
# Every check prints one "XNB-CHECK PASS|FAIL name: detail" line, measured
# numbers "XNB-RESULT key value" lines, and the end "XNB-SUMMARY pass=N fail=N";
# the host side (xnb_xen_test.sh) reads these from the serial log.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
CONS=/var/log/xen/console
# Bytes per iperf3 stream: the same for the baseline and the PMD.
BYTES=$((16 * 1024 * 1024))
# net_tap (22.11) refuses a TSO packet whose segment plus its L2-L4 headers
# exceeds the port's MTU, and ends the burst there: a guest's 1448-byte MSS
# plus 66 bytes of headers is 1514 > 1500, so every GSO packet from a guest
# with MTU 1500 was dropped along with the rest of its burst. Guests run
# with MTU 1480 (MSS 1428) in every scenario, the baseline too.
GUEST_MTU=1480
NPASS=0
NFAIL=0

now() { cut -d' ' -f1 /proc/uptime; }
pass() { NPASS=$((NPASS + 1)); echo "XNB-CHECK PASS $*"; }
fail() { NFAIL=$((NFAIL + 1)); echo "XNB-CHECK FAIL $*"; }
# check NAME DETAIL COMMAND...: PASS when the command succeeds.
check() {
	local n=$1 d=$2
	shift 2
	if "$@"; then pass "$n: $d"; else fail "$n: $d"; fi
}
info() { echo "XNB-INFO $*"; }
indent() { sed "s/^/XNB-INFO   $1| /"; }

# xnb_cfg NAME IP PEER [VIF [GUEST_ARGS]]: a PV guest config, as a user
# writes one; GUEST_ARGS are more xnb_* settings for the guest's /init.
xnb_cfg() {
	cat >/tmp/$1.cfg <<EOF
name="$1"
type="pv"
kernel="/boot/vmlinuz"
ramdisk="/boot/domu.cpio.gz"
extra="console=hvc0 loglevel=4 xnb_ip=$2 xnb_peer=$3 xnb_mtu=$GUEST_MTU $5"
memory=160
vcpus=1
on_poweroff="destroy"
on_reboot="destroy"
on_crash="destroy"
EOF
	[ -n "$4" ] && echo "vif=['$4']" >>/tmp/$1.cfg
	return 0
}

# xnb_wait_cons NAME PATTERN SECONDS: wait for a line on the guest's console.
# The clock is read in the shell: a crashed helper process (seen once under
# TCG) must not end the wait early.
xnb_wait_cons() {
	local up end
	read -r up _ </proc/uptime
	end=$((${up%.*} + $3))
	while :; do
		grep -q "$2" $CONS/guest-$1.log 2>/dev/null && return 0
		read -r up _ </proc/uptime
		[ "${up%.*}" -lt $end ] || return 1
		sleep 0.2
	done
}

xnb_show_cons() {
	info "---- console of guest $1 (last 40 lines)"
	tail -40 $CONS/guest-$1.log 2>/dev/null | tr -d '\r' | indent "$1"
}

xnb_dom_gone() { ! xl list | awk 'NR > 1 {print $2}' | grep -qx "$1"; }
xnb_no_zombie() { ! xl list | grep -q '(null)'; }
# xnb_wait_gone DOMID: the domain and any zombie gone within 20 s. A domain
# whose pages a backend still maps stays a "(null)" zombie.
xnb_wait_gone() {
	for _ in $(seq 100); do
		xnb_dom_gone $1 && xnb_no_zombie && return 0
		sleep 0.2
	done
	xl list | indent xl
	return 1
}

# xl.cfg has no way to choose a domid, and testpmd must know the guest's
# before it exists. Xen 4.17 hands out the next free id after the last one it
# gave (a rover; ids are not reused), failed creates included.
NEXT_DOMID=1

# xnb_check_no_backend TAG DOMID: libxl removes the vif's backend directory;
# a backend writing its state after that would leave an orphan node behind.
xnb_check_no_backend() {
	local be=/local/domain/0/backend/vif/$2
	if xenstore-exists $be 2>/dev/null; then
		fail "$1: backend directory $be left behind"
		xenstore-ls -f $be 2>&1 | indent xenstore
	else
		pass "$1: backend directory $be removed"
	fi
}

# xnb_create TAG NAME [xl create args]: xl create, timed, its output kept;
# the guest must get NEXT_DOMID.
xnb_create() {
	local tag=$1 name=$2 t0 rc dom took
	shift 2
	t0=$(now)
	timeout 150 xl create "$@" /tmp/$name.cfg >/tmp/xl-$name.log 2>&1
	rc=$?
	dom=$(sed -n 's/.*Domain \([0-9]*\):.*/\1/p' /tmp/xl-$name.log | head -1)
	[ $rc -eq 0 ] && dom=$(xl domid $name)
	[ "${dom:-$NEXT_DOMID}" = $NEXT_DOMID ] ||
		fail "$tag: guest $name got domid $dom, not the predicted $NEXT_DOMID"
	NEXT_DOMID=$((${dom:-$NEXT_DOMID} + 1))
	took=$(echo "$(now) $t0" | awk '{printf "%.1f", $1 - $2}')
	if [ $rc -eq 0 ]; then
		pass "$tag: xl create $name ($took s)"
	else
		fail "$tag: xl create $name rc=$rc ($took s)"
		indent xl </tmp/xl-$name.log
		# A create cut short by the timeout leaves its domain behind.
		xl destroy $name 2>/dev/null
	fi
	return $rc
}

# xnb_iperf TAG IP DIR [iperf3 args]: one TCP stream of $BYTES, DIR = to-guest
# (dom0 sends) or from-guest (-R). The sender must have sent $BYTES (iperf3
# may overshoot by a block: seen 16908288 for 16777216);
# iperf3's receiver stops counting when the sender reports the end, so what
# was still in flight, up to a TCP window (tcp_rmem's 6 MB at most), is
# missing from its count: it must reach $BYTES less 8 MB.
xnb_iperf() {
	local tag=$1 ip=$2 dir=$3
	shift 3
	timeout 100 iperf3 -c "$ip" -n $BYTES -J --connect-timeout 10000 "$@" \
		>/tmp/iperf.json 2>&1
	xnb_iperf_verdict $tag $dir $? /tmp/iperf.json
}

# xnb_iperf_verdict TAG DIR RC JSON: the checks of xnb_iperf on the iperf3 -J
# report JSON of a client that exited with RC.
xnb_iperf_verdict() {
	local tag=$1 dir=$2 rc=$3 j=$4 sent got bps mbit
	sent=$(jq -r '.end.sum_sent.bytes // 0' $j 2>/dev/null)
	got=$(jq -r '.end.sum_received.bytes // 0' $j 2>/dev/null)
	bps=$(jq -r '.end.sum_received.bits_per_second // 0' $j 2>/dev/null)
	mbit=$(echo "${bps:-0}" | awk '{printf "%.1f", $1 / 1e6}')
	if [ $rc -eq 0 ] && [ "${sent:-0}" -ge $BYTES ] &&
			[ "${got:-0}" -ge $((BYTES - 8 * 1024 * 1024)) ]; then
		pass "$tag: iperf3 TCP $dir sent $sent received $got bytes at $mbit Mbit/s"
		echo "XNB-RESULT $tag.$dir.mbit $mbit"
		echo "$tag.$dir.mbit $mbit" >>/tmp/xnb-results
	else
		fail "$tag: iperf3 TCP $dir rc=$rc sent ${sent:-?} received ${got:-?} of $BYTES bytes"
		jq -r '.error // empty' $j 2>/dev/null | indent iperf3
		tail -5 $j | indent iperf3
	fi
}

# xnb_traffic TAG NAME DOMID IP PEER MODE: the checks on a running guest.
# MODE: kernel (the baseline), or the guest's copy_mode. A lazy (zero copy)
# guest's TCP stream to dom0 is not run: net_tap (22.11) computes wrong TCP
# checksums over the mbuf chains zero copy makes (docs/xen.md); xnb_g2g
# checks that guest's sending, guest to guest.
xnb_traffic() {
	local tag=$1 name=$2 dom=$3 ip=$4 peer=$5 mode=$6 be s
	if ! xnb_wait_cons $name "DOMU: READY" 120; then
		fail "$tag: guest $name never READY"
		xnb_show_cons $name
		return 1
	fi
	check "$tag" "guest $name netfront Connected" \
		grep -q "DOMU: vif-0 state=Connected" $CONS/guest-$name.log
	check "$tag" "guest $name pings dom0 $peer" \
		grep -q "DOMU: PING_OK" $CONS/guest-$name.log
	be=/local/domain/0/backend/vif/$dom/0
	check "$tag" "backend $be state=4" \
		[ "$(xenstore-read $be/state 2>/dev/null)" = 4 ]
	# Small frames, full frames, and IP fragments of an 8000-byte ping.
	for s in 16 1472 8000; do
		check "$tag" "dom0 pings guest $ip, $s-byte payload" \
			ping -q -c 3 -W 3 -s $s "$ip"
	done
	xnb_iperf "$tag" "$ip" to-guest
	if [ "$mode" = lazy ]; then
		info "$tag: no from-guest TCP stream to dom0 over net_tap for a zero-copy" \
			"guest (net_tap's checksums over odd-length segments are wrong," \
			"docs/xen.md): checked guest to guest"
	else
		xnb_iperf "$tag" "$ip" from-guest -R
	fi
	return 0
}

# xnb_shutdown TAG NAME DOMID: xl shutdown as a user would; the guest reports
# its counters and netfront's kernel log on the way down.
xnb_shutdown() {
	local tag=$1 name=$2 dom=$3 t0 rc took c st avg bad
	t0=$(now)
	timeout 60 xl shutdown -w $name >/tmp/xl-shutdown-$name.log 2>&1
	rc=$?
	took=$(echo "$(now) $t0" | awk '{printf "%.1f", $1 - $2}')
	check "$tag" "xl shutdown -w $name rc=$rc in $took s" [ $rc -eq 0 ]
	check "$tag" "libxl removed the vif without a timeout" \
		[ "$(grep -ci 'timed out\|timeout' /tmp/xl-shutdown-$name.log)" = 0 ]
	grep -i 'timed out\|timeout\|error' /tmp/xl-shutdown-$name.log | indent xl
	c=$CONS/guest-$name.log
	check "$tag" "guest $name powered off" grep -q "DOMU: POWEROFF" $c
	st=$(grep "DOMU: STATS" $c | tail -1)
	info "$tag: $st"
	avg=$(echo "$st" | sed -n 's/.*tx_bytes=\([0-9]*\) tx_packets=\([0-9]*\).*/\1 \2/p' |
		awk '$2 > 0 {printf "%d", $1 / $2}')
	check "$tag" "guest sent GSO frames (average TX frame ${avg:-?} > 1514 bytes)" \
		[ "${avg:-0}" -gt 1514 ]
	case $st in
	*"tx_errors=0 rx_errors=0"*) pass "$tag: guest eth0 no tx/rx errors" ;;
	*) fail "$tag: guest eth0 tx/rx errors (or no counters)" ;;
	esac
	grep "DOMU: TCP\|DOMU: dmesg:" $c | indent "$name"
	bad=$(tr -d '\r' <$c | grep -i 'netfront\|xen_net\|vif\|call trace' |
		grep -i 'err\|fail\|bad\|bug\|warn\|trace\|invalid')
	check "$tag" "guest kernel logs no netfront errors" [ -z "$bad" ]
	[ -n "$bad" ] && echo "$bad" | indent "$name"
	check "$tag" "domain $dom gone after shutdown" xnb_wait_gone $dom
	xnb_check_no_backend $tag $dom
	return 0
}

xnb_baseline() {
	tag=baseline
	info "======== $tag: kernel xen-netback + bridge at $(now)s"
	modprobe xen-netback && modprobe bridge
	ip link add xenbr0 type bridge
	ip addr add 10.0.0.1/24 dev xenbr0
	ip link set xenbr0 up
	iperf3 -s -D -B 10.0.0.1
	xnb_cfg base 10.0.0.2 10.0.0.1 "bridge=xenbr0,mac=00:16:3e:00:00:01"
	if xnb_create $tag base; then
		d=$(xl domid base)
		xnb_traffic $tag base $d 10.0.0.2 10.0.0.1 kernel
		info "$tag: dom0 $(xnb_tcp_counters)"
		xnb_shutdown $tag base $d
	fi
	ip link del xenbr0
	# The PMD scenarios need the vif backend role free.
	rmmod xen-netback
}

# xnb_testpmd_up LOG: wait until testpmd forwards (its taps exist).
# xnb_tpmd COMMAND: a command to the interactive testpmd (its stdin is a FIFO
# held open on fd 8); its answer goes to the testpmd log.
# Nothing is written once testpmd is gone: the FIFO would kill this script
# with SIGPIPE before it reports.
xnb_tpmd() {
	kill -0 $TPMD 2>/dev/null || return 1
	echo "$*" >&8
	sleep 1
}

# xnb_tcp_counters: the kernel's TCP counters that tell a lossy, corrupting
# or reordering path (bad checksums, retransmissions and their cause).
xnb_tcp_counters() {
	cat /proc/net/snmp /proc/net/netstat | awk '
		/^(Ip|Tcp|TcpExt):/ { if (!h[$1]) { n = split($0, k); h[$1] = 1 }
			else { split($0, v); for (i = 2; i <= n; i++) c[k[i]] = v[i] } }
		END { split("InReceives InHdrErrors InDiscards " \
			"InSegs OutSegs RetransSegs InErrs InCsumErrors TCPTimeouts " \
			"TCPFastRetrans TCPSpuriousRTOs TCPOFOQueue TCPDSACKRecv " \
			"TCPSACKReorder TCPLossProbes", w)
			for (i = 1; i in w; i++) printf "%s=%s ", w[i], c[w[i]] }'
}

# xnb_tpmd_stats TAG WHAT: ask testpmd for the forwarding stats and the
# xennetback ports' xstats, print the non-zero ones.
xnb_tpmd_stats() {
	local mark=$(wc -l <$log)
	xnb_tpmd show fwd stats all
	xnb_tpmd show port xstats 0
	xnb_tpmd show port xstats 2
	xnb_tpmd show port stats 1
	xnb_tpmd show port stats 3
	info "$1: dom0 $(xnb_tcp_counters)"
	info "$1: dom0 taps $(cat /sys/class/net/xnbtap[01]/statistics/rx_dropped | tr '\n' ' ')rx_dropped"
	info "$1: testpmd after $2 (non-zero counters)"
	tail -n +$((mark + 1)) $log | grep -E 'statistics for|xstats|-(packets|dropped|errors): *[1-9]|^ *[a-z0-9_]+: [1-9]' |
		indent testpmd
}

# xnb_zc_check TAG PORT MODE: the port's rx_zerocopy_packets xstat must be
# above 0 for copy_mode=lazy (the guest's frames really were lent, not
# copied) and 0 for copy_mode=always.
xnb_zc_check() {
	local tag=$1 port=$2 mode=$3 mark=$(wc -l <$log) n
	xnb_tpmd show port xstats $port
	n=$(tail -n +$((mark + 1)) $log |
		sed -n 's/^ *rx_zerocopy_packets: *\([0-9]*\).*/\1/p' | head -1)
	if [ "$mode" = lazy ]; then
		check "$tag" "port $port (copy_mode=lazy) rx_zerocopy_packets=${n:-?} > 0" \
			[ "${n:-0}" -gt 0 ]
	else
		check "$tag" "port $port (copy_mode=$mode) rx_zerocopy_packets=${n:-?} = 0" \
			[ "${n:-x}" = 0 ]
	fi
}

# xnb_g2g TAG: guest B's /init streams to and from guest A (xnb_g2g_* in
# their configs) once their ports are connected: testpmd forwards port 0
# (guest A) <-> port 2 (guest B) only, then the taps again. A frame guest B
# sends goes out through guest A's port, never through net_tap.
xnb_g2g() {
	local tag=$1 j
	info "$tag: testpmd forwards guest A's port 0 <-> guest B's port 2 at $(now)s"
	xnb_tpmd stop
	xnb_tpmd set portlist 0,2
	xnb_tpmd start
	if xnb_wait_cons guestb "DOMU: G2G_DONE" 240; then
		grep "DOMU: G2G_PEER" $CONS/guest-guestb.log | tr -d '\r' | indent guestb
		for j in 1 2; do
			tr -d '\r' <$CONS/guest-guestb.log | sed -n "s/^DOMU-J$j: //p" >/tmp/g2g$j.json
		done
		xnb_iperf_verdict $tag b-to-a 0 /tmp/g2g1.json
		xnb_iperf_verdict $tag a-to-b 0 /tmp/g2g2.json
	else
		fail "$tag: guest B never finished its streams with guest A"
		xnb_show_cons guestb
	fi
	xnb_tpmd stop
	xnb_tpmd set portlist 0,1,2,3
	xnb_tpmd start
}

xnb_testpmd_up() {
	for _ in $(seq 600); do
		grep -qi "start.* packet forwarding" "$1" 2>/dev/null &&
			[ -e /sys/class/net/xnbtap1 ] && return 0
		kill -0 $TPMD 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

# xnb_pmd MODE_A MODE_B: one testpmd, two guests one after the other, guest A
# on a port with copy_mode=MODE_A, guest B with copy_mode=MODE_B.
xnb_pmd() {
	local ma=$1 mb=$2 ta=pmd-$1 tb=pmd-$2 tag=pmd d1 d2 rc ok ip bytes worker upa
	# io forwarding passes the guest's offload requests (checksum blank,
	# GSO) on as mbuf flags: the tap port must be told to honour them
	# (MULTI_SEGS | TCP_TSO | TCP_CKSUM | UDP_CKSUM | IPV4_CKSUM). See
	# GUEST_MTU for net_tap's TSO limit.
	TX_OFFLOADS=0x802e
	d1=$NEXT_DOMID
	d2=$((NEXT_DOMID + 1))
	info "======== $tag: dpdk-testpmd, net_xennetback copy_mode=$ma for guest A" \
		"(domid $d1), $mb for guest B (domid $d2) at $(now)s"
	check "$tag" "kernel xen-netback not loaded" \
		[ -z "$(grep '^xen_netback ' /proc/modules)" ]
	modprobe tun
	log=/tmp/testpmd.log
	rm -f /tmp/tpmd.in
	mkfifo /tmp/tpmd.in
	LD_PRELOAD=/usr/lib/xnb/libxnb_linebuf.so \
		dpdk-testpmd -d /usr/lib/xnb/librte_mempool_ring.so \
		-d /usr/lib/xnb/librte_net_tap.so \
		-d /usr/lib/xnb/librte_net_xennetback.so \
		--no-huge -m 256 --no-pci --lcores 0@0,1@0 --file-prefix xnb \
		--log-level pmd.net.xennetback:info \
		--vdev net_xennetback_${d1}_0,domid=$d1,platform=xen,copy_mode=$ma \
		--vdev net_tap0,iface=xnbtap0 \
		--vdev net_xennetback_${d2}_0,domid=$d2,platform=xen,copy_mode=$mb \
		--vdev net_tap1,iface=xnbtap1 \
		-- -i --forward-mode=io --auto-start --enable-scatter \
		--total-num-mbufs=8192 --tx-offloads=$TX_OFFLOADS </tmp/tpmd.in >$log 2>&1 &
	TPMD=$!
	exec 8>/tmp/tpmd.in
	t0=$(now)
	if ! xnb_testpmd_up $log; then
		fail "$tag: testpmd up with 2 xennetback + 2 tap ports"
		indent testpmd <$log
		kill $TPMD 2>/dev/null
		exec 8>&-
		return 1
	fi
	pass "$tag: testpmd up with 2 xennetback + 2 tap ports in $(echo "$(now) $t0" |
		awk '{printf "%.1f", $1 - $2}') s"
	grep -i 'xnb\|xennetback\|Port [0-9]' $log | indent testpmd
	# dom0 has one vCPU, and the forwarding lcore polls it without pause:
	# lower its priority so the toolstack, the kernel's tap and iperf3 run
	# when they have work.
	for t in /proc/$TPMD/task/*; do
		grep -q '^rte-worker-' $t/comm && worker=${t##*/}
	done
	if [ -n "$worker" ] && renice -n 10 -p $worker >/dev/null; then
		info "$tag: forwarding thread $worker at nice 10"
	else
		info "$tag: no rte-worker thread found to renice"
	fi
	ip addr add 10.0.1.1/24 dev xnbtap0
	ip addr add 10.0.2.1/24 dev xnbtap1
	ip link set xnbtap0 up
	ip link set xnbtap1 up
	iperf3 -s -D -B 10.0.1.1
	iperf3 -s -D -B 10.0.2.1

	# Guest A: created the way a user would, vif script=/bin/true; libxl
	# fails the create unless the PMD reaches InitWait within 10 s. It stays
	# up until guest B has streamed to and from it.
	upa=0
	xnb_cfg guesta 10.0.1.2 10.0.1.1 "script=/bin/true,mac=00:16:3e:00:01:01" \
		"xnb_g2g_ip=10.0.3.1"
	if xnb_create $ta guesta; then
		upa=1
		xnb_traffic $ta guesta $d1 10.0.1.2 10.0.1.1 $ma
		xnb_tpmd_stats $ta "guest A's traffic"
	fi

	# Guest B: the second guest on the same testpmd, its vif attached to the
	# running domain (xl network-attach), then destroyed mid-stream.
	xnb_cfg guestb 10.0.2.2 10.0.2.1 "" \
		"xnb_g2g_ip=10.0.3.2 xnb_g2g_peer=10.0.3.1 xnb_g2g_bytes=$BYTES"
	if xnb_create $tb guestb -p; then
		timeout 60 xl network-attach $d2 script=/bin/true mac=00:16:3e:00:02:01 \
			>/tmp/xl-attach.log 2>&1
		rc=$?
		check "$tb" "xl network-attach to the paused guest B rc=$rc" [ $rc -eq 0 ]
		[ $rc -eq 0 ] || indent xl </tmp/xl-attach.log
		xl unpause $d2
		if xnb_traffic $tb guestb $d2 10.0.2.2 10.0.2.1 $mb; then
			xnb_tpmd_stats $tb "guest B's traffic"
			if [ $upa = 1 ]; then
				xnb_g2g pmd-g2g
				xnb_tpmd_stats pmd-g2g "the guest-to-guest streams"
				xnb_zc_check $ta 0 $ma
				xnb_zc_check $tb 2 $mb
				xnb_shutdown $ta guesta $d1
				upa=0
				check "$tag" "testpmd still running after guest A left" kill -0 $TPMD
			fi
			timeout 60 iperf3 -c 10.0.2.2 -t 40 >/tmp/iperf-b.log 2>&1 &
			ip=$!
			sleep 6
			bytes=$(cat /sys/class/net/xnbtap1/statistics/tx_bytes)
			timeout 30 xl destroy $d2
			rc=$?
			check "$tb" "xl destroy guest B mid-stream rc=$rc (xnbtap1 had sent $bytes bytes)" \
				[ $rc -eq 0 ]
			kill $ip 2>/dev/null
		else
			xl destroy $d2
		fi
		check "$tb" "domain $d2 really gone, no zombie holding grants" \
			xnb_wait_gone $d2
		xnb_check_no_backend $tb $d2
	fi
	# Guest A without guest B: shut down as a user would.
	[ $upa = 1 ] && xnb_shutdown $ta guesta $d1
	check "$tag" "testpmd still running after xl destroy" kill -0 $TPMD
	xnb_tpmd_stats $tag "guest B's destroy"

	xnb_tpmd quit
	exec 8>&-
	ok=1
	for _ in $(seq 100); do
		kill -0 $TPMD 2>/dev/null || { ok=0; break; }
		sleep 0.2
	done
	[ $ok -eq 0 ] || kill -9 $TPMD
	wait $TPMD
	rc=$?
	check "$tag" "testpmd quits, rc=$rc" [ $ok -eq 0 -a $rc -eq 0 ]
	info "$tag: the PMD's log lines"
	grep 'xnb_' $log | head -60 | indent testpmd
	if [ $rc -ne 0 ]; then
		info "$tag: the end of testpmd's log"
		tail -30 $log | indent testpmd
	fi
	check "$tag" "no crash in testpmd log" \
		[ -z "$(grep -i 'segmentation\|panic\|assert' $log)" ]
	killall iperf3 2>/dev/null
}

# xnb_ovs_ports: the ports of br0, one line.
xnb_ovs_ports() { ovs-vsctl --timeout=30 list-ports br0 2>&1 | tr '\n' ' '; }

# The ovs scenario: a private OVS-DPDK (ovsdb-server, ovs-vswitchd-dpdk with our
# PMD), bridge br0 with 10.0.4.1 on its internal port, `xnb-vif-ovs watch`,
# then a guest created by xl with vif script=xnb-vif-ovs: libxl creates the
# backend directory, the watch adds the OVS port, the PMD reaches InitWait
# (libxl gives it 10 s), and xl destroy removes the port again.
xnb_ovs() {
	local tag=ovs dir=/run/xnb-ovs d t0 vsw watch bw be tdir tiw ok rc
	d=$NEXT_DOMID
	info "======== $tag: ovs-vswitchd-dpdk with net_xennetback, vif script" \
		"xnb-vif-ovs, guest domid $d at $(now)s"
	modprobe tun
	mkdir -p $dir
	export OVS_RUNDIR=$dir OVS_DBDIR=$dir OVS_LOGDIR=$dir OVS_SYSCONFDIR=$dir
	ovsdb-tool create $dir/conf.db /usr/share/openvswitch/vswitch.ovsschema
	ovsdb-server --remote=punix:$dir/db.sock --pidfile=$dir/ovsdb-server.pid \
		--unixctl=$dir/ovsdb-server.ctl --log-file=$dir/ovsdb-server.log \
		$dir/conf.db >/dev/null 2>&1 &
	for _ in $(seq 100); do
		[ -S $dir/db.sock ] && break
		sleep 0.1
	done
	# dom0 has one vCPU for DPDK's main lcore and OVS's PMD thread; the
	# PMD thread sleeps up to 10 ms when idle (pmd-maxsleep) so that the
	# toolstack runs; the mempool per port, not OVS's shared 1 GB one.
	ovs-vsctl --no-wait init
	ovs-vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true \
		"other_config:dpdk-extra=--no-huge -m 512 --legacy-mem --no-pci -d /usr/lib/xnb/librte_mempool_ring.so -d /usr/lib/xnb/librte_net_xennetback.so --log-level=pmd.net.xennetback:info" \
		other_config:dpdk-lcore-mask=0x1 other_config:pmd-cpu-mask=0x1 \
		other_config:per-port-memory=true other_config:pmd-maxsleep=10000
	t0=$(now)
	/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk unix:$dir/db.sock \
		--pidfile=$dir/ovs-vswitchd.pid --unixctl=$dir/ovs-vswitchd.ctl \
		--log-file=$dir/ovs-vswitchd.log >/dev/null 2>&1 &
	vsw=$!
	if ! ovs-vsctl --timeout=120 add-br br0 -- set bridge br0 datapath_type=netdev ||
			[ "$(ovs-vsctl get Open_vSwitch . dpdk_initialized)" != true ]; then
		fail "$tag: ovs-vswitchd-dpdk up with DPDK initialised, bridge br0"
		tail -40 $dir/ovs-vswitchd.log | indent ovs
		kill $vsw 2>/dev/null
		return 1
	fi
	pass "$tag: ovs-vswitchd-dpdk up with DPDK initialised, bridge br0 in" \
		"$(echo "$(now) $t0" | awk '{printf "%.1f", $1 - $2}') s"
	info "$tag: dom0 $(grep MemAvailable /proc/meminfo | tr -s ' ')," \
		"ovs-vswitchd RSS $(grep VmRSS /proc/$vsw/status | tr -s ' ' | cut -d' ' -f2-)"
	ip addr add 10.0.4.1/24 dev br0
	ip link set br0 up
	/usr/lib/xnb/xnb-vif-ovs watch 2>/tmp/xnb-vif-ovs.log &
	watch=$!
	# Every write under the backend tree, with the dom0 uptime it was seen
	# at (shell builtins only: a fork per event would delay the stamps).
	bw=/local/domain/0/backend/vif
	xenstore-watch $bw | while read -r p; do
		read -r up _ </proc/uptime
		echo "$up $p"
	done >/tmp/xnb-bewatch.log 2>&1 &
	sleep 1

	xnb_cfg ovsg 10.0.4.2 10.0.4.1 \
		"script=/usr/lib/xnb/xnb-vif-ovs,bridge=br0,mac=00:16:3e:00:04:01"
	if xnb_create $tag ovsg; then
		be=$bw/$d/0
		tdir=$(awk -v p="$be" '$2 ~ "^" p && !t {t = $1} END {print t}' /tmp/xnb-bewatch.log)
		# libxl writes state 1 with the directory; the next write is the
		# PMD's InitWait (2).
		tiw=$(awk -v p="$be/state" '$2 == p && ++n == 2 {print $1}' /tmp/xnb-bewatch.log)
		if [ -n "$tdir" ] && [ -n "$tiw" ]; then
			tiw=$(echo "$tiw $tdir" | awk '{printf "%.1f", $1 - $2}')
			echo "XNB-RESULT $tag.backend-to-initwait.s $tiw"
			check "$tag" "backend directory to InitWait in $tiw s (libxl allows 10 s)" \
				awk -v t=$tiw 'BEGIN {exit !(t < 10)}'
		else
			fail "$tag: no backend directory (${tdir:-?}) or InitWait (${tiw:-?}) seen"
		fi
		check "$tag" "OVS port vif$d.0 on br0 (ports: $(xnb_ovs_ports))" \
			ovs-vsctl --timeout=30 port-to-br vif$d.0
		if xnb_wait_cons ovsg "DOMU: READY" 120; then
			check "$tag" "guest ovsg netfront Connected" \
				grep -q "DOMU: vif-0 state=Connected" $CONS/guest-ovsg.log
			check "$tag" "guest ovsg pings OVS's internal port 10.0.4.1" \
				grep -q "DOMU: PING_OK" $CONS/guest-ovsg.log
			check "$tag" "backend $be state=4" \
				[ "$(xenstore-read $be/state 2>/dev/null)" = 4 ]
			check "$tag" "dom0 pings guest 10.0.4.2 through OVS" \
				ping -q -c 3 -W 3 10.0.4.2
		else
			fail "$tag: guest ovsg never READY"
			xnb_show_cons ovsg
		fi
		timeout 30 xl destroy ovsg
		rc=$?
		check "$tag" "xl destroy ovsg rc=$rc" [ $rc -eq 0 ]
		check "$tag" "domain $d gone, no zombie" xnb_wait_gone $d
		ok=1
		for _ in $(seq 100); do
			ovs-vsctl --timeout=30 port-to-br vif$d.0 >/dev/null 2>&1 || { ok=0; break; }
			sleep 0.2
		done
		check "$tag" "xl destroy removed OVS port vif$d.0 (ports: $(xnb_ovs_ports))" \
			[ $ok = 0 ]
		xnb_check_no_backend $tag $d
	fi
	info "$tag: backend writes seen by xenstore-watch (uptime, path)"
	head -40 /tmp/xnb-bewatch.log | indent xenstore
	info "$tag: xnb-vif-ovs and ovs-vswitchd logs"
	indent xnb-vif-ovs </tmp/xnb-vif-ovs.log
	grep -i 'xnb\|xennetback\|error\|warn\|mempool' $dir/ovs-vswitchd.log | tail -40 | indent ovs
	kill $watch 2>/dev/null
	ovs-appctl -t $dir/ovs-vswitchd.ctl exit --cleanup
	for _ in $(seq 100); do
		kill -0 $vsw 2>/dev/null || break
		sleep 0.2
	done
	check "$tag" "ovs-vswitchd exits" eval '! kill -0 $vsw 2>/dev/null'
	kill $vsw 2>/dev/null
	ovs-appctl -t $dir/ovsdb-server.ctl exit
}

# The throughputs side by side. TCG emulates every instruction of Xen, both
# kernels and testpmd on two host threads; only the ratio means something.
xnb_ratio() {
	awk '
		{ v[$1] = $2 }
		END {
			for (k in v) {
				split(k, p, ".")
				b = v["baseline." p[2] ".mbit"]
				if (p[1] != "baseline" && b > 0)
					printf "XNB-RESULT %s.%s.ratio %.2f\n", p[1], p[2], v[k] / b
			}
		}' /tmp/xnb-results 2>/dev/null
	info "throughput under QEMU TCG (no KVM): absolute Mbit/s are not meaningful;" \
		"the ratio to the kernel baseline in the same run is"
}

for s in "$@"; do
	case $s in
	baseline) xnb_baseline ;;
	ovs) xnb_ovs ;;
	pmd:*:*)
		s=${s#pmd:}
		xnb_pmd "${s%%:*}" "${s#*:}"
		;;
	*) fail "unknown scenario $s" ;;
	esac
done
xnb_ratio
echo "XNB-SUMMARY pass=$NPASS fail=$NFAIL"
