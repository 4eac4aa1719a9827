#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
#
# The xen suite's scenarios, run in dom0 as /usr/bin/xnb-scenarios SCENARIO...
#   baseline     the kernel's xen-netback + a bridge: what Xen ships
#   pmd:MA:MB    the distro dpdk-testpmd with net_xennetback and net_tap, the
#                kernel xen-netback not loaded; guest A's port has copy_mode=MA,
#                guest B's copy_mode=MB; both guests stream to dom0 and to each
#                other in alternating rounds (ratios, per-packet counts)
#   pmdpp:MA:MB  (opt-in) pmd:MA:MB with one gntdev mapping per page
#   agingpp      (opt-in) aging with one gntdev mapping per page
#   nic          (opt-in) DPDK's e1000 driver on a PCI NIC that dom0 owns
#   aging        xnb-xen-hold (tests/xen/xnb_xen_hold.c) between two guests,
#                keeping every 8th frame of the zero-copy guest past the aging
#                window: the aged copy-out on real Xen
#   ovs          Debian's OVS-DPDK with our PMD, a guest created by xl with
#                our hotplug script (app/xnb-vif-ovs) as its vif script
#   parity:dom0  what xl users set: two queues, vif rate=10Mb/s, MTU 9000,
#                each guest to dom0 (virtio_user on vhost-net) and to the
#                other guest, in both copy modes
#   parity:dom0:2 (opt-in) the same with guest P on two vCPUs
#   vcpus2       (opt-in) no backend at all: a guest on two vCPUs, then
#                another guest, three times (does xl create fail without
#                our PMD too?)
#   parity       (opt-in) the same guest to guest only, rate 1 Mb/s
# Every check prints one "XNB-CHECK PASS|FAIL name: detail" line, measured
# numbers "XNB-RESULT key value" lines, and the end "XNB-SUMMARY pass=N fail=N";
# the host side (xnb_xen_test.sh) reads these from the serial log.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
. /lib/xnb_xen_lib.sh
CONS=/var/log/xen/console
# Bytes per iperf3 stream, and of each guest's /tmp/src.bin (the streams
# from a guest send that file, and its receiver checks its sha256): the
# same for the baseline and the PMD.
BYTES=$((4 * 1024 * 1024))
# Rounds of the side-by-side streams (copy and zero-copy guest alternating).
ROUNDS=2
# Seconds of a timed iperf3 stream from dom0 to a guest.
STREAM_S=8
# The aging scenario's window (the port's aging_ms), and how much later than
# the window the guest may get its answer: the service tick (10 ms), the
# copy-out, the event to the guest, its interrupt, all under TCG on a busy
# machine.
AGING_MS=200
AGING_SLACK_MS=400
# net_tap (22.11) refuses a TSO packet whose segment plus its L2-L4 headers
# exceeds the port's MTU, and ends the burst there: a guest's 1448-byte MSS
# plus 66 bytes of headers is 1514 > 1500, so every GSO packet from a guest
# with MTU 1500 was dropped along with the rest of its burst. Guests run
# with MTU 1480 (MSS 1428) in every scenario, the baseline too.
GUEST_MTU=1480
NPASS=0
NFAIL=0
# dom0's vCPUs: with two, a polling lcore gets the second to itself.
NCPU=$(nproc)
if [ $NCPU -gt 1 ]; then
	LCORES=0@0,1@1
else
	LCORES=0@0,1@0
fi

now() { cut -d' ' -f1 /proc/uptime; }
pass() { NPASS=$((NPASS + 1)); echo "XNB-CHECK PASS $*"; }
fail() { NFAIL=$((NFAIL + 1)); echo "XNB-CHECK FAIL $*"; }
# check NAME DETAIL COMMAND...: PASS when the command succeeds. A command
# killed by SIGILL, SIGABRT, SIGBUS or SIGSEGV (busybox programs, and once
# xl, die so now and then under TCG, with copy-mode guests too: docs/xen.md)
# runs once more, and that is said; any other failure is the verdict.
check() {
	local n=$1 d=$2 rc
	shift 2
	"$@"
	rc=$?
	case $rc in
	132|134|135|139)
		info "$n: '$1' died with signal $((rc - 128)): once more"
		"$@"
		rc=$?
		;;
	esac
	if [ $rc -eq 0 ]; then pass "$n: $d"; else fail "$n: $d"; fi
}
info() { echo "XNB-INFO $*"; }
indent() { sed "s/^/XNB-INFO   $1| /"; }

# xnb_cfg NAME IP PEER [VIF [GUEST_ARGS]]: a PV guest config, as a user
# writes one; GUEST_ARGS are more xnb_* settings for the guest's /init.
# GUEST_MTU as set when it is called.
xnb_cfg() {
	cat >/tmp/$1.cfg <<EOF
name="$1"
type="pv"
kernel="/boot/vmlinuz"
ramdisk="/boot/domu.cpio.gz"
extra="console=hvc0 loglevel=4 xnb_ip=$2 xnb_peer=$3 xnb_mtu=$GUEST_MTU xnb_src=$BYTES $5"
memory=160
vcpus=${GUEST_VCPUS:-1}
on_poweroff="destroy"
on_reboot="destroy"
on_crash="destroy"
EOF
	[ -n "$4" ] && echo "vif=['$4']" >>/tmp/$1.cfg
	return 0
}

# xnb_wait_cons NAME PATTERN SECONDS [QUIET OTHER]: wait for a line on the
# guest's console. The clock is read in the shell: a crashed helper process
# (seen once under TCG) must not end the wait early. With QUIET, also give
# up once neither NAME's nor guest OTHER's console has had a line for QUIET
# seconds: a guest whose /init the platform broke (docs/xen.md) says nothing
# more, and the rest of the boot must still run.
xnb_wait_cons() {
	local up end quiet= last stamp=/tmp/xnb-wait.stamp
	read -r up _ </proc/uptime
	end=$((${up%.*} + $3))
	last=${up%.*}
	[ -n "${4:-}" ] && { quiet=$4; : >$stamp; }
	while :; do
		grep -q "$2" $CONS/guest-$1.log 2>/dev/null && return 0
		read -r up _ </proc/uptime
		[ "${up%.*}" -lt $end ] || return 1
		if [ -n "$quiet" ]; then
			if [ $CONS/guest-$1.log -nt $stamp ] || [ $CONS/guest-$5.log -nt $stamp ]; then
				: >$stamp
				last=${up%.*}
			elif [ $((${up%.*} - last)) -ge $quiet ]; then
				info "guests $1 and $5 printed nothing for $quiet s: waiting for \"$2\" no more"
				return 1
			fi
		fi
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

# xnb_destroy DOMAIN: xl destroy (30 s at most), tried once more when xl
# died of a signal: xl aborts now and then under TCG (glibc's assertions on
# its mutexes, docs/xen.md), said. Returns xl's status.
xnb_destroy() {
	local rc try
	for try in 1 2; do
		timeout 30 xl destroy "$1"
		rc=$?
		case $rc in 132|134|135|139) [ $try = 1 ] || break ;; *) break ;; esac
		info "xl destroy $1 died with signal $((rc - 128)): once more"
	done
	return $rc
}

# xnb_create TAG NAME [xl create args]: xl create, timed, its output kept;
# the guest must get NEXT_DOMID.
xnb_create() {
	local tag=$1 name=$2 t0 rc dom took
	shift 2
	t0=$(now)
	# -k: an xl that does not end on SIGTERM must not hold the run.
	timeout -k 10 150 xl create "$@" /tmp/$name.cfg >/tmp/xl-$name.log 2>&1
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
		# cat -v: busybox's sed once died on this log (a GP fault).
		cat -v /tmp/xl-$name.log | indent xl
		# A create cut short by the timeout leaves its domain behind.
		xl destroy $name 2>/dev/null
	fi
	return $rc
}

# xnb_iperf TAG IP DIR: a TCP stream of random data from dom0 to the
# guest's sink for STREAM_S seconds (DIR names it, to-guest). Timed, not a
# byte count: iperf3's receiver stops counting when the sender reports the
# end, so what is still in flight, up to a TCP window (tcp_rmem's 6 MB at
# most), is missing from its count; over a few MB that is most of it.
xnb_iperf() {
	local tag=$1 ip=$2 dir=$3
	timeout 100 iperf3 -c "$ip" -t $STREAM_S -J --connect-timeout 10000 \
		>/tmp/iperf.json 2>&1
	xnb_iperf_verdict $tag $dir $? /tmp/iperf.json 0
}

# xnb_src NAME: "<bytes> <sha256>" of the guest's src.bin (its SRC line).
xnb_src() {
	tr -d '\r' <$CONS/guest-$1.log 2>/dev/null |
		sed -n 's/^DOMU: SRC \([0-9]*\) \([0-9a-f]*\).*/\1 \2/p' | tail -1
}

# xnb_file_sum FILE: "<bytes> <sha256>" of a file, "0 -" without one.
xnb_file_sum() {
	if [ -f "$1" ]; then
		echo "$(wc -c <"$1") $(sha256sum "$1" | cut -d' ' -f1)"
	else
		echo "0 -"
	fi
}

# xnb_fetch_verdict TAG DIR RC WANT GOT SECONDS: a transfer of a guest's
# src.bin (WANT: "<bytes> <sha256>" of what was sent, GOT: of what arrived)
# that took SECONDS: every byte must have arrived unchanged. Returns 1 when
# it failed.
xnb_fetch_verdict() {
	local tag=$1 dir=$2 rc=$3 want=$4 got=$5 secs=$6 mbit
	local cs=${secs%.*}${secs#*.}
	cs=${cs#"${cs%%[!0]*}"}
	# Mbit/s with one decimal: bytes * 8 / (cs / 100) / 1e6, times 10.
	[ -n "$want" ] && [ "${cs:-0}" -gt 0 ] 2>/dev/null &&
		mbit=$((${want%% *} * 8 / (cs * 1000))) && mbit="$((mbit / 10)).$((mbit % 10))"
	if [ "$rc" = 0 ] && [ -n "$want" ] && [ "$got" = "$want" ] && [ -n "$mbit" ]; then
		pass "$tag: TCP $dir: all ${want%% *} bytes of the sender's file arrived" \
			"unchanged (sha256) in $secs s, $mbit Mbit/s"
		echo "XNB-RESULT $tag.$dir.mbit $mbit"
		echo "$tag.$dir.mbit $mbit" >>/tmp/xnb-results
		return 0
	fi
	fail "$tag: TCP $dir rc=$rc after ${secs:-?} s: sent (bytes sha256) ${want:-?}," \
		"arrived ${got:-nothing}"
	return 1
}

# xnb_fetch TAG NAME IP DIR [TIMEOUT]: dom0 fetches the guest's src.bin over
# HTTP (wget from the guest's httpd): the guest sends, and every byte that
# arrives is checked.
xnb_fetch() {
	local tag=$1 name=$2 ip=$3 dir=$4 rc t0 t1 secs try
	for try in 1 2; do
		rm -f /tmp/rx.bin
		read -r t0 _ </proc/uptime
		timeout ${5:-100} wget -q -O /tmp/rx.bin "http://$ip:8080/src.bin" 2>/tmp/wget.err
		rc=$?
		read -r t1 _ </proc/uptime
		# A wget killed by a signal (busybox under TCG, docs/xen.md)
		# is tried once more, and said; a network error that came
		# within seconds only if the guest's server crashed.
		[ $rc != 0 ] && [ $try = 1 ] || break
		case $rc in
		132|134|135|139)
			info "$tag: wget from $name died with signal $((rc - 128)): once more" ;;
		*)	[ $((${t1%.*} - ${t0%.*})) -lt 10 ] || break
			sleep 3
			xnb_crashed $name >/dev/null || break
			info "$tag: wget from $name rc=$rc ($(cat /tmp/wget.err)) with a crash in the guest: once more"
			xnb_crashed $name | indent $name ;;
		esac
	done
	[ $rc = 0 ] || cat /tmp/wget.err | indent wget
	secs=$(xnb_secs $t0 $t1)
	xnb_fetch_verdict $tag $dir $rc "$(xnb_src $name)" "$(xnb_file_sum /tmp/rx.bin)" \
		$secs || xnb_where /tmp/rx.bin $name
}

# xnb_crashed NAME: guest NAME's console has a process the kernel killed
# or its httpd's exit on record (domu_init.sh's watchers), printed.
xnb_crashed() {
	tr -d '\r' <$CONS/guest-$1.log 2>/dev/null | grep "DOMU: CRASH\|DOMU: HTTPD_EXIT"
}

# xnb_where FILE NAME: which MiB of FILE differ from guest NAME's src.bin.
xnb_where() {
	local i=0 a b bad=
	while [ $((i * 1048576)) -lt $(wc -c <$1) ]; do
		a=$(dd if=$1 bs=1048576 skip=$i count=1 2>/dev/null | sha256sum | cut -c1-16)
		b=$(tr -d '\r' <$CONS/guest-$2.log | sed -n "s/^DOMU: SRCMB $i //p" | tail -1)
		[ "$a" = "$b" ] || bad="$bad $i"
		i=$((i + 1))
	done
	info "MiB of the file that differ from what $2 sent:${bad:- none}"
}

# xnb_iperf_verdict TAG DIR RC JSON N: the checks of an iperf3 stream on the
# -J report JSON of a client that exited with RC. N > 0: a stream of N
# bytes that the client received (-R: the receiver ends the test once it
# has them all), which must all have been sent and received; N = 0: a
# timed stream, which must have carried something. Returns 1 when the
# stream failed.
xnb_iperf_verdict() {
	local tag=$1 dir=$2 rc=$3 j=$4 n=$5 sent rcvd bps mbit
	sent=$(jq -r '.end.sum_sent.bytes // 0' $j 2>/dev/null)
	rcvd=$(jq -r '.end.sum_received.bytes // 0' $j 2>/dev/null)
	bps=$(jq -r '.end.sum_received.bits_per_second // 0' $j 2>/dev/null)
	mbit=$(echo "${bps:-0}" | awk '{printf "%.1f", $1 / 1e6}')
	if [ $rc -eq 0 ] && [ "${sent:-0}" -ge $n ] && [ "${rcvd:-0}" -ge $n ] &&
			[ "${rcvd:-0}" -gt 0 ]; then
		pass "$tag: iperf3 TCP $dir sent $sent received $rcvd bytes at $mbit Mbit/s"
		echo "XNB-RESULT $tag.$dir.mbit $mbit"
		echo "$tag.$dir.mbit $mbit" >>/tmp/xnb-results
		return 0
	fi
	fail "$tag: iperf3 TCP $dir rc=$rc sent ${sent:-?} received ${rcvd:-?} bytes (want $n)"
	jq -r '.error // empty' $j 2>/dev/null | indent iperf3
	tail -5 $j | indent iperf3
	return 1
}

# xnb_traffic TAG NAME DOMID IP PEER FROM: the checks on a running guest, a
# stream to it, and with FROM=1 one from it (the PMD scenario streams from
# its guests in xnb_rounds instead).
xnb_traffic() {
	local tag=$1 name=$2 dom=$3 ip=$4 peer=$5 from=$6 be s
	if ! xnb_wait_cons $name "DOMU: READY" 300; then
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
	[ "$from" = 1 ] && xnb_fetch "$tag" $name "$ip" from-guest
	return 0
}

# xnb_netfront_ok TAG NAME: the guest's console (its kernel log) has no
# netfront complaint: "Grant still in use by backend domain" (a TX answered
# before its grant was unmapped), "Illegal number of responses", ...
xnb_netfront_ok() {
	local bad
	bad=$(tr -d '\r' <$CONS/guest-$2.log | grep -i 'netfront\|xen_net\|vif\|call trace' |
		grep -i 'err\|fail\|bad\|bug\|warn\|trace\|invalid\|illegal\|still in use\|inactive')
	check "$1" "guest $2's kernel logs no netfront errors" [ -z "$bad" ]
	[ -n "$bad" ] && echo "$bad" | indent "$2"
	# The platform's toll (docs/xen.md): user processes the guest's
	# kernel killed, whatever the backend.
	info "$1: guest $2: $(xnb_crashed $2 | grep -c "DOMU: CRASH") processes killed by the kernel," \
		"httpd restarted $(xnb_crashed $2 | grep -c "DOMU: HTTPD_EXIT") times"
}

# xnb_shutdown TAG NAME DOMID: xl shutdown as a user would; the guest reports
# its counters and netfront's kernel log on the way down.
xnb_shutdown() {
	local tag=$1 name=$2 dom=$3 t0 rc took c st pk segs
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
	# GSO: TCP counts a GSO frame as its segments, netfront as one packet.
	# (The average frame size says nothing once the guest has acknowledged
	# a long stream to it.)
	pk=$(echo "$st" | sed -n 's/.*tx_packets=\([0-9]*\).*/\1/p')
	segs=$(grep "DOMU: TCP" $c | tail -1 | sed -n 's/.*OutSegs=\([0-9]*\).*/\1/p')
	check "$tag" "guest sent GSO frames (TCP OutSegs ${segs:-?} > eth0 tx_packets ${pk:-?})" \
		[ "${segs:-0}" -gt "${pk:-0}" ]
	case $st in
	*"tx_errors=0 rx_errors=0"*) pass "$tag: guest eth0 no tx/rx errors" ;;
	*) fail "$tag: guest eth0 tx/rx errors (or no counters)" ;;
	esac
	grep "DOMU: TCP\|DOMU: dmesg:" $c | indent "$name"
	xnb_netfront_ok "$tag" $name
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
		xnb_traffic $tag base $d 10.0.0.2 10.0.0.1 1
		info "$tag: dom0 $(xnb_tcp_counters)"
		xnb_shutdown $tag base $d
	fi
	ip link del xenbr0
	# The PMD scenarios need the vif backend role free.
	rmmod xen-netback
}

# xnb_tpmd COMMAND: a command to the interactive testpmd (its stdin is a FIFO
# held open on fd 8); its answer goes to the testpmd log.
# Nothing is written once testpmd is gone: the FIFO would kill this script
# with SIGPIPE before it reports.
xnb_tpmd() {
	kill -0 $TPMD 2>/dev/null || return 1
	echo "$*" >&8
	sleep 1
}

# xnb_tpmd_quit TAG: testpmd told to quit (killed after 20 s), checked to
# exit 0; returns its exit status.
xnb_tpmd_quit() {
	local ok=1 rc
	xnb_tpmd quit
	exec 8>&-
	for _ in $(seq 100); do
		kill -0 $TPMD 2>/dev/null || { ok=0; break; }
		sleep 0.2
	done
	[ $ok -eq 0 ] || kill -9 $TPMD
	wait $TPMD
	rc=$?
	[ $ok -eq 0 ] || rc=137
	check "$1" "testpmd quits, rc=$rc" [ $rc -eq 0 ]
	return $rc
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

# xnb_xstats PORT FILE: the port's xstats as "name value" lines.
xnb_xstats() {
	local mark=$(wc -l <$log)
	xnb_tpmd show port xstats $1
	tail -n +$((mark + 1)) $log |
		sed -n 's/^ *\([a-z0-9_]*\): *\([0-9][0-9]*\) *$/\1 \2/p' >$2
}

# xnb_per_pkt TAG BEFORE AFTER: what the port's rx path cost per packet
# between two xnb_xstats snapshots: map calls, pages mapped, system calls
# (gntdev ioctls, mmaps, munmaps, mremaps) and platform calls into the
# hypervisor (grant copy, map, unmap, copy-out batches).
xnb_per_pkt() {
	awk -v tag=$1 '
		FNR == NR { b[$1] = $2; next }
		{ d[$1] = $2 - b[$1] }
		END {
			p = d["rx_good_packets"]
			if (p <= 0) { print "XNB-INFO " tag ": no packets"; exit }
			printf "XNB-RESULT %s.per-pkt pkts=%d zc=%d maps=%.3f pages=%.2f syscalls=%.2f hypercalls=%.2f\n",
				tag, p, d["rx_zerocopy_packets"], d["rx_hypercalls_map"] / p,
				d["rx_pages_mapped"] / p,
				(d["rx_syscalls_map"] + d["rx_syscalls_unmap"]) / p,
				(d["rx_hypercalls_copy"] + d["rx_hypercalls_map"] +
				 d["rx_hypercalls_unmap"] + d["rx_hypercalls_copyout"]) / p
		}' $2 $3
}

# xnb_rounds TAG_A NAME_A IP_A TAG_B NAME_B IP_B: ROUNDS rounds of a stream
# of each guest's src.bin to dom0, the two guests alternating, on the same
# testpmd; then the rx cost per packet of each port over the rounds. A guest
# whose stream fails is not streamed from again (a stalled stream costs the
# whole timeout).
xnb_rounds() {
	local ta=$1 na=$2 ipa=$3 tb=$4 nb=$5 ipb=$6 r oka=1 okb=1
	info "$ta/$tb: $ROUNDS rounds of a stream to dom0 from each guest, alternating," \
		"at $(now)s"
	xnb_xstats 0 /tmp/xs0.a
	xnb_xstats 2 /tmp/xs2.a
	for r in $(seq $ROUNDS); do
		[ $oka = 1 ] && { xnb_fetch $ta $na $ipa to-dom0 100 || oka=0; }
		[ $okb = 1 ] && { xnb_fetch $tb $nb $ipb to-dom0 100 || okb=0; }
	done
	xnb_xstats 0 /tmp/xs0.b
	xnb_xstats 2 /tmp/xs2.b
	xnb_per_pkt $ta.to-dom0 /tmp/xs0.a /tmp/xs0.b
	xnb_per_pkt $tb.to-dom0 /tmp/xs2.a /tmp/xs2.b
	info "$ta/$tb: dom0 $(xnb_tcp_counters)"
}

# xnb_g2g_verdict TAG DIR SENDER RECEIVER R: round R's transfer of guest
# SENDER's src.bin, fetched by guest RECEIVER (its G2G_FROM_PEER line):
# every byte must have arrived.
xnb_g2g_verdict() {
	local tag=$1 dir=$2 snd=$3 rcv=$4 r=$5 line i a b bad=
	line=$(tr -d '\r' <$CONS/guest-$rcv.log |
		sed -n "s/^DOMU: G2G_FROM_PEER $r \([0-9]*\) \([0-9a-f]*\) \([0-9.]*\).*/\1 \2 \3/p" |
		tail -1)
	# A second try after a network error counts only with a crash in the
	# sender (its httpd) or the receiver (its wget) on record.
	tr -d '\r' <$CONS/guest-$rcv.log | grep "DOMU: G2G_RETRY $r \|DOMU: G2G_FETCH $r " | indent $rcv
	if tr -d '\r' <$CONS/guest-$rcv.log | grep -q "DOMU: G2G_RETRY $r wget rc="; then
		if ! xnb_crashed $snd >/dev/null && ! xnb_crashed $rcv >/dev/null; then
			fail "$tag: TCP $dir: $rcv fetched twice, with no crash in either guest on record"
			return 1
		fi
		{ xnb_crashed $snd; xnb_crashed $rcv; } | indent crashes
	fi
	xnb_fetch_verdict $tag $dir 0 "$(xnb_src $snd)" "${line% *}" "${line##* }" && return 0
	for i in $(tr -d '\r' <$CONS/guest-$snd.log | sed -n 's/^DOMU: SRCMB \([0-9]*\) .*/\1/p'); do
		a=$(tr -d '\r' <$CONS/guest-$snd.log | sed -n "s/^DOMU: SRCMB $i //p" | tail -1)
		b=$(tr -d '\r' <$CONS/guest-$rcv.log | sed -n "s/^DOMU: RXMB $r $i //p" | tail -1)
		[ "$a" = "$b" ] || bad="$bad $i"
	done
	info "MiB that differ from what $snd sent:${bad:- none}"
	return 1
}

# xnb_g2g TAG TAG_A TAG_B: the guests stream to each other, ROUNDS rounds
# each way, taking turns (xnb_g2g_* in their configs), once their ports are
# connected: testpmd forwards port 0 (guest A) <-> port 2 (guest B) only,
# then the taps again. A frame guest B sends goes out through guest A's
# port, never through net_tap. Each stream carries the sender's src.bin,
# checked by its sha256 where it arrives.
xnb_g2g() {
	local tag=$1 ta=$2 tb=$3 r
	info "$tag: testpmd forwards guest A's port 0 <-> guest B's port 2 at $(now)s"
	xnb_xstats 0 /tmp/xs0.a
	xnb_xstats 2 /tmp/xs2.a
	xnb_tpmd stop
	xnb_tpmd set portlist 0,2
	xnb_tpmd start
	if xnb_wait_cons $GB "DOMU: G2G_DONE" 600 180 $GA && xnb_wait_cons $GA "DOMU: G2G_DONE" 30; then
		grep -h "DOMU: G2G_PEER\|DOMU: G2G_RETRY\|DOMU: G2G_FETCH" $CONS/guest-$GA.log $CONS/guest-$GB.log | tr -d '\r' |
			indent g2g
		for r in $(seq $ROUNDS); do
			xnb_g2g_verdict $tag b-to-a $GB $GA $r
			xnb_g2g_verdict $tag a-to-b $GA $GB $r
		done
	else
		fail "$tag: guests A and B never finished their streams to each other"
		xnb_show_cons $GA
		xnb_show_cons $GB
	fi
	xnb_tpmd stop
	xnb_tpmd set portlist 0,1,2,3
	xnb_tpmd start
	xnb_xstats 0 /tmp/xs0.b
	xnb_xstats 2 /tmp/xs2.b
	xnb_per_pkt $ta.to-guest-b /tmp/xs0.a /tmp/xs0.b
	xnb_per_pkt $tb.to-guest-a /tmp/xs2.a /tmp/xs2.b
}

# xnb_tpmd_nice TAG: with one dom0 vCPU the forwarding lcore polls it
# without pause: lower its priority so the toolstack, the kernel's tap and
# iperf3 run when they have work. With two, it has vCPU 1 to itself.
xnb_tpmd_nice() {
	local t worker=
	for t in /proc/$TPMD/task/*; do
		grep -q '^rte-worker-' $t/comm && worker=${t##*/}
	done
	if [ $NCPU -gt 1 ]; then
		info "$1: forwarding lcore on vCPU 1 of $NCPU"
	elif [ -n "$worker" ] && renice -n 10 -p $worker >/dev/null; then
		info "$1: forwarding thread $worker at nice 10"
	else
		info "$1: no rte-worker thread found to renice"
	fi
}

# xnb_testpmd_up LOG [NETDEV]: wait until testpmd forwards (its tap NETDEV,
# default xnbtap1, exists; lo for a testpmd without taps).
xnb_testpmd_up() {
	for _ in $(seq 600); do
		grep -qi "start.* packet forwarding" "$1" 2>/dev/null &&
			[ -e /sys/class/net/${2:-xnbtap1} ] && return 0
		kill -0 $TPMD 2>/dev/null || return 1
		sleep 0.2
	done
	return 1
}

# xnb_pmd MODE_A MODE_B [TAG [ENV]]: one testpmd, two guests one after the
# other, guest A on a port with copy_mode=MODE_A, guest B with
# copy_mode=MODE_B; TAG (default pmd) prefixes every check and result, ENV
# (VAR=value) is set for testpmd.
xnb_pmd() {
	local ma=$1 mb=$2 tag=${3:-pmd} ta tb d1 d2 rc ip bytes upa
	ta=$tag-$ma
	tb=$tag-$mb
	# Guest names (their console logs) differ per scenario.
	GA=guesta
	GB=guestb
	[ $tag = pmd ] || { GA=${tag}a; GB=${tag}b; }
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
	env LD_PRELOAD=/usr/lib/xnb/libxnb_linebuf.so $4 \
		dpdk-testpmd -d /usr/lib/xnb/librte_mempool_ring.so \
		-d /usr/lib/xnb/librte_net_tap.so \
		-d /usr/lib/xnb/librte_net_xennetback.so \
		--no-huge -m 256 --no-pci --lcores $LCORES --file-prefix xnb \
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
	xnb_tpmd_nice $tag
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
	xnb_cfg $GA 10.0.1.2 10.0.1.1 "script=/bin/true,mac=00:16:3e:00:01:01" \
		"xnb_g2g_ip=10.0.3.1 xnb_g2g_peer=10.0.3.2 xnb_g2g_rounds=$ROUNDS xnb_g2g_first=1 xnb_g2g_recv=1"
	if xnb_create $ta $GA; then
		upa=1
		xnb_traffic $ta $GA $d1 10.0.1.2 10.0.1.1 0
		xnb_tpmd_stats $ta "guest A's traffic"
	fi

	# Guest B: the second guest on the same testpmd, its vif attached to the
	# running domain (xl network-attach), then destroyed mid-stream.
	xnb_cfg $GB 10.0.2.2 10.0.2.1 "" \
		"xnb_g2g_ip=10.0.3.2 xnb_g2g_peer=10.0.3.1 xnb_g2g_rounds=$ROUNDS xnb_g2g_first=0 xnb_g2g_recv=1"
	if xnb_create $tb $GB -p; then
		timeout 60 xl network-attach $d2 script=/bin/true mac=00:16:3e:00:02:01 \
			>/tmp/xl-attach.log 2>&1
		rc=$?
		check "$tb" "xl network-attach to the paused guest B rc=$rc" [ $rc -eq 0 ]
		[ $rc -eq 0 ] || indent xl </tmp/xl-attach.log
		xl unpause $d2
		if xnb_traffic $tb $GB $d2 10.0.2.2 10.0.2.1 0; then
			xnb_tpmd_stats $tb "guest B's traffic"
			if [ $upa = 1 ]; then
				xnb_rounds $ta $GA 10.0.1.2 $tb $GB 10.0.2.2
				xnb_g2g $tag-g2g $ta $tb
				xnb_tpmd_stats $tag-g2g "the rounds"
				xnb_zc_check $ta 0 $ma
				xnb_zc_check $tb 2 $mb
				xnb_shutdown $ta $GA $d1
				upa=0
				check "$tag" "testpmd still running after guest A left" kill -0 $TPMD
			fi
			timeout 60 iperf3 -c 10.0.2.2 -t 40 >/tmp/iperf-b.log 2>&1 &
			ip=$!
			sleep 6
			bytes=$(cat /sys/class/net/xnbtap1/statistics/tx_bytes)
			xnb_destroy $d2
			rc=$?
			check "$tb" "xl destroy guest B mid-stream rc=$rc (xnbtap1 had sent $bytes bytes)" \
				[ $rc -eq 0 ]
			kill $ip 2>/dev/null
			xnb_netfront_ok $tb $GB
		else
			xl destroy $d2
		fi
		check "$tb" "domain $d2 really gone, no zombie holding grants" \
			xnb_wait_gone $d2
		xnb_check_no_backend $tb $d2
	fi
	# Guest A without guest B: shut down as a user would.
	[ $upa = 1 ] && xnb_shutdown $ta $GA $d1
	check "$tag" "testpmd still running after xl destroy" kill -0 $TPMD
	xnb_tpmd_stats $tag "guest B's destroy"

	xnb_tpmd_quit $tag
	rc=$?
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

# xnb_grants_mapped DOMID: how many of the domain's grant entries something
# maps or copies right now (Xen's 'g' debug key: the entries with a pin),
# from the hypervisor's own books, leaving out the reserved entries 0-7
# (the toolstack's: xenconsoled and xenstored map entries 0 and 1); the
# entries' lines go to /tmp/grants.log.
xnb_grants_mapped() {
	xl dmesg -c >/dev/null
	xl debug-keys g
	sleep 1
	xl dmesg | tr -d '\r' | awk -v d="d$1" '
		/grant-table for remote / { on = ($NF ~ /^\(v/ && $(NF - 1) == d); next }
		/-------- active/ { on = 0 }
		on && match($0, /\[0x[0-9a-f]+\]/) {
			print > "/tmp/grants.log"
			if (substr($0, RSTART, RLENGTH) !~ /^\[0x0*[0-7]\]$/) n++
		}
		END { print n + 0 }'
}

# The aging scenario: xnb-xen-hold (tests/xen/xnb_xen_hold.c) forwards between
# guest C (port 0, copy_mode=always) and guest D (port 1, copy_mode=lazy,
# aging_ms=AGING_MS) and keeps every 8th frame of guest D for three aging
# windows after forwarding it (the first 8 until the end), as a capture
# application would. Guest C fetches 2 MiB from guest D's iperf3 (-R).
# Checks: the stream completes; every held frame read the same when let go
# (its pages were copied out under it); guest D's longest wait for a TX
# response (ftrace in the guest) is at least the window (the holds did
# delay answers) and at most the window plus slack; with frames still held
# and no lent page mapped, Xen counts only guest D's two ring grants in
# use; xl destroy of guest D with frames held leaves no zombie; netfront
# logs nothing.
xnb_aging() {
	local tag=${1:-aging} d1=$NEXT_DOMID d2 hlog=/tmp/hold.log app rc ok mapped held g w d
	local GC=${tag}c GD=${tag}d
	d2=$((d1 + 1))
	info "======== $tag: xnb-xen-hold between guest C (domid $d1, copy) and guest D" \
		"(domid $d2, zero copy, aging_ms=$AGING_MS), every 8th frame of D held" \
		"$((3 * AGING_MS)) ms, at $(now)s"
	env $2 xnb-xen-hold -d /usr/lib/xnb/librte_mempool_ring.so \
		-d /usr/lib/xnb/librte_net_xennetback.so \
		--no-huge -m 256 --no-pci --lcores 0@$((NCPU - 1)) --file-prefix xnbh \
		--log-level pmd.net.xennetback:info \
		--vdev net_xennetback_${d1}_0,domid=$d1,platform=xen,copy_mode=always \
		--vdev net_xennetback_${d2}_0,domid=$d2,platform=xen,copy_mode=lazy,aging_ms=$AGING_MS \
		-- --hold-port 1 --hold-every 8 --hold-ms $((3 * AGING_MS)) --keep 8 \
		--aging-ms $AGING_MS \
		>$hlog 2>&1 &
	app=$!
	ok=1
	for _ in $(seq 300); do
		grep -q "^hold: forwarding" $hlog && { ok=0; break; }
		kill -0 $app 2>/dev/null || break
		sleep 0.2
	done
	if [ $ok != 0 ]; then
		fail "$tag: xnb-xen-hold up"
		indent hold <$hlog
		kill $app 2>/dev/null
		return 1
	fi
	pass "$tag: xnb-xen-hold up"
	# C fetches D's file (D sends, its frames held), then passes D the
	# turn, on which D reports its TX waits.
	# 1 MiB of iperf3's random data (written, so the guest's TX pages are
	# reused as soon as it is answered; a file sent from the page cache
	# would not change under a copy-out that came too late): the stream
	# is slowed by the holds, and only has to make some.
	xnb_cfg $GC 10.0.5.1 10.0.5.2 "script=/bin/true,mac=00:16:3e:00:05:01" \
		"xnb_g2g_peer=10.0.5.2 xnb_g2g_rounds=1 xnb_g2g_first=1 xnb_g2g_recv=1 xnb_g2g_how=iperf xnb_src=1048576"
	xnb_cfg $GD 10.0.5.2 10.0.5.1 "script=/bin/true,mac=00:16:3e:00:05:02" \
		"xnb_g2g_peer=10.0.5.1 xnb_g2g_rounds=1 xnb_g2g_first=0 xnb_g2g_recv=0 xnb_trace=1 xnb_src=1048576"
	if xnb_create $tag $GC && xnb_create $tag $GD; then
		if xnb_wait_cons $GD "DOMU: G2G_DONE" 500 180 $GC; then
			tr -d '\r' <$CONS/guest-$GC.log | sed -n 's/^DOMU-J1: //p' >/tmp/aging.json
			xnb_iperf_verdict $tag d-to-c 0 /tmp/aging.json 1048576
			tr -d '\r' <$CONS/guest-$GD.log | grep "DOMU: TRACE" | indent $GD
			w=$(tr -d '\r' <$CONS/guest-$GD.log | grep "DOMU: TXWAIT" | tail -1)
			info "$tag: guest D: ${w#DOMU: }"
			w=$(echo "$w" | sed -n 's/.*max_ms=\([0-9.]*\).*/\1/p')
			# The guest's trace does not see every transmit (27
			# of 121 frames in one run, cause not found): it
			# bounds the wait from above only. That held pages
			# were answered late the port's own histogram says.
			d="guest D's longest traced wait for a TX response ${w:-?} ms is"
			d="$d at most the window $AGING_MS ms + $AGING_SLACK_MS ms"
			check "$tag" "$d" awk -v w="${w:-x}" -v a=$AGING_MS -v s=$AGING_SLACK_MS \
				'BEGIN { exit !(w ~ /^[0-9.]+$/ && w <= a + s) }'
			kill -USR1 $app
			sleep 1
			late=$(grep "^hold: xstat 1 rx_age_window_or_more " $hlog | tail -1 | awk '{print $5}')
			check "$tag" "guest D's port answered ${late:-no} lent pages only after the window (rx_age_window_or_more)" \
				[ "${late:-0}" -gt 0 ]
		else
			fail "$tag: guest D never finished its stream to guest C"
			xnb_show_cons $GD
			xnb_show_cons $GC
		fi
		# Hold what is held now, hold nothing more, and let the window
		# pass: the held frames' pages must all be copied out.
		kill -USR2 $app
		sleep $(((AGING_MS + 999) / 1000 + 1))
		kill -USR1 $app
		sleep 1
		grep "^hold: held now\|^hold: xstat 1 \|^hold: port" $hlog | tail -60 | indent hold
		mapped=$(grep "^hold: xstat 1 rx_slots_mapped_now " $hlog | tail -1 | awk '{print $5}')
		held=$(grep "^hold: held now" $hlog | tail -1 | sed -n 's/^hold: held now \([0-9]*\).*/\1/p')
		g=$(xnb_grants_mapped $d2)
		indent xen </tmp/grants.log
		d="with ${held:-?} frames held and ${mapped:-0} lent pages mapped, Xen"
		d="$d counts $g of guest D's grants in use (the reserved ones aside): its two rings only"
		check "$tag" "$d" [ "${held:-0}" -gt 0 -a "${mapped:-0}" = 0 -a "$g" = 2 ]
		xnb_destroy $GD
		rc=$?
		check "$tag" "xl destroy guest D while its frames are held rc=$rc" [ $rc -eq 0 ]
		check "$tag" "domain $d2 gone, no zombie" xnb_wait_gone $d2
		xnb_netfront_ok $tag $GD
		xnb_netfront_ok $tag $GC
		xnb_destroy $GC
		check "$tag" "domain $d1 gone" xnb_wait_gone $d1
	else
		xl destroy $GC 2>/dev/null
		xl destroy $GD 2>/dev/null
	fi
	kill -TERM $app
	wait $app
	rc=$?
	grep "^hold: PASS\|^hold: FAIL" $hlog | indent hold
	d="$(grep -o '[0-9]* of them on lent pages kept past' $hlog | cut -d' ' -f1)"
	check "$tag" "xnb-xen-hold: every held frame read the same after its copy-out (${d:-?} on lent pages kept past the window), rc=$rc" \
		[ $rc -eq 0 ]
	grep "^hold: xstat 1 rx_aged_copyouts\|^hold: xstat 1 rx_copyout" $hlog | tail -3 | indent hold
	grep 'xnb_' $hlog | head -20 | indent hold
	check "$tag" "no crash in xnb-xen-hold's log" \
		[ -z "$(grep -i 'segmentation\|panic\|assert' $hlog)" ]
}

# The parity scenario (what Linux netback users set in xl and expect):
# testpmd with two queues per port and MTU 9000, guest P (copy_mode=lazy;
# its netfront takes two queues, xen_netfront.max_queues=2 on one vCPU:
# see docs/xen.md for why not two vCPUs) and guest Q (copy_mode=always, its
# vif with a rate as xl writes it), both at MTU 9000. With "dom0"
# (parity:dom0) each guest's port is first paired with an interface into
# dom0's kernel at MTU 9000 (ports 2 and 3: DPDK's exception path,
# virtio_user on vhost-net, which takes jumbo and TSO frames; net_tap in
# DPDK 22.11 takes 1522 bytes at most and drops larger frames): dom0 pings
# each guest with 16, 1472 and 8000 bytes, streams TCP to it and fetches
# its file; Q (rate 10 Mb/s) must send to dom0 within 10 % of its limit, P
# at least 1.5 times that. Then (and without "dom0", where the rate is 1 Mb/s)
# the guests' ports are paired: P pings Q with 8000 bytes, P fetches Q's
# file (Q's transmit: rate-limited), then Q fetches P's, then P opens 16
# short connections to Q. Checks: netfront in P asked for 2 queues and the
# backend offered 2; both of P's transmit queues carried frames (the port's
# rx_q0/rx_q1 xstats); the 8000-byte pings; every byte of every file; Q's
# stream to P at most 10 % above the limit (without "dom0" also at least
# half of it, and P's at least twice it: guest to guest under TCG carries
# 4-5 Mbit/s at a load of 8 on 2 cores, 86-150 on a quiet one).
PARITY_RATE_MBIT=1
PARITY_RATE_DOM0_MBIT=10
xnb_parity() {
	local tag=parity GP=parityp GQ=parityq dp=$NEXT_DOMID dq w nq q0 q1 qp pq
	local dom0=${1:-} pv=${2:-1} dom0args= up=lo what="2 xennetback ports" mtu="--max-pkt-len=9018"
	local vu="path=/dev/vhost-net,queues=2,queue_size=1024" txo=0x802e
	local rate=$PARITY_RATE_MBIT qsrc=2097152 qd pd lo
	dq=$((dp + 1))
	# With P on two vCPUs, Q is created first: an xl create while a
	# 2-vCPU guest runs failed in most boots on this platform, with or
	# without any backend (docs/xen.md, scenario vcpus2).
	[ $pv = 1 ] || { dq=$dp; dp=$((dq + 1)); }
	[ -n "$dom0" ] && rate=$PARITY_RATE_DOM0_MBIT
	info "======== $tag: guests P (domid $dp, 2 queues, lazy) and Q (domid $dq," \
		"always, rate=${rate}Mb/s), MTU 9000, 2 queues per port${dom0:+, each guest also forwarded to dom0}, at $(now)s"
	if [ -n "$dom0" ]; then
		modprobe tun
		modprobe vhost_net
		dom0args="-d /usr/lib/xnb/librte_net_virtio.so --vdev virtio_user0,$vu,iface=xnbtap0 --vdev virtio_user1,$vu,iface=xnbtap1"
		up=xnbtap1
		what="2 xennetback and 2 virtio_user (vhost-net) ports"
		# Each port gets MTU 9000 with port config mtu below, as a
		# user sets it per port. virtio has no IPv4 header checksum
		# offload (its TX capabilities are 0x802d).
		mtu=
		txo=0x802c
		# dom0's path carries 170-280 Mbit/s under TCG: the rate the
		# issue names, measured on Q's stream to dom0 (8 MiB: 7 s at
		# the limit, so that the credit a guest starts with, 128 KiB,
		# adds under 2 %).
		rate=$PARITY_RATE_DOM0_MBIT
		qsrc=8388608
	fi
	log=/tmp/testpmd-parity.log
	rm -f /tmp/tpmd.in
	mkfifo /tmp/tpmd.in
	env LD_PRELOAD=/usr/lib/xnb/libxnb_linebuf.so \
		dpdk-testpmd -d /usr/lib/xnb/librte_mempool_ring.so \
		-d /usr/lib/xnb/librte_net_xennetback.so \
		--no-huge -m 256 --no-pci --lcores $LCORES --file-prefix xnbp \
		--log-level pmd.net.xennetback:info \
		--vdev net_xennetback_${dp}_0,domid=$dp,platform=xen,copy_mode=lazy,queues=2 \
		--vdev net_xennetback_${dq}_0,domid=$dq,platform=xen,copy_mode=always,queues=2 \
		$dom0args \
		-- -i --forward-mode=io --auto-start --enable-scatter --rxq=2 --txq=2 \
		$mtu --total-num-mbufs=16384 --tx-offloads=$txo \
		</tmp/tpmd.in >$log 2>&1 &
	TPMD=$!
	exec 8>/tmp/tpmd.in
	if ! xnb_testpmd_up $log $up || grep -q "Not all ports were started" $log; then
		fail "$tag: testpmd up with $what"
		indent testpmd <$log
		kill $TPMD 2>/dev/null
		exec 8>&-
		return 1
	fi
	pass "$tag: testpmd up with $what, 2 queues each, MTU 9000"
	xnb_tpmd_nice $tag
	if [ -n "$dom0" ]; then
		# P's port with tap0, Q's with tap1.
		xnb_tpmd stop
		for t in 0 1 2 3; do
			xnb_tpmd port config mtu $t 9000
		done
		xnb_tpmd set portlist 0,2,1,3
		xnb_tpmd start
		ip addr add 10.0.8.1/24 dev xnbtap0
		ip addr add 10.0.9.1/24 dev xnbtap1
		for t in xnbtap0 xnbtap1; do
			ip link set $t mtu 9000
			ip link set $t up
		done
		iperf3 -s -D -B 10.0.8.1
		iperf3 -s -D -B 10.0.9.1
	fi
	GUEST_MTU=9000
	if [ -n "$dom0" ]; then
		# eth0 on the tap's subnet, xnb_g2g_ip for the peer's: each
		# guest starts its guest-to-guest part when the peer answers,
		# i.e. once dom0 pairs the guests' ports.
		# P's two queues: from max_queues on one vCPU by default, from
		# its two vCPUs with parity:dom0:2 (netfront takes a queue per
		# vCPU), which is opt-in: see docs/xen.md for why.
		w="xnb_nf_queues=2"
		[ $pv = 1 ] || w=
		GUEST_VCPUS=$pv
		xnb_cfg $GP 10.0.8.2 10.0.8.1 "script=/bin/true,mac=00:16:3e:00:07:01" \
			"xnb_g2g_ip=10.0.7.1 xnb_g2g_peer=10.0.7.2 xnb_g2g_rounds=1 xnb_g2g_first=1 xnb_g2g_recv=1 xnb_g2g_ping=8000 xnb_g2g_flows=16 xnb_src=4194304 $w"
		GUEST_VCPUS=1
		xnb_cfg $GQ 10.0.9.2 10.0.9.1 "script=/bin/true,mac=00:16:3e:00:07:02,rate=${rate}Mb/s" \
			"xnb_g2g_ip=10.0.7.2 xnb_g2g_peer=10.0.7.1 xnb_g2g_rounds=1 xnb_g2g_first=0 xnb_g2g_recv=1 xnb_src=$qsrc"
	else
		xnb_cfg $GP 10.0.7.1 10.0.7.2 "script=/bin/true,mac=00:16:3e:00:07:01" \
			"xnb_g2g_peer=10.0.7.2 xnb_g2g_rounds=1 xnb_g2g_first=1 xnb_g2g_recv=1 xnb_g2g_ping=8000 xnb_g2g_flows=16 xnb_src=4194304 xnb_nf_queues=2"
		# 2 MiB from Q: about 17 s at the limit, so that the credit
		# Linux's scheduler lets a guest start with (128 KiB) adds
		# under 10 %.
		xnb_cfg $GQ 10.0.7.2 10.0.7.1 "script=/bin/true,mac=00:16:3e:00:07:02,rate=${PARITY_RATE_MBIT}Mb/s" \
			"xnb_g2g_peer=10.0.7.1 xnb_g2g_rounds=1 xnb_g2g_first=0 xnb_g2g_recv=1 xnb_src=2097152"
	fi
	GUEST_MTU=1480
	if [ $pv = 1 ]; then
		xnb_create $tag $GP && xnb_create $tag $GQ
	else
		xnb_create $tag $GQ && xnb_create $tag $GP
	fi
	if [ $? -ne 0 ]; then
		xnb_tpmd_threads $tag
	else
		w=$(xenstore-read /local/domain/0/backend/vif/$dq/0/rate 2>/dev/null)
		info "$tag: guest Q's backend rate key (libxl): ${w:-none}"
		if [ -n "$dom0" ]; then
			# Through the taps: pings of 16, 1472 and 8000 bytes
			# (one frame at MTU 9000), dom0's stream to the guest,
			# the guest's file to dom0 (Q's at its rate).
			xnb_traffic $tag-p $GP $dp 10.0.8.2 10.0.8.1 1
			xnb_traffic $tag-q $GQ $dq 10.0.9.2 10.0.9.1 1
			qd=$(sed -n "s/^$tag-q.from-guest.mbit //p" /tmp/xnb-results | tail -1)
			pd=$(sed -n "s/^$tag-p.from-guest.mbit //p" /tmp/xnb-results | tail -1)
			# The control, P on the same path without a limit: it
			# must not be held to Q's limit (170-280 Mbit/s on a quiet
			# host, 13-16 on one loaded by a compile). Q at most 10 %
			# above its limit always, and at least 90 % of it when the
			# path carried P at 1.5 times the limit or more (below
			# that, the path and not the limiter sets Q's rate).
			check "$tag" "guest P (no limit) sent to dom0 at ${pd:-?} Mbit/s: above Q's limit by more than 10 %" \
				awk -v m="${pd:-x}" -v r=$rate 'BEGIN { exit !(m ~ /^[0-9.]+$/ && m > 1.1 * r) }'
			lo=0.9 w=", and at least 90 % of it"
			awk -v m="${pd:-0}" -v r=$rate 'BEGIN { exit !(m >= 1.5 * r) }' ||
				lo=0 w=" (P's ${pd:-?} Mbit/s: the path too slow to judge the lower bound)"
			check "$tag" "guest Q (rate=${rate}Mb/s) sent to dom0 at ${qd:-?} Mbit/s: at most 10 % above the limit$w" \
				awk -v m="${qd:-x}" -v r=$rate -v lo=$lo 'BEGIN { exit !(m ~ /^[0-9.]+$/ && m <= r * 1.1 && m >= r * lo) }'
			# The virtio_user ports go, so that P's port lends
			# again for the guest-to-guest part (a virtio_user port
			# cannot take a lent page: docs/lifetime.md).
			xnb_tpmd stop
			for t in 2 3; do
				xnb_tpmd port stop $t
				xnb_tpmd port close $t
				xnb_tpmd port detach $t
			done
			xnb_tpmd set portlist 0,1
			xnb_tpmd start
			xnb_xstats 0 /tmp/xsp0
		fi
		if xnb_wait_cons $GQ "DOMU: G2G_DONE" 400 180 $GP && xnb_wait_cons $GP "DOMU: G2G_DONE" 60; then
			tr -d '\r' <$CONS/guest-$GP.log | grep "DOMU: eth0\|DOMU: G2G" | indent $GP
			tr -d '\r' <$CONS/guest-$GQ.log | grep "DOMU: eth0\|DOMU: G2G" | indent $GQ
			nq=$(xenstore-read /local/domain/$dp/device/vif/0/multi-queue-num-queues 2>/dev/null)
			w="max_queues=2"
			[ $pv = 1 ] || w="$pv vCPUs"
			check "$tag" "guest P's netfront asked for ${nq:-?} queues ($w), the backend offers $(xenstore-read /local/domain/0/backend/vif/$dp/0/multi-queue-max-queues 2>/dev/null)" \
				[ "${nq:-0}" = 2 ]
			check "$tag" "guest P at MTU 9000 pings Q with 8000 bytes" \
				grep -q "DOMU: G2G_PING 8000 ok" $CONS/guest-$GP.log
			check "$tag" "guest Q at MTU 9000" grep -q "DOMU: eth0 .*mtu=9000" $CONS/guest-$GQ.log
			xnb_g2g_verdict $tag q-to-p $GQ $GP 1
			xnb_g2g_verdict $tag p-to-q $GP $GQ 1
			qp=$(sed -n "s/^$tag.q-to-p.mbit //p" /tmp/xnb-results | tail -1)
			pq=$(sed -n "s/^$tag.p-to-q.mbit //p" /tmp/xnb-results | tail -1)
			# Guest to guest (4-9 Mbit/s under TCG) bounds the
			# limited stream from above only when the limit is 10.
			w=", at least half of it"
			[ -n "$dom0" ] && w=
			check "$tag" "guest Q (rate=${rate}Mb/s) sent to P at ${qp:-?} Mbit/s: at most 10 % above the limit$w" \
				awk -v m="${qp:-x}" -v r=$rate -v lo="${dom0:+0}" 'BEGIN { exit !(m ~ /^[0-9.]+$/ && m <= r * 1.1 && m >= (lo == "" ? r / 2 : 0)) }'
			[ -n "$dom0" ] || check "$tag" "guest P (no limit) sent at ${pq:-?} Mbit/s: at least twice Q's limit" \
				awk -v m="${pq:-x}" -v r=$rate 'BEGIN { exit !(m ~ /^[0-9.]+$/ && m >= 2 * r) }'
			xnb_xstats 0 /tmp/xsp
			q0=$(sed -n 's/^rx_q0_packets //p' /tmp/xsp)
			q1=$(sed -n 's/^rx_q1_packets //p' /tmp/xsp)
			check "$tag" "both of guest P's queues carried its frames (rx_q0_packets ${q0:-?}, rx_q1_packets ${q1:-?})" \
				[ "${q0:-0}" -gt 0 -a "${q1:-0}" -gt 0 ]
			if [ -n "$dom0" ]; then
				w=$(sed -n 's/^rx_zerocopy_packets //p' /tmp/xsp0)
				w=$(($(sed -n 's/^rx_zerocopy_packets //p' /tmp/xsp) - ${w:-0}))
				check "$tag" "guest P's port lent $w frames guest to guest, once the virtio_user ports were gone" \
					[ $w -gt 0 ]
				grep -h "zero copy o[nf]" $log | indent testpmd
			fi
			info "$tag: port 0 (guest P) $(grep '^[rt]x_q[01]_packets\|rx_rate\|^rx_good\|^tx_good' /tmp/xsp | tr '\n' ' ')"
			xnb_xstats 1 /tmp/xsq
			info "$tag: port 1 (guest Q) $(grep '^[rt]x_q[01]_packets\|rx_rate\|^rx_good\|^tx_good' /tmp/xsq | tr '\n' ' ')"
		else
			fail "$tag: guests P and Q never finished their streams to each other"
			xnb_show_cons $GP
			xnb_show_cons $GQ
		fi
		xnb_netfront_ok $tag $GP
		xnb_netfront_ok $tag $GQ
	fi
	for g in $GP $GQ; do
		xnb_destroy $g 2>/dev/null
	done
	check "$tag" "domains $dp and $dq gone" eval "xnb_wait_gone $dp && xnb_wait_gone $dq"
	xnb_tpmd_quit $tag
	grep 'xnb_' $log | head -40 | indent testpmd
	check "$tag" "no crash in testpmd log" \
		[ -z "$(grep -i 'segmentation\|panic\|assert' $log)" ]
	[ -n "$dom0" ] && killall iperf3 2>/dev/null
	return 0
}

# xnb_tpmd_threads TAG: what each of testpmd's threads waits in, and the
# backend directories, for a guest whose vif never got its backend.
xnb_tpmd_threads() {
	local t
	for t in /proc/$TPMD/task/*; do
		info "$1: testpmd thread ${t##*/} $(cat $t/comm) state $(cut -d' ' -f3 $t/stat) in $(cat $t/wchan 2>/dev/null)"
	done
	xenstore-ls -f /local/domain/0/backend/vif 2>&1 | grep '/state\|/online' | indent xenstore
	tail -20 /tmp/testpmd-parity.log | indent testpmd
}

# The vcpus2 scenario (opt-in): xl create of a guest failed to decompress
# its kernel in most boots where a guest on two vCPUs ran (parity:dom0:2).
# Without any backend or vif (no PMD, no testpmd, no kernel netback): a
# guest on two vCPUs, then a guest on one, three rounds.
xnb_vcpus2() {
	local tag=vcpus2 r
	info "======== $tag: guests without vifs, the first on two vCPUs, at $(now)s"
	for r in 1 2 3; do
		GUEST_VCPUS=2
		xnb_cfg v2a$r 10.0.11.1 10.0.11.2
		GUEST_VCPUS=1
		xnb_cfg v2b$r 10.0.11.2 10.0.11.1
		xnb_create $tag v2a$r && sleep 5 && xnb_create $tag v2b$r
		timeout 30 xl destroy v2a$r 2>/dev/null
		timeout 30 xl destroy v2b$r 2>/dev/null
	done
}

# The nic scenario (opt-in): can DPDK's own e1000 driver, in the distro
# testpmd, drive a PCI NIC that this PV dom0 owns (QEMU's e1000, on a user
# network with a pcap of everything it sends)? DPDK's PCI drivers DMA to
# IOVAs: with uio, physical addresses (EAL wants hugepages and
# /proc/self/pagemap for them); with vfio, addresses an IOMMU translates.
# The scenario records what this dom0 offers for each and what EAL makes of
# it. It passes when EAL refuses for the reasons docs/xen.md gives; it fails
# when EAL takes the device (then the NIC path must be tested for real) or
# refuses for another reason.
xnb_nic() {
	local tag=nic dev bdf= hp out rc
	info "======== $tag: DPDK's e1000 driver on a PCI NIC dom0 owns, at $(now)s"
	info "$tag: guest_type $(cat /sys/hypervisor/guest_type 2>/dev/null)," \
		"Xen features $(cat /sys/hypervisor/properties/features 2>/dev/null)"
	for dev in /sys/bus/pci/devices/*; do
		[ "$(cat $dev/vendor)" = 0x8086 ] && [ "$(cat $dev/device)" = 0x100e ] &&
			bdf=${dev##*/}
	done
	check "$tag" "QEMU's e1000 seen by dom0 at ${bdf:-nowhere}" [ -n "$bdf" ]
	[ -n "$bdf" ] || return 1
	info "$tag: CPU flag pse on $(grep -cw pse /proc/cpuinfo) of $NCPU vCPU(s)" \
		"(the kernel's hugepages_supported() is the pse flag)"
	echo 32 >/proc/sys/vm/nr_hugepages 2>/dev/null
	hp=$(cat /proc/sys/vm/nr_hugepages)
	info "$tag: asked for 32 hugepages, got $hp;" \
		"$(grep -i 'hugepages_total\|hugepagesize' /proc/meminfo | tr -s ' ' | tr '\n' ' ')"
	info "$tag: IOMMU groups: $(ls /sys/kernel/iommu_groups 2>/dev/null | wc -l)"
	modprobe vfio-pci 2>&1 | indent modprobe
	echo "8086 100e" >/sys/bus/pci/drivers/vfio-pci/new_id 2>/dev/null
	sleep 1
	info "$tag: after vfio-pci new_id: driver" \
		"$(basename "$(readlink /sys/bus/pci/devices/$bdf/driver 2>/dev/null)" 2>/dev/null)"
	echo "8086 100e" >/sys/bus/pci/drivers/vfio-pci/remove_id 2>/dev/null
	[ -e /sys/bus/pci/devices/$bdf/driver ] &&
		echo $bdf >/sys/bus/pci/devices/$bdf/driver/unbind
	modprobe uio_pci_generic 2>&1 | indent modprobe
	echo "8086 100e" >/sys/bus/pci/drivers/uio_pci_generic/new_id 2>/dev/null
	sleep 1
	check "$tag" "the e1000 bound to uio_pci_generic (what DPDK uses without an IOMMU)" \
		[ "$(basename "$(readlink /sys/bus/pci/devices/$bdf/driver)")" = uio_pci_generic ]
	for mem in "-m 64" "--no-huge -m 64"; do
		timeout 120 dpdk-testpmd -d /usr/lib/xnb/librte_mempool_ring.so \
			-d /usr/lib/xnb/librte_net_e1000.so $mem -a $bdf --file-prefix nic \
			--log-level eal:debug -- -i </dev/null >/tmp/nic.log 2>&1
		rc=$?
		info "$tag: testpmd with $mem -a $bdf: rc=$rc"
		grep -i 'iova\|hugepage\|phys\|cannot\|fail\|error\|e1000\|Port 0' /tmp/nic.log |
			grep -v 'Detected\|lcore\|Tracing' | head -15 | indent testpmd
		if grep -q "Port 0:" /tmp/nic.log; then
			fail "$tag: EAL took the e1000 with '$mem': the NIC path must be tested (docs/xen.md)"
		elif [ "$hp" = 0 ] && grep -q "hugepage" /tmp/nic.log && [ "$mem" = "-m 64" ]; then
			pass "$tag: with hugepages asked for: EAL finds none (a PV dom0 has no pse)"
		elif grep -q "Cannot use IOVA as 'PA' since physical addresses are not available" \
				/tmp/nic.log; then
			pass "$tag: with --no-huge: EAL refuses IOVA as PA, which uio needs" \
				"(physical addresses come from hugepages)"
		else
			fail "$tag: testpmd with '$mem' failed for another reason than docs/xen.md's"
		fi
	done
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
		if xnb_wait_cons ovsg "DOMU: READY" 300; then
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
		xnb_destroy ovsg
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

# The throughputs side by side, each the mean of its streams in this boot.
# TCG emulates every instruction of Xen, both kernels and testpmd: only the
# ratios mean something. Zero copy (guest B, lazy) against copy (guest A,
# always) on the same testpmd, to dom0 and to the other guest; and against
# the kernel netback (the baseline): dom0 to the guest, and the guest to dom0.
xnb_ratio() {
	awk '
		{ sum[$1] += $2; n[$1]++ }
		function m(k) { return n[k] ? sum[k] / n[k] : 0 }
		function r(name, a, b, goal) {
			if (m(a) <= 0 || m(b) <= 0) {
				printf "XNB-INFO ratio %s not measured (%s %.1f, %s %.1f)\n", name,
					a, m(a), b, m(b)
				return
			}
			printf "XNB-RESULT ratio %s %.2f\n", name, m(a) / m(b)
			printf "XNB-INFO ratio %s = %s %.1f / %s %.1f Mbit/s: goal >= %.1f %s\n",
				name, a, m(a), b, m(b), goal, (m(a) / m(b) >= goal ? "met" : "NOT met")
		}
		END {
			r("xen_zc_vs_copy_to_dom0", "pmd-lazy.to-dom0.mbit",
			  "pmd-always.to-dom0.mbit", 1.5)
			r("xen_zc_vs_copy_to_guest", "pmd-g2g.b-to-a.mbit",
			  "pmd-g2g.a-to-b.mbit", 1.5)
			r("xen_vs_kernel_to_guest", "pmd-lazy.to-guest.mbit",
			  "baseline.to-guest.mbit", 1.0)
			r("xen_vs_kernel_from_guest", "pmd-lazy.to-dom0.mbit",
			  "baseline.from-guest.mbit", 1.0)
			if (n["pmdpp-lazy.to-dom0.mbit"] + n["pmdpp-g2g.b-to-a.mbit"] > 0) {
				r("xen_zc_vs_copy_to_dom0_map_per_page", "pmdpp-lazy.to-dom0.mbit",
				  "pmdpp-always.to-dom0.mbit", 1.5)
				r("xen_zc_vs_copy_to_guest_map_per_page", "pmdpp-g2g.b-to-a.mbit",
				  "pmdpp-g2g.a-to-b.mbit", 1.5)
			}
		}' /tmp/xnb-results 2>/dev/null
	info "throughput under QEMU TCG (no KVM), dom0 with $NCPU vCPU(s): absolute" \
		"Mbit/s are not meaningful; the ratios in the same run are"
}

for s in "$@"; do
	case $s in
	baseline) xnb_baseline ;;
	ovs) xnb_ovs ;;
	pmd:*:*)
		s=${s#pmd:}
		xnb_pmd "${s%%:*}" "${s#*:}"
		;;
	pmdpp:*:*)
		# The same with one gntdev mapping per page (the driver's way on
		# an auto-translated dom0), to see what batching saves.
		s=${s#pmdpp:}
		xnb_pmd "${s%%:*}" "${s#*:}" pmdpp XNB_XEN_MAP_PER_PAGE=1
		;;
	aging) xnb_aging ;;
	parity) xnb_parity ;;
	parity:dom0) xnb_parity dom0 ;;
	parity:dom0:2) xnb_parity dom0 2 ;;
	vcpus2) xnb_vcpus2 ;;
	agingpp) xnb_aging agingpp XNB_XEN_MAP_PER_PAGE=1 ;;
	nic) xnb_nic ;;
	*) fail "unknown scenario $s" ;;
	esac
done
xnb_ratio
echo "XNB-SUMMARY pass=$NPASS fail=$NFAIL"
