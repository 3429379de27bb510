/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Accounting by unit (docs/units.md): the records of the collector are
 * attributed to the accounted units of the policy, totalled per unit,
 * class, direction and period in a database (SQLite by default,
 * PostgreSQL given a connection string), and the quotas are computed from
 * what every gateway wrote there.
 */
#ifndef FLOWBPF_ACCT_H
#define FLOWBPF_ACCT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <linux/types.h>
#include "policy.h"
#include "record.h"

/* Where the totals go when no --db is given. */
#define ACCT_DB_DIR "/var/lib/flowbpf"
#define ACCT_DB_DEFAULT ACCT_DB_DIR "/acct.db"

/* ---- the store: one small interface over SQLite and PostgreSQL ---- */

struct acct_db;

enum acct_val_type { AV_INT, AV_TEXT, AV_REAL };

/* A parameter of a statement ('?' in its text, in order). */
struct acct_val {
	enum acct_val_type type;
	long long i;
	const char *s;
	double d;
};
#define AVI(v) ((struct acct_val){ .type = AV_INT, .i = (v) })
#define AVS(v) ((struct acct_val){ .type = AV_TEXT, .s = (v) })
#define AVR(v) ((struct acct_val){ .type = AV_REAL, .d = (v) })

/* One row of a result: its columns as text (NULL for SQL NULL). */
typedef int (*acct_row_fn)(void *ctx, int ncols, const char *const *vals);

/*
 * dsn: "postgresql://...", "postgres://..." or a libpq "key=value" string
 * for PostgreSQL, otherwise the path of an SQLite file (created with its
 * directory's parent existing).  Creates the schema when missing.
 * 0 or -errno, with the reason in err_get().
 */
int acct_db_open(const char *dsn, struct acct_db **out);
void acct_db_close(struct acct_db *db);
bool acct_db_is_pg(const struct acct_db *db);
/* Runs one statement; fn (may be NULL) gets each row.  0 or -EIO (the
 * reason in acct_db_error()), or what fn returned when not 0. */
int acct_db_exec(struct acct_db *db, const char *sql, int n,
		 const struct acct_val *params, acct_row_fn fn, void *ctx);
const char *acct_db_error(const struct acct_db *db);
/* Whether the connection still works (SQLite: always). */
bool acct_db_usable(const struct acct_db *db);
/* Connects again after a failure (PostgreSQL); 0 or -EIO. */
int acct_db_reconnect(struct acct_db *db);

/* ---- periods, in local time ---- */

/* The start of the period of t (PERIOD_*; secs for PERIOD_SECONDS). */
time_t acct_period_start(int period, __u64 secs, time_t t);
/* The start of the next one. */
time_t acct_period_next(int period, __u64 secs, time_t t);
/* "minute", "hour", "day", "month": the roll-ups the totals keep. */
extern const char *const acct_rollups[4];
extern const int acct_rollup_period[4];
/* "2026-12-01 22:35", "2026-12-01 22:00", "2026-12-01", "2026-12". */
void acct_period_label(int period, time_t start, char *buf, size_t len);

/* ---- attribution ---- */

/* The identity of a quota, as the database keys its use:
 * "UNIT[.CLASS][.in|.out]/PERIOD". */
void acct_quota_name(const struct policy *p, const struct acct_quota *q,
		     char *buf, size_t len);
const char *acct_class_name(const struct policy *p, int cls);

struct units_sink_opts {
	const char *dsn;
	const char *gateway; /* this gateway's name in the totals */
	const char *policy_file;
};
/* The sink that writes the totals; NULL with err_get() set.  It keeps
 * records: one that cannot be written waits in the collector. */
struct acct_sink *units_sink_new(const struct units_sink_opts *o);

/* Writes a batch of records (one transaction) for gateway gw; the same
 * records given again add nothing.  0 or -errno. */
int acct_write_batch(struct acct_db *db, const struct policy *p, const char *gw,
		     const struct acct_record *r, size_t n);
/*
 * Forgets the marks of flows no record has touched since before: a flow
 * that goes on has a record every active timeout, so a mark a day old is
 * of a flow that ended.  Keeps flows_seen from growing without end.
 */
#define ACCT_SEEN_KEEP_S 86400
int acct_prune_seen(struct acct_db *db, const char *gw, time_t before);
/* Writes the policy's prices and quotas, so report and quota need only
 * the database. */
int acct_write_policy(struct acct_db *db, const struct policy *p);

/* ---- quotas ---- */

enum quota_state { QUOTA_OK, QUOTA_SOFT, QUOTA_WARN, QUOTA_BLOCKED };

struct quota_status {
	__u64 used;
	time_t start, reset;
	int state; /* enum quota_state */
	int soft_level; /* soft thresholds crossed */
};

/* The use of quota q now, summed over every gateway.  0 or -errno. */
int acct_quota_status(struct acct_db *db, const struct policy *p,
		      const struct acct_quota *q, time_t now,
		      struct quota_status *st);

/*
 * What the daemon holds of quotas: which are blocked.  poll() reads the
 * database and returns true when a block began or ended (the daemon then
 * evaluates every live flow again).
 */
struct quota_watch;
struct quota_watch *quota_watch_new(const char *dsn);
bool quota_watch_poll(struct quota_watch *w, const struct policy *p);
/* Forgets the policy the state is for (the daemon reloaded). */
void quota_watch_reset(struct quota_watch *w);
/* Whether a blocked quota covers k (a flow of its unit, class, dir). */
bool quota_watch_blocks(const struct quota_watch *w, const struct policy *p,
			const struct flowbpf_key *k);
/* Counters for the daemon's stats. */
void quota_watch_counts(const struct quota_watch *w, __u64 *blocks,
			__u64 *soft_warnings, __u64 *db_errors);
void quota_watch_free(struct quota_watch *w);

#endif
