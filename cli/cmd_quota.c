// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * flowbpf quota: each quota of the accounting store (written there by the
 * collectors from their policy), with its use in the current period over
 * every gateway, its limit, its state and when it resets.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "array.h"
#include "log.h"
#include "acct.h"
#include "cli.h"
#include "flowfmt.h"
#include "params.h"

struct quota_args {
	const char *db;
};

static const struct param quota_params[] = {
	{ "db", 0, P_STR, PARAM_FIELD(struct quota_args, db), .arg = "DSN",
	  .help = "SQLite file or PostgreSQL connection string",
	  .dflt = ACCT_DB_DEFAULT },
	{},
};

struct qrow {
	char name[300], unit[128], cls[128], dir[8], per[32], action[8],
		soft[64];
	__u64 limit, used;
	time_t start, reset;
	const char *state;
};

struct qtab {
	struct qrow *v;
	size_t n, cap;
};

static int qrow_cb(void *ctx, int n, const char *const *v)
{
	struct qtab *t = ctx;
	struct qrow *r;

	r = array_room(t->v, &t->cap, t->n, sizeof(*t->v), 16);
	if (!r)
		return -ENOMEM;
	t->v = r;
	r = &t->v[t->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "%s", v[0]);
	snprintf(r->unit, sizeof(r->unit), "%s", v[1]);
	snprintf(r->cls, sizeof(r->cls), "%s", v[2]);
	snprintf(r->dir, sizeof(r->dir), "%s", v[3]);
	snprintf(r->per, sizeof(r->per), "%s", v[4]);
	r->limit = strtoull(v[5], NULL, 10);
	snprintf(r->action, sizeof(r->action), "%s", v[6]);
	snprintf(r->soft, sizeof(r->soft), "%s", v[7]);
	return 0;
}

static int used_cb(void *ctx, int n, const char *const *v)
{
	*(__u64 *)ctx = v[0] ? strtoull(v[0], NULL, 10) : 0;
	return 0;
}

/* The state the daemon acts on, from the use and the thresholds. */
static const char *state_of(const struct qrow *r)
{
	const char *s = r->soft;
	bool soft = false;

	if (r->used >= r->limit)
		return strcmp(r->action, "warn") ? "blocked" : "exceeded";
	while (*s) {
		unsigned long pct = strtoul(s, (char **)&s, 10);

		soft |= r->used * 100 >= pct * r->limit;
		s += strspn(s, "%,");
	}
	return soft ? "soft" : "ok";
}

static int fill(struct acct_db *db, struct qrow *r, time_t now)
{
	static const char *const names[] = { "minute", "hour", "day", "week",
					     "month" };
	int period = PERIOD_SECONDS;
	__u64 secs = 0, ns;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(r->per, names[i]))
			period = i;
	if (period == PERIOD_SECONDS) {
		if (duration_parse(r->per, &ns) || ns < 1000000000ULL)
			return -EINVAL;
		secs = ns / 1000000000ULL;
	}
	r->start = acct_period_start(period, secs, now);
	r->reset = acct_period_next(period, secs, now);
	r->used = 0;
	if (acct_db_exec(
		    db,
		    "SELECT bytes FROM quota_use WHERE quota = ? AND start = ?",
		    2, (struct acct_val[]){ AVS(r->name), AVI(r->start) },
		    used_cb, &r->used))
		return -EIO;
	r->state = state_of(r);
	return 0;
}

static void print(const struct qtab *t)
{
	char used[32], lim[32], reset[32];
	struct tm tm;
	size_t i;

	if (env.json) {
		json_t *arr = json_array();

		for (i = 0; i < t->n; i++) {
			const struct qrow *r = &t->v[i];

			json_array_append_new(
				arr,
				json_pack(
					"{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:s, s:I, s:I}",
					"quota", r->name, "unit", r->unit,
					"class", r->cls, "dir", r->dir,
					"period", r->per, "limit",
					(json_int_t)r->limit, "used",
					(json_int_t)r->used, "action",
					r->action, "soft", r->soft, "state",
					r->state, "start", (json_int_t)r->start,
					"reset", (json_int_t)r->reset));
		}
		json_out(json_pack("{s:o}", "quotas", arr));
		return;
	}
	printf("%-28s %10s %10s %6s %-6s %-8s %s\n", "QUOTA", "USED", "LIMIT",
	       "USE", "ACTION", "STATE", "RESETS");
	for (i = 0; i < t->n; i++) {
		const struct qrow *r = &t->v[i];

		human_bytes(r->used, used, sizeof(used));
		human_bytes(r->limit, lim, sizeof(lim));
		localtime_r(&r->reset, &tm);
		strftime(reset, sizeof(reset), "%Y-%m-%d %H:%M:%S", &tm);
		printf("%-28s %10s %10s %5.1f%% %-6s %-8s %s\n", r->name, used,
		       lim, 100.0 * r->used / r->limit, r->action, r->state,
		       reset);
	}
}

int cmd_quota(int argc, char **argv)
{
	struct quota_args a = { .db = ACCT_DB_DEFAULT };
	struct acct_db *db = NULL;
	time_t now = time(NULL);
	struct qtab t = {};
	int rc, ret = EXIT_FAIL;
	size_t i;

	if (!PARAMS_PARSE(quota_params, &a, argc, argv, NULL, &rc))
		return rc;
	if (optind != argc)
		return cli_usage_error("quota takes no arguments");
	if (acct_db_open(a.db, &db))
		return cli_error(EXIT_FAIL, "%s", err_get());
	if (acct_db_exec(
		    db,
		    "SELECT quota, unit, class, dir, period, limit_bytes, action, soft "
		    "FROM quotas ORDER BY quota",
		    0, NULL, qrow_cb, &t)) {
		ret = cli_error(EXIT_FAIL, "%s", acct_db_error(db));
		goto out;
	}
	for (i = 0; i < t.n; i++)
		if (fill(db, &t.v[i], now)) {
			ret = cli_error(EXIT_FAIL, "quota %s: %s", t.v[i].name,
					acct_db_error(db));
			goto out;
		}
	print(&t);
	ret = EXIT_OK;
out:
	free(t.v);
	acct_db_close(db);
	return ret;
}
