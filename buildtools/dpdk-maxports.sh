#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# A private DPDK for more ports than Debian's (RTE_MAX_ETHPORTS 32): the
# dpdk source package of the installed libdpdk-dev version, Debian's patches
# applied (dpkg-source -x), built with max_ethports=MAX and installed into
# BUILDDIR/dpdk/prefix. Only what dpdk-testpmd and net_xennetback need is
# built (docs/scale.md). Skipped when that prefix already holds the same
# version built with the same MAX.
#   buildtools/dpdk-maxports.sh BUILDDIR [MAX]     MAX: 1024 unless given
# Prints the prefix's pkg-config directory last. Needs the deps.sh level
# maxports (dpkg-dev, python3-pyelftools, libnuma-dev). NINJA_JOBS: ninja -j.
# A meson tree configured in BUILDDIR against an older private DPDK is marked
# to be reconfigured (as deps.sh does).
set -euo pipefail

build=${1:?build directory}
max=${2:-1024}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$build"
top=$(cd "$build" && pwd)/dpdk
prefix=$top/prefix
ver=$(dpkg-query -W -f='${Version}' libdpdk-dev)
stamp="dpdk $ver max_ethports=$max"

if [ -f "$prefix/xnb-dpdk" ] && [ "$(cat "$prefix/xnb-dpdk")" = "$stamp" ]; then
	echo "dpdk-maxports: $stamp already in $prefix" >&2
	echo "$prefix/lib/pkgconfig"
	exit 0
fi

t0=$(date +%s)
rm -rf "$top"
mkdir -p "$top"
echo "dpdk-maxports: fetching the dpdk $ver source package" >&2
"$here/deps.sh" --source "$top/dl"
# Applies debian/patches (among them: --no-huge forces IOVA as VA, which the
# rig's testpmd relies on, as with the distro's).
dpkg-source -x "$top"/dl/dpdk_*.dsc "$top/src" >/dev/null
rm -rf "$top/dl"

# As debian/rules: shared libraries, platform generic (-march=corei7 on
# x86-64); unlike it: release (-O3) instead of Debian's -O2 hardened flags,
# and only the drivers, libraries and app testpmd and our driver use (bus/pci
# comes anyway: DPDK always builds it). The rpath makes the private testpmd
# load the private libraries, not the distro's of the same soname.
opt_libs=flow_classify,kni,cfgfile,gpudev,jobstats,node,pipeline,port,power,table,vhost
echo "dpdk-maxports: building dpdk $ver with max_ethports=$max into $prefix" >&2
meson setup "$top/obj" "$top/src" \
	--prefix="$prefix" --libdir=lib --includedir=include \
	--buildtype=release --default-library=shared \
	-Dplatform=generic -Dmax_ethports="$max" -Denable_driver_sdk=true \
	-Denable_drivers=bus/vdev,mempool/ring,net/null,net/ring \
	-Ddisable_libs="$opt_libs" -Denable_apps=test-pmd \
	-Dtests=false -Dexamples= -Denable_docs=false \
	-Dc_link_args="-Wl,-rpath,$prefix/lib" >"$top/setup.log"
ninja ${NINJA_JOBS:+-j "$NINJA_JOBS"} -C "$top/obj" >"$top/build.log"
meson install -C "$top/obj" --quiet >>"$top/build.log"
echo "$stamp" >"$prefix/xnb-dpdk"
if [ -f "$build/build.ninja" ]; then
	touch "$build/.xnb-reconfigure"
fi
t1=$(date +%s)
echo "dpdk-maxports: $stamp built and installed in $((t1 - t0)) s;" \
	"disk: $(du -sh "$top" | cut -f1) ($(du -sh "$prefix" | cut -f1) installed)" >&2
echo "$prefix/lib/pkgconfig"
