// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * IPFIX export (RFC 7011) over UDP or TCP.
 *
 * Every message starts with the 16-byte header (version 10, length,
 * export time, sequence number, observation domain).  The sequence number
 * counts the flow records sent before the message, so a collector sees a
 * gap when a message is lost.  Templates go in the first message and, over
 * UDP, again in the first message after each refresh interval (RFC 7011,
 * 8.4); over TCP once per connection.  The exporter's options record
 * follows the templates, and comes again every refresh interval.  A
 * message never grows past max_len: the record that would not fit goes
 * into the next one.
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "array.h"
#include "ipfix.h"
#include "log.h"

struct ie {
	__u16 id, len;
};

/* Order of fields in a data record; the address fields differ by family. */
#define TEMPLATE(src, dst, alen, icmp)                                        \
	{                                                                     \
		{ IE_START_MS, 8 }, { IE_END_MS, 8 }, { IE_OCTET_DELTA, 8 },  \
			{ IE_PACKET_DELTA, 8 }, { IE_INGRESS_IF, 4 },         \
			{ IE_EGRESS_IF, 4 }, { src, alen }, { dst, alen },    \
			{ IE_SRC_PORT, 2 }, { IE_DST_PORT, 2 },               \
			{ IE_PROTOCOL, 1 }, { IE_TCP_BITS, 2 },               \
			{ IE_DIRECTION, 1 }, { IE_VLAN, 2 },                  \
			{ IE_END_REASON, 1 }, { icmp, 2 },                    \
			{ IE_CLASS_OF_SERVICE, 1 },                           \
			{ IE_FORWARDING_STATUS, 1 }, { IE_CUSTOMER_VLAN, 2 }, \
			{ IE_L2_SEGMENT_ID, 8 },                              \
			{ IE_MPLS_TOP_LABEL, IPFIX_MPLS_LABEL_LEN },          \
	}

static const struct ie tmpl_v4[] =
	TEMPLATE(IE_SRC_V4, IE_DST_V4, 4, IE_ICMP_V4);
static const struct ie tmpl_v6[] =
	TEMPLATE(IE_SRC_V6, IE_DST_V6, 16, IE_ICMP_V6);
#define NFIELDS (sizeof(tmpl_v4) / sizeof(tmpl_v4[0]))

/*
 * The exporter's own record (options template, RFC 7011 3.4.2.2), scoped
 * to the observation domain: what the exporting process has sent to this
 * collector, what it had to drop, and its sampling.  Collectors that are
 * told nothing about sampling store a rate of 0, and whatever multiplies
 * by it shows nothing; nfdump and pmacct both read the rate from IEs 34
 * and 35.
 */
static const struct ie exporter_fields[] = {
	{ IE_OBSERVATION_DOMAIN, 4 }, /* the scope */
	{ IE_EXPORTED_MESSAGES, 8 },  { IE_EXPORTED_RECORDS, 8 },
	{ IE_EXPORTED_OCTETS, 8 },    { IE_NOT_SENT_FLOWS, 8 },
	{ IE_SAMPLING_INTERVAL, 4 },  { IE_SAMPLING_ALGORITHM, 1 },
};
#define NEXPORTER (sizeof(exporter_fields) / sizeof(exporter_fields[0]))
#define NSCOPE 1

static size_t tmpl_set_len(void)
{
	/* Set header, then per template: id, field count, the fields. */
	return IPFIX_SET_HDR_LEN + 2 * (4 + 4 * NFIELDS);
}

static size_t opt_tmpl_set_len(void)
{
	/* Set header, id, field count, scope field count, the fields. */
	return IPFIX_SET_HDR_LEN + 6 + 4 * NEXPORTER;
}

size_t ipfix_record_len(int family)
{
	const struct ie *t = family == 6 ? tmpl_v6 : tmpl_v4;
	size_t i, n = 0;

	for (i = 0; i < NFIELDS; i++)
		n += t[i].len;
	return n;
}

size_t ipfix_exporter_record_len(void)
{
	size_t i, n = 0;

	for (i = 0; i < NEXPORTER; i++)
		n += exporter_fields[i].len;
	return n;
}

size_t ipfix_min_len(void)
{
	return IPFIX_HDR_LEN + tmpl_set_len() + opt_tmpl_set_len() +
	       IPFIX_SET_HDR_LEN + ipfix_exporter_record_len() +
	       IPFIX_SET_HDR_LEN + ipfix_record_len(6);
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
	e->stats_ms = refresh_ms;
	e->send = send;
	e->ctx = ctx;
}

void ipfix_enc_restart(struct ipfix_enc *e)
{
	e->len = 0;
	e->set_id = 0;
	e->seq = 0;
	e->tmpl_sent = false;
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

static void put_fields(struct ipfix_enc *e, const struct ie *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		put16(e->msg + e->len, t[i].id);
		put16(e->msg + e->len + 2, t[i].len);
		e->len += 4;
	}
}

static void put_template(struct ipfix_enc *e, __u16 id, const struct ie *t)
{
	put16(e->msg + e->len, id);
	put16(e->msg + e->len + 2, NFIELDS);
	e->len += 4;
	put_fields(e, t, NFIELDS);
}

static void put_templates(struct ipfix_enc *e)
{
	open_set(e, IPFIX_SET_TEMPLATE);
	put_template(e, IPFIX_TMPL_V4, tmpl_v4);
	put_template(e, IPFIX_TMPL_V6, tmpl_v6);
	open_set(e, IPFIX_SET_OPTIONS_TEMPLATE);
	put16(e->msg + e->len, IPFIX_TMPL_EXPORTER);
	put16(e->msg + e->len + 2, NEXPORTER);
	put16(e->msg + e->len + 4, NSCOPE);
	e->len += 6;
	put_fields(e, exporter_fields, NEXPORTER);
	close_set(e);
}

/* The exporter's record, as of the start of this message. */
static void put_exporter(struct ipfix_enc *e, __u64 now_ms)
{
	static const struct ipfix_exported none;
	const struct ipfix_exported *x = e->exported ? e->exported : &none;
	unsigned char *p;

	open_set(e, IPFIX_TMPL_EXPORTER);
	p = e->msg + e->len;
	put32(p, e->domain);
	put64(p + 4, x->messages);
	put64(p + 12, x->records);
	put64(p + 20, x->octets);
	put64(p + 28, x->not_sent);
	put32(p + 36, IPFIX_SAMPLING_INTERVAL);
	p[40] = IPFIX_SAMPLING_DETERMINISTIC;
	e->len += ipfix_exporter_record_len();
	close_set(e);
	e->stats_sent_ms = now_ms;
}

static bool templates_due(const struct ipfix_enc *e, __u64 now_ms)
{
	return !e->tmpl_sent ||
	       (e->refresh_ms && now_ms - e->tmpl_ms >= e->refresh_ms);
}

static bool exporter_due(const struct ipfix_enc *e, __u64 now_ms)
{
	return e->stats_ms && now_ms - e->stats_sent_ms >= e->stats_ms;
}

/* Templates and the exporter's record lead a message. */
static void start_msg(struct ipfix_enc *e, __u64 now_ms)
{
	e->len = IPFIX_HDR_LEN;
	e->set_id = 0;
	e->msg_seq = e->seq;
	e->msg_records = 0;
	e->export_s = now_ms / 1000;
	if (templates_due(e, now_ms)) {
		put_templates(e);
		e->tmpl_sent = true;
		e->tmpl_ms = now_ms;
		e->template_sets++;
		put_exporter(e, now_ms);
	} else if (exporter_due(e, now_ms)) {
		put_exporter(e, now_ms);
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
	e->sent_records = e->msg_records;
	err = e->send ? e->send(e->ctx, e->msg, e->len) : 0;
	e->len = 0;
	e->messages++;
	if (err)
		e->send_errors++;
	return err;
}

bool ipfix_enc_fits(const struct ipfix_enc *e, const struct acct_record *r,
		    __u64 now_ms)
{
	__u16 id = r->key.family == 6 ? IPFIX_TMPL_V6 : IPFIX_TMPL_V4;

	return e->len && !templates_due(e, now_ms) &&
	       !exporter_due(e, now_ms) &&
	       e->len + (e->set_id == id ? 0 : IPFIX_SET_HDR_LEN) +
			       ipfix_record_len(r->key.family) <=
		       e->max_len;
}

/*
 * The tunnel context as standard elements, all zero when the flow has
 * none.  Only VXLAN has a layer2SegmentId type: GENEVE has no type in the
 * registry, and a GRE key is an NVGRE segment only when the payload is
 * Ethernet, which the key does not keep.  The key keeps the top label of
 * an MPLS stack but neither its TC bits nor whether more labels follow,
 * so both stay 0.
 */
static void put_tunnel(unsigned char *p, const struct flowbpf_key *k)
{
	__u64 seg = 0;
	__u32 mpls = 0;

	if (k->tun_type == FLOWBPF_TUN_VXLAN)
		seg = (__u64)IPFIX_L2_SEGMENT_VXLAN
			      << IPFIX_L2_SEGMENT_TYPE_SHIFT |
		      k->tun_id;
	else if (k->tun_type == FLOWBPF_TUN_MPLS)
		mpls = (k->tun_id & 0xfffff) << 4;
	put64(p, seg);
	p[8] = mpls >> 16;
	p[9] = mpls >> 8;
	p[10] = mpls;
}

static void put_record(unsigned char *p, const struct acct_record *r)
{
	const struct flowbpf_key *k = &r->key;
	bool icmp = flowbpf_proto_is_icmp(k->proto);

	put64(p, r->start_ms);
	put64(p + 8, r->end_ms);
	put64(p + 16, r->bytes);
	put64(p + 24, r->packets);
	put32(p + 32, k->dir == FLOWBPF_DIR_INGRESS ? r->ifindex : 0);
	put32(p + 36, k->dir == FLOWBPF_DIR_EGRESS ? r->ifindex : 0);
	p += 40;
	if (k->family == 6) {
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
	p[13] = r->tos;
	p[14] = r->fwd;
	put16(p + 15, k->inner_vlan);
	put_tunnel(p + 17, k);
}

int ipfix_enc_add(struct ipfix_enc *e, const struct acct_record *r,
		  __u64 now_ms)
{
	__u16 id = r->key.family == 6 ? IPFIX_TMPL_V6 : IPFIX_TMPL_V4;
	int err = 0;

	if (e->len && !ipfix_enc_fits(e, r, now_ms))
		err = ipfix_enc_flush(e);
	if (!e->len)
		start_msg(e, now_ms);
	if (e->set_id != id)
		open_set(e, id);
	put_record(e->msg + e->len, r);
	e->len += ipfix_record_len(r->key.family);
	e->seq++;
	e->msg_records++;
	e->records++;
	return err;
}

/* "udp://HOST:PORT", "tcp://[V6ADDR]:PORT", HOST:PORT (UDP) -> parts. */
static int split_collector(char *buf, bool *tcp, char **host, char **port)
{
	char *colon;

	*tcp = !strncmp(buf, "tcp://", 6);
	if (*tcp || !strncmp(buf, "udp://", 6))
		buf += 6;
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

static __u64 wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (__u64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static __u64 mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The UDP transport: one datagram per message. */
struct ipfix_udp {
	struct acct_sink base;
	struct ipfix_enc enc;
	struct ipfix_exported exp;
	int fd;
	__u64 last_err_log;
};

static int udp_send(void *ctx, const void *msg, size_t len)
{
	struct ipfix_udp *s = ctx;
	ssize_t n = send(s->fd, msg, len, 0);

	if (n == (ssize_t)len) {
		s->exp.messages++;
		s->exp.records += s->enc.sent_records;
		s->exp.octets += len;
		return 0;
	}
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

static int udp_write(struct acct_sink *s, const struct acct_record *r)
{
	struct ipfix_udp *x = (struct ipfix_udp *)s;

	return ipfix_enc_add(&x->enc, r, wall_ms());
}

static int udp_flush(struct acct_sink *s)
{
	struct ipfix_udp *x = (struct ipfix_udp *)s;

	return ipfix_enc_flush(&x->enc);
}

static void udp_close(struct acct_sink *s)
{
	struct ipfix_udp *x = (struct ipfix_udp *)s;

	ipfix_enc_flush(&x->enc);
	close(x->fd);
	free(x);
}

/* The largest message the path takes without fragments. */
static __u32 udp_max_len(int fd, int family, __u32 mtu)
{
	int pmtu = 0, dont;
	socklen_t sl = sizeof(pmtu);

	/* Never let the kernel fragment: a message that does not fit the
	 * path fails to send, and is counted, instead of vanishing in
	 * reassembly. */
	if (family == AF_INET6) {
		dont = IPV6_PMTUDISC_DO;
		setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &dont,
			   sizeof(dont));
		getsockopt(fd, IPPROTO_IPV6, IPV6_MTU, &pmtu, &sl);
	} else {
		dont = IP_PMTUDISC_DO;
		setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &dont,
			   sizeof(dont));
		getsockopt(fd, IPPROTO_IP, IP_MTU, &pmtu, &sl);
	}
	if (pmtu <= 0 || (__u32)pmtu > mtu)
		pmtu = mtu;
	return pmtu - (family == AF_INET6 ? 40 + 8 : 20 + 8);
}

static struct acct_sink *udp_sink_new(const struct ipfix_sink_opts *o,
				      const struct addrinfo *ai)
{
	struct ipfix_udp *x = calloc(1, sizeof(*x));

	if (!x) {
		err_set("out of memory");
		return NULL;
	}
	x->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (x->fd < 0 || connect(x->fd, ai->ai_addr, ai->ai_addrlen)) {
		err_set("IPFIX collector %s: %s", o->collector,
			strerror(errno));
		if (x->fd >= 0)
			close(x->fd);
		free(x);
		return NULL;
	}
	x->base.name = "ipfix";
	x->base.write = udp_write;
	x->base.flush = udp_flush;
	x->base.close = udp_close;
	/* Over UDP a collector that starts late learns the templates only
	 * when they come again (RFC 7011, 8.4). */
	ipfix_enc_init(&x->enc, o->domain,
		       udp_max_len(x->fd, ai->ai_family, o->mtu),
		       o->template_refresh_ns / 1000000, udp_send, x);
	x->enc.exported = &x->exp;
	pr_debug("ipfix: exporting to %s over UDP, messages up to %u bytes\n",
		 o->collector, x->enc.max_len);
	return &x->base;
}

/*
 * The TCP transport (RFC 7011, 10.4): messages back to back on one
 * connection, framed by the length in their headers.  The socket never
 * blocks a sweep: records wait in a bounded queue of their own while the
 * connection is down, being set up, or full, and leave it only once the
 * message holding them is wholly written.  A connection that fails or is
 * closed by the collector is set up again after a pause that doubles up
 * to TCP_BACKOFF_MAX_MS; each new connection is a new transport session,
 * so the templates come first on it and sequence numbers start at 0.
 * Records beyond the queue's bound are dropped and counted (base.lost,
 * and notSentFlowTotalCount in the exporter's record).
 */
#define TCP_BACKOFF_MIN_MS 250
#define TCP_BACKOFF_MAX_MS 30000
#define TCP_CONNECT_MS 5000 /* a connect still under way this long fails */
#define TCP_CLOSE_MS 2000 /* what the last records may wait at the end */

enum tcp_state { TCP_DOWN, TCP_CONNECTING, TCP_UP };

struct ipfix_tcp {
	struct acct_sink base;
	struct ipfix_enc enc;
	struct ipfix_exported exp;
	char name[256];
	struct sockaddr_storage addr;
	socklen_t alen;
	int fd;
	enum tcp_state state;
	__u64 next_try_ms, backoff_ms, connect_ms;
	bool down_logged; /* the outage under way was reported */
	/* Records waiting, q[qhead..qn); the message being written holds
	 * the first out_nrec of them. */
	struct acct_record *q;
	size_t qhead, qn, qcap;
	unsigned char out[IPFIX_MAX_MSG];
	size_t out_len, out_off, out_nrec;
	__u64 lost_logged;
};

static int tcp_capture(void *ctx, const void *msg, size_t len)
{
	struct ipfix_tcp *t = ctx;

	memcpy(t->out, msg, len);
	t->out_len = len;
	t->out_off = 0;
	t->out_nrec = t->enc.sent_records;
	return 0;
}

static void tcp_down(struct ipfix_tcp *t, const char *what, int err)
{
	__u64 now = mono_ms();

	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->state = TCP_DOWN;
	t->base.errors++;
	/* A message cut short goes again, whole, on the next connection. */
	t->out_len = t->out_off = t->out_nrec = 0;
	t->next_try_ms = now + t->backoff_ms;
	if (!t->down_logged)
		pr_warn("ipfix: %s %s: %s; trying again, records wait (at most %u)\n",
			what, t->name, strerror(err), IPFIX_TCP_QUEUE_MAX);
	else
		pr_debug("ipfix: %s %s: %s; next try in %llu ms\n", what,
			 t->name, strerror(err),
			 (unsigned long long)t->backoff_ms);
	t->down_logged = true;
	t->backoff_ms *= 2;
	if (t->backoff_ms > TCP_BACKOFF_MAX_MS)
		t->backoff_ms = TCP_BACKOFF_MAX_MS;
}

static void tcp_up(struct ipfix_tcp *t)
{
	t->state = TCP_UP;
	t->backoff_ms = TCP_BACKOFF_MIN_MS;
	if (t->down_logged)
		pr_warn("ipfix: connected to %s again; %zu records waited\n",
			t->name, t->qn - t->qhead);
	else
		pr_info("ipfix: connected to %s\n", t->name);
	t->down_logged = false;
	ipfix_enc_restart(&t->enc);
}

static void tcp_connect(struct ipfix_tcp *t)
{
	t->fd = socket(t->addr.ss_family,
		       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		tcp_down(t, "cannot connect to", errno);
		return;
	}
	t->connect_ms = mono_ms();
	if (!connect(t->fd, (struct sockaddr *)&t->addr, t->alen))
		tcp_up(t);
	else if (errno == EINPROGRESS)
		t->state = TCP_CONNECTING;
	else
		tcp_down(t, "cannot connect to", errno);
}

/* A connect under way: done, failed, or still waiting. */
static void tcp_connecting(struct ipfix_tcp *t)
{
	struct pollfd p = { .fd = t->fd, .events = POLLOUT };
	socklen_t sl = sizeof(int);
	int err = 0;

	if (poll(&p, 1, 0) == 0) {
		if (mono_ms() - t->connect_ms >= TCP_CONNECT_MS)
			tcp_down(t, "cannot connect to", ETIMEDOUT);
		return;
	}
	if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &sl))
		err = errno;
	if (err)
		tcp_down(t, "cannot connect to", err);
	else
		tcp_up(t);
}

/* The collector sends nothing: readable means it closed (or reset). */
static bool tcp_peer_gone(struct ipfix_tcp *t, int *err)
{
	char c;
	ssize_t n = recv(t->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n == 0) {
		*err = ECONNRESET;
		return true;
	}
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		*err = errno;
		return true;
	}
	return false;
}

/* Encodes the next message from the head of the queue. */
static void tcp_encode(struct ipfix_tcp *t)
{
	__u64 now = wall_ms();
	size_t i = t->qhead;

	while (i < t->qn &&
	       (!t->enc.len || ipfix_enc_fits(&t->enc, &t->q[i], now)))
		ipfix_enc_add(&t->enc, &t->q[i++], now);
	ipfix_enc_flush(&t->enc);
}

/* Writes what it can without waiting. */
static void tcp_pump(struct ipfix_tcp *t)
{
	ssize_t n;
	int err;

	if (t->state == TCP_DOWN && mono_ms() >= t->next_try_ms)
		tcp_connect(t);
	if (t->state == TCP_CONNECTING)
		tcp_connecting(t);
	if (t->state != TCP_UP)
		return;
	if (tcp_peer_gone(t, &err)) {
		tcp_down(t, "connection lost to", err);
		return;
	}
	for (;;) {
		if (!t->out_len) {
			if (t->qhead == t->qn)
				break;
			tcp_encode(t);
		}
		n = send(t->fd, t->out + t->out_off, t->out_len - t->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0) {
			tcp_down(t, "connection lost to", errno);
			return;
		}
		t->out_off += n;
		if (t->out_off < t->out_len)
			continue;
		t->exp.messages++;
		t->exp.records += t->out_nrec;
		t->exp.octets += t->out_len;
		t->qhead += t->out_nrec;
		t->out_len = t->out_off = t->out_nrec = 0;
	}
	if (t->qhead == t->qn)
		t->qhead = t->qn = 0;
}

static int tcp_write(struct acct_sink *s, const struct acct_record *r)
{
	struct ipfix_tcp *t = (struct ipfix_tcp *)s;
	void *p;

	if (t->qn - t->qhead >= IPFIX_TCP_QUEUE_MAX) {
		s->lost++;
		t->exp.not_sent++;
		return -ENOBUFS;
	}
	if (t->qn == t->qcap && t->qhead) {
		memmove(t->q, t->q + t->qhead,
			(t->qn - t->qhead) * sizeof(*t->q));
		t->qn -= t->qhead;
		t->qhead = 0;
	}
	p = array_room(t->q, &t->qcap, t->qn, sizeof(*t->q), 1024);
	if (!p) {
		s->lost++;
		t->exp.not_sent++;
		return -ENOMEM;
	}
	t->q = p;
	t->q[t->qn++] = *r;
	return 0;
}

static int tcp_flush(struct acct_sink *s)
{
	struct ipfix_tcp *t = (struct ipfix_tcp *)s;

	tcp_pump(t);
	if (s->lost > t->lost_logged) {
		pr_warn("ipfix: %llu records dropped: more than %u waited for %s (%llu in all)\n",
			(unsigned long long)(s->lost - t->lost_logged),
			IPFIX_TCP_QUEUE_MAX, t->name,
			(unsigned long long)s->lost);
		t->lost_logged = s->lost;
	}
	return t->state == TCP_UP ? 0 : -ENOTCONN;
}

/* The last records get a little time, then what is left is lost. */
static void tcp_close(struct acct_sink *s)
{
	struct ipfix_tcp *t = (struct ipfix_tcp *)s;
	__u64 end = mono_ms() + TCP_CLOSE_MS;
	struct pollfd p;

	while (t->qhead < t->qn && mono_ms() < end) {
		if (t->state == TCP_DOWN && t->next_try_ms > end)
			t->next_try_ms = mono_ms();
		tcp_pump(t);
		if (t->qhead == t->qn)
			break;
		p = (struct pollfd){ .fd = t->fd, .events = POLLOUT };
		if (t->fd < 0 || poll(&p, 1, 50) <= 0)
			usleep(50000);
	}
	if (t->qn > t->qhead) {
		s->lost += t->qn - t->qhead;
		pr_warn("ipfix: %zu records could not be sent to %s and are lost\n",
			t->qn - t->qhead, t->name);
	}
	if (t->fd >= 0)
		close(t->fd);
	free(t->q);
	free(t);
}

static struct acct_sink *tcp_sink_new(const struct ipfix_sink_opts *o,
				      const struct addrinfo *ai)
{
	struct ipfix_tcp *t = calloc(1, sizeof(*t));

	if (!t) {
		err_set("out of memory");
		return NULL;
	}
	snprintf(t->name, sizeof(t->name), "%s", o->collector);
	memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
	t->alen = ai->ai_addrlen;
	t->fd = -1;
	t->backoff_ms = TCP_BACKOFF_MIN_MS;
	t->base.name = "ipfix-tcp";
	t->base.write = tcp_write;
	t->base.flush = tcp_flush;
	t->base.close = tcp_close;
	/* Templates once per connection, which is reliable; the exporter's
	 * record as often as UDP would resend templates. */
	ipfix_enc_init(&t->enc, o->domain, IPFIX_MAX_MSG, 0, tcp_capture, t);
	t->enc.stats_ms = o->template_refresh_ns / 1000000;
	t->enc.exported = &t->exp;
	tcp_connect(t);
	pr_debug("ipfix: exporting to %s over TCP\n", o->collector);
	return &t->base;
}

struct acct_sink *ipfix_sink_new(const struct ipfix_sink_opts *o)
{
	struct addrinfo hints = {}, *ai = NULL;
	char buf[256], *host, *port;
	struct acct_sink *s;
	bool tcp;
	int err;

	if (snprintf(buf, sizeof(buf), "%s", o->collector) >=
		    (int)sizeof(buf) ||
	    split_collector(buf, &tcp, &host, &port)) {
		err_set("IPFIX collector must be HOST:PORT, udp://HOST:PORT or tcp://HOST:PORT, not '%s'",
			o->collector);
		return NULL;
	}
	hints.ai_socktype = tcp ? SOCK_STREAM : SOCK_DGRAM;
	err = getaddrinfo(host, port, &hints, &ai);
	if (err) {
		err_set("IPFIX collector %s: %s", o->collector,
			gai_strerror(err));
		return NULL;
	}
	s = tcp ? tcp_sink_new(o, ai) : udp_sink_new(o, ai);
	freeaddrinfo(ai);
	return s;
}
