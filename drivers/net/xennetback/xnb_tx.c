/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * rte_eth_tx_burst -> guest RX (Linux netback's rx path): every mbuf is
 * grant-copied into the buffers the guest posted on its RX ring, all the
 * packets of a burst with ONE platform call, then the guest gets its
 * responses and one notification at most.
 *
 * A packet fills the guest's pages from offset 0 (fewest slots: 64 KiB is
 * 16 pages); a TSO mbuf becomes a GSO packet (its extra-info in the second
 * slot, as netif.h lays it out) if the guest accepts GSO of that kind. When
 * the guest has not posted enough buffers the burst stops there and returns
 * the count sent: the application keeps the rest, as with a full NIC ring.
 */

#include <rte_ip.h>
#include <rte_malloc.h>

#include "xnb_internal.h"
#include "xnb_lifetime.h"

#define XNB_TX_RING_SIZE	__CONST_RING_SIZE(netif_rx, XNB_PAGE_SIZE)
#define XNB_TX_MAX_SEGS		1024	/* grant-copy segments per batch */
/* 64 KiB in pages, plus the GSO extra. */
#define XNB_TX_MAX_PKT_SLOTS	(XEN_NETIF_MAX_TX_SIZE / XNB_PAGE_SIZE + 2)

struct xnb_tx_pkt {
	uint16_t slots;		/* ring slots: data pages + the GSO extra */
	uint16_t ndata;
	uint16_t seg, nseg;
	uint8_t gso_type;	/* XEN_NETIF_GSO_TYPE_* or 0 */
	bool bad;
	netif_rx_request_t req[XNB_TX_MAX_PKT_SLOTS];
};

struct xnb_tx_scratch {
	struct xnb_tx_pkt pkt[XNB_BURST_MAX];
	xengnttab_grant_copy_segment_t seg[XNB_TX_MAX_SEGS];
	struct xnb_slot *pinned[XNB_TX_MAX_SEGS];	/* lent pages named by grant */
	uint16_t npinned;
};

int
xnb_txq_init(struct xnb_txq *txq, int socket)
{
	txq->scratch = rte_zmalloc_socket("xnb_tx_scratch", sizeof(*txq->scratch),
					  RTE_CACHE_LINE_SIZE, socket);
	return txq->scratch == NULL ? -ENOMEM : 0;
}

void
xnb_txq_fini(struct xnb_txq *txq)
{
	rte_free(txq->scratch);
	txq->scratch = NULL;
}

/* What the guest can take; 0 with a counter when it cannot take m at all. */
static uint8_t
xnb_tx_gso_type(struct xnb_txq *txq, const struct rte_mbuf *m, bool *bad)
{
	const struct xnb_frontend_features *fe = &txq->q->port->fe;

	*bad = false;
	if (!(m->ol_flags & RTE_MBUF_F_TX_TCP_SEG))
		return 0;
	if (m->tso_segsz == 0) {
		*bad = true;
	} else if (m->ol_flags & RTE_MBUF_F_TX_IPV6) {
		if (fe->gso_tcpv6)
			return XEN_NETIF_GSO_TYPE_TCPV6;
		*bad = true;
	} else {
		if (fe->gso_tcpv4)
			return XEN_NETIF_GSO_TYPE_TCPV4;
		*bad = true;
	}
	txq->xs.drop_bad_gso++;
	return 0;
}

/* The IPv4 header checksum the application asked for (netif has no flag
 * for it), in place when the header is in the mbuf's own memory. */
static void
xnb_tx_ip_csum(struct xnb_txq *txq, struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip;

	if (!RTE_MBUF_DIRECT(m) || m->l2_len + m->l3_len > m->data_len ||
	    m->l3_len < sizeof(*ip)) {
		txq->xs.ip_csum_skipped++;
		return;
	}
	ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, m->l2_len);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
}

/* Lays out m's bytes over the guest pages of p->req: source pieces split
 * where an mbuf segment or a page ends. */
static void
xnb_tx_segments(struct xnb_txq *txq, const struct rte_mbuf *m, struct xnb_tx_pkt *p,
		uint16_t *nseg)
{
	xengnttab_grant_copy_segment_t *seg = txq->scratch->seg;
	uint16_t domid = txq->q->port->domid;
	uint32_t pos = 0;

	p->seg = *nseg;
	for (const struct rte_mbuf *s = m; s != NULL; s = s->next) {
		uint32_t off = 0, fref;
		uint16_t fdom, foff;
		struct xnb_slot *pin = xnb_lt_pin(s, txq->scratch->npinned == 0, &fdom, &fref,
						  &foff);
		bool foreign = pin != NULL;

		if (foreign)
			txq->scratch->pinned[txq->scratch->npinned++] = pin;

		while (off < s->data_len) {
			xengnttab_grant_copy_segment_t *g = &seg[(*nseg)++];
			uint32_t page = pos / XNB_PAGE_SIZE, poff = pos % XNB_PAGE_SIZE;
			uint32_t n = RTE_MIN(s->data_len - off, XNB_PAGE_SIZE - poff);
			/* Data slot 0 is request 0; the GSO extra takes request 1. */
			uint32_t slot = page == 0 ? 0 : page + (p->gso_type != 0);

			if (foreign) {
				g->source.foreign.ref = fref;
				g->source.foreign.domid = fdom;
				g->source.foreign.offset = foff + off;
			} else {
				g->source.virt = rte_pktmbuf_mtod_offset(s, void *, off);
			}
			g->dest.foreign.ref = p->req[slot].gref;
			g->dest.foreign.offset = poff;
			g->dest.foreign.domid = domid;
			g->len = n;
			g->flags = GNTCOPY_dest_gref | (foreign ? GNTCOPY_source_gref : 0);
			g->status = GNTST_okay;
			off += n;
			pos += n;
		}
	}
	p->nseg = *nseg - p->seg;
}

/* Writes the responses of one packet (slot i answers request i). */
static void
xnb_tx_respond(struct xnb_txq *txq, const struct rte_mbuf *m, const struct xnb_tx_pkt *p)
{
	netif_rx_back_ring_t *ring = &txq->ring;
	RING_IDX base = ring->rsp_prod_pvt;
	uint32_t left = m->pkt_len;
	uint16_t flags = 0;

	/* A checksum still partial: asked for (TX flags) or left so on the way
	 * in (RX_L4_CKSUM_NONE, from another guest through an application
	 * that did not touch it). */
	if (m->ol_flags & (RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG) ||
	    (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_NONE)
		flags = NETRXF_csum_blank | NETRXF_data_validated;
	else if ((m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		flags = NETRXF_data_validated;
	if (p->gso_type != 0)
		flags |= NETRXF_extra_info;

	for (uint16_t k = 0; k < p->ndata; k++) {
		uint16_t slot = k == 0 ? 0 : k + (p->gso_type != 0);
		netif_rx_response_t *rsp = RING_GET_RESPONSE(ring, base + slot);
		uint16_t len = RTE_MIN(left, XNB_PAGE_SIZE);

		rsp->id = p->req[slot].id;
		rsp->offset = 0;
		rsp->flags = (k == 0 ? flags : 0) | (k + 1 < p->ndata ? NETRXF_more_data : 0);
		rsp->status = p->bad ? NETIF_RSP_ERROR : (int16_t)len;
		left -= len;
	}
	if (p->gso_type != 0) {
		struct netif_extra_info *ex =
			(struct netif_extra_info *)RING_GET_RESPONSE(ring, base + 1);

		memset(ex, 0, sizeof(netif_rx_response_t));
		ex->type = XEN_NETIF_EXTRA_TYPE_GSO;
		ex->u.gso.type = p->gso_type;
		ex->u.gso.size = m->tso_segsz;
	}
	ring->rsp_prod_pvt = base + p->slots;
}

/* Up to n mbufs with one grant-copy call. Returns how many were taken
 * (sent or dropped); *more is false when the guest ran out of buffers. */
static uint16_t
xnb_tx_batch(struct xnb_txq *txq, struct rte_mbuf **pkts, uint16_t n, bool *more)
{
	struct xnb_port *port = txq->q->port;
	struct xnb_tx_scratch *s = txq->scratch;
	netif_rx_back_ring_t *ring = &txq->ring;
	RING_IDX cons = ring->req_cons, prod;
	uint16_t np = 0, nseg = 0;
	int rc = 0;

	*more = true;
	prod = __atomic_load_n(&ring->sring->req_prod, __ATOMIC_ACQUIRE);
	if (unlikely(RING_REQUEST_PROD_OVERFLOW(ring, prod))) {
		xnb_queue_fatal(txq->q, "rx req_prod %u is beyond the ring (rsp_prod %u)",
				prod, ring->rsp_prod_pvt);
		*more = false;
		return 0;
	}
	for (; np < n; np++) {
		struct rte_mbuf *m = pkts[np];
		struct xnb_tx_pkt *p = &s->pkt[np];
		bool bad;

		p->bad = false;
		p->gso_type = xnb_tx_gso_type(txq, m, &bad);
		p->ndata = (m->pkt_len + XNB_PAGE_SIZE - 1) / XNB_PAGE_SIZE;
		if (bad) {
			p->bad = true;
		} else if (m->pkt_len == 0 || m->pkt_len > XEN_NETIF_MAX_TX_SIZE) {
			txq->xs.drop_too_big++;
			p->bad = true;
		} else if (p->ndata > 1 && !port->fe.sg) {
			txq->xs.drop_no_sg++;
			p->bad = true;
		}
		if (p->bad) {
			/* Dropped without using the guest's buffers. */
			p->slots = 0;
			continue;
		}
		p->slots = p->ndata + (p->gso_type != 0);
		if (m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM)
			xnb_tx_ip_csum(txq, m);
		if (prod - cons < p->slots) {
			txq->xs.ring_full++;
			*more = false;
			break;
		}
		if (nseg + m->nb_segs + p->ndata > XNB_TX_MAX_SEGS)
			break;
		for (uint16_t k = 0; k < p->slots; k++)
			memcpy(&p->req[k], RING_GET_REQUEST(ring, cons + k), sizeof(p->req[k]));
		cons += p->slots;
		xnb_tx_segments(txq, m, p, &nseg);
	}
	ring->req_cons = cons;

	if (nseg > 0) {
		rc = port->plat->gnt_copy(port->gnt, nseg, s->seg);
		txq->xs.hc_copy++;
		txq->xs.copy_ops += nseg;
	}
	while (s->npinned > 0)
		xnb_lt_unpin(s->pinned[--s->npinned]);
	for (uint16_t i = 0; i < np; i++) {
		struct rte_mbuf *m = pkts[i];
		struct xnb_tx_pkt *p = &s->pkt[i];

		if (p->slots == 0) {
			txq->errors++;
			continue;
		}
		for (uint16_t k = 0; k < p->nseg && !p->bad; k++)
			p->bad = rc < 0 || s->seg[p->seg + k].status != GNTST_okay;
		xnb_tx_respond(txq, m, p);
		if (p->bad) {
			txq->xs.copy_errors++;
			txq->errors++;
			continue;
		}
		if (p->gso_type != 0)
			txq->xs.gso_pkts++;
		if (m->ol_flags & RTE_MBUF_F_TX_L4_MASK)
			txq->xs.csum_offloaded++;
		txq->xs.bytes_copied += m->pkt_len;
		txq->pkts++;
		txq->bytes += m->pkt_len;
	}
	rte_pktmbuf_free_bulk(pkts, np);
	return np;
}

uint16_t
xnb_tx_burst(void *arg, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	struct xnb_txq *txq = arg;
	struct xnb_queue *q = txq->q;
	uint16_t sent = 0;
	RING_IDX answered;
	bool more = true;
	int notify;

	if (unlikely(!xnb_guard_enter(&txq->guard)))
		return 0;
	if (unlikely(__atomic_load_n(&q->fatal, __ATOMIC_RELAXED))) {
		xnb_guard_leave(&txq->guard);
		return 0;
	}
	answered = txq->ring.rsp_prod_pvt;
	while (sent < nb_pkts && more) {
		uint16_t want = RTE_MIN(nb_pkts - sent, XNB_BURST_MAX);
		uint16_t n = xnb_tx_batch(txq, pkts + sent, want, &more);

		sent += n;
		if (n < want)
			break;
	}
	if (sent > 0)
		txq->xs.bursts++;
	if (txq->ring.rsp_prod_pvt != answered) {
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&txq->ring, notify);
		if (notify) {
			q->port->plat->evt_notify(txq->evt, txq->evtchn);
			txq->xs.notify_sent++;
		} else {
			txq->xs.notify_suppressed++;
		}
	}
	xnb_guard_leave(&txq->guard);
	return sent;
}
