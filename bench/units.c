// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Part 8: accounting by unit.  The cost of writing records to the totals
 * (per record, and per sweep that reports every flow of a map of 100 000
 * and of 1 000 000 flows), in SQLite and in a private PostgreSQL server;
 * the store's size per million records; and the time from the batch that
 * crosses a quota to the daemon's poll seeing the block.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "acct.h"
#include "bench.h"
#include "log.h"
#include "flowbpf.h"
#include "policy.h"

#define SEC "units"
#define BATCH \
	4096 /* the collector gives records to its sinks this many at once */

static const char bench_policy[] =
	"unit all { 10.0.0.0/8 }\n"
	"unit net0 { 10.0.0.0/16 }\nunit net1 { 10.1.0.0/16 }\n"
	"unit net2 { 10.2.0.0/16 }\nunit net3 { 10.3.0.0/16 }\n"
	"account all, net0, net1, net2, net3;\n"
	"class web proto tcp port 80,443 price 0.1;\n"
	"quota net0 limit 1G per day deny;\n";

static void record_of(struct acct_record *r, __u32 i, __u64 now_ms)
{
	memset(r, 0, sizeof(*r));
	r->key.family = 4;
	r->key.proto = 6;
	r->key.dir = FLOWBPF_DIR_EGRESS;
	r->key.saddr[3] = htonl(0x0a000000 | (i % 4) << 16 | (i / 4 % 65536));
	r->key.daddr[3] = htonl(0xc6120001);
	r->key.saddr[2] = r->key.daddr[2] = htonl(0xffff); /* IPv4-mapped */
	r->key.sport = htons(1024 + i / 262144);
	r->key.dport = htons(i % 3 ? 443 : 22);
	r->packets = 10;
	r->bytes = 10 * 1000;
	r->start_ms = now_ms - 1000;
	r->end_ms = now_ms;
	r->first_tick = i;
	r->ifname = "bench0";
}

/* Writes n records (one sweep that reports n flows) in batches. */
static double sweep_ns(struct acct_db *db, const struct policy *p, __u32 n,
		       struct acct_record *v)
{
	__u64 t0 = mono_ns(), now_ms = (__u64)time(NULL) * 1000;
	__u32 i, j;

	for (i = 0; i < n; i += BATCH) {
		__u32 m = n - i < BATCH ? n - i : BATCH;

		for (j = 0; j < m; j++)
			record_of(&v[j], i + j, now_ms);
		if (acct_write_batch(db, p, "bench", v, m))
			die("write: %s", acct_db_error(db));
	}
	return mono_ns() - t0;
}

static long long pg_size(struct acct_db *db);

static int size_row(void *ctx, int n, const char *const *v)
{
	*(long long *)ctx = v[0] ? atoll(v[0]) : 0;
	return 0;
}

static long long pg_size(struct acct_db *db)
{
	long long s = 0;

	acct_db_exec(
		db,
		"SELECT SUM(pg_total_relation_size(c.oid)) FROM pg_class c "
		"WHERE c.relname IN ('flows_seen', 'totals', 'quota_use', 'prices', 'quotas')",
		0, NULL, size_row, &s);
	return s;
}

static long long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : st.st_size;
}

/* A private PostgreSQL under dir (the selftests' way); 0 or -1. */
static int pg_start(const char *dir, char *dsn, size_t len)
{
	char cmd[1024];

	snprintf(
		cmd, sizeof(cmd),
		"b=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1) && chown postgres %s && "
		"runuser -u postgres -- $b/initdb -A trust -U postgres -D %s/data >/dev/null && "
		"runuser -u postgres -- $b/pg_ctl -D %s/data -l %s/log -w -t 30 "
		"-o \"-c listen_addresses='' -c unix_socket_directories=%s -p 5499\" start >/dev/null",
		dir, dir, dir, dir, dir);
	if (system(cmd))
		return -1;
	snprintf(dsn, len, "host=%s port=5499 dbname=postgres user=postgres",
		 dir);
	return 0;
}

static char pg_dir[64];

/* At exit too, so that a benchmark that dies leaves no server behind. */
static void pg_stop(void)
{
	const char *dir = pg_dir;
	char cmd[512];

	if (!pg_dir[0])
		return;

	snprintf(
		cmd, sizeof(cmd),
		"b=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1) && "
		"runuser -u postgres -- $b/pg_ctl -D %s/data -m fast -w stop >/dev/null",
		dir);
	if (system(cmd))
		fprintf(stderr, "bench: pg_ctl stop failed\n");
	pg_dir[0] = '\0';
}

/* From the commit of the batch that crosses the quota to the poll that
 * sees the block. */
static double quota_ns(const char *dsn, struct acct_db *db,
		       const struct policy *p, struct acct_record *v)
{
	struct quota_watch *w = quota_watch_new(dsn);
	__u64 now_ms = (__u64)time(NULL) * 1000, t0;
	__u32 j;

	/* From a quota not yet reached. */
	if (acct_db_exec(db, "DELETE FROM quota_use", 0, NULL, NULL, NULL))
		die("%s", acct_db_error(db));
	quota_watch_poll(w, p);
	for (j = 0; j < 1000; j++) {
		record_of(&v[j], 4 * (5000000 + j), now_ms);
		v[j].bytes = 2000000; /* 2 GB in all: over net0's 1G */
	}
	if (acct_write_batch(db, p, "bench", v, 1000))
		die("write: %s", acct_db_error(db));
	t0 = mono_ns();
	while (!quota_watch_poll(w, p))
		if (mono_ns() - t0 > 5000000000ULL)
			die("the quota never blocked");
	t0 = mono_ns() - t0;
	quota_watch_free(w);
	return t0;
}

static void run_backend(const char *name, const char *dsn, const char *file,
			const struct policy *p, int round)
{
	static const __u32 sizes[] = { 100000, 1000000 };
	struct acct_record *v = calloc(BATCH, sizeof(*v));
	char row[64];
	struct acct_db *db;
	size_t i;
	double ns;

	for (i = 0; i < 2; i++) {
		if (file) {
			unlink(file);
			snprintf(row, sizeof(row), "%s-wal", file);
			unlink(row);
		}
		if (acct_db_open(dsn, &db))
			die("%s", err_get());
		if (!file)
			acct_db_exec(db,
				     "TRUNCATE flows_seen, totals, quota_use",
				     0, NULL, NULL, NULL);
		ns = sweep_ns(db, p, sizes[i], v);
		snprintf(row, sizeof(row), "%s: sweep of %uk records", name,
			 sizes[i] / 1000);
		emit_row(SEC, row, round, ns / 1e6, "ms");
		snprintf(row, sizeof(row), "%s: per record (%uk)", name,
			 sizes[i] / 1000);
		emit_row(SEC, row, round, ns / sizes[i] / 1e3, "us");
		if (sizes[i] == 1000000) {
			long long sz;

			if (file) {
				acct_db_exec(db,
					     "PRAGMA wal_checkpoint(TRUNCATE)",
					     0, NULL, NULL, NULL);
				sz = file_size(file);
			} else {
				sz = pg_size(db);
			}
			snprintf(row, sizeof(row), "%s: store per 1M records",
				 name);
			emit_row(SEC, row, round, sz / 1048576.0, "MiB");
			snprintf(row, sizeof(row),
				 "%s: quota crossing to block seen", name);
			emit_row(SEC, row, round, quota_ns(dsn, db, p, v) / 1e6,
				 "ms");
		}
		acct_db_close(db);
	}
	free(v);
}

/* A benchmark stopped by a signal stops its server too (atexit). */
static void on_signal(int sig)
{
	exit(1);
}

int cmd_units(int argc, char **argv)
{
	char dir[] = "/tmp/flowbpf-bench-units-XXXXXX", file[96], dsn[256];
	struct policy *p = policy_parse("bench.conf", bench_policy);
	bool pg;
	int r;

	if (!p)
		die("%s", err_get());
	if (!mkdtemp(dir))
		die("mkdtemp: %s", strerror(errno));
	snprintf(file, sizeof(file), "%s/acct.db", dir);
	pg = !pg_start(dir, dsn, sizeof(dsn));
	if (pg) {
		snprintf(pg_dir, sizeof(pg_dir), "%s", dir);
		atexit(pg_stop);
		signal(SIGINT, on_signal);
		signal(SIGTERM, on_signal);
	}
	if (!pg)
		emit_note(SEC,
			  "PostgreSQL did not start: only SQLite measured");
	for (r = 0; r < bench_rounds; r++) {
		run_backend("SQLite", file, file, p, r);
		if (pg)
			run_backend("PostgreSQL", dsn, NULL, p, r);
	}
	emit_note(
		SEC,
		"Records of 5 accounted units (one group and its four members: two shares each) and 2 classes, written %d to a transaction as the collector gives them; the daemon polls the quotas once a second, so a block takes effect within a second of the poll below plus one evaluation of the live flows.",
		BATCH);
	pg_stop();
	policy_free(p);
	snprintf(dsn, sizeof(dsn), "rm -rf %s", dir);
	if (system(dsn))
		fprintf(stderr, "bench: cannot remove %s\n", dir);
	return 0;
}
