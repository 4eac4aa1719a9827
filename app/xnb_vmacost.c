/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * xnb-vmacost: what the host kernel charges a backend that maps guest pages
 * into its address space, measured here, so that the simulator's cost model
 * (syscall=, vma=; docs/simulator.md) charges what real gntdev mappings cost
 * in Linux's VMA code, not a guess. gntdev's grant work comes on top (the
 * model's hypercall and map/unmap prices); this is the part any mmap of
 * shared pages pays:
 *  - mmap of N pages of a memfd plus their munmap, for N = 1..256: a line
 *    fitted over N gives the price per call pair and per page;
 *  - a one-page munmap inside a 256-page mapping (a VMA split, what a
 *    batch mapping released page by page costs);
 *  - an mremap of a private page over one page of such a mapping (the
 *    aging copy-out's swap).
 * With --mlockall (default on, as dpdk-testpmd and ovs-vswitchd run),
 * every new mapping is populated and locked at mmap time.
 *
 * usage: xnb-vmacost [--no-mlockall] [--reps N]
 * Prints "vma: ..." lines and a suggested "cost syscall=NS vma=NS".
 */

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE		4096u
#define POOL_PAGES	16384u		/* 64 MiB of "guest memory" */
#define MAX_N		256u

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

static void *
map_range(int fd, uint32_t first, uint32_t n)
{
	void *p = mmap(NULL, (size_t)n * PAGE, PROT_READ, MAP_SHARED, fd,
		       (off_t)first * PAGE);

	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

/* ns per mmap + munmap pair of n pages, the median of reps. */
static double
pair_ns(int fd, uint32_t n, unsigned int reps)
{
	double *t = calloc(reps, sizeof(*t)), med;

	for (unsigned int r = 0; r < reps; r++) {
		uint32_t first = (uint32_t)rand() % (POOL_PAGES - n);
		uint64_t t0 = now_ns();
		void *p = map_range(fd, first, n);

		munmap(p, (size_t)n * PAGE);
		t[r] = (double)(now_ns() - t0);
	}
	for (unsigned int i = 1; i < reps; i++)
		for (unsigned int j = i; j > 0 && t[j - 1] > t[j]; j--) {
			double x = t[j];

			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	med = t[reps / 2];
	free(t);
	return med;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-mlockall", no_argument, NULL, 'n' },
		{ "reps", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned int reps = 200, lock = 1;
	double sx = 0, sy = 0, sxx = 0, sxy = 0, slope, icept;
	uint64_t t0, split = 0, swap = 0;
	unsigned int npts = 0;
	int fd, c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'n') {
			lock = 0;
		} else if (c == 'r') {
			reps = strtoul(optarg, NULL, 10);
		} else {
			fprintf(stderr, "usage: xnb-vmacost [--no-mlockall] [--reps N]\n");
			return 2;
		}
	}
	if (reps < 3)
		reps = 3;
	fd = memfd_create("xnb-vmacost", 0);
	if (fd < 0 || ftruncate(fd, (off_t)POOL_PAGES * PAGE) < 0) {
		perror("memfd");
		return 1;
	}
	/* Fill the pool so mappings find pages in the page cache. */
	{
		uint8_t *all = mmap(NULL, (size_t)POOL_PAGES * PAGE, PROT_READ | PROT_WRITE,
				    MAP_SHARED, fd, 0);

		memset(all, 0x5a, (size_t)POOL_PAGES * PAGE);
		munmap(all, (size_t)POOL_PAGES * PAGE);
	}
	if (lock && mlockall(MCL_CURRENT | MCL_FUTURE) < 0) {
		perror("mlockall");
		return 1;
	}
	srand(1);
	for (uint32_t n = 1; n <= MAX_N; n *= 2) {
		double y = pair_ns(fd, n, reps);

		printf("vma: mmap+munmap of %3u pages: %8.0f ns (%6.0f ns/page)\n", n, y,
		       y / n);
		sx += n;
		sy += y;
		sxx += (double)n * n;
		sxy += n * y;
		npts++;
	}
	slope = (npts * sxy - sx * sy) / (npts * sxx - sx * sx);
	icept = (sy - slope * sx) / npts;
	/* Splits: unmap one page at a time out of 256-page mappings. */
	for (unsigned int r = 0; r < reps / 20 + 1; r++) {
		uint8_t *p = map_range(fd, (uint32_t)rand() % (POOL_PAGES - MAX_N), MAX_N);

		t0 = now_ns();
		for (uint32_t i = 0; i < MAX_N; i += 2)
			munmap(p + (size_t)i * PAGE, PAGE);
		split += now_ns() - t0;
		for (uint32_t i = 1; i < MAX_N; i += 2)
			munmap(p + (size_t)i * PAGE, PAGE);
	}
	/* Swaps: a private page moved over one page of a mapping. */
	for (unsigned int r = 0; r < reps / 20 + 1; r++) {
		uint8_t *p = map_range(fd, (uint32_t)rand() % (POOL_PAGES - MAX_N), MAX_N);

		for (uint32_t i = 0; i < MAX_N; i += 2) {
			void *np = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

			t0 = now_ns();
			mremap(np, PAGE, PAGE, MREMAP_MAYMOVE | MREMAP_FIXED, p + (size_t)i * PAGE);
			swap += now_ns() - t0;
		}
		munmap(p, (size_t)MAX_N * PAGE);
	}
	printf("vma: fit over 1..%u pages: %.0f ns per mmap+munmap pair, %.0f ns per page\n",
	       MAX_N, icept, slope);
	printf("vma: one-page munmap splitting a %u-page mapping: %.0f ns\n", MAX_N,
	       (double)split / ((reps / 20 + 1) * (MAX_N / 2)));
	printf("vma: one-page mremap over a page of a %u-page mapping: %.0f ns\n", MAX_N,
	       (double)swap / ((reps / 20 + 1) * (MAX_N / 2)));
	printf("vma: mlockall %s\n", lock ? "on (as dpdk-testpmd)" : "off");
	{
		/* The model's prices (libsim.c): a call, a page, a split (two per
		 * one-page munmap inside a mapping), a swap as measured. */
		double sys = icept / 2 > 0 ? icept / 2 : 0, page = slope > 0 ? slope : 0;
		double one = (double)split / ((reps / 20 + 1) * (MAX_N / 2));
		double split_ns = (one - sys - page) / 2;

		printf("cost syscall=%.0f vma=%.0f split=%.0f swap=%.0f\n", sys, page,
		       split_ns > 0 ? split_ns : 0,
		       (double)swap / ((reps / 20 + 1) * (MAX_N / 2)));
	}
	close(fd);
	return 0;
}
