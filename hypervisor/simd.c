/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * xnb-simd: the simulated hypervisor's daemon. It owns what Xen owns and a
 * process cannot make for itself: domains (their memory and grant tables as
 * memfds), event-channel ports (an eventfd each) and the xenstore server. It
 * hands these out over a Unix socket with SCM_RIGHTS and stays out of the
 * hot path: grant operations and notifications work on the shared memory.
 *
 *   xnb-simd --dir DIR [--cost hypercall=NS,map=NS,unmap=NS,flush=NS,copy=NS,kib=NS,
 *                              syscall=NS,vma=NS,split=NS,swap=NS]
 *
 * It runs in the foreground, writes DIR/simd.pid when ready, and removes its
 * sockets on SIGTERM/SIGINT.
 */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <xen/io/xenbus.h>

#include "sim_proto.h"
#include "xenstored.h"
#include "xnbsim.h"

#define MAX_CONNS	(2 * XNBSIM_MAX_DOMAINS)	/* a guest's and its backend's */

/* What the daemon keeps per domain, made when the domain is created: its
 * memfds, its event-channel ports (shared, in their own memfd, so a process
 * maps the ports of the domains it talks to and not a table of all), and
 * each port's eventfd and owning connection. */
struct dom_priv {
	int ramfd, gtfd, activefd, portfd;
	struct sim_port *port;
	int *port_efd;
	int *port_owner;	/* conn fd */
};

struct conn {
	int fd;
	int domid;	/* -1 before HELLO */
};

static struct sim_shared *sh;
static struct dom_priv doms[XNBSIM_MAX_DOMAINS];
static struct conn conns[MAX_CONNS];
static int nconns;
static struct xsd *xs;
static const char *dir;
static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int
memfd_sized(const char *name, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, len) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

/* ---- event channels ---------------------------------------------------------- */

static int
port_alloc(int d)
{
	for (int p = 1; p < XNBSIM_EVTCHN_PORTS; p++)
		if (doms[d].port[p].state == SIM_PORT_FREE)
			return p;
	return -ENOSPC;
}

static void
port_set(int d, int p, uint32_t state, uint16_t rd, uint32_t rp)
{
	struct sim_port *sp = &doms[d].port[p];

	sp->remote_dom = rd;
	sp->remote_port = rp;
	__atomic_fetch_add(&sp->gen, 1, __ATOMIC_ACQ_REL);
	__atomic_store_n(&sp->state, state, __ATOMIC_RELEASE);
}

static int
port_open(int d, int owner, uint32_t state, uint16_t rd, uint32_t rp)
{
	int p = port_alloc(d), efd;

	if (p < 0)
		return p;
	efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (efd < 0)
		return -errno;
	doms[d].port_efd[p] = efd;
	doms[d].port_owner[p] = owner;
	doms[d].port[p].flags = 0;
	port_set(d, p, state, rd, rp);
	__atomic_fetch_add(&sh->dom[d].stats.evtchn_bound, 1, __ATOMIC_RELAXED);
	return p;
}

/* EVTCHNOP_close: an interdomain peer falls back to unbound, as on Xen. */
static void
port_close(int d, int p)
{
	struct sim_port *sp = &doms[d].port[p];

	if (sp->state == SIM_PORT_FREE)
		return;
	if (sp->state == SIM_PORT_INTERDOMAIN) {
		int rd = sp->remote_dom, rp = sp->remote_port;

		if (doms[rd].port[rp].state == SIM_PORT_INTERDOMAIN &&
		    doms[rd].port[rp].remote_dom == d &&
		    doms[rd].port[rp].remote_port == (uint32_t)p)
			port_set(rd, rp, SIM_PORT_UNBOUND, d, 0);
	}
	port_set(d, p, SIM_PORT_FREE, 0, 0);
	close(doms[d].port_efd[p]);
	doms[d].port_efd[p] = -1;
	doms[d].port_owner[p] = -1;
	__atomic_fetch_sub(&sh->dom[d].stats.evtchn_bound, 1, __ATOMIC_RELAXED);
}

/* ---- domains -------------------------------------------------------------------- */

static void
dom_free(struct dom_priv *dp)
{
	if (dp->port != NULL)
		munmap(dp->port, SIM_PORT_TABLE_SIZE);
	free(dp->port_efd);
	free(dp->port_owner);
	if (dp->ramfd >= 0)
		close(dp->ramfd);
	if (dp->gtfd >= 0)
		close(dp->gtfd);
	if (dp->activefd >= 0)
		close(dp->activefd);
	if (dp->portfd >= 0)
		close(dp->portfd);
	*dp = (struct dom_priv){ .ramfd = -1, .gtfd = -1, .activefd = -1, .portfd = -1 };
}

/* Domain d's memfds (no RAM or grant table when pages is 0: dom0) and its
 * ports, all free. */
static int
dom_alloc(uint16_t d, uint32_t pages)
{
	struct dom_priv *dp = &doms[d];
	char name[32];
	int rc = 0;

	*dp = (struct dom_priv){ .ramfd = -1, .gtfd = -1, .activefd = -1, .portfd = -1 };
	if (pages > 0) {
		snprintf(name, sizeof(name), "dom%u-ram", d);
		dp->ramfd = memfd_sized(name, (size_t)pages * XNBSIM_PAGE_SIZE);
		snprintf(name, sizeof(name), "dom%u-gnttab", d);
		dp->gtfd = memfd_sized(name, XNBSIM_GNTTAB_ENTRIES * sizeof(grant_entry_v1_t));
		snprintf(name, sizeof(name), "dom%u-active", d);
		dp->activefd = memfd_sized(name, XNBSIM_GNTTAB_ENTRIES *
					   sizeof(struct sim_active));
		rc = dp->ramfd < 0 ? dp->ramfd : dp->gtfd < 0 ? dp->gtfd :
		     dp->activefd < 0 ? dp->activefd : 0;
	}
	snprintf(name, sizeof(name), "dom%u-ports", d);
	dp->portfd = memfd_sized(name, SIM_PORT_TABLE_SIZE);
	if (rc == 0 && dp->portfd < 0)
		rc = dp->portfd;
	if (rc == 0) {
		dp->port = mmap(NULL, SIM_PORT_TABLE_SIZE, PROT_READ | PROT_WRITE,
				MAP_SHARED, dp->portfd, 0);
		dp->port_efd = malloc(sizeof(int) * XNBSIM_EVTCHN_PORTS);
		dp->port_owner = malloc(sizeof(int) * XNBSIM_EVTCHN_PORTS);
		if (dp->port == MAP_FAILED)
			dp->port = NULL;
		if (dp->port == NULL || dp->port_efd == NULL || dp->port_owner == NULL)
			rc = -ENOMEM;
	}
	if (rc < 0) {
		dom_free(dp);
		return rc;
	}
	for (int p = 0; p < XNBSIM_EVTCHN_PORTS; p++)
		dp->port_efd[p] = dp->port_owner[p] = -1;
	return 0;
}

static int
domain_create(uint16_t d, uint32_t pages)
{
	int rc;

	if (d == 0 || d >= XNBSIM_MAX_DOMAINS || pages == 0 || pages > (1u << 22))
		return -EINVAL;
	if (sh->dom[d].state != XNBSIM_DOM_NONE)
		return -EEXIST;
	rc = dom_alloc(d, pages);
	if (rc < 0)
		return rc;
	memset(&sh->dom[d].stats, 0, sizeof(sh->dom[d].stats));
	sh->dom[d].mem_pages = pages;
	__atomic_fetch_add(&sh->dom[d].gen, 1, __ATOMIC_ACQ_REL);
	__atomic_store_n(&sh->dom[d].state, XNBSIM_DOM_RUNNING, __ATOMIC_RELEASE);
	rc = xsd_domain_introduce(xs, d);
	if (rc < 0)
		fprintf(stderr, "xnb-simd: xenstore introduce of dom%u: %s\n", d,
			strerror(-rc));
	return 0;
}

/* Gone when nobody maps its pages any more: only then is its memory freed
 * and its domid free for reuse. */
static void
domain_reap(void)
{
	for (int d = 1; d < XNBSIM_MAX_DOMAINS; d++) {
		if (sh->dom[d].state != XNBSIM_DOM_ZOMBIE ||
		    __atomic_load_n(&sh->dom[d].stats.grants_mapped, __ATOMIC_ACQUIRE) != 0)
			continue;
		dom_free(&doms[d]);
		__atomic_store_n(&sh->dom[d].state, XNBSIM_DOM_NONE, __ATOMIC_RELEASE);
	}
}

static int
domain_destroy(uint16_t d)
{
	if (d == 0 || d >= XNBSIM_MAX_DOMAINS || sh->dom[d].state != XNBSIM_DOM_RUNNING)
		return -ESRCH;
	for (int p = 1; p < XNBSIM_EVTCHN_PORTS; p++)
		port_close(d, p);
	__atomic_store_n(&sh->dom[d].state, XNBSIM_DOM_ZOMBIE, __ATOMIC_RELEASE);
	xsd_domain_release(xs, d);
	domain_reap();
	return 0;
}

static int
vif_paths(uint16_t d, uint32_t h, char *fe, char *be, size_t len)
{
	snprintf(fe, len, "/local/domain/%u/device/vif/%u", d, h);
	snprintf(be, len, "/local/domain/0/backend/vif/%u/%u", d, h);
	return 0;
}

static int
kv(const char *dirpath, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
kv(const char *dirpath, const char *key, const char *fmt, ...)
{
	char path[256], val[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	snprintf(path, sizeof(path), "%s/%s", dirpath, key);
	return xsd_write(xs, path, val);
}

/* What libxl writes for a vif, with the same ownership: the frontend dir
 * belongs to the guest and dom0 may read it, the backend dir the reverse. */
static int
vif_add(uint16_t d, uint32_t h, const char *mac, const char *script)
{
	struct xs_permissions feperm[2] = {
		{ .id = d, .perms = XS_PERM_NONE }, { .id = 0, .perms = XS_PERM_READ } };
	struct xs_permissions beperm[2] = {
		{ .id = 0, .perms = XS_PERM_NONE }, { .id = d, .perms = XS_PERM_READ } };
	char fe[128], be[128], defmac[32];
	int rc = 0;

	if (d == 0 || d >= XNBSIM_MAX_DOMAINS || sh->dom[d].state != XNBSIM_DOM_RUNNING)
		return -ESRCH;
	if (mac[0] == '\0') {
		snprintf(defmac, sizeof(defmac), "00:16:3e:%02x:%02x:%02x", d >> 8,
			 d & 0xff, h & 0xff);
		mac = defmac;
	}
	vif_paths(d, h, fe, be, sizeof(fe));
	rc |= xsd_mkdir(xs, be);
	rc |= xsd_set_perms(xs, be, beperm, 2);
	rc |= kv(be, "frontend", "%s", fe);
	rc |= kv(be, "frontend-id", "%u", d);
	rc |= kv(be, "online", "1");
	rc |= kv(be, "handle", "%u", h);
	rc |= kv(be, "mac", "%s", mac);
	if (script[0] != '\0')
		rc |= kv(be, "script", "%s", script);
	rc |= kv(be, "state", "%d", XenbusStateInitialising);
	rc |= xsd_mkdir(xs, fe);
	rc |= xsd_set_perms(xs, fe, feperm, 2);
	rc |= kv(fe, "backend", "%s", be);
	rc |= kv(fe, "backend-id", "0");
	rc |= kv(fe, "handle", "%u", h);
	rc |= kv(fe, "mac", "%s", mac);
	rc |= kv(fe, "state", "%d", XenbusStateInitialising);
	return rc < 0 ? -EIO : 0;
}

static int
vif_remove(uint16_t d, uint32_t h)
{
	char fe[128], be[128];

	vif_paths(d, h, fe, be, sizeof(fe));
	xsd_rm(xs, be);
	xsd_rm(xs, fe);
	return 0;
}

/* ---- requests ------------------------------------------------------------------------ */

static void
reply(int fd, int rc, uint32_t r1, const int *fds, unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 4)];
		struct cmsghdr align;
	} cm;
	struct sim_rsp rsp = { .rc = rc, .r1 = r1, .nfds = rc == 0 ? nfds : 0 };
	struct iovec iov = { .iov_base = &rsp, .iov_len = sizeof(rsp) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (rsp.nfds > 0) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		msg.msg_control = cm.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	if (sendmsg(fd, &msg, MSG_NOSIGNAL) < 0)
		fprintf(stderr, "xnb-simd: reply: %s\n", strerror(errno));
}

static void
handle(struct conn *c, const struct sim_req *rq, int shfd)
{
	int me = c->domid, fds[4], rc = 0, p;
	uint32_t r1 = 0;
	unsigned int nfds = 0;

	if (rq->op != SIM_HELLO && me < 0) {
		reply(c->fd, -EPROTO, 0, NULL, 0);
		return;
	}
	/* A process whose domain is gone (reaped) has no ports to work on. */
	if (rq->op >= SIM_EVT_ALLOC && rq->op <= SIM_EVT_PEER && doms[me].port == NULL) {
		reply(c->fd, -ESRCH, 0, NULL, 0);
		return;
	}
	switch (rq->op) {
	case SIM_HELLO:
		if (me >= 0 || rq->a0 >= XNBSIM_MAX_DOMAINS ||
		    (rq->a0 != 0 && sh->dom[rq->a0].state != XNBSIM_DOM_RUNNING)) {
			rc = me >= 0 ? -EPROTO : -ESRCH;
			break;
		}
		c->domid = rq->a0;
		fds[nfds++] = shfd;
		fds[nfds++] = doms[rq->a0].portfd;
		if (rq->a0 != 0) {
			fds[nfds++] = doms[rq->a0].ramfd;
			fds[nfds++] = doms[rq->a0].gtfd;
		}
		break;
	case SIM_GET_DOMAIN:
		if (rq->a0 == 0 || rq->a0 >= XNBSIM_MAX_DOMAINS ||
		    sh->dom[rq->a0].state == XNBSIM_DOM_NONE) {
			rc = -ESRCH;
			break;
		}
		r1 = sh->dom[rq->a0].gen;
		fds[nfds++] = doms[rq->a0].ramfd;
		fds[nfds++] = doms[rq->a0].gtfd;
		fds[nfds++] = doms[rq->a0].activefd;
		break;
	case SIM_DOMAIN_CREATE:
		rc = me != 0 ? -EPERM : domain_create(rq->a0, rq->a1);
		break;
	case SIM_DOMAIN_DESTROY:
		rc = me != 0 ? -EPERM : domain_destroy(rq->a0);
		break;
	case SIM_VIF_ADD:
		rc = me != 0 ? -EPERM : vif_add(rq->a0, rq->a1, rq->s0, rq->s1);
		break;
	case SIM_VIF_REMOVE:
		rc = me != 0 ? -EPERM : vif_remove(rq->a0, rq->a1);
		break;
	case SIM_EVT_ALLOC:
		if (rq->a0 >= XNBSIM_MAX_DOMAINS) {
			rc = -EINVAL;
			break;
		}
		p = port_open(me, c->fd, SIM_PORT_UNBOUND, rq->a0, 0);
		if (p < 0) {
			rc = p;
			break;
		}
		r1 = p;
		fds[nfds++] = doms[me].port_efd[p];
		break;
	case SIM_EVT_BIND: {
		struct sim_port *rp;

		if (rq->a0 >= XNBSIM_MAX_DOMAINS || rq->a1 == 0 ||
		    rq->a1 >= XNBSIM_EVTCHN_PORTS ||
		    sh->dom[rq->a0].state != XNBSIM_DOM_RUNNING) {
			rc = rq->a0 < XNBSIM_MAX_DOMAINS &&
			     sh->dom[rq->a0].state != XNBSIM_DOM_RUNNING ? -ESRCH : -EINVAL;
			break;
		}
		rp = &doms[rq->a0].port[rq->a1];
		/* Only a port allocated for us, and not bound yet. */
		if (rp->state != SIM_PORT_UNBOUND || rp->remote_dom != me) {
			rc = -EINVAL;
			break;
		}
		p = port_open(me, c->fd, SIM_PORT_INTERDOMAIN, rq->a0, rq->a1);
		if (p < 0) {
			rc = p;
			break;
		}
		port_set(rq->a0, rq->a1, SIM_PORT_INTERDOMAIN, me, p);
		r1 = p;
		fds[nfds++] = doms[me].port_efd[p];
		break;
	}
	case SIM_EVT_CLOSE:
		if (rq->a0 == 0 || rq->a0 >= XNBSIM_EVTCHN_PORTS ||
		    doms[me].port[rq->a0].state == SIM_PORT_FREE)
			rc = -EINVAL;
		else
			port_close(me, rq->a0);
		break;
	case SIM_EVT_PEER: {
		struct sim_port *lp;

		if (rq->a0 == 0 || rq->a0 >= XNBSIM_EVTCHN_PORTS) {
			rc = -EINVAL;
			break;
		}
		lp = &doms[me].port[rq->a0];
		if (lp->state != SIM_PORT_INTERDOMAIN ||
		    doms[lp->remote_dom].port_efd == NULL ||
		    doms[lp->remote_dom].port_efd[lp->remote_port] < 0) {
			rc = -ENOTCONN;
			break;
		}
		r1 = lp->remote_port;
		fds[nfds++] = doms[lp->remote_dom].port_efd[lp->remote_port];
		fds[nfds++] = doms[lp->remote_dom].portfd;
		break;
	}
	case SIM_COST_SET:
		if (me != 0)
			rc = -EPERM;
		else
			sh->cost = rq->cost;
		break;
	default:
		rc = -EOPNOTSUPP;
	}
	reply(c->fd, rc, r1, fds, nfds);
}

/* A process went away: its ports close, as its evtchn fds would on Xen. */
static void
conn_drop(int i)
{
	int fd = conns[i].fd, d = conns[i].domid;

	/* Its ports are all its domain's (port_open in handle). */
	for (int p = 1; d >= 0 && doms[d].port != NULL && p < XNBSIM_EVTCHN_PORTS; p++)
		if (doms[d].port_owner[p] == fd && doms[d].port[p].state != SIM_PORT_FREE)
			port_close(d, p);
	close(fd);
	conns[i] = conns[--nconns];
}

static int
listen_on(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

static void
usage(void)
{
	fprintf(stderr, "usage: xnb-simd --dir DIR [--cost hypercall=NS,map=NS,"
		"unmap=NS,flush=NS,copy=NS,kib=NS,syscall=NS,vma=NS,split=NS,swap=NS]"
		" [--foreground]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "cost", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct xnbsim_cost cost = { 0 };
	char path[4096];
	struct sigaction sa = { .sa_handler = on_signal };
	struct rlimit nofile;
	int lfd, shfd, o;
	FILE *pf;

	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd':
			dir = optarg;
			break;
		case 'c':
			if (xnbsim_cost_parse(optarg, &cost) < 0) {
				fprintf(stderr, "xnb-simd: bad --cost '%s'\n", optarg);
				return 2;
			}
			break;
		case 'f':
			break;	/* always in the foreground; kept for scripts */
		default:
			usage();
		}
	}
	if (dir == NULL)
		usage();
	mkdir(dir, 0755);
	/* Four memfds, a xenstore socket and two connections per domain, an
	 * eventfd per port: a thousand domains need more than the usual 1024. */
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
		nofile.rlim_cur = nofile.rlim_max;
		setrlimit(RLIMIT_NOFILE, &nofile);
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	shfd = memfd_sized("xnbsim-shared", sizeof(struct sim_shared));
	if (shfd < 0) {
		fprintf(stderr, "xnb-simd: memfd: %s\n", strerror(-shfd));
		return 1;
	}
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED, shfd, 0);
	if (sh == MAP_FAILED) {
		perror("xnb-simd: mmap");
		return 1;
	}
	sh->cost = cost;
	for (int d = 1; d < XNBSIM_MAX_DOMAINS; d++)
		doms[d] = (struct dom_priv){ .ramfd = -1, .gtfd = -1, .activefd = -1,
					     .portfd = -1 };
	o = dom_alloc(0, 0);
	if (o < 0) {
		fprintf(stderr, "xnb-simd: dom0: %s\n", strerror(-o));
		return 1;
	}
	sh->dom[0].state = XNBSIM_DOM_RUNNING;
	sh->dom[0].gen = 1;
	xs = xsd_start(dir);
	if (xs == NULL) {
		fprintf(stderr, "xnb-simd: xenstored: %s\n", strerror(errno));
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, SIM_CONTROL_SOCK);
	lfd = listen_on(path);
	if (lfd < 0) {
		fprintf(stderr, "xnb-simd: %s: %s\n", path, strerror(-lfd));
		xsd_stop(xs);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, SIM_PID_FILE);
	pf = fopen(path, "w");
	if (pf != NULL) {
		fprintf(pf, "%d\n", getpid());
		fclose(pf);
	}

	while (!stop) {
		static struct pollfd pfd[MAX_CONNS + 1];
		int n, npfd = nconns + 1;

		pfd[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < nconns; i++)
			pfd[i + 1] = (struct pollfd){ .fd = conns[i].fd, .events = POLLIN };
		n = poll(pfd, npfd, 50);
		domain_reap();
		if (n <= 0)
			continue;
		if (pfd[0].revents & POLLIN) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0 && nconns < MAX_CONNS)
				conns[nconns++] = (struct conn){ .fd = fd, .domid = -1 };
			else if (fd >= 0)
				close(fd);
		}
		/* Walk backwards: conn_drop moves the last entry into i. */
		for (int i = nconns - 1; i >= 0; i--) {
			struct sim_req rq;
			ssize_t k;
			short ev = 0;

			/* Only the entries polled this round: one just accepted
			 * (at npfd - 1) has none. conns[i] is still the entry
			 * polled in pfd[i + 1]: a drop moves the last entry
			 * into a slot this walk has passed. */
			if (i + 1 < npfd)
				ev = pfd[i + 1].revents;
			if (ev == 0)
				continue;
			/* Never block the daemon on one client. */
			k = recv(conns[i].fd, &rq, sizeof(rq), MSG_DONTWAIT);
			if (k == sizeof(rq))
				handle(&conns[i], &rq, shfd);
			else if (k == 0 || (k < 0 && errno != EINTR && errno != EAGAIN))
				conn_drop(i);
			else if (k > 0)
				reply(conns[i].fd, -EPROTO, 0, NULL, 0);
		}
	}

	snprintf(path, sizeof(path), "%s/%s", dir, SIM_CONTROL_SOCK);
	unlink(path);
	snprintf(path, sizeof(path), "%s/%s", dir, SIM_PID_FILE);
	unlink(path);
	xsd_stop(xs);
	return 0;
}
