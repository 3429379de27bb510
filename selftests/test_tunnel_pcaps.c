// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Encapsulated captures through the real XDP program with --decap inner,
 * checked flow by flow against tshark's decode of the same files.
 *
 * Each frame of the PPPoE, MPLS, GRE, GENEVE, VXLAN, 6in4 and other
 * tunnel captures of the shared corpus is fed to flowbpf_xdp with
 * BPF_PROG_TEST_RUN (PPP and raw-IP captures with an Ethernet header put
 * in front); the statistics tell which outcome each frame had.  tshark
 * (Debian's, an independent dissector) names every layer of every frame;
 * from its layer list this test picks the IP packet flowbpf must count
 * (the inner one of a tunnel it opens, else the outer one) and the tunnel
 * context, and sums packets and IP-layer bytes per (addresses, tunnel).
 * Both tables must be equal.  A frame tshark decodes whole, without a
 * malformation, must never end in a parse error; the malformed tunnel
 * headers among the captures are counted as errors, never a fault.
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#define PCAP_DONT_INCLUDE_PCAP_BPF_H
#include <pcap/pcap.h>
#include <pcap/dlt.h>
#include "flowbpf.h"
#include "flowfmt.h"
#include "loader.h"
#include "flowbpf.skel.h"
#include "netns.h"
#include "test.h"

#define TP_MAX_FRAME 3000
#define TP_MAX_FRAMES 16384
#define TP_MAX_FLOWS 1024

static const char *const tp_globs[] = {
	"tcpdump/pppoe*.pcap*",	  "tcpdump/mpls-*.pcap*",
	"tcpdump/*gre*.pcap*",	  "tcpdump/geneve*.pcap*",
	"tcpdump/*vxlan*.pcap*",  "tcpdump/gso-*.pcap*",
	"tcpdump/bigtcp-*.pcap*", "tcpdump/*6in4*.pcap*",
	"tcpdump/*ipip*.pcap*",	  "suricata-verify/*.pcap",
};

/* One row of a flow table: what flowbpf counts a flow by, less ports. */
struct tp_flow {
	__u8 family, tun_type;
	__be32 saddr[4], daddr[4];
	__u32 tun_id;
	__u64 packets, bytes;
};

struct tp_table {
	struct tp_flow f[TP_MAX_FLOWS];
	int n;
	bool full;
};

struct tp_ctx {
	struct flowbpf *skel;
	int prog_fd, stats_fd, flows_fd;
	/* Per frame number (1-based, counted on across the captures fed
	 * since frames was last set to 0): the outcome stat, -1 when not
	 * fed. */
	int outcome[TP_MAX_FRAMES + 1];
	long frames;
	__u64 errors, fed, checked;
	__u64 inner[FLOWBPF_TUN_MAX]; /* frames compared, by tunnel type */
};

static void tp_add(struct tp_table *t, const struct tp_flow *x)
{
	int i;

	for (i = 0; i < t->n; i++) {
		struct tp_flow *f = &t->f[i];

		if (f->family == x->family && f->tun_type == x->tun_type &&
		    f->tun_id == x->tun_id && !memcmp(f->saddr, x->saddr, 16) &&
		    !memcmp(f->daddr, x->daddr, 16)) {
			f->packets += x->packets;
			f->bytes += x->bytes;
			return;
		}
	}
	if (t->n == TP_MAX_FLOWS) {
		t->full = true;
		return;
	}
	t->f[t->n++] = *x;
}

/* The frame as Ethernet: PPP, Cisco HDLC and raw IP get a header. */
static __u32 tp_frame(int dlt, const __u8 *p, __u32 len, __u8 *out)
{
	__u16 type = 0;
	__u32 skip = 0;

	if (dlt == DLT_EN10MB) {
		memcpy(out, p, len);
		return len;
	}
	if (dlt == DLT_PPP || dlt == DLT_PPP_SERIAL) {
		__u16 proto;

		if (len >= 2 && p[0] == 0xff && p[1] == 0x03)
			skip = 2;
		if (len < skip + 2)
			return 0;
		proto = p[skip] << 8 | p[skip + 1];
		skip += 2;
		type = proto == 0x0021	 ? ETH_P_IP
		       : proto == 0x0057 ? ETH_P_IPV6
		       : proto == 0x0281 ? ETH_P_MPLS_UC
		       : proto == 0x0283 ? ETH_P_MPLS_MC
					 : 0;
	} else if (dlt == DLT_C_HDLC && len >= 4) {
		type = p[2] << 8 | p[3];
		skip = 4;
	} else if (dlt == DLT_RAW || dlt == DLT_IPV4 || dlt == DLT_IPV6) {
		type = len && p[0] >> 4 == 6 ? ETH_P_IPV6 : ETH_P_IP;
	}
	if (!type || len - skip + ETH_HLEN > TP_MAX_FRAME)
		return 0;
	memset(out, 0, 12);
	out[12] = type >> 8;
	out[13] = type & 0xff;
	memcpy(out + ETH_HLEN, p + skip, len - skip);
	return len - skip + ETH_HLEN;
}

static int tp_outcome(const struct flowbpf_stats *a,
		      const struct flowbpf_stats *b)
{
	int i;

	for (i = 0; i < FLOWBPF_STAT_MAX; i++)
		if (stat_is_outcome(i) && b->c[i] != a->c[i])
			return i;
	return -1;
}

static bool is_flow_outcome(int o)
{
	return o >= 0 && o < FLOWBPF_STAT_NON_IP;
}

/* Feeds every frame of path; false if libpcap cannot read it. */
static bool tp_feed(struct tp_ctx *x, const char *path)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	static __u8 frame[TP_MAX_FRAME + 64];
	pcap_t *pc;
	int dlt;

	pc = pcap_open_offline(path, err);
	if (!pc)
		return false;
	dlt = pcap_datalink(pc);
	while (pcap_next_ex(pc, &h, &d) == 1) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .repeat = 1);
		struct flowbpf_stats a, b;
		__u32 len = 0;

		if (!ASSERT_LE(x->frames + 1, TP_MAX_FRAMES, "frames at most"))
			break;
		x->outcome[++x->frames] = -1;
		if (h->caplen <= TP_MAX_FRAME)
			len = tp_frame(dlt, d, h->caplen, frame);
		if (len < ETH_HLEN)
			continue;
		o.data_in = frame;
		o.data_size_in = len;
		flowbpf_stats_read(x->stats_fd, &a);
		if (!ASSERT_OK(bpf_prog_test_run_opts(x->prog_fd, &o),
			       "test run") ||
		    !ASSERT_EQ(o.retval, XDP_PASS, "monitor mode passes"))
			continue;
		flowbpf_stats_read(x->stats_fd, &b);
		x->outcome[x->frames] = tp_outcome(&a, &b);
		x->fed++;
		if (!is_flow_outcome(x->outcome[x->frames]) &&
		    x->outcome[x->frames] != FLOWBPF_STAT_NON_IP)
			x->errors++;
	}
	pcap_close(pc);
	return true;
}

/* Item i (0-based) of a tshark field's comma-separated occurrences. */
static bool tp_item(const char *field, int i, char *out, size_t len)
{
	const char *p = field, *e;

	while (i-- > 0) {
		p = strchr(p, ',');
		if (!p)
			return false;
		p++;
	}
	e = strchr(p, ',');
	if (!e)
		e = p + strlen(p);
	if (e == p || (size_t)(e - p) >= len)
		return false;
	memcpy(out, p, e - p);
	out[e - p] = '\0';
	return true;
}

static unsigned long tp_num(const char *field, int i)
{
	char b[64];

	return tp_item(field, i, b, sizeof(b)) ? strtoul(b, NULL, 0) : 0;
}

enum {
	F_NO,
	F_LEN,
	F_CAPLEN,
	F_PROTOS,
	F_IPSRC,
	F_IPDST,
	F_IPLEN,
	F_IP6SRC,
	F_IP6DST,
	F_IP6PLEN,
	F_UDPDPORT,
	F_VXLAN,
	F_GENEVE,
	F_GREKEY,
	F_MPLS,
	F_PPPOES,
	F_MF,
	F_FRAG,
	F_MALFORMED,
	F_EXPERT,
	F_GREPROTO,
	F_MAX
};

#define TP_FIELDS                                                           \
	"-e frame.number -e frame.len -e frame.cap_len -e frame.protocols " \
	"-e ip.src -e ip.dst -e ip.len -e ipv6.src -e ipv6.dst "            \
	"-e ipv6.plen -e udp.dstport -e vxlan.vni -e geneve.vni "           \
	"-e gre.key -e mpls.label -e pppoe.session_id -e ip.flags.mf "      \
	"-e ip.frag_offset -e _ws.malformed -e _ws.expert.severity "        \
	"-e gre.proto"

struct tp_layers {
	char *tok[64];
	int n;
};

static bool is_ip(const char *t)
{
	return !strcmp(t, "ip") || !strcmp(t, "ipv6");
}

/* The number of tokens equal to w before index i. */
static int tp_count(const struct tp_layers *l, int i, const char *w)
{
	int j, n = 0;

	for (j = 0; j < i; j++)
		n += !strcmp(l->tok[j], w);
	return n;
}

/* After an inner Ethernet header at i: the IP layer, or -1. */
static int tp_after_eth(const struct tp_layers *l, int i)
{
	while (i < l->n &&
	       (!strcmp(l->tok[i], "eth") || !strcmp(l->tok[i], "ethertype") ||
		!strcmp(l->tok[i], "vlan")))
		i++;
	return i < l->n && is_ip(l->tok[i]) ? i : -1;
}

/* GRE carrying IPv4, IPv6 or Ethernet; not WCCP's, ERSPAN's or others. */
static bool tp_gre_opened(const char *protos)
{
	unsigned long p = tp_num(protos, 0);

	return p == ETH_P_IP || p == ETH_P_IPV6 || p == 0x6558;
}

/* tshark found an error in the frame (PI_ERROR and above). */
static bool tp_expert_error(const char *sev)
{
	int i;

	for (i = 0; i < 32; i++) {
		char b[32];

		if (!tp_item(sev, i, b, sizeof(b)))
			return false;
		if (strtoul(b, NULL, 0) >= 0x00800000)
			return true;
	}
	return false;
}

/*
 * The layer flowbpf counts a frame as: index of an "ip"/"ipv6" token
 * and the tunnel type, with --decap inner.  f are the frame's fields.
 */
static int tp_pick(const struct tp_layers *l, char **f, __u8 *type, __u32 *id)
{
	bool v4;
	int i, in = -1, u;

	for (i = 0; i < l->n && !is_ip(l->tok[i]); i++) {
		if (!strcmp(l->tok[i], "pppoes")) {
			*type = FLOWBPF_TUN_PPPOE;
			*id = tp_num(f[F_PPPOES], 0);
		} else if (!strcmp(l->tok[i], "mpls") && !*type) {
			*type = FLOWBPF_TUN_MPLS;
			*id = tp_num(f[F_MPLS], 0);
		}
	}
	if (i == l->n || i + 1 >= l->n)
		return i < l->n ? i : -1;
	v4 = !strcmp(l->tok[i], "ip");
	if (v4 && (tp_num(f[F_MF], tp_count(l, i, "ip")) ||
		   !strcmp(f[F_MF], "True") ||
		   tp_num(f[F_FRAG], tp_count(l, i, "ip"))))
		return i;
	if (is_ip(l->tok[i + 1])) {
		in = i + 1;
		*type = !v4			    ? FLOWBPF_TUN_IP6
			: !strcmp(l->tok[in], "ip") ? FLOWBPF_TUN_IPIP
						    : FLOWBPF_TUN_SIT;
		*id = 0;
	} else if (!strcmp(l->tok[i + 1], "gre") && i + 2 < l->n &&
		   tp_gre_opened(f[F_GREPROTO])) {
		in = is_ip(l->tok[i + 2])	     ? i + 2
		     : !strcmp(l->tok[i + 2], "eth") ? tp_after_eth(l, i + 2)
						     : -1;
		*type = FLOWBPF_TUN_GRE;
		*id = tp_num(f[F_GREKEY], 0);
	} else if (!strcmp(l->tok[i + 1], "udp") && i + 2 < l->n) {
		u = tp_num(f[F_UDPDPORT], tp_count(l, i + 1, "udp"));
		if (!strcmp(l->tok[i + 2], "vxlan") &&
		    u == FLOWBPF_VXLAN_PORT) {
			in = tp_after_eth(l, i + 3);
			*type = FLOWBPF_TUN_VXLAN;
			*id = tp_num(f[F_VXLAN], 0);
		} else if (!strcmp(l->tok[i + 2], "geneve") &&
			   u == FLOWBPF_GENEVE_PORT && i + 3 < l->n) {
			in = is_ip(l->tok[i + 3]) ? i + 3
						  : tp_after_eth(l, i + 3);
			*type = FLOWBPF_TUN_GENEVE;
			*id = tp_num(f[F_GENEVE], 0);
		}
	}
	if (in < 0) {
		/* Not opened: the outer flow, with a shim's context only. */
		if (*type != FLOWBPF_TUN_PPPOE && *type != FLOWBPF_TUN_MPLS)
			*type = *id = 0;
		return i;
	}
	return in;
}

static void tp_addr(const char *s, __be32 *a)
{
	memset(a, 0, 16);
	if (inet_pton(AF_INET, s, &a[3]) == 1)
		a[2] = htonl(0xffff);
	else
		inet_pton(AF_INET6, s, a);
}

/* The reference flow of one frame; false when tshark sees no IP in it. */
static bool tp_ref_flow(char **f, struct tp_flow *r)
{
	struct tp_layers l = { .n = 0 };
	char protos[1024], a[64], b[64], *save, *w;
	int i, occ;

	memset(r, 0, sizeof(*r));
	snprintf(protos, sizeof(protos), "%s", f[F_PROTOS]);
	for (w = strtok_r(protos, ":", &save); w && l.n < 64;
	     w = strtok_r(NULL, ":", &save))
		l.tok[l.n++] = w;
	i = tp_pick(&l, f, &r->tun_type, &r->tun_id);
	if (i < 0)
		return false;
	if (!strcmp(l.tok[i], "ip")) {
		occ = tp_count(&l, i, "ip");
		if (!tp_item(f[F_IPSRC], occ, a, sizeof(a)) ||
		    !tp_item(f[F_IPDST], occ, b, sizeof(b)))
			return false;
		r->family = 4;
		r->bytes = tp_num(f[F_IPLEN], occ);
	} else {
		occ = tp_count(&l, i, "ipv6");
		if (!tp_item(f[F_IP6SRC], occ, a, sizeof(a)) ||
		    !tp_item(f[F_IP6DST], occ, b, sizeof(b)))
			return false;
		r->family = 6;
		r->bytes = tp_num(f[F_IP6PLEN], occ) + 40;
	}
	tp_addr(a, r->saddr);
	tp_addr(b, r->daddr);
	r->packets = 1;
	return true;
}

static void tp_flow_str(const struct tp_flow *f, char *buf, size_t len)
{
	char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
	int af = f->family == 4 ? AF_INET : AF_INET6;
	const void *sa = f->family == 4 ? (void *)&f->saddr[3] : f->saddr;
	const void *da = f->family == 4 ? (void *)&f->daddr[3] : f->daddr;

	inet_ntop(af, sa, s, sizeof(s));
	inet_ntop(af, da, d, sizeof(d));
	snprintf(buf, len, "%s > %s tunnel %u:%u: %llu packets %llu bytes", s,
		 d, f->tun_type, f->tun_id, (unsigned long long)f->packets,
		 (unsigned long long)f->bytes);
}

/* The reference from tshark's fields, for the frames flowbpf counted. */
static int tp_reference(struct tp_ctx *x, const char *path,
			struct tp_table *ref)
{
	char *out = NULL, *line, *save, *f[F_MAX], name[600];
	int bad = 0;

	/* Its status is not 0 for a capture cut short; the frames before
	 * the cut are still decoded. */
	run(&out, NULL,
	    "tshark -n -r '%s' -T fields -E separator=/t -E occurrence=a "
	    "-E aggregator=, " TP_FIELDS " 2>/dev/null",
	    path);
	if (!out) {
		free(out);
		return -1;
	}
	for (line = strtok_r(out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct tp_flow r;
		char *p = line;
		long no;
		int i, o;

		for (i = 0; i < F_MAX; i++) {
			f[i] = p;
			p = p ? strchr(p, '\t') : NULL;
			if (p)
				*p++ = '\0';
			if (!f[i])
				f[i] = "";
		}
		no = atol(f[F_NO]);
		if (no < 1 || no > x->frames || x->outcome[no] < 0)
			continue;
		o = x->outcome[no];
		if (!is_flow_outcome(o)) {
			/* Whole, sound and IP to tshark: flowbpf must read it
			 * (but for a VLAN stack deeper than it takes). */
			if (o != FLOWBPF_STAT_NON_IP &&
			    o != FLOWBPF_STAT_ERR_VLAN_DEPTH &&
			    !f[F_MALFORMED][0] &&
			    !tp_expert_error(f[F_EXPERT]) &&
			    !strcmp(f[F_LEN], f[F_CAPLEN]) &&
			    strstr(f[F_PROTOS], ":ip") && bad++ < 5) {
				snprintf(
					name, sizeof(name),
					"%s frame %ld (%s) parsed without error",
					path, no, f[F_PROTOS]);
				ASSERT_EQ(o, -1, name);
			}
			continue;
		}
		if (!tp_ref_flow(f, &r)) {
			snprintf(name, sizeof(name),
				 "%s frame %ld (%s) is IP to tshark", path, no,
				 f[F_PROTOS]);
			ASSERT_TRUE(false, name);
			continue;
		}
		tp_add(ref, &r);
		x->checked++;
		x->inner[r.tun_type]++;
	}
	free(out);
	return 0;
}

static void tp_mine(struct tp_ctx *x, struct tp_table *mine)
{
	struct flowbpf_key k, next;
	struct flowbpf_flow v;
	void *prev = NULL;

	while (!bpf_map_get_next_key(x->flows_fd, prev, &next)) {
		struct tp_flow f = { .family = next.family,
				     .tun_type = next.tun_type,
				     .tun_id = next.tun_id };

		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(x->flows_fd, &k, &v))
			continue;
		memcpy(f.saddr, k.saddr, 16);
		memcpy(f.daddr, k.daddr, 16);
		f.packets = v.packets;
		f.bytes = v.bytes;
		tp_add(mine, &f);
	}
	/* The next capture starts from an empty table. */
	while (!bpf_map_get_next_key(x->flows_fd, NULL, &next))
		bpf_map_delete_elem(x->flows_fd, &next);
}

static void tp_compare(const char *path, const struct tp_table *ref,
		       const struct tp_table *mine)
{
	char name[800], want[160], got[160];
	int i, j;

	ASSERT_FALSE(ref->full || mine->full, "flow tables big enough");
	ASSERT_EQ(mine->n, ref->n, path);
	for (i = 0; i < ref->n; i++) {
		const struct tp_flow *r = &ref->f[i];

		for (j = 0; j < mine->n; j++) {
			const struct tp_flow *m = &mine->f[j];

			if (m->family == r->family &&
			    m->tun_type == r->tun_type &&
			    m->tun_id == r->tun_id &&
			    !memcmp(m->saddr, r->saddr, 16) &&
			    !memcmp(m->daddr, r->daddr, 16))
				break;
		}
		tp_flow_str(r, want, sizeof(want));
		if (j == mine->n) {
			snprintf(name, sizeof(name), "%s: flow %s", path, want);
			ASSERT_TRUE(false, name);
			continue;
		}
		tp_flow_str(&mine->f[j], got, sizeof(got));
		snprintf(name, sizeof(name), "%s: %s, flowbpf %s", path, want,
			 got);
		ASSERT_EQ(mine->f[j].packets, r->packets, name);
		ASSERT_EQ(mine->f[j].bytes, r->bytes, name);
	}
}

static int tp_pcaps_dir(char *out, size_t sz)
{
	const char *env = getenv("FLOWBPF_PCAPS");

	if (env && *env)
		snprintf(out, sz, "%s", env);
	else
		snprintf(out, sz, "%s/../shared/pcaps", repo_root());
	return access(out, F_OK) ? -ENOENT : 0;
}

static struct tp_ctx *tp_open(void)
{
	struct tp_ctx *x = calloc(1, sizeof(*x));

	if (!ASSERT_OK_PTR(x, "alloc"))
		return NULL;
	x->skel = flowbpf__open();
	if (!ASSERT_OK_PTR(x->skel, "skel open"))
		goto err;
	x->skel->rodata->cfg.mode = FLOWBPF_MODE_MONITOR;
	x->skel->rodata->cfg.flags = FLOWBPF_CFG_DECAP_INNER;
	bpf_program__set_autoload(x->skel->progs.flowbpf_tc_egress, false);
	bpf_program__set_autoload(x->skel->progs.flowbpf_tc_ingress, false);
	if (!ASSERT_OK(bpf_map__set_max_entries(x->skel->maps.flows, 65536),
		       "flows size") ||
	    !ASSERT_OK(flowbpf__load(x->skel), "skel load"))
		goto err;
	x->prog_fd = bpf_program__fd(x->skel->progs.flowbpf_xdp);
	x->stats_fd = bpf_map__fd(x->skel->maps.stats);
	x->flows_fd = bpf_map__fd(x->skel->maps.flows);
	return x;
err:
	flowbpf__destroy(x->skel);
	free(x);
	return NULL;
}

/*
 * Every tunnel capture, flow by flow against tshark.  tshark reads them
 * all at once, concatenated by mergecap (pcapng keeps each file's link
 * type): one start of tshark, which takes seconds in an emulated VM.
 */
static void subtest_tshark(struct tp_ctx *x, const char *root)
{
	static struct tp_table ref, mine;
	char pat[600], merged[64], listf[64];
	size_t i, j, rl = strlen(root) + 1;
	int files = 0;
	FILE *l;

	snprintf(merged, sizeof(merged), "/tmp/flowbpf-tunnels-%d.pcapng",
		 getpid());
	snprintf(listf, sizeof(listf), "/tmp/flowbpf-tunnels-%d.list",
		 getpid());
	l = fopen(listf, "we");
	if (!ASSERT_OK_PTR(l, "file list"))
		return;
	x->frames = 0;
	for (i = 0; i < sizeof(tp_globs) / sizeof(tp_globs[0]); i++) {
		glob_t g = {};

		snprintf(pat, sizeof(pat), "%s/%s", root, tp_globs[i]);
		if (glob(pat, 0, NULL, &g))
			continue;
		for (j = 0; j < g.gl_pathc; j++) {
			if (!tp_feed(x, g.gl_pathv[j]))
				continue;
			/* Names relative to the corpus: no blanks in them. */
			fprintf(l, "%s\n", g.gl_pathv[j] + rl);
			files++;
		}
		globfree(&g);
	}
	fclose(l);
	memset(&ref, 0, sizeof(ref));
	memset(&mine, 0, sizeof(mine));
	if (ASSERT_OK(run(NULL, NULL,
			  "cd '%s' && xargs mergecap -a -F pcapng -w %s < %s",
			  root, merged, listf),
		      "mergecap") &&
	    ASSERT_OK(tp_reference(x, merged, &ref), "tshark")) {
		tp_mine(x, &mine);
		tp_compare("tunnel captures", &ref, &mine);
	}
	unlink(merged);
	unlink(listf);
	if (env_verbose) {
		printf("  %d captures, %llu frames fed, %llu compared, %llu parse errors\n",
		       files, (unsigned long long)x->fed,
		       (unsigned long long)x->checked,
		       (unsigned long long)x->errors);
		for (i = 1; i < FLOWBPF_TUN_MAX; i++)
			printf("  %s: %llu frames\n", tun_name(i),
			       (unsigned long long)x->inner[i]);
	}
	ASSERT_GE(files, 20, "tunnel captures read");
	ASSERT_GE(x->checked, 100, "frames compared");
	/* The corpus has each of these; all must have been opened. */
	ASSERT_GE(x->inner[FLOWBPF_TUN_VXLAN], 8, "VXLAN frames");
	ASSERT_GE(x->inner[FLOWBPF_TUN_GENEVE], 30, "GENEVE frames");
	ASSERT_GE(x->inner[FLOWBPF_TUN_GRE], 3, "GRE frames");
	ASSERT_GE(x->inner[FLOWBPF_TUN_MPLS], 9, "MPLS frames");
}

/* The malformed ones: counted in their error, never a flow or a fault. */
static void subtest_malformed(struct tp_ctx *x, const char *root)
{
	static const char *const files[] = {
		"tcpdump/gre-heapoverflow-1.pcap",
		"tcpdump/gre-heapoverflow-2.pcap",
		"tcpdump/mpls-label-heapoverflow.pcap",
	};
	char path[600];
	size_t i;
	long n;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		__u64 before = x->errors;

		snprintf(path, sizeof(path), "%s/%s", root, files[i]);
		x->frames = 0;
		if (!ASSERT_TRUE(tp_feed(x, path), path))
			continue;
		for (n = 1; n <= x->frames; n++)
			ASSERT_FALSE(is_flow_outcome(x->outcome[n]), path);
		ASSERT_GE(x->errors - before, 1, path);
	}
}

/* Hand-made frames: an Ethernet header of type t at f, the rest after. */
static __u32 hm_eth(__u8 *f, __u16 t)
{
	memset(f, 0, 12);
	f[0] = f[6] = 2;
	f[12] = t >> 8;
	f[13] = t & 0xff;
	return ETH_HLEN;
}

/* IPv4 + UDP 198.18.0.1:1000 > 198.18.0.2:dport, payload bytes after it. */
static __u32 hm_udp4(__u8 *p, __u8 proto, __u16 dport, __u32 payload)
{
	__u32 tot = 20 + (proto == 17 ? 8 : 0) + payload;

	memset(p, 0, 28);
	p[0] = 0x45;
	p[2] = tot >> 8;
	p[3] = tot & 0xff;
	p[8] = 64;
	p[9] = proto;
	p[12] = 198, p[13] = 18, p[15] = 1;
	p[16] = 198, p[17] = 18, p[19] = 2;
	if (proto == 17) {
		p[20] = 1000 >> 8, p[21] = 1000 & 0xff;
		p[22] = dport >> 8, p[23] = dport & 0xff;
		p[24] = (tot - 20) >> 8, p[25] = (tot - 20) & 0xff;
		return 28;
	}
	return 20;
}

/* The one outcome a frame has, and the flow key it made if any. */
static int hm_run(struct tp_ctx *x, const __u8 *f, __u32 len,
		  struct flowbpf_key *k)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f, .data_size_in = len,
		    .repeat = 1);
	struct flowbpf_stats a, b;
	struct flowbpf_key next;

	while (!bpf_map_get_next_key(x->flows_fd, NULL, &next))
		bpf_map_delete_elem(x->flows_fd, &next);
	flowbpf_stats_read(x->stats_fd, &a);
	if (bpf_prog_test_run_opts(x->prog_fd, &o) || o.retval != XDP_PASS)
		return -2;
	flowbpf_stats_read(x->stats_fd, &b);
	memset(k, 0, sizeof(*k));
	bpf_map_get_next_key(x->flows_fd, NULL, k);
	return tp_outcome(&a, &b);
}

/*
 * Each encapsulation built by hand, sound and broken: the flow it must
 * make (inner addresses 198.18.0.1 > 198.18.0.2, UDP 1000 > 9, the
 * tunnel's type and id), or the error it must end in.
 */
static void frames_pppoe(struct tp_ctx *x, __u8 *f)
{
	struct flowbpf_key k;
	__u32 n;
	int o;

	/* PPPoE session 0x1234, PPP IPv4. */
	n = hm_eth(f, 0x8864);
	memcpy(f + n, "\x11\x00\x12\x34\x00\x26\x00\x21", 8);
	n += 8;
	n += hm_udp4(f + n, 17, 9, 8) + 8;
	o = hm_run(x, f, n, &k);
	ASSERT_TRUE(is_flow_outcome(o), "pppoe: a flow");
	ASSERT_EQ(k.tun_type, FLOWBPF_TUN_PPPOE, "pppoe: type");
	ASSERT_EQ(k.tun_id, 0x1234, "pppoe: session");
	ASSERT_EQ(ntohs(k.dport), 9, "pppoe: inner port");
	/* PPPoE with a bad version: an error, never a flow. */
	f[14] = 0x21;
	ASSERT_EQ(hm_run(x, f, n, &k), FLOWBPF_STAT_ERR_TUNNEL,
		  "pppoe: bad version");
}

static void frames_mpls(struct tp_ctx *x, __u8 *f)
{
	struct flowbpf_key k;
	__u32 n;
	int o;

	/* MPLS: labels 100 and 200 (bottom), then IPv4. */
	n = hm_eth(f, 0x8847);
	memcpy(f + n, "\x00\x06\x40\x40\x00\x0c\x81\x40", 8);
	n += 8;
	n += hm_udp4(f + n, 17, 9, 8) + 8;
	o = hm_run(x, f, n, &k);
	ASSERT_TRUE(is_flow_outcome(o), "mpls: a flow");
	ASSERT_EQ(k.tun_type, FLOWBPF_TUN_MPLS, "mpls: type");
	ASSERT_EQ(k.tun_id, 100, "mpls: top label");
	/* Nine labels, none the bottom one: too deep. */
	n = hm_eth(f, 0x8847);
	memset(f + n, 0, 9 * 4);
	n += 9 * 4;
	n += hm_udp4(f + n, 17, 9, 8) + 8;
	ASSERT_EQ(hm_run(x, f, n, &k), FLOWBPF_STAT_ERR_TUNNEL,
		  "mpls: stack too deep");
}

static void frames_gre(struct tp_ctx *x, __u8 *f)
{
	struct flowbpf_key k;
	__u32 n;
	int o;

	/* GRE with checksum, key 77 and sequence, carrying IPv4. */
	n = hm_eth(f, 0x0800);
	n += hm_udp4(f + n, 47, 0, 16 + 36);
	memcpy(f + n, "\xb0\x00\x08\x00\0\0\0\0\0\0\0\x4d\0\0\0\x01", 16);
	n += 16;
	n += hm_udp4(f + n, 17, 9, 8) + 8;
	o = hm_run(x, f, n, &k);
	ASSERT_TRUE(is_flow_outcome(o), "gre: a flow");
	ASSERT_EQ(k.tun_type, FLOWBPF_TUN_GRE, "gre: type");
	ASSERT_EQ(k.tun_id, 77, "gre: key");
	ASSERT_EQ(ntohs(k.dport), 9, "gre: inner port");
	/* GRE version 2: an error. */
	f[ETH_HLEN + 21] = 0x02;
	ASSERT_EQ(hm_run(x, f, n, &k), FLOWBPF_STAT_ERR_TUNNEL,
		  "gre: bad version");
}

static void frames_geneve(struct tp_ctx *x, __u8 *f)
{
	struct flowbpf_key k;
	__u32 n;
	int o;

	/* GENEVE VNI 0x10203 with 8 bytes of options, inner Ethernet. */
	n = hm_eth(f, 0x0800);
	n += hm_udp4(f + n, 17, FLOWBPF_GENEVE_PORT, 16 + 14 + 36);
	memcpy(f + n, "\x02\x00\x65\x58\x01\x02\x03\x00", 8);
	memset(f + n + 8, 0xee, 8);
	n += 16;
	n += hm_eth(f + n, 0x0800);
	n += hm_udp4(f + n, 17, 9, 8) + 8;
	o = hm_run(x, f, n, &k);
	ASSERT_TRUE(is_flow_outcome(o), "geneve: a flow");
	ASSERT_EQ(k.tun_type, FLOWBPF_TUN_GENEVE, "geneve: type");
	ASSERT_EQ(k.tun_id, 0x10203, "geneve: vni");
	ASSERT_EQ(ntohs(k.dport), 9, "geneve: inner port");
	/* Version 1: an error. */
	f[ETH_HLEN + 28] = 0x42;
	ASSERT_EQ(hm_run(x, f, n, &k), FLOWBPF_STAT_ERR_TUNNEL,
		  "geneve: bad version");
}

static void frames_vxlan(struct tp_ctx *x, __u8 *f)
{
	struct flowbpf_key k;
	__u32 n;
	int o;

	/* VXLAN without its I flag: an error; with it, VNI 5. */
	n = hm_eth(f, 0x0800);
	n += hm_udp4(f + n, 17, FLOWBPF_VXLAN_PORT, 8 + 14 + 36);
	memcpy(f + n, "\x00\x00\x00\x00\x00\x00\x05\x00", 8);
	n += 8;
	n += hm_eth(f + n, 0x0800);
	n += hm_udp4(f + n, 17, 9, 8) + 8;
	ASSERT_EQ(hm_run(x, f, n, &k), FLOWBPF_STAT_ERR_TUNNEL,
		  "vxlan: no I flag");
	f[ETH_HLEN + 28] = 0x08;
	o = hm_run(x, f, n, &k);
	ASSERT_TRUE(is_flow_outcome(o), "vxlan: a flow");
	ASSERT_EQ(k.tun_type, FLOWBPF_TUN_VXLAN, "vxlan: type");
	ASSERT_EQ(k.tun_id, 5, "vxlan: vni");
	/* Cut inside the inner Ethernet header: an error. */
	n = ETH_HLEN + 28 + 8 + 10;
	f[ETH_HLEN + 2] = 0, f[ETH_HLEN + 3] = 28 + 8 + 10;
	f[ETH_HLEN + 24] = 0, f[ETH_HLEN + 25] = 8 + 8 + 10;
	ASSERT_EQ(hm_run(x, f, n, &k), FLOWBPF_STAT_ERR_TUNNEL,
		  "vxlan: inner Ethernet cut short");
}

static void subtest_frames(struct tp_ctx *x)
{
	static __u8 f[256];

	frames_pppoe(x, f);
	frames_mpls(x, f);
	frames_gre(x, f);
	frames_geneve(x, f);
	frames_vxlan(x, f);
}

void test_tunnel_pcaps(void)
{
	bool corpus, tshark;
	struct tp_ctx *x;
	char root[512];

	x = tp_open();
	if (!x)
		return;
	corpus = !tp_pcaps_dir(root, sizeof(root));
	tshark = !run(NULL, NULL, "command -v tshark >/dev/null");
	if (test__start_subtest("frames"))
		subtest_frames(x);
	if (test__start_subtest("tshark")) {
		if (!corpus)
			test__skip(
				"no capture corpus at %s (set FLOWBPF_PCAPS)",
				root);
		else if (!tshark)
			test__skip("tshark is not installed (scripts/deps.sh)");
		else
			subtest_tshark(x, root);
	}
	if (test__start_subtest("malformed")) {
		if (corpus)
			subtest_malformed(x, root);
		else
			test__skip("no capture corpus at %s", root);
	}
	flowbpf__destroy(x->skel);
	free(x);
}
