// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Attribution: which units, classes and directions a record counts for,
 * the periods (local time) it falls in, and the transaction that adds a
 * batch of records to the totals and the quotas' use.
 *
 * A record is known by its flow (gateway, interface, key, tick of the
 * first packet) and the packets and bytes earlier records of the flow
 * reported.  The store keeps, per flow, how far its records have been
 * counted; a record adds only what lies beyond that, so one written
 * again (after a crash, or a restart that reports a flow's last interval
 * once more, and longer) adds exactly what is new.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "array.h"
#include "acct.h"

const char *const acct_rollups[4] = { "minute", "hour", "day", "month" };
const int acct_rollup_period[4] = { PERIOD_MINUTE, PERIOD_HOUR, PERIOD_DAY,
				    PERIOD_MONTH };

time_t acct_period_start(int period, __u64 secs, time_t t)
{
	struct tm tm;

	if (period == PERIOD_SECONDS)
		return t - t % (time_t)secs;
	localtime_r(&t, &tm);
	tm.tm_sec = 0;
	if (period >= PERIOD_HOUR)
		tm.tm_min = 0;
	if (period >= PERIOD_DAY)
		tm.tm_hour = 0;
	if (period == PERIOD_WEEK)
		tm.tm_mday -= (tm.tm_wday + 6) % 7; /* weeks begin on Monday */
	if (period == PERIOD_MONTH)
		tm.tm_mday = 1;
	tm.tm_isdst = -1;
	return mktime(&tm);
}

time_t acct_period_next(int period, __u64 secs, time_t t)
{
	time_t s = acct_period_start(period, secs, t);
	struct tm tm;

	if (period == PERIOD_SECONDS)
		return s + secs;
	localtime_r(&s, &tm);
	switch (period) {
	case PERIOD_MINUTE:
		tm.tm_min++;
		break;
	case PERIOD_HOUR:
		tm.tm_hour++;
		break;
	case PERIOD_DAY:
		tm.tm_mday++;
		break;
	case PERIOD_WEEK:
		tm.tm_mday += 7;
		break;
	default:
		tm.tm_mon++;
		break;
	}
	tm.tm_isdst = -1;
	return mktime(&tm);
}

void acct_period_label(int period, time_t start, char *buf, size_t len)
{
	static const char *const fmt[] = {
		[PERIOD_MINUTE] = "%Y-%m-%d %H:%M",
		[PERIOD_HOUR] = "%Y-%m-%d %H:00",
		[PERIOD_DAY] = "%Y-%m-%d",
		[PERIOD_WEEK] = "%Y-%m-%d",
		[PERIOD_MONTH] = "%Y-%m",
		[PERIOD_SECONDS] = "%Y-%m-%d %H:%M:%S",
	};
	struct tm tm;

	localtime_r(&start, &tm);
	strftime(buf, len, fmt[period], &tm);
}

const char *acct_class_name(const struct policy *p, int cls)
{
	if (cls < 0)
		return "any";
	return (size_t)cls < p->nclasses ? p->classes[cls].name
					 : ACCT_CLASS_OTHER;
}

void acct_quota_name(const struct policy *p, const struct acct_quota *q,
		     char *buf, size_t len)
{
	char per[32];

	acct_period_str(q, per, sizeof(per));
	snprintf(buf, len, "%s%s%s%s/%s", p->units[q->unit].name,
		 q->cls >= 0 ? "." : "",
		 q->cls >= 0 ? acct_class_name(p, q->cls) : "",
		 q->dir < 0	     ? ""
		 : q->dir == ACCT_IN ? ".in"
				     : ".out",
		 per);
}

/* One share of a batch: a unit's class and direction in one second (the
 * end of the records), which places it in every period. */
struct share {
	int unit, cls, dir;
	time_t t;
	__u64 packets, bytes;
};

struct batch {
	struct share *v;
	size_t n, cap;
};

static int share_add(struct batch *b, int unit, int cls, int dir, time_t t,
		     __u64 packets, __u64 bytes)
{
	struct share *s;
	size_t i;

	for (i = 0; i < b->n; i++) {
		s = &b->v[i];
		if (s->unit == unit && s->cls == cls && s->dir == dir &&
		    s->t == t) {
			s->packets += packets;
			s->bytes += bytes;
			return 0;
		}
	}
	s = array_room(b->v, &b->cap, b->n, sizeof(*s), 64);
	if (!s)
		return -ENOMEM;
	b->v = s;
	b->v[b->n++] = (struct share){ unit, cls, dir, t, packets, bytes };
	return 0;
}

/* The flow's identity, one 63-bit number (FNV-1a). */
static long long flow_id(const struct acct_record *r)
{
	__u64 h = 0xcbf29ce484222325ULL;
	const unsigned char *p = (const void *)&r->key;
	size_t i;

	for (i = 0; i < sizeof(r->key); i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	for (p = (const void *)r->ifname; p && *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	for (i = 0; i < 4; i++)
		h = (h ^ ((r->first_tick >> (8 * i)) & 0xff)) *
		    0x100000001b3ULL;
	return (long long)(h >> 1);
}

struct seen {
	__u64 packets, bytes;
	bool found;
};

static int seen_row(void *ctx, int n, const char *const *v)
{
	struct seen *s = ctx;

	s->packets = strtoull(v[0], NULL, 10);
	s->bytes = strtoull(v[1], NULL, 10);
	s->found = true;
	return 0;
}

/* The flow's mark before r, advanced to r's end: one round trip to
 * PostgreSQL (the SELECT sees the row as it was before the upsert). */
static int mark_pg(struct acct_db *db, const char *gw, long long id, __u64 endp,
		   __u64 endb, struct seen *s)
{
	struct acct_val v[7] = { AVS(gw),   AVI(id),   AVS(gw),	       AVI(id),
				 AVI(endp), AVI(endb), AVI(time(NULL)) };

	return acct_db_exec(
		db,
		"WITH old AS (SELECT packets, bytes FROM flows_seen WHERE gateway = ? AND flow = ?), "
		"up AS (INSERT INTO flows_seen (gateway, flow, packets, bytes, updated) "
		"VALUES (?, ?, ?, ?, ?) ON CONFLICT (gateway, flow) DO UPDATE SET "
		"packets = GREATEST(flows_seen.packets, excluded.packets), "
		"bytes = GREATEST(flows_seen.bytes, excluded.bytes), "
		"updated = excluded.updated) SELECT packets, bytes FROM old",
		7, v, seen_row, s);
}

/* The same for SQLite, where a statement costs no round trip. */
static int mark_lite(struct acct_db *db, const char *gw, long long id,
		     __u64 endp, __u64 endb, struct seen *s)
{
	struct acct_val v[5] = { AVS(gw), AVI(id) };
	int err;

	err = acct_db_exec(
		db,
		"SELECT packets, bytes FROM flows_seen WHERE gateway = ? AND flow = ?",
		2, v, seen_row, s);
	if (err || (s->found && s->packets >= endp && s->bytes >= endb))
		return err;
	v[2] = AVI(endp > s->packets ? endp : s->packets);
	v[3] = AVI(endb > s->bytes ? endb : s->bytes);
	v[4] = AVI(time(NULL));
	return acct_db_exec(
		db,
		"INSERT INTO flows_seen (gateway, flow, packets, bytes, updated) "
		"VALUES (?, ?, ?, ?, ?) ON CONFLICT (gateway, flow) DO UPDATE "
		"SET packets = excluded.packets, bytes = excluded.bytes, "
		"updated = excluded.updated",
		5, v, NULL, NULL);
}

/* What of r is new (*packets, *bytes); advances the flow's mark. */
static int record_news(struct acct_db *db, const char *gw,
		       const struct acct_record *r, __u64 *packets,
		       __u64 *bytes)
{
	__u64 endp = r->seq_packets + r->packets,
	      endb = r->seq_bytes + r->bytes;
	struct seen s = {};
	__u64 fromp, fromb;
	int err;

	err = acct_db_is_pg(db) ? mark_pg(db, gw, flow_id(r), endp, endb, &s)
				: mark_lite(db, gw, flow_id(r), endp, endb, &s);
	if (err)
		return err;
	fromp = s.packets > r->seq_packets ? s.packets : r->seq_packets;
	fromb = s.bytes > r->seq_bytes ? s.bytes : r->seq_bytes;
	*packets = endp > fromp ? endp - fromp : 0;
	*bytes = endb > fromb ? endb - fromb : 0;
	return 0;
}

/* Every accounted unit that holds an end of the flow gets a share. */
static int attribute(const struct policy *p, const struct acct_record *r,
		     __u64 packets, __u64 bytes, struct batch *b)
{
	time_t m = r->end_ms / 1000;
	const struct flowbpf_key *k = &r->key;
	size_t i;
	int err;

	for (i = 0; i < p->nacct; i++) {
		const struct addrset *set = &p->units[p->acct_units[i]].set;

		if (addrset_contains(set, k->family, key_addr128(k, true)) &&
		    (err = share_add(b, p->acct_units[i],
				     acct_class_of(p, k, true), ACCT_OUT, m,
				     packets, bytes)))
			return err;
		if (addrset_contains(set, k->family, key_addr128(k, false)) &&
		    (err = share_add(b, p->acct_units[i],
				     acct_class_of(p, k, false), ACCT_IN, m,
				     packets, bytes)))
			return err;
	}
	return 0;
}

static int totals_add(struct acct_db *db, const struct policy *p,
		      const char *gw, const struct share *s)
{
	char label[32];
	int i, err;

	for (i = 0; i < 4; i++) {
		time_t start =
			acct_period_start(acct_rollup_period[i], 0, s->t);
		struct acct_val v[9];

		acct_period_label(acct_rollup_period[i], start, label,
				  sizeof(label));
		v[0] = AVS(gw);
		v[1] = AVS(p->units[s->unit].name);
		v[2] = AVS(acct_class_name(p, s->cls));
		v[3] = AVS(s->dir == ACCT_IN ? "in" : "out");
		v[4] = AVS(acct_rollups[i]);
		v[5] = AVI(start);
		v[6] = AVS(label);
		v[7] = AVI(s->packets);
		v[8] = AVI(s->bytes);
		err = acct_db_exec(
			db,
			"INSERT INTO totals (gateway, unit, class, dir, period, start, "
			"label, packets, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
			"ON CONFLICT (gateway, unit, class, dir, period, start) DO UPDATE "
			"SET packets = totals.packets + excluded.packets, "
			"bytes = totals.bytes + excluded.bytes",
			9, v, NULL, NULL);
		if (err)
			return err;
	}
	return 0;
}

static int quotas_add(struct acct_db *db, const struct policy *p,
		      const struct share *s)
{
	char name[300];
	size_t i;
	int err;

	for (i = 0; i < p->nquotas; i++) {
		const struct acct_quota *q = &p->quotas[i];
		struct acct_val v[3];

		if (q->unit != s->unit || (q->cls >= 0 && q->cls != s->cls) ||
		    (q->dir >= 0 && q->dir != s->dir))
			continue;
		acct_quota_name(p, q, name, sizeof(name));
		v[0] = AVS(name);
		v[1] = AVI(acct_period_start(q->period, q->period_s, s->t));
		v[2] = AVI(s->bytes);
		err = acct_db_exec(
			db,
			"INSERT INTO quota_use (quota, start, bytes) VALUES (?, ?, ?) "
			"ON CONFLICT (quota, start) DO UPDATE "
			"SET bytes = quota_use.bytes + excluded.bytes",
			3, v, NULL, NULL);
		if (err)
			return err;
	}
	return 0;
}

static int write_batch(struct acct_db *db, const struct policy *p,
		       const char *gw, const struct acct_record *r, size_t n,
		       struct batch *b)
{
	__u64 packets, bytes;
	size_t i;
	int err;

	for (i = 0; i < n; i++) {
		if ((err = record_news(db, gw, &r[i], &packets, &bytes)))
			return err;
		if ((packets || bytes) &&
		    (err = attribute(p, &r[i], packets, bytes, b)))
			return err;
	}
	for (i = 0; i < b->n; i++)
		if ((err = totals_add(db, p, gw, &b->v[i])) ||
		    (err = quotas_add(db, p, &b->v[i])))
			return err;
	return 0;
}

int acct_write_batch(struct acct_db *db, const struct policy *p, const char *gw,
		     const struct acct_record *r, size_t n)
{
	struct batch b = {};
	int err;

	if ((err = acct_db_exec(db, "BEGIN", 0, NULL, NULL, NULL)))
		return err;
	err = write_batch(db, p, gw, r, n, &b);
	if (!err)
		err = acct_db_exec(db, "COMMIT", 0, NULL, NULL, NULL);
	if (err)
		acct_db_exec(db, "ROLLBACK", 0, NULL, NULL, NULL);
	free(b.v);
	return err;
}

int acct_prune_seen(struct acct_db *db, const char *gw, time_t before)
{
	return acct_db_exec(
		db, "DELETE FROM flows_seen WHERE gateway = ? AND updated < ?",
		2, (struct acct_val[]){ AVS(gw), AVI(before) }, NULL, NULL);
}

int acct_write_policy(struct acct_db *db, const struct policy *p)
{
	char name[300], per[32], soft[64];
	size_t i;
	int j, err = 0, o;

	for (i = 0; i < p->nclasses && !err; i++) {
		struct acct_val v[2] = { AVS(p->classes[i].name),
					 AVR(p->classes[i].price) };

		if (p->classes[i].price < 0)
			continue;
		err = acct_db_exec(
			db,
			"INSERT INTO prices (class, per_gb) VALUES (?, ?) ON CONFLICT (class) "
			"DO UPDATE SET per_gb = excluded.per_gb",
			2, v, NULL, NULL);
	}
	for (i = 0; i < p->nquotas && !err; i++) {
		const struct acct_quota *q = &p->quotas[i];
		struct acct_val v[8];

		acct_quota_name(p, q, name, sizeof(name));
		acct_period_str(q, per, sizeof(per));
		for (soft[0] = 0, o = 0, j = 0; j < q->nsoft; j++)
			o += snprintf(soft + o, sizeof(soft) - o, "%s%u%%",
				      j ? "," : "", q->soft[j]);
		v[0] = AVS(name);
		v[1] = AVS(p->units[q->unit].name);
		v[2] = AVS(acct_class_name(p, q->cls));
		v[3] = AVS(q->dir < 0	       ? "both"
			   : q->dir == ACCT_IN ? "in"
					       : "out");
		v[4] = AVS(per);
		v[5] = AVI(q->limit);
		v[6] = AVS(q->warn_only ? "warn" : "deny");
		v[7] = AVS(soft);
		err = acct_db_exec(
			db,
			"INSERT INTO quotas (quota, unit, class, dir, period, limit_bytes, "
			"action, soft) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (quota) "
			"DO UPDATE SET limit_bytes = excluded.limit_bytes, "
			"action = excluded.action, soft = excluded.soft",
			8, v, NULL, NULL);
	}
	return err;
}
