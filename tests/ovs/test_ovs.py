#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
"""Issue 8's proof that a guest vif is an OVS-DPDK switch port: a private
ovs-vswitchd-dpdk with net_xennetback ports for simulated guests on one
netdev bridge.

  l2      guest 1 (loop) -> br0 -> guest 2 (reflect, MACs swapped) -> br0 ->
          guest 1: 100k verified frames through the normal learning bridge;
          every frame is accounted for (a frame OVS could not hand to a
          guest whose RX ring was full is counted by OVS as a tx drop, and
          nothing else may be lost)
  rule    an OpenFlow rule dropping UDP port 20007 drops all of stream 7
          and nothing of stream 8
  mix     frames of 60 B .. 64 KiB (chained mbufs above the mbuf size) at
          MTU 1500 and 9000: what fits is delivered, the rest is an OVS MTU drop
  offload checksum-offloaded frames cross OVS and verify; TCP GSO frames
          arrive as GSO with userspace TSO on (OVS rewrites their MSS), are
          dropped by OVS with it off
  delport guest 3 sending into vif3.0 while 1 and 2 forward; ovs-vsctl
          del-port vif3.0: guest 3 sees its backend close, the simulator
          shows nothing of guest 3 mapped or bound, and 1 <-> 2 keeps going

usage: test_ovs.py BUILDDIR --tso true|false [--count N] [--phases LIST] [--devargs KV]
"""

import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xnb_ovs import Checker, Ovs, XnbRig, guest_mac, wait_backend_state, xstat  # noqa: E402

A, B, C = 1, 2, 3
# Pace the generator: two cores are shared by OVS's PMD thread, the guests
# and whatever else runs; a guest RX ring (256 slots) that fills makes OVS
# drop, which is accounted for but should stay rare.
RATE = 10000
# Losses must all be explained (counted by OVS); their share depends on how
# much CPU the guests get on a shared machine, so it is only bounded loosely.
MAX_LOSS = 0.25


def delta(after, before):
    return {p: {k: v - before.get(p, {}).get(k, 0) for k, v in s.items()}
            for p, s in after.items()}


def run_loop(rig, ovs, c, name, count, rate, *args, check_verify=True):
    """Guest A in loop mode towards guest B (reflecting): returns A's summary
    and the ports' counter deltas, after checking every frame is accounted
    for: what A sent entered vif1, left vif2 or was dropped there, came
    back into vif2 (B reflects each), left vif1 or was dropped there."""
    pa, pb = str(ovs.ofport(f"vif{A}.0")), str(ovs.ofport(f"vif{B}.0"))
    before = ovs.port_stats()
    b0 = rig.sim_stats(B)
    g = rig.start_guest(name, A, "loop", "--dst-mac", guest_mac(B), "--count", count,
                        "--rate", rate, "--linger", 3, "--timeout", 300, "--quiet", *args)
    g.wait()
    c.eq(g.returncode, 0, f"{name}: guest {A} exit status")
    c.check(ovs.alive(), f"{name}: ovs-vswitchd died")
    s = rig.summary(name)
    d = delta(ovs.settled_port_stats(), before)
    da, db = d[pa], d[pb]
    print(f"{name}: sent {s['tx_packets']}, back {s['rx_packets']} verified "
          f"{s['verified']}; vif{A}.0 rx {da['rx']} tx {da['tx']} drop {da['tx_drop']}; "
          f"vif{B}.0 tx {db['tx']} drop {db['tx_drop']} rx {db['rx']}", flush=True)
    c.eq(s["tx_packets"], count, f"{name}: frames sent")
    for k in ("dups", "tx_errors", "tx_unsupported", "rx_errors"):
        c.eq(s[k], 0, f"{name}: guest {A} {k}")
    if check_verify:
        c.eq(s["verify_errors"], 0, f"{name}: guest {A} verify_errors")
        if s["verify_errors"]:
            print(f"  errors by kind: {s['errors']}", file=sys.stderr)
        c.eq(s["verified"], s["rx_packets"], f"{name}: verified vs received")
    c.eq(da["rx"], s["tx_packets"], f"{name}: vif{A}.0 rx vs guest {A} sent")
    c.eq(da["rx_drop"] + da["rx_errs"] + db["rx_drop"] + db["rx_errs"], 0,
         f"{name}: rx drops/errors")
    c.eq(s["rx_packets"], da["tx"], f"{name}: guest {A} received vs vif{A}.0 tx")
    c.check(rig.sim_stats(B)["op_failed"] == b0["op_failed"],
            f"{name}: failed grant operations on guest {B}'s grants")
    return s, da, db


def phase_l2(rig, ovs, c, n):
    x0 = [ovs.xstats(d) for d in (A, B)]
    s, da, db = run_loop(rig, ovs, c, "l2", n, RATE, "--size", 1514, "--layout", "mix")
    # Which datapath carried the frames: zero copy (guest pages lent to OVS
    # as external mbufs, given back when OVS frees them) or grant copies.
    x1 = [ovs.xstats(d) for d in (A, B)]
    zc = sum(xstat(b, "rx_zerocopy_packets") - xstat(a, "rx_zerocopy_packets")
             for a, b in zip(x0, x1))
    copied = sum(xstat(b, "rx_good_packets_copied") - xstat(a, "rx_good_packets_copied")
                 for a, b in zip(x0, x1))
    print(f"l2: {zc} frames lent zero-copy to OVS, {copied} grant-copied", flush=True)
    if "copy_mode=always" in ovs.extra_devargs:
        c.eq(zc, 0, "l2: zero-copy frames with copy_mode=always")
    else:
        c.check(zc > n, f"l2: only {zc} zero-copy frames in the default copy_mode=lazy")
    c.eq(db["tx"] + db["tx_drop"], da["rx"], "l2: vif2.0 tx + drop vs vif1.0 rx")
    c.eq(da["tx"] + da["tx_drop"], db["rx"], "l2: vif1.0 tx + drop vs vif2.0 rx")
    lost = s["tx_packets"] - s["rx_packets"]
    c.eq(lost, da["tx_drop"] + db["tx_drop"], "l2: frames lost vs OVS tx drops")
    # Frames lost after the last one that came back are not gaps.
    c.check(s["gaps"] <= lost, f"l2: {s['gaps']} gaps but only {lost} frames lost")
    c.check(lost <= MAX_LOSS * n, f"l2: {lost} of {n} frames lost (> {MAX_LOSS:.0%})")
    # Every drop must be a guest RX ring that was full, not an MTU or
    # offload refusal.
    for p in (f"vif{A}.0", f"vif{B}.0"):
        st = ovs.iface_stats(p, settle_tx=ovs.port_stats()[str(ovs.ofport(p))]["tx"])
        c.eq(st.get("tx_dropped", 0), st.get("ovs_tx_failure_drops", 0),
             f"l2: {p} tx drops that are not 'guest ring full'")
        print(f"l2: {p}: tx_dropped {st.get('tx_dropped')}, all ovs_tx_failure_drops "
              f"(the guest's RX ring was full)", flush=True)


def phase_rule(rig, ovs, c, n):
    ovs.ofctl("add-flow", "br0", "priority=100,udp,tp_dst=20007,actions=drop")
    s7, da, db = run_loop(rig, ovs, c, "rule7", n, RATE // 4, "--stream", 7, "--linger", 1)
    c.eq(s7["rx_packets"], 0, "rule: stream 7 frames back (UDP 20007 dropped)")
    c.eq(db["tx"], 0, "rule: stream 7 frames that reached guest 2")
    c.eq(ovs.flow_packets("tp_dst=20007"), n, "rule: n_packets of the drop rule")
    s8, da, db = run_loop(rig, ovs, c, "rule8", n, RATE // 4, "--stream", 8)
    c.eq(s8["rx_packets"] + da["tx_drop"] + db["tx_drop"], n,
         "rule: stream 8 frames back + OVS ring-full drops")
    # Stream 8's only losses may be guest rings that were full (a loaded
    # machine can stall a guest for tens of ms); most must come back.
    c.check(s8["rx_packets"] >= n // 2,
            f"rule: only {s8['rx_packets']} of {n} stream 8 frames back")
    c.eq(ovs.flow_packets("tp_dst=20007"), n, "rule: the drop rule matched stream 8")


def phase_mix(rig, ovs, c, n):
    """Sizes from 60 B to 64 KiB (the PMD chains what exceeds an mbuf),
    first at OVS's default MTU, then with mtu_request=9000 on both ports:
    every frame that fits the MTU must come back verified, every other one
    must be counted by OVS as an MTU drop (or a full guest ring)."""
    for mtu in (1500, 9000):
        if mtu != 1500:
            for d in (A, B):
                ovs.vsctl("set", "Interface", f"vif{d}.0", f"mtu_request={mtu}")
            time.sleep(1)
        name = f"mix{mtu}"
        s, da, db = run_loop(rig, ovs, c, name, n, 2000, "--size", "mix", "--layout", "mix")
        drops = {}
        for p in (f"vif{A}.0", f"vif{B}.0"):
            st = ovs.iface_stats(p, settle_tx=ovs.port_stats()[str(ovs.ofport(p))]["tx"])
            for k in ("ovs_tx_failure_drops", "ovs_tx_mtu_exceeded_drops"):
                drops[k] = drops.get(k, 0) + st.get(k, 0)
            c.eq(st.get("tx_dropped", 0), st.get("ovs_tx_failure_drops", 0) +
                 st.get("ovs_tx_mtu_exceeded_drops", 0),
                 f"{name}: {p} tx drops that are neither MTU nor ring full")
            c.eq(st.get("ovs_tx_invalid_hwol_drops", 0), 0, f"{name}: {p} invalid hwol drops")
        lost = s["tx_packets"] - s["rx_packets"]
        c.eq(lost, da["tx_drop"] + db["tx_drop"], f"{name}: frames lost vs OVS tx drops")
        c.check(drops["ovs_tx_mtu_exceeded_drops"] > 0,
                f"{name}: no frame above the MTU was dropped (the mix has 64 KiB ones)")
        c.check(s["netfront"]["rx_multi_slot"] > 0 or mtu == 1500,
                f"{name}: no frame above 4 KiB came back")
        print(f"{name} (userspace-tso-enable={str(ovs.tso).lower()}): {s['rx_packets']} of "
              f"{n} back verified, {s['netfront']['rx_multi_slot']} of them multi-slot; "
              f"OVS drops {drops}", flush=True)
    for d in (A, B):
        ovs.vsctl("set", "Interface", f"vif{d}.0", "mtu_request=1500")


def phase_offload(rig, ovs, c, n):
    """Frames whose checksum the guest left to the backend (csum_blank, what
    a Linux guest sends by default), and TCP GSO frames (always csum_blank).
    Checksum-offloaded frames must cross OVS and verify whatever the TSO
    setting. GSO frames: with userspace TSO on they must arrive as GSO
    frames; OVS 3.1 rewrites their MSS to mtu - l3_len - l4_len (1460 here,
    the guest sent 1448), which the sink's 'gso' check reports, so that is
    the one error allowed and only for them. With TSO off OVS cannot carry
    them (netdev_send_prepare_drops counts them) and the rest must come back."""
    s, da, db = run_loop(rig, ovs, c, "csum", n, 2000, "--size", 1514, "--csum",
                         "--linger", 1)
    c.eq(s["rx_packets"], n - da["tx_drop"] - db["tx_drop"],
         f"csum: checksum-offloaded frames back (OVS netdev_send_prepare_drops "
         f"{coverage(ovs, 'netdev_send_prepare_drops')})")
    drops0 = coverage(ovs, "netdev_send_prepare_drops")
    s, da, db = run_loop(rig, ovs, c, "gso", n, 2000, "--size", "mix", "--gso", "--csum",
                         "--linger", 1, check_verify=False)
    nf = s["netfront"]
    gso_sent, lost = nf["tx_gso"], da["tx_drop"] + db["tx_drop"]
    prep_drops = coverage(ovs, "netdev_send_prepare_drops") - drops0
    print(f"gso (userspace-tso-enable={str(ovs.tso).lower()}): {gso_sent} GSO frames sent, "
          f"{nf['rx_gso']} back as GSO; {s['rx_packets']} of {n} back, verify errors "
          f"{s['errors']}; OVS netdev_send_prepare_drops +{prep_drops}", flush=True)
    c.check(gso_sent > 0, "gso: the mix sent no GSO frame")
    for k, v in s["errors"].items():
        if k != "gso":
            c.eq(v, 0, f"gso: verify errors of kind {k}")
    if ovs.tso:
        c.eq(s["rx_packets"], n - lost, "gso: frames back (TSO on)")
        c.eq(nf["rx_gso"], gso_sent - lost if lost else gso_sent, "gso: GSO frames back as GSO")
        c.eq(s["errors"]["gso"], nf["rx_gso"], "gso: 'gso' errors (OVS's MSS) vs GSO frames")
    else:
        c.eq(s["rx_packets"], n - gso_sent - lost, "gso: frames back (TSO off: all but GSO)")
        c.eq(nf["rx_gso"], 0, "gso: GSO frames back with TSO off")
        c.eq(s["errors"]["gso"], 0, "gso: 'gso' verify errors")
        # The prepare-drop counter is OVS's only trace of them: once per
        # output port (more than one while guest 2's MAC is not learned).
        c.check(prep_drops >= gso_sent, f"gso: OVS netdev_send_prepare_drops +{prep_drops}, "
                f"fewer than the {gso_sent} GSO frames")


def link_state(ovs, dom):
    return ovs.vsctl("get", "Interface", f"vif{dom}.0", "link_state").strip()


def wait_link_state(ovs, dom, want, timeout=12):
    """OVS refreshes the Interface's link_state about every 5 s."""
    deadline = time.time() + timeout
    while link_state(ovs, dom) != want and time.time() < deadline:
        time.sleep(0.2)
    return link_state(ovs, dom)


def coverage(ovs, counter):
    for line in ovs.appctl("coverage/show").splitlines():
        if line.startswith(counter + " "):
            return int(line.split()[-1])
    return 0


def phase_delport(rig, ovs, c):
    """Guest C sends to guest B through vif3.0 (B's reflections towards C
    are dropped by a rule, so they cannot flood to A once C's MAC is
    forgotten); A <-> B forward meanwhile; vif3.0 is removed mid-stream."""
    ovs.ofctl("add-flow", "br0", f"priority=100,dl_dst={guest_mac(C)},actions=drop")
    ovs.add_port(C)
    pa, pc = str(ovs.ofport(f"vif{A}.0")), str(ovs.ofport(f"vif{C}.0"))
    c.check(wait_backend_state(rig, C, 2, 10) is not None, "delport: vif3.0 never in InitWait")
    g3 = rig.start_guest("g3", C, "gen", "--dst-mac", guest_mac(B), "--rate", 5000,
                         "--duration", 60, "--stall-warn", 1)
    before = ovs.port_stats()
    ga = rig.start_guest("delport", A, "loop", "--dst-mac", guest_mac(B), "--rate",
                         RATE, "--duration", 10, "--linger", 3, "--timeout", 120,
                         "--quiet", "--stream", 11)
    # Both flowing (guests may be slow to start on a busy machine), then a
    # moment of traffic, then the removal.
    deadline = time.time() + 20
    while time.time() < deadline:
        mid = ovs.port_stats()
        if all(mid[p]["rx"] > before.get(p, {}).get("rx", 0) for p in (pa, pc)):
            break
        time.sleep(0.2)
    c.check(mid[pc]["rx"] - before.get(pc, {}).get("rx", 0) > 0,
            "delport: guest 3's frames were not reaching vif3.0 before removal")
    c.check(mid[pa]["rx"] - before.get(pa, {}).get("rx", 0) > 0,
            "delport: guest 1's frames were not reaching vif1.0 before removal")
    time.sleep(1)
    t0 = time.time()
    ovs.vsctl("del-port", "br0", f"vif{C}.0")
    took = time.time() - t0
    print(f"delport: ovs-vsctl del-port vif3.0 took {took:.2f} s", flush=True)
    t_closed = wait_backend_state(rig, C, 6, 10)
    c.check(t_closed is not None, "delport: guest 3's backend never reached Closed (6)")
    after_rm = ovs.port_stats()
    time.sleep(2)
    later = ovs.port_stats()
    c.check(pc not in later, "delport: vif3.0 still on br0")
    c.check(later[pa]["tx"] - after_rm[pa]["tx"] > 0,
            "delport: vif1.0 forwarded nothing in the 2 s after the removal")
    print(f"delport: vif1.0 tx +{later[pa]['tx'] - after_rm[pa]['tx']} in the 2 s after",
          flush=True)
    deadline = time.time() + 10
    while time.time() < deadline:
        sc = rig.sim_stats(C)
        if sc["grants_mapped"] == 0 and sc["evtchn_bound"] == 0:
            break
        time.sleep(0.1)
    c.eq(sc["grants_mapped"], 0, "delport: guest 3's pages still mapped after del-port")
    c.eq(sc["evtchn_bound"], 0, "delport: guest 3's event channels still bound")
    ga.wait()
    s = rig.summary("delport")
    c.eq(ga.returncode, 0, "delport: guest 1 exit status")
    c.eq(s["verify_errors"], 0, "delport: guest 1 verify errors")
    d = delta(ovs.settled_port_stats(), before)
    pb = str(ovs.ofport(f"vif{B}.0"))
    # vif2.0's drops (B's ring full) include guest 3's frames: A's losses
    # are bounded by them, not equal.
    c.check(s["tx_packets"] - s["rx_packets"] <= d[pa]["tx_drop"] + d[pb]["tx_drop"],
            f"delport: guest 1 lost {s['tx_packets'] - s['rx_packets']} frames, more "
            f"than OVS dropped ({d[pa]['tx_drop']} + {d[pb]['tx_drop']})")
    c.check(s["rx_packets"] >= (1 - MAX_LOSS) * s["tx_packets"],
            f"delport: guest 1 got {s['rx_packets']} of {s['tx_packets']} back")
    g3.send_signal(signal.SIGINT)
    g3.wait(timeout=15)
    log3 = rig.tail("g3", 20000)
    c.check("backend Closing" in log3 or "backend Closed" in log3 or "Closed" in log3,
            f"delport: guest 3 did not report its backend closing:\n{log3[-1500:]}")
    c.check(ovs.alive(), "delport: ovs-vswitchd died")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("build")
    ap.add_argument("--tso", choices=("true", "false"), required=True)
    ap.add_argument("--count", type=int, default=100000)
    ap.add_argument("--devargs", default="", help="extra devargs for every port")
    ap.add_argument("--phases", default="l2,rule,mix,delport",
                    help="comma-separated: l2 rule mix delport offload")
    args = ap.parse_args()
    tso = args.tso == "true"
    c = Checker(f"test_ovs (userspace-tso-enable={args.tso})")

    with XnbRig(args.build, "ovs") as rig:
        rig.start_sim((A, B, C))
        ovs = Ovs(rig, tso, devargs=args.devargs)
        try:
            ovs.start()
            for d in (A, B):
                ovs.add_port(d)
            for d in (A, B):
                if wait_backend_state(rig, d, 2, 10) is None:
                    raise RuntimeError(f"vif{d}.0 never reached InitWait")
            for line in ovs.log_has(r"netdev_dpdk\|(WARN|ERR)"):
                print(f"ovs: {line}", flush=True)
            c.eq(link_state(ovs, B), "down", "vif2.0 link before its guest connects")
            refl = rig.start_guest("reflect", B, "reflect", "--duration", 600, "--quiet")
            c.eq(wait_link_state(ovs, B, "up"), "up", "vif2.0 link once guest 2 connected")
            phases = args.phases.split(",")
            for ph in phases:
                if ph == "l2":
                    phase_l2(rig, ovs, c, args.count)
                elif ph == "rule":
                    phase_rule(rig, ovs, c, 2000)
                elif ph == "mix":
                    phase_mix(rig, ovs, c, 2000)
                elif ph == "delport":
                    phase_delport(rig, ovs, c)
                elif ph == "offload":
                    phase_offload(rig, ovs, c, 500)
                else:
                    raise RuntimeError(f"unknown phase {ph}")
            refl.send_signal(signal.SIGINT)
            refl.wait(timeout=15)
            if not c.eq(wait_link_state(ovs, B, "down", 20), "down",
                        "vif2.0 link 20 s after guest 2 left"):
                print(rig.xenstore_ls(f"/local/domain/0/backend/vif/{B}"), file=sys.stderr)
            r = rig.summary("reflect")
            for k in ("tx_errors", "rx_errors", "tx_unsupported"):
                c.eq(r[k], 0, f"guest 2 (reflect) {k}")
        finally:
            if c.fails:
                for name in ("vswitchd", "reflect", "l2", "g3"):
                    print(f"--- {name}.log\n{rig.tail(name)}", file=sys.stderr)
            ovs.stop()
    return c.result()


if __name__ == "__main__":
    sys.exit(main())
