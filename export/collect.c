// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Sweeps of the flow map.  See docs/accounting.md for the rules; in short:
 *
 * - A sweep reads the whole map with BPF_MAP_LOOKUP_BATCH (per-element
 *   get_next_key + lookup where batches are not supported) and compares
 *   every entry with what this collector last saw and last reported.
 * - Only idle entries are removed: no packet for the idle timeout, or for
 *   the TCP-end timeout after a FIN or RST.  They are removed one by one
 *   with BPF_MAP_LOOKUP_AND_DELETE_ELEM, and the record is made from the
 *   value that call returns, so a packet counted after the scan is in it.
 * - A flow that goes on is never removed: every active timeout the
 *   difference to what was last reported is written as an "active"
 *   record and remembered here.
 * - An entry that is gone without this collector removing it was evicted
 *   by the LRU map; it is reported as "evicted" from the last values seen.
 * - Records wait in a queue until every sink that keeps them (a file) has
 *   written them.  While some wait because a write failed (a full disk),
 *   no flow leaves the map and no active record is made: the flows go on
 *   counting in the kernel, and the queue only has to hold what was
 *   already removed when the failure came.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <zlib.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "clock.h"
#include "collect.h"
#include "flowfmt.h"
#include "loader.h"
#include "log.h"

/* What the collector remembers of one flow entry. */
struct fstate {
	struct flowbpf_key key;
	__u64 first_ns; /* first_ns of the entry: a new entry has another */
	__u64 start_ns; /* start of the next record; 0: not known yet */
	__u64 rep_packets; /* counters already reported */
	__u64 rep_bytes;
	__u64 packets; /* the entry as last seen */
	__u64 bytes;
	__u64 last_ns;
	__u32 tcp_flags;
	__u32 verdict;
	__u32 gen; /* sweep that last saw it; 0: free slot */
	bool live; /* counted in this sweep's live entries */
	__u8 source, tos; /* in the padding: a slot stays 120 bytes */
};

/* docs/accounting.md (Memory) counts on it. */
_Static_assert(sizeof(struct fstate) == 120, "collector slot size");

/* Open addressing, linear probing, deletion by backward shift. */
struct ftable {
	struct fstate *slots;
	size_t cap, n; /* cap is a power of two */
};

/* Records given to the sinks at once when this many wait. */
#define COLLECT_BATCH 4096

struct collector {
	char ifname[IF_NAMESIZE];
	__u32 ifindex;
	__u32 mode, pending; /* of the attach: what a verdict did to packets */
	__u32 flows_id; /* the flow map's id, which names the attach */
	int flows_fd, stats_fd, acct_fd, lock_fd;
	int expire_fd, expired_fd; /* the in-kernel sweep, -1 if not there */
	int tunnels_fd; /* outer endpoints of IP tunnels, -1 if not there */
	__u32 end_cutoff; /* of the running one, ticks */
	/* Entries the last scan saw that the next sweep may find idle: */
	__u64 due; /* when few, removing them from here is cheaper */
	bool own_fds;
	struct collect_opts o;
	struct ftable t;
	struct acct_sink *sinks[1 + COLLECT_MAX_IPFIX];
	int nsinks;
	/* Records not yet written by every sink, oldest first; sinks[i] has
	 * the first sent[i] of them. */
	struct acct_record *q;
	size_t qn, qcap, qmax;
	size_t sent[1 + COLLECT_MAX_IPFIX];
	bool blocked; /* records wait after a failed write */
	int werr; /* -errno of that write */
	__u64 lost, lost_logged; /* records dropped: the queue was full */
	/* The state file (see save_state), "" for none. */
	char state_path[128];
	bool state_dirty;
	struct collect_status saved;
	__u64 state_errors, errors_base;
	int state_err;
	struct flowbpf_acct acct;
	struct flowbpf_key *keys; /* scan buffers, kept between sweeps */
	struct flowbpf_flow *vals;
	size_t cap;
	bool batch, lookup_delete;
	bool truncated; /* the last scan did not fit the buffers */
	__u32 gen;
	__u64 prev_t0, t0;
	__s64 wall_off; /* CLOCK_REALTIME - CLOCK_MONOTONIC for this sweep */
	struct sweep_result *res;
	__u64 live;
};

void collect_opts_init(struct collect_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->idle_ns = COLLECT_DEFAULT_IDLE_NS;
	o->active_ns = COLLECT_DEFAULT_ACTIVE_NS;
	o->end_ns = COLLECT_DEFAULT_END_NS;
}

/* A flow value with its ticks in CLOCK_MONOTONIC nanoseconds. */
struct fview {
	__u64 packets, bytes, first_ns, last_ns;
	__u32 tcp_flags, verdict;
	__u8 source, tos;
};

static void view_of(const struct collector *c, const struct flowbpf_flow *f,
		    struct fview *v)
{
	v->packets = f->packets;
	v->bytes = f->bytes;
	v->first_ns = flowbpf_tick_ns(f->first, c->t0);
	v->last_ns = flowbpf_tick_ns(f->last, c->t0);
	v->tcp_flags = f->tcp_flags;
	v->verdict = f->verdict;
	v->source = f->source;
	v->tos = f->tos;
}

static __u64 key_hash(const struct flowbpf_key *k)
{
	__u64 w[(sizeof(*k) + 7) / 8] = {}, h = 0x9e3779b97f4a7c15ULL;
	size_t i;

	memcpy(w, k, sizeof(*k));
	for (i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		h ^= w[i];
		h *= 0xff51afd7ed558ccdULL;
		h ^= h >> 32;
	}
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 29);
}

static int ft_init(struct ftable *t, size_t want)
{
	size_t cap = 1024;

	while (cap < want * 2)
		cap <<= 1;
	t->slots = calloc(cap, sizeof(*t->slots));
	if (!t->slots)
		return -ENOMEM;
	t->cap = cap;
	t->n = 0;
	return 0;
}

static struct fstate *ft_find(const struct ftable *t,
			      const struct flowbpf_key *k)
{
	size_t i = key_hash(k) & (t->cap - 1);

	for (; t->slots[i].gen; i = (i + 1) & (t->cap - 1))
		if (!memcmp(&t->slots[i].key, k, sizeof(*k)))
			return &t->slots[i];
	return NULL;
}

static struct fstate *ft_place(struct ftable *t, const struct flowbpf_key *k)
{
	size_t i = key_hash(k) & (t->cap - 1);

	while (t->slots[i].gen)
		i = (i + 1) & (t->cap - 1);
	memset(&t->slots[i], 0, sizeof(t->slots[i]));
	t->slots[i].key = *k;
	t->slots[i].gen = 1;
	t->n++;
	return &t->slots[i];
}

static int ft_grow(struct ftable *t)
{
	struct ftable nt;
	size_t i;

	if (ft_init(&nt, t->cap))
		return -ENOMEM;
	for (i = 0; i < t->cap; i++) {
		if (t->slots[i].gen)
			*ft_place(&nt, &t->slots[i].key) = t->slots[i];
	}
	free(t->slots);
	*t = nt;
	return 0;
}

/* A new slot for k (not present), gen set by the caller. */
static struct fstate *ft_insert(struct ftable *t, const struct flowbpf_key *k)
{
	if ((t->n + 1) * 10 > t->cap * 7 && ft_grow(t))
		return NULL;
	return ft_place(t, k);
}

static void ft_remove(struct ftable *t, struct fstate *s)
{
	size_t mask = t->cap - 1, hole = s - t->slots, i = hole, home;

	for (;;) {
		i = (i + 1) & mask;
		if (!t->slots[i].gen)
			break;
		home = key_hash(&t->slots[i].key) & mask;
		/* Moves back unless its home lies cyclically in (hole, i]. */
		if (hole <= i ? (home <= hole || home > i)
			      : (home <= hole && home > i)) {
			t->slots[hole] = t->slots[i];
			hole = i;
		}
	}
	t->slots[hole].gen = 0;
	t->n--;
}

static __u64 to_wall_ms(const struct collector *c, __u64 mono)
{
	return (__u64)((__s64)mono + c->wall_off) / 1000000;
}

/*
 * The start of a record whose first packet came after an earlier record
 * of the same entry: one packet, then it is the last packet; otherwise the
 * first came after the previous sweep began, which is the bound used.
 */
static __u64 pending_start(const struct collector *c, __u64 delta,
			   __u64 last_ns)
{
	if (delta == 1 || !c->prev_t0 || c->prev_t0 > last_ns)
		return last_ns;
	return c->prev_t0;
}

/* Gives sinks[i] the records it has not had; sent[i] counts what it took. */
static void offer(struct collector *c, int i)
{
	struct acct_sink *s = c->sinks[i];
	__u64 w0 = s->written;
	size_t j;
	int err;

	for (j = c->sent[i]; j < c->qn; j++)
		if (s->write(s, &c->q[j]) && s->keeps)
			break;
	err = s->flush(s);
	if (!s->keeps) {
		c->sent[i] = c->qn;
		return;
	}
	c->sent[i] += s->written - w0;
	if (c->sent[i] < c->qn)
		c->werr = err ? err : -EIO;
}

/* Writes what waits; the records every sink has taken leave the queue. */
static void deliver(struct collector *c)
{
	size_t done = c->qn, j;
	bool was = c->blocked;
	int i;

	for (i = 0; i < c->nsinks; i++) {
		offer(c, i);
		if (c->sent[i] < done)
			done = c->sent[i];
	}
	for (j = 0; j < done; j++) {
		c->acct.records++;
		c->acct.packets += c->q[j].packets;
		c->acct.bytes += c->q[j].bytes;
	}
	memmove(c->q, c->q + done, (c->qn - done) * sizeof(*c->q));
	c->qn -= done;
	for (i = 0; i < c->nsinks; i++)
		c->sent[i] -= done;
	c->blocked = c->qn > 0;
	if (c->blocked && !was)
		pr_warn("%s: %zu records wait to be written (%s); no flow leaves the flow map until they are\n",
			c->ifname, c->qn, strerror(-c->werr));
	else if (was && !c->blocked)
		pr_warn("%s: the records that waited are written; flows leave the map again\n",
			c->ifname);
}

/* Queues r, or counts it lost when the queue is full. */
static void queue_push(struct collector *c, const struct acct_record *r)
{
	size_t cap;
	void *p;

	if (c->qn == c->qcap) {
		cap = c->qcap ? c->qcap * 2 : COLLECT_BATCH;
		if (cap > c->qmax)
			cap = c->qmax;
		p = cap > c->qcap ? realloc(c->q, cap * sizeof(*c->q)) : NULL;
		if (!p) {
			c->lost++;
			return;
		}
		c->q = p;
		c->qcap = cap;
	}
	c->q[c->qn++] = *r;
}

static void queue_add(struct collector *c, const struct acct_record *r)
{
	queue_push(c, r);
	if (!c->blocked && c->qn >= COLLECT_BATCH)
		deliver(c);
}

/* The outer endpoints of an inner flow's tunnel, while the kernel has
 * them (an LRU map of FLOWBPF_TUNNELS_MAX tunnels). */
static void tunnel_outer(struct collector *c, struct acct_record *r)
{
	struct flowbpf_tunnel_key tk = { .dir = r->key.dir,
					 .tun_type = r->key.tun_type,
					 .tun_id = r->key.tun_id };

	if (c->tunnels_fd < 0 || !r->key.tun_type ||
	    r->key.tun_type > FLOWBPF_TUN_IP6 ||
	    bpf_map_lookup_elem(c->tunnels_fd, &tk, &r->outer))
		memset(&r->outer, 0, sizeof(r->outer));
}

/* Makes the record of the part of f that s has not reported yet. */
static void emit(struct collector *c, struct fstate *s, const struct fview *f,
		 int reason)
{
	struct acct_record r = { .key = s->key,
				 .ifname = c->ifname,
				 .ifindex = c->ifindex };

	if (f->packets <= s->rep_packets)
		return;
	r.packets = f->packets - s->rep_packets;
	r.bytes = f->bytes - s->rep_bytes;
	if (!s->start_ns)
		s->start_ns = pending_start(c, r.packets, f->last_ns);
	r.start_ms = to_wall_ms(c, s->start_ns);
	r.end_ms = to_wall_ms(c, f->last_ns);
	r.tcp_flags = f->tcp_flags;
	r.verdict = f->verdict;
	r.source = f->source;
	r.tos = f->tos;
	r.fwd = acct_forwarding_status(f->verdict, f->source, c->mode,
				       c->pending);
	r.reason = reason;
	r.first_tick = flowbpf_ns_tick(s->first_ns);
	r.seq_packets = s->rep_packets;
	r.seq_bytes = s->rep_bytes;
	tunnel_outer(c, &r);
	queue_add(c, &r);
	s->rep_packets = f->packets;
	s->rep_bytes = f->bytes;
	s->start_ns = 0;
	c->state_dirty = true;
	if (c->res)
		c->res->records++;
}

static void snapshot_of(const struct fstate *s, struct fview *f)
{
	f->packets = s->packets;
	f->bytes = s->bytes;
	f->first_ns = s->first_ns;
	f->last_ns = s->last_ns;
	f->tcp_flags = s->tcp_flags;
	f->verdict = s->verdict;
	f->source = s->source;
	f->tos = s->tos;
}

/* The entry s tracked is gone and nobody here removed it. */
static void evicted(struct collector *c, struct fstate *s)
{
	struct fview f;

	snapshot_of(s, &f);
	emit(c, s, &f, ACCT_EVICTED);
	c->acct.evicted_seen++;
	if (c->res)
		c->res->evicted++;
}

static void track(struct fstate *s, const struct fview *f, __u32 gen)
{
	s->packets = f->packets;
	s->bytes = f->bytes;
	s->last_ns = f->last_ns;
	s->tcp_flags = f->tcp_flags;
	s->verdict = f->verdict;
	s->source = f->source;
	s->tos = f->tos;
	s->gen = gen;
}

static void restart(struct fstate *s, const struct fview *f)
{
	s->first_ns = f->first_ns;
	s->start_ns = f->first_ns;
	s->rep_packets = s->rep_bytes = 0;
}

/* Reads the whole flow map into c->keys/c->vals. */
static int scan(struct collector *c, size_t *n)
{
	bool batch = c->batch;
	int err;

	err = flowbpf_map_read(c->flows_fd, sizeof(*c->keys), sizeof(*c->vals),
			       c->keys, c->vals, c->cap, n, &batch);
	if (c->batch && !batch)
		pr_info("%s: no batch map operations, reading entry by entry\n",
			c->ifname);
	c->batch = batch;
	if (err)
		return err;
	c->truncated = *n == c->cap;
	if (c->truncated && c->batch)
		pr_warn("%s: flow map holds more entries than expected; the rest waits for the next sweep\n",
			c->ifname);
	return 0;
}

/* Removes one entry and returns the value it had at that moment. */
static int remove_entry(struct collector *c, const struct flowbpf_key *k,
			struct flowbpf_flow *f)
{
	int err;

	if (c->lookup_delete) {
		err = bpf_map_lookup_and_delete_elem(c->flows_fd, k, f);
		if (!err || errno == ENOENT)
			return err ? -ENOENT : 0;
		if (errno != EINVAL && errno != EOPNOTSUPP && errno != 524)
			return -errno;
		/* Kernels before 5.14 have no lookup-and-delete for hashes. */
		pr_info("%s: no lookup-and-delete, removing with lookup then delete\n",
			c->ifname);
		c->lookup_delete = false;
	}
	if (bpf_map_lookup_elem(c->flows_fd, k, f))
		return -errno;
	if (bpf_map_delete_elem(c->flows_fd, k))
		return -errno;
	return 0;
}

/* An entry to remove, and what removing it returned. */
struct removal {
	struct flowbpf_key key;
	int reason;
	int err;
	struct flowbpf_flow f;
};

/* Removes the entries of rm, one system call each. */
static void remove_all(struct collector *c, struct removal *rm, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		rm[i].err = remove_entry(c, &rm[i].key, &rm[i].f);
}

static void report_removal(struct collector *c, struct fstate *s,
			   struct removal *rm)
{
	struct fview f;

	view_of(c, &rm->f, &f);
	if (rm->err == -ENOENT) {
		evicted(c, s);
	} else if (rm->err) {
		pr_warn("%s: cannot remove a flow: %s\n", c->ifname,
			strerror(-rm->err));
		return;
	} else {
		/* Evicted and created again since the scan: two flows. */
		if (f.first_ns != s->first_ns) {
			evicted(c, s);
			restart(s, &f);
		}
		emit(c, s, &f, rm->reason);
		c->acct.flows_accounted++;
		if (c->res)
			c->res->removed++;
	}
	if (s->live)
		c->live--;
	ft_remove(&c->t, s);
}

/* An entry the expiry program removed, reported like one removed here. */
static void expired_entry(void *ctx, const struct flowbpf_expired *e)
{
	struct collector *c = ctx;
	struct fstate *s = ft_find(&c->t, &e->key);
	struct fview f;

	view_of(c, &e->flow, &f);
	if (!s) {
		s = ft_insert(&c->t, &e->key);
		if (!s)
			return;
		restart(s, &f);
	} else if (s->first_ns != f.first_ns) {
		/* Evicted and created again since the last sweep. */
		evicted(c, s);
		restart(s, &f);
	}
	if (!s->start_ns && f.packets > s->rep_packets)
		s->start_ns =
			pending_start(c, f.packets - s->rep_packets, f.last_ns);
	/* As a sweep from here decides: a closed TCP flow ends as such. */
	emit(c, s, &f,
	     (f.tcp_flags & (TCPF_FIN | TCPF_RST)) &&
			     (__s32)(e->flow.last - c->end_cutoff) < 0
		     ? ACCT_END
		     : ACCT_IDLE);
	c->acct.flows_accounted++;
	if (c->res)
		c->res->removed++;
	ft_remove(&c->t, s);
}

/* Idle entries, removed in the kernel before the scan reads the rest. */
static int expire(struct collector *c)
{
	__u64 n;
	int err;

	/* The walk costs about 0.3 us an entry, a removal from here about
	 * 1.5 us: worth it once a few percent of the entries go at once. */
	if (c->expire_fd < 0 || c->due * 20 < c->t.n)
		return 0;
	c->end_cutoff = flowbpf_ns_tick(c->t0 - c->o.end_ns);
	err = flowbpf_expire(c->expire_fd, c->expired_fd,
			     flowbpf_ns_tick(c->t0 - c->o.idle_ns),
			     c->end_cutoff, expired_entry, c, &n);
	if (!err)
		return 0;
	pr_warn("%s: the in-kernel sweep failed (%s); sweeping from here from now on\n",
		c->ifname, strerror(-err));
	if (c->own_fds) {
		close(c->expire_fd);
		close(c->expired_fd);
	}
	c->expire_fd = c->expired_fd = -1;
	return err;
}

static __u64 flows_created(struct collector *c)
{
	struct flowbpf_stats st;

	if (c->stats_fd < 0 || flowbpf_stats_read(c->stats_fd, &st))
		return c->acct.flows_created;
	return st.c[FLOWBPF_STAT_FLOWS_CREATED];
}

static void publish(struct collector *c)
{
	__u32 zero = 0;

	if (c->acct_fd >= 0 &&
	    bpf_map_update_elem(c->acct_fd, &zero, &c->acct, BPF_ANY))
		pr_debug("%s: cannot publish accounting state: %s\n", c->ifname,
			 strerror(errno));
}

void collector_status(const struct collector *c, struct collect_status *st)
{
	int i;

	memset(st, 0, sizeof(*st));
	st->write_errors = c->errors_base + c->state_errors;
	st->records_pending = c->qn;
	st->records_lost = c->lost;
	for (i = 0; i < c->nsinks; i++) {
		st->write_errors += c->sinks[i]->errors;
		st->records_lost += c->sinks[i]->lost;
	}
}

/*
 * The state file, COLLECT_STATE_DIR/collect-IFACE.state: what a collector
 * leaves to the next one of the same attach, and what it tells "flowbpf
 * stats" beyond the "acct" map (whose layout is the kernel's):
 * - every flow still in the map that records have reported in part
 *   (active records), with the counters reported, so that a collector
 *   started after a crash reports only the rest;
 * - the records waiting to be written, so that they wait on;
 * - its counters.
 * It is replaced whole, after the records of the sweep are written, so a
 * reader sees the old state or the new, never part of one.  It belongs to
 * one attach (the flow map's id) of one boot; host byte order.
 */
#define STATE_MAGIC "FBCOLL03"

struct state_hdr {
	char magic[8];
	char boot_id[40]; /* /proc/sys/kernel/random/boot_id */
	__u32 flows_id;
	__u32 pid;
	__u64 write_errors;
	__u64 records_lost;
	__u64 records_pending;
};

/* A flow that records have reported in part. */
struct state_flow {
	struct flowbpf_key key;
	__u32 first; /* tick of the entry's first packet */
	__u64 rep_packets;
	__u64 rep_bytes;
	__u64 start_ns; /* no later than its first packet not reported */
};

/* A record waiting to be written: struct acct_record without pointers. */
struct state_rec {
	struct flowbpf_key key;
	__u32 tcp_flags;
	__u64 start_ms, end_ms, packets, bytes;
	__u32 verdict, ifindex;
	__u8 reason, source, tos, fwd;
	__u32 first_tick;
	__u64 seq_packets, seq_bytes;
};

/* After the flows and the records. */
struct state_tail {
	__u64 nflows, nrecs;
	__u32 crc; /* crc32 of all that comes before it */
	__u32 pad;
};

/* Restored entries: seen by no sweep of this collector yet. */
#define GEN_RESTORED 0xffffffffU

static void boot_id(char *buf, size_t len)
{
	int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;

	if (fd >= 0)
		close(fd);
	memset(buf + (n > 0 ? n : 0), 0, len - (n > 0 ? n : 0));
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
}

static int state_path(char *buf, size_t len, const char *ifname)
{
	int n = snprintf(buf, len, "%s/collect-%s.state", COLLECT_STATE_DIR,
			 ifname);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err = 0;

	if (fd < 0 || fsync(fd))
		err = -errno;
	if (fd >= 0)
		close(fd);
	return err;
}

struct state_out {
	FILE *f;
	uLong crc;
	bool err;
};

static void put(struct state_out *o, const void *p, size_t len)
{
	o->crc = crc32(o->crc, p, len);
	o->err |= fwrite(p, len, 1, o->f) != 1;
}

static void rec_to_state(const struct acct_record *r, struct state_rec *sr)
{
	memset(sr, 0, sizeof(*sr));
	sr->key = r->key;
	sr->tcp_flags = r->tcp_flags;
	sr->start_ms = r->start_ms;
	sr->end_ms = r->end_ms;
	sr->packets = r->packets;
	sr->bytes = r->bytes;
	sr->verdict = r->verdict;
	sr->ifindex = r->ifindex;
	sr->reason = r->reason;
	sr->source = r->source;
	sr->tos = r->tos;
	sr->fwd = r->fwd;
	sr->first_tick = r->first_tick;
	sr->seq_packets = r->seq_packets;
	sr->seq_bytes = r->seq_bytes;
}

static int state_write(struct collector *c, FILE *f,
		       const struct collect_status *st)
{
	struct state_hdr h = { .flows_id = c->flows_id, .pid = getpid() };
	struct state_out o = { f, crc32(0, NULL, 0), false };
	struct state_tail t = {};
	struct state_flow sf;
	struct state_rec sr;
	size_t i;

	memcpy(h.magic, STATE_MAGIC, sizeof(h.magic));
	boot_id(h.boot_id, sizeof(h.boot_id));
	h.write_errors = st->write_errors;
	h.records_lost = st->records_lost;
	h.records_pending = st->records_pending;
	put(&o, &h, sizeof(h));
	for (i = 0; i < c->t.cap && !o.err; i++) {
		const struct fstate *s = &c->t.slots[i];

		if (!s->gen || !s->rep_packets)
			continue;
		memset(&sf, 0, sizeof(sf));
		sf.key = s->key;
		sf.first = flowbpf_ns_tick(s->first_ns);
		sf.rep_packets = s->rep_packets;
		sf.rep_bytes = s->rep_bytes;
		/* Nothing new seen yet: what comes, comes after this sweep. */
		sf.start_ns = s->start_ns ? s->start_ns : c->t0;
		put(&o, &sf, sizeof(sf));
		t.nflows++;
	}
	for (i = 0; i < c->qn && !o.err; i++) {
		rec_to_state(&c->q[i], &sr);
		put(&o, &sr, sizeof(sr));
		t.nrecs++;
	}
	put(&o, &t, offsetof(struct state_tail, crc));
	t.crc = o.crc;
	put(&o, &t.crc, sizeof(t) - offsetof(struct state_tail, crc));
	return o.err ? -EIO : 0;
}

/* Writes the state file anew; 0 or -errno. */
static int state_store(struct collector *c, const struct collect_status *st)
{
	char tmp[sizeof(c->state_path) + 8];
	FILE *f = NULL;
	int fd, err;

	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", c->state_path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "w");
	if (!f) {
		err = -errno;
		close(fd);
		goto fail;
	}
	err = state_write(c, f, st);
	if (!err && (fflush(f) || fsync(fd)))
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	if (!err && rename(tmp, c->state_path))
		err = -errno;
	if (err)
		goto fail;
	return fsync_dir(COLLECT_STATE_DIR);
fail:
	unlink(tmp);
	return err;
}

/*
 * After a sweep, when anything in the state changed.  A collector that
 * stops with nothing left to anyone removes the file.
 */
static void save_state(struct collector *c, bool done)
{
	struct collect_status st;
	int err;

	if (!c->state_path[0])
		return;
	if (done) {
		unlink(c->state_path);
		return;
	}
	collector_status(c, &st);
	if (!c->state_dirty && !memcmp(&st, &c->saved, sizeof(st)))
		return;
	err = state_store(c, &st);
	if (err) {
		c->state_errors++;
		if (err != c->state_err)
			pr_warn("%s: cannot save the collector's state in %s: %s\n",
				c->ifname, c->state_path, strerror(-err));
		c->state_err = err;
		return;
	}
	c->state_err = 0;
	c->saved = st;
	c->state_dirty = false;
}

int collect_status_read(const char *ifname, __u32 flows_id,
			struct collect_status *st)
{
	char path[128], boot[40];
	struct state_hdr h;
	int fd, err = 0;

	memset(st, 0, sizeof(*st));
	err = state_path(path, sizeof(path), ifname);
	if (err)
		return err;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	boot_id(boot, sizeof(boot));
	if (read(fd, &h, sizeof(h)) != sizeof(h) ||
	    memcmp(h.magic, STATE_MAGIC, sizeof(h.magic)))
		err = -EPROTO;
	else if (h.flows_id != flows_id ||
		 memcmp(h.boot_id, boot, sizeof(boot)))
		err = -ESTALE; /* of an earlier attach */
	close(fd);
	if (err)
		return err;
	st->write_errors = h.write_errors;
	st->records_lost = h.records_lost;
	st->records_pending = h.records_pending;
	return 0;
}

/* What a sweep decides for entry i of the scan; -ENOMEM or 0. */
static int sweep_entry(struct collector *c, size_t i, bool final,
		       struct removal *rm, size_t *nrm, size_t *seen)
{
	const struct flowbpf_key *k = &c->keys[i];
	__u64 idle, limit, now = c->t0;
	struct fview fv, *f = &fv;
	struct fstate *s;

	view_of(c, &c->vals[i], f);
	s = ft_find(&c->t, k);
	if (s && s->first_ns != f->first_ns) {
		evicted(c, s);
		restart(s, f);
	}
	if (!s) {
		s = ft_insert(&c->t, k);
		if (!s)
			return -ENOMEM;
		restart(s, f);
	}
	if (!s->start_ns && f->packets > s->rep_packets)
		s->start_ns = pending_start(c, f->packets - s->rep_packets,
					    f->last_ns);
	*seen += s->gen != c->gen;
	track(s, f, c->gen);
	s->live = f->first_ns <= c->t0;
	c->live += s->live;

	idle = now > f->last_ns ? now - f->last_ns : 0;
	/* When a sweep removes it: after FIN or RST at the sooner. */
	limit = c->o.idle_ns;
	if ((f->tcp_flags & (TCPF_FIN | TCPF_RST)) && c->o.end_ns < limit)
		limit = c->o.end_ns;
	/* Idle by the next sweep, if it comes as long after this one. */
	if (idle < limit)
		c->due += idle + (c->t0 - c->prev_t0) >= limit;
	/* While records wait to be written, the flow stays and counts. */
	if (c->blocked)
		return 0;
	/* A TCP flow that closed ends as such even if a late sweep finds it
	 * idle too. */
	if (final)
		rm[(*nrm)++] = (struct removal){ *k, ACCT_SHUTDOWN };
	else if ((f->tcp_flags & (TCPF_FIN | TCPF_RST)) && idle >= c->o.end_ns)
		rm[(*nrm)++] = (struct removal){ *k, ACCT_END };
	else if (idle >= c->o.idle_ns)
		rm[(*nrm)++] = (struct removal){ *k, ACCT_IDLE };
	else if (s->start_ns && s->start_ns <= now &&
		 now - s->start_ns >= c->o.active_ns)
		emit(c, s, f, ACCT_ACTIVE);
	return 0;
}

/*
 * Entries not in this scan were evicted (or removed by others); a scan
 * cut short proves nothing about the entries it missed.  When the scan
 * saw every tracked entry, there is nothing to look for.
 */
static void find_evicted(struct collector *c, size_t seen)
{
	size_t i;

	for (i = 0; i < c->t.cap && !c->truncated && seen < c->t.n;) {
		struct fstate *s = &c->t.slots[i];

		if (s->gen && s->gen != c->gen) {
			evicted(c, s);
			ft_remove(&c->t, s);
			continue; /* the shift may have filled slot i */
		}
		i++;
	}
}

/*
 * Created but neither accounted nor in the map: evicted.  A flow being
 * created right now can be in the map before it is counted, which only
 * lowers the result for a moment; never lowered here.
 */
static void count_evicted(struct collector *c, __u64 created)
{
	__s64 now = (__s64)created - (__s64)c->acct.flows_accounted -
		    (__s64)c->live;

	if (!c->truncated && now > (__s64)c->acct.flows_evicted) {
		pr_warn("%s: %llu more flows evicted from the full flow map (%lld in all); raise --flows on attach or shorten the timeouts\n",
			c->ifname,
			(unsigned long long)(now - c->acct.flows_evicted),
			(long long)now);
		c->acct.flows_evicted = now;
	}
	c->acct.flows_created = created;
	c->acct.flows_live = c->live;
}

/* Scans the map, decides every entry, removes the ones that end. */
static int sweep_map(struct collector *c, bool final)
{
	struct sweep_result *res = c->res;
	struct removal *rm = NULL;
	size_t n = 0, nrm = 0, seen = 0, i;
	__u64 t_scan = mono_now_ns();
	int err;

	err = scan(c, &n);
	if (err) {
		pr_warn("%s: cannot read the flow map: %s\n", c->ifname,
			strerror(-err));
		return err;
	}
	res->scan_ns = mono_now_ns() - t_scan;
	res->scanned = n;
	rm = malloc((n ? n : 1) * sizeof(*rm));
	if (!rm)
		return -ENOMEM;
	c->live = 0;
	for (i = 0; i < n && !err; i++) {
		/* The table is far larger than the caches: fetch ahead. */
		if (i + 8 < n)
			__builtin_prefetch(
				&c->t.slots[key_hash(&c->keys[i + 8]) &
					    (c->t.cap - 1)]);
		err = sweep_entry(c, i, final, rm, &nrm, &seen);
	}
	if (err)
		goto out;
	find_evicted(c, seen);
	/* A write may have failed since the entries were chosen. */
	if (c->blocked)
		nrm = 0;
	t_scan = mono_now_ns();
	remove_all(c, rm, nrm);
	for (i = 0; i < nrm; i++) {
		struct fstate *s = ft_find(&c->t, &rm[i].key);

		if (s)
			report_removal(c, s, &rm[i]);
	}
	res->remove_ns += mono_now_ns() - t_scan;
out:
	free(rm);
	return err;
}

int collector_sweep(struct collector *c, bool final, struct sweep_result *res)
{
	struct sweep_result dummy;
	__u64 created;
	int err;

	if (!res)
		res = &dummy;
	memset(res, 0, sizeof(*res));
	c->res = res;
	if (++c->gen == 0)
		c->gen = 2; /* 0 marks a free slot */
	/* Created before t0, so every flow it counts is older than t0. */
	created = flows_created(c);
	c->t0 = mono_now_ns();
	c->wall_off = (__s64)mono_to_wall_ns(c->t0) - (__s64)c->t0;
	/* Records that could not be written before go first. */
	if (c->qn)
		deliver(c);
	if (!final && !c->blocked)
		expire(c);
	c->due = 0;
	res->remove_ns = mono_now_ns() - c->t0;
	err = sweep_map(c, final);
	if (!err) {
		count_evicted(c, created);
		c->acct.sweeps++;
	}
	deliver(c);
	if (c->lost > c->lost_logged) {
		pr_warn("%s: %llu records lost: more than %zu waited to be written (%llu lost in all)\n",
			c->ifname,
			(unsigned long long)(c->lost - c->lost_logged), c->qmax,
			(unsigned long long)c->lost);
		c->lost_logged = c->lost;
	}
	if (!err && final && c->qn)
		err = c->werr;
	c->prev_t0 = c->t0;
	c->acct.last_sweep_ns = mono_now_ns();
	res->total_ns = c->acct.last_sweep_ns - c->t0;
	publish(c);
	save_state(c, final && !err && !c->qn);
	c->res = NULL;
	return err;
}

void collector_set_expire(struct collector *c, int prog_fd, int ring_fd)
{
	c->expire_fd = prog_fd;
	c->expired_fd = ring_fd;
}

const struct flowbpf_acct *collector_acct(const struct collector *c)
{
	return &c->acct;
}

__u64 collector_tracked(const struct collector *c)
{
	return c->t.n;
}

void collector_add_sink(struct collector *c, struct acct_sink *s)
{
	bool keeping = false;
	int i;

	if (!s)
		return;
	if (c->nsinks == (int)(sizeof(c->sinks) / sizeof(c->sinks[0]))) {
		s->close(s);
		return;
	}
	for (i = 0; i < c->nsinks; i++)
		keeping |= c->sinks[i]->keeps;
	/* What waits now was left by an earlier collector, which gave it
	 * to its sinks that do not keep records already. */
	c->sent[c->nsinks] = !s->keeps && keeping ? c->qn : 0;
	c->sinks[c->nsinks++] = s;
}

struct collector *collector_new_fds(const char *ifname, int flows_fd,
				    int stats_fd, int acct_fd,
				    const struct collect_opts *o)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), zero = 0;
	struct collector *c;

	if (bpf_obj_get_info_by_fd(flows_fd, &info, &len)) {
		err_set("%s: cannot query the flow map: %s", ifname,
			strerror(errno));
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		err_set("%s: out of memory", ifname);
		return NULL;
	}
	snprintf(c->ifname, sizeof(c->ifname), "%s", ifname);
	c->flows_fd = flows_fd;
	c->expire_fd = c->expired_fd = c->tunnels_fd = -1;
	c->stats_fd = stats_fd;
	c->acct_fd = acct_fd;
	c->lock_fd = -1;
	/* Without the config (benchmarks): verdicts are applied. */
	c->mode = FLOWBPF_MODE_ENFORCE;
	c->pending = FLOWBPF_PENDING_PASS;
	c->o = *o;
	c->batch = !o->no_batch;
	c->lookup_delete = true;
	/* LRU maps hold at most max_entries; the rest is for churn. */
	c->cap = (size_t)info.max_entries + info.max_entries / 8 + 1024;
	c->qmax = c->cap;
	c->flows_id = info.id;
	c->keys = malloc(c->cap * sizeof(*c->keys));
	c->vals = malloc(c->cap * sizeof(*c->vals));
	if (!c->keys || !c->vals || ft_init(&c->t, info.max_entries / 2)) {
		err_set("out of memory");
		collector_free(c);
		return NULL;
	}
	/* Counts go on from where an earlier collector left them. */
	if (acct_fd >= 0 && !bpf_map_lookup_elem(acct_fd, &zero, &c->acct))
		c->acct.collector_pid = getpid();
	return c;
}

/* The whole file at path, in a buffer to free; 0 or -errno. */
static int read_whole(const char *path, char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC), err = 0;
	struct stat st;
	ssize_t n = 0;

	*buf = NULL;
	*len = 0;
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = -EINVAL;
		goto out;
	}
	*buf = malloc(st.st_size ? st.st_size : 1);
	if (!*buf) {
		err = -ENOMEM;
		goto out;
	}
	for (*len = 0; *len < (size_t)st.st_size; *len += n) {
		n = read(fd, *buf + *len, st.st_size - *len);
		if (n <= 0) {
			err = n < 0 ? -errno : -EIO;
			break;
		}
	}
out:
	close(fd);
	return err;
}

/* The state's header and tail, if the file is whole; else NULL. */
static const struct state_tail *state_check(const char *buf, size_t len)
{
	const size_t tail = sizeof(struct state_tail);
	const struct state_tail *t;
	__u64 want;

	if (len < sizeof(struct state_hdr) + tail ||
	    memcmp(buf, STATE_MAGIC, 8))
		return NULL;
	t = (const void *)(buf + len - tail);
	if (t->nflows > len || t->nrecs > len)
		return NULL;
	want = sizeof(struct state_hdr) + tail +
	       t->nflows * sizeof(struct state_flow) +
	       t->nrecs * sizeof(struct state_rec);
	if (want != len ||
	    crc32(crc32(0, NULL, 0), (const Bytef *)buf,
		  len - tail + offsetof(struct state_tail, crc)) != t->crc)
		return NULL;
	return t;
}

/* What the earlier collector reported of a flow still in the map. */
static void restore_flow(struct collector *c, const struct state_flow *sf)
{
	struct fstate *s;

	if (ft_find(&c->t, &sf->key))
		return;
	s = ft_insert(&c->t, &sf->key);
	if (!s)
		return;
	s->first_ns = flowbpf_tick_ns(sf->first, mono_now_ns());
	s->start_ns = sf->start_ns;
	s->rep_packets = s->packets = sf->rep_packets;
	s->rep_bytes = s->bytes = sf->rep_bytes;
	s->last_ns = sf->start_ns;
	s->gen = GEN_RESTORED;
}

static void restore_rec(struct collector *c, const struct state_rec *sr)
{
	struct acct_record r = { .key = sr->key,
				 .start_ms = sr->start_ms,
				 .end_ms = sr->end_ms,
				 .packets = sr->packets,
				 .bytes = sr->bytes,
				 .tcp_flags = sr->tcp_flags,
				 .verdict = sr->verdict,
				 .reason = sr->reason,
				 .source = sr->source,
				 .tos = sr->tos,
				 .fwd = sr->fwd,
				 .ifname = c->ifname,
				 .ifindex = sr->ifindex,
				 .first_tick = sr->first_tick,
				 .seq_packets = sr->seq_packets,
				 .seq_bytes = sr->seq_bytes };

	/* Given to the sinks at the first sweep, when there are sinks. */
	queue_push(c, &r);
}

/* Takes over what an earlier collector of this attach left. */
static void state_load(struct collector *c)
{
	const struct state_hdr *h;
	const struct state_tail *t;
	struct state_flow sf;
	struct state_rec sr;
	char boot[40], *buf;
	size_t len = 0, off, i;
	int err;

	err = read_whole(c->state_path, &buf, &len);
	if (err) {
		if (err != -ENOENT)
			pr_warn("%s: cannot read %s: %s\n", c->ifname,
				c->state_path, strerror(-err));
		free(buf);
		return;
	}
	h = (const void *)buf;
	t = state_check(buf, len);
	boot_id(boot, sizeof(boot));
	if (!t) {
		pr_warn("%s: %s is damaged; flows are reported as if new\n",
			c->ifname, c->state_path);
	} else if (h->flows_id == c->flows_id &&
		   !memcmp(h->boot_id, boot, sizeof(boot))) {
		off = sizeof(*h);
		for (i = 0; i < t->nflows; i++, off += sizeof(sf))
			restore_flow(c, memcpy(&sf, buf + off, sizeof(sf)));
		for (i = 0; i < t->nrecs; i++, off += sizeof(sr))
			restore_rec(c, memcpy(&sr, buf + off, sizeof(sr)));
		c->errors_base = h->write_errors;
		c->lost = c->lost_logged = h->records_lost;
		c->state_dirty = true;
		if (t->nflows || t->nrecs)
			pr_warn("%s: took over from collector pid %u: %llu flows it reported in part, %llu records it could not write\n",
				c->ifname, h->pid,
				(unsigned long long)t->nflows,
				(unsigned long long)t->nrecs);
	}
	free(buf);
}

/* Where the state file goes; without one, nothing else changes. */
static void state_setup(struct collector *c)
{
	char pat[sizeof(c->state_path) + 8];
	size_t i;
	glob_t g;

	if (mkdir(COLLECT_STATE_DIR, 0755) && errno != EEXIST) {
		pr_warn("%s: cannot create %s (%s); the collector keeps no state file\n",
			c->ifname, COLLECT_STATE_DIR, strerror(errno));
		return;
	}
	if (state_path(c->state_path, sizeof(c->state_path), c->ifname)) {
		c->state_path[0] = '\0';
		return;
	}
	state_load(c);
	/* A collector killed while saving leaves its temporary file; with
	 * the interface's lock held, no other is writing one. */
	snprintf(pat, sizeof(pat), "%s.??????", c->state_path);
	if (!glob(pat, GLOB_NOSORT, NULL, &g)) {
		for (i = 0; i < g.gl_pathc; i++)
			unlink(g.gl_pathv[i]);
		globfree(&g);
	}
}

struct collector *collector_open(const char *ifname,
				 const struct collect_opts *o)
{
	struct flowbpf_handle h;
	struct collector *c;
	int acct_fd, lock_fd;

	if (flowbpf_open(ifname, &h))
		return NULL;
	/* One collector per interface: two would report every flow twice. */
	lock_fd = flowbpf_pin_dir_open(ifname);
	if (lock_fd < 0) {
		flowbpf_close(&h);
		return NULL;
	}
	if (flock(lock_fd, LOCK_EX | LOCK_NB)) {
		struct flowbpf_acct a = {};

		acct_read(ifname, &a);
		err_set("%s: another collector is running (pid %llu)", ifname,
			(unsigned long long)a.collector_pid);
		close(lock_fd);
		flowbpf_close(&h);
		return NULL;
	}
	acct_fd = h.fd[FB_MAP_ACCT];
	if (flowbpf_map_check(acct_fd, sizeof(__u32),
			      sizeof(struct flowbpf_acct))) {
		flowbpf_close(&h);
		close(lock_fd);
		err_set("%s: the accounting map has another layout", ifname);
		return NULL;
	}
	c = collector_new_fds(ifname, h.fd[FB_MAP_FLOWS], h.fd[FB_MAP_STATS],
			      acct_fd, o);
	if (!c) {
		close(lock_fd);
		flowbpf_close(&h);
		return NULL;
	}
	c->expire_fd = h.fd[FB_PROG_EXPIRE];
	c->expired_fd = h.fd[FB_MAP_EXPIRED];
	c->tunnels_fd = h.fd[FB_MAP_TUNNELS];
	h.fd[FB_MAP_TUNNELS] = -1;
	/* The collector keeps these; the handle's other fds are not needed. */
	h.fd[FB_MAP_FLOWS] = h.fd[FB_MAP_STATS] = h.fd[FB_MAP_ACCT] = -1;
	h.fd[FB_PROG_EXPIRE] = h.fd[FB_MAP_EXPIRED] = -1;
	flowbpf_close(&h);
	c->own_fds = true;
	c->ifindex = h.cfg.ifindex;
	c->mode = h.cfg.mode;
	c->pending = h.cfg.pending;
	c->lock_fd = lock_fd;
	c->acct.collector_pid = getpid();
	publish(c);
	state_setup(c);
	return c;
}

void collector_free(struct collector *c)
{
	int i;

	if (!c)
		return;
	if (c->qn && c->state_path[0] && !c->state_err)
		pr_warn("%s: %zu records could not be written; they wait in %s for the next collector\n",
			c->ifname, c->qn, c->state_path);
	else if (c->qn)
		pr_warn("%s: %zu records could not be written and are lost\n",
			c->ifname, c->qn);
	for (i = 0; i < c->nsinks; i++)
		c->sinks[i]->close(c->sinks[i]);
	if (c->acct_fd >= 0 && c->own_fds) {
		c->acct.collector_pid = 0;
		publish(c);
	}
	if (c->own_fds) {
		close(c->flows_fd);
		if (c->expire_fd >= 0)
			close(c->expire_fd);
		if (c->expired_fd >= 0)
			close(c->expired_fd);
		if (c->tunnels_fd >= 0)
			close(c->tunnels_fd);
		if (c->stats_fd >= 0)
			close(c->stats_fd);
		if (c->acct_fd >= 0)
			close(c->acct_fd);
	}
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	free(c->keys);
	free(c->vals);
	free(c->t.slots);
	free(c->q);
	free(c);
}

int acct_read(const char *ifname, struct flowbpf_acct *a)
{
	__u32 zero = 0;
	int fd, err = 0;

	memset(a, 0, sizeof(*a));
	fd = flowbpf_pin_get(ifname, FB_MAP_ACCT);
	if (fd < 0)
		return fd;
	err = flowbpf_map_check(fd, sizeof(__u32), sizeof(struct flowbpf_acct));
	if (!err && bpf_map_lookup_elem(fd, &zero, a))
		err = -errno;
	close(fd);
	return err;
}

int acct_evicted(const char *ifname, int flows_fd, int stats_fd,
		 struct flowbpf_acct *a, bool *running)
{
	struct flowbpf_key *keys = NULL;
	struct flowbpf_flow *vals = NULL;
	struct flowbpf_stats st;
	__u64 t0, live = 0;
	size_t n = 0, i;
	__s64 ev;
	int err;

	err = acct_read(ifname, a);
	if (err)
		return err;
	*running = a->collector_pid &&
		   (kill(a->collector_pid, 0) == 0 || errno == EPERM);
	if (*running)
		return 0;
	/* Nobody removes entries now; the same order as in a sweep. */
	err = flowbpf_stats_read(stats_fd, &st);
	if (err)
		return err;
	t0 = mono_now_ns();
	err = flowbpf_map_dump(flows_fd, sizeof(*keys), sizeof(*vals),
			       (void **)&keys, (void **)&vals, &n);
	if (err)
		return err;
	for (i = 0; i < n; i++)
		live += flowbpf_tick_ns(vals[i].first, t0) <= t0;
	free(keys);
	free(vals);
	a->collector_pid = 0;
	a->flows_created = st.c[FLOWBPF_STAT_FLOWS_CREATED];
	a->flows_live = live;
	ev = (__s64)a->flows_created - (__s64)a->flows_accounted - (__s64)live;
	if (ev > (__s64)a->flows_evicted)
		a->flows_evicted = ev;
	return 0;
}
