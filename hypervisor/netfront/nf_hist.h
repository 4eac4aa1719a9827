/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * A log-linear histogram (16 steps per power of two, so quantiles are within
 * 6 %) for per-request latencies: constant memory and an add cheap enough
 * for every TX response, where keeping samples would not be.
 */

#ifndef NF_HIST_H
#define NF_HIST_H

#include <stdint.h>

#define NF_HIST_SUB_BITS	4
#define NF_HIST_BUCKETS		(64 << NF_HIST_SUB_BITS)

struct nf_hist {
	uint64_t count;
	uint64_t max;
	uint64_t sum;
	uint64_t bucket[NF_HIST_BUCKETS];
};

void nf_hist_add(struct nf_hist *h, uint64_t v);
/* Adds every sample of src to dst. */
void nf_hist_merge(struct nf_hist *dst, const struct nf_hist *src);
/* The smallest bucket bound below which a fraction q of the samples lie
 * (never above the maximum seen); 0 when empty. */
uint64_t nf_hist_quantile(const struct nf_hist *h, double q);

#endif /* NF_HIST_H */
