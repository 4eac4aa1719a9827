/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * A fake hypervisor behind the driver's platform ops table, for the tests
 * that link driver files without Xen or the simulator (the lifetime unit
 * test, the fuzz harnesses): one guest domain whose memory is a memfd of
 * pages, grant ref r being page r. A map is a shared mapping of that page
 * (so the guest's later writes show through it, as with a real grant map;
 * read-only unless asked), a copy checks both sides as Xen does, and the
 * test can revoke or make read-only a grant and inject failures. It counts
 * what the driver did and remembers every live mapping, so a test can ask
 * whether anything is still mapped or was unmapped twice.
 *
 * The handle passed to the ops as struct xnb_gnt * is the struct xnb_fake.
 */

#ifndef XNB_FAKE_PLAT_H
#define XNB_FAKE_PLAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xnb_platform.h"

enum xnb_fake_ref_state {
	XNB_FAKE_GRANTED,	/* readable and writable by the backend */
	XNB_FAKE_READONLY,	/* GTF_readonly: no writable map, no copy into it */
	XNB_FAKE_REVOKED,	/* no new map or copy (live maps stay, as in Xen) */
};

#define XNB_FAKE_MAX_LIVE	8192	/* live mappings tracked at once */

struct xnb_fake {
	uint16_t domid;			/* the guest; grants of others are refused */
	uint32_t npages;
	uint8_t *mem;			/* the guest's memory, npages pages */
	int memfd;
	uint8_t *ref_state;		/* enum xnb_fake_ref_state, per page */
	uint32_t *ref_mapped;		/* live mappings per page */

	/* Failures to inject: each counts down per platform call. */
	uint32_t fail_map_calls;	/* the map call fails (-ENOMEM) */
	uint32_t fail_copy_calls;	/* the copy call fails (-EIO) */
	uint32_t fail_replace_calls;	/* unmap_replace fails (-ENOMEM) */
	bool refuse_copies;		/* every copy segment fails */
	bool refuse_replace;		/* every unmap_replace fails (-ENOMEM) */

	/* What the driver did. */
	uint64_t calls_map, calls_unmap, calls_copy, calls_replace, notifies;
	uint64_t bad_unmaps;		/* unmap or replace of an address not mapped */
	uint64_t local_in_foreign;	/* copies refused: local side a foreign map */
	uint32_t mapped;		/* live mappings */

	/* Live mappings, open addressing on the page address. */
	struct {
		uintptr_t va;		/* 0: empty */
		uint32_t ref;
	} live[XNB_FAKE_MAX_LIVE];
};

extern const struct xnb_platform_ops xnb_fake_ops;

/* npages of zeroed guest memory for domid. 0 or -errno. */
int xnb_fake_init(struct xnb_fake *f, uint16_t domid, uint32_t npages);
void xnb_fake_fini(struct xnb_fake *f);
/* Every grant back to GRANTED, no failure pending, counters zero (live
 * mappings stay what they are). */
void xnb_fake_reset(struct xnb_fake *f);
/* The guest page of ref, NULL past the guest's memory. */
uint8_t *xnb_fake_page(struct xnb_fake *f, uint32_t ref);
/* The ref mapped at the page holding p, or -1. */
int xnb_fake_ref_of(const struct xnb_fake *f, const void *p);
/* Whether [p, p + len) touches a live mapping. */
bool xnb_fake_is_mapped(const struct xnb_fake *f, const void *p, size_t len);

static inline struct xnb_gnt *
xnb_fake_gnt(struct xnb_fake *f)
{
	return (struct xnb_gnt *)f;
}

#endif /* XNB_FAKE_PLAT_H */
