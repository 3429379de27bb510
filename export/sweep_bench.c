// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sweep-bench [FLOWS]: times collector sweeps over a flow map of FLOWS
 * entries (default 1000000), made here with the datapath's key and value
 * layout.  Four sweeps: the first sees every flow for the first time, the
 * second finds nothing to do, the third reports every flow as active, the
 * fourth removes every flow as idle.  Records go to a sink that only
 * counts them, so what is timed is the map access and the bookkeeping.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "collect.h"
#include "flowfmt.h"
#include "loader.h"
#include "log.h"

struct count_sink {
	struct acct_sink base;
	__u64 n;
};

static int count_write(struct acct_sink *s, const struct acct_record *r)
{
	((struct count_sink *)s)->n++;
	return 0;
}

static int count_flush(struct acct_sink *s)
{
	return 0;
}

static void count_close(struct acct_sink *s)
{
}

static int fill(int fd, __u32 n, __u64 last_ns)
{
	struct flowbpf_key *k = calloc(8192, sizeof(*k));
	struct flowbpf_flow *v = calloc(8192, sizeof(*v));
	__u32 i, j, cnt;
	int err = 0;

	if (!k || !v)
		return -ENOMEM;
	for (i = 0; i < n && !err; i += cnt) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);

		cnt = n - i < 8192 ? n - i : 8192;
		for (j = 0; j < cnt; j++) {
			__u32 id = i + j;

			memset(&k[j], 0, sizeof(k[j]));
			k[j].family = 4;
			k[j].proto = 6;
			k[j].saddr[2] = k[j].daddr[2] = htonl(0xffff);
			k[j].saddr[3] = htonl(0xc6120000 | (id >> 16));
			k[j].daddr[3] = htonl(0xc6130000 | (id & 0xffff));
			k[j].sport = htons(1024 + (id & 0x7fff));
			k[j].dport = htons(443);
			v[j] = (struct flowbpf_flow){
				.packets = 10,
				.bytes = 10000,
				.first = flowbpf_ns_tick(last_ns) - 1,
				.last = flowbpf_ns_tick(last_ns),
				.verdict = FLOWBPF_VERDICT_PASS,
				.source = FLOWBPF_SRC_DAEMON,
			};
		}
		err = bpf_map_update_batch(fd, k, v, &cnt, &opts);
	}
	free(k);
	free(v);
	return err;
}

/* Adds one packet to every flow, as traffic would between sweeps. */
static int touch(int fd, __u64 now)
{
	struct flowbpf_key *keys;
	struct flowbpf_flow *vals;
	size_t n, i;
	__u32 cnt;
	int err;

	err = flowbpf_map_dump(fd, sizeof(*keys), sizeof(*vals), (void **)&keys,
			       (void **)&vals, &n);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		vals[i].packets++;
		vals[i].bytes += 100;
		vals[i].last = flowbpf_ns_tick(now);
	}
	for (i = 0; i < n && !err; i += cnt) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);

		cnt = n - i < 8192 ? n - i : 8192;
		err = bpf_map_update_batch(fd, keys + i, vals + i, &cnt, &opts);
	}
	free(keys);
	free(vals);
	return err;
}

static void report(const char *what, const struct sweep_result *r,
		   __u64 records)
{
	printf("%-36s %8llu flows %8.1f ms (scan %6.1f ms, removal %7.1f ms) %8llu records %8llu removed\n",
	       what, (unsigned long long)r->scanned, r->total_ns / 1e6,
	       r->scan_ns / 1e6, r->remove_ns / 1e6,
	       (unsigned long long)records, (unsigned long long)r->removed);
}

int main(int argc, char **argv)
{
	LIBBPF_OPTS(bpf_map_create_opts, mopts);
	__u32 n = argc > 1 ? strtoul(argv[1], NULL, 0) : 1000000;
	struct count_sink sink = { .base = { "count", count_write, count_flush,
					     count_close } };
	struct collect_opts o;
	struct sweep_result r;
	struct collector *c;
	int flows, stats, ret = 1;
	__u64 before, now;

	log_setup(LOG_WARN);
	/* The datapath's flow map: LRU hash, same key and value. */
	flows = bpf_map_create(BPF_MAP_TYPE_LRU_HASH, "flows",
			       sizeof(struct flowbpf_key),
			       sizeof(struct flowbpf_flow), n + n / 8, &mopts);
	stats = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "stats", 4,
			       sizeof(struct flowbpf_stats), 1, &mopts);
	if (flows < 0 || stats < 0) {
		fprintf(stderr, "cannot create maps: %s (run as root)\n",
			strerror(errno));
		return 1;
	}
	now = mono_now_ns();
	if (fill(flows, n, now)) {
		fprintf(stderr, "cannot fill the map: %s\n", strerror(errno));
		return 1;
	}
	collect_opts_init(&o);
	o.idle_ns = 3600ULL * 1000000000; /* nothing idles by itself */
	o.active_ns = 3600ULL * 1000000000;
	c = collector_new_fds("bench", flows, stats, -1, &o);
	if (!c) {
		fprintf(stderr, "%s\n", err_get());
		return 1;
	}
	collector_add_sink(c, &sink.base);
	printf("sweeps of an LRU flow map of %u entries\n", n);

	if (collector_sweep(c, false, &r))
		goto out;
	report("first sweep (all flows new)", &r, sink.n);
	before = sink.n;
	if (collector_sweep(c, false, &r))
		goto out;
	report("steady sweep (nothing to report)", &r, sink.n - before);

	if (touch(flows, mono_now_ns()))
		goto out;
	collector_free(c);
	o.active_ns = 1; /* every flow that moved is due */
	c = collector_new_fds("bench", flows, stats, -1, &o);
	if (!c)
		goto out;
	collector_add_sink(c, &sink.base);
	collector_sweep(c, false, &r);
	before = sink.n;
	if (touch(flows, mono_now_ns()) || collector_sweep(c, false, &r))
		goto out;
	report("active sweep (every flow reported)", &r, sink.n - before);

	o.idle_ns = 1;
	collector_free(c);
	c = collector_new_fds("bench", flows, stats, -1, &o);
	if (!c)
		goto out;
	collector_add_sink(c, &sink.base);
	before = sink.n;
	if (collector_sweep(c, false, &r))
		goto out;
	report("expiring sweep (every flow removed)", &r, sink.n - before);
	ret = 0;
out:
	collector_free(c);
	return ret;
}
