/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * libxnbsim: a process acting as one domain of the simulated hypervisor.
 *
 * What Xen does in a hypercall happens here, in the caller, on memory the
 * daemon shares with everyone: the checks on a v1 grant entry (the same
 * 32-bit compare-and-swap on flags+domid that Xen's grant_table.c does),
 * the pin counts that keep GTF_reading/GTF_writing set while a grant is in
 * use, and event-channel pending/mask bits. The daemon is only asked for
 * what needs a broker: attaching, domain life, binding ports (it hands out
 * memfds and eventfds).
 */

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sim_proto.h"
#include "xnbsim.h"

#define PAGE		XNBSIM_PAGE_SIZE
#define RESERVED_REFS	8	/* GNTTAB_NR_RESERVED_ENTRIES, as Linux */
#define MT_CAP		(1u << 17)
#define MT_EMPTY	((uintptr_t)0)
#define MT_TOMB		((uintptr_t)1)

/* Another domain as the hypervisor sees it: its memory and grant table. */
struct sim_view {
	uint32_t gen;
	uint32_t pages;
	int ramfd;
	uint8_t *ram;
	grant_entry_v1_t *gt;
	struct sim_active *active;
	uint32_t maps;		/* mappings still using this view */
	bool stale;		/* replaced by a newer incarnation */
	/*
	 * Read-only grant maps are served from ro, one read-only mapping of the
	 * whole domain made once, instead of an mmap per page: what a map costs
	 * then is the cost model's price (Xen's), not the host kernel's VMA work
	 * (a few us per page here, more than Xen charges). ro_use per frame:
	 * RO_FREE, RO_MAPPED (one grant map uses the frame's ro page; a second
	 * concurrent map of the frame gets an mmap of its own), RO_DISPLACED (an
	 * aged copy-out put the backend's page there, which the backend later
	 * munmaps: the frame's ro page is gone for good, its later maps get an
	 * mmap of their own, and freeing the view leaves that page alone).
	 */
	uint8_t *ro;
	uint8_t *ro_use;
};

enum { RO_FREE, RO_MAPPED, RO_DISPLACED };

/* One page mapped through xnbsim_map. */
struct sim_mt {
	uintptr_t addr;
	struct sim_view *view;
	uint32_t ref;
	uint16_t dom;
	uint8_t writable;
	uint8_t in_ro;		/* served from view->ro */
	uint32_t frame;
	uint32_t batch;		/* its map call (struct sim_batch) */
	uint32_t idx;		/* its page in that mapping */
};

/*
 * A map call, which a backend on real Xen makes as one gntdev mapping of
 * all its pages (one MAP_GRANT_REF ioctl for N refs, one mmap). The pages
 * are served from the view, but the costs are charged as that mapping's:
 * releasing some of its pages is a munmap per run of adjacent pages, and
 * one that leaves pages of the mapping behind splits its VMA.
 */
#define SIM_BATCH_PAGES	256

struct sim_batch {
	uint32_t alive;		/* pages not yet released; 0: free */
	uint32_t pages;		/* in the call */
	uint64_t live[SIM_BATCH_PAGES / 64];
};

struct xnbsim {
	char dir[PATH_MAX];
	uint16_t domid;
	int sock;
	pthread_mutex_t lock;	/* the socket, views, maptrack, allocators */
	struct sim_shared *sh;
	struct sim_port *port;	/* our domain's event-channel ports */
	/* our own memory and grant table (guests) */
	uint8_t *ram;
	uint32_t npages;
	grant_entry_v1_t *gt;
	uint8_t *page_used;
	uint32_t page_hint;
	uint32_t *ref_free;
	uint32_t nref_free;
	uint8_t *ref_ours;	/* handed out by this handle's grant_access */
	struct sim_view *view[XNBSIM_MAX_DOMAINS];
	struct sim_mt *mt;
	uint32_t mt_used;	/* live + tombstones */
	struct sim_batch *batch;
	uint32_t nbatch;	/* allocated */
	uint32_t batch_hint;
	struct xnbsim_vm_stats vm;
};

struct xnbsim_evtchn {
	struct xnbsim *sim;
	int epfd;
	int efd[XNBSIM_EVTCHN_PORTS];		/* ours, -1 when not bound here */
	int peer_efd[XNBSIM_EVTCHN_PORTS];
	uint32_t peer_gen[XNBSIM_EVTCHN_PORTS];
	/* The peer's port, in a mapping of the one page of its domain's
	 * table that holds it. */
	struct sim_port *peer[XNBSIM_EVTCHN_PORTS];
};

/* ---- control connection ---------------------------------------------------- */

static int
sim_call(struct xnbsim *sim, struct sim_req *req, uint32_t *r1, int *fds,
	 unsigned int maxfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} cm;
	struct sim_rsp rsp;
	struct iovec iov = { .iov_base = req, .iov_len = sizeof(*req) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	unsigned int got = 0;
	ssize_t n;

	if (send(sim->sock, req, sizeof(*req), MSG_NOSIGNAL) != sizeof(*req))
		return -EPIPE;
	iov.iov_base = &rsp;
	iov.iov_len = sizeof(rsp);
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof(cm.buf);
	do
		n = recvmsg(sim->sock, &msg, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n != sizeof(rsp))
		return -EPIPE;
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		unsigned int k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		int *in = (int *)CMSG_DATA(c);

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (unsigned int i = 0; i < k; i++) {
			if (got < maxfds)
				fds[got++] = in[i];
			else
				close(in[i]);
		}
	}
	if (rsp.rc == 0 && got != rsp.nfds) {
		for (unsigned int i = 0; i < got; i++)
			close(fds[i]);
		return -EPROTO;
	}
	if (r1 != NULL)
		*r1 = rsp.r1;
	return rsp.rc;
}

static int
sim_call_locked(struct xnbsim *sim, struct sim_req *req, uint32_t *r1, int *fds,
		unsigned int maxfds)
{
	int rc;

	pthread_mutex_lock(&sim->lock);
	rc = sim_call(sim, req, r1, fds, maxfds);
	pthread_mutex_unlock(&sim->lock);
	return rc;
}

static void *
sim_mmap_fd(int fd, size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* ---- costs and counters ------------------------------------------------------ */

static uint64_t
sim_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static void
sim_spin(uint64_t ns)
{
	uint64_t end;

	if (ns == 0)
		return;
	end = sim_now_ns() + ns;
	while (sim_now_ns() < end)
		;
}

/* What the hypercall would have cost the calling CPU on Xen. */
static void
sim_charge(struct xnbsim *sim, uint32_t per_op, uint32_t ops, uint32_t flushes,
	   uint64_t bytes)
{
	const struct xnbsim_cost *c = &sim->sh->cost;

	sim_spin(c->ns_per_hypercall + (uint64_t)per_op * ops +
		 (uint64_t)c->ns_per_unmap_flush * flushes +
		 c->ns_per_kib_copied * bytes / 1024);
}

/*
 * What the grant-mapping work of a PV dom0's gntdev costs beyond the
 * hypercall the backend asked for: the system calls and the VMA work on the
 * backend's side, and gntdev's second batch for the kernel's own mapping of
 * the pages (use_ptemod: every page is mapped, and unmapped, twice, in two
 * hypercalls: gnttab_map_refs with kmap_ops, Linux 6.1).
 */
static void
sim_charge_vm(struct xnbsim *sim, uint32_t per_op, uint32_t ops, uint32_t syscalls,
	      uint32_t pages, uint32_t splits)
{
	const struct xnbsim_cost *c = &sim->sh->cost;

	sim_spin(c->ns_per_hypercall + (uint64_t)per_op * ops +
		 (uint64_t)c->ns_per_syscall * syscalls +
		 (uint64_t)c->ns_per_vma_page * pages +
		 (uint64_t)c->ns_per_vma_split * splits);
}

#define STAT_ADD(s_, d_, field, v) \
	__atomic_fetch_add(&(s_)->sh->dom[d_].stats.field, (v), __ATOMIC_RELAXED)

/* ---- attach -------------------------------------------------------------------- */

int
xnbsim_xs_path(const char *dir, uint16_t domid, char *buf, size_t len)
{
	int n;

	if (domid == 0)
		n = snprintf(buf, len, "%s/xenstored.sock", dir);
	else
		n = snprintf(buf, len, "%s/xs-dom%u.sock", dir, domid);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

struct xnbsim *
xnbsim_open(const char *dir, uint16_t domid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct sim_req req = { .op = SIM_HELLO, .a0 = domid };
	struct xnbsim *sim;
	int fds[4], rc, err;
	uint32_t i;

	if (domid >= XNBSIM_MAX_DOMAINS) {
		errno = EINVAL;
		return NULL;
	}
	sim = calloc(1, sizeof(*sim));
	if (sim == NULL)
		return NULL;
	pthread_mutex_init(&sim->lock, NULL);
	snprintf(sim->dir, sizeof(sim->dir), "%s", dir);
	sim->domid = domid;
	if ((size_t)snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir,
			     SIM_CONTROL_SOCK) >= sizeof(sa.sun_path)) {
		err = ENAMETOOLONG;
		goto fail_free;
	}
	sim->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (sim->sock < 0) {
		err = errno;
		goto fail_free;
	}
	if (connect(sim->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = errno == ECONNREFUSED ? ENOENT : errno;
		goto fail_sock;
	}
	rc = sim_call(sim, &req, NULL, fds, 4);
	if (rc < 0) {
		err = -rc;
		goto fail_sock;
	}
	sim->sh = sim_mmap_fd(fds[0], sizeof(struct sim_shared),
			      PROT_READ | PROT_WRITE);
	sim->port = sim_mmap_fd(fds[1], SIM_PORT_TABLE_SIZE, PROT_READ | PROT_WRITE);
	close(fds[0]);
	close(fds[1]);
	if (sim->sh == NULL || sim->port == NULL) {
		err = errno;
		goto fail_sock;
	}
	if (domid != 0) {
		sim->npages = sim->sh->dom[domid].mem_pages;
		sim->ram = sim_mmap_fd(fds[2], (size_t)sim->npages * PAGE,
				       PROT_READ | PROT_WRITE);
		sim->gt = sim_mmap_fd(fds[3], XNBSIM_GNTTAB_ENTRIES *
				      sizeof(grant_entry_v1_t),
				      PROT_READ | PROT_WRITE);
		close(fds[2]);
		close(fds[3]);
		sim->page_used = calloc(sim->npages, 1);
		sim->ref_free = malloc(sizeof(uint32_t) * XNBSIM_GNTTAB_ENTRIES);
		sim->ref_ours = calloc(XNBSIM_GNTTAB_ENTRIES, 1);
		if (sim->ram == NULL || sim->gt == NULL || sim->page_used == NULL ||
		    sim->ref_free == NULL || sim->ref_ours == NULL) {
			err = ENOMEM;
			goto fail_sock;
		}
		for (i = XNBSIM_GNTTAB_ENTRIES; i > RESERVED_REFS; i--)
			sim->ref_free[sim->nref_free++] = i - 1;
	}
	sim->mt = calloc(MT_CAP, sizeof(*sim->mt));
	if (sim->mt == NULL) {
		err = ENOMEM;
		goto fail_sock;
	}
	return sim;

fail_sock:
	if (sim->ram != NULL)
		munmap(sim->ram, (size_t)sim->npages * PAGE);
	if (sim->gt != NULL)
		munmap(sim->gt, XNBSIM_GNTTAB_ENTRIES * sizeof(grant_entry_v1_t));
	if (sim->port != NULL)
		munmap(sim->port, SIM_PORT_TABLE_SIZE);
	if (sim->sh != NULL)
		munmap(sim->sh, sizeof(struct sim_shared));
	close(sim->sock);
fail_free:
	free(sim->mt);
	free(sim->page_used);
	free(sim->ref_free);
	free(sim->ref_ours);
	free(sim);
	errno = err;
	return NULL;
}

/* The ro view without its displaced pages (the backend's now, or reused). */
static void
sim_view_ro_unmap(struct sim_view *v)
{
	uint32_t f = 0, run;

	while (f < v->pages) {
		for (run = 0; f + run < v->pages && v->ro_use[f + run] != RO_DISPLACED; run++)
			;
		if (run > 0)
			munmap(v->ro + (size_t)f * PAGE, (size_t)run * PAGE);
		f += run + 1;
	}
}

static void
sim_view_free(struct sim_view *v)
{
	sim_view_ro_unmap(v);
	free(v->ro_use);
	munmap(v->ram, (size_t)v->pages * PAGE);
	munmap(v->gt, XNBSIM_GNTTAB_ENTRIES * sizeof(grant_entry_v1_t));
	munmap(v->active, XNBSIM_GNTTAB_ENTRIES * sizeof(struct sim_active));
	close(v->ramfd);
	free(v);
}

void
xnbsim_close(struct xnbsim *sim)
{
	if (sim == NULL)
		return;
	close(sim->sock);
	for (int d = 0; d < XNBSIM_MAX_DOMAINS; d++)
		if (sim->view[d] != NULL && sim->view[d]->maps == 0)
			sim_view_free(sim->view[d]);
	if (sim->ram != NULL)
		munmap(sim->ram, (size_t)sim->npages * PAGE);
	if (sim->gt != NULL)
		munmap(sim->gt, XNBSIM_GNTTAB_ENTRIES * sizeof(grant_entry_v1_t));
	munmap(sim->sh, sizeof(struct sim_shared));
	munmap(sim->port, SIM_PORT_TABLE_SIZE);
	free(sim->mt);
	free(sim->batch);
	free(sim->page_used);
	free(sim->ref_free);
	free(sim->ref_ours);
	free(sim);
}

uint16_t
xnbsim_domid(const struct xnbsim *sim)
{
	return sim->domid;
}

const char *
xnbsim_dir(const struct xnbsim *sim)
{
	return sim->dir;
}

/* ---- toolstack -------------------------------------------------------------------- */

int
xnbsim_domain_create(struct xnbsim *sim, uint16_t domid, uint32_t mem_pages)
{
	struct sim_req req = { .op = SIM_DOMAIN_CREATE, .a0 = domid, .a1 = mem_pages };

	return sim_call_locked(sim, &req, NULL, NULL, 0);
}

int
xnbsim_domain_destroy(struct xnbsim *sim, uint16_t domid)
{
	struct sim_req req = { .op = SIM_DOMAIN_DESTROY, .a0 = domid };

	return sim_call_locked(sim, &req, NULL, NULL, 0);
}

int
xnbsim_vif_add(struct xnbsim *sim, uint16_t domid, uint32_t handle,
	       const char *mac, const char *script)
{
	struct sim_req req = { .op = SIM_VIF_ADD, .a0 = domid, .a1 = handle };

	if (mac != NULL && strlen(mac) >= sizeof(req.s0))
		return -EINVAL;
	if (script != NULL && strlen(script) >= sizeof(req.s1))
		return -ENAMETOOLONG;
	snprintf(req.s0, sizeof(req.s0), "%s", mac != NULL ? mac : "");
	snprintf(req.s1, sizeof(req.s1), "%s", script != NULL ? script : "");
	return sim_call_locked(sim, &req, NULL, NULL, 0);
}

int
xnbsim_vif_remove(struct xnbsim *sim, uint16_t domid, uint32_t handle)
{
	struct sim_req req = { .op = SIM_VIF_REMOVE, .a0 = domid, .a1 = handle };

	return sim_call_locked(sim, &req, NULL, NULL, 0);
}

/* ---- own memory and grants ----------------------------------------------------------- */

void *
xnbsim_ram(struct xnbsim *sim, uint32_t *npages)
{
	if (npages != NULL)
		*npages = sim->npages;
	return sim->ram;
}

int
xnbsim_page_alloc(struct xnbsim *sim, uint32_t *gfn, void **va)
{
	int rc = -ENOMEM;

	pthread_mutex_lock(&sim->lock);
	for (uint32_t k = 0; k < sim->npages; k++) {
		uint32_t i = (sim->page_hint + k) % sim->npages;

		if (!sim->page_used[i]) {
			sim->page_used[i] = 1;
			sim->page_hint = i + 1;
			*gfn = i;
			*va = sim->ram + (size_t)i * PAGE;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&sim->lock);
	return rc;
}

void
xnbsim_page_free(struct xnbsim *sim, uint32_t gfn)
{
	pthread_mutex_lock(&sim->lock);
	if (gfn < sim->npages)
		sim->page_used[gfn] = 0;
	pthread_mutex_unlock(&sim->lock);
}

grant_entry_v1_t *
xnbsim_gnttab(struct xnbsim *sim)
{
	return sim->gt;
}

int
xnbsim_grant_access(struct xnbsim *sim, uint16_t to_domid, uint32_t gfn,
		    int readonly)
{
	grant_entry_v1_t *e;
	uint32_t ref;

	if (sim->gt == NULL)
		return -EPERM;
	pthread_mutex_lock(&sim->lock);
	if (sim->nref_free == 0) {
		pthread_mutex_unlock(&sim->lock);
		return -ENOSPC;
	}
	ref = sim->ref_free[--sim->nref_free];
	sim->ref_ours[ref] = 1;
	pthread_mutex_unlock(&sim->lock);
	e = &sim->gt[ref];
	e->frame = gfn;
	e->domid = to_domid;
	/* The entry must be complete before the hypervisor can see it valid. */
	__atomic_store_n(&e->flags, GTF_permit_access | (readonly ? GTF_readonly : 0),
			 __ATOMIC_RELEASE);
	return ref;
}

int
xnbsim_end_access(struct xnbsim *sim, uint32_t ref)
{
	grant_entry_v1_t *e;
	uint16_t f;

	if (sim->gt == NULL || ref < RESERVED_REFS || ref >= XNBSIM_GNTTAB_ENTRIES)
		return -EINVAL;
	e = &sim->gt[ref];
	f = __atomic_load_n(&e->flags, __ATOMIC_ACQUIRE);
	do {
		if (f & (GTF_reading | GTF_writing))
			return -EBUSY;
	} while (!__atomic_compare_exchange_n(&e->flags, &f, 0, false,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	/* The entry is the domain's; the free list is this handle's (a second
	 * handle of the same domain may end refs it never handed out). */
	pthread_mutex_lock(&sim->lock);
	if (sim->ref_ours[ref]) {
		sim->ref_ours[ref] = 0;
		sim->ref_free[sim->nref_free++] = ref;
	}
	pthread_mutex_unlock(&sim->lock);
	return 0;
}

/* ---- the hypervisor's side of grants ----------------------------------------------------- */

/* The current incarnation of domain d, mapped once. Lock held. */
static struct sim_view *
sim_view_get(struct xnbsim *sim, uint16_t d)
{
	struct sim_req req = { .op = SIM_GET_DOMAIN, .a0 = d };
	struct sim_dom *sd;
	struct sim_view *v = sim->view[d];
	uint32_t gen;
	int fds[3];

	if (d >= XNBSIM_MAX_DOMAINS)
		return NULL;
	sd = &sim->sh->dom[d];
	if (__atomic_load_n(&sd->state, __ATOMIC_ACQUIRE) != XNBSIM_DOM_RUNNING &&
	    (v == NULL || __atomic_load_n(&sd->state, __ATOMIC_ACQUIRE) == XNBSIM_DOM_NONE))
		return NULL;
	gen = __atomic_load_n(&sd->gen, __ATOMIC_ACQUIRE);
	if (v != NULL && v->gen == gen)
		return v;
	if (v != NULL) {
		if (v->maps == 0)
			sim_view_free(v);
		else
			v->stale = true;
		sim->view[d] = NULL;
	}
	if (sim_call(sim, &req, &gen, fds, 3) < 0)
		return NULL;
	v = calloc(1, sizeof(*v));
	if (v == NULL)
		goto fail;
	v->gen = gen;
	v->pages = sd->mem_pages;
	v->ramfd = fds[0];
	v->ram = sim_mmap_fd(fds[0], (size_t)v->pages * PAGE, PROT_READ | PROT_WRITE);
	v->gt = sim_mmap_fd(fds[1], XNBSIM_GNTTAB_ENTRIES * sizeof(grant_entry_v1_t),
			    PROT_READ | PROT_WRITE);
	v->active = sim_mmap_fd(fds[2], XNBSIM_GNTTAB_ENTRIES *
				sizeof(struct sim_active), PROT_READ | PROT_WRITE);
	v->ro = sim_mmap_fd(fds[0], (size_t)v->pages * PAGE, PROT_READ);
	v->ro_use = calloc(v->pages, 1);
	close(fds[1]);
	close(fds[2]);
	if (v->ram == NULL || v->gt == NULL || v->active == NULL || v->ro == NULL ||
	    v->ro_use == NULL) {
		if (v->ram != NULL)
			munmap(v->ram, (size_t)v->pages * PAGE);
		if (v->gt != NULL)
			munmap(v->gt, XNBSIM_GNTTAB_ENTRIES * sizeof(grant_entry_v1_t));
		if (v->active != NULL)
			munmap(v->active, XNBSIM_GNTTAB_ENTRIES * sizeof(struct sim_active));
		if (v->ro != NULL)
			munmap(v->ro, (size_t)v->pages * PAGE);
		free(v->ro_use);
		close(fds[0]);
		free(v);
		return NULL;
	}
	sim->view[d] = v;
	return v;
fail:
	for (int i = 0; i < 3; i++)
		close(fds[i]);
	return NULL;
}

static void
sim_active_lock(struct sim_active *a)
{
	while (__atomic_exchange_n(&a->lock, 1, __ATOMIC_ACQUIRE))
		while (__atomic_load_n(&a->lock, __ATOMIC_RELAXED))
			;
}

static void
sim_active_unlock(struct sim_active *a)
{
	__atomic_store_n(&a->lock, 0, __ATOMIC_RELEASE);
}

/*
 * Pin a grant for reading or writing by domain me, as Xen's _set_status_v1:
 * flags and domid are read and updated as one 32-bit word so a guest
 * rewriting its entry cannot slip between the check and the pin. Returns a
 * GNTST code; on success *frame is the granted frame.
 */
static int16_t
sim_pin(struct sim_view *v, uint32_t ref, uint16_t me, bool write, uint32_t *frame)
{
	struct sim_active *a;
	uint32_t *combo, old, want;
	uint16_t bit = write ? GTF_writing : GTF_reading;

	if (ref >= XNBSIM_GNTTAB_ENTRIES)
		return GNTST_bad_gntref;
	a = &v->active[ref];
	combo = (uint32_t *)&v->gt[ref];
	sim_active_lock(a);
	old = __atomic_load_n(combo, __ATOMIC_ACQUIRE);
	for (;;) {
		uint16_t f = old & 0xffff, d = old >> 16;

		if ((f & GTF_type_mask) != GTF_permit_access || d != me ||
		    (write && (f & GTF_readonly))) {
			sim_active_unlock(a);
			return GNTST_general_error;
		}
		want = old | bit;
		if (want == old || __atomic_compare_exchange_n(combo, &old, want, false,
							       __ATOMIC_ACQ_REL,
							       __ATOMIC_ACQUIRE))
			break;
	}
	*frame = __atomic_load_n(&v->gt[ref].frame, __ATOMIC_ACQUIRE);
	if (*frame >= v->pages) {
		if ((write ? a->writers : a->readers) == 0)
			__atomic_fetch_and((uint16_t *)combo, (uint16_t)~bit,
					   __ATOMIC_ACQ_REL);
		sim_active_unlock(a);
		return GNTST_general_error;
	}
	if (write)
		a->writers++;
	else
		a->readers++;
	sim_active_unlock(a);
	return GNTST_okay;
}

static void
sim_unpin(struct sim_view *v, uint32_t ref, bool write)
{
	struct sim_active *a = &v->active[ref];
	uint16_t *cnt = write ? &a->writers : &a->readers;

	sim_active_lock(a);
	if (*cnt > 0 && --*cnt == 0)
		__atomic_fetch_and(&v->gt[ref].flags,
				   (uint16_t)~(write ? GTF_writing : GTF_reading),
				   __ATOMIC_ACQ_REL);
	sim_active_unlock(a);
}

static uint32_t
mt_hash(uintptr_t addr)
{
	return (uint32_t)((addr >> 12) * 2654435761u) & (MT_CAP - 1);
}

static int
mt_insert(struct xnbsim *sim, const struct sim_mt *e)
{
	uint32_t i;

	if (sim->mt_used >= MT_CAP / 2) {
		/* Rebuild to shed tombstones. */
		struct sim_mt *old = sim->mt;

		sim->mt = calloc(MT_CAP, sizeof(*sim->mt));
		if (sim->mt == NULL) {
			sim->mt = old;
			return -ENOMEM;
		}
		sim->mt_used = 0;
		for (uint32_t k = 0; k < MT_CAP; k++)
			if (old[k].addr > MT_TOMB) {
				i = mt_hash(old[k].addr);
				while (sim->mt[i].addr != MT_EMPTY)
					i = (i + 1) & (MT_CAP - 1);
				sim->mt[i] = old[k];
				sim->mt_used++;
			}
		free(old);
		if (sim->mt_used >= MT_CAP / 2)
			return -ENOSPC;
	}
	i = mt_hash(e->addr);
	while (sim->mt[i].addr > MT_TOMB)
		i = (i + 1) & (MT_CAP - 1);
	if (sim->mt[i].addr == MT_EMPTY)
		sim->mt_used++;
	sim->mt[i] = *e;
	return 0;
}

static struct sim_mt *
mt_find(struct xnbsim *sim, uintptr_t addr)
{
	uint32_t i = mt_hash(addr);

	while (sim->mt[i].addr != MT_EMPTY) {
		if (sim->mt[i].addr == addr)
			return &sim->mt[i];
		i = (i + 1) & (MT_CAP - 1);
	}
	return NULL;
}

/* A free batch for up to SIM_BATCH_PAGES pages. Lock held. */
static uint32_t
sim_batch_new(struct xnbsim *sim)
{
	uint32_t i, n;

	for (uint32_t k = 0; k < sim->nbatch; k++) {
		i = (sim->batch_hint + k) % sim->nbatch;
		if (sim->batch[i].alive == 0)
			goto found;
	}
	n = sim->nbatch == 0 ? 64 : sim->nbatch * 2;
	{
		struct sim_batch *b = realloc(sim->batch, n * sizeof(*b));

		if (b == NULL)
			return UINT32_MAX;
		memset(b + sim->nbatch, 0, (n - sim->nbatch) * sizeof(*b));
		sim->batch = b;
	}
	i = sim->nbatch;
	sim->nbatch = n;
found:
	sim->batch_hint = i + 1;
	memset(&sim->batch[i], 0, sizeof(sim->batch[i]));
	return i;
}

static bool
sim_batch_live(const struct sim_batch *b, int32_t idx)
{
	return idx >= 0 && (uint32_t)idx < b->pages &&
		(b->live[idx / 64] >> (idx % 64)) & 1;
}

static void
sim_batch_take(struct xnbsim *sim, uint32_t bi, uint32_t idx)
{
	struct sim_batch *b = &sim->batch[bi];

	b->live[idx / 64] &= ~(UINT64_C(1) << (idx % 64));
	b->alive--;
}

static int
sim_idx_cmp(const void *a, const void *b)
{
	const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * The system calls and VMA splits that releasing these pages costs a
 * backend whose map calls were gntdev mappings: one munmap per run of
 * adjacent pages of one mapping, a split for each end of a run where the
 * mapping goes on. Takes the pages out of their batches. Lock held.
 */
static void
sim_batch_release(struct xnbsim *sim, struct sim_mt *const *e, uint32_t n,
		  uint32_t *syscalls, uint32_t *splits)
{
	uint64_t key[SIM_BATCH_PAGES];
	uint32_t i = 0;

	*syscalls = *splits = 0;
	while (i < n) {
		uint32_t k = (n - i < SIM_BATCH_PAGES ? n - i : SIM_BATCH_PAGES), j;

		for (j = 0; j < k; j++)
			key[j] = (uint64_t)e[i + j]->batch << 32 | e[i + j]->idx;
		qsort(key, k, sizeof(key[0]), sim_idx_cmp);
		for (j = 0; j < k; j++)
			sim_batch_take(sim, key[j] >> 32, (uint32_t)key[j]);
		for (j = 0; j < k;) {
			uint32_t bi = key[j] >> 32, first = (uint32_t)key[j], last = first;

			while (j + 1 < k && key[j + 1] == key[j] + 1) {
				j++;
				last++;
			}
			j++;
			(*syscalls)++;
			*splits += sim_batch_live(&sim->batch[bi], (int32_t)first - 1) +
				sim_batch_live(&sim->batch[bi], (int32_t)last + 1);
		}
		i += k;
	}
}

int
xnbsim_map(struct xnbsim *sim, uint16_t domid, uint32_t count,
	   const uint32_t *refs, int writable, void **addrs, int16_t *status)
{
	struct sim_view *v;
	uint32_t i, frame, bi = UINT32_MAX, calls = 0;
	bool in_ro;
	int done = 0;

	pthread_mutex_lock(&sim->lock);
	STAT_ADD(sim, sim->domid, hc_map, 1);
	STAT_ADD(sim, sim->domid, op_map, count);
	v = sim_view_get(sim, domid);
	for (i = 0; i < count; i++) {
		struct sim_mt e;
		void *p;

		addrs[i] = NULL;
		if (i % SIM_BATCH_PAGES == 0) {
			/* gntdev: MAP_GRANT_REF, mmap, then drop the record */
			bi = sim_batch_new(sim);
			calls++;
		}
		if (v == NULL || sim->sh->dom[domid].state != XNBSIM_DOM_RUNNING) {
			status[i] = GNTST_bad_domain;
			goto failed;
		}
		status[i] = sim_pin(v, refs[i], sim->domid, writable, &frame);
		if (status[i] != GNTST_okay)
			goto failed;
		in_ro = !writable && v->ro_use[frame] == RO_FREE;
		if (in_ro)
			p = v->ro + (size_t)frame * PAGE;
		else
			p = mmap(NULL, PAGE, PROT_READ | (writable ? PROT_WRITE : 0),
				 MAP_SHARED, v->ramfd, (off_t)frame * PAGE);
		if (p == MAP_FAILED) {
			sim_unpin(v, refs[i], writable);
			status[i] = GNTST_no_device_space;
			goto failed;
		}
		e = (struct sim_mt){ .addr = (uintptr_t)p, .view = v, .ref = refs[i],
				     .dom = domid, .writable = !!writable,
				     .in_ro = in_ro, .frame = frame, .batch = bi,
				     .idx = i % SIM_BATCH_PAGES };
		if (bi == UINT32_MAX || mt_insert(sim, &e) < 0) {
			if (!in_ro)
				munmap(p, PAGE);
			sim_unpin(v, refs[i], writable);
			status[i] = GNTST_no_device_space;
			goto failed;
		}
		if (in_ro)
			v->ro_use[frame] = RO_MAPPED;
		v->maps++;
		sim->batch[bi].live[e.idx / 64] |= UINT64_C(1) << (e.idx % 64);
		sim->batch[bi].alive++;
		sim->batch[bi].pages = e.idx + 1;
		STAT_ADD(sim, domid, grants_mapped, 1);
		addrs[i] = p;
		done++;
		continue;
failed:
		STAT_ADD(sim, sim->domid, op_failed, 1);
	}
	sim->vm.map_syscalls += 3 * calls;
	sim->vm.pages_mapped += done;
	pthread_mutex_unlock(&sim->lock);
	sim_charge(sim, sim->sh->cost.ns_per_map_op, count, 0, 0);
	sim_charge_vm(sim, sim->sh->cost.ns_per_map_op, count, 3 * calls, done, 0);
	return done;
}

/* Is addr in a page this handle maps from another domain? Lock held. */
static bool
sim_is_mapped(struct xnbsim *sim, const void *addr)
{
	return mt_find(sim, (uintptr_t)addr & ~(uintptr_t)(PAGE - 1)) != NULL;
}

/* Drop what a mapping holds: the pin, the count, the view. Lock held. */
static void
sim_mt_release(struct xnbsim *sim, struct sim_mt *e)
{
	struct sim_view *v = e->view;

	sim_unpin(v, e->ref, e->writable);
	STAT_ADD(sim, e->dom, grants_mapped, -1);
	e->addr = MT_TOMB;
	if (--v->maps == 0 && v->stale)
		sim_view_free(v);
}

/* Unmaps n mappings found for an unmap call, their batches' system calls
 * and splits added to *syscalls and *splits. Lock held. */
static void
sim_unmap_found(struct xnbsim *sim, struct sim_mt *const *found, uint32_t n,
		uint32_t *syscalls, uint32_t *splits)
{
	uint32_t sc, sp;

	sim_batch_release(sim, found, n, &sc, &sp);
	*syscalls += sc;
	*splits += sp;
	for (uint32_t k = 0; k < n; k++) {
		if (found[k]->in_ro)
			found[k]->view->ro_use[found[k]->frame] = RO_FREE;
		else
			munmap((void *)found[k]->addr, PAGE);
		sim_mt_release(sim, found[k]);
	}
}

int
xnbsim_unmap(struct xnbsim *sim, uint32_t count, void *const *addrs)
{
	struct sim_mt *found[SIM_BATCH_PAGES];
	uint32_t nf = 0, syscalls = 0, splits = 0;
	int rc = 0;

	pthread_mutex_lock(&sim->lock);
	STAT_ADD(sim, sim->domid, hc_unmap, 1);
	STAT_ADD(sim, sim->domid, op_unmap, count);
	for (uint32_t i = 0; i < count; i++) {
		struct sim_mt *e = mt_find(sim, (uintptr_t)addrs[i]);

		if (e == NULL) {
			STAT_ADD(sim, sim->domid, op_failed, 1);
			rc = -EINVAL;
			continue;
		}
		found[nf++] = e;
		if (nf == SIM_BATCH_PAGES) {
			sim_unmap_found(sim, found, nf, &syscalls, &splits);
			nf = 0;
		}
	}
	if (nf > 0)
		sim_unmap_found(sim, found, nf, &syscalls, &splits);
	sim->vm.unmap_syscalls += syscalls;
	sim->vm.vma_splits += splits;
	pthread_mutex_unlock(&sim->lock);
	sim_charge(sim, sim->sh->cost.ns_per_unmap_op, count,
		   (count + XNBSIM_UNMAP_BATCH - 1) / XNBSIM_UNMAP_BATCH, 0);
	sim_charge_vm(sim, sim->sh->cost.ns_per_unmap_op, count, syscalls, count, splits);
	return rc;
}

/* Takes one of the failures a test injected, if any is left. */
static bool
sim_fault_take(uint32_t *left)
{
	uint32_t v = __atomic_load_n(left, __ATOMIC_RELAXED);

	while (v > 0)
		if (__atomic_compare_exchange_n(left, &v, v - 1, false, __ATOMIC_RELAXED,
						__ATOMIC_RELAXED))
			return true;
	return false;
}

int
xnbsim_fault_set(struct xnbsim *sim, const char *what, uint32_t count)
{
	if (strcmp(what, "replace") != 0)
		return -EINVAL;
	__atomic_store_n(&sim->sh->fault.replace, count, __ATOMIC_RELAXED);
	return 0;
}

int
xnbsim_unmap_replace(struct xnbsim *sim, void *addr, void *newpage)
{
	struct sim_mt *e;
	int rc = 0;

	pthread_mutex_lock(&sim->lock);
	STAT_ADD(sim, sim->domid, hc_unmap, 1);
	STAT_ADD(sim, sim->domid, op_unmap, 1);
	e = mt_find(sim, (uintptr_t)addr);
	if (e == NULL) {
		rc = -EINVAL;
	} else if (sim_fault_take(&sim->sh->fault.replace)) {
		rc = -ENOMEM;	/* injected: xnb-simctl fault replace N */
	} else if (mremap(newpage, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED,
			  addr) == MAP_FAILED) {
		rc = -errno;
	} else {
		uint32_t sc, sp;

		if (e->in_ro)
			e->view->ro_use[e->frame] = RO_DISPLACED;
		sim_batch_release(sim, &e, 1, &sc, &sp);
		sim->vm.unmap_syscalls++;
		sim->vm.vma_splits += sp;
		sim_mt_release(sim, e);
	}
	if (rc < 0)
		STAT_ADD(sim, sim->domid, op_failed, 1);
	pthread_mutex_unlock(&sim->lock);
	sim_charge(sim, sim->sh->cost.ns_per_unmap_op, 1, 1, 0);
	if (rc == 0)
		sim_spin(sim->sh->cost.ns_per_vma_swap +
			 (uint64_t)sim->sh->cost.ns_per_hypercall +
			 sim->sh->cost.ns_per_unmap_op);
	return rc;
}

/* One side of a copy: local memory, or a pinned foreign grant. */
static int16_t
sim_copy_side(struct xnbsim *sim, const union xengnttab_copy_ptr *p, bool foreign,
	      bool write, uint16_t len, uint8_t **va, struct sim_view **pv)
{
	uint32_t frame;
	int16_t st;

	*pv = NULL;
	if (!foreign) {
		*va = p->virt;
		return GNTST_okay;
	}
	if ((uint32_t)p->foreign.offset + len > PAGE)
		return GNTST_bad_copy_arg;
	*pv = sim_view_get(sim, p->foreign.domid);
	if (*pv == NULL ||
	    sim->sh->dom[p->foreign.domid].state != XNBSIM_DOM_RUNNING)
		return GNTST_bad_domain;
	st = sim_pin(*pv, p->foreign.ref, sim->domid, write, &frame);
	if (st != GNTST_okay) {
		*pv = NULL;
		return st;
	}
	*va = (*pv)->ram + (size_t)frame * PAGE + p->foreign.offset;
	return GNTST_okay;
}

int
xnbsim_copy(struct xnbsim *sim, uint32_t count, xengnttab_grant_copy_segment_t *segs)
{
	uint64_t bytes = 0;

	pthread_mutex_lock(&sim->lock);
	STAT_ADD(sim, sim->domid, hc_copy, 1);
	STAT_ADD(sim, sim->domid, op_copy, count);
	/* A local side inside a page we map from another domain: gntdev cannot
	 * pin it (get_user_pages fails on a grant mapping) and fails the whole
	 * call with EFAULT; name such pages by their grant instead. */
	for (uint32_t i = 0; i < count; i++) {
		const xengnttab_grant_copy_segment_t *s = &segs[i];

		if ((!(s->flags & GNTCOPY_source_gref) && sim_is_mapped(sim, s->source.virt)) ||
		    (!(s->flags & GNTCOPY_dest_gref) && sim_is_mapped(sim, s->dest.virt))) {
			STAT_ADD(sim, sim->domid, op_failed, count);
			pthread_mutex_unlock(&sim->lock);
			return -EFAULT;
		}
	}
	for (uint32_t i = 0; i < count; i++) {
		xengnttab_grant_copy_segment_t *s = &segs[i];
		struct sim_view *sv, *dv;
		uint8_t *src, *dst;

		s->status = sim_copy_side(sim, &s->source,
					  s->flags & GNTCOPY_source_gref, false,
					  s->len, &src, &sv);
		if (s->status == GNTST_okay) {
			s->status = sim_copy_side(sim, &s->dest,
						  s->flags & GNTCOPY_dest_gref, true,
						  s->len, &dst, &dv);
			if (s->status == GNTST_okay) {
				memcpy(dst, src, s->len);
				bytes += s->len;
				if (dv != NULL)
					sim_unpin(dv, s->dest.foreign.ref, true);
			}
			if (sv != NULL)
				sim_unpin(sv, s->source.foreign.ref, false);
		}
		if (s->status != GNTST_okay)
			STAT_ADD(sim, sim->domid, op_failed, 1);
	}
	STAT_ADD(sim, sim->domid, bytes_copied, bytes);
	pthread_mutex_unlock(&sim->lock);
	sim_charge(sim, sim->sh->cost.ns_per_copy_op, count, 0, bytes);
	return 0;
}

/* ---- event channels --------------------------------------------------------------------- */

struct xnbsim_evtchn *
xnbsim_evtchn_open(struct xnbsim *sim)
{
	struct xnbsim_evtchn *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->sim = sim;
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epfd < 0) {
		free(h);
		return NULL;
	}
	for (int i = 0; i < XNBSIM_EVTCHN_PORTS; i++)
		h->efd[i] = h->peer_efd[i] = -1;
	return h;
}

int
xnbsim_evtchn_fd(struct xnbsim_evtchn *h)
{
	return h->epfd;
}

/* A request the daemon answers with a new port and its eventfd: the fd
 * goes into the handle's epoll set under that port. The port, or -errno. */
static int
sim_evt_new(struct xnbsim_evtchn *h, struct sim_req *req)
{
	struct epoll_event ev = { .events = EPOLLIN };
	uint32_t port;
	int fd, rc;

	rc = sim_call_locked(h->sim, req, &port, &fd, 1);
	if (rc < 0)
		return rc;
	ev.data.u32 = port;
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		close(fd);
		return -errno;
	}
	h->efd[port] = fd;
	return port;
}

int
xnbsim_evtchn_alloc_unbound(struct xnbsim_evtchn *h, uint16_t remote_domid)
{
	struct sim_req req = { .op = SIM_EVT_ALLOC, .a0 = remote_domid };

	return sim_evt_new(h, &req);
}

int
xnbsim_evtchn_bind_interdomain(struct xnbsim_evtchn *h, uint16_t remote_domid,
			       uint32_t remote_port)
{
	struct sim_req req = { .op = SIM_EVT_BIND, .a0 = remote_domid,
			       .a1 = remote_port };

	return sim_evt_new(h, &req);
}

/* Forget the peer of a local port: its eventfd and its page. */
static void
sim_evt_peer_drop(struct xnbsim_evtchn *h, uint32_t port)
{
	if (h->peer_efd[port] >= 0)
		close(h->peer_efd[port]);
	h->peer_efd[port] = -1;
	if (h->peer[port] != NULL)
		munmap((void *)((uintptr_t)h->peer[port] & ~(uintptr_t)(PAGE - 1)), PAGE);
	h->peer[port] = NULL;
}

/* The peer of a local port as the daemon sees it now: its eventfd and the
 * page of its domain's table that holds it. 0 or -errno. */
static int
sim_evt_peer_get(struct xnbsim_evtchn *h, uint32_t port)
{
	struct sim_req req = { .op = SIM_EVT_PEER, .a0 = port };
	size_t off;
	uint32_t rport;
	uint8_t *page;
	int fds[2], rc;

	sim_evt_peer_drop(h, port);
	rc = sim_call_locked(h->sim, &req, &rport, fds, 2);
	if (rc < 0)
		return rc;
	off = (size_t)(rport % XNBSIM_EVTCHN_PORTS) * sizeof(struct sim_port);
	page = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fds[1],
		    off & ~(size_t)(PAGE - 1));
	close(fds[1]);
	if (page == MAP_FAILED) {
		close(fds[0]);
		return -errno;
	}
	h->peer_efd[port] = fds[0];
	h->peer[port] = (struct sim_port *)(page + (off & (PAGE - 1)));
	return 0;
}

int
xnbsim_evtchn_unbind(struct xnbsim_evtchn *h, uint32_t port)
{
	struct sim_req req = { .op = SIM_EVT_CLOSE, .a0 = port };

	if (port >= XNBSIM_EVTCHN_PORTS || h->efd[port] < 0)
		return -EINVAL;
	epoll_ctl(h->epfd, EPOLL_CTL_DEL, h->efd[port], NULL);
	close(h->efd[port]);
	h->efd[port] = -1;
	sim_evt_peer_drop(h, port);
	return sim_call_locked(h->sim, &req, NULL, NULL, 0);
}

void
xnbsim_evtchn_close(struct xnbsim_evtchn *h)
{
	if (h == NULL)
		return;
	for (uint32_t p = 0; p < XNBSIM_EVTCHN_PORTS; p++)
		if (h->efd[p] >= 0)
			xnbsim_evtchn_unbind(h, p);
	close(h->epfd);
	free(h);
}

/* Mark a port's event and wake its handle unless it is masked: the rule of
 * the Linux evtchn device (delivery masks the port until unmask). */
static void
sim_evt_raise(struct sim_port *p, int efd, bool unmasking)
{
	uint32_t old = __atomic_load_n(&p->flags, __ATOMIC_ACQUIRE), want;
	bool wake;

	do {
		if (unmasking && !(old & SIM_PORT_PENDING)) {
			want = old & ~SIM_PORT_MASKED;
			wake = false;
		} else if (!unmasking && (old & SIM_PORT_MASKED)) {
			want = old | SIM_PORT_PENDING;
			wake = false;
		} else {
			want = (old | SIM_PORT_MASKED) & ~SIM_PORT_PENDING;
			wake = true;
		}
	} while (!__atomic_compare_exchange_n(&p->flags, &old, want, false,
					      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	if (wake) {
		uint64_t one = 1;

		if (write(efd, &one, sizeof(one)) < 0) {
			/* A full eventfd counter is still "readable". */
		}
	}
}

int
xnbsim_evtchn_notify(struct xnbsim_evtchn *h, uint32_t port)
{
	struct xnbsim *sim = h->sim;
	struct sim_port *lp;
	uint32_t gen;

	if (port >= XNBSIM_EVTCHN_PORTS || h->efd[port] < 0)
		return -EINVAL;
	lp = &sim->port[port];
	STAT_ADD(sim, sim->domid, hc_evtchn_send, 1);
	if (__atomic_load_n(&lp->state, __ATOMIC_ACQUIRE) != SIM_PORT_INTERDOMAIN)
		return 0;	/* Xen drops it silently */
	gen = __atomic_load_n(&lp->gen, __ATOMIC_ACQUIRE);
	if (h->peer_efd[port] < 0 || h->peer_gen[port] != gen) {
		if (sim_evt_peer_get(h, port) < 0)
			return 0;	/* peer went away meanwhile */
		h->peer_gen[port] = gen;
	}
	sim_evt_raise(h->peer[port], h->peer_efd[port], false);
	sim_charge(sim, 0, 0, 0, 0);
	return 0;
}

int
xnbsim_evtchn_pending(struct xnbsim_evtchn *h)
{
	struct epoll_event ev;
	uint64_t v;
	int n;

	n = epoll_wait(h->epfd, &ev, 1, 0);
	if (n <= 0)
		return -EAGAIN;
	if (ev.data.u32 >= XNBSIM_EVTCHN_PORTS || h->efd[ev.data.u32] < 0)
		return -EAGAIN;
	if (read(h->efd[ev.data.u32], &v, sizeof(v)) < 0) {
		/* Raced with another reader of this handle: nothing pending. */
		return -EAGAIN;
	}
	return ev.data.u32;
}

int
xnbsim_evtchn_unmask(struct xnbsim_evtchn *h, uint32_t port)
{
	struct xnbsim *sim = h->sim;

	if (port >= XNBSIM_EVTCHN_PORTS || h->efd[port] < 0)
		return -EINVAL;
	sim_evt_raise(&sim->port[port], h->efd[port], true);
	return 0;
}

/* ---- counters and costs ------------------------------------------------------------------ */

int
xnbsim_stats(struct xnbsim *sim, uint16_t domid, struct xnbsim_stats *st)
{
	const struct xnbsim_stats *s;

	if (domid >= XNBSIM_MAX_DOMAINS)
		return -EINVAL;
	s = &sim->sh->dom[domid].stats;
#define LD(f) st->f = __atomic_load_n(&s->f, __ATOMIC_RELAXED)
	LD(hc_map); LD(hc_unmap); LD(hc_copy); LD(hc_evtchn_send);
	LD(op_map); LD(op_unmap); LD(op_copy); LD(op_failed); LD(bytes_copied);
	LD(grants_mapped); LD(evtchn_bound);
#undef LD
	st->state = __atomic_load_n(&sim->sh->dom[domid].state, __ATOMIC_ACQUIRE);
	return 0;
}

void
xnbsim_vm_stats(struct xnbsim *sim, struct xnbsim_vm_stats *st)
{
	pthread_mutex_lock(&sim->lock);
	*st = sim->vm;
	pthread_mutex_unlock(&sim->lock);
}

int
xnbsim_cost_get(struct xnbsim *sim, struct xnbsim_cost *cost)
{
	*cost = sim->sh->cost;
	return 0;
}

int
xnbsim_cost_set(struct xnbsim *sim, const struct xnbsim_cost *cost)
{
	struct sim_req req = { .op = SIM_COST_SET, .cost = *cost };

	return sim_call_locked(sim, &req, NULL, NULL, 0);
}

/* The cost model's keys, once (the parser, simctl's and simd's usage). */
static const struct {
	const char *key;
	size_t off;
} sim_cost_keys[] = {
	{ "hypercall", offsetof(struct xnbsim_cost, ns_per_hypercall) },
	{ "map", offsetof(struct xnbsim_cost, ns_per_map_op) },
	{ "unmap", offsetof(struct xnbsim_cost, ns_per_unmap_op) },
	{ "flush", offsetof(struct xnbsim_cost, ns_per_unmap_flush) },
	{ "copy", offsetof(struct xnbsim_cost, ns_per_copy_op) },
	{ "kib", offsetof(struct xnbsim_cost, ns_per_kib_copied) },
	{ "syscall", offsetof(struct xnbsim_cost, ns_per_syscall) },
	{ "vma", offsetof(struct xnbsim_cost, ns_per_vma_page) },
	{ "split", offsetof(struct xnbsim_cost, ns_per_vma_split) },
	{ "swap", offsetof(struct xnbsim_cost, ns_per_vma_swap) },
};

int
xnbsim_cost_parse(const char *arg, struct xnbsim_cost *c)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	int rc = 0;

	if (copy == NULL)
		return -ENOMEM;
	for (tok = strtok_r(copy, ",", &save); tok != NULL && rc == 0;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '='), *end;
		unsigned long v;
		size_t k;

		rc = -EINVAL;
		if (eq == NULL)
			break;
		*eq = '\0';
		v = strtoul(eq + 1, &end, 10);
		if (*end != '\0' || v > UINT32_MAX)
			break;
		for (k = 0; k < sizeof(sim_cost_keys) / sizeof(sim_cost_keys[0]); k++)
			if (strcmp(tok, sim_cost_keys[k].key) == 0) {
				*(uint32_t *)((uint8_t *)c + sim_cost_keys[k].off) = v;
				rc = 0;
			}
	}
	free(copy);
	return rc;
}

int
xnbsim_cost_format(const struct xnbsim_cost *c, char *buf, size_t len)
{
	int n = 0;

	for (size_t k = 0; k < sizeof(sim_cost_keys) / sizeof(sim_cost_keys[0]); k++)
		n += snprintf(buf + n, len > (size_t)n ? len - n : 0, "%s%s=%u",
			      k > 0 ? "," : "", sim_cost_keys[k].key,
			      *(const uint32_t *)((const uint8_t *)c + sim_cost_keys[k].off));
	return n;
}
