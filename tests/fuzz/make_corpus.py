# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
"""Writes the seed corpus of xnb_fuzz_rx (tests/fuzz/corpus/): well-formed
guest TX rings (one slot, multi-slot, GSO extra, zero-copy sized, a full
ring) so the fuzzer starts from packets the driver accepts. Layout: the
flags byte, the 4096-byte ring page (xen/io/ring.h: four indexes, 48 bytes
of pad, 12-byte request slots), then guest pages. Python 3 stdlib only."""

import os
import struct
import sys

PAGE = 4096
MORE, EXTRA = 4, 8


def ring(reqs, start=0):
    """reqs: (gref, offset, flags, size) or ('gso', size, type)."""
    body = bytearray()
    for i, r in enumerate(reqs):
        if r[0] == "gso":
            body += struct.pack("<BBHBBH4x", 1, 0, r[1], r[2], 0, 0)
        else:
            gref, off, flags, size = r
            body += struct.pack("<IHHHH", gref, off, flags, i, size)
    head = struct.pack("<IIII", start + len(reqs), start + 1, start, start + 1)
    page = head + bytes(48) + bytes(PAGE - 64)
    page = bytearray(page)
    # Slots wrap at 256 from the start index.
    for i in range(len(reqs)):
        slot = (start + i) % 256
        page[64 + 12 * slot:64 + 12 * slot + 12] = body[12 * i:12 * i + 12]
    return bytes(page)


def frame_pages(n):
    out = bytearray()
    for p in range(n):
        pg = bytearray((p * 7 + k) & 0xff for k in range(PAGE))
        pg[0:14] = b"\xff" * 6 + b"\x00\x16\x3e\x00\x01\x00" + b"\x08\x00"
        out += pg
    return bytes(out)


def seeds():
    yield "one_slot", 0, ring([(0, 0, 0, 60)]), 1
    yield "one_slot_copy", 1, ring([(0, 0, 0, 1514)]), 1
    yield "zc_3000", 0, ring([(0, 0, 0, 3000)]), 1
    yield "multi_slot", 0, ring([(0, 96, MORE, 8996), (1, 0, MORE, 4096),
                                 (2, 0, 0, 900)]), 3
    yield "gso", 0, ring([(0, 0, EXTRA | MORE, 6000), ("gso", 1448, 1),
                          (1, 0, 0, 3000)]), 2
    yield "wrapped", 0, ring([(0, 0, 0, 60), (1, 0, 0, 300)], start=255), 2
    yield "full_ring", 0, ring([(i % 4, 0, 0, 60 + i) for i in range(256)]), 4


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus")
    os.makedirs(out, exist_ok=True)
    for name, flags, page, npages in seeds():
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes([flags]) + page + frame_pages(npages))


if __name__ == "__main__":
    main()
