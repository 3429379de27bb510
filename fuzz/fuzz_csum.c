// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * csum_fix_frame (daemon/csum.h) on arbitrary Ethernet frames.  The frame
 * is copied into a buffer of exactly its length, so that AddressSanitizer
 * stops the run at the first byte read or written past len.
 *
 * Checks:
 * - at most one 16-bit field changes, and only that of the TCP or UDP
 *   checksum where this harness finds the segment on its own (below);
 * - a segment whose checksum field held the pseudo-header's partial sum
 *   (CHECKSUM_PARTIAL) verifies afterwards, and one that did not is left
 *   alone;
 * - a second call changes nothing.
 *
 * The segment is found as csum.c documents: Ethernet, at most two VLAN
 * tags (0x8100, 0x88a8, 0x9100); IPv4 whole and unfragmented, within the
 * frame; or IPv6 within the frame after at most 8 extension headers of
 * types 0, 43 and 60; a TCP header of 20 bytes or a UDP one of 8 at least.
 */
#include "fuzz.h"
#include <linux/types.h>
#include "csum.h"
#include "flowbpf.h"

struct segment {
	size_t off, len; /* in the frame */
	size_t field; /* the checksum, in the frame */
	uint32_t pseudo; /* pseudo-header: addresses, protocol, length */
};

static uint32_t add16(const uint8_t *p, size_t n, uint32_t sum)
{
	size_t i;

	for (i = 0; i < n; i++)
		sum += i & 1 ? p[i] : (uint32_t)p[i] << 8;
	return sum;
}

/* The one's complement sum, carries folded in, not inverted. */
static uint16_t ones(uint32_t sum)
{
	while (sum > 0xffff)
		sum = (sum >> 16) + (sum & 0xffff);
	return sum;
}

static bool find_segment(const uint8_t *f, size_t len, struct segment *s)
{
	size_t off = 14, hdr, end;
	const uint8_t *ip;
	unsigned int type;
	uint8_t proto;
	int i;

	if (len < 14)
		return false;
	type = f[12] << 8 | f[13];
	for (i = 0; i < 2; i++) {
		if (!flowbpf_eth_is_vlan(type) || len - off < 4)
			break;
		type = f[off + 2] << 8 | f[off + 3];
		off += 4;
	}
	ip = f + off;
	if (type == 0x0800) {
		if (len - off < 20)
			return false;
		hdr = (ip[0] & 0xf) * 4;
		end = ip[2] << 8 | ip[3];
		if (hdr < 20 || end < hdr || end > len - off ||
		    (ip[6] & 0x3f) || ip[7])
			return false;
		proto = ip[9];
		s->pseudo = add16(ip + 12, 8, 0);
	} else if (type == 0x86dd) {
		if (len - off < 40)
			return false;
		end = 40 + (ip[4] << 8 | ip[5]);
		if (end > len - off)
			return false;
		proto = ip[6];
		hdr = 40;
		for (i = 0; i < 8 && (proto == 0 || proto == 43 || proto == 60);
		     i++) {
			if (end - hdr < 8)
				return false;
			proto = ip[hdr];
			hdr += 8 * (ip[hdr + 1] + 1);
			if (hdr > end)
				return false;
		}
		s->pseudo = add16(ip + 8, 32, 0);
	} else {
		return false;
	}
	s->off = off + hdr;
	s->len = end - hdr;
	if (proto == 6 && s->len >= 20)
		s->field = s->off + 16;
	else if (proto == 17 && s->len >= 8)
		s->field = s->off + 6;
	else
		return false;
	s->pseudo += proto + s->len;
	return true;
}

static bool verifies(const uint8_t *f, const struct segment *s)
{
	return ones(add16(f + s->off, s->len, s->pseudo)) == 0xffff;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *f = malloc(size ? size : 1), *again;
	size_t i;
	struct segment s;
	bool found, partial = false;

	CHECK(f);
	memcpy(f, data, size);
	found = find_segment(data, size, &s);
	if (found)
		partial = (data[s.field] << 8 | data[s.field + 1]) ==
			  ones(s.pseudo);

	csum_fix_frame(f, size);

	for (i = 0; i < size; i++) {
		if (f[i] == data[i])
			continue;
		CHECKF(found, "changed byte %zu of a frame with no segment", i);
		CHECKF(i == s.field || i == s.field + 1,
		       "changed byte %zu, the checksum is at %zu", i, s.field);
		CHECKF(partial, "changed a checksum that was not partial");
	}
	if (partial)
		CHECKF(verifies(f, &s), "checksum at %zu still wrong", s.field);

	again = malloc(size ? size : 1);
	CHECK(again);
	memcpy(again, f, size);
	csum_fix_frame(again, size);
	CHECK(!memcmp(again, f, size));
	free(again);
	free(f);
	return 0;
}
