/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The platform operations on real Xen: /dev/xen/gntdev (maps through its
 * ioctls, copies through libxengnttab) and libxenevtchn (/dev/xen/evtchn).
 * The only file of the driver that talks to them.
 *
 * Grant maps (Linux 6.1's drivers/xen/gntdev.c, read for this file):
 *  - IOCTL_GNTDEV_MAP_GRANT_REF with count N only records the grants; the
 *    mmap of the N pages maps them all with one gnttab_map_refs() call, and
 *    fails whole when one grant fails (gntdev_mmap -> out_put_map).
 *  - The VMA holds its own reference on the map (gntdev_mmap, and
 *    gntdev_vma_open for each piece a split makes), so the record the
 *    ioctl made can be dropped (IOCTL_GNTDEV_UNMAP_GRANT_REF) right after
 *    the mmap: what happens to the grants then depends only on the VMA.
 *  - PV dom0 (use_ptemod): an MMU interval notifier covers the mapping;
 *    munmap (or mremap over) part of it unmaps exactly those grants
 *    (gntdev_invalidate -> unmap_grant_pages(map, offset, pages)), with the
 *    VMA split that 6.1 accommodates ("xen/gntdev: Accommodate VMA
 *    splitting": pages_vm_start instead of the VMA's start). So one mapping
 *    per burst, released page by page.
 *  - Auto-translated dom0 (PVH/HVM): the pages are inserted with
 *    vm_map_pages_zero() and no notifier is registered; a grant is
 *    unmapped only when the map's last reference goes (gntdev_put_map),
 *    i.e. when every page of the mapping is gone. The tracker answers the
 *    guest page by page, so there every page gets a mapping of its own.
 * Which one gntdev does is XENFEAT_auto_translated_physmap (gntdev_init),
 * read once at open from /sys/hypervisor.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xenevtchn.h>
#include <xengnttab.h>
#include <xen/sys/gntdev.h>

#include "xnb_internal.h"

/* Grants per IOCTL_GNTDEV_MAP_GRANT_REF (the tracker maps at most a ring's
 * worth per call; larger calls are split). gntdev's limit is 64K. */
#define XNB_XEN_MAP_MAX		256
#define XNB_XENFEAT_AUTO_TRANSLATED	2	/* xen/features.h */

struct xnb_gnt {
	xengnttab_handle *xgt;	/* grant copy */
	int fd;			/* /dev/xen/gntdev, for maps we can swap pages under */
	bool page_release;	/* PV dom0: a page of a mapping can be released alone */
	bool batch;		/* so one mapping per map call */
	/* xnb_gnt_stats; any thread (queues, control) adds, relaxed. */
	uint64_t map_syscalls;
	uint64_t unmap_syscalls;
	uint64_t pages_mapped;
};

struct xnb_evt {
	xenevtchn_handle *xce;
};

/* The ioctl's argument with room for XNB_XEN_MAP_MAX grants. */
union xnb_xen_map_arg {
	struct ioctl_gntdev_map_grant_ref op;
	uint8_t room[sizeof(struct ioctl_gntdev_map_grant_ref) +
		     (XNB_XEN_MAP_MAX - 1) * sizeof(struct ioctl_gntdev_grant_ref)];
};

static void
xnb_xen_count(uint64_t *c, uint64_t n)
{
	__atomic_fetch_add(c, n, __ATOMIC_RELAXED);
}

/*
 * 1: this domain is auto-translated (PVH/HVM), 0: PV, -1: unknown. The
 * features bitmap is what gntdev decides on; guest_type says the same in
 * words on kernels without it.
 */
static int
xnb_xen_auto_translated(void)
{
	char buf[64];
	FILE *f;
	int r = -1;

	f = fopen("/sys/hypervisor/properties/features", "r");
	if (f != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL) {
			char *end;
			unsigned long long v = strtoull(buf, &end, 16);

			if (end != buf)
				r = !!(v & (1ull << XNB_XENFEAT_AUTO_TRANSLATED));
		}
		fclose(f);
	}
	if (r >= 0)
		return r;
	f = fopen("/sys/hypervisor/guest_type", "r");
	if (f != NULL) {
		if (fgets(buf, sizeof(buf), f) != NULL)
			r = strncmp(buf, "PV\n", 3) == 0 ? 0 : 1;
		fclose(f);
	}
	return r;
}

static int
xnb_xen_gnt_open(struct xnb_gnt **g, const char *arg __rte_unused)
{
	static int logged;
	struct xnb_gnt *x;
	const char *env;
	int err, at;

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
	at = xnb_xen_auto_translated();
	x->page_release = at == 0;
	x->batch = x->page_release;
	/* A diagnostic knob: the per-page mapping of auto-translated dom0s,
	 * on a PV dom0 too, to measure what batching saves. */
	env = getenv("XNB_XEN_MAP_PER_PAGE");
	if (env != NULL && strcmp(env, "1") == 0)
		x->batch = false;
	if (__atomic_exchange_n(&logged, 1, __ATOMIC_RELAXED) == 0)
		XNB_LOG(NOTICE, "gntdev: %s dom0: %s", at == 0 ? "PV" :
			at == 1 ? "auto-translated (PVH/HVM)" : "unknown (no /sys/hypervisor)",
			x->batch ? "one mapping per burst, pages released one by one" :
			"one mapping per page (a partial unmap would not release its grant)");
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
 * Maps count (<= XNB_XEN_MAP_MAX) grants as one gntdev mapping: the ioctl
 * records them, the mmap maps them (one hypercall for all), then the
 * record is dropped so that the VMA alone holds the map (see the top of
 * the file). Three system calls whatever count is. Returns the address of
 * the first page or NULL with errno set; on failure nothing stays mapped
 * or recorded.
 */
static void *
xnb_xen_map_range(struct xnb_gnt *g, uint16_t domid, uint32_t count,
		  const uint32_t *refs, int writable)
{
	union xnb_xen_map_arg a;
	struct ioctl_gntdev_unmap_grant_ref unmap = { .count = count };
	void *va;
	int err;

	a.op.count = count;
	for (uint32_t i = 0; i < count; i++) {
		a.op.refs[i].domid = domid;
		a.op.refs[i].ref = refs[i];
	}
	xnb_xen_count(&g->map_syscalls, 1);
	if (ioctl(g->fd, IOCTL_GNTDEV_MAP_GRANT_REF, &a.op) < 0)
		return NULL;
	unmap.index = a.op.index;
	xnb_xen_count(&g->map_syscalls, 2);
	va = mmap(NULL, (size_t)count * XNB_PAGE_SIZE,
		  PROT_READ | (writable ? PROT_WRITE : 0), MAP_SHARED, g->fd, a.op.index);
	err = errno;
	if (ioctl(g->fd, IOCTL_GNTDEV_UNMAP_GRANT_REF, &unmap) < 0 && va != MAP_FAILED) {
		/* Cannot happen (the record is ours and just made): the
		 * mapping still works, its record lives until close. */
		static int warned;

		if (__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED) == 0)
			XNB_LOG(WARNING, "gntdev record %" PRIu64 " not dropped: %s",
				(uint64_t)a.op.index, strerror(errno));
	}
	if (va == MAP_FAILED) {
		errno = err;
		return NULL;
	}
	xnb_xen_count(&g->pages_mapped, count);
	return va;
}

static int
xnb_xen_gnt_map(struct xnb_gnt *g, uint16_t domid, uint32_t count,
		const uint32_t *refs, int writable, void **addrs, int16_t *status)
{
	int done = 0;

	for (uint32_t i = 0; i < count; ) {
		uint32_t k = RTE_MIN(count - i, (uint32_t)XNB_XEN_MAP_MAX);
		uint8_t *va = NULL;

		/* A batch fails whole when one grant in it does (the guest's
		 * error or malice): then page by page, to know which. */
		if (g->batch && k > 1)
			va = xnb_xen_map_range(g, domid, k, refs + i, writable);
		if (va != NULL) {
			for (uint32_t j = 0; j < k; j++) {
				addrs[i + j] = va + (size_t)j * XNB_PAGE_SIZE;
				status[i + j] = GNTST_okay;
			}
			done += k;
			i += k;
			continue;
		}
		for (uint32_t j = 0; j < k; j++) {
			addrs[i + j] = xnb_xen_map_range(g, domid, 1, refs + i + j, writable);
			status[i + j] = addrs[i + j] != NULL ? GNTST_okay : GNTST_general_error;
			done += addrs[i + j] != NULL;
		}
		i += k;
	}
	return done;
}

static int
xnb_xen_addr_cmp(const void *a, const void *b)
{
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Each page's munmap releases its grant (PV: the notifier; per-page
 * mappings: the map's last reference). Pages at adjacent addresses go in
 * one munmap, whichever mappings they belong to.
 */
static int
xnb_xen_gnt_unmap(struct xnb_gnt *g, uint32_t count, void *const *addrs)
{
	uintptr_t a[XNB_XEN_MAP_MAX];
	int rc = 0;

	for (uint32_t i = 0; i < count; ) {
		uint32_t n = RTE_MIN(count - i, (uint32_t)XNB_XEN_MAP_MAX), j, run;

		for (j = 0; j < n; j++)
			a[j] = (uintptr_t)addrs[i + j];
		i += n;
		qsort(a, n, sizeof(a[0]), xnb_xen_addr_cmp);
		for (j = 0; j < n; j += run) {
			for (run = 1; j + run < n &&
			     a[j + run] == a[j] + (uintptr_t)run * XNB_PAGE_SIZE; run++)
				;
			xnb_xen_count(&g->unmap_syscalls, 1);
			if (munmap((void *)a[j], (size_t)run * XNB_PAGE_SIZE) < 0 && rc == 0)
				rc = -errno;
		}
	}
	return rc;
}

/*
 * Moving newpage over the mapping unmaps the grant from our page tables in
 * the same step (no instant where addr is unmapped): mremap first unmaps
 * the destination page, which releases its grant as a munmap would
 * (xnb_xen_gnt_unmap), then moves newpage there. No record to drop: the
 * map call dropped it.
 */
static int
xnb_xen_gnt_unmap_replace(struct xnb_gnt *g, void *addr, void *newpage)
{
	xnb_xen_count(&g->unmap_syscalls, 1);
	if (mremap(newpage, XNB_PAGE_SIZE, XNB_PAGE_SIZE, MREMAP_MAYMOVE | MREMAP_FIXED,
		   addr) == MAP_FAILED)
		return -errno;
	return 0;
}

static void
xnb_xen_gnt_stats(struct xnb_gnt *g, struct xnb_gnt_stats *st)
{
	st->map_syscalls = __atomic_load_n(&g->map_syscalls, __ATOMIC_RELAXED);
	st->unmap_syscalls = __atomic_load_n(&g->unmap_syscalls, __ATOMIC_RELAXED);
	st->pages_mapped = __atomic_load_n(&g->pages_mapped, __ATOMIC_RELAXED);
	st->page_release = g->page_release;
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
	.gnt_stats = xnb_xen_gnt_stats,
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
