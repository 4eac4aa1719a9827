/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * What a guest asked the backend to do to the frames it is sent (Linux
 * netback's hash.c and its multicast list): hash them with the key and
 * types its control ring set (xnb_ctrl.c), which steers them to its queues
 * and goes with them as an extra, and let through only the multicast
 * groups it subscribed to. The guest writes this state from one thread at a
 * time (the control ring's handler, an rx burst); tx bursts on any lcore
 * read it.
 */

#define XEN_NETIF_DEFINE_TOEPLITZ	/* netif.h's reference Toeplitz hash */

#include <string.h>

#include <rte_ip.h>
#include <rte_net.h>

#include "xnb_internal.h"

/* The hash state under a seqlock: one writer at a time (the control ring's
 * handler, or the disconnect once that handler is gone), readers in any
 * tx burst. */
void
xnb_hash_get(struct xnb_port *port, struct xnb_hash *h)
{
	uint32_t s0, s1;

	do {
		s0 = __atomic_load_n(&port->hash_seq, __ATOMIC_ACQUIRE);
		memcpy(h, &port->hash, sizeof(*h));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s1 = __atomic_load_n(&port->hash_seq, __ATOMIC_RELAXED);
	} while ((s0 & 1) || s0 != s1);
}

void
xnb_hash_set(struct xnb_port *port, const struct xnb_hash *h)
{
	__atomic_fetch_add(&port->hash_seq, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(&port->hash, h, sizeof(*h));
	__atomic_fetch_add(&port->hash_seq, 1, __ATOMIC_RELEASE);
}

/* What a hash reads of each IP version: its source and destination
 * addresses (adjacent in the header), and the hash types (netif.h's
 * _XEN_NETIF_CTRL_HASH_TYPE_*) with and without the TCP ports. */
struct xnb_hash_l3 {
	uint16_t hdr_len, addr_off, addr_len;
	uint8_t type_tcp, type;
};

static const struct xnb_hash_l3 xnb_hash_ipv4 = {
	sizeof(struct rte_ipv4_hdr), offsetof(struct rte_ipv4_hdr, src_addr), 8,
	_XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP, _XEN_NETIF_CTRL_HASH_TYPE_IPV4,
};
static const struct xnb_hash_l3 xnb_hash_ipv6 = {
	sizeof(struct rte_ipv6_hdr), offsetof(struct rte_ipv6_hdr, src_addr), 32,
	_XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP, _XEN_NETIF_CTRL_HASH_TYPE_IPV6,
};

/*
 * The hash of a frame as the frontend asked for it (Linux netback's
 * xenvif_set_skb_hash): addresses, and ports for TCP when that type is on,
 * in the order netif.h gives. *type: 1 + the _XEN_NETIF_CTRL_HASH_TYPE_*
 * used, 0 when none applies.
 */
uint32_t
xnb_hash_frame(const struct xnb_hash *h, const struct rte_mbuf *m, uint8_t *type)
{
	struct rte_net_hdr_lens hl = { 0 };
	uint8_t buf[2 * 16 + 4], copy[sizeof(struct rte_ipv6_hdr)];
	const struct xnb_hash_l3 *l;
	const uint8_t *l3;
	uint32_t ptype, n;
	bool tcp;

	*type = 0;
	if (h->alg != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ || h->flags == 0)
		return 0;
	ptype = rte_net_get_ptype(m, &hl, RTE_PTYPE_L2_MASK | RTE_PTYPE_L3_MASK |
				  RTE_PTYPE_L4_MASK);
	tcp = (ptype & RTE_PTYPE_L4_MASK) == RTE_PTYPE_L4_TCP;
	if (RTE_ETH_IS_IPV4_HDR(ptype))
		l = &xnb_hash_ipv4;
	else if (RTE_ETH_IS_IPV6_HDR(ptype))
		l = &xnb_hash_ipv6;
	else
		return 0;
	l3 = rte_pktmbuf_read(m, hl.l2_len, l->hdr_len, copy);
	if (l3 == NULL)
		return 0;
	memcpy(buf, l3 + l->addr_off, l->addr_len);
	n = l->addr_len;
	if (tcp && h->flags & 1u << l->type_tcp)
		*type = l->type_tcp + 1;
	else if (h->flags & 1u << l->type)
		*type = l->type + 1;
	else
		return 0;
	if (*type == l->type_tcp + 1) {
		uint8_t ports[4];
		const uint8_t *p = rte_pktmbuf_read(m, hl.l2_len + hl.l3_len, 4, ports);

		if (p == NULL) {
			*type = 0;
			return 0;
		}
		memcpy(buf + n, p, 4);
		n += 4;
	}
	return xen_netif_toeplitz_hash(h->key, sizeof(h->key), buf, n);
}

/* MCAST_ADD / MCAST_DEL from the guest (Linux netback's xenvif_mcast_add
 * and _del): false when the list is full. */
bool
xnb_mcast_update(struct xnb_port *port, uint8_t op, const uint8_t *addr)
{
	struct xnb_mcast *mc = &port->mcast;
	struct rte_ether_addr a;
	bool ok = true;
	uint32_t i;

	memcpy(a.addr_bytes, addr, RTE_ETHER_ADDR_LEN);
	rte_spinlock_lock(&mc->lock);
	for (i = 0; i < mc->n; i++)
		if (rte_is_same_ether_addr(&mc->addr[i], &a))
			break;
	if (op == XEN_NETIF_EXTRA_TYPE_MCAST_DEL) {
		if (i < mc->n)
			mc->addr[i] = mc->addr[--mc->n];
	} else if (i == mc->n) {
		if (mc->n == XNB_MCAST_MAX)
			ok = false;
		else
			mc->addr[mc->n++] = a;
	}
	rte_spinlock_unlock(&mc->lock);
	return ok;
}

bool
xnb_mcast_match(struct xnb_port *port, const struct rte_ether_addr *addr)
{
	struct xnb_mcast *mc = &port->mcast;
	bool found = false;

	rte_spinlock_lock(&mc->lock);
	for (uint32_t i = 0; i < mc->n && !found; i++)
		found = rte_is_same_ether_addr(&mc->addr[i], addr);
	rte_spinlock_unlock(&mc->lock);
	return found;
}

void
xnb_mcast_clear(struct xnb_port *port)
{
	rte_spinlock_lock(&port->mcast.lock);
	port->mcast.n = 0;
	rte_spinlock_unlock(&port->mcast.lock);
}
