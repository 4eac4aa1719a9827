/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * Private to the simulator: the control protocol between libxnbsim and
 * xnb-simd, and the layout of the memory they share. Control requests are
 * rare (attach, domain life, event-channel setup); grant operations and
 * notifications never go through the daemon, they work on shared memory.
 */

#ifndef XNBSIM_PROTO_H
#define XNBSIM_PROTO_H

#include <stdint.h>

#include "xnbsim.h"

#define SIM_CONTROL_SOCK	"control.sock"
#define SIM_PID_FILE		"simd.pid"

enum sim_op {
	SIM_HELLO = 1,		/* a0 = domid; fds: shared, ports, [ram, gnttab] */
	SIM_GET_DOMAIN,		/* a0 = domid; fds: ram, gnttab, active */
	SIM_DOMAIN_CREATE,	/* a0 = domid, a1 = pages */
	SIM_DOMAIN_DESTROY,	/* a0 = domid */
	SIM_VIF_ADD,		/* a0 = domid, a1 = handle, s0 = mac, s1 = script */
	SIM_VIF_REMOVE,		/* a0 = domid, a1 = handle */
	SIM_EVT_ALLOC,		/* a0 = remote domid; r1 = port; fd: its eventfd */
	SIM_EVT_BIND,		/* a0 = remote domid, a1 = remote port; r1, fd */
	SIM_EVT_CLOSE,		/* a0 = port */
	SIM_EVT_PEER,		/* a0 = local port; r1 = remote port; fds: its
				 * eventfd, its domain's ports */
	SIM_COST_SET,		/* cost */
};

struct sim_req {
	uint32_t op;
	uint32_t a0, a1;
	char s0[32];
	char s1[128];
	struct xnbsim_cost cost;
};

struct sim_rsp {
	int32_t rc;		/* 0 or -errno */
	uint32_t r1;
	uint32_t nfds;
};

/* Event-channel port states, Xen's ECS_* subset that matters here. */
enum {
	SIM_PORT_FREE = 0,
	SIM_PORT_UNBOUND,	/* remote_dom may bind to it */
	SIM_PORT_INTERDOMAIN,
};

#define SIM_PORT_PENDING	1u
#define SIM_PORT_MASKED		2u

struct sim_port {
	uint32_t state;
	uint16_t remote_dom;
	uint16_t pad;
	uint32_t remote_port;
	uint32_t flags;		/* SIM_PORT_PENDING | SIM_PORT_MASKED, atomic */
	uint32_t gen;		/* bumped at every bind/close */
	uint32_t pad2[3];	/* a power of two: no port straddles a page */
};

/* A domain's ports, a memfd of their own made with the domain: a process
 * maps its own domain's, and of a peer's only the page holding the port it
 * notifies. */
#define SIM_PORT_TABLE_SIZE	(XNBSIM_EVTCHN_PORTS * sizeof(struct sim_port))

struct sim_dom {
	uint32_t state;		/* XNBSIM_DOM_* */
	uint32_t gen;		/* bumped when a domain is created */
	uint32_t mem_pages;
	uint32_t pad;
	struct xnbsim_stats stats;	/* updated with atomics by everyone */
};

/* Faults a test injects (xnb-simctl fault): each counts down the calls
 * that fail. */
struct sim_fault {
	uint32_t replace;	/* xnbsim_unmap_replace: -ENOMEM, nothing moved */
};

/* The one region everybody maps (about 420 KB: testpmd's mlockall makes
 * it resident there, so it holds nothing per port). */
struct sim_shared {
	struct xnbsim_cost cost;
	struct sim_fault fault;
	struct sim_dom dom[XNBSIM_MAX_DOMAINS];
};

/* Pins on a grant entry, kept by the hypervisor side only (the guest never
 * maps this): GTF_reading/GTF_writing stay set while any pin remains. The
 * lock is Xen's active-entry lock; backends in several processes share it. */
struct sim_active {
	uint32_t lock;
	uint16_t readers;
	uint16_t writers;
};

#endif /* XNBSIM_PROTO_H */
