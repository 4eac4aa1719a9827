/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * Guest receive: keeps the RX ring full of writable grants, and turns RX
 * responses (first slot, extra-info slots, NETRXF_more_data chain) back
 * into packets. As netif.h requires of backends and Linux's netfront
 * assumes, the response to the request in ring slot i is in slot i, so the
 * ring index, not the id a backend writes, finds the buffer; extras consume
 * a slot (and its buffer) too. Every response is copied out of the shared
 * ring once before it is looked at.
 */

#include <errno.h>

#include "nf_internal.h"

#define RX_MASK		(NF_RX_RING_SIZE - 1)
/* Linux accepts one slot more than XEN_NETIF_NR_SLOTS_MIN on RX. */
#define RX_MAX_SLOTS	(NF_MAX_SLOTS + 1)

void
nf_rx_refill(struct nf_queue *q)
{
	struct nf_dev *dev = q->dev;
	unsigned int posted = 0;
	int notify, ref;

	if (dev->evil_no_rx_buffers || dev->rx_paused)
		return;
	while (q->rx_nfree > 0 &&
	       q->rx.req_prod_pvt - q->rx.rsp_cons < NF_RX_RING_SIZE) {
		uint16_t b = q->rx_buf_free[q->rx_nfree - 1];
		RING_IDX i = q->rx.req_prod_pvt;
		netif_rx_request_t *req;

		ref = xnbsim_grant_access(dev->sim, dev->be_domid,
					  q->rx_buf[b].gfn, 0);
		if (ref < 0)
			break;		/* grant table full: retried next poll */
		q->rx_nfree--;
		q->rx_slot_buf[i & RX_MASK] = b;
		q->rx_slot_ref[i & RX_MASK] = (uint32_t)ref;
		req = RING_GET_REQUEST(&q->rx, i);
		req->id = (uint16_t)(i & RX_MASK);
		req->gref = (grant_ref_t)ref;
		q->rx.req_prod_pvt++;
		posted++;
	}
	if (posted == 0)
		return;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->rx, notify);
	if (notify)
		nf_notify(dev, q->rx_port, &dev->st.rx_notify);
}

/* Puts the buffer of ring slot i back on the free stack once its response
 * is handled. When the backend would not give the grant back, the page went
 * to the deferred list and the buffer gets a fresh page (or, memory being
 * out, is retired and the ring runs one short). */
static void
rx_recycle(struct nf_queue *q, RING_IDX i, bool ended)
{
	uint16_t b = q->rx_slot_buf[i & RX_MASK];
	struct nf_rx_buf *rb = &q->rx_buf[b];

	if (!ended && nf_page_alloc(q->dev, &rb->gfn, &rb->va) < 0) {
		rb->va = NULL;
		return;
	}
	q->rx_buf_free[q->rx_nfree++] = b;
}

/* Counts what the packet's addresses and flags say: group destinations,
 * and a csum_blank the backend must not have sent (feature-no-csum-offload
 * for IPv4, no feature-ipv6-csum-offload for IPv6: netif.h). */
static void
rx_classify(struct nf_dev *dev, const struct nf_rx_pkt *pkt)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint32_t off = 12;
	uint16_t et;

	if (pkt->len < 14)
		return;
	if (memcmp(pkt->data, bcast, 6) == 0)
		dev->st.rx_broadcast++;
	else if (pkt->data[0] & 1)
		dev->st.rx_multicast++;
	if (!pkt->meta.csum_blank)
		return;
	et = (uint16_t)(pkt->data[off] << 8 | pkt->data[off + 1]);
	while ((et == 0x8100 || et == 0x88a8) && pkt->len >= off + 6) {
		off += 4;
		et = (uint16_t)(pkt->data[off] << 8 | pkt->data[off + 1]);
	}
	if ((et == 0x0800 && dev->cfg.no_csum_offload) ||
	    (et == 0x86dd && dev->cfg.no_ipv6_csum))
		dev->st.rx_csum_blank_violations++;
}

/* Handles the packet starting at rsp_cons. Returns slots consumed, or 0 when
 * the backend has not published all of its slots yet. */
static unsigned int
rx_one(struct nf_queue *q, RING_IDX prod, nf_rx_fn fn, void *arg)
{
	struct nf_dev *dev = q->dev;
	RING_IDX cons = q->rx.rsp_cons, i, data[RX_MAX_SLOTS];
	netif_rx_response_t rsp[RX_MAX_SLOTS], r;
	bool ended[NF_RX_RING_SIZE];
	struct netif_extra_info ex;
	struct nf_rx_pkt pkt = { 0 };
	unsigned int nslots = 0, consumed, s;
	bool bad = false, too_many = false, more;
	uint8_t gso_type = 0;
	uint16_t gso_size = 0, flags;
	bool hash = false;
	struct netif_extra_info hx = { 0 };

	memcpy(&r, RING_GET_RESPONSE(&q->rx, cons), sizeof(r));
	flags = r.flags;
	data[nslots] = cons;
	rsp[nslots++] = r;
	i = cons + 1;

	if (r.flags & NETRXF_extra_info) {
		do {
			if (i == prod)
				return 0;
			memcpy(&ex, RING_GET_RESPONSE(&q->rx, i), sizeof(ex));
			i++;
			if (ex.type == XEN_NETIF_EXTRA_TYPE_NONE ||
			    ex.type >= XEN_NETIF_EXTRA_TYPE_MAX) {
				bad = true;
			} else if (ex.type == XEN_NETIF_EXTRA_TYPE_GSO) {
				gso_type = ex.u.gso.type;
				gso_size = ex.u.gso.size;
			} else if (ex.type == XEN_NETIF_EXTRA_TYPE_HASH) {
				hash = true;
				hx = ex;
			}
			more = (ex.flags & XEN_NETIF_EXTRA_FLAG_MORE) != 0;
		} while (more);
		if (bad)
			dev->st.rx_err_extra++;
	}
	while (r.flags & NETRXF_more_data) {
		if (i == prod)
			return 0;
		memcpy(&r, RING_GET_RESPONSE(&q->rx, i), sizeof(r));
		if (nslots < RX_MAX_SLOTS) {
			data[nslots] = i;
			rsp[nslots++] = r;
		} else {
			too_many = true;
		}
		i++;
	}
	consumed = i - cons;

	for (s = 0; s < nslots && !bad; s++) {
		if (rsp[s].id != (data[s] & RX_MASK)) {
			dev->st.rx_err_id++;	/* tolerated: the slot decides */
		}
		if (rsp[s].status < 0) {
			dev->st.rx_err_status++;
			bad = true;
		} else if (rsp[s].offset + (uint32_t)rsp[s].status > NF_PAGE_SIZE) {
			dev->st.rx_err_offset++;
			bad = true;
		}
	}
	if (too_many) {
		dev->st.rx_err_slots++;
		bad = true;
	}
	if (!bad && gso_type != 0 &&
	    ((gso_type != XEN_NETIF_GSO_TYPE_TCPV4 &&
	      gso_type != XEN_NETIF_GSO_TYPE_TCPV6) || gso_size == 0)) {
		dev->st.rx_err_extra++;
		bad = true;
	}

	/* End every grant first: the data is read only once the backend can
	 * no longer write it (unless it still maps the page: then the page
	 * is kept, not reused, until the grant ends). */
	for (i = cons; i != cons + consumed; i++) {
		ended[i - cons] = nf_grant_end(dev, q->rx_slot_ref[i & RX_MASK],
					       q->rx_buf[q->rx_slot_buf[i & RX_MASK]].gfn);
		q->rx_slot_ref[i & RX_MASK] = NF_GREF_NONE;
	}
	if (bad)
		goto out;

	if (nslots == 1) {
		const struct nf_rx_buf *rb =
			&q->rx_buf[q->rx_slot_buf[cons & RX_MASK]];

		pkt.data = (const uint8_t *)rb->va + rsp[0].offset;
		pkt.len = (uint32_t)rsp[0].status;
	} else {
		for (s = 0; s < nslots; s++) {
			const struct nf_rx_buf *rb =
				&q->rx_buf[q->rx_slot_buf[data[s] & RX_MASK]];

			memcpy(q->rx_scratch + pkt.len,
			       (const uint8_t *)rb->va + rsp[s].offset,
			       (uint32_t)rsp[s].status);
			pkt.len += (uint32_t)rsp[s].status;
		}
		pkt.data = q->rx_scratch;
	}
	pkt.slots = (uint16_t)nslots;
	pkt.meta.csum_blank = (flags & NETRXF_csum_blank) != 0;
	pkt.meta.data_validated = (flags & NETRXF_data_validated) != 0;
	pkt.meta.gso_type = gso_type;
	pkt.meta.gso_size = gso_size;
	if (hash) {
		pkt.meta.hash_valid = true;
		pkt.meta.hash_type = hx.u.hash.type;
		pkt.meta.hash_alg = hx.u.hash.algorithm;
		/* Little endian on the wire, whatever the host (netif.h). */
		pkt.meta.hash = (uint32_t)hx.u.hash.value[0] |
			(uint32_t)hx.u.hash.value[1] << 8 |
			(uint32_t)hx.u.hash.value[2] << 16 |
			(uint32_t)hx.u.hash.value[3] << 24;
		dev->st.rx_hash++;
	}
	rx_classify(dev, &pkt);
	dev->st.rx_packets++;
	dev->st.rx_bytes += pkt.len;
	dev->st.rx_slots += nslots;
	dev->st.rx_multi_slot += nslots > 1;
	dev->st.rx_gso += gso_type != 0;
	dev->st.rx_csum_blank += pkt.meta.csum_blank;
	fn(arg, q->id, &pkt);
out:
	for (i = cons; i != cons + consumed; i++)
		rx_recycle(q, i, ended[i - cons]);
	q->rx.rsp_cons = cons + consumed;
	return consumed;
}

int
nf_rx_poll(struct nf_dev *dev, unsigned int qi, unsigned int budget,
	   nf_rx_fn fn, void *arg)
{
	struct nf_queue *q;
	RING_IDX prod;
	unsigned int done = 0;
	bool partial;
	int more;

	if (!dev->up || dev->broken || qi >= dev->nq)
		return 0;
	q = &dev->queues[qi];

	for (;;) {
		partial = false;
		prod = __atomic_load_n(&q->rx.sring->rsp_prod, __ATOMIC_ACQUIRE);
		if (!nf_rsp_prod_check(dev, q, "RX", prod, &q->rx_rsp_seen,
				       q->rx.req_prod_pvt))
			return (int)done;
		while (q->rx.rsp_cons != prod && done < budget) {
			if (rx_one(q, prod, fn, arg) == 0) {
				partial = true;
				break;
			}
			done++;
		}
		nf_rx_refill(q);
		if (done >= budget)
			return (int)done;
		if (partial) {
			/* Wake us when the rest of the packet is published. */
			q->rx.sring->rsp_event = prod + 1;
			xen_mb();
			if (q->rx.sring->rsp_prod != prod)
				continue;
			break;
		}
		RING_FINAL_CHECK_FOR_RESPONSES(&q->rx, more);
		if (!more)
			break;
	}
	return (int)done;
}

void
nf_rx_release(struct nf_queue *q)
{
	struct nf_dev *dev = q->dev;
	RING_IDX i;
	unsigned int b;

	/* Posted buffers: the backend may hold them mapped still. */
	for (i = q->rx.rsp_cons; i != q->rx.req_prod_pvt; i++) {
		struct nf_rx_buf *rb = &q->rx_buf[q->rx_slot_buf[i & RX_MASK]];

		if (nf_grant_end(dev, q->rx_slot_ref[i & RX_MASK], rb->gfn))
			xnbsim_page_free(dev->sim, rb->gfn);
		rb->va = NULL;
	}
	while (q->rx_nfree > 0) {
		b = q->rx_buf_free[--q->rx_nfree];
		if (q->rx_buf[b].va != NULL)
			xnbsim_page_free(dev->sim, q->rx_buf[b].gfn);
		q->rx_buf[b].va = NULL;
	}
	q->rx.req_prod_pvt = q->rx.rsp_cons;
}
