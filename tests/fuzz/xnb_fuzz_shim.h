/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * Force-included (clang -include) ahead of the driver files the fuzz
 * harnesses build, so that the driver stays unchanged and yet:
 *  - time is the harness's: rte_get_tsc_cycles() and rte_rdtsc() read a
 *    clock the input advances (aging, rate-limit windows and stalls in a
 *    few steps, no sleeping, every run the same);
 *  - the driver's rte_malloc memory (burst scratch, tracker arrays, the
 *    buffers of linear frames) comes from the C heap, where
 *    AddressSanitizer puts red zones around it: a walk past a scratch array
 *    is reported where it happens, not when it reaches unmapped memory. The
 *    harness counts these blocks (a leak shows per input) and can make an
 *    allocation fail.
 * The real DPDK headers are included first, so their own definitions are
 * untouched; only the driver's later calls are renamed.
 */

#ifndef XNB_FUZZ_SHIM_H
#define XNB_FUZZ_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include <rte_cycles.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

/* DPDK 22.11's rte_ipv6_phdr_cksum shifts a uint8_t promoted to int by 24
 * (ipv6_hdr->proto << 24): undefined for a next header >= 128, which any
 * frame can carry. It is DPDK's, not the driver's, and compilers do the
 * expected thing, so the shift-base check is off for rte_ip.h's inline
 * functions only. */
#pragma clang attribute push(__attribute__((no_sanitize("shift-base"))), apply_to = function)
#include <rte_ip.h>
#pragma clang attribute pop

uint64_t xnb_fuzz_tsc(void);
void *xnb_fuzz_malloc(size_t size, unsigned int align, int zero);
void xnb_fuzz_free(void *p);

#define rte_get_tsc_cycles()	xnb_fuzz_tsc()
#define rte_rdtsc()		xnb_fuzz_tsc()
#define rte_zmalloc_socket(name, size, align, socket) \
	xnb_fuzz_malloc((size), (align), 1)
#define rte_malloc_socket(name, size, align, socket) \
	xnb_fuzz_malloc((size), (align), 0)
#define rte_zmalloc(name, size, align)	xnb_fuzz_malloc((size), (align), 1)
#define rte_malloc(name, size, align)	xnb_fuzz_malloc((size), (align), 0)
#define rte_free(p)		xnb_fuzz_free(p)
/* IOVA as VA, as the tests run DPDK (rte_malloc_virt2iova would read a
 * malloc header that heap memory does not have). */
#define rte_malloc_virt2iova(p)	((rte_iova_t)(uintptr_t)(p))

#endif /* XNB_FUZZ_SHIM_H */
