/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The mbuf-lifetime tracker (see xnb_lifetime.h): the lazy-copy idea of the
 * 2007 "Remove netloop by lazy copying in netback" patch, for mbufs.
 *
 * Most packets are freed within microseconds, so lending the guest's page is
 * cheaper than copying it. The ones that linger (a queue, a stuck port) must
 * not pin guest memory or stall the guest's TX ring, so once older than the
 * aging window their bytes move into backend memory at the same virtual
 * address and the guest gets its page back.
 *
 * Threads: free callbacks run on whatever thread frees the mbuf; they only
 * push the slot onto a lock-free ring. Everything else (map, reap, flush) is
 * called by one thread at a time, serialised by the rx queue's owner.
 */

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_malloc.h>
#include <rte_ring.h>

#include "xnb_internal.h"
#include "xnb_lifetime.h"

#define XNB_LT_BATCH	256	/* a ring's worth: one platform call per burst */

enum xnb_slot_state {
	XNB_SLOT_FREE,
	XNB_SLOT_MAPPED,	/* holds a guest grant */
	XNB_SLOT_COPYING,	/* being copied out: its grant must not be named */
	XNB_SLOT_COPIED,	/* holds our copy; guest already answered */
};

struct xnb_slot {
	struct rte_mbuf_ext_shared_info shinfo;	/* ours, never in guest memory */
	struct xnb_lt *lt;
	void *va;
	rte_iova_t iova;	/* what a device may DMA from (xnb_lt_iova) */
	struct rte_mbuf *m;	/* the mbuf it was lent in */
	uint64_t map_tsc;
	uint32_t gref;
	uint16_t domid;		/* whose grant gref is */
	uint32_t idx;
	/* map-order list of MAPPED slots: the head is the oldest */
	uint32_t prev, next;
	uint16_t req_id;
	uint16_t off, len;
	int16_t cancel_status;	/* answer for a slot never lent out */
	uint32_t pins;		/* TX grant copies naming gref, in flight */
	uint8_t state;
	uint8_t cancelled;
	uint8_t linked;		/* on the age list */
	/* Its connection is gone and its copy-out failed: still holds the
	 * grant, owes no answer (the ring it came from no longer exists). */
	uint8_t stale;
};

#define XNB_NIL UINT32_MAX

struct xnb_lt {
	const struct xnb_platform_ops *plat;
	struct xnb_gnt *gnt;
	uint32_t nslots;
	uint32_t max_mapped;
	uint64_t aging_tsc;	/* 0: never age */
	uint64_t tsc_per_ms;
	struct xnb_slot *slots;
	uint32_t *free_stack;
	uint32_t nfree;
	uint32_t age_head, age_tail;
	struct rte_ring *freed;	/* slot indices from free callbacks */
	uint32_t held;		/* slots not FREE; atomic once orphaned */
	uint32_t orphaned;	/* destroyed while the application held mbufs */
	bool iova_pa;		/* EAL's IOVAs are physical addresses */
	int pagemap;		/* /proc/self/pagemap then, else -1 */
	struct xnb_lt_stats st;
};

static void
xnb_lt_age_unlink(struct xnb_lt *lt, struct xnb_slot *s)
{
	if (!s->linked)
		return;
	s->linked = 0;
	if (s->prev != XNB_NIL)
		lt->slots[s->prev].next = s->next;
	else
		lt->age_head = s->next;
	if (s->next != XNB_NIL)
		lt->slots[s->next].prev = s->prev;
	else
		lt->age_tail = s->prev;
	s->prev = s->next = XNB_NIL;
}

static void
xnb_lt_age_append(struct xnb_lt *lt, struct xnb_slot *s)
{
	s->linked = 1;
	s->next = XNB_NIL;
	s->prev = lt->age_tail;
	if (lt->age_tail != XNB_NIL)
		lt->slots[lt->age_tail].next = s->idx;
	else
		lt->age_head = s->idx;
	lt->age_tail = s->idx;
}

static void
xnb_lt_hist(struct xnb_lt *lt, const struct xnb_slot *s, uint64_t now)
{
	uint64_t ms = (now - s->map_tsc) / lt->tsc_per_ms;
	unsigned int b;

	if (ms < 1)
		b = 0;
	else if (ms < 10)
		b = 1;
	else if (ms < 100)
		b = 2;
	else if (lt->aging_tsc == 0 || now - s->map_tsc < lt->aging_tsc)
		b = 3;
	else
		b = 4;
	lt->st.age_hist[b]++;
}

static void
xnb_lt_put_free(struct xnb_lt *lt, struct xnb_slot *s)
{
	if (s->state != XNB_SLOT_COPIED)
		lt->st.mapped_now--;
	s->state = XNB_SLOT_FREE;
	s->stale = 0;
	s->va = NULL;
	lt->free_stack[lt->nfree++] = s->idx;
	__atomic_fetch_sub(&lt->held, 1, __ATOMIC_ACQ_REL);
}

static void
xnb_lt_release(struct xnb_lt *lt)
{
	if (lt->pagemap >= 0)
		close(lt->pagemap);
	rte_ring_free(lt->freed);
	rte_free(lt->free_stack);
	rte_free(lt->slots);
	rte_free(lt);
}

/*
 * After destroy only copied-out pages can remain, given back by the threads
 * that free the last mbufs. Whoever touches an orphaned tracker holds a
 * reference on "held" meanwhile, and the one that drops it to zero frees it.
 * The caller holds such a reference.
 */
static void
xnb_lt_orphan_drain(struct xnb_lt *lt)
{
	void *obj;

	while (rte_ring_mc_dequeue(lt->freed, &obj) == 0) {
		struct xnb_slot *s = &lt->slots[(uintptr_t)obj];

		/* A slot still MAPPED here is stale: its copy-out failed at
		 * the disconnect (counted then) and the port is closed, so
		 * there is no handle left to unmap it with: its grant is
		 * released when the process exits (docs/lifetime.md). */
		if (s->state == XNB_SLOT_COPIED)
			munmap(s->va, XNB_PAGE_SIZE);
		__atomic_fetch_sub(&lt->held, 1, __ATOMIC_ACQ_REL);
	}
}

static void
xnb_lt_free_cb(void *addr __rte_unused, void *opaque)
{
	struct xnb_slot *s = opaque;
	struct xnb_lt *lt = s->lt;
	uint32_t orphaned;

	__atomic_fetch_add(&lt->held, 1, __ATOMIC_ACQ_REL);
	/* IOVA-as-PA: a copy-out writes the new IOVA into the mbuf that holds
	 * the page; that mbuf must not go back to its pool meanwhile. */
	if (lt->iova_pa)
		while (__atomic_load_n(&s->state, __ATOMIC_ACQUIRE) == XNB_SLOT_COPYING)
			rte_pause();
	/* Capacity is nslots and a slot is enqueued once per lending. */
	rte_ring_mp_enqueue(lt->freed, (void *)(uintptr_t)s->idx);
	orphaned = __atomic_load_n(&lt->orphaned, __ATOMIC_SEQ_CST);
	if (unlikely(orphaned))
		xnb_lt_orphan_drain(lt);
	if (__atomic_sub_fetch(&lt->held, 1, __ATOMIC_ACQ_REL) == 0 && orphaned)
		xnb_lt_release(lt);
}

/*
 * A TX burst (any lcore) names a lent page by its grant while the tracker's
 * copy-out (the tick or the queue's burst) may be releasing that grant. Each
 * side announces itself, then looks at the other (pins, then state; state,
 * then pins; both sequentially consistent), so at least one of them backs
 * off: the pinner waits for the copy-out to end and then uses the local
 * address (our own page by then), the copy-out leaves the slot to the next
 * tick, or, at disconnect, spins until the pinners are gone. A pinner that
 * already holds pins must not wait (the copy-out may be spinning on one of
 * them): it uses the local address at once, which Xen refuses while the
 * page is still foreign, a copy error TX counts.
 */
struct xnb_slot *
xnb_lt_pin(const struct rte_mbuf *m, bool may_wait, uint16_t *domid, uint32_t *gref,
	   uint16_t *off)
{
	struct xnb_slot *s;

	if (!RTE_MBUF_HAS_EXTBUF(m) || m->shinfo->free_cb != xnb_lt_free_cb)
		return NULL;
	s = m->shinfo->fcb_opaque;
	for (;;) {
		uint8_t st;

		__atomic_fetch_add(&s->pins, 1, __ATOMIC_SEQ_CST);
		st = __atomic_load_n(&s->state, __ATOMIC_SEQ_CST);
		if (st == XNB_SLOT_MAPPED)
			break;
		__atomic_fetch_sub(&s->pins, 1, __ATOMIC_SEQ_CST);
		if (st != XNB_SLOT_COPYING || !may_wait)
			return NULL;	/* our own page now, or soon */
		/* A copy-out of a few pages is under way: wait for its end. */
		while (__atomic_load_n(&s->state, __ATOMIC_SEQ_CST) == XNB_SLOT_COPYING)
			rte_pause();
	}
	*domid = s->domid;
	*gref = s->gref;
	*off = rte_pktmbuf_mtod(m, const uint8_t *) - (const uint8_t *)s->va;
	return s;
}

void
xnb_lt_unpin(struct xnb_slot *s)
{
	__atomic_fetch_sub(&s->pins, 1, __ATOMIC_SEQ_CST);
}

/* The copy-out's side: true when the slot may be copied out now. */
static bool
xnb_lt_claim(struct xnb_slot *s, bool wait)
{
	__atomic_store_n(&s->state, XNB_SLOT_COPYING, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&s->pins, __ATOMIC_SEQ_CST) != 0) {
		if (!wait) {
			__atomic_store_n(&s->state, XNB_SLOT_MAPPED, __ATOMIC_SEQ_CST);
			return false;
		}
		rte_pause();
	}
	return true;
}

struct xnb_lt *
xnb_lt_create(const char *name, const struct xnb_platform_ops *plat,
	      struct xnb_gnt *gnt, uint32_t nslots, uint32_t max_mapped,
	      uint32_t aging_ms, int socket_id)
{
	struct xnb_lt *lt;
	uint32_t i;

	lt = rte_zmalloc_socket(name, sizeof(*lt), RTE_CACHE_LINE_SIZE, socket_id);
	if (lt == NULL)
		return NULL;
	lt->plat = plat;
	lt->gnt = gnt;
	lt->nslots = nslots;
	lt->max_mapped = RTE_MIN(max_mapped, nslots);
	lt->tsc_per_ms = RTE_MAX(rte_get_tsc_hz() / 1000, (uint64_t)1);
	lt->aging_tsc = (uint64_t)aging_ms * lt->tsc_per_ms;
	lt->age_head = lt->age_tail = XNB_NIL;
	lt->iova_pa = rte_eal_iova_mode() == RTE_IOVA_PA;
	lt->pagemap = lt->iova_pa ? open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC) : -1;
	lt->slots = rte_zmalloc_socket(name, sizeof(*lt->slots) * nslots,
				       RTE_CACHE_LINE_SIZE, socket_id);
	lt->free_stack = rte_malloc_socket(name, sizeof(uint32_t) * nslots, 0,
					   socket_id);
	lt->freed = rte_ring_create(name, rte_align32pow2(nslots + 1), socket_id,
				    RING_F_EXACT_SZ);
	if (lt->slots == NULL || lt->free_stack == NULL || lt->freed == NULL) {
		xnb_lt_release(lt);
		return NULL;
	}
	for (i = 0; i < nslots; i++) {
		struct xnb_slot *s = &lt->slots[i];

		s->lt = lt;
		s->idx = i;
		s->prev = s->next = XNB_NIL;
		s->shinfo.free_cb = xnb_lt_free_cb;
		s->shinfo.fcb_opaque = s;
		lt->free_stack[nslots - 1 - i] = i;
	}
	lt->nfree = nslots;
	return lt;
}

uint32_t
xnb_lt_slots_free(const struct xnb_lt *lt)
{
	return RTE_MIN(lt->nfree, lt->max_mapped - lt->st.mapped_now);
}

uint64_t
xnb_lt_grants_held(const struct xnb_lt *lt)
{
	return __atomic_load_n(&lt->st.mapped_now, __ATOMIC_RELAXED);
}

/*
 * The IOVA of each page just mapped. IOVA-as-VA: its address (virtual
 * devices read it; the port lends nothing when a device that DMAs shares
 * the process, see xnb_port_lend_check). IOVA-as-PA: the physical address,
 * read from /proc/self/pagemap with one pread per run of adjacent pages
 * (a batch mapping is one run), after touching each page so that it is
 * present. RTE_BAD_IOVA where it cannot be known: that page is not lent.
 */
static void
xnb_lt_iova(const struct xnb_lt *lt, void *const *addrs, uint32_t n, rte_iova_t *iova)
{
	uint64_t ent[XNB_LT_BATCH];
	uint32_t i = 0, run;

	while (i < n) {
		uintptr_t va = (uintptr_t)addrs[i];

		if (va == 0 || !lt->iova_pa) {
			iova[i++] = va == 0 ? RTE_BAD_IOVA : (rte_iova_t)va;
			continue;
		}
		for (run = 1; i + run < n &&
		     (uintptr_t)addrs[i + run] == va + (uintptr_t)run * XNB_PAGE_SIZE; run++)
			;
		for (uint32_t j = 0; j < run; j++)
			(void)*(volatile const uint8_t *)(va + (uintptr_t)j * XNB_PAGE_SIZE);
		if (pread(lt->pagemap, ent, run * sizeof(ent[0]),
			  (off_t)(va / XNB_PAGE_SIZE) * sizeof(ent[0])) !=
		    (ssize_t)(run * sizeof(ent[0])))
			memset(ent, 0, run * sizeof(ent[0]));
		for (uint32_t j = 0; j < run; j++) {
			/* bit 63: present; bits 0-54: the page frame */
			uint64_t pfn = ent[j] & ((UINT64_C(1) << 55) - 1);

			iova[i + j] = ent[j] >> 63 && pfn != 0 ?
				(rte_iova_t)pfn * XNB_PAGE_SIZE : RTE_BAD_IOVA;
		}
		i += run;
	}
}

uint32_t
xnb_lt_map(struct xnb_lt *lt, uint16_t domid, uint32_t n,
	   const uint32_t *refs, const uint16_t *ids, uint32_t *slots,
	   int16_t *status)
{
	void *addrs[XNB_LT_BATCH];
	rte_iova_t iova[XNB_LT_BATCH];
	uint64_t now = rte_get_tsc_cycles();
	uint32_t done = 0, i, k;
	int rc;

	RTE_VERIFY(n <= xnb_lt_slots_free(lt));
	for (i = 0; i < n; i += k) {
		k = RTE_MIN(n - i, (uint32_t)XNB_LT_BATCH);
		rc = lt->plat->gnt_map(lt->gnt, domid, k, refs + i, 0, addrs,
				       status + i);
		lt->st.hc_map++;
		if (rc < 0)
			memset(addrs, 0, k * sizeof(addrs[0]));
		xnb_lt_iova(lt, addrs, k, iova);
		for (uint32_t j = 0; j < k; j++) {
			struct xnb_slot *s;

			if (addrs[j] != NULL && iova[j] == RTE_BAD_IOVA) {
				lt->plat->gnt_unmap(lt->gnt, 1, &addrs[j]);
				status[i + j] = GNTST_general_error;
				addrs[j] = NULL;
				lt->st.iova_failed++;
			}
			if (addrs[j] == NULL) {
				if (rc < 0)
					status[i + j] = GNTST_general_error;
				slots[i + j] = UINT32_MAX;
				lt->st.map_failed++;
				continue;
			}
			s = &lt->slots[lt->free_stack[--lt->nfree]];
			s->va = addrs[j];
			s->iova = iova[j];
			s->gref = refs[i + j];
			s->domid = domid;
			s->req_id = ids[i + j];
			s->map_tsc = now;
			s->off = 0;
			s->len = XNB_PAGE_SIZE;
			s->cancelled = 0;
			s->stale = 0;
			s->state = XNB_SLOT_MAPPED;
			lt->st.mapped_now++;
			xnb_lt_age_append(lt, s);
			__atomic_fetch_add(&lt->held, 1, __ATOMIC_ACQ_REL);
			slots[i + j] = s->idx;
			done++;
		}
	}
	lt->st.mapped += done;
	return done;
}

void
xnb_lt_attach(struct xnb_lt *lt, uint32_t slot, struct rte_mbuf *m,
	      uint16_t off, uint16_t len)
{
	struct xnb_slot *s = &lt->slots[slot];

	s->off = off;
	s->len = len;
	s->m = m;
	rte_mbuf_ext_refcnt_set(&s->shinfo, 1);
	rte_pktmbuf_attach_extbuf(m, s->va, s->iova, XNB_PAGE_SIZE, &s->shinfo);
	m->data_off = off;
	m->data_len = len;
}

void
xnb_lt_cancel(struct xnb_lt *lt, uint32_t slot, int16_t status)
{
	struct xnb_slot *s = &lt->slots[slot];

	s->cancelled = 1;
	s->cancel_status = status;
	rte_ring_mp_enqueue(lt->freed, (void *)(uintptr_t)slot);
}

/* Unmap every MAPPED slot in v[] with one platform call and answer those
 * that still owe an answer. Returns the number of answers. */
static uint32_t
xnb_lt_unmap_answer(struct xnb_lt *lt, struct xnb_slot **v, uint32_t n,
		    struct xnb_lt_done *done)
{
	void *addrs[XNB_LT_BATCH];
	uint32_t i, nd = 0;

	if (n == 0)
		return 0;
	i = 0;
	do {
		addrs[i] = v[i]->va;
	} while (++i < n);
	lt->plat->gnt_unmap(lt->gnt, n, addrs);
	lt->st.hc_unmap++;
	for (i = 0; i < n; i++) {
		if (!v[i]->stale) {
			done[nd].id = v[i]->req_id;
			done[nd].status = v[i]->cancelled ? v[i]->cancel_status :
				NETIF_RSP_OKAY;
			nd++;
		}
		xnb_lt_put_free(lt, v[i]);
	}
	return nd;
}

/* Slots the application gave back since the last call. */
static uint32_t
xnb_lt_reap_freed(struct xnb_lt *lt, struct xnb_lt_done *done, uint32_t max)
{
	struct xnb_slot *unmap[XNB_LT_BATCH];
	void *objs[XNB_LT_BATCH];
	uint64_t now;
	uint32_t nd = 0;

	while (max - nd > 0) {
		uint32_t want = RTE_MIN(max - nd, (uint32_t)XNB_LT_BATCH);
		uint32_t got, nu = 0, i;

		got = rte_ring_sc_dequeue_burst(lt->freed, objs, want, NULL);
		if (got == 0)
			break;
		now = rte_get_tsc_cycles();
		for (i = 0; i < got; i++) {
			struct xnb_slot *s = &lt->slots[(uintptr_t)objs[i]];

			if (s->state == XNB_SLOT_COPIED) {
				munmap(s->va, XNB_PAGE_SIZE);
				xnb_lt_put_free(lt, s);
				continue;
			}
			xnb_lt_age_unlink(lt, s);
			xnb_lt_hist(lt, s, now);
			if (!s->cancelled)
				lt->st.freed_fast++;
			unmap[nu++] = s;
		}
		nd += xnb_lt_unmap_answer(lt, unmap, nu, done + nd);
	}
	return nd;
}

/*
 * Copies out slots from the head of the age list (the oldest): with
 * disconnect false those mapped more than aging_tsc ago, else all of them.
 * One batched grant copy into fresh pages, then each page takes its slot's
 * address and the grant is released. A slot whose copy-out fails (no page
 * to copy into, or the platform cannot swap it) keeps its grant: while
 * connected it goes back on the age list to be tried again, at a
 * disconnect it becomes stale (released when its mbuf is freed, never
 * answered: the ring it came from is gone). Returns the answers written.
 */
static uint32_t
xnb_lt_copy_out(struct xnb_lt *lt, bool disconnect, struct xnb_lt_done *done,
		uint32_t max, uint64_t *counter)
{
	xengnttab_grant_copy_segment_t seg[XNB_LT_BATCH];
	struct xnb_slot *v[XNB_LT_BATCH];
	void *page[XNB_LT_BATCH];
	rte_iova_t iova[XNB_LT_BATCH];
	uint64_t now = rte_get_tsc_cycles();
	/* IOVA-as-PA: our page must stay where its physical address says. */
	int pinned = lt->iova_pa ? MAP_LOCKED | MAP_POPULATE : 0;
	uint32_t n = 0, nd = 0, ns = 0, i;

	while (n < RTE_MIN(max, (uint32_t)XNB_LT_BATCH) && lt->age_head != XNB_NIL) {
		struct xnb_slot *s = &lt->slots[lt->age_head];

		if (!disconnect && now - s->map_tsc < lt->aging_tsc)
			break;
		page[n] = mmap(NULL, XNB_PAGE_SIZE, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | pinned, -1, 0);
		if (page[n] == MAP_FAILED) {
			if (!disconnect)
				break;		/* try again at the next tick */
			xnb_lt_age_unlink(lt, s);
			s->stale = 1;
			lt->st.copyout_failed++;
			continue;
		}
		if (!xnb_lt_claim(s, disconnect)) {
			munmap(page[n], XNB_PAGE_SIZE);
			break;
		}
		xnb_lt_age_unlink(lt, s);
		xnb_seg_from_guest(&seg[n], s->domid, s->gref, s->off,
				   (uint8_t *)page[n] + s->off, s->len);
		v[n++] = s;
	}
	if (n == 0)
		return 0;
	if (lt->plat->gnt_copy(lt->gnt, n, seg) < 0)
		for (i = 0; i < n; i++)
			seg[i].status = GNTST_general_error;
	lt->st.hc_copy++;
	for (i = 0; i < n; i++) {
		struct xnb_slot *s = v[i];

		/* The guest may have broken its grant entry (or be gone):
		 * the mapping we hold is still valid, read it directly. */
		if (seg[i].status != GNTST_okay) {
			memcpy((uint8_t *)page[i] + s->off,
			       (uint8_t *)s->va + s->off, s->len);
			lt->st.copyout_fallback++;
		}
		/* On failure nothing moved: the page is still ours to unmap,
		 * the grant still mapped at s->va (xnb_platform.h). */
		if (lt->plat->gnt_unmap_replace(lt->gnt, s->va, page[i]) < 0) {
			munmap(page[i], XNB_PAGE_SIZE);
			__atomic_store_n(&s->state, XNB_SLOT_MAPPED, __ATOMIC_SEQ_CST);
			if (disconnect)
				s->stale = 1;
			else
				xnb_lt_age_append(lt, s);
			if (lt->st.copyout_failed++ == 0)
				XNB_LOG(ERR, "copy-out of gref %u failed (counted in "
					"rx_copyout_failed from now on): the guest page stays "
					"mapped until %s", s->gref, disconnect ?
					"the mbuf is freed, and is never answered" :
					"it is copied out later or freed");
			continue;
		}
		xnb_lt_hist(lt, s, now);
		lt->st.mapped_now--;
		done[nd].id = s->req_id;
		done[nd].status = s->cancelled ? s->cancel_status : NETIF_RSP_OKAY;
		nd++;
		(*counter)++;
		v[ns] = s;
		page[ns++] = s->va;
	}
	/* Same address, another page: under IOVA-as-PA the mbuf holding it
	 * (while it is the only holder: xnb_lt_free_cb keeps it out of its
	 * pool until the state below changes) gets the new physical address.
	 * A clone the application made earlier keeps the old one. */
	if (lt->iova_pa)
		xnb_lt_iova(lt, page, ns, iova);
	for (i = 0; i < ns; i++) {
		struct xnb_slot *s = v[i];
		struct rte_mbuf *m = s->m;

		if (lt->iova_pa) {
			s->iova = iova[i];
			if (rte_mbuf_ext_refcnt_read(&s->shinfo) == 1 &&
			    RTE_MBUF_HAS_EXTBUF(m) && m->shinfo == &s->shinfo &&
			    m->buf_addr == s->va)
				m->buf_iova = iova[i];
		}
		__atomic_store_n(&s->state, XNB_SLOT_COPIED, __ATOMIC_RELEASE);
	}
	return nd;
}

uint32_t
xnb_lt_reap(struct xnb_lt *lt, struct xnb_lt_done *done, uint32_t max)
{
	uint32_t nd;

	nd = xnb_lt_reap_freed(lt, done, max);
	/* Every burst comes here: with nothing lent, no clock read. */
	if (lt->aging_tsc != 0)
		while (nd < max && lt->age_head != XNB_NIL) {
			uint32_t k = xnb_lt_copy_out(lt, false, done + nd, max - nd,
						     &lt->st.aged_copyouts);
			if (k == 0)
				break;
			nd += k;
		}
	return nd;
}

uint32_t
xnb_lt_flush(struct xnb_lt *lt, struct xnb_lt_done *done, uint32_t max)
{
	uint32_t nd;

	nd = xnb_lt_reap_freed(lt, done, max);
	while (nd < max && lt->age_head != XNB_NIL)
		nd += xnb_lt_copy_out(lt, true, done + nd, max - nd,
				      &lt->st.disconnect_copyouts);
	return nd;
}

void
xnb_lt_reap_idle(struct xnb_lt *lt)
{
	struct xnb_slot *unmap[XNB_LT_BATCH];
	void *objs[XNB_LT_BATCH];
	uint32_t got, nu = 0, i;

	/* One pass over what is queued now: what still owes an answer goes
	 * back for the flush or the next connection's burst. */
	got = rte_ring_sc_dequeue_burst(lt->freed, objs, XNB_LT_BATCH, NULL);
	for (i = 0; i < got; i++) {
		struct xnb_slot *s = &lt->slots[(uintptr_t)objs[i]];

		if (s->state == XNB_SLOT_COPIED) {
			munmap(s->va, XNB_PAGE_SIZE);
			xnb_lt_put_free(lt, s);
		} else if (s->stale) {
			xnb_lt_age_unlink(lt, s);
			unmap[nu++] = s;
		} else {
			rte_ring_mp_enqueue(lt->freed, objs[i]);
		}
	}
	if (nu > 0)
		xnb_lt_unmap_answer(lt, unmap, nu, NULL);	/* stale: no answers */
}

void
xnb_lt_fail(const struct rte_mbuf *m)
{
	struct xnb_slot *s;

	if (!RTE_MBUF_HAS_EXTBUF(m) || m->shinfo->free_cb != xnb_lt_free_cb)
		return;
	s = m->shinfo->fcb_opaque;
	s->cancelled = 1;
	s->cancel_status = NETIF_RSP_ERROR;
}

void
xnb_lt_destroy(struct xnb_lt *lt)
{
	if (lt == NULL)
		return;
	__atomic_fetch_add(&lt->held, 1, __ATOMIC_ACQ_REL);
	__atomic_store_n(&lt->orphaned, 1, __ATOMIC_SEQ_CST);
	xnb_lt_orphan_drain(lt);
	if (__atomic_sub_fetch(&lt->held, 1, __ATOMIC_ACQ_REL) == 0)
		xnb_lt_release(lt);
}

void
xnb_lt_stats_get(const struct xnb_lt *lt, struct xnb_lt_stats *st)
{
	*st = lt->st;
	st->held_now = __atomic_load_n(&lt->held, __ATOMIC_RELAXED);
}

void
xnb_lt_stats_reset(struct xnb_lt *lt)
{
	uint32_t mapped_now = lt->st.mapped_now;

	memset(&lt->st, 0, sizeof(lt->st));
	lt->st.mapped_now = mapped_now;
}
