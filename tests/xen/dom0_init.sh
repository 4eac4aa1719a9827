#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
#
# /init of the xen suite's dom0: mounts, Xen device modules, xenstored,
# xen-init-dom0 and xenconsoled (what a distro's xen services do), then the
# scenarios named by xnb_scen= on the kernel command line, then power off so
# that QEMU (-no-reboot) exits. Everything is reported on hvc0, which Xen
# copies to QEMU's serial port.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:/usr/lib/xen-4.17/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mkdir -p /run/xen /run/xenstored /var/lib/xenstored
echo "DOM0: init at $(cut -d' ' -f1 /proc/uptime)s"

modprobe xenfs && mount -t xenfs xenfs /proc/xen
for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd; do
	modprobe $m || echo "DOM0: modprobe $m failed"
done
xenstored --pid-file /run/xenstored.pid
for _ in $(seq 100); do
	xenstore-read -s / >/dev/null 2>&1 && break
	sleep 0.1
done
xen-init-dom0 2>&1 | sed 's/^/DOM0: xen-init-dom0: /'
xenconsoled --pid-file=/run/xenconsoled.pid --log=guest \
	--log-dir=/var/log/xen/console
ip link set lo up
echo "DOM0: toolstack ready at $(cut -d' ' -f1 /proc/uptime)s"
xl info | grep -E '^(xen_version|nr_cpus|total_memory|free_memory)' |
	sed 's/^/DOM0: /'

# A heartbeat every 60 s, so that a run cut short by the host's timeout
# tells a dom0 that stopped (no heartbeat) from a step that hangs (the
# heartbeat goes on and names the processes in uninterruptible sleep and
# the xl commands running, with the kernel function each waits in), and
# shows the kernel's complaints as they come.
xnb_heartbeat() {
	local seen=0 n p
	while sleep 60; do
		echo "DOM0: heartbeat at $(cut -d' ' -f1 /proc/uptime)s load $(cut -d' ' -f1-3 /proc/loadavg)"
		for p in /proc/[0-9]*; do
			read -r n <$p/comm 2>/dev/null || continue
			case "$n $(cut -d' ' -f3 $p/stat 2>/dev/null)" in
			*" D"|xl*|xenstore*|timeout*)
				echo "DOM0: heartbeat:   ${p#/proc/} $n state $(cut -d' ' -f3 $p/stat) in $(cat $p/wchan 2>/dev/null)" ;;
			esac
		done
		n=$(dmesg | grep -ci 'segfault\|general protection\|bad page\|BUG\|WARNING\|Call Trace\|hung\|stall\|lockup')
		if [ "$n" -gt $seen ]; then
			dmesg | grep -i 'segfault\|general protection\|bad page\|BUG\|WARNING\|Call Trace\|hung\|stall\|lockup' |
				tail -n +$((seen + 1)) | head -20 | sed 's/^/DOM0: heartbeat: dmesg: /'
			seen=$n
		fi
	done
}
xnb_heartbeat &
SCEN=$(sed -n 's/.*xnb_scen=\([^ ]*\).*/\1/p' /proc/cmdline)
xnb-scenarios $(echo "$SCEN" | tr + ' ')
echo "DOM0: scenarios exited rc=$? at $(cut -d' ' -f1 /proc/uptime)s"
# What the kernel saw go wrong in user space or in itself (its console
# level hides these): segfaults of helpers, bad pages, warnings.
dmesg | grep -i 'segfault\|general protection\|bad page\|BUG\|WARNING\|Call Trace\|gntdev' |
	head -40 | sed 's/^/DOM0: dmesg: /'
sync
poweroff -f
