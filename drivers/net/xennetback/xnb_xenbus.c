/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The xenstore side of the backend (Linux netback's xenbus.c): the vif's
 * backend directory, its feature keys, the XenbusState it advertises, and
 * the frontend's keys, read and checked, for the connection (xnb_queue.c)
 * when the frontend is ready.
 *
 * Everything here runs in the EAL interrupt thread (libxenstore's watch fd is
 * registered as an external interrupt, fatal errors arrive as an EAL alarm)
 * or in the application's control thread (dev_start, dev_close), serialised
 * by the port lock; no datapath lcore ever waits on xenstore.
 *
 * The toolstack may create the backend directory after the application
 * started: the watch on it fires when it appears, and only then does the
 * backend write its features and go to InitWait, the state libxl waits for.
 * A frontend that disconnects (Closing, Closed, its domain gone) is torn
 * down and the backend says Closed, then InitWait when the next frontend
 * initialises: the port lives on in the application. With online=0 (the
 * toolstack removing the vif) it stays Closed.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_alarm.h>
#include <rte_common.h>
#include <rte_interrupts.h>
#include <rte_pause.h>
#include <xenstore.h>

#include "xnb_internal.h"

struct xnb_xenbus {
	struct xs_handle *xs;
	struct rte_intr_handle *intr;
	char be[128];		/* backend/vif/<domid>/<handle> */
	char fe[128];		/* the frontend's directory, from be/frontend */
	char fe_state[160];	/* <fe>/state, which we watch */
	char token[96];
	char fe_token[96];
	bool advertised;	/* features written, frontend state watched */
	int state;		/* what we last wrote to be/state */
	unsigned long long rate_bytes;	/* the `rate` key as last applied */
	unsigned long rate_usec;
	char rate_bad[64];	/* last malformed value, logged once */
};

static int
xnb_xs_printf(struct xnb_xenbus *xb, xs_transaction_t t, const char *key,
	      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
xnb_xs_printf(struct xnb_xenbus *xb, xs_transaction_t t, const char *key,
	      const char *fmt, ...)
{
	char path[192], val[192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(val))
		n = sizeof(val) - 1;
	snprintf(path, sizeof(path), "%s/%s", xb->be, key);
	return xs_write(xb->xs, t, path, val, n) ? 0 : -errno;
}

static const char *
xnb_state_name(int state)
{
	static const char *const names[] = {
		"Unknown", "Initialising", "InitWait", "Initialised", "Connected",
		"Closing", "Closed", "Reconfiguring", "Reconfigured",
	};

	return state >= 0 && state < (int)RTE_DIM(names) ? names[state] : "?";
}

/*
 * Writes key = val in the backend directory only while the directory is
 * there (its "state" key), in one transaction, as Linux's
 * xenbus_switch_state does: once the toolstack has removed the directory, a
 * plain write would re-create the key alone, owned by us, and the next vif
 * of that domid would find a key it cannot read.
 */
static int
xnb_xs_update(struct xnb_xenbus *xb, const char *key, const char *val)
{
	char path[192];
	xs_transaction_t t;
	unsigned int len;
	char *cur;
	int rc;

	snprintf(path, sizeof(path), "%s/state", xb->be);
	do {
		t = xs_transaction_start(xb->xs);
		if (t == XBT_NULL)
			return -errno;
		cur = xs_read(xb->xs, t, path, &len);
		if (cur == NULL) {
			xs_transaction_end(xb->xs, t, true);
			return -ENOENT;
		}
		free(cur);
		if (strcmp(key, "state") == 0) {
			/* Compare with the key, not with what we last wrote:
			 * the toolstack may have rewritten it. */
			snprintf(path, sizeof(path), "%s/%s", xb->be, key);
			cur = xs_read(xb->xs, t, path, &len);
			rc = cur != NULL && strcmp(cur, val) == 0;
			free(cur);
			if (rc) {
				xs_transaction_end(xb->xs, t, true);
				return -EALREADY;
			}
		}
		rc = xnb_xs_printf(xb, t, key, "%s", val);
		if (rc < 0) {
			xs_transaction_end(xb->xs, t, true);
			return rc;
		}
	} while (!xs_transaction_end(xb->xs, t, false) && errno == EAGAIN);
	return 0;
}

static void
xnb_xenbus_set_state(struct xnb_port *port, int state)
{
	struct xnb_xenbus *xb = port->xb;
	char val[8];
	int rc;

	snprintf(val, sizeof(val), "%d", state);
	rc = xnb_xs_update(xb, "state", val);
	if (rc == -EALREADY) {
		xb->state = state;
		return;
	}
	if (rc == -ENOENT)
		return;		/* the directory is gone: nothing to tell */
	if (rc < 0)
		XNB_LOG(ERR, "%s: cannot write %s/state", port->name, xb->be);
	xb->state = state;
	XNB_LOG(INFO, "%s: backend state %s", port->name, xnb_state_name(state));
}

/*
 * Reads an unsigned decimal the frontend wrote. The guest owns those keys:
 * anything but a plain number in range is refused.
 */
static int
xnb_fe_read(struct xnb_xenbus *xb, const char *dir, const char *key,
	    unsigned long max, unsigned long *val)
{
	char path[256], *v, *end;
	unsigned int len;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, key);
	v = xs_read(xb->xs, XBT_NULL, path, &len);
	if (v == NULL)
		return -ENOENT;
	errno = 0;
	*val = strtoul(v, &end, 10);
	if (len == 0 || v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 ||
	    *val > max)
		rc = -EINVAL;
	free(v);
	return rc;
}

/* A boolean feature key: absent means the default, anything else must be 0/1. */
static bool
xnb_fe_flag(struct xnb_xenbus *xb, const char *key, bool def)
{
	unsigned long v;

	if (xnb_fe_read(xb, xb->fe, key, 1, &v) < 0)
		return def;
	return v == 1;
}

/* Features, hotplug status and InitWait, in one transaction. */
static int
xnb_xenbus_advertise(struct xnb_port *port)
{
	struct xnb_xenbus *xb = port->xb;
	xs_transaction_t t;
	int rc;

	do {
		char path[192], *fe;
		unsigned int len;

		t = xs_transaction_start(xb->xs);
		if (t == XBT_NULL)
			return -errno;
		/* Read in the transaction, so a toolstack removing the directory
		 * meanwhile fails the commit instead of seeing it re-created. */
		snprintf(path, sizeof(path), "%s/frontend", xb->be);
		fe = xs_read(xb->xs, t, path, &len);
		if (fe == NULL) {
			xs_transaction_end(xb->xs, t, true);
			return -ENOENT;
		}
		free(fe);
		rc = xnb_xs_printf(xb, t, "feature-sg", "1");
		rc |= xnb_xs_printf(xb, t, "feature-gso-tcpv4", "1");
		rc |= xnb_xs_printf(xb, t, "feature-gso-tcpv6", "1");
		rc |= xnb_xs_printf(xb, t, "feature-ipv6-csum-offload", "1");
		rc |= xnb_xs_printf(xb, t, "feature-rx-copy", "1");
		rc |= xnb_xs_printf(xb, t, "feature-rx-flip", "0");
		rc |= xnb_xs_printf(xb, t, "feature-rx-notify", "1");
		rc |= xnb_xs_printf(xb, t, "feature-split-event-channels", "1");
		rc |= xnb_xs_printf(xb, t, "feature-ctrl-ring", "1");
		rc |= xnb_xs_printf(xb, t, "feature-multicast-control", "1");
		rc |= xnb_xs_printf(xb, t, "multi-queue-max-queues", "%u",
				    port->app_queues);
		rc |= xnb_xs_printf(xb, t, "hotplug-status", "connected");
		rc |= xnb_xs_printf(xb, t, "state", "%d", XenbusStateInitWait);
		if (rc != 0) {
			xs_transaction_end(xb->xs, t, true);
			return -EIO;
		}
	} while (!xs_transaction_end(xb->xs, t, false) && errno == EAGAIN);
	xb->state = XenbusStateInitWait;
	return 0;
}

/*
 * The toolstack's rate limit: `rate` = "bytes,usec" in the backend
 * directory (libxl's vif rate=), parsed as Linux's xen_net_read_rate does;
 * absent or malformed: unlimited. Read at every xenstore event, so a
 * change takes effect without a reconnect.
 */
static void
xnb_xenbus_rate(struct xnb_port *port)
{
	struct xnb_xenbus *xb = port->xb;
	unsigned long long bytes = 0;
	unsigned long usec = 0;
	char path[192], *v, *end;
	unsigned int len;

	snprintf(path, sizeof(path), "%s/rate", xb->be);
	v = xs_read(xb->xs, XBT_NULL, path, &len);
	if (v != NULL) {
		errno = 0;
		bytes = strtoull(v, &end, 10);
		if (*end == ',' && v[0] >= '0' && v[0] <= '9' && end[1] >= '0' && end[1] <= '9')
			usec = strtoul(end + 1, &end, 10);
		if (*end != '\0' || errno != 0 || usec == 0) {
			if (strcmp(v, xb->rate_bad) != 0)
				XNB_LOG(WARNING, "%s: rate '%s' is not bytes,usec: unlimited",
					port->name, v);
			snprintf(xb->rate_bad, sizeof(xb->rate_bad), "%s", v);
			bytes = usec = 0;
		}
		free(v);
	}
	if (bytes == xb->rate_bytes && usec == xb->rate_usec)
		return;
	xb->rate_bytes = bytes;
	xb->rate_usec = usec;
	xnb_port_rate_set(port, bytes, usec);
	if (usec != 0)
		XNB_LOG(INFO, "%s: guest TX limited to %llu bytes per %lu us (%.1f Mbit/s)",
			port->name, bytes, usec, bytes * 8.0 / usec);
	else
		XNB_LOG(INFO, "%s: guest TX not rate limited", port->name);
}

/* ---- the frontend's keys ---------------------------------------------------- */

/* A queue's ring refs and channels, from <fe> or <fe>/queue-N. */
static int
xnb_xenbus_queue_keys(struct xnb_port *port, const char *dir, struct xnb_queue_keys *k)
{
	struct xnb_xenbus *xb = port->xb;
	unsigned long tx, rx, ev = 0, ev2 = 0;
	int rc;

	if (xnb_fe_read(xb, dir, "tx-ring-ref", UINT32_MAX, &tx) < 0 ||
	    xnb_fe_read(xb, dir, "rx-ring-ref", UINT32_MAX, &rx) < 0) {
		XNB_LOG(ERR, "%s: %s: missing or bad tx-ring-ref/rx-ring-ref",
			port->name, dir);
		return -EINVAL;
	}
	/* Split channels: both keys, as Linux netback reads them; else one. */
	rc = xnb_fe_read(xb, dir, "event-channel-tx", UINT32_MAX, &ev);
	k->split = rc != -ENOENT;
	if (k->split ? rc < 0 ||
	    xnb_fe_read(xb, dir, "event-channel-rx", UINT32_MAX, &ev2) < 0 || ev2 == 0 :
	    xnb_fe_read(xb, dir, "event-channel", UINT32_MAX, &ev) < 0) {
		XNB_LOG(ERR, "%s: %s: missing or bad event channel keys", port->name, dir);
		return -EINVAL;
	}
	if (ev == 0) {
		XNB_LOG(ERR, "%s: %s: event channel 0", port->name, dir);
		return -EINVAL;
	}
	k->tx_ref = tx;
	k->rx_ref = rx;
	k->evtchn_tx = ev;
	k->evtchn_rx = k->split ? ev2 : ev;
	return 0;
}

/* Everything the connection needs from the frontend's directory, each value
 * a plain number in range (the guest owns these keys). */
static int
xnb_xenbus_keys(struct xnb_port *port, struct xnb_conn_keys *k)
{
	struct xnb_xenbus *xb = port->xb;
	struct xnb_frontend_features *fe = &k->fe;
	unsigned long nq = 1, v, remote;
	char dir[192];
	int rc;

	memset(k, 0, sizeof(*k));
	if (xnb_fe_read(xb, xb->fe, "request-rx-copy", 1, &v) < 0 || v != 1) {
		XNB_LOG(ERR, "%s: frontend %s does not request rx-copy (flipping is "
			"not supported)", port->name, xb->fe);
		return -EINVAL;
	}
	rc = xnb_fe_read(xb, xb->fe, "multi-queue-num-queues", UINT16_MAX, &nq);
	if (rc == -ENOENT)
		nq = 1;
	else if (rc < 0 || nq < 1 || nq > port->app_queues) {
		XNB_LOG(ERR, "%s: frontend asks for %lu queues, we offer 1..%u",
			port->name, nq, port->app_queues);
		return -EINVAL;
	}
	k->nb_queues = nq;
	fe->sg = xnb_fe_flag(xb, "feature-sg", false);
	fe->gso_tcpv4 = xnb_fe_flag(xb, "feature-gso-tcpv4", false);
	fe->gso_tcpv6 = xnb_fe_flag(xb, "feature-gso-tcpv6", false);
	fe->csum = !xnb_fe_flag(xb, "feature-no-csum-offload", false);
	fe->ipv6_csum = xnb_fe_flag(xb, "feature-ipv6-csum-offload", false);
	fe->rx_notify = xnb_fe_flag(xb, "feature-rx-notify", false);
	fe->mcast_ctrl = xnb_fe_flag(xb, "request-multicast-control", false);
	for (uint16_t i = 0; i < nq; i++) {
		if (nq == 1)
			snprintf(dir, sizeof(dir), "%s", xb->fe);
		else
			snprintf(dir, sizeof(dir), "%s/queue-%u", xb->fe, i);
		if (xnb_xenbus_queue_keys(port, dir, &k->q[i]) < 0)
			return -EINVAL;
	}
	/* The control ring, if the frontend gave one (both keys, as Linux
	 * netback's connect_ctrl_ring reads them). */
	if (xnb_fe_read(xb, xb->fe, "ctrl-ring-ref", UINT32_MAX, &v) == 0) {
		if (xnb_fe_read(xb, xb->fe, "event-channel-ctrl", UINT32_MAX, &remote) < 0 ||
		    remote == 0) {
			XNB_LOG(ERR, "%s: ctrl-ring-ref without a good event-channel-ctrl",
				port->name);
			return -EINVAL;
		}
		k->ctrl = true;
		k->ctrl_ref = v;
		k->ctrl_evtchn = remote;
	}
	return 0;
}

/* ---- the state machine ----------------------------------------------------- */

/* The frontend went away or asked to: tear down and report why. */
static void
xnb_xenbus_fail(struct xnb_port *port, const char *why)
{
	struct xnb_xenbus *xb = port->xb;

	xnb_xs_update(xb, "error", why);
	xnb_disconnect(port);
	xnb_xenbus_set_state(port, XenbusStateClosing);
}

/*
 * The backend directory half of a step: it appeared (advertise, once the
 * application configured the port), went away, or was removed and created
 * again between two looks. true: it is there and advertised, go on with
 * the frontend. Port lock held.
 */
static bool
xnb_xenbus_backend_dir(struct xnb_port *port)
{
	struct xnb_xenbus *xb = port->xb;
	unsigned int len;
	char path[192];
	char *fe;
	int rc;

	snprintf(path, sizeof(path), "%s/frontend", xb->be);
	fe = xs_read(xb->xs, XBT_NULL, path, &len);
	if (fe != NULL && xb->advertised) {
		/*
		 * Our keys gone: the directory was removed since we advertised,
		 * and created again (the watch events coalesce), or removed
		 * only after the read above. Read the frontend key again to
		 * tell which: taking a removal for a re-creation would drop
		 * the vif without a word, and the removal's own event would
		 * then find nothing left to do.
		 */
		char *mark;

		snprintf(path, sizeof(path), "%s/feature-rx-copy", xb->be);
		mark = xs_read(xb->xs, XBT_NULL, path, &len);
		if (mark == NULL) {
			free(fe);
			snprintf(path, sizeof(path), "%s/frontend", xb->be);
			fe = xs_read(xb->xs, XBT_NULL, path, &len);
			if (fe != NULL) {
				xnb_disconnect(port);
				xs_unwatch(xb->xs, xb->fe_state, xb->fe_token);
				xb->advertised = false;
				XNB_LOG(INFO, "%s: %s was created again", port->name,
					xb->be);
			}
		}
		free(mark);
	}
	if (fe == NULL) {
		/* No directory (yet, or any more: the toolstack removed it). */
		if (xb->advertised) {
			xnb_disconnect(port);
			xs_unwatch(xb->xs, xb->fe_state, xb->fe_token);
			xb->advertised = false;
			xb->state = XenbusStateUnknown;
			XNB_LOG(INFO, "%s: %s removed", port->name, xb->be);
		}
		return false;
	}
	if (xb->advertised) {
		free(fe);
		return true;
	}
	/* Not before the application configured the port: the frontend reads
	 * how many queues it may use at InitWait. */
	if (port->app_queues == 0) {
		free(fe);
		return false;
	}
	snprintf(xb->fe, sizeof(xb->fe), "%.*s", (int)len, fe);
	free(fe);
	rc = xnb_xenbus_advertise(port);
	if (rc == -ENOENT)
		return false;		/* removed meanwhile: its watch fires */
	if (rc < 0) {
		XNB_LOG(ERR, "%s: cannot write %s", port->name, xb->be);
		return false;
	}
	snprintf(xb->fe_state, sizeof(xb->fe_state), "%s/state", xb->fe);
	if (!xs_watch(xb->xs, xb->fe_state, xb->fe_token)) {
		XNB_LOG(ERR, "%s: cannot watch %s: %s", port->name, xb->fe_state,
			strerror(errno));
		return false;
	}
	xb->advertised = true;
	XNB_LOG(INFO, "%s: %s in InitWait", port->name, xb->be);
	return false;		/* the new watch fires at once */
}

/* The frontend half: do what its state (and online=0) asks. Port lock held. */
static void
xnb_xenbus_frontend(struct xnb_port *port)
{
	struct xnb_xenbus *xb = port->xb;
	unsigned long fe_state, online;
	struct xnb_conn_keys keys;

	/* The frontend's directory gone (its domain died) counts as Closed:
	 * libxl waits for our Closed before it removes the vif. */
	switch (xnb_fe_read(xb, xb->fe, "state", XenbusStateReconfigured, &fe_state)) {
	case 0:
		break;
	case -ENOENT:
		fe_state = XenbusStateClosed;
		break;
	default:	/* not a state: as Unknown */
		fe_state = XenbusStateUnknown;
		break;
	}
	/* online=0: the toolstack is removing the vif; once closed, stay so
	 * (Linux netback unregisters the device there). */
	if (xnb_fe_read(xb, xb->be, "online", 1, &online) == 0 && online == 0 &&
	    (xb->state == XenbusStateClosed || fe_state == XenbusStateClosing ||
	     fe_state == XenbusStateClosed)) {
		xnb_disconnect(port);
		xnb_xenbus_set_state(port, XenbusStateClosed);
		return;
	}
	switch (fe_state) {
	case XenbusStateInitialised:
	case XenbusStateConnected:
		if (port->connected || xb->state != XenbusStateInitWait || !port->started)
			break;
		if (xnb_xenbus_keys(port, &keys) < 0 || xnb_connect(port, &keys) < 0) {
			xnb_xenbus_fail(port, "cannot connect the frontend's rings");
			break;
		}
		xnb_xenbus_set_state(port, XenbusStateConnected);
		xnb_port_link_update(port);
		break;
	case XenbusStateClosing:
		xnb_disconnect(port);
		if (xb->state != XenbusStateClosed)
			xnb_xenbus_set_state(port, XenbusStateClosing);
		break;
	case XenbusStateClosed:
		xnb_disconnect(port);
		xnb_xenbus_set_state(port, XenbusStateClosed);
		break;
	default:	/* Unknown, Initialising: the next frontend; or bogus */
		xnb_disconnect(port);
		xnb_xenbus_set_state(port, XenbusStateInitWait);
		break;
	}
}

/* Looks at both directories and does what the states ask. Port lock held. */
static void
xnb_xenbus_step(struct xnb_port *port)
{
	if (!xnb_xenbus_backend_dir(port))
		return;
	xnb_xenbus_rate(port);
	xnb_xenbus_frontend(port);
}

static void
xnb_xenbus_event(void *arg)
{
	struct xnb_port *port = arg;
	struct xnb_xenbus *xb = port->xb;
	bool fired = false;
	char **w;

	while ((w = xs_check_watch(xb->xs)) != NULL) {
		free(w);
		fired = true;
	}
	if (!fired)
		return;
	pthread_mutex_lock(&port->lock);
	xnb_xenbus_step(port);
	pthread_mutex_unlock(&port->lock);
}

/* EAL alarm: a burst marked a queue fatal; disconnect in this thread. */
static void
xnb_xenbus_fatal_cb(void *arg)
{
	struct xnb_port *port = arg;
	bool fatal = false;

	pthread_mutex_lock(&port->lock);
	for (uint16_t i = 0; i < port->nb_queues; i++)
		fatal |= __atomic_load_n(&port->queues[i].fatal, __ATOMIC_ACQUIRE) != 0;
	if (port->connected && fatal) {
		XNB_LOG(ERR, "%s: disconnecting guest %u: %s", port->name, port->domid,
			port->fatal_why);
		port->fatal_errors++;
		xnb_xenbus_fail(port, port->fatal_why);
	}
	pthread_mutex_unlock(&port->lock);
}

/* The port's fatal hook (xnb_queue_fatal, any lcore): act in this thread. */
static void
xnb_xenbus_on_fatal(struct xnb_port *port)
{
	rte_eal_alarm_set(1, xnb_xenbus_fatal_cb, port);
}

void
xnb_xenbus_kick(struct xnb_port *port)
{
	pthread_mutex_lock(&port->lock);
	if (port->xb != NULL)
		xnb_xenbus_step(port);
	xnb_port_link_update(port);
	pthread_mutex_unlock(&port->lock);
}

int
xnb_xenbus_init(struct xnb_port *port)
{
	const char *sock = port->plat->xenstore_path(port->gnt);
	struct xnb_xenbus *xb;
	int rc;

	xb = calloc(1, sizeof(*xb));
	if (xb == NULL)
		return -ENOMEM;
	port->xb = xb;
	port->on_fatal = xnb_xenbus_on_fatal;
	/* libxenstore picks its socket from the environment at open time. */
	if (sock != NULL)
		setenv("XENSTORED_PATH", sock, 1);
	xb->xs = xs_open(0);
	if (xb->xs == NULL) {
		rc = -errno;
		XNB_LOG(ERR, "%s: cannot reach xenstore%s%s: %s", port->name,
			sock ? " at " : "", sock ? sock : "", strerror(-rc));
		goto fail;
	}
	snprintf(xb->be, sizeof(xb->be), "/local/domain/%u/backend/vif/%u/%u",
		 port->backend_domid, port->domid, port->handle);
	snprintf(xb->token, sizeof(xb->token), "xnb-%s", port->name);
	snprintf(xb->fe_token, sizeof(xb->fe_token), "xnb-fe-%s", port->name);
	xb->intr = rte_intr_instance_alloc(RTE_INTR_INSTANCE_F_SHARED);
	if (xb->intr == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	rte_intr_fd_set(xb->intr, xs_fileno(xb->xs));
	rte_intr_type_set(xb->intr, RTE_INTR_HANDLE_EXT);
	rc = rte_intr_callback_register(xb->intr, xnb_xenbus_event, port);
	if (rc < 0)
		goto fail;
	/* Fires once now (the initial fire), again when the dir appears. */
	if (!xs_watch(xb->xs, xb->be, xb->token)) {
		rc = -errno;
		XNB_LOG(ERR, "%s: cannot watch %s: %s", port->name, xb->be,
			strerror(-rc));
		goto fail;
	}
	return 0;
fail:
	xnb_xenbus_fini(port);
	return rc;
}

void
xnb_xenbus_fini(struct xnb_port *port)
{
	struct xnb_xenbus *xb = port->xb;

	if (xb == NULL)
		return;
	/* First stop the callbacks (they take the lock we are about to take). */
	if (xb->intr != NULL) {
		while (rte_intr_callback_unregister(xb->intr, xnb_xenbus_event,
						    port) == -EAGAIN)
			rte_pause();
		rte_intr_instance_free(xb->intr);
	}
	port->on_fatal = NULL;
	rte_eal_alarm_cancel(xnb_xenbus_fatal_cb, port);
	pthread_mutex_lock(&port->lock);
	if (xb->xs != NULL) {
		if (xb->advertised) {
			/* Politely: Closing lets the frontend stop, then Closed. */
			xnb_disconnect(port);
			xnb_xenbus_set_state(port, XenbusStateClosing);
			xnb_xenbus_set_state(port, XenbusStateClosed);
			xs_unwatch(xb->xs, xb->fe_state, xb->fe_token);
		}
		xs_unwatch(xb->xs, xb->be, xb->token);
		xs_close(xb->xs);
	}
	port->xb = NULL;
	pthread_mutex_unlock(&port->lock);
	free(xb);
}
