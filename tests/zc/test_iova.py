#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
"""Issue 16 item 3: a lent guest page carries the IOVA a device would DMA
from, or the port copies the frame. xnb-hold --iova checks every segment of
every frame against EAL's own translation (rte_mem_virt2iova of its
address) when it is received, and again when a held frame is freed (10 %
of the frames are held 300 ms with aging_ms=100, so most of those have had
their pages copied out and swapped meanwhile); lent segments (outside EAL's
memory) must be there, or the port must say why it copied
(rx_copied_dma_unsafe, rx_iova_failed).

  VA  EAL's default here (--no-huge, no physical device): an IOVA is the
      virtual address.
  PA  --iova-mode=pa on hugepages, when this machine lets us reserve them
      (root: nr_hugepages raised by what we need, a private hugetlbfs mount;
      both undone at the end); skipped with a message otherwise. An IOVA is
      the physical address, which a copy-out changes.

The third rule (a port on another bus in an IOVA-as-VA process stops
lending) needs a non-vdev ethdev in the process; see docs/lifetime.md.

usage: test_iova.py BUILDDIR [--mode va|pa|both]
"""

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from xnb_testpmd import Checker, XnbRig, reap, run_main  # noqa: E402

FRAMES = 5000
HUGEPAGES = 128		# 2 MB each: EAL's -m 128 plus headroom
NR = "/proc/sys/vm/nr_hugepages"


def run(c, build, mode, eal):
    with XnbRig(build, f"iova{mode}") as rig:
        rig.start_sim((1,))
        cmd = [rig.hold, "-d", rig.pmd, *eal(rig), "--no-pci", "-l", "0",
               f"--file-prefix={rig.prefix}", "--log-level=pmd.net.xennetback:info",
               "--vdev", f"net_xennetback_1_0,domid=1,platform=sim,sim={rig.sim},"
               "copy_threshold=256,aging_ms=100",
               "--", "--sim", rig.sim, "--domid", "1", "--iova", str(FRAMES),
               "--hold-every", "10", "--hold-ms", "300"]
        print("+ " + " ".join(cmd), flush=True)
        hold = rig.start("hold", cmd)
        g = rig.start_guest("guest", 1, "gen", "--size", "mix", "--layout", "mix", "--gso",
                            "--count", FRAMES + 1000, "--rate", 2000, "--timeout", 60,
                            "--quiet")
        reap(hold, 150)
        g.send_signal(2)
        g.wait(timeout=30)
        log = rig.tail("hold", 1 << 20)
        for line in log.splitlines():
            if line.startswith(("hold:", "EAL: Selected IOVA")):
                print(f"  {mode}: {line}", flush=True)
        want = "'PA'" if mode == "pa" else "'VA'"
        c.check(f"Selected IOVA mode {want}" in log, f"{mode}: EAL did not select {want}")
        c.eq(hold.returncode, 0, f"{mode}: xnb-hold --iova checks (exit status)")
        s = rig.summary("guest")
        c.eq(s["tx_errors"], 0, f"{mode}: guest TX errors")


def hugepages_setup(work):
    """Reserves HUGEPAGES more 2 MB pages and mounts a private hugetlbfs;
    returns an undo function, or a reason why not."""
    if os.geteuid() != 0:
        return None, "not root"
    try:
        with open(NR) as f:
            before = int(f.read())
        with open(NR, "w") as f:
            f.write(str(before + HUGEPAGES))
        with open(NR) as f:
            got = int(f.read()) - before
    except OSError as e:
        return None, f"{NR}: {e}"
    mnt = f"{work}/huge"

    def undo():
        subprocess.run(["umount", mnt], capture_output=True)
        try:
            with open(NR, "w") as f:
                f.write(str(before))
        except OSError:
            pass
    if got < HUGEPAGES:
        undo()
        return None, f"only {got} of {HUGEPAGES} hugepages could be reserved"
    os.makedirs(mnt, exist_ok=True)
    r = subprocess.run(["mount", "-t", "hugetlbfs", "nodev", mnt], capture_output=True,
                       text=True)
    if r.returncode != 0:
        undo()
        return None, f"mount hugetlbfs: {r.stderr.strip()}"
    return (undo, mnt), None


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("build")
    ap.add_argument("--mode", choices=("va", "pa", "both"), default="both")
    args = ap.parse_args()
    c = Checker("test_iova")
    t0 = time.time()
    if args.mode in ("va", "both"):
        run(c, args.build, "va", lambda rig: ["--no-huge", "-m", "512"])
    if args.mode in ("pa", "both"):
        work = f"/tmp/xnb-iova-huge-{os.getpid()}"
        os.makedirs(work, exist_ok=True)
        got, why = hugepages_setup(work)
        if got is None:
            print(f"test_iova: SKIP the IOVA-as-PA run: {why}", flush=True)
        else:
            undo, mnt = got
            try:
                run(c, args.build, "pa", lambda rig: ["-m", "128", "--iova-mode=pa",
                                                      f"--huge-dir={mnt}"])
            finally:
                undo()
                print(f"test_iova: hugepages given back, {NR} = {open(NR).read().strip()}",
                      flush=True)
        os.rmdir(f"{work}/huge") if os.path.isdir(f"{work}/huge") else None
        os.rmdir(work)
    print(f"test_iova: {time.time() - t0:.1f} s", flush=True)
    return c.result()


if __name__ == "__main__":
    run_main(main, "test_iova", (RuntimeError, subprocess.TimeoutExpired))
