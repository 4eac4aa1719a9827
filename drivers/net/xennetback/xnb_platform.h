/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The hypervisor operations the driver needs, as one table of function
 * pointers (the shape of QEMU's xen_backend_ops.h). xnb_platform_xen.c fills it
 * from libxengnttab/libxenevtchn, xnb_platform_sim.c from the simulator in
 * hypervisor/. No other driver file talks to the hypervisor, so the code above
 * this table is the same on real Xen and in the tests.
 *
 * xenstore is not here: both platforms use the real libxenstore; the simulator
 * only changes which socket it connects to (xenstore_path).
 */

#ifndef XNB_PLATFORM_H
#define XNB_PLATFORM_H

#include <stdint.h>

#include <xengnttab.h>	/* xengnttab_grant_copy_segment_t, the batch-copy unit */

struct xnb_gnt;		/* a grant-table handle */
struct xnb_evt;		/* an event-channel handle: one pollable fd */

/* What a grant handle has cost the backend's kernel so far (xstats). */
struct xnb_gnt_stats {
	uint64_t map_syscalls;		/* ioctls and mmaps that map grants */
	uint64_t unmap_syscalls;	/* munmaps, mremaps and ioctls that release them */
	uint64_t pages_mapped;
	/* 1: one page of a batch mapping can be released alone (PV dom0,
	 * the simulator); 0: a batch is released whole (PVH/HVM dom0). */
	uint64_t page_release;
};

struct xnb_platform_ops {
	const char *name;

	/* arg: platform-specific (the simulator's directory), may be NULL. */
	int (*gnt_open)(struct xnb_gnt **g, const char *arg);
	void (*gnt_close)(struct xnb_gnt *g);
	/*
	 * Map count grants of domid, as one batch where the platform can (one
	 * call into the hypervisor). Each page can be unmapped on its own
	 * (gnt_unmap, gnt_unmap_replace) whatever the platform does inside;
	 * addrs[i] is NULL when status[i] != GNTST_okay. Returns how many were
	 * mapped or -errno.
	 */
	int (*gnt_map)(struct xnb_gnt *g, uint16_t domid, uint32_t count,
		       const uint32_t *refs, int writable, void **addrs,
		       int16_t *status);
	int (*gnt_unmap)(struct xnb_gnt *g, uint32_t count, void *const *addrs);
	/* Put newpage (private anonymous, same bytes) at addr atomically, and
	 * release the grant that was mapped there. On failure (-errno) nothing
	 * moved: the grant is still mapped at addr, newpage is the caller's. */
	int (*gnt_unmap_replace)(struct xnb_gnt *g, void *addr, void *newpage);
	void (*gnt_stats)(struct xnb_gnt *g, struct xnb_gnt_stats *st);
	/* One batched grant copy; per-segment status in segs[i].status. */
	int (*gnt_copy)(struct xnb_gnt *g, uint32_t count,
			xengnttab_grant_copy_segment_t *segs);

	int (*evt_open)(struct xnb_evt **e, struct xnb_gnt *g);
	void (*evt_close)(struct xnb_evt *e);
	int (*evt_fd)(struct xnb_evt *e);
	int (*evt_bind)(struct xnb_evt *e, uint16_t domid, uint32_t remote_port);
	int (*evt_unbind)(struct xnb_evt *e, uint32_t port);
	int (*evt_notify)(struct xnb_evt *e, uint32_t port);
	int (*evt_pending)(struct xnb_evt *e);	/* port or -EAGAIN */
	int (*evt_unmask)(struct xnb_evt *e, uint32_t port);

	/* The xenstored socket to use, or NULL for libxenstore's default. */
	const char *(*xenstore_path)(struct xnb_gnt *g);
};

extern const struct xnb_platform_ops xnb_platform_xen;
extern const struct xnb_platform_ops xnb_platform_sim;

#endif /* XNB_PLATFORM_H */
