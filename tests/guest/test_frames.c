/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The verifier is what every simulated test trusts, so it is tested on its
 * own: frames it builds must pass, and each kind of damage a backend could
 * do must be caught as that kind. Also the sequence tracker and the latency
 * histogram. Needs no simulator.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nf_frame.h"
#include "nf_hist.h"
#include "nf_xen.h"

#include "xnb_check.h"

static struct nf_gen
gen(bool csum, bool gso)
{
	struct nf_gen g = {
		.dst_mac = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		.src_mac = { 0x00, 0x16, 0x3e, 0x00, 0x01, 0x00 },
		.src_ip = 0x0a000101,
		.dst_ip = 0x0a0000fe,
		.stream = 7,
		.csum_offload = csum,
		.gso = gso,
	};
	return g;
}

static void
test_roundtrip(void)
{
	static const uint32_t sizes[] = { 60, 61, 64, 100, 1514, 1515, 4096, 4097,
					  9000, 32767, 65535 };
	uint8_t *buf = malloc(NF_FRAME_MAX_LEN);
	struct nf_frame_meta m;
	struct nf_frame_id id;
	unsigned int i, mode;
	enum nf_verr e;

	for (mode = 0; mode < 4; mode++) {
		struct nf_gen g = gen(mode & 1, mode & 2);

		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			CHECK(nf_frame_build(&g, 3, 1000 + i, sizes[i], buf, &m) == 0,
			      "build %u", sizes[i]);
			e = nf_frame_verify(buf, sizes[i], &m, &id);
			CHECK(e == NF_VERR_OK, "size %u mode %u: %s", sizes[i], mode,
			      nf_verr_name(e));
			CHECK(id.stream == 7 && id.flow == 3 && id.seq == 1000 + i,
			      "id %u/%u/%llu", id.stream, id.flow,
			      (unsigned long long)id.seq);
			CHECK((m.gso_type != 0) == ((mode & 2) && sizes[i] > 1514),
			      "gso meta for %u", sizes[i]);
			CHECK(m.csum_blank == ((mode & 1) || m.gso_type != 0),
			      "csum meta for %u", sizes[i]);
		}
	}
	CHECK(nf_frame_build(&(struct nf_gen){ 0 }, 0, 0, 59, buf, &m) != 0,
	      "59 bytes accepted");
	free(buf);
}

/* Each damage is caught, and as the right kind. */
static void
test_damage(void)
{
	uint8_t *buf = malloc(NF_FRAME_MAX_LEN), *ref = malloc(NF_FRAME_MAX_LEN);
	struct nf_gen g = gen(false, false);
	struct nf_frame_meta m, m2;
	struct nf_frame_id id;
	const uint32_t len = 9000;

	nf_frame_build(&g, 1, 42, len, ref, &m);

	memcpy(buf, ref, len);
	buf[len - 1] ^= 0x01;	/* last payload byte: the UDP checksum sees it too */
	CHECK(nf_frame_verify(buf, len, &m, &id) == NF_VERR_L4CSUM, "tail flip");
	/* With the checksum left to offload, the pattern must catch it. */
	g = gen(true, false);
	nf_frame_build(&g, 1, 42, len, buf, &m2);
	buf[len - 1] ^= 0x01;
	CHECK(nf_frame_verify(buf, len, &m2, &id) == NF_VERR_PATTERN,
	      "tail flip under csum_blank: %s",
	      nf_verr_name(nf_frame_verify(buf, len, &m2, &id)));
	g = gen(false, false);

	memcpy(buf, ref, len);
	buf[14 + 8] ^= 0x10;	/* IP TTL */
	CHECK(nf_frame_verify(buf, len, &m, &id) == NF_VERR_IP, "ip");

	memcpy(buf, ref, len);
	CHECK(nf_frame_verify(buf, len - 100, &m, &id) == NF_VERR_LENGTH, "truncated");
	CHECK(nf_frame_verify(buf, 40, &m, &id) == NF_VERR_RUNT, "runt");

	memcpy(buf, ref, len);
	buf[42 + 9] ^= 0x01;	/* sequence number in the payload header */
	CHECK(nf_frame_verify(buf, len, &m, &id) == NF_VERR_HEADER, "header");

	memcpy(buf, ref, len);
	buf[12] = 0x86;		/* not IPv4 */
	CHECK(nf_frame_verify(buf, len, &m, &id) == NF_VERR_FOREIGN, "foreign");

	/* Two chunks swapped: sums are order-blind, the pattern is not. */
	memcpy(buf, ref, len);
	memcpy(buf + 1000, ref + 5000, 2000);
	memcpy(buf + 5000, ref + 1000, 2000);
	m2 = m;
	m2.csum_blank = true;
	CHECK(nf_frame_verify(buf, len, &m2, &id) == NF_VERR_PATTERN, "swap");

	/* A GSO frame must arrive with its GSO extra, and only it. */
	g = gen(false, true);
	nf_frame_build(&g, 1, 43, 60000, ref, &m);
	m2 = m;
	m2.gso_type = 0;
	m2.gso_size = 0;
	CHECK(nf_frame_verify(ref, 60000, &m2, &id) == NF_VERR_GSO, "gso lost");
	m2 = m;
	m2.gso_size = 1000;
	CHECK(nf_frame_verify(ref, 60000, &m2, &id) == NF_VERR_GSO, "gso size");
	nf_frame_build(&g, 1, 44, 1000, ref, &m);
	m2 = m;
	m2.gso_type = XEN_NETIF_GSO_TYPE_TCPV4;
	m2.gso_size = NF_FRAME_MSS;
	CHECK(nf_frame_verify(ref, 1000, &m2, &id) == NF_VERR_GSO, "gso invented");

	/* A checksum completed on the way is as good as a partial one. */
	g = gen(true, false);
	nf_frame_build(&g, 1, 45, 3000, ref, &m);
	CHECK(nf_frame_verify(ref, 3000, &m, &id) == NF_VERR_OK, "partial");
	m2 = m;
	m2.csum_blank = false;	/* a backend that forgot to pass the flag */
	CHECK(nf_frame_verify(ref, 3000, &m2, &id) == NF_VERR_L4CSUM, "flag lost");

	/* Same frame, different seq: different bytes (no stale reuse passes,
	 * even where no checksum covers it). */
	g = gen(true, false);
	nf_frame_build(&g, 1, 46, 3000, ref, &m);
	nf_frame_build(&g, 1, 47, 3000, buf, &m);
	memcpy(buf + 42, ref + 42, 18);	/* header of 46, payload of 47 */
	CHECK(nf_frame_verify(buf, 3000, &m, &id) == NF_VERR_PATTERN, "stale");

	free(buf);
	free(ref);
}

static void
test_mix(void)
{
	uint64_t seq, big = 0, small = 0, over_page = 0;
	uint32_t s;

	for (seq = 0; seq < 10000; seq++) {
		s = nf_frame_mix_size(seq);
		CHECK(s >= NF_FRAME_MIN_LEN && s <= NF_FRAME_MAX_LEN, "size %u", s);
		big += s == NF_FRAME_MAX_LEN;
		small += s <= 64;
		over_page += s > 4096;
	}
	CHECK(big > 100 && small > 500 && over_page > 2000,
	      "mix has 64K %llu small %llu multi-page %llu",
	      (unsigned long long)big, (unsigned long long)small,
	      (unsigned long long)over_page);
	CHECK(nf_frame_mix_size(12345) == nf_frame_mix_size(12345), "determinism");
}

static void
test_seq(void)
{
	struct nf_seqtrack *t = nf_seqtrack_new();
	struct nf_frame_id id = { .stream = 1, .flow = 0 };
	struct nf_seq_counts c;
	static const uint64_t order[] = { 0, 1, 2, 5, 3, 3, 6, 7, 4, 7 };
	unsigned int i;

	for (i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		id.seq = order[i];
		nf_seqtrack_add(t, &id);
	}
	/* 5 skips 3,4 (2 gaps); 3 and 4 come late (reordered, gaps back to 0);
	 * the second 3 and the second 7 are duplicates. */
	nf_seqtrack_counts(t, &c);
	CHECK(c.gaps == 0 && c.reordered == 2 && c.dups == 2,
	      "gaps %llu reordered %llu dups %llu", (unsigned long long)c.gaps,
	      (unsigned long long)c.reordered, (unsigned long long)c.dups);

	id.flow = 1;	/* another flow is independent */
	id.seq = 0;
	nf_seqtrack_add(t, &id);
	id.seq = 10;
	nf_seqtrack_add(t, &id);
	nf_seqtrack_counts(t, &c);
	CHECK(c.gaps == 9, "gaps %llu", (unsigned long long)c.gaps);
	nf_seqtrack_free(t);
}

static void
test_hist(void)
{
	struct nf_hist *h = calloc(1, sizeof(*h));
	uint64_t i, p50, p99;

	for (i = 1; i <= 1000; i++)
		nf_hist_add(h, i * 1000);	/* 1 us .. 1 ms */
	p50 = nf_hist_quantile(h, 0.5);
	p99 = nf_hist_quantile(h, 0.99);
	CHECK(p50 >= 500000 && p50 <= 500000 * 107 / 100, "p50 %llu",
	      (unsigned long long)p50);
	CHECK(p99 >= 990000 && p99 <= 1000000, "p99 %llu", (unsigned long long)p99);
	CHECK(h->max == 1000000 && h->count == 1000, "max/count");
	CHECK(nf_hist_quantile(&(struct nf_hist){ 0 }, 0.99) == 0, "empty");
	free(h);
}

int
main(void)
{
	test_roundtrip();
	test_damage();
	test_mix();
	test_seq();
	test_hist();
	if (xnb_failures) {
		fprintf(stderr, "%d check(s) failed\n", xnb_failures);
		return 1;
	}
	printf("frames: all checks passed\n");
	return 0;
}
