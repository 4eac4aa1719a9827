# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
#
# Shell functions that dom0's scenarios and the guests' /init both use,
# installed into both images as /lib/xnb_xen_lib.sh (xnb_xen_initrd.sh).
# Shell builtins only: busybox's applets die now and then under TCG
# (docs/xen.md).

# xnb_secs T0 T1: T1 - T0 for two /proc/uptime readings (two decimals).
xnb_secs() {
	local a=${1%.*}${1#*.} b=${2%.*}${2#*.} d
	a=${a#"${a%%[!0]*}"}
	b=${b#"${b%%[!0]*}"}
	d=$((${b:-0} - ${a:-0}))
	echo "$((d / 100)).$((d % 100 / 10))$((d % 10))"
}
