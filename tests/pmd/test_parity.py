#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
"""Issue 17 (parity with Linux netback) and issue 14 item 5, seen from the
guest: the distro dpdk-testpmd in io forwarding between net_xennetback
ports, simulated guests (xnb-guest) on both sides, each phase its own rig.

  hash   a 2-queue receiver sets, on its control ring, Toeplitz hashing of
         every type, the 40-byte RSS key and a 128-entry mapping that is not
         the application's queue choice; a 2-queue sender sends IPv4 TCP
         flows, then IPv6 TCP with GSO (testpmd --rxq=2 --txq=2). Every
         frame must carry the hash the receiver computes itself from the
         frame bytes (its own Toeplitz), on the queue its mapping names;
         both queues carry traffic (the port's per-queue xstats) and frames
         were steered away from the application's queue. Beside it a
         receiver without a control ring gets the same traffic and no hash
         extra, and the hashing receiver, restarted without a control ring,
         gets none either (the settings died with the connection);
         restarted with the IPv4 TCP and IPv6 types only and no mapping,
         IPv4 UDP frames come without a hash, IPv6 UDP frames with the
         address hash on queue hash mod 2.
  csum   issue 14 item 5: senders leave L4 checksums blank (testpmd asks
         for TX checksum offloads, so the frames stay partial to the
         sending port); a receiver that wrote feature-no-csum-offload=1
         gets IPv4 frames, one that withheld feature-ipv6-csum-offload gets
         IPv6 frames then IPv4 frames, one that accepts both gets IPv6
         frames: no csum_blank where it was not accepted (counted by the
         guest as a protocol violation), every checksum verifies, the port
         completed them (tx_csum_completed), and handed them on blank where
         accepted (tx_csum_offloaded).
  mcast  multicast control: a receiver that requested filtering and added
         group M1 gets M1 and broadcast frames, not M2 (dropped and counted
         by the port); one that did not request it gets everything though
         it added M1 too; a filter DEL takes effect; the list goes with the
         connection; the 65th address is refused (Linux's limit of 64).
  rate   the toolstack's rate key (libxl's "bytes,usec", written with
         xenstore-write): a guest limited to 100 Mbit/s and an unlimited one
         stream 1514-byte frames flat out through the same testpmd: the
         limited one's rate over 10 s is within 5 % above the limit and,
         when the machine can carry it (the unlimited guest got at least
         twice the limit), at least 90 % of it; the key changed to
         200 Mbit/s acts at once, without a reconnect; 64 KiB TCP GSO
         frames are limited the same way; the key removed lifts it.
  queues the application polls and sends on 2 queues per port (testpmd
         --rxq=2 --txq=2, queues=2): a 2-queue sender's 16 flows arrive on
         both rx queues and io forwarding sends each on the same tx queue
         number, towards a receiver that took 1 queue: every frame must
         arrive and verify (frames the application sends on a queue the
         guest did not take share the guest's queues), and the sender's
         port really received on both queues.
  stall  rx_stall_ms=1000: a receiver that stops posting RX buffers for 5 s
         while a sender streams at a fixed rate: the port's link goes down
         (telemetry, testpmd's LSC events) about 1 s after its ring ran
         out, frames to it are dropped and counted (tx_dropped_stalled)
         while testpmd keeps receiving from the sender at the sent rate,
         and the link comes back once the receiver posts buffers again,
         frames flowing to it again.

usage: test_parity.py BUILDDIR --phase hash|csum|mcast|rate|queues|stall [--count N]
"""

import argparse
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from xnb_testpmd import Checker, XnbRig, run_main, wait_link, xstat  # noqa: E402

# io forwarding with retry: a receiver that verifies every byte is slower
# than the sender (test_fwd.py says why).
RETRY = ("set fwd io retry", "set burst tx delay 10 retry 1000000")
BCAST = "ff:ff:ff:ff:ff:ff"
M1 = "01:00:5e:00:00:01"
M2 = "01:00:5e:00:00:02"


def wait_for(pred, timeout, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def wait_log(rig, name, text, timeout):
    return wait_for(lambda: text in rig.tail(name, 1 << 20), timeout)


def finish(rig, tel, port, proc, idle=5, limit=120):
    """Waits for a guest that ends at its --count; stops it once its port
    has sent nothing for idle seconds (frames lost: the checks say so)."""
    sent, idle_since, t0 = -1, time.time(), time.time()
    while proc.poll() is None:
        now = tel.get(f"/ethdev/stats,{port}").get("opackets", 0)
        if now != sent:
            sent, idle_since = now, time.time()
        elif time.time() - idle_since > idle or time.time() - t0 > limit:
            proc.send_signal(signal.SIGINT)
            break
        time.sleep(0.2)
    proc.wait()


def guest_clean(c, name, s, n=None):
    """What every receiving guest must show."""
    if n is not None:
        c.eq(s["rx_packets"], n, f"{name}: frames received")
        c.eq(s["verified"], n, f"{name}: frames verified")
    for k in ("verify_errors", "rx_errors", "rx_csum_blank_violations"):
        c.eq(s[k], 0, f"{name}: {k}")
    if s["verify_errors"]:
        print(f"  {name}: errors by kind {s['errors']}", file=sys.stderr)


def sender_clean(c, name, proc, s, n):
    c.eq(proc.returncode, 0, f"{name}: exit status")
    c.eq(s["tx_packets"], n, f"{name}: frames sent")
    for k in ("tx_errors", "tx_unsupported"):
        c.eq(s[k], 0, f"{name}: {k}")


# ---- hash ---------------------------------------------------------------------

MAPPING = "1,0,0,1,1,1,0,0"	# not the application's choice (rx queue q -> tx queue q)


def phase_hash(c, rig, n):
    # The guest's reference first: Toeplitz against the published vectors.
    r = subprocess.run([rig.guest, "--selftest"], capture_output=True, text=True)
    print(r.stdout.strip().splitlines()[-1] if r.stdout.strip() else r.stderr, flush=True)
    c.eq(r.returncode, 0, f"xnb-guest --selftest:\n{r.stdout}{r.stderr}")
    rig.start_sim((1, 2, 3, 4))
    tp, tel = rig.start_testpmd((1, 2, 3, 4), ["--forward-mode=io", "--auto-start",
                                               "--stats-period", "3600", "--rxq=2",
                                               "--txq=2"], RETRY, ",queues=2")
    alive = lambda: tp.poll() is None  # noqa: E731
    runs = (("ipv4-tcp", ["--tcp", "--flows", "16", "--size", "mix"]),
            ("ipv6-tcp-gso", ["--ipv6", "--tcp", "--gso", "--flows", "16", "--size", "mix",
                              "--csum"]))
    total = n * len(runs)
    hs = rig.start_guest("hash-sink", 2, "sink", "--queues", 2, "--hash-types", "all",
                         "--hash-key", "default", "--hash-mapping-size", 128,
                         "--hash-mapping", MAPPING, "--count", total, "--timeout", 100)
    ps = rig.start_guest("plain-sink", 4, "sink", "--queues", 2, "--count", total,
                         "--timeout", 100)
    for p in (1, 3):
        if not wait_link(tel, p, True, 20, alive):
            raise RuntimeError(f"port {p} not up within 20 s")
    if not wait_log(rig, "hash-sink", "control ring: hash set", 15):
        raise RuntimeError(f"the receiver did not set its hash:\n{rig.tail('hash-sink')}")
    for tag, args in runs:
        gens = [rig.start_guest(f"gen{d}-{tag}", d, "gen", "--queues", 2, "--count", n,
                                "--timeout", 60, "--quiet", *args) for d in (1, 3)]
        for d, g in zip((1, 3), gens):
            g.wait()
            sender_clean(c, f"dom{d} {tag}", g, rig.summary(f"gen{d}-{tag}"), n)
        # The next sender must find its port down first.
        for p in (0, 2):
            wait_link(tel, p, False, 15, alive)
    finish(rig, tel, 1, hs)
    finish(rig, tel, 3, ps)
    c.check(alive(), "dpdk-testpmd exited")
    xs = tel.get("/ethdev/xstats,1")
    xp = tel.get("/ethdev/xstats,3")

    s = rig.summary("hash-sink")
    h = s["hash"]
    print(f"hash-sink: {s['rx_packets']} frames, per queue {s['rx_queue']}, hash {h}",
          flush=True)
    guest_clean(c, "hash-sink", s, total)
    c.eq(h["configured"], 1, "hash-sink: settings acknowledged")
    c.eq(h["cfg_errors"], 0, "hash-sink: control-ring requests refused")
    c.eq(h["ok"], total, "hash-sink: frames whose hash extra matched our Toeplitz")
    c.eq(h["steer_ok"], total, "hash-sink: frames on the queue our mapping names")
    for k in ("bad", "missing", "unexpected", "steer_bad", "early"):
        c.eq(h[k], 0, f"hash-sink: hash {k}")
    c.eq(s["netfront"]["rx_hash"], total, "hash-sink: hash extras received")
    c.check(all(q > 0 for q in s["rx_queue"]) and len(s["rx_queue"]) == 2,
            f"hash-sink: both queues carry traffic: {s['rx_queue']}")
    per_q = [xs.get(f"tx_q{q}_bytes_copied", 0) for q in (0, 1)]
    steered = [xs.get(f"tx_q{q}_steered_packets", 0) for q in (0, 1)]
    print(f"port 1: bytes per guest queue {per_q}, steered {steered}", flush=True)
    c.check(all(b > 0 for b in per_q), f"port 1: a guest queue moved nothing: {per_q}")
    c.check(all(x > 0 for x in steered),
            f"port 1: frames steered away from the application's queue: {steered}")
    c.eq(s["netfront"]["rx_gso"] > 0, True, "hash-sink: GSO frames (hash after GSO extra)")

    s = rig.summary("plain-sink")
    print(f"plain-sink: {s['rx_packets']} frames, per queue {s['rx_queue']}", flush=True)
    guest_clean(c, "plain-sink", s, total)
    c.eq(s["backend"]["ctrl_ring"], 1, "plain-sink: the backend offers feature-ctrl-ring")
    c.eq(s["netfront"]["rx_hash"], 0, "plain-sink: hash extras without a control ring")
    c.eq(s["hash"]["unexpected"], 0, "plain-sink: unexpected hash extras")
    c.check(all(q > 0 for q in s["rx_queue"]), f"plain-sink: queues {s['rx_queue']}")
    c.eq(xstat(xp, "tx_steered_packets"), 0, "port 3: frames steered without a hash")

    # The settings go with the connection: the same vif, a new frontend
    # without a control ring, gets no hash extra.
    wait_link(tel, 1, False, 15, alive)
    m = max(n // 4, 100)
    again = rig.start_guest("again-sink", 2, "sink", "--queues", 2, "--count", m,
                            "--timeout", 60)
    if not wait_link(tel, 1, True, 20, alive):
        raise RuntimeError("port 1 not up again")
    g = rig.start_guest("gen1-again", 1, "gen", "--queues", 2, "--count", m, "--timeout", 60,
                        "--quiet", "--tcp", "--flows", 16)
    g.wait()
    finish(rig, tel, 1, again)
    s = rig.summary("again-sink")
    guest_clean(c, "again-sink", s, m)
    c.eq(s["netfront"]["rx_hash"], 0, "again-sink: hash extras left from the last connection")

    # Narrower types and no mapping (hash mod queues): IPv4 UDP frames fall
    # under no type (IPv4 TCP only: no extra, the application's queue),
    # IPv6 UDP frames under the IPv6 address type.
    wait_link(tel, 1, False, 15, alive)
    narrow = rig.start_guest("narrow-sink", 2, "sink", "--queues", 2, "--hash-types",
                             "ipv4-tcp,ipv6", "--count", 2 * m, "--timeout", 60)
    if not wait_link(tel, 1, True, 20, alive):
        raise RuntimeError("port 1 not up again")
    if not wait_log(rig, "narrow-sink", "control ring: hash set", 15):
        raise RuntimeError(f"the receiver did not set its hash:\n{rig.tail('narrow-sink')}")
    for tag, args in (("v4udp", []), ("v6udp", ["--ipv6"])):
        wait_link(tel, 0, False, 15, alive)
        g = rig.start_guest(f"gen1-{tag}", 1, "gen", "--queues", 2, "--count", m,
                            "--timeout", 60, "--quiet", "--flows", 16, *args)
        g.wait()
        sender_clean(c, f"gen1-{tag}", g, rig.summary(f"gen1-{tag}"), m)
    finish(rig, tel, 1, narrow)
    s = rig.summary("narrow-sink")
    h = s["hash"]
    print(f"narrow-sink: {s['rx_packets']} frames, per queue {s['rx_queue']}, hash {h}",
          flush=True)
    guest_clean(c, "narrow-sink", s, 2 * m)
    c.eq(h["none"], m, "narrow-sink: IPv4 UDP frames under no hash type")
    c.eq(h["ok"], m, "narrow-sink: IPv6 UDP frames with the address hash")
    c.eq(h["steer_ok"], m, "narrow-sink: IPv6 frames on queue hash mod 2")
    for k in ("bad", "missing", "unexpected", "steer_bad", "cfg_errors"):
        c.eq(h[k], 0, f"narrow-sink: hash {k}")
    tel.close()


# ---- checksums -------------------------------------------------------------------

def phase_csum(c, rig, n):
    # pairs: (sender, receiver, receiver's options, [sender runs])
    pairs = ((1, 2, ["--no-csum-offload"], [("v4", [])]),
             (3, 4, ["--no-ipv6-csum"], [("v6", ["--ipv6"]), ("v4", [])]),
             (5, 6, [], [("v6", ["--ipv6"])]))
    doms = [d for p in pairs for d in p[:2]]
    rig.start_sim(doms)
    # TX checksum offloads on: frames from a guest stay partial through
    # testpmd (the driver completes them on RX for an application without).
    tp, tel = rig.start_testpmd(doms, ["--forward-mode=io", "--auto-start", "--stats-period",
                                       "3600", "--tx-offloads=0x2c"], RETRY)
    alive = lambda: tp.poll() is None  # noqa: E731
    sinks = {}
    for i, (src, dst, opts, runs) in enumerate(pairs):
        sinks[dst] = rig.start_guest(f"sink{dst}", dst, "sink", "--count", n * len(runs),
                                     "--timeout", 80, *opts)
    for i, (src, dst, opts, runs) in enumerate(pairs):
        if not wait_link(tel, 2 * i + 1, True, 20, alive):
            raise RuntimeError(f"port {2 * i + 1} not up")
    for k in range(2):
        gens = []
        for src, dst, opts, runs in pairs:
            if k < len(runs):
                tag, args = runs[k]
                name = f"gen{src}-{tag}"
                gens.append((name, rig.start_guest(name, src, "gen", "--csum", "--size",
                                                   "mix", "--layout", "mix", "--count", n,
                                                   "--timeout", 60, "--quiet", *args)))
        for name, g in gens:
            g.wait()
            s = rig.summary(name)
            sender_clean(c, name, g, s, n)
            c.eq(s["netfront"]["tx_csum_blank"], n, f"{name}: frames sent with csum_blank")
        for i in range(len(pairs)):
            wait_link(tel, 2 * i, False, 15, alive)
    for i, (src, dst, opts, runs) in enumerate(pairs):
        finish(rig, tel, 2 * i + 1, sinks[dst])
    c.check(alive(), "dpdk-testpmd exited")
    for i, (src, dst, opts, runs) in enumerate(pairs):
        name = f"sink{dst} ({' '.join(opts) or 'both offloads'})"
        s = rig.summary(f"sink{dst}")
        xs = tel.get(f"/ethdev/xstats,{2 * i + 1}")
        blank_ok = sum(n for tag, _ in runs
                       if (tag == "v4" and "--no-csum-offload" not in opts) or
                       (tag == "v6" and "--no-ipv6-csum" not in opts))
        done, off = xstat(xs, "tx_csum_completed"), xstat(xs, "tx_csum_offloaded")
        print(f"{name}: {s['rx_packets']} frames, csum_blank {s['netfront']['rx_csum_blank']}, "
              f"port completed {done} handed on blank {off}", flush=True)
        guest_clean(c, name, s, n * len(runs))
        c.eq(s["netfront"]["rx_csum_blank"], blank_ok, f"{name}: csum_blank frames")
        c.eq(off, blank_ok, f"{name}: port tx_csum_offloaded")
        c.eq(done, n * len(runs) - blank_ok, f"{name}: port tx_csum_completed")
        c.eq(xstat(xs, "tx_dropped_bad_csum"), 0, f"{name}: port tx_dropped_bad_csum")
    tel.close()


# ---- multicast ---------------------------------------------------------------------

def groups(s, mac):
    return s["groups"].get(mac, {"tx": 0, "rx": 0})


def mcast_count(tel, port):
    return tel.get(f"/ethdev/xstats,{port}").get("guest_mcast_addresses", -1)


def phase_mcast(c, rig, n):
    rig.start_sim((1, 2, 3, 4))
    tp, tel = rig.start_testpmd((1, 2, 3, 4), ["--forward-mode=io", "--auto-start",
                                               "--stats-period", "3600"], RETRY)
    alive = lambda: tp.poll() is None  # noqa: E731
    dst = ["--dst-mac", f"{M1},{M2},{BCAST}", "--flows", 3]

    def send(tag, doms):
        gens = [(d, rig.start_guest(f"gen{d}-{tag}", d, "gen", "--count", 3 * n, "--timeout",
                                    60, "--quiet", "--size", "mix", *dst)) for d in doms]
        for d, g in gens:
            g.wait()
            s = rig.summary(f"gen{d}-{tag}")
            sender_clean(c, f"gen{d}-{tag}", g, s, 3 * n)
            for m in (M1, M2, BCAST):
                c.eq(groups(s, m)["tx"], n, f"gen{d}-{tag}: frames to {m}")
            wait_link(tel, (d - 1), False, 15, alive)

    # 1. filtering with M1 subscribed; beside it no filtering, M1 added all the same
    f = rig.start_guest("filter", 2, "sink", "--mcast-ctrl", "--mcast-add", M1,
                        "--count", 2 * n, "--timeout", 80)
    u = rig.start_guest("unfiltered", 4, "sink", "--mcast-add", M1, "--count", 3 * n,
                        "--timeout", 80)
    for p in (1, 3):
        if not wait_link(tel, p, True, 20, alive):
            raise RuntimeError(f"port {p} not up")
    for p in (1, 3):
        c.eq(wait_for(lambda: mcast_count(tel, p) == 1, 10) and 1, 1,
             f"port {p}: guest_mcast_addresses after one MCAST_ADD")
    send("1", (1, 3))
    finish(rig, tel, 1, f)
    finish(rig, tel, 3, u)
    x1, x3 = tel.get("/ethdev/xstats,1"), tel.get("/ethdev/xstats,3")
    s = rig.summary("filter")
    print(f"filter: groups {s['groups']}, port 1 tx_dropped_mcast_filter "
          f"{xstat(x1, 'tx_dropped_mcast_filter')}", flush=True)
    guest_clean(c, "filter", s, 2 * n)
    c.eq(s["backend"]["mcast_ctrl"], 1, "the backend offers feature-multicast-control")
    c.eq(groups(s, M1)["rx"], n, "filter: frames to subscribed M1")
    c.eq(groups(s, M2)["rx"], 0, "filter: frames to M2 (not subscribed)")
    c.eq(groups(s, BCAST)["rx"], n, "filter: broadcast frames")
    c.eq(s["netfront"]["tx_mcast_ok"], 1, "filter: MCAST_ADD answered OKAY")
    c.eq(xstat(x1, "tx_dropped_mcast_filter"), n, "port 1: tx_dropped_mcast_filter")
    c.eq(xstat(x1, "rx_mcast_requests"), 1, "port 1: rx_mcast_requests")
    s = rig.summary("unfiltered")
    print(f"unfiltered: groups {s['groups']}", flush=True)
    guest_clean(c, "unfiltered", s, 3 * n)
    for m in (M1, M2, BCAST):
        c.eq(groups(s, m)["rx"], n, f"unfiltered: frames to {m}")
    c.eq(s["netfront"]["tx_mcast_ok"], 1, "unfiltered: MCAST_ADD answered OKAY")
    c.eq(xstat(x3, "tx_dropped_mcast_filter"), 0, "port 3: tx_dropped_mcast_filter")
    # The list goes with the connection.
    for p in (1, 3):
        wait_link(tel, p, False, 15, alive)
        c.eq(mcast_count(tel, p), 0, f"port {p}: guest_mcast_addresses after the guest left")

    # 2. M1 and M2 added, M1 deleted again: only M2 (and broadcast) through
    f = rig.start_guest("filter-del", 2, "sink", "--mcast-ctrl", "--mcast-add", M1,
                        "--mcast-add", M2, "--mcast-del", f"{M1}@0.5", "--count", 2 * n,
                        "--timeout", 80)
    if not wait_link(tel, 1, True, 20, alive):
        raise RuntimeError("port 1 not up")
    t0 = time.time()
    c.check(wait_for(lambda: time.time() - t0 > 1.5 and mcast_count(tel, 1) == 1, 10),
            f"port 1: guest_mcast_addresses {mcast_count(tel, 1)} after ADD M1, ADD M2, "
            "DEL M1 (want 1)")
    send("2", (1,))
    finish(rig, tel, 1, f)
    s = rig.summary("filter-del")
    print(f"filter-del: groups {s['groups']}", flush=True)
    guest_clean(c, "filter-del", s, 2 * n)
    c.eq(groups(s, M1)["rx"], 0, "filter-del: frames to deleted M1")
    c.eq(groups(s, M2)["rx"], n, "filter-del: frames to M2")
    c.eq(groups(s, BCAST)["rx"], n, "filter-del: broadcast frames")
    c.eq(s["netfront"]["tx_mcast_ok"], 3, "filter-del: ADD, ADD, DEL answered OKAY")
    wait_link(tel, 1, False, 15, alive)

    # 3. the limit: 64 addresses, the 65th refused
    f = rig.start_guest("filter-full", 2, "sink", "--mcast-ctrl", "--mcast-fill", 65,
                        "--duration", 3, "--timeout", 30)
    if not wait_link(tel, 1, True, 20, alive):
        raise RuntimeError("port 1 not up")
    c.check(wait_for(lambda: mcast_count(tel, 1) == 64, 10),
            f"port 1: guest_mcast_addresses {mcast_count(tel, 1)} after 65 ADDs (want 64)")
    f.wait()
    s = rig.summary("filter-full")
    c.eq(s["netfront"]["tx_mcast_ok"], 64, "filter-full: ADDs answered OKAY")
    c.eq(s["netfront"]["tx_mcast_error"], 1, "filter-full: ADDs refused")
    c.check(alive(), "dpdk-testpmd exited")
    tel.close()


# ---- stalled receiver ---------------------------------------------------------------

STALL_MS = 1000


def lsc_events(rig, port):
    return rig.tail("testpmd", 1 << 22).count(f"Port {port}: link state change event")


def phase_stall(c, rig, n):
    rate = 2000
    stop_at, stop_for, length = 3, 5, 14
    rig.start_sim((1, 2))
    tp, tel = rig.start_testpmd((1, 2), ["--forward-mode=io", "--auto-start",
                                         "--stats-period", "3600"],
                                devargs=f",rx_stall_ms={STALL_MS}")
    alive = lambda: tp.poll() is None  # noqa: E731
    sink = rig.start_guest("sink", 2, "sink", "--rx-stop", f"{stop_at}:{stop_for}",
                           "--duration", length, "--timeout", 60)
    if not wait_link(tel, 1, True, 20, alive):
        raise RuntimeError("port 1 not up")
    lsc0 = lsc_events(rig, 1)
    gen = rig.start_guest("gen", 1, "gen", "--rate", rate, "--duration", length + 2,
                          "--size", 1000, "--timeout", 60, "--quiet")
    # A timeline, every 50 ms: link of port 1, port 0 frames in, drops.
    t_stop = t_resume = t_down = t_up = None
    samples = []
    deadline = time.time() + length + 10
    while sink.poll() is None and time.time() < deadline:
        now = time.time()
        log = rig.tail("sink", 1 << 20)
        if t_stop is None and "RX buffers no longer posted" in log:
            t_stop = now
        if t_resume is None and "RX buffers posted again" in log:
            t_resume = now
        up = tel.get("/ethdev/link_status,1").get("status") == "UP"
        if t_stop is not None and t_down is None and not up:
            t_down = now
        if t_down is not None and t_up is None and up:
            t_up = now
        samples.append((now, tel.get("/ethdev/stats,0").get("ipackets", 0),
                        xstat(tel.get("/ethdev/xstats,1"), "tx_dropped_stalled"), up))
        time.sleep(0.05)
    sink.wait()
    gen.wait()
    c.check(alive(), "dpdk-testpmd exited")
    print(f"stall: guest stopped posting at +0, link down at "
          f"{t_down - t_stop if t_down and t_stop else None} s, guest posted again at "
          f"{t_resume - t_stop if t_resume and t_stop else None} s, link up at "
          f"{t_up - t_stop if t_up and t_stop else None} s", flush=True)
    if not c.check(None not in (t_stop, t_resume, t_down, t_up),
                   f"stall: timeline incomplete (stop {t_stop}, down {t_down}, resume "
                   f"{t_resume}, up {t_up})"):
        return
    # The ring's 256 buffers last 0.13 s at this rate; then rx_stall_ms; the
    # tick (10 ms) and our 50 ms sampling on a loaded machine on top.
    c.check(STALL_MS / 1000 <= t_down - t_stop + 0.1 <= STALL_MS / 1000 + 2.5,
            f"stall: link down {t_down - t_stop:.2f} s after the guest stopped posting "
            f"(rx_stall_ms {STALL_MS})")
    c.check(t_up - t_resume <= 2.0, f"stall: link back up {t_up - t_resume:.2f} s after the "
            "guest posted again")
    # Down from then until the guest posted again (its message comes right
    # after it posts: a sample may see the link up a little before it).
    ups = [x[0] - t_stop for x in samples if t_down < x[0] < t_resume - 0.1 and x[3]]
    c.check(not ups, f"stall: link up again while the guest posted nothing (at {ups} s)")
    # While down: the application kept receiving from the sender, the
    # receiver's frames dropped and counted.
    during = [x for x in samples if t_down + 0.3 <= x[0] <= t_resume]
    if c.check(len(during) >= 2, "stall: no samples while the link was down"):
        secs = during[-1][0] - during[0][0]
        got = during[-1][1] - during[0][1]
        drops = during[-1][2] - during[0][2]
        print(f"stall: while down ({secs:.1f} s): port 0 received {got} "
              f"({got / secs:.0f}/s, sent at {rate}/s), port 1 dropped {drops} as stalled",
              flush=True)
        c.check(got >= 0.7 * rate * secs, f"stall: the application took {got / secs:.0f} "
                f"frames/s from the sender while the receiver stalled (sent {rate}/s)")
        c.check(drops >= 0.7 * got, f"stall: {drops} frames counted as dropped of {got} "
                "forwarded to the stalled guest")
    lsc = lsc_events(rig, 1) - lsc0
    c.check(lsc >= 2, f"stall: testpmd saw {lsc} link state change events on port 1 "
            "(want down and up)")
    s = rig.summary("sink")
    g = rig.summary("gen")
    print(f"stall: receiver {s['rx_packets']} frames, gaps {s['gaps']}; sender "
          f"{g['tx_packets']}", flush=True)
    guest_clean(c, "sink", s)
    c.check(s["rx_stopped_s"] >= stop_for - 0.5, f"stall: stopped {s['rx_stopped_s']} s")
    after = [x for x in samples if x[0] >= t_up + 0.5]
    c.check(s["rx_packets"] > rate * (stop_at + 1), "stall: the receiver got little")
    c.check(len(after) == 0 or after[-1][2] == samples[-1][2],
            "stall: drops counted after the link came back")
    tel.close()


# ---- rate limit ------------------------------------------------------------------

RATE_INTERVAL_US = 50000	# libxl's default rate interval


def xs_write(rig, path, value):
    env = dict(os.environ, XENSTORED_PATH=f"{rig.sim}/xenstored.sock")
    cmd = ["xenstore-write", path, value] if value is not None else ["xenstore-rm", path]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")


def measure(tel, ports, secs):
    """Bytes per second each port received over secs (telemetry ibytes)."""
    b0 = [tel.get(f"/ethdev/stats,{p}").get("ibytes", 0) for p in ports]
    t0 = time.time()
    time.sleep(secs)
    b1 = [tel.get(f"/ethdev/stats,{p}").get("ibytes", 0) for p in ports]
    dt = time.time() - t0
    return [(b - a) / dt for a, b in zip(b0, b1)]


def phase_rate(c, rig, n):
    """libxl's rate= (bytes per interval): a limited guest (dom1) and an
    unlimited one (dom3) stream flat out side by side; the limit holds
    within 5 % above and, when the machine carries it, 10 % below; changes
    of the key act at once; a TCP GSO stream is limited the same way."""
    rig.start_sim((1, 2, 3, 4))
    # Plain io (no retry): a slow receiver must not hold up the other pair.
    tp, tel = rig.start_testpmd((1, 2, 3, 4), ["--forward-mode=io", "--auto-start",
                                               "--stats-period", "3600"])
    alive = lambda: tp.poll() is None  # noqa: E731
    key = "/local/domain/0/backend/vif/1/0/rate"
    sinks = [rig.start_guest(f"sink{d}", d, "sink", "--duration", 60, "--timeout", 90,
                             "--quiet") for d in (2, 4)]
    for p in (1, 3):
        if not wait_link(tel, p, True, 20, alive):
            raise RuntimeError(f"port {p} not up")

    def limit(mbit):
        per = int(mbit * 1e6 / 8 * RATE_INTERVAL_US / 1e6)
        xs_write(rig, key, f"{per},{RATE_INTERVAL_US}")
        return per * 1e6 / RATE_INTERVAL_US	# bytes per second

    def judge(tag, want, got, free):
        """got against want (bytes/s); free: what the unlimited guest got."""
        mb = lambda x: x * 8 / 1e6  # noqa: E731
        print(f"rate {tag}: limited guest {mb(got):.1f} Mbit/s for a limit of "
              f"{mb(want):.1f} ({got / want:.3f}); unlimited guest beside it "
              f"{mb(free):.1f} Mbit/s", flush=True)
        c.check(got <= 1.05 * want, f"rate {tag}: {mb(got):.1f} Mbit/s exceeds the limit "
                f"{mb(want):.1f} by more than 5 %")
        # The machine could carry more than the limit if the unlimited
        # guest, sharing the same cores and testpmd, got twice as much.
        if free >= 2 * want:
            c.check(got >= 0.90 * want, f"rate {tag}: only {mb(got):.1f} Mbit/s of "
                    f"{mb(want):.1f} while the unlimited guest got {mb(free):.1f}")
        else:
            print(f"rate {tag}: NOTE: the lower bound is not judged: the unlimited "
                  f"guest got only {mb(free):.1f} Mbit/s (under twice the limit): this "
                  "machine is too busy to show it", flush=True)

    want = limit(100)
    gens = [rig.start_guest(f"gen{d}", d, "gen", "--size", 1514, "--duration", 17,
                            "--timeout", 60, "--quiet") for d in (1, 3)]
    for p in (0, 2):
        if not wait_link(tel, p, True, 20, alive):
            raise RuntimeError(f"port {p} not up")
    conn0 = xstat(tel.get("/ethdev/xstats,0"), "guest_connects")
    time.sleep(1)		# past the first window's burst
    got, free = measure(tel, (0, 2), 10)
    judge("100 Mbit/s, 1514-byte UDP, 10 s", want, got, free)
    # A change takes effect without a reconnect.
    want = limit(200)
    time.sleep(0.5)
    got, free = measure(tel, (0, 2), 5)
    judge("changed to 200 Mbit/s, 5 s", want, got, free)
    for g in gens:
        g.wait(timeout=60)
    x0 = tel.get("/ethdev/xstats,0")
    c.eq(xstat(x0, "guest_connects"), conn0, "port 0: connects while the key changed")
    c.check(xstat(x0, "rx_rate_limited") > 0, "port 0: rx_rate_limited never counted")
    c.eq(xstat(tel.get("/ethdev/xstats,2"), "rx_rate_limited"), 0,
         "port 2 (no rate key): rx_rate_limited")
    for d in (1, 3):
        s = rig.summary(f"gen{d}")
        c.eq(s["reconnects"], 0, f"gen{d}: reconnects")
        c.eq(s["tx_errors"], 0, f"gen{d}: tx_errors")
    for p in (0, 2):
        wait_link(tel, p, False, 15, alive)

    # TCP with GSO, 64 KiB frames, at 200 Mbit/s; then the key removed.
    gens = [rig.start_guest(f"tcp{d}", d, "gen", "--size", 65535, "--gso", "--duration", 10,
                            "--timeout", 60, "--quiet") for d in (1, 3)]
    for p in (0, 2):
        if not wait_link(tel, p, True, 20, alive):
            raise RuntimeError(f"port {p} not up")
    time.sleep(1)
    got, free = measure(tel, (0, 2), 5)
    judge("200 Mbit/s, 64 KiB TCP GSO, 5 s", want, got, free)
    xs_write(rig, key, None)
    time.sleep(0.5)
    got, free = measure(tel, (0, 2), 3)
    print(f"rate: key removed: {got * 8 / 1e6:.1f} Mbit/s (unlimited guest "
          f"{free * 8 / 1e6:.1f})", flush=True)
    c.check(got > 1.5 * want or free < 3 * want,
            f"rate: {got * 8 / 1e6:.1f} Mbit/s with the key removed (limit was "
            f"{want * 8 / 1e6:.1f})")
    for g in gens:
        g.wait(timeout=60)
    for sk in sinks:
        sk.send_signal(signal.SIGINT)
        sk.wait(timeout=30)
    for d in (2, 4):
        s = rig.summary(f"sink{d}")
        guest_clean(c, f"sink{d}", s)
    c.check(alive(), "dpdk-testpmd exited")
    tel.close()


# ---- queues -------------------------------------------------------------------

def phase_queues(c, rig, n):
    rig.start_sim((1, 2))
    tp, tel = rig.start_testpmd((1, 2), ["--forward-mode=io", "--auto-start",
                                         "--stats-period", "3600", "--rxq=2", "--txq=2"],
                                RETRY, ",queues=2")
    alive = lambda: tp.poll() is None  # noqa: E731
    sink = rig.start_guest("one-queue-sink", 2, "sink", "--count", n, "--timeout", 100)
    if not wait_link(tel, 1, True, 20, alive):
        raise RuntimeError("port 1 not up within 20 s")
    g = rig.start_guest("two-queue-gen", 1, "gen", "--queues", 2, "--tcp", "--flows", 16,
                        "--size", "mix", "--count", n, "--timeout", 60, "--quiet")
    g.wait()
    sender_clean(c, "two-queue-gen", g, rig.summary("two-queue-gen"), n)
    finish(rig, tel, 1, sink)
    c.check(alive(), "dpdk-testpmd exited")
    x0 = tel.get("/ethdev/xstats,0")
    per_q = [xstat(x0, f"rx_q{q}_packets") for q in (0, 1)]
    print(f"port 0: received per queue {per_q}", flush=True)
    c.check(all(p > 0 for p in per_q), f"port 0: both rx queues carried frames: {per_q}")
    s = rig.summary("one-queue-sink")
    c.eq(len(s["rx_queue"]), 1, "one-queue-sink: queues taken")
    guest_clean(c, "one-queue-sink", s, n)


PHASES = {"hash": (phase_hash, 10000), "csum": (phase_csum, 10000),
          "mcast": (phase_mcast, 3000), "stall": (phase_stall, 0), "rate": (phase_rate, 0),
          "queues": (phase_queues, 20000)}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--phase", choices=PHASES, required=True)
    ap.add_argument("--count", type=int, default=0)
    args = ap.parse_args()
    fn, n = PHASES[args.phase]
    c = Checker(f"test_parity {args.phase}")
    t0 = time.time()
    with XnbRig(args.build, f"par{args.phase}") as rig:
        try:
            fn(c, rig, args.count or n)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            c.check(False, str(e))
        finally:
            print(f"test_parity {args.phase}: {time.time() - t0:.1f} s", flush=True)
            if c.fails:
                for f in sorted(os.listdir(rig.work)):
                    if f.endswith(".log"):
                        print(f"--- {f}\n{rig.tail(f[:-4], 2500)}", file=sys.stderr)
    return c.result()


if __name__ == "__main__":
    run_main(main, "test_parity", (RuntimeError, subprocess.TimeoutExpired))
