/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* What every parsed address set must be (policy/policy.h, struct addrset). */
#ifndef FLOWBPF_FUZZ_SETS_H
#define FLOWBPF_FUZZ_SETS_H

#include "fuzz.h"
#include "policy.h"

#define V4_MAPPED ((addr128)0xffff << 32)

static inline bool is_v4_mapped(addr128 a)
{
	return a >> 32 == 0xffff;
}

/*
 * Sorted, disjoint and merged (no two ranges of a family touch), the
 * IPv4 ranges first and all of them IPv4-mapped; and addrset_contains()
 * finds each range's ends and nothing just outside them.
 */
static inline void check_addrset(const struct addrset *s)
{
	size_t i;
	int fam;

	CHECK(s->n4 <= s->n);
	CHECK(!s->n || (s->lo && s->hi));
	for (i = 0; i < s->n; i++) {
		fam = i < s->n4 ? 4 : 6;
		CHECKF(s->lo[i] <= s->hi[i], "range %zu", i);
		if (fam == 4)
			CHECKF(is_v4_mapped(s->lo[i]) && is_v4_mapped(s->hi[i]),
			       "IPv4 range %zu", i);
		if (i && i != s->n4)
			CHECKF(s->hi[i - 1] != ~(addr128)0 &&
				       s->hi[i - 1] + 1 < s->lo[i],
			       "ranges %zu and %zu overlap or touch", i - 1, i);
		CHECKF(addrset_contains(s, fam, s->lo[i]), "start of %zu", i);
		CHECKF(addrset_contains(s, fam, s->hi[i]), "end of %zu", i);
		if (s->lo[i] != 0)
			CHECKF(!addrset_contains(s, fam, s->lo[i] - 1),
			       "below %zu", i);
		if (s->hi[i] != ~(addr128)0)
			CHECKF(!addrset_contains(s, fam, s->hi[i] + 1),
			       "above %zu", i);
	}
}

#endif
