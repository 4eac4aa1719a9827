#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
"""Issue 8's proof that a guest vif is an OVS-DPDK switch port, and issue
15's that OVS gets frames it can handle: a private ovs-vswitchd-dpdk with
net_xennetback ports for simulated guests on one netdev bridge.

  l2      guest 1 (loop) -> br0 -> guest 2 (reflect, MACs swapped) -> br0 ->
          guest 1: 100k verified frames through the normal learning bridge;
          every frame is accounted for (a frame OVS could not hand to a
          guest whose RX ring was full is counted by OVS as a tx drop, and
          nothing else may be lost); OVS did not enable RX scatter, so
          every frame is one segment and none is zero copy
  rule    an OpenFlow rule dropping UDP port 20007 drops all of stream 7
          and nothing of stream 8
  mix     frames of 60 B .. 64 KiB at MTU 1500 and 9000: what fits is
          delivered, the rest is an OVS MTU drop (or refused by the driver:
          too long for one buffer); at 9000 OVS enables RX scatter if the
          port advertises it (rx_scatter=1): chains, else single segments
  vlan    a flow table that pushes VLAN 101 on guest 1's frames and pops
          it on the way back, with TOS and MAC rewrites: the size mix, and
          the mix with GSO; every frame back verified, every loss one that
          OVS counted, exactly as predicted from each frame's length
  vxlan   the same through a VXLAN tunnel between two underlay bridges of
          the same ovs-vswitchd (encapsulated and decapsulated in OVS)
  offload checksum-offloaded frames cross OVS and verify; TCP GSO frames
          arrive as GSO with userspace TSO on (OVS rewrites their MSS), are
          dropped by OVS with it off
  delport guest 3 sending into vif3.0 while 1 and 2 forward; ovs-vsctl
          del-port vif3.0: guest 3 sees its backend close, the simulator
          shows nothing of guest 3 mapped or bound, and 1 <-> 2 keeps going

usage: test_ovs.py BUILDDIR --tso true|false [--count N] [--len-count N] [--phases LIST]
                   [--devargs KV]
environment: XNB_OVS_FULL=1 adds the vlan and vxlan phases to any run that
lacks them (the ovs suite's full matrix, tests/ovs/meson.build)
"""

import argparse
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from xnb_ovs import (Checker, Ovs, XnbRig, guest_mac, mix_size, wait_backend_state,  # noqa: E402
                     xstat)

A, B, C = 1, 2, 3
# Pace the generator: two cores are shared by OVS's PMD thread, the guests
# and whatever else runs; a guest RX ring (256 slots) that fills makes OVS
# drop, which is accounted for but should stay rare.
RATE = 10000
# Losses must all be explained (counted by OVS); their share depends on how
# much CPU the guests get on a shared machine, so it is only bounded loosely.
MAX_LOSS = 0.25
SCATTER = 0x2000  # RTE_ETH_RX_OFFLOAD_SCATTER
# The length phases' OpenFlow rules carry this cookie and go with the phase.
LEN_COOKIE = "0x15"
# What guest 1's frames look like on the way to guest 2 in the vlan phase.
REWRITE_MAC = "02:00:00:00:15:01"
# OVS drops that are in no port's statistics, only in coverage counters.
OVS_COVERAGE = ("netdev_send_prepare_drops", "netdev_push_header_drops")
# The longest frame a single-segment mbuf can carry with RTE_PKTMBUF_HEADROOM
# in front (buf_len is 16 bits): OVS pushes VLAN tags and tunnel headers into
# the headroom and aborts (dp_packet_resize: OVS_NOT_REACHED for DPDK mbufs)
# when it is short.
LINEAR_MAX = 65535 - 128  # RTE_PKTMBUF_HEADROOM
# xnb-guest's largest frame that is not GSO (NF_FRAME_MTU_LEN).
NF_FRAME_MTU_LEN = 1514


def delta(after, before):
    return {p: {k: v - before.get(p, {}).get(k, 0) for k, v in s.items()}
            for p, s in after.items()}


def run_loop(rig, ovs, c, name, count, rate, *args, check_verify=True, driver_drops=False):
    """Guest A in loop mode towards guest B (reflecting): returns A's summary
    and the ports' counter deltas, after checking every frame is accounted
    for: what A sent entered vif1, left vif2 or was dropped there, came
    back into vif2 (B reflects each), left vif1 or was dropped there.
    driver_drops: frames the driver may refuse (counted as the port's rx
    errors, answered to the guest as errors); the caller checks how many."""
    pa, pb = str(ovs.ofport(f"vif{A}.0")), str(ovs.ofport(f"vif{B}.0"))
    before = ovs.port_stats()
    b0 = rig.sim_stats(B)
    g = rig.start_guest(name, A, "loop", "--dst-mac", guest_mac(B), "--count", count,
                        "--rate", rate, "--linger", 3, "--timeout", 300, "--quiet", *args)
    while g.poll() is None and ovs.alive():
        time.sleep(0.1)
    if not ovs.alive():
        g.send_signal(signal.SIGINT)
        g.wait(timeout=30)
        rc = ovs.vswitchd.returncode
        raise RuntimeError(f"{name}: ovs-vswitchd died (exit status {rc}) while guest {A} "
                           f"was sending" + (
                               " (SIGABRT: OVS aborts in dp_packet_resize when it must push "
                               "a header into a DPDK mbuf that lacks the headroom; "
                               "docs/ovs.md)" if rc == -signal.SIGABRT else ""))
    c.eq(g.returncode, 0, f"{name}: guest {A} exit status")
    s = rig.summary(name)
    d = delta(ovs.settled_port_stats(), before)
    da, db = d[pa], d[pb]
    print(f"{name}: sent {s['tx_packets']}, back {s['rx_packets']} verified "
          f"{s['verified']}; vif{A}.0 rx {da['rx']} tx {da['tx']} drop {da['tx_drop']}; "
          f"vif{B}.0 tx {db['tx']} drop {db['tx_drop']} rx {db['rx']}", flush=True)
    c.eq(s["tx_packets"], count, f"{name}: frames sent")
    for k in ("dups", "tx_unsupported", "rx_errors") + (() if driver_drops else ("tx_errors",)):
        c.eq(s[k], 0, f"{name}: guest {A} {k}")
    if check_verify:
        c.eq(s["verify_errors"], 0, f"{name}: guest {A} verify_errors")
        if s["verify_errors"]:
            print(f"  errors by kind: {s['errors']}", file=sys.stderr)
        c.eq(s["verified"], s["rx_packets"], f"{name}: verified vs received")
    if driver_drops:
        # The guest counts error responses per slot, not per frame.
        c.eq(s["tx_errors"] > 0, da["rx_errs"] > 0, f"{name}: guest {A} saw error "
             f"responses ({s['tx_errors']}) iff vif{A}.0 counted rx errors "
             f"({da['rx_errs']})")
        c.eq(da["rx_drop"] + db["rx_drop"], 0, f"{name}: rx drops")
    else:
        c.eq(da["rx_drop"] + da["rx_errs"] + db["rx_drop"] + db["rx_errs"], 0,
             f"{name}: rx drops/errors")
    c.eq(da["rx"] + (da["rx_errs"] if driver_drops else 0), s["tx_packets"],
         f"{name}: vif{A}.0 rx vs guest {A} sent")
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

    def dx(name):
        return sum(xstat(b, name) - xstat(a, name) for a, b in zip(x0, x1))
    zc, copied, linear = (dx("rx_zerocopy_packets"), dx("rx_good_packets_copied"),
                          dx("rx_linear_packets"))
    print(f"l2: {zc} frames lent zero-copy to OVS, {copied} grant-copied, {linear} "
          f"delivered as single segments", flush=True)
    # Zero copy hands a frame over as a chain (a private header mbuf, then
    # the lent guest pages), and the driver makes chains only for an
    # application that enabled RX scatter. OVS 3.1 enables it only above
    # MTU 1500 (and must not get chains at all: it cannot take them), so
    # at MTU 1500 every frame is copied into one mbuf, whatever copy_mode
    # and copy_threshold say.
    c.eq(zc, 0, "l2: zero-copy frames (OVS did not enable RX scatter)")
    c.eq(linear, da["rx"] + db["rx"], "l2: single-segment frames vs frames OVS received")
    for d in (A, B):
        c.eq(ovs.port_info(d).get("rx_offloads", 0) & SCATTER, 0,
             f"l2: RX scatter configured on vif{d}.0 at MTU 1500")
    c.eq(db["tx"] + db["tx_drop"], da["rx"], "l2: vif2.0 tx + drop vs vif1.0 rx")
    c.eq(da["tx"] + da["tx_drop"], db["rx"], "l2: vif1.0 tx + drop vs vif2.0 rx")
    lost = s["tx_packets"] - s["rx_packets"]
    c.eq(lost, da["tx_drop"] + db["tx_drop"], "l2: frames lost vs OVS tx drops")
    # Frames lost after the last one that came back are not gaps.
    c.check(s["gaps"] <= lost, f"l2: {s['gaps']} gaps but only {lost} frames lost")
    c.check(lost <= MAX_LOSS * n, f"l2: {lost} of {n} frames lost (> {MAX_LOSS:.0%})")
    # Every drop must be a guest RX ring that was full, not an MTU or
    # offload refusal.
    for p, d in ((f"vif{A}.0", da), (f"vif{B}.0", db)):
        c.eq(d["tx_drop"], d.get("ovs_tx_failure_drops"),
             f"l2: {p} tx drops that are not 'guest ring full'")
    print(f"l2: tx drops {da['tx_drop']} + {db['tx_drop']}, all ovs_tx_failure_drops "
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


def scatter_advertised(ovs):
    return "rx_scatter=0" not in ovs.extra_devargs


def set_mtu(ovs, mtu):
    """mtu_request on both guest ports; OVS reconfigures (stops, configures,
    starts) a port whose MTU changes, which is when it decides on RX
    scatter."""
    if not ovs.set_mtu([f"vif{d}.0" for d in (A, B)], mtu):
        raise RuntimeError(f"vif1.0 and vif2.0 not running at MTU {mtu} after 120 s")
    time.sleep(1)


def segments(ovs, c, name, x0, da, db, mtu, x1=None):
    """What the ports handed OVS since x0 (xstats of A and B): single
    segments (rx_linear_packets) or chains (zero copy among them). OVS 3.1
    enables RX scatter on a port above MTU 1500 if the port advertises it;
    the driver advertises it unless rx_scatter=0 (what app/xnb-vif-ovs
    sets), and without scatter every frame is one segment."""
    x1 = x1 or {d: ovs.xstats(d) for d in (A, B)}

    def dx(k):
        return sum(xstat(x1[d], k) - xstat(x0[d], k) for d in (A, B))
    frames = da["rx"] + db["rx"]
    zc, linear, extbuf = (dx("rx_zerocopy_packets"), dx("rx_linear_packets"),
                          dx("rx_linear_extbuf_packets"))
    scatter = [bool(ovs.port_info(d).get("rx_offloads", 0) & SCATTER) for d in (A, B)]
    print(f"{name}: OVS configured RX scatter {scatter} (advertised: "
          f"{scatter_advertised(ovs)}); of {frames} frames {linear} single-segment "
          f"({extbuf} in a buffer of their own), {zc} zero copy", flush=True)
    want = mtu > 1500 and scatter_advertised(ovs)
    c.eq(scatter, [want, want], f"{name}: RX scatter as configured by OVS on vif1.0, vif2.0")
    c.eq(dx("rx_linear_nomem"), 0, f"{name}: rx_linear_nomem")
    if want:
        c.eq(linear, 0, f"{name}: single-segment-only frames with scatter on")
        if "copy_mode=always" not in ovs.extra_devargs:
            c.check(zc > 0, f"{name}: no zero-copy frame with scatter on")
    else:
        c.eq(zc, 0, f"{name}: zero-copy frames without RX scatter")
        c.eq(linear, frames, f"{name}: single-segment frames vs frames OVS received")
    return x1


def phase_mix(rig, ovs, c, n):
    """Sizes from 60 B to 64 KiB, first at OVS's default MTU, then with
    mtu_request=9000 on both ports: every frame that fits the MTU must come
    back verified, every other one must be counted by OVS as an MTU drop
    (or a full guest ring), or refused by the driver (longer than a single
    buffer can be). At MTU 9000 OVS enables RX scatter on ports that
    advertise it (rx_scatter=1, the driver's default): chains, zero copy
    above copy_threshold; with rx_scatter=0 single segments only."""
    for mtu in (1500, 9000):
        if mtu != 1500:
            set_mtu(ovs, mtu)
        name = f"mix{mtu}"
        pred = predict(ovs, "l2", n, mtu, False)
        x0 = {d: ovs.xstats(d) for d in (A, B)}
        s, da, db = run_loop(rig, ovs, c, name, n, 2000, "--size", "mix", "--layout", "mix",
                             driver_drops=pred["driver"] > 0)
        x1 = segments(ovs, c, name, x0, da, db, mtu)
        check_drops(c, name, s, da, db, pred, x0, x1)
        c.check(s["netfront"]["rx_multi_slot"] > 0 or mtu == 1500,
                f"{name}: no frame above 4 KiB came back")
        print(f"{name} (userspace-tso-enable={str(ovs.tso).lower()}): {s['rx_packets']} of "
              f"{n} back verified, {s['netfront']['rx_multi_slot']} of them multi-slot; "
              f"predicted {pred}", flush=True)
    set_mtu(ovs, 1500)


def check_drops(c, name, s, da, db, pred, x0, x1, cov=None):
    """Every frame guest 1 sent and did not get back was dropped where
    predict() says, by OVS (and counted) or by the driver (counted), or
    was a guest ring that was full when OVS sent (the only drop the
    prediction cannot know)."""
    for p, d in ((f"vif{A}.0", da), (f"vif{B}.0", db)):
        c.eq(d["tx_drop"], d["ovs_tx_failure_drops"] + d["ovs_tx_mtu_exceeded_drops"],
             f"{name}: {p} tx drops that are neither MTU nor ring full")
        c.eq(d["ovs_tx_invalid_hwol_drops"], 0, f"{name}: {p} invalid hwol drops")
    c.eq(da["ovs_tx_mtu_exceeded_drops"] + db["ovs_tx_mtu_exceeded_drops"], pred["mtu"],
         f"{name}: OVS MTU drops vs frames above the MTU")
    if cov is not None:
        c.eq(cov["netdev_send_prepare_drops"], pred["prepare"],
             f"{name}: netdev_send_prepare_drops (GSO frames, userspace TSO off)")
        c.eq(cov["netdev_push_header_drops"], pred["push"],
             f"{name}: netdev_push_header_drops (GSO frames into the tunnel)")
    c.eq(da["rx_errs"] + db["rx_errs"], pred["driver"],
         f"{name}: frames the driver refused (longer than {LINEAR_MAX} B, no RX scatter)")
    ring = da["ovs_tx_failure_drops"] + db["ovs_tx_failure_drops"]
    c.eq(s["rx_packets"], pred["back"] - ring,
         f"{name}: frames back (predicted {pred}, less {ring} guest-ring-full drops)")
    # A chain OVS broke (a length change written into its first segment
    # only) is dropped by the driver's TX, not corrupted: it must not happen.
    bad = sum(xstat(x1[d], "tx_dropped_bad_chain") - xstat(x0[d], "tx_dropped_bad_chain")
              for d in (A, B))
    c.eq(bad, 0, f"{name}: broken chains from OVS (tx_dropped_bad_chain)")
    c.eq(xstat(x1[A], "rx_linear_extbuf_packets") - xstat(x0[A], "rx_linear_extbuf_packets"),
         pred["extbuf"], f"{name}: vif{A}.0 frames in a buffer of their own (larger than "
         f"OVS's mbufs)")
    return ring


def phase_offload(rig, ovs, c, n):
    """Frames whose checksum the guest left to the backend (csum_blank, what
    a Linux guest sends by default), and TCP GSO frames (always csum_blank).
    Checksum-offloaded frames must cross OVS and verify whatever the TSO
    setting. GSO frames: with userspace TSO on they must arrive as GSO
    frames; OVS 3.1 rewrites their MSS to mtu - l3_len - l4_len (1460 here,
    the guest sent 1448), which the sink's 'gso' check reports, so that is
    the one error allowed and only for them. With TSO off OVS cannot carry
    them (netdev_send_prepare_drops counts them) and the rest must come back.
    The GSO frames too long for one buffer with the mbuf headroom are
    refused by the driver (OVS did not enable RX scatter at MTU 1500)."""
    s, da, db = run_loop(rig, ovs, c, "csum", n, 2000, "--size", 1514, "--csum",
                         "--linger", 1)
    c.eq(s["rx_packets"], n - da["tx_drop"] - db["tx_drop"],
         f"csum: checksum-offloaded frames back (OVS netdev_send_prepare_drops "
         f"{ovs.coverage('netdev_send_prepare_drops')})")
    pred = predict(ovs, "l2", n, 1500, True)
    drops0 = settled_coverage(ovs)["netdev_send_prepare_drops"]
    s, da, db = run_loop(rig, ovs, c, "gso", n, 2000, "--size", "mix", "--gso", "--csum",
                         "--linger", 1, check_verify=False, driver_drops=pred["driver"] > 0)
    nf = s["netfront"]
    # Every frame the driver refuses is longer than 1514 B, hence GSO.
    gso_sent, lost = nf["tx_gso"], da["tx_drop"] + db["tx_drop"]
    gso_in = gso_sent - pred["driver"]
    prep_drops = settled_coverage(ovs)["netdev_send_prepare_drops"] - drops0
    print(f"gso (userspace-tso-enable={str(ovs.tso).lower()}): {gso_sent} GSO frames sent, "
          f"{pred['driver']} of them refused by the driver, {nf['rx_gso']} back as GSO; "
          f"{s['rx_packets']} of {n} back, verify errors {s['errors']}; OVS "
          f"netdev_send_prepare_drops +{prep_drops}", flush=True)
    c.check(gso_sent > 0, "gso: the mix sent no GSO frame")
    c.eq(da["rx_errs"] + db["rx_errs"], pred["driver"], f"gso: frames the driver refused "
         f"(longer than {LINEAR_MAX} B)")
    for k, v in s["errors"].items():
        if k != "gso":
            c.eq(v, 0, f"gso: verify errors of kind {k}")
    if ovs.tso:
        c.eq(s["rx_packets"], n - pred["driver"] - lost, "gso: frames back (TSO on)")
        c.eq(nf["rx_gso"], gso_in - lost if lost else gso_in, "gso: GSO frames back as GSO")
        c.eq(s["errors"]["gso"], nf["rx_gso"], "gso: 'gso' errors (OVS's MSS) vs GSO frames")
    else:
        c.eq(s["rx_packets"], n - gso_sent - lost, "gso: frames back (TSO off: all but GSO)")
        c.eq(nf["rx_gso"], 0, "gso: GSO frames back with TSO off")
        c.eq(s["errors"]["gso"], 0, "gso: 'gso' verify errors")
        # The prepare-drop counter is OVS's only trace of them: once per
        # output port (more than one while guest 2's MAC is not learned).
        c.check(prep_drops >= gso_in, f"gso: OVS netdev_send_prepare_drops +{prep_drops}, "
                f"fewer than the {gso_in} GSO frames OVS got")

def settled_coverage(ovs, quiet=1.2, timeout=8):
    """OVS_COVERAGE once they stopped changing (each thread adds its counts
    to the totals about once a second)."""
    last, since, deadline = None, time.time(), time.time() + timeout
    while time.time() < deadline:
        now = {k: ovs.coverage(k) for k in OVS_COVERAGE}
        if now != last:
            last, since = now, time.time()
        elif time.time() - since >= quiet:
            break
        time.sleep(0.2)
    return last


def predict(ovs, kind, n, mtu, gso, csum=False):
    """Where each of the n frames guest 1 sends ends up, from its length:
    'back' (to guest 1), 'mtu' (an OVS MTU drop), 'prepare' (OVS cannot
    send a GSO frame with userspace TSO off: netdev_send_prepare_drops),
    'push' (OVS 3.1 tunnels nothing that asks for an offload:
    netdev_push_header_drops), 'driver' (longer than a single buffer with
    the full mbuf headroom can hold: the driver refuses it). OVS passes a
    frame up to mtu + 18 bytes (MTU_TO_FRAME_LEN: Ethernet header and CRC;
    a VLAN tag fits in the CRC's place) and GSO frames of any length.
    Also 'extbuf': frames guest 1's port delivers in a buffer of their own
    (larger than OVS's mbufs). kind: 'l2' (plain forwarding), 'vlan' or
    'vxlan'. csum: the guest leaves L4 checksums to the backend, which
    hands them on as offload requests to an application that enabled TX
    checksum offload (OVS with userspace TSO on) and completes them for the
    others. Single segments unless OVS enabled RX scatter on the ports."""
    out = dict.fromkeys(("back", "mtu", "prepare", "push", "driver", "extbuf"), 0)
    linear = not ovs.port_info(A).get("rx_offloads", 0) & SCATTER
    # OVS 3.1's lib/netdev-dpdk.c: max_packet_len MTU_TO_FRAME_LEN(mtu) (the
    # Ethernet header and CRC; frames without the CRC here, so a VLAN tag
    # fits), the mbuf data room of dpdk_buf_size(): MTU_TO_MAX_FRAME_LEN
    # (two VLAN tags more) rounded up to NETDEV_DPDK_MBUF_ALIGN.
    frame_max, room = mtu + 18, (mtu + 26 + 1023) // 1024 * 1024
    tag = 4 if kind == "vlan" else 0
    for i in range(n):
        size = mix_size(i)
        is_gso = gso and size > NF_FRAME_MTU_LEN
        if linear and size > LINEAR_MAX:
            out["driver"] += 1
            continue
        out["extbuf"] += linear and size > room
        if kind == "vxlan" and (is_gso or (csum and ovs.tso)):
            end = "push"
        elif is_gso and not ovs.tso:
            end = "prepare"
        elif is_gso:
            # Reflected by guest 2 as it got it (tagged, in the vlan phase).
            end = "driver" if linear and size + tag > LINEAR_MAX else "back"
        else:
            end = "mtu" if size + tag > frame_max else "back"
        out[end] += 1
    return out


def run_len(rig, ovs, c, name, n, mtu, kind, gso, cov_before=None):
    """One guest 1 -> OVS -> guest 2 (reflect) -> OVS -> guest 1 run of the
    size mix (with GSO: frames above 1514 B are TCP GSO, and every L4
    checksum is left to the backend) through a flow
    table that changes frame lengths. Every frame that comes back must
    verify (payload, lengths, IP and L4 checksums); the one error allowed
    is OVS's own MSS rewrite of a GSO frame (userspace TSO on, see
    phase_offload). Every frame that does not come back must be one that
    OVS counted: exactly the ones predict() says (MTU, offloads it cannot
    do, frames the driver refuses), plus guest rings that were full.
    cov_before: OVS_COVERAGE as settled since the last traffic, if known.
    Returns the guest's summary, the prediction, the two ports' counter
    deltas and OVS_COVERAGE as settled after the run."""
    pred = predict(ovs, kind, n, mtu, gso, csum=gso)
    cov0 = cov_before or settled_coverage(ovs)
    x0 = {d: ovs.xstats(d) for d in (A, B)}
    # With GSO, the checksums too are left to the backend (a Linux guest's
    # default): the small frames are UDP with a blank checksum.
    args = ["--size", "mix", "--layout", "mix"] + (["--gso", "--csum"] if gso else [])
    s, da, db = run_loop(rig, ovs, c, name, n, 2000, *args, "--linger", 1,
                         check_verify=False, driver_drops=pred["driver"] > 0)
    cov1 = settled_coverage(ovs)
    cov = {k: v - cov0[k] for k, v in cov1.items()}
    nf = s["netfront"]
    gso_err = s["errors"].get("gso", 0)
    for k, v in s["errors"].items():
        if k != "gso":
            c.eq(v, 0, f"{name}: verify errors of kind {k}")
    # Only OVS's MSS (1460 at MTU 1500) on frames that came back as GSO.
    c.eq(gso_err, nf["rx_gso"], f"{name}: 'gso' verify errors vs GSO frames back")
    c.eq(s["verified"] + gso_err, s["rx_packets"], f"{name}: frames back that verify")
    x1 = segments(ovs, c, name, x0, da, db, mtu)
    ring = check_drops(c, name, s, da, db, pred, x0, x1, cov)
    if gso:
        c.check(nf["tx_gso"] > 0, f"{name}: the mix sent no GSO frame")
    if gso and kind != "vxlan" and ovs.tso:
        c.check(nf["rx_gso"] > 0, f"{name}: no GSO frame back")
    print(f"{name}: {s['rx_packets']} of {s['tx_packets']} back ({s['verified']} "
          f"verified, {nf['rx_gso']} as GSO with OVS's MSS), {nf['tx_gso']} sent as "
          f"GSO, {nf['rx_multi_slot']} multi-slot; OVS drops: MTU {pred['mtu']}, guest "
          f"ring full {ring}, {cov}; driver refused {pred['driver']}", flush=True)
    return s, pred, da, db, cov1


def len_flows(ovs, bridge, *flows):
    for f in flows:
        ovs.ofctl("add-flow", bridge, f"cookie={LEN_COOKIE},priority=300,{f}")


def len_runs(rig, ovs, c, tag, n, mtu):
    """The size mix (UDP, checksums computed, multi-slot layouts), then, at
    MTU 1500, the mix with GSO and checksum offload (frames above 1514 B
    are TCP GSO, 64 KiB among them; the smaller ones UDP with the checksum
    left blank). Returns per run what run_len returns."""
    out = {"mix": run_len(rig, ovs, c, f"{tag}{mtu}-mix", n, mtu, tag, False)}
    if mtu == 1500:
        out["gso"] = run_len(rig, ovs, c, f"{tag}{mtu}-gso", n, mtu, tag, True,
                             out["mix"][-1])
    return out


def phase_vlan(rig, ovs, c, n):
    """A flow table that changes lengths on an ordinary bridge: guest 1's
    IP frames get VLAN 101 pushed (4 bytes more), their TOS and source MAC
    rewritten, on the way to guest 2; guest 2 reflects them still tagged,
    and the tag is popped, the TOS and the destination MAC rewritten again
    on the way back. At MTU 1500 (OVS never enables RX scatter there), and
    at 9000 when the ports do not advertise scatter (rx_scatter=0, what the
    hotplug script sets). With chained frames (zero copy, or any frame
    larger than an mbuf) OVS 3.1 writes the whole length into the first
    segment on push or pop, and the frames come back corrupt."""
    p1, p2 = ovs.ofport(f"vif{A}.0"), ovs.ofport(f"vif{B}.0")
    len_flows(ovs, "br0",
              f"in_port={p1},ip,actions=mod_vlan_vid:101,mod_nw_tos:32,"
              f"mod_dl_src:{REWRITE_MAC},output:{p2}",
              f"in_port={p2},dl_vlan=101,actions=strip_vlan,mod_nw_tos:64,"
              f"mod_dl_dst:{guest_mac(A)},output:{p1}")
    into_b = back_tagged = 0
    for mtu in [1500] + ([9000] if not scatter_advertised(ovs) else []):
        if mtu != 1500:
            set_mtu(ovs, mtu)
        for _, _, da, db, _ in len_runs(rig, ovs, c, "vlan", n, mtu).values():
            into_b += da["rx"]
            back_tagged += db["rx"]
    set_mtu(ovs, 1500)
    # Guest 2 got the frames tagged: what it reflected matched dl_vlan=101.
    c.eq(ovs.flow_packets("mod_vlan_vid:101"), into_b, "vlan: frames tagged (push rule)")
    c.eq(ovs.flow_packets("strip_vlan"), back_tagged,
         "vlan: frames back from guest 2 with the tag (pop rule)")
    ovs.ofctl("del-flows", "br0", f"cookie={LEN_COOKIE}/-1")
    c.check(ovs.alive(), "vlan: ovs-vswitchd died")


# The VXLAN underlay: two bridges joined by a patch, each with an address
# on its internal port (in ovs-vswitchd's own network namespace).
UL = (("br-ula", "172.31.1.1", "ula"), ("br-ulb", "172.31.2.1", "ulb"))


def vxlan_setup(ovs):
    """Two VXLAN ports on br0, vx1 towards 172.31.2.1 over br-ula and vx2
    towards 172.31.1.1 over br-ulb; br-ula and br-ulb joined by a patch
    port pair. Guest 1's frames go out of vx1: OVS pushes 50 bytes of
    Ethernet, IPv4, UDP and VXLAN headers (tnl_push), sends the packet into
    br-ula, through the patch into br-ulb, whose internal port holds the
    destination address: OVS pops the headers (tnl_pop) and the frame
    comes in on vx2 (its remote_ip is the sender), which sends it to guest
    2; and back the same way. Everything is OVS userspace; the kernel only
    holds the two addresses (OVS learns them from it). Its local routes
    for them are removed: they would win over OVS's own (ovs/route/add) and
    send each bridge's packets to its own address."""
    ovs.vsctl("add-br", "br-ula", "--", "set", "bridge", "br-ula", "datapath_type=netdev",
              "--", "add-br", "br-ulb", "--", "set", "bridge", "br-ulb",
              "datapath_type=netdev",
              "--", "add-port", "br-ula", "ula-pb", "--", "set", "Interface", "ula-pb",
              "type=patch", "options:peer=ulb-pa",
              "--", "add-port", "br-ulb", "ulb-pa", "--", "set", "Interface", "ulb-pa",
              "type=patch", "options:peer=ula-pb")
    for br, ip, _ in UL:
        # /16: OVS takes a route's source address from the output bridge's
        # addresses whose subnet holds the destination; noprefixroute: the
        # routes are OVS's own (below).
        ovs.ns("ip", "addr", "add", f"{ip}/16", "dev", br, "noprefixroute")
        ovs.ns("ip", "link", "set", br, "up")
        ovs.ns("ip", "route", "del", "table", "local", "local", ip, "dev", br)
    macs = {br: ovs.vsctl("get", "Interface", br, "mac_in_use").strip().strip('"')
            for br, _, _ in UL}
    for (br, ip, _), (pbr, pip, _) in ((UL[0], UL[1]), (UL[1], UL[0])):
        # OVS learns the bridge's address from the kernel asynchronously
        # (netlink): the route is refused until it has.
        deadline = time.time() + 10
        while True:
            try:
                ovs.appctl("ovs/route/add", f"{pip}/32", br)
                break
            except RuntimeError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        ovs.appctl("tnl/neigh/set", br, pip, macs[pbr])
    len_flows(ovs, "br-ula", "in_port=LOCAL,actions=output:ula-pb",
              "in_port=ula-pb,actions=LOCAL")
    len_flows(ovs, "br-ulb", "in_port=LOCAL,actions=output:ulb-pa",
              "in_port=ulb-pa,actions=LOCAL")
    ovs.vsctl("add-port", "br0", "vx1", "--", "set", "Interface", "vx1", "type=vxlan",
              f"options:remote_ip={UL[1][1]}", "options:key=101",
              "--", "add-port", "br0", "vx2", "--", "set", "Interface", "vx2", "type=vxlan",
              f"options:remote_ip={UL[0][1]}", "options:key=101")
    p1, p2 = ovs.ofport(f"vif{A}.0"), ovs.ofport(f"vif{B}.0")
    v1, v2 = ovs.ofport("vx1"), ovs.ofport("vx2")
    len_flows(ovs, "br0", f"in_port={p1},actions=output:{v1}",
              f"in_port={v2},actions=output:{p2}",
              f"in_port={p2},actions=output:{v2}",
              f"in_port={v1},actions=output:{p1}")


def vxlan_teardown(ovs):
    ovs.ofctl("del-flows", "br0", f"cookie={LEN_COOKIE}/-1")
    ovs.vsctl("del-port", "br0", "vx1", "--", "del-port", "br0", "vx2",
              "--", "del-br", "br-ula", "--", "del-br", "br-ulb")


def phase_vxlan(rig, ovs, c, n):
    """Guest traffic carried over a VXLAN tunnel between two underlay
    bridges (vxlan_setup): encapsulation and decapsulation in OVS
    userspace, 50 bytes pushed and popped on every frame each way."""
    vxlan_setup(ovs)
    runs = len_runs(rig, ovs, c, "vxlan", n, 1500)
    # The frames went through the tunnel: encapsulated into br-ula and
    # br-ulb (their patch rules), decapsulated on the way out of them.
    sent = sum(da["rx"] for _, _, da, _, _ in runs.values())
    encap = sum(ovs.flow_packets("in_port=LOCAL", br) for br, _, _ in UL)
    decap = sum(ovs.flow_packets("actions=LOCAL", br) for br, _, _ in UL)
    # Every frame OVS received from a guest was sent into the tunnel (OVS
    # credits the flows also with the GSO frames it drops at the push).
    into = sum(da["rx"] + db["rx"] for _, _, da, db, _ in runs.values())
    print(f"vxlan: {encap} packets encapsulated into the underlay, {decap} decapsulated; "
          f"guest 1 sent {sent}, OVS received {into} from the guests", flush=True)
    c.eq(encap, into, "vxlan: packets into the underlay vs frames from the guests")
    c.eq(decap, encap, "vxlan: packets decapsulated vs encapsulated")
    vxlan_teardown(ovs)
    c.check(ovs.alive(), "vxlan: ovs-vswitchd died")


def link_state(ovs, dom):
    return ovs.vsctl("get", "Interface", f"vif{dom}.0", "link_state").strip()


def wait_link_state(ovs, dom, want, timeout=12):
    """OVS refreshes the Interface's link_state about every 5 s."""
    deadline = time.time() + timeout
    while link_state(ovs, dom) != want and time.time() < deadline:
        time.sleep(0.2)
    return link_state(ovs, dom)


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
    ap.add_argument("--len-count", type=int, default=1000,
                    help="frames per run of the vlan and vxlan phases")
    ap.add_argument("--phases", default="l2,rule,mix,delport",
                    help="comma-separated: l2 rule mix vlan vxlan delport offload "
                    "(XNB_OVS_FULL=1 in the environment adds vlan and vxlan)")
    args = ap.parse_args()
    phases = args.phases.split(",")
    if os.environ.get("XNB_OVS_FULL") == "1":
        at = phases.index("delport") if "delport" in phases else len(phases)
        phases[at:at] = [ph for ph in ("vlan", "vxlan") if ph not in phases]
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
            for ph in phases:
                t_phase = time.time()
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
                elif ph == "vlan":
                    phase_vlan(rig, ovs, c, args.len_count)
                elif ph == "vxlan":
                    phase_vxlan(rig, ovs, c, args.len_count)
                else:
                    raise RuntimeError(f"unknown phase {ph}")
                print(f"phase {ph}: {time.time() - t_phase:.1f} s", flush=True)
            refl.send_signal(signal.SIGINT)
            refl.wait(timeout=15)
            if not c.eq(wait_link_state(ovs, B, "down", 20), "down",
                        "vif2.0 link 20 s after guest 2 left"):
                print(rig.xenstore_ls(f"/local/domain/0/backend/vif/{B}"), file=sys.stderr)
            r = rig.summary("reflect")
            for k in ("tx_errors", "rx_errors", "tx_unsupported"):
                c.eq(r[k], 0, f"guest 2 (reflect) {k}")
        except RuntimeError as e:
            c.check(False, str(e))
        finally:
            if c.fails:
                for name in ("vswitchd", "reflect", "l2", "g3"):
                    print(f"--- {name}.log\n{rig.tail(name)}", file=sys.stderr)
            ovs.stop()
    return c.result()


if __name__ == "__main__":
    sys.exit(main())
