/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * libxnbsim: what a process sees of the simulated hypervisor.
 *
 * One simulator daemon (xnb-simd, state under a directory) hosts the domains.
 * A process attaches as one domain and then does what that domain could do on
 * Xen: a guest grants its pages and allocates event channels; a backend (dom0)
 * maps and copies grants and binds event channels. The checks Xen makes on a
 * grant entry run in the caller, on the shared grant table, so a hypercall
 * costs what a few syscalls cost; the optional cost model adds the rest.
 *
 * xenstore is not here: use the real libxenstore with XENSTORED_PATH set to
 * xnbsim_xs_path() (or Debian's xenstore-* tools the same way).
 *
 * Every function returns 0 (or a non-negative result) on success and -errno on
 * failure unless it says otherwise; grant operations report per-operation
 * GNTST_* codes from xen/grant_table.h.
 */

#ifndef XNBSIM_H
#define XNBSIM_H

#include <stddef.h>
#include <stdint.h>

#include <xengnttab.h>		/* xengnttab_grant_copy_segment_t */
#include <xen/grant_table.h>	/* grant_entry_v1_t, GTF_*, GNTST_* */

#define XNBSIM_PAGE_SIZE	4096u
#define XNBSIM_MAX_DOMAINS	4096	/* domids 0 .. 4095 (docs/simulator.md) */
#define XNBSIM_GNTTAB_ENTRIES	16384	/* 32 frames of v1 entries */
/* Per domain, port 0 never used: the 2-level ABI's 4096 on a 64-bit guest,
 * which a backend's dom0 needs with hundreds of guests (two a queue). */
#define XNBSIM_EVTCHN_PORTS	4096

struct xnbsim;		/* a process attached as one domain */
struct xnbsim_evtchn;	/* an event-channel handle: one pollable fd, many ports */

/* ---- attach, toolstack ---------------------------------------------------- */

/* Attach to the simulator in dir as domid (0 = the backend domain, always
 * present; a guest domain must have been created). NULL and errno on error:
 * ENOENT when no simulator runs in dir, ESRCH when the domain does not exist. */
struct xnbsim *xnbsim_open(const char *dir, uint16_t domid);
void xnbsim_close(struct xnbsim *sim);
uint16_t xnbsim_domid(const struct xnbsim *sim);
const char *xnbsim_dir(const struct xnbsim *sim);

/* Path of the xenstored socket for a domain: dom0 is privileged, a guest's
 * connection is limited to what xenstore permissions give that domain. */
int xnbsim_xs_path(const char *dir, uint16_t domid, char *buf, size_t len);

/* Toolstack operations, dom0 only (-EPERM otherwise). domain_create also makes
 * /local/domain/<domid> owned by the guest. domain_destroy is xl destroy: the
 * guest's event channels close, its xenstore tree goes, @releaseDomain fires,
 * and the domain lingers as a zombie while others still map its grants (its
 * memory stays valid for them); the domid can be reused only when it is gone. */
int xnbsim_domain_create(struct xnbsim *sim, uint16_t domid, uint32_t mem_pages);
int xnbsim_domain_destroy(struct xnbsim *sim, uint16_t domid);

/* What libxl writes for a vif: frontend /local/domain/<domid>/device/vif/<handle>
 * and backend /local/domain/<backend>/backend/vif/<domid>/<handle> with their
 * keys (frontend, frontend-id, backend, backend-id, handle, mac, online, state=1,
 * script when given) and permissions, as xl does. */
int xnbsim_vif_add(struct xnbsim *sim, uint16_t domid, uint32_t handle,
		   const char *mac, const char *script);
int xnbsim_vif_remove(struct xnbsim *sim, uint16_t domid, uint32_t handle);

/* ---- a domain's own memory ------------------------------------------------ */

/* The caller's RAM: frame (gfn) i is at ram + i * XNBSIM_PAGE_SIZE. */
void *xnbsim_ram(struct xnbsim *sim, uint32_t *npages);

/* A trivial page allocator over the caller's RAM (thread-safe). */
int xnbsim_page_alloc(struct xnbsim *sim, uint32_t *gfn, void **va);
void xnbsim_page_free(struct xnbsim *sim, uint32_t gfn);

/* ---- grant table, granting side ------------------------------------------ */

/* Grant to_domid access to frame gfn: fills a free entry (frame, domid, then
 * flags with a write barrier, as Linux does) and returns its ref. */
int xnbsim_grant_access(struct xnbsim *sim, uint16_t to_domid, uint32_t gfn,
			int readonly);
/* End access: succeeds only when the entry is not in use (GTF_reading and
 * GTF_writing clear), atomically, as gnttab_end_foreign_access_ref does;
 * -EBUSY otherwise, and the ref stays allocated. */
int xnbsim_end_access(struct xnbsim *sim, uint32_t ref);
/* The raw table in shared memory, for guests that misbehave on purpose. */
grant_entry_v1_t *xnbsim_gnttab(struct xnbsim *sim);

/* ---- grant table, using side (what gntdev and GNTTABOP_copy do) ------------ */

/* Map count grants of domid, one hypercall for the batch. Each page can be
 * unmapped alone (readonly maps come from one read-only view of the domain,
 * made once, so a map costs no host syscall); addrs[i] is NULL when status[i] is not
 * GNTST_okay. writable=0 maps PROT_READ; mapping a readonly grant writable fails
 * with GNTST_permission_denied. Returns the number mapped, or -errno when the
 * call itself failed. */
int xnbsim_map(struct xnbsim *sim, uint16_t domid, uint32_t count,
	       const uint32_t *refs, int writable, void **addrs, int16_t *status);
/* Unmap pages mapped by xnbsim_map, one hypercall for the batch. */
int xnbsim_unmap(struct xnbsim *sim, uint32_t count, void *const *addrs);
/* Replace a mapped grant page by anonymous memory holding the same bytes,
 * atomically at the same address (no window where addr is unmapped), and
 * release the grant. The caller has already copied the data into newpage
 * (a page-aligned private anonymous page, consumed by this call). */
int xnbsim_unmap_replace(struct xnbsim *sim, void *addr, void *newpage);
/* Make the next count calls of what fail, for tests: "replace" (the swap
 * above fails with -ENOMEM and changes nothing). */
int xnbsim_fault_set(struct xnbsim *sim, const char *what, uint32_t count);
/* Batched grant copy with the semantics of xengnttab_grant_copy: each segment's
 * foreign side must satisfy offset + len <= 4096 (GNTST_bad_copy_arg otherwise);
 * status per segment; one hypercall for the batch. Returns 0 or -errno. */
int xnbsim_copy(struct xnbsim *sim, uint32_t count,
		xengnttab_grant_copy_segment_t *segs);

/* ---- event channels -------------------------------------------------------- */

/* A handle behaves as /dev/xen/evtchn: the fd polls readable when a bound port
 * has an event; pending() returns such a port, which stays masked until
 * unmask(); a notify to a masked port is remembered and delivered on unmask. */
struct xnbsim_evtchn *xnbsim_evtchn_open(struct xnbsim *sim);
void xnbsim_evtchn_close(struct xnbsim_evtchn *h);	/* unbinds its ports */
int xnbsim_evtchn_fd(struct xnbsim_evtchn *h);
int xnbsim_evtchn_alloc_unbound(struct xnbsim_evtchn *h, uint16_t remote_domid);
int xnbsim_evtchn_bind_interdomain(struct xnbsim_evtchn *h, uint16_t remote_domid,
				   uint32_t remote_port);
int xnbsim_evtchn_unbind(struct xnbsim_evtchn *h, uint32_t port);
/* Notify the peer of a local port; silently dropped while the port is unbound
 * or the peer is gone, as on Xen. */
int xnbsim_evtchn_notify(struct xnbsim_evtchn *h, uint32_t port);
int xnbsim_evtchn_pending(struct xnbsim_evtchn *h);	/* port, or -EAGAIN */
int xnbsim_evtchn_unmask(struct xnbsim_evtchn *h, uint32_t port);

/* ---- counters and the cost model ------------------------------------------- */

/* Per calling domain: hypercalls and operations it made. */
struct xnbsim_stats {
	uint64_t hc_map;	/* map hypercalls (batches) */
	uint64_t hc_unmap;
	uint64_t hc_copy;
	uint64_t hc_evtchn_send;
	uint64_t op_map;	/* grant operations inside them */
	uint64_t op_unmap;
	uint64_t op_copy;
	uint64_t op_failed;	/* operations answered with a GNTST error */
	uint64_t bytes_copied;
	/* Held by other domains on this domain's grants, now. */
	uint32_t grants_mapped;	/* pages mapped by others */
	uint32_t evtchn_bound;	/* this domain's ports not closed */
	uint32_t state;		/* XNBSIM_DOM_* */
};

enum {
	XNBSIM_DOM_NONE = 0,	/* no such domain */
	XNBSIM_DOM_RUNNING,
	XNBSIM_DOM_ZOMBIE,	/* destroyed, others still map its pages */
};

int xnbsim_stats(struct xnbsim *sim, uint16_t domid, struct xnbsim_stats *st);

/* What the simulated hypervisor charges, spun in the calling thread. All zero
 * unless the daemon was started with --cost (see docs/simulator.md). */
struct xnbsim_cost {
	uint32_t ns_per_hypercall;
	uint32_t ns_per_map_op;
	uint32_t ns_per_unmap_op;
	uint32_t ns_per_unmap_flush;	/* per XNBSIM_UNMAP_BATCH unmaps, started */
	uint32_t ns_per_copy_op;
	uint32_t ns_per_kib_copied;
	/* The backend's host kernel, for grant maps (app/xnb-vmacost measures
	 * them): a system call, a page entering or leaving a VMA, a VMA split. */
	uint32_t ns_per_syscall;
	uint32_t ns_per_vma_page;
	uint32_t ns_per_vma_split;
	uint32_t ns_per_vma_swap;	/* an mremap over one page of a mapping */
};

/* Xen flushes the TLB once per 32 unmap operations of a call
 * (GNTTAB_UNMAP_BATCH_SIZE in xen/common/grant_table.c). */
#define XNBSIM_UNMAP_BATCH 32

/* Parse "hypercall=NS,map=NS,unmap=NS,flush=NS,copy=NS,kib=NS,syscall=NS,
 * vma=NS,split=NS,swap=NS" (any subset) into c; -EINVAL on a bad spec. */
int xnbsim_cost_parse(const char *spec, struct xnbsim_cost *c);
/* The same spec for c, every key; returns its length as snprintf does. */
int xnbsim_cost_format(const struct xnbsim_cost *c, char *buf, size_t len);

/* What this handle's grant maps would have cost a backend on real Xen in
 * system calls (a gntdev mapping per map call, a munmap per run of
 * adjacent pages released, an mremap per page swapped). */
struct xnbsim_vm_stats {
	uint64_t map_syscalls;
	uint64_t unmap_syscalls;
	uint64_t pages_mapped;
	uint64_t vma_splits;
};

void xnbsim_vm_stats(struct xnbsim *sim, struct xnbsim_vm_stats *st);

int xnbsim_cost_get(struct xnbsim *sim, struct xnbsim_cost *cost);
int xnbsim_cost_set(struct xnbsim *sim, const struct xnbsim_cost *cost); /* dom0 */

#endif /* XNBSIM_H */
