/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The guest's reference hash (nf_hash.h): netif.h's hash types read from
 * the frame bytes, and Toeplitz computed a byte of input at a time from a
 * 40-bit slice of the key (netif.h's sample shifts a 64-bit prefix bit by
 * bit; the two must agree, which is the point of having both).
 */

#include <stdio.h>
#include <string.h>

#include "nf_xen.h"

#include "nf_hash.h"

const uint8_t nf_hash_default_key[NF_HASH_KEY_MAX] = {
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67,
	0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb,
	0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30,
	0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
};

static uint8_t
key_byte(const uint8_t *key, size_t keylen, size_t i)
{
	return i < keylen ? key[i] : 0;
}

/*
 * Input bit b (counted from the most significant bit of in[0]) selects the
 * 32 key bits starting at bit b. For the 8 bits of in[i] those windows all
 * lie within key bytes i..i+4: load them as one 40-bit number and shift.
 */
uint32_t
nf_toeplitz(const uint8_t *key, size_t keylen, const uint8_t *in, size_t len)
{
	uint32_t h = 0;

	for (size_t i = 0; i < len; i++) {
		uint64_t k40 = 0;

		for (size_t j = 0; j < 5; j++)
			k40 = k40 << 8 | key_byte(key, keylen, i + j);
		for (unsigned int bit = 0; bit < 8; bit++)
			if (in[i] & (0x80u >> bit))
				h ^= (uint32_t)(k40 >> (8 - bit));
	}
	return h;
}

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t
nf_frame_hash(const uint8_t *p, uint32_t len, uint32_t flags, const uint8_t *key,
	      size_t keylen, uint8_t *type)
{
	uint8_t buf[36];
	uint32_t off = 12, l3, l4 = 0, n;
	uint16_t et;
	bool tcp = false;

	*type = NF_HASH_NONE;
	if (len < 14)
		return 0;
	et = be16(p + off);
	for (int tags = 0; (et == 0x8100 || et == 0x88a8) && tags < 2; tags++) {
		off += 4;
		if (len < off + 2)
			return 0;
		et = be16(p + off);
	}
	l3 = off + 2;
	if (et == 0x0800) {
		uint32_t ihl;

		if (len < l3 + 20 || (p[l3] >> 4) != 4)
			return 0;
		ihl = (p[l3] & 0xf) * 4u;
		/* A fragment has no TCP header to hash (or only the first
		 * has one): Linux hashes its addresses only. */
		tcp = p[l3 + 9] == 6 && (be16(p + l3 + 6) & 0x3fff) == 0 && ihl >= 20;
		l4 = l3 + ihl;
		memcpy(buf, p + l3 + 12, 8);
		n = 8;
		if (tcp && (flags & XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP) && len >= l4 + 4)
			*type = _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP;
		else if (flags & XEN_NETIF_CTRL_HASH_TYPE_IPV4)
			*type = _XEN_NETIF_CTRL_HASH_TYPE_IPV4;
	} else if (et == 0x86dd) {
		if (len < l3 + 40 || (p[l3] >> 4) != 6)
			return 0;
		/* Our frames carry no extension headers: TCP follows at once. */
		tcp = p[l3 + 6] == 6;
		l4 = l3 + 40;
		memcpy(buf, p + l3 + 8, 32);
		n = 32;
		if (tcp && (flags & XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP) && len >= l4 + 4)
			*type = _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP;
		else if (flags & XEN_NETIF_CTRL_HASH_TYPE_IPV6)
			*type = _XEN_NETIF_CTRL_HASH_TYPE_IPV6;
	} else {
		return 0;
	}
	if (*type == NF_HASH_NONE)
		return 0;
	if (*type == _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP ||
	    *type == _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP) {
		memcpy(buf + n, p + l4, 4);
		n += 4;
	}
	return nf_toeplitz(key, keylen, buf, n);
}

/* ---- self test: Microsoft's RSS verification suite -------------------------- */

struct vec {
	uint8_t v6;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint32_t ip, tcp;	/* expected hashes */
};

static const struct vec vecs[] = {
	{ 0, { 66, 9, 149, 187 }, { 161, 142, 100, 80 }, 2794, 1766,
	  0x323e8fc2, 0x51ccc178 },
	{ 0, { 199, 92, 111, 2 }, { 65, 69, 140, 83 }, 14230, 4739,
	  0xd718262a, 0xc626b0ea },
	{ 0, { 24, 19, 198, 95 }, { 12, 22, 207, 184 }, 12898, 38024,
	  0xd2d0a5de, 0x5c2b394a },
	{ 0, { 38, 27, 205, 30 }, { 209, 142, 163, 6 }, 48228, 2217,
	  0x82989176, 0xafc7327f },
	{ 0, { 153, 39, 163, 191 }, { 202, 188, 127, 2 }, 44251, 1303,
	  0x5d1809c5, 0x10e828a2 },
	{ 1, { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x1f, 0xff, 0, 0, 0, 0, 0, 0, 0, 7 },
	  { 0x3f, 0xfe, 0x25, 0x01, 0x02, 0x00, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 1 },
	  2794, 1766, 0x2cc18cd5, 0x40207d3d },
	{ 1, { 0x3f, 0xfe, 0x05, 0x01, 0x00, 0x08, 0, 0, 0x02, 0x60, 0x97, 0xff, 0xfe, 0x40,
	       0xef, 0xab },
	  { 0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 },
	  14230, 4739, 0x0f0c461c, 0xdde51bbf },
	{ 1, { 0x3f, 0xfe, 0x19, 0x00, 0x45, 0x45, 0x00, 0x03, 0x02, 0x00, 0xf8, 0xff, 0xfe,
	       0x21, 0x67, 0xcf },
	  { 0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x00, 0xf8, 0xff, 0xfe, 0x21, 0x67, 0xcf },
	  44251, 38024, 0x4b61e985, 0x02d1feef },
};

/* A TCP frame of the vector (headers only), with a VLAN tag when tagged. */
static uint32_t
vec_frame(const struct vec *v, bool tagged, uint8_t *f)
{
	uint32_t o = 12, l4;

	memset(f, 0, 128);
	if (tagged) {
		f[o] = 0x81;
		f[o + 3] = 7;
		o += 4;
	}
	f[o] = v->v6 ? 0x86 : 0x08;
	f[o + 1] = v->v6 ? 0xdd : 0x00;
	o += 2;
	if (v->v6) {
		f[o] = 0x60;
		f[o + 6] = 6;
		memcpy(f + o + 8, v->src, 16);
		memcpy(f + o + 24, v->dst, 16);
		l4 = o + 40;
	} else {
		f[o] = 0x45;
		f[o + 6] = 0x40;	/* DF */
		f[o + 9] = 6;
		memcpy(f + o + 12, v->src, 4);
		memcpy(f + o + 16, v->dst, 4);
		l4 = o + 20;
	}
	f[l4] = v->sport >> 8;
	f[l4 + 1] = v->sport & 0xff;
	f[l4 + 2] = v->dport >> 8;
	f[l4 + 3] = v->dport & 0xff;
	return l4 + 20;
}

unsigned int
nf_hash_selftest(void)
{
	const uint32_t all = XEN_NETIF_CTRL_HASH_TYPE_IPV4 | XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP |
			     XEN_NETIF_CTRL_HASH_TYPE_IPV6 | XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP;
	const uint32_t ip_only = XEN_NETIF_CTRL_HASH_TYPE_IPV4 | XEN_NETIF_CTRL_HASH_TYPE_IPV6;
	unsigned int bad = 0;
	uint8_t f[128], t;

	for (size_t i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct vec *v = &vecs[i];

		for (int tagged = 0; tagged < 2; tagged++) {
			uint32_t len = vec_frame(v, tagged, f), h;

			h = nf_frame_hash(f, len, all, nf_hash_default_key, NF_HASH_KEY_MAX, &t);
			if (h != v->tcp || t != (v->v6 ? _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP :
						 _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP)) {
				printf("hash selftest: vector %zu tcp: %08x type %u, want %08x\n",
				       i, h, t, v->tcp);
				bad++;
			}
			h = nf_frame_hash(f, len, ip_only, nf_hash_default_key, NF_HASH_KEY_MAX,
					  &t);
			if (h != v->ip || t != (v->v6 ? _XEN_NETIF_CTRL_HASH_TYPE_IPV6 :
						_XEN_NETIF_CTRL_HASH_TYPE_IPV4)) {
				printf("hash selftest: vector %zu ip: %08x type %u, want %08x\n",
				       i, h, t, v->ip);
				bad++;
			}
			/* A type that is off never applies. */
			nf_frame_hash(f, len, v->v6 ? XEN_NETIF_CTRL_HASH_TYPE_IPV4 |
				      XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP :
				      XEN_NETIF_CTRL_HASH_TYPE_IPV6 |
				      XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP,
				      nf_hash_default_key, NF_HASH_KEY_MAX, &t);
			if (t != NF_HASH_NONE) {
				printf("hash selftest: vector %zu: type %u for a type off\n", i, t);
				bad++;
			}
		}
	}
	/* An empty key hashes everything to 0; a short key is zero-padded. */
	if (nf_toeplitz(NULL, 0, (const uint8_t *)"abcdefgh", 8) != 0) {
		printf("hash selftest: empty key gave a hash\n");
		bad++;
	}
	{
		uint8_t k16[NF_HASH_KEY_MAX] = { 0 };

		memcpy(k16, nf_hash_default_key, 16);
		if (nf_toeplitz(nf_hash_default_key, 16, vecs[5].src, 32) !=
		    nf_toeplitz(k16, NF_HASH_KEY_MAX, vecs[5].src, 32)) {
			printf("hash selftest: a 16-byte key is not its zero-padded form\n");
			bad++;
		}
	}
	return bad;
}
