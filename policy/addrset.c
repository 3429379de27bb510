// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Address sets: built from ranges while a policy is parsed, looked up for
 * every flow the daemon decides. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include "addrset.h"

addr128 key_addr128(const struct flowbpf_key *k, bool src)
{
	const __be32 *a = src ? k->saddr : k->daddr;
	addr128 v = 0;
	int i;

	for (i = 0; i < 4; i++)
		v = (v << 32) | ntohl(a[i]);
	return v;
}

bool addrset_contains(const struct addrset *s, int family, addr128 a)
{
	size_t lo = family == 4 ? 0 : s->n4, hi = family == 4 ? s->n4 : s->n;
	size_t first = lo;

	/* The last range starting at or below a is the only candidate. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->lo[mid] <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo > first && a <= s->hi[lo - 1];
}

int rb_add(struct rangebuf *b, int fam, addr128 lo, addr128 hi)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 16;
		addr128 *nl = realloc(b->lo, cap * sizeof(*nl));
		__u8 *nf;

		if (!nl)
			return -ENOMEM;
		b->lo = nl;
		nl = realloc(b->hi, cap * sizeof(*nl));
		if (!nl)
			return -ENOMEM;
		b->hi = nl;
		nf = realloc(b->fam, cap);
		if (!nf)
			return -ENOMEM;
		b->fam = nf;
		b->cap = cap;
	}
	b->lo[b->n] = lo;
	b->hi[b->n] = hi;
	b->fam[b->n] = fam;
	b->n++;
	return 0;
}

void rb_free(struct rangebuf *b)
{
	free(b->lo);
	free(b->hi);
	free(b->fam);
	memset(b, 0, sizeof(*b));
}

struct pair {
	addr128 lo, hi;
	int fam;
};

/* IPv4 first, then by start. */
static int pair_cmp(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	if (x->fam != y->fam)
		return x->fam < y->fam ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

int rb_finish(struct rangebuf *b, struct addrset *out)
{
	struct pair *p = NULL;
	size_t i, n = 0;

	memset(out, 0, sizeof(*out));
	if (b->n) {
		p = malloc(b->n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		for (i = 0; i < b->n; i++)
			p[i] = (struct pair){ b->lo[i], b->hi[i], b->fam[i] };
		qsort(p, b->n, sizeof(*p), pair_cmp);
		for (i = 0; i < b->n; i++) {
			struct pair *last = n ? &p[n - 1] : NULL;

			/* Overlapping or adjacent within a family: merge. */
			if (last && last->fam == p[i].fam &&
			    (last->hi == ~(addr128)0 ||
			     p[i].lo <= last->hi + 1)) {
				if (p[i].hi > last->hi)
					last->hi = p[i].hi;
			} else {
				p[n++] = p[i];
			}
		}
		/* Reuse the buffers: n <= b->n. */
		for (i = 0; i < n; i++) {
			b->lo[i] = p[i].lo;
			b->hi[i] = p[i].hi;
			out->n4 += p[i].fam == 4;
		}
		free(p);
	}
	out->lo = b->lo;
	out->hi = b->hi;
	out->n = n;
	b->lo = b->hi = NULL;
	rb_free(b);
	return 0;
}

void addrset_free(struct addrset *s)
{
	free(s->lo);
	free(s->hi);
	memset(s, 0, sizeof(*s));
}
