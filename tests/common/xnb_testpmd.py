# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
"""The rig every Python test and app/xnb-bench share (the testpmd, zerocopy,
hostile and ovs suites): a private simulator, the distro
dpdk-testpmd (or the in-tree xnb-hold --fwd) with net_xennetback ports and
its telemetry socket, xnb-guest runs with their JSON summaries, and a
checker that prints every failed assertion before the script exits
non-zero. Everything started here is stopped and removed at the end
(XnbRig is a context manager; with XNB_KEEP_WORK=1 in the environment the
logs stay). XNB_PMD=/path/librte_net_xennetback.so runs another build of
the driver (e.g. an older commit) under the same tests;
XNB_TESTPMD=/path/dpdk-testpmd runs another testpmd (make bench-scale's,
from a private DPDK). Python 3 standard library only.
"""

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time


def run_main(main, name, errors=(RuntimeError,)):
    """Exits with main()'s status; an exception of errors fails the test
    named name with its message instead of a traceback."""
    try:
        sys.exit(main())
    except errors as e:
        print(f"FAIL: {name}: {e}", file=sys.stderr)
        sys.exit(1)


def reap(p, timeout):
    """Waits up to timeout s for process p to exit, then kills it; True
    when it exited by itself."""
    try:
        p.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return False


class Checker:
    """Collects failures so one run reports all of them, not just the first."""

    def __init__(self, name):
        self.name = name
        self.fails = 0

    def check(self, ok, what):
        if not ok:
            print(f"FAIL: {what}", file=sys.stderr, flush=True)
            self.fails += 1
        return ok

    def eq(self, got, want, what):
        return self.check(got == want, f"{what}: got {got}, want {want}")

    def result(self):
        if self.fails == 0:
            print(f"{self.name}: all checks passed", flush=True)
            return 0
        print(f"{self.name}: {self.fails} check(s) failed", file=sys.stderr)
        return 1


class Telemetry:
    """DPDK's telemetry v2 socket: one JSON request, one JSON reply."""

    def __init__(self, prefix, alive, timeout=30):
        path = f"/var/run/dpdk/{prefix}/dpdk_telemetry.v2"
        deadline = time.time() + timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            try:
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if not alive() or time.time() > deadline:
                    raise RuntimeError(f"no telemetry socket at {path}")
                time.sleep(0.2)
        json.loads(self.sock.recv(16384))  # the greeting

    def get(self, cmd):
        self.sock.send(cmd.encode())
        reply = json.loads(self.sock.recv(1 << 20))
        return reply.get(cmd.split(",")[0]) or {}

    def close(self):
        self.sock.close()


def proc_rss_kb(pid, keys=("VmRSS",)):
    """A process's resident memory from /proc/PID/status, kB, by key
    (VmRSS, RssAnon, RssFile, RssShmem)."""
    got = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in keys:
                got[k] = int(v.split()[0])
    missing = set(keys) - set(got)
    if missing:
        raise RuntimeError(f"/proc/{pid}/status has no {', '.join(sorted(missing))}")
    return got


def xstat(xstats, name):
    """A driver counter summed over queues, whatever per-queue prefix the
    names carry (rx_q0_..., q0_...): every key equal to or ending in
    '_' + name."""
    return sum(v for k, v in xstats.items() if k == name or k.endswith("_" + name))


class XnbRig:
    """A simulator directory with its daemon, guest domains with one vif
    each, and the processes of one test."""

    def __init__(self, build, tag):
        self.build = os.path.abspath(build)
        self.simd = f"{self.build}/hypervisor/xnb-simd"
        self.simctl = f"{self.build}/hypervisor/xnb-simctl"
        self.guest = f"{self.build}/hypervisor/netfront/xnb-guest"
        self.pmd = os.environ.get("XNB_PMD") or \
            f"{self.build}/drivers/net/xennetback/librte_net_xennetback.so"
        self.hold = f"{self.build}/tests/zc/xnb-hold"
        for f in (self.simd, self.simctl, self.guest, self.pmd):
            if not os.path.exists(f):
                raise RuntimeError(f"{f} missing: build first")
        self.work = tempfile.mkdtemp(prefix=f"xnb-{tag}-")
        self.sim = f"{self.work}/sim"
        self.prefix = f"xnb{tag}{os.getpid()}"
        self.procs = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in reversed(self.procs):
            reap(p, 15)
        shutil.rmtree(f"/var/run/dpdk/{self.prefix}", ignore_errors=True)
        if os.environ.get("XNB_KEEP_WORK"):
            print(f"logs kept in {self.work}", file=sys.stderr)
        else:
            shutil.rmtree(self.work, ignore_errors=True)
        return False

    def log(self, name):
        return f"{self.work}/{name}.log"

    def tail(self, name, chars=3000):
        try:
            with open(self.log(name), errors="replace") as f:
                return f.read()[-chars:]
        except OSError:
            return ""

    def start(self, name, cmd, env=None, stdin=subprocess.DEVNULL):
        with open(self.log(name), "w") as out:
            p = subprocess.Popen(cmd, stdin=stdin, stdout=out,
                                 stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        return p

    def simctl_run(self, *args):
        r = subprocess.run([self.simctl, "--dir", self.sim, *map(str, args)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"xnb-simctl {' '.join(map(str, args))}: "
                               f"{r.stderr.strip()}")
        return r.stdout

    def start_sim(self, domains, mem=8192):
        simd = self.start("simd", [self.simd, "--dir", self.sim])
        for _ in range(200):
            if os.path.exists(f"{self.sim}/simd.pid"):
                break
            if simd.poll() is not None:
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("xnb-simd did not start")
        if simd.poll() is not None:
            raise RuntimeError(f"xnb-simd exited: {self.tail('simd')}")
        for d in domains:
            self.simctl_run("create", d, "--mem", mem)
            self.simctl_run("vif-add", d, 0)
        return simd

    def xenstore_ls(self, path):
        """The simulator's xenstore under path, with Debian's xenstore-ls."""
        r = subprocess.run(["xenstore-ls", "-fp", path], capture_output=True, text=True,
                           env=dict(os.environ,
                                    XENSTORED_PATH=f"{self.sim}/xenstored.sock"))
        return r.stdout + r.stderr

    def xenstore_control(self, *args):
        """An XS_CONTROL request (xen/io/xs_wire.h: type 0, answered with
        type 0 or with XS_ERROR) to the simulator's xenstored as dom0; the
        answer."""
        body = b"".join(str(a).encode() + b"\0" for a in args)
        reply = b""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(f"{self.sim}/xenstored.sock")
            s.sendall(struct.pack("=4I", 0, 0, 0, len(body)) + body)
            while len(reply) < 16 or len(reply) < 16 + struct.unpack("=4I", reply[:16])[3]:
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("xenstored closed the connection")
                reply += chunk
        kind, _, _, n = struct.unpack("=4I", reply[:16])
        answer = reply[16:16 + n].rstrip(b"\0").decode()
        if kind != 0:
            raise RuntimeError(f"XS_CONTROL {' '.join(map(str, args))}: {answer}")
        return answer

    def sim_stats(self, dom):
        """xnb-simctl stats DOM as a dict (state stays a string)."""
        st = {}
        for line in self.simctl_run("stats", dom).splitlines():
            k, _, v = line.partition("=")
            st[k] = int(v) if v.isdigit() else v
        return st

    def start_testpmd(self, domains, testpmd_args, commands=(), devargs="", scatter=True,
                      lcores="0-1", eal=(), interactive=False):
        """testpmd with one port per domain (devargs appended to each);
        commands run from a --cmdline-file before forwarding starts.
        scatter=False leaves out --enable-scatter: the ports then hand
        testpmd single-segment frames only (no zero copy). lcores: EAL's
        -l list, or a --lcores map when it has an '@'. eal: more EAL
        arguments (other drivers and their ports, after ours).
        interactive: testpmd reads commands from the returned process's
        stdin (a pipe; write lines, flush)."""
        vdevs = []
        for d in domains:
            vdevs += ["--vdev", f"net_xennetback_{d}_0,domid={d},platform=sim,"
                      f"sim={self.sim}{devargs}"]
        if commands:
            with open(f"{self.work}/testpmd.cmds", "w") as f:
                f.write("".join(line + "\n" for line in commands))
            testpmd_args = [f"--cmdline-file={self.work}/testpmd.cmds", *testpmd_args]
        testpmd = os.environ.get("XNB_TESTPMD") or "dpdk-testpmd"
        cmd = [testpmd, "-d", self.pmd, "--no-huge", "-m", "1024", "--no-pci",
               "--lcores" if "@" in lcores else "-l", lcores, f"--file-prefix={self.prefix}",
               "--log-level=pmd.net.xennetback:info", *vdevs, *eal, "--",
               "--total-num-mbufs=16384", "--rxq=1", "--txq=1",
               "--max-pkt-len=65535", *(["--enable-scatter"] if scatter else []),
               *(["-i"] if interactive else []), *testpmd_args]
        print("+ " + " ".join(cmd), flush=True)
        env = dict(os.environ, XENSTORED_PATH=f"{self.sim}/xenstored.sock")
        p = self.start("testpmd", cmd, env=env,
                       stdin=subprocess.PIPE if interactive else subprocess.DEVNULL)
        try:
            # EAL opens the socket after probing every port: 256 ports took
            # 23 to over 30 s on a busy 2-core host (make bench-scale)
            tel = Telemetry(self.prefix, lambda: p.poll() is None,
                            timeout=30 + 0.25 * len(domains))
        except RuntimeError as e:
            raise RuntimeError(f"{e}; testpmd log:\n{self.tail('testpmd')}")
        return p, tel

    def start_fwd(self, domains, fwd_args=(), devargs="", name="host", lcores="0-1",
                  cpus=None):
        """xnb-hold --fwd (tests/zc/xnb_hold_fwd.c) with one port per domain
        (devargs appended to each): testpmd's io forwarding in a loop
        topology, plus holding, large bursts and pauses; built in-tree, so
        it also hosts a sanitized driver. Its telemetry answers as
        testpmd's. lcores: EAL's -l list, or a --lcores map when it has
        an '@'; cpus: run it under taskset -c cpus. Returns (process,
        Telemetry)."""
        vdevs = []
        for d in domains:
            vdevs += ["--vdev", f"net_xennetback_{d}_0,domid={d},platform=sim,"
                      f"sim={self.sim}{devargs}"]
        cmd = ["taskset", "-c", cpus] if cpus else []
        cmd += [self.hold, "-d", self.pmd, "--no-huge", "-m", "1024", "--no-pci",
                "--lcores" if "@" in lcores else "-l", lcores, f"--file-prefix={self.prefix}",
               "--log-level=pmd.net.xennetback:info", *vdevs, "--", "--fwd",
               "--stats", f"{self.work}/{name}.json", *map(str, fwd_args)]
        print("+ " + " ".join(cmd), flush=True)
        env = dict(os.environ, XENSTORED_PATH=f"{self.sim}/xenstored.sock")
        p = self.start(name, cmd, env=env)
        try:
            tel = Telemetry(self.prefix, lambda: p.poll() is None)
        except RuntimeError as e:
            raise RuntimeError(f"{e}; {name} log:\n{self.tail(name)}")
        return p, tel

    def guest_cmd(self, dom, mode, *args):
        return [self.guest, "--sim", self.sim, "--domid", str(dom), "--handle", "0",
                "--mode", mode, *map(str, args)]

    def start_guest(self, name, dom, mode, *args):
        cmd = self.guest_cmd(dom, mode, "--summary", f"{self.work}/{name}.json", *args)
        print("+ " + " ".join(cmd), flush=True)
        return self.start(name, cmd)

    def summary(self, name, check_ring=True):
        """A guest's JSON summary. A guest that saw the backend's rsp_prod
        move backwards or past its requests (Linux netfront's "Illegal
        number of responses") fails the test here, whatever the caller
        checks, unless check_ring is False (the caller asserts on
        rsp_prod_violations itself)."""
        try:
            with open(f"{self.work}/{name}.json") as f:
                s = json.load(f)
        except (OSError, ValueError) as e:
            raise RuntimeError(f"no summary from {name} ({e}); its log:\n"
                               f"{self.tail(name)}")
        if check_ring and s.get("rsp_prod_violations", 0) != 0:
            raise RuntimeError(f"{name}: the backend broke the ring protocol: "
                               f"rsp_prod_violations {s['rsp_prod_violations']}; "
                               f"its log:\n{self.tail(name)}")
        return s


def wait_link(tel, port, up, timeout, alive=lambda: True):
    """Polls /ethdev/link_status until the port is up (or down); False on timeout."""
    want = "UP" if up else "DOWN"
    deadline = time.time() + timeout
    while time.time() < deadline and alive():
        if tel.get(f"/ethdev/link_status,{port}").get("status") == want:
            return True
        time.sleep(0.01)
    return False
