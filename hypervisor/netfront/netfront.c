/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The netfront's control side: attach to the simulator, the xenbus state
 * machine, connecting queues (rings, grants, event channels, the xenstore
 * keys in one transaction) and tearing them down, and the grants a backend
 * would not give back yet. The datapath lives in nf_tx.c and nf_rx.c.
 *
 * Frontend states, driven by the backend's (as Linux's netback_changed):
 *
 *   backend InitWait   we Initialising -> connect, write keys -> Connected
 *                      we Connected    (backend restarted) -> tear down,
 *                                       Initialising, connect again
 *   backend Connected  we Connected    -> link up
 *                      we Initialising (stale backend) -> Closed, so it
 *                                       resets through Closed -> InitWait
 *   backend Closing    -> tear down, Closed
 *   backend Closed     -> tear down, Closed, then Initialising: ask for a
 *                         new connection whenever a backend comes back
 *   backend gone/1/3   we Connected -> tear down, Initialising
 */

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <xenstore.h>

#include "nf_internal.h"

#define XS_TOKEN		"nf-backend-state"
#define RESCAN_NS		1000000000ull	/* re-read states even without watches */
#define DEFERRED_RETRY_NS	100000000ull
#define IDLE_POLL_MS		100

static const char *const state_names[] = {
	"Unknown", "Initialising", "InitWait", "Initialised", "Connected",
	"Closing", "Closed", "Reconfiguring", "Reconfigured",
};

static const char *
state_name(int s)
{
	if (s < 0 || s >= (int)(sizeof(state_names) / sizeof(state_names[0])))
		return "?";
	return state_names[s];
}

uint64_t
nf_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void
nf_log(const struct nf_dev *dev, const char *fmt, ...)
{
	va_list ap;

	if (dev->cfg.quiet)
		return;
	fprintf(stderr, "netfront dom%u vif%u: ", dev->cfg.domid, dev->cfg.handle);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void
nf_notify(struct nf_dev *dev, uint32_t port, uint64_t *counter)
{
	xnbsim_evtchn_notify(dev->evh, port);
	(*counter)++;
}

bool
nf_rsp_prod_check(struct nf_dev *dev, const struct nf_queue *q, const char *ring,
		  RING_IDX prod, RING_IDX *seen, RING_IDX req_prod_pvt)
{
	const char *what;

	if (dev->broken)
		return false;
	/* Every legal value lies within a ring's size of the others, so the
	 * signed differences cannot be fooled by wrapping. */
	if ((int32_t)(prod - *seen) < 0)
		what = "moved backwards";
	else if ((int32_t)(prod - req_prod_pvt) > 0)
		what = "is past our requests";
	else {
		*seen = prod;
		return true;
	}
	dev->st.rsp_prod_violations++;
	dev->broken = true;
	fprintf(stderr, "netfront dom%u vif%u: ERROR: queue %d %s rsp_prod %u %s "
		"(highest seen %u, rsp_cons %u, req_prod_pvt %u): illegal number of "
		"responses, vif disabled\n", dev->cfg.domid, dev->cfg.handle,
		q != NULL ? (int)q->id : -1, q != NULL ? ring : "CTRL", prod, what, *seen,
		q == NULL ? dev->ctrl->ring.rsp_cons :
		strcmp(ring, "TX") == 0 ? q->tx.rsp_cons : q->rx.rsp_cons, req_prod_pvt);
	return false;
}

bool
nf_broken(const struct nf_dev *dev)
{
	return dev->broken;
}

/* ---- grants the backend has not released -------------------------------- */

bool
nf_grant_end(struct nf_dev *dev, uint32_t ref, uint32_t gfn)
{
	struct nf_deferred *d;
	int rc;

	if (ref == NF_GREF_NONE)
		return true;
	rc = xnbsim_end_access(dev->sim, ref);
	if (rc == 0)
		return true;
	if (rc != -EBUSY) {
		/* Not ours any more (a bug here or a broken table): the page
		 * is still safe to reuse only if nobody maps it; assume not. */
		nf_log(dev, "end_access(%u) failed: %d", ref, rc);
	}
	if (dev->ndeferred == dev->deferred_cap) {
		unsigned int cap = dev->deferred_cap ? dev->deferred_cap * 2 : 64;
		struct nf_deferred *n = realloc(dev->deferred, cap * sizeof(*n));

		if (n == NULL) {
			dev->st.grants_deferred++;
			return false;	/* leaked for good */
		}
		dev->deferred = n;
		dev->deferred_cap = cap;
	}
	d = &dev->deferred[dev->ndeferred++];
	d->ref = ref;
	d->gfn = gfn;
	dev->st.grants_deferred++;
	return false;
}

/* Like Linux's deferred grant release: retry until the backend unmaps. */
static void
deferred_retry(struct nf_dev *dev)
{
	unsigned int i = 0;

	while (i < dev->ndeferred) {
		struct nf_deferred *d = &dev->deferred[i];

		if (xnbsim_end_access(dev->sim, d->ref) != 0) {
			i++;
			continue;
		}
		if (d->gfn != UINT32_MAX)
			xnbsim_page_free(dev->sim, d->gfn);
		*d = dev->deferred[--dev->ndeferred];
	}
}

/* ---- pages ------------------------------------------------------------------ */

/*
 * The simulator's page allocator belongs to the process: a second netfront
 * instance of a domain (the guest's driver reloaded) starts with every page
 * free, including those its predecessor granted to a backend and could not
 * take back (Linux netfront keeps such pages on its deferred list for as
 * long as the backend maps them; a guest kernel never reuses them). The
 * grant table says which they are: pages with a grant still permitting
 * access when we attach.
 */
static int
quarantine_init(struct nf_dev *dev)
{
	const grant_entry_v1_t *gt = xnbsim_gnttab(dev->sim);
	uint32_t npages, ref;

	(void)xnbsim_ram(dev->sim, &npages);
	dev->quarantine = calloc((npages + 7) / 8, 1);
	if (dev->quarantine == NULL)
		return -ENOMEM;
	dev->quarantine_pages = npages;
	for (ref = 1; ref < XNBSIM_GNTTAB_ENTRIES; ref++) {
		uint16_t flags = __atomic_load_n(&gt[ref].flags, __ATOMIC_ACQUIRE);
		uint32_t frame = gt[ref].frame;

		if ((flags & GTF_type_mask) == GTF_permit_access && frame < npages)
			dev->quarantine[frame / 8] |= (uint8_t)(1u << (frame % 8));
	}
	return 0;
}

int
nf_page_alloc(struct nf_dev *dev, uint32_t *gfn, void **va)
{
	for (;;) {
		int rc = xnbsim_page_alloc(dev->sim, gfn, va);

		if (rc < 0 || dev->quarantine == NULL || *gfn >= dev->quarantine_pages ||
		    !(dev->quarantine[*gfn / 8] & (1u << (*gfn % 8))))
			return rc;
		dev->st.pages_quarantined++;	/* kept allocated: never ours */
	}
}

/* ---- xenstore helpers ------------------------------------------------------ */

static char *
xs_get(struct nf_dev *dev, const char *dir, const char *key)
{
	char path[256];
	unsigned int len;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	return xs_read(dev->xs, XBT_NULL, path, &len);
}

static long
xs_get_long(struct nf_dev *dev, const char *dir, const char *key, long def)
{
	char *v = xs_get(dev, dir, key), *end;
	long r;

	if (v == NULL)
		return def;
	r = strtol(v, &end, 10);
	if (end == v || *end != '\0')
		r = def;
	free(v);
	return r;
}

static int
xs_put(struct nf_dev *dev, xs_transaction_t t, const char *dir,
       const char *key, const char *fmt, ...)
{
	char path[256], val[64];
	va_list ap;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	return xs_write(dev->xs, t, path, val, (unsigned int)strlen(val)) ?
		0 : -errno;
}

/* Removing a node that is not there is fine. */
static void
xs_del(struct nf_dev *dev, xs_transaction_t t, const char *dir, const char *key)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	xs_rm(dev->xs, t, path);
}

static void
set_fe_state(struct nf_dev *dev, int state)
{
	if (xs_put(dev, XBT_NULL, dev->fe_path, "state", "%d", state) != 0)
		nf_log(dev, "cannot write state %s: %s", state_name(state),
		       strerror(errno));
	dev->fe_state = state;
}

int
nf_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6], i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4],
		   &b[5]) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

/* ---- queues ---------------------------------------------------------------- */

static void
queue_teardown(struct nf_dev *dev, struct nf_queue *q)
{
	if (q->tx_port != 0)
		dev->port_queue[q->tx_port] = -1;
	if (q->rx_port != 0)
		dev->port_queue[q->rx_port] = -1;
	if (q->rx_port != 0 && q->rx_port != q->tx_port)
		xnbsim_evtchn_unbind(dev->evh, q->rx_port);
	if (q->tx_port != 0)
		xnbsim_evtchn_unbind(dev->evh, q->tx_port);
	q->tx_port = q->rx_port = 0;

	if (q->tx.sring != NULL)
		nf_tx_release(q);
	if (q->rx.sring != NULL)
		nf_rx_release(q);

	if (q->tx.sring != NULL &&
	    nf_grant_end(dev, q->tx_ring_ref, q->tx_ring_gfn))
		xnbsim_page_free(dev->sim, q->tx_ring_gfn);
	if (q->rx.sring != NULL &&
	    nf_grant_end(dev, q->rx_ring_ref, q->rx_ring_gfn))
		xnbsim_page_free(dev->sim, q->rx_ring_gfn);
	q->tx.sring = NULL;
	q->rx.sring = NULL;
	free(q->rx_scratch);
	q->rx_scratch = NULL;
}

static int
ring_page(struct nf_dev *dev, uint32_t *gfn, void **va, uint32_t *ref)
{
	int rc;

	rc = nf_page_alloc(dev, gfn, va);
	if (rc < 0)
		return rc;
	memset(*va, 0, NF_PAGE_SIZE);
	rc = xnbsim_grant_access(dev->sim, dev->be_domid, *gfn, 0);
	if (rc < 0) {
		xnbsim_page_free(dev->sim, *gfn);
		return rc;
	}
	*ref = (uint32_t)rc;
	return 0;
}

static int
queue_setup(struct nf_dev *dev, struct nf_queue *q, bool split)
{
	netif_tx_sring_t *txs;
	netif_rx_sring_t *rxs;
	void *va;
	unsigned int i;
	int rc;

	q->dev = dev;
	q->tx_ring_ref = q->rx_ring_ref = NF_GREF_NONE;
	for (i = 0; i < NF_RX_RING_SIZE; i++)
		q->rx_slot_ref[i] = NF_GREF_NONE;

	rc = ring_page(dev, &q->tx_ring_gfn, &va, &q->tx_ring_ref);
	if (rc < 0)
		return rc;
	txs = va;
	SHARED_RING_INIT(txs);
	FRONT_RING_INIT(&q->tx, txs, NF_PAGE_SIZE);

	rc = ring_page(dev, &q->rx_ring_gfn, &va, &q->rx_ring_ref);
	if (rc < 0)
		return rc;
	rxs = va;
	SHARED_RING_INIT(rxs);
	FRONT_RING_INIT(&q->rx, rxs, NF_PAGE_SIZE);

	for (i = 0; i < NF_TX_RING_SIZE; i++) {
		struct nf_tx_slot *ts = &q->tx_slot[i];

		ts->ref = NF_GREF_NONE;
		rc = nf_page_alloc(dev, &ts->gfn, &ts->va);
		if (rc < 0)
			return rc;
		q->tx_free[q->tx_nfree++] = (uint16_t)(NF_TX_RING_SIZE - 1 - i);
	}
	for (i = 0; i < NF_RX_RING_SIZE; i++) {
		rc = nf_page_alloc(dev, &q->rx_buf[i].gfn,
				       &q->rx_buf[i].va);
		if (rc < 0)
			return rc;
		q->rx_buf_free[q->rx_nfree++] = (uint16_t)i;
	}
	q->rx_scratch = malloc((NF_MAX_SLOTS + 1) * NF_PAGE_SIZE);
	if (q->rx_scratch == NULL)
		return -ENOMEM;

	rc = xnbsim_evtchn_alloc_unbound(dev->evh, dev->be_domid);
	if (rc < 0)
		return rc;
	q->tx_port = q->rx_port = (uint32_t)rc;
	if (split) {
		rc = xnbsim_evtchn_alloc_unbound(dev->evh, dev->be_domid);
		if (rc < 0)
			return rc;
		q->rx_port = (uint32_t)rc;
	}
	if (q->tx_port >= XNBSIM_EVTCHN_PORTS || q->rx_port >= XNBSIM_EVTCHN_PORTS)
		return -ERANGE;
	dev->port_queue[q->tx_port] = (int16_t)q->id;
	dev->port_queue[q->rx_port] = (int16_t)q->id;
	return 0;
}

/* ---- the control ring ------------------------------------------------------ */

static void
ctrl_teardown(struct nf_dev *dev)
{
	struct nf_ctrl *c = dev->ctrl;

	if (c == NULL)
		return;
	if (c->port != 0)
		xnbsim_evtchn_unbind(dev->evh, c->port);
	if (c->ring.sring != NULL && nf_grant_end(dev, c->ring_ref, c->ring_gfn))
		xnbsim_page_free(dev->sim, c->ring_gfn);
	if (c->data_va != NULL)
		xnbsim_page_free(dev->sim, c->data_gfn);
	free(c);
	dev->ctrl = NULL;
}

static int
ctrl_setup(struct nf_dev *dev)
{
	struct nf_ctrl *c = calloc(1, sizeof(*c));
	void *va;
	int rc;

	if (c == NULL)
		return -ENOMEM;
	dev->ctrl = c;
	c->ring_ref = NF_GREF_NONE;
	rc = ring_page(dev, &c->ring_gfn, &va, &c->ring_ref);
	if (rc < 0)
		return rc;
	SHARED_RING_INIT((xen_netif_ctrl_sring_t *)va);
	FRONT_RING_INIT(&c->ring, (xen_netif_ctrl_sring_t *)va, NF_PAGE_SIZE);
	rc = nf_page_alloc(dev, &c->data_gfn, &c->data_va);
	if (rc < 0) {
		c->data_va = NULL;
		return rc;
	}
	rc = xnbsim_evtchn_alloc_unbound(dev->evh, dev->be_domid);
	if (rc < 0)
		return rc;
	c->port = (uint32_t)rc;
	return 0;
}

/* A new connection starts from the backend's defaults (no hash). */
static void
hash_reset(struct nf_dev *dev)
{
	uint64_t gen = dev->hash.generation + 1;

	memset(&dev->hash, 0, sizeof(dev->hash));
	dev->hash.generation = gen;
}

static void
disconnect(struct nf_dev *dev)
{
	unsigned int i, inflight;
	uint64_t before = dev->st.grants_deferred;

	if (dev->queues == NULL)
		return;
	inflight = nf_tx_inflight(dev);
	dev->up = false;
	ctrl_teardown(dev);
	hash_reset(dev);
	for (i = 0; i < dev->nq; i++)
		queue_teardown(dev, &dev->queues[i]);
	free(dev->queues);
	dev->queues = NULL;
	dev->nq = 0;
	nf_log(dev, "disconnected: %u TX slots unanswered, %" PRIu64
	       " grants still in use by the backend (release deferred)",
	       inflight, dev->st.grants_deferred - before);
}

static void
read_features(struct nf_dev *dev)
{
	struct nf_backend_features *f = &dev->feat;
	long mq;

	f->rx_copy = xs_get_long(dev, dev->be_path, "feature-rx-copy", 0) == 1;
	f->sg = xs_get_long(dev, dev->be_path, "feature-sg", 0) == 1;
	f->gso_tcpv4 = xs_get_long(dev, dev->be_path, "feature-gso-tcpv4", 0) == 1;
	f->gso_tcpv6 = xs_get_long(dev, dev->be_path, "feature-gso-tcpv6", 0) == 1;
	f->split_evtchn = xs_get_long(dev, dev->be_path,
				      "feature-split-event-channels", 0) == 1;
	f->csum_offload = xs_get_long(dev, dev->be_path,
				      "feature-no-csum-offload", 0) != 1;
	f->ipv6_csum_offload = xs_get_long(dev, dev->be_path,
					   "feature-ipv6-csum-offload", 0) == 1;
	f->ctrl_ring = xs_get_long(dev, dev->be_path, "feature-ctrl-ring", 0) == 1;
	f->mcast_ctrl = xs_get_long(dev, dev->be_path, "feature-multicast-control", 0) == 1;
	mq = xs_get_long(dev, dev->be_path, "multi-queue-max-queues", 1);
	f->max_queues = mq < 1 ? 1 : (unsigned int)mq;
}

static int
write_queue_keys(struct nf_dev *dev, xs_transaction_t t, struct nf_queue *q,
		 bool hierarchical)
{
	char dir[160];
	int rc;

	if (hierarchical)
		snprintf(dir, sizeof(dir), "%s/queue-%u", dev->fe_path, q->id);
	else
		snprintf(dir, sizeof(dir), "%s", dev->fe_path);
	rc = xs_put(dev, t, dir, "tx-ring-ref", "%u", q->tx_ring_ref);
	if (rc == 0)
		rc = xs_put(dev, t, dir, "rx-ring-ref", "%u", q->rx_ring_ref);
	if (rc != 0)
		return rc;
	/* A backend looks for the split keys first (Linux netback does): the
	 * other kind, left by an earlier connection, must go. */
	if (q->tx_port == q->rx_port) {
		xs_del(dev, t, dir, "event-channel-tx");
		xs_del(dev, t, dir, "event-channel-rx");
		return xs_put(dev, t, dir, "event-channel", "%u", q->tx_port);
	}
	xs_del(dev, t, dir, "event-channel");
	rc = xs_put(dev, t, dir, "event-channel-tx", "%u", q->tx_port);
	if (rc == 0)
		rc = xs_put(dev, t, dir, "event-channel-rx", "%u", q->rx_port);
	return rc;
}

/* A feature key we write as "1", or remove (an earlier connection of ours
 * may have left it). */
static int
xs_flag(struct nf_dev *dev, xs_transaction_t t, const char *key, bool on)
{
	if (on)
		return xs_put(dev, t, dev->fe_path, key, "1");
	xs_del(dev, t, dev->fe_path, key);
	return 0;
}

/* All keys in one transaction, as netfront's talk_to_netback: the backend
 * must never see half of them. */
static int
write_keys(struct nf_dev *dev)
{
	static const char *const ones[] = {
		"request-rx-copy", "feature-rx-notify", "feature-sg",
		"feature-gso-tcpv4", "feature-gso-tcpv6",
	};
	xs_transaction_t t;
	unsigned int i;
	bool mq = xs_get_long(dev, dev->be_path, "multi-queue-max-queues", 0) > 0;
	int rc;

again:
	t = xs_transaction_start(dev->xs);
	if (t == XBT_NULL)
		return -errno;
	rc = 0;
	if (mq)
		rc = xs_put(dev, t, dev->fe_path, "multi-queue-num-queues", "%u",
			    dev->nq);
	else
		xs_del(dev, t, dev->fe_path, "multi-queue-num-queues");
	for (i = 0; i < dev->nq && rc == 0; i++)
		rc = write_queue_keys(dev, t, &dev->queues[i], dev->nq > 1);
	for (i = 0; i < sizeof(ones) / sizeof(ones[0]) && rc == 0; i++)
		rc = xs_put(dev, t, dev->fe_path, ones[i], "1");
	if (rc == 0)
		rc = xs_flag(dev, t, "feature-ipv6-csum-offload", !dev->cfg.no_ipv6_csum);
	if (rc == 0)
		rc = xs_flag(dev, t, "feature-no-csum-offload", dev->cfg.no_csum_offload);
	if (rc == 0)
		rc = xs_flag(dev, t, "request-multicast-control",
			     dev->cfg.mcast_ctrl && dev->feat.mcast_ctrl);
	/* The control ring's keys go before Connected (netif.h). */
	if (rc == 0 && dev->ctrl != NULL) {
		rc = xs_put(dev, t, dev->fe_path, "ctrl-ring-ref", "%u", dev->ctrl->ring_ref);
		if (rc == 0)
			rc = xs_put(dev, t, dev->fe_path, "event-channel-ctrl", "%u",
				    dev->ctrl->port);
	} else if (rc == 0) {
		xs_del(dev, t, dev->fe_path, "ctrl-ring-ref");
		xs_del(dev, t, dev->fe_path, "event-channel-ctrl");
	}
	if (rc != 0) {
		xs_transaction_end(dev->xs, t, true);
		return rc;
	}
	if (!xs_transaction_end(dev->xs, t, false)) {
		if (errno == EAGAIN)
			goto again;
		return -errno;
	}
	return 0;
}

static int
connect(struct nf_dev *dev)
{
	bool split;
	unsigned int i;
	int rc;

	read_features(dev);
	if (!dev->feat.rx_copy) {
		nf_log(dev, "backend lacks feature-rx-copy: cannot connect");
		return -ENODEV;
	}
	dev->nq = dev->cfg.queues < dev->feat.max_queues ?
		  dev->cfg.queues : dev->feat.max_queues;
	split = dev->cfg.split_evtchn && dev->feat.split_evtchn;
	dev->queues = calloc(dev->nq, sizeof(*dev->queues));
	if (dev->queues == NULL) {
		dev->nq = 0;
		return -ENOMEM;
	}
	for (i = 0; i < dev->nq; i++) {
		dev->queues[i].id = i;
		rc = queue_setup(dev, &dev->queues[i], split);
		if (rc < 0) {
			nf_log(dev, "queue %u setup failed: %s", i, strerror(-rc));
			goto fail;
		}
	}
	if (dev->cfg.ctrl_ring && dev->feat.ctrl_ring) {
		rc = ctrl_setup(dev);
		if (rc < 0) {
			nf_log(dev, "control ring setup failed: %s", strerror(-rc));
			goto fail;
		}
	}
	rc = write_keys(dev);
	if (rc < 0) {
		nf_log(dev, "writing xenstore keys failed: %s", strerror(-rc));
		goto fail;
	}
	/* Buffers are posted before we say Connected, as netfront does. */
	for (i = 0; i < dev->nq; i++)
		nf_rx_refill(&dev->queues[i]);
	nf_log(dev, "rings ready: %u queue(s), %s event channels%s", dev->nq,
	       split ? "split" : "shared", dev->ctrl != NULL ? ", control ring" : "");
	return 0;
fail:
	disconnect(dev);
	return rc;
}

static void
link_up(struct nf_dev *dev)
{
	unsigned int i;

	dev->up = true;
	dev->announced_wait = false;
	dev->st.connects++;
	if (dev->ever_up)
		dev->st.reconnects++;
	dev->ever_up = true;
	nf_log(dev, "connected (%u queue(s), sg=%d gso=%d csum=%d)", dev->nq,
	       dev->feat.sg, dev->feat.gso_tcpv4, dev->feat.csum_offload);
	/* Kick both directions: requests may predate the backend's binding. */
	for (i = 0; i < dev->nq; i++) {
		struct nf_queue *q = &dev->queues[i];

		nf_notify(dev, q->tx_port, &dev->st.tx_notify);
		if (q->rx_port != q->tx_port)
			nf_notify(dev, q->rx_port, &dev->st.rx_notify);
	}
}

static int
read_be_state(struct nf_dev *dev)
{
	return (int)xs_get_long(dev, dev->be_path, "state", XenbusStateUnknown);
}

static void
xenbus_step(struct nf_dev *dev)
{
	int be = read_be_state(dev);
	int fe = dev->fe_state;

	if (be != dev->be_state)
		nf_log(dev, "backend %s -> %s", state_name(dev->be_state),
		       state_name(be));
	dev->be_state = be;

	switch (be) {
	case XenbusStateInitWait:
		/* Connected and the link never came up: the backend has not
		 * read our Connected yet (this can be a stale watch event),
		 * and it is about to map the rings we published: tearing them
		 * down now would end the grants under its feet. Only a backend
		 * that was Connected with us and is back in InitWait is new. */
		if ((fe == XenbusStateConnected && dev->up) || fe == XenbusStateClosed) {
			disconnect(dev);
			set_fe_state(dev, XenbusStateInitialising);
		}
		if (dev->fe_state == XenbusStateInitialising && connect(dev) == 0)
			set_fe_state(dev, XenbusStateConnected);
		break;
	case XenbusStateConnected:
		if (fe == XenbusStateConnected && !dev->up && dev->queues != NULL)
			link_up(dev);
		else if (fe == XenbusStateInitialising)
			set_fe_state(dev, XenbusStateClosed);
		break;
	case XenbusStateClosing:
		if (fe != XenbusStateClosed) {
			disconnect(dev);
			set_fe_state(dev, XenbusStateClosed);
		}
		break;
	case XenbusStateClosed:
		if (fe == XenbusStateConnected || fe == XenbusStateInitialised) {
			disconnect(dev);
			set_fe_state(dev, XenbusStateClosed);
		}
		if (dev->fe_state == XenbusStateClosed && nf_now_ns() >= dev->closed_until_ns)
			set_fe_state(dev, XenbusStateInitialising);
		if (!dev->announced_wait) {
			nf_log(dev, "backend closed; waiting for it to return");
			dev->announced_wait = true;
		}
		break;
	default:
		/* Gone, or a new backend not ready yet. */
		if (fe == XenbusStateConnected) {
			disconnect(dev);
			set_fe_state(dev, XenbusStateInitialising);
		}
		break;
	}
}

/* ---- public ---------------------------------------------------------------- */

struct nf_dev *
nf_open(const struct nf_config *cfg)
{
	struct nf_dev *dev;
	char path[256], *v;
	long id;
	int err, i;

	dev = calloc(1, sizeof(*dev));
	if (dev == NULL)
		return NULL;
	dev->cfg = *cfg;
	if (dev->cfg.queues < 1)
		dev->cfg.queues = 1;
	if (dev->cfg.queues > NF_MAX_QUEUES)
		dev->cfg.queues = NF_MAX_QUEUES;
	for (i = 0; i < XNBSIM_EVTCHN_PORTS; i++)
		dev->port_queue[i] = -1;
	dev->be_state = -1;

	dev->sim = xnbsim_open(cfg->sim_dir, cfg->domid);
	if (dev->sim == NULL) {
		err = errno;
		goto fail;
	}
	err = -xnbsim_xs_path(cfg->sim_dir, cfg->domid, path, sizeof(path));
	if (err != 0)
		goto fail;
	/* libxenstore takes the socket from the environment at xs_open. */
	setenv("XENSTORED_PATH", path, 1);
	dev->xs = xs_open(0);
	if (dev->xs == NULL) {
		err = errno ? errno : ECONNREFUSED;
		goto fail;
	}
	dev->evh = xnbsim_evtchn_open(dev->sim);
	if (dev->evh == NULL) {
		err = errno;
		goto fail;
	}
	err = -quarantine_init(dev);
	if (err != 0)
		goto fail;

	snprintf(dev->fe_path, sizeof(dev->fe_path), "/local/domain/%u/device/vif/%u",
		 cfg->domid, cfg->handle);
	v = xs_get(dev, dev->fe_path, "backend");
	if (v == NULL) {
		err = ENODEV;
		nf_log(dev, "no %s/backend: is the vif created?", dev->fe_path);
		goto fail;
	}
	snprintf(dev->be_path, sizeof(dev->be_path), "%s", v);
	free(v);
	id = xs_get_long(dev, dev->fe_path, "backend-id", 0);
	if (id < 0 || id >= XNBSIM_MAX_DOMAINS) {
		err = EINVAL;
		goto fail;
	}
	dev->be_domid = (uint16_t)id;
	v = xs_get(dev, dev->fe_path, "mac");
	if (v == NULL || nf_parse_mac(v, dev->mac) != 0) {
		/* libxl always writes one; a fixed local address otherwise. */
		static const uint8_t def[6] = { 0x02, 0, 0, 0, 0, 0 };

		memcpy(dev->mac, def, 6);
		dev->mac[5] = (uint8_t)cfg->domid;
	}
	free(v);

	snprintf(path, sizeof(path), "%s/state", dev->be_path);
	if (!xs_watch(dev->xs, path, XS_TOKEN)) {
		err = errno;
		goto fail;
	}
	set_fe_state(dev, XenbusStateInitialising);
	return dev;
fail:
	free(dev->quarantine);
	if (dev->evh != NULL)
		xnbsim_evtchn_close(dev->evh);
	if (dev->xs != NULL)
		xs_close(dev->xs);
	if (dev->sim != NULL)
		xnbsim_close(dev->sim);
	free(dev);
	errno = err;
	return NULL;
}

static void
drain_upcalls(struct nf_dev *dev)
{
	int port;

	while ((port = xnbsim_evtchn_pending(dev->evh)) >= 0) {
		dev->st.events++;
		xnbsim_evtchn_unmask(dev->evh, (uint32_t)port);
	}
}

static bool
drain_watches(struct nf_dev *dev)
{
	char **vec;
	bool any = false;

	while ((vec = xs_check_watch(dev->xs)) != NULL) {
		free(vec);
		any = true;
	}
	return any;
}

int
nf_poll(struct nf_dev *dev, int timeout_ms)
{
	struct pollfd pfd[2];
	uint64_t now;
	int r;

	if ((dev->ndeferred > 0 || !dev->up) &&
	    (timeout_ms < 0 || timeout_ms > IDLE_POLL_MS))
		timeout_ms = IDLE_POLL_MS;
	pfd[0].fd = xnbsim_evtchn_fd(dev->evh);
	pfd[0].events = POLLIN;
	pfd[1].fd = xs_fileno(dev->xs);
	pfd[1].events = POLLIN;
	r = poll(pfd, 2, timeout_ms);
	if (r < 0)
		return errno == EINTR ? 0 : -errno;

	if (pfd[0].revents & POLLIN)
		drain_upcalls(dev);
	now = nf_now_ns();
	if (((pfd[1].revents & POLLIN) && drain_watches(dev)) ||
	    now - dev->last_scan_ns > RESCAN_NS) {
		xenbus_step(dev);
		dev->last_scan_ns = now;
	}
	if (dev->ndeferred > 0 && now - dev->deferred_retry_ns > DEFERRED_RETRY_NS) {
		deferred_retry(dev);
		dev->deferred_retry_ns = now;
	}
	return 0;
}

void
nf_close(struct nf_dev *dev, int grace_ms, struct nf_stats *final)
{
	uint64_t end = nf_now_ns() + (uint64_t)grace_ms * 1000000ull;
	char path[160];
	int be;

	/* netfront's remove: Closing, wait for the backend, Closed. Our state
	 * machine stays out of it, or it would ask to reconnect. */
	dev->up = false;
	be = read_be_state(dev);
	if (be != XenbusStateClosed && be != XenbusStateUnknown) {
		set_fe_state(dev, XenbusStateClosing);
		while (nf_now_ns() < end) {
			be = read_be_state(dev);
			if (be == XenbusStateClosing || be == XenbusStateClosed ||
			    be == XenbusStateUnknown)
				break;
			poll(NULL, 0, 10);
		}
	}
	disconnect(dev);
	set_fe_state(dev, XenbusStateClosed);
	while (dev->ndeferred > 0 && nf_now_ns() < end) {
		deferred_retry(dev);
		if (dev->ndeferred > 0)
			poll(NULL, 0, 10);
	}
	if (dev->ndeferred > 0)
		nf_log(dev, "%u grants still in use by the backend at exit (leaked)",
		       dev->ndeferred);
	if (final != NULL)
		nf_stats_get(dev, final);

	snprintf(path, sizeof(path), "%s/state", dev->be_path);
	xs_unwatch(dev->xs, path, XS_TOKEN);
	xs_close(dev->xs);
	xnbsim_evtchn_close(dev->evh);
	xnbsim_close(dev->sim);
	free(dev->deferred);
	free(dev->quarantine);
	free(dev);
}

bool
nf_link_up(const struct nf_dev *dev)
{
	return dev->up;
}

unsigned int
nf_num_queues(const struct nf_dev *dev)
{
	return dev->nq;
}

const struct nf_backend_features *
nf_features(const struct nf_dev *dev)
{
	return &dev->feat;
}

const uint8_t *
nf_mac(const struct nf_dev *dev)
{
	return dev->mac;
}

void
nf_states(const struct nf_dev *dev, int *front, int *back)
{
	*front = dev->fe_state;
	*back = dev->be_state;
}

void
nf_stats_get(const struct nf_dev *dev, struct nf_stats *st)
{
	*st = dev->st;
	st->grants_pending = dev->ndeferred;
}

void
nf_reconnect(struct nf_dev *dev, int closed_ms)
{
	uint64_t end = nf_now_ns() + 2000000000ull;
	int be;

	nf_log(dev, "reconnecting");
	dev->up = false;
	set_fe_state(dev, XenbusStateClosing);
	do {
		be = read_be_state(dev);
		if (be == XenbusStateClosing || be == XenbusStateClosed ||
		    be == XenbusStateUnknown)
			break;
		poll(NULL, 0, 10);
	} while (nf_now_ns() < end);
	disconnect(dev);
	dev->closed_until_ns = nf_now_ns() + (uint64_t)closed_ms * 1000000ull;
	set_fe_state(dev, XenbusStateClosed);
}

void
nf_rx_pause(struct nf_dev *dev, bool pause)
{
	unsigned int i;

	dev->rx_paused = pause;
	if (pause || !dev->up || dev->broken)
		return;
	for (i = 0; i < dev->nq; i++)
		nf_rx_refill(&dev->queues[i]);
}

const struct nf_hist *
nf_tx_wait_hist(const struct nf_dev *dev)
{
	return &dev->tx_wait;
}
