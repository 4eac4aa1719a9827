#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
"""Guests that come and go under traffic while one dpdk-testpmd keeps
running: dom1 runs xnb-guest in loop mode (mixed sizes, GSO, checksum
offload) against testpmd's io forwarding on one port looped to itself.

Restarts (default): the guest is restarted RESTARTS times, ended
alternately by SIGTERM mid-traffic and by its own --duration, its frontend
going Closed each time. Every run must bring the port's link up and then
down (telemetry), verify cleanly, fail no grant operation and leave no
grant held by the backend; at the end testpmd must have printed the LSC
events, every grant and event channel between dom0 and dom1 must be
released (the simulator's counts back to 0), and the last run must still
carry verified traffic.

Vanish (--vanish N): N times, the guest's domain is destroyed under
traffic and its vif directories removed, as xl destroy does; the backend
must let go of the dead domain (it is reaped) and serve the domain
re-created with the same id and a new guest.

usage: test_restart.py BUILDDIR [--restarts N | --vanish N] [--copy-mode always|lazy]
"""

import argparse
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from xnb_testpmd import Checker, XnbRig, reap, run_main, wait_link, xstat  # noqa: E402

RUN_SECONDS = 0.5	# traffic per run, however it ends
TRAFFIC = ("--size", "mix", "--gso", "--csum", "--layout", "mix",
           "--linger", "0.5", "--timeout", "60")


def released(c, rig, when):
    """Nothing of dom1's may stay mapped or bound once its guest is gone."""
    d0, d1 = rig.sim_stats(0), rig.sim_stats(1)
    c.eq(d1["grants_mapped"], 0, f"dom1 pages mapped by dom0 {when}")
    c.eq(d1["evtchn_bound"], 0, f"dom1 event channels bound {when}")
    c.eq(d0["evtchn_bound"], 0, f"dom0 event channels bound {when}")


def stop(g):
    g.send_signal(signal.SIGTERM)
    reap(g, 30)


def one_run(c, rig, tel, alive, name, by_signal, what):
    """One guest from start to exit with its link going up and down; its
    summary, or None when it could not run. Its log is shown if it failed."""
    fails = c.fails
    s = guest_run(c, rig, tel, alive, name, by_signal, what)
    if c.fails > fails:
        print(f"--- {name}.log\n{rig.tail(name)}", file=sys.stderr)
    return s


def guest_run(c, rig, tel, alive, name, by_signal, what):
    failed_before = rig.sim_stats(0)["op_failed"]
    g = rig.start_guest(name, 1, "loop", *TRAFFIC,
                        *([] if by_signal else ["--duration", RUN_SECONDS]))
    if not c.check(wait_link(tel, 0, True, 15, alive),
                   f"{what}: link did not come up within 15 s"):
        print(rig.xenstore_ls("/local/domain/0/backend/vif/1") +
              rig.xenstore_ls("/local/domain/1/device/vif/0"), file=sys.stderr)
        stop(g)
        return None
    if by_signal:
        time.sleep(RUN_SECONDS)
        g.send_signal(signal.SIGTERM)
    try:
        g.wait(timeout=60)
    except subprocess.TimeoutExpired:
        c.check(False, f"{what}: xnb-guest did not exit")
        stop(g)
        return None
    c.eq(g.returncode, 0, f"{what}: xnb-guest exit status")
    if not c.check(wait_link(tel, 0, False, 15, alive),
                   f"{what}: link did not go down within 15 s of the guest leaving"):
        return None
    s = rig.summary(name)
    c.check(s["tx_packets"] > 0 and s["verified"] > 0,
            f"{what}: no traffic (tx {s['tx_packets']}, verified {s['verified']})")
    for k in ("verify_errors", "rx_errors", "tx_errors", "grants_leaked", "reconnects"):
        c.eq(s[k], 0, f"{what}: {k}")
    if s["verify_errors"]:
        print(f"  {what}: errors by kind: {s['errors']}", file=sys.stderr)
    c.eq(rig.sim_stats(0)["op_failed"] - failed_before, 0,
         f"{what}: dom0 grant operations failed")
    return s


def restarts(c, rig, tel, alive, n):
    totals = {"tx_packets": 0, "rx_packets": 0, "verified": 0}
    s = None
    t0 = time.time()
    for i in range(n + 1):
        by_signal = i % 2 == 1 and i != n
        s = one_run(c, rig, tel, alive, f"guest{i}", by_signal,
                    f"run {i} ({'SIGTERM' if by_signal else 'duration'})")
        if s is None or not c.check(alive(), f"run {i}: dpdk-testpmd exited"):
            return
        for k in totals:
            totals[k] += s[k]
    print(f"test_restart: {n + 1} runs in {time.time() - t0:.1f} s, guest tx "
          f"{totals['tx_packets']} rx {totals['rx_packets']} verified "
          f"{totals['verified']}", flush=True)
    c.check(s["verified"] > 0, "traffic did not resume after the last restart")

    st = tel.get("/ethdev/stats,0")
    xs = tel.get("/ethdev/xstats,0")
    c.check(st.get("ipackets", 0) >= totals["verified"],
            f"port 0 rx-packets {st.get('ipackets')} < frames the guests "
            f"verified {totals['verified']}")
    c.check(st.get("opackets", 0) >= totals["rx_packets"],
            f"port 0 tx-packets {st.get('opackets')} < frames the guests got "
            f"{totals['rx_packets']}")
    for k in ("ierrors", "oerrors"):
        c.eq(st.get(k), 0, f"port 0 {k}")
    for k in ("rx_bad_requests", "guest_fatal_errors", "rx_copy_errors",
              "tx_copy_errors"):
        c.eq(xstat(xs, k), 0, f"port 0 xstat {k}")
    released(c, rig, "after the restarts")


def vanish(c, rig, tel, alive, n):
    for i in range(n):
        what = f"vanish {i}"
        g = rig.start_guest(f"vanish{i}", 1, "loop", *TRAFFIC)
        if not c.check(wait_link(tel, 0, True, 15, alive),
                       f"{what}: link did not come up"):
            stop(g)
            return
        time.sleep(RUN_SECONDS)
        # Copies in flight may fail now: that is the guest's loss.
        rig.simctl_run("destroy", 1)
        rig.simctl_run("vif-remove", 1, 0)
        c.check(wait_link(tel, 0, False, 15, alive),
                f"{what}: link did not go down within 15 s of the domain's destruction")
        deadline = time.time() + 15
        while rig.sim_stats(1)["state"] != "none" and time.time() < deadline:
            time.sleep(0.1)
        d1 = rig.sim_stats(1)
        c.eq(d1["state"], "none", f"{what}: dom1 not reaped (pages still mapped: "
             f"{d1['grants_mapped']})")
        c.eq(rig.sim_stats(0)["evtchn_bound"], 0, f"{what}: dom0 event channels bound")
        stop(g)
        rig.simctl_run("create", 1, "--mem", 8192)
        rig.simctl_run("vif-add", 1, 0)
        if one_run(c, rig, tel, alive, f"reborn{i}", False,
                   f"{what}: the re-created dom1") is None:
            return
        released(c, rig, f"{what}: after the re-created domain's guest left")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--restarts", type=int, default=50)
    mode.add_argument("--vanish", type=int, default=0)
    ap.add_argument("--copy-mode", default="always",
                    help="net_xennetback copy_mode devarg (always: issue 4's copy mode)")
    args = ap.parse_args()
    c = Checker("test_restart")

    with XnbRig(args.build, "restart") as rig:
        rig.start_sim((1,))
        tpmd, tel = rig.start_testpmd((1,), ["--forward-mode=io", "--port-topology=loop",
                                             "--auto-start", "--stats-period", "3600"],
                                      devargs=f",copy_mode={args.copy_mode}")
        alive = lambda: tpmd.poll() is None  # noqa: E731
        if args.vanish:
            vanish(c, rig, tel, alive, args.vanish)
            ups = args.vanish * 2
        else:
            restarts(c, rig, tel, alive, args.restarts)
            ups = args.restarts + 1
        tel.close()

        tpmd.send_signal(signal.SIGINT)
        try:
            tpmd.wait(timeout=30)
        except subprocess.TimeoutExpired:
            c.check(False, "dpdk-testpmd did not exit on SIGINT")
        c.eq(tpmd.returncode, 0, "dpdk-testpmd exit status")
        with open(rig.log("testpmd"), errors="replace") as f:
            lsc = f.read().count("Port 0: link state change event")
        print(f"test_restart: testpmd printed {lsc} LSC events", flush=True)
        c.check(lsc >= 2 * ups, f"{lsc} LSC events from testpmd, want >= {2 * ups} "
                f"(an up and a down per guest)")
        if c.fails:
            print(f"--- testpmd.log\n{rig.tail('testpmd', 6000)}", file=sys.stderr)
    return c.result()


if __name__ == "__main__":
    run_main(main, "test_restart")
