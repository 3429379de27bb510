// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * report RESULTS: the results file (see bench.h) as Markdown tables, one
 * per section: median, min and max over the rounds of every row, then
 * the targets, each checked on its row's median, with the reason under
 * every missed one.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "bench.h"

#define MAXV 1024

struct row {
	char sec[16], name[160], unit[16];
	double v[MAXV];
	int n;
};

struct target {
	char sec[16], name[160], op[4], text[200], why[1024];
	double limit;
};

static struct row rows[512];
static struct target tgts[64];
static char notes[64][2][1024];
static int nrows, ntgts, nnotes;

static const struct {
	const char *id, *title;
} sections[] = {
	{ "pkt", "1. Per-packet cost (BPF_PROG_TEST_RUN)" },
	{ "tput", "2. Throughput over veth" },
	{ "decide", "3. Decision latency and 4. flow-setup rate" },
	{ "sweep", "5. Expiry sweep of 1 000 000 flows" },
	{ "mem", "6. Memory per flow" },
	{ "connect", "7. Time to connect (allowed flow, enforce mode)" },
	{ "units", "8. Accounting by unit (SQLite, PostgreSQL)" },
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const struct row *r)
{
	double s[MAXV];

	memcpy(s, r->v, r->n * sizeof(double));
	qsort(s, r->n, sizeof(double), cmp_double);
	return r->n % 2 ? s[r->n / 2] : (s[r->n / 2 - 1] + s[r->n / 2]) / 2;
}

static double vmin(const struct row *r)
{
	double m = r->v[0];
	int i;

	for (i = 1; i < r->n; i++)
		if (r->v[i] < m)
			m = r->v[i];
	return m;
}

static double vmax(const struct row *r)
{
	double m = r->v[0];
	int i;

	for (i = 1; i < r->n; i++)
		if (r->v[i] > m)
			m = r->v[i];
	return m;
}

/* Three or four significant digits, no exponent. */
static const char *num(double v, char *buf)
{
	double a = v < 0 ? -v : v;

	sprintf(buf,
		a >= 1000  ? "%.0f"
		: a >= 100 ? "%.1f"
		: a >= 10  ? "%.2f"
		: a >= 1   ? "%.3f"
			   : "%.4f",
		v);
	return buf;
}

static struct row *find_row(const char *sec, const char *name)
{
	int i;

	for (i = 0; i < nrows; i++)
		if (!strcmp(rows[i].sec, sec) && !strcmp(rows[i].name, name))
			return &rows[i];
	return NULL;
}

/* Splits line at tabs into at most max fields; returns the count. */
static int split(char *line, char **f, int max)
{
	int n = 0;

	line[strcspn(line, "\n")] = '\0';
	while (n < max) {
		f[n++] = line;
		line = strchr(line, '\t');
		if (!line)
			break;
		*line++ = '\0';
	}
	return n;
}

static void load(const char *path)
{
	static char line[4096];
	char *f[8];
	FILE *in = fopen(path, "r");
	int n;

	if (!in)
		die("cannot open %s", path);
	while (fgets(line, sizeof(line), in)) {
		n = split(line, f, 8);
		if (!strcmp(f[0], "row") && n >= 6) {
			struct row *r = find_row(f[1], f[2]);

			if (!r) {
				if (nrows ==
				    (int)(sizeof(rows) / sizeof(rows[0])))
					die("too many rows");
				r = &rows[nrows++];
				snprintf(r->sec, sizeof(r->sec), "%s", f[1]);
				snprintf(r->name, sizeof(r->name), "%s", f[2]);
				snprintf(r->unit, sizeof(r->unit), "%s", f[5]);
			}
			if (r->n < MAXV)
				r->v[r->n++] = atof(f[4]);
		} else if (!strcmp(f[0], "target") && n >= 6 &&
			   ntgts < (int)(sizeof(tgts) / sizeof(tgts[0]))) {
			struct target *t = &tgts[ntgts++];

			snprintf(t->sec, sizeof(t->sec), "%s", f[1]);
			snprintf(t->name, sizeof(t->name), "%s", f[2]);
			snprintf(t->op, sizeof(t->op), "%s", f[3]);
			t->limit = atof(f[4]);
			snprintf(t->text, sizeof(t->text), "%s", f[5]);
			snprintf(t->why, sizeof(t->why), "%s",
				 n > 6 ? f[6] : "");
		} else if (!strcmp(f[0], "note") && n >= 3 &&
			   nnotes < (int)(sizeof(notes) / sizeof(notes[0]))) {
			snprintf(notes[nnotes][0], sizeof(notes[0][0]), "%s",
				 f[1]);
			snprintf(notes[nnotes][1], sizeof(notes[0][1]), "%s",
				 f[2]);
			nnotes++;
		}
	}
	fclose(in);
}

/* 1 met, 0 missed, -1 not measured. */
static int check(const struct target *t, double *med)
{
	struct row *r = find_row(t->sec, t->name);

	if (!r)
		return -1;
	*med = median(r);
	return !strcmp(t->op, "le") ? *med <= t->limit : *med >= t->limit;
}

/* The NeTAMS table: throughput change against no filtering (TCP). */
static void netams(void)
{
	static const struct {
		const char *row, *label;
	} t[] = {
		{ "tcp: flowbpf monitor, --ingress tc / no program",
		  "flowbpf, monitor, tc ingress" },
		{ "tcp: flowbpf enforce (all pass), --ingress tc / no program",
		  "flowbpf, enforce (all pass), tc ingress" },
		{ "tcp: flowbpf monitor, XDP / no program",
		  "flowbpf, monitor, native XDP (veth: GSO off)" },
		{ "tcp: no-op XDP / no program",
		  "no-op XDP program (veth: GSO off)" },
		{ "tcp: NFQUEUE userspace verdict / no program",
		  "userspace verdict per packet (NFQUEUE)" },
	};
	char b1[32], b2[32], b3[32];
	size_t i;
	bool any = false;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		any |= find_row("tput", t[i].row) != NULL;
	if (!any)
		return;
	printf("### The NeTAMS table, redone\n\n"
	       "TCP throughput against no filtering (NeTAMS: kernel module -17.7%%, ipfw divert to a userspace daemon -87.2%%).\n\n"
	       "| path | change, median | min | max |\n|---|---:|---:|---:|\n");
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct row *r = find_row("tput", t[i].row);

		if (r)
			printf("| %s | %s%% | %s%% | %s%% |\n", t[i].label,
			       num((median(r) - 1) * 100, b1),
			       num((vmin(r) - 1) * 100, b2),
			       num((vmax(r) - 1) * 100, b3));
	}
	printf("\n");
}

static double vsum(const struct row *r)
{
	double s = 0;
	int i;

	for (i = 0; i < r->n; i++)
		s += r->v[i];
	return s;
}

static struct row *connect_row(const char *mode, const char *what)
{
	char name[160];

	snprintf(name, sizeof(name), "%s: %s", mode, what);
	return find_row("connect", name);
}

/* Part 7: one row per --pending mode instead of one per measurement. */
static void connect_table(void)
{
	static const char *const modes[] = { "pass", "drop", "hold" };
	char b1[32], b2[32], b3[32], b4[32], b5[32];
	size_t i;

	printf("| --pending | median | p90 | max | round medians (min - max) | with a retransmitted SYN | with a retransmitted SYN-ACK | failed | rounds |\n"
	       "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		struct row *med = connect_row(modes[i], "median"),
			   *p90 = connect_row(modes[i], "p90"),
			   *max = connect_row(modes[i], "max"),
			   *syn = connect_row(modes[i], "retransmitted SYN"),
			   *synack = connect_row(modes[i],
						 "retransmitted SYN-ACK"),
			   *conns = connect_row(modes[i], "connections"),
			   *fail = connect_row(modes[i], "failed");

		if (!conns)
			continue;
		printf("| %s | ", modes[i]);
		if (med && p90 && max)
			printf("%s µs | %s µs | %s µs | %s - %s µs | ",
			       num(median(med), b1), num(median(p90), b2),
			       num(vmax(max), b3), num(vmin(med), b4),
			       num(vmax(med), b5));
		else
			printf("- | - | - | - | ");
		printf("%.0f of %.0f | ", syn ? vsum(syn) : 0, vsum(conns));
		if (synack)
			printf("%.0f of %.0f | ", vsum(synack), vsum(conns));
		else
			printf("- | ");
		printf("%.0f | %d |\n", fail ? vsum(fail) : 0, conns->n);
	}
	printf("\n");
}

/* "≤ 50: met" for the row if a target names it, else "". */
static void row_target(const struct row *r, char *tg, size_t len)
{
	char b1[32];
	double med;
	int j, ok;

	tg[0] = '\0';
	for (j = 0; j < ntgts; j++) {
		if (strcmp(tgts[j].sec, r->sec) ||
		    strcmp(tgts[j].name, r->name))
			continue;
		ok = check(&tgts[j], &med);
		snprintf(tg, len, "%s %s: %s",
			 !strcmp(tgts[j].op, "le") ? "≤" : "≥",
			 num(tgts[j].limit, b1), ok ? "met" : "**missed**");
	}
}

/* One section: its notes, then its rows (or the connect table). */
static void section(const char *id, const char *title)
{
	char b1[32], b2[32], b3[32], tg[64];
	bool any = false;
	int i;

	for (i = 0; i < nrows; i++)
		any |= !strcmp(rows[i].sec, id);
	for (i = 0; i < nnotes; i++)
		any |= !strcmp(notes[i][0], id);
	if (!any)
		return;
	printf("### %s\n\n", title);
	for (i = 0; i < nnotes; i++)
		if (!strcmp(notes[i][0], id))
			printf("- %s\n", notes[i][1]);
	if (!strcmp(id, "connect")) {
		printf("\n");
		connect_table();
		return;
	}
	printf("\n| | median | min | max | unit | rounds | target |\n"
	       "|---|---:|---:|---:|---|---:|---|\n");
	for (i = 0; i < nrows; i++) {
		struct row *r = &rows[i];

		if (strcmp(r->sec, id))
			continue;
		row_target(r, tg, sizeof(tg));
		printf("| %s | %s | %s | %s | %s | %d | %s |\n", r->name,
		       num(median(r), b1), num(vmin(r), b2), num(vmax(r), b3),
		       r->unit, r->n, tg);
	}
	printf("\n");
}

/* The table of every target, then why each missed one was missed. */
static void targets(void)
{
	char b1[32];
	int j, k;

	printf("### Targets\n\n| part | target | median | result |\n|---|---|---:|---|\n");
	for (j = 0; j < ntgts; j++) {
		double med = 0;
		int ok = check(&tgts[j], &med);

		printf("| %s | %s | %s | %s |\n", tgts[j].sec, tgts[j].text,
		       ok < 0 ? "-" : num(med, b1),
		       ok < 0 ? "not measured"
		       : ok   ? "met"
			      : "**missed**");
	}
	printf("\n");
	/* Each reason once, after the first target it explains. */
	for (j = 0; j < ntgts; j++) {
		double med = 0;
		bool told = false;

		if (check(&tgts[j], &med) != 0 || !tgts[j].why[0])
			continue;
		for (k = 0; k < j; k++)
			told |= check(&tgts[k], &med) == 0 &&
				!strcmp(tgts[k].why, tgts[j].why);
		if (told)
			printf("- Missed: %s (same reason as above).\n",
			       tgts[j].text);
		else
			printf("- Missed: %s. Why: %s.\n", tgts[j].text,
			       tgts[j].why);
	}
}

int cmd_report(int argc, char **argv)
{
	size_t s;

	if (argc != 2)
		die("usage: report RESULTS");
	load(argv[1]);
	for (s = 0; s < sizeof(sections) / sizeof(sections[0]); s++)
		section(sections[s].id, sections[s].title);
	netams();
	targets();
	return 0;
}
