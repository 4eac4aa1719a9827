#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
"""Issue 4's end-to-end proof in copy mode (copy_mode=always): the distro
dpdk-testpmd with two net_xennetback ports in io forwarding, guest dom1
generating mixed frames (60 B .. 64 KiB, TCP GSO, checksum offload, linear
and scattered slots) into port 0, guest dom2 sinking them from port 1.
Every frame must arrive and verify, the guests' counts and testpmd's must
match exactly, the grant copies must be batched (one hypercall per burst
that moved packets, about one per 32 packets, in the driver's xstats and
in the simulator's own count), and nothing may stay mapped or bound once
the guests are gone.

usage: test_fwd.py BUILDDIR [--count N]
"""

import argparse
import math
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from xnb_testpmd import Checker, XnbRig, run_main, wait_link, xstat  # noqa: E402

# The sink verifies every byte and is slower than the generator: when its
# RX ring is full the driver's tx_burst takes fewer packets and io forwarding
# would drop the rest. testpmd's io "retry" mode gives the backpressure a
# lossless run needs (up to 10 us x 1000000 per burst: 10 s, for a sink
# starved of CPU on a loaded machine; 1 s lost frames once).
TESTPMD_CMDS = ("set fwd io retry", "set burst tx delay 10 retry 1000000")
BURST = 32
# At most this many grant-copy hypercalls per burst's worth of packets.
BATCH_LIMIT = 2.0


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("build")
    ap.add_argument("--count", type=int, default=1000000)
    args = ap.parse_args()
    n = args.count
    c = Checker("test_fwd")

    with XnbRig(args.build, "fwd") as rig:
        rig.start_sim((1, 2))
        tpmd, tel = rig.start_testpmd((1, 2), ["--forward-mode=io", "--auto-start",
                                               "--stats-period", "3600"], TESTPMD_CMDS,
                                  ",copy_mode=always")
        alive = lambda: tpmd.poll() is None  # noqa: E731
        timeout = str(max(120, n // 2000))
        # Event-driven: a spinning sink competes with testpmd and the
        # generator for the two cores and was slower here.
        sink = rig.start_guest("sink", 2, "sink", "--count", n, "--timeout", timeout)
        if not wait_link(tel, 1, True, 15, alive):
            raise RuntimeError("port 1 (dom2 sink) did not come up within 15 s")
        gen_args = ["--size", "mix", "--gso", "--csum", "--layout", "mix",
                    "--count", n, "--timeout", timeout]
        t0 = time.time()
        gen = rig.start_guest("gen", 1, "gen", *gen_args)
        gen.wait()
        # The sink ends at its count; if frames were lost it would wait for
        # ever: stop it once port 1 has sent nothing for a few seconds.
        sent, idle_since = -1, time.time()
        while sink.poll() is None:
            now_sent = tel.get("/ethdev/stats,1").get("opackets", 0)
            if now_sent != sent:
                sent, idle_since = now_sent, time.time()
            elif time.time() - idle_since > 5:
                sink.send_signal(signal.SIGINT)
                sink.wait()
                break
            time.sleep(0.2)
        secs = time.time() - t0
        c.check(alive(), "dpdk-testpmd exited during the run")

        st = [tel.get(f"/ethdev/stats,{p}") for p in (0, 1)]
        xs = [tel.get(f"/ethdev/xstats,{p}") for p in (0, 1)]
        g, s = rig.summary("gen"), rig.summary("sink")
        print(f"test_fwd: {n} frames, {g['tx_bytes'] / 1e9:.2f} GB in {secs:.1f} s "
              f"(gen {g['tx_mpps']:.3f} Mpps {g['tx_gbps']:.2f} Gbit/s)", flush=True)

        c.eq(gen.returncode, 0, "gen exit status")
        c.eq(sink.returncode, 0, "sink exit status")
        c.eq(g["tx_packets"], n, "gen tx_packets")
        for k in ("tx_errors", "tx_unsupported", "tx_aborted"):
            c.eq(g[k], 0, f"gen {k}")
        c.eq(s["rx_packets"], n, "sink rx_packets")
        c.eq(s["verified"], n, "sink verified")
        for k in ("verify_errors", "gaps", "dups", "reordered", "rx_errors"):
            c.eq(s[k], 0, f"sink {k}")
        if s["verify_errors"]:
            print(f"  sink errors by kind: {s['errors']}", file=sys.stderr)
        c.eq(st[0].get("ipackets"), n, "testpmd port 0 rx-packets")
        c.eq(st[1].get("opackets"), n, "testpmd port 1 tx-packets")
        c.eq(st[0].get("ibytes"), g["tx_bytes"], "port 0 rx-bytes vs gen tx_bytes")
        c.eq(st[1].get("obytes"), s["rx_bytes"], "port 1 tx-bytes vs sink rx_bytes")
        c.eq(st[1].get("ipackets"), 0, "port 1 rx-packets (the sink sends nothing)")
        for p in (0, 1):
            for k in ("imissed", "ierrors", "oerrors", "rx_nombuf"):
                c.eq(st[p].get(k), 0, f"port {p} {k}")

        # Batching: grant-copy hypercalls per 32 packets, each direction.
        rx_pkts = xstat(xs[0], "rx_good_packets_copied")
        rx_hc = xstat(xs[0], "rx_hypercalls_copy")
        tx_hc = xstat(xs[1], "tx_hypercalls_copy")
        c.eq(rx_pkts, n, "port 0 xstat rx_good_packets_copied")
        for what, hc, pkts, busy in (
                ("rx (guest TX -> port 0)", rx_hc, rx_pkts, xstat(xs[0], "rx_bursts_busy")),
                ("tx (port 1 -> guest RX)", tx_hc, st[1].get("opackets", 0),
                 xstat(xs[1], "tx_bursts_busy"))):
            bursts = math.ceil(pkts / BURST)
            ratio = hc / bursts if bursts else float("inf")
            per_busy = hc / busy if busy else float("inf")
            print(f"test_fwd: {what}: {hc} grant-copy hypercalls for {pkts} packets "
                  f"= {ratio:.2f} per {BURST} packets; {busy} bursts moved packets "
                  f"= {per_busy:.2f} hypercalls each", flush=True)
            c.check(0 < hc and ratio <= BATCH_LIMIT,
                    f"{what}: {ratio:.2f} grant-copy hypercalls per {BURST} packets, "
                    f"want <= {BATCH_LIMIT}")
            c.check(per_busy <= BATCH_LIMIT,
                    f"{what}: {per_busy:.2f} grant-copy hypercalls per burst that moved "
                    f"packets, want <= {BATCH_LIMIT}")
        for p in (0, 1):
            for k in ("rx_bad_requests", "rx_copy_errors", "guest_fatal_errors",
                      "tx_copy_errors", "tx_dropped_too_big",
                      "tx_dropped_bad_gso", "tx_dropped_no_sg"):
                c.eq(xstat(xs[p], k), 0, f"port {p} xstat {k}")
        c.check(xstat(xs[0], "rx_gso_packets") > 0, "port 0 saw no GSO packets")
        c.eq(xstat(xs[1], "tx_gso_packets"), xstat(xs[0], "rx_gso_packets"),
             "GSO packets out of port 1 vs into port 0")
        # The simulator counts every dom0 grant-copy call: the xstats must agree.
        d0 = rig.sim_stats(0)
        c.eq(d0["hc_copy"], sum(xstat(x, "rx_hypercalls_copy") +
                                xstat(x, "tx_hypercalls_copy") for x in xs),
             "simulator dom0 hc_copy vs the ports' *_hypercalls_copy")
        c.eq(d0["op_failed"], 0, "simulator dom0 failed grant operations")
        tel.close()

        # Guests gone: the driver must have let go of their rings and channels.
        deadline = time.time() + 10
        while time.time() < deadline:
            left = [rig.sim_stats(d) for d in (0, 1, 2)]
            if not any(x["grants_mapped"] or x["evtchn_bound"] for x in left):
                break
            time.sleep(0.1)
        for d, x in zip((0, 1, 2), left):
            c.eq(x["grants_mapped"], 0, f"dom{d} grants still mapped after the guests left")
            c.eq(x["evtchn_bound"], 0, f"dom{d} event channels still bound after the guests left")
        if c.fails:
            for name in ("testpmd", "gen", "sink"):
                print(f"--- {name}.log\n{rig.tail(name)}", file=sys.stderr)
    return c.result()


if __name__ == "__main__":
    run_main(main, "test_fwd")
