/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * Test frames: the traffic generator writes, and the sink checks, frames that
 * real switches accept (Ethernet, IPv4 or IPv6, UDP or TCP; TCP for GSO
 * frames) and whose payload says who sent it, in which order, and what every
 * byte must be, so any corruption, loss, duplication or reordering on the way
 * is caught. Nothing here knows about rings or grants.
 *
 * Payload header, right after the UDP/TCP header (18 bytes, so a 60-byte
 * IPv4/UDP frame still carries it; TCP and IPv6 frames are longer):
 *   0  u16 magic 0x584e ("XN", big endian)
 *   2  u16 stream        (little endian, as all fields below)
 *   4  u8  flow
 *   5  u8  flags         NF_FRAME_F_*
 *   6  u16 frame length  (Ethernet header included, no FCS)
 *   8  u64 sequence number within (stream, flow)
 *  16  u16 header check  (hash of bytes 0..15)
 * followed by the pattern: 8-byte words (seed + k) * golden-ratio constant,
 * where seed depends on (stream, flow, seq) and k is the word index.
 */

#ifndef NF_FRAME_H
#define NF_FRAME_H

#include <stdbool.h>
#include <stdint.h>

#define NF_FRAME_MIN_LEN	60u	/* Ethernet minimum without FCS */
#define NF_FRAME_MAX_LEN	65535u	/* XEN_NETIF_MAX_TX_SIZE */
#define NF_FRAME_MTU_LEN	1514u	/* largest frame that is not GSO */
#define NF_FRAME_MSS		1448u	/* GSO segment size we announce */
#define NF_FRAME_HDR_LEN	18u

#define NF_FRAME_F_GSO		0x01	/* sent as a GSO frame */
#define NF_FRAME_F_CSUM_BLANK	0x02	/* sent with the L4 checksum left blank */
#define NF_FRAME_F_TCP		0x04
#define NF_FRAME_F_IPV6		0x08

/* What goes into the frames one generator sends. */
struct nf_gen {
	uint8_t dst_mac[6];
	uint8_t src_mac[6];
	uint32_t src_ip;	/* host byte order */
	uint32_t dst_ip;	/* IPv6: fd00::<the IPv4 address> */
	uint16_t stream;
	bool csum_offload;	/* leave the L4 checksum to the peer */
	bool gso;		/* frames above NF_FRAME_MTU_LEN become TCP + GSO */
	bool tcp;		/* every frame TCP (GSO or not), not UDP */
	bool ipv6;		/* IPv6 frames (GSO type TCPV6) */
};

/* Offload metadata travelling with a frame (in either direction). */
struct nf_frame_meta {
	bool csum_blank;	/* L4 checksum holds only the pseudo-header sum */
	bool data_validated;
	uint8_t gso_type;	/* XEN_NETIF_GSO_TYPE_*, 0 = none */
	uint16_t gso_size;
	/* A XEN_NETIF_EXTRA_TYPE_HASH extra (received; never sent). */
	bool hash_valid;
	uint8_t hash_type;	/* _XEN_NETIF_CTRL_HASH_TYPE_* */
	uint8_t hash_alg;	/* XEN_NETIF_CTRL_HASH_ALGORITHM_* */
	uint32_t hash;
};

struct nf_frame_id {
	uint16_t stream;
	uint8_t flow;
	uint8_t flags;
	uint64_t seq;
};

/* The shortest frame g builds: 60 bytes, more when its headers need it
 * (TCP, IPv6). */
uint32_t nf_frame_min_len(const struct nf_gen *g);

/* Builds frame (flow, seq) of len bytes into buf (at least len bytes) and
 * fills meta. Returns 0, or -EINVAL when len is out of range. */
int nf_frame_build(const struct nf_gen *g, uint8_t flow, uint64_t seq,
		   uint32_t len, uint8_t *buf, struct nf_frame_meta *meta);

/* The size of frame seq in the deterministic size mix (60 .. 65535). */
uint32_t nf_frame_mix_size(uint64_t seq);

/* Verification failures, counted by kind. */
#define NF_VERR_LIST(X) \
	X(RUNT, "runt") \
	X(FOREIGN, "foreign") \
	X(HEADER, "header") \
	X(LENGTH, "length") \
	X(IP, "ip") \
	X(L4CSUM, "l4_csum") \
	X(GSO, "gso") \
	X(PATTERN, "pattern")

enum nf_verr {
	NF_VERR_OK = 0,
#define NF_VERR_ENUM(n, s) NF_VERR_##n,
	NF_VERR_LIST(NF_VERR_ENUM)
#undef NF_VERR_ENUM
	NF_VERR__MAX
};

const char *nf_verr_name(enum nf_verr e);

/* Checks one received frame with the metadata it arrived with; on success
 * (and on any failure after the payload header was found valid) fills id. */
enum nf_verr nf_frame_verify(const uint8_t *p, uint32_t len,
			     const struct nf_frame_meta *meta,
			     struct nf_frame_id *id);

/* Swaps source and destination MAC, as a reflecting VM does. */
void nf_frame_swap_mac(uint8_t *p);

/* Per-(stream, flow) sequence accounting of a sink. */
struct nf_seq_counts {
	uint64_t gaps;		/* sequence numbers never seen (so far) */
	uint64_t dups;
	uint64_t reordered;	/* arrived after a later one */
};

struct nf_seqtrack;

struct nf_seqtrack *nf_seqtrack_new(void);
void nf_seqtrack_free(struct nf_seqtrack *t);
void nf_seqtrack_add(struct nf_seqtrack *t, const struct nf_frame_id *id);
void nf_seqtrack_counts(const struct nf_seqtrack *t, struct nf_seq_counts *c);

#endif /* NF_FRAME_H */
