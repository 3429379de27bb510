// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * flowbpf daemon: the slow path.  The kernel records a new flow as QUEUED
 * and sends one event; the daemon evaluates the policy and writes PASS or
 * DROP into the flow's entry, in batches, through the verdict program.
 * If it is away, the kernel's own timeout applies the default, so nothing
 * here is needed for traffic to flow.
 *
 * Everything it must not lose lives in pinned maps, not in this process:
 * on start (and when the kernel reports lost events) it scans the flow
 * map and decides every flow still QUEUED.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/if_packet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "acct.h"
#include "clock.h"
#include "csum.h"
#include "daemon.h"
#include "flowfmt.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"

#define LAT_BUCKETS 10000 /* 1 us each; beyond: the overflow bucket */

/* A verdict in the batch, with what it was decided from. */
struct vpending {
	int rule; /* policy rule, -1 for the default */
	__u64 ts_ns; /* the event's time, for the latency; 0 for none */
};

struct iface {
	struct daemon *d; /* the daemon serving it */
	struct flowbpf_handle h;
	int lock_fd; /* holds the claim on the interface (iface_lock()) */
	bool detached; /* its pins are gone; said so once */
	__u32 refused_id; /* a new attach (flow map id) served by another */
	__u64 lost_seen; /* events_lost counter at the last rescan */
	__u64 fallback_seen; /* kernel_fallbacks() at the last rescan */
	__u64 events;
	/* Verdicts decided, written together by flush() (one program run). */
	struct flowbpf_vop ops[FLOWBPF_VERDICT_BATCH];
	struct vpending pend[FLOWBPF_VERDICT_BATCH];
	int nops;
};

/*
 * A control client.  A request is one short line; what a client may
 * take to send it and to read its reply is bounded, and so is the
 * number of clients served at once.
 */
#define CTL_CLIENTS 32
#define CTL_REQ_MAX 128
#define CTL_REQ_NS 1000000000ULL
#define CTL_REPLY_NS 10000000000ULL

struct client {
	int fd; /* -1: a free slot */
	__u64 since_ns, deadline_ns;
	char req[CTL_REQ_MAX];
	size_t len;
	char *out; /* the reply, once the request is complete */
	size_t out_len, out_off;
};

/* What an epoll event is about; EV_CLIENT + slot for a client. */
enum { EV_RING = 1, EV_SIGNAL, EV_LISTEN, EV_METRICS, EV_CLIENT = 16 };

/* A PASS flow whose held packets are still being released. */
struct drain {
	struct flowbpf_key key;
	int ifc;
	__u16 held; /* the flow's count before the ring was drained */
};

struct daemon {
	const struct daemon_opts *o;
	struct drain *drains;
	size_t ndrains, cap_drains;
	struct policy *pol;
	struct iface ifs[FLOWBPF_MAX_IFACES];
	int nifs;
	struct ring_buffer *rb;
	int epfd, sfd, lfd;
	dev_t sock_dev; /* the control socket's file, once bound */
	ino_t sock_ino;
	bool pid_written;
	int pkt_fd; /* AF_PACKET, to send held egress frames */
	struct client clients[CTL_CLIENTS];
	bool stop;
	bool polling; /* told the kernel (heartbeat) it need not wake us */
	__u64 last_beat, last_poll;
	time_t started;
	int last_minute;
	/* counters for "stats" */
	__u64 events, decided_pass, decided_drop, write_errors;
	__u64 reloads, reload_errors, rescans, rescan_decided;
	__u64 held, held_released, held_discarded, reinject_errors;
	__u64 stale_events;
	__u64 lat[LAT_BUCKETS + 1], lat_n, lat_max_ns;
	struct metrics_hist lat_hist; /* the same decisions, for --metrics */
	struct metrics_server *ms; /* NULL without --metrics */
	char last_error[512];
	struct quota_watch *qw; /* quotas from the accounting store, or NULL */
};

/* The policy's verdict, unless a quota at its limit denies the flow. */
static __u32 verdict_of(struct daemon *d, const struct flowbpf_key *k, int rule)
{
	__u32 v = policy_verdict(d->pol, rule);

	if (v == FLOWBPF_VERDICT_PASS && quota_watch_blocks(d->qw, d->pol, k))
		v = FLOWBPF_VERDICT_DROP;
	return v;
}

static void lat_add(struct daemon *d, __u64 ns)
{
	__u64 us = ns / 1000;

	d->lat[us < LAT_BUCKETS ? us : LAT_BUCKETS]++;
	d->lat_n++;
	if (ns > d->lat_max_ns)
		d->lat_max_ns = ns;
	metrics_hist_observe(&d->lat_hist, ns);
}

/* Upper bound (us) of the bucket holding the q-th quantile. */
static double lat_quantile(const struct daemon *d, double q)
{
	__u64 want, seen = 0;
	int i;

	if (!d->lat_n)
		return 0;
	want = (__u64)(q * d->lat_n);
	if (want >= d->lat_n)
		want = d->lat_n - 1;
	for (i = 0; i <= LAT_BUCKETS; i++) {
		seen += d->lat[i];
		/* The bucket's upper edge, but never above what was seen. */
		if (seen > want)
			return i < LAT_BUCKETS && i + 1 < d->lat_max_ns / 1000.0
				       ? i + 1
				       : d->lat_max_ns / 1000.0;
	}
	return d->lat_max_ns / 1000.0;
}

/* Local time for time-of-day rules: localtime_r() once a second, not
 * once a flow. */
static void flow_ctx_now(struct flow_ctx *c, const char *ifname)
{
	static __thread time_t last = -1;
	static __thread struct tm tm;
	time_t t = time(NULL);

	if (t != last) {
		localtime_r(&t, &tm);
		last = t;
	}
	c->ifname = ifname;
	c->now = tm;
}

static void drain_add(struct daemon *d, struct iface *ifc,
		      const struct flowbpf_key *k)
{
	if (d->ndrains == d->cap_drains) {
		size_t cap = d->cap_drains ? d->cap_drains * 2 : 64;
		struct drain *n = realloc(d->drains, cap * sizeof(*n));

		if (!n)
			return; /* the kernel then holds until the timeout */
		d->drains = n;
		d->cap_drains = cap;
	}
	d->drains[d->ndrains].key = *k;
	d->drains[d->ndrains].ifc = ifc - d->ifs;
	d->ndrains++;
}

static void count_decided(struct daemon *d, struct iface *ifc,
			  const struct flowbpf_vop *op, int rule)
{
	if (op->verdict == FLOWBPF_VERDICT_PASS &&
	    ifc->h.cfg.pending == FLOWBPF_PENDING_HOLD)
		drain_add(d, ifc, &op->key);
	if (rule >= 0)
		d->pol->rules[rule].hits++;
	else
		d->pol->default_hits++;
	if (op->verdict == FLOWBPF_VERDICT_PASS)
		d->decided_pass++;
	else
		d->decided_drop++;
	if (log_level() >= LOG_DEBUG) {
		char spec[160];

		flow_spec_str(&op->key, spec, sizeof(spec));
		pr_debug("debug: %s: %s -> %s (%s%s)\n", ifc->h.ifname, spec,
			 verdict_name(op->verdict),
			 rule < 0 ? "default" : "rule ",
			 rule < 0 ? "" : d->pol->rules[rule].name);
	}
}

/* Writes the interface's batch of verdicts: one run of the verdict
 * program, which changes only the verdict fields of each flow. */
static void flush(struct daemon *d, struct iface *ifc)
{
	int res[FLOWBPF_VERDICT_BATCH], err, i;
	__u64 written;

	if (!ifc->nops)
		return;
	err = flowbpf_verdict_run(ifc->h.fd[FB_PROG_VERDICT], ifc->ops,
				  ifc->nops, res);
	written = mono_now_ns();
	for (i = 0; i < ifc->nops; i++) {
		const struct vpending *p = &ifc->pend[i];

		if (err) {
			d->write_errors++;
			snprintf(d->last_error, sizeof(d->last_error),
				 "%s: cannot write verdicts: %s",
				 ifc->h.ifname, strerror(-err));
		} else if (res[i] == -EPERM) {
			/* Decided meanwhile, by the start-up scan or by hand. */
			d->stale_events++;
		} else if (!res[i]) {
			count_decided(d, ifc, &ifc->ops[i], p->rule);
			if (p->ts_ns)
				lat_add(d, written > p->ts_ns
						   ? written - p->ts_ns
						   : 0);
		}
	}
	if (err)
		pr_warn("warning: %s\n", d->last_error);
	ifc->nops = 0;
}

static void flush_all(struct daemon *d)
{
	int i;

	for (i = 0; i < d->nifs; i++)
		flush(d, &d->ifs[i]);
}

/* Evaluates k and queues its verdict for flush(); flags FLOWBPF_VOP_F_*. */
static void decide(struct daemon *d, struct iface *ifc,
		   const struct flowbpf_key *k, __u32 flags, __u64 ts_ns)
{
	struct flowbpf_vop *op;
	struct flow_ctx c;
	int rule;

	if (ifc->nops == FLOWBPF_VERDICT_BATCH)
		flush(d, ifc);
	flow_ctx_now(&c, ifc->h.ifname);
	rule = policy_match(d->pol, k, &c);
	op = &ifc->ops[ifc->nops];
	*op = (struct flowbpf_vop){ .key = *k,
				    .op = FLOWBPF_VOP_SET,
				    .verdict = verdict_of(d, k, rule),
				    .source = FLOWBPF_SRC_DAEMON,
				    .flags = flags };
	ifc->pend[ifc->nops] = (struct vpending){ rule, ts_ns };
	ifc->nops++;
}

/*
 * Lets PASS flows stop holding, without reordering: the kernel keeps
 * holding a flow's packets while its "held" count differs from the
 * "released" count the daemon wrote.  Reading "held" first and draining
 * the ring second means every packet counted has been re-injected
 * before "released" says so; whatever the kernel holds in between is
 * simply caught on the next round.
 */
static void drain(struct daemon *d)
{
	struct flowbpf_flow f;
	size_t i = 0;

	while (i < d->ndrains) {
		struct drain *x = &d->drains[i];

		if (bpf_map_lookup_elem(d->ifs[x->ifc].h.fd[FB_MAP_FLOWS],
					&x->key, &f) ||
		    f.verdict != FLOWBPF_VERDICT_PASS || f.held == f.released) {
			d->drains[i] = d->drains[--d->ndrains];
			continue;
		}
		x->held = f.held;
		i++;
	}
	if (!d->ndrains)
		return;
	ring_buffer__consume(d->rb);
	flush_all(d);
	for (i = 0; i < d->ndrains;) {
		struct drain *x = &d->drains[i];
		struct flowbpf_vop op = { .key = x->key,
					  .op = FLOWBPF_VOP_RELEASE,
					  .released = x->held };
		int res;

		/* Refused: no longer passed by the daemon; done with it. */
		if (flowbpf_verdict_run(d->ifs[x->ifc].h.fd[FB_PROG_VERDICT],
					&op, 1, &res) ||
		    res) {
			d->drains[i] = d->drains[--d->ndrains];
			continue;
		}
		i++;
	}
}

/*
 * Puts a held frame back on its way: ingress frames into the stack as if
 * received (an XDP_PASS program run with live frames), egress frames out
 * of the interface past the qdisc, so tc does not see them twice.
 */
static int reinject(struct daemon *d, struct iface *ifc,
		    const struct flowbpf_held *ring)
{
	/* Ring buffer memory is read-only here: fix up a copy. */
	static struct flowbpf_held copy;
	struct flowbpf_held *h = &copy;

	memcpy(&h->hdr, &ring->hdr, sizeof(h->hdr));
	memcpy(h->data, ring->data, ring->hdr.cap_len);
	/* Only what offload left unfinished: a corrupted segment must
	 * still be refused. */
	csum_fix_frame(h->data, h->hdr.cap_len);
	if (h->hdr.key.dir == FLOWBPF_DIR_INGRESS) {
		struct xdp_md md = { .data_end = h->hdr.cap_len,
				     .ingress_ifindex = h->hdr.ifindex };
		LIBBPF_OPTS(bpf_test_run_opts, t, .data_in = h->data,
			    .data_size_in = h->hdr.cap_len, .ctx_in = &md,
			    .ctx_size_in = sizeof(md),
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .repeat = 1);

		if (ifc->h.fd[FB_PROG_REINJECT] < 0)
			return -EOPNOTSUPP;
		return bpf_prog_test_run_opts(ifc->h.fd[FB_PROG_REINJECT], &t);
	} else {
		struct sockaddr_ll sa = { .sll_family = AF_PACKET,
					  .sll_ifindex = h->hdr.ifindex };

		if (sendto(d->pkt_fd, h->data, h->hdr.cap_len, 0,
			   (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return -errno;
		return 0;
	}
}

/* A held frame: released or discarded by its flow's verdict, deciding
 * the flow first if nobody has yet. */
static void handle_held(struct daemon *d, struct iface *ifc,
			const struct flowbpf_held *h)
{
	struct flowbpf_flow f;
	__u32 verdict;
	int err;

	d->held++;
	/* A frame older than the timeout was given up on by its sender's
	 * flow already (the default applied); releasing it now would only
	 * deliver something stale, out of order. */
	if (mono_now_ns() - h->hdr.ts_ns > ifc->h.cfg.timeout_ns) {
		d->held_discarded++;
		return;
	}
	/* Its flow's verdict may still wait in the batch. */
	flush(d, ifc);
	if (bpf_map_lookup_elem(ifc->h.fd[FB_MAP_FLOWS], &h->hdr.key, &f) ||
	    f.verdict == FLOWBPF_VERDICT_QUEUED) {
		decide(d, ifc, &h->hdr.key, FLOWBPF_VOP_F_UNDECIDED, 0);
		flush(d, ifc);
		if (bpf_map_lookup_elem(ifc->h.fd[FB_MAP_FLOWS], &h->hdr.key,
					&f))
			f.verdict = ifc->h.cfg.dflt;
	}
	verdict = f.verdict;
	if (verdict != FLOWBPF_VERDICT_PASS) {
		d->held_discarded++;
		return;
	}
	err = reinject(d, ifc, h);
	if (err) {
		d->reinject_errors++;
		snprintf(d->last_error, sizeof(d->last_error),
			 "%s: cannot re-inject a held %s frame: %s",
			 ifc->h.ifname, dir_name(h->hdr.key.dir),
			 strerror(-err));
		pr_warn("warning: %s\n", d->last_error);
		return;
	}
	d->held_released++;
}

static int handle_event(void *ctx, void *data, size_t size)
{
	struct iface *ifc = ctx;
	struct daemon *d = ifc->d;
	const struct flowbpf_event_hdr *hdr = data;

	if (size < sizeof(*hdr) || hdr->cap_len > size - sizeof(*hdr) ||
	    hdr->cap_len > FLOWBPF_HOLD_MAX) {
		d->write_errors++;
		return 0;
	}
	if (hdr->type == FLOWBPF_EV_HELD) {
		handle_held(d, ifc, data);
		return 0;
	}
	d->events++;
	ifc->events++;
	/* An old event of a flow decided already (by the start-up scan or
	 * by hand) is refused by the write and counted as stale. */
	decide(d, ifc, &hdr->key, FLOWBPF_VOP_F_UNDECIDED, hdr->ts_ns);
	return 0;
}

/*
 * Reads the ring until it has been empty for SPIN_NS: events that come
 * in a stream then find the consumer awake, where each would otherwise
 * pay a wake-up from epoll (tens of microseconds, far more on a busy
 * machine).  Verdicts are flushed after every pass.  Returns true if it
 * stopped after BURST_NS with records still coming, so that the caller
 * serves its other sources and comes straight back.
 */
#define SPIN_NS 200000ULL
#define BURST_NS 20000000ULL

static void heartbeat(struct daemon *d, bool alive);

static bool consume(struct daemon *d)
{
	__u64 start = mono_now_ns(), last = start, now;
	bool more = false;
	int n;

	d->polling = true;
	heartbeat(d, true);
	for (;;) {
		n = ring_buffer__consume(d->rb);
		flush_all(d);
		now = mono_now_ns();
		if (n > 0)
			last = now;
		else if (now - last >= SPIN_NS)
			break;
		if (now - start >= BURST_NS) {
			more = true;
			break;
		}
	}
	if (more)
		return true;
	d->polling = false;
	heartbeat(d, true);
	/* A record submitted while the kernel still read "polling" came
	 * without a wake-up: read once more now, and soon again. */
	ring_buffer__consume(d->rb);
	flush_all(d);
	d->last_poll = mono_now_ns();
	return false;
}

/* Tells the kernel a daemon is there to hold packets for (or not). */
static void heartbeat(struct daemon *d, bool alive)
{
	struct flowbpf_heartbeat hb = { .alive_ns = alive ? mono_now_ns() : 0,
					.polling = alive && d->polling };
	__u32 zero = 0;
	int i;

	for (i = 0; i < d->nifs; i++)
		bpf_map_update_elem(d->ifs[i].h.fd[FB_MAP_HEARTBEAT], &zero,
				    &hb, BPF_ANY);
	d->last_beat = hb.alive_ns;
}

/*
 * Verdicts the kernel gave without the policy: the default after the
 * timeout, or at once past --max-queued.  They stand in for a decision
 * only until the daemon can make it, or a flood would open (or close)
 * flows for their whole life.
 */
static __u64 kernel_fallbacks(const struct flowbpf_stats *st)
{
	return st->c[FLOWBPF_STAT_DEFAULT_APPLIED] +
	       st->c[FLOWBPF_STAT_QUEUE_LIMIT];
}

/*
 * Walks the flow map of one interface.  all=false: decides the flows
 * still QUEUED (their events were lost) and those the kernel gave its
 * default to.  all=true: re-evaluates every verdict the policy owns
 * (everything but manual ones) after a reload.
 */
static void rescan(struct daemon *d, struct iface *ifc, bool all)
{
	struct flowbpf_flow *vals = NULL;
	struct flowbpf_key *keys = NULL;
	size_t n = 0, i, decided = 0;
	struct flow_ctx c;
	int err;

	err = flowbpf_map_dump(ifc->h.fd[FB_MAP_FLOWS], sizeof(*keys),
			       sizeof(*vals), (void **)&keys, (void **)&vals,
			       &n);
	if (err) {
		snprintf(d->last_error, sizeof(d->last_error),
			 "%s: cannot read the flow map: %s", ifc->h.ifname,
			 strerror(-err));
		pr_warn("warning: %s\n", d->last_error);
		return;
	}
	flow_ctx_now(&c, ifc->h.ifname);
	for (i = 0; i < n; i++) {
		struct flowbpf_flow *v = &vals[i];
		__u32 want;

		if (v->source == FLOWBPF_SRC_MANUAL)
			continue;
		if (v->verdict == FLOWBPF_VERDICT_QUEUED) {
			decide(d, ifc, &keys[i], FLOWBPF_VOP_F_UNDECIDED, 0);
			decided++;
			continue;
		}
		if (v->source == FLOWBPF_SRC_TIMEOUT ||
		    v->source == FLOWBPF_SRC_LIMIT) {
			decide(d, ifc, &keys[i], FLOWBPF_VOP_F_KEEP_MANUAL, 0);
			decided++;
			continue;
		}
		/* A drain a previous daemon left unfinished. */
		if (v->verdict == FLOWBPF_VERDICT_PASS &&
		    v->source == FLOWBPF_SRC_DAEMON &&
		    ifc->h.cfg.pending == FLOWBPF_PENDING_HOLD)
			drain_add(d, ifc, &keys[i]);
		if (!all)
			continue;
		want = verdict_of(d, &keys[i],
				  policy_match(d->pol, &keys[i], &c));
		/* Rewrite only what changes. */
		if (want != v->verdict || v->source != FLOWBPF_SRC_DAEMON) {
			decide(d, ifc, &keys[i], FLOWBPF_VOP_F_KEEP_MANUAL, 0);
			decided++;
		}
	}
	flush(d, ifc);
	d->rescans++;
	d->rescan_decided += decided;
	if (decided)
		pr_info("info: %s: %s %zu of %zu flows\n", ifc->h.ifname,
			all ? "re-evaluated" : "decided queued or defaulted",
			decided, n);
	free(keys);
	free(vals);
}

static void iface_close(struct iface *ifc)
{
	flowbpf_close(&ifc->h);
	if (ifc->lock_fd >= 0)
		close(ifc->lock_fd);
	ifc->lock_fd = -1;
}

/*
 * One daemon an interface: a second one would read the same ring buffer
 * and see only part of the events.  The claim is a lock on the pin
 * directory, so that it goes with the process however that ends, and
 * belongs to the attach it was taken on.  It is an open file description
 * lock and not flock(), which the collector takes on the same directory
 * (the two kinds do not see each other).  A directory cannot be opened
 * for writing, so there is no write lock to take: a daemon takes a read
 * lock and then looks for anybody else's.  Two daemons that do this at
 * the same instant may both give up; both never go on.  Returns the fd
 * holding the lock, or -errno.
 */
static int iface_lock(const char *name)
{
	struct flock fl = { .l_type = F_RDLCK,
			    .l_whence = SEEK_SET,
			    .l_len = 1 };
	int fd, err = 0;

	fd = flowbpf_pin_dir_open(name);
	if (fd < 0)
		return fd;
	if (fcntl(fd, F_OFD_SETLK, &fl)) {
		err = -errno;
		err_set("%s: cannot lock the pin directory: %s", name,
			strerror(errno));
		goto cleanup;
	}
	fl.l_type = F_WRLCK;
	if (fcntl(fd, F_OFD_GETLK, &fl)) {
		err = -errno;
		err_set("%s: cannot test the pin directory's lock: %s", name,
			strerror(errno));
		goto cleanup;
	}
	if (fl.l_type != F_UNLCK) {
		err = -EBUSY;
		err_set("%s: another flowbpf daemon serves this interface",
			name);
	}
cleanup:
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/*
 * The daemon writes verdicts and re-injects frames, nothing more.  The
 * attached programs and the XDP link it must not hold: a link held open
 * keeps XDP attached after a detach (and a new attach then fails), and a
 * detach waits for the programs to go.
 */
static void handle_trim(struct flowbpf_handle *h)
{
	static const enum flowbpf_obj unused[] = {
		FB_LINK_XDP,	    FB_PROG_XDP,    FB_PROG_TC_EGRESS,
		FB_PROG_TC_INGRESS, FB_PROG_EXPIRE,
	};
	size_t i;

	for (i = 0; i < sizeof(unused) / sizeof(unused[0]); i++) {
		if (h->fd[unused[i]] >= 0)
			close(h->fd[unused[i]]);
		h->fd[unused[i]] = -1;
	}
}

static int add_iface(struct daemon *d, const char *name)
{
	struct iface *ifc;
	struct flowbpf_stats st;
	int i, err;

	for (i = 0; i < d->nifs; i++)
		if (!strcmp(d->ifs[i].h.ifname, name))
			return 0;
	if (d->nifs >= FLOWBPF_MAX_IFACES) {
		err_set("more than %d interfaces", FLOWBPF_MAX_IFACES);
		return -E2BIG;
	}
	ifc = &d->ifs[d->nifs];
	/* libbpf's ring buffer callback gets one pointer: the interface. */
	ifc->d = d;
	ifc->lock_fd = -1;
	err = flowbpf_open(name, &ifc->h);
	if (err)
		return err;
	handle_trim(&ifc->h);
	ifc->nops = 0;
	ifc->detached = false;
	ifc->refused_id = 0;
	ifc->lock_fd = iface_lock(name);
	if (ifc->lock_fd < 0) {
		err = ifc->lock_fd;
		iface_close(ifc);
		return err;
	}
	if (!d->rb)
		d->rb = ring_buffer__new(ifc->h.fd[FB_MAP_EVENTS], handle_event,
					 ifc, NULL);
	else if (ring_buffer__add(d->rb, ifc->h.fd[FB_MAP_EVENTS],
				  handle_event, ifc))
		err = -errno;
	if (!d->rb || err) {
		err = err ?: -errno;
		err_set("%s: cannot open the event ring buffer: %s", name,
			strerror(-err));
		iface_close(ifc);
		return err;
	}
	if (!flowbpf_stats_read(ifc->h.fd[FB_MAP_STATS], &st)) {
		ifc->lost_seen = st.c[FLOWBPF_STAT_EVENTS_LOST];
		ifc->fallback_seen = kernel_fallbacks(&st);
	}
	d->nifs++;
	pr_info("info: %s: serving (mode %s, pending %s, default %s after %.3gs)\n",
		name, mode_name(ifc->h.cfg.mode),
		pending_name(ifc->h.cfg.pending), verdict_name(ifc->h.cfg.dflt),
		ifc->h.cfg.timeout_ns / 1e9);
	/* Events sent while no daemon ran are gone: decide from the map. */
	rescan(d, ifc, false);
	return 0;
}

static int add_ifaces(struct daemon *d)
{
	char names[FLOWBPF_MAX_IFACES][IF_NAMESIZE];
	int i, n, err;

	if (d->o->nifaces) {
		for (i = 0; i < d->o->nifaces; i++) {
			err = add_iface(d, d->o->ifaces[i]);
			if (err)
				return err;
		}
		return 0;
	}
	n = flowbpf_list(names, FLOWBPF_MAX_IFACES);
	if (n < 0) {
		err_set("cannot list attached interfaces: %s", strerror(-n));
		return n;
	}
	for (i = 0; i < n; i++) {
		err = add_iface(d, names[i]);
		if (err)
			pr_warn("warning: %s\n", err_get());
	}
	if (!d->nifs) {
		err_set("no interface is attached (run 'flowbpf attach IFACE' first)");
		return -ENODEV;
	}
	return 0;
}

static int reload(struct daemon *d, char *msg, size_t len)
{
	struct policy *np;
	const char *err;
	int i;

	np = policy_load(d->o->policy);
	if (!np) {
		err = err_get();
		d->reload_errors++;
		snprintf(d->last_error, sizeof(d->last_error), "%s", err);
		snprintf(msg, len, "%s", err);
		pr_warn("error: reload failed, keeping the running policy: %s\n",
			err);
		return -EINVAL;
	}
	policy_free(d->pol);
	d->pol = np;
	d->reloads++;
	if (d->qw) {
		quota_watch_reset(d->qw);
		quota_watch_poll(d->qw, np);
	}
	pr_info("info: policy reloaded from %s: %zu units, %zu rules, default %s\n",
		np->file, np->nunits, np->nrules, verdict_name(np->dflt));
	/* Interfaces attached since start join on reload. */
	if (!d->o->nifaces)
		add_ifaces(d);
	for (i = 0; i < d->nifs; i++)
		rescan(d, &d->ifs[i], true);
	snprintf(msg, len, "reloaded: %zu units, %zu rules", np->nunits,
		 np->nrules);
	return 0;
}

/* The served interfaces and the rules with their hits; NULL on failure. */
static json_t *stats_lists(struct daemon *d, json_t **rules)
{
	json_t *ifs = json_array();
	size_t i;
	bool ok;

	*rules = json_array();
	ok = ifs && *rules;
	for (i = 0; ok && i < (size_t)d->nifs; i++)
		ok = !json_array_append_new(
			ifs, json_pack("{s:o, s:I}", "ifname",
				       ctl_json_str(d->ifs[i].h.ifname),
				       "events", (json_int_t)d->ifs[i].events));
	for (i = 0; ok && i < d->pol->nrules; i++) {
		const struct rule *r = &d->pol->rules[i];

		ok = !json_array_append_new(
			*rules,
			json_pack("{s:i, s:o, s:i, s:s, s:I}", "index", (int)i,
				  "name", ctl_json_str(r->name), "line",
				  r->line, "verdict", verdict_name(r->verdict),
				  "hits", (json_int_t)r->hits));
	}
	if (ok)
		return ifs;
	json_decref(ifs);
	json_decref(*rules);
	*rules = NULL;
	return NULL;
}

/* The reply to "stats"; NULL when it cannot be built. */
static json_t *quotas_json(struct daemon *d)
{
	__u64 blocks, soft, errs;

	quota_watch_counts(d->qw, &blocks, &soft, &errs);
	return json_pack("{s:I, s:I, s:I}", "blocks", (json_int_t)blocks,
			 "soft_warnings", (json_int_t)soft, "db_errors",
			 (json_int_t)errs);
}

static json_t *stats_json(struct daemon *d)
{
	json_t *o, *ifs, *rules = NULL;

	ifs = stats_lists(d, &rules);
	if (!ifs)
		return NULL;
	o = json_pack(
		"{s:i, s:o, s:I, s:o, s:I, s:{s:I, s:I}, s:o, s:I, s:{s:f, s:f, s:f, s:I}, s:I, s:I, s:I, s:I, s:I, s:o}",
		"pid", (int)getpid(), "policy", ctl_json_str(d->pol->file),
		"uptime_s", (json_int_t)(time(NULL) - d->started), "interfaces",
		ifs, "events", (json_int_t)d->events, "verdicts", "pass",
		(json_int_t)d->decided_pass, "drop",
		(json_int_t)d->decided_drop, "rules", rules, "default_hits",
		(json_int_t)d->pol->default_hits, "latency_us", "p50",
		lat_quantile(d, 0.50), "p99", lat_quantile(d, 0.99), "max",
		d->lat_max_ns / 1000.0, "count", (json_int_t)d->lat_n,
		"reloads", (json_int_t)d->reloads, "reload_errors",
		(json_int_t)d->reload_errors, "errors",
		(json_int_t)d->write_errors, "rescans", (json_int_t)d->rescans,
		"rescan_decided", (json_int_t)d->rescan_decided, "last_error",
		ctl_json_str(d->last_error));
	if (!o)
		return NULL;
	if (json_object_set_new(o, "stale_events",
				json_integer((json_int_t)d->stale_events)) ||
	    json_object_set_new(o, "quotas", quotas_json(d)) ||
	    json_object_set_new(
		    o, "held",
		    json_pack("{s:I, s:I, s:I, s:I}", "received",
			      (json_int_t)d->held, "released",
			      (json_int_t)d->held_released, "discarded",
			      (json_int_t)d->held_discarded, "reinject_errors",
			      (json_int_t)d->reinject_errors))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The reply to one request, as text to send; NULL when out of memory. */
static char *ctl_reply(struct daemon *d, const char *req)
{
	char msg[600], *s;
	json_t *reply;

	if (!strcmp(req, "stats"))
		reply = stats_json(d);
	else if (!strcmp(req, "reload"))
		reply = reload(d, msg, sizeof(msg))
				? json_pack("{s:o}", "error", ctl_json_str(msg))
				: json_pack("{s:b, s:o}", "reloaded", 1,
					    "message", ctl_json_str(msg));
	else
		reply = json_pack("{s:s}", "error", "unknown request");
	s = reply ? json_dumps(reply, JSON_COMPACT | JSON_PRESERVE_ORDER)
		  : NULL;
	json_decref(reply);
	/* Never an empty reply: a client would take it for no daemon. */
	if (!s) {
		pr_warn("warning: cannot build the reply to a control request\n");
		s = strdup("{\"error\":\"the daemon cannot build its reply\"}");
	}
	return s;
}

/*
 * Control clients are served from the event loop a piece at a time, so
 * that none can hold it up: a request may arrive in parts and a reply
 * leave in parts, and a client that is too slow at either is dropped.
 */
static void client_drop(struct client *c)
{
	/* Its only fd: closing it also takes it out of the epoll set. */
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void client_write(struct client *c)
{
	ssize_t r;

	while (c->out_off < c->out_len) {
		r = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r < 0) {
			pr_debug("debug: control client went away\n");
			break;
		}
		c->out_off += r;
	}
	client_drop(c);
}

static void client_answer(struct daemon *d, struct client *c)
{
	struct epoll_event ev = { .events = EPOLLOUT,
				  .data.u32 = EV_CLIENT + (c - d->clients) };

	c->out = ctl_reply(d, c->req);
	if (!c->out) {
		client_drop(c);
		return;
	}
	c->out_len = strlen(c->out);
	c->deadline_ns = mono_now_ns() + CTL_REPLY_NS;
	epoll_ctl(d->epfd, EPOLL_CTL_MOD, c->fd, &ev);
	client_write(c);
}

/* One request line; the end of the client's writing also ends it. */
static void client_read(struct daemon *d, struct client *c)
{
	char *nl = NULL;
	ssize_t r;

	for (;;) {
		r = recv(c->fd, c->req + c->len, sizeof(c->req) - 1 - c->len,
			 MSG_DONTWAIT);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r < 0 || (!r && !c->len)) {
			client_drop(c);
			return;
		}
		c->len += r;
		c->req[c->len] = '\0';
		nl = memchr(c->req, '\n', c->len);
		if (nl || !r || c->len == sizeof(c->req) - 1)
			break;
	}
	if (nl) {
		*nl = '\0';
		if (nl > c->req && nl[-1] == '\r')
			nl[-1] = '\0';
	} else if (r) {
		/* Longer than any request: answered as unknown. */
		c->req[0] = '\0';
	}
	client_answer(d, c);
}

/* A free slot; when there is none, the one of the client that has waited
 * longest without sending its request is freed for the newcomer. */
static struct client *client_slot(struct daemon *d)
{
	struct client *c, *oldest = NULL;

	for (c = d->clients; c < d->clients + CTL_CLIENTS; c++) {
		if (c->fd < 0)
			return c;
		if (!c->out && (!oldest || c->since_ns < oldest->since_ns))
			oldest = c;
	}
	if (oldest) {
		pr_debug("debug: dropping the oldest silent control client\n");
		client_drop(oldest);
	}
	return oldest;
}

static void ctl_accept(struct daemon *d)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct client *c;
	int fd, i;

	/* A few at a time: the ring buffer must not wait for a crowd. */
	for (i = 0; i < 8; i++) {
		fd = accept4(d->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		/* The socket's mode keeps others out, unless someone
		 * loosens it: the peer's credentials are what count. */
		if (!ctl_peer_is_root(fd)) {
			pr_debug("debug: control client refused: not root\n");
			close(fd);
			continue;
		}
		c = client_slot(d);
		if (!c) {
			close(fd);
			continue;
		}
		ev.data.u32 = EV_CLIENT + (c - d->clients);
		if (epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->since_ns = mono_now_ns();
		c->deadline_ns = c->since_ns + CTL_REQ_NS;
	}
}

static void client_event(struct daemon *d, __u32 slot)
{
	struct client *c;

	if (slot >= CTL_CLIENTS || d->clients[slot].fd < 0)
		return;
	c = &d->clients[slot];
	if (c->out)
		client_write(c);
	else
		client_read(d, c);
}

static void clients_expire(struct daemon *d, __u64 now)
{
	struct client *c;

	for (c = d->clients; c < d->clients + CTL_CLIENTS; c++) {
		if (c->fd < 0 || now < c->deadline_ns)
			continue;
		pr_debug("debug: control client dropped: %s\n",
			 c->out ? "it does not take its reply"
				: "no request in time");
		client_drop(c);
	}
}

/* 0 if a process accepts connections on the unix socket at path. */
static int sock_listened(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, err = 0;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		err = -errno;
	close(fd);
	return err;
}

/*
 * Makes way for the control socket at path: nothing there, or a socket
 * nobody listens on any more (a daemon killed), which is removed.  Any
 * other file is left alone, and so is a socket with a daemon behind it,
 * whatever that daemon would reply.
 */
static int ctl_path_clear(const char *path)
{
	struct stat st;
	int err;

	if (lstat(path, &st)) {
		if (errno == ENOENT)
			return 0;
		err = -errno;
		err_set("cannot use %s for the control socket: %s", path,
			strerror(errno));
		return err;
	}
	if (!S_ISSOCK(st.st_mode)) {
		err_set("%s exists and is not a socket; not replacing it",
			path);
		return -EEXIST;
	}
	if (!sock_listened(path)) {
		err_set("a daemon is already running (control socket %s)",
			path);
		return -EBUSY;
	}
	if (unlink(path) && errno != ENOENT) {
		err = -errno;
		err_set("cannot remove the stale socket %s: %s", path,
			strerror(errno));
		return err;
	}
	return 0;
}

static int ctl_listen(struct daemon *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = d->o->socket;
	char dir[sizeof(sa.sun_path)], *slash;
	struct stat st;
	int err;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		err_set("socket path too long: %s", path);
		return -ENAMETOOLONG;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	err = ctl_path_clear(path);
	if (err)
		return err;
	strcpy(sa.sun_path, path);
	/* Non-blocking: ctl_accept() takes what is there, and no more. */
	d->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (d->lfd < 0 || bind(d->lfd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;
		err_set("cannot listen on %s: %s", path, strerror(errno));
		return err;
	}
	/* From here on the file is ours to remove, and only this one. */
	if (!lstat(path, &st)) {
		d->sock_dev = st.st_dev;
		d->sock_ino = st.st_ino;
	}
	if (chmod(path, 0600) || listen(d->lfd, 64)) {
		err = -errno;
		err_set("cannot listen on %s: %s", path, strerror(errno));
		return err;
	}
	return 0;
}

/* Removes the control socket if it is still the one bound at start. */
static void ctl_unlink(struct daemon *d)
{
	struct stat st;

	if (d->sock_ino && !lstat(d->o->socket, &st) &&
	    st.st_dev == d->sock_dev && st.st_ino == d->sock_ino)
		unlink(d->o->socket);
}

/*
 * The pidfile is written where it is named, never through a symbolic
 * link, and only as a regular file: a FIFO or a device there would hold
 * up or misdirect the start (O_NONBLOCK keeps a FIFO from blocking the
 * open).  Nobody but root may write it.
 */
static int write_pidfile(const char *path)
{
	const char *why = NULL;
	struct stat st;
	char buf[24];
	int fd, n, err = 0;

	fd = open(path,
		  O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		  0644);
	if (fd < 0) {
		err = -errno;
		why = errno == ELOOP   ? "it is a symbolic link"
		      : errno == ENXIO ? "not a regular file"
				       : strerror(errno);
		goto cleanup;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		err = -EINVAL;
		why = "not a regular file";
		goto cleanup;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	errno = 0;
	if (((st.st_mode & 0133) && fchmod(fd, st.st_mode & 0644)) ||
	    ftruncate(fd, 0) || write(fd, buf, n) != n) {
		err = errno ? -errno : -EIO;
		why = strerror(-err);
	}
cleanup:
	if (fd >= 0)
		close(fd);
	if (err)
		err_set("cannot write pidfile %s: %s", path, why);
	return err;
}

/* Lost events leave flows QUEUED; look for them when the kernel says so. */
static void check_lost(struct daemon *d)
{
	struct flowbpf_stats st;
	int i;

	for (i = 0; i < d->nifs; i++) {
		struct iface *ifc = &d->ifs[i];

		if (flowbpf_stats_read(ifc->h.fd[FB_MAP_STATS], &st))
			continue;
		if (st.c[FLOWBPF_STAT_EVENTS_LOST] != ifc->lost_seen) {
			pr_warn("warning: %s: %llu events lost (ring buffer full); scanning for queued flows\n",
				ifc->h.ifname,
				(unsigned long long)(st.c[FLOWBPF_STAT_EVENTS_LOST] -
						     ifc->lost_seen));
			ifc->lost_seen = st.c[FLOWBPF_STAT_EVENTS_LOST];
			ifc->fallback_seen = kernel_fallbacks(&st);
			rescan(d, ifc, false);
		} else if (kernel_fallbacks(&st) != ifc->fallback_seen) {
			pr_info("info: %s: %llu flows got the kernel's default; deciding them\n",
				ifc->h.ifname,
				(unsigned long long)(kernel_fallbacks(&st) -
						     ifc->fallback_seen));
			ifc->fallback_seen = kernel_fallbacks(&st);
			rescan(d, ifc, false);
		}
	}
}

static int epoll_add(struct daemon *d, int fd, __u32 what)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = what };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* A ring buffer manager over the event rings of every served interface. */
static struct ring_buffer *rings_new(struct daemon *d)
{
	struct ring_buffer *rb = NULL;
	int i, fd;

	for (i = 0; i < d->nifs; i++) {
		fd = d->ifs[i].h.fd[FB_MAP_EVENTS];
		if (!rb) {
			rb = ring_buffer__new(fd, handle_event, &d->ifs[i],
					      NULL);
			if (!rb)
				return NULL;
		} else if (ring_buffer__add(rb, fd, handle_event, &d->ifs[i])) {
			ring_buffer__free(rb);
			return NULL;
		}
	}
	return rb;
}

/*
 * Serves the objects of a new attach of ifc in place of the old ones.
 * What the old ring still holds is decided first, into the old maps;
 * the new flow map may hold flows queued meanwhile, which the rescan
 * decides.
 */
static int iface_reopen(struct daemon *d, struct iface *ifc)
{
	struct flowbpf_handle old = ifc->h, h;
	struct flowbpf_stats st;
	struct ring_buffer *rb;
	int lock, err;

	err = flowbpf_open(old.ifname, &h);
	if (err)
		return err;
	lock = iface_lock(old.ifname);
	if (lock < 0) {
		flowbpf_close(&h);
		return lock;
	}
	handle_trim(&h);
	ring_buffer__consume(d->rb);
	flush_all(d);
	ifc->h = h;
	rb = rings_new(d);
	if (!rb || epoll_add(d, ring_buffer__epoll_fd(rb), EV_RING)) {
		err = errno ? -errno : -ENOMEM;
		err_set("%s: cannot open the new event ring buffer: %s",
			h.ifname, strerror(-err));
		ring_buffer__free(rb);
		ifc->h = old;
		flowbpf_close(&h);
		close(lock);
		return err;
	}
	/* Freeing it closes its epoll fd, which leaves the loop's set. */
	ring_buffer__free(d->rb);
	d->rb = rb;
	flowbpf_close(&old);
	close(ifc->lock_fd);
	ifc->lock_fd = lock;
	ifc->detached = false;
	if (!flowbpf_stats_read(h.fd[FB_MAP_STATS], &st)) {
		ifc->lost_seen = st.c[FLOWBPF_STAT_EVENTS_LOST];
		ifc->fallback_seen = kernel_fallbacks(&st);
	}
	pr_info("info: %s: attached again (flow map id %u, was %u); serving the new maps\n",
		h.ifname, h.id[FB_MAP_FLOWS], old.id[FB_MAP_FLOWS]);
	heartbeat(d, true);
	rescan(d, ifc, false);
	return 0;
}


/*
 * After a detach and a new attach the old maps, which the daemon still
 * holds, see no packet any more, and every new flow would wait for the
 * kernel's timeout.  Once a second, the ids pinned now are compared with
 * those served.  Each attach pins its objects one by one: one that is
 * missing means a detach, or an attach not finished yet.
 */
static void check_attach(struct daemon *d)
{
	static const enum flowbpf_obj objs[] = { FB_MAP_FLOWS, FB_MAP_EVENTS,
						 FB_PROG_VERDICT };
	__u32 ids[sizeof(objs) / sizeof(objs[0])];
	struct iface *ifc;
	bool gone, moved;
	size_t k;
	int err;

	for (ifc = d->ifs; ifc < d->ifs + d->nifs; ifc++) {
		gone = moved = false;
		for (k = 0; k < sizeof(objs) / sizeof(objs[0]); k++) {
			ids[k] = flowbpf_pinned_id(ifc->h.ifname, objs[k]);
			gone |= !ids[k];
			moved |= ids[k] && ids[k] != ifc->h.id[objs[k]];
		}
		if (gone && !ifc->detached)
			pr_warn("warning: %s: detached; serving it again once it is attached\n",
				ifc->h.ifname);
		ifc->detached |= gone;
		if (gone || !moved)
			continue;
		err = iface_reopen(d, ifc);
		/* Not all pinned yet: next time.  Served by another daemon:
		 * said once, and tried again in case that one ends. */
		if (err == -EBUSY && ids[0] != ifc->refused_id)
			pr_warn("warning: %s\n", err_get());
		else if (err && err != -EBUSY)
			pr_debug("debug: %s\n", err_get());
		ifc->refused_id = err == -EBUSY ? ids[0] : 0;
	}
}

static void tick(struct daemon *d)
{
	struct tm tm;
	time_t t = time(NULL);
	int i;

	check_attach(d);
	check_lost(d);
	/* A quota that blocks or lifts changes live flows' verdicts. */
	if (d->qw && quota_watch_poll(d->qw, d->pol))
		for (i = 0; i < d->nifs; i++)
			rescan(d, &d->ifs[i], true);
	/* Time-of-day rules change their answer on minute boundaries. */
	localtime_r(&t, &tm);
	if (d->pol->has_time && tm.tm_min != d->last_minute) {
		d->last_minute = tm.tm_min;
		for (i = 0; i < d->nifs; i++)
			rescan(d, &d->ifs[i], true);
	}
}

static void on_signals(struct daemon *d)
{
	struct signalfd_siginfo si;
	char msg[600];

	while (read(d->sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			reload(d, msg, sizeof(msg));
		else
			d->stop = true;
	}
}

static void dispatch(struct daemon *d, __u32 what)
{
	switch (what) {
	case EV_SIGNAL:
		on_signals(d);
		break;
	case EV_LISTEN:
		ctl_accept(d);
		break;
	case EV_METRICS:
		metrics_serve(d->ms);
		break;
	default:
		client_event(d, what - EV_CLIENT);
		break;
	}
}

static int loop(struct daemon *d)
{
	__u64 last_tick = 0, now;
	bool busy = false;
	int i, n;

	while (!d->stop) {
		struct epoll_event evs[8];
		/* Flows waiting to stop holding want a quick next round, and
		 * a ring left unread by a long burst an immediate one. */
		bool recent = mono_now_ns() - d->last_poll < 10000000ULL;
		bool ring_seen = false;

		n = epoll_wait(d->epfd, evs, 8,
			       busy ? 0 : d->ndrains || recent ? 1 : 200);
		if (n < 0 && errno != EINTR) {
			n = -errno;
			err_set("epoll: %s", strerror(-n));
			return n;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.u32 != EV_RING) {
				dispatch(d, evs[i].data.u32);
				continue;
			}
			busy = consume(d);
			ring_seen = true;
		}
		/* The ring's wake-up came before the burst was cut short; or
		 * a record came without one just after polling stopped. */
		if (busy && !ring_seen) {
			busy = consume(d);
		} else if (recent && !ring_seen &&
			   ring_buffer__consume(d->rb) > 0) {
			flush_all(d);
			busy = consume(d);
		}
		drain(d);
		now = mono_now_ns();
		if (now - d->last_beat >= FLOWBPF_HEARTBEAT_NS)
			heartbeat(d, true);
		clients_expire(d, now);
		if (now - last_tick >= 1000000000ULL) {
			last_tick = now;
			tick(d);
			metrics_serve(d->ms); /* times out slow clients */
		}
	}
	return 0;
}

/* What only the daemon knows: decisions, rules, held frames. */
static void metrics_decisions(struct daemon *d, struct metrics_buf *b)
{
	char idx[24];
	size_t i;

	metrics_family(
		b, "flowbpf_decisions_total", "counter",
		"Flows the policy decided and whose verdict was written.");
	metrics_u64(b, "flowbpf_decisions_total", d->decided_pass, "outcome",
		    "pass", NULL, NULL);
	metrics_u64(b, "flowbpf_decisions_total", d->decided_drop, "outcome",
		    "drop", NULL, NULL);
	metrics_hist_write(
		b, "flowbpf_decision_latency_seconds",
		"From the kernel's new-flow event to the verdict written.",
		&d->lat_hist);
	metrics_family(
		b, "flowbpf_rule_hits_total", "counter",
		"Flows decided by a rule of the running policy (since it was loaded).");
	for (i = 0; i < d->pol->nrules; i++) {
		snprintf(idx, sizeof(idx), "%zu", i);
		metrics_u64(b, "flowbpf_rule_hits_total", d->pol->rules[i].hits,
			    "rule", d->pol->rules[i].name, "index", idx);
	}
	metrics_family(
		b, "flowbpf_default_hits_total", "counter",
		"Flows decided by the policy's default (no rule matched).");
	metrics_u64(b, "flowbpf_default_hits_total", d->pol->default_hits, NULL,
		    NULL, NULL, NULL);
	metrics_family(
		b, "flowbpf_held_frames_total", "counter",
		"Frames held for a flow awaiting its verdict, by what became of them.");
	metrics_u64(b, "flowbpf_held_frames_total", d->held_released, "outcome",
		    "released", NULL, NULL);
	metrics_u64(b, "flowbpf_held_frames_total", d->held_discarded,
		    "outcome", "discarded", NULL, NULL);
	metrics_u64(b, "flowbpf_held_frames_total", d->reinject_errors,
		    "outcome", "reinject_error", NULL, NULL);
}

/* One unlabelled counter of the daemon. */
static void metrics_one(struct metrics_buf *b, const char *name,
			const char *help, __u64 v)
{
	metrics_family(b, name, "counter", help);
	metrics_u64(b, name, v, NULL, NULL, NULL, NULL);
}

/* The exposition of --metrics (docs/metrics.md). */
static int daemon_metrics(void *ctx, struct metrics_buf *b)
{
	static struct flowbpf_stats st[FLOWBPF_MAX_IFACES];
	const char *names[FLOWBPF_MAX_IFACES];
	struct daemon *d = ctx;
	int i, n = 0;

	for (i = 0; i < d->nifs; i++) {
		if (flowbpf_stats_read(d->ifs[i].h.fd[FB_MAP_STATS], &st[n]))
			continue;
		names[n++] = d->ifs[i].h.ifname;
	}
	metrics_datapath(b, names, st, n);
	metrics_family(
		b, "flowbpf_daemon_events_total", "counter",
		"New-flow events the daemon read from the interface's ring buffer.");
	for (i = 0; i < d->nifs; i++)
		metrics_u64(b, "flowbpf_daemon_events_total", d->ifs[i].events,
			    "iface", d->ifs[i].h.ifname, NULL, NULL);
	metrics_family(b, "flowbpf_daemon_iface_detached", "gauge",
		       "1 while the interface is detached and not served.");
	for (i = 0; i < d->nifs; i++)
		metrics_u64(b, "flowbpf_daemon_iface_detached",
			    d->ifs[i].detached, "iface", d->ifs[i].h.ifname,
			    NULL, NULL);
	metrics_decisions(d, b);
	metrics_one(
		b, "flowbpf_verdict_write_errors_total",
		"Verdicts (and malformed events) the daemon could not write.",
		d->write_errors);
	metrics_one(
		b, "flowbpf_stale_events_total",
		"Events of flows decided meanwhile (start-up scan, by hand).",
		d->stale_events);
	metrics_one(
		b, "flowbpf_rescans_total",
		"Walks of a flow map for queued, defaulted or re-evaluated flows.",
		d->rescans);
	metrics_one(b, "flowbpf_rescan_decisions_total",
		    "Flows decided by those walks.", d->rescan_decided);
	metrics_one(b, "flowbpf_policy_reloads_total",
		    "Policy reloads that took effect.", d->reloads);
	metrics_one(b, "flowbpf_policy_reload_errors_total",
		    "Policy reloads refused; the running policy stayed.",
		    d->reload_errors);
	metrics_family(b, "flowbpf_daemon_start_time_seconds", "gauge",
		       "When the daemon started, seconds since the epoch.");
	metrics_u64(b, "flowbpf_daemon_start_time_seconds", d->started, NULL,
		    NULL, NULL, NULL);
	return 0;
}

/* Everything up to the loop, in an order that matters: see the comments. */
static int start(struct daemon *d)
{
	const struct daemon_opts *o = d->o;
	sigset_t mask;
	int err;

	/* First of all: a signal during start-up must stop the daemon the
	 * clean way, through the loop, which clears the heartbeat; it must
	 * not kill it on the way, with the heartbeat perhaps set. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	/* A control client that leaves early is its own business. */
	signal(SIGPIPE, SIG_IGN);
	d->sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->sfd < 0 || d->epfd < 0) {
		err = -errno;
		err_set("cannot set up the event loop: %s", strerror(errno));
		return err;
	}
	d->pol = policy_load(o->policy);
	if (!d->pol)
		return -EINVAL;
	if (o->db) {
		d->qw = quota_watch_new(o->db);
		if (!d->qw) {
			err_set("out of memory");
			return -ENOMEM;
		}
		quota_watch_poll(d->qw, d->pol);
	}
	err = ctl_listen(d);
	/* Before the interfaces: a port in use stops the start before the
	 * daemon has decided anything. */
	if (!err && o->metrics) {
		d->ms = metrics_open(o->metrics, daemon_metrics, d);
		err = d->ms ? 0 : -EADDRINUSE;
	}
	if (!err)
		err = add_ifaces(d);
	if (!err && o->pidfile) {
		err = write_pidfile(o->pidfile);
		d->pid_written = !err;
	}
	if (err)
		return err;
	if (epoll_add(d, ring_buffer__epoll_fd(d->rb), EV_RING) ||
	    epoll_add(d, d->sfd, EV_SIGNAL) ||
	    epoll_add(d, d->lfd, EV_LISTEN) ||
	    (d->ms && epoll_add(d, metrics_fd(d->ms), EV_METRICS))) {
		err = -errno;
		err_set("cannot set up the event loop: %s", strerror(errno));
		return err;
	}
	/* Last: from here on, held packets are this process's to release. */
	heartbeat(d, true);
	pr_info("info: running with %s: %zu units, %zu rules, default %s; control socket %s\n",
		o->policy, d->pol->nunits, d->pol->nrules,
		verdict_name(d->pol->dflt), o->socket);
	return 0;
}

static void daemon_free(struct daemon *d)
{
	int i;

	for (i = 0; i < CTL_CLIENTS; i++)
		client_drop(&d->clients[i]);
	metrics_close(d->ms);
	if (d->lfd >= 0)
		close(d->lfd);
	ctl_unlink(d);
	if (d->pid_written)
		unlink(d->o->pidfile);
	if (d->sfd >= 0)
		close(d->sfd);
	if (d->epfd >= 0)
		close(d->epfd);
	ring_buffer__free(d->rb);
	/* Held packets would have nobody to release them: stop holding. */
	heartbeat(d, false);
	if (d->pkt_fd >= 0)
		close(d->pkt_fd);
	for (i = 0; i < d->nifs; i++)
		iface_close(&d->ifs[i]);
	policy_free(d->pol);
	quota_watch_free(d->qw);
	free(d->drains);
	free(d);
}

int daemon_run(const struct daemon_opts *o)
{
	struct daemon *d;
	int err, i;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->o = o;
	d->epfd = d->sfd = d->lfd = -1;
	for (i = 0; i < CTL_CLIENTS; i++)
		d->clients[i].fd = -1;
	/* Protocol 0: this socket only sends. */
	d->pkt_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (d->pkt_fd >= 0) {
		int one = 1;

		setsockopt(d->pkt_fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one,
			   sizeof(one));
	}
	d->started = time(NULL);
	d->last_minute = -1;
	err = start(d);
	if (!err)
		err = loop(d);
	if (!err)
		pr_info("info: stopping; the kernel applies default verdicts until a daemon returns\n");
	daemon_free(d);
	return err;
}
