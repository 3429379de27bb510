// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Quotas: a quota's use is what the collectors of every gateway added to
 * it in the database for the current period.  The daemon polls it once a
 * second; a deny quota at its limit blocks its unit's flows (those of its
 * class and direction) until the period ends.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "acct.h"
#include "log.h"

static int use_row(void *ctx, int n, const char *const *v)
{
	*(__u64 *)ctx = v[0] ? strtoull(v[0], NULL, 10) : 0;
	return 0;
}

int acct_quota_status(struct acct_db *db, const struct policy *p,
		      const struct acct_quota *q, time_t now,
		      struct quota_status *st)
{
	char name[300];
	struct acct_val v[2];
	int err, i;

	memset(st, 0, sizeof(*st));
	acct_quota_name(p, q, name, sizeof(name));
	st->start = acct_period_start(q->period, q->period_s, now);
	st->reset = acct_period_next(q->period, q->period_s, now);
	v[0] = AVS(name);
	v[1] = AVI(st->start);
	err = acct_db_exec(
		db, "SELECT bytes FROM quota_use WHERE quota = ? AND start = ?",
		2, v, use_row, &st->used);
	if (err)
		return err;
	for (i = 0; i < q->nsoft; i++)
		if (st->used * 100 >= (__u64)q->soft[i] * q->limit)
			st->soft_level = i + 1;
	if (st->used >= q->limit)
		st->state = q->warn_only ? QUOTA_WARN : QUOTA_BLOCKED;
	else if (st->soft_level)
		st->state = QUOTA_SOFT;
	return 0;
}

struct qw_entry {
	time_t start; /* the period last seen */
	int state, soft_level;
};

struct quota_watch {
	char *dsn;
	struct acct_db *db;
	struct qw_entry *q;
	size_t nq;
	const struct policy *pol; /* the one q is for */
	__u64 blocks, soft_warnings, db_errors;
	bool failing;
	time_t retry_at; /* no new connection before */
};

/* How long a daemon waits to connect again to a store that failed: the
 * poll runs in its loop, and a connect may take its timeout. */
#define QW_RETRY_S 10

struct quota_watch *quota_watch_new(const char *dsn)
{
	struct quota_watch *w = calloc(1, sizeof(*w));

	if (!w || !(w->dsn = strdup(dsn))) {
		free(w);
		return NULL;
	}
	return w;
}

void quota_watch_free(struct quota_watch *w)
{
	if (!w)
		return;
	acct_db_close(w->db);
	free(w->q);
	free(w->dsn);
	free(w);
}

static bool qw_connect(struct quota_watch *w)
{
	if (w->db && acct_db_usable(w->db))
		return true;
	if (time(NULL) < w->retry_at)
		return false;
	acct_db_close(w->db);
	w->db = NULL;
	if (acct_db_open(w->dsn, &w->db)) {
		w->db_errors++;
		w->retry_at = time(NULL) + QW_RETRY_S;
		if (!w->failing)
			pr_warn("warning: quotas: %s; the blocks stand, trying again every %ds\n",
				err_get(), QW_RETRY_S);
		w->failing = true;
		return false;
	}
	return true;
}

/* Logs what changed in quota i; true when a block began or ended. */
static bool qw_update(struct quota_watch *w, const struct policy *p, size_t i,
		      const struct quota_status *st)
{
	struct qw_entry *e = &w->q[i];
	char name[300];
	bool was = e->state == QUOTA_BLOCKED, now;

	acct_quota_name(p, &p->quotas[i], name, sizeof(name));
	if (e->start != st->start)
		e->soft_level = 0;
	if (st->soft_level > e->soft_level) {
		w->soft_warnings++;
		pr_warn("warning: quota %s: %u%% of %llu bytes used\n", name,
			p->quotas[i].soft[st->soft_level - 1],
			(unsigned long long)p->quotas[i].limit);
	}
	e->soft_level = st->soft_level;
	if (st->state != e->state && st->state >= QUOTA_WARN)
		pr_warn("warning: quota %s: limit of %llu bytes reached (%llu used)%s\n",
			name, (unsigned long long)p->quotas[i].limit,
			(unsigned long long)st->used,
			st->state == QUOTA_BLOCKED ? "; its flows are denied"
						   : "");
	now = st->state == QUOTA_BLOCKED;
	if (was && !now)
		pr_info("info: quota %s: block lifted\n", name);
	if (!was && now)
		w->blocks++;
	e->state = st->state;
	e->start = st->start;
	return was != now;
}

bool quota_watch_poll(struct quota_watch *w, const struct policy *p)
{
	struct quota_status st;
	bool changed = false;
	time_t now = time(NULL);
	size_t i;

	if (w->pol != p || w->nq != p->nquotas) {
		/* A new policy: its quotas start from what the store says. */
		for (i = 0; i < w->nq; i++)
			changed |= w->q[i].state == QUOTA_BLOCKED;
		free(w->q);
		w->q = calloc(p->nquotas ? p->nquotas : 1, sizeof(*w->q));
		w->nq = w->q ? p->nquotas : 0;
		w->pol = p;
	}
	if (!w->nq || !qw_connect(w))
		return changed;
	for (i = 0; i < w->nq; i++) {
		if (acct_quota_status(w->db, p, &p->quotas[i], now, &st)) {
			w->db_errors++;
			if (!w->failing)
				pr_warn("warning: quotas: %s\n",
					acct_db_error(w->db));
			w->failing = true;
			/* A block stands while the store cannot be asked. */
			return changed;
		}
		changed |= qw_update(w, p, i, &st);
	}
	w->failing = false;
	return changed;
}

bool quota_watch_blocks(const struct quota_watch *w, const struct policy *p,
			const struct flowbpf_key *k)
{
	size_t i;
	int side;

	if (!w || w->pol != p)
		return false;
	for (i = 0; i < w->nq; i++) {
		const struct acct_quota *q = &p->quotas[i];
		const struct addrset *set = &p->units[q->unit].set;

		if (w->q[i].state != QUOTA_BLOCKED)
			continue;
		/* side 1: the unit is the source (its out), 0: its in. */
		for (side = 0; side < 2; side++) {
			if (q->dir >= 0 &&
			    q->dir != (side ? ACCT_OUT : ACCT_IN))
				continue;
			if (!addrset_contains(set, k->family,
					      key_addr128(k, side)))
				continue;
			if (q->cls < 0 || acct_class_of(p, k, side) == q->cls)
				return true;
		}
	}
	return false;
}

void quota_watch_reset(struct quota_watch *w)
{
	w->pol = NULL;
}

void quota_watch_counts(const struct quota_watch *w, __u64 *blocks,
			__u64 *soft_warnings, __u64 *db_errors)
{
	*blocks = w ? w->blocks : 0;
	*soft_warnings = w ? w->soft_warnings : 0;
	*db_errors = w ? w->db_errors : 0;
}
