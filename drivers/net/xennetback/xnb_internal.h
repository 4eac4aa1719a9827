/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * Private structures of the xennetback PMD, shared by its files (the role
 * Linux netback's common.h plays): the port, the netif queues and the
 * counters, plus the prototypes one file offers another.
 *
 * Directions are named from the PMD's side: "rx" is the guest's TX ring
 * (packets from the guest), "tx" is the guest's RX ring.
 */

#ifndef XNB_INTERNAL_H
#define XNB_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <pthread.h>

#include <rte_atomic.h>
#include <rte_dev.h>
#include <rte_ether.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_net.h>
#include <rte_spinlock.h>

#include <xen/io/netif.h>
#include <xen/io/xenbus.h>
/* ring.h (re)defines its barriers as the kernel's mb()/wmb(), which user
 * space lacks: replace them once it is in. */
#undef xen_mb
#undef xen_rmb
#undef xen_wmb
#define xen_mb()	rte_mb()
#define xen_rmb()	rte_rmb()
#define xen_wmb()	rte_wmb()

#include "xnb_platform.h"

extern int xnb_logtype;
#define XNB_LOG(level, fmt, ...) \
	rte_log(RTE_LOG_ ## level, xnb_logtype, "%s(): " fmt "\n", \
		__func__, ##__VA_ARGS__)

#define XNB_PAGE_SIZE		(1u << XEN_PAGE_SHIFT)
#define XNB_MAX_QUEUES		8
#define XNB_BURST_MAX		32	/* internal batch; bursts are split */
/* A packet may use this many TX slots; more is dropped, past
 * XNB_FATAL_SLOTS the ring is considered broken (Linux netback's
 * max_skb_slots / fatal_skb_slots). */
#define XNB_MAX_SLOTS		XEN_NETIF_NR_SLOTS_MIN
#define XNB_FATAL_SLOTS		20
#define XNB_MAX_EXTRAS		(XEN_NETIF_EXTRA_TYPE_MAX - 1)

enum xnb_copy_mode {
	XNB_COPY_LAZY,		/* zero copy, lingering mbufs copied out (default) */
	XNB_COPY_ALWAYS,	/* grant-copy every packet (netloop-style baseline) */
};

/* Zero-copy defaults (devargs aging_ms, header_copy, copy_threshold). */
#define XNB_DEFAULT_AGING_MS		500
#define XNB_DEFAULT_HEADER_COPY		128	/* Ethernet + IPv6 + TCP with options */
#define XNB_DEFAULT_COPY_THRESHOLD	2048	/* docs/performance.md, copy_threshold */
#define XNB_DEFAULT_RX_STALL_MS		60000	/* Linux netback's rx_stall_timeout */
#define XNB_MAX_HEADER_COPY		1024
/* A guest has at most this many TX requests unanswered: the bound on the
 * pages a queue can have mapped. */
#define XNB_RING_SLOTS		__CONST_RING_SIZE(netif_tx, XNB_PAGE_SIZE)

/* The lifetime tracker's service tick: freed slots of an idle queue are
 * unmapped, and old ones copied out, at least this often while a queue of
 * the port has guest pages in use or the guest is stalled; otherwise at
 * the idle pace (a slot lent meanwhile is seen up to that much later), so
 * that hundreds of quiet ports cost the EAL interrupt thread little. */
#define XNB_TICK_US		10000
#define XNB_TICK_IDLE_US	100000

/* Per-queue counters reported as xstats, declared once: X(name, field);
 * the name goes after rx_ or tx_ (rte_eth_xennetback.c). */
#define XNB_RXQ_XSTATS(X) \
	X("good_packets_copied", copied_pkts) \
	X("bad_requests", bad_requests) \
	X("dropped_oversize_slots", drop_slots) \
	X("mbuf_alloc_failed", mbuf_alloc_failed) \
	X("copy_errors", copy_errors) \
	X("slots_1", slots_1) \
	X("slots_2_4", slots_2_4) \
	X("slots_5_plus", slots_5_plus) \
	X("gso_packets", gso_pkts) \
	X("hash_packets", hash_pkts) \
	X("mcast_requests", mcast_reqs) \
	X("csum_blank", csum_blank) \
	X("csum_completed", csum_completed) \
	X("hypercalls_copy", hc_copy) \
	X("copy_ops", copy_ops) \
	X("bytes_copied", bytes_copied) \
	X("notify_sent", notify_sent) \
	X("notify_suppressed", notify_suppressed) \
	X("zerocopy_packets", zc_pkts) \
	X("copybreak_packets", copybreak_pkts) \
	X("header_bytes_copied", header_bytes) \
	X("arena_full_fallbacks", arena_full) \
	X("map_errors", map_errors) \
	X("dropped_bad_gso", drop_bad_gso) \
	X("rate_limited", rate_limited) \
	X("dropped_bad_csum", drop_bad_csum) \
	X("dropped_header_changed", drop_hdr_changed) \
	X("dropped_header_too_long", drop_hdr_long) \
	X("linear_packets", linear_pkts) \
	X("linear_extbuf_packets", linear_extbuf) \
	X("linear_nomem", linear_nomem) \
	X("linear_too_long", linear_too_long) \
	X("copied_dma_unsafe", dma_unsafe) \
	X("bursts_busy", bursts) \
	X("cycles_busy", cycles_busy) \
	X("polls_empty", polls_empty) \
	X("cycles_empty", cycles_empty)

#define XNB_TXQ_XSTATS(X) \
	X("guest_ring_full", ring_full) \
	X("dropped_no_sg", drop_no_sg) \
	X("dropped_too_big", drop_too_big) \
	X("dropped_bad_gso", drop_bad_gso) \
	X("copy_errors", copy_errors) \
	X("gso_packets", gso_pkts) \
	X("dropped_bad_chain", drop_bad_chain) \
	X("dropped_bad_csum", drop_bad_csum) \
	X("csum_offloaded", csum_offloaded) \
	X("csum_completed", csum_completed) \
	X("hypercalls_copy", hc_copy) \
	X("copy_ops", copy_ops) \
	X("bytes_copied", bytes_copied) \
	X("notify_sent", notify_sent) \
	X("notify_suppressed", notify_suppressed) \
	X("dropped_stalled", drop_stalled) \
	X("dropped_mcast_filter", drop_mcast) \
	X("steered_packets", steered) \
	X("bursts_busy", bursts) \
	X("cycles_busy", cycles_busy)

#define XNB_XSTAT_FIELD(name, field) uint64_t field;

struct xnb_rxq_xstats {
	XNB_RXQ_XSTATS(XNB_XSTAT_FIELD)
};

struct xnb_txq_xstats {
	XNB_TXQ_XSTATS(XNB_XSTAT_FIELD)
};

struct xnb_port;
struct xnb_queue;

/*
 * Datapath entry guard, the vhost PMD's allow/while-queuing handshake: the
 * control thread clears "allowed" and waits for "busy" (a count: the burst
 * and the service tick may both be inside) to drop to zero before it unmaps
 * a ring, so nothing touches a ring being torn down.
 */
struct xnb_guard {
	uint32_t allowed;
	uint32_t busy;
};

/* ethdev rx queue: the guest's TX ring. */
struct xnb_rxq {
	struct xnb_queue *q;
	struct rte_mempool *mp;
	uint16_t qid;
	struct xnb_guard guard;
	netif_tx_back_ring_t ring;	/* valid while connected */
	uint32_t evtchn;		/* local port the guest's TX events arrive on */
	struct xnb_evt *evt;		/* the queue's handle; its fd is the rx interrupt */
	bool intr_enabled;
	uint64_t pkts, bytes, errors, missed;
	struct xnb_rxq_xstats xs;
	/* Per-burst scratch, kept here rather than on the lcore's stack. */
	struct xnb_rx_scratch *scratch;
	/* Zero copy: the guest pages lent out. The burst and the service
	 * tick both reap it; the lock keeps them from doing so at once. */
	struct xnb_lt *lt;
	rte_spinlock_t lt_lock;
	/* The guest's TX rate limit (Linux netback's credit scheduler): bytes
	 * it may still send in the window that started at credit_start. */
	struct xnb_credit {
		uint32_t gen;		/* of port->rate this was set from */
		uint64_t bytes;		/* per window; 0: unlimited */
		uint64_t window;	/* TSC cycles */
		uint64_t start;
		uint64_t remaining;
	} credit;
};

/* ethdev tx queue: the guest's RX ring. */
struct xnb_txq {
	struct xnb_queue *q;
	uint16_t qid;
	struct xnb_guard guard;
	netif_rx_back_ring_t ring;	/* valid while connected */
	uint32_t evtchn;		/* same as rxq's unless split channels */
	struct xnb_evt *evt;		/* the queue's handle (shared with rxq) */
	/* Held by a burst on this ring: the application's own lcore, or one
	 * steering frames here (xnb_tx.c). */
	rte_spinlock_t lock;
	/* The guest has posted no buffers since stall_since (TSC, 0: it has
	 * some); stalled once that lasted stall_tsc (xnb_tx.c). */
	uint64_t stall_since, stall_tsc;
	uint32_t stalled;
	uint64_t pkts, bytes, errors;
	struct xnb_txq_xstats xs;
	struct xnb_tx_scratch *scratch;
};

/* One netif queue: a ring pair and its channel(s). */
struct xnb_queue {
	struct xnb_port *port;
	uint16_t id;
	struct xnb_rxq rx;
	struct xnb_txq tx;
	void *tx_sring;			/* mapped guest pages, NULL when down */
	void *rx_sring;
	struct xnb_evt *evt;		/* opened at probe, kept for the port's life */
	bool split_evtchn;
	/* Set by a burst that found the ring state broken; the control
	 * thread disconnects the guest (a burst cannot tear down its own ring). */
	uint32_t fatal;
};

/*
 * How frames to the guest are hashed and steered, as its control ring set
 * it (xnb_ctrl.c). Linux netback's limits: a 40-byte key, 128 entries.
 */
#define XNB_HASH_KEY_MAX	40
#define XNB_HASH_MAPPING_MAX	128

struct xnb_hash {
	uint32_t alg;		/* XEN_NETIF_CTRL_HASH_ALGORITHM_* */
	uint32_t flags;		/* XEN_NETIF_CTRL_HASH_TYPE_* */
	uint8_t key[XNB_HASH_KEY_MAX];
	uint32_t size;		/* mapping entries in use; 0: hash % queues */
	uint32_t mapping[XNB_HASH_MAPPING_MAX];
};

struct xnb_ctrl;

/* What the frontend asked for at connect time (read from its xenstore dir). */
struct xnb_frontend_features {
	bool sg;
	bool gso_tcpv4;
	bool gso_tcpv6;
	bool csum;		/* !feature-no-csum-offload */
	bool ipv6_csum;
	bool rx_notify;
	bool mcast_ctrl;	/* filter multicast frames to it by its list */
};

/* The multicast addresses a guest subscribed with MCAST_ADD extras (Linux
 * netback's limit: 64). Added by rx bursts, read by tx bursts. */
#define XNB_MCAST_MAX	64

struct xnb_mcast {
	rte_spinlock_t lock;
	uint32_t n;
	struct rte_ether_addr addr[XNB_MCAST_MAX];
};

struct xnb_port {
	struct rte_eth_dev *dev;
	uint16_t port_id;		/* the ethdev's, for mbuf->port */
	char name[RTE_DEV_NAME_MAX_LEN];

	/* devargs */
	uint16_t domid;			/* the guest */
	uint16_t backend_domid;		/* us (0 in dom0) */
	uint32_t handle;		/* vif number */
	uint16_t max_queues;
	uint16_t mtu;
	struct rte_ether_addr mac;
	enum xnb_copy_mode copy_mode;
	uint32_t aging_ms;		/* 0: never copy out for age */
	uint16_t header_copy;		/* bytes grant-copied ahead of a zero-copy tail */
	uint16_t copy_threshold;	/* copybreak: frames up to this are copied */
	uint16_t max_mapped;		/* per queue */
	uint32_t rx_stall_ms;		/* a guest without RX buffers this long: link down */
	bool rx_scatter;		/* advertise RTE_ETH_RX_OFFLOAD_SCATTER */
	/* From the application's port configuration (dev_configure). */
	bool partial_csum;		/* it takes partial L4 checksums (RX_L4_CKSUM_NONE) */
	bool rx_linear;			/* single-segment frames only (no RX scatter) */
	/* Queues the application configured (both directions): the most a
	 * guest is offered; 0 until dev_configure, and no InitWait before. */
	uint16_t app_queues;
	/* 1: lent pages would carry no IOVA some port can use (xnb_port_lend_check) */
	uint32_t no_lend;
	bool rx_ip_csum;		/* it wants RX IPv4 header checksum flags */
	char sim_dir[256];

	const struct xnb_platform_ops *plat;
	struct xnb_gnt *gnt;

	/* xenstore side, owned by xnb_xenbus.c */
	struct xnb_xenbus *xb;

	/* the connection, changed only by the control thread under lock */
	pthread_mutex_t lock;
	uint16_t nb_queues;		/* in use by the frontend */
	struct xnb_frontend_features fe;
	bool connected;
	bool started;
	bool stalled;			/* some queue's guest stalled: link down */
	struct xnb_queue queues[XNB_MAX_QUEUES];

	uint64_t connects, disconnects, fatal_errors;
	/* The first fatal error of a connection (xnb_queue_fatal) and the hook
	 * that has the state machine act on it. */
	uint32_t fatal_claimed;
	char fatal_why[160];
	void (*on_fatal)(struct xnb_port *port);

	/* The control ring, while the frontend gave one (xnb_ctrl.c), and the
	 * hash state it sets: written there, read by tx bursts. */
	struct xnb_ctrl *ctrl;
	uint32_t hash_seq;		/* a seqlock: odd while hash is written */
	struct xnb_hash hash;

	struct xnb_mcast mcast;

	/* The `rate` key of the backend directory ("bytes,usec", as libxl
	 * writes it), read at every xenstore event: a seqlock again. */
	struct {
		uint32_t seq;
		uint64_t bytes;		/* 0: unlimited */
		uint64_t usec;
	} rate;
};

/* xnb_xenbus.c: the backend state machine, called from the ethdev ops. */
int xnb_xenbus_init(struct xnb_port *port);	/* at probe: watch, InitWait */
void xnb_xenbus_fini(struct xnb_port *port);	/* at close: Closed, tear down */
/* dev_configure, dev_start: advertise, or connect a frontend that waited. */
void xnb_xenbus_kick(struct xnb_port *port);

/* What the frontend wrote for one queue and for the connection, read by the
 * state machine (xnb_xenbus.c) for the connection (xnb_queue.c). */
struct xnb_queue_keys {
	uint32_t tx_ref, rx_ref;
	uint32_t evtchn_tx;		/* event-channel-tx, or event-channel */
	uint32_t evtchn_rx;		/* event-channel-rx when split */
	bool split;
};

struct xnb_conn_keys {
	uint16_t nb_queues;
	struct xnb_queue_keys q[XNB_MAX_QUEUES];
	struct xnb_frontend_features fe;
	bool ctrl;			/* ctrl-ring-ref and event-channel-ctrl given */
	uint32_t ctrl_ref, ctrl_evtchn;
};

/* xnb_queue.c: the connection (Linux netback's interface.c); port lock held. */
int xnb_connect(struct xnb_port *port, const struct xnb_conn_keys *k);
void xnb_disconnect(struct xnb_port *port);	/* quiesces the bursts first */
/* Link up while connected, started and not stalled (port lock held). */
void xnb_port_link_update(struct xnb_port *port);
void xnb_guard_close(struct xnb_guard *g);	/* waits for a burst in flight */


/* xnb_rx.c: the guest's rate limit changed (control thread). */
void xnb_port_rate_set(struct xnb_port *port, uint64_t bytes, uint64_t usec);

/* xnb_ctrl.c: the control ring, connected with the queues (port lock held). */
int xnb_ctrl_connect(struct xnb_port *port, uint32_t gref, uint32_t remote_port);
void xnb_ctrl_disconnect(struct xnb_port *port);

/* xnb_filter.c: the hash state (written by the control ring, read by tx
 * bursts) and the multicast list (written by rx bursts, read by tx). */
void xnb_hash_get(struct xnb_port *port, struct xnb_hash *h);
void xnb_hash_set(struct xnb_port *port, const struct xnb_hash *h);
uint32_t xnb_hash_frame(const struct xnb_hash *h, const struct rte_mbuf *m, uint8_t *type);
bool xnb_mcast_update(struct xnb_port *port, uint8_t op, const uint8_t *addr);
bool xnb_mcast_match(struct xnb_port *port, const struct rte_ether_addr *addr);
void xnb_mcast_clear(struct xnb_port *port);

/*
 * xnb_csum.c: completes the TCP or UDP checksum of m, whose first hlen
 * bytes are at h (the first segment itself, or a private copy of the
 * headers; the checksum field there is written). ptype and hl locate real
 * IP and L4 headers within h. false: the IP length and the frame disagree.
 */
bool xnb_csum_l4(const struct rte_mbuf *m, uint8_t *h, uint32_t hlen, uint32_t ptype,
		 const struct rte_net_hdr_lens *hl);

/*
 * A burst found the ring state itself broken (Linux netback's
 * xenvif_fatal_tx_err): it stops using the queue at once; the first reason
 * is kept and the port's hook (the state machine's) disconnects the guest
 * from the control thread, writing an error node. Any lcore.
 */
static inline void
xnb_queue_fatal(struct xnb_queue *q, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static inline void
xnb_queue_fatal(struct xnb_queue *q, const char *fmt, ...)
{
	struct xnb_port *port = q->port;
	uint32_t zero = 0;
	va_list ap;
	int n;

	if (!__atomic_compare_exchange_n(&q->fatal, &zero, 1, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	zero = 0;
	if (__atomic_compare_exchange_n(&port->fatal_claimed, &zero, 1, false,
					__ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		n = snprintf(port->fatal_why, sizeof(port->fatal_why), "queue %u: ", q->id);
		va_start(ap, fmt);
		vsnprintf(port->fatal_why + n, sizeof(port->fatal_why) - n, fmt, ap);
		va_end(ap);
	}
	if (port->on_fatal != NULL)
		port->on_fatal(port);
}

/* xnb_rx.c / xnb_tx.c: the bursts and their per-queue state. */
uint16_t xnb_rx_burst(void *rxq, struct rte_mbuf **pkts, uint16_t nb_pkts);
uint16_t xnb_tx_burst(void *txq, struct rte_mbuf **pkts, uint16_t nb_pkts);
int xnb_rxq_init(struct xnb_rxq *rxq, int socket);
void xnb_rxq_fini(struct xnb_rxq *rxq);
int xnb_txq_init(struct xnb_txq *txq, int socket);
void xnb_txq_fini(struct xnb_txq *txq);
/* The service tick: true while the guest of this queue is stalled. */
bool xnb_txq_tick(struct xnb_txq *txq);
/* Connect time: the guest's TX ring is attached (arms it in rx interrupt mode). */
void xnb_rxq_attach(struct xnb_rxq *rxq);
/* Rx interrupt: arm the guest's TX ring for a notification. */
void xnb_rxq_arm(struct xnb_rxq *rxq);
/* Disconnect: copy out every guest page still lent, answer the guest. */
void xnb_rxq_flush(struct xnb_rxq *rxq);
/* The service tick (EAL alarm thread): reap a queue the application has
 * stopped polling. Returns whether the queue still has guest pages in use
 * (the tick's pace). */
bool xnb_rxq_tick(struct xnb_rxq *rxq);

/* The guard, for the control thread. */
static inline void
xnb_guard_open(struct xnb_guard *g)
{
	__atomic_store_n(&g->allowed, 1, __ATOMIC_SEQ_CST);
}

/* The guard, for the datapath: false means return 0 now. */
static inline bool
xnb_guard_enter(struct xnb_guard *g)
{
	if (!__atomic_load_n(&g->allowed, __ATOMIC_ACQUIRE))
		return false;
	__atomic_fetch_add(&g->busy, 1, __ATOMIC_SEQ_CST);
	if (unlikely(!__atomic_load_n(&g->allowed, __ATOMIC_SEQ_CST))) {
		__atomic_fetch_sub(&g->busy, 1, __ATOMIC_RELEASE);
		return false;
	}
	return true;
}

static inline void
xnb_guard_leave(struct xnb_guard *g)
{
	__atomic_fetch_sub(&g->busy, 1, __ATOMIC_RELEASE);
}

/* Where every burst starts: inside the guard, on a queue the guest has not
 * broken. false: return 0 at once. */
static inline bool
xnb_burst_enter(struct xnb_guard *g, const struct xnb_queue *q)
{
	if (unlikely(!xnb_guard_enter(g)))
		return false;
	if (unlikely(__atomic_load_n(&q->fatal, __ATOMIC_RELAXED))) {
		xnb_guard_leave(g);
		return false;
	}
	return true;
}

/*
 * Where every burst ends: the responses written since 'answered' become
 * visible (one store of rsp_prod; the macro fits both netif rings) and the
 * guest is notified if it asked to be. Counted in xs->notify_sent and, when
 * counted, xs->notify_suppressed.
 */
#define XNB_PUSH(ring, answered, q, evt, evtchn, xs, counted) do {		\
	int notify_;								\
										\
	if ((ring)->rsp_prod_pvt == (answered))				\
		break;								\
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(ring, notify_);			\
	if (notify_) {								\
		(q)->port->plat->evt_notify(evt, evtchn);			\
		(xs)->notify_sent++;						\
	} else if (counted) {							\
		(xs)->notify_suppressed++;					\
	}									\
} while (0)

/*
 * A grant-copy segment, the unit of every copy between guest and backend.
 * From the guest: ref of domid at off, into local memory.
 */
static inline void
xnb_seg_from_guest(xengnttab_grant_copy_segment_t *g, uint16_t domid, uint32_t ref,
		   uint32_t off, void *dst, uint32_t len)
{
	g->source.foreign.ref = ref;
	g->source.foreign.domid = domid;
	g->source.foreign.offset = off;
	g->dest.virt = dst;
	g->len = len;
	g->flags = GNTCOPY_source_gref;
	g->status = GNTST_okay;
}

/* Into the guest's ref of domid at off, from local memory (src) or, src
 * NULL, from another guest's grant (sref of sdom at soff). */
static inline void
xnb_seg_to_guest(xengnttab_grant_copy_segment_t *g, uint16_t domid, uint32_t ref,
		 uint32_t off, const void *src, uint16_t sdom, uint32_t sref,
		 uint32_t soff, uint32_t len)
{
	if (src == NULL) {
		g->source.foreign.ref = sref;
		g->source.foreign.domid = sdom;
		g->source.foreign.offset = soff;
	} else {
		g->source.virt = (void *)(uintptr_t)src;
	}
	g->dest.foreign.ref = ref;
	g->dest.foreign.domid = domid;
	g->dest.foreign.offset = off;
	g->len = len;
	g->flags = GNTCOPY_dest_gref | (src == NULL ? GNTCOPY_source_gref : 0);
	g->status = GNTST_okay;
}

#endif /* XNB_INTERNAL_H */
