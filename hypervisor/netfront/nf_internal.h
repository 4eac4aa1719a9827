/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * Private to the netfront library: the device and queue structs shared by
 * the xenbus/lifecycle code (netfront.c) and the two datapath files
 * (nf_tx.c, nf_rx.c), and the helpers they call across.
 */

#ifndef NF_INTERNAL_H
#define NF_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "nf_xen.h"
#include "netfront.h"
#include "xnbsim.h"

#define NF_PAGE_SIZE		XNBSIM_PAGE_SIZE
#define NF_TX_RING_SIZE		__CONST_RING_SIZE(netif_tx, NF_PAGE_SIZE)
#define NF_RX_RING_SIZE		__CONST_RING_SIZE(netif_rx, NF_PAGE_SIZE)
#define NF_GREF_NONE		UINT32_MAX
#define NF_GREF_MCAST		(UINT32_MAX - 1)	/* a TX id held by an MCAST request */
#define NF_NO_ID		UINT16_MAX

struct xs_handle;

/* One TX request id: the page its data lives in and the grant for it. */
struct nf_tx_slot {
	void *va;
	uint32_t gfn;
	uint32_t ref;		/* NF_GREF_NONE while the id is free */
	uint64_t pushed_ns;	/* when its request became visible */
};

/* One RX buffer page; rx_slot_buf maps ring slots to these. */
struct nf_rx_buf {
	void *va;
	uint32_t gfn;
};

struct nf_queue {
	struct nf_dev *dev;
	unsigned int id;

	netif_tx_front_ring_t tx;
	netif_rx_front_ring_t rx;
	uint32_t tx_ring_gfn, rx_ring_gfn;
	uint32_t tx_ring_ref, rx_ring_ref;
	uint32_t tx_port, rx_port;	/* equal unless split */

	struct nf_tx_slot tx_slot[NF_TX_RING_SIZE];
	uint16_t tx_free[NF_TX_RING_SIZE];	/* stack of free ids */
	unsigned int tx_nfree;

	struct nf_rx_buf rx_buf[NF_RX_RING_SIZE];
	uint16_t rx_buf_free[NF_RX_RING_SIZE];	/* stack of unposted buffers */
	unsigned int rx_nfree;
	/* Per ring slot (index & mask): which buffer it holds and its grant.
	 * Linux's convention: the response to request i is in slot i. */
	uint16_t rx_slot_buf[NF_RX_RING_SIZE];
	uint32_t rx_slot_ref[NF_RX_RING_SIZE];

	/* The highest rsp_prod seen on each ring: it may only move forward. */
	RING_IDX tx_rsp_seen, rx_rsp_seen;

	uint8_t *rx_scratch;	/* reassembly of multi-slot packets */
	uint64_t max_outstanding;
};

/* The control ring and the page its key/mapping tables travel in. */
struct nf_ctrl {
	xen_netif_ctrl_front_ring_t ring;
	uint32_t ring_gfn, ring_ref;
	uint32_t port;
	uint32_t data_gfn;
	void *data_va;
	RING_IDX rsp_seen;
	uint16_t next_id;
};

/* A grant the backend would not let go of yet, and the page behind it. */
struct nf_deferred {
	uint32_t ref;
	uint32_t gfn;		/* freed once the grant ends; UINT32_MAX: none */
};

struct nf_dev {
	struct nf_config cfg;
	struct xnbsim *sim;
	struct xnbsim_evtchn *evh;
	struct xs_handle *xs;

	char fe_path[96];
	char be_path[128];
	uint16_t be_domid;
	uint8_t mac[6];
	int fe_state;
	int be_state;
	bool up;		/* rings connected and the backend Connected */
	bool broken;		/* the backend broke a ring: disabled for good */
	bool ever_up;
	bool announced_wait;	/* "waiting for the backend" printed */

	struct nf_backend_features feat;
	struct nf_queue *queues;
	unsigned int nq;
	/* Event port -> queue, for upcalls. */
	int16_t port_queue[XNBSIM_EVTCHN_PORTS];

	struct nf_deferred *deferred;
	unsigned int ndeferred, deferred_cap;
	uint64_t deferred_retry_ns;
	uint64_t last_scan_ns;	/* states re-read at least this often */
	uint64_t closed_until_ns;	/* nf_reconnect: stay Closed until then */

	struct nf_ctrl *ctrl;	/* NULL: no control ring on this connection */
	struct nf_hash_state hash;

	/* Pages granted by an earlier instance of this guest and never ended
	 * (a backend still maps them): not ours to reuse (nf_page_alloc). */
	uint8_t *quarantine;
	uint32_t quarantine_pages;

	struct nf_stats st;
	struct nf_hist tx_wait;
	bool rx_paused;		/* nf_rx_pause */
	bool evil_no_rx_buffers;	/* nf_evil.c: never post RX buffers */
};

void nf_log(const struct nf_dev *dev, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Ends a grant; when the backend still uses it, keeps (ref, gfn) to retry
 * and returns false (the page must not be reused). gfn UINT32_MAX: no page
 * to free afterwards. */
bool nf_grant_end(struct nf_dev *dev, uint32_t ref, uint32_t gfn);

void nf_notify(struct nf_dev *dev, uint32_t port, uint64_t *counter);

/* A page of the domain's memory for the device: xnbsim_page_alloc, less
 * the pages the quarantine holds (those are taken and kept, never used). */
int nf_page_alloc(struct nf_dev *dev, uint32_t *gfn, void **va);

/*
 * Linux netfront's check on a response producer, made strict: prod (just
 * read from the shared ring) must not be behind the highest value seen on
 * this ring (*seen) nor past req_prod_pvt, in wrap-safe RING_IDX terms.
 * Otherwise the backend is broken: an error line on stderr (always, even
 * quiet), rsp_prod_violations counted, the device disabled; returns false
 * and the caller consumes nothing. ring: "TX" or "RX" for the message; q
 * NULL: the control ring ("CTRL").
 */
bool nf_rsp_prod_check(struct nf_dev *dev, const struct nf_queue *q, const char *ring,
		       RING_IDX prod, RING_IDX *seen, RING_IDX req_prod_pvt);

/* nf_tx.c: the queue a TX request goes on (*q): 0, -ENOTCONN (no link or
 * no such queue) or -EIO (the device is broken). */
int nf_tx_queue(struct nf_dev *dev, unsigned int qi, struct nf_queue **q);
/* nf_rx.c: post every free buffer; pushes and notifies as the ring says. */
void nf_rx_refill(struct nf_queue *q);
/* nf_tx.c / nf_rx.c: give back what the queue holds at a disconnect. */
void nf_tx_release(struct nf_queue *q);
void nf_rx_release(struct nf_queue *q);

#endif /* NF_INTERNAL_H */
