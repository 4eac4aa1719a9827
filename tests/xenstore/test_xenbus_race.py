# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
"""The driver's backend directory removed by the toolstack at the worst
moments, made to happen every time with the simulated xenstored's
xnb-rm-after-read (hypervisor/xenstored.c):

  between  the directory removed right after the backend read its
           `frontend` key, before it read its own `feature-rx-copy`: the
           backend must log "<be> removed" (it once took this for a
           re-creation, dropped the vif without a word and never said
           "removed": the hostile suite's late-removal failures)
  again    removed and created again while the backend process is stopped
           (the watch events coalesce): the backend must log "was created
           again" and advertise the new directory, not "removed"

After each, a guest connects to a re-created vif and its frames come back
(testpmd io forwarding, loop topology), so the backend is not left wedged. Runs the distro dpdk-testpmd with the driver, like tests/pmd.
"""

import os
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from xnb_testpmd import Checker, XnbRig  # noqa: E402

DOM = 2
BE = f"/local/domain/0/backend/vif/{DOM}/0"
XS_CONTROL = 0   # xen/io/xs_wire.h
ROUNDS = 3


def xs_control(rig, *args):
    """One XS_CONTROL request on the dom0 socket; returns (type, body)."""
    payload = b"".join(a.encode() + b"\0" for a in args)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(f"{rig.sim}/xenstored.sock")
        s.sendall(struct.pack("<4I", XS_CONTROL, 1, 0, len(payload)) + payload)
        buf = b""
        while len(buf) < 16 or len(buf) < 16 + struct.unpack("<4I", buf[:16])[3]:
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    kind, _, _, n = struct.unpack("<4I", buf[:16])
    return kind, buf[16:16 + n]


def log_since(rig, offset):
    with open(rig.log("testpmd"), errors="replace") as f:
        return f.read()[offset:]


def log_len(rig):
    return len(log_since(rig, 0))


def wait_log(rig, offset, text, timeout):
    deadline = time.time() + timeout
    while True:
        tail = log_since(rig, offset)
        if text in tail or time.time() > deadline:
            return text in tail, tail
        time.sleep(0.02)


def vif_up(c, rig, what):
    """Creates the domain and its vif; the backend must advertise it."""
    at = log_len(rig)
    rig.simctl_run("create", DOM, "--mem", 2048)
    rig.simctl_run("vif-add", DOM, 0)
    ok, tail = wait_log(rig, at, f"{BE} in InitWait", 10)
    c.check(ok, f"{what}: the backend did not advertise the new vif; its log:\n{tail[-1500:]}")


def guest_traffic(c, rig, what):
    """A guest connects and its frames come back."""
    name = f"guest-{what}"
    g = rig.start_guest(name, DOM, "loop", "--count", "200", "--rate", "2000",
                        "--timeout", "20", "--quiet")
    g.wait(timeout=40)
    if not c.eq(g.returncode, 0, f"{what}: the guest's exit status"):
        print(rig.tail(name), file=sys.stderr)
        return
    # io forwarding may drop frames while the port comes up: some must come
    # back, and none wrong.
    s = rig.summary(name)
    c.check(s["verified"] > 0, f"{what}: no frame came back of {s['tx_packets']}")
    c.eq(s["verify_errors"], 0, f"{what}: frames that came back wrong")


def vif_gone(c, rig, what):
    """Destroys the domain, removes its vif and waits for the reaping."""
    if rig.sim_stats(DOM)["state"] != "none":
        rig.simctl_run("destroy", DOM)
    rig.simctl_run("vif-remove", DOM, 0)
    deadline = time.time() + 10
    while rig.sim_stats(DOM)["state"] != "none" and time.time() < deadline:
        time.sleep(0.05)
    c.eq(rig.sim_stats(DOM)["state"], "none", f"{what}: dom{DOM} not reaped")


def removed_between_reads(c, rig, n):
    what = f"between-{n}"
    vif_up(c, rig, what)
    guest_traffic(c, rig, what)
    at = log_len(rig)
    kind, body = xs_control(rig, "xnb-rm-after-read", f"{BE}/frontend", BE)
    c.check(kind == XS_CONTROL and body == b"OK\0", f"{what}: arming: {kind} {body!r}")
    # The frontend's removal makes the backend step, and its first read of
    # `frontend` (answered: the directory is still there) lets the removal in.
    rig.simctl_run("destroy", DOM)
    ok, tail = wait_log(rig, at, f"{BE} removed", 10)
    c.check(ok, f"{what}: the backend did not see its directory removed; its log:\n"
            f"{tail[-1500:]}")
    c.check("created again" not in tail, f"{what}: a removal taken for a re-creation")
    vif_gone(c, rig, what)


def created_again(c, rig, tpmd, n):
    what = f"again-{n}"
    vif_up(c, rig, what)
    at = log_len(rig)
    tpmd.send_signal(signal.SIGSTOP)
    try:
        rig.simctl_run("vif-remove", DOM, 0)
        rig.simctl_run("vif-add", DOM, 0)
    finally:
        tpmd.send_signal(signal.SIGCONT)
    ok, tail = wait_log(rig, at, f"{BE} in InitWait", 10)
    c.check(ok, f"{what}: the backend did not advertise the re-created directory; "
            f"its log:\n{tail[-1500:]}")
    c.check(f"{BE} was created again" in tail, f"{what}: no 'was created again' line")
    c.check(f"{BE} removed" not in tail, f"{what}: a re-creation taken for a removal")
    guest_traffic(c, rig, what)
    at = log_len(rig)
    vif_gone(c, rig, what)
    ok, tail = wait_log(rig, at, f"{BE} removed", 10)
    c.check(ok, f"{what}: the backend did not see its directory removed")


def main():
    if len(sys.argv) != 2:
        print("usage: test_xenbus_race.py BUILD-DIR", file=sys.stderr)
        return 2
    c = Checker("test_xenbus_race")
    with XnbRig(sys.argv[1], "xsrace") as rig:
        rig.start_sim(())
        tpmd, tel = rig.start_testpmd((DOM,), [
            "--forward-mode=io", "--port-topology=loop", "--auto-start",
            "--stats-period", "3600"])
        for n in range(ROUNDS):
            removed_between_reads(c, rig, n)
            created_again(c, rig, tpmd, n)
            if not c.check(tpmd.poll() is None, "dpdk-testpmd died"):
                break
        tel.close()
        tpmd.send_signal(signal.SIGINT)
        tpmd.wait(timeout=30)
        c.eq(tpmd.returncode, 0, "dpdk-testpmd exit status")
        if c.fails:
            print(f"--- testpmd.log\n{rig.tail('testpmd', 4000)}", file=sys.stderr)
    return c.result()


if __name__ == "__main__":
    sys.exit(main())
