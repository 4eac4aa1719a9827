/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * Guest against guest: two simulated guests (domains 1 and 2, separate
 * processes) must not reach each other's memory except through a grant
 * made for them, even when one knows the other's frame numbers and grant
 * references. Domain 2 tries every way the API offers and must fail with
 * the status Xen 4.17 gives; a grant made for it must work (so the
 * xnb_failures are not a broken simulator). Also: dom2 cannot read dom1's
 * xenstore tree nor bind an event channel dom1 offered to someone else.
 *
 * usage: test_isolation PATH-TO-xnb-simd
 */

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "xnbsim.h"

#include "xnb_check.h"
#include "xnb_test_sim.h"

#define SECRET		"dom1 secret page, nobody else may read this"
#define DOM_PAGES	64

struct info {
	uint32_t gfn_a, gfn_b, gfn_c;	/* a: granted to 2, b: to 0, c: never */
	uint32_t ref_a, ref_b;
	uint32_t port_for_dom0;
};

static void
fill_secret(void *va)
{
	size_t i, n = strlen(SECRET);

	for (i = 0; i + n <= XNBSIM_PAGE_SIZE; i += n)
		memcpy((char *)va + i, SECRET, n);
}

static bool
has_secret(const void *p, size_t len)
{
	return memmem(p, len, SECRET, strlen(SECRET)) != NULL;
}

/* Domain 1: sets up its pages and grants, then waits to be told to go. */
static int
guest1(const char *dir, int to_parent, int from_parent)
{
	struct xnbsim *s = xnbsim_open(dir, 1);
	struct xnbsim_evtchn *h;
	struct info in = { 0 };
	void *va;
	char c;
	int rc;

	if (s == NULL)
		return 10;
	if (xnbsim_page_alloc(s, &in.gfn_a, &va) < 0)
		return 11;
	fill_secret(va);
	if (xnbsim_page_alloc(s, &in.gfn_b, &va) < 0)
		return 11;
	fill_secret(va);
	if (xnbsim_page_alloc(s, &in.gfn_c, &va) < 0)
		return 11;
	fill_secret(va);
	rc = xnbsim_grant_access(s, 2, in.gfn_a, 1);
	if (rc < 0)
		return 12;
	in.ref_a = (uint32_t)rc;
	rc = xnbsim_grant_access(s, 0, in.gfn_b, 0);
	if (rc < 0)
		return 12;
	in.ref_b = (uint32_t)rc;
	h = xnbsim_evtchn_open(s);
	if (h == NULL)
		return 13;
	rc = xnbsim_evtchn_alloc_unbound(h, 0);
	if (rc < 0)
		return 13;
	in.port_for_dom0 = (uint32_t)rc;

	if (write(to_parent, &in, sizeof(in)) != sizeof(in))
		return 14;
	if (read(from_parent, &c, 1) != 1)
		return 15;
	xnbsim_evtchn_close(h);
	CHECK(xnbsim_end_access(s, in.ref_a) == 0, "end ref_a");
	CHECK(xnbsim_end_access(s, in.ref_b) == 0, "end ref_b");
	xnbsim_close(s);
	return xnb_failures ? 1 : 0;
}

static int16_t
try_map(struct xnbsim *s, uint32_t ref, int writable, void **addr)
{
	int16_t st = 0;
	int rc;

	*addr = NULL;
	rc = xnbsim_map(s, 1, 1, &ref, writable, addr, &st);
	if (rc < 0)
		return (int16_t)-1000 + (int16_t)rc;	/* the call itself failed */
	return st;
}

static int16_t
try_copy(struct xnbsim *s, uint32_t ref, void *buf)
{
	xengnttab_grant_copy_segment_t seg;

	memset(&seg, 0, sizeof(seg));
	seg.source.foreign.ref = ref;
	seg.source.foreign.offset = 0;
	seg.source.foreign.domid = 1;
	seg.dest.virt = buf;
	seg.len = 64;
	seg.flags = GNTCOPY_source_gref;
	if (xnbsim_copy(s, 1, &seg) < 0)
		return -1000;
	return seg.status;
}

/* Domain 2: everything it may not do, and the one thing it may. */
static void
guest2(const char *dir, const struct info *in)
{
	struct xnbsim *s = xnbsim_open(dir, 2);
	struct xnbsim_evtchn *h;
	struct xs_handle *xs;
	char buf[XNBSIM_PAGE_SIZE], path[512];
	uint32_t npages, ref;
	unsigned int n, wrong_code = 0;
	int16_t other = 0;
	void *addr, *ram;
	int16_t st;
	char **dirl;
	int rc;

	CHECK(s != NULL, "attach as dom2: %s", strerror(errno));
	if (s == NULL)
		return;

	/* The control: what was granted to us is readable, and only readonly. */
	st = try_map(s, in->ref_a, 0, &addr);
	CHECK(st == GNTST_okay && addr != NULL, "map of our own grant: %d", st);
	if (st == GNTST_okay && addr != NULL) {
		CHECK(has_secret(addr, XNBSIM_PAGE_SIZE), "granted page content");
		xnbsim_unmap(s, 1, &addr);
	}
	st = try_map(s, in->ref_a, 1, &addr);
	CHECK(st == GNTST_general_error && addr == NULL,
	      "writable map of a readonly grant: %d (Xen: %d)", st,
	      GNTST_general_error);
	if (addr != NULL)
		xnbsim_unmap(s, 1, &addr);

	/* A grant dom1 made for dom0: Xen's _set_status says general_error. */
	st = try_map(s, in->ref_b, 0, &addr);
	CHECK(st == GNTST_general_error && addr == NULL,
	      "map of dom0's grant: %d (Xen: %d)", st, GNTST_general_error);
	if (addr != NULL)
		xnbsim_unmap(s, 1, &addr);
	memset(buf, 0, sizeof(buf));
	st = try_copy(s, in->ref_b, buf);
	CHECK(st == GNTST_general_error, "copy from dom0's grant: %d (Xen: %d)",
	      st, GNTST_general_error);
	CHECK(!has_secret(buf, sizeof(buf)), "copy leaked the secret");

	/* Knowing frame numbers does not help: they are no grant refs, and no
	 * other ref in the table is ours. */
	for (ref = 0; ref < 4 * DOM_PAGES; ref++) {
		if (ref == in->ref_a)
			continue;
		st = try_map(s, ref, 0, &addr);
		CHECK(st != GNTST_okay && addr == NULL, "map of ref %u succeeded", ref);
		if (st == GNTST_okay && addr != NULL) {
			CHECK(!has_secret(addr, XNBSIM_PAGE_SIZE),
			      "ref %u leaked the secret", ref);
			xnbsim_unmap(s, 1, &addr);
		}
		if (st != GNTST_general_error && wrong_code++ == 0)
			other = st;
		memset(buf, 0, 64);
		st = try_copy(s, ref, buf);
		CHECK(st != GNTST_okay && !has_secret(buf, 64), "copy of ref %u: %d",
		      ref, st);
	}
	CHECK(wrong_code == 0, "%u guessed refs answered other than %d, e.g. %d",
	      wrong_code, GNTST_general_error, other);
	st = try_map(s, in->gfn_c, 0, &addr);
	CHECK(st != GNTST_okay, "map with the frame number as ref: %d", st);
	st = try_map(s, XNBSIM_GNTTAB_ENTRIES + 7, 0, &addr);
	CHECK(st == GNTST_bad_gntref, "ref beyond the table: %d (Xen: %d)", st,
	      GNTST_bad_gntref);

	/* Our own memory is ours only. */
	ram = xnbsim_ram(s, &npages);
	CHECK(ram != NULL && npages > 0, "own RAM");
	if (ram != NULL)
		CHECK(!has_secret(ram, (size_t)npages * XNBSIM_PAGE_SIZE),
		      "dom1's secret appears in dom2's RAM");

	/* An event channel dom1 offered dom0 is not ours to bind. */
	h = xnbsim_evtchn_open(s);
	CHECK(h != NULL, "evtchn open");
	if (h != NULL) {
		rc = xnbsim_evtchn_bind_interdomain(h, 1, in->port_for_dom0);
		CHECK(rc == -EINVAL, "bind to dom1's port for dom0: %d (Xen: %d)", rc,
		      -EINVAL);
		xnbsim_evtchn_close(h);
	}

	/* xenstore: dom1's tree is closed to dom2. */
	rc = xnbsim_xs_path(dir, 2, path, sizeof(path));
	CHECK(rc == 0, "xs path");
	setenv("XENSTORED_PATH", path, 1);
	xs = xs_open(0);
	CHECK(xs != NULL, "xs_open as dom2: %s", strerror(errno));
	if (xs != NULL) {
		errno = 0;
		dirl = xs_directory(xs, XBT_NULL, "/local/domain/1", &n);
		CHECK(dirl == NULL && errno == EACCES,
		      "dom2 lists /local/domain/1: %s", strerror(errno));
		free(dirl);
		xs_close(xs);
	}
	xnbsim_close(s);
}

int
main(int argc, char **argv)
{
	struct xnb_test_sim sim;
	const char *dir = sim.dir;
	int to_parent[2], from_parent[2], status;
	struct xnbsim *dom0;
	struct info in;
	pid_t child;

	if (argc != 2) {
		fprintf(stderr, "usage: %s PATH-TO-xnb-simd\n", argv[0]);
		return 2;
	}
	if (xnb_test_sim_start(&sim, argv[1], "guest-iso") < 0) {
		xnb_test_sim_stop(&sim);
		return 1;
	}
	dom0 = xnbsim_open(dir, 0);
	CHECK(dom0 != NULL, "attach as dom0: %s", strerror(errno));
	if (dom0 == NULL)
		goto out;
	CHECK(xnbsim_domain_create(dom0, 1, DOM_PAGES) == 0, "create dom1");
	CHECK(xnbsim_domain_create(dom0, 2, DOM_PAGES) == 0, "create dom2");
	if (xnb_failures)
		goto out;

	if (pipe(to_parent) != 0 || pipe(from_parent) != 0)
		goto out;
	child = fork();
	if (child == 0) {
		close(to_parent[0]);
		close(from_parent[1]);
		_exit(guest1(dir, to_parent[1], from_parent[0]));
	}
	close(to_parent[1]);
	close(from_parent[0]);
	if (read(to_parent[0], &in, sizeof(in)) != sizeof(in)) {
		CHECK(0, "dom1 did not set up");
	} else {
		guest2(dir, &in);
	}
	if (write(from_parent[1], "x", 1) != 1)
		CHECK(0, "release dom1");
	waitpid(child, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "dom1 exit %d",
	      WIFEXITED(status) ? WEXITSTATUS(status) : -1);

	xnbsim_domain_destroy(dom0, 1);
	xnbsim_domain_destroy(dom0, 2);
out:
	if (dom0 != NULL)
		xnbsim_close(dom0);
	xnb_test_sim_stop(&sim);
	if (xnb_failures) {
		fprintf(stderr, "%d check(s) failed\n", xnb_failures);
		return 1;
	}
	printf("isolation: all checks passed\n");
	return 0;
}
