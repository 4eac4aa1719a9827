/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * Unit test of the mbuf-lifetime tracker (xnb_lifetime.c) against the fake
 * hypervisor of tests/common (the fuzz harnesses use the same one), whose
 * "guest" pages live in this process, so every path can be
 * driven deterministically: fast free, clones, frees on another thread,
 * aging with same-address copy-out, disconnect flush, and destroy while the
 * application still holds mbufs.
 */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "xnb_internal.h"
#include "xnb_lifetime.h"
#include "xnb_check.h"
#include "xnb_fake_plat.h"

int xnb_logtype;

#define NREFS	64
#define GUEST_DOMID	7

/* The guest: NREFS pages, ref r is page r (tests/common/xnb_fake_plat.c). */
static struct xnb_fake fake;

static uint32_t
sum(const uint8_t *p, uint32_t n)
{
	uint32_t h = 2166136261u;

	for (uint32_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static int
total_mapped(void)
{
	return (int)fake.mapped;
}

/* Map refs [first, first + n) as request ids 1000 + ref and lend each to an mbuf. */
static void
lend(struct xnb_lt *lt, struct rte_mempool *mp, uint32_t first, uint32_t n,
     struct rte_mbuf **m)
{
	uint32_t refs[NREFS] = { 0 }, slots[NREFS];
	uint16_t ids[NREFS] = { 0 };
	int16_t st[NREFS];

	for (uint32_t i = 0; i < n; i++) {
		refs[i] = first + i;
		ids[i] = 1000 + first + i;
	}
	CHECK(xnb_lt_map(lt, GUEST_DOMID, n, refs, ids, slots, st) == n, "map %u", n);
	for (uint32_t i = 0; i < n; i++) {
		m[i] = rte_pktmbuf_alloc(mp);
		xnb_lt_attach(lt, slots[i], m[i], 100, 1000);
		m[i]->pkt_len = 1000;
	}
}

static int
has_answer(const struct xnb_lt_done *d, uint32_t n, uint16_t id)
{
	for (uint32_t i = 0; i < n; i++)
		if (d[i].id == id && d[i].status == NETIF_RSP_OKAY)
			return 1;
	return 0;
}

static void *
free_on_thread(void *arg)
{
	rte_pktmbuf_free(arg);
	return NULL;
}

int
main(int argc, char **argv)
{
	char *eal[] = { argv[0], "--no-huge", "-m", "64", "--no-pci", "-l", "0",
			"--no-shconf", "--log-level=lib.eal:error", NULL };
	struct xnb_lt_done done[NREFS];
	struct rte_mbuf *m[NREFS];
	struct xnb_lt_stats st;
	struct rte_mempool *mp;
	struct xnb_lt *lt;
	uint32_t n, h0, h1;
	pthread_t t;

	(void)argc;
	if (rte_eal_init(RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	CHECK(xnb_fake_init(&fake, GUEST_DOMID, NREFS) == 0, "fake guest memory");
	for (int r = 0; r < NREFS; r++)
		for (uint32_t i = 0; i < XNB_PAGE_SIZE; i++)
			xnb_fake_page(&fake, r)[i] = (uint8_t)(r * 31 + i);
	mp = rte_pktmbuf_pool_create("lt", 1024, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	lt = xnb_lt_create("lt0", &xnb_fake_ops, xnb_fake_gnt(&fake), 16, 16, 50, 0);
	CHECK(mp != NULL && lt != NULL, "setup");

	/* 1. Fast free: answered and unmapped at the next reap, in one batch. */
	lend(lt, mp, 0, 8, m);
	CHECK(total_mapped() == 8, "8 mapped, got %d", total_mapped());
	CHECK(memcmp(rte_pktmbuf_mtod(m[3], uint8_t *), xnb_fake_page(&fake, 3) + 100, 1000) == 0,
	      "mbuf data is the guest's page");
	for (int i = 0; i < 4; i++)
		rte_pktmbuf_free(m[i]);
	fake.calls_unmap = 0;
	n = xnb_lt_reap(lt, done, NREFS);
	CHECK(n == 4, "4 answers, got %u", n);
	for (int i = 0; i < 4; i++)
		CHECK(has_answer(done, n, 1000 + i), "answer for id %d", 1000 + i);
	CHECK(fake.calls_unmap == 1, "one unmap call for the batch, got %lu",
	      (unsigned long)fake.calls_unmap);
	CHECK(total_mapped() == 4, "4 still mapped, got %d", total_mapped());
	CHECK(xnb_lt_slots_free(lt) == 12, "12 free slots, got %u", xnb_lt_slots_free(lt));

	/* 2. A clone keeps the page: no answer until the last reference goes. */
	struct rte_mbuf *c = rte_pktmbuf_clone(m[4], mp);
	rte_pktmbuf_free(m[4]);
	CHECK(xnb_lt_reap(lt, done, NREFS) == 0, "clone still holds it");
	rte_pktmbuf_free(c);
	n = xnb_lt_reap(lt, done, NREFS);
	CHECK(n == 1 && done[0].id == 1004, "answer after the clone is freed");

	/* 3. Freed on another thread. */
	pthread_create(&t, NULL, free_on_thread, m[5]);
	pthread_join(t, NULL);
	n = xnb_lt_reap(lt, done, NREFS);
	CHECK(n == 1 && done[0].id == 1005, "answer for a free on another thread");

	/* 4. Aging: held past the window, copied out at the same address. */
	uint8_t *p6 = rte_pktmbuf_mtod(m[6], uint8_t *);
	h0 = sum(p6, 1000);
	CHECK(xnb_lt_reap(lt, done, NREFS) == 0, "not aged yet");
	usleep(80 * 1000);
	fake.calls_copy = 0;
	fake.refuse_copies = false;
	n = xnb_lt_reap(lt, done, NREFS);
	CHECK(n == 2 && has_answer(done, n, 1006) && has_answer(done, n, 1007),
	      "aged slots answered, got %u", n);
	CHECK(fake.calls_copy == 1, "one grant copy for all aged slots, got %lu",
	      (unsigned long)fake.calls_copy);
	CHECK(total_mapped() == 0, "guest pages released, %d mapped", total_mapped());
	CHECK(rte_pktmbuf_mtod(m[6], uint8_t *) == p6, "same address");
	xnb_fake_page(&fake, 6)[150] ^= 0xff;	/* the guest reuses its page */
	h1 = sum(p6, 1000);
	CHECK(h0 == h1, "held data unchanged after copy-out");
	xnb_lt_stats_get(lt, &st);
	CHECK(st.aged_copyouts == 2 && st.mapped_now == 0 && st.held_now == 2,
	      "stats aged %lu mapped %lu held %lu", (unsigned long)st.aged_copyouts,
	      (unsigned long)st.mapped_now, (unsigned long)st.held_now);
	rte_pktmbuf_free(m[6]);
	rte_pktmbuf_free(m[7]);
	CHECK(xnb_lt_reap(lt, done, NREFS) == 0, "no second answer");
	CHECK(xnb_lt_slots_free(lt) == 16, "all slots back, got %u", xnb_lt_slots_free(lt));

	/* 5. Copy refused by the hypervisor: the mapping still serves. */
	lend(lt, mp, 10, 2, m);
	h0 = sum(rte_pktmbuf_mtod(m[0], uint8_t *), 1000);
	usleep(80 * 1000);
	fake.refuse_copies = true;
	n = xnb_lt_reap(lt, done, NREFS);
	fake.refuse_copies = false;
	xnb_lt_stats_get(lt, &st);
	CHECK(n == 2 && st.copyout_fallback == 2, "fallback copy-out %u", n);
	CHECK(sum(rte_pktmbuf_mtod(m[0], uint8_t *), 1000) == h0, "fallback data intact");
	rte_pktmbuf_free(m[0]);
	rte_pktmbuf_free(m[1]);

	/* 5b. A grant pinned by a TX copy in flight is not copied out (its
	 * grant must stay valid for that copy): the aging waits for the unpin. */
	while (xnb_lt_reap(lt, done, NREFS) > 0)
		;
	lend(lt, mp, 12, 2, m);
	{
		struct xnb_slot *pin;
		uint32_t gref;
		uint16_t dom, off;
		struct rte_mbuf *plain = rte_pktmbuf_alloc(mp);

		pin = xnb_lt_pin(m[0], true, &dom, &gref, &off);
		CHECK(pin != NULL && dom == GUEST_DOMID && gref == 12 && off == 100,
		      "pin gives the grant: dom %u gref %u off %u", dom, gref, off);
		CHECK(xnb_lt_pin(plain, true, &dom, &gref, &off) == NULL,
		      "a plain mbuf has no grant");
		rte_pktmbuf_free(plain);
		usleep(80 * 1000);
		n = xnb_lt_reap(lt, done, NREFS);
		CHECK(n == 0, "no copy-out while the oldest slot is pinned, got %u", n);
		CHECK(total_mapped() == 2, "both still mapped, %d", total_mapped());
		xnb_lt_unpin(pin);
		n = xnb_lt_reap(lt, done, NREFS);
		CHECK(n == 2 && has_answer(done, n, 1012) && has_answer(done, n, 1013),
		      "copied out after the unpin, got %u", n);
		CHECK(xnb_lt_pin(m[0], true, &dom, &gref, &off) == NULL,
		      "a copied-out page is named by its address");
	}
	rte_pktmbuf_free(m[0]);
	rte_pktmbuf_free(m[1]);

	/* 6. Cancel: a slot mapped for a dropped packet answers with its status. */
	{
		uint32_t ref = 20, slot;
		uint16_t id = 77;
		int16_t s;

		CHECK(xnb_lt_map(lt, GUEST_DOMID, 1, &ref, &id, &slot, &s) == 1, "map");
		xnb_lt_cancel(lt, slot, NETIF_RSP_ERROR);
		n = xnb_lt_reap(lt, done, NREFS);
		CHECK(n >= 1 && done[n - 1].id == 77 &&
		      done[n - 1].status == NETIF_RSP_ERROR, "cancel answered error");
	}
	/* 7. A failed map consumes no slot. */
	{
		uint32_t ref = NREFS + 5, slot, before = xnb_lt_slots_free(lt);
		uint16_t id = 1;
		int16_t s;

		CHECK(xnb_lt_map(lt, GUEST_DOMID, 1, &ref, &id, &slot, &s) == 0 &&
		      slot == UINT32_MAX && s == GNTST_bad_gntref, "bad map");
		CHECK(xnb_lt_slots_free(lt) == before, "no slot consumed");
	}

	/* 7b. The swap fails while connected: the slot keeps its grant and is
	 * tried again; it is answered once, when a later copy-out works. */
	while (xnb_lt_reap(lt, done, NREFS) > 0)
		;
	lend(lt, mp, 40, 2, m);
	usleep(80 * 1000);
	fake.refuse_replace = true;
	n = xnb_lt_reap(lt, done, NREFS);
	xnb_lt_stats_get(lt, &st);
	CHECK(n == 0 && st.copyout_failed >= 2 && total_mapped() == 2,
	      "failed swaps: %u answers, %lu failures, %d mapped", n,
	      (unsigned long)st.copyout_failed, total_mapped());
	fake.refuse_replace = false;
	n = xnb_lt_reap(lt, done, NREFS);
	CHECK(n == 2 && has_answer(done, n, 1040) && has_answer(done, n, 1041),
	      "copied out on the retry, got %u", n);
	rte_pktmbuf_free(m[0]);
	rte_pktmbuf_free(m[1]);
	CHECK(xnb_lt_reap(lt, done, NREFS) == 0 && total_mapped() == 0,
	      "no second answer after the retry");

	/* 7c. The swap fails at a disconnect: the slots keep their grants
	 * (their mbufs read the guest's bytes still) but owe the next
	 * connection's ring nothing: no answer when freed, only an unmap. */
	lend(lt, mp, 42, 3, m);
	h0 = sum(rte_pktmbuf_mtod(m[1], uint8_t *), 1000);
	fake.refuse_replace = true;
	n = xnb_lt_flush(lt, done, NREFS);
	fake.refuse_replace = false;
	xnb_lt_stats_get(lt, &st);
	CHECK(n == 0 && xnb_lt_flush(lt, done, NREFS) == 0,
	      "failed disconnect copy-outs answered %u", n);
	CHECK(total_mapped() == 3 && st.mapped_now == 3, "stale slots keep their "
	      "grants: %d mapped, mapped_now %lu", total_mapped(),
	      (unsigned long)st.mapped_now);
	CHECK(sum(rte_pktmbuf_mtod(m[1], uint8_t *), 1000) == h0, "stale data readable");
	rte_pktmbuf_free(m[0]);
	xnb_lt_reap_idle(lt);	/* the tick, nobody connected */
	CHECK(total_mapped() == 2, "a freed stale slot is unmapped at once: %d",
	      total_mapped());
	{
		struct rte_mbuf *next[2];

		/* The next connection: its own pages, answered alone. */
		lend(lt, mp, 50, 2, next);
		rte_pktmbuf_free(next[0]);
		xnb_lt_reap_idle(lt);
		CHECK(total_mapped() == 4, "an owed slot waits for a reap with a ring: %d",
		      total_mapped());
		rte_pktmbuf_free(m[1]);
		rte_pktmbuf_free(m[2]);
		rte_pktmbuf_free(next[1]);
		n = xnb_lt_reap(lt, done, NREFS);
		CHECK(n == 2 && has_answer(done, n, 1050) && has_answer(done, n, 1051),
		      "only the new connection's requests answered, got %u", n);
		CHECK(total_mapped() == 0, "stale slots unmapped when freed: %d",
		      total_mapped());
	}
	xnb_lt_stats_get(lt, &st);
	CHECK(st.mapped_now == 0 && xnb_lt_slots_free(lt) == 16,
	      "all slots back: mapped_now %lu, free %u", (unsigned long)st.mapped_now,
	      xnb_lt_slots_free(lt));

	/* 8. Disconnect: every held slot copied out, nothing left mapped, the
	 * application's mbufs stay valid after the tracker is destroyed. */
	while (xnb_lt_reap(lt, done, NREFS) > 0)
		;
	lend(lt, mp, 30, 5, m);
	h0 = sum(rte_pktmbuf_mtod(m[2], uint8_t *), 1000);
	n = xnb_lt_flush(lt, done, NREFS);
	xnb_lt_stats_get(lt, &st);
	CHECK(n == 5 && st.disconnect_copyouts == 5, "flush answered %u", n);
	CHECK(total_mapped() == 0, "nothing mapped after flush: %d", total_mapped());
	xnb_lt_destroy(lt);
	CHECK(sum(rte_pktmbuf_mtod(m[2], uint8_t *), 1000) == h0,
	      "held mbuf valid after destroy");
	pthread_create(&t, NULL, free_on_thread, m[0]);
	pthread_join(t, NULL);
	for (int i = 1; i < 5; i++)
		rte_pktmbuf_free(m[i]);

	CHECK(fake.bad_unmaps == 0, "%lu unmaps of addresses not mapped",
	      (unsigned long)fake.bad_unmaps);
	rte_mempool_free(mp);
	xnb_fake_fini(&fake);
	rte_eal_cleanup();
	if (xnb_failures) {
		printf("test_lifetime: %d xnb_failures\n", xnb_failures);
		return 1;
	}
	printf("test_lifetime: all checks passed\n");
	return 0;
}
