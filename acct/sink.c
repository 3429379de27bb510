// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * The collector's sink for the totals.  It keeps records (see struct
 * acct_sink): a batch is one transaction, written whole or not at all, and
 * when the database cannot be reached the records wait in the collector,
 * bounded and counted like those of a full disk, and are given again.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "array.h"
#include "acct.h"
#include "log.h"

struct units_sink {
	struct acct_sink s;
	struct acct_db *db;
	struct policy *pol;
	char *gw;
	struct acct_record *v;
	size_t n, cap;
	bool failing;
	time_t pruned; /* the last acct_prune_seen() */
};

static int us_write(struct acct_sink *s, const struct acct_record *r)
{
	struct units_sink *u = (struct units_sink *)s;

	void *p = array_room(u->v, &u->cap, u->n, sizeof(*u->v), 1024);

	if (!p)
		return -ENOMEM;
	u->v = p;
	u->v[u->n++] = *r;
	return 0;
}

static int us_flush(struct acct_sink *s)
{
	struct units_sink *u = (struct units_sink *)s;
	int err = 0;

	if (!u->n)
		return 0;
	if (u->failing)
		err = acct_db_reconnect(u->db);
	if (!err)
		err = acct_write_batch(u->db, u->pol, u->gw, u->v, u->n);
	if (err) {
		s->errors++;
		if (!u->failing)
			pr_warn("cannot write the totals: %s\n",
				acct_db_error(u->db));
		u->failing = true;
	} else {
		if (u->failing)
			pr_warn("the totals are written again\n");
		u->failing = false;
		s->written += u->n;
		if (time(NULL) - u->pruned >= 3600) {
			u->pruned = time(NULL);
			if (acct_prune_seen(u->db, u->gw,
					    u->pruned - ACCT_SEEN_KEEP_S))
				pr_warn("cannot prune the flows seen: %s\n",
					acct_db_error(u->db));
		}
	}
	u->n = 0;
	return err ? -EIO : 0;
}

static void us_close(struct acct_sink *s)
{
	struct units_sink *u = (struct units_sink *)s;

	acct_db_close(u->db);
	policy_free(u->pol);
	free(u->gw);
	free(u->v);
	free(u);
}

struct acct_sink *units_sink_new(const struct units_sink_opts *o)
{
	struct units_sink *u = calloc(1, sizeof(*u));

	if (!u) {
		err_set("out of memory");
		return NULL;
	}
	u->s = (struct acct_sink){ .name = "units",
				   .write = us_write,
				   .flush = us_flush,
				   .close = us_close,
				   .keeps = true };
	u->pol = policy_load(o->policy_file);
	if (!u->pol)
		goto fail;
	if (!u->pol->nacct) {
		err_set("%s: no unit is accounted (account UNIT;)",
			o->policy_file);
		goto fail;
	}
	u->gw = strdup(o->gateway);
	if (!u->gw) {
		err_set("out of memory");
		goto fail;
	}
	if (acct_db_open(o->dsn, &u->db))
		goto fail;
	if (acct_write_policy(u->db, u->pol)) {
		err_set("cannot write the policy's prices and quotas: %s",
			acct_db_error(u->db));
		goto fail;
	}
	return &u->s;
fail:
	us_close(&u->s);
	return NULL;
}
