#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
"""Issue 15: an application gets the frames it asked for. The distro
dpdk-testpmd (--max-pkt-len=65535, rxonly, `set verbose 1`: one line per
packet with its length and nb_segs) with one net_xennetback port, first
without --enable-scatter, then with it; guest dom1 sends the size mix (60 B
to 64 KiB, jumbo frames among them), then the mix with GSO (frames above
1514 B are TCP GSO up to 64 KiB).

  without scatter  every frame testpmd prints has nb_segs=1; zero copy never
                   happens (rx_zerocopy_packets 0), every frame counts as
                   rx_linear_packets, each larger than testpmd's mbufs as
                   rx_linear_extbuf_packets; the driver says so once in the
                   log; a frame it cannot hand over as one segment may only
                   be refused (counted as an rx error), never chained
  with scatter     nothing refused; frames larger than an mbuf are chains
                   (nb_segs > 1), the rest one segment; zero copy happens
                   (default copy_threshold) and nothing is linear-only

In both, the lengths testpmd printed are exactly the lengths the guest sent
(the mix is deterministic), less only refused frames.

usage: test_scatter.py BUILDDIR [--count N]
"""

import argparse
import collections
import os
import re
import shutil
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from xnb_testpmd import Checker, XnbRig, reap, wait_link, xstat  # noqa: E402
from xnb_ovs import mix_size  # noqa: E402

# testpmd's default mbufs (mbuf-size 2176): 2048 bytes of data room.
ROOM = 2048
# The longest frame one buffer can carry with RTE_PKTMBUF_HEADROOM in front
# (an mbuf's buf_len is 16 bits).
LINEAR_MAX = 65535 - 128
# testpmd's verbose line per packet (app/test-pmd/util.c, dump_pkt_burst).
PKT_RE = re.compile(r" - length=(\d+) - nb_segs=(\d+)")
NOTICE = "RX scatter not enabled"


def run(rig, c, scatter, n, rate):
    tag = "scatter" if scatter else "linear"
    tpmd, tel = rig.start_testpmd((1,), ["--forward-mode=rxonly", "--stats-period", "3600"],
                                  ("set verbose 1",), scatter=scatter)
    alive = lambda: tpmd.poll() is None  # noqa: E731
    sent = collections.Counter()
    try:
        for gso in (False, True):
            name = f"{tag}-{'gso' if gso else 'mix'}"
            g = rig.start_guest(name, 1, "gen", "--size", "mix", "--layout", "mix",
                                "--count", n, "--rate", rate, "--timeout", 120, "--quiet",
                                *(["--gso"] if gso else []))
            if not wait_link(tel, 0, True, 15, alive):
                raise RuntimeError(f"{name}: port 0 not up within 15 s")
            g.wait()
            s = rig.summary(name)
            c.eq(g.returncode, 0, f"{name}: guest exit status")
            c.eq(s["tx_packets"], n, f"{name}: frames sent")
            if gso:
                c.check(s["netfront"]["tx_gso"] > 0, f"{name}: no GSO frame sent")
            sent.update(mix_size(i) for i in range(n))
            # The next run's guest must find the link down first, or it
            # would start before the port saw this one leave.
            if not wait_link(tel, 0, False, 15, alive):
                raise RuntimeError(f"{name}: port 0 still up 15 s after the guest left")
        # Settled: everything the guest sent is received or refused.
        deadline = time.time() + 15
        while time.time() < deadline:
            st = tel.get("/ethdev/stats,0")
            if st.get("ipackets", 0) + st.get("ierrors", 0) >= 2 * n:
                break
            time.sleep(0.2)
        xs = tel.get("/ethdev/xstats,0")
        c.check(alive(), f"{tag}: dpdk-testpmd exited during the run")
    finally:
        tel.close()
        if tpmd.poll() is None:
            tpmd.send_signal(signal.SIGINT)
        reap(tpmd, 20)
        shutil.rmtree(f"/var/run/dpdk/{rig.prefix}", ignore_errors=True)
    with open(rig.log("testpmd"), errors="replace") as f:
        log = f.read()
    os.replace(rig.log("testpmd"), rig.log(f"testpmd-{tag}"))
    pkts = [(int(a), int(b)) for a, b in PKT_RE.findall(log)]
    got = collections.Counter(length for length, _ in pkts)
    missing, extra = sent - got, got - sent
    segs = collections.Counter(nb for _, nb in pkts)
    zc, linear, extbuf = (xstat(xs, k) for k in ("rx_zerocopy_packets", "rx_linear_packets",
                                                "rx_linear_extbuf_packets"))
    print(f"{tag}: {sum(sent.values())} frames sent, {len(pkts)} printed by testpmd "
          f"(nb_segs: {dict(sorted(segs.items()))}), ipackets {st.get('ipackets')}, "
          f"ierrors {st.get('ierrors')}; xstats: rx_linear_packets {linear}, "
          f"rx_linear_extbuf_packets {extbuf}, rx_zerocopy_packets {zc}; not delivered: "
          f"{dict(sorted(missing.items()))}", flush=True)
    c.eq(len(pkts), st.get("ipackets"), f"{tag}: packets testpmd printed vs ipackets")
    c.eq(dict(extra), {}, f"{tag}: lengths received that the guest did not send")
    c.eq(sum(missing.values()), st.get("ierrors", 0),
         f"{tag}: frames not delivered vs the port's rx errors")
    c.eq(st.get("imissed", 0) + st.get("rx_nombuf", 0), 0, f"{tag}: imissed + rx_nombuf")
    notices = log.count(NOTICE)
    if not scatter:
        c.eq([p for p in pkts if p[1] != 1][:5], [], f"{tag}: frames with nb_segs != 1")
        # Only a frame one buffer with the full headroom cannot hold may be
        # refused (the ethdev contract allows no chain here).
        c.eq({k: v for k, v in missing.items() if k <= LINEAR_MAX}, {},
             f"{tag}: frames up to {LINEAR_MAX} B not delivered")
        c.eq(zc, 0, f"{tag}: rx_zerocopy_packets")
        c.eq(linear, len(pkts), f"{tag}: rx_linear_packets vs frames delivered")
        c.eq(extbuf, sum(1 for length, _ in pkts if length > ROOM),
             f"{tag}: rx_linear_extbuf_packets vs frames above {ROOM} B")
        c.eq(notices, 1, f"{tag}: log lines '{NOTICE}' (once per port)")
    else:
        c.eq(dict(missing), {}, f"{tag}: frames not delivered")
        c.eq([p for p in pkts if (p[1] > 1) != (p[0] > ROOM)][:5], [],
             f"{tag}: frames whose nb_segs does not follow their length (chains exactly "
             f"above {ROOM} B)")
        c.check(zc > 0, f"{tag}: no zero-copy frame with scatter enabled")
        c.eq(linear, 0, f"{tag}: rx_linear_packets with scatter enabled")
        c.eq(notices, 0, f"{tag}: log lines '{NOTICE}'")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("build")
    ap.add_argument("--count", type=int, default=400)
    ap.add_argument("--rate", type=int, default=400)
    args = ap.parse_args()
    c = Checker("test_scatter")
    with XnbRig(args.build, "scatter") as rig:
        rig.start_sim((1,))
        try:
            for scatter in (False, True):
                run(rig, c, scatter, args.count, args.rate)
        except RuntimeError as e:
            c.check(False, str(e))
        if c.fails:
            for name in ("testpmd-linear", "testpmd-scatter", "testpmd"):
                print(f"--- {name}.log\n{rig.tail(name, 2000)}", file=sys.stderr)
    return c.result()


if __name__ == "__main__":
    sys.exit(main())
