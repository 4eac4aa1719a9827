/* SPDX-License-Identifier: BSD-3-Clause
 * Copyright(c) 2026 The xennetback authors
 */

/*
 * xnb-guest: one simulated guest with one vif, as the traffic source, sink
 * or reflector of a test or benchmark. Drives the netfront library from one
 * thread (event-driven, or spinning with --busy-poll) and prints one JSON
 * summary line at exit so scripts can assert on it. docs/guest.md has the
 * flags and the summary fields.
 */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "netfront.h"
#include "nf_frame.h"
#include "nf_hash.h"
#include "nf_xen.h"
#include "xnbsim.h"

#define BURST		32u
#define RX_BUDGET	64u
#define REFLECT_DEPTH	1024u	/* packets a reflector holds for a full ring */
#define MAX_FLOWS	256u
#define MAX_DST		8u	/* --dst-mac list */
#define MAX_MCAST_OPS	128u	/* --mcast-add/--mcast-del/--mcast-fill */
#define MAX_GROUPS	16u	/* group destinations counted apart */
#define CTRL_TIMEOUT_MS	5000
#define NF_PAGE_MAX_KEY	256	/* --hash-key bytes (more than a backend takes) */

enum mode { MODE_GEN, MODE_SINK, MODE_REFLECT, MODE_LOOP };
static const char *const mode_names[] = { "gen", "sink", "reflect", "loop" };

enum layout_opt { LAYOUT_LINEAR, LAYOUT_SCATTER, LAYOUT_MIX };

struct opts {
	const char *sim;
	int domid;
	unsigned int handle;
	bool create;
	unsigned int mem;
	enum mode mode;
	uint32_t size;		/* 0: mix */
	uint64_t count;		/* 0: unlimited */
	double duration;	/* 0: unlimited */
	double rate;		/* frames per second, 0: flat out */
	unsigned int queues;
	unsigned int flows;
	bool split;
	bool csum;
	bool gso;
	bool busy;
	int stream;
	const char *summary;
	double stats_interval;
	enum layout_opt layout;
	uint8_t dst_mac[6];
	double timeout;		/* give up after this long (exit 2) */
	double linger;		/* wait for stragglers after the last TX */
	double stall_warn;
	bool quiet;
	const char *evil;	/* a misbehaviour (nf_evil.c) instead of a mode */
	double evil_linger;
	bool tcp;
	bool ipv6;
	uint8_t dst_macs[MAX_DST][6];
	unsigned int ndst;
	/* netif features we take or decline */
	bool no_csum_offload;
	bool no_ipv6_csum;
	/* the control ring and what we set on it at each connect */
	bool ctrl_ring;
	bool hash;		/* set a hash (any --hash-* option) */
	uint32_t hash_alg;
	uint32_t hash_types;
	uint8_t hash_key[NF_PAGE_MAX_KEY];
	uint32_t hash_key_len;
	bool hash_key_set, hash_key_none;	/* --hash-key given / "none" */
	uint32_t map_size;
	uint32_t map[NF_HASH_MAPPING_MAX];
	unsigned int nmap;	/* 0: spread over the queues */
	/* multicast filter */
	bool mcast_ctrl;
	struct mcast_op {
		double at;	/* seconds after link up */
		bool add;
		uint8_t mac[6];
	} mcast_ops[MAX_MCAST_OPS];
	unsigned int nmcast;
	/* a stalled RX side: stop posting buffers at rx_stop_at for rx_stop_for */
	double rx_stop_at, rx_stop_for;
	/* drop the connection and ask for a new one (once) */
	double reconnect_at, reconnect_closed;
	bool selftest;
};

/* A frame built but not yet accepted by the ring. */
struct pending {
	uint8_t *buf;
	struct nf_tx_pkt pkt;
};

struct txq {
	struct pending p[BURST];
	unsigned int n;		/* built, waiting */
	unsigned int next_flow;	/* round robin over this queue's flows */
};

struct reflect_q {
	struct {
		uint8_t *buf;
		uint32_t cap;
		struct nf_tx_pkt pkt;
	} e[REFLECT_DEPTH];
	unsigned int head, tail;	/* free-running */
};

struct guest {
	struct opts o;
	struct nf_dev *dev;
	struct nf_gen gen;
	uint64_t flow_seq[MAX_FLOWS];
	uint64_t generated;	/* frames built */
	uint64_t sent;		/* frames accepted by the ring */
	struct txq txq[NF_MAX_QUEUES];
	struct reflect_q *rq[NF_MAX_QUEUES];
	uint64_t reflect_dropped;
	uint64_t reflected;

	struct nf_seqtrack *seq;
	uint64_t verr[NF_VERR__MAX];
	uint64_t verified;
	uint64_t rx_seen;	/* frames handed to us, any kind */

	/* hash and steering checks of received frames */
	uint64_t rx_queue[NF_MAX_QUEUES];
	uint64_t hash_ok, hash_bad, hash_missing, hash_unexpected, hash_none;
	uint64_t hash_early;	/* hash extras before our settings were acknowledged */
	uint64_t steer_ok, steer_bad;
	uint64_t hash_cfg_errors;	/* requests at connect not answered SUCCESS */
	uint64_t hash_cfg_gen;		/* the hash state's generation once all took */
	uint64_t hash_cfg_done;		/* connects whose settings all took */
	uint64_t connects_seen;
	uint64_t t_link;	/* the latest link up */
	bool mcast_done[MAX_MCAST_OPS];
	unsigned int mcast_left;
	uint64_t mcast_send_errors;
	/* frames per group destination (and broadcast), both directions */
	struct dst_count {
		uint8_t mac[6];
		uint64_t tx, rx;
	} dst[MAX_GROUPS];
	unsigned int ndstc;
	bool reconnected;
	bool rx_stopped, rx_stop_done;
	uint64_t t_rx_stop, rx_stopped_ns;

	uint64_t t_begin;	/* program start, for --timeout */
	uint64_t t_start;	/* first link up: rates are over traffic time */
	uint64_t t_gen_end, t_last_rx, t_last_progress;
	bool stalled;
	unsigned int nq_final;
	struct nf_hist wait;	/* copied out before the device goes */
	struct nf_backend_features feat_final;
	const struct nf_backend_features *dev_feat;	/* feat_final, for the summary */
};

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

static void
usage(FILE *f)
{
	fprintf(f,
"usage: xnb-guest --sim DIR --domid N --mode gen|sink|reflect|loop [options]\n"
"  --handle H          vif handle (0)\n"
"  --create [--mem P]  create the domain and vif, destroy them at exit\n"
"  --size N|mix        frame length 60..65535 without FCS, or the size mix (60)\n"
"  --count N           stop after N frames (sent for gen/loop, received for\n"
"                      sink, reflected for reflect)\n"
"  --duration S        stop after S seconds of traffic\n"
"  --rate PPS          frames per second (default: as fast as possible)\n"
"  --queues Q          queues to ask for (1); --flows F flows (default Q)\n"
"  --split-evtchn      separate TX/RX event channels when offered\n"
"  --csum              leave L4 checksums to the backend (csum_blank)\n"
"  --gso               frames above 1514 B as 64 KiB-style TCP with GSO extra\n"
"  --layout linear|scatter|mix  how TX frames are cut into slots (linear)\n"
"  --busy-poll         spin instead of sleeping on the event channel\n"
"  --stream ID         stream id in the payload (default: domid)\n"
"  --dst-mac MAC       destination MAC (ff:ff:ff:ff:ff:ff)\n"
"  --summary FILE      also write the JSON summary line to FILE\n"
"  --stats-interval S  progress line on stderr every S seconds\n"
"  --linger S          after the last TX, wait S s for missing RX (2)\n"
"  --stall-warn S      warn when the backend answers nothing for S s (5)\n"
"  --timeout S         give up after S s in total (exit status 2)\n"
"  --quiet             no state messages\n"
"  --evil NAME         misbehave (docs/hostile.md) instead of --mode, then die\n"
"                      without closing; --evil list names them\n"
"  --evil-linger S     watch the backend's answer up to S s (2)\n"
"  --tcp, --ipv6       TCP frames (not only GSO ones), IPv6 frames\n"
"  --dst-mac MAC,...   several: flow f goes to the (f mod n)-th\n"
"  --no-csum-offload   write feature-no-csum-offload=1 (csum_blank refused)\n"
"  --no-ipv6-csum      withhold feature-ipv6-csum-offload\n"
"  --ctrl-ring         give the backend a control ring (feature-ctrl-ring)\n"
"  --hash-types T,...  ipv4,ipv4-tcp,ipv6,ipv6-tcp or all: set on the control\n"
"                      ring at each connect, and check every received frame's\n"
"                      hash extra and queue against our own Toeplitz\n"
"  --hash-alg A        toeplitz (default with --hash-types) or none\n"
"  --hash-key HEX|default  the key (default: the 40-byte RSS key)\n"
"  --hash-mapping-size N   mapping entries (0: hash mod queues)\n"
"  --hash-mapping Q,...|spread  the table (spread: entry i = i mod queues)\n"
"  --mcast-ctrl        request-multicast-control (filtering) when offered\n"
"  --mcast-add MAC[@S], --mcast-del MAC@S  filter requests S s after link up\n"
"  --mcast-fill N      add N distinct group addresses at link up\n"
"  --rx-stop S[:D]     stop posting RX buffers S s after link up, for D s\n"
"                      (default: until the end)\n"
"  --reconnect S[:C]   S s after link up, drop the connection (as on resume)\n"
"                      and, after C s Closed (0), ask for a new one\n"
"  --selftest          check the reference hash and frame builder, exit\n");
}

static int
parse_hex(const char *s, uint8_t *out, uint32_t cap, uint32_t *len)
{
	uint32_t n = 0;

	while (s[0] != '\0' && s[1] != '\0') {
		unsigned int b;

		if (s[0] == ':' || s[0] == ',') {
			s++;
			continue;
		}
		if (n == cap || sscanf(s, "%2x", &b) != 1)
			return -EINVAL;
		out[n++] = (uint8_t)b;
		s += 2;
	}
	if (*s != '\0')
		return -EINVAL;
	*len = n;
	return 0;
}

static int
parse_hash_types(const char *s, uint32_t *types)
{
	static const struct {
		const char *name;
		uint32_t bits;
	} t[] = {
		{ "ipv4", XEN_NETIF_CTRL_HASH_TYPE_IPV4 },
		{ "ipv4-tcp", XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP },
		{ "ipv6", XEN_NETIF_CTRL_HASH_TYPE_IPV6 },
		{ "ipv6-tcp", XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP },
		{ "all", 0xf },
		{ "none", 0 },
	};
	char buf[128], *tok, *save;

	snprintf(buf, sizeof(buf), "%s", s);
	*types = 0;
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
			if (strcmp(tok, t[i].name) == 0)
				break;
		if (i == sizeof(t) / sizeof(t[0]))
			return -EINVAL;
		*types |= t[i].bits;
	}
	return 0;
}

/* "AT[:FOR]" in seconds (FOR 0 when left out): 0, or -EINVAL unless AT > 0. */
static int
parse_at_for(const char *s, double *at, double *for_s)
{
	char *colon;

	*at = strtod(s, &colon);
	*for_s = *colon == ':' ? atof(colon + 1) : 0;
	return *at > 0 ? 0 : -EINVAL;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	enum {
		O_SIM = 256, O_DOMID, O_HANDLE, O_CREATE, O_MEM, O_MODE, O_SIZE,
		O_COUNT, O_DURATION, O_RATE, O_QUEUES, O_FLOWS, O_SPLIT, O_CSUM,
		O_GSO, O_BUSY, O_STREAM, O_SUMMARY, O_STATS, O_LAYOUT, O_DST,
		O_TIMEOUT, O_LINGER, O_STALL, O_QUIET, O_EVIL, O_EVIL_LINGER, O_HELP,
		O_TCP, O_IPV6, O_NO_CSUM, O_NO_V6CSUM, O_CTRL, O_HASH_ALG, O_HASH_TYPES,
		O_HASH_KEY, O_MAP_SIZE, O_MAP, O_MCAST_CTRL, O_MCAST_ADD, O_MCAST_DEL,
		O_MCAST_FILL, O_RX_STOP, O_SELFTEST, O_RECONNECT,
	};
	static const struct option lo[] = {
		{ "sim", required_argument, NULL, O_SIM },
		{ "domid", required_argument, NULL, O_DOMID },
		{ "handle", required_argument, NULL, O_HANDLE },
		{ "create", no_argument, NULL, O_CREATE },
		{ "mem", required_argument, NULL, O_MEM },
		{ "mode", required_argument, NULL, O_MODE },
		{ "size", required_argument, NULL, O_SIZE },
		{ "count", required_argument, NULL, O_COUNT },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "rate", required_argument, NULL, O_RATE },
		{ "queues", required_argument, NULL, O_QUEUES },
		{ "flows", required_argument, NULL, O_FLOWS },
		{ "split-evtchn", no_argument, NULL, O_SPLIT },
		{ "csum", no_argument, NULL, O_CSUM },
		{ "gso", no_argument, NULL, O_GSO },
		{ "busy-poll", no_argument, NULL, O_BUSY },
		{ "stream", required_argument, NULL, O_STREAM },
		{ "summary", required_argument, NULL, O_SUMMARY },
		{ "stats-interval", required_argument, NULL, O_STATS },
		{ "layout", required_argument, NULL, O_LAYOUT },
		{ "dst-mac", required_argument, NULL, O_DST },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "linger", required_argument, NULL, O_LINGER },
		{ "stall-warn", required_argument, NULL, O_STALL },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "evil", required_argument, NULL, O_EVIL },
		{ "evil-linger", required_argument, NULL, O_EVIL_LINGER },
		{ "help", no_argument, NULL, O_HELP },
		{ "tcp", no_argument, NULL, O_TCP },
		{ "ipv6", no_argument, NULL, O_IPV6 },
		{ "no-csum-offload", no_argument, NULL, O_NO_CSUM },
		{ "no-ipv6-csum", no_argument, NULL, O_NO_V6CSUM },
		{ "ctrl-ring", no_argument, NULL, O_CTRL },
		{ "hash-alg", required_argument, NULL, O_HASH_ALG },
		{ "hash-types", required_argument, NULL, O_HASH_TYPES },
		{ "hash-key", required_argument, NULL, O_HASH_KEY },
		{ "hash-mapping-size", required_argument, NULL, O_MAP_SIZE },
		{ "hash-mapping", required_argument, NULL, O_MAP },
		{ "mcast-ctrl", no_argument, NULL, O_MCAST_CTRL },
		{ "mcast-add", required_argument, NULL, O_MCAST_ADD },
		{ "mcast-del", required_argument, NULL, O_MCAST_DEL },
		{ "mcast-fill", required_argument, NULL, O_MCAST_FILL },
		{ "rx-stop", required_argument, NULL, O_RX_STOP },
		{ "selftest", no_argument, NULL, O_SELFTEST },
		{ "reconnect", required_argument, NULL, O_RECONNECT },
		{ NULL, 0, NULL, 0 },
	};
	int c, mode = -1;
	unsigned int i;
	char *end;

	memset(o, 0, sizeof(*o));
	o->domid = -1;
	o->size = 60;
	o->queues = 1;
	o->stream = -1;
	o->linger = 2;
	o->stall_warn = 5;
	o->evil_linger = 2;
	o->hash_alg = UINT32_MAX;
	memset(o->dst_mac, 0xff, 6);

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case O_SIM: o->sim = optarg; break;
		case O_DOMID: o->domid = atoi(optarg); break;
		case O_HANDLE: o->handle = (unsigned int)atoi(optarg); break;
		case O_CREATE: o->create = true; break;
		case O_MEM: o->mem = (unsigned int)strtoul(optarg, NULL, 0); break;
		case O_MODE:
			for (i = 0; i < 4; i++)
				if (strcmp(optarg, mode_names[i]) == 0)
					mode = (int)i;
			break;
		case O_SIZE:
			if (strcmp(optarg, "mix") == 0) {
				o->size = 0;
				break;
			}
			o->size = (uint32_t)strtoul(optarg, &end, 0);
			if (*end != '\0' || o->size < NF_FRAME_MIN_LEN) {
				fprintf(stderr, "xnb-guest: --size %s: 60..65535 or mix\n",
					optarg);
				return -EINVAL;
			}
			/* 65536 reads as "a 64 KiB frame": the wire's largest. */
			if (o->size > NF_FRAME_MAX_LEN)
				o->size = NF_FRAME_MAX_LEN;
			break;
		case O_COUNT: o->count = strtoull(optarg, NULL, 0); break;
		case O_DURATION: o->duration = atof(optarg); break;
		case O_RATE: o->rate = atof(optarg); break;
		case O_QUEUES: o->queues = (unsigned int)atoi(optarg); break;
		case O_FLOWS: o->flows = (unsigned int)atoi(optarg); break;
		case O_SPLIT: o->split = true; break;
		case O_CSUM: o->csum = true; break;
		case O_GSO: o->gso = true; break;
		case O_BUSY: o->busy = true; break;
		case O_STREAM: o->stream = atoi(optarg); break;
		case O_SUMMARY: o->summary = optarg; break;
		case O_STATS: o->stats_interval = atof(optarg); break;
		case O_LAYOUT:
			if (strcmp(optarg, "linear") == 0)
				o->layout = LAYOUT_LINEAR;
			else if (strcmp(optarg, "scatter") == 0)
				o->layout = LAYOUT_SCATTER;
			else if (strcmp(optarg, "mix") == 0)
				o->layout = LAYOUT_MIX;
			else
				return -EINVAL;
			break;
		case O_DST: {
			char buf[256], *tok, *save;

			snprintf(buf, sizeof(buf), "%s", optarg);
			o->ndst = 0;
			for (tok = strtok_r(buf, ",", &save); tok != NULL;
			     tok = strtok_r(NULL, ",", &save)) {
				if (o->ndst == MAX_DST || nf_parse_mac(tok, o->dst_macs[o->ndst]) != 0)
					return -EINVAL;
				o->ndst++;
			}
			if (o->ndst == 0)
				return -EINVAL;
			memcpy(o->dst_mac, o->dst_macs[0], 6);
			break;
		}
		case O_TCP: o->tcp = true; break;
		case O_IPV6: o->ipv6 = true; break;
		case O_NO_CSUM: o->no_csum_offload = true; break;
		case O_NO_V6CSUM: o->no_ipv6_csum = true; break;
		case O_CTRL: o->ctrl_ring = true; break;
		case O_HASH_ALG:
			if (strcmp(optarg, "toeplitz") == 0)
				o->hash_alg = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
			else if (strcmp(optarg, "none") == 0)
				o->hash_alg = XEN_NETIF_CTRL_HASH_ALGORITHM_NONE;
			else
				return -EINVAL;
			o->hash = true;
			break;
		case O_HASH_TYPES:
			if (parse_hash_types(optarg, &o->hash_types) != 0) {
				fprintf(stderr, "xnb-guest: --hash-types %s\n", optarg);
				return -EINVAL;
			}
			o->hash = true;
			break;
		case O_HASH_KEY:
			o->hash_key_set = true;
			if (strcmp(optarg, "none") == 0) {
				o->hash_key_set = false;
				o->hash_key_none = true;
			} else if (strcmp(optarg, "default") == 0) {
				memcpy(o->hash_key, nf_hash_default_key, NF_HASH_KEY_MAX);
				o->hash_key_len = NF_HASH_KEY_MAX;
			} else if (parse_hex(optarg, o->hash_key, NF_PAGE_MAX_KEY,
					     &o->hash_key_len) != 0) {
				fprintf(stderr, "xnb-guest: --hash-key: hex bytes\n");
				return -EINVAL;
			}
			o->hash = true;
			break;
		case O_MAP_SIZE:
			o->map_size = (uint32_t)strtoul(optarg, NULL, 0);
			o->hash = true;
			break;
		case O_MAP:
			o->hash = true;
			if (strcmp(optarg, "spread") == 0) {
				o->nmap = 0;
				break;
			}
			{
				char buf[1024], *tok, *save;

				snprintf(buf, sizeof(buf), "%s", optarg);
				o->nmap = 0;
				for (tok = strtok_r(buf, ",", &save); tok != NULL;
				     tok = strtok_r(NULL, ",", &save)) {
					if (o->nmap == NF_HASH_MAPPING_MAX)
						return -EINVAL;
					o->map[o->nmap++] = (uint32_t)strtoul(tok, NULL, 0);
				}
			}
			break;
		case O_MCAST_CTRL: o->mcast_ctrl = true; break;
		case O_MCAST_ADD:
		case O_MCAST_DEL: {
			struct mcast_op *m = &o->mcast_ops[o->nmcast];
			char buf[64], *at;

			snprintf(buf, sizeof(buf), "%s", optarg);
			at = strchr(buf, '@');
			if (at != NULL)
				*at++ = '\0';
			if (o->nmcast == MAX_MCAST_OPS || nf_parse_mac(buf, m->mac) != 0 ||
			    (c == O_MCAST_DEL && at == NULL))
				return -EINVAL;
			m->add = c == O_MCAST_ADD;
			m->at = at != NULL ? atof(at) : 0;
			o->nmcast++;
			break;
		}
		case O_MCAST_FILL: {
			unsigned int k, n = (unsigned int)atoi(optarg);

			for (k = 0; k < n; k++) {
				struct mcast_op *m = &o->mcast_ops[o->nmcast];
				static const uint8_t base[6] = { 0x01, 0x00, 0x5e, 0x7f, 0, 0 };

				if (o->nmcast == MAX_MCAST_OPS)
					return -EINVAL;
				memcpy(m->mac, base, 6);
				m->mac[4] = (uint8_t)(k >> 8);
				m->mac[5] = (uint8_t)k;
				m->add = true;
				m->at = 0;
				o->nmcast++;
			}
			break;
		}
		case O_RX_STOP:
			if (parse_at_for(optarg, &o->rx_stop_at, &o->rx_stop_for) != 0)
				return -EINVAL;
			break;
		case O_SELFTEST: o->selftest = true; break;
		case O_RECONNECT:
			if (parse_at_for(optarg, &o->reconnect_at, &o->reconnect_closed) != 0)
				return -EINVAL;
			break;
		case O_TIMEOUT: o->timeout = atof(optarg); break;
		case O_LINGER: o->linger = atof(optarg); break;
		case O_STALL: o->stall_warn = atof(optarg); break;
		case O_QUIET: o->quiet = true; break;
		case O_EVIL: o->evil = optarg; break;
		case O_EVIL_LINGER: o->evil_linger = atof(optarg); break;
		case O_HELP: usage(stdout); exit(0);
		default: return -EINVAL;
		}
	}
	if (o->evil != NULL && strcmp(o->evil, "list") == 0) {
		for (i = 0; nf_evil_name(i) != NULL; i++)
			printf("%s\n", nf_evil_name(i));
		exit(0);
	}
	if (o->selftest)
		return 0;
	if (o->evil != NULL && mode < 0)
		mode = MODE_SINK;
	if (o->sim == NULL || o->domid < 1 || o->domid >= XNBSIM_MAX_DOMAINS ||
	    mode < 0 || optind != argc) {
		fprintf(stderr, "xnb-guest: --sim, --domid (1..%d) and --mode are required\n",
			XNBSIM_MAX_DOMAINS - 1);
		return -EINVAL;
	}
	o->mode = (enum mode)mode;
	if (o->queues < 1 || o->queues > NF_MAX_QUEUES) {
		fprintf(stderr, "xnb-guest: --queues 1..%d\n", NF_MAX_QUEUES);
		return -EINVAL;
	}
	if (o->flows == 0)
		o->flows = o->queues;
	if (o->flows > MAX_FLOWS)
		o->flows = MAX_FLOWS;
	if (o->stream < 0)
		o->stream = o->domid;
	if (o->mem == 0)
		o->mem = 1024 + 600 * o->queues;
	if (o->ndst == 0) {
		memcpy(o->dst_macs[0], o->dst_mac, 6);
		o->ndst = 1;
	}
	if (o->hash) {
		o->ctrl_ring = true;
		if (o->hash_alg == UINT32_MAX)
			o->hash_alg = XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ;
		/* A zero key hashes everything to 0: nothing to check. */
		if (!o->hash_key_set && !o->hash_key_none) {
			memcpy(o->hash_key, nf_hash_default_key, NF_HASH_KEY_MAX);
			o->hash_key_len = NF_HASH_KEY_MAX;
			o->hash_key_set = true;
		}
	}
	return 0;
}

static double
secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

/* ---- the toolstack part of --create -------------------------------------- */

static int
toolstack_create(const struct opts *o)
{
	struct xnbsim *dom0 = xnbsim_open(o->sim, 0);
	char mac[32];
	int rc;

	if (dom0 == NULL)
		return -errno;
	snprintf(mac, sizeof(mac), "00:16:3e:%02x:%02x:%02x", o->domid >> 8 & 0xff,
		 o->domid & 0xff, o->handle & 0xff);
	rc = xnbsim_domain_create(dom0, (uint16_t)o->domid, o->mem);
	if (rc == 0) {
		rc = xnbsim_vif_add(dom0, (uint16_t)o->domid, o->handle, mac, NULL);
		if (rc < 0)
			xnbsim_domain_destroy(dom0, (uint16_t)o->domid);
	}
	xnbsim_close(dom0);
	return rc;
}

static void
toolstack_destroy(const struct opts *o)
{
	struct xnbsim *dom0 = xnbsim_open(o->sim, 0);

	if (dom0 == NULL)
		return;
	xnbsim_vif_remove(dom0, (uint16_t)o->domid, o->handle);
	xnbsim_domain_destroy(dom0, (uint16_t)o->domid);
	xnbsim_close(dom0);
}

/* ---- receive side ---------------------------------------------------------- */

static void
reflect_put(struct guest *g, unsigned int q, const struct nf_rx_pkt *p)
{
	struct reflect_q *r = g->rq[q];
	unsigned int i;
	uint8_t *b;

	if (r->tail - r->head == REFLECT_DEPTH) {
		g->reflect_dropped++;
		return;
	}
	i = r->tail % REFLECT_DEPTH;
	if (r->e[i].cap < p->len) {
		b = realloc(r->e[i].buf, p->len);
		if (b == NULL) {
			g->reflect_dropped++;
			return;
		}
		r->e[i].buf = b;
		r->e[i].cap = p->len;
	}
	memcpy(r->e[i].buf, p->data, p->len);
	if (p->len >= 12)
		nf_frame_swap_mac(r->e[i].buf);
	/* A forwarding VM passes the offload state on unchanged. */
	r->e[i].pkt.data = r->e[i].buf;
	r->e[i].pkt.len = p->len;
	r->e[i].pkt.meta = p->meta;
	r->e[i].pkt.layout = NF_LAYOUT_LINEAR;
	r->tail++;
}

/* The counter of a group destination (broadcast included), NULL when
 * MAX_GROUPS are counted already. */
static struct dst_count *
dst_slot(struct guest *g, const uint8_t *mac)
{
	unsigned int i;

	for (i = 0; i < g->ndstc; i++)
		if (memcmp(g->dst[i].mac, mac, 6) == 0)
			return &g->dst[i];
	if (g->ndstc == MAX_GROUPS)
		return NULL;
	memcpy(g->dst[g->ndstc].mac, mac, 6);
	return &g->dst[g->ndstc++];
}

/*
 * A received frame against the hash settings the backend acknowledged on
 * our control ring: the hash extra must be there exactly when one of our
 * hash types applies, carry the Toeplitz value we compute from the frame
 * bytes, and the frame must have come on the queue our mapping names for
 * that value (netif.h; Linux netback's xenvif_select_queue). Without
 * settings of ours, no hash extra may come at all.
 */
static void
check_hash(struct guest *g, unsigned int q, const struct nf_rx_pkt *p)
{
	const struct nf_hash_state *h = nf_hash_state(g->dev);
	uint8_t type = NF_HASH_NONE;
	uint32_t want = 0, nq = nf_num_queues(g->dev), wq;

	if (!g->o.hash) {
		if (p->meta.hash_valid)
			g->hash_unexpected++;
		return;
	}
	if (g->hash_cfg_gen != h->generation) {
		/* Our settings are not (all) acknowledged yet. */
		g->hash_early += p->meta.hash_valid;
		return;
	}
	if (h->alg == XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ)
		want = nf_frame_hash(p->data, p->len, h->flags, h->key, sizeof(h->key), &type);
	if (type == NF_HASH_NONE) {
		g->hash_none++;
		if (p->meta.hash_valid)
			g->hash_unexpected++;
		return;
	}
	if (!p->meta.hash_valid) {
		g->hash_missing++;
		return;
	}
	if (p->meta.hash != want || p->meta.hash_type != type ||
	    p->meta.hash_alg != XEN_NETIF_CTRL_HASH_ALGORITHM_TOEPLITZ) {
		if (g->hash_bad++ < 5)
			fprintf(stderr, "xnb-guest dom%d: hash extra %08x type %u alg %u, "
				"want %08x type %u (frame of %u bytes, queue %u)\n", g->o.domid,
				p->meta.hash, p->meta.hash_type, p->meta.hash_alg, want, type,
				p->len, q);
		return;
	}
	g->hash_ok++;
	wq = h->size > 0 ? h->mapping[want % h->size] : nq > 0 ? want % nq : 0;
	if (q == wq) {
		g->steer_ok++;
	} else if (g->steer_bad++ < 5) {
		fprintf(stderr, "xnb-guest dom%d: frame with hash %08x on queue %u, the "
			"mapping names %u\n", g->o.domid, want, q, wq);
	}
}

static void
on_rx(void *arg, unsigned int q, const struct nf_rx_pkt *p)
{
	struct guest *g = arg;
	struct nf_frame_id id;
	struct dst_count *dc;
	enum nf_verr e;

	g->rx_seen++;
	if (q < NF_MAX_QUEUES)
		g->rx_queue[q]++;
	if (p->len >= 6 && (p->data[0] & 1) && (dc = dst_slot(g, p->data)) != NULL)
		dc->rx++;
	check_hash(g, q, p);
	if (g->o.mode == MODE_REFLECT) {
		reflect_put(g, q, p);
		return;
	}
	e = nf_frame_verify(p->data, p->len, &p->meta, &id);
	if (e != NF_VERR_OK) {
		g->verr[e]++;
		return;
	}
	g->verified++;
	/* Only sink and loop track sequences; a generator may still get
	 * frames (its own, looped back by the application). */
	if (g->seq != NULL)
		nf_seqtrack_add(g->seq, &id);
}

/* ---- transmit side ---------------------------------------------------------- */

static bool
gen_active(const struct guest *g)
{
	return g->o.mode == MODE_GEN || g->o.mode == MODE_LOOP;
}

static bool
gen_more(const struct guest *g, uint64_t now)
{
	if (g->t_gen_end != 0)
		return false;
	if (g->o.count != 0 && g->generated >= g->o.count)
		return false;
	if (g->o.duration > 0 && secs(now - g->t_start) >= g->o.duration)
		return false;
	return true;
}

static void
build_one(struct guest *g, struct txq *t, unsigned int q, unsigned int nq)
{
	struct pending *p = &t->p[t->n];
	unsigned int flow, i;
	uint32_t len;
	uint64_t seq;

	/* Flows of this queue: q, q + nq, q + 2nq, ... */
	i = t->next_flow;
	flow = q + i * nq;
	if (flow >= g->o.flows) {
		i = 0;
		flow = q;
	}
	t->next_flow = i + 1;

	seq = g->flow_seq[flow]++;
	len = g->o.size ? g->o.size : nf_frame_mix_size(g->generated);
	if (len < nf_frame_min_len(&g->gen))
		len = nf_frame_min_len(&g->gen);	/* room for TCP / IPv6 headers */
	memcpy(g->gen.dst_mac, g->o.dst_macs[flow % g->o.ndst], 6);
	if (g->gen.dst_mac[0] & 1) {
		struct dst_count *dc = dst_slot(g, g->gen.dst_mac);

		if (dc != NULL)
			dc->tx++;
	}
	nf_frame_build(&g->gen, (uint8_t)flow, seq, len, p->buf, &p->pkt.meta);
	p->pkt.data = p->buf;
	p->pkt.len = len;
	p->pkt.layout_seed = (uint32_t)(g->generated * 2654435761u);
	switch (g->o.layout) {
	case LAYOUT_SCATTER:
		p->pkt.layout = NF_LAYOUT_SCATTER;
		break;
	case LAYOUT_MIX:
		p->pkt.layout = (p->pkt.layout_seed >> 7) & 1 ?
				NF_LAYOUT_SCATTER : NF_LAYOUT_LINEAR;
		break;
	default:
		p->pkt.layout = NF_LAYOUT_LINEAR;
		break;
	}
	t->n++;
	g->generated++;
}

static int
gen_queue(struct guest *g, unsigned int q, unsigned int nq, uint64_t now)
{
	struct txq *t = &g->txq[q];
	struct nf_tx_pkt pkts[BURST];
	unsigned int i;
	uint64_t allowed = UINT64_MAX;
	int sent;

	if (g->o.rate > 0)
		allowed = (uint64_t)(g->o.rate * secs(now - g->t_start)) + 1;
	/* Only queues that own a flow send. */
	while (t->n < BURST && q < g->o.flows && gen_more(g, now) &&
	       g->generated < allowed)
		build_one(g, t, q, nq);
	if (t->n == 0)
		return 0;
	for (i = 0; i < t->n; i++)
		pkts[i] = t->p[i].pkt;
	sent = nf_tx_burst(g->dev, q, pkts, t->n);
	if (sent <= 0)
		return 0;
	/* Keep the unsent in order for the next round. */
	for (i = (unsigned int)sent; i < t->n; i++) {
		struct pending tmp = t->p[i - sent];

		t->p[i - sent] = t->p[i];
		t->p[i] = tmp;
	}
	t->n -= (unsigned int)sent;
	g->sent += (unsigned int)sent;
	return sent;
}

static int
reflect_queue(struct guest *g, unsigned int q)
{
	struct reflect_q *r = g->rq[q];
	struct nf_tx_pkt pkts[BURST];
	unsigned int n = 0, i;
	int sent;

	while (n < BURST && r->head + n != r->tail) {
		pkts[n] = r->e[(r->head + n) % REFLECT_DEPTH].pkt;
		n++;
	}
	if (n == 0)
		return 0;
	sent = nf_tx_burst(g->dev, q, pkts, n);
	if (sent <= 0)
		return 0;
	for (i = 0; i < (unsigned int)sent; i++)
		r->head++;
	g->reflected += (unsigned int)sent;
	return sent;
}

/* ---- control ring, multicast filter, stalled RX ------------------------------ */

static const char *
ctrl_type_name(uint32_t t)
{
	static const char *const n[] = {
		"INVALID", "GET_HASH_FLAGS", "SET_HASH_FLAGS", "SET_HASH_KEY",
		"GET_HASH_MAPPING_SIZE", "SET_HASH_MAPPING_SIZE", "SET_HASH_MAPPING",
		"SET_HASH_ALGORITHM",
	};

	return t < sizeof(n) / sizeof(n[0]) ? n[t] : "?";
}

/* One request of the settings; false (said and counted) unless SUCCESS. */
static bool
ctrl_ok(struct guest *g, uint32_t type, int rc)
{
	if (rc == XEN_NETIF_CTRL_STATUS_SUCCESS)
		return true;
	g->hash_cfg_errors++;
	fprintf(stderr, "xnb-guest dom%d: control ring: %s: %s %d\n", g->o.domid,
		ctrl_type_name(type), rc < 0 ? "error" : "status", rc < 0 ? -rc : rc);
	return false;
}

/*
 * Our hash settings, in the order netif.h requires (an algorithm before
 * the flags) and Windows' xenvif sends them: algorithm, flags (after asking
 * which the backend supports), key, mapping size, mapping. Run at every
 * connect: a new connection starts without them.
 */
static void
hash_configure(struct guest *g)
{
	struct nf_dev *d = g->dev;
	const struct opts *o = &g->o;
	uint32_t data = 0, nq = nf_num_queues(d), tbl[NF_HASH_MAPPING_MAX], i;
	int rc;

	if (!nf_ctrl_connected(d)) {
		g->hash_cfg_errors++;
		fprintf(stderr, "xnb-guest dom%d: control ring: the backend offers none\n",
			o->domid);
		return;
	}
	rc = nf_ctrl_call(d, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, o->hash_alg, 0, 0,
			  NULL, CTRL_TIMEOUT_MS);
	if (!ctrl_ok(g, XEN_NETIF_CTRL_TYPE_SET_HASH_ALGORITHM, rc))
		return;
	if (o->hash_alg != XEN_NETIF_CTRL_HASH_ALGORITHM_NONE) {
		rc = nf_ctrl_call(d, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, 0, 0, 0, &data,
				  CTRL_TIMEOUT_MS);
		if (!ctrl_ok(g, XEN_NETIF_CTRL_TYPE_GET_HASH_FLAGS, rc))
			return;
		if (o->hash_types & ~data)
			fprintf(stderr, "xnb-guest dom%d: control ring: the backend supports "
				"hash types %#x, we ask for %#x\n", o->domid, data,
				o->hash_types);
		rc = nf_ctrl_call(d, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, o->hash_types, 0, 0,
				  NULL, CTRL_TIMEOUT_MS);
		if (!ctrl_ok(g, XEN_NETIF_CTRL_TYPE_SET_HASH_FLAGS, rc))
			return;
	}
	if (o->hash_key_set || o->hash_key_none) {
		rc = nf_ctrl_set_hash_key(d, o->hash_key, o->hash_key_len);
		if (!ctrl_ok(g, XEN_NETIF_CTRL_TYPE_SET_HASH_KEY, rc))
			return;
	}
	if (o->map_size > 0) {
		rc = nf_ctrl_call(d, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, 0, 0, 0, &data,
				  CTRL_TIMEOUT_MS);
		if (!ctrl_ok(g, XEN_NETIF_CTRL_TYPE_GET_HASH_MAPPING_SIZE, rc))
			return;
		if (o->map_size > data)
			fprintf(stderr, "xnb-guest dom%d: control ring: mapping of %u entries, "
				"the backend takes %u\n", o->domid, o->map_size, data);
		rc = nf_ctrl_call(d, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, o->map_size,
				  0, 0, NULL, CTRL_TIMEOUT_MS);
		if (!ctrl_ok(g, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING_SIZE, rc))
			return;
		for (i = 0; i < o->map_size && i < NF_HASH_MAPPING_MAX; i++)
			tbl[i] = o->nmap > 0 ? o->map[i % o->nmap] : i % (nq ? nq : 1);
		rc = nf_ctrl_set_hash_mapping(d, tbl, i, 0);
		if (!ctrl_ok(g, XEN_NETIF_CTRL_TYPE_SET_HASH_MAPPING, rc))
			return;
	}
	g->hash_cfg_done++;
	g->hash_cfg_gen = nf_hash_state(d)->generation;
	fprintf(stderr, "xnb-guest dom%d: control ring: hash set (algorithm %u, types %#x, "
		"key %u bytes, mapping %u entries over %u queues)\n", o->domid, o->hash_alg,
		o->hash_types, o->hash_key_len, o->map_size, nq);
}

/* At each link up: settings again (a new connection has none), the
 * multicast filter from scratch. */
static void
on_connect(struct guest *g, uint64_t now)
{
	g->t_link = now;
	memset(g->mcast_done, 0, sizeof(g->mcast_done));
	g->mcast_left = g->o.nmcast;
	if (g->o.hash)
		hash_configure(g);
}

static void
mcast_step(struct guest *g, uint64_t now)
{
	unsigned int i;
	int rc;

	for (i = 0; i < g->o.nmcast && g->mcast_left > 0; i++) {
		const struct mcast_op *m = &g->o.mcast_ops[i];

		if (g->mcast_done[i] || secs(now - g->t_link) < m->at)
			continue;
		rc = nf_mcast(g->dev, 0, m->add, m->mac);
		if (rc == -EAGAIN)
			return;		/* the ring is full: next round */
		g->mcast_done[i] = true;
		g->mcast_left--;
		if (rc < 0)
			g->mcast_send_errors++;
	}
}

static void
rx_stop_step(struct guest *g, uint64_t now)
{
	if (g->o.rx_stop_at <= 0 || g->rx_stop_done)
		return;
	if (!g->rx_stopped && secs(now - g->t_start) >= g->o.rx_stop_at) {
		nf_rx_pause(g->dev, true);
		g->rx_stopped = true;
		g->t_rx_stop = now;
		fprintf(stderr, "xnb-guest dom%d: RX buffers no longer posted\n", g->o.domid);
	} else if (g->rx_stopped && g->o.rx_stop_for > 0 &&
		   secs(now - g->t_rx_stop) >= g->o.rx_stop_for) {
		nf_rx_pause(g->dev, false);
		g->rx_stopped = false;
		g->rx_stop_done = true;
		g->rx_stopped_ns = now - g->t_rx_stop;
		fprintf(stderr, "xnb-guest dom%d: RX buffers posted again after %.1f s\n",
			g->o.domid, secs(g->rx_stopped_ns));
	}
}

/* ---- summary ------------------------------------------------------------------ */

static void
summary(struct guest *g, const struct nf_stats *st, const char *why,
	uint64_t t_end)
{
	const struct nf_hist *wait = &g->wait;
	double s = g->t_start ? secs(t_end - g->t_start) : 0;
	uint64_t total = 0;
	struct nf_seq_counts sc = { 0 };
	const struct nf_backend_features *bf = g->dev_feat;
	char line[12288];
	size_t n = 0;
	unsigned int i;
	FILE *f;

	for (i = 1; i < NF_VERR__MAX; i++)
		total += g->verr[i];
	if (g->seq != NULL)
		nf_seqtrack_counts(g->seq, &sc);
	if (s <= 0)
		s = 1e-9;

#define OUT(...) do { \
	int w_ = snprintf(line + n, sizeof(line) - n, __VA_ARGS__); \
	if (w_ > 0 && (size_t)w_ < sizeof(line) - n) \
		n += (size_t)w_; \
} while (0)
	OUT("{\"mode\":\"%s\",\"domid\":%d,\"handle\":%u,\"stream\":%d,"
	    "\"queues\":%u,\"exit\":\"%s\",\"seconds\":%.3f,",
	    mode_names[g->o.mode], g->o.domid, g->o.handle, g->o.stream,
	    g->nq_final, why, s);
	OUT("\"tx_packets\":%" PRIu64 ",\"tx_bytes\":%" PRIu64
	    ",\"tx_mpps\":%.4f,\"tx_gbps\":%.4f,",
	    st->tx_packets, st->tx_bytes, (double)st->tx_packets / s / 1e6,
	    (double)st->tx_bytes * 8 / s / 1e9);
	OUT("\"rx_packets\":%" PRIu64 ",\"rx_bytes\":%" PRIu64
	    ",\"rx_mpps\":%.4f,\"rx_gbps\":%.4f,",
	    st->rx_packets, st->rx_bytes, (double)st->rx_packets / s / 1e6,
	    (double)st->rx_bytes * 8 / s / 1e9);
	OUT("\"verified\":%" PRIu64 ",\"verify_errors\":%" PRIu64 ",\"errors\":{",
	    g->verified, total);
	for (i = 1; i < NF_VERR__MAX; i++)
		OUT("%s\"%s\":%" PRIu64, i > 1 ? "," : "",
		    nf_verr_name((enum nf_verr)i), g->verr[i]);
	OUT("},\"gaps\":%" PRIu64 ",\"dups\":%" PRIu64 ",\"reordered\":%" PRIu64 ",",
	    sc.gaps, sc.dups, sc.reordered);
	OUT("\"rsp_prod_violations\":%" PRIu64 ",", st->rsp_prod_violations);
	OUT("\"tx_errors\":%" PRIu64 ",\"tx_unsupported\":%" PRIu64
	    ",\"tx_aborted\":%" PRIu64 ",\"rx_errors\":%" PRIu64 ",",
	    st->tx_rsp_error + st->tx_rsp_dropped + st->tx_rsp_bad,
	    st->tx_unsupported, st->tx_aborted,
	    st->rx_err_status + st->rx_err_offset + st->rx_err_extra +
	    st->rx_err_slots);
	OUT("\"max_tx_outstanding\":%" PRIu64 ",\"tx_wait_us_max\":%.1f,"
	    "\"tx_wait_us_p99\":%.1f,\"tx_wait_samples\":%" PRIu64 ",",
	    st->tx_max_outstanding, (double)wait->max / 1e3,
	    (double)nf_hist_quantile(wait, 0.99) / 1e3, wait->count);
	OUT("\"reconnects\":%" PRIu64 ",\"grants_deferred\":%" PRIu64
	    ",\"grants_leaked\":%" PRIu64 ",\"reflected\":%" PRIu64
	    ",\"reflect_dropped\":%" PRIu64 ",",
	    st->reconnects, st->grants_deferred, st->grants_pending,
	    g->reflected, g->reflect_dropped);
	OUT("\"rx_csum_blank_violations\":%" PRIu64 ",", st->rx_csum_blank_violations);
	OUT("\"backend\":{\"ctrl_ring\":%d,\"mcast_ctrl\":%d,\"csum\":%d,"
	    "\"ipv6_csum\":%d,\"max_queues\":%u},", bf->ctrl_ring, bf->mcast_ctrl,
	    bf->csum_offload, bf->ipv6_csum_offload, bf->max_queues);
	OUT("\"hash\":{\"configured\":%" PRIu64 ",\"cfg_errors\":%" PRIu64
	    ",\"ok\":%" PRIu64 ",\"bad\":%" PRIu64 ",\"missing\":%" PRIu64
	    ",\"unexpected\":%" PRIu64 ",\"none\":%" PRIu64 ",\"early\":%" PRIu64
	    ",\"steer_ok\":%" PRIu64 ",\"steer_bad\":%" PRIu64 "},",
	    g->hash_cfg_done, g->hash_cfg_errors, g->hash_ok, g->hash_bad, g->hash_missing,
	    g->hash_unexpected, g->hash_none, g->hash_early, g->steer_ok, g->steer_bad);
	OUT("\"rx_queue\":[");
	for (i = 0; i < (g->nq_final ? g->nq_final : 1) && i < NF_MAX_QUEUES; i++)
		OUT("%s%" PRIu64, i ? "," : "", g->rx_queue[i]);
	OUT("],\"mcast_send_errors\":%" PRIu64 ",\"rx_stopped_s\":%.3f,\"groups\":{",
	    g->mcast_send_errors, secs(g->rx_stopped ? t_end - g->t_rx_stop : g->rx_stopped_ns));
	for (i = 0; i < g->ndstc; i++) {
		const uint8_t *m = g->dst[i].mac;

		OUT("%s\"%02x:%02x:%02x:%02x:%02x:%02x\":{\"tx\":%" PRIu64 ",\"rx\":%" PRIu64
		    "}", i ? "," : "", m[0], m[1], m[2], m[3], m[4], m[5], g->dst[i].tx,
		    g->dst[i].rx);
	}
	OUT("},\"netfront\":{");
#define NF_STATS_JSON(name) OUT("\"" #name "\":%" PRIu64 ",", st->name);
	NF_STATS_LIST(NF_STATS_JSON)
#undef NF_STATS_JSON
	if (line[n - 1] == ',')
		n--;
	OUT("}}\n");
#undef OUT

	fputs(line, stdout);
	fflush(stdout);
	if (g->o.summary != NULL) {
		f = fopen(g->o.summary, "w");
		if (f == NULL) {
			fprintf(stderr, "xnb-guest: %s: %s\n", g->o.summary,
				strerror(errno));
			return;
		}
		fputs(line, f);
		fclose(f);
	}
}

static void
progress(struct guest *g, uint64_t now)
{
	struct nf_stats st;
	struct nf_seq_counts sc = { 0 };
	double s = secs(now - g->t_start);
	uint64_t errs = 0;
	unsigned int i;

	nf_stats_get(g->dev, &st);
	for (i = 1; i < NF_VERR__MAX; i++)
		errs += g->verr[i];
	if (g->seq != NULL)
		nf_seqtrack_counts(g->seq, &sc);
	fprintf(stderr, "xnb-guest dom%d: %.1fs tx %" PRIu64 " (%.3f Mpps) rx %"
		PRIu64 " (%.3f Mpps) errors %" PRIu64 " gaps %" PRIu64
		" link %s\n", g->o.domid, s, st.tx_packets,
		s > 0 ? (double)st.tx_packets / s / 1e6 : 0, st.rx_packets,
		s > 0 ? (double)st.rx_packets / s / 1e6 : 0, errs, sc.gaps,
		nf_link_up(g->dev) ? "up" : "down");
}

/* ---- main loop ----------------------------------------------------------------- */

static bool
finished(struct guest *g, uint64_t now, const char **why)
{
	struct nf_stats st;
	bool idle_rx;

	if (g->o.timeout > 0 && secs(now - g->t_begin) >= g->o.timeout) {
		*why = "timeout";
		return true;
	}
	nf_stats_get(g->dev, &st);
	switch (g->o.mode) {
	case MODE_SINK:
		if (g->o.count && st.rx_packets >= g->o.count) {
			*why = "count";
			return true;
		}
		break;
	case MODE_REFLECT:
		if (g->o.count && g->reflected >= g->o.count) {
			*why = "count";
			return true;
		}
		break;
	case MODE_GEN:
	case MODE_LOOP:
		if (gen_more(g, now))
			break;
		if (g->t_gen_end == 0)
			g->t_gen_end = now;
		/* Built frames still waiting count as not sent yet. */
		if (nf_link_up(g->dev) && g->generated > g->sent &&
		    secs(now - g->t_gen_end) < g->o.linger + 5)
			break;
		if (nf_tx_inflight(g->dev) > 0 &&
		    secs(now - g->t_gen_end) < g->o.linger + 5)
			break;
		if (g->o.mode == MODE_LOOP) {
			idle_rx = secs(now - (g->t_last_rx > g->t_gen_end ?
					      g->t_last_rx : g->t_gen_end)) >=
				  g->o.linger;
			if (st.rx_packets < st.tx_packets && !idle_rx)
				break;
		}
		*why = g->o.count && g->generated >= g->o.count ? "count" :
							     "duration";
		return true;
	}
	if (g->o.duration > 0 && g->o.mode != MODE_GEN && g->o.mode != MODE_LOOP &&
	    secs(now - g->t_start) >= g->o.duration) {
		*why = "duration";
		return true;
	}
	return false;
}

static void
watch_stall(struct guest *g, uint64_t now, bool progressed)
{
	if (progressed || !nf_link_up(g->dev) || nf_tx_inflight(g->dev) == 0) {
		if (g->stalled && progressed)
			fprintf(stderr, "xnb-guest dom%d: backend answering again\n",
				g->o.domid);
		g->stalled = false;
		g->t_last_progress = now;
		return;
	}
	if (!g->stalled && g->o.stall_warn > 0 &&
	    secs(now - g->t_last_progress) >= g->o.stall_warn) {
		fprintf(stderr, "xnb-guest dom%d: backend has not answered for %.0f s "
			"(%u TX slots outstanding); waiting for it or for a state "
			"change\n", g->o.domid, g->o.stall_warn,
			nf_tx_inflight(g->dev));
		g->stalled = true;
	}
}

static int
run(struct guest *g, const char **why_out)
{
	uint64_t now, next_stats = 0, rx_before;
	const char *why = "signal";
	unsigned int q, nq, spins = 0;
	struct nf_stats st;
	int work;

	g->t_start = nf_now_ns();
	g->t_last_progress = g->t_start;
	if (g->o.stats_interval > 0)
		next_stats = g->t_start + (uint64_t)(g->o.stats_interval * 1e9);

	for (;;) {
		now = nf_now_ns();
		if (stop_signal)
			break;
		if (finished(g, now, &why))
			break;
		if (nf_broken(g->dev)) {
			why = "broken";	/* Linux disables such a vif for good */
			break;
		}
		if (next_stats && now >= next_stats) {
			progress(g, now);
			next_stats += (uint64_t)(g->o.stats_interval * 1e9);
		}
		if (!nf_link_up(g->dev)) {
			nf_poll(g->dev, 100);
			watch_stall(g, now, false);
			continue;
		}
		if (g->o.reconnect_at > 0 && !g->reconnected &&
		    secs(now - g->t_start) >= g->o.reconnect_at) {
			g->reconnected = true;
			fprintf(stderr, "xnb-guest dom%d: dropping the connection (%u TX slots "
				"outstanding)\n", g->o.domid, nf_tx_inflight(g->dev));
			nf_reconnect(g->dev, (int)(g->o.reconnect_closed * 1000));
			continue;
		}

		nf_stats_get(g->dev, &st);
		if (st.connects != g->connects_seen) {
			g->connects_seen = st.connects;
			on_connect(g, now);
		}
		if (g->mcast_left > 0)
			mcast_step(g, now);
		rx_stop_step(g, now);
		rx_before = st.rx_packets;
		work = 0;
		nq = nf_num_queues(g->dev);
		for (q = 0; q < nq; q++) {
			work += nf_tx_collect(g->dev, q);
			work += nf_rx_poll(g->dev, q, RX_BUDGET, on_rx, g);
			if (gen_active(g))
				work += gen_queue(g, q, nq, now);
			else if (g->o.mode == MODE_REFLECT)
				work += reflect_queue(g, q);
		}
		nf_stats_get(g->dev, &st);
		if (st.rx_packets != rx_before)
			g->t_last_rx = now;
		watch_stall(g, now, work > 0);

		if (g->o.busy) {
			if (++spins % 64 == 0)
				nf_poll(g->dev, 0);
			continue;
		}
		if (work > 0) {
			/* Let the xenbus side in now and then under load. */
			if (++spins % 256 == 0)
				nf_poll(g->dev, 0);
			continue;
		}
		{
			int timeout = 100;

			/* A rate-limited generator wakes for its next frame. */
			if (gen_active(g) && g->o.rate > 0 && gen_more(g, now))
				timeout = 1;
			nf_poll(g->dev, timeout);
		}
	}
	if (stop_signal && strcmp(why, "broken") != 0)
		why = "signal";

	/* Answers for what is in flight, so its grants end cleanly. */
	if (g->dev != NULL) {
		uint64_t until = nf_now_ns() + 2000000000ull;

		while (nf_link_up(g->dev) && !nf_broken(g->dev) &&
		       nf_tx_inflight(g->dev) > 0 && nf_now_ns() < until) {
			nq = nf_num_queues(g->dev);
			work = 0;
			for (q = 0; q < nq; q++) {
				work += nf_tx_collect(g->dev, q);
				work += nf_rx_poll(g->dev, q, RX_BUDGET, on_rx, g);
			}
			if (work == 0)
				nf_poll(g->dev, 10);
		}
	}
	g->t_gen_end = nf_now_ns();
	*why_out = why;
	return strcmp(why, "timeout") == 0 ? 2 : 0;
}

/* The reference hash against the published vectors, and every frame kind
 * built, verified and hashed as a backend must hash it. */
static int
selftest(void)
{
	static uint8_t buf[NF_FRAME_MAX_LEN];
	struct nf_gen gen = {
		.dst_mac = { 0x01, 0x00, 0x5e, 0, 0, 1 }, .src_mac = { 0, 0x16, 0x3e, 0, 1, 0 },
		.src_ip = 0x0a000101, .dst_ip = 0x0a0000fe, .stream = 7,
	};
	unsigned int bad = nf_hash_selftest(), kinds = 0;

	for (unsigned int k = 0; k < 16; k++) {
		static const uint32_t sizes[] = { 60, 92, 1514, 4097, 65535 };

		gen.tcp = k & 1;
		gen.ipv6 = k & 2;
		gen.csum_offload = k & 4;
		gen.gso = k & 8;
		for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			uint32_t len = sizes[i] < nf_frame_min_len(&gen) ? nf_frame_min_len(&gen) :
				sizes[i];
			struct nf_frame_meta m;
			struct nf_frame_id id;
			enum nf_verr e;
			uint8_t type;
			uint32_t h;

			if (nf_frame_build(&gen, (uint8_t)k, i, len, buf, &m) != 0) {
				printf("selftest: kind %u: cannot build %u bytes\n", k, len);
				bad++;
				continue;
			}
			e = nf_frame_verify(buf, len, &m, &id);
			if (e != NF_VERR_OK || id.seq != i || id.flow != k ||
			    ((id.flags & NF_FRAME_F_IPV6) != 0) != gen.ipv6) {
				printf("selftest: kind %u, %u bytes: %s\n", k, len, nf_verr_name(e));
				bad++;
			}
			/* A damaged L4 byte is caught (by the checksum unless partial). */
			buf[len - 1] ^= 0x40;
			if (nf_frame_verify(buf, len, &m, &id) == NF_VERR_OK) {
				printf("selftest: kind %u, %u bytes: damage not caught\n", k, len);
				bad++;
			}
			buf[len - 1] ^= 0x40;
			h = nf_frame_hash(buf, len, 0xf, nf_hash_default_key, NF_HASH_KEY_MAX,
					  &type);
			if (type != (gen.ipv6 ? (gen.tcp || m.gso_type ?
						 _XEN_NETIF_CTRL_HASH_TYPE_IPV6_TCP :
						 _XEN_NETIF_CTRL_HASH_TYPE_IPV6) :
				     (gen.tcp || m.gso_type ? _XEN_NETIF_CTRL_HASH_TYPE_IPV4_TCP :
				      _XEN_NETIF_CTRL_HASH_TYPE_IPV4)) || (h == 0 && len > 0)) {
				printf("selftest: kind %u, %u bytes: hash type %u value %08x\n", k,
				       len, type, h);
				bad++;
			}
			kinds++;
		}
	}
	printf("selftest: %u frames built and checked, %u failure(s)\n", kinds, bad);
	return bad ? 1 : 0;
}

/* Misbehaves, reports, and dies without closing anything, as a crashed
 * guest kernel would: its grants and channels stay until the toolstack
 * destroys the domain (_exit: no atexit handlers, no leak report). */
static void
evil_run(struct guest *g)
{
	char json[2048];
	struct nf_stats st;
	FILE *f;
	int rc;

	rc = nf_evil_run(g->dev, g->o.evil, g->o.evil_linger, json, sizeof(json));
	nf_stats_get(g->dev, &st);
	printf("%s\n", json);
	if (g->o.summary != NULL) {
		f = fopen(g->o.summary, "w");
		if (f != NULL) {
			fprintf(f, "%s\n", json);
			fclose(f);
		}
	}
	fflush(NULL);
	_exit(rc < 0 ? 1 : st.rsp_prod_violations > 0 ? 3 : 0);
}

int
main(int argc, char **argv)
{
	struct guest *g;
	struct nf_config cfg = { 0 };
	struct nf_stats st;
	struct sigaction sa;
	const char *why;
	unsigned int i, j;
	int rc;

	g = calloc(1, sizeof(*g));
	if (g == NULL)
		return 1;
	g->dev_feat = &g->feat_final;
	g->t_begin = nf_now_ns();
	if (parse_opts(argc, argv, &g->o) != 0) {
		usage(stderr);
		return 1;
	}
	if (g->o.selftest) {
		rc = selftest();
		free(g);
		return rc;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (g->o.create) {
		rc = toolstack_create(&g->o);
		if (rc < 0) {
			fprintf(stderr, "xnb-guest: creating domain %d: %s\n",
				g->o.domid, strerror(-rc));
			return 1;
		}
	}

	cfg.sim_dir = g->o.sim;
	cfg.domid = (uint16_t)g->o.domid;
	cfg.handle = g->o.handle;
	cfg.queues = g->o.queues;
	cfg.split_evtchn = g->o.split;
	cfg.quiet = g->o.quiet;
	cfg.ctrl_ring = g->o.ctrl_ring;
	cfg.no_csum_offload = g->o.no_csum_offload;
	cfg.no_ipv6_csum = g->o.no_ipv6_csum;
	cfg.mcast_ctrl = g->o.mcast_ctrl;
	g->dev = nf_open(&cfg);
	if (g->dev == NULL) {
		fprintf(stderr, "xnb-guest: attaching as domain %d in %s: %s\n",
			g->o.domid, g->o.sim, strerror(errno));
		rc = 1;
		goto out;
	}

	memcpy(g->gen.src_mac, nf_mac(g->dev), 6);
	memcpy(g->gen.dst_mac, g->o.dst_mac, 6);
	g->gen.src_ip = 0x0a000000u | (uint32_t)g->o.domid << 8 | 1;	/* 10.0.D.1 */
	g->gen.dst_ip = 0x0a0000feu;					/* 10.0.0.254 */
	g->gen.stream = (uint16_t)g->o.stream;
	g->gen.csum_offload = g->o.csum;
	g->gen.gso = g->o.gso;
	g->gen.tcp = g->o.tcp;
	g->gen.ipv6 = g->o.ipv6;
	for (i = 0; i < NF_MAX_QUEUES; i++) {
		for (j = 0; j < BURST && gen_active(g); j++) {
			g->txq[i].p[j].buf = malloc(NF_FRAME_MAX_LEN);
			if (g->txq[i].p[j].buf == NULL)
				goto oom;
		}
		if (g->o.mode == MODE_REFLECT) {
			g->rq[i] = calloc(1, sizeof(*g->rq[i]));
			if (g->rq[i] == NULL)
				goto oom;
		}
	}
	if (g->o.mode == MODE_SINK || g->o.mode == MODE_LOOP) {
		g->seq = nf_seqtrack_new();
		if (g->seq == NULL)
			goto oom;
	}

	if (g->o.evil != NULL && nf_evil_prepare(g->dev, g->o.evil) < 0) {
		fprintf(stderr, "xnb-guest: --evil %s: no such misbehaviour\n", g->o.evil);
		rc = 1;
		goto out;
	}
	/* The clock of the rates starts with the link. */
	while (!nf_link_up(g->dev) && !stop_signal &&
	       (g->o.timeout <= 0 ||
		secs(nf_now_ns() - g->t_begin) < g->o.timeout))
		nf_poll(g->dev, 100);
	if (!nf_link_up(g->dev)) {
		why = stop_signal ? "signal" : "timeout";
		fprintf(stderr, "xnb-guest dom%d: never connected (%s)\n", g->o.domid,
			why);
		g->t_gen_end = nf_now_ns();
		rc = stop_signal ? 0 : 2;
	} else if (g->o.evil != NULL) {
		evil_run(g);	/* does not return */
	} else {
		rc = run(g, &why);
	}

	g->nq_final = nf_num_queues(g->dev);
	g->wait = *nf_tx_wait_hist(g->dev);
	g->feat_final = *nf_features(g->dev);
	nf_close(g->dev, 2000, &st);
	g->dev = NULL;
	summary(g, &st, why, g->t_gen_end);
	if (st.rsp_prod_violations > 0) {
		fprintf(stderr, "xnb-guest dom%d: FAIL: the backend broke the ring "
			"protocol (%" PRIu64 " rsp_prod violation(s)), exit status 3\n",
			g->o.domid, st.rsp_prod_violations);
		rc = 3;
	}
	goto out;
oom:
	fprintf(stderr, "xnb-guest: out of memory\n");
	rc = 1;
out:
	if (g->dev != NULL)
		nf_close(g->dev, 0, NULL);
	if (g->o.create)
		toolstack_destroy(&g->o);
	for (i = 0; i < NF_MAX_QUEUES; i++) {
		for (j = 0; j < BURST; j++)
			free(g->txq[i].p[j].buf);
		free(g->rq[i]);
	}
	if (g->seq != NULL)
		nf_seqtrack_free(g->seq);
	free(g);
	return rc;
}
