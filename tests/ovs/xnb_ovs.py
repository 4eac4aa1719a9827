# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
"""A private Open vSwitch with DPDK for the ovs suite: its own ovsdb-server
and Debian's ovs-vswitchd-dpdk, every socket, pid and log file under the
test's work directory (no system service is started or touched), DPDK
initialised without hugepages and with net_xennetback loaded by -d. Builds
on the testpmd suite's XnbRig (simulator, guests, checker). Python 3
standard library only.
"""

import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pmd"))
from xnb_testpmd import Checker, Telemetry, XnbRig, xstat  # noqa: E402,F401

VSWITCHD = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk"
SCHEMA = "/usr/share/openvswitch/vswitch.ovsschema"


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
        db = self.rig.start("ovsdb-server", [
            "ovsdb-server", f"--remote=punix:{self.dir}/db.sock",
            f"--pidfile={self.dir}/ovsdb-server.pid",
            f"--unixctl={self.dir}/ovsdb-server.ctl", f"{self.dir}/conf.db"])
        self._wait_file(f"{self.dir}/db.sock", db, "ovsdb-server")
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
        self.vswitchd = self.rig.start("vswitchd", [
            VSWITCHD, self.db, f"--pidfile={self.dir}/vswitchd.pid",
            f"--unixctl={self.dir}/vswitchd.ctl", f"--log-file={self.dir}/vswitchd.log"],
            env=self.env)
        self._wait_file(f"{self.dir}/vswitchd.ctl", self.vswitchd, "vswitchd", 60)
        self.vsctl("add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev")

    def alive(self):
        return self.vswitchd is not None and self.vswitchd.poll() is None

    def stop(self):
        """ovs-appctl exit: OVS closes its DPDK ports (our dev_close)."""
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
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)

    def devargs(self, dom, handle=0):
        d = (f"net_xennetback_{dom}_{handle},domid={dom},handle={handle},"
             f"platform=sim,sim={self.rig.sim}")
        return f"{d},{self.extra_devargs}" if self.extra_devargs else d

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

    def add_port(self, dom, handle=0, *extra):
        name = f"vif{dom}.{handle}"
        self.vsctl("add-port", "br0", name, "--", "set", "Interface", name, "type=dpdk",
                   f"options:dpdk-devargs={self.devargs(dom, handle)}", *extra)
        return name

    def ofport(self, name):
        return int(self.vsctl("get", "Interface", name, "ofport").strip())

    def port_stats(self):
        """Live per-OpenFlow-port counters from ovs-ofctl dump-ports (the
        Interface statistics column only refreshes every 5 s)."""
        out = self.ofctl("dump-ports", "br0")
        st = {}
        for m in re.finditer(r"port\s+(\w+): rx pkts=(\d+), bytes=(\d+), drop=(\d+), "
                             r"errs=(\d+).*?\n\s+tx pkts=(\d+), bytes=(\d+), drop=(\d+), "
                             r"errs=(\d+)", out):
            v = list(map(int, m.groups()[1:]))
            st[m.group(1)] = dict(rx=v[0], rx_bytes=v[1], rx_drop=v[2], rx_errs=v[3],
                                  tx=v[4], tx_bytes=v[5], tx_drop=v[6], tx_errs=v[7])
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

    def iface_stats(self, name, settle_tx=None, timeout=15):
        """The Interface statistics column (OVS's custom drop counters and
        our xstats); with settle_tx, waits until it shows that many tx
        packets, i.e. it was refreshed after the traffic."""
        deadline = time.time() + timeout
        while True:
            raw = self.vsctl("get", "Interface", name, "statistics").strip()
            st = {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", raw)}
            if settle_tx is None or st.get("tx_packets") == settle_tx or \
                    time.time() > deadline:
                return st
            time.sleep(0.5)

    def flow_packets(self, match):
        """n_packets of the first flow whose text contains match."""
        for line in self.ofctl("dump-flows", "br0").splitlines():
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
