/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Packet parser shared by the XDP and tc programs.
 *
 * Two paths give the same answer: parse_fast reads the common layouts
 * straight from the packet, each read after a bounds check against
 * data_end; parse_slow reads everything else through the load helpers.
 * Past L3 both check against the end of the IP packet too (for meaning:
 * an L4 header that spills into Ethernet padding is truncated, not valid).
 */
#ifndef FLOWBPF_PARSE_BPF_H
#define FLOWBPF_PARSE_BPF_H

#include "flowbpf.h"

#define ETH_HLEN 14
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_PPP_SES 0x8864
#define ETH_P_MPLS_UC 0x8847
#define ETH_P_MPLS_MC 0x8848
#define ETH_P_TEB 0x6558 /* Ethernet inside GRE or GENEVE */
#define PPP_IP 0x0021
#define PPP_IPV6 0x0057

#define IPPROTO_HOPOPTS 0
#define IPPROTO_ICMP 1
#define IPPROTO_IPIP 4
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_DCCP 33
#define IPPROTO_IPV6 41
#define IPPROTO_ROUTING 43
#define IPPROTO_GRE 47
#define IPPROTO_FRAGMENT 44
#define IPPROTO_AH 51
#define IPPROTO_ICMPV6 58
#define IPPROTO_DSTOPTS 60
#define IPPROTO_SCTP 132
#define IPPROTO_UDPLITE 136

#define IP_MF 0x2000
#define IP_OFFMASK 0x1fff

struct vlan_tag {
	__be16 tci;
	__be16 proto;
};

/* What the parser learnt beyond the key. */
struct pkt_meta {
	__u32 ip_len; /* IP-layer bytes of this packet */
	__u32 hdr_len; /* L3+L4 header bytes, to count GSO segments */
	__u32 l4_off; /* where the L4 header starts (slow path only) */
	__u8 tcp_flags;
	__u8 frag; /* 0, FRAG_FIRST or FRAG_LATER */
	__u8 tos; /* IPv4 TOS, IPv6 traffic class */
};

/* The traffic class straddles the version and flow label nibbles. */
static __always_inline __u8 ipv6_tclass(const struct ipv6hdr *ip6)
{
	return ip6->priority << 4 | ip6->flow_lbl[0] >> 4;
}

enum { FRAG_NONE = 0, FRAG_FIRST = 1, FRAG_LATER = 2 };

/* parse_packet's hw_vlan: the VLAN TCI the stack holds out of band. */
#define HW_VLAN_PRESENT (1U << 16)

/*
 * Reads len bytes at a variable offset through the helper rather than a
 * packet pointer: the verifier then need not track every offset the
 * IPv6 extension walk and IPv4 options can produce, which would multiply
 * its states by the number of VLAN/option/extension combinations.  It
 * also reaches paged skb data.  len must be a constant at each call.
 */
static __always_inline int pkt_load(void *ctx, bool xdp, __u32 off, void *buf,
				    __u32 len)
{
	return xdp ? bpf_xdp_load_bytes(ctx, off, buf, len)
		   : bpf_skb_load_bytes(ctx, off, buf, len);
}

/* Ports (or ICMP type/code) from the L4 header at off.  Returns 0 or a stat. */
static __always_inline int parse_l4(void *ctx, bool xdp, __u32 off,
				    __u32 ip_end, struct flowbpf_key *k,
				    struct pkt_meta *m)
{
	__u8 h[14];
	__u32 need;

	switch (k->proto) {
	case IPPROTO_TCP:
		need = 20;
		break;
	case IPPROTO_UDP:
	case IPPROTO_UDPLITE:
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		need = 8;
		break;
	case IPPROTO_SCTP:
	case IPPROTO_DCCP:
		need = 12;
		break;
	default:
		/* Accounted by protocol number alone. */
		return 0;
	}
	m->hdr_len = need;

	/*
	 * A first fragment may be cut anywhere past the ports (RFC 1858
	 * only forbids it for TCP's flags); it still names the flow.
	 */
	if (m->frag == FRAG_FIRST)
		need = 4;
	/* The header must lie inside the IP packet, not in padding. */
	if (off + need > ip_end)
		return FLOWBPF_STAT_ERR_L4_TRUNC;

	if (k->proto == IPPROTO_TCP && off + 20 <= ip_end) {
		if (pkt_load(ctx, xdp, off, h, 14))
			return FLOWBPF_STAT_ERR_L4_TRUNC;
		m->tcp_flags = h[13];
		m->hdr_len = (h[12] >> 4) * 4;
	} else if (pkt_load(ctx, xdp, off, h, 4)) {
		return FLOWBPF_STAT_ERR_L4_TRUNC;
	}

	if (flowbpf_proto_is_icmp(k->proto)) {
		k->sport = 0;
		k->dport = bpf_htons(((__u16)h[0] << 8) | h[1]);
		return 0;
	}
	__builtin_memcpy(&k->sport, h, 2);
	__builtin_memcpy(&k->dport, h + 2, 2);
	return 0;
}

/* The key's family, protocol and IPv4-mapped addresses (maps/flowbpf.h). */
static __always_inline void key_ipv4(struct flowbpf_key *k,
				     const struct iphdr *ip)
{
	k->family = 4;
	k->proto = ip->protocol;
	k->saddr[2] = bpf_htonl(0xffff);
	k->saddr[3] = ip->saddr;
	k->daddr[2] = bpf_htonl(0xffff);
	k->daddr[3] = ip->daddr;
}

static __always_inline int parse_ipv4(void *ctx, bool xdp, __u32 off,
				      __u32 frame_len, struct flowbpf_key *k,
				      struct pkt_meta *m)
{
	struct iphdr iph, *ip = &iph;
	__u32 ihl, tot, ip_end;
	__u16 frag;

	if (pkt_load(ctx, xdp, off, ip, sizeof(*ip)))
		return FLOWBPF_STAT_ERR_L3_TRUNC;
	if (ip->version != 4)
		return FLOWBPF_STAT_ERR_IP_VERSION;
	ihl = ip->ihl * 4;
	if (ihl < 20)
		return FLOWBPF_STAT_ERR_BAD_IHL;
	if (off + ihl > frame_len)
		return FLOWBPF_STAT_ERR_L3_TRUNC;
	tot = bpf_ntohs(ip->tot_len);
	/* 0 is legal only for a BIG TCP super-packet (longer than 64 KiB,
	 * tc only): it is as long as the skb.  Anywhere else it is bogus. */
	if (tot == 0 && frame_len - off > 0xffff)
		tot = frame_len - off;
	if (tot < ihl || off + tot > frame_len)
		return FLOWBPF_STAT_ERR_IP_LEN;

	key_ipv4(k, ip);
	m->ip_len = tot;
	m->tos = ip->tos;
	ip_end = off + tot;

	frag = bpf_ntohs(ip->frag_off);
	if (frag & IP_OFFMASK) {
		/* No L4 header here: the flow is the protocol, without ports. */
		m->frag = FRAG_LATER;
		m->hdr_len = ihl;
		return 0;
	}
	if (frag & IP_MF)
		m->frag = FRAG_FIRST;

	m->l4_off = off + ihl;
	{
		int err = parse_l4(ctx, xdp, off + ihl, ip_end, k, m);

		m->hdr_len += ihl;
		return err;
	}
}

static __always_inline bool is_v6_ext(__u8 nexthdr)
{
	return nexthdr == IPPROTO_HOPOPTS || nexthdr == IPPROTO_ROUTING ||
	       nexthdr == IPPROTO_DSTOPTS || nexthdr == IPPROTO_FRAGMENT ||
	       nexthdr == IPPROTO_AH;
}

static __always_inline int parse_ipv6(void *ctx, bool xdp, __u32 off,
				      __u32 frame_len, struct flowbpf_key *k,
				      struct pkt_meta *m)
{
	struct ipv6hdr ip6h, *ip6 = &ip6h;
	__u32 plen, ip_end, l4off;
	__u8 nexthdr;
	int i, err;

	if (pkt_load(ctx, xdp, off, ip6, sizeof(*ip6)))
		return FLOWBPF_STAT_ERR_L3_TRUNC;
	if (ip6->version != 6)
		return FLOWBPF_STAT_ERR_IP_VERSION;
	plen = bpf_ntohs(ip6->payload_len);
	/* 0 with more than 64 KiB behind it: a BIG TCP super-packet (tc
	 * only), as long as the skb.  Otherwise it means no payload. */
	if (plen == 0 && frame_len - off - 40 > 0xffff)
		plen = frame_len - off - 40;
	if (off + 40 + plen > frame_len)
		return FLOWBPF_STAT_ERR_IP_LEN;

	k->family = 6;
	__builtin_memcpy(k->saddr, &ip6->saddr, 16);
	__builtin_memcpy(k->daddr, &ip6->daddr, 16);
	m->ip_len = plen + 40;
	m->tos = ipv6_tclass(ip6);
	ip_end = off + 40 + plen;
	nexthdr = ip6->nexthdr;
	l4off = off + 40;

	for (i = 0; i < FLOWBPF_V6_EXT_MAX; i++) {
		__u8 eh[4];

		if (!is_v6_ext(nexthdr))
			break;
		/* Every extension header is at least 8 bytes long. */
		if (l4off + 8 > ip_end || pkt_load(ctx, xdp, l4off, eh, 4))
			return FLOWBPF_STAT_ERR_L3_TRUNC;
		if (nexthdr == IPPROTO_FRAGMENT) {
			__u16 fo = ((__u16)eh[2] << 8) | eh[3];

			nexthdr = eh[0];
			l4off += 8;
			if (fo & 0xfff8) {
				k->proto = nexthdr;
				m->frag = FRAG_LATER;
				m->hdr_len = l4off - off;
				return 0;
			}
			if (fo & 1)
				m->frag = FRAG_FIRST;
			continue;
		}
		if (nexthdr == IPPROTO_AH)
			l4off += ((__u32)eh[1] + 2) * 4;
		else
			l4off += ((__u32)eh[1] + 1) * 8;
		nexthdr = eh[0];
	}
	if (is_v6_ext(nexthdr))
		return FLOWBPF_STAT_ERR_V6_CHAIN;
	if (l4off > ip_end)
		return FLOWBPF_STAT_ERR_L3_TRUNC;

	k->proto = nexthdr;
	m->l4_off = l4off;
	err = parse_l4(ctx, xdp, l4off, ip_end, k, m);
	m->hdr_len += l4off - off;
	return err;
}

/* The ethertype of the IP packet at off, by its version nibble (an L3
 * device's frames and an MPLS payload carry no other hint), or 0. */
static __always_inline __u16 ip_by_version(void *ctx, bool xdp, __u32 off)
{
	__u8 v;

	if (pkt_load(ctx, xdp, off, &v, 1))
		return 0;
	return v >> 4 == 4 ? ETH_P_IP : v >> 4 == 6 ? ETH_P_IPV6 : 0;
}

/* Ethernet and up to two VLAN tags: the ethertype after them at *off. */
static __always_inline int parse_l2(void *ctx, bool xdp, __u32 hw_vlan,
				    struct flowbpf_key *k, __u32 *off,
				    __u16 *protop)
{
	__be16 h_proto;
	__u16 proto;
	int i, tags = 0;

	if (pkt_load(ctx, xdp, 12, &h_proto, 2))
		return FLOWBPF_STAT_ERR_L2_TRUNC;
	proto = bpf_ntohs(h_proto);
	/* An outer tag the stack keeps out of band (skb->vlan_tci) comes first. */
	if (hw_vlan & HW_VLAN_PRESENT) {
		k->vlan = hw_vlan & 0x0fff;
		tags = 1;
	}

#pragma unroll
	for (i = 0; i < 2; i++) {
		struct vlan_tag tag;

		if (!flowbpf_eth_is_vlan(proto) || tags >= 2)
			break;
		if (pkt_load(ctx, xdp, *off, &tag, sizeof(tag)))
			return FLOWBPF_STAT_ERR_L2_TRUNC;
		if (tags == 0)
			k->vlan = bpf_ntohs(tag.tci) & 0x0fff;
		else
			k->inner_vlan = bpf_ntohs(tag.tci) & 0x0fff;
		tags++;
		proto = bpf_ntohs(tag.proto);
		*off += sizeof(tag);
	}
	if (flowbpf_eth_is_vlan(proto))
		return FLOWBPF_STAT_ERR_VLAN_DEPTH;
	*protop = proto;
	return 0;
}

/*
 * A PPPoE session header or an MPLS label stack at *off: the IP packet
 * behind it (*proto 0 when it carries something else), with the session
 * id or the top label as the key's tunnel context.
 */
static __always_inline int parse_shim(void *ctx, bool xdp, __u32 *off,
				      __u16 *proto, struct flowbpf_key *k)
{
	__u8 h[8];
	int i;

	if (*proto == ETH_P_PPP_SES) {
		__u16 ppp;

		/* Version 1, type 1, code 0: session data. */
		if (pkt_load(ctx, xdp, *off, h, 8) || h[0] != 0x11 || h[1])
			return FLOWBPF_STAT_ERR_TUNNEL;
		k->tun_type = FLOWBPF_TUN_PPPOE;
		k->tun_id = (__u32)h[2] << 8 | h[3];
		ppp = (__u16)h[6] << 8 | h[7];
		*off += 8;
		*proto = ppp == PPP_IP ? ETH_P_IP : ppp == PPP_IPV6 ? ETH_P_IPV6 : 0;
		return 0;
	}
	for (i = 0; i < FLOWBPF_MPLS_MAX; i++) {
		if (pkt_load(ctx, xdp, *off, h, 4))
			return FLOWBPF_STAT_ERR_TUNNEL;
		if (i == 0) {
			k->tun_type = FLOWBPF_TUN_MPLS;
			k->tun_id = (__u32)h[0] << 12 | (__u32)h[1] << 4 |
				    h[2] >> 4;
		}
		*off += 4;
		if (h[2] & 1) /* bottom of stack */
			break;
	}
	/* Truncated past the stack: no payload to tell the type by. */
	if (i == FLOWBPF_MPLS_MAX || pkt_load(ctx, xdp, *off, h, 1))
		return FLOWBPF_STAT_ERR_TUNNEL;
	*proto = h[0] >> 4 == 4 ? ETH_P_IP : h[0] >> 4 == 6 ? ETH_P_IPV6 : 0;
	return 0;
}

static __always_inline int parse_ip(void *ctx, bool xdp, __u16 proto,
				    __u32 off, __u32 end, struct flowbpf_key *k,
				    struct pkt_meta *m)
{
	if (proto == ETH_P_IP)
		return parse_ipv4(ctx, xdp, off, end, k, m);
	if (proto == ETH_P_IPV6)
		return parse_ipv6(ctx, xdp, off, end, k, m);
	return FLOWBPF_STAT_NON_IP;
}

/* tunnel_next: the outer packet is not a tunnel the parser opens. */
#define TUN_OUTER (-1)

/* Inner Ethernet at *off (VLAN tags skipped): the ethertype behind it. */
static __always_inline int tunnel_eth(void *ctx, bool xdp, __u32 *off,
				      __u32 end, __u16 *proto)
{
	struct vlan_tag tag;
	__be16 p;
	int i;

	if (*off + ETH_HLEN > end || pkt_load(ctx, xdp, *off + 12, &p, 2))
		return FLOWBPF_STAT_ERR_TUNNEL;
	*off += ETH_HLEN;
	*proto = bpf_ntohs(p);
#pragma unroll
	for (i = 0; i < 2; i++) {
		if (!flowbpf_eth_is_vlan(*proto))
			break;
		if (pkt_load(ctx, xdp, *off, &tag, sizeof(tag)))
			return FLOWBPF_STAT_ERR_TUNNEL;
		*proto = bpf_ntohs(tag.proto);
		*off += sizeof(tag);
	}
	return 0;
}

/* GRE (RFC 2784/2890) at *off: the key as context, the payload's type. */
static __always_inline int tunnel_gre(void *ctx, bool xdp, __u32 *off,
				      __u32 end, __u16 *proto, __u32 *id)
{
	__u8 h[4];
	__u16 fl;

	if (*off + 4 > end || pkt_load(ctx, xdp, *off, h, 4))
		return FLOWBPF_STAT_ERR_TUNNEL;
	fl = (__u16)h[0] << 8 | h[1];
	/* Version 1 is PPTP's, carrying PPP: counted as the outer flow. */
	if ((fl & 7) == 1)
		return TUN_OUTER;
	/* Other versions and source routing (RFC 1701) are not GRE today. */
	if ((fl & 7) || (fl & 0x4000))
		return FLOWBPF_STAT_ERR_TUNNEL;
	*proto = (__u16)h[2] << 8 | h[3];
	*off += 4;
	if (fl & 0x8000) /* checksum and reserved */
		*off += 4;
	if (fl & 0x2000) {
		__be32 key;

		if (pkt_load(ctx, xdp, *off, &key, 4))
			return FLOWBPF_STAT_ERR_TUNNEL;
		*id = bpf_ntohl(key);
		*off += 4;
	}
	if (fl & 0x1000) /* sequence number */
		*off += 4;
	if (*off > end)
		return FLOWBPF_STAT_ERR_TUNNEL;
	return 0;
}

/* VXLAN (RFC 7348) or GENEVE (RFC 8926) after the UDP header at *off. */
static __always_inline int tunnel_udp(void *ctx, bool xdp, __u32 *off,
				      __u32 end, __u16 dport, __u16 *proto,
				      __u8 *type, __u32 *id)
{
	__u8 h[8];

	if (dport != FLOWBPF_VXLAN_PORT && dport != FLOWBPF_GENEVE_PORT)
		return TUN_OUTER;
	*off += 8;
	if (*off + 8 > end || pkt_load(ctx, xdp, *off, h, 8))
		return FLOWBPF_STAT_ERR_TUNNEL;
	*id = (__u32)h[4] << 16 | (__u32)h[5] << 8 | h[6];
	if (dport == FLOWBPF_VXLAN_PORT) {
		/* The I flag says the VNI is valid. */
		if (!(h[0] & 0x08))
			return FLOWBPF_STAT_ERR_TUNNEL;
		*type = FLOWBPF_TUN_VXLAN;
		*proto = ETH_P_TEB;
		*off += 8;
		return 0;
	}
	if (h[0] >> 6) /* version 0 only */
		return FLOWBPF_STAT_ERR_TUNNEL;
	*type = FLOWBPF_TUN_GENEVE;
	*proto = (__u16)h[2] << 8 | h[3];
	/* Options, skipped: their length in 4-byte words. */
	*off += 8 + (h[0] & 0x3f) * 4;
	if (*off > end)
		return FLOWBPF_STAT_ERR_TUNNEL;
	return 0;
}

/*
 * Where the IP packet an IP tunnel carries starts (*off) and its
 * ethertype, with the tunnel's type and id.  TUN_OUTER when the packet is
 * not one, or carries anything but IP (ARP over VXLAN, PPP over GRE): it
 * is then its outer flow.  Else 0 or an error stat.
 */
static __always_inline int tunnel_next(void *ctx, bool xdp,
				       const struct flowbpf_key *k,
				       const struct pkt_meta *m, __u32 end,
				       __u32 *off, __u16 *proto, __u8 *type,
				       __u32 *id)
{
	int err;

	/* A fragment's payload is not all there. */
	if (m->frag)
		return TUN_OUTER;
	*off = m->l4_off;
	*id = 0;
	switch (k->proto) {
	case IPPROTO_IPIP:
		*proto = ETH_P_IP;
		*type = k->family == 4 ? FLOWBPF_TUN_IPIP : FLOWBPF_TUN_IP6;
		return 0;
	case IPPROTO_IPV6:
		*proto = ETH_P_IPV6;
		*type = k->family == 4 ? FLOWBPF_TUN_SIT : FLOWBPF_TUN_IP6;
		return 0;
	case IPPROTO_GRE:
		*type = FLOWBPF_TUN_GRE;
		err = tunnel_gre(ctx, xdp, off, end, proto, id);
		break;
	case IPPROTO_UDP:
		err = tunnel_udp(ctx, xdp, off, end, bpf_ntohs(k->dport), proto,
				 type, id);
		break;
	default:
		return TUN_OUTER;
	}
	if (err)
		return err;
	if (*proto == ETH_P_TEB) {
		err = tunnel_eth(ctx, xdp, off, end, proto);
		if (err)
			return err;
	}
	if (*proto != ETH_P_IP && *proto != ETH_P_IPV6)
		return TUN_OUTER;
	return 0;
}

/* The outer packet of an opened tunnel is left for its inner one; its
 * endpoints go to the scratch map, for flow_create. */
static __always_inline void tunnel_enter(struct flowbpf_key *k,
					 struct pkt_meta *m, __u8 type, __u32 id)
{
	struct flowbpf_tunnel *t;
	__u16 vlan = k->vlan, ivlan = k->inner_vlan;
	__u32 zero = 0;

	t = bpf_map_lookup_elem(&tun_scratch, &zero);
	if (t) {
		t->family = k->family;
		__builtin_memcpy(t->saddr, k->saddr, 16);
		__builtin_memcpy(t->daddr, k->daddr, 16);
	}
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memset(m, 0, sizeof(*m));
	k->vlan = vlan;
	k->inner_vlan = ivlan;
	k->tun_type = type;
	k->tun_id = id;
}

/*
 * Every layout, through the load helpers: VLAN stacks, PPPoE and MPLS,
 * IPv4 options and fragments, IPv6 extension headers, any L4 protocol,
 * the inner packet of an IP tunnel (FLOWBPF_CFG_DECAP_INNER), frames of
 * an L3 device (FLOWBPF_CFG_L3), headers outside the linear data of an
 * skb, and every malformed frame with its error stat.  One tunnel is
 * opened, the outermost: what it carries is the flow.
 */
static __always_inline int parse_slow(void *ctx, bool xdp, __u32 frame_len,
				      __u32 hw_vlan, __u32 flags,
				      struct flowbpf_key *k, struct pkt_meta *m)
{
	__u32 off = ETH_HLEN, ip_off, end, id;
	__u16 proto = 0;
	__u8 type = 0;
	int err;

	if (flags & FLOWBPF_CFG_L3) {
		off = 0;
		proto = ip_by_version(ctx, xdp, 0);
		if (!proto)
			return FLOWBPF_STAT_ERR_IP_VERSION;
	} else {
		err = parse_l2(ctx, xdp, hw_vlan, k, &off, &proto);
		if (err)
			return err;
	}
	if (proto == ETH_P_PPP_SES || proto == ETH_P_MPLS_UC ||
	    proto == ETH_P_MPLS_MC) {
		err = parse_shim(ctx, xdp, &off, &proto, k);
		if (err)
			return err;
	}
	ip_off = off;
	err = parse_ip(ctx, xdp, proto, off, frame_len, k, m);
	if (err || !(flags & FLOWBPF_CFG_DECAP_INNER))
		return err;

	end = ip_off + m->ip_len;
	err = tunnel_next(ctx, xdp, k, m, end, &off, &proto, &type, &id);
	if (err == TUN_OUTER)
		return 0;
	if (err)
		return err;
	tunnel_enter(k, m, type, id);
	return parse_ip(ctx, xdp, proto, off, end, k, m);
}

/* parse_fast: not a layout it reads; parse_slow decides. */
#define PARSE_MISS (-1)

/*
 * TCP, UDP, ICMP or ICMPv6 at l4 (inside the linear data, checked by the
 * caller up to l4 + 8), the same key and meta parse_l4 gives.
 */
static __always_inline int fast_l4(__u8 *l4, void *data_end, __u32 room,
				   bool decap, struct flowbpf_key *k,
				   struct pkt_meta *m)
{
	if (k->proto == IPPROTO_TCP) {
		if (room < 20 || (void *)(l4 + 20) > data_end)
			return PARSE_MISS;
		m->tcp_flags = l4[13];
		m->hdr_len = (l4[12] >> 4) * 4;
	} else if (k->proto == IPPROTO_UDP || k->proto == IPPROTO_ICMP ||
		   k->proto == IPPROTO_ICMPV6) {
		if (room < 8)
			return PARSE_MISS;
		m->hdr_len = 8;
	} else {
		return PARSE_MISS;
	}
	if (flowbpf_proto_is_icmp(k->proto)) {
		/* type << 8 | code in network order: the header's first bytes. */
		k->sport = 0;
		__builtin_memcpy(&k->dport, l4, 2);
		return 0;
	}
	__builtin_memcpy(&k->sport, l4, 4);
	/* A UDP tunnel to open: the slow path's (a constant test when
	 * tunnels are not opened, which the verifier removes). */
	if (decap && k->proto == IPPROTO_UDP &&
	    (k->dport == bpf_htons(FLOWBPF_VXLAN_PORT) ||
	     k->dport == bpf_htons(FLOWBPF_GENEVE_PORT)))
		return PARSE_MISS;
	return 0;
}

/* The Ethernet header and up to two VLAN tags, read straight: the
 * ethertype behind them and its offset, or PARSE_MISS. */
static __always_inline int fast_l2(void *data, void *data_end, __u32 hw_vlan,
				   struct flowbpf_key *k, __u32 *offp,
				   __u16 *protop)
{
	struct ethhdr *eth = data;
	struct vlan_tag *tag;
	__u32 off = ETH_HLEN;
	__u16 proto;

	if ((void *)(eth + 1) > data_end)
		return PARSE_MISS;
	proto = bpf_ntohs(eth->h_proto);
	if (hw_vlan & HW_VLAN_PRESENT)
		k->vlan = hw_vlan & 0x0fff;
	if (flowbpf_eth_is_vlan(proto)) {
		tag = data + off;
		if ((void *)(tag + 1) > data_end)
			return PARSE_MISS;
		if (hw_vlan & HW_VLAN_PRESENT)
			k->inner_vlan = bpf_ntohs(tag->tci) & 0x0fff;
		else
			k->vlan = bpf_ntohs(tag->tci) & 0x0fff;
		proto = bpf_ntohs(tag->proto);
		off += sizeof(*tag);
		if (flowbpf_eth_is_vlan(proto) && !(hw_vlan & HW_VLAN_PRESENT)) {
			tag = data + off;
			if ((void *)(tag + 1) > data_end)
				return PARSE_MISS;
			k->inner_vlan = bpf_ntohs(tag->tci) & 0x0fff;
			proto = bpf_ntohs(tag->proto);
			off += sizeof(*tag);
		}
	}
	*offp = off;
	*protop = proto;
	return 0;
}

/*
 * The common layouts, read straight from the packet: Ethernet with up to
 * two VLAN tags (or, on an L3 device, nothing before the IP header),
 * IPv4 without options or fragmentation, or IPv6 without extension
 * headers, carrying TCP, UDP, ICMP or ICMPv6, all within the linear
 * data.  Anything else is PARSE_MISS, and parse_slow starts over: this
 * path only ever takes packets both would parse alike.
 */
static __always_inline int parse_fast(void *data, void *data_end,
				      __u32 frame_len, __u32 hw_vlan,
				      bool decap, bool l3,
				      struct flowbpf_key *k,
				      struct pkt_meta *m)
{
	__u32 off = 0, tot;
	__u16 proto = 0;
	__u8 *l4;

	if (l3) {
		__u8 *v = data;

		if ((void *)(v + 1) > data_end)
			return PARSE_MISS;
		proto = *v >> 4 == 4 ? ETH_P_IP : ETH_P_IPV6;
	} else if (fast_l2(data, data_end, hw_vlan, k, &off, &proto)) {
		return PARSE_MISS;
	}

	if (proto == ETH_P_IP) {
		struct iphdr *ip = data + off;

		if ((void *)(ip + 1) + 8 > data_end)
			return PARSE_MISS;
		tot = bpf_ntohs(ip->tot_len);
		/* Options, fragments, odd lengths: the slow path's business. */
		if (ip->version != 4 || ip->ihl != 5 || tot < 20 ||
		    off + tot > frame_len ||
		    (ip->frag_off & bpf_htons(IP_MF | IP_OFFMASK)))
			return PARSE_MISS;
		key_ipv4(k, ip);
		m->ip_len = tot;
		m->tos = ip->tos;
		l4 = (void *)(ip + 1);
		if (fast_l4(l4, data_end, tot - 20, decap, k, m))
			return PARSE_MISS;
		m->hdr_len += 20;
		return 0;
	}
	if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) + 8 > data_end)
			return PARSE_MISS;
		tot = bpf_ntohs(ip6->payload_len);
		if (ip6->version != 6 || tot == 0 ||
		    off + 40 + tot > frame_len)
			return PARSE_MISS;
		k->family = 6;
		k->proto = ip6->nexthdr;
		__builtin_memcpy(k->saddr, &ip6->saddr, 16);
		__builtin_memcpy(k->daddr, &ip6->daddr, 16);
		m->ip_len = tot + 40;
		m->tos = ipv6_tclass(ip6);
		l4 = (void *)(ip6 + 1);
		if (fast_l4(l4, data_end, tot, decap, k, m))
			return PARSE_MISS;
		m->hdr_len += 40;
		return 0;
	}
	return PARSE_MISS;
}

/*
 * Fills the key (all but dir) and meta.  hw_vlan is 0, or
 * HW_VLAN_PRESENT | TCI when an outer tag was taken out of the frame;
 * flags are the config's FLOWBPF_CFG_*.  Returns 0 for an IP packet,
 * otherwise the outcome stat (non-IP or a parse error class).
 */
static __always_inline int parse_packet(void *ctx, bool xdp, void *data,
					void *data_end, __u32 frame_len,
					__u32 hw_vlan, __u32 flags,
					struct flowbpf_key *k,
					struct pkt_meta *m)
{
	if (parse_fast(data, data_end, frame_len, hw_vlan,
		       flags & FLOWBPF_CFG_DECAP_INNER, flags & FLOWBPF_CFG_L3,
		       k, m) == 0)
		return 0;
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memset(m, 0, sizeof(*m));
	return parse_slow(ctx, xdp, frame_len, hw_vlan, flags, k, m);
}

#endif
