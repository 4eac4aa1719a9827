/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The fake hypervisor of xnb_fake_plat.h: grant map, unmap, unmap_replace
 * and copy over a memfd of guest pages, with the checks Xen and gntdev make
 * (domain, ref, read-only, page bounds, a local side that is itself a
 * foreign mapping) and the failures a test asks for. Shared by
 * tests/unit/test_lifetime.c and the harnesses in tests/fuzz/, so the
 * semantics they test against are one.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* memfd_create, mremap */
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "xnb_fake_plat.h"

#define FAKE_PAGE	4096u
#define FAKE_MASK	(XNB_FAKE_MAX_LIVE - 1)

static uint32_t
fake_hash(uintptr_t va)
{
	return (uint32_t)(((va >> 12) * 0x9e3779b97f4a7c15ull) >> 40) & FAKE_MASK;
}

static int
fake_find(const struct xnb_fake *f, uintptr_t va)
{
	for (uint32_t i = fake_hash(va), n = 0; n < XNB_FAKE_MAX_LIVE;
	     i = (i + 1) & FAKE_MASK, n++) {
		if (f->live[i].va == va)
			return (int)i;
		if (f->live[i].va == 0)
			return -1;
	}
	return -1;
}

static int
fake_insert(struct xnb_fake *f, uintptr_t va, uint32_t ref)
{
	if (f->mapped >= XNB_FAKE_MAX_LIVE - 1)
		return -1;
	for (uint32_t i = fake_hash(va);; i = (i + 1) & FAKE_MASK)
		if (f->live[i].va == 0) {
			f->live[i].va = va;
			f->live[i].ref = ref;
			f->mapped++;
			f->ref_mapped[ref]++;
			return 0;
		}
}

/* Linear probing: close the gap so later entries stay reachable. */
static void
fake_remove(struct xnb_fake *f, int at)
{
	uint32_t i = (uint32_t)at, j = i;

	f->ref_mapped[f->live[i].ref]--;
	f->mapped--;
	f->live[i].va = 0;
	for (;;) {
		uint32_t h;

		j = (j + 1) & FAKE_MASK;
		if (f->live[j].va == 0)
			return;
		h = fake_hash(f->live[j].va);
		/* Entry j may move to i if its home is not in (i, j]. */
		if ((i <= j) ? (h <= i || h > j) : (h <= i && h > j)) {
			f->live[i] = f->live[j];
			f->live[j].va = 0;
			i = j;
		}
	}
}

int
xnb_fake_init(struct xnb_fake *f, uint16_t domid, uint32_t npages)
{
	memset(f, 0, sizeof(*f));
	f->domid = domid;
	f->npages = npages;
	f->memfd = memfd_create("xnb-fake-guest", MFD_CLOEXEC);
	if (f->memfd < 0)
		return -errno;
	if (ftruncate(f->memfd, (off_t)npages * FAKE_PAGE) < 0)
		goto fail;
	f->mem = mmap(NULL, (size_t)npages * FAKE_PAGE, PROT_READ | PROT_WRITE,
		      MAP_SHARED, f->memfd, 0);
	if (f->mem == MAP_FAILED) {
		f->mem = NULL;
		goto fail;
	}
	f->ref_state = calloc(npages, 1);
	f->ref_mapped = calloc(npages, sizeof(*f->ref_mapped));
	if (f->ref_state == NULL || f->ref_mapped == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	return 0;
fail:
	{
		int rc = -errno;

		xnb_fake_fini(f);
		return rc;
	}
}

void
xnb_fake_fini(struct xnb_fake *f)
{
	if (f->mem != NULL)
		munmap(f->mem, (size_t)f->npages * FAKE_PAGE);
	if (f->memfd >= 0)
		close(f->memfd);
	free(f->ref_state);
	free(f->ref_mapped);
	f->mem = NULL;
	f->memfd = -1;
	f->ref_state = NULL;
	f->ref_mapped = NULL;
}

void
xnb_fake_reset(struct xnb_fake *f)
{
	memset(f->ref_state, XNB_FAKE_GRANTED, f->npages);
	f->fail_map_calls = f->fail_copy_calls = f->fail_replace_calls = 0;
	f->refuse_copies = f->refuse_replace = false;
	f->calls_map = f->calls_unmap = f->calls_copy = f->calls_replace = 0;
	f->notifies = f->bad_unmaps = f->local_in_foreign = 0;
}

uint8_t *
xnb_fake_page(struct xnb_fake *f, uint32_t ref)
{
	return ref < f->npages ? f->mem + (size_t)ref * FAKE_PAGE : NULL;
}

int
xnb_fake_ref_of(const struct xnb_fake *f, const void *p)
{
	int at = fake_find(f, (uintptr_t)p & ~(uintptr_t)(FAKE_PAGE - 1));

	return at < 0 ? -1 : (int)f->live[at].ref;
}

bool
xnb_fake_is_mapped(const struct xnb_fake *f, const void *p, size_t len)
{
	uintptr_t a = (uintptr_t)p & ~(uintptr_t)(FAKE_PAGE - 1);
	uintptr_t end = (uintptr_t)p + (len > 0 ? len - 1 : 0);

	if (f->mapped == 0)
		return false;
	for (; a <= end; a += FAKE_PAGE)
		if (fake_find(f, a) >= 0)
			return true;
	return false;
}

static struct xnb_fake *
fake_of(struct xnb_gnt *g)
{
	return (struct xnb_fake *)g;
}

/* The checks Xen's grant table makes on one foreign side. */
static int16_t
fake_grant_check(const struct xnb_fake *f, uint16_t domid, uint32_t ref, bool write)
{
	if (domid != f->domid)
		return GNTST_bad_domain;
	if (ref >= f->npages)
		return GNTST_bad_gntref;
	if (f->ref_state[ref] == XNB_FAKE_REVOKED)
		return GNTST_bad_gntref;
	if (write && f->ref_state[ref] == XNB_FAKE_READONLY)
		return GNTST_permission_denied;
	return GNTST_okay;
}

static int
fake_map(struct xnb_gnt *g, uint16_t domid, uint32_t count, const uint32_t *refs,
	 int writable, void **addrs, int16_t *status)
{
	struct xnb_fake *f = fake_of(g);
	int n = 0;

	f->calls_map++;
	if (f->fail_map_calls > 0) {
		f->fail_map_calls--;
		for (uint32_t i = 0; i < count; i++) {
			addrs[i] = NULL;
			status[i] = GNTST_general_error;
		}
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < count; i++) {
		void *p;

		addrs[i] = NULL;
		status[i] = fake_grant_check(f, domid, refs[i], writable);
		if (status[i] != GNTST_okay)
			continue;
		p = mmap(NULL, FAKE_PAGE, PROT_READ | (writable ? PROT_WRITE : 0),
			 MAP_SHARED, f->memfd, (off_t)refs[i] * FAKE_PAGE);
		if (p == MAP_FAILED) {
			status[i] = GNTST_no_device_space;
			continue;
		}
		if (fake_insert(f, (uintptr_t)p, refs[i]) < 0) {
			munmap(p, FAKE_PAGE);
			status[i] = GNTST_no_device_space;
			continue;
		}
		addrs[i] = p;
		n++;
	}
	return n;
}

static int
fake_unmap(struct xnb_gnt *g, uint32_t count, void *const *addrs)
{
	struct xnb_fake *f = fake_of(g);
	int rc = 0;

	f->calls_unmap++;
	for (uint32_t i = 0; i < count; i++) {
		int at = fake_find(f, (uintptr_t)addrs[i]);

		/* Never munmap an address we did not map: it may be
		 * someone else's memory by now. */
		if (addrs[i] == NULL || at < 0) {
			f->bad_unmaps++;
			rc = -EINVAL;
			continue;
		}
		munmap(addrs[i], FAKE_PAGE);
		fake_remove(f, at);
	}
	return rc;
}

static int
fake_unmap_replace(struct xnb_gnt *g, void *addr, void *newpage)
{
	struct xnb_fake *f = fake_of(g);
	int at = fake_find(f, (uintptr_t)addr);

	f->calls_replace++;
	if (at < 0) {
		f->bad_unmaps++;
		return -EINVAL;
	}
	if (f->fail_replace_calls > 0 || f->refuse_replace) {
		if (f->fail_replace_calls > 0)
			f->fail_replace_calls--;
		return -ENOMEM;
	}
	if (mremap(newpage, FAKE_PAGE, FAKE_PAGE, MREMAP_MAYMOVE | MREMAP_FIXED,
		   addr) == MAP_FAILED)
		return -errno;
	fake_remove(f, at);
	return 0;
}

/* One side of a copy segment: its address, or a GNTST code. */
static int16_t
fake_side(struct xnb_fake *f, bool is_gref, uint16_t domid, uint32_t ref,
	  uint16_t off, void *virt, uint16_t len, bool write, uint8_t **p)
{
	int16_t st;

	if (!is_gref) {
		*p = virt;
		return GNTST_okay;
	}
	st = fake_grant_check(f, domid, ref, write);
	if (st != GNTST_okay)
		return st;
	if ((uint32_t)off + len > FAKE_PAGE)
		return GNTST_bad_copy_arg;
	*p = f->mem + (size_t)ref * FAKE_PAGE + off;
	return GNTST_okay;
}

static int
fake_copy(struct xnb_gnt *g, uint32_t count, xengnttab_grant_copy_segment_t *segs)
{
	struct xnb_fake *f = fake_of(g);

	f->calls_copy++;
	if (f->fail_copy_calls > 0) {
		f->fail_copy_calls--;
		return -EIO;
	}
	/* gntdev pins the local side with get_user_pages, which fails on a
	 * grant mapping: the whole call fails (EFAULT), as in the simulator. */
	for (uint32_t i = 0; i < count; i++) {
		const xengnttab_grant_copy_segment_t *s = &segs[i];

		if ((!(s->flags & GNTCOPY_source_gref) &&
		     xnb_fake_is_mapped(f, s->source.virt, s->len)) ||
		    (!(s->flags & GNTCOPY_dest_gref) &&
		     xnb_fake_is_mapped(f, s->dest.virt, s->len))) {
			f->local_in_foreign++;
			return -EFAULT;
		}
	}
	for (uint32_t i = 0; i < count; i++) {
		xengnttab_grant_copy_segment_t *s = &segs[i];
		uint8_t *src = NULL, *dst = NULL;

		if (f->refuse_copies) {
			s->status = GNTST_general_error;
			continue;
		}
		s->status = fake_side(f, s->flags & GNTCOPY_source_gref,
				      s->source.foreign.domid, s->source.foreign.ref,
				      s->source.foreign.offset, s->source.virt, s->len,
				      false, &src);
		if (s->status == GNTST_okay)
			s->status = fake_side(f, s->flags & GNTCOPY_dest_gref,
					      s->dest.foreign.domid, s->dest.foreign.ref,
					      s->dest.foreign.offset, s->dest.virt, s->len,
					      true, &dst);
		if (s->status == GNTST_okay)
			memmove(dst, src, s->len);
	}
	return 0;
}

static void
fake_stats(struct xnb_gnt *g, struct xnb_gnt_stats *st)
{
	struct xnb_fake *f = fake_of(g);

	st->map_syscalls = f->calls_map;
	st->unmap_syscalls = f->calls_unmap + f->calls_replace;
	st->pages_mapped = f->mapped;
	st->page_release = 1;
}

/* A test that wants notifications counted gives the queue the struct
 * xnb_fake as its event handle too. */
static int
fake_notify(struct xnb_evt *e, uint32_t port)
{
	(void)port;
	if (e != NULL)
		((struct xnb_fake *)e)->notifies++;
	return 0;
}

const struct xnb_platform_ops xnb_fake_ops = {
	.name = "fake",
	.gnt_map = fake_map,
	.gnt_unmap = fake_unmap,
	.gnt_unmap_replace = fake_unmap_replace,
	.gnt_stats = fake_stats,
	.gnt_copy = fake_copy,
	.evt_notify = fake_notify,
};
