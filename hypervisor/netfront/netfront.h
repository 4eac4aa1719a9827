/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * A netfront for the simulated hypervisor, as a library: the guest side of
 * every simulated test and benchmark, and the base that misbehaving guests
 * build on. It speaks xen/io/netif.h the way Linux's xen-netfront does
 * (xenbus handshake, multi-slot TX with GSO extras and checksum flags,
 * RX ring kept full of writable grants, notifications only where the ring
 * macros ask for them), so a backend tested against it is tested against
 * the protocol, not against itself.
 *
 * Single-threaded: one thread drives a device (nf_poll, bursts, collect).
 */

#ifndef NETFRONT_H
#define NETFRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nf_frame.h"
#include "nf_hist.h"

#define NF_MAX_QUEUES		16
#define NF_MAX_SLOTS		18	/* XEN_NETIF_NR_SLOTS_MIN: data slots per packet */

struct nf_dev;

struct nf_config {
	const char *sim_dir;	/* the simulator's directory */
	uint16_t domid;		/* the guest domain we act as */
	uint32_t handle;	/* vif handle (device/vif/<handle>) */
	unsigned int queues;	/* wanted; clamped to the backend's maximum */
	bool split_evtchn;	/* separate TX/RX channels when offered */
	bool quiet;		/* no state messages on stderr */
	bool ctrl_ring;		/* give the backend a control ring when offered */
	bool no_csum_offload;	/* write feature-no-csum-offload=1 */
	bool no_ipv6_csum;	/* withhold feature-ipv6-csum-offload */
	bool mcast_ctrl;	/* request-multicast-control when offered */
};

/* What the backend wrote under its directory, read at each connect. */
struct nf_backend_features {
	bool rx_copy;
	bool sg;
	bool gso_tcpv4;
	bool gso_tcpv6;
	bool split_evtchn;
	bool csum_offload;	/* IPv4: !feature-no-csum-offload */
	bool ipv6_csum_offload;
	bool ctrl_ring;		/* feature-ctrl-ring */
	bool mcast_ctrl;	/* feature-multicast-control */
	unsigned int max_queues;
};

/* The hash settings the backend acknowledged (XEN_NETIF_CTRL_STATUS_SUCCESS)
 * on this connection's control ring, as netif.h defines their effect: a
 * new key replaces the old one (zero-padded), a new mapping size zeroes
 * the table, SET_HASH_MAPPING writes a sub-table. */
struct nf_hash_state {
	uint32_t alg;		/* XEN_NETIF_CTRL_HASH_ALGORITHM_* */
	uint32_t flags;		/* XEN_NETIF_CTRL_HASH_TYPE_* */
	uint8_t key[40];
	uint32_t size;		/* mapping entries; 0: hash % queues */
	uint32_t mapping[128];
	uint64_t generation;	/* bumped at every change and connect */
};

/* How a TX packet is cut into slots. Linear fills whole pages from offset 0
 * (fewest slots). Scatter puts a small header slot at an odd offset, then
 * the rest from another odd offset, as an skb head plus page frags do;
 * it falls back to linear when that would need more than NF_MAX_SLOTS. */
enum nf_layout {
	NF_LAYOUT_LINEAR = 0,
	NF_LAYOUT_SCATTER,
};

struct nf_tx_pkt {
	const uint8_t *data;
	uint32_t len;			/* 14 .. 65535 */
	struct nf_frame_meta meta;	/* csum_blank/data_validated, GSO */
	uint8_t layout;			/* enum nf_layout */
	uint32_t layout_seed;		/* varies the scatter offsets */
};

/* A received packet, valid only during the callback. */
struct nf_rx_pkt {
	const uint8_t *data;
	uint32_t len;
	struct nf_frame_meta meta;
	uint16_t slots;			/* data slots it arrived in */
};

typedef void (*nf_rx_fn)(void *arg, unsigned int queue,
			 const struct nf_rx_pkt *pkt);

#define NF_STATS_LIST(X) \
	X(tx_packets)		/* handed to the ring */ \
	X(tx_bytes) \
	X(tx_slots)		/* data slots, extras not included */ \
	X(tx_multi_slot)	/* packets of more than one data slot */ \
	X(tx_gso)		/* packets with a GSO extra */ \
	X(tx_csum_blank) \
	X(tx_rsp_error)		/* NETIF_RSP_ERROR responses */ \
	X(tx_rsp_dropped)	/* NETIF_RSP_DROPPED responses */ \
	X(tx_rsp_bad)		/* responses with an id we had not sent */ \
	X(tx_unsupported)	/* not sent: backend lacks the feature */ \
	X(tx_aborted)		/* requests unanswered at a disconnect */ \
	X(tx_notify) \
	X(rx_packets) \
	X(rx_bytes) \
	X(rx_slots) \
	X(rx_multi_slot) \
	X(rx_gso) \
	X(rx_csum_blank) \
	X(rx_err_status)	/* negative status in a response */ \
	X(rx_err_offset)	/* offset + size beyond the page */ \
	X(rx_err_id)		/* id differs from the ring slot */ \
	X(rx_err_extra)		/* bad or missing extra info */ \
	X(rx_err_slots)		/* more data slots than allowed */ \
	X(rx_hash)		/* packets with a hash extra */ \
	X(rx_csum_blank_violations) /* csum_blank we did not accept (IPv4 with \
				   feature-no-csum-offload, IPv6 without \
				   feature-ipv6-csum-offload) */ \
	X(rx_multicast)		/* group destination, not broadcast */ \
	X(rx_broadcast) \
	X(rx_notify) \
	X(events)		/* event-channel upcalls handled */ \
	X(connects) \
	X(reconnects)		/* connects after the first */ \
	X(grants_deferred)	/* end_access refused (-EBUSY), retried later */ \
	X(grants_pending)	/* of those, still not ended now */ \
	X(tx_max_outstanding)	/* most TX slots awaiting responses, one queue */ \
	X(rsp_prod_violations)	/* rsp_prod moved back or past our requests */ \
	X(ctrl_requests)	/* control-ring requests answered */ \
	X(ctrl_errors)		/* of those, not XEN_NETIF_CTRL_STATUS_SUCCESS */ \
	X(ctrl_timeouts)	/* no answer within the timeout */ \
	X(ctrl_rsp_bad)		/* answers with an id we were not waiting for */ \
	X(tx_mcast)		/* MCAST_ADD/DEL requests sent */ \
	X(tx_mcast_ok)		/* of those, answered NETIF_RSP_OKAY */ \
	X(tx_mcast_error)	/* answered otherwise */ \
	X(pages_quarantined)	/* pages an earlier instance left granted, skipped */

struct nf_stats {
#define NF_STATS_FIELD(n) uint64_t n;
	NF_STATS_LIST(NF_STATS_FIELD)
#undef NF_STATS_FIELD
};

/* Attaches to the simulator as cfg->domid and starts the xenbus handshake
 * (it completes in nf_poll). NULL and errno on failure. */
struct nf_dev *nf_open(const struct nf_config *cfg);

/* Closes the device the way Linux's netfront remove does (Closing, wait a
 * little for the backend, Closed), releases everything it can and detaches.
 * Grants the backend still maps are retried for up to grace_ms; final (if
 * not NULL) gets the last stats, grants_pending then counting the leaked. */
void nf_close(struct nf_dev *dev, int grace_ms, struct nf_stats *final);

/* Waits up to timeout_ms (0: just look, -1: forever) for an event channel
 * upcall or a xenstore watch, acknowledges upcalls and runs the xenbus state
 * machine (which may connect or tear down queues). Returns 0 or -errno. */
int nf_poll(struct nf_dev *dev, int timeout_ms);

bool nf_link_up(const struct nf_dev *dev);
/* The backend broke the ring protocol (its rsp_prod moved backwards or past
 * our requests, Linux netfront's "Illegal number of responses"): like Linux
 * the device is disabled for further use. Bursts and collects do nothing
 * from then on; the caller should report and stop. */
bool nf_broken(const struct nf_dev *dev);
unsigned int nf_num_queues(const struct nf_dev *dev);
const struct nf_backend_features *nf_features(const struct nf_dev *dev);
const uint8_t *nf_mac(const struct nf_dev *dev);
/* Our xenbus state and the backend's, for messages. */
void nf_states(const struct nf_dev *dev, int *front, int *back);

/* Queues packets on TX queue q and pushes them with one notify check.
 * Returns how many were consumed (sent, or dropped and counted when the
 * backend lacks a feature they need); fewer than n when the ring or the
 * request ids ran out. -ENOTCONN when the link is down. */
int nf_tx_burst(struct nf_dev *dev, unsigned int q,
		const struct nf_tx_pkt *pkts, unsigned int n);

/* Ring slots free on TX queue q (0 when down). */
unsigned int nf_tx_space(const struct nf_dev *dev, unsigned int q);

/* TX slots on all queues still waiting for responses. */
unsigned int nf_tx_inflight(const struct nf_dev *dev);

/* Consumes TX responses of queue q, ends their grants and frees their
 * buffers. Returns responses handled; leaves rsp_event armed. */
int nf_tx_collect(struct nf_dev *dev, unsigned int q);

/* Delivers up to budget received packets of queue q to fn, refills the RX
 * ring and leaves rsp_event armed. Returns packets delivered (> 0 means
 * call again before sleeping). */
int nf_rx_poll(struct nf_dev *dev, unsigned int q, unsigned int budget,
	       nf_rx_fn fn, void *arg);

void nf_stats_get(const struct nf_dev *dev, struct nf_stats *st);

/* Drops the connection and asks for a new one, as Linux netfront does on
 * resume: Closing, the backend's Closing/Closed awaited (up to 2 s), rings
 * torn down (grants the backend still maps deferred, as at any
 * disconnect), Closed; after closed_ms, Initialising, and the state machine
 * connects again when the backend is back in InitWait. */
void nf_reconnect(struct nf_dev *dev, int closed_ms);

/* Stops (true) or resumes posting RX buffers on every queue; responses are
 * still consumed. A guest whose RX side stalls, for the backend's
 * rx_stall_ms. */
void nf_rx_pause(struct nf_dev *dev, bool pause);

/*
 * The control ring (netif.h "Control ring"), set up at each connect when
 * cfg.ctrl_ring is set and the backend offers feature-ctrl-ring. A request
 * is answered before the call returns (waiting at most timeout_ms; the
 * xenbus state machine runs meanwhile): the XEN_NETIF_CTRL_STATUS_* of the
 * answer and its data, or -ENOTCONN (no control ring / link down),
 * -ETIMEDOUT, -EIO (the backend broke the ring). The key and mapping calls
 * put their table in a page granted readonly for the call.
 */
bool nf_ctrl_connected(const struct nf_dev *dev);
int nf_ctrl_call(struct nf_dev *dev, uint32_t type, uint32_t d0, uint32_t d1,
		 uint32_t d2, uint32_t *data, int timeout_ms);
int nf_ctrl_set_hash_key(struct nf_dev *dev, const uint8_t *key, uint32_t len);
int nf_ctrl_set_hash_mapping(struct nf_dev *dev, const uint32_t *tbl, uint32_t n,
			     uint32_t off);
const struct nf_hash_state *nf_hash_state(const struct nf_dev *dev);

/* Queues a dummy TX request carrying a XEN_NETIF_EXTRA_TYPE_MCAST_ADD (or
 * _DEL) extra for mac on queue q, as netif.h describes and Linux netback
 * consumes it (a request of size 0 and gref 0 that it answers without
 * sending anything). The answer is counted (tx_mcast_ok / tx_mcast_error)
 * by nf_tx_collect. 0, -EAGAIN (ring or ids full), -ENOTCONN. */
int nf_mcast(struct nf_dev *dev, unsigned int q, bool add, const uint8_t mac[6]);

/* CLOCK_MONOTONIC in ns: the clock of every timestamp above. */
uint64_t nf_now_ns(void);
/* "xx:xx:xx:xx:xx:xx" into mac: 0, or -EINVAL. */
int nf_parse_mac(const char *s, uint8_t mac[6]);
/* Time from pushing a TX request to seeing its response (ns). */
const struct nf_hist *nf_tx_wait_hist(const struct nf_dev *dev);

/* Misbehaviours (nf_evil.c, tests/hostile, docs/hostile.md). Prepare right
 * after nf_open (-EINVAL: no such name); run once the link is up: it acts on
 * queue 0, watches the backend for up to linger_s and writes one JSON
 * object to json. The device is not usable normally afterwards. */
int nf_evil_prepare(struct nf_dev *dev, const char *name);
int nf_evil_run(struct nf_dev *dev, const char *name, double linger_s,
		char *json, size_t len);
/* The i-th misbehaviour's name, NULL past the last. */
const char *nf_evil_name(unsigned int i);

#endif /* NETFRONT_H */
