// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * size_parse, count_parse and duration_parse (common/flowfmt.h) on
 * arbitrary strings, each against a reading of its own, written from the
 * documented syntax:
 *
 *	size      DIGITS [k|K|M|G [i]] [B|b]         powers of 1024
 *	count     DIGITS [k|K|M|G]                   powers of 1000
 *	duration  DIGITS [.DIGITS] [s|ms|us|ns|m|h]  bare: seconds; a year at most
 *
 * A number of more than 64 bits, or a value past what fits (64 bits, a
 * year), is -ERANGE; anything else off the syntax is -EINVAL.  The input,
 * up to its first NUL, is copied into a buffer of its own size, so that
 * reading past the string's end is caught.
 *
 * duration_parse reads 18 digits of a fraction and ignores the rest; with
 * more digits than that its result may be one nanosecond below the exact
 * floor (e.g. "0.0000000000011111119h": 3 ns, not 4), which is allowed.
 */
#include <errno.h>
#include "fuzz.h"
#include "flowfmt.h"

#define YEAR_NS (365ULL * 86400 * 1000000000)

struct suffix {
	const char *text;
	__u64 mul;
};

#define KIB 1024ULL
#define MIB (1024ULL * 1024)
#define GIB (1024ULL * 1024 * 1024)

/* Every suffix size_parse takes, written out. */
static const struct suffix size_suffixes[] = {
	{ "", 1 },	{ "B", 1 },	{ "b", 1 },	{ "k", KIB },
	{ "kB", KIB },	{ "kb", KIB },	{ "ki", KIB },	{ "kiB", KIB },
	{ "kib", KIB }, { "K", KIB },	{ "KB", KIB },	{ "Kb", KIB },
	{ "Ki", KIB },	{ "KiB", KIB }, { "Kib", KIB }, { "M", MIB },
	{ "MB", MIB },	{ "Mb", MIB },	{ "Mi", MIB },	{ "MiB", MIB },
	{ "Mib", MIB }, { "G", GIB },	{ "GB", GIB },	{ "Gb", GIB },
	{ "Gi", GIB },	{ "GiB", GIB }, { "Gib", GIB },
};

static const struct suffix count_suffixes[] = {
	{ "", 1 },	  { "k", 1000 },       { "K", 1000 },
	{ "M", 1000000 }, { "G", 1000000000 },
};

static const struct suffix duration_units[] = {
	{ "", 1000000000ULL },
	{ "s", 1000000000ULL },
	{ "ms", 1000000ULL },
	{ "us", 1000ULL },
	{ "ns", 1ULL },
	{ "m", 60 * 1000000000ULL },
	{ "h", 3600 * 1000000000ULL },
};

/* Leading decimal digits: how many, and their value; *big when it needs
 * more than 64 bits. */
static size_t digits(const char *s, __u64 *v, bool *big)
{
	unsigned __int128 x = 0;
	size_t n;

	*big = false;
	for (n = 0; s[n] >= '0' && s[n] <= '9'; n++) {
		x = x * 10 + (s[n] - '0');
		if (x >> 64) {
			*big = true;
			x = 0;
		}
	}
	*v = (__u64)x;
	return n;
}

static const struct suffix *find(const struct suffix *t, size_t n,
				 const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(t[i].text, s))
			return &t[i];
	return NULL;
}

#define FIND(t, s) find(t, sizeof(t) / sizeof(t[0]), s)

static int scaled_expect(const char *s, bool bytes, __u64 *val)
{
	const struct suffix *sfx;
	unsigned __int128 x;
	size_t n;
	bool big;
	__u64 v;

	n = digits(s, &v, &big);
	if (!n)
		return -EINVAL;
	if (big)
		return -ERANGE;
	sfx = bytes ? FIND(size_suffixes, s + n) : FIND(count_suffixes, s + n);
	if (!sfx)
		return -EINVAL;
	x = (unsigned __int128)v * sfx->mul;
	if (x >> 64)
		return -ERANGE;
	*val = (__u64)x;
	return 0;
}

/*
 * -EINVAL or -ERANGE for what is refused whatever the value, else 0 with
 * the exact value in ns (floored, perhaps past a year) and the number of
 * digits after the point.
 */
static int duration_expect(const char *s, unsigned __int128 *exact,
			   size_t *fdigits)
{
	const struct suffix *unit;
	const char *p, *frac = NULL;
	__u64 whole, part = 0;
	size_t n, fd = 0;
	bool big;

	n = digits(s, &whole, &big);
	if (!n)
		return -EINVAL;
	if (big)
		return -ERANGE;
	p = s + n;
	if (*p == '.') {
		frac = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		fd = p - frac;
		if (!fd)
			return -EINVAL;
	}
	unit = FIND(duration_units, p);
	if (!unit)
		return -EINVAL;
	/* floor(0.DIGITS * mul), exactly: long multiplication from the last
	 * digit, where each step keeps only the carry. */
	while (fd-- > 0)
		part = ((__u64)(frac[fd] - '0') * unit->mul + part) / 10;
	*exact = (unsigned __int128)whole * unit->mul + part;
	*fdigits = frac ? (size_t)(p - frac) : 0;
	return 0;
}

static void check_scaled(const char *s, bool bytes)
{
	__u64 got = 0, want = 0;
	int err, werr;

	werr = scaled_expect(s, bytes, &want);
	err = bytes ? size_parse(s, &got) : count_parse(s, &got);
	CHECKF(err == werr, "%s \"%s\": %d, not %d", bytes ? "size" : "count",
	       s, err, werr);
	if (!err)
		CHECKF(got == want, "%s \"%s\": %llu, not %llu",
		       bytes ? "size" : "count", s, (unsigned long long)got,
		       (unsigned long long)want);
}

static void check_duration(const char *s)
{
	unsigned __int128 exact = 0;
	size_t fd = 0;
	__u64 got = 0;
	int err, werr;

	werr = duration_expect(s, &exact, &fd);
	err = duration_parse(s, &got);
	if (werr) {
		CHECKF(err == werr, "duration \"%s\": %d, not %d", s, err,
		       werr);
		return;
	}
	if (err) {
		CHECKF(err == -ERANGE && exact > YEAR_NS,
		       "duration \"%s\": %d, not %llu", s, err,
		       (unsigned long long)exact);
		return;
	}
	CHECKF(got <= YEAR_NS && got <= exact && got + (fd > 18) >= exact,
	       "duration \"%s\": %llu, not %llu", s, (unsigned long long)got,
	       (unsigned long long)exact);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t len = strnlen((const char *)data, size);
	char *s = malloc(len + 1);

	CHECK(s);
	memcpy(s, data, len);
	s[len] = '\0';
	check_scaled(s, true);
	check_scaled(s, false);
	check_duration(s);
	free(s);
	return 0;
}
