// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * flowbpf top: the busiest flows, refreshed every interval, like iftop.
 *
 * A flow's rate is the difference of its counters between two dumps of
 * the flow map over the time between them.  Flows are matched by the
 * flow map's id and the flow key, so a re-attached interface (new maps)
 * or a flow removed and created again (its first tick differs, or its
 * counters went down) is never compared with what it was before: such a
 * flow gets a rate only when all its packets came after the previous
 * dump, and otherwise shows none ("-").
 *
 * ncurses draws the full-screen view: it knows the terminal from
 * terminfo and puts it back as it was (endwin).  Keys are read from
 * stdin directly, and the signals that end the view or resize it arrive
 * on a signalfd, so that one poll() waits for all of them and nothing
 * runs in a signal handler.  -b prints the same frames as text, -j as
 * JSON lines.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <curses.h>
#include "clock.h"
#include "cli.h"
#include "daemon.h"
#include "flowfmt.h"
#include "loader.h"
#include "log.h"
#include "params.h"

#define TOP_IFACES 256
#define FILTER_TERMS 16
#define FILTER_LEN 128
#define INTERVAL_MIN_NS 100000000ULL
#define INTERVAL_MAX_NS 3600000000000ULL
/* A flow first seen this close before the previous dump may have been
 * missed by it (a tick is about a millisecond; dumps take time). */
#define CREATED_SLACK_NS 5000000ULL

enum top_sort { BY_BPS, BY_PPS, BY_BYTES };
static const struct name_value sort_names[] = {
	{ "bps", BY_BPS },
	{ "pps", BY_PPS },
	{ "bytes", BY_BYTES },
	{},
};
static const char *const sort_titles[] = { "bytes/s", "packets/s",
					   "total bytes" };

enum fterm_type { F_DIR, F_PROTO, F_PORT, F_ADDR, F_VERDICT, F_SOURCE };
enum fterm_side { SIDE_ANY, SIDE_SRC, SIDE_DST };

struct fterm {
	__u8 type, side, plen, family;
	__u32 val;
	__be32 addr[4];
};

struct top_filter {
	int n;
	struct fterm t[FILTER_TERMS];
	char text[FILTER_LEN];
};

struct top_row {
	struct flow_row r;
	__u32 map_id; /* which attach the flow belongs to */
	int ifi; /* index into top.ifs */
	double bps, pps; /* < 0: not known */
};

struct top_iface {
	char name[IF_NAMESIZE];
	char error[160]; /* why it cannot be read, "" when it can */
	bool attached;
	__u32 mode, flows_max, stats_id;
	size_t flows;
	struct flowbpf_stats st;
	bool rates; /* the rates below are known */
	double pps, bps, pass_ps, drop_ps, queued_ps;
};

struct top {
	const char *given; /* NULL: every attached interface */
	const char *filter; /* --filter as given */
	__u64 interval_ns, count, limit;
	bool batch, paused, quit;
	enum top_sort sort;
	struct top_filter filt;
	struct top_iface ifs[TOP_IFACES];
	int nifs;
	struct top_row *rows, *prev; /* by map id and key */
	size_t n, nprev;
	struct top_row **view; /* what passes the filter, in order */
	size_t nview;
	__u64 t_ns, prev_ns; /* CLOCK_MONOTONIC before each dump */
	bool have_prev;
	json_t *daemon;
	char prompt[FILTER_LEN]; /* the filter being typed */
	bool prompting;
	char msg[FILTER_LEN + 64]; /* shown in the status line */
};

static struct top top;

/* Stats the header sums up: byte counters of the outcomes, and packets. */
static const int byte_stats[] = {
	FLOWBPF_STAT_PASS_BYTES,	FLOWBPF_STAT_DROP_BYTES,
	FLOWBPF_STAT_WOULD_DROP_BYTES,	FLOWBPF_STAT_QUEUED_PASS_BYTES,
	FLOWBPF_STAT_QUEUED_DROP_BYTES, FLOWBPF_STAT_QUEUED_HELD_BYTES,
};

static __u64 st_bytes(const struct flowbpf_stats *s)
{
	__u64 b = 0;
	size_t i;

	for (i = 0; i < sizeof(byte_stats) / sizeof(byte_stats[0]); i++)
		b += s->c[byte_stats[i]];
	return b;
}

static __u64 st_queued(const struct flowbpf_stats *s)
{
	return s->c[FLOWBPF_STAT_QUEUED_PASS] + s->c[FLOWBPF_STAT_QUEUED_DROP] +
	       s->c[FLOWBPF_STAT_QUEUED_HELD];
}

/* A drop in monitor mode is only counted as "would drop". */
static __u64 st_drop(const struct flowbpf_stats *s, __u32 mode)
{
	return mode == FLOWBPF_MODE_ENFORCE ? s->c[FLOWBPF_STAT_DROP]
					    : s->c[FLOWBPF_STAT_WOULD_DROP];
}

/* ---- filter ---- */

static int port_word(const char *s, __u32 *port)
{
	char *end;
	unsigned long v;

	if (!s || s[0] < '0' || s[0] > '9' || strlen(s) > 5)
		return -EINVAL;
	v = strtoul(s, &end, 10);
	if (*end || v > 65535)
		return -EINVAL;
	*port = v;
	return 0;
}

/* ADDR or ADDR/LEN; IPv4 is kept IPv4-mapped, as in the flow key. */
static int addr_word(const char *s, struct fterm *t)
{
	char buf[INET6_ADDRSTRLEN + 8], *slash;
	__u32 len;
	int max;

	if (!s || strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash++ = '\0';
	memset(t->addr, 0, sizeof(t->addr));
	if (inet_pton(AF_INET, buf, &t->addr[3]) == 1) {
		t->addr[2] = htonl(0xffff);
		t->family = 4;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, t->addr) == 1) {
		t->family = 6;
		max = 128;
	} else {
		return -EINVAL;
	}
	len = max;
	if (slash && (port_word(slash, &len) || len > (__u32)max))
		return -EINVAL;
	t->plen = len + (t->family == 4 ? 96 : 0);
	t->type = F_ADDR;
	return 0;
}

static int name_index(const char *s, const char *(*name)(__u32), __u32 lo,
		      __u32 hi, __u32 *val)
{
	__u32 i;

	for (i = lo; i <= hi; i++) {
		if (!strcmp(s, name(i))) {
			*val = i;
			return 0;
		}
	}
	return -EINVAL;
}

static int verdict_word(const char *s, __u32 *v)
{
	return s ? name_index(s, verdict_name, FLOWBPF_VERDICT_PASS,
			      FLOWBPF_VERDICT_QUEUED, v)
		 : -EINVAL;
}

static int source_word(const char *s, __u32 *v)
{
	return s ? name_index(s, source_name, FLOWBPF_SRC_KERNEL,
			      FLOWBPF_SRC_LIMIT, v)
		 : -EINVAL;
}

/* One term from w (and the word after it, *used set to 2 if taken). */
static int filter_term(char *w, char *next, struct fterm *t, int *used,
		       char *why, size_t wl)
{
	__u8 proto;

	memset(t, 0, sizeof(*t));
	*used = 1;
	if (!strcmp(w, "in") || !strcmp(w, "out")) {
		t->type = F_DIR;
		t->val = w[0] == 'o' ? FLOWBPF_DIR_EGRESS : FLOWBPF_DIR_INGRESS;
		return 0;
	}
	if (!verdict_word(w, &t->val)) {
		t->type = F_VERDICT;
		return 0;
	}
	if (!source_word(w, &t->val)) {
		t->type = F_SOURCE;
		return 0;
	}
	if (!strcmp(w, "port") || !strcmp(w, "sport") || !strcmp(w, "dport")) {
		*used = 2;
		t->type = F_PORT;
		t->side = w[0] == 's' ? SIDE_SRC : w[0] == 'd' ? SIDE_DST : 0;
		if (!port_word(next, &t->val))
			return 0;
		snprintf(why, wl, "'%s' needs a port number (0-65535)", w);
		return -EINVAL;
	}
	if (!strcmp(w, "host") || !strcmp(w, "src") || !strcmp(w, "dst")) {
		*used = 2;
		if (!addr_word(next, t)) {
			t->side = w[0] == 's'	? SIDE_SRC
				  : w[0] == 'd' ? SIDE_DST
						: 0;
			return 0;
		}
		snprintf(why, wl, "'%s' needs an address[/length]", w);
		return -EINVAL;
	}
	if (!strcmp(w, "proto") || !strcmp(w, "verdict") || !strcmp(w, "by")) {
		*used = 2;
		if (w[0] == 'p' && next && !proto_parse(next, &proto)) {
			t->type = F_PROTO;
			t->val = proto;
			return 0;
		}
		if (w[0] == 'v' && !verdict_word(next, &t->val)) {
			t->type = F_VERDICT;
			return 0;
		}
		if (w[0] == 'b' && !source_word(next, &t->val)) {
			t->type = F_SOURCE;
			return 0;
		}
		snprintf(why, wl, "'%s' needs %s", w,
			 w[0] == 'p' ? "a protocol name or number"
			 : w[0] == 'v'
				 ? "pass, drop or queued"
				 : "kernel, timeout, daemon, manual or limit");
		return -EINVAL;
	}
	if (!addr_word(w, t))
		return 0;
	if (w[0] < '0' || w[0] > '9') {
		if (!proto_parse(w, &proto)) {
			t->type = F_PROTO;
			t->val = proto;
			return 0;
		}
		snprintf(why, wl, "unknown word '%s'", w);
	} else {
		snprintf(why, wl, "'%s': write 'port %s' or 'proto %s'", w, w,
			 w);
	}
	return -EINVAL;
}

/* Every word of text must match; "" matches everything. */
static int filter_parse(const char *text, struct top_filter *f, char *why,
			size_t wl)
{
	char buf[FILTER_LEN], *words[FILTER_TERMS * 2 + 1], *save, *w;
	int nw = 0, i, used;

	memset(f, 0, sizeof(*f));
	if (strlen(text) >= sizeof(buf)) {
		snprintf(why, wl, "a filter has at most %d characters",
			 FILTER_LEN - 1);
		return -EINVAL;
	}
	strcpy(buf, text);
	for (w = strtok_r(buf, " \t", &save); w;
	     w = strtok_r(NULL, " \t", &save)) {
		if (nw == FILTER_TERMS * 2) {
			snprintf(why, wl, "too many words");
			return -E2BIG;
		}
		words[nw++] = w;
	}
	words[nw] = NULL;
	for (i = 0; i < nw; i += used) {
		if (f->n == FILTER_TERMS) {
			snprintf(why, wl, "at most %d terms", FILTER_TERMS);
			return -E2BIG;
		}
		if (filter_term(words[i], words[i + 1], &f->t[f->n], &used, why,
				wl))
			return -EINVAL;
		f->n++;
	}
	/* Kept as given, blanks and all, for the title line. */
	snprintf(f->text, sizeof(f->text), "%s", nw ? text : "");
	return 0;
}

static bool prefix_match(const __be32 *a, const struct fterm *t)
{
	const __u8 *x = (const __u8 *)a, *y = (const __u8 *)t->addr;
	int full = t->plen / 8, rest = t->plen % 8;

	if (memcmp(x, y, full))
		return false;
	return !rest || !((x[full] ^ y[full]) & (0xff00 >> rest));
}

static bool term_match(const struct fterm *t, const struct top_row *row)
{
	const struct flowbpf_key *k = &row->r.key;
	bool s, d;

	switch (t->type) {
	case F_DIR:
		return k->dir == t->val;
	case F_PROTO:
		return k->proto == t->val;
	case F_VERDICT:
		return row->r.flow.verdict == t->val;
	case F_SOURCE:
		return row->r.flow.source == t->val;
	case F_PORT:
		if (flowbpf_proto_is_icmp(k->proto)) /* type/code, not ports */
			return false;
		s = ntohs(k->sport) == t->val;
		d = ntohs(k->dport) == t->val;
		break;
	default:
		if (k->family != t->family)
			return false;
		s = prefix_match(k->saddr, t);
		d = prefix_match(k->daddr, t);
	}
	return t->side == SIDE_SRC ? s : t->side == SIDE_DST ? d : s || d;
}

static bool filter_match(const struct top_filter *f, const struct top_row *r)
{
	int i;

	for (i = 0; i < f->n; i++)
		if (!term_match(&f->t[i], r))
			return false;
	return true;
}

/* ---- sampling ---- */

static int row_id_cmp(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;

	if (x->map_id != y->map_id)
		return x->map_id < y->map_id ? -1 : 1;
	return memcmp(&x->r.key, &y->r.key, sizeof(x->r.key));
}

/* Appends the flows of one open interface to top.rows. */
static int dump_flows(const struct flowbpf_handle *h, int ifi, size_t *cap)
{
	struct flowbpf_key *keys = NULL;
	struct flowbpf_flow *vals = NULL;
	struct top_row *nr;
	size_t n = 0, i;
	int err;

	err = flowbpf_map_dump(h->fd[FB_MAP_FLOWS], sizeof(*keys),
			       sizeof(*vals), (void **)&keys, (void **)&vals,
			       &n);
	if (err)
		return err;
	if (top.n + n > *cap) {
		*cap = (top.n + n) * 2 + 64;
		nr = realloc(top.rows, *cap * sizeof(*nr));
		if (!nr) {
			err = -ENOMEM;
			goto out;
		}
		top.rows = nr;
	}
	for (i = 0; i < n; i++) {
		struct top_row *r = &top.rows[top.n++];

		memset(r, 0, sizeof(*r));
		r->r.key = keys[i];
		r->r.flow = vals[i];
		r->r.first_ns = flowbpf_tick_ns(vals[i].first, top.t_ns);
		r->r.last_ns = flowbpf_tick_ns(vals[i].last, top.t_ns);
		r->map_id = h->id[FB_MAP_FLOWS];
		r->ifi = ifi;
	}
	top.ifs[ifi].flows = n;
out:
	free(keys);
	free(vals);
	return err;
}

static void iface_rates(struct top_iface *f, const struct top_iface *old,
			double dt)
{
	const struct flowbpf_stats *a = &old->st, *b = &f->st;
	int i;

	f->rates = false;
	if (!old->attached || old->stats_id != f->stats_id || dt <= 0)
		return;
	for (i = 0; i < FLOWBPF_STAT_MAX; i++)
		if (b->c[i] < a->c[i])
			return; /* not the counters read last time */
	f->rates = true;
	f->pps = (b->c[FLOWBPF_STAT_PACKETS] - a->c[FLOWBPF_STAT_PACKETS]) / dt;
	f->bps = (st_bytes(b) - st_bytes(a)) / dt;
	f->pass_ps = (b->c[FLOWBPF_STAT_PASS] - a->c[FLOWBPF_STAT_PASS]) / dt;
	f->drop_ps = (st_drop(b, f->mode) - st_drop(a, f->mode)) / dt;
	f->queued_ps = (st_queued(b) - st_queued(a)) / dt;
}

/* Reads one interface into ifs[ifi]; a detached one is kept, marked so. */
static int sample_iface(int ifi, const char *name, size_t *cap)
{
	struct top_iface *f = &top.ifs[ifi];
	struct flowbpf_handle h;
	int err;

	memset(f, 0, sizeof(*f));
	snprintf(f->name, sizeof(f->name), "%.*s", IF_NAMESIZE - 1, name);
	if (flowbpf_open(name, &h)) {
		snprintf(f->error, sizeof(f->error), "%s", err_get());
		return 0;
	}
	err = flowbpf_stats_read(h.fd[FB_MAP_STATS], &f->st);
	if (!err)
		err = dump_flows(&h, ifi, cap);
	if (err)
		snprintf(f->error, sizeof(f->error),
			 "%.*s: cannot read maps: %.64s", IF_NAMESIZE - 1, name,
			 strerror(-err));
	if (!err) {
		f->attached = true;
		f->mode = h.cfg.mode;
		f->flows_max = h.flows_max;
		f->stats_id = h.id[FB_MAP_STATS];
	}
	flowbpf_close(&h);
	return err == -ENOMEM ? err : 0;
}

static const struct top_iface *old_iface(const struct top_iface *old, int n,
					 const char *name)
{
	static const struct top_iface none;
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(old[i].name, name))
			return &old[i];
	return &none;
}

/* The rate of a flow from the previous dump, or -1 when not known. */
static void flow_rate(struct top_row *r, double dt)
{
	const struct top_row *p = NULL;

	r->bps = r->pps = -1;
	if (!top.have_prev || dt <= 0)
		return;
	if (top.nprev)
		p = bsearch(r, top.prev, top.nprev, sizeof(*r), row_id_cmp);
	if (p && p->r.flow.first == r->r.flow.first &&
	    r->r.flow.packets >= p->r.flow.packets &&
	    r->r.flow.bytes >= p->r.flow.bytes) {
		r->pps = (r->r.flow.packets - p->r.flow.packets) / dt;
		r->bps = (r->r.flow.bytes - p->r.flow.bytes) / dt;
	} else if (r->r.first_ns + CREATED_SLACK_NS >= top.prev_ns) {
		/* New since the last dump: all its packets are in dt. */
		r->pps = r->r.flow.packets / dt;
		r->bps = r->r.flow.bytes / dt;
	}
}

/* One refresh: every interface's stats and flows, then the rates. */
static int sample(void)
{
	static struct top_iface old[TOP_IFACES];
	char names[TOP_IFACES][IF_NAMESIZE];
	static size_t cap;
	int n, i, nold = top.nifs, err;
	double dt;
	size_t j;

	memcpy(old, top.ifs, sizeof(old[0]) * nold);
	free(top.prev);
	top.prev = top.rows, top.nprev = top.n;
	top.rows = NULL, top.n = 0, cap = 0;
	top.prev_ns = top.t_ns;
	top.t_ns = mono_now_ns();
	if (!top.have_prev)
		top.prev_ns = top.t_ns; /* dt 0: no rates */
	dt = (top.t_ns - top.prev_ns) / 1e9;
	if (top.given) {
		snprintf(names[0], IF_NAMESIZE, "%.*s", IF_NAMESIZE - 1,
			 top.given);
		n = 1;
	} else {
		n = flowbpf_list(names, TOP_IFACES);
		if (n < 0)
			n = 0;
	}
	for (i = 0; i < n; i++) {
		err = sample_iface(i, names[i], &cap);
		if (err)
			return err;
		iface_rates(&top.ifs[i], old_iface(old, nold, names[i]), dt);
	}
	top.nifs = n;
	if (top.n)
		qsort(top.rows, top.n, sizeof(*top.rows), row_id_cmp);
	for (j = 0; j < top.n; j++)
		flow_rate(&top.rows[j], dt);
	json_decref(top.daemon);
	top.daemon = daemon_json();
	top.have_prev = true;
	return 0;
}

static int view_cmp(const void *a, const void *b, void *ctx)
{
	const struct top_row *x = *(struct top_row *const *)a;
	const struct top_row *y = *(struct top_row *const *)b;
	double vx, vy;

	switch (top.sort) {
	case BY_PPS:
		vx = x->pps, vy = y->pps;
		break;
	case BY_BYTES:
		vx = x->r.flow.bytes, vy = y->r.flow.bytes;
		break;
	default:
		vx = x->bps, vy = y->bps;
	}
	if (vx != vy)
		return vx < vy ? 1 : -1;
	/* Ties by total bytes, then stably by identity. */
	if (x->r.flow.bytes != y->r.flow.bytes)
		return x->r.flow.bytes < y->r.flow.bytes ? 1 : -1;
	return row_id_cmp(x, y);
}

static int build_view(void)
{
	struct top_row **v;
	size_t i;

	v = realloc(top.view, (top.n ? top.n : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	top.view = v;
	top.nview = 0;
	for (i = 0; i < top.n; i++)
		if (filter_match(&top.filt, &top.rows[i]))
			top.view[top.nview++] = &top.rows[i];
	qsort_r(top.view, top.nview, sizeof(*v), view_cmp, NULL);
	return 0;
}

/* ---- output ---- */

/* Where a frame goes: the screen (rows below the status line are cut)
 * or stdout. */
struct sink {
	bool curses;
	int row;
};

static void put(struct sink *s, int attr, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void put(struct sink *s, int attr, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (!s->curses) {
		puts(line);
		return;
	}
	if (s->row >= LINES - 1)
		return;
	mvaddnstr(s->row, 0, line, COLS);
	if (attr)
		mvchgat(s->row, 0, -1, attr, 0, NULL);
	s->row++;
}

static void rate_str(double v, bool bytes, char *buf, size_t len)
{
	char n[16];

	if (v < 0) {
		snprintf(buf, len, "-");
		return;
	}
	if (bytes)
		human_bytes((__u64)(v + 0.5), n, sizeof(n));
	else
		human_count((__u64)(v + 0.5), n, sizeof(n));
	if (strlen(n) + 3 <= len) {
		strcpy(buf, n);
		strcat(buf, "/s");
	}
}

static void put_title(struct sink *s)
{
	char clock[16] = "", filt[FILTER_LEN + 16] = "",
	     over[32] = "no rates yet";
	struct tm tm;
	time_t now = time(NULL);

	if (localtime_r(&now, &tm))
		strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	if (top.filt.text[0])
		snprintf(filt, sizeof(filt), "  filter: %s", top.filt.text);
	if (top.t_ns > top.prev_ns)
		snprintf(over, sizeof(over), "rates over %.2fs",
			 (top.t_ns - top.prev_ns) / 1e9);
	put(s, A_BOLD,
	    "flowbpf top  %s  every %.3gs, %s  sort: %s  flows %zu of %zu%s%s",
	    clock, top.interval_ns / 1e9, over, sort_titles[top.sort],
	    top.nview, top.n, filt, top.paused ? "  PAUSED" : "");
}

static void put_iface(struct sink *s, const struct top_iface *f)
{
	char pps[16] = "-", bps[16] = "-", pass[16] = "-", drop[16] = "-",
	     queued[16] = "-";

	if (!f->attached) {
		put(s, 0, "%s", f->error);
		return;
	}
	if (f->rates) {
		rate_str(f->pps, false, pps, sizeof(pps));
		rate_str(f->bps, true, bps, sizeof(bps));
		rate_str(f->pass_ps, false, pass, sizeof(pass));
		rate_str(f->drop_ps, false, drop, sizeof(drop));
		rate_str(f->queued_ps, false, queued, sizeof(queued));
	}
	put(s, 0,
	    "%s (%s): %s %s | pass %llu (%s) %s %llu (%s) queued %llu (%s) | flows %zu/%u",
	    f->name, mode_name(f->mode), pps, bps,
	    (unsigned long long)f->st.c[FLOWBPF_STAT_PASS], pass,
	    f->mode == FLOWBPF_MODE_ENFORCE ? "drop" : "would-drop",
	    (unsigned long long)st_drop(&f->st, f->mode), drop,
	    (unsigned long long)st_queued(&f->st), queued, f->flows,
	    f->flows_max);
}

static void put_daemon(struct sink *s)
{
	const json_t *d = top.daemon, *v;

	if (!d || json_is_null(d)) {
		put(s, 0, "daemon: not running (no answer on %s)", env.socket);
		return;
	}
	v = json_object_get(d, "verdicts");
	put(s, 0,
	    "daemon: running, pid %lld, policy %s, up %llds, events %lld, verdicts pass %lld drop %lld, errors %lld",
	    json_integer_value(json_object_get(d, "pid")),
	    json_string_value(json_object_get(d, "policy")) ?: "?",
	    json_integer_value(json_object_get(d, "uptime_s")),
	    json_integer_value(json_object_get(d, "events")),
	    json_integer_value(json_object_get(v, "pass")),
	    json_integer_value(json_object_get(v, "drop")),
	    json_integer_value(json_object_get(d, "errors")));
}

#define WIDEN(w, str, max)             \
	do {                           \
		int __l = strlen(str); \
		if (__l > (w))         \
			(w) = __l;     \
		if ((w) > (max))       \
			(w) = (max);   \
	} while (0)

#define ROW_FMT "%-*s %-3s %-*s %-*s %-*s %10s %9s %9s %8s %-7s %-7s %6s"

static void put_table(struct sink *s, size_t n)
{
	int wi = 5, wp = 5, ws = 6, wd = 11;
	char bps[16], pps[16];
	struct flow_cells c;
	size_t i;

	for (i = 0; i < n; i++) {
		flow_cells(&top.view[i]->r, top.t_ns, &c);
		WIDEN(wi, top.ifs[top.view[i]->ifi].name, IF_NAMESIZE);
		WIDEN(wp, c.proto, 15);
		WIDEN(ws, c.src, 47);
		WIDEN(wd, c.dst, 47);
	}
	put(s, A_REVERSE, ROW_FMT, wi, "IFACE", "DIR", wp, "PROTO", ws,
	    "SOURCE", wd, "DESTINATION", "BYTES/S", "PKTS/S", "BYTES",
	    "PACKETS", "VERDICT", "SET-BY", "IDLE");
	for (i = 0; i < n; i++) {
		const struct top_row *r = top.view[i];

		flow_cells(&r->r, top.t_ns, &c);
		rate_str(r->bps, true, bps, sizeof(bps));
		rate_str(r->pps, false, pps, sizeof(pps));
		put(s, 0, ROW_FMT, wi, top.ifs[r->ifi].name,
		    dir_name(r->r.key.dir), wp, c.proto, ws, c.src, wd, c.dst,
		    bps, pps, c.by, c.pk, verdict_name(r->r.flow.verdict),
		    source_name(r->r.flow.source), c.idle);
	}
}

static void put_status(void)
{
	const char *keys =
		"b bytes/s  p packets/s  t total bytes  / filter  space pause  q quit";

	move(LINES - 1, 0);
	clrtoeol();
	if (top.prompting)
		mvprintw(
			LINES - 1, 0,
			"filter (Enter applies, Esc cancels, empty clears): %s",
			top.prompt);
	else
		mvaddnstr(LINES - 1, 0, top.msg[0] ? top.msg : keys, COLS);
}

/* The header, then as many flows as fit (or --limit). */
static void put_frame(struct sink *s)
{
	size_t n = top.nview;
	int i, room;

	put_title(s);
	for (i = 0; i < top.nifs; i++)
		put_iface(s, &top.ifs[i]);
	put_daemon(s);
	put(s, 0, "%s", "");
	if (s->curses) {
		room = LINES - 2 - s->row; /* the table's header, the status */
		n = room > 0 ? (size_t)room : 0;
		if (n > top.nview)
			n = top.nview;
	}
	if (n > top.limit)
		n = top.limit;
	put_table(s, n);
}

static json_t *iface_json(const struct top_iface *f)
{
	json_t *o = json_pack("{s:o, s:b}", "ifname", ctl_json_str(f->name),
			      "attached", f->attached);

	if (o && !f->attached)
		json_object_set_new(o, "error", ctl_json_str(f->error));
	if (!o || !f->attached)
		return o;
	json_object_set_new(o, "mode", json_string(mode_name(f->mode)));
	json_object_set_new(o, "flows", json_integer(f->flows));
	json_object_set_new(o, "flows_max", json_integer(f->flows_max));
	json_object_set_new(
		o, "counters",
		json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "packets",
			  (json_int_t)f->st.c[FLOWBPF_STAT_PACKETS], "bytes",
			  (json_int_t)st_bytes(&f->st), "pass_packets",
			  (json_int_t)f->st.c[FLOWBPF_STAT_PASS],
			  "drop_packets",
			  (json_int_t)f->st.c[FLOWBPF_STAT_DROP],
			  "would_drop_packets",
			  (json_int_t)f->st.c[FLOWBPF_STAT_WOULD_DROP],
			  "queued_packets", (json_int_t)st_queued(&f->st)));
	json_object_set_new(o, "rates",
			    f->rates ? json_pack("{s:f, s:f, s:f, s:f, s:f}",
						 "packets_per_s", f->pps,
						 "bytes_per_s", f->bps,
						 "pass_per_s", f->pass_ps,
						 "drop_per_s", f->drop_ps,
						 "queued_per_s", f->queued_ps)
				     : json_null());
	return o;
}

static json_t *rate_json(double v)
{
	return v < 0 ? json_null() : json_real(v);
}

static json_t *frame_json(void)
{
	json_t *ifs = json_array(), *flows = json_array(), *o;
	size_t i, n = top.nview < top.limit ? top.nview : top.limit;
	int j;

	for (j = 0; j < top.nifs; j++)
		json_array_append_new(ifs, iface_json(&top.ifs[j]));
	for (i = 0; i < n; i++) {
		const struct top_row *r = top.view[i];

		o = row_json(&r->r);
		json_object_set_new(o, "ifname",
				    ctl_json_str(top.ifs[r->ifi].name));
		json_object_set_new(o, "bytes_per_s", rate_json(r->bps));
		json_object_set_new(o, "packets_per_s", rate_json(r->pps));
		json_array_append_new(flows, o);
	}
	return json_pack("{s:I, s:f, s:s, s:s, s:O, s:o, s:I, s:o}", "time_ms",
			 (json_int_t)(mono_to_wall_ns(top.t_ns) / 1000000),
			 "interval_s", (top.t_ns - top.prev_ns) / 1e9, "sort",
			 name_of(sort_names, top.sort, "bps"), "filter",
			 top.filt.text, "daemon",
			 top.daemon ? top.daemon : json_null(), "interfaces",
			 ifs, "matched", (json_int_t)top.nview, "flows", flows);
}

/* Draws (or prints) what was last sampled. */
static int show(bool tty)
{
	struct sink s = { .curses = tty };

	if (build_view())
		return -ENOMEM;
	if (env.json) {
		json_out(frame_json());
		return 0;
	}
	if (!tty) {
		put_frame(&s);
		putchar('\n');
		return fflush(stdout) ? -errno : 0;
	}
	erase();
	put_frame(&s);
	put_status();
	refresh();
	return 0;
}

/* ---- keys, signals, the loop ---- */

static void prompt_key(int c)
{
	struct top_filter f;
	char why[FILTER_LEN];
	size_t len = strlen(top.prompt);

	switch (c) {
	case '\r':
	case '\n':
		top.prompting = false;
		if (filter_parse(top.prompt, &f, why, sizeof(why)))
			snprintf(top.msg, sizeof(top.msg),
				 "filter not changed: %s (/ to edit)", why);
		else
			top.filt = f;
		return;
	case 27: /* Esc */
		top.prompting = false;
		return;
	case 127:
	case 8:
		if (len)
			top.prompt[len - 1] = '\0';
		return;
	case 21: /* ^U */
		top.prompt[0] = '\0';
		return;
	default:
		if (c >= ' ' && c < 127 && len + 1 < sizeof(top.prompt)) {
			top.prompt[len] = c;
			top.prompt[len + 1] = '\0';
		}
	}
}

static void key(int c)
{
	if (top.prompting) {
		prompt_key(c);
		return;
	}
	top.msg[0] = '\0';
	switch (c) {
	case 'q':
	case 'Q':
		top.quit = true;
		break;
	case 'b':
		top.sort = BY_BPS;
		break;
	case 'p':
		top.sort = BY_PPS;
		break;
	case 't':
		top.sort = BY_BYTES;
		break;
	case ' ':
	case 'P':
		top.paused = !top.paused;
		break;
	case '/':
		top.prompting = true;
		snprintf(top.prompt, sizeof(top.prompt), "%s", top.filt.text);
		break;
	case 12: /* ^L */
		clearok(curscr, TRUE);
		break;
	}
}

/* Keys typed so far; the end of input (the terminal gone) quits. */
static void read_keys(void)
{
	unsigned char buf[64];
	ssize_t r, i;

	r = read(STDIN_FILENO, buf, sizeof(buf));
	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (r <= 0) {
		top.quit = true;
		return;
	}
	for (i = 0; i < r && !top.quit; i++)
		key(buf[i]);
}

static void read_signals(int sfd, bool tty)
{
	struct signalfd_siginfo si;
	struct winsize ws;

	while (read(sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo != SIGWINCH) {
			top.quit = true;
			continue;
		}
		if (tty && !ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) &&
		    ws.ws_row && ws.ws_col) {
			resizeterm(ws.ws_row, ws.ws_col);
			clearok(curscr, TRUE);
		}
	}
}

/* Waits up to ms (-1: for ever) for a key or a signal; whether to redraw. */
static bool wait_events(int sfd, bool tty, int ms)
{
	struct pollfd p[2] = { { .fd = sfd, .events = POLLIN },
			       { .fd = STDIN_FILENO, .events = POLLIN } };

	if (poll(p, tty ? 2 : 1, ms) <= 0)
		return false;
	if (p[0].revents)
		read_signals(sfd, tty);
	if (tty && p[1].revents)
		read_keys();
	return !top.quit;
}

static int run_loop(int sfd, bool tty)
{
	__u64 frames = 0, next, now;
	int err;

	/* The first dump has nothing to be compared with: only the
	 * terminal shows it, for something to be on screen at once. */
	err = sample();
	if (!err && tty)
		err = show(tty);
	next = top.t_ns + top.interval_ns;
	while (!err && !top.quit) {
		now = mono_now_ns();
		if (!top.paused && now >= next) {
			err = sample();
			if (!err)
				err = show(tty);
			if (top.count && ++frames >= top.count)
				break;
			/* Behind (a slow dump): start again from now. */
			next = next + top.interval_ns > top.t_ns
				       ? next + top.interval_ns
				       : top.t_ns + top.interval_ns;
			continue;
		}
		if (wait_events(sfd, tty,
				top.paused ? -1
					   : (int)((next - now + 999999) /
						   1000000)) &&
		    tty)
			err = show(tty);
	}
	return err;
}

#define TOP_FIELD(m) PARAM_FIELD(struct top, m)

static const struct param top_params[] = {
	{ "interval", 'i', P_DURATION, TOP_FIELD(interval_ns),
	  .arg = "DURATION", .help = "time between refreshes",
	  .min = INTERVAL_MIN_NS, .max = INTERVAL_MAX_NS },
	{ "count", 'n', P_COUNT, TOP_FIELD(count), .arg = "N",
	  .help = "stop after N refreshes", .min = 1,
	  .dflt = "at q, SIGINT or SIGTERM" },
	{ "batch", 'b', P_FLAG, TOP_FIELD(batch),
	  .help = "frames as text on stdout, not the full-screen view; -j: one JSON object a frame, a line each" },
	{ "sort", 's', P_ENUM, TOP_FIELD(sort), .names = sort_names,
	  .help = "order: bytes/s, packets/s, total bytes" },
	{ "filter", 'f', P_STR, TOP_FIELD(filter), .arg = "EXPR",
	  .help = "only the flows that match every word of EXPR" },
	{ "limit", 'l', P_COUNT, TOP_FIELD(limit), .arg = "N",
	  .help = "show at most N flows", .min = 1,
	  .dflt = "what fits, all with -b" },
	{},
};

/* The options into top; EXIT_OK to go on, or the exit code. */
static int parse_opts(int argc, char **argv)
{
	char why[FILTER_LEN];
	int rc;

	if (!PARAMS_PARSE(top_params, &top, argc, argv, NULL, &rc))
		return rc == EXIT_OK ? -1 : rc;
	if (top.filter && filter_parse(top.filter, &top.filt, why, sizeof(why)))
		return cli_usage_error("bad --filter: %s", why);
	return EXIT_OK;
}

/* What to watch: the interface given, which must be attached, or every
 * attached one (at least one). */
static int check_ifaces(int argc, char **argv)
{
	char names[TOP_IFACES][IF_NAMESIZE];
	struct flowbpf_handle h;
	int n;

	if (optind < argc) {
		if (optind + 1 != argc)
			return cli_usage_error(
				"top takes at most one interface");
		if (strlen(argv[optind]) >= IF_NAMESIZE)
			return cli_usage_error(
				"interface name '%s' is longer than %d characters",
				argv[optind], IF_NAMESIZE - 1);
		top.given = argv[optind];
		if (flowbpf_open(top.given, &h))
			return cli_error(EXIT_FAIL, "%s", err_get());
		flowbpf_close(&h);
		return EXIT_OK;
	}
	n = flowbpf_list(names, TOP_IFACES);
	if (n < 0)
		return cli_error(EXIT_FAIL, "cannot list %s: %s",
				 FLOWBPF_PIN_ROOT, strerror(-n));
	if (!n)
		return cli_error(EXIT_FAIL, "no interface attached");
	return EXIT_OK;
}

int cmd_top(int argc, char **argv)
{
	sigset_t set, old;
	SCREEN *scr = NULL;
	int ret, err, sfd;
	bool tty;

	memset(&top, 0, sizeof(top));
	top.interval_ns = 1000000000ULL;
	top.limit = ~0ULL;
	ret = parse_opts(argc, argv);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	tty = !top.batch && !env.json;
	if (tty && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)))
		return cli_usage_error(
			"the live view needs a terminal on stdin and stdout; -b prints frames as text");
	ret = check_ifaces(argc, argv);
	if (ret)
		return ret;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGWINCH);
	sigprocmask(SIG_BLOCK, &set, &old);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		ret = cli_error(EXIT_FAIL, "signalfd: %s", strerror(errno));
		goto out;
	}
	if (tty) {
		scr = newterm(NULL, stdout, stdin);
		if (!scr) {
			ret = cli_error(EXIT_FAIL,
					"cannot use terminal type '%s'",
					getenv("TERM") ?: "");
			goto out;
		}
		cbreak();
		noecho();
		curs_set(0);
		/* Keys are read here, not by curses: a key pending must not
		 * cut a screen update short. */
		typeahead(-1);
	}
	err = run_loop(sfd, tty);
	if (scr) {
		endwin();
		delscreen(scr);
	}
	ret = err ? cli_error(EXIT_FAIL, "%s", strerror(-err)) : EXIT_OK;
out:
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	free(top.rows);
	free(top.prev);
	free(top.view);
	json_decref(top.daemon);
	return ret;
}
