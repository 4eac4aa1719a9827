/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * libFuzzer harness over both guest rings (issues 9 and 14): the driver's
 * own xnb_rx.c, xnb_tx.c and xnb_lifetime.c, unchanged, behind the fake
 * hypervisor of tests/common/xnb_fake_plat.c. Built twice (build.sh): as
 * xnb-fuzz-rx with coverage from xnb_rx.c, as xnb-fuzz-tx with coverage
 * from xnb_tx.c; the input format is one.
 *
 * An input is a script over time, not a snapshot: the guest's state at
 * connect, then steps a guest, an application and the clock take in turn
 * (rewrite ring bytes, move a producer index anywhere, push requests,
 * scribble on pages, revoke grants, burst with nb_pkts up to 256, hold or
 * free or forward the mbufs, age them out, tick, reconnect):
 *
 *   0        flags: bits 0-1 port (0 zero copy, aging 500 ms; 1
 *            copy_mode=always; 2 zero copy, no aging; 3 zero copy,
 *            max_mapped 8), bit 2 small mbufs (256-byte data rooms),
 *            bits 3-4 copy_threshold {256, 0, 2048, 60}, bits 5-6
 *            header_copy {128, 0, 14, 1024}, bit 7 the guest disconnects
 *            while the application holds its mbufs
 *   1        frontend features: bit 0 sg, 1 gso-tcpv4, 2 gso-tcpv6; the
 *            application's port configuration: bit 3 no RX scatter (one
 *            segment per frame), bit 4 partial L4 checksums taken, bit 5
 *            RX IPv4 checksum flags wanted; the frontend again: bit 6
 *            feature-no-csum-offload, bit 7 feature-ipv6-csum-offload
 *   2        nsteps; 0: the old snapshot run (up to four bursts of 64, every
 *            mbuf freed), so pre-script inputs keep their meaning after
 *            these 7 header bytes are put in front of them
 *   3-6      the RX ring's start index (le32)
 *   7...     nsteps steps of 8 bytes: op, a, b (le16), c (le32); see fz_step
 *   then     the guest's TX ring page (4096 bytes: indexes and requests)
 *   then     guest pages: grant ref r is page r while r < their count
 *
 * Checked after every step, beyond ASan and UBSan (the driver's rte_malloc
 * memory comes from the C heap, xnb_fuzz_shim.h): the backend consumes no
 * request the guest did not publish (nothing past req_prod, nothing when
 * req_prod is behind req_cons or more than a ring ahead of it), consumes
 * whole packets, never produces a response it has not pushed, never moves
 * rsp_prod back nor past the requests it took, answers no request twice and
 * none it did not take; every frame the application gets is one of the
 * packets taken, byte for byte; held mbufs stay readable; the guest RX ring
 * gets whole packets whose responses echo the request ids and whose bytes
 * are the ones sent; a checksum the backend completed checks (both ways;
 * XNB_FUZZ_NO_CSUM_CHECK skips that). At each disconnect: every request
 * taken answered exactly once (extras with NULL), nothing left mapped (but
 * pages whose copy-out we made fail); at the end every mbuf back in its
 * pool, every driver allocation freed and the tracker empty.
 * XNB_FUZZ_VERBOSE=1 says what each step did.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
/* As in xnb_fuzz_shim.h: DPDK 22.11's rte_ipv6_phdr_cksum shifts a
 * promoted uint8_t into the sign bit; not ours to flag. */
#pragma clang attribute push(__attribute__((no_sanitize("shift-base"))), apply_to = function)
#include <rte_ip.h>
#include <rte_net.h>
#pragma clang attribute pop

#include "xnb_internal.h"
#include "xnb_lifetime.h"
#include "xnb_fake_plat.h"

#define FZ_PAGE		XNB_PAGE_SIZE
#define FZ_RING		256u
#define FZ_HDR		7
#define FZ_STEP		8
#define FZ_MAX_PAGES	32		/* guest pages an input can give */
#define FZ_NB_MBUFS	8191
#define FZ_MAX_HELD	(2 * FZ_NB_MBUFS)
#define FZ_TAGS		65536u		/* 16-bit request ids */
/* Bytes of one burst's packets kept to compare: what 16 distinct guest
 * pages (RX_POST's grefs) can take, and a frame more. */
#define FZ_EXP_MAX	(17u * 4096 + 65536)
#define FZ_EXT_MAX	(4u << 20)	/* external buffers of built packets */
#define FZ_EXT_SEGS	4096
#define FZ_DOMID	1
#define FZ_T0		(1ull << 40)
/* The first bytes of a packet we sent, then its serial; bit 0 (the
 * destination's multicast bit) stays the frame's own. */
#define FZ_MAGIC	0x4658424eu

enum fz_op {
	FZ_TX_WRITE,	/* a: len-1 (0-3), b: ring page offset, c: bytes */
	FZ_TX_PROD,	/* a: where to move the TX req_prod, b: delta, c: value */
	FZ_TX_PUSH,	/* one request (or extra, a bit 4) at req_prod */
	FZ_TX_PKT,	/* a well-formed packet: a slots, b bytes, c shape (bit 14:
			 * IP and TCP headers that agree with it) */
	FZ_PAGE_WRITE,	/* a: page, b: offset, c: bytes (seen through maps) */
	FZ_RX_BURST,	/* a: nb_pkts and what the application does, c: mask */
	FZ_FREE,	/* the application frees some of what it holds */
	FZ_TICK,	/* the clock moves (a), the service tick runs */
	FZ_GRANT,	/* a: ref, b: revoke/restore/readonly, or c%3+1 failures
			 * of copy, copy-out swap, map or the driver's malloc */
	FZ_CLONE,	/* the application clones a held mbuf */
	FZ_RECONNECT,	/* disconnect (flush) and connect again */
	FZ_RX_PROD,	/* the RX ring's req_prod, as FZ_TX_PROD */
	FZ_RX_POST,	/* b + 1 RX requests, grefs from c & 0xff */
	FZ_RX_WRITE,	/* RX ring page bytes, as FZ_TX_WRITE */
	FZ_TX_SEND,	/* packets the application builds, sent to the guest */
	FZ_TX_FWD,	/* held mbufs sent to the guest (lent pages among them) */
	FZ_CONF,	/* the toolstack or frontend: a%4 0 rate key (b bytes,
			 * c usec), 1 no rate, 2 multicast control on/off at the
			 * next connect, 3 multicast list cleared */
	FZ_NB_OPS
};

static const uint16_t fz_nb[] = { 1, 32, 33, 64, 256 };

struct fz_step {
	uint8_t op, a;
	uint16_t b;
	uint32_t c;
};

/* A packet a burst took from the guest's TX ring, as the guest wrote it:
 * to compare with the frame the application gets. */
#define FZ_PK_SLOTS	(XNB_FATAL_SLOTS + 1)
struct fz_taken {
	uint32_t len;			/* the frame: first request's size */
	uint16_t flags;			/* the first request's NETTXF_* */
	uint16_t nslot;			/* data slots; 0: not comparable */
	struct {
		uint32_t gref;
		uint16_t off, len;
	} slot[FZ_PK_SLOTS];
};

/* A packet sent to the guest, kept to compare with what arrives. */
struct fz_sent {
	uint32_t off, len;	/* in fz.exp */
	/* Words the backend may rewrite: IPv4 header and L4 checksums. */
	int32_t csum_at[4];
	/* Where the backend looks for the L4 checksum it may have to complete
	 * (xnb_tx.c's contract: the offload fields, else a parse). */
	bool partial, v4;
	uint8_t l4type;			/* IPPROTO_TCP, IPPROTO_UDP or 0 */
	uint32_t l2, l3;
};

int xnb_logtype;

static struct {
	struct xnb_fake fake;
	uint64_t now, tsc_per_ms;
	struct rte_mempool *mp, *mp_small;
	netif_tx_sring_t *txs;		/* the guest's TX ring page */
	netif_rx_sring_t *rxs;		/* the guest's RX ring page */
	struct xnb_port ports[4];

	/* this input */
	struct xnb_port *port;
	struct xnb_queue *q;
	struct xnb_rxq *rxq;
	struct xnb_txq *txq;
	uint32_t npages;		/* grants the input gave */
	bool connected;
	bool stop;			/* the id budget is spent: end the script */
	bool verbose;			/* XNB_FUZZ_VERBOSE: say what each step did */
	long blocks;			/* the driver's rte_malloc blocks alive */
	long blocks0;			/* ... between inputs */
	uint32_t fail_malloc;		/* the next ones fail */
	uint64_t compared;		/* RX packets checked byte for byte */
	uint64_t csum_checked;		/* checksums the backend completed, verified */
	bool no_csum_check;		/* XNB_FUZZ_NO_CSUM_CHECK: skip that check */
	bool mcast_ctrl_next;		/* feature-multicast-control at the next connect */
	struct rte_mbuf *held[FZ_MAX_HELD];
	uint32_t nheld;
	struct rte_mbuf *pkts[256];

	/* TX ring (guest -> backend) of this connection */
	RING_IDX tx_start;		/* rsp_prod at connect */
	RING_IDX tx_seen;		/* responses the guest has read */
	uint32_t tag_base;		/* request id of index tx_start */
	uint32_t tags_used;		/* ids used by earlier connections */
	uint32_t nulls, extras;
	uint32_t stale;			/* pages whose copy-out at a flush we failed */
	bool tx_overcommit;		/* the guest published req_prod > a ring past
					 * the responses it had seen */
	bool tx_lost;			/* ... and answers were overwritten unread */
	uint8_t kind[FZ_TAGS];		/* per id: 0 not taken, 1 data, 2 extra */
	uint8_t answers[FZ_TAGS];
	netif_tx_sring_t *txsnap;	/* the ring as the burst found it */
	struct fz_taken taken[FZ_RING];	/* the packets of one burst */
	uint32_t ntaken;
	uint64_t rx_compared;		/* frames checked against the guest's bytes */

	/* RX ring (backend -> guest) */
	RING_IDX rx_seen;
	netif_rx_sring_t *rxsnap;
	uint8_t *exp;			/* bytes of the packets of one send */
	uint32_t exp_used;
	struct fz_sent sent[256];
	uint32_t nsent;
	uint8_t *pkt;			/* one packet as the guest reads it */
	uint8_t *pattern;		/* byte j is j & 0xff: built packets' bytes */
	int32_t src_ref[FZ_MAX_PAGES];	/* lent pages among the sources */

	/* external buffers of built packets */
	uint8_t *ext;
	uint32_t ext_used;
	struct rte_mbuf_ext_shared_info ext_sh[FZ_EXT_SEGS];
	uint32_t ext_nsh;
	uint32_t ext_live;
} fz;

static void __attribute__((format(printf, 1, 2), noreturn))
fz_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "xnb-fuzz: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* Writes the marker of serial i over the first 8 bytes at d. */
static void
fz_mark(uint8_t *d, uint32_t i)
{
	uint32_t w[2] = { FZ_MAGIC | (d[0] & 1), 0x5a5a0000u | i };

	memcpy(d, w, 8);
}

/* The serial a frame's first 8 bytes carry, or -1. */
static int32_t
fz_marked(const uint8_t *d)
{
	uint32_t w[2];

	memcpy(w, d, 8);
	return (w[0] & ~1u) == FZ_MAGIC && (w[1] >> 16) == 0x5a5a ? (int32_t)(w[1] & 0xffff) : -1;
}

/* ---- what the shim (xnb_fuzz_shim.h) and the driver's other files give ---- */

uint64_t
xnb_fuzz_tsc(void)
{
	return fz.now;
}

void *
xnb_fuzz_malloc(size_t size, unsigned int align, int zero)
{
	void *p;

	if (fz.fail_malloc > 0) {
		fz.fail_malloc--;
		return NULL;
	}
	if (align < sizeof(void *))
		align = sizeof(void *);
	if (posix_memalign(&p, align, size == 0 ? 1 : size) != 0)
		return NULL;
	if (zero)
		memset(p, 0, size);
	fz.blocks++;
	return p;
}

void
xnb_fuzz_free(void *p)
{
	if (p != NULL)
		fz.blocks--;
	free(p);
}

/* ---- the guest's view of its rings ---------------------------------------- */

static netif_tx_request_t *
tx_req(netif_tx_sring_t *s, RING_IDX i)
{
	return &s->ring[i & (FZ_RING - 1)].req;
}

static netif_rx_request_t *
rx_req(netif_rx_sring_t *s, RING_IDX i)
{
	return &s->ring[i & (FZ_RING - 1)].req;
}

static void
tx_prod_set(RING_IDX v)
{
	__atomic_store_n(&fz.txs->req_prod, v, __ATOMIC_RELEASE);
}

static void
rx_prod_set(RING_IDX v)
{
	__atomic_store_n(&fz.rxs->req_prod, v, __ATOMIC_RELEASE);
}

/* Where a producer index goes: relative to what the guest saw answered
 * (rsp), what the backend took (cons), or anywhere. */
static RING_IDX
fz_prod_move(RING_IDX prod, RING_IDX rsp, RING_IDX cons, uint8_t mode, uint16_t b,
	     uint32_t c)
{
	switch (mode % 8) {
	case 0:
		return prod + (int16_t)b;
	case 1:
		return rsp + b % 512;
	case 2:
		/* Into the window of requests taken but not answered yet. */
		return cons != rsp ? rsp + b % (cons - rsp) : rsp - 1 - b % 8;
	case 3:
		return cons + FZ_RING;
	case 4:
		return cons + FZ_RING + 1;
	case 5:
		return cons + b % (FZ_RING + 1);
	case 6:
		return c;
	default:
		return cons - 1 - b % FZ_RING;
	}
}

static void
fz_ring_write(void *page, uint16_t b, uint8_t a, uint32_t c)
{
	uint32_t off = b % FZ_PAGE, len = 1 + a % 4;

	if (off + len > FZ_PAGE)
		off = FZ_PAGE - len;
	memcpy((uint8_t *)page + off, &c, len);
}

/* ---- mbufs ------------------------------------------------------------------ */

/* The layout of a chain is sane and every byte of it can be read (a lent
 * page unmapped under the application would fault here). */
static void
fz_mbuf_check(const struct rte_mbuf *m, bool full)
{
	const struct rte_mbuf *s;
	uint32_t len = 0, n = 0;
	volatile uint8_t sink = 0;

	if (m->pkt_len == 0 || m->pkt_len > 65535)
		fz_fail("mbuf of %u bytes", m->pkt_len);
	for (s = m; s != NULL; s = s->next) {
		const uint8_t *d = rte_pktmbuf_mtod(s, const uint8_t *);

		if ((uint32_t)s->data_off + s->data_len > s->buf_len)
			fz_fail("segment data %u+%u past its buffer of %u", s->data_off,
				s->data_len, s->buf_len);
		if (s->data_len > 0) {
			if (full)
				for (uint32_t i = 0; i < s->data_len; i++)
					sink ^= d[i];
			else
				sink ^= d[0] ^ d[s->data_len - 1];
		}
		len += s->data_len;
		if (++n > FZ_NB_MBUFS)
			fz_fail("mbuf chain loops");
	}
	(void)sink;
	if (len != m->pkt_len || n != m->nb_segs)
		fz_fail("chain of %u segments, %u bytes; head says %u, %u", n, len,
			m->nb_segs, m->pkt_len);
}

static void
fz_hold(struct rte_mbuf *m)
{
	if (fz.nheld == FZ_MAX_HELD)
		fz_fail("more mbufs held than the pools have");
	fz.held[fz.nheld++] = m;
}

static void
fz_free_held(uint32_t i)
{
	rte_pktmbuf_free(fz.held[i]);
	fz.held[i] = NULL;
}

static void
fz_compact(void)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < fz.nheld; i++)
		if (fz.held[i] != NULL)
			fz.held[k++] = fz.held[i];
	fz.nheld = k;
}

static void
fz_ext_free(void *addr __rte_unused, void *opaque __rte_unused)
{
	fz.ext_live--;
}

/* ---- the guest TX ring: what the backend took and answered ------------------ */

static uint16_t
fz_tag(RING_IDX i)
{
	return (uint16_t)(fz.tag_base + (i - fz.tx_start));
}

/* Before a burst: each request slot gets the id of its index, so that each
 * answer names the one request it answers (the backend only echoes ids). */
static void
fz_tx_tag(void)
{
	RING_IDX cons = fz.rxq->ring.req_cons;

	for (RING_IDX i = cons; i != cons + FZ_RING; i++)
		tx_req(fz.txs, i)->id = fz_tag(i);
}

/* After a burst took [from, to) as the snapshot shows them: whole packets
 * as netif.h defines them, extras marked (their answers are NULL). */
static void
fz_tx_taken(RING_IDX from, RING_IDX to)
{
	RING_IDX i = from;

	fz.ntaken = 0;
	while (i != to) {
		const netif_tx_request_t *first = tx_req(fz.txsnap, i);
		struct fz_taken *pk = &fz.taken[fz.ntaken < FZ_RING ? fz.ntaken++ : 0];
		uint32_t k = 1, rest = 0;
		bool more;

		pk->len = first->size;
		pk->flags = first->flags;
		pk->nslot = 1;
		pk->slot[0].gref = first->gref;
		pk->slot[0].off = first->offset;
		fz.kind[fz_tag(i)] = 1;
		if (first->flags & NETTXF_extra_info) {
			do {
				const struct netif_extra_info *ex;

				if (i + k == to)
					goto partial;
				ex = (const void *)tx_req(fz.txsnap, i + k);
				fz.kind[fz_tag(i + k)] = 2;
				fz.extras++;
				more = ex->flags & XEN_NETIF_EXTRA_FLAG_MORE;
				k++;
			} while (more && k < FZ_RING);
		}
		more = first->flags & NETTXF_more_data;
		while (more && k < FZ_RING) {
			const netif_tx_request_t *t;

			if (i + k == to)
				goto partial;
			t = tx_req(fz.txsnap, i + k);
			fz.kind[fz_tag(i + k)] = 1;
			more = t->flags & NETTXF_more_data;
			if (pk->nslot > 0 && pk->nslot < FZ_PK_SLOTS) {
				pk->slot[pk->nslot].gref = t->gref;
				pk->slot[pk->nslot].off = t->offset;
				pk->slot[pk->nslot++].len = t->size;
			} else {
				pk->nslot = 0;
			}
			rest += t->size;
			k++;
		}
		/* The first slot holds what the others do not. */
		if (rest > first->size)
			pk->nslot = 0;
		pk->slot[0].len = first->size - rest;
		i += k;
	}
	return;
partial:
	fz_fail("the backend took requests [%u, %u) ending inside a packet", from, to);
}

/* The guest reads its new TX responses; each answers one request taken. */
static void
fz_tx_harvest(void)
{
	struct xnb_rxq *rxq = fz.rxq;
	RING_IDX p = rxq->ring.rsp_prod_pvt, taken = rxq->ring.req_cons - fz.tx_start;

	if (p - fz.tx_start > taken)
		fz_fail("rsp_prod %u passes the %u requests taken since %u", p, taken,
			fz.tx_start);
	if (p == fz.tx_seen)
		return;
	if ((int32_t)(p - fz.tx_seen) < 0)
		fz_fail("rsp_prod moved back from %u to %u", fz.tx_seen, p);
	if (fz.txs->rsp_prod != p)
		fz_fail("responses up to %u made but rsp_prod is %u", p, fz.txs->rsp_prod);
	/* More than a ring of answers at once overwrites some before the guest
	 * reads them: only a guest that published more than a ring of requests
	 * past what it had seen answered can cause that (its own loss, as with
	 * Linux netback); their ids cannot be checked any more. */
	if (p - fz.tx_seen > FZ_RING) {
		if (!fz.tx_overcommit)
			fz_fail("%u responses at once: more than a ring", p - fz.tx_seen);
		fz.tx_lost = true;
		fz.tx_seen = p - FZ_RING;
	}
	for (RING_IDX i = fz.tx_seen; i != p; i++) {
		const netif_tx_response_t *r = &fz.txs->ring[i & (FZ_RING - 1)].rsp;
		uint16_t tag = r->id;

		if (r->status == NETIF_RSP_NULL) {
			fz.nulls++;
			continue;
		}
		if (r->status != NETIF_RSP_OKAY && r->status != NETIF_RSP_ERROR)
			fz_fail("TX response %u: status %d", i, r->status);
		if ((uint16_t)(tag - fz.tag_base) >= taken || fz.kind[tag] != 1)
			fz_fail("TX response %u answers id %u, no data request taken "
				"(taken %u from id %u)", i, tag, taken, fz.tag_base);
		if (++fz.answers[tag] > 1)
			fz_fail("TX request id %u answered twice", tag);
	}
	fz.tx_seen = p;
}

/* Where the checksums the backend may complete lie: at the offsets the
 * application gave with its offload request (the ethdev contract), or
 * where rte_net_get_ptype finds them (a frame left partial on its way in).
 * Headers have even lengths; the comparison skips aligned words. */
static void
fz_csum_fields(const struct rte_mbuf *m, struct fz_sent *s)
{
	struct rte_net_hdr_lens hl;
	uint32_t pt = rte_net_get_ptype(m, &hl, RTE_PTYPE_L2_MASK | RTE_PTYPE_L3_MASK |
					RTE_PTYPE_L4_MASK);
	uint32_t l4 = hl.l2_len + hl.l3_len;

	for (int k = 0; k < 4; k++)
		s->csum_at[k] = -1;
	if (RTE_ETH_IS_IPV4_HDR(pt))
		s->csum_at[0] = hl.l2_len + 10;
	if ((pt & RTE_PTYPE_L4_MASK) == RTE_PTYPE_L4_TCP)
		s->csum_at[1] = l4 + 16;
	else if ((pt & RTE_PTYPE_L4_MASK) == RTE_PTYPE_L4_UDP)
		s->csum_at[1] = l4 + 6;
	if (!(m->ol_flags & (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IPV6)))
		return;
	l4 = m->l2_len + m->l3_len;
	if (m->ol_flags & RTE_MBUF_F_TX_IPV4)
		s->csum_at[2] = m->l2_len + 10;
	s->csum_at[3] = l4 + ((m->ol_flags & RTE_MBUF_F_TX_L4_MASK) ==
			      RTE_MBUF_F_TX_UDP_CKSUM ? 6 : 16);
}

static bool
fz_csum_byte(const struct fz_sent *s, uint32_t b)
{
	for (int k = 0; k < 4; k++)
		if (s->csum_at[k] >= 0 && (b & ~1u) == ((uint32_t)s->csum_at[k] & ~1u))
			return true;
	return false;
}

/*
 * The TCP/UDP checksum of a frame in p[0..len), as a receiver checks it:
 * the L4 bytes the IP header says there are, and the pseudo-header. Plain
 * code, not DPDK's helpers (22.11's rte_raw_cksum_mbuf is what is under
 * test). Returns the folded sum (0xffff: correct), 0 when the IP header
 * does not fit or claims more bytes than the frame has (*past set).
 */
static uint32_t
fz_l4_sum(const uint8_t *p, uint32_t len, bool v4, uint32_t l2, uint32_t l3,
	  uint8_t proto, bool *past)
{
	uint32_t l4 = l2 + l3, l4len, sum = 0;
	uint8_t ph[4];

	*past = false;
	if (l4 > len || l3 < (v4 ? 20u : 40u))
		return 0;
	if (v4)
		l4len = (uint32_t)(p[l2 + 2] << 8 | p[l2 + 3]) - (p[l2] & 0xf) * 4u;
	else
		l4len = (uint32_t)(p[l2 + 4] << 8 | p[l2 + 5]) - (l3 - 40);
	if (l4len > 0xffff || l4 + l4len > len) {
		*past = true;
		return 0;
	}
	/* Source and destination addresses, then zero, protocol, length. */
	sum = v4 ? rte_raw_cksum(p + l2 + 12, 8) : rte_raw_cksum(p + l2 + 8, 32);
	ph[0] = 0;
	ph[1] = proto;
	ph[2] = l4len >> 8;
	ph[3] = l4len & 0xff;
	sum += rte_raw_cksum(ph, 4);
	sum += rte_raw_cksum(p + l4, l4len);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

/* Whether the IP header at l2 is one a receiver takes (its version, an
 * IPv4 header length of l3) and says the frame is exactly len bytes. */
static bool
fz_ip_well_formed(const uint8_t *p, uint32_t len, bool v4, uint32_t l2, uint32_t l3)
{
	if (l2 + (v4 ? 20u : 40u) > len)
		return false;
	if (v4)
		return p[l2] >> 4 == 4 && (p[l2] & 0xf) * 4u == l3 &&
			(uint32_t)(p[l2 + 2] << 8 | p[l2 + 3]) + l2 == len;
	return p[l2] >> 4 == 6 && (uint32_t)(p[l2 + 4] << 8 | p[l2 + 5]) + l2 + 40 == len;
}

/* Where xnb_tx.c finds the checksum it completes: the offsets and L4
 * protocol of the application's offload request when it gave them (the
 * ethdev contract), else what rte_net_get_ptype finds. */
static void
fz_tx_locate(const struct rte_mbuf *m, struct fz_sent *s)
{
	uint64_t ol = m->ol_flags;
	struct rte_net_hdr_lens hl;
	uint32_t pt;

	s->partial = (ol & (RTE_MBUF_F_TX_L4_MASK | RTE_MBUF_F_TX_TCP_SEG)) ||
		(ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_NONE;
	s->l4type = 0;
	if ((ol & (RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_IPV6)) && m->l3_len != 0) {
		s->l2 = m->l2_len;
		s->l3 = m->l3_len;
		s->v4 = ol & RTE_MBUF_F_TX_IPV4;
		if ((ol & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_UDP_CKSUM)
			s->l4type = IPPROTO_UDP;
		else if ((ol & RTE_MBUF_F_TX_L4_MASK) == RTE_MBUF_F_TX_TCP_CKSUM ||
			 (ol & RTE_MBUF_F_TX_TCP_SEG))
			s->l4type = IPPROTO_TCP;
		return;
	}
	pt = rte_net_get_ptype(m, &hl, RTE_PTYPE_L2_MASK | RTE_PTYPE_L3_MASK |
			       RTE_PTYPE_L4_MASK);
	if (!RTE_ETH_IS_IPV4_HDR(pt) && !RTE_ETH_IS_IPV6_HDR(pt))
		return;
	s->l2 = hl.l2_len;
	s->l3 = hl.l3_len;
	s->v4 = RTE_ETH_IS_IPV4_HDR(pt);
	if ((pt & RTE_PTYPE_L4_MASK) == RTE_PTYPE_L4_TCP)
		s->l4type = IPPROTO_TCP;
	else if ((pt & RTE_PTYPE_L4_MASK) == RTE_PTYPE_L4_UDP)
		s->l4type = IPPROTO_UDP;
}

/* A frame that left the backend with its checksum completed (validated,
 * not blank, though the application left it partial) verifies: the L4
 * checksum over [l4, len) and the pseudo-header, as xnb_tx.c defines it. */
static void
fz_tx_csum_check(const struct fz_sent *s, const uint8_t *buf, uint32_t len,
		 uint16_t rxflags, uint32_t serial)
{
	uint32_t sum;
	bool past;

	if (fz.no_csum_check || !s->partial || s->l4type == 0 ||
	    !(rxflags & NETRXF_data_validated) || (rxflags & NETRXF_csum_blank) ||
	    !fz_ip_well_formed(buf, len, s->v4, s->l2, s->l3))
		return;
	/* A well-formed frame: its checksum checks. */
	sum = fz_l4_sum(buf, len, s->v4, s->l2, s->l3, s->l4type, &past);
	if (sum != 0xffff)
		fz_fail("RX packet %u: checksum completed by the backend does not "
			"verify (sum %#x; l2 %u l3 %u %s, L4 %u, %u bytes, flags %#x)", serial,
			sum, s->l2, s->l3, s->v4 ? "IPv4" : "IPv6", s->l4type, len, rxflags);
	fz.csum_checked++;
}

/* ---- the guest RX ring: what arrived --------------------------------------- */

/* The guest reads the RX responses of one tx burst: whole packets, ids
 * echoed, and, where the pages allow a clean comparison, the bytes sent. */
static void
fz_rx_harvest(bool compare)
{
	struct xnb_txq *txq = fz.txq;
	RING_IDX p = txq->ring.rsp_prod_pvt;
	RING_IDX i = fz.rx_seen;

	if (p == fz.rx_seen)
		return;
	if ((int32_t)(p - fz.rx_seen) < 0)
		fz_fail("RX rsp_prod moved back from %u to %u", fz.rx_seen, p);
	if (p - fz.rx_seen > FZ_RING)
		fz_fail("%u RX responses at once", p - fz.rx_seen);
	if (fz.rxs->rsp_prod != p)
		fz_fail("RX responses up to %u made but rsp_prod is %u", p, fz.rxs->rsp_prod);
	if (p != txq->ring.req_cons)
		fz_fail("RX requests taken up to %u, answered up to %u", txq->ring.req_cons, p);
	while (i != p) {
		const netif_rx_response_t *r = &fz.rxs->ring[i & (FZ_RING - 1)].rsp;
		uint32_t len = 0, n = 0;
		bool bad = false, more;
		RING_IDX j = i;

		if (r->flags & NETRXF_extra_info) {
			const struct netif_extra_info *ex;

			if (++j == p)
				fz_fail("RX packet at %u: its extra is not pushed", i);
			ex = (const void *)&fz.rxs->ring[j & (FZ_RING - 1)].rsp;
			if (ex->type != XEN_NETIF_EXTRA_TYPE_GSO ||
			    (ex->flags & XEN_NETIF_EXTRA_FLAG_MORE) || ex->u.gso.size == 0)
				fz_fail("RX packet at %u: extra type %u flags %u size %u", i,
					ex->type, ex->flags, ex->u.gso.size);
		}
		for (RING_IDX k = i;; k = ++j) {
			const netif_rx_response_t *d = &fz.rxs->ring[k & (FZ_RING - 1)].rsp;
			const netif_rx_request_t *q = rx_req(fz.rxsnap, k);

			if (k == p)
				fz_fail("RX packet at %u ends past rsp_prod %u", i, p);
			if (d->id != (uint16_t)k)
				fz_fail("RX response %u has id %u, its request %u", k, d->id,
					(uint16_t)k);
			if (d->status < 0) {
				bad = true;
			} else if (d->status == 0 || d->offset + (uint32_t)d->status > FZ_PAGE) {
				fz_fail("RX response %u: offset %u status %d", k, d->offset,
					d->status);
			} else if (compare && !bad) {
				const uint8_t *pg = xnb_fake_page(&fz.fake, q->gref);

				if (pg == NULL)
					fz_fail("RX response %u OKAY into gref %u, not granted", k,
						q->gref);
				memcpy(fz.pkt + len, pg + d->offset, d->status);
				len += d->status;
			}
			n++;
			more = d->flags & NETRXF_more_data;
			if (!more)
				break;
			if (n > XEN_NETIF_NR_SLOTS_MIN)
				fz_fail("RX packet at %u: more than %u slots", i, n);
		}
		i = j + 1;
		if (compare && !bad && len >= 8) {
			int32_t m1 = fz_marked(fz.pkt);

			if (m1 >= 0 && (uint32_t)m1 < fz.nsent && fz.sent[m1].off != UINT32_MAX) {
				const struct fz_sent *s = &fz.sent[m1];

				fz.compared++;
				if (s->len != len)
					fz_fail("RX packet %u: %u bytes arrived, %u sent",
						m1, len, s->len);
				for (uint32_t b = 0; b < len; b++)
					if (fz.pkt[b] != fz.exp[s->off + b] &&
					    !fz_csum_byte(s, b))
						fz_fail("RX packet %u: byte %u is %#x, sent %#x",
							m1, b, fz.pkt[b],
							fz.exp[s->off + b]);
				fz_tx_csum_check(s, fz.pkt, len, r->flags, m1);
			}
		}
	}
	fz.rx_seen = p;
}

/* ---- connect and disconnect, as xnb_xenbus.c does -------------------------- */

static bool
fz_connect(void)
{
	RING_IDX trsp = fz.txs->rsp_prod, rrsp = fz.rxs->rsp_prod;

	/* Only a ring that claims no more than it holds (xnb_xenbus.c). */
	if (fz.txs->req_prod - trsp > FZ_RING || fz.rxs->req_prod - rrsp > FZ_RING)
		return false;
	if (fz.tags_used + 4 * FZ_RING > FZ_TAGS) {
		fz.stop = true;
		return false;
	}
	BACK_RING_ATTACH(&fz.rxq->ring, fz.txs, trsp, XNB_PAGE_SIZE);
	BACK_RING_ATTACH(&fz.txq->ring, fz.rxs, rrsp, XNB_PAGE_SIZE);
	fz.port->fe.mcast_ctrl = fz.mcast_ctrl_next;
	fz.tx_start = fz.tx_seen = trsp;
	fz.tx_overcommit = fz.tx_lost = false;
	fz.tag_base = fz.tags_used;
	fz.nulls = fz.extras = 0;
	fz.rx_seen = rrsp;
	__atomic_store_n(&fz.q->fatal, 0, __ATOMIC_RELEASE);
	xnb_guard_open(&fz.rxq->guard);
	xnb_guard_open(&fz.txq->guard);
	fz.connected = true;
	return true;
}

/* Guard closed, every lent page copied out and answered: each request of
 * this connection has exactly one answer. */
static void
fz_disconnect(void)
{
	uint32_t taken, missing = 0, failed, replace_before = fz.fake.fail_replace_calls;

	if (!fz.connected)
		return;
	__atomic_store_n(&fz.rxq->guard.allowed, 0, __ATOMIC_SEQ_CST);
	__atomic_store_n(&fz.txq->guard.allowed, 0, __ATOMIC_SEQ_CST);
	xnb_rxq_flush(fz.rxq);
	/* A page whose copy-out fails here stays mapped until the application
	 * frees it and its request is never answered (the next connection's
	 * ring must not see the answer). */
	failed = replace_before - fz.fake.fail_replace_calls;
	fz.stale += failed;
	/* As xnb_xenbus.c's disconnect does. */
	xnb_mcast_clear(fz.port);
	fz.txq->stall_since = 0;
	__atomic_store_n(&fz.txq->stalled, 0, __ATOMIC_RELEASE);
	fz_tx_harvest();
	fz_rx_harvest(false);
	taken = fz.rxq->ring.req_cons - fz.tx_start;
	for (uint32_t t = 0; t < taken; t++) {
		uint16_t tag = (uint16_t)(fz.tag_base + t);

		if (fz.kind[tag] == 1 && fz.answers[tag] == 0)
			missing++;
	}
	if (missing > failed && !fz.tx_lost)
		fz_fail("disconnect: %u of %u requests taken never answered", missing,
			taken);
	if (fz.nulls != fz.extras && !fz.tx_lost)
		fz_fail("disconnect: %u extras taken, %u NULL answers", fz.extras, fz.nulls);
	if (fz.fake.mapped > fz.stale)
		fz_fail("disconnect: %u guest pages still mapped", fz.fake.mapped);
	fz.tags_used += taken + FZ_RING;
	fz.connected = false;
}

/* ---- the steps --------------------------------------------------------------- */

/* Whether frame m has the bytes of packet pk (as the guest pages hold
 * them now), but for checksum words the backend may complete; at most max
 * bytes are looked at. Plain loops: a memcmp would feed libFuzzer's
 * comparison hooks with every candidate that does not match. */
static bool
fz_rx_same(const struct rte_mbuf *m, const struct fz_taken *pk, const struct fz_sent *ck,
	   uint32_t max)
{
	const struct rte_mbuf *seg = m;
	uint32_t moff = 0, pos = 0;

	if (m->pkt_len != pk->len || pk->nslot == 0)
		return false;
	for (uint16_t j = 0; j < pk->nslot && pos < max; j++) {
		const uint8_t *pg = xnb_fake_page(&fz.fake, pk->slot[j].gref);

		if (pk->slot[j].len == 0)
			continue;	/* nothing copied, nothing mapped: any gref */
		if (pg == NULL || pk->slot[j].gref >= fz.npages ||
		    (uint32_t)pk->slot[j].off + pk->slot[j].len > FZ_PAGE)
			return false;
		pg += pk->slot[j].off;
		for (uint32_t b = 0; b < pk->slot[j].len && pos < max; b++, pos++) {
			while (seg != NULL && moff == seg->data_len) {
				seg = seg->next;
				moff = 0;
			}
			if (seg == NULL)
				return false;
			if (rte_pktmbuf_mtod(seg, const uint8_t *)[moff++] != pg[b] &&
			    !fz_csum_byte(ck, pos))
				return false;
		}
	}
	return true;
}

/* A frame whose blank checksum (NETTXF_csum_blank) the backend completed
 * for the application (RX_L4_CKSUM_GOOD) checks, as a receiver checks it;
 * one whose IP length passes the frame cannot have been completed. */
static void
fz_rx_csum_check(const struct rte_mbuf *m, const struct fz_taken *pk, uint16_t i)
{
	static uint8_t flat[65536];
	uint32_t pt = m->packet_type, l4 = m->l2_len + m->l3_len, sum;
	const uint8_t *p;
	bool tcp, past;

	if (fz.no_csum_check || !(pk->flags & NETTXF_csum_blank) ||
	    (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) != RTE_MBUF_F_RX_L4_CKSUM_GOOD)
		return;
	tcp = (pt & RTE_PTYPE_L4_MASK) == RTE_PTYPE_L4_TCP;
	if (!tcp && (pt & RTE_PTYPE_L4_MASK) != RTE_PTYPE_L4_UDP)
		fz_fail("frame %u: blank checksum called good, L4 type %#x", i,
			pt & RTE_PTYPE_L4_MASK);
	if (l4 > m->data_len || l4 > m->pkt_len)
		fz_fail("frame %u: headers (%u bytes) not in its first segment", i, l4);
	p = rte_pktmbuf_read(m, 0, m->pkt_len, flat);
	sum = fz_l4_sum(p, m->pkt_len, RTE_ETH_IS_IPV4_HDR(pt), m->l2_len, m->l3_len,
			tcp ? IPPROTO_TCP : IPPROTO_UDP, &past);
	if (past)
		fz_fail("frame %u: blank checksum called good, but its IP header claims "
			"more bytes than the frame's %u", i, m->pkt_len);
	if (sum != 0xffff)
		fz_fail("frame %u: checksum completed by the backend does not verify "
			"(sum %#x; %u bytes in %u segments)", i, sum, m->pkt_len, m->nb_segs);
	fz.csum_checked++;
}

/* Each frame the application got is, in order, one of the packets the
 * burst took, byte for byte (the ones between were dropped). The first
 * 256 KiB of a burst are compared whole, the rest by their first bytes. */
static void
fz_rx_verify(struct rte_mbuf **pkts, uint16_t got)
{
	uint32_t cur = 0, budget = 256 * 1024;

	if (fz.verbose) {
		for (uint32_t j = 0; j < fz.ntaken; j++) {
			fprintf(stderr, "  taken %u: %u bytes:", j, fz.taken[j].len);
			for (uint16_t k = 0; k < fz.taken[j].nslot; k++)
				fprintf(stderr, " %u@%u+%u", fz.taken[j].slot[k].gref,
					fz.taken[j].slot[k].off, fz.taken[j].slot[k].len);
			fputc('\n', stderr);
		}
		for (uint16_t i = 0; i < got; i++)
			fprintf(stderr, "  got %u: %u bytes, %u segments\n", i, pkts[i]->pkt_len,
				pkts[i]->nb_segs);
	}

	for (uint16_t i = 0; i < got; i++) {
		struct fz_sent ck;
		uint32_t max = budget > 0 ? UINT32_MAX : 64;
		uint32_t j;

		fz_csum_fields(pkts[i], &ck);
		for (j = cur; j < fz.ntaken; j++)
			if (fz_rx_same(pkts[i], &fz.taken[j], &ck, max))
				break;
		if (j == fz.ntaken) {
			/* A packet not comparable (too many slots) may be it. */
			for (j = cur; j < fz.ntaken; j++)
				if (fz.taken[j].nslot == 0 && fz.taken[j].len == pkts[i]->pkt_len)
					break;
			if (j == fz.ntaken)
				fz_fail("frame %u of the burst (%u bytes) is none of the "
					"packets taken from %u on", i, pkts[i]->pkt_len, cur);
		} else {
			uint32_t k;

			fz.rx_compared++;
			/* Its flags are known if no later packet has its bytes. */
			for (k = j + 1; k < fz.ntaken; k++)
				if (fz_rx_same(pkts[i], &fz.taken[k], &ck, max))
					break;
			if (k == fz.ntaken)
				fz_rx_csum_check(pkts[i], &fz.taken[j], i);
		}
		budget -= RTE_MIN(budget, pkts[i]->pkt_len);
		cur = j + 1;
	}
}

static void
fz_rx_burst(uint16_t nb, struct rte_mbuf **pkts, uint16_t *got)
{
	struct xnb_rxq *rxq = fz.rxq;
	RING_IDX cons = rxq->ring.req_cons, prod, took;
	uint32_t room;
	bool over;

	*got = 0;
	if (!fz.connected)
		return;
	if (fz.tags_used + (cons - fz.tx_start) + 3 * FZ_RING > FZ_TAGS) {
		fz.stop = true;
		return;
	}
	fz_tx_tag();
	memcpy(fz.txsnap, fz.txs, FZ_PAGE);
	prod = fz.txs->req_prod;
	over = prod - fz.tx_seen > FZ_RING;
	if (over)
		fz.tx_overcommit = true;
	if (fz.verbose)
		for (RING_IDX i = cons; i != prod && i - cons < 64; i++) {
			const netif_tx_request_t *q = tx_req(fz.txsnap, i);

			fprintf(stderr, "  req %u: gref %u offset %u flags %#x size %u\n", i,
				q->gref, q->offset, q->flags, q->size);
		}
	*got = xnb_rx_burst(rxq, pkts, nb);
	took = rxq->ring.req_cons - cons;
	/* Nothing past what the guest published, and nothing at all when its
	 * index is behind ours or claims more than a ring. */
	room = (int32_t)(prod - cons) < 0 ? 0 : RTE_MIN(prod - cons, FZ_RING);
	if (took > room)
		fz_fail("rx burst took %u requests from %u; req_prod was %u (rsp_prod %u)",
			took, cons, prod, fz.tx_seen);
	fz_tx_taken(cons, rxq->ring.req_cons);
	for (uint16_t i = 0; i < *got; i++) {
		fz_mbuf_check(pkts[i], false);
		if (pkts[i]->port != fz.port->port_id)
			fz_fail("mbuf port %u", pkts[i]->port);
	}
	/* A guest past a ring has requests the burst's own answers overwrite
	 * before it reads them (grefs become ids): no telling what it took. */
	if (!over)
		fz_rx_verify(pkts, *got);
}

/* The guest's RX requests are tagged with their index, the packets in
 * pkts[0..n) recorded (the first 8 bytes marked where the application may
 * write them), then one tx burst; the caller owns pkts[ret..n). */
static uint16_t
fz_tx_send(struct rte_mbuf **pkts, uint16_t n, bool mark)
{
	struct xnb_txq *txq = fz.txq;
	RING_IDX cons = txq->ring.req_cons, prod, took;
	uint32_t room;
	uint16_t sent;
	bool clean = true;

	if (!fz.connected)
		return 0;
	for (RING_IDX i = cons; i != cons + FZ_RING; i++)
		rx_req(fz.rxs, i)->id = (uint16_t)i;
	memcpy(fz.rxsnap, fz.rxs, FZ_PAGE);
	prod = fz.rxs->req_prod;
	fz.exp_used = 0;
	fz.nsent = 0;
	for (uint32_t r = 0; r < FZ_MAX_PAGES; r++)
		fz.src_ref[r] = 0;
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct fz_sent *s = &fz.sent[i];

		if (mark && RTE_MBUF_DIRECT(m) && rte_mbuf_refcnt_read(m) == 1 &&
		    m->data_len >= 8)
			fz_mark(rte_pktmbuf_mtod(m, uint8_t *), i);
		s->len = m->pkt_len;
		s->off = UINT32_MAX;	/* not kept: not compared */
		fz_csum_fields(m, s);
		fz_tx_locate(m, s);
		if (fz.exp_used + m->pkt_len <= FZ_EXP_MAX) {
			uint8_t *to = fz.exp + fz.exp_used;
			const void *from = rte_pktmbuf_read(m, 0, m->pkt_len, to);

			if (from != NULL) {
				if (from != to)
					memcpy(to, from, m->pkt_len);
				s->off = fz.exp_used;
				fz.exp_used += m->pkt_len;
			}
		}
		fz.nsent++;
		/* Guest pages read by this burst must not be written by it too. */
		for (const struct rte_mbuf *g = m; g != NULL; g = g->next) {
			int ref = xnb_fake_ref_of(&fz.fake, rte_pktmbuf_mtod(g, void *));

			if (ref >= 0)
				fz.src_ref[ref] = 1;
		}
	}
	/* A frame that carries another's marker (left from an earlier send,
	 * or a clone sharing its data) makes that marker ambiguous: neither is
	 * compared. */
	for (uint16_t i = 0; i < n; i++) {
		uint8_t buf[8];
		const uint8_t *p = pkts[i]->pkt_len >= 8 ?
			rte_pktmbuf_read(pkts[i], 0, 8, buf) : NULL;
		int32_t j = p != NULL ? fz_marked(p) : -1;

		if (j >= 0 && j != i && j < n) {
			fz.sent[j].off = UINT32_MAX;
			fz.sent[i].off = UINT32_MAX;
		}
	}
	sent = xnb_tx_burst(txq, pkts, n);
	if (sent > n)
		fz_fail("tx burst sent %u of %u", sent, n);
	took = txq->ring.req_cons - cons;
	room = (int32_t)(prod - cons) < 0 ? 0 : RTE_MIN(prod - cons, FZ_RING);
	if (took > room)
		fz_fail("tx burst took %u RX requests from %u; req_prod was %u", took, cons,
			prod);
	/* Compare bytes only when no two slots of this burst share a page and
	 * none is also a source. */
	for (RING_IDX k = cons; k != txq->ring.req_cons && clean; k++) {
		uint32_t g = rx_req(fz.rxsnap, k)->gref;

		if (g >= FZ_MAX_PAGES)
			continue;
		if (fz.src_ref[g])
			clean = false;
		fz.src_ref[g] = 1;
	}
	fz_rx_harvest(clean);
	return sent;
}

/* Packets an application builds: shape from b and c, chained segments,
 * some in external buffers, TSO and checksum requests. */
static void
fz_tx_build_send(const struct fz_step *st)
{
	uint16_t n = fz_nb[st->a % 5], made = 0, sent;
	uint16_t room = rte_pktmbuf_data_room_size(fz.mp) - RTE_PKTMBUF_HEADROOM;
	uint32_t c = st->c, bytes = 0;

	fz.ext_used = 0;
	/* At most a guest ring's worth of bytes (filling buffers costs most of
	 * a run otherwise); the frames past it are not built. */
	for (uint16_t i = 0; i < n && bytes < FZ_RING * FZ_PAGE; i++) {
		uint32_t len = st->b + i * ((c >> 24) & 0x7f), nseg = 1 + (c & 7), left, pos = 0;
		struct rte_mbuf *head = NULL, *last = NULL;
		bool ext = c & 8;

		if (len == 0)
			len = 1;
		if (len > 80000)
			len = 80000;
		while ((len + nseg - 1) / nseg > room)
			nseg++;
		left = len;
		for (uint32_t k = 0; k < nseg && (k == 0 || left > 0); k++) {
			struct rte_mbuf *m = rte_pktmbuf_alloc(fz.mp);
			uint32_t dl = RTE_MIN(left, (len + nseg - 1) / nseg);
			uint8_t *d;

			if (m == NULL)
				break;
			if (ext && dl > 0 && fz.ext_used + dl <= FZ_EXT_MAX &&
			    fz.ext_nsh < FZ_EXT_SEGS) {
				struct rte_mbuf_ext_shared_info *sh = &fz.ext_sh[fz.ext_nsh++];

				sh->free_cb = fz_ext_free;
				sh->fcb_opaque = NULL;
				rte_mbuf_ext_refcnt_set(sh, 1);
				rte_pktmbuf_attach_extbuf(m, fz.ext + fz.ext_used, 0,
							  (uint16_t)dl, sh);
				fz.ext_used += dl;
				fz.ext_live++;
			}
			m->data_len = dl;
			d = rte_pktmbuf_mtod(m, uint8_t *);
			memcpy(d, fz.pattern + ((pos + i * 7) & 0xff), dl);
			pos += dl;
			left -= dl;
			if (head == NULL) {
				head = m;
			} else {
				last->next = m;
				head->nb_segs++;
			}
			last = m;
		}
		if (head == NULL)
			break;
		head->pkt_len = pos;
		bytes += pos;
		if (head->data_len >= 8) {
			uint8_t *d = rte_pktmbuf_mtod(head, uint8_t *);

			d[0] = c >> 31;		/* a multicast destination */
			fz_mark(d, i);
		}
		head->l2_len = RTE_ETHER_HDR_LEN;
		head->l3_len = (const uint8_t[]){ 20, 40, 0, 60 }[(c >> 10) & 3];
		head->l4_len = 20;
		head->tso_segsz = (c >> 16) & 0xff ? ((c >> 16) & 0xff) * 8 : 0;
		if (c & 0x10)
			head->ol_flags |= RTE_MBUF_F_TX_TCP_SEG;
		head->ol_flags |= (c & 0x20) ? RTE_MBUF_F_TX_IPV6 : RTE_MBUF_F_TX_IPV4;
		if (c & 0x40)
			head->ol_flags |= RTE_MBUF_F_TX_IP_CKSUM;
		if (c & 0x80)
			head->ol_flags |= RTE_MBUF_F_TX_TCP_CKSUM;
		head->ol_flags |= (const uint64_t[]){ 0, RTE_MBUF_F_RX_L4_CKSUM_BAD,
			RTE_MBUF_F_RX_L4_CKSUM_GOOD, RTE_MBUF_F_RX_L4_CKSUM_NONE }[(c >> 8) & 3];
		fz.pkts[made++] = head;
	}
	sent = fz_tx_send(fz.pkts, made, false);
	for (uint16_t i = sent; i < made; i++)
		rte_pktmbuf_free(fz.pkts[i]);
	fz.ext_nsh = 0;
	if (fz.ext_live != 0)
		fz_fail("%u external buffers not given back", fz.ext_live);
}

/* The oldest held mbufs go to the guest's RX ring (an application that
 * forwards), the ones it does not take stay held. */
static void
fz_tx_forward(uint16_t n)
{
	uint16_t sent;

	n = RTE_MIN((uint32_t)n, fz.nheld);
	if (n == 0)
		return;
	memcpy(fz.pkts, fz.held, n * sizeof(fz.pkts[0]));
	sent = fz_tx_send(fz.pkts, n, true);
	for (uint16_t i = 0; i < sent; i++)
		fz.held[i] = NULL;
	fz_compact();
}

/* Ethernet, IPv4 or IPv6 and TCP headers that agree with a frame of total
 * bytes, at off in the guest page of gref (the first slot holds first). */
static void
fz_write_headers(uint32_t gref, uint32_t off, uint32_t total, uint32_t first, bool v6)
{
	uint8_t *pg = xnb_fake_page(&fz.fake, gref), *h;
	uint32_t l3 = v6 ? 40 : 20, hlen = 14 + l3 + 20;

	if (pg == NULL || gref >= fz.npages || first < hlen || off + hlen > FZ_PAGE)
		return;
	h = pg + off;
	memset(h, 0, hlen);
	memcpy(h, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02", 12);
	h[12] = v6 ? 0x86 : 0x08;
	h[13] = v6 ? 0xdd : 0x00;
	if (v6) {
		h[14] = 0x60;
		h[18] = (total - 54 - 20 + 20) >> 8;	/* payload: TCP and data */
		h[19] = (total - 54 - 20 + 20) & 0xff;
		h[20] = IPPROTO_TCP;
		h[21] = 64;
		h[23] = 1;
		h[39] = 2;
	} else {
		h[14] = 0x45;
		h[16] = (total - 14) >> 8;
		h[17] = (total - 14) & 0xff;
		h[22] = 64;
		h[23] = IPPROTO_TCP;
		h[26] = 10;
		h[29] = 1;
		h[30] = 10;
		h[33] = 2;
	}
	h = pg + off + 14 + l3;
	h[0] = 0x30;
	h[3] = 80;
	h[12] = 5 << 4;
	h[13] = 0x18;		/* ACK, PSH */
	h[14] = 0xff;
	h[15] = 0xff;
}

static void
fz_step(const struct fz_step *st)
{
	uint16_t got = 0;

	switch (st->op % FZ_NB_OPS) {
	case FZ_TX_WRITE:
		fz_ring_write(fz.txs, st->b, st->a, st->c);
		break;
	case FZ_TX_PROD:
		tx_prod_set(fz_prod_move(fz.txs->req_prod, fz.tx_seen,
					 fz.connected ? fz.rxq->ring.req_cons : fz.tx_seen,
					 st->a, st->b, st->c));
		break;
	case FZ_TX_PUSH: {
		RING_IDX p = fz.txs->req_prod;
		netif_tx_request_t *r = tx_req(fz.txs, p);

		memset(r, 0, sizeof(*r));
		if (st->a & 0x10) {
			struct netif_extra_info *ex = (void *)r;

			ex->type = st->c & 0xff;
			ex->flags = (st->a >> 5) & 1;
			ex->u.gso.size = st->b;
			ex->u.gso.type = (st->c >> 8) & 0xff;
			ex->u.gso.features = st->c >> 16;
		} else {
			r->gref = st->c & 0xff;
			r->offset = (st->c >> 8) & 0xfff;
			r->flags = st->a & 0xf;
			r->size = st->b;
		}
		if (!(st->a & 0x80))
			tx_prod_set(p + 1);
		break;
	}
	case FZ_TX_PKT: {
		RING_IDX p = fz.txs->req_prod;
		uint32_t n = 1 + st->a % 24, total = st->b ? st->b : 60, chunk;
		uint32_t off = ((st->c >> 8) & 0x3f) * 16, rest = 0;
		bool gso = st->c & (1u << 31);
		netif_tx_request_t *r0 = tx_req(fz.txs, p);

		chunk = (total + n - 1) / n;
		if (chunk > FZ_PAGE - off)
			off = 0;
		chunk = RTE_MIN(chunk, FZ_PAGE);
		total = RTE_MIN(total, chunk * n);
		for (uint32_t j = 1; j < n; j++) {
			netif_tx_request_t *r = tx_req(fz.txs, p + j + gso);
			uint32_t sz = RTE_MIN(chunk, total - RTE_MIN(total, j * chunk));

			memset(r, 0, sizeof(*r));
			r->gref = (st->c & 0xff) + j % 8;
			r->flags = j + 1 < n ? NETTXF_more_data : 0;
			r->size = sz;
			rest += sz;
		}
		memset(r0, 0, sizeof(*r0));
		r0->gref = st->c & 0xff;
		r0->offset = off;
		r0->size = total;
		r0->flags = (n > 1 ? NETTXF_more_data : 0) | (gso ? NETTXF_extra_info : 0) |
			((st->c >> 28) & 1 ? NETTXF_csum_blank : 0) |
			((st->c >> 29) & 1 ? NETTXF_data_validated : 0);
		if (gso) {
			struct netif_extra_info *ex = (void *)tx_req(fz.txs, p + 1);
			uint16_t mss = (st->c >> 16) & 0xfff;

			memset(ex, 0, sizeof(netif_tx_request_t));
			ex->type = XEN_NETIF_EXTRA_TYPE_GSO;
			ex->u.gso.size = mss ? mss : 1448;
			ex->u.gso.type = (st->c >> 30) & 1 ? XEN_NETIF_GSO_TYPE_TCPV6 :
				XEN_NETIF_GSO_TYPE_TCPV4;
		}
		if (st->c & (1u << 14))
			fz_write_headers(r0->gref, off, total, total - rest, (st->c >> 30) & 1);
		tx_prod_set(p + n + gso);
		break;
	}
	case FZ_PAGE_WRITE:
		if (fz.npages > 0) {
			uint8_t *pg = xnb_fake_page(&fz.fake, st->a % fz.npages);
			uint32_t off = RTE_MIN(st->b % FZ_PAGE, FZ_PAGE - 4);

			memcpy(pg + off, &st->c, 4);
		}
		break;
	case FZ_RX_BURST: {
		uint8_t mode = (st->a >> 3) & 3;

		fz_rx_burst(fz_nb[(st->a & 7) % 5], fz.pkts, &got);
		if (mode == 3) {
			uint16_t sent = fz_tx_send(fz.pkts, got, true);

			for (uint16_t i = sent; i < got; i++)
				rte_pktmbuf_free(fz.pkts[i]);
			break;
		}
		for (uint16_t i = 0; i < got; i++) {
			if (mode == 1 || (mode == 2 && (st->c >> (i % 32)) & 1))
				fz_hold(fz.pkts[i]);
			else
				rte_pktmbuf_free(fz.pkts[i]);
		}
		break;
	}
	case FZ_FREE: {
		uint32_t k = RTE_MIN(st->b % 32 + 1u, fz.nheld);

		switch (st->a % 4) {
		case 0:
			for (uint32_t i = 0; i < fz.nheld; i++)
				fz_free_held(i);
			break;
		case 1:
			for (uint32_t i = 0; i < k; i++)
				fz_free_held(i);
			break;
		case 2:
			for (uint32_t i = fz.nheld - k; i < fz.nheld; i++)
				fz_free_held(i);
			break;
		default:
			for (uint32_t i = 0; i < fz.nheld; i++)
				if ((st->c >> (i % 32)) & 1)
					fz_free_held(i);
		}
		fz_compact();
		break;
	}
	case FZ_TICK: {
		uint64_t w = (fz.port->aging_ms ? fz.port->aging_ms : 500) * fz.tsc_per_ms;
		const uint64_t amount[] = { 0, fz.tsc_per_ms, w - 1, w, w + 1, 10 * w };

		fz.now += amount[st->a % 6];
		if (!(st->a & 0x80)) {
			xnb_rxq_tick(fz.rxq);
			xnb_txq_tick(fz.txq);
		}
		break;
	}
	case FZ_GRANT: {
		uint32_t ref = st->a % FZ_MAX_PAGES, k = 1 + st->c % 3;

		switch (st->b % 7) {
		case 0:
			fz.fake.ref_state[ref] = XNB_FAKE_REVOKED;
			break;
		case 1:
			if (ref < fz.npages)
				fz.fake.ref_state[ref] = XNB_FAKE_GRANTED;
			break;
		case 2:
			if (ref < fz.npages)
				fz.fake.ref_state[ref] = XNB_FAKE_READONLY;
			break;
		case 3:
			fz.fake.fail_copy_calls = k;
			break;
		case 4:
			fz.fake.fail_replace_calls = k;
			break;
		case 5:
			fz.fake.fail_map_calls = k;
			break;
		default:
			fz.fail_malloc = k;
		}
		break;
	}
	case FZ_CLONE:
		if (fz.nheld > 0) {
			uint32_t i = st->b % fz.nheld;
			struct rte_mbuf *c = rte_pktmbuf_clone(fz.held[i],
							       fz.held[i]->pool);

			if (c != NULL) {
				fz_mbuf_check(c, false);
				fz_hold(c);
				if (st->a & 1) {
					fz_free_held(i);
					fz_compact();
				}
			}
		}
		break;
	case FZ_RECONNECT:
		fz_disconnect();
		fz_connect();
		break;
	case FZ_RX_PROD:
		rx_prod_set(fz_prod_move(fz.rxs->req_prod, fz.rx_seen,
					 fz.connected ? fz.txq->ring.req_cons : fz.rx_seen,
					 st->a, st->b, st->c));
		break;
	case FZ_RX_POST: {
		RING_IDX p = fz.rxs->req_prod;
		uint32_t n = 1 + st->b % FZ_RING, stride = (st->c >> 8) & 3;

		for (uint32_t i = 0; i < n; i++) {
			netif_rx_request_t *r = rx_req(fz.rxs, p + i);

			r->id = 0;
			r->gref = (st->c & 0xff) + (i * stride) % 16;
		}
		if (!(st->a & 1))
			rx_prod_set(p + n);
		break;
	}
	case FZ_RX_WRITE:
		fz_ring_write(fz.rxs, st->b, st->a, st->c);
		break;
	case FZ_TX_SEND:
		fz_tx_build_send(st);
		break;
	case FZ_TX_FWD:
		fz_tx_forward(fz_nb[st->a % 5]);
		break;
	default:
		switch (st->a % 4) {
		case 0:
			xnb_port_rate_set(fz.port, (uint64_t)st->b * 64, st->c & 0xfffff);
			break;
		case 1:
			xnb_port_rate_set(fz.port, 0, 0);
			break;
		case 2:
			fz.mcast_ctrl_next = !fz.mcast_ctrl_next;
			break;
		default:
			xnb_mcast_clear(fz.port);
		}
		break;
	}
	if (fz.verbose)
		fprintf(stderr, "step op %u a %#x b %u c %#x: %s tx cons %u rsp %u prod %u, "
			"rx cons %u prod %u, got %u held %u mapped %u fatal %u\n",
			st->op % FZ_NB_OPS, st->a, st->b, st->c,
			fz.connected ? "connected" : "down", fz.rxq->ring.req_cons,
			fz.rxq->ring.rsp_prod_pvt, fz.txs->req_prod, fz.txq->ring.req_cons,
			fz.rxs->req_prod, got, fz.nheld, fz.fake.mapped, fz.q->fatal);
	/* The guest reads what it was given; a broken ring is disconnected by
	 * the control thread soon after (xnb_xenbus.c). */
	if (fz.connected) {
		fz_tx_harvest();
		fz_rx_harvest(false);
		if (__atomic_load_n(&fz.q->fatal, __ATOMIC_ACQUIRE))
			fz_disconnect();
	}
	if (fz.fake.bad_unmaps != 0)
		fz_fail("unmap of an address not mapped");
	for (uint32_t i = 0; i < fz.nheld; i++)
		fz_mbuf_check(fz.held[i], false);
}

/* ---- setup ------------------------------------------------------------------ */

static void
fz_port_init(struct xnb_port *port, uint16_t id, enum xnb_copy_mode mode,
	     uint32_t aging_ms, uint16_t max_mapped)
{
	struct xnb_queue *q = &port->queues[0];

	port->domid = FZ_DOMID;
	port->copy_mode = mode;
	port->aging_ms = aging_ms;
	port->header_copy = XNB_DEFAULT_HEADER_COPY;
	port->copy_threshold = 256;
	port->max_mapped = max_mapped;
	/* A guest without RX buffers for a second, of the fake clock, is
	 * stalled (two configurations; the others never stall). */
	port->rx_stall_ms = id < 2 ? 1000 : 0;
	port->port_id = id;
	port->plat = &xnb_fake_ops;
	port->gnt = xnb_fake_gnt(&fz.fake);
	port->nb_queues = 1;
	q->port = port;
	q->rx.q = q;
	q->rx.mp = fz.mp;
	q->rx.evt = (struct xnb_evt *)&fz.fake;
	q->tx.q = q;
	q->tx.evt = (struct xnb_evt *)&fz.fake;
	if (xnb_rxq_init(&q->rx, SOCKET_ID_ANY) != 0 ||
	    xnb_txq_init(&q->tx, SOCKET_ID_ANY) != 0) {
		fprintf(stderr, "queue init failed\n");
		exit(1);
	}
}

/* ---- structure-aware mutation -------------------------------------------- */

/*
 * The script is a few hundred bytes in front of 4 KiB of ring and up to
 * 128 KiB of pages: byte mutations spread over the whole input would
 * rarely touch it. Half the mutations work on steps as units (insert,
 * delete, duplicate, swap, rewrite one field), a quarter on the script's
 * bytes, the rest on the ring page or anywhere.
 */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
			       unsigned int seed);

static uint32_t
fz_rand(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 33);
}

/* Makes room for (delta > 0) or drops (delta < 0) bytes at off. */
static size_t
fz_splice(uint8_t *data, size_t size, size_t max_size, size_t off, long delta)
{
	if (delta > 0) {
		if (size + delta > max_size)
			return 0;
		memmove(data + off + delta, data + off, size - off);
	} else {
		memmove(data + off, data + off - delta, size - off + delta);
	}
	return size + delta;
}

size_t
LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
	uint64_t r = seed;
	uint32_t choice = fz_rand(&r) % 16, n, i, j;
	size_t script, out;
	uint8_t step[FZ_STEP];

	if (size < FZ_HDR || max_size < FZ_HDR + FZ_STEP)
		return LLVMFuzzerMutate(data, size, max_size);
	n = RTE_MIN((size_t)data[2], (size - FZ_HDR) / FZ_STEP);
	data[2] = n;
	script = FZ_HDR + n * FZ_STEP;
	switch (choice) {
	case 0: case 1: case 2:		/* a new step */
		if (n == 255)
			break;
		for (j = 0; j < FZ_STEP; j++)
			step[j] = fz_rand(&r);
		if (n > 0 && (fz_rand(&r) & 1))	/* or a copy of one */
			memcpy(step, data + FZ_HDR + (fz_rand(&r) % n) * FZ_STEP, FZ_STEP);
		step[0] = fz_rand(&r) % FZ_NB_OPS;
		i = fz_rand(&r) % (n + 1);
		out = fz_splice(data, size, max_size, FZ_HDR + i * FZ_STEP, FZ_STEP);
		if (out == 0)
			break;
		memcpy(data + FZ_HDR + i * FZ_STEP, step, FZ_STEP);
		data[2] = n + 1;
		return out;
	case 3:				/* one step less */
		if (n == 0)
			break;
		i = fz_rand(&r) % n;
		data[2] = n - 1;
		return fz_splice(data, size, max_size, FZ_HDR + i * FZ_STEP, -FZ_STEP);
	case 4:				/* two steps swapped */
		if (n < 2)
			break;
		i = fz_rand(&r) % n;
		j = fz_rand(&r) % n;
		memcpy(step, data + FZ_HDR + i * FZ_STEP, FZ_STEP);
		memcpy(data + FZ_HDR + i * FZ_STEP, data + FZ_HDR + j * FZ_STEP, FZ_STEP);
		memcpy(data + FZ_HDR + j * FZ_STEP, step, FZ_STEP);
		return size;
	case 5: case 6: case 7:		/* one field of one step */
		if (n == 0)
			break;
		i = FZ_HDR + (fz_rand(&r) % n) * FZ_STEP;
		switch (fz_rand(&r) % 4) {
		case 0:
			data[i] = fz_rand(&r) % FZ_NB_OPS;
			break;
		case 1:
			data[i + 1] = fz_rand(&r);
			break;
		case 2:
			data[i + 2 + fz_rand(&r) % 2] = fz_rand(&r);
			break;
		default:
			data[i + 4 + fz_rand(&r) % 4] = fz_rand(&r);
		}
		return size;
	case 8: case 9: case 10: case 11: {	/* bytes of the header and script */
		size_t len = LLVMFuzzerMutate(data, script, script);

		if (len < FZ_HDR) {
			memset(data + len, 0, FZ_HDR - len);
			len = FZ_HDR;
		}
		/* Shorter: the steps lost are gone, the rest moves up. */
		n = RTE_MIN((size_t)data[2], (len - FZ_HDR) / FZ_STEP);
		data[2] = n;
		return fz_splice(data, size, max_size, FZ_HDR + n * FZ_STEP,
				 -(long)(script - FZ_HDR - n * FZ_STEP));
	}
	case 12: case 13: {		/* the ring page */
		size_t ring = RTE_MIN(size - script, (size_t)FZ_PAGE), len;

		if (ring == 0)
			break;
		len = LLVMFuzzerMutate(data + script, ring, ring);
		if (len < ring)
			memset(data + script + len, 0, ring - len);
		return size;
	}
	default:
		break;
	}
	return LLVMFuzzerMutate(data, size, max_size);
}

int
LLVMFuzzerInitialize(int *argc __rte_unused, char ***argv __rte_unused)
{
	char *eal[] = { "xnb-fuzz", "--no-huge", "-m", "512", "--no-pci", "--no-shconf",
			"--no-telemetry", "-l", "0", "--log-level=*:error", NULL };

	if (rte_eal_init(RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "rte_eal_init failed\n");
		exit(1);
	}
	xnb_logtype = rte_log_register("pmd.net.xennetback.fuzz");
	fz.tsc_per_ms = RTE_MAX(rte_get_tsc_hz() / 1000, (uint64_t)1);
	fz.mp = rte_pktmbuf_pool_create("xnb_fuzz", FZ_NB_MBUFS, 0, 0,
					RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	fz.mp_small = rte_pktmbuf_pool_create("xnb_fuzz_s", FZ_NB_MBUFS, 0, 0,
					      RTE_PKTMBUF_HEADROOM + 256, SOCKET_ID_ANY);
	fz.txs = aligned_alloc(FZ_PAGE, FZ_PAGE);
	fz.rxs = aligned_alloc(FZ_PAGE, FZ_PAGE);
	fz.txsnap = aligned_alloc(FZ_PAGE, FZ_PAGE);
	fz.rxsnap = aligned_alloc(FZ_PAGE, FZ_PAGE);
	fz.exp = malloc(FZ_EXP_MAX);
	fz.pkt = malloc(65536 + FZ_PAGE);
	fz.ext = malloc(FZ_EXT_MAX);
	fz.pattern = malloc(2 * 65536);
	if (fz.mp == NULL || fz.mp_small == NULL || fz.txs == NULL || fz.rxs == NULL ||
	    fz.txsnap == NULL || fz.rxsnap == NULL || fz.exp == NULL || fz.pkt == NULL ||
	    fz.ext == NULL || fz.pattern == NULL || xnb_fake_init(&fz.fake, FZ_DOMID, FZ_MAX_PAGES) != 0) {
		fprintf(stderr, "setup failed\n");
		exit(1);
	}
	for (uint32_t j = 0; j < 2 * 65536; j++)
		fz.pattern[j] = (uint8_t)j;
	fz.now = FZ_T0;
	fz.verbose = getenv("XNB_FUZZ_VERBOSE") != NULL;
	fz.no_csum_check = getenv("XNB_FUZZ_NO_CSUM_CHECK") != NULL;
	fz_port_init(&fz.ports[0], 0, XNB_COPY_LAZY, XNB_DEFAULT_AGING_MS, XNB_RING_SLOTS);
	fz_port_init(&fz.ports[1], 1, XNB_COPY_ALWAYS, XNB_DEFAULT_AGING_MS, XNB_RING_SLOTS);
	fz_port_init(&fz.ports[2], 2, XNB_COPY_LAZY, 0, XNB_RING_SLOTS);
	fz_port_init(&fz.ports[3], 3, XNB_COPY_LAZY, XNB_DEFAULT_AGING_MS, 8);
	fz.blocks0 = fz.blocks;
	return 0;
}

/* After the last step: the application lets go of everything and the guest
 * is disconnected, in the order the input says; then nothing may remain. */
static void
fz_end(bool hold_across)
{
	struct xnb_lt_stats st;

	if (hold_across)
		fz_disconnect();
	for (uint32_t i = 0; i < fz.nheld; i++)
		fz_free_held(i);
	fz.nheld = 0;
	fz_disconnect();
	/* The service tick of a port without a guest gives back what the
	 * application freed since (a batch per tick). */
	for (int t = 0; t < 64 && fz.rxq->lt != NULL; t++) {
		xnb_lt_stats_get(fz.rxq->lt, &st);
		if (st.held_now == 0)
			break;
		xnb_rxq_tick(fz.rxq);
	}
	if (fz.fake.mapped != 0)
		fz_fail("end: %u guest pages still mapped", fz.fake.mapped);
	if (fz.blocks != fz.blocks0)
		fz_fail("end: %ld driver allocations not freed", fz.blocks - fz.blocks0);
	if (fz.fake.bad_unmaps != 0)
		fz_fail("end: unmap of an address not mapped");
	if (rte_mempool_in_use_count(fz.mp) != 0 || rte_mempool_in_use_count(fz.mp_small) != 0)
		fz_fail("end: %u + %u mbufs not back in their pools",
			rte_mempool_in_use_count(fz.mp), rte_mempool_in_use_count(fz.mp_small));
	if (fz.rxq->lt != NULL) {
		xnb_lt_stats_get(fz.rxq->lt, &st);
		if (st.held_now != 0 || st.mapped_now != 0)
			fz_fail("end: tracker holds %lu slots, %lu mapped",
				(unsigned long)st.held_now, (unsigned long)st.mapped_now);
		if (fz.verbose)
			fprintf(stderr, "end: tracker mapped %lu, freed fast %lu, aged %lu, "
				"at disconnect %lu, fallback %lu, failed %lu\n",
				(unsigned long)st.mapped, (unsigned long)st.freed_fast,
				(unsigned long)st.aged_copyouts,
				(unsigned long)st.disconnect_copyouts,
				(unsigned long)st.copyout_fallback,
				(unsigned long)st.copyout_failed);
	}
	if (fz.verbose) {
		fprintf(stderr, "end: %lu frames from the guest and %lu to it compared, %lu "
			"completed checksums verified; xstats:", (unsigned long)fz.rx_compared,
			(unsigned long)fz.compared, (unsigned long)fz.csum_checked);
#define FZ_PRINT_XSTAT(name, field) \
		if (fz.rxq->xs.field != 0) \
			fprintf(stderr, " %s %lu", name, (unsigned long)fz.rxq->xs.field);
		XNB_RXQ_XSTATS(FZ_PRINT_XSTAT)
#undef FZ_PRINT_XSTAT
#define FZ_PRINT_XSTAT(name, field) \
		if (fz.txq->xs.field != 0) \
			fprintf(stderr, " %s %lu", name, (unsigned long)fz.txq->xs.field);
		XNB_TXQ_XSTATS(FZ_PRINT_XSTAT)
#undef FZ_PRINT_XSTAT
		fputc('\n', stderr);
	}
	if (fz.verbose)
		fprintf(stderr, "end: %u ids used, fake: %lu map %lu unmap %lu copy calls, "
			"%lu local-in-foreign refused, rx xstats: zc %lu copied %lu bad %lu "
			"fatal %u; tx: pkts %lu errors %lu copy errors %lu ring full %lu\n",
			fz.tags_used, (unsigned long)fz.fake.calls_map,
			(unsigned long)fz.fake.calls_unmap, (unsigned long)fz.fake.calls_copy,
			(unsigned long)fz.fake.local_in_foreign,
			(unsigned long)fz.rxq->xs.zc_pkts, (unsigned long)fz.rxq->xs.copied_pkts,
			(unsigned long)fz.rxq->xs.bad_requests, fz.q->fatal,
			(unsigned long)fz.txq->pkts, (unsigned long)fz.txq->errors,
			(unsigned long)fz.txq->xs.copy_errors, (unsigned long)fz.txq->xs.ring_full);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t hdr[FZ_HDR] = { 0 };
	size_t nsteps, body, rest;
	uint8_t flags;

	memcpy(hdr, data, RTE_MIN(size, (size_t)FZ_HDR));
	flags = hdr[0];
	nsteps = hdr[2];
	body = RTE_MIN(size, FZ_HDR + nsteps * FZ_STEP);
	nsteps = (body - RTE_MIN(body, (size_t)FZ_HDR)) / FZ_STEP;

	fz.port = &fz.ports[flags & 3];
	fz.q = &fz.port->queues[0];
	fz.rxq = &fz.q->rx;
	fz.txq = &fz.q->tx;
	fz.rxq->mp = (flags & 4) ? fz.mp_small : fz.mp;
	fz.port->copy_threshold = (const uint16_t[]){ 256, 0, 2048, 60 }[(flags >> 3) & 3];
	fz.port->header_copy = (const uint16_t[]){ 128, 0, 14, 1024 }[(flags >> 5) & 3];
	fz.port->fe.sg = hdr[1] & 1;
	fz.port->fe.gso_tcpv4 = hdr[1] & 2;
	fz.port->fe.gso_tcpv6 = hdr[1] & 4;
	/* A port as fresh as the last input left it: no rate, no credit, no
	 * multicast list, not stalled (the clock starts again at FZ_T0). */
	fz.mcast_ctrl_next = false;
	xnb_mcast_clear(fz.port);
	xnb_port_rate_set(fz.port, 0, 0);
	memset(&fz.rxq->credit, 0, sizeof(fz.rxq->credit));
	fz.txq->stall_since = 0;
	fz.txq->stalled = 0;
	fz.port->fe.csum = !(hdr[1] & 0x40);
	fz.port->fe.ipv6_csum = hdr[1] & 0x80;
	fz.port->rx_linear = hdr[1] & 8;
	fz.port->partial_csum = hdr[1] & 0x10;
	fz.port->rx_ip_csum = hdr[1] & 0x20;
	fz.fail_malloc = 0;

	/* The guest's memory and rings. */
	memset(fz.txs, 0, FZ_PAGE);
	if (size > FZ_HDR + nsteps * FZ_STEP)
		memcpy(fz.txs, data + FZ_HDR + nsteps * FZ_STEP,
		       RTE_MIN(size - FZ_HDR - nsteps * FZ_STEP, (size_t)FZ_PAGE));
	memset(fz.rxs, 0, FZ_PAGE);
	memcpy(&fz.rxs->req_prod, hdr + 3, 4);
	fz.rxs->rsp_prod = fz.rxs->req_prod;
	fz.rxs->req_event = fz.rxs->rsp_event = fz.rxs->req_prod + 1;
	rest = size > FZ_HDR + nsteps * FZ_STEP + FZ_PAGE ?
		size - FZ_HDR - nsteps * FZ_STEP - FZ_PAGE : 0;
	rest = RTE_MIN(rest, (size_t)FZ_MAX_PAGES * FZ_PAGE);
	fz.npages = (uint32_t)((rest + FZ_PAGE - 1) / FZ_PAGE);
	xnb_fake_reset(&fz.fake);
	memcpy(fz.fake.mem, data + size - rest, rest);
	memset(fz.fake.mem + rest, 0, (size_t)FZ_MAX_PAGES * FZ_PAGE - rest);
	for (uint32_t r = fz.npages; r < FZ_MAX_PAGES; r++)
		fz.fake.ref_state[r] = XNB_FAKE_REVOKED;	/* never granted */

	fz.now = FZ_T0;
	fz.nheld = 0;
	fz.stop = false;
	fz.connected = false;
	fz.stale = 0;
	/* Ids the last input used: every tag below tags_used plus the window
	 * tagged beyond the last connection's requests. */
	memset(fz.kind, 0, RTE_MIN(fz.tags_used + 2 * FZ_RING, FZ_TAGS));
	memset(fz.answers, 0, RTE_MIN(fz.tags_used + 2 * FZ_RING, FZ_TAGS));
	fz.tags_used = 0;

	if (fz_connect()) {
		if (nsteps == 0) {
			/* The snapshot run of the pre-script format. */
			for (int b = 0; b < 4 && fz.connected; b++) {
				RING_IDX cons = fz.rxq->ring.req_cons;
				uint16_t got;

				fz_rx_burst(64, fz.pkts, &got);
				for (uint16_t i = 0; i < got; i++)
					rte_pktmbuf_free(fz.pkts[i]);
				fz_tx_harvest();
				if (__atomic_load_n(&fz.q->fatal, __ATOMIC_ACQUIRE))
					fz_disconnect();
				if (got == 0 && fz.connected && fz.rxq->ring.req_cons == cons)
					break;
			}
		}
	}
	for (size_t i = 0; i < nsteps && !fz.stop; i++) {
		const uint8_t *p = data + FZ_HDR + i * FZ_STEP;
		struct fz_step st = { .op = p[0], .a = p[1] };

		memcpy(&st.b, p + 2, 2);
		memcpy(&st.c, p + 4, 4);
		fz_step(&st);
	}
	fz_end(flags & 0x80);
	return 0;
}
