/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The platform operations on real Xen: libxengnttab (/dev/xen/gntdev) and
 * libxenevtchn (/dev/xen/evtchn). The only file of the driver that calls
 * them.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xengnttab.h>

#include "xnb_internal.h"

struct xnb_gnt {
	xengnttab_handle *xgt;
};

struct xnb_evt {
	xenevtchn_handle *xce;
};

static int
xnb_xen_gnt_open(struct xnb_gnt **g, const char *arg __rte_unused)
{
	struct xnb_gnt *x;

	if (access("/dev/xen/gntdev", R_OK | W_OK) != 0)
		return -errno;
	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -ENOMEM;
	x->xgt = xengnttab_open(NULL, 0);
	if (x->xgt == NULL) {
		int err = errno;

		free(x);
		return -err;
	}
	*g = x;
	return 0;
}

static void
xnb_xen_gnt_close(struct xnb_gnt *g)
{
	if (g == NULL)
		return;
	xengnttab_close(g->xgt);
	free(g);
}

/*
 * gntdev maps a batch into one VMA that cannot be unmapped in parts, and a
 * packet's pages are released one by one: so each ref gets its own mapping
 * here, at the price of one gntdev map (and hypercall) per page.
 */
static int
xnb_xen_gnt_map(struct xnb_gnt *g, uint16_t domid, uint32_t count,
		const uint32_t *refs, int writable, void **addrs, int16_t *status)
{
	int done = 0;

	for (uint32_t i = 0; i < count; i++) {
		addrs[i] = xengnttab_map_grant_ref(g->xgt, domid, refs[i],
						   PROT_READ | (writable ? PROT_WRITE : 0));
		status[i] = addrs[i] != NULL ? GNTST_okay : GNTST_general_error;
		done += addrs[i] != NULL;
	}
	return done;
}

static int
xnb_xen_gnt_unmap(struct xnb_gnt *g, uint32_t count, void *const *addrs)
{
	int rc = 0;

	for (uint32_t i = 0; i < count; i++)
		if (xengnttab_unmap(g->xgt, addrs[i], 1) < 0)
			rc = -errno;
	return rc;
}

/*
 * libxengnttab finds a mapping's gntdev slot through the VMA at its address,
 * so a page moved over it first would orphan the slot, and unmapping first
 * leaves a window where the application's pointer faults. Replacing in place
 * needs the raw gntdev ioctls; until then the lifetime tracker keeps such a
 * page mapped and answers the guest when the application frees it.
 */
static int
xnb_xen_gnt_unmap_replace(struct xnb_gnt *g __rte_unused, void *addr __rte_unused,
			  void *newpage __rte_unused)
{
	return -ENOTSUP;
}

static int
xnb_xen_gnt_copy(struct xnb_gnt *g, uint32_t count,
		 xengnttab_grant_copy_segment_t *segs)
{
	return xengnttab_grant_copy(g->xgt, count, segs) < 0 ? -errno : 0;
}

static int
xnb_xen_evt_open(struct xnb_evt **e, struct xnb_gnt *g __rte_unused)
{
	struct xnb_evt *x = calloc(1, sizeof(*x));
	int fl;

	if (x == NULL)
		return -ENOMEM;
	x->xce = xenevtchn_open(NULL, 0);
	if (x->xce == NULL) {
		int err = errno;

		free(x);
		return -err;
	}
	/* xenevtchn_pending() reads the fd: it must not block a poll loop. */
	fl = fcntl(xenevtchn_fd(x->xce), F_GETFL);
	if (fl < 0 || fcntl(xenevtchn_fd(x->xce), F_SETFL, fl | O_NONBLOCK) < 0) {
		int err = errno;

		xenevtchn_close(x->xce);
		free(x);
		return -err;
	}
	*e = x;
	return 0;
}

static void
xnb_xen_evt_close(struct xnb_evt *e)
{
	if (e == NULL)
		return;
	xenevtchn_close(e->xce);
	free(e);
}

static int
xnb_xen_evt_fd(struct xnb_evt *e)
{
	return xenevtchn_fd(e->xce);
}

static int
xnb_xen_evt_bind(struct xnb_evt *e, uint16_t domid, uint32_t remote_port)
{
	xenevtchn_port_or_error_t p = xenevtchn_bind_interdomain(e->xce, domid,
								 remote_port);

	return p < 0 ? -errno : (int)p;
}

static int
xnb_xen_evt_unbind(struct xnb_evt *e, uint32_t port)
{
	return xenevtchn_unbind(e->xce, port) < 0 ? -errno : 0;
}

static int
xnb_xen_evt_notify(struct xnb_evt *e, uint32_t port)
{
	return xenevtchn_notify(e->xce, port) < 0 ? -errno : 0;
}

static int
xnb_xen_evt_pending(struct xnb_evt *e)
{
	xenevtchn_port_or_error_t p = xenevtchn_pending(e->xce);

	return p < 0 ? -EAGAIN : (int)p;
}

static int
xnb_xen_evt_unmask(struct xnb_evt *e, uint32_t port)
{
	return xenevtchn_unmask(e->xce, port) < 0 ? -errno : 0;
}

static const char *
xnb_xen_xenstore_path(struct xnb_gnt *g __rte_unused)
{
	return NULL;
}

const struct xnb_platform_ops xnb_platform_xen = {
	.name = "xen",
	.gnt_open = xnb_xen_gnt_open,
	.gnt_close = xnb_xen_gnt_close,
	.gnt_map = xnb_xen_gnt_map,
	.gnt_unmap = xnb_xen_gnt_unmap,
	.gnt_unmap_replace = xnb_xen_gnt_unmap_replace,
	.gnt_copy = xnb_xen_gnt_copy,
	.evt_open = xnb_xen_evt_open,
	.evt_close = xnb_xen_evt_close,
	.evt_fd = xnb_xen_evt_fd,
	.evt_bind = xnb_xen_evt_bind,
	.evt_unbind = xnb_xen_evt_unbind,
	.evt_notify = xnb_xen_evt_notify,
	.evt_pending = xnb_xen_evt_pending,
	.evt_unmask = xnb_xen_evt_unmask,
	.xenstore_path = xnb_xen_xenstore_path,
};
