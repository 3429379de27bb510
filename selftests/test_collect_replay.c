// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Real captures replayed into a veth where flowbpf is attached, and the
 * records of "flowbpf collect" compared flow by flow with an independent
 * meter run on the same captures: softflowd exporting to nfcapd, read
 * back with nfdump.
 *
 * tcpreplay sends each capture from the namespace side of the pair, so
 * every frame arrives on the attached interface's ingress (generic XDP,
 * so that the captures' jumbo frames fit).  The frames carry the
 * captures' own addresses and MACs; the attached side forwards nothing
 * (forwarding is off on it) and has IPv6 off, so nothing leaves the pair.
 *
 * Packets must agree exactly for every flow.  Bytes agree exactly too,
 * except where a frame carries bytes after the IP packet (Ethernet
 * padding of short frames, trailers): flowbpf counts the IP packet
 * (IPv4 total length, IPv6 payload length + 40), softflowd counts the
 * frame after its Ethernet header.  For those flows the test decodes the
 * capture itself and requires the difference to be exactly those bytes.
 */
#include <arpa/inet.h>
#include <limits.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#define PCAP_DONT_INCLUDE_PCAP_BPF_H
#include <pcap/pcap.h>
#include "netns.h"
#include "test.h"
#include "test_collect.h"

/* Clean Ethernet captures of IPv4 and IPv6 TCP, UDP and VRRP. */
static const char *const captures[] = {
	"suricata-verify/community-id-ipv6.pcap", /* IPv6 TCP, jumbo frames */
	"tcpdump/ssh.pcap",
	"tcpdump/afs.pcap", /* 31 UDP flows */
	"tcpdump/edns-opts.pcap",
	"tcpdump/mptcp-v0.pcap",
	"tcpdump/dhcp-rfc4388.pcap", /* frames with trailers */
	"tcpdump/ntp-control.pcap",
	"tcpdump/of10_s4810.pcap", /* a 4 KB frame */
	"tcpdump/vrrp.pcap", /* protocol 112, padded short frames */
	"tcpdump/bgp-4byte-asn.pcap",
};
#define NR_CAPTURES (sizeof(captures) / sizeof(captures[0]))

struct ref {
	struct rec r; /* key, packets, IP-layer bytes */
	__u64 l2_bytes; /* frame bytes after the Ethernet header */
};

struct refs {
	struct ref *v;
	int n;
};

/* The same flow: addresses, protocol and ports. */
static bool same_flow(const struct rec *a, const struct rec *b)
{
	return !strcmp(a->src, b->src) && !strcmp(a->dst, b->dst) &&
	       a->proto == b->proto && a->sport == b->sport &&
	       a->dport == b->dport;
}

static struct ref *ref_get(struct refs *t, const struct rec *k)
{
	struct ref *nv;
	int i;

	for (i = 0; i < t->n; i++) {
		if (same_flow(&t->v[i].r, k))
			return &t->v[i];
	}
	nv = realloc(t->v, (t->n + 1) * sizeof(*nv));
	if (!nv)
		return NULL;
	t->v = nv;
	memset(&t->v[t->n], 0, sizeof(t->v[t->n]));
	t->v[t->n].r = *k;
	t->v[t->n].r.packets = t->v[t->n].r.bytes = 0;
	return &t->v[t->n++];
}

/* The reference decoder: Ethernet, VLAN tags, IPv4/IPv6, ports. */
static void ref_frame(struct refs *t, const unsigned char *p, __u32 caplen)
{
	__u32 off = 12, l4, iplen, fragoff = 0;
	__u16 type;
	struct rec k = {};
	struct ref *r;
	int proto;

	if (caplen < 14)
		return;
	type = p[off] << 8 | p[off + 1];
	off += 2;
	while ((type == 0x8100 || type == 0x88a8) && off + 4 <= caplen) {
		type = p[off + 2] << 8 | p[off + 3];
		off += 4;
	}
	if (type == 0x0800 && off + 20 <= caplen) {
		const unsigned char *ip = p + off;

		iplen = ip[2] << 8 | ip[3];
		proto = ip[9];
		fragoff = (ip[6] << 8 | ip[7]) & 0x1fff;
		inet_ntop(AF_INET, ip + 12, k.src, sizeof(k.src));
		inet_ntop(AF_INET, ip + 16, k.dst, sizeof(k.dst));
		l4 = off + (ip[0] & 0xf) * 4;
	} else if (type == 0x86dd && off + 40 <= caplen) {
		const unsigned char *ip = p + off;

		iplen = (ip[4] << 8 | ip[5]) + 40;
		proto = ip[6];
		inet_ntop(AF_INET6, ip + 8, k.src, sizeof(k.src));
		inet_ntop(AF_INET6, ip + 24, k.dst, sizeof(k.dst));
		l4 = off + 40;
		/* Extension headers: hop-by-hop, routing, fragment, dest. opts. */
		while ((proto == 0 || proto == 43 || proto == 44 ||
			proto == 60) &&
		       l4 + 8 <= caplen) {
			int next = p[l4];

			if (proto == 44) {
				fragoff = (p[l4 + 2] << 8 | p[l4 + 3]) >> 3;
				l4 += 8;
			} else {
				l4 += (p[l4 + 1] + 1) * 8;
			}
			proto = next;
		}
	} else {
		return; /* not IP: neither meter has a flow for it */
	}
	k.proto = proto;
	if (!fragoff && flowbpf_proto_has_ports(proto) && l4 + 4 <= caplen) {
		k.sport = p[l4] << 8 | p[l4 + 1];
		k.dport = p[l4 + 2] << 8 | p[l4 + 3];
	} else if (!fragoff && flowbpf_proto_is_icmp(proto) &&
		   l4 + 2 <= caplen) {
		k.dport = p[l4] << 8 | p[l4 + 1];
	}
	r = ref_get(t, &k);
	if (!r)
		return;
	r->r.packets++;
	r->r.bytes += iplen;
	r->l2_bytes += caplen - off;
}

static int ref_read(struct refs *t, const char *path)
{
	char errbuf[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const unsigned char *d;
	pcap_t *pc = pcap_open_offline(path, errbuf);

	if (!pc)
		return -1;
	while (pcap_next_ex(pc, &h, &d) == 1)
		ref_frame(t, d, h->caplen);
	pcap_close(pc);
	return 0;
}

/* Sums records of the same flow (an idle split would make two). */
static int aggregate(struct rec *r, int n)
{
	int i, j, m = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < m; j++)
			if (same_flow(&r[j], &r[i]))
				break;
		if (j == m)
			r[m++] = r[i];
		else {
			r[j].packets += r[i].packets;
			r[j].bytes += r[i].bytes;
		}
	}
	return m;
}

static const struct rec *find(const struct rec *r, int n, const struct rec *k)
{
	int i;

	for (i = 0; i < n; i++)
		if (same_flow(&r[i], k))
			return &r[i];
	return NULL;
}

/* One capture through softflowd into the nfcapd on port. */
static int softflowd_run(const char *pcap, int port, const char *ctl)
{
	int i, status;
	pid_t pid;

	pid = spawn("exec softflowd -r %s -n 127.0.0.1:%d -v 10 -d -c %s", pcap,
		    port, ctl);
	if (pid <= 0)
		return -1;
	for (i = 0; i < 100 && access(ctl, F_OK); i++)
		usleep(20000);
	/*
	 * Debian's 1.1.0 starts reading the file only once something arrives
	 * on its control socket; at the end of the file it expires every
	 * flow, exports them and exits.  Poke until it has.
	 */
	for (i = 0; i < 50; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid) {
			unlink(ctl);
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
		run(NULL, NULL, "softflowctl -c %s statistics", ctl);
		usleep(100000);
	}
	run(NULL, NULL, "softflowctl -c %s shutdown", ctl);
	ns_wait(pid, 5000);
	unlink(ctl);
	return -ETIMEDOUT;
}

/* The captures' directory, in root: $FLOWBPF_PCAPS or ../shared/pcaps.
 * False, with the skip said, without the tools or a capture. */
static bool replay_ready(char *root, size_t len)
{
	const char *env = getenv("FLOWBPF_PCAPS");
	char path[PATH_MAX + 64];
	size_t c;

	if (!have_tool("tcpreplay") || !have_tool("softflowd") ||
	    !have_tool("softflowctl") || !have_tool("nfcapd") ||
	    !have_tool("nfdump")) {
		test__skip("tcpreplay, softflowd or nfdump not installed");
		return false;
	}
	snprintf(root, len, "%s", env && *env ? env : "");
	if (!root[0])
		snprintf(root, len, "%s/../shared/pcaps", repo_root());
	for (c = 0; c < NR_CAPTURES; c++) {
		snprintf(path, sizeof(path), "%s/%s", root, captures[c]);
		if (access(path, R_OK)) {
			test__skip("capture %s missing", path);
			return false;
		}
	}
	return true;
}

/* One run: the pair, the two meters and what each counted. */
struct replay {
	char root[PATH_MAX], dir[32];
	char out[128], nfdir[128], ctl[160];
	struct test_net n;
	pid_t col, cap;
	struct refs ref;
};

/* Jumbo frames fit, and the attached side forwards none of them. */
static bool replay_setup(struct replay *r)
{
	struct test_net *n = &r->n;

	if (!ASSERT_OK(net_setup(n), "net_setup"))
		return false;
	if (!ASSERT_OK(
		    run(NULL, NULL,
			"set -e; ip link set %s mtu 9200; ip -n %s link set %s mtu 9200; "
			"sysctl -qw net.ipv4.conf.%s.forwarding=0",
			n->host_if, n->ns, n->peer_if, n->host_if),
		    "jumbo MTU, no forwarding"))
		return false;
	return ASSERT_OK(run(NULL, NULL, "%s attach %s --xdp-mode generic",
			     flowbpf_bin(), n->host_if),
			 "attach");
}

/* Every capture into flowbpf (and the reference decoder) first, then
 * through softflowd, which reads the files rather than the wire. */
static void replay_meters(struct replay *r)
{
	char path[PATH_MAX + 64];
	int port;
	size_t c;

	port = free_udp_port();
	r->cap = spawn("exec nfcapd -b 127.0.0.1 -p %d -w %s -t 3600", port,
		       r->nfdir);
	r->col = spawn(
		"exec %s collect %s --interval 200ms --idle 1h --active 1h -o %s",
		flowbpf_bin(), r->n.host_if, r->out);
	usleep(300000);
	for (c = 0; c < NR_CAPTURES; c++) {
		snprintf(path, sizeof(path), "%s/%s", r->root, captures[c]);
		ASSERT_OK(
			run(NULL, NULL,
			    "ip netns exec %s tcpreplay -q -i %s --pps 2000 %s",
			    r->n.ns, r->n.peer_if, path),
			captures[c]);
		ASSERT_OK(ref_read(&r->ref, path), "reference decode");
	}
	usleep(300000);
	/* SIGTERM flushes every flow as a final record. */
	ASSERT_EQ(stop(r->col, 5000), 0, "collector exits");
	r->col = -1;
	for (c = 0; c < NR_CAPTURES; c++) {
		snprintf(path, sizeof(path), "%s/%s", r->root, captures[c]);
		ASSERT_OK(softflowd_run(path, port, r->ctl), "softflowd");
	}
	usleep(200000);
	ASSERT_EQ(stop(r->cap, 5000), 0, "nfcapd exits");
	r->cap = -1;
}

/* Flow by flow; returns how many differ only by bytes after the IP
 * packet, each checked against the reference decoder. */
static int replay_agree(const struct rec *ours, int nours, const struct rec *sf,
			int nsf, struct refs *ref)
{
	int i, explained = 0;

	for (i = 0; i < nours; i++) {
		const struct rec *o = &ours[i], *s = find(sf, nsf, o);
		struct ref *rf = ref_get(ref, o);
		char name[200];

		snprintf(name, sizeof(name), "%s -> %s proto %d %d/%d", o->src,
			 o->dst, o->proto, o->sport, o->dport);
		if (!ASSERT_OK_PTR(s, name) || !rf)
			continue;
		ASSERT_EQ(o->packets, s->packets, name);
		ASSERT_EQ(o->packets, rf->r.packets, name);
		ASSERT_EQ(o->bytes, rf->r.bytes, name);
		if (o->bytes != s->bytes) {
			/* softflowd counted the bytes after the IP packet. */
			ASSERT_EQ(s->bytes - o->bytes,
				  rf->l2_bytes - rf->r.bytes, name);
			explained++;
			test__log(
				"  %s: %llu bytes, softflowd %llu: %llu bytes of Ethernet padding or trailer\n",
				name, (unsigned long long)o->bytes,
				(unsigned long long)s->bytes,
				(unsigned long long)(s->bytes - o->bytes));
		}
	}
	return explained;
}

static void replay_compare(struct replay *r)
{
	struct rec *ours = NULL, *sf = NULL;
	int nours, nsf, i, explained;

	nours = read_records(r->out, &ours);
	nsf = nfdump_read(r->nfdir, &sf);
	for (i = 0; i < nours; i++)
		ASSERT_STREQ(ours[i].dir, "in", "every record is ingress");
	nours = aggregate(ours, nours);
	nsf = aggregate(sf, nsf);
	ASSERT_GE(nours, 60, "flows in the captures");
	ASSERT_EQ(nours, nsf, "as many flows as softflowd");
	ASSERT_EQ(nours, r->ref.n, "as many flows as the reference decoder");
	explained = replay_agree(ours, nours, sf, nsf, &r->ref);
	test__log(
		"  %d flows agree with softflowd; %d differ only by bytes after the IP packet\n",
		nours - explained, explained);
	/* The explanation above is exercised: the captures have such frames. */
	ASSERT_GE(explained, 1, "padded flows present");
	ASSERT_LE(explained, 12, "padding explains few flows");
	free(ours);
	free(sf);
}

void test_collect_replay(void)
{
	struct replay r = { .dir = "/tmp/flowbpf-replay-XXXXXX",
			    .col = -1,
			    .cap = -1 };

	if (!replay_ready(r.root, sizeof(r.root)))
		return;
	if (!ASSERT_OK_PTR(mkdtemp(r.dir), "mkdtemp"))
		return;
	snprintf(r.out, sizeof(r.out), "%s/flows.jsonl", r.dir);
	snprintf(r.nfdir, sizeof(r.nfdir), "%s/nf", r.dir);
	snprintf(r.ctl, sizeof(r.ctl), "%s/softflowd.ctl", r.dir);
	mkdir(r.nfdir, 0700);
	if (!replay_setup(&r))
		goto out;
	replay_meters(&r);
	replay_compare(&r);
out:
	if (r.col > 0)
		stop(r.col, 2000);
	if (r.cap > 0)
		stop(r.cap, 2000);
	free(r.ref.v);
	net_cleanup(&r.n);
	run(NULL, NULL, "rm -rf %s", r.dir);
}
