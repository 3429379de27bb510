// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * IPFIX that collectors can use: the encoder byte by byte (templates, the
 * exporter's options record, every field of a data record), the
 * forwardingStatus of each verdict, an export read by two independent
 * collectors, nfcapd/nfdump and pmacct's nfacctd, and by Wireshark's
 * dissector from a capture, and compared field by field with the JSON
 * records of the same flows, and IPFIX over TCP to a
 * reader that goes away and comes back.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <jansson.h>
#include "collect.h"
#include "ipfix.h"
#include "netns.h"
#include "test.h"
#include "test_collect.h"

/* ---- the encoder ---- */

struct capture {
	unsigned char msg[64][IPFIX_MAX_MSG];
	size_t len[64];
	int n;
};

static int capture_send(void *ctx, const void *msg, size_t len)
{
	struct capture *c = ctx;

	if (c->n < 64) {
		memcpy(c->msg[c->n], msg, len);
		c->len[c->n++] = len;
	}
	return 0;
}

static __u16 get16(const unsigned char *p)
{
	return p[0] << 8 | p[1];
}

static __u32 get32(const unsigned char *p)
{
	return (__u32)get16(p) << 16 | get16(p + 2);
}

static __u64 get64(const unsigned char *p)
{
	return (__u64)get32(p) << 32 | get32(p + 4);
}

#define V4_FIELDS 21
#define V4_LEN 76
#define V6_LEN 100
#define EXPORTER_LEN 41
/* The template set (IPv4 and IPv6) and the options template set. */
#define TMPL_SET_LEN (4 + 2 * (4 + 4 * V4_FIELDS))
#define OPT_SET_LEN (4 + 6 + 4 * 7)

/* One template record at p against the expected layout; its length. */
static size_t check_template(const unsigned char *p, __u16 id, bool v6)
{
	static const __u16 ids4[V4_FIELDS] = { 152, 153, 1,  2,	 10,  14,  8,
					       12,  7,	 11, 4,	 6,   61,  58,
					       136, 32,	 5,  89, 245, 351, 70 };
	static const __u16 lens[V4_FIELDS] = { 8, 8, 8, 8, 4, 4, 4, 4, 2, 2, 1,
					       2, 1, 2, 1, 2, 1, 1, 2, 8, 3 };
	__u16 n = get16(p + 2), i;

	ASSERT_EQ(get16(p), id, "template id");
	ASSERT_EQ(n, V4_FIELDS, "template field count");
	for (i = 0; i < n && i < V4_FIELDS; i++) {
		__u16 want = ids4[i], wlen = lens[i];

		if (v6 && want == 8)
			want = 27, wlen = 16;
		else if (v6 && want == 12)
			want = 28, wlen = 16;
		else if (v6 && want == 32)
			want = 139;
		ASSERT_EQ(get16(p + 4 + 4 * i), want, "information element");
		ASSERT_EQ(get16(p + 6 + 4 * i), wlen, "field length");
	}
	return 4 + 4 * n;
}

/* The options template: scope observationDomainId, then the fields. */
static size_t check_options_template(const unsigned char *p)
{
	static const __u16 ids[] = { 149, 41, 42, 40, 166, 34, 35 };
	static const __u16 lens[] = { 4, 8, 8, 8, 8, 4, 1 };
	size_t i;

	ASSERT_EQ(get16(p), IPFIX_TMPL_EXPORTER, "options template id");
	ASSERT_EQ(get16(p + 2), 7, "options template field count");
	ASSERT_EQ(get16(p + 4), 1, "scope field count");
	for (i = 0; i < 7; i++) {
		ASSERT_EQ(get16(p + 6 + 4 * i), ids[i], "options element");
		ASSERT_EQ(get16(p + 8 + 4 * i), lens[i],
			  "options field length");
	}
	return 6 + 4 * 7;
}

static void record_v4_qinq(struct acct_record *r)
{
	test_record_v4(r, 0);
	r->key.vlan = 100;
	r->key.inner_vlan = 200;
	r->tos = 46 << 2 | 1;
	r->verdict = FLOWBPF_VERDICT_DROP;
	r->source = FLOWBPF_SRC_DAEMON;
	r->fwd = ACCT_FWD_ACL_DENY;
}

/* The message header; where the first set begins. */
static const unsigned char *layout_header(const unsigned char *m, size_t len)
{
	/* Header, templates, options template, exporter, IPv4, IPv6. */
	ASSERT_EQ(len,
		  16 + TMPL_SET_LEN + OPT_SET_LEN + (4 + EXPORTER_LEN) +
			  (4 + V4_LEN) + (4 + V6_LEN),
		  "message length");
	ASSERT_EQ(get16(m), 10, "version");
	ASSERT_EQ(get16(m + 2), len, "header length");
	ASSERT_EQ(get32(m + 4), 1700000005, "export time");
	ASSERT_EQ(get32(m + 8), 0, "first sequence number");
	ASSERT_EQ(get32(m + 12), 42, "observation domain");
	return m + 16;
}

/* The template set and the options template set at p; what follows. */
static const unsigned char *layout_templates(const unsigned char *p)
{
	size_t off = 4;

	ASSERT_EQ(get16(p), 2, "template set id");
	ASSERT_EQ(get16(p + 2), TMPL_SET_LEN, "template set length");
	off += check_template(p + off, 256, false);
	off += check_template(p + off, 257, true);
	p += off;
	ASSERT_EQ(get16(p), 3, "options template set id");
	ASSERT_EQ(get16(p + 2), OPT_SET_LEN, "options template set length");
	return p + 4 + check_options_template(p + 4);
}

/* The exporter's set at p, counters as subtest_layout() set them. */
static const unsigned char *layout_exporter(const unsigned char *p)
{
	ASSERT_EQ(get16(p), IPFIX_TMPL_EXPORTER, "exporter set id");
	ASSERT_EQ(get16(p + 2), 4 + EXPORTER_LEN, "exporter set length");
	p += 4;
	ASSERT_EQ(get32(p), 42, "scope: observationDomainId");
	ASSERT_EQ(get64(p + 4), 7, "exportedMessageTotalCount");
	ASSERT_EQ(get64(p + 12), 700, "exportedFlowRecordTotalCount");
	ASSERT_EQ(get64(p + 20), 70000, "exportedOctetTotalCount");
	ASSERT_EQ(get64(p + 28), 3, "notSentFlowTotalCount");
	ASSERT_EQ(get32(p + 36), 1, "samplingInterval: every packet");
	ASSERT_EQ(p[40], 1, "samplingAlgorithm: deterministic");
	return p + EXPORTER_LEN;
}

/* The IPv4 data set at p: record_v4_qinq(), every field. */
static const unsigned char *layout_v4(const unsigned char *p,
				      const struct acct_record *r4)
{
	ASSERT_EQ(get16(p), 256, "IPv4 data set id");
	ASSERT_EQ(get16(p + 2), 4 + V4_LEN, "IPv4 data set length");
	p += 4;
	ASSERT_EQ(get64(p), r4->start_ms, "flowStartMilliseconds");
	ASSERT_EQ(get64(p + 8), r4->end_ms, "flowEndMilliseconds");
	ASSERT_EQ(get64(p + 16), 1000, "octetDeltaCount");
	ASSERT_EQ(get64(p + 24), 10, "packetDeltaCount");
	ASSERT_EQ(get32(p + 32), 7, "ingressInterface");
	ASSERT_EQ(get32(p + 36), 0, "egressInterface");
	ASSERT_EQ(get32(p + 40), 0xc6120001, "sourceIPv4Address");
	ASSERT_EQ(get32(p + 44), 0xc6120002, "destinationIPv4Address");
	ASSERT_EQ(get16(p + 48), 40000, "sourceTransportPort");
	ASSERT_EQ(get16(p + 50), 443, "destinationTransportPort");
	ASSERT_EQ(p[52], 6, "protocolIdentifier");
	ASSERT_EQ(get16(p + 53), 0x1b, "tcpControlBits");
	ASSERT_EQ(p[55], 0, "flowDirection ingress");
	ASSERT_EQ(get16(p + 56), 100, "vlanId: the outer tag");
	ASSERT_EQ(p[58], 3, "flowEndReason end of flow");
	ASSERT_EQ(get16(p + 59), 0, "icmpTypeCodeIPv4 of TCP");
	ASSERT_EQ(p[61], 0xb9, "ipClassOfService");
	ASSERT_EQ(p[62], 129, "forwardingStatus: dropped, ACL deny");
	ASSERT_EQ(get16(p + 63), 200, "dot1qCustomerVlanId: the inner tag");
	ASSERT_EQ(get64(p + 65), 0, "layer2SegmentId: not tunnelled");
	ASSERT_EQ(get16(p + 73) | p[75], 0,
		  "mplsTopLabelStackSection: no label");
	return p + V4_LEN;
}

/* The IPv6 data set at p: the ICMPv6 record of subtest_layout(). */
static void layout_v6(const unsigned char *p)
{
	ASSERT_EQ(get16(p), 257, "IPv6 data set id");
	ASSERT_EQ(get16(p + 2), 4 + V6_LEN, "IPv6 data set length");
	p += 4;
	ASSERT_EQ(get32(p + 32), 0, "ingressInterface of egress flow");
	ASSERT_EQ(get32(p + 36), 7, "egressInterface");
	ASSERT_EQ(get32(p + 40), 0x20010db8, "sourceIPv6Address");
	ASSERT_EQ(get32(p + 52), 1, "sourceIPv6Address low word");
	ASSERT_EQ(get32(p + 68), 2, "destinationIPv6Address low word");
	ASSERT_EQ(get16(p + 72), 0, "no ports for ICMPv6");
	ASSERT_EQ(p[76], 58, "protocolIdentifier");
	ASSERT_EQ(p[79], 1, "flowDirection egress");
	ASSERT_EQ(p[82], 1, "flowEndReason idle");
	ASSERT_EQ(get16(p + 83), 128 << 8, "icmpTypeCodeIPv6");
	ASSERT_EQ(p[85], 0xa1, "ipClassOfService (traffic class)");
	ASSERT_EQ(p[86], 64, "forwardingStatus: forwarded");
	ASSERT_EQ(get16(p + 87), 0, "no inner VLAN");
	ASSERT_EQ(get64(p + 89), 0, "layer2SegmentId: not tunnelled");
	ASSERT_EQ(get16(p + 97) | p[99], 0,
		  "mplsTopLabelStackSection: no label");
}

static void subtest_layout(void)
{
	struct capture *cap = calloc(1, sizeof(*cap));
	struct ipfix_enc *e = calloc(1, sizeof(*e));
	struct ipfix_exported x = { 7, 700, 70000, 3 };
	struct acct_record r4, r6;
	const unsigned char *p;

	if (!ASSERT_OK_PTR(cap, "alloc") || !ASSERT_OK_PTR(e, "alloc"))
		goto out;
	ASSERT_EQ(ipfix_record_len(4), V4_LEN, "IPv4 data record length");
	ASSERT_EQ(ipfix_record_len(6), V6_LEN, "IPv6 data record length");
	ASSERT_EQ(ipfix_exporter_record_len(), EXPORTER_LEN,
		  "exporter record length");
	ipfix_enc_init(e, 42, 1472, 0, capture_send, cap);
	e->exported = &x;
	record_v4_qinq(&r4);
	test_record_v6_icmp(&r6);
	r6.tos = 0xa1;
	r6.fwd = ACCT_FWD_FORWARDED;
	ipfix_enc_add(e, &r4, 1700000005000ULL);
	ipfix_enc_add(e, &r6, 1700000005000ULL);
	ipfix_enc_flush(e);
	if (!ASSERT_EQ(cap->n, 1, "one message"))
		goto out;
	p = layout_header(cap->msg[0], cap->len[0]);
	p = layout_templates(p);
	p = layout_exporter(p);
	p = layout_v4(p, &r4);
	layout_v6(p);
out:
	free(cap);
	free(e);
}

/*
 * Walks every set of every message: lengths add up, sequence numbers
 * count flow records, templates and the exporter's record lead the
 * messages they are in.  Returns the flow records seen.
 */
static __u32 walk(const struct capture *cap, int *tmpl_msgs, int *exp_msgs)
{
	__u32 records = 0, seq_expect = 0;
	int m;

	*tmpl_msgs = *exp_msgs = 0;
	for (m = 0; m < cap->n; m++) {
		const unsigned char *p = cap->msg[m];
		size_t off = 16;
		bool data = false;
		char name[64];

		ASSERT_EQ(get16(p + 2), cap->len[m], "header length");
		snprintf(name, sizeof(name), "message %d sequence number", m);
		ASSERT_EQ(get32(p + 8), seq_expect, name);
		while (off + 4 <= cap->len[m]) {
			__u16 id = get16(p + off), len = get16(p + off + 2);

			if (!ASSERT_GE(len, 4, "set length") ||
			    !ASSERT_LE(off + len, cap->len[m],
				       "set inside message"))
				break;
			if (id == 2) {
				(*tmpl_msgs)++;
				ASSERT_EQ(off, 16,
					  "templates lead the message");
			} else if (id == 3) {
				ASSERT_FALSE(data, "options template first");
			} else if (id == IPFIX_TMPL_EXPORTER) {
				(*exp_msgs)++;
				ASSERT_FALSE(data, "exporter record first");
				ASSERT_EQ(len, 4 + EXPORTER_LEN,
					  "one exporter record");
			} else if (id == 256 || id == 257) {
				size_t rl = ipfix_record_len(id == 257 ? 6 : 4);

				data = true;
				ASSERT_EQ((len - 4) % rl, 0, "whole records");
				records += (len - 4) / rl;
				seq_expect += (len - 4) / rl;
			} else {
				ASSERT_TRUE(false, "known set id");
			}
			off += len;
		}
		ASSERT_EQ(off, cap->len[m], "sets fill the message");
	}
	return records;
}

static void subtest_split(void)
{
	struct capture *cap = calloc(1, sizeof(*cap));
	struct ipfix_enc *e = calloc(1, sizeof(*e));
	int i, tmpl_msgs, exp_msgs;
	struct acct_record r;

	if (!ASSERT_OK_PTR(cap, "alloc") || !ASSERT_OK_PTR(e, "alloc"))
		goto out;
	/* 1500-byte path, IPv4: 1472 bytes of message. */
	ipfix_enc_init(e, 1, 1472, 10000, capture_send, cap);
	for (i = 0; i < 100; i++) {
		if (i % 3 == 2)
			test_record_v6_icmp(&r);
		else
			test_record_v4(&r, i);
		/* Time passes: one template refresh half way. */
		ipfix_enc_add(e, &r, 1700000000000ULL + (i >= 50) * 20000);
	}
	ipfix_enc_flush(e);
	ASSERT_GE(cap->n, 5, "several messages");
	for (i = 0; i < cap->n; i++)
		ASSERT_LE(cap->len[i], 1472, "message within the path MTU");
	ASSERT_EQ(walk(cap, &tmpl_msgs, &exp_msgs), 100,
		  "every record exported once");
	ASSERT_EQ(e->seq, 100, "sequence counter");
	ASSERT_EQ(tmpl_msgs, 2, "templates at start and once refreshed");
	ASSERT_EQ(exp_msgs, 2, "the exporter's record with them");
out:
	free(cap);
	free(e);
}

/* As over TCP: templates once a session, the exporter's record on its
 * own interval; a new session starts over. */
static void subtest_session(void)
{
	struct capture *cap = calloc(1, sizeof(*cap));
	struct ipfix_enc *e = calloc(1, sizeof(*e));
	__u64 t = 1700000000000ULL;
	int tmpl_msgs, exp_msgs;
	struct acct_record r;

	if (!ASSERT_OK_PTR(cap, "alloc") || !ASSERT_OK_PTR(e, "alloc"))
		goto out;
	ipfix_enc_init(e, 1, IPFIX_MAX_MSG, 0, capture_send, cap);
	e->stats_ms = 1000;
	test_record_v4(&r, 0);
	ipfix_enc_add(e, &r, t);
	ASSERT_TRUE(ipfix_enc_fits(e, &r, t + 10), "fits the open message");
	ASSERT_FALSE(ipfix_enc_fits(e, &r, t + 1000),
		     "the exporter's record is due: a new message");
	ipfix_enc_flush(e);
	ipfix_enc_add(e, &r, t + 500);
	ipfix_enc_flush(e);
	ipfix_enc_add(e, &r, t + 1200);
	ipfix_enc_flush(e);
	if (!ASSERT_EQ(cap->n, 3, "three messages"))
		goto out;
	ASSERT_EQ(walk(cap, &tmpl_msgs, &exp_msgs), 3, "three records");
	ASSERT_EQ(tmpl_msgs, 1, "templates once, with no refresh");
	ASSERT_EQ(exp_msgs, 2, "exporter record at start and after 1s");
	ASSERT_EQ(get16(cap->msg[2] + 16), IPFIX_TMPL_EXPORTER,
		  "the third message leads with the exporter's record");
	ipfix_enc_restart(e);
	cap->n = 0;
	ipfix_enc_add(e, &r, t + 1300);
	ipfix_enc_flush(e);
	ASSERT_EQ(get32(cap->msg[0] + 8), 0, "a new session counts from 0");
	ASSERT_EQ(get16(cap->msg[0] + 16), 2, "and sends templates first");
out:
	free(cap);
	free(e);
}

static void subtest_forwarding_status(void)
{
	static const struct {
		__u32 verdict, source, mode, pending;
		__u8 want;
		const char *what;
	} cases[] = {
		{ FLOWBPF_VERDICT_PASS, FLOWBPF_SRC_DAEMON,
		  FLOWBPF_MODE_ENFORCE, FLOWBPF_PENDING_HOLD, 64,
		  "pass: forwarded" },
		{ FLOWBPF_VERDICT_DROP, FLOWBPF_SRC_DAEMON,
		  FLOWBPF_MODE_ENFORCE, FLOWBPF_PENDING_HOLD, 129,
		  "daemon drop: ACL deny" },
		{ FLOWBPF_VERDICT_DROP, FLOWBPF_SRC_MANUAL,
		  FLOWBPF_MODE_ENFORCE, FLOWBPF_PENDING_PASS, 129,
		  "manual drop: ACL deny" },
		{ FLOWBPF_VERDICT_DROP, FLOWBPF_SRC_TIMEOUT,
		  FLOWBPF_MODE_ENFORCE, FLOWBPF_PENDING_PASS, 128,
		  "default after the timeout: dropped, unknown" },
		{ FLOWBPF_VERDICT_DROP, FLOWBPF_SRC_LIMIT, FLOWBPF_MODE_ENFORCE,
		  FLOWBPF_PENDING_PASS, 128, "flood guard default: dropped" },
		{ FLOWBPF_VERDICT_DROP, FLOWBPF_SRC_DAEMON,
		  FLOWBPF_MODE_MONITOR, FLOWBPF_PENDING_PASS, 64,
		  "monitor would-drop: forwarded" },
		{ FLOWBPF_VERDICT_QUEUED, FLOWBPF_SRC_KERNEL,
		  FLOWBPF_MODE_MONITOR, FLOWBPF_PENDING_PASS, 64,
		  "monitor, undecided: forwarded" },
		{ FLOWBPF_VERDICT_QUEUED, FLOWBPF_SRC_KERNEL,
		  FLOWBPF_MODE_ENFORCE, FLOWBPF_PENDING_PASS, 64,
		  "undecided, pending pass: forwarded" },
		{ FLOWBPF_VERDICT_QUEUED, FLOWBPF_SRC_KERNEL,
		  FLOWBPF_MODE_ENFORCE, FLOWBPF_PENDING_DROP, 128,
		  "undecided, pending drop: dropped" },
		{ FLOWBPF_VERDICT_QUEUED, FLOWBPF_SRC_KERNEL,
		  FLOWBPF_MODE_ENFORCE, FLOWBPF_PENDING_HOLD, 0,
		  "undecided, held: unknown" },
		{ FLOWBPF_VERDICT_NONE, FLOWBPF_SRC_NONE, FLOWBPF_MODE_ENFORCE,
		  FLOWBPF_PENDING_PASS, 0, "no verdict: unknown" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ASSERT_EQ(acct_forwarding_status(cases[i].verdict,
						 cases[i].source, cases[i].mode,
						 cases[i].pending),
			  cases[i].want, cases[i].what);
}

/*
 * The tunnel elements, last in both templates: each case's record alone
 * in a message, found after the templates and the exporter's record.
 */
static void subtest_tunnel(void)
{
	static const struct {
		int family;
		__u8 tun_type;
		__u32 tun_id;
		__u64 seg;
		__u8 mpls[3];
		const char *what;
	} cases[] = {
		{ 4,
		  FLOWBPF_TUN_VXLAN,
		  5,
		  0x0100000000000005ULL,
		  { 0 },
		  "VXLAN VNI 5: segment type VxLAN, id 5" },
		{ 6,
		  FLOWBPF_TUN_VXLAN,
		  0xffffff,
		  0x0100000000ffffffULL,
		  { 0 },
		  "IPv6, the largest VNI" },
		{ 4,
		  FLOWBPF_TUN_MPLS,
		  100,
		  0,
		  { 0x00, 0x06, 0x40 },
		  "MPLS label 100: label << 4, TC 0, S 0" },
		{ 6,
		  FLOWBPF_TUN_MPLS,
		  0xfffff,
		  0,
		  { 0xff, 0xff, 0xf0 },
		  "IPv6, the largest MPLS label" },
		{ 4, FLOWBPF_TUN_NONE, 0, 0, { 0 }, "not tunnelled: zeros" },
		{ 4,
		  FLOWBPF_TUN_GENEVE,
		  7,
		  0,
		  { 0 },
		  "GENEVE: no segment type defined" },
		{ 4, FLOWBPF_TUN_GRE, 9, 0, { 0 }, "GRE key: not NVGRE" },
		{ 6, FLOWBPF_TUN_PPPOE, 3, 0, { 0 }, "PPPoE: none" },
	};
	struct capture *cap = calloc(1, sizeof(*cap));
	struct ipfix_enc *e = calloc(1, sizeof(*e));
	struct acct_record r;
	const unsigned char *p;
	size_t i, rl;

	if (!ASSERT_OK_PTR(cap, "alloc") || !ASSERT_OK_PTR(e, "alloc"))
		goto out;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].family == 6)
			test_record_v6_icmp(&r);
		else
			test_record_v4(&r, 0);
		r.key.tun_type = cases[i].tun_type;
		r.key.tun_id = cases[i].tun_id;
		cap->n = 0;
		ipfix_enc_init(e, 42, 1472, 0, capture_send, cap);
		ipfix_enc_add(e, &r, 1700000005000ULL);
		ipfix_enc_flush(e);
		rl = ipfix_record_len(cases[i].family);
		if (!ASSERT_EQ(cap->n, 1, "one message") ||
		    !ASSERT_EQ(cap->len[0],
			       16 + TMPL_SET_LEN + OPT_SET_LEN +
				       (4 + EXPORTER_LEN) + 4 + rl,
			       "message length"))
			continue;
		/* The data record is the message's last rl bytes. */
		p = cap->msg[0] + cap->len[0] - rl;
		ASSERT_EQ(get16(p - 4), cases[i].family == 6 ? 257 : 256,
			  "data set id");
		ASSERT_EQ(get64(p + rl - 11), cases[i].seg, cases[i].what);
		ASSERT_EQ(p[rl - 3], cases[i].mpls[0], cases[i].what);
		ASSERT_EQ(p[rl - 2], cases[i].mpls[1], cases[i].what);
		ASSERT_EQ(p[rl - 1], cases[i].mpls[2], cases[i].what);
	}
out:
	free(cap);
	free(e);
}

static void subtest_json(void)
{
	struct acct_record r;
	json_t *o;

	record_v4_qinq(&r);
	o = acct_record_json(&r);
	if (!ASSERT_OK_PTR(o, "json"))
		return;
	ASSERT_EQ(json_integer_value(json_object_get(o, "tos")), 0xb9, "tos");
	ASSERT_EQ(json_integer_value(json_object_get(o, "vlan")), 100, "vlan");
	ASSERT_EQ(json_integer_value(json_object_get(o, "inner_vlan")), 200,
		  "inner_vlan");
	ASSERT_STREQ(json_string_value(json_object_get(o, "verdict")), "drop",
		     "verdict");
	ASSERT_STREQ(json_string_value(json_object_get(o, "verdict_source")),
		     "daemon", "verdict_source");
	ASSERT_EQ(json_integer_value(json_object_get(o, "forwarding_status")),
		  129, "forwarding_status");
	json_decref(o);
}

/* ---- real collectors ---- */

/* One record as a collector shows it; -1: the collector does not say. */
struct xrec {
	char src[48], dst[48];
	int proto, sport, dport; /* ICMP: dport = type << 8 | code */
	long long start, end, packets, bytes;
	int tos, vlan, cvlan, fwd, in_if, out_if, sampling;
	bool used;
};

static void xrec_init(struct xrec *x)
{
	memset(x, 0, sizeof(*x));
	x->tos = x->vlan = x->cvlan = x->fwd = -1;
	x->in_if = x->out_if = x->sampling = -1;
}

static long long jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_string(v))
		return atoll(json_string_value(v));
	return v ? json_integer_value(v) : -1;
}

static const char *jstr(json_t *o, const char *a, const char *b)
{
	const char *s = json_string_value(json_object_get(o, a));

	if (!s && b)
		s = json_string_value(json_object_get(o, b));
	return s ? s : "";
}

/* "2026-12-01T22:07:54.872" or "2026-12-01 22:07:55.905000", UTC. */
static long long utc_ms(const char *s)
{
	struct tm tm = {};
	const char *frac;
	long long ms = 0;
	int i;

	if (strlen(s) < 19)
		return -1;
	tm.tm_year = atoi(s) - 1900;
	tm.tm_mon = atoi(s + 5) - 1;
	tm.tm_mday = atoi(s + 8);
	tm.tm_hour = atoi(s + 11);
	tm.tm_min = atoi(s + 14);
	tm.tm_sec = atoi(s + 17);
	frac = s + 19;
	if (*frac == '.')
		for (i = 1; i <= 3; i++)
			ms = ms * 10 + (frac[i] >= '0' && frac[i] <= '9'
						? frac[i] - '0'
						: 0);
	return (long long)timegm(&tm) * 1000 + ms;
}

static int xrec_push(struct xrec **v, int n, const struct xrec *x)
{
	struct xrec *nv = realloc(*v, (n + 1) * sizeof(**v));

	if (!nv)
		return n;
	*v = nv;
	nv[n] = *x;
	return n + 1;
}

/* Each JSON line of path through fn into a fresh xrec, kept when fn says
 * so: the records kept, counted (none when path cannot be read). */
static int read_xrec_lines(const char *path, struct xrec **out,
			   bool (*fn)(json_t *o, struct xrec *x, void *arg),
			   void *arg)
{
	char line[8192];
	FILE *f = fopen(path, "r");
	struct xrec x;
	int n = 0;

	*out = NULL;
	while (f && fgets(line, sizeof(line), f)) {
		json_t *o = json_loads(line, 0, NULL);

		if (!o)
			continue;
		xrec_init(&x);
		if (fn(o, &x, arg))
			n = xrec_push(out, n, &x);
		json_decref(o);
	}
	if (f)
		fclose(f);
	return n;
}

static bool jsonl_xrec(json_t *o, struct xrec *x, void *arg)
{
	bool in = !strcmp(jstr(o, "dir", NULL), "in");

	snprintf(x->src, sizeof(x->src), "%s", jstr(o, "src", NULL));
	snprintf(x->dst, sizeof(x->dst), "%s", jstr(o, "dst", NULL));
	x->proto = jint(o, "proto");
	if (json_object_get(o, "icmp_type")) {
		x->dport = jint(o, "icmp_type") << 8 | jint(o, "icmp_code");
	} else {
		x->sport = jint(o, "sport");
		x->dport = jint(o, "dport");
	}
	x->start = jint(o, "start_ms");
	x->end = jint(o, "end_ms");
	x->packets = jint(o, "packets");
	x->bytes = jint(o, "bytes");
	x->tos = jint(o, "tos");
	x->vlan = jint(o, "vlan");
	x->cvlan = jint(o, "inner_vlan");
	x->fwd = jint(o, "forwarding_status");
	x->in_if = in ? jint(o, "ifindex") : 0;
	x->out_if = in ? 0 : jint(o, "ifindex");
	x->sampling = 1;
	return true;
}

/* flowbpf's JSON lines: the reference every collector is held to. */
static int read_jsonl(const char *path, struct xrec **out)
{
	return read_xrec_lines(path, out, jsonl_xrec, NULL);
}

/* nfdump -o json: what nfcapd stored.  nfdump 1.7 decodes neither
 * forwardingStatus nor dot1qCustomerVlanId from IPFIX, and applies no
 * sampling rate from options records ("sampled": 0 means unscaled). */
static int read_nfdump(const char *dir, struct xrec **out, int *sampled)
{
	char *txt = NULL, *wrapped = NULL;
	json_t *arr = NULL, *o;
	struct xrec x;
	size_t i;
	int n = 0;

	*out = NULL;
	*sampled = 0;
	if (run(&txt, NULL, "TZ=UTC nfdump -R %s -N -o json", dir) || !txt)
		goto out;
	arr = json_loads(txt, JSON_DISABLE_EOF_CHECK, NULL);
	if (!json_is_array(arr)) {
		/* Some versions print the objects without the brackets. */
		json_decref(arr);
		if (asprintf(&wrapped, "[%s]", txt) < 0)
			goto out;
		arr = json_loads(wrapped, 0, NULL);
	}
	json_array_foreach(arr, i, o) {
		if (strcmp(jstr(o, "type", NULL), "FLOW"))
			continue;
		xrec_init(&x);
		snprintf(x.src, sizeof(x.src), "%s",
			 jstr(o, "src4_addr", "src6_addr"));
		snprintf(x.dst, sizeof(x.dst), "%s",
			 jstr(o, "dst4_addr", "dst6_addr"));
		x.proto = jint(o, "proto");
		if (json_object_get(o, "icmp_type")) {
			x.dport = jint(o, "icmp_type") << 8 |
				  jint(o, "icmp_code");
		} else {
			x.sport = jint(o, "src_port");
			x.dport = jint(o, "dst_port");
		}
		x.start = utc_ms(jstr(o, "first", NULL));
		x.end = utc_ms(jstr(o, "last", NULL));
		x.packets = jint(o, "in_packets");
		x.bytes = jint(o, "in_bytes");
		x.tos = jint(o, "src_tos");
		x.vlan = jint(o, "src_vlan");
		x.in_if = jint(o, "input_snmp");
		x.out_if = jint(o, "output_snmp");
		*sampled += jint(o, "sampled") != 0;
		n = xrec_push(out, n, &x);
	}
out:
	json_decref(arr);
	free(txt);
	free(wrapped);
	return n;
}

struct nfacctd_read {
	long long domain;
	struct xrec *control;
};

static bool nfacctd_xrec(json_t *o, struct xrec *x, void *arg)
{
	struct nfacctd_read *a = arg;

	snprintf(x->src, sizeof(x->src), "%s", jstr(o, "ip_src", NULL));
	snprintf(x->dst, sizeof(x->dst), "%s", jstr(o, "ip_dst", NULL));
	x->proto = jint(o, "ip_proto");
	x->sport = jint(o, "port_src");
	x->dport = jint(o, "port_dst");
	x->start = utc_ms(jstr(o, "timestamp_start", NULL));
	x->end = utc_ms(jstr(o, "timestamp_end", NULL));
	x->packets = jint(o, "packets");
	x->bytes = jint(o, "bytes");
	x->tos = jint(o, "tos");
	x->vlan = jint(o, "vlan");
	x->cvlan = jint(o, "cvlan");
	x->fwd = jint(o, "fwdstatus");
	x->in_if = jint(o, "iface_in");
	x->out_if = jint(o, "iface_out");
	x->sampling = jint(o, "sampling_rate");
	if (jint(o, "export_proto_sysid") == a->domain)
		return true;
	*a->control = *x;
	return false;
}

/* nfacctd's print plugin, JSON lines; a record of another domain than
 * domain (the control export) goes to *control instead.  ICMP has no
 * ports there. */
static int read_nfacctd(const char *path, long long domain, struct xrec **out,
			struct xrec *control)
{
	struct nfacctd_read a = { domain, control };

	xrec_init(control);
	return read_xrec_lines(path, out, nfacctd_xrec, &a);
}

/* The collector's record of the flow r, by its key and start. */
static struct xrec *find(struct xrec *v, int n, const struct xrec *r,
			 bool icmp_ports)
{
	bool icmp = flowbpf_proto_is_icmp(r->proto);
	int i;

	for (i = 0; i < n; i++) {
		if (v[i].used || strcmp(v[i].src, r->src) ||
		    strcmp(v[i].dst, r->dst) || v[i].proto != r->proto ||
		    v[i].start != r->start)
			continue;
		if ((!icmp || icmp_ports) &&
		    (v[i].sport != r->sport || v[i].dport != r->dport))
			continue;
		v[i].used = true;
		return &v[i];
	}
	return NULL;
}

#define SAME(field)                                                 \
	do {                                                        \
		if (got->field >= 0)                                \
			ASSERT_EQ(got->field, want->field, #field); \
	} while (0)

/* Every field a collector shows equals flowbpf's record. */
static void compare(const char *who, const struct xrec *want,
		    const struct xrec *got)
{
	if (!got) {
		test__log(
			"  %s has no record of %s -> %s proto %d %d/%d at %lld\n",
			who, want->src, want->dst, want->proto, want->sport,
			want->dport, want->start);
		ASSERT_TRUE(false, "the collector has the record");
		return;
	}
	SAME(end);
	SAME(packets);
	SAME(bytes);
	SAME(tos);
	SAME(vlan);
	SAME(cvlan);
	SAME(fwd);
	SAME(in_if);
	SAME(out_if);
	SAME(sampling);
}

struct frame_send {
	const char *ifname;
	__u8 dmac[ETH_ALEN];
	struct in_addr src, dst;
};

/* Ethernet, tags (outer first; 0: none), IPv4 with tos, UDP to dport. */
static size_t tagged_frame(__u8 *f, const __u8 *dmac, const __u8 *smac,
			   const __u16 *tags, struct in_addr src,
			   struct in_addr dst, __u8 tos, __u16 dport)
{
	static const __u16 tpid[] = { ETH_P_8021AD, ETH_P_8021Q };
	size_t off = 12, i, ip, ntags = tags[1] ? 2 : 1;
	__u32 sum = 0;

	memcpy(f, dmac, ETH_ALEN);
	memcpy(f + 6, smac, ETH_ALEN);
	for (i = 0; i < ntags; i++, off += 4) {
		__u16 t = htons(ntags == 1 ? ETH_P_8021Q : tpid[i]);
		__u16 tci = htons(tags[i]);

		memcpy(f + off, &t, 2);
		memcpy(f + off + 2, &tci, 2);
	}
	f[off] = 0x08, f[off + 1] = 0x00;
	ip = off + 2;
	memset(f + ip, 0, 20 + 8 + 16);
	f[ip] = 0x45;
	f[ip + 1] = tos;
	f[ip + 3] = 20 + 8 + 16;
	f[ip + 8] = 64;
	f[ip + 9] = 17;
	memcpy(f + ip + 12, &src, 4);
	memcpy(f + ip + 16, &dst, 4);
	for (i = 0; i < 20; i += 2)
		sum += f[ip + i] << 8 | f[ip + i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	f[ip + 10] = ~sum >> 8, f[ip + 11] = ~sum & 0xff;
	f[ip + 20] = 0x9c, f[ip + 21] = 0x40; /* sport 40000 */
	f[ip + 22] = dport >> 8, f[ip + 23] = dport & 0xff;
	f[ip + 25] = 8 + 16;
	return ip + 20 + 8 + 16;
}

/*
 * In the test namespace: three QinQ datagrams (802.1ad 100, 802.1Q 200,
 * DSCP AF11) to the discard port, which the policy denies, and two
 * 802.1Q-tagged ones (VLAN 300, DSCP CS4) to the echo port, which it
 * allows.  This kernel may have no VLAN devices; raw frames need none.
 */
static int tagged_sender(void *arg)
{
	static const __u16 qinq[] = { 100, 200 }, dot1q[] = { 300, 0 };
	struct frame_send *s = arg;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET,
				   .sll_halen = ETH_ALEN };
	struct ifreq ifr = {};
	__u8 f[128], smac[ETH_ALEN];
	size_t len;
	int fd, i;

	fd = socket(AF_PACKET, SOCK_RAW, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", s->ifname);
	if (fd < 0 || ioctl(fd, SIOCGIFHWADDR, &ifr))
		return 1;
	memcpy(smac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	sll.sll_ifindex = if_nametoindex(s->ifname);
	memcpy(sll.sll_addr, s->dmac, ETH_ALEN);
	for (i = 0; i < 5; i++) {
		len = tagged_frame(f, s->dmac, smac, i < 3 ? qinq : dot1q,
				   s->src, s->dst, i < 3 ? 10 << 2 : 32 << 2,
				   i < 3 ? 9 : 7);
		if (sendto(fd, f, len, 0, (void *)&sll, sizeof(sll)) !=
		    (ssize_t)len)
			return 1;
		usleep(20000);
	}
	close(fd);
	return 0;
}

static int send_tagged(struct test_net *n)
{
	struct frame_send s = { .ifname = n->peer_if };
	unsigned int m[ETH_ALEN];
	char *mac = NULL;
	int i, err;

	err = run(&mac, NULL, "cat /sys/class/net/%s/address", n->host_if);
	if (err || !mac ||
	    sscanf(mac, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4],
		   &m[5]) != 6) {
		free(mac);
		return -1;
	}
	for (i = 0; i < ETH_ALEN; i++)
		s.dmac[i] = m[i];
	free(mac);
	inet_pton(AF_INET, n->peer_ip, &s.src);
	inet_pton(AF_INET, n->host_ip, &s.dst);
	return ns_fork(n->ns, tagged_sender, &s, true);
}

/*
 * A message as the encoder makes it, without the options template and
 * the exporter's record: what an exporter that says nothing about its
 * sampling sends.  nfacctd must show rate 0 for it, so the 1 it shows for
 * flowbpf's records is read from the options record, not a default.
 */
static int send_control(int port, __u32 domain, const char *src)
{
	struct capture *cap = calloc(1, sizeof(*cap));
	struct ipfix_enc *e = calloc(1, sizeof(*e));
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	unsigned char out[2048];
	size_t off = 16, o = 16;
	struct acct_record r;
	int fd = -1, err = -1;

	if (!cap || !e)
		goto out;
	ipfix_enc_init(e, domain, 1472, 0, capture_send, cap);
	test_record_v4(&r, 0);
	inet_pton(AF_INET, src, &r.key.saddr[3]);
	r.start_ms = r.end_ms = (__u64)time(NULL) * 1000;
	ipfix_enc_add(e, &r, r.start_ms);
	ipfix_enc_flush(e);
	memcpy(out, cap->msg[0], 16);
	while (off + 4 <= cap->len[0]) {
		__u16 id = get16(cap->msg[0] + off);
		__u16 len = get16(cap->msg[0] + off + 2);

		if (id != 3 && id != IPFIX_TMPL_EXPORTER) {
			memcpy(out + o, cap->msg[0] + off, len);
			o += len;
		}
		off += len;
	}
	out[2] = o >> 8, out[3] = o & 0xff;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd >= 0 &&
	    sendto(fd, out, o, 0, (void *)&a, sizeof(a)) == (ssize_t)o)
		err = 0;
out:
	if (fd >= 0)
		close(fd);
	free(cap);
	free(e);
	return err;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f)
		return -1;
	if (fputs(text, f) < 0)
		err = -1;
	if (fclose(f))
		err = -1;
	return err;
}

/* nfacctd on 127.0.0.1:port, JSON lines into dir/nfacctd.json. */
static pid_t start_nfacctd(const char *dir, int port)
{
	char conf[4096], path[256], prim[256];

	snprintf(prim, sizeof(prim), "%s/primitives.lst", dir);
	/* pmacct has no primitive of its own for these two: it reads any
	 * element given its id and length. */
	if (write_file(prim,
		       "name=cvlan field_type=245 len=2 semantics=u_int\n"
		       "name=fwdstatus field_type=89 len=1 semantics=u_int\n"))
		return -1;
	snprintf(
		conf, sizeof(conf),
		"daemonize: false\n"
		"nfacctd_ip: 127.0.0.1\n"
		"nfacctd_port: %d\n"
		"logfile: %s/nfacctd.log\n"
		"aggregate_primitives: %s\n"
		"plugins: print[p]\n"
		"aggregate[p]: src_host, dst_host, src_port, dst_port, proto, tos, vlan, cvlan, fwdstatus, sampling_rate, timestamp_start, timestamp_end, in_iface, out_iface, export_proto_sysid\n"
		"print_output[p]: json\n"
		"print_output_file[p]: %s/nfacctd.json\n"
		"print_output_file_append[p]: true\n"
		"print_refresh_time[p]: 1\n"
		"print_num_protos[p]: true\n"
		"timestamps_utc: true\n"
		"nfacctd_time_new: false\n",
		port, dir, prim, dir);
	snprintf(path, sizeof(path), "%s/nfacctd.conf", dir);
	if (write_file(path, conf))
		return -1;
	return spawn("exec nfacctd -f %s >%s/nfacctd.out 2>&1", path, dir);
}

/* nfacctd keeps SIGTERM blocked while it waits for datagrams; SIGINT
 * stops it the same way (its plugins flush and exit with it). */
static int stop_nfacctd(pid_t pid)
{
	if (pid <= 0)
		return -1;
	kill(pid, SIGINT);
	return ns_wait(pid, 5000);
}

/* Waits until something has bound UDP port on loopback, up to ms. */
static int wait_bound(int port, int ms)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	int t, fd, err;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (t = 0; t < ms; t += 50) {
		fd = socket(AF_INET, SOCK_DGRAM, 0);
		if (fd < 0)
			return -errno;
		err = bind(fd, (void *)&a, sizeof(a)) ? errno : 0;
		close(fd);
		if (err == EADDRINUSE)
			return 0;
		usleep(50000);
	}
	return -ETIMEDOUT;
}

/* Waits until path has at least min lines, up to ms. */
static int wait_lines(const char *path, int min, int ms)
{
	char line[8192];
	int n = 0, t;

	for (t = 0; t < ms; t += 100) {
		FILE *f = fopen(path, "r");

		n = 0;
		while (f && fgets(line, sizeof(line), f))
			n++;
		if (f)
			fclose(f);
		if (n >= min)
			break;
		usleep(100000);
	}
	return n;
}

static const char collect_policy[] =
	"default allow;\n"
	"rule \"no-discard\" deny proto udp dport 9;\n";

static struct xrec *find_flow(struct xrec *v, int n, int proto, int dport,
			      int vlan)
{
	int i;

	for (i = 0; i < n; i++)
		if (v[i].proto == proto && v[i].dport == dport &&
		    v[i].vlan == vlan)
			return &v[i];
	return NULL;
}

/* What flowbpf itself recorded of the traffic the test made. */
static void check_own(struct test_net *n, struct xrec *jr, int njr)
{
	struct xrec *r;
	int i, pings = 0;

	r = find_flow(jr, njr, 17, 9, 100);
	if (ASSERT_OK_PTR(r, "the QinQ flow")) {
		ASSERT_EQ(r->cvlan, 200, "inner VLAN of the QinQ flow");
		ASSERT_EQ(r->tos, 10 << 2, "its DSCP (AF11)");
		ASSERT_EQ(r->fwd, 129, "denied by a rule: dropped, ACL deny");
		ASSERT_EQ(r->packets, 3, "its packets");
		ASSERT_EQ(r->bytes, 3 * 44, "its bytes");
	}
	r = find_flow(jr, njr, 17, 7, 300);
	if (ASSERT_OK_PTR(r, "the 802.1Q flow")) {
		ASSERT_EQ(r->cvlan, 0, "no inner VLAN");
		ASSERT_EQ(r->tos, 32 << 2, "its DSCP (CS4)");
		ASSERT_EQ(r->fwd, 64, "allowed: forwarded");
		ASSERT_EQ(r->packets, 2, "its packets");
	}
	for (i = 0; i < njr; i++) {
		if (jr[i].proto != 1)
			continue;
		pings++;
		ASSERT_EQ(jr[i].tos, 0xb8, "ping -Q 0xb8 (EF), either way");
		ASSERT_EQ(jr[i].fwd, 64, "ping forwarded");
		ASSERT_EQ(jr[i].packets, 3, "ping packets");
		ASSERT_TRUE(!strcmp(jr[i].src, n->host_ip) ||
				    !strcmp(jr[i].src, n->peer_ip),
			    "ping between the test hosts");
	}
	ASSERT_EQ(pings, 2, "echo requests and replies");
	r = find_flow(jr, njr, 58, 128 << 8, 0);
	if (ASSERT_OK_PTR(r, "the IPv6 echo requests")) {
		ASSERT_EQ(r->tos, 0xa1, "their traffic class");
		ASSERT_EQ(r->packets, 2, "their packets");
		ASSERT_EQ(r->fwd, 64, "forwarded");
	}
	r = find_flow(jr, njr, 58, 129 << 8, 0);
	if (ASSERT_OK_PTR(r, "the IPv6 echo replies"))
		ASSERT_EQ(r->tos, 0xa1, "the reply's traffic class");
}

static int other_udp_port(int not )
{
	int p, i;

	for (i = 0; i < 20; i++) {
		p = free_udp_port();
		if (p > 0 && p != not )
			return p;
	}
	return -1;
}

#define CONTROL_DOMAIN 0xfb

/* IPv6 on the pair (no duplicate address detection in the way); the
 * peer's address in peer6. */
static int v6_setup(struct test_net *n, char *peer6, size_t len)
{
	char host[48];

	snprintf(host, sizeof(host), "fd00:18:%x::1", n->host_ifindex);
	snprintf(peer6, len, "fd00:18:%x::2", n->host_ifindex);
	return run(
		NULL, NULL,
		"set -e; sysctl -qw net.ipv6.conf.%s.disable_ipv6=0; "
		"ip addr add %s/64 dev %s nodad; "
		"ip netns exec %s sysctl -qw net.ipv6.conf.%s.disable_ipv6=0; "
		"ip -n %s addr add %s/64 dev %s nodad",
		n->host_if, host, n->host_if, n->ns, n->peer_if, n->ns, peer6,
		n->peer_if);
}

/* ---- Wireshark's IPFIX dissector, the second reader of what nfdump
 * cannot decode ---- */

/* "Dec  1, 2026 23:16:54.570000000 UTC", as tshark prints times. */
static long long ws_ms(const char *s)
{
	struct tm tm = {};
	const char *frac = strptime(s, "%b %d, %Y %H:%M:%S", &tm);
	long long ms = 0;
	int i;

	if (!frac)
		return -1;
	if (*frac == '.')
		for (i = 1; i <= 3; i++)
			ms = ms * 10 + (frac[i] >= '0' && frac[i] <= '9'
						? frac[i] - '0'
						: 0);
	return (long long)timegm(&tm) * 1000 + ms;
}

/* tshark's values are strings, some of them hex ("0x28"). */
static long long jnum(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? strtoll(json_string_value(v), NULL, 0) : -1;
}

/* One data record as Wireshark decodes it.  It splits forwardingStatus
 * into the status (2 bits) and a reason code named after the status. */
static void ws_flow(json_t *f, struct xrec *x)
{
	json_t *t = json_object_get(f, "cflow.timedelta_tree");
	json_t *fs = json_object_get(f, "Forwarding Status"), *v;
	const char *k;

	xrec_init(x);
	snprintf(x->src, sizeof(x->src), "%s",
		 jstr(f, "cflow.srcaddr", "cflow.srcaddrv6"));
	snprintf(x->dst, sizeof(x->dst), "%s",
		 jstr(f, "cflow.dstaddr", "cflow.dstaddrv6"));
	x->proto = jnum(f, "cflow.protocol");
	x->sport = jnum(f, "cflow.srcport");
	x->dport = jnum(f, "cflow.dstport");
	x->start = ws_ms(jstr(t, "cflow.abstimestart", NULL));
	x->end = ws_ms(jstr(t, "cflow.abstimeend", NULL));
	x->packets = jnum(f, "cflow.packets");
	x->bytes = jnum(f, "cflow.octets");
	x->tos = jnum(f, "cflow.tos");
	x->vlan = jnum(f, "cflow.vlanid");
	x->cvlan = jnum(f, "cflow.dot1q_customer_vlan_id");
	x->in_if = jnum(f, "cflow.inputint");
	x->out_if = jnum(f, "cflow.outputint");
	x->fwd = jnum(fs, "cflow.forwarding_status");
	json_object_foreach(fs, k, v)
		if (x->fwd >= 0 && strstr(k, "_code"))
			x->fwd = x->fwd << 6 | jnum(fs, k);
}

/* What the options records of the domain said; -1: never said. */
struct ws_options {
	int n;
	long long scope, interval, algorithm, flows;
};

static void ws_option(json_t *f, struct ws_options *o)
{
	o->n++;
	o->scope = jnum(f, "cflow.od_id");
	o->interval = jnum(f, "cflow.sampling_interval");
	o->algorithm = jnum(f, "cflow.sampling_algorithm");
	if (jnum(f, "cflow.flowsexp") > o->flows)
		o->flows = jnum(f, "cflow.flowsexp");
}

/* Every record of domain in the capture, decoded by tshark as IPFIX on
 * port: the flows, counted, and the options records into *o. */
static int read_tshark(const char *pcap, int port, long long domain,
		       struct xrec **out, struct ws_options *o)
{
	json_t *arr = NULL, *pkt, *cf, *set, *f;
	const char *sk, *fk;
	char *txt = NULL;
	struct xrec x;
	size_t i;
	int n = 0;

	*out = NULL;
	*o = (struct ws_options){ 0, -1, -1, -1, -1 };
	if (run(&txt, NULL,
		"tshark -r %s -d udp.port==%d,cflow -Y cflow -T json", pcap,
		port) ||
	    !txt)
		goto out;
	arr = json_loads(txt, 0, NULL);
	json_array_foreach(arr, i, pkt) {
		cf = json_object_get(json_object_get(pkt, "_source"), "layers");
		cf = json_object_get(cf, "cflow");
		if (jnum(cf, "cflow.od_id") != domain)
			continue;
		json_object_foreach(cf, sk, set) {
			if (strncmp(sk, "Set ", 4))
				continue;
			json_object_foreach(set, fk, f) {
				if (strncmp(fk, "Flow ", 5))
					continue;
				if (json_object_get(
					    f, "cflow.sampling_interval")) {
					ws_option(f, o);
					continue;
				}
				ws_flow(f, &x);
				n = xrec_push(out, n, &x);
			}
		}
	}
out:
	json_decref(arr);
	free(txt);
	return n;
}

static bool file_has(const char *path, const char *needle)
{
	char buf[4096] = "";
	FILE *f = fopen(path, "r");
	size_t len;

	if (!f)
		return false;
	len = fread(buf, 1, sizeof(buf) - 1, f);
	buf[len] = 0;
	fclose(f);
	return strstr(buf, needle);
}

/* tshark capturing the datagrams to port on loopback into pcap, once it
 * says so and the file has its header (a pcapng section header block is
 * 28 bytes at least). */
static pid_t start_capture(const char *dir, const char *pcap, int port)
{
	char log[192];
	struct stat st;
	pid_t pid;
	int t;

	snprintf(log, sizeof(log), "%s/tshark.log", dir);
	pid = spawn("exec tshark -i lo -f 'udp dst port %d' -w %s >%s 2>&1",
		    port, pcap, log);
	for (t = 0; pid > 0 && t < 10000; t += 50) {
		if (file_has(log, "Capturing on") && !stat(pcap, &st) &&
		    st.st_size >= 28)
			return pid;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		usleep(50000);
	}
	if (pid > 0)
		stop(pid, 2000);
	return -1;
}

/* The collectors test: its files, the servers it runs and their ports. */
struct xcollect {
	char dir[32], jsonl[128], nfdir[128], nfa[160], pcap[160], peer6[48];
	struct test_daemon d;
	struct test_net n;
	pid_t col, cap, acct, ws;
	int p1, p2; /* nfcapd's and nfacctd's (and tshark's capture) */
};

/* IPv6, flowbpf enforcing collect_policy, both collectors listening and
 * tshark capturing what nfacctd gets: false once an assert failed. */
static bool xc_start(struct xcollect *x)
{
	if (!ASSERT_OK(v6_setup(&x->n, x->peer6, sizeof(x->peer6)), "IPv6") ||
	    !ASSERT_OK(run(NULL, NULL, "%s attach %s --mode enforce",
			   flowbpf_bin(), x->n.host_if),
		       "attach") ||
	    !ASSERT_OK(test_daemon_start(&x->d, "ipfix", x->n.host_if,
					 collect_policy),
		       "daemon"))
		return false;
	x->p1 = free_udp_port();
	x->p2 = other_udp_port(x->p1);
	x->cap = spawn(
		"exec nfcapd -b 127.0.0.1 -p %d -w %s -t 3600 >%s/nfcapd.log 2>&1",
		x->p1, x->nfdir, x->dir);
	x->acct = start_nfacctd(x->dir, x->p2);
	return ASSERT_GE(x->cap, 1, "nfcapd") &&
	       ASSERT_GE(x->acct, 1, "nfacctd") &&
	       ASSERT_OK(wait_bound(x->p1, 10000), "nfcapd listens") &&
	       ASSERT_OK(wait_bound(x->p2, 10000), "nfacctd listens") &&
	       ASSERT_GE((x->ws = start_capture(x->dir, x->pcap, x->p2)), 1,
			 "tshark captures");
}

/* Traffic exported to both, then a control export to nfacctd; the
 * collectors stop once they have it all.  The JSON records, counted. */
static int xc_export(struct xcollect *x, struct xrec **jr)
{
	int njr;

	x->col = spawn(
		"exec %s collect %s --interval 100ms --idle 400ms -o %s --ipfix 127.0.0.1:%d --ipfix udp://127.0.0.1:%d --template-refresh 1s",
		flowbpf_bin(), x->n.host_if, x->jsonl, x->p1, x->p2);
	usleep(300000);
	ASSERT_OK(run(NULL, NULL, "ping -c 3 -i 0.2 -W 2 -Q 0xb8 %s",
		      x->n.peer_ip),
		  "ping with DSCP EF");
	ASSERT_OK(run(NULL, NULL, "ping -6 -c 2 -i 0.2 -W 2 -Q 0xa1 %s",
		      x->peer6),
		  "ping6 with traffic class CS5, ECT(1)");
	ASSERT_OK(send_tagged(&x->n), "tagged frames");
	usleep(1000000);
	ASSERT_EQ(stop(x->col, 5000), 0, "collector exits");
	x->col = -1;
	ASSERT_OK(send_control(x->p2, CONTROL_DOMAIN, "198.18.255.1"),
		  "control export without options");
	njr = read_jsonl(x->jsonl, jr);
	ASSERT_GE(njr, 4, "JSON records");
	/* nfacctd writes what it aggregated every second. */
	ASSERT_GE(wait_lines(x->nfa, njr + 1, 6000), njr + 1,
		  "nfacctd wrote every record");
	usleep(300000);
	ASSERT_EQ(stop(x->cap, 5000), 0, "nfcapd exits");
	x->cap = -1;
	ASSERT_EQ(stop_nfacctd(x->acct), 0, "nfacctd exits");
	x->acct = -1;
	/* What nfacctd read has passed the capture. */
	ASSERT_EQ(stop(x->ws, 5000), 0, "tshark exits");
	x->ws = -1;
	return njr;
}

/* Both collectors have every JSON record, field by field. */
static void xc_compare(struct xcollect *x, struct xrec *jr, int njr)
{
	struct xrec *nr = NULL, *pr = NULL, control;
	int nnr, npr, sampled, i;

	check_own(&x->n, jr, njr);
	ASSERT_OK(run(NULL, NULL, "grep -q 'Sequence Errors: 0,' %s/nfcapd.log",
		      x->dir),
		  "nfcapd saw no sequence error");
	nnr = read_nfdump(x->nfdir, &nr, &sampled);
	ASSERT_EQ(nnr, njr, "nfdump: as many flows as JSON records");
	ASSERT_EQ(sampled, 0, "nfdump: no record scaled by a sampling rate");
	npr = read_nfacctd(x->nfa, x->n.host_ifindex, &pr, &control);
	ASSERT_EQ(npr, njr, "nfacctd: as many flows as JSON records");
	for (i = 0; i < njr; i++) {
		compare("nfdump", &jr[i], find(nr, nnr, &jr[i], true));
		compare("nfacctd", &jr[i], find(pr, npr, &jr[i], false));
	}
	/* The control says nothing of its sampling: pmacct stores 0. */
	ASSERT_EQ(control.packets, 10, "nfacctd read the control record");
	ASSERT_EQ(control.sampling, 0,
		  "no options record: nfacctd's rate is 0 (unknown)");
	free(nr);
	free(pr);
}

/* Wireshark has every JSON record too, field by field: the second reader
 * of forwardingStatus, the inner VLAN and the sampling, which nfdump
 * cannot decode. */
static void xc_tshark(struct xcollect *x, struct xrec *jr, int njr)
{
	struct xrec *wr = NULL, *got;
	struct ws_options o;
	int nwr, i;

	nwr = read_tshark(x->pcap, x->p2, x->n.host_ifindex, &wr, &o);
	ASSERT_EQ(nwr, njr, "tshark: as many flows as JSON records");
	for (i = 0; i < njr; i++) {
		got = find(wr, nwr, &jr[i], false);
		compare("tshark", &jr[i], got);
		if (!got)
			continue;
		ASSERT_GE(got->fwd, 0, "tshark decoded forwardingStatus");
		ASSERT_GE(got->cvlan, 0, "tshark decoded dot1qCustomerVlanId");
	}
	ASSERT_GE(o.n, 1, "tshark: options records of the domain");
	ASSERT_EQ(o.scope, x->n.host_ifindex, "their scope: the domain");
	ASSERT_EQ(o.interval, 1, "samplingInterval: every packet");
	ASSERT_EQ(o.algorithm, 1, "samplingAlgorithm: deterministic");
	ASSERT_GE(o.flows, 1, "exportedFlowRecordTotalCount counts");
	ASSERT_LE(o.flows, njr, "no more flows exported than recorded");
	free(wr);
}

static void subtest_collectors(void)
{
	struct xcollect x = { .dir = "/tmp/flowbpf-ipfix-XXXXXX",
			      .col = -1,
			      .cap = -1,
			      .acct = -1,
			      .ws = -1 };
	struct xrec *jr = NULL;
	int njr;

	if (!have_tool("nfcapd") || !have_tool("nfdump") ||
	    !have_tool("nfacctd") || !have_tool("tshark")) {
		test__skip(
			"nfcapd, nfdump, nfacctd or tshark not installed (Debian packages nfdump, pmacct, tshark)");
		return;
	}
	if (!ASSERT_OK_PTR(mkdtemp(x.dir), "mkdtemp"))
		return;
	snprintf(x.jsonl, sizeof(x.jsonl), "%s/flows.jsonl", x.dir);
	snprintf(x.nfdir, sizeof(x.nfdir), "%s/nf", x.dir);
	snprintf(x.nfa, sizeof(x.nfa), "%s/nfacctd.json", x.dir);
	snprintf(x.pcap, sizeof(x.pcap), "%s/ipfix.pcapng", x.dir);
	mkdir(x.nfdir, 0700);
	if (!ASSERT_OK(net_setup(&x.n), "net_setup"))
		goto out_dir;
	if (!xc_start(&x))
		goto out;
	njr = xc_export(&x, &jr);
	xc_compare(&x, jr, njr);
	xc_tshark(&x, jr, njr);
out:
	if (x.col > 0)
		stop(x.col, 2000);
	if (x.cap > 0)
		stop(x.cap, 2000);
	if (x.acct > 0)
		stop_nfacctd(x.acct);
	if (x.ws > 0)
		stop(x.ws, 2000);
	test_daemon_cleanup(&x.d);
	net_cleanup(&x.n);
	if (env_verbose)
		run(NULL, NULL, "cat %s/nfacctd.log %s/nfcapd.log >&2", x.dir,
		    x.dir);
out_dir:
	free(jr);
	run(NULL, NULL, "rm -rf %s", x.dir);
}

/* ---- IPFIX over TCP ---- */

/*
 * A reader of IPFIX over TCP written from RFC 7011 alone, sharing no code
 * with the encoder: it frames messages by their length, learns templates
 * and options templates from the stream, and decodes data records by the
 * templates it has seen on that connection.
 */
#define MAX_TMPL 8
#define MAX_TREC 256

struct tfield {
	__u16 id, len;
};

struct ttmpl {
	__u16 id, n, scope;
	struct tfield f[32];
};

struct trec {
	int conn; /* which connection it came on */
	bool options; /* the exporter's record */
	__u8 src[16], dst[16];
	int family, proto, tos;
	long long packets, sampling, algorithm, not_sent;
};

struct treader {
	int port, lfd;
	volatile bool stop;
	pthread_t th;
	int conn; /* connections accepted, over every reader on the port */
	/* what the stream looked like */
	int messages, unframed, seq_errors, before_templates;
	int tmpl_first; /* connections whose first set was a template set */
	struct trec rec[MAX_TREC];
	int nrec;
	int ndata; /* flow records, all of them */
	struct trec last_options;
};

static __u64 getn(const unsigned char *p, int len)
{
	__u64 v = 0;
	int i;

	for (i = 0; i < len; i++)
		v = v << 8 | p[i];
	return v;
}

static void decode_record(struct treader *r, const struct ttmpl *t,
			  const unsigned char *p, int conn)
{
	struct trec x = { .conn = conn, .options = t->scope > 0 };
	int i;

	for (i = 0; i < t->n; i++, p += t->f[i - 1].len) {
		const struct tfield *f = &t->f[i];

		switch (f->id) {
		case 8:
		case 12:
			x.family = 4;
			memcpy(f->id == 8 ? x.src : x.dst, p, 4);
			break;
		case 27:
		case 28:
			x.family = 6;
			memcpy(f->id == 27 ? x.src : x.dst, p, 16);
			break;
		case 4:
			x.proto = getn(p, f->len);
			break;
		case 5:
			x.tos = getn(p, f->len);
			break;
		case 2:
			x.packets = getn(p, f->len);
			break;
		case 34:
			x.sampling = getn(p, f->len);
			break;
		case 35:
			x.algorithm = getn(p, f->len);
			break;
		case 166:
			x.not_sent = getn(p, f->len);
			break;
		}
	}
	if (x.options)
		r->last_options = x;
	else
		r->ndata++;
	if (r->nrec < MAX_TREC)
		r->rec[r->nrec++] = x;
}

static int tmpl_len(const struct ttmpl *t)
{
	int i, n = 0;

	for (i = 0; i < t->n; i++)
		n += t->f[i].len;
	return n;
}

/* Templates (set 2) and options templates (set 3) of one set. */
static void learn(struct ttmpl *tm, int *ntm, const unsigned char *p,
		  size_t len, bool options)
{
	size_t off = 0, hdr = options ? 6 : 4;
	int i;

	while (off + hdr <= len && *ntm < MAX_TMPL) {
		struct ttmpl *t = &tm[(*ntm)++];

		t->id = get16(p + off);
		t->n = get16(p + off + 2);
		t->scope = options ? get16(p + off + 4) : 0;
		off += hdr;
		for (i = 0; i < t->n && i < 32 && off + 4 <= len;
		     i++, off += 4) {
			t->f[i].id = get16(p + off);
			t->f[i].len = get16(p + off + 2);
		}
	}
}

/* One whole message of connection conn. */
static void read_message(struct treader *r, const unsigned char *m, size_t len,
			 int conn, struct ttmpl *tm, int *ntm, __u32 *seq,
			 bool first)
{
	size_t off = 16;
	int i;

	r->messages++;
	if (get32(m + 8) != *seq)
		r->seq_errors++;
	if (first && len > 20 && get16(m + 16) == 2)
		r->tmpl_first++;
	while (off + 4 <= len) {
		__u16 id = get16(m + off), sl = get16(m + off + 2);
		const struct ttmpl *t = NULL;
		size_t o;

		if (sl < 4 || off + sl > len)
			break;
		if (id == 2 || id == 3)
			learn(tm, ntm, m + off + 4, sl - 4, id == 3);
		for (i = 0; i < *ntm && id >= 256; i++)
			if (tm[i].id == id)
				t = &tm[i];
		if (id >= 256 && !t)
			r->before_templates++;
		for (o = 4; t && tmpl_len(t) && o + tmpl_len(t) <= sl;
		     o += tmpl_len(t)) {
			decode_record(r, t, m + off + o, conn);
			/* The sequence number counts flow records. */
			*seq += !t->scope;
		}
		off += sl;
	}
}

/* Reads one connection until EOF or stop. */
static void read_conn(struct treader *r, int fd)
{
	static unsigned char buf[4 * IPFIX_MAX_MSG];
	struct ttmpl tm[MAX_TMPL];
	int ntm = 0, conn = r->conn++;
	size_t have = 0, len;
	bool first = true;
	__u32 seq = 0;
	ssize_t n;

	while (!r->stop) {
		struct pollfd p = { .fd = fd, .events = POLLIN };

		if (poll(&p, 1, 50) <= 0)
			continue;
		n = read(fd, buf + have, sizeof(buf) - have);
		if (n <= 0)
			break;
		have += n;
		/* Framing: the header's length says where the next begins. */
		while (have >= 16) {
			len = get16(buf + 2);
			if (get16(buf) != 10 || len < 16) {
				r->unframed++;
				have = 0;
				break;
			}
			if (have < len)
				break;
			read_message(r, buf, len, conn, tm, &ntm, &seq, first);
			first = false;
			memmove(buf, buf + len, have - len);
			have -= len;
		}
	}
}

static void *reader_main(void *arg)
{
	struct treader *r = arg;

	while (!r->stop) {
		struct pollfd p = { .fd = r->lfd, .events = POLLIN };
		int fd;

		if (poll(&p, 1, 50) <= 0)
			continue;
		fd = accept(r->lfd, NULL, NULL);
		if (fd < 0)
			continue;
		read_conn(r, fd);
		close(fd);
	}
	return NULL;
}

static int reader_start(struct treader *r)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(r->port) };
	socklen_t l = sizeof(a);
	int one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	r->stop = false;
	r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (r->lfd < 0 || bind(r->lfd, (void *)&a, sizeof(a)) ||
	    listen(r->lfd, 4) || getsockname(r->lfd, (void *)&a, &l)) {
		if (r->lfd >= 0)
			close(r->lfd);
		r->lfd = -1;
		return -1;
	}
	r->port = ntohs(a.sin_port);
	if (pthread_create(&r->th, NULL, reader_main, r)) {
		close(r->lfd);
		r->lfd = -1;
		return -1;
	}
	return 0;
}

/* Closes the connection and the listening socket: the collector went. */
static void reader_stop(struct treader *r)
{
	if (r->lfd < 0)
		return;
	r->stop = true;
	pthread_join(r->th, NULL);
	close(r->lfd);
	r->lfd = -1;
}

/* The data record of a flow from src with this tos, on connection conn. */
static const struct trec *tfind(const struct treader *r, int conn,
				const char *src, int proto, int tos)
{
	struct in_addr a;
	int i;

	inet_pton(AF_INET, src, &a);
	for (i = 0; i < r->nrec; i++) {
		const struct trec *x = &r->rec[i];

		if (!x->options && x->conn == conn && x->family == 4 &&
		    !memcmp(x->src, &a, 4) && x->proto == proto &&
		    x->tos == tos)
			return x;
	}
	return NULL;
}

static bool twait(const struct treader *r, int conn, const char *src, int tos,
		  int ms)
{
	int t;

	for (t = 0; t < ms; t += 100) {
		if (tfind(r, conn, src, 1, tos))
			return true;
		usleep(100000);
	}
	return false;
}

/* A collector exporting over TCP: flow A while the reader is there, B
 * while it is away; the reader comes back on the same port. */
static void tcp_reconnect(struct treader *r, const struct test_net *n,
			  const char *jsonl, const char *log)
{
	pid_t col;

	col = spawn(
		"exec %s collect %s --interval 100ms --idle 300ms -o %s --ipfix tcp://127.0.0.1:%d --template-refresh 1s 2>%s",
		flowbpf_bin(), n->host_if, jsonl, r->port, log);
	usleep(300000);
	/* A: while the reader is there. */
	ASSERT_OK(run(NULL, NULL, "ping -c 2 -i 0.2 -W 2 %s", n->peer_ip),
		  "ping A");
	ASSERT_TRUE(twait(r, 0, n->host_ip, 0, 5000),
		    "A's record on the first connection");
	/* B: the reader is gone; the flow ends while nobody listens. */
	reader_stop(r);
	ASSERT_OK(run(NULL, NULL, "ping -c 3 -i 0.2 -W 2 -Q 0x28 %s",
		      n->peer_ip),
		  "ping B");
	usleep(1500000);
	ASSERT_EQ(r->conn, 1, "no connection while the reader is away");
	/* The reader comes back on the same port. */
	ASSERT_OK(reader_start(r), "reader again");
	ASSERT_TRUE(twait(r, 1, n->host_ip, 0x28, 10000),
		    "B's record on the second connection");
	ASSERT_EQ(stop(col, 8000), 0, "collector exits");
	usleep(300000);
	reader_stop(r);
}

/* What the reader saw of the two connections. */
static void tcp_check_stream(const struct treader *r, const char *host_ip)
{
	const struct trec *a, *b;
	int i, options = 0;

	a = tfind(r, 0, host_ip, 1, 0);
	b = tfind(r, 1, host_ip, 1, 0x28);
	if (ASSERT_OK_PTR(a, "A") && ASSERT_OK_PTR(b, "B")) {
		ASSERT_EQ(a->packets, 2, "A's packets");
		ASSERT_EQ(b->packets, 3,
			  "B's packets, kept while disconnected");
	}
	ASSERT_GE(r->conn, 2, "connected again");
	ASSERT_EQ(r->tmpl_first, r->conn,
		  "every connection starts with the templates");
	ASSERT_EQ(r->before_templates, 0, "no data set before its template");
	ASSERT_EQ(r->unframed, 0, "every message framed by its length");
	ASSERT_EQ(r->seq_errors, 0,
		  "sequence numbers count records, from 0 per connection");
	for (i = 0; i < r->nrec; i++) {
		if (!r->rec[i].options)
			continue;
		options++;
		ASSERT_EQ(r->rec[i].sampling, 1, "samplingInterval");
		ASSERT_EQ(r->rec[i].algorithm, 1, "samplingAlgorithm");
	}
	ASSERT_GE(options, 2, "the exporter's record on each connection");
}

/* Nothing lost: every JSON record came over one of the two. */
static void tcp_check_lost(const struct treader *r, const char *jsonl,
			   const char *log)
{
	struct xrec *jr = NULL;
	int i, njr, seen = 0;

	njr = read_jsonl(jsonl, &jr);
	for (i = 0; i < r->nrec; i++)
		seen += !r->rec[i].options;
	ASSERT_EQ(seen, njr, "as many IPFIX records as JSON records");
	ASSERT_OK(run(NULL, NULL,
		      "grep -q 'connected to tcp://127.0.0.1:%d again' %s",
		      r->port, log),
		  "the reconnection is logged");
	/* The sink counts what it drops, and says so. */
	ASSERT_NEQ(run(NULL, NULL, "grep -q 'records dropped\\|are lost' %s",
		       log),
		   0, "no record dropped or lost");
	free(jr);
}

static void subtest_tcp(void)
{
	char dir[] = "/tmp/flowbpf-ipfix-tcp-XXXXXX", jsonl[128], log[128];
	struct treader *r = calloc(1, sizeof(*r));
	struct test_net n;

	if (!ASSERT_OK_PTR(r, "alloc") ||
	    !ASSERT_OK_PTR(mkdtemp(dir), "mkdtemp")) {
		free(r);
		return;
	}
	r->lfd = -1;
	snprintf(jsonl, sizeof(jsonl), "%s/flows.jsonl", dir);
	snprintf(log, sizeof(log), "%s/collect.log", dir);
	if (!net_attach(&n, NULL) || !ASSERT_OK(reader_start(r), "reader"))
		goto out;
	ASSERT_EQ(run(NULL, NULL, "%s collect %s --ipfix tcp://127.0.0.1",
		      flowbpf_bin(), n.host_if),
		  1, "tcp:// without a port is refused");
	tcp_reconnect(r, &n, jsonl, log);
	tcp_check_stream(r, n.host_ip);
	tcp_check_lost(r, jsonl, log);
out:
	reader_stop(r);
	if (env_verbose)
		run(NULL, NULL, "cat %s >&2", log);
	net_cleanup(&n);
	free(r);
	run(NULL, NULL, "rm -rf %s", dir);
}

/*
 * The TCP sink alone: records for a collector that is not there yet wait
 * up to the bound, the rest are dropped and counted, and once a reader
 * listens every record that waited reaches it, after the templates and
 * an exporter's record that counts the dropped ones.
 */
static void subtest_tcp_queue(void)
{
	struct treader *r = calloc(1, sizeof(*r));
	char name[64];
	struct ipfix_sink_opts o = { .collector = name,
				     .mtu = 1500,
				     .domain = 9,
				     .template_refresh_ns = 60000000000ULL };
	struct acct_record rec;
	struct acct_sink *s = NULL;
	int i, refused = 0, t;

	if (!ASSERT_OK_PTR(r, "alloc"))
		return;
	r->lfd = -1;
	r->port = free_port(SOCK_STREAM);
	snprintf(name, sizeof(name), "tcp://127.0.0.1:%d", r->port);
	s = ipfix_sink_new(&o);
	if (!ASSERT_OK_PTR(s, "sink"))
		goto out;
	for (i = 0; i < IPFIX_TCP_QUEUE_MAX + 10; i++) {
		test_record_v4(&rec, i);
		refused += s->write(s, &rec) == -ENOBUFS;
	}
	ASSERT_EQ(refused, 10, "records beyond the bound refused");
	ASSERT_EQ(s->lost, 10, "and counted lost");
	ASSERT_EQ(s->flush(s), -ENOTCONN, "nobody listens yet");
	if (!ASSERT_OK(reader_start(r), "reader"))
		goto out;
	/* Up to 20 s: a VM without KVM is slow at this. */
	for (t = 0; t < 400 && r->ndata < IPFIX_TCP_QUEUE_MAX; t++) {
		s->flush(s);
		usleep(50000);
	}
	ASSERT_EQ(s->flush(s), 0, "connected");
	s->close(s);
	s = NULL;
	usleep(100000);
	reader_stop(r);
	ASSERT_EQ(r->ndata, IPFIX_TCP_QUEUE_MAX,
		  "every record that waited arrived");
	ASSERT_EQ(r->conn, 1, "one connection");
	ASSERT_EQ(r->tmpl_first, 1, "templates first");
	ASSERT_EQ(r->seq_errors, 0, "sequence numbers");
	ASSERT_EQ(r->unframed, 0, "framing");
	ASSERT_TRUE(r->last_options.options, "the exporter's record");
	ASSERT_EQ(r->last_options.not_sent, 10, "notSentFlowTotalCount");
out:
	if (s)
		s->close(s);
	reader_stop(r);
	free(r);
}

static void subtest_cli(void)
{
	char *err = NULL;
	int rc;

	rc = run(
		NULL, &err,
		"%s collect lo --ipfix 127.0.0.1:1 --ipfix 127.0.0.1:2 --ipfix tcp://127.0.0.1:3 --ipfix 127.0.0.1:4",
		flowbpf_bin());
	ASSERT_EQ(rc, 2, "a fourth --ipfix is a usage error");
	ASSERT_HAS(err, "at most 3", "says how many");
	free(err);
	err = NULL;
	rc = run(&err, NULL, "%s collect --help", flowbpf_bin());
	ASSERT_EQ(rc, 0, "--help");
	ASSERT_HAS(err, "tcp://", "help names the TCP transport");
	free(err);
}

void test_ipfix(void)
{
	if (test__start_subtest("layout"))
		subtest_layout();
	if (test__start_subtest("split"))
		subtest_split();
	if (test__start_subtest("session"))
		subtest_session();
	if (test__start_subtest("forwarding_status"))
		subtest_forwarding_status();
	if (test__start_subtest("tunnel"))
		subtest_tunnel();
	if (test__start_subtest("json"))
		subtest_json();
	if (test__start_subtest("cli"))
		subtest_cli();
	if (test__start_subtest("collectors"))
		subtest_collectors();
	if (test__start_subtest("tcp"))
		subtest_tcp();
	if (test__start_subtest("tcp_queue"))
		subtest_tcp_queue();
}
