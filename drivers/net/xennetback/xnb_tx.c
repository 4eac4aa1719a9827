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

#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_net.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "xnb_internal.h"
#include "xnb_lifetime.h"

#define XNB_TX_RING_SIZE	__CONST_RING_SIZE(netif_rx, XNB_PAGE_SIZE)
#define XNB_TX_MAX_SEGS		1024	/* grant-copy segments per batch */
/* 64 KiB in pages, plus the GSO and hash extras. */
#define XNB_TX_MAX_PKT_SLOTS	(XEN_NETIF_MAX_TX_SIZE / XNB_PAGE_SIZE + 3)

/* Headers we rewrite (checksums) in a private copy: Ethernet with two VLAN
 * tags, IPv6 with some extension headers, TCP with options. */
#define XNB_TX_OVL_MAX		256

struct xnb_tx_pkt {
	uint16_t slots;		/* ring slots: data pages + the GSO extra */
	uint16_t ndata;
	uint16_t seg, nseg;
	uint16_t rxflags;	/* NETRXF_csum_blank / NETRXF_data_validated */
	uint16_t ovl_len;	/* the frame's first bytes come from ovl */
	uint8_t gso_type;	/* XEN_NETIF_GSO_TYPE_* or 0 */
	uint8_t hash_type;	/* 1 + _XEN_NETIF_CTRL_HASH_TYPE_*, 0: no hash extra */
	uint8_t nextra;		/* extra-info slots after the first data slot */
	uint32_t hash;
	bool bad;
	netif_rx_request_t req[XNB_TX_MAX_PKT_SLOTS];
	uint8_t ovl[XNB_TX_OVL_MAX];
};

/* The hash a steered frame carries to the guest (xnb_tx_steer). */
struct xnb_tx_hash {
	uint32_t hash;
	uint8_t type;		/* 1 + _XEN_NETIF_CTRL_HASH_TYPE_*, 0: none */
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
	rte_spinlock_init(&txq->lock);
	txq->stall_tsc = (uint64_t)txq->q->port->rx_stall_ms * rte_get_tsc_hz() / 1000;
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

/* A chain whose segments add up to what it claims; anything else is
 * never copied (it would be read past a segment's end). */
static bool
xnb_tx_chain_ok(const struct rte_mbuf *m)
{
	uint32_t len = 0;
	uint16_t n = 0;

	for (const struct rte_mbuf *s = m; s != NULL && n <= m->nb_segs; s = s->next) {
		len += s->data_len;
		n++;
	}
	return n == m->nb_segs && len == m->pkt_len;
}

/*
 * The headers of m, located: from the TX offload fields the application
 * set (the ethdev contract when it asks for an offload), else parsed (a
 * frame left partial on its way in from another guest). 0: none found.
 */
static uint32_t
xnb_tx_locate(const struct rte_mbuf *m, struct rte_net_hdr_lens *hl)
{
	uint32_t ptype;

	memset(hl, 0, sizeof(*hl));
	if (m->ol_flags & (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IPV6) && m->l3_len != 0) {
		hl->l2_len = m->l2_len;
		hl->l3_len = m->l3_len;
		ptype = m->ol_flags & RTE_MBUF_F_TX_IPV4 ? RTE_PTYPE_L3_IPV4_EXT_UNKNOWN :
			RTE_PTYPE_L3_IPV6_EXT_UNKNOWN;
		switch (m->ol_flags & RTE_MBUF_F_TX_L4_MASK) {
		case RTE_MBUF_F_TX_UDP_CKSUM:
			hl->l4_len = sizeof(struct rte_udp_hdr);
			return ptype | RTE_PTYPE_L4_UDP;
		case RTE_MBUF_F_TX_TCP_CKSUM:
			break;
		default:
			if (!(m->ol_flags & RTE_MBUF_F_TX_TCP_SEG))
				return ptype;
		}
		/* The checksum needs the fixed header only (TSO sets l4_len). */
		hl->l4_len = m->l4_len >= sizeof(struct rte_tcp_hdr) ? m->l4_len :
			sizeof(struct rte_tcp_hdr);
		return ptype | RTE_PTYPE_L4_TCP;
	}
	ptype = rte_net_get_ptype(m, hl, RTE_PTYPE_L2_MASK | RTE_PTYPE_L3_MASK |
				  RTE_PTYPE_L4_MASK);
	return RTE_ETH_IS_IPV4_HDR(ptype) || RTE_ETH_IS_IPV6_HDR(ptype) ? ptype : 0;
}

/*
 * The checksum state the guest gets, and the header rewrites that takes:
 * a checksum still partial (asked for with TX flags, or left so on the way
 * in from another guest) is handed on as NETRXF_csum_blank only to a
 * frontend that accepts it for that IP version (feature-no-csum-offload,
 * feature-ipv6-csum-offload); for the others it is completed here, as is
 * an IPv4 header checksum the application asked for (netif has no flag
 * for it). Rewrites go to the mbuf when its first segment is ours alone,
 * else to a private copy of the headers (p->ovl) that the grant copy takes
 * in their place. false: drop (counted).
 */
static bool
xnb_tx_csum(struct xnb_txq *txq, struct rte_mbuf *m, struct xnb_tx_pkt *p)
{
	const struct xnb_frontend_features *fe = &txq->q->port->fe;
	bool partial = m->ol_flags & (RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG) ||
		(m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_NONE;
	bool ip = m->ol_flags & RTE_MBUF_F_TX_IP_CKSUM, l4 = false;
	struct rte_net_hdr_lens hl;
	uint32_t ptype, hlen;
	uint8_t *h;

	p->rxflags = (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) ==
		RTE_MBUF_F_RX_L4_CKSUM_GOOD ? NETRXF_data_validated : 0;
	p->ovl_len = 0;
	if (!partial && !ip)
		return true;
	ptype = xnb_tx_locate(m, &hl);
	if (partial) {
		uint32_t l4type = ptype & RTE_PTYPE_L4_MASK;

		if (ptype != 0 && (RTE_ETH_IS_IPV6_HDR(ptype) ? fe->ipv6_csum : fe->csum)) {
			p->rxflags = NETRXF_csum_blank | NETRXF_data_validated;
		} else if (p->gso_type != 0 ||
			   (l4type != RTE_PTYPE_L4_TCP && l4type != RTE_PTYPE_L4_UDP)) {
			txq->xs.drop_bad_csum++;
			return false;
		} else {
			l4 = true;
			p->rxflags = NETRXF_data_validated;
		}
	}
	ip = ip && RTE_ETH_IS_IPV4_HDR(ptype);
	if (!ip && !l4)
		return true;
	hlen = hl.l2_len + hl.l3_len + (l4 ? hl.l4_len : 0);
	/* A real IP header (a pseudo-header must not overlap the L4 header). */
	if (hl.l3_len < (RTE_ETH_IS_IPV6_HDR(ptype) ? sizeof(struct rte_ipv6_hdr) :
			 sizeof(struct rte_ipv4_hdr)) ||
	    !(RTE_ETH_IS_IPV4_HDR(ptype) || RTE_ETH_IS_IPV6_HDR(ptype)) ||
	    hlen > m->pkt_len || hlen > XNB_TX_OVL_MAX) {
		txq->xs.drop_bad_csum++;
		return false;
	}
	if (RTE_MBUF_DIRECT(m) && rte_mbuf_refcnt_read(m) == 1 && hlen <= m->data_len) {
		h = rte_pktmbuf_mtod(m, uint8_t *);
	} else {
		const void *src = rte_pktmbuf_read(m, 0, hlen, p->ovl);

		h = p->ovl;
		if (src != h)
			memcpy(h, src, hlen);
		p->ovl_len = hlen;
	}
	if (ip) {
		struct rte_ipv4_hdr *iph = (struct rte_ipv4_hdr *)(h + hl.l2_len);

		iph->hdr_checksum = 0;
		iph->hdr_checksum = rte_ipv4_cksum(iph);
	}
	if (l4) {
		if (!xnb_csum_l4(m, h, hlen, ptype, &hl)) {
			txq->xs.drop_bad_csum++;
			return false;
		}
		txq->xs.csum_completed++;
	}
	return true;
}

/* Lays bytes [*pos, *pos + len) of the frame over the guest's pages, from
 * local memory (src) or from a grant (fref of fdom at foff). */
static void
xnb_tx_piece(struct xnb_txq *txq, struct xnb_tx_pkt *p, uint16_t *nseg, uint32_t *pos,
	     const void *src, uint16_t fdom, uint32_t fref, uint32_t foff, uint32_t len)
{
	xengnttab_grant_copy_segment_t *seg = txq->scratch->seg;
	uint16_t domid = txq->q->port->domid;
	uint32_t off = 0;

	while (off < len) {
		uint32_t page = *pos / XNB_PAGE_SIZE, poff = *pos % XNB_PAGE_SIZE;
		uint32_t n = RTE_MIN(len - off, XNB_PAGE_SIZE - poff);
		/* Data slot 0 is request 0; the extras follow it. */
		uint32_t slot = page == 0 ? 0 : page + p->nextra;

		xnb_seg_to_guest(&seg[(*nseg)++], domid, p->req[slot].gref, poff,
				 src == NULL ? NULL : (const uint8_t *)src + off,
				 fdom, fref, foff + off, n);
		off += n;
		*pos += n;
	}
}

/* Lays out m's bytes (after the header copy in p->ovl, if any) over the
 * guest pages of p->req: source pieces split where an mbuf segment or a
 * page ends. */
static void
xnb_tx_segments(struct xnb_txq *txq, const struct rte_mbuf *m, struct xnb_tx_pkt *p,
		uint16_t *nseg)
{
	uint32_t pos = 0, skip = p->ovl_len;

	p->seg = *nseg;
	if (p->ovl_len > 0)
		xnb_tx_piece(txq, p, nseg, &pos, p->ovl, 0, 0, 0, p->ovl_len);
	for (const struct rte_mbuf *s = m; s != NULL; s = s->next) {
		uint32_t from = RTE_MIN(skip, (uint32_t)s->data_len), fref;
		uint16_t fdom, foff;
		struct xnb_slot *pin;

		skip -= from;
		if (from == s->data_len)
			continue;
		pin = xnb_lt_pin(s, txq->scratch->npinned == 0, &fdom, &fref, &foff);
		if (pin != NULL) {
			txq->scratch->pinned[txq->scratch->npinned++] = pin;
			xnb_tx_piece(txq, p, nseg, &pos, NULL, fdom, fref, foff + from,
				     s->data_len - from);
		} else {
			xnb_tx_piece(txq, p, nseg, &pos, rte_pktmbuf_mtod_offset(s,
				     const void *, from), 0, 0, 0, s->data_len - from);
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
	uint16_t flags = p->rxflags;

	if (p->nextra != 0)
		flags |= NETRXF_extra_info;

	for (uint16_t k = 0; k < p->ndata; k++) {
		uint16_t slot = k == 0 ? 0 : k + p->nextra;
		netif_rx_response_t *rsp = RING_GET_RESPONSE(ring, base + slot);
		uint16_t len = RTE_MIN(left, XNB_PAGE_SIZE);

		rsp->id = p->req[slot].id;
		rsp->offset = 0;
		rsp->flags = (k == 0 ? flags : 0) | (k + 1 < p->ndata ? NETRXF_more_data : 0);
		rsp->status = p->bad ? NETIF_RSP_ERROR : (int16_t)len;
		left -= len;
	}
	for (uint16_t k = 1; k <= p->nextra; k++) {
		struct netif_extra_info *ex =
			(struct netif_extra_info *)RING_GET_RESPONSE(ring, base + k);

		memset(ex, 0, sizeof(netif_rx_response_t));
		ex->flags = k < p->nextra ? XEN_NETIF_EXTRA_FLAG_MORE : 0;
		if (k == 1 && p->gso_type != 0) {
			ex->type = XEN_NETIF_EXTRA_TYPE_GSO;
			ex->u.gso.type = p->gso_type;
			ex->u.gso.size = m->tso_segsz;
		} else {
			/* The hash the guest's control ring asked for. */
			ex->type = XEN_NETIF_EXTRA_TYPE_HASH;
			ex->u.hash.type = p->hash_type - 1;
			ex->u.hash.algorithm = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
			memcpy(ex->u.hash.value, &p->hash, sizeof(p->hash));
		}
	}
	ring->rsp_prod_pvt = base + p->slots;
}

/* A guest that asked for multicast control gets only the multicast frames
 * it subscribed to (broadcast always), as from Linux netback. */
static bool
xnb_tx_mcast_wanted(struct xnb_txq *txq, const struct rte_mbuf *m)
{
	struct rte_ether_addr dst;
	const void *p = rte_pktmbuf_read(m, 0, sizeof(dst), &dst);

	if (p == NULL)
		return true;
	/* The application's data offset may be odd: work on an aligned copy. */
	if (p != &dst)
		memcpy(&dst, p, sizeof(dst));
	if (!rte_is_multicast_ether_addr(&dst) || rte_is_broadcast_ether_addr(&dst))
		return true;
	return xnb_mcast_match(txq->q->port, &dst);
}

enum xnb_tx_plan {
	XNB_TX_TAKE,		/* its requests taken, its segments laid out */
	XNB_TX_DROP,		/* dropped (counted) without using the guest's buffers */
	XNB_TX_FULL,		/* the guest has not posted enough buffers */
	XNB_TX_LATER,		/* no room for its segments in this batch */
};

/* Whether m can go to the guest, and in how many of its buffers (of the
 * avail requests posted). */
static enum xnb_tx_plan
xnb_tx_plan(struct xnb_txq *txq, struct rte_mbuf *m, struct xnb_tx_pkt *p,
	    RING_IDX avail, uint16_t nseg)
{
	const struct xnb_port *port = txq->q->port;
	bool bad;

	p->bad = false;
	p->gso_type = xnb_tx_gso_type(txq, m, &bad);
	p->ndata = (m->pkt_len + XNB_PAGE_SIZE - 1) / XNB_PAGE_SIZE;
	p->slots = 0;
	if (bad)
		return XNB_TX_DROP;
	if (m->pkt_len == 0 || m->pkt_len > XEN_NETIF_MAX_TX_SIZE) {
		txq->xs.drop_too_big++;
		return XNB_TX_DROP;
	}
	if (!xnb_tx_chain_ok(m)) {
		txq->xs.drop_bad_chain++;
		return XNB_TX_DROP;
	}
	if (p->ndata > 1 && !port->fe.sg) {
		txq->xs.drop_no_sg++;
		return XNB_TX_DROP;
	}
	if (port->fe.mcast_ctrl && !xnb_tx_mcast_wanted(txq, m)) {
		txq->xs.drop_mcast++;
		return XNB_TX_DROP;
	}
	p->nextra = (p->gso_type != 0) + (p->hash_type != 0);
	if (avail < (RING_IDX)p->ndata + p->nextra) {
		txq->xs.ring_full++;
		return XNB_TX_FULL;
	}
	/* Worst case: every segment, page end and the header copy start a
	 * grant-copy segment. */
	if (nseg + m->nb_segs + p->ndata + 1 > XNB_TX_MAX_SEGS)
		return XNB_TX_LATER;
	if (!xnb_tx_csum(txq, m, p))
		return XNB_TX_DROP;
	p->slots = p->ndata + p->nextra;
	return XNB_TX_TAKE;
}

/* After the batch's copy call: p answered, counted. */
static void
xnb_tx_finish(struct xnb_txq *txq, const struct rte_mbuf *m, struct xnb_tx_pkt *p,
	      int rc)
{
	const struct xnb_tx_scratch *s = txq->scratch;

	if (p->slots == 0) {
		txq->errors++;
		return;
	}
	for (uint16_t k = 0; k < p->nseg && !p->bad; k++)
		p->bad = rc < 0 || s->seg[p->seg + k].status != GNTST_okay;
	xnb_tx_respond(txq, m, p);
	if (p->bad) {
		txq->xs.copy_errors++;
		txq->errors++;
		return;
	}
	if (p->gso_type != 0)
		txq->xs.gso_pkts++;
	if (p->rxflags & NETRXF_csum_blank)
		txq->xs.csum_offloaded++;
	txq->xs.bytes_copied += m->pkt_len;
	txq->pkts++;
	txq->bytes += m->pkt_len;
}

/* Up to n mbufs with one grant-copy call. Returns how many were taken
 * (sent or dropped); *more is false when the guest ran out of buffers. */
static uint16_t
xnb_tx_batch(struct xnb_txq *txq, struct rte_mbuf **pkts, uint16_t n,
	     const struct xnb_tx_hash *th, bool *more)
{
	struct xnb_port *port = txq->q->port;
	struct xnb_tx_scratch *s = txq->scratch;
	netif_rx_back_ring_t *ring = &txq->ring;
	RING_IDX cons = ring->req_cons, prod;
	uint16_t np = 0, nseg = 0;
	int rc = 0;

	*more = true;
	prod = __atomic_load_n(&ring->sring->req_prod, __ATOMIC_ACQUIRE);
	/* Every request taken is answered within the batch, so req_cons is
	 * rsp_prod_pvt here; both checks as on the TX ring (xnb_rx.c). */
	if (unlikely(prod - cons > XNB_TX_RING_SIZE ||
		     RING_REQUEST_PROD_OVERFLOW(ring, prod))) {
		xnb_queue_fatal(txq->q, "rx req_prod %u is beyond the ring (req_cons %u, "
				"rsp_prod %u)", prod, cons, ring->rsp_prod_pvt);
		*more = false;
		return 0;
	}
	for (; np < n; np++) {
		struct xnb_tx_pkt *p = &s->pkt[np];
		enum xnb_tx_plan plan;

		p->hash_type = th != NULL ? th[np].type : 0;
		p->hash = th != NULL ? th[np].hash : 0;
		plan = xnb_tx_plan(txq, pkts[np], p, prod - cons, nseg);

		if (plan == XNB_TX_FULL)
			*more = false;
		if (plan == XNB_TX_FULL || plan == XNB_TX_LATER)
			break;
		if (plan == XNB_TX_DROP)
			continue;
		for (uint16_t k = 0; k < p->slots; k++)
			memcpy(&p->req[k], RING_GET_REQUEST(ring, cons + k), sizeof(p->req[k]));
		cons += p->slots;
		xnb_tx_segments(txq, pkts[np], p, &nseg);
	}
	ring->req_cons = cons;

	if (nseg > 0) {
		rc = port->plat->gnt_copy(port->gnt, nseg, s->seg);
		txq->xs.hc_copy++;
		txq->xs.copy_ops += nseg;
	}
	while (s->npinned > 0)
		xnb_lt_unpin(s->pinned[--s->npinned]);
	for (uint16_t i = 0; i < np; i++)
		xnb_tx_finish(txq, pkts[i], &s->pkt[i], rc);
	rte_pktmbuf_free_bulk(pkts, np);
	return np;
}

/*
 * A guest that stops posting RX buffers (Linux netback's rx_stall_timeout):
 * once it has had none for rx_stall_ms while frames waited for it, the
 * queue is stalled: its frames are dropped and counted, and the service
 * tick takes the link down for the application, until the guest posts
 * buffers again (checked by the next burst, and by the tick when nobody
 * sends). Queue lock held.
 */
static void
xnb_txq_stall_check(struct xnb_txq *txq, bool full, bool took, uint64_t now)
{
	if (took || !full) {
		txq->stall_since = 0;
		return;
	}
	if (txq->stall_since == 0)
		txq->stall_since = now;
	else if (txq->stall_tsc != 0 && now - txq->stall_since >= txq->stall_tsc)
		__atomic_store_n(&txq->stalled, 1, __ATOMIC_RELEASE);
}

/* Whether a stalled guest has posted buffers again. Queue lock held. */
static bool
xnb_txq_unstall(struct xnb_txq *txq)
{
	RING_IDX prod = __atomic_load_n(&txq->ring.sring->req_prod, __ATOMIC_ACQUIRE);

	if (prod == txq->ring.req_cons)
		return false;
	txq->stall_since = 0;
	__atomic_store_n(&txq->stalled, 0, __ATOMIC_RELEASE);
	return true;
}

bool
xnb_txq_tick(struct xnb_txq *txq)
{
	bool stalled;

	if (!__atomic_load_n(&txq->stalled, __ATOMIC_RELAXED) ||
	    !xnb_guard_enter(&txq->guard))
		return false;
	rte_spinlock_lock(&txq->lock);
	stalled = !xnb_txq_unstall(txq);
	rte_spinlock_unlock(&txq->lock);
	xnb_guard_leave(&txq->guard);
	return stalled;
}

/*
 * Frames onto one guest queue. The queue's lock: the application's lcore
 * for this ethdev queue, and any other steering frames here (xnb_tx_steer),
 * may send at once; uncontended it costs an atomic per burst.
 */
static uint16_t
xnb_tx_queue(struct xnb_txq *txq, struct rte_mbuf **pkts, uint16_t nb_pkts,
	     const struct xnb_tx_hash *th)
{
	struct xnb_queue *q = txq->q;
	uint16_t sent = 0;
	RING_IDX answered;
	bool more = true;
	uint64_t t0;

	if (!xnb_burst_enter(&txq->guard, q))
		return 0;
	rte_spinlock_lock(&txq->lock);
	t0 = rte_rdtsc();
	if (unlikely(__atomic_load_n(&txq->stalled, __ATOMIC_RELAXED)) &&
	    !xnb_txq_unstall(txq)) {
		/* Linux netback's rx drain: a stalled guest's frames are
		 * dropped, not left to back up the application. */
		txq->xs.drop_stalled += nb_pkts;
		txq->errors += nb_pkts;
		rte_pktmbuf_free_bulk(pkts, nb_pkts);
		rte_spinlock_unlock(&txq->lock);
		xnb_guard_leave(&txq->guard);
		return nb_pkts;
	}
	answered = txq->ring.rsp_prod_pvt;
	while (sent < nb_pkts && more) {
		uint16_t want = RTE_MIN(nb_pkts - sent, XNB_BURST_MAX);
		uint16_t n = xnb_tx_batch(txq, pkts + sent, want, th != NULL ? th + sent : NULL,
					  &more);

		sent += n;
		if (n < want)
			break;
	}
	xnb_txq_stall_check(txq, !more, txq->ring.rsp_prod_pvt != answered, t0);
	XNB_PUSH(&txq->ring, answered, q, txq->evt, txq->evtchn, &txq->xs, true);
	if (sent > 0) {
		txq->xs.bursts++;
		txq->xs.cycles_busy += rte_rdtsc() - t0;
	}
	rte_spinlock_unlock(&txq->lock);
	xnb_guard_leave(&txq->guard);
	return sent;
}

/*
 * A guest that set a hash on its control ring gets each frame on the queue
 * its mapping names, with the hash as an extra (Linux netback's
 * xenvif_select_queue). Frames go in order, in runs per queue; the first
 * run a queue cannot take ends the burst, so the application keeps a
 * contiguous rest, as the ethdev contract says. Frames without a hash
 * (not IP, or types the guest did not ask for) stay on the queue the
 * application chose.
 */
static uint16_t
xnb_tx_steer(struct xnb_txq *txq, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	struct xnb_port *port = txq->q->port;
	uint16_t nq = __atomic_load_n(&port->nb_queues, __ATOMIC_RELAXED);
	struct xnb_tx_hash th[XNB_BURST_MAX];
	uint16_t dest[XNB_BURST_MAX], sent = 0;
	struct xnb_hash h;

	xnb_hash_get(port, &h);
	while (sent < nb_pkts) {
		uint16_t n = RTE_MIN(nb_pkts - sent, XNB_BURST_MAX), i = 0;

		for (uint16_t k = 0; k < n; k++) {
			th[k].hash = xnb_hash_frame(&h, pkts[sent + k], &th[k].type);
			dest[k] = th[k].type == 0 ? txq->qid : h.size > 0 ?
				h.mapping[th[k].hash % h.size] : th[k].hash % RTE_MAX(nq, 1);
			if (dest[k] >= nq)
				dest[k] = txq->qid;
		}
		while (i < n) {
			uint16_t run = 1, done;

			while (i + run < n && dest[i + run] == dest[i])
				run++;
			done = xnb_tx_queue(&port->queues[dest[i]].tx, pkts + sent + i, run,
					    th + i);
			if (dest[i] != txq->qid)
				port->queues[dest[i]].tx.xs.steered += done;
			i += done;
			if (done < run)
				return sent + i;
		}
		sent += n;
	}
	return sent;
}

uint16_t
xnb_tx_burst(void *arg, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	struct xnb_txq *txq = arg;
	struct xnb_port *port = txq->q->port;
	uint16_t nq = __atomic_load_n(&port->nb_queues, __ATOMIC_RELAXED);

	/* The application may send on more queues than the guest took (an
	 * lcore per queue, a 1-vCPU guest): those frames share the guest's
	 * queues, under their locks, as Linux netback picks a queue the
	 * guest has. */
	if (unlikely(txq->qid >= nq) && nq > 0)
		txq = &port->queues[txq->qid % nq].tx;
	if (unlikely(__atomic_load_n(&port->hash.alg, __ATOMIC_RELAXED) !=
		     XEN_NETIF_CTRL_HASH_ALGORITHM_NONE))
		return xnb_tx_steer(txq, pkts, nb_pkts);
	return xnb_tx_queue(txq, pkts, nb_pkts, NULL);
}
