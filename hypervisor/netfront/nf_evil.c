/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * Misbehaving guests for tests/hostile: each named misbehaviour is one
 * thing a broken or hostile netfront does to its backend (the netback
 * advisories' list: ring index abuse, slot counts, sizes, grants that are
 * bad, foreign, revoked or readonly, extras, double fetch, event-channel
 * storms, bogus xenstore keys, state flapping). They run on queue 0 of a
 * connected device, bypassing the well-behaved TX path (their own pages,
 * grants and request ids), and report what came back as one JSON object.
 * The xenstore ones reconnect: Initialising, bogus keys, Connected.
 * The "-lent" ones first fill the ring with chains whose pages the backend
 * lends to an application that holds them (tests/hostile's lent rounds):
 * requests consumed but not answered, the state only zero copy has.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <xenstore.h>

#include "nf_internal.h"

#define EVIL_PAGES		300	/* the lent fill uses one page per slot */
#define EVIL_LENT_CHAINS	14	/* 14 x 18 slots: 252 of the ring's 256 */
#define EVIL_LENT_SLOTS		18
#define EVIL_LENT_LEN		200	/* per slot: past a 128-byte header copy */
#define EVIL_BAD_REF		65000u	/* beyond any grant table */
#define EVIL_UNGRANTED_REF	16000u	/* in the table, never granted */
#define EVIL_OTHER_DOMID	7	/* a domain that is not our backend */
#define EVIL_CTRL_LOG		32	/* control-ring answers kept for the summary */
#define EVIL_CTRL_WAIT_MS	2000

struct evil {
	struct nf_dev *dev;
	struct nf_queue *q;
	uint32_t gfn[EVIL_PAGES], ref[EVIL_PAGES];
	void *va[EVIL_PAGES];
	unsigned int npages;
	uint16_t next_id;
	uint64_t pushed;	/* requests made visible, extras included */
	uint64_t rsp_ok, rsp_error, rsp_dropped, rsp_null, rsp_bad;
	uint64_t notifies, ebusy, rewrites;
	uint64_t rsp_bad_id;	/* answers for no request of ours outstanding */
	uint16_t outstanding[NF_TX_RING_SIZE];	/* requests per id, unanswered */
	int lent;		/* requests unanswered after the lent fill, -1: none */
	/* control-ring cases: each request's answer (status, or -errno) */
	int ctrl_st[EVIL_CTRL_LOG];
	unsigned int nctrl;
	uint64_t ctrl_answers, ctrl_success;
	int expect_rsp;		/* stop lingering once this many responses came */
	bool reconnect;		/* a xenstore case: wait for the backend's verdict */
};

typedef int (*evil_fn)(struct evil *e, long arg);

/* ---- helpers ------------------------------------------------------------- */

/* A page holding the start of a frame (broadcast, our MAC, IPv4 type),
 * granted to `to` (readonly unless rw). Index into e's pages, or -errno. */
static int
evil_page(struct evil *e, uint16_t to, bool rw)
{
	struct nf_dev *dev = e->dev;
	uint8_t *p;
	int rc;

	if (e->npages == EVIL_PAGES)
		return -ENOSPC;
	rc = nf_page_alloc(dev, &e->gfn[e->npages], &e->va[e->npages]);
	if (rc < 0)
		return rc;
	p = e->va[e->npages];
	memset(p, 0x5a, NF_PAGE_SIZE);
	memset(p, 0xff, 6);
	memcpy(p + 6, dev->mac, 6);
	p[12] = 0x08;
	p[13] = 0x00;
	rc = xnbsim_grant_access(dev->sim, to, e->gfn[e->npages], !rw);
	if (rc < 0)
		return rc;
	e->ref[e->npages] = (uint32_t)rc;
	return (int)e->npages++;
}

static int
evil_ref(struct evil *e)
{
	int i = evil_page(e, e->dev->be_domid, false);

	return i < 0 ? i : (int)e->ref[i];
}

static netif_tx_request_t *
evil_req(struct evil *e, uint32_t gref, uint16_t off, uint16_t size,
	 uint16_t flags)
{
	netif_tx_request_t *r = RING_GET_REQUEST(&e->q->tx, e->q->tx.req_prod_pvt++);

	r->gref = gref;
	r->offset = off;
	r->size = size;
	r->flags = flags;
	r->id = e->next_id++ % NF_TX_RING_SIZE;
	e->outstanding[r->id]++;
	e->pushed++;
	return r;
}

static void
evil_extra(struct evil *e, uint8_t type, uint8_t flags, uint16_t gso_size,
	   uint8_t gso_type)
{
	struct netif_extra_info *x = (struct netif_extra_info *)
		RING_GET_REQUEST(&e->q->tx, e->q->tx.req_prod_pvt++);

	memset(x, 0, sizeof(netif_tx_request_t));
	x->type = type;
	x->flags = flags;
	x->u.gso.size = gso_size;
	x->u.gso.type = gso_type;
	e->pushed++;
}

/* Publishes req_prod_pvt and always notifies: a hostile guest does not care
 * what the backend asked for. */
static void
evil_push(struct evil *e)
{
	__atomic_store_n(&e->q->tx.sring->req_prod, e->q->tx.req_prod_pvt,
			 __ATOMIC_RELEASE);
	xnbsim_evtchn_notify(e->dev->evh, e->q->tx_port);
	e->notifies++;
}

/* A single-slot frame of len bytes, one request. */
static int
evil_frame(struct evil *e, uint16_t len)
{
	int ref = evil_ref(e);

	if (ref < 0)
		return ref;
	evil_req(e, (uint32_t)ref, 0, len, 0);
	return 0;
}

static void
evil_collect(struct evil *e)
{
	netif_tx_front_ring_t *tx = &e->q->tx;
	RING_IDX prod = __atomic_load_n(&tx->sring->rsp_prod, __ATOMIC_ACQUIRE);

	/* Even a hostile guest checks what it is told (Linux netfront's
	 * check): a backend that breaks the ring is reported, not believed. */
	if (!nf_rsp_prod_check(e->dev, e->q, "TX", prod, &e->q->tx_rsp_seen,
			       tx->req_prod_pvt))
		return;
	for (; tx->rsp_cons != prod; tx->rsp_cons++) {
		netif_tx_response_t r;

		memcpy(&r, RING_GET_RESPONSE(tx, tx->rsp_cons), sizeof(r));
		if (r.status != NETIF_RSP_NULL) {
			if (r.id < NF_TX_RING_SIZE && e->outstanding[r.id] > 0)
				e->outstanding[r.id]--;
			else
				e->rsp_bad_id++;
		}
		if (r.status == NETIF_RSP_OKAY)
			e->rsp_ok++;
		else if (r.status == NETIF_RSP_ERROR)
			e->rsp_error++;
		else if (r.status == NETIF_RSP_DROPPED)
			e->rsp_dropped++;
		else if (r.status == NETIF_RSP_NULL)
			e->rsp_null++;
		else
			e->rsp_bad++;
	}
}

static uint64_t
evil_responses(const struct evil *e)
{
	return e->rsp_ok + e->rsp_error + e->rsp_dropped + e->rsp_null + e->rsp_bad;
}

static int
evil_be_state(struct evil *e)
{
	char path[160], *v;
	unsigned int len;
	int s;

	snprintf(path, sizeof(path), "%s/state", e->dev->be_path);
	v = xs_read(e->dev->xs, XBT_NULL, path, &len);
	if (v == NULL)
		return 0;
	s = atoi(v);
	free(v);
	return s;
}

static void
evil_sleep_us(unsigned int us)
{
	struct timespec ts = { .tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000L };

	nanosleep(&ts, NULL);
}

/* Waits up to ms for responses to reach n (collecting them). */
static void
evil_wait_rsp(struct evil *e, uint64_t n, unsigned int ms)
{
	uint64_t end = nf_now_ns() + ms * 1000000ull;

	do {
		evil_collect(e);
		if (evil_responses(e) >= n)
			return;
		evil_sleep_us(500);
	} while (nf_now_ns() < end);
}

static int
evil_wait_be(struct evil *e, int state, unsigned int ms)
{
	uint64_t end = nf_now_ns() + ms * 1000000ull;

	while (evil_be_state(e) != state) {
		if (nf_now_ns() > end)
			return -ETIMEDOUT;
		evil_sleep_us(1000);
	}
	return 0;
}

static int
evil_xs_write(struct evil *e, const char *key, const char *val)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/%s", e->dev->fe_path, key);
	return xs_write(e->dev->xs, XBT_NULL, path, val, (unsigned int)strlen(val)) ?
		0 : -errno;
}

static void
evil_xs_rm(struct evil *e, const char *key)
{
	char path[192];

	snprintf(path, sizeof(path), "%s/%s", e->dev->fe_path, key);
	xs_rm(e->dev->xs, XBT_NULL, path);
}

/* Back to Initialising and wait for the backend's InitWait: it has let go
 * of the rings and will read the keys again at our next Connected. */
static int
evil_unconnect(struct evil *e)
{
	int rc = evil_xs_write(e, "state", "1");

	if (rc == 0)
		rc = evil_wait_be(e, XenbusStateInitWait, 5000);
	return rc;
}

static int
evil_reconnect_with(struct evil *e, const char *key, const char *val)
{
	int rc = evil_unconnect(e);

	if (rc < 0)
		return rc;
	if (val != NULL)
		rc = evil_xs_write(e, key, val);
	else
		evil_xs_rm(e, key);
	e->reconnect = true;
	return rc < 0 ? rc : evil_xs_write(e, "state", "4");
}

/* ---- guest TX ring (the backend's rx path) ---------------------------------- */

static int
tx_prod_ahead(struct evil *e, long ahead)
{
	int rc = evil_frame(e, 60);

	if (rc < 0)
		return rc;
	e->q->tx.req_prod_pvt += (RING_IDX)ahead - 1;
	evil_push(e);
	return 0;
}

static int
tx_prod_backwards(struct evil *e, long back)
{
	int rc = evil_frame(e, 60);

	if (rc < 0)
		return rc;
	evil_push(e);
	evil_wait_rsp(e, 1, 2000);
	__atomic_store_n(&e->q->tx.sring->req_prod,
			 e->q->tx.req_prod_pvt - (RING_IDX)back, __ATOMIC_RELEASE);
	xnbsim_evtchn_notify(e->dev->evh, e->q->tx_port);
	e->notifies++;
	return 0;
}

/* slots data slots of 100 bytes each (or arg slots forever chained). */
static int
tx_slots(struct evil *e, long slots)
{
	int ref = evil_ref(e);
	long s;

	if (ref < 0)
		return ref;
	for (s = 0; s < slots; s++)
		evil_req(e, (uint32_t)ref, (uint16_t)(s * 100 % 3900), 100,
			 s + 1 < slots ? NETTXF_more_data : 0);
	RING_GET_REQUEST(&e->q->tx, e->q->tx.req_prod_pvt - slots)->size =
		(uint16_t)(slots * 100);
	evil_push(e);
	e->expect_rsp = (int)slots;
	return 0;
}

/* more_data on every request: n requests of a chain that never ends. */
static int
tx_chain(struct evil *e, long n)
{
	int ref = evil_ref(e);
	long s;

	if (ref < 0)
		return ref;
	for (s = 0; s < n; s++)
		evil_req(e, (uint32_t)ref, 0, 60, NETTXF_more_data);
	evil_push(e);
	return 0;
}

static int
tx_second_cross_page(struct evil *e, long arg)
{
	int ref = evil_ref(e);

	(void)arg;
	if (ref < 0)
		return ref;
	evil_req(e, (uint32_t)ref, 0, 300, NETTXF_more_data);
	evil_req(e, (uint32_t)ref, 4000, 200, 0);
	evil_push(e);
	return 0;
}

static int
tx_first_cross_page(struct evil *e, long arg)
{
	int ref = evil_ref(e);

	(void)arg;
	if (ref < 0)
		return ref;
	evil_req(e, (uint32_t)ref, 4000, 200, 0);
	evil_push(e);
	return 0;
}

/* One single-slot request of size arg (0, 13: under an Ethernet header). */
static int
tx_size(struct evil *e, long size)
{
	int rc = evil_frame(e, (uint16_t)size);

	if (rc < 0)
		return rc;
	evil_push(e);
	e->expect_rsp = 1;
	return 0;
}

/* The first slot's total smaller than the rest. */
static int
tx_first_lt_rest(struct evil *e, long arg)
{
	int ref = evil_ref(e);

	(void)arg;
	if (ref < 0)
		return ref;
	evil_req(e, (uint32_t)ref, 0, 100, NETTXF_more_data);
	evil_req(e, (uint32_t)ref, 1000, 200, 0);
	evil_push(e);
	e->expect_rsp = 2;
	return 0;
}

/* A zero-length slot in the middle of a good packet. */
static int
tx_zero_frag(struct evil *e, long arg)
{
	int ref = evil_ref(e);

	(void)arg;
	if (ref < 0)
		return ref;
	evil_req(e, (uint32_t)ref, 0, 200, NETTXF_more_data);
	evil_req(e, (uint32_t)ref, 500, 0, NETTXF_more_data);
	evil_req(e, (uint32_t)ref, 1000, 100, 0);
	evil_push(e);
	e->expect_rsp = 3;
	return 0;
}

/* One frame of len (arg) bytes from a grant of the given kind. */
static int
tx_gref_kind(struct evil *e, long len, int kind)
{
	uint32_t ref;
	int i;

	switch (kind) {
	case 0:
		ref = EVIL_BAD_REF;
		break;
	case 1:
		ref = EVIL_UNGRANTED_REF;
		break;
	case 2:		/* granted, but to another domain */
		i = evil_page(e, EVIL_OTHER_DOMID, false);
		if (i < 0)
			return i;
		ref = e->ref[i];
		break;
	default:	/* granted, then revoked before the push */
		i = evil_page(e, e->dev->be_domid, false);
		if (i < 0)
			return i;
		ref = e->ref[i];
		if (xnbsim_end_access(e->dev->sim, ref) < 0)
			return -EIO;
		break;
	}
	evil_req(e, ref, 0, (uint16_t)len, 0);
	evil_push(e);
	e->expect_rsp = 1;
	return 0;
}

static int tx_gref_bad(struct evil *e, long len) { return tx_gref_kind(e, len, 0); }
static int tx_gref_ungranted(struct evil *e, long len) { return tx_gref_kind(e, len, 1); }
static int tx_gref_foreign(struct evil *e, long len) { return tx_gref_kind(e, len, 2); }
static int tx_gref_revoked(struct evil *e, long len) { return tx_gref_kind(e, len, 3); }

/* Push a zero-copy-sized frame and revoke its grant as soon as the backend
 * uses it (GTF_reading): end_access must fail with -EBUSY while the page is
 * mapped, then succeed once the backend let go. */
static int
tx_revoke_mapped(struct evil *e, long len)
{
	int i = evil_page(e, e->dev->be_domid, false);
	volatile grant_entry_v1_t *ge;
	uint64_t end;

	if (i < 0)
		return i;
	ge = &xnbsim_gnttab(e->dev->sim)[e->ref[i]];
	evil_req(e, e->ref[i], 0, (uint16_t)len, 0);
	evil_push(e);
	end = nf_now_ns() + 3000000000ull;
	while (!(ge->flags & (GTF_reading | GTF_writing)) &&
	       (evil_collect(e), evil_responses(e) == 0) && nf_now_ns() < end)
		;
	while (xnbsim_end_access(e->dev->sim, e->ref[i]) == -EBUSY &&
	       nf_now_ns() < end)
		e->ebusy++;
	e->expect_rsp = 1;
	return 0;
}

/* The same grant in two slots of one packet. */
static int
tx_same_gref(struct evil *e, long len)
{
	int ref = evil_ref(e);

	if (ref < 0)
		return ref;
	evil_req(e, (uint32_t)ref, 0, (uint16_t)len, NETTXF_more_data);
	evil_req(e, (uint32_t)ref, 0, (uint16_t)(len / 2), 0);
	evil_push(e);
	e->expect_rsp = 2;
	return 0;
}

/* A frame with one extra of the given type/flags (arg: type | flags << 8 |
 * gso_size << 16 | gso_type << 32), or n chained extras. */
static int
tx_extra(struct evil *e, long arg)
{
	int ref = evil_ref(e);

	if (ref < 0)
		return ref;
	evil_req(e, (uint32_t)ref, 0, 60, NETTXF_extra_info);
	evil_extra(e, (uint8_t)arg, (uint8_t)(arg >> 8), (uint16_t)(arg >> 16),
		   (uint8_t)(arg >> 32));
	evil_push(e);
	e->expect_rsp = 2;
	return 0;
}

static int
tx_extras_endless(struct evil *e, long n)
{
	int ref = evil_ref(e);
	long i;

	if (ref < 0)
		return ref;
	evil_req(e, (uint32_t)ref, 0, 60, NETTXF_extra_info);
	for (i = 0; i < n; i++)
		evil_extra(e, XEN_NETIF_EXTRA_TYPE_MCAST_ADD, XEN_NETIF_EXTRA_FLAG_MORE,
			   0, 0);
	evil_push(e);
	return 0;
}

/* Double fetch: n packets, each rewritten in a tight loop from before it is
 * published until it is answered (published mid-loop). Every version is either valid or a plain
 * drop (sizes 60 or 4096 from offset 0, a good or an unknown grant), so a
 * backend that reads its copy once answers each packet OKAY or ERROR and
 * never disconnects; one that reads the ring twice sees sizes change. */
static int
tx_double_fetch(struct evil *e, long n)
{
	long k;

	for (k = 0; k < n; k++) {
		int ref = evil_ref(e);
		volatile netif_tx_request_t *r;
		uint64_t end = nf_now_ns() + 2000000000ull, i = 0;

		if (ref < 0)
			return ref;
		r = evil_req(e, (uint32_t)ref, 0, 60, 0);
		/* Already flipping when published: the backend reads it at
		 * some point of the loop, not before the first rewrite. */
		while (evil_collect(e), evil_responses(e) < (uint64_t)k + 1 &&
		       nf_now_ns() < end) {
			r->size = (i & 1) ? 4096 : 60;
			r->gref = (i & 2) ? EVIL_BAD_REF : (uint32_t)ref;
			r->flags = (i & 4) ? NETTXF_csum_blank : 0;
			e->rewrites++;
			if (++i == 1000 + (uint64_t)k * 7)
				evil_push(e);
		}
		/* Pages are few: grant fresh ones again. */
		if (e->npages == EVIL_PAGES)
			e->npages = 0;
	}
	e->expect_rsp = (int)n;
	return 0;
}

/* Rewrite packet data after the push (the backend copied the headers, or is
 * about to): n frames of len bytes scribbled on until answered. */
static int
tx_data_rewrite(struct evil *e, long n)
{
	long k;

	for (k = 0; k < n; k++) {
		int i = evil_page(e, e->dev->be_domid, false);
		volatile uint8_t *p;
		unsigned int j = 0;

		if (i < 0)
			return i;
		p = e->va[i];
		evil_req(e, e->ref[i], 0, 3000, 0);
		evil_push(e);
		while (evil_collect(e), evil_responses(e) < (uint64_t)k + 1) {
			p[12 + j % 3000] ^= 0xff;
			j++;
			e->rewrites++;
			if (j > 50000000)
				break;
		}
		if (e->npages == EVIL_PAGES)
			e->npages = 0;
	}
	e->expect_rsp = (int)n;
	return 0;
}

/* Notify in a tight loop for arg ms, then one good frame. */
static int
evil_storm(struct evil *e, long ms)
{
	uint64_t end = nf_now_ns() + (uint64_t)ms * 1000000ull;

	while (nf_now_ns() < end) {
		xnbsim_evtchn_notify(e->dev->evh, e->q->tx_port);
		e->notifies++;
	}
	return tx_size(e, 60);
}

/* Fills the ring with bad (size 0) packets again and again for arg ms. */
static int
tx_flood_bad(struct evil *e, long ms)
{
	uint64_t end = nf_now_ns() + (uint64_t)ms * 1000000ull;
	int ref = evil_ref(e);

	if (ref < 0)
		return ref;
	while (nf_now_ns() < end) {
		evil_collect(e);
		while (e->q->tx.req_prod_pvt - e->q->tx.rsp_cons < NF_TX_RING_SIZE)
			evil_req(e, (uint32_t)ref, 0, 0, 0);
		evil_push(e);
		evil_sleep_us(100);
	}
	e->expect_rsp = (int)e->pushed;
	return 0;
}

/* ---- guest RX ring (the backend's tx path) ---------------------------------- */

/* Rewrites the posted RX requests' grants (kind 0 bad ref, 1 readonly grant
 * of the same page, 2 a grant to another domain), then sends arg frames
 * that the application sends back to us. */
static int
rx_grefs(struct evil *e, long n, int kind)
{
	struct nf_queue *q = e->q;
	RING_IDX i;
	long k;
	int rc;

	for (i = q->rx.rsp_cons; i != q->rx.req_prod_pvt; i++) {
		netif_rx_request_t *r = RING_GET_REQUEST(&q->rx, i);
		uint32_t gfn = q->rx_buf[q->rx_slot_buf[i % NF_RX_RING_SIZE]].gfn;

		if (kind == 0) {
			r->gref = EVIL_BAD_REF;
			continue;
		}
		rc = xnbsim_grant_access(e->dev->sim,
					 kind == 1 ? e->dev->be_domid : EVIL_OTHER_DOMID,
					 gfn, kind == 1);
		if (rc < 0)
			return rc;
		r->gref = (uint32_t)rc;
	}
	for (k = 0; k < n; k++) {
		rc = evil_frame(e, 60);
		if (rc < 0)
			return rc;
	}
	evil_push(e);
	e->expect_rsp = (int)n;
	return 0;
}

static int rx_gref_bad(struct evil *e, long n) { return rx_grefs(e, n, 0); }
static int rx_gref_readonly(struct evil *e, long n) { return rx_grefs(e, n, 1); }
static int rx_gref_foreign(struct evil *e, long n) { return rx_grefs(e, n, 2); }

/* No RX buffers were posted (nf_evil_prepare): send n frames that the
 * application tries to send back. */
static int
rx_no_buffers(struct evil *e, long n)
{
	long k;
	int rc;

	for (k = 0; k < n; k++) {
		rc = evil_frame(e, 60);
		if (rc < 0)
			return rc;
	}
	evil_push(e);
	e->expect_rsp = (int)n;
	return 0;
}

/* RX req_prod moved by arg (beyond the ring, or backwards), then a frame
 * that the application sends back to us. */
static int
rx_prod_move(struct evil *e, long delta)
{
	struct nf_queue *q = e->q;

	__atomic_store_n(&q->rx.sring->req_prod, q->rx.rsp_cons + (RING_IDX)delta,
			 __ATOMIC_RELEASE);
	xnbsim_evtchn_notify(e->dev->evh, q->rx_port);
	return tx_size(e, 60);
}

/* ---- with pages lent (tests/hostile's lent rounds) ------------------------ */

/*
 * Fills the TX ring with EVIL_LENT_CHAINS packets of EVIL_LENT_SLOTS slots,
 * each slot EVIL_LENT_LEN bytes on a page of its own (so every slot lies
 * past the backend's header copy and is lent when the backend lends), and
 * waits until the backend has taken every request (its grant in use, or
 * answered; -ETIMEDOUT after 5 s) and then until no answer came for 20 ms:
 * an application that frees at once has been answered for all of them by
 * then, one that holds them has not.
 */
static int
evil_fill_lent(struct evil *e)
{
	unsigned int n = EVIL_LENT_CHAINS * EVIL_LENT_SLOTS, first = e->npages;
	volatile grant_entry_v1_t *gt = xnbsim_gnttab(e->dev->sim);
	uint64_t end;

	for (unsigned int c = 0; c < EVIL_LENT_CHAINS; c++) {
		for (unsigned int k = 0; k < EVIL_LENT_SLOTS; k++) {
			int i = evil_page(e, e->dev->be_domid, false);

			if (i < 0)
				return i;
			evil_req(e, e->ref[i], 0, k == 0 ? EVIL_LENT_SLOTS * EVIL_LENT_LEN :
				 EVIL_LENT_LEN, k + 1 < EVIL_LENT_SLOTS ? NETTXF_more_data : 0);
		}
	}
	evil_push(e);
	end = nf_now_ns() + 5000000000ull;
	for (;;) {
		unsigned int busy = 0;

		evil_collect(e);
		for (unsigned int i = first; i < first + n; i++)
			busy += (gt[e->ref[i]].flags & (GTF_reading | GTF_writing)) != 0;
		if (busy + evil_responses(e) >= n)
			break;
		if (nf_now_ns() > end)
			return -ETIMEDOUT;
		evil_sleep_us(200);
	}
	for (uint64_t seen = UINT64_MAX; seen != evil_responses(e); ) {
		seen = evil_responses(e);
		evil_sleep_us(20000);
		evil_collect(e);
	}
	return 0;
}

/* e->lent: of the requests up to taken (all pushed and taken by the
 * backend), how many it has not answered yet; measured right before a
 * case acts on the ring, as that decides what the backend must make of it. */
static void
evil_lent_now(struct evil *e, RING_IDX taken)
{
	evil_collect(e);
	e->lent = (int)(taken - e->q->tx.rsp_cons);
}

/* Valid 60-byte requests in ring indexes [from, to), one grant for all. */
static int
evil_valid_reqs(struct evil *e, RING_IDX from, RING_IDX to)
{
	int ref = evil_ref(e);

	if (ref < 0)
		return ref;
	for (RING_IDX i = from; i != to; i++) {
		netif_tx_request_t *r = RING_GET_REQUEST(&e->q->tx, i);

		r->gref = (uint32_t)ref;
		r->offset = 0;
		r->size = 60;
		r->flags = 0;
		r->id = e->next_id++ % NF_TX_RING_SIZE;
		e->outstanding[r->id]++;
		e->pushed++;
	}
	return 0;
}

/* req_prod moved back into [rsp_prod, req_cons): requests the backend took
 * and still owes answers for (with nothing lent: 3 behind, as
 * tx-prod-backwards). */
static int
tx_prod_backwards_lent(struct evil *e, long arg)
{
	RING_IDX prod;
	int rc = evil_fill_lent(e);

	(void)arg;
	if (rc < 0)
		return rc;
	evil_lent_now(e, e->q->tx.req_prod_pvt);
	prod = e->lent > 0 ? e->q->tx.rsp_cons + (RING_IDX)e->lent / 2 :
			     e->q->tx.req_prod_pvt - 3;
	__atomic_store_n(&e->q->tx.sring->req_prod, prod, __ATOMIC_RELEASE);
	xnbsim_evtchn_notify(e->dev->evh, e->q->tx_port);
	e->notifies++;
	return 0;
}

/* req_prod far ahead while requests are lent. */
static int
tx_prod_far_ahead_lent(struct evil *e, long ahead)
{
	int rc = evil_fill_lent(e);

	if (rc < 0)
		return rc;
	evil_lent_now(e, e->q->tx.req_prod_pvt);
	e->q->tx.req_prod_pvt += (RING_IDX)ahead;
	evil_push(e);
	return 0;
}

/*
 * req_prod to exactly req_cons + 256 + extra, the ring's free slots filled
 * with valid requests; rewrite: the slots of the lent requests too (the
 * guest reuses them as new requests). With nothing lent and extra 0 that
 * is an honest full ring (every request answered); with requests lent it
 * claims more requests than the ring holds beside those unanswered.
 */
static int
tx_prod_ring_lent(struct evil *e, long extra, bool rewrite)
{
	RING_IDX cons, old;
	int rc = evil_fill_lent(e);

	if (rc < 0)
		return rc;
	cons = e->q->tx.req_prod_pvt;	/* all taken: the backend's req_cons */
	old = e->q->tx.rsp_cons;
	rc = evil_valid_reqs(e, rewrite ? old : cons,
			     old + NF_TX_RING_SIZE + (RING_IDX)extra);
	if (rc < 0)
		return rc;
	evil_lent_now(e, cons);
	e->q->tx.req_prod_pvt = cons + NF_TX_RING_SIZE + (RING_IDX)extra;
	evil_push(e);
	if (e->lent == 0 && extra == 0)
		e->expect_rsp = (int)(EVIL_LENT_CHAINS * EVIL_LENT_SLOTS) + NF_TX_RING_SIZE;
	return 0;
}

static int tx_prod_ring_lent_0(struct evil *e, long a) { return tx_prod_ring_lent(e, a, false); }
static int tx_repush_lent(struct evil *e, long a) { return tx_prod_ring_lent(e, a, true); }

/* The lent requests' ring slots rewritten with nonsense (after the backend
 * took them), then a notify: the backend must answer what it took, with
 * the ids it took, and never read those slots again. */
static int
tx_rewrite_lent(struct evil *e, long arg)
{
	int rc = evil_fill_lent(e);

	(void)arg;
	if (rc < 0)
		return rc;
	evil_lent_now(e, e->q->tx.req_prod_pvt);
	for (RING_IDX i = e->q->tx.rsp_cons; i != e->q->tx.req_prod_pvt; i++) {
		netif_tx_request_t *r = RING_GET_REQUEST(&e->q->tx, i);

		r->gref = EVIL_BAD_REF;
		r->offset = 4000;
		r->size = 0xffff;
		r->flags = NETTXF_more_data | NETTXF_extra_info;
		r->id = 0xffff;
		e->rewrites++;
	}
	xnbsim_evtchn_notify(e->dev->evh, e->q->tx_port);
	e->notifies++;
	e->expect_rsp = EVIL_LENT_CHAINS * EVIL_LENT_SLOTS;
	return 0;
}

/* While frames come back to us, the RX ring's req_prod keeps moving back,
 * 8 slots every 5 ms, until it is behind what the backend took. */
static int
rx_prod_backwards_stream(struct evil *e, long steps)
{
	struct nf_queue *q = e->q;
	RING_IDX prod = q->rx.req_prod_pvt;
	int rc;

	for (long k = 0; k < steps; k++) {
		int be = evil_be_state(e);

		if (be == XenbusStateClosing || be == XenbusStateClosed)
			break;
		rc = evil_frame(e, 60);
		if (rc < 0)
			return rc;
		if (e->npages == EVIL_PAGES)
			e->npages = 0;
		evil_push(e);
		prod -= 8;
		__atomic_store_n(&q->rx.sring->req_prod, prod, __ATOMIC_RELEASE);
		xnbsim_evtchn_notify(e->dev->evh, q->rx_port);
		evil_collect(e);
		evil_sleep_us(5000);
	}
	return 0;
}

/* ---- the control ring ------------------------------------------------------ */

static void
ctrl_log(struct evil *e, int st)
{
	if (e->nctrl < EVIL_CTRL_LOG)
		e->ctrl_st[e->nctrl++] = st;
}

/* Answers up to want (collected, logged), waiting up to ms; the number
 * that came. The producer is judged as everywhere (Linux's check). */
static unsigned int
ctrl_collect(struct evil *e, unsigned int want, unsigned int ms)
{
	struct nf_ctrl *c = e->dev->ctrl;
	uint64_t end = nf_now_ns() + ms * 1000000ull;
	unsigned int got = 0;

	while (got < want) {
		RING_IDX prod = __atomic_load_n(&c->ring.sring->rsp_prod, __ATOMIC_ACQUIRE);

		if (!nf_rsp_prod_check(e->dev, NULL, "CTRL", prod, &c->rsp_seen,
				       c->ring.req_prod_pvt))
			break;
		for (; c->ring.rsp_cons != prod && got < want; c->ring.rsp_cons++, got++) {
			struct xen_netif_ctrl_response r;

			memcpy(&r, RING_GET_RESPONSE(&c->ring, c->ring.rsp_cons), sizeof(r));
			e->ctrl_answers++;
			e->ctrl_success += r.status == XEN_NETIF_CTRL_STATUS_SUCCESS;
			ctrl_log(e, (int)r.status);
		}
		if (got == want || nf_now_ns() > end)
			break;
		evil_sleep_us(500);
	}
	return got;
}

static void
ctrl_put(struct evil *e, uint32_t type, uint32_t d0, uint32_t d1, uint32_t d2)
{
	struct nf_ctrl *c = e->dev->ctrl;
	struct xen_netif_ctrl_request *r = RING_GET_REQUEST(&c->ring, c->ring.req_prod_pvt++);

	r->id = c->next_id++;
	r->type = (uint16_t)type;
	r->data[0] = d0;
	r->data[1] = d1;
	r->data[2] = d2;
	e->pushed++;
}

static void
ctrl_push(struct evil *e)
{
	struct nf_ctrl *c = e->dev->ctrl;

	__atomic_store_n(&c->ring.sring->req_prod, c->ring.req_prod_pvt, __ATOMIC_RELEASE);
	xnbsim_evtchn_notify(e->dev->evh, c->port);
	e->notifies++;
}

/* One request and its answer (logged; -ETIMEDOUT logged when none). */
static void
ctrl_req(struct evil *e, uint32_t type, uint32_t d0, uint32_t d1, uint32_t d2)
{
	ctrl_put(e, type, d0, d1, d2);
	ctrl_push(e);
	if (ctrl_collect(e, 1, EVIL_CTRL_WAIT_MS) == 0)
		ctrl_log(e, -ETIMEDOUT);
}

/* A page granted readonly to the backend holding n u32 entries of v (or
 * the same value, when v is NULL, fill). Its ref, or -errno. */
static int
ctrl_table(struct evil *e, const uint32_t *v, uint32_t n, uint32_t fill)
{
	int i = evil_page(e, e->dev->be_domid, false);
	uint32_t *t;

	if (i < 0)
		return i;
	t = e->va[i];
	for (uint32_t k = 0; k < n && k < NF_PAGE_SIZE / 4; k++)
		t[k] = v != NULL ? v[k] : fill;
	return (int)e->ref[i];
}

static int
ctrl_ready(struct evil *e)
{
	return e->dev->ctrl != NULL ? 0 : -ENOTCONN;
}

/* Keys longer than the backend takes (netif.h: BUFFER_OVERFLOW), then a
 * good one. */
static int
ctrl_key_too_long(struct evil *e, long arg)
{
	int ref = ctrl_table(e, NULL, 1024, 0x5a5a5a5a);

	(void)arg;
	if (ctrl_ready(e) < 0 || ref < 0)
		return ref < 0 ? ref : -ENOTCONN;
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
		 XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, (uint32_t)ref, 41, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, (uint32_t)ref, NF_PAGE_SIZE, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, (uint32_t)ref, UINT32_MAX, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, (uint32_t)ref, 40, 0);
	return 0;
}

/* Keys from grants the backend cannot copy: beyond the table, never
 * granted, granted to another domain; an empty key needs no grant. */
static int
ctrl_key_gref_bad(struct evil *e, long arg)
{
	int i = evil_page(e, EVIL_OTHER_DOMID, false);

	(void)arg;
	if (ctrl_ready(e) < 0 || i < 0)
		return i < 0 ? i : -ENOTCONN;
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, EVIL_BAD_REF, 40, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, EVIL_UNGRANTED_REF, 40, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, e->ref[i], 40, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, EVIL_BAD_REF, 0, 0);
	return 0;
}

/* Mapping entries naming queues we did not connect (we have 1). */
static int
ctrl_mapping_queue(struct evil *e, long arg)
{
	static const uint32_t one[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	int r1 = ctrl_table(e, one, 8, 0), r2 = ctrl_table(e, NULL, 8, UINT32_MAX);
	int r3 = ctrl_table(e, NULL, 8, 0);

	(void)arg;
	if (ctrl_ready(e) < 0 || r1 < 0 || r2 < 0 || r3 < 0)
		return -ENOTCONN;
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 8, 0, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, (uint32_t)r1, 8, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, (uint32_t)r2, 8, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, (uint32_t)r3, 8, 0);
	return 0;
}

/* Sub-tables outside the size set (past its end, wrapping offset, larger
 * than any table), a size beyond the backend's, a bad grant; an empty
 * sub-table at the end is fine. */
static int
ctrl_mapping_beyond(struct evil *e, long arg)
{
	int r = ctrl_table(e, NULL, NF_PAGE_SIZE / 4, 0);

	(void)arg;
	if (ctrl_ready(e) < 0 || r < 0)
		return r < 0 ? r : -ENOTCONN;
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 8, 0, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, (uint32_t)r, 8, 1);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, (uint32_t)r, 9, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, (uint32_t)r, 2, UINT32_MAX);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, (uint32_t)r, 1025, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, (uint32_t)r, UINT32_MAX, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, 129, 0, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, EVIL_BAD_REF, 8, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, EVIL_BAD_REF, 0, 8);
	return 0;
}

/* Flags before any algorithm (netif.h: an algorithm must be selected
 * first), an unknown algorithm, unknown flag bits. */
static int
ctrl_hash_order(struct evil *e, long arg)
{
	(void)arg;
	if (ctrl_ready(e) < 0)
		return -ENOTCONN;
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, XEN_NETIF_CTRL_HASH_TYPE_IPV4, 0, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, 7, 0, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM,
		 XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ, 0, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, 0x10, 0, 0);
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0);
	return 0;
}

/* Types no backend of ours serves: INVALID (0), the gref mapping ones
 * (8..10), beyond the list. */
static int
ctrl_type_unknown(struct evil *e, long arg)
{
	static const uint32_t types[] = { 0, 8, 9, 10, 99, 0xffff };

	(void)arg;
	if (ctrl_ready(e) < 0)
		return -ENOTCONN;
	for (size_t k = 0; k < sizeof(types) / sizeof(types[0]); k++)
		ctrl_req(e, types[k], 1, 2, 3);
	return 0;
}

/* The whole ring at once, one notify: every request answered. */
static int
ctrl_ring_full(struct evil *e, long arg)
{
	struct nf_ctrl *c = e->dev->ctrl;
	unsigned int n;

	(void)arg;
	if (ctrl_ready(e) < 0)
		return -ENOTCONN;
	n = RING_SIZE(&c->ring);
	for (unsigned int k = 0; k < n; k++)
		ctrl_put(e, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0);
	ctrl_push(e);
	ctrl_collect(e, n, 5000);
	return 0;
}

/* After one good request, the producer moved by delta. */
static int
ctrl_prod_move(struct evil *e, long delta)
{
	struct nf_ctrl *c = e->dev->ctrl;

	if (ctrl_ready(e) < 0)
		return -ENOTCONN;
	ctrl_req(e, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0);
	__atomic_store_n(&c->ring.sring->req_prod, c->ring.req_prod_pvt + (RING_IDX)delta,
			 __ATOMIC_RELEASE);
	xnbsim_evtchn_notify(e->dev->evh, c->port);
	e->notifies++;
	return 0;
}

/* ---- xenstore ----------------------------------------------------------- */

static int
xs_key_value(struct evil *e, const char *key, const char *val)
{
	return evil_reconnect_with(e, key, val);
}

static int xs_tx_ring_ref_bad(struct evil *e, long a) { (void)a; return xs_key_value(e, "tx-ring-ref", "65000"); }
static int xs_rx_ring_ref_ungranted(struct evil *e, long a) { (void)a; return xs_key_value(e, "rx-ring-ref", "16000"); }
static int xs_ring_ref_abc(struct evil *e, long a) { (void)a; return xs_key_value(e, "tx-ring-ref", "abc"); }
static int xs_ring_ref_negative(struct evil *e, long a) { (void)a; return xs_key_value(e, "rx-ring-ref", "-1"); }
static int xs_evtchn_unbound(struct evil *e, long a) { (void)a; return xs_key_value(e, "event-channel", "999"); }
static int xs_evtchn_abc(struct evil *e, long a) { (void)a; return xs_key_value(e, "event-channel", "0x10"); }
static int xs_queues_above_max(struct evil *e, long a) { (void)a; return xs_key_value(e, "multi-queue-num-queues", "9"); }
static int xs_queues_zero(struct evil *e, long a) { (void)a; return xs_key_value(e, "multi-queue-num-queues", "0"); }
static int xs_queues_abc(struct evil *e, long a) { (void)a; return xs_key_value(e, "multi-queue-num-queues", "abc"); }
static int xs_no_rx_copy(struct evil *e, long a) { (void)a; return xs_key_value(e, "request-rx-copy", "0"); }
static int xs_key_missing(struct evil *e, long a) { (void)a; return xs_key_value(e, "tx-ring-ref", NULL); }

/* The ring page granted to another domain, its ref as tx-ring-ref. */
static int
xs_ring_ref_foreign(struct evil *e, long a)
{
	int i = evil_page(e, EVIL_OTHER_DOMID, true);
	char v[16];

	(void)a;
	if (i < 0)
		return i;
	snprintf(v, sizeof(v), "%u", e->ref[i]);
	return xs_key_value(e, "tx-ring-ref", v);
}

/* An event channel of ours, allocated for another domain. */
static int
xs_evtchn_foreign(struct evil *e, long a)
{
	int port = xnbsim_evtchn_alloc_unbound(e->dev->evh, EVIL_OTHER_DOMID);
	char v[16];

	(void)a;
	if (port < 0)
		return port;
	snprintf(v, sizeof(v), "%d", port);
	return xs_key_value(e, "event-channel", v);
}

static int xs_ctrl_ring_ref_bad(struct evil *e, long a) { (void)a; return xs_key_value(e, "ctrl-ring-ref", "65000"); }
static int xs_ctrl_evtchn_missing(struct evil *e, long a) { (void)a; return xs_key_value(e, "event-channel-ctrl", NULL); }
static int xs_ctrl_evtchn_unbound(struct evil *e, long a) { (void)a; return xs_key_value(e, "event-channel-ctrl", "999"); }

/* Initialising / Connected / Closing n times as fast as xenstore goes,
 * ending Connected with the good keys. */
static int
xs_state_flap(struct evil *e, long n)
{
	long k;
	int rc = 0;

	for (k = 0; k < n && rc == 0; k++) {
		rc = evil_xs_write(e, "state", "1");
		if (rc == 0)
			rc = evil_xs_write(e, "state", (k & 1) ? "5" : "4");
	}
	if (rc == 0)
		rc = evil_unconnect(e);
	if (rc == 0)
		rc = evil_xs_write(e, "state", "4");
	if (rc < 0)
		return rc;
	/* A backend that ends up Closing (it read a late Closing) has given
	 * up on us: allowed. Connected, it must serve: one frame answered. */
	e->reconnect = true;
	if (evil_wait_be(e, XenbusStateConnected, 5000) < 0)
		return 0;
	e->reconnect = false;
	return tx_size(e, 60);
}

/* Connected, then the ring keys vanish at once (the backend may or may not
 * have read them). */
static int
xs_keys_vanish(struct evil *e, long a)
{
	int rc = evil_unconnect(e);

	(void)a;
	if (rc == 0)
		rc = evil_xs_write(e, "state", "4");
	evil_xs_rm(e, "tx-ring-ref");
	evil_xs_rm(e, "rx-ring-ref");
	evil_xs_rm(e, "event-channel");
	e->reconnect = true;
	return rc;
}

/* A state no frontend sets. */
static int
xs_state_bogus(struct evil *e, long a)
{
	(void)a;
	e->reconnect = true;
	return evil_xs_write(e, "state", "99");
}

/* ---- the table ------------------------------------------------------------ */

#define EXTRA(type, flags, size, gtype) \
	((long)(type) | (long)(flags) << 8 | (long)(size) << 16 | (long)(gtype) << 32)

static const struct {
	const char *name;
	evil_fn fn;
	long arg;
} evils[] = {
	{ "tx-prod-far-ahead", tx_prod_ahead, 100000 },
	{ "tx-prod-ring-plus-one", tx_prod_ahead, NF_TX_RING_SIZE + 1 },
	{ "tx-prod-backwards", tx_prod_backwards, 3 },
	{ "tx-prod-backwards-lent", tx_prod_backwards_lent, 0 },
	{ "tx-prod-far-ahead-lent", tx_prod_far_ahead_lent, 100000 },
	{ "tx-prod-ring-lent", tx_prod_ring_lent_0, 0 },
	{ "tx-prod-ring-plus-one-lent", tx_prod_ring_lent_0, 1 },
	{ "tx-repush-lent", tx_repush_lent, 0 },
	{ "tx-rewrite-lent", tx_rewrite_lent, 0 },
	{ "tx-slots-18", tx_slots, 18 },
	{ "tx-slots-19", tx_slots, 19 },
	{ "tx-slots-20", tx_slots, 20 },
	{ "tx-slots-21", tx_slots, 21 },
	{ "tx-chain-endless", tx_chain, 200 },
	{ "tx-chain-open", tx_chain, 3 },
	{ "tx-slot-cross-page", tx_second_cross_page, 0 },
	{ "tx-first-cross-page", tx_first_cross_page, 0 },
	{ "tx-size-0", tx_size, 0 },
	{ "tx-size-13", tx_size, 13 },
	{ "tx-first-lt-rest", tx_first_lt_rest, 0 },
	{ "tx-zero-frag", tx_zero_frag, 0 },
	{ "tx-gref-bad", tx_gref_bad, 60 },
	{ "tx-gref-bad-zc", tx_gref_bad, 3000 },
	{ "tx-gref-ungranted", tx_gref_ungranted, 60 },
	{ "tx-gref-ungranted-zc", tx_gref_ungranted, 3000 },
	{ "tx-gref-foreign", tx_gref_foreign, 60 },
	{ "tx-gref-foreign-zc", tx_gref_foreign, 3000 },
	{ "tx-gref-revoked", tx_gref_revoked, 60 },
	{ "tx-gref-revoked-zc", tx_gref_revoked, 3000 },
	{ "tx-revoke-mapped", tx_revoke_mapped, 3000 },
	{ "tx-same-gref", tx_same_gref, 100 },
	{ "tx-same-gref-zc", tx_same_gref, 3000 },
	{ "tx-extra-bad-type", tx_extra, EXTRA(99, 0, 0, 0) },
	{ "tx-extra-type-none", tx_extra, EXTRA(XEN_NETIF_EXTRA_TYPE_NONE, 0, 0, 0) },
	{ "tx-extra-mcast", tx_extra, EXTRA(XEN_NETIF_EXTRA_TYPE_MCAST_ADD, 0, 0, 0) },
	{ "tx-gso-size-0", tx_extra,
	  EXTRA(XEN_NETIF_EXTRA_TYPE_GSO, 0, 0, XEN_NETIF_GSO_TYPE_TCPV4) },
	{ "tx-gso-type-unknown", tx_extra, EXTRA(XEN_NETIF_EXTRA_TYPE_GSO, 0, 1448, 7) },
	{ "tx-extras-endless", tx_extras_endless, 8 },
	{ "tx-double-fetch", tx_double_fetch, 64 },
	{ "tx-data-rewrite", tx_data_rewrite, 32 },
	{ "evtchn-storm", evil_storm, 1000 },
	{ "tx-flood-bad", tx_flood_bad, 500 },
	{ "rx-no-buffers", rx_no_buffers, 32 },
	{ "rx-gref-bad", rx_gref_bad, 8 },
	{ "rx-gref-readonly", rx_gref_readonly, 8 },
	{ "rx-gref-foreign", rx_gref_foreign, 8 },
	{ "rx-prod-beyond-ring", rx_prod_move, NF_RX_RING_SIZE + 50 },
	{ "rx-prod-backwards", rx_prod_move, -5 },
	{ "rx-prod-backwards-stream", rx_prod_backwards_stream, 400 },
	{ "ctrl-key-too-long", ctrl_key_too_long, 0 },
	{ "ctrl-key-gref-bad", ctrl_key_gref_bad, 0 },
	{ "ctrl-mapping-queue", ctrl_mapping_queue, 0 },
	{ "ctrl-mapping-beyond", ctrl_mapping_beyond, 0 },
	{ "ctrl-hash-order", ctrl_hash_order, 0 },
	{ "ctrl-type-unknown", ctrl_type_unknown, 0 },
	{ "ctrl-ring-full", ctrl_ring_full, 0 },
	{ "ctrl-prod-far-ahead", ctrl_prod_move, 100000 },
	{ "ctrl-prod-backwards", ctrl_prod_move, -3 },
	{ "xs-tx-ring-ref-bad", xs_tx_ring_ref_bad, 0 },
	{ "xs-rx-ring-ref-ungranted", xs_rx_ring_ref_ungranted, 0 },
	{ "xs-ring-ref-foreign", xs_ring_ref_foreign, 0 },
	{ "xs-ring-ref-abc", xs_ring_ref_abc, 0 },
	{ "xs-ring-ref-negative", xs_ring_ref_negative, 0 },
	{ "xs-evtchn-unbound", xs_evtchn_unbound, 0 },
	{ "xs-evtchn-foreign", xs_evtchn_foreign, 0 },
	{ "xs-evtchn-hex", xs_evtchn_abc, 0 },
	{ "xs-queues-above-max", xs_queues_above_max, 0 },
	{ "xs-queues-zero", xs_queues_zero, 0 },
	{ "xs-queues-abc", xs_queues_abc, 0 },
	{ "xs-no-rx-copy", xs_no_rx_copy, 0 },
	{ "xs-key-missing", xs_key_missing, 0 },
	{ "xs-keys-vanish", xs_keys_vanish, 0 },
	{ "xs-state-flap", xs_state_flap, 200 },
	{ "xs-state-bogus", xs_state_bogus, 0 },
	{ "xs-ctrl-ring-ref-bad", xs_ctrl_ring_ref_bad, 0 },
	{ "xs-ctrl-evtchn-missing", xs_ctrl_evtchn_missing, 0 },
	{ "xs-ctrl-evtchn-unbound", xs_ctrl_evtchn_unbound, 0 },
};

#define NEVILS (sizeof(evils) / sizeof(evils[0]))

int
nf_evil_prepare(struct nf_dev *dev, const char *name)
{
	size_t i;

	for (i = 0; i < NEVILS; i++)
		if (strcmp(evils[i].name, name) == 0)
			break;
	if (i == NEVILS)
		return -EINVAL;
	dev->evil_no_rx_buffers = strcmp(name, "rx-no-buffers") == 0;
	/* The control-ring cases need one (the backend offers it). */
	if (strncmp(name, "ctrl-", 5) == 0 || strncmp(name, "xs-ctrl-", 8) == 0)
		dev->cfg.ctrl_ring = true;
	return 0;
}

const char *
nf_evil_name(unsigned int i)
{
	return i < NEVILS ? evils[i].name : NULL;
}

int
nf_evil_run(struct nf_dev *dev, const char *name, double linger_s,
	    char *json, size_t len)
{
	struct evil e = { .dev = dev, .expect_rsp = -1, .lent = -1 };
	uint64_t t0 = nf_now_ns(), end;
	size_t i;
	int rc, be;

	for (i = 0; i < NEVILS; i++)
		if (strcmp(evils[i].name, name) == 0)
			break;
	if (i == NEVILS)
		return -EINVAL;
	if (!dev->up || dev->nq == 0)
		return -ENOTCONN;
	e.q = &dev->queues[0];
	/* Ids far from the ones the well-behaved path would use first. */
	e.next_id = 128;
	rc = evils[i].fn(&e, evils[i].arg);

	/* Watch what the backend makes of it: until the expected responses
	 * came, the backend gave its verdict (a xenstore case), it gave up on
	 * us (Closing), or the linger ran out. */
	end = nf_now_ns() + (uint64_t)(linger_s * 1e9);
	do {
		evil_collect(&e);
		be = evil_be_state(&e);
		if (be == XenbusStateClosing || be == XenbusStateClosed)
			break;
		if (e.expect_rsp >= 0 && evil_responses(&e) >= (uint64_t)e.expect_rsp)
			break;
		if (e.reconnect && be == XenbusStateConnected)
			break;
		evil_sleep_us(1000);
	} while (nf_now_ns() < end);
	evil_collect(&e);

	snprintf(json, len,
		 "{\"evil\":\"%s\",\"rc\":%d,\"domid\":%u,\"seconds\":%.3f,"
		 "\"pushed\":%" PRIu64 ",\"rsp_ok\":%" PRIu64 ",\"rsp_error\":%" PRIu64
		 ",\"rsp_dropped\":%" PRIu64 ",\"rsp_null\":%" PRIu64 ",\"rsp_bad\":%" PRIu64
		 ",\"notifies\":%" PRIu64 ",\"ebusy\":%" PRIu64 ",\"rewrites\":%" PRIu64
		 ",\"be_state\":%d,\"rsp_prod_violations\":%" PRIu64
		 ",\"rsp_bad_id\":%" PRIu64 ",\"lent\":%d,\"ctrl_answers\":%" PRIu64
		 ",\"ctrl_success\":%" PRIu64 ",\"ctrl\":[",
		 name, rc, dev->cfg.domid, (double)(nf_now_ns() - t0) / 1e9, e.pushed,
		 e.rsp_ok, e.rsp_error, e.rsp_dropped, e.rsp_null, e.rsp_bad, e.notifies,
		 e.ebusy, e.rewrites, evil_be_state(&e), dev->st.rsp_prod_violations,
		 e.rsp_bad_id, e.lent, e.ctrl_answers, e.ctrl_success);
	for (i = 0; i < e.nctrl; i++) {
		size_t n = strlen(json);

		snprintf(json + n, len - n, "%s%d", i ? "," : "", e.ctrl_st[i]);
	}
	{
		size_t n = strlen(json);

		snprintf(json + n, len - n, "]}");
	}
	return rc;
}
