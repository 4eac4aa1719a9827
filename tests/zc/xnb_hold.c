/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * xnb-hold: a DPDK application that keeps some of the mbufs it receives
 * from a net_xennetback port for a long time, the case the lifetime tracker
 * exists for, and checks what the zero-copy contract promises:
 *  - held mbufs read the same bytes when released as when received, across
 *    their aged copy-out (the guest reuses its pages once answered);
 *  - with nothing held and nobody polling, the service tick unmaps freed
 *    pages (rx_slots_mapped_now drops to 0);
 *  - after the guest disconnects or its domain is destroyed, none of its
 *    pages is mapped (the simulator's count) while mbufs are still held, and
 *    they still read right;
 *  - --scribble: the guest revokes its grants and overwrites all of its
 *    memory while we hold its pages: the copied headers cannot change, the
 *    backend survives;
 *  - --intr N: rx interrupt mode, sleeping on the queue's event channel,
 *    receives all N frames of a paced guest;
 *  - --stale MS (issue 14 item 4; the test injects failed page swaps with
 *    xnb-simctl fault replace): every frame of the first guest held, aging
 *    off; after its disconnect, whose copy-outs fail, the held pages stay
 *    mapped (the simulator's count equals rx_copyout_failed) and read the
 *    same; a second frontend of the domain connects, its frames freed at
 *    once; MS after it connected we free the held frames: their pages are
 *    unmapped while it streams (the test checks its ring saw no answer it
 *    did not ask for), and once it has gone nothing of the domain is
 *    mapped;
 *  - --iova FRAMES (issue 16 item 3): every segment of every frame carries
 *    the IOVA EAL's translation gives for its address (rte_mem_virt2iova:
 *    the address in IOVA-as-VA mode, the physical address in IOVA-as-PA
 *    mode), when received and again when a held frame is freed (after its
 *    aged copy-out, if any); lent segments (guest pages, outside EAL's
 *    memory) are counted, and frames copied instead must be accounted for
 *    by the port (rx_copied_dma_unsafe, rx_iova_failed).
 * It plays dom0's toolstack for the last two (the simulator's API).
 * With --fwd it is instead a forwarding application (xnb_hold_fwd.c).
 *
 * usage: xnb-hold <EAL args with one net_xennetback vdev> -- --sim DIR
 *        --domid D [--hold-every N] [--hold-ms MS] [--header H]
 *        [--aging-ms MS (the port's)] [--scribble] [--intr FRAMES] [--stale MS]
 *        [--iova FRAMES]
 *        xnb-hold <EAL args, any ports> -- --fwd [options: xnb_hold_fwd.c]
 * Prints "hold: ..." lines; exit status 0 only if every check passed.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_memory.h>

#include "xnb_hold.h"
#include "xnbsim.h"

#define HOLD_MAX	4096
#define BURST		32
/* How long the service tick (every 10 ms) may take to unmap what was freed:
 * one tick can spend ~100 ms here unmapping a couple of thousand copied-out
 * pages (a TLB shootdown each) on a busy 2-core machine. */
#define PAUSE_MS	500

struct held {
	struct rte_mbuf *m;
	uint64_t t_rx;
	uint64_t sum;		/* the whole frame */
	uint64_t hsum;		/* its first --header bytes */
};

static struct {
	const char *sim_dir;
	uint16_t domid;
	unsigned int every;
	unsigned int hold_ms;
	unsigned int header;
	unsigned int aging_ms;	/* the port's; 0: the pages stay mapped until the disconnect */
	int scribble;
	int intr;
	unsigned int expect;	/* --intr: frames the guest sends */
	int stale_ms;		/* --stale: -1 off */
	unsigned int iova;	/* --iova: frames to check, 0 off */
} opt = { .every = 10, .hold_ms = 2000, .header = 128, .aging_ms = 500, .stale_ms = -1 };

static struct held held[HOLD_MAX];
static unsigned int nheld;
static unsigned int fails;
static uint16_t port;

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		printf("hold: FAIL: " __VA_ARGS__);			\
		printf("\n");						\
		fails++;						\
	}								\
} while (0)

/* FNV-1a over bytes [0, len) of the frame, across segments. */
static uint64_t
frame_sum(const struct rte_mbuf *m, uint32_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	uint32_t done = 0;

	for (; m != NULL && done < len; m = m->next) {
		const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);

		for (uint32_t i = 0; i < m->data_len && done < len; i++, done++)
			h = (h ^ p[i]) * 0x100000001b3ull;
	}
	return h;
}

static uint64_t
xstat(const char *name)
{
	uint64_t id, v;

	if (rte_eth_xstats_get_id_by_name(port, name, &id) != 0 ||
	    rte_eth_xstats_get_by_id(port, &id, &v, 1) != 1)
		return UINT64_MAX;
	return v;
}

static bool
link_up(void)
{
	struct rte_eth_link l;

	return rte_eth_link_get_nowait(port, &l) == 0 && l.link_status;
}

/* Releases held mbufs older than ms (all with 0), checking the full sum
 * (or only the header sum when the guest scribbled its pages). */
static void
release(unsigned int ms, bool header_only)
{
	uint64_t now = rte_get_tsc_cycles(), age = ms * rte_get_tsc_hz() / 1000;
	unsigned int k = 0;

	for (unsigned int i = 0; i < nheld; i++) {
		struct held *h = &held[i];

		if (ms != 0 && now - h->t_rx < age) {
			held[k++] = *h;
			continue;
		}
		if (header_only)
			CHECK(frame_sum(h->m, opt.header) == h->hsum,
			      "the header of a held mbuf changed");
		else
			CHECK(frame_sum(h->m, h->m->pkt_len) == h->sum,
			      "a held mbuf changed (len %u)", h->m->pkt_len);
		rte_pktmbuf_free(h->m);
	}
	nheld = k;
}

static void
receive(unsigned int *seq, bool hold_all, unsigned int cap)
{
	struct rte_mbuf *pkts[BURST];
	uint16_t n = rte_eth_rx_burst(port, 0, pkts, BURST);

	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];

		if ((hold_all || (*seq)++ % opt.every == 0) && nheld < cap) {
			held[nheld].m = m;
			held[nheld].t_rx = rte_get_tsc_cycles();
			held[nheld].sum = frame_sum(m, m->pkt_len);
			held[nheld].hsum = frame_sum(m, opt.header);
			nheld++;
		} else {
			rte_pktmbuf_free(m);
		}
	}
}

static uint32_t
grants_mapped(struct xnbsim *sim)
{
	struct xnbsim_stats st;

	if (xnbsim_stats(sim, opt.domid, &st) < 0)
		return UINT32_MAX;
	return st.grants_mapped;
}

/* Waits up to ms for the guest's pages to be all unmapped. */
static uint32_t
wait_unmapped(struct xnbsim *sim, unsigned int ms)
{
	uint32_t g = grants_mapped(sim);

	for (unsigned int t = 0; t < ms && g != 0; t += 10) {
		rte_delay_ms(10);
		g = grants_mapped(sim);
	}
	return g;
}

static bool
wait_link(bool up, unsigned int ms)
{
	for (unsigned int t = 0; t < ms; t += 10) {
		if (link_up() == up)
			return true;
		rte_delay_ms(10);
	}
	return false;
}

/* Hold every Nth mbuf for hold_ms while the guest sends; midway, let go of
 * everything and stop polling: the tick must unmap. At the guest's
 * disconnect, the pages of the mbufs still held must all be unmapped. */
static void
run_hold(struct xnbsim *sim)
{
	uint64_t hz = rte_get_tsc_hz(), t0 = rte_get_tsc_cycles();
	unsigned int seq = 0;
	bool paused = false;

	while (link_up()) {
		receive(&seq, false, HOLD_MAX);
		release(opt.hold_ms, false);
		if (opt.aging_ms > 0 && !paused && rte_get_tsc_cycles() - t0 > 3 * hz) {
			uint64_t mapped, unmaps, t;
			unsigned int ms = 0;

			/* Nothing held and nobody polling: only the tick can
			 * unmap what was just freed. */
			paused = true;
			release(0, false);
			unmaps = xstat("rx_hypercalls_unmap");
			t = rte_get_tsc_cycles();
			while ((mapped = xstat("rx_slots_mapped_now")) != 0 && ms < PAUSE_MS) {
				rte_delay_ms(1);
				ms = (rte_get_tsc_cycles() - t) * 1000 / hz;
			}
			printf("hold: paused with nothing held: rx_slots_mapped_now %" PRIu64
			       " after %u ms, by %" PRIu64 " unmap call(s)\n", mapped, ms,
			       xstat("rx_hypercalls_unmap") - unmaps);
			CHECK(mapped == 0, "freed pages still mapped %u ms without a burst: %"
			      PRIu64, PAUSE_MS, mapped);
		}
	}
	printf("hold: link down with %u mbufs held\n", nheld);
	CHECK(nheld > 0, "nothing held at the disconnect: the check below proves nothing");
	CHECK(wait_unmapped(sim, 1000) == 0,
	      "guest pages still mapped after the disconnect: %u", grants_mapped(sim));
	printf("hold: aged copy-outs %" PRIu64 ", at disconnect %" PRIu64
	       ", zero-copy packets %" PRIu64 ", copybreak %" PRIu64 "\n",
	       xstat("rx_aged_copyouts"), xstat("rx_disconnect_copyouts"),
	       xstat("rx_zerocopy_packets"), xstat("rx_copybreak_packets"));
	if (opt.aging_ms > 0) {
		CHECK(xstat("rx_aged_copyouts") > 0, "no aged copy-out");
	} else {
		CHECK(xstat("rx_aged_copyouts") == 0, "aged copy-outs with aging off");
		CHECK(xstat("rx_disconnect_copyouts") > 0, "no copy-out at disconnect");
	}
	CHECK(xstat("rx_zerocopy_packets") > 0, "no zero-copy packet");
	release(0, false);
}

/* Rx interrupt mode: sleep on the queue's event channel between bursts and
 * receive everything the guest sends (it is paced, so the queue idles). */
static void
run_intr(void)
{
	struct rte_epoll_event ev;
	uint64_t pkts = 0, wakeups = 0, timeouts = 0;

	CHECK(rte_eth_dev_rx_intr_ctl_q(port, 0, RTE_EPOLL_PER_THREAD,
					RTE_INTR_EVENT_ADD, NULL) == 0, "rx_intr_ctl_q");
	while (link_up()) {
		struct rte_mbuf *m[BURST];
		uint16_t n;

		rte_eth_dev_rx_intr_enable(port, 0);
		/* Requests may have come in before the ring was armed. */
		n = rte_eth_rx_burst(port, 0, m, BURST);
		if (n == 0) {
			if (rte_epoll_wait(RTE_EPOLL_PER_THREAD, &ev, 1, 100) > 0)
				wakeups++;
			else
				timeouts++;
		}
		rte_eth_dev_rx_intr_disable(port, 0);
		do {
			pkts += n;
			rte_pktmbuf_free_bulk(m, n);
			n = rte_eth_rx_burst(port, 0, m, BURST);
		} while (n > 0);
	}
	printf("hold: interrupt mode: %" PRIu64 " packets, %" PRIu64 " wake-ups by the "
	       "guest, %" PRIu64 " timeouts\n", pkts, wakeups, timeouts);
	CHECK(pkts == opt.expect, "received %" PRIu64 ", want %u", pkts, opt.expect);
	CHECK(wakeups > 0, "the event channel never woke us");
	CHECK(wakeups < pkts, "woken per packet or more: %" PRIu64, wakeups);
}

/* Hold the first 64 mbufs, scribble over all of the guest's memory, check
 * the headers, then destroy the domain while still holding. */
static void
run_scribble(struct xnbsim *sim)
{
	struct xnbsim *guest;
	uint32_t npages;
	uint8_t *ram;
	unsigned int seq = 0;
	uint64_t t0 = rte_get_tsc_cycles();

	while (nheld < 64 && rte_get_tsc_cycles() - t0 < 20 * rte_get_tsc_hz())
		receive(&seq, true, 64);
	CHECK(nheld == 64, "only %u mbufs arrived", nheld);
	CHECK(xstat("rx_slots_mapped_now") > 0, "no guest page mapped: nothing to scribble on");
	guest = xnbsim_open(opt.sim_dir, opt.domid);
	if (guest == NULL) {
		CHECK(0, "cannot attach as the guest");
		return;
	}
	/* Revoke every grant it has given: those we map cannot end (Xen
	 * refuses while GTF_reading is set), the rest go. */
	{
		unsigned int busy = 0, ended = 0;
		grant_entry_v1_t *gt = xnbsim_gnttab(guest);

		for (uint32_t ref = 1; ref < XNBSIM_GNTTAB_ENTRIES; ref++) {
			if (__atomic_load_n(&gt[ref].flags, __ATOMIC_ACQUIRE) == 0)
				continue;
			if (xnbsim_end_access(guest, ref) == -EBUSY)
				busy++;
			else
				ended++;
		}
		printf("hold: guest revoked its grants: %u ended, %u refused (mapped)\n",
		       ended, busy);
		CHECK(busy > 0, "no grant was in use by the backend");
	}
	ram = xnbsim_ram(guest, &npages);
	memset(ram, 0xa5, (size_t)npages * XNBSIM_PAGE_SIZE);
	printf("hold: guest memory overwritten (%u pages) under %u held mbufs\n",
	       npages, nheld);
	/* Keep polling: whatever the ring now says must not hurt us. */
	for (int i = 0; i < 100; i++) {
		receive(&seq, false, 64);
		rte_delay_ms(2);
	}
	for (unsigned int i = 0; i < nheld; i++)
		CHECK(frame_sum(held[i].m, opt.header) == held[i].hsum,
		      "held mbuf %u: header changed", i);
	xnbsim_close(guest);
	CHECK(xnbsim_domain_destroy(sim, opt.domid) == 0, "cannot destroy the guest");
	CHECK(wait_link(false, 2000), "link still up after the domain was destroyed");
	CHECK(wait_unmapped(sim, 2000) == 0,
	      "pages of the destroyed guest still mapped: %u", grants_mapped(sim));
	printf("hold: domain destroyed, %u mbufs held, fatal errors %" PRIu64 "\n", nheld,
	       xstat("guest_fatal_errors"));
	release(0, true);
}

/* ---- IOVAs ------------------------------------------------------------------ */

static struct {
	uint64_t frames, segs, lent, bad_rx, bad_release, released;
} iv;

/* Segments of m whose buf_iova is not EAL's translation of buf_addr;
 * *lent: how many are outside EAL's memory (guest pages). */
static unsigned int
iova_bad(const struct rte_mbuf *m, uint64_t *lent, uint64_t *segs)
{
	unsigned int bad = 0;

	for (const struct rte_mbuf *s = m; s != NULL; s = s->next) {
		rte_iova_t want = rte_mem_virt2iova(s->buf_addr);

		if (segs != NULL)
			(*segs)++;
		if (lent != NULL && RTE_MBUF_HAS_EXTBUF(s) &&
		    rte_mem_virt2memseg(s->buf_addr, NULL) == NULL)
			(*lent)++;
		if (want == RTE_BAD_IOVA || s->buf_iova != want) {
			if (bad++ == 0 && iv.bad_rx + iv.bad_release < 5)
				printf("hold: segment at %p (data_len %u): buf_iova %#" PRIx64
				       ", EAL says %#" PRIx64 "\n", s->buf_addr, s->data_len,
				       (uint64_t)s->buf_iova, (uint64_t)want);
		}
	}
	return bad;
}

/* Receives, checks every frame's IOVAs, holds every opt.every-th for
 * opt.hold_ms (aged copy-outs happen meanwhile) and checks it again when
 * it is freed. */
static void
run_iova(void)
{
	uint64_t hz = rte_get_tsc_hz(), t0 = rte_get_tsc_cycles();

	while (link_up() && iv.frames < opt.iova &&
	       rte_get_tsc_cycles() - t0 < 120 * hz) {
		struct rte_mbuf *pkts[BURST];
		uint16_t n = rte_eth_rx_burst(port, 0, pkts, BURST);
		uint64_t now = rte_get_tsc_cycles();

		for (uint16_t i = 0; i < n; i++) {
			struct rte_mbuf *m = pkts[i];

			iv.bad_rx += iova_bad(m, &iv.lent, &iv.segs) != 0;
			if (iv.frames++ % opt.every == 0 && nheld < HOLD_MAX) {
				held[nheld].m = m;
				held[nheld].t_rx = now;
				held[nheld].sum = frame_sum(m, m->pkt_len);
				nheld++;
			} else {
				rte_pktmbuf_free(m);
			}
		}
		/* Due ones, in order of arrival. */
		while (nheld > 0 && (now - held[0].t_rx) * 1000 >= (uint64_t)opt.hold_ms * hz) {
			iv.bad_release += iova_bad(held[0].m, NULL, NULL) != 0;
			CHECK(frame_sum(held[0].m, held[0].m->pkt_len) == held[0].sum,
			      "a held mbuf changed");
			rte_pktmbuf_free(held[0].m);
			iv.released++;
			memmove(held, held + 1, --nheld * sizeof(held[0]));
		}
	}
	for (unsigned int i = 0; i < nheld; i++) {
		iv.bad_release += iova_bad(held[i].m, NULL, NULL) != 0;
		rte_pktmbuf_free(held[i].m);
		iv.released++;
	}
	nheld = 0;
	printf("hold: IOVA mode %s: %" PRIu64 " frames, %" PRIu64 " segments (%" PRIu64
	       " lent), IOVA wrong in %" PRIu64 " frames at receive and %" PRIu64 " of %"
	       PRIu64 " held frames when freed; zero-copy packets %" PRIu64 ", aged copy-outs %"
	       PRIu64 ", copied as DMA-unsafe %" PRIu64 ", IOVA unreadable %" PRIu64 "\n",
	       rte_eal_iova_mode() == RTE_IOVA_PA ? "PA" : "VA", iv.frames, iv.segs, iv.lent,
	       iv.bad_rx, iv.bad_release, iv.released, xstat("rx_zerocopy_packets"),
	       xstat("rx_aged_copyouts"), xstat("rx_copied_dma_unsafe"),
	       xstat("rx_iova_failed"));
	CHECK(iv.frames >= opt.iova, "only %" PRIu64 " frames of %u", iv.frames, opt.iova);
	CHECK(iv.bad_rx == 0, "%" PRIu64 " frames with a wrong IOVA when received", iv.bad_rx);
	CHECK(iv.bad_release == 0, "%" PRIu64 " held frames with a wrong IOVA when freed",
	      iv.bad_release);
	/* Lent, or the port says why it copied. */
	CHECK(iv.lent > 0 || xstat("rx_copied_dma_unsafe") > 0 || xstat("rx_iova_failed") > 0,
	      "nothing lent, and the port gives no reason");
	CHECK(xstat("rx_zerocopy_packets") == 0 || iv.lent > 0,
	      "zero-copy packets counted but no segment outside EAL's memory");
}

/* Every held frame still reads as when received: false (said) if not. */
static bool
held_intact(const char *when)
{
	unsigned int bad = 0;

	for (unsigned int i = 0; i < nheld; i++)
		bad += frame_sum(held[i].m, held[i].m->pkt_len) != held[i].sum;
	CHECK(bad == 0, "%u of %u held mbufs changed %s", bad, nheld, when);
	return bad == 0;
}

/* Receives and frees at once (a second frontend's frames). */
static uint64_t
drain(void)
{
	struct rte_mbuf *pkts[BURST];
	uint16_t n = rte_eth_rx_burst(port, 0, pkts, BURST);

	rte_pktmbuf_free_bulk(pkts, n);
	return n;
}

static void
run_stale(struct xnbsim *sim)
{
	uint64_t hz = rte_get_tsc_hz(), t, second = 0;
	unsigned int seq = 0;
	uint64_t failed, mapped, lent;

	while (link_up())
		receive(&seq, true, HOLD_MAX);
	failed = xstat("rx_copyout_failed");
	lent = xstat("rx_zerocopy_packets");
	/* The disconnect flushed: a held slot's swap failed or it is copied. */
	rte_delay_ms(100);
	mapped = grants_mapped(sim);
	printf("hold: link down with %u mbufs held (%" PRIu64 " zero-copy): copy-outs "
	       "failed %" PRIu64 ", at disconnect %" PRIu64 ", guest pages still mapped %"
	       PRIu64 "\n", nheld, lent, failed, xstat("rx_disconnect_copyouts"), mapped);
	fflush(stdout);
	CHECK(nheld > 0 && lent > 0, "nothing lent was held at the disconnect");
	CHECK(failed > 0, "no copy-out failed: was the fault injected?");
	CHECK(mapped == failed, "guest pages mapped %" PRIu64 " != failed copy-outs %" PRIu64
	      " (the rings must be gone, the failed slots stay)", mapped, failed);
	CHECK(xstat("rx_slots_mapped_now") == failed, "rx_slots_mapped_now %" PRIu64,
	      xstat("rx_slots_mapped_now"));
	held_intact("after the failed copy-outs");

	/* The stale slots stay as they are while nobody is connected. */
	t = rte_get_tsc_cycles();
	while (!link_up() && rte_get_tsc_cycles() - t < 30 * hz)
		rte_delay_ms(10);
	CHECK(link_up(), "no second frontend within 30 s");
	if (!link_up())
		return;
	CHECK(grants_mapped(sim) >= failed, "stale pages unmapped while still held: %u",
	      grants_mapped(sim));
	printf("hold: a second frontend connected, %u mbufs still held\n", nheld);
	fflush(stdout);
	t = rte_get_tsc_cycles();
	while (link_up()) {
		second += drain();
		if (nheld > 0 && rte_get_tsc_cycles() - t >= (uint64_t)opt.stale_ms * hz / 1000) {
			held_intact("at their release");
			printf("hold: freeing the %u held mbufs while the second frontend "
			       "streams (%" PRIu64 " of its frames so far)\n", nheld, second);
			fflush(stdout);
			release(0, false);
		}
	}
	printf("hold: the second frontend left after %" PRIu64 " frames\n", second);
	CHECK(second > 0, "no frame of the second frontend");
	CHECK(nheld == 0, "the held mbufs were never freed (it left within %d ms)",
	      opt.stale_ms);
	CHECK(wait_unmapped(sim, 2000) == 0, "guest pages still mapped after the second "
	      "frontend left and the stale slots were freed: %u", grants_mapped(sim));
	CHECK(xstat("rx_slots_mapped_now") == 0, "rx_slots_mapped_now %" PRIu64,
	      xstat("rx_slots_mapped_now"));
	CHECK(xstat("rx_copyout_failed") == failed, "more failed copy-outs: %" PRIu64,
	      xstat("rx_copyout_failed"));
	printf("hold: nothing of the domain mapped\n");
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "sim", required_argument, NULL, 's' },
		{ "domid", required_argument, NULL, 'd' },
		{ "hold-every", required_argument, NULL, 'e' },
		{ "hold-ms", required_argument, NULL, 'm' },
		{ "header", required_argument, NULL, 'H' },
		{ "aging-ms", required_argument, NULL, 'a' },
		{ "scribble", no_argument, NULL, 'S' },
		{ "intr", required_argument, NULL, 'i' },
		{ "stale", required_argument, NULL, 'T' },
		{ "iova", required_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	/* Scatter: zero copy lends pages as segments of a chain. */
	struct rte_eth_conf conf = { .intr_conf.rxq = 1,
				     .rxmode.offloads = RTE_ETH_RX_OFFLOAD_SCATTER };
	struct rte_mempool *mp;
	struct xnbsim *sim;
	int n, c;

	n = rte_eal_init(argc, argv);
	if (n < 0) {
		printf("hold: FAIL: EAL init\n");
		return 1;
	}
	argc -= n;
	argv += n;
	for (c = 1; c < argc; c++)
		if (strcmp(argv[c], "--fwd") == 0) {
			c = xnb_hold_fwd(argc, argv);
			rte_eal_cleanup();
			return c;
		}
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': opt.sim_dir = optarg; break;
		case 'd': opt.domid = (uint16_t)atoi(optarg); break;
		case 'e': opt.every = (unsigned int)atoi(optarg); break;
		case 'm': opt.hold_ms = (unsigned int)atoi(optarg); break;
		case 'H': opt.header = (unsigned int)atoi(optarg); break;
		case 'a': opt.aging_ms = (unsigned int)atoi(optarg); break;
		case 'S': opt.scribble = 1; break;
		case 'i': opt.intr = 1; opt.expect = (unsigned int)atoi(optarg); break;
		case 'T': opt.stale_ms = atoi(optarg); break;
		case 'V': opt.iova = (unsigned int)atoi(optarg); break;
		default: return 1;
		}
	}
	if (opt.sim_dir == NULL || opt.domid == 0 || opt.every == 0 ||
	    rte_eth_dev_count_avail() != 1) {
		printf("hold: FAIL: usage: xnb-hold EAL-args --vdev net_xennetback... -- "
		       "--sim DIR --domid D [--hold-every N] [--hold-ms MS] [--scribble]\n");
		return 1;
	}
	sim = xnbsim_open(opt.sim_dir, 0);
	mp = rte_pktmbuf_pool_create("hold", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     rte_socket_id());
	if (sim == NULL || mp == NULL ||
	    rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
	    rte_eth_rx_queue_setup(port, 0, 512, rte_socket_id(), NULL, mp) != 0 ||
	    rte_eth_tx_queue_setup(port, 0, 512, rte_socket_id(), NULL) != 0 ||
	    rte_eth_dev_start(port) != 0) {
		printf("hold: FAIL: port setup\n");
		return 1;
	}
	if (!wait_link(true, 20000)) {
		printf("hold: FAIL: the guest did not connect within 20 s\n");
		return 1;
	}
	printf("hold: link up\n");
	fflush(stdout);
	if (opt.intr)
		run_intr();
	else if (opt.scribble)
		run_scribble(sim);
	else if (opt.stale_ms >= 0)
		run_stale(sim);
	else if (opt.iova > 0)
		run_iova();
	else
		run_hold(sim);
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	xnbsim_close(sim);
	rte_eal_cleanup();
	printf("hold: %s (%u failed checks)\n", fails ? "FAIL" : "all checks passed", fails);
	return fails ? 1 : 0;
}
