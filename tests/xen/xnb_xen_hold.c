/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * xnb-xen-hold: the dom0 application of the xen suite's "aging" scenario
 * (docs/xen.md). It forwards as dpdk-testpmd's io mode does, port 0 <-> 1,
 * 2 <-> 3, ..., and like a capture or mirroring application it keeps a
 * reference to every Nth frame received on --hold-port for --hold-ms after
 * forwarding it. The guest pages such a frame borrows then outlive the
 * port's aging window, so the lifetime tracker must copy them out under the
 * application (same addresses, our pages) and answer the guest. Each held
 * frame is hashed when received and again when let go: the bytes must not
 * change, which they would if the guest got its page back before the copy
 * (it reuses TX pages at once). The first --keep held frames are kept
 * until the end, so that frames are still held, their pages long copied
 * out, whenever the scenario looks.
 *
 * Signals: SIGUSR1 prints the counters and every port's non-zero xstats;
 * SIGUSR2 freezes: what is held stays held, nothing more is held; SIGTERM
 * or SIGINT lets everything go (checking it), prints the verdict and exits,
 * 0 only if no held frame changed and some held frame had lent pages that
 * were kept past --aging-ms.
 *
 * usage: xnb-xen-hold EAL-args -- --hold-port P [--hold-every N]
 *        [--hold-ms MS] [--keep K] [--aging-ms MS (the port's)]
 * Prints "hold: ..." lines on stdout, line-buffered.
 */

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#define HOLD_MAX	4096
#define BURST		32
#define NB_MBUFS	8191
#define RING_DESC	512
#define MAX_PORTS	8

struct held {
	struct rte_mbuf *m;
	uint64_t t_rx;
	uint64_t sum;
	uint16_t lent;		/* segments on borrowed guest pages */
	bool keep;		/* one of the first --keep: let go at the end */
};

static struct {
	uint16_t hold_port;
	unsigned int every;
	unsigned int hold_ms;
	unsigned int keep;
	unsigned int aging_ms;
} opt = { .hold_port = UINT16_MAX, .every = 8, .hold_ms = 600, .keep = 8, .aging_ms = 200 };

static struct held held[HOLD_MAX];	/* oldest first */
static unsigned int nheld;
static uint16_t nports;
static volatile sig_atomic_t sig_dump, sig_freeze, sig_stop;

static struct {
	uint64_t fwd_rx[MAX_PORTS], fwd_tx[MAX_PORTS], dropped[MAX_PORTS];
	uint64_t held, held_lent, released, changed, lent_past_window;
	uint64_t max_hold_us;
} c;

static void
on_signal(int s)
{
	if (s == SIGUSR1)
		sig_dump = 1;
	else if (s == SIGUSR2)
		sig_freeze = 1;
	else
		sig_stop = 1;
}

/* FNV-1a over the whole frame, across its segments. */
static uint64_t
frame_sum(const struct rte_mbuf *m)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; m != NULL; m = m->next) {
		const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);

		for (uint16_t i = 0; i < m->data_len; i++)
			h = (h ^ p[i]) * 0x100000001b3ull;
	}
	return h;
}

static uint16_t
lent_segs(const struct rte_mbuf *m)
{
	uint16_t n = 0;

	for (; m != NULL; m = m->next)
		n += RTE_MBUF_HAS_EXTBUF(m) ? 1 : 0;
	return n;
}

/* Lets go of the held frames older than hold_ms but the kept ones (all
 * with all), checking that each reads as it did when it arrived. */
static void
release(bool all)
{
	uint64_t hz = rte_get_tsc_hz(), now = rte_get_tsc_cycles();
	uint64_t age = (uint64_t)opt.hold_ms * hz / 1000;
	unsigned int i, k = 0;

	for (i = 0; i < nheld; i++) {
		struct held *h = &held[i];
		uint64_t us = (now - h->t_rx) * 1000000 / hz;

		if (!all && (h->keep || now - h->t_rx < age)) {
			held[k++] = *h;
			continue;
		}

		if (frame_sum(h->m) != h->sum) {
			c.changed++;
			if (c.changed <= 5)
				printf("hold: FAIL: a held frame of %u bytes (%u lent segments) "
				       "changed after %" PRIu64 " ms\n", h->m->pkt_len, h->lent,
				       us / 1000);
		}
		if (h->lent > 0 && us / 1000 > opt.aging_ms)
			c.lent_past_window++;
		c.max_hold_us = RTE_MAX(c.max_hold_us, us);
		c.released++;
		rte_pktmbuf_free(h->m);
	}
	nheld = k;
}

static void
hold(struct rte_mbuf *m)
{
	struct held *h = &held[nheld++];

	h->m = m;
	h->t_rx = rte_get_tsc_cycles();
	h->sum = frame_sum(m);
	h->lent = lent_segs(m);
	h->keep = c.held < opt.keep;
	/* One more reference on every segment: the tx burst frees the
	 * frame's and ours keeps the guest pages lent. */
	rte_pktmbuf_refcnt_update(m, 1);
	c.held++;
	c.held_lent += h->lent > 0;
}

static void
dump(void)
{
	printf("hold: held now %u, held %" PRIu64 " (%" PRIu64 " with lent pages), released %"
	       PRIu64 ", changed %" PRIu64 ", lent and kept past the window %" PRIu64
	       ", longest hold %" PRIu64 " ms%s\n", nheld, c.held, c.held_lent, c.released,
	       c.changed, c.lent_past_window, c.max_hold_us / 1000,
	       sig_freeze ? " (frozen)" : "");
	for (uint16_t p = 0; p < nports; p++) {
		struct rte_eth_xstat_name *names;
		struct rte_eth_xstat *xs;
		int n = rte_eth_xstats_get(p, NULL, 0);

		printf("hold: port %u forwarded rx %" PRIu64 " tx %" PRIu64 " dropped %" PRIu64
		       "\n", p, c.fwd_rx[p], c.fwd_tx[p], c.dropped[p]);
		if (n <= 0)
			continue;
		names = calloc(n, sizeof(*names));
		xs = calloc(n, sizeof(*xs));
		if (names != NULL && xs != NULL &&
		    rte_eth_xstats_get_names(p, names, n) == n &&
		    rte_eth_xstats_get(p, xs, n) == n)
			for (int i = 0; i < n; i++)
				if (xs[i].value != 0 && strncmp(names[xs[i].id].name, "rx_q", 4) != 0 &&
				    strncmp(names[xs[i].id].name, "tx_q", 4) != 0)
					printf("hold: xstat %u %s %" PRIu64 "\n", p,
					       names[xs[i].id].name, xs[i].value);
		free(names);
		free(xs);
	}
}

static int
port_setup(uint16_t p, struct rte_mempool *mp)
{
	const uint64_t tx_want = RTE_ETH_TX_OFFLOAD_MULTI_SEGS | RTE_ETH_TX_OFFLOAD_TCP_TSO |
		RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM |
		RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
	struct rte_eth_conf conf;
	struct rte_eth_dev_info info;

	if (rte_eth_dev_info_get(p, &info) != 0)
		return -1;
	memset(&conf, 0, sizeof(conf));
	/* As testpmd --enable-scatter --tx-offloads=0x802e: zero copy
	 * needs chains, and GSO frames pass as TSO mbufs. */
	conf.rxmode.offloads = info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER;
	conf.txmode.offloads = info.tx_offload_capa & tx_want;
	if (rte_eth_dev_configure(p, 1, 1, &conf) != 0 ||
	    rte_eth_rx_queue_setup(p, 0, RING_DESC, rte_socket_id(), NULL, mp) != 0 ||
	    rte_eth_tx_queue_setup(p, 0, RING_DESC, rte_socket_id(), NULL) != 0 ||
	    rte_eth_dev_start(p) != 0)
		return -1;
	return 0;
}

/* One io-forwarding step for port p; returns the frames received. */
static uint16_t
forward(uint16_t p, unsigned int *seq)
{
	struct rte_mbuf *pkts[BURST];
	uint16_t n, sent, peer = p ^ 1;

	n = rte_eth_rx_burst(p, 0, pkts, BURST);
	if (n == 0)
		return 0;
	c.fwd_rx[p] += n;
	if (p == opt.hold_port && !sig_freeze)
		for (uint16_t i = 0; i < n; i++)
			if ((*seq)++ % opt.every == 0 && nheld < HOLD_MAX)
				hold(pkts[i]);
	sent = peer < nports ? rte_eth_tx_burst(peer, 0, pkts, n) : 0;
	if (peer < nports)
		c.fwd_tx[peer] += sent;
	c.dropped[p] += n - sent;
	rte_pktmbuf_free_bulk(pkts + sent, n - sent);
	return n;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "hold-port", required_argument, NULL, 'p' },
		{ "hold-every", required_argument, NULL, 'e' },
		{ "hold-ms", required_argument, NULL, 'm' },
		{ "keep", required_argument, NULL, 'k' },
		{ "aging-ms", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	const struct timespec nap = { .tv_nsec = 50000 }, sleep = { .tv_nsec = 2000000 };
	struct rte_mempool *mp;
	unsigned int seq = 0, idle = 0;
	int n, ch, ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	n = rte_eal_init(argc, argv);
	if (n < 0) {
		printf("hold: FAIL: EAL init\n");
		return 1;
	}
	argc -= n;
	argv += n;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'p': opt.hold_port = (uint16_t)atoi(optarg); break;
		case 'e': opt.every = (unsigned int)atoi(optarg); break;
		case 'm': opt.hold_ms = (unsigned int)atoi(optarg); break;
		case 'k': opt.keep = (unsigned int)atoi(optarg); break;
		case 'a': opt.aging_ms = (unsigned int)atoi(optarg); break;
		default: return 1;
		}
	}
	nports = rte_eth_dev_count_avail();
	if (opt.hold_port >= nports || opt.every == 0 || nports > MAX_PORTS) {
		printf("hold: FAIL: usage: xnb-xen-hold EAL-args -- --hold-port P "
		       "[--hold-every N] [--hold-ms MS] [--keep K] [--aging-ms MS] (%u ports)\n",
		       nports);
		return 1;
	}
	mp = rte_pktmbuf_pool_create("hold", NB_MBUFS, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     rte_socket_id());
	if (mp == NULL) {
		printf("hold: FAIL: mempool\n");
		return 1;
	}
	for (uint16_t p = 0; p < nports; p++)
		if (port_setup(p, mp) != 0) {
			printf("hold: FAIL: port %u setup\n", p);
			return 1;
		}
	signal(SIGUSR1, on_signal);
	signal(SIGUSR2, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("hold: forwarding %u ports, holding every %u frame(s) of port %u for %u ms, "
	       "the first %u till the end (aging window %u ms)\n", nports, opt.every,
	       opt.hold_port, opt.hold_ms, opt.keep, opt.aging_ms);
	while (!sig_stop) {
		unsigned int got = 0;

		for (uint16_t p = 0; p < nports; p++)
			got += forward(p, &seq);
		if (!sig_freeze)
			release(false);
		if (sig_dump) {
			sig_dump = 0;
			dump();
		}
		/* dom0 may have one vCPU: leave it to the kernel and the
		 * toolstack when there is nothing to do, all of it after a
		 * while without traffic. */
		idle = got == 0 ? idle + 1 : 0;
		if (idle > 0)
			nanosleep(idle > 1000 ? &sleep : &nap, NULL);
	}
	release(true);
	dump();
	ok = c.changed == 0 && c.lent_past_window > 0;
	printf("hold: %s: %" PRIu64 " held frames read the same when let go, %" PRIu64
	       " of them on lent pages kept past the %u ms window\n", ok ? "PASS" : "FAIL",
	       c.released - c.changed, c.lent_past_window, opt.aging_ms);
	for (uint16_t p = 0; p < nports; p++) {
		rte_eth_dev_stop(p);
		rte_eth_dev_close(p);
	}
	rte_eal_cleanup();
	return ok ? 0 : 1;
}
