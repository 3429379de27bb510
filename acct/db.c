// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The accounting store: SQLite (one file, no setup) or PostgreSQL
 * (libpq), behind one interface of statements with '?' parameters.  The
 * schema (docs/units.md) is the same in both.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include "acct.h"
#include "log.h"

#define PG_CONNECT_TIMEOUT "2" /* seconds */

/* Statements prepared once: the texts are the callers' constants. */
#define STMT_CACHE 32

struct acct_db {
	sqlite3 *lite;
	struct {
		const char *sql;
		sqlite3_stmt *st;
	} cache[STMT_CACHE];
	PGconn *pg;
	const char *pg_prepared[STMT_CACHE]; /* statement "sN" is sql N */
	char *dsn;
	char err[512];
};

static const char *const schema[] = {
	"CREATE TABLE IF NOT EXISTS flows_seen (gateway TEXT NOT NULL, "
	"flow BIGINT NOT NULL, packets BIGINT NOT NULL, bytes BIGINT NOT NULL, "
	"updated BIGINT NOT NULL, PRIMARY KEY (gateway, flow))",
	"CREATE TABLE IF NOT EXISTS totals (gateway TEXT NOT NULL, "
	"unit TEXT NOT NULL, class TEXT NOT NULL, dir TEXT NOT NULL, "
	"period TEXT NOT NULL, start BIGINT NOT NULL, label TEXT NOT NULL, "
	"packets BIGINT NOT NULL, bytes BIGINT NOT NULL, "
	"PRIMARY KEY (gateway, unit, class, dir, period, start))",
	"CREATE TABLE IF NOT EXISTS quota_use (quota TEXT NOT NULL, "
	"start BIGINT NOT NULL, bytes BIGINT NOT NULL, "
	"PRIMARY KEY (quota, start))",
	"CREATE TABLE IF NOT EXISTS prices (class TEXT PRIMARY KEY, "
	"per_gb DOUBLE PRECISION NOT NULL)",
	"CREATE TABLE IF NOT EXISTS quotas (quota TEXT PRIMARY KEY, "
	"unit TEXT NOT NULL, class TEXT NOT NULL, dir TEXT NOT NULL, "
	"period TEXT NOT NULL, limit_bytes BIGINT NOT NULL, "
	"action TEXT NOT NULL, soft TEXT NOT NULL)",
};

bool acct_db_is_pg(const struct acct_db *db)
{
	return db->pg != NULL;
}

const char *acct_db_error(const struct acct_db *db)
{
	return db->err;
}

static bool dsn_is_pg(const char *dsn)
{
	return !strncmp(dsn, "postgresql://", 13) ||
	       !strncmp(dsn, "postgres://", 11) || strchr(dsn, '=');
}

/* The prepared statement of sql, from the cache when it is there. */
static sqlite3_stmt *lite_stmt(struct acct_db *db, const char *sql,
			       bool *cached)
{
	sqlite3_stmt *st;
	int i;

	for (i = 0; i < STMT_CACHE && db->cache[i].sql; i++)
		if (db->cache[i].sql == sql) {
			*cached = true;
			return db->cache[i].st;
		}
	if (sqlite3_prepare_v2(db->lite, sql, -1, &st, NULL) != SQLITE_OK)
		return NULL;
	*cached = i < STMT_CACHE;
	if (*cached)
		db->cache[i].sql = sql, db->cache[i].st = st;
	return st;
}

static int lite_done(sqlite3_stmt *st, bool cached)
{
	if (!cached)
		return sqlite3_finalize(st);
	sqlite3_clear_bindings(st);
	return sqlite3_reset(st);
}

static int lite_exec(struct acct_db *db, const char *sql, int n,
		     const struct acct_val *v, acct_row_fn fn, void *ctx)
{
	const char *vals[16];
	sqlite3_stmt *st;
	int i, rc, ret = 0, nc;
	bool cached = false;

	st = lite_stmt(db, sql, &cached);
	if (!st)
		goto fail;
	for (i = 0; i < n; i++) {
		if (v[i].type == AV_INT)
			sqlite3_bind_int64(st, i + 1, v[i].i);
		else if (v[i].type == AV_REAL)
			sqlite3_bind_double(st, i + 1, v[i].d);
		else
			sqlite3_bind_text(st, i + 1, v[i].s, -1,
					  SQLITE_TRANSIENT);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		nc = sqlite3_column_count(st);
		if (nc > 16)
			nc = 16;
		for (i = 0; i < nc; i++)
			vals[i] = (const char *)sqlite3_column_text(st, i);
		if (fn && (ret = fn(ctx, nc, vals)))
			break;
	}
	if (!ret && rc != SQLITE_DONE) {
		snprintf(db->err, sizeof(db->err), "%s",
			 sqlite3_errmsg(db->lite));
		lite_done(st, cached);
		return -EIO;
	}
	lite_done(st, cached);
	return ret;
fail:
	snprintf(db->err, sizeof(db->err), "%s", sqlite3_errmsg(db->lite));
	return -EIO;
}

/* '?' to $1, $2 ...; the statements have no '?' in strings. */
static char *pg_sql(const char *sql)
{
	size_t len = strlen(sql), o = 0;
	char *out = malloc(len * 4 + 1);
	int k = 0;

	if (!out)
		return NULL;
	for (; *sql; sql++) {
		if (*sql == '?')
			o += sprintf(out + o, "$%d", ++k);
		else
			out[o++] = *sql;
	}
	out[o] = '\0';
	return out;
}

/* Runs q (sql in PostgreSQL's form), prepared once per connection when
 * the cache has room: parsing and planning every record's statements
 * again would cost more than running them. */
static PGresult *pg_run(struct acct_db *db, const char *sql, const char *q,
			int n, const char *const *pv)
{
	char name[16];
	PGresult *res;
	int i;

	for (i = 0; i < STMT_CACHE && db->pg_prepared[i]; i++)
		if (db->pg_prepared[i] == sql)
			break;
	if (i == STMT_CACHE || !strncmp(sql, "BEGIN", 5) ||
	    !strncmp(sql, "COMMIT", 6) || !strncmp(sql, "ROLLBACK", 8))
		return PQexecParams(db->pg, q, n, NULL, pv, NULL, NULL, 0);
	snprintf(name, sizeof(name), "s%d", i);
	if (!db->pg_prepared[i]) {
		res = PQprepare(db->pg, name, q, n, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			return res;
		PQclear(res);
		db->pg_prepared[i] = sql;
	}
	return PQexecPrepared(db->pg, name, n, pv, NULL, NULL, 0);
}

static int pg_exec(struct acct_db *db, const char *sql, int n,
		   const struct acct_val *v, acct_row_fn fn, void *ctx)
{
	char bufs[16][32], *q = pg_sql(sql);
	const char *pv[16], *vals[16];
	int i, r, nr, nc, ret = 0;
	PGresult *res;

	if (!q || n > 16)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (v[i].type == AV_INT)
			snprintf(bufs[i], sizeof(bufs[i]), "%lld", v[i].i);
		else if (v[i].type == AV_REAL)
			snprintf(bufs[i], sizeof(bufs[i]), "%.17g", v[i].d);
		pv[i] = v[i].type == AV_TEXT ? v[i].s : bufs[i];
	}
	res = pg_run(db, sql, q, n, pv);
	free(q);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(db->err, sizeof(db->err), "%s",
			 PQerrorMessage(db->pg));
		db->err[strcspn(db->err, "\n")] = '\0';
		PQclear(res);
		return -EIO;
	}
	nr = PQntuples(res);
	nc = PQnfields(res) > 16 ? 16 : PQnfields(res);
	for (r = 0; r < nr && fn && !ret; r++) {
		for (i = 0; i < nc; i++)
			vals[i] = PQgetisnull(res, r, i)
					  ? NULL
					  : PQgetvalue(res, r, i);
		ret = fn(ctx, nc, vals);
	}
	PQclear(res);
	return ret;
}

int acct_db_exec(struct acct_db *db, const char *sql, int n,
		 const struct acct_val *params, acct_row_fn fn, void *ctx)
{
	return db->pg ? pg_exec(db, sql, n, params, fn, ctx)
		      : lite_exec(db, sql, n, params, fn, ctx);
}

static int schema_create(struct acct_db *db)
{
	size_t i;
	int err;

	if ((err = acct_db_exec(db, "BEGIN", 0, NULL, NULL, NULL)))
		return err;
	/* Gateways starting together must not race to create tables. */
	if (db->pg &&
	    (err = acct_db_exec(db, "SELECT pg_advisory_xact_lock(7226)", 0,
				NULL, NULL, NULL)))
		goto fail;
	for (i = 0; i < sizeof(schema) / sizeof(schema[0]); i++)
		if ((err = acct_db_exec(db, schema[i], 0, NULL, NULL, NULL)))
			goto fail;
	return acct_db_exec(db, "COMMIT", 0, NULL, NULL, NULL);
fail:
	acct_db_exec(db, "ROLLBACK", 0, NULL, NULL, NULL);
	return err;
}

static void pg_notice(void *arg, const char *msg)
{
}

static int pg_connect(struct acct_db *db)
{
	if (db->pg)
		PQfinish(db->pg);
	/* Prepared statements live as long as their connection. */
	memset(db->pg_prepared, 0, sizeof(db->pg_prepared));
	/* A server that does not answer must not hold a daemon for long;
	 * a connect_timeout in the string itself comes later and wins. */
	db->pg = PQconnectdbParams(
		(const char *const[]){ "connect_timeout", "dbname", NULL },
		(const char *const[]){ PG_CONNECT_TIMEOUT, db->dsn, NULL }, 1);
	if (!db->pg)
		return -ENOMEM;
	if (PQstatus(db->pg) != CONNECTION_OK) {
		snprintf(db->err, sizeof(db->err), "%s",
			 PQerrorMessage(db->pg));
		db->err[strcspn(db->err, "\n")] = '\0';
		return -EIO;
	}
	/* Notices ("relation already exists, skipping") are not ours to
	 * print. */
	PQsetNoticeProcessor(db->pg, pg_notice, NULL);
	return 0;
}

bool acct_db_usable(const struct acct_db *db)
{
	return !db->pg || PQstatus(db->pg) == CONNECTION_OK;
}

int acct_db_reconnect(struct acct_db *db)
{
	if (!db->pg)
		return 0;
	if (PQstatus(db->pg) == CONNECTION_OK)
		return 0;
	return pg_connect(db) ? -EIO : schema_create(db);
}

static int lite_open(struct acct_db *db, const char *path)
{
	/* The default store's directory is ours to make. */
	if (!strcmp(path, ACCT_DB_DEFAULT))
		mkdir(ACCT_DB_DIR, 0755);
	if (sqlite3_open_v2(path, &db->lite,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
			    NULL) != SQLITE_OK) {
		snprintf(db->err, sizeof(db->err), "%s",
			 db->lite ? sqlite3_errmsg(db->lite) : "out of memory");
		return -EIO;
	}
	/* The collector writes while the daemon and report read. */
	sqlite3_busy_timeout(db->lite, 5000);
	if (acct_db_exec(db, "PRAGMA journal_mode=WAL", 0, NULL, NULL, NULL) ||
	    acct_db_exec(db, "PRAGMA synchronous=NORMAL", 0, NULL, NULL,
			 NULL) ||
	    /* flows_seen is looked up at random: keep 32 MiB of it. */
	    acct_db_exec(db, "PRAGMA cache_size=-32768", 0, NULL, NULL, NULL))
		return -EIO;
	return 0;
}

int acct_db_open(const char *dsn, struct acct_db **out)
{
	struct acct_db *db = calloc(1, sizeof(*db));
	int ret;

	*out = NULL;
	if (!db || !(db->dsn = strdup(dsn))) {
		free(db);
		err_set("out of memory");
		return -ENOMEM;
	}
	if (dsn_is_pg(dsn)) {
		ret = pg_connect(db);
	} else {
		ret = lite_open(db, dsn);
	}
	if (!ret)
		ret = schema_create(db);
	if (ret) {
		err_set("%s: %s", db->pg ? "PostgreSQL" : dsn, db->err);
		acct_db_close(db);
		return ret;
	}
	*out = db;
	return 0;
}

void acct_db_close(struct acct_db *db)
{
	int i;

	if (!db)
		return;
	if (db->pg)
		PQfinish(db->pg);
	for (i = 0; i < STMT_CACHE && db->cache[i].sql; i++)
		sqlite3_finalize(db->cache[i].st);
	if (db->lite)
		sqlite3_close(db->lite);
	free(db->dsn);
	free(db);
}
