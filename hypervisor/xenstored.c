/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The simulator's xenstored (see xenstored.h): the real wire protocol on Unix
 * sockets, so the real libxenstore and Debian's xenstore-* tools are the
 * clients, and the driver's xenbus code is the code that runs on Xen.
 *
 * One thread polls the listening sockets and the connections; the daemon's
 * own calls (xsd_write and friends) take the same lock. Transactions work on
 * a private copy of the tree and commit only if nothing changed meanwhile
 * (EAGAIN otherwise, which every xenstore client retries): coarser than
 * C xenstored's per-node check, but the same contract.
 *
 * For tests, dom0 may arm one toolstack race with the XS_CONTROL command
 * "xnb-rm-after-read" READ RM (Xen's xenstore-control sends it): right after
 * it answers the next plain read of READ, the daemon removes RM, so the
 * reader's next request already sees the removal, as when a toolstack
 * removes a directory between two reads of a backend. "xnb-watches" DOMID
 * answers the number of watches each connection of that domain holds, one
 * number per connection: how tests see that a backend does not add a watch
 * per guest connection.
 */

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <xen/io/xs_wire.h>

#include "xenstored.h"
#include "xnbsim.h"

#define XSD_MAX_CONNS		(2 * XNBSIM_MAX_DOMAINS)	/* a guest's and its backend's */
#define XSD_MAX_DOMS		XNBSIM_MAX_DOMAINS
#define XSD_MAX_TX_PER_CONN	10	/* xenstored's default quota */
#define XSD_MAX_WATCHES		128

struct xnode {
	char *name;
	char *value;
	unsigned int vlen;
	struct xs_permissions *perms;
	unsigned int nperms;
	struct xnode *parent, *child, *next;
};

struct xwatch {
	char *path;	/* as given: relative paths fire relative */
	char *token;
};

struct xtx {
	uint32_t id;
	uint64_t base_gen;
	struct xnode *root;
	char **changed;
	unsigned int nchanged;
};

struct xconn {
	int fd;
	uint16_t domid;
	bool dead;
	char in[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];
	size_t inlen;
	char *out;
	size_t outlen, outcap;
	struct xwatch watch[XSD_MAX_WATCHES];
	unsigned int nwatch;
	struct xtx tx[XSD_MAX_TX_PER_CONN];
	unsigned int ntx;
	uint32_t next_tx;
};

struct xsd {
	char dir[256];
	pthread_t thread;
	pthread_mutex_t lock;
	volatile bool stop;
	struct xnode *root;
	uint64_t gen;
	int lfd[XSD_MAX_DOMS];		/* listening socket per domain, -1 */
	struct xconn *conn[XSD_MAX_CONNS];
	unsigned int nconn;
	char *race_read, *race_rm;	/* xnb-rm-after-read, armed */
};

/* ---- the tree -------------------------------------------------------------- */

static struct xnode *
node_new(const char *name, struct xnode *parent)
{
	struct xnode *n = calloc(1, sizeof(*n));

	n->name = strdup(name);
	n->value = strdup("");
	n->parent = parent;
	if (parent != NULL) {
		n->nperms = parent->nperms;
		n->perms = malloc(sizeof(*n->perms) * n->nperms);
		memcpy(n->perms, parent->perms, sizeof(*n->perms) * n->nperms);
		n->next = parent->child;
		parent->child = n;
	} else {
		n->nperms = 1;
		n->perms = calloc(1, sizeof(*n->perms));
	}
	return n;
}

static void
node_free(struct xnode *n)
{
	while (n->child != NULL) {
		struct xnode *c = n->child;

		n->child = c->next;
		node_free(c);
	}
	free(n->name);
	free(n->value);
	free(n->perms);
	free(n);
}

static struct xnode *
node_copy(const struct xnode *n, struct xnode *parent)
{
	struct xnode *c = calloc(1, sizeof(*c));
	struct xnode **tail = &c->child;

	c->name = strdup(n->name);
	c->value = malloc(n->vlen + 1);
	memcpy(c->value, n->value, n->vlen + 1);
	c->vlen = n->vlen;
	c->nperms = n->nperms;
	c->perms = malloc(sizeof(*c->perms) * n->nperms);
	memcpy(c->perms, n->perms, sizeof(*c->perms) * n->nperms);
	c->parent = parent;
	for (const struct xnode *k = n->child; k != NULL; k = k->next) {
		*tail = node_copy(k, c);
		tail = &(*tail)->next;
	}
	return c;
}

static struct xnode *
child_find(const struct xnode *n, const char *name, size_t len)
{
	for (struct xnode *c = n->child; c != NULL; c = c->next)
		if (strlen(c->name) == len && memcmp(c->name, name, len) == 0)
			return c;
	return NULL;
}

/* Walk an absolute path; *deepest gets the last node that exists. */
static struct xnode *
node_lookup(struct xnode *root, const char *path, struct xnode **deepest)
{
	struct xnode *n = root;
	const char *p = path + 1;

	if (deepest != NULL)
		*deepest = root;
	while (*p != '\0') {
		const char *e = strchrnul(p, '/');

		n = child_find(n, p, e - p);
		if (n == NULL)
			return NULL;
		if (deepest != NULL)
			*deepest = n;
		p = *e ? e + 1 : e;
	}
	return n;
}

/* ---- permissions -------------------------------------------------------------- */

static unsigned int
perm_of(const struct xnode *n, uint16_t domid)
{
	if (domid == 0 || n->perms[0].id == domid)
		return XS_PERM_READ | XS_PERM_WRITE;
	for (unsigned int i = 1; i < n->nperms; i++)
		if (n->perms[i].id == domid)
			return n->perms[i].perms;
	return n->perms[0].perms;
}

static bool
may(const struct xnode *n, uint16_t domid, unsigned int want)
{
	return (perm_of(n, domid) & want) == want;
}

/* ---- paths -------------------------------------------------------------------- */

static bool
path_valid(const char *p)
{
	size_t len = strlen(p);

	if (len == 0 || len > XENSTORE_ABS_PATH_MAX)
		return false;
	if (strstr(p, "//") != NULL || (len > 1 && p[len - 1] == '/'))
		return false;
	for (const char *c = p; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || strchr("/_@-", *c) != NULL))
			return false;
	return true;
}

/* Relative paths are under the connection's domain, as in xenstored. */
static char *
path_abs(const struct xconn *c, const char *p)
{
	char *abs;

	if (!path_valid(p))
		return NULL;
	if (p[0] == '/' || p[0] == '@')
		return strdup(p);
	if (asprintf(&abs, "/local/domain/%u/%s", c->domid, p) < 0)
		return NULL;
	return path_valid(abs) ? abs : (free(abs), NULL);
}

/* ---- output and watches ---------------------------------------------------------- */

static void
conn_send(struct xconn *c, uint32_t type, uint32_t req_id, uint32_t tx_id,
	  const void *payload, uint32_t len)
{
	struct xsd_sockmsg h = { .type = type, .req_id = req_id, .tx_id = tx_id,
				 .len = len };
	size_t need = c->outlen + sizeof(h) + len;

	if (c->dead)
		return;
	if (need > c->outcap) {
		c->outcap = need * 2;
		c->out = realloc(c->out, c->outcap);
	}
	memcpy(c->out + c->outlen, &h, sizeof(h));
	memcpy(c->out + c->outlen + sizeof(h), payload, len);
	c->outlen = need;
}

static void
conn_flush(struct xconn *c)
{
	while (c->outlen > 0 && !c->dead) {
		ssize_t n = send(c->fd, c->out, c->outlen, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				c->dead = true;
			return;
		}
		memmove(c->out, c->out + n, c->outlen - n);
		c->outlen -= n;
	}
}

static void
watch_event(struct xconn *c, const struct xwatch *w, const char *abspath)
{
	char buf[XENSTORE_PAYLOAD_MAX];
	const char *shown = abspath;
	char prefix[64];
	int n;

	/* A relative watch sees relative paths. */
	snprintf(prefix, sizeof(prefix), "/local/domain/%u/", c->domid);
	if (w->path[0] != '/' && w->path[0] != '@' &&
	    strncmp(abspath, prefix, strlen(prefix)) == 0)
		shown = abspath + strlen(prefix);
	n = snprintf(buf, sizeof(buf), "%s%c%s", shown, 0, w->token);
	if (n > 0 && (size_t)n < sizeof(buf))
		conn_send(c, XS_WATCH_EVENT, 0, 0, buf, n + 1);
}

static bool
path_related(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la <= lb)
		return strncmp(a, b, la) == 0 && (b[la] == '/' || b[la] == '\0' || la == 1);
	return strncmp(a, b, lb) == 0 && (a[lb] == '/' || lb == 1);
}

/* A change at path fires watches on it, its ancestors and (for removal)
 * its descendants, for connections allowed to read it. */
static void
fire(struct xsd *x, const char *path)
{
	struct xnode *deepest;

	if (path[0] != '@')
		node_lookup(x->root, path, &deepest);
	for (unsigned int i = 0; i < x->nconn; i++) {
		struct xconn *c = x->conn[i];

		for (unsigned int k = 0; k < c->nwatch; k++) {
			char *wabs = path_abs(c, c->watch[k].path);

			if (wabs == NULL)
				continue;
			if (path[0] == '@' ? strcmp(wabs, path) == 0 :
			    (wabs[0] != '@' && path_related(wabs, path) &&
			     may(deepest, c->domid, XS_PERM_READ)))
				watch_event(c, &c->watch[k], path);
			free(wabs);
		}
	}
}

/* ---- operations ---------------------------------------------------------------- */

static struct xtx *
tx_find(struct xconn *c, uint32_t id)
{
	for (unsigned int i = 0; i < c->ntx; i++)
		if (c->tx[i].id == id)
			return &c->tx[i];
	return NULL;
}

static void
changed(struct xsd *x, struct xtx *t, const char *path)
{
	if (t != NULL) {
		t->changed = realloc(t->changed, sizeof(char *) * (t->nchanged + 1));
		t->changed[t->nchanged++] = strdup(path);
	} else {
		x->gen++;
		fire(x, path);
	}
}

/* Create path and missing parents; new nodes inherit the parent's
 * permissions with the creating guest as owner. */
static int
do_create(struct xnode *root, const char *path, uint16_t domid, struct xnode **out)
{
	struct xnode *deepest, *n = node_lookup(root, path, &deepest);
	const char *p;

	if (n != NULL) {
		if (!may(n, domid, XS_PERM_WRITE))
			return -EACCES;
		*out = n;
		return 0;
	}
	if (!may(deepest, domid, XS_PERM_WRITE))
		return -EACCES;
	n = root;
	p = path + 1;
	while (*p != '\0') {
		const char *e = strchrnul(p, '/');
		struct xnode *c = child_find(n, p, e - p);

		if (c == NULL) {
			char name[XENSTORE_ABS_PATH_MAX + 1];

			memcpy(name, p, e - p);
			name[e - p] = '\0';
			c = node_new(name, n);
			if (domid != 0)
				c->perms[0].id = domid;
		}
		n = c;
		p = *e ? e + 1 : e;
	}
	*out = n;
	return 0;
}

static int
do_rm(struct xnode *root, const char *path, uint16_t domid)
{
	struct xnode *n = node_lookup(root, path, NULL), **pp;

	if (n == NULL)
		return -ENOENT;
	if (n == root || !may(n, domid, XS_PERM_WRITE))
		return -EACCES;
	for (pp = &n->parent->child; *pp != n; pp = &(*pp)->next)
		;
	*pp = n->next;
	node_free(n);
	return 0;
}

/* The armed removal, once, after a reply to a read of race_read. */
static void
race_fire(struct xsd *x)
{
	if (do_rm(x->root, x->race_rm, 0) == 0)
		changed(x, NULL, x->race_rm);
	free(x->race_read);
	free(x->race_rm);
	x->race_read = x->race_rm = NULL;
}

static int
do_set_perms(struct xnode *n, uint16_t domid, const struct xs_permissions *p,
	     unsigned int np)
{
	if (np == 0)
		return -EINVAL;
	if (domid != 0 && n->perms[0].id != domid)
		return -EACCES;
	free(n->perms);
	n->perms = malloc(sizeof(*p) * np);
	memcpy(n->perms, p, sizeof(*p) * np);
	n->nperms = np;
	return 0;
}

static const char *
err_name(int err)
{
	for (unsigned int i = 0; i < sizeof(xsd_errors) / sizeof(xsd_errors[0]); i++)
		if (xsd_errors[i].errnum == err)
			return xsd_errors[i].errstring;
	return "EINVAL";
}

static void
reply_err(struct xconn *c, const struct xsd_sockmsg *h, int err)
{
	const char *s = err_name(err);

	conn_send(c, XS_ERROR, h->req_id, h->tx_id, s, strlen(s) + 1);
}

static void
reply_ok(struct xconn *c, const struct xsd_sockmsg *h)
{
	conn_send(c, h->type, h->req_id, h->tx_id, "OK", 3);
}

/* Count the nul-terminated fields of a payload; -1 if the last is not. */
static int
fields(const char *p, uint32_t len, const char **f, int max)
{
	int n = 0;
	uint32_t i = 0;

	while (i < len && n < max) {
		const char *e = memchr(p + i, '\0', len - i);

		if (e == NULL)
			return -1;
		f[n++] = p + i;
		i = e - p + 1;
	}
	return n;
}

static void
op_tx_end(struct xsd *x, struct xconn *c, const struct xsd_sockmsg *h,
	  const char *arg)
{
	struct xtx *t = tx_find(c, h->tx_id);
	unsigned int i;

	if (t == NULL) {
		reply_err(c, h, ENOENT);
		return;
	}
	if (strcmp(arg, "T") == 0 && t->base_gen != x->gen) {
		reply_err(c, h, EAGAIN);
	} else {
		if (strcmp(arg, "T") == 0) {
			node_free(x->root);
			x->root = t->root;
			t->root = NULL;
			x->gen++;
			for (i = 0; i < t->nchanged; i++)
				fire(x, t->changed[i]);
		}
		conn_send(c, h->type, h->req_id, 0, "OK", 3);
	}
	if (t->root != NULL)
		node_free(t->root);
	for (i = 0; i < t->nchanged; i++)
		free(t->changed[i]);
	free(t->changed);
	*t = c->tx[--c->ntx];
}

static void
handle_msg(struct xsd *x, struct xconn *c, const struct xsd_sockmsg *h,
	   const char *body)
{
	const char *f[3];
	struct xtx *t = NULL;
	struct xnode *root = x->root, *n;
	char *path = NULL, buf[XENSTORE_PAYLOAD_MAX];
	int nf, rc = 0, len = 0;

	if (h->tx_id != 0 && h->type != XS_TRANSACTION_START) {
		t = tx_find(c, h->tx_id);
		if (t == NULL) {
			reply_err(c, h, ENOENT);
			return;
		}
		root = t->root;
	}
	nf = fields(body, h->len, f, 3);
	switch (h->type) {
	case XS_READ:
	case XS_DIRECTORY:
	case XS_GET_PERMS:
	case XS_RM:
	case XS_MKDIR:
		if (nf < 1 || (path = path_abs(c, f[0])) == NULL || path[0] == '@') {
			rc = -EINVAL;
			break;
		}
		n = node_lookup(root, path, NULL);
		if (h->type == XS_MKDIR) {
			if (n == NULL && (rc = do_create(root, path, c->domid, &n)) == 0)
				changed(x, t, path);
			else if (n != NULL && !may(n, c->domid, XS_PERM_WRITE))
				rc = -EACCES;
			if (rc == 0)
				reply_ok(c, h);
			break;
		}
		if (h->type == XS_RM) {
			if ((rc = do_rm(root, path, c->domid)) == 0) {
				changed(x, t, path);
				reply_ok(c, h);
			}
			break;
		}
		if (n == NULL) {
			rc = -ENOENT;
			break;
		}
		if (!may(n, c->domid, XS_PERM_READ)) {
			rc = -EACCES;
			break;
		}
		if (h->type == XS_READ) {
			conn_send(c, h->type, h->req_id, h->tx_id, n->value, n->vlen);
			if (t == NULL && x->race_read != NULL &&
			    strcmp(path, x->race_read) == 0)
				race_fire(x);
			break;
		}
		if (h->type == XS_DIRECTORY) {
			for (struct xnode *k = n->child; k != NULL; k = k->next) {
				int l = strlen(k->name) + 1;

				if (len + l > (int)sizeof(buf)) {
					rc = -E2BIG;
					break;
				}
				memcpy(buf + len, k->name, l);
				len += l;
			}
		} else {
			for (unsigned int i = 0; i < n->nperms; i++) {
				unsigned int p = n->perms[i].perms & 3;
				char k = p == 3 ? 'b' : p == 2 ? 'w' : p == 1 ? 'r' : 'n';

				len += snprintf(buf + len, sizeof(buf) - len, "%c%u", k,
						n->perms[i].id) + 1;
			}
		}
		if (rc == 0)
			conn_send(c, h->type, h->req_id, h->tx_id, buf, len);
		break;
	case XS_WRITE: {
		const char *nul = memchr(body, '\0', h->len);
		uint32_t vlen;

		if (nul == NULL || (path = path_abs(c, body)) == NULL || path[0] == '@') {
			rc = -EINVAL;
			break;
		}
		vlen = h->len - (nul + 1 - body);
		if ((rc = do_create(root, path, c->domid, &n)) != 0)
			break;
		free(n->value);
		n->value = malloc(vlen + 1);
		memcpy(n->value, nul + 1, vlen);
		n->value[vlen] = '\0';
		n->vlen = vlen;
		changed(x, t, path);
		reply_ok(c, h);
		break;
	}
	case XS_SET_PERMS: {
		struct xs_permissions p[32];
		unsigned int np = 0;
		uint32_t i;

		if (nf < 1 || (path = path_abs(c, body)) == NULL || path[0] == '@') {
			rc = -EINVAL;
			break;
		}
		for (i = strlen(body) + 1; i < h->len && np < 32; np++) {
			const char *s = body + i, *e = memchr(s, '\0', h->len - i);
			char *end;

			if (e == NULL || !strchr("nrwb", s[0])) {
				rc = -EINVAL;
				break;
			}
			p[np].perms = s[0] == 'b' ? 3 : s[0] == 'w' ? 2 : s[0] == 'r' ? 1 : 0;
			p[np].id = strtoul(s + 1, &end, 10);
			if (end != e) {
				rc = -EINVAL;
				break;
			}
			i = e - body + 1;
		}
		if (rc != 0)
			break;
		n = node_lookup(root, path, NULL);
		if (n == NULL)
			rc = -ENOENT;
		else if ((rc = do_set_perms(n, c->domid, p, np)) == 0) {
			changed(x, t, path);
			reply_ok(c, h);
		}
		break;
	}
	case XS_WATCH:
	case XS_UNWATCH:
		if (nf < 2 || (path = path_abs(c, f[0])) == NULL) {
			rc = -EINVAL;
			break;
		}
		if (h->type == XS_UNWATCH) {
			unsigned int k;

			for (k = 0; k < c->nwatch; k++)
				if (!strcmp(c->watch[k].path, f[0]) &&
				    !strcmp(c->watch[k].token, f[1]))
					break;
			if (k == c->nwatch) {
				rc = -ENOENT;
				break;
			}
			free(c->watch[k].path);
			free(c->watch[k].token);
			c->watch[k] = c->watch[--c->nwatch];
			reply_ok(c, h);
			break;
		}
		if (c->nwatch == XSD_MAX_WATCHES) {
			rc = -E2BIG;
			break;
		}
		c->watch[c->nwatch].path = strdup(f[0]);
		c->watch[c->nwatch].token = strdup(f[1]);
		reply_ok(c, h);
		/* The initial fire, which clients rely on to read state. */
		watch_event(c, &c->watch[c->nwatch++], path);
		break;
	case XS_TRANSACTION_START:
		if (c->ntx == XSD_MAX_TX_PER_CONN) {
			rc = -ENOSPC;	/* EQUOTA in xenstored; libxenstore maps errno */
			break;
		}
		t = &c->tx[c->ntx++];
		memset(t, 0, sizeof(*t));
		t->id = ++c->next_tx;
		t->base_gen = x->gen;
		t->root = node_copy(x->root, NULL);
		len = snprintf(buf, sizeof(buf), "%u", t->id) + 1;
		conn_send(c, h->type, h->req_id, 0, buf, len);
		break;
	case XS_TRANSACTION_END:
		if (nf < 1) {
			rc = -EINVAL;
			break;
		}
		op_tx_end(x, c, h, f[0]);
		break;
	case XS_GET_DOMAIN_PATH:
		if (nf < 1) {
			rc = -EINVAL;
			break;
		}
		len = snprintf(buf, sizeof(buf), "/local/domain/%s", f[0]) + 1;
		conn_send(c, h->type, h->req_id, h->tx_id, buf, len);
		break;
	case XS_IS_DOMAIN_INTRODUCED: {
		unsigned long d = nf >= 1 ? strtoul(f[0], NULL, 10) : XSD_MAX_DOMS;

		conn_send(c, h->type, h->req_id, h->tx_id,
			  d == 0 || (d < XSD_MAX_DOMS && x->lfd[d] >= 0) ? "T" : "F", 2);
		break;
	}
	case XS_RESET_WATCHES:
		for (unsigned int k = 0; k < c->nwatch; k++) {
			free(c->watch[k].path);
			free(c->watch[k].token);
		}
		c->nwatch = 0;
		reply_ok(c, h);
		break;
	case XS_CONTROL:
		if (nf >= 1 && strcmp(f[0], "xnb-rm-after-read") == 0) {
			if (c->domid != 0) {
				rc = -EACCES;
				break;
			}
			if (nf < 3 || !path_valid(f[1]) || f[1][0] != '/' ||
			    !path_valid(f[2]) || f[2][0] != '/') {
				rc = -EINVAL;
				break;
			}
			free(x->race_read);
			free(x->race_rm);
			x->race_read = strdup(f[1]);
			x->race_rm = strdup(f[2]);
		} else if (nf >= 2 && strcmp(f[0], "xnb-watches") == 0) {
			unsigned long d = strtoul(f[1], NULL, 10);

			if (c->domid != 0) {
				rc = -EACCES;
				break;
			}
			for (unsigned int i = 0; i < x->nconn; i++)
				if (x->conn[i]->domid == d)
					len += snprintf(buf + len, sizeof(buf) - len, "%s%u",
							len > 0 ? " " : "", x->conn[i]->nwatch);
			conn_send(c, h->type, h->req_id, h->tx_id, buf, len + 1);
			break;
		}
		reply_ok(c, h);
		break;
	default:
		/* Domain management goes through the daemon, not the socket. */
		rc = c->domid == 0 ? -EINVAL : -EACCES;
	}
	if (rc < 0)
		reply_err(c, h, -rc);
	free(path);
}

/* ---- connections ------------------------------------------------------------------- */

static void
conn_read(struct xsd *x, struct xconn *c)
{
	ssize_t n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen, MSG_DONTWAIT);

	if (n <= 0) {
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			c->dead = true;
		return;
	}
	c->inlen += n;
	while (c->inlen >= sizeof(struct xsd_sockmsg)) {
		struct xsd_sockmsg h;
		size_t total;

		memcpy(&h, c->in, sizeof(h));
		if (h.len > XENSTORE_PAYLOAD_MAX || h.type >= XS_TYPE_COUNT) {
			c->dead = true;	/* a broken or hostile client */
			return;
		}
		total = sizeof(h) + h.len;
		if (c->inlen < total)
			return;
		handle_msg(x, c, &h, c->in + sizeof(h));
		memmove(c->in, c->in + total, c->inlen - total);
		c->inlen -= total;
	}
}

static void
conn_free(struct xconn *c)
{
	for (unsigned int k = 0; k < c->nwatch; k++) {
		free(c->watch[k].path);
		free(c->watch[k].token);
	}
	for (unsigned int i = 0; i < c->ntx; i++) {
		node_free(c->tx[i].root);
		for (unsigned int k = 0; k < c->tx[i].nchanged; k++)
			free(c->tx[i].changed[k]);
		free(c->tx[i].changed);
	}
	close(c->fd);
	free(c->out);
	free(c);
}

static void *
xsd_main(void *arg)
{
	struct xsd *x = arg;

	while (!x->stop) {
		/* One thread: static rather than 100 KB of its stack. */
		static struct pollfd pfd[XSD_MAX_DOMS + XSD_MAX_CONNS];
		static int dom[XSD_MAX_DOMS];
		int nl = 0, n;

		pthread_mutex_lock(&x->lock);
		for (int d = 0; d < XSD_MAX_DOMS; d++)
			if (x->lfd[d] >= 0) {
				dom[nl] = d;
				pfd[nl++] = (struct pollfd){ .fd = x->lfd[d], .events = POLLIN };
			}
		for (unsigned int i = 0; i < x->nconn; i++)
			pfd[nl + i] = (struct pollfd){ .fd = x->conn[i]->fd,
				.events = POLLIN | (x->conn[i]->outlen ? POLLOUT : 0) };
		n = nl + x->nconn;
		pthread_mutex_unlock(&x->lock);
		/* Short timeout: the daemon's calls add sockets and output. */
		if (poll(pfd, n, 20) < 0)
			continue;
		pthread_mutex_lock(&x->lock);
		for (int i = 0; i < nl; i++) {
			int fd;

			if (!(pfd[i].revents & POLLIN) || x->lfd[dom[i]] != pfd[i].fd)
				continue;
			fd = accept4(pfd[i].fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
			if (fd < 0)
				continue;
			if (x->nconn == XSD_MAX_CONNS) {
				close(fd);
				continue;
			}
			x->conn[x->nconn] = calloc(1, sizeof(struct xconn));
			x->conn[x->nconn]->fd = fd;
			x->conn[x->nconn]->domid = dom[i];
			x->nconn++;
		}
		/* conn[k] is the connection polled in pfd[nl + k]: only this
		 * thread adds (at the end, just above) and removes (below). */
		for (unsigned int k = 0; k < (unsigned int)(n - nl); k++)
			if (pfd[nl + k].revents & (POLLIN | POLLHUP | POLLERR))
				conn_read(x, x->conn[k]);
		for (unsigned int k = 0; k < x->nconn;) {
			conn_flush(x->conn[k]);
			if (x->conn[k]->dead) {
				conn_free(x->conn[k]);
				x->conn[k] = x->conn[--x->nconn];
			} else {
				k++;
			}
		}
		pthread_mutex_unlock(&x->lock);
	}
	return NULL;
}

static int
listen_dom(struct xsd *x, uint16_t domid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char path[512];
	int fd;

	if (domid == 0)
		snprintf(path, sizeof(path), "%s/xenstored.sock", x->dir);
	else
		snprintf(path, sizeof(path), "%s/xs-dom%u.sock", x->dir, domid);
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	unlink(sa.sun_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		int err = errno;

		close(fd);
		return -err;
	}
	x->lfd[domid] = fd;
	return 0;
}

/* ---- the daemon's API ------------------------------------------------------------------- */

struct xsd *
xsd_start(const char *dir)
{
	struct xsd *x = calloc(1, sizeof(*x));
	struct xnode *n;
	int rc;

	if (x == NULL)
		return NULL;
	snprintf(x->dir, sizeof(x->dir), "%s", dir);
	pthread_mutex_init(&x->lock, NULL);
	for (int d = 0; d < XSD_MAX_DOMS; d++)
		x->lfd[d] = -1;
	x->root = node_new("", NULL);
	do_create(x->root, "/local/domain/0", 0, &n);
	do_create(x->root, "/tool", 0, &n);
	rc = listen_dom(x, 0);
	if (rc < 0 || pthread_create(&x->thread, NULL, xsd_main, x) != 0) {
		node_free(x->root);
		free(x);
		errno = rc < 0 ? -rc : EAGAIN;
		return NULL;
	}
	return x;
}

int
xsd_domain_introduce(struct xsd *x, uint16_t domid)
{
	struct xs_permissions p = { .id = domid, .perms = XS_PERM_NONE };
	char path[64];
	struct xnode *n;
	int rc;

	if (domid == 0 || domid >= XSD_MAX_DOMS)
		return -EINVAL;
	pthread_mutex_lock(&x->lock);
	rc = x->lfd[domid] >= 0 ? -EEXIST : listen_dom(x, domid);
	if (rc == 0) {
		snprintf(path, sizeof(path), "/local/domain/%u", domid);
		do_create(x->root, path, 0, &n);
		do_set_perms(n, 0, &p, 1);
		changed(x, NULL, path);
		fire(x, "@introduceDomain");
	}
	pthread_mutex_unlock(&x->lock);
	return rc;
}

int
xsd_domain_release(struct xsd *x, uint16_t domid)
{
	char path[300];

	if (domid == 0 || domid >= XSD_MAX_DOMS)
		return -EINVAL;
	pthread_mutex_lock(&x->lock);
	if (x->lfd[domid] < 0) {
		pthread_mutex_unlock(&x->lock);
		return -ENOENT;
	}
	close(x->lfd[domid]);
	x->lfd[domid] = -1;
	snprintf(path, sizeof(path), "%s/xs-dom%u.sock", x->dir, domid);
	unlink(path);
	for (unsigned int k = 0; k < x->nconn; k++)
		if (x->conn[k]->domid == domid)
			x->conn[k]->dead = true;
	snprintf(path, sizeof(path), "/local/domain/%u", domid);
	if (do_rm(x->root, path, 0) == 0)
		changed(x, NULL, path);
	fire(x, "@releaseDomain");
	pthread_mutex_unlock(&x->lock);
	return 0;
}

/* Creates path as dom0 (and its parents), then sets its value unless value
 * is NULL; the watches fire. */
static int
xsd_create(struct xsd *x, const char *path, const char *value)
{
	struct xnode *n;
	int rc;

	if (!path_valid(path) || path[0] != '/')
		return -EINVAL;
	pthread_mutex_lock(&x->lock);
	rc = do_create(x->root, path, 0, &n);
	if (rc == 0) {
		if (value != NULL) {
			free(n->value);
			n->value = strdup(value);
			n->vlen = strlen(value);
		}
		changed(x, NULL, path);
	}
	pthread_mutex_unlock(&x->lock);
	return rc;
}

int
xsd_write(struct xsd *x, const char *path, const char *value)
{
	return xsd_create(x, path, value);
}

int
xsd_mkdir(struct xsd *x, const char *path)
{
	return xsd_create(x, path, NULL);
}

int
xsd_rm(struct xsd *x, const char *path)
{
	int rc;

	if (!path_valid(path) || path[0] != '/')
		return -EINVAL;
	pthread_mutex_lock(&x->lock);
	rc = do_rm(x->root, path, 0);
	if (rc == 0)
		changed(x, NULL, path);
	pthread_mutex_unlock(&x->lock);
	return rc;
}

int
xsd_set_perms(struct xsd *x, const char *path, const struct xs_permissions *perms,
	      unsigned int n)
{
	struct xnode *node;
	int rc;

	pthread_mutex_lock(&x->lock);
	node = path_valid(path) && path[0] == '/' ? node_lookup(x->root, path, NULL) : NULL;
	rc = node == NULL ? -ENOENT : do_set_perms(node, 0, perms, n);
	if (rc == 0)
		changed(x, NULL, path);
	pthread_mutex_unlock(&x->lock);
	return rc;
}

void
xsd_stop(struct xsd *x)
{
	char path[300];

	if (x == NULL)
		return;
	x->stop = true;
	pthread_join(x->thread, NULL);
	for (unsigned int k = 0; k < x->nconn; k++)
		conn_free(x->conn[k]);
	for (int d = 0; d < XSD_MAX_DOMS; d++) {
		if (x->lfd[d] < 0)
			continue;
		close(x->lfd[d]);
		if (d == 0)
			snprintf(path, sizeof(path), "%s/xenstored.sock", x->dir);
		else
			snprintf(path, sizeof(path), "%s/xs-dom%d.sock", x->dir, d);
		unlink(path);
	}
	node_free(x->root);
	free(x->race_read);
	free(x->race_rm);
	free(x);
}
