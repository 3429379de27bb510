// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Real captures through the real XDP program.
 *
 * Every capture under the shared corpus (../shared/pcaps beside the
 * repository, or $FLOWBPF_PCAPS) is read with libpcap and each Ethernet
 * frame is fed to flowbpf_xdp with BPF_PROG_TEST_RUN.  The captures were
 * written by other projects, many of them fuzzing regressions, so they
 * exercise parser paths that hand-made packets never reach.  What is
 * checked is what must hold for any input: monitor mode passes every
 * frame, every frame lands in exactly one outcome counter, and the flow
 * table accounts for exactly the packets the counters say it does.  Two
 * captures with a known content get their own subtests with exact
 * expectations, derived from decoding the frames here (and cross-checked
 * against tcpdump -e).
 */
#include <stdlib.h>
#include <stddef.h>
#include <limits.h>
#include <unistd.h>
#include <dirent.h>
#include <glob.h>
#include <libgen.h>
#include <arpa/inet.h>
#include <sys/stat.h>
#include <linux/types.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
/* pcap/bpf.h redefines struct bpf_insn from linux/bpf.h; none of it is used. */
#define PCAP_DONT_INCLUDE_PCAP_BPF_H
#include <pcap/pcap.h>
#include <pcap/dlt.h>
#include "flowbpf.h"
#include "loader.h"
#include "flowbpf.skel.h"
#include "netns.h"
#include "test.h"

/* Big enough that no corpus evicts a flow, so flow totals can be checked. */
#define PCAPS_MAP_ENTRIES 65536
/*
 * BPF_PROG_TEST_RUN refuses XDP frames longer than PAGE_SIZE minus the
 * headroom and skb_shared_info (about 3.5 KiB with 4 KiB pages) unless the
 * program handles fragments; 3000 is below that on every page size.
 */
#define PCAPS_MAX_FRAME 3000
/* Failed runs reported one by one before only counting them. */
#define PCAPS_MAX_REPORTS 10

struct stat_desc {
	const char *key;
	bool outcome;
};

#define STAT_DESC(name, key, outcome) [FLOWBPF_STAT_##name] = { key, outcome },
static const struct stat_desc stat_desc[FLOWBPF_STAT_MAX] = { FLOWBPF_STATS(
	STAT_DESC) };
#undef STAT_DESC

struct pcaps_ctx {
	struct flowbpf *skel;
	int prog_fd, stats_fd, flows_fd;
	struct ring_buffer *rb;
	long events; /* ring buffer records consumed */
};

struct dlt_count {
	int dlt;
	int files;
	long frames;
};

struct ref_frame;

/* What one corpus (one subtest) read and fed. */
struct corpus {
	int files; /* opened by libpcap */
	int unreadable; /* capture-named files libpcap could not open */
	int read_errors; /* files that ended in a read error */
	int other_files; /* not captures (LICENSE, README) */
	int non_eth_files;
	long non_eth_frames;
	struct dlt_count dlts[32];
	int ndlts;
	long frames; /* Ethernet frames read */
	long fed; /* frames the program ran on */
	long short_frames;
	long truncated;
	long bad_runs;
	/* Link-layer outcomes the reference decoder predicts, by stat. */
	__u64 expect[FLOWBPF_STAT_MAX];
	/* Called for every frame fed, with what ref_decode made of it. */
	void (*frame_cb)(void *arg, const struct ref_frame *r);
	void *cb_arg;
};

/* The corpus directory: $FLOWBPF_PCAPS, else ../shared/pcaps of the repo. */
static int pcaps_dir(char *out, size_t sz)
{
	const char *env = getenv("FLOWBPF_PCAPS");
	char exe[PATH_MAX], probe[PATH_MAX + 32], *dir;
	ssize_t n;

	if (env && *env) {
		snprintf(out, sz, "%s", env);
		return 0;
	}
	/*
	 * The runner lives in <repo>/<OUTPUT>/selftests; walk up to the
	 * directory holding the shared header rather than trusting the cwd or
	 * the depth of OUTPUT.
	 */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		dir = dirname(exe);
		while (strcmp(dir, "/") && strcmp(dir, ".")) {
			snprintf(probe, sizeof(probe), "%s/maps/flowbpf.h",
				 dir);
			if (!access(probe, F_OK)) {
				snprintf(out, sz, "%s/../shared/pcaps", dir);
				return 0;
			}
			dir = dirname(dir);
		}
	}
	/* An OUTPUT outside the tree: the cwd is the last guess. */
	if (!access("maps/flowbpf.h", F_OK)) {
		snprintf(out, sz, "../shared/pcaps");
		return 0;
	}
	return -ENOENT;
}

static void stats_delta(const struct flowbpf_stats *a,
			const struct flowbpf_stats *b, struct flowbpf_stats *d)
{
	int i;

	for (i = 0; i < FLOWBPF_STAT_MAX; i++)
		d->c[i] = b->c[i] - a->c[i];
}

/* Each subtest starts from empty tables so flow counts are its own. */
static bool tables_clear(struct pcaps_ctx *x)
{
	return ASSERT_OK(map_clear(x->flows_fd), "clear flows");
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct pcaps_ctx *x = ctx;

	x->events++;
	return 0;
}

static void note_dlt(struct corpus *c, int dlt, long frames)
{
	int i;

	for (i = 0; i < c->ndlts; i++) {
		if (c->dlts[i].dlt == dlt)
			break;
	}
	if (i == c->ndlts) {
		if (c->ndlts == (int)(sizeof(c->dlts) / sizeof(c->dlts[0])))
			return;
		c->dlts[c->ndlts++] = (struct dlt_count){ .dlt = dlt };
	}
	c->dlts[i].files++;
	c->dlts[i].frames += frames;
}

/*
 * A reference decoder, written apart from the datapath's parser so that it
 * is a second opinion.  Over every frame it predicts the link-layer
 * outcome from the rules the datapath documents (at most two VLAN tags,
 * IPv4 and IPv6 only); for the hand-checked captures it also predicts the
 * flow key, knowing only what those hold: IPv4/IPv6 without extension
 * headers, TCP/UDP/ICMP/ICMPv6.
 */
struct ref_frame {
	int tags;
	__u16 vid[8];
	int l2; /* outcome stat of a frame that is not IP, else 0 */
	bool has_key; /* an IP packet whose key ref_decode knows */
	struct flowbpf_key key;
};

static __u16 rd16(const __u8 *p)
{
	return (__u16)p[0] << 8 | p[1];
}

static bool tag_type(__u16 t)
{
	return flowbpf_eth_is_vlan(t);
}

static void ref_l4(const __u8 *l4, __u32 room, struct flowbpf_key *k)
{
	if (flowbpf_proto_is_icmp(k->proto)) {
		if (room >= 8)
			k->dport = htons(rd16(l4));
	} else if (k->proto == 6 || k->proto == 17) {
		if (room >= 8) {
			k->sport = htons(rd16(l4));
			k->dport = htons(rd16(l4 + 2));
		}
	}
}

/*
 * A PPPoE session header or an MPLS label stack at *off, which the
 * parser walks in every mode: the type of what follows (0 if not IP), or
 * the error stat.
 */
static int ref_shim(const __u8 *p, __u32 len, __u32 *off, __u16 *type,
		    struct flowbpf_key *k)
{
	int i;

	if (*type == 0x8864) {
		if (*off + 8 > len || p[*off] != 0x11 || p[*off + 1])
			return FLOWBPF_STAT_ERR_TUNNEL;
		k->tun_type = FLOWBPF_TUN_PPPOE;
		k->tun_id = rd16(p + *off + 2);
		*type = rd16(p + *off + 6) == 0x21   ? ETH_P_IP
			: rd16(p + *off + 6) == 0x57 ? ETH_P_IPV6
						     : 0;
		*off += 8;
	} else {
		for (i = 0; i < FLOWBPF_MPLS_MAX; i++, *off += 4) {
			if (*off + 4 > len)
				return FLOWBPF_STAT_ERR_TUNNEL;
			if (!i) {
				k->tun_type = FLOWBPF_TUN_MPLS;
				k->tun_id = (__u32)p[*off] << 12 |
					    p[*off + 1] << 4 | p[*off + 2] >> 4;
			}
			if (p[*off + 2] & 1)
				break;
		}
		if (i == FLOWBPF_MPLS_MAX)
			return FLOWBPF_STAT_ERR_TUNNEL;
		*off += 4;
		if (*off >= len)
			return FLOWBPF_STAT_ERR_TUNNEL;
		*type = p[*off] >> 4 == 4   ? ETH_P_IP
			: p[*off] >> 4 == 6 ? ETH_P_IPV6
					    : 0;
	}
	return *type ? 0 : FLOWBPF_STAT_NON_IP;
}

static void ref_decode(const __u8 *p, __u32 len, struct ref_frame *r)
{
	struct flowbpf_key *k = &r->key;
	__u32 off = ETH_HLEN;
	__u16 type;

	memset(r, 0, sizeof(*r));
	if (len < ETH_HLEN) {
		r->l2 = FLOWBPF_STAT_ERR_L2_TRUNC;
		return;
	}
	type = rd16(p + 12);
	while (tag_type(type) && off + 4 <= len && r->tags < 8) {
		r->vid[r->tags++] = rd16(p + off) & 0x0fff;
		type = rd16(p + off + 2);
		off += 4;
	}
	/* A third tag is too deep even when its bytes are missing. */
	if (r->tags > 2 || (r->tags == 2 && tag_type(type))) {
		r->l2 = FLOWBPF_STAT_ERR_VLAN_DEPTH;
		return;
	}
	if (tag_type(type)) {
		r->l2 = FLOWBPF_STAT_ERR_L2_TRUNC;
		return;
	}
	if (type == 0x8864 || type == 0x8847 || type == 0x8848) {
		r->l2 = ref_shim(p, len, &off, &type, k);
		if (r->l2)
			return;
	}
	if (type != ETH_P_IP && type != ETH_P_IPV6) {
		r->l2 = FLOWBPF_STAT_NON_IP;
		return;
	}
	k->vlan = r->tags > 0 ? r->vid[0] : 0;
	k->inner_vlan = r->tags > 1 ? r->vid[1] : 0;
	if (type == ETH_P_IP && off + 20 <= len && p[off] >> 4 == 4) {
		__u32 ihl = (p[off] & 0xf) * 4;

		k->family = 4;
		k->proto = p[off + 9];
		k->saddr[2] = k->daddr[2] = htonl(0xffff);
		memcpy(&k->saddr[3], p + off + 12, 4);
		memcpy(&k->daddr[3], p + off + 16, 4);
		if (!(rd16(p + off + 6) & 0x1fff) && off + ihl <= len)
			ref_l4(p + off + ihl, len - off - ihl, k);
		r->has_key = true;
	} else if (type == ETH_P_IPV6 && off + 40 <= len && p[off] >> 4 == 6) {
		k->family = 6;
		k->proto = p[off + 6];
		memcpy(k->saddr, p + off + 8, 16);
		memcpy(k->daddr, p + off + 24, 16);
		ref_l4(p + off + 40, len - off - 40, k);
		r->has_key = k->proto == 6 || k->proto == 17 || k->proto == 58;
	}
}

static void feed_frame(struct pcaps_ctx *x, struct corpus *c, const char *path,
		       long frame_no, const __u8 *data, __u32 caplen)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .repeat = 1);
	struct ref_frame r;
	__u32 len = caplen;
	char name[PATH_MAX + 64];
	int err;

	if (len > PCAPS_MAX_FRAME) {
		len = PCAPS_MAX_FRAME;
		c->truncated++;
	}
	opts.data_in = data;
	opts.data_size_in = len;

	if (len < ETH_HLEN) {
		struct flowbpf_stats before, after;

		/* The kernel refuses these before the program runs, so none
		 * of the program's counters may move. */
		c->short_frames++;
		flowbpf_stats_read(x->stats_fd, &before);
		err = bpf_prog_test_run_opts(x->prog_fd, &opts);
		flowbpf_stats_read(x->stats_fd, &after);
		if (err != -EINVAL || memcmp(&before, &after, sizeof(after))) {
			snprintf(name, sizeof(name),
				 "%s frame %ld (%u bytes) rejected", path,
				 frame_no, len);
			ASSERT_EQ(err, -EINVAL, name);
			ASSERT_FALSE(memcmp(&before, &after, sizeof(after)),
				     name);
		}
		return;
	}

	err = bpf_prog_test_run_opts(x->prog_fd, &opts);
	if (!err)
		c->fed++;
	if (err || opts.retval != XDP_PASS) {
		if (c->bad_runs++ < PCAPS_MAX_REPORTS) {
			snprintf(name, sizeof(name), "%s frame %ld (%u bytes)",
				 path, frame_no, len);
			ASSERT_OK(err, name);
			ASSERT_EQ(opts.retval, XDP_PASS, name);
		}
		return;
	}
	ref_decode(data, len, &r);
	if (r.l2)
		c->expect[r.l2]++;
	if (c->frame_cb)
		c->frame_cb(c->cb_arg, &r);
}

static void feed_file(struct pcaps_ctx *x, struct corpus *c, const char *path)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *data;
	long frame_no = 0;
	pcap_t *p;
	int dlt, r;

	p = pcap_open_offline(path, errbuf);
	if (!p) {
		c->unreadable++;
		test__log("  unreadable: %s: %s\n", path, errbuf);
		return;
	}
	c->files++;
	dlt = pcap_datalink(p);
	while ((r = pcap_next_ex(p, &h, &data)) == 1) {
		frame_no++;
		/* Only the captured bytes exist; len may be what the wire
		 * (or a fuzzer) claimed. */
		if (dlt == DLT_EN10MB)
			feed_frame(x, c, path, frame_no, data, h->caplen);
	}
	if (r == PCAP_ERROR) {
		c->read_errors++;
		test__log("  read error: %s after %ld frames: %s\n", path,
			  frame_no, pcap_geterr(p));
	}
	if (dlt == DLT_EN10MB) {
		c->frames += frame_no;
	} else {
		c->non_eth_files++;
		c->non_eth_frames += frame_no;
		note_dlt(c, dlt, frame_no);
	}
	pcap_close(p);
	/* Drained per file so the ring buffer never fills. */
	ring_buffer__consume(x->rb);
}

/* By magic number, so a truncated capture still counts as unreadable. */
static bool is_capture(const char *path)
{
	static const __u32 magics[] = {
		0xa1b2c3d4, 0xd4c3b2a1, /* pcap */
		0xa1b23c4d, 0x4d3cb2a1, /* pcap, nanosecond */
		0xa1b2cd34, 0x34cdb2a1, /* Kuznetzov's modified pcap */
		0x0a0d0d0a, /* pcapng section header */
	};
	static const char *const exts[] = { ".pcap", ".pcapng", ".cap" };
	size_t i, plen = strlen(path);
	__u32 m = 0;
	FILE *f;

	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		size_t elen = strlen(exts[i]);

		if (plen > elen && !strcmp(path + plen - elen, exts[i]))
			return true;
	}
	f = fopen(path, "rb");
	if (!f)
		return false;
	if (fread(&m, sizeof(m), 1, f) != 1)
		m = 0;
	fclose(f);
	for (i = 0; i < sizeof(magics) / sizeof(magics[0]); i++) {
		if (m == magics[i])
			return true;
	}
	return false;
}

static void walk(struct pcaps_ctx *x, struct corpus *c, const char *dir)
{
	struct dirent **ents;
	char path[PATH_MAX];
	struct stat sb;
	int i, n;

	/* Sorted, so failures name the same frames on every run. */
	n = scandir(dir, &ents, NULL, alphasort);
	if (!ASSERT_GE(n, 0, dir))
		return;
	for (i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;

		if (!strcmp(nm, ".") || !strcmp(nm, ".."))
			goto next;
		snprintf(path, sizeof(path), "%s/%s", dir, nm);
		/* lstat: a symlinked directory could make the walk a loop. */
		if (lstat(path, &sb))
			goto next;
		if (S_ISDIR(sb.st_mode))
			walk(x, c, path);
		else if (S_ISREG(sb.st_mode) && is_capture(path))
			feed_file(x, c, path);
		else
			c->other_files++;
	next:
		free(ents[i]);
	}
	free(ents);
}

static void log_stats(const struct flowbpf_stats *d)
{
	int i;

	test__log("  outcomes:");
	for (i = 0; i < FLOWBPF_STAT_MAX; i++) {
		if (stat_desc[i].outcome && d->c[i])
			test__log(" %s=%llu", stat_desc[i].key,
				  (unsigned long long)d->c[i]);
	}
	test__log("\n  other counters:");
	for (i = 0; i < FLOWBPF_STAT_MAX; i++) {
		if (!stat_desc[i].outcome && d->c[i])
			test__log(" %s=%llu", stat_desc[i].key,
				  (unsigned long long)d->c[i]);
	}
	test__log("\n");
}

static void log_corpus(const char *name, const struct corpus *c,
		       const struct flowbpf_stats *d)
{
	int i;

	test__log("%s: %d files read, %d unreadable, %d with read errors, "
		  "%d other files\n",
		  name, c->files, c->unreadable, c->read_errors,
		  c->other_files);
	test__log("  non-Ethernet: %d files, %ld frames", c->non_eth_files,
		  c->non_eth_frames);
	for (i = 0; i < c->ndlts; i++) {
		const char *dn = pcap_datalink_val_to_name(c->dlts[i].dlt);

		test__log("%s %s(%d) %d/%ld", i ? "," : ":", dn ? dn : "?",
			  c->dlts[i].dlt, c->dlts[i].files, c->dlts[i].frames);
	}
	test__log("\n  Ethernet frames %ld: fed %ld, shorter than %d %ld, "
		  "truncated to %d %ld\n",
		  c->frames, c->fed, ETH_HLEN, c->short_frames, PCAPS_MAX_FRAME,
		  c->truncated);
	log_stats(d);
}

/*
 * Invariants that hold for any input, checked over the counter deltas
 * and the flow table of one subtest.
 */
static void check_invariants(struct pcaps_ctx *x, const struct corpus *c,
			     const struct flowbpf_stats *d, long events)
{
	const __u64 *v = d->c;
	struct flowbpf_key *keys = NULL;
	struct flowbpf_flow f;
	__u64 outcomes = 0, flow_pkts = 0, flow_bytes = 0, pkts, bytes;
	__u32 i, n = 0;
	int err;

	for (i = 0; i < FLOWBPF_STAT_MAX; i++) {
		if (stat_desc[i].outcome)
			outcomes += v[i];
	}
	ASSERT_EQ(c->bad_runs, 0, "every run returned 0 and XDP_PASS");
	ASSERT_EQ(v[FLOWBPF_STAT_PACKETS], c->fed, "packets == frames fed");
	ASSERT_EQ(v[FLOWBPF_STAT_PACKETS], outcomes,
		  "packets == sum of outcomes");
	ASSERT_EQ(v[FLOWBPF_STAT_DROP] + v[FLOWBPF_STAT_QUEUED_DROP], 0,
		  "monitor mode drops nothing");
	ASSERT_EQ(events, v[FLOWBPF_STAT_EVENTS_SENT],
		  "events received == events_sent");
	ASSERT_EQ(v[FLOWBPF_STAT_ERR_L2_TRUNC],
		  c->expect[FLOWBPF_STAT_ERR_L2_TRUNC],
		  "err_l2_truncated == reference decoder");
	ASSERT_EQ(v[FLOWBPF_STAT_ERR_VLAN_DEPTH],
		  c->expect[FLOWBPF_STAT_ERR_VLAN_DEPTH],
		  "err_vlan_too_deep == reference decoder");
	ASSERT_EQ(v[FLOWBPF_STAT_NON_IP], c->expect[FLOWBPF_STAT_NON_IP],
		  "non_ip_packets == reference decoder");

	err = map_keys(x->flows_fd, &keys, &n);
	if (!ASSERT_OK(err, "list flows"))
		return;
	for (i = 0; i < n; i++) {
		if (!bpf_map_lookup_elem(x->flows_fd, &keys[i], &f)) {
			flow_pkts += f.packets;
			flow_bytes += f.bytes;
		}
		if (keys[i].dir != FLOWBPF_DIR_INGRESS ||
		    (keys[i].family != 4 && keys[i].family != 6)) {
			char name[64];

			snprintf(name, sizeof(name), "flow %u dir/family", i);
			ASSERT_EQ(keys[i].dir, FLOWBPF_DIR_INGRESS, name);
			ASSERT_TRUE(keys[i].family == 4 || keys[i].family == 6,
				    name);
		}
	}
	free(keys);
	/* The tables were emptied first, so only eviction can lose flows;
	 * an LRU map well under half full evicts nothing. */
	ASSERT_LE(n, v[FLOWBPF_STAT_FLOWS_CREATED],
		  "flows in table <= created");
	if (v[FLOWBPF_STAT_FLOWS_CREATED] <= PCAPS_MAP_ENTRIES / 2)
		ASSERT_EQ(n, v[FLOWBPF_STAT_FLOWS_CREATED],
			  "flows in table == created");
	/*
	 * With nothing evicted and no failed insert, the table holds every
	 * packet (and byte) that reached the verdict stage, which is every
	 * one in a verdict outcome.
	 */
	pkts = v[FLOWBPF_STAT_PASS] + v[FLOWBPF_STAT_DROP] +
	       v[FLOWBPF_STAT_WOULD_DROP] + v[FLOWBPF_STAT_QUEUED_PASS] +
	       v[FLOWBPF_STAT_QUEUED_DROP];
	bytes = v[FLOWBPF_STAT_PASS_BYTES] + v[FLOWBPF_STAT_DROP_BYTES] +
		v[FLOWBPF_STAT_WOULD_DROP_BYTES] +
		v[FLOWBPF_STAT_QUEUED_PASS_BYTES] +
		v[FLOWBPF_STAT_QUEUED_DROP_BYTES];
	if (n == v[FLOWBPF_STAT_FLOWS_CREATED] &&
	    !v[FLOWBPF_STAT_FLOW_INSERT_FAIL]) {
		ASSERT_EQ(flow_pkts, pkts,
			  "flow packets == packets in verdict outcomes");
		ASSERT_EQ(flow_bytes, bytes,
			  "flow bytes == bytes in verdict outcomes");
	}
}

/* Feeds the files (or directory trees) in paths as one subtest. */
static void run_corpus(struct pcaps_ctx *x, const char *name, struct corpus *c,
		       char **paths, size_t npaths, struct flowbpf_stats *d)
{
	struct flowbpf_stats before, after;
	struct stat sb;
	size_t i;

	memset(d, 0, sizeof(*d));
	x->events = 0;
	if (!tables_clear(x))
		return;
	if (!ASSERT_OK(flowbpf_stats_read(x->stats_fd, &before), "stats"))
		return;
	for (i = 0; i < npaths; i++) {
		if (!stat(paths[i], &sb) && S_ISDIR(sb.st_mode))
			walk(x, c, paths[i]);
		else
			feed_file(x, c, paths[i]);
	}
	ring_buffer__consume(x->rb);
	if (!ASSERT_OK(flowbpf_stats_read(x->stats_fd, &after), "stats"))
		return;
	stats_delta(&before, &after, d);
	log_corpus(name, c, d);
	check_invariants(x, c, d, x->events);
	ASSERT_GE(d->c[FLOWBPF_STAT_FLOWS_CREATED], 1, "flows created");
	/* The corpus must have been fed at all, else the checks are empty. */
	ASSERT_GE(c->fed, 1, "frames fed");
}

struct ref_flow {
	struct flowbpf_key key;
	__u64 packets;
};

struct ref_state {
	long frames;
	long by_tags[4]; /* 0, 1, 2 and 3-or-more tags */
	struct ref_flow flows[64];
	int nflows;
	bool overflow;
};

/* ifindex is the test harness's choice, not the capture's. */
static bool key_eq(const struct flowbpf_key *a, const struct flowbpf_key *b)
{
	size_t o = offsetof(struct flowbpf_key, dir);

	return !memcmp((const char *)a + o, (const char *)b + o,
		       sizeof(*a) - o);
}

static void ref_frame_cb(void *arg, const struct ref_frame *r)
{
	struct ref_state *s = arg;
	int i;

	s->frames++;
	s->by_tags[r->tags < 3 ? r->tags : 3]++;
	if (!r->has_key)
		return;
	for (i = 0; i < s->nflows; i++) {
		if (key_eq(&s->flows[i].key, &r->key))
			break;
	}
	if (i == s->nflows) {
		if (s->nflows ==
		    (int)(sizeof(s->flows) / sizeof(s->flows[0]))) {
			s->overflow = true;
			return;
		}
		s->flows[s->nflows++].key = r->key;
	}
	s->flows[i].packets++;
}

/* The flow table must hold exactly the flows the reference decoder saw. */
static void check_ref_flows(struct pcaps_ctx *x, const struct ref_state *s)
{
	struct flowbpf_key *keys = NULL;
	struct flowbpf_flow f;
	char name[96];
	__u32 j, n = 0;
	int i;

	ASSERT_FALSE(s->overflow, "reference flow table large enough");
	if (!ASSERT_OK(map_keys(x->flows_fd, &keys, &n), "list flows"))
		return;
	ASSERT_EQ(n, s->nflows, "flows in table == flows decoded");
	for (i = 0; i < s->nflows; i++) {
		for (j = 0; j < n; j++) {
			if (key_eq(&keys[j], &s->flows[i].key))
				break;
		}
		snprintf(name, sizeof(name), "flow %d (vlan %u/%u, family %u)",
			 i, s->flows[i].key.vlan, s->flows[i].key.inner_vlan,
			 s->flows[i].key.family);
		if (!ASSERT_TRUE(j < n, name))
			continue;
		if (ASSERT_OK(bpf_map_lookup_elem(x->flows_fd, &keys[j], &f),
			      name))
			ASSERT_EQ(f.packets, s->flows[i].packets, name);
	}
	free(keys);
}

static const struct ref_flow *ref_find_vlan(const struct ref_state *s,
					    __u16 vlan, __u16 inner)
{
	int i;

	for (i = 0; i < s->nflows; i++) {
		if (s->flows[i].key.vlan == vlan &&
		    s->flows[i].key.inner_vlan == inner)
			return &s->flows[i];
	}
	return NULL;
}

/* First match of pattern in the corpus, or NULL with a skip reported. */
static bool find_capture(const char *root, const char *pattern, char *out,
			 size_t sz)
{
	char pat[PATH_MAX];
	glob_t g;

	snprintf(pat, sizeof(pat), "%s/%s", root, pattern);
	if (glob(pat, 0, NULL, &g) || !g.gl_pathc) {
		test__skip("no capture matches %s", pat);
		return false;
	}
	snprintf(out, sz, "%s", g.gl_pathv[0]);
	globfree(&g);
	return true;
}

/*
 * eve-flow-vlan-02: tcpdump -nn -e shows three ICMP echo requests from
 * 192.168.0.1, tagged "vlan 6", "vlan 1, vlan 10" and "vlan 1, vlan 10,
 * vlan 100".  The first two are flows keyed by their tags, the third is
 * one tag too deep.
 */
static void subtest_vlan(struct pcaps_ctx *x, const char *root)
{
	struct ref_state s = {};
	struct corpus c = { .frame_cb = ref_frame_cb, .cb_arg = &s };
	char path[PATH_MAX], *paths[] = { path };
	const struct ref_flow *rf;
	struct flowbpf_stats d;

	if (!find_capture(root, "suricata-verify/eve-flow-vlan-02*.pcap*", path,
			  sizeof(path)))
		return;
	run_corpus(x, "suricata-vlan", &c, paths, 1, &d);

	/* Without each depth present the checks below would prove nothing. */
	ASSERT_GE(s.by_tags[1], 1, "frames with one tag");
	ASSERT_GE(s.by_tags[2], 1, "frames with two tags");
	ASSERT_GE(s.by_tags[3], 1, "frames with three or more tags");
	/* Every tag of this capture is complete, so depth is tag count. */
	ASSERT_EQ(d.c[FLOWBPF_STAT_ERR_VLAN_DEPTH], s.by_tags[3],
		  "err_vlan_too_deep == frames with 3+ tags");
	check_ref_flows(x, &s);

	/* The tags tcpdump shows, so a slip in ref_decode is caught too. */
	rf = ref_find_vlan(&s, 6, 0);
	ASSERT_TRUE(rf && rf->packets == 1, "flow on vlan 6");
	rf = ref_find_vlan(&s, 1, 10);
	ASSERT_TRUE(rf && rf->packets == 1, "flow on vlan 1 inner 10");
	ASSERT_FALSE(ref_find_vlan(&s, 10, 100), "no flow on vlan 10/100");
}

/*
 * hashaf-flow-v4-v6-collision: tcpdump shows UDP 1.2.3.4.1111 >
 * 5.6.7.8.2222 and the same from 102:304:: to 506:708::, addresses whose
 * 32-bit words coincide.  In the 16-byte key form they must stay two flows.
 */
static void subtest_v4v6(struct pcaps_ctx *x, const char *root)
{
	struct ref_state s = {};
	struct corpus c = { .frame_cb = ref_frame_cb, .cb_arg = &s };
	char path[PATH_MAX], *paths[] = { path };
	const struct flowbpf_key *k4 = NULL, *k6 = NULL;
	struct flowbpf_stats d;
	int i;

	if (!find_capture(root, "suricata-verify/hashaf-flow-v4-v6-collision*",
			  path, sizeof(path)))
		return;
	run_corpus(x, "hashaf-v4-v6-collision", &c, paths, 1, &d);
	check_ref_flows(x, &s);

	for (i = 0; i < s.nflows; i++) {
		if (s.flows[i].key.family == 4)
			k4 = &s.flows[i].key;
		else if (s.flows[i].key.family == 6)
			k6 = &s.flows[i].key;
	}
	if (!ASSERT_TRUE(k4 && k6, "capture has an IPv4 and an IPv6 flow"))
		return;
	/* The point of the capture: same ports, colliding address words. */
	ASSERT_EQ(k4->proto, k6->proto, "same protocol");
	ASSERT_EQ(k4->sport, k6->sport, "same source port");
	ASSERT_EQ(k4->dport, k6->dport, "same destination port");
	ASSERT_EQ(k4->saddr[3], k6->saddr[0], "v4 source == first v6 word");
	ASSERT_EQ(k4->daddr[3], k6->daddr[0], "v4 dest == first v6 word");
	ASSERT_FALSE(key_eq(k4, k6), "distinct keys");
}

static int corpus_dirs(const char *root, char ***out)
{
	struct dirent **ents;
	char path[PATH_MAX], **dirs;
	struct stat sb;
	int i, n, nd = 0;

	n = scandir(root, &ents, NULL, alphasort);
	if (n < 0)
		return -errno;
	dirs = calloc(n, sizeof(*dirs));
	for (i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;

		if (snprintf(path, sizeof(path), "%s/%s", root, nm) <
			    (int)sizeof(path) &&
		    dirs && nm[0] != '.' && !stat(path, &sb) &&
		    S_ISDIR(sb.st_mode))
			dirs[nd++] = strdup(nm);
		free(ents[i]);
	}
	free(ents);
	if (!dirs)
		return -ENOMEM;
	*out = dirs;
	return nd;
}

void test_pcaps(void)
{
	struct pcaps_ctx x = { .prog_fd = -1 };
	char root[PATH_MAX], path[PATH_MAX], *paths[] = { path };
	char **dirs = NULL;
	int i, nd, err;
	struct stat sb;

	err = pcaps_dir(root, sizeof(root));
	if (err || stat(root, &sb) || !S_ISDIR(sb.st_mode)) {
		test__skip("no capture corpus at %s (set FLOWBPF_PCAPS)",
			   err ? "../shared/pcaps" : root);
		return;
	}
	nd = corpus_dirs(root, &dirs);
	if (!ASSERT_GE(nd, 1, "corpus directories"))
		goto out;

	x.skel = flowbpf__open();
	if (!ASSERT_OK_PTR(x.skel, "skel open"))
		goto out;
	x.skel->rodata->cfg.mode = FLOWBPF_MODE_MONITOR;
	/* Only XDP is run; verifying the tc programs would double the time. */
	bpf_program__set_autoload(x.skel->progs.flowbpf_tc_egress, false);
	bpf_program__set_autoload(x.skel->progs.flowbpf_tc_ingress, false);
	if (!ASSERT_OK(bpf_map__set_max_entries(x.skel->maps.flows,
						PCAPS_MAP_ENTRIES),
		       "flows size"))
		goto out;
	if (!ASSERT_OK(flowbpf__load(x.skel), "skel load"))
		goto out;
	x.prog_fd = bpf_program__fd(x.skel->progs.flowbpf_xdp);
	x.stats_fd = bpf_map__fd(x.skel->maps.stats);
	x.flows_fd = bpf_map__fd(x.skel->maps.flows);
	x.rb = ring_buffer__new(bpf_map__fd(x.skel->maps.events), on_event, &x,
				NULL);
	if (!ASSERT_OK_PTR(x.rb, "ring buffer"))
		goto out;

	for (i = 0; i < nd; i++) {
		struct flowbpf_stats d;
		struct corpus c = {};

		if (!test__start_subtest(dirs[i]))
			continue;
		if (!ASSERT_LE(snprintf(path, sizeof(path), "%s/%s", root,
					dirs[i]),
			       sizeof(path) - 1, "corpus path length"))
			continue;
		run_corpus(&x, dirs[i], &c, paths, 1, &d);
	}
	if (test__start_subtest("suricata-vlan"))
		subtest_vlan(&x, root);
	if (test__start_subtest("hashaf-v4-v6-collision"))
		subtest_v4v6(&x, root);
out:
	ring_buffer__free(x.rb);
	flowbpf__destroy(x.skel);
	for (i = 0; dirs && i < nd; i++)
		free(dirs[i]);
	free(dirs);
}
