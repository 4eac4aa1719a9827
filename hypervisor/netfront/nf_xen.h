/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The one place the netfront code includes the Xen ring headers. ring.h
 * needs the fixed-width types and memcpy first, and its barriers: for the
 * legacy interface version that xen-compat.h picks when none is set (ours,
 * and whatever xnbsim.h included first), ring.h itself defines xen_mb() as
 * an undefined mb(); the ring macros expand at their use, so redefining the
 * three after the includes is what takes effect.
 */

#ifndef NF_XEN_H
#define NF_XEN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <xen/grant_table.h>
#include <xen/io/netif.h>
#include <xen/io/xenbus.h>

#undef xen_mb
#undef xen_rmb
#undef xen_wmb
/* A full fence only where a store must be visible before a later load
 * (push, then check the event index); acquire/release fences order the
 * rest (compiler barriers on x86). */
#define xen_mb()	__atomic_thread_fence(__ATOMIC_SEQ_CST)
#define xen_rmb()	__atomic_thread_fence(__ATOMIC_ACQUIRE)
#define xen_wmb()	__atomic_thread_fence(__ATOMIC_RELEASE)

#endif /* NF_XEN_H */
