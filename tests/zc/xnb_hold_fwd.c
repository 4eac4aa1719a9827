/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * xnb-hold --fwd: the forwarding application of the hostile and race tests.
 * Its base is dpdk-testpmd's io forwarding in a loop topology (each port
 * sends back what it receives, retry-free: what tx_burst refuses is freed
 * and counted), with DPDK telemetry on so the tests read /ethdev/stats and
 * /ethdev/xstats as they do from testpmd. On top, what testpmd cannot do
 * and a real switch does:
 *  - hold frames for a while before forwarding them (the guest pages of a
 *    zero-copy frame stay lent meanwhile: aged copy-outs, a full arena);
 *  - poll with nb_pkts above the driver's internal batch of 32 (VPP asks
 *    for 256), fixed or random per call;
 *  - pause between polls (the driver's service tick then does the work);
 *  - have the polling thread preempted often, at arbitrary points of its
 *    bursts (--preempt: a real-time thread on its CPU, as interrupts or a
 *    higher-priority task would), so the driver's service tick runs while
 *    a burst is stopped half-way;
 *  - sleep when every port is quiet (--intr: rx interrupt mode, as
 *    l3fwd-power does; testpmd has no such mode): what idle ports cost an
 *    application that does not poll.
 * Being built in-tree, it is also the host of the driver under ASan/UBSan
 * (the distro testpmd cannot load a sanitized plugin); it frees everything
 * it allocated before rte_eal_cleanup so LeakSanitizer sees no leak.
 *
 * It checks nothing itself; it prints one "fwd:" line per port at exit and,
 * with --stats FILE, the same as JSON. Exit status 0 unless setup failed.
 */

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_random.h>

#include "xnb_hold.h"

#define FWD_MAX_PORTS	32	/* --hold-ports is a 32-bit mask */
#define FWD_MAX_BURST	512
#define FWD_HOLD_CAP	16384	/* frames held at once; more are forwarded */
#define FWD_NB_MBUFS	16383	/* as testpmd's --total-num-mbufs=16384 */

struct fwd_port_stats {
	uint64_t rx, tx, dropped, held;
};

/* Frames waiting out their hold, oldest first (one hold time for all). */
struct fwd_fifo {
	struct rte_mbuf *m[FWD_HOLD_CAP];
	uint64_t due[FWD_HOLD_CAP];
	uint32_t head, tail;	/* free-running */
};

static struct {
	unsigned int hold_ms;
	unsigned int hold_every;
	uint32_t hold_ports;	/* bit mask */
	unsigned int burst_min, burst_max;
	unsigned int pause_min_us, pause_max_us;
	unsigned int pause_every;	/* mean polls between pauses, 0: none */
	unsigned int preempt_run_us, preempt_period_us;	/* --preempt */
	double duration;
	const char *stats;
	int intr;
} fo = {
	.hold_every = 1, .hold_ports = UINT32_MAX, .burst_min = 32, .burst_max = 32,
};

static volatile sig_atomic_t fwd_stop;
static uint16_t nports;
static struct fwd_port_stats pst[FWD_MAX_PORTS];
static uint64_t polls, pauses, hold_full, max_held;
static uint64_t sleeps, wakeups;	/* --intr */
static struct fwd_fifo *fifo;
static uint64_t seq[FWD_MAX_PORTS];

static void
fwd_on_signal(int sig)
{
	fwd_stop = sig;
}

/* Sends pkts back to the ports they came from (runs of one port per
 * tx_burst); frees and counts what a port does not take. */
static void
fwd_send(struct rte_mbuf **pkts, uint32_t n)
{
	uint32_t i = 0;

	while (i < n) {
		uint16_t port = pkts[i]->port;
		uint32_t j = i, sent;

		while (j < n && pkts[j]->port == port && j - i < UINT16_MAX)
			j++;
		sent = rte_eth_tx_burst(port, 0, pkts + i, (uint16_t)(j - i));
		pst[port].tx += sent;
		if (sent < j - i) {
			pst[port].dropped += j - i - sent;
			rte_pktmbuf_free_bulk(pkts + i + sent, j - i - sent);
		}
		i = j;
	}
}

/* Forwards what is due (all with all). */
static void
fwd_release(bool all)
{
	struct rte_mbuf *out[FWD_MAX_BURST];
	uint64_t now = rte_get_tsc_cycles();
	uint32_t n = 0;

	while (fifo->head != fifo->tail) {
		uint32_t i = fifo->head % FWD_HOLD_CAP;

		if (!all && (int64_t)(now - fifo->due[i]) < 0)
			break;
		out[n++] = fifo->m[i];
		fifo->head++;
		if (n == FWD_MAX_BURST) {
			fwd_send(out, n);
			n = 0;
		}
	}
	fwd_send(out, n);
}

/* Holds the frames that are to be held, forwards the rest at once. */
static void
fwd_stage(struct rte_mbuf **pkts, uint32_t n)
{
	struct rte_mbuf *out[FWD_MAX_BURST];
	uint64_t due = rte_get_tsc_cycles() + fo.hold_ms * rte_get_tsc_hz() / 1000;
	uint32_t nout = 0;

	for (uint32_t k = 0; k < n; k++) {
		struct rte_mbuf *m = pkts[k];
		uint16_t p = m->port;
		bool hold = fo.hold_ms > 0 && (fo.hold_ports >> p & 1) &&
			    seq[p]++ % fo.hold_every == 0;

		if (hold && fifo->tail - fifo->head < FWD_HOLD_CAP) {
			uint32_t i = fifo->tail++ % FWD_HOLD_CAP;

			fifo->m[i] = m;
			fifo->due[i] = due;
			pst[p].held++;
			continue;
		}
		if (hold)
			hold_full++;
		out[nout++] = m;
	}
	if (fifo->tail - fifo->head > max_held)
		max_held = fifo->tail - fifo->head;
	fwd_send(out, nout);
}

static unsigned int
fwd_burst_size(void)
{
	if (fo.burst_max == fo.burst_min)
		return fo.burst_min;
	return fo.burst_min + (unsigned int)rte_rand_max(fo.burst_max - fo.burst_min + 1);
}

/*
 * --preempt RUN:PERIOD: a real-time thread on the polling thread's CPU that
 * wakes every PERIOD us and keeps the CPU for RUN us, as an interrupt
 * handler or a higher-priority task would: the poller is stopped at
 * arbitrary points of its bursts, often, for long enough that the driver's
 * service tick (another thread, every 10 ms) runs meanwhile.
 */
static volatile int preempt_stop;
static uint64_t preemptions;

static void *
fwd_preempt_main(void *arg __rte_unused)
{
	uint64_t hz = rte_get_tsc_hz();
	struct timespec next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	while (!preempt_stop) {
		uint64_t until;

		next.tv_nsec += (long)fo.preempt_period_us * 1000;
		while (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		until = rte_get_tsc_cycles() + fo.preempt_run_us * hz / 1000000;
		while (rte_get_tsc_cycles() < until)
			rte_pause();
		preemptions++;
	}
	return NULL;
}

static int
fwd_preempt_start(pthread_t *t)
{
	struct sched_param sp = { .sched_priority = 1 };
	pthread_attr_t a;
	rte_cpuset_t cpus;
	int rc;

	/* The CPU of the polling thread (this one). */
	if (pthread_getaffinity_np(pthread_self(), sizeof(cpus), &cpus) != 0)
		return -errno;
	pthread_attr_init(&a);
	pthread_attr_setaffinity_np(&a, sizeof(cpus), &cpus);
	pthread_attr_setinheritsched(&a, PTHREAD_EXPLICIT_SCHED);
	pthread_attr_setschedpolicy(&a, SCHED_FIFO);
	pthread_attr_setschedparam(&a, &sp);
	rc = pthread_create(t, &a, fwd_preempt_main, NULL);
	pthread_attr_destroy(&a);
	return -rc;
}

/* One poll of every port; returns the frames taken. */
static uint32_t
fwd_poll(void)
{
	struct rte_mbuf *pkts[FWD_MAX_BURST];
	uint32_t got = 0;

	for (uint16_t p = 0; p < nports; p++) {
		uint16_t n = rte_eth_rx_burst(p, 0, pkts, (uint16_t)fwd_burst_size());

		pst[p].rx += n;
		got += n;
		fwd_stage(pkts, n);
	}
	polls++;
	return got;
}

/* --intr, every port quiet and nothing held: arm every queue's interrupt,
 * poll once more (a request may have come before its ring was armed), then
 * sleep until a guest sends or 100 ms pass. */
static void
fwd_sleep(void)
{
	struct rte_epoll_event ev[FWD_MAX_PORTS];

	for (uint16_t p = 0; p < nports; p++)
		rte_eth_dev_rx_intr_enable(p, 0);
	if (fwd_poll() == 0) {
		sleeps++;
		if (rte_epoll_wait(RTE_EPOLL_PER_THREAD, ev, nports, 100) > 0)
			wakeups++;
	}
	for (uint16_t p = 0; p < nports; p++)
		rte_eth_dev_rx_intr_disable(p, 0);
}

static void
fwd_loop(void)
{
	uint64_t end = fo.duration > 0 ?
		rte_get_tsc_cycles() + (uint64_t)(fo.duration * rte_get_tsc_hz()) : 0;

	while (!fwd_stop && (end == 0 || rte_get_tsc_cycles() < end)) {
		if (fwd_poll() == 0 && fo.intr && fifo->head == fifo->tail)
			fwd_sleep();
		fwd_release(false);
		if (fo.pause_every > 0 && rte_rand_max(fo.pause_every) == 0) {
			unsigned int us = fo.pause_min_us + (unsigned int)
				rte_rand_max(fo.pause_max_us - fo.pause_min_us + 1);

			pauses++;
			rte_delay_us_sleep(us);
		}
	}
}

static int
fwd_range(const char *s, unsigned int *lo, unsigned int *hi)
{
	char *end;

	*lo = (unsigned int)strtoul(s, &end, 0);
	*hi = *lo;
	if (*end == ':')
		*hi = (unsigned int)strtoul(end + 1, &end, 0);
	return *end != '\0' || *hi < *lo ? -EINVAL : 0;
}

static int
fwd_mask(const char *s, uint32_t *mask)
{
	char *end;

	*mask = 0;
	for (;;) {
		unsigned long p = strtoul(s, &end, 0);

		if (end == s || p >= FWD_MAX_PORTS)
			return -EINVAL;
		*mask |= 1u << p;
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return -EINVAL;
		s = end + 1;
	}
}

static int
fwd_opts(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "fwd", no_argument, NULL, 'f' },
		{ "hold-ms", required_argument, NULL, 'm' },
		{ "hold-every", required_argument, NULL, 'e' },
		{ "hold-ports", required_argument, NULL, 'p' },
		{ "burst", required_argument, NULL, 'b' },
		{ "pause-us", required_argument, NULL, 'u' },
		{ "pause-every", required_argument, NULL, 'E' },
		{ "preempt", required_argument, NULL, 'P' },
		{ "duration", required_argument, NULL, 'd' },
		{ "stats", required_argument, NULL, 's' },
		{ "intr", no_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'f': break;
		case 'm': fo.hold_ms = (unsigned int)atoi(optarg); break;
		case 'e': fo.hold_every = (unsigned int)atoi(optarg); break;
		case 'p':
			if (fwd_mask(optarg, &fo.hold_ports) < 0)
				return -EINVAL;
			break;
		case 'b':
			if (fwd_range(optarg, &fo.burst_min, &fo.burst_max) < 0)
				return -EINVAL;
			break;
		case 'u':
			if (fwd_range(optarg, &fo.pause_min_us, &fo.pause_max_us) < 0)
				return -EINVAL;
			break;
		case 'E': fo.pause_every = (unsigned int)atoi(optarg); break;
		case 'P':
			if (fwd_range(optarg, &fo.preempt_run_us, &fo.preempt_period_us) < 0 ||
			    fo.preempt_run_us >= fo.preempt_period_us)
				return -EINVAL;
			break;
		case 'd': fo.duration = atof(optarg); break;
		case 's': fo.stats = optarg; break;
		case 'i': fo.intr = 1; break;
		default: return -EINVAL;
		}
	}
	if (optind != argc || fo.hold_every == 0 || fo.burst_min == 0 ||
	    fo.burst_max > FWD_MAX_BURST)
		return -EINVAL;
	return 0;
}

static void
fwd_report(void)
{
	FILE *f = fo.stats != NULL ? fopen(fo.stats, "w") : NULL;

	if (f != NULL)
		fprintf(f, "{\"polls\":%" PRIu64 ",\"pauses\":%" PRIu64 ",\"preemptions\":%"
			PRIu64 ",\"hold_full\":%" PRIu64 ",\"max_held\":%" PRIu64
			",\"sleeps\":%" PRIu64 ",\"wakeups\":%" PRIu64 ",\"ports\":[",
			polls, pauses, preemptions, hold_full, max_held, sleeps, wakeups);
	for (uint16_t p = 0; p < nports; p++) {
		printf("fwd: port %u rx %" PRIu64 " tx %" PRIu64 " dropped %" PRIu64
		       " held %" PRIu64 "\n", p, pst[p].rx, pst[p].tx, pst[p].dropped,
		       pst[p].held);
		if (f != NULL)
			fprintf(f, "%s{\"rx\":%" PRIu64 ",\"tx\":%" PRIu64 ",\"dropped\":%"
				PRIu64 ",\"held\":%" PRIu64 "}", p ? "," : "", pst[p].rx,
				pst[p].tx, pst[p].dropped, pst[p].held);
	}
	if (fo.preempt_period_us > 0)
		printf("fwd: the poller was preempted %" PRIu64 " times\n", preemptions);
	if (fo.intr)
		printf("fwd: slept %" PRIu64 " times, woken by a guest %" PRIu64 " times\n",
		       sleeps, wakeups);
	printf("fwd: %" PRIu64 " polls, %" PRIu64 " pauses, at most %" PRIu64
	       " frames held, %" PRIu64 " not held (full)\n", polls, pauses, max_held,
	       hold_full);
	if (f != NULL) {
		fprintf(f, "]}\n");
		fclose(f);
	}
	fflush(stdout);
}

int
xnb_hold_fwd(int argc, char **argv)
{
	/* Scatter: zero copy lends pages as segments of a chain. */
	struct rte_eth_conf conf = { .rxmode.offloads = RTE_ETH_RX_OFFLOAD_SCATTER };
	struct rte_mempool *mp;
	struct sigaction sa;
	pthread_t preempter;
	int rc = 1;

	if (fwd_opts(argc, argv) < 0) {
		printf("hold: FAIL: usage: xnb-hold EAL-args -- --fwd [--hold-ms MS] "
		       "[--hold-every N] [--hold-ports P,...] [--burst N[:MAX]] "
		       "[--pause-us MIN:MAX --pause-every N] [--preempt RUN_US:PERIOD_US] "
		       "[--duration S] [--stats FILE] [--intr]\n");
		return 1;
	}
	nports = rte_eth_dev_count_avail();
	if (nports == 0 || nports > FWD_MAX_PORTS) {
		printf("hold: FAIL: %u ports (1..%u)\n", nports, FWD_MAX_PORTS);
		return 1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fwd_on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	fifo = calloc(1, sizeof(*fifo));
	mp = rte_pktmbuf_pool_create("fwd", FWD_NB_MBUFS, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
				     rte_socket_id());
	if (fifo == NULL || mp == NULL) {
		printf("hold: FAIL: out of memory\n");
		goto out;
	}
	conf.intr_conf.rxq = fo.intr;
	for (uint16_t p = 0; p < nports; p++) {
		if (rte_eth_dev_configure(p, 1, 1, &conf) != 0 ||
		    rte_eth_rx_queue_setup(p, 0, 512, rte_socket_id(), NULL, mp) != 0 ||
		    rte_eth_tx_queue_setup(p, 0, 512, rte_socket_id(), NULL) != 0 ||
		    rte_eth_dev_start(p) != 0 ||
		    (fo.intr && rte_eth_dev_rx_intr_ctl_q(p, 0, RTE_EPOLL_PER_THREAD,
							  RTE_INTR_EVENT_ADD, NULL) != 0)) {
			printf("hold: FAIL: port %u setup\n", p);
			goto close;
		}
	}
	printf("hold: forwarding on %u port(s): hold %u ms (1 in %u, ports 0x%x), burst "
	       "%u..%u, pauses %u..%u us (1 in %u polls), preempted %u of every %u us\n",
	       nports, fo.hold_ms, fo.hold_every, fo.hold_ports, fo.burst_min, fo.burst_max,
	       fo.pause_min_us, fo.pause_max_us, fo.pause_every, fo.preempt_run_us,
	       fo.preempt_period_us);
	fflush(stdout);
	if (fo.preempt_period_us > 0) {
		int e = fwd_preempt_start(&preempter);

		if (e < 0) {
			printf("hold: FAIL: --preempt: %s\n", strerror(-e));
			goto close;
		}
	}
	fwd_loop();
	if (fo.preempt_period_us > 0) {
		preempt_stop = 1;
		pthread_join(preempter, NULL);
	}
	/* What is still held goes back to the pool, not out: the guests may
	 * be gone. */
	while (fifo->head != fifo->tail)
		rte_pktmbuf_free(fifo->m[fifo->head++ % FWD_HOLD_CAP]);
	rc = 0;
close:
	for (uint16_t p = 0; p < nports; p++) {
		rte_eth_dev_stop(p);
		rte_eth_dev_close(p);
	}
out:
	fwd_report();
	rte_mempool_free(mp);
	free(fifo);
	return rc;
}
