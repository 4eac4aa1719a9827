/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The frontend's half of the control ring (xen/io/netif.h "Control ring";
 * what Windows PV drivers use to set up RSS): one request at a time,
 * answered before the call returns, its table (a key, a mapping) in a page
 * granted readonly for the call. What the backend acknowledged is kept as
 * the device's hash state, which the guest checks received frames against.
 * Also the frontend's multicast filter requests, which travel on the TX
 * ring as dummy requests with an extra (netif.h, Linux netback consumes
 * them in xenvif_tx_build_gops). The ring itself is set up and torn down
 * with the queues (netfront.c).
 */

#include <errno.h>

#include "nf_internal.h"

#define CTRL_KEY_MAX	NF_PAGE_SIZE

bool
nf_ctrl_connected(const struct nf_dev *dev)
{
	return dev->up && dev->ctrl != NULL;
}

const struct nf_hash_state *
nf_hash_state(const struct nf_dev *dev)
{
	return &dev->hash;
}

/* The backend said yes: what the request did, as netif.h defines it. */
static void
hash_apply(struct nf_dev *dev, const struct xen_netif_ctrl_request *req)
{
	struct nf_hash_state *h = &dev->hash;
	const uint32_t *tbl = dev->ctrl->data_va;
	uint32_t n;

	switch (req->type) {
	case XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM:
		h->alg = req->data[0];
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS:
		h->flags = req->data[0];
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_KEY:
		n = req->data[1] < sizeof(h->key) ? req->data[1] : sizeof(h->key);
		memset(h->key, 0, sizeof(h->key));
		memcpy(h->key, dev->ctrl->data_va, n);
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE:
		h->size = req->data[0];
		memset(h->mapping, 0, sizeof(h->mapping));
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING:
		for (n = 0; n < req->data[1] && req->data[2] + n <
		     sizeof(h->mapping) / sizeof(h->mapping[0]); n++)
			h->mapping[req->data[2] + n] = tbl[n];
		break;
	default:
		return;
	}
	h->generation++;
}

int
nf_ctrl_call(struct nf_dev *dev, uint32_t type, uint32_t d0, uint32_t d1, uint32_t d2,
	     uint32_t *data, int timeout_ms)
{
	struct xen_netif_ctrl_request *req, copy;
	struct nf_ctrl *c = dev->ctrl;
	uint64_t end = nf_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	uint16_t id;
	int notify, more;

	if (dev->broken)
		return -EIO;
	if (!nf_ctrl_connected(dev))
		return -ENOTCONN;
	if (RING_FULL(&c->ring))
		return -EAGAIN;
	id = c->next_id++;
	req = RING_GET_REQUEST(&c->ring, c->ring.req_prod_pvt);
	req->id = id;
	req->type = (uint16_t)type;
	req->data[0] = d0;
	req->data[1] = d1;
	req->data[2] = d2;
	copy = *req;
	c->ring.req_prod_pvt++;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&c->ring, notify);
	if (notify)
		xnbsim_evtchn_notify(dev->evh, c->port);

	for (;;) {
		RING_IDX prod = __atomic_load_n(&c->ring.sring->rsp_prod, __ATOMIC_ACQUIRE);

		if (!nf_rsp_prod_check(dev, NULL, "CTRL", prod, &c->rsp_seen,
				       c->ring.req_prod_pvt))
			return -EIO;
		while (c->ring.rsp_cons != prod) {
			struct xen_netif_ctrl_response rsp;

			memcpy(&rsp, RING_GET_RESPONSE(&c->ring, c->ring.rsp_cons),
			       sizeof(rsp));
			c->ring.rsp_cons++;
			if (rsp.id != id || rsp.type != copy.type) {
				dev->st.ctrl_rsp_bad++;	/* e.g. a late one */
				continue;
			}
			dev->st.ctrl_requests++;
			if (rsp.status != XEN_NETIF_CTRL_STATUS_SUCCESS)
				dev->st.ctrl_errors++;
			else
				hash_apply(dev, &copy);
			if (data != NULL)
				*data = rsp.data;
			return (int)rsp.status;
		}
		RING_FINAL_CHECK_FOR_RESPONSES(&c->ring, more);
		if (more)
			continue;
		if (nf_now_ns() > end) {
			dev->st.ctrl_timeouts++;
			return -ETIMEDOUT;
		}
		nf_poll(dev, 10);
		/* The state machine may have torn the connection down. */
		if (dev->ctrl != c || !dev->up)
			return -ENOTCONN;
	}
}

/* A table in the data page, granted readonly to the backend for one call;
 * the page is reused only once the grant ends (else a fresh one). */
static int
ctrl_table_call(struct nf_dev *dev, uint32_t type, const void *tbl, uint32_t bytes,
		uint32_t d1, uint32_t d2)
{
	struct nf_ctrl *c = dev->ctrl;
	int ref, rc;

	if (!nf_ctrl_connected(dev))
		return -ENOTCONN;
	if (bytes > NF_PAGE_SIZE)
		bytes = NF_PAGE_SIZE;
	memset(c->data_va, 0, NF_PAGE_SIZE);
	memcpy(c->data_va, tbl, bytes);
	ref = xnbsim_grant_access(dev->sim, dev->be_domid, c->data_gfn, 1);
	if (ref < 0)
		return ref;
	rc = nf_ctrl_call(dev, type, (uint32_t)ref, d1, d2, NULL, 5000);
	if (dev->ctrl != c)
		return rc;	/* torn down meanwhile: its grant went with it */
	if (!nf_grant_end(dev, (uint32_t)ref, c->data_gfn) &&
	    nf_page_alloc(dev, &c->data_gfn, &c->data_va) < 0) {
		c->data_va = NULL;
		return -ENOMEM;
	}
	return rc;
}

int
nf_ctrl_set_hash_key(struct nf_dev *dev, const uint8_t *key, uint32_t len)
{
	return ctrl_table_call(dev, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, key, len, len, 0);
}

int
nf_ctrl_set_hash_mapping(struct nf_dev *dev, const uint32_t *tbl, uint32_t n, uint32_t off)
{
	return ctrl_table_call(dev, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, tbl,
			       n * (uint32_t)sizeof(*tbl), n, off);
}

/* ---- multicast filter requests (TX ring) ---------------------------------- */

int
nf_mcast(struct nf_dev *dev, unsigned int qi, bool add, const uint8_t mac[6])
{
	struct nf_queue *q;
	netif_tx_request_t *req;
	struct netif_extra_info *ex;
	uint16_t id;
	int notify, rc;

	rc = nf_tx_queue(dev, qi, &q);
	if (rc < 0)
		return rc;
	if (RING_FREE_REQUESTS(&q->tx) < 2 || q->tx_nfree == 0)
		return -EAGAIN;
	id = q->tx_free[--q->tx_nfree];
	q->tx_slot[id].ref = NF_GREF_MCAST;
	q->tx_slot[id].pushed_ns = nf_now_ns();

	req = RING_GET_REQUEST(&q->tx, q->tx.req_prod_pvt++);
	req->gref = 0;
	req->offset = 0;
	req->size = 0;
	req->id = id;
	req->flags = NETTXF_extra_info;
	ex = (struct netif_extra_info *)RING_GET_REQUEST(&q->tx, q->tx.req_prod_pvt++);
	memset(ex, 0, sizeof(netif_tx_request_t));
	ex->type = add ? XEN_NETIF_EXTRA_TYPE_MCAST_ADD : XEN_NETIF_EXTRA_TYPE_MCAST_DEL;
	memcpy(ex->u.mcast.addr, mac, 6);
	dev->st.tx_mcast++;
	RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&q->tx, notify);
	if (notify)
		nf_notify(dev, q->tx_port, &dev->st.tx_notify);
	return 0;
}
