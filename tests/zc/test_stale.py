#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
"""Issue 14 item 4, end to end: a copy-out that fails at a disconnect must
not answer later into the next connection's ring, nor leave a page mapped
for ever. With the simulator's injected failure (`xnb-simctl fault replace
N`: the next N page swaps fail, nothing moves):

1. xnb-hold --stale holds every frame of the guest (aging off,
   copy_threshold 256: all but the smallest frames lend their pages); the
   guest streams the size mix until its ring is full of requests the
   backend cannot answer while their pages are held, then drops its
   connection (`--reconnect`, as Linux netfront on resume) and every
   copy-out at that disconnect fails. xnb-hold checks the held pages are
   still mapped (the simulator's count equals rx_copyout_failed) and read
   the same bytes; the guest got no answer for any of them (its
   outstanding slots aborted, their grants deferred: still in use).
2. Two seconds later the guest connects again on the same port and streams
   the rest while those pages are still held (xnb-hold frees its new
   frames at once); one second in, xnb-hold frees the held frames: their
   pages are unmapped then, with no answer written anywhere. The new
   connection's ring must see only answers to its own requests (the
   netfront's checks: no unknown id, rsp_prod never backwards nor past its
   requests, every frame answered OKAY, no grant still mapped when
   answered), and the deferred grants of the old connection end once the
   backend let go (none leaked at the guest's exit).
3. Once the guest has gone nothing of the domain is mapped (xnb-hold
   checks), and the domain, destroyed, is reaped.

usage: test_stale.py BUILDDIR
"""

import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from xnb_testpmd import Checker, XnbRig, run_main  # noqa: E402

FRAMES = 20000	# 10 s at RATE: the new connection streams for 5 s
RATE = 2000
RECONNECT = "3:2"	# drop the connection 3 s after link up, stay Closed 2 s
RELEASE_MS = 1000	# how long into the new connection the held frames are freed


def wait_for(pred, timeout, step=0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


def main():
    build = sys.argv[1]
    c = Checker("test_stale")
    t0 = time.time()
    with XnbRig(build, "stale") as rig:
        rig.start_sim((1,))
        rig.simctl_run("fault", "replace", 100000)
        hold = rig.start("hold", [
            rig.hold, "-d", rig.pmd, "--no-huge", "-m", "512", "--no-pci", "-l", "0",
            f"--file-prefix={rig.prefix}", "--log-level=pmd.net.xennetback:info",
            "--vdev", f"net_xennetback_1_0,domid=1,platform=sim,sim={rig.sim},"
            "copy_threshold=256,aging_ms=0",
            "--", "--sim", rig.sim, "--domid", "1", "--stale", str(RELEASE_MS)])
        g = rig.start_guest("guest", 1, "gen", "--size", "mix", "--layout", "mix", "--gso",
                            "--csum", "--count", FRAMES, "--rate", RATE, "--reconnect",
                            RECONNECT, "--timeout", 60)
        if not wait_for(lambda: "hold: link down" in rig.tail("hold", 1 << 20), 30):
            raise RuntimeError(f"xnb-hold never saw the connection go:\n{rig.tail('hold')}")
        # The disconnect's copy-outs are done: swaps work again from here.
        rig.simctl_run("fault", "replace", 0)
        held = rig.sim_stats(1)["grants_mapped"]
        print(f"between the connections: dom1 pages mapped {held}", flush=True)
        c.check(held > 0, "no page of the guest mapped after its disconnect")
        g.wait(timeout=90)
        try:
            hold.wait(timeout=30)
        except subprocess.TimeoutExpired:
            c.check(False, "xnb-hold did not end after the guest left")
            hold.kill()
            hold.wait()
        print(rig.tail("hold", 4000), flush=True)
        c.eq(hold.returncode, 0, "xnb-hold's checks (exit status)")
        s = rig.summary("guest", check_ring=False)
        log = rig.tail("guest", 1 << 20)
        m = re.search(r"dropping the connection \((\d+) TX slots outstanding\)", log)
        out = int(m.group(1)) if m else -1
        print(f"guest: sent {s['tx_packets']}, {out} TX slots outstanding when it dropped "
              f"the connection, aborted {s['tx_aborted']}, grants deferred "
              f"{s['grants_deferred']} (leaked {s['grants_leaked']}), reconnects "
              f"{s['reconnects']}, longest TX wait {s['tx_wait_us_max'] / 1000:.1f} ms",
              flush=True)
        c.eq(g.returncode, 0, "guest exit status")
        c.eq(s["tx_packets"], FRAMES, "frames sent")
        c.eq(s["reconnects"], 1, "connections after the first")
        c.check(out > 0, "nothing outstanding when the guest dropped the connection")
        c.eq(s["tx_aborted"], out, "TX slots never answered: those outstanding at the drop")
        c.eq(s["grants_deferred"], held, "grants deferred at the drop vs pages left mapped")
        for k in ("rsp_prod_violations", "tx_errors", "tx_unsupported", "grants_leaked"):
            c.eq(s[k], 0, f"guest {k}")
        c.eq(s["netfront"]["tx_rsp_bad"], 0, "answers with ids not outstanding")
        rig.simctl_run("destroy", 1)
        c.check(wait_for(lambda: rig.sim_stats(1)["state"] == "none", 10),
                f"dom1 not reaped: {rig.sim_stats(1)}")
    print(f"test_stale: {time.time() - t0:.1f} s", flush=True)
    return c.result()


if __name__ == "__main__":
    run_main(main, "test_stale", (RuntimeError, subprocess.TimeoutExpired))
