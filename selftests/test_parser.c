// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Parser conformance, in the style of the kernel's prog_tests/flow_dissector:
 * a table of crafted frames, each run through the real XDP program with
 * BPF_PROG_TEST_RUN.  A frame either makes exactly one flow with exactly the
 * expected key, or makes none and moves exactly one outcome counter.  The
 * whole stats vector is compared, so a frame that bumps a second counter by
 * accident fails too.
 *
 * Frames are assembled by the builders below from headers, not from hex,
 * so that each case says what it is.  Addresses are from the benchmarking
 * (198.18.0.0/15) and documentation (2001:db8::/32) ranges.  No L4
 * checksum is filled in: the datapath verifies none.
 */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <netinet/icmp6.h>
#include <linux/types.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "clock.h"
#include "flowbpf.h"
#include "flowbpf.skel.h"
#include "loader.h"
#include "netns.h"
#include "test.h"

#define V4_A "198.18.0.1"
#define V4_B "198.19.255.254"
#define V4_R "198.18.7.7" /* a router sending ICMP errors */
#define V6_A "2001:db8::1"
#define V6_B "2001:db8:ffff::2"
#define V6_R "2001:db8:1::fe"

#define TF_FIN 0x01
#define TF_SYN 0x02
#define TF_RST 0x04
#define TF_PSH 0x08
#define TF_ACK 0x10
#define TF_ECE 0x40
#define TF_CWR 0x80

#define IP4_DF 0x4000
#define IP4_MF 0x2000

/* The NetFlow convention for ICMP: type and code stand in for dport. */
#define ICMP_TC(type, code) ((__u16)((type) << 8 | (code)))

#define ENFORCE_TIMEOUT_NS (50ULL * 1000 * 1000)

/* Packet builder */

#define PKT_MAX 512

struct pkt {
	__u8 d[PKT_MAX];
	__u32 len;
	int l3; /* offset of the outer IP header; -1 while there is none */
	int family; /* 4 or 6: what l3 holds */
	int nh; /* offset of the byte naming the next header; -1 if none */
};

static void pkt_init(struct pkt *p)
{
	memset(p, 0, sizeof(*p));
	p->l3 = -1;
	p->nh = -1;
}

static __u8 *put(struct pkt *p, __u32 n)
{
	__u8 *at = p->d + p->len;

	if (p->len + n > PKT_MAX) {
		/* A bug in a builder, not in the datapath: stop loudly. */
		fprintf(stderr, "test_parser: packet builder overflow\n");
		abort();
	}
	memset(at, 0, n);
	p->len += n;
	return at;
}

static void put16(__u8 *at, __u16 v)
{
	at[0] = v >> 8;
	at[1] = v;
}

static void put32(__u8 *at, __u32 v)
{
	put16(at, v >> 16);
	put16(at + 2, v);
}

static __u16 get16(const __u8 *at)
{
	return at[0] << 8 | at[1];
}

static void addr_pton(int af, const char *s, void *out)
{
	if (inet_pton(af, s, out) != 1) {
		fprintf(stderr, "test_parser: bad address %s\n", s);
		abort();
	}
}

/* Headers are appended before the protocol that follows them is known. */
static void next_proto(struct pkt *p, __u8 proto)
{
	if (p->nh >= 0)
		p->d[p->nh] = proto;
	p->nh = -1;
}

static void payload(struct pkt *p, __u32 n)
{
	__u8 *at = put(p, n);
	__u32 i;

	for (i = 0; i < n; i++)
		at[i] = 0xa0 + i;
}

/* Trailing bytes the IP header does not account for, like a NIC's padding. */
static void pad_to(struct pkt *p, __u32 len)
{
	if (p->len < len)
		put(p, len - p->len);
}

static void cut(struct pkt *p, __u32 n)
{
	p->len -= n;
}

static void eth(struct pkt *p, __u16 type)
{
	/* RFC 7042 documentation MACs. */
	static const __u8 dst[ETH_ALEN] = { 0x00, 0x00, 0x5e, 0x00, 0x53, 0x01 };
	static const __u8 src[ETH_ALEN] = { 0x00, 0x00, 0x5e, 0x00, 0x53, 0x02 };
	__u8 *at = put(p, ETH_HLEN);

	memcpy(at, dst, ETH_ALEN);
	memcpy(at + ETH_ALEN, src, ETH_ALEN);
	put16(at + 12, type);
}

static void vlan(struct pkt *p, __u16 tci, __u16 type)
{
	__u8 *at = put(p, 4);

	put16(at, tci);
	put16(at + 2, type);
}

static void ip4_csum(__u8 *ip)
{
	__u32 sum = 0, i, len = (ip[0] & 0xf) * 4;

	put16(ip + 10, 0);
	for (i = 0; i < len; i += 2)
		sum += get16(ip + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	put16(ip + 10, ~sum);
}

static void ip4_hdr(__u8 *at, __u32 optlen, __u8 proto, __u16 tot_len,
		    const char *src, const char *dst)
{
	__u32 i;

	at[0] = 0x40 | (5 + optlen / 4);
	put16(at + 2, tot_len);
	put16(at + 4, 0x1234);
	at[8] = 64;
	at[9] = proto;
	addr_pton(AF_INET, src, at + 12);
	addr_pton(AF_INET, dst, at + 16);
	if (optlen) {
		/* Router Alert, then NOPs up to a closing End of Options. */
		at[20] = 0x94;
		at[21] = 4;
		for (i = 24; i < 20 + optlen - 1; i++)
			at[i] = 1;
	}
	ip4_csum(at);
}

/* optlen: bytes of IPv4 options, a multiple of 4 up to 40. */
static void ip4_opts(struct pkt *p, const char *src, const char *dst,
		     __u32 optlen)
{
	p->l3 = p->len;
	p->family = 4;
	ip4_hdr(put(p, 20 + optlen), optlen, 0, 0, src, dst);
	p->nh = p->l3 + 9;
}

static void ip4(struct pkt *p, const char *src, const char *dst)
{
	ip4_opts(p, src, dst, 0);
}

static void ip4_frag(struct pkt *p, __u16 flags, __u16 off_bytes)
{
	put16(p->d + p->l3 + 6, flags | off_bytes / 8);
}

static void ip6_hdr(__u8 *at, __u8 proto, __u16 plen, const char *src,
		    const char *dst)
{
	at[0] = 0x60;
	at[1] = 0x01; /* flow label 0x12345: not part of the key */
	at[2] = 0x23;
	at[3] = 0x45;
	put16(at + 4, plen);
	at[6] = proto;
	at[7] = 64;
	addr_pton(AF_INET6, src, at + 8);
	addr_pton(AF_INET6, dst, at + 24);
}

static void ip6(struct pkt *p, const char *src, const char *dst)
{
	p->l3 = p->len;
	p->family = 6;
	ip6_hdr(put(p, 40), 0, 0, src, dst);
	p->nh = p->l3 + 6;
}

/* A hop-by-hop, routing, destination options or AH header of len bytes. */
static void ext6(struct pkt *p, __u8 type, __u32 len)
{
	int off = p->len;
	__u8 *at;

	next_proto(p, type);
	at = put(p, len);
	/* AH counts 4-byte words minus 2, the others 8-byte units minus 1. */
	at[1] = type == IPPROTO_AH ? len / 4 - 2 : len / 8 - 1;
	switch (type) {
	case IPPROTO_HOPOPTS:
	case IPPROTO_DSTOPTS:
		at[2] = 1; /* one PadN option fills the rest */
		at[3] = len - 4;
		break;
	case IPPROTO_ROUTING:
		at[2] = 253; /* RFC 4727 experimental type, segments left 0 */
		break;
	case IPPROTO_AH:
		put32(at + 4, 0x100); /* SPI */
		put32(at + 8, 1); /* sequence number */
		break;
	}
	p->nh = off;
}

static void frag6(struct pkt *p, __u16 off_bytes, bool more)
{
	int off = p->len;
	__u8 *at;

	next_proto(p, IPPROTO_FRAGMENT);
	at = put(p, 8);
	put16(at + 2, off_bytes | more);
	put32(at + 4, 0xf00d);
	p->nh = off;
}

static void tcp(struct pkt *p, __u16 sport, __u16 dport, __u8 flags,
		__u32 paylen)
{
	__u8 *at;

	next_proto(p, IPPROTO_TCP);
	at = put(p, 20);
	put16(at, sport);
	put16(at + 2, dport);
	put32(at + 4, 1000);
	if (flags & TF_ACK)
		put32(at + 8, 2000);
	at[12] = 5 << 4;
	at[13] = flags;
	put16(at + 14, 64240);
	payload(p, paylen);
}

/* UDP and UDP-Lite share the 8-byte header: ports, length/coverage, sum. */
static void udp_like(struct pkt *p, __u8 proto, __u16 sport, __u16 dport,
		     __u32 paylen)
{
	__u8 *at;

	next_proto(p, proto);
	at = put(p, 8);
	put16(at, sport);
	put16(at + 2, dport);
	put16(at + 4, 8 + paylen);
	payload(p, paylen);
}

static void udp(struct pkt *p, __u16 sport, __u16 dport, __u32 paylen)
{
	udp_like(p, IPPROTO_UDP, sport, dport, paylen);
}

/* SCTP common header and an INIT chunk. */
static void sctp(struct pkt *p, __u16 sport, __u16 dport)
{
	__u8 *at;

	next_proto(p, IPPROTO_SCTP);
	at = put(p, 12 + 20);
	put16(at, sport);
	put16(at + 2, dport);
	at[12] = 1;
	put16(at + 14, 20);
	put32(at + 16, 0xc0ffee);
	put32(at + 20, 65536);
	put16(at + 24, 10);
	put16(at + 26, 10);
	put32(at + 28, 1);
}

/* A DCCP-Request with 48-bit sequence numbers (X=1) and a service code. */
static void dccp(struct pkt *p, __u16 sport, __u16 dport)
{
	__u8 *at;

	next_proto(p, IPPROTO_DCCP);
	at = put(p, 20);
	put16(at, sport);
	put16(at + 2, dport);
	at[4] = 5;
	at[8] = 1;
	put32(at + 12, 1);
	put32(at + 16, 42);
}

static void icmp_hdr(struct pkt *p, __u8 proto, __u8 type, __u8 code,
		     __u32 rest)
{
	__u8 *at;

	next_proto(p, proto);
	at = put(p, 8);
	at[0] = type;
	at[1] = code;
	put32(at + 4, rest);
}

static void icmp4(struct pkt *p, __u8 type, __u8 code, __u32 rest)
{
	icmp_hdr(p, IPPROTO_ICMP, type, code, rest);
}

static void icmp6(struct pkt *p, __u8 type, __u8 code, __u32 rest)
{
	icmp_hdr(p, IPPROTO_ICMPV6, type, code, rest);
}

/* The offending packet's IPv4 header and first 8 bytes in an ICMP error. */
static void inner4_udp(struct pkt *p, const char *src, const char *dst,
		       __u16 sport, __u16 dport)
{
	__u8 *at = put(p, 28);

	ip4_hdr(at, 0, IPPROTO_UDP, 540, src, dst);
	put16(at + 20, sport);
	put16(at + 22, dport);
	put16(at + 24, 520);
}

static void inner6_udp(struct pkt *p, const char *src, const char *dst,
		       __u16 sport, __u16 dport)
{
	__u8 *at = put(p, 48);

	ip6_hdr(at, IPPROTO_UDP, 1452, src, dst);
	put16(at + 40, sport);
	put16(at + 42, dport);
	put16(at + 44, 1452);
}

/* An upper layer the parser does not open (GRE, ESP, no-next-header...). */
static void raw(struct pkt *p, __u8 proto, __u32 n)
{
	next_proto(p, proto);
	payload(p, n);
}

/* Fills in the IP length field from what was appended. */
static void finish(struct pkt *p)
{
	if (p->l3 < 0)
		return;
	if (p->family == 4) {
		put16(p->d + p->l3 + 2, p->len - p->l3);
		ip4_csum(p->d + p->l3);
	} else {
		put16(p->d + p->l3 + 4, p->len - p->l3 - 40);
	}
}

/*
 * The IP-layer bytes a flow must be charged, read from the built header:
 * IPv4 total length, IPv6 payload length + 40.  A zero length field is the
 * TSO/BIG TCP convention for "as long as the frame".
 */
static __u64 ip_bytes(const struct pkt *p)
{
	const __u8 *ip = p->d + p->l3;
	__u32 n;

	if (p->family == 4) {
		n = get16(ip + 2);
		return n ?: p->len - p->l3;
	}
	n = get16(ip + 4);
	return (n ?: p->len - p->l3 - 40) + 40;
}

/* Frame builders, one per case */

static void b_v4_tcp_syn(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	tcp(p, 49152, 80, TF_SYN, 0);
	finish(p);
}

static void b_v4_tcp_syn_ecn(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	tcp(p, 49153, 443, TF_SYN | TF_ECE | TF_CWR, 0);
	finish(p);
}

static void b_v4_tcp_fin_psh_ack(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_B, V4_A);
	tcp(p, 443, 49153, TF_FIN | TF_PSH | TF_ACK, 37);
	finish(p);
}

static void b_v4_udp(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	udp(p, 5353, 53, 24);
	finish(p);
}

static void b_v4_sctp(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	sctp(p, 2905, 3868);
	finish(p);
}

static void b_v4_dccp(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	dccp(p, 5004, 5005);
	finish(p);
}

static void b_v4_udplite(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	udp_like(p, IPPROTO_UDPLITE, 7000, 7001, 16);
	finish(p);
}

static void b_v4_icmp_echo(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	icmp4(p, ICMP_ECHO, 0, 0x4d2 << 16 | 1);
	payload(p, 56);
	finish(p);
}

static void b_v4_icmp_echo_reply(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_B, V4_A);
	icmp4(p, ICMP_ECHOREPLY, 0, 0x4d2 << 16 | 1);
	payload(p, 56);
	finish(p);
}

/* The inner header names other addresses and ports: the key must not. */
static void b_v4_icmp_port_unreach(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_R, V4_A);
	icmp4(p, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 0);
	inner4_udp(p, V4_A, V4_B, 40000, 33434);
	finish(p);
}

static void b_v4_icmp_frag_needed(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_R, V4_A);
	icmp4(p, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1400);
	inner4_udp(p, V4_A, V4_B, 40000, 4789);
	finish(p);
}

static void b_v4_icmp_time_exceeded(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_R, V4_A);
	icmp4(p, ICMP_TIME_EXCEEDED, ICMP_EXC_TTL, 0);
	inner4_udp(p, V4_A, V4_B, 40001, 33435);
	finish(p);
}

static void b_v4_opts_ihl6(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4_opts(p, V4_A, V4_B, 4);
	udp(p, 1985, 1985, 20);
	finish(p);
}

static void b_v4_opts_ihl15(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4_opts(p, V4_A, V4_B, 40);
	tcp(p, 50000, 179, TF_SYN, 0);
	finish(p);
}

/* GRE carrying IPv4: accounted by protocol alone, nothing inside read. */
static void b_v4_gre(struct pkt *p)
{
	__u8 *at;

	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	next_proto(p, IPPROTO_GRE);
	at = put(p, 4);
	put16(at + 2, ETH_P_IP);
	inner4_udp(p, "198.18.1.1", "198.18.2.2", 1234, 5678);
	finish(p);
}

/* The SPI sits where ports would be: it must not turn into ports. */
static void b_v4_esp(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	raw(p, IPPROTO_ESP, 48);
	finish(p);
}

static void b_v4_frag_first(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	ip4_frag(p, IP4_MF, 0);
	udp(p, 40001, 4789, 64);
	finish(p);
}

/* Later fragments start with payload that would read as ports. */
static void b_v4_frag_middle(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	ip4_frag(p, IP4_MF, 1480);
	raw(p, IPPROTO_UDP, 64);
	finish(p);
}

static void b_v4_frag_last(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	ip4_frag(p, 0, 2960);
	raw(p, IPPROTO_UDP, 40);
	finish(p);
}

static void b_v4_df(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	ip4_frag(p, IP4_DF, 0);
	tcp(p, 49154, 8080, TF_ACK, 100);
	finish(p);
}

static void b_v4_tot_len_zero(struct pkt *p)
{
	b_v4_tcp_fin_psh_ack(p);
	put16(p->d + p->l3 + 2, 0);
}

static void b_vlan_8021q(struct pkt *p)
{
	eth(p, ETH_P_8021Q);
	vlan(p, 5 << 13 | 100, ETH_P_IP); /* PCP 5 is not part of the id */
	ip4(p, V4_A, V4_B);
	udp(p, 5060, 5060, 32);
	finish(p);
}

static void b_vlan_qinq(struct pkt *p)
{
	eth(p, ETH_P_8021AD);
	vlan(p, 7 << 13 | 1 << 12 | 100, ETH_P_8021Q); /* PCP 7, DEI */
	vlan(p, 3 << 13 | 200, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	tcp(p, 49155, 22, TF_SYN, 0);
	finish(p);
}

static void b_vlan_9100(struct pkt *p)
{
	eth(p, ETH_P_QINQ1);
	vlan(p, 300, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	udp(p, 4500, 4500, 16);
	finish(p);
}

static void b_vlan_priority_tag(struct pkt *p)
{
	eth(p, ETH_P_8021Q);
	vlan(p, 6 << 13, ETH_P_IP); /* 802.1p: priority only, id 0 */
	ip4(p, V4_A, V4_B);
	udp(p, 319, 319, 44);
	finish(p);
}

static void b_vlan_three_tags(struct pkt *p)
{
	eth(p, ETH_P_8021AD);
	vlan(p, 100, ETH_P_8021Q);
	vlan(p, 200, ETH_P_8021Q);
	vlan(p, 300, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	udp(p, 5353, 53, 8);
	finish(p);
}

static void b_vlan_tag_truncated(struct pkt *p)
{
	eth(p, ETH_P_8021Q);
	put(p, 2);
}

static void b_vlan_inner_tag_truncated(struct pkt *p)
{
	eth(p, ETH_P_8021AD);
	vlan(p, 100, ETH_P_8021Q);
	put(p, 3);
}

static void b_arp(struct pkt *p)
{
	__u8 *at;

	eth(p, ETH_P_ARP);
	at = put(p, 28);
	put16(at, 1); /* Ethernet */
	put16(at + 2, ETH_P_IP);
	at[4] = ETH_ALEN;
	at[5] = 4;
	put16(at + 6, 1); /* request */
	memcpy(at + 8, p->d + ETH_ALEN, ETH_ALEN);
	addr_pton(AF_INET, V4_A, at + 14);
	addr_pton(AF_INET, V4_B, at + 24);
}

static void b_vlan_arp(struct pkt *p)
{
	struct pkt arp;

	pkt_init(&arp);
	b_arp(&arp);
	eth(p, ETH_P_8021Q);
	vlan(p, 100, ETH_P_ARP);
	memcpy(put(p, arp.len - ETH_HLEN), arp.d + ETH_HLEN,
	       arp.len - ETH_HLEN);
}

static void b_lldp(struct pkt *p)
{
	static const __u8 tlvs[] = {
		0x02, 0x07, 0x04, 0x00, 0x00, 0x5e, 0x00, 0x53, 0x02, /* id */
		0x04, 0x03, 0x05, 'p',	'1', /* port */
		0x06, 0x02, 0x00, 0x78, /* TTL */
		0x00, 0x00, /* end */
	};

	eth(p, ETH_P_LLDP);
	memcpy(put(p, sizeof(tlvs)), tlvs, sizeof(tlvs));
}

static void b_v6_tcp_syn(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	tcp(p, 49152, 22, TF_SYN, 0);
	finish(p);
}

static void b_v6_udp(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	udp(p, 546, 547, 40);
	finish(p);
}

static void b_v6_sctp(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	sctp(p, 36412, 36412);
	finish(p);
}

static void b_v6_icmp6_echo(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	icmp6(p, ICMP6_ECHO_REQUEST, 0, 0x4d2 << 16 | 1);
	payload(p, 56);
	finish(p);
}

static void b_v6_icmp6_ptb(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_R, V6_A);
	icmp6(p, ICMP6_PACKET_TOO_BIG, 0, 1280);
	inner6_udp(p, V6_A, V6_B, 40000, 4789);
	finish(p);
}

static void b_v6_hopopts(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	ext6(p, IPPROTO_HOPOPTS, 8);
	udp(p, 5001, 5002, 12);
	finish(p);
}

static void b_v6_routing(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	ext6(p, IPPROTO_ROUTING, 24);
	tcp(p, 49156, 80, TF_SYN, 0);
	finish(p);
}

static void b_v6_dstopts(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	ext6(p, IPPROTO_DSTOPTS, 16);
	udp(p, 5003, 5004, 12);
	finish(p);
}

static void b_v6_ah(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	ext6(p, IPPROTO_AH, 24); /* 12-byte ICV: length field 4 */
	tcp(p, 49157, 179, TF_SYN | TF_ACK, 0);
	finish(p);
}

static void b_v6_esp(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	raw(p, IPPROTO_ESP, 48);
	finish(p);
}

static void b_v6_frag_first(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	frag6(p, 0, true);
	udp(p, 40002, 4789, 64);
	finish(p);
}

static void b_v6_frag_later(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	frag6(p, 1448, false);
	raw(p, IPPROTO_UDP, 64);
	finish(p);
}

/* Offset 0 and no M flag (RFC 6946): a whole packet, not a fragment. */
static void b_v6_frag_atomic(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	frag6(p, 0, false);
	udp(p, 40003, 53, 20);
	finish(p);
}

static void v6_chain(struct pkt *p, int n)
{
	static const struct {
		__u8 type;
		__u32 len;
	} chain[] = {
		{ IPPROTO_HOPOPTS, 8 },
		{ IPPROTO_DSTOPTS, 16 },
		{ IPPROTO_ROUTING, 24 },
		{ IPPROTO_AH, 16 },
	};
	int i;

	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	for (i = 0; i < n; i++)
		ext6(p, chain[i % 4].type, chain[i % 4].len);
	tcp(p, 49158, 443, TF_SYN, 0);
	finish(p);
}

static void b_v6_chain_max(struct pkt *p)
{
	v6_chain(p, FLOWBPF_V6_EXT_MAX);
}

static void b_v6_chain_too_long(struct pkt *p)
{
	v6_chain(p, FLOWBPF_V6_EXT_MAX + 1);
}

/* Bytes after No Next Header are ignored by IPv6 but still its payload. */
static void b_v6_no_next_header(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	raw(p, IPPROTO_NONE, 16);
	finish(p);
}

static void b_v6_plen_zero(struct pkt *p)
{
	b_v6_udp(p);
	put16(p->d + p->l3 + 4, 0);
}

static void b_only_eth_ipv4(struct pkt *p)
{
	eth(p, ETH_P_IP);
}

static void b_only_eth_ipv6(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
}

static void b_v4_header_cut(struct pkt *p)
{
	b_v4_tcp_syn(p);
	p->len = p->l3 + 19;
}

static void b_v4_ihl4(struct pkt *p)
{
	b_v4_tcp_syn(p);
	p->d[p->l3] = 0x44;
}

static void b_v4_ihl0(struct pkt *p)
{
	b_v4_tcp_syn(p);
	p->d[p->l3] = 0x40;
}

static void b_v4_ihl_past_frame(struct pkt *p)
{
	b_v4_udp(p);
	p->d[p->l3] = 0x4f; /* 60 bytes of header in a 52-byte packet */
}

static void b_v4_tot_len_past_frame(struct pkt *p)
{
	b_v4_udp(p);
	put16(p->d + p->l3 + 2, p->len - p->l3 + 1);
}

static void b_v4_tot_len_below_ihl(struct pkt *p)
{
	b_v4_udp(p);
	put16(p->d + p->l3 + 2, 19);
}

static void b_v4_tot_len_below_opts(struct pkt *p)
{
	b_v4_opts_ihl6(p);
	put16(p->d + p->l3 + 2, 22);
}

static void b_v6_in_ethertype_ipv4(struct pkt *p)
{
	b_v6_tcp_syn(p);
	put16(p->d + 12, ETH_P_IP);
}

static void b_v4_in_ethertype_ipv6(struct pkt *p)
{
	b_v4_tcp_syn(p); /* 40 bytes: a whole IPv6 header's worth */
	put16(p->d + 12, ETH_P_IPV6);
}

/* Truncation below is of the IP packet, its length field agreeing. */
static void b_v4_tcp_truncated(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	tcp(p, 49152, 80, TF_SYN, 0);
	cut(p, 10);
	finish(p);
}

/* The missing TCP bytes are present, but as Ethernet padding. */
static void b_v4_tcp_in_padding(struct pkt *p)
{
	b_v4_tcp_truncated(p);
	pad_to(p, 60);
}

/*
 * A first fragment cut just past the ports (RFC 1858's tiny fragment, for
 * TCP) still names its flow; the flags it lacks are not made up.
 */
static void b_v4_frag_first_ports_only(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	ip4_frag(p, IP4_MF, 0);
	tcp(p, 49152, 80, TF_SYN, 0);
	cut(p, 12);
	finish(p);
}

/* ... but not one cut inside the ports. */
static void b_v4_frag_first_cut_in_ports(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	ip4_frag(p, IP4_MF, 0);
	udp(p, 40001, 4789, 0);
	cut(p, 5);
	finish(p);
}

static void b_v6_frag_first_ports_only(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	frag6(p, 0, true);
	udp(p, 40002, 4789, 0);
	cut(p, 4);
	finish(p);
}

static void b_v6_frag_first_cut_in_ports(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	frag6(p, 0, true);
	tcp(p, 49152, 22, TF_SYN, 0);
	cut(p, 17);
	finish(p);
}

static void b_v4_udp_truncated(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	udp(p, 5353, 53, 0);
	cut(p, 4);
	finish(p);
}

static void b_v4_icmp_truncated(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	icmp4(p, ICMP_ECHO, 0, 0);
	cut(p, 4);
	finish(p);
}

static void b_v4_sctp_truncated(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	sctp(p, 2905, 3868);
	cut(p, 24); /* 8 of the 12 common header bytes */
	finish(p);
}

static void b_v6_header_cut(struct pkt *p)
{
	b_v6_tcp_syn(p);
	p->len = p->l3 + 30;
}

static void b_v6_plen_past_frame(struct pkt *p)
{
	b_v6_udp(p);
	put16(p->d + p->l3 + 4, p->len - p->l3 - 40 + 8);
}

static void b_v6_ext_truncated(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	ext6(p, IPPROTO_HOPOPTS, 8);
	cut(p, 4);
	finish(p);
}

/* A destination options header whose length runs past the payload. */
static void b_v6_ext_len_past_payload(struct pkt *p)
{
	int ext;

	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	ext = p->len;
	ext6(p, IPPROTO_DSTOPTS, 8);
	udp(p, 5003, 5004, 0);
	finish(p);
	p->d[ext + 1] = 3; /* 32 bytes, in a 16-byte payload */
}

static void b_v6_frag_truncated(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	frag6(p, 0, true);
	cut(p, 4);
	finish(p);
}

static void b_v6_tcp_truncated(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	tcp(p, 49152, 22, TF_SYN, 0);
	cut(p, 1);
	finish(p);
}

static void b_v6_icmp6_truncated(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	icmp6(p, ICMP6_ECHO_REQUEST, 0, 0);
	cut(p, 2);
	finish(p);
}

/* A 32-byte IPv4 packet padded to the 60-byte Ethernet minimum. */
static void b_pad_v4_udp(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	udp(p, 123, 123, 4);
	finish(p);
	pad_to(p, 60);
}

static void b_pad_vlan_v4_icmp(struct pkt *p)
{
	eth(p, ETH_P_8021Q);
	vlan(p, 42, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	icmp4(p, ICMP_ECHO, 0, 7);
	finish(p);
	pad_to(p, 64);
}

static void b_empty(struct pkt *p)
{
}

/* TOS and traffic class: recorded from the first packet of a flow. */
static void tos4(struct pkt *p, __u8 tos)
{
	p->d[p->l3 + 1] = tos;
}

/* The traffic class sits between the version and the flow label. */
static void tclass6(struct pkt *p, __u8 tc)
{
	__u8 *ip6 = p->d + p->l3;

	ip6[0] = 0x60 | tc >> 4;
	ip6[1] = (tc & 0x0f) << 4 | (ip6[1] & 0x0f);
}

static void b_v4_tos_ef(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	tos4(p, 46 << 2 | 1); /* DSCP EF, ECN ECT(1) */
	udp(p, 5004, 5004, 40);
	finish(p);
}

static void b_v4_opts_tos(struct pkt *p)
{
	eth(p, ETH_P_IP);
	ip4_opts(p, V4_A, V4_B, 4);
	tos4(p, 10 << 2); /* AF11 */
	udp(p, 1986, 1986, 20);
	finish(p);
}

static void b_qinq_tos(struct pkt *p)
{
	eth(p, ETH_P_8021AD);
	vlan(p, 100, ETH_P_8021Q);
	vlan(p, 200, ETH_P_IP);
	ip4(p, V4_A, V4_B);
	tos4(p, 0xff);
	tcp(p, 49170, 22, TF_SYN, 0);
	finish(p);
}

static void b_v6_tclass(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	tclass6(p, 40 << 2 | 1); /* CS5, ECT(1): both nibbles differ */
	tcp(p, 49171, 443, TF_SYN, 0);
	finish(p);
}

static void b_v6_hopopts_tclass(struct pkt *p)
{
	eth(p, ETH_P_IPV6);
	ip6(p, V6_A, V6_B);
	/* Low nibble only: a shift in the wrong place shows. */
	tclass6(p, 0x0e);
	ext6(p, IPPROTO_HOPOPTS, 8);
	udp(p, 5011, 5012, 12);
	finish(p);
}

static void b_eth_13_bytes(struct pkt *p)
{
	eth(p, ETH_P_IP);
	cut(p, 1);
}

/* The table */

enum { F_NONE, F_FIRST, F_LATER };

struct parser_case {
	const char *name;
	void (*build)(struct pkt *p);
	bool einval; /* the test harness itself must refuse the frame */
	int err; /* 0: one flow is made; else the stat that must move */
	int frag; /* F_*: which fragment counter moves along */
	bool tc; /* also run it through the tc egress program */
	struct {
		__u8 family, proto;
		__u16 vlan, inner_vlan;
		__u16 sport, dport; /* host order */
		const char *saddr, *daddr;
		__u8 tcp_flags;
		__u8 tos; /* IPv4 TOS, IPv6 traffic class */
	} key;
};

#define K4(pr, sp, dp, s, d)    \
	.key = { .family = 4,   \
		 .proto = (pr), \
		 .sport = (sp), \
		 .dport = (dp), \
		 .saddr = (s),  \
		 .daddr = (d)
#define K6(pr, sp, dp, s, d)    \
	.key = { .family = 6,   \
		 .proto = (pr), \
		 .sport = (sp), \
		 .dport = (dp), \
		 .saddr = (s),  \
		 .daddr = (d)

static const struct parser_case cases[] = {
	/* IPv4 */
	{ "ipv4_tcp_syn", b_v4_tcp_syn, .tc = true,
	  K4(IPPROTO_TCP, 49152, 80, V4_A, V4_B), .tcp_flags = TF_SYN }
},
{
	"ipv4_tcp_syn_ece_cwr", b_v4_tcp_syn_ecn,
		K4(IPPROTO_TCP, 49153, 443, V4_A, V4_B),
		.tcp_flags = TF_SYN | TF_ECE | TF_CWR
}
}
,
{
	"ipv4_tcp_fin_psh_ack", b_v4_tcp_fin_psh_ack,
		K4(IPPROTO_TCP, 443, 49153, V4_B, V4_A),
		.tcp_flags = TF_FIN | TF_PSH | TF_ACK
}
}
,
{
	"ipv4_udp", b_v4_udp, .tc = true, K4(IPPROTO_UDP, 5353, 53, V4_A, V4_B)
}
}
,
{
	"ipv4_sctp", b_v4_sctp, K4(IPPROTO_SCTP, 2905, 3868, V4_A, V4_B)
}
}
,
{
	"ipv4_dccp", b_v4_dccp, K4(IPPROTO_DCCP, 5004, 5005, V4_A, V4_B)
}
}
,
{
	"ipv4_udplite", b_v4_udplite,
		K4(IPPROTO_UDPLITE, 7000, 7001, V4_A, V4_B)
}
}
,
{
	"ipv4_icmp_echo_request", b_v4_icmp_echo,
		.tc = true,
		K4(IPPROTO_ICMP, 0, ICMP_TC(ICMP_ECHO, 0), V4_A, V4_B)
}
}
,
{
	"ipv4_icmp_echo_reply", b_v4_icmp_echo_reply,
		K4(IPPROTO_ICMP, 0, ICMP_TC(ICMP_ECHOREPLY, 0), V4_B, V4_A)
}
}
,
{
	"ipv4_icmp_dest_unreach_port", b_v4_icmp_port_unreach,
		K4(IPPROTO_ICMP, 0,
		   ICMP_TC(ICMP_DEST_UNREACH, ICMP_PORT_UNREACH), V4_R, V4_A)
}
}
,
{
	"ipv4_icmp_dest_unreach_frag_needed", b_v4_icmp_frag_needed,
		K4(IPPROTO_ICMP, 0,
		   ICMP_TC(ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED), V4_R, V4_A)
}
}
,
{
	"ipv4_icmp_time_exceeded", b_v4_icmp_time_exceeded,
		K4(IPPROTO_ICMP, 0, ICMP_TC(ICMP_TIME_EXCEEDED, ICMP_EXC_TTL),
		   V4_R, V4_A)
}
}
,
{
	"ipv4_options_ihl6_udp", b_v4_opts_ihl6,
		K4(IPPROTO_UDP, 1985, 1985, V4_A, V4_B)
}
}
,
{
	"ipv4_options_ihl15_tcp", b_v4_opts_ihl15,
		K4(IPPROTO_TCP, 50000, 179, V4_A, V4_B), .tcp_flags = TF_SYN
}
}
,
{
	"ipv4_gre", b_v4_gre, K4(IPPROTO_GRE, 0, 0, V4_A, V4_B)
}
}
,
{
	"ipv4_esp", b_v4_esp, K4(IPPROTO_ESP, 0, 0, V4_A, V4_B)
}
}
,
{
	"ipv4_frag_first", b_v4_frag_first,
		.frag = F_FIRST, K4(IPPROTO_UDP, 40001, 4789, V4_A, V4_B)
}
}
,
{
	"ipv4_frag_first_ports_only", b_v4_frag_first_ports_only,
		.frag = F_FIRST, K4(IPPROTO_TCP, 49152, 80, V4_A, V4_B)
}
}
,
{
	"ipv4_frag_middle", b_v4_frag_middle, .frag = F_LATER,
					      K4(IPPROTO_UDP, 0, 0, V4_A, V4_B)
}
}
,
{
	"ipv4_frag_last", b_v4_frag_last, .frag = F_LATER,
					  K4(IPPROTO_UDP, 0, 0, V4_A, V4_B)
}
}
,
{
	"ipv4_dont_fragment_is_no_fragment", b_v4_df,
		K4(IPPROTO_TCP, 49154, 8080, V4_A, V4_B), .tcp_flags = TF_ACK
}
}
,
	/* Only a BIG TCP super-packet (> 64 KiB, tc only) may say 0. */
	{ "ipv4_tot_len_zero_is_error", b_v4_tot_len_zero,
	  .err = FLOWBPF_STAT_ERR_IP_LEN },

/* VLAN */
{
	"vlan_8021q", b_vlan_8021q,
		.tc = true, K4(IPPROTO_UDP, 5060, 5060, V4_A, V4_B), .vlan = 100
}
}
,
{
	"vlan_qinq_88a8_8100", b_vlan_qinq,
		.tc = true, K4(IPPROTO_TCP, 49155, 22, V4_A, V4_B), .vlan = 100,
		.inner_vlan = 200, .tcp_flags = TF_SYN
}
}
,
{
	"vlan_9100", b_vlan_9100, K6(IPPROTO_UDP, 4500, 4500, V6_A, V6_B),
		.vlan = 300
}
}
,
{
	"vlan_priority_tag", b_vlan_priority_tag,
		K4(IPPROTO_UDP, 319, 319, V4_A, V4_B)
}
}
, { "vlan_three_tags", b_vlan_three_tags, .err = FLOWBPF_STAT_ERR_VLAN_DEPTH },
	{ "vlan_tag_truncated", b_vlan_tag_truncated,
	  .err = FLOWBPF_STAT_ERR_L2_TRUNC },
	{ "vlan_inner_tag_truncated", b_vlan_inner_tag_truncated,
	  .err = FLOWBPF_STAT_ERR_L2_TRUNC },

	/* Not IP */
	{ "arp", b_arp, .err = FLOWBPF_STAT_NON_IP, .tc = true },
	{ "vlan_arp", b_vlan_arp, .err = FLOWBPF_STAT_NON_IP },
	{ "lldp", b_lldp, .err = FLOWBPF_STAT_NON_IP },

/* IPv6 */
{
	"ipv6_tcp_syn", b_v6_tcp_syn, .tc = true,
				      K6(IPPROTO_TCP, 49152, 22, V6_A, V6_B),
				      .tcp_flags = TF_SYN
}
}
,
{
	"ipv6_udp", b_v6_udp, K6(IPPROTO_UDP, 546, 547, V6_A, V6_B)
}
}
,
{
	"ipv6_sctp", b_v6_sctp, K6(IPPROTO_SCTP, 36412, 36412, V6_A, V6_B)
}
}
,
{
	"ipv6_icmpv6_echo_request", b_v6_icmp6_echo,
		.tc = true,
		K6(IPPROTO_ICMPV6, 0, ICMP_TC(ICMP6_ECHO_REQUEST, 0), V6_A,
		   V6_B)
}
}
,
{
	"ipv6_icmpv6_packet_too_big", b_v6_icmp6_ptb,
		K6(IPPROTO_ICMPV6, 0, ICMP_TC(ICMP6_PACKET_TOO_BIG, 0), V6_R,
		   V6_A)
}
}
,
{
	"ipv6_hop_by_hop_udp", b_v6_hopopts,
		K6(IPPROTO_UDP, 5001, 5002, V6_A, V6_B)
}
}
,
{
	"ipv6_routing_tcp", b_v6_routing,
		K6(IPPROTO_TCP, 49156, 80, V6_A, V6_B), .tcp_flags = TF_SYN
}
}
,
{
	"ipv6_dest_options_udp", b_v6_dstopts,
		K6(IPPROTO_UDP, 5003, 5004, V6_A, V6_B)
}
}
,
{
	"ipv6_ah_tcp", b_v6_ah, K6(IPPROTO_TCP, 49157, 179, V6_A, V6_B),
		.tcp_flags = TF_SYN | TF_ACK
}
}
,
{
	"ipv6_esp", b_v6_esp, K6(IPPROTO_ESP, 0, 0, V6_A, V6_B)
}
}
,
{
	"ipv6_frag_first", b_v6_frag_first,
		.frag = F_FIRST, K6(IPPROTO_UDP, 40002, 4789, V6_A, V6_B)
}
}
,
{
	"ipv6_frag_first_ports_only", b_v6_frag_first_ports_only,
		.frag = F_FIRST, K6(IPPROTO_UDP, 40002, 4789, V6_A, V6_B)
}
}
,
{
	"ipv6_frag_later", b_v6_frag_later, .frag = F_LATER, .tc = true,
					    K6(IPPROTO_UDP, 0, 0, V6_A, V6_B)
}
}
,
{
	"ipv6_frag_atomic", b_v6_frag_atomic,
		K6(IPPROTO_UDP, 40003, 53, V6_A, V6_B)
}
}
,
{
	"ipv6_ext_chain_at_limit", b_v6_chain_max,
		K6(IPPROTO_TCP, 49158, 443, V6_A, V6_B), .tcp_flags = TF_SYN
}
}
,
	{ "ipv6_ext_chain_too_long", b_v6_chain_too_long,
	  .err = FLOWBPF_STAT_ERR_V6_CHAIN },
{
	"ipv6_no_next_header", b_v6_no_next_header,
		K6(IPPROTO_NONE, 0, 0, V6_A, V6_B)
}
}
,
	/* Payload length 0 means none, so the UDP header is outside. */
	{ "ipv6_payload_len_zero_means_empty", b_v6_plen_zero,
	  .err = FLOWBPF_STAT_ERR_L4_TRUNC },

	/* Malformed */
	{ "ethertype_ipv4_no_header", b_only_eth_ipv4,
	  .err = FLOWBPF_STAT_ERR_L3_TRUNC },
	{ "ethertype_ipv6_no_header", b_only_eth_ipv6,
	  .err = FLOWBPF_STAT_ERR_L3_TRUNC },
	{ "ipv4_header_cut_short", b_v4_header_cut,
	  .err = FLOWBPF_STAT_ERR_L3_TRUNC },
	{ "ipv4_ihl_4", b_v4_ihl4, .err = FLOWBPF_STAT_ERR_BAD_IHL },
	{ "ipv4_ihl_0", b_v4_ihl0, .err = FLOWBPF_STAT_ERR_BAD_IHL },
	{ "ipv4_ihl_past_frame", b_v4_ihl_past_frame,
	  .err = FLOWBPF_STAT_ERR_L3_TRUNC },
	{ "ipv4_tot_len_past_frame", b_v4_tot_len_past_frame,
	  .err = FLOWBPF_STAT_ERR_IP_LEN },
	{ "ipv4_tot_len_below_ihl", b_v4_tot_len_below_ihl,
	  .err = FLOWBPF_STAT_ERR_IP_LEN },
	{ "ipv4_tot_len_below_options", b_v4_tot_len_below_opts,
	  .err = FLOWBPF_STAT_ERR_IP_LEN },
	{ "ipv6_in_ethertype_ipv4", b_v6_in_ethertype_ipv4,
	  .err = FLOWBPF_STAT_ERR_IP_VERSION },
	{ "ipv4_in_ethertype_ipv6", b_v4_in_ethertype_ipv6,
	  .err = FLOWBPF_STAT_ERR_IP_VERSION },
	{ "ipv4_tcp_truncated", b_v4_tcp_truncated, .tc = true,
	  .err = FLOWBPF_STAT_ERR_L4_TRUNC },
	{ "ipv4_tcp_in_ethernet_padding", b_v4_tcp_in_padding,
	  .err = FLOWBPF_STAT_ERR_L4_TRUNC },
	{ "ipv4_frag_first_cut_in_ports", b_v4_frag_first_cut_in_ports,
	  .err = FLOWBPF_STAT_ERR_L4_TRUNC },
	{ "ipv6_frag_first_cut_in_ports", b_v6_frag_first_cut_in_ports,
	  .err = FLOWBPF_STAT_ERR_L4_TRUNC },
	{ "ipv4_udp_truncated", b_v4_udp_truncated,
	  .err = FLOWBPF_STAT_ERR_L4_TRUNC },
	{ "ipv4_icmp_truncated", b_v4_icmp_truncated,
	  .err = FLOWBPF_STAT_ERR_L4_TRUNC },
	{ "ipv4_sctp_truncated", b_v4_sctp_truncated,
	  .err = FLOWBPF_STAT_ERR_L4_TRUNC },
	{ "ipv6_header_cut_short", b_v6_header_cut,
	  .err = FLOWBPF_STAT_ERR_L3_TRUNC },
	{ "ipv6_payload_len_past_frame", b_v6_plen_past_frame,
	  .err = FLOWBPF_STAT_ERR_IP_LEN },
	{ "ipv6_ext_header_truncated", b_v6_ext_truncated,
	  .err = FLOWBPF_STAT_ERR_L3_TRUNC },
	{ "ipv6_ext_header_len_past_payload", b_v6_ext_len_past_payload,
	  .err = FLOWBPF_STAT_ERR_L3_TRUNC },
	{ "ipv6_frag_header_truncated", b_v6_frag_truncated,
	  .err = FLOWBPF_STAT_ERR_L3_TRUNC },
	{ "ipv6_tcp_truncated", b_v6_tcp_truncated,
	  .err = FLOWBPF_STAT_ERR_L4_TRUNC },
	{ "ipv6_icmpv6_truncated", b_v6_icmp6_truncated,
	  .err = FLOWBPF_STAT_ERR_L4_TRUNC },

/* Frame length is not IP length */
{
	"ethernet_padding_ipv4_udp", b_pad_v4_udp,
		.tc = true, K4(IPPROTO_UDP, 123, 123, V4_A, V4_B)
}
}
,
{
	"ethernet_padding_vlan_ipv4_icmp", b_pad_vlan_v4_icmp,
		K4(IPPROTO_ICMP, 0, ICMP_TC(ICMP_ECHO, 0), V4_A, V4_B),
		.vlan = 42
}
}
,

	/* Refused by BPF_PROG_TEST_RUN before the program runs */
	{ "frame_empty", b_empty, .einval = true, .tc = true },
/* TOS / traffic class, on the direct path and through the helpers. */
{
	"ipv4_tos_fast", b_v4_tos_ef,
		.tc = true, K4(IPPROTO_UDP, 5004, 5004, V4_A, V4_B), .tos = 0xb9
}
}
,
{
	"ipv4_tos_options", b_v4_opts_tos,
		.tc = true, K4(IPPROTO_UDP, 1986, 1986, V4_A, V4_B), .tos = 0x28
}
}
,
{
	"ipv4_tos_qinq", b_qinq_tos,
		.tc = true, K4(IPPROTO_TCP, 49170, 22, V4_A, V4_B), .vlan = 100,
		.inner_vlan = 200, .tcp_flags = TF_SYN, .tos = 0xff
}
}
,
{
	"ipv6_tclass_fast", b_v6_tclass,
		.tc = true, K6(IPPROTO_TCP, 49171, 443, V6_A, V6_B),
		.tcp_flags = TF_SYN, .tos = 0xa1
}
}
,
{
	"ipv6_tclass_hop_by_hop", b_v6_hopopts_tclass,
		.tc = true, K6(IPPROTO_UDP, 5011, 5012, V6_A, V6_B), .tos = 0x0e
}
}
, { "frame_13_bytes", b_eth_13_bytes, .einval = true },
}
;

/* Test environment */

static const char *const stat_names[] = {
#define STAT_NAME(name, key, outcome) #name,
	FLOWBPF_STATS(STAT_NAME)
#undef STAT_NAME
};

struct ev_sink {
	int n;
	size_t size;
	struct flowbpf_event ev; /* the first one */
};

struct env {
	struct flowbpf *skel;
	struct ring_buffer *rb;
	struct ev_sink sink;
	int flows_fd, stats_fd, verdict_fd;
};

/* The ifindex the test programs are configured with (loopback's). */
#define TEST_IFINDEX 1

static __u32 tick_of(__u64 ns)
{
	return ns >> FLOWBPF_TICK_SHIFT;
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct ev_sink *s = ctx;

	if (!s->n++) {
		s->size = size;
		memcpy(&s->ev, data,
		       size < sizeof(s->ev) ? size : sizeof(s->ev));
	}
	return 0;
}

static int env_setup_opts(struct env *e, const struct flowbpf_attach_opts *o)
{
	int err;

	memset(e, 0, sizeof(*e));
	e->skel = flowbpf__open();
	if (!ASSERT_OK_PTR(e->skel, "flowbpf__open"))
		return -1;
	flowbpf_config_fill((struct flowbpf_config *)&e->skel->rodata->cfg, o,
			    TEST_IFINDEX, false);
	err = flowbpf__load(e->skel);
	if (!ASSERT_OK(err, "flowbpf__load"))
		return -1;
	e->flows_fd = bpf_map__fd(e->skel->maps.flows);
	e->verdict_fd = bpf_program__fd(e->skel->progs.flowbpf_verdict);
	e->stats_fd = bpf_map__fd(e->skel->maps.stats);
	e->rb = ring_buffer__new(bpf_map__fd(e->skel->maps.events), on_event,
				 &e->sink, NULL);
	if (!ASSERT_OK_PTR(e->rb, "ring_buffer__new"))
		return -1;
	return 0;
}

static int env_setup(struct env *e, __u32 mode, __u32 pending, __u32 dflt,
		     __u64 timeout_ns)
{
	struct flowbpf_attach_opts o;

	flowbpf_attach_opts_init(&o);
	o.mode = mode;
	o.pending = pending;
	o.dflt = dflt;
	o.timeout_ns = timeout_ns;
	return env_setup_opts(e, &o);
}

static void env_teardown(struct env *e)
{
	ring_buffer__free(e->rb);
	flowbpf__destroy(e->skel);
	memset(e, 0, sizeof(*e));
}

/* Up to max keys of the flow map; returns how many there are. */
static int flow_keys(int fd, struct flowbpf_key *out, int max)
{
	struct flowbpf_key *keys;
	__u32 n;

	if (map_keys(fd, &keys, &n))
		return -1;
	if (max > 0)
		memcpy(out, keys,
		       (n < (__u32)max ? n : (__u32)max) * sizeof(*out));
	free(keys);
	return n;
}
/* Empties the flow map and the event ring so a case sees only itself. */
static bool env_reset(struct env *e)
{
	if (!ASSERT_OK(map_clear(e->flows_fd), "clear flows"))
		return false;
	if (!ASSERT_GE(ring_buffer__consume(e->rb), 0, "drain events"))
		return false;
	memset(&e->sink, 0, sizeof(e->sink));
	return true;
}

static int test_run(int prog_fd, struct pkt *p, __u32 *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = p->d,
		    .data_size_in = p->len, .repeat = 1);
	int err;

	err = bpf_prog_test_run_opts(prog_fd, &opts);
	*retval = opts.retval;
	return err;
}

static bool check_stats(const struct flowbpf_stats *before,
			const struct flowbpf_stats *after, const __u64 *want)
{
	char name[64];
	bool ok = true;
	int i;

	for (i = 0; i < FLOWBPF_STAT_MAX; i++) {
		snprintf(name, sizeof(name), "stats %s delta", stat_names[i]);
		ok &= ASSERT_EQ(after->c[i] - before->c[i], want[i], name);
	}
	return ok;
}

static void key_addr(int family, const char *s, __be32 out[4])
{
	memset(out, 0, 16);
	if (family == 6) {
		addr_pton(AF_INET6, s, out);
		return;
	}
	out[2] = htonl(0xffff);
	addr_pton(AF_INET, s, &out[3]);
}

static bool check_addr(const __be32 *got, const __be32 *want, const char *name)
{
	char g[INET6_ADDRSTRLEN], w[INET6_ADDRSTRLEN];

	inet_ntop(AF_INET6, got, g, sizeof(g));
	inet_ntop(AF_INET6, want, w, sizeof(w));
	return _CHECK(memcmp(got, want, 16), name, "got %s, expected %s", g, w);
}

static bool check_key(const struct flowbpf_key *got,
		      const struct flowbpf_key *want)
{
	bool ok = true;

	ok &= ASSERT_EQ(got->dir, want->dir, "key.dir");
	ok &= ASSERT_EQ(got->family, want->family, "key.family");
	ok &= ASSERT_EQ(got->proto, want->proto, "key.proto");
	ok &= ASSERT_EQ(got->tun_type, want->tun_type, "key.tun_type");
	ok &= ASSERT_EQ(got->tun_id, want->tun_id, "key.tun_id");
	ok &= ASSERT_EQ(got->vlan, want->vlan, "key.vlan");
	ok &= ASSERT_EQ(got->inner_vlan, want->inner_vlan, "key.inner_vlan");
	ok &= ASSERT_EQ(ntohs(got->sport), ntohs(want->sport), "key.sport");
	ok &= ASSERT_EQ(ntohs(got->dport), ntohs(want->dport), "key.dport");
	ok &= check_addr(got->saddr, want->saddr, "key.saddr");
	ok &= check_addr(got->daddr, want->daddr, "key.daddr");
	/* Keys are hashed byte for byte: nothing else may differ. */
	ok &= ASSERT_EQ(memcmp(got, want, sizeof(*got)), 0, "key bytes");
	return ok;
}

/* The one flow a case must have made, with its verdict entry and event. */
static bool only_flow(struct env *e, struct flowbpf_key *key,
		      struct flowbpf_flow *flow)
{
	struct flowbpf_key keys[4];
	int n;

	n = flow_keys(e->flows_fd, keys, 4);
	if (!ASSERT_EQ(n, 1, "flows created"))
		return false;
	*key = keys[0];
	return ASSERT_OK(bpf_map_lookup_elem(e->flows_fd, key, flow),
			 "flow lookup");
}

/* What a case expects of the key: its fields in the key's byte order. */
static void expected_key(const struct parser_case *c, bool via_tc,
			 struct flowbpf_key *exp)
{
	memset(exp, 0, sizeof(*exp));
	exp->dir = via_tc ? FLOWBPF_DIR_EGRESS : FLOWBPF_DIR_INGRESS;
	exp->family = c->key.family;
	exp->proto = c->key.proto;
	exp->vlan = c->key.vlan;
	exp->inner_vlan = c->key.inner_vlan;
	exp->sport = htons(c->key.sport);
	exp->dport = htons(c->key.dport);
	key_addr(c->key.family, c->key.saddr, exp->saddr);
	key_addr(c->key.family, c->key.daddr, exp->daddr);
}

/* The new flow's value after its first packet, run between t0 and t1. */
static void check_new_value(const struct parser_case *c,
			    const struct flowbpf_flow *flow, __u64 bytes,
			    __u64 t0, __u64 t1)
{
	ASSERT_EQ(flow->packets, 1, "flow.packets");
	ASSERT_EQ(flow->bytes, bytes, "flow.bytes (IP length)");
	ASSERT_EQ(flow->tcp_flags, c->key.tcp_flags, "flow.tcp_flags");
	ASSERT_GE(flow->first, tick_of(t0), "flow.first after the run began");
	ASSERT_LE(flow->first, tick_of(t1), "flow.first before it ended");
	ASSERT_EQ(flow->last, flow->first, "flow.last");
	ASSERT_EQ(flow->verdict, FLOWBPF_VERDICT_QUEUED, "verdict");
	ASSERT_EQ(flow->source, FLOWBPF_SRC_KERNEL, "verdict source");
	ASSERT_EQ(flow->set, flow->first, "verdict set");
	ASSERT_EQ(flow->held, 0, "flow.held");
	ASSERT_EQ(flow->released, 0, "flow.released");
	ASSERT_EQ(flow->tos, c->key.tos, "flow.tos");
}

/* The one event of a new flow: its header and the frame's head. */
static void check_new_event(struct env *e, const struct pkt *p,
			    const struct flowbpf_key *got,
			    const struct flowbpf_flow *flow, __u64 t0, __u64 t1)
{
	__u64 cap;

	if (!ASSERT_EQ(e->sink.n, 1, "one event"))
		return;
	cap = p->len < FLOWBPF_EVENT_DATA ? p->len : FLOWBPF_EVENT_DATA;
	ASSERT_EQ(e->sink.size, sizeof(struct flowbpf_event), "event size");
	ASSERT_EQ(e->sink.ev.hdr.type, FLOWBPF_EV_NEW_FLOW, "event type");
	ASSERT_EQ(e->sink.ev.hdr.ifindex, TEST_IFINDEX, "event ifindex");
	ASSERT_EQ(memcmp(&e->sink.ev.hdr.key, got, sizeof(*got)), 0,
		  "event key");
	ASSERT_EQ(tick_of(e->sink.ev.hdr.ts_ns), flow->first, "event ts_ns");
	ASSERT_GE(e->sink.ev.hdr.ts_ns, t0, "event ts_ns after the run began");
	ASSERT_LE(e->sink.ev.hdr.ts_ns, t1, "event ts_ns before it ended");
	ASSERT_EQ(e->sink.ev.hdr.pkt_len, p->len, "event pkt_len");
	ASSERT_EQ(e->sink.ev.hdr.cap_len, cap, "event cap_len");
	ASSERT_EQ(memcmp(e->sink.ev.data, p->d, cap), 0, "event data");
}

/* A packet that makes no flow: only the counters in want move. */
static void check_no_flow(struct env *e, const struct flowbpf_stats *before,
			  const struct flowbpf_stats *after, const __u64 *want)
{
	check_stats(before, after, want);
	ASSERT_EQ(flow_keys(e->flows_fd, NULL, 0), 0, "no flow");
	ASSERT_EQ(e->sink.n, 0, "no event");
}

/* The counters a new flow's first packet moves (monitor mode). */
static void new_flow_stats(const struct parser_case *c, __u64 bytes,
			   __u64 *want)
{
	/* A flow's first packet is QUEUED; monitor mode lets it pass. */
	want[FLOWBPF_STAT_QUEUED_PASS] = 1;
	want[FLOWBPF_STAT_QUEUED_PASS_BYTES] = bytes;
	want[FLOWBPF_STAT_FLOWS_CREATED] = 1;
	want[FLOWBPF_STAT_EVENTS_SENT] = 1;
	if (c->frag == F_FIRST)
		want[FLOWBPF_STAT_FRAG_FIRST] = 1;
	else if (c->frag == F_LATER)
		want[FLOWBPF_STAT_FRAG_LATER] = 1;
}

static void run_case(struct env *e, const struct parser_case *c, bool via_tc)
{
	struct bpf_program *prog = via_tc ? e->skel->progs.flowbpf_tc_egress
					  : e->skel->progs.flowbpf_xdp;
	int prog_fd = bpf_program__fd(prog);
	__u32 want_ret = via_tc ? TC_ACT_UNSPEC : XDP_PASS;
	struct flowbpf_stats before, after;
	__u64 want[FLOWBPF_STAT_MAX] = {};
	struct flowbpf_key got, exp;
	struct flowbpf_flow flow;
	__u64 t0, t1, bytes;
	__u32 retval = 0;
	struct pkt p;
	int err;

	pkt_init(&p);
	c->build(&p);

	if (!env_reset(e))
		return;
	if (!ASSERT_OK(flowbpf_stats_read(e->stats_fd, &before), "stats"))
		return;
	t0 = mono_now_ns();
	err = test_run(prog_fd, &p, &retval);
	t1 = mono_now_ns();
	if (!ASSERT_OK(flowbpf_stats_read(e->stats_fd, &after), "stats after"))
		return;
	ASSERT_EQ(ring_buffer__consume(e->rb), e->sink.n, "consume events");

	if (c->einval) {
		ASSERT_EQ(err, -EINVAL, "test run refused");
		check_no_flow(e, &before, &after, want);
		return;
	}
	if (!ASSERT_OK(err, "test run"))
		return;
	ASSERT_EQ(retval, want_ret, "return code");

	want[FLOWBPF_STAT_PACKETS] = 1;
	if (c->err) {
		want[c->err] = 1;
		check_no_flow(e, &before, &after, want);
		return;
	}
	bytes = ip_bytes(&p);
	new_flow_stats(c, bytes, want);
	check_stats(&before, &after, want);

	if (!only_flow(e, &got, &flow))
		return;
	expected_key(c, via_tc, &exp);
	check_key(&got, &exp);
	check_new_value(c, &flow, bytes, t0, t1);
	check_new_event(e, &p, &got, &flow, t0, t1);
}

/*
 * One more packet of a flow that exists: checks the return code and the
 * exact stats movement, then hands back the flow and its verdict.
 */
static bool run_again(struct env *e, struct pkt *p, __u32 want_ret,
		      const __u64 *want, struct flowbpf_flow *flow,
		      struct flowbpf_flow *v)
{
	int prog_fd = bpf_program__fd(e->skel->progs.flowbpf_xdp);
	struct flowbpf_stats before, after;
	struct flowbpf_key key;
	__u32 retval = 0;
	bool ok = true;

	if (!ASSERT_OK(flowbpf_stats_read(e->stats_fd, &before), "stats") ||
	    !ASSERT_OK(test_run(prog_fd, p, &retval), "test run") ||
	    !ASSERT_OK(flowbpf_stats_read(e->stats_fd, &after), "stats after"))
		return false;
	ok &= ASSERT_EQ(retval, want_ret, "return code");
	ok &= check_stats(&before, &after, want);
	ok &= ASSERT_GE(ring_buffer__consume(e->rb), 0, "consume events");
	if (!only_flow(e, &key, flow))
		return false;
	/* One entry holds the counters and the verdict. */
	*v = *flow;
	return ok;
}

static bool set_verdict(struct env *e, __u32 verdict, __u32 source)
{
	struct flowbpf_key key;

	if (!ASSERT_EQ(flow_keys(e->flows_fd, &key, 1), 1, "one flow"))
		return false;
	return ASSERT_OK(flowbpf_verdict_set(e->verdict_fd, &key, verdict,
					     source, 0),
			 "write verdict");
}

/* A SYN, then a PSH|ACK of the same flow; flags accumulate, no new flow. */
static void subtest_monitor_accumulates(struct env *e)
{
	__u64 want[FLOWBPF_STAT_MAX] = {};
	struct flowbpf_flow v;
	struct flowbpf_flow flow;
	struct pkt syn, data;
	__u64 b1, b2;

	pkt_init(&syn);
	b_v4_tcp_syn(&syn);
	pkt_init(&data);
	eth(&data, ETH_P_IP);
	ip4(&data, V4_A, V4_B);
	tcp(&data, 49152, 80, TF_PSH | TF_ACK, 100);
	finish(&data);
	b1 = ip_bytes(&syn);
	b2 = ip_bytes(&data);

	if (!env_reset(e))
		return;
	want[FLOWBPF_STAT_PACKETS] = 1;
	want[FLOWBPF_STAT_QUEUED_PASS] = 1;
	want[FLOWBPF_STAT_QUEUED_PASS_BYTES] = b1;
	want[FLOWBPF_STAT_FLOWS_CREATED] = 1;
	want[FLOWBPF_STAT_EVENTS_SENT] = 1;
	if (!run_again(e, &syn, XDP_PASS, want, &flow, &v))
		return;

	/* Still undecided (the 2 s default timeout): queued, no event. */
	want[FLOWBPF_STAT_QUEUED_PASS_BYTES] = b2;
	want[FLOWBPF_STAT_FLOWS_CREATED] = 0;
	want[FLOWBPF_STAT_EVENTS_SENT] = 0;
	if (!run_again(e, &data, XDP_PASS, want, &flow, &v))
		return;
	ASSERT_EQ(flow.packets, 2, "flow.packets");
	ASSERT_EQ(flow.bytes, b1 + b2, "flow.bytes");
	ASSERT_EQ(flow.tcp_flags, TF_SYN | TF_PSH | TF_ACK, "flow.tcp_flags");
	ASSERT_GE((__s32)(flow.last - flow.first), 0, "flow.last");
	ASSERT_EQ(v.verdict, FLOWBPF_VERDICT_QUEUED, "verdict");
	ASSERT_EQ(e->sink.n, 1, "events in all");
}

/* Monitor mode never drops: a DROP verdict only counts would-drops. */
static void subtest_monitor_drop_verdict(struct env *e)
{
	__u64 want[FLOWBPF_STAT_MAX] = {};
	struct flowbpf_flow v;
	struct flowbpf_flow flow;
	struct pkt p;
	__u64 bytes;

	pkt_init(&p);
	b_v6_udp(&p);
	bytes = ip_bytes(&p);
	if (!env_reset(e))
		return;
	want[FLOWBPF_STAT_PACKETS] = 1;
	want[FLOWBPF_STAT_QUEUED_PASS] = 1;
	want[FLOWBPF_STAT_QUEUED_PASS_BYTES] = bytes;
	want[FLOWBPF_STAT_FLOWS_CREATED] = 1;
	want[FLOWBPF_STAT_EVENTS_SENT] = 1;
	if (!run_again(e, &p, XDP_PASS, want, &flow, &v) ||
	    !set_verdict(e, FLOWBPF_VERDICT_DROP, FLOWBPF_SRC_MANUAL))
		return;

	memset(want, 0, sizeof(want));
	want[FLOWBPF_STAT_PACKETS] = 1;
	want[FLOWBPF_STAT_WOULD_DROP] = 1;
	want[FLOWBPF_STAT_WOULD_DROP_BYTES] = bytes;
	if (!run_again(e, &p, XDP_PASS, want, &flow, &v))
		return;
	ASSERT_EQ(v.verdict, FLOWBPF_VERDICT_DROP, "verdict kept");
	ASSERT_EQ(v.source, FLOWBPF_SRC_MANUAL, "source kept");
	ASSERT_EQ(flow.packets, 2, "flow.packets");
}

static void subtest_enforce_decisions(struct env *e)
{
	__u64 want[FLOWBPF_STAT_MAX] = {};
	struct flowbpf_flow v;
	struct flowbpf_flow flow;
	__u64 bytes, runs = 1, t_first;
	bool repeat_checked = false;
	struct pkt p;

	pkt_init(&p);
	b_v4_tcp_syn(&p);
	bytes = ip_bytes(&p);
	if (!env_reset(e))
		return;

	/* First packet: recorded QUEUED, announced, held (pending DROP). */
	want[FLOWBPF_STAT_PACKETS] = 1;
	want[FLOWBPF_STAT_QUEUED_DROP] = 1;
	want[FLOWBPF_STAT_QUEUED_DROP_BYTES] = bytes;
	want[FLOWBPF_STAT_FLOWS_CREATED] = 1;
	want[FLOWBPF_STAT_EVENTS_SENT] = 1;
	t_first = mono_now_ns();
	if (!run_again(e, &p, XDP_DROP, want, &flow, &v))
		return;
	ASSERT_EQ(v.verdict, FLOWBPF_VERDICT_QUEUED, "first: verdict");
	ASSERT_EQ(v.source, FLOWBPF_SRC_KERNEL, "first: source");
	ASSERT_EQ(v.set, flow.first, "first: set");
	ASSERT_EQ(e->sink.n, 1, "first: event");

	/* Before the timeout a repeat is still queued, and not announced
	 * again.  Only checkable if this run was quick enough. */
	memset(want, 0, sizeof(want));
	want[FLOWBPF_STAT_PACKETS] = 1;
	want[FLOWBPF_STAT_QUEUED_DROP] = 1;
	want[FLOWBPF_STAT_QUEUED_DROP_BYTES] = bytes;
	if (mono_now_ns() - t_first < ENFORCE_TIMEOUT_NS / 2) {
		if (!run_again(e, &p, XDP_DROP, want, &flow, &v))
			return;
		runs++;
		if (mono_now_ns() - t_first < ENFORCE_TIMEOUT_NS) {
			ASSERT_EQ(v.verdict, FLOWBPF_VERDICT_QUEUED,
				  "repeat: verdict");
			ASSERT_EQ(e->sink.n, 1, "repeat: no new event");
			repeat_checked = true;
		}
	}
	/* Not a failure, but not silent either (slow machines, TCG). */
	if (!repeat_checked)
		fprintf(stderr,
			"%s:%d: note: repeat before the timeout not checked: this machine took over %llu ms\n",
			__FILE__, __LINE__, ENFORCE_TIMEOUT_NS / 2000000);

	if (!set_verdict(e, FLOWBPF_VERDICT_PASS, FLOWBPF_SRC_DAEMON))
		return;
	memset(want, 0, sizeof(want));
	want[FLOWBPF_STAT_PACKETS] = 1;
	want[FLOWBPF_STAT_PASS] = 1;
	want[FLOWBPF_STAT_PASS_BYTES] = bytes;
	if (!run_again(e, &p, XDP_PASS, want, &flow, &v))
		return;
	ASSERT_EQ(v.verdict, FLOWBPF_VERDICT_PASS, "pass: verdict kept");
	ASSERT_EQ(v.source, FLOWBPF_SRC_DAEMON, "pass: source kept");
	runs++;

	if (!set_verdict(e, FLOWBPF_VERDICT_DROP, FLOWBPF_SRC_MANUAL))
		return;
	memset(want, 0, sizeof(want));
	want[FLOWBPF_STAT_PACKETS] = 1;
	want[FLOWBPF_STAT_DROP] = 1;
	want[FLOWBPF_STAT_DROP_BYTES] = bytes;
	if (!run_again(e, &p, XDP_DROP, want, &flow, &v))
		return;
	ASSERT_EQ(v.verdict, FLOWBPF_VERDICT_DROP, "drop: verdict kept");
	ASSERT_EQ(v.source, FLOWBPF_SRC_MANUAL, "drop: source kept");
	/* Dropped or not, every packet is accounted to its flow. */
	runs++;
	ASSERT_EQ(flow.packets, runs, "flow.packets");
	ASSERT_EQ(flow.bytes, runs * bytes, "flow.bytes");
	ASSERT_EQ(e->sink.n, 1, "events in all");
}

static void subtest_enforce_timeout(struct env *e)
{
	__u64 want[FLOWBPF_STAT_MAX] = {};
	struct flowbpf_flow v;
	struct flowbpf_flow flow;
	struct timespec nap = { 0, 2 * ENFORCE_TIMEOUT_NS };
	__u64 queued_ns, bytes;
	struct pkt p;

	pkt_init(&p);
	b_v6_tcp_syn(&p);
	bytes = ip_bytes(&p);
	if (!env_reset(e))
		return;

	want[FLOWBPF_STAT_PACKETS] = 1;
	want[FLOWBPF_STAT_QUEUED_DROP] = 1;
	want[FLOWBPF_STAT_QUEUED_DROP_BYTES] = bytes;
	want[FLOWBPF_STAT_FLOWS_CREATED] = 1;
	want[FLOWBPF_STAT_EVENTS_SENT] = 1;
	queued_ns = mono_now_ns();
	if (!run_again(e, &p, XDP_DROP, want, &flow, &v))
		return;
	/* The datapath's clock of later packets lags by up to a jiffy
	 * (10 ms at HZ=100), and ticks round: wait for both. */
	while (mono_now_ns() - queued_ns <= ENFORCE_TIMEOUT_NS + 12000000ULL)
		nanosleep(&nap, NULL);

	/* Nobody decided in time: the default (PASS) applies, once. */
	memset(want, 0, sizeof(want));
	want[FLOWBPF_STAT_PACKETS] = 1;
	want[FLOWBPF_STAT_PASS] = 1;
	want[FLOWBPF_STAT_PASS_BYTES] = bytes;
	want[FLOWBPF_STAT_DEFAULT_APPLIED] = 1;
	if (!run_again(e, &p, XDP_PASS, want, &flow, &v))
		return;
	ASSERT_EQ(v.verdict, FLOWBPF_VERDICT_PASS, "timeout: verdict");
	ASSERT_EQ(v.source, FLOWBPF_SRC_TIMEOUT, "timeout: source");
	ASSERT_GE(v.set - flow.first, tick_of(ENFORCE_TIMEOUT_NS),
		  "timeout: set");
	ASSERT_EQ(v.set, flow.last, "timeout: stamped by that packet");

	want[FLOWBPF_STAT_DEFAULT_APPLIED] = 0;
	if (!run_again(e, &p, XDP_PASS, want, &flow, &v))
		return;
	ASSERT_EQ(v.source, FLOWBPF_SRC_TIMEOUT, "after: source");
	ASSERT_EQ(flow.packets, 3, "flow.packets");
}

void test_parser(void)
{
	struct env mon = {}, enf = {};
	bool enf_ok = false, enf_tried = false;
	char name[128];
	size_t i;

	if (env_setup(&mon, FLOWBPF_MODE_MONITOR, FLOWBPF_VERDICT_PASS,
		      FLOWBPF_VERDICT_PASS, FLOWBPF_DEFAULT_TIMEOUT_NS))
		goto out;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (test__start_subtest(cases[i].name))
			run_case(&mon, &cases[i], false);
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!cases[i].tc)
			continue;
		snprintf(name, sizeof(name), "tc_egress_%s", cases[i].name);
		if (test__start_subtest(name))
			run_case(&mon, &cases[i], true);
	}
	if (test__start_subtest("monitor_flow_accumulates"))
		subtest_monitor_accumulates(&mon);
	if (test__start_subtest("monitor_drop_verdict_would_drop"))
		subtest_monitor_drop_verdict(&mon);

	/* Loaded by whichever enforce subtest runs first, so that a
	 * filtered run loads it only when needed. */
	if (test__start_subtest("enforce_pending_drop_then_verdicts")) {
		enf_ok = !env_setup(&enf, FLOWBPF_MODE_ENFORCE,
				    FLOWBPF_VERDICT_DROP, FLOWBPF_VERDICT_PASS,
				    ENFORCE_TIMEOUT_NS);
		enf_tried = true;
		if (enf_ok)
			subtest_enforce_decisions(&enf);
	}
	if (test__start_subtest("enforce_timeout_applies_default")) {
		if (!enf_tried)
			enf_ok = !env_setup(&enf, FLOWBPF_MODE_ENFORCE,
					    FLOWBPF_VERDICT_DROP,
					    FLOWBPF_VERDICT_PASS,
					    ENFORCE_TIMEOUT_NS);
		if (enf_ok)
			subtest_enforce_timeout(&enf);
		else if (enf_tried)
			ASSERT_TRUE(enf_ok, "enforce skeleton loaded");
	}
out:
	env_teardown(&enf);
	env_teardown(&mon);
}

/*
 * An IP frame the parser cannot read to the end of its key, run through
 * an enforce-mode program: dropped (and counted as such) unless the
 * attach said --malformed pass.  Non-IP frames pass either way.
 */
static void run_malformed(struct env *e, const struct parser_case *c,
			  bool via_tc, bool drop)
{
	struct bpf_program *prog = via_tc ? e->skel->progs.flowbpf_tc_egress
					  : e->skel->progs.flowbpf_xdp;
	struct flowbpf_stats before, after;
	__u64 want[FLOWBPF_STAT_MAX] = {};
	__u32 retval = 0, want_ret;
	struct pkt p;

	drop &= c->err != FLOWBPF_STAT_NON_IP;
	want_ret = via_tc ? (drop ? TC_ACT_SHOT : TC_ACT_UNSPEC)
			  : (drop ? XDP_DROP : XDP_PASS);
	pkt_init(&p);
	c->build(&p);
	if (!env_reset(e) ||
	    !ASSERT_OK(flowbpf_stats_read(e->stats_fd, &before), "stats") ||
	    !ASSERT_OK(test_run(bpf_program__fd(prog), &p, &retval),
		       "test run") ||
	    !ASSERT_OK(flowbpf_stats_read(e->stats_fd, &after), "stats after"))
		return;
	ASSERT_EQ(retval, want_ret, drop ? "dropped" : "passed");
	want[FLOWBPF_STAT_PACKETS] = 1;
	want[c->err] = 1;
	want[FLOWBPF_STAT_MALFORMED_DROP] = drop;
	check_stats(&before, &after, want);
	ASSERT_EQ(flow_keys(e->flows_fd, NULL, 0), 0, "no flow");
	ASSERT_EQ(ring_buffer__consume(e->rb), 0, "no event");
}

static void malformed_cases(struct env *e, const char *prefix, bool drop)
{
	char name[128];
	size_t i;
	int tc;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!cases[i].err || cases[i].einval)
			continue;
		for (tc = 0; tc <= cases[i].tc; tc++) {
			snprintf(name, sizeof(name), "%s%s_%s", prefix,
				 tc ? "_tc_egress" : "", cases[i].name);
			if (test__start_subtest(name))
				run_malformed(e, &cases[i], tc, drop);
		}
	}
}

/* Enforce mode drops what it cannot judge, by default; --malformed pass
 * lets it through, counted as before. */
void test_malformed(void)
{
	struct flowbpf_attach_opts o;
	struct env e = {};

	flowbpf_attach_opts_init(&o);
	o.mode = FLOWBPF_MODE_ENFORCE;
	o.pending = FLOWBPF_PENDING_DROP;
	if (!env_setup_opts(&e, &o))
		malformed_cases(&e, "enforce_drop", true);
	env_teardown(&e);
	o.malformed = FLOWBPF_VERDICT_PASS;
	if (!env_setup_opts(&e, &o))
		malformed_cases(&e, "enforce_pass", false);
	env_teardown(&e);
}
