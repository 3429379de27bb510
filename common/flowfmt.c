// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <jansson.h>
#include "flowfmt.h"

const char *verdict_name(__u32 v)
{
	switch (v) {
	case FLOWBPF_VERDICT_PASS:
		return "pass";
	case FLOWBPF_VERDICT_DROP:
		return "drop";
	case FLOWBPF_VERDICT_QUEUED:
		return "queued";
	default:
		return "none";
	}
}

const char *source_name(__u32 s)
{
	switch (s) {
	case FLOWBPF_SRC_KERNEL:
		return "kernel";
	case FLOWBPF_SRC_TIMEOUT:
		return "timeout";
	case FLOWBPF_SRC_DAEMON:
		return "daemon";
	case FLOWBPF_SRC_MANUAL:
		return "manual";
	case FLOWBPF_SRC_LIMIT:
		return "limit";
	default:
		return "none";
	}
}

const struct name_value mode_names[] = {
	{ "monitor", FLOWBPF_MODE_MONITOR },
	{ "enforce", FLOWBPF_MODE_ENFORCE },
	{},
};

const struct name_value verdict_names[] = {
	{ "pass", FLOWBPF_VERDICT_PASS },
	{ "drop", FLOWBPF_VERDICT_DROP },
	{},
};

const struct name_value pending_names[] = {
	{ "pass", FLOWBPF_PENDING_PASS },
	{ "drop", FLOWBPF_PENDING_DROP },
	{ "hold", FLOWBPF_PENDING_HOLD },
	{},
};

const char *name_of(const struct name_value *t, __u32 value, const char *none)
{
	for (; t->name; t++)
		if (t->value == value)
			return t->name;
	return none;
}

int value_of(const struct name_value *t, const char *name, __u32 *value)
{
	for (; t->name; t++) {
		if (!strcmp(t->name, name)) {
			*value = t->value;
			return 0;
		}
	}
	return -EINVAL;
}

const char *pending_name(__u32 pending)
{
	return name_of(pending_names, pending, "none");
}

const char *mode_name(__u32 mode)
{
	return name_of(mode_names, mode, "monitor");
}

const char *dir_name(__u8 dir)
{
	return dir == FLOWBPF_DIR_EGRESS ? "out" : "in";
}

#define STAT_NAME(name, key, outcome) [FLOWBPF_STAT_##name] = key,
static const char *const stat_names[FLOWBPF_STAT_MAX] = { FLOWBPF_STATS(
	STAT_NAME) };
#undef STAT_NAME
#define STAT_OUTCOME(name, key, outcome) [FLOWBPF_STAT_##name] = outcome,
static const bool stat_outcomes[FLOWBPF_STAT_MAX] = { FLOWBPF_STATS(
	STAT_OUTCOME) };
#undef STAT_OUTCOME

const char *stat_name(int idx)
{
	return idx >= 0 && idx < FLOWBPF_STAT_MAX ? stat_names[idx] : "?";
}

bool stat_is_outcome(int idx)
{
	return idx >= 0 && idx < FLOWBPF_STAT_MAX && stat_outcomes[idx];
}

static const struct {
	const char *name;
	__u8 proto;
} protos[] = {
	{ "icmp", 1 },	 { "igmp", 2 },	     { "ipip", 4 },
	{ "tcp", 6 },	 { "udp", 17 },	     { "dccp", 33 },
	{ "ipv6", 41 },	 { "gre", 47 },	     { "esp", 50 },
	{ "ah", 51 },	 { "icmpv6", 58 },   { "ipv6-nonxt", 59 },
	{ "ospf", 89 },	 { "pim", 103 },     { "vrrp", 112 },
	{ "sctp", 132 }, { "udplite", 136 },
};

const char *proto_name(__u8 proto)
{
	size_t i;

	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
		if (protos[i].proto == proto)
			return protos[i].name;
	return NULL;
}

/*
 * Plain decimal digits, at least one: no sign, no blanks, no "0x", so
 * that " -1" is not taken for 2^64 - 1.  Sets *end past them.  0,
 * -EINVAL, or -ERANGE when the number does not fit in 64 bits.
 */
static int digits_parse(const char *s, const char **end, __u64 *val)
{
	const char *p;
	__u64 v = 0;

	for (p = s; *p >= '0' && *p <= '9'; p++) {
		if (v > (~0ULL - (*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (*p - '0');
	}
	if (p == s)
		return -EINVAL;
	*end = p;
	*val = v;
	return 0;
}

static int uint_parse(const char *s, unsigned long max, unsigned long *out)
{
	const char *end;
	__u64 v;

	if (!s || digits_parse(s, &end, &v) || *end || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

static const char *const tun_names[FLOWBPF_TUN_MAX] = {
	[FLOWBPF_TUN_NONE] = "",	  [FLOWBPF_TUN_VXLAN] = "vxlan",
	[FLOWBPF_TUN_GENEVE] = "geneve", [FLOWBPF_TUN_GRE] = "gre",
	[FLOWBPF_TUN_IPIP] = "ipip",	  [FLOWBPF_TUN_SIT] = "sit",
	[FLOWBPF_TUN_IP6] = "ip6",	  [FLOWBPF_TUN_MPLS] = "mpls",
	[FLOWBPF_TUN_PPPOE] = "pppoe",
};

const char *tun_name(__u8 type)
{
	return type < FLOWBPF_TUN_MAX ? tun_names[type] : NULL;
}

bool tun_has_id(__u8 type)
{
	return type != FLOWBPF_TUN_NONE && type != FLOWBPF_TUN_IPIP &&
	       type != FLOWBPF_TUN_SIT && type != FLOWBPF_TUN_IP6;
}

void tunnel_str(__u8 type, __u32 id, char *buf, size_t len)
{
	const char *n = tun_name(type);

	if (!n)
		snprintf(buf, len, "%u:%u", type, id);
	else if (tun_has_id(type))
		snprintf(buf, len, "%s:%u", n, id);
	else
		snprintf(buf, len, "%s", n);
}

/* The largest id of each type: 24-bit VNI, 20-bit label, 16-bit session. */
static unsigned long tun_id_max(__u8 type)
{
	switch (type) {
	case FLOWBPF_TUN_VXLAN:
	case FLOWBPF_TUN_GENEVE:
		return 0xffffff;
	case FLOWBPF_TUN_MPLS:
		return 0xfffff;
	case FLOWBPF_TUN_PPPOE:
		return 0xffff;
	case FLOWBPF_TUN_GRE:
		return 0xffffffff;
	default:
		return 0;
	}
}

int tunnel_parse(const char *s, __u8 *type, __u32 *id, bool *has_id)
{
	char name[16];
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	unsigned long v;
	int t;

	*type = 0;
	*id = 0;
	*has_id = false;
	if (n >= sizeof(name))
		return -EINVAL;
	memcpy(name, s, n);
	name[n] = '\0';
	if (!strcmp(name, "none"))
		return colon ? -EINVAL : 0;
	for (t = 1; t < FLOWBPF_TUN_MAX; t++)
		if (!strcmp(name, tun_names[t]))
			break;
	if (t == FLOWBPF_TUN_MAX)
		return -EINVAL;
	*type = t;
	if (!colon)
		return 0;
	if (!tun_has_id(t) || uint_parse(colon + 1, tun_id_max(t), &v))
		return -EINVAL;
	*id = v;
	*has_id = true;
	return 0;
}

int proto_parse(const char *s, __u8 *proto)
{
	unsigned long v;
	size_t i;

	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		if (!strcasecmp(s, protos[i].name)) {
			*proto = protos[i].proto;
			return 0;
		}
	}
	if (!strcasecmp(s, "ipv6-icmp")) {
		*proto = 58;
		return 0;
	}
	if (uint_parse(s, 255, &v))
		return -EINVAL;
	*proto = v;
	return 0;
}

int verdict_parse(const char *s, __u32 *verdict)
{
	return value_of(verdict_names, s, verdict);
}

int mode_parse(const char *s, __u32 *mode)
{
	return value_of(mode_names, s, mode);
}

/* A year: far beyond any sane timeout or interval. */
#define DURATION_MAX_NS (365ULL * 86400 * 1000000000)

/* Duration units; duration_str() writes the first that fits from "s". */
static const struct {
	const char *unit;
	__u64 mul;
} units[] = {
	{ "", 1000000000 },
	{ "s", 1000000000 },
	{ "ms", 1000000 },
	{ "us", 1000 },
	{ "ns", 1 },
	{ "m", 60000000000ULL },
	{ "h", 3600000000000ULL },
};

void duration_str(__u64 ns, char *buf, size_t len)
{
	size_t i;

	for (i = 1; i < 4 && ns % units[i].mul; i++)
		;
	snprintf(buf, len, "%llu%s", (unsigned long long)(ns / units[i].mul),
		 units[i].unit);
}

void size_str(__u64 v, char *buf, size_t len)
{
	static const char sfx[] = "GMK";
	int i;

	for (i = 0; i < 3; i++) {
		__u64 m = 1ULL << (10 * (3 - i));

		if (v && !(v % m)) {
			snprintf(buf, len, "%llu%c",
				 (unsigned long long)(v / m), sfx[i]);
			return;
		}
	}
	snprintf(buf, len, "%llu", (unsigned long long)v);
}

int duration_parse(const char *s, __u64 *ns)
{
	__u64 whole, frac = 0, scale = 1;
	unsigned __int128 v;
	const char *p;
	size_t i;
	int err;

	if (!s)
		return -EINVAL;
	err = digits_parse(s, &p, &whole);
	if (err)
		return err;
	if (*p == '.') {
		if (*++p < '0' || *p > '9')
			return -EINVAL;
		/* Digits past the 18th change no nanosecond, even of hours. */
		for (; *p >= '0' && *p <= '9'; p++) {
			if (scale < 1000000000000000000ULL) {
				frac = frac * 10 + (*p - '0');
				scale *= 10;
			}
		}
	}
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit))
			continue;
		/* 128 bits: a 64-bit number of hours still fits. */
		v = (unsigned __int128)whole * units[i].mul +
		    (unsigned __int128)frac * units[i].mul / scale;
		if (v > DURATION_MAX_NS)
			return -ERANGE;
		*ns = v;
		return 0;
	}
	return -EINVAL;
}

/*
 * Digits with an optional suffix k/K, M or G: base, base^2, base^3.  For
 * bytes, "1M", "1MiB" and "1MB" are all the same.
 */
static int scaled_parse(const char *s, __u64 base, bool bytes, __u64 *val)
{
	__u64 v, mul = 1;
	const char *p;
	int err;

	if (!s)
		return -EINVAL;
	err = digits_parse(s, &p, &v);
	if (err)
		return err;
	if (*p == 'k' || *p == 'K')
		mul = base, p++;
	else if (*p == 'M')
		mul = base * base, p++;
	else if (*p == 'G')
		mul = base * base * base, p++;
	if (bytes && *p == 'i' && mul > 1)
		p++;
	if (bytes && (*p == 'B' || *p == 'b'))
		p++;
	if (*p)
		return -EINVAL;
	if (v > ~0ULL / mul)
		return -ERANGE;
	*val = v * mul;
	return 0;
}

int size_parse(const char *s, __u64 *val)
{
	return scaled_parse(s, 1024, true, val);
}

int count_parse(const char *s, __u64 *val)
{
	return scaled_parse(s, 1000, false, val);
}

void key_addr_str(const struct flowbpf_key *k, bool src, char *buf, size_t len)
{
	const __be32 *a = src ? k->saddr : k->daddr;

	if (k->family == 4)
		inet_ntop(AF_INET, &a[3], buf, len);
	else
		inet_ntop(AF_INET6, a, buf, len);
}

static bool key_is_icmp(const struct flowbpf_key *k)
{
	return flowbpf_proto_is_icmp(k->proto);
}

static bool key_has_ports(const struct flowbpf_key *k)
{
	return flowbpf_proto_has_ports(k->proto);
}

void key_port_str(const struct flowbpf_key *k, bool src, char *buf, size_t len)
{
	__u16 tc = ntohs(k->dport);

	if (key_is_icmp(k))
		snprintf(buf, len, src ? "" : "%u/%u", tc >> 8, tc & 0xff);
	else if (key_has_ports(k))
		snprintf(buf, len, "%u", ntohs(src ? k->sport : k->dport));
	else if (len)
		buf[0] = '\0';
}

void key_endpoint_str(const struct flowbpf_key *k, bool src, char *buf,
		      size_t len)
{
	char addr[INET6_ADDRSTRLEN];

	key_addr_str(k, src, addr, sizeof(addr));
	if (!key_has_ports(k))
		snprintf(buf, len, "%s", addr);
	else if (k->family == 6)
		snprintf(buf, len, "[%s]:%u", addr,
			 ntohs(src ? k->sport : k->dport));
	else
		snprintf(buf, len, "%s:%u", addr,
			 ntohs(src ? k->sport : k->dport));
}

void flow_spec_str(const struct flowbpf_key *k, char *buf, size_t len)
{
	char s[64], d[64], proto[16], extra[80] = "", tun[32];
	const char *pn = proto_name(k->proto);
	int n = 0;

	key_endpoint_str(k, true, s, sizeof(s));
	key_endpoint_str(k, false, d, sizeof(d));
	if (pn)
		snprintf(proto, sizeof(proto), "%s", pn);
	else
		snprintf(proto, sizeof(proto), "%u", k->proto);
	if (key_is_icmp(k))
		n = snprintf(extra, sizeof(extra), " type %u code %u",
			     ntohs(k->dport) >> 8, ntohs(k->dport) & 0xff);
	if (k->vlan && n >= 0 && (size_t)n < sizeof(extra))
		n += snprintf(extra + n, sizeof(extra) - n, " vlan %u",
			      k->vlan);
	if (k->inner_vlan && n >= 0 && (size_t)n < sizeof(extra))
		n += snprintf(extra + n, sizeof(extra) - n, " ivlan %u",
			      k->inner_vlan);
	if (k->tun_type && n >= 0 && (size_t)n < sizeof(extra)) {
		tunnel_str(k->tun_type, k->tun_id, tun, sizeof(tun));
		snprintf(extra + n, sizeof(extra) - n, " tunnel %s", tun);
	}
	snprintf(buf, len, "%s %s %s %s%s", dir_name(k->dir), proto, s, d,
		 extra);
}

/* "198.18.0.1", "198.18.0.1:80", "2001:db8::1", "[2001:db8::1]:80" */
static int endpoint_parse(const char *s, struct flowbpf_key *k, bool src,
			  bool *has_port)
{
	__be32 *a = src ? k->saddr : k->daddr;
	char buf[INET6_ADDRSTRLEN + 8], *port = NULL;
	unsigned long p;
	int family;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (!close)
			return -EINVAL;
		*close = '\0';
		if (close[1] == ':')
			port = close + 2;
		else if (close[1])
			return -EINVAL;
		memmove(buf, buf + 1, strlen(buf + 1) + 1);
	} else if (strchr(buf, '.')) {
		/* A.B.C.D:PORT has one ':'; an IPv6 address written with a
		 * dotted quad (::ffff:A.B.C.D, as flow_spec_str prints it when
		 * there are no ports) has more, and no port. */
		port = strchr(buf, ':');
		if (port && port == strrchr(buf, ':'))
			*port++ = '\0';
		else
			port = NULL;
	}

	memset(a, 0, 16);
	if (inet_pton(AF_INET, buf, &a[3]) == 1) {
		a[2] = htonl(0xffff);
		family = 4;
	} else if (inet_pton(AF_INET6, buf, a) == 1) {
		family = 6;
	} else {
		return -EINVAL;
	}
	if (k->family && k->family != family)
		return -EAFNOSUPPORT;
	k->family = family;
	*has_port = false;
	if (port) {
		if (uint_parse(port, 65535, &p))
			return -EINVAL;
		if (src)
			k->sport = htons(p);
		else
			k->dport = htons(p);
		*has_port = true;
	}
	return 0;
}

/* The parts of a FLOW, each of which may be given once. */
enum {
	FP_DIR,
	FP_PROTO,
	FP_VLAN,
	FP_IVLAN,
	FP_TYPE,
	FP_CODE,
	FP_SPORT,
	FP_DPORT,
	FP_TUNNEL,
};

static const char *const flow_part_names[] = {
	[FP_DIR] = "direction",	    [FP_PROTO] = "protocol",
	[FP_VLAN] = "VLAN id",	    [FP_IVLAN] = "inner VLAN id",
	[FP_TYPE] = "ICMP type",    [FP_CODE] = "ICMP code",
	[FP_SPORT] = "source port", [FP_DPORT] = "destination port",
	[FP_TUNNEL] = "tunnel",
};

/* Words that take a value, and the largest value. */
static const struct {
	const char *word;
	int part;
	unsigned long max;
} flow_keywords[] = {
	{ "vlan", FP_VLAN, 4095 },    { "ivlan", FP_IVLAN, 4095 },
	{ "type", FP_TYPE, 255 },     { "code", FP_CODE, 255 },
	{ "sport", FP_SPORT, 65535 }, { "dport", FP_DPORT, 65535 },
	{ "proto", FP_PROTO, 0 },     { "tunnel", FP_TUNNEL, 0 },
};

struct spec_parse {
	struct flowbpf_key *k;
	unsigned long type, code;
	unsigned int seen; /* bits: 1 << FP_* */
	int ends; /* addresses read */
	char *why;
	size_t whylen;
};

/* Marks part as given; a part given twice is refused, not overwritten. */
static int spec_part(struct spec_parse *sp, int part)
{
	if (sp->seen & (1U << part)) {
		snprintf(sp->why, sp->whylen, "the %s is given twice",
			 flow_part_names[part]);
		return -EINVAL;
	}
	sp->seen |= 1U << part;
	return 0;
}

static void spec_set(struct spec_parse *sp, int part, unsigned long v)
{
	switch (part) {
	case FP_VLAN:
		sp->k->vlan = v;
		break;
	case FP_IVLAN:
		sp->k->inner_vlan = v;
		break;
	case FP_TYPE:
		sp->type = v;
		break;
	case FP_CODE:
		sp->code = v;
		break;
	case FP_SPORT:
		sp->k->sport = htons(v);
		break;
	case FP_DPORT:
		sp->k->dport = htons(v);
		break;
	}
}

/* One word w, with its value arg for a keyword (*used is then 2). */
static int spec_word(struct spec_parse *sp, const char *w, const char *arg,
		     int *used)
{
	struct flowbpf_key *k = sp->k;
	unsigned long v;
	bool port;
	size_t i;
	__u8 proto;
	int err;

	*used = 1;
	if (!strcmp(w, ">") || !strcmp(w, "->"))
		return 0;
	if (!strcmp(w, "in") || !strcmp(w, "ingress") || !strcmp(w, "out") ||
	    !strcmp(w, "egress")) {
		k->dir = w[0] == 'i' ? FLOWBPF_DIR_INGRESS : FLOWBPF_DIR_EGRESS;
		return spec_part(sp, FP_DIR);
	}
	for (i = 0; i < sizeof(flow_keywords) / sizeof(flow_keywords[0]); i++) {
		if (strcmp(w, flow_keywords[i].word))
			continue;
		*used = 2;
		if (spec_part(sp, flow_keywords[i].part) || !arg)
			return -EINVAL;
		if (flow_keywords[i].part == FP_PROTO)
			return proto_parse(arg, &k->proto);
		if (flow_keywords[i].part == FP_TUNNEL) {
			bool has_id;

			/* A flow's key has an id where its type has one. */
			if (tunnel_parse(arg, &k->tun_type, &k->tun_id,
					 &has_id) ||
			    has_id != tun_has_id(k->tun_type))
				return -EINVAL;
			return 0;
		}
		if (uint_parse(arg, flow_keywords[i].max, &v))
			return -EINVAL;
		spec_set(sp, flow_keywords[i].part, v);
		return 0;
	}
	/* Addresses hold '.' or ':', protocol names and numbers never. */
	if (!strchr(w, '.') && !strchr(w, ':') && !proto_parse(w, &proto)) {
		k->proto = proto;
		return spec_part(sp, FP_PROTO);
	}
	if (sp->ends == 2)
		return -EINVAL;
	err = endpoint_parse(w, k, sp->ends == 0, &port);
	if (err)
		return err;
	if (port && (err = spec_part(sp, sp->ends ? FP_DPORT : FP_SPORT)))
		return err;
	sp->ends++;
	return 0;
}

/* The whole key once every word is read. */
static int spec_finish(struct spec_parse *sp)
{
	struct flowbpf_key *k = sp->k;
	unsigned int ports = 1U << FP_SPORT | 1U << FP_DPORT;
	unsigned int icmp = 1U << FP_TYPE | 1U << FP_CODE;

	if (!(sp->seen & 1U << FP_DIR) || !(sp->seen & 1U << FP_PROTO) ||
	    sp->ends != 2)
		return -EINVAL;
	/* A port the key cannot hold would make a verdict that never matches. */
	if ((sp->seen & ports) && !key_has_ports(k))
		return -EINVAL;
	if (key_is_icmp(k)) {
		if (!(sp->seen & 1U << FP_TYPE))
			return -EINVAL;
		k->dport = htons(sp->type << 8 | sp->code);
	} else if (sp->seen & icmp) {
		return -EINVAL;
	}
	return 0;
}

/* The words of a FLOW: argv, or one quoted argument split at blanks. */
static int spec_words(int argc, char **argv, char **words, char **copy)
{
	char *save, *w;
	int n = 0;

	*copy = NULL;
	if (argc != 1) {
		if (argc > FLOW_WORDS_MAX)
			return -E2BIG;
		memcpy(words, argv, argc * sizeof(*words));
		return argc;
	}
	*copy = strdup(argv[0]);
	if (!*copy)
		return -ENOMEM;
	for (w = strtok_r(*copy, " \t", &save); w;
	     w = strtok_r(NULL, " \t", &save)) {
		if (n == FLOW_WORDS_MAX)
			return -E2BIG;
		words[n++] = w;
	}
	return n;
}

int flow_spec_parse_why(int argc, char **argv, struct flowbpf_key *k, char *why,
			size_t whylen)
{
	struct spec_parse sp = { .k = k, .why = why, .whylen = whylen };
	char *words[FLOW_WORDS_MAX], *copy;
	int n, i, used, err;

	memset(k, 0, sizeof(*k));
	snprintf(why, whylen, "expected: %s", FLOW_SPEC_SYNTAX);
	n = spec_words(argc, argv, words, &copy);
	err = n < 0 ? n : 0;
	if (err == -E2BIG)
		snprintf(why, whylen, "more than %d words", FLOW_WORDS_MAX);
	for (i = 0; !err && i < n; i += used)
		err = spec_word(&sp, words[i], i + 1 < n ? words[i + 1] : NULL,
				&used);
	if (!err)
		err = spec_finish(&sp);
	if (err == -EAFNOSUPPORT)
		snprintf(
			why, whylen,
			"source and destination are not of the same address family");
	free(copy);
	return err;
}

int flow_spec_parse(int argc, char **argv, struct flowbpf_key *k)
{
	char why[128];

	return flow_spec_parse_why(argc, argv, k, why, sizeof(why));
}

void human_count(__u64 v, char *buf, size_t len)
{
	static const char *sfx[] = { "", "k", "M", "G", "T", "P" };
	double d = v;
	int i = 0;

	if (v < 1000) {
		snprintf(buf, len, "%llu", (unsigned long long)v);
		return;
	}
	while (d >= 1000 && i < 5)
		d /= 1000, i++;
	snprintf(buf, len,
		 d < 10	   ? "%.2f%s"
		 : d < 100 ? "%.1f%s"
			   : "%.0f%s",
		 d, sfx[i]);
}

void human_bytes(__u64 v, char *buf, size_t len)
{
	static const char *sfx[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double d = v;
	int i = 0;

	if (v < 1024) {
		snprintf(buf, len, "%lluB", (unsigned long long)v);
		return;
	}
	while (d >= 1024 && i < 5)
		d /= 1024, i++;
	snprintf(buf, len,
		 d < 10	   ? "%.2f%s"
		 : d < 100 ? "%.1f%s"
			   : "%.0f%s",
		 d, sfx[i]);
}

void key_ports_json(json_t *o, const struct flowbpf_key *k)
{
	if (key_is_icmp(k)) {
		json_object_set_new(o, "icmp_type",
				    json_integer(ntohs(k->dport) >> 8));
		json_object_set_new(o, "icmp_code",
				    json_integer(ntohs(k->dport) & 0xff));
	} else {
		json_object_set_new(o, "sport", json_integer(ntohs(k->sport)));
		json_object_set_new(o, "dport", json_integer(ntohs(k->dport)));
	}
	if (k->tun_type) {
		const char *n = tun_name(k->tun_type);

		json_object_set_new(o, "tunnel",
				    n ? json_string(n)
				      : json_integer(k->tun_type));
		if (tun_has_id(k->tun_type))
			json_object_set_new(o, "tunnel_id",
					    json_integer(k->tun_id));
	}
}
