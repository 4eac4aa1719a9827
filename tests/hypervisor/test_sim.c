/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The simulated hypervisor against Xen's rules: every grant check and the
 * GNTST code Xen 4.17 gives for it (v1 entries fail with general_error, as
 * _set_status_v1 does), readonly maps that fault on write, grant copies
 * bounded to one page, pins that keep GTF_reading/GTF_writing while in use,
 * event-channel delivery with the evtchn device's masking, a guest and a
 * backend in two processes sharing a page, zombie domains, and the counters
 * the benchmarks rely on (one hypercall per batch).
 *
 * usage: test_sim PATH-TO-xnb-simd
 */

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xnbsim.h"

#include "xnb_check.h"
#include "xnb_test_sim.h"

static struct xnb_test_sim sim;
static const char *dir = sim.dir;

static int16_t
map1(struct xnbsim *be, uint16_t dom, uint32_t ref, int writable, void **va)
{
	int16_t st;

	*va = NULL;
	xnbsim_map(be, dom, 1, &ref, writable, va, &st);
	return st;
}

static int16_t
copy1(struct xnbsim *be, uint16_t dom, uint32_t ref, uint16_t off, uint16_t len,
      void *local, int to_guest)
{
	xengnttab_grant_copy_segment_t seg = { .len = len };

	if (to_guest) {
		seg.source.virt = local;
		seg.dest.foreign.ref = ref;
		seg.dest.foreign.domid = dom;
		seg.dest.foreign.offset = off;
		seg.flags = GNTCOPY_dest_gref;
	} else {
		seg.source.foreign.ref = ref;
		seg.source.foreign.domid = dom;
		seg.source.foreign.offset = off;
		seg.dest.virt = local;
		seg.flags = GNTCOPY_source_gref;
	}
	xnbsim_copy(be, 1, &seg);
	return seg.status;
}

/* The guest ends n grants and frees their pages. */
static void
give_back(struct xnbsim *g1, const uint32_t *refs, const uint32_t *gfn, int n)
{
	for (int i = 0; i < n; i++) {
		xnbsim_end_access(g1, refs[i]);
		xnbsim_page_free(g1, gfn[i]);
	}
}

static void
test_grant_checks(struct xnbsim *be, struct xnbsim *g1)
{
	grant_entry_v1_t *gt = xnbsim_gnttab(g1);
	uint8_t buf[64];
	uint32_t gfn;
	void *page, *va;
	int ro, rw, other, ref;

	CHECK(xnbsim_page_alloc(g1, &gfn, &page) == 0, "page alloc");
	memcpy(page, "guest bytes", 12);
	ro = xnbsim_grant_access(g1, 0, gfn, 1);
	rw = xnbsim_grant_access(g1, 0, gfn, 0);
	other = xnbsim_grant_access(g1, 5, gfn, 0);
	CHECK(ro >= 8 && rw >= 8 && other >= 8, "refs %d %d %d", ro, rw, other);

	CHECK(map1(be, 1, ro, 0, &va) == GNTST_okay && va != NULL &&
	      memcmp(va, "guest bytes", 12) == 0, "readonly map sees the page");
	CHECK((gt[ro].flags & GTF_reading) != 0, "GTF_reading while mapped");
	CHECK(xnbsim_end_access(g1, ro) == -EBUSY, "end_access busy while mapped");
	CHECK(xnbsim_unmap(be, 1, &va) == 0, "unmap");
	CHECK((gt[ro].flags & GTF_reading) == 0, "GTF_reading cleared after unmap");

	CHECK(map1(be, 1, ro, 1, &va) == GNTST_general_error && va == NULL,
	      "writable map of a readonly grant");
	CHECK(map1(be, 1, other, 0, &va) == GNTST_general_error,
	      "grant for another domain");
	CHECK(map1(be, 1, XNBSIM_GNTTAB_ENTRIES, 0, &va) == GNTST_bad_gntref,
	      "ref past the table");
	CHECK(map1(be, 1, 3000, 0, &va) == GNTST_general_error, "unused entry");
	CHECK(map1(be, 9, ro, 0, &va) == GNTST_bad_domain, "no such domain");

	/* A frame beyond the guest's memory. */
	ref = xnbsim_grant_access(g1, 0, 1u << 30, 1);
	CHECK(map1(be, 1, ref, 0, &va) == GNTST_general_error, "frame out of range");
	CHECK(xnbsim_end_access(g1, ref) == 0, "end unused grant");

	/* Two pins: the flag stays until the last goes. */
	void *v1, *v2;
	CHECK(map1(be, 1, rw, 1, &v1) == GNTST_okay && map1(be, 1, rw, 1, &v2) ==
	      GNTST_okay, "double map");
	xnbsim_unmap(be, 1, &v1);
	CHECK((gt[rw].flags & GTF_writing) != 0, "still pinned by the second map");
	memcpy(v2, "backend wrote", 14);
	CHECK(memcmp(page, "backend wrote", 14) == 0, "guest sees backend's write");
	xnbsim_unmap(be, 1, &v2);
	CHECK((gt[rw].flags & GTF_writing) == 0, "GTF_writing cleared");

	/* Grant copy, both directions, bounded to a page. */
	CHECK(copy1(be, 1, ro, 0, 12, buf, 0) == GNTST_okay &&
	      memcmp(buf, "backend wrote", 12) == 0, "copy from guest");
	CHECK(copy1(be, 1, ro, 4090, 10, buf, 0) == GNTST_bad_copy_arg,
	      "copy across a page end");
	CHECK(copy1(be, 1, ro, 0, 4, (void *)"abc", 1) == GNTST_general_error,
	      "copy into a readonly grant");
	CHECK(copy1(be, 1, rw, 100, 4, (void *)"xyz", 1) == GNTST_okay &&
	      memcmp((uint8_t *)page + 100, "xyz", 4) == 0, "copy into the guest");
	CHECK(copy1(be, 1, other, 0, 4, buf, 0) == GNTST_general_error,
	      "copy from a grant for someone else");
	CHECK((gt[rw].flags & (GTF_reading | GTF_writing)) == 0, "copy unpins");

	/* A guest rewriting its entry to another domain after granting. */
	gt[rw].domid = 5;
	CHECK(map1(be, 1, rw, 0, &va) == GNTST_general_error, "rewritten entry refused");
	gt[rw].domid = 0;

	CHECK(xnbsim_end_access(g1, ro) == 0 && xnbsim_end_access(g1, rw) == 0 &&
	      xnbsim_end_access(g1, other) == 0, "end access");
	CHECK(map1(be, 1, ro, 0, &va) == GNTST_general_error, "revoked grant");
	xnbsim_page_free(g1, gfn);
}

static void
test_readonly_faults(struct xnbsim *be, struct xnbsim *g1)
{
	uint32_t gfn;
	void *page, *va;
	int ref, status;
	pid_t pid;

	xnbsim_page_alloc(g1, &gfn, &page);
	ref = xnbsim_grant_access(g1, 0, gfn, 1);
	CHECK(map1(be, 1, ref, 0, &va) == GNTST_okay, "map");
	pid = fork();
	if (pid == 0) {
		/* Die by the signal even under a sanitizer's SEGV handler. */
		signal(SIGSEGV, SIG_DFL);
		*(volatile uint8_t *)va = 1;
		_exit(0);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
	      "write to a readonly map faults (status %#x)", status);
	xnbsim_unmap(be, 1, &va);
	xnbsim_end_access(g1, ref);
	xnbsim_page_free(g1, gfn);
}

static void
test_batches(struct xnbsim *be, struct xnbsim *g1)
{
	xengnttab_grant_copy_segment_t seg[32];
	struct xnbsim_stats before, after;
	uint32_t refs[32], gfn[32];
	int16_t st[32];
	void *va[32], *page;
	uint8_t buf[32][64];

	for (int i = 0; i < 32; i++) {
		xnbsim_page_alloc(g1, &gfn[i], &page);
		refs[i] = xnbsim_grant_access(g1, 0, gfn[i], 1);
		memset(&seg[i], 0, sizeof(seg[i]));
		seg[i].source.foreign.ref = refs[i];
		seg[i].source.foreign.domid = 1;
		seg[i].dest.virt = buf[i];
		seg[i].len = 64;
		seg[i].flags = GNTCOPY_source_gref;
	}
	xnbsim_stats(be, 0, &before);
	xnbsim_copy(be, 32, seg);
	CHECK(xnbsim_map(be, 1, 32, refs, 0, va, st) == 32, "map 32");
	xnbsim_stats(be, 1, &after);
	CHECK(after.grants_mapped == 32, "32 mapped, got %u", after.grants_mapped);
	xnbsim_unmap(be, 32, va);
	xnbsim_stats(be, 0, &after);
	CHECK(after.hc_copy - before.hc_copy == 1 && after.op_copy - before.op_copy == 32,
	      "one copy hypercall for 32 ops");
	CHECK(after.hc_map - before.hc_map == 1 && after.op_map - before.op_map == 32,
	      "one map hypercall for 32 ops");
	CHECK(after.hc_unmap - before.hc_unmap == 1, "one unmap hypercall");
	CHECK(after.bytes_copied - before.bytes_copied == 32 * 64, "bytes counted");
	xnbsim_stats(be, 1, &after);
	CHECK(after.grants_mapped == 0, "all unmapped");
	give_back(g1, refs, gfn, 32);
}

static int
wait_event(struct xnbsim_evtchn *h, int ms)
{
	struct pollfd p = { .fd = xnbsim_evtchn_fd(h), .events = POLLIN };

	if (poll(&p, 1, ms) <= 0)
		return -EAGAIN;
	return xnbsim_evtchn_pending(h);
}

static void
test_evtchn(struct xnbsim *be, struct xnbsim *g1)
{
	struct xnbsim_evtchn *ge = xnbsim_evtchn_open(g1), *bee = xnbsim_evtchn_open(be);
	struct xnbsim_stats st;
	int gport, bport, other;

	gport = xnbsim_evtchn_alloc_unbound(ge, 0);
	other = xnbsim_evtchn_alloc_unbound(ge, 7);
	CHECK(gport > 0 && other > 0, "alloc unbound %d %d", gport, other);
	CHECK(xnbsim_evtchn_notify(ge, gport) == 0, "notify while unbound is dropped");
	CHECK(xnbsim_evtchn_bind_interdomain(bee, 1, other) == -EINVAL,
	      "bind to a port offered to another domain");
	bport = xnbsim_evtchn_bind_interdomain(bee, 1, gport);
	CHECK(bport > 0, "bind %d", bport);
	CHECK(xnbsim_evtchn_bind_interdomain(bee, 1, gport) == -EINVAL, "bind twice");
	CHECK(xnbsim_evtchn_pending(bee) == -EAGAIN, "nothing pending yet");

	xnbsim_evtchn_notify(ge, gport);
	CHECK(wait_event(bee, 1000) == bport, "event delivered");
	/* Delivered ports stay masked: a second notify is remembered only. */
	xnbsim_evtchn_notify(ge, gport);
	CHECK(wait_event(bee, 100) == -EAGAIN, "masked after delivery");
	xnbsim_evtchn_unmask(bee, bport);
	CHECK(wait_event(bee, 1000) == bport, "remembered event delivered on unmask");
	xnbsim_evtchn_unmask(bee, bport);
	CHECK(wait_event(bee, 100) == -EAGAIN, "no event after unmask alone");

	xnbsim_evtchn_notify(bee, bport);
	CHECK(wait_event(ge, 1000) == gport, "backend -> guest");
	xnbsim_evtchn_unmask(ge, gport);

	xnbsim_stats(be, 1, &st);
	CHECK(st.evtchn_bound == 2, "guest has 2 ports, got %u", st.evtchn_bound);
	xnbsim_evtchn_close(ge);	/* the guest closes: the peer goes unbound */
	xnbsim_stats(be, 1, &st);
	CHECK(st.evtchn_bound == 0, "guest ports closed, got %u", st.evtchn_bound);
	CHECK(xnbsim_evtchn_notify(bee, bport) == 0, "notify to a gone peer is dropped");
	xnbsim_evtchn_close(bee);
	xnbsim_stats(be, 0, &st);
	CHECK(st.evtchn_bound == 0, "dom0 ports closed, got %u", st.evtchn_bound);
}

/* A guest in one process, a backend in another, sharing a page. */
static void
test_two_processes(struct xnbsim *be)
{
	int pfd[2], qfd[2];
	uint32_t ref;
	void *va;
	pid_t pid;

	CHECK(pipe(pfd) == 0 && pipe(qfd) == 0, "pipes");
	CHECK(xnbsim_domain_create(be, 2, 64) == 0, "create dom2");
	pid = fork();
	if (pid == 0) {
		struct xnbsim *g = xnbsim_open(dir, 2);
		uint32_t gfn, r;
		void *page;
		char c;

		if (g == NULL || xnbsim_page_alloc(g, &gfn, &page) < 0)
			_exit(1);
		strcpy(page, "from dom2");
		r = xnbsim_grant_access(g, 0, gfn, 0);
		if (write(pfd[1], &r, sizeof(r)) != sizeof(r) ||
		    read(qfd[0], &c, 1) != 1)
			_exit(1);
		_exit(strcmp(page, "from dom0") == 0 ? 0 : 3);
	}
	CHECK(read(pfd[0], &ref, sizeof(ref)) == sizeof(ref), "ref from the guest");
	CHECK(map1(be, 2, ref, 1, &va) == GNTST_okay &&
	      strcmp(va, "from dom2") == 0, "backend reads the guest's page");
	strcpy(va, "from dom0");
	CHECK(write(qfd[1], "x", 1) == 1, "go");
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "guest saw the backend's write (status %#x)", status);

	/* The guest's process is gone and the toolstack destroys the domain
	 * while the backend still maps its page: a zombie, memory intact. */
	struct xnbsim_stats st;
	CHECK(xnbsim_domain_destroy(be, 2) == 0, "destroy");
	xnbsim_stats(be, 2, &st);
	CHECK(st.state == XNBSIM_DOM_ZOMBIE, "zombie while mapped, state %u", st.state);
	CHECK(strcmp(va, "from dom0") == 0, "mapping still valid");
	CHECK(xnbsim_domain_create(be, 2, 64) == -EEXIST, "domid busy while zombie");
	xnbsim_unmap(be, 1, &va);
	for (int i = 0; i < 40; i++) {
		xnbsim_stats(be, 2, &st);
		if (st.state == XNBSIM_DOM_NONE)
			break;
		usleep(50000);
	}
	CHECK(st.state == XNBSIM_DOM_NONE, "gone after unmap, state %u", st.state);
	CHECK(xnbsim_domain_create(be, 2, 64) == 0, "domid reusable");
	CHECK(xnbsim_domain_destroy(be, 2) == 0, "destroy again");
}

static void
test_replace(struct xnbsim *be, struct xnbsim *g1)
{
	struct xnbsim_stats st;
	uint32_t gfn;
	void *page, *va, *np;
	int ref;

	xnbsim_page_alloc(g1, &gfn, &page);
	strcpy(page, "original");
	ref = xnbsim_grant_access(g1, 0, gfn, 1);
	CHECK(map1(be, 1, ref, 0, &va) == GNTST_okay, "map");
	np = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	strcpy(np, "original");
	CHECK(xnbsim_unmap_replace(be, va, np) == 0, "replace");
	xnbsim_stats(be, 1, &st);
	CHECK(st.grants_mapped == 0, "grant released");
	CHECK(xnbsim_end_access(g1, ref) == 0, "guest can end access");
	strcpy(page, "reused!!");
	CHECK(strcmp(va, "original") == 0, "same address keeps the copy");
	munmap(va, 4096);
	/* The frame's page in the read-only view is the backend's now: a new
	 * map of the frame must not land there, and must see the guest. */
	ref = xnbsim_grant_access(g1, 0, gfn, 1);
	CHECK(map1(be, 1, ref, 0, &np) == GNTST_okay && np != va &&
	      strcmp(np, "reused!!") == 0, "a map after the swap sees the guest");
	xnbsim_unmap(be, 1, &np);
	xnbsim_end_access(g1, ref);
	xnbsim_page_free(g1, gfn);
}

/*
 * A map call is one gntdev mapping on real Xen: 3 system calls for 8 pages;
 * pages released in runs cost a munmap per run, and a VMA split at each end
 * of a run where the mapping goes on. An injected swap failure changes
 * nothing (the grant stays mapped, the page at the address is the guest's).
 */
static void
test_vm_structure(struct xnbsim *be, struct xnbsim *g1)
{
	struct xnbsim_vm_stats v0, v1;
	struct xnbsim_stats st;
	uint32_t refs[8], gfn[8];
	int16_t status[8];
	void *va[8], *page, *np;

	for (int i = 0; i < 8; i++) {
		xnbsim_page_alloc(g1, &gfn[i], &page);
		snprintf(page, 16, "page %d", i);
		refs[i] = xnbsim_grant_access(g1, 0, gfn[i], 1);
	}
	xnbsim_vm_stats(be, &v0);
	CHECK(xnbsim_map(be, 1, 8, refs, 0, va, status) == 8, "map 8");
	xnbsim_vm_stats(be, &v1);
	CHECK(v1.map_syscalls - v0.map_syscalls == 3 && v1.pages_mapped - v0.pages_mapped == 8,
	      "one mapping: %lu syscalls, %lu pages",
	      (unsigned long)(v1.map_syscalls - v0.map_syscalls),
	      (unsigned long)(v1.pages_mapped - v0.pages_mapped));
	/* pages 3, 1, 2, 0: one run at the front, the mapping goes on */
	void *front[4] = { va[3], va[1], va[2], va[0] };

	xnbsim_unmap(be, 4, front);
	xnbsim_vm_stats(be, &v0);
	CHECK(v0.unmap_syscalls - v1.unmap_syscalls == 1 && v0.vma_splits - v1.vma_splits == 1,
	      "one run: %lu munmaps, %lu splits",
	      (unsigned long)(v0.unmap_syscalls - v1.unmap_syscalls),
	      (unsigned long)(v0.vma_splits - v1.vma_splits));
	/* page 5 alone: both its neighbours stay */
	xnbsim_unmap(be, 1, &va[5]);
	xnbsim_vm_stats(be, &v1);
	CHECK(v1.unmap_syscalls - v0.unmap_syscalls == 1 && v1.vma_splits - v0.vma_splits == 2,
	      "a page in the middle: two splits");
	/* the injected failure: nothing moves */
	np = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	strcpy(np, "ours");
	CHECK(xnbsim_fault_set(be, "replace", 1) == 0, "inject");
	CHECK(xnbsim_unmap_replace(be, va[6], np) == -ENOMEM, "injected swap failure");
	CHECK(strcmp(va[6], "page 6") == 0 && strcmp(np, "ours") == 0,
	      "a failed swap moves nothing");
	xnbsim_stats(be, 1, &st);
	CHECK(st.grants_mapped == 3, "grants still mapped after the failure: %u",
	      st.grants_mapped);
	CHECK(xnbsim_unmap_replace(be, va[6], np) == 0, "the next swap works");
	munmap(va[6], 4096);
	/* 4 and 7: two runs, no neighbour left */
	void *rest[2] = { va[7], va[4] };

	xnbsim_vm_stats(be, &v0);
	xnbsim_unmap(be, 2, rest);
	xnbsim_vm_stats(be, &v1);
	CHECK(v1.unmap_syscalls - v0.unmap_syscalls == 2 && v1.vma_splits == v0.vma_splits,
	      "two lone pages: two munmaps, no split");
	xnbsim_stats(be, 1, &st);
	CHECK(st.grants_mapped == 0, "all released");
	give_back(g1, refs, gfn, 8);
}

/* Two concurrent maps of one frame are two mappings; a grant copy whose
 * local side lies in a mapped foreign page fails as on Xen (gntdev cannot
 * pin it), while the same bytes named by their grant copy fine. */
static void
test_same_frame_and_foreign_local(struct xnbsim *be, struct xnbsim *g1)
{
	xengnttab_grant_copy_segment_t seg = { .len = 8 };
	uint32_t gfn;
	void *page, *v1, *v2;
	uint8_t buf[8];
	int r1, r2;

	xnbsim_page_alloc(g1, &gfn, &page);
	strcpy(page, "twice!!");
	r1 = xnbsim_grant_access(g1, 0, gfn, 1);
	r2 = xnbsim_grant_access(g1, 0, gfn, 1);
	CHECK(map1(be, 1, r1, 0, &v1) == GNTST_okay && map1(be, 1, r2, 0, &v2) ==
	      GNTST_okay && v1 != v2 && strcmp(v1, "twice!!") == 0 &&
	      strcmp(v2, "twice!!") == 0, "two maps of one frame, two addresses");
	seg.source.virt = v1;
	seg.dest.virt = buf;
	CHECK(xnbsim_copy(be, 1, &seg) == -EFAULT, "copy from a foreign mapping refused");
	seg.source.foreign.ref = r1;
	seg.source.foreign.domid = 1;
	seg.source.foreign.offset = 0;
	seg.flags = GNTCOPY_source_gref;
	CHECK(xnbsim_copy(be, 1, &seg) == 0 && seg.status == GNTST_okay &&
	      memcmp(buf, "twice!!", 8) == 0, "the same bytes by their grant");
	CHECK(xnbsim_unmap(be, 1, &v1) == 0 && xnbsim_unmap(be, 1, &v2) == 0, "unmap both");
	CHECK(xnbsim_end_access(g1, r1) == 0 && xnbsim_end_access(g1, r2) == 0,
	      "both grants released");
	xnbsim_page_free(g1, gfn);
}

static void
test_permissions(struct xnbsim *g1)
{
	CHECK(xnbsim_domain_create(g1, 3, 64) == -EPERM, "guest cannot create domains");
	CHECK(xnbsim_domain_destroy(g1, 1) == -EPERM, "guest cannot destroy");
	CHECK(xnbsim_open(dir, 9) == NULL && errno == ESRCH, "attach to no domain");
}

int
main(int argc, char **argv)
{
	struct xnbsim *be, *g1;

	if (argc < 2) {
		fprintf(stderr, "usage: test_sim PATH-TO-xnb-simd\n");
		return 2;
	}
	if (xnb_test_sim_start(&sim, argv[1], "test-sim") < 0)
		return 1;
	be = xnbsim_open(dir, 0);
	CHECK(be != NULL, "attach as dom0: %s", strerror(errno));
	if (be == NULL) {
		xnb_test_sim_stop(&sim);
		return 1;
	}
	CHECK(xnbsim_domain_create(be, 1, 256) == 0, "create dom1");
	g1 = xnbsim_open(dir, 1);
	CHECK(g1 != NULL, "attach as dom1");
	if (g1 != NULL) {
		test_grant_checks(be, g1);
		test_readonly_faults(be, g1);
		test_batches(be, g1);
		test_evtchn(be, g1);
		test_replace(be, g1);
		test_vm_structure(be, g1);
		test_same_frame_and_foreign_local(be, g1);
		test_permissions(g1);
		xnbsim_close(g1);
	}
	test_two_processes(be);
	xnbsim_close(be);
	xnb_test_sim_stop(&sim);
	if (xnb_failures) {
		printf("test_sim: %d failure(s)\n", xnb_failures);
		return 1;
	}
	printf("test_sim: all checks passed\n");
	return 0;
}
