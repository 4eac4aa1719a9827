/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * refback: a minimal dom0 backend for ONE vif, written only to test the
 * netfront guest against something that is not the PMD. It reflects: every
 * packet the guest transmits is grant-copied out of the TX ring and
 * grant-copied back into the same guest's posted RX buffers, with its
 * checksum flags and GSO extra, multi-slot both ways. It applies
 * backpressure instead of dropping (a TX request is consumed only when the
 * backlog has room), so a lossless run must end with equal counts.
 *
 * Not a model backend: one copy hypercall per packet, no zero copy.
 *
 * usage: refback --sim DIR --domid N [--handle H] [--max-queues N]
 *                [--no-sg] [--no-gso] [--no-split] [--no-csum] [--quiet]
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenstore.h>

#include "nf_xen.h"
#include "xnbsim.h"

#define PAGE		XNBSIM_PAGE_SIZE
#define RING_SLOTS	__CONST_RING_SIZE(netif_tx, PAGE)
#define BACKLOG		64u
#define MAX_PKT		(XEN_NETIF_MAX_TX_SIZE + 1u)
#define TX_BATCH	64u
#define MAX_QUEUES	16u

struct pkt {
	uint8_t *data;
	uint32_t len;
	uint16_t txflags;	/* NETTXF_csum_blank / data_validated */
	uint8_t gso_type;
	uint16_t gso_size;
};

struct rbq {
	netif_tx_back_ring_t tx;
	netif_rx_back_ring_t rx;
	void *tx_map, *rx_map;
	uint32_t tx_port, rx_port;	/* local; equal unless split */
	struct pkt backlog[BACKLOG];
	unsigned int head, tail;
};

struct rb {
	const char *sim_dir;
	uint16_t domid;
	unsigned int handle;
	unsigned int max_queues;
	bool sg, gso, split, csum, quiet;

	struct xnbsim *sim;
	struct xnbsim_evtchn *evh;
	struct xs_handle *xs;
	char be_path[128];
	char fe_path[128];
	int be_state;
	bool fe_gso;		/* the guest takes GSO packets on RX */

	struct rbq *q;
	unsigned int nq;
	int16_t port_q[XNBSIM_EVTCHN_PORTS];

	uint64_t tx_pkts, tx_err, rx_pkts, rx_err, copy_fail;
};

static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
say(const struct rb *b, const char *fmt, ...)
{
	va_list ap;

	if (b->quiet)
		return;
	fprintf(stderr, "refback dom%u: ", b->domid);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static long
xs_get_long(struct rb *b, const char *dir, const char *key, long def)
{
	char path[256], *v, *end;
	unsigned int len;
	long r;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	v = xs_read(b->xs, XBT_NULL, path, &len);
	if (v == NULL)
		return def;
	r = strtol(v, &end, 10);
	if (end == v || *end != '\0')
		r = def;
	free(v);
	return r;
}

static void
xs_put(struct rb *b, const char *key, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", b->be_path, key);
	if (!xs_write(b->xs, XBT_NULL, path, val, (unsigned int)strlen(val)))
		say(b, "write %s: %s", path, strerror(errno));
}

static void
set_state(struct rb *b, int s)
{
	char v[8];

	snprintf(v, sizeof(v), "%d", s);
	xs_put(b, "state", v);
	b->be_state = s;
}

/* ---- connect / disconnect ---------------------------------------------- */

static void
disconnect(struct rb *b)
{
	unsigned int i;

	for (i = 0; i < b->nq; i++) {
		struct rbq *q = &b->q[i];

		if (q->rx_port != 0 && q->rx_port != q->tx_port)
			xnbsim_evtchn_unbind(b->evh, q->rx_port);
		if (q->tx_port != 0)
			xnbsim_evtchn_unbind(b->evh, q->tx_port);
		if (q->tx_map != NULL)
			xnbsim_unmap(b->sim, 1, &q->tx_map);
		if (q->rx_map != NULL)
			xnbsim_unmap(b->sim, 1, &q->rx_map);
		while (q->head != q->tail)
			free(q->backlog[q->head++ % BACKLOG].data);
	}
	free(b->q);
	b->q = NULL;
	b->nq = 0;
	memset(b->port_q, 0xff, sizeof(b->port_q));
}

static int
map_ring(struct rb *b, const char *dir, const char *key, void **va)
{
	uint32_t ref;
	int16_t st;
	long v = xs_get_long(b, dir, key, -1);
	int rc;

	if (v < 0)
		return -ENOENT;
	ref = (uint32_t)v;
	rc = xnbsim_map(b->sim, b->domid, 1, &ref, 1, va, &st);
	if (rc < 0)
		return rc;
	if (st != GNTST_okay) {
		say(b, "mapping %s/%s (ref %u): GNTST %d", dir, key, ref, st);
		*va = NULL;
		return -EACCES;
	}
	return 0;
}

static int
bind_port(struct rb *b, const char *dir, const char *key, uint32_t *local)
{
	long v = xs_get_long(b, dir, key, -1);
	int rc;

	if (v <= 0)
		return -ENOENT;
	rc = xnbsim_evtchn_bind_interdomain(b->evh, b->domid, (uint32_t)v);
	if (rc < 0)
		return rc;
	*local = (uint32_t)rc;
	return 0;
}

static int
connect_queue(struct rb *b, struct rbq *q, unsigned int id, const char *dir)
{
	int rc;

	rc = map_ring(b, dir, "tx-ring-ref", &q->tx_map);
	if (rc == 0)
		rc = map_ring(b, dir, "rx-ring-ref", &q->rx_map);
	if (rc < 0)
		return rc;
	BACK_RING_INIT(&q->tx, (netif_tx_sring_t *)q->tx_map, PAGE);
	BACK_RING_INIT(&q->rx, (netif_rx_sring_t *)q->rx_map, PAGE);

	/* Split keys first, as Linux netback reads them. */
	if (xs_get_long(b, dir, "event-channel-tx", -1) > 0) {
		rc = bind_port(b, dir, "event-channel-tx", &q->tx_port);
		if (rc == 0)
			rc = bind_port(b, dir, "event-channel-rx", &q->rx_port);
	} else {
		rc = bind_port(b, dir, "event-channel", &q->tx_port);
		q->rx_port = q->tx_port;
	}
	if (rc < 0)
		return rc;
	if (q->tx_port >= XNBSIM_EVTCHN_PORTS || q->rx_port >= XNBSIM_EVTCHN_PORTS)
		return -ERANGE;
	b->port_q[q->tx_port] = (int16_t)id;
	b->port_q[q->rx_port] = (int16_t)id;
	return 0;
}

static int
connect(struct rb *b)
{
	long nq = xs_get_long(b, b->fe_path, "multi-queue-num-queues", 1);
	char dir[192];
	unsigned int i;
	int rc;

	if (xs_get_long(b, b->fe_path, "request-rx-copy", 0) != 1) {
		say(b, "frontend did not request rx-copy");
		return -EINVAL;
	}
	if (nq < 1 || (unsigned long)nq > b->max_queues) {
		say(b, "frontend asks for %ld queues, we offer %u", nq, b->max_queues);
		return -EINVAL;
	}
	b->fe_gso = xs_get_long(b, b->fe_path, "feature-gso-tcpv4", 0) == 1;
	b->q = calloc((size_t)nq, sizeof(*b->q));
	if (b->q == NULL)
		return -ENOMEM;
	b->nq = (unsigned int)nq;
	for (i = 0; i < b->nq; i++) {
		if (nq == 1)
			snprintf(dir, sizeof(dir), "%s", b->fe_path);
		else
			snprintf(dir, sizeof(dir), "%s/queue-%u", b->fe_path, i);
		rc = connect_queue(b, &b->q[i], i, dir);
		if (rc < 0) {
			say(b, "queue %u: %s", i, strerror(-rc));
			disconnect(b);
			return rc;
		}
	}
	say(b, "connected: %u queue(s)%s", b->nq,
	    b->q[0].tx_port != b->q[0].rx_port ? ", split event channels" : "");
	return 0;
}

/* ---- datapath ------------------------------------------------------------ */

static void
tx_respond(struct rbq *q, const netif_tx_request_t *reqs, const bool *is_extra,
	   unsigned int n, int16_t status)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		netif_tx_response_t *r = RING_GET_RESPONSE(&q->tx, q->tx.rsp_prod_pvt);

		if (is_extra[i]) {
			r->status = NETIF_RSP_NULL;
		} else {
			r->id = reqs[i].id;
			r->status = status;
		}
		q->tx.rsp_prod_pvt++;
	}
}

/* Takes one packet off the TX ring. Returns 1 done, 0 ring empty, -1 only
 * part of a packet published so far. Requests are copied out once, then
 * validated. */
static int
tx_one(struct rb *b, struct rbq *q)
{
	netif_tx_request_t reqs[RING_SLOTS];
	bool is_extra[RING_SLOTS];
	xengnttab_grant_copy_segment_t segs[XEN_NETIF_NR_SLOTS_MIN];
	struct netif_extra_info ex;
	RING_IDX prod = __atomic_load_n(&q->tx.sring->req_prod, __ATOMIC_ACQUIRE);
	RING_IDX i = q->tx.req_cons;
	unsigned int n = 0, ndata = 0, s;
	uint32_t rest = 0, pos;
	bool more, bad = false;
	struct pkt p = { 0 };

	if (i == prod)
		return 0;
	memcpy(&reqs[0], RING_GET_REQUEST(&q->tx, i), sizeof(reqs[0]));
	is_extra[n++] = false;
	ndata = 1;
	i++;
	if (reqs[0].flags & NETTXF_extra_info) {
		do {
			if (i == prod)
				return -1;
			memcpy(&ex, RING_GET_REQUEST(&q->tx, i), sizeof(ex));
			memcpy(&reqs[n], &ex, sizeof(ex));
			is_extra[n++] = true;
			i++;
			if (ex.type == XEN_NETIF_EXTRA_TYPE_GSO) {
				p.gso_type = ex.u.gso.type;
				p.gso_size = ex.u.gso.size;
				if (ex.u.gso.size == 0 ||
				    (ex.u.gso.type != XEN_NETIF_GSO_TYPE_TCPV4 &&
				     ex.u.gso.type != XEN_NETIF_GSO_TYPE_TCPV6))
					bad = true;
			} else {
				bad = true;
			}
			more = ex.flags & XEN_NETIF_EXTRA_FLAG_MORE;
		} while (more && n < RING_SLOTS);
	}
	more = reqs[0].flags & NETTXF_more_data;
	while (more) {
		if (i == prod)
			return -1;
		if (n == RING_SLOTS)
			break;
		memcpy(&reqs[n], RING_GET_REQUEST(&q->tx, i), sizeof(reqs[n]));
		is_extra[n] = false;
		more = reqs[n].flags & NETTXF_more_data;
		rest += reqs[n].size;
		n++;
		ndata++;
		i++;
	}

	/* Validate what we copied, never the ring again. */
	if (ndata > XEN_NETIF_NR_SLOTS_MIN || (ndata > 1 && !b->sg))
		bad = true;
	if (reqs[0].size < rest || reqs[0].size - rest > PAGE - reqs[0].offset ||
	    reqs[0].size < 14)
		bad = true;
	for (s = 1; s < n && !bad; s++)
		if (!is_extra[s] &&
		    (reqs[s].size == 0 || reqs[s].offset + (uint32_t)reqs[s].size > PAGE))
			bad = true;

	if (!bad) {
		p.len = reqs[0].size;
		p.txflags = reqs[0].flags & (NETTXF_csum_blank | NETTXF_data_validated);
		p.data = malloc(MAX_PKT);
		if (p.data == NULL)
			bad = true;
	}
	if (!bad) {
		unsigned int k = 0;

		pos = 0;
		for (s = 0; s < n; s++) {
			uint16_t len;

			if (is_extra[s])
				continue;
			len = s == 0 ? (uint16_t)(reqs[0].size - rest) : reqs[s].size;
			segs[k].source.foreign.ref = reqs[s].gref;
			segs[k].source.foreign.offset = reqs[s].offset;
			segs[k].source.foreign.domid = b->domid;
			segs[k].dest.virt = p.data + pos;
			segs[k].len = len;
			segs[k].flags = GNTCOPY_source_gref;
			segs[k].status = 0;
			pos += len;
			k++;
		}
		if (xnbsim_copy(b->sim, k, segs) < 0) {
			bad = true;
			b->copy_fail++;
		}
		for (s = 0; s < k && !bad; s++)
			if (segs[s].status != GNTST_okay) {
				bad = true;
				b->copy_fail++;
			}
	}

	tx_respond(q, reqs, is_extra, n, bad ? NETIF_RSP_ERROR : NETIF_RSP_OKAY);
	q->tx.req_cons = i;
	if (bad) {
		free(p.data);
		b->tx_err++;
		return 1;
	}
	b->tx_pkts++;
	q->backlog[q->tail++ % BACKLOG] = p;
	return 1;
}

static int
tx_poll(struct rb *b, struct rbq *q)
{
	unsigned int done = 0;
	RING_IDX seen;
	int notify, more, r = 0;

	for (;;) {
		while (done < TX_BATCH && q->tail - q->head < BACKLOG) {
			r = tx_one(b, q);
			if (r != 1)
				break;
			done++;
		}
		/* A full batch or backlog: the caller comes back without
		 * sleeping, so no event is needed. */
		if (done >= TX_BATCH || q->tail - q->head == BACKLOG)
			break;
		if (r < 0) {
			/* Wake us when the rest of the packet is pushed. */
			seen = q->tx.sring->req_prod;
			q->tx.sring->req_event = seen + 1;
			xen_mb();
			if (q->tx.sring->req_prod == seen)
				break;
			continue;
		}
		RING_FINAL_CHECK_FOR_REQUESTS(&q->tx, more);
		if (!more)
			break;
	}
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->tx, notify);
	if (notify)
		xnbsim_evtchn_notify(b->evh, q->tx_port);
	return (int)done;
}

/* Delivers one backlog packet into posted RX buffers. Returns 1 done, or 0
 * with *need set when the guest has not posted enough buffers yet. */
static int
rx_one(struct rb *b, struct rbq *q, unsigned int *need_out)
{
	struct pkt *p = &q->backlog[q->head % BACKLOG];
	bool gso = p->gso_type != 0 && b->fe_gso;
	unsigned int ndata = (p->len + PAGE - 1) / PAGE;
	unsigned int need = ndata + gso, k, slot;
	xengnttab_grant_copy_segment_t segs[XEN_NETIF_NR_SLOTS_MIN];
	netif_rx_request_t reqs[XEN_NETIF_NR_SLOTS_MIN + 1];
	RING_IDX prod = __atomic_load_n(&q->rx.sring->req_prod, __ATOMIC_ACQUIRE);
	uint32_t pos = 0;
	bool failed = false;

	*need_out = need;
	if (prod - q->rx.req_cons < need)
		return 0;
	for (k = 0; k < need; k++)
		memcpy(&reqs[k], RING_GET_REQUEST(&q->rx, q->rx.req_cons + k),
		       sizeof(reqs[k]));

	/* Data slot 0 uses request 0; the extra, request 1; then the rest. */
	for (k = 0; k < ndata; k++) {
		slot = k == 0 ? 0 : k + gso;
		segs[k].source.virt = p->data + pos;
		segs[k].dest.foreign.ref = reqs[slot].gref;
		segs[k].dest.foreign.offset = 0;
		segs[k].dest.foreign.domid = b->domid;
		segs[k].len = (uint16_t)(p->len - pos < PAGE ? p->len - pos : PAGE);
		segs[k].flags = GNTCOPY_dest_gref;
		segs[k].status = 0;
		pos += segs[k].len;
	}
	if (xnbsim_copy(b->sim, ndata, segs) < 0) {
		failed = true;
		b->copy_fail++;
	}

	for (k = 0; k < ndata; k++) {
		netif_rx_response_t *r;

		slot = k == 0 ? 0 : k + gso;
		r = RING_GET_RESPONSE(&q->rx, q->rx.rsp_prod_pvt + slot);
		r->id = reqs[slot].id;
		r->offset = 0;
		r->flags = 0;
		if (failed || segs[k].status != GNTST_okay) {
			r->status = NETIF_RSP_ERROR;
			failed = true;
		} else {
			r->status = (int16_t)segs[k].len;
		}
		if (k + 1 < ndata)
			r->flags |= NETRXF_more_data;
		if (k == 0) {
			if (p->txflags & NETTXF_csum_blank)
				r->flags |= NETRXF_csum_blank | NETRXF_data_validated;
			else if (p->txflags & NETTXF_data_validated)
				r->flags |= NETRXF_data_validated;
			if (gso)
				r->flags |= NETRXF_extra_info;
		}
	}
	if (gso) {
		struct netif_extra_info *ex = (struct netif_extra_info *)
			RING_GET_RESPONSE(&q->rx, q->rx.rsp_prod_pvt + 1);

		memset(ex, 0, sizeof(netif_rx_response_t));
		ex->type = XEN_NETIF_EXTRA_TYPE_GSO;
		ex->flags = 0;
		ex->u.gso.size = p->gso_size;
		ex->u.gso.type = p->gso_type;
	}
	q->rx.req_cons += need;
	q->rx.rsp_prod_pvt += need;
	if (failed)
		b->rx_err++;
	else
		b->rx_pkts++;
	free(p->data);
	q->head++;
	return 1;
}

static int
rx_poll(struct rb *b, struct rbq *q)
{
	unsigned int done = 0, need;
	int notify;

	while (q->head != q->tail) {
		if (rx_one(b, q, &need) == 1) {
			done++;
			continue;
		}
		/* Too few buffers: ask for a kick once enough are posted, then
		 * look again in case they were posted while we armed it. */
		q->rx.sring->req_event = q->rx.req_cons + need;
		xen_mb();
		if (rx_one(b, q, &need) == 0)
			break;
		done++;
	}
	RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&q->rx, notify);
	if (notify)
		xnbsim_evtchn_notify(b->evh, q->rx_port);
	return (int)done;
}

/* ---- xenbus -------------------------------------------------------------- */

static void
frontend_changed(struct rb *b)
{
	int fe = (int)xs_get_long(b, b->fe_path, "state", XenbusStateUnknown);

	switch (fe) {
	case XenbusStateInitialising:
		if (b->be_state == XenbusStateConnected)
			disconnect(b);
		if (b->be_state != XenbusStateInitWait)
			set_state(b, XenbusStateInitWait);
		break;
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (b->be_state != XenbusStateInitWait)
			break;
		if (connect(b) == 0) {
			set_state(b, XenbusStateConnected);
		} else {
			/* The guest resets through Closed and asks again. */
			set_state(b, XenbusStateClosing);
			set_state(b, XenbusStateClosed);
		}
		break;
	case XenbusStateClosing:
		disconnect(b);
		if (b->be_state != XenbusStateClosing &&
		    b->be_state != XenbusStateClosed)
			set_state(b, XenbusStateClosing);
		break;
	case XenbusStateClosed:
	default:
		disconnect(b);
		if (b->be_state != XenbusStateClosed)
			set_state(b, XenbusStateClosed);
		break;
	}
}

static int
start(struct rb *b)
{
	char path[256], *fe;
	unsigned int len;
	int fe_state;

	b->sim = xnbsim_open(b->sim_dir, 0);
	if (b->sim == NULL)
		return -errno;
	if (xnbsim_xs_path(b->sim_dir, 0, path, sizeof(path)) < 0)
		return -EINVAL;
	setenv("XENSTORED_PATH", path, 1);
	b->xs = xs_open(0);
	if (b->xs == NULL)
		return -errno;
	b->evh = xnbsim_evtchn_open(b->sim);
	if (b->evh == NULL)
		return -errno;

	snprintf(b->be_path, sizeof(b->be_path), "/local/domain/0/backend/vif/%u/%u",
		 b->domid, b->handle);
	snprintf(path, sizeof(path), "%s/frontend", b->be_path);
	fe = xs_read(b->xs, XBT_NULL, path, &len);
	if (fe == NULL) {
		say(b, "no %s: is the vif created?", path);
		return -ENODEV;
	}
	snprintf(b->fe_path, sizeof(b->fe_path), "%s", fe);
	free(fe);

	xs_put(b, "feature-rx-copy", "1");
	xs_put(b, "feature-rx-flip", "0");
	xs_put(b, "feature-sg", b->sg ? "1" : "0");
	xs_put(b, "feature-gso-tcpv4", b->gso ? "1" : "0");
	xs_put(b, "feature-gso-tcpv6", b->gso ? "1" : "0");
	xs_put(b, "feature-split-event-channels", b->split ? "1" : "0");
	xs_put(b, "feature-no-csum-offload", b->csum ? "0" : "1");
	xs_put(b, "feature-ipv6-csum-offload", b->csum ? "1" : "0");
	snprintf(path, sizeof(path), "%u", b->max_queues);
	xs_put(b, "multi-queue-max-queues", path);

	/* A frontend still Connected is the previous backend's: make it reset
	 * (Closed -> its Initialising -> our InitWait) rather than map rings
	 * it is about to revoke. */
	fe_state = (int)xs_get_long(b, b->fe_path, "state", XenbusStateUnknown);
	if (fe_state == XenbusStateConnected || fe_state == XenbusStateInitialised)
		set_state(b, XenbusStateClosed);
	else
		set_state(b, XenbusStateInitWait);

	snprintf(path, sizeof(path), "%s/state", b->fe_path);
	if (!xs_watch(b->xs, path, "fe"))
		return -errno;
	return 0;
}

static void
serve(struct rb *b)
{
	struct pollfd pfd[2];
	unsigned int i;
	int port, work = 0;
	char **vec;

	pfd[0].fd = xnbsim_evtchn_fd(b->evh);
	pfd[0].events = POLLIN;
	pfd[1].fd = xs_fileno(b->xs);
	pfd[1].events = POLLIN;

	while (!stop) {
		if (poll(pfd, 2, work ? 0 : 100) < 0 && errno != EINTR)
			break;
		if (pfd[0].revents & POLLIN)
			while ((port = xnbsim_evtchn_pending(b->evh)) >= 0)
				xnbsim_evtchn_unmask(b->evh, (uint32_t)port);
		if (pfd[1].revents & POLLIN) {
			bool changed = false;

			while ((vec = xs_check_watch(b->xs)) != NULL) {
				free(vec);
				changed = true;
			}
			if (changed)
				frontend_changed(b);
		}
		work = 0;
		if (b->be_state != XenbusStateConnected)
			continue;
		for (i = 0; i < b->nq; i++) {
			work += tx_poll(b, &b->q[i]);
			work += rx_poll(b, &b->q[i]);
		}
	}
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "sim", required_argument, NULL, 's' },
		{ "domid", required_argument, NULL, 'd' },
		{ "handle", required_argument, NULL, 'h' },
		{ "max-queues", required_argument, NULL, 'q' },
		{ "no-sg", no_argument, NULL, 'S' },
		{ "no-gso", no_argument, NULL, 'G' },
		{ "no-split", no_argument, NULL, 'P' },
		{ "no-csum", no_argument, NULL, 'C' },
		{ "quiet", no_argument, NULL, 'Q' },
		{ NULL, 0, NULL, 0 },
	};
	struct rb *b = calloc(1, sizeof(*b));
	struct sigaction sa;
	int c, rc;

	if (b == NULL)
		return 1;
	b->max_queues = 4;
	b->sg = b->gso = b->split = b->csum = true;
	memset(b->port_q, 0xff, sizeof(b->port_q));
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': b->sim_dir = optarg; break;
		case 'd': b->domid = (uint16_t)atoi(optarg); break;
		case 'h': b->handle = (unsigned int)atoi(optarg); break;
		case 'q': b->max_queues = (unsigned int)atoi(optarg); break;
		case 'S': b->sg = false; break;
		case 'G': b->gso = false; break;
		case 'P': b->split = false; break;
		case 'C': b->csum = false; break;
		case 'Q': b->quiet = true; break;
		default: return 1;
		}
	}
	if (b->sim_dir == NULL || b->domid == 0 || b->max_queues < 1 ||
	    b->max_queues > MAX_QUEUES) {
		fprintf(stderr, "usage: refback --sim DIR --domid N [--handle H] "
			"[--max-queues 1..%u] [--no-sg] [--no-gso] [--no-split] "
			"[--no-csum] [--quiet]\n", MAX_QUEUES);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	rc = start(b);
	if (rc < 0) {
		fprintf(stderr, "refback: start: %s\n", strerror(-rc));
		return 1;
	}
	say(b, "serving %s", b->be_path);
	serve(b);
	disconnect(b);
	set_state(b, XenbusStateClosed);
	say(b, "tx %" PRIu64 " (errors %" PRIu64 ") rx %" PRIu64 " (errors %"
	    PRIu64 ") copy failures %" PRIu64, b->tx_pkts, b->tx_err, b->rx_pkts,
	    b->rx_err, b->copy_fail);
	xs_close(b->xs);
	xnbsim_evtchn_close(b->evh);
	xnbsim_close(b->sim);
	free(b);
	return 0;
}
