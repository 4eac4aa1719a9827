#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
#
# /init of the xen suite's PV guest. It reports on its console (which dom0
# reads from xenconsoled's log) with "DOMU:" lines: netfront's xenbus state,
# a ping to its peer, then READY; it serves iperf3 for dom0 until dom0 shuts
# it down (/sbin/poweroff) or destroys it.
# Kernel command line: xnb_ip=ADDR xnb_peer=ADDR (a /24) xnb_mtu=MTU, and for
# the guest-to-guest checks (dom0 cannot start a client in a guest):
#   xnb_g2g_ip=ADDR     a second address (a /24 of its own) with an iperf3 server
#   xnb_g2g_peer=ADDR xnb_g2g_bytes=N
#                       once the other guest answers a ping on ADDR (dom0
#                       connects the two guests' ports), one TCP stream of N
#                       bytes to it and one from it (-R); each iperf3 -J report
#                       goes to the console as "DOMU-J1: " / "DOMU-J2: " lines,
#                       then "DOMU: G2G_DONE".
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
IP=$(arg xnb_ip)
PEER=$(arg xnb_peer)
echo "DOMU: init up at $(cut -d' ' -f1 /proc/uptime)s ip=$IP peer=$PEER"

modprobe xen-netfront
state=
for _ in $(seq 300); do
	state=$(cat /sys/bus/xen/devices/vif-0/state 2>/dev/null)
	[ "$state" = Connected ] && [ -e /sys/class/net/eth0 ] && break
	sleep 0.2
done
echo "DOMU: vif-0 state=$state"
[ -e /sys/class/net/eth0 ] || echo "DOMU: NO_ETH0"
ip link set lo up
ip addr add "$IP/24" dev eth0
ip link set eth0 mtu "$(arg xnb_mtu)"
ip link set eth0 up
echo "DOMU: eth0 mac=$(cat /sys/class/net/eth0/address) mtu=$(cat /sys/class/net/eth0/mtu)"
iperf3 -s -D -B "$IP" --logfile /tmp/iperf3.log
# The first ping also resolves the peer's MAC: give ARP one retry.
if ping -c 3 -W 3 "$PEER" >/tmp/ping.log 2>&1 || ping -c 3 -W 3 "$PEER" >/tmp/ping.log 2>&1; then
	echo "DOMU: PING_OK $(tail -1 /tmp/ping.log)"
else
	echo "DOMU: PING_FAIL"
	sed 's/^/DOMU:   /' /tmp/ping.log
fi
G2G_IP=$(arg xnb_g2g_ip)
if [ -n "$G2G_IP" ]; then
	ip addr add "$G2G_IP/24" dev eth0
	iperf3 -s -D -B "$G2G_IP" --logfile /tmp/iperf3-g2g.log
fi
echo "DOMU: READY"
G2G_PEER=$(arg xnb_g2g_peer)
if [ -n "$G2G_PEER" ]; then
	t=0
	until ping -q -c 1 -W 1 "$G2G_PEER" >/dev/null 2>&1; do
		t=$((t + 1))
		[ $t -lt 600 ] || break
	done
	echo "DOMU: G2G_PEER $G2G_PEER answers after $t tries"
	# Bounded as dom0's own streams are (a stalled stream never ends).
	timeout 100 iperf3 -c "$G2G_PEER" -n "$(arg xnb_g2g_bytes)" -J \
		--connect-timeout 10000 2>&1 | sed 's/^/DOMU-J1: /'
	timeout 100 iperf3 -c "$G2G_PEER" -n "$(arg xnb_g2g_bytes)" -J \
		--connect-timeout 10000 -R 2>&1 | sed 's/^/DOMU-J2: /'
	echo "DOMU: G2G_DONE"
fi
while :; do
	sleep 3600
done
