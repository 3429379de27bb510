// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The exposition writer and the HTTP server of metrics.h.
 *
 * The server speaks just enough HTTP/1.0 and 1.1 for a scraper: one
 * request a connection, answered with "Connection: close".  Everything is
 * non-blocking and driven by the owner's loop, so a client that sends
 * nothing, sends slowly or sends garbage costs a slot and a few bytes of
 * memory, never time on the owner's decision path.
 */
#include <errno.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include "clock.h"
#include "flowfmt.h"
#include "log.h"
#include "metrics.h"

/* Decision latency bounds, ns: from well under a typical decision to the
 * default timeout, past which the kernel decides by itself. */
static const __u64 lat_bounds[METRICS_LAT_BOUNDS] = {
	10000,	   25000,     50000,	 100000,     250000,	    500000,
	1000000,   2500000,   5000000,	 10000000,   25000000,	    50000000,
	100000000, 250000000, 500000000, 1000000000, 2500000000ULL,
};

void metrics_printf(struct metrics_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = b->cap - b->len;
		char *p;

		if (b->oom)
			return;
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += n;
			return;
		}
		room = b->cap ? b->cap * 2 : 16384;
		while (room < b->len + n + 1)
			room *= 2;
		p = realloc(b->p, room);
		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = room;
	}
}

void metrics_family(struct metrics_buf *b, const char *name, const char *type,
		    const char *help)
{
	metrics_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name,
		       type);
}

/* Length of the well-formed UTF-8 sequence at s (of n bytes), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return len;
}

static void label_value(struct metrics_buf *b, const char *v)
{
	const unsigned char *s = (const unsigned char *)v;
	size_t n = strlen(v), i = 0, k;

	while (i < n) {
		k = utf8_len(s + i, n - i);
		if (!k) {
			metrics_printf(b, "\xef\xbf\xbd");
			i++;
		} else if (s[i] == '\\' || s[i] == '"') {
			metrics_printf(b, "\\%c", s[i++]);
		} else if (s[i] == '\n') {
			metrics_printf(b, "\\n");
			i++;
		} else {
			metrics_printf(b, "%.*s", (int)k, (const char *)s + i);
			i += k;
		}
	}
}

static void sample_start(struct metrics_buf *b, const char *name,
			 const char *l1, const char *v1, const char *l2,
			 const char *v2)
{
	metrics_printf(b, "%s", name);
	if (!l1 && !l2)
		return;
	metrics_printf(b, "{");
	if (l1) {
		metrics_printf(b, "%s=\"", l1);
		label_value(b, v1);
		metrics_printf(b, "\"%s", l2 ? "," : "");
	}
	if (l2) {
		metrics_printf(b, "%s=\"", l2);
		label_value(b, v2);
		metrics_printf(b, "\"");
	}
	metrics_printf(b, "}");
}

void metrics_u64(struct metrics_buf *b, const char *name, __u64 v,
		 const char *l1, const char *v1, const char *l2, const char *v2)
{
	sample_start(b, name, l1, v1, l2, v2);
	metrics_printf(b, " %llu\n", (unsigned long long)v);
}

void metrics_f64(struct metrics_buf *b, const char *name, double v,
		 const char *l1, const char *v1, const char *l2, const char *v2)
{
	sample_start(b, name, l1, v1, l2, v2);
	metrics_printf(b, " %.15g\n", v);
}

void metrics_hist_observe(struct metrics_hist *h, __u64 ns)
{
	int i = 0;

	while (i < METRICS_LAT_BOUNDS && ns > lat_bounds[i])
		i++;
	h->bucket[i]++;
	h->count++;
	h->sum_ns += ns;
}

void metrics_hist_write(struct metrics_buf *b, const char *name,
			const char *help, const struct metrics_hist *h)
{
	char le[32];
	__u64 cum = 0;
	int i;

	metrics_family(b, name, "histogram", help);
	for (i = 0; i < METRICS_LAT_BOUNDS; i++) {
		cum += h->bucket[i];
		snprintf(le, sizeof(le), "%.9g", lat_bounds[i] / 1e9);
		metrics_printf(b, "%s_bucket{le=\"%s\"} %llu\n", name, le,
			       (unsigned long long)cum);
	}
	metrics_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n", name,
		       (unsigned long long)h->count);
	metrics_printf(b, "%s_sum %.9f\n%s_count %llu\n", name, h->sum_ns / 1e9,
		       name, (unsigned long long)h->count);
}

/* "pass_packets" -> "pass", "err_l2_truncated" as it is. */
static void outcome_of(const char *key, const char *suffix, char *buf,
		       size_t len)
{
	size_t kl = strlen(key), sl = strlen(suffix);

	if (kl > sl && !strcmp(key + kl - sl, suffix))
		kl -= sl;
	snprintf(buf, len, "%.*s", (int)kl, key);
}

static bool is_bytes(int i)
{
	const char *k = stat_name(i);
	size_t kl = strlen(k);

	return kl > 6 && !strcmp(k + kl - 6, "_bytes");
}

void metrics_datapath(struct metrics_buf *b, const char *const *ifnames,
		      const struct flowbpf_stats *st, int n)
{
	char name[96], outcome[64], help[160];
	int i, j;

	metrics_family(
		b, "flowbpf_packets_total", "counter",
		"Packets seen by the datapath, by outcome (each packet has exactly one).");
	for (i = 0; i < FLOWBPF_STAT_MAX; i++) {
		if (!stat_is_outcome(i))
			continue;
		outcome_of(stat_name(i), "_packets", outcome, sizeof(outcome));
		for (j = 0; j < n; j++)
			metrics_u64(b, "flowbpf_packets_total", st[j].c[i],
				    "iface", ifnames[j], "outcome", outcome);
	}
	metrics_family(b, "flowbpf_bytes_total", "counter",
		       "IP-layer bytes of the packets of an outcome.");
	for (i = 0; i < FLOWBPF_STAT_MAX; i++) {
		if (!is_bytes(i))
			continue;
		outcome_of(stat_name(i), "_bytes", outcome, sizeof(outcome));
		for (j = 0; j < n; j++)
			metrics_u64(b, "flowbpf_bytes_total", st[j].c[i],
				    "iface", ifnames[j], "outcome", outcome);
	}
	/* The rest, each its own family; "packets" is the sum of the
	 * outcomes and not exposed, so that sum() counts each packet once. */
	for (i = 0; i < FLOWBPF_STAT_MAX; i++) {
		if (i == FLOWBPF_STAT_PACKETS || stat_is_outcome(i) ||
		    is_bytes(i))
			continue;
		snprintf(name, sizeof(name), "flowbpf_%s_total", stat_name(i));
		snprintf(help, sizeof(help),
			 "Datapath counter %s (docs/maps.md, Statistics).",
			 stat_name(i));
		metrics_family(b, name, "counter", help);
		for (j = 0; j < n; j++)
			metrics_u64(b, name, st[j].c[i], "iface", ifnames[j],
				    NULL, NULL);
	}
}

int metrics_addr_parse(const char *s, struct metrics_addr *a)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV | AI_PASSIVE },
			*ai = NULL;
	char host[128], port[8];
	const char *sep;
	int err;

	memset(a, 0, sizeof(*a));
	if (strlen(s) >= sizeof(host))
		goto bad;
	snprintf(a->text, sizeof(a->text), "%s", s);
	if (s[0] == '[') {
		sep = strchr(s, ']');
		if (!sep || sep[1] != ':')
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(sep - s - 1), s + 1);
		sep++;
		hints.ai_family = AF_INET6;
		hints.ai_flags |= AI_NUMERICHOST;
	} else {
		/* More than one ':' is an IPv6 address without brackets. */
		sep = strchr(s, ':');
		if (!sep || strchr(sep + 1, ':'))
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(sep - s), s);
	}
	/* Plain decimal digits, 1-65535, as every other number here. */
	if (!host[0] || strlen(sep + 1) < 1 || strlen(sep + 1) > 5 ||
	    strspn(sep + 1, "0123456789") != strlen(sep + 1) ||
	    atoi(sep + 1) < 1 || atoi(sep + 1) > 65535)
		goto bad;
	snprintf(port, sizeof(port), "%s", sep + 1);
	err = getaddrinfo(host, port, &hints, &ai);
	if (err || !ai) {
		err_set("--metrics: cannot resolve '%s': %s", host,
			err ? gai_strerror(err) : "no address");
		return -EINVAL;
	}
	memcpy(&a->ss, ai->ai_addr, ai->ai_addrlen);
	a->len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
bad:
	err_set("--metrics must be ADDR:PORT, [IPV6]:PORT or NAME:PORT with a port of 1-65535, not '%s'",
		s);
	return -EINVAL;
}

/* One client.  fd -1: a free slot. */
struct mconn {
	int fd;
	__u64 since_ns, deadline_ns;
	char req[METRICS_REQ_MAX];
	size_t len;
	char *out; /* the reply, once the request is complete */
	size_t out_len, out_off;
	/* Sent; what the client still sends is read and dropped until it
	 * closes, since closing with unread data would reset the
	 * connection and could take the reply with it. */
	bool closing;
};

/* How long a client that has its reply may take to close. */
#define METRICS_LINGER_NS 2000000000ULL

struct metrics_server {
	int epfd, lfd;
	metrics_fill_fn fill;
	void *ctx;
	struct mconn conns[METRICS_CONNS];
	__u64 last_expire;
};

/* epoll data: the listening socket, or 1 + the slot of a client. */
enum { EV_LISTEN = 0 };

static void conn_drop(struct mconn *c)
{
	/* Its only fd: closing it also takes it out of the epoll set. */
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void conn_write(struct metrics_server *s, struct mconn *c)
{
	struct epoll_event ev = { .events = EPOLLIN,
				  .data.u32 = 1 + (c - s->conns) };
	ssize_t r;

	while (c->out_off < c->out_len) {
		r = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r < 0) {
			conn_drop(c);
			return;
		}
		c->out_off += r;
	}
	free(c->out);
	c->out = NULL;
	c->closing = true;
	c->deadline_ns = mono_now_ns() + METRICS_LINGER_NS;
	if (shutdown(c->fd, SHUT_WR) ||
	    epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev))
		conn_drop(c);
}

/* Reads and drops what a client sends after its reply, until it closes. */
static void conn_linger(struct mconn *c)
{
	ssize_t r;
	int i;

	for (i = 0; i < 16; i++) {
		r = recv(c->fd, c->req, sizeof(c->req), MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			return;
		if (r <= 0)
			break;
	}
	/* Gone, or a client that sends without end: enough. */
	conn_drop(c);
}

/* The whole response, headers and body, in c->out (NULL when out of
 * memory). */
static void conn_reply(struct mconn *c, const char *status, const char *extra,
		       const char *type, const char *body, size_t blen,
		       bool head)
{
	struct metrics_buf b = {};

	metrics_printf(&b,
		       "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
		       "Content-Length: %zu\r\n%sConnection: close\r\n\r\n",
		       status, type, blen, extra);
	if (!head && blen && !b.oom) {
		char *p = realloc(b.p, b.len + blen);

		if (p) {
			memcpy(p + b.len, body, blen);
			b.p = p;
			b.len += blen;
		} else {
			b.oom = true;
		}
	}
	if (b.oom) {
		free(b.p);
		b.p = NULL;
	}
	c->out = b.p;
	c->out_len = b.len;
}

static void plain(struct mconn *c, const char *status, const char *extra,
		  bool head)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "%s\n", status);

	conn_reply(c, status, extra, "text/plain; charset=utf-8", body, n,
		   head);
}

/*
 * Answers a complete request line (headers are read but not looked at):
 * GET or HEAD of /metrics, with or without a query string.
 */
static void answer(struct metrics_server *s, struct mconn *c)
{
	char method[16], target[256], version[16], rest;
	struct metrics_buf b = {};
	bool head;
	char *eol = strpbrk(c->req, "\r\n");
	size_t plen;
	int n;

	if (eol)
		*eol = '\0';
	n = sscanf(c->req, "%15[A-Z] %255[!-~] %15[!-~] %c", method, target,
		   version, &rest);
	if (n != 3 ||
	    (strcmp(version, "HTTP/1.0") && strcmp(version, "HTTP/1.1"))) {
		plain(c, "400 Bad Request", "", false);
		return;
	}
	head = !strcmp(method, "HEAD");
	if (!head && strcmp(method, "GET")) {
		plain(c, "405 Method Not Allowed", "Allow: GET, HEAD\r\n",
		      false);
		return;
	}
	plen = strcspn(target, "?");
	if (plen != strlen(METRICS_PATH) ||
	    strncmp(target, METRICS_PATH, plen)) {
		plain(c, "404 Not Found", "", head);
		return;
	}
	if (s->fill(s->ctx, &b) || b.oom) {
		free(b.p);
		plain(c, "500 Internal Server Error", "", head);
		return;
	}
	conn_reply(c, "200 OK", "", METRICS_CONTENT_TYPE, b.p, b.len, head);
	free(b.p);
}

/* The end of the headers: an empty line. */
static bool request_done(const struct mconn *c)
{
	return strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n");
}

static void conn_answer(struct metrics_server *s, struct mconn *c, bool full)
{
	struct epoll_event ev = { .events = EPOLLOUT,
				  .data.u32 = 1 + (c - s->conns) };

	if (full)
		plain(c, "431 Request Header Fields Too Large", "", false);
	else
		answer(s, c);
	if (!c->out) {
		conn_drop(c);
		return;
	}
	c->deadline_ns = mono_now_ns() + METRICS_REPLY_NS;
	if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, c->fd, &ev)) {
		conn_drop(c);
		return;
	}
	conn_write(s, c);
}

static void conn_read(struct metrics_server *s, struct mconn *c)
{
	ssize_t r;

	for (;;) {
		r = recv(c->fd, c->req + c->len, sizeof(c->req) - 1 - c->len,
			 MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r == 0 && c->len) {
			/* Done writing without the empty line: answered as
			 * far as it went. */
			conn_answer(s, c, false);
			return;
		}
		if (r <= 0) {
			conn_drop(c);
			return;
		}
		/* No request has a NUL: garbage, and it would end the text. */
		if (memchr(c->req + c->len, '\0', r)) {
			c->req[0] = '\0';
			conn_answer(s, c, false);
			return;
		}
		c->len += r;
		c->req[c->len] = '\0';
		if (request_done(c)) {
			conn_answer(s, c, false);
			return;
		}
		if (c->len == sizeof(c->req) - 1) {
			conn_answer(s, c, true);
			return;
		}
	}
}

/* A free slot; when there is none, the oldest client that is not being
 * sent its reply is dropped for the newcomer. */
static struct mconn *conn_slot(struct metrics_server *s)
{
	struct mconn *c, *oldest = NULL;

	for (c = s->conns; c < s->conns + METRICS_CONNS; c++) {
		if (c->fd < 0)
			return c;
		if (!c->out && (!oldest || c->since_ns < oldest->since_ns))
			oldest = c;
	}
	if (oldest)
		conn_drop(oldest);
	return oldest;
}

static void conn_accept(struct metrics_server *s)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct mconn *c;
	int fd, i;

	/* A few at a time: the owner's loop must not wait for a crowd. */
	for (i = 0; i < METRICS_CONNS; i++) {
		fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		c = conn_slot(s);
		if (!c) {
			close(fd);
			continue;
		}
		ev.data.u32 = 1 + (c - s->conns);
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->since_ns = mono_now_ns();
		c->deadline_ns = c->since_ns + METRICS_REQ_NS;
	}
}

static void conns_expire(struct metrics_server *s, __u64 now)
{
	struct mconn *c;

	for (c = s->conns; c < s->conns + METRICS_CONNS; c++)
		if (c->fd >= 0 && now >= c->deadline_ns)
			conn_drop(c);
}

void metrics_serve(struct metrics_server *s)
{
	struct epoll_event evs[METRICS_CONNS + 1];
	__u64 now;
	int n, i;
	__u32 slot;

	if (!s)
		return;
	n = epoll_wait(s->epfd, evs, METRICS_CONNS + 1, 0);
	for (i = 0; i < n; i++) {
		if (evs[i].data.u32 == EV_LISTEN) {
			conn_accept(s);
			continue;
		}
		slot = evs[i].data.u32 - 1;
		if (slot >= METRICS_CONNS || s->conns[slot].fd < 0)
			continue;
		if (s->conns[slot].closing)
			conn_linger(&s->conns[slot]);
		else if (s->conns[slot].out)
			conn_write(s, &s->conns[slot]);
		else
			conn_read(s, &s->conns[slot]);
	}
	now = mono_now_ns();
	if (now - s->last_expire >= 1000000000ULL) {
		s->last_expire = now;
		conns_expire(s, now);
	}
}

int metrics_fd(const struct metrics_server *s)
{
	return s->epfd;
}

struct metrics_server *metrics_open(const struct metrics_addr *a,
				    metrics_fill_fn fill, void *ctx)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = EV_LISTEN };
	struct metrics_server *s = calloc(1, sizeof(*s));
	int one = 1, i;

	if (!s) {
		err_set("--metrics: out of memory");
		return NULL;
	}
	s->fill = fill;
	s->ctx = ctx;
	for (i = 0; i < METRICS_CONNS; i++)
		s->conns[i].fd = -1;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->lfd = socket(a->ss.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->epfd < 0 || s->lfd < 0 ||
	    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (a->ss.ss_family == AF_INET6 &&
	     setsockopt(s->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			sizeof(one))) ||
	    bind(s->lfd, (const struct sockaddr *)&a->ss, a->len) ||
	    listen(s->lfd, 64) ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev)) {
		err_set("--metrics: cannot listen on %s: %s", a->text,
			strerror(errno));
		metrics_close(s);
		return NULL;
	}
	return s;
}

void metrics_close(struct metrics_server *s)
{
	int i;

	if (!s)
		return;
	for (i = 0; i < METRICS_CONNS; i++)
		conn_drop(&s->conns[i]);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->epfd >= 0)
		close(s->epfd);
	free(s);
}
