#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs what xennetback needs on Debian 12, by what needs it, and fetches the
# DPDK driver-SDK headers that libdpdk-dev lacks. Idempotent: it only calls
# apt-get for what is missing, and only downloads the dpdk source package when
# the headers for the installed DPDK version are not in the build tree yet.
#   buildtools/deps.sh LEVELS BUILDDIR    LEVELS: build,test,xen,bench (build is
#                                         always included); headers into
#                                         BUILDDIR/sdk/include
#   buildtools/deps.sh --headers BUILDDIR  headers only
#   buildtools/deps.sh --source DIR        the dpdk source package of the
#                                         installed version into DIR (.dsc,
#                                         orig and debian tarballs; used by
#                                         buildtools/dpdk-maxports.sh)
# build: compile the driver, the simulator and the demo (testpmd is in dpdk);
# test: what `make test` adds (clang for the fuzzer, OVS-DPDK, process tools);
# xen: the xen suite (Xen, a kernel, QEMU, the dom0 tools); bench: gnuplot;
# maxports: building a private DPDK from source (make bench-scale).
# When packages were installed into a configured build tree, the tree is marked
# to be reconfigured (meson finds programs such as clang at configure time).
set -euo pipefail

PKGS_build="gcc make pkg-config meson ninja-build dpdk dpdk-dev libdpdk-dev
	libxen-dev xenstore-utils python3 xz-utils"
PKGS_test="clang libclang-rt-14-dev iproute2 procps psmisc openvswitch-switch-dpdk"
PKGS_xen="xen-hypervisor-4.17-amd64 xen-utils-4.17 linux-image-amd64
	qemu-system-x86 busybox-static cpio gzip iperf3 jq"
PKGS_bench="gnuplot-nox"
PKGS_maxports="dpkg-dev python3-pyelftools libnuma-dev"

SDK_FILES="drivers/bus/vdev/bus_vdev_driver.h lib/eal/include/bus_driver.h
	lib/eal/include/dev_driver.h lib/ethdev/ethdev_driver.h lib/ethdev/ethdev_vdev.h"

need_root() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "deps: installing packages needs root (apt-get); run as root or sudo" >&2
		exit 1
	fi
}

install_pkgs() {
	local levels=$1 build=$2 missing=() lvl var p
	for lvl in build ${levels//,/ }; do
		var=PKGS_$lvl
		if [ -z "${!var+x}" ]; then
			echo "deps: unknown level '$lvl' (build, test, xen, bench, maxports)" >&2
			exit 2
		fi
		for p in ${!var}; do
			dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
				missing+=("$p")
		done
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	need_root
	echo "deps: installing ${missing[*]}"
	apt-get update -q
	# The Xen hypervisor package hooks into grub; on a machine without a grub
	# configuration that hook is noise, not a failure.
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}"
	if [ -f "$build/build.ninja" ]; then
		touch "$build/.xnb-reconfigure"
	fi
}

# The dpdk source package of version $2 (.dsc and tarballs) into directory $1.
fetch_source() {
	local dir=$1 ver=$2
	local work=$dir/.apt
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
	"${apt[@]}" update >/dev/null
	(cd "$dir" && "${apt[@]}" source --download-only "dpdk=$ver" >/dev/null)
	rm -rf "$work"
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
	echo "deps: fetching DPDK $ver driver-SDK headers (dpdk source package)"
	fetch_source "$work" "$ver"
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

if [ "${1:-}" = "--source" ]; then
	fetch_source "${2:?directory}" "$(dpkg-query -W -f='${Version}' libdpdk-dev)"
	exit 0
fi
if [ "${1:-}" = "--headers" ]; then
	fetch_headers "${2:?build directory}"
	exit 0
fi
install_pkgs "${1:?levels, e.g. build or build,test,xen}" "${2:?build directory}"
fetch_headers "$2"
