# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
"""Writes the seed scripts of the fuzz harnesses (tests/fuzz/xnb_fuzz.c):
well-formed guests and applications (lending and holding frames, aging
them out, reconnecting, forwarding to the guest's RX ring) so the fuzzer
starts from states the driver reaches in real use. Hostile index moves are
left for the fuzzer to find. Python 3 stdlib only.

    make_corpus.py rx|tx [DIR]       seeds (DIR: corpus or corpus-tx here)
    make_corpus.py findings [DIR]    inputs that fail (DIR: findings here)
    make_corpus.py convert FILE...   pre-script snapshot inputs (flags, ring
                                     page, pages) to the script format, in
                                     place; they keep their meaning

Layout (xnb_fuzz.c): flags, features, nsteps, RX ring start (le32), steps
of 8 bytes (op, a, b le16, c le32), the TX ring page (xen/io/ring.h: four
indexes, 48 bytes of pad, 12-byte slots), guest pages."""

import os
import struct
import sys

PAGE = 4096
MORE, EXTRA = 4, 8
FEAT_ALL = 7            # sg, gso-tcpv4, gso-tcpv6
LINEAR, PARTIAL_CSUM, RX_IP_CSUM = 8, 0x10, 0x20        # the application's
NO_CSUM, IPV6_CSUM = 0x40, 0x80                         # the frontend's

# Ops, as enum fz_op.
(TX_WRITE, TX_PROD, TX_PUSH, TX_PKT, PAGE_WRITE, RX_BURST, FREE, TICK, GRANT,
 CLONE, RECONNECT, RX_PROD, RX_POST, RX_WRITE, TX_SEND, TX_FWD, CONF) = range(17)
RATE, NO_RATE, MCAST_CTRL, MCAST_CLEAR = range(4)       # CONF's a
NB = {1: 0, 32: 1, 33: 2, 64: 3, 256: 4}
FREE_ALL, HOLD_ALL, HOLD_MASK, FORWARD = 0, 1, 2, 3
# TICK amounts: 0, 1 ms, window - 1, window, window + 1, 10 windows.
T_MS, T_WINDOW_PLUS, T_LONG = 1, 4, 5


def step(op, a=0, b=0, c=0):
    return struct.pack("<BBHI", op, a, b & 0xffff, c & 0xffffffff)


def burst(nb, mode=FREE_ALL, mask=0):
    return step(RX_BURST, NB[nb] | mode << 3, 0, mask)


def pkt(nslots, size, gref, gso_mss=0, v6=False, off16=0, csum_blank=False,
        headers=False):
    c = gref | off16 << 8 | (1 << 14 if headers else 0)
    if gso_mss:
        c |= 1 << 31 | (gso_mss & 0xfff) << 16 | (1 << 30 if v6 else 0)
    if csum_blank:
        c |= 1 << 28
    return step(TX_PKT, nslots - 1, size, c)


def ring(reqs, start=0):
    """reqs: (gref, offset, flags, size) or ('gso', size, type)."""
    page = bytearray(PAGE)
    m = 0xffffffff
    struct.pack_into("<IIII", page, 0, (start + len(reqs)) & m,
                     (start + 1) & m, start, (start + 1) & m)
    for i, r in enumerate(reqs):
        slot = 64 + 12 * ((start + i) % 256)
        if r[0] == "gso":
            struct.pack_into("<BBHBBH4x", page, slot, 1, 0, r[1], r[2], 0, 0)
        else:
            gref, off, flags, size = r
            struct.pack_into("<IHHHH", page, slot, gref, off, flags, i, size)
    return bytes(page)


def empty_ring(start=0):
    return ring([], start)


def frame_pages(n):
    out = bytearray()
    for p in range(n):
        pg = bytearray((p * 7 + k) & 0xff for k in range(PAGE))
        pg[0:14] = b"\xff" * 6 + b"\x00\x16\x3e\x00\x01\x00" + b"\x08\x00"
        # IPv4 + TCP headers, so offloads find their fields.
        pg[14:34] = bytes([0x45, 0, 0x0f, 0xd2, 0, 1, 0x40, 0, 64, 6, 0, 0,
                           10, 0, 0, 1, 10, 0, 0, 2])
        pg[34:54] = bytes([0x30, 0x39, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50,
                           0x10, 0xff, 0xff, 0, 0, 0, 0])
        out += pg
    return bytes(out)


def script(flags, steps, txring, npages, features=FEAT_ALL, rx_start=0):
    head = struct.pack("<BBBI", flags, features, len(steps), rx_start)
    return head + b"".join(steps) + txring + frame_pages(npages)


def flags(port=0, small=False, thresh=0, hdr=0, hold_across=False):
    """port: 0 zc aging, 1 copy, 2 zc no aging, 3 zc max_mapped 8;
    thresh: index into {256, 0, 2048, 60}; hdr: into {128, 0, 14, 1024}."""
    return port | small << 2 | thresh << 3 | hdr << 5 | hold_across << 7


def rx_seeds():
    zc = ring([(0, 0, 0, 3000), (1, 0, 0, 3000), (2, 0, MORE, 9000),
               (3, 0, MORE, 4096), (4, 0, 0, 904)])
    # Frames lent and held while the guest keeps sending.
    yield "hold_then_send", script(flags(), [
        burst(64, HOLD_ALL), pkt(3, 9000, 5), pkt(1, 3000, 7),
        burst(256, HOLD_ALL), pkt(18, 60000, 0, gso_mss=1448),
        burst(33, HOLD_MASK, 0x5555), step(FREE, 1, 2), burst(32),
        step(FREE, 0)], zc, 8)
    # Held past the aging window: copied out by the tick, then by a burst.
    yield "aging", script(flags(), [
        burst(64, HOLD_ALL), step(TICK, T_WINDOW_PLUS), pkt(2, 5000, 3),
        burst(32, HOLD_ALL), step(TICK, T_LONG | 0x80), burst(1),
        step(FREE, 3, 0, 0xf0f0f0f0), step(TICK, T_MS)], zc, 8)
    # The application clones and frees out of order.
    yield "clones", script(flags(), [
        burst(32, HOLD_ALL), step(CLONE, 0, 1), step(CLONE, 1, 0),
        step(FREE, 1, 0), pkt(1, 2500, 1), burst(32, HOLD_ALL),
        step(TICK, T_WINDOW_PLUS), step(FREE, 2, 1)], zc, 8)
    # Small data rooms (chains), header copy of 14, copybreak 60.
    yield "chains", script(flags(small=True, thresh=3, hdr=2), [
        burst(33, HOLD_ALL), pkt(5, 16000, 2, gso_mss=9000, v6=True),
        burst(64, HOLD_MASK, 0xaaaaaaaa), step(FREE, 0)], zc, 8)
    # The arena full (max_mapped 8): copy fallbacks while frames are held.
    yield "arena_full", script(flags(port=3), [
        burst(64, HOLD_ALL), pkt(4, 12000, 0), pkt(4, 12000, 4),
        burst(256, HOLD_ALL), step(FREE, 1, 3), burst(64)], zc, 8)
    # The guest revokes grants; a copy-out and a map fail.
    yield "revoke", script(flags(), [
        burst(64, HOLD_ALL), step(GRANT, 1, 0), step(GRANT, 0, 4, 0),
        step(TICK, T_WINDOW_PLUS), pkt(1, 3000, 1), step(GRANT, 0, 5),
        pkt(1, 3000, 2), burst(32, HOLD_ALL), step(GRANT, 0, 3),
        step(TICK, T_LONG)], zc, 8)
    # Disconnect while held; a new connection on the same ring.
    yield "reconnect_held", script(flags(hold_across=True), [
        burst(64, HOLD_ALL), step(RECONNECT), pkt(2, 6000, 6),
        burst(32, HOLD_ALL), step(FREE, 1, 1), step(TICK, T_MS)], zc, 8)
    # A guest that scribbles on a lent page and on its ring after the push.
    yield "scribble", script(flags(hdr=1), [
        burst(32, HOLD_ALL), step(PAGE_WRITE, 0, 100, 0xdeadbeef),
        pkt(1, 4000, 0), step(TX_WRITE, 1, 64 + 12 * 5 + 10, 1000),
        burst(32, HOLD_ALL), step(PAGE_WRITE, 5, 8, 0x1)], zc, 8)
    # Indexes near the wrap, requests pushed one by one.
    yield "wrap", script(flags(), [
        step(TX_PUSH, EXTRA | MORE, 4000, 0),
        step(TX_PUSH, 0x10, 1448, 1 | 1 << 8),
        step(TX_PUSH, 0, 2000, 1), burst(1, HOLD_ALL), burst(33, HOLD_ALL),
        pkt(2, 3000, 2), burst(64)],
        ring([(0, 0, 0, 60), (1, 0, 0, 3000)], start=0xfffffffe), 4)
    # The known hostile index cases, with nothing lent (fatal, no crash).
    yield "prod_back_copy", script(flags(port=1), [
        burst(32), step(TX_PROD, 0, -3 & 0xffff), burst(32)],
        ring([(0, 0, 0, 60)] * 8), 1)
    yield "prod_ring_plus_one", script(flags(), [
        burst(32), step(TX_PROD, 4), burst(32)], ring([(0, 0, 0, 60)] * 4), 1)
    # GSO frames whose headers agree with them, lent and held, some with
    # blank checksums the backend completes or passes on.
    yield "gso_headers", script(flags(), [
        pkt(12, 40000, 0, gso_mss=1448, headers=True), burst(32, HOLD_ALL),
        pkt(6, 20000, 2, gso_mss=1440, v6=True, headers=True),
        pkt(1, 1400, 1, csum_blank=True, headers=True), burst(33, HOLD_ALL),
        step(TICK, T_WINDOW_PLUS), step(FREE, 0)], empty_ring(), 8,
        features=FEAT_ALL | RX_IP_CSUM)
    yield "partial_csum", script(flags(thresh=1), [
        pkt(2, 5000, 3, csum_blank=True, headers=True),
        pkt(1, 3000, 0, csum_blank=True, v6=True, headers=True),
        burst(64, HOLD_ALL), step(FREE, 1, 0)], empty_ring(), 8,
        features=FEAT_ALL | PARTIAL_CSUM)
    # An application without RX scatter: one segment per frame.
    yield "linear", script(flags(), [
        burst(64, HOLD_ALL), pkt(16, 60000, 0, gso_mss=8000, headers=True),
        burst(1, HOLD_ALL), step(GRANT, 0, 6), pkt(3, 9000, 1),
        burst(32)], zc, 8, features=FEAT_ALL | LINEAR)
    # The finding of issue 14 (xnb_rx.c before 48c1228): with pages lent and
    # held, req_prod moved back into the window between rsp_prod and
    # req_cons; the burst walked past req_prod and, with chains, past its
    # 256-entry scratch. Now fatal.
    lent = []
    for _ in range(14):
        lent.append((0, 0, MORE, 18 * 3000))
        lent += [(j % 8, 0, MORE if j < 17 else 0, 3000) for j in range(1, 18)]
    yield "regress_prod_into_window_chains", script(flags(), [
        burst(64, HOLD_ALL), step(TX_PROD, 2, 1), burst(256)], ring(lent), 8)
    yield "regress_prod_into_window", script(flags(), [
        burst(64, HOLD_ALL), step(TX_PROD, 2, 1), burst(256)], zc, 8)
    # A rate limit: frames wait on the ring until the next window.
    yield "rate", script(flags(), [
        step(CONF, RATE, 100, 1000), pkt(3, 9000, 0), pkt(1, 3000, 3),
        pkt(2, 6000, 4), burst(64, HOLD_ALL), step(TICK, T_MS), burst(64),
        step(TICK, T_MS), burst(32), step(CONF, NO_RATE), burst(1)],
        empty_ring(), 8)
    # Multicast control: a guest subscribes and unsubscribes with extras.
    yield "mcast", script(flags(), [
        step(CONF, MCAST_CTRL), step(RECONNECT),
        step(TX_PUSH, EXTRA, 60, 0), step(TX_PUSH, 0x10, 0x5e01, 2 | 0x0100 << 8),
        step(TX_PUSH, EXTRA, 60, 0), step(TX_PUSH, 0x10, 0x5e01, 3 | 0x0100 << 8),
        burst(32), step(CONF, MCAST_CLEAR)], empty_ring(), 8)
    # Found by the checksum checks (fixed in 99f7b1b, xnb_csum.c): DPDK
    # 22.11's rte_raw_cksum_mbuf loses the carries of a segment that starts
    # at an odd offset, so a blank checksum completed over guest slots of
    # odd sizes was wrong yet called good; and over an IPv4 total length
    # past the frame its helper returned a dummy, called good too.
    yield "regress_csum_odd_slots_rx", script(flags(), [
        pkt(2, 3001, 0, csum_blank=True, headers=True), burst(1)],
        empty_ring(), 8)
    yield "regress_csum_ip_length_past_frame", script(flags(), [
        pkt(1, 1400, 0, csum_blank=True, headers=True),
        step(PAGE_WRITE, 0, 16, 0x0f), burst(1)], empty_ring(), 8)
    # Copy mode, many bursts of various sizes.
    yield "copy_mode", script(flags(port=1), [
        burst(1), burst(33), pkt(3, 9000, 0), burst(256), pkt(1, 60, 0),
        burst(64)], zc, 8)


def tx_seeds():
    zc = ring([(0, 0, 0, 3000), (1, 0, 0, 3000), (2, 0, MORE, 9000),
               (3, 0, MORE, 4096), (4, 0, 0, 904)])
    # Post buffers, send built packets of several shapes.
    yield "send_shapes", script(flags(), [
        step(RX_POST, 0, 63, 0 | 1 << 8),
        step(TX_SEND, NB[32], 1514, 0),
        step(TX_SEND, NB[1], 9000, 3 | 1 << 24),
        step(TX_SEND, NB[33], 60, 8 | 40 << 24),
        step(RX_POST, 0, 31, 0 | 1 << 8),
        step(TX_SEND, NB[64], 200, 2)], empty_ring(), 16)
    # TSO and checksum requests to a guest that takes GSO.
    yield "send_tso", script(flags(), [
        step(RX_POST, 0, 40, 0 | 1 << 8),
        step(TX_SEND, NB[1], 30000, 7 | 0x10 | 0x40 | 0x80 | 181 << 16),
        step(TX_SEND, NB[1], 20000, 4 | 0x10 | 0x20 | 0x80 | 181 << 16),
        step(TX_SEND, NB[32], 1514, 0x80 | 3 << 8)], empty_ring(), 16)
    # Frames lent by the guest's TX ring forwarded to its RX ring, some
    # after an aged copy-out.
    yield "forward_lent", script(flags(), [
        burst(64, HOLD_ALL), step(RX_POST, 0, 63, 4 | 1 << 8),
        step(TX_FWD, NB[1]), step(TICK, T_WINDOW_PLUS),
        step(TX_FWD, NB[64]), pkt(2, 6000, 5), burst(32, FORWARD)], zc, 16)
    # Checksums left partial by one guest, completed for a frontend that
    # does not take them blank.
    yield "csum_complete", script(flags(), [
        pkt(1, 1400, 1, csum_blank=True, headers=True),
        pkt(2, 6000, 2, csum_blank=True, v6=True, headers=True),
        pkt(4, 12000, 4, gso_mss=1448, headers=True),
        step(RX_POST, 0, 15, 0 | 1 << 8), burst(32, FORWARD),
        step(TX_SEND, NB[1], 1514, 0x80 | 3 << 8)], empty_ring(), 16,
        features=FEAT_ALL | NO_CSUM)
    # A guest that stops posting RX buffers while frames wait: stalled
    # after a second of the fake clock, its frames dropped, then back.
    yield "rx_stall", script(flags(), [
        step(RX_POST, 0, 1, 8 | 1 << 8), step(TX_SEND, NB[33], 1514, 0),
        step(TICK, T_WINDOW_PLUS), step(TX_SEND, NB[32], 1514, 0),
        step(TICK, T_LONG), step(TX_SEND, NB[32], 1514, 1 << 31),
        step(TX_SEND, NB[33], 1514, 0), step(TICK, T_MS),
        step(RX_POST, 0, 15, 0 | 1 << 8), step(TICK, T_MS),
        step(TX_SEND, NB[1], 3000, 0)], empty_ring(), 16)
    # A guest that asked for multicast control gets only what it joined.
    yield "mcast_filter", script(flags(), [
        step(CONF, MCAST_CTRL), step(RECONNECT), step(RX_POST, 0, 15, 0 | 1 << 8),
        step(TX_SEND, NB[32], 200, 1 << 31), step(TX_SEND, NB[1], 200, 0)],
        empty_ring(), 16)
    # The odd-slot frame left partial for the application and forwarded to
    # a frontend without checksum offload: completed by the tx side (the
    # same DPDK helper before 99f7b1b).
    yield "regress_csum_odd_slots_tx", script(flags(), [
        pkt(2, 3001, 0, csum_blank=True, headers=True),
        step(RX_POST, 0, 3, 8 | 1 << 8), burst(1, FORWARD)],
        empty_ring(), 16, features=FEAT_ALL | PARTIAL_CSUM | NO_CSUM)
    # A guest short of buffers, then one that posts bad and read-only ones.
    yield "rx_short", script(flags(), [
        step(RX_POST, 0, 1, 8 | 1 << 8), step(TX_SEND, NB[33], 3000, 0),
        step(GRANT, 9, 2), step(RX_POST, 0, 7, 7 | 1 << 8),
        step(RX_POST, 0, 3, 200), step(TX_SEND, NB[32], 1514, 0)],
        empty_ring(), 12)
    # Indexes near the wrap.
    yield "rx_wrap", script(flags(port=1), [
        step(RX_POST, 0, 9, 0 | 1 << 8), step(TX_SEND, NB[32], 100, 0),
        step(RX_POST, 0, 9, 0 | 1 << 8), step(TX_SEND, NB[1], 5000, 1)],
        empty_ring(), 12, rx_start=0xfffffffa)
    # The known hostile RX index cases, nothing outstanding.
    yield "rx_prod_back", script(flags(), [
        step(RX_POST, 0, 15, 0 | 1 << 8), step(TX_SEND, NB[1], 100, 0),
        step(RX_PROD, 0, -5 & 0xffff), step(TX_SEND, NB[1], 100, 0)],
        empty_ring(), 16)


def findings():
    """Inputs that fail on the driver as it is when they are written
    (findings/README); either harness replays them."""
    # xnb_tx_mcast_wanted reads the destination through a struct
    # rte_ether_addr pointer (2-byte aligned) into the mbuf's data, which
    # may start at an odd address: UBSan's misaligned access.
    yield "mcast_dst_misaligned", script(flags(), [
        step(CONF, MCAST_CTRL), step(RECONNECT), step(RX_POST, 0, 63, 0 | 1 << 8),
        step(TX_SEND, NB[32], 61, 8)], empty_ring(), 16)


def convert(path):
    with open(path, "rb") as f:
        old = f.read()
    with open(path, "wb") as f:
        f.write(struct.pack("<BBBI", old[0] if old else 0, FEAT_ALL, 0, 0) +
                old[1:])


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "convert":
        for p in sys.argv[2:]:
            convert(p)
        return
    which = sys.argv[1] if len(sys.argv) > 1 else "rx"
    here = os.path.dirname(os.path.abspath(__file__))
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
        here, {"rx": "corpus", "tx": "corpus-tx", "findings": "findings"}[which])
    os.makedirs(out, exist_ok=True)
    gen = {"rx": rx_seeds, "tx": tx_seeds, "findings": findings}[which]
    for name, data in gen():
        with open(os.path.join(out, ("" if "findings" in which else "seed_") + name),
                  "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
