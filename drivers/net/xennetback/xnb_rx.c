/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * Guest TX -> rte_eth_rx_burst (Linux netback's tx path, seen from the
 * application's side). Each burst reads the guest's requests once into
 * private memory (the guest may rewrite its ring at any time: the copy is
 * what is validated and used, never the ring again), within the guest's
 * rate limit, then per packet:
 *  - copy (copy_mode=always, frames up to copy_threshold, the arena full,
 *    or an application that takes single segments only or has a device
 *    lent pages would not reach): the whole frame is grant-copied, into
 *    a chain, or one buffer for an application without RX scatter;
 *  - zero copy: the headers are grant-copied into a head mbuf (pulled up
 *    to the end of L4 and parsed there), the rest of each slot's page is
 *    grant-mapped and lent to the application as an external buffer
 *    (xnb_lifetime.c answers the guest when the mbuf is freed or has
 *    lingered too long);
 *  - a multicast request: applied to the guest's list, answered, not sent.
 * A burst makes at most one map, one copy and one unmap call, and notifies
 * the guest once at most.
 *
 * What a request may do wrong is split as Linux netback splits it: a bad
 * packet (too many slots, sizes that do not add up, a grant the copy
 * refuses) is dropped with an error response and a counter; a broken ring
 * (req_prod beyond the ring, a slot crossing its page, a packet longer than
 * XNB_FATAL_SLOTS, bad extra info) disconnects the guest.
 */

#include <stdio.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_ip.h>
#include <rte_net.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "xnb_internal.h"
#include "xnb_lifetime.h"

#define XNB_RX_RING_SIZE	__CONST_RING_SIZE(netif_tx, XNB_PAGE_SIZE)
#define XNB_RX_MAX_SEGS		1024	/* grant-copy segments per batch */
#define XNB_RX_MAX_MBUFS	256	/* mbufs per packet (small data rooms) */
/* Pages a queue can have lent at once, mapped or already copied out (the
 * mapped ones are bounded by the devarg max_mapped). */
#define XNB_LT_SLOTS		4096

/* One packet as parsed from the private copy of its requests. */
struct xnb_rx_pkt {
	uint16_t req;		/* its first request in scratch->req[] */
	uint16_t nreq;		/* ring slots it used: data and extras */
	uint16_t len;
	uint16_t first_len;	/* bytes in the first slot (len less the others) */
	uint16_t txflags;	/* NETTXF_csum_blank / NETTXF_data_validated */
	uint16_t gso_size;
	uint8_t gso_type;
	bool has_hash;		/* a hash extra: the guest's hash of the frame */
	uint32_t hash;
	uint8_t mcast_op;	/* XEN_NETIF_EXTRA_TYPE_MCAST_ADD/DEL or 0 */
	uint8_t mcast_addr[RTE_ETHER_ADDR_LEN];
	int16_t bad_status;	/* the answer of a frame not delivered */
	bool bad;		/* answered with NETIF_RSP_ERROR, not delivered */
	bool zc;		/* its tail is lent (mapped), not copied */
	uint16_t hdr;		/* zc: bytes copied into the head mbuf (0: none) */
	uint16_t map, nmap;	/* zc: its entries in the batch's map arrays */
	uint16_t seg, nseg;	/* its grant-copy segments */
	struct rte_mbuf *m;	/* copy: the chain; zc: the head if hdr > 0 */
};

struct xnb_rx_scratch {
	netif_tx_request_t req[XNB_RX_RING_SIZE];
	bool extra[XNB_RX_RING_SIZE];
	bool deferred[XNB_RX_RING_SIZE];	/* answered by the tracker */
	struct xnb_rx_pkt pkt[XNB_BURST_MAX];
	xengnttab_grant_copy_segment_t seg[XNB_RX_MAX_SEGS];
	struct rte_mbuf *chain[XNB_RX_MAX_MBUFS];
	/* zero copy: one entry per page to map in this batch */
	uint32_t map_ref[XNB_RX_RING_SIZE];
	uint16_t map_id[XNB_RX_RING_SIZE];
	uint16_t map_req[XNB_RX_RING_SIZE];
	uint16_t map_off[XNB_RX_RING_SIZE];
	uint16_t map_len[XNB_RX_RING_SIZE];
	uint32_t map_slot[XNB_RX_RING_SIZE];
	int16_t map_status[XNB_RX_RING_SIZE];
	struct rte_mbuf *map_mbuf[XNB_RX_RING_SIZE];
	struct xnb_lt_done done[XNB_RX_RING_SIZE];
};

int
xnb_rxq_init(struct xnb_rxq *rxq, int socket)
{
	struct xnb_port *port = rxq->q->port;
	char name[RTE_RING_NAMESIZE];

	rte_spinlock_init(&rxq->lt_lock);
	rxq->scratch = rte_zmalloc_socket("xnb_rx_scratch", sizeof(*rxq->scratch),
					  RTE_CACHE_LINE_SIZE, socket);
	if (rxq->scratch == NULL)
		return -ENOMEM;
	if (port->copy_mode != XNB_COPY_LAZY)
		return 0;
	snprintf(name, sizeof(name), "xnblt%u_%u", port->port_id, rxq->qid);
	rxq->lt = xnb_lt_create(name, port->plat, port->gnt, XNB_LT_SLOTS,
				port->max_mapped, port->aging_ms, socket);
	return rxq->lt == NULL ? -ENOMEM : 0;
}

/* The tracker outlives the port while the application holds its mbufs. */
void
xnb_rxq_fini(struct xnb_rxq *rxq)
{
	xnb_lt_destroy(rxq->lt);
	rxq->lt = NULL;
	rte_free(rxq->scratch);
	rxq->scratch = NULL;
}

/*
 * Responses the tracker says the guest is owed. Each answers a request
 * taken off the ring, so the responses never pass req_cons (the guest's
 * unanswered requests are bounded by the ring: xnb_rx_batch).
 */
static void
xnb_rx_answer(struct xnb_rxq *rxq, const struct xnb_lt_done *done, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		netif_tx_response_t *rsp;

		RTE_VERIFY(rxq->ring.rsp_prod_pvt != rxq->ring.req_cons);
		rsp = RING_GET_RESPONSE(&rxq->ring, rxq->ring.rsp_prod_pvt);
		rsp->id = done[i].id;
		rsp->status = done[i].status;
		rxq->ring.rsp_prod_pvt++;
	}
}

/*
 * Makes the responses visible and notifies. With zero copy, call it under
 * lt_lock, where the responses were written: the burst and the service tick
 * both answer, and a push outside the lock could store an older rsp_prod
 * over a newer one (netfront: "Illegal number of responses").
 */
static void
xnb_rx_push(struct xnb_rxq *rxq, RING_IDX answered, bool counted)
{
	XNB_PUSH(&rxq->ring, answered, rxq->q, rxq->evt, rxq->evtchn, &rxq->xs, counted);
}

/* Freed pages unmapped, old ones copied out: answers for the guest. */
static void
xnb_rx_reap(struct xnb_rxq *rxq)
{
	uint32_t n;

	do {
		n = xnb_lt_reap(rxq->lt, rxq->scratch->done, XNB_RX_RING_SIZE);
		xnb_rx_answer(rxq, rxq->scratch->done, n);
	} while (n == XNB_RX_RING_SIZE);
}

void
xnb_rxq_flush(struct xnb_rxq *rxq)
{
	RING_IDX answered = rxq->ring.rsp_prod_pvt;
	uint32_t n;

	if (rxq->lt == NULL)
		return;
	rte_spinlock_lock(&rxq->lt_lock);
	do {
		n = xnb_lt_flush(rxq->lt, rxq->scratch->done, XNB_RX_RING_SIZE);
		xnb_rx_answer(rxq, rxq->scratch->done, n);
	} while (n > 0);
	xnb_rx_push(rxq, answered, false);
	rte_spinlock_unlock(&rxq->lt_lock);
}

bool
xnb_rxq_tick(struct xnb_rxq *rxq)
{
	RING_IDX answered;

	if (rxq->lt == NULL)
		return false;
	if (!xnb_guard_enter(&rxq->guard)) {
		/* No ring to answer on (or it is being torn down: the
		 * disconnect's flush answers what is owed). */
		rte_spinlock_lock(&rxq->lt_lock);
		xnb_lt_reap_idle(rxq->lt);
		rte_spinlock_unlock(&rxq->lt_lock);
		return xnb_lt_grants_held(rxq->lt) > 0;
	}
	/* A burst running now does this work itself. */
	if (rte_spinlock_trylock(&rxq->lt_lock)) {
		answered = rxq->ring.rsp_prod_pvt;
		xnb_rx_reap(rxq);
		xnb_rx_push(rxq, answered, false);
		rte_spinlock_unlock(&rxq->lt_lock);
	}
	xnb_guard_leave(&rxq->guard);
	return xnb_lt_grants_held(rxq->lt) > 0;
}

void
xnb_rxq_attach(struct xnb_rxq *rxq)
{
	if (rxq->intr_enabled)
		xnb_rxq_arm(rxq);
}

void
xnb_rxq_arm(struct xnb_rxq *rxq)
{
	int more;

	RING_FINAL_CHECK_FOR_REQUESTS(&rxq->ring, more);
	RTE_SET_USED(more);
}

#define XNB_RX_LAYERS	(RTE_PTYPE_L2_MASK | RTE_PTYPE_L3_MASK | RTE_PTYPE_L4_MASK)
/* The smallest MSS a GSO frame may ask for: no TCP sends less (Linux:
 * TCP_MIN_SND_MSS 48) and NICs refuse less for TSO (ice 64, i40e 256). */
#define XNB_MIN_GSO_SIZE	64

/* What a frame's headers say, as parsed from backend memory. */
struct xnb_rx_hdr {
	uint32_t ptype;		/* 0: not parsed */
	struct rte_net_hdr_lens hl;
};

static uint32_t
xnb_rx_hdr_end(const struct rte_net_hdr_lens *hl)
{
	return (uint32_t)hl->l2_len + hl->l3_len + hl->l4_len;
}

/*
 * Zero copy: whatever an application decides on must lie in the head mbuf
 * (backend memory), never in a lent page the guest can still write (Linux
 * netback pulls headers into the linear area for the same reason). A first
 * parse over the whole chain only says how far the headers reach (it reads
 * guest-writable bytes: a hint); the bytes missing from the head are copied
 * into it once, out of the lent segments, and the parse that counts runs
 * over the head alone. Both must agree, or the guest changed its headers
 * in between. Segments left empty stay in the chain (xnb_rx_trim).
 */
static bool
xnb_rx_pull_headers(struct xnb_rxq *rxq, struct rte_mbuf *head, struct xnb_rx_hdr *h)
{
	struct rte_net_hdr_lens hint;
	struct rte_mbuf *seg = head->next, *tail = head->next;
	uint32_t hint_ptype, need, pkt_len = head->pkt_len;
	uint16_t nb_segs = head->nb_segs;

	memset(&hint, 0, sizeof(hint));
	hint_ptype = rte_net_get_ptype(head, &hint, XNB_RX_LAYERS);
	need = RTE_MIN(xnb_rx_hdr_end(&hint), pkt_len);
	if (need > head->data_len + rte_pktmbuf_tailroom(head)) {
		rxq->xs.drop_hdr_long++;
		return false;
	}
	while (head->data_len < need) {
		uint16_t n = RTE_MIN(need - head->data_len, (uint32_t)seg->data_len);

		memcpy(rte_pktmbuf_mtod_offset(head, uint8_t *, head->data_len),
		       rte_pktmbuf_mtod(seg, const uint8_t *), n);
		head->data_len += n;
		rxq->xs.header_bytes += n;
		rxq->xs.bytes_copied += n;
		seg->data_off += n;
		seg->data_len -= n;
		seg = seg->next;
	}
	head->next = NULL;
	head->nb_segs = 1;
	head->pkt_len = head->data_len;
	memset(&h->hl, 0, sizeof(h->hl));
	h->ptype = rte_net_get_ptype(head, &h->hl, XNB_RX_LAYERS);
	head->next = tail;
	head->nb_segs = nb_segs;
	head->pkt_len = pkt_len;
	if (h->ptype != hint_ptype || memcmp(&h->hl, &hint, sizeof(hint)) != 0) {
		rxq->xs.drop_hdr_changed++;
		return false;
	}
	return true;
}

/* Gives back the lent segments the header pull emptied: their pages are
 * answered when reaped, like slots the header copy covered. */
static void
xnb_rx_trim(struct rte_mbuf *head)
{
	struct rte_mbuf **link = &head->next;

	while (*link != NULL) {
		struct rte_mbuf *seg = *link;

		if (seg->data_len != 0) {
			link = &seg->next;
			continue;
		}
		*link = seg->next;
		head->nb_segs--;
		rte_pktmbuf_free_seg(seg);
	}
}

/*
 * A GSO frame an application can segment, or hand to a NIC, as it is: TCP
 * of the IP version the extra named, an MSS a NIC accepts, a real TCP
 * header, and IP lengths that are the frame's (software segmentation and
 * NICs trust them). The headers lie in the first segment (backend memory).
 */
static bool
xnb_rx_gso_sane(const struct rte_mbuf *m, const struct xnb_rx_pkt *p,
		const struct xnb_rx_hdr *h)
{
	const uint8_t *l3 = rte_pktmbuf_mtod_offset(m, const uint8_t *, h->hl.l2_len);
	uint32_t ip_len = m->pkt_len - h->hl.l2_len;

	if ((h->ptype & RTE_PTYPE_L4_MASK) != RTE_PTYPE_L4_TCP ||
	    !(p->gso_type == XEN_NETIF_GSO_TYPE_TCPV4 ?
	      RTE_ETH_IS_IPV4_HDR(h->ptype) && h->hl.l3_len >= sizeof(struct rte_ipv4_hdr) :
	      RTE_ETH_IS_IPV6_HDR(h->ptype) && h->hl.l3_len >= sizeof(struct rte_ipv6_hdr)) ||
	    p->gso_size < XNB_MIN_GSO_SIZE || h->hl.l4_len < sizeof(struct rte_tcp_hdr) ||
	    xnb_rx_hdr_end(&h->hl) > m->data_len)
		return false;
	if (RTE_ETH_IS_IPV4_HDR(h->ptype))
		return rte_be_to_cpu_16(((const struct rte_ipv4_hdr *)l3)->total_length) ==
			ip_len;
	return rte_be_to_cpu_16(((const struct rte_ipv6_hdr *)l3)->payload_len) +
		sizeof(struct rte_ipv6_hdr) == ip_len;
}

/*
 * Offloads the guest asked for, in the mbuf's terms, as vhost does for a
 * virtio-net header. A GSO packet is a TSO mbuf (TX_TCP_SEG, tso_segsz and
 * the header lengths: what OVS and testpmd forward as such); one whose
 * payload fits its MSS is a plain frame. A blank checksum is left partial
 * (RX_L4_CKSUM_NONE plus the TX checksum request) only for an application
 * that enabled L4 checksum offloads on the port; for the others it is
 * completed here, so that an application that knows nothing of offloads
 * (OVS with userspace TSO off drops any packet asking for one) gets a
 * correct frame. h: the headers if already parsed from backend memory
 * (zero copy), else the frame is all backend memory and parsed here when
 * needed. false: drop it (counted), as Linux netback drops a frame whose
 * checksum or GSO it cannot set up.
 */
static bool
xnb_rx_offload(struct xnb_rxq *rxq, struct rte_mbuf *m, const struct xnb_rx_pkt *p,
	       struct xnb_rx_hdr *h)
{
	const struct xnb_port *port = rxq->q->port;
	bool gso = p->gso_type != 0, blank = p->txflags & NETTXF_csum_blank;
	uint32_t ptype;

	if (p->txflags & NETTXF_data_validated && !blank)
		m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
	if (h->ptype == 0) {
		if (!blank && !gso && !port->rx_ip_csum)
			return true;
		memset(&h->hl, 0, sizeof(h->hl));
		h->ptype = rte_net_get_ptype(m, &h->hl, XNB_RX_LAYERS);
	}
	ptype = h->ptype;
	m->packet_type = ptype;
	m->l2_len = h->hl.l2_len;
	m->l3_len = h->hl.l3_len;
	m->l4_len = h->hl.l4_len;
	if (port->rx_ip_csum && RTE_ETH_IS_IPV4_HDR(ptype) &&
	    h->hl.l2_len + h->hl.l3_len <= m->data_len)
		m->ol_flags |= rte_ipv4_cksum(rte_pktmbuf_mtod_offset(m,
				const struct rte_ipv4_hdr *, h->hl.l2_len)) == 0 ?
			RTE_MBUF_F_RX_IP_CKSUM_GOOD : RTE_MBUF_F_RX_IP_CKSUM_BAD;
	if (gso) {
		if (!xnb_rx_gso_sane(m, p, h)) {
			rxq->xs.drop_bad_gso++;
			return false;
		}
		gso = m->pkt_len - xnb_rx_hdr_end(&h->hl) > p->gso_size;
	}
	if (!blank && !gso)
		return true;
	/* A checksum needs a real IP header: its pseudo-header must not
	 * overlap the L4 header it covers. */
	if (!(RTE_ETH_IS_IPV4_HDR(ptype) && h->hl.l3_len >= sizeof(struct rte_ipv4_hdr)) &&
	    !(RTE_ETH_IS_IPV6_HDR(ptype) && h->hl.l3_len >= sizeof(struct rte_ipv6_hdr))) {
		rxq->xs.drop_bad_csum++;
		return false;
	}
	switch (ptype & RTE_PTYPE_L4_MASK) {
	case RTE_PTYPE_L4_TCP:
	case RTE_PTYPE_L4_UDP:
		break;
	default:
		rxq->xs.drop_bad_csum++;
		return false;
	}
	/* Completed in the packet (its first segment is backend memory and
	 * holds the headers: copied, or pulled for zero copy), the field
	 * holding the pseudo-header sum as a Linux CHECKSUM_PARTIAL skb's. */
	if (!gso && !port->partial_csum) {
		if (!xnb_csum_l4(m, rte_pktmbuf_mtod(m, uint8_t *), m->data_len, ptype,
				 &h->hl)) {
			rxq->xs.drop_bad_csum++;
			return false;
		}
		m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
		rxq->xs.csum_completed++;
		return true;
	}
	m->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_NONE |
		(RTE_ETH_IS_IPV4_HDR(ptype) ? RTE_MBUF_F_TX_IPV4 : RTE_MBUF_F_TX_IPV6) |
		((ptype & RTE_PTYPE_L4_MASK) == RTE_PTYPE_L4_TCP ?
		 RTE_MBUF_F_TX_TCP_CKSUM : RTE_MBUF_F_TX_UDP_CKSUM);
	if (gso) {
		/* DPDK's TSO contract: an IPv4 packet also asks for its header
		 * checksum (net_tap's software GSO relies on it; seen on real Xen). */
		m->ol_flags |= RTE_MBUF_F_TX_TCP_SEG |
			(RTE_ETH_IS_IPV4_HDR(ptype) ? RTE_MBUF_F_TX_IP_CKSUM : 0);
		m->tso_segsz = p->gso_size;
		rxq->xs.gso_pkts++;
	}
	return true;
}

void
xnb_port_rate_set(struct xnb_port *port, uint64_t bytes, uint64_t usec)
{
	__atomic_fetch_add(&port->rate.seq, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	port->rate.bytes = usec == 0 ? 0 : bytes;
	port->rate.usec = usec;
	__atomic_fetch_add(&port->rate.seq, 1, __ATOMIC_RELEASE);
}

/* The queue's credit follows the port's rate when it changed (a seqlock
 * read of two words; a change takes effect at once, without reconnect). */
static void
xnb_rx_credit_sync(struct xnb_rxq *rxq)
{
	struct xnb_port *port = rxq->q->port;
	uint32_t s0 = __atomic_load_n(&port->rate.seq, __ATOMIC_ACQUIRE), s1;
	uint64_t bytes, usec;

	if (likely(s0 == rxq->credit.gen) || (s0 & 1))
		return;
	bytes = port->rate.bytes;
	usec = port->rate.usec;
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	s1 = __atomic_load_n(&port->rate.seq, __ATOMIC_RELAXED);
	if (s0 != s1)
		return;
	rxq->credit.gen = s0;
	rxq->credit.bytes = bytes;
	rxq->credit.window = usec * rte_get_tsc_hz() / 1000000;
	rxq->credit.start = rte_get_tsc_cycles();
	rxq->credit.remaining = bytes;
}

/*
 * Whether the guest may send a frame of size bytes now (Linux netback's
 * tx_credit_exceeded and tx_add_credit): a window's credit is added when
 * it has passed, capped at one window's worth but never below 128 KiB so a
 * 64 KiB GSO frame can always go; a frame that does not fit waits on the
 * ring for a later burst (no timer, no busy wait: the next poll finds it).
 */
static bool
xnb_rx_credit_ok(struct xnb_rxq *rxq, uint32_t size)
{
	struct xnb_credit *c = &rxq->credit;
	uint64_t now;

	if (c->bytes == 0)
		return true;
	if (size <= c->remaining) {
		c->remaining -= size;
		return true;
	}
	now = rte_get_tsc_cycles();
	if (now - c->start >= c->window) {
		uint64_t max = RTE_MAX(c->bytes, (uint64_t)131072);

		c->start = now;
		c->remaining = RTE_MIN(c->remaining + c->bytes, max);
		if (size <= c->remaining) {
			c->remaining -= size;
			return true;
		}
	}
	rxq->xs.rate_limited++;
	return false;
}

/* The status of the reading of one packet off the ring. */
enum xnb_rx_parse {
	XNB_RX_OK,		/* p filled, requests copied */
	XNB_RX_PARTIAL,		/* the guest has not pushed all of it yet */
	XNB_RX_FATAL,		/* the ring is broken: queue marked fatal */
};

/*
 * The one read of request idx of the ring, into scratch slot r. The batch
 * only reads between req_cons and a req_prod it checked to be at most a
 * ring ahead, so r stays within the scratch whatever the guest writes.
 */
static void *
xnb_rx_fetch(struct xnb_rxq *rxq, RING_IDX idx, uint16_t r)
{
	struct xnb_rx_scratch *s = rxq->scratch;

	RTE_VERIFY(r < XNB_RX_RING_SIZE);
	memcpy(&s->req[r], RING_GET_REQUEST(&rxq->ring, idx), sizeof(s->req[r]));
	s->extra[r] = false;
	s->deferred[r] = false;
	return &s->req[r];
}

/*
 * Copies the requests of the packet at cons into scratch->req[r...] and
 * checks them. Only the copies are looked at after the fetch.
 */
static enum xnb_rx_parse
xnb_rx_parse(struct xnb_rxq *rxq, RING_IDX cons, RING_IDX prod, uint16_t r,
	     struct xnb_rx_pkt *p)
{
	struct xnb_rx_scratch *s = rxq->scratch;
	netif_tx_request_t *first = xnb_rx_fetch(rxq, cons, r);
	uint32_t rest = 0, ndata = 1, nextra = 0;
	uint16_t k = 1;
	bool more;

	memset(p, 0, sizeof(*p));
	p->req = r;
	p->bad_status = NETIF_RSP_ERROR;
	if (first->flags & NETTXF_extra_info) {
		do {
			struct netif_extra_info *ex;

			if (cons + k == prod)
				return XNB_RX_PARTIAL;
			ex = xnb_rx_fetch(rxq, cons + k, r + k);
			s->extra[r + k] = true;
			k++;
			if (ex->type == XEN_NETIF_EXTRA_TYPE_NONE ||
			    ex->type >= XEN_NETIF_EXTRA_TYPE_MAX || ++nextra > XNB_MAX_EXTRAS) {
				xnb_queue_fatal(rxq->q, "bad extra info (type %u, extra %u)",
						ex->type, nextra);
				return XNB_RX_FATAL;
			}
			if (ex->type == XEN_NETIF_EXTRA_TYPE_GSO) {
				if (ex->u.gso.size == 0 ||
				    (ex->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
				     ex->u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6)) {
					xnb_queue_fatal(rxq->q, "bad GSO extra (type %u size %u)",
							ex->u.gso.type, ex->u.gso.size);
					return XNB_RX_FATAL;
				}
				p->gso_type = ex->u.gso.type;
				p->gso_size = ex->u.gso.size;
			}
			if (ex->type == XEN_NETIF_EXTRA_TYPE_HASH) {
				p->has_hash = true;
				memcpy(&p->hash, ex->u.hash.value, sizeof(p->hash));
			}
			if (ex->type == XEN_NETIF_EXTRA_TYPE_MCAST_ADD ||
			    ex->type == XEN_NETIF_EXTRA_TYPE_MCAST_DEL) {
				p->mcast_op = ex->type;
				memcpy(p->mcast_addr, ex->u.mcast.addr, RTE_ETHER_ADDR_LEN);
			}
			more = ex->flags & XEN_NETIF_EXTRA_FLAG_MORE;
		} while (more);
	}
	more = first->flags & NETTXF_more_data;
	while (more) {
		netif_tx_request_t *t;

		if (cons + k == prod)
			return XNB_RX_PARTIAL;
		if (ndata == XNB_FATAL_SLOTS) {
			xnb_queue_fatal(rxq->q, "a packet of more than %u slots",
					XNB_FATAL_SLOTS);
			return XNB_RX_FATAL;
		}
		t = xnb_rx_fetch(rxq, cons + k, r + k);
		k++;
		ndata++;
		more = t->flags & NETTXF_more_data;
		if (t->offset + (uint32_t)t->size > XNB_PAGE_SIZE) {
			xnb_queue_fatal(rxq->q, "slot crosses its page (offset %u size %u)",
					t->offset, t->size);
			return XNB_RX_FATAL;
		}
		rest += t->size;
	}
	p->nreq = k;
	/* A multicast request's data is a carrier, not a frame (xnb_rx_batch). */
	if (p->mcast_op != 0)
		return XNB_RX_OK;
	p->len = first->size;
	p->txflags = first->flags & (NETTXF_csum_blank | NETTXF_data_validated);
	/* Drops: the packet is wrong, the ring is fine. */
	if (ndata > XNB_MAX_SLOTS) {
		rxq->xs.drop_slots++;
		p->bad = true;
	} else if (first->size < rest || first->size < RTE_ETHER_HDR_LEN) {
		rxq->xs.bad_requests++;
		p->bad = true;
	} else if (first->offset + (uint32_t)(first->size - rest) > XNB_PAGE_SIZE) {
		xnb_queue_fatal(rxq->q, "first slot crosses its page (offset %u size %u)",
				first->offset, first->size - rest);
		return XNB_RX_FATAL;
	}
	if (!p->bad)
		p->first_len = first->size - rest;
	if (ndata == 1)
		rxq->xs.slots_1++;
	else if (ndata <= 4)
		rxq->xs.slots_2_4++;
	else
		rxq->xs.slots_5_plus++;
	return XNB_RX_OK;
}

/* The free callback of a buffer allocated for one linear frame. */
static void
xnb_rx_linear_free(void *addr __rte_unused, void *opaque)
{
	rte_free(opaque);
}

/*
 * One mbuf for a frame larger than the pool's buffers, for an application
 * that takes single segments only (it did not enable
 * RTE_ETH_RX_OFFLOAD_SCATTER): an external buffer sized for the frame, with
 * the usual headroom (OVS pushes VLAN tags and tunnel headers into it), as
 * the vhost library gives OVS (RTE_VHOST_USER_EXTBUF_SUPPORT).
 */
static struct rte_mbuf *
xnb_rx_alloc_linear(struct xnb_rxq *rxq, uint32_t len, bool *nomem)
{
	size_t off = RTE_ALIGN_CEIL(sizeof(struct rte_mbuf_ext_shared_info),
				    RTE_CACHE_LINE_SIZE);
	uint32_t head = RTE_PKTMBUF_HEADROOM;
	struct rte_mbuf_ext_shared_info *shinfo;
	struct rte_mbuf *m;
	uint8_t *blk;

	*nomem = false;
	m = rte_pktmbuf_alloc(rxq->mp);
	if (m == NULL)
		return NULL;
	blk = rte_malloc_socket("xnb_linear", off + head + len, RTE_CACHE_LINE_SIZE,
				rxq->mp->socket_id);
	if (blk == NULL) {
		rte_pktmbuf_free(m);
		*nomem = true;
		return NULL;
	}
	shinfo = (struct rte_mbuf_ext_shared_info *)blk;
	shinfo->free_cb = xnb_rx_linear_free;
	shinfo->fcb_opaque = blk;
	rte_mbuf_ext_refcnt_set(shinfo, 1);
	rte_pktmbuf_attach_extbuf(m, blk + off, rte_malloc_virt2iova(blk) + off,
				  head + len, shinfo);
	m->data_off = head;
	return m;
}

/*
 * Allocates the packet's mbufs and lays out its grant-copy segments: slot
 * bytes to mbuf data rooms, splitting where either ends. A frame larger
 * than an mbuf is a chain, or one allocated buffer when the application
 * takes single segments only. false: not now (no mbufs, or no room for its
 * segments in this batch).
 */
static bool
xnb_rx_prepare(struct xnb_rxq *rxq, struct xnb_rx_pkt *p, uint16_t *nseg)
{
	struct xnb_rx_scratch *s = rxq->scratch;
	uint32_t room = rte_pktmbuf_data_room_size(rxq->mp) - RTE_PKTMBUF_HEADROOM;
	uint32_t nm = 1, done = 0, moff = 0;
	uint16_t domid = rxq->q->port->domid, mi = 0;
	bool linear = rxq->q->port->rx_linear, nomem;

	/* Most frames fit one mbuf: no division for them on the hot path. */
	if (p->len > room && !linear)
		nm = (p->len + room - 1) / room;
	if (nm > XNB_RX_MAX_MBUFS) {
		rxq->xs.bad_requests++;
		p->bad = true;
		return true;
	}
	/* Worst case: every slot and every mbuf boundary starts a segment. */
	if (*nseg + p->nreq + nm > XNB_RX_MAX_SEGS)
		return false;
	if (p->len > room && linear) {
		/* Headroom and frame in one buffer of at most 64 KiB (its
		 * length is 16 bits): OVS aborts when it cannot push a VLAN tag
		 * or tunnel header into headroom; vhost refuses these too. */
		if (p->len > UINT16_MAX - RTE_PKTMBUF_HEADROOM) {
			rxq->xs.linear_too_long++;
			p->bad = true;
			return true;
		}
		s->chain[0] = xnb_rx_alloc_linear(rxq, p->len, &nomem);
		if (s->chain[0] == NULL && nomem) {
			rxq->xs.linear_nomem++;
			p->bad = true;
			return true;
		}
		room = p->len;
		if (s->chain[0] != NULL)
			rxq->xs.linear_extbuf++;
	} else if (rte_pktmbuf_alloc_bulk(rxq->mp, s->chain, nm) != 0) {
		s->chain[0] = NULL;
	}
	if (s->chain[0] == NULL) {
		rxq->xs.mbuf_alloc_failed++;
		rxq->missed++;
		return false;
	}
	for (uint32_t i = 1; i < nm; i++) {
		s->chain[i - 1]->next = s->chain[i];
		s->chain[i]->data_len = room;
	}
	s->chain[0]->nb_segs = nm;
	s->chain[0]->pkt_len = p->len;
	s->chain[nm - 1]->data_len = p->len - (nm - 1) * room;
	s->chain[0]->data_len = nm == 1 ? p->len : room;
	p->m = s->chain[0];
	p->seg = *nseg;

	for (uint16_t j = 0; j < p->nreq; j++) {
		const netif_tx_request_t *t = &s->req[p->req + j];
		uint32_t len = j == 0 ? p->first_len : t->size, off = 0;

		if (s->extra[p->req + j])
			continue;
		while (off < len) {
			uint32_t n = RTE_MIN(len - off, room - moff);

			xnb_seg_from_guest(&s->seg[(*nseg)++], domid, t->gref, t->offset + off,
					   rte_pktmbuf_mtod_offset(s->chain[mi], void *, moff), n);
			off += n;
			moff += n;
			done += n;
			if (moff == room) {
				mi++;
				moff = 0;
			}
		}
	}
	p->nseg = *nseg - p->seg;
	RTE_VERIFY(done == p->len);
	return true;
}

/* The data bytes of request j of p (request 0 carries the frame total, so
 * its own part is kept from the parse). */
static uint32_t
xnb_rx_slot_len(const struct xnb_rx_scratch *s, const struct xnb_rx_pkt *p, uint16_t j)
{
	return j == 0 ? p->first_len : s->req[p->req + j].size;
}

enum xnb_rx_plan {
	XNB_RX_ZC,		/* planned as zero copy */
	XNB_RX_COPY,		/* copy it instead */
	XNB_RX_LATER,		/* not in this batch */
};

/*
 * Plans p as zero copy: a head mbuf with the first header_copy bytes of the
 * frame (grant-copied, from as many slots as they span), then one
 * external-buffer mbuf per guest page holding the rest, each page to be
 * mapped by the batch's one map call. A slot the header covers entirely is
 * answered at once; the others are answered by the tracker.
 */
static enum xnb_rx_plan
xnb_rx_plan_zc(struct xnb_rxq *rxq, struct xnb_rx_pkt *p, uint16_t *nmap,
	       uint16_t *nseg)
{
	struct xnb_port *port = rxq->q->port;
	struct xnb_rx_scratch *s = rxq->scratch;
	uint16_t room = rte_pktmbuf_data_room_size(rxq->mp) - RTE_PKTMBUF_HEADROOM;
	/* header_copy >= an Ethernet header, and so is every frame (parse). */
	uint16_t hdr = RTE_MIN(RTE_MIN(port->header_copy, p->len), room);
	uint16_t want = 0, k = *nmap;
	uint32_t pos = 0;

	for (uint16_t j = 0; j < p->nreq; j++) {
		uint32_t len = xnb_rx_slot_len(s, p, j);

		/* A slot is lent if some of it lies past the header. */
		if (s->extra[p->req + j])
			continue;
		if (len > 0 && pos + len > hdr)
			want++;
		pos += len;
	}
	if (want == 0)
		return XNB_RX_COPY;
	if (xnb_lt_slots_free(rxq->lt) < (uint32_t)*nmap + want) {
		rxq->xs.arena_full++;
		return XNB_RX_COPY;
	}
	if (*nseg + p->nreq > XNB_RX_MAX_SEGS)
		return XNB_RX_LATER;
	if (rte_pktmbuf_alloc_bulk(rxq->mp, s->chain, want + 1) != 0) {
		rxq->xs.mbuf_alloc_failed++;
		rxq->missed++;
		return XNB_RX_LATER;
	}
	p->zc = true;
	p->hdr = hdr;
	p->m = s->chain[0];
	p->map = *nmap;
	p->nmap = want;
	p->seg = *nseg;
	p->m->data_len = hdr;
	pos = 0;
	for (uint16_t j = 0; j < p->nreq; j++) {
		const netif_tx_request_t *t = &s->req[p->req + j];
		uint32_t len = xnb_rx_slot_len(s, p, j), head = 0;

		if (s->extra[p->req + j])
			continue;
		if (pos < hdr) {
			head = RTE_MIN(len, (uint32_t)hdr - pos);
			xnb_seg_from_guest(&s->seg[(*nseg)++], port->domid, t->gref, t->offset,
					   rte_pktmbuf_mtod_offset(p->m, uint8_t *, pos), head);
		}
		pos += len;
		if (len == head)
			continue;
		s->map_ref[k] = t->gref;
		s->map_id[k] = t->id;
		s->map_req[k] = p->req + j;
		s->map_off[k] = t->offset + head;
		s->map_len[k] = len - head;
		s->map_mbuf[k] = s->chain[1 + (k - *nmap)];
		s->deferred[p->req + j] = true;
		k++;
	}
	p->nseg = *nseg - p->seg;
	*nmap += want;
	return XNB_RX_ZC;
}

/* After the map and copy calls: chain p's mbufs onto the lent pages, or
 * give back what was mapped when any part of p failed. */
static void
xnb_rx_finish_zc(struct xnb_rxq *rxq, struct xnb_rx_pkt *p, int copy_rc)
{
	struct xnb_rx_scratch *s = rxq->scratch;
	struct rte_mbuf *last = p->m;
	uint16_t k;

	/* Counted once per packet, under the first reason. */
	for (k = p->map; k < p->map + p->nmap && !p->bad; k++)
		if (s->map_slot[k] == UINT32_MAX) {
			rxq->xs.map_errors++;
			p->bad = true;
		}
	for (k = p->seg; k < p->seg + p->nseg && !p->bad; k++)
		if (copy_rc < 0 || s->seg[k].status != GNTST_okay) {
			rxq->xs.copy_errors++;
			p->bad = true;
		}
	if (p->bad) {
		for (k = p->map; k < p->map + p->nmap; k++) {
			if (s->map_slot[k] != UINT32_MAX)
				xnb_lt_cancel(rxq->lt, s->map_slot[k], NETIF_RSP_ERROR);
			else
				s->deferred[s->map_req[k]] = false;	/* answer now */
			rte_pktmbuf_free(s->map_mbuf[k]);
		}
		rte_pktmbuf_free(p->m);
		p->m = NULL;
		return;
	}
	for (k = p->map; k < p->map + p->nmap; k++) {
		struct rte_mbuf *m = s->map_mbuf[k];

		xnb_lt_attach(rxq->lt, s->map_slot[k], m, s->map_off[k], s->map_len[k]);
		last->next = m;
		last = m;
	}
	p->m->nb_segs = p->nmap + 1;
	p->m->pkt_len = p->len;
	rxq->xs.header_bytes += p->hdr;
	rxq->xs.bytes_copied += p->hdr;
}

/* Answers the requests of p not left to the tracker; extras get NULL. */
static void
xnb_rx_respond(struct xnb_rxq *rxq, const struct xnb_rx_pkt *p)
{
	const struct xnb_rx_scratch *s = rxq->scratch;

	for (uint16_t j = 0; j < p->nreq; j++) {
		netif_tx_response_t *rsp;

		if (s->deferred[p->req + j])
			continue;
		rsp = RING_GET_RESPONSE(&rxq->ring, rxq->ring.rsp_prod_pvt);
		rsp->id = s->req[p->req + j].id;
		if (s->extra[p->req + j])
			rsp->status = NETIF_RSP_NULL;
		else
			rsp->status = p->bad ? p->bad_status : NETIF_RSP_OKAY;
		rxq->ring.rsp_prod_pvt++;
	}
}

/* After the batch's map and copy calls: p's mbufs checked and finished,
 * its requests answered where not lent. true: hand p->m to the application. */
static bool
xnb_rx_finish(struct xnb_rxq *rxq, struct xnb_rx_pkt *p, int rc)
{
	struct xnb_port *port = rxq->q->port;
	struct xnb_rx_scratch *s = rxq->scratch;
	struct xnb_rx_hdr h = { .ptype = 0 };

	if (p->zc) {
		xnb_rx_finish_zc(rxq, p, rc);
	} else if (!p->bad) {
		for (uint16_t k = 0; k < p->nseg && !p->bad; k++)
			p->bad = rc < 0 || s->seg[p->seg + k].status != GNTST_okay;
		if (p->bad)
			rxq->xs.copy_errors++;
		else
			rxq->xs.bytes_copied += p->len;
	}
	if (!p->bad && ((p->zc && !xnb_rx_pull_headers(rxq, p->m, &h)) ||
			!xnb_rx_offload(rxq, p->m, p, &h))) {
		/* Every request of a dropped frame is answered ERROR;
		 * lent pages through the tracker, once freed. */
		for (struct rte_mbuf *m = p->m; m != NULL; m = m->next)
			xnb_lt_fail(m);
		p->bad = true;
	}
	if (p->zc && !p->bad)
		xnb_rx_trim(p->m);
	xnb_rx_respond(rxq, p);
	if (p->bad) {
		rte_pktmbuf_free(p->m);
		rxq->errors += p->bad_status != NETIF_RSP_OKAY;
		return false;
	}
	p->m->port = port->port_id;
	if (p->has_hash) {
		/* The guest's Toeplitz hash, as Linux netback hands it on. */
		p->m->hash.rss = p->hash;
		p->m->ol_flags |= RTE_MBUF_F_RX_RSS_HASH;
		rxq->xs.hash_pkts++;
	}
	if (p->txflags & NETTXF_csum_blank)
		rxq->xs.csum_blank++;
	if (p->zc)
		rxq->xs.zc_pkts++;
	else
		rxq->xs.copied_pkts++;
	if (port->rx_linear)
		rxq->xs.linear_pkts++;
	rxq->bytes += p->len;
	return true;
}

/* Up to n packets (n <= XNB_BURST_MAX) with one map and one grant-copy call;
 * *taken says how many left the ring (delivered or dropped). */
static uint16_t
xnb_rx_batch(struct xnb_rxq *rxq, struct rte_mbuf **pkts, uint16_t n,
	     uint16_t *taken)
{
	struct xnb_port *port = rxq->q->port;
	struct xnb_rx_scratch *s = rxq->scratch;
	bool lazy = rxq->lt != NULL;
	/* Lend pages only to an application that takes chains, with an IOVA
	 * every port of it can use (xnb_port_lend_check). */
	bool lend = lazy && !port->rx_linear &&
		!__atomic_load_n(&port->no_lend, __ATOMIC_RELAXED);
	RING_IDX cons = rxq->ring.req_cons, prod;
	uint16_t np = 0, nseg = 0, nmap = 0, r = 0, out = 0;
	int rc = 0;

	prod = __atomic_load_n(&rxq->ring.sring->req_prod, __ATOMIC_ACQUIRE);
	/*
	 * Judged against what we consumed as well as what we answered: with
	 * pages lent, requests are taken long before they are answered, and a
	 * producer moved back between the two looks sane to
	 * RING_REQUEST_PROD_OVERFLOW alone (Linux netback's "Impossible number
	 * of requests" check is on req_cons). Unsigned: backwards is huge.
	 */
	if (unlikely(prod - cons > XNB_RX_RING_SIZE ||
		     RING_REQUEST_PROD_OVERFLOW(&rxq->ring, prod))) {
		xnb_queue_fatal(rxq->q, "req_prod %u is beyond the ring (req_cons %u, "
				"rsp_prod %u)", prod, cons, rxq->ring.rsp_prod_pvt);
		return 0;
	}
	while (np < n && cons != prod) {
		struct xnb_rx_pkt *p = &s->pkt[np];
		enum xnb_rx_plan plan = XNB_RX_COPY;

		if (xnb_rx_parse(rxq, cons, prod, r, p) != XNB_RX_OK)
			break;
		if (!p->bad && p->mcast_op == 0 && !xnb_rx_credit_ok(rxq, p->len))
			break;
		if (p->mcast_op != 0) {
			/* A multicast request is consumed, not sent on
			 * (Linux netback): its answer says whether it took. */
			p->bad = true;
			p->bad_status = xnb_mcast_update(port, p->mcast_op, p->mcast_addr) ?
				NETIF_RSP_OKAY : NETIF_RSP_ERROR;
			rxq->xs.mcast_reqs++;
		}
		if (!p->bad && lend && p->len > port->copy_threshold)
			plan = xnb_rx_plan_zc(rxq, p, &nmap, &nseg);
		else if (!p->bad && lazy && p->len <= port->copy_threshold)
			rxq->xs.copybreak_pkts++;
		else if (!p->bad && lazy && !port->rx_linear)
			rxq->xs.dma_unsafe++;
		if (plan == XNB_RX_LATER)
			break;
		if (plan == XNB_RX_COPY && !p->bad && !xnb_rx_prepare(rxq, p, &nseg))
			break;
		cons += p->nreq;
		r += p->nreq;
		np++;
	}
	rxq->ring.req_cons = cons;
	*taken = np;
	if (np == 0)
		return 0;

	if (nmap > 0)
		xnb_lt_map(rxq->lt, port->domid, nmap, s->map_ref, s->map_id,
			   s->map_slot, s->map_status);
	if (nseg > 0) {
		rc = port->plat->gnt_copy(port->gnt, nseg, s->seg);
		rxq->xs.hc_copy++;
		rxq->xs.copy_ops += nseg;
	}
	for (uint16_t i = 0; i < np; i++)
		if (xnb_rx_finish(rxq, &s->pkt[i], rc))
			pkts[out++] = s->pkt[i].m;
	rxq->pkts += out;
	return out;
}

uint16_t
xnb_rx_burst(void *arg, struct rte_mbuf **pkts, uint16_t nb_pkts)
{
	struct xnb_rxq *rxq = arg;
	struct xnb_queue *q = rxq->q;
	uint16_t got = 0, taken;
	RING_IDX answered, cons0;
	uint64_t t0;

	if (!xnb_burst_enter(&rxq->guard, q))
		return 0;
	t0 = rte_rdtsc();
	answered = rxq->ring.rsp_prod_pvt;
	cons0 = rxq->ring.req_cons;
	xnb_rx_credit_sync(rxq);
	if (rxq->lt != NULL) {
		rte_spinlock_lock(&rxq->lt_lock);
		xnb_rx_reap(rxq);
	}
	while (got < nb_pkts) {
		uint16_t want = RTE_MIN(nb_pkts - got, XNB_BURST_MAX);

		taken = 0;
		got += xnb_rx_batch(rxq, pkts + got, want, &taken);
		if (taken < want)
			break;
	}
	xnb_rx_push(rxq, answered, true);
	if (rxq->lt != NULL)
		rte_spinlock_unlock(&rxq->lt_lock);
	/* Bursts that took requests: the unit of "one call per burst", and
	 * the backend's own cost per packet (cycles / packets). */
	if (rxq->ring.req_cons != cons0) {
		rxq->xs.bursts++;
		rxq->xs.cycles_busy += rte_rdtsc() - t0;
	} else {
		rxq->xs.polls_empty++;
		rxq->xs.cycles_empty += rte_rdtsc() - t0;
	}
	xnb_guard_leave(&rxq->guard);
	return got;
}
