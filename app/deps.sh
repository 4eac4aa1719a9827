#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs what xennetback needs on Debian 12 and fetches the DPDK driver-SDK headers
# that libdpdk-dev lacks. Idempotent: it only calls apt-get for what is missing, and
# only downloads the dpdk source package when the headers for the installed DPDK
# version are not in the build tree yet.
#   app/deps.sh [BUILDDIR]        packages + headers into BUILDDIR/sdk/include
#   app/deps.sh --headers BUILDDIR   headers only
set -euo pipefail

BUILD_PKGS="gcc make pkg-config meson ninja-build dpdk dpdk-dev libdpdk-dev
	libxen-dev xenstore-utils python3 xz-utils"
TEST_PKGS="clang libclang-rt-14-dev gnuplot-nox jq iproute2 procps psmisc
	openvswitch-switch-dpdk"
XEN_PKGS="xen-hypervisor-4.17-amd64 xen-utils-4.17 linux-image-amd64
	qemu-system-x86 busybox-static cpio gzip iperf3"

SDK_FILES="drivers/bus/vdev/bus_vdev_driver.h lib/eal/include/bus_driver.h
	lib/eal/include/dev_driver.h lib/ethdev/ethdev_driver.h lib/ethdev/ethdev_vdev.h"

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: installing packages needs root (apt-get); run as root or sudo" >&2
		exit 1
	fi
}

install_pkgs() {
	local missing=()
	for p in $BUILD_PKGS $TEST_PKGS $XEN_PKGS; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	need_root
	echo "deps: installing ${missing[*]}"
	apt-get update -q
	# The Xen hypervisor package hooks into grub; on a machine without a grub
	# configuration that hook is noise, not a failure.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}"
}

fetch_headers() {
	local build=$1
	local ver
	ver=$(dpkg-query -W -f='${Version}' libdpdk-dev)
	local dest="$build/sdk/include"
	if [ -f "$build/sdk/version" ] && [ "$(cat "$build/sdk/version")" = "$ver" ]; then
		return 0
	fi
	local work
	work=$(mktemp -d)
	trap 'rm -rf "$work"' RETURN
	mkdir -p "$work/lists/partial"
	local codename
	codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
	cat >"$work/sources.list" <<SRC
deb-src http://deb.debian.org/debian $codename main
deb-src http://deb.debian.org/debian $codename-updates main
deb-src http://deb.debian.org/debian-security $codename-security main
SRC
	# A private source list and state directory: the system's apt configuration
	# is left untouched.
	local apt=(apt-get -q -o "Dir::Etc::SourceList=$work/sources.list"
		-o Dir::Etc::SourceParts=/nonexistent
		-o "Dir::State::Lists=$work/lists" -o APT::Sandbox::User=root)
	echo "deps: fetching DPDK $ver driver-SDK headers (dpdk source package)"
	"${apt[@]}" update >/dev/null
	(cd "$work" && "${apt[@]}" source --download-only "dpdk=$ver" >/dev/null)
	local orig
	orig=$(ls "$work"/dpdk_*.orig.tar.* | head -n1)
	mkdir -p "$dest"
	local f pats=()
	for f in $SDK_FILES; do
		pats+=("*/$f")
	done
	tar xf "$orig" -C "$work" --wildcards "${pats[@]}"
	for f in $SDK_FILES; do
		cp "$work"/*/"$f" "$dest/"
	done
	echo "$ver" >"$build/sdk/version"
}

if [ "${1:-}" = "--headers" ]; then
	fetch_headers "${2:?build directory}"
	exit 0
fi
install_pkgs
fetch_headers "${1:-build}"
