/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The guest's own reference for what a backend that hashes for it must
 * produce (xen/io/netif.h, "Hash types" and the Toeplitz algorithm): the
 * hash type a frame falls under for a set of hash flags, the bytes hashed,
 * and the Toeplitz value. Written from the specification, apart from the
 * backend's code and from netif.h's sample implementation, so that a test
 * comparing the two compares two readings of the protocol.
 */

#ifndef NF_HASH_H
#define NF_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NF_HASH_KEY_MAX		40	/* Linux netback's XEN_NETBK_MAX_HASH_KEY_SIZE */
#define NF_HASH_MAPPING_MAX	128	/* what a table of ours may hold */
#define NF_HASH_NONE		0xff	/* no hash type applies to the frame */

/* The well-known 40-byte RSS key (Microsoft's default; Windows PV drivers
 * start with it). */
extern const uint8_t nf_hash_default_key[NF_HASH_KEY_MAX];

/* Toeplitz over len bytes of in, with a key of keylen bytes (bits past the
 * key read as 0, as netif.h says for a short key). */
uint32_t nf_toeplitz(const uint8_t *key, size_t keylen, const uint8_t *in, size_t len);

/*
 * The hash a backend must compute for frame p (len bytes, Ethernet, up to
 * two VLAN tags) with hash flags (XEN_NETIF_CTRL_HASH_TYPE_*): *type is
 * the _XEN_NETIF_CTRL_HASH_TYPE_* that applies (the "maximal" one: TCP
 * when the frame is unfragmented TCP and that type is on), NF_HASH_NONE
 * when none does (not IP, or its type is off); the return value is the
 * hash (0 with NF_HASH_NONE).
 */
uint32_t nf_frame_hash(const uint8_t *p, uint32_t len, uint32_t flags,
		       const uint8_t *key, size_t keylen, uint8_t *type);

/* Checks nf_toeplitz and nf_frame_hash against the published RSS
 * verification vectors; returns the number of mismatches (printed). */
unsigned int nf_hash_selftest(void);

#endif /* NF_HASH_H */
