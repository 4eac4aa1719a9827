#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
#
# /sbin/poweroff of the xen suite's guest. `xl shutdown` makes the kernel run
# this; the guest's /init is a plain shell that init-style signals would kill,
# so report what dom0 checks (netfront's kernel log, eth0 counters) and power
# off directly.
# The kernel starts this with no stdout.
exec >/dev/console 2>&1
s=/sys/class/net/eth0/statistics
echo "DOMU: STATS tx_bytes=$(cat $s/tx_bytes) tx_packets=$(cat $s/tx_packets)" \
	"rx_bytes=$(cat $s/rx_bytes) rx_packets=$(cat $s/rx_packets)" \
	"tx_errors=$(cat $s/tx_errors) rx_errors=$(cat $s/rx_errors)"
cat /proc/net/snmp /proc/net/netstat | awk '
	/^(Tcp|TcpExt):/ { if (!h[$1]) { n = split($0, k); h[$1] = 1 }
		else { split($0, v); for (i = 2; i <= n; i++) c[k[i]] = v[i] } }
	END { printf "DOMU: TCP"
		split("InSegs OutSegs RetransSegs InErrs InCsumErrors TCPTimeouts " \
			"TCPFastRetrans TCPSpuriousRTOs TCPOFOQueue TCPDSACKRecv " \
			"TCPSACKReorder TCPLossProbes", w)
		for (i = 1; i in w; i++) printf " %s=%s", w[i], c[w[i]]
		print "" }'
dmesg | grep -i 'netfront\|xen_net\|vif' | sed 's/^/DOMU: dmesg: /'
echo "DOMU: POWEROFF"
sync
exec /bin/busybox poweroff -f
