/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * xnb-simctl: the toolstack of the simulated hypervisor (what xl is to Xen),
 * so shell tests and the demo can create domains and vifs, destroy them and
 * read the hypervisor's counters.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "xnbsim.h"

static void
usage(void)
{
	fprintf(stderr,
		"usage: xnb-simctl --dir DIR COMMAND ...\n"
		"  create DOMID [--mem PAGES]       a guest domain (default 16384 pages)\n"
		"  destroy DOMID                     xl destroy\n"
		"  vif-add DOMID HANDLE [--mac M] [--script S]\n"
		"  vif-remove DOMID HANDLE\n"
		"  fault replace N                   the next N page swaps fail (ENOMEM)\n"
		"  stats DOMID                       key=value counters\n"
		"  cost [hypercall=NS,map=NS,unmap=NS,flush=NS,copy=NS,kib=NS,\n"
		"        syscall=NS,vma=NS,split=NS,swap=NS]\n"
		"  wait-gone DOMID [--timeout S]     until no one maps its pages\n");
	exit(2);
}

static unsigned long
num(const char *s, unsigned long max)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (*s == '\0' || *end != '\0' || v > max) {
		fprintf(stderr, "xnb-simctl: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static const char *
opt(int argc, char **argv, int from, const char *name)
{
	for (int i = from; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

static int
print_stats(struct xnbsim *sim, uint16_t d)
{
	static const char *const state[] = { "none", "running", "zombie" };
	struct xnbsim_stats st;
	int rc = xnbsim_stats(sim, d, &st);

	if (rc < 0)
		return rc;
	printf("state=%s\nhc_map=%lu\nhc_unmap=%lu\nhc_copy=%lu\nhc_evtchn_send=%lu\n"
	       "op_map=%lu\nop_unmap=%lu\nop_copy=%lu\nop_failed=%lu\nbytes_copied=%lu\n"
	       "grants_mapped=%u\nevtchn_bound=%u\n",
	       st.state < 3 ? state[st.state] : "?",
	       (unsigned long)st.hc_map, (unsigned long)st.hc_unmap,
	       (unsigned long)st.hc_copy, (unsigned long)st.hc_evtchn_send,
	       (unsigned long)st.op_map, (unsigned long)st.op_unmap,
	       (unsigned long)st.op_copy, (unsigned long)st.op_failed,
	       (unsigned long)st.bytes_copied, st.grants_mapped, st.evtchn_bound);
	return 0;
}

int
main(int argc, char **argv)
{
	struct xnbsim *sim;
	const char *dir, *cmd, *v;
	int rc = 0;

	if (argc < 4 || strcmp(argv[1], "--dir") != 0)
		usage();
	dir = argv[2];
	cmd = argv[3];
	sim = xnbsim_open(dir, 0);
	if (sim == NULL) {
		fprintf(stderr, "xnb-simctl: no simulator in %s: %s\n", dir,
			strerror(errno));
		return 1;
	}
	if (strcmp(cmd, "create") == 0 && argc >= 5) {
		v = opt(argc, argv, 5, "--mem");
		rc = xnbsim_domain_create(sim, num(argv[4], XNBSIM_MAX_DOMAINS - 1),
					  v ? num(v, 1u << 22) : 16384);
	} else if (strcmp(cmd, "destroy") == 0 && argc >= 5) {
		rc = xnbsim_domain_destroy(sim, num(argv[4], XNBSIM_MAX_DOMAINS - 1));
	} else if (strcmp(cmd, "vif-add") == 0 && argc >= 6) {
		rc = xnbsim_vif_add(sim, num(argv[4], XNBSIM_MAX_DOMAINS - 1),
				    num(argv[5], 0xffff), opt(argc, argv, 6, "--mac"),
				    opt(argc, argv, 6, "--script"));
	} else if (strcmp(cmd, "vif-remove") == 0 && argc >= 6) {
		rc = xnbsim_vif_remove(sim, num(argv[4], XNBSIM_MAX_DOMAINS - 1),
				       num(argv[5], 0xffff));
	} else if (strcmp(cmd, "fault") == 0 && argc >= 6) {
		rc = xnbsim_fault_set(sim, argv[4], num(argv[5], UINT32_MAX));
	} else if (strcmp(cmd, "stats") == 0 && argc >= 5) {
		rc = print_stats(sim, num(argv[4], XNBSIM_MAX_DOMAINS - 1));
	} else if (strcmp(cmd, "cost") == 0) {
		struct xnbsim_cost c;

		xnbsim_cost_get(sim, &c);
		if (argc >= 5) {
			if (xnbsim_cost_parse(argv[4], &c) < 0)
				usage();
			rc = xnbsim_cost_set(sim, &c);
		}
		{
			char spec[256];

			xnbsim_cost_format(&c, spec, sizeof(spec));
			printf("%s\n", spec);
		}
	} else if (strcmp(cmd, "wait-gone") == 0 && argc >= 5) {
		uint16_t d = num(argv[4], XNBSIM_MAX_DOMAINS - 1);
		double limit = (v = opt(argc, argv, 5, "--timeout")) ? atof(v) : 10;
		struct xnbsim_stats st;

		rc = -ETIMEDOUT;
		for (double t = 0; t < limit; t += 0.05) {
			xnbsim_stats(sim, d, &st);
			if (st.state == XNBSIM_DOM_NONE) {
				rc = 0;
				break;
			}
			usleep(50000);
		}
	} else {
		usage();
	}
	xnbsim_close(sim);
	if (rc < 0) {
		fprintf(stderr, "xnb-simctl %s: %s\n", cmd, strerror(-rc));
		return 1;
	}
	return 0;
}
