// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Helpers for the time-to-connect part (bench/connect.sh):
 *
 *   listen IP PORT      accepts and closes connections until killed; prints
 *                       "ready" once listening, then a line "SPORT RETRANS"
 *                       per connection (RETRANS: tcpi_total_retrans, which
 *                       counts the retransmitted SYN-ACKs of the handshake)
 *   connect [-n COUNT] [-p PORT] [-R ROUND] LABEL SRC DST DPORT
 *                       COUNT (default 50) sequential TCP connections from
 *                       SRC to DST:DPORT, each from a source port of its
 *                       own (PORT, PORT + 1, ...: a new flow every time),
 *                       and writes the round's rows: median, p90 and max
 *                       time for connect() to complete, the connections
 *                       whose SYN was retransmitted (tcpi_total_retrans)
 *                       and those that failed
 *
 * A connection is closed with an RST (SO_LINGER 0), so that neither end
 * keeps a TIME_WAIT socket behind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include "bench.h"

#define CONNECT_TIMEOUT_S 10

static void parse_addr(struct sockaddr_in *a, const char *ip, int port)
{
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	if (inet_pton(AF_INET, ip, &a->sin_addr) != 1)
		die("bad IPv4 address %s", ip);
}

int cmd_listen(int argc, char **argv)
{
	struct sockaddr_in a;
	int fd, c, one = 1;

	if (argc != 3)
		die("usage: listen IP PORT");
	parse_addr(&a, argv[1], atoi(argv[2]));
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (void *)&a, sizeof(a)) || listen(fd, 128))
		die("listen on %s:%s: %s", argv[1], argv[2], strerror(errno));
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		struct sockaddr_in peer;
		socklen_t pl = sizeof(peer);
		struct tcp_info ti;
		socklen_t tl = sizeof(ti);

		c = accept(fd, (void *)&peer, &pl);
		if (c < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				die("accept: %s", strerror(errno));
			continue;
		}
		/* A passive open's total_retrans starts with its SYN-ACK's. */
		memset(&ti, 0, sizeof(ti));
		getsockopt(c, IPPROTO_TCP, TCP_INFO, &ti, &tl);
		printf("%u %u\n", ntohs(peer.sin_port), ti.tcpi_total_retrans);
		fflush(stdout);
		close(c);
	}
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

/*
 * One connection from src, source port *port (moved on past ports already
 * in use); returns the time connect() took in ns, or 0 if it failed.
 */
static __u64 one_connect(const struct sockaddr_in *src, int *port,
			 const struct sockaddr_in *dst, unsigned int *retrans)
{
	struct timeval tv = { .tv_sec = CONNECT_TIMEOUT_S };
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct sockaddr_in s = *src;
	struct tcp_info ti;
	socklen_t tl = sizeof(ti);
	__u64 t0, t = 0;
	int fd, tries;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	for (tries = 0;; tries++) {
		s.sin_port = htons(*port);
		if (!bind(fd, (void *)&s, sizeof(s)))
			break;
		if (errno != EADDRINUSE || tries == 1000 || *port >= 65535)
			die("bind to port %d: %s", *port, strerror(errno));
		++*port; /* someone else's: take the next one */
	}
	++*port;
	/* A blocking connect() gives up after SO_SNDTIMEO. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	t0 = mono_ns();
	if (!connect(fd, (const void *)dst, sizeof(*dst))) {
		t = mono_ns() - t0;
		memset(&ti, 0, sizeof(ti));
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &tl))
			die("TCP_INFO: %s", strerror(errno));
		*retrans = ti.tcpi_total_retrans;
		if (!t)
			t = 1;
	}
	close(fd);
	return t;
}

int cmd_connect(int argc, char **argv)
{
	struct sockaddr_in src, dst;
	const char *label;
	int count = 50, port = 20000, round = 1, c, i, n = 0, failed = 0,
	    resent = 0;
	char name[160];
	__u64 *t, med;

	while ((c = getopt(argc, argv, "n:p:R:")) != -1) {
		switch (c) {
		case 'n':
			count = atoi(optarg);
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'R':
			round = atoi(optarg);
			break;
		default:
			die("usage: connect [-n COUNT] [-p PORT] [-R ROUND] LABEL SRC DST DPORT");
		}
	}
	if (argc - optind != 4 || count < 1 || port < 1 || port > 65535)
		die("usage: connect [-n COUNT] [-p PORT] [-R ROUND] LABEL SRC DST DPORT");
	label = argv[optind];
	parse_addr(&src, argv[optind + 1], 0);
	parse_addr(&dst, argv[optind + 2], atoi(argv[optind + 3]));
	t = calloc(count, sizeof(*t));
	if (!t)
		die("out of memory");
	for (i = 0; i < count; i++) {
		unsigned int retrans = 0;
		__u64 ns = one_connect(&src, &port, &dst, &retrans);

		if (!ns) {
			failed++;
			continue;
		}
		t[n++] = ns;
		resent += retrans > 0;
	}
	if (n) {
		qsort(t, n, sizeof(*t), cmp_u64);
		med = n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
		snprintf(name, sizeof(name), "%s: median", label);
		emit_row("connect", name, round, med / 1e3, "us");
		/* Nearest rank. */
		snprintf(name, sizeof(name), "%s: p90", label);
		emit_row("connect", name, round, t[(9 * n + 9) / 10 - 1] / 1e3,
			 "us");
		snprintf(name, sizeof(name), "%s: max", label);
		emit_row("connect", name, round, t[n - 1] / 1e3, "us");
	}
	snprintf(name, sizeof(name), "%s: retransmitted SYN", label);
	emit_row("connect", name, round, resent, "connections");
	snprintf(name, sizeof(name), "%s: connections", label);
	emit_row("connect", name, round, n, "connections");
	snprintf(name, sizeof(name), "%s: failed", label);
	emit_row("connect", name, round, failed, "connections");
	fprintf(stderr,
		"bench connect: %s: %d connected, %d failed, %d with a retransmitted SYN\n",
		label, n, failed, resent);
	free(t);
	return 0;
}
