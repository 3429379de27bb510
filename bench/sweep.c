// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Part 5: an expiry sweep over 1 000 000 flows, as a userspace sweeper
 * would run it: read every flow, pick those idle longer than the idle
 * timeout, delete them.  A flow is one entry of one map (verdict and
 * counters together), so a sweep deletes once per expired flow.  Batch
 * (BPF_MAP_LOOKUP_BATCH, BPF_MAP_DELETE_BATCH) against per element
 * (get_next_key + lookup, then delete one by one).  Wall-clock time of the
 * whole sweep; a fresh map, loaded with BPF_MAP_UPDATE_BATCH, for each.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "bench.h"
#include "flowbpf.h"
#include "flowbpf.skel.h"
#include "loader.h"

#define SEC_SWEEP "sweep"
#define FLOWS 1000000U
#define CHUNK 16384U
#define IDLE_NS (60ULL * 1000000000ULL)

/* Printed if the target is missed. */
#define WHY_SWEEP                                                               \
	"each removal still takes the bucket lock and puts the node back on "  \
	"the LRU free list under that list's lock, inside the kernel; the "    \
	"expiry-program row shows that part alone, the rest is the walk of "   \
	"the buckets and draining the records"

struct maps {
	struct flowbpf *skel;
	int flows;
};

/* Idle since before cutoff (ticks wrap: compare by difference). */
static bool expired(const struct flowbpf_flow *f, __u32 cutoff)
{
	return (__s32)(f->last - cutoff) < 0;
}

/* The datapath's maps, the flow map at 2^20 entries, so that 1M flows
 * fit without eviction. */
static void maps_open(struct maps *m)
{
	struct bpf_program *p;
	int err;

	m->skel = flowbpf__open();
	if (!m->skel)
		die("flowbpf__open: %s", strerror(errno));
	bpf_object__for_each_program(p, m->skel->obj)
		bpf_program__set_autoload(p, false);
	bpf_program__set_autoload(m->skel->progs.flowbpf_expire, true);
	bpf_map__set_max_entries(m->skel->maps.flows, 1U << 20);
	bpf_map__set_max_entries(m->skel->maps.expired,
				 flowbpf_expired_ring_size(1U << 20));
	err = flowbpf__load(m->skel);
	if (err)
		die("flowbpf__load: %s", strerror(-err));
	m->flows = bpf_map__fd(m->skel->maps.flows);
}

static void delete_batch(int fd, struct flowbpf_key *keys, __u32 n)
{
	__u32 done = 0, cnt;

	while (done < n) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);

		cnt = n - done < CHUNK ? n - done : CHUNK;
		if (bpf_map_delete_batch(fd, keys + done, &cnt, &o))
			die("delete batch: %s", strerror(errno));
		done += cnt;
	}
}

/* Reads the whole map in batches; the expired keys into exp. */
static __u32 read_batch(struct maps *m, __u32 cutoff, struct flowbpf_key *exp)
{
	static struct flowbpf_key keys[CHUNK];
	static struct flowbpf_flow vals[CHUNK];
	char in[64], out[64];
	__u32 n, i, found = 0;
	bool first = true;
	int err;

	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);

		n = CHUNK;
		err = bpf_map_lookup_batch(m->flows, first ? NULL : in, out,
					   keys, vals, &n, &o);
		if (err && errno != ENOENT)
			die("lookup batch: %s", strerror(errno));
		for (i = 0; i < n; i++)
			if (expired(&vals[i], cutoff))
				exp[found++] = keys[i];
		if (err)
			break;
		memcpy(in, out, sizeof(in));
		first = false;
	}
	return found;
}

static __u32 sweep_batch(struct maps *m, __u32 cutoff,
			 struct flowbpf_key *exp, __u64 *read_done)
{
	__u32 found = read_batch(m, cutoff, exp);

	*read_done = mono_ns();
	delete_batch(m->flows, exp, found);
	return found;
}

static void count_expired(void *ctx, const struct flowbpf_expired *e)
{
	(*(__u32 *)ctx)++;
}

/*
 * What the collector does: the expiry program removes the idle entries
 * in the kernel (its records drained by a thread meanwhile), then the
 * rest is read in batches.  The "read phase" is the in-kernel part.
 */
static __u32 sweep_kernel(struct maps *m, __u32 cutoff,
			  struct flowbpf_key *exp, __u64 *read_done)
{
	__u32 found = 0;
	__u64 n;

	if (flowbpf_expire(bpf_program__fd(m->skel->progs.flowbpf_expire),
			   bpf_map__fd(m->skel->maps.expired), cutoff, cutoff,
			   count_expired, &found, &n))
		die("in-kernel sweep: %s", strerror(errno));
	*read_done = mono_ns();
	if (read_batch(m, cutoff, exp))
		die("in-kernel sweep left expired flows");
	return found;
}

static __u32 sweep_each(struct maps *m, __u32 cutoff, struct flowbpf_key *exp,
			__u64 *read_done)
{
	struct flowbpf_key cur, next;
	struct flowbpf_flow v;
	__u32 found = 0, i;
	void *prev = NULL;

	while (!bpf_map_get_next_key(m->flows, prev, &next)) {
		if (!bpf_map_lookup_elem(m->flows, &next, &v) &&
		    expired(&v, cutoff))
			exp[found++] = next;
		cur = next;
		prev = &cur;
	}
	*read_done = mono_ns();
	for (i = 0; i < found; i++)
		if (bpf_map_delete_elem(m->flows, &exp[i]))
			die("delete: %s", strerror(errno));
	return found;
}

/* Seconds for the whole sweep and for its read phase, method 0 batch,
 * 1 per element, 2 in the kernel, on a fresh map with pct% of FLOWS
 * expired. */
static void sweep_once(int method, int pct, struct flowbpf_key *exp,
		       double *total, double *read)
{
	struct maps m;
	__u64 t0, t1;
	__u32 got, cutoff;

	maps_open(&m);
	bench_preload(m.flows, FLOWS, pct);
	cutoff = flowbpf_ns_tick(mono_ns() - IDLE_NS);
	t0 = mono_ns();
	got = method == 2   ? sweep_kernel(&m, cutoff, exp, &t1)
	      : method == 1 ? sweep_each(&m, cutoff, exp, &t1)
			    : sweep_batch(&m, cutoff, exp, &t1);
	*total = (mono_ns() - t0) / 1e9;
	*read = (t1 - t0) / 1e9;
	if (got != FLOWS / 100 * pct)
		die("sweep found %u expired flows, not %u", got,
		    FLOWS / 100 * pct);
	flowbpf__destroy(m.skel);
}

/* One row named "<what>, <pct>% expired". */
static void emit_at(const char *what, int pct, int r, double v,
		    const char *unit)
{
	char name[96];

	snprintf(name, sizeof(name), "%s, %d%% expired", what, pct);
	emit_row(SEC_SWEEP, name, r, v, unit);
}

static void emit_pct(int r, int pct, const double t[3], const double rd[3])
{
	emit_at("in kernel (the collector's)", pct, r, t[2], "s");
	emit_at("in kernel, expiry program only", pct, r, rd[2], "s");
	emit_at("batch", pct, r, t[0], "s");
	emit_at("per-element", pct, r, t[1], "s");
	emit_at("per-element/batch", pct, r, t[1] / t[0], "x");
	emit_at("batch, read phase only", pct, r, rd[0], "s");
	emit_at("per-element, read phase only", pct, r, rd[1], "s");
}

int cmd_sweep(int argc, char **argv)
{
	static const int pcts[] = { 1, 50, 100 };
	struct flowbpf_key *exp = calloc(FLOWS, sizeof(*exp));
	int r, i, method;

	if (!exp)
		die("out of memory");
	emit_target(SEC_SWEEP, "in kernel (the collector's), 100% expired",
		    "le", 1, "sweep of 1M flows, all expired, <= 1 s", WHY_SWEEP);
	emit_note(SEC_SWEEP,
		  "1 000 000 flows in a flow map of 2^20 entries; batch and per element: a sweep reads every flow and deletes the expired ones (one delete per flow: one map holds verdict and counters), batches of %u; in kernel: the collector's sweep, the expiry program (bpf_for_each_map_elem in a BPF_PROG_TYPE_SYSCALL program) removes the expired ones and hands them over in a ring drained meanwhile by a thread, then the rest is read in batches; wall-clock time",
		  CHUNK);

	for (r = 1; r <= bench_rounds; r++) {
		fprintf(stderr, "bench sweep: round %d/%d\n", r, bench_rounds);
		for (i = 0; i < 3; i++) {
			double t[3], rd[3];

			for (method = 0; method < 3; method++)
				sweep_once(method, pcts[i], exp, &t[method],
					   &rd[method]);
			emit_pct(r, pcts[i], t, rd);
		}
	}
	free(exp);
	return 0;
}
