#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
#
# Builds what QEMU boots for the xen suite, all from Debian packages plus our
# PMD and the stdout line-buffering shim: WORK/xen (the hypervisor), WORK/vmlinuz (dom0 and guest kernel),
# WORK/domu.cpio.gz (guest: busybox, xen-netfront, iperf3) and
# WORK/dom0.cpio.gz (busybox, the Xen toolstack, kernel netback + bridge for
# the baseline, the distro dpdk-testpmd with net_tap, mempool_ring and our
# PMD, iperf3, jq, and the guest's kernel and initramfs).
# With XNB_XEN_OVS=1 (the ovs scenario) dom0 also gets Debian's OVS-DPDK
# (ovs-vswitchd-dpdk, ovsdb-server, ovsdb-tool, ovs-vsctl, ovs-appctl) and our
# hotplug script app/xnb-vif-ovs as /usr/lib/xnb/xnb-vif-ovs.
# usage: xnb_xen_initrd.sh WORK librte_net_xennetback.so libxnb_linebuf.so xnb-xen-hold
set -euo pipefail

WORK=$(readlink -f "$1")
PMD=$(readlink -f "$2")
LINEBUF=$(readlink -f "$3")
HOLD=$(readlink -f "$4")
HERE=$(cd "$(dirname "$0")" && pwd)
XB=/usr/lib/xen-4.17/bin
DPDK_PMDS=/usr/lib/x86_64-linux-gnu/dpdk/pmds-23.0
# The newest kernel that has both an image in /boot and its modules.
KVER=
for k in $(ls /lib/modules | sort -V); do
	[ -f "/boot/vmlinuz-$k" ] && KVER=$k
done
[ -n "$KVER" ] || { echo "xnb_xen_initrd: no /boot/vmlinuz-* with modules" >&2; exit 1; }

mkdir -p "$WORK"
zcat /boot/xen-4.17-amd64.gz >"$WORK/xen"
cp "/boot/vmlinuz-$KVER" "$WORK/vmlinuz"

# xnb_copy_libs ROOT FILE...: every library ldd names for the files.
xnb_copy_libs() {
	local root=$1 f l
	shift
	for f in "$@"; do
		for l in $(ldd "$f" | grep -o '/[^ ]*'); do
			[ -e "$root$l" ] || install -D -m755 "$(readlink -f "$l")" "$root$l"
		done
	done
}

# xnb_copy_bin ROOT FILE...: the files at the same paths, and their libraries.
xnb_copy_bin() {
	local root=$1 f
	shift
	for f in "$@"; do
		install -D -m755 "$(readlink -f "$f")" "$root$f"
	done
	xnb_copy_libs "$root" "$@"
}

# xnb_copy_mods ROOT MODULE...: the modules with their dependencies.
xnb_copy_mods() {
	local root=$1 m ko
	shift
	for m in "$@"; do
		for ko in $(modprobe --show-depends -S "$KVER" "$m" |
				awk '/^insmod/ {print $2}'); do
			install -D -m644 "$ko" "$root$ko"
		done
	done
	cp /lib/modules/"$KVER"/modules.{order,builtin,builtin.modinfo} \
		"$root/lib/modules/$KVER/"
	depmod -b "$root" "$KVER"
}

xnb_base_root() {
	local root=$1 a
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,run,tmp,etc,root}
	mkdir -p "$root"/var/{log,lib}
	install -m755 /bin/busybox "$root/bin/busybox"
	for a in $(/bin/busybox --list); do
		[ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
	done
	ln -s ../run "$root/var/run"
	echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"
	# iperf3 resolves names through nsswitch; numeric addresses only here.
	echo '127.0.0.1 localhost' >"$root/etc/hosts"
}

xnb_cpio() {
	(cd "$1" && find . | cpio -o -H newc --quiet | gzip -1) >"$2"
}

# The guest: netfront, busybox, iperf3.
DU=$WORK/rootfs-domu
xnb_base_root "$DU"
xnb_copy_mods "$DU" xen-netfront
xnb_copy_bin "$DU" /usr/bin/iperf3
install -m755 "$HERE/domu_init.sh" "$DU/init"
install -D -m644 "$HERE/xnb_xen_lib.sh" "$DU/lib/xnb_xen_lib.sh"
install -m755 "$HERE/domu_poweroff.sh" "$DU/sbin/poweroff"
xnb_cpio "$DU" "$WORK/domu.cpio.gz"

# dom0: the toolstack, the baseline's kernel netback, testpmd and our PMD.
D0=$WORK/rootfs-dom0
xnb_base_root "$D0"
xnb_copy_bin "$D0" $XB/xl $XB/xenstored $XB/xenconsoled $XB/xen-init-dom0 \
	$XB/libxl-save-helper /usr/bin/xenstore /usr/bin/iperf3 /usr/bin/jq /bin/bash \
	/usr/bin/dpdk-testpmd
# /bin/bash: the hotplug scripts (vif-bridge) need it, busybox has the rest.
# pthread_cancel in xl dlopen()s libgcc_s; xl aborts without it.
xnb_copy_bin "$D0" /lib/x86_64-linux-gnu/libgcc_s.so.1
for t in read write ls list rm chmod exists watch; do
	ln -sf xenstore "$D0/usr/bin/xenstore-$t"
done
# EAL refuses plugins below a world-writable directory and would load the
# whole distro driver directory: give testpmd only these, in a 0755 dir.
mkdir -p "$D0/usr/lib/xnb"
chmod 755 "$D0/usr/lib/xnb"
for so in "$DPDK_PMDS/librte_mempool_ring.so" "$DPDK_PMDS/librte_net_tap.so" \
		"$DPDK_PMDS/librte_net_virtio.so" "$PMD"; do
	xnb_copy_libs "$D0" "$so"
	install -m755 "$(readlink -f "$so")" "$D0/usr/lib/xnb/$(basename "$so")"
done
install -m755 "$LINEBUF" "$D0/usr/lib/xnb/libxnb_linebuf.so"
# The aging scenario's application (tests/xen/xnb_xen_hold.c).
install -m755 "$HOLD" "$D0/usr/bin/xnb-xen-hold"
xnb_copy_libs "$D0" "$HOLD"
if [ "${XNB_XEN_OVS:-0}" = 1 ]; then
	xnb_copy_bin "$D0" /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk \
		/usr/sbin/ovsdb-server /usr/bin/ovsdb-tool /usr/bin/ovs-vsctl /usr/bin/ovs-appctl
	install -D -m644 /usr/share/openvswitch/vswitch.ovsschema \
		"$D0/usr/share/openvswitch/vswitch.ovsschema"
	install -m755 "$HERE/../../app/xnb-vif-ovs" "$D0/usr/lib/xnb/xnb-vif-ovs"
	# The script's #!/usr/bin/env bash.
	ln -s ../../bin/busybox "$D0/usr/bin/env"
fi
if [ "${XNB_XEN_NIC:-0}" = 1 ]; then
	# The nic scenario: DPDK's e1000 driver and the kernel's ways to give a
	# PCI device to user space.
	so=$DPDK_PMDS/librte_net_e1000.so
	xnb_copy_libs "$D0" "$so"
	install -m755 "$(readlink -f "$so")" "$D0/usr/lib/xnb/librte_net_e1000.so"
	xnb_copy_mods "$D0" uio_pci_generic vfio-pci
fi
mkdir -p "$D0"/etc/xen "$D0"/var/lib/xen "$D0"/var/lib/xenstored \
	"$D0"/var/log/xen/console "$D0"/boot
cp -a /etc/xen/scripts "$D0/etc/xen/"
echo 'autoballoon="off"' >"$D0/etc/xen/xl.conf"
xnb_copy_mods "$D0" xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs \
	xen-netback bridge tun vhost_net
cp "$WORK/vmlinuz" "$D0/boot/vmlinuz"
cp "$WORK/domu.cpio.gz" "$D0/boot/domu.cpio.gz"
install -m755 "$HERE/dom0_init.sh" "$D0/init"
install -m755 "$HERE/dom0_scenarios.sh" "$D0/usr/bin/xnb-scenarios"
install -D -m644 "$HERE/xnb_xen_lib.sh" "$D0/lib/xnb_xen_lib.sh"
xnb_cpio "$D0" "$WORK/dom0.cpio.gz"
echo "xnb_xen_initrd: kernel $KVER, dom0 $(du -h "$WORK/dom0.cpio.gz" | cut -f1)," \
	"guest $(du -h "$WORK/domu.cpio.gz" | cut -f1)"
