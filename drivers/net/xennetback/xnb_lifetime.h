/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * The mbuf-lifetime tracker: guest pages lent to the application as external
 * mbuf buffers, and getting them back. A mapped guest page is a "slot"; the
 * slot is answered (TX response to the guest, grant released) either when the
 * application frees its mbuf, or when it has been held longer than the aging
 * window: then its bytes are grant-copied into a backend page that replaces
 * the mapping at the same address, and the guest is answered at once.
 *
 * Slots are answered through the caller: reap() hands back the netif request
 * ids to respond to, so the rx path stays the only writer of the TX ring.
 */

#ifndef XNB_LIFETIME_H
#define XNB_LIFETIME_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "xnb_platform.h"

struct xnb_lt;
struct xnb_slot;

/* The tracker's counters, declared once: X(name, field); xstats name them
 * rx_<name> (rte_eth_xennetback.c). */
#define XNB_LT_XSTATS(X) \
	X("slots_mapped_now", mapped_now) \
	X("slots_held_now", held_now) \
	X("slots_mapped", mapped) \
	X("map_failed", map_failed) \
	X("iova_failed", iova_failed) \
	X("slots_freed_fast", freed_fast) \
	X("aged_copyouts", aged_copyouts) \
	X("disconnect_copyouts", disconnect_copyouts) \
	X("copyout_fallbacks", copyout_fallback) \
	X("copyout_failed", copyout_failed) \
	X("hypercalls_map", hc_map) \
	X("hypercalls_unmap", hc_unmap) \
	X("hypercalls_copyout", hc_copy) \
	X("age_below_1ms", age_hist[0]) \
	X("age_below_10ms", age_hist[1]) \
	X("age_below_100ms", age_hist[2]) \
	X("age_below_window", age_hist[3]) \
	X("age_window_or_more", age_hist[4])

struct xnb_lt_stats {
	uint64_t mapped;		/* slots mapped since creation */
	uint64_t map_failed;		/* grant map answered with an error */
	uint64_t iova_failed;		/* mapped, but no IOVA known: not lent */
	uint64_t freed_fast;		/* released by the application in time */
	uint64_t aged_copyouts;		/* copied out because they lingered */
	uint64_t disconnect_copyouts;	/* copied out at disconnect */
	uint64_t copyout_fallback;	/* grant copy refused: memcpy from the mapping */
	uint64_t copyout_failed;	/* page could not be swapped: stays mapped */
	uint64_t hc_map;		/* platform calls */
	uint64_t hc_unmap;
	uint64_t hc_copy;
	uint64_t mapped_now;		/* slots holding a guest grant now */
	uint64_t held_now;		/* slots still referenced by mbufs */
	/* Age at release, in ms: <1, <10, <100, <aging window, >= window. */
	uint64_t age_hist[5];
};

/* One answer the caller owes the guest. */
struct xnb_lt_done {
	uint16_t id;
	int16_t status;			/* NETIF_RSP_OKAY or NETIF_RSP_ERROR */
};

/* nslots: pages lent at once, mapped or copied out; max_mapped (<= nslots):
 * the bound on those still holding a guest grant. aging_ms = 0 disables
 * aging (the "no tracker" baseline of the benchmarks). */
struct xnb_lt *xnb_lt_create(const char *name, const struct xnb_platform_ops *plat,
			     struct xnb_gnt *gnt, uint32_t nslots, uint32_t max_mapped,
			     uint32_t aging_ms, int socket_id);
/* Frees the tracker once no mbuf references a slot any more: if the
 * application still holds some, the last free callback completes it. */
void xnb_lt_destroy(struct xnb_lt *lt);

/* How many grants may be mapped now (free slots within max_mapped). */
uint32_t xnb_lt_slots_free(const struct xnb_lt *lt);

/* Slots holding a guest grant now (lent, held, freed and not yet
 * unmapped). Read without the tracker's lock: a hint for the service
 * tick's pace, not an account. */
uint64_t xnb_lt_grants_held(const struct xnb_lt *lt);

/*
 * Map n grants of domid in one platform call. For each i, slots[i] is the
 * slot now holding refs[i] (answer later with ids[i]) or UINT32_MAX if the
 * map failed (status[i] has the GNTST code; no slot is consumed). The caller
 * has checked xnb_lt_slots_free() >= n. Returns the number mapped.
 */
uint32_t xnb_lt_map(struct xnb_lt *lt, uint16_t domid, uint32_t n,
		    const uint32_t *refs, const uint16_t *ids,
		    uint32_t *slots, int16_t *status);

/* Lend bytes [off, off + len) of a slot's page to m as an external buffer.
 * Each slot is attached to exactly one mbuf; clones share it. */
void xnb_lt_attach(struct xnb_lt *lt, uint32_t slot, struct rte_mbuf *m,
		   uint16_t off, uint16_t len);

/*
 * For a segment lent by a tracker whose guest page is still mapped: pins
 * the grant (domid, gref) and gives the page offset of m's data, so TX can
 * grant-copy from it: Xen refuses a grant copy from a foreign page named by
 * its local address (Linux netback copies such pages by their grant too,
 * xen_page_foreign()). NULL for other buffers (use the address). While
 * pinned the grant is not released; xnb_lt_unpin once the copy is done,
 * before the mbuf may be freed. may_wait: false while the caller holds
 * other pins (see xnb_lifetime.c).
 */
struct xnb_slot *xnb_lt_pin(const struct rte_mbuf *m, bool may_wait, uint16_t *domid,
			    uint32_t *gref, uint16_t *off);
void xnb_lt_unpin(struct xnb_slot *s);

/* Give back a mapped slot that never reached an mbuf (the packet was dropped
 * after mapping): it is unmapped at the next reap and answered with status. */
void xnb_lt_cancel(struct xnb_lt *lt, uint32_t slot, int16_t status);

/* A lent segment of a packet that is dropped before the application sees
 * it: its request is answered NETIF_RSP_ERROR once the mbuf is freed.
 * Other mbufs are left alone. */
void xnb_lt_fail(const struct rte_mbuf *m);

/*
 * Housekeeping, from the rx burst or the idle tick, never concurrently
 * (the caller serialises): unmap slots the application freed (one batch),
 * copy out slots older than the window (one batched grant copy), and write
 * up to max answers into done[]. Returns the number of answers. When more are
 * ready than fit, the rest come with the next call.
 */
uint32_t xnb_lt_reap(struct xnb_lt *lt, struct xnb_lt_done *done, uint32_t max);

/*
 * Disconnect: copy out every slot still held, release every grant and return
 * all answers owed (as reap: call again until it returns 0). After it, no
 * guest page is mapped, but for slots whose copy-out failed: those become
 * stale, keep their grant until the application frees the mbuf and are
 * never answered (the next connection's ring must not see them).
 */
uint32_t xnb_lt_flush(struct xnb_lt *lt, struct xnb_lt_done *done, uint32_t max);

/* While no guest is connected (the tick): give back copied-out and stale
 * slots the application freed; anything that owes an answer waits. */
void xnb_lt_reap_idle(struct xnb_lt *lt);

void xnb_lt_stats_get(const struct xnb_lt *lt, struct xnb_lt_stats *st);
void xnb_lt_stats_reset(struct xnb_lt *lt);

#endif /* XNB_LIFETIME_H */
