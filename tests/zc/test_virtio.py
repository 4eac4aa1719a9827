#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
"""A port that cannot take lent pages turns zero copy off (docs/lifetime.md,
"IOVA"): virtio_user, DPDK's exception path and container port, hands its
backend (vhost-net, a vhost-user process) buffer addresses from a memory
table that holds DPDK's own memory only, so a lent guest page never arrives.
On real Xen a zero-copy guest's large frames to dom0 through virtio_user on
vhost-net all vanished (the xen suite's parity:dom0 scenario).

Here: a vhost-user server (a second testpmd, net_vhost, rxonly) and the
testpmd under test with a zero-copy port (copy_mode=lazy, copy_threshold
256) io-forwarding to virtio_user on that socket. The guest sends FRAMES
frames of 4000 bytes (lent, were zero copy on). Checks: the port logs why
it stopped lending, lends nothing (rx_zerocopy_packets 0) and copies every
frame (rx_copied_dma_unsafe), and the vhost-user side receives every frame
virtio_user sent (before the rule knew virtio_user, all 3000 frames were
lent, virtio_user's ring filled after 65 and the vhost-user side received
none). Then the virtio_user port is detached (testpmd's port detach) and
the next guest's AFTER frames are lent again.

usage: test_virtio.py BUILDDIR
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from xnb_testpmd import Checker, Telemetry, XnbRig, reap, run_main, xstat  # noqa: E402

FRAMES = 3000
AFTER = 500


def settle(get, timeout):
    """get() once it stops changing (or at the timeout)."""
    last, t_end = None, time.time() + timeout
    while time.time() < t_end:
        now = get()
        if now == last:
            return now
        last = now
        time.sleep(1)
    return last


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    args = ap.parse_args()
    c = Checker("test_virtio")
    with XnbRig(args.build, "virtio") as rig:
        rig.start_sim((1,))
        sock = f"{rig.work}/vhost.sock"
        srv_prefix = rig.prefix + "srv"
        srv = rig.start("vhost", [
            "dpdk-testpmd", "--no-huge", "-m", "256", "--no-pci",
            "-l", "0-1", f"--file-prefix={srv_prefix}", "--vdev", f"net_vhost0,iface={sock}",
            "--", "--forward-mode=rxonly", "--total-num-mbufs=8192", "-a",
            "--stats-period", "3600"])
        srv_tel = Telemetry(srv_prefix, lambda: srv.poll() is None)
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        tp, tel = rig.start_testpmd(
            (1,), ["--forward-mode=io", "-a", "--tx-offloads=0x8000", "--max-pkt-len=9018"],
            devargs=",copy_mode=lazy,copy_threshold=256",
            eal=("--vdev", f"virtio_user0,path={sock}"), interactive=True)
        g = rig.start_guest("guest", 1, "gen", "--size", 4000, "--layout", "scatter",
                            "--count", FRAMES, "--rate", 2000, "--timeout", 60, "--quiet")
        reap(g, 90)
        xs = settle(lambda: tel.get("/ethdev/xstats,0"), 10)
        sent = settle(lambda: tel.get("/ethdev/stats,1").get("opackets", 0), 10)
        got = settle(lambda: srv_tel.get("/ethdev/stats,0").get("ipackets", 0), 10)
        rx = tel.get("/ethdev/stats,0").get("ipackets", 0)
        print(f"  port 0 received {rx}, lent {xstat(xs, 'rx_zerocopy_packets')}, copied for "
              f"the virtio_user port {xstat(xs, 'rx_copied_dma_unsafe')}; virtio_user sent "
              f"{sent}, the vhost-user side received {got}", flush=True)
        c.eq(g.returncode, 0, "guest exit status")
        c.eq(rx, FRAMES, "frames port 0 received")
        c.eq(xstat(xs, "rx_zerocopy_packets"), 0, "frames lent with a virtio_user port present")
        c.eq(xstat(xs, "rx_copied_dma_unsafe"), FRAMES,
             "frames copied because of the virtio_user port")
        # What virtio_user could not queue (its ring full) testpmd drops;
        # what it sent must all arrive.
        c.check(sent >= FRAMES // 2, f"virtio_user sent {sent} frames of {FRAMES}")
        c.eq(got, sent, "frames the vhost-user side received of those virtio_user sent")
        c.check("zero copy off: virtio_user0" in rig.tail("testpmd", 1 << 20),
                "the port logs why it stopped lending")

        # The virtio_user port goes (detached): the port lends again.
        zc0 = xstat(xs, "rx_zerocopy_packets")
        tp.stdin.write(b"stop\nport stop 1\nport close 1\nport detach 1\nstart\n")
        tp.stdin.flush()
        for _ in range(100):
            if "zero copy on" in rig.tail("testpmd", 1 << 20) or tp.poll() is not None:
                break
            time.sleep(0.1)
        c.check("zero copy on" in rig.tail("testpmd", 1 << 20),
                "the port logs that it lends again once virtio_user0 is gone")
        g = rig.start_guest("guest2", 1, "gen", "--size", 4000, "--layout", "scatter",
                            "--count", AFTER, "--rate", 2000, "--timeout", 60, "--quiet")
        reap(g, 90)
        lent = settle(lambda: xstat(tel.get("/ethdev/xstats,0"), "rx_zerocopy_packets"), 10) - zc0
        print(f"  after the detach: {lent} of {AFTER} frames lent", flush=True)
        c.eq(g.returncode, 0, "second guest exit status")
        c.eq(lent, AFTER, "frames lent once virtio_user0 is gone")
        tel.close()
        srv_tel.close()
        for p in (tp, srv):
            p.send_signal(2)
            reap(p, 20)
    return c.result()


if __name__ == "__main__":
    run_main(main, "test_virtio", (RuntimeError, subprocess.TimeoutExpired))
