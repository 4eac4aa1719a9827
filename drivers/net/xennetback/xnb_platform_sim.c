/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The platform operations over the simulated hypervisor (hypervisor/), so the
 * driver above runs unchanged on a machine without Xen: the backend attaches
 * to the simulator in the devargs' directory as dom0.
 */

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "xnb_internal.h"
#include "xnbsim.h"

struct xnb_gnt {
	struct xnbsim *sim;
	char xs_path[PATH_MAX];
};

struct xnb_evt {
	struct xnbsim_evtchn *h;
};

static int
xnb_sim_gnt_open(struct xnb_gnt **g, const char *dir)
{
	struct xnb_gnt *s;

	if (dir == NULL || dir[0] == '\0')
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->sim = xnbsim_open(dir, 0);
	if (s->sim == NULL) {
		int err = errno;

		free(s);
		return -err;
	}
	xnbsim_xs_path(dir, 0, s->xs_path, sizeof(s->xs_path));
	*g = s;
	return 0;
}

static void
xnb_sim_gnt_close(struct xnb_gnt *g)
{
	if (g == NULL)
		return;
	xnbsim_close(g->sim);
	free(g);
}

static int
xnb_sim_gnt_map(struct xnb_gnt *g, uint16_t domid, uint32_t count,
		const uint32_t *refs, int writable, void **addrs, int16_t *status)
{
	return xnbsim_map(g->sim, domid, count, refs, writable, addrs, status);
}

static int
xnb_sim_gnt_unmap(struct xnb_gnt *g, uint32_t count, void *const *addrs)
{
	return xnbsim_unmap(g->sim, count, addrs);
}

static int
xnb_sim_gnt_unmap_replace(struct xnb_gnt *g, void *addr, void *newpage)
{
	return xnbsim_unmap_replace(g->sim, addr, newpage);
}

static void
xnb_sim_gnt_stats(struct xnb_gnt *g, struct xnb_gnt_stats *st)
{
	struct xnbsim_vm_stats vm;

	xnbsim_vm_stats(g->sim, &vm);
	st->map_syscalls = vm.map_syscalls;
	st->unmap_syscalls = vm.unmap_syscalls;
	st->pages_mapped = vm.pages_mapped;
	st->page_release = 1;
}

static int
xnb_sim_gnt_copy(struct xnb_gnt *g, uint32_t count,
		 xengnttab_grant_copy_segment_t *segs)
{
	return xnbsim_copy(g->sim, count, segs);
}

static int
xnb_sim_evt_open(struct xnb_evt **e, struct xnb_gnt *g)
{
	struct xnb_evt *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return -ENOMEM;
	s->h = xnbsim_evtchn_open(g->sim);
	if (s->h == NULL) {
		free(s);
		return -ENOMEM;
	}
	*e = s;
	return 0;
}

static void
xnb_sim_evt_close(struct xnb_evt *e)
{
	if (e == NULL)
		return;
	xnbsim_evtchn_close(e->h);
	free(e);
}

static int
xnb_sim_evt_fd(struct xnb_evt *e)
{
	return xnbsim_evtchn_fd(e->h);
}

static int
xnb_sim_evt_bind(struct xnb_evt *e, uint16_t domid, uint32_t remote_port)
{
	return xnbsim_evtchn_bind_interdomain(e->h, domid, remote_port);
}

static int
xnb_sim_evt_unbind(struct xnb_evt *e, uint32_t port)
{
	return xnbsim_evtchn_unbind(e->h, port);
}

static int
xnb_sim_evt_notify(struct xnb_evt *e, uint32_t port)
{
	return xnbsim_evtchn_notify(e->h, port);
}

static int
xnb_sim_evt_pending(struct xnb_evt *e)
{
	return xnbsim_evtchn_pending(e->h);
}

static int
xnb_sim_evt_unmask(struct xnb_evt *e, uint32_t port)
{
	return xnbsim_evtchn_unmask(e->h, port);
}

static const char *
xnb_sim_xenstore_path(struct xnb_gnt *g)
{
	return g->xs_path;
}

const struct xnb_platform_ops xnb_platform_sim = {
	.name = "sim",
	.gnt_open = xnb_sim_gnt_open,
	.gnt_close = xnb_sim_gnt_close,
	.gnt_map = xnb_sim_gnt_map,
	.gnt_unmap = xnb_sim_gnt_unmap,
	.gnt_unmap_replace = xnb_sim_gnt_unmap_replace,
	.gnt_stats = xnb_sim_gnt_stats,
	.gnt_copy = xnb_sim_gnt_copy,
	.evt_open = xnb_sim_evt_open,
	.evt_close = xnb_sim_evt_close,
	.evt_fd = xnb_sim_evt_fd,
	.evt_bind = xnb_sim_evt_bind,
	.evt_unbind = xnb_sim_evt_unbind,
	.evt_notify = xnb_sim_evt_notify,
	.evt_pending = xnb_sim_evt_pending,
	.evt_unmask = xnb_sim_evt_unmask,
	.xenstore_path = xnb_sim_xenstore_path,
};
