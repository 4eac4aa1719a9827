/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The simulator's xenstore server, embedded in xnb-simd. It speaks the real
 * wire protocol (xen/io/xs_wire.h) on Unix sockets so the real libxenstore
 * and Debian's xenstore-* tools work against it: <dir>/xenstored.sock is
 * dom0 (privileged), <dir>/xs-dom<N>.sock is guest N, whose connections are
 * limited to what xenstore permissions give that domain.
 */

#ifndef XNB_XENSTORED_H
#define XNB_XENSTORED_H

#include <stdint.h>

#include <xenstore.h>	/* struct xs_permissions, XS_PERM_* */

struct xsd;

/* Serve <dir>/xenstored.sock as dom0 from a thread of its own. NULL + errno. */
struct xsd *xsd_start(const char *dir);
/* Serve <dir>/xs-dom<domid>.sock as that domain; create /local/domain/<domid>
 * owned by it; fire @introduceDomain. */
int xsd_domain_introduce(struct xsd *x, uint16_t domid);
/* Close that domain's connections and socket, drop its watches and
 * transactions, remove /local/domain/<domid>, fire @releaseDomain. */
int xsd_domain_release(struct xsd *x, uint16_t domid);
/* Operations as dom0 from inside the daemon; they fire watches. */
int xsd_write(struct xsd *x, const char *path, const char *value);
int xsd_mkdir(struct xsd *x, const char *path);
int xsd_rm(struct xsd *x, const char *path);
int xsd_set_perms(struct xsd *x, const char *path,
		  const struct xs_permissions *perms, unsigned int n);
/* Stop serving, close everything, unlink the sockets. */
void xsd_stop(struct xsd *x);

#endif /* XNB_XENSTORED_H */
