// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * FLOW words (flow_spec_parse_why, docs/flowbpf.8.md FLOW SYNTAX) on
 * arbitrary input, split into words at blanks, line ends and NUL bytes;
 * each word gets a buffer of its own size, so that reading past a word's
 * end is caught.
 *
 * Checks:
 * - the words as argv, and the same words joined by single spaces as one
 *   quoted argument, give the same result and the same key;
 * - every refusal says why (a NUL-terminated reason);
 * - a parsed key is well formed (direction, family, IPv4-mapped IPv4
 *   addresses, the padding zero, a VLAN id below 4096);
 * - flow_spec_str() prints it in full, and what it prints, as words or
 *   as one argument, parses back to the very same key (the "flow" field
 *   of "flowbpf flows -j" is usable with "flowbpf verdict").
 */
#include <arpa/inet.h>
#include "fuzz.h"
#include "flowfmt.h"

/* More than FLOW_WORDS_MAX, to see the surplus refused. */
#define WORDS_MAX (FLOW_WORDS_MAX + 8)

static bool is_sep(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f' || c == '\0';
}

/* Splits s[0..n) into at most max words, each in its own buffer. */
static int split(const uint8_t *s, size_t n, char **words, int max)
{
	size_t i = 0, j;
	int argc = 0;

	while (argc < max) {
		while (i < n && is_sep(s[i]))
			i++;
		if (i == n)
			break;
		for (j = i; j < n && !is_sep(s[j]); j++)
			;
		words[argc] = malloc(j - i + 1);
		CHECK(words[argc]);
		memcpy(words[argc], s + i, j - i);
		words[argc++][j - i] = '\0';
		i = j;
	}
	return argc;
}

static void free_words(char **words, int n)
{
	while (n > 0)
		free(words[--n]);
}

/* The words joined by single spaces, in a buffer of its own size. */
static char *join(char **words, int n)
{
	size_t len = 1, off = 0;
	char *s;
	int i;

	for (i = 0; i < n; i++)
		len += strlen(words[i]) + 1;
	s = malloc(len);
	CHECK(s);
	s[0] = '\0';
	for (i = 0; i < n; i++)
		off += sprintf(s + off, "%s%s", i ? " " : "", words[i]);
	return s;
}

static int parse(int argc, char **argv, struct flowbpf_key *k)
{
	char why[128];
	int err;

	memset(why, 'x', sizeof(why));
	err = flow_spec_parse_why(argc, argv, k, why, sizeof(why));
	CHECK(err <= 0);
	CHECK(memchr(why, '\0', sizeof(why)));
	if (err)
		CHECK(why[0]);
	return err;
}

static void check_key(const struct flowbpf_key *k)
{
	CHECK(k->dir == FLOWBPF_DIR_INGRESS || k->dir == FLOWBPF_DIR_EGRESS);
	CHECK(k->family == 4 || k->family == 6);
	CHECK(k->tun_type < FLOWBPF_TUN_MAX);
	CHECK(k->vlan < 4096 && k->inner_vlan < 4096);
	if (k->family == 4) {
		CHECK(!k->saddr[0] && !k->saddr[1] &&
		      k->saddr[2] == htonl(0xffff));
		CHECK(!k->daddr[0] && !k->daddr[1] &&
		      k->daddr[2] == htonl(0xffff));
	}
	if (flowbpf_proto_is_icmp(k->proto))
		CHECK(!k->sport);
}

/* What flow_spec_str() prints parses back to k, both ways. */
static void check_round_trip(const struct flowbpf_key *k)
{
	char text[256], *words[WORDS_MAX], *one;
	struct flowbpf_key again;
	int n;

	flow_spec_str(k, text, sizeof(text));
	CHECKF(strlen(text) < sizeof(text) - 1, "cut: %s", text);
	n = split((const uint8_t *)text, strlen(text), words, WORDS_MAX);
	CHECKF(!parse(n, words, &again), "\"%s\" does not parse", text);
	CHECKF(!memcmp(k, &again, sizeof(*k)), "\"%s\" parses to another key",
	       text);
	one = join(words, n);
	CHECKF(!parse(1, &one, &again), "\"%s\" as one word does not parse",
	       text);
	CHECKF(!memcmp(k, &again, sizeof(*k)),
	       "\"%s\" as one word parses to another key", text);
	free(one);
	free_words(words, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *words[WORDS_MAX], *one;
	struct flowbpf_key k, k1;
	int n, err, err1;

	n = split(data, size, words, WORDS_MAX);
	err = parse(n, words, &k);
	one = join(words, n);
	err1 = parse(1, &one, &k1);
	CHECKF(err == err1, "%d as words, %d as one word", err, err1);
	if (!err) {
		CHECK(!memcmp(&k, &k1, sizeof(k)));
		CHECK(n <= FLOW_WORDS_MAX);
		check_key(&k);
		check_round_trip(&k);
	}
	free(one);
	free_words(words, n);
	return 0;
}
