/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Names, units and the textual form of a flow, shared by CLI and tests. */
#ifndef FLOWBPF_FLOWFMT_H
#define FLOWBPF_FLOWFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>
#include "flowbpf.h"

const char *verdict_name(__u32 verdict); /* "pass", "drop", "queued", "none" */
const char *source_name(__u32 source); /* "kernel", "timeout", ... */
const char *mode_name(__u32 mode); /* "monitor", "enforce" */
const char *pending_name(__u32 pending); /* "pass", "drop", "hold" */
const char *dir_name(__u8 dir); /* "in", "out" */
const char *stat_name(int idx); /* JSON key of a stat */
bool stat_is_outcome(int idx);
/* Protocol name ("tcp", "icmp", ...) or NULL for one without a name. */
const char *proto_name(__u8 proto);

/* "vxlan", "geneve", "gre", "ipip", "sit", "ip6", "mpls", "pppoe"; "" for
 * FLOWBPF_TUN_NONE, NULL for a type that has no name. */
const char *tun_name(__u8 type);
/* Whether the type's tun_id means something (VNI, key, label, session). */
bool tun_has_id(__u8 type);
/* "TYPE" or "TYPE:ID" (as flow_spec_str prints it after "tunnel"), or
 * "none"; *has_id tells whether an id was given.  0 or -EINVAL. */
int tunnel_parse(const char *s, __u8 *type, __u32 *id, bool *has_id);
/* "TYPE:ID", or "TYPE" for a type without id, "" for none. */
void tunnel_str(__u8 type, __u32 id, char *buf, size_t len);

/* Parse a name back; -EINVAL when unknown. */
/* A name of an enum value, as the CLI, JSON and records spell it; the
 * tables end with { NULL }, and a later name for a value is an alias. */
struct name_value {
	const char *name;
	__u32 value;
};
extern const struct name_value mode_names[], verdict_names[], pending_names[];
const char *name_of(const struct name_value *t, __u32 value, const char *none);
int value_of(const struct name_value *t, const char *name, __u32 *value);

int verdict_parse(const char *s, __u32 *verdict); /* pass|drop only */
int mode_parse(const char *s, __u32 *mode);
int proto_parse(const char *s, __u8 *proto);

/* "1.5s", "500ms", "2m", "100us", bare number = seconds. */
int duration_parse(const char *s, __u64 *ns);
/* Bytes with optional K/M/G (KiB/MiB/GiB) suffix: powers of 1024. */
int size_parse(const char *s, __u64 *val);
/* Whole number with optional k/M/G suffix (powers of 1000). */
int count_parse(const char *s, __u64 *val);
/* The short forms the parsers read back: "2s", "500ms"; "256K", "1G". */
void duration_str(__u64 ns, char *buf, size_t len);
void size_str(__u64 v, char *buf, size_t len);

/* Address of one side of a key, as text. */
void key_addr_str(const struct flowbpf_key *k, bool src, char *buf, size_t len);
/* "type/code" for ICMP, port number otherwise, "" when there is none. */
void key_port_str(const struct flowbpf_key *k, bool src, char *buf, size_t len);

/* "198.18.0.1:80", "[2001:db8::1]:80", or the bare address without ports. */
void key_endpoint_str(const struct flowbpf_key *k, bool src, char *buf,
		      size_t len);

/*
 * The textual form of a flow, accepted by flow_spec_parse and printed as
 * "flow" by "flowbpf flows -j":  in tcp 198.18.0.1:40000 198.18.0.2:80 vlan 10
 * ICMP:                          out icmp 198.18.0.1 198.18.0.2 type 8 code 0
 */
void flow_spec_str(const struct flowbpf_key *k, char *buf, size_t len);
#define FLOW_SPEC_SYNTAX                                                   \
	"in|out PROTO SRC[:PORT] DST[:PORT] [type T code C] [vlan V] [ivlan V] " \
	"[tunnel TYPE[:ID]]"
/* The most words a FLOW may have; more are refused, not ignored. */
#define FLOW_WORDS_MAX 32
/*
 * Parses argv words (a single quoted word also works).  ifindex is left 0.
 * Each part of the flow may be given once.  0 or -errno (-EAFNOSUPPORT:
 * addresses of two families), with what is wrong in why.
 */
int flow_spec_parse_why(int argc, char **argv, struct flowbpf_key *k, char *why,
			size_t whylen);
/* The same without the reason. */
int flow_spec_parse(int argc, char **argv, struct flowbpf_key *k);

struct json_t;
/* Adds "sport"/"dport", or "icmp_type"/"icmp_code", of k to object o,
 * and "tunnel"/"tunnel_id" for a tunnelled flow: the keys every JSON view
 * of a flow shares. */
void key_ports_json(struct json_t *o, const struct flowbpf_key *k);

/* 1234567 -> "1.23M"; bytes: 1536 -> "1.5KiB". */
void human_count(__u64 v, char *buf, size_t len);
void human_bytes(__u64 v, char *buf, size_t len);

#endif
