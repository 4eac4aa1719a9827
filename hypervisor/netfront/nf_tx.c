/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * Guest transmit: packets into TX requests (first slot carries the total
 * size, NETTXF_more_data chains, a GSO extra right after the first slot,
 * every slot inside one page, readonly grants), and TX responses back into
 * free ids. A grant is ended, and its page reused, only after its response,
 * as xen-netfront does.
 */

#include <errno.h>

#include "nf_internal.h"

#define ETH_HLEN	14u

struct chunk {
	uint16_t off;
	uint16_t len;
};

static unsigned int
plan_linear(uint32_t len, struct chunk *c)
{
	unsigned int n = 0;
	uint32_t pos;

	for (pos = 0; pos < len; pos += NF_PAGE_SIZE, n++) {
		c[n].off = 0;
		c[n].len = (uint16_t)(len - pos < NF_PAGE_SIZE ? len - pos :
				      NF_PAGE_SIZE);
	}
	return n;
}

/* An skb-like shape: a short head (at least the Ethernet header, which
 * backends want in the first slot) somewhere in a page, then the rest
 * starting mid-page and continuing page by page. */
static unsigned int
plan_scatter(uint32_t len, uint32_t seed, struct chunk *c)
{
	uint32_t head = ETH_HLEN + seed % 115;
	uint32_t off, rest, n = 1;

	if (head > len)
		head = len;
	off = 64 + (seed >> 8) % (NF_PAGE_SIZE - 64 - head + 1);
	c[0].off = (uint16_t)off;
	c[0].len = (uint16_t)head;
	rest = len - head;
	off = (seed >> 20) % NF_PAGE_SIZE;
	while (rest > 0) {
		uint32_t l = NF_PAGE_SIZE - off;

		if (n == NF_MAX_SLOTS)
			return plan_linear(len, c);
		if (l > rest)
			l = rest;
		c[n].off = (uint16_t)off;
		c[n].len = (uint16_t)l;
		rest -= l;
		off = 0;
		n++;
	}
	return n;
}

static bool
backend_can(const struct nf_dev *dev, const struct nf_tx_pkt *p,
	    unsigned int slots)
{
	const struct nf_backend_features *f = &dev->feat;

	if (slots > 1 && !f->sg)
		return false;
	if (p->meta.gso_type == XEN_NETIF_GSO_TYPE_TCPV4 && !f->gso_tcpv4)
		return false;
	if (p->meta.gso_type == XEN_NETIF_GSO_TYPE_TCPV6 && !f->gso_tcpv6)
		return false;
	if (p->meta.gso_type != 0 && p->meta.gso_size == 0)
		return false;
	/* The first byte of the IP header says which offload applies. */
	if (p->meta.csum_blank && p->len > ETH_HLEN &&
	    !((p->data[ETH_HLEN] >> 4) == 6 ? f->ipv6_csum_offload : f->csum_offload))
		return false;
	return true;
}

/* Returns false when the packet does not fit now (ring, ids, grants). */
static bool
tx_one(struct nf_queue *q, const struct nf_tx_pkt *p, const struct chunk *c,
       unsigned int slots, uint16_t *ids, unsigned int *nids)
{
	struct nf_dev *dev = q->dev;
	bool gso = p->meta.gso_type != 0;
	netif_tx_request_t *req, *first = NULL, *prev = NULL;
	uint32_t refs[NF_MAX_SLOTS];
	unsigned int s;
	uint32_t pos = 0;
	int ref;

	if (RING_FREE_REQUESTS(&q->tx) < slots + gso || q->tx_nfree < slots)
		return false;

	/* Grants first, so a full grant table leaves the ring untouched. */
	for (s = 0; s < slots; s++) {
		uint16_t id = q->tx_free[q->tx_nfree - 1 - s];

		ref = xnbsim_grant_access(dev->sim, dev->be_domid,
					  q->tx_slot[id].gfn, 1);
		if (ref < 0) {
			while (s-- > 0)
				xnbsim_end_access(dev->sim, refs[s]);
			return false;
		}
		refs[s] = (uint32_t)ref;
	}

	for (s = 0; s < slots; s++) {
		uint16_t id = q->tx_free[--q->tx_nfree];
		struct nf_tx_slot *ts = &q->tx_slot[id];

		memcpy((uint8_t *)ts->va + c[s].off, p->data + pos, c[s].len);
		pos += c[s].len;
		ts->ref = refs[s];
		ids[(*nids)++] = id;

		req = RING_GET_REQUEST(&q->tx, q->tx.req_prod_pvt++);
		req->gref = refs[s];
		req->offset = c[s].off;
		req->id = id;
		req->size = c[s].len;
		req->flags = 0;
		if (prev != NULL)
			prev->flags |= NETTXF_more_data;
		prev = req;

		if (s > 0)
			continue;
		first = req;
		if (p->meta.csum_blank)
			req->flags |= NETTXF_csum_blank | NETTXF_data_validated;
		else if (p->meta.data_validated)
			req->flags |= NETTXF_data_validated;
		if (gso) {
			struct netif_extra_info *ex = (struct netif_extra_info *)
				RING_GET_REQUEST(&q->tx, q->tx.req_prod_pvt++);

			memset(ex, 0, sizeof(netif_tx_request_t));
			ex->type = XEN_NETIF_EXTRA_TYPE_GSO;
			ex->flags = 0;
			ex->u.gso.size = p->meta.gso_size;
			ex->u.gso.type = p->meta.gso_type;
			req->flags |= NETTXF_extra_info;
		}
	}
	/* The backend learns the last slot's size from the total. */
	first->size = (uint16_t)p->len;
	dev->st.tx_packets++;
	dev->st.tx_bytes += p->len;
	dev->st.tx_slots += slots;
	dev->st.tx_multi_slot += slots > 1;
	dev->st.tx_gso += gso;
	dev->st.tx_csum_blank += p->meta.csum_blank;
	return true;
}

int
nf_tx_queue(struct nf_dev *dev, unsigned int qi, struct nf_queue **q)
{
	if (!dev->up || qi >= dev->nq)
		return -ENOTCONN;
	if (dev->broken)
		return -EIO;
	*q = &dev->queues[qi];
	return 0;
}

int
nf_tx_burst(struct nf_dev *dev, unsigned int qi, const struct nf_tx_pkt *pkts,
	    unsigned int n)
{
	struct nf_queue *q;
	struct chunk c[NF_MAX_SLOTS];
	uint16_t ids[NF_TX_RING_SIZE];
	unsigned int i, slots, nids = 0;
	uint64_t now, out;
	int notify, rc;

	rc = nf_tx_queue(dev, qi, &q);
	if (rc < 0)
		return rc;

	for (i = 0; i < n; i++) {
		const struct nf_tx_pkt *p = &pkts[i];

		if (p->len < ETH_HLEN || p->len > XEN_NETIF_MAX_TX_SIZE) {
			dev->st.tx_unsupported++;
			continue;
		}
		slots = p->layout == NF_LAYOUT_SCATTER ?
			plan_scatter(p->len, p->layout_seed, c) :
			plan_linear(p->len, c);
		if (!backend_can(dev, p, slots)) {
			dev->st.tx_unsupported++;
			continue;
		}
		if (!tx_one(q, p, c, slots, ids, &nids))
			break;
	}
	if (nids == 0)
		return (int)i;

	now = nf_now_ns();
	while (nids > 0)
		q->tx_slot[ids[--nids]].pushed_ns = now;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->tx, notify);
	if (notify)
		nf_notify(dev, q->tx_port, &dev->st.tx_notify);

	out = q->tx.req_prod_pvt - q->tx.rsp_cons;
	if (out > q->max_outstanding)
		q->max_outstanding = out;
	if (out > dev->st.tx_max_outstanding)
		dev->st.tx_max_outstanding = out;
	return (int)i;
}

unsigned int
nf_tx_space(const struct nf_dev *dev, unsigned int qi)
{
	const struct nf_queue *q;

	if (!dev->up || qi >= dev->nq)
		return 0;
	q = &dev->queues[qi];
	return RING_FREE_REQUESTS(&q->tx);
}

unsigned int
nf_tx_inflight(const struct nf_dev *dev)
{
	unsigned int i, n = 0;

	for (i = 0; i < dev->nq; i++)
		n += dev->queues[i].tx.req_prod_pvt - dev->queues[i].tx.rsp_cons;
	return n;
}

/* The id's page went to the deferred list with its grant: give the id a
 * fresh page, or retire the id when memory is out. */
static void
tx_slot_replace(struct nf_queue *q, uint16_t id)
{
	struct nf_tx_slot *ts = &q->tx_slot[id];

	ts->ref = NF_GREF_NONE;
	if (nf_page_alloc(q->dev, &ts->gfn, &ts->va) < 0) {
		ts->va = NULL;
		return;
	}
	q->tx_free[q->tx_nfree++] = id;
}

int
nf_tx_collect(struct nf_dev *dev, unsigned int qi)
{
	struct nf_queue *q;
	RING_IDX cons, prod;
	uint64_t now;
	int more, done = 0;

	if (!dev->up || dev->broken || qi >= dev->nq)
		return 0;
	q = &dev->queues[qi];
	now = nf_now_ns();

	do {
		prod = __atomic_load_n(&q->tx.sring->rsp_prod, __ATOMIC_ACQUIRE);
		if (!nf_rsp_prod_check(dev, q, "TX", prod, &q->tx_rsp_seen,
				       q->tx.req_prod_pvt))
			return done;
		for (cons = q->tx.rsp_cons; cons != prod; cons++) {
			netif_tx_response_t rsp;
			struct nf_tx_slot *ts;

			memcpy(&rsp, RING_GET_RESPONSE(&q->tx, cons), sizeof(rsp));
			done++;
			if (rsp.status == NETIF_RSP_NULL)
				continue;	/* the slot of an extra */
			if (rsp.id >= NF_TX_RING_SIZE ||
			    q->tx_slot[rsp.id].ref == NF_GREF_NONE) {
				dev->st.tx_rsp_bad++;
				continue;
			}
			ts = &q->tx_slot[rsp.id];
			if (ts->ref == NF_GREF_MCAST) {
				/* A multicast filter request: no grant, no data. */
				if (rsp.status == NETIF_RSP_OKAY)
					dev->st.tx_mcast_ok++;
				else
					dev->st.tx_mcast_error++;
				ts->ref = NF_GREF_NONE;
				q->tx_free[q->tx_nfree++] = rsp.id;
				continue;
			}
			if (rsp.status == NETIF_RSP_DROPPED)
				dev->st.tx_rsp_dropped++;
			else if (rsp.status != NETIF_RSP_OKAY)
				dev->st.tx_rsp_error++;
			nf_hist_add(&dev->tx_wait, now - ts->pushed_ns);
			if (!nf_grant_end(dev, ts->ref, ts->gfn)) {
				tx_slot_replace(q, rsp.id);
				continue;
			}
			ts->ref = NF_GREF_NONE;
			q->tx_free[q->tx_nfree++] = rsp.id;
		}
		q->tx.rsp_cons = prod;
		RING_FINAL_CHECK_FOR_RESPONSES(&q->tx, more);
	} while (more);
	return done;
}

void
nf_tx_release(struct nf_queue *q)
{
	struct nf_dev *dev = q->dev;
	unsigned int id;

	for (id = 0; id < NF_TX_RING_SIZE; id++) {
		struct nf_tx_slot *ts = &q->tx_slot[id];

		if (ts->va == NULL)
			continue;
		if (ts->ref == NF_GREF_MCAST) {
			dev->st.tx_aborted++;
		} else if (ts->ref != NF_GREF_NONE) {
			dev->st.tx_aborted++;
			if (!nf_grant_end(dev, ts->ref, ts->gfn)) {
				ts->va = NULL;
				continue;	/* freed when the grant ends */
			}
		}
		xnbsim_page_free(dev->sim, ts->gfn);
		ts->va = NULL;
		ts->ref = NF_GREF_NONE;
	}
	q->tx_nfree = 0;
}
