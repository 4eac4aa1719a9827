/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * net_xennetback: one ethdev port per Xen guest vif. This file is the ethdev
 * face: vdev probe/remove, devargs, eth_dev_ops. The xenstore side is in
 * xnb_xenbus.c, the hypervisor calls behind xnb_platform.h.
 *
 * The bursts are in xnb_rx.c (guest TX -> rx_burst) and xnb_tx.c (tx_burst ->
 * guest RX); everything they share is in xnb_internal.h.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bus_vdev_driver.h>
#include <ethdev_driver.h>
#include <ethdev_vdev.h>
#include <rte_ethdev.h>
#include <rte_kvargs.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_string_fns.h>

#include <rte_alarm.h>
#include <rte_bus.h>

#include "xnb_internal.h"
#include "xnb_lifetime.h"

RTE_LOG_REGISTER(xnb_logtype, pmd.net.xennetback, NOTICE);

/* domids from DOMID_FIRST_RESERVED (0x7ff0) up are not guests. */
#define XNB_DOMID_MAX	0x7fef

/*
 * The devargs, declared once. Numbers: X(id, key, syntax, min, max,
 * default); strings: X(id, key, syntax, default). The kvargs key list, the
 * parser and the PMD's parameter string all come from here.
 */
#define XNB_UINT_ARGS(X) \
	X(DOMID, "domid", "<1-32751>", 1, XNB_DOMID_MAX, 0) \
	X(HANDLE, "handle", "<0-65535>", 0, 0xffff, 0) \
	X(QUEUES, "queues", "<1-8>", 1, XNB_MAX_QUEUES, 1) \
	X(MTU, "mtu", "<68-65521>", RTE_ETHER_MIN_MTU, \
	  XEN_NETIF_MAX_TX_SIZE - RTE_ETHER_HDR_LEN, RTE_ETHER_MTU) \
	X(BACKEND_DOMID, "backend_domid", "<0-32751>", 0, XNB_DOMID_MAX, 0) \
	X(AGING_MS, "aging_ms", "<ms>", 0, 3600000, XNB_DEFAULT_AGING_MS) \
	X(HEADER_COPY, "header_copy", "<14-1024>", RTE_ETHER_HDR_LEN, \
	  XNB_MAX_HEADER_COPY, XNB_DEFAULT_HEADER_COPY) \
	X(COPY_THRESHOLD, "copy_threshold", "<bytes>", 0, XEN_NETIF_MAX_TX_SIZE, \
	  XNB_DEFAULT_COPY_THRESHOLD) \
	X(MAX_MAPPED, "max_mapped", "<1-256>", 1, XNB_RING_SLOTS, XNB_RING_SLOTS) \
	X(RX_SCATTER, "rx_scatter", "0|1", 0, 1, 1) \
	X(RX_STALL_MS, "rx_stall_ms", "<ms>", 0, 3600000, XNB_DEFAULT_RX_STALL_MS)
#define XNB_STR_ARGS(X) \
	X(MAC, "mac", "<mac>", NULL) \
	X(PLATFORM, "platform", "xen|sim", "xen") \
	X(SIM, "sim", "<dir>", NULL) \
	X(COPY_MODE, "copy_mode", "lazy|always", "lazy")

#define XNB_UINT_ID(id, key, syn, min, max, def) XNB_ARG_ ## id,
#define XNB_STR_ID(id, key, syn, def) XNB_ARG_ ## id,
enum { XNB_UINT_ARGS(XNB_UINT_ID) XNB_NB_UINT_ARGS };
enum { XNB_STR_ARGS(XNB_STR_ID) XNB_NB_STR_ARGS };

struct xnb_uint_desc {
	const char *key;
	unsigned long min, max, def;
};

#define XNB_UINT_DESC(id, key, syn, min, max, def) { key, min, max, def },
static const struct xnb_uint_desc xnb_uint_args[] = { XNB_UINT_ARGS(XNB_UINT_DESC) };
#define XNB_STR_KEY(id, key, syn, def) key,
static const char *const xnb_str_keys[] = { XNB_STR_ARGS(XNB_STR_KEY) };
#define XNB_STR_DEF(id, key, syn, def) def,
static const char *const xnb_str_defs[] = { XNB_STR_ARGS(XNB_STR_DEF) };
#define XNB_UINT_KEY(id, key, syn, min, max, def) key,
static const char *const xnb_valid_args[] = {
	XNB_UINT_ARGS(XNB_UINT_KEY) XNB_STR_ARGS(XNB_STR_KEY) NULL
};

struct xnb_uint_arg {
	unsigned long min, max;
	unsigned long val;
};

static int
xnb_parse_uint(const char *key __rte_unused, const char *value, void *opaque)
{
	struct xnb_uint_arg *a = opaque;
	char *end;

	errno = 0;
	a->val = strtoul(value, &end, 0);
	if (errno != 0 || value[0] == '\0' || value[0] == '-' || *end != '\0' ||
	    a->val < a->min || a->val > a->max)
		return -EINVAL;
	return 0;
}

static int
xnb_parse_string(const char *key __rte_unused, const char *value, void *opaque)
{
	const char **out = opaque;

	*out = value;
	return 0;
}

/* One key: absent is fine (keeps the default), a bad value is one log line. */
static int
xnb_arg_uint(struct rte_kvargs *kv, const char *name, const char *key,
	     unsigned long min, unsigned long max, unsigned long *val)
{
	struct xnb_uint_arg a = { .min = min, .max = max };

	if (rte_kvargs_count(kv, key) == 0)
		return 0;
	if (rte_kvargs_count(kv, key) > 1 ||
	    rte_kvargs_process(kv, key, xnb_parse_uint, &a) < 0) {
		XNB_LOG(ERR, "%s: invalid %s='%s' (expected one integer in %lu..%lu)",
			name, key, rte_kvargs_get(kv, key), min, max);
		return -EINVAL;
	}
	*val = a.val;
	return 0;
}

static int
xnb_parse_args(struct xnb_port *port, const char *args)
{
	unsigned long u[XNB_NB_UINT_ARGS];
	const char *str[XNB_NB_STR_ARGS], *platform, *sim, *mac, *copy;
	unsigned long domid, bdom;
	struct rte_kvargs *kv;
	int rc = -EINVAL;

	kv = rte_kvargs_parse(args != NULL ? args : "", xnb_valid_args);
	if (kv == NULL) {
		char keys[256];
		int n = 0;

		for (unsigned int i = 0; xnb_valid_args[i] != NULL; i++)
			n += snprintf(keys + n, sizeof(keys) - RTE_MIN(n, (int)sizeof(keys)),
				      "%s%s", i > 0 ? ", " : "", xnb_valid_args[i]);
		XNB_LOG(ERR, "%s: invalid devargs '%s' (valid keys: %s)", port->name,
			args, keys);
		return -EINVAL;
	}
	if (rte_kvargs_count(kv, xnb_uint_args[XNB_ARG_DOMID].key) == 0) {
		XNB_LOG(ERR, "%s: devarg domid=<guest domain id> is required", port->name);
		goto out;
	}
	for (unsigned int i = 0; i < XNB_NB_UINT_ARGS; i++) {
		u[i] = xnb_uint_args[i].def;
		if (xnb_arg_uint(kv, port->name, xnb_uint_args[i].key,
				 xnb_uint_args[i].min, xnb_uint_args[i].max, &u[i]) < 0)
			goto out;
	}
	for (unsigned int i = 0; i < XNB_NB_STR_ARGS; i++) {
		str[i] = xnb_str_defs[i];
		rte_kvargs_process(kv, xnb_str_keys[i], xnb_parse_string, &str[i]);
	}
	domid = u[XNB_ARG_DOMID];
	bdom = u[XNB_ARG_BACKEND_DOMID];
	platform = str[XNB_ARG_PLATFORM];
	sim = str[XNB_ARG_SIM];
	mac = str[XNB_ARG_MAC];
	copy = str[XNB_ARG_COPY_MODE];

	if (domid == bdom) {
		XNB_LOG(ERR, "%s: invalid domid=%lu: that is the backend's own domain",
			port->name, domid);
		goto out;
	}
	if (strcmp(platform, "xen") == 0) {
		port->plat = &xnb_platform_xen;
	} else if (strcmp(platform, "sim") == 0) {
		if (sim == NULL || sim[0] == '\0') {
			XNB_LOG(ERR, "%s: platform=sim needs sim=<simulator directory>",
				port->name);
			goto out;
		}
		if (strlen(sim) >= sizeof(port->sim_dir)) {
			XNB_LOG(ERR, "%s: invalid sim='%s': path too long", port->name, sim);
			goto out;
		}
		snprintf(port->sim_dir, sizeof(port->sim_dir), "%s", sim);
		port->plat = &xnb_platform_sim;
	} else {
		XNB_LOG(ERR, "%s: invalid platform='%s' (expected xen or sim)",
			port->name, platform);
		goto out;
	}
	if (strcmp(copy, "always") == 0) {
		port->copy_mode = XNB_COPY_ALWAYS;
	} else if (strcmp(copy, "lazy") == 0) {
		port->copy_mode = XNB_COPY_LAZY;
	} else {
		XNB_LOG(ERR, "%s: invalid copy_mode='%s' (expected lazy or always)",
			port->name, copy);
		goto out;
	}
	port->aging_ms = u[XNB_ARG_AGING_MS];
	port->header_copy = u[XNB_ARG_HEADER_COPY];
	port->copy_threshold = u[XNB_ARG_COPY_THRESHOLD];
	port->max_mapped = u[XNB_ARG_MAX_MAPPED];
	port->rx_scatter = u[XNB_ARG_RX_SCATTER];
	port->rx_stall_ms = u[XNB_ARG_RX_STALL_MS];
	if (mac != NULL) {
		if (rte_ether_unformat_addr(mac, &port->mac) < 0 ||
		    !rte_is_unicast_ether_addr(&port->mac)) {
			XNB_LOG(ERR, "%s: invalid mac='%s' (expected a unicast "
				"xx:xx:xx:xx:xx:xx)", port->name, mac);
			goto out;
		}
	} else {
		/* Locally administered, derived from the vif so it is stable. */
		struct rte_ether_addr def = { .addr_bytes = { 0x02, 0x58, 0x4e,
			(uint8_t)(domid >> 8), (uint8_t)domid,
			(uint8_t)u[XNB_ARG_HANDLE] } };

		port->mac = def;
	}
	port->domid = domid;
	port->handle = u[XNB_ARG_HANDLE];
	port->max_queues = u[XNB_ARG_QUEUES];
	port->mtu = u[XNB_ARG_MTU];
	port->backend_domid = bdom;
	rc = 0;
out:
	rte_kvargs_free(kv);
	return rc;
}

static void xnb_tick(void *arg);

/*
 * Zero copy lends guest pages, which no device can DMA from unless their
 * IOVA says where they are: in IOVA-as-PA mode each lent page carries its
 * physical address (xnb_lifetime.c); in IOVA-as-VA mode its virtual
 * address, which only virtual ports use (the vdev bus: they read buffers
 * with the CPU), as a VFIO container knows none of these pages. So while a
 * device on another bus shares the process and IOVAs are virtual, the port
 * copies (docs/lifetime.md). One virtual port cannot take a lent page in
 * either mode: virtio_user hands its backend (vhost-net, a vhost-user
 * process, vDPA) buffer addresses from a memory table that holds DPDK's own
 * memory only, so a lent page never arrives (vhost-net drops the frame).
 * Checked at configure and whenever a port appears or goes.
 */
static const char *
xnb_port_no_lend_why(const struct rte_device *d)
{
	const struct rte_driver *drv = rte_dev_driver(d);
	const char *name = drv != NULL ? rte_driver_name(drv) : rte_dev_name(d);

	/* Before its probe returns a vdev has no driver yet: its name is
	 * what the vdev bus matches (net_virtio_user, alias virtio_user). */
	if (strncmp(name, "virtio_user", 11) == 0 || strncmp(name, "net_virtio_user", 15) == 0)
		return "gives its backend addresses from a table of DPDK's own memory only";
	if (rte_eal_iova_mode() != RTE_IOVA_PA && strcmp(rte_bus_name(rte_dev_bus(d)), "vdev") != 0)
		return "can DMA and, with IOVA as VA, lent guest pages have no IOVA it can use";
	return NULL;
}

/* skip: a port going away (still listed while its DESTROY event runs). */
static void
xnb_port_lend_check(struct xnb_port *port, uint16_t skip)
{
	const char *dev = NULL, *why = NULL;
	uint16_t p;

	RTE_ETH_FOREACH_DEV(p) {
		const struct rte_device *d = rte_eth_devices[p].device;

		if (p != skip && d != NULL && (why = xnb_port_no_lend_why(d)) != NULL) {
			dev = rte_dev_name(d);
			break;
		}
	}
	if (port->copy_mode == XNB_COPY_LAZY &&
	    (why != NULL) != __atomic_load_n(&port->no_lend, __ATOMIC_RELAXED)) {
		if (why != NULL)
			XNB_LOG(NOTICE, "%s: zero copy off: %s %s", port->name, dev, why);
		else
			XNB_LOG(INFO, "%s: zero copy on: lent pages carry %s", port->name,
				rte_eal_iova_mode() == RTE_IOVA_PA ? "their physical address" :
				"their virtual address, no port DMAs");
	}
	__atomic_store_n(&port->no_lend, why != NULL, __ATOMIC_RELEASE);
}

static int
xnb_port_event_cb(uint16_t port_id, enum rte_eth_event_type ev, void *arg,
		  void *ret __rte_unused)
{
	xnb_port_lend_check(arg, ev == RTE_ETH_EVENT_DESTROY ? port_id : RTE_MAX_ETHPORTS);
	return 0;
}

/* ---- eth_dev_ops -------------------------------------------------------------- */

/* What the application takes decides how guest offloads reach it (xnb_rx.c). */
static int
xnb_dev_configure(struct rte_eth_dev *dev)
{
	struct xnb_port *port = dev->data->dev_private;
	const struct rte_eth_conf *c = &dev->data->dev_conf;

	/* An application that asks for L4 checksums on TX knows what a
	 * checksum request in an mbuf is; RX checksum offload alone (OVS with
	 * userspace TSO off) does not say so. */
	port->partial_csum = c->txmode.offloads & (RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
						   RTE_ETH_TX_OFFLOAD_UDP_CKSUM |
						   RTE_ETH_TX_OFFLOAD_TCP_TSO);
	port->rx_ip_csum = c->rxmode.offloads & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
	/* The ethdev contract: without RX scatter, one segment per frame.
	 * Zero copy lends pages as segments behind a header mbuf, so it
	 * needs an application that takes chains. */
	port->rx_linear = !(c->rxmode.offloads & RTE_ETH_RX_OFFLOAD_SCATTER);
	xnb_port_lend_check(port, RTE_MAX_ETHPORTS);
	/* A guest gets no more queues than the application polls: offered
	 * from now on (the backend waits for this to advertise, xnb_xenbus.c). */
	port->app_queues = RTE_MIN(port->max_queues, RTE_MIN(dev->data->nb_rx_queues,
							     dev->data->nb_tx_queues));
	if (port->connected && port->nb_queues > port->app_queues)
		XNB_LOG(WARNING, "%s: guest %u uses %u queues, %u configured now: the others "
			"are not polled until it reconnects", port->name, port->domid,
			port->nb_queues, port->app_queues);
	xnb_xenbus_kick(port);
	if (port->rx_linear && port->copy_mode == XNB_COPY_LAZY)
		XNB_LOG(NOTICE, "%s: RX scatter not enabled: every frame comes in one "
			"segment (copied; larger than an mbuf: in a buffer of its own), "
			"so zero copy is off on this port", port->name);
	return 0;
}

static int
xnb_dev_infos_get(struct rte_eth_dev *dev, struct rte_eth_dev_info *info)
{
	struct xnb_port *port = dev->data->dev_private;

	info->max_mac_addrs = 1;
	info->max_rx_queues = port->max_queues;
	info->max_tx_queues = port->max_queues;
	info->max_rx_pktlen = XEN_NETIF_MAX_TX_SIZE;
	info->min_mtu = RTE_ETHER_MIN_MTU;
	info->max_mtu = XEN_NETIF_MAX_TX_SIZE - RTE_ETHER_HDR_LEN;
	info->min_rx_bufsize = 0;
	/* Scatter (chains, and zero copy) unless rx_scatter=0: OVS turns it on
	 * for MTUs above 1500 but cannot take chains (docs/ovs.md). */
	info->rx_offload_capa = (port->rx_scatter ? RTE_ETH_RX_OFFLOAD_SCATTER : 0) |
		RTE_ETH_RX_OFFLOAD_TCP_LRO | RTE_ETH_RX_OFFLOAD_IPV4_CKSUM |
		RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM |
		RTE_ETH_RX_OFFLOAD_RSS_HASH;
	/* The IPv4 header checksum is done in software (netif has no flag for
	 * it): OVS enables TSO only with all four. */
	info->tx_offload_capa = RTE_ETH_TX_OFFLOAD_MULTI_SEGS |
		RTE_ETH_TX_OFFLOAD_IPV4_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_CKSUM |
		RTE_ETH_TX_OFFLOAD_UDP_CKSUM | RTE_ETH_TX_OFFLOAD_TCP_TSO;
	info->default_rxportconf.burst_size = XNB_BURST_MAX;
	info->default_txportconf.burst_size = XNB_BURST_MAX;
	return 0;
}

/* The port and its queues started or stopped; the xenbus side is told. */
static void
xnb_dev_set_started(struct rte_eth_dev *dev, bool started)
{
	struct xnb_port *port = dev->data->dev_private;
	uint8_t state = started ? RTE_ETH_QUEUE_STATE_STARTED : RTE_ETH_QUEUE_STATE_STOPPED;

	port->started = started;
	dev->data->dev_started = started;
	for (uint16_t i = 0; i < dev->data->nb_rx_queues; i++)
		dev->data->rx_queue_state[i] = state;
	for (uint16_t i = 0; i < dev->data->nb_tx_queues; i++)
		dev->data->tx_queue_state[i] = state;
	xnb_xenbus_kick(port);
}

static int
xnb_dev_start(struct rte_eth_dev *dev)
{
	/* A frontend that was waiting for us connects now. */
	xnb_dev_set_started(dev, true);
	return 0;
}

/*
 * The guest stays connected (its TX waits, as behind a vif whose carrier is
 * off): OVS stops and starts ports to reconfigure them, and a Linux netfront
 * does not reconnect after its backend closed.
 */
static int
xnb_dev_stop(struct rte_eth_dev *dev)
{
	xnb_dev_set_started(dev, false);
	return 0;
}

static int
xnb_dev_close(struct rte_eth_dev *dev)
{
	struct xnb_port *port = dev->data->dev_private;

	if (rte_eal_process_type() != RTE_PROC_PRIMARY || port == NULL)
		return 0;
	xnb_xenbus_fini(port);
	rte_eal_alarm_cancel(xnb_tick, port);
	rte_eth_dev_callback_unregister(RTE_ETH_ALL, RTE_ETH_EVENT_NEW, xnb_port_event_cb,
					port);
	rte_eth_dev_callback_unregister(RTE_ETH_ALL, RTE_ETH_EVENT_DESTROY, xnb_port_event_cb,
					port);
	for (uint16_t i = 0; i < XNB_MAX_QUEUES; i++) {
		struct xnb_queue *q = &port->queues[i];

		xnb_rxq_fini(&q->rx);
		xnb_txq_fini(&q->tx);
		if (q->evt != NULL)
			port->plat->evt_close(q->evt);
		q->evt = q->rx.evt = q->tx.evt = NULL;
	}
	if (dev->intr_handle != NULL) {
		rte_intr_vec_list_free(dev->intr_handle);
		rte_intr_instance_free(dev->intr_handle);
		dev->intr_handle = NULL;
	}
	if (port->gnt != NULL) {
		port->plat->gnt_close(port->gnt);
		port->gnt = NULL;
	}
	/* mac_addrs points into the port: not rte_free'd by the release. */
	dev->data->mac_addrs = NULL;
	return 0;
}

/* The link is kept current by the state machine: nothing to ask. */
static int
xnb_link_update(struct rte_eth_dev *dev __rte_unused, int wait __rte_unused)
{
	return 0;
}

static int
xnb_rx_queue_setup(struct rte_eth_dev *dev, uint16_t qid, uint16_t nb_desc __rte_unused,
		   unsigned int socket __rte_unused,
		   const struct rte_eth_rxconf *conf __rte_unused, struct rte_mempool *mp)
{
	struct xnb_port *port = dev->data->dev_private;
	struct xnb_rxq *rxq = &port->queues[qid].rx;

	rxq->mp = mp;
	dev->data->rx_queues[qid] = rxq;
	return 0;
}

static int
xnb_tx_queue_setup(struct rte_eth_dev *dev, uint16_t qid, uint16_t nb_desc __rte_unused,
		   unsigned int socket __rte_unused,
		   const struct rte_eth_txconf *conf __rte_unused)
{
	struct xnb_port *port = dev->data->dev_private;
	struct xnb_txq *txq = &port->queues[qid].tx;

	dev->data->tx_queues[qid] = txq;
	return 0;
}

static int
xnb_mtu_set(struct rte_eth_dev *dev, uint16_t mtu)
{
	struct xnb_port *port = dev->data->dev_private;

	port->mtu = mtu;
	return 0;
}

static int
xnb_stats_get(struct rte_eth_dev *dev, struct rte_eth_stats *st)
{
	struct xnb_port *port = dev->data->dev_private;

	for (uint16_t i = 0; i < dev->data->nb_rx_queues; i++) {
		const struct xnb_rxq *q = &port->queues[i].rx;

		st->ipackets += q->pkts;
		st->ibytes += q->bytes;
		st->ierrors += q->errors;
		st->imissed += q->missed;
		if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			st->q_ipackets[i] = q->pkts;
			st->q_ibytes[i] = q->bytes;
		}
	}
	for (uint16_t i = 0; i < dev->data->nb_tx_queues; i++) {
		const struct xnb_txq *q = &port->queues[i].tx;

		st->opackets += q->pkts;
		st->obytes += q->bytes;
		st->oerrors += q->errors;
		if (i < RTE_ETHDEV_QUEUE_STAT_CNTRS) {
			st->q_opackets[i] = q->pkts;
			st->q_obytes[i] = q->bytes;
		}
	}
	return 0;
}

static int
xnb_stats_reset(struct rte_eth_dev *dev)
{
	struct xnb_port *port = dev->data->dev_private;

	for (uint16_t i = 0; i < XNB_MAX_QUEUES; i++) {
		struct xnb_rxq *r = &port->queues[i].rx;
		struct xnb_txq *t = &port->queues[i].tx;

		r->pkts = r->bytes = r->errors = r->missed = 0;
		t->pkts = t->bytes = t->errors = 0;
		memset(&r->xs, 0, sizeof(r->xs));
		memset(&t->xs, 0, sizeof(t->xs));
		if (r->lt != NULL)
			xnb_lt_stats_reset(r->lt);
	}
	return 0;
}

/*
 * xstats: each queue counter summed over the queues under its name
 * ("rx_hypercalls_copy"), then per queue ("rx_q0_hypercalls_copy"), then the
 * port's own. Names and offsets come from the X-macro lists: the queue's
 * (xnb_internal.h) and its tracker's (xnb_lifetime.h) for rx.
 */
enum xnb_xstat_src { XNB_SRC_RXQ, XNB_SRC_LT, XNB_SRC_TXQ };

struct xnb_xstat {
	const char *name;	/* without the rx_/tx_ prefix */
	uint8_t src;
	size_t off;
};

#define XNB_XSTAT_RXQ(name, field) 	{ name, XNB_SRC_RXQ, offsetof(struct xnb_rxq_xstats, field) },
#define XNB_XSTAT_LT(name, field) 	{ name, XNB_SRC_LT, offsetof(struct xnb_lt_stats, field) },
#define XNB_XSTAT_TXQ(name, field) 	{ name, XNB_SRC_TXQ, offsetof(struct xnb_txq_xstats, field) },
static const struct xnb_xstat xnb_rx_xstats[] = {
	XNB_RXQ_XSTATS(XNB_XSTAT_RXQ)
	XNB_LT_XSTATS(XNB_XSTAT_LT)
};
static const struct xnb_xstat xnb_tx_xstats[] = { XNB_TXQ_XSTATS(XNB_XSTAT_TXQ) };

#define XNB_PORT_XSTATS(X) \
	X("guest_connects", connects) \
	X("guest_disconnects", disconnects) \
	X("guest_fatal_errors", fatal_errors) \
	X("guest_mcast_addresses", mcast.n)
#define XNB_GNT_XSTATS(X) \
	X("rx_syscalls_map", map_syscalls) \
	X("rx_syscalls_unmap", unmap_syscalls) \
	X("rx_pages_mapped", pages_mapped) \
	X("gnt_page_release", page_release)
#define XNB_XSTAT_NAME(name, field) name,
static const char *const xnb_port_xstat_names[] = {
	XNB_PORT_XSTATS(XNB_XSTAT_NAME)
	XNB_GNT_XSTATS(XNB_XSTAT_NAME)
};

static unsigned int
xnb_xstats_count(const struct rte_eth_dev *dev)
{
	return RTE_DIM(xnb_rx_xstats) * (1 + dev->data->nb_rx_queues) +
	       RTE_DIM(xnb_tx_xstats) * (1 + dev->data->nb_tx_queues) +
	       RTE_DIM(xnb_port_xstat_names);
}

/* One direction's names (dir "rx" or "tx", list d of n) from names[k]: the
 * sums over its queues ("rx_NAME"), then each queue's ("rx_q0_NAME", ...).
 * The index after them. */
static unsigned int
xnb_xstats_names_dir(struct rte_eth_xstat_name *names, unsigned int k, const char *dir,
		     const struct xnb_xstat *d, unsigned int n, uint16_t nb_queues)
{
	for (unsigned int i = 0; i < n; i++)
		snprintf(names[k++].name, sizeof(names[0].name), "%s_%s", dir, d[i].name);
	for (uint16_t q = 0; q < nb_queues; q++)
		for (unsigned int i = 0; i < n; i++)
			snprintf(names[k++].name, sizeof(names[0].name), "%s_q%u_%s", dir, q,
				 d[i].name);
	return k;
}

static int
xnb_xstats_get_names(struct rte_eth_dev *dev, struct rte_eth_xstat_name *names,
		     unsigned int size)
{
	unsigned int n = xnb_xstats_count(dev), k = 0;

	if (names == NULL || size < n)
		return n;
	k = xnb_xstats_names_dir(names, k, "rx", xnb_rx_xstats, RTE_DIM(xnb_rx_xstats),
				 dev->data->nb_rx_queues);
	k = xnb_xstats_names_dir(names, k, "tx", xnb_tx_xstats, RTE_DIM(xnb_tx_xstats),
				 dev->data->nb_tx_queues);
	for (unsigned int i = 0; i < RTE_DIM(xnb_port_xstat_names); i++)
		strlcpy(names[k++].name, xnb_port_xstat_names[i], sizeof(names[0].name));
	return n;
}

/* Writes one queue's counters of list d (n entries) at xs[k...] and adds
 * them to the sums at xs[sum...]. */
static void
xnb_xstats_queue(const struct xnb_xstat *d, unsigned int n, const void *const *src,
		 struct rte_eth_xstat *xs, unsigned int sum, unsigned int k)
{
	for (unsigned int i = 0; i < n; i++) {
		uint64_t v = 0;

		if (src[d[i].src] != NULL)
			memcpy(&v, (const uint8_t *)src[d[i].src] + d[i].off, sizeof(v));
		xs[k + i].value = v;
		xs[sum + i].value += v;
	}
}

static int
xnb_xstats_get(struct rte_eth_dev *dev, struct rte_eth_xstat *xs, unsigned int size)
{
	struct xnb_port *port = dev->data->dev_private;
	unsigned int n = xnb_xstats_count(dev), k = 0, sum;
	struct xnb_gnt_stats gs = { 0 };

	if (xs == NULL || size < n)
		return n;
	for (unsigned int i = 0; i < n; i++) {
		xs[i].id = i;
		xs[i].value = 0;
	}
	sum = k;
	k += RTE_DIM(xnb_rx_xstats);
	for (uint16_t q = 0; q < dev->data->nb_rx_queues; q++) {
		const struct xnb_rxq *r = &port->queues[q].rx;
		struct xnb_lt_stats lt;
		const void *src[] = { [XNB_SRC_RXQ] = &r->xs, [XNB_SRC_LT] = NULL };

		if (r->lt != NULL) {
			xnb_lt_stats_get(r->lt, &lt);
			src[XNB_SRC_LT] = &lt;
		}
		xnb_xstats_queue(xnb_rx_xstats, RTE_DIM(xnb_rx_xstats), src, xs, sum, k);
		k += RTE_DIM(xnb_rx_xstats);
	}
	sum = k;
	k += RTE_DIM(xnb_tx_xstats);
	for (uint16_t q = 0; q < dev->data->nb_tx_queues; q++) {
		const void *src[] = { [XNB_SRC_TXQ] = &port->queues[q].tx.xs };

		xnb_xstats_queue(xnb_tx_xstats, RTE_DIM(xnb_tx_xstats), src, xs, sum, k);
		k += RTE_DIM(xnb_tx_xstats);
	}
#define XNB_XSTAT_PORT(name, field) xs[k++].value = port->field;
	XNB_PORT_XSTATS(XNB_XSTAT_PORT)
	if (port->gnt != NULL && port->plat->gnt_stats != NULL)
		port->plat->gnt_stats(port->gnt, &gs);
#define XNB_XSTAT_GNT(name, field) xs[k++].value = gs.field;
	XNB_GNT_XSTATS(XNB_XSTAT_GNT)
	return n;
}

/*
 * Rx interrupts: the queue's event-channel fd. Enabling drains what is
 * pending, unmasks, and asks the guest to notify on its next request (the
 * ring's req_event); while polling, the guest is never asked to notify.
 */
static int
xnb_rx_queue_intr_enable(struct rte_eth_dev *dev, uint16_t qid)
{
	struct xnb_port *port = dev->data->dev_private;
	struct xnb_queue *q = &port->queues[qid];
	int p;

	q->rx.intr_enabled = true;
	while ((p = port->plat->evt_pending(q->evt)) >= 0)
		port->plat->evt_unmask(q->evt, p);
	if (xnb_guard_enter(&q->rx.guard)) {
		xnb_rxq_arm(&q->rx);
		xnb_guard_leave(&q->rx.guard);
	}
	return 0;
}

static int
xnb_rx_queue_intr_disable(struct rte_eth_dev *dev, uint16_t qid)
{
	struct xnb_port *port = dev->data->dev_private;

	port->queues[qid].rx.intr_enabled = false;
	return 0;
}

/* A vif sees every frame the switch sends it: there is no filter to set. */
static int
xnb_promiscuous(struct rte_eth_dev *dev __rte_unused)
{
	return 0;
}

static const struct eth_dev_ops xnb_ops = {
	.stats_get = xnb_stats_get,
	.stats_reset = xnb_stats_reset,
	.promiscuous_enable = xnb_promiscuous,
	.promiscuous_disable = xnb_promiscuous,
	.allmulticast_enable = xnb_promiscuous,
	.allmulticast_disable = xnb_promiscuous,
	.dev_configure = xnb_dev_configure,
	.dev_infos_get = xnb_dev_infos_get,
	.dev_start = xnb_dev_start,
	.dev_stop = xnb_dev_stop,
	.dev_close = xnb_dev_close,
	.link_update = xnb_link_update,
	.rx_queue_setup = xnb_rx_queue_setup,
	.tx_queue_setup = xnb_tx_queue_setup,
	.mtu_set = xnb_mtu_set,
	.xstats_get = xnb_xstats_get,
	.xstats_get_names = xnb_xstats_get_names,
	.xstats_reset = xnb_stats_reset,
	.rx_queue_intr_enable = xnb_rx_queue_intr_enable,
	.rx_queue_intr_disable = xnb_rx_queue_intr_disable,
};

/*
 * The service tick (EAL interrupt thread): the lifetime trackers of queues
 * nobody polls, and the link of a port whose guest stalled or came back;
 * every XNB_TICK_US while there is such work, XNB_TICK_IDLE_US otherwise.
 */
static void
xnb_tick(void *arg)
{
	struct xnb_port *port = arg;
	bool stalled = false, busy = false;

	for (uint16_t i = 0; i < port->max_queues; i++) {
		busy |= xnb_rxq_tick(&port->queues[i].rx);
		stalled |= xnb_txq_tick(&port->queues[i].tx);
	}
	if (stalled != port->stalled) {
		pthread_mutex_lock(&port->lock);
		port->stalled = stalled;
		XNB_LOG(NOTICE, "%s: guest %u %s", port->name, port->domid, stalled ?
			"posts no RX buffers: link down, frames to it dropped" :
			"posts RX buffers again: link up");
		xnb_port_link_update(port);
		pthread_mutex_unlock(&port->lock);
	}
	rte_eal_alarm_set(busy || stalled ? XNB_TICK_US : XNB_TICK_IDLE_US, xnb_tick, port);
}

/*
 * Per queue: its event-channel handle (kept for the port's life, so its fd
 * can be the rx interrupt), the bursts' scratch, and the interrupt vector.
 */
static int
xnb_queues_init(struct rte_eth_dev *dev, struct xnb_port *port)
{
	int socket = rte_socket_id(), rc;

	dev->intr_handle = rte_intr_instance_alloc(RTE_INTR_INSTANCE_F_PRIVATE);
	if (dev->intr_handle == NULL)
		return -ENOMEM;
	if (rte_intr_type_set(dev->intr_handle, RTE_INTR_HANDLE_EXT) ||
	    rte_intr_vec_list_alloc(dev->intr_handle, NULL, port->max_queues) ||
	    rte_intr_nb_efd_set(dev->intr_handle, port->max_queues) ||
	    rte_intr_max_intr_set(dev->intr_handle, port->max_queues + 1))
		return -ENOMEM;
	for (uint16_t i = 0; i < port->max_queues; i++) {
		struct xnb_queue *q = &port->queues[i];

		q->port = port;
		q->id = i;
		q->rx.q = q->tx.q = q;
		q->rx.qid = q->tx.qid = i;
		rc = port->plat->evt_open(&q->evt, port->gnt);
		if (rc < 0) {
			XNB_LOG(ERR, "%s: cannot open an event channel handle: %s",
				port->name, strerror(-rc));
			return rc;
		}
		q->rx.evt = q->tx.evt = q->evt;
		rc = xnb_rxq_init(&q->rx, socket);
		if (rc == 0)
			rc = xnb_txq_init(&q->tx, socket);
		if (rc < 0)
			return rc;
		rte_intr_vec_list_index_set(dev->intr_handle, i, RTE_INTR_VEC_RXTX_OFFSET + i);
		rte_intr_efds_index_set(dev->intr_handle, i, port->plat->evt_fd(q->evt));
	}
	return 0;
}

/* ---- vdev ---------------------------------------------------------------------- */

static int
xnb_probe(struct rte_vdev_device *vdev)
{
	const char *name = rte_vdev_device_name(vdev);
	struct rte_eth_dev *dev;
	struct xnb_port *port;
	int rc;

	if (rte_eal_process_type() != RTE_PROC_PRIMARY) {
		XNB_LOG(ERR, "%s: secondary processes are not supported", name);
		return -ENOTSUP;
	}
	dev = rte_eth_vdev_allocate(vdev, sizeof(*port));
	if (dev == NULL) {
		/* Said once here, so a vif without a backend is not silent
		 * (the toolstack would only see InitWait never come). */
		if (rte_eth_dev_count_total() >= RTE_MAX_ETHPORTS)
			XNB_LOG(ERR, "%s (%s): no backend for this vif: the process holds "
				"%u ethdev ports, the most this DPDK was built for "
				"(RTE_MAX_ETHPORTS)", name, rte_vdev_device_args(vdev),
				rte_eth_dev_count_total());
		return -ENOMEM;
	}
	port = dev->data->dev_private;
	port->dev = dev;
	port->port_id = dev->data->port_id;
	snprintf(port->name, sizeof(port->name), "%s", name);
	rc = xnb_parse_args(port, rte_vdev_device_args(vdev));
	if (rc < 0)
		goto fail;
	rc = port->plat->gnt_open(&port->gnt, port->sim_dir);
	if (rc < 0) {
		if (port->plat == &xnb_platform_sim)
			XNB_LOG(ERR, "%s: no simulator running in sim=%s: %s", name,
				port->sim_dir, strerror(-rc));
		else
			XNB_LOG(ERR, "%s: platform=xen: cannot open /dev/xen/gntdev: %s "
				"(not in a Xen domain? platform=sim runs on the simulator)",
				name, strerror(-rc));
		goto fail;
	}
	pthread_mutex_init(&port->lock, NULL);
	rte_spinlock_init(&port->mcast.lock);
	rc = xnb_queues_init(dev, port);
	if (rc < 0)
		goto fail;
	dev->dev_ops = &xnb_ops;
	dev->rx_pkt_burst = xnb_rx_burst;
	dev->tx_pkt_burst = xnb_tx_burst;
	dev->data->mac_addrs = &port->mac;
	dev->data->mtu = port->mtu;
	dev->data->dev_flags |= RTE_ETH_DEV_AUTOFILL_QUEUE_XSTATS | RTE_ETH_DEV_INTR_LSC;
	xnb_port_link_update(port);
	rc = xnb_xenbus_init(port);
	if (rc < 0)
		goto fail;
	rte_eal_alarm_set(XNB_TICK_US, xnb_tick, port);
	if (port->copy_mode == XNB_COPY_LAZY) {
		rte_eth_dev_callback_register(RTE_ETH_ALL, RTE_ETH_EVENT_NEW,
					      xnb_port_event_cb, port);
		rte_eth_dev_callback_register(RTE_ETH_ALL, RTE_ETH_EVENT_DESTROY,
					      xnb_port_event_cb, port);
	}
	rte_eth_dev_probing_finish(dev);
	XNB_LOG(INFO, "%s: vif %u.%u, %u queue(s), platform %s", name, port->domid,
		port->handle, port->max_queues, port->plat->name);
	return 0;
fail:
	xnb_dev_close(dev);
	rte_eth_dev_release_port(dev);
	return rc;
}

static int
xnb_remove(struct rte_vdev_device *vdev)
{
	struct rte_eth_dev *dev = rte_eth_dev_allocated(rte_vdev_device_name(vdev));

	if (dev == NULL)
		return 0;
	xnb_dev_close(dev);
	return rte_eth_dev_release_port(dev);
}

static struct rte_vdev_driver xnb_vdev_drv = {
	.probe = xnb_probe,
	.remove = xnb_remove,
};

RTE_PMD_REGISTER_VDEV(net_xennetback, xnb_vdev_drv);
#define XNB_UINT_PARAM(id, key, syn, min, max, def) key "=" syn " "
#define XNB_STR_PARAM(id, key, syn, def) key "=" syn " "
RTE_PMD_REGISTER_PARAM_STRING(net_xennetback,
	XNB_UINT_ARGS(XNB_UINT_PARAM) XNB_STR_ARGS(XNB_STR_PARAM));
