#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The xennetback authors
"""The toolstack hotplug script app/xnb-vif-ovs, driven the way xl drives a
vif script, against a private OVS-DPDK and the simulator:

  direct  the toolstack writes the vif's backend nodes (xnb-simctl vif-add
          --script), runs `XENBUS_PATH=backend/vif/D/0 xnb-vif-ovs online`:
          the port appears on the bridge named by the `bridge` key, the
          backend reaches InitWait well inside libxl's 10 s, hotplug-status
          is connected, a guest connects and exchanges verified frames with
          another; `offline` removes the port, the backend is Closed and
          nothing of the guest stays mapped
  watch   `xnb-vif-ovs watch` running, the toolstack only writes the
          backend nodes (as libxl does before it waits for InitWait): the
          port appears by itself within 10 s; `online` after that is
          idempotent
  error   a bridge that does not exist: the script exits non-zero with
          hotplug-status=error and a hotplug-error message (what libxl reads)

The script's devargs carry rx_scatter=0 (OVS gets single segments even at
MTU 9000: checked on vif2.0 through DPDK telemetry), unless XNB_DEVARGS
says rx_scatter=1 (checked with a fifth guest).

With --xl-remove, instead: libxl's removal of a vif (what xl shutdown and
xl destroy do, libxl__initiate_device_generic_remove): online=0 and the
backend's state Closing (unless it is Closed already), then up to 10 s
(LIBXL_DESTROY_TIMEOUT) for the backend to be Closed, then the script's
offline and the backend directory removed. The backend must reach Closed
and stay there while online=0, both with the guest alive (shutdown) and
with its domain already gone (destroy); else each vif costs xl 10 s and a
forced removal.

usage: test_hotplug.py BUILDDIR SCRIPT [--xl-remove]
"""

import argparse
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
from xnb_ovs import Checker, Ovs, XnbRig, guest_mac, wait_backend_state  # noqa: E402

LIBXL_INIT_TIMEOUT = 10
LIBXL_DESTROY_TIMEOUT = 10
LIBXL_HOTPLUG_TIMEOUT = 40
SCATTER = 0x2000  # RTE_ETH_RX_OFFLOAD_SCATTER


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("build")
    ap.add_argument("script")
    ap.add_argument("--xl-remove", action="store_true")
    args = ap.parse_args()
    script = os.path.abspath(args.script)
    c = Checker("test_hotplug")

    with XnbRig(args.build, "hotplug") as rig:
        rig.start_sim(())
        ovs = Ovs(rig, False)
        env = dict(ovs.env, XNB_DEVARGS=f"platform=sim,sim={rig.sim}")

        def xs(*cmd):
            r = subprocess.run(list(cmd), capture_output=True, text=True, env=env)
            return r.stdout.strip() if r.returncode == 0 else None

        def hotplug(dom, action):
            r = subprocess.run([script, action], capture_output=True, text=True,
                               env=dict(env, XENBUS_PATH=f"backend/vif/{dom}/0"))
            print(f"+ XENBUS_PATH=backend/vif/{dom}/0 xnb-vif-ovs {action}: exit "
                  f"{r.returncode} {r.stderr.strip()}", flush=True)
            return r.returncode

        def ports():
            return ovs.vsctl("list-ports", "br0").split()

        def toolstack_add(dom, bridge="br0"):
            """What libxl does for a vif: domain, frontend and backend nodes
            (with script=), plus the bridge key from the vif's config."""
            rig.simctl_run("create", dom, "--mem", 4096)
            rig.simctl_run("vif-add", dom, 0, "--script", script)
            xs("xenstore-write", f"/local/domain/0/backend/vif/{dom}/0/bridge", bridge)
            return time.time()

        def xl_remove():
            for dom, how in ((1, "shutdown"), (2, "destroy")):
                be = f"/local/domain/0/backend/vif/{dom}/0"
                toolstack_add(dom)
                c.eq(hotplug(dom, "online"), 0, f"{how}: online for dom{dom}")
                g = rig.start_guest(f"g{dom}", dom, "sink", "--duration", 60, "--quiet")
                if not c.check(wait_backend_state(rig, dom, 4, 10) is not None,
                               f"{how}: dom{dom}'s guest did not connect"):
                    continue
                if how == "destroy":
                    g.send_signal(signal.SIGKILL)
                    g.wait()
                    rig.simctl_run("destroy", dom)
                    time.sleep(0.5)
                if xs("xenstore-read", f"{be}/state") == "6":
                    xs("xenstore-write", f"{be}/online", "0")
                else:
                    xs("xenstore-write", f"{be}/online", "0", f"{be}/state", "5")
                t = wait_backend_state(rig, dom, 6, LIBXL_DESTROY_TIMEOUT)
                print(f"{how}: dom{dom} backend Closed "
                      f"{'never' if t is None else f'after {t:.2f} s'} (libxl waits "
                      f"{LIBXL_DESTROY_TIMEOUT} s, then forces)", flush=True)
                c.check(t is not None, f"{how}: dom{dom}'s backend not Closed within "
                        f"{LIBXL_DESTROY_TIMEOUT} s of online=0 (state "
                        f"{xs('xenstore-read', f'{be}/state')})")
                time.sleep(1)
                c.eq(xs("xenstore-read", f"{be}/state"), "6",
                     f"{how}: dom{dom}'s backend state 1 s later, online=0")
                c.eq(hotplug(dom, "offline"), 0, f"{how}: offline for dom{dom}")
                c.check(f"vif{dom}.0" not in ports(), f"{how}: vif{dom}.0 still on br0")
                xs("xenstore-rm", be)
                if g.poll() is None:
                    g.send_signal(signal.SIGINT)
                    g.wait(timeout=15)

        try:
            ovs.start()
            if args.xl_remove:
                xl_remove()
                return c.result()
            # direct: the script called as xl would, right after the nodes.
            for dom in (1, 2):
                # The script runs while the backend state is watched, as
                # libxl watches it: ovs-vsctl returns only once OVS has
                # configured the port (for the first DPDK port that includes
                # OVS's mempool), the backend is up before that.
                t0 = toolstack_add(dom)
                sp = subprocess.Popen([script, "online"], stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True,
                                      env=dict(env, XENBUS_PATH=f"backend/vif/{dom}/0"))
                t = wait_backend_state(rig, dom, 2, LIBXL_INIT_TIMEOUT)
                took = None if t is None else time.time() - t0
                try:
                    out, _ = sp.communicate(timeout=LIBXL_HOTPLUG_TIMEOUT)
                except subprocess.TimeoutExpired:
                    sp.kill()
                    out, _ = sp.communicate()
                script_took = time.time() - t0
                print(f"direct: dom{dom} backend in InitWait "
                      f"{'never' if took is None else f'{took:.2f} s'} after the "
                      f"toolstack wrote its nodes (libxl allows {LIBXL_INIT_TIMEOUT} s); "
                      f"the script returned after {script_took:.2f} s (exit "
                      f"{sp.returncode}, libxl allows {LIBXL_HOTPLUG_TIMEOUT} s): "
                      f"{out.strip()}", flush=True)
                c.eq(sp.returncode, 0, f"direct: online for dom{dom}")
                c.check(took is not None and took < LIBXL_INIT_TIMEOUT,
                        f"direct: dom{dom} not in InitWait within {LIBXL_INIT_TIMEOUT} s")
                c.check(f"vif{dom}.0" in ports(), f"direct: vif{dom}.0 not on br0")
                c.eq(xs("xenstore-read", f"/local/domain/0/backend/vif/{dom}/0/hotplug-status"),
                     "connected", f"direct: dom{dom} hotplug-status")
            c.eq(ovs.vsctl("get", "Interface", "vif1.0", "options:dpdk-devargs").strip(),
                 f'"net_xennetback_1_0,domid=1,handle=0,rx_scatter=0,platform=sim,'
                 f'sim={rig.sim}"', "direct: devargs")
            # rx_scatter=0: even at MTU 9000 (where OVS 3.1 enables RX
            # scatter on a port that advertises it) OVS gets single segments.
            c.check(ovs.set_mtu(["vif2.0"], 9000), "direct: vif2.0 never ran at MTU 9000")
            info = ovs.port_info(2)
            c.eq((info.get("mtu"), info.get("rx_offloads", 0) & SCATTER), (9000, 0),
                 "direct: vif2.0's MTU and RX scatter as OVS configured them")
            ovs.set_mtu(["vif2.0"], 1500)
            refl = rig.start_guest("reflect", 2, "reflect", "--duration", 60, "--quiet")
            g = rig.start_guest("loop", 1, "loop", "--dst-mac", guest_mac(2), "--count", 2000,
                                "--rate", 2000, "--linger", 2, "--timeout", 60, "--quiet")
            g.wait()
            s = rig.summary("loop")
            c.eq(s["verify_errors"], 0, "direct: verify errors")
            c.check(s["rx_packets"] > 0 and s["rx_packets"] == s["verified"],
                    f"direct: {s['rx_packets']} of 2000 frames back, {s['verified']} verified")
            print(f"direct: dom1 <-> dom2 through the script's ports: {s['rx_packets']} "
                  f"of 2000 back verified", flush=True)
            refl.send_signal(signal.SIGINT)
            refl.wait(timeout=15)
            c.eq(hotplug(1, "offline"), 0, "direct: offline for dom1")
            c.check("vif1.0" not in ports(), "direct: vif1.0 still on br0 after offline")
            c.check(wait_backend_state(rig, 1, 6, 10) is not None,
                    "direct: dom1 backend not Closed after offline")
            deadline = time.time() + 10
            while rig.sim_stats(1)["grants_mapped"] and time.time() < deadline:
                time.sleep(0.1)
            c.eq(rig.sim_stats(1)["grants_mapped"], 0, "direct: dom1 grants mapped after offline")
            c.check("vif2.0" in ports(), "direct: vif2.0 went away with vif1.0")

            # watch: only the nodes are written, as libxl does before waiting.
            # Its own process group: the script and its xenstore-watch end together.
            with open(rig.log("watch"), "w") as out:
                w = subprocess.Popen([script, "watch"], stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=subprocess.STDOUT, env=env,
                                     start_new_session=True)
            time.sleep(0.5)
            t0 = toolstack_add(3)
            t = wait_backend_state(rig, 3, 2, LIBXL_INIT_TIMEOUT)
            took = None if t is None else time.time() - t0
            print(f"watch: dom3 backend in InitWait "
                  f"{'never' if took is None else f'{took:.2f} s'} after the toolstack "
                  f"wrote its nodes, with no script call (libxl allows "
                  f"{LIBXL_INIT_TIMEOUT} s)", flush=True)
            c.check(took is not None and took < LIBXL_INIT_TIMEOUT,
                    f"watch: dom3 not in InitWait within {LIBXL_INIT_TIMEOUT} s")
            c.eq(hotplug(3, "online"), 0, "watch: online after InitWait (as libxl)")
            c.eq(ports().count("vif3.0"), 1, "watch: vif3.0 on br0 once")
            g3 = rig.start_guest("g3", 3, "sink", "--duration", 30, "--quiet")
            c.check(wait_backend_state(rig, 3, 4, 10) is not None,
                    "watch: dom3's guest did not connect")
            g3.send_signal(signal.SIGINT)
            g3.wait(timeout=15)
            c.eq(hotplug(3, "offline"), 0, "watch: offline for dom3")
            c.check("vif3.0" not in ports(), "watch: vif3.0 still on br0")
            os.killpg(w.pid, signal.SIGTERM)
            w.wait(timeout=10)

            # XNB_DEVARGS=rx_scatter=1 replaces the script's rx_scatter=0
            # (the driver refuses a key given twice: the port would fail).
            toolstack_add(5)
            r = subprocess.run([script, "online"], capture_output=True, text=True,
                               env=dict(env, XENBUS_PATH="backend/vif/5/0",
                                        XNB_DEVARGS=f"{env['XNB_DEVARGS']},rx_scatter=1"))
            c.eq(r.returncode, 0, f"override: online with rx_scatter=1: {r.stderr.strip()}")
            c.eq(ovs.vsctl("get", "Interface", "vif5.0", "options:dpdk-devargs").strip(),
                 f'"net_xennetback_5_0,domid=5,handle=0,platform=sim,sim={rig.sim},'
                 f'rx_scatter=1"', "override: devargs")
            c.eq(hotplug(5, "offline"), 0, "override: offline for dom5")

            # error: a bridge that does not exist.
            toolstack_add(4, bridge="nosuchbr")
            rc = hotplug(4, "online")
            c.check(rc != 0, "error: online onto a missing bridge exited 0")
            c.eq(xs("xenstore-read", "/local/domain/0/backend/vif/4/0/hotplug-status"),
                 "error", "error: hotplug-status")
            err = xs("xenstore-read", "/local/domain/0/backend/vif/4/0/hotplug-error") or ""
            c.check("nosuchbr" in err, f"error: hotplug-error does not name the bridge: {err!r}")
            c.check(ovs.alive(), "ovs-vswitchd died")
        finally:
            if c.fails:
                for name in ("vswitchd", "watch", "loop", "reflect"):
                    print(f"--- {name}.log\n{rig.tail(name)}", file=sys.stderr)
            ovs.stop()
    return c.result()


if __name__ == "__main__":
    sys.exit(main())
