// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Finishes TCP/UDP checksums that offload would have finished.  A frame
 * copied out of the stack before it reached a device, or received from a
 * virtual one (veth passes the sender's skb on), may carry only the
 * partial sum CHECKSUM_PARTIAL leaves in the field: that of the
 * pseudo-header.  Sent again from userspace, or re-injected, it would be
 * dropped.  Any other value is left alone, so that a segment corrupted
 * on the way is still refused where it arrives.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <stdint.h>
#include <string.h>
#include <linux/types.h>
#include "csum.h"
#include "flowbpf.h"

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/* l4: the TCP/UDP header; pseudo: the pseudo-header sum already taken. */
static void fix_l4(uint8_t proto, uint8_t *l4, size_t len, uint32_t pseudo)
{
	size_t off = proto == IPPROTO_TCP ? 16 : 6;
	uint16_t c;

	if ((proto != 6 && proto != 17) || len < off + 2 ||
	    (proto == IPPROTO_TCP && len < 20) ||
	    (proto == IPPROTO_UDP && len < 8))
		return;
	/* The partial sum is the pseudo-header's, folded, not inverted. */
	c = ~fold(pseudo + proto + len) & 0xffff;
	if ((l4[off] << 8 | l4[off + 1]) != c)
		return;
	l4[off] = l4[off + 1] = 0;
	c = fold(sum16(l4, len, pseudo + proto + len));
	/* For UDP, 0 means "no checksum": a computed 0 is sent as 0xffff. */
	if (proto == IPPROTO_UDP && !c)
		c = 0xffff;
	l4[off] = c >> 8;
	l4[off + 1] = c & 0xff;
}

void csum_fix_frame(uint8_t *f, size_t len)
{
	size_t off = 14;
	uint16_t type;
	int tags;

	if (len < 14)
		return;
	type = f[12] << 8 | f[13];
	for (tags = 0; tags < 2 && flowbpf_eth_is_vlan(type) && off + 4 <= len;
	     tags++) {
		type = f[off + 2] << 8 | f[off + 3];
		off += 4;
	}
	if (type == ETH_P_IP && off + 20 <= len) {
		uint8_t *ip = f + off;
		size_t ihl = (ip[0] & 15) * 4, tot = ip[2] << 8 | ip[3];

		/* Only whole, unfragmented datagrams carry a whole L4. */
		if (ihl < 20 || tot < ihl || off + tot > len ||
		    ((ip[6] << 8 | ip[7]) & 0x3fff))
			return;
		fix_l4(ip[9], ip + ihl, tot - ihl, sum16(ip + 12, 8, 0));
	} else if (type == ETH_P_IPV6 && off + 40 <= len) {
		uint8_t *ip = f + off, nh = ip[6];
		size_t plen = ip[4] << 8 | ip[5], l4 = 40;
		int i;

		if (off + 40 + plen > len)
			return;
		for (i = 0; i < 8 && (nh == 0 || nh == 43 || nh == 60); i++) {
			if (l4 + 8 > 40 + plen)
				return;
			nh = ip[l4];
			l4 += (ip[l4 + 1] + 1) * 8;
		}
		if (l4 > 40 + plen)
			return;
		fix_l4(nh, ip + l4, 40 + plen - l4, sum16(ip + 8, 32, 0));
	}
}
