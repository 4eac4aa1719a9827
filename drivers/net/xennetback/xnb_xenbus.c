/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The xenstore side of the backend: the vif's backend directory, its feature
 * keys and the XenbusState it advertises. Watches are read in the EAL
 * interrupt thread (libxenstore's watch fd registered as an external
 * interrupt), so nothing here runs on a datapath lcore.
 *
 * The toolstack may create the backend directory after the application
 * started: the watch on it fires when it appears, and only then does the
 * backend write its features and go to InitWait, the state libxl waits for.
 *
 * This first version stops at InitWait: connecting the rings on the
 * frontend's Connected is the copy-mode issue's work.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_interrupts.h>
#include <xenstore.h>

#include "xnb_internal.h"

struct xnb_xenbus {
	struct xs_handle *xs;
	struct rte_intr_handle *intr;
	char be[128];		/* backend/vif/<domid>/<handle> */
	char token[96];
	bool advertised;
};

static int
xnb_xs_printf(struct xnb_xenbus *xb, xs_transaction_t t, const char *key,
	      const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
xnb_xs_printf(struct xnb_xenbus *xb, xs_transaction_t t, const char *key,
	      const char *fmt, ...)
{
	char path[192], val[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", xb->be, key);
	return xs_write(xb->xs, t, path, val, n) ? 0 : -errno;
}

/* Features, hotplug status and InitWait, in one transaction. */
static int
xnb_xenbus_advertise(struct xnb_port *port)
{
	struct xnb_xenbus *xb = port->xb;
	xs_transaction_t t;
	int rc;

	do {
		t = xs_transaction_start(xb->xs);
		if (t == XBT_NULL)
			return -errno;
		rc = xnb_xs_printf(xb, t, "feature-sg", "1");
		rc |= xnb_xs_printf(xb, t, "feature-gso-tcpv4", "1");
		rc |= xnb_xs_printf(xb, t, "feature-gso-tcpv6", "1");
		rc |= xnb_xs_printf(xb, t, "feature-ipv6-csum-offload", "1");
		rc |= xnb_xs_printf(xb, t, "feature-rx-copy", "1");
		rc |= xnb_xs_printf(xb, t, "feature-rx-flip", "0");
		rc |= xnb_xs_printf(xb, t, "feature-rx-notify", "1");
		rc |= xnb_xs_printf(xb, t, "feature-split-event-channels", "1");
		rc |= xnb_xs_printf(xb, t, "multi-queue-max-queues", "%u",
				    port->max_queues);
		rc |= xnb_xs_printf(xb, t, "hotplug-status", "connected");
		rc |= xnb_xs_printf(xb, t, "state", "%d", XenbusStateInitWait);
		if (rc != 0) {
			xs_transaction_end(xb->xs, t, true);
			return -EIO;
		}
	} while (!xs_transaction_end(xb->xs, t, false) && errno == EAGAIN);
	return 0;
}

static void
xnb_xenbus_event(void *arg)
{
	struct xnb_port *port = arg;
	struct xnb_xenbus *xb = port->xb;
	char **w;

	while ((w = xs_check_watch(xb->xs)) != NULL) {
		free(w);
		if (xb->advertised)
			continue;
		{
			unsigned int len;
			char path[192];
			char *fe;

			/* The toolstack writes "frontend" among the first keys. */
			snprintf(path, sizeof(path), "%s/frontend", xb->be);
			fe = xs_read(xb->xs, XBT_NULL, path, &len);
			if (fe == NULL)
				continue;
			free(fe);
		}
		if (xnb_xenbus_advertise(port) == 0) {
			xb->advertised = true;
			XNB_LOG(INFO, "%s: %s in InitWait", port->name, xb->be);
		} else {
			XNB_LOG(ERR, "%s: cannot write %s", port->name, xb->be);
		}
	}
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
	if (xb->intr != NULL) {
		while (rte_intr_callback_unregister(xb->intr, xnb_xenbus_event,
						    port) == -EAGAIN)
			;
		rte_intr_instance_free(xb->intr);
	}
	if (xb->xs != NULL) {
		if (xb->advertised)
			xnb_xs_printf(xb, XBT_NULL, "state", "%d", XenbusStateClosed);
		xs_unwatch(xb->xs, xb->be, xb->token);
		xs_close(xb->xs);
	}
	free(xb);
	port->xb = NULL;
}
