#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
"""Issue 18: the driver at the scale the distro's DPDK holds (Debian builds
it with RTE_MAX_ETHPORTS 32): 32 net_xennetback ports in one dpdk-testpmd,
one guest domain of 8 MiB per port, io forwarding between the two ports of
a pair (0<->1, 2<->3, ...). Every guest runs in loop mode (the size mix,
GSO, checksum offload, scattered slots), so each pair exchanges frames both
ways and each guest verifies every frame it gets.

Connectivity: all 32 links come up, every guest sends and receives.

Storm: 4 pairs (seeded) stream at a fixed rate while each of the other 24
guests reconnects 10 times, in a seeded random order, 8 of them at a time:
5 guest processes each, every one dropping its connection once as on
resume (--reconnect) and then leaving. The forwarding lcore must keep
serving the streaming pairs: no pair may go 1 s of the lcore's time (it
running, or blocked, but not waiting for a CPU) without a frame taken from
its guests. Both lcores float over both CPUs: other suites pin theirs to
CPU 1 on this shared 2-core host, and a lcore pinned there was seen to get
no CPU for 1-3 s at a time, long enough for a closing guest to give up
waiting for the backend (its 2 s) and end grants the backend still uses.

Accounting. A guest that leaves while frames are on their way to it loses
those its port already put on its RX ring, and nobody counts them. The
streaming pairs and the pairs of the connectivity phase are therefore
stopped in order (one side stopped, its requests taken by the lcore, the
other side gone once it has read all its port sent, then the first side
once it has), and for them the counts are exact: what a guest handed to
its ring is what its port received, what its port sent is what the guest
read. What one guest sent and its peer did not get is then what testpmd
dropped (the peer's RX ring full, or its link down) or the driver counted
as an output error, and testpmd's forward statistics at exit must account
for every frame of every port that way. The storm guests leave with
traffic in flight, so for them the counts are bounded: their port received
at most what they handed to the ring and at least that less the requests
left unanswered at a disconnect; it sent them at least what they read and
at most a ring's worth (256 requests) more per disconnect. Every frame that
arrives anywhere verifies, none twice; the driver's error counters stay 0.

Leaks, once every guest is gone: nothing of any guest is mapped or bound
(the simulator's counts), no guest page is lent, each port's xenstore
connection holds the same two watches as before any guest (the simulated
xenstored's xnb-watches), the EAL heap holds the same allocations as before
the storm, testpmd's RSS grew by at most RSS_SLACK_KB, and the backend
directories stay until the toolstack removes them (xl destroy) and are
gone for good then, also after testpmd's exit.

usage: test_scale.py BUILDDIR [--seed N]
"""

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from xnb_testpmd import Checker, XnbRig, proc_rss_kb, run_main, wait_link, xstat  # noqa: E402

PORTS = 32		# RTE_MAX_ETHPORTS of Debian's DPDK
MEM = 2048		# pages per guest domain
RING = 256		# requests on a guest's RX ring
BURST = 32		# testpmd's burst
STREAM_PAIRS = 4
RUNS = 5		# guest processes per storm guest, two connections each
INFLIGHT = 8		# storm guests reconnecting at once
RATE_CONNECT, RATE_STREAM, RATE_STORM = 500, 1000, 200	# frames per second
CONNECT_FRAMES = 100	# each guest receives at least this many first
LCORES = "0@(0-1),1@(0-1)"
STALL_LIMIT = 1.0	# lcore seconds without a frame from a streaming pair
# testpmd's RSS after the storm against before it, both with every guest
# gone. The simulator's views of each guest's RAM (most of the RSS a port
# costs) are mapped and resident from the first connection on, so what the
# storm's 240 connections may add is allocator noise (0-4 kB measured).
# 2 MiB is 8.5 KiB per connection: any per-connection leak of two pages or
# more exceeds it; rte_malloc leaks are caught exactly by the heap count,
# mappings by the simulator's.
RSS_SLACK_KB = 2048
TRAFFIC = ("--size", "mix", "--gso", "--csum", "--layout", "mix", "--timeout", "300")
# xnb-guest --stats-interval line: "... tx N (x Mpps) rx M (y Mpps) ..."
PROGRESS = re.compile(rb"tx (\d+) \(\S+ Mpps\) rx (\d+) ")
# testpmd's forward statistics at exit, per port.
FWD_RE = re.compile(r"Forward statistics for port (\d+)\s+-+\s+RX-packets: (\d+)\s+"
                    r"RX-dropped: \d+\s+RX-total: \d+\s+TX-packets: (\d+)\s+"
                    r"TX-dropped: (\d+)")
# Driver counters that stay 0 on every port.
ERROR_XSTATS = ("guest_fatal_errors", "rx_bad_requests", "rx_copy_errors",
                "tx_copy_errors", "rx_map_errors", "rx_map_failed", "rx_copyout_failed",
                "rx_iova_failed", "rx_mbuf_alloc_failed")
ERROR_STATS = ("ierrors", "oerrors", "imissed", "rx_nombuf")


def wait_until(cond, timeout, what):
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise RuntimeError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


class Guest:
    """One xnb-guest process in loop mode on port p (domain p + 1)."""

    def __init__(self, rig, tel, name, port, *args):
        self.rig, self.name, self.port = rig, name, port
        self.base = tel.get(f"/ethdev/stats,{port}")	# its port, idle before it
        self.proc = rig.start_guest(name, port + 1, "loop", *TRAFFIC, *args)
        self.summary = None

    def rx_seen(self):
        """rx of its latest --stats-interval line (-1 before the first)."""
        with open(self.rig.log(self.name), "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            lines = PROGRESS.findall(f.read())
        return int(lines[-1][1]) if lines else -1

    def gone(self):
        """Its summary once it has exited, else None."""
        if self.proc.poll() is None:
            return None
        self.summary = self.rig.summary(self.name)
        return self.summary

    def finish(self):
        """Waits for its exit (after a signal); its summary."""
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"{self.name} did not exit; its log:\n{self.rig.tail(self.name)}")
        return self.gone()


def port_stats(tel, ports=range(PORTS)):
    return {p: tel.get(f"/ethdev/stats,{p}") for p in ports}


def watchers(rig):
    """Watches held by those of dom0's xenstore connections that hold any
    (testpmd's, one per port), sorted."""
    return sorted(n for n in map(int, rig.xenstore_control("xnb-watches", 0).split()) if n)


def snapshot(rig, tel, pid):
    """testpmd's resident memory (kB, in all and by kind), EAL heap, every
    port's xstats, and the xenstore watches."""
    snap = proc_rss_kb(pid, ("VmRSS", "RssAnon", "RssFile", "RssShmem"))
    heap = tel.get("/eal/heap_info,0")
    snap["heap_count"], snap["heap_size"] = heap["Alloc_count"], heap["Alloc_size"]
    snap["xstats"] = {p: tel.get(f"/ethdev/xstats,{p}") for p in range(PORTS)}
    snap["watches"] = watchers(rig)
    return snap


# ---- stopping pairs with nothing in flight -----------------------------------------

def undrained(tel, pairs):
    """Of pairs (a, b) whose b is stopped, those whose b's TX ring the lcore
    may not have emptied yet. It has once a poll of b's port found nothing:
    its count stayed while a's port took more than a burst (the lcore polls
    every port between two polls of one)."""
    q1 = [tel.get(f"/ethdev/stats,{b.port}")["ipackets"] for a, b in pairs]
    b1 = [tel.get(f"/ethdev/stats,{a.port}")["ipackets"] for a, b in pairs]
    time.sleep(0.25)
    b2 = [tel.get(f"/ethdev/stats,{a.port}")["ipackets"] for a, b in pairs]
    q2 = [tel.get(f"/ethdev/stats,{b.port}")["ipackets"] for a, b in pairs]
    return [pair for i, pair in enumerate(pairs) if q1[i] != q2[i] or b2[i] - b1[i] <= BURST]


def read_all(tel, guests):
    """Every guest has read all its port sent it, on two looks 0.3 s apart
    (each prints its count every 0.2 s)."""
    for _ in range(2):
        for g in guests:
            sent = tel.get(f"/ethdev/stats,{g.port}")["opackets"] - g.base["opackets"]
            if g.rx_seen() != sent:
                return False
        time.sleep(0.3)
    return True


def leave_read(tel, guests, what):
    """The guests gone, each once it has read all its port sent it (30 s at
    most, or RuntimeError naming them as what)."""
    wait_until(lambda: read_all(tel, guests), 30, f"{what} reading all its port sent")
    for g in guests:
        g.proc.send_signal(signal.SIGTERM)
    for g in guests:
        g.finish()


def end_pairs(tel, pairs):
    """Stops each pair (a, b) so that nothing is on its way to a guest when
    it leaves: b stopped (SIGSTOP) and its TX ring emptied by the lcore, a
    gone once it has read all its port sent, then b resumed and gone once it
    has read all a sent (what b sends meanwhile meets a's link down, and
    testpmd drops and counts it)."""
    try:
        for a, b in pairs:
            b.proc.send_signal(signal.SIGSTOP)
        left, deadline = pairs, time.time() + 30
        while left:
            if time.time() > deadline:
                raise RuntimeError(f"ports {[b.port for a, b in left]} still taking frames "
                                   f"from stopped guests after 30 s")
            left = undrained(tel, left)
        leave_read(tel, [a for a, b in pairs], "the first guest of each pair")
    finally:
        for a, b in pairs:
            b.proc.send_signal(signal.SIGCONT)
    wait_until(lambda: all(tel.get(f"/ethdev/stats,{a.port}")["ipackets"] - a.base["ipackets"]
                           >= a.summary["tx_packets"] - a.summary["tx_aborted"]
                           for a, b in pairs), 30, "ports taking all their guests sent")
    leave_read(tel, [b for a, b in pairs], "the second guest of each pair")


def guest_clean(c, what, s, connects):
    """What every guest reports: each frame that arrived verified, none
    twice or out of order, no error, no grant left, its connections."""
    c.eq(s["verified"], s["rx_packets"], f"{what}: verified vs rx_packets")
    for k in ("verify_errors", "dups", "reordered", "rx_errors", "tx_errors",
              "tx_unsupported", "grants_leaked"):
        c.eq(s[k], 0, f"{what}: {k}")
    if s["verify_errors"]:
        print(f"  {what}: errors by kind: {s['errors']}", file=sys.stderr)
    c.eq(s["netfront"]["connects"], connects, f"{what}: connections")
    c.check(s["tx_packets"] > 0, f"{what}: sent nothing")


def exact(c, what, pairs, before, after):
    """The counts of pairs stopped by end_pairs, each direction."""
    for a, b in pairs:
        for src, dst in ((a, b), (b, a)):
            took = after[src.port]["ipackets"] - before[src.port]["ipackets"]
            sent = after[dst.port]["opackets"] - before[dst.port]["opackets"]
            c.eq(src.summary["tx_packets"], took,
                 f"{what}: {src.name} tx_packets vs port {src.port} rx-packets")
            c.eq(src.summary["tx_aborted"], 0, f"{what}: {src.name} tx_aborted")
            c.eq(dst.summary["rx_packets"], sent,
                 f"{what}: {dst.name} rx_packets vs port {dst.port} tx-packets")
            lost = src.summary["tx_packets"] - dst.summary["rx_packets"]
            c.check(dst.summary["gaps"] <= lost,
                    f"{what}: {dst.name} saw {dst.summary['gaps']} gaps, {lost} lost")
            c.check(dst.summary["rx_packets"] > 0,
                    f"{what}: {src.name} -> {dst.name}: nothing arrived")


# ---- connectivity ---------------------------------------------------------------------

def connectivity(c, rig, tel, tpmd, alive):
    """Returns the snapshot with every port connected and carrying traffic."""
    before = port_stats(tel)
    guests = [Guest(rig, tel, f"connect{p}", p, "--rate", RATE_CONNECT, "--stats-interval", 0.2)
              for p in range(PORTS)]
    t0 = time.time()
    for g in guests:
        if not wait_link(tel, g.port, True, 60, alive):
            raise RuntimeError(f"port {g.port} (dom{g.port + 1}) did not come up; "
                               f"{g.name}'s log:\n{rig.tail(g.name)}")
    up = time.time() - t0
    wait_until(lambda: all(s["opackets"] - before[p]["opackets"] >= CONNECT_FRAMES
                           for p, s in port_stats(tel).items()), 120,
               f"every guest receiving {CONNECT_FRAMES} frames")
    connected = snapshot(rig, tel, tpmd.pid)
    pairs = [(guests[p], guests[p + 1]) for p in range(0, PORTS, 2)]
    end_pairs(tel, pairs)
    after = port_stats(tel)
    for g in guests:
        guest_clean(c, f"connect: {g.name}", g.summary, 1)
    exact(c, "connect", pairs, before, after)
    tx = sum(g.summary["tx_packets"] for g in guests)
    rx = sum(g.summary["rx_packets"] for g in guests)
    print(f"test_scale: {PORTS} links up in {up:.1f} s; {tx} frames sent, {rx} received "
          f"and verified, {tx - rx} dropped by testpmd", flush=True)
    return connected


# ---- the storm ---------------------------------------------------------------------------

class Run:
    """One storm guest process: connect, drop the connection and ask again
    once (--reconnect, seeded times), hold it a seeded while, leave."""

    def __init__(self, rig, port, index, rng):
        self.rig, self.port, self.index = rig, port, index
        self.resume = (round(rng.uniform(0.2, 0.6), 2), round(rng.uniform(0, 0.3), 2))
        self.hold = rng.uniform(0.1, 0.5)
        self.guest = None

    def counts(self, tel):
        xs = tel.get(f"/ethdev/xstats,{self.port}")
        return xs["guest_connects"], xs["guest_disconnects"]

    def start(self, tel):
        self.base = self.counts(tel)
        # A stream id of its own: its peer's sequence check tells each
        # process's frames apart.
        self.guest = Guest(self.rig, tel, f"storm{self.index}-p{self.port}", self.port,
                           "--rate", RATE_STORM, "--stream", 100 + self.index,
                           "--reconnect", "%g:%g" % self.resume)
        self.state, self.since, self.poll = "connecting", time.time(), 0

    def step(self, tel, now):
        """Advances; True once the process is gone and its port saw both its
        connections end."""
        if now < self.poll:
            return False
        self.poll = now + 0.1
        if now - self.since > 60:
            raise RuntimeError(f"{self.guest.name}: still {self.state} after 60 s; its "
                               f"log:\n{self.rig.tail(self.guest.name)}")
        if self.state == "connecting":
            if self.guest.proc.poll() is not None:
                raise RuntimeError(f"{self.guest.name} exited early; its log:\n"
                                   f"{self.rig.tail(self.guest.name)}")
            if self.counts(tel)[0] >= self.base[0] + 2:
                self.state, self.since, self.poll = "holding", now, now + self.hold
        elif self.state == "holding":
            self.guest.proc.send_signal(signal.SIGTERM)
            self.state, self.since = "leaving", now
        elif self.state == "leaving":
            if self.guest.gone() is not None:
                self.state = "closing"
        elif self.counts(tel)[1] >= self.base[1] + 2:
            return True
        return False


def host_steal():
    """CPU time the host took from this VM's CPUs, s (/proc/stat)."""
    with open("/proc/stat") as f:
        return int(f.readline().split()[8]) / os.sysconf("SC_CLK_TCK")


class StallMeter:
    """Per streaming pair, the frames its two ports took from their guests,
    sampled every 0.1 s, against what testpmd's forwarding lcore did
    meanwhile (its schedstat: time running, time waiting for a CPU; the
    rest of the wall time it was blocked, or its CPU taken by the host). A
    stall is lcore time not spent waiting for a CPU without a frame of the
    pair: waiting for a CPU on this shared host is not the driver's doing.
    The kernel adds a wait to the count when it ends, so a window without
    frames also takes the wait counted in the sample that ends it."""

    def __init__(self, pid, pairs):
        tids = []
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/comm") as f:
                if "worker" in f.read():
                    tids.append(t)
        if len(tids) != 1:
            raise RuntimeError(f"testpmd's forwarding lcore thread: found {tids}")
        self.task = f"/proc/{pid}/task/{tids[0]}"
        self.pairs = pairs
        self.t0 = self.prev_t = time.time()
        self.steal0 = host_steal()
        self.first = self.prev_lc = self.lcore()
        self.prev = None
        zero = (0.0, 0.0, 0.0, 0)	# run s, wait s, wall s, voluntary switches
        self.run = {k: zero for k in pairs}
        self.worst = {k: zero for k in pairs}

    def lcore(self):
        """Its run s, run-queue wait s, voluntary context switches."""
        with open(f"{self.task}/schedstat") as f:
            run, wait = (int(v) / 1e9 for v in f.read().split()[:2])
        with open(f"{self.task}/status") as f:
            vol = next(int(line.split()[1]) for line in f
                       if line.startswith("voluntary_ctxt_switches"))
        return run, wait, vol

    @staticmethod
    def stalled(r):
        """Of a window's (run, wait, wall, switches): wall time not waiting."""
        return max(0.0, r[2] - r[1])

    def sample(self, tel, now):
        if now - self.prev_t < 0.1:
            return
        vals = {k: sum(tel.get(f"/ethdev/stats,{p}")["ipackets"] for p in (2 * k, 2 * k + 1))
                for k in self.pairs}
        lc = self.lcore()
        d = (lc[0] - self.prev_lc[0], lc[1] - self.prev_lc[1], now - self.prev_t,
             lc[2] - self.prev_lc[2])
        for k in self.pairs:
            if self.prev is not None and vals[k] == self.prev[k]:
                self.run[k] = tuple(a + b for a, b in zip(self.run[k], d))
                continue
            run, wait, wall, vol = self.run[k]
            if wall > 0:
                self.worst[k] = max(self.worst[k], (run, wait + d[1], wall, vol),
                                    key=self.stalled)
            self.run[k] = (0.0, 0.0, 0.0, 0)
        self.prev_t, self.prev_lc, self.prev = now, lc, vals

    def report(self, c, runs, secs, fwd):
        for k in self.pairs:
            self.worst[k] = max(self.worst[k], self.run[k], key=self.stalled)
        run, wait = (self.prev_lc[i] - self.first[i] for i in (0, 1))
        wall = self.prev_t - self.t0
        print(f"test_scale: storm: {runs} guest processes, {2 * runs} reconnects in "
              f"{secs:.1f} s; the forwarding lcore ran {run / wall:.0%} "
              f"of the time, waited for a CPU {wait / wall:.0%}, gave up its CPU "
              f"{self.prev_lc[2] - self.first[2]} times; the host took "
              f"{host_steal() - self.steal0:.2f} CPU s", flush=True)
        for k in self.pairs:
            run, wait, wall, vol = self.worst[k]
            print(f"test_scale: pair {2 * k}<->{2 * k + 1}: {fwd[k] / secs:.0f} frames/s "
                  f"taken; worst span without one: {wall:.2f} s, the lcore running {run:.2f} s, "
                  f"waiting for a CPU {wait:.2f} s, else {max(0, wall - run - wait):.2f} s "
                  f"({vol} switches)", flush=True)
            c.check(self.stalled(self.worst[k]) < STALL_LIMIT,
                    f"pair {2 * k}<->{2 * k + 1}: the lcore went {self.stalled(self.worst[k]):.2f}"
                    f" s, not waiting for a CPU, without a frame from it in the storm")


def storm(c, rig, tel, tpmd, alive, rng):
    streaming = sorted(rng.sample(range(PORTS // 2), STREAM_PAIRS))
    storm_ports = [p for p in range(PORTS) if p // 2 not in streaming]
    print(f"test_scale: streaming pairs (ports) {[(2 * k, 2 * k + 1) for k in streaming]}",
          flush=True)
    before = port_stats(tel)
    xbefore = {p: tel.get(f"/ethdev/xstats,{p}") for p in range(PORTS)}
    sguests = {p: Guest(rig, tel, f"stream{p}", p, "--rate", RATE_STREAM, "--stats-interval", 0.2)
               for k in streaming for p in (2 * k, 2 * k + 1)}
    for p in sguests:
        if not wait_link(tel, p, True, 60, alive):
            raise RuntimeError(f"streaming port {p} did not come up")

    order = [p for p in storm_ports for _ in range(RUNS)]
    rng.shuffle(order)
    runs = [Run(rig, p, i, rng) for i, p in enumerate(order)]
    pending, active = list(runs), []
    meter = StallMeter(tpmd.pid, streaming)
    t0 = time.time()
    while pending or active:
        now = time.time()
        meter.sample(tel, now)
        active = [r for r in active if not r.step(tel, now)]
        busy = {r.port for r in active}
        while len(active) < INFLIGHT:
            r = next((r for r in pending if r.port not in busy), None)
            if r is None:
                break
            pending.remove(r)
            r.start(tel)
            active.append(r)
            busy.add(r.port)
        if not alive():
            raise RuntimeError(f"dpdk-testpmd exited in the storm:\n{rig.tail('testpmd')}")
        time.sleep(0.02)
    secs = time.time() - t0
    # Sent, then taken: what was sent then was taken before.
    mid_sent, mid_took = port_stats(tel, sguests), port_stats(tel, sguests)
    spairs = [(sguests[2 * k], sguests[2 * k + 1]) for k in streaming]
    end_pairs(tel, spairs)
    after = port_stats(tel)
    xafter = {p: tel.get(f"/ethdev/xstats,{p}") for p in range(PORTS)}

    taken = {k: sum(mid_took[p]["ipackets"] - before[p]["ipackets"]
                    for p in (2 * k, 2 * k + 1)) for k in streaming}
    meter.report(c, len(runs), secs, taken)
    for g in sguests.values():
        guest_clean(c, f"stream: {g.name}", g.summary, 1)
    exact(c, "stream", spairs, before, after)
    for a, b in spairs:
        for src, dst in ((a, b), (b, a)):
            tx, rx = src.summary["tx_packets"], dst.summary["rx_packets"]
            during = (mid_took[src.port]["ipackets"] - before[src.port]["ipackets"] -
                      mid_sent[dst.port]["opackets"] + before[dst.port]["opackets"])
            print(f"test_scale: {src.name} -> {dst.name}: {tx} sent, {rx} arrived and "
                  f"verified, {tx - rx} dropped by testpmd (about {during} in the storm, the "
                  f"rest while stopping)", flush=True)

    for r in runs:
        c.eq(r.guest.proc.returncode, 0, f"storm: {r.guest.name} exit status")
        guest_clean(c, f"storm: {r.guest.name}", r.guest.summary, 2)
    stranded = {}
    for p in storm_ports:
        ss = [r.guest.summary for r in runs if r.port == p]
        dx = {k: xafter[p][k] - xbefore[p][k] for k in ("guest_connects", "guest_disconnects")}
        c.eq(dx["guest_connects"], 2 * RUNS, f"storm: port {p} connections")
        c.eq(dx["guest_disconnects"], 2 * RUNS, f"storm: port {p} disconnections")
        took = after[p]["ipackets"] - before[p]["ipackets"]
        sent = after[p]["opackets"] - before[p]["opackets"]
        tx = sum(s["tx_packets"] for s in ss)
        unanswered = sum(s["tx_aborted"] for s in ss)
        rx = sum(s["rx_packets"] for s in ss)
        c.check(tx - unanswered <= took <= tx,
                f"storm: port {p} took {took} frames; its guests sent {tx}, {unanswered} "
                f"requests unanswered at a disconnect")
        c.check(rx <= sent <= rx + RING * dx["guest_disconnects"],
                f"storm: port {p} sent {sent} frames; its guests read {rx} in "
                f"{dx['guest_disconnects']} connections")
        stranded[p] = sent - rx
    print(f"test_scale: storm guests: {sum(stranded.values())} frames left unread on their "
          f"RX rings at a disconnect, at most {max(stranded.values())} on one port "
          f"(bound {RING * 2 * RUNS})", flush=True)


# ---- leaks ------------------------------------------------------------------------------

def released(c, rig, when):
    """Nothing of any guest mapped or bound."""
    deadline = time.time() + 10
    while True:
        st = {d: rig.sim_stats(d) for d in range(PORTS + 1)}
        if not any(s["grants_mapped"] or s["evtchn_bound"] for s in st.values()) or \
                time.time() > deadline:
            break
        time.sleep(0.1)
    for d, s in st.items():
        c.eq(s["grants_mapped"], 0, f"dom{d} pages mapped by others {when}")
        c.eq(s["evtchn_bound"], 0, f"dom{d} event channels bound {when}")


def errors_zero(c, rig, tel, xs):
    for p in range(PORTS):
        st = tel.get(f"/ethdev/stats,{p}")
        for k in ERROR_STATS:
            c.eq(st.get(k), 0, f"port {p} {k}")
        for k in ERROR_XSTATS:
            c.eq(xstat(xs[p], k), 0, f"port {p} xstat {k}")
        for k in ("rx_slots_mapped_now", "rx_slots_held_now"):
            c.eq(xs[p].get(k), 0, f"port {p} xstat {k} with its guest gone")
    c.eq(rig.sim_stats(0)["op_failed"], 0, "simulator: dom0 grant operations failed")


def memory(c, idle, connected, pre, post):
    print(f"test_scale: testpmd VmRSS {idle['VmRSS']} kB without guests, "
          f"{connected['VmRSS']} kB with all {PORTS} connected: "
          f"{(connected['VmRSS'] - idle['VmRSS']) / PORTS:.0f} kB per port (RssShmem "
          f"{(connected['RssShmem'] - idle['RssShmem']) / PORTS:.0f}, RssAnon "
          f"{(connected['RssAnon'] - idle['RssAnon']) / PORTS:.0f}; EAL heap "
          f"{(connected['heap_size'] - idle['heap_size']) / PORTS / 1024:.0f})", flush=True)
    for k in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
        print(f"test_scale: testpmd {k} before the storm {pre[k]} kB, after "
              f"{post[k]} kB ({post[k] - pre[k]:+d} kB)", flush=True)
    print(f"test_scale: EAL heap before the storm {pre['heap_count']} allocations "
          f"({pre['heap_size']} bytes), after {post['heap_count']} ({post['heap_size']} bytes)",
          flush=True)
    c.check(post["VmRSS"] - pre["VmRSS"] <= RSS_SLACK_KB,
            f"testpmd's RSS grew by {post['VmRSS'] - pre['VmRSS']} kB in the storm, "
            f"want <= {RSS_SLACK_KB}")
    c.eq(post["heap_count"], pre["heap_count"], "EAL heap allocations after the storm")
    c.eq(post["heap_size"], pre["heap_size"], "EAL heap bytes allocated after the storm")
    # Each port's connection: its backend directory's watch and its
    # frontend's state watch, whatever the guests did.
    for when, snap in (("without guests", idle), ("before the storm", pre),
                       ("after the storm", post)):
        c.eq(snap["watches"], [2] * PORTS, f"xenstore watches per connection {when}")


def backend_dirs(rig):
    """The vif backend directories in xenstore: domid -> its state (None
    without one)."""
    dirs = {}
    for line in rig.xenstore_ls("/local/domain/0/backend/vif").splitlines():
        m = re.match(r"/local/domain/0/backend/vif/(\d+)/\d+(/state = \"(\d+)\")?", line)
        if m:
            dirs.setdefault(int(m.group(1)), None)
            if m.group(3):
                dirs[int(m.group(1))] = int(m.group(3))
    return dirs


def teardown(c, rig, tel, tpmd):
    """xl destroy of every domain: its backend directory goes and stays
    gone. Returns the ports' stats before testpmd's exit."""
    c.eq(backend_dirs(rig), {d: 6 for d in range(1, PORTS + 1)},
         "backend directories (domid: state) with the guests gone, their domains alive")
    for d in range(1, PORTS + 1):
        rig.simctl_run("destroy", d)
        rig.simctl_run("vif-remove", d, 0)
    gone = re.compile(r"net_xennetback_(\d+)_0: /local/domain/0/backend/vif/\d+/0 removed")
    wait_until(lambda: len(set(gone.findall(rig.tail("testpmd", 1 << 20)))) == PORTS, 30,
               "the driver seeing every backend directory removed")
    for d in range(1, PORTS + 1):
        wait_until(lambda: rig.sim_stats(d)["state"] == "none", 15, f"dom{d} reaped")
    c.eq(backend_dirs(rig), {}, "backend directories after xl destroy")

    st = port_stats(tel)
    tpmd.send_signal(signal.SIGINT)
    try:
        tpmd.wait(timeout=60)
    except subprocess.TimeoutExpired:
        raise RuntimeError("dpdk-testpmd did not exit on SIGINT")
    c.eq(tpmd.returncode, 0, "dpdk-testpmd exit status")
    c.eq(backend_dirs(rig), {}, "backend directories after testpmd's exit")
    c.eq(watchers(rig), [], "xenstore watches held after testpmd's exit")
    c.eq(rig.sim_stats(0)["evtchn_bound"], 0, "dom0 event channels bound after testpmd's exit")
    return st


def forward_accounting(c, rig, st):
    """testpmd's own forward statistics at exit: every frame one port of a
    pair received the other sent, or testpmd dropped and counted it, or the
    driver counted it as an output error."""
    with open(rig.log("testpmd"), errors="replace") as f:
        fwd = {int(m[0]): tuple(map(int, m[1:])) for m in FWD_RE.findall(f.read())}
    if not c.eq(sorted(fwd), list(range(PORTS)), "ports in testpmd's forward statistics"):
        return
    for p in range(PORTS):
        rx, tx, txdrop = fwd[p]
        c.eq(rx, st[p]["ipackets"], f"port {p}: testpmd's RX-packets vs rx-packets")
        c.eq(tx, st[p]["opackets"], f"port {p}: testpmd's TX-packets vs tx-packets")
        c.eq(fwd[p ^ 1][0], tx + txdrop + st[p]["oerrors"],
             f"port {p ^ 1} received vs port {p} sent + TX-dropped + oerrors")
    print(f"test_scale: testpmd forwarded {sum(f[1] for f in fwd.values())} frames, dropped "
          f"{sum(f[2] for f in fwd.values())} (a guest's RX ring full or its link down)",
          flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "little"))
    args = ap.parse_args()
    print(f"test_scale: seed {args.seed} (--seed {args.seed} makes the same choices)",
          flush=True)
    rng = random.Random(args.seed)
    c = Checker("test_scale")
    # meson's timeout: leave through the rig, which stops what it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("test_scale: terminated"))
    t0 = time.time()

    with XnbRig(args.build, "scale") as rig:
        doms = range(1, PORTS + 1)
        rig.start_sim(doms, mem=MEM)
        # --no-flush-rx: frames a guest sends before forwarding starts are
        # forwarded and counted, not flushed uncounted.
        tpmd, tel = rig.start_testpmd(doms, ["--forward-mode=io", "--auto-start",
                                             "--stats-period", "3600", "--no-flush-rx"],
                                      lcores=LCORES)
        alive = lambda: tpmd.poll() is None  # noqa: E731
        wait_until(lambda: backend_dirs(rig) == {d: 2 for d in doms}, 60,
                   "every port's backend in InitWait")
        idle = snapshot(rig, tel, tpmd.pid)

        connected = connectivity(c, rig, tel, tpmd, alive)
        for p in range(PORTS):
            c.check(wait_link(tel, p, False, 15, alive), f"port {p} still up, its guest gone")
        released(c, rig, "after the connectivity phase")
        pre = snapshot(rig, tel, tpmd.pid)

        storm(c, rig, tel, tpmd, alive, rng)
        for p in range(PORTS):
            c.check(wait_link(tel, p, False, 15, alive), f"port {p} still up, its guest gone")
        released(c, rig, "after the storm")
        post = snapshot(rig, tel, tpmd.pid)
        errors_zero(c, rig, tel, post["xstats"])
        memory(c, idle, connected, pre, post)

        st = teardown(c, rig, tel, tpmd)
        forward_accounting(c, rig, st)
        print(f"test_scale: {time.time() - t0:.1f} s in all", flush=True)
        if c.fails:
            print(f"--- testpmd.log\n{rig.tail('testpmd', 6000)}", file=sys.stderr)
    return c.result()


if __name__ == "__main__":
    run_main(main, "test_scale")
