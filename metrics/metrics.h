/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Metrics for Prometheus (docs/metrics.md): the text exposition format
 * (version 0.0.4), and a small HTTP server that answers GET /metrics from
 * the event loop of the process that owns it (the daemon, the collector).
 * The server never blocks: it has its own epoll set, whose one fd the
 * owner adds to its loop; connections are few, bounded in size and time.
 */
#ifndef FLOWBPF_METRICS_H
#define FLOWBPF_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <linux/types.h>
#include "flowbpf.h"

#define METRICS_PATH "/metrics"
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* Connections served at once; a newcomer then replaces the oldest one
 * still sending its request. */
#define METRICS_CONNS 16
/* A request (line and headers) longer than this is refused (431). */
#define METRICS_REQ_MAX 8192
/* Time a client has to send its request, and to take its reply. */
#define METRICS_REQ_NS (5ULL * 1000000000)
#define METRICS_REPLY_NS (10ULL * 1000000000)

/* An exposition being written; oom once an allocation failed. */
struct metrics_buf {
	char *p;
	size_t len, cap;
	bool oom;
};

void metrics_printf(struct metrics_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "# HELP" and "# TYPE" of a family (type: counter, gauge, histogram). */
void metrics_family(struct metrics_buf *b, const char *name, const char *type,
		    const char *help);
/*
 * One sample: name{l1="v1",l2="v2"} value, a label left out where its
 * name is NULL.  Values are escaped, and bytes that are not UTF-8 (an
 * interface or rule name may hold any) become U+FFFD.
 */
void metrics_u64(struct metrics_buf *b, const char *name, __u64 v,
		 const char *l1, const char *v1, const char *l2,
		 const char *v2);
void metrics_f64(struct metrics_buf *b, const char *name, double v,
		 const char *l1, const char *v1, const char *l2,
		 const char *v2);

/*
 * A histogram with the bounds of decision latency (metrics.c), kept in
 * nanoseconds so that count and sum are exact; exposed in seconds.
 */
#define METRICS_LAT_BOUNDS 17
struct metrics_hist {
	__u64 bucket[METRICS_LAT_BOUNDS + 1]; /* last: above every bound */
	__u64 count, sum_ns;
};

void metrics_hist_observe(struct metrics_hist *h, __u64 ns);
void metrics_hist_write(struct metrics_buf *b, const char *name,
			const char *help, const struct metrics_hist *h);

/*
 * The datapath counters of n interfaces (struct flowbpf_stats each), as
 * flowbpf_packets_total / flowbpf_bytes_total by outcome and one family
 * for every other counter.
 */
void metrics_datapath(struct metrics_buf *b, const char *const *ifnames,
		      const struct flowbpf_stats *st, int n);

/* Where to listen: ADDR:PORT, [IPV6]:PORT or NAME:PORT, resolved. */
struct metrics_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[128]; /* as given */
};

/* 0, or -EINVAL with err_get() saying what is wrong with s. */
int metrics_addr_parse(const char *s, struct metrics_addr *a);

/* Writes the exposition into b; 0 or -errno. */
typedef int (*metrics_fill_fn)(void *ctx, struct metrics_buf *b);

struct metrics_server;

/* Listens on a; NULL with err_get() set. */
struct metrics_server *metrics_open(const struct metrics_addr *a,
				    metrics_fill_fn fill, void *ctx);
/* The fd to watch for EPOLLIN in the owner's loop. */
int metrics_fd(const struct metrics_server *s);
/* Serves what is ready, without waiting; call when metrics_fd() is
 * readable, and about once a second so that slow clients time out. */
void metrics_serve(struct metrics_server *s);
/* NULL-safe. */
void metrics_close(struct metrics_server *s);

#endif
