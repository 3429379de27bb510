// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * IPFIX export over UDP (RFC 7011).
 *
 * Every message starts with the 16-byte header (version 10, length,
 * export time, sequence number, observation domain).  The sequence number
 * counts the data records sent before the message, so a collector sees a
 * gap when a message is lost.  Templates go in the first message and again
 * in the first message after each refresh interval, as UDP requires
 * (RFC 7011, 8.4).  A message never grows past max_len: the record that
 * would not fit goes into the next one.
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "ipfix.h"
#include "log.h"

struct ie {
	__u16 id, len;
};

/* Order of fields in a data record; the address fields differ by family. */
#define TEMPLATE(src, dst, alen, icmp)                                       \
	{                                                                    \
		{ IE_START_MS, 8 }, { IE_END_MS, 8 }, { IE_OCTET_DELTA, 8 }, \
			{ IE_PACKET_DELTA, 8 }, { IE_INGRESS_IF, 4 },        \
			{ IE_EGRESS_IF, 4 }, { src, alen }, { dst, alen },   \
			{ IE_SRC_PORT, 2 }, { IE_DST_PORT, 2 },              \
			{ IE_PROTOCOL, 1 }, { IE_TCP_BITS, 2 },              \
			{ IE_DIRECTION, 1 }, { IE_VLAN, 2 },                 \
			{ IE_END_REASON, 1 }, { icmp, 2 },                   \
	}

static const struct ie tmpl_v4[] =
	TEMPLATE(IE_SRC_V4, IE_DST_V4, 4, IE_ICMP_V4);
static const struct ie tmpl_v6[] =
	TEMPLATE(IE_SRC_V6, IE_DST_V6, 16, IE_ICMP_V6);
#define NFIELDS (sizeof(tmpl_v4) / sizeof(tmpl_v4[0]))

static size_t tmpl_set_len(void)
{
	/* Set header, then per template: id, field count, the fields. */
	return IPFIX_SET_HDR_LEN + 2 * (4 + 4 * NFIELDS);
}

size_t ipfix_record_len(int family)
{
	const struct ie *t = family == 6 ? tmpl_v6 : tmpl_v4;
	size_t i, n = 0;

	for (i = 0; i < NFIELDS; i++)
		n += t[i].len;
	return n;
}

size_t ipfix_min_len(void)
{
	return IPFIX_HDR_LEN + tmpl_set_len() + IPFIX_SET_HDR_LEN +
	       ipfix_record_len(6);
}

static void put16(unsigned char *p, __u16 v)
{
	v = htons(v);
	memcpy(p, &v, 2);
}

static void put32(unsigned char *p, __u32 v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static void put64(unsigned char *p, __u64 v)
{
	put32(p, v >> 32);
	put32(p + 4, v);
}

void ipfix_enc_init(struct ipfix_enc *e, __u32 domain, __u32 max_len,
		    __u64 refresh_ms, ipfix_send_fn send, void *ctx)
{
	memset(e, 0, sizeof(*e));
	e->domain = domain;
	if (max_len > IPFIX_MAX_MSG)
		max_len = IPFIX_MAX_MSG;
	if (max_len < ipfix_min_len())
		max_len = ipfix_min_len();
	e->max_len = max_len;
	e->refresh_ms = refresh_ms;
	e->send = send;
	e->ctx = ctx;
}

static void close_set(struct ipfix_enc *e)
{
	if (e->set_id)
		put16(e->msg + e->set_off + 2, e->len - e->set_off);
	e->set_id = 0;
}

static void open_set(struct ipfix_enc *e, __u16 id)
{
	close_set(e);
	e->set_off = e->len;
	put16(e->msg + e->len, id);
	e->len += IPFIX_SET_HDR_LEN;
	e->set_id = id;
}

static void put_template(struct ipfix_enc *e, __u16 id, const struct ie *t)
{
	size_t i;

	put16(e->msg + e->len, id);
	put16(e->msg + e->len + 2, NFIELDS);
	e->len += 4;
	for (i = 0; i < NFIELDS; i++) {
		put16(e->msg + e->len, t[i].id);
		put16(e->msg + e->len + 2, t[i].len);
		e->len += 4;
	}
}

static void start_msg(struct ipfix_enc *e, __u64 now_ms)
{
	e->len = IPFIX_HDR_LEN;
	e->set_id = 0;
	e->msg_seq = e->seq;
	e->export_s = now_ms / 1000;
	if (!e->tmpl_sent ||
	    (e->refresh_ms && now_ms - e->tmpl_ms >= e->refresh_ms)) {
		open_set(e, IPFIX_SET_TEMPLATE);
		put_template(e, IPFIX_TMPL_V4, tmpl_v4);
		put_template(e, IPFIX_TMPL_V6, tmpl_v6);
		close_set(e);
		e->tmpl_sent = true;
		e->tmpl_ms = now_ms;
		e->template_sets++;
	}
}

int ipfix_enc_flush(struct ipfix_enc *e)
{
	int err;

	if (!e->len)
		return 0;
	close_set(e);
	put16(e->msg, IPFIX_VERSION);
	put16(e->msg + 2, e->len);
	put32(e->msg + 4, e->export_s);
	put32(e->msg + 8, e->msg_seq);
	put32(e->msg + 12, e->domain);
	err = e->send ? e->send(e->ctx, e->msg, e->len) : 0;
	e->len = 0;
	e->messages++;
	if (err)
		e->send_errors++;
	return err;
}

static bool templates_due(const struct ipfix_enc *e, __u64 now_ms)
{
	return !e->tmpl_sent ||
	       (e->refresh_ms && now_ms - e->tmpl_ms >= e->refresh_ms);
}

int ipfix_enc_add(struct ipfix_enc *e, const struct acct_record *r,
		  __u64 now_ms)
{
	const struct flowbpf_key *k = &r->key;
	bool v6 = k->family == 6, icmp = k->proto == 1 || k->proto == 58;
	__u16 id = v6 ? IPFIX_TMPL_V6 : IPFIX_TMPL_V4;
	size_t need = ipfix_record_len(k->family);
	unsigned char *p;
	int err = 0;

	/* Templates lead a message, so a due refresh starts a new one. */
	if (e->len && templates_due(e, now_ms))
		err = ipfix_enc_flush(e);
	if (e->len &&
	    e->len + (e->set_id == id ? 0 : IPFIX_SET_HDR_LEN) + need >
		    e->max_len)
		err = ipfix_enc_flush(e);
	if (!e->len)
		start_msg(e, now_ms);
	if (e->set_id != id)
		open_set(e, id);

	p = e->msg + e->len;
	put64(p, r->start_ms);
	put64(p + 8, r->end_ms);
	put64(p + 16, r->bytes);
	put64(p + 24, r->packets);
	put32(p + 32, k->dir == FLOWBPF_DIR_INGRESS ? r->ifindex : 0);
	put32(p + 36, k->dir == FLOWBPF_DIR_EGRESS ? r->ifindex : 0);
	p += 40;
	if (v6) {
		memcpy(p, k->saddr, 16);
		memcpy(p + 16, k->daddr, 16);
		p += 32;
	} else {
		memcpy(p, &k->saddr[3], 4);
		memcpy(p + 4, &k->daddr[3], 4);
		p += 8;
	}
	/* Ports are kept in network order in the key. */
	if (icmp) {
		memset(p, 0, 4);
	} else {
		memcpy(p, &k->sport, 2);
		memcpy(p + 2, &k->dport, 2);
	}
	p[4] = k->proto;
	put16(p + 5, r->tcp_flags & 0xfff);
	p[7] = k->dir == FLOWBPF_DIR_EGRESS ? 1 : 0;
	put16(p + 8, k->vlan);
	p[10] = r->reason;
	if (icmp)
		memcpy(p + 11, &k->dport, 2);
	else
		memset(p + 11, 0, 2);
	e->len += need;
	e->seq++;
	e->records++;
	return err;
}

/* The UDP transport. */
struct ipfix_sink {
	struct acct_sink base;
	struct ipfix_enc enc;
	int fd;
	__u64 last_err_log;
};

static int udp_send(void *ctx, const void *msg, size_t len)
{
	struct ipfix_sink *s = ctx;
	ssize_t n = send(s->fd, msg, len, 0);

	if (n == (ssize_t)len)
		return 0;
	s->base.errors++;
	/* One line per error burst, not per message. */
	if (s->base.errors - s->last_err_log >= 1000 || s->last_err_log == 0) {
		pr_warn("ipfix: cannot send a %zu-byte message: %s (%llu send errors)\n",
			len, n < 0 ? strerror(errno) : "short send",
			(unsigned long long)s->base.errors);
		s->last_err_log = s->base.errors;
	}
	return n < 0 ? -errno : -EIO;
}

static __u64 wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__u64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int ipfix_write(struct acct_sink *s, const struct acct_record *r)
{
	struct ipfix_sink *x = (struct ipfix_sink *)s;

	return ipfix_enc_add(&x->enc, r, wall_ms());
}

static int ipfix_flush(struct acct_sink *s)
{
	struct ipfix_sink *x = (struct ipfix_sink *)s;

	return ipfix_enc_flush(&x->enc);
}

static void ipfix_close(struct acct_sink *s)
{
	struct ipfix_sink *x = (struct ipfix_sink *)s;

	ipfix_enc_flush(&x->enc);
	close(x->fd);
	free(x);
}

/* "HOST:PORT", "[V6ADDR]:PORT" -> host, port (modifies buf). */
static int split_hostport(char *buf, char **host, char **port)
{
	char *colon;

	if (buf[0] == '[') {
		char *close = strchr(buf, ']');

		if (!close || close[1] != ':')
			return -EINVAL;
		*close = '\0';
		*host = buf + 1;
		*port = close + 2;
		return **port ? 0 : -EINVAL;
	}
	colon = strrchr(buf, ':');
	if (!colon || colon == buf || !colon[1] || strchr(buf, ':') != colon)
		return -EINVAL;
	*colon = '\0';
	*host = buf;
	*port = colon + 1;
	return 0;
}

struct acct_sink *ipfix_sink_new(const struct ipfix_sink_opts *o)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *ai = NULL;
	char buf[256], *host, *port;
	struct ipfix_sink *x;
	int err, pmtu = 0, hdr, dont = 0;
	socklen_t sl = sizeof(pmtu);

	if (snprintf(buf, sizeof(buf), "%s", o->collector) >=
		    (int)sizeof(buf) ||
	    split_hostport(buf, &host, &port)) {
		err_set("IPFIX collector must be HOST:PORT, not '%s'",
			o->collector);
		return NULL;
	}
	err = getaddrinfo(host, port, &hints, &ai);
	if (err) {
		err_set("IPFIX collector %s: %s", o->collector,
			gai_strerror(err));
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (!x) {
		freeaddrinfo(ai);
		return NULL;
	}
	x->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (x->fd < 0 || connect(x->fd, ai->ai_addr, ai->ai_addrlen)) {
		err_set("IPFIX collector %s: %s", o->collector,
			strerror(errno));
		if (x->fd >= 0)
			close(x->fd);
		free(x);
		freeaddrinfo(ai);
		return NULL;
	}
	hdr = ai->ai_family == AF_INET6 ? 40 + 8 : 20 + 8;
	/* Never let the kernel fragment: a message that does not fit the
	 * path fails to send, and is counted, instead of vanishing in
	 * reassembly. */
	if (ai->ai_family == AF_INET6) {
		dont = IPV6_PMTUDISC_DO;
		setsockopt(x->fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &dont,
			   sizeof(dont));
		getsockopt(x->fd, IPPROTO_IPV6, IPV6_MTU, &pmtu, &sl);
	} else {
		dont = IP_PMTUDISC_DO;
		setsockopt(x->fd, IPPROTO_IP, IP_MTU_DISCOVER, &dont,
			   sizeof(dont));
		getsockopt(x->fd, IPPROTO_IP, IP_MTU, &pmtu, &sl);
	}
	freeaddrinfo(ai);
	if (pmtu <= 0 || (__u32)pmtu > o->mtu)
		pmtu = o->mtu;
	x->base.name = "ipfix";
	x->base.write = ipfix_write;
	x->base.flush = ipfix_flush;
	x->base.close = ipfix_close;
	ipfix_enc_init(&x->enc, o->domain, pmtu - hdr,
		       o->template_refresh_ns / 1000000, udp_send, x);
	pr_debug("ipfix: exporting to %s, messages up to %u bytes\n",
		 o->collector, x->enc.max_len);
	return &x->base;
}
