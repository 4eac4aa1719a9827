#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
"""Guest restarts under traffic, the frontend going Closed and reconnecting
each time while one dpdk-testpmd keeps running: dom1 runs xnb-guest in loop
mode (mixed sizes, GSO, checksum offload) against testpmd's io forwarding
on one port looped to itself. The guest is restarted RESTARTS times, ended
alternately by SIGTERM mid-traffic and by its own --duration. Each time the
port's link must go up and then down (telemetry) and the run must verify
cleanly and leave no grant held by the backend; at the end testpmd must
have printed the LSC events, every grant and event channel between dom0 and
dom1 must be released (simulator counts back to 0), and the last run must
still carry verified traffic. Then the guest's domain is destroyed under
traffic: the backend must release it (the domain is reaped) and serve the
domain re-created with the same id.

usage: test_restart.py BUILDDIR [--restarts N]
"""

import argparse
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xnb_testpmd import Checker, XnbRig, wait_link, xstat  # noqa: E402

RUN_SECONDS = 0.5	# traffic per run, however it ends


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("build")
    ap.add_argument("--restarts", type=int, default=50)
    args = ap.parse_args()
    c = Checker("test_restart")
    runs = args.restarts + 1

    with XnbRig(args.build, "restart") as rig:
        rig.start_sim((1,))
        tpmd, tel = rig.start_testpmd((1,), ["--forward-mode=io", "--port-topology=loop",
                                             "--auto-start", "--stats-period", "3600"])
        alive = lambda: tpmd.poll() is None  # noqa: E731
        traffic = ["--size", "mix", "--gso", "--csum", "--layout", "mix",
                   "--linger", "0.5", "--timeout", "60"]
        totals = {"tx_packets": 0, "rx_packets": 0, "verified": 0}
        last = None
        t0 = time.time()
        for i in range(runs):
            by_signal = i % 2 == 1 and i != runs - 1
            name = f"guest{i}"
            extra = [] if by_signal else ["--duration", RUN_SECONDS]
            g = rig.start_guest(name, 1, "loop", *traffic, *extra)
            if not c.check(wait_link(tel, 0, True, 15, alive),
                           f"run {i}: link did not come up within 15 s"):
                break
            if by_signal:
                time.sleep(RUN_SECONDS)
                g.send_signal(signal.SIGTERM)
            try:
                g.wait(timeout=60)
            except subprocess.TimeoutExpired:
                c.check(False, f"run {i}: xnb-guest did not exit")
                break
            c.eq(g.returncode, 0, f"run {i}: xnb-guest exit status")
            if not c.check(wait_link(tel, 0, False, 15, alive),
                           f"run {i}: link did not go down within 15 s of the guest leaving"):
                break
            s = rig.summary(name)
            for k in totals:
                totals[k] += s[k]
            how = "SIGTERM" if by_signal else "duration"
            c.check(s["tx_packets"] > 0 and s["verified"] > 0,
                    f"run {i} ({how}): no traffic (tx {s['tx_packets']}, "
                    f"verified {s['verified']})")
            for k in ("verify_errors", "rx_errors", "tx_errors", "grants_leaked"):
                c.eq(s[k], 0, f"run {i} ({how}): {k}")
            if s["verify_errors"]:
                print(f"  run {i} errors by kind: {s['errors']}", file=sys.stderr)
            c.eq(s["reconnects"], 0, f"run {i}: reconnects within one run")
            last = s
            if not c.check(alive(), f"run {i}: dpdk-testpmd exited"):
                break
        secs = time.time() - t0
        print(f"test_restart: {runs} runs in {secs:.1f} s, guest tx {totals['tx_packets']} "
              f"rx {totals['rx_packets']} verified {totals['verified']}", flush=True)
        c.check(last is not None and last["verified"] > 0,
                "traffic did not resume after the last restart")

        # The guest vanishing mid-traffic (xl destroy): the backend must let go
        # of the dead domain's pages so it is reaped, and serve the domain
        # that is created next with the same domid.
        g = rig.start_guest("vanish", 1, "loop", *traffic)
        if c.check(wait_link(tel, 0, True, 15, alive), "vanish: link did not come up"):
            time.sleep(RUN_SECONDS)
            rig.simctl_run("destroy", 1)
            c.check(wait_link(tel, 0, False, 15, alive),
                    "vanish: link did not go down within 15 s of the domain's destruction")
            deadline = time.time() + 15
            while rig.sim_stats(1)["state"] != "none" and time.time() < deadline:
                time.sleep(0.1)
            d1 = rig.sim_stats(1)
            c.eq(d1["state"], "none", "vanish: dom1 not reaped (its pages still mapped "
                 f"{d1['grants_mapped']})")
            g.send_signal(signal.SIGTERM)
            try:
                g.wait(timeout=30)
            except subprocess.TimeoutExpired:
                g.kill()
            rig.simctl_run("create", 1, "--mem", 8192)
            rig.simctl_run("vif-add", 1, 0)
            g = rig.start_guest("reborn", 1, "loop", *traffic, "--duration", RUN_SECONDS)
            if c.check(wait_link(tel, 0, True, 15, alive),
                       "reborn: link did not come up for the re-created dom1"):
                g.wait(timeout=60)
                s = rig.summary("reborn")
                c.check(s["verified"] > 0 and s["verify_errors"] == 0,
                        f"reborn: verified {s['verified']}, verify_errors "
                        f"{s['verify_errors']}, want > 0 and 0")
                c.check(wait_link(tel, 0, False, 15, alive),
                        "reborn: link did not go down after the guest left")

        st = tel.get("/ethdev/stats,0")
        xs = tel.get("/ethdev/xstats,0")
        c.check(st.get("ipackets", 0) >= totals["verified"] > 0,
                f"port 0 rx-packets {st.get('ipackets')} < frames the guests "
                f"verified {totals['verified']}")
        c.check(st.get("opackets", 0) >= totals["rx_packets"],
                f"port 0 tx-packets {st.get('opackets')} < frames the guests got "
                f"{totals['rx_packets']}")
        for k in ("ierrors", "oerrors"):
            c.eq(st.get(k), 0, f"port 0 {k}")
        for k in ("rx_bad_requests", "rx_fatal_errors", "rx_copy_errors",
                  "tx_copy_errors", "tx_bad_requests"):
            c.eq(xstat(xs, k), 0, f"port 0 xstat {k}")
        tel.close()

        # Nothing of dom1's may stay mapped or bound once it is gone.
        d0, d1 = rig.sim_stats(0), rig.sim_stats(1)
        c.eq(d1["grants_mapped"], 0, "dom1 pages still mapped by dom0")
        c.eq(d1["evtchn_bound"], 0, "dom1 event channels still bound")
        c.eq(d0["evtchn_bound"], 0, "dom0 event channels still bound")
        c.eq(d0["op_failed"], 0, "dom0 failed grant operations")

        tpmd.send_signal(signal.SIGINT)
        try:
            tpmd.wait(timeout=30)
        except subprocess.TimeoutExpired:
            c.check(False, "dpdk-testpmd did not exit on SIGINT")
        c.eq(tpmd.returncode, 0, "dpdk-testpmd exit status")
        with open(rig.log("testpmd"), errors="replace") as f:
            out = f.read()
        lsc = out.count("Port 0: link state change event")
        print(f"test_restart: testpmd printed {lsc} LSC events", flush=True)
        c.check(lsc >= 2 * runs, f"{lsc} LSC events from testpmd, want >= {2 * runs} "
                f"(an up and a down per run)")
        if c.fails:
            print(f"--- testpmd.log\n{rig.tail('testpmd')}", file=sys.stderr)
            print(f"--- guest{i}.log\n{rig.tail(f'guest{i}')}", file=sys.stderr)
    return c.result()


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RuntimeError as e:
        print(f"FAIL: test_restart: {e}", file=sys.stderr)
        sys.exit(1)
