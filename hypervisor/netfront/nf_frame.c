/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * Builder and verifier of the test frames described in nf_frame.h, and the
 * sequence tracker of a sink. Kept apart from the rings so the same frames
 * can be produced or checked by any program (the guest, a test backend).
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nf_xen.h"

#include "nf_frame.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the checksum and payload code assumes a little-endian host"
#endif

#define ETH_LEN		14u
#define IP4_LEN		20u
#define IP6_LEN		40u
#define UDP_LEN		8u
#define TCP_LEN		20u
#define ETHERTYPE_IP4	0x0800
#define ETHERTYPE_IP6	0x86dd
#define PROTO_TCP	6
#define PROTO_UDP	17
#define FRAME_MAGIC	0x584e
#define PATTERN_MUL	0x9e3779b97f4a7c15ull

static uint64_t
splitmix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static void
put_be16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static uint16_t
get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, v >> 16);
	put_be16(p + 2, v & 0xffff);
}

/* Ones' complement sum in host order: the sum is byte-order neutral, so the
 * folded result stored with memcpy lands in network order. */
static uint64_t
csum_add(uint64_t sum, const uint8_t *p, uint32_t len)
{
	uint32_t w;

	while (len >= 16) {
		uint32_t a, b, c, d;

		memcpy(&a, p, 4);
		memcpy(&b, p + 4, 4);
		memcpy(&c, p + 8, 4);
		memcpy(&d, p + 12, 4);
		sum += (uint64_t)a + b + c + d;
		p += 16;
		len -= 16;
	}
	while (len >= 4) {
		memcpy(&w, p, 4);
		sum += w;
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t h;

		memcpy(&h, p, 2);
		sum += h;
		p += 2;
		len -= 2;
	}
	if (len)
		sum += p[0];
	return sum;
}

static uint16_t
csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* Sum of the pseudo-header (IPv4, or IPv6 when ip[0] says so) for an L4
 * segment of l4_len bytes. */
static uint64_t
pseudo_sum(const uint8_t *ip, uint8_t proto, uint32_t l4_len)
{
	uint8_t ph[40];

	if ((ip[0] >> 4) == 6) {
		memcpy(ph, ip + 8, 32);
		put_be32(ph + 32, l4_len);
		memset(ph + 36, 0, 3);
		ph[39] = proto;
		return csum_add(0, ph, 40);
	}
	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = proto;
	put_be16(ph + 10, (uint16_t)l4_len);
	return csum_add(0, ph, 12);
}

static uint64_t
pattern_seed(uint16_t stream, uint8_t flow, uint64_t seq)
{
	return splitmix64(seq ^ splitmix64((uint64_t)stream << 8 | flow));
}

static void
pattern_fill(uint8_t *p, uint32_t len, uint64_t seed)
{
	uint64_t k = 0, v;

	for (; len >= 8; len -= 8, p += 8, k++) {
		v = (seed + k) * PATTERN_MUL;
		memcpy(p, &v, 8);
	}
	if (len) {
		v = (seed + k) * PATTERN_MUL;
		memcpy(p, &v, len);
	}
}

static bool
pattern_ok(const uint8_t *p, uint32_t len, uint64_t seed)
{
	uint64_t k = 0, v, got;

	for (; len >= 8; len -= 8, p += 8, k++) {
		v = (seed + k) * PATTERN_MUL;
		memcpy(&got, p, 8);
		if (got != v)
			return false;
	}
	if (len) {
		v = (seed + k) * PATTERN_MUL;
		return memcmp(p, &v, len) == 0;
	}
	return true;
}

static uint16_t
header_check(const uint8_t *h)
{
	uint64_t a, b;

	memcpy(&a, h, 8);
	memcpy(&b, h + 8, 8);
	return (uint16_t)(splitmix64(a ^ splitmix64(b)) >> 48);
}

uint32_t
nf_frame_min_len(const struct nf_gen *g)
{
	uint32_t l3 = g->ipv6 ? IP6_LEN : IP4_LEN, l4 = g->tcp ? TCP_LEN : UDP_LEN;
	uint32_t min = ETH_LEN + l3 + l4 + NF_FRAME_HDR_LEN;

	return min > NF_FRAME_MIN_LEN ? min : NF_FRAME_MIN_LEN;
}

static void
ip6_addr(uint8_t *a, uint32_t v4)
{
	memset(a, 0, 16);
	a[0] = 0xfd;
	put_be32(a + 12, v4);
}

int
nf_frame_build(const struct nf_gen *g, uint8_t flow, uint64_t seq,
	       uint32_t len, uint8_t *buf, struct nf_frame_meta *meta)
{
	bool gso = g->gso && len > NF_FRAME_MTU_LEN;
	bool tcp = gso || g->tcp;
	uint32_t l3_len = g->ipv6 ? IP6_LEN : IP4_LEN;
	uint32_t l4_hdr = tcp ? TCP_LEN : UDP_LEN;
	uint32_t l4_off = ETH_LEN + l3_len;
	uint32_t pl_off = l4_off + l4_hdr;
	uint32_t l4_len = len - l4_off;
	bool blank = g->csum_offload || gso;
	uint8_t *ip = buf + ETH_LEN, *l4 = buf + l4_off, *h = buf + pl_off;
	uint8_t proto = tcp ? PROTO_TCP : PROTO_UDP;
	uint16_t csum;

	if (len < NF_FRAME_MIN_LEN || len > NF_FRAME_MAX_LEN ||
	    len < pl_off + NF_FRAME_HDR_LEN)
		return -EINVAL;

	memcpy(buf, g->dst_mac, 6);
	memcpy(buf + 6, g->src_mac, 6);
	if (g->ipv6) {
		put_be16(buf + 12, ETHERTYPE_IP6);
		put_be32(ip, 6u << 28 | flow);	/* the flow label says the flow */
		put_be16(ip + 4, (uint16_t)l4_len);
		ip[6] = proto;
		ip[7] = 64;
		ip6_addr(ip + 8, g->src_ip);
		ip6_addr(ip + 24, g->dst_ip);
	} else {
		put_be16(buf + 12, ETHERTYPE_IP4);
		ip[0] = 0x45;
		ip[1] = 0;
		put_be16(ip + 2, (uint16_t)(len - ETH_LEN));
		put_be16(ip + 4, (uint16_t)seq);
		put_be16(ip + 6, 0x4000);	/* DF: these frames are never fragmented */
		ip[8] = 64;
		ip[9] = proto;
		put_be16(ip + 10, 0);
		put_be32(ip + 12, g->src_ip);
		put_be32(ip + 16, g->dst_ip);
		csum = (uint16_t)~csum_fold(csum_add(0, ip, IP4_LEN));
		memcpy(ip + 10, &csum, 2);
	}

	put_be16(l4, (uint16_t)(10000 + flow));
	put_be16(l4 + 2, (uint16_t)(20000 + g->stream));
	if (tcp) {
		put_be32(l4 + 4, (uint32_t)seq * NF_FRAME_MSS);
		put_be32(l4 + 8, 0);
		l4[12] = 5 << 4;
		l4[13] = 0x18;		/* PSH | ACK */
		put_be16(l4 + 14, 65535);
		put_be16(l4 + 16, 0);
		put_be16(l4 + 18, 0);
	} else {
		put_be16(l4 + 4, (uint16_t)l4_len);
		put_be16(l4 + 6, 0);
	}

	put_be16(h, FRAME_MAGIC);
	memcpy(h + 2, &g->stream, 2);
	h[4] = flow;
	h[5] = (uint8_t)((gso ? NF_FRAME_F_GSO : 0) | (tcp ? NF_FRAME_F_TCP : 0) |
			 (g->ipv6 ? NF_FRAME_F_IPV6 : 0) |
			 (blank ? NF_FRAME_F_CSUM_BLANK : 0));
	{
		uint16_t l16 = (uint16_t)len;

		memcpy(h + 6, &l16, 2);
	}
	memcpy(h + 8, &seq, 8);
	csum = header_check(h);
	memcpy(h + 16, &csum, 2);

	pattern_fill(h + NF_FRAME_HDR_LEN, len - pl_off - NF_FRAME_HDR_LEN,
		     pattern_seed(g->stream, flow, seq));

	/* CHECKSUM_PARTIAL as Linux leaves it: the field holds the folded
	 * pseudo-header sum and the peer completes it over the segment. */
	if (blank) {
		csum = csum_fold(pseudo_sum(ip, proto, l4_len));
	} else {
		csum = (uint16_t)~csum_fold(csum_add(pseudo_sum(ip, proto, l4_len),
						    l4, l4_len));
		if (!tcp && csum == 0)
			csum = 0xffff;	/* 0 means "no checksum" in UDP */
	}
	memcpy(l4 + (tcp ? 16 : 6), &csum, 2);

	memset(meta, 0, sizeof(*meta));
	meta->csum_blank = blank;
	meta->data_validated = blank;
	meta->gso_type = !gso ? 0 : g->ipv6 ? XEN_NETIF_GSO_TYPE_TCPV6 :
		XEN_NETIF_GSO_TYPE_TCPV4;
	meta->gso_size = gso ? NF_FRAME_MSS : 0;
	return 0;
}

uint32_t
nf_frame_mix_size(uint64_t seq)
{
	/* Mostly what a network carries (small and MTU-sized), plus every
	 * multi-slot shape: page-sized, one byte over a page, jumbo, 64 KiB. */
	static const uint32_t table[32] = {
		60, 60, 64, 64, 128, 128, 256, 512,
		576, 1024, 1280, 1500, 1514, 1514, 1514, 2048,
		3000, 4096, 4097, 5000, 8192, 9000, 9018, 12000,
		16384, 24000, 32768, 40000, 60000, 65535, 65535, 0,
	};
	uint64_t h = splitmix64(seq ^ 0x5eed);
	uint32_t s = table[h & 31];

	if (s == 0)
		s = NF_FRAME_MIN_LEN +
		    (uint32_t)((h >> 8) % (NF_FRAME_MAX_LEN - NF_FRAME_MIN_LEN + 1));
	return s;
}

const char *
nf_verr_name(enum nf_verr e)
{
	static const char *const names[NF_VERR__MAX] = {
		[NF_VERR_OK] = "ok",
#define NF_VERR_NAME(n, s) [NF_VERR_##n] = s,
		NF_VERR_LIST(NF_VERR_NAME)
#undef NF_VERR_NAME
	};

	return (unsigned int)e < NF_VERR__MAX ? names[e] : "?";
}

static bool
l4_csum_ok(const uint8_t *ip, const uint8_t *l4, uint32_t l4_len, uint8_t proto,
	   const struct nf_frame_meta *meta)
{
	uint16_t field, pseudo;
	uint64_t ps = pseudo_sum(ip, proto, l4_len);

	memcpy(&field, l4 + (proto == PROTO_TCP ? 16 : 6), 2);
	if (meta->csum_blank) {
		/* Still partial as sent, or completed on the way: both fine. */
		pseudo = csum_fold(ps);
		if (field == pseudo)
			return true;
	}
	if (proto == PROTO_UDP && field == 0)
		return false;	/* we always send a UDP checksum */
	return csum_fold(csum_add(ps, l4, l4_len)) == 0xffff;
}

enum nf_verr
nf_frame_verify(const uint8_t *p, uint32_t len, const struct nf_frame_meta *meta,
		struct nf_frame_id *id)
{
	const uint8_t *ip = p + ETH_LEN, *l4, *h;
	uint32_t l3_len, l4_hdr, pl_off;
	uint16_t hlen, check, et;
	uint8_t proto, want_gso;
	bool gso_sent, v6;

	if (len < NF_FRAME_MIN_LEN)
		return NF_VERR_RUNT;
	et = get_be16(p + 12);
	if (et == ETHERTYPE_IP4 && ip[0] == 0x45) {
		v6 = false;
		l3_len = IP4_LEN;
		proto = ip[9];
	} else if (et == ETHERTYPE_IP6 && (ip[0] >> 4) == 6) {
		v6 = true;
		l3_len = IP6_LEN;
		proto = ip[6];
	} else {
		return NF_VERR_FOREIGN;
	}
	if (proto != PROTO_UDP && proto != PROTO_TCP)
		return NF_VERR_FOREIGN;
	l4_hdr = proto == PROTO_TCP ? TCP_LEN : UDP_LEN;
	pl_off = ETH_LEN + l3_len + l4_hdr;
	if (len < pl_off + NF_FRAME_HDR_LEN)
		return NF_VERR_RUNT;
	l4 = ip + l3_len;
	h = p + pl_off;
	if (get_be16(h) != FRAME_MAGIC)
		return NF_VERR_FOREIGN;
	memcpy(&check, h + 16, 2);
	if (check != header_check(h))
		return NF_VERR_HEADER;

	memcpy(&id->stream, h + 2, 2);
	id->flow = h[4];
	id->flags = h[5];
	memcpy(&id->seq, h + 8, 8);
	memcpy(&hlen, h + 6, 2);

	if (hlen != len || (proto == PROTO_UDP &&
			    get_be16(l4 + 4) != len - ETH_LEN - l3_len))
		return NF_VERR_LENGTH;
	if (v6 ? get_be16(ip + 4) != len - ETH_LEN - IP6_LEN :
		 get_be16(ip + 2) != len - ETH_LEN)
		return NF_VERR_LENGTH;
	if (!v6 && csum_fold(csum_add(0, ip, IP4_LEN)) != 0xffff)
		return NF_VERR_IP;
	if (!l4_csum_ok(ip, l4, len - ETH_LEN - l3_len, proto, meta))
		return NF_VERR_L4CSUM;

	gso_sent = (id->flags & NF_FRAME_F_GSO) != 0;
	want_gso = v6 ? XEN_NETIF_GSO_TYPE_TCPV6 : XEN_NETIF_GSO_TYPE_TCPV4;
	if (gso_sent != (meta->gso_type != 0) ||
	    (gso_sent && (meta->gso_type != want_gso || meta->gso_size != NF_FRAME_MSS)))
		return NF_VERR_GSO;

	if (!pattern_ok(h + NF_FRAME_HDR_LEN, len - pl_off - NF_FRAME_HDR_LEN,
			pattern_seed(id->stream, id->flow, id->seq)))
		return NF_VERR_PATTERN;
	return NF_VERR_OK;
}

void
nf_frame_swap_mac(uint8_t *p)
{
	uint8_t t[6];

	memcpy(t, p, 6);
	memcpy(p, p + 6, 6);
	memcpy(p + 6, t, 6);
}

/* ---- sequence tracking --------------------------------------------------- */

#define SEQ_WINDOW	1024u	/* how late a frame may be to count as reordered */
#define SEQ_FLOWS	4096u	/* (stream, flow) pairs one sink tracks */

struct seq_flow {
	uint32_t key;		/* stream << 8 | flow, +1 so 0 means unused */
	uint64_t next;		/* every seq below it was seen or counted a gap */
	uint64_t seen[SEQ_WINDOW / 64];	/* seqs next-WINDOW .. next-1 */
};

struct nf_seqtrack {
	struct nf_seq_counts c;
	struct seq_flow *flows;
};

struct nf_seqtrack *
nf_seqtrack_new(void)
{
	struct nf_seqtrack *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->flows = calloc(SEQ_FLOWS, sizeof(*t->flows));
	if (t->flows == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

void
nf_seqtrack_free(struct nf_seqtrack *t)
{
	if (t == NULL)
		return;
	free(t->flows);
	free(t);
}

static struct seq_flow *
seq_lookup(struct nf_seqtrack *t, uint32_t key)
{
	uint32_t i = (uint32_t)splitmix64(key) & (SEQ_FLOWS - 1), n;

	for (n = 0; n < SEQ_FLOWS; n++, i = (i + 1) & (SEQ_FLOWS - 1)) {
		if (t->flows[i].key == key)
			return &t->flows[i];
		if (t->flows[i].key == 0) {
			t->flows[i].key = key;
			return &t->flows[i];
		}
	}
	return NULL;
}

static bool
seen_test_set(struct seq_flow *f, uint64_t seq)
{
	uint64_t bit = 1ull << (seq % 64);
	uint64_t *w = &f->seen[(seq / 64) % (SEQ_WINDOW / 64)];
	bool was = (*w & bit) != 0;

	*w |= bit;
	return was;
}

static void
seen_clear(struct seq_flow *f, uint64_t seq)
{
	f->seen[(seq / 64) % (SEQ_WINDOW / 64)] &= ~(1ull << (seq % 64));
}

void
nf_seqtrack_add(struct nf_seqtrack *t, const struct nf_frame_id *id)
{
	struct seq_flow *f = seq_lookup(t, ((uint32_t)id->stream << 8 | id->flow) + 1);
	uint64_t s;

	if (f == NULL)
		return;
	if (id->seq >= f->next) {
		/* Forget the window slots the new range reuses. */
		if (id->seq - f->next >= SEQ_WINDOW)
			memset(f->seen, 0, sizeof(f->seen));
		else
			for (s = f->next; s <= id->seq; s++)
				seen_clear(f, s);
		t->c.gaps += id->seq - f->next;
		seen_test_set(f, id->seq);
		f->next = id->seq + 1;
		return;
	}
	if (f->next - id->seq > SEQ_WINDOW) {
		t->c.dups++;	/* too old to tell; never expected again */
		return;
	}
	if (seen_test_set(f, id->seq)) {
		t->c.dups++;
	} else {
		t->c.reordered++;
		t->c.gaps--;
	}
}

void
nf_seqtrack_counts(const struct nf_seqtrack *t, struct nf_seq_counts *c)
{
	*c = t->c;
}
