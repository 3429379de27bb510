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
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
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
};

/* Open addressing, linear probing, deletion by backward shift. */
struct ftable {
	struct fstate *slots;
	size_t cap, n; /* cap is a power of two */
};

struct collector {
	char ifname[IF_NAMESIZE];
	__u32 ifindex;
	int flows_fd, stats_fd, acct_fd, lock_fd;
	int expire_fd, expired_fd; /* the in-kernel sweep, -1 if not there */
	__u32 end_cutoff; /* of the running one, ticks */
	/* Entries the last scan saw that the next sweep may find idle: */
	__u64 due; /* when few, removing them from here is cheaper */
	bool own_fds;
	struct collect_opts o;
	struct ftable t;
	struct acct_sink *sinks[4];
	int nsinks;
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

/* Writes the part of f that s has not reported yet. */
static void emit(struct collector *c, struct fstate *s, const struct fview *f,
		 int reason)
{
	struct acct_record r = { .key = s->key,
				 .ifname = c->ifname,
				 .ifindex = c->ifindex };
	int i;

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
	r.reason = reason;
	for (i = 0; i < c->nsinks; i++)
		c->sinks[i]->write(c->sinks[i], &r);
	s->rep_packets = f->packets;
	s->rep_bytes = f->bytes;
	s->start_ns = 0;
	c->acct.records++;
	c->acct.packets += r.packets;
	c->acct.bytes += r.bytes;
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
	s->gen = gen;
}

static void restart(struct fstate *s, const struct fview *f)
{
	s->first_ns = f->first_ns;
	s->start_ns = f->first_ns;
	s->rep_packets = s->rep_bytes = 0;
}

static int scan_per_key(struct collector *c, size_t *n)
{
	struct flowbpf_key prev;
	void *pk = NULL;
	size_t i = 0;

	c->truncated = false;
	while (i < c->cap &&
	       !bpf_map_get_next_key(c->flows_fd, pk, &c->keys[i])) {
		prev = c->keys[i];
		pk = &prev;
		/* The entry may go (eviction) between the two calls. */
		if (!bpf_map_lookup_elem(c->flows_fd, &c->keys[i], &c->vals[i]))
			i++;
	}
	c->truncated = i == c->cap;
	*n = i;
	return 0;
}

/* Reads the whole flow map into c->keys/c->vals. */
static int scan(struct collector *c, size_t *n)
{
	struct flowbpf_key in, out;
	bool first = true;
	size_t got = 0;
	__u32 cnt;
	int err;

	if (!c->batch)
		return scan_per_key(c, n);
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);

		cnt = c->cap - got < 8192 ? c->cap - got : 8192;
		if (!cnt)
			break;
		err = bpf_map_lookup_batch(c->flows_fd, first ? NULL : &in,
					   &out, c->keys + got, c->vals + got,
					   &cnt, &opts);
		if (err && err != -ENOENT) {
			if (first && (err == -EINVAL || err == -EOPNOTSUPP ||
				      err == -524 /* ENOTSUPP */)) {
				pr_info("%s: no batch map operations, reading entry by entry\n",
					c->ifname);
				c->batch = false;
				return scan_per_key(c, n);
			}
			return err;
		}
		got += cnt;
		if (err == -ENOENT)
			break;
		in = out;
		first = false;
	}
	c->truncated = got == c->cap;
	if (c->truncated)
		pr_warn("%s: flow map holds more entries than expected; the rest waits for the next sweep\n",
			c->ifname);
	*n = got;
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

int collector_sweep(struct collector *c, bool final, struct sweep_result *res)
{
	struct sweep_result dummy;
	struct removal *rm = NULL;
	size_t n = 0, nrm = 0, seen = 0, i;
	__u64 created, t_scan, now;
	__s64 evicted_now;
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
	if (!final)
		expire(c);
	c->due = 0;
	t_scan = mono_now_ns();
	res->remove_ns = t_scan - c->t0;
	err = scan(c, &n);
	if (err) {
		pr_warn("%s: cannot read the flow map: %s\n", c->ifname,
			strerror(-err));
		goto out;
	}
	res->scan_ns = mono_now_ns() - t_scan;
	t_scan = mono_now_ns();
	res->scanned = n;
	rm = malloc((n ? n : 1) * sizeof(*rm));
	if (!rm) {
		err = -ENOMEM;
		goto out;
	}
	now = c->t0;
	c->live = 0;
	for (i = 0; i < n; i++) {
		const struct flowbpf_key *k = &c->keys[i];
		struct fview fv, *f = &fv;
		struct fstate *s;
		__u64 idle, limit;

		view_of(c, &c->vals[i], f);
		/* The table is far larger than the caches: fetch ahead. */
		if (i + 8 < n)
			__builtin_prefetch(
				&c->t.slots[key_hash(&c->keys[i + 8]) &
					    (c->t.cap - 1)]);
		s = ft_find(&c->t, k);

		if (s && s->first_ns != f->first_ns) {
			evicted(c, s);
			restart(s, f);
		}
		if (!s) {
			s = ft_insert(&c->t, k);
			if (!s) {
				err = -ENOMEM;
				goto out;
			}
			restart(s, f);
		}
		if (!s->start_ns && f->packets > s->rep_packets)
			s->start_ns = pending_start(
				c, f->packets - s->rep_packets, f->last_ns);
		seen += s->gen != c->gen;
		track(s, f, c->gen);
		s->live = f->first_ns <= c->t0;
		c->live += s->live;

		idle = now > f->last_ns ? now - f->last_ns : 0;
		/* A TCP flow that closed ends as such even if a late sweep
		 * finds it idle too. */
		/* When a sweep removes it: after FIN or RST at the sooner. */
		limit = c->o.idle_ns;
		if ((f->tcp_flags & (TCPF_FIN | TCPF_RST)) && c->o.end_ns < limit)
			limit = c->o.end_ns;
		if (final)
			rm[nrm++] = (struct removal){ *k, ACCT_SHUTDOWN };
		else if ((f->tcp_flags & (TCPF_FIN | TCPF_RST)) &&
			 idle >= c->o.end_ns)
			rm[nrm++] = (struct removal){ *k, ACCT_END };
		else if (idle >= c->o.idle_ns)
			rm[nrm++] = (struct removal){ *k, ACCT_IDLE };
		else if (s->start_ns && s->start_ns <= now &&
			 now - s->start_ns >= c->o.active_ns)
			emit(c, s, f, ACCT_ACTIVE);
		/* Idle by the next sweep, if it comes as long after this one. */
		if (idle < limit)
			c->due += idle + (c->t0 - c->prev_t0) >= limit;
	}
	/* Entries not in this scan were evicted (or removed by others);
	 * a scan cut short proves nothing about the entries it missed.  When
	 * the scan saw every tracked entry, there is nothing to look for. */
	for (i = 0; i < c->t.cap && !c->truncated && seen < c->t.n;) {
		struct fstate *s = &c->t.slots[i];

		if (s->gen && s->gen != c->gen) {
			evicted(c, s);
			ft_remove(&c->t, s);
			continue; /* the shift may have filled slot i */
		}
		i++;
	}
	t_scan = mono_now_ns();
	remove_all(c, rm, nrm);
	for (i = 0; i < nrm; i++) {
		struct fstate *s = ft_find(&c->t, &rm[i].key);

		if (s)
			report_removal(c, s, &rm[i]);
	}
	res->remove_ns += mono_now_ns() - t_scan;
	/*
	 * Created but neither accounted nor in the map: evicted.  A flow
	 * being created right now can be in the map before it is counted,
	 * which only lowers the result for a moment; never lowered here.
	 */
	evicted_now = (__s64)created - (__s64)c->acct.flows_accounted -
		      (__s64)c->live;
	if (!c->truncated && evicted_now > (__s64)c->acct.flows_evicted) {
		pr_warn("%s: %llu more flows evicted from the full flow map (%lld in all); raise --flows on attach or shorten the timeouts\n",
			c->ifname,
			(unsigned long long)(evicted_now -
					     c->acct.flows_evicted),
			(long long)evicted_now);
		c->acct.flows_evicted = evicted_now;
	}
	c->acct.flows_created = created;
	c->acct.flows_live = c->live;
	c->acct.sweeps++;
	for (i = 0; i < (size_t)c->nsinks; i++)
		c->sinks[i]->flush(c->sinks[i]);
out:
	free(rm);
	c->prev_t0 = c->t0;
	c->acct.last_sweep_ns = mono_now_ns();
	res->total_ns = c->acct.last_sweep_ns - c->t0;
	publish(c);
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
	if (s && c->nsinks < (int)(sizeof(c->sinks) / sizeof(c->sinks[0])))
		c->sinks[c->nsinks++] = s;
	else if (s)
		s->close(s);
}

static int check_acct_fd(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	return info.value_size == sizeof(struct flowbpf_acct) ? 0 : -EPROTO;
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
	if (!c)
		return NULL;
	snprintf(c->ifname, sizeof(c->ifname), "%s", ifname);
	c->flows_fd = flows_fd;
	c->expire_fd = c->expired_fd = -1;
	c->stats_fd = stats_fd;
	c->acct_fd = acct_fd;
	c->lock_fd = -1;
	c->o = *o;
	c->batch = !o->no_batch;
	c->lookup_delete = true;
	/* LRU maps hold at most max_entries; the rest is for churn. */
	c->cap = (size_t)info.max_entries + info.max_entries / 8 + 1024;
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
	if (check_acct_fd(acct_fd)) {
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
	/* The collector keeps these; the handle's other fds are not needed. */
	h.fd[FB_MAP_FLOWS] = h.fd[FB_MAP_STATS] = h.fd[FB_MAP_ACCT] = -1;
	h.fd[FB_PROG_EXPIRE] = h.fd[FB_MAP_EXPIRED] = -1;
	flowbpf_close(&h);
	c->own_fds = true;
	c->ifindex = h.cfg.ifindex;
	c->lock_fd = lock_fd;
	c->acct.collector_pid = getpid();
	publish(c);
	return c;
}

void collector_free(struct collector *c)
{
	int i;

	if (!c)
		return;
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
	err = check_acct_fd(fd);
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
