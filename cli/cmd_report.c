// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * flowbpf report: the totals of the accounted units for a period, from the
 * accounting store (docs/units.md), units with the most traffic first,
 * with their charges when classes have prices.
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

struct report_args {
	const char *db, *unit, *from, *to;
	__u32 period;
	bool csv;
};

static const struct name_value period_names[] = {
	{ "minute", PERIOD_MINUTE },
	{ "hour", PERIOD_HOUR },
	{ "day", PERIOD_DAY },
	{ "month", PERIOD_MONTH },
	{},
};

#define REPORT_FIELD(m) PARAM_FIELD(struct report_args, m)

static const struct param report_params[] = {
	{ "db", 0, P_STR, REPORT_FIELD(db), .arg = "DSN",
	  .help = "SQLite file or PostgreSQL connection string",
	  .dflt = ACCT_DB_DEFAULT },
	{ "unit", 'u', P_STR, REPORT_FIELD(unit), .arg = "UNIT",
	  .help = "only this unit", .dflt = "every unit" },
	{ "period", 0, P_ENUM, REPORT_FIELD(period), .names = period_names,
	  .help = "the roll-up to report (the current one without --from)" },
	{ "from", 0, P_STR, REPORT_FIELD(from), .arg = "TIME",
	  .help = "from this local time: YYYY-MM-DD[ HH:MM] or @EPOCH",
	  .dflt = "the start of the current period" },
	{ "to", 0, P_STR, REPORT_FIELD(to), .arg = "TIME",
	  .help = "up to (not including) this time", .dflt = "its end" },
	{ "csv", 0, P_FLAG, REPORT_FIELD(csv),
	  .help = "CSV instead of a table" },
	{},
};

/* One unit's class, in and out. */
struct rrow {
	char unit[128], cls[128];
	__u64 pk[2], by[2]; /* [ACCT_IN], [ACCT_OUT] */
	double price; /* < 0: none */
	__u64 unit_bytes; /* the unit's whole traffic, for the order */
};

struct rtab {
	struct rrow *v;
	size_t n, cap;
};

static int time_arg(const char *s, time_t *t)
{
	struct tm tm = {};
	char *end;

	if (s[0] == '@') {
		*t = strtoll(s + 1, &end, 10);
		return *end || end == s + 1 ? -EINVAL : 0;
	}
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end && *end)
		end = strptime(end, " %H:%M", &tm);
	if (!end || *end)
		return -EINVAL;
	tm.tm_isdst = -1;
	*t = mktime(&tm);
	return 0;
}

static int row_cb(void *ctx, int n, const char *const *v)
{
	struct rtab *t = ctx;
	int dir = !strcmp(v[2], "out") ? ACCT_OUT : ACCT_IN;
	struct rrow *r = t->n ? &t->v[t->n - 1] : NULL;

	if (!r || strcmp(r->unit, v[0]) || strcmp(r->cls, v[1])) {
		r = array_room(t->v, &t->cap, t->n, sizeof(*t->v), 64);
		if (!r)
			return -ENOMEM;
		t->v = r;
		r = &t->v[t->n++];
		memset(r, 0, sizeof(*r));
		snprintf(r->unit, sizeof(r->unit), "%s", v[0]);
		snprintf(r->cls, sizeof(r->cls), "%s", v[1]);
		r->price = v[5] ? strtod(v[5], NULL) : -1;
	}
	r->pk[dir] = strtoull(v[3], NULL, 10);
	r->by[dir] = strtoull(v[4], NULL, 10);
	return 0;
}

static int rrow_cmp(const void *a, const void *b)
{
	const struct rrow *x = a, *y = b;

	if (x->unit_bytes != y->unit_bytes)
		return x->unit_bytes < y->unit_bytes ? 1 : -1;
	if (strcmp(x->unit, y->unit))
		return strcmp(x->unit, y->unit);
	return strcmp(x->cls, y->cls);
}

/* Top units first: each row gets its unit's whole traffic. */
static void order(struct rtab *t)
{
	size_t i, j;

	for (i = 0; i < t->n; i++) {
		__u64 sum = 0;

		for (j = 0; j < t->n; j++)
			if (!strcmp(t->v[j].unit, t->v[i].unit))
				sum += t->v[j].by[0] + t->v[j].by[1];
		t->v[i].unit_bytes = sum;
	}
	qsort(t->v, t->n, sizeof(*t->v), rrow_cmp);
}

static double charge(const struct rrow *r)
{
	return r->price < 0 ? 0 : (r->by[0] + r->by[1]) / 1e9 * r->price;
}

static json_t *dir_json(const struct rrow *r, int dir)
{
	return json_pack("{s:I, s:I}", "packets", (json_int_t)r->pk[dir],
			 "bytes", (json_int_t)r->by[dir]);
}

static void print_json(const struct rtab *t, const char *period, time_t from,
		       time_t to)
{
	json_t *units = json_array(), *u = NULL, *classes = NULL;
	double sum = 0;
	size_t i;

	for (i = 0; i < t->n; i++) {
		const struct rrow *r = &t->v[i];

		if (!i || strcmp(r->unit, t->v[i - 1].unit)) {
			if (u)
				json_object_set_new(u, "charge",
						    json_real(sum));
			classes = json_array();
			u = json_pack("{s:s, s:I, s:o}", "unit", r->unit,
				      "bytes", (json_int_t)r->unit_bytes,
				      "classes", classes);
			json_array_append_new(units, u);
			sum = 0;
		}
		sum += charge(r);
		json_array_append_new(
			classes,
			json_pack("{s:s, s:o, s:o, s:o}", "class", r->cls, "in",
				  dir_json(r, ACCT_IN), "out",
				  dir_json(r, ACCT_OUT), "charge",
				  r->price < 0 ? json_null()
					       : json_real(charge(r))));
	}
	if (u)
		json_object_set_new(u, "charge", json_real(sum));
	json_out(json_pack("{s:s, s:I, s:I, s:o}", "period", period, "from",
			   (json_int_t)from, "to", (json_int_t)to, "units",
			   units));
}

static void print_row(const struct rrow *r, const char *cls, bool priced)
{
	char b[4][32];

	human_count(r->pk[0], b[0], sizeof(b[0]));
	human_bytes(r->by[0], b[1], sizeof(b[1]));
	human_count(r->pk[1], b[2], sizeof(b[2]));
	human_bytes(r->by[1], b[3], sizeof(b[3]));
	printf("%-16s %-12s %10s %10s %10s %10s ", r->unit, cls, b[0], b[1],
	       b[2], b[3]);
	if (!priced)
		printf("%10s\n", "-");
	else
		printf("%10.4f\n", r->price);
}

/* One line per class, and a line of the unit's sum when it has several:
 * its charge for the period. */
static void print_table(const struct rtab *t, bool csv)
{
	struct rrow sum = {};
	bool priced = false;
	size_t i, n = 0;

	if (csv)
		printf("unit,class,packets_in,bytes_in,packets_out,bytes_out,charge\n");
	else
		printf("%-16s %-12s %10s %10s %10s %10s %10s\n", "UNIT",
		       "CLASS", "IN-PKTS", "IN", "OUT-PKTS", "OUT", "CHARGE");
	for (i = 0; i < t->n; i++) {
		struct rrow r = t->v[i];

		if (csv) {
			printf("%s,%s,%llu,%llu,%llu,%llu,%.4f\n", r.unit,
			       r.cls, (unsigned long long)r.pk[0],
			       (unsigned long long)r.by[0],
			       (unsigned long long)r.pk[1],
			       (unsigned long long)r.by[1], charge(&r));
			continue;
		}
		if (!n)
			sum = (struct rrow){}, priced = false;
		snprintf(sum.unit, sizeof(sum.unit), "%s", r.unit);
		sum.pk[0] += r.pk[0], sum.pk[1] += r.pk[1];
		sum.by[0] += r.by[0], sum.by[1] += r.by[1];
		sum.price += charge(&r);
		priced |= r.price >= 0;
		n++;
		r.price = charge(&r);
		print_row(&r, r.cls, t->v[i].price >= 0);
		if (i + 1 < t->n && !strcmp(t->v[i + 1].unit, r.unit))
			continue;
		if (n > 1)
			print_row(&sum, "(all)", priced);
		n = 0;
	}
}

static int query(struct acct_db *db, const struct report_args *a, time_t from,
		 time_t to, struct rtab *t)
{
	struct acct_val v[4] = { AVS(name_of(period_names, a->period, "")),
				 AVI(from), AVI(to),
				 AVS(a->unit ? a->unit : "") };

	return acct_db_exec(
		db,
		"SELECT t.unit, t.class, t.dir, SUM(t.packets), SUM(t.bytes), "
		"MAX(p.per_gb) FROM totals t LEFT JOIN prices p ON p.class = t.class "
		"WHERE t.period = ? AND t.start >= ? AND t.start < ? "
		"AND (t.unit = ? OR ? = '') GROUP BY t.unit, t.class, t.dir "
		"ORDER BY t.unit, t.class, t.dir",
		5, (struct acct_val[]){ v[0], v[1], v[2], v[3], v[3] }, row_cb,
		t);
}

int cmd_report(int argc, char **argv)
{
	struct report_args a = { .db = ACCT_DB_DEFAULT, .period = PERIOD_DAY };
	struct acct_db *db = NULL;
	struct rtab t = {};
	time_t now = time(NULL), from, to;
	int rc, ret = EXIT_FAIL;

	if (!PARAMS_PARSE(report_params, &a, argc, argv, NULL, &rc))
		return rc;
	if (optind != argc)
		return cli_usage_error("report takes no arguments");
	from = acct_period_start(a.period, 0, now);
	to = acct_period_next(a.period, 0, now);
	if (a.from && time_arg(a.from, &from))
		return cli_usage_error("invalid --from '%s'", a.from);
	if (a.to && time_arg(a.to, &to))
		return cli_usage_error("invalid --to '%s'", a.to);
	if (a.from && !a.to)
		to = now + 1;
	if (a.csv && env.json)
		return cli_usage_error("--csv and -j exclude each other");
	if (acct_db_open(a.db, &db))
		return cli_error(EXIT_FAIL, "%s", err_get());
	if (query(db, &a, from, to, &t)) {
		ret = cli_error(EXIT_FAIL, "%s", acct_db_error(db));
		goto out;
	}
	order(&t);
	if (env.json)
		print_json(&t, name_of(period_names, a.period, ""), from, to);
	else
		print_table(&t, a.csv);
	ret = EXIT_OK;
out:
	free(t.v);
	acct_db_close(db);
	return ret;
}
