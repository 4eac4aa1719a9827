/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The control ring (xen/io/netif.h, "Control ring"; Linux netback's hash.c
 * and the control half of interface.c): a frontend that found
 * feature-ctrl-ring gives the backend one more ring and event channel, over
 * which it sets how frames to it are hashed and steered to its queues (the
 * Toeplitz key, the hash types, the hash-to-queue mapping: what Windows PV
 * drivers need for RSS).
 *
 * Requests are served in the EAL interrupt thread (the ring's channel fd is
 * an interrupt source, like the xenstore watch): copied once off the ring,
 * checked with the bounds Linux netback uses, their tables grant-copied
 * (never mapped), answered in order. The result is the port's hash state
 * (xnb_filter.c), which tx bursts read to steer frames and to tell the
 * guest their hash.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_alarm.h>
#include <rte_interrupts.h>
#include <rte_pause.h>

#include "xnb_internal.h"

typedef struct xen_netif_ctrl_request xnb_ctrl_req_t;
typedef struct xen_netif_ctrl_response xnb_ctrl_rsp_t;

/* The hash types this backend computes. */
#define XNB_HASH_TYPES (XEN_NETIF_CTRL_HASH_TYPE_IPV4 | XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP | \
			XEN_NETIF_CTRL_HASH_TYPE_IPV6 | XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP)

struct xnb_ctrl {
	struct xnb_port *port;
	xen_netif_ctrl_back_ring_t ring;
	void *sring;			/* the frontend's page, mapped writable */
	struct xnb_evt *evt;		/* a handle of its own: its fd is the interrupt */
	uint32_t evtchn;
	struct rte_intr_handle *intr;
	uint64_t requests, errors;
};

/* Grant-copies len bytes at the start of the frontend's gref into dst. */
static bool
xnb_ctrl_fetch(struct xnb_ctrl *c, uint32_t gref, void *dst, uint32_t len)
{
	struct xnb_port *port = c->port;
	xengnttab_grant_copy_segment_t seg;

	if (len == 0)
		return true;
	if (len > XNB_PAGE_SIZE)
		return false;
	xnb_seg_from_guest(&seg, port->domid, gref, 0, dst, len);
	return port->plat->gnt_copy(port->gnt, 1, &seg) == 0 && seg.status == GNTST_okay;
}

/* One request, as Linux netback's xenvif_ctrl_action does it. */
static uint32_t
xnb_ctrl_do(struct xnb_ctrl *c, const xnb_ctrl_req_t *req, uint32_t *data)
{
	struct xnb_port *port = c->port;
	struct xnb_hash h;

	*data = 0;
	xnb_hash_get(port, &h);
	switch (req->type) {
	case XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS:
		/* netif.h: a valid algorithm must be selected first. */
		if (h.alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
			return XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
		*data = XNB_HASH_TYPES;
		return XEN_NETIF_CTRL_STATUS_SUCCESS;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS:
		if (req->data[0] & ~XNB_HASH_TYPES)
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		if (h.alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		h.flags = req->data[0];
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_KEY:
		if (req->data[1] > XNB_HASH_KEY_MAX)
			return XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW;
		memset(h.key, 0, sizeof(h.key));
		if (!xnb_ctrl_fetch(c, req->data[0], h.key, req->data[1]))
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		break;
	case XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE:
		*data = XNB_HASH_MAPPING_MAX;
		return XEN_NETIF_CTRL_STATUS_SUCCESS;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE:
		if (req->data[0] > XNB_HASH_MAPPING_MAX)
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		h.size = req->data[0];
		memset(h.mapping, 0, sizeof(h.mapping));
		break;
	case XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING: {
		uint32_t len = req->data[1], off = req->data[2];
		uint32_t tbl[XNB_HASH_MAPPING_MAX];

		/* Bounds as Linux netback: within the table the frontend sized,
		 * every entry a queue it connected. */
		if (len > XNB_HASH_MAPPING_MAX || off > h.size || len > h.size - off)
			return len > XNB_HASH_MAPPING_MAX ?
				XEN_NETIF_CTRL_STATUS_BUFFER_OVERFLOW :
				XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		if (!xnb_ctrl_fetch(c, req->data[0], tbl, len * sizeof(tbl[0])))
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		for (uint32_t i = 0; i < len; i++)
			if (tbl[i] >= port->nb_queues)
				return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		memcpy(&h.mapping[off], tbl, len * sizeof(tbl[0]));
		break;
	}
	case XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM:
		if (req->data[0] != XEN_NETIF_CTRL_HASH_ALGORITHM_NONE &&
		    req->data[0] != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ)
			return XEN_NETIF_CTRL_STATUS_INVALID_PARAMETER;
		h.alg = req->data[0];
		if (h.alg == XEN_NETIF_CTRL_HASH_ALGORITHM_NONE)
			h.flags = 0;
		break;
	default:
		return XEN_NETIF_CTRL_STATUS_NOT_SUPPORTED;
	}
	xnb_hash_set(port, &h);
	return XEN_NETIF_CTRL_STATUS_SUCCESS;
}

/* The EAL interrupt thread: the frontend notified its control channel. */
static void
xnb_ctrl_event(void *arg)
{
	struct xnb_ctrl *c = arg;
	struct xnb_port *port = c->port;
	bool fatal = false;
	RING_IDX prod;
	int more, notify;

	/* Not under the port lock: the disconnect, which holds it, waits for
	 * this handler to return. */
	while (port->plat->evt_pending(c->evt) >= 0)
		;
	port->plat->evt_unmask(c->evt, c->evtchn);
	do {
		prod = __atomic_load_n(&c->ring.sring->req_prod, __ATOMIC_ACQUIRE);
		/* Every request is answered before the next is taken. */
		if (prod - c->ring.req_cons > RING_SIZE(&c->ring)) {
			fatal = true;
			break;
		}
		while (c->ring.req_cons != prod) {
			xnb_ctrl_req_t req;
			xnb_ctrl_rsp_t *rsp;

			memcpy(&req, RING_GET_REQUEST(&c->ring, c->ring.req_cons), sizeof(req));
			c->ring.req_cons++;
			rsp = RING_GET_RESPONSE(&c->ring, c->ring.rsp_prod_pvt);
			rsp->id = req.id;
			rsp->type = req.type;
			rsp->status = xnb_ctrl_do(c, &req, &rsp->data);
			c->ring.rsp_prod_pvt++;
			c->requests++;
			c->errors += rsp->status != XEN_NETIF_CTRL_STATUS_SUCCESS;
		}
		RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&c->ring, notify);
		if (notify)
			port->plat->evt_notify(c->evt, c->evtchn);
		RING_FINAL_CHECK_FOR_REQUESTS(&c->ring, more);
	} while (more);
	if (fatal)
		xnb_queue_fatal(&port->queues[0], "control ring: req_prod %u beyond the ring "
				"(req_cons %u)", prod, c->ring.req_cons);
}

int
xnb_ctrl_connect(struct xnb_port *port, uint32_t gref, uint32_t remote)
{
	struct xnb_ctrl *c;
	int16_t st;
	int rc;

	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->port = port;
	rc = port->plat->gnt_map(port->gnt, port->domid, 1, &gref, 1, &c->sring, &st);
	if (rc != 1 || st != GNTST_okay) {
		XNB_LOG(ERR, "%s: cannot map the control ring (gref %u, status %d)",
			port->name, gref, rc < 0 ? rc : st);
		c->sring = NULL;
		rc = -EINVAL;
		goto fail;
	}
	rc = port->plat->evt_open(&c->evt, port->gnt);
	if (rc < 0)
		goto fail;
	rc = port->plat->evt_bind(c->evt, port->domid, remote);
	if (rc <= 0) {
		XNB_LOG(ERR, "%s: cannot bind event-channel-ctrl=%u", port->name, remote);
		rc = -EINVAL;
		goto fail;
	}
	c->evtchn = rc;
	{
		xen_netif_ctrl_sring_t *s = c->sring;
		RING_IDX req = __atomic_load_n(&s->req_prod, __ATOMIC_ACQUIRE);
		RING_IDX rsp = __atomic_load_n(&s->rsp_prod, __ATOMIC_ACQUIRE);

		if (req - rsp > __CONST_RING_SIZE(xen_netif_ctrl, XNB_PAGE_SIZE)) {
			XNB_LOG(ERR, "%s: control ring indexes out of range (%u/%u)",
				port->name, req, rsp);
			rc = -EINVAL;
			goto fail;
		}
		BACK_RING_ATTACH(&c->ring, s, rsp, XNB_PAGE_SIZE);
	}
	c->intr = rte_intr_instance_alloc(RTE_INTR_INSTANCE_F_SHARED);
	if (c->intr == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	rte_intr_fd_set(c->intr, port->plat->evt_fd(c->evt));
	rte_intr_type_set(c->intr, RTE_INTR_HANDLE_EXT);
	rc = rte_intr_callback_register(c->intr, xnb_ctrl_event, c);
	if (rc < 0)
		goto fail;
	port->ctrl = c;
	/* Requests written before we were listening. */
	port->plat->evt_unmask(c->evt, c->evtchn);
	rte_eal_alarm_set(1, xnb_ctrl_event, c);
	return 0;
fail:
	port->ctrl = c;
	xnb_ctrl_disconnect(port);
	return rc;
}

void
xnb_ctrl_disconnect(struct xnb_port *port)
{
	struct xnb_ctrl *c = port->ctrl;
	struct xnb_hash none = { .alg = XEN_NETIF_CTRL_HASH_ALGORITHM_NONE };

	if (c == NULL)
		return;
	rte_eal_alarm_cancel(xnb_ctrl_event, c);
	if (c->intr != NULL) {
		while (rte_intr_callback_unregister(c->intr, xnb_ctrl_event, c) == -EAGAIN)
			rte_pause();
		rte_intr_instance_free(c->intr);
	}
	if (c->evt != NULL) {
		if (c->evtchn != 0)
			port->plat->evt_unbind(c->evt, c->evtchn);
		port->plat->evt_close(c->evt);
	}
	if (c->sring != NULL)
		port->plat->gnt_unmap(port->gnt, 1, &c->sring);
	free(c);
	port->ctrl = NULL;
	xnb_hash_set(port, &none);
}
