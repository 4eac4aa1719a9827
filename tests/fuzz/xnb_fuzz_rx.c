/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * libFuzzer harness over the guest-TX request path (issue 9): the driver's
 * own xnb_rx.c and xnb_lifetime.c, unchanged, behind a fake platform ops
 * table. The input is a snapshot of what a guest controls:
 *
 *   byte 0        bit 0: copy_mode=always (else lazy zero copy)
 *   bytes 1..4096 the TX ring page (netif_tx_sring: indexes and requests)
 *   the rest      guest pages: grant ref r is page r while r < their count
 *
 * A few bursts run over it, their mbufs are freed, and the queue is flushed
 * as at a disconnect. Beyond ASan/UBSan, it checks what a hostile ring must
 * never break: every consumed request answered once, no response beyond
 * the requests, no guest page left mapped, no mbuf leaked.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "xnb_internal.h"
#include "xnb_lifetime.h"

#define FZ_PAGE		XNB_PAGE_SIZE
#define FZ_MAX_PAGES	24
#define FZ_NB_MBUFS	8191

int xnb_logtype;

static struct {
	const uint8_t *pages;	/* guest memory: the input past the ring */
	uint32_t npages;
	long mapped;		/* fake mappings alive */
} fz;

static struct xnb_port port_lazy, port_copy;
static struct rte_mempool *mp;
static void *ring_page;

/* ---- the fake platform: grants are pages of the input ---------------------- */

static const uint8_t *
fz_grant(uint32_t ref)
{
	return ref < fz.npages ? fz.pages + (size_t)ref * FZ_PAGE : NULL;
}

static int
fz_gnt_map(struct xnb_gnt *g __rte_unused, uint16_t domid __rte_unused,
	   uint32_t count, const uint32_t *refs, int writable __rte_unused,
	   void **addrs, int16_t *status)
{
	int n = 0;

	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *src = fz_grant(refs[i]);
		void *p;

		addrs[i] = NULL;
		status[i] = GNTST_bad_gntref;
		if (src == NULL)
			continue;
		p = mmap(NULL, FZ_PAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			status[i] = GNTST_general_error;
			continue;
		}
		memcpy(p, src, FZ_PAGE);
		addrs[i] = p;
		status[i] = GNTST_okay;
		fz.mapped++;
		n++;
	}
	return n;
}

static int
fz_gnt_unmap(struct xnb_gnt *g __rte_unused, uint32_t count, void *const *addrs)
{
	for (uint32_t i = 0; i < count; i++) {
		if (addrs[i] == NULL)
			abort();	/* unmapping what was never mapped */
		munmap(addrs[i], FZ_PAGE);
		fz.mapped--;
	}
	return 0;
}

/* The copied-out page takes the mapping's place; the grant is released. */
static int
fz_gnt_unmap_replace(struct xnb_gnt *g __rte_unused, void *addr, void *newpage)
{
	memcpy(addr, newpage, FZ_PAGE);
	munmap(newpage, FZ_PAGE);
	return 0;
}

static int
fz_gnt_copy(struct xnb_gnt *g __rte_unused, uint32_t count,
	    xengnttab_grant_copy_segment_t *segs)
{
	for (uint32_t i = 0; i < count; i++) {
		xengnttab_grant_copy_segment_t *s = &segs[i];
		const uint8_t *src;

		if (!(s->flags & GNTCOPY_source_gref) || (s->flags & GNTCOPY_dest_gref))
			abort();	/* the rx path only copies from guest grants */
		src = fz_grant(s->source.foreign.ref);
		if (src == NULL) {
			s->status = GNTST_bad_gntref;
		} else if ((uint32_t)s->source.foreign.offset + s->len > FZ_PAGE) {
			s->status = GNTST_bad_copy_arg;
		} else {
			memcpy(s->dest.virt, src + s->source.foreign.offset, s->len);
			s->status = GNTST_okay;
		}
	}
	return 0;
}

static int
fz_evt_notify(struct xnb_evt *e __rte_unused, uint32_t port __rte_unused)
{
	return 0;
}

static const struct xnb_platform_ops fz_ops = {
	.name = "fuzz",
	.gnt_map = fz_gnt_map,
	.gnt_unmap = fz_gnt_unmap,
	.gnt_unmap_replace = fz_gnt_unmap_replace,
	.gnt_copy = fz_gnt_copy,
	.evt_notify = fz_evt_notify,
};

/* ---- what the driver's other files provide --------------------------------- */

void
xnb_queue_fatal(struct xnb_queue *q, const char *fmt __rte_unused, ...)
{
	__atomic_store_n(&q->fatal, 1, __ATOMIC_RELEASE);
}

/* ---- setup ------------------------------------------------------------------ */

static void
fz_port_init(struct xnb_port *port, enum xnb_copy_mode mode)
{
	struct xnb_queue *q = &port->queues[0];

	port->domid = 1;
	port->copy_mode = mode;
	port->aging_ms = XNB_DEFAULT_AGING_MS;
	port->header_copy = XNB_DEFAULT_HEADER_COPY;
	port->copy_threshold = 256;	/* most fuzzed frames reach the lending path */
	port->max_mapped = XNB_RING_SLOTS;
	port->port_id = mode == XNB_COPY_LAZY ? 0 : 1;
	port->plat = &fz_ops;
	port->nb_queues = 1;
	q->port = port;
	q->rx.q = q;
	q->rx.mp = mp;
	if (xnb_rxq_init(&q->rx, SOCKET_ID_ANY) != 0) {
		fprintf(stderr, "xnb_rxq_init failed\n");
		exit(1);
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc __rte_unused, char ***argv __rte_unused)
{
	char *eal[] = { "xnb-fuzz", "--no-huge", "-m", "256", "--no-pci", "--no-shconf",
			"--no-telemetry", "-l", "0", "--log-level=*:error", NULL };

	if (rte_eal_init(RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		exit(1);
	}
	xnb_logtype = rte_log_register("pmd.net.xennetback.fuzz");
	mp = rte_pktmbuf_pool_create("xnb_fuzz", FZ_NB_MBUFS, 0, 0,
				     RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	ring_page = aligned_alloc(FZ_PAGE, FZ_PAGE);
	if (mp == NULL || ring_page == NULL) {
		fprintf(stderr, "no mbuf pool\n");
		exit(1);
	}
	fz_port_init(&port_lazy, XNB_COPY_LAZY);
	fz_port_init(&port_copy, XNB_COPY_ALWAYS);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t pages[FZ_MAX_PAGES * FZ_PAGE];
	struct rte_mbuf *pkts[64];
	struct xnb_port *port;
	struct xnb_rxq *rxq;
	netif_tx_sring_t *s = ring_page;
	RING_IDX start;
	size_t rest;

	if (size < 1)
		return -1;
	port = (data[0] & 1) ? &port_copy : &port_lazy;
	rxq = &port->queues[0].rx;
	memset(ring_page, 0, FZ_PAGE);
	memcpy(ring_page, data + 1, RTE_MIN(size - 1, (size_t)FZ_PAGE));
	rest = size > 1 + FZ_PAGE ? size - 1 - FZ_PAGE : 0;
	rest = RTE_MIN(rest, sizeof(pages));
	memcpy(pages, data + 1 + FZ_PAGE, rest);
	memset(pages + rest, 0, (FZ_PAGE - rest % FZ_PAGE) % FZ_PAGE);
	fz.pages = pages;
	fz.npages = (uint32_t)((rest + FZ_PAGE - 1) / FZ_PAGE);

	/* Connect as the driver does: where the guest's indexes are, and only
	 * a ring that claims no more than it can hold. */
	if (s->req_prod - s->rsp_prod > XNB_RING_SLOTS)
		return 0;
	start = s->rsp_prod;
	BACK_RING_ATTACH(&rxq->ring, s, start, XNB_PAGE_SIZE);
	port->queues[0].fatal = 0;
	xnb_guard_open(&rxq->guard);

	for (int b = 0; b < 4; b++) {
		RING_IDX cons = rxq->ring.req_cons;
		uint16_t n = xnb_rx_burst(rxq, pkts, RTE_DIM(pkts));

		for (uint16_t i = 0; i < n; i++) {
			if (rte_pktmbuf_pkt_len(pkts[i]) == 0 ||
			    rte_pktmbuf_pkt_len(pkts[i]) > 65535)
				abort();
			rte_pktmbuf_free(pkts[i]);
		}
		if (n == 0 && rxq->ring.req_cons == cons)
			break;
	}
	/* Responses never outrun the requests the backend took. */
	if (rxq->ring.rsp_prod_pvt - start > rxq->ring.req_cons - start)
		abort();
	xnb_rxq_flush(rxq);
	/* Disconnected: every request taken has its answer, nothing mapped,
	 * every mbuf back in the pool. */
	if (rxq->ring.rsp_prod_pvt != rxq->ring.req_cons) {
		fprintf(stderr, "%u requests taken, %u answered\n",
			rxq->ring.req_cons - start, rxq->ring.rsp_prod_pvt - start);
		abort();
	}
	if (fz.mapped != 0) {
		fprintf(stderr, "%ld guest pages still mapped\n", fz.mapped);
		abort();
	}
	if (rte_mempool_in_use_count(mp) != 0) {
		fprintf(stderr, "%u mbufs leaked\n", rte_mempool_in_use_count(mp));
		abort();
	}
	return 0;
}
