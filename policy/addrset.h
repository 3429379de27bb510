/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Building address sets (struct addrset, policy.h) from ranges. */
#ifndef FLOWBPF_ADDRSET_H
#define FLOWBPF_ADDRSET_H

#include "policy.h"

/* Ranges as they are read, in any order, overlapping or not. */
struct rangebuf {
	addr128 *lo, *hi;
	__u8 *fam;
	size_t n, cap;
};

/* Adds [lo, hi] of family fam (4 or 6); 0 or -ENOMEM. */
int rb_add(struct rangebuf *b, int fam, addr128 lo, addr128 hi);
void rb_free(struct rangebuf *b);
/* Sorts and merges the ranges into a set; frees the buffer.  0 or
 * -ENOMEM. */
int rb_finish(struct rangebuf *b, struct addrset *out);
void addrset_free(struct addrset *s);

#endif
