/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/* The log-linear latency histogram of nf_hist.h. */

#include "nf_hist.h"

#define SUB	(1u << NF_HIST_SUB_BITS)

static unsigned int
bucket_of(uint64_t v)
{
	unsigned int e;

	if (v < SUB)
		return (unsigned int)v;
	e = 63 - (unsigned int)__builtin_clzll(v);
	return (e - NF_HIST_SUB_BITS + 1) * SUB +
	       (unsigned int)((v >> (e - NF_HIST_SUB_BITS)) & (SUB - 1));
}

static uint64_t
bucket_top(unsigned int b)
{
	unsigned int e, shift;

	if (b < SUB)
		return b;
	e = b / SUB + NF_HIST_SUB_BITS - 1;
	shift = e - NF_HIST_SUB_BITS;
	return (((uint64_t)SUB + b % SUB) << shift) + ((1ull << shift) - 1);
}

void
nf_hist_add(struct nf_hist *h, uint64_t v)
{
	h->bucket[bucket_of(v)]++;
	h->count++;
	h->sum += v;
	if (v > h->max)
		h->max = v;
}

void
nf_hist_merge(struct nf_hist *dst, const struct nf_hist *src)
{
	unsigned int i;

	for (i = 0; i < NF_HIST_BUCKETS; i++)
		dst->bucket[i] += src->bucket[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t
nf_hist_quantile(const struct nf_hist *h, double q)
{
	uint64_t want, seen = 0, top;
	unsigned int i;

	if (h->count == 0)
		return 0;
	want = (uint64_t)(q * (double)h->count);
	if (want >= h->count)
		want = h->count - 1;
	for (i = 0; i < NF_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen > want) {
			top = bucket_top(i);
			return top < h->max ? top : h->max;
		}
	}
	return h->max;
}
