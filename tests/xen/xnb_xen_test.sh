#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
#
# The xen suite: boots Xen 4.17 and a Debian dom0 under QEMU (TCG: the
# machines this runs on have no KVM that can run Xen) and runs
# dom0_scenarios.sh there: the kernel netback baseline, then dpdk-testpmd with
# our PMD serving real Linux netfront guests. Passes when dom0 reports every
# check passed. Exits 77 (skip) only when this machine lacks what it needs,
# and says what. A boot whose checks failed while the platform killed user
# processes (busybox under TCG: docs/xen.md) runs the failed scenarios once
# more in a second boot, whose verdict counts; the output says so.
# usage: xnb_xen_test.sh WORKDIR librte_net_xennetback.so libxnb_linebuf.so
#        xnb-xen-hold [SCENARIOS]
#   SCENARIOS: '+'-separated, default
#   baseline+pmd:always:lazy+aging+ovs+parity:dom0
#   (XNB_XEN_SCENARIOS): guest A copies (copy_mode=always), guest B is zero
#   copy (lazy); aging (an application holds lent frames past the aging
#   window); then ovs (xl create with our OVS-DPDK hotplug script
#   app/xnb-vif-ovs); then parity:dom0 (what xl users set: two queues, a
#   vif rate, MTU 9000, to dom0 and guest to guest).
#   nic (opt-in): can DPDK drive a PCI NIC (an emulated e1000) in this dom0?
#   XNB_XEN_TIMEOUT: seconds for the whole boot (default 840)
#   XNB_XEN_DOM0_VCPUS: dom0's vCPUs (default 1; 2 gives testpmd's
#   forwarding lcore a vCPU of its own, QEMU then gets one CPU more)
#   XNB_XEN_TCG_THREAD: QEMU's TCG threading, multi (default) or single
#   XNB_XEN_CPU: QEMU's CPU model (default max)
set -u
WORK=$1
PMD=$2
LINEBUF=$3
HOLD=$4
SCEN=${5:-${XNB_XEN_SCENARIOS:-baseline+pmd:always:lazy+aging+ovs+parity:dom0}}
DOM0_VCPUS=${XNB_XEN_DOM0_VCPUS:-1}
TCG_THREAD=${XNB_XEN_TCG_THREAD:-multi}
QEMU_CPU=${XNB_XEN_CPU:-max}
HERE=$(cd "$(dirname "$0")" && pwd)

cannot() {
	echo "xen suite: cannot run on this machine: $*"
	exit 77
}
command -v qemu-system-x86_64 >/dev/null ||
	cannot "no qemu-system-x86_64 (make deps installs qemu-system-x86)"
[ -f /boot/xen-4.17-amd64.gz ] ||
	cannot "no /boot/xen-4.17-amd64.gz (make deps installs xen-hypervisor-4.17-amd64)"
ls /boot/vmlinuz-* >/dev/null 2>&1 ||
	cannot "no /boot/vmlinuz-* (make deps installs linux-image-amd64)"
for f in /usr/lib/xen-4.17/bin/xl /bin/busybox /usr/bin/iperf3 /usr/bin/jq \
		/usr/bin/dpdk-testpmd /usr/bin/cpio; do
	[ -x $f ] || cannot "no $f (make deps installs it)"
done
# The ovs scenario needs Debian's OVS-DPDK in dom0, and 256 MB more
# for dom0: with OVS in its in-memory root file system, the OOM killer took
# the pmd scenario's testpmd (no-huge memory is shared memory) at 640 MB.
QEMU_MB=1280
DOM0_MB=640
case +$SCEN+ in
*+ovs+*)
	export XNB_XEN_OVS=1
	QEMU_MB=1536
	DOM0_MB=896
	for f in /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk /usr/sbin/ovsdb-server \
			/usr/bin/ovsdb-tool /usr/bin/ovs-vsctl /usr/bin/ovs-appctl; do
		[ -x $f ] || cannot "no $f (make deps installs openvswitch-switch-dpdk)"
	done
	;;
esac
# The nic scenario: an e1000 that dom0 owns, on QEMU's user network (no
# host networking: restrict=on), every frame it sends dumped to a pcap.
NIC_ARGS=()
case +$SCEN+ in
*+nic+*)
	export XNB_XEN_NIC=1
	NIC_ARGS=(-netdev user,id=n0,restrict=on -device e1000,netdev=n0
		-object filter-dump,id=d0,netdev=n0,file="$WORK/nic.pcap")
	;;
esac
avail=$(awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo)
[ "$avail" -ge $((QEMU_MB + 320)) ] || cannot "QEMU needs $QEMU_MB MB of RAM, $avail MB available"

mkdir -p "$WORK"
exec 9>"$WORK/lock"
flock -n 9 || { echo "FAIL: another xen suite run holds $WORK/lock"; exit 1; }
"$HERE/xnb_xen_initrd.sh" "$WORK" "$PMD" "$LINEBUF" "$HOLD" || { echo "FAIL: building the images"; exit 1; }

XEN_ARGS="dom0_mem=${DOM0_MB}M,max:${DOM0_MB}M dom0_max_vcpus=$DOM0_VCPUS bootscrub=0 smap=0"
XEN_ARGS+=" console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all"
# The guests get a CPU of their own besides dom0's.
SMP=$((DOM0_VCPUS + 1))

# xnb_boot SCENARIOS LOG: one boot of Xen running SCENARIOS in dom0, its
# serial console in LOG (lines that matter echoed); sets rc (QEMU's).
xnb_boot() {
	local scen=$1 log=$2 t0
	# QEMU splits -initrd on commas: no comma may appear in the dom0
	# command line.
	local dom0_args="console=hvc0 earlyprintk=xen loglevel=4 xnb_scen=$scen"
	echo "xen suite: booting Xen under QEMU TCG ($TCG_THREAD-threaded, CPU $QEMU_CPU, $SMP CPUs," \
		"dom0 $DOM0_VCPUS vCPU), scenarios $scen; serial log $log"
	: >"$log"
	t0=${EPOCHREALTIME/./}
	timeout "${XNB_XEN_TIMEOUT:-840}" qemu-system-x86_64 \
		-accel tcg,thread=$TCG_THREAD -cpu $QEMU_CPU -m ${QEMU_MB}M -smp $SMP -machine q35 \
		-nographic -no-reboot -serial stdio -monitor none -net none "${NIC_ARGS[@]}" \
		-kernel "$WORK/xen" -append "$XEN_ARGS" \
		-initrd "$WORK/vmlinuz $dom0_args,$WORK/dom0.cpio.gz" </dev/null 2>&1 |
		while IFS= read -r line; do
			line=${line//$'\r'/}
			ds=$(((${EPOCHREALTIME/./} - t0) / 100000))
			line=$(printf '[%5d.%d] %s' $((ds / 10)) $((ds % 10)) "$line")
			echo "$line" >>"$log"
			case $line in
			*XNB-*|*DOM0:*|*"Kernel panic"*|*"Panic on CPU"*|*"BUG: "*|*Oops*|*"soft lockup"*|*"rcu_sched"*|*"(XEN) ***"*)
				echo "$line" ;;
			esac
		done
	rc=${PIPESTATUS[0]}
	echo "==== xen suite summary (qemu rc=$rc, $(((${EPOCHREALTIME/./} - t0) / 1000000)) s)"
	grep -o 'XNB-RESULT .*' "$log"
	grep -o 'XNB-CHECK FAIL.*' "$log"
	summary=$(grep -o 'XNB-SUMMARY .*' "$log" | tail -1)
	if [ $rc -eq 124 ]; then
		echo "FAIL: timed out after ${XNB_XEN_TIMEOUT:-840} s; serial log tail:"
		tail -60 "$log"
	elif [ -z "$summary" ]; then
		echo "FAIL: dom0 never reported a summary; serial log tail:"
		tail -60 "$log"
	fi
	echo "${summary:-XNB-SUMMARY missing}"
}

# xnb_passed: the last boot's verdict.
xnb_passed() {
	case $summary in
	*" pass=0 "*) echo "FAIL: no check ran" ;;
	*" fail=0")
		[ $rc -eq 0 ] && return 0
		echo "FAIL: qemu rc=$rc"
		;;
	esac
	return 1
}

# xnb_platform_kills LOG: user processes the platform killed during the boot
# (docs/xen.md, "Busybox and xl crashing under TCG"): those each guest's
# kernel killed, and dom0's segfaults and commands that died of a signal.
xnb_platform_kills() {
	local g d
	g=$(grep -o 'guest [^ ]*: [0-9]* processes killed' "$1" |
		awk '{ n += $3 } END { print n + 0 }')
	d=$(grep -c 'DOM0: .*segfault\|DOM0: .*general protection\|died with signal' "$1")
	echo $((g + d))
}

# xnb_failed_scenarios LOG: the scenarios (of SCEN) that own a failed check;
# a check's tag starts with its scenario's name.
xnb_failed_scenarios() {
	local out= s t
	for t in $(grep -o 'XNB-CHECK FAIL [^:]*' "$1" | cut -d' ' -f3 | sed 's/[-:].*//' | sort -u); do
		for s in ${SCEN//+/ }; do
			[ "${s%%:*}" = "$t" ] && out="$out+$s"
		done
	done
	echo "${out#+}"
}

LOG=$WORK/serial.log
xnb_boot "$SCEN" "$LOG"
xnb_passed && exit 0
# A boot that finished with checks failed while the platform killed processes
# (it does with or without our driver) runs the scenarios that failed once
# more in a fresh boot, whose verdict is the suite's, and says so. A boot
# that hung, or failed without such a kill on record, is the verdict.
kills=$(xnb_platform_kills "$LOG")
again=$(xnb_failed_scenarios "$LOG")
if [ $rc -eq 0 ] && [ -n "$summary" ] && [ "$kills" -gt 0 ] && [ -n "$again" ]; then
	echo "xen suite: checks failed in a boot where the platform killed $kills user processes" \
		"(docs/xen.md); scenarios $again run once more in a fresh boot, whose verdict counts"
	xnb_boot "$again" "$WORK/serial-again.log"
	xnb_passed && { echo "xen suite: passed on the second boot (first boot: $LOG)"; exit 0; }
fi
exit 1
