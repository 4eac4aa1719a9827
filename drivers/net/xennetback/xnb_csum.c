/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * TCP and UDP checksums completed in software, both ways: a guest's blank
 * checksum for an application that takes no partial checksums (xnb_rx.c),
 * an application's for a frontend that takes no blank ones (xnb_tx.c).
 *
 * Not DPDK 22.11's rte_ipv4/6_udptcp_cksum_mbuf: over a chain whose
 * segments start at odd offsets (guest slots of any size do) its
 * rte_raw_cksum_mbuf folds a segment's 32-bit sum to 16 bits by truncation
 * before swapping it, losing the carries; it sums to the end of the frame,
 * Ethernet padding included, and trusts an IP length past the frame; its
 * IPv6 pseudo-header takes the payload length, extension headers included.
 * Found by the fuzz harness (tests/fuzz/findings). Here: the L4 length is the
 * IP header's, checked against the frame, and the sum is RFC 1071's.
 */

#include <rte_byteorder.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "xnb_internal.h"

static uint32_t
xnb_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint32_t)sum;
}

/* The ones'-complement sum of n bytes at p, as if p were at an even offset. */
static uint32_t
xnb_csum_buf(const uint8_t *p, uint32_t n)
{
	return xnb_csum_fold(__rte_raw_cksum(p, n, 0));
}

/* The same over bytes [off, off + len) of a chain: each segment's sum is
 * swapped when it starts at an odd offset of the range (RFC 1071, 2.B). */
static bool
xnb_csum_chain(const struct rte_mbuf *m, uint32_t off, uint32_t len, uint64_t *sum)
{
	bool odd = false;

	for (const struct rte_mbuf *s = m; s != NULL && len > 0; s = s->next) {
		uint32_t n, part;

		if (off >= s->data_len) {
			off -= s->data_len;
			continue;
		}
		n = RTE_MIN(s->data_len - off, len);
		part = xnb_csum_buf(rte_pktmbuf_mtod_offset(s, const uint8_t *, off), n);
		*sum += odd ? rte_bswap16((uint16_t)part) : part;
		odd ^= n & 1;
		len -= n;
		off = 0;
	}
	return len == 0;
}

bool
xnb_csum_l4(const struct rte_mbuf *m, uint8_t *h, uint32_t hlen, uint32_t ptype,
	    const struct rte_net_hdr_lens *hl)
{
	uint32_t l4 = hl->l2_len + hl->l3_len, l4len, end, hend;
	bool tcp = (ptype & RTE_PTYPE_L4_MASK) == RTE_PTYPE_L4_TCP;
	uint8_t *f = h + l4 + (tcp ? offsetof(struct rte_tcp_hdr, cksum) :
			       offsetof(struct rte_udp_hdr, dgram_cksum));
	uint64_t sum = 0;
	uint16_t ck;

	if (RTE_ETH_IS_IPV4_HDR(ptype)) {
		const struct rte_ipv4_hdr *ip = (const void *)(h + hl->l2_len);
		uint32_t tot = rte_be_to_cpu_16(ip->total_length);

		if (tot < hl->l3_len)
			return false;
		l4len = tot - hl->l3_len;
		sum += xnb_csum_buf((const uint8_t *)&ip->src_addr, 8);
		sum += rte_cpu_to_be_16(ip->next_proto_id);
	} else {
		const struct rte_ipv6_hdr *ip = (const void *)(h + hl->l2_len);
		uint32_t pay = rte_be_to_cpu_16(ip->payload_len);

		/* Extension headers are not upper-layer data (RFC 8200, 8.1). */
		if (pay + sizeof(*ip) < hl->l3_len)
			return false;
		l4len = pay + sizeof(*ip) - hl->l3_len;
		sum += xnb_csum_buf(ip->src_addr, 32);
		sum += rte_cpu_to_be_16(tcp ? IPPROTO_TCP : IPPROTO_UDP);
	}
	/* What follows the IP payload (Ethernet padding) is not summed. */
	end = l4 + l4len;
	hend = RTE_MIN(hlen, end);
	if (end > m->pkt_len || f + sizeof(ck) > h + hend)
		return false;
	sum += rte_cpu_to_be_16((uint16_t)l4len);
	sum += rte_cpu_to_be_16((uint16_t)(l4len >> 16));
	memset(f, 0, sizeof(ck));
	sum += xnb_csum_buf(h + l4, hend - l4);
	if (end > hend) {
		uint64_t rest = 0;

		if (!xnb_csum_chain(m, hend, end - hend, &rest))
			return false;
		rest = xnb_csum_fold(rest);
		sum += (hend - l4) & 1 ? rte_bswap16((uint16_t)rest) : rest;
	}
	ck = ~(uint16_t)xnb_csum_fold(sum);
	if (ck == 0 && !tcp)
		ck = 0xffff;	/* UDP: 0 means "no checksum" */
	memcpy(f, &ck, sizeof(ck));
	return true;
}
