/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The connection (Linux netback's interface.c): the frontend's rings mapped
 * and attached, its event channels bound, the control ring, the bursts let
 * in; and all of it torn down again, bursts quiesced first. The state
 * machine (xnb_xenbus.c) reads the frontend's keys and calls down here with
 * the port lock held; nothing here reads xenstore.
 *
 * The link follows the connection: up while a guest is connected, the port
 * started and no guest queue stalled, with an LSC event when it changes.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <ethdev_driver.h>
#include <rte_pause.h>

#include "xnb_internal.h"
#include "xnb_lifetime.h"

void
xnb_guard_close(struct xnb_guard *g)
{
	__atomic_store_n(&g->allowed, 0, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&g->busy, __ATOMIC_SEQ_CST))
		rte_pause();
}

/* Link is up while a guest is connected, the port started and no queue's
 * guest stalled (any thread holding the port lock); an LSC event when that
 * changes. */
void
xnb_port_link_update(struct xnb_port *port)
{
	struct rte_eth_dev *dev = port->dev;
	struct rte_eth_link link = {
		.link_speed = RTE_ETH_SPEED_NUM_10G,
		.link_duplex = RTE_ETH_LINK_FULL_DUPLEX,
		.link_autoneg = RTE_ETH_LINK_FIXED,
		.link_status = port->connected && port->started && !port->stalled ?
			RTE_ETH_LINK_UP : RTE_ETH_LINK_DOWN,
	};

	/* rte_eth_linkstatus_set returns 0 when the status changed. */
	if (rte_eth_linkstatus_set(dev, &link) == 0 && dev->data->dev_conf.intr_conf.lsc)
		rte_eth_dev_callback_process(dev, RTE_ETH_EVENT_INTR_LSC, NULL);
}

static void
xnb_queue_disconnect(struct xnb_port *port, struct xnb_queue *q)
{
	void *rings[2];
	uint32_t n = 0;

	if (q->tx.evtchn != 0 && q->tx.evtchn != q->rx.evtchn)
		port->plat->evt_unbind(q->evt, q->tx.evtchn);
	if (q->rx.evtchn != 0)
		port->plat->evt_unbind(q->evt, q->rx.evtchn);
	q->rx.evtchn = q->tx.evtchn = 0;
	if (q->tx_sring != NULL)
		rings[n++] = q->tx_sring;
	if (q->rx_sring != NULL)
		rings[n++] = q->rx_sring;
	if (n > 0 && port->plat->gnt_unmap(port->gnt, n, rings) < 0)
		XNB_LOG(ERR, "%s: queue %u: cannot unmap the rings", port->name, q->id);
	q->tx_sring = q->rx_sring = NULL;
	memset(&q->rx.ring, 0, sizeof(q->rx.ring));
	memset(&q->tx.ring, 0, sizeof(q->tx.ring));
	q->split_evtchn = false;
	q->tx.stall_since = 0;
	__atomic_store_n(&q->tx.stalled, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&q->fatal, 0, __ATOMIC_RELEASE);
}

void
xnb_disconnect(struct xnb_port *port)
{
	if (!port->connected)
		return;
	for (uint16_t i = 0; i < port->nb_queues; i++) {
		xnb_guard_close(&port->queues[i].rx.guard);
		xnb_guard_close(&port->queues[i].tx.guard);
	}
	xnb_ctrl_disconnect(port);
	xnb_mcast_clear(port);
	/* Every guest page still lent is copied out before the rings go. */
	for (uint16_t i = 0; i < port->nb_queues; i++)
		xnb_rxq_flush(&port->queues[i].rx);
	for (uint16_t i = 0; i < port->nb_queues; i++)
		xnb_queue_disconnect(port, &port->queues[i]);
	port->nb_queues = 0;
	port->connected = false;
	port->disconnects++;
	xnb_port_link_update(port);
	XNB_LOG(INFO, "%s: guest %u disconnected", port->name, port->domid);
}

/* A queue's ring pages, mapped writable in one call, and its channel(s). */
static int
xnb_queue_connect(struct xnb_port *port, struct xnb_queue *q,
		  const struct xnb_queue_keys *k)
{
	uint32_t refs[2] = { k->tx_ref, k->rx_ref };
	void *va[2] = { NULL, NULL };
	netif_tx_sring_t *txs;
	netif_rx_sring_t *rxs;
	int16_t st[2];
	int rc;

	rc = port->plat->gnt_map(port->gnt, port->domid, 2, refs, 1, va, st);
	if (rc < 0 || st[0] != GNTST_okay || st[1] != GNTST_okay) {
		XNB_LOG(ERR, "%s: queue %u: cannot map ring grants %u/%u (status %d/%d)",
			port->name, q->id, refs[0], refs[1], rc < 0 ? rc : st[0],
			rc < 0 ? rc : st[1]);
		for (int i = 0; i < 2; i++)
			if (rc >= 0 && st[i] == GNTST_okay && va[i] != NULL)
				port->plat->gnt_unmap(port->gnt, 1, &va[i]);
		return -EINVAL;
	}
	q->tx_sring = va[0];
	q->rx_sring = va[1];
	rc = port->plat->evt_bind(q->evt, port->domid, k->evtchn_tx);
	if (rc > 0) {
		q->rx.evtchn = rc;
		rc = k->split ? port->plat->evt_bind(q->evt, port->domid, k->evtchn_rx) : rc;
		q->tx.evtchn = rc > 0 ? (uint32_t)rc : 0;
		q->split_evtchn = k->split;
	}
	if (rc <= 0) {
		XNB_LOG(ERR, "%s: queue %u: cannot bind event channel %u%s: %s", port->name,
			q->id, k->evtchn_tx, k->split ? " or its rx channel" : "",
			strerror(rc < 0 ? -rc : EINVAL));
		return -EINVAL;
	}
	/*
	 * Attach where the frontend's indexes are (a reconnecting frontend
	 * need not start at 0), refusing a ring that claims more requests than
	 * it can hold.
	 */
	txs = q->tx_sring;
	rxs = q->rx_sring;
	{
		RING_IDX tx_req = __atomic_load_n(&txs->req_prod, __ATOMIC_ACQUIRE);
		RING_IDX tx_rsp = __atomic_load_n(&txs->rsp_prod, __ATOMIC_ACQUIRE);
		RING_IDX rx_req = __atomic_load_n(&rxs->req_prod, __ATOMIC_ACQUIRE);
		RING_IDX rx_rsp = __atomic_load_n(&rxs->rsp_prod, __ATOMIC_ACQUIRE);

		if (tx_req - tx_rsp > __CONST_RING_SIZE(netif_tx, XNB_PAGE_SIZE) ||
		    rx_req - rx_rsp > __CONST_RING_SIZE(netif_rx, XNB_PAGE_SIZE)) {
			XNB_LOG(ERR, "%s: queue %u: ring indexes out of range "
				"(tx %u/%u rx %u/%u)", port->name, q->id, tx_req, tx_rsp,
				rx_req, rx_rsp);
			return -EINVAL;
		}
		BACK_RING_ATTACH(&q->rx.ring, txs, tx_rsp, XNB_PAGE_SIZE);
		BACK_RING_ATTACH(&q->tx.ring, rxs, rx_rsp, XNB_PAGE_SIZE);
	}
	xnb_rxq_attach(&q->rx);
	return 0;
}

int
xnb_connect(struct xnb_port *port, const struct xnb_conn_keys *k)
{
	const struct xnb_frontend_features *fe = &k->fe;
	int rc = 0;

	for (uint16_t i = 0; i < k->nb_queues && rc == 0; i++)
		rc = xnb_queue_connect(port, &port->queues[i], &k->q[i]);
	port->nb_queues = k->nb_queues;
	port->fe = *fe;
	if (rc == 0 && k->ctrl)
		rc = xnb_ctrl_connect(port, k->ctrl_ref, k->ctrl_evtchn);
	if (rc != 0) {
		for (uint16_t i = 0; i < k->nb_queues; i++)
			xnb_queue_disconnect(port, &port->queues[i]);
		port->nb_queues = 0;
		return -EINVAL;
	}
	port->connected = true;
	port->connects++;
	port->fatal_why[0] = '\0';
	__atomic_store_n(&port->fatal_claimed, 0, __ATOMIC_RELEASE);
	for (uint16_t i = 0; i < k->nb_queues; i++) {
		xnb_guard_open(&port->queues[i].rx.guard);
		xnb_guard_open(&port->queues[i].tx.guard);
	}
	XNB_LOG(INFO, "%s: guest %u connected: %u queue(s)%s%s%s%s", port->name,
		port->domid, k->nb_queues, port->queues[0].split_evtchn ?
		", split channels" : "", fe->sg ? ", sg" : "",
		fe->gso_tcpv4 || fe->gso_tcpv6 ? ", gso" : "",
		port->ctrl != NULL ? ", control ring" : "");
	return 0;
}
