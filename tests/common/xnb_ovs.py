# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
"""A private Open vSwitch with DPDK for the ovs suite: its own ovsdb-server
and Debian's ovs-vswitchd-dpdk, every socket, pid and log file under the
test's work directory (no system service is started or touched), DPDK
initialised without hugepages and with net_xennetback loaded by -d, in a
network namespace of its own (its bridges' internal ports are tap devices:
they neither clash with another test's nor touch the host's routes, and a
VXLAN underlay can have addresses and routes of its own). Builds on the
testpmd suite's XnbRig (simulator, guests, checker). Python 3 standard
library only.
"""

import os
import re
import shutil
import subprocess
import time

from xnb_testpmd import Checker, Telemetry, XnbRig, xstat  # noqa: E402,F401

VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


# xnb-guest's size mix (nf_frame_mix_size in hypervisor/netfront/nf_frame.c).
MIX_TABLE = (60, 60, 64, 64, 128, 128, 256, 512, 576, 1024, 1280, 1500, 1514, 1514, 1514,
             2048, 3000, 4096, 4097, 5000, 8192, 9000, 9018, 12000, 16384, 24000, 32768,
             40000, 60000, 65535, 65535, 0)
M64 = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9e3779b97f4a7c15) & M64
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & M64
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & M64
    return x ^ (x >> 31)


def mix_size(seq):
    """The length of the seq-th frame (from 0) an xnb-guest sends with
    --size mix: the tests know each frame's length without asking it."""
    h = splitmix64(seq ^ 0x5EED)
    size = MIX_TABLE[h & 31]
    return size if size else 60 + (h >> 8) % (65535 - 60 + 1)


def guest_mac(dom, handle=0):
    """The MAC xnb-simctl vif-add gives a guest vif (as libxl's 00:16:3e OUI)."""
    return f"00:16:3e:00:{dom:02x}:{handle:02x}"


class Ovs:
    """One private ovsdb-server + ovs-vswitchd-dpdk. Stopped by stop() (the
    rig's exit calls it too, through the process list)."""

    def __init__(self, rig, tso, tag="ovs", devargs=""):
        self.rig = rig
        self.dir = f"{rig.work}/{tag}"
        os.makedirs(self.dir, exist_ok=True)
        self.env = dict(os.environ, OVS_RUNDIR=self.dir, OVS_DBDIR=self.dir,
                        OVS_LOGDIR=self.dir, OVS_SYSCONFDIR=self.dir,
                        XENSTORED_PATH=f"{rig.sim}/xenstored.sock",
                        LD_LIBRARY_PATH=os.path.dirname(rig.pmd))
        self.db = f"unix:{self.dir}/db.sock"
        self.prefix = f"{rig.prefix}{tag}"
        self.tso = tso
        self.extra_devargs = devargs
        self.vswitchd = None
        self.ovsdb = None
        self.tel = None

    def run(self, *cmd, check=True):
        r = subprocess.run(list(map(str, cmd)), capture_output=True, text=True,
                           env=self.env)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(map(str, cmd))}: {r.stderr.strip()}")
        return r.stdout

    def vsctl(self, *args, check=True):
        return self.run("ovs-vsctl", f"--db={self.db}", "--timeout=30", *args, check=check)

    def ofctl(self, *args):
        return self.run("ovs-ofctl", *args)

    def appctl(self, *args):
        return self.run("ovs-appctl", "-t", f"{self.dir}/vswitchd.ctl", *args)

    def _wait_file(self, path, proc, what, timeout=30):
        deadline = time.time() + timeout
        while not os.path.exists(path):
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"{what} did not start:\n{self.rig.tail(what)}")
            time.sleep(0.05)

    def start(self):
        self.run("ovsdb-tool", "create", f"{self.dir}/conf.db", SCHEMA)
        self.ovsdb = self.rig.start("ovsdb-server", [
            "ovsdb-server", f"--remote=punix:{self.dir}/db.sock",
            f"--pidfile={self.dir}/ovsdb-server.pid",
            f"--unixctl={self.dir}/ovsdb-server.ctl", f"{self.dir}/conf.db"])
        self._wait_file(f"{self.dir}/db.sock", self.ovsdb, "ovsdb-server")
        # Core 0 for DPDK's main lcore, core 1 for the one PMD thread; no
        # hugepages (--legacy-mem keeps OVS from adding --in-memory, which
        # EAL refuses with --no-huge); the PMD loaded by soname from
        # LD_LIBRARY_PATH (EAL refuses -d paths under world-writable dirs).
        # 2 GB: OVS's shared mempool for MTU 1500 alone takes ~1 GB (262144
        # mbufs); with -m 1024 its creation can fail with ENOBUFS, which
        # OVS 3.1 does not retry with fewer mbufs.
        extra = (f"--no-huge -m 2048 --legacy-mem --no-pci --file-prefix={self.prefix} "
                 "-d librte_net_xennetback.so --log-level=pmd.net.xennetback:info")
        self.vsctl("--no-wait", "init")
        self.vsctl("--no-wait", "set", "Open_vSwitch", ".",
                   "other_config:dpdk-init=true", f"other_config:dpdk-extra={extra}",
                   "other_config:dpdk-lcore-mask=0x1", "other_config:pmd-cpu-mask=0x2",
                   f"other_config:userspace-tso-enable={'true' if self.tso else 'false'}")
        # unshare execs ovs-vswitchd: the process (and pid) is the switch.
        self.vswitchd = self.rig.start("vswitchd", [
            "unshare", "--net", "--", VSWITCHD, self.db,
            f"--pidfile={self.dir}/vswitchd.pid", f"--unixctl={self.dir}/vswitchd.ctl",
            f"--log-file={self.dir}/vswitchd.log"], env=self.env)
        self._wait_file(f"{self.dir}/vswitchd.ctl", self.vswitchd, "vswitchd", 60)
        # No IPv6 in the namespace: its taps stay silent (no router
        # solicitations or DAD flooding the bridges).
        for k in ("all", "default"):
            self.ns("sysctl", "-qw", f"net.ipv6.conf.{k}.disable_ipv6=1")
        self.add_bridge("br0")

    def ns(self, *cmd):
        """A command in ovs-vswitchd's network namespace (ip, sysctl)."""
        return self.run("nsenter", f"--net=/proc/{self.vswitchd.pid}/ns/net", *cmd)

    def add_bridge(self, name):
        self.vsctl("add-br", name, "--", "set", "bridge", name, "datapath_type=netdev")

    def alive(self):
        return self.vswitchd is not None and self.vswitchd.poll() is None

    def stop(self):
        """ovs-appctl exit: OVS closes its DPDK ports (our dev_close); then
        the ovsdb-server (another instance may follow in the same rig)."""
        if self.tel is not None:
            self.tel.close()
            self.tel = None
        if self.alive():
            self.run("ovs-appctl", "-t", f"{self.dir}/vswitchd.ctl", "exit", "--cleanup",
                     check=False)
            try:
                self.vswitchd.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.vswitchd.kill()
                self.vswitchd.wait()
        if self.ovsdb is not None and self.ovsdb.poll() is None:
            self.ovsdb.terminate()
            self.ovsdb.wait(timeout=30)
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)

    def devargs(self, dom, handle=0, extra=None):
        d = (f"net_xennetback_{dom}_{handle},domid={dom},handle={handle},"
             f"platform=sim,sim={self.rig.sim}")
        extra = self.extra_devargs if extra is None else extra
        return f"{d},{extra}" if extra else d

    def xstats(self, dom, handle=0):
        """The port's DPDK xstats, all of them, through ovs-vswitchd's DPDK
        telemetry socket (OVS's statistics column shows only some)."""
        if self.tel is None:
            self.tel = Telemetry(self.prefix, self.alive)
        want = f"net_xennetback_{dom}_{handle}"
        for pid in self.tel.get("/ethdev/list"):
            if self.tel.get(f"/ethdev/info,{pid}").get("name") == want:
                return self.tel.get(f"/ethdev/xstats,{pid}")
        raise RuntimeError(f"{want} is not a DPDK port of ovs-vswitchd")

    def port_info(self, dom, handle=0):
        """The port's ethdev info from telemetry: rx_offloads/tx_offloads
        are what OVS configured on it (RTE_ETH_RX_OFFLOAD_SCATTER 0x2000)."""
        if self.tel is None:
            self.tel = Telemetry(self.prefix, self.alive)
        want = f"net_xennetback_{dom}_{handle}"
        for pid in self.tel.get("/ethdev/list"):
            info = self.tel.get(f"/ethdev/info,{pid}")
            if info.get("name") == want:
                return info
        raise RuntimeError(f"{want} is not a DPDK port of ovs-vswitchd")

    def add_port(self, dom, handle=0, *extra, bridge="br0", devargs=None, wait=True):
        """Port vif<dom>.<handle>; extra: more Interface settings; devargs:
        this port's extra devargs instead of the instance's; wait=False:
        return before OVS has configured the port (see set_mtu)."""
        name = f"vif{dom}.{handle}"
        self.vsctl(*([] if wait else ["--no-wait"]), "add-port", bridge, name, "--", "set",
                   "Interface", name, "type=dpdk",
                   f"options:dpdk-devargs={self.devargs(dom, handle, devargs)}", *extra)
        return name

    def set_mtu(self, names, mtu, timeout=120):
        """mtu_request on the interfaces, then waits until each runs with
        that MTU. --no-wait: for an MTU it has no mempool for, OVS creates
        one first (halving the mbuf count until it fits DPDK's memory),
        which can outlast ovs-vsctl's timeout on a loaded machine."""
        for n in names:
            self.vsctl("--no-wait", "set", "Interface", n, f"mtu_request={mtu}")
        deadline = time.time() + timeout
        while time.time() < deadline:
            if all(self.vsctl("get", "Interface", n, "mtu").strip() == str(mtu)
                   for n in names):
                return True
            time.sleep(0.2)
        return False

    def ofport(self, name):
        return int(self.vsctl("get", "Interface", name, "ofport").strip())

    def coverage(self, counter):
        """An OVS coverage counter's total (threads add theirs to it about
        once a second)."""
        for line in self.appctl("coverage/show").splitlines():
            if line.startswith(counter + " "):
                return int(line.split()[-1])
        return 0

    # OVS's own drop counters per DPDK port, as OpenFlow 1.4 port stats
    # carry them ("CUSTOM Statistics"; live, unlike the Interface's
    # statistics column, which OVS refreshes every 5 s).
    OVS_DROPS = ("ovs_tx_failure_drops", "ovs_tx_mtu_exceeded_drops", "ovs_tx_qos_drops",
                 "ovs_rx_qos_drops", "ovs_tx_invalid_hwol_drops")

    def port_stats(self, bridge="br0"):
        """Live per-OpenFlow-port counters from ovs-ofctl dump-ports: rx, tx
        and their drops and errors, plus OVS_DROPS for DPDK ports."""
        out = self.ofctl("-O", "OpenFlow14", "dump-ports", bridge)
        st = {}
        for block in re.split(r"\n(?=\s+port\s)", out):
            m = re.search(r"port\s+(\w+): rx pkts=(\d+), bytes=(\d+), drop=(\d+), "
                          r"errs=(\d+).*?\n\s+tx pkts=(\d+), bytes=(\d+), drop=(\d+), "
                          r"errs=(\d+)", block, re.S)
            if m is None:
                continue
            v = list(map(int, m.groups()[1:]))
            st[m.group(1)] = dict(rx=v[0], rx_bytes=v[1], rx_drop=v[2], rx_errs=v[3],
                                  tx=v[4], tx_bytes=v[5], tx_drop=v[6], tx_errs=v[7])
            for k, n in re.findall(r"(\w+)=(\d+)", block):
                if k in self.OVS_DROPS:
                    st[m.group(1)][k] = int(n)
        return st

    def settled_port_stats(self, quiet=1.0, timeout=15):
        """port_stats once they stopped changing for `quiet` seconds: frames
        a stalled guest sends back late are counted (as tx drops, when their
        destination guest has gone) before the books are closed."""
        last, since, deadline = self.port_stats(), time.time(), time.time() + timeout
        while time.time() - since < quiet and time.time() < deadline:
            time.sleep(0.2)
            now = self.port_stats()
            if now != last:
                last, since = now, time.time()
        return last

    def flow_packets(self, match, bridge="br0"):
        """n_packets of the first flow whose text contains match."""
        for line in self.ofctl("dump-flows", bridge).splitlines():
            if match in line:
                m = re.search(r"n_packets=(\d+)", line)
                return int(m.group(1)) if m else None
        return None

    def log_has(self, pattern):
        try:
            with open(f"{self.dir}/vswitchd.log", errors="replace") as f:
                return [ln.rstrip() for ln in f if re.search(pattern, ln)]
        except OSError:
            return []


def wait_backend_state(rig, dom, want, timeout, handle=0):
    """Polls the simulator's xenstore for the vif's backend state; returns
    the seconds it took, or None on timeout."""
    path = f"/local/domain/0/backend/vif/{dom}/{handle}/state"
    env = dict(os.environ, XENSTORED_PATH=f"{rig.sim}/xenstored.sock")
    t0 = time.time()
    while time.time() - t0 < timeout:
        r = subprocess.run(["xenstore-read", path], capture_output=True, text=True, env=env)
        if r.returncode == 0 and r.stdout.strip() == str(want):
            return time.time() - t0
        time.sleep(0.02)
    return None
