/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The platform operations on real Xen: /dev/xen/gntdev (maps through its
 * ioctls, copies through libxengnttab) and libxenevtchn (/dev/xen/evtchn).
 * The only file of the driver that talks to them.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xengnttab.h>
#include <xen/sys/gntdev.h>

#include "xnb_internal.h"

struct xnb_gnt {
	xengnttab_handle *xgt;	/* grant copy */
	int fd;			/* /dev/xen/gntdev, for maps we can swap pages under */
};

struct xnb_evt {
	xenevtchn_handle *xce;
};

static int
xnb_xen_gnt_open(struct xnb_gnt **g, const char *arg __rte_unused)
{
	struct xnb_gnt *x;
	int err;

	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return -ENOMEM;
	x->fd = open("/dev/xen/gntdev", O_RDWR | O_CLOEXEC);
	if (x->fd < 0) {
		err = errno;
		free(x);
		return -err;
	}
	x->xgt = xengnttab_open(NULL, 0);
	if (x->xgt == NULL) {
		err = errno;
		close(x->fd);
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
	close(g->fd);
	free(g);
}

/*
 * Maps go through the gntdev ioctls directly (what libxengnttab does inside)
 * because the lifetime tracker must be able to put its own page where a
 * grant was mapped and still release the grant (gnt_unmap_replace), which
 * needs the gntdev index of the mapping after the address no longer shows it.
 * Each ref gets its own mapping so pages can be released one by one, at the
 * price of one gntdev map (and hypercall) per page.
 */
static void *
xnb_xen_map_one(struct xnb_gnt *g, uint16_t domid, uint32_t ref, int writable)
{
	struct ioctl_gntdev_map_grant_ref map = { .count = 1 };
	struct ioctl_gntdev_unmap_grant_ref unmap = { .count = 1 };
	void *va;

	map.refs[0].domid = domid;
	map.refs[0].ref = ref;
	if (ioctl(g->fd, IOCTL_GNTDEV_MAP_GRANT_REF, &map) < 0)
		return NULL;
	va = mmap(NULL, XNB_PAGE_SIZE, PROT_READ | (writable ? PROT_WRITE : 0),
		  MAP_SHARED, g->fd, map.index);
	if (va == MAP_FAILED) {
		unmap.index = map.index;
		ioctl(g->fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &unmap);
		return NULL;
	}
	return va;
}

static int
xnb_xen_gnt_map(struct xnb_gnt *g, uint16_t domid, uint32_t count,
		const uint32_t *refs, int writable, void **addrs, int16_t *status)
{
	int done = 0;

	for (uint32_t i = 0; i < count; i++) {
		addrs[i] = xnb_xen_map_one(g, domid, refs[i], writable);
		status[i] = addrs[i] != NULL ? GNTST_okay : GNTST_general_error;
		done += addrs[i] != NULL;
	}
	return done;
}

/* The gntdev index of the mapping at va (before va changes hands). */
static int
xnb_xen_index(struct xnb_gnt *g, void *va, uint64_t *index)
{
	struct ioctl_gntdev_get_offset_for_vaddr q = { .vaddr = (uintptr_t)va };

	if (ioctl(g->fd, IOCTL_GNTDEV_GET_OFFSET_FOR_VADDR, &q) < 0 || q.count != 1)
		return -EINVAL;
	*index = q.offset;
	return 0;
}

static int
xnb_xen_release(struct xnb_gnt *g, uint64_t index)
{
	struct ioctl_gntdev_unmap_grant_ref unmap = { .index = index, .count = 1 };

	return ioctl(g->fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &unmap) < 0 ? -errno : 0;
}

static int
xnb_xen_gnt_unmap(struct xnb_gnt *g, uint32_t count, void *const *addrs)
{
	uint64_t index;
	int rc = 0;

	for (uint32_t i = 0; i < count; i++) {
		if (xnb_xen_index(g, addrs[i], &index) < 0) {
			rc = -EINVAL;
			continue;
		}
		munmap(addrs[i], XNB_PAGE_SIZE);
		if (xnb_xen_release(g, index) < 0)
			rc = -EIO;
	}
	return rc;
}

/*
 * Moving newpage over the mapping unmaps the grant from our page tables in
 * the same step (no instant where addr is unmapped); the ioctl then drops
 * gntdev's record of it, which releases the grant.
 */
static int
xnb_xen_gnt_unmap_replace(struct xnb_gnt *g, void *addr, void *newpage)
{
	uint64_t index;

	if (xnb_xen_index(g, addr, &index) < 0)
		return -EINVAL;
	if (mremap(newpage, XNB_PAGE_SIZE, XNB_PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED,
		   addr) == MAP_FAILED)
		return -errno;
	/* The swap is done (newpage is gone from its old address, which may
	 * be reused at once): report success whatever the ioctl says. Its
	 * record then lives until the gntdev handle is closed. */
	if (xnb_xen_release(g, index) < 0)
		XNB_LOG(WARNING, "gntdev index %" PRIu64 " not released: %s", index,
			strerror(errno));
	return 0;
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
